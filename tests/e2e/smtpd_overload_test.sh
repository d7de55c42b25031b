#!/bin/bash
# smtpd_overload_test.sh - stress mode: 300 idle connections hold every
# smtpd process (maxproc 20); master logs the process limit warning and
# switches the service to stress mode, and a real client is still served
# within 10 seconds.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
# maxproc 20 for the SMTP listener (column 7).
awk -v p="127.0.0.1:$PT_PORT" '$1 == p && $2 == "inet" { $7 = 20 } { print }' \
    "$PT_CONF/master.cf" > "$PT_CONF/master.cf.new" && mv "$PT_CONF/master.cf.new" "$PT_CONF/master.cf"
pt_check maxproc_set grep -q "^127.0.0.1:$PT_PORT inet n - n - 20 smtpd" "$PT_CONF/master.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

out=$(python3 - "$PT_PORT" <<'EOP'
import errno, select, smtplib, socket, sys, time
port = int(sys.argv[1])
idle = []
# 300 idle clients: connect (non-blocking, the listen queue overflows) and
# never send a byte. Bounded: all are closed at the end.
for i in range(300):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    idle.append(s)
time.sleep(1.0)     # let them occupy every process and fill the queue
t0 = time.time()
try:
    c = smtplib.SMTP("127.0.0.1", port, timeout=30)
    c.ehlo("legit.example.test")
    c.sendmail("sender@example.org", ["alice@example.test"],
               "Subject: overload\r\n\r\nserved under stress\r\n")
    c.quit()
    print("served %.1f" % (time.time() - t0))
except Exception as e:
    print("failed %.1f %r" % (time.time() - t0, e))
for s in idle:
    s.close()
EOP
)
echo "# $out"
secs=$(awk '/^served/ { print $2 }' <<<"$out")
pt_check legit_client_served [ -n "$secs" ]
pt_check served_within_10s awk -v s="${secs:-99}" 'BEGIN { exit !(s < 10) }'
pt_check process_limit_warning grep -q "warning: service \"127.0.0.1:$PT_PORT\" (127.0.0.1:$PT_PORT) has reached its process limit \"20\": new clients may experience noticeable delays" "$PT_T/maillog"
pt_check stress_readme_hint grep -q 'warning: see http://www.postfix.org/STRESS_README.html for examples of stress-adapting configuration settings' "$PT_T/maillog"
pt_check idle_clients_timed_out grep -q 'timeout after CONNECT from localhost\[127.0.0.1\]' "$PT_T/maillog"
pt_wait_queue_empty 30
pt_check delivered pt_wait "[ \$(ls $PT_HOMES/alice/Maildir/new 2>/dev/null | wc -l) = 1 ]" 10
# Afterwards the server is back to normal service for a new client.
reply=$(pt_smtp_send sender@example.org alice@example.test)
pt_check served_after [ "${reply%% *}" = 250 ]
pt_done
