#!/bin/bash
# postscreen_test.sh - postscreen(8) in front of smtpd as in Postfix's
# POSTSCREEN_README: "smtp inet ... postscreen", "smtpd pass ... smtpd",
# "dnsblog unix ... dnsblog", against a real instance in a network namespace
# whose DNS (dnsmasq) serves test DNS lists.
#
# Checks: a clean client waits out postscreen_greet_wait, is handed to smtpd
# (PASS NEW) and delivers into a Maildir; it comes back and passes from the
# cache (PASS OLD); a client that talks before the greeting gets 550 at RCPT
# (greet_action enforce) or 521 at once (drop); DNSBL weights, reply filters,
# threshold, a negative-weight allow list with the allowlist threshold and
# postscreen_dnsbl_reply_map; postscreen_access_list (permit_mynetworks,
# cidr permit and reject with denylist_action enforce); the after-220 tests
# (pipelining, non-SMTP command, bare newline); a PROXY header (the real
# client reaches smtpd); postscreen_pre_queue_limit; smtpd as a pass service
# behind postscreen and a plain inet smtpd beside it; STARTTLS in the
# dummy engine through tlsproxy's server role (postscreen_tls_security_level
# may and encrypt, none, a missing tlsproxy service).

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# The zone: zen.example lists 127.0.0.2, .5 and .9 (answer 127.0.0.2);
# range.example lists 127.0.0.3 as 127.0.0.10 (inside the filter
# [2..11]) and 127.0.0.4 as 127.0.0.20 (outside); wl.example lists .5.
pt_netns_dns PT_PS_INNER ptps 2.0.0.127.zen.example 127.0.0.2 \
    --host-record=2.0.0.127.zen.example,127.0.0.2 \
    --host-record=5.0.0.127.zen.example,127.0.0.2 \
    --host-record=9.0.0.127.zen.example,127.0.0.2 \
    --host-record=3.0.0.127.range.example,127.0.0.10 \
    --host-record=4.0.0.127.range.example,127.0.0.20 \
    --host-record=5.0.0.127.wl.example,127.0.0.3

# ---- inside the namespace ------------------------------------------------------------
. "$HERE/smtpd_restrict_lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
C=$PT_CONF
DROP_PORT=$(pt_free_port)
DEEP_PORT=$(pt_free_port)
PROXY_PORT=$(pt_free_port)
BUSY_PORT=$(pt_free_port)
PLAIN_PORT=$(pt_free_port)
TLS_PORT=$(pt_free_port)
ENC_PORT=$(pt_free_port)
NOPROXY_PORT=$(pt_free_port)
LONG_PORT=$(pt_free_port)
openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=mail.example.test \
    -keyout "$C/key.pem" -out "$C/cert.pem" >/dev/null 2>&1 \
    || pt_fail certificate "openssl req failed"
cat >> "$C/main.cf" <<EOM
home_mailbox = Maildir/
mynetworks = 127.0.0.9/32
postscreen_access_list = permit_mynetworks, cidr:$C/ps_access.cidr
postscreen_denylist_action = enforce
postscreen_greet_wait = 1s
postscreen_greet_action = enforce
postscreen_dnsbl_sites = zen.example*3, range.example=127.0.0.[2..11]*2, wl.example*-5
postscreen_dnsbl_threshold = 3
postscreen_dnsbl_allowlist_threshold = -1
postscreen_dnsbl_action = enforce
postscreen_dnsbl_reply_map = texthash:$C/dnsbl_reply
tlsproxy_tls_cert_file = $C/cert.pem
tlsproxy_tls_key_file = $C/key.pem
EOM
printf '127.0.0.6 reject\n127.0.0.7 permit\n' > "$C/ps_access.cidr"
printf 'zen.example zen.example.test-list\n' > "$C/dnsbl_reply"
# POSTSCREEN_README's master.cf, on the test port; a second postscreen that
# drops, and a plain smtpd beside them.
sed -i -e "/^127.0.0.1:$PT_PORT *inet/d" "$C/master.cf"
cat >> "$C/master.cf" <<EOM
127.0.0.1:$PT_PORT inet n - y - 1 postscreen
smtpd     pass  -       -       y       -       -       smtpd
dnsblog   unix  -       -       y       -       0       dnsblog
127.0.0.1:$DROP_PORT inet n - y - 1 postscreen
    -o postscreen_greet_action=drop -o postscreen_dnsbl_action=drop -o postscreen_cache_map=
127.0.0.1:$DEEP_PORT inet n - y - 1 postscreen
    -o postscreen_pipelining_enable=yes -o postscreen_non_smtp_command_enable=yes
    -o postscreen_bare_newline_enable=yes -o postscreen_cache_map=
127.0.0.1:$PROXY_PORT inet n - y - 1 postscreen
    -o postscreen_upstream_proxy_protocol=haproxy -o postscreen_cache_map=
127.0.0.1:$BUSY_PORT inet n - y - 1 postscreen
    -o postscreen_pre_queue_limit=1 -o postscreen_cache_map= -o postscreen_greet_wait=10s
127.0.0.1:$PLAIN_PORT inet n - n - - smtpd
127.0.0.1:$TLS_PORT inet n - y - 1 postscreen
    -o postscreen_tls_security_level=may -o postscreen_cache_map=
127.0.0.1:$ENC_PORT inet n - y - 1 postscreen
    -o postscreen_tls_security_level=encrypt -o postscreen_cache_map=
127.0.0.1:$NOPROXY_PORT inet n - y - 1 postscreen
    -o postscreen_tls_security_level=may -o postscreen_cache_map=
    -o tlsproxy_service_name=nosuchproxy
127.0.0.1:$LONG_PORT inet n - y - 1 postscreen
    -o line_length_limit=4000 -o postscreen_cache_map=
EOM
grep -qE '^tlsproxy +unix .* tlsproxy$' "$C/master.cf" || pt_fail master_cf "no tlsproxy service in master.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
L=$PT_T/maillog

# ps_args DEFAULT_PORT [-s SRC] [-p PORT] [-e EARLY] CMD...: prints the
# client's arguments for the Python dialogues below: PORT SRC EARLY CMD...
ps_args() {
    local src=127.0.0.1 port=$1 early=
    shift
    while [ $# -gt 0 ]; do
        case $1 in
        -s) src=$2; shift 2 ;;
        -p) port=$2; shift 2 ;;
        -e) early=$2; shift 2 ;;
        *) break ;;
        esac
    done
    printf '%s\0' "$port" "$src" "$early" "$@"
}

# ps_dialog [-s SRC] [-p PORT] [-e EARLY] CMD...: like pt_rdialog (a CMD
# holding a literal \n is sent as written, with \r and \n decoded, and
# one reply is read per line it holds), and with -e
# sends EARLY at once, before any greeting; prints the whole greeting and
# then the reply to EARLY (EARLY =>): after the "220 " line, or, when the
# dummy engine sent none (a pregreet client), right after the teaser.
ps_dialog() {
    local args
    mapfile -d '' args < <(ps_args "$PT_PORT" "$@")
    python3 - "${args[@]}" <<'EOP'
import socket, sys, time
port, src, early, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
t0 = time.time()
s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
if early:
    s.sendall(early.encode() + b"\r\n")
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode("latin1").rstrip("\r\n")
        if not l:
            lines.append("EOF")
            return lines
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return lines
g = reply()
# A client that talked first gets no "220 " from the dummy engine (only
# the "220-" teaser): the reply to its early command follows at once.
e = [i for i, l in enumerate(g) if l.startswith("250")] if early else []
print("CONNECT => %s (after %.1fs)" % (" | ".join(g[:e[0]] if e else g), time.time() - t0))
if e and not early.startswith("PROXY "):
    print("EARLY =>", g[-1])
elif early and not early.startswith("PROXY ") and g[-1].startswith("220 "):
    print("EARLY =>", reply()[-1])
for c in cmds:
    if "\\n" in c:    # raw: sent as written (\r, \n decoded), one reply per line
        raw = c.replace("\\r", "\r").replace("\\n", "\n")
        s.sendall(raw.encode())
        for _ in range(raw.count("\n")):
            r = reply()[-1]
            print(c, "=>", r)
            if r == "EOF":
                break
        continue
    s.sendall(c.encode() + b"\r\n")
    r = reply()[-1]
    print(c, "=>", r)
    if r == "EOF":
        break
    if c == "DATA" and r.startswith("354"):
        s.sendall(b"Subject: postscreen test\r\n\r\nbody\r\n.\r\n")
        print("EOM =>", reply()[-1])
try:
    s.sendall(b"QUIT\r\n")
except OSError:
    pass
EOP
}
MSG=("EHLO client.example" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>" "DATA")
nmail() { ls "$PT_HOMES/alice/Maildir/new" 2>/dev/null | wc -l; }

# A clean client: the banner at once, smtpd's 220 after the greet wait.
out=$(ps_dialog "${MSG[@]}")
pt_expect clean_greeting_is_two_part '^CONNECT => 220-mail\.example\.test ESMTP.* \| 220 mail\.example\.test ESMTP.*after (0\.9|1\.[0-9])s' "$out"
pt_expect clean_client_delivers '^EOM => 250 2\.0\.0 Ok' "$out"
pt_wait '[ "$(nmail)" -ge 1 ]' 30
pt_check clean_client_maildir [ "$(nmail)" = 1 ]
pt_check pass_new_logged grep -qE 'postscreen\[[0-9]+\]: PASS NEW \[127\.0\.0\.1\]:[0-9]+$' "$L"
pt_check connect_logged grep -qE 'postscreen\[[0-9]+\]: CONNECT from \[127\.0\.0\.1\]:[0-9]+ to \[127\.0\.0\.1\]:'"$PT_PORT"'$' "$L"
pt_check smtpd_sees_real_client grep -qE 'smtpd\[[0-9]+\]: connect from localhost\[127\.0\.0\.1\]|smtpd\[[0-9]+\]: connect from unknown\[127\.0\.0\.1\]' "$L"
pt_check smtpd_logs_real_client_msg grep -qE 'client=[a-z]+\[127\.0\.0\.1\]' "$L"

# Again: from the cache, no wait.
out=$(ps_dialog "${MSG[@]}")
pt_expect cached_client_no_wait '^CONNECT => 220 mail\.example\.test [^|]*after 0\.[0-5]s' "$out"
pt_expect cached_client_delivers '^EOM => 250 2\.0\.0 Ok' "$out"
pt_check pass_old_logged grep -qE 'PASS OLD \[127\.0\.0\.1\]:[0-9]+$' "$L"
pt_check cache_file_written pt_wait '[ -f "$PT_T/data/postscreen_cache.db" ]' 10

# Talking before the greeting: enforce = the dummy engine refuses RCPT.
out=$(ps_dialog -s 127.0.0.8 -e "EHLO early.example" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>" "DATA")
pt_expect pregreet_enforce_dummy_ehlo '^EARLY => 250 CHUNKING$' "$out"
# As Postfix: no "220 " for a client that talked first, only the teaser.
pt_expect pregreet_no_engine_banner '^CONNECT => 220-mail\.example\.test [^|]*$' "$out"
pt_expect pregreet_enforce_550 '^RCPT TO:<alice@example.test> => 550 5\.5\.1 Protocol error$' "$out"
pt_expect pregreet_enforce_no_data '^DATA => 554 5\.5\.1 Error: no valid recipients$' "$out"
pt_check pregreet_logged grep -qE 'PREGREET 20 after 0\.[0-9]+ from \[127\.0\.0\.8\]:[0-9]+: EHLO early\.example\\r\\n$' "$L"
pt_check pregreet_noqueue_logged grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.8\]:[0-9]+: 550 5\.5\.1 Protocol error; from=<s@example\.org>, to=<alice@example\.test>, proto=ESMTP, helo=<early\.example>$' "$L"
# ps_raw PORT SRC: sends its standard input to postscreen on PORT from SRC
# at once, before the greeting, then prints "SENT n" and every reply line
# until the server closes (TIMEOUT after 20 s without a byte).
PS_RAW_PY='
import socket, sys
data = sys.stdin.buffer.read()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20, source_address=(sys.argv[2], 0))
s.sendall(data)
print("SENT", len(data))
got = b""
try:
    while True:
        d = s.recv(65536)
        if not d:
            break
        got += d
except socket.timeout:
    got += b"TIMEOUT\r\n"
for l in got.decode("latin1").split("\r\n"):
    if l:
        print(l)
'
ps_raw() { python3 -c "$PS_RAW_PY" "$@"; }

# More than 4 KiB before the greeting (EHLO, three NOOPs of 1900 bytes,
# QUIT): nothing is dropped. postscreen keeps at most 4 KiB unread, leaves
# the rest in the socket until the dummy engine has used some, and every
# command gets its answer in order; bytes past 4 KiB used to be dropped,
# and the session then hung on a cut line until the command time limit.
out=$(python3 -c 'import sys; sys.stdout.buffer.write(b"EHLO big.example\r\n" + b"".join(b"NOOP " + bytes([65 + i]) * 1900 + b"\r\n" for i in range(3)) + b"QUIT\r\n")' \
      | ps_raw "$PT_PORT" 127.0.0.40)
pt_expect pregreet_big_sent_over_4k '^SENT 5[0-9]{3}$' "$out"
pt_check pregreet_big_three_noops [ "$(grep -c '^250 2\.0\.0 Ok$' <<<"$out")" = 3 ]
pt_expect pregreet_big_quit_answered '^221 2\.0\.0 Bye$' "$out"
pt_check pregreet_big_no_timeout [ "$(grep -c 'TIMEOUT\|^421' <<<"$out")" = 0 ]
pt_check pregreet_big_logged grep -qE 'PREGREET [0-9]+ after [0-9.]+ from \[127\.0\.0\.40\]:[0-9]+: EHLO big\.example\\r\\nNOOP A' "$L"
# line_length_limit bounds a command line in the dummy engine: a 3000-byte
# NOOP is too long at the default 2048 and fine where it is 4000 (-o).
long_noop() {
    python3 -c 'import sys; sys.stdout.buffer.write(b"EHLO long.example\r\nNOOP " + b"L" * 3000 + b"\r\nQUIT\r\n")' \
        | ps_raw "$1" 127.0.0.41
}
out=$(long_noop "$PT_PORT")
pt_expect long_line_default_421 '^421 mail\.example\.test Service unavailable - try again later$' "$out"
pt_check long_line_default_logged grep -qE 'COMMAND LENGTH LIMIT from \[127\.0\.0\.41\]:[0-9]+ after EHLO$' "$L"
out=$(long_noop "$LONG_PORT")
pt_expect long_line_4000_accepted '^250 2\.0\.0 Ok$' "$out"
pt_expect long_line_4000_quit '^221 2\.0\.0 Bye$' "$out"
pt_check long_line_4000_not_refused [ "$(grep -c '^421' <<<"$out")" = 0 ]
# drop: 521 at once.
out=$(ps_dialog -s 127.0.0.8 -p "$DROP_PORT" -e "EHLO early.example" "MAIL FROM:<s@example.org>")
pt_expect pregreet_drop_521 '^CONNECT => 220-.* \| 521 5\.5\.1 Protocol error' "$out"

# DNSBL: zen weight 3 reaches the threshold -> rejected with the reply map's name.
out=$(ps_dialog -s 127.0.0.2 "${MSG[@]}")
pt_expect dnsbl_rank3_rejected '^RCPT TO:<alice@example.test> => 550 5\.7\.1 Service unavailable; client \[127\.0\.0\.2\] blocked using zen\.example\.test-list$' "$out"
pt_check dnsbl_rank_logged grep -qE 'DNSBL rank 3 for \[127\.0\.0\.2\]:[0-9]+$' "$L"
pt_check dnsblog_logged grep -qE 'dnsblog\[[0-9]+\]: addr 127\.0\.0\.2 listed by domain zen\.example as 127\.0\.0\.2$' "$L"
pt_check dnsbl_noqueue_logged grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.2\]:[0-9]+: 550 5\.7\.1 Service unavailable; client \[127\.0\.0\.2\] blocked using zen\.example\.test-list; from=<s@example\.org>, to=<alice@example\.test>, proto=ESMTP, helo=<client\.example>$' "$L"
# range.example weight 2 (answer inside the filter) stays below 3 -> passes.
out=$(ps_dialog -s 127.0.0.3 "${MSG[@]}")
pt_expect dnsbl_below_threshold_passes '^EOM => 250 2\.0\.0 Ok' "$out"
# zen 3 + wl -5 = -2 <= allowlist threshold -1: passes without the greet wait.
out=$(ps_dialog -s 127.0.0.5 "${MSG[@]}")
pt_expect dnsbl_allowlisted_passes_early '^CONNECT => 220-.* \| 220 .*after 0\.[0-8]s' "$out"
pt_expect dnsbl_allowlisted_delivers '^EOM => 250 2\.0\.0 Ok' "$out"
pt_check dnsbl_allowlist_pass_new grep -qE 'PASS NEW \[127\.0\.0\.5\]:[0-9]+$' "$L"
# The same DNSBL hit with dnsbl_action = drop.
out=$(ps_dialog -s 127.0.0.2 -p "$DROP_PORT" "EHLO client.example")
pt_expect dnsbl_drop_521 '^CONNECT => 220-.* \| 521 5\.7\.1 Service unavailable; client \[127\.0\.0\.2\] blocked using zen\.example\.test-list' "$out"

# Access list: permit_mynetworks (127.0.0.9, listed in zen) and cidr permit
# pass at once; cidr reject with denylist_action enforce gets 550 5.3.2.
out=$(ps_dialog -s 127.0.0.9 "${MSG[@]}")
pt_expect mynetworks_allowlisted '^CONNECT => 220 mail\.example\.test [^|]*after 0\.[0-5]s' "$out"
pt_expect mynetworks_delivers '^EOM => 250 2\.0\.0 Ok' "$out"
pt_check allowlisted_logged grep -qE 'ALLOWLISTED \[127\.0\.0\.9\]:[0-9]+$' "$L"
out=$(ps_dialog -s 127.0.0.7 "${MSG[@]}")
pt_expect cidr_permit_delivers '^EOM => 250 2\.0\.0 Ok' "$out"
out=$(ps_dialog -s 127.0.0.6 "${MSG[@]}")
pt_expect cidr_reject_enforced '^RCPT TO:<alice@example.test> => 550 5\.3\.2 Service currently unavailable$' "$out"
pt_check denylisted_logged grep -qE 'DENYLISTED \[127\.0\.0\.6\]:[0-9]+$' "$L"

# A plain inet smtpd beside postscreen still serves as before.
out=$(pt_rdialog -p "$PLAIN_PORT" "${MSG[@]}")
pt_expect plain_smtpd_delivers '^EOM => 250 2\.0\.0 Ok' "$out"

# The after-220 tests (a postscreen with all three on): a clean client is
# held by the dummy engine (no PIPELINING offered), told 450 at RCPT and
# cached; on its next connection it goes to smtpd.
out=$(ps_dialog -s 127.0.0.14 -p "$DEEP_PORT" "EHLO client.example" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
pt_expect deep_clean_450 '^RCPT TO:<alice@example.test> => 450 4\.3\.2 Service currently unavailable$' "$out"
pt_check deep_no_pipelining_offered [ -z "$(grep -i pipelining <<<"$out")" ]
pt_check deep_pass_new grep -qE 'PASS NEW \[127\.0\.0\.14\]:[0-9]+$' "$L"
out=$(ps_dialog -s 127.0.0.14 -p "$DEEP_PORT" "${MSG[@]}")
pt_expect deep_passed_client_delivers '^EOM => 250 2\.0\.0 Ok' "$out"
pt_check deep_pass_old grep -qE 'PASS OLD \[127\.0\.0\.14\]:[0-9]+$' "$L"
# Pipelining without permission: enforce (the default) -> 550 at RCPT.
out=$(ps_dialog -s 127.0.0.11 -p "$DEEP_PORT" 'EHLO client.example\r\nMAIL FROM:<s@example.org>\r\n' "RCPT TO:<alice@example.test>")
pt_expect deep_pipelining_550 '^RCPT TO:<alice@example.test> => 550 5\.5\.1 Protocol error$' "$out"
pt_check deep_pipelining_logged grep -qE 'COMMAND PIPELINING from \[127\.0\.0\.11\]:[0-9]+ after EHLO: MAIL FROM:<s@example\.org>\\r\\n$' "$L"
# A non-SMTP command: drop (the default) -> 521 at once.
out=$(ps_dialog -s 127.0.0.12 -p "$DEEP_PORT" "GET / HTTP/1.0")
pt_expect deep_non_smtp_521 '^GET / HTTP/1\.0 => 521 5\.7\.0 Error: I can break rules, too\. Goodbye\.$' "$out"
pt_check deep_non_smtp_logged grep -qE 'NON-SMTP COMMAND from \[127\.0\.0\.12\]:[0-9]+ after CONNECT: GET / HTTP/1\.0$' "$L"
# A bare newline: ignore (the default) -> logged, 450, not cached.
out=$(ps_dialog -s 127.0.0.13 -p "$DEEP_PORT" 'EHLO client.example\n' "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
pt_expect deep_bare_newline_450 '^RCPT TO:<alice@example.test> => 450 4\.3\.2 Service currently unavailable$' "$out"
pt_check deep_bare_newline_logged grep -qE 'BARE NEWLINE from \[127\.0\.0\.13\]:[0-9]+ after EHLO client\.example$' "$L"
pt_check deep_bare_newline_not_passed [ -z "$(grep -E 'PASS NEW \[127\.0\.0\.13\]' "$L")" ]

# Behind a proxy: the PROXY header names the client; smtpd gets that
# address with the descriptor and uses it.
out=$(ps_dialog -p "$PROXY_PORT" -e "PROXY TCP4 192.0.2.50 127.0.0.1 5555 25" "${MSG[@]}")
pt_expect proxy_client_delivers '^EOM => 250 2\.0\.0 Ok' "$out"
pt_check proxy_connect_logged grep -qE 'CONNECT from \[192\.0\.2\.50\]:5555 to \[127\.0\.0\.1\]:25$' "$L"
pt_check proxy_pass_new grep -qE 'PASS NEW \[192\.0\.2\.50\]:5555$' "$L"
pt_check proxy_smtpd_sees_real_client grep -qE 'smtpd\[[0-9]+\]: [0-9A-F]+: client=unknown\[192\.0\.2\.50\]' "$L"

# postscreen_pre_queue_limit = 1: a second client while one is in the
# tests (a 10 s greet wait there) is turned away.
python3 - "$BUSY_PORT" > "$PT_T/busy.out" <<'EOP' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(s.recv(200).decode().strip()); sys.stdout.flush()
time.sleep(5)
EOP
BUSY_PID=$!
pt_wait '[ -s "$PT_T/busy.out" ]' 10
out=$(ps_dialog -s 127.0.0.15 -p "$BUSY_PORT")
pt_expect pre_queue_limit_421 '^CONNECT => 421 4\.3\.2 All server ports are busy' "$out"
wait "$BUSY_PID"

pt_wait '[ "$(nmail)" -ge 9 ]' 30
pt_check all_accepted_mail_delivered [ "$(nmail)" = 9 ]

# STARTTLS in the dummy engine. ps_tls [-s SRC] [-p PORT] [-e EARLY] CMD...:
# prints every reply whole (lines joined by " | "); after "STARTTLS =>
# 220" the rest of the dialogue runs over TLS (the certificate is not
# checked; "TLS => protocol" is printed).
ps_tls() {
    local args
    mapfile -d '' args < <(ps_args "$TLS_PORT" "$@")
    python3 - "${args[@]}" <<'EOP'
import socket, ssl, sys
port, src, early, cmds = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
s = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(src, 0))
if early:
    s.sendall(early.encode() + b"\r\n")
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode("latin1").rstrip("\r\n")
        if not l:
            lines.append("EOF")
            break
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            break
    return " | ".join(lines)
g = reply().split(" | ")
e = [i for i, l in enumerate(g) if l.startswith("250")] if early else []
print("CONNECT =>", " | ".join(g[:e[0]] if e else g))
if e:
    print("EARLY =>", " | ".join(g[e[0]:]))
elif early and g[-1].startswith("220 "):
    print("EARLY =>", reply())
for c in cmds:
    s.sendall(c.encode() + b"\r\n")
    r = reply()
    print(c, "=>", r)
    if r.endswith("EOF"):
        break
    if c == "STARTTLS" and r.startswith("220 "):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        try:
            s = ctx.wrap_socket(s, server_hostname="mail.example.test")
        except (ssl.SSLError, OSError) as e:
            print("TLS => failed:", e)
            break
        print("TLS =>", s.version())
        f = s.makefile("rb")
try:
    s.sendall(b"QUIT\r\n")
except OSError:
    pass
EOP
}
TLSMSG=("EHLO client.example" "STARTTLS" "EHLO client.example" "MAIL FROM:<s@example.org>"
        "RCPT TO:<alice@example.test>" "DATA")
# level may, a client that failed the pregreet test (enforce): EHLO offers
# STARTTLS, the dialogue goes on over TLS and RCPT gets the 550 there.
out=$(ps_tls -s 127.0.0.16 -e "EHLO early.example" "${TLSMSG[@]}")
pt_expect tls_may_early_ehlo_offers_starttls '^EARLY => 250-.*\| 250-STARTTLS \|' "$out"
pt_expect tls_may_ehlo_offers_starttls '^EHLO client\.example => 250-.*\| 250-STARTTLS \|' "$out"
pt_expect tls_may_starttls_220 '^STARTTLS => 220 2\.0\.0 Ready to start TLS$' "$out"
pt_expect tls_may_handshake '^TLS => TLSv1\.[23]$' "$out"
pt_check tls_may_second_ehlo_no_starttls [ "$(grep -c '^EHLO client.example => .*STARTTLS' <<<"$out")" = 1 ]
pt_expect tls_may_second_ehlo_250 '^EHLO client\.example => 250-mail\.example\.test \| .*250 CHUNKING$' "$out"
pt_expect tls_may_rcpt_550_over_tls '^RCPT TO:<alice@example\.test> => 550 5\.5\.1 Protocol error$' "$out"
pt_expect tls_may_no_data '^DATA => 554 5\.5\.1 Error: no valid recipients$' "$out"
pt_check tls_may_noqueue_logged grep -qE 'NOQUEUE: reject: RCPT from \[127\.0\.0\.16\]:[0-9]+: 550 5\.5\.1 Protocol error; from=<s@example\.org>, to=<alice@example\.test>, proto=ESMTP, helo=<client\.example>$' "$L"
# STARTTLS with an argument, and a second STARTTLS over TLS (a denylisted
# client, so that the dummy engine answers).
out=$(ps_tls -s 127.0.0.6 "EHLO client.example" "STARTTLS now" "STARTTLS" "STARTTLS")
pt_expect tls_starttls_syntax '^STARTTLS now => 501 5\.5\.4 Syntax: STARTTLS$' "$out"
pt_expect tls_starttls_twice '^STARTTLS => 554 5\.5\.1 Error: TLS already active$' "$out"
# level encrypt, a denylisted client (enforce): 530 before STARTTLS, and
# after it the denylist's 550.
out=$(ps_tls -s 127.0.0.6 -p "$ENC_PORT" "EHLO client.example" "MAIL FROM:<s@example.org>" "NOOP" "RSET" "${TLSMSG[@]:1}")
# As Postfix: RSET is not among the commands allowed before STARTTLS.
pt_expect tls_encrypt_rset_530 '^RSET => 530 5\.7\.0 Must issue a STARTTLS command first$' "$out"
pt_expect tls_encrypt_530 '^MAIL FROM:<s@example\.org> => 530 5\.7\.0 Must issue a STARTTLS command first$' "$out"
pt_expect tls_encrypt_noop_ok '^NOOP => 250 2\.0\.0 Ok$' "$out"
pt_expect tls_encrypt_handshake '^TLS => TLSv1\.[23]$' "$out"
pt_expect tls_encrypt_mail_after_tls '^MAIL FROM:<s@example\.org> => 250 2\.1\.0 Ok$' "$out"
pt_expect tls_encrypt_denylist_550 '^RCPT TO:<alice@example\.test> => 550 5\.3\.2 Service currently unavailable$' "$out"
# No level (smtpd_tls_security_level empty, smtpd_use_tls = no): no STARTTLS.
out=$(ps_tls -s 127.0.0.16 -p "$PT_PORT" -e "EHLO early.example" "STARTTLS" "MAIL FROM:<s@example.org>")
pt_expect tls_none_ehlo '^EARLY => 250-mail\.example\.test \|' "$out"
pt_check tls_none_not_offered [ -z "$(grep STARTTLS <<<"${out%%STARTTLS =>*}")" ]
pt_expect tls_none_starttls_502 '^STARTTLS => 502 5\.5\.1 Error: command not implemented$' "$out"
pt_expect tls_none_mail_ok '^MAIL FROM:<s@example\.org> => 250 2\.1\.0 Ok$' "$out"
# tlsproxy_service_name names no master.cf service: 454, the plaintext
# dialogue goes on.
out=$(ps_tls -s 127.0.0.6 -p "$NOPROXY_PORT" "EHLO client.example" "STARTTLS" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
pt_expect tls_noproxy_offered '^EHLO client\.example => .*250-STARTTLS' "$out"
pt_expect tls_noproxy_454 '^STARTTLS => 454 4\.7\.0 TLS not available due to local problem$' "$out"
pt_expect tls_noproxy_goes_on '^RCPT TO:<alice@example\.test> => 550 5\.3\.2 Service currently unavailable$' "$out"
pt_check tls_noproxy_logged grep -qE 'postscreen\[[0-9]+\]: warning: STARTTLS from \[127\.0\.0\.6\]:[0-9]+: tlsproxy service unavailable: connect to private/nosuchproxy' "$L"

# The parameters are implemented: postfix check does not report them.
printf 'postscreen_use_tls = yes\npostscreen_enforce_tls = no\npostscreen_tls_security_level = may\n' >> "$C/main.cf"
out=$("$PT_BUILD/sbin/postfix" -c "$C" check 2>&1)
pt_check postscreen_tls_not_reported [ -z "$(grep -E 'postscreen_(use|enforce)_tls|postscreen_tls_security_level' <<<"$out")" ]
pt_done
