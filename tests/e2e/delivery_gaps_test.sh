#!/usr/bin/env bash
# delivery_gaps_test.sh - queue- and delivery-side settings that Postern
# once ignored, each against a real instance:
#   soft_bounce                 an unknown user's mail stays deferred (4.x.x),
#                               smtpd answers 4xx where it would answer 5xx
#   relocated_maps              550 5.1.6 "User has moved to ..." at RCPT, and
#                               a bounce with 5.1.6 for mail already queued
#   defer_transports            mail for the transport waits until
#                               "postqueue -f", then goes out
#   message_drop_headers        cleanup removes the listed headers
#   sender_dependent_default_transport_maps   the sender picks the transport
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
SINK=$(pt_free_port)
printf 'old@example.test alice@new.example\n@gone.example postmaster@new.example\n' > "$PT_CONF/relocated"
printf 'special@example.org retry:4.7.1 special senders wait\n' > "$PT_CONF/sdt"
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
relocated_maps = hash:$PT_CONF/relocated
relay_domains = gone.example, relay.example
relayhost = [127.0.0.1]:$SINK
sender_dependent_default_transport_maps = hash:$PT_CONF/sdt
defer_transports = relay
message_drop_headers = x-secret, bcc
minimal_backoff_time = 300s
maximal_backoff_time = 600s
queue_run_delay = 300s
EOM
pt_cmd postmap "$PT_CONF/relocated"
pt_cmd postmap "$PT_CONF/sdt"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
"$PT_BUILD/sbin/smtp-sink" -d "$PT_T/sink.%M." "127.0.0.1:$SINK" 10 >/dev/null 2>&1 &
PT_PIDS+=($!)
log_has() { grep -qE "$1" "$PT_T/maillog"; }
SM="$PT_BUILD/sbin/sendmail -C $PT_CONF"

# ---- relocated_maps: refused at RCPT with 5.1.6 ----
r=$(pt_smtp_send a@example.org old@example.test)
pt_check relocated_rcpt [ "$r" = "550 5.1.6 <old@example.test>: Recipient address rejected: User has moved to alice@new.example" ]
r=$(pt_smtp_send a@example.org anyone@gone.example)
pt_check relocated_domain grep -q '^550 5.1.6 .*User has moved to postmaster@new.example' <<<"$r"
# Mail that gets queued anyway (sendmail does not ask smtpd) bounces 5.1.6.
printf 'Subject: moved\n\nhi\n' | $SM -f '' old@example.test
pt_wait 'log_has "to=<old@example.test>, .*dsn=5\.1\.6, status=bounced \(User has moved to alice@new\.example\)"' 15
pt_check relocated_bounce log_has 'to=<old@example.test>, .*dsn=5\.1\.6, status=bounced \(User has moved to alice@new\.example\)'

# ---- message_drop_headers: X-Secret and Bcc go, the rest stays ----
PT_BODY=$'Subject: drops\r\nX-Secret: hush\r\nBcc: hidden@example.org\r\nX-Kept: yes\r\n\r\nbody\r\n' \
    pt_smtp_send a@example.org alice@example.test >/dev/null
pt_wait '[ -n "$(ls $PT_HOMES/alice/Maildir/new 2>/dev/null)" ]' 15
f=$(ls -d "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | head -1)
pt_check drop_headers_gone bash -c "[ -n '$f' ] && ! grep -qiE '^(x-secret|bcc):' '$f'"
pt_check drop_headers_kept grep -q '^X-Kept: yes' "$f"

# ---- defer_transports: relay mail waits for a flush ----
r=$(pt_smtp_send a@example.org someone@relay.example)
pt_check defer_accepted [ "$r" = "250 ok" ]
pt_wait 'log_has "to=<someone@relay.example>, relay=none, .*dsn=4\.3\.2, status=deferred \(deferred transport\)"' 15
pt_check defer_transport_deferred log_has 'postfix/qmgr\[[0-9]+\]: [0-9A-F]+: to=<someone@relay.example>, relay=none, .*dsn=4\.3\.2, status=deferred \(deferred transport\)'
pt_check defer_transport_waits [ "$(find "$PT_T/spool/deferred" -type f | wc -l)" = 1 ]
pt_check defer_not_sent bash -c "! grep -q 'to=<someone@relay.example>.*status=sent' $PT_T/maillog"
pt_cmd postqueue -f
pt_wait 'log_has "to=<someone@relay.example>, relay=127.0.0.1.*status=sent"' 10
pt_check flush_delivers log_has 'to=<someone@relay.example>, relay=127\.0\.0\.1\[127\.0\.0\.1\]:[0-9]+, .*status=sent'

# ---- sender_dependent_default_transport_maps ----
pt_smtp_send special@example.org bob@remote.example >/dev/null
pt_smtp_send normal@example.org carol@remote.example >/dev/null
pt_wait 'log_has "to=<bob@remote.example>, .*status=deferred" && log_has "to=<carol@remote.example>, .*status=sent"' 15
pt_check sender_transport log_has 'postfix/error\[[0-9]+\]: [0-9A-F]+: to=<bob@remote.example>, relay=none, .*dsn=4\.7\.1, status=deferred \(special senders wait\)'
pt_check sender_default_unchanged log_has 'postfix/smtp\[[0-9]+\]: [0-9A-F]+: to=<carol@remote.example>, relay=127\.0\.0\.1.*status=sent'
pt_cmd postsuper -d ALL >/dev/null 2>&1

# ---- soft_bounce: unknown users stay queued, 5xx replies become 4xx ----
cat >> "$PT_CONF/main.cf" <<EOM
soft_bounce = yes
EOM
pt_cmd postfix reload >/dev/null 2>&1
sleep 1     # XXX: a reload has no completion signal; new children read the new file
r=$(pt_smtp_send a@example.org nosuchuser@example.test)
pt_check soft_bounce_smtpd_4xx grep -q '^450 4\.1\.1 <nosuchuser@example.test>: Recipient address rejected' <<<"$r"
pt_check soft_bounce_reject_logged pt_wait 'log_has "NOQUEUE: reject: RCPT from .*: 450 4\.1\.1 <nosuchuser@example.test>"' 5
printf 'Subject: soft\n\nhi\n' | $SM -f alice@example.test nosuchuser@example.test
pt_wait 'log_has "to=<nosuchuser@example.test>, .*status=deferred"' 15
pt_check soft_bounce_deferred log_has 'postfix/local\[[0-9]+\]: [0-9A-F]+: to=<nosuchuser@example.test>, relay=local, .*dsn=4\.1\.1, status=deferred \(unknown user: "nosuchuser"\)'
pt_check soft_bounce_no_bounce bash -c "! grep -q 'to=<nosuchuser@example.test>.*status=bounced' $PT_T/maillog"
pt_wait '[ "$(find $PT_T/spool/deferred -type f | wc -l)" = 1 ]' 10
pt_check soft_bounce_kept [ "$(find "$PT_T/spool/deferred" -type f | wc -l)" = 1 ]
pt_done
