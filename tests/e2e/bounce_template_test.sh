#!/usr/bin/env bash
# bounce_template_test.sh - bounce_template_file on a real instance:
#   - failure_template: the non-delivery report's From:, Subject: and text
#     are the administrator's, with $myhostname, $mail_name and
#     ${maximal_queue_lifetime_days} expanded, the recipient and reason
#     after the text, the DSN parts unchanged; the postmaster copy gets
#     Postmaster-Subject:;
#   - delay_template: a UTF-8 text with Charset: utf-8 and
#     $delay_warning_time_seconds;
#   - a template that does not parse is reported with the file and line, and
#     the built-in wording is used for that kind (success notices here).
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
printf 'defer.test retry:4.4.1 remote site is resting\n' > "$PT_CONF/transport"
cat > "$PT_CONF/bounce.cf" <<'EOT'
# A site's own wording.
failure_template = <<EOF
Charset: us-ascii
From: MAILER-DAEMON (Custom Mail Robot)
Subject: Custom: your mail came back
Postmaster-Subject: Custom: postmaster copy

Hello from $mail_name at ${myhostname}.
Mail stays queued here for $maximal_queue_lifetime_days days at most.
A $literal_dollar_word stays as written.

                   -- the robot
EOF

delay_template = <<END
Charset: utf-8
Subject: Custom: verzögert

Ihre Nachricht ist verzögert (Warnung nach $delay_warning_time_seconds s).
END

success_template = <<EOF
Subject: broken
Bogus-Header: this is not a template header

text
EOF
EOT
cat >> "$PT_CONF/main.cf" <<EOM
local_recipient_maps =
forward_path =
transport_maps = hash:$PT_CONF/transport
delay_warning_time = 1s
notify_classes = bounce, resource, software
bounce_template_file = $PT_CONF/bounce.cf
EOM
pt_cmd postmap "$PT_CONF/transport"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog

count() {
    python3 -c 'import mailbox,sys; print(len(mailbox.mbox(sys.argv[1], create=False)))' \
        "$PT_T/mail/$1" 2>/dev/null || echo 0
}
# notice USER SUBJECT: "charset=C|from=F|parts=P|TEXT" for USER's message
# with that Subject (TEXT: the decoded text part); empty when there is none.
notice() {
    python3 - "$PT_T/mail/$1" "$2" <<'EOP'
import mailbox, sys, email.header
for m in mailbox.mbox(sys.argv[1], create=False):
    subj = str(email.header.make_header(email.header.decode_header(m.get("Subject", ""))))
    if subj != sys.argv[2]:
        continue
    parts = m.get_payload()
    text = parts[0]
    body = text.get_payload(decode=True).decode(text.get_content_charset() or "ascii")
    print("charset=%s|from=%s|parts=%s|%s" % (text.get_content_charset(), m.get("From"),
          ",".join(p.get_content_type() for p in parts), body))
    break
EOP
}

# ---- failure_template ----
PT_BODY=$'Subject: t1\r\n\r\nbody\r\n' pt_smtp_send alice@example.test nosuchuser@example.test >/dev/null
pt_check failure_notice_arrives pt_wait "[ \$(count alice) -ge 2 ]" 30
n=$(notice alice 'Custom: your mail came back')
pt_check failure_subject [ -n "$n" ]
pt_check failure_from grep -q '|from=MAILER-DAEMON@mail.example.test (Custom Mail Robot)|' <<<"$n"
pt_check failure_expanded grep -q 'Hello from Postfix at mail.example.test\.' <<<"$n"
pt_check failure_days grep -q 'queued here for 5 days at most' <<<"$n"
pt_check failure_unknown_dollar_kept grep -q 'A \$literal_dollar_word stays as written' <<<"$n"
pt_check failure_recipient_after_text python3 -c "
import sys; t = sys.argv[1]
a = t.find('-- the robot'); b = t.find('<nosuchuser@example.test>: ')
sys.exit(0 if 0 <= a < b else 1)" "$n"
pt_check failure_dsn_parts grep -q '|parts=text/plain,message/delivery-status,message/rfc822|' <<<"$n"
pt_check postmaster_subject [ -n "$(notice alice 'Custom: postmaster copy')" ]

# ---- delay_template: UTF-8 ----
PT_BODY=$'Subject: t2\r\n\r\nbody\r\n' pt_smtp_send bob@example.test someone@defer.test >/dev/null
pt_check delay_notice_arrives pt_wait "[ \$(count bob) -ge 1 ]" 30
n=$(notice bob 'Custom: verzögert')
pt_check delay_subject [ -n "$n" ]
pt_check delay_charset grep -q '^charset=utf-8|' <<<"$n"
pt_check delay_text grep -q 'Ihre Nachricht ist verzögert (Warnung nach 1 s)\.' <<<"$n"

# ---- a broken template: reported, built-in wording for that kind ----
pt_check broken_template_reported grep -q "bounce.cf:24: unknown template header: Bogus-Header" "$LOG"
PT_BODY=$'Subject: t3\r\n\r\nbody\r\n' python3 - "$PT_PORT" <<'EOP'
import os, smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
s.sendmail("carol@example.test", ["bob@example.test"], os.environ["PT_BODY"], [], ["NOTIFY=SUCCESS"])
s.quit()
EOP
pt_check success_notice_arrives pt_wait "[ \$(count carol) -ge 1 ]" 30
pt_check success_builtin_subject [ -n "$(notice carol 'Successful Mail Delivery Report')" ]

pt_stop
pt_done
