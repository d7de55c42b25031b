#!/bin/bash
# tests/lint/cppcheck.sh - the static analyser STYLE.md section 12 asks for
#
# Runs cppcheck (warning and portability checks, plus its default error
# checks) over every C file of the programs and libraries, not the tests.
# Any finding fails, printed as file:line: message [id]. A false positive is
# silenced where it occurs with a "cppcheck-suppress ID" comment saying why.
cd "$(dirname "$0")/../.." || exit 1
if ! command -v cppcheck >/dev/null 2>&1; then
    echo "FAIL cppcheck_clean: cppcheck is not installed (scripts/install-deps test)"
    exit 1
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
# The sources, not the tests, build trees or a sandbox from make run.
mapfile -t files < <(find . -name '*.c' -not -path './tests/*' -not -path './build*' \
    -not -path './run/*' -not -path './.git/*' | sort)
if [ "${#files[@]}" -lt 100 ]; then
    echo "FAIL cppcheck_clean: only ${#files[@]} C files found"
    exit 1
fi
cppcheck -q -j2 --std=c11 --enable=warning,portability --inline-suppr \
    --suppress=missingIncludeSystem -D__GNUC__ -Ilib/util -Ilib/mail -Ilib/server \
    --template='{file}:{line}: {message} [{id}]' "${files[@]}" 2> "$out"
rc=$?
if [ $rc -eq 0 ] && ! grep -q . "$out"; then
    echo "ok cppcheck_clean"
else
    echo "FAIL cppcheck_clean: cppcheck exit $rc"
    sed 's/^/    /' "$out"
fi
