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
#   linker: slower, same result);
# - nginx: the load balancer of the three-instance story in tests/it/scale.rs (without
#   it that story prints SKIPPED). Installed without starting Debian's service: the test
#   runs its own, on loopback.
missing=()
[[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]] || missing+=(chromium chromium-driver)
command -v mold >/dev/null || missing+=(mold)
[[ -x /usr/sbin/nginx ]] || missing+=(nginx-light)
if (( ${#missing[@]} )); then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "== installing ${missing[*]} from Debian's packages"
        export DEBIAN_FRONTEND=noninteractive
        # No service may start from a package install (policy-rc.d 101 = "not now").
        no_services=0
        if [[ ! -e /usr/sbin/policy-rc.d ]]; then
            printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d
            chmod +x /usr/sbin/policy-rc.d
            no_services=1
        fi
        apt-get install -y "${missing[@]}" \
            || { apt-get update && apt-get install -y "${missing[@]}"; }
        if (( no_services )); then rm -f /usr/sbin/policy-rc.d; fi
    else
        echo "== not root (or no apt-get), so not installing: ${missing[*]}" \
            "(the inbox browser test will be SKIPPED without chromium, the load-balancer story without nginx)" >&2
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

# The shipped conversation tests (tests/conversations/*.toml): whole conversations
# through the real binary, each on a fresh database with a pinned clock and a fake
# order system. The binary was built above for the integration tests; `cargo run`
# would build it again under the dev profile, so it is called directly.
echo "== conversation tests"
"${CARGO_TARGET_DIR:-target}/debug/textdesk" test conversations tests/conversations

# Background servers of the passes below, stopped however the script ends.
qdrant_pid=""
pg_started=0
llm_started=0
cleanup() {
    if [[ -n "$qdrant_pid" ]]; then kill "$qdrant_pid" 2>/dev/null || true; fi
    if (( pg_started )); then scripts/postgres.sh stop; fi
    if (( llm_started )); then scripts/llm-server.sh stop; fi
    return 0
}
trap cleanup EXIT

# The real-model stories (tests/it/llm_real.rs) against a local OpenAI-compatible
# server: llama.cpp (llama-cpp-python) serving Gemma 3 270M, installed by
# scripts/llm-server.sh into models/llm/ on first use (the llama.cpp build is cached
# there as a wheel) and started on a free loopback port.
# - TEXTDESK_TEST_LLM_URL set: a server of your own (any OpenAI-compatible one that
#   serves the model `gemma-3-270m`);
# - TEXTDESK_LLM=1 (.ci/run sets it): start the local server; a failure fails the run;
# - else: start it when python3 is there, otherwise SKIPPED, saying why.
llm_pass=0
if [[ -n "${TEXTDESK_TEST_LLM_URL:-}" ]]; then
    echo "== real LLM pass against your server $TEXTDESK_TEST_LLM_URL"
    llm_pass=1
elif [[ "${TEXTDESK_LLM:-}" == 1 ]] || command -v python3 >/dev/null; then
    TEXTDESK_LLM_DIR=$(mktemp -d /tmp/textdesk-llm.XXXXXX)
    export TEXTDESK_LLM_DIR
    llm_started=1
    started=$SECONDS
    if TEXTDESK_TEST_LLM_URL=$(scripts/llm-server.sh start); then
        export TEXTDESK_TEST_LLM_URL
        echo "== real LLM pass against llama.cpp + Gemma 3 270M at $TEXTDESK_TEST_LLM_URL (ready in $((SECONDS - started)) s)"
        llm_pass=1
    elif [[ "${TEXTDESK_LLM:-}" == 1 ]]; then
        echo "scripts/llm-server.sh could not start the local model server (see above)" >&2
        exit 1
    else
        echo "== real LLM pass SKIPPED: scripts/llm-server.sh could not start the server (see above)" >&2
    fi
else
    echo "== real LLM pass SKIPPED: python3 is missing (scripts/llm-server.sh needs it)," \
        "or set TEXTDESK_TEST_LLM_URL to an OpenAI-compatible server" >&2
fi
if (( llm_pass )); then
    cargo test --locked --test it -- llm_real::
    echo "== real LLM pass passed"
fi

# The Qdrant server stories (tests/it/qdrant_server.rs) against a real server:
# - QDRANT_URL (and QDRANT_API_KEY) set: a server of your own;
# - else QDRANT_START (a start script like ../shared/qdrant/start.sh; .ci/run sets it)
#   or QDRANT_BIN (a qdrant binary, started by ../shared/qdrant/start.sh): a
#   throw-away server on free loopback ports, temp storage and a random API key;
# - else SKIPPED, saying what to set.
# The binary is passed on as QDRANT_BIN to the stories that restart a server of their
# own, and the server to the three-instance story of the PostgreSQL pass.
qdrant_pass=0
if [[ -n "${QDRANT_URL:-}" ]]; then
    echo "== Qdrant pass against your server $QDRANT_URL"
    qdrant_pass=1
elif [[ -n "${QDRANT_START:-}${QDRANT_BIN:-}" ]]; then
    start="${QDRANT_START:-../shared/qdrant/start.sh}"
    if [[ ! -x "$start" ]]; then
        echo "QDRANT_START/QDRANT_BIN is set but the Qdrant start script $start is missing;" \
            "point QDRANT_START at one (../shared/qdrant/start.sh)" >&2
        exit 1
    fi
    QDRANT_API_KEY="textdesk-test-$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')"
    eval "$("$start" --api-key "$QDRANT_API_KEY")"
    qdrant_pid="$QDRANT_PID"
    QDRANT_BIN="${QDRANT_BIN:-$(readlink "/proc/$QDRANT_PID/exe")}"
    export QDRANT_URL QDRANT_API_KEY QDRANT_BIN
    echo "== Qdrant pass against $("$QDRANT_BIN" --version 2>/dev/null || echo qdrant) at $QDRANT_URL (API key on)"
    qdrant_pass=1
else
    echo "== Qdrant pass SKIPPED: set QDRANT_BIN (a qdrant binary), QDRANT_START" \
        "(../shared/qdrant/start.sh) or QDRANT_URL (your server) to run tests/it/qdrant_server.rs" >&2
fi
if (( qdrant_pass )); then
    cargo test --locked --test it -- qdrant_server::
    echo "== Qdrant pass passed"
fi

# The store and engine suites again on PostgreSQL, so both engines keep the same
# behaviour: a throw-away cluster (installed from Debian's packages when missing) and a
# fresh database per test. Same profile and flags as above, so nothing is rebuilt.
# With the Qdrant server above, scale:: includes the three-instance story behind nginx.
# The knowledge, quality and embedding targets never touch the database: not rerun.
# TEXTDESK_SKIP_POSTGRES=1 skips this pass (e.g. a laptop without root or PostgreSQL).
if [[ "${TEXTDESK_SKIP_POSTGRES:-0}" == 1 ]]; then
    echo "== PostgreSQL pass SKIPPED (TEXTDESK_SKIP_POSTGRES=1)" >&2
    exit 0
fi
TEXTDESK_PG_DIR=$(mktemp -d /tmp/textdesk-pg.XXXXXX)
export TEXTDESK_PG_DIR
pg_started=1
TEXTDESK_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
export TEXTDESK_TEST_POSTGRES_URL
echo "== PostgreSQL pass against $TEXTDESK_TEST_POSTGRES_URL"
cargo test --locked --lib -- store::
cargo test --locked --test it -- core:: crash:: faults:: scale:: --skip scale::three_instances
# Alone: it loads both cores for a minute, which would starve the timing-sensitive
# crash stories running beside it, and its throughput figures mean more alone.
cargo test --locked --test it -- scale::three_instances
echo "== PostgreSQL pass passed"
