#!/bin/bash
# debugger_test.sh - a daemon started with -D in master.cf runs
# debugger_command ($process_name, $process_id expanded) before it serves,
# and then serves normally; with debugger_command empty it refuses to run
# and says why.
. "$(dirname "$0")/lib.sh"
pt_instance
P_DBG=$(pt_free_port)
P_NOCMD=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
debugger_command = echo \$process_name \$process_id >> $PT_T/debugger.out; sleep 1
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_DBG inet n - n - - smtpd -D
127.0.0.1:$P_NOCMD inet n - n - - smtpd -D
  -o debugger_command=
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# greet PORT: the first line the server sends (or nothing within 3 s).
greet() {
    python3 - "$1" <<'EOP'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=3)
    print(s.makefile("rb").readline().decode().strip())
except OSError:
    pass
EOP
}

g=$(greet "$P_DBG")
pt_check debug_greets grep -q '^220 ' <<<"$g"
pt_check debug_command_ran pt_wait "[ -s '$PT_T/debugger.out' ]" 10
name= pid=
[ -s "$PT_T/debugger.out" ] && read -r name pid < "$PT_T/debugger.out"
pt_check debug_process_name [ "$name" = smtpd ]
pt_check debug_process_id grep -qx smtpd "/proc/${pid:-0}/comm"
pt_check debug_logged pt_wait "grep -q 'smtpd\[$pid\]: running: echo smtpd $pid >> ' '$PT_T/maillog'" 10
r=$(PT_PORT=$P_DBG pt_smtp_send a@example.org bob@example.test)
pt_check debug_serves grep -q '^250' <<<"$r"

g=$(greet "$P_NOCMD")
pt_check nocmd_no_greeting [ -z "$g" ]
pt_check nocmd_fatal_logged pt_wait "grep -q 'fatal: .* was started with -D, but debugger_command is empty in main.cf' '$PT_T/maillog'" 10
pt_done
