#!/usr/bin/env bash
# tls_verify_depth_test.sh - smtp_tls_scert_verifydepth and
# smtpd_tls_ccert_verifydepth limit how deep a certificate chain may go
#
# A throw-away root CA signs an intermediate CA, which signs the
# certificates of a STARTTLS peer (tls_peer.py, sending leaf and
# intermediate) and of a client. The server's chain is three levels deep:
# the leaf (0), the intermediate (1), the root (2), the trust anchor.
# Client side: mail to the peer under level "verify" (smtp_tls_policy_maps)
# through three smtp transports: smtp_tls_scert_verifydepth = 1 defers it
# ("certificate chain too long"), 2 and the default (9) deliver it
# "Verified". Server side: a Python client presents its certificate and
# the intermediate to smtpd listeners with smtpd_tls_ask_ccert = yes and
# the root as smtpd_tls_CAfile: with smtpd_tls_ccert_verifydepth = 1 the
# connection is "Untrusted", with 2 "Trusted".
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
T=$PT_T
HERE=$(cd "$(dirname "$0")" && pwd)

# ---- certificates ------------------------------------------------------------------
cd "$T" || exit 1
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Depth-Root -keyout root.key \
    -out root.pem >/dev/null 2>&1
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n' > ca.ext
openssl req -new -newkey rsa:2048 -nodes -subj /CN=Depth-Intermediate -keyout mid.key \
    -out mid.csr >/dev/null 2>&1
openssl x509 -req -in mid.csr -CA root.pem -CAkey root.key -CAcreateserial -days 2 \
    -extfile ca.ext -out mid.pem >/dev/null 2>&1
for n in chain client; do
    openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$n.example" -keyout "$n.key" \
        -out "$n.csr" >/dev/null 2>&1
    printf 'subjectAltName=DNS:%s.example\n' "$n" > "$n.ext"
    openssl x509 -req -in "$n.csr" -CA mid.pem -CAkey mid.key -CAcreateserial -days 2 \
        -extfile "$n.ext" -out "$n.pem" >/dev/null 2>&1
    cat "$n.pem" mid.pem > "$n-chain.pem"
done
chmod 644 ./*.key
cd - >/dev/null || exit 1
pt_check chain_three_levels bash -c "openssl verify -CAfile '$T/root.pem' -untrusted '$T/mid.pem' '$T/chain.pem' | grep -q OK"

# ---- the peer and the instance ----------------------------------------------------------
PEER_PORT=$(pt_free_port); D1_PORT=$(pt_free_port); D2_PORT=$(pt_free_port)
PEERLOG=$T/peer.log
: > "$PEERLOG"
python3 "$HERE/tls_peer.py" "$PEERLOG" "$T/chain-chain.pem" "$T/chain.key" "127.0.0.1:$PEER_PORT" \
    >"$T/peer.err" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp "$PEER_PORT" 20 || pt_fail peer_start "tls_peer.py: $(cat "$T/peer.err")"

printf '[127.0.0.1]:%s verify match=chain.example\n' "$PEER_PORT" > "$PT_CONF/tls_policy"
cat > "$PT_CONF/transport" <<EOF
depth1.example  depth1:[127.0.0.1]:$PEER_PORT
depth2.example  depth2:[127.0.0.1]:$PEER_PORT
depth9.example  smtp:[127.0.0.1]:$PEER_PORT
EOF
cat >> "$PT_CONF/main.cf" <<EOF
smtp_tls_CAfile = $T/root.pem
smtp_tls_loglevel = 1
smtp_tls_policy_maps = texthash:$PT_CONF/tls_policy
transport_maps = texthash:$PT_CONF/transport
smtpd_tls_cert_file = $T/chain-chain.pem
smtpd_tls_key_file = $T/chain.key
smtpd_tls_CAfile = $T/root.pem
smtpd_tls_security_level = may
smtpd_tls_loglevel = 1
EOF
cat >> "$PT_CONF/master.cf" <<EOF
depth1 unix - - n - - smtp
  -o syslog_name=postfix/depth1 -o smtp_tls_scert_verifydepth=1
depth2 unix - - n - - smtp
  -o syslog_name=postfix/depth2 -o smtp_tls_scert_verifydepth=2
127.0.0.1:$D1_PORT inet n - n - - smtpd
  -o syslog_name=postfix/ccd1 -o smtpd_tls_ask_ccert=yes -o smtpd_tls_ccert_verifydepth=1
127.0.0.1:$D2_PORT inet n - n - - smtpd
  -o syslog_name=postfix/ccd2 -o smtpd_tls_ask_ccert=yes -o smtpd_tls_ccert_verifydepth=2
EOF
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }

# ---- client side: smtp_tls_scert_verifydepth ------------------------------------------
for d in 1 2 9; do
    reply=$(pt_smtp_send "d$d@example.test" "u@depth$d.example")
    [ "${reply%% *}" = 250 ] || pt_fail "accept_$d" "smtpd said: $reply"
    wait_log "to=<u@depth$d\\.example>, .*status=" 30
done
pt_check scert_depth1_deferred log_has 'to=<u@depth1\.example>, .*dsn=4\.7\.5, status=deferred \(Server certificate not verified'
pt_check scert_depth1_chain_too_long log_has 'depth1/smtp\[[0-9]+\]: .*to=<u@depth1\.example>.*certificate chain too long'
pt_check scert_depth1_nothing_sent bash -c "! grep -q 'FROM:<d1@' '$PEERLOG'"
pt_check scert_depth2_sent log_has 'to=<u@depth2\.example>, .*status=sent'
pt_check scert_depth2_verified log_has 'depth2/smtp\[[0-9]+\]: Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]'
pt_check scert_default_sent log_has 'to=<u@depth9\.example>, .*status=sent'

# ---- server side: smtpd_tls_ccert_verifydepth -------------------------------------------
ccert() {
    python3 - "$1" "$T/client-chain.pem" "$T/client.key" <<'EOP'
import smtplib, ssl, sys
port, chain, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(chain, key)
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.starttls(context=ctx)
s.ehlo("client.example")
s.quit()
EOP
}
ccert "$D1_PORT" || pt_fail ccert_d1_session "TLS session with the depth-1 smtpd failed"
ccert "$D2_PORT" || pt_fail ccert_d2_session "TLS session with the depth-2 smtpd failed"
wait_log 'ccd2/smtpd\[[0-9]+\]: (Trusted|Untrusted) TLS connection' 10
pt_check ccert_depth1_untrusted log_has 'ccd1/smtpd\[[0-9]+\]: Untrusted TLS connection established from localhost\[127\.0\.0\.1\]'
pt_check ccert_depth2_trusted log_has 'ccd2/smtpd\[[0-9]+\]: Trusted TLS connection established from localhost\[127\.0\.0\.1\]'
pt_check not_reported_unsupported bash -c "! grep -q 'verifydepth is not supported' '$T/maillog'"
pt_done
