#!/bin/bash
# privsep_tls_test.sh - the smtp client's verifying TLS levels against a
# forged MX answer: smtp_tls_security_level = secure matches the server
# certificate against the next-hop domain (smtp_tls_secure_cert_match,
# default "nexthop, dot-nexthop"), never against the MX name that DNS handed
# out; verify keeps matching the MX host name (smtp_tls_verify_cert_match =
# hostname). dane is refused loudly and runs as opportunistic TLS (as Postfix
# does without DNSSEC); dane-only defers every message (never less security
# than asked for).
#
# Like smtp_mx_test.sh the script runs twice: outside (network namespace,
# /etc/netns/NAME and dnsmasq serving the zone; cleaned up on any exit) and
# inside (PT_TLS_INNER=1: the instance, the STARTTLS peers and the checks).
# Skips only when `ip netns add` is not permitted.

HERE=$(cd "$(dirname "$0")" && pwd)
SELF=$HERE/$(basename "$0")

if [ "${PT_TLS_INNER:-}" != 1 ]; then
    set -u
    NS=pttls$$
    DNSPID=
    INNERPID=
    DT=
    if ! err=$(ip netns add "$NS" 2>&1); then
        case $err in
        *"not permitted"* | *"ermission denied"*)
            echo "# skip: ip netns add not permitted: $err"
            exit 0 ;;
        esac
        echo "FAIL netns_add: ip netns add $NS: $err"
        echo "# $(basename "$0"): 0 passed, 1 failed"
        exit 1
    fi
    tls_cleanup() {
        local p n
        if [ -n "$INNERPID" ]; then
            # interrupted: the inner run stops its instance in its EXIT trap
            kill "$INNERPID" 2>/dev/null
            for n in $(seq 100); do
                kill -0 "$INNERPID" 2>/dev/null || break
                sleep 0.1
            done
        fi
        if [ -n "$DNSPID" ]; then
            kill "$DNSPID" 2>/dev/null
            wait "$DNSPID" 2>/dev/null
        fi
        # Anything still running in our namespace was started by this test
        # (an inner run that was interrupted): stop it by PID.
        for p in $(ip netns pids "$NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
        for n in $(seq 50); do
            [ -z "$(ip netns pids "$NS" 2>/dev/null)" ] && break
            sleep 0.1
        done
        for p in $(ip netns pids "$NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
        ip netns del "$NS" 2>/dev/null
        rm -rf "/etc/netns/$NS"
        rmdir /etc/netns 2>/dev/null     # only when no other namespace uses it
        [ -n "$DT" ] && rm -rf "$DT"
    }
    trap tls_cleanup EXIT
    trap 'exit 1' INT TERM HUP

    fail_outer() {
        echo "FAIL $1: $2"
        [ -n "$DT" ] && [ -f "$DT/dnsmasq.err" ] && sed 's/^/    /' "$DT/dnsmasq.err" | tail -20
        echo "# $(basename "$0"): 0 passed, 1 failed"
        exit 1
    }
    command -v dnsmasq >/dev/null || fail_outer dnsmasq_missing "dnsmasq is not installed (Debian dnsmasq-base)"
    # Some sandboxes let a namespace be made but not configured: that is the
    # machine's limit, not Postern's, so say so and skip.
    if ! err=$(ip -n "$NS" link set lo up 2>&1); then
        echo "# skip: network namespaces are not usable here (lo up in $NS: $err)"
        exit 0
    fi
    mkdir -p "/etc/netns/$NS"
    echo 'nameserver 127.0.0.1' > "/etc/netns/$NS/resolv.conf"
    DT=$(mktemp -d /tmp/postern-tlsdns.XXXXXX)

    # The zone. secure, verify, dane and daneonly .example: their MX is
    # mx.attacker.example, a host with a CA-signed certificate for its own
    # name only (what an attacker who forges the MX answer would have).
    # good.example: MX mx1.good.example, certificate for that name.
    ip netns exec "$NS" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
        --listen-address=127.0.0.1 --local=/example/ \
        --mx-host=secure.example,mx.attacker.example,10 \
        --mx-host=verify.example,mx.attacker.example,10 \
        --mx-host=dane.example,mx.attacker.example,10 \
        --mx-host=daneonly.example,mx.attacker.example,10 \
        --host-record=mx.attacker.example,127.0.0.2 \
        --mx-host=good.example,mx1.good.example,10 \
        --host-record=mx1.good.example,127.0.0.3 \
        >"$DT/dnsmasq.err" 2>&1 &
    DNSPID=$!
    # (getent hosts, not ahosts: getaddrinfo's AI_ADDRCONFIG finds no
    # address in a loopback-only namespace and would not even ask)
    ready=
    for n in $(seq 100); do
        if ip netns exec "$NS" getent hosts mx.attacker.example 2>/dev/null | grep -q "^127\.0\.0\.2[[:space:]]"; then
            ready=1
            break
        fi
        kill -0 "$DNSPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$ready" ] || fail_outer dns_ready "dnsmasq in $NS did not answer for mx.attacker.example"

    # In the background so that a signal reaches our trap at once (bash
    # runs traps only between foreground commands).
    PT_TLS_INNER=1 ip netns exec "$NS" bash "$SELF" &
    INNERPID=$!
    wait "$INNERPID"
    rc=$?
    INNERPID=
    exit $rc
fi

# ---- inside the namespace ------------------------------------------------------------
. "$HERE/lib.sh"

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

# --- 3. verify: matches the MX host name (smtp_tls_verify_cert_match = hostname) ----------
reply=$(pt_smtp_send alice@example.test c@verify.example)
pt_check verify_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<c@verify\.example>, .*status=" 30
pt_check verify_sent_to_mx_name log_has "to=<c@verify\.example>, relay=mx\.attacker\.example\[127\.0\.0\.2\]:25, .*status=sent"

# --- 4. dane: refused loudly, opportunistic TLS ----------------------------------------
reply=$(pt_smtp_send alice@example.test d@dane.example)
pt_check dane_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<d@dane\.example>, .*status=" 30
pt_check dane_warned log_has "warning: smtp_tls_security_level = dane: DANE is not supported"
pt_check dane_sent_as_may log_has "to=<d@dane\.example>, .*status=sent"

# --- 5. dane-only: refused loudly, mail deferred, never sent ------------------------------
before=$(msgs "$T/dump-attacker")
reply=$(pt_smtp_send alice@example.test e@daneonly.example)
pt_check daneonly_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<e@daneonly\.example>, .*status=" 30
pt_check daneonly_warned log_has "warning: smtp_tls_security_level = dane-only: this level is not supported"
pt_check daneonly_deferred log_has "to=<e@daneonly\.example>, .*dsn=4\.7\.5, status=deferred \(TLS is required, but smtp_tls_security_level = dane-only is not supported\)"
pt_check daneonly_nothing_sent [ "$(msgs "$T/dump-attacker")" = "$before" ]

pt_done
