#!/usr/bin/env bash
# milter_opendkim_test.sh - opendkim (Debian opendkim) as a real milter:
# as smtpd_milters on a submission-like service whose
# milter_macro_daemon_name is ORIGINATING (opendkim's MTA option signs mail
# that carries that {daemon_name}), and as non_smtpd_milters signing mail
# from sendmail (pickup service with the same daemon name). Mail on the
# plain port (default {daemon_name}) is not signed. Each signature is
# verified with dkimpy (Debian python3-dkim) against the TXT record made
# from the key.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
OPENDKIM=$(command -v opendkim || echo /usr/sbin/opendkim)
if [ ! -x "$OPENDKIM" ]; then
    pt_fail opendkim_missing "opendkim is not installed (Debian opendkim)"; pt_done; exit 1
fi
$PY -c 'import dkim' 2>/dev/null ||
    { pt_fail dkimpy_missing "python3-dkim is not installed"; pt_done; exit 1; }
SM=$PT_BUILD/sbin/sendmail
pt_setup_users; pt_clean_homes
pt_instance
K=$PT_T/opendkim
mkdir -p "$K"
openssl genrsa -out "$K/key.pem" 2048 2>/dev/null
RSA_PUB=$(openssl rsa -in "$K/key.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
echo "mil1._domainkey.example.test. v=DKIM1; k=rsa; p=$RSA_PUB" > "$K/dns.txt"
DPORT=$(pt_free_port)
cat > "$K/opendkim.conf" <<EOM
Syslog no
Mode sv
Domain example.test
Selector mil1
KeyFile $K/key.pem
RequireSafeKeys false
Canonicalization relaxed/relaxed
Socket inet:$DPORT@127.0.0.1
PidFile $K/opendkim.pid
InternalHosts 192.0.2.1
MTA ORIGINATING
UserID postfix
EOM
chown -R postfix "$K"; chmod 600 "$K/key.pem"
"$OPENDKIM" -f -x "$K/opendkim.conf" >"$K/opendkim.log" 2>&1 &
PT_PIDS+=($!)
pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $DPORT), 1)' 2>/dev/null" 20 ||
    { cat "$K/opendkim.log"; pt_fail opendkim_start "opendkim did not listen"; pt_done; exit 1; }

SUB=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_milters = inet:127.0.0.1:$DPORT
non_smtpd_milters = inet:127.0.0.1:$DPORT
milter_default_action = tempfail
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$SUB inet n - n - - smtpd -o milter_macro_daemon_name=ORIGINATING
EOM
# pickup gets the same daemon name (a -o on its master.cf line).
sed -i -E 's/^(pickup +unix .*pickup)$/\1 -o milter_macro_daemon_name=ORIGINATING/' "$PT_CONF/master.cf"
grep -q '^pickup .*ORIGINATING' "$PT_CONF/master.cf" ||
    { pt_fail pickup_line "no pickup line to add -o to"; pt_done; exit 1; }
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

send() {
    $PY - "$1" "$2" <<'EOP'
import smtplib, sys
port, subj = int(sys.argv[1]), sys.argv[2]
body = ("From: Bob <bob@example.test>\r\nTo: Alice <alice@example.test>\r\nSubject: %s\r\n"
        "Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@client.example.test>\r\n\r\n"
        "Hello  Alice,\r\n  indented   line \r\n\r\nbye\r\n") % (subj, subj.replace(' ', '.'))
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
s.ehlo("client.example.test")
s.sendmail("bob@example.test", ["alice@example.test"], body)
s.quit()
print("250 ok")
EOP
}
msg() { grep -l "^Subject: $1\$" "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | head -1; }
# verify FILE: prints one "d=DOMAIN a=ALG ok|fail" line per DKIM-Signature.
verify() { $PY "$PT_ROOT/tests/e2e/dkim_verify.py" "$1" "$K/dns.txt"; }

r=$(send "$SUB" "submission signed")
pt_check submission_accepted [ "$r" = "250 ok" ]
pt_wait '[ -n "$(msg "submission signed")" ]' 30
f=$(msg "submission signed")
pt_check submission_has_signature grep -q '^DKIM-Signature:.*d=example.test' <<<"$(tr -d '\n' < "${f:-/dev/null}" | sed 's/DKIM-Sig/\nDKIM-Sig/g')"
pt_check submission_signature_verifies [ "$(verify "${f:-/dev/null}" 2>&1)" = "d=example.test a=rsa-sha256 ok" ]

r=$(send "$PT_PORT" "plain port")
pt_wait '[ -n "$(msg "plain port")" ]' 30
f=$(msg "plain port")
pt_check plain_port_delivered [ -n "$f" ]
pt_check plain_port_not_signed bash -c '! grep -q "^DKIM-Signature:" "$1"' _ "${f:-/dev/null}"

printf 'From: Bob <bob@example.test>\nTo: Alice <alice@example.test>\nSubject: sendmail signed\n\nlocal body\n' |
    "$SM" -f bob@example.test alice@example.test
pt_wait '[ -n "$(msg "sendmail signed")" ]' 30
f=$(msg "sendmail signed")
pt_check sendmail_has_signature grep -q '^DKIM-Signature:' "${f:-/dev/null}"
pt_check sendmail_signature_verifies [ "$(verify "${f:-/dev/null}" 2>&1)" = "d=example.test a=rsa-sha256 ok" ]
pt_done
