#!/bin/sh
# unimplemented.sh - docs/unimplemented-parameters.txt tells the truth
#
# Usage: tests/golden/unimplemented.sh   (from the repository root)
# For every parameter listed as not implemented, no source file may read it:
# its P_NAME may appear only in the generated params.h/param_table.c, in
# lib/mail/param_support.c, the suffix table lib/mail/transport_param.c,
# and in files named *_unavail.c (the code that
# treats an unimplemented setting as an unavailable feature). A helper that
# implements a parameter must therefore delete its line from the list (and
# run scripts/gen-params/gen.py); tests/unit/param_support_test.c checks that
# the compiled table matches the list. Prints "ok"/"FAIL" lines and
# "N passed, M failed".
set -u
list=docs/unimplemented-parameters.txt
pass=0
fail=0
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
# Every P_ token used in sources, with its file, outside the allowed files.
find lib master smtpd cleanup qmgr pickup local virtual bounce trivial-rewrite smtp \
     proxymap showq anvil error discard flush postlogd pipe cmd tools \
     -name '*.[ch]' ! -name params.h ! -name param_table.c ! -name param_support.c ! -name transport_param.c \
     ! -name '*_unavail.c' 2>/dev/null \
  | xargs grep -oHE '\bP_[A-Z0-9_]+\b' | sort -u > "$tmp"
bad=0
for name in $(grep -v '^#' "$list" | awk 'NF {print $1}'); do
    up=P_$(echo "$name" | tr 'a-z' 'A-Z')
    where=$(grep -E ":$up\$" "$tmp" | cut -d: -f1 | tr '\n' ' ')
    if [ -n "$where" ]; then
        echo "FAIL $name is listed as not implemented but read in: $where"
        bad=$((bad + 1))
    fi
done
if [ "$bad" -eq 0 ]; then
    echo "ok no listed parameter is read outside *_unavail.c"
    pass=$((pass + 1))
else
    fail=$((fail + 1))
fi
# Every listed name is a table parameter, listed once.
dups=$(grep -v '^#' "$list" | awk 'NF {print $1}' | sort | uniq -d)
if [ -z "$dups" ]; then
    echo "ok no parameter listed twice"; pass=$((pass + 1))
else
    echo "FAIL listed twice: $dups"; fail=$((fail + 1))
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
