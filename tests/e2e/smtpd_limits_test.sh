#!/bin/bash
# smtpd_limits_test.sh - anvil-backed client limits (connection count and
# rate, message and recipient rate), the junk command limit, and hostile
# input (NUL bytes, a 10 KB line, binary garbage, pipelined junk), each
# followed by a normal client that is still served.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
# The loopback client must not be exempt: limits apply outside mynetworks.
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_client_event_limit_exceptions =
smtpd_client_connection_count_limit = 2
smtpd_client_connection_rate_limit = 6
smtpd_client_message_rate_limit = 2
smtpd_client_recipient_rate_limit = 3
smtpd_junk_command_limit = 3
smtpd_hard_error_limit = 5
anvil_status_update_time = 2s
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# pt_dialog 'BYTES': one session, prints every reply line.
pt_dialog() {
    python3 - "$PT_PORT" "$1" <<'EOP'
import socket, sys
port, data = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin1")
s = socket.create_connection(("127.0.0.1", port), timeout=15)
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

# Concurrent connections: two are held open, the third gets 421.
out=$(python3 - "$PT_PORT" <<'EOP'
import socket, sys, time
port = int(sys.argv[1])
held = []
for i in range(2):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    held.append((s, s.makefile("rb")))
    print(held[-1][1].readline().decode().rstrip())
s = socket.create_connection(("127.0.0.1", port), timeout=10)
print(s.makefile("rb").readline().decode().rstrip())
for s, f in held:
    s.sendall(b"QUIT\r\n"); f.readline(); s.close()
EOP
)
pt_check count_limit_421 grep -q '^421 4.7.0 mail.example.test Error: too many connections from 127.0.0.1$' <<<"$out"
pt_check count_limit_two_served [ "$(grep -c '^220 ' <<<"$out")" = 2 ]
pt_check count_limit_log pt_wait "grep -q 'warning: Connection concurrency limit exceeded: 3 from localhost\[127.0.0.1\] for service 127.0.0.1:$PT_PORT' $PT_T/maillog" 10

# Connection rate: 4 connections so far (pt_start probes once); the 7th is refused.
for i in 1 2; do pt_dialog 'QUIT\r\n' >/dev/null; done
out=$(pt_dialog 'QUIT\r\n')
pt_check rate_limit_421 grep -q '^421 4.7.0 mail.example.test Error: too many connections from 127.0.0.1$' <<<"$out"
pt_check rate_limit_log pt_wait "grep -q 'warning: Connection rate limit exceeded: 7 from localhost\[127.0.0.1\] for service 127.0.0.1:$PT_PORT' $PT_T/maillog" 10
pt_check anvil_statistics pt_wait "grep -q 'postfix/anvil\[[0-9]*\]: statistics: max connection rate [78]/60s for (127.0.0.1:$PT_PORT:127.0.0.1) at ' $PT_T/maillog" 10
pt_check anvil_count_statistics pt_wait "grep -q 'statistics: max connection count 3 for (127.0.0.1:$PT_PORT:127.0.0.1) at ' $PT_T/maillog" 10

# The rate window is 60 s: use a fresh instance setting for the rest.
pt_stop
sed -i -e 's/^smtpd_client_connection_rate_limit = .*/smtpd_client_connection_rate_limit = 0/' \
    -e 's/^smtpd_client_connection_count_limit = .*/smtpd_client_connection_count_limit = 0/' "$PT_CONF/main.cf"
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }

# Message rate 2 and recipient rate 3 per minute.
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<alice@example.test>\r\nRCPT TO:<bob@example.test>\r\nRCPT TO:<carol@example.test>\r\nRCPT TO:<alice@example.test>\r\nRSET\r\nMAIL FROM:<b@example.org>\r\nRSET\r\nMAIL FROM:<c@example.org>\r\nQUIT\r\n')
pt_check rcpt_rate_ok [ "$(grep -c '^250 2.1.5 Ok$' <<<"$out")" = 3 ]
pt_check rcpt_rate_450 grep -q '^450 4.7.1 Error: too many recipients from 127.0.0.1$' <<<"$out"
pt_check msg_rate_450 grep -q '^450 4.7.1 Error: too much mail from 127.0.0.1$' <<<"$out"
pt_check rcpt_rate_log grep -q "warning: Recipient address rate limit exceeded: 4 from localhost\[127.0.0.1\] for service 127.0.0.1:$PT_PORT" "$PT_T/maillog"
pt_check msg_rate_log grep -q "warning: Message delivery request rate limit exceeded: 3 from localhost\[127.0.0.1\] for service 127.0.0.1:$PT_PORT" "$PT_T/maillog"

# Junk commands (EHLO counts, as in Postfix): 3 are free, then each counts
# as an error; the hard error limit (5) ends the session.
out=$(pt_dialog 'EHLO c.example\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nNOOP\r\nQUIT\r\n')
pt_check junk_limit_421 grep -q '^421 4.7.0 mail.example.test Error: too many errors$' <<<"$out"
pt_check junk_limit_noop_ok [ "$(grep -c '^250 2.0.0 Ok$' <<<"$out")" = 8 ]
pt_check junk_limit_log grep -q 'too many errors after NOOP from localhost\[127.0.0.1\]' "$PT_T/maillog"

# pt_served: a normal client still gets its mail through.
pt_served() { [ "$(pt_smtp_send sender@example.org alice@example.test | cut -c1-3)" = 250 ]; }
sed -i 's/^smtpd_client_message_rate_limit = .*/smtpd_client_message_rate_limit = 0/;s/^smtpd_client_recipient_rate_limit = .*/smtpd_client_recipient_rate_limit = 0/' "$PT_CONF/main.cf"
pt_cmd postfix reload >/dev/null 2>&1; sleep 1

# NUL bytes in a command.
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<a@exa\x00mple.org>\r\nQUIT\r\n')
pt_check nul_bad_syntax grep -q '^500 5.5.2 Error: bad syntax$' <<<"$out"
pt_check nul_then_quit grep -q '^221 2.0.0 Bye$' <<<"$out"
pt_check nul_next_served pt_served

# A 10 KB line is cut at line_length_limit and answered as a command.
long=$(python3 -c 'print("X" * 10240, end="")')
out=$(pt_dialog "EHLO c.example\r\n${long}\r\nNOOP\r\nQUIT\r\n")
pt_check long_line_unrecognized grep -q '^502 5.5.2 Error: command not recognized$' <<<"$out"
pt_check long_line_in_step grep -q '^250 2.0.0 Ok$' <<<"$out"
pt_check long_line_next_served pt_served

# Binary garbage: no crash, errors, the session ends at the hard limit.
out=$(python3 - "$PT_PORT" <<'EOP'
import os, random, socket, sys
random.seed(7)
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
f = s.makefile("rb")
f.readline()
junk = bytes(random.randrange(256) for _ in range(20000)) + b"\r\nQUIT\r\n"
try:
    s.sendall(junk)
    for line in f:
        print(line.decode("latin1").rstrip()[:60])
except OSError:
    pass
EOP
)
pt_check garbage_answered grep -q '^5[0-9][0-9] ' <<<"$out"
pt_check garbage_next_served pt_served

# Pipelined junk: many bad commands in one write; answers stay in order.
out=$(pt_dialog 'FOO\r\nBAR\r\nMAIL FROM:<x>\r\nRCPT TO:<y@example.test>\r\nQUIT\r\n')
pt_check pipelined_junk_unrecognized [ "$(grep -c '^502 5.5.2 Error: command not recognized$' <<<"$out")" = 2 ]
pt_check pipelined_junk_quit grep -q '^221 2.0.0 Bye$' <<<"$out"
pt_check pipelined_junk_next_served pt_served
pt_done
