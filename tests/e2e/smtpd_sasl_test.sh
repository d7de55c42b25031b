#!/bin/bash
# smtpd_sasl_test.sh - SMTP AUTH against a real instance: Cyrus SASL with a
# sasldb made by saslpasswd2 (PLAIN, LOGIN, CRAM-MD5, good and bad
# passwords, swaks and Python smtplib), the AUTH command's errors, relay
# control with permit_sasl_authenticated, the sender/login restrictions,
# the AUTH= parameter, the Received: and log lines, the flurdy submission
# service, TLS-only AUTH, and smtpd_sasl_type = dovecot against a real
# Dovecot auth service.
. "$(dirname "$0")/lib.sh"
command -v saslpasswd2 >/dev/null || { echo "SKIP: saslpasswd2 missing (sasl2-bin)"; exit 0; }
pt_setup_users; pt_clean_homes
pt_instance
PW=s3cret-Pass
SASLDIR=$PT_T/sasl
mkdir -p "$SASLDIR"
echo "$PW" | saslpasswd2 -p -c -f "$SASLDIR/sasldb2" -u example.test alice
echo "other-$PW" | saslpasswd2 -p -c -f "$SASLDIR/sasldb2" -u example.test bob
chown postfix "$SASLDIR/sasldb2"; chmod 600 "$SASLDIR/sasldb2"
cat > "$SASLDIR/smtpd.conf" <<EOM
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $SASLDIR/sasldb2
mech_list: PLAIN LOGIN CRAM-MD5
EOM
printf 'alice@example.test alice@example.test\nshared@example.test alice@example.test, bob@example.test\n' > "$PT_CONF/login_map"
sed -i 's|^mynetworks = .*|mynetworks = 192.0.2.0/24|' "$PT_CONF/main.cf"
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_sasl_auth_enable = yes
cyrus_sasl_config_path = $SASLDIR
smtpd_sasl_local_domain = example.test
smtpd_sasl_authenticated_header = yes
smtpd_relay_restrictions = permit_sasl_authenticated, reject_unauth_destination
smtpd_sender_login_maps = texthash:$PT_CONF/login_map
EOM

# pt_chat LINE...: one SMTP line at a time, waiting for each complete reply;
# prints every reply line. "B64:text" sends base64 of text (\0 = NUL);
# "CRAM:user:pass" answers the last 334 challenge for CRAM-MD5; "NOWAIT:text"
# sends text without waiting for a reply (message content).
pt_chat() {
    python3 - "${PT_CHAT_PORT:-$PT_PORT}" "$@" <<'EOP'
import base64, hmac, hashlib, socket, sys
port, lines = int(sys.argv[1]), sys.argv[2:]
s = socket.create_connection(("127.0.0.1", port), timeout=15)
f = s.makefile("rb")
def reply():
    out = []
    while True:
        l = f.readline().decode("latin1")
        if not l:
            out.append("(connection closed)"); break
        out.append(l.rstrip("\r\n"))
        if len(l) < 4 or l[3] != "-":
            break
    print("\n".join(out), flush=True)
    return out[-1]
last = reply()
for line in lines:
    if line.startswith("B64:"):
        raw = line[4:].replace("\\0", "\0").encode()
        line = base64.b64encode(raw).decode()
    elif line.startswith("CRAM:"):
        _, user, pw = line.split(":", 2)
        chal = base64.b64decode(last[4:])
        dig = hmac.new(pw.encode(), chal, hashlib.md5).hexdigest()
        line = base64.b64encode(f"{user} {dig}".encode()).decode()
    if line.startswith("NOWAIT:"):
        s.sendall(line[7:].encode() + b"\r\n")
        continue
    s.sendall(line.encode() + b"\r\n")
    last = reply()
    if last == "(connection closed)":
        break
EOP
}

# pt_lacks PATTERN TEXT: true when no line of TEXT matches PATTERN.
pt_lacks() { ! grep -q -- "$1" <<<"$2"; }
# pt_has_mechs TEXT MECH...: the EHLO "250-AUTH ..." line of TEXT lists each MECH.
pt_has_mechs() {
    local line m; line=$(grep '^250-AUTH ' <<<"$1") || return 1; shift
    for m in "$@"; do grep -qw -- "$m" <<<"$line" || return 1; done
}

# pt_smtplib USER PASS MECH FROM TO: logs in with smtplib (MECH: PLAIN,
# LOGIN or CRAM-MD5) and sends; prints "auth CODE" and the send result.
pt_smtplib() {
    python3 - "${PT_CHAT_PORT:-$PT_PORT}" "$@" <<'EOP'
import smtplib, sys
port, user, pw, mech, frm, to = int(sys.argv[1]), *sys.argv[2:7]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
s.user, s.password = user, pw
try:
    code, msg = s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")))
    print("auth", code)
except smtplib.SMTPAuthenticationError as e:
    print("auth", e.smtp_code, e.smtp_error.decode())
    s.quit(); sys.exit(0)
try:
    s.sendmail(frm, [to], "Subject: sasl\r\n\r\nhello\r\n")
    print("send 250")
except smtplib.SMTPRecipientsRefused as e:
    for r, (code, msg) in e.recipients.items():
        print("send", code, msg.decode())
except smtplib.SMTPResponseException as e:
    print("send", e.smtp_code, e.smtp_error.decode())
s.quit()
EOP
}

pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# ---- EHLO and the mechanisms from the library ----
out=$(pt_chat 'EHLO client.example.test' 'QUIT')
pt_check ehlo_auth grep -q '^250-AUTH PLAIN LOGIN CRAM-MD5$\|^250-AUTH .*PLAIN' <<<"$out"
pt_check ehlo_auth_all_mechs pt_has_mechs "$out" PLAIN LOGIN CRAM-MD5
pt_check ehlo_no_auth_eq pt_lacks '^250-AUTH=' "$out"

# ---- PLAIN, LOGIN, CRAM-MD5: good and bad passwords (raw dialogue) ----
out=$(pt_chat 'EHLO c.example' "AUTH PLAIN $(printf '\0alice\0%s' "$PW" | base64 -w0)" 'QUIT')
pt_check plain_initial_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
out=$(pt_chat 'EHLO c.example' 'AUTH PLAIN' "B64:\\0alice\\0$PW" 'QUIT')
pt_check plain_empty_challenge grep -q '^334 $' <<<"$out"
pt_check plain_continued_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
out=$(pt_chat 'EHLO c.example' "AUTH PLAIN $(printf '\0alice\0wrong' | base64 -w0)" 'QUIT')
pt_check plain_bad_535 grep -q '^535 5.7.8 Error: authentication failed: authentication failure$' <<<"$out"
pt_check plain_bad_logged pt_wait "grep -q 'warning: localhost\[127.0.0.1\]: SASL PLAIN authentication failed: authentication failure, sasl_username=' $PT_T/maillog" 10
out=$(pt_chat 'EHLO c.example' 'AUTH LOGIN' 'B64:alice' "B64:$PW" 'QUIT')
pt_check login_user_prompt grep -q '^334 VXNlcm5hbWU6$' <<<"$out"
pt_check login_pass_prompt grep -q '^334 UGFzc3dvcmQ6$' <<<"$out"
pt_check login_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
out=$(pt_chat 'EHLO c.example' 'AUTH LOGIN' 'B64:alice' 'B64:nope' 'QUIT')
pt_check login_bad_535 grep -q '^535 5.7.8 Error: authentication failed: authentication failure$' <<<"$out"
pt_check login_bad_logged pt_wait "grep -q 'SASL LOGIN authentication failed: authentication failure' $PT_T/maillog" 10
out=$(pt_chat 'EHLO c.example' 'AUTH CRAM-MD5' "CRAM:alice:$PW" 'QUIT')
pt_check cram_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
out=$(pt_chat 'EHLO c.example' 'AUTH CRAM-MD5' 'CRAM:alice:wrong' 'QUIT')
pt_check cram_bad_535 grep -q '^535 5.7.8 Error: authentication failed: ' <<<"$out"

# ---- swaks and smtplib ----
sw() { swaks --server 127.0.0.1 --port "${PT_CHAT_PORT:-$PT_PORT}" --helo client.example.test \
    --from alice@example.test --to "${SW_TO:-someone@elsewhere.example}" --timeout 30 "$@" 2>&1; }
for m in PLAIN LOGIN CRAM-MD5; do
    out=$(SW_TO=bob@example.test sw --auth "$m" --auth-user alice --auth-password "$PW")
    pt_check "swaks_${m}_ok" grep -q '^<-  235 2.7.0 Authentication successful' <<<"$out"
    out=$(sw --auth "$m" --auth-user alice --auth-password wrong-password)
    pt_check "swaks_${m}_bad" grep -q '^<\*\* 535 5.7.8 Error: authentication failed' <<<"$out"
    out=$(pt_smtplib alice "$PW" "$m" alice@example.test bob@example.test)
    pt_check "smtplib_${m}_ok" grep -q '^auth 235' <<<"$out"
    out=$(pt_smtplib alice wrong "$m" alice@example.test bob@example.test)
    pt_check "smtplib_${m}_bad" grep -q '^auth 535 5.7.8 Error: authentication failed' <<<"$out"
done

# ---- relay control: authenticated relay allowed, unauthenticated refused ----
out=$(pt_smtplib alice "$PW" PLAIN alice@example.test friend@elsewhere.example)
pt_check auth_relay_allowed grep -q '^send 250' <<<"$out"
out=$(pt_chat 'EHLO c.example' 'MAIL FROM:<alice@example.test>' 'RCPT TO:<friend@elsewhere.example>' 'QUIT')
pt_check unauth_relay_refused grep -q '^554 5.7.1 <friend@elsewhere.example>: Relay access denied$' <<<"$out"
out=$(SW_TO=friend@elsewhere.example sw)
pt_check swaks_unauth_relay_refused grep -q '^<\*\* 554 5.7.1 <friend@elsewhere.example>: Relay access denied' <<<"$out"
pt_check client_line_sasl pt_wait "grep -q ': client=localhost\[127.0.0.1\], sasl_method=PLAIN, sasl_username=alice@example.test$' $PT_T/maillog" 10

# ---- AUTH command errors ----
out=$(pt_chat 'EHLO c.example' 'AUTH' 'AUTH PLAIN a b' 'AUTH NOSUCH' 'AUTH PLAIN' '*' \
    'MAIL FROM:<x@example.org>' 'AUTH PLAIN' 'RSET' \
    "AUTH PLAIN $(printf '\0alice\0%s' "$PW" | base64 -w0)" 'AUTH LOGIN' 'QUIT')
pt_check auth_syntax [ "$(grep -c '^501 5.5.4 Syntax: AUTH mechanism$' <<<"$out")" = 2 ]
pt_check auth_unknown_mech grep -q '^535 5.7.8 Error: authentication failed: no mechanism available$' <<<"$out"
pt_check auth_abort grep -q '^501 5.7.0 Authentication aborted$' <<<"$out"
pt_check auth_abort_logged pt_wait "grep -q 'warning: localhost\[127.0.0.1\]: SASL PLAIN authentication aborted' $PT_T/maillog" 10
pt_check auth_in_mail grep -q '^503 5.5.1 Error: MAIL transaction in progress$' <<<"$out"
pt_check auth_twice grep -q '^503 5.5.1 Error: already authenticated$' <<<"$out"
long=$(head -c 20000 /dev/zero | tr '\0' 'A')
out=$(pt_chat 'EHLO c.example' 'AUTH PLAIN' "$long" 'NOOP' 'QUIT')
pt_check auth_response_limit grep -q '^500 5.5.6 SASL response limit exceeded$' <<<"$out"
pt_check auth_after_limit_serving grep -q '^250 2.0.0 Ok$' <<<"$out"
out=$(pt_chat 'EHLO c.example' 'AUTH PLAIN !!!notbase64' 'QUIT')
pt_check auth_bad_base64 grep -q '^535 5.7.8 Error: authentication failed: ' <<<"$out"

# Authentication failures count towards the error limits.
pt_stop
echo 'smtpd_hard_error_limit = 3' >> "$PT_CONF/main.cf"
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
bad="AUTH PLAIN $(printf '\0alice\0wrong' | base64 -w0)"
out=$(pt_chat 'EHLO c.example' "$bad" "$bad" "$bad" 'NOOP')
pt_check auth_errors_counted grep -q '^421 4.7.0 mail.example.test Error: too many errors$' <<<"$out"
pt_check auth_errors_log pt_wait "grep -q 'too many errors after AUTH from localhost\[127.0.0.1\]' $PT_T/maillog" 10
sed -i '/^smtpd_hard_error_limit = 3$/d' "$PT_CONF/main.cf"

# ---- sender/login restrictions and AUTH= ----
pt_stop
cat >> "$PT_CONF/main.cf" <<EOM
smtpd_sender_restrictions = reject_sender_login_mismatch
broken_sasl_auth_clients = yes
EOM
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
out=$(pt_chat 'EHLO c.example' 'QUIT')
pt_check broken_clients_auth_eq grep -q '^250-AUTH=PLAIN LOGIN CRAM-MD5$\|^250-AUTH=.*PLAIN' <<<"$out"
AUTHA="AUTH PLAIN $(printf '\0alice\0%s' "$PW" | base64 -w0)"
out=$(pt_chat 'EHLO c.example' "$AUTHA" 'MAIL FROM:<alice@example.test>' 'RCPT TO:<bob@example.test>' 'RSET' \
    'MAIL FROM:<shared@example.test>' 'RCPT TO:<bob@example.test>' 'RSET' \
    'MAIL FROM:<carol@example.test>' 'RCPT TO:<bob@example.test>' 'QUIT')
pt_check login_owner_ok [ "$(grep -c '^250 2.1.5 Ok$' <<<"$out")" = 2 ]
pt_check login_not_owner grep -q '^553 5.7.1 <carol@example.test>: Sender address rejected: not owned by user alice@example.test$' <<<"$out"
out=$(pt_chat 'EHLO c.example' 'MAIL FROM:<alice@example.test>' 'RCPT TO:<bob@example.test>' 'RSET' \
    'MAIL FROM:<carol@example.test>' 'RCPT TO:<bob@example.test>' 'QUIT')
pt_check login_unauth_rejected grep -q '^553 5.7.1 <alice@example.test>: Sender address rejected: not logged in$' <<<"$out"
pt_check login_unauth_unknown_ok grep -q '^250 2.1.5 Ok$' <<<"$out"

# AUTH= on MAIL FROM is accepted and recorded; a second one is refused.
out=$(pt_chat 'EHLO c.example' "$AUTHA" 'MAIL FROM:<alice@example.test> AUTH=alice+40example.test' \
    'RCPT TO:<bob@example.test>' 'DATA' 'NOWAIT:Subject: auth param' 'NOWAIT:' 'NOWAIT:body' '.' \
    'MAIL FROM:<alice@example.test> AUTH=a+40b AUTH=<>' 'QUIT')
pt_check mail_auth_param grep -q '^250 2.0.0 Ok: queued as' <<<"$out"
pt_check mail_auth_twice grep -q '^503 5.5.4 Error: multiple AUTH= options$' <<<"$out"
pt_check mail_auth_logged pt_wait "grep -q 'sasl_method=PLAIN, sasl_username=alice@example.test, sasl_sender=alice+40example.test' $PT_T/maillog" 10
pt_wait_queue_empty 30
f=$(grep -l 'Subject: auth param' $PT_HOMES/bob/Maildir/new/* 2>/dev/null | head -1)
pt_check received_auth_header grep -q '^	(Authenticated sender: alice@example.test)$' "${f:-/dev/null}"
pt_check received_esmtpa grep -q 'with ESMTPA id' "${f:-/dev/null}"

# ---- per-service settings: the flurdy submission service (port replaced),
# a plaintext service with noplaintext, and a plain smtp port without AUTH ----
pt_stop
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.test \
    -keyout "$PT_T/key.pem" -out "$PT_T/cert.pem" >/dev/null 2>&1
SUB_PORT=$(pt_free_port); NOPT_PORT=$(pt_free_port); EXC_PORT=$(pt_free_port); DOVE_PORT=$(pt_free_port)
sed -i -e 's/^smtpd_sasl_auth_enable = yes$/smtpd_sasl_auth_enable = no/' \
    -e '/^smtpd_sender_restrictions = /d' -e '/^broken_sasl_auth_clients = /d' "$PT_CONF/main.cf"
cat >> "$PT_CONF/main.cf" <<EOM
smtpd_tls_security_level = may
smtpd_tls_cert_file = $PT_T/cert.pem
smtpd_tls_key_file = $PT_T/key.pem
EOM
if pt_have_ref; then
    sed -n '/^submission inet/,/^smtps inet/p' "$PT_REF/flurdy/master.cf.additions" \
        | sed -e '$d' -e "s/^submission inet/127.0.0.1:$SUB_PORT inet/" >> "$PT_CONF/master.cf"
else
    # No shared/ beside this clone: the same entry as the flurdy reference has.
    pt_skip flurdy_submission_verbatim "no reference configurations; using an equivalent entry"
    cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$SUB_PORT inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_tls_auth_only=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject_unauth_destination,reject
  -o smtpd_sasl_security_options=noanonymous,noplaintext
  -o smtpd_sasl_tls_security_options=noanonymous
EOM
fi
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$NOPT_PORT inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_security_options=noanonymous,noplaintext
127.0.0.1:$EXC_PORT inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_exceptions_networks=127.0.0.0/8
  -o smtpd_sasl_mechanism_filter=login,cram-md5
127.0.0.1:$DOVE_PORT inet n - n - - smtpd
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_sasl_type=dovecot
  -o smtpd_sasl_path=private/auth
EOM
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
pt_wait_smtp "$SUB_PORT" 20; pt_wait_smtp "$NOPT_PORT" 20; pt_wait_smtp "$EXC_PORT" 20

out=$(pt_chat 'EHLO c.example' "$AUTHA" 'QUIT')
pt_check smtp_port_no_auth pt_lacks '^250-AUTH' "$out"
pt_check smtp_port_auth_disabled grep -q '^503 5.5.1 Error: authentication not enabled$' <<<"$out"

out=$(PT_CHAT_PORT=$NOPT_PORT pt_chat 'EHLO c.example' "$AUTHA" 'AUTH CRAM-MD5' "CRAM:alice:$PW" 'QUIT')
pt_check noplaintext_ehlo grep -q '^250-AUTH CRAM-MD5$' <<<"$out"
pt_check noplaintext_plain_refused grep -q '^535 5.7.8 Error: authentication failed: no mechanism available$' <<<"$out"
pt_check noplaintext_cram_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"

out=$(PT_CHAT_PORT=$EXC_PORT pt_chat 'EHLO c.example' 'AUTH LOGIN' 'B64:alice' "B64:$PW" 'QUIT')
pt_check exceptions_not_announced pt_lacks '^250-AUTH' "$out"
pt_check exceptions_auth_still_works grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
out=$(PT_CHAT_PORT=$EXC_PORT pt_chat 'EHLO c.example' "$AUTHA" 'QUIT')
pt_check mech_filter_refuses_plain grep -q '^535 5.7.8 Error: authentication failed: no mechanism available$' <<<"$out"

# Submission: smtpd_tls_auth_only hides AUTH before STARTTLS and refuses it.
out=$(PT_CHAT_PORT=$SUB_PORT pt_chat 'EHLO c.example' "$AUTHA" 'QUIT')
pt_check submission_no_auth_plaintext pt_lacks '^250-AUTH' "$out"
pt_check submission_starttls_offered grep -q '^250-STARTTLS$' <<<"$out"
pt_check submission_auth_needs_tls grep -q '^504 5.5.4 Encryption required for requested authentication mechanism$' <<<"$out"
# TLS-only AUTH: after STARTTLS, smtpd_sasl_tls_security_options (noanonymous)
# allow PLAIN and LOGIN again.
out=$(timeout 60 swaks --server 127.0.0.1 --port "$SUB_PORT" --tls --helo client.example.test \
    --from alice@example.test --to bob@example.test --header 'Subject: tls auth' --auth PLAIN \
    --auth-user alice --auth-password "$PW" 2>&1)
pt_check submission_tls_started grep -q 'TLS started' <<<"$out"
pt_check submission_tls_auth_offered grep -q '^<~  250-AUTH PLAIN LOGIN CRAM-MD5$' <<<"$out"
pt_check submission_tls_auth_ok grep -q '^<~  235 2.7.0 Authentication successful' <<<"$out"
pt_check submission_tls_queued grep -q '^<~  250 2.0.0 Ok: queued as' <<<"$out"
out=$(timeout 60 swaks --server 127.0.0.1 --port "$SUB_PORT" --tls --helo client.example.test \
    --from alice@example.test --to friend@elsewhere.example --auth LOGIN --auth-user alice \
    --auth-password wrong 2>&1)
pt_check submission_tls_bad_password grep -q '^<~\* 535 5.7.8 Error: authentication failed' <<<"$out"
out=$(timeout 60 swaks --server 127.0.0.1 --port "$SUB_PORT" --tls --helo client.example.test \
    --from alice@example.test --to friend@elsewhere.example 2>&1)
pt_check submission_tls_unauth_refused grep -q '^<~\* 554 5.7.1 <friend@elsewhere.example>: Relay access denied' <<<"$out"
pt_check submission_delivered pt_wait "grep -lq 'Subject: tls auth' $PT_HOMES/bob/Maildir/new/* 2>/dev/null" 30
f=$(grep -l 'Subject: tls auth' $PT_HOMES/bob/Maildir/new/* 2>/dev/null | head -1)
pt_check submission_received_esmtpsa grep -q 'with ESMTPSA id' "${f:-/dev/null}"
pt_check submission_received_auth_sender grep -q '^	(Authenticated sender: alice@example.test)$' "${f:-/dev/null}"

# ---- smtpd_sasl_type = dovecot, against a real Dovecot auth service ----
if ! command -v dovecot >/dev/null; then
    echo "SKIP dovecot cases: dovecot (Debian dovecot-core) is not installed"
    pt_done; exit
fi
DV=$PT_T/dovecot
mkdir -p "$DV"; chmod 755 "$DV"
printf 'alice:{PLAIN}%s\n' "$PW" > "$DV/passwd"; chmod 644 "$DV/passwd"
cat > "$DV/dovecot.conf" <<EOM
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
protocols =
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login cram-md5
auth_failure_delay = 0
default_internal_user = dovecot
default_login_user = dovenull
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $DV/passwd
}
userdb {
  driver = static
  args = uid=postfix gid=postfix home=/nonexistent
}
service auth {
  unix_listener $PT_T/spool/private/auth {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOM
# Its own session: Dovecot's master signals its whole process group on exit.
setsid dovecot -F -c "$DV/dovecot.conf" >"$DV/stdout" 2>&1 &
DOVE_PID=$!
PT_PIDS+=("$DOVE_PID")
if ! pt_wait "[ -S $PT_T/spool/private/auth ]" 20; then
    pt_fail dovecot_start "dovecot did not create its auth socket: $(cat "$DV/stdout" "$DV/dovecot.log" 2>/dev/null | tail -5)"
else
    export PT_CHAT_PORT=$DOVE_PORT
    out=$(pt_chat 'EHLO c.example' 'QUIT')
    pt_check dovecot_ehlo pt_has_mechs "$out" PLAIN LOGIN CRAM-MD5
    out=$(pt_chat 'EHLO c.example' "$(printf 'AUTH PLAIN %s' "$(printf '\0alice\0%s' "$PW" | base64 -w0)")" 'QUIT')
    pt_check dovecot_plain_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
    out=$(pt_chat 'EHLO c.example' "$(printf 'AUTH PLAIN %s' "$(printf '\0alice\0bad' | base64 -w0)")" 'QUIT')
    pt_check dovecot_plain_bad grep -q '^535 5.7.8 Error: authentication failed: ' <<<"$out"
    out=$(pt_chat 'EHLO c.example' 'AUTH LOGIN' 'B64:alice' 'B64:bad' 'QUIT')
    pt_check dovecot_login_bad grep -q '^535 5.7.8 Error: authentication failed: UGFzc3dvcmQ6$' <<<"$out"
    pt_check dovecot_login_bad_logged pt_wait "grep -q 'warning: localhost\[127.0.0.1\]: SASL LOGIN authentication failed: UGFzc3dvcmQ6, sasl_username=alice$' $PT_T/maillog" 10
    out=$(pt_chat 'EHLO c.example' 'AUTH LOGIN' 'B64:alice' "B64:$PW" 'QUIT')
    pt_check dovecot_login_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
    out=$(pt_chat 'EHLO c.example' 'AUTH CRAM-MD5' "CRAM:alice:$PW" 'QUIT')
    pt_check dovecot_cram_ok grep -q '^235 2.7.0 Authentication successful$' <<<"$out"
    out=$(pt_chat 'EHLO c.example' 'AUTH NOSUCH' 'AUTH PLAIN ***' 'QUIT')
    pt_check dovecot_unknown_mech grep -q '^535 5.7.8 Error: authentication failed: Invalid authentication mechanism$' <<<"$out"
    pt_check dovecot_bad_base64 grep -q '^535 5.7.8 Error: authentication failed: Invalid base64 data in initial response$' <<<"$out"
    for m in PLAIN LOGIN CRAM-MD5; do
        out=$(sw --auth "$m" --auth-user alice --auth-password "$PW")
        pt_check "dovecot_swaks_${m}_relay" grep -q '^<-  250 2.0.0 Ok: queued as' <<<"$out"
        out=$(pt_smtplib alice wrong "$m" alice@example.test friend@elsewhere.example)
        pt_check "dovecot_smtplib_${m}_bad" grep -q '^auth 535 5.7.8 Error: authentication failed' <<<"$out"
    done
    out=$(sw)
    pt_check dovecot_unauth_relay_refused grep -q '^<\*\* 554 5.7.1 <someone@elsewhere.example>: Relay access denied' <<<"$out"
    pt_check dovecot_client_line pt_wait "grep -q ': client=localhost\[127.0.0.1\], sasl_method=CRAM-MD5, sasl_username=alice$' $PT_T/maillog" 10
    # Dovecot going away: a temporary failure, and the server keeps serving.
    # The auth process outlives its master while it has clients: stop
    # Dovecot's children (by PID) along with it.
    dove_pids="$DOVE_PID $(ps -o pid= --ppid "$DOVE_PID" | tr '\n' ' ')"
    kill $dove_pids 2>/dev/null; wait "$DOVE_PID" 2>/dev/null
    dove_gone() { local p; for p in $dove_pids; do kill -0 "$p" 2>/dev/null && return 1; done; return 0; }
    pt_check dovecot_stopped pt_wait dove_gone 10
    out=$(pt_chat 'EHLO c.example' "$(printf 'AUTH PLAIN %s' "$(printf '\0alice\0%s' "$PW" | base64 -w0)")" 'NOOP' 'QUIT')
    pt_check dovecot_gone_no_auth_success pt_lacks '^235' "$out"
    pt_check dovecot_gone_temp_failure grep -q "^454 4.7.0 Temporary authentication failure: Can't connect to authentication server$" <<<"$out"
    pt_check dovecot_gone_still_serving grep -q '^250 2.0.0 Ok$' <<<"$out"
    unset PT_CHAT_PORT
fi

pt_done
