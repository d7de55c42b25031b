#!/bin/bash
# smtpd_tls_test.sh - TLS in the SMTP server against a real instance:
# STARTTLS with openssl s_client, swaks and Python smtplib; smtps (wrapper
# mode); the encrypt level; old protocols refused; session resumption; RSA
# and ECDSA certificates together; the Received: header and log lines;
# client certificates asked and required; plaintext pipelined after
# STARTTLS discarded; STARTTLS errors (501, 502, 454, 554).
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance

# Certificates (TESTING.md): a CA that signs the client certificate, a
# self-signed RSA and a self-signed ECDSA server certificate.
TLS=$PT_T/tls; mkdir -p "$TLS"
(
    cd "$TLS" || exit 1
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.test \
        -keyout key.pem -out cert.pem
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
        -subj /CN=mail.example.test -keyout eckey.pem -out eccert.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=Test CA" \
        -keyout ca.key -out ca.pem
    openssl req -newkey rsa:2048 -nodes -subj /CN=client.example.test \
        -keyout client.key -out client.csr
    openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 \
        -out client.pem
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rogue.example.test \
        -keyout rogue.key -out rogue.pem
    openssl genpkey -genparam -algorithm DH -pkeyopt group:ffdhe3072 -out ffdhe3072.pem
) >/dev/null 2>&1 || { pt_fail certs "openssl could not make certificates"; pt_done; exit 1; }
chmod 600 "$TLS"/*.key "$TLS"/key.pem "$TLS"/eckey.pem

cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_tls_security_level = may
smtpd_tls_cert_file = $TLS/cert.pem
smtpd_tls_key_file = $TLS/key.pem
smtpd_tls_eccert_file = $TLS/eccert.pem
smtpd_tls_eckey_file = $TLS/eckey.pem
smtpd_tls_loglevel = 1
smtpd_tls_received_header = yes
EOM
# P_RESUME runs one process so that a resumed session meets the process
# that issued it (resumption is per process, docs/tls.md).
P_RESUME=$(pt_free_port); P_SMTPS=$(pt_free_port); P_ENC=$(pt_free_port); P_REQ=$(pt_free_port)
P_ASK=$(pt_free_port); P_NONE=$(pt_free_port); P_BROKEN=$(pt_free_port)
P_DH=$(pt_free_port); P_DHBAD=$(pt_free_port)
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_RESUME inet n - n - 1 smtpd
127.0.0.1:$P_SMTPS inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
127.0.0.1:$P_ENC inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
127.0.0.1:$P_REQ inet n - n - - smtpd
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_req_ccert=yes
  -o smtpd_tls_CAfile=$TLS/ca.pem
127.0.0.1:$P_ASK inet n - n - - smtpd
  -o smtpd_tls_ask_ccert=yes
  -o smtpd_tls_CAfile=$TLS/ca.pem
127.0.0.1:$P_NONE inet n - n - - smtpd
  -o smtpd_tls_security_level=none
127.0.0.1:$P_BROKEN inet n - n - - smtpd
  -o smtpd_tls_cert_file=$TLS/nonexistent.pem
  -o smtpd_tls_eccert_file=
127.0.0.1:$P_DH inet n - n - - smtpd
  -o smtpd_tls_dh1024_param_file=$TLS/ffdhe3072.pem
127.0.0.1:$P_DHBAD inet n - n - - smtpd
  -o smtpd_tls_dh1024_param_file=$TLS/cert.pem
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
pt_wait_smtp "$P_ENC" 20 || pt_fail start_enc "port $P_ENC did not answer"

# pt_py PORT SCRIPT: runs a Python snippet with port, TLS dir in argv.
pt_py() { local port=$1; shift; python3 - "$port" "$TLS" "$@"; }
# s_client with a deadline; stdin is the SMTP dialogue after the handshake.
pt_sclient() { timeout 20 openssl s_client -ign_eof "$@" 2>&1; }

# ---- EHLO and STARTTLS with Python smtplib ----------------------------------
out=$(pt_py "$PT_PORT" <<'EOP'
import smtplib, ssl, sys
port = int(sys.argv[1])
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("client.example.test")
print("before:", "starttls" in s.esmtp_features)
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
code, msg = s.starttls(context=ctx)
print("starttls:", code, msg.decode())
s.ehlo("client.example.test")
print("after:", "starttls" in s.esmtp_features)
print("version:", s.sock.version())
code, msg = s.docmd("STARTTLS")
print("again:", code, msg.decode())
s.sendmail("sender@example.org", ["alice@example.test"], "Subject: tls\r\n\r\nover TLS\r\n")
print("sent")
s.quit()
EOP
)
pt_check ehlo_offers_starttls grep -q '^before: True$' <<<"$out"
pt_check starttls_220 grep -q '^starttls: 220 2.0.0 Ready to start TLS$' <<<"$out"
pt_check ehlo_after_tls_no_starttls grep -q '^after: False$' <<<"$out"
pt_check tls13_default grep -q '^version: TLSv1.3$' <<<"$out"
pt_check starttls_twice_554 grep -q '^again: 554 5.5.1 Error: TLS already active$' <<<"$out"
pt_check smtplib_send_over_tls grep -q '^sent$' <<<"$out"
pt_check tls_log_line pt_wait "grep -Eq 'smtpd\[[0-9]+\]: Anonymous TLS connection established from localhost\[127.0.0.1\]: TLSv1.3 with cipher TLS_[A-Z0-9_]+ \(256/256 bits\)' $PT_T/maillog" 10
pt_wait '[ "$(ls $PT_HOMES/alice/Maildir/new 2>/dev/null | wc -l)" -ge 1 ]' 30
msg=$(cat "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null)
pt_check received_using grep -Eq $'^\t\\(using TLSv1.3 with cipher TLS_[A-Z0-9_]+ \\(256/256 bits\\)$' <<<"$msg"
pt_check received_kex grep -Eq $'^\t key-exchange [A-Za-z0-9]+ server-signature (RSA-PSS|ECDSA) \\([0-9]+ bits\\) server-digest SHA256\\)$' <<<"$msg"
pt_check received_no_ccert grep -q $'^\t(No client certificate requested)$' <<<"$msg"
pt_check received_esmtps grep -Eq $'^\tby mail.example.test \\(Postfix\\) with ESMTPS id [0-9A-Za-z]+$' <<<"$msg"

# ---- STARTTLS errors ------------------------------------------------------
out=$(pt_py "$PT_PORT" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("c.example")
print("args:", *s.docmd("STARTTLS", "now"))
s.docmd("MAIL", "FROM:<a@example.org>")
print("in_mail:", *s.docmd("STARTTLS"))
s.quit()
EOP
)
pt_check starttls_syntax_501 grep -q "^args: 501 b'5.5.4 Syntax: STARTTLS'$" <<<"$out"
pt_check starttls_in_transaction_503 grep -q "^in_mail: 503 b'5.5.1 Error: MAIL transaction in progress'$" <<<"$out"
out=$(pt_py "$P_NONE" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("c.example")
print("offered:", "starttls" in s.esmtp_features)
print("reply:", *s.docmd("STARTTLS"))
s.quit()
EOP
)
pt_check level_none_not_offered grep -q '^offered: False$' <<<"$out"
pt_check level_none_502 grep -q "^reply: 502 b'5.5.1 Error: command not implemented'$" <<<"$out"
pt_wait_smtp "$P_BROKEN" 20
out=$(pt_py "$P_BROKEN" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("c.example")
print("reply:", *s.docmd("STARTTLS"))
s.quit()
EOP
)
pt_check broken_cert_454 grep -q "^reply: 454 b'4.7.0 TLS not available due to local problem'$" <<<"$out"
pt_check broken_cert_logged pt_wait "grep -q 'TLS library problem: .*nonexistent.pem.*disabling TLS support' $PT_T/maillog" 10

# ---- openssl s_client and swaks -------------------------------------------
out=$(printf 'QUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$PT_PORT -brief -crlf)
pt_check sclient_starttls_tls13 grep -q 'Protocol version: TLSv1.3' <<<"$out"
out=$(printf 'EHLO c.example\nQUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$PT_PORT -quiet -crlf)
pt_check sclient_ehlo_over_tls grep -q '^250-mail.example.test' <<<"$out"
pt_check sclient_quit_over_tls grep -q '^221 2.0.0 Bye' <<<"$out"
out=$(printf 'QUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$PT_PORT -brief -crlf -tls1_2)
pt_check sclient_tls12_ok grep -q 'Protocol version: TLSv1.2' <<<"$out"
out=$(printf 'QUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$PT_PORT -brief -crlf -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0')
pt_check sclient_tls11_refused bash -c '! grep -q "Protocol version: TLSv1.1" <<<"$1"' _ "$out"
pt_check tls11_refused_logged pt_wait "grep -q 'SSL_accept error from localhost\[127.0.0.1\]: TLS handshake failed.*unsupported protocol' $PT_T/maillog" 10
out=$(printf 'QUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$PT_PORT -brief -crlf -tls1)
pt_check sclient_tls10_refused bash -c '! grep -q "Protocol version: TLSv1$" <<<"$1"' _ "$out"
# smtpd_tls_dh1024_param_file: a TLS 1.2 DHE handshake uses the file's
# 3072-bit group; without it, or with a file that holds no DH parameters
# (warned about), OpenSSL's automatic 2048-bit one.
dhe() { printf 'QUIT\n' | pt_sclient -starttls smtp -connect "127.0.0.1:$1" -brief -crlf -tls1_2 \
            -cipher DHE-RSA-AES256-GCM-SHA384; }
pt_check dh_param_file_used grep -q 'Temp Key: DH, 3072 bits' <<<"$(dhe "$P_DH")"
pt_check dh_default_auto grep -q 'Temp Key: DH, 2048 bits' <<<"$(dhe "$PT_PORT")"
pt_check dh_bad_file_handshake grep -q 'Temp Key: DH, 2048 bits' <<<"$(dhe "$P_DHBAD")"
pt_check dh_bad_file_warned pt_wait "grep -q 'warning: smtpd_tls_dh1024_param_file: cannot use DH parameters from $TLS/cert.pem.*using the built-in ones' $PT_T/maillog" 10
out=$(printf 'QUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$PT_PORT -brief -crlf -sigalgs 'ECDSA+SHA256')
pt_check ecdsa_certificate grep -q 'Signature type: ECDSA' <<<"$out"
out=$(printf 'QUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$PT_PORT -brief -crlf -sigalgs 'rsa_pss_rsae_sha256')
pt_check rsa_certificate grep -q 'Signature type: RSA-PSS' <<<"$out"

out=$(timeout 60 swaks --server 127.0.0.1:$PT_PORT --tls --from s@example.org --to bob@example.test \
      --helo client.example.test --header 'Subject: swaks tls' 2>&1)
pt_check swaks_tls_started grep -q 'TLS started' <<<"$out"
pt_check swaks_tls_accepted grep -q '<~  250 2.0.0 Ok: queued as' <<<"$out"

# ---- session resumption ---------------------------------------------------
rm -f "$PT_T/sess"
pt_wait_smtp "$P_RESUME" 20
printf 'NOOP\nQUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$P_RESUME -crlf -sess_out "$PT_T/sess" >/dev/null
out=$(printf 'NOOP\nQUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$P_RESUME -crlf -sess_in "$PT_T/sess")
pt_check session_reused grep -q '^Reused, TLSv1.3' <<<"$out"
pt_check session_reused_logged pt_wait "grep -q 'Anonymous TLS connection reused from localhost\[127.0.0.1\]' $PT_T/maillog" 10

# ---- pipelined plaintext after STARTTLS is discarded ----------------------
out=$(pt_py "$PT_PORT" <<'EOP'
import socket, ssl, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO c.example\r\n")
while not f.readline().startswith(b"250 "):
    pass
s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@evil.example>\r\n")
print("starttls:", f.readline().decode().rstrip())
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
t = ctx.wrap_socket(s)
g = t.makefile("rb")
t.sendall(b"EHLO c.example\r\n")
while not g.readline().startswith(b"250 "):
    pass
t.sendall(b"RCPT TO:<alice@example.test>\r\n")
print("rcpt:", g.readline().decode().rstrip())
t.sendall(b"QUIT\r\n")
print("quit:", g.readline().decode().rstrip())
EOP
)
pt_check injection_starttls_220 grep -q '^starttls: 220 2.0.0 Ready to start TLS$' <<<"$out"
pt_check injection_discarded grep -q '^rcpt: 503 5.5.1 Error: need MAIL command$' <<<"$out"
pt_check injection_logged pt_wait "grep -q 'discarding 35 bytes of plaintext sent after STARTTLS by localhost\[127.0.0.1\]' $PT_T/maillog" 10

# ---- smtps (wrapper mode) -------------------------------------------------
out=$(printf 'EHLO c.example\nQUIT\n' | pt_sclient -connect 127.0.0.1:$P_SMTPS -brief -crlf)
pt_check smtps_sclient_banner grep -q '^220 mail.example.test ESMTP' <<<"$out"
pt_check smtps_no_starttls_keyword bash -c '! grep -q "STARTTLS" <<<"$1"' _ "$out"
out=$(pt_py "$P_SMTPS" <<'EOP'
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP_SSL("127.0.0.1", int(sys.argv[1]), timeout=20, context=ctx)
s.ehlo("client.example.test")
s.sendmail("sender@example.org", ["carol@example.test"], "Subject: smtps\r\n\r\nwrapped\r\n")
print("sent")
s.quit()
EOP
)
pt_check smtps_smtplib_send grep -q '^sent$' <<<"$out"
out=$(pt_py "$P_SMTPS" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
s.sendall(b"EHLO plaintext.example\r\n")
data = s.recv(100)
print("plain:", data[:4])
EOP
)
pt_check smtps_plaintext_refused bash -c '! grep -q "220 " <<<"$1"' _ "$out"

# ---- encrypt level ----------------------------------------------------------
out=$(pt_py "$P_ENC" <<'EOP'
import smtplib, ssl, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("c.example")
print("mail:", *s.docmd("MAIL", "FROM:<a@example.org>"))
print("rcpt:", *s.docmd("RCPT", "TO:<alice@example.test>"))
print("noop:", *s.docmd("NOOP"))
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s.starttls(context=ctx)
s.ehlo("c.example")
print("mail_tls:", *s.docmd("MAIL", "FROM:<a@example.org>"))
s.quit()
EOP
)
pt_check encrypt_mail_530 grep -q "^mail: 530 b'5.7.0 Must issue a STARTTLS command first'$" <<<"$out"
pt_check encrypt_rcpt_530 grep -q "^rcpt: 530 b'5.7.0 Must issue a STARTTLS command first'$" <<<"$out"
pt_check encrypt_noop_ok grep -q "^noop: 250 " <<<"$out"
pt_check encrypt_mail_after_tls grep -q "^mail_tls: 250 b'2.1.0 Ok'$" <<<"$out"

# ---- client certificates ----------------------------------------------------
pt_wait_smtp "$P_REQ" 20
out=$(printf 'EHLO c.example\nQUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$P_REQ -crlf -quiet)
pt_check req_ccert_none_421 grep -q '^421 4.7.1 mail.example.test Error: No client certificate presented' <<<"$out"
out=$(printf 'EHLO c.example\nQUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$P_REQ -crlf -quiet -cert "$TLS/rogue.pem" -key "$TLS/rogue.key")
pt_check req_ccert_untrusted_421 grep -q '^421 4.7.1 mail.example.test Error: Client certificate not trusted' <<<"$out"
out=$(printf 'EHLO c.example\nQUIT\n' | pt_sclient -starttls smtp -connect 127.0.0.1:$P_REQ -crlf -quiet -cert "$TLS/client.pem" -key "$TLS/client.key")
pt_check req_ccert_trusted_ok grep -q '^250-mail.example.test' <<<"$out"
pt_check req_ccert_trusted_log pt_wait "grep -q 'Trusted TLS connection established from localhost\[127.0.0.1\]' $PT_T/maillog" 10
pt_check req_ccert_abort_log grep -q 'NOQUEUE: abort: TLS from localhost\[127.0.0.1\]: No client certificate presented' "$PT_T/maillog"
pt_wait_smtp "$P_ASK" 20
out=$(pt_py "$P_ASK" <<'EOP'
import smtplib, ssl, sys
port, tls = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
ctx.load_cert_chain(tls + "/client.pem", tls + "/client.key")
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.starttls(context=ctx)
s.ehlo("client.example.test")
s.sendmail("sender@example.org", ["bob@example.test"], "Subject: ccert\r\n\r\nwith a certificate\r\n")
print("sent")
s.quit()
EOP
)
pt_check ask_ccert_send grep -q '^sent$' <<<"$out"
pt_wait 'grep -lq "Subject: ccert" $PT_HOMES/bob/Maildir/new/* 2>/dev/null' 30
msg=$(grep -l "Subject: ccert" "$PT_HOMES"/bob/Maildir/new/* 2>/dev/null | head -1 | xargs cat 2>/dev/null)
pt_check received_ccert_verified grep -q $'^\t(Client CN "client.example.test", Issuer "Test CA" (verified OK))$' <<<"$msg"

pt_done
