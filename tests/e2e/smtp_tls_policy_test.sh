#!/bin/bash
# smtp_tls_policy_test.sh - smtp_tls_policy_maps and smtp_tls_wrappermode
#
# Two Postern instances. The server instance S has a certificate from a
# throw-away test CA (SAN mx.good.example) and offers STARTTLS on three
# smtpd listeners plus an smtps listener (-o smtpd_tls_wrappermode=yes); it
# delivers to bob's Maildir with smtpd_tls_received_header = yes, so the
# Received header shows whether a message came over TLS. The client
# instance C routes test domains with transport_maps to [127.0.0.1]:PORT
# (one port per case, so each case has its own policy key) with
# smtp_tls_security_level = may and smtp_tls_policy_maps = texthash:FILE.
# A plaintext peer (Postern's smtp-sink) stands for a server without
# STARTTLS. The fingerprint level is tried against S with the digests of
# its certificate and public key (from the openssl command), in the policy
# table and in main.cf / -o. A Python STARTTLS peer records the SNI name
# each session sent (smtp_tls_servername, servername=).
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes

# ---- the server instance -----------------------------------------------------------
pt_instance
S=$PT_T; S_PORT=$PT_PORT
P_VERIFY=$(pt_free_port); P_NONE=$(pt_free_port); P_WRAP=$(pt_free_port)
P_FP=$(pt_free_port); P_FPBAD=$(pt_free_port); P_FPSPKI=$(pt_free_port); P_FPDFLT=$(pt_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Postern-Test-CA \
    -keyout "$S/ca.key" -out "$S/ca.pem" >/dev/null 2>&1
openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx.good.example -keyout "$S/mx.key" \
    -out "$S/mx.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:mx.good.example\n' > "$S/mx.ext"
openssl x509 -req -in "$S/mx.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial -days 2 \
    -extfile "$S/mx.ext" -out "$S/mx.pem" >/dev/null 2>&1
chmod 644 "$S/mx.key"
# Client certificates from the same CA: RSA (smtp_tls_cert_file, and a
# key+chain file for smtp_tls_chain_files) and ECDSA (smtp_tls_eccert_file).
P_CCERT=$(pt_free_port)
for kind in rsa ec; do
    if [ $kind = rsa ]; then newkey=(-newkey rsa:2048); else newkey=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1); fi
    openssl req -new "${newkey[@]}" -nodes -subj "/CN=client-$kind.example" \
        -keyout "$S/client-$kind.key" -out "$S/client-$kind.csr" >/dev/null 2>&1
    openssl x509 -req -in "$S/client-$kind.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" \
        -CAcreateserial -days 2 -out "$S/client-$kind.pem" >/dev/null 2>&1
done
cat "$S/client-rsa.key" "$S/client-rsa.pem" "$S/ca.pem" > "$S/client-chain.pem"
chmod 644 "$S"/client-*.key "$S/client-chain.pem"
cat >> "$PT_CONF/main.cf" <<EOF
home_mailbox = Maildir/
mydestination = \$myhostname, localhost, encrypt.example, badname.example, verify.example,
    none.example, wrap.example, lookupfail.example, fp.example, fpbad.example, fpspki.example,
    fpdflt.example, fpmain.example, fpmd5.example, fpmainbad.example, noted.example,
    sysca.example, syscano.example, ccpair.example, ccchain.example, ccec.example
smtpd_tls_security_level = may
smtpd_tls_cert_file = $S/mx.pem
smtpd_tls_key_file = $S/mx.key
smtpd_tls_received_header = yes
EOF
cat >> "$PT_CONF/master.cf" <<EOF
127.0.0.1:$P_VERIFY inet n - n - - smtpd
127.0.0.1:$P_NONE inet n - n - - smtpd
127.0.0.1:$P_WRAP inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
127.0.0.1:$P_FP inet n - n - - smtpd
127.0.0.1:$P_FPBAD inet n - n - - smtpd
  -o syslog_name=postfix/fpbad
127.0.0.1:$P_FPSPKI inet n - n - - smtpd
127.0.0.1:$P_FPDFLT inet n - n - - smtpd
127.0.0.1:$P_CCERT inet n - n - - smtpd
  -o syslog_name=postfix/ccert -o smtpd_tls_ask_ccert=yes -o smtpd_tls_CAfile=$S/ca.pem
  -o smtpd_tls_loglevel=1
EOF
pt_start || { pt_fail server_start "server instance did not start"; pt_done; exit 1; }
for p in $P_VERIFY $P_NONE $P_FP $P_FPBAD $P_FPSPKI $P_FPDFLT; do pt_wait_smtp "$p" 20 || pt_fail "listen_$p" "no banner on $p"; done

# ---- the plaintext peer ------------------------------------------------------------
P_PLAIN=$(pt_free_port)
mkdir -p "$S/dump-plain"
"$PT_BUILD/sbin/smtp-sink" -d "$S/dump-plain/" 127.0.0.1:$P_PLAIN 10 >"$S/sink.log" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp "$P_PLAIN" 20 || pt_fail listen_plain "smtp-sink did not answer"

# ---- the SNI peer: STARTTLS with S's certificate, logs "sni=NAME subject=SUBJECT" --------
P_SNI=$(pt_free_port)
cat > "$S/sni_peer.py" <<'EOP'
import socket, ssl, sys
port, cert, key, logname = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
seen = {}
def on_sni(sslobj, name, c):
    seen['sni'] = name
ctx.sni_callback = on_sni
ls = socket.socket()
ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
ls.bind(('127.0.0.1', port))
ls.listen(16)
def session(conn):
    seen.clear()
    tls = False
    f = conn.makefile('rb')
    conn.sendall(b'220 sni-peer ESMTP\r\n')
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.strip().upper()
        if cmd.startswith(b'EHLO'):
            conn.sendall(b'250-sni-peer\r\n' + (b'' if tls else b'250-STARTTLS\r\n') + b'250 8BITMIME\r\n')
        elif cmd == b'STARTTLS' and not tls:
            conn.sendall(b'220 go ahead\r\n')
            conn = ctx.wrap_socket(conn, server_side=True)
            f = conn.makefile('rb')
            tls = True
        elif cmd == b'DATA':
            conn.sendall(b'354 go\r\n')
            subject = ''
            while True:
                l = f.readline()
                if not l or l == b'.\r\n':
                    break
                if l.lower().startswith(b'subject:'):
                    subject = l[8:].strip().decode()
            with open(logname, 'a') as log:
                log.write('sni=%s tls=%s subject=%s\n' % (seen.get('sni') or '-', tls, subject))
            conn.sendall(b'250 2.0.0 queued\r\n')
        elif cmd == b'QUIT':
            conn.sendall(b'221 bye\r\n')
            return
        else:
            conn.sendall(b'250 ok\r\n')
while True:
    c, _ = ls.accept()
    try:
        c.settimeout(30)
        session(c)
    except Exception as e:
        with open(logname, 'a') as log:
            log.write('error %s\n' % e)
    finally:
        c.close()
EOP
python3 "$S/sni_peer.py" "$P_SNI" "$S/mx.pem" "$S/mx.key" "$S/sni.log" >"$S/sni_peer.err" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp "$P_SNI" 20 || pt_fail listen_sni "the SNI peer did not answer"

# The fingerprints: S's certificate (colons, upper-case), its public key
# (no colons, lower-case), the CA's (a real certificate, but not S's).
FP_CERT=$(openssl x509 -in "$S/mx.pem" -noout -fingerprint -sha256 | cut -d= -f2)
FP_SPKI=$(openssl x509 -in "$S/mx.pem" -noout -pubkey | openssl pkey -pubin -outform DER \
    | openssl dgst -sha256 | sed 's/.*= *//')
FP_CA=$(openssl x509 -in "$S/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)
FP_MD5=$(openssl x509 -in "$S/mx.pem" -noout -fingerprint -md5 | cut -d= -f2)
pt_check fingerprints_computed [ ${#FP_CERT} = 95 -a ${#FP_SPKI} = 64 -a ${#FP_CA} = 95 -a ${#FP_MD5} = 47 ]

# ---- the client instance -----------------------------------------------------------
pt_instance
C=$PT_T
P_TAFILE=$(pt_free_port); P_DANEONLY=$(pt_free_port); P_BADPROTO=$(pt_free_port)
cat > "$PT_CONF/transport" <<EOF
encrypt.example   smtp:[127.0.0.1]:$P_PLAIN
badname.example   smtp:[127.0.0.1]:$S_PORT
verify.example    smtp:[127.0.0.1]:$P_VERIFY
none.example      smtp:[127.0.0.1]:$P_NONE
wrap.example      wrapped:[127.0.0.1]:$P_WRAP
tafile.example    smtp:[127.0.0.1]:$P_TAFILE
daneonly.example  smtp:[127.0.0.1]:$P_DANEONLY
badproto.example  smtp:[127.0.0.1]:$P_BADPROTO
lookupfail.example failrelay:[127.0.0.1]:$P_NONE
fp.example        smtp:[127.0.0.1]:$P_FP
fpbad.example     smtp:[127.0.0.1]:$P_FPBAD
fpspki.example    smtp:[127.0.0.1]:$P_FPSPKI
fpdflt.example    smtp:[127.0.0.1]:$P_FPDFLT
fpmain.example    fpmain:[127.0.0.1]:$P_VERIFY
fpmd5.example     fpmd5:[127.0.0.1]:$P_VERIFY
fpmainbad.example fpmainbad:[127.0.0.1]:$P_VERIFY
noted.example     noted:[127.0.0.1]:$P_NONE
sni.example       smtp:[localhost]:$P_SNI
snihost.example   snihost:[localhost]:$P_SNI
sninexthop.example sninexthop:[localhost]:$P_SNI
snilit.example    snilit:[localhost]:$P_SNI
snitable.example  snilit:[127.0.0.1]:$P_SNI
sysca.example     sysca:[127.0.0.1]:$P_VERIFY
syscano.example   syscano:[127.0.0.1]:$P_VERIFY
ccpair.example    ccpair:[127.0.0.1]:$P_CCERT
ccchain.example   ccchain:[127.0.0.1]:$P_CCERT
ccec.example      ccec:[127.0.0.1]:$P_CCERT
EOF
cat > "$PT_CONF/tls_policy" <<EOF
[127.0.0.1]:$P_PLAIN     encrypt
[127.0.0.1]:$S_PORT      verify match=wrong.example
[127.0.0.1]:$P_VERIFY    verify match=nothere.example:mx.good.example protocols=>=TLSv1.2
[127.0.0.1]:$P_NONE      none
[127.0.0.1]:$P_TAFILE    may tafile=$S/ca.pem
[127.0.0.1]:$P_DANEONLY  dane-only
[127.0.0.1]:$P_BADPROTO  encrypt protocols=TLSv9
[127.0.0.1]:$P_FP        fingerprint match=$FP_CA match=${FP_CERT,,}
[127.0.0.1]:$P_FPBAD     fingerprint match=$FP_CA|$FP_MD5
[127.0.0.1]:$P_FPSPKI    fingerprint match=$FP_CA|$FP_SPKI
[127.0.0.1]:$P_FPDFLT    fingerprint
[127.0.0.1]:$P_SNI       may servername=table.test.example
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
smtp_tls_security_level = may
smtp_tls_CAfile = $S/ca.pem
smtp_tls_policy_maps = texthash:$PT_CONF/tls_policy
smtp_tls_loglevel = 1
smtp_tls_fingerprint_cert_match = $FP_CA, $FP_CERT
# The test CA stands for the system's trust store (OpenSSL's default file
# is \$SSL_CERT_FILE when set): only tls_append_default_CA = yes reads it.
import_environment = MAIL_CONFIG MAIL_DEBUG MAIL_LOGTAG TZ LANG=C POSTLOG_SERVICE POSTLOG_HOSTNAME SSL_CERT_FILE=$S/ca.pem
EOF
cat >> "$PT_CONF/master.cf" <<EOF
wrapped   unix  -       -       n       -       -       smtp
  -o smtp_tls_wrappermode=yes
failrelay unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps=fail:policy
fpmain    unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps= -o smtp_tls_security_level=fingerprint
fpmd5     unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps= -o smtp_tls_security_level=fingerprint
  -o smtp_tls_fingerprint_digest=md5 -o smtp_tls_fingerprint_cert_match=$FP_MD5
fpmainbad unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps= -o smtp_tls_security_level=fingerprint
  -o smtp_tls_fingerprint_cert_match=$FP_CA
noted     unix  -       -       n       -       -       smtp
  -o smtp_tls_note_starttls_offer=yes
snihost   unix  -       -       n       -       -       smtp
  -o smtp_tls_servername=hostname
sninexthop unix -       -       n       -       -       smtp
  -o smtp_tls_servername=nexthop
snilit    unix  -       -       n       -       -       smtp
  -o smtp_tls_servername=sni.test.example
sysca     unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps= -o smtp_tls_CAfile= -o smtp_tls_security_level=verify
  -o smtp_tls_verify_cert_match=mx.good.example -o tls_append_default_CA=yes
syscano   unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps= -o smtp_tls_CAfile= -o smtp_tls_security_level=verify
  -o smtp_tls_verify_cert_match=mx.good.example
ccpair    unix  -       -       n       -       -       smtp
  -o smtp_tls_cert_file=$S/client-rsa.pem -o smtp_tls_key_file=$S/client-rsa.key
ccchain   unix  -       -       n       -       -       smtp
  -o smtp_tls_chain_files=$S/client-chain.pem
  -o smtp_tls_cert_file=$S/nonexistent.pem
ccec      unix  -       -       n       -       -       smtp
  -o smtp_tls_eccert_file=$S/client-ec.pem -o smtp_tls_eckey_file=$S/client-ec.key
EOF
pt_start || { pt_fail client_start "client instance did not start"; pt_done; exit 1; }

clog() { grep -E -- "$1" "$C/maillog" 2>/dev/null; }
wait_clog() { pt_wait "clog '$1' >/dev/null" "${2:-30}"; }
# The message in bob's Maildir (on S) whose Subject is $1.
bob_msg() { grep -l "^Subject: $1\$" "$PT_HOMES"/bob/Maildir/new/* 2>/dev/null | head -1; }
send() {  # SUBJECT RCPT
    PT_BODY=$(printf 'Subject: %s\r\n\r\npolicy test\r\n' "$1") pt_smtp_send alice@example.test "$2"
}

for c in encrypt badname verify none wrap tafile daneonly badproto lookupfail fp fpbad fpspki \
    fpdflt fpmain fpmd5 fpmainbad noted sni snihost sninexthop snilit snitable sysca syscano \
    ccpair ccchain ccec; do
    reply=$(send "$c-case" "bob@$c.example")
    pt_check "${c}_accepted_by_client" [ "${reply%% *}" = 250 ]
done

# encrypt, server without STARTTLS: deferred, nothing sent in clear.
wait_clog 'to=<bob@encrypt.example>.*status=deferred'
pt_check encrypt_deferred_4_7 bash -c "grep -E 'to=<bob@encrypt.example>.*dsn=4\.7\.[0-9].*status=deferred \(TLS is required, but was not offered' '$C/maillog' >/dev/null"
pt_check encrypt_sink_got_nothing [ "$(ls "$S/dump-plain" | wc -l)" = 0 ]

# Client certificates: smtp_tls_cert_file/key_file, smtp_tls_chain_files (it
# wins over a cert_file that does not even exist) and the ECDSA pair; the
# server that asks for one sees a trusted certificate each time.
for c in ccpair:client-rsa ccchain:client-rsa ccec:client-ec; do
    pt_wait '[ -n "$(bob_msg '"${c%%:*}"'-case)" ]' 30
    pt_check "${c%%:*}_delivered" [ -n "$(bob_msg "${c%%:*}-case")" ]
done
pt_check client_cert_pair_trusted grep -q "postfix/ccert/smtpd.*Trusted: subject_CN=client-rsa.example" "$S/maillog"
pt_check client_cert_ec_trusted grep -q "postfix/ccert/smtpd.*Trusted: subject_CN=client-ec.example" "$S/maillog"
pt_check client_cert_rsa_twice [ "$(grep -c 'postfix/ccert/smtpd.*Trusted: subject_CN=client-rsa.example' "$S/maillog")" -ge 2 ]

# tls_append_default_CA: with it the "system" CA verifies the server, without
# it (and no smtp_tls_CAfile) nothing does.
pt_wait '[ -n "$(bob_msg sysca-case)" ]' 30
pt_check append_default_ca_verified [ -n "$(bob_msg sysca-case)" ]
wait_clog 'to=<bob@syscano.example>.*status=deferred'
pt_check no_default_ca_not_verified bash -c "grep -E 'to=<bob@syscano.example>.*dsn=4\.7\.5.*Server certificate not verified' '$C/maillog' >/dev/null"

# verify with a match= name the certificate lacks: deferred.
wait_clog 'to=<bob@badname.example>.*status=deferred'
pt_check verify_mismatch_deferred bash -c "grep -E 'to=<bob@badname.example>.*dsn=4\.7\.5.*Server certificate not verified' '$C/maillog' >/dev/null"

# verify with the right name (second in the match= list): delivered over TLS.
pt_wait '[ -n "$(bob_msg verify-case)" ]' 30
m=$(bob_msg verify-case)
pt_check verify_delivered [ -n "$m" ]
pt_check verify_over_tls grep -q '(using TLSv1\.[23] with cipher' "${m:-/dev/null}"
pt_check verify_logged_verified bash -c "grep -q 'Verified TLS connection established to 127.0.0.1\[127.0.0.1\]:$P_VERIFY' '$C/maillog'"

# none overrides smtp_tls_security_level = may: plaintext although offered.
pt_wait '[ -n "$(bob_msg none-case)" ]' 30
m=$(bob_msg none-case)
pt_check none_delivered [ -n "$m" ]
pt_check none_without_tls bash -c "! grep -q '(using TLS' '${m:-/dev/null}' && [ -n '$m' ]"
pt_check none_no_starttls bash -c "! grep -q 'TLS connection established to 127.0.0.1\[127.0.0.1\]:$P_NONE' '$C/maillog'"

# wrapper mode against an smtps listener.
pt_wait '[ -n "$(bob_msg wrap-case)" ]' 30
m=$(bob_msg wrap-case)
pt_check wrap_delivered [ -n "$m" ]
pt_check wrap_over_tls grep -q '(using TLSv1\.[23] with cipher' "${m:-/dev/null}"
pt_check wrap_logged bash -c "grep -q 'TLS connection established to 127.0.0.1\[127.0.0.1\]:$P_WRAP' '$C/maillog'"

# Attributes and levels that cannot be honoured defer, never weaken (tafile=
# is for verify and secure only: refused at may, as Postfix does).
wait_clog 'to=<bob@tafile.example>.*status=deferred'
pt_check tafile_deferred bash -c "grep -E 'to=<bob@tafile.example>.*dsn=4\.7\.5.*status=deferred \(client TLS configuration problem' '$C/maillog' >/dev/null"
pt_check tafile_warned bash -c "grep -q 'attribute \"tafile\" is invalid at security level \"may\"' '$C/maillog'"
wait_clog 'to=<bob@daneonly.example>.*status=deferred'
pt_check daneonly_deferred bash -c "grep -E 'to=<bob@daneonly.example>.*dsn=4\.7\.5.*status=deferred \(client TLS configuration problem: dane configured with dnssec lookups disabled' '$C/maillog' >/dev/null"
wait_clog 'to=<bob@badproto.example>.*status=deferred'
pt_check badproto_deferred bash -c "grep -E 'to=<bob@badproto.example>.*dsn=4\.7\.5.*client TLS configuration problem' '$C/maillog' >/dev/null"

# A policy table that cannot answer: deferred, although the peer (the "none"
# listener) would take the mail in plaintext.
wait_clog 'to=<bob@lookupfail.example>.*status=deferred'
pt_check lookupfail_deferred bash -c "grep -E 'to=<bob@lookupfail.example>.*dsn=4\.7\.5.*client TLS configuration problem' '$C/maillog' >/dev/null"

# fingerprint: the certificate's digest (second match= of two, lower-case)
# or its public key's (no colons) is enough; the chain is not looked at.
for c in fp:$P_FP fpspki:$P_FPSPKI fpdflt:$P_FPDFLT; do
    pt_wait '[ -n "$(bob_msg ${c%%:*}-case)" ]' 30
    m=$(bob_msg "${c%%:*}-case")
    pt_check "${c%%:*}_delivered" [ -n "$m" ]
    pt_check "${c%%:*}_over_tls" grep -q '(using TLSv1\.[23] with cipher' "${m:-/dev/null}"
    pt_check "${c%%:*}_logged_verified" bash -c "grep -q 'Verified TLS connection established to 127.0.0.1\[127.0.0.1\]:${c#*:}' '$C/maillog'"
done
# A digest that is not the server's (the CA's, and the md5 one read as
# sha256): deferred right after the handshake, no MAIL command sent.
wait_clog 'to=<bob@fpbad.example>.*status=deferred'
pt_check fpbad_deferred_4_7_5 bash -c "grep -E 'to=<bob@fpbad.example>.*dsn=4\.7\.5.*status=deferred \(Server certificate not verified: fingerprint mismatch' '$C/maillog' >/dev/null"
pt_check fpbad_logged_not_verified bash -c "grep -q 'TLS connection established to 127.0.0.1\[127.0.0.1\]:$P_FPBAD' '$C/maillog' && ! grep -q 'Verified TLS connection established to 127.0.0.1\[127.0.0.1\]:$P_FPBAD' '$C/maillog'"
pt_wait "grep -q 'fpbad/smtpd.*disconnect from' '$S/maillog'" 20
pt_check fpbad_peer_saw_starttls_only bash -c "grep 'fpbad/smtpd.*disconnect from' '$S/maillog' | grep -q starttls=1 && ! grep 'fpbad/smtpd' '$S/maillog' | grep -Eq 'mail=|from=<alice'"
# main.cf smtp_tls_fingerprint_cert_match with the level from -o, and
# smtp_tls_fingerprint_digest = md5.
for c in fpmain fpmd5; do
    pt_wait '[ -n "$(bob_msg $c-case)" ]' 30
    pt_check "${c}_delivered" [ -n "$(bob_msg $c-case)" ]
done
pt_check fpmain_logged_verified bash -c "[ \$(grep -c 'Verified TLS connection established to 127.0.0.1\[127.0.0.1\]:$P_VERIFY' '$C/maillog') -ge 3 ]"
wait_clog 'to=<bob@fpmainbad.example>.*status=deferred'
pt_check fpmainbad_deferred bash -c "grep -E 'to=<bob@fpmainbad.example>.*dsn=4\.7\.5.*Server certificate not verified: fingerprint mismatch' '$C/maillog' >/dev/null"

# smtp_tls_note_starttls_offer at level none (the table's, for P_NONE):
# logged once, for the transport that asks for it.
pt_wait '[ -n "$(bob_msg noted-case)" ]' 30
pt_check noted_delivered [ -n "$(bob_msg noted-case)" ]
pt_check noted_logged bash -c "[ \$(grep -c 'Host offered STARTTLS: \[127.0.0.1\]' '$C/maillog') = 1 ]"

# SNI: none by default, else per smtp_tls_servername; the table's
# servername= wins over the transport's.
sni_of() { grep "subject=$1-case\$" "$S/sni.log" 2>/dev/null | head -1 | sed 's/^sni=\([^ ]*\) .*/\1/'; }
for c in sni:- snihost:localhost sninexthop:localhost snilit:sni.test.example \
    snitable:table.test.example; do
    pt_wait "[ -n \"\$(sni_of ${c%%:*})\" ]" 30
    pt_check "${c%%:*}_sni" [ "$(sni_of "${c%%:*}")" = "${c#*:}" ]
done
pt_check sni_over_tls bash -c "! grep -q 'tls=False' '$S/sni.log'"

# Nothing of the deferred cases reached bob.
for c in encrypt badname tafile daneonly badproto lookupfail fpbad fpmainbad; do
    pt_check "${c}_not_delivered" [ -z "$(bob_msg "$c-case")" ]
done
pt_done
