#!/usr/bin/env bash
# Throughput of one vs two textdesk instances on one PostgreSQL, same machine, same run.
# Starts a throw-away cluster (scripts/postgres.sh), a fresh database per run, the
# instances (release build unless PROFILE=debug), and textdesk-bench against them.
#
#   scripts/bench-scale.sh [MESSAGES] [PER_CONTACT]
set -euo pipefail
cd "$(dirname "$0")/.."

MESSAGES="${1:-1000}"
PER_CONTACT="${2:-2}"
PROFILE="${PROFILE:-release}"
if [[ "$PROFILE" == release ]]; then
    cargo build --release --locked --bin textdesk --example textdesk-bench
    BIN=target/release
else
    cargo build --locked --bin textdesk --example textdesk-bench
    BIN=target/debug
fi

export TEXTDESK_PG_DIR
TEXTDESK_PG_DIR=$(mktemp -d /tmp/textdesk-bench-pg.XXXXXX)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    scripts/postgres.sh stop
}
trap cleanup EXIT
ADMIN=$(scripts/postgres.sh start)

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

run() {
    local instances=$1 db="bench_${1}_$$" urls=() pids=()
    psql -q "$ADMIN" -c "CREATE DATABASE $db"
    local url="${ADMIN%/*}/$db"
    for _ in $(seq "$instances"); do
        local port data
        port=$(free_port)
        data=$(mktemp -d /tmp/textdesk-bench-data.XXXXXX)
        # Bursts off: the bench counts per-text work, and its contacts text fast.
        TEXTDESK_LISTEN="127.0.0.1:$port" TEXTDESK_DATA_DIR="$data" DATABASE_URL="$url" \
            TEXTDESK_WORKER_BURST_MS=0 TWILIO_AUTH_TOKEN=bench-auth-token RUST_LOG=warn \
            "$BIN/textdesk" serve &
        pids+=($!)
        PIDS+=($!)
        urls+=(--url "http://127.0.0.1:$port")
        for _ in $(seq 200); do curl -fs "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
    done
    # Let every instance train its classifier and index the knowledge base first.
    sleep 5
    echo "== $instances instance(s)"
    "$BIN/examples/textdesk-bench" "${urls[@]}" --database-url "$url" --messages "$MESSAGES" \
        --per-contact "$PER_CONTACT" --concurrency 16
    for pid in "${pids[@]}"; do kill "$pid"; wait "$pid" 2>/dev/null || true; done
}

run 1
run 2
