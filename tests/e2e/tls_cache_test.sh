#!/bin/bash
# tls_cache_test.sh - tlsmgr: TLS sessions shared between processes
#
# Client side: instance C delivers through two smtp transports that run
# each delivery in a fresh smtp process (-o max_use=1) to a STARTTLS peer
# (tls_peer.py, one process, so it can resume any session it issued). With
# smtp_tls_session_cache_database set, the second message's smtp process
# resumes the session the first one saved in tlsmgr: C logs "TLS
# connection reused" from a different pid and the peer sees
# SSL_session_reused; without the database (the control transport) it
# does a full handshake.
# Server side: instance S offers STARTTLS on two listeners whose smtpd
# processes serve one client each (-o max_use=1). A TLS client (Python's
# ssl, OpenSSL) resumes on its second connection the session (a TLS 1.3
# ticket sealed with tlsmgr's key) that a different smtpd process issued;
# the control listener has tls_session_ticket_cipher and the session cache
# database empty, so nothing outlives the process. A third case does the
# same with TLS 1.2 session IDs through smtpd_tls_session_cache_database.
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes

# ---- the server instance S -----------------------------------------------------------
pt_instance
S=$PT_T; S_PORT=$PT_PORT
P_CTRL=$(pt_free_port); P_SID=$(pt_free_port); P_NOTKT=$(pt_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.test \
    -keyout "$S/key.pem" -out "$S/cert.pem" >/dev/null 2>&1
chmod 644 "$S/key.pem"
cat >> "$PT_CONF/main.cf" <<EOF
smtpd_tls_security_level = may
smtpd_tls_cert_file = $S/cert.pem
smtpd_tls_key_file = $S/key.pem
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_database = btree:\${data_directory}/smtpd_scache
EOF
# Every smtpd process serves one client. The main listener resumes with
# tickets only (its smtpd does not use the session cache), P_SID with the
# session cache only, P_CTRL with neither. (tlsmgr reads main.cf.)
sed -i "s/^127\.0\.0\.1:$S_PORT\( *inet.*\)$/&\n  -o max_use=1 -o smtpd_tls_session_cache_database=/" \
    "$PT_CONF/master.cf"
cat >> "$PT_CONF/master.cf" <<EOF
127.0.0.1:$P_CTRL inet n - n - - smtpd
  -o max_use=1 -o tls_session_ticket_cipher= -o smtpd_tls_session_cache_database=
127.0.0.1:$P_SID inet n - n - - smtpd
  -o max_use=1 -o tls_session_ticket_cipher=
127.0.0.1:$P_NOTKT inet n - n - - smtpd
  -o max_use=1 -o smtpd_tls_session_cache_database= -o tls_ssl_options=no_ticket
EOF
pt_start || { pt_fail server_start "server instance did not start"; pt_done; exit 1; }
pt_wait_smtp "$P_CTRL" 20 || pt_fail listen_ctrl "no banner on $P_CTRL"
pt_wait_smtp "$P_SID" 20 || pt_fail listen_sid "no banner on $P_SID"
pt_wait_smtp "$P_NOTKT" 20 || pt_fail listen_notkt "no banner on $P_NOTKT"

# resume PORT [TLS12]: two STARTTLS sessions from one client; prints
# "first_reused second_reused" (0/1) as the client's OpenSSL saw them.
resume() {
    python3 - "$1" "${2:-}" <<'EOP'
import smtplib, ssl, sys
port, tls12 = int(sys.argv[1]), sys.argv[2] == "tls12"
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
if tls12:
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
out, sess = [], None
for i in range(2):
    s = smtplib.SMTP("127.0.0.1", port, timeout=30)
    s.ehlo("client.example.test")
    s.putcmd("STARTTLS")
    code, _ = s.getreply()
    assert code == 220, code
    s.sock = ctx.wrap_socket(s.sock, session=sess)
    s.file = None
    s.ehlo("client.example.test")   # reads past the TLS 1.3 tickets
    out.append(str(int(s.sock.session_reused)))
    sess = s.sock.session
    s.quit()
print(" ".join(out))
EOP
}
two_pids() { [ -n "$1" ] && [ -n "$2" ] && [ "$1" != "$2" ]; }
slog() { grep -E -- "$1" "$S/maillog" 2>/dev/null; }
# pids of the smtpd processes that logged "TLS connection WHAT from" (in order)
tls_pids() { slog "smtpd\[[0-9]+\]: .*TLS connection $1 from" | sed -E 's/.*smtpd\[([0-9]+)\].*/\1/'; }

# --- 1. TLS 1.3 tickets: a second smtpd process resumes the first one's session -------
r=$(resume "$S_PORT")
pt_check smtpd_ticket_resumed [ "$r" = "0 1" ]
pt_wait 'slog "TLS connection reused from" >/dev/null' 10
est=$(tls_pids established | head -1); reu=$(tls_pids reused | head -1)
pt_check smtpd_reused_logged [ -n "$reu" ]
pt_check smtpd_two_processes two_pids "$est" "$reu"

# --- 2. control: no ticket key, no cache database: nothing outlives a process ---------
r=$(resume "$P_CTRL")
pt_check smtpd_control_not_resumed [ "$r" = "0 0" ]

# --- 2b. tls_ssl_options = NO_TICKET on a listener set up like the first: no tickets,
# so no resumption across processes, in TLS 1.3 or 1.2 ---------------------------------
r=$(resume "$P_NOTKT")
pt_check ssl_options_no_ticket_tls13 [ "$r" = "0 0" ]
r=$(resume "$P_NOTKT" tls12)
pt_check ssl_options_no_ticket_tls12 [ "$r" = "0 0" ]
r=$(resume "$S_PORT" tls12)
pt_check tickets_tls12_resumed [ "$r" = "0 1" ]

# --- 3. TLS 1.2 session IDs through smtpd_tls_session_cache_database -------------------
r=$(resume "$P_SID" tls12)
pt_check smtpd_session_id_resumed [ "$r" = "0 1" ]
r=$(resume "$P_SID")
pt_check smtpd_tls13_stateful_resumed [ "$r" = "0 1" ]

# --- 4. tlsmgr itself: greeting, a seed, limits on what it reads ------------------------
tlsmgr_talk() {   # MODE: seed | longid
    python3 - "$S/spool/private/tlsmgr" "$1" <<'EOP'
import socket, sys
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.settimeout(10)
s.connect(path)
f = s.makefile("rb")
assert f.readline() == b"proto=tlsmgr_v1\n" and f.readline() == b"\n"
if mode == "seed":
    s.sendall(b"request=seed\nsize=16\n\n")
else:
    s.sendall(b"request=lookup\ncache_type=smtp\ncache_id=" + b"x" * 600 + b"\n\n")
reply = {}
while True:
    line = f.readline()
    if line in (b"\n", b""):
        break
    k, _, v = line.decode().rstrip("\n").partition("=")
    reply[k] = v
if mode == "seed":
    sys.exit(0 if reply.get("status") == "0" and len(reply.get("seed", "")) == 32 else 1)
sys.exit(0 if not reply else 1)     # refused: connection closed, no answer
EOP
}
pt_check tlsmgr_seed tlsmgr_talk seed
pt_check tlsmgr_refuses_long_id tlsmgr_talk longid
pt_check tlsmgr_no_trouble bash -c "! grep -E 'tlsmgr.*fatal|problem talking to service private/tlsmgr' '$S/maillog'"

# ---- the STARTTLS peer and the client instance C -------------------------------------
P_PEER=$(pt_free_port)
PEERLOG=$S/peer.log; : > "$PEERLOG"
cat "$S/cert.pem" > "$S/chain.pem"
python3 "$(dirname "$0")/tls_peer.py" "$PEERLOG" "$S/chain.pem" "$S/key.pem" \
    "127.0.0.1:$P_PEER" >"$S/peer.err" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp "$P_PEER" 20 || pt_fail peer_start "tls_peer.py did not answer: $(cat "$S/peer.err")"
: > "$PEERLOG"

pt_instance
C=$PT_T
cat > "$PT_CONF/transport" <<EOF
cached.example   cached:[127.0.0.1]:$P_PEER
plain.example    uncached:[127.0.0.1]:$P_PEER
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
smtp_tls_security_level = may
smtp_tls_loglevel = 1
smtp_tls_session_cache_database = btree:\${data_directory}/smtp_scache
EOF
cat >> "$PT_CONF/master.cf" <<EOF
cached    unix  -       -       n       -       -       smtp
  -o max_use=1
uncached  unix  -       -       n       -       -       smtp
  -o max_use=1 -o smtp_tls_session_cache_database=
EOF
pt_start || { pt_fail client_start "client instance did not start"; pt_done; exit 1; }
clog() { grep -E -- "$1" "$C/maillog" 2>/dev/null; }
send() {
    local reply
    reply=$(pt_smtp_send alice@example.test "$1")
    [ "${reply%% *}" = 250 ] || pt_fail "accept_$1" "smtpd said: $reply"
    pt_wait "clog 'to=<$1>, .*status=sent' >/dev/null" 30 || pt_fail "sent_$1" "not delivered"
}
# pid of the smtp process that logged "TLS connection WHAT to" for the Nth time
smtp_pid() { clog "TLS connection $1 to" | sed -n "${2}p" | sed -E 's/^[^[]*\[([0-9]+)\]: .*/\1/'; }

# --- 5. smtp: a session saved by one smtp process is resumed by the next one -------------
send a@cached.example
send b@cached.example
pt_check smtp_first_full pt_wait 'clog "TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:'"$P_PEER"'" >/dev/null' 5
pt_check smtp_second_reused bash -c "grep -q 'TLS connection reused to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_PEER' '$C/maillog'"
p1=$(smtp_pid established 1); p2=$(smtp_pid reused 1)
pt_check smtp_two_processes two_pids "$p1" "$p2"
pt_check peer_saw_resumption [ "$(grep -c "^127\.0\.0\.1:$P_PEER tls .* reused=1" "$PEERLOG")" = 1 ]

# --- 6. control: without the cache database the next process starts afresh ---------------
n_before=$(grep -c " reused=0" "$PEERLOG")
send c@plain.example
send d@plain.example
pt_check smtp_control_full_handshakes [ "$(grep -c " reused=0" "$PEERLOG")" = $((n_before + 2)) ]
pt_check smtp_control_no_reuse_logged [ "$(clog 'TLS connection reused to' | wc -l)" = 1 ]

pt_done
