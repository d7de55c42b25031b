#!/usr/bin/env bash
# Durability under crashes: a burst of at least 500 messages while every
# daemon in turn is killed with SIGKILL ends with all of them delivered
# exactly once and nothing left in the queue; master restarts what was
# killed. The sender goes on past 500 until the last kill, so that a fast
# machine cannot finish the burst while daemons are still to be killed.
# The one duplicate SMTP itself allows (RFC 5321 4.1.1.4 / RFC 1047): the
# connection breaks after the client sent the final "." and before it read
# the reply; the client cannot know whether the message was queued and
# sends it again. The sender records those messages ("ambiguous"); only
# they may arrive twice. Every other message must arrive exactly once.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

N=${PT_BURST:-500}
python3 - "$PT_PORT" "$N" "$PT_T/ambiguous.txt" "$PT_T/kills.done" "$PT_T/count.txt" \
    > "$PT_T/sent.txt" 2>"$PT_T/sender.err" <<'EOP' &
import os, smtplib, sys, time
port, n, amb_path = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
done_path, count_path = sys.argv[4], sys.argv[5]
amb = open(amb_path, "w")
i = 0
# At least n messages, and on until the kills are over (at most 20 n).
while i < n or (not os.path.exists(done_path) and i < 20 * n):
    body = "Subject: burst %d\r\nX-Burst-Id: %d\r\n\r\nmessage number %d\r\n" % (i, i, i)
    for attempt in range(50):
        stage = "connect"
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            stage = "envelope"
            s.ehlo("client.example")
            code, _ = s.mail("sender@example.org")
            if code != 250: raise smtplib.SMTPException("mail %d" % code)
            code, _ = s.rcpt("alice@example.test")
            if code not in (250, 251): raise smtplib.SMTPException("rcpt %d" % code)
            stage = "data"
            code, _ = s.data(body)
            if code != 250: raise smtplib.SMTPException("data %d" % code)
        except Exception as e:
            if stage == "data" and isinstance(e, (smtplib.SMTPServerDisconnected, OSError)):
                amb.write("%d\n" % i); amb.flush()
            time.sleep(0.2)
            continue
        # Acknowledged: it is the server's now, even if QUIT then fails.
        print(i); sys.stdout.flush()
        try:
            s.quit()
        except Exception:
            pass
        break
    i += 1
open(count_path, "w").write("%d\n" % i)
EOP
sender=$!
PT_PIDS+=("$sender")
# Kill each daemon in turn while mail flows.
# Only children of this instance's master are touched.
master_pid=$(tr -d ' ' < "$PT_T/spool/pid/master.pid")
killed=0
for d in smtpd cleanup trivial-rewrite qmgr local smtpd cleanup qmgr local; do
    sleep 0.7
    # The daemon may be between processes (just killed, not yet needed
    # again): wait for one for up to 3 s rather than count a miss.
    for _ in $(seq 10); do
        pkill -KILL -P "$master_pid" -x "$d" 2>/dev/null && { killed=$((killed + 1)); break; }
        sleep 0.3
    done
done
pt_check daemons_were_killed [ "$killed" -ge 5 ]
touch "$PT_T/kills.done"
wait "$sender"
N=$(cat "$PT_T/count.txt" 2>/dev/null || echo "$N")
acked=$(sort -un "$PT_T/sent.txt" | wc -l)
pt_check all_messages_acknowledged [ "$acked" -eq "$N" ]
"$PT_BUILD/sbin/postqueue" -c "$PT_CONF" -f >/dev/null 2>&1
pt_wait_queue_empty 120
pt_check queue_drained [ "$(pt_queue_count)" -eq 0 ]
ids=$(grep -h '^X-Burst-Id:' "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | awk '{print $2}' | sort -n)
delivered=$(echo "$ids" | grep -c .)
unique=$(echo "$ids" | sort -un | grep -c .)
pt_check all_delivered [ "$unique" -eq "$N" ]
dups=$(echo "$ids" | uniq -d)
unexplained=$(comm -23 <(echo "$dups" | grep . | sort -u) <(sort -u "$PT_T/ambiguous.txt"))
triples=$(echo "$ids" | uniq -c | awk '$1 > 2' | wc -l)
echo "# $delivered deliveries of $N messages; $(grep -c . "$PT_T/ambiguous.txt") ambiguous client retries"
if [ -z "$unexplained" ] && [ "$triples" -eq 0 ]; then
    pt_ok delivered_exactly_once
else
    pt_fail delivered_exactly_once "duplicates without an ambiguous client retry: $(echo $unexplained)"
fi
pt_check master_restarted_smtpd pt_wait_smtp "$PT_PORT" 10
pt_done
