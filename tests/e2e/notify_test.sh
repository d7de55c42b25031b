#!/usr/bin/env bash
# notify_test.sh - notify_classes in smtpd: the postmaster gets the session
# transcript when a session had an error of a class the list names.
#   - notify_classes = policy, protocol (+ the defaults): an unknown command
#     (502 5.5.2) and an unknown recipient (550 5.1.1) give one notice to
#     postmaster (error_notice_recipient's default, aliased to alice), with
#     the commands and replies in order, AUTH's argument left out, sent
#     after the session ended;
#   - -o error_notice_recipient=bob@example.test sends it to bob instead;
#   - the defaults (resource, software) send nothing for those errors, and a
#     session without errors sends nothing;
#   - smtpd_history_flush_threshold: a long transcript is sent at RSET,
#     while the client is still connected.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
P_BOB=$(pt_free_port); P_DEF=$(pt_free_port); P_FLUSH=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
notify_classes = resource, software, policy, protocol
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_BOB inet n - n - - smtpd -o error_notice_recipient=bob@example.test
127.0.0.1:$P_DEF inet n - n - - smtpd -o notify_classes=resource,software
127.0.0.1:$P_FLUSH inet n - n - - smtpd -o smtpd_history_flush_threshold=6
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog
new() { ls "$PT_HOMES/$1/Maildir/new" 2>/dev/null | wc -l; }

# session PORT [HOLD]: a session with an unknown command, an unknown
# recipient and an AUTH with an argument; HOLD keeps it open after RSET
# until a notice reaches alice (or 10 s) and prints "open" if it was.
session() {
    python3 - "$@" <<'EOP'
import socket, sys, time, os, glob
port = int(sys.argv[1]); hold = len(sys.argv) > 2
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
def cmd(c):
    if c is not None:
        s.sendall(c.encode() + b"\r\n")
    while True:
        l = f.readline()
        if not l or l[3:4] != b"-":
            return l
cmd(None)
cmd("EHLO client.example.test")
cmd("FOO bar")
cmd("MAIL FROM:<someone@example.org>")
cmd("RCPT TO:<nosuchuser@example.test>")
cmd("AUTH PLAIN c2VjcmV0LXBhc3N3b3Jk")
if hold:
    for i in range(4):
        cmd("NOOP")
    before = len(glob.glob(os.environ["NEWDIR"] + "/*"))
    cmd("RSET")
    end = time.time() + 10
    while time.time() < end and len(glob.glob(os.environ["NEWDIR"] + "/*")) == before:
        time.sleep(0.1)
    if len(glob.glob(os.environ["NEWDIR"] + "/*")) > before:
        print("open")
cmd("QUIT")
EOP
}
export NEWDIR=$PT_HOMES/alice/Maildir/new

# ---- policy + protocol errors: a notice to postmaster (alice) ----
session "$PT_PORT"
pt_check notice_to_postmaster pt_wait "[ \$(new alice) -ge 1 ]" 20
n=$(ls -t "$NEWDIR" | head -1); msg=$NEWDIR/$n
pt_check notice_subject grep -q '^Subject: Postfix SMTP server: errors from localhost\[127.0.0.1\]$' "$msg"
pt_check notice_from grep -q '^From: Mail Delivery System <MAILER-DAEMON@mail.example.test>$' "$msg"
pt_check notice_transcript_order python3 - "$msg" <<'EOP'
import sys
body = open(sys.argv[1]).read()
want = [" Out: 220 ", " In:  EHLO client.example.test", " In:  FOO bar",
        " Out: 502 5.5.2 Error: command not recognized", " In:  RCPT TO:<nosuchuser@example.test>",
        " Out: 550 5.1.1 <nosuchuser@example.test>", " In:  AUTH PLAIN ...", " In:  QUIT"]
pos = 0
for w in want:
    i = body.find(w, pos)
    if i < 0:
        sys.exit("missing or out of order: " + w)
    pos = i
EOP
pt_check notice_hides_auth_argument bash -c "! grep -q 'c2VjcmV0' '$msg'"
pt_check notice_logged grep -q "transcript of the session with localhost\[127.0.0.1\] sent to postmaster" "$LOG"
pt_check notice_sender_is_double_bounce grep -q '^Return-Path: <double-bounce@mail.example.test>$' "$msg"

# ---- error_notice_recipient ----
session "$P_BOB"
pt_check notice_to_error_notice_recipient pt_wait "[ \$(new bob) -ge 1 ]" 20

# ---- the default classes: no notice for policy/protocol errors; none without errors ----
a=$(new alice)
session "$P_DEF"
out=$(pt_smtp_send sender@example.org carol@example.test)
pt_wait_queue_empty 20
sleep 1
pt_check default_classes_no_notice [ "$(new alice)" = "$a" ]
pt_check clean_session_no_notice [ "$(grep -c 'transcript of the session' "$LOG")" = 2 ]

# ---- smtpd_history_flush_threshold: sent at RSET, before the session ends ----
out=$(session "$P_FLUSH" hold)
pt_check flush_at_rset_while_open [ "$out" = open ]

pt_stop
pt_done
