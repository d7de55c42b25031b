#!/usr/bin/env bash
# strict_mime_test.sh - strict_7bit_headers, strict_8bitmime_body,
# strict_8bitmime and strict_mime_encoding_domain in cleanup, each set in
# main.cf in turn (postfix reload), against a real instance:
#   - 8-bit text in a header: 550 5.6.0 with strict_7bit_headers or
#     strict_8bitmime, accepted without;
#   - 8-bit body text without Content-Transfer-Encoding: 8bit: refused with
#     strict_8bitmime_body or strict_8bitmime; with the header, accepted;
#   - a base64 multipart: refused with strict_mime_encoding_domain;
#   - the log line names the error and the text; an smtpd with
#     receive_override_options = no_header_body_checks is not checked.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
P_OFF=$(pt_free_port)
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_OFF inet n - n - - smtpd -o receive_override_options=no_header_body_checks
EOM
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog

# send PORT BODY: the final reply code and enhanced status of one message.
send() {
    python3 - "$1" "$2" <<'EOP'
import smtplib, sys
port, body = int(sys.argv[1]), sys.argv[2].encode("utf-8")
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
s.putcmd("MAIL FROM:<sender@example.org> BODY=8BITMIME"); s.getreply()
s.putcmd("RCPT TO:<alice@example.test>"); s.getreply()
code, msg = s.data(body)
print(code, msg.decode().split(" ")[0])
s.quit()
EOP
}
HDR8=$'Subject: gr\u00fc\u00dfe\r\n\r\nplain body\r\n'
BODY8=$'Subject: b\r\n\r\ngr\u00fc\u00dfe\r\n'
BODY8_OK=$'Subject: b\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\ngr\u00fc\u00dfe\r\n'
B64MP=$'Subject: m\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b"\r\nContent-Transfer-Encoding: base64\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n'

# strict SETTING: only that strict_* setting on (none for ""), reloaded.
strict() {
    sed -i '/^strict_/d' "$PT_CONF/main.cf"
    [ -n "$1" ] && echo "$1 = yes" >> "$PT_CONF/main.cf"
    pt_cmd postfix reload >/dev/null 2>&1
    sleep 1.5       # cleanup processes of the old configuration retire
}

pt_check header8_default_accepted [ "$(send "$PT_PORT" "$HDR8")" = "250 2.0.0" ]
pt_check body8_default_accepted [ "$(send "$PT_PORT" "$BODY8")" = "250 2.0.0" ]
pt_check domain_default_accepted [ "$(send "$PT_PORT" "$B64MP")" = "250 2.0.0" ]

strict strict_7bit_headers
pt_check header8_strict_7bit_headers [ "$(send "$PT_PORT" "$HDR8")" = "550 5.6.0" ]
pt_check body8_not_strict_7bit_headers [ "$(send "$PT_PORT" "$BODY8")" = "250 2.0.0" ]
pt_check header8_logged grep -q 'reject: mime-error improper use of 8-bit data in message header: Subject: gr' "$LOG"

strict strict_8bitmime_body
pt_check body8_strict_8bitmime_body [ "$(send "$PT_PORT" "$BODY8")" = "550 5.6.0" ]
pt_check header8_not_strict_8bitmime_body [ "$(send "$PT_PORT" "$HDR8")" = "250 2.0.0" ]
pt_check body8_logged grep -q 'reject: mime-error improper use of 8-bit data in message body: gr' "$LOG"

strict strict_8bitmime
pt_check header8_strict_8bitmime [ "$(send "$PT_PORT" "$HDR8")" = "550 5.6.0" ]
pt_check body8_strict_8bitmime [ "$(send "$PT_PORT" "$BODY8")" = "550 5.6.0" ]
pt_check body8_with_encoding_accepted [ "$(send "$PT_PORT" "$BODY8_OK")" = "250 2.0.0" ]
pt_check no_header_body_checks_off [ "$(send "$P_OFF" "$BODY8")" = "250 2.0.0" ]

strict strict_mime_encoding_domain
pt_check domain_strict [ "$(send "$PT_PORT" "$B64MP")" = "550 5.6.0" ]
pt_check domain_fine_otherwise [ "$(send "$PT_PORT" "$BODY8")" = "250 2.0.0" ]

pt_stop
pt_done
