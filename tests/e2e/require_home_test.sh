#!/usr/bin/env bash
# require_home_test.sh - require_home_directory in local(8), on a real
# instance: a user whose home directory does not exist gets mail in the
# mail spool by default; with require_home_directory = yes the delivery is
# deferred ("cannot access home directory ..."), and goes through once the
# directory exists.
. "$(dirname "$0")/lib.sh"
pt_setup_users
U=pthomeless
HOME_DIR=/var/tmp/postern-test-homeless
getent passwd "$U" >/dev/null || useradd -M -d "$HOME_DIR" -s /bin/sh "$U"
rm -rf "$HOME_DIR"
pt_instance
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog
spool_count() { grep -c '^From ' "$PT_T/mail/$U" 2>/dev/null || echo 0; }

out=$(PT_BODY=$'Subject: one\r\n\r\nbody\r\n' pt_smtp_send sender@example.org "$U@example.test")
pt_check default_accepted grep -q '^250' <<<"$out"
pt_check default_delivered_to_spool pt_wait "[ \$(spool_count) = 1 ]" 20

echo "require_home_directory = yes" >> "$PT_CONF/main.cf"
pt_cmd postfix reload >/dev/null 2>&1
sleep 1
out=$(PT_BODY=$'Subject: two\r\n\r\nbody\r\n' pt_smtp_send sender@example.org "$U@example.test")
pt_check required_accepted grep -q '^250' <<<"$out"
pt_check required_deferred pt_wait "grep -q 'to=<$U@example.test>.*dsn=4.3.0, status=deferred (cannot access home directory $HOME_DIR: No such file or directory)' '$LOG'" 20
pt_check required_not_delivered [ "$(spool_count)" = 1 ]

mkdir -p "$HOME_DIR"; chown "$U:" "$HOME_DIR"
pt_cmd postqueue -f >/dev/null 2>&1
pt_check delivered_once_home_exists pt_wait "[ \$(spool_count) = 2 ]" 30

pt_stop
rm -rf "$HOME_DIR"
pt_done
