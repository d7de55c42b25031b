#!/usr/bin/env bash
# in_flow_delay_test.sh - receiving slows down when the queue manager falls
# behind (in_flow_delay), and only then
#
# One instance with in_flow_delay = 2s and default_process_limit = 3 (so
# the queue manager keeps at most 3 tokens in store). Each SMTP session
# below sends several messages and times each one from the end of DATA to
# the 250 reply. With qmgr running every message is answered at once. With
# qmgr taken out of master.cf (postfix reload), the first 3 messages use
# up the stored tokens and each one after that waits about 2 s; a message
# held by a HOLD access rule gives its token back, so the next one does not
# wait. qmgr
# back: it moves the waiting mail on and fills the store again, and
# receiving is fast again. in_flow_delay = 0: no waiting even without qmgr.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
T=$PT_T
cat >> "$PT_CONF/main.cf" <<EOM
in_flow_delay = 2s
default_process_limit = 3
smtpd_recipient_restrictions = check_recipient_access inline:{ bob@example.test=HOLD },
    permit_mynetworks, reject
EOM
cp "$PT_CONF/master.cf" "$T/master.cf.qmgr"
grep -v '^qmgr ' "$T/master.cf.qmgr" > "$T/master.cf.noqmgr"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# timed RCPT N: one session, N messages to RCPT; prints each message's
# seconds from the end of DATA to the reply, and the reply code.
timed() {
    python3 - "$PT_PORT" "$1" "$2" <<'EOP'
import smtplib, sys, time
port, rcpt, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
s.ehlo("client.example.test")
for i in range(n):
    s.mail("sender@example.test")
    s.rcpt(rcpt)
    code, _ = s.putcmd("data") or s.getreply()
    s.send(b"Subject: flow %d\r\n\r\nbody\r\n.\r\n" % i)
    t0 = time.time()
    code, _ = s.getreply()
    print("%.2f %d" % (time.time() - t0, code))
s.quit()
EOP
}
# all_fast OUT / slow_after K OUT: every reply 250 within 1 s; the first K
# within 1 s and every later one after 1.8 s or more.
all_fast() { awk '$2 != 250 || $1 >= 1.0 { bad = 1 } END { exit bad || NR == 0 }' <<<"$1"; }
slow_after() {
    awk -v k="$1" '$2 != 250 { bad = 1 } NR <= k && $1 >= 1.0 { bad = 1 }
                   NR > k && $1 < 1.8 { bad = 1 } END { exit bad || NR <= k }' <<<"$2"
}
slow_first() {
    awk '$2 != 250 { bad = 1 } NR == 1 && $1 < 1.8 { bad = 1 } NR > 1 && $1 >= 1.0 { bad = 1 }
         END { exit bad || NR < 2 }' <<<"$1"
}
wait_qmgr() { pt_wait '[ -n "$(pt_child qmgr)" ]' 20; }
nmail() { grep -c 'to=<alice@example\.test>.*status=sent' "$T/maillog"; }
reload_with() {
    cp "$T/master.cf.$1" "$PT_CONF/master.cf"
    pt_cmd postfix reload >/dev/null 2>&1
}

wait_qmgr
sleep 1     # its first scan of the empty incoming/ fills the store
out=$(timed alice@example.test 5)
pt_check qmgr_running_no_wait all_fast "$out"
pt_wait '[ "$(nmail)" -ge 5 ]' 30
pt_check qmgr_running_delivered [ "$(nmail)" = 5 ]

# No qmgr: 3 stored tokens, then a 2 s wait for each message.
reload_with noqmgr
pt_wait '[ -z "$(pt_child qmgr)" ]' 20
sleep 1
out=$(timed alice@example.test 5)
pt_check no_qmgr_waits_after_3 slow_after 3 "$out" || sed 's/^/    | /' <<<"$out"
pt_check no_qmgr_mail_queued [ "$(pt_queue_count)" = 5 ]

# Held mail gives its token back: the first held message finds none and
# waits, and leaves one for the next, which then does not wait.
out=$(timed bob@example.test 3)
pt_check held_gives_token_back slow_first "$out" || sed 's/^/    | /' <<<"$out"
pt_check held_in_hold [ "$(ls "$T/spool/hold" | wc -l)" = 3 ]

# qmgr back: it delivers what waited and fills the store again.
reload_with qmgr
wait_qmgr
pt_wait '[ "$(nmail)" -ge 10 ]' 30
pt_check qmgr_back_delivers [ "$(nmail)" = 10 ]
sleep 1
out=$(timed alice@example.test 3)
pt_check qmgr_back_no_wait all_fast "$out"

# in_flow_delay = 0: no qmgr and yet no wait.
pt_cmd postconf -e in_flow_delay=0
reload_with noqmgr
pt_wait '[ -z "$(pt_child qmgr)" ]' 20
sleep 1
out=$(timed alice@example.test 6)
pt_check off_no_wait all_fast "$out" || sed 's/^/    | /' <<<"$out"
pt_check not_reported_unsupported bash -c "! grep -q 'in_flow_delay is not supported' '$T/maillog'"
pt_done
