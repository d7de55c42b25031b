#!/usr/bin/env bash
# logging_test.sh - what the maillog says, and that logging never holds up mail.
#
# Against one real instance (maillog_file, so every line goes through the
# postlog socket and postlogd):
#   - the Postfix-shaped key lines of a delivered message, a rejected RCPT and
#     a bounce (smtpd connect/client, cleanup message-id, qmgr from=/removed,
#     local to=... status=sent/bounced, bounce notification, NOQUEUE: reject);
#   - real consumers read them: pflogsumm counts received/delivered/bounced/
#     rejected, and fail2ban's postfix filter matches the reject line and
#     nothing else;
#   - a service with -o syslog_name=postfix/submission logs as
#     postfix/submission/smtpd;
#   - with postlogd stopped (SIGSTOP), 50 messages are still delivered in
#     time; after SIGCONT the maillog has either every line of the batch or a
#     "log messages were lost" warning.
# Needs pflogsumm and fail2ban (scripts/install-deps test); without them those
# cases FAIL with a hint rather than pass silently.
. "$(dirname "$0")/lib.sh"
pt_setup_users

# Own recipients, so that other scripts cleaning alice/bob/carol cannot race us.
for u in logrcpt logsndr; do
    getent passwd "$u" >/dev/null || useradd -M -d "$PT_HOMES/$u" -s /bin/sh "$u"
    rm -rf "${PT_HOMES:?}/$u"; mkdir -p "$PT_HOMES/$u"
    chown "$u:" "$PT_HOMES/$u"; chmod 755 "$PT_HOMES/$u"
done

pt_instance
LOG=$PT_T/maillog
SUBPORT=$(pt_free_port)
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
# An alias that exists (so smtpd accepts it) but leads nowhere (so local bounces).
echo 'ghostalias: nosuchuser_log' >> "$PT_CONF/aliases"
PORTLOG=$(pt_free_port)
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$SUBPORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
127.0.0.1:$PORTLOG inet n - n - - smtpd
  -o syslog_name=postfix/portlog -o smtpd_client_port_logging=yes
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

maildir_count() { find "$PT_HOMES/$1/Maildir/new" -type f 2>/dev/null | wc -l; }
# log_wait EREGEX [deadline]: waits until the maillog has a matching line.
log_wait() {
    local end=$(( $(date +%s) + ${2:-30} ))
    while [ "$(date +%s)" -lt "$end" ]; do
        grep -qE -- "$1" "$LOG" 2>/dev/null && return 0
        sleep 0.1
    done
    return 1
}
# log_line NAME EREGEX: one case that passes when the maillog has the line.
log_line() {
    if log_wait "$2" 20; then pt_ok "$1"; else pt_fail "$1" "no maillog line matches: $2"; fi
}
# qid_of EREGEX: queue id of the first qmgr line matching EREGEX.
qid_of() {
    grep -E -- "$1" "$LOG" | head -1 | sed -E 's/.*postfix\/qmgr\[[0-9]+\]: ([0-9A-Za-z]+): .*/\1/'
}

STAMP='^[A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} mail\.example\.test '
PEER='[^][ ]+\[127\.0\.0\.1\]'
DELAYS='delay=[0-9.]+, delays=[0-9.]+/[0-9.]+/[0-9.]+/[0-9.]+'

# ---- a delivered message ----
reply=$(PT_BODY=$'Subject: log test\r\nMessage-ID: <delivered.1@example.org>\r\n\r\nhello\r\n' \
    pt_smtp_send logfrom@example.org logrcpt@example.test)
pt_check delivered_accepted [ "${reply%% *}" = 250 ]
pt_wait "[ \$(maildir_count logrcpt) -ge 1 ]" 30
pt_check delivered_in_maildir [ "$(maildir_count logrcpt)" -eq 1 ]
log_line delivered_qmgr_from \
    "${STAMP}postfix/qmgr\[[0-9]+\]: [0-9A-Za-z]+: from=<logfrom@example\.org>, size=[0-9]+, nrcpt=1 \(queue active\)$"
ID=$(qid_of 'from=<logfrom@example\.org>')
if [ -z "$ID" ]; then
    pt_fail delivered_queue_id "no queue id for the delivered message"
    ID=NOQUEUEID
fi
log_line delivered_smtpd_connect "${STAMP}postfix/smtpd\[[0-9]+\]: connect from ${PEER}$"
log_line delivered_smtpd_client "${STAMP}postfix/smtpd\[[0-9]+\]: $ID: client=${PEER}$"
log_line delivered_cleanup_msgid "${STAMP}postfix/cleanup\[[0-9]+\]: $ID: message-id=<delivered\.1@example\.org>$"
log_line delivered_local_sent \
    "${STAMP}postfix/local\[[0-9]+\]: $ID: to=<logrcpt@example\.test>, relay=local, ${DELAYS}, dsn=2\.0\.0, status=sent \(delivered to maildir\)$"
log_line delivered_qmgr_removed "${STAMP}postfix/qmgr\[[0-9]+\]: $ID: removed$"
log_line delivered_smtpd_disconnect "${STAMP}postfix/smtpd\[[0-9]+\]: disconnect from ${PEER}"

# ---- a rejected RCPT ----
reply=$(pt_smtp_send logfrom@example.org nosuch_rcpt@example.test)
pt_check reject_smtp_550 [ "${reply%% *}" = 550 ]
log_line reject_noqueue_line \
    "${STAMP}postfix/smtpd\[[0-9]+\]: NOQUEUE: reject: RCPT from ${PEER}: 550 5\.1\.1 <nosuch_rcpt@example\.test>: Recipient address rejected: [^;]+; from=<logfrom@example\.org> to=<nosuch_rcpt@example\.test> proto=ESMTP helo=<client\.example\.test>$"

# ---- a bounce: accepted for an alias that leads to no user ----
# (No Message-ID header: the client, 127.0.0.1, matches the default
# local_header_rewrite_clients = permit_inet_interfaces, so cleanup adds one
# and logs it, as Postfix does.)
reply=$(pt_smtp_send logsndr@example.test ghostalias@example.test)
pt_check bounce_accepted [ "${reply%% *}" = 250 ]
log_line bounce_qmgr_from \
    "${STAMP}postfix/qmgr\[[0-9]+\]: [0-9A-Za-z]+: from=<logsndr@example\.test>, size=[0-9]+, nrcpt=1 \(queue active\)$"
BID=$(qid_of 'from=<logsndr@example\.test>')
[ -n "$BID" ] || BID=NOQUEUEID
log_line bounce_cleanup_msgid_added \
    "${STAMP}postfix/cleanup\[[0-9]+\]: $BID: message-id=<[^<>]+@mail\.example\.test>$"
log_line bounce_local_bounced \
    "${STAMP}postfix/local\[[0-9]+\]: $BID: to=<[^>]+>, orig_to=<ghostalias@example\.test>, relay=local, ${DELAYS}, dsn=5\.[0-9]+\.[0-9]+, status=bounced \(.+\)$"
log_line bounce_notification \
    "${STAMP}postfix/bounce\[[0-9]+\]: $BID: sender non-delivery notification: [0-9A-Za-z]+$"
NID=$(grep -E "postfix/bounce\[[0-9]+\]: $BID: sender non-delivery notification: " "$LOG" | head -1 | sed 's/.*: //')
log_line bounce_removed "${STAMP}postfix/qmgr\[[0-9]+\]: $BID: removed$"
pt_wait "[ \$(maildir_count logsndr) -ge 1 ]" 30
pt_check bounce_notice_delivered [ "$(maildir_count logsndr)" -eq 1 ]
log_line bounce_notice_from_null \
    "${STAMP}postfix/qmgr\[[0-9]+\]: ${NID:-NOQUEUEID}: from=<>, size=[0-9]+, nrcpt=1 \(queue active\)$"
log_line bounce_notice_removed "${STAMP}postfix/qmgr\[[0-9]+\]: ${NID:-NOQUEUEID}: removed$"

# ---- real consumers: pflogsumm and fail2ban ----
pt_wait_queue_empty 30
cp "$LOG" "$PT_T/maillog.snapshot"
if command -v pflogsumm >/dev/null 2>&1; then
    pflogsumm "$PT_T/maillog.snapshot" > "$PT_T/pflogsumm.out" 2>&1
    # count WORD: the number pflogsumm prints before WORD in its totals.
    count() { awk -v w="$1" '$2 == w { print $1; exit }' "$PT_T/pflogsumm.out"; }
    got="received=$(count received) delivered=$(count delivered) bounced=$(count bounced) rejected=$(count rejected)"
    # Two messages came in by SMTP; the delivered one and the bounce notice were
    # delivered; one recipient bounced; one RCPT was rejected.
    want="received=2 delivered=2 bounced=1 rejected=1"
    if [ "$got" = "$want" ]; then pt_ok pflogsumm_counts
    else pt_fail pflogsumm_counts "pflogsumm says $got, expected $want"; sed -n '1,25p' "$PT_T/pflogsumm.out" | sed 's/^/    /'; fi
    if grep -q 'Recipient address rejected' "$PT_T/pflogsumm.out"; then pt_ok pflogsumm_reject_detail
    else pt_fail pflogsumm_reject_detail "reject reason missing from the report"; fi
else
    pt_fail pflogsumm_counts "pflogsumm not installed (scripts/install-deps test)"
fi

F2B_FILTER=/etc/fail2ban/filter.d/postfix.conf
if command -v fail2ban-regex >/dev/null 2>&1 && [ -f "$F2B_FILTER" ]; then
    fail2ban-regex --print-all-matched "$PT_T/maillog.snapshot" "$F2B_FILTER" > "$PT_T/f2b.out" 2>&1
    matched=$(sed -nE 's/^Lines: [0-9]+ lines, [0-9]+ ignored, ([0-9]+) matched, [0-9]+ missed.*/\1/p' "$PT_T/f2b.out")
    rejects=$(grep -c 'NOQUEUE: reject: RCPT' "$PT_T/maillog.snapshot")
    # After "|- Matched line(s):" fail2ban prints each matched line as "|  LINE".
    awk '/^\|- Matched line/ { on = 1; next } on && /^\|  / { print substr($0, 4) } on && !/^\|  / { on = 0 }' \
        "$PT_T/f2b.out" > "$PT_T/f2b.matched"
    others=$(grep -vc 'NOQUEUE: reject: RCPT' "$PT_T/f2b.matched")
    if [ "${matched:-x}" = 1 ] && [ "$rejects" = 1 ] && [ "$others" = 0 ] \
        && [ "$(wc -l < "$PT_T/f2b.matched")" = 1 ]; then
        pt_ok fail2ban_matches_reject_only
    else
        pt_fail fail2ban_matches_reject_only "matched=${matched:-?} reject lines=$rejects other matched=$others"
        grep -E '^(Lines|Failregex|\|)' "$PT_T/f2b.out" | head -10 | sed 's/^/    /'
    fi
else
    pt_fail fail2ban_matches_reject_only "fail2ban not installed (scripts/install-deps test)"
fi

# ---- a transaction given up after RCPT ----
# smtpd reads the queue ID from cleanup only when it first needs it; the
# "client=" line must still come for every transaction that opened a queue
# file, before any other line of smtpd's with that ID, as with Postfix.
nclient=$(grep -c ': client=' "$LOG")
out=$(python3 - "$PT_PORT" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
print(s.mail("abort1@example.org")[0], s.rcpt("logrcpt@example.test")[0],
      s.rcpt("nosuch_abort@example.test")[0], s.rset()[0])
print(s.mail("abort2@example.org")[0], s.rcpt("logrcpt@example.test")[0])
s.quit()
EOP
)
pt_check abort_replies [ "$(echo $out)" = "250 250 550 250 250 250" ]
log_line abort_reject_has_queue_id \
    "${STAMP}postfix/smtpd\[[0-9]+\]: [0-9A-Za-z]+: reject: RCPT from ${PEER}: 550 5\.1\.1 <nosuch_abort@example\.test>: .* from=<abort1@example\.org> "
AID=$(grep -E 'reject: RCPT from .*nosuch_abort@' "$LOG" | head -1 | sed -E 's/.*postfix\/smtpd\[[0-9]+\]: ([0-9A-Za-z]+): reject: .*/\1/')
pt_check abort_client_line_before_reject awk -v id="$AID" '
    index($0, id ": client=") { c = NR } index($0, id ": reject: RCPT") { r = NR }
    END { exit !(c && r && c < r) }' "$LOG"
# Both transactions opened a queue file: two more "client=" lines.
pt_wait "[ \$(grep -c ': client=' \"$LOG\") -ge $((nclient + 2)) ]" 10
pt_check abort_client_lines [ "$(grep -c ': client=' "$LOG")" -eq $((nclient + 2)) ]
pt_wait_queue_empty 10
pt_check abort_nothing_queued [ "$(pt_queue_count)" -eq 0 ]

# ---- syslog_name: -o syslog_name=postfix/submission ----
pt_wait_smtp "$SUBPORT" 20
log_line syslog_name_tag "${STAMP}postfix/submission/smtpd\[[0-9]+\]: connect from ${PEER}$"
if grep -qE 'postfix/smtpd\[[0-9]+\]: .*submission' "$LOG"; then
    pt_fail syslog_name_only_there "a line names submission under the plain smtpd tag"
else
    pt_ok syslog_name_only_there
fi

# ---- smtpd_client_port_logging = yes: name[addr]:port, the client's port ----
pt_wait_smtp "$PORTLOG" 20
cport=$(python3 - "$PORTLOG" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO portlog.example\r\nMAIL FROM:<nosuch@example.org>\r\nRCPT TO:<nosuchuser_portlog@example.test>\r\nQUIT\r\n")
while f.readline():
    pass
print(s.getsockname()[1])
EOP
)
log_line port_logging_connect "${STAMP}postfix/portlog/smtpd\[[0-9]+\]: connect from ${PEER}:$cport$"
log_line port_logging_reject "postfix/portlog/smtpd\[[0-9]+\]: NOQUEUE: reject: RCPT from ${PEER}:$cport: 550 "
log_line port_logging_disconnect "postfix/portlog/smtpd\[[0-9]+\]: disconnect from ${PEER}:$cport "
if grep -qE "postfix/smtpd\[[0-9]+\]: connect from localhost\[127\.0\.0\.1\]:" "$LOG"; then
    pt_fail port_logging_default_off "a default smtpd logged a port"
else
    pt_ok port_logging_default_off
fi

# ---- logging cannot stall mail ----
MASTER=$(tr -d ' \n' < "$PT_T/spool/pid/master.pid" 2>/dev/null)
# Make sure postlogd runs (a line wakes it), then stop it.
log_wait 'postfix/qmgr' 5 >/dev/null
PLD=$(pgrep -P "${MASTER:-1}" -x postlogd | head -1)
if [ -z "$MASTER" ] || [ -z "$PLD" ]; then
    pt_fail stall_postlogd_found "no postlogd child of master ${MASTER:-?}"
else
    pt_ok stall_postlogd_found
    kill -STOP "$PLD"
    stopped=$(awk '{print $3}' "/proc/$PLD/stat" 2>/dev/null)
    pt_check stall_postlogd_stopped [ "$stopped" = T ]
    before=$(maildir_count logrcpt)
    start=$(date +%s.%N)
    python3 - "$PT_PORT" > "$PT_T/stall.out" 2>&1 <<'EOP'
import smtplib, sys
port = int(sys.argv[1])
ok = 0
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
for i in range(50):
    s.sendmail("stall@example.org", ["logrcpt@example.test"],
               "Subject: stall %d\r\nMessage-ID: <stall%d@example.org>\r\n\r\nbody %d\r\n" % (i, i, i))
    ok += 1
s.quit()
print("sent", ok)
EOP
    pt_check stall_all_accepted grep -qx 'sent 50' "$PT_T/stall.out"
    if pt_wait "[ \$(maildir_count logrcpt) -ge $((before + 50)) ]" 60; then
        echo "# stall: 50 messages delivered in $(echo "$(date +%s.%N) - $start" | bc)s with postlogd stopped"
        pt_ok stall_50_delivered_while_postlogd_stopped
    else
        pt_fail stall_50_delivered_while_postlogd_stopped "only $(( $(maildir_count logrcpt) - before )) of 50 delivered in 60s"
    fi
    still=$(awk '{print $3}' "/proc/$PLD/stat" 2>/dev/null)
    pt_check stall_postlogd_was_stopped_throughout [ "$still" = T ]
    kill -CONT "$PLD"
    # A few more messages, one per connection, so that the processes that lost
    # lines log again (the lost count rides on a process's next line).
    for i in 1 2 3; do pt_smtp_send after@example.org logrcpt@example.test >/dev/null; done
    pt_wait "[ \$(maildir_count logrcpt) -ge $((before + 53)) ]" 60
    log_wait 'from=<after@example\.org>' 30 >/dev/null
    pt_wait "[ \$(grep -cE 'postfix/local\[[0-9]+\]: [0-9A-Za-z]+: to=<logrcpt@example.test>.*status=sent' \"$LOG\") -ge $((before + 53)) ] || grep -q 'log messages were lost' \"$LOG\"" 30
    # Lines of the batch that reached the maillog: local "sent" + qmgr "removed" per message.
    ids=$(grep -E 'postfix/cleanup\[[0-9]+\]: [0-9A-Za-z]+: message-id=<stall[0-9]+@example\.org>' "$LOG" | wc -l)
    sent=$(grep -cE 'postfix/qmgr\[[0-9]+\]: [0-9A-Za-z]+: from=<stall@example\.org>' "$LOG")
    lost=$(grep -E 'warning: [0-9]+ log messages were lost' "$LOG" | sed -E 's/.*warning: ([0-9]+) log messages.*/\1/' | paste -sd+ | bc)
    lost=${lost:-0}
    echo "# stall: cleanup message-id lines $ids/50, qmgr from= lines $sent/50, reported lost $lost"
    if [ "$ids" -eq 50 ] && [ "$sent" -eq 50 ]; then
        pt_ok stall_log_complete_or_loss_reported
    elif [ "$lost" -gt 0 ]; then
        pt_ok stall_log_complete_or_loss_reported
    else
        pt_fail stall_log_complete_or_loss_reported "lines missing ($ids, $sent of 50) and no 'log messages were lost' warning"
    fi
    # The warning names the process that lost lines, in the usual shape.
    if [ "$lost" -gt 0 ]; then
        pt_check stall_loss_warning_shape grep -qE \
            "${STAMP}postfix/[a-z-]+\[[0-9]+\]: warning: [0-9]+ log messages were lost" "$LOG"
    fi
fi

pt_stop
pt_done
