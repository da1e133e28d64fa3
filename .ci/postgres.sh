# Sourced by .ci/run. `start_postgres` gives the store tests a real PostgreSQL
# server: Debian's package (installed when missing), a throwaway cluster owned by
# the postgres user, listening on 127.0.0.1 only, and a scratch database. It
# exports ADAPTSEND_TEST_STORE_URLS and stops the server when the shell exits.
#
# A URL already in ADAPTSEND_TEST_STORE_URLS is used as given instead.

_pg_bindir() {
    # Debian keeps the server programs out of PATH, one directory per version.
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$dir" ] && [ -x "$dir/initdb" ] && echo "$dir"
}

_pg_install() {
    if [ "$(id -u)" != 0 ]; then
        echo "PostgreSQL is not installed; install Debian's postgresql package," \
            "or set ADAPTSEND_TEST_STORE_URLS to a scratch database." >&2
        return 1
    fi
    echo "installing postgresql"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        postgresql >/dev/null
}

_pg_as_owner() {
    # The server refuses to run as root.
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pg_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

stop_postgres() {
    if [ -n "${_PG_DIR:-}" ]; then
        _pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
        rm -rf "$_PG_DIR"
        _PG_DIR=""
    fi
}

start_postgres() {
    if [ -n "${ADAPTSEND_TEST_STORE_URLS:-}" ]; then
        echo "using the databases in ADAPTSEND_TEST_STORE_URLS"
        return 0
    fi
    _PG_BIN=$(_pg_bindir) || { _pg_install && _PG_BIN=$(_pg_bindir); } || return 1
    _PG_DIR=$(mktemp -d)
    trap stop_postgres EXIT
    trap 'exit 130' INT TERM
    local port
    port=$(_pg_free_port)
    if [ "$(id -u)" = 0 ]; then
        chown postgres "$_PG_DIR"
    fi
    # A scratch cluster: no fsync, since a crash only loses test data.
    _pg_as_owner "$_PG_BIN/initdb" -D "$_PG_DIR/data" --auth=trust --username=postgres \
        --encoding=UTF8 --locale=C --no-sync >/dev/null
    _pg_as_owner "$_PG_BIN/pg_ctl" -D "$_PG_DIR/data" -l "$_PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$_PG_DIR" \
        -o "-c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
        start >/dev/null || { cat "$_PG_DIR/server.log" >&2; return 1; }
    "$_PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U postgres adaptsend_test
    export ADAPTSEND_TEST_STORE_URLS="postgresql+psycopg://postgres@127.0.0.1:$port/adaptsend_test"
    echo "postgresql $("$_PG_BIN/postgres" --version | awk '{print $3}') on 127.0.0.1:$port"
}
