#!/bin/sh
# postconf.sh - golden tests for the postconf command
#
# Usage: tests/golden/postconf.sh [--update] [path/to/postconf]
#   Default binary: $B/sbin/postconf with B=build. Run from the repository root.
# Each line of tests/golden/config/postconf/cases names a case and the
# arguments; postconf runs with -c on a scratch copy of that directory and its
# standard output, the exit status and the sorted standard error lines are
# compared with CASE.out. Each line of
# `edits` runs an editing command and compares the edited file with CASE.out.
# Prints "ok CASE" or "FAIL CASE" per case and "N passed, N failed" at the
# end; exits non-zero when a case failed. --update rewrites the .out files.
set -u

update=0
if [ "${1:-}" = "--update" ]; then
    update=1
    shift
fi
postconf=${1:-${B:-build}/sbin/postconf}
dir=tests/golden/config/postconf
if [ ! -x "$postconf" ]; then
    echo "FAIL postconf binary $postconf not found"
    echo "0 passed, 1 failed"
    exit 1
fi
tmp=$(mktemp -d /tmp/postconf-golden.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

fresh() {
    rm -rf "$tmp/cf"
    mkdir "$tmp/cf"
    cp "$dir/main.cf" "$dir/master.cf" "$tmp/cf/"
}

compare() {   # name file
    if [ $update = 1 ]; then
        cp "$2" "$dir/$1.out"
        echo "ok $1 (updated)"
        pass=$((pass + 1))
    elif cmp -s "$2" "$dir/$1.out"; then
        echo "ok $1"
        pass=$((pass + 1))
    else
        echo "FAIL $1"
        diff -u "$dir/$1.out" "$2" | sed 's/^/#   /' | head -40
        fail=$((fail + 1))
    fi
}

trim() {
    sed 's/^[[:space:]]*//; s/[[:space:]]*$//'
}

while IFS='|' read -r name args; do
    name=$(echo "$name" | trim)
    case "$name" in ''|'#'*) continue ;; esac
    args=$(echo "$args" | trim)
    fresh
    # The arguments are shell words (quotes allowed).
    eval "set -- $args"
    MAIL_CONFIG= "$postconf" -c "$tmp/cf" "$@" > "$tmp/out" 2> "$tmp/err"
    echo "--- exit=$?" >> "$tmp/out"
    sed 's|^.*postconf: |postconf: |' "$tmp/err" | sort >> "$tmp/out"
    sed -i "s|$tmp/cf|CONFIG_DIR|g" "$tmp/out"
    compare "$name" "$tmp/out"
done < "$dir/cases"

while IFS='|' read -r name file args; do
    name=$(echo "$name" | trim)
    case "$name" in ''|'#'*) continue ;; esac
    file=$(echo "$file" | trim)
    args=$(echo "$args" | trim)
    fresh
    eval "set -- $args"
    MAIL_CONFIG= "$postconf" -c "$tmp/cf" "$@" > "$tmp/msg" 2>&1
    rc=$?
    { cat "$tmp/cf/$file"; echo "--- exit=$rc"; sed 's|^.*postconf: |postconf: |' "$tmp/msg" | sort; } \
        > "$tmp/out"
    sed -i "s|$tmp/cf|CONFIG_DIR|g" "$tmp/out"
    compare "$name" "$tmp/out"
done < "$dir/edits"

echo "$pass passed, $fail failed"
[ $fail = 0 ]
