#!/usr/bin/env bash
# cleanup_reuse_test.sh - smtpd keeps its cleanup connection for the next
# message (docs/ipc.md "cleanup", design-notes 28), against a real instance
# with one smtpd process (so that every session meets the same one) whose
# mail goes to the discard agent:
#   kept        after a message, smtpd still holds a connection to cleanup
#   reused      the next message goes over that same connection
#   resend      the cleanup holding the kept connection is stopped, the next
#               message's envelope goes out on it, and it is killed before
#               its greeting: the message is sent again on a new connection,
#               the client gets 250 and it is delivered once
#   released    an idle kept connection is closed within seconds
#   max_use     -o max_use=3 on cleanup: no process takes more than three
#               messages, however many came over one connection
#   reload      "postfix reload" during a burst (cleanups that hold a kept
#               connection exit): every message is accepted and delivered
#   maxproc 1   one cleanup process for five smtpd: it offers no kept
#               connection while a new client could not be served, so no
#               message waits for one to be let go
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
default_transport = discard
EOM
sed -i "s/^\(127.0.0.1:$PT_PORT *inet *n *- *[ny] *- *\)[-0-9]*\( *smtpd\)/\11\2/" "$PT_CONF/master.cf"
pt_check one_smtpd grep -Eq "^127.0.0.1:$PT_PORT +inet +n +- +[ny] +- +1 +smtpd" "$PT_CONF/master.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
log_count() { pt_log_count "$1"; }
sent_count() { pt_log_count "to=<$1>, .*status=sent"; }
burst() { pt_burst "$@"; }
cleanup_socks() { pt_service_socks public/cleanup cleanup; }

# ---- one message: accepted, and a cleanup still holds the connection ----
r=$(pt_smtp_send a@example.org one@discard.example)
first=$(cleanup_socks)
pt_check accepted_one [ "$r" = "250 ok" ]
pt_check kept [ "$(grep -c . <<<"$first")" -eq 1 ]

# ---- the next message at once: the same connection ----
r=$(pt_smtp_send a@example.org two@discard.example)
second=$(cleanup_socks)
pt_check accepted_two [ "$r" = "250 ok" ]
pt_check reused_connection [ "${second:-none}" = "${first:-empty}" ]
pt_wait '[ "$(sent_count two@discard.example)" -ge 1 ]' 15
pt_check reused_delivered [ "$(sent_count two@discard.example)" -eq 1 ]

# ---- idle: the kept connection is let go ----
pt_wait '[ -z "$(cleanup_socks)" ]' 10
pt_check released [ -z "$(cleanup_socks)" ]

# ---- the kept connection's cleanup dies with the next envelope unread ----
r=$(pt_smtp_send a@example.org prime@discard.example)
holder=$(cleanup_socks | awk '{print $1}')
pt_check resend_holder_kept [ "$(grep -c . <<<"$holder")" -eq 1 ]
[ -n "$holder" ] && kill -STOP "$holder"
pt_smtp_send a@example.org resend@discard.example > "$PT_T/resend.out" &
client=$!
sleep 1.5
# Still waiting: the envelope went to the stopped cleanup.
pt_check resend_on_kept_connection kill -0 "$client"
[ -n "$holder" ] && kill -KILL "$holder"
wait "$client"
pt_check resend_accepted [ "$(cat "$PT_T/resend.out")" = "250 ok" ]
pt_wait '[ "$(sent_count resend@discard.example)" -ge 1 ]' 15
sleep 1
pt_check resend_delivered_once [ "$(sent_count resend@discard.example)" -eq 1 ]
pt_check resend_no_error [ "$(log_count "queue file write error|lost connection|bad or missing greeting")" -eq 0 ]

# ---- max_use counts messages, not connections ----
pt_check max_use_line pt_service_option cleanup "-o max_use=3"
burst 1 12 burst@discard.example
pt_wait '[ "$(sent_count burst@discard.example)" -ge 12 ]' 30
pt_check max_use_all_sent [ "$(sent_count burst@discard.example)" -eq 12 ]
# Each message's cleanup line names the process; the burst's are the last 12.
most=$(grep -E 'postfix/cleanup\[[0-9]+\]: [0-9A-Z]+: message-id=' "$PT_T/maillog" | tail -12 |
    sed -n 's/.*postfix\/cleanup\[\([0-9]*\)\].*/\1/p' | sort | uniq -c | sort -rn | awk 'NR==1{print $1}')
pt_check max_use_per_process [ "${most:-99}" -le 3 ]

# ---- reload during a burst: every message accepted and delivered ----
sed -i 's/^\(127.0.0.1:[0-9]* *inet *n *- *[ny] *- *\)1\( *smtpd\)/\15\2/' "$PT_CONF/master.cf"
pt_cmd postfix reload >/dev/null 2>&1
sleep 1
pt_reload_burst 5 300 reload@discard.example
pt_check reload_source_ok [ $? -eq 0 ]
pt_wait '[ "$(sent_count reload@discard.example)" -ge 300 ]' 60
pt_check reload_all_sent [ "$(sent_count reload@discard.example)" -eq 300 ]
pt_check reload_no_error [ "$(log_count "queue file write error|status=deferred|reject:")" -eq 0 ]

# ---- one cleanup process: no message waits out a kept connection ----
sed -i 's/^cleanup .*$/cleanup unix n - n - 1 cleanup/' "$PT_CONF/master.cf"
pt_cmd postfix reload >/dev/null 2>&1
sleep 1
t0=$(date +%s.%N)
burst 5 40 one@proc.example
rc=$?
t1=$(date +%s.%N)
pt_check maxproc_one_source_ok [ "$rc" -eq 0 ]
pt_wait '[ "$(sent_count one@proc.example)" -ge 40 ]' 60
pt_check maxproc_one_all_sent [ "$(sent_count one@proc.example)" -eq 40 ]
# Had the one cleanup kept a connection for an smtpd, the others' messages
# would each have waited for it to be let go (1-2 s apiece).
pt_check maxproc_one_no_stall awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 10) }'
pt_done
