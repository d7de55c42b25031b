#!/usr/bin/env python3
# tls_peer.py - a small STARTTLS SMTP server for the e2e tests (DANE, TLS
# session resumption): a real TLS endpoint (Python's ssl module, OpenSSL)
# that records what each connection did.
#
# usage: tls_peer.py LOG CERTCHAIN KEY [wrap:]ADDR:PORT...
# Listens on every ADDR:PORT, offers STARTTLS, accepts any mail; a
# "wrap:" listener does TLS from the first byte (wrapper mode, port 465).
# A sender containing "slow" waits 4 seconds for its MAIL reply. Appends
# one line per event to LOG:
#   ADDR:PORT connect
#   ADDR:PORT tls version=TLSv1.3 reused=0|1
#   ADDR:PORT mail tls=0|1 from=<...>
#   ADDR:PORT data tls=0|1 bytes=N
# Server-side session tickets are on (Python default), so a client that
# offers a ticket from an earlier connection to this process is resumed.
import socket, ssl, sys, threading, time

log_path, chain, key = sys.argv[1], sys.argv[2], sys.argv[3]
lock = threading.Lock()


def log(line):
    with lock:
        with open(log_path, "a") as f:
            f.write(line + "\n")


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(chain, key)


def serve(conn, name):
    f = conn.makefile("rb")
    tls = False

    def send(s):
        conn.sendall((s + "\r\n").encode())

    log(name + " connect")
    try:
        if name.startswith("wrap:"):
            try:
                conn = ctx.wrap_socket(conn, server_side=True)
            except (ssl.SSLError, OSError) as e:
                log(name + " tls-failed " + str(e).replace("\n", " "))
                return
            tls = True
            f = conn.makefile("rb")
            log("%s tls version=%s reused=%d" % (name, conn.version(), conn.session_reused))
        send("220 peer.example ESMTP test peer")
        while True:
            line = f.readline(4096)
            if not line:
                return
            cmd = line.decode("latin-1").strip()
            verb = cmd.split(" ", 1)[0].upper()
            if verb in ("EHLO", "LHLO"):
                send("250-peer.example")
                if not tls:
                    send("250-STARTTLS")
                send("250 8BITMIME")
            elif verb == "HELO":
                send("250 peer.example")
            elif verb == "STARTTLS" and not tls:
                send("220 2.0.0 go ahead")
                try:
                    conn = ctx.wrap_socket(conn, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    log(name + " tls-failed " + str(e).replace("\n", " "))
                    return
                tls = True
                f = conn.makefile("rb")
                log("%s tls version=%s reused=%d" % (name, conn.version(), conn.session_reused))
            elif verb == "MAIL":
                log("%s mail tls=%d %s" % (name, tls, cmd[5:]))
                if "slow" in cmd:
                    time.sleep(4)
                send("250 2.1.0 ok")
            elif verb == "RCPT":
                send("250 2.1.5 ok")
            elif verb == "DATA":
                send("354 go")
                n = 0
                while True:
                    l = f.readline(65536)
                    if not l or l in (b".\r\n", b".\n"):
                        break
                    n += len(l)
                log("%s data tls=%d bytes=%d" % (name, tls, n))
                send("250 2.0.0 queued")
            elif verb == "RSET" or verb == "NOOP":
                send("250 2.0.0 ok")
            elif verb == "QUIT":
                send("221 2.0.0 bye")
                return
            else:
                send("502 5.5.2 unknown")
    except (OSError, ssl.SSLError):
        return
    finally:
        try:
            conn.close()
        except OSError:
            pass


def bind(spec):
    host, port = spec.split(":", 1)[1].rsplit(":", 1) if spec.startswith("wrap:") \
        else spec.rsplit(":", 1)
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, int(port)))
    s.listen(16)
    return s


def accept_loop(s, spec):
    while True:
        c, _ = s.accept()
        threading.Thread(target=serve, args=(c, spec), daemon=True).start()


# Bind everything first: a port that cannot be had stops the peer at once.
socks = [(bind(spec), spec) for spec in sys.argv[4:]]
for s, spec in socks:
    threading.Thread(target=accept_loop, args=(s, spec), daemon=True).start()
threading.Event().wait()
