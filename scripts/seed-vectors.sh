#!/usr/bin/env bash
# Regenerates seed/: the local model's vectors of the shipped knowledge and intent
# examples (seed/embeddings/) and the intent model trained on them (seed/classifier/).
# A fresh data directory starts from them (`seed_dir`) and is ready in about a second,
# instead of embedding ~1,200 texts and training first (about a minute on 2 cores).
# Run it after changing knowledge/ or prompts/intents.toml and commit the result. A
# stale seed only costs time: vectors are keyed by model and exact text, the model by
# a fingerprint of everything it was trained on, and what does not match is computed
# at start as before.
#
#   scripts/seed-vectors.sh               # builds the release binary first
#   TEXTDESK_BIN=path/to/textdesk scripts/seed-vectors.sh
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/fetch-model.sh
BIN=${TEXTDESK_BIN:-}
if [[ -z "$BIN" ]]; then
    cargo build --release --locked --bin textdesk
    BIN="${CARGO_TARGET_DIR:-target}/release/textdesk"
fi

WORK=$(mktemp -d)
pid=
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# A throw-away instance with an empty cache and no seed: it embeds exactly what a
# start of the shipped demo needs, and is ready once all of it is embedded.
TEXTDESK_LISTEN="127.0.0.1:$port" TEXTDESK_DATA_DIR="$WORK/data" \
    TEXTDESK_EMBEDDINGS=local TEXTDESK_EMBEDDINGS_CACHE_DIR="$WORK/vectors" \
    TEXTDESK_SEED_DIR="$WORK/no-seed" RUST_LOG=warn \
    "$BIN" serve > "$WORK/serve.log" 2>&1 &
pid=$!
deadline=$((SECONDS + 900))
until curl -fs -o /dev/null "http://127.0.0.1:$port/readyz"; do
    if ! kill -0 "$pid" 2>/dev/null || (( SECONDS > deadline )); then
        echo "seed-vectors: textdesk did not become ready; its log:" >&2
        tail -n 30 "$WORK/serve.log" >&2
        exit 1
    fi
    sleep 0.5
done
kill -TERM "$pid"
wait "$pid" || true
pid=

rm -rf seed/embeddings seed/classifier
mkdir -p seed/embeddings seed/classifier
cp -R "$WORK/vectors/." seed/embeddings/
cp "$WORK"/data/classifier/intent-model-*.bin seed/classifier/
du -h seed/embeddings/*/vectors.bin seed/classifier/*.bin >&2
