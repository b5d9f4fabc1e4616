#!/usr/bin/env bash
# A throw-away PostgreSQL cluster for the test suite: loopback only, trust auth, no
# fsync, everything (data, log, unix socket) inside one temporary directory.
#
#   scripts/postgres.sh start   start a cluster (installing Debian's postgresql package
#                               first when initdb/pg_ctl are missing); prints its admin URL
#   scripts/postgres.sh url     prints the admin URL of the running cluster
#   scripts/postgres.sh stop    stops the cluster and deletes its directory
#
# The cluster lives in $TEXTDESK_PG_DIR (default /tmp/textdesk-pg). Run as root (CI), the
# cluster belongs to the `postgres` user (created when missing): initdb refuses root.
#
# Tests use it through TEXTDESK_TEST_POSTGRES_URL:
#   export TEXTDESK_TEST_POSTGRES_URL=$(scripts/postgres.sh start)
#   cargo test --test it core::
#   scripts/postgres.sh stop
set -euo pipefail

PG_DIR="${TEXTDESK_PG_DIR:-/tmp/textdesk-pg}"
PG_USER=postgres

die() {
    echo "postgres.sh: $*" >&2
    exit 1
}

# Directory holding initdb and pg_ctl: Debian's newest /usr/lib/postgresql/N/bin, or PATH.
find_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/pg_ctl" ]]; then
        echo "$dir"
    elif command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
    fi
}

install_postgres() {
    [[ $(id -u) -eq 0 ]] || die "PostgreSQL is not installed; run as root to install it, or: sudo apt-get install -y postgresql"
    command -v apt-get >/dev/null || die "PostgreSQL is not installed and apt-get is not available; install PostgreSQL (initdb, pg_ctl) by hand"
    echo "postgres.sh: installing Debian's postgresql package" >&2
    # Debian's package would create and start a system-wide cluster on port 5432; the
    # tests bring their own, so ask postgresql-common not to (its documented switch).
    mkdir -p /etc/postgresql-common
    if [[ ! -e /etc/postgresql-common/createcluster.conf ]]; then
        echo "create_main_cluster = false" >/etc/postgresql-common/createcluster.conf
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq -o Dpkg::Options::=--force-confold postgresql >&2
}

# Runs a command as the cluster's owner (as ourselves unless we are root).
as_owner() {
    if [[ $(id -u) -eq 0 ]]; then
        (cd / && runuser -u "$PG_USER" -- "$@")
    else
        "$@"
    fi
}

# A TCP port on 127.0.0.1 that nothing listens on (bash only: no python or ss needed).
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

cmd_url() {
    [[ -f "$PG_DIR/url" ]] || die "no cluster is running in $PG_DIR; run: scripts/postgres.sh start"
    cat "$PG_DIR/url"
}

cmd_start() {
    if [[ -f "$PG_DIR/url" ]] && [[ -f "$PG_DIR/data/postmaster.pid" ]]; then
        cmd_url
        return
    fi
    local bindir
    bindir=$(find_bindir)
    if [[ -z "$bindir" ]]; then
        install_postgres
        bindir=$(find_bindir)
        [[ -n "$bindir" ]] || die "installed postgresql but found no initdb under /usr/lib/postgresql/*/bin"
    fi
    if [[ $(id -u) -eq 0 ]]; then
        id -u "$PG_USER" >/dev/null 2>&1 ||
            useradd --system --user-group --no-create-home --shell /usr/sbin/nologin "$PG_USER"
    else
        PG_USER=$(id -un)
    fi

    # A stale cluster of ours (a killed run) is replaced; anything else is left alone.
    if [[ -d "$PG_DIR" && -n "$(ls -A "$PG_DIR")" && ! -f "$PG_DIR/data/PG_VERSION" ]]; then
        die "$PG_DIR exists and is not a cluster of ours; set TEXTDESK_PG_DIR elsewhere"
    fi
    cmd_stop
    mkdir -p "$PG_DIR"
    chmod 700 "$PG_DIR"
    [[ $(id -u) -eq 0 ]] && chown "$PG_USER:" "$PG_DIR"

    as_owner "$bindir/initdb" --pgdata="$PG_DIR/data" --username=postgres --auth=trust \
        --encoding=UTF8 --locale=C --no-sync >"$PG_DIR/initdb.log" 2>&1 ||
        { cat "$PG_DIR/initdb.log" >&2; die "initdb failed"; }

    # Loopback TCP only, the unix socket in our directory (not /var/run/postgresql,
    # which may not exist), durability off: the data is thrown away after the run.
    # Each test app holds a pool of up to 16 connections, hence max_connections.
    local port started=""
    for _ in 1 2 3; do
        port=$(free_port)
        if as_owner "$bindir/pg_ctl" --pgdata="$PG_DIR/data" --log="$PG_DIR/server.log" \
            --wait --timeout=60 start \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$PG_DIR -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400" \
            >/dev/null; then
            started=1
            break
        fi
    done
    [[ -n "$started" ]] || { cat "$PG_DIR/server.log" >&2; die "the cluster did not start"; }
    echo "$bindir" >"$PG_DIR/bindir"
    echo "postgres://postgres@127.0.0.1:$port/postgres" | tee "$PG_DIR/url"
}

cmd_stop() {
    if [[ -f "$PG_DIR/bindir" && -f "$PG_DIR/data/postmaster.pid" ]]; then
        as_owner "$(cat "$PG_DIR/bindir")/pg_ctl" --pgdata="$PG_DIR/data" --mode=immediate \
            --wait stop >/dev/null ||
            echo "postgres.sh: pg_ctl stop failed; see $PG_DIR/server.log" >&2
    fi
    rm -rf "$PG_DIR"
}

case "${1:-}" in
start) cmd_start ;;
stop) cmd_stop ;;
url) cmd_url ;;
*)
    echo "usage: scripts/postgres.sh start|url|stop   (cluster in \$TEXTDESK_PG_DIR, default /tmp/textdesk-pg)" >&2
    exit 2
    ;;
esac
