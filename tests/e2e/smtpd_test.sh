#!/bin/bash
# smtpd_test.sh - the SMTP server against a real instance: banner, EHLO
# keywords, relay control, unknown local users, size limit, SMTP smuggling,
# bare LF, pipelining, and the Postfix-shaped log lines.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
message_size_limit = 20000
smtpd_forbid_bare_newline = reject
smtpd_forbid_bare_newline_exclusions =
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# pt_dialog 'RAW BYTES' [relay-ip-ignored]: sends the bytes (Python escapes
# allowed), waits for the server to close or 10s, prints every reply line.
pt_dialog() {
    python3 - "$PT_PORT" "$1" <<'EOP'
import socket, sys, time
port, data = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin1")
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
print(f.readline().decode().rstrip())
s.sendall(data)
try:
    for line in f:
        print(line.decode("latin1").rstrip())
except OSError:
    pass
EOP
}

out=$(pt_dialog 'EHLO client.example.test\r\nQUIT\r\n')
pt_check banner grep -q '^220 mail.example.test ESMTP Postfix$' <<<"$out"
pt_check ehlo_name grep -q '^250-mail.example.test$' <<<"$out"
pt_check ehlo_pipelining grep -q '^250-PIPELINING$' <<<"$out"
pt_check ehlo_size grep -q '^250-SIZE 20000$' <<<"$out"
pt_check ehlo_enhanced grep -q '^250-ENHANCEDSTATUSCODES$' <<<"$out"
pt_check ehlo_dsn grep -q '^250-DSN$' <<<"$out"
pt_check quit_bye grep -q '^221 2.0.0 Bye$' <<<"$out"

# Relaying: the loopback client is in mynetworks, so test with an instance
# setting that leaves it out.
pt_stop
sed -i 's|^mynetworks = .*|mynetworks = 192.0.2.0/24|' "$PT_CONF/main.cf"
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<nosuchuser@example.test>\r\nRCPT TO:<alice@example.test>\r\nRSET\r\nQUIT\r\n')
pt_check relay_denied grep -q '^454 4.7.1 <x@elsewhere.example>: Relay access denied$' <<<"$out"
pt_check unknown_user grep -q '^550 5.1.1 <nosuchuser@example.test>: Recipient address rejected: User unknown in local recipient table$' <<<"$out"
pt_check known_user grep -q '^250 2.1.5 Ok$' <<<"$out"
pt_check relay_log pt_wait "grep -q 'NOQUEUE: reject: RCPT from localhost\[127.0.0.1\]: 454 4.7.1 <x@elsewhere.example>: Relay access denied; from=<s@example.org> to=<x@elsewhere.example> proto=ESMTP helo=<c.example>' $PT_T/maillog" 10

# Size limit: declared and actual.
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org> SIZE=30000\r\nQUIT\r\n')
pt_check size_declared grep -q '^552 5.3.4 Message size exceeds fixed limit$' <<<"$out"
big=$(python3 -c 'print("x" * 100 + "\\r\\n", end="")')
big=$(for i in $(seq 1 300); do printf '%s' "$big"; done)
out=$(pt_dialog "EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: big\r\n\r\n${big}.\r\nQUIT\r\n")
pt_check size_actual grep -q '^552 5.3.4 Message size exceeds fixed limit$' <<<"$out"
pt_check size_then_quit grep -q '^221 2.0.0 Bye$' <<<"$out"

# Smuggling: "\n.\n" and "\r\n.\n" inside DATA must not end the message;
# with bare LF rejected the session is refused instead.
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: smuggle\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\n.\r\nQUIT\r\n')
pt_check bare_lf_refused grep -q '^550 5.5.2 mail.example.test Error: bare <LF> received$' <<<"$out"
pt_check smuggle_not_queued bash -c "! grep -q '^250 2.0.0 Ok: queued' <<<'$out'"

# With bare LF normalized, the smuggled "\n.\n" is message content: one message.
pt_stop
echo 'smtpd_forbid_bare_newline = normalize' >> "$PT_CONF/main.cf"
pt_start || { pt_fail restart2 "instance did not restart"; pt_done; exit 1; }
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: smuggle\r\n\r\nbody\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\n.\r\nQUIT\r\n')
pt_check one_message [ "$(grep -c '^250 2.0.0 Ok: queued as' <<<"$out")" = 1 ]
pt_check no_second_mail [ "$(grep -c '^250 2.1.0' <<<"$out")" = 1 ]
pt_wait_queue_empty 30
pt_check delivered_bob pt_wait "[ \$(ls $PT_HOMES/bob/Maildir/new 2>/dev/null | wc -l) = 1 ]" 10
pt_check nothing_for_carol [ "$(ls $PT_HOMES/carol/Maildir/new 2>/dev/null | wc -l)" = 0 ]
f=$(ls $PT_HOMES/bob/Maildir/new/* 2>/dev/null | head -1)
pt_check smuggled_text_is_content grep -q 'MAIL FROM:<evil@example.org>' "$f"
pt_check received_header grep -q '^Received: from c.example (localhost \[127.0.0.1\])' "$f"

# Pipelining: a whole transaction in one write gets every reply, in order.
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: p\r\n\r\nx\r\n.\r\nQUIT\r\n')
pt_check pipelined_replies [ "$(grep -c '^250 2.1' <<<"$out")" = 3 ]
pt_check pipelined_354 grep -q '^354 End data with <CR><LF>.<CR><LF>$' <<<"$out"

# Protocol errors.
out=$(pt_dialog 'RCPT TO:<alice@example.test>\r\nDATA\r\nMAIL FROM:<s@example.org>\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<a b@example.test>\r\nFOO\r\nQUIT\r\n')
pt_check need_mail grep -q '^503 5.5.1 Error: need MAIL command$' <<<"$out"
pt_check need_rcpt grep -q '^503 5.5.1 Error: need RCPT command$' <<<"$out"
pt_check nested_mail grep -q '^503 5.5.1 Error: nested MAIL command$' <<<"$out"
pt_check bad_rcpt grep -q '^501 5.1.3 Bad recipient address syntax$' <<<"$out"
pt_check unknown_cmd grep -q '^502 5.5.2 Error: command not recognized$' <<<"$out"
pt_check disconnect_log pt_wait "grep -q 'disconnect from localhost\[127.0.0.1\] mail=1/2 rcpt=0/2 data=0/1 quit=1 unknown=0/1 commands=2/7' $PT_T/maillog" 10
pt_done
