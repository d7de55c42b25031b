#!/bin/bash
# privsep_tls_test.sh - the smtp client's verifying TLS levels against a
# forged MX answer: smtp_tls_security_level = secure matches the server
# certificate against the next-hop domain (smtp_tls_secure_cert_match,
# default "nexthop, dot-nexthop"), never against the MX name that DNS handed
# out; verify keeps matching the MX host name (smtp_tls_verify_cert_match =
# hostname). Without smtp_dns_support_level = dnssec, dane is refused loudly
# and runs as opportunistic TLS (as Postfix does); dane-only defers every
# message (never less security than asked for). DANE itself: dane_test.sh.
#
# Like smtp_mx_test.sh the script runs twice (pt_netns_dns in lib.sh): outside (network namespace,
# /etc/netns/NAME and dnsmasq serving the zone; cleaned up on any exit) and
# inside (PT_TLS_INNER=1: the instance, the STARTTLS peers and the checks).
# Skips only when `ip netns add` is not permitted.

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# The zone. secure, verify, dane and daneonly .example: their MX is
# mx.attacker.example, a host with a CA-signed certificate for its own
# name only (what an attacker who forges the MX answer would have).
# good.example: MX mx1.good.example, certificate for that name.
pt_netns_dns PT_TLS_INNER pttls mx.attacker.example 127.0.0.2 \
    --mx-host=secure.example,mx.attacker.example,10 \
    --mx-host=verify.example,mx.attacker.example,10 \
    --mx-host=dane.example,mx.attacker.example,10 \
    --mx-host=daneonly.example,mx.attacker.example,10 \
    --host-record=mx.attacker.example,127.0.0.2 \
    --mx-host=good.example,mx1.good.example,10 \
    --host-record=mx1.good.example,127.0.0.3

# ---- inside the namespace ------------------------------------------------------------

pt_setup_users
pt_instance
T=$PT_T
mkdir -p "$T/dump-attacker" "$T/dump-good"

# A test CA and two server certificates signed by it.
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Postern-Test-CA \
    -keyout "$T/ca.key" -out "$T/ca.pem" >/dev/null 2>&1
mkcert() {  # NAME: $T/NAME.pem and $T/NAME.key, SAN DNS:NAME
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$1" -keyout "$T/$1.key" \
        -out "$T/$1.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:%s\n' "$1" > "$T/$1.ext"
    openssl x509 -req -in "$T/$1.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" -CAcreateserial \
        -days 2 -extfile "$T/$1.ext" -out "$T/$1.pem" >/dev/null 2>&1
}
mkcert mx.attacker.example
mkcert mx1.good.example

# tls_peer ADDR CERT KEY DUMPDIR: a small ESMTP server with STARTTLS on
# ADDR:25 that records each message with "TLS: yes|no".
tls_peer() {
    python3 - "$@" >"$4.log" 2>&1 <<'EOP' &
import os, socket, ssl, sys, threading
addr, cert, key, out = sys.argv[1:5]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER); ctx.load_cert_chain(cert, key)
count = [0]
def serve(conn):
    f = conn.makefile("rb"); tls = False
    def send(s):
        conn.sendall(s.encode() + b"\r\n")
    send("220 peer ESMTP test server")
    while True:
        line = f.readline()
        if not line: return
        verb = line.decode("latin-1").strip().split(" ")[0].upper()
        if verb == "EHLO":
            lines = ["peer", "PIPELINING"] + ([] if tls else ["STARTTLS"])
            for i, l in enumerate(lines):
                send(("250 " if i == len(lines) - 1 else "250-") + l)
        elif verb == "STARTTLS" and not tls:
            send("220 2.0.0 Ready to start TLS")
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError):
                return
            f = conn.makefile("rb"); tls = True
        elif verb == "DATA":
            send("354 go ahead")
            body = b""
            while True:
                l = f.readline()
                if not l or l == b".\r\n": break
                body += l
            count[0] += 1
            with open(os.path.join(out, "msg%d" % count[0]), "wb") as fp:
                fp.write(("TLS: %s\n\n" % ("yes" if tls else "no")).encode()); fp.write(body)
            send("250 2.0.0 Ok: queued as P%d" % count[0])
        elif verb == "QUIT":
            send("221 2.0.0 Bye"); return
        else:
            send("250 2.0.0 Ok")
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, 25)); s.listen(10)
while True:
    c, _ = s.accept()
    threading.Thread(target=lambda c=c: (serve(c), c.close()), daemon=True).start()
EOP
    PT_PIDS+=($!)
}
tls_peer 127.0.0.2 "$T/mx.attacker.example.pem" "$T/mx.attacker.example.key" "$T/dump-attacker"
tls_peer 127.0.0.3 "$T/mx1.good.example.pem" "$T/mx1.good.example.key" "$T/dump-good"

cat > "$PT_CONF/transport" <<EOF
secure.example      secure:
good.example        secure:
verify.example      vrfytls:
dane.example        dane:
daneonly.example    daneonly:
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
smtp_tls_loglevel = 1
smtp_tls_CAfile = $T/ca.pem
EOF
cat >> "$PT_CONF/master.cf" <<EOF
secure    unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=secure
vrfytls   unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=verify
dane      unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=dane
daneonly  unix  -       -       n       -       -       smtp
  -o smtp_tls_security_level=dane-only
EOF
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }
msgs() { ls "$1" 2>/dev/null | grep -c '^msg'; }
# Waits until ADDR:25 greets with 220.
wait_peer() {
    python3 - "$1" <<'EOP'
import socket, sys, time
end = time.time() + 20
while time.time() < end:
    try:
        s = socket.create_connection((sys.argv[1], 25), timeout=2)
        line = s.makefile("rb").readline()
        s.sendall(b"QUIT\r\n"); s.close()
        if line.startswith(b"220"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOP
}
pt_check attacker_peer_listening wait_peer 127.0.0.2
pt_check good_peer_listening wait_peer 127.0.0.3

# --- 1. secure: the MX's certificate names only the MX: deferred, nothing sent ---------
reply=$(pt_smtp_send alice@example.test a@secure.example)
pt_check secure_mismatch_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<a@secure\.example>, .*status=" 30
pt_check secure_mismatch_deferred log_has "to=<a@secure\.example>, relay=mx\.attacker\.example\[127\.0\.0\.2\]:25, .*dsn=4\.7\.5, status=deferred \(Server certificate not verified: name mismatch for next hop\)"
pt_check secure_mismatch_nothing_sent [ "$(msgs "$T/dump-attacker")" = 0 ]
pt_check secure_mismatch_not_sent [ "$(grep -c 'to=<a@secure\.example>, .*status=sent' "$T/maillog")" = 0 ]

# --- 2. secure: the MX's certificate is under the next-hop domain (dot-nexthop) ---------
reply=$(pt_smtp_send alice@example.test b@good.example)
pt_check secure_match_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<b@good\.example>, .*status=" 30
pt_check secure_match_sent log_has "to=<b@good\.example>, relay=mx1\.good\.example\[127\.0\.0\.3\]:25, .*dsn=2\.0\.0, status=sent"
pt_check secure_match_verified log_has "Verified TLS connection established to mx1\.good\.example\[127\.0\.0\.3\]:25"
pt_check secure_match_peer_tls grep -qsx 'TLS: yes' "$T/dump-good/msg1"

# --- 3. verify: matches the MX host name (smtp_tls_verify_cert_match = hostname) ---------
reply=$(pt_smtp_send alice@example.test c@verify.example)
pt_check verify_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<c@verify\.example>, .*status=" 30
pt_check verify_sent_to_mx_name log_has "to=<c@verify\.example>, relay=mx\.attacker\.example\[127\.0\.0\.2\]:25, .*status=sent"

# --- 4. dane without dnssec: refused loudly, opportunistic TLS ---------------------------
reply=$(pt_smtp_send alice@example.test d@dane.example)
pt_check dane_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<d@dane\.example>, .*status=" 30
pt_check dane_warned log_has "warning: smtp_tls_security_level = dane configured with dnssec lookups disabled .*using \"may\""
pt_check dane_sent_as_may log_has "to=<d@dane\.example>, .*status=sent"

# --- 5. dane-only without dnssec: refused loudly, mail deferred, never sent --------------
before=$(msgs "$T/dump-attacker")
reply=$(pt_smtp_send alice@example.test e@daneonly.example)
pt_check daneonly_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<e@daneonly\.example>, .*status=" 30
pt_check daneonly_warned log_has "warning: smtp_tls_security_level = dane-only configured with dnssec lookups disabled .*mail will be deferred"
pt_check daneonly_deferred log_has "to=<e@daneonly\.example>, .*dsn=4\.7\.5, status=deferred \(client TLS configuration problem: dane configured with dnssec lookups disabled\)"
pt_check daneonly_nothing_sent [ "$(msgs "$T/dump-attacker")" = "$before" ]

pt_done
