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
# STARTTLS.
. "$(dirname "$0")/lib.sh"

pt_setup_users; pt_clean_homes

# ---- the server instance -----------------------------------------------------------
pt_instance
S=$PT_T; S_PORT=$PT_PORT
P_VERIFY=$(pt_free_port); P_NONE=$(pt_free_port); P_WRAP=$(pt_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=Postern-Test-CA \
    -keyout "$S/ca.key" -out "$S/ca.pem" >/dev/null 2>&1
openssl req -new -newkey rsa:2048 -nodes -subj /CN=mx.good.example -keyout "$S/mx.key" \
    -out "$S/mx.csr" >/dev/null 2>&1
printf 'subjectAltName=DNS:mx.good.example\n' > "$S/mx.ext"
openssl x509 -req -in "$S/mx.csr" -CA "$S/ca.pem" -CAkey "$S/ca.key" -CAcreateserial -days 2 \
    -extfile "$S/mx.ext" -out "$S/mx.pem" >/dev/null 2>&1
chmod 644 "$S/mx.key"
cat >> "$PT_CONF/main.cf" <<EOF
home_mailbox = Maildir/
mydestination = \$myhostname, localhost, encrypt.example, badname.example, verify.example,
    none.example, wrap.example, lookupfail.example
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
EOF
pt_start || { pt_fail server_start "server instance did not start"; pt_done; exit 1; }
for p in $P_VERIFY $P_NONE; do pt_wait_smtp "$p" 20 || pt_fail "listen_$p" "no banner on $p"; done

# ---- the plaintext peer ------------------------------------------------------------
P_PLAIN=$(pt_free_port)
mkdir -p "$S/dump-plain"
"$PT_BUILD/sbin/smtp-sink" -d "$S/dump-plain/" 127.0.0.1:$P_PLAIN 10 >"$S/sink.log" 2>&1 &
PT_PIDS+=($!)
pt_wait_smtp "$P_PLAIN" 20 || pt_fail listen_plain "smtp-sink did not answer"

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
EOF
cat > "$PT_CONF/tls_policy" <<EOF
[127.0.0.1]:$P_PLAIN     encrypt
[127.0.0.1]:$S_PORT      verify match=wrong.example
[127.0.0.1]:$P_VERIFY    verify match=nothere.example:mx.good.example protocols=>=TLSv1.2
[127.0.0.1]:$P_NONE      none
[127.0.0.1]:$P_TAFILE    secure tafile=$S/ca.pem
[127.0.0.1]:$P_DANEONLY  dane-only
[127.0.0.1]:$P_BADPROTO  encrypt protocols=TLSv9
EOF
cat >> "$PT_CONF/main.cf" <<EOF
transport_maps = texthash:$PT_CONF/transport
smtp_tls_security_level = may
smtp_tls_CAfile = $S/ca.pem
smtp_tls_policy_maps = texthash:$PT_CONF/tls_policy
smtp_tls_loglevel = 1
EOF
cat >> "$PT_CONF/master.cf" <<EOF
wrapped   unix  -       -       n       -       -       smtp
  -o smtp_tls_wrappermode=yes
failrelay unix  -       -       n       -       -       smtp
  -o smtp_tls_policy_maps=fail:policy
EOF
pt_start || { pt_fail client_start "client instance did not start"; pt_done; exit 1; }

clog() { grep -E -- "$1" "$C/maillog" 2>/dev/null; }
wait_clog() { pt_wait "clog '$1' >/dev/null" "${2:-30}"; }
# The message in bob's Maildir (on S) whose Subject is $1.
bob_msg() { grep -l "^Subject: $1\$" "$PT_HOMES"/bob/Maildir/new/* 2>/dev/null | head -1; }
send() {  # SUBJECT RCPT
    PT_BODY=$(printf 'Subject: %s\r\n\r\npolicy test\r\n' "$1") pt_smtp_send alice@example.test "$2"
}

for c in encrypt badname verify none wrap tafile daneonly badproto lookupfail; do
    reply=$(send "$c-case" "bob@$c.example")
    pt_check "${c}_accepted_by_client" [ "${reply%% *}" = 250 ]
done

# encrypt, server without STARTTLS: deferred, nothing sent in clear.
wait_clog 'to=<bob@encrypt.example>.*status=deferred'
pt_check encrypt_deferred_4_7 bash -c "grep -E 'to=<bob@encrypt.example>.*dsn=4\.7\.[0-9].*status=deferred \(TLS is required, but was not offered' '$C/maillog' >/dev/null"
pt_check encrypt_sink_got_nothing [ "$(ls "$S/dump-plain" | wc -l)" = 0 ]

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

# Attributes and levels that cannot be honoured defer, never weaken.
wait_clog 'to=<bob@tafile.example>.*status=deferred'
pt_check tafile_deferred bash -c "grep -E 'to=<bob@tafile.example>.*dsn=4\.7\.5.*status=deferred \(client TLS configuration problem' '$C/maillog' >/dev/null"
pt_check tafile_warned bash -c "grep -q 'attribute \"tafile\" is not supported' '$C/maillog'"
wait_clog 'to=<bob@daneonly.example>.*status=deferred'
pt_check daneonly_deferred bash -c "grep -E 'to=<bob@daneonly.example>.*dsn=4\.7\.5.*status=deferred \(client TLS configuration problem: dane configured with dnssec lookups disabled' '$C/maillog' >/dev/null"
wait_clog 'to=<bob@badproto.example>.*status=deferred'
pt_check badproto_deferred bash -c "grep -E 'to=<bob@badproto.example>.*dsn=4\.7\.5.*client TLS configuration problem' '$C/maillog' >/dev/null"

# A policy table that cannot answer: deferred, although the peer (the "none"
# listener) would take the mail in plaintext.
wait_clog 'to=<bob@lookupfail.example>.*status=deferred'
pt_check lookupfail_deferred bash -c "grep -E 'to=<bob@lookupfail.example>.*dsn=4\.7\.5.*client TLS configuration problem' '$C/maillog' >/dev/null"

# Nothing of the deferred cases reached bob.
for c in encrypt badname tafile daneonly badproto lookupfail; do
    pt_check "${c}_not_delivered" [ -z "$(bob_msg "$c-case")" ]
done
pt_done
