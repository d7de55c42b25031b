#!/usr/bin/env bash
# bounce_test.sh - delivery status notifications on a real instance: a
# non-delivery report for an unknown local user (full message, and headers
# only with RET=HDRS), NOTIFY=NEVER, no bounce of a bounce, a success notice
# for NOTIFY=SUCCESS, a delay warning and an expiry report for mail that a
# transport keeps deferring (error agent's "retry" service).
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
printf 'defer.test retry:4.4.1 remote site is resting\n' > "$PT_CONF/transport"
cat >> "$PT_CONF/main.cf" <<EOM
local_recipient_maps =
forward_path =
transport_maps = hash:$PT_CONF/transport
delay_warning_time = 1s
EOM
pt_cmd postmap "$PT_CONF/transport"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# send FROM MAIL_OPTS RCPT_OPTS TO... : one SMTP transaction with ESMTP
# parameters (space separated, may be empty); prints the final reply code.
send() {
    local from=$1 mopts=$2 ropts=$3; shift 3
    python3 - "$PT_PORT" "$from" "$mopts" "$ropts" "$@" <<'EOP'
import os, smtplib, sys
port, sender, mopts, ropts, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(), sys.argv[4].split(), sys.argv[5:]
body = os.environ.get("PT_BODY", "Subject: bounce test\r\nMessage-Id: <orig.1@client.example.test>\r\n\r\nbody line that should come back\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
try:
    s.sendmail(sender, rcpts, body, mopts, ropts)
    print("250")
except smtplib.SMTPRecipientsRefused as e:
    print(list(e.recipients.values())[0][0])
except smtplib.SMTPResponseException as e:
    print(e.smtp_code)
s.quit()
EOP
}

# count USER: messages in the user's mbox.
count() {
    python3 -c 'import mailbox,sys; print(len(mailbox.mbox(sys.argv[1], create=False)))' \
        "$PT_T/mail/$1" 2>/dev/null || echo 0
}
# newest USER: writes the last message of the user's mbox to a file, prints its path.
newest() {
    python3 - "$PT_T/mail/$1" "$PT_T/newest-$1.eml" <<'EOP' && echo "$PT_T/newest-$1.eml"
import mailbox, sys
box = mailbox.mbox(sys.argv[1], create=False)
keys = box.keys()
if not keys:
    sys.exit(1)
with open(sys.argv[2], "wb") as f:
    f.write(box.get_bytes(keys[-1]))
EOP
}
# spool_sum: names and sizes of every mailbox of this instance.
spool_sum() { find "$PT_T/mail" -type f -printf '%p %s\n' | sort; }

# dsn FILE KEY=VALUE...: parses FILE as a DSN with Python's email package and
# checks the structure plus each expectation; prints what is wrong.
#   subject=TEXT  action=A  status=S  rcpt=ADDR  third=TYPE|none
#   has=TEXT (somewhere in the third part)  hasnot=TEXT  diag=1 (Diagnostic-Code present)
#   retpath=<ADDR> (envelope sender of the notice; default <>)
dsn() {
    python3 - "$@" <<'EOP'
import email, email.policy, sys
path, want = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
bad = []
with open(path, "rb") as f:
    msg = email.message_from_binary_file(f, policy=email.policy.compat32)
if msg.get_content_type() != "multipart/report":
    bad.append("type %s" % msg.get_content_type())
if msg.get_param("report-type") != "delivery-status":
    bad.append("report-type %s" % msg.get_param("report-type"))
if msg.get("Return-Path", "").strip() != want.get("retpath", "<>"):
    bad.append("Return-Path %r" % msg.get("Return-Path"))
if "subject" in want and msg.get("Subject", "").strip() != want["subject"]:
    bad.append("Subject %r" % msg.get("Subject"))
if msg.get("Auto-Submitted", "") != "auto-replied":
    bad.append("Auto-Submitted %r" % msg.get("Auto-Submitted"))
parts = msg.get_payload() if msg.is_multipart() else []
types = [p.get_content_type() for p in parts]
third = want.get("third", "message/rfc822")
exp = ["text/plain", "message/delivery-status"] + ([] if third == "none" else [third])
if types != exp:
    bad.append("parts %s, want %s" % (types, exp))
if len(parts) >= 2:
    st = parts[1].get_payload()   # list of header blocks: per-message, per-recipient...
    blocks = [dict((k.lower(), v) for k, v in b.items()) for b in st]
    pm = blocks[0] if blocks else {}
    if pm.get("reporting-mta") != "dns; mail.example.test":
        bad.append("Reporting-MTA %r" % pm.get("reporting-mta"))
    if not pm.get("arrival-date"):
        bad.append("no Arrival-Date")
    rb = blocks[1:]
    if len(rb) != 1:
        bad.append("%d recipient blocks" % len(rb))
    r = rb[0] if rb else {}
    if "rcpt" in want and r.get("final-recipient") != "rfc822; " + want["rcpt"]:
        bad.append("Final-Recipient %r" % r.get("final-recipient"))
    if "action" in want and r.get("action") != want["action"]:
        bad.append("Action %r" % r.get("action"))
    if "status" in want and r.get("status") != want["status"]:
        bad.append("Status %r" % r.get("status"))
    if want.get("diag") == "1" and not r.get("diagnostic-code"):
        bad.append("no Diagnostic-Code")
    if "statusclass" in want and not (r.get("status") or "").startswith(want["statusclass"] + "."):
        bad.append("Status %r not class %s" % (r.get("status"), want["statusclass"]))
if len(parts) >= 3:
    p = parts[2]
    text = p.get_payload(0).as_string() if p.get_content_type() == "message/rfc822" else p.get_payload()
    if "has" in want and want["has"] not in text:
        bad.append("third part lacks %r" % want["has"])
    if "hasnot" in want and want["hasnot"] in text:
        bad.append("third part has %r" % want["hasnot"])
if bad:
    print("; ".join(bad)); sys.exit(1)
EOP
}
# pt_check wrapper: NAME FILE KEY=VALUE...
dsn_check() {
    local name=$1 f=$2; shift 2
    local why
    if [ -z "$f" ]; then pt_fail "$name" "no DSN file"; return; fi
    if why=$(dsn "$f" "$@" 2>&1); then pt_ok "$name"; else pt_fail "$name" "$why"; fi
}

# removed_then_empty RCPT: waits until the message that was sent to RCPT is
# removed from the queue and the queue is empty.
removed_then_empty() {
    local id
    id=$(grep -o "[0-9A-F]*: to=<$1>" "$PT_T/maillog" | head -1 | cut -d: -f1)
    [ -n "$id" ] && pt_wait "grep -q ': $id: removed' $PT_T/maillog" 20
    pt_wait_queue_empty 20
}

# ---- 1. unknown local user: full non-delivery report to the sender ----
nb=$(count bob)
code=$(send bob@example.test '' '' nosuchuser@example.test)
pt_check unknown_accepted [ "$code" = 250 ]
pt_check unknown_bounced_log pt_wait "grep -qE 'to=<nosuchuser@example.test>, .*dsn=5.1.1, status=bounced' $PT_T/maillog" 20
pt_check unknown_dsn_arrives pt_wait "[ \$(count bob) -ge $((nb + 1)) ]" 20
f=$(newest bob)
dsn_check unknown_dsn_report "$f" subject='Undelivered Mail Returned to Sender' \
    rcpt=nosuchuser@example.test action=failed status=5.1.1 diag=1 \
    third=message/rfc822 has='body line that should come back'
# A local delivery has no remote MTA to name.
pt_check unknown_dsn_no_remote_mta bash -c "! grep -q '^Remote-MTA:' '${f:-/dev/null}'"
pt_check unknown_dsn_to_bob grep -q '^To: bob@example.test$' "${f:-/dev/null}"
pt_check unknown_dsn_from_daemon grep -q '^From: MAILER-DAEMON@mail.example.test' "${f:-/dev/null}"
pt_check unknown_dsn_logged grep -qE 'postfix/bounce\[[0-9]+\]: [0-9A-F]+: sender non-delivery notification: [0-9A-F]+' "$PT_T/maillog"

# ---- 2. RET=HDRS: only the headers come back ----
nb=$(count bob)
code=$(send bob@example.test 'RET=HDRS' '' nosuchuser2@example.test)
pt_check hdrs_accepted [ "$code" = 250 ]
pt_check hdrs_dsn_arrives pt_wait "[ \$(count bob) -ge $((nb + 1)) ]" 20
f=$(newest bob)
dsn_check hdrs_dsn_report "$f" rcpt=nosuchuser2@example.test action=failed status=5.1.1 \
    third=text/rfc822-headers has='Subject: bounce test' hasnot='body line that should come back'

# ---- 3. NOTIFY=NEVER: bounced, but no report ----
nb=$(count bob)
code=$(send bob@example.test '' 'NOTIFY=NEVER' nosuchuser3@example.test)
pt_check never_accepted [ "$code" = 250 ]
pt_check never_bounced_log pt_wait "grep -qE 'to=<nosuchuser3@example.test>, .*status=bounced' $PT_T/maillog" 20
# A notice would be queued before qmgr removes the original: once the
# original is gone and the queue is empty, any notice has been delivered.
removed_then_empty nosuchuser3@example.test
pt_check never_no_dsn [ "$(count bob)" = "$nb" ]
pt_check never_queue_empty [ "$(pt_queue_count)" = 0 ]

# ---- 4. a bounce is not bounced: null sender to an unknown user ----
before=$(spool_sum)
code=$(send '' '' '' nosuchuser4@example.test)
pt_check nullsender_accepted [ "$code" = 250 ]
pt_check nullsender_bounced_log pt_wait "grep -qE 'to=<nosuchuser4@example.test>, .*status=bounced' $PT_T/maillog" 20
pt_check nullsender_discard_logged pt_wait "grep -qE 'postfix/bounce\[[0-9]+\]: [0-9A-F]+: undeliverable bounce discarded' $PT_T/maillog" 20
removed_then_empty nosuchuser4@example.test
pt_check nullsender_nothing_delivered [ "$(spool_sum)" = "$before" ]

# ---- 5. NOTIFY=SUCCESS: a success notice ----
na=$(count alice); nb=$(count bob)
code=$(send bob@example.test '' 'NOTIFY=SUCCESS' alice@example.test)
pt_check success_accepted [ "$code" = 250 ]
pt_check success_delivered pt_wait "[ \$(count alice) -ge $((na + 1)) ]" 20
pt_check success_dsn_arrives pt_wait "[ \$(count bob) -ge $((nb + 1)) ]" 20
f=$(newest bob)
dsn_check success_dsn_report "$f" subject='Successful Mail Delivery Report' \
    rcpt=alice@example.test action=delivered statusclass=2 third=text/rfc822-headers hasnot="body line that should come back"

# ---- 6. delay warning for mail that keeps being deferred ----
nb=$(count bob)
code=$(send bob@example.test '' '' someone@defer.test)
pt_check defer_accepted [ "$code" = 250 ]
pt_check defer_deferred_log pt_wait "grep -qE 'to=<someone@defer.test>, relay=none, .*dsn=4.4.1, status=deferred \(remote site is resting\)' $PT_T/maillog" 20
pt_check delay_dsn_arrives pt_wait "[ \$(count bob) -ge $((nb + 1)) ]" 30
f=$(newest bob)
dsn_check delay_dsn_report "$f" subject='Delayed Mail (still being retried)' \
    rcpt=someone@defer.test action=delayed status=4.4.1 diag=1 third=text/rfc822-headers
pt_check delay_will_retry grep -q '^Will-Retry-Until: ' "${f:-/dev/null}"
pt_check delay_logged grep -qE 'postfix/bounce\[[0-9]+\]: [0-9A-F]+: sender delay notification: [0-9A-F]+' "$PT_T/maillog"
pt_check delay_still_queued [ "$(find "$PT_T/spool/deferred" "$PT_T/spool/active" -type f | wc -l)" -ge 1 ]
# Only one warning per message, even after more deferrals.
pt_wait "[ \$(grep -c 'to=<someone@defer.test>, .*status=deferred' $PT_T/maillog) -ge 3 ]" 20
pt_check delay_warned_once [ "$(count bob)" = "$((nb + 1))" ]

# ---- 7. expiry: the queue lifetime runs out; the deferred mail is returned ----
cat >> "$PT_CONF/main.cf" <<EOM
maximal_queue_lifetime = 2s
bounce_queue_lifetime = 2s
EOM
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" reload >/dev/null 2>&1
nb=$(count bob)
pt_check expire_logged pt_wait "grep -qE ': from=<bob@example.test>, status=expired, returned to sender' $PT_T/maillog" 30
pt_check expire_dsn_arrives pt_wait "[ \$(count bob) -ge $((nb + 1)) ]" 20
f=$(newest bob)
dsn_check expire_dsn_report "$f" subject='Undelivered Mail Returned to Sender' \
    rcpt=someone@defer.test action=failed status=4.4.1 diag=1 third=message/rfc822 \
    has='body line that should come back'
pt_check expire_queue_empty pt_wait_queue_empty 20

# ---- 8. notify_classes: postmaster copies (headers only) and double bounces ----
# postmaster is an alias of root, which is an alias of alice.
echo 'notify_classes = bounce, 2bounce' >> "$PT_CONF/main.cf"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" reload >/dev/null 2>&1
pt_wait "grep -q 'reload' $PT_T/maillog" 10
sleep 1
na=$(count alice); nb=$(count bob)
code=$(send bob@example.test '' '' nosuchuser5@example.test)
pt_check pmcopy_accepted [ "$code" = 250 ]
pt_check pmcopy_sender_dsn pt_wait "[ \$(count bob) -ge $((nb + 1)) ]" 20
pt_check pmcopy_arrives pt_wait "[ \$(count alice) -ge $((na + 1)) ]" 20
f=$(newest alice)
dsn_check pmcopy_report "$f" subject='Postmaster Copy: Undelivered Mail' retpath='<double-bounce@mail.example.test>' \
    rcpt=nosuchuser5@example.test action=failed status=5.1.1 third=text/rfc822-headers \
    hasnot='body line that should come back'
pt_check pmcopy_logged grep -qE 'postfix/bounce\[[0-9]+\]: [0-9A-F]+: postmaster non-delivery notification: [0-9A-F]+' "$PT_T/maillog"
pt_wait_queue_empty 20
na=$(count alice); nb=$(count bob)
code=$(send '' '' '' nosuchuser6@example.test)
pt_check double_bounce_accepted [ "$code" = 250 ]
pt_check double_bounce_to_postmaster pt_wait "[ \$(count alice) -ge $((na + 1)) ]" 20
f=$(newest alice)
dsn_check double_bounce_report "$f" rcpt=nosuchuser6@example.test action=failed status=5.1.1 \
    retpath='<double-bounce@mail.example.test>'
pt_check double_bounce_queue_empty pt_wait_queue_empty 20
pt_check double_bounce_bob_untouched [ "$(count bob)" = "$nb" ]
pt_done
