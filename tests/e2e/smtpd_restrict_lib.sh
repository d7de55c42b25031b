# tests/e2e/smtpd_restrict_lib.sh - helpers shared by the restriction,
# DNS list and policy tests (sourced after lib.sh).

# pt_rdialog [-s SRCADDR] [-d DSTADDR] [-p PORT] [-a] 'CMD1' 'CMD2' ...:
# connects to DSTADDR (127.0.0.1) from SRCADDR when given, sends each command
# and prints "CMD => REPLY" (the last line of each reply; with -a every line,
# joined by " | "); "DATA" is followed by a small message.
pt_rdialog() {
    local src=127.0.0.1 dst=127.0.0.1 port=$PT_PORT all=
    while [ $# -gt 0 ]; do
        case $1 in
        -s) src=$2; shift 2 ;;
        -d) dst=$2; shift 2 ;;
        -p) port=$2; shift 2 ;;
        -a) all=1; shift ;;
        *) break ;;
        esac
    done
    python3 - "$dst" "$port" "$src" "$all" "$@" <<'EOP'
import socket, sys
dst, port, src, all_lines, cmds = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5:]
s = socket.create_connection((dst, port), timeout=30, source_address=(src, 0))
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode("latin1").rstrip("\r\n")
        if not l:
            return " | ".join(lines + ["EOF"]) if all_lines else "EOF"
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return " | ".join(lines) if all_lines else l
print("CONNECT =>", reply())
for c in cmds:
    s.sendall(c.encode() + b"\r\n")
    r = reply()
    print(c, "=>", r)
    if c == "DATA" and r.startswith("354"):
        s.sendall(b"Subject: restriction test\r\n\r\nbody\r\n.\r\n")
        print("EOM =>", reply())
s.sendall(b"QUIT\r\n")
EOP
}

# pt_expect NAME 'PATTERN' TEXT: ok when a line of TEXT matches PATTERN (grep -E).
pt_expect() {
    local name=$1 pat=$2 text=$3
    if grep -qE -- "$pat" <<<"$text"; then pt_ok "$name"; else
        pt_fail "$name" "no line matching: $pat"; sed 's/^/    | /' <<<"$text"; fi
}
