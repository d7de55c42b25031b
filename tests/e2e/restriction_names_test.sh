#!/bin/bash
# restriction_names_test.sh - restriction words smtpd would not know are
# reported by postfix check and at start; sleep, permit_inet_interfaces
# and reject_plaintext_session work over real SMTP sessions.
#
# 1. postfix check names, at their main.cf or master.cf line, an unknown
#    word in a restriction list or class and a restriction without its
#    argument, exits 1, and leaves known words, warn_if_reject, class
#    names and arguments alone; postfix start says the same and starts.
# 2. reject_plaintext_session: 450 4.7.1 in a plaintext session (554 5.7.1
#    with plaintext_reject_code = 554), nothing after STARTTLS.
# 3. permit_inet_interfaces: a client at 127.0.0.1 (inet_interfaces) may
#    relay; one at 127.0.0.2 (not ours) may not.
# 4. sleep 1, reject_unauth_pipelining with smtpd_delay_reject = no: the
#    greeting comes after the pause; a client that spoke before it gets
#    503 5.5.0 at MAIL, a polite one 250; "sleep x" is a configuration
#    error (451 4.3.5).
# 5. A bare type:table in smtpd_sender_restrictions is check_sender_access
#    (Postfix's older form); in smtpd_data_restrictions check reports it.
# 6. smtpd_relay_before_recipient_restrictions = no: the recipient list
#    answers first.
. "$(dirname "$0")/lib.sh"

pt_instance
P_PT=$(pt_free_port); P_PT5=$(pt_free_port); P_IF=$(pt_free_port); P_SL=$(pt_free_port)
P_SLX=$(pt_free_port); P_BT=$(pt_free_port); P_RO1=$(pt_free_port); P_RO2=$(pt_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.test \
    -keyout "$PT_T/key.pem" -out "$PT_T/cert.pem" >/dev/null 2>&1
sed -i 's|^mynetworks = .*|mynetworks = 192.0.2.0/24|' "$PT_CONF/main.cf"
cat >> "$PT_CONF/main.cf" <<EOM
default_transport = discard
smtpd_tls_security_level = may
smtpd_tls_cert_file = $PT_T/cert.pem
smtpd_tls_key_file = $PT_T/key.pem
smtpd_restriction_classes = okclass, badclass
okclass = warn_if_reject reject_non_fqdn_sender, check_sender_access texthash:$PT_CONF/senders
badclass = permit_bogus_one
smtpd_relay_restrictions = permit_mynetworks, okclass, reject_unauth_destination
smtpd_helo_restrictions = reject_rbl_client
smtpd_data_restrictions = texthash:$PT_CONF/senders
EOM
: > "$PT_CONF/senders"
printf 'spam@bad.example 550 5.7.1 bare table says no\n' > "$PT_CONF/bare"
printf 'bob@remote.example 550 5.7.1 recipient list says no\n' > "$PT_CONF/rcpt_no"
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_PT inet n - n - - smtpd
  -o smtpd_recipient_restrictions=reject_plaintext_session
127.0.0.1:$P_PT5 inet n - n - - smtpd
  -o smtpd_recipient_restrictions=reject_plaintext_session
  -o plaintext_reject_code=554
127.0.0.1:$P_IF inet n - n - - smtpd
  -o smtpd_relay_restrictions=permit_inet_interfaces,reject
127.0.0.1:$P_SL inet n - n - - smtpd
  -o smtpd_delay_reject=no
  -o smtpd_client_restrictions=sleep,1,reject_unauth_pipelining
127.0.0.1:$P_SLX inet n - n - - smtpd
  -o smtpd_client_restrictions=sleep,x
  -o smtpd_sender_restrictions=frobnicate_sender
127.0.0.1:$P_BT inet n - n - - smtpd
  -o smtpd_sender_restrictions=texthash:$PT_CONF/bare
127.0.0.1:$P_RO1 inet n - n - - smtpd
  -o smtpd_relay_restrictions=reject_unauth_destination
  -o smtpd_recipient_restrictions=check_recipient_access,texthash:$PT_CONF/rcpt_no
127.0.0.1:$P_RO2 inet n - n - - smtpd
  -o smtpd_relay_restrictions=reject_unauth_destination
  -o smtpd_recipient_restrictions=check_recipient_access,texthash:$PT_CONF/rcpt_no
  -o smtpd_relay_before_recipient_restrictions=no
EOM
line_of() { grep -n "^$1" "$PT_CONF/main.cf" | tail -1 | cut -d: -f1; }
svc_line() { grep -n "^127.0.0.1:$1 " "$PT_CONF/master.cf" | cut -d: -f1; }

# ---- 1. postfix check and start -------------------------------------------
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check check_exits_1 [ "$rc" = 1 ]
pt_check check_unknown_in_class grep -q "main.cf:$(line_of badclass): badclass: unknown restriction \"permit_bogus_one\"" <<<"$out"
pt_check check_missing_argument grep -q "main.cf:$(line_of smtpd_helo_restrictions): smtpd_helo_restrictions: restriction \"reject_rbl_client\" needs an argument" <<<"$out"
pt_check check_unknown_in_service grep -q "master.cf:$(svc_line $P_SLX): service 127.0.0.1:$P_SLX: -o smtpd_sender_restrictions: unknown restriction \"frobnicate_sender\"" <<<"$out"
pt_check check_bare_table_in_data grep -q "main.cf:$(line_of smtpd_data_restrictions): smtpd_data_restrictions: a bare table \"texthash:$PT_CONF/senders\" needs check_client_access" <<<"$out"
pt_check check_four_problems_only [ "$(grep -c 'restriction "\|a bare table' <<<"$out")" = 4 ]
pt_check check_class_names_fine bash -c '! grep -v "a bare table" <<<"$1" | grep -q "okclass\\|warn_if_reject\\|texthash\\|sleep"' _ "$out"
# fixed: check passes again (the bad lines gone)
cp "$PT_CONF/main.cf" "$PT_CONF/main.cf.bad"
sed -i -e '/^smtpd_data_restrictions = /d' -e 's/^badclass = .*/badclass = reject/' -e 's/^smtpd_helo_restrictions = .*/smtpd_helo_restrictions = reject_rbl_client zen.example/' "$PT_CONF/main.cf"
cp "$PT_CONF/master.cf" "$PT_CONF/master.cf.bad"
sed -i 's/^  -o smtpd_sender_restrictions=frobnicate_sender$/  -o smtpd_sender_restrictions=reject_non_fqdn_sender/' "$PT_CONF/master.cf"
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check check_clean_config_passes [ "$rc:$(grep -c 'restriction "\|a bare table' <<<"$out")" = 0:0 ]
cp "$PT_CONF/master.cf.bad" "$PT_CONF/master.cf"
sed -i 's/^smtpd_helo_restrictions = .*/smtpd_helo_restrictions =/' "$PT_CONF/main.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
pt_check start_reports_unknown grep -q "unknown restriction \"frobnicate_sender\"" "$PT_T/start.log"

# A dialogue: prints each reply's code and enhanced status, one per line.
# Args: port, then commands; "@TLS" does STARTTLS, "@SRC=addr" binds the
# client to addr, "@EARLY" sends EHLO before reading the greeting.
dialog() {
    python3 - "$@" <<'EOP'
import socket, ssl, sys, time
port = int(sys.argv[1]); cmds = sys.argv[2:]
src = next((c[5:] for c in cmds if c.startswith("@SRC=")), None)
s = socket.create_connection(("127.0.0.1", port), timeout=20,
                             source_address=(src, 0) if src else None)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode()
        if not l:
            return "EOF"
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            break
    parts = lines[-1].split()
    return " ".join(parts[:2]) if len(parts) > 1 else parts[0]
t0 = time.time()
early = "@EARLY" in cmds
if early:
    s.sendall(b"EHLO early.example\r\n")
print("greeting", reply(), "%.1f" % (time.time() - t0))
if early:
    print("EHLO", reply())
for c in cmds:
    if c.startswith("@SRC=") or c == "@EARLY":
        continue
    if c == "@TLS":
        s.sendall(b"STARTTLS\r\n"); print("STARTTLS", reply())
        ctx = ssl.create_default_context(); ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        s = ctx.wrap_socket(s); f = s.makefile("rb")
        continue
    s.sendall(c.encode() + b"\r\n")
    print(c.split()[0], reply())
s.sendall(b"QUIT\r\n")
EOP
}

# ---- 2. reject_plaintext_session ------------------------------------------
r=$(dialog $P_PT "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<postmaster@example.test>")
pt_check plaintext_450 grep -q "^RCPT 450 4.7.1$" <<<"$r"
pt_check plaintext_text pt_wait "grep -q 'reject: RCPT from .*450 4.7.1 Session encryption is required' $PT_T/maillog" 10
r=$(dialog $P_PT5 "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<postmaster@example.test>")
pt_check plaintext_code_554 grep -q "^RCPT 554 5.7.1$" <<<"$r"
r=$(dialog $P_PT "EHLO x" "@TLS" "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<postmaster@example.test>")
pt_check tls_session_accepted grep -q "^RCPT 250 2.1.5$" <<<"$r"

# ---- 3. permit_inet_interfaces --------------------------------------------
r=$(dialog $P_IF "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<bob@remote.example>")
pt_check inet_interface_may_relay grep -q "^RCPT 250 2.1.5$" <<<"$r"
r=$(dialog $P_IF "@SRC=127.0.0.2" "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<bob@remote.example>")
pt_check other_address_refused grep -q "^RCPT 554 5.7.1$" <<<"$r"

# ---- 4. sleep -------------------------------------------------------------
r=$(dialog $P_SL "@EARLY" "MAIL FROM:<a@example.org>" "RCPT TO:<postmaster@example.test>")
pt_check early_talker_refused grep -q "^MAIL 503 5.5.0$" <<<"$r"
pt_check early_talker_logged pt_wait "grep -q 'improper command pipelining after CONNECT from localhost\[127.0.0.1\]' $PT_T/maillog" 10
r=$(dialog $P_SL "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<postmaster@example.test>")
pt_check polite_client_accepted grep -q "^RCPT 250 2.1.5$" <<<"$r"
pt_check greeting_after_pause bash -c 'awk "/^greeting 220/ { exit !(\$3 >= 0.9) }" <<<"$1"' _ "$r"
r=$(dialog $P_SLX "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<postmaster@example.test>")
pt_check bad_sleep_451 grep -q "^RCPT 451 4.3.5$" <<<"$r"
pt_check bad_sleep_logged pt_wait "grep -q 'restriction sleep needs a number of seconds from 0 to 3600, not \"x\"' $PT_T/maillog" 10

# ---- 5. a bare table is the list's own access check ------------------------
r=$(dialog $P_BT "EHLO x" "MAIL FROM:<spam@bad.example>" "RCPT TO:<postmaster@example.test>")
pt_check bare_table_rejects grep -q "^RCPT 550 5.7.1$" <<<"$r"
pt_check bare_table_text pt_wait "grep -q 'reject: RCPT from .*550 5.7.1 <spam@bad.example>: Sender address rejected: bare table says no' $PT_T/maillog" 10
r=$(dialog $P_BT "EHLO x" "MAIL FROM:<ham@good.example>" "RCPT TO:<postmaster@example.test>")
pt_check bare_table_other_sender [ "$(grep '^RCPT' <<<"$r")" = "RCPT 250 2.1.5" ]

# ---- 6. smtpd_relay_before_recipient_restrictions ---------------------------
# Both lists refuse bob@remote.example; the first one evaluated answers.
dialog $P_RO1 "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<bob@remote.example>" >/dev/null
pt_check relay_list_first pt_wait "grep -q 'reject: RCPT from .*554 5.7.1 <bob@remote.example>: Relay access denied' $PT_T/maillog" 10
dialog $P_RO2 "EHLO x" "MAIL FROM:<a@example.org>" "RCPT TO:<bob@remote.example>" >/dev/null
pt_check recipient_list_first_with_no pt_wait "grep -q 'reject: RCPT from .*550 5.7.1 <bob@remote.example>: Recipient address rejected: recipient list says no' $PT_T/maillog" 10
pt_done
