#!/bin/bash
# smtpd_protocol_test.sh - protocol extras against a real instance: EHLO
# keywords and smtpd_discard_ehlo_keywords (also per client address),
# CHUNKING/BDAT (good and broken), DSN parameters in the queue file,
# SMTPUTF8, XCLIENT and XFORWARD (authorized and refused), ETRN with
# fast_flush_domains, the close after QUIT.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
message_size_limit = 20000
smtputf8_enable = yes
smtpd_authorized_xclient_hosts = 127.0.0.1
smtpd_authorized_xforward_hosts = 127.0.0.1
fast_flush_domains = flush.example
EOM
# One smtpd process only: the next client waits until it is free.
P_ONE=$(pt_free_port)
echo "127.0.0.1:$P_ONE inet n - n - 1 smtpd" >> "$PT_CONF/master.cf"
# smtpd_noop_commands: a made-up command and a built-in one answered 250.
P_NOOP=$(pt_free_port)
echo "127.0.0.1:$P_NOOP inet n - n - - smtpd -o smtpd_noop_commands=XFOO,etrn" >> "$PT_CONF/master.cf"
# smtpd_command_filter: commands rewritten before they are parsed.
P_CF=$(pt_free_port); P_CFERR=$(pt_free_port)
printf '/^MAIL FROM: +<(.*)> +BROKEN$/ MAIL FROM:<$1>\n/^XFIX$/ NOOP\n' > "$PT_CONF/cmd_filter"
echo "127.0.0.1:$P_CF inet n - n - - smtpd -o smtpd_command_filter=regexp:$PT_CONF/cmd_filter" >> "$PT_CONF/master.cf"
echo "127.0.0.1:$P_CFERR inet n - n - - smtpd -o smtpd_command_filter=fail:broken" >> "$PT_CONF/master.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

pt_dialog() {
    python3 - "$PT_PORT" "$1" "${2:-127.0.0.1}" <<'EOP'
import socket, sys
port, data = int(sys.argv[1]), sys.argv[2].encode().decode("unicode_escape").encode("latin1")
s = socket.create_connection(("127.0.0.1", port), timeout=15, source_address=(sys.argv[3], 0))
f = s.makefile("rb")
print(f.readline().decode().rstrip())
s.sendall(data)
try:
    for line in f:
        print(line.decode("latin1").rstrip())
except OSError:
    pass
EOP
}
pt_served() { [ "$(pt_smtp_send sender@example.org alice@example.test | cut -c1-3)" = 250 ]; }

# ---- EHLO keywords, in Postfix's order.
out=$(pt_dialog 'EHLO c.example\r\nQUIT\r\n')
kws=$(grep '^250[- ]' <<<"$out" | sed 1d | cut -c5- | tr '\n' ' ')
pt_check ehlo_keywords [ "$kws" = "PIPELINING SIZE 20000 VRFY ETRN XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT ENHANCEDSTATUSCODES 8BITMIME DSN SMTPUTF8 CHUNKING " ]

# ---- BDAT: two chunks, a "." line is content, bare CR kept.
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT 27\r\nSubject: chunked\r\n\r\n.\r\nfirsBDAT 15 LAST\r\nt\r\nsecond line\r\nQUIT\r\n')
pt_check bdat_chunk_ok grep -q '^250 2.0.0 Ok: 27 bytes$' <<<"$out"
pt_check bdat_last_queued grep -q '^250 2.0.0 Ok: 42 bytes queued as [0-9A-Za-z]*$' <<<"$out"
pt_wait_queue_empty 30
f=$(ls $PT_HOMES/alice/Maildir/new/* 2>/dev/null | head -1)
pt_check bdat_delivered [ -n "$f" ]
pt_check bdat_dot_line_literal grep -qx '\.' "${f:-/dev/null}"
pt_check bdat_line_across_chunks grep -qx 'first' "${f:-/dev/null}"
pt_check bdat_received_esmtp grep -q 'with ESMTP id' "${f:-/dev/null}"
rm -f $PT_HOMES/alice/Maildir/new/*

out=$(pt_dialog 'EHLO c.example\r\nBDAT 5\r\nhelloNOOP\r\nQUIT\r\n')
pt_check bdat_without_mail grep -q '^503 5.5.1 Error: need RCPT command$' <<<"$out"
pt_check bdat_without_mail_in_step grep -q '^250 2.0.0 Ok$' <<<"$out"
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT 0\r\nBDAT 3\r\nabcDATA\r\nMAIL FROM:<t@example.org>\r\nRSET\r\nQUIT\r\n')
pt_check bdat_null grep -q '^551 5.7.1 Null BDAT request$' <<<"$out"
pt_check bdat_then_data grep -q '^503 5.5.1 Error: DATA after BDAT$' <<<"$out"
pt_check bdat_then_mail grep -q '^503 5.5.1 Error: MAIL after BDAT$' <<<"$out"
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT 30000 LAST\r\n'"$(python3 -c 'print("y" * 30000, end="")')"'NOOP\r\nQUIT\r\n')
pt_check bdat_too_big grep -q '^552 5.3.4 Chunk exceeds message size limit$' <<<"$out"
pt_check bdat_too_big_in_step grep -q '^250 2.0.0 Ok$' <<<"$out"
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT ten\r\nQUIT\r\n')
pt_check bdat_bad_syntax grep -q '^521 5.5.4 Syntax: BDAT count \[LAST\]$' <<<"$out"
pt_check bdat_bad_syntax_closes bash -c "! grep -q '^221' <<<'$out'"
pt_check bdat_bad_syntax_log grep -q 'malformed BDAT command syntax from localhost\[127.0.0.1\]: ten' "$PT_T/maillog"
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<alice@example.test>\r\nBDAT 100 LAST\r\nonly ten!!')
pt_check bdat_early_eof pt_wait "grep -q 'lost connection after BDAT (10 bytes) from localhost\[127.0.0.1\]' $PT_T/maillog" 10
pt_check bdat_next_served pt_served
pt_wait_queue_empty 30

# ---- DSN parameters reach the queue file (qmgr stopped so it stays).
pt_stop
sed -i 's/^qmgr /#PTqmgr /' "$PT_CONF/master.cf"   # a marker: master.cf also has a commented qmgr line
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<s@example.org> RET=HDRS ENVID=env+2Bid42\r\nRCPT TO:<bob@example.test> NOTIFY=SUCCESS,DELAY ORCPT=rfc822;orig+2Bbob@example.test\r\nDATA\r\nSubject: dsn\r\n\r\nx\r\n.\r\nQUIT\r\n')
qid=$(sed -n 's/^250 2.0.0 Ok: queued as \(.*\)$/\1/p' <<<"$out")
pt_check dsn_queued [ -n "$qid" ]
pc=$(pt_cmd postcat -q "$qid" 2>&1)
pt_check dsn_ret grep -q 'dsn_return_flags: 2' <<<"$pc"
pt_check dsn_envid grep -q 'dsn_envelope_id: env+id42' <<<"$pc"
pt_check dsn_notify grep -q 'dsn_notify_flags: 10' <<<"$pc"
pt_check dsn_orcpt grep -q 'dsn_orig_rcpt: rfc822;orig+bob@example.test' <<<"$pc"

# ---- SMTPUTF8: the parameter and a UTF-8 address.
out=$(pt_dialog 'EHLO c.example\r\nMAIL FROM:<j\xc3\xb6rg@example.org> SMTPUTF8\r\nRCPT TO:<bob@example.test>\r\nRSET\r\nQUIT\r\n')
pt_check smtputf8_mail grep -q '^250 2.1.0 Ok$' <<<"$out"
pt_stop
sed -i 's/^#PTqmgr /qmgr /' "$PT_CONF/master.cf"

# ---- discarded keywords: globally, and for a client address that the
# address map names (its answer replaces the global list, as in Postfix).
printf '127.0.0.2/32 dsn, pipelining\n' > "$PT_CONF/discard.cidr"
cat >> "$PT_CONF/main.cf" <<EOM
smtpd_discard_ehlo_keywords = chunking, etrn
smtpd_discard_ehlo_keyword_address_maps = cidr:$PT_CONF/discard.cidr
EOM
pt_start || { pt_fail restart2 "instance did not restart"; pt_done; exit 1; }
out=$(pt_dialog 'EHLO c.example\r\nBDAT 3\r\nQUIT\r\n')
pt_check discard_chunking bash -c "! grep -q 'CHUNKING' <<<'$out'"
pt_check discard_etrn bash -c "! grep -q '^250-ETRN' <<<'$out'"
pt_check discard_global_keeps_dsn grep -q '^250-DSN$' <<<"$out"
pt_check keep_others grep -q '^250-ENHANCEDSTATUSCODES$' <<<"$out"
pt_check bdat_not_implemented grep -q '^502 5.5.1 Error: command not implemented$' <<<"$out"
pt_check discard_log grep -q 'discarding EHLO keywords: ETRN CHUNKING' "$PT_T/maillog"
out=$(pt_dialog 'EHLO c.example\r\nQUIT\r\n' 127.0.0.2)
pt_check discard_by_address bash -c "! grep -qE '^250-(DSN|PIPELINING)' <<<'$out'"
pt_check discard_map_replaces_list grep -q '^250-ETRN$' <<<"$out"
pt_check discard_map_keeps_chunking grep -q '^250 CHUNKING$' <<<"$out"
pt_check discard_log_by_address grep -q 'discarding EHLO keywords: PIPELINING DSN$' "$PT_T/maillog"
# XCLIENT to that address: the next EHLO gets the map's list, not the
# one chosen for the real client.
out=$(pt_dialog 'EHLO c.example\r\nXCLIENT ADDR=127.0.0.2\r\nEHLO c.example\r\nQUIT\r\n')
after=$(sed -n '/^220 /,$p' <<<"$(sed 1d <<<"$out")")
pt_check discard_after_xclient_map bash -c "! grep -qE '^250-(DSN|PIPELINING)' <<<'$after'"
pt_check discard_after_xclient_etrn grep -q '^250-ETRN$' <<<"$after"
sed -i '/^smtpd_discard_ehlo/d' "$PT_CONF/main.cf"
pt_cmd postfix reload >/dev/null 2>&1; sleep 1

# ---- ETRN: a fast flush domain, and one that is not.
out=$(pt_dialog 'EHLO c.example\r\nETRN flush.example\r\nETRN other.example\r\nETRN -bad-\r\nQUIT\r\n')
pt_check etrn_started grep -q '^250 Queuing started$' <<<"$out"
pt_check etrn_denied grep -q '^459 <other.example>: service unavailable$' <<<"$out"
pt_check etrn_bad grep -q '^501 Error: invalid parameter syntax$' <<<"$out"

# ---- XFORWARD: the original client goes into Received: and the log.
out=$(pt_dialog 'EHLO c.example\r\nXFORWARD NAME=orig.example ADDR=192.0.2.9 HELO=orig-helo.example PROTO=ESMTP\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<carol@example.test>\r\nDATA\r\nSubject: fwd\r\n\r\nx\r\n.\r\nQUIT\r\n')
pt_check xforward_ok grep -q '^250 2.0.0 Ok$' <<<"$out"
pt_wait_queue_empty 30
f=$(ls $PT_HOMES/carol/Maildir/new/* 2>/dev/null | head -1)
pt_check xforward_received grep -q '^Received: from orig-helo.example (orig.example \[192.0.2.9\])' "${f:-/dev/null}"
pt_check xforward_log grep -q 'client=localhost\[127.0.0.1\], orig_client=orig.example\[192.0.2.9\]' "$PT_T/maillog"
out=$(pt_dialog 'EHLO c.example\r\nXFORWARD FOO=bar\r\nXFORWARD ADDR=not-an-ip\r\nQUIT\r\n')
pt_check xforward_bad_name grep -q '^501 5.5.4 Bad XFORWARD attribute name: FOO$' <<<"$out"
pt_check xforward_bad_addr grep -q '^501 5.5.4 Bad ADDR syntax: not-an-ip$' <<<"$out"

# ---- XCLIENT: new identity, new greeting; relay now refused.
out=$(pt_dialog 'EHLO c.example\r\nXCLIENT NAME=far.example ADDR=192.0.2.7\r\nEHLO far.example\r\nMAIL FROM:<s@example.org>\r\nRCPT TO:<x@elsewhere.example>\r\nQUIT\r\n')
pt_check xclient_greets grep -q '^220 mail.example.test ESMTP' <<<"$(sed 1d <<<"$out")"
pt_check xclient_relay_denied grep -q '^454 4.7.1 <x@elsewhere.example>: Relay access denied$' <<<"$out"
pt_check xclient_log grep -q 'NOQUEUE: reject: RCPT from far.example\[192.0.2.7\]: 454 4.7.1' "$PT_T/maillog"

# ---- Refused for hosts that are not authorized.
sed -i 's/^smtpd_authorized_xclient_hosts = .*/smtpd_authorized_xclient_hosts = 192.0.2.1/;s/^smtpd_authorized_xforward_hosts = .*/smtpd_authorized_xforward_hosts =/' "$PT_CONF/main.cf"
pt_cmd postfix reload >/dev/null 2>&1; sleep 1
out=$(pt_dialog 'EHLO c.example\r\nXCLIENT ADDR=192.0.2.7\r\nXFORWARD ADDR=192.0.2.9\r\nQUIT\r\n')
pt_check xclient_not_offered bash -c "! grep -q 'XCLIENT\|XFORWARD' <<<'$(grep '^250' <<<"$out")'"
pt_check xclient_refused [ "$(grep -c '^550 5.7.0 Error: insufficient authorization$' <<<"$out")" = 2 ]
# ---- After QUIT (nothing more sent) smtpd closes at once: it does not
# wait for the client's own close. A client that keeps its socket open
# after 221 does not hold the only smtpd process (before, the next client
# waited 200 ms for its greeting); the 221 arrives whole, then end of file.
quit_out=$(python3 - "$P_ONE" <<'EOP'
import socket, sys, time
port = int(sys.argv[1])
waits, ok = [], True
for _ in range(3):
    a = socket.create_connection(("127.0.0.1", port), timeout=15)
    fa = a.makefile("rb")
    fa.readline()
    a.sendall(b"QUIT\r\n")
    ok &= fa.readline().startswith(b"221 2.0.0")
    ok &= fa.read() == b""                      # end of file, not a reset
    t0 = time.monotonic()
    b = socket.create_connection(("127.0.0.1", port), timeout=15)
    ok &= b.makefile("rb").readline().startswith(b"220 ")
    waits.append(time.monotonic() - t0)
    b.close()
    a.close()                                   # only now does the first client close
    time.sleep(0.3)
print("ok" if ok else "bad", int(sorted(waits)[1] * 1000))
EOP
)
echo "    after QUIT: $quit_out (reply check, median ms to the next greeting)"
pt_check quit_221_then_eof [ "${quit_out%% *}" = ok ]
pt_check quit_closes_at_once [ "${quit_out##* }" -lt 150 ]
pt_check served_at_end pt_served

# ---- smtpd_noop_commands ----
out=$(PT_PORT=$P_NOOP pt_dialog 'EHLO c.example\r\nXFOO anything at all\r\nETRN\r\nRCPT TO:<x@y>\r\nQUIT\r\n')
pt_check noop_commands_answered [ "$(grep -c '^250 2.0.0 Ok$' <<<"$out")" = 2 ]
pt_check noop_commands_no_state grep -q '^503 5.5.1 Error: need MAIL command$' <<<"$out"
out=$(pt_dialog 'EHLO c.example\r\nXFOO anything\r\nQUIT\r\n')
pt_check noop_commands_default_unknown grep -q '^502 5.5.2 Error: command not recognized$' <<<"$out"

# ---- smtpd_command_filter ----
out=$(PT_PORT=$P_CF pt_dialog 'EHLO c.example\r\nXFIX\r\nMAIL FROM:  <s@example.org> BROKEN\r\nRCPT TO:<alice@example.test>\r\nRSET\r\nQUIT\r\n')
pt_check command_filter_replaces grep -q '^250 2.0.0 Ok$' <<<"$out"
pt_check command_filter_fixes_mail grep -q '^250 2.1.0 Ok$' <<<"$out"
pt_check command_filter_logged grep -q 'replacing command "MAIL FROM:  <s@example.org> BROKEN" with "MAIL FROM:<s@example.org>"' "$PT_T/maillog"
out=$(PT_PORT=$P_CF pt_dialog 'EHLO c.example\r\nXFIX2\r\nQUIT\r\n')
pt_check command_filter_no_match_unchanged grep -q '^502 5.5.2' <<<"$out"
out=$(PT_PORT=$P_CFERR pt_dialog 'EHLO c.example\r\nNOOP\r\nQUIT\r\n')
pt_check command_filter_lookup_error_451 grep -q '^451 4.3.0 Temporary lookup failure$' <<<"$out"
pt_done
