#!/usr/bin/env bash
# data_lines_test.sh - how smtpd cuts message content into records, seen in
# the delivered Maildir file of a real instance:
#   - lines shorter than, equal to and longer than line_length_limit (here
#     100) arrive whole, each with one line end, however the client's bytes
#     are split into TCP segments (one send per line, one for everything,
#     and 1-7 byte pieces);
#   - a CR LF whose CR falls on the cut (the 100th byte) still ends the line;
#   - a dot-stuffed line at and beyond the cut loses exactly one dot, and
#     dots that begin the part after a cut are kept;
#   - a bare LF ends a line (the default smtpd_forbid_bare_newline = no
#     keeps it), and the message ends only at CR LF "." CR LF.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
cat >> "$PT_CONF/main.cf" <<'EOM'
home_mailbox = Maildir/
line_length_limit = 100
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
box() { cat "$PT_HOMES/$1"/Maildir/new/* 2>/dev/null; }

# send MODE RCPT: one message over a raw socket; MODE says how the content
# is split (lines, whole, pieces). Prints the reply to the content.
send() {
    python3 - "$PT_PORT" "$1" "$2" <<'EOP'
import random, socket, sys, time
port, mode, rcpt = int(sys.argv[1]), sys.argv[2], sys.argv[3]
lines = [b"Subject: lines " + mode.encode(), b""]
for n in (10, 98, 99, 100, 101, 199, 200, 201, 450):
    lines.append(b"L%03d-" % n + b"x" * (n - 5))
lines.append(b"C" * 99)                         # CR LF with the CR at byte 100
lines.append(b".." + b"d" * 120)                # stuffed dot, past the cut
lines.append(b".." + b"e" * 97)                 # stuffed dot, line at the cut
lines.append(b"y" * 100 + b"..z")               # dots that start the second record
body = b"\r\n".join(lines) + b"\r\nbare\nlf\r\n.\r\n"
s = socket.create_connection(("127.0.0.1", port), timeout=15)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
f = s.makefile("rb")
f.readline()
for c in [b"EHLO c.example", b"MAIL FROM:<sender@example.org>", b"RCPT TO:<" + rcpt.encode() + b">", b"DATA"]:
    s.sendall(c + b"\r\n")
    while True:
        l = f.readline()
        if l[3:4] != b"-":
            break
if mode == "whole":
    s.sendall(body)
elif mode == "lines":
    for l in body.split(b"\n"):
        if l:
            s.sendall(l + b"\n")
            time.sleep(0.002)
else:
    random.seed(11)
    i = 0
    while i < len(body):
        n = random.randint(1, 7)
        s.sendall(body[i:i + n])
        i += n
        if random.random() < 0.05:
            time.sleep(0.002)
print(f.readline().decode().strip())
s.sendall(b"QUIT\r\n")
EOP
}

# The body as the Maildir file must hold it (CR LF line ends removed by
# local delivery's LF convention: each line ends with one LF).
expected() {
    python3 - <<'EOP'
import sys
out = []
for n in (10, 98, 99, 100, 101, 199, 200, 201, 450):
    out.append("L%03d-" % n + "x" * (n - 5))
out.append("C" * 99)
out.append("." + "d" * 120)
out.append("." + "e" * 97)
out.append("y" * 100 + "..z")
out += ["bare", "lf"]
sys.stdout.write("\n".join(out) + "\n")
EOP
}
body_of() { box "$1" | sed '1,/^$/d'; }

for pair in whole:alice lines:bob pieces:carol; do
    mode=${pair%%:*} user=${pair#*:}
    out=$(send "$mode" "$user@example.test")
    pt_check "${mode}_accepted" grep -q '^250 ' <<<"$out"
    pt_wait "[ -n \"\$(box $user)\" ]" 20
    same_body() { diff <(expected) <(body_of "$1") >/dev/null; }
    pt_check "${mode}_lines_intact" same_body "$user"
done
if ! diff <(expected) <(body_of carol) >/dev/null; then
    diff <(expected) <(body_of carol) | head -20
fi

pt_stop
pt_done
