#!/usr/bin/env python3
# qmqp_client.py - a small QMQP client for the e2e tests (http://cr.yp.to/proto/qmqp.html)
#
#   qmqp_client.py PORT [--bind ADDR] [--raw HEXBYTES] [--message FILE] SENDER RCPT...
#
# Sends one request to 127.0.0.1:PORT and prints the server's reply netstring
# content ("KOk: queued as ...", "D...", "Z...") or "EOF" when the server closed
# without a reply. --raw sends the given bytes (hex) instead of a request built
# from the arguments; --close-early sends only the first half of the request.
import argparse, socket, sys

def ns(b):
    return str(len(b)).encode() + b":" + b + b","

ap = argparse.ArgumentParser()
ap.add_argument("port", type=int)
ap.add_argument("--bind")
ap.add_argument("--raw")
ap.add_argument("--message")
ap.add_argument("--close-early", action="store_true")
ap.add_argument("sender", nargs="?", default="")
ap.add_argument("rcpts", nargs="*")
a = ap.parse_args()
if a.raw is not None:
    req = bytes.fromhex(a.raw)
else:
    msg = open(a.message, "rb").read() if a.message else \
        b"Subject: qmqp test\nFrom: list@example.org\n\nhello over QMQP\n"
    req = ns(ns(msg) + ns(a.sender.encode()) + b"".join(ns(r.encode()) for r in a.rcpts))
s = socket.socket()
if a.bind:
    s.bind((a.bind, 0))
s.settimeout(30)
s.connect(("127.0.0.1", a.port))
if a.close_early:
    s.sendall(req[: len(req) // 2])
    s.close()
    print("closed")
    sys.exit(0)
try:
    s.sendall(req)
except OSError:
    pass    # the server may answer and close before reading everything
data = b""
while True:
    try:
        chunk = s.recv(4096)
    except OSError:
        break
    if not chunk:
        break
    data += chunk
s.close()
if not data:
    print("EOF")
    sys.exit(0)
n, _, rest = data.partition(b":")
if not n.isdigit() or len(rest) != int(n) + 1 or not rest.endswith(b","):
    print("BADREPLY", data)
    sys.exit(0)
print(rest[:-1].decode())
