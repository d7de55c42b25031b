#!/usr/bin/env bash
# oqmgr_test.sh - master.cf naming Postfix's older queue manager
# ("qmgr unix n - n 300 1 oqmgr"): postfix check finds the program, the
# queue manager runs under that name and mail is delivered, deferred mail
# too once its cause is fixed.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
sed -i -e 's/^qmgr\( .*\) qmgr$/qmgr\1 oqmgr/' "$PT_CONF/master.cf"
pt_check master_cf_names_oqmgr grep -qE '^qmgr +unix +n +- +n +300 +1 +oqmgr$' "$PT_CONF/master.cf"
out=$(pt_cmd postfix check 2>&1)
pt_check check_finds_oqmgr bash -c '! grep -q "oqmgr not found"' <<<"$out"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

reply=$(pt_smtp_send sender@example.org alice@example.test bob@example.test)
pt_check smtp_accepts [ "${reply%% *}" = 250 ]
pt_check delivered_alice pt_wait "ls $PT_HOMES/alice/Maildir/new/* >/dev/null 2>&1" 20
pt_check delivered_bob pt_wait "ls $PT_HOMES/bob/Maildir/new/* >/dev/null 2>&1" 20
pt_check logs_as_oqmgr pt_wait "grep -q 'postfix/oqmgr\[[0-9]*\]: [0-9A-Za-z]*: removed' $PT_T/maillog" 20
# A local recipient whose home cannot be written: deferred, then delivered
# on the retry after the home is fixed.
chmod 500 "$PT_HOMES/carol"; chown root "$PT_HOMES/carol"
reply=$(pt_smtp_send sender@example.org carol@example.test)
pt_check smtp_accepts_carol [ "${reply%% *}" = 250 ]
pt_check deferred_by_oqmgr pt_wait "grep -q 'to=<carol@example.test>.*status=deferred' $PT_T/maillog" 20
chown carol "$PT_HOMES/carol"; chmod 755 "$PT_HOMES/carol"
pt_check retried_and_delivered pt_wait "ls $PT_HOMES/carol/Maildir/new/* >/dev/null 2>&1" 30
pt_wait_queue_empty 20
pt_check queue_empty [ "$(pt_queue_count)" -eq 0 ]
pt_done
