#!/bin/bash
# smtpd_tls_session_ids_test.sh - smtpd_tls_always_issue_session_ids on a
# real instance without a session cache database: by default (yes) a TLS 1.2
# client gets a session ID (smtpd's own in-process cache), with no it gets
# none, and the handshake still succeeds.
. "$(dirname "$0")/lib.sh"
K=$(mktemp -d /tmp/postern-sid.XXXXXX); chmod 755 "$K"
trap 'pt_cleanup; rm -rf "$K"' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.test \
    -keyout "$K/key.pem" -out "$K/cert.pem" >/dev/null 2>&1
chmod 644 "$K"/*.pem
pt_instance
NOID=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
smtpd_tls_cert_file = $K/cert.pem
smtpd_tls_key_file = $K/key.pem
smtpd_tls_security_level = may
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$NOID inet n - n - - smtpd -o smtpd_tls_always_issue_session_ids=no
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
sid() {   # sid PORT: the Session-ID s_client saw over TLS 1.2 (empty: none)
    echo QUIT | timeout 20 openssl s_client -connect 127.0.0.1:$1 -starttls smtp -tls1_2 \
        -no_ticket 2>/dev/null | sed -n 's/^ *Session-ID: *//p' | head -n 1
}
a=$(sid "$PT_PORT"); b=$(sid "$NOID")
pt_check default_issues_session_id [ -n "$a" ]
pt_check no_issues_none [ -z "$b" ]
pt_check no_handshake_ok bash -c "echo QUIT | timeout 20 openssl s_client -connect 127.0.0.1:$NOID -starttls smtp -tls1_2 2>/dev/null | grep -q '^ *Protocol *: TLSv1.2'"
pt_done
