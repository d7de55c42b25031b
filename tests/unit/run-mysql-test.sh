#!/bin/sh
# run-mysql-test.sh - run a MySQL table test binary against a temporary MariaDB
#
# usage: tests/unit/run-mysql-test.sh TEST_BINARY
# Starts mariadbd in a fresh temporary directory (127.0.0.1 on a free port and a
# UNIX socket), exports POSTERN_TEST_MYSQL_SOCKET and POSTERN_TEST_MYSQL_PORT,
# runs the binary, then stops the server by its PID and removes the directory.
# Exits with the binary's status; 77 (skip) when MariaDB is not installed.
set -u
bin=${1:?usage: $0 TEST_BINARY}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac

if ! command -v mariadb-install-db >/dev/null 2>&1 || ! command -v mariadbd >/dev/null 2>&1 &&
   [ ! -x /usr/sbin/mariadbd ]; then
    echo "skip: MariaDB server not installed"
    exit 77
fi
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
dbuser=mysql
id "$dbuser" >/dev/null 2>&1 || dbuser=$(id -un)

tmp=$(mktemp -d /tmp/postern-mysql.XXXXXX) || exit 1
chmod 755 "$tmp"
# The server (running as $dbuser) creates its socket, pid and log files here.
mkdir "$tmp/run" && chown "$dbuser" "$tmp/run"
pid=
cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        i=0
        while kill -0 "$pid" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        kill -0 "$pid" 2>/dev/null && kill -9 "$pid"
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

if ! mariadb-install-db --no-defaults --user="$dbuser" --datadir="$tmp/db" \
        --auth-root-authentication-method=normal --skip-test-db >"$tmp/install.log" 2>&1; then
    cat "$tmp/install.log"
    echo "FAIL: mariadb-install-db"
    exit 1
fi

# A free port: ask the kernel for one, then hand it to mariadbd.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])' 2>/dev/null || echo 23306)

"$mariadbd" --no-defaults --user="$dbuser" --datadir="$tmp/db" --socket="$tmp/run/db.sock" \
    --port="$port" --bind-address=127.0.0.1 --pid-file="$tmp/run/db.pid" \
    --skip-name-resolve --log-error="$tmp/run/db.err" >/dev/null 2>&1 &
pid=$!

i=0
until [ -S "$tmp/run/db.sock" ] && mariadb --no-defaults -S "$tmp/run/db.sock" -u root -e 'SELECT 1' >/dev/null 2>&1; do
    if ! kill -0 "$pid" 2>/dev/null || [ $i -ge 600 ]; then
        cat "$tmp/run/db.err" 2>/dev/null
        echo "FAIL: mariadbd did not start"
        exit 1
    fi
    sleep 0.1
    i=$((i + 1))
done

POSTERN_TEST_MYSQL_SOCKET=$tmp/run/db.sock POSTERN_TEST_MYSQL_PORT=$port "$bin"
rc=$?
[ $rc -ne 0 ] && tail -20 "$tmp/run/db.err" 2>/dev/null
exit $rc
