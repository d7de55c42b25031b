#!/usr/bin/env bash
# agent_reuse_test.sh - qmgr keeps a delivery agent's connection for the
# next request (docs/ipc.md "delivery", design-notes 27), against a real
# instance whose mail goes to the discard agent:
#   kept        after a delivery the agent still holds qmgr's connection
#   reused      a second message goes over that same connection, same agent
#   retry       the agent holding the kept connection is stopped, takes the
#               next request there and is killed before it answers: the
#               message goes out once more on a new connection, not deferred
#   released    an idle connection is closed within a few seconds
#   max_use     -o max_use=3 on the agent: no process serves more than three
#               deliveries, however many came over one connection
#   reload      "postfix reload" during a burst (agents that hold a kept
#               connection exit): every message is delivered, none deferred
#   maxproc 1   with one agent process, a delivery that waits for it on a new
#               connection is not held up by the connection qmgr would keep
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
default_transport = discard
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
log_count() { pt_log_count "$1"; }
sent_count() { pt_log_count "to=<$1>, .*status=sent"; }
burst() { pt_burst "$@"; }
# sent_field RCPT SED-EXPR: one value from each delivery log line to RCPT.
sent_field() { grep -E "to=<$1>, .*status=sent" "$PT_T/maillog" | sed -n "$2"; }
agent_socks() { pt_service_socks private/discard discard; }

# ---- one message: delivered, and the agent still holds the connection ----
r=$(pt_smtp_send a@example.org one@discard.example)
pt_check accepted_one [ "$r" = "250 ok" ]
pt_wait '[ "$(sent_count one@discard.example)" -ge 1 ]' 15
first=$(agent_socks)
pt_check kept [ "$(grep -c . <<<"$first")" -eq 1 ]
AGENT_PID='s/.*postfix\/discard\[\([0-9]*\)\].*/\1/p'
pid1=$(sent_field one@discard.example "$AGENT_PID" | head -1)
pt_check kept_by_agent [ "${first%% *}" = "$pid1" ]

# ---- a second message at once: same agent, same connection ----
r=$(pt_smtp_send a@example.org two@discard.example)
pt_wait '[ "$(sent_count two@discard.example)" -ge 1 ]' 15
pid2=$(sent_field two@discard.example "$AGENT_PID" | head -1)
second=$(agent_socks)
pt_check reused_agent [ "$pid2" = "$pid1" ]
pt_check reused_connection [ "${second:-none}" = "${first:-empty}" ]

# ---- the kept connection's agent dies with the request unread: one retry ----
r=$(pt_smtp_send a@example.org prime@discard.example)
pt_wait '[ "$(sent_count prime@discard.example)" -ge 1 ]' 15
holder=$(sent_field prime@discard.example "$AGENT_PID" | head -1)
pt_check retry_holder_kept [ "$(agent_socks | awk '{print $1}')" = "${holder:-none}" ]
kill -STOP "$holder"
r=$(pt_smtp_send a@example.org retry@discard.example)
sleep 1
# Still waiting: the request went over the stopped agent's connection.
pt_check retry_request_on_kept_connection [ "$(sent_count retry@discard.example)" -eq 0 ]
kill -KILL "$holder"
pt_wait '[ "$(sent_count retry@discard.example)" -ge 1 ]' 15
pt_check retry_sent_once [ "$(sent_count retry@discard.example)" -eq 1 ]
pt_check retry_by_another_agent [ "$(sent_field retry@discard.example "$AGENT_PID")" != "$holder" ]
pt_check retry_not_deferred [ "$(log_count "status=deferred|lost connection to delivery agent")" -eq 0 ]

# ---- idle: qmgr lets the connection go ----
pt_wait '[ -z "$(agent_socks)" ]' 10
pt_check released [ -z "$(agent_socks)" ]

# ---- max_use counts deliveries, not connections ----
pt_check max_use_line pt_service_option discard "-o max_use=3"
burst 1 12 burst@discard.example
pt_wait '[ "$(sent_count burst@discard.example)" -ge 12 ]' 30
pt_check max_use_all_sent [ "$(sent_count burst@discard.example)" -eq 12 ]
most=$(sent_field burst@discard.example "$AGENT_PID" | sort | uniq -c | sort -rn | awk 'NR==1{print $1}')
pt_check max_use_per_process [ "${most:-99}" -le 3 ]

# ---- reload during a burst: nothing lost, nothing deferred ----
pt_reload_burst 5 300 reload@discard.example
pt_wait '[ "$(sent_count reload@discard.example)" -ge 300 ]' 60
pt_check reload_all_sent [ "$(sent_count reload@discard.example)" -eq 300 ]
pt_check reload_none_deferred [ "$(log_count "status=deferred|lost connection to delivery agent")" -eq 0 ]
pt_wait_queue_empty 30
pt_check reload_queue_empty [ "$(pt_queue_count)" -eq 0 ]

# ---- one agent process: no delivery waits out a kept connection ----
sed -i 's/^discard .*$/discard unix - - n - 1 discard/' "$PT_CONF/master.cf"
pt_cmd postfix reload >/dev/null 2>&1
sleep 1
burst 5 40 one@proc.example
pt_wait '[ "$(sent_count one@proc.example)" -ge 40 ]' 60
pt_check maxproc_one_all_sent [ "$(sent_count one@proc.example)" -eq 40 ]
slowest=$(sent_field one@proc.example 's/.* delay=\([0-9.]*\),.*/\1/p' | sort -n | tail -1)
# Without the rule, deliveries queued up behind the 2 s idle time of each kept
# connection (delays of 2, 4, 6 ... seconds).
pt_check maxproc_one_no_stall awk -v d="${slowest:-99}" 'BEGIN { exit !(d < 1.5) }'
pt_done
