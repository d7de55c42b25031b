#!/bin/bash
# request_deadline_test.sh - smtpd_per_request_deadline, smtpd_min_data_rate
# and the client's smtp_per_request_deadline: with deadlines a peer that
# trickles one byte at a time runs out of time for the whole command (or
# reply), while message content that keeps up with the minimum rate is
# received; without them only a silent gap of the full timeout counts.
# Stress mode turns smtpd's deadline on by default.
. "$(dirname "$0")/lib.sh"
pt_instance
P_DL=$(pt_free_port)       # deadline on, default smtpd_min_data_rate (500)
P_FAST=$(pt_free_port)     # deadline on, 100000 B/s required
P_STRESS=$(pt_free_port)   # stress=yes, nothing else set
P_FAKE=$(pt_free_port)     # the slow SMTP server for the client checks
cat >> "$PT_CONF/main.cf" <<EOM
smtpd_timeout = 1s
smtp_helo_timeout = 1s
transport_maps = inline:{ slow.example=smtp:[127.0.0.1]:$P_FAKE, slowdl.example=slowdl:[127.0.0.1]:$P_FAKE, remote.example=discard: }
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_DL inet n - n - - smtpd
  -o smtpd_per_request_deadline=yes
127.0.0.1:$P_FAST inet n - n - - smtpd
  -o smtpd_per_request_deadline=yes -o smtpd_min_data_rate=100000
127.0.0.1:$P_STRESS inet n - n - - smtpd
  -o stress=yes
slowdl unix - - n - - smtp
  -o smtp_per_request_deadline=yes
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# trickle PORT MODE: MODE "ehlo" sends "EHLO a.example" one byte every 0.1 s
# (1.6 s in all, no gap near smtpd_timeout); "data" and "bdat" send about 5000
# bytes of content in 250-byte pieces every 0.1 s (2 s). Prints what came
# back and how many bytes had gone out when the connection's last reply came.
trickle() {
    python3 - "$@" <<'EOP'
import socket, sys, time
port, mode = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=15)
f = s.makefile("rb")
def reply():
    out = []
    while True:
        l = f.readline().decode()
        if not l:
            return "EOF"
        out.append(l.strip())
        if len(l) < 4 or l[3] != "-":
            return out[-1]
def cmd(c):
    s.sendall(c.encode() + b"\r\n"); return reply()
reply()
def trickle_bytes(data, piece):
    # Sends data piece by piece; stops early when the server has spoken.
    sent = 0
    s.setblocking(False)
    while sent < len(data):
        try:
            got = s.recv(4096)
            s.setblocking(True)
            return sent, got.decode(errors="replace").strip() or "EOF"
        except BlockingIOError:
            pass
        except OSError:
            s.setblocking(True)
            return sent, "EOF"
        try:
            s.send(data[sent:sent + piece])
        except OSError:
            s.setblocking(True)
            return sent, "EOF"
        sent += piece
        time.sleep(0.1)
    s.setblocking(True)
    return sent, None
if mode == "ehlo":
    line = b"EHLO a.example\r\n"
    sent, early = trickle_bytes(line, 1)
    print("sent", sent, "of", len(line))
    print("reply", early if early else reply())
    sys.exit(0)
cmd("EHLO client.example")
cmd("MAIL FROM:<a@example.org>")
cmd("RCPT TO:<r@remote.example>")
body = b"Subject: slow\r\n\r\n" + (b"x" * 78 + b"\r\n") * 62
body = body[:5000 - 5] + b"\r\n.\r\n" if mode == "data" else body[:5000]
if mode == "data":
    print("data", cmd("DATA"))
else:
    s.sendall(b"BDAT %d LAST\r\n" % len(body))
sent, early = trickle_bytes(body, 250)
print("sent", sent, "of", len(body))
print("reply", early if early else reply())
EOP
}

# Without a deadline each 0.1 s wait is far below smtpd_timeout (1 s).
out=$(trickle "$PT_PORT" ehlo)
pt_check per_read_trickle_ok grep -q '^reply 250' <<<"$out"
# With one: the command as a whole must arrive within 1 s.
out=$(trickle "$P_DL" ehlo)
pt_check deadline_trickle_421 grep -q '^reply 421 4.4.2 mail.example.test Error: timeout exceeded' <<<"$out"
pt_check deadline_cut_short [ "$(awk '/^sent/ {print $2}' <<<"$out")" -lt 16 ]
pt_check deadline_logged pt_wait "grep -q 'timeout after CONNECT from localhost\[127.0.0.1\]' '$PT_T/maillog'" 10
# stress=yes makes the deadline the default, as in Postfix.
out=$(trickle "$P_STRESS" ehlo)
pt_check stress_default_deadline grep -q '^reply 421 4.4.2' <<<"$out"

# Content: 2 s in all, longer than smtpd_timeout, but 250 bytes per 0.1 s
# earn 0.5 s at 500 B/s: received. At 100000 B/s they earn 2.5 ms: not.
out=$(trickle "$P_DL" data)
pt_check data_354 grep -q '^data 354' <<<"$out"
pt_check data_min_rate_ok grep -q '^reply 250 2.0.0 Ok: queued' <<<"$out"
out=$(trickle "$P_FAST" data)
pt_check data_too_slow_421 grep -q '^reply 421 4.4.2' <<<"$out"
pt_check data_too_slow_logged pt_wait "grep -q 'timeout after DATA (.* bytes) from' '$PT_T/maillog'" 10
out=$(trickle "$P_DL" bdat)
pt_check bdat_min_rate_ok grep -q "^reply 250 2.0.0 Ok: 4977 bytes queued as" <<<"$out"
out=$(trickle "$P_FAST" bdat)
pt_check bdat_too_slow_421 grep -q '^reply 421 4.4.2' <<<"$out"

# The client side: a server that sends its greeting one byte every 0.2 s
# (2.6 s for "220 x ESMTP", no gap near smtp_helo_timeout, 1 s).
python3 - "$P_FAKE" "$PT_T/fake.log" <<'EOP' &
import socket, sys, threading, time
port, logf = int(sys.argv[1]), sys.argv[2]
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(8)
def serve(c):
    f = c.makefile("rb")
    try:
        for b in b"220 x ESMTP\r\n":
            c.sendall(bytes([b])); time.sleep(0.2)
        while True:
            l = f.readline()
            if not l:
                return
            w = l.strip().upper()
            if w.startswith(b"EHLO") or w.startswith(b"HELO"):
                c.sendall(b"250 slow.example\r\n")
            elif w == b"DATA":
                c.sendall(b"354 go\r\n")
                while f.readline() not in (b".\r\n", b""):
                    pass
                open(logf, "a").write("delivered\n")
                c.sendall(b"250 2.0.0 Ok\r\n")
            elif w == b"QUIT":
                c.sendall(b"221 bye\r\n"); return
            else:
                c.sendall(b"250 ok\r\n")
    except OSError:
        pass
    finally:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOP
FAKE_PID=$!
pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $P_FAKE)).close()' 2>/dev/null" 10
r=$(pt_smtp_send a@example.org x@slow.example)
pt_check client_accepted grep -q '^250' <<<"$r"
pt_check client_per_read_delivered pt_wait "grep -qs delivered '$PT_T/fake.log'" 30
r=$(pt_smtp_send a@example.org y@slowdl.example)
pt_check client_deadline_deferred pt_wait "grep -q 'to=<y@slowdl.example>.*status=deferred (conversation with 127.0.0.1\[127.0.0.1\] timed out while receiving the initial server greeting)' '$PT_T/maillog'" 30
pt_check client_deadline_not_delivered [ "$(grep -c delivered "$PT_T/fake.log")" = 1 ]
kill "$FAKE_PID" 2>/dev/null
wait "$FAKE_PID" 2>/dev/null
pt_done
