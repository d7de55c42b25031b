#!/usr/bin/env bash
# milter_test.sh - smtpd_milters and non_smtpd_milters against a real milter
# (tests/milter/test_milter.py, the Sendmail protocol over TCP), by DATA and
# BDAT: replies at
# HELO, MAIL, RCPT, header and end of message (reject, tempfail, reply codes
# with enhanced codes and several lines, discard), every modification action
# (add/change/delete/insert header, replace body, add recipient with and
# without ESMTP arguments, delete recipient, change sender, quarantine to
# the hold queue), macros, an unknown command, each milter_default_action
# with an unreachable milter, protocol version 2 (an action not offered), a
# milter that stops answering (per-milter timeout and default action),
# milter_header_checks on milter-added headers, a service with -o smtpd_milters= (none) and
# one with receive_override_options = no_milters, and sendmail mail through
# non_smtpd_milters.
. "$(dirname "$0")/lib.sh"
SM=$PT_BUILD/sbin/sendmail
pt_setup_users; pt_clean_homes
pt_instance
MPORT=$(pt_free_port)
DEAD=$(pt_free_port)       # nothing listens there
MLOG=$PT_T/milter.log
: > "$MLOG"
python3 "$PT_ROOT/tests/milter/test_milter.py" "$MPORT" "$MLOG" &
PT_PIDS+=($!)
pt_wait 'grep -q READY "$MLOG"' 10 || { pt_fail milter_start "test milter did not start"; pt_done; exit 1; }

cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_milters = inet:127.0.0.1:$MPORT
non_smtpd_milters = inet:127.0.0.1:$MPORT
milter_default_action = tempfail
milter_command_timeout = 5s
milter_content_timeout = 10s
milter_connect_macros = j {daemon_name} {daemon_addr} v _ {client_addr}
milter_macro_defaults = auth_type=none-here
EOM
P_TEMP=$(pt_free_port); P_REJ=$(pt_free_port); P_ACC=$(pt_free_port); P_QUAR=$(pt_free_port)
P_NONE=$(pt_free_port); P_NOM=$(pt_free_port); P_SUB=$(pt_free_port)
P_V2=$(pt_free_port); P_SLOW=$(pt_free_port); P_MHC=$(pt_free_port)
P_MAPON=$(pt_free_port); P_MAPOFF=$(pt_free_port); P_MAPMISS=$(pt_free_port); P_MAPERR=$(pt_free_port)
printf '/^X-Test-Milter:/ HOLD\n/^X-Inserted:/ REJECT 5.7.7 inserted header refused\n/^X-Delete:/ REJECT 5.7.8 only milter headers are checked\n' > "$PT_CONF/milter_header_checks"
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_TEMP inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$DEAD
127.0.0.1:$P_REJ inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$DEAD -o milter_default_action=reject
127.0.0.1:$P_ACC inet n - n - - smtpd -o smtpd_milters={inet:127.0.0.1:$DEAD,default_action=accept,connect_timeout=2s}
127.0.0.1:$P_QUAR inet n - n - - smtpd -o smtpd_milters=inet:127.0.0.1:$DEAD -o milter_default_action=quarantine
127.0.0.1:$P_NONE inet n - n - - smtpd -o smtpd_milters=
127.0.0.1:$P_NOM inet n - n - - smtpd -o receive_override_options=no_milters
127.0.0.1:$P_SUB inet n - n - - smtpd -o milter_macro_daemon_name=ORIGINATING
127.0.0.1:$P_V2 inet n - n - - smtpd -o milter_protocol=2
127.0.0.1:$P_MHC inet n - n - - smtpd -o milter_header_checks=regexp:$PT_CONF/milter_header_checks
127.0.0.1:$P_SLOW inet n - n - - smtpd -o smtpd_milters={inet:127.0.0.1:$MPORT,content_timeout=2s,default_action=reject}
127.0.0.1:$P_MAPON inet n - n - - smtpd -o smtpd_milters= -o smtpd_milter_maps=inline:{127.0.0.1=inet:127.0.0.1:$MPORT}
127.0.0.1:$P_MAPOFF inet n - n - - smtpd -o smtpd_milter_maps=inline:{127.0.0.1=DISABLE}
127.0.0.1:$P_MAPMISS inet n - n - - smtpd -o smtpd_milters= -o smtpd_milter_maps=inline:{192.0.2.1=inet:127.0.0.1:$MPORT}
127.0.0.1:$P_MAPERR inet n - n - - smtpd -o smtpd_milter_maps=fail:broken
EOM
printf 'rejectme: alice\ntempme: alice\ncodeme: alice\ndiscardme: alice\nshutme: alice\n' >> "$PT_CONF/aliases"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# smtp PORT FROM SUBJECT RCPT...: prints the reply that ended the transaction.
smtp() {
    local port=$1 from=$2 subj=$3; shift 3
    PT_BODY=$(printf 'From: <%s>\r\nTo: <alice@example.test>\r\nSubject: %s\r\nX-Change: original value\r\nX-Delete: to be deleted\r\n\r\noriginal body\r\n' "$from" "$subj") \
        PT_PORT=$port pt_smtp_send "$from" "$@"
}
md() { ls "$PT_HOMES/$1/Maildir/new" 2>/dev/null | wc -l; }
mdcat() { cat "$PT_HOMES/$1"/Maildir/new/* 2>/dev/null; }
clean() { pt_wait_queue_empty 20; pt_clean_homes; }

# ---- pass-through and header edits ----
r=$(smtp "$PT_PORT" sender@example.org "plain" alice@example.test)
pt_check plain_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(md alice)" = 1 ]' 20
pt_check plain_delivered_unchanged grep -q '^X-Change: original value' <<<"$(mdcat alice)"
clean

r=$(smtp "$PT_PORT" sender@example.org "addheader chgheader delheader insheader" alice@example.test)
pt_check edits_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(md alice)" = 1 ]' 20
m=$(mdcat alice)
pt_check addheader grep -q '^X-Test-Milter: added by milter' <<<"$m"
pt_check chgheader grep -q '^X-Change: changed value' <<<"$m"
pt_check delheader_gone bash -c '! grep -q "^X-Delete:" <<<"$1"' _ "$m"
pt_check insheader_first [ "$(head -1 <<<"$(sed -n '/^X-Inserted/,$p' <<<"$m")" | cut -d: -f1)" = X-Inserted ]
pt_check insheader_above_received [ "$(grep -n '^X-Inserted: at the top' <<<"$m" | cut -d: -f1)" -lt "$(grep -n '^Received:' <<<"$m" | head -1 | cut -d: -f1)" ]
pt_check body_kept grep -q '^original body' <<<"$m"
clean

r=$(smtp "$PT_PORT" sender@example.org "replbody" alice@example.test)
pt_wait '[ "$(md alice)" = 1 ]' 20
m=$(mdcat alice)
pt_check replbody grep -q '^replaced body line 2' <<<"$m"
pt_check replbody_old_gone bash -c '! grep -q "original body" <<<"$1"' _ "$m"
clean

# BDAT (CHUNKING): the same end-of-message path.
r=$(python3 - "$PT_PORT" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 30)
f = s.makefile("rb")
def rd():
    while True:
        l = f.readline().decode()
        if l[3:4] != "-":
            return l.strip()
rd()
for c in ["EHLO client.example.test", "MAIL FROM:<sender@example.org>", "RCPT TO:<alice@example.test>"]:
    s.sendall((c + "\r\n").encode())
    rd()
msg = b"Subject: addheader bdat\r\n\r\nchunked body\r\n"
s.sendall(b"BDAT %d LAST\r\n" % len(msg) + msg)
print(rd())
s.sendall(b"QUIT\r\n")
EOP
)
pt_check bdat_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(md alice)" = 1 ]' 20
pt_check bdat_addheader grep -q '^X-Test-Milter: added by milter' <<<"$(mdcat alice)"
clean

# ---- recipients and sender ----
r=$(smtp "$PT_PORT" sender@example.org "addrcpt addrcptpar" alice@example.test)
pt_wait '[ "$(md alice)" = 1 ] && [ "$(md bob)" = 1 ] && [ "$(md carol)" = 1 ]' 20
pt_check addrcpt_bob [ "$(md bob)" = 1 ]
pt_check addrcptpar_carol [ "$(md carol)" = 1 ]
# NOTIFY=DELAY,SUCCESS is one ESMTP parameter (not two split at the comma):
# carol's delivery is reported.
pt_check addrcptpar_notify_success pt_wait "grep -q 'sender delivery status notification' '$PT_T/maillog'" 20
pt_cmd postsuper -d ALL >/dev/null 2>&1     # that report is for a remote sender
clean

r=$(smtp "$PT_PORT" sender@example.org "delrcpt chgfrom" alice@example.test bob@example.test)
pt_wait '[ "$(md alice)" = 1 ]' 20
pt_wait_queue_empty 20
pt_check delrcpt_bob_not_delivered [ "$(md bob)" = 0 ]
pt_check chgfrom_return_path grep -q '^Return-Path: <changed@example.org>' <<<"$(mdcat alice)"
clean

r=$(smtp "$PT_PORT" sender@example.org "macros" alice@example.test)
pt_wait '[ "$(md alice)" = 1 ]' 20
mac=$(grep "^X-Macros" <<<"$(mdcat alice)")
pt_check macro_default_sent grep -q 'MAIL <sender@example.org> .*auth_type=none-here' "$MLOG"
pt_check macros_sent grep -Eq "^X-Macros: i=[0-9A-F]+ daemon_name=mail.example.test client_addr=127.0.0.1" <<<"$mac"
clean

# ---- quarantine -> hold queue ----
r=$(smtp "$PT_PORT" sender@example.org "quarantine" alice@example.test)
pt_check quarantine_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(find "$PT_T/spool/hold" -type f | wc -l)" = 1 ]' 20
pt_check quarantine_in_hold grep -q '"queue_name": *"hold"' <<<"$(pt_cmd postqueue -j)"
pt_check quarantine_logged grep -q 'milter-hold: END-OF-MESSAGE.*held by the test milter' "$PT_T/maillog"
pt_cmd postsuper -d ALL hold >/dev/null 2>&1
clean

# ---- replies at each stage ----
r=$(smtp "$PT_PORT" reject-mail@example.org "x" alice@example.test)
pt_check mail_reject [ "${r:0:9}" = "550 5.7.1" ]
r=$(smtp "$PT_PORT" tempfail-mail@example.org "x" alice@example.test)
pt_check mail_tempfail [ "${r:0:9}" = "451 4.7.1" ]
r=$(smtp "$PT_PORT" code-mail@example.org "x" alice@example.test)
pt_check mail_replycode [ "$r" = "550 5.7.0 mail refused by milter" ]
r=$(smtp "$PT_PORT" sender@example.org "x" rejectme@example.test)
pt_check rcpt_reject [ "${r:0:9}" = "550 5.7.1" ]
r=$(smtp "$PT_PORT" sender@example.org "x" tempme@example.test)
pt_check rcpt_tempfail [ "${r:0:9}" = "451 4.7.1" ]
r=$(smtp "$PT_PORT" sender@example.org "x" codeme@example.test)
pt_check rcpt_replycode_multiline bash -c 'grep -q "^553 5.7.2 first line" <<<"$1" && grep -q "5.7.2 second line" <<<"$1"' _ "$r"
# A 421 from a milter at RCPT ends the session: the next command finds the
# connection closed.
r=$(python3 - "$PT_PORT" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
s.mail("sender@example.org")
code, msg = s.rcpt("shutme@example.test")
print(code, msg.decode())
try:
    s.noop()
    print("still open")
except smtplib.SMTPServerDisconnected:
    print("closed")
EOP
)
pt_check rcpt_421_reply grep -q '^421 4.7.0 milter going away' <<<"$r"
pt_check rcpt_421_closes grep -qx 'closed' <<<"$r"
r=$(smtp "$PT_PORT" sender@example.org "x" alice@example.test rejectme@example.test)
pt_wait '[ "$(md alice)" = 1 ]' 20
pt_check rcpt_reject_only_that_one [ "$(md alice)" = 1 ]
clean
r=$(smtp "$PT_PORT" sender@example.org "x" discardme@example.test alice@example.test)
pt_check rcpt_discard_accepted [ "${r%% *}" = 250 ]
pt_wait_queue_empty 20
pt_check rcpt_discard_not_delivered [ "$(md alice)" = 0 ]
pt_check discard_logged grep -q 'milter-discard' "$PT_T/maillog"
clean
r=$(smtp "$PT_PORT" sender@example.org "reject-hdr" alice@example.test)
pt_check header_replycode [ "$r" = "550 5.7.3 header refused" ]
r=$(smtp "$PT_PORT" sender@example.org "reject-eom" alice@example.test)
pt_check eom_reject [ "${r:0:9}" = "550 5.7.1" ]
r=$(smtp "$PT_PORT" sender@example.org "tempfail-eom" alice@example.test)
pt_check eom_tempfail [ "${r:0:9}" = "451 4.7.1" ]
r=$(smtp "$PT_PORT" sender@example.org "code-eom" alice@example.test)
pt_check eom_replycode [ "$r" = "554 5.7.9 message refused by milter" ]
r=$(smtp "$PT_PORT" sender@example.org "discard-eom" alice@example.test)
pt_check eom_discard_accepted [ "${r%% *}" = 250 ]
pt_wait_queue_empty 20
pt_check eom_discard_not_delivered [ "$(md alice)" = 0 ]
pt_check eom_reject_logged grep -q 'milter-reject: END-OF-MESSAGE from .*554 5.7.9' "$PT_T/maillog"
clean

# HELO reject is given at MAIL FROM; unknown command goes to the milter.
r=$(python3 - "$PT_PORT" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
code, _ = s.ehlo("reject.helo")
out = [str(code)]
out.append(str(s.docmd("MAIL FROM:<sender@example.org>")[0]))
s.rset()
c, m = s.docmd("XYZZY")
out.append("%d %s" % (c, m.decode()))
s.quit()
print(" ".join(out))
EOP
)
pt_check helo_reject_at_mail [ "${r:0:8}" = "250 550 " ]
pt_check unknown_command_to_milter grep -q '502 5.5.1 unknown command seen by milter' <<<"$r"

# ---- milter_default_action with an unreachable milter ----
r=$(smtp "$P_TEMP" sender@example.org "x" alice@example.test)
pt_check unreachable_tempfail [ "$r" = "451 4.7.1 Service unavailable - try again later" ]
r=$(smtp "$P_REJ" sender@example.org "x" alice@example.test)
pt_check unreachable_reject [ "$r" = "550 5.7.1 Command rejected" ]
r=$(smtp "$P_ACC" sender@example.org "x" alice@example.test)
pt_check unreachable_accept [ "${r%% *}" = 250 ]
pt_wait '[ "$(md alice)" = 1 ]' 20
pt_check unreachable_accept_delivered [ "$(md alice)" = 1 ]
clean
r=$(smtp "$P_QUAR" sender@example.org "x" alice@example.test)
pt_check unreachable_quarantine_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(find "$PT_T/spool/hold" -type f | wc -l)" = 1 ]' 20
pt_check unreachable_quarantine_held grep -q '"queue_name": *"hold"' <<<"$(pt_cmd postqueue -j)"
pt_cmd postsuper -d ALL hold >/dev/null 2>&1

# ---- protocol version 2: fewer actions offered; one not offered is an error ----
r=$(smtp "$P_V2" sender@example.org "addheader progress" alice@example.test)
pt_check v2_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(md alice)" = 1 ]' 20
pt_check v2_addheader grep -q '^X-Test-Milter: added by milter' <<<"$(mdcat alice)"
clean
r=$(smtp "$P_V2" sender@example.org "chgfrom" alice@example.test)
pt_check v2_action_not_offered_tempfail [ "$r" = "451 4.7.1 Service unavailable - try again later" ]
pt_check v2_action_not_offered_logged grep -q "action 'e' not allowed" "$PT_T/maillog"

# ---- a milter that stops answering: content_timeout and default_action of its entry ----
start=$(date +%s)
r=$(smtp "$P_SLOW" sender@example.org "stall" alice@example.test)
took=$(( $(date +%s) - start ))
pt_check timeout_default_reject [ "$r" = "550 5.7.1 Command rejected" ]
pt_check timeout_bounded [ "$took" -lt 6 ]
pt_check timeout_logged grep -q 'timeout waiting for a reply' "$PT_T/maillog"

# ---- milter_header_checks: only the headers milters add ----
r=$(smtp "$P_MHC" sender@example.org "insheader" alice@example.test)
pt_check milter_header_checks_reject [ "$r" = "550 5.7.7 inserted header refused" ]
r=$(smtp "$P_MHC" sender@example.org "addheader" alice@example.test)
pt_check milter_header_checks_hold_accepted [ "${r%% *}" = 250 ]
pt_wait '[ "$(find "$PT_T/spool/hold" -type f | wc -l)" = 1 ]' 20
pt_check milter_header_checks_hold [ "$(find "$PT_T/spool/hold" -type f | wc -l)" = 1 ]
pt_cmd postsuper -d ALL hold >/dev/null 2>&1
r=$(smtp "$P_MHC" sender@example.org "plain" alice@example.test)
pt_check milter_header_checks_not_original [ "${r%% *}" = 250 ]
pt_wait '[ "$(md alice)" = 1 ]' 20
clean

# ---- no milters on a service ----
r=$(smtp "$P_NONE" reject-mail@example.org "x" alice@example.test)
pt_check empty_smtpd_milters_no_milter [ "${r%% *}" = 250 ]
r=$(smtp "$P_NOM" reject-mail@example.org "x" alice@example.test)
pt_check no_milters_override [ "${r%% *}" = 250 ]
pt_wait '[ "$(md alice)" = 2 ]' 20
clean

# ---- smtpd_milter_maps: milters by client address ----
r=$(smtp "$P_MAPON" reject-mail@example.org "x" alice@example.test)
pt_check milter_maps_adds_milter [ "${r%% *}" = 550 ]
r=$(smtp "$P_MAPOFF" reject-mail@example.org "x" alice@example.test)
pt_check milter_maps_disable [ "${r%% *}" = 250 ]
r=$(smtp "$P_MAPMISS" reject-mail@example.org "x" alice@example.test)
pt_check milter_maps_other_client_default [ "${r%% *}" = 250 ]
r=$(smtp "$P_MAPERR" sender@example.org "x" alice@example.test)
pt_check milter_maps_lookup_error_451 [ "$r" = "451 4.3.0 Server configuration problem" ]
pt_check milter_maps_lookup_error_logged grep -q "smtpd_milter_maps lookup problem for 127.0.0.1" "$PT_T/maillog"
pt_wait '[ "$(md alice)" = 2 ]' 20
clean

# ---- daemon name per service ----
r=$(smtp "$P_SUB" sender@example.org "macros" alice@example.test)
pt_wait '[ "$(md alice)" = 1 ]' 20
pt_check daemon_name_override grep -q 'daemon_name=ORIGINATING' <<<"$(mdcat alice)"
clean

# ---- non_smtpd_milters (sendmail -> pickup) ----
printf 'From: alice@example.test\nTo: bob@example.test\nSubject: addheader addrcpt\n\nlocal body\n' |
    "$SM" -f alice@example.test bob@example.test
pt_wait '[ "$(md bob)" = 1 ]' 20
pt_check sendmail_addheader grep -q '^X-Test-Milter: added by milter' <<<"$(mdcat bob)"
pt_check sendmail_milter_saw_localhost grep -q '^CONNECT localhost' "$MLOG"
clean
printf 'From: alice@example.test\nTo: bob@example.test\nSubject: tempfail-eom\n\nlocal body\n' |
    "$SM" -f alice@example.test bob@example.test
pt_wait 'grep -q "milter-reject: END-OF-MESSAGE: 451" "$PT_T/maillog"' 20
pt_check sendmail_tempfail_kept_in_maildrop [ "$(find "$PT_T/spool/maildrop" -type f | wc -l)" = 1 ]
pt_check sendmail_tempfail_not_delivered [ "$(md bob)" = 0 ]
find "$PT_T/spool/maildrop" -type f -delete
printf 'From: alice@example.test\nTo: bob@example.test\nSubject: reject-eom\n\nlocal body\n' |
    "$SM" -f alice@example.test bob@example.test
pt_wait '[ "$(md alice)" = 1 ]' 30
pt_check sendmail_reject_bounced grep -qi 'Command rejected' <<<"$(mdcat alice)"
pt_check sendmail_reject_not_delivered [ "$(md bob)" = 0 ]
pt_done
