#!/usr/bin/env bash
# Webhook acknowledgements and replies of textdesk against a bare endpoint, same machine,
# same run, same pre-signed webhooks (wrk with scripts/bench/webhooks.lua).
#
#   scripts/bench.sh [SECONDS] [CONNECTIONS]
#
# Prints, per target: acknowledgements/s, ack p50/p99, the ratio to the bare endpoint,
# and for textdesk the texts answered end to end per second (from the first webhook to
# the last reply sent through the log provider) and the server's peak memory (VmHWM).
# Targets: the bare endpoint (examples/bare_webhook.rs), then textdesk serve with the
# BM25-only brain (TEXTDESK_EMBEDDINGS=none) and the local MiniLM brain, on SQLite and
# on PostgreSQL (a throw-away cluster from scripts/postgres.sh).
#
# Bounded: wrk runs SECONDS (default 5) per target, 2 threads, CONNECTIONS (default 32)
# connections; each text is sent once (BENCH_TEXTS pre-signed texts, default 150000);
# replies are waited for at most BENCH_DRAIN_SECS (default 180). Choose what runs with
# BENCH_DATABASES="sqlite postgres" and BENCH_BRAINS="none local".
set -euo pipefail
cd "$(dirname "$0")/.."

RUN_SECS="${1:-5}"
CONNECTIONS="${2:-32}"
THREADS=2
TEXTS="${BENCH_TEXTS:-150000}"
DRAIN_SECS="${BENCH_DRAIN_SECS:-180}"
DATABASES="${BENCH_DATABASES:-sqlite postgres}"
BRAINS="${BENCH_BRAINS:-none local}"
TOKEN=bench-auth-token

die() { echo "bench.sh: $*" >&2; exit 1; }
command -v wrk >/dev/null || die "wrk is missing: apt-get install wrk"
if [[ " $BRAINS " == *" local "* && ! -f models/all-MiniLM-L6-v2/model.safetensors ]]; then
    die "the local model is missing: run scripts/fetch-model.sh (or BENCH_BRAINS=none)"
fi
cargo build --release --locked --bin textdesk --example bare-webhook --example textdesk-bench
BIN="${CARGO_TARGET_DIR:-target}/release"
WORK=$(mktemp -d /tmp/textdesk-bench.XXXXXX)
PIDS=()
PG_STARTED=""
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    if [[ -n "$PG_STARTED" ]]; then scripts/postgres.sh stop >/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_for() { # URL SECONDS
    for _ in $(seq $(($2 * 10))); do
        curl -fs -o /dev/null "$1" && return 0
        sleep 0.1
    done
    die "$1 did not answer within $2 s"
}

# Runs wrk against PORT with texts signed for it; leaves wrk's report in $WORK/wrk.txt.
drive() {
    local port=$1
    "$BIN/examples/textdesk-bench" --write-requests "$WORK/requests.txt" \
        --url "http://127.0.0.1:$port" --messages "$TEXTS" --auth-token "$TOKEN"
    BENCH_REQUESTS="$WORK/requests.txt" BENCH_THREADS=$THREADS \
        wrk -t"$THREADS" -c"$CONNECTIONS" -d"${RUN_SECS}s" --latency \
        -s scripts/bench/webhooks.lua "http://127.0.0.1:$port" >"$WORK/wrk.txt"
}

# Figures from $WORK/wrk.txt: acks/s, p50, p99, texts acknowledged once.
acks_per_sec() { awk '/^Requests\/sec:/ {print $2}' "$WORK/wrk.txt"; }
percentile() { awk -v p="$1" '$1 == p {print $2}' "$WORK/wrk.txt"; }
texts_sent() {
    local total non2xx repeats
    total=$(awk '/requests in/ {print $1}' "$WORK/wrk.txt")
    non2xx=$(awk '/Non-2xx/ {print $NF}' "$WORK/wrk.txt")
    repeats=$(awk '/^repeats:/ {print $2}' "$WORK/wrk.txt")
    echo $((total - ${non2xx:-0} - ${repeats:-0}))
}

printf '%-34s %12s %9s %9s %9s %12s %10s\n' target "acks/s" "p50" "p99" "of bare" "replies/s" "peak MiB"

port=$(free_port)
"$BIN/examples/bare-webhook" "127.0.0.1:$port" >/dev/null &
PIDS+=($!)
sleep 0.5
drive "$port"
BARE=$(acks_per_sec)
printf '%-34s %12s %9s %9s %9s %12s %10s\n' "bare axum endpoint" "$BARE" "$(percentile 50%)" "$(percentile 99%)" "100 %" "-" "-"
kill "${PIDS[-1]}"

for database in $DATABASES; do
    for brain in $BRAINS; do
        data="$WORK/data-$database-$brain"
        mkdir -p "$data"
        if [[ "$database" == sqlite ]]; then
            url="sqlite://$data/textdesk.db?mode=rwc"
        else
            if [[ -z "$PG_STARTED" ]]; then
                # Its own directory: the cluster runs as the postgres user, who cannot
                # enter $WORK.
                TEXTDESK_PG_DIR=$(mktemp -d /tmp/textdesk-bench-pg.XXXXXX)
                export TEXTDESK_PG_DIR
                PG_ADMIN=$(scripts/postgres.sh start)
                PG_STARTED=1
            fi
            db="bench_${brain}_$$"
            psql -q "$PG_ADMIN" -c "CREATE DATABASE $db"
            url="${PG_ADMIN%/*}/$db"
        fi
        port=$(free_port)
        TEXTDESK_LISTEN="127.0.0.1:$port" TEXTDESK_PUBLIC_URL="http://127.0.0.1:$port" \
            TEXTDESK_DATA_DIR="$data" TEXTDESK_DATABASE_URL="$url" TWILIO_AUTH_TOKEN="$TOKEN" \
            TEXTDESK_PROVIDER=log TEXTDESK_WORKER_BURST_MS=0 TEXTDESK_EMBEDDINGS="$brain" \
            TEXTDESK_EMBEDDINGS_CACHE_DIR="$PWD/target/bench-embeddings" RUST_LOG=error \
            "$BIN/textdesk" serve >"$WORK/serve-$database-$brain.log" 2>&1 &
        server=$!
        PIDS+=($server)
        wait_for "http://127.0.0.1:$port/readyz" 120
        started=$(date +%s.%N)
        drive "$port"
        "$BIN/examples/textdesk-bench" --drain --database-url "$url" --timeout-secs "$DRAIN_SECS" \
            | tee "$WORK/drain.txt"
        finished=$(date +%s.%N)
        acks=$(acks_per_sec)
        # Texts still queued when the drain gave up were not answered: not counted.
        unanswered=$(awk '/gave up/ {for (i = 1; i < NF; i++) if ($(i + 1) == "inbound") print $i}' "$WORK/drain.txt")
        replies=$(python3 -c "print(round(($(texts_sent) - ${unanswered:-0}) / ($finished - $started)))")
        peak=$(awk '/^VmHWM:/ {print int($2 / 1024)}' "/proc/$server/status")
        printf '%-34s %12s %9s %9s %9s %12s %10s\n' "textdesk, $database, embeddings=$brain" \
            "$acks" "$(percentile 50%)" "$(percentile 99%)" \
            "$(python3 -c "print(f'{100 * $acks / $BARE:.1f} %')")" "$replies" "$peak"
        kill "$server"
        wait "$server" 2>/dev/null || true
    done
done
