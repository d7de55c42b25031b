#!/bin/bash
# ccert_access_test.sh - restrictions on the TLS client certificate against a
# real instance: permit_tls_clientcerts with relay_clientcerts (certificate
# and public-key fingerprints, a certificate that does not verify, keys in
# lower case), permit_tls_all_clientcerts (verified or not, listed or not),
# check_ccert_access with OK, REJECT, a custom "550 5.7.1 text" and DUNNO
# actions, lookup failures (451 4.3.0), the braced Postfix 3.5 form we
# refuse (451 4.3.5), no certificate and no TLS (DUNNO: relay denied), and
# the warning when no certificate is asked for. Each case is one SMTP
# session: STARTTLS with a client certificate (Python smtplib), then RCPT
# for a relay recipient; 127.0.0.1 is not in mynetworks.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance

# A CA; client and client2 signed by it; client3 signed by it (listed by its
# public key only); rogue self-signed (does not verify).
TLS=$PT_T/tls; mkdir -p "$TLS"
(
    cd "$TLS" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.test \
        -keyout key.pem -out cert.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Test CA" \
        -keyout ca.key -out ca.pem
    for c in client client2 client3; do
        openssl req -newkey rsa:2048 -nodes -subj "/CN=$c.example.test" \
            -keyout $c.key -out $c.csr
        openssl x509 -req -in $c.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
            -out $c.pem
    done
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue.example.test \
        -keyout rogue.key -out rogue.pem
) >/dev/null 2>&1 || { pt_fail certs "openssl could not make certificates"; pt_done; exit 1; }
chmod 600 "$TLS"/*.key "$TLS"/key.pem

# Fingerprints as Postfix writes them (sha256, upper-case hex, colons).
fp() { openssl x509 -in "$TLS/$1.pem" -noout -fingerprint -sha256 | sed 's/^.*=//'; }
pkfp() {
    openssl x509 -in "$TLS/$1.pem" -noout -pubkey | openssl pkey -pubin -outform DER |
        openssl dgst -sha256 -binary | od -An -v -tx1 | tr -d ' \n' | tr a-f A-F |
        sed 's/../&:/g; s/:$//'
}
lower() { tr A-F a-f <<<"$1"; }
FP_CLIENT=$(fp client); FP_CLIENT2=$(fp client2); FP_CLIENT3=$(fp client3); FP_ROGUE=$(fp rogue)
PK_CLIENT3=$(pkfp client3); PK_ROGUE=$(pkfp rogue)
for v in FP_CLIENT FP_CLIENT2 FP_CLIENT3 FP_ROGUE PK_CLIENT3 PK_ROGUE; do
    [[ ${!v} =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] ||
        { pt_fail fingerprints "$v is not a sha256 fingerprint: ${!v}"; pt_done; exit 1; }
done

# relay_clientcerts: client by certificate; rogue by public key, in lower
# case (keys are folded). client2 and client3 are not listed.
cat > "$PT_CONF/relay_clientcerts" <<EOF
$FP_CLIENT client.example.test
$(lower "$PK_ROGUE") rogue, listed by its public key
EOF
# The access table: OK, REJECT, a custom reply; client3's certificate
# fingerprint says DUNNO, its public key OK.
cat > "$PT_CONF/ccert_access" <<EOF
$FP_CLIENT OK
$FP_CLIENT2 REJECT
$PK_ROGUE 550 5.7.1 No relaying for self-signed certificates
$FP_CLIENT3 DUNNO
$PK_CLIENT3 OK
EOF

cat >> "$PT_CONF/main.cf" <<EOM
mynetworks = 192.0.2.0/24
smtpd_tls_security_level = may
smtpd_tls_cert_file = $TLS/cert.pem
smtpd_tls_key_file = $TLS/key.pem
smtpd_tls_ask_ccert = yes
smtpd_tls_CAfile = $TLS/ca.pem
smtpd_tls_loglevel = 1
relay_clientcerts = texthash:$PT_CONF/relay_clientcerts
EOM
P_PERMIT=$(pt_free_port); P_ALL=$(pt_free_port); P_ALLREL=$(pt_free_port)
P_ACCESS=$(pt_free_port); P_ACCFAIL=$(pt_free_port); P_RELFAIL=$(pt_free_port)
P_BRACE=$(pt_free_port); P_NOASK=$(pt_free_port)
P_LHR1=$(pt_free_port); P_LHR2=$(pt_free_port); P_LHR3=$(pt_free_port)
printf '127.0.0.1 pop-before-smtp 1700000000\n' > "$PT_CONF/pop"
RUD=reject_unauth_destination
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_PERMIT inet n - n - - smtpd
  -o smtpd_relay_restrictions=permit_tls_clientcerts,$RUD
127.0.0.1:$P_ALL inet n - n - - smtpd
  -o smtpd_relay_restrictions=permit_tls_all_clientcerts,$RUD
  -o relay_clientcerts=
127.0.0.1:$P_ALLREL inet n - n - - smtpd
  -o smtpd_relay_restrictions=permit_tls_all_clientcerts,$RUD
127.0.0.1:$P_ACCESS inet n - n - - smtpd
  -o smtpd_relay_restrictions=check_ccert_access,texthash:$PT_CONF/ccert_access,$RUD
127.0.0.1:$P_ACCFAIL inet n - n - - smtpd
  -o smtpd_relay_restrictions=check_ccert_access,fail:broken,$RUD
127.0.0.1:$P_RELFAIL inet n - n - - smtpd
  -o smtpd_relay_restrictions=permit_tls_clientcerts,$RUD
  -o relay_clientcerts=fail:broken
127.0.0.1:$P_BRACE inet n - n - - smtpd
  -o smtpd_relay_restrictions=check_ccert_access,{texthash:$PT_CONF/ccert_access,{search_order=cert_fingerprint}},$RUD
127.0.0.1:$P_NOASK inet n - n - - smtpd
  -o smtpd_relay_restrictions=permit_tls_clientcerts,$RUD
  -o smtpd_tls_ask_ccert=no
127.0.0.1:$P_LHR1 inet n - n - - smtpd
  -o local_header_rewrite_clients=permit_tls_clientcerts
127.0.0.1:$P_LHR2 inet n - n - - smtpd
  -o local_header_rewrite_clients=permit_tls_all_clientcerts
127.0.0.1:$P_LHR3 inet n - n - - smtpd
  -o local_header_rewrite_clients=check_address_map,texthash:$PT_CONF/pop
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
for p in $P_PERMIT $P_ALL $P_ALLREL $P_ACCESS $P_ACCFAIL $P_RELFAIL $P_BRACE $P_NOASK \
         $P_LHR1 $P_LHR2 $P_LHR3; do
    pt_wait_smtp "$p" 20 || pt_fail "start_$p" "port $p did not answer"
done

# rcpt PORT CERT|none|plain [RCPT [TAG]]: one session (STARTTLS with the
# client certificate CERT, without one, or no TLS at all); prints the RCPT
# reply. With TAG it sends a message instead: Subject TAG, and a To: header
# with an unqualified address.
rcpt() {
    python3 - "$1" "$TLS" "$2" "${3:-user@remote.example}" "${4:-}" <<'EOP'
import smtplib, ssl, sys
port, tls, cert, rcpt, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5]
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("client.example.test")
if cert != "plain":
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    if cert != "none":
        ctx.load_cert_chain(f"{tls}/{cert}.pem", f"{tls}/{cert}.key")
    s.starttls(context=ctx)
    s.ehlo("client.example.test")
if tag:
    s.sendmail("sender@example.org", [rcpt], f"Subject: {tag}\r\nTo: someone\r\n\r\nbody\r\n")
else:
    s.docmd("MAIL", "FROM:<sender@example.org>")
    code, msg = s.docmd("RCPT", f"TO:<{rcpt}>")
    print(code, msg.decode())
s.quit()
EOP
}
RELAY_DENIED='554 5.7.1 <user@remote.example>: Relay access denied'

# ---- relay_clientcerts is a parameter Postern knows ---------------------------
pt_check relay_clientcerts_supported bash -c "! grep -q 'relay_clientcerts is not supported' '$PT_T/maillog'"

# ---- the fingerprints Postern computes are the ones openssl prints ----------
rcpt "$P_PERMIT" client >/dev/null
pt_check logged_fingerprint_matches_openssl pt_wait \
    "grep -q 'Trusted: subject_CN=client.example.test, issuer=Test CA, fingerprint=$FP_CLIENT, pkey_fingerprint=' $PT_T/maillog" 10

# ---- permit_tls_clientcerts ------------------------------------------------
r=$(rcpt "$P_PERMIT" client)
pt_check permit_listed_cert_250 [ "${r%% *}" = 250 ]
r=$(rcpt "$P_PERMIT" client2)
pt_check permit_unlisted_cert_denied [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_PERMIT" rogue)
pt_check permit_pubkey_entry_unverified_250 [ "${r%% *}" = 250 ]
r=$(rcpt "$P_PERMIT" none)
pt_check permit_no_cert_denied [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_PERMIT" plain)
pt_check permit_no_tls_denied [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_PERMIT" client2 alice@example.test)
pt_check permit_local_rcpt_unaffected [ "${r%% *}" = 250 ]

# ---- permit_tls_all_clientcerts ---------------------------------------------
r=$(rcpt "$P_ALL" client2)
pt_check all_trusted_250 [ "${r%% *}" = 250 ]
r=$(rcpt "$P_ALL" rogue)
pt_check all_untrusted_denied [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_ALL" none)
pt_check all_no_cert_denied [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_ALL" plain)
pt_check all_no_tls_denied [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_ALLREL" rogue)
pt_check all_untrusted_but_listed_250 [ "${r%% *}" = 250 ]

# ---- check_ccert_access -----------------------------------------------------
r=$(rcpt "$P_ACCESS" client)
pt_check access_ok_250 [ "${r%% *}" = 250 ]
r=$(rcpt "$P_ACCESS" client2)
pt_check access_reject_554 \
    [ "$r" = "554 5.7.1 <client2.example.test>: Client certificate rejected: Access denied" ]
r=$(rcpt "$P_ACCESS" rogue)
pt_check access_custom_550 \
    [ "$r" = "550 5.7.1 <rogue.example.test>: Client certificate rejected: No relaying for self-signed certificates" ]
r=$(rcpt "$P_ACCESS" client3)
pt_check access_dunno_then_pubkey_ok [ "${r%% *}" = 250 ]
r=$(rcpt "$P_ACCESS" none)
pt_check access_no_cert_denied [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_ACCESS" plain)
pt_check access_no_tls_denied [ "$r" = "$RELAY_DENIED" ]
pt_check access_reject_logged grep -q \
    'NOQUEUE: reject: RCPT from localhost\[127.0.0.1\]: 554 5.7.1 <client2.example.test>: Client certificate rejected: Access denied; from=<sender@example.org> to=<user@remote.example>' \
    "$PT_T/maillog"

# ---- lookup failures ---------------------------------------------------------
r=$(rcpt "$P_ACCFAIL" client)
pt_check access_lookup_error_451 [ "$r" = "451 4.3.0 <client.example.test>: Temporary lookup failure" ]
r=$(rcpt "$P_ACCFAIL" none)
pt_check access_lookup_error_no_cert_not_looked_up [ "$r" = "$RELAY_DENIED" ]
r=$(rcpt "$P_RELFAIL" client)
pt_check relay_lookup_error_451 [ "$r" = "451 4.3.0 <user@remote.example>: Temporary lookup failure" ]
pt_check relay_lookup_error_logged grep -q \
    "warning: relay_clientcerts: lookup error for fingerprint $FP_CLIENT" "$PT_T/maillog"

# ---- the braced form is refused ----------------------------------------------
r=$(rcpt "$P_BRACE" client)
pt_check brace_form_451_435 [ "$r" = "451 4.3.5 Server configuration error" ]
pt_check brace_form_warned grep -q \
    'warning: check_ccert_access: the "{ type:table, { search_order = ... } }" form is not supported' \
    "$PT_T/maillog"

# ---- no certificate asked for ----------------------------------------------
r=$(rcpt "$P_NOASK" client)
pt_check noask_denied [ "$r" = "$RELAY_DENIED" ]
pt_check noask_warned pt_wait \
    "grep -q 'warning: permit_tls_clientcerts is requested, but \"smtpd_tls_ask_ccert = no\"' $PT_T/maillog" 10

# ---- local_header_rewrite_clients: the certificate words, check_address_map --
# A message with an unqualified To: header; cleanup completes it with
# $myorigin only for a client that counts as local.
send_lhr() { rcpt "$1" "$2" alice@example.test "$3"; }
# the To: line of the message whose Subject is TAG in alice's mailbox
to_of() { awk -v t="Subject: $1" '$0 == t { f = 1 } f && /^To: / { print; exit }' "$PT_T/mail/alice"; }
: > "$PT_T/lhr.out"
send_lhr "$P_LHR1" client lhr-listed
send_lhr "$P_LHR1" client2 lhr-unlisted
send_lhr "$P_LHR2" client lhr-verified
send_lhr "$P_LHR2" rogue lhr-unverified
send_lhr "$P_LHR3" plain lhr-popmap
pt_wait "[ \"\$(grep -c '^Subject: lhr-' $PT_T/mail/alice 2>/dev/null)\" = 5 ]" 30
pt_check lhr_listed_cert_local [ "$(to_of lhr-listed)" = "To: someone@mail.example.test" ]
pt_check lhr_unlisted_cert_not_local [ "$(to_of lhr-unlisted)" = "To: someone" ]
pt_check lhr_verified_cert_local [ "$(to_of lhr-verified)" = "To: someone@mail.example.test" ]
pt_check lhr_unverified_cert_not_local [ "$(to_of lhr-unverified)" = "To: someone" ]
pt_check lhr_address_map_local [ "$(to_of lhr-popmap)" = "To: someone@mail.example.test" ]
pt_done
