#!/usr/bin/env bash
# master and the postfix command: start/status/stop, check with file:line,
# reload picks up a changed smtpd_banner, a missing program is throttled
# without disturbing the others, two masters cannot share one queue.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

pt_check status_running "$PT_BUILD/sbin/postfix" -c "$PT_CONF" status

banner() {
    python3 - "$PT_PORT" <<'EOP'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
print(s.makefile("rb").readline().decode().strip()); s.sendall(b"QUIT\r\n"); s.close()
EOP
}
b=$(banner)
pt_check banner_default [ "$b" = "220 mail.example.test ESMTP Postfix" ]

echo 'smtpd_banner = $myhostname ESMTP reloaded-banner' >> "$PT_CONF/main.cf"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" reload 2>/dev/null
pt_wait '[ "$(banner)" = "220 mail.example.test ESMTP reloaded-banner" ]' 20
pt_check reload_changes_banner [ "$(banner)" = "220 mail.example.test ESMTP reloaded-banner" ]

# A second master for the same queue must refuse to start.
MAIL_CONFIG=$PT_CONF "$PT_BUILD/libexec/master" -c "$PT_CONF" > "$PT_T/second.out" 2>&1
rc=$?
pt_check second_master_refused [ $rc -ne 0 ]
pt_check second_master_says_why grep -q "already running" "$PT_T/second.out"

# A service whose program is not installed (the stock master.cf names some
# Postern does not ship yet) is reported and throttled; the others keep serving.
echo 'bogus     unix  -       -       n       1       1       nosuchprogram' >> "$PT_CONF/master.cf"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" reload 2>/dev/null
pt_wait 'grep -q "program .*nosuchprogram is not installed" "$PT_T/maillog"' 10
pt_check missing_program_reported grep -q 'service "bogus": program .*/nosuchprogram is not installed' "$PT_T/maillog"
pt_check missing_program_throttled grep -q 'service "bogus" .*throttling' "$PT_T/maillog"
pt_check smtpd_still_serves [ "$(banner)" = "220 mail.example.test ESMTP reloaded-banner" ]

# postfix check: a broken main.cf line is reported as file:line.
cp "$PT_CONF/main.cf" "$PT_T/main.cf.good"
printf 'this line has no equals sign\nbogus_parameter_name = 1\n' >> "$PT_CONF/main.cf"
lines=$(wc -l < "$PT_CONF/main.cf")
out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1); rc=$?
pt_check check_fails_on_syntax [ $rc -ne 0 ]
pt_check check_reports_file_line grep -q "$PT_CONF/main.cf:$((lines - 1)):" <<<"$out"
pt_check check_warns_unknown_param grep -q "$PT_CONF/main.cf: unused parameter: bogus_parameter_name=1\$" <<<"$out"
cp "$PT_T/main.cf.good" "$PT_CONF/main.cf"
out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1); rc=$?
pt_check check_clean_config_passes [ $rc -eq 0 ]

# check creates a missing queue directory.
rmdir "$PT_T/spool/saved"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" check >/dev/null 2>&1
pt_check check_creates_queue_dirs [ -d "$PT_T/spool/saved" ]

"$PT_BUILD/sbin/postfix" -c "$PT_CONF" stop 2>/dev/null
pt_check stop_removes_master [ "$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" status >/dev/null 2>&1; echo $?)" = 1 ]
pt_done
