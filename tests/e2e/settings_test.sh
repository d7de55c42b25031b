#!/usr/bin/env bash
# settings_test.sh - Postfix's configuration syntax and loud unsupported settings
#
# One running instance whose main.cf carries a user-defined name with '-'
# (policyd-spf_time_limit), per-transport limits of a transport named
# smtp-amavis, and a 1.5 MiB mynetworks line: postfix start works, sendmail
# works, mail flows through smtp-amavis to a sink and to a local mailbox. A
# "submission" service logs as postfix/submission/smtpd through
# -o syslog_name=postfix/$service_name and, having smtpd_milters set to an
# unreachable milter (milter_default_action = tempfail), answers EHLO but
# refuses MAIL FROM with 451 4.7.1; its fork_attempts (not supported) is
# reported by postfix check and by the daemon. postconf -X removes a setting. Then configurations that master
# must refuse: an inet service marked private (postfix check passes, start
# fails), a broken master.cf line (check and start fail, naming the line);
# settings once refused for want of an implementation now start.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
T=$PT_T
SINK_PORT=$(pt_free_port)
"$PT_BUILD/sbin/smtp-sink" -d "$T/dump/" 127.0.0.1:$SINK_PORT 10 >"$T/sink.log" 2>&1 & PT_PIDS+=($!)
mkdir -p "$T/dump"

# A mynetworks line of about 1.5 MiB: 127.0.0.0/8 last, after many others.
python3 - "$PT_CONF/main.cf" <<'EOP'
import sys
nets = ["10.%d.%d.%d" % (a, b, c) for a in range(2) for b in range(256) for c in range(256)][:130000]
with open(sys.argv[1], "a") as f:
    f.write("mynetworks = " + " ".join(nets[:70000]) + "\n")
    f.write("    " + " ".join(nets[70000:]) + " 127.0.0.0/8\n")
EOP
cat >> "$PT_CONF/main.cf" <<EOM
policyd-spf_time_limit = 3600
smtp-amavis_destination_concurrency_limit = 2
smtp-amavis_destination_recipient_limit = 1
amavis_sink = [127.0.0.1]:$SINK_PORT
transport_maps = inline:{ sink.test=smtp-amavis:\${amavis_sink} }
EOM
cat >> "$PT_CONF/master.cf" <<'EOM'
smtp-amavis unix -       -       n       -       2       smtp
    -o smtp_data_done_timeout=1200
    -o smtp_helo_name=amavis-$myhostname
submission inet n       -       n       -       -       smtpd
    -o syslog_name=postfix/$service_name
    -o smtpd_milters=inet:127.0.0.1:9
    -o fork_attempts=3
EOM
mcf_size=$(wc -c < "$PT_CONF/main.cf")
pt_check mynetworks_line_over_1_5MiB [ "$mcf_size" -gt 1500000 ]

out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1); rc=$?
pt_check check_passes_user_names [ $rc -eq 0 ]
pt_check check_no_unknown_for_referenced bash -c "! grep -q 'unused parameter: amavis_sink=' <<<'$out'"
pt_check check_reports_unsupported grep -q "master.cf:[0-9]*: fork_attempts is not supported by Postern" <<<"$out"

if ! pt_start; then
    pt_fail start "instance did not start: $(cat "$T/start.log")"; pt_done; exit 1
fi
pt_ok start_with_user_defined_names

# SMTP from 127.0.0.1 (in the long mynetworks) to a local user and through
# smtp-amavis to the sink.
r=$(pt_smtp_send sender@example.test alice@example.test rcpt@sink.test)
pt_check smtp_accepted [ "$r" = "250 ok" ]
printf 'Subject: via sendmail\n\nhello\n' | "$PT_BUILD/sbin/sendmail" -C "$PT_CONF" -f root bob
pt_check sendmail_exit_0 [ $? -eq 0 ]
pt_wait_queue_empty 30
pt_check queue_drained [ "$(pt_queue_count)" -eq 0 ]
pt_check local_delivery bash -c "ls $PT_HOMES/alice/Maildir/new/* $T/mail/alice 2>/dev/null | grep -q ."
pt_check sendmail_delivery bash -c "ls $PT_HOMES/bob/Maildir/new/* $T/mail/bob 2>/dev/null | grep -q ."
pt_check relayed_via_smtp_amavis grep -q 'to=<rcpt@sink.test>, relay=.*status=sent' "$T/maillog"
pt_check sink_got_message bash -c "grep -rlq 'hello from the e2e suite' $T/dump/"
pt_check smtp_amavis_helo_override bash -c "grep -rq 'amavis-mail.example.test' $T/dump/"

# The submission service: $service_name in syslog_name, milter unavailable.
sub=$(python3 - <<'EOP'
import smtplib
s = smtplib.SMTP("127.0.0.1", 587, timeout=20)
code, _ = s.ehlo("client.example.test")
print("EHLO", code)
code, msg = s.docmd("MAIL FROM:<sender@example.test>")
print(code, msg.decode())
s.quit()
EOP
)
pt_check submission_ehlo_ok grep -q '^EHLO 250$' <<<"$sub"
pt_check milter_tempfail_451 grep -q '^451 4.7.1 Service unavailable - try again later$' <<<"$sub"
pt_wait 'grep -q "postfix/submission/smtpd\[[0-9]*\]:" "$T/maillog"' 10
pt_check service_name_in_syslog_name grep -q 'postfix/submission/smtpd\[[0-9]*\]: .*milter-reject: MAIL from' "$T/maillog"
pt_check no_empty_service_name bash -c "! grep -q 'postfix//smtpd' $T/maillog"
pt_check daemon_reports_unsupported grep -q 'postfix/submission/smtpd\[[0-9]*\]: warning: .*master.cf:[0-9]*: fork_attempts is not supported by Postern' "$T/maillog"

# postconf -X removes the entry.
pt_cmd postconf -e 'soft_bounce = yes'
pt_check postconf_e_sets [ "$(pt_cmd postconf -n soft_bounce)" = "soft_bounce = yes" ]
pt_cmd postconf -X soft_bounce
pt_check postconf_X_removes [ -z "$(pt_cmd postconf -n soft_bounce 2>/dev/null)" ]
pt_check postconf_X_file bash -c "! grep -q '^soft_bounce' $PT_CONF/main.cf"
pt_cmd postconf -X policyd-spf_time_limit
pt_check postconf_X_dash_name bash -c "! grep -q '^policyd-spf_time_limit' $PT_CONF/main.cf"
pt_stop

# --- configurations master refuses ----------------------------------------
refuse_case() {   # NAME: check rc and start rc are in $crc / $src, output in $cout / $sout
    cout=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1); crc=$?
    sout=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" start 2>&1); src=$?
    "$PT_BUILD/sbin/postfix" -c "$PT_CONF" stop >/dev/null 2>&1
}
pt_instance
cp "$PT_CONF/master.cf" "$PT_T/master.cf.good"
P2=$(pt_free_port)
echo "127.0.0.1:$P2 inet y - n - - smtpd" >> "$PT_CONF/master.cf"
line=$(wc -l < "$PT_CONF/master.cf")
refuse_case
pt_check inet_private_check_ok [ $crc -eq 0 ]
pt_check inet_private_start_refused [ $src -ne 0 ]
pt_check inet_private_says_why grep -q "master.cf:$line: service 127.0.0.1:$P2: inet service cannot be private" <<<"$sout"

cp "$PT_T/master.cf.good" "$PT_CONF/master.cf"
echo "broken unix - - n - -" >> "$PT_CONF/master.cf"
line=$(wc -l < "$PT_CONF/master.cf")
refuse_case
pt_check broken_line_check_fails [ $crc -ne 0 ]
pt_check broken_line_check_names_line grep -q "master.cf:$line: bad field count" <<<"$cout"
pt_check broken_line_start_refused [ $src -ne 0 ]

cp "$PT_T/master.cf.good" "$PT_CONF/master.cf"
echo "127.0.0.1:$P2 inet n - n - - smtpd -o" >> "$PT_CONF/master.cf"
refuse_case
pt_check bad_o_check_fails [ $crc -ne 0 ]
pt_check bad_o_start_refused [ $src -ne 0 ]

cp "$PT_T/master.cf.good" "$PT_CONF/master.cf"
# Settings that master refused to run without until they were implemented
# (the refusal itself is tested in param_support_test: none of the settings
# it applies to is unimplemented any more). They now start.
cat >> "$PT_CONF/main.cf" <<'EOM'
smtpd_milter_maps = inline:{192.0.2.9=DISABLE}
strict_8bitmime = yes
message_reject_characters = \0
EOM
refuse_case
pt_check formerly_refused_check_ok [ $crc -eq 0 ]
pt_check formerly_refused_start_ok [ $src -eq 0 ]
pt_check formerly_refused_not_reported bash -c "! grep -q 'cannot apply it' <<<\"\$1\"" _ "$cout$sout"
pt_done
