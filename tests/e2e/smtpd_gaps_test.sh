#!/bin/bash
# smtpd_gaps_test.sh - smtpd settings that used to be ignored or wrong, on a
# real instance: DEFER_IF_PERMIT (access map and policy server) before the
# implicit unknown-recipient check; smtpd_forbid_bare_newline (normalize,
# yes, reject, no, exclusions); queue_minfree and SIZE= at MAIL;
# smtpd_reject_footer; smtpd_reject_unlisted_sender; debug_peer_list;
# smtpd_upstream_proxy_protocol = haproxy (PROXY v1 and v2 written by the
# test client: $mynetworks decided on the real client, which is also the one
# in the Received: header; bad, missing and LOCAL headers); HELO/EHLO in
# smtpd_junk_command_limit.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd_restrict_lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
C=$PT_CONF
PPORT=$(pt_free_port)
BN=$(pt_free_port); BY=$(pt_free_port); BR=$(pt_free_port); BX=$(pt_free_port)
B0=$(pt_free_port); JP=$(pt_free_port); QP=$(pt_free_port); SP=$(pt_free_port)
MP=$(pt_free_port); PX=$(pt_free_port); PT=$(pt_free_port); NF=$(pt_free_port)
printf 'nosuchuser@example.test DEFER_IF_PERMIT greylisted, try later\n' > "$PT_T/rcpt_access"
cat >> "$C/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_peername_lookup = no
smtpd_recipient_restrictions = check_recipient_access texthash:$PT_T/rcpt_access,
    check_policy_service inet:127.0.0.1:$PPORT
smtpd_reject_unlisted_sender = yes
smtpd_reject_footer = For help call 555-0101.\nclient=\$client_address server=\$server_name
debug_peer_list = 127.0.0.2
debug_peer_level = 2
EOM
nofoot='-o smtpd_reject_footer='
cat >> "$C/master.cf" <<EOM
127.0.0.1:$NF inet n - n - - smtpd $nofoot
127.0.0.1:$BN inet n - n - - smtpd $nofoot -o smtpd_forbid_bare_newline=normalize -o smtpd_forbid_bare_newline_exclusions=
127.0.0.1:$BY inet n - n - - smtpd $nofoot -o smtpd_forbid_bare_newline=yes -o smtpd_forbid_bare_newline_exclusions=
127.0.0.1:$BR inet n - n - - smtpd $nofoot -o smtpd_forbid_bare_newline=reject -o smtpd_forbid_bare_newline_exclusions=
127.0.0.1:$BX inet n - n - - smtpd $nofoot -o smtpd_forbid_bare_newline=reject
127.0.0.1:$B0 inet n - n - - smtpd $nofoot -o smtpd_forbid_bare_newline=no -o smtpd_forbid_bare_newline_exclusions=
127.0.0.1:$JP inet n - n - - smtpd $nofoot -o smtpd_junk_command_limit=1 -o smtpd_hard_error_limit=3
127.0.0.1:$QP inet n - n - - smtpd $nofoot -o queue_minfree=900000000000000000
127.0.0.1:$SP inet n - n - - smtpd $nofoot -o message_size_limit=0
127.0.0.1:$MP inet n - n - - smtpd $nofoot -o message_size_limit=900000000000000000
127.0.0.1:$PX inet n - n - - smtpd $nofoot -o smtpd_upstream_proxy_protocol=haproxy
127.0.0.1:$PT inet n - n - - smtpd $nofoot -o smtpd_upstream_proxy_protocol=haproxy -o smtpd_upstream_proxy_timeout=1s
EOM
# The policy server: DEFER_IF_PERMIT for ghost2@example.test, else DUNNO.
cat > "$PT_T/policy.py" <<'EOP'
import socket, sys, threading
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", int(sys.argv[1]))); srv.listen(5)
def serve(c):
    f = c.makefile("rb")
    while True:
        req = {}
        while True:
            l = f.readline()
            if not l:
                return
            l = l.decode().rstrip("\n")
            if l == "":
                break
            k, _, v = l.partition("=")
            req[k] = v
        a = "DEFER_IF_PERMIT policy greylist" if req.get("recipient") == "ghost2@example.test" else "DUNNO"
        c.sendall(("action=%s\n\n" % a).encode())
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
EOP
python3 "$PT_T/policy.py" "$PPORT" & PT_PIDS+=($!)
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# pt_gdialog PORT 'RAW BYTES' [PREFIX-HEX] [SRC]: optional raw PREFIX (hex)
# first, then the greeting is read, then the bytes (Python escapes) are sent;
# prints every reply line until the server closes (or 10 s pass).
pt_gdialog() {
    python3 - "$1" "$2" "${3:-}" "${4:-127.0.0.1}" <<'EOP'
import socket, sys
port, data = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin1")
pre, src = bytes.fromhex(sys.argv[3]), sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(src, 0))
if pre:
    s.sendall(pre)
f = s.makefile("rb")
print(f.readline().decode("latin1").rstrip())
s.sendall(data)
try:
    for line in f:
        print(line.decode("latin1").rstrip())
except OSError:
    pass
EOP
}
hexof() { printf '%s' "$1" | od -An -tx1 | tr -d ' \n'; }

# ---- DEFER_IF_PERMIT before the implicit unknown-recipient check.
out=$(pt_gdialog $NF 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<nosuchuser@example.test>\r\nRCPT TO:<ghost2@example.test>\r\nRCPT TO:<ghost3@example.test>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n')
pt_expect dip_access_450 '^450 4\.7\.1 <nosuchuser@example\.test>: Recipient address rejected: greylisted, try later$' "$out"
pt_expect dip_policy_450 '^450 4\.7\.1 <ghost2@example\.test>: Recipient address rejected: policy greylist$' "$out"
pt_expect unknown_still_550 '^550 5\.1\.1 <ghost3@example\.test>: Recipient address rejected: User unknown in local recipient table$' "$out"
pt_expect known_250 '^250 2\.1\.5 Ok$' "$out"

# ---- smtpd_reject_unlisted_sender.
out=$(pt_gdialog $NF 'EHLO c.example\r\nMAIL FROM:<nosender@example.test>\r\nRCPT TO:<alice@example.test>\r\nRSET\r\nMAIL FROM:<bob@example.test>\r\nRCPT TO:<alice@example.test>\r\nQUIT\r\n')
pt_expect unlisted_sender_550 '^550 5\.1\.0 <nosender@example\.test>: Sender address rejected: User unknown in local recipient table$' "$out"
pt_check listed_sender_ok [ "$(grep -c '^250 2\.1\.5 Ok$' <<<"$out")" = 1 ]

# ---- smtpd_reject_footer: a multi-line 5xx with the codes repeated and
# the macros expanded; 2xx replies untouched.
out=$(pt_gdialog $PT_PORT 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<ghost3@example.test>\r\nQUIT\r\n')
pt_expect footer_first '^550-5\.1\.1 <ghost3@example\.test>: Recipient address rejected: User unknown in local recipient table$' "$out"
pt_expect footer_text '^550-5\.1\.1 For help call 555-0101\.$' "$out"
pt_expect footer_macros '^550 5\.1\.1 client=127\.0\.0\.1 server=mail\.example\.test$' "$out"
pt_expect footer_not_on_2xx '^250 2\.1\.0 Ok$' "$out"

# ---- smtpd_forbid_bare_newline.
smuggle='EHLO c.example\nMAIL FROM:<s@example.org>\nRCPT TO:<bob@example.test>\nDATA\nSubject: lf\n\nline one\n.\nMAIL FROM:<evil@example.org>\r\n.\r\nQUIT\r\n'
out=$(pt_gdialog $BN "$smuggle")
pt_expect normalize_lf_commands '^354 ' "$out"
pt_check normalize_one_message [ "$(grep -c '^250 2\.0\.0 Ok: queued as' <<<"$out")" = 1 ]
pt_check normalize_no_smuggled_mail [ "$(grep -c '^250 2\.1\.0' <<<"$out")" = 1 ]
pt_wait_queue_empty 30
f=$(ls $PT_HOMES/bob/Maildir/new/* 2>/dev/null | head -1)
pt_check normalize_smuggled_text_is_content grep -q 'MAIL FROM:<evil@example.org>' "${f:-/dev/null}"
rm -f $PT_HOMES/bob/Maildir/new/*
out=$(pt_gdialog $BY "$smuggle")
pt_check yes_is_normalize [ "$(grep -c '^250 2\.0\.0 Ok: queued as' <<<"$out")" = 1 ]
pt_check yes_no_smuggled_mail [ "$(grep -c '^250 2\.1\.0' <<<"$out")" = 1 ]
out=$(pt_gdialog $BR 'EHLO c.example\nQUIT\r\n')
pt_expect reject_command '^550 5\.5\.2 mail\.example\.test Error: bare <LF> received$' "$out"
pt_check reject_closes bash -c "! grep -q '^221' <<<'$out'"
out=$(pt_gdialog $BR 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<bob@example.test>\r\nDATA\r\nSubject: lf\r\n\r\nbare\nline\r\n.\r\nQUIT\r\n')
pt_expect reject_data '^550 5\.5\.2 mail\.example\.test Error: bare <LF> received$' "$out"
pt_check reject_data_not_queued bash -c "! grep -q 'queued as' <<<'$out'"
out=$(pt_gdialog $BX 'EHLO c.example\nQUIT\r\n')
pt_expect reject_excluded_client '^250 ' "$out"
pt_check reject_excluded_client_quit grep -q '^221 2\.0\.0 Bye$' <<<"$out"
out=$(pt_gdialog $B0 "$smuggle")
pt_check no_dot_lf_ends_data [ "$(grep -c '^250 2\.1\.0' <<<"$out")" = 2 ]
pt_wait_queue_empty 30
rm -f $PT_HOMES/bob/Maildir/new/*

# ---- queue_minfree and SIZE= against the queue file system's free space.
avail=$(df -B1 --output=avail "$PT_T/spool" | tail -1 | tr -d ' ')
out=$(pt_gdialog $QP 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nQUIT\r\n')
pt_expect minfree_452 '^452 4\.3\.1 Insufficient system storage$' "$out"
pt_check minfree_log grep -q 'warning: not enough free space in mail queue' "$PT_T/maillog"
# Twice the free space: other work on a shared disk can free a megabyte or
# a gigabyte between df and smtpd's own look, but not double it.
out=$(pt_gdialog $SP "EHLO c.example\r\nMAIL FROM:<s@example.org> SIZE=$((avail * 2 + 1000000))\r\nMAIL FROM:<s@example.org> SIZE=1000\r\nQUIT\r\n")
pt_expect size_over_free_452 '^452 4\.3\.1 Insufficient system storage$' "$out"
pt_expect size_small_ok '^250 2\.1\.0 Ok$' "$out"
out=$(pt_gdialog $MP 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nQUIT\r\n')
pt_expect limit_over_free_452 '^452 4\.3\.1 Insufficient system storage$' "$out"
out=$(pt_gdialog $NF 'EHLO c.example\r\nMAIL FROM:<s@example.org> SIZE=20000000\r\nQUIT\r\n')
pt_expect size_over_limit_552 '^552 5\.3\.4 Message size exceeds fixed limit$' "$out"

# ---- debug_peer_list: the session from 127.0.0.2 is logged verbosely.
pt_gdialog $NF 'EHLO debug.example\r\nQUIT\r\n' '' 127.0.0.2 >/dev/null
pt_gdialog $NF 'EHLO quiet.example\r\nQUIT\r\n' >/dev/null
pt_check debug_peer_verbose pt_wait "grep -q '< unknown\[127.0.0.2\]: EHLO debug.example' $PT_T/maillog" 10
pt_check debug_peer_others_quiet bash -c "! grep -q 'EHLO quiet.example' $PT_T/maillog"

# ---- PROXY protocol.
v1out=$(hexof $'PROXY TCP4 192.0.2.7 127.0.0.1 40000 25\r\n')
out=$(pt_gdialog $PX 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\nQUIT\r\n' "$v1out")
pt_expect proxy_v1_greeting '^220 mail\.example\.test' "$out"
pt_expect proxy_v1_outsider_relay_denied '^454 4\.7\.1 <x@elsewhere\.example>: Relay access denied$' "$out"
pt_check proxy_v1_log_client grep -q 'connect from unknown\[192\.0\.2\.7\]' "$PT_T/maillog"
v1in=$(hexof $'PROXY TCP4 127.0.0.5 127.0.0.1 40001 25\r\n')
out=$(pt_gdialog $PX 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\nRSET\r\nQUIT\r\n' "$v1in")
pt_expect proxy_v1_mynetworks_relay_ok '^250 2\.1\.5 Ok$' "$out"
# Version 2, TCP over IPv4, client 192.0.2.8 port 40002, with a TLV.
v2=0d0a0d0a000d0a515549540a21110011c0000208 ; v2=${v2}7f000001 ; v2=${v2}9c420019 ; v2=${v2}0400026f6b
out=$(pt_gdialog $PX 'EHLO v2.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: proxied\r\n\r\nhello\r\n.\r\nQUIT\r\n' "$v2")
pt_expect proxy_v2_outsider_relay_denied '^454 4\.7\.1 <x@elsewhere\.example>: Relay access denied$' "$out"
pt_expect proxy_v2_queued '^250 2\.0\.0 Ok: queued as' "$out"
pt_wait_queue_empty 30
f=$(grep -ls '^Subject: proxied' $PT_HOMES/alice/Maildir/new/* 2>/dev/null | head -1)
pt_check proxy_v2_received grep -q '^Received: from v2.example (unknown \[192\.0\.2\.8\])' "${f:-/dev/null}"
# v2 LOCAL (a health check): the socket's address, 127.0.0.1, is the client.
out=$(pt_gdialog $PX 'EHLO local.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\nRSET\r\nQUIT\r\n' 0d0a0d0a000d0a515549540a20000000)
pt_expect proxy_v2_local_socket_client '^250 2\.1\.5 Ok$' "$out"
# A client that speaks SMTP without the header is dropped, not served.
out=$(python3 - "$PX" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(b"EHLO c.example\r\nMAIL FROM:<s@example.org>\r\n")
print(s.makefile("rb").read().decode("latin1"))
EOP
)
pt_expect proxy_bad_header_421 '^421 4\.3\.0 mail\.example\.test Server local data error' "$out"
pt_check proxy_bad_header_no_220 bash -c "! grep -q '^220' <<<'$out'"
pt_check proxy_bad_header_log grep -q 'warning: haproxy read: not a PROXY protocol header' "$PT_T/maillog"
# No header at all within smtpd_upstream_proxy_timeout (1s): dropped.
start=$(date +%s)
out=$(python3 - "$PT" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(s.makefile("rb").read().decode("latin1"))
EOP
)
pt_check proxy_timeout_dropped [ $(( $(date +%s) - start )) -lt 8 ]
pt_check proxy_timeout_no_220 bash -c "! grep -q '^220' <<<'$out'"
pt_check proxy_timeout_log pt_wait "grep -q 'warning: haproxy read: timeout error' $PT_T/maillog" 5

# ---- HELO/EHLO count as junk commands (limit 1, hard error limit 3).
out=$(pt_gdialog $JP 'EHLO a\r\nEHLO b\r\nEHLO c\r\nEHLO d\r\nEHLO e\r\nEHLO f\r\nEHLO g\r\nQUIT\r\n')
pt_expect junk_ehlo_421 '^421 4\.7\.0 mail\.example\.test Error: too many errors$' "$out"
pt_check junk_ehlo_log grep -q 'too many errors after EHLO from unknown\[127\.0\.0\.1\]' "$PT_T/maillog"
pt_done
