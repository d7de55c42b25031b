#!/usr/bin/env bash
# multi_server_test.sh - a multi-client daemon at its max_use: trivial-rewrite
# with "-o max_use=1" serves two clients at once; when the first one leaves,
# the process must go on serving the second (and exit only after it), and a
# new client gets a new process. Before this was fixed the process exited at
# the first disconnect and dropped the other client, which then said
# "451 4.3.0 address rewriting service unavailable" under load. The second
# part sends 300 messages over 20 sessions through a trivial-rewrite that
# recycles after every client and expects every one accepted.
. "$(dirname "$0")/lib.sh"

pt_setup_users
pt_instance
sed -i 's/^\(rewrite *unix .*trivial-rewrite\)$/\1\n  -o max_use=1/' "$PT_CONF/master.cf"
grep -q -- '-o max_use=1' "$PT_CONF/master.cf" || pt_fail setup "master.cf has no rewrite line to tune"
cat >> "$PT_CONF/main.cf" <<EOM
default_transport = discard
smtpd_recipient_restrictions = check_recipient_access texthash:$PT_CONF/hold, permit_mynetworks, reject
EOM
printf 'hold.example HOLD\n' > "$PT_CONF/hold"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# Two clients on one trivial-rewrite process; the first leaves; the second
# must still get answers; a third, after that, gets a new process.
out=$(python3 - "$PT_T/spool/private/rewrite" "$PT_T/spool/pid/master.pid" <<'EOP'
import socket, subprocess, sys, time
path = sys.argv[1]
master = int(open(sys.argv[2]).read().split()[0])

def read_block(s):
    buf = b""
    while not buf.endswith(b"\n\n"):
        try:
            d = s.recv(1)
        except OSError:
            return None
        if not d:
            return None
        buf += d
    return dict(l.split("=", 1) for l in buf.decode().split("\n") if "=" in l)

def connect():
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(10)
    s.connect(path)
    read_block(s)       # the server's greeting (proto=rewrite_v1)
    return s

def ask(s):
    try:
        s.sendall(b"request=resolve\nsender=\naddress=someone@example.org\n\n")
    except OSError:
        return None
    return read_block(s)

def children(name):
    r = subprocess.run(["pgrep", "-P", str(master), "-x", name], capture_output=True, text=True)
    return [int(p) for p in r.stdout.split()]

a = connect()
ra = ask(a)
b = connect()
rb = ask(b)
procs = children("trivial-rewrite")
print("both_answered", ra is not None and rb is not None and ra.get("transport") is not None)
print("one_process", len(procs) == 1)
first = procs[0] if procs else -1
a.close()
time.sleep(0.5)
rb2 = ask(b)
print("second_client_served_after_first_left", rb2 is not None and rb2.get("transport") == rb.get("transport"))
c = connect()
rc = ask(c)
print("new_client_served", rc is not None)
print("new_client_new_process", any(p != first for p in children("trivial-rewrite")))
b.close()
deadline = time.time() + 5
while time.time() < deadline and first in children("trivial-rewrite"):
    time.sleep(0.1)
print("drained_process_exited", first not in children("trivial-rewrite"))
c.close()
EOP
)
for name in both_answered one_process second_client_served_after_first_left new_client_served \
            new_client_new_process drained_process_exited; do
    if grep -qx "$name True" <<<"$out"; then pt_ok "$name"; else pt_fail "$name" "$(echo "$out" | tr '\n' ' ')"; fi
done

# Load: 300 messages over 20 sessions, each rewrite client's departure
# ending its trivial-rewrite process. Every message is accepted (held).
if "$PT_BUILD/sbin/smtp-source" -s 20 -m 300 -l 500 -f sender@example.org -t bench@hold.example \
        "127.0.0.1:$PT_PORT" >"$PT_T/source.log" 2>&1; then
    pt_ok load_all_accepted
else
    pt_fail load_all_accepted "$(tail -n 2 "$PT_T/source.log")"
fi
pt_wait '[ "$(find "$PT_T/spool/hold" -type f | wc -l)" -ge 300 ]' 30
pt_check load_all_held [ "$(find "$PT_T/spool/hold" -type f | wc -l)" -eq 300 ]
pt_check no_rewrite_service_errors [ "$(grep -c 'trivial-rewrite service' "$PT_T/maillog")" -eq 0 ]
pt_done
