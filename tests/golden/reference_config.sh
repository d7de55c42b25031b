#!/bin/sh
# reference_config.sh - the reference main.cf files pass "postfix check" without
# unknown-parameter warnings, and postconf knows the VDA quota parameters
#
# Usage: tests/golden/reference_config.sh [build_dir]
#   Default build directory: $B, else build. Run from the repository root.
# Each reference configuration (/work/shared/reference/NAME or
# tests/reference/NAME, whichever exists) is copied into a scratch config
# directory; only host paths (queue, data and daemon directories) are
# appended. "postfix check" must exit 0 and print no "unknown parameter" or
# "fatal" line. A control case with a made-up name proves that the check
# would catch one. Prints "ok CASE" / "FAIL CASE: why" and a summary line;
# exits non-zero when a case failed.
set -u

build=${1:-${B:-build}}
postfix=$build/sbin/postfix
postconf=$build/sbin/postconf
# The reference configurations live in shared/ beside the repository.
refroot=${POSTERN_REFERENCE:-../shared/reference}
[ -d "$refroot" ] || refroot=/work/shared/reference
# A clone without shared/ beside it (not CI) has nothing to check: say so.
if [ ! -d "$refroot" ]; then
    echo "skip reference_config: no reference configurations (shared/reference) here"
    exit 0
fi
pass=0
fail=0
ok() { echo "ok $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1: $2"; fail=$((fail + 1)); }

for prog in "$postfix" "$postconf"; do
    if [ ! -x "$prog" ]; then
        echo "FAIL $prog not built"
        echo "0 passed, 1 failed"
        exit 1
    fi
done
tmp=$(mktemp -d /tmp/refconf-golden.XXXXXX)
chmod 755 "$tmp"     # mail_owner must reach the queue, or check says so
trap 'rm -rf "$tmp"' EXIT

# make_config NAME MAIN_CF [MASTER_ADDITIONS]: builds $tmp/NAME/etc.
make_config() {
    d=$tmp/$1
    mkdir -p "$d/etc" "$d/spool" "$d/data"
    cp "$2" "$d/etc/main.cf"
    cp conf/master.cf "$d/etc/master.cf"
    if [ -n "${3:-}" ] && [ -f "$3" ]; then
        cat "$3" >> "$d/etc/master.cf"
    fi
    {
        echo "queue_directory = $d/spool"
        echo "data_directory = $d/data"
        echo "daemon_directory = $PWD/$build/libexec"
    } >> "$d/etc/main.cf"
}

# run_check NAME: runs postfix check; output in $tmp/NAME/check.out, status in $tmp/NAME/rc.
run_check() {
    MAIL_CONFIG= "$postfix" -c "$tmp/$1/etc" check > "$tmp/$1/check.out" 2>&1
    echo $? > "$tmp/$1/rc"
}

for ref in d3xt3r01 flurdy; do
    if [ ! -f "$refroot/$ref/main.cf" ]; then
        bad "check_$ref" "no $refroot/$ref/main.cf"
        continue
    fi
    make_config "$ref" "$refroot/$ref/main.cf" "$refroot/$ref/master.cf.additions"
    run_check "$ref"
    if grep -qi 'unknown parameter\|unused parameter' "$tmp/$ref/check.out"; then
        bad "check_$ref" "$(grep -i 'unknown parameter\|unused parameter' "$tmp/$ref/check.out" | head -5)"
    elif grep -q 'fatal:' "$tmp/$ref/check.out"; then
        bad "check_$ref" "$(grep 'fatal:' "$tmp/$ref/check.out" | head -3)"
    elif [ "$(cat "$tmp/$ref/rc")" != 0 ]; then
        bad "check_$ref" "postfix check exit status $(cat "$tmp/$ref/rc")"
    else
        ok "check_$ref"
    fi
done

# postconf reports the d3xt3r01 quota settings as set, without warnings.
if [ -d "$tmp/d3xt3r01" ]; then
    MAIL_CONFIG= "$postconf" -c "$tmp/d3xt3r01/etc" virtual_overquota_bounce \
        virtual_maildir_limit_message virtual_mailbox_limit_maps virtual_create_maildirsize \
        > "$tmp/pc.out" 2> "$tmp/pc.err"
    want='virtual_overquota_bounce = yes
virtual_maildir_limit_message = "The user you are trying to reach is over quota."
virtual_mailbox_limit_maps = proxy:mysql:/etc/postfix/mysql-virtual_mailbox_limit_maps.cf
virtual_create_maildirsize = yes'
    if [ "$(cat "$tmp/pc.out")" = "$want" ] && [ ! -s "$tmp/pc.err" ]; then
        ok postconf_vda_values
    else
        bad postconf_vda_values "got: $(cat "$tmp/pc.out" "$tmp/pc.err")"
    fi
fi

# Defaults of the VDA parameters, and the bare-LF policy default.
mkdir -p "$tmp/empty"
: > "$tmp/empty/main.cf"
MAIL_CONFIG= "$postconf" -c "$tmp/empty" -d virtual_create_maildirsize virtual_mailbox_extended \
    virtual_mailbox_limit_inbox virtual_mailbox_limit_maps virtual_mailbox_limit_override \
    virtual_maildir_extended virtual_maildir_limit_message virtual_maildir_suffix \
    virtual_overquota_bounce virtual_trash_count virtual_trash_name smtpd_forbid_bare_newline \
    > "$tmp/d.out" 2> "$tmp/d.err"
want="virtual_create_maildirsize = no
virtual_mailbox_extended = no
virtual_mailbox_limit_inbox = no
virtual_mailbox_limit_maps =
virtual_mailbox_limit_override = no
virtual_maildir_extended = no
virtual_maildir_limit_message = Sorry, the user's maildir has overdrawn his diskspace quota, please try again later.
virtual_maildir_suffix =
virtual_overquota_bounce = no
virtual_trash_count = no
virtual_trash_name = .Trash
smtpd_forbid_bare_newline = yes"
if [ "$(cat "$tmp/d.out")" = "$want" ] && [ ! -s "$tmp/d.err" ]; then
    ok postconf_d_vda_defaults
else
    bad postconf_d_vda_defaults "$(diff "$tmp/d.out" - <<EOF
$want
EOF
) $(cat "$tmp/d.err")"
fi

# Control: a name nobody defines is reported, with file and line.
printf 'myhostname = mail.example.test\nno_such_vda_knob = yes\n' > "$tmp/control.cf"
make_config control "$tmp/control.cf"
run_check control
if grep -q 'main.cf:2: unknown parameter name "no_such_vda_knob"' "$tmp/control/check.out"; then
    ok check_reports_unknown
else
    bad check_reports_unknown "$(cat "$tmp/control/check.out" | head -5)"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
