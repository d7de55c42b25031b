#!/usr/bin/env bash
# proxy_filter_test.sh - the before-queue content filter (smtpd_proxy_filter,
# Postfix's SMTPD_PROXY_README): a real filter (bq_filter.py, an SMTP
# server started here) sits between the public smtpd and a re-injection
# smtpd with "-o smtpd_proxy_filter=". The client must hear the filter's
# own verdicts (a 550 for content and for one recipient, 250 otherwise),
# accepted mail must be delivered exactly once and refused mail never; a
# filter that is down or silent must cost a 4xx, never a message; and the
# same with smtpd_proxy_options = speed_adjust.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
FPORT=$(pt_free_port)       # the filter
RPORT=$(pt_free_port)       # re-injection smtpd (after the filter)
SPORT=$(pt_free_port)       # public smtpd with speed_adjust
TPORT=$(pt_free_port)       # public smtpd with a short smtpd_proxy_timeout
FLOG=$PT_T/filter.log
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
# a valid local address (so our own checks pass it) that the filter refuses
printf 'blocked: bob\nmultiline: bob\nlongreply: bob\nendless: bob\n' >> "$PT_CONF/aliases"
# As in SMTPD_PROXY_README: the filter on the public smtpd, none on the
# re-injection one.
sed -i "s/^127.0.0.1:$PT_PORT\( *inet.*smtpd\)\$/&\n  -o smtpd_proxy_filter=127.0.0.1:$FPORT\n  -o smtpd_proxy_ehlo=before.example.test/" \
    "$PT_CONF/master.cf"
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$RPORT inet n - n - - smtpd
  -o smtpd_proxy_filter=
  -o smtpd_authorized_xforward_hosts=127.0.0.0/8
  -o receive_override_options=no_unknown_recipient_checks
127.0.0.1:$SPORT inet n - n - - smtpd
  -o smtpd_proxy_filter=inet:127.0.0.1:$FPORT
  -o smtpd_proxy_options=speed_adjust
127.0.0.1:$TPORT inet n - n - - smtpd
  -o smtpd_proxy_filter=[127.0.0.1]:$FPORT
  -o smtpd_proxy_timeout=2s
EOM
grep -q "smtpd_proxy_filter=127.0.0.1:$FPORT" "$PT_CONF/master.cf" ||
    { pt_fail setup "could not add the filter to the smtp service"; pt_done; exit 1; }

FPID=
start_filter() {
    python3 "$PT_ROOT/tests/e2e/bq_filter.py" "$FPORT" "$RPORT" "$FLOG" 2>>"$PT_T/filter.err" &
    FPID=$!
    PT_PIDS+=("$FPID")
    pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $FPORT), 1)' 2>/dev/null" 10
}
stop_filter() {
    kill "$FPID" 2>/dev/null
    wait "$FPID" 2>/dev/null
}
start_filter || { pt_fail filter_start "bq_filter.py did not listen"; pt_done; exit 1; }
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
for p in $RPORT $SPORT $TPORT; do pt_wait_smtp "$p" 20 || pt_fail listener "no banner on $p"; done

# send PORT BODY RCPT...: every reply of the transaction, one per line
# ("MAIL code text", "RCPT addr code text", "DATA code text").
send() {
    python3 - "$@" <<'EOP'
import smtplib, sys
port, body, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = smtplib.SMTP("127.0.0.1", port, timeout=60)
code, msg = s.ehlo("client.example.test")
print("EHLO", "CHUNKING" if "chunking" in s.esmtp_features else "no-chunking")
c, m = s.mail("sender@example.org"); print("MAIL", c, m.decode())
ok = 0
if c == 250:
    for r in rcpts:
        c, m = s.rcpt(r); print("RCPT", r, c, m.decode())
        ok += c == 250
if ok:
    c, m = s.data(body.encode()); print("DATA", c, m.decode())
s.quit()
EOP
}
maildir_count() { ls "$PT_HOMES/$1/Maildir/new" 2>/dev/null | wc -l; }
subject_count() { grep -ls "^Subject: $2\$" "$PT_HOMES/$1"/Maildir/new/* 2>/dev/null | wc -l; }

# 1. A clean message passes the filter and is delivered once.
out=$(send "$PT_PORT" $'Subject: clean-one\r\n\r\nhello\r\n.leading dot line\r\n' alice@example.test)
pt_check clean_accepted_with_filters_reply grep -q '^DATA 250 2.0.0 Ok: queued as' <<<"$out" || echo "$out"
pt_check clean_delivered pt_wait '[ "$(subject_count alice clean-one)" = 1 ]' 20
pt_wait_queue_empty 20
pt_check clean_delivered_once [ "$(subject_count alice clean-one)" = 1 ]
f=$(grep -ls '^Subject: clean-one$' "$PT_HOMES"/alice/Maildir/new/* | head -1)
pt_check dot_line_transparent grep -q '^\.leading dot line' "$f"
if grep -A1 '^Received: from client.example.test (localhost \[127.0.0.1\])$' "$f" |
        grep -q '^.by mail.example.test (.*) with ESMTP$'; then pt_ok received_by_public_smtpd
else pt_fail received_by_public_smtpd "$(grep -A3 '^Received' "$f")"; fi
pt_check no_chunking_offered grep -q '^EHLO no-chunking' <<<"$out"
pt_check filter_got_ehlo grep -q '^< EHLO before.example.test$' "$FLOG"
pt_check filter_got_xforward grep -q '^< XFORWARD .*ADDR=127.0.0.1.*HELO=client.example.test' "$FLOG"
pt_check proxy_accept_logged grep -q 'NOQUEUE: proxy-accept: END-OF-MESSAGE from .*: 250 2.0.0 Ok: queued as' "$PT_T/maillog"

# 2. Content the filter refuses: the client hears the filter's 550, nothing
# is queued or delivered.
before=$(maildir_count alice)
out=$(send "$PT_PORT" $'Subject: refused-one\r\n\r\nFILTER-REJECT-ME\r\n' alice@example.test)
pt_check reject_gets_filters_550 grep -qx 'DATA 550 5.7.1 Message content rejected by test filter' <<<"$out" || echo "$out"
pt_check reject_logged grep -q 'proxy-reject: END-OF-MESSAGE from .*: 550 5.7.1 Message content rejected by test filter; from=<sender@example.org> to=<alice@example.test>' "$PT_T/maillog"
pt_wait_queue_empty 10
pt_check reject_not_delivered [ "$(subject_count alice refused-one)/$(maildir_count alice)" = "0/$before" ]

# 3. One recipient refused by the filter, the other accepted.
out=$(send "$PT_PORT" $'Subject: rcpt-split\r\n\r\nhello\r\n' blocked@example.test bob@example.test)
pt_check rcpt_reject_from_filter grep -qx 'RCPT blocked@example.test 550 5.1.1 <blocked@example.test>: filter refuses this recipient' <<<"$out" || echo "$out"
pt_check rcpt_other_accepted grep -q '^DATA 250 ' <<<"$out"
pt_check rcpt_other_delivered pt_wait '[ "$(subject_count bob rcpt-split)" = 1 ]' 20

# 3b. Multi-line filter replies reach the client whole; a long one is cut
# at line_length_limit (2048) and still ends as a proper reply; one longer
# than 1000 lines is a broken filter: 451, and nothing more is sent to it
# in that transaction (its leftover lines must not answer the next RCPT).
out=$(python3 - "$PT_PORT" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
s.mail("sender@example.org")
c, m = s.rcpt("multiline@example.test")
print("multi", c, repr(m.decode()))
c, m = s.rcpt("longreply@example.test")
lines = m.decode().split("\n")
print("long", c, len(lines), sum(len(l) for l in lines), lines[-1][:12])
c, m = s.rcpt("endless@example.test")
print("endless", c, m.decode())
c, m = s.rcpt("alice@example.test")
print("after", c, m.decode())
s.quit()
EOP
)
pt_check multiline_reply_whole grep -qF "multi 550 '5.7.1 first line\n5.7.1 second line\n5.7.1 third line'" <<<"$out" || echo "$out"
pt_check endless_reply_451 grep -qx 'endless 451 4.3.0 Error: queue file write error' <<<"$out" || echo "$out"
pt_check endless_then_out_of_step grep -qx 'after 451 4.3.0 Error: queue file write error' <<<"$out" || echo "$out"
pt_check endless_logged grep -q 'warning: proxy 127.0.0.1:[0-9]*: reply longer than 1000 lines' "$PT_T/maillog"
pt_check long_reply_cut awk '$1 == "long" { exit !($2 == 450 && $3 > 5 && $3 < 40 && $4 < 2048 && $5 == "4.7.1") }' <<<"$out" || echo "$out"

# 3c. BDAT is refused while a filter is set (CHUNKING is not announced).
out=$(python3 - "$PT_PORT" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
s.mail("sender@example.org"); s.rcpt("alice@example.test")
c, m = s.docmd("BDAT", "3 LAST")
print(c, m.decode())
s.close()
EOP
)
pt_check bdat_refused grep -qx '502 5.5.1 Error: command not implemented' <<<"$out" || echo "$out"

# 4. Our own restrictions still come first: an unknown local user never
# reaches the filter.
out=$(send "$PT_PORT" $'Subject: x\r\n\r\nx\r\n' nosuchuser@example.test)
pt_check own_checks_first grep -q '^RCPT nosuchuser@example.test 550 5.1.1' <<<"$out" || echo "$out"
pt_check own_checks_not_relayed bash -c "! grep -q 'nosuchuser' '$FLOG'"

# 5. speed_adjust: MAIL/RCPT answered by us, the verdict at end of data.
: > "$FLOG"
out=$(send "$SPORT" $'Subject: speedy-clean\r\n\r\nhello\r\n.dot\r\n' carol@example.test)
pt_check speed_clean_accepted grep -q '^DATA 250 2.0.0 Ok: queued as' <<<"$out" || echo "$out"
pt_check speed_clean_delivered pt_wait '[ "$(subject_count carol speedy-clean)" = 1 ]' 20
out=$(send "$SPORT" $'Subject: speedy-refused\r\n\r\nFILTER-REJECT-ME\r\n' carol@example.test)
pt_check speed_reject_gets_filters_550 grep -qx 'DATA 550 5.7.1 Message content rejected by test filter' <<<"$out" || echo "$out"
out=$(send "$SPORT" $'Subject: speedy-split\r\n\r\nx\r\n' carol@example.test blocked@example.test)
pt_check speed_rcpt_answered_locally grep -q '^RCPT blocked@example.test 250' <<<"$out"
pt_check speed_rcpt_reject_at_eod grep -qx 'DATA 550 5.1.1 <blocked@example.test>: filter refuses this recipient' <<<"$out" || echo "$out"
pt_wait_queue_empty 20
pt_check speed_delivered_once [ "$(subject_count carol speedy-clean)$(subject_count carol speedy-refused)$(subject_count carol speedy-split)" = 100 ]

# 6. A filter that does not answer within smtpd_proxy_timeout: 451.
out=$(send "$TPORT" $'Subject: stall\r\n\r\nFILTER-STALL-ME\r\n' alice@example.test)
pt_check timeout_gives_451 grep -qx 'DATA 451 4.3.0 Error: queue file write error' <<<"$out" || echo "$out"
pt_check timeout_logged grep -q 'warning: timeout talking with proxy' "$PT_T/maillog"

# 7. The filter is down: 4xx, nothing queued; after it returns the client's
# retry is delivered exactly once.
stop_filter
out=$(send "$PT_PORT" $'Subject: while-down\r\n\r\nhello\r\n' alice@example.test)
pt_check down_gives_451 grep -qx 'RCPT alice@example.test 451 4.3.0 Error: queue file write error' <<<"$out" || echo "$out"
pt_check down_logged grep -q 'warning: connect to proxy service 127.0.0.1:'"$FPORT" "$PT_T/maillog"
out=$(send "$SPORT" $'Subject: while-down-speedy\r\n\r\nhello\r\n' alice@example.test)
pt_check down_speed_rcpt_answered_locally grep -q '^RCPT alice@example.test 250' <<<"$out"
pt_check down_speed_451_at_eod grep -qx 'DATA 451 4.3.0 Error: queue file write error' <<<"$out" || echo "$out"
pt_check down_nothing_queued [ "$(pt_queue_count)" = 0 ]
start_filter || pt_fail filter_restart "bq_filter.py did not listen again"
out=$(send "$PT_PORT" $'Subject: while-down\r\n\r\nhello\r\n' alice@example.test)
pt_check retry_accepted grep -q '^DATA 250 ' <<<"$out" || echo "$out"
pt_check retry_delivered_once pt_wait '[ "$(subject_count alice while-down)" = 1 ]' 20
pt_wait_queue_empty 20
# Nothing of the refused attempts arrived (alice is also the postmaster and
# gets the "errors from" transcripts of the 451 sessions: notify_classes'
# default software class).
pt_check retry_only_one_delivery [ "$(subject_count alice while-down)$(subject_count alice while-down-speedy)" = 10 ]
pt_check refused_sessions_reported_to_postmaster [ "$(grep -ls '^Subject: Postfix SMTP server: errors from' "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | wc -l)" -ge 1 ]
stop_filter
pt_done
