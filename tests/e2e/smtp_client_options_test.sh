#!/bin/bash
# smtp_client_options_test.sh - SMTP/LMTP client compatibility settings seen
# from the server's side: a small Python SMTP/LMTP server records every
# command line of each connection (and whether MAIL FROM came pipelined
# with what follows, and whether the client hung up before the delayed
# QUIT reply). One transport per variant (master.cf -o):
#   smtp_always_send_ehlo = no      HELO unless the greeting says ESMTP
#   smtp_skip_quit_response         wait for the QUIT reply (no) or not;
#                                   lmtp_skip_quit_response defaults to no
#   smtp_quote_rfc821_envelope = no <a b@...> instead of <"a b"@...>
#   smtp_send_dummy_mail_auth       AUTH=<> after a SASL login, never without
#   smtp_discard_ehlo_keywords, smtp_discard_ehlo_keyword_address_maps
#                                   (the map's answer replaces the list),
#                                   silent-discard, lmtp_discard_lhlo_keywords
#   smtp_reply_filter               a 550 rewritten to 450: deferred, not
#                                   bounced; a failing table defers (4.3.0)
. "$(dirname "$0")/lib.sh"
pt_instance
P_PLAIN=$(pt_free_port)   # greeting without the word ESMTP
P_ESMTP=$(pt_free_port)   # "220 fake.example ESMTP ready"
P_AUTH=$(pt_free_port)    # also offers AUTH PLAIN
P_LMTP=$(pt_free_port)    # an LMTP server
FAKE_LOG=$PT_T/fake.log
printf '127.0.0.1/32 size,dsn\n' > "$PT_CONF/discard.cidr"
printf '/^550 5\\.([0-9]\\.[0-9]+) (.*)$/ 450 4.$1 $2\n' > "$PT_CONF/reply_filter"
printf '[127.0.0.1]:%s fakeuser:fakepass\n' "$P_AUTH" > "$PT_CONF/sasl_passwd"
printf 'other.example u:p\n' > "$PT_CONF/sasl_none"
cat >> "$PT_CONF/main.cf" <<EOM
smtp_connection_cache_on_demand = no
lmtp_connection_cache_on_demand = no
transport_maps = inline:{ sender.example=discard:, base.example=smtp:[127.0.0.1]:$P_PLAIN, quote.example=smtp:[127.0.0.1]:$P_ESMTP, helo.example=ehlono:[127.0.0.1]:$P_PLAIN, ehlo.example=ehlono:[127.0.0.1]:$P_ESMTP, never.example=ehlonever:[127.0.0.1]:$P_ESMTP, quitwait.example=quitwait:[127.0.0.1]:$P_ESMTP, noquote.example=noquote:[127.0.0.1]:$P_ESMTP, authdummy.example=authdummy:[127.0.0.1]:$P_AUTH, authplain.example=authplain:[127.0.0.1]:$P_AUTH, authnopw.example=authnopw:[127.0.0.1]:$P_AUTH, disc1.example=disc1:[127.0.0.1]:$P_ESMTP, disc2.example=disc2:[127.0.0.1]:$P_ESMTP, disc3.example=disc3:[127.0.0.1]:$P_ESMTP, filt.example=filt:[127.0.0.1]:$P_ESMTP, filtfail.example=filtfail:[127.0.0.1]:$P_ESMTP, lmtp.example=lmtp:inet:127.0.0.1:$P_LMTP, lmtpdisc.example=lmtpdisc:inet:127.0.0.1:$P_LMTP }
EOM
SASL_OPTS="-o smtp_sasl_auth_enable=yes -o smtp_sasl_security_options=noanonymous -o smtp_sasl_mechanism_filter=plain"
cat >> "$PT_CONF/master.cf" <<EOM
ehlono unix - - n - - smtp
  -o smtp_always_send_ehlo=no
ehlonever unix - - n - - smtp
  -o smtp_always_send_ehlo=no -o smtp_never_send_ehlo=yes
quitwait unix - - n - - smtp
  -o smtp_skip_quit_response=no
noquote unix - - n - - smtp
  -o smtp_quote_rfc821_envelope=no
authdummy unix - - n - - smtp
  $SASL_OPTS -o smtp_sasl_password_maps=texthash:$PT_CONF/sasl_passwd
  -o smtp_send_dummy_mail_auth=yes
authplain unix - - n - - smtp
  $SASL_OPTS -o smtp_sasl_password_maps=texthash:$PT_CONF/sasl_passwd
authnopw unix - - n - - smtp
  $SASL_OPTS -o smtp_sasl_password_maps=texthash:$PT_CONF/sasl_none
  -o smtp_send_dummy_mail_auth=yes
disc1 unix - - n - - smtp
  -o smtp_discard_ehlo_keywords=pipelining,SIZE
disc2 unix - - n - - smtp
  -o smtp_discard_ehlo_keywords=pipelining
  -o smtp_discard_ehlo_keyword_address_maps=cidr:$PT_CONF/discard.cidr
disc3 unix - - n - - smtp
  -o smtp_discard_ehlo_keywords=size,silent-discard
filt unix - - n - - smtp
  -o smtp_reply_filter=regexp:$PT_CONF/reply_filter
filtfail unix - - n - - smtp
  -o smtp_reply_filter=fail:broken
lmtpdisc unix - - n - - lmtp
  -o lmtp_discard_lhlo_keywords=pipelining -o lmtp_skip_quit_response=yes
EOM

# The fake server: PORT:MODE arguments. Each connection ends as one line
# in the log: "PORT MODE: cmd | cmd | ... [end]", with "[pipelined]" after
# a MAIL FROM that arrived together with the next command, and
# "[quit-early]" (the client closed before the reply, held back 1.5 s) or
# "[quit-answered]" after QUIT. RCPT to reject* gets 550 5.1.1.
cat > "$PT_T/fake.py" <<'EOP'
import select, socket, sys, threading, time
logf = sys.argv[1]
lock = threading.Lock()
class Conn:
    def __init__(self, sock):
        self.sock, self.buf = sock, b""
    def readline(self):
        while b"\n" not in self.buf:
            d = self.sock.recv(65536)
            if not d:
                return None
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return line.rstrip(b"\r").decode(errors="replace")
    def waiting(self, wait):
        if self.buf:
            return True
        return bool(select.select([self.sock], [], [], wait)[0])
    def send(self, text):
        self.sock.sendall(text.encode() + b"\r\n")
def serve(sock, port, mode):
    c, rec, rcpts = Conn(sock), [], 0
    try:
        greet = {"plain": "220 fake.example Service ready",
                 "lmtp": "220 fake.example LMTP ready"}.get(mode, "220 fake.example ESMTP ready")
        c.send(greet)
        while True:
            l = c.readline()
            if l is None:
                rec.append("[eof]")
                return
            rec.append(l)
            w = l.upper()
            if w.startswith("EHLO") or w.startswith("LHLO"):
                kws = ["PIPELINING", "SIZE 1000000", "DSN"]
                if mode == "auth":
                    kws.append("AUTH PLAIN LOGIN")
                kws.append("ENHANCEDSTATUSCODES")
                c.send("250-fake.example")
                for i, k in enumerate(kws):
                    c.send(("250 " if i + 1 == len(kws) else "250-") + k)
            elif w.startswith("HELO"):
                c.send("250 fake.example")
            elif w.startswith("AUTH PLAIN"):
                if len(l.split()) < 3:
                    c.send("334 ")
                    rec.append(c.readline() or "")
                c.send("235 2.7.0 Authentication successful")
            elif w.startswith("MAIL FROM"):
                rcpts = 0
                if c.waiting(0.3):
                    rec.append("[pipelined]")
                c.send("250 2.1.0 Ok")
            elif w.startswith("RCPT TO"):
                if w.startswith("RCPT TO:<REJECT"):
                    c.send("550 5.1.1 no such user here")
                else:
                    rcpts += 1
                    c.send("250 2.1.5 Ok")
            elif w == "DATA":
                c.send("354 go ahead")
                while True:
                    d = c.readline()
                    if d is None or d == ".":
                        break
                for i in range(rcpts if mode == "lmtp" else 1):
                    c.send("250 2.0.0 Ok: queued")
            elif w == "QUIT":
                r = select.select([sock], [], [], 1.5)[0]
                if r and not sock.recv(1, socket.MSG_PEEK):
                    rec.append("[quit-early]")
                else:
                    rec.append("[quit-answered]")
                    c.send("221 2.0.0 Bye")
                    select.select([sock], [], [], 3)
                return
            else:
                c.send("250 2.0.0 Ok")
    except OSError as e:
        rec.append("[error %s]" % e)
    finally:
        sock.close()
        with lock:
            with open(logf, "a") as f:
                f.write("%d %s: %s [end]\n" % (port, mode, " | ".join(rec)))
def listen(port, mode):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(16)
    while True:
        s, _ = srv.accept()
        threading.Thread(target=serve, args=(s, port, mode), daemon=True).start()
for arg in sys.argv[2:]:
    p, m = arg.split(":")
    threading.Thread(target=listen, args=(int(p), m), daemon=True).start()
while True:
    time.sleep(3600)
EOP
: > "$FAKE_LOG"
python3 "$PT_T/fake.py" "$FAKE_LOG" "$P_PLAIN:plain" "$P_ESMTP:esmtp" "$P_AUTH:auth" \
    "$P_LMTP:lmtp" & PT_PIDS+=($!)
for p in "$P_PLAIN" "$P_ESMTP" "$P_AUTH" "$P_LMTP"; do
    pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $p)).close()' 2>/dev/null" 10
done
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# conn DOMAIN: the first finished connection that carried a RCPT TO for
# DOMAIN (waits for it).
conn() {
    pt_wait "grep -q '^[0-9]* [a-z]*: .*RCPT TO:<[^>]*@$1>.*\[end\]$' '$FAKE_LOG'" 30
    grep -m1 "^[0-9]* [a-z]*: .*RCPT TO:<[^>]*@$1>.*\[end\]$" "$FAKE_LOG"
}
# has TEXT LINE / hasnt TEXT LINE: fixed-string checks on a connection.
has() { grep -qF -- "$1" <<<"$2"; }
hasnt() { [ -n "$2" ] && ! grep -qF -- "$1" <<<"$2"; }

S=s@sender.example
for d in base quote helo ehlo never quitwait noquote authdummy authplain authnopw \
         disc1 disc2 disc3 lmtp lmtpdisc; do
    pt_smtp_send "$S" "u@$d.example" >/dev/null
done
pt_smtp_send "$S" '"a b"@quote.example' >/dev/null
pt_smtp_send '"x y"@sender.example' '"a b"@noquote.example' >/dev/null
pt_smtp_send "$S" reject@base.example >/dev/null
pt_smtp_send "$S" reject@filt.example >/dev/null
pt_smtp_send "$S" u@filtfail.example >/dev/null

# ---- the defaults: EHLO even without ESMTP in the greeting, pipelining,
# SIZE, quoting, no AUTH=<>, QUIT without waiting for the reply.
c=$(conn base.example)
pt_check default_ehlo has ": EHLO mail.example.test |" "$c"
pt_check default_pipelined has "[pipelined]" "$c"
pt_check default_size has "SIZE=" "$c"
pt_check default_quit_early has "[quit-early]" "$c"
pt_check default_no_auth_param hasnt "AUTH=" "$c"

# ---- smtp_always_send_ehlo = no: HELO to a server that does not say ESMTP.
c=$(conn helo.example)
pt_check always_ehlo_no_helo has ": HELO mail.example.test |" "$c"
pt_check always_ehlo_no_no_ehlo hasnt "EHLO" "$c"
pt_check always_ehlo_no_not_pipelined hasnt "[pipelined]" "$c"
c=$(conn ehlo.example)
pt_check always_ehlo_no_esmtp_ehlo has ": EHLO mail.example.test |" "$c"
pt_check always_ehlo_no_esmtp_pipelined has "[pipelined]" "$c"
# smtp_never_send_ehlo still wins over an ESMTP greeting.
c=$(conn never.example)
pt_check never_ehlo_wins has ": HELO mail.example.test |" "$c"

# ---- smtp_skip_quit_response = no: the client waits for the 221.
c=$(conn quitwait.example)
pt_check skip_quit_no_waits has "[quit-answered]" "$c"
pt_check skip_quit_no_delivered pt_wait "grep -q 'to=<u@quitwait.example>.*status=sent' '$PT_T/maillog'" 20

# ---- smtp_quote_rfc821_envelope.
pt_wait "grep -qF '\"a b\"@quote.example' '$FAKE_LOG'" 30
c=$(grep -m1 -F '"a b"@quote.example' "$FAKE_LOG")
pt_check quote_default has 'RCPT TO:<"a b"@quote.example>' "$c"
pt_wait "grep -qF 'a b@noquote.example' '$FAKE_LOG'" 30
c=$(grep -m1 -F 'a b@noquote.example' "$FAKE_LOG")
pt_check quote_no_rcpt has 'RCPT TO:<a b@noquote.example>' "$c"
pt_check quote_no_sender has 'MAIL FROM:<x y@sender.example>' "$c"

# ---- smtp_send_dummy_mail_auth: AUTH=<> only after a login.
c=$(conn authdummy.example)
pt_check dummy_auth_login has "| AUTH PLAIN " "$c"
pt_check dummy_auth_sent has "MAIL FROM:<$S> SIZE=" "$c"
pt_check dummy_auth_param grep -qE "MAIL FROM:<$S>[^|]* AUTH=<>" <<<"$c"
c=$(conn authplain.example)
pt_check no_dummy_auth_login has "| AUTH PLAIN " "$c"
pt_check no_dummy_auth_param hasnt "AUTH=" "$c"
c=$(conn authnopw.example)
pt_check dummy_auth_no_login hasnt "AUTH PLAIN" "$c"
pt_check dummy_auth_no_login_param hasnt "AUTH=" "$c"

# ---- discarded EHLO keywords.
c=$(conn disc1.example)
pt_check discard_pipelining hasnt "[pipelined]" "$c"
pt_check discard_size hasnt "SIZE=" "$c"
pt_check discard_logged grep -q 'discarding EHLO keywords: PIPELINING SIZE$' "$PT_T/maillog"
pt_check discard_delivered pt_wait "grep -q 'to=<u@disc1.example>.*status=sent' '$PT_T/maillog'" 20
# The address map's answer (size, dsn) replaces the list (pipelining).
c=$(conn disc2.example)
pt_check discard_map_replaces_list has "[pipelined]" "$c"
pt_check discard_map_size hasnt "SIZE=" "$c"
pt_check discard_map_logged grep -q 'discarding EHLO keywords: SIZE DSN$' "$PT_T/maillog"
c=$(conn disc3.example)
pt_check discard_silent_size hasnt "SIZE=" "$c"
pt_check discard_silent_not_logged bash -c "! grep -q 'discarding EHLO keywords: SIZE\$' '$PT_T/maillog'"

# ---- LMTP: LHLO, lmtp_skip_quit_response defaults to no;
# lmtp_discard_lhlo_keywords.
c=$(conn lmtp.example)
pt_check lmtp_lhlo has ": LHLO " "$c"
pt_check lmtp_pipelined has "[pipelined]" "$c"
pt_check lmtp_waits_for_quit has "[quit-answered]" "$c"
c=$(conn lmtpdisc.example)
pt_check lmtp_discard_pipelining hasnt "[pipelined]" "$c"
pt_check lmtp_skip_quit_yes has "[quit-early]" "$c"
pt_check lmtp_delivered pt_wait "grep -q 'to=<u@lmtpdisc.example>.*status=sent' '$PT_T/maillog'" 20

# ---- smtp_reply_filter: the 550 becomes 450, deferred instead of bounced.
pt_check reply_unfiltered_bounced pt_wait "grep -q 'to=<reject@base.example>.*status=bounced (host 127.0.0.1\[127.0.0.1\] said: 550 5.1.1 no such user here (in reply to RCPT TO command))' '$PT_T/maillog'" 30
pt_check reply_filtered_deferred pt_wait "grep -q 'to=<reject@filt.example>.*dsn=4.1.1, status=deferred (host 127.0.0.1\[127.0.0.1\] said: 450 4.1.1 no such user here (in reply to RCPT TO command))' '$PT_T/maillog'" 30
pt_check reply_filtered_not_bounced bash -c "! grep -q 'to=<reject@filt.example>.*status=bounced' '$PT_T/maillog'"
pt_check reply_filter_fail_deferred pt_wait "grep -q 'to=<u@filtfail.example>.*dsn=4.3.0, status=deferred (local data error while talking to 127.0.0.1\[127.0.0.1\])' '$PT_T/maillog'" 30
pt_check reply_filter_fail_logged grep -q 'warning: smtp_reply_filter: fail:broken: table lookup problem' "$PT_T/maillog"

pt_done
