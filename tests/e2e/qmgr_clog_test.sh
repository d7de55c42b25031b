#!/usr/bin/env bash
# qmgr_clog_test.sh - qmgr_clog_warn_time: a destination that holds more
# than a fifth of qmgr_message_active_limit is reported once per
# qmgr_clog_warn_time, with the likely reason; 0 turns the warning off.
# Six messages go to one next hop served by a slow smtp-sink (1 s before
# each end-of-data reply) with smtp_destination_concurrency_limit = 1 and
# qmgr_message_active_limit = 10 (threshold: more than 2).
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
SINK_PORT=$(pt_free_port)
"$PT_BUILD/sbin/smtp-sink" -w 1 127.0.0.1:"$SINK_PORT" 64 >/dev/null 2>&1 &
SINK_PID=$!
trap 'kill $SINK_PID 2>/dev/null; pt_cleanup' EXIT
pt_wait_smtp "$SINK_PORT" 10 || { pt_fail sink "smtp-sink did not start"; pt_done; exit 1; }
printf 'slow.example smtp:[127.0.0.1]:%s\n' "$SINK_PORT" > "$PT_CONF/transport"
cat >> "$PT_CONF/main.cf" <<EOM
transport_maps = texthash:$PT_CONF/transport
smtp_destination_concurrency_limit = 1
qmgr_message_active_limit = 10
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog
HOP="\[127.0.0.1\]:$SINK_PORT"

# burst TAG: six messages to slow.example in one session.
burst() {
    python3 - "$PT_PORT" "$1" <<'EOP'
import smtplib, sys
port, tag = int(sys.argv[1]), sys.argv[2]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
for i in range(6):
    s.sendmail("sender@example.org", ["r%d@slow.example" % i], "Subject: %s %d\r\n\r\nx\r\n" % (tag, i))
s.quit()
EOP
}
warnings() { grep -c "qmgr.*warning: mail for $HOP is using up [0-9]* of [0-9]* active queue entries" "$LOG"; }

burst one
pt_check clog_warned pt_wait '[ "$(warnings)" -ge 1 ]' 30
pt_check clog_names_limit grep -q "qmgr.*warning: its deliveries are at smtp_destination_concurrency_limit (1)" "$LOG"
pt_check burst_delivered pt_wait_queue_empty 60
pt_check clog_once_per_period [ "$(warnings)" -eq 1 ]

pt_cmd postconf -e qmgr_clog_warn_time=0
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
burst two
pt_check second_burst_delivered pt_wait_queue_empty 60
pt_check clog_off_when_zero [ "$(warnings)" -eq 1 ]

pt_stop
pt_done
