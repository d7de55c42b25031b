#!/usr/bin/env bash
# content_chars_test.sh - message_reject_characters and message_strip_characters
# in cleanup, against a real instance:
#   - a message with a rejected character (\v) gets 550 5.7.1 disallowed
#     character at the end of DATA and is not delivered; the log names it;
#   - a stripped character (\f, and \001 written in octal) is removed from
#     the delivered message, the rest kept;
#   - receive_override_options = no_header_body_checks (a second smtpd)
#     turns both off, as it does header and body checks;
#   - sendmail submissions are checked too (pickup -> cleanup).
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

pt_stop
pt_done
