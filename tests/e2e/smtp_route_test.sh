#!/bin/bash
# smtp_route_test.sh - routing and connection reuse of the SMTP client
#
# A Postern instance sends to small recording SMTP servers on 127.0.0.1 (a
# Python server below: it logs every connection with the client's address,
# every command and the address headers of every message). Checks, as the
# receiving side sees them: sender_dependent_relayhost_maps (one sender's
# mail to sink A, everybody else's to the relayhost, sink B),
# smtp_generic_maps (MAIL FROM, RCPT TO and From:/To: rewritten),
# smtp_fallback_relay (primary refuses connections), smtp_bind_address
# (the peer sees 127.0.0.2), connection reuse through scache (30 messages,
# far fewer connections, every message exactly once; and on demand, when
# qmgr reports a backlog or a steady stream comes back to back, with
# conn_use=N in the delivery line) and a cached
# connection that the peer closed (the mail still goes through, on a new
# connection, after RSET found the old one dead).
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes
pt_instance
T=$PT_T
P_A=$(pt_free_port); P_B=$(pt_free_port); P_GEN=$(pt_free_port); P_FB=$(pt_free_port)
P_DEAD=$(pt_free_port); P_BIND=$(pt_free_port); P_CACHE=$(pt_free_port)
P_DROP=$(pt_free_port); P_DEMAND=$(pt_free_port); P_LMTP=$(pt_free_port)
P_REFUSE=$(pt_free_port); P_HOLD=$(pt_free_port); P_B2B=$(pt_free_port)

# sink PORT LOG [IDLE_DROP_SECONDS [DATA_DELAY [RSET_REFUSED]]]: a recording
# ESMTP server. With an idle limit (0: none) it closes a connection that has
# been idle that long after a message, logging IDLE-CLOSE (like a server's
# own timeout); with a delay it takes that long to accept each message. An
# RSET is logged as "RSET +piped" when MAIL FROM came in the same write;
# with RSET_REFUSED (1) an RSET gets 421 and the connection is closed.
sink() {
    python3 - "$@" <<'EOP' &
import socket, sys, threading
port, logname = int(sys.argv[1]), sys.argv[2]
import time
idle = float(sys.argv[3]) if len(sys.argv) > 3 and float(sys.argv[3]) > 0 else None
delay = float(sys.argv[4]) if len(sys.argv) > 4 else 0
rset_refused = len(sys.argv) > 5 and sys.argv[5] == "1"
lock = threading.Lock()
logf = open(logname, "a", buffering=1)
def log(cid, text):
    with lock:
        logf.write("%d %s\n" % (cid, text))
counter = [0]
def serve(conn, peer):
    with lock:
        counter[0] += 1
        cid = counter[0]
    log(cid, "CONN %s" % peer[0])
    f = conn.makefile("rb")
    def send(s):
        conn.sendall(s.encode() + b"\r\n")
    send("220 sink.example ESMTP recording sink")
    after_msg = False
    while True:
        conn.settimeout(idle if (idle and after_msg) else 60)
        try:
            line = f.readline()
        except (socket.timeout, OSError):
            log(cid, "IDLE-CLOSE")
            conn.close()
            return
        if not line:
            log(cid, "EOF")
            return
        cmd = line.decode("latin-1").rstrip("\r\n")
        verb = cmd.split(" ")[0].upper()
        if verb in ("EHLO", "HELO", "LHLO"):
            log(cid, verb)
            if verb != "HELO":
                send("250-sink.example"); send("250-PIPELINING"); send("250 8BITMIME")
            else:
                send("250 sink.example")
        elif verb == "MAIL":
            log(cid, cmd); send("250 2.1.0 Ok")
        elif verb == "RCPT":
            log(cid, cmd); send("250 2.1.5 Ok")
        elif verb == "DATA":
            send("354 End data with <CR><LF>.<CR><LF>")
            in_hdr = True
            while True:
                l = f.readline()
                if not l or l == b".\r\n":
                    break
                t = l.decode("latin-1").rstrip("\r\n")
                if t == "":
                    in_hdr = False
                if in_hdr and t.split(":")[0].lower() in ("from", "to", "subject", "cc"):
                    log(cid, "HDR " + t)
            log(cid, "DATA-END")
            time.sleep(delay)
            send("250 2.0.0 Ok: queued")
            after_msg = True
        elif verb == "RSET":
            conn.setblocking(False)     # what already came with it, no waiting
            try:
                nxt = f.peek(4) or b""
            except OSError:
                nxt = b""
            log(cid, "RSET +piped" if nxt[:4].upper() == b"MAIL" else "RSET")
            if rset_refused:
                send("421 4.3.2 Service shutting down"); conn.close(); return
            send("250 2.0.0 Ok")
        elif verb == "QUIT":
            log(cid, "QUIT"); send("221 2.0.0 Bye"); conn.close(); return
        else:
            send("250 2.0.0 Ok")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", port)); s.listen(50)
while True:
    c, peer = s.accept()
    threading.Thread(target=lambda c=c, p=peer: serve(c, p), daemon=True).start()
EOP
    PT_PIDS+=($!)
}
sink "$P_A" "$T/sink-a.log"
sink "$P_B" "$T/sink-b.log"
sink "$P_GEN" "$T/sink-gen.log"
sink "$P_FB" "$T/sink-fb.log"
sink "$P_BIND" "$T/sink-bind.log"
sink "$P_CACHE" "$T/sink-cache.log"
sink "$P_DROP" "$T/sink-drop.log" 1
sink "$P_DEMAND" "$T/sink-demand.log" 0 0.3
sink "$P_LMTP" "$T/sink-lmtp.log"
sink "$P_REFUSE" "$T/sink-refuse.log" 0 0 1
sink "$P_HOLD" "$T/sink-hold.log"
sink "$P_B2B" "$T/sink-b2b.log" 0 0.3

cat > "$PT_CONF/transport" <<EOF
gen.example         genrelay:[127.0.0.1]:$P_GEN
fb.example          fbrelay:[127.0.0.1]:$P_DEAD
bind.example        bindrelay:[127.0.0.1]:$P_BIND
cache.example       cacherelay:[127.0.0.1]:$P_CACHE
drop.example        droprelay:[127.0.0.1]:$P_DROP
refuse.example      refuserelay:[127.0.0.1]:$P_REFUSE
held.example        heldrelay:[127.0.0.1]:$P_HOLD
demand.example      smtp:[127.0.0.1]:$P_DEMAND
b2b.example         b2brelay:[127.0.0.1]:$P_B2B
lmtp.example        lmtpgen:inet:127.0.0.1:$P_LMTP
EOF
cat > "$PT_CONF/generic" <<EOF
alice@example.test      alice.public@isp.example
@example.test           @public.example
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
relayhost = [127.0.0.1]:$P_B
sender_dependent_relayhost_maps = inline:{ {special@example.test=[127.0.0.1]:$P_A} }
connection_cache_ttl_limit = 30s
cacherelay_destination_concurrency_limit = 2
smtp_destination_concurrency_limit = 1
lmtpgen_destination_concurrency_limit = 1
EOF
cat >> "$PT_CONF/master.cf" <<EOF
genrelay  unix  -       -       n       -       -       smtp
  -o smtp_generic_maps=texthash:$PT_CONF/generic
fbrelay   unix  -       -       n       -       -       smtp
  -o smtp_fallback_relay=[127.0.0.1]:$P_FB
bindrelay unix  -       -       n       -       -       smtp
  -o smtp_bind_address=127.0.0.2
cacherelay unix -       -       n       -       -       smtp
  -o smtp_connection_cache_destinations=[127.0.0.1]:$P_CACHE
lmtpgen   unix  -       -       n       -       -       lmtp
  -o lmtp_generic_maps=texthash:$PT_CONF/generic
  -o lmtp_connection_cache_destinations=inet:127.0.0.1:$P_LMTP
droprelay unix  -       -       n       -       -       smtp
  -o smtp_connection_cache_destinations=inline:{[127.0.0.1]:$P_DROP=yes}
  -o smtp_connection_cache_time_limit=30s
refuserelay unix -      -       n       -       -       smtp
  -o smtp_connection_cache_destinations=[127.0.0.1]:$P_REFUSE
b2brelay  unix  -       -       n       -       -       smtp
heldrelay unix  -       -       n       -       1       smtp
  -o smtp_connection_cache_destinations=[127.0.0.1]:$P_HOLD
  -o connection_cache_service_name=no-such-scache
EOF
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
# count FILE REGEXP: lines matching in a sink log
count() { grep -Ec -- "$2" "$1" 2>/dev/null || true; }
# send_batch N RCPT WORD: N messages from alice in one SMTP session, with
# subjects "WORD 0" .. "WORD N-1".
send_batch() {
    python3 - "$PT_PORT" "$@" <<'EOP'
import smtplib, sys
port, n, rcpt, word = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
for i in range(n):
    s.sendmail("alice@example.test", [rcpt], "Subject: %s %d\r\n\r\nmessage %d\r\n" % (word, i, i))
s.quit()
EOP
}

# --- 1. sender_dependent_relayhost_maps ---------------------------------------------
r1=$(pt_smtp_send special@example.test joe@far.example)
r2=$(pt_smtp_send other@example.test joe@far.example)
pt_check sdrm_accepted [ "${r1%% *} ${r2%% *}" = "250 250" ]
pt_wait '[ "$(count "$T/sink-a.log" DATA-END)" -ge 1 ] && [ "$(count "$T/sink-b.log" DATA-END)" -ge 1 ]' 30
pt_check sdrm_special_sender_to_sink_a grep -q 'MAIL FROM:<special@example.test>' "$T/sink-a.log"
pt_check sdrm_other_sender_to_relayhost grep -q 'MAIL FROM:<other@example.test>' "$T/sink-b.log"
pt_check sdrm_sink_a_only_special [ "$(count "$T/sink-a.log" 'MAIL ')" = 1 ]
pt_check sdrm_sink_b_only_other [ "$(count "$T/sink-b.log" 'MAIL FROM:<special@')" = 0 ]

# --- 2. smtp_generic_maps: envelope and headers ---------------------------------------
export PT_BODY=$'From: Alice Example <alice@example.test>\r\nTo: bob@gen.example, carol <carol@example.test>\r\nSubject: generic test\r\n\r\nbody\r\n'
r=$(pt_smtp_send alice@example.test bob@gen.example)
unset PT_BODY
pt_check generic_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(count "$T/sink-gen.log" DATA-END)" -ge 1 ]' 30
pt_check generic_mail_from_rewritten grep -q 'MAIL FROM:<alice.public@isp.example>' "$T/sink-gen.log"
pt_check generic_rcpt_untouched grep -q 'RCPT TO:<bob@gen.example>' "$T/sink-gen.log"
pt_check generic_from_header_rewritten grep -q 'HDR From: Alice Example <alice.public@isp.example>' "$T/sink-gen.log"
pt_check generic_to_header_domain_form grep -q 'HDR To: bob@gen.example, carol <carol@public.example>' "$T/sink-gen.log"
pt_check generic_subject_untouched grep -q 'HDR Subject: generic test' "$T/sink-gen.log"

# --- 3. smtp_fallback_relay: primary refuses connections -----------------------------
r=$(pt_smtp_send alice@example.test joe@fb.example)
pt_check fallback_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(count "$T/sink-fb.log" DATA-END)" -ge 1 ]' 30
pt_check fallback_got_mail grep -q 'RCPT TO:<joe@fb.example>' "$T/sink-fb.log"
pt_wait "log_has 'to=<joe@fb.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_FB, .*status=sent'" 10
pt_check fallback_logged_sent log_has "to=<joe@fb.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_FB, .*status=sent"
pt_check fallback_primary_refused_logged log_has "connect to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_DEAD: Connection refused"

# --- 4. smtp_bind_address --------------------------------------------------------------
r=$(pt_smtp_send alice@example.test joe@bind.example)
pt_check bind_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(count "$T/sink-bind.log" DATA-END)" -ge 1 ]' 30
pt_check bind_peer_is_127_0_0_2 grep -q 'CONN 127.0.0.2$' "$T/sink-bind.log"
pt_check bind_no_other_source [ "$(count "$T/sink-bind.log" 'CONN ')" = "$(count "$T/sink-bind.log" 'CONN 127.0.0.2$')" ]

# --- 5. connection reuse: 30 messages, few connections, each exactly once -----------
send_batch 30 joe@cache.example cached
pt_wait '[ "$(count "$T/sink-cache.log" DATA-END)" -ge 30 ]' 60
pt_wait_queue_empty 30
NCONN=$(count "$T/sink-cache.log" 'CONN ')
NMSG=$(count "$T/sink-cache.log" DATA-END)
NUNIQ=$(grep -o 'HDR Subject: cached [0-9]*' "$T/sink-cache.log" | sort -u | wc -l)
echo "# connection reuse: $NMSG messages over $NCONN connections"
pt_check cache_all_30_delivered [ "$NUNIQ" = 30 ]
pt_check cache_each_exactly_once [ "$NMSG" = 30 ]
pt_check cache_far_fewer_connections [ "$NCONN" -le 10 ]
pt_check cache_rset_before_reuse [ "$(count "$T/sink-cache.log" ' RSET')" -ge 1 ]
# The server pipelines: RSET travels with MAIL FROM (no round trip of its own).
pt_check cache_rset_pipelined [ "$(count "$T/sink-cache.log" ' RSET \+piped$')" -ge 1 ]
pt_check cache_queue_empty [ "$(pt_queue_count)" = 0 ]

# --- 6. a cached connection the peer closed: mail still delivered -----------------------
PT_BODY=$'Subject: drop one\r\n\r\none\r\n' pt_smtp_send alice@example.test joe@drop.example >/dev/null
pt_wait '[ "$(count "$T/sink-drop.log" DATA-END)" -ge 1 ]' 30
# The sink closes the idle connection after 1s; the client kept it cached.
pt_wait '[ "$(count "$T/sink-drop.log" IDLE-CLOSE)" -ge 1 ]' 20
pt_check drop_peer_closed_idle_connection [ "$(count "$T/sink-drop.log" IDLE-CLOSE)" -ge 1 ]
PT_BODY=$'Subject: drop two\r\n\r\ntwo\r\n' pt_smtp_send alice@example.test joe@drop.example >/dev/null
pt_wait '[ "$(count "$T/sink-drop.log" DATA-END)" -ge 2 ]' 30
pt_check drop_second_message_delivered grep -q 'HDR Subject: drop two' "$T/sink-drop.log"
pt_check drop_new_connection_made [ "$(count "$T/sink-drop.log" 'CONN ')" = 2 ]
pt_check drop_stale_connection_noticed log_has "cached connection to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_DROP is no longer usable"
pt_wait_queue_empty 30
pt_check drop_nothing_deferred [ "$(pt_queue_count)" = 0 ]
pt_check drop_no_deferral_logged [ "$(grep -c 'to=<joe@drop.example>.*status=deferred' "$T/maillog")" = 0 ]

# --- 6b. a cached connection whose pipelined RSET is refused -----------------------
# The 421 comes before the replies to MAIL/RCPT/DATA: nothing may be reported
# from them; the message goes out at once on a fresh connection.
PT_BODY=$'Subject: refuse one\r\n\r\none\r\n' pt_smtp_send alice@example.test joe@refuse.example >/dev/null
pt_wait '[ "$(count "$T/sink-refuse.log" DATA-END)" -ge 1 ]' 30
pt_wait_queue_empty 30
PT_BODY=$'Subject: refuse two\r\n\r\ntwo\r\n' pt_smtp_send alice@example.test joe@refuse.example >/dev/null
pt_wait '[ "$(count "$T/sink-refuse.log" DATA-END)" -ge 2 ]' 30
pt_wait_queue_empty 30
pt_check refuse_rset_was_pipelined [ "$(count "$T/sink-refuse.log" ' RSET \+piped$')" = 1 ]
pt_check refuse_each_once [ "$(grep -c 'HDR Subject: refuse' "$T/sink-refuse.log")" = 2 ]
pt_check refuse_second_on_new_connection [ "$(count "$T/sink-refuse.log" 'CONN ')" = 2 ]
pt_check refuse_stale_noticed log_has "cached connection to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_REFUSE is no longer usable \(421 4\.3\.2 Service shutting down\)"
pt_check refuse_no_deferral [ "$(grep -c 'to=<joe@refuse.example>.*status=deferred' "$T/maillog")" = 0 ]
pt_check refuse_both_sent [ "$(grep -c 'to=<joe@refuse.example>.*status=sent' "$T/maillog")" = 2 ]

# --- 6c. the connection an smtp process keeps for its next delivery ---------------
# One smtp process (maxproc 1) and no scache at all (its service name points
# nowhere): six messages in one SMTP session reach the sink over one
# connection, each delivery taking back the connection the previous one
# left with the process (a new connection per message without that).
send_batch 6 joe@held.example held
pt_wait '[ "$(count "$T/sink-hold.log" DATA-END)" -ge 6 ]' 60
pt_wait_queue_empty 30
pt_check held_all_six [ "$(grep -o 'HDR Subject: held [0-9]*' "$T/sink-hold.log" | sort -u | wc -l)" = 6 ]
pt_check held_each_once [ "$(count "$T/sink-hold.log" DATA-END)" = 6 ]
pt_check held_one_connection [ "$(count "$T/sink-hold.log" 'CONN ')" = 1 ]
pt_check held_reused_with_rset [ "$(count "$T/sink-hold.log" ' RSET')" = 5 ]
# Idle past the hold (0.1 s), the process hands the connection to the cache
# service; with none there, it is closed, and the next message gets a new one.
sleep 1
PT_BODY=$'Subject: held later\r\n\r\nlater\r\n' pt_smtp_send alice@example.test joe@held.example >/dev/null
pt_wait '[ "$(count "$T/sink-hold.log" DATA-END)" -ge 7 ]' 30
pt_check held_idle_connection_let_go [ "$(count "$T/sink-hold.log" 'CONN ')" = 2 ]

# --- 7. on demand: qmgr marks a backlog, the plain smtp service reuses -------------
# The sink takes 0.3s per message and one delivery runs at a time, so the
# 12 messages queue up behind each other; only the default
# smtp_connection_cache_on_demand = yes is in force.
send_batch 12 joe@demand.example demand
pt_wait '[ "$(count "$T/sink-demand.log" DATA-END)" -ge 12 ]' 60
pt_wait_queue_empty 30
NCONN=$(count "$T/sink-demand.log" 'CONN ')
NUNIQ=$(grep -o 'HDR Subject: demand [0-9]*' "$T/sink-demand.log" | sort -u | wc -l)
echo "# on demand: $(count "$T/sink-demand.log" DATA-END) messages over $NCONN connections"
pt_check demand_all_12_delivered [ "$NUNIQ" = 12 ]
pt_check demand_each_exactly_once [ "$(count "$T/sink-demand.log" DATA-END)" = 12 ]
pt_check demand_fewer_connections [ "$NCONN" -le 6 ]

# --- 7b. on demand without a backlog: a steady stream comes back to back -------------
# One message every 0.1 s; the sink takes 0.3 s for each, so about three
# deliveries are in flight and none ever waits (the transport's concurrency
# limit is 20). Like Postfix, qmgr marks the next hop once a delivery to it
# has finished less than a second before the next starts, and the agents
# then reuse connections (a new one per message without that). A reused
# connection shows in the delivery line as conn_use=N, as in Postfix.
python3 - "$PT_PORT" <<'EOP'
import smtplib, sys, time
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
for i in range(30):
    s.sendmail("alice@example.test", ["joe@b2b.example"], "Subject: b2b %d\r\n\r\nmessage %d\r\n" % (i, i))
    time.sleep(0.1)
s.quit()
EOP
pt_wait '[ "$(count "$T/sink-b2b.log" DATA-END)" -ge 30 ]' 60
pt_wait_queue_empty 30
NCONN=$(count "$T/sink-b2b.log" 'CONN ')
echo "# back to back: $(count "$T/sink-b2b.log" DATA-END) messages over $NCONN connections"
pt_check b2b_each_exactly_once [ "$(grep -o 'HDR Subject: b2b [0-9]*' "$T/sink-b2b.log" | sort -u | wc -l)" = 30 ]
pt_check b2b_delivered_30 [ "$(count "$T/sink-b2b.log" DATA-END)" = 30 ]
pt_check b2b_connections_reused [ "$NCONN" -le 15 ]
pt_check b2b_conn_use_logged log_has "to=<joe@b2b\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_B2B, conn_use=[2-9][0-9]*, delay=.*status=sent"
# The first delivery was on a new connection: no conn_use on it.
pt_check b2b_first_without_conn_use log_has "to=<joe@b2b\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_B2B, delay=.*status=sent"

# --- 8. the lmtp_ twins: lmtp_generic_maps and lmtp_connection_cache_destinations ---
send_batch 6 joe@lmtp.example lmtp
pt_wait '[ "$(count "$T/sink-lmtp.log" DATA-END)" -ge 6 ]' 60
pt_wait_queue_empty 30
echo "# lmtp: $(count "$T/sink-lmtp.log" DATA-END) messages over $(count "$T/sink-lmtp.log" 'CONN ') connections"
pt_check lmtp_spoke_lhlo grep -q ' LHLO$' "$T/sink-lmtp.log"
pt_check lmtp_generic_sender [ "$(count "$T/sink-lmtp.log" 'MAIL FROM:<alice.public@isp.example>')" = 6 ]
pt_check lmtp_each_exactly_once [ "$(grep -o 'HDR Subject: lmtp [0-9]*' "$T/sink-lmtp.log" | sort -u | wc -l)" = 6 ]
pt_check lmtp_connections_reused [ "$(count "$T/sink-lmtp.log" 'CONN ')" -le 2 ]

pt_done
