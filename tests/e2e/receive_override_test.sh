#!/usr/bin/env bash
# receive_override_test.sh - receive_override_options on a re-injection
# listener (the content-filter pattern of both reference setups):
# no_milters lifts the "milter unreachable" refusal that an unreachable
# smtpd_milters causes (milter_default_action = tempfail), no_unknown_recipient_checks lets
# an unknown local recipient through (it bounces later, as in Postfix),
# while the main listener keeps both checks.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
P2=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_milters = inet:127.0.0.1:9
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P2 inet n - n - - smtpd
  -o receive_override_options=no_unknown_recipient_checks,no_header_body_checks,no_milters
  -o smtpd_recipient_restrictions=permit_mynetworks,reject
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
pt_wait_smtp "$P2" 20 || pt_fail reinject_listener "no banner on $P2"

# talk PORT RCPT: the replies to MAIL FROM and RCPT TO, one per line.
talk() {
    python3 - "$1" "$2" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
c, m = s.mail("sender@example.org"); print(c, m.decode())
if c == 250:
    c, m = s.rcpt(sys.argv[2]); print(c, m.decode())
    if c == 250:
        c, m = s.data(b"Subject: override\r\n\r\nbody\r\n"); print(c, m.decode())
s.quit()
EOP
}
out=$(talk "$PT_PORT" alice@example.test)
pt_check main_port_milter_unreachable_451 grep -q '^451 4.7.1' <<<"$out"
out=$(talk "$P2" alice@example.test)
pt_check no_milters_mail_accepted grep -q '^250 .*queued as' <<<"$out" || echo "$out"
pt_check no_milters_delivered pt_wait "grep -qs '^Subject: override' $PT_HOMES/alice/Maildir/new/*" 20
out=$(talk "$P2" nosuchuser@example.test)
pt_check no_unknown_recipient_checks_accepts grep -q '^250 .*queued as' <<<"$out" || echo "$out"
pt_check unknown_recipient_bounced_later pt_wait "grep -q 'to=<nosuchuser@example.test>.*status=bounced' $PT_T/maillog" 20
# Without the override the same recipient is refused at RCPT (main port
# minus its milter, on a third listener).
P3=$(pt_free_port)
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P3 inet n - n - - smtpd
  -o smtpd_milters=
EOM
pt_cmd postfix reload >/dev/null 2>&1
pt_wait_smtp "$P3" 20
out=$(talk "$P3" nosuchuser@example.test)
pt_check unknown_recipient_checked_elsewhere grep -q '^550 5.1.1' <<<"$out" || echo "$out"
pt_done
