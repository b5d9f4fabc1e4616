#!/usr/bin/env bash
# The test command: everything CI runs, runnable on a fresh machine.
# Builds once (debug profile, dependencies optimised) and runs every test target.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "cargo is not installed; install Rust from https://rustup.rs" >&2
    exit 1
fi

# The local embedding model (~90 MB, not in git); tests/it/embeddings_reference.rs needs it.
scripts/fetch-model.sh

# Debian packages the run uses, installed when missing and we are root:
# - chromium, chromium-driver: tests/it/inbox_e2e.rs drives the agent inbox in a real
#   headless browser (without them, and not root, that test prints SKIPPED and passes);
# - mold: a fast linker, used by scripts/linker-gcc when present (without it, the usual
#   linker: slower, same result).
missing=()
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || missing+=(chromium chromium-driver)
command -v mold >/dev/null || missing+=(mold)
if (( ${#missing[@]} )); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "== installing ${missing[*]} from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y "${missing[@]}" \
            || { apt-get update && apt-get install -y "${missing[@]}"; }
    else
        echo "== not root (or no apt-get), so not installing: ${missing[*]}" \
            "(the inbox browser test will be SKIPPED without chromium)" >&2
    fi
fi

# What the test pass builds: the library's unit tests, the textdesk binary (the
# integration tests run it), the one integration-test executable (tests/it), and the
# criterion benches, which `cargo test` runs once each as smoke tests. The examples
# (load generators, measuring tools) are not built here: nothing here runs them.
# TEXTDESK_TIMINGS=1 writes cargo's build timing report to target/cargo-timings/.
targets=(--lib --tests --benches)
timings=()
[[ "${TEXTDESK_TIMINGS:-0}" == 1 ]] && timings=(--timings)

# Build first so compile errors fail fast and test timings are not mixed with compilation.
cargo test --locked --no-run "${targets[@]}" "${timings[@]}"
cargo test --locked "${targets[@]}"

# The store and engine suites again on PostgreSQL, so both engines keep the same
# behaviour: a throw-away cluster (installed from Debian's packages when missing) and a
# fresh database per test. Same profile and flags as above, so nothing is rebuilt.
# The knowledge, quality and embedding targets never touch the database: not rerun.
# TEXTDESK_SKIP_POSTGRES=1 skips this pass (e.g. a laptop without root or PostgreSQL).
if [[ "${TEXTDESK_SKIP_POSTGRES:-0}" == 1 ]]; then
    echo "== PostgreSQL pass SKIPPED (TEXTDESK_SKIP_POSTGRES=1)" >&2
    exit 0
fi
TEXTDESK_PG_DIR=$(mktemp -d /tmp/textdesk-pg.XXXXXX)
export TEXTDESK_PG_DIR
trap 'scripts/postgres.sh stop' EXIT
TEXTDESK_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
export TEXTDESK_TEST_POSTGRES_URL
echo "== PostgreSQL pass against $TEXTDESK_TEST_POSTGRES_URL"
cargo test --locked --lib -- store::
cargo test --locked --test it -- core:: crash:: scale::
echo "== PostgreSQL pass passed"
