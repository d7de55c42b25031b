#!/bin/bash
# delivery_status_filter_test.sh - smtp_, local_, pipe_ and
# virtual_delivery_status_filter (default_delivery_status_filter's
# per-agent forms): a table may replace the status code and text of a
# recipient's result, and the new class decides between deferral (4) and
# bounce (5). A fake SMTP server answers per local part, a pipe command
# exits 67 (user unknown); the checks read the maillog, the queue and the
# test users' Maildirs. Also: a table without a match changes
# nothing, a master.cf -o override gives one smtp service its own filter, a
# result that does not start with an enhanced status code is ignored with a
# warning, and a table that fails defers a failure (4.3.0) but keeps a
# success.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
P_FAKE=$(pt_free_port)
# regexp tables: key "X.Y.Z text", result "X.Y.Z new text".
cat > "$PT_CONF/smtp_dsn.re" <<'EOF'
/^5\.1\.1 (.*)/         4.1.1 filtered: $1
/^4\.2\.0 (.*)/         5.2.0 hardened: $1
/^5\.2\.1 /             bogus result without a code
EOF
cat > "$PT_CONF/over_dsn.re" <<'EOF'
/^5\.7\.1 (.*)/         4.7.1 override: $1
EOF
cat > "$PT_CONF/local_dsn.re" <<'EOF'
/^5\.1\.1 (unknown user.*)/     4.1.1 local filter: $1
/^2\.0\.0 delivered to maildir$/ 2.0.0 stored safely
EOF
cat > "$PT_CONF/pipe_dsn.re" <<'EOF'
/^5\.1\.1 (.*)/         4.1.1 pipe filter: $1
EOF
cat > "$PT_CONF/virtual_dsn.re" <<'EOF'
/^5\.1\.1 (.*)/         4.1.1 virtual filter: $1
EOF
chmod 644 "$PT_CONF"/*.re
printf '#!/bin/sh\necho "no such mailbox here"\nexit 67\n' > "$PT_T/nouser.sh"
chmod 755 "$PT_T/nouser.sh"
mkdir -p "$PT_T/vmail"; chown carol "$PT_T/vmail"
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
transport_maps = inline:{ plain.example=smtp:[127.0.0.1]:$P_FAKE, over.example=smtpover:[127.0.0.1]:$P_FAKE, failing.example=smtpfail:[127.0.0.1]:$P_FAKE, pipe.example=nouser: }
smtp_delivery_status_filter = regexp:$PT_CONF/smtp_dsn.re
local_delivery_status_filter = regexp:$PT_CONF/local_dsn.re
pipe_delivery_status_filter = regexp:$PT_CONF/pipe_dsn.re
virtual_delivery_status_filter = regexp:$PT_CONF/virtual_dsn.re
virtual_mailbox_domains = vdom.test
virtual_mailbox_base = $PT_T/vmail
virtual_mailbox_maps = inline:{ known@vdom.test=known/ }
virtual_uid_maps = static:$(id -u carol)
virtual_gid_maps = static:$(id -g carol)
EOM
cat >> "$PT_CONF/master.cf" <<EOM
smtpover unix - - n - - smtp
  -o smtp_delivery_status_filter=regexp:$PT_CONF/over_dsn.re
smtpfail unix - - n - - smtp
  -o smtp_delivery_status_filter=fail:down
nouser unix - n n - - pipe
  user=bob argv=$PT_T/nouser.sh
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# The fake server: RCPT TO answers by local part (unknown: 550 5.1.1,
# denied: 550 5.7.1, busy: 450 4.2.0, malformed: 550 5.2.1, anything else
# 250); each accepted message is counted in fake.log.
python3 - "$P_FAKE" "$PT_T/fake.log" <<'EOP' &
import socket, sys, threading
port, logf = int(sys.argv[1]), sys.argv[2]
REPLIES = {
    "unknown": b"550 5.1.1 Recipient address rejected: unknown user\r\n",
    "denied": b"550 5.7.1 Relay access denied\r\n",
    "busy": b"450 4.2.0 Mailbox busy\r\n",
    "malformed": b"550 5.2.1 Mailbox disabled\r\n",
}
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(16)
def serve(c):
    f = c.makefile("rb")
    ok = 0
    try:
        c.sendall(b"220 fake.example ESMTP\r\n")
        while True:
            l = f.readline()
            if not l:
                return
            w = l.strip().decode(errors="replace")
            u = w.upper()
            if u.startswith("EHLO") or u.startswith("HELO"):
                c.sendall(b"250 fake.example\r\n")
            elif u.startswith("MAIL FROM"):
                ok = 0
                c.sendall(b"250 2.1.0 Ok\r\n")
            elif u.startswith("RCPT TO"):
                local = w.split("<", 1)[-1].split("@", 1)[0].lower()
                r = REPLIES.get(local)
                if r is None:
                    ok += 1
                c.sendall(r or b"250 2.1.5 Ok\r\n")
            elif u == "DATA":
                if ok == 0:
                    c.sendall(b"554 5.5.1 No valid recipients\r\n")
                    continue
                c.sendall(b"354 go\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                with open(logf, "a") as lf:
                    lf.write("delivered\n")
                c.sendall(b"250 2.0.0 Ok: queued\r\n")
            elif u == "QUIT":
                c.sendall(b"221 bye\r\n")
                return
            else:
                c.sendall(b"250 2.0.0 Ok\r\n")
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOP
FAKE_PID=$!
PT_PIDS+=("$FAKE_PID")
pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $P_FAKE)).close()' 2>/dev/null" 10

LOG=$PT_T/maillog
# Queue id of the first log line for recipient $1.
qid_of() { grep -m1 -E ": [0-9A-Za-z]+: to=<$1>" "$LOG" | sed -E 's/.*: ([0-9A-Za-z]+): to=<.*/\1/'; }
# The message with queue id $1 is still in the queue (deferred or active).
in_queue() { [ -n "$1" ] && find "$PT_T/spool/deferred" "$PT_T/spool/active" -type f -name "$1" | grep -q .; }

# ---- smtp: 550 5.1.1 turned into a deferral (4.1.1) ----
r=$(pt_smtp_send alice@example.test unknown@plain.example)
pt_check smtp_accepted grep -q '^250' <<<"$r"
pt_check smtp_5xx_deferred pt_wait "grep -q 'to=<unknown@plain.example>, relay=127.0.0.1\[127.0.0.1\]:$P_FAKE, .*dsn=4.1.1, status=deferred (filtered: host 127.0.0.1\[127.0.0.1\] said: 550 5.1.1 Recipient address rejected: unknown user (in reply to RCPT TO command))' '$LOG'" 30
pt_check smtp_5xx_not_bounced sh -c "! grep -q 'to=<unknown@plain.example>.*status=bounced' '$LOG'"
pt_check smtp_deferred_still_queued [ "$(pt_queue_count)" -eq 1 ]
Q_UNKNOWN=$(qid_of unknown@plain.example)
pt_check smtp_deferred_in_deferred_queue in_queue "$Q_UNKNOWN"

# ---- smtp: 450 4.2.0 turned into a bounce (5.2.0) ----
r=$(pt_smtp_send alice@example.test busy@plain.example)
pt_check smtp_4xx_bounced pt_wait "grep -q 'to=<busy@plain.example>, .*dsn=5.2.0, status=bounced (hardened: host 127.0.0.1\[127.0.0.1\] said: 450 4.2.0 Mailbox busy (in reply to RCPT TO command))' '$LOG'" 30
# The sender's bounce notice carries the filtered status.
pt_check smtp_4xx_dsn_to_sender pt_wait "grep -lq 'Status: 5.2.0' $PT_HOMES/alice/Maildir/new/* 2>/dev/null" 30

# ---- smtp: no match, nothing changes ----
r=$(pt_smtp_send alice@example.test denied@plain.example)
pt_check smtp_nomatch_unchanged pt_wait "grep -q 'to=<denied@plain.example>, .*dsn=5.7.1, status=bounced (host 127.0.0.1\[127.0.0.1\] said: 550 5.7.1 Relay access denied (in reply to RCPT TO command))' '$LOG'" 30
r=$(pt_smtp_send alice@example.test ok@plain.example)
pt_check smtp_success_unchanged pt_wait "grep -q 'to=<ok@plain.example>, .*dsn=2.0.0, status=sent (250 2.0.0 Ok: queued)' '$LOG'" 30

# ---- a result without an enhanced status code: warning, status kept ----
r=$(pt_smtp_send alice@example.test malformed@plain.example)
pt_check malformed_result_ignored pt_wait "grep -q 'to=<malformed@plain.example>, .*dsn=5.2.1, status=bounced (host 127.0.0.1\[127.0.0.1\] said: 550 5.2.1 Mailbox disabled' '$LOG'" 30
pt_check malformed_result_warning grep -q 'warning: .*smtp_delivery_status_filter: ignoring result "bogus result without a code" for "5.2.1 host 127.0.0.1\[127.0.0.1\] said: 550 5.2.1 Mailbox disabled' "$LOG"

# ---- -o override on a second smtp service: its own table only ----
r=$(pt_smtp_send alice@example.test denied@over.example)
pt_check override_applies pt_wait "grep -q 'to=<denied@over.example>, .*dsn=4.7.1, status=deferred (override: host 127.0.0.1\[127.0.0.1\] said: 550 5.7.1 Relay access denied' '$LOG'" 30
Q_OVER=$(qid_of denied@over.example)
pt_check override_deferred_queued in_queue "$Q_OVER"
r=$(pt_smtp_send alice@example.test unknown@over.example)
pt_check override_replaces_main pt_wait "grep -q 'to=<unknown@over.example>, .*dsn=5.1.1, status=bounced (host 127.0.0.1\[127.0.0.1\] said: 550 5.1.1' '$LOG'" 30

# ---- a table that fails: failure deferred with 4.3.0, success kept ----
r=$(pt_smtp_send alice@example.test denied@failing.example)
pt_check lookup_error_defers pt_wait "grep -q 'to=<denied@failing.example>, .*dsn=4.3.0, status=deferred (delivery status filter lookup error (original status: 5.7.1 host 127.0.0.1\[127.0.0.1\] said: 550 5.7.1 Relay access denied' '$LOG'" 30
Q_FAIL=$(qid_of denied@failing.example)
pt_check lookup_error_queued in_queue "$Q_FAIL"
r=$(pt_smtp_send alice@example.test ok@failing.example)
pt_check lookup_error_success_kept pt_wait "grep -q 'to=<ok@failing.example>, .*dsn=2.0.0, status=sent (250 2.0.0 Ok: queued)' '$LOG'" 30

# ---- local: unknown user deferred, a success's text replaced ----
# (through sendmail: smtpd would refuse the unknown user at RCPT TO)
printf 'Subject: to nobody\n\nwaits in the queue\n' |
    "$PT_BUILD/sbin/sendmail" -C "$PT_CONF" -f alice@example.test nosuchuser@example.test
pt_check local_sendmail_exit0 [ $? -eq 0 ]
pt_check local_unknown_deferred pt_wait "grep -q 'to=<nosuchuser@example.test>, relay=local, .*dsn=4.1.1, status=deferred (local filter: unknown user: \"nosuchuser\")' '$LOG'" 30
Q_LOCAL=$(qid_of nosuchuser@example.test)
pt_check local_unknown_queued in_queue "$Q_LOCAL"
r=$(pt_smtp_send alice@example.test bob@example.test)
pt_check local_success_text pt_wait "grep -q 'to=<bob@example.test>, relay=local, .*dsn=2.0.0, status=sent (stored safely)' '$LOG'" 30
pt_check local_success_delivered [ "$(ls "$PT_HOMES/bob/Maildir/new" | wc -l)" -eq 1 ]

# ---- pipe: exit 67 (5.1.1) deferred by pipe_delivery_status_filter ----
r=$(pt_smtp_send alice@example.test x@pipe.example)
pt_check pipe_5xx_deferred pt_wait "grep -q 'to=<x@pipe.example>, relay=nouser, .*dsn=4.1.1, status=deferred (pipe filter: user unknown. Command output: no such mailbox here)' '$LOG'" 30
Q_PIPE=$(qid_of x@pipe.example)
pt_check pipe_deferred_queued in_queue "$Q_PIPE"

# ---- virtual: unknown mailbox deferred by virtual_delivery_status_filter ----
printf 'Subject: to nobody\n\nwaits in the queue\n' |
    "$PT_BUILD/sbin/sendmail" -C "$PT_CONF" -f alice@example.test nobody@vdom.test
pt_check virtual_unknown_deferred pt_wait "grep -q 'to=<nobody@vdom.test>, relay=virtual, .*dsn=4.1.1, status=deferred (virtual filter: unknown user: \"nobody@vdom.test\")' '$LOG'" 30
Q_VIRT=$(qid_of nobody@vdom.test)
pt_check virtual_deferred_queued in_queue "$Q_VIRT"

kill "$FAKE_PID" 2>/dev/null
wait "$FAKE_PID" 2>/dev/null
pt_done
