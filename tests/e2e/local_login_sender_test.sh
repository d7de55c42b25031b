#!/usr/bin/env bash
# local_login_sender_test.sh - local_login_sender_maps: postdrop lets a
# local user submit only with the envelope senders the table gives the
# user's login, as Postfix 3.6+ does:
#   - alice (patterns alice, alice@example.test, @lists.example.test) may
#     use those, with an address extension (recipient_delimiter = +) and
#     in any case, and with no -f at all (her login);
#   - she may not use bob's address or the null sender: sendmail fails
#     with EX_NOPERM (77), says why, the log names the rule, maildrop/ keeps
#     nothing and nothing is delivered;
#   - bob, whom the table does not know, may use no sender;
#   - root (pattern *) may use any sender;
#   - a table that fails makes the submission fail temporarily (75).
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
cat >> "$PT_CONF/main.cf" <<'EOM'
home_mailbox = Maildir/
recipient_delimiter = +
local_login_sender_maps = inline:{ { root = * }, { alice = alice, alice@example.test, @lists.example.test } }
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
SM=$PT_BUILD/sbin/sendmail
LOG=$PT_T/maillog
maildir_grep() { grep -l -- "$2" "$PT_HOMES/$1"/Maildir/new/* >/dev/null 2>&1; }
maildrop_count() { ls "$PT_T/spool/maildrop" | wc -l; }

# Users submit through the instance's configuration: the default main.cf
# must list it (as sendmail_test does), and is restored at the end.
DEF=/etc/postfix/main.cf
if [ -e "$DEF" ]; then cp -p "$DEF" "$PT_T/default-main.cf.save"; else mkdir -p /etc/postfix; fi
restore_default() {
    if [ -e "$PT_T/default-main.cf.save" ]; then cp -p "$PT_T/default-main.cf.save" "$DEF"; else rm -f "$DEF"; fi
}
trap 'restore_default; pt_cleanup' EXIT
echo "alternate_config_directories = $PT_CONF" >> "$DEF"
chmod 755 "$PT_CONF"; chmod 644 "$PT_CONF/main.cf"

# as USER TAG [sendmail options]: submits a message with body TAG to carol;
# prints sendmail's exit status, its stderr goes to $PT_T/TAG.err.
as() {
    local user=$1 tag=$2
    shift 2
    su "$user" -s /bin/sh -c "printf 'Subject: $tag\n\nbody $tag\n' | MAIL_CONFIG=$PT_CONF $SM $* carol@example.test" \
        2>"$PT_T/$tag.err"
    echo $?
}

pt_check own_address [ "$(as alice own -f alice@example.test)" = 0 ]
pt_check own_address_extension [ "$(as alice ext -f alice+news@example.test)" = 0 ]
pt_check own_address_case [ "$(as alice case -f Alice@Example.TEST)" = 0 ]
pt_check bare_login_no_f [ "$(as alice bare)" = 0 ]
pt_check at_domain [ "$(as alice dom -f digest@lists.example.test)" = 0 ]
for tag in own ext case bare dom; do
    pt_check "${tag}_delivered" pt_wait "maildir_grep carol 'body $tag'" 30
done

before=$(maildrop_count)
pt_check other_address_refused [ "$(as alice other -f bob@example.test)" = 77 ]
pt_check other_address_says_why grep -q 'may not use sender address <bob@example.test>' "$PT_T/other.err"
pt_check other_address_logged grep -q "postdrop.*uid=$(id -u alice): user alice may not use sender address <bob@example.test> (local_login_sender_maps)" "$LOG"
pt_check null_sender_refused [ "$(as alice null -f '\<\>')" = 77 ]
pt_check unknown_login_refused [ "$(as bob unknown -f bob@example.test)" = 77 ]
pt_check unknown_login_named grep -q 'user bob may not use sender address' "$PT_T/unknown.err"
pt_check refused_leave_nothing [ "$(maildrop_count)" -eq "$before" ]

printf 'Subject: root\n\nbody root\n' | "$SM" -f anyone@elsewhere.example carol@example.test
pt_check root_wildcard [ $? -eq 0 ]
pt_check root_delivered pt_wait "maildir_grep carol 'body root'" 30
sleep 2
for tag in other null unknown; do
    pt_check "${tag}_not_delivered" bash -c "! grep -l -- 'body $tag' $PT_HOMES/carol/Maildir/new/* >/dev/null 2>&1"
done

pt_cmd postconf -e 'local_login_sender_maps = inline:{ { root = * } }, fail:down'
pt_check lookup_error_tempfail [ "$(as alice fail -f alice@example.test)" = 75 ]
pt_check lookup_error_says_why grep -q 'local_login_sender_maps: lookup error for alice' "$PT_T/fail.err"

restore_default
pt_stop
pt_done
