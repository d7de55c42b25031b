#!/bin/bash
# smtp_trust_anchor_test.sh - trust anchor files in the SMTP client: the
# tafile= attribute of smtp_tls_policy_maps and smtp_tls_trust_anchor_file
#
# A throw-away PKI made with `openssl ca`: a root, an intermediate signed by
# it, a server certificate (SAN mx.ta.example) signed by the intermediate,
# an expired copy of the intermediate (same key and name), and an unrelated
# CA. Two STARTTLS peers (tls_peer.py, which logs every MAIL command with
# whether TLS was on) present leaf + intermediate and leaf + expired
# intermediate. One Postern client instance routes a test domain per case
# to [127.0.0.1]:PORT (one port each, so each has its own policy entry) with
# smtp_tls_CAfile = the root: the CA would verify every peer, so a deferred
# case shows that trust anchors replace the CAs. Cases: the intermediate as
# anchor at verify and at secure; an unrelated CA as anchor (deferred 4.7.5,
# no MAIL seen by the peer); the server's public key and its own
# certificate as anchors; an expired intermediate as anchor (anchors are not
# subject to expiry); main.cf smtp_tls_trust_anchor_file at the secure level
# with a name that matches and one that does not; an unreadable and a
# missing anchor file (deferred, "client TLS configuration problem", no
# connection at all); and the CA alone, without anchors, as the control.
. "$(dirname "$0")/lib.sh"
HERE=$(cd "$(dirname "$0")" && pwd)

pt_setup_users

# ---- the PKI ---------------------------------------------------------------------------
K=$(mktemp -d /tmp/postern-ta.XXXXXX)
chmod 755 "$K"
mkdir -p "$K/db"
: > "$K/db/index"
echo 1000 > "$K/db/serial"
cat > "$K/ca.cnf" <<EOF
[ca]
default_ca = c
[c]
dir = $K/db
database = $K/db/index
serial = $K/db/serial
new_certs_dir = $K/db
default_md = sha256
policy = p
unique_subject = no
copy_extensions = copy
[p]
commonName = supplied
[v3_ca]
basicConstraints = critical,CA:true
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
[v3_leaf]
basicConstraints = CA:false
subjectAltName = DNS:mx.ta.example
EOF
q() { "$@" >>"$K/openssl.log" 2>&1 || pt_fail pki "openssl failed: $*"; }
q openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj /CN=TA-Test-Root \
    -addext basicConstraints=critical,CA:true -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$K/root.key" -out "$K/root.pem"
q openssl req -new -newkey rsa:2048 -nodes -subj /CN=TA-Test-Intermediate \
    -keyout "$K/inter.key" -out "$K/inter.csr"
q openssl ca -batch -config "$K/ca.cnf" -extensions v3_ca -cert "$K/root.pem" \
    -keyfile "$K/root.key" -days 3 -in "$K/inter.csr" -out "$K/inter.pem" -notext
q openssl ca -batch -config "$K/ca.cnf" -extensions v3_ca -cert "$K/root.pem" \
    -keyfile "$K/root.key" -startdate 20200101000000Z -enddate 20200201000000Z \
    -in "$K/inter.csr" -out "$K/inter-expired.pem" -notext
q openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx.ta.example -keyout "$K/mx.key" \
    -out "$K/mx.csr"
q openssl ca -batch -config "$K/ca.cnf" -extensions v3_leaf -cert "$K/inter.pem" \
    -keyfile "$K/inter.key" -days 3 -in "$K/mx.csr" -out "$K/mx.pem" -notext
q openssl req -x509 -newkey rsa:2048 -nodes -days 3 -subj /CN=Unrelated-CA \
    -keyout "$K/other.key" -out "$K/other.pem"
openssl x509 -in "$K/mx.pem" -noout -pubkey > "$K/mx-pubkey.pem"
cat "$K/mx.pem" "$K/inter.pem" > "$K/chain.pem"
cat "$K/mx.pem" "$K/inter-expired.pem" > "$K/chain-expired.pem"
cp "$K/inter.pem" "$K/unreadable.pem"
chmod 000 "$K/unreadable.pem"
chmod 644 "$K"/*.key
pt_check pki_chain_verifies bash -c "openssl verify -CAfile '$K/root.pem' -untrusted '$K/inter.pem' '$K/mx.pem' >/dev/null 2>&1"
pt_check pki_expired_intermediate_is_expired bash -c "! openssl verify -CAfile '$K/root.pem' -untrusted '$K/inter-expired.pem' '$K/mx.pem' >/dev/null 2>&1"
pt_check pki_pubkey_pem grep -q 'BEGIN PUBLIC KEY' "$K/mx-pubkey.pem"

# ---- the peers ---------------------------------------------------------------------------
P_CA=$(pt_free_port); P_VERIFY=$(pt_free_port); P_SECURE=$(pt_free_port)
P_OTHER=$(pt_free_port); P_PKEY=$(pt_free_port); P_LEAF=$(pt_free_port)
P_MAIN=$(pt_free_port); P_MAINBAD=$(pt_free_port); P_UNREAD=$(pt_free_port)
P_MISSING=$(pt_free_port); P_EXPIRED=$(pt_free_port)
PEERLOG=$K/peer.log
: > "$PEERLOG"
python3 "$HERE/tls_peer.py" "$PEERLOG" "$K/chain.pem" "$K/mx.key" 127.0.0.1:$P_CA \
    127.0.0.1:$P_VERIFY 127.0.0.1:$P_SECURE 127.0.0.1:$P_OTHER 127.0.0.1:$P_PKEY \
    127.0.0.1:$P_LEAF 127.0.0.1:$P_MAIN 127.0.0.1:$P_MAINBAD 127.0.0.1:$P_UNREAD \
    127.0.0.1:$P_MISSING >"$K/peer.err" 2>&1 &
PT_PIDS+=($!)
python3 "$HERE/tls_peer.py" "$PEERLOG" "$K/chain-expired.pem" "$K/mx.key" \
    127.0.0.1:$P_EXPIRED >"$K/peer-expired.err" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp "$P_MISSING" 20 || pt_fail peer_start "tls_peer.py did not answer: $(cat "$K/peer.err")"
pt_wait_smtp "$P_EXPIRED" 20 || pt_fail peer_start_expired "tls_peer.py did not answer: $(cat "$K/peer-expired.err")"
: > "$PEERLOG"

# ---- the client instance -------------------------------------------------------------------
pt_instance
C=$PT_T
cat > "$PT_CONF/transport" <<EOF
ca.example        smtp:[127.0.0.1]:$P_CA
verify.example    smtp:[127.0.0.1]:$P_VERIFY
secure.example    smtp:[127.0.0.1]:$P_SECURE
other.example     smtp:[127.0.0.1]:$P_OTHER
pkey.example      smtp:[127.0.0.1]:$P_PKEY
leaf.example      smtp:[127.0.0.1]:$P_LEAF
expired.example   smtp:[127.0.0.1]:$P_EXPIRED
unread.example    smtp:[127.0.0.1]:$P_UNREAD
missing.example   smtp:[127.0.0.1]:$P_MISSING
main.example      tamain:[127.0.0.1]:$P_MAIN
mainbad.example   tamainbad:[127.0.0.1]:$P_MAINBAD
EOF
cat > "$PT_CONF/tls_policy" <<EOF
[127.0.0.1]:$P_CA        secure match=mx.ta.example
[127.0.0.1]:$P_VERIFY    verify tafile=$K/inter.pem match=mx.ta.example
[127.0.0.1]:$P_SECURE    secure match=mx.ta.example tafile=$K/other.pem tafile=$K/inter.pem
[127.0.0.1]:$P_OTHER     secure tafile=$K/other.pem match=mx.ta.example
[127.0.0.1]:$P_PKEY      verify tafile=$K/mx-pubkey.pem match=mx.ta.example
[127.0.0.1]:$P_LEAF      secure tafile=$K/mx.pem match=mx.ta.example
[127.0.0.1]:$P_EXPIRED   secure tafile=$K/inter-expired.pem match=mx.ta.example
[127.0.0.1]:$P_UNREAD    secure tafile=$K/unreadable.pem match=mx.ta.example
[127.0.0.1]:$P_MISSING   verify tafile=$K/missing.pem match=mx.ta.example
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
smtp_tls_security_level = may
smtp_tls_CAfile = $K/root.pem
smtp_tls_policy_maps = texthash:$PT_CONF/tls_policy
smtp_tls_loglevel = 1
EOF
cat >> "$PT_CONF/master.cf" <<EOF
tamain    unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps= -o smtp_tls_security_level=secure
  -o smtp_tls_trust_anchor_file=$K/other.pem,$K/inter.pem
  -o smtp_tls_secure_cert_match=mx.ta.example
tamainbad unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps= -o smtp_tls_security_level=secure
  -o smtp_tls_trust_anchor_file=$K/inter.pem
  -o smtp_tls_secure_cert_match=wrong.ta.example
EOF
pt_start || { pt_fail client_start "client instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$C/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }
peer_has() { grep -Eq -- "$1" "$PEERLOG"; }

for c in ca verify secure other pkey leaf expired unread missing main mainbad; do
    reply=$(pt_smtp_send alice@example.test "bob@$c.example")
    pt_check "${c}_accepted_by_client" [ "${reply%% *}" = 250 ]
done
for c in ca verify secure other pkey leaf expired unread missing main mainbad; do
    wait_log "to=<bob@$c\.example>.*status=(sent|deferred)" 40 || pt_fail "${c}_outcome" "no status"
done
sent() {  # CASE PORT: delivered over TLS, the peer saw MAIL with TLS on
    pt_check "$1_sent" log_has "to=<bob@$1\.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:$2, .*status=sent"
    pt_check "$1_verified" log_has "Verified TLS connection established to 127\.0\.0\.1\[127\.0\.0\.1\]:$2"
    pt_check "$1_peer_mail_over_tls" peer_has "^127\.0\.0\.1:$2 mail tls=1"
}
deferred() {  # CASE PORT REASON-RE: deferred 4.7.5, the peer saw no MAIL
    pt_check "$1_deferred" log_has "to=<bob@$1\.example>, .*dsn=4\.7\.5, status=deferred \($3"
    pt_check "$1_peer_saw_no_mail" bash -c "! grep -q '^127\.0\.0\.1:$2 mail' '$PEERLOG'"
}

# Control: the root in smtp_tls_CAfile verifies the chain without anchors.
sent ca "$P_CA"
# (a) The intermediate as anchor, at verify and (among others) at secure.
sent verify "$P_VERIFY"
pt_check verify_anchor_depth log_has "127\.0\.0\.1\[127\.0\.0\.1\]:$P_VERIFY: Matched trust anchor at depth 1"
sent secure "$P_SECURE"
# (b) An unrelated CA as anchor: the root in CAfile no longer counts.
deferred other "$P_OTHER" "Server certificate not verified: no trust anchor matches"
pt_check other_handshake_done peer_has "^127\.0\.0\.1:$P_OTHER tls "
# (c) The server's public key (PEM PUBLIC KEY) as anchor.
sent pkey "$P_PKEY"
pt_check pkey_anchor_depth log_has "127\.0\.0\.1\[127\.0\.0\.1\]:$P_PKEY: Matched trust anchor at depth 0"
# The server's own certificate as anchor.
sent leaf "$P_LEAF"
# An expired intermediate as anchor: anchors are not subject to expiry.
sent expired "$P_EXPIRED"
# (d) main.cf smtp_tls_trust_anchor_file (two files) at secure, with a
# secure_cert_match name the certificate has, and one it lacks.
sent main "$P_MAIN"
deferred mainbad "$P_MAINBAD" "Server certificate not verified: name mismatch"
# (e) An anchor file the smtp process cannot read, and one that is not
# there: deferred before any connection, never the CAs instead.
deferred unread "$P_UNREAD" "client TLS configuration problem: cannot open trust anchor file $K/unreadable\.pem: Permission denied"
pt_check unread_no_connection bash -c "! grep -q '^127\.0\.0\.1:$P_UNREAD ' '$PEERLOG'"
deferred missing "$P_MISSING" "client TLS configuration problem: cannot open trust anchor file $K/missing\.pem: No such file"
pt_check missing_no_connection bash -c "! grep -q '^127\.0\.0\.1:$P_MISSING ' '$PEERLOG'"
pt_check unread_warned log_has "warning: cannot open trust anchor file $K/unreadable\.pem"

if [ "$PT_FAILS" -gt 0 ]; then
    echo "--- client maillog"; grep -E 'smtp|warning' "$C/maillog" | tail -60
    echo "--- peer log"; cat "$PEERLOG"
fi
[ -n "${PT_KEEP:-}" ] || rm -rf "$K"
pt_done
