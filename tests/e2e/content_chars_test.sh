#!/usr/bin/env bash
# content_chars_test.sh - message_reject_characters and message_strip_characters
# in cleanup, against a real instance:
#   - a message with a rejected character (\v) gets 550 5.7.1 disallowed
#     character at the end of DATA and is not delivered; the log names it;
#   - a stripped character (\f, and \001 written in octal) is removed from
#     the delivered message, the rest kept;
#   - receive_override_options = no_header_body_checks (a second smtpd)
#     turns both off, as it does header and body checks;
#   - sendmail submissions are checked too (pickup -> cleanup);
#   - cleanup_replace_stray_cr_lf: a CR that does not end a line becomes a
#     space (default yes), and stays with "no".
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
P_RAW=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<'EOM'
home_mailbox = Maildir/
message_reject_characters = \v
message_strip_characters = \f\001
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_RAW inet n - n - - smtpd -o receive_override_options=no_header_body_checks
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog
box() { cat "$PT_HOMES/$1"/Maildir/new/* 2>/dev/null; }

out=$(PT_BODY=$'Subject: vt\r\n\r\nbefore\x0bafter\r\n' pt_smtp_send sender@example.org alice@example.test)
pt_check reject_reply grep -q '^550 5.7.1 disallowed character' <<<"$out"
pt_check reject_logged grep -q 'reject: content before?after from localhost\[127.0.0.1\];.*: 5.7.1 disallowed character' "$LOG"

out=$(PT_BODY=$'Subject: ff\r\n\r\nstrip\x0cme\x01 please\r\n' pt_smtp_send sender@example.org bob@example.test)
pt_check strip_accepted grep -q '^250' <<<"$out"
pt_check strip_delivered pt_wait "box bob | grep -q '^stripme please'" 20
no_stripped_chars() { [ -n "$(box "$1")" ] && ! box "$1" | grep -q $'[\x0c\x01]'; }
pt_check strip_nothing_left no_stripped_chars bob

PT_PORT=$P_RAW
out=$(PT_BODY=$'Subject: raw\r\n\r\nkeep\x0bvt and\x0cff\r\n' pt_smtp_send sender@example.org carol@example.test)
pt_check override_accepts grep -q '^250' <<<"$out"
pt_check override_keeps_characters pt_wait "box carol | grep -q \$'^keep\x0bvt and\x0cff'" 20

printf 'Subject: sm\n\nby\013sendmail\n' | pt_cmd sendmail -f sender@example.org alice@example.test
pt_check sendmail_rejected_logged pt_wait "grep -q 'reject: content by?sendmail from local;' '$LOG'" 20
pt_check nothing_for_alice [ -z "$(box alice)" ]

# cleanup_replace_stray_cr_lf (default yes): a CR inside a line, or one
# before the CR LF, becomes a space; with "no" it stays. smtplib would turn
# a lone CR into a line end, so these go over a raw socket.
raw_data() {
    python3 - "$PT_PORT" "$1" "$2" <<'EOP'
import socket, sys
port, rcpt, body = int(sys.argv[1]), sys.argv[2], sys.argv[3].encode("latin1").decode("unicode_escape").encode("latin1")
s = socket.create_connection(("127.0.0.1", port), timeout=15)
f = s.makefile("rb")
f.readline()
for c in [b"EHLO c.example", b"MAIL FROM:<sender@example.org>", b"RCPT TO:<" + rcpt.encode() + b">", b"DATA"]:
    s.sendall(c + b"\r\n")
    while True:
        l = f.readline()
        if l[3:4] != b"-":
            break
s.sendall(body + b".\r\n")
print(f.readline().decode().strip())
s.sendall(b"QUIT\r\n")
EOP
}
PT_PORT=$(awk '/^127.0.0.1:[0-9]+ +inet/ && !/receive_override/ { split($1, a, ":"); print a[2]; exit }' "$PT_CONF/master.cf")
out=$(raw_data bob@example.test 'Subject: stray\r\n\r\nmid\rdle\r\ntail\r\r\n')
pt_check stray_accepted grep -q '^250' <<<"$out"
pt_check stray_cr_in_line_space pt_wait "box bob | grep -q '^mid dle$'" 20
tail_space() { box bob | grep -q '^tail $'; }
pt_check stray_cr_before_end_space tail_space
no_cr() { ! box bob | grep -q $'\r'; }
pt_check stray_no_cr_left no_cr
pt_cmd postconf -e cleanup_replace_stray_cr_lf=no
pt_cmd postfix reload >/dev/null 2>&1
sleep 1
out=$(raw_data carol@example.test 'Subject: kept\r\n\r\nkeep\rcr\r\n')
pt_check stray_off_accepted grep -q '^250' <<<"$out"
pt_check stray_off_kept pt_wait "box carol | grep -q \$'^keep\rcr'" 20

pt_stop
pt_done
