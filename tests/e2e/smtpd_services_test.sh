#!/bin/bash
# smtpd_services_test.sh - per-service tuning: the submission and smtps
# entries and the content-filter re-injection listener from the reference
# master.cf.additions (flurdy), installed with only their ports changed,
# each apply their -o overrides to their own service only.
. "$(dirname "$0")/lib.sh"
pt_have_ref || { pt_skip smtpd_services_test "no reference configurations at $PT_REF"; exit 0; }
pt_setup_users; pt_clean_homes
pt_instance
P_FILTER=$(pt_free_port); P_SUB=$(pt_free_port); P_SMTPS=$(pt_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=mail.example.test -days 2 \
    -keyout "$PT_CONF/key.pem" -out "$PT_CONF/cert.pem" >/dev/null 2>&1
chmod 600 "$PT_CONF/key.pem"
# Main settings the overrides must not leak into (and vice versa): the
# loopback client is outside mynetworks here, errors are slowed down, one
# connection at a time per client.
sed -i 's|^mynetworks = .*|mynetworks = 192.0.2.0/24|; s|^smtpd_error_sleep_time = .*|smtpd_error_sleep_time = 1s|' "$PT_CONF/main.cf"
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_soft_error_limit = 1
smtpd_client_connection_count_limit = 1
smtpd_tls_cert_file = $PT_CONF/cert.pem
smtpd_tls_key_file = $PT_CONF/key.pem
EOM
sed -e "s/^127.0.0.1:10025 inet/127.0.0.1:$P_FILTER inet/" -e "s/^submission inet/127.0.0.1:$P_SUB inet/" \
    -e "s/^smtps inet/127.0.0.1:$P_SMTPS inet/" "$PT_REF/flurdy/master.cf.additions" \
    >> "$PT_CONF/master.cf"
pt_check additions_installed [ "$(grep -c "^127.0.0.1:\($P_FILTER\|$P_SUB\|$P_SMTPS\) inet" "$PT_CONF/master.cf")" = 3 ]
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
for p in $P_FILTER $P_SUB; do pt_wait_smtp "$p" 20 || pt_fail "listen_$p" "no banner on $p"; done

# pt_talk PORT 'BYTES' [tls]: one session; prints replies and, last, the
# seconds the whole exchange took.
pt_talk() {
    python3 - "$1" "$2" "${3:-}" <<'EOP'
import socket, ssl, sys, time
port, data, tls = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin1"), sys.argv[3]
t0 = time.time()
s = socket.create_connection(("127.0.0.1", port), timeout=20)
if tls:
    ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
    s = ctx.wrap_socket(s)
f = s.makefile("rb")
print(f.readline().decode().rstrip())
for cmd in data.split(b"\r\n"):
    if not cmd:
        continue
    s.sendall(cmd + b"\r\n")
    while True:
        line = f.readline().decode("latin1").rstrip()
        print(line)
        if len(line) < 4 or line[3] != "-":
            break
print("elapsed %.1f" % (time.time() - t0))
EOP
}
dialog='EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<nosuchuser@example.test>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n'

# Port 25: main.cf rules. Not in mynetworks: relay denied, unknown user
# refused, and each error after the first is delayed by 1 s.
out=$(pt_talk "$PT_PORT" "$dialog")
pt_check main_relay_denied grep -q '^454 4.7.1 <x@elsewhere.example>: Relay access denied$' <<<"$out"
pt_check main_unknown_user grep -q '^550 5.1.1 <nosuchuser@example.test>: Recipient address rejected: User unknown in local recipient table$' <<<"$out"
pt_check main_error_sleep awk '/^elapsed/ { exit !($2 >= 1.0) }' <<<"$out"

# Re-injection listener: its own mynetworks, no recipient checks, no
# error sleep.
out=$(pt_talk "$P_FILTER" "$dialog")
pt_check filter_relay_ok [ "$(grep -c '^250 2.1.5 Ok$' <<<"$out")" = 3 ]
pt_check filter_no_error_sleep awk '/^elapsed/ { exit !($2 < 1.0) }' <<<"$out"

# Connection count limit 1 on port 25, none on the filter listener.
out=$(python3 - "$PT_PORT" "$P_FILTER" <<'EOP'
import socket, sys
for port in map(int, sys.argv[1:]):
    a = socket.create_connection(("127.0.0.1", port), timeout=10); fa = a.makefile("rb"); fa.readline()
    b = socket.create_connection(("127.0.0.1", port), timeout=10)
    print(port, b.makefile("rb").readline().decode().rstrip())
    a.close(); b.close()
EOP
)
pt_check main_count_limit grep -q "^$PT_PORT 421 4.7.0 mail.example.test Error: too many connections from 127.0.0.1$" <<<"$out"
pt_check filter_no_count_limit grep -q "^$P_FILTER 220 " <<<"$out"

# Submission: without authentication the client restrictions refuse even
# local mail, and AUTH is not offered before TLS (smtpd_tls_auth_only).
out=$(pt_talk "$P_SUB" 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n')
pt_check submission_refuses_unauth grep -q '^554 5.7.1 <localhost\[127.0.0.1\]>: Client host rejected: Access denied$' <<<"$out"
pt_check submission_no_auth_before_tls bash -c "! grep -q '^250.AUTH' <<<'$out'"
# ...while port 25 takes the same local mail.
out=$(pt_talk "$PT_PORT" 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n')
pt_check main_takes_local grep -q '^250 2.1.5 Ok$' <<<"$out"

# smtps: TLS from the first byte, then the same refusal.
out=$(pt_talk "$P_SMTPS" 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n' tls)
pt_check smtps_banner_over_tls grep -q '^220 mail.example.test ESMTP' <<<"$out"
pt_check smtps_refuses_unauth grep -q '^554 5.7.1 <localhost\[127.0.0.1\]>: Client host rejected: Access denied$' <<<"$out"
pt_done
