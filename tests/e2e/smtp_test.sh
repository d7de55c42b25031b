#!/bin/bash
# smtp_test.sh - the smtp and lmtp delivery agents against real peers
#
# A Postern instance relays to Postern's smtp-sink (dumping each message to a
# file), to sinks that reject or defer, to a closed port, to an LMTP sink and
# to a small STARTTLS-capable Python server (stdlib ssl, a throw-away
# self-signed certificate). Checks what the peers received (envelope, bytes,
# dot-stuffing, long-line breaking), the log lines, the DSN sent back to the
# sender and what postqueue lists as deferred.
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes
pt_instance
T=$PT_T
SINK=$PT_BUILD/sbin/smtp-sink
P_OK=$(pt_free_port); P_HARD=$(pt_free_port); P_SOFT=$(pt_free_port); P_DEAD=$(pt_free_port)
P_LMTP=$(pt_free_port); P_TLS=$(pt_free_port); P_XF=$(pt_free_port)
mkdir -p "$T/dump-ok" "$T/dump-lmtp" "$T/dump-tls" "$T/dump-xf"

# Peers.
"$SINK" -d "$T/dump-ok/" 127.0.0.1:$P_OK 10 >"$T/sink-ok.log" 2>&1 & PT_PIDS+=($!)
"$SINK" -f RCPT -B "550 5.1.1 <nobody@hard.example>: Recipient address rejected: no such user" \
    127.0.0.1:$P_HARD 10 >"$T/sink-hard.log" 2>&1 & PT_PIDS+=($!)
"$SINK" -r RCPT -b "450 4.2.0 <x@soft.example>: Recipient address rejected: greylisted" \
    127.0.0.1:$P_SOFT 10 >"$T/sink-soft.log" 2>&1 & PT_PIDS+=($!)
"$SINK" -L -d "$T/dump-lmtp/" 127.0.0.1:$P_LMTP 10 >"$T/sink-lmtp.log" 2>&1 & PT_PIDS+=($!)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=tls.example.test \
    -keyout "$T/key.pem" -out "$T/cert.pem" >/dev/null 2>&1
python3 - "$P_TLS" "$T/cert.pem" "$T/key.pem" "$T/dump-tls" >"$T/tls-server.log" 2>&1 <<'EOP' &
# A minimal ESMTP server with STARTTLS and XFORWARD that records each
# transaction: the commands it saw, whether TLS was on, and the message.
import os, socket, ssl, sys, threading
port, cert, key, out = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
count = [0]
def serve(conn):
    f = conn.makefile("rb"); tls = False; log = []
    def send(s):
        conn.sendall(s.encode() + b"\r\n")
    send("220 tls.example.test ESMTP test server")
    while True:
        line = f.readline()
        if not line: return
        cmd = line.decode("latin-1").rstrip("\r\n"); log.append(cmd)
        verb = cmd.split(" ")[0].upper()
        if verb == "EHLO":
            ext = ["PIPELINING", "SIZE 10240000", "DSN", "XFORWARD NAME ADDR PROTO HELO SOURCE"]
            if not tls: ext.append("STARTTLS")
            lines = ["tls.example.test"] + ext
            for i, l in enumerate(lines):
                send(("250 " if i == len(lines) - 1 else "250-") + l)
        elif verb == "STARTTLS" and not tls:
            send("220 2.0.0 Ready to start TLS")
            conn = ctx.wrap_socket(conn, server_side=True); f = conn.makefile("rb"); tls = True
        elif verb == "DATA":
            send("354 End data with <CR><LF>.<CR><LF>")
            body = b""
            while True:
                l = f.readline()
                if not l or l == b".\r\n": break
                body += l
            count[0] += 1
            with open(os.path.join(out, "msg%d" % count[0]), "wb") as fp:
                fp.write(("TLS: %s\n" % ("yes" if tls else "no")).encode())
                fp.write(("\n".join(log) + "\n\n").encode()); fp.write(body)
            send("250 2.0.0 Ok: queued as TLS%d" % count[0])
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

cat > "$PT_CONF/transport" <<EOF
remote.example      smtp:[127.0.0.1]:$P_OK
hard.example        smtp:[127.0.0.1]:$P_HARD
soft.example        smtp:[127.0.0.1]:$P_SOFT
dead.example        smtp:[127.0.0.1]:$P_DEAD
lmtp.example        lmtp:inet:127.0.0.1:$P_LMTP
tls.example         tlsrelay:[127.0.0.1]:$P_TLS
notls.example       tlsrelay:[127.0.0.1]:$P_OK
xforward.example    xfrelay:[127.0.0.1]:$P_TLS
nosuchhost.example  smtp:[nosuchhost.invalid]
fallback.example    smtp:[127.0.0.1]:$P_DEAD, [127.0.0.1]:$P_OK
may.example         mayrelay:[127.0.0.1]:$P_TLS
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
smtp_tls_loglevel = 1
EOF
cat >> "$PT_CONF/master.cf" <<EOF
tlsrelay  unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=encrypt -o smtp_tls_CAfile=$T/cert.pem
xfrelay   unix  -       -       n       -       -       smtp
  -o smtp_send_xforward_command=yes
mayrelay  unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=may
EOF
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# Waits until the maillog has a line matching the extended regexp.
log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }

# --- 1. plain relay: envelope, bytes, dot-stuffing, long lines ----------------------
LONG=$(head -c 2500 /dev/zero | tr '\0' 'x')
PT_BODY=$(printf 'Subject: relay test\r\nFrom: alice@example.test\r\n\r\nfirst line\r\n.leading dot\r\n..two dots\r\n.\r\nafter a lone dot\r\n%s\r\nlast line\r\n' "$LONG")
export PT_BODY
reply=$(pt_smtp_send alice@example.test bob@remote.example carol@remote.example)
unset PT_BODY
pt_check relay_accepted [ "${reply%% *}" = 250 ]
pt_wait '[ "$(ls "$T/dump-ok" | grep -v "^\." | wc -l)" -ge 1 ]' 30
DUMP=$(ls "$T/dump-ok"/* 2>/dev/null | head -1)
pt_check relay_sink_got_message [ -n "$DUMP" ]
DUMP=${DUMP:-/dev/null}
pt_check relay_envelope_sender grep -q 'X-Mail-Args: <alice@example.test>' "$DUMP"
pt_check relay_envelope_rcpt_bob grep -q 'X-Rcpt-Args: <bob@remote.example>' "$DUMP"
pt_check relay_envelope_rcpt_carol grep -q 'X-Rcpt-Args: <carol@remote.example>' "$DUMP"
pt_check relay_one_transaction_two_rcpts [ "$(grep -c '^X-Rcpt-Args:' "$DUMP")" = 2 ]
pt_check relay_leading_dot_kept grep -qx '.leading dot' "$DUMP"
pt_check relay_two_dots_kept grep -qx '..two dots' "$DUMP"
pt_check relay_lone_dot_kept grep -qx '.' "$DUMP"
pt_check relay_after_lone_dot grep -qx 'after a lone dot' "$DUMP"
pt_check relay_last_line grep -qx 'last line' "$DUMP"
# 2500 x's, smtp_line_length_limit 998: 998, then CRLF SPACE + 997, CRLF SPACE + 505
X998=$(head -c 998 /dev/zero | tr '\0' 'x'); X997=${X998:1}; X505=$(head -c 505 /dev/zero | tr '\0' 'x')
pt_check relay_long_line_broken_998 grep -qx "$X998" "$DUMP"
pt_check relay_long_line_continued grep -qx " $X997" "$DUMP"
pt_check relay_long_line_tail grep -qx " $X505" "$DUMP"
pt_check relay_no_overlong_line [ "$(awk 'length($0) > 998' "$DUMP" | wc -l)" = 0 ]
wait_log "to=<bob@remote.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_OK, .*dsn=2\.0\.0, status=sent \(250 " 30
pt_check relay_log_sent log_has "to=<bob@remote.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_OK, delay=[0-9.]+, delays=[0-9./]+, dsn=2\.0\.0, status=sent \(250 "
pt_check relay_log_sent_carol log_has "to=<carol@remote.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_OK, .*status=sent"

# --- 2. 550 from the server: bounced, DSN back to the sender -------------------------
reply=$(pt_smtp_send alice@example.test nobody@hard.example)
pt_check hard_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<nobody@hard.example>, .*status=bounced" 30
pt_check hard_log_bounced log_has "to=<nobody@hard.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_HARD, .*dsn=5\.1\.1, status=bounced \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 550 5\.1\.1 <nobody@hard\.example>: Recipient address rejected: no such user \(in reply to RCPT TO command\)\)"
pt_wait "grep -qs 'no such user' '$T/mail/alice'" 30
pt_check hard_dsn_to_sender grep -q 'no such user' "$T/mail/alice"
pt_check hard_dsn_names_recipient grep -q 'nobody@hard.example' "$T/mail/alice"
pt_check hard_dsn_status grep -qi 'Status: 5\.1\.1' "$T/mail/alice"
# The delivery-status part names the server and quotes its reply (RFC 3464);
# folded header lines are joined before matching.
DSNTEXT=$(awk '/^[ \t]/ { sub(/^[ \t]+/, " "); cur = cur $0; next }
               { if (NR > 1) print cur; cur = $0 } END { print cur }' "$T/mail/alice" 2>/dev/null)
pt_check hard_dsn_remote_mta grep -qx 'Remote-MTA: dns; 127\.0\.0\.1' <<<"$DSNTEXT"
pt_check hard_dsn_diagnostic grep -qx 'Diagnostic-Code: smtp; 550 5\.1\.1 <nobody@hard\.example>: Recipient address rejected: no such user' <<<"$DSNTEXT"
pt_check hard_dsn_no_relay_text_as_mta [ "$(grep -c 'Remote-MTA:.*\[' <<<"$DSNTEXT")" = 0 ]

# --- 3. 450 from the server: deferred and listed by postqueue ------------------------
reply=$(pt_smtp_send alice@example.test x@soft.example)
pt_check soft_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<x@soft.example>, .*status=deferred" 30
pt_check soft_log_deferred log_has "to=<x@soft.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_SOFT, .*dsn=4\.2\.0, status=deferred \(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 450 4\.2\.0 <x@soft\.example>: Recipient address rejected: greylisted \(in reply to RCPT TO command\)\)"
pq=$(pt_cmd postqueue -p 2>&1)
pt_check soft_postqueue_lists_rcpt grep -q 'x@soft.example' <<<"$pq"
pt_check soft_postqueue_reason grep -q 'greylisted' <<<"$pq"

# --- 4. connection refused: deferred with the Postfix-shaped reason -------------------
reply=$(pt_smtp_send alice@example.test y@dead.example)
pt_check dead_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<y@dead.example>, .*status=deferred" 30
pt_check dead_log_reason log_has "to=<y@dead\.example>, relay=none, .*dsn=4\.4\.1, status=deferred \(connect to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_DEAD: Connection refused\)"
pq=$(pt_cmd postqueue -p 2>&1)
pt_check dead_postqueue_reason grep -q "connect to 127.0.0.1\[127.0.0.1\]:$P_DEAD: Connection refused" <<<"$pq"

# --- 5. unknown host: bounced with the name service error -----------------------------
reply=$(pt_smtp_send alice@example.test z@nosuchhost.example)
wait_log "to=<z@nosuchhost.example>, .*status=(bounced|deferred)" 30
pt_check nohost_log_reason log_has "to=<z@nosuchhost\.example>, relay=none, .*status=(bounced|deferred) \(Host or domain name not found\. Name service error for name=nosuchhost\.invalid type=A: Host not found"

# --- 6. LMTP --------------------------------------------------------------------------
reply=$(pt_smtp_send alice@example.test u1@lmtp.example u2@lmtp.example)
pt_check lmtp_accepted [ "${reply%% *}" = 250 ]
pt_wait '[ "$(ls "$T/dump-lmtp" | grep -v "^\." | wc -l)" -ge 1 ]' 30
LD=$(ls "$T/dump-lmtp"/* 2>/dev/null | head -1); LD=${LD:-/dev/null}
pt_check lmtp_sink_rcpts [ "$(grep -c '^X-Rcpt-Args:' "$LD")" = 2 ]
pt_check lmtp_sink_proto grep -q 'X-Client-Proto: LMTP' "$LD"
wait_log "to=<u2@lmtp.example>, .*status=sent" 30
pt_check lmtp_log_sent_u1 log_has "to=<u1@lmtp\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_LMTP, .*status=sent \(250 "
pt_check lmtp_log_sent_u2 log_has "to=<u2@lmtp\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_LMTP, .*status=sent \(250 "

# --- 7. STARTTLS (encrypt level, CA file = the server's self-signed cert) -------------
reply=$(pt_smtp_send alice@example.test t@tls.example)
pt_check tls_accepted [ "${reply%% *}" = 250 ]
pt_wait '[ -f "$T/dump-tls/msg1" ]' 30
pt_check tls_server_saw_tls grep -qx 'TLS: yes' "$T/dump-tls/msg1"
pt_check tls_ehlo_again [ "$(grep -c '^EHLO ' "$T/dump-tls/msg1" 2>/dev/null)" = 2 ]
wait_log "to=<t@tls.example>, .*status=sent" 30
pt_check tls_log_established log_has "Trusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_TLS: TLSv1\.[23] with cipher"
pt_check tls_log_sent log_has "to=<t@tls\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_TLS, .*status=sent \(250 2\.0\.0 Ok: queued as TLS1\)"

# encrypt level against a server without STARTTLS: deferred
reply=$(pt_smtp_send alice@example.test n@notls.example)
wait_log "to=<n@notls.example>, .*status=deferred" 30
pt_check notls_deferred log_has "to=<n@notls\.example>, .*dsn=4\.7\.4, status=deferred \(TLS is required, but was not offered by host 127\.0\.0\.1\[127\.0\.0\.1\]\)"

# --- 8. XFORWARD ----------------------------------------------------------------------
reply=$(pt_smtp_send alice@example.test w@xforward.example)
pt_wait '[ -f "$T/dump-tls/msg2" ]' 30
XF=$T/dump-tls/msg2; [ -f "$XF" ] || XF=/dev/null
pt_check xforward_sent grep -q '^XFORWARD .*ADDR=127\.0\.0\.1' "$XF"
pt_check xforward_helo grep -q '^XFORWARD .*HELO=client\.example\.test' "$XF"
pt_check xforward_source grep -q '^XFORWARD .*SOURCE=REMOTE' "$XF"
pt_check xforward_before_mail [ "$(grep -n '^XFORWARD' "$XF" | tail -1 | cut -d: -f1)" -lt "$(grep -n '^MAIL FROM' "$XF" | cut -d: -f1)" ]

# --- 9. opportunistic TLS without trust anchors: Untrusted, still encrypted --------------
reply=$(pt_smtp_send alice@example.test m@may.example)
pt_wait '[ -f "$T/dump-tls/msg3" ]' 30
pt_check may_server_saw_tls grep -qsx 'TLS: yes' "$T/dump-tls/msg3"
wait_log "to=<m@may.example>, .*status=sent" 30
pt_check may_log_untrusted log_has "Untrusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_TLS: TLSv1\.[23] with cipher"

# --- 10. next-hop list: the first server refuses, the second takes the mail ------------
before=$(ls "$T/dump-ok" | grep -v '^\.' | wc -l)
reply=$(pt_smtp_send alice@example.test f@fallback.example)
wait_log "to=<f@fallback.example>, .*status=" 30
pt_check fallback_sent log_has "to=<f@fallback\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$P_OK, .*status=sent"
pt_check fallback_sink_got_it [ "$(ls "$T/dump-ok" | grep -v '^\.' | wc -l)" -gt "$before" ]

pt_done
