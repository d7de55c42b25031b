#!/bin/bash
# permit_log_test.sh - smtpd_log_access_permit_actions: the permit actions
# it names are logged like rejects ("permit: RCPT from ...: action=NAME
# for Class=subject"), access-table results with the table; a list item
# may be a word, !word, /file/name or type:table; a permit overruled by
# defer_if_permit is not logged; empty logs no permit at all.
. "$(dirname "$0")/lib.sh"
pt_instance
P_NOT=$(pt_free_port)      # all but permit_mynetworks
P_NONE=$(pt_free_port)     # empty: no permit logging
P_FILE=$(pt_free_port)     # names from a file
printf '# logged permits\nOK\n' > "$PT_CONF/permit_names"
cat >> "$PT_CONF/main.cf" <<EOM
default_transport = discard
smtpd_log_access_permit_actions = static:all
smtpd_sender_restrictions = check_sender_access inline:{ ok.example=OK, dip.example=DEFER_IF_PERMIT }
EOM
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_NOT inet n - n - - smtpd
  -o smtpd_log_access_permit_actions=!permit_mynetworks,static:all
127.0.0.1:$P_NONE inet n - n - - smtpd
  -o smtpd_log_access_permit_actions=
127.0.0.1:$P_FILE inet n - n - - smtpd
  -o smtpd_log_access_permit_actions=$PT_CONF/permit_names
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# send PORT SENDER RCPT: one message; prints the final reply.
send() { PT_PORT=$1 pt_smtp_send "$2" "$3"; }
# logged PATTERN: the maillog has (or gets, within 10 s) a line matching.
logged() { pt_wait "grep -q -- '$1' '$PT_T/maillog'" 10; }
count() { grep -c -- "$1" "$PT_T/maillog"; }

r=$(send "$PT_PORT" a@other.example r1@remote.example)
pt_check static_all_sent grep -q '^250' <<<"$r"
pt_check mynetworks_logged logged \
    'NOQUEUE: permit: RCPT from localhost\[127.0.0.1\]: action=permit_mynetworks for Client host=localhost\[127.0.0.1\]; from=<a@other.example> to=<r1@remote.example> proto=ESMTP helo=<client.example.test>'
r=$(send "$PT_PORT" s@ok.example r2@remote.example)
pt_check table_ok_logged logged \
    'permit: RCPT from localhost\[127.0.0.1\]: action=OK for Sender address=s@ok.example from inline:{ ok.example=OK, dip.example=DEFER_IF_PERMIT }; from=<s@ok.example> to=<r2@remote.example>'

# DEFER_IF_PERMIT first: permit_mynetworks then gives 450, and is not logged.
r=$(send "$PT_PORT" d@dip.example r3@remote.example)
pt_check dip_450 grep -q '^450' <<<"$r"
# smtpd logs its reject after any permit line, through the same socket:
# once the reject is in the log, a permit line would be there too.
pt_wait "grep -q 'reject: RCPT .*to=<r3@remote.example>' '$PT_T/maillog'" 10
pt_check dip_not_logged [ "$(count 'action=.*to=<r3@remote.example>')" = 0 ]

# !permit_mynetworks,static:all: the table's OK, not permit_mynetworks.
r=$(send "$P_NOT" s@ok.example r4@remote.example)
pt_check not_ok_logged logged 'action=OK for Sender address=s@ok.example .*to=<r4@remote.example>'
# The relay restrictions (permit_mynetworks) run after the sender's table;
# the delivery line comes after anything smtpd logged for this recipient.
pt_wait "grep -q 'to=<r4@remote.example>.*status=sent' '$PT_T/maillog'" 20
pt_check not_mynetworks_skipped [ "$(count 'action=permit_mynetworks.*to=<r4@remote.example>')" = 0 ]

# A file with "OK" in it.
r=$(send "$P_FILE" s@ok.example r5@remote.example)
pt_check file_ok_logged logged 'action=OK for Sender address=s@ok.example .*to=<r5@remote.example>'
pt_wait "grep -q 'to=<r5@remote.example>.*status=sent' '$PT_T/maillog'" 20
pt_check file_mynetworks_skipped [ "$(count 'action=permit_mynetworks.*to=<r5@remote.example>')" = 0 ]

# Empty: nothing.
r=$(send "$P_NONE" s@ok.example r6@remote.example)
pt_check none_sent grep -q '^250' <<<"$r"
pt_wait "grep -q 'to=<r6@remote.example>.*status=sent' '$PT_T/maillog'" 20
pt_check none_not_logged [ "$(count 'permit: .*to=<r6@remote.example>')" = 0 ]
pt_done
