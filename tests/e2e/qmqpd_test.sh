#!/usr/bin/env bash
# qmqpd_test.sh - the QMQP server (qmqpd(8)) on its stock master.cf line
# (chrooted), with a Python QMQP client: an authorised client's message is
# queued (K) and delivered with its envelope; an unauthorised client, a
# malformed request and an oversized one get D and nothing is queued; a
# client that goes away leaves nothing behind; soft_bounce turns D into Z.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
QP=$(pt_free_port)
QP2=$(pt_free_port)
QP3=$(pt_free_port)
CLIENT="python3 $PT_ROOT/tests/e2e/qmqp_client.py"
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
qmqpd_authorized_clients = 127.0.0.1
qmqpd_error_delay = 0s
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$QP inet n - y - - qmqpd
127.0.0.1:$QP2 inet n - y - - qmqpd
  -o message_size_limit=20000
  -o qmqpd_client_port_logging=yes
  -o qmqpd_error_delay=1s
127.0.0.1:$QP3 inet n - y - - qmqpd
  -o soft_bounce=yes
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# 1. An authorised client, one recipient: K, then delivery with the envelope.
out=$($CLIENT "$QP" list-owner@example.org alice@example.test)
pt_check authorised_client_gets_K grep -q '^KOk: queued as [0-9A-Za-z]\+$' <<<"$out" || echo "    reply: $out"
pt_check delivered_to_maildir pt_wait "ls $PT_HOMES/alice/Maildir/new/* >/dev/null 2>&1" 20
f=$(ls "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | head -1)
pt_check return_path_is_qmqp_sender grep -q '^Return-Path: <list-owner@example.org>' "$f"
pt_check delivered_to_is_recipient grep -q '^Delivered-To: alice@example.test' "$f"
pt_check received_with_qmqp grep -q '^	by mail.example.test (.*) with QMQP id ' "$f"
pt_check received_names_one_recipient grep -q '^	for <alice@example.test>; ' "$f"
pt_check body_intact grep -q '^hello over QMQP' "$f"
qid=${out##* }
pt_check log_client_line grep -q "$qid: client=[^ ]*\[127.0.0.1\]\$" "$PT_T/maillog"
pt_check log_from_sender grep -q "$qid: from=<list-owner@example.org>" "$PT_T/maillog"

# 2. Two recipients: both delivered, and the Received: header names neither.
out=$($CLIENT "$QP" list-owner@example.org bob@example.test carol@example.test)
pt_check two_recipients_K grep -q '^KOk: queued as' <<<"$out" || echo "    reply: $out"
pt_check two_recipients_delivered pt_wait "ls $PT_HOMES/bob/Maildir/new/* $PT_HOMES/carol/Maildir/new/* >/dev/null 2>&1" 20
f=$(ls "$PT_HOMES"/bob/Maildir/new/* 2>/dev/null | head -1)
pt_check received_hides_recipients bash -c "! grep -q '^	for <' '$f' && grep -q '^	by mail.example.test (.*) with QMQP\$' '$f'"
pt_wait_queue_empty 20
rm -rf "$PT_HOMES"/*/Maildir

# 3. An unauthorised client (127.0.0.2 is not in qmqpd_authorized_clients).
out=$($CLIENT --bind 127.0.0.2 "$QP" list-owner@example.org alice@example.test)
pt_check unauthorised_client_gets_D grep -q '^DError: [^ ]*\[127.0.0.2\] is not authorized to use this service$' <<<"$out" || echo "    reply: $out"
# With soft_bounce = yes the same answer is temporary.
out=$($CLIENT --bind 127.0.0.2 "$QP3" list-owner@example.org alice@example.test)
pt_check soft_bounce_gives_Z grep -q '^ZError: [^ ]*\[127.0.0.2\] is not authorized' <<<"$out" || echo "    reply: $out"

# 4. Malformed requests: D "netstring format error while ...", nothing queued.
# The content netstring "5:hello" ends in ';' instead of ','.
out=$($CLIENT --raw "$(printf '20:5:hello;' | od -An -tx1 | tr -d ' \n')" "$QP")
pt_check malformed_gets_D grep -q '^Dnetstring format error while receiving message content$' <<<"$out" || echo "    reply: $out"
# A recipient netstring that runs past the declared request length.
raw=$(python3 -c 'm=b"Subject: x\n\nx\n"; ns=lambda b: str(len(b)).encode()+b":"+b+b","; body=ns(m)+ns(b"a@example.org")+ns(b"alice@example.test"); print((str(len(body)-5).encode()+b":"+body+b",").hex())')
out=$($CLIENT --raw "$raw" "$QP")
pt_check overrun_gets_D grep -q '^Dnetstring format error while receiving recipient address$' <<<"$out" || echo "    reply: $out"
# A message netstring longer than the request it is in.
out=$($CLIENT --raw "$(printf '30:1000:' | od -An -tx1 | tr -d ' \n')" "$QP")
pt_check message_longer_than_request_gets_D grep -q '^Dnetstring length exceeds storage limit while receiving message content$' <<<"$out" || echo "    reply: $out"
# A length with a leading zero (prohibited by the netstring definition).
out=$($CLIENT --raw "$(printf '010:' | od -An -tx1 | tr -d ' \n')" "$QP")
pt_check leading_zero_gets_D grep -q '^Dnetstring format error while receiving QMQP packet header$' <<<"$out" || echo "    reply: $out"
# No recipients: cleanup refuses, D.
out=$($CLIENT "$QP" list-owner@example.org)
pt_check no_recipients_gets_D grep -q '^DError: no recipients specified$' <<<"$out" || echo "    reply: $out"

# 5. Oversize (message_size_limit = 20000 on the second service): D at once,
# after qmqpd_error_delay (1s there).
head -c 30000 /dev/zero | tr '\0' 'x' | fold -w 70 > "$PT_T/big.txt"
t0=$(date +%s%N)
out=$($CLIENT --message "$PT_T/big.txt" "$QP2" list-owner@example.org alice@example.test)
t1=$(date +%s%N)
pt_check oversize_gets_D grep -q '^Dnetstring length exceeds storage limit while receiving QMQP packet header$' <<<"$out" || echo "    reply: $out"
pt_check error_delay_applied [ $(( (t1 - t0) / 1000000 )) -ge 900 ]
# Within the limit on the same service: accepted; the port is logged.
head -c 5000 /dev/zero | tr '\0' 'y' | fold -w 70 > "$PT_T/small.txt"
out=$($CLIENT --message "$PT_T/small.txt" "$QP2" list-owner@example.org alice@example.test)
pt_check within_limit_K grep -q '^KOk: queued as' <<<"$out" || echo "    reply: $out"
pt_check port_logging grep -q "${out##* }: client=[^ ]*\[127.0.0.1\]:[0-9]\+\$" "$PT_T/maillog"

# 6. A client that goes away half way: nothing is queued.
out=$($CLIENT --close-early "$QP" list-owner@example.org carol@example.test)
pt_check lost_connection_logged pt_wait "grep -q 'lost connection while receiving' $PT_T/maillog" 10

# 7. VERP request (sender prefix@origin-@[]): refused, not sent unchanged.
out=$($CLIENT "$QP" 'list-owner-@example.org-@[]' alice@example.test)
pt_check verp_refused_D grep -q '^DError: VERP' <<<"$out" || echo "    reply: $out"

pt_wait_queue_empty 20
pt_check only_accepted_mail_delivered pt_wait "[ \$(ls $PT_HOMES/alice/Maildir/new | wc -l) -eq 1 ]" 20
pt_check carol_got_nothing bash -c "[ -z \"\$(ls $PT_HOMES/carol/Maildir/new 2>/dev/null)\" ]"
pt_check no_queue_files_left [ "$(find "$PT_T/spool/incoming" "$PT_T/spool/active" "$PT_T/spool/deferred" -type f | wc -l)" = 0 ]
pt_done
