#!/usr/bin/env bash
# Every command and daemon has a man page, and every page formats without
# groff warnings (man(7) macros, our own words).
cd "$(dirname "$0")/../.."
pass=0; fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
for d in master smtpd cleanup qmgr pickup local virtual bounce trivial-rewrite showq error discard \
         postlogd flush smtp proxymap pipe spawn verify qmqpd tlsproxy postscreen dnsblog; do
    [ -f "$d/$(ls "$d" 2>/dev/null | head -1)" ] || continue      # not built yet
    if [ -f "man/man8/$d.8" ]; then ok "man8_$d"; else bad "man8_$d" "no man/man8/$d.8"; fi
done
for c in cmd/* tools/*; do
    n=$(basename "$c")
    if [ -f "man/man1/$n.1" ]; then ok "man1_$n"; else bad "man1_$n" "no man/man1/$n.1"; fi
done
for p in man/man*/*.[158]; do
    out=$(groff -man -ww -z -Tutf8 "$p" 2>&1)
    if [ -z "$out" ]; then ok "lint_$(basename "$p")"; else bad "lint_$(basename "$p")" "$(echo "$out" | head -3)"; fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
