#!/bin/bash
# tls_reuse_test.sh - smtp_tls_connection_reuse: TLS through tlsproxy, the
# plaintext side cached in scache and reused by later deliveries
#
# A STARTTLS peer (tls_peer.py, which logs every connection, handshake and
# MAIL with its TLS state) receives from instance C. C's "reuse" transport
# runs one smtp process per delivery (-o max_use=1) and one delivery at a
# time, with smtp_tls_connection_reuse = yes and the peer listed in
# smtp_connection_cache_destinations:
#   1. six messages at level encrypt go over fewer TCP connections and TLS
#      handshakes than messages, every MAIL inside TLS; C logs that it
#      reused the connection;
#   2. the policy becomes verify (the peer's certificate does not name
#      127.0.0.1): the next message is deferred ("hostname mismatch") even
#      though an encrypted connection to the same server is cached - then
#      back at encrypt it goes out on that cached connection;
#   3. (with smtp_tls_session_cache_database: a later fresh handshake
#      through tlsproxy resumes the session saved in tlsmgr)
#      a tlsproxy killed (SIGKILL) while a delivery on a fresh connection
#      waits for the peer's MAIL reply: the mail is deferred, delivered
#      after master restarts tlsproxy, and reaches the peer's DATA exactly
#      once (a cached connection that breaks like this is retried at once
#      on a fresh one instead, as any stale cached connection);
#   4. a tlsproxy service that does not exist: deferred with a clear
#      reason, nothing sent in the clear;
#   5. wrapper mode (TLS from the first byte, port 465 style) with reuse;
#   6. the server role (what postscreen uses): a TLS client's connection
#      handed to tlsproxy with byte 'S' comes out as plaintext both ways.
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes

pt_instance
C=$PT_T
P_PEER=$(pt_free_port); P_WRAP=$(pt_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=peer.example.test \
    -keyout "$C/key.pem" -out "$C/cert.pem" >/dev/null 2>&1
PEERLOG=$C/peer.log; : > "$PEERLOG"
python3 "$(dirname "$0")/tls_peer.py" "$PEERLOG" "$C/cert.pem" "$C/key.pem" \
    "127.0.0.1:$P_PEER" "wrap:127.0.0.1:$P_WRAP" >"$C/peer.err" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp "$P_PEER" 20 || pt_fail peer_start "tls_peer.py did not answer: $(cat "$C/peer.err")"
: > "$PEERLOG"

cat > "$PT_CONF/transport" <<EOF
reuse.example    reuse:[127.0.0.1]:$P_PEER
noproxy.example  noproxy:[127.0.0.1]:$P_PEER
kill.example     killtr:[127.0.0.1]:$P_PEER
wrap.example     wrap:[127.0.0.1]:$P_WRAP
EOF
cat > "$PT_CONF/tls_policy" <<EOF
[127.0.0.1]:$P_PEER encrypt
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
smtp_tls_policy_maps = texthash:$PT_CONF/tls_policy
smtp_tls_security_level = may
smtp_tls_CAfile = $C/cert.pem
smtp_tls_loglevel = 1
smtp_tls_connection_reuse = yes
smtp_connection_cache_destinations = [127.0.0.1]:$P_PEER, [127.0.0.1]:$P_WRAP
smtp_connection_cache_time_limit = 60s
connection_cache_ttl_limit = 60s
smtp_connection_reuse_time_limit = 300s
reuse_destination_concurrency_limit = 1
wrap_destination_concurrency_limit = 1
tlsproxy_tls_cert_file = $C/cert.pem
tlsproxy_tls_key_file = $C/key.pem
smtp_tls_session_cache_database = btree:\${data_directory}/smtp_scache
EOF
# A tlsproxy process that may serve only two sessions must still not end
# while cached sessions live in it.
sed -i 's/^tlsproxy \(.*\)tlsproxy$/&\n  -o max_use=2/' "$PT_CONF/master.cf"
grep -q '^  -o max_use=2' "$PT_CONF/master.cf" || pt_fail master_cf "no tlsproxy line in master.cf"
cat >> "$PT_CONF/master.cf" <<EOF
reuse     unix  -       -       n       -       -       smtp
  -o max_use=1
noproxy   unix  -       -       n       -       -       smtp
  -o max_use=1 -o tlsproxy_service_name=nosuchproxy
killtr    unix  -       -       n       -       -       smtp
  -o max_use=1 -o smtp_connection_cache_destinations= -o smtp_connection_cache_on_demand=no
wrap      unix  -       -       n       -       -       smtp
  -o max_use=1 -o smtp_tls_wrappermode=yes -o smtp_tls_security_level=encrypt
EOF
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
clog() { grep -E -- "$1" "$C/maillog" 2>/dev/null; }
plog() { grep -E -- "$1" "$PEERLOG" 2>/dev/null; }
submit() {
    local reply
    reply=$(pt_smtp_send "$1" "$2")
    [ "${reply%% *}" = 250 ] || pt_fail "accept_$2" "smtpd said: $reply"
}
sent() { clog "to=<$1>, .*status=sent" >/dev/null; }
between() { [ "$1" -ge "$2" ] && [ "$1" -lt "$3" ]; }   # N LOW HIGH: LOW <= N < HIGH

# --- 1. six messages, fewer connections, all encrypted ----------------------------------
for i in 1 2 3 4 5 6; do submit "s$i@example.org" "r$i@reuse.example"; done
pt_check six_delivered pt_wait 'for i in 1 2 3 4 5 6; do sent r$i@reuse.example || exit 1; done' 60
conns=$(plog "^127\.0\.0\.1:$P_PEER connect" | wc -l)
hands=$(plog "^127\.0\.0\.1:$P_PEER tls " | wc -l)
mails=$(plog "^127\.0\.0\.1:$P_PEER mail tls=1 FROM:<s[1-6]@example.org>" | wc -l)
pt_check six_mails_encrypted [ "$mails" = 6 ]
pt_check no_plaintext_mail [ "$(plog ' mail tls=0' | wc -l)" = 0 ]
pt_check fewer_connections between "$conns" 1 6
pt_check fewer_handshakes between "$hands" 1 6
pt_check reuse_logged bash -c "grep -q 'TLS connection reused to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_PEER: TLSv1' '$C/maillog'"
pt_check established_logged bash -c "grep -q 'Trusted TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$P_PEER' '$C/maillog'"

# --- 2. verify against a certificate for another name: deferred, reuse does not help -----
conns_before=$(plog "^127\.0\.0\.1:$P_PEER connect" | wc -l)
echo "[127.0.0.1]:$P_PEER verify match=hostname" > "$PT_CONF/tls_policy"
submit v@example.org v1@reuse.example
pt_check verify_deferred pt_wait "clog 'to=<v1@reuse.example>, .*status=deferred .*Server certificate not verified' >/dev/null" 30
pt_check verify_no_mail_sent [ "$(plog 'FROM:<v@example.org>' | wc -l)" = 0 ]
pt_check verify_new_connection [ "$(plog "^127\.0\.0\.1:$P_PEER connect" | wc -l)" -gt "$conns_before" ]
# Back to encrypt: the retry goes out on the connection cached in step 1.
echo "[127.0.0.1]:$P_PEER encrypt" > "$PT_CONF/tls_policy"
conns_before=$(plog "^127\.0\.0\.1:$P_PEER connect" | wc -l)
pt_cmd postqueue -f
pt_check verify_retry_sent pt_wait 'sent v1@reuse.example' 30
pt_check verify_retry_reused [ "$(plog "^127\.0\.0\.1:$P_PEER connect" | wc -l)" = "$conns_before" ]

# --- 3. tlsproxy killed mid-delivery: deferred, then delivered once ---------------------
master_pid=$(head -1 "$C/spool/pid/master.pid" | tr -d ' ')
tlsproxy_pid() { ps -o pid=,comm= --ppid "$master_pid" | awk '$2 == "tlsproxy" { print $1 }' | head -1; }
data_before=$(plog "^127\.0\.0\.1:$P_PEER data " | wc -l)
submit slow@example.org k1@kill.example
pt_wait "plog 'FROM:<slow@example.org>' >/dev/null" 30 || pt_fail kill_mail_seen "the peer never saw MAIL"
tp=$(tlsproxy_pid)
pt_check tlsproxy_running [ -n "$tp" ]
[ -n "$tp" ] && kill -9 "$tp"
pt_check killed_deferred pt_wait "clog 'to=<k1@kill.example>, .*status=deferred' >/dev/null" 30
pt_cmd postqueue -f
pt_check killed_then_sent pt_wait 'sent k1@kill.example' 40
pt_check killed_data_once [ "$(plog "^127\.0\.0\.1:$P_PEER data " | wc -l)" = $((data_before + 1)) ]
pt_check killed_sent_once [ "$(clog 'to=<k1@kill.example>, .*status=sent' | wc -l)" = 1 ]
# The fresh connection's handshake resumed the session that tlsproxy saved
# in tlsmgr during step 1 (same server and policy).
pt_check tlsmgr_session_resumed [ "$(plog "^127\.0\.0\.1:$P_PEER tls .* reused=1" | wc -l)" -ge 1 ]
tp2=$(tlsproxy_pid)
pt_check tlsproxy_restarted bash -c "[ -n \"$tp2\" ] && [ \"$tp2\" != \"$tp\" ]"

# --- 4. tlsproxy unavailable: deferred with a clear reason, nothing in the clear ----------
submit n@example.org n1@noproxy.example
pt_check unavailable_deferred pt_wait "clog 'to=<n1@noproxy.example>, .*status=deferred .*tlsproxy service unavailable' >/dev/null" 30
pt_check unavailable_no_mail [ "$(plog 'FROM:<n@example.org>' | wc -l)" = 0 ]
pt_check unavailable_nothing_in_clear [ "$(plog 'tls-failed.*(wrong version|WRONG_VERSION|http request)' | wc -l)" = 0 ]

# --- 5. wrapper mode with reuse ---------------------------------------------------------
for i in 1 2 3; do submit "w$i@example.org" "w$i@wrap.example"; done
pt_check wrap_delivered pt_wait 'for i in 1 2 3; do sent w$i@wrap.example || exit 1; done' 60
wconns=$(plog "^wrap:127\.0\.0\.1:$P_WRAP connect" | wc -l)
pt_check wrap_encrypted [ "$(plog "^wrap:127\.0\.0\.1:$P_WRAP mail tls=1" | wc -l)" = 3 ]
pt_check wrap_fewer_connections between "$wconns" 1 3

# --- 6. server role: tlsproxy is the TLS server, the requester sees plaintext -------------
server_role() {
    python3 - "$C/spool/private/tlsproxy" <<'EOP'
import socket, ssl, sys, threading
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(1)
port = lst.getsockname()[1]
result = {}
def client():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    t = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=20))
    t.sendall(b"hello through tlsproxy\n")
    result["got"] = t.recv(100)
    t.close()
th = threading.Thread(target=client)
th.start()
conn, _ = lst.accept()
u = socket.socket(socket.AF_UNIX)
u.settimeout(20)
u.connect(sys.argv[1])
socket.send_fds(u, [b"S"], [conn.fileno()])
conn.close()
u.sendall(b"request=tls_server\npeer=test[127.0.0.1]:%d\ntimeout=10\nask_ccert=0\n\n" % port)
f = u.makefile("rb")
reply = {}
while True:
    line = f.readline()
    if line in (b"\n", b""):
        break
    k, _, v = line.decode().rstrip("\n").partition("=")
    reply[k] = v
assert reply.get("status") == "0", reply
assert reply.get("protocol", "").startswith("TLSv1"), reply
data = f.readline()
assert data == b"hello through tlsproxy\n", data
u.sendall(b"pong\n")
th.join(20)
assert result.get("got") == b"pong\n", result
EOP
}
pt_check server_role_relays server_role

pt_check no_panics bash -c "! grep -E 'tlsproxy.*(fatal|panic)|smtp.*panic' '$C/maillog'"
pt_done
