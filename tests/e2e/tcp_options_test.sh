#!/bin/bash
# tcp_options_test.sh - known_tcp_ports, smtp_tcp_port, tcp_windowsize and
# lmtp_assume_final seen from outside. A small Python SMTP/LMTP server
# records each connection (its command lines, and the client socket's buffer
# sizes as `ss -tm` shows them); one client transport per variant (master.cf
# -o):
#   known_tcp_ports   a next hop "[127.0.0.1]:pt-fake" and, with "smtp"
#                     remapped, a bare "[127.0.0.1]" reach the fake server;
#                     an inet service named "pt-listen" listens on the
#                     mapped port and moves when the mapping changes
#                     (postfix reload); a malformed entry is a warning
#   smtp_tcp_port     the port of a next hop without one (number or name)
#   tcp_windowsize    the buffers (SO_RCVBUF/SO_SNDBUF, doubled by Linux) of
#                     the smtp client's socket and of a connection accepted
#                     by an smtpd service with -o tcp_windowsize, against
#                     the defaults
#   lmtp_assume_final a NOTIFY=SUCCESS notice for an LMTP server without
#                     DSN says "relayed" (default) or "delivered" (yes); an
#                     SMTP server without DSN: "relayed"; a server with DSN
#                     gets NOTIFY=SUCCESS and no notice comes from us
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
P_FAKE=$(pt_free_port)     # fake SMTP server without DSN
P_LMTP=$(pt_free_port)     # fake LMTP server without DSN
P_LDSN=$(pt_free_port)     # fake LMTP server that announces DSN
P_SVC=$(pt_free_port)      # smtpd service named "pt-listen"
P_SVC2=$(pt_free_port)     # ... after the mapping changes
P_WS=$(pt_free_port)       # smtpd with -o tcp_windowsize=8192
FAKE_LOG=$PT_T/fake.log
cat >> "$PT_CONF/main.cf" <<EOM
known_tcp_ports = lmtp=24, smtp=25, smtps=submissions=465, submission=587, pt-fake = $P_FAKE, pt-listen=$P_SVC, bad-entry
smtp_connection_cache_on_demand = no
lmtp_connection_cache_on_demand = no
local_recipient_maps =
transport_maps = inline:{ named.example=smtp:[127.0.0.1]:pt-fake, remap.example=remap:[127.0.0.1], tport.example=tport:[127.0.0.1], tportname.example=tportname:[127.0.0.1], ws.example=wsclient:[127.0.0.1]:$P_FAKE, plain.example=smtp:[127.0.0.1]:$P_FAKE, lmtpno.example=lmtp:inet:127.0.0.1:$P_LMTP, lmtpyes.example=lmtpfinal:inet:127.0.0.1:$P_LMTP, lmtpdsn.example=lmtpfinal:inet:127.0.0.1:$P_LDSN }
EOM
cat >> "$PT_CONF/master.cf" <<EOM
remap unix - - n - - smtp
  -o known_tcp_ports=smtp=$P_FAKE
tport unix - - n - - smtp
  -o smtp_tcp_port=$P_FAKE
tportname unix - - n - - smtp
  -o smtp_tcp_port=pt-fake
wsclient unix - - n - - smtp
  -o tcp_windowsize=8192
lmtpfinal unix - - n - - lmtp
  -o lmtp_assume_final=yes
pt-listen inet n - n - - smtpd
127.0.0.1:$P_WS inet n - n - - smtpd
  -o tcp_windowsize=8192
EOM

# The fake server: PORT:MODE arguments (smtp, lmtp, lmtpdsn). Each
# connection ends as one log line: "PORT MODE rb=N tb=N: cmd | ... [end]",
# rb/tb being the client socket's buffers when it connected.
cat > "$PT_T/fake.py" <<'EOP'
import re, socket, subprocess, sys, threading, time
logf = sys.argv[1]
lock = threading.Lock()
def skmem(lport, rport):
    # The client's end of the connection: local port rport, peer port lport.
    out = subprocess.run(["ss", "-tmnH", "state", "established",
                          "( sport = :%d and dport = :%d )" % (rport, lport)],
                         capture_output=True, text=True).stdout
    m = re.search(r"rb(\d+),t\d+,tb(\d+)", out)
    return "rb=%s tb=%s" % (m.group(1), m.group(2)) if m else "rb=? tb=?"
def serve(sock, port, mode, peer):
    rec, rcpts = [], 0
    mem = skmem(port, peer[1])
    f = sock.makefile("rb")
    def send(t):
        sock.sendall(t.encode() + b"\r\n")
    try:
        send("220 fake.example " + ("LMTP" if mode.startswith("lmtp") else "ESMTP") + " ready")
        while True:
            l = f.readline()
            if not l:
                rec.append("[eof]")
                return
            l = l.rstrip(b"\r\n").decode(errors="replace")
            rec.append(l)
            w = l.upper()
            if w.startswith("EHLO") or w.startswith("LHLO"):
                kws = ["PIPELINING", "ENHANCEDSTATUSCODES"] + (["DSN"] if mode == "lmtpdsn" else [])
                send("250-fake.example")
                for i, k in enumerate(kws):
                    send(("250 " if i + 1 == len(kws) else "250-") + k)
            elif w.startswith("MAIL FROM"):
                rcpts = 0
                send("250 2.1.0 Ok")
            elif w.startswith("RCPT TO"):
                rcpts += 1
                send("250 2.1.5 Ok")
            elif w == "DATA":
                send("354 go ahead")
                while True:
                    d = f.readline()
                    if not d or d.rstrip(b"\r\n") == b".":
                        break
                for i in range(rcpts if mode.startswith("lmtp") else 1):
                    send("250 2.0.0 Ok: queued here")
            elif w == "QUIT":
                send("221 2.0.0 Bye")
                return
            else:
                send("250 2.0.0 Ok")
    except OSError as e:
        rec.append("[error %s]" % e)
    finally:
        sock.close()
        with lock:
            with open(logf, "a") as out:
                out.write("%d %s %s: %s [end]\n" % (port, mode, mem, " | ".join(rec)))
def listen(port, mode):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    while True:
        s, peer = srv.accept()
        threading.Thread(target=serve, args=(s, port, mode, peer), daemon=True).start()
for arg in sys.argv[2:]:
    p, m = arg.split(":")
    threading.Thread(target=listen, args=(int(p), m), daemon=True).start()
while True:
    time.sleep(3600)
EOP
: > "$FAKE_LOG"
python3 "$PT_T/fake.py" "$FAKE_LOG" "$P_FAKE:smtp" "$P_LMTP:lmtp" "$P_LDSN:lmtpdsn" & PT_PIDS+=($!)
for p in "$P_FAKE" "$P_LMTP" "$P_LDSN"; do
    pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $p)).close()' 2>/dev/null" 10
done
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# conn DOMAIN: the first finished connection that carried a RCPT TO for
# DOMAIN (waits for it).
conn() {
    pt_wait "grep -q '^[0-9]* [a-z]* .*RCPT TO:<[^>]*@$1>.*\[end\]$' '$FAKE_LOG'" 30
    grep -m1 "^[0-9]* [a-z]* .*RCPT TO:<[^>]*@$1>.*\[end\]$" "$FAKE_LOG"
}
# sent DOMAIN: the maillog line of the delivery to u@DOMAIN (waits for it).
sent() {
    pt_wait "grep -q 'to=<u@$1>.*status=sent' '$PT_T/maillog'" 30
    grep -m1 "to=<u@$1>.*status=sent" "$PT_T/maillog"
}
# send_notify TO...: one message from bob@example.test with NOTIFY=SUCCESS
# for every recipient; prints the final reply code.
send_notify() {
    python3 - "$PT_PORT" "$@" <<'EOP'
import smtplib, sys
port, rcpts = int(sys.argv[1]), sys.argv[2:]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
try:
    s.sendmail("bob@example.test", rcpts, "Subject: notify\r\n\r\nhello\r\n", [], ["NOTIFY=SUCCESS"])
    print("250")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code)
except smtplib.SMTPRecipientsRefused as e:
    print(list(e.recipients.values())[0][0])
s.quit()
EOP
}
# actions: "RECIPIENT ACTION" for each per-recipient part of every delivery
# status notice in bob's mailbox.
actions() {
    python3 - "$PT_T/mail/bob" <<'EOP'
import email, mailbox, sys
try:
    box = mailbox.mbox(sys.argv[1], create=False)
except Exception:
    sys.exit(0)
for key in box.keys():
    msg = email.message_from_bytes(box.get_bytes(key))
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in part.get_payload():
            rcpt, action = block.get("Final-Recipient"), block.get("Action")
            if rcpt and action:
                print(rcpt.split(";")[-1].strip(), action.strip())
EOP
}
# smtpd_mem PORT: the buffers of the server's end of a connection to PORT.
smtpd_mem() {
    python3 - "$1" <<'EOP'
import re, socket, subprocess, sys
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
s.makefile("rb").readline()
me = s.getsockname()[1]
out = subprocess.run(["ss", "-tmnH", "state", "established",
                      "( sport = :%d and dport = :%d )" % (port, me)],
                     capture_output=True, text=True).stdout
m = re.search(r"rb(\d+),t\d+,tb(\d+)", out)
print("rb=%s tb=%s" % (m.group(1), m.group(2)) if m else "rb=? tb=?")
s.sendall(b"QUIT\r\n")
s.close()
EOP
}

S=s@example.test
for d in named remap tport tportname ws plain; do
    pt_smtp_send "$S" "u@$d.example" >/dev/null
done

# ---- known_tcp_ports: a next hop's port by name, and "smtp" remapped.
c=$(conn named.example)
pt_check known_port_next_hop grep -q "^$P_FAKE smtp " <<<"$c"
pt_check known_port_relay_number grep -q "relay=127.0.0.1\[127.0.0.1\]:$P_FAKE,.*status=sent" <<<"$(sent named.example)"
c=$(conn remap.example)
pt_check known_port_smtp_remapped grep -q "^$P_FAKE smtp " <<<"$c"
pt_check known_port_smtp_remapped_sent grep -q "relay=127.0.0.1\[127.0.0.1\]:$P_FAKE," <<<"$(sent remap.example)"
pt_check known_port_bad_entry_warned grep -q "warning: known_tcp_ports: in \"bad-entry\": not in \"name = value\" form" "$PT_T/maillog"

# ---- smtp_tcp_port: a number, and a name from known_tcp_ports.
c=$(conn tport.example)
pt_check smtp_tcp_port_number grep -q "^$P_FAKE smtp " <<<"$c"
pt_check smtp_tcp_port_number_sent grep -q "relay=127.0.0.1\[127.0.0.1\]:$P_FAKE," <<<"$(sent tport.example)"
c=$(conn tportname.example)
pt_check smtp_tcp_port_name grep -q "^$P_FAKE smtp " <<<"$c"

# ---- master.cf: "pt-listen inet" listens on the mapped port; after a
# change of the mapping and postfix reload, on the new one only.
pt_check known_port_service_listens pt_wait_smtp "$P_SVC" 20
sed -i "s/pt-listen=$P_SVC/pt-listen=$P_SVC2/" "$PT_CONF/main.cf"
pt_cmd postfix reload >/dev/null 2>&1
pt_check known_port_service_moved pt_wait_smtp "$P_SVC2" 20
pt_check known_port_service_old_closed pt_wait "! python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $P_SVC), timeout=2).close()' 2>/dev/null" 20

# ---- tcp_windowsize: 8192 -> 16384 bytes each way (Linux doubles it).
c=$(conn ws.example)
pt_check windowsize_client_buffers grep -q "^$P_FAKE smtp rb=16384 tb=16384:" <<<"$c"
c=$(conn plain.example)
pt_check windowsize_client_default grep -qE "^$P_FAKE smtp rb=[0-9]+ tb=[0-9]+:" <<<"$c"
pt_check windowsize_client_default_differs bash -c "! grep -q 'rb=16384' <<<'$c'"
m=$(smtpd_mem "$P_WS")
pt_check windowsize_smtpd_buffers [ "$m" = "rb=16384 tb=16384" ]
m=$(smtpd_mem "$PT_PORT")
pt_check windowsize_smtpd_default grep -qE '^rb=[0-9]+ tb=[0-9]+$' <<<"$m"
pt_check windowsize_smtpd_default_differs [ "$m" != "rb=16384 tb=16384" ]

# ---- lmtp_assume_final. The DSN-capable server first: by the time the
# other notices have come, one for it would have come too.
r=$(send_notify u@lmtpdsn.example)
pt_check dsn_server_accepted [ "$r" = 250 ]
c=$(conn lmtpdsn.example)
pt_check dsn_server_gets_notify grep -q "RCPT TO:<u@lmtpdsn.example> NOTIFY=SUCCESS" <<<"$c"
pt_check dsn_server_sent grep -q "status=sent (250 2.0.0 Ok: queued here)" <<<"$(sent lmtpdsn.example)"
r=$(send_notify u@lmtpno.example u@lmtpyes.example u@plain.example)
pt_check notify_accepted [ "$r" = 250 ]
pt_check assume_final_no_sent grep -q "relay=127.0.0.1\[127.0.0.1\]:$P_LMTP,.*status=sent (250 2.0.0 Ok: queued here)" <<<"$(sent lmtpno.example)"
pt_check assume_final_yes_sent grep -q "relay=127.0.0.1\[127.0.0.1\]:$P_LMTP,.*status=sent (250 2.0.0 Ok: queued here)" <<<"$(sent lmtpyes.example)"
pt_check notices_arrive pt_wait "[ \$(actions | wc -l) -ge 3 ]" 30
a=$(actions)
pt_check assume_final_no_relayed grep -qx "u@lmtpno.example relayed" <<<"$a"
pt_check assume_final_yes_delivered grep -qx "u@lmtpyes.example delivered" <<<"$a"
pt_check smtp_no_dsn_relayed grep -qx "u@plain.example relayed" <<<"$a"
pt_check dsn_server_no_notice_here bash -c "! grep -q lmtpdsn <<<'$a'"
pt_check notice_logged grep -qE 'postfix/bounce\[[0-9]+\]: [0-9A-F]+: sender delivery status notification: [0-9A-F]+' "$PT_T/maillog"
pt_done
