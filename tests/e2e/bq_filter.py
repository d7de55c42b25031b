#!/usr/bin/env python3
# bq_filter.py - a small before-queue content filter for proxy_filter_test.sh
#
# Usage: bq_filter.py LISTEN_PORT REINJECT_PORT LOGFILE
# An SMTP server on 127.0.0.1:LISTEN_PORT, the "before queue filter" of
# Postfix's SMTPD_PROXY_README: it offers XFORWARD, accepts every sender,
# refuses the recipient blocked@example.test (550 5.1.1), multiline@ with a
# three-line 550 reply, longreply@ with a 201-line 450 reply, endless@ with
# a 1501-line reply (longer than smtpd accepts), and at the end of
# DATA refuses content containing FILTER-REJECT-ME with
# "550 5.7.1 Message content rejected by test filter", waits 30 s before
# answering content with FILTER-STALL-ME (for smtpd_proxy_timeout), and
# passes everything else to 127.0.0.1:REINJECT_PORT with smtplib, answering
# its client with the re-injection server's own reply (or 451 when that
# fails). Each command it receives is appended to LOGFILE ("< LINE"), and
# each verdict ("verdict CODE TEXT"), so the test can see what smtpd sent.
import smtplib
import socketserver
import sys
import threading
import time

LISTEN, REINJECT, LOG = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
log_lock = threading.Lock()


def log(text):
    with log_lock, open(LOG, "a") as f:
        f.write(text + "\n")


class Handler(socketserver.StreamRequestHandler):
    def reply(self, text):
        self.wfile.write(text.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.reply("220 filter.example.test ESMTP test filter")
        sender, rcpts = None, []
        while True:
            raw = self.rfile.readline(4096)
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            log("< " + line)
            verb = line.split(" ", 1)[0].upper()
            if verb == "EHLO":
                self.reply("250-filter.example.test")
                self.reply("250-XFORWARD NAME ADDR PROTO HELO SOURCE PORT")
                self.reply("250 8BITMIME")
            elif verb == "XFORWARD":
                self.reply("250 2.0.0 Ok")
            elif verb == "MAIL":
                sender = line[10:].split(">", 1)[0].lstrip("<")
                rcpts = []
                self.reply("250 2.1.0 Ok")
            elif verb == "RCPT":
                rcpt = line[8:].split(">", 1)[0].lstrip("<")
                if rcpt == "blocked@example.test":
                    self.reply("550 5.1.1 <%s>: filter refuses this recipient" % rcpt)
                elif rcpt == "multiline@example.test":
                    self.reply("550-5.7.1 first line\r\n550-5.7.1 second line\r\n"
                               "550 5.7.1 third line")
                elif rcpt == "endless@example.test":
                    # a reply that does not end (1500 continuation lines),
                    # then a final line that nobody must take for the next reply
                    self.reply("\r\n".join(["250-2.1.5 more"] * 1500 + ["250 2.1.5 late"]))
                elif rcpt == "longreply@example.test":
                    # 200 lines of 70 characters: far beyond line_length_limit
                    self.reply("\r\n".join(["450-4.7.1 " + "x" * 60] * 200 + ["450 4.7.1 end"]))
                else:
                    rcpts.append(rcpt)
                    self.reply("250 2.1.5 Ok")
            elif verb == "DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                data = bytearray()
                while True:
                    l = self.rfile.readline(65536)
                    if not l:
                        log("lost connection in DATA")
                        return
                    if l == b".\r\n":
                        break
                    if l.startswith(b"."):
                        l = l[1:]
                    data += l
                self.verdict(sender, rcpts, bytes(data))
                sender, rcpts = None, []
            elif verb == "RSET":
                sender, rcpts = None, []
                self.reply("250 2.0.0 Ok")
            elif verb == "QUIT":
                self.reply("221 2.0.0 Bye")
                return
            else:
                self.reply("502 5.5.2 Error: command not recognized")

    def verdict(self, sender, rcpts, data):
        if b"FILTER-REJECT-ME" in data:
            answer = "550 5.7.1 Message content rejected by test filter"
        elif b"FILTER-STALL-ME" in data:
            time.sleep(30)
            answer = "250 2.0.0 too late"
        else:
            try:
                s = smtplib.SMTP("127.0.0.1", REINJECT, timeout=30)
                s.ehlo("filter.example.test")
                code, msg = s.mail(sender)
                for r in rcpts:
                    if code == 250:
                        code, msg = s.rcpt(r)
                if code == 250:
                    code, msg = s.data(data)
                s.quit()
                answer = "%d %s" % (code, msg.decode())
            except (OSError, smtplib.SMTPException) as e:
                answer = "451 4.3.0 re-injection failed: %s" % e
        log("verdict " + answer)
        self.reply(answer)


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


Server(("127.0.0.1", LISTEN), Handler).serve_forever()
