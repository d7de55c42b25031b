#!/bin/bash
# smtpd_rcpt_limit_test.sh - recipients past smtpd_recipient_limit get
# 452 4.5.3; the first smtpd_recipient_overshoot_limit of them in a
# transaction are not errors (a bulk sender is told to send the rest
# later, not disconnected), the ones after that count toward
# smtpd_hard_error_limit; a new transaction starts the count again.
. "$(dirname "$0")/lib.sh"
pt_instance
P_LOW=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
default_transport = discard
smtpd_recipient_limit = 2
smtpd_hard_error_limit = 3
smtpd_recipient_overshoot_limit = 4
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_LOW inet n - n - - smtpd
  -o smtpd_recipient_overshoot_limit=0
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# session PORT NRCPT [NRCPT...]: one transaction per argument, each with
# that many RCPT commands; prints every reply's first word and code.
session() {
    python3 - "$@" <<'EOP'
import socket, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=15)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline().decode()
        if not l:
            return "EOF"
        if len(l) < 4 or l[3] != "-":
            return l.strip()
reply()
def cmd(c):
    s.sendall(c.encode() + b"\r\n"); r = reply(); print(c.split(":")[0], r); return r
cmd("EHLO x")
for n in sys.argv[2:]:
    cmd("MAIL FROM:<a@example.org>")
    for i in range(int(n)):
        if cmd("RCPT TO:<r%d@remote.example>" % i).startswith(("EOF", "421")):
            sys.exit(0)
    cmd("RSET")
cmd("QUIT")
EOP
}

# Limit 2, overshoot 4, hard errors 3: 2 accepted, 4 excess are free, the
# 5th and 6th excess count (2 errors), the session goes on.
out=$(session $PT_PORT 8)
pt_check two_accepted [ "$(grep -c '^RCPT TO 250 2.1.5' <<<"$out")" = 2 ]
pt_check excess_452 [ "$(grep -c '^RCPT TO 452 4.5.3 Error: too many recipients' <<<"$out")" = 6 ]
pt_check overshoot_tolerated grep -q '^QUIT 221' <<<"$out"
# A new transaction starts again: two transactions of 7 (5 excess each, 1
# counted each) stay under 3 errors.
out=$(session $PT_PORT 7 7)
pt_check per_transaction_count grep -q '^QUIT 221' <<<"$out"
pt_check second_transaction_served [ "$(grep -c '^RCPT TO 250 2.1.5' <<<"$out")" = 4 ]
# overshoot 0: every excess recipient is an error; the third ends it.
out=$(session $P_LOW 8)
pt_check no_overshoot_421 grep -q '^RCPT TO 421 4.7.0 mail.example.test Error: too many errors' <<<"$out"
pt_check no_overshoot_three_452 [ "$(grep -c '^RCPT TO 452 4.5.3' <<<"$out")" = 3 ]
pt_done
