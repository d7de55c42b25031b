#!/bin/bash
# bench_floor_test.sh - the ingest floor that bench/run times (bench/floor.c)
#
# Builds bench/floor.c as bench/run does, starts it on a free 127.0.0.1 port
# with four workers and checks what the benchmark relies on: every message
# smtp-source sends ends up whole in hold/ and nothing stays in incoming/;
# pipelined commands get their replies in order; dot-stuffing is undone;
# an over-long line gets 500 and an over-long message 552 and is not kept;
# each message is renamed to hold/ and fsynced before its 250 goes out
# (with strace, where installed); SIGTERM stops every worker. No Postern
# instance is needed.
# Usage: bash tests/e2e/bench_floor_test.sh   (smtp-source from $PT_BUILD/sbin)

. "$(dirname "$0")/lib.sh"
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SOURCE=$PT_BUILD/sbin/smtp-source
TMP=$(mktemp -d /tmp/bench_floor_test.XXXXXX)
FL_PID= FL_TRACED=
# stop_floor: SIGTERM to the floor's parent (under strace: strace's child;
# strace itself would only detach) and waits for it.
stop_floor() {
    [ -n "$FL_PID" ] || return 0
    if [ -n "$FL_TRACED" ]; then
        kill -TERM $(pgrep -P "$FL_PID") 2>/dev/null
    else
        kill -TERM "$FL_PID" 2>/dev/null
    fi
    wait "$FL_PID" 2>/dev/null
    FL_PID=
}
trap 'stop_floor; pt_cleanup; [ -n "${KEEP_TMP:-}" ] || rm -rf "$TMP"' EXIT

CC=$(command -v cc || command -v gcc)
pt_check builds "$CC" -O2 -Wall -Wextra -Werror -o "$TMP/floor" "$ROOT/bench/floor.c"
[ -x "$TMP/floor" ] || { pt_done; exit 1; }

# start_floor DIR [PREFIX...]: four workers on a new port (PORT), DIR made.
start_floor() {
    local dir=$1; shift
    mkdir -p "$dir/incoming" "$dir/hold"
    PORT=$(pt_free_port)
    "$@" "$TMP/floor" "$PORT" "$dir" 4 >"$TMP/floor.log" 2>&1 &
    FL_PID=$!
    pt_wait_smtp "$PORT" 10
}
files() { find "$1" -type f | wc -l; }

D=$TMP/q1
pt_check starts start_floor "$D"
pt_check load_ok "$SOURCE" -s 4 -m 40 -l 3000 -f a@example.org -t b@hold.example "127.0.0.1:$PORT"
pt_check load_all_held test "$(files "$D/hold")" -eq 40
pt_check load_incoming_empty test "$(files "$D/incoming")" -eq 0
pt_check load_whole test "$(find "$D/hold" -type f -size -3000c | wc -l)" -eq 0

# One pipelined transaction, then the odd commands, over a raw socket.
python3 - "$PORT" "$D/hold" > "$TMP/session.out" 2>&1 <<'EOF'
import os, socket, sys
port, hold = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode()
        lines.append(l.rstrip("\r\n"))
        if len(l) < 4 or l[3] != "-":
            return lines
assert reply()[0].startswith("220"), "banner"
s.sendall(b"EHLO t\r\n")
assert "250-PIPELINING" in reply(), "pipelining offered"
s.sendall(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
codes = [reply()[0][:3] for _ in range(3)]
assert codes == ["250", "250", "354"], codes
s.sendall(b"Subject: t\r\n\r\n..dot line\r\nplain\r\n.\r\n")
r = reply()[0]
assert r.startswith("250 2.0.0 Ok: queued as "), r
name = r.split()[-1]
body = open(os.path.join(hold, name), "rb").read()
assert body == b"Subject: t\r\n\r\n.dot line\r\nplain\r\n", body
s.sendall(b"RSET\r\nNOOP\r\nFOO\r\n" + b"X" * 1200 + b"\r\n")
codes = [reply()[0][:3] for _ in range(4)]
assert codes == ["250", "250", "502", "500"], codes
s.sendall(b"MAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\n")
[reply() for _ in range(3)]
line = b"y" * 998 + b"\r\n"
chunk = line * 1000
for _ in range(11):         # 11 MB: over the 10 MB limit
    s.sendall(chunk)
s.sendall(b".\r\n")
r = reply()[0]
assert r.startswith("552"), r
s.sendall(b"QUIT\r\n")
assert reply()[0].startswith("221"), "quit"
print("session ok")
EOF
pt_check session_replies grep -qx "session ok" "$TMP/session.out"
[ -s "$TMP/session.out" ] && ! grep -qx "session ok" "$TMP/session.out" && sed 's/^/    /' "$TMP/session.out"
pt_check big_not_kept test "$(files "$D/hold")" -eq 41

# SIGTERM to the parent ends every worker.
workers=$(pgrep -P "$FL_PID" | wc -l)
pt_check four_workers test "$workers" -eq 4
stop_floor
pt_check all_stopped test "$(pgrep -f "$TMP/floor " | wc -l)" -eq 0

# The order bench/run counts on: rename to hold/, fsync, then the 250.
if command -v strace >/dev/null 2>&1; then
    D=$TMP/q2
    FL_TRACED=1
    start_floor "$D" strace -f -ff -qq -e trace=rename,fsync,sendto -o "$TMP/trace"
    "$SOURCE" -s 2 -m 6 -l 500 -f a@example.org -t b@hold.example "127.0.0.1:$PORT"
    stop_floor
    python3 - "$TMP"/trace.* > "$TMP/order.out" <<'EOF'
import re, sys
# one file per process (strace -ff): calls in the order that process made them
seq = ""
for path in sys.argv[1:]:
    for line in open(path):
        m = re.match(r'(rename|fsync|sendto)\((.*)\)\s+=\s+(-?\d+)', line)
        if not m or int(m.group(3)) < 0:
            continue
        call, args = m.group(1), m.group(2)
        if call == "rename" and "/hold/" in args:
            seq += "R"
        elif call == "fsync":
            seq += "F"
        elif call == "sendto" and '"250 2.0.0 Ok: queued' in args:
            seq += "A"
    seq += "|"
n = seq.count("RFA")
ok = n == 6 and seq.replace("RFA", "").replace("|", "") == ""
print("order ok" if ok else "order bad: %s" % seq)
EOF
    pt_check commit_order grep -qx "order ok" "$TMP/order.out"
else
    pt_skip commit_order "strace is not installed"
fi

pt_done
