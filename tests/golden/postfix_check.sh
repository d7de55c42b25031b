#!/bin/sh
# postfix_check.sh - golden test of "postfix check" on a main.cf and
# master.cf that set a dozen parameters Postern does not implement.
#
# Usage: tests/golden/postfix_check.sh [--update]   (from the repository root)
# The configuration in tests/golden/config/postfix_check is copied to a
# scratch directory (@DIR@, @BUILD@ filled in); postfix check's standard error
# (paths replaced by CONF/) and exit status are compared with check.out.
# Prints "ok"/"FAIL" and "N passed, M failed".
set -u
update=0
[ "${1:-}" = "--update" ] && update=1
dir=tests/golden/config/postfix_check
build=$(pwd)/${B:-build}
tmp=$(mktemp -d /tmp/postfix-check-golden.XXXXXX)
chmod 755 "$tmp"     # mail_owner must reach the queue, or check says so
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/etc"
sed -e "s|@DIR@|$tmp|g" -e "s|@BUILD@|$build|g" "$dir/main.cf" > "$tmp/etc/main.cf"
cp "$dir/master.cf" "$tmp/etc/master.cf"
"$build/sbin/postfix" -c "$tmp/etc" check > "$tmp/out" 2>&1
echo "exit status $?" >> "$tmp/out"
sed -e "s|$tmp/etc/|CONF/|g" -e "s|$tmp|DIR|g" "$tmp/out" > "$tmp/got"
if [ $update = 1 ]; then
    cp "$tmp/got" "$dir/check.out"
    echo "ok postfix_check (updated)"
    echo "1 passed, 0 failed"
elif cmp -s "$tmp/got" "$dir/check.out"; then
    echo "ok postfix_check"
    echo "1 passed, 0 failed"
else
    echo "FAIL postfix_check"
    diff -u "$dir/check.out" "$tmp/got" | sed 's/^/#   /' | head -60
    echo "0 passed, 1 failed"
    exit 1
fi
