#!/bin/bash
# postmap.sh - command tests for postmap and postalias
#
# Usage: tests/golden/postmap.sh        (from anywhere; binaries in $B/sbin, B=build)
# Builds tables in a scratch directory with postmap/postalias, queries them
# (-q, -q -, -s), changes them (-d, -i), checks the building options (-f, -r,
# -w), the warnings for bad and duplicate lines (FILE:LINE), pattern tables
# (regexp, pcre, cidr), texthash, and the error exits. Prints "ok NAME" or
# "FAIL NAME: why" per case and "N passed, M failed"; exits non-zero when a
# case failed.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
B=${B:-build}
case $B in /*) ;; *) B=$root/$B ;; esac
postmap=$B/sbin/postmap
postalias=$B/sbin/postalias
pass=0
fail=0

ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }
# check NAME EXPECTED ACTUAL
check() {
    if [ "$2" = "$3" ]; then ok "$1"; else bad "$1" "expected [$2], got [$3]"; fi
}
# check_grep NAME PATTERN FILE: the file has a line matching the fixed string
check_grep() {
    if grep -qF -- "$2" "$3"; then ok "$1"; else bad "$1" "no [$2] in: $(head -c 400 "$3")"; fi
}
check_nogrep() {
    if grep -qF -- "$2" "$3"; then bad "$1" "unexpected [$2] in: $(head -c 400 "$3")"; else ok "$1"; fi
}

for p in "$postmap" "$postalias"; do
    if [ ! -x "$p" ]; then
        echo "FAIL binaries: $p not found (build first, or set B=)"
        echo "0 passed, 1 failed"
        exit 1
    fi
done

T=$(mktemp -d /tmp/postmap-test.XXXXXX)
trap 'rm -rf "$T"' EXIT
mkdir "$T/etc"
cat > "$T/etc/main.cf" <<EOF
alias_database = hash:$T/aliases
EOF
pm() { "$postmap" -c "$T/etc" "$@"; }
pa() { "$postalias" -c "$T/etc" "$@"; }
E=$T/stderr

# ---- building a hash table ----
cat > "$T/map" <<'EOF'
# a comment, then a blank line

Alice@Example.COM   first
bob                 two words here
alice@example.com   second
keyonly
carol   part one
    part two
EOF
pm "$T/map" 2>"$E"; rc=$?
check build_exit 0 "$rc"
[ -f "$T/map.db" ] && ok build_db_file || bad build_db_file "no $T/map.db"
check_grep build_dup_warning "$T/map:5: duplicate entry: \"alice@example.com\"" "$E"
check_grep build_bad_line_warning "$T/map:6: expected format: key whitespace value" "$E"
check build_warning_count 2 "$(grep -c warning "$E")"

# ---- queries ----
check query_folded "first" "$(pm -q ALICE@example.com "$T/map" 2>"$E")"
check query_first_dup_kept "first" "$(pm -q alice@example.com "$T/map" 2>"$E")"
check query_value_spaces "two words here" "$(pm -q bob "$T/map" 2>"$E")"
check query_continuation "part one    part two" "$(pm -q carol "$T/map" 2>"$E")"
out=$(pm -q nosuchkey "$T/map" 2>"$E"); rc=$?
check query_missing_exit 1 "$rc"
check query_missing_silent "" "$out"
pm -q "#" "$T/map" >/dev/null 2>&1; check query_comment_not_key 1 $?
out=$(pm -q keyonly "$T/map" 2>/dev/null); rc=$?
check query_bad_line_skipped "1:" "$rc:$out"

# -q - reads keys from standard input and prints "key<TAB>value" for hits.
out=$(printf 'bob\nnosuch\ncarol\n\nALICE@example.com\n' | pm -q - "$T/map" 2>"$E"); rc=$?
check query_stdin_output "$(printf 'bob\ttwo words here\ncarol\tpart one    part two\nALICE@example.com\tfirst')" "$out"
check query_stdin_exit 0 "$rc"
out=$(printf 'x\ny\n' | pm -q - "$T/map" 2>"$E"); rc=$?
check query_stdin_none_exit "1:" "$rc:$out"

# Several tables: the first one with an answer wins.
printf 'bob other\nzed last\n' > "$T/map2"
pm "$T/map2" 2>/dev/null
check query_first_table_wins "two words here" "$(pm -q bob "$T/map" "$T/map2" 2>/dev/null)"
check query_second_table "last" "$(pm -q zed "$T/map" "hash:$T/map2" 2>/dev/null)"

# ---- -s lists every entry (key order) ----
out=$(pm -s "$T/map" 2>"$E"); rc=$?
check sequence_output "$(printf 'alice@example.com\tfirst\nbob\ttwo words here\ncarol\tpart one    part two')" "$out"
check sequence_exit 0 "$rc"

# ---- -r keeps the last value silently, -w the first silently ----
pm -r "$T/map" 2>"$E"
check replace_last_value "second" "$(pm -q alice@example.com "$T/map" 2>/dev/null)"
check_nogrep replace_no_dup_warning "duplicate entry" "$E"
pm -w "$T/map" 2>"$E"
check nowarn_first_value "first" "$(pm -q alice@example.com "$T/map" 2>/dev/null)"
check_nogrep nowarn_no_dup_warning "duplicate entry" "$E"
check_grep nowarn_still_reports_bad_line "$T/map:6:" "$E"

# ---- -f keeps key case ----
pm -f "$T/map" 2>/dev/null
check fold_off_exact_key "first" "$(pm -f -q Alice@Example.COM "$T/map" 2>/dev/null)"
pm -f -q alice@example.com "$T/map" >/dev/null 2>&1
check fold_off_other_case_missing 0 $?     # the second line has this key in lower case
# Without -f the query is folded and finds the line-5 key (no duplicate with -f).
check fold_off_query_folded "second" "$(pm -q Alice@Example.COM "$T/map" 2>/dev/null)"
pm -f "$T/map" 2>"$E"
check_nogrep fold_off_no_dup_warning "duplicate entry" "$E"
pm "$T/map" 2>/dev/null                  # back to folded keys

# ---- -d deletes keys ----
pm -d bob "$T/map" 2>"$E"; rc=$?
check delete_exit 0 "$rc"
pm -q bob "$T/map" >/dev/null 2>&1
check delete_gone 1 $?
check delete_others_kept "first" "$(pm -q alice@example.com "$T/map" 2>/dev/null)"
pm -d nosuchkey "$T/map" 2>"$E"; rc=$?
check delete_missing_exit 1 "$rc"
pm -d BOB "$T/map2" 2>/dev/null
pm -q bob "$T/map2" >/dev/null 2>&1
check delete_key_folded 1 $?
printf 'alice@example.com\ncarol\n' | pm -d - "$T/map" 2>/dev/null; rc=$?
check delete_stdin_exit 0 "$rc"
check delete_stdin_all_gone "" "$(pm -s "$T/map" 2>/dev/null)"

# ---- -i adds entries from standard input to the existing table ----
pm "$T/map2" 2>/dev/null
printf 'new value\nZed replaced\n' | pm -i "$T/map2" 2>"$E"; rc=$?
check incremental_exit 0 "$rc"
check incremental_added "value" "$(pm -q new "$T/map2" 2>/dev/null)"
check incremental_kept "other" "$(pm -q bob "$T/map2" 2>/dev/null)"
check incremental_dup_first_kept "last" "$(pm -q zed "$T/map2" 2>/dev/null)"
check_grep incremental_dup_warning 'duplicate entry: "zed"' "$E"
printf 'zed replaced\n' | pm -i -r "$T/map2" 2>/dev/null
check incremental_replace "replaced" "$(pm -q zed "$T/map2" 2>/dev/null)"
printf 'k v\n' | pm -i "$T/fresh" 2>/dev/null; rc=$?
check incremental_creates "0:v" "$rc:$(pm -q k "$T/fresh" 2>/dev/null)"

# ---- the .db file takes the source's permissions ----
printf 'a b\n' > "$T/perm"; chmod 640 "$T/perm"
pm "$T/perm" 2>/dev/null
check db_mode_from_source 640 "$(stat -c %a "$T/perm.db")"

# ---- postalias ----
cat > "$T/aliases" <<'EOF'
# aliases
postmaster: root
Root: alice, bob
"a b": carol
no colon here
root: duplicate
owner-list:
  continued
EOF
pa "$T/aliases" 2>"$E"; rc=$?
check alias_build_exit 0 "$rc"
check_grep alias_dup_warning "$T/aliases:6: duplicate entry: \"root\"" "$E"
check_grep alias_bad_line_warning "$T/aliases:5: need name:value pair" "$E"
check alias_query "alice, bob" "$(pa -q root "$T/aliases" 2>/dev/null)"
check alias_query_folded "alice, bob" "$(pa -q ROOT "$T/aliases" 2>/dev/null)"
check alias_continuation "continued" "$(pa -q owner-list "$T/aliases" 2>/dev/null | tr -s ' ')"
# Postfix stores a quoted name without its quotes: local(8) looks up "a b".
check alias_quoted_name "carol" "$(pa -q 'a b' "$T/aliases" 2>/dev/null)"
out=$(pa -s "$T/aliases" 2>/dev/null)
check_grep_out() { if printf '%s\n' "$3" | grep -qF -- "$2"; then ok "$1"; else bad "$1" "no [$2] in [$3]"; fi; }
check_grep_out alias_sequence_format "$(printf 'postmaster:\troot')" "$out"
pa -q nosuch "$T/aliases" >/dev/null 2>&1
check alias_query_missing_exit 1 $?
rm -f "$T/aliases.db"
pa 2>/dev/null; rc=$?                      # no arguments: $alias_database
check alias_default_database "0:yes" "$rc:$([ -f "$T/aliases.db" ] && echo yes)"

# ---- pattern tables are queried, never built ----
cat > "$T/re" <<'EOF'
/^(.*)@example\.com$/   local:$1
/^postmaster@/          pm
EOF
check regexp_capture "local:bob" "$(pm -q bob@example.com "regexp:$T/re" 2>/dev/null)"
check regexp_case_insensitive "local:Bob" "$(pm -q Bob@EXAMPLE.com "regexp:$T/re" 2>/dev/null)"
pm -q bob@example.org "regexp:$T/re" >/dev/null 2>&1
check regexp_no_match_exit 1 $?
cat > "$T/pc" <<'EOF'
/^(\w+)\+(\w+)@/   ext:$1:$2
/^\d+$/            number
EOF
check pcre_capture "ext:user:tag" "$(pm -q user+tag@example.com "pcre:$T/pc" 2>/dev/null)"
check pcre_digits "number" "$(pm -q 12345 "pcre:$T/pc" 2>/dev/null)"
cat > "$T/ci" <<'EOF'
192.0.2.0/24      net24
192.0.2.7         host
2001:db8::/32     six
1.2.3.4/24        bad
EOF
pm -q 10.0.0.1 "cidr:$T/ci" >/dev/null 2>"$E"
check_grep cidr_bad_rule_warning "$T/ci:4:" "$E"
check cidr_first_match_wins "net24" "$(pm -q 192.0.2.7 "cidr:$T/ci" 2>/dev/null)"
check cidr_ipv6 "six" "$(pm -q 2001:db8::25 "cidr:$T/ci" 2>/dev/null)"
pm -q 10.0.0.1 "cidr:$T/ci" >/dev/null 2>&1
check cidr_no_match_exit 1 $?
out=$(printf 'x@example.com\nnope\n' | pm -q - "regexp:$T/re" 2>/dev/null)
check regexp_query_stdin "$(printf 'x@example.com\tlocal:x')" "$out"
pm "regexp:$T/re" >/dev/null 2>"$E"; rc=$?
check regexp_build_refused "1" "$rc"
printf 'Key v\n' > "$T/tx"
check texthash_query "v" "$(pm -q key "texthash:$T/tx" 2>/dev/null)"
[ ! -e "$T/tx.db" ] && ok texthash_no_db || bad texthash_no_db "texthash query wrote $T/tx.db"

# ---- error exits ----
pm "$T/nonexistent" 2>"$E"; rc=$?
check missing_source_exit 1 "$rc"
check_grep missing_source_message "$T/nonexistent" "$E"
[ ! -e "$T/nonexistent.db" ] && ok missing_source_no_db || bad missing_source_no_db "db created"
out=$(pm -q key "$T/nonexistent" 2>"$E"); rc=$?
check missing_db_query_exit "1:" "$rc:$out"
check_grep missing_db_query_message "nonexistent.db" "$E"
pm -q key "regexp:$T/nonexistent" >/dev/null 2>"$E"; rc=$?
check missing_regexp_exit 1 "$rc"
pm -d key "$T/nonexistent" >/dev/null 2>"$E"; rc=$?
check missing_db_delete_exit 1 "$rc"
pm -q a -s "$T/map" >/dev/null 2>"$E"; rc=$?
check conflicting_options_exit 1 "$rc"
pm >/dev/null 2>"$E"; rc=$?
check no_arguments_exit 1 "$rc"
check_grep no_arguments_usage "usage" "$E"
pm -Z "$T/map" >/dev/null 2>&1; rc=$?
check bad_option_exit 1 "$rc"
"$postmap" -c "$T/no-such-config-dir" -q a "$T/map" >/dev/null 2>"$E"; rc=$?
check missing_config_exit 1 "$rc"
printf 'bad db' > "$T/corrupt.db"; printf 'x y\n' > "$T/corrupt"
pm -q x "$T/corrupt" >/dev/null 2>"$E"; rc=$?
check corrupt_db_exit 1 "$rc"
check_grep corrupt_db_message "corrupt" "$E"

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
