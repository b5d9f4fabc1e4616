#!/usr/bin/env bash
# The test command: everything CI runs, runnable on a fresh machine.
# Builds once (debug profile, dependencies optimised) and runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

# The local embedding model (~90 MB, not in git); tests/embeddings_reference.rs needs it.
scripts/fetch-model.sh

# Build every test target first so compile errors fail fast and test timings are
# not mixed with compilation.
cargo build --locked --all-targets
cargo test --locked --all-targets
