# tests/e2e/smtpd_restrict_lib.sh - helpers shared by the restriction,
# DNS list and policy tests (sourced after lib.sh).

# pt_rdialog [-s SRCADDR] [-p PORT] 'CMD1' 'CMD2' ...: connects (from SRCADDR
# when given), sends each command and prints "CMD => REPLY" (last line of
# each reply); "DATA" is followed by a small message.
pt_rdialog() {
    local src=127.0.0.1 port=$PT_PORT
    while [ $# -gt 0 ]; do
        case $1 in
        -s) src=$2; shift 2 ;;
        -p) port=$2; shift 2 ;;
        *) break ;;
        esac
    done
    python3 - "$port" "$src" "$@" <<'EOP'
import socket, sys
port, src, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
f = s.makefile("rb")
def reply():
    last = ""
    while True:
        l = f.readline().decode("latin1").rstrip("\r\n")
        if not l:
            return "EOF"
        last = l
        if len(l) < 4 or l[3] != "-":
            return last
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
