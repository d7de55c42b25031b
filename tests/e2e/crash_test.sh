#!/usr/bin/env bash
# Durability under crashes: a burst of 500 messages while every daemon in
# turn is killed with SIGKILL ends with all 500 delivered exactly once and
# nothing left in the queue; master restarts what was killed.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

N=${PT_BURST:-500}
python3 - "$PT_PORT" "$N" > "$PT_T/sent.txt" 2>"$PT_T/sender.err" <<'EOP' &
import smtplib, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
sent = 0
for i in range(n):
    body = "Subject: burst %d\r\nX-Burst-Id: %d\r\n\r\nmessage number %d\r\n" % (i, i, i)
    for attempt in range(50):
        try:
            s = smtplib.SMTP("127.0.0.1", port, timeout=30)
            s.sendmail("sender@example.org", ["alice@example.test"], body)
            s.quit()
            print(i); sys.stdout.flush(); sent += 1
            break
        except Exception as e:
            time.sleep(0.2)
EOP
sender=$!
PT_PIDS+=("$sender")
# Kill each daemon in turn while mail flows.
# Only children of this instance's master are touched.
master_pid=$(tr -d ' ' < "$PT_T/spool/pid/master.pid")
killed=0
for d in smtpd cleanup trivial-rewrite qmgr local smtpd cleanup qmgr local; do
    sleep 0.7
    pkill -KILL -P "$master_pid" -x "$d" 2>/dev/null && killed=$((killed + 1))
done
pt_check daemons_were_killed [ "$killed" -ge 5 ]
wait "$sender"
acked=$(sort -un "$PT_T/sent.txt" | wc -l)
pt_check all_messages_acknowledged [ "$acked" -eq "$N" ]
"$PT_BUILD/sbin/postqueue" -c "$PT_CONF" -f >/dev/null 2>&1
pt_wait_queue_empty 120
pt_check queue_drained [ "$(pt_queue_count)" -eq 0 ]
ids=$(grep -h '^X-Burst-Id:' "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | awk '{print $2}' | sort -n)
delivered=$(echo "$ids" | grep -c .)
unique=$(echo "$ids" | sort -un | grep -c .)
pt_check all_delivered [ "$unique" -eq "$N" ]
pt_check delivered_exactly_once [ "$delivered" -eq "$N" ]
pt_check master_restarted_smtpd pt_wait_smtp "$PT_PORT" 10
pt_done
