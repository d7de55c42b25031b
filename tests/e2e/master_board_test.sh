#!/usr/bin/env bash
# master's status board (docs/master-protocol.md): children keep their idle or
# busy state in shared memory and write to the status pipe only at the edges.
# What must still hold: every client is served when all processes are busy
# (master hears "the last idle one is busy" and starts more), a reload retires
# idle processes at once and busy ones right after their client (their board
# slot says so; nobody tells them through the pipe), the session that was
# busy at the reload completes, and master wakes far less often than two
# reports per client would make it.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

master=$(tr -d ' \n' < "$PT_T/spool/pid/master.pid")
pt_check children_have_board_slots pt_wait "ps -o args= --ppid $master | grep -q -- '-b [0-9]'" 10

# 1. Six sessions held open at once: each is greeted (one per new process:
#    every start after the first made the last idle process busy).
python3 - "$PT_PORT" > "$PT_T/held.out" <<'EOP'
import socket, sys, time
port = int(sys.argv[1])
socks, banners = [], []
for i in range(6):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(5)
    try:
        banners.append(s.makefile("rb").readline().decode().strip())
    except OSError:
        banners.append("timeout")
    socks.append(s)
print(sum(1 for b in banners if b.startswith("220 ")))
for s in socks:
    s.sendall(b"QUIT\r\n")
    s.close()
EOP
pt_check all_busy_still_served [ "$(cat "$PT_T/held.out")" = 6 ]

# 2. A reload while a session is in progress. The client sends each line it
#    reads from the FIFO and prints every reply line it gets.
cat > "$PT_T/sess.py" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def replies():
    while True:
        line = f.readline().decode()
        print(line.strip(), flush=True)
        if len(line) < 4 or line[3] != "-":
            return
replies()
data = False
for cmd in sys.stdin:
    s.sendall(cmd.rstrip("\n").encode() + b"\r\n")
    if data:
        if cmd.rstrip("\n") == ".":
            data = False
            replies()
        continue
    replies()
    if cmd.startswith("DATA"):
        data = True
EOP
fifo_in=$PT_T/sess.in
mkfifo "$fifo_in"
python3 "$PT_T/sess.py" "$PT_PORT" < "$fifo_in" > "$PT_T/sess.out" 2>&1 &
sess=$!
PT_PIDS+=("$sess")
exec 7>"$fifo_in"
pt_wait 'grep -q "^220 " "$PT_T/sess.out"' 10
pt_check busy_session_greeted grep -q '^220 ' "$PT_T/sess.out"
echo "EHLO client.example.test" >&7
pt_wait 'grep -q "^250 " "$PT_T/sess.out"' 10
busy_pid=$(grep -o 'smtpd\[[0-9]*\]: connect from' "$PT_T/maillog" | tail -n 1 | tr -dc 0-9)
pt_check busy_pid_found [ -n "$busy_pid" ] && kill -0 "$busy_pid"

echo 'smtpd_banner = $myhostname ESMTP board-reloaded' >> "$PT_CONF/main.cf"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" reload 2>/dev/null
banner() {
    python3 - "$PT_PORT" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(s.makefile("rb").readline().decode().strip()); s.sendall(b"QUIT\r\n"); s.close()
EOP
}
pt_wait '[ "$(banner)" = "220 mail.example.test ESMTP board-reloaded" ]' 20
pt_check new_clients_see_reload [ "$(banner)" = "220 mail.example.test ESMTP board-reloaded" ]
pt_check busy_process_kept kill -0 "$busy_pid"

# The busy session goes on and delivers.
{
    echo "MAIL FROM:<bob@example.test>"
    echo "RCPT TO:<alice@example.test>"
    echo "DATA"
    printf 'Subject: board\n\nbusy across a reload\n.\n'
    echo "QUIT"
} >&7
exec 7>&-
wait "$sess"
pt_check busy_session_queued grep -q '^250 2.0.0 Ok: queued as' "$PT_T/sess.out"
pt_check busy_session_quit grep -q '^221 ' "$PT_T/sess.out"
pt_check busy_process_retired pt_wait "! kill -0 $busy_pid 2>/dev/null" 10
pt_check delivered pt_wait "grep -qs 'busy across a reload' $PT_T/mail/alice" 20

# 3. Master is not woken twice per client: 40 messages over 4 parallel
#    sessions to the discard transport (pools of smtpd, cleanup and discard
#    processes larger than the load), counting master's sleeps (voluntary
#    context switches: each wake-up for a status report, a client or a
#    reaped child ends one).
pt_check busy_message_delivered pt_wait "[ \$(grep -c '^From ' $PT_T/mail/alice) -ge 1 ]" 20
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" stop >/dev/null 2>&1
echo 'default_transport = discard' >> "$PT_CONF/main.cf"
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
master=$(tr -d ' \n' < "$PT_T/spool/pid/master.pid")
"$PT_BUILD/sbin/smtp-source" -s 4 -m 8 -f bob@example.test -t bob@remote.example \
    "127.0.0.1:$PT_PORT" >/dev/null 2>&1     # the processes exist before counting
pt_wait_queue_empty 30
wakes() { awk '/^voluntary_ctxt_switches/ { print $2 }' "/proc/$master/status"; }
w0=$(wakes)
"$PT_BUILD/sbin/smtp-source" -s 4 -m 40 -f bob@example.test -t bob@remote.example \
    "127.0.0.1:$PT_PORT" >/dev/null 2>&1
pt_wait_queue_empty 30
w1=$(wakes)
echo "master: $((w1 - w0)) wake-ups for 40 messages"
# Without the board each message makes 6 reports (smtpd, cleanup and discard,
# busy and idle): master woke 111-132 times for these 40 messages (machine
# busy with a test run); with it 25-37.
pt_check master_few_wakeups [ $((w1 - w0)) -lt 70 ]
pt_check all_48_discarded pt_wait "[ \$(grep -c 'relay=none.*status=sent' $PT_T/maillog) -ge 48 ]" 30

pt_done
