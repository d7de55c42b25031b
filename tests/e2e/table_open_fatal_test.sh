#!/bin/bash
# table_open_fatal_test.sh - daemon_table_open_error_is_fatal on a real
# instance whose smtpd names an access table that does not exist: by
# default (no) smtpd runs on and answers the RCPT that needs the table with
# 451 4.3.0; with yes, the smtpd process that tries to open it exits with a
# fatal error that names the table and the setting, and no mail is taken.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd_restrict_lib.sh"
pt_instance
FATALP=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
smtpd_recipient_restrictions = check_recipient_access hash:$PT_T/no-such-table, permit_mynetworks, reject
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$FATALP inet n - n - - smtpd -o daemon_table_open_error_is_fatal=yes
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog

# Default: gradual degradation.
out=$(pt_rdialog 'EHLO client.example.test' 'MAIL FROM:<a@example.org>' 'RCPT TO:<alice@example.test>')
pt_expect default_greets '^CONNECT => 220 ' "$out"
pt_expect default_rcpt_451 '^RCPT TO:<alice@example.test> => 451 4.3.0 ' "$out"
pt_check default_warned pt_wait "grep -q 'smtpd\[[0-9]*\]: warning: .*no-such-table' '$LOG'" 10
pt_check default_no_fatal bash -c "! grep -q 'fatal: .*no-such-table' '$LOG'"

# yes: the smtpd behind the second port dies on the table instead.
out=$(pt_rdialog -p "$FATALP" 'EHLO client.example.test' 'MAIL FROM:<a@example.org>' \
    'RCPT TO:<alice@example.test>' 2>&1)
pt_check fatal_no_451 bash -c "! grep -q '=> 451' <<<\"\$1\"" _ "$out"
pt_check fatal_logged pt_wait "grep -q 'smtpd\[[0-9]*\]: fatal: hash:$PT_T/no-such-table: cannot open the table (daemon_table_open_error_is_fatal = yes)' '$LOG'" 10
pt_check fatal_master_saw_exit pt_wait "grep -qE 'master\[[0-9]*\]: warning: .*smtpd.*(status 1|exit status)' '$LOG'" 10
pt_check fatal_nothing_queued [ "$(pt_queue_count)" -eq 0 ]

pt_check no_unsupported_warning bash -c "! grep -q 'daemon_table_open_error_is_fatal is not supported' '$LOG' '$PT_T/start.log'"
pt_done
