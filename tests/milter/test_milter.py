#!/usr/bin/env python3
# test_milter.py - a small milter for the e2e tests, speaking the Sendmail
# milter protocol (version 6) over a raw socket.
#
# Used by: tests/e2e/milter_test.sh.
# Usage: test_milter.py PORT LOGFILE
# What it does is chosen by the test through the message:
#   MAIL FROM <reject-mail@..>     -> reject     <tempfail-mail@..> -> tempfail
#   MAIL FROM <code-mail@..>       -> replycode "550 5.7.0 mail refused by milter"
#   RCPT TO <rejectme@..>          -> reject     <tempme@..> -> tempfail
#   RCPT TO <codeme@..>            -> replycode, two lines 553 5.7.2
#   RCPT TO <discardme@..>         -> discard     <shutme@..> -> replycode 421
#   HELO reject.helo               -> reject (given at MAIL FROM)
#   Subject words at end of message: addheader chgheader delheader insheader
#   replbody addrcpt addrcptpar delrcpt chgfrom quarantine reject-eom
#   tempfail-eom discard-eom code-eom reject-hdr macros progress stall (6 s)
# Every event is appended to LOGFILE as one line ("MAIL <a@b> macros=...").
import socket
import struct
import sys
import threading
import time

PORT = int(sys.argv[1])
LOG = sys.argv[2]
lock = threading.Lock()


def log(line):
    with lock:
        with open(LOG, "a") as f:
            f.write(line + "\n")


def recv_exact(s, n):
    b = b""
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError
        b += c
    return b


def send(s, cmd, data=b""):
    s.sendall(struct.pack("!I", len(data) + 1) + cmd + data)


def z(*parts):
    return b"".join(p.encode() + b"\0" for p in parts)


def session(s):
    macros = {}
    headers = []
    body = b""
    try:
        while True:
            (n,) = struct.unpack("!I", recv_exact(s, 4))
            pkt = recv_exact(s, n)
            cmd, data = pkt[:1], pkt[1:]
            if cmd == b"O":
                send(s, b"O", struct.pack("!III", 6, 0x1FF, 0))
            elif cmd == b"D":
                parts = data[1:].split(b"\0")
                for i in range(0, len(parts) - 1, 2):
                    macros[parts[i].decode()] = parts[i + 1].decode()
            elif cmd == b"C":
                log("CONNECT %s" % data.split(b"\0")[0].decode())
                send(s, b"c")
            elif cmd == b"H":
                helo = data.rstrip(b"\0").decode()
                log("HELO %s" % helo)
                send(s, b"r" if helo == "reject.helo" else b"c")
            elif cmd == b"M":
                args = [a.decode() for a in data.split(b"\0") if a]
                headers, body = [], b""
                log("MAIL %s daemon_name=%s auth_authen=%s auth_type=%s" % (
                    " ".join(args), macros.get("{daemon_name}", ""),
                    macros.get("{auth_authen}", ""), macros.get("{auth_type}", "")))
                a = args[0]
                if a.startswith("<reject-mail@"):
                    send(s, b"r")
                elif a.startswith("<tempfail-mail@"):
                    send(s, b"t")
                elif a.startswith("<code-mail@"):
                    send(s, b"y", z("550 5.7.0 mail refused by milter"))
                else:
                    send(s, b"c")
            elif cmd == b"R":
                a = data.split(b"\0")[0].decode()
                log("RCPT %s rcpt_addr=%s" % (a, macros.get("{rcpt_addr}", "")))
                if a.startswith("<rejectme@"):
                    send(s, b"r")
                elif a.startswith("<tempme@"):
                    send(s, b"t")
                elif a.startswith("<codeme@"):
                    send(s, b"y", z("553-5.7.2 first line\r\n553 5.7.2 second line"))
                elif a.startswith("<discardme@"):
                    send(s, b"d")
                elif a.startswith("<shutme@"):
                    send(s, b"y", z("421 4.7.0 milter going away"))
                else:
                    send(s, b"c")
            elif cmd == b"T":
                send(s, b"c")
            elif cmd == b"L":
                name, value = data.split(b"\0")[:2]
                headers.append((name.decode(), value.decode()))
                subj = [v for k, v in headers if k.lower() == "subject"]
                if subj and "reject-hdr" in subj[0].split():
                    send(s, b"y", z("550 5.7.3 header refused"))
                else:
                    send(s, b"c")
            elif cmd == b"N":
                send(s, b"c")
            elif cmd == b"B":
                body += data
                send(s, b"c")
            elif cmd == b"E":
                subj = " ".join(v for k, v in headers if k.lower() == "subject")
                words = subj.split()
                log("EOM i=%s subject=%s headers=%d body=%d" % (
                    macros.get("i", ""), subj, len(headers), len(body)))
                final = b"c"
                fdata = b""
                for w in words:
                    if w == "addheader":
                        send(s, b"h", z("X-Test-Milter", "added by milter"))
                    elif w == "chgheader":
                        send(s, b"m", struct.pack("!I", 1) + z("X-Change", "changed value"))
                    elif w == "delheader":
                        send(s, b"m", struct.pack("!I", 1) + z("X-Delete", ""))
                    elif w == "insheader":
                        send(s, b"i", struct.pack("!I", 0) + z("X-Inserted", "at the top"))
                    elif w == "replbody":
                        send(s, b"b", b"replaced body line 1\r\nreplaced body line 2\r\n")
                    elif w == "addrcpt":
                        send(s, b"+", z('<"bob"@example.test>'))  # external (quoted) form
                    elif w == "addrcptpar":
                        send(s, b"2", z("<carol@example.test>", "NOTIFY=DELAY,SUCCESS"))
                    elif w == "delrcpt":
                        send(s, b"-", z("<bob@example.test>"))
                    elif w == "chgfrom":
                        send(s, b"e", z("<changed@example.org>"))
                    elif w == "quarantine":
                        send(s, b"q", z("held by the test milter"))
                    elif w == "macros":
                        send(s, b"h", z("X-Macros", "i=%s daemon_name=%s client_addr=%s" % (
                            macros.get("i", ""), macros.get("{daemon_name}", ""),
                            macros.get("{client_addr}", ""))))
                    elif w == "progress":
                        send(s, b"p")
                    elif w == "stall":
                        time.sleep(6)
                    elif w == "reject-eom":
                        final = b"r"
                    elif w == "tempfail-eom":
                        final = b"t"
                    elif w == "discard-eom":
                        final = b"d"
                    elif w == "code-eom":
                        final, fdata = b"y", z("554 5.7.9 message refused by milter")
                send(s, final, fdata)
            elif cmd == b"A":
                log("ABORT")
            elif cmd == b"U":
                log("UNKNOWN %s" % data.rstrip(b"\0").decode())
                send(s, b"y", z("502 5.5.1 unknown command seen by milter"))
            elif cmd == b"Q":
                return
            else:
                log("BAD %r" % cmd)
                return
    except (EOFError, ConnectionError):
        return
    finally:
        s.close()


def main():
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", PORT))
    ls.listen(50)
    log("READY")
    while True:
        c, _ = ls.accept()
        threading.Thread(target=session, args=(c,), daemon=True).start()


main()
