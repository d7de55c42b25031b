#!/usr/bin/env bash
# postern_batch_scheduling: master and the daemons run under SCHED_BATCH by
# default; "no" in main.cf (after a reload) or in a service's -o option gives
# the normal policy; a value that is not a boolean is reported as file:line by
# postfix check, refused at start and survived (with a warning) at reload; a
# bad -o value is reported as master.cf:LINE by postfix check and at reload,
# and as the -o option by the daemon, which keeps master's policy.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# policy PID: "batch", "other" or the number of another policy.
policy() {
    python3 -c 'import os, sys
p = os.sched_getscheduler(int(sys.argv[1]))
print({os.SCHED_BATCH: "batch", os.SCHED_OTHER: "other"}.get(p, p))' "$1" 2>/dev/null
}
master_pid() { tr -d ' \n' < "$PT_T/spool/pid/master.pid"; }
child() { pgrep -P "$(master_pid)" -x "$1" | head -n 1; }
# Opens one SMTP session and holds it, so that an smtpd process exists.
hold_session() {
    python3 - "$PT_PORT" <<'EOP' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.makefile("rb").readline(); time.sleep(5); s.sendall(b"QUIT\r\n"); s.close()
EOP
    HOLD_PID=$!
}

pt_check default_master_batch [ "$(policy "$(master_pid)")" = batch ]
pt_check default_qmgr_batch [ "$(policy "$(child qmgr)")" = batch ]

# One service told otherwise with -o: its processes only.
sed -i "s/^\(127\.0\.0\.1:$PT_PORT .*smtpd\)\$/\1 -o postern_batch_scheduling=no/" "$PT_CONF/master.cf"
pt_check o_option_written grep -q "smtpd -o postern_batch_scheduling=no" "$PT_CONF/master.cf"
pt_cmd postfix reload 2>/dev/null
pt_wait '[ -z "$(child smtpd)" ]' 20
hold_session
pt_wait '[ -n "$(child smtpd)" ]' 10
pt_check o_option_smtpd_other [ "$(policy "$(child smtpd)")" = other ]
pt_wait '[ -n "$(child qmgr)" ]' 10
pt_check o_option_qmgr_still_batch [ "$(policy "$(child qmgr)")" = batch ]
wait "$HOLD_PID"

# A daemon's own -o value that is not a boolean: reported as the -o option
# (main.cf's line, yes, is fine), and the daemon serves under master's policy.
echo 'postern_batch_scheduling = yes' >> "$PT_CONF/main.cf"
sed -i "s/smtpd -o postern_batch_scheduling=no\$/smtpd -o postern_batch_scheduling=maybe/" "$PT_CONF/master.cf"
mline=$(grep -n 'smtpd -o postern_batch_scheduling=maybe$' "$PT_CONF/master.cf" | cut -d: -f1)
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check bad_o_option_check_fails [ $rc -ne 0 ]
pt_check bad_o_option_check_file_line grep -q "$PT_CONF/master.cf:$mline: service 127.0.0.1:$PT_PORT: bad boolean value: -o postern_batch_scheduling=maybe (yes or no)" <<<"$out"
pt_cmd postfix reload 2>/dev/null
pt_check bad_o_option_reload_warns pt_wait 'grep -q "master\[[0-9]*\]: warning: $PT_CONF/master.cf:$mline: service 127.0.0.1:$PT_PORT: bad boolean value" "$PT_T/maillog"' 10
pt_wait '[ -z "$(child smtpd)" ]' 20
hold_session
pt_wait '[ -n "$(child smtpd)" ]' 10
pt_check bad_o_option_reported pt_wait 'grep -q "smtpd\[[0-9]*\]: warning: master.cf -o option: bad boolean value: postern_batch_scheduling = maybe (yes or no)" "$PT_T/maillog"' 10
pt_check bad_o_option_not_blamed_on_main_cf bash -c "! grep -q 'main.cf:[0-9]*: bad boolean value' '$PT_T/maillog'"
pt_check bad_o_option_smtpd_inherits [ "$(policy "$(child smtpd)")" = batch ]
wait "$HOLD_PID"
sed -i "s/smtpd -o postern_batch_scheduling=maybe\$/smtpd -o postern_batch_scheduling=no/" "$PT_CONF/master.cf"

# main.cf "no" and a reload: master and the daemons it starts afterwards.
sed -i 's/^postern_batch_scheduling = yes$/postern_batch_scheduling = no/' "$PT_CONF/main.cf"
pt_cmd postfix reload 2>/dev/null
pt_wait '[ "$(policy "$(master_pid)")" = other ]' 10
pt_check reload_no_master_other [ "$(policy "$(master_pid)")" = other ]
pt_wait '[ -n "$(child qmgr)" ] && [ "$(policy "$(child qmgr)")" = other ]' 20
pt_check reload_no_qmgr_other [ "$(policy "$(child qmgr)")" = other ]

# A value that is not a boolean.
sed -i 's/^postern_batch_scheduling = no$/postern_batch_scheduling = maybe/' "$PT_CONF/main.cf"
line=$(grep -n '^postern_batch_scheduling = maybe$' "$PT_CONF/main.cf" | cut -d: -f1)
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check bad_value_check_fails [ $rc -ne 0 ]
pt_check bad_value_check_file_line grep -q "$PT_CONF/main.cf:$line: bad boolean value: postern_batch_scheduling = maybe (yes or no)" <<<"$out"
pid=$(master_pid)
pt_cmd postfix reload >/dev/null 2>&1
pt_check bad_value_reload_warns pt_wait 'grep -q "master\[$pid\]: warning: $PT_CONF/main.cf:$line: bad boolean value" "$PT_T/maillog"' 10
pt_check bad_value_reload_master_lives kill -0 "$pid"
pt_check bad_value_reload_smtpd_serves pt_wait_smtp "$PT_PORT" 10
pt_cmd postfix stop >/dev/null 2>&1
pt_wait '! kill -0 '"$pid"' 2>/dev/null' 20
out=$(pt_cmd postfix start 2>&1); rc=$?
pt_check bad_value_start_refused [ $rc -ne 0 ]
pt_check bad_value_start_says_why grep -q "main.cf:$line: bad boolean value: postern_batch_scheduling = maybe" <<<"$out"
pt_check bad_value_start_no_master [ "$(pt_cmd postfix status >/dev/null 2>&1; echo $?)" = 1 ]

pt_done
