#!/bin/sh
# reference_config.sh - the reference main.cf files pass "postfix check" with
# no unused-parameter warning but the one Postfix gives too (d3xt3r01's
# master.cf -o smtpd_bind_address, a name no Postfix program reads), and
# postconf knows the VDA quota parameters
#
# Usage: tests/golden/reference_config.sh [build_dir]
#   Default build directory: $B, else build. Run from the repository root.
# Each reference configuration (/work/shared/reference/NAME or
# tests/reference/NAME, whichever exists) is copied into a scratch config
# directory; only host paths (queue, data and daemon directories) are
# appended. "postfix check" must exit 0 and print no "fatal" line and
# exactly the "unused parameter" lines listed in want_unused below. Control
# cases with made-up names (main.cf, master.cf -o) and with user-defined
# names that are in use ($name references, smtpd_restriction_classes)
# prove that the check catches the one and leaves the other alone. Prints "ok CASE" / "FAIL CASE: why" and a summary line;
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
    # What Postfix's postconf says about these files, and nothing more.
    case $ref in
    d3xt3r01) want_unused="postfix-script: warning: $tmp/$ref/etc/master.cf: unused parameter: smtpd_bind_address=127.0.0.1" ;;
    *) want_unused= ;;
    esac
    got_unused=$(grep -i 'unknown parameter\|unused parameter' "$tmp/$ref/check.out")
    if [ "$got_unused" != "$want_unused" ]; then
        bad "check_$ref" "unused-parameter lines: got [$got_unused] want [$want_unused]"
    elif grep -q 'fatal:' "$tmp/$ref/check.out"; then
        bad "check_$ref" "$(grep 'fatal:' "$tmp/$ref/check.out" | head -3)"
    elif [ "$(cat "$tmp/$ref/rc")" != 0 ]; then
        bad "check_$ref" "postfix check exit status $(cat "$tmp/$ref/rc")"
    else
        ok "check_$ref"
    fi
done

# postconf reports the d3xt3r01 quota settings as set; its only warning is
# the master.cf one, as with Postfix.
if [ -d "$tmp/d3xt3r01" ]; then
    MAIL_CONFIG= "$postconf" -c "$tmp/d3xt3r01/etc" virtual_overquota_bounce \
        virtual_maildir_limit_message virtual_mailbox_limit_maps virtual_create_maildirsize \
        > "$tmp/pc.out" 2> "$tmp/pc.err"
    want='virtual_overquota_bounce = yes
virtual_maildir_limit_message = "The user you are trying to reach is over quota."
virtual_mailbox_limit_maps = proxy:mysql:/etc/postfix/mysql-virtual_mailbox_limit_maps.cf
virtual_create_maildirsize = yes'
    want_err="postconf: warning: $tmp/d3xt3r01/etc/master.cf: unused parameter: smtpd_bind_address=127.0.0.1"
    if [ "$(cat "$tmp/pc.out")" = "$want" ] && [ "$(cat "$tmp/pc.err")" = "$want_err" ]; then
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
if grep -q "$tmp/control/etc/main.cf: unused parameter: no_such_vda_knob=yes\$" "$tmp/control/check.out"; then
    ok check_reports_unknown
else
    bad check_reports_unknown "$(cat "$tmp/control/check.out" | head -5)"
fi

# Control: master.cf -o names. A made-up one is reported (check and
# postconf); user-defined ones in use are not: one that main.cf refers to
# ($mua_sender_restrictions), one defined by -o and referred to by another
# -o ($mua_client_restrictions), a restriction class named in a -o
# smtpd_restriction_classes, and a main.cf one that a -o refers to.
printf '%s\n' 'myhostname = mail.example.test' \
    'smtpd_sender_restrictions = $mua_sender_restrictions' \
    'mua_helo_restrictions = permit_mynetworks, reject' > "$tmp/control2.cf"
printf '%s\n' 'submission inet n - n - - smtpd' \
    '  -o smtpd_bind_adress=127.0.0.1' \
    '  -o mua_sender_restrictions=permit' \
    '  -o mua_client_restrictions=permit_sasl_authenticated,reject' \
    '  -o smtpd_client_restrictions=$mua_client_restrictions' \
    '  -o smtpd_helo_restrictions=$mua_helo_restrictions' \
    '  -o smtpd_restriction_classes=mua_class' \
    '  -o mua_class=permit' > "$tmp/control2.master"
make_config control2 "$tmp/control2.cf" "$tmp/control2.master"
run_check control2
got=$(grep -i 'unused parameter\|unknown parameter' "$tmp/control2/check.out")
if [ "$got" = "postfix-script: warning: $tmp/control2/etc/master.cf: unused parameter: smtpd_bind_adress=127.0.0.1" ]; then
    ok check_master_cf_unused
else
    bad check_master_cf_unused "got: $got"
fi
MAIL_CONFIG= "$postconf" -c "$tmp/control2/etc" myhostname > /dev/null 2> "$tmp/control2/pc.err"
if [ "$(cat "$tmp/control2/pc.err")" = "postconf: warning: $tmp/control2/etc/master.cf: unused parameter: smtpd_bind_adress=127.0.0.1" ]; then
    ok postconf_master_cf_unused
else
    bad postconf_master_cf_unused "got: $(cat "$tmp/control2/pc.err")"
fi

echo "$pass passed, $fail failed"
[ $fail = 0 ]
