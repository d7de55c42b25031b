#!/bin/bash
# tools_test.sh - end-to-end checks of smtp-source and smtp-sink
#
# Starts smtp-sink on free 127.0.0.1 ports (and a UNIX-domain socket),
# drives it with smtp-source and with Python's smtplib, and checks what the
# sink recorded with -d/-D: envelope lines and message bytes. No Postern
# instance is needed.
# Usage: bash tests/e2e/tools_test.sh   (binaries from $PT_BUILD/sbin, default build/sbin)
# Output: "ok NAME" / "FAIL NAME: why" per case and a summary line; the exit
#         status is non-zero when a case failed.

. "$(dirname "$0")/lib.sh"
SINK=$PT_BUILD/sbin/smtp-sink
SOURCE=$PT_BUILD/sbin/smtp-source
TMP=$(mktemp -d /tmp/tools_test.XXXXXX)
trap 'pt_cleanup; rm -rf "$TMP"' EXIT

ok() { pt_ok "$1"; }
fail() { pt_fail "$1" "${2:-failed}"; }
check() { # check NAME COMMAND...: ok when the command succeeds, else its output
    local name=$1; shift
    local out
    if out=$("$@" 2>&1); then ok "$name"; else fail "$name" "$out"; fi
}

for b in "$SINK" "$SOURCE"; do
    if [ ! -x "$b" ]; then
        fail setup "$b not built"
        pt_done
        exit 1
    fi
done

# start_sink ENDPOINT ARGS...: starts smtp-sink, waits until it accepts; sets SINK_PID.
start_sink() {
    local endpoint=$1; shift
    "$SINK" "$@" "$endpoint" 64 >"$TMP/sink.out" 2>"$TMP/sink.err" &
    SINK_PID=$!
    PT_PIDS+=("$SINK_PID")
    python3 - "$endpoint" <<'EOF' || return 1
import socket, sys, time
ep = sys.argv[1]
deadline = time.time() + 10
while time.time() < deadline:
    try:
        if ep.startswith("unix:"):
            s = socket.socket(socket.AF_UNIX); s.connect(ep[5:])
        else:
            host, port = ep.rsplit(":", 1); s = socket.create_connection((host, int(port)), 1)
        s.recv(100); s.close(); sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

# wait_exit PID SECONDS: true when the process ended by itself in time.
wait_exit() {
    local pid=$1 limit=$2 i
    for ((i = 0; i < limit * 20; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null; return 0; }
        sleep 0.05
    done
    return 1
}

stop_sink() {
    kill "$SINK_PID" 2>/dev/null
    wait "$SINK_PID" 2>/dev/null
}

# ---- 1. bulk: 5 sessions, 50 messages of 2048 bytes, raw capture --------
PORT=$(pt_free_port)
mkdir -p "$TMP/bulk"
if start_sink "127.0.0.1:$PORT" -U -M 50 -d "$TMP/bulk/msg."; then ok sink_starts; else fail sink_starts; fi
if "$SOURCE" -s 5 -m 50 -l 2048 -f sender@example.com -t rcpt@example.net \
        "127.0.0.1:$PORT" 2>"$TMP/src.err"; then
    ok source_bulk_exit_0
else
    fail source_bulk_exit_0 "$(cat "$TMP/src.err")"
fi
if wait_exit "$SINK_PID" 10; then ok sink_exits_after_M_messages; else fail sink_exits_after_M_messages; stop_sink; fi
n=$(find "$TMP/bulk" -type f -name 'msg.*' | wc -l)
if [ "$n" -eq 50 ]; then ok bulk_50_messages_dumped; else fail bulk_50_messages_dumped "got $n"; fi
check bulk_envelopes_and_sizes python3 - "$TMP/bulk" <<'EOF'
import os, sys
d = sys.argv[1]
files = [f for f in os.listdir(d) if f.startswith("msg.")]
ids = set()
for f in files:
    data = open(os.path.join(d, f), "rb").read()
    head, sep, rest = data.partition(b"\n\t")          # Received: continuation
    assert sep, f + ": no Received header"
    lines = head.split(b"\n")
    assert b"X-Client-Addr: 127.0.0.1" in lines, f
    assert b"X-Mail-Args: <sender@example.com>" in lines, f
    rc = [l for l in lines if l.startswith(b"X-Rcpt-Args: ")]
    assert rc == [b"X-Rcpt-Args: <rcpt@example.net>"], (f, rc)
    # Skip the rest of the Received header (one more continuation line).
    rest = rest.split(b"\n", 1)[1].split(b"\n", 1)[1]
    hdrs, sep, body = rest.partition(b"\r\n\r\n")
    assert sep, f + ": no header/body boundary"
    assert b"From: <sender@example.com>" in hdrs and b"To: <rcpt@example.net>" in hdrs, f
    mid = [l for l in hdrs.split(b"\r\n") if l.startswith(b"Message-Id: ")]
    assert len(mid) == 1, f
    ids.add(mid[0])
    assert body.endswith(b"\r\n\n"), f + ": record must end with the message's CRLF and an empty line"
    body = body[:-1]
    # 2048 bytes of payload counted with their CRLFs, plus the CRLF of the last partial line.
    assert len(body) == 2050, (f, len(body))
    for line in body.split(b"\r\n")[:-1]:
        assert 0 < len(line) <= 78 and b"\n" not in line and b"\r" not in line, (f, line)
assert len(ids) == 50, "Message-Ids not unique: %d" % len(ids)
EOF

# ---- 2. -D file, LF form, several numbered recipients, one connection -----
PORT=$(pt_free_port)
start_sink "127.0.0.1:$PORT" -D "$TMP/all/dump" -M 20 -h sink.example || fail sink_starts_D
if "$SOURCE" -d -s 4 -m 20 -r 3 -N -l 500 -S "test subject" -M client.example \
        "127.0.0.1:$PORT" 2>"$TMP/src.err"; then
    ok source_multi_rcpt_exit_0
else
    fail source_multi_rcpt_exit_0 "$(cat "$TMP/src.err")"
fi
wait_exit "$SINK_PID" 10 || { fail sink_D_exit; stop_sink; }
check dump_file_records python3 - "$TMP/all/dump" <<'EOF'
import sys
data = open(sys.argv[1], "rb").read()
assert b"\r" not in data, "LF form must not keep CR"
recs = data.split(b"X-Client-Addr: ")[1:]
assert len(recs) == 20, len(recs)
rcpts = []
for r in recs:
    lines = r.split(b"\n")
    assert b"X-Client-Proto: ESMTP" in lines
    assert b"X-Helo-Args: client.example" in lines
    assert b"X-Mail-Args: <foo@client.example>" in lines
    rc = [l[len(b"X-Rcpt-Args: "):] for l in lines if l.startswith(b"X-Rcpt-Args: ")]
    assert len(rc) == 3, rc
    rcpts += rc
    assert b"Subject: test subject" in lines
    assert any(l.startswith(b"\tby sink.example (smtp-sink) with ESMTP id ") for l in lines)
    tail = r.split(b"\n\n", 1)[1]
    # 500 bytes = 6 lines of 78 + CRLF (480) + 20 more: the LF form drops the
    # 6 CRs and ends the last line with LF; then the record's empty line.
    assert tail.endswith(b"\n\n") and len(tail) == 500 - 6 + 1 + 1, len(tail)
assert len(set(rcpts)) == 60, "recipients must be numbered uniquely with -N"
EOF

# ---- 3. Python smtplib: envelope, dot-stuffing, exact bytes ---------------
PORT=$(pt_free_port)
mkdir -p "$TMP/py"
start_sink "127.0.0.1:$PORT" -U -d "$TMP/py/m." || fail sink_starts_py
check smtplib_sendmail python3 - "$PORT" <<'EOF'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=10)
code, ext = s.ehlo("py.example")
assert code == 250 and b"PIPELINING" in ext and b"CHUNKING" in ext, ext
msg = b"Subject: py\r\n\r\nfirst\r\n.leading dot\r\n..two\r\nlast\r\n"
refused = s.sendmail("alice@example.org", ["bob@example.net", "carol@example.net"], msg,
                     mail_options=["BODY=8BITMIME"])
assert refused == {}, refused
s.quit()
EOF
sleep 0.2
check smtplib_dump_exact python3 - "$TMP/py" <<'EOF'
import os, sys
d = sys.argv[1]
files = [f for f in os.listdir(d) if not f.startswith(".")]
assert len(files) == 1, files
data = open(os.path.join(d, files[0]), "rb").read()
lines = data.split(b"\n")
assert b"X-Helo-Args: py.example" in lines
assert b"X-Mail-Args: <alice@example.org> BODY=8BITMIME" in lines, lines[:6]
assert [l for l in lines if l.startswith(b"X-Rcpt-Args")] == \
    [b"X-Rcpt-Args: <bob@example.net>", b"X-Rcpt-Args: <carol@example.net>"]
body = data.split(b"\n\t", 1)[1].split(b"\n", 2)[2]
# smtplib dot-stuffs on the wire; the capture must hold the original bytes.
assert body == b"Subject: py\r\n\r\nfirst\r\n.leading dot\r\n..two\r\nlast\r\n\n", body
EOF
check bdat_chunks python3 - "$PORT" "$TMP/py" <<'EOF'
import os, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline()
        lines.append(l)
        if l[3:4] != b"-":
            return lines
reply()
# Pipelined: EHLO, MAIL, RCPT and two chunks, the CRLF split between them.
s.sendall(b"EHLO b.example\r\nMAIL FROM:<b@x>\r\nRCPT TO:<c@y>\r\n"
          b"BDAT 6\r\n.a\r\nb\rBDAT 5 LAST\r\n\ncd\r\nQUIT\r\n")
codes = [reply()[-1][:3] for _ in range(6)]
assert codes == [b"250", b"250", b"250", b"250", b"250", b"221"], codes
s.close()
time.sleep(0.2)
d = sys.argv[2]
files = [os.path.join(d, n) for n in os.listdir(d) if not n.startswith(".")]
data = [open(p, "rb").read() for p in files]
hit = [x for x in data if b"X-Mail-Args: <b@x>" in x]
assert len(hit) == 1, len(hit)
body = hit[0].split(b"\n\t", 1)[1].split(b"\n", 2)[2]
assert body == b".a\r\nb\r\ncd\r\n\n", body      # BDAT bytes are not dot-unstuffed
EOF
stop_sink

# ---- 4. rejections end smtp-source with an error, -A tolerates them --------
PORT=$(pt_free_port)
start_sink "127.0.0.1:$PORT" -f RCPT || fail sink_starts_reject
if "$SOURCE" -m 3 "127.0.0.1:$PORT" >/dev/null 2>"$TMP/src.err"; then
    fail source_fails_on_reject "exit 0"
elif grep -q "RCPT TO rejected: 500 5.3.0" "$TMP/src.err"; then
    ok source_fails_on_reject
else
    fail source_fails_on_reject "$(cat "$TMP/src.err")"
fi
if "$SOURCE" -A -m 3 -s 2 "127.0.0.1:$PORT" >/dev/null 2>"$TMP/src.err"; then
    ok source_A_keeps_going
else
    fail source_A_keeps_going "$(cat "$TMP/src.err")"
fi
stop_sink
if "$SOURCE" -m 1 "127.0.0.1:$PORT" >/dev/null 2>"$TMP/src.err"; then
    fail source_fails_without_server "exit 0"
else
    ok source_fails_without_server
fi

# ---- 5. no PIPELINING, LMTP, UNIX-domain socket ---------------------------
PORT=$(pt_free_port)
mkdir -p "$TMP/nopipe"
start_sink "127.0.0.1:$PORT" -p -M 10 -d "$TMP/nopipe/" || fail sink_starts_p
check source_without_pipelining "$SOURCE" -s 2 -m 10 -r 2 "127.0.0.1:$PORT"
wait_exit "$SINK_PID" 10 || { fail sink_p_exit; stop_sink; }
n=$(find "$TMP/nopipe" -type f ! -name '.*' | wc -l)
if [ "$n" -eq 10 ]; then ok nopipe_10_messages; else fail nopipe_10_messages "got $n"; fi

PORT=$(pt_free_port)
mkdir -p "$TMP/lmtp"
start_sink "127.0.0.1:$PORT" -L -M 5 -d "$TMP/lmtp/" || fail sink_starts_L
check source_lmtp "$SOURCE" -L -s 2 -m 5 -r 3 "127.0.0.1:$PORT"
wait_exit "$SINK_PID" 10 || { fail sink_L_exit; stop_sink; }
if grep -l "X-Client-Proto: LMTP" "$TMP"/lmtp/* 2>/dev/null | wc -l | grep -qx 5; then
    ok lmtp_5_messages
else
    fail lmtp_5_messages
fi

start_sink "unix:$TMP/sink.sock" -M 4 -D "$TMP/unix.dump" || fail sink_starts_unix
check source_unix_socket "$SOURCE" -s 2 -m 4 "unix:$TMP/sink.sock"
wait_exit "$SINK_PID" 10 || { fail sink_unix_exit; stop_sink; }
n=$(grep -c "^X-Client-Addr: " "$TMP/unix.dump" 2>/dev/null)
if [ "$n" = 4 ]; then ok unix_4_messages; else fail unix_4_messages "got $n"; fi

# ---- 6. -q drops the client without a reply: smtp-source must notice --------
PORT=$(pt_free_port)
start_sink "127.0.0.1:$PORT" -q DATA || fail sink_starts_q
if "$SOURCE" -m 1 "127.0.0.1:$PORT" >/dev/null 2>"$TMP/src.err"; then
    fail source_notices_drop "exit 0"
elif grep -q "lost connection" "$TMP/src.err"; then
    ok source_notices_drop
else
    fail source_notices_drop "$(cat "$TMP/src.err")"
fi
stop_sink

# ---- 7. a refused BDAT chunk is still read; -t drops a silent client -------
PORT=$(pt_free_port)
start_sink "127.0.0.1:$PORT" -f BDAT -t 1 || fail sink_starts_fB
check bdat_refused_in_sync python3 - "$PORT" <<'EOF'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), 10)
s.sendall(b"EHLO x\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nBDAT 8\r\nNOOP\r\nabBDAT 1 LAST\r\nzNOOP\r\n")
data = b""
t = time.time()
s.settimeout(10)
while True:                     # until -t 1 makes the sink hang up
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
codes = [l[:3] for l in data.split(b"\r\n") if l[3:4] == b" "]
# greeting, EHLO, MAIL, RCPT, refused chunk, refused chunk, NOOP (the NOOP
# inside the first chunk must not be taken for a command), then the 421
# of the idle timeout.
assert codes == [b"220", b"250", b"250", b"250", b"500", b"500", b"250", b"421"], codes
assert time.time() - t < 5, time.time() - t
EOF
stop_sink

pt_done
