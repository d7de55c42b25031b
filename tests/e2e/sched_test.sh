#!/usr/bin/env bash
# postern_delivery_priority: qmgr and the local-side delivery agents run at a
# nice value that much (default 10) below master's, the other daemons at
# master's, and a command that local runs gets master's value back; -o 0 on
# a service turns it off there, -o N on any other service gives it N; a value
# that is not a whole number from 0 to 20 is reported.
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
# Opens one SMTP session and holds it, so that an smtpd process exists.
hold_session() {
    python3 - "$PT_PORT" <<'EOP' &
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.makefile("rb").readline(); time.sleep(5); s.sendall(b"QUIT\r\n"); s.close()
EOP
    HOLD_PID=$!
}

pt_check default_master_batch [ "$(policy "$(pt_master_pid)")" = batch ]
pt_check default_qmgr_batch [ "$(policy "$(pt_child qmgr)")" = batch ]

# ---- postern_delivery_priority
nice_of() { ps -o ni= -p "$1" 2>/dev/null | tr -d ' '; }
# nice_alias: the alias nicecheck runs a command that writes its own nice
# value to $NDIR/cmd.out (local runs it as an unprivileged user).
nice_alias() {
    NDIR=$PT_T/nice
    mkdir -p "$NDIR" && chmod 1777 "$NDIR"
    printf '%s\n' "nicecheck: \"|/bin/sh -c 'cat >/dev/null; nice >$NDIR/cmd.out'\"" >> "$PT_CONF/aliases"
    pt_cmd postalias "$PT_CONF/aliases"
}
mnice=$(nice_of "$(pt_master_pid)")
raised=$((mnice - 10 < -20 ? -20 : mnice - 10))
pt_check prio_qmgr_raised [ "$(nice_of "$(pt_child qmgr)")" = "$raised" ]
nice_alias
pt_smtp_send sender@example.test nicecheck@example.test >/dev/null
pt_check prio_command_ran pt_wait '[ -s "$NDIR/cmd.out" ]' 20
pt_check prio_command_master_nice [ "$(tr -d ' \n' < "$NDIR/cmd.out")" = "$mnice" ]
pt_check prio_local_raised [ "$(nice_of "$(pt_child local)")" = "$raised" ]
hold_session
pt_wait '[ -n "$(pt_child smtpd)" ]' 10
pt_check prio_smtpd_master_nice [ "$(nice_of "$(pt_child smtpd)")" = "$mnice" ]
wait "$HOLD_PID"
pt_check prio_pickup_master_nice [ "$(nice_of "$(pt_child pickup)")" = "$mnice" ]
# -o postern_delivery_priority=0 on local: its new processes keep master's
# value; =3 on pickup, which is not a delivery agent: it runs 3 below.
sed -i 's/^\(local  *unix .* local\)$/\1 -o postern_delivery_priority=0/' "$PT_CONF/master.cf"
sed -i 's/^\(pickup  *unix .* pickup\)$/\1 -o postern_delivery_priority=3/' "$PT_CONF/master.cf"
pt_check prio_o_option_written grep -q 'local -o postern_delivery_priority=0$' "$PT_CONF/master.cf"
pt_check prio_o_option_pickup_written grep -q 'pickup -o postern_delivery_priority=3$' "$PT_CONF/master.cf"
old_pickup=$(pt_child pickup)
pt_cmd postfix reload 2>/dev/null
pt_wait '[ -z "$(pt_child local)" ]' 20
pt_wait '[ -n "$(pt_child pickup)" ] && [ "$(pt_child pickup)" != "$old_pickup" ]' 20
pt_check prio_o_option_pickup_raised [ "$(nice_of "$(pt_child pickup)")" = "$((mnice - 3 < -20 ? -20 : mnice - 3))" ]
rm -f "$NDIR/cmd.out"
pt_smtp_send sender@example.test nicecheck@example.test >/dev/null
pt_wait '[ -s "$NDIR/cmd.out" ]' 20
pt_check prio_o_option_local_off [ "$(nice_of "$(pt_child local)")" = "$mnice" ]
pt_check prio_o_option_qmgr_still_raised [ "$(nice_of "$(pt_child qmgr)")" = "$raised" ]
# Out of range in main.cf, and not a number in a -o option: postfix check.
echo 'postern_delivery_priority = 21' >> "$PT_CONF/main.cf"
pline=$(grep -n '^postern_delivery_priority = 21$' "$PT_CONF/main.cf" | cut -d: -f1)
sed -i 's/local -o postern_delivery_priority=0$/local -o postern_delivery_priority=high/' "$PT_CONF/master.cf"
lline=$(grep -n 'local -o postern_delivery_priority=high$' "$PT_CONF/master.cf" | cut -d: -f1)
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check prio_bad_check_fails [ $rc -ne 0 ]
pt_check prio_bad_main_cf_file_line grep -q "$PT_CONF/main.cf:$pline: bad numerical value: postern_delivery_priority = 21 (a whole number from 0 to 20)" <<<"$out"
pt_check prio_bad_o_option_file_line grep -q "$PT_CONF/master.cf:$lline: service local: bad numerical value: -o postern_delivery_priority=high (a whole number from 0 to 20)" <<<"$out"
sed -i '/^postern_delivery_priority = 21$/d' "$PT_CONF/main.cf"
sed -i 's/local -o postern_delivery_priority=high$/local/' "$PT_CONF/master.cf"
sed -i 's/pickup -o postern_delivery_priority=3$/pickup/' "$PT_CONF/master.cf"
pt_check prio_restored_check_passes pt_cmd postfix check
pt_cmd postfix reload 2>/dev/null

# One service told otherwise with -o: its processes only.
sed -i "s/^\(127\.0\.0\.1:$PT_PORT .*smtpd\)\$/\1 -o postern_batch_scheduling=no/" "$PT_CONF/master.cf"
pt_check o_option_written grep -q "smtpd -o postern_batch_scheduling=no" "$PT_CONF/master.cf"
pt_cmd postfix reload 2>/dev/null
pt_wait '[ -z "$(pt_child smtpd)" ]' 20
hold_session
pt_wait '[ -n "$(pt_child smtpd)" ]' 10
pt_check o_option_smtpd_other [ "$(policy "$(pt_child smtpd)")" = other ]
pt_wait '[ -n "$(pt_child qmgr)" ]' 10
pt_check o_option_qmgr_still_batch [ "$(policy "$(pt_child qmgr)")" = batch ]
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
pt_wait '[ -z "$(pt_child smtpd)" ]' 20
hold_session
pt_wait '[ -n "$(pt_child smtpd)" ]' 10
pt_check bad_o_option_reported pt_wait 'grep -q "smtpd\[[0-9]*\]: warning: master.cf -o option: bad boolean value: postern_batch_scheduling = maybe (yes or no)" "$PT_T/maillog"' 10
pt_check bad_o_option_not_blamed_on_main_cf bash -c "! grep -q 'main.cf:[0-9]*: bad boolean value' '$PT_T/maillog'"
pt_check bad_o_option_smtpd_inherits [ "$(policy "$(pt_child smtpd)")" = batch ]
wait "$HOLD_PID"
sed -i "s/smtpd -o postern_batch_scheduling=maybe\$/smtpd -o postern_batch_scheduling=no/" "$PT_CONF/master.cf"

# main.cf "no" and a reload: master and the daemons it starts afterwards.
sed -i 's/^postern_batch_scheduling = yes$/postern_batch_scheduling = no/' "$PT_CONF/main.cf"
pt_cmd postfix reload 2>/dev/null
pt_wait '[ "$(policy "$(pt_master_pid)")" = other ]' 10
pt_check reload_no_master_other [ "$(policy "$(pt_master_pid)")" = other ]
pt_wait '[ -n "$(pt_child qmgr)" ] && [ "$(policy "$(pt_child qmgr)")" = other ]' 20
pt_check reload_no_qmgr_other [ "$(policy "$(pt_child qmgr)")" = other ]

# A value that is not a boolean.
sed -i 's/^postern_batch_scheduling = no$/postern_batch_scheduling = maybe/' "$PT_CONF/main.cf"
line=$(grep -n '^postern_batch_scheduling = maybe$' "$PT_CONF/main.cf" | cut -d: -f1)
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check bad_value_check_fails [ $rc -ne 0 ]
pt_check bad_value_check_file_line grep -q "$PT_CONF/main.cf:$line: bad boolean value: postern_batch_scheduling = maybe (yes or no)" <<<"$out"
pid=$(pt_master_pid)
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

# Where the kernel does not let root lower a nice value (no CAP_SYS_NICE, as
# in a default container): master says so once, and qmgr and local run at
# master's value without a warning of their own.
pt_instance
if setpriv --bounding-set -sys_nice true 2>/dev/null; then
    nice_alias
    setpriv --bounding-set -sys_nice "$PT_BUILD/sbin/postfix" -c "$PT_CONF" start >/dev/null 2>&1
    pt_wait_smtp "$PT_PORT" 20
    pt_smtp_send sender@example.test nicecheck@example.test >/dev/null
    pt_check nocap_delivered pt_wait '[ -s "$NDIR/cmd.out" ]' 20
    mnice=$(nice_of "$(pt_master_pid)")
    pt_check nocap_qmgr_master_nice [ "$(nice_of "$(pt_child qmgr)")" = "$mnice" ]
    pt_check nocap_local_master_nice [ "$(nice_of "$(pt_child local)")" = "$mnice" ]
    pt_check nocap_master_says_once [ "$(grep -c 'master\[[0-9]*\]: warning: postern_delivery_priority = 10: this system does not let Postern lower a nice value' "$PT_T/maillog")" = 1 ]
    pt_check nocap_daemons_quiet bash -c "! grep -q 'cannot lower the nice value' '$PT_T/maillog'"
    pt_cmd postfix stop >/dev/null 2>&1
else
    pt_skip nocap "setpriv cannot drop CAP_SYS_NICE here"
fi

pt_done
