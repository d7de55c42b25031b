#!/bin/bash
# verify_data_target_test.sh - address verification probes with
# smtp_address_verify_target = data
#
# A Postern instance relays four test domains to a small Python SMTP peer
# that accepts every recipient at RCPT and decides only at DATA: 554 for
# recipients in datarej.test and rcptonly.test, 451 for datadefer.test,
# 354 for dataok.test. It logs every command, "END-OF-DATA" when a final
# dot arrives and "EOF-IN-DATA" when the connection closes while it waits
# for content. rcptonly.test goes through the ordinary smtp transport
# (target rcpt, the default); the others through a master.cf service with
# -o smtp_address_verify_target=data, as postconf(5) suggests. smtpd on a
# second port has reject_unverified_recipient. Checks: with target rcpt the
# DATA-rejecting server's recipient passes (the probe never sends DATA);
# with target data a 554 to DATA makes the address undeliverable (550 with
# the peer's reason), a 451 leaves it unverified (450), a 354 makes it
# deliverable and the connection is dropped without any content, RSET or
# QUIT; nothing is delivered or queued.
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes
pt_instance
T=$PT_T
P_PEER=$(pt_free_port); P_V=$(pt_free_port)

python3 - "$P_PEER" "$T/peer.log" >"$T/peer.err" 2>&1 <<'EOP' &
# Accepts every RCPT; answers DATA by the first recipient's domain.
import socket, sys, threading
port, logpath = int(sys.argv[1]), sys.argv[2]
lock = threading.Lock()
def note(s):
    with lock, open(logpath, "a") as fp:
        fp.write(s + "\n")
def serve(conn):
    f = conn.makefile("rb")
    def send(s):
        conn.sendall(s.encode() + b"\r\n")
    note("CONNECT")
    send("220 peer.remote.test ESMTP")
    rcpts = []
    while True:
        line = f.readline()
        if not line:
            note("EOF")
            return
        cmd = line.decode("latin-1").rstrip("\r\n")
        note(cmd)
        verb = cmd.split(" ")[0].upper()
        if verb == "EHLO":
            send("250-peer.remote.test"); send("250 PIPELINING")
        elif verb == "MAIL":
            rcpts = []
            send("250 2.1.0 Ok")
        elif verb == "RCPT":
            rcpts.append(cmd.lower())
            send("250 2.1.5 Ok")
        elif verb == "DATA":
            first = rcpts[0] if rcpts else ""
            if "@datarej.test" in first or "@rcptonly.test" in first:
                send("554 5.7.1 <%s>: Recipient address rejected at DATA: no such user"
                     % first[first.find("<") + 1:first.rfind(">")])
            elif "@datadefer.test" in first:
                send("451 4.3.0 try again later")
            else:
                send("354 go ahead")
                while True:
                    l = f.readline()
                    if not l:
                        note("EOF-IN-DATA")
                        return
                    if l == b".\r\n":
                        break
                note("END-OF-DATA")
                send("250 2.0.0 Ok: queued")
        elif verb == "QUIT":
            send("221 2.0.0 Bye"); return
        else:
            send("250 2.0.0 Ok")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(10)
while True:
    c, _ = s.accept()
    threading.Thread(target=lambda c=c: (serve(c), c.close()), daemon=True).start()
EOP
PT_PIDS+=($!)
pt_wait_smtp "$P_PEER" 20 || pt_fail peer_start "the peer did not answer: $(cat "$T/peer.err")"
: > "$T/peer.log"

cat > "$PT_CONF/transport" <<EOF
rcptonly.test   smtp:[127.0.0.1]:$P_PEER
datarej.test    vdata:[127.0.0.1]:$P_PEER
datadefer.test  vdata:[127.0.0.1]:$P_PEER
dataok.test     vdata:[127.0.0.1]:$P_PEER
EOF
pt_cmd postmap "$PT_CONF/transport"
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = hash:$PT_CONF/transport
relay_domains = rcptonly.test, datarej.test, datadefer.test, dataok.test
address_verify_poll_delay = 1s
unverified_recipient_reject_code = 550
EOF
cat >> "$PT_CONF/master.cf" <<EOF
127.0.0.1:$P_V inet n - n - - smtpd
    -o smtpd_recipient_restrictions=reject_unauth_destination,reject_unverified_recipient
    -o address_verify_poll_count=8
vdata     unix  -       -       n       -       -       smtp
    -o smtp_address_verify_target=data
EOF
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
pt_wait_smtp "$P_V" 20 || pt_fail start_v "smtpd on $P_V did not answer"

# rcpt TO: the reply to RCPT TO (code and text) on the verify port.
rcpt() {
    python3 - "$P_V" "$1" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60)
s.ehlo("client.example.test")
s.mail("sender@example.test")
code, msg = s.rcpt(sys.argv[2])
print(code, msg.decode())
s.rset(); s.quit()
EOP
}

# 1. Target rcpt (the default): the server that refuses at DATA is never
# asked, so the address passes.
r=$(rcpt a@rcptonly.test)
pt_check rcpt_target_passes [ "${r%% *}" = 250 ]
pt_check rcpt_target_logged grep -q 'to=<a@rcptonly.test>.*status=deliverable (250 2.1.5 Ok)' "$T/maillog"
pt_check rcpt_target_no_data bash -c "! grep -q '^DATA' '$T/peer.log'"

# 2. Target data, 554 to DATA: undeliverable, with the peer's reason.
r=$(rcpt b@datarej.test)
case $r in
"550 5.1.1 <b@datarej.test>: Recipient address rejected: undeliverable address: host 127.0.0.1[127.0.0.1] said: 554 5.7.1 <b@datarej.test>: Recipient address rejected at DATA: no such user (in reply to DATA command)")
    pt_ok data_reject_550_with_reason ;;
*) pt_fail data_reject_550_with_reason "got: $r" ;;
esac
pt_check data_reject_logged grep -q 'to=<b@datarej.test>.*status=undeliverable' "$T/maillog"

# 3. Target data, 451 to DATA: not verified (the defer code, 450).
r=$(rcpt c@datadefer.test)
pt_check data_defer_450 [ "${r%% *}" = 450 ]
pt_check data_defer_logged grep -q 'to=<c@datadefer.test>.*dsn=4\.3\.0, status=undeliverable (host 127.0.0.1\[127.0.0.1\] said: 451 4.3.0 try again later (in reply to DATA command))' "$T/maillog"

# 4. Target data, 354: deliverable; the connection is dropped while the
# server waits for content (no content, no dot, no RSET, no QUIT).
r=$(rcpt d@dataok.test)
pt_check data_ok_250 [ "${r%% *}" = 250 ]
pt_check data_ok_logged grep -q 'to=<d@dataok.test>.*status=deliverable (354 go ahead)' "$T/maillog"
pt_wait "grep -q '^EOF-IN-DATA' '$T/peer.log'" 20
pt_check data_ok_dropped_in_data bash -c "grep -A1 -i '^RCPT TO:<d@dataok.test>' '$T/peer.log' | grep -q '^DATA' && grep -A1 '^DATA' '$T/peer.log' | grep -q '^EOF-IN-DATA'"
pt_check data_ok_no_content bash -c "! grep -q '^END-OF-DATA' '$T/peer.log'"
pt_check data_probe_sent_data grep -q '^DATA' "$T/peer.log"

# 5. Nothing delivered, queued or bounced.
pt_wait_queue_empty 20
pt_check queue_empty [ "$(pt_queue_count)" -eq 0 ]
pt_check no_bounce bash -c "! grep -q 'sender non-delivery notification' '$T/maillog'"
[ "$PT_FAILS" -eq 0 ] || { echo "--- peer log"; cat "$T/peer.log"; grep -E 'smtp|verify' "$T/maillog" | tail -30; }
pt_done
