#!/usr/bin/env bash
# Values a daemon would refuse (a boolean, number or time that does not
# parse or is out of bounds) are reported as FILE:LINE by postfix check,
# which then exits 1, and by master at start; master still starts, as
# Postfix does, and mail that does not need the bad setting keeps flowing
# (a value master needs itself still stops it).
# Good values, $name values that expand to good ones, TRANSPORT_suffix names
# and -o values with $name are left alone.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance

cat >> "$PT_CONF/main.cf" <<'EOC'
smtpd_timeout = 5m
maximal_queue_lifetime = 3
my_limit = 7
smtpd_recipient_limit = $my_limit
relay_destination_concurrency_limit = 4
virtual_mailbox_limit = lots
virtual_minimum_uid = 100x
hash_queue_depth = 17
virtual_destination_concurrency_limit = none
disable_vrfy_command = maybe
loop_a = $smtpd_helo_timeout
smtpd_helo_timeout = $loop_a
chain_b = 0x
smtpd_soft_error_limit = $chain_b
EOC
printf '%s\n' 'badrelay  unix  -       -       n       -       -       smtp -o smtp_connect_timeout=never -o smtp_helo_timeout=$x -o smtp_skip_5xx_greeting=no' >> "$PT_CONF/master.cf"
line() { grep -n "^$1 = " "$PT_CONF/main.cf" | tail -n 1 | cut -d: -f1; }
mline=$(grep -n '^badrelay ' "$PT_CONF/master.cf" | cut -d: -f1)

pt_cmd postfix check > "$PT_T/check.out" 2>&1
status=$?
pt_check check_exit_1 [ "$status" = 1 ]
has() { grep -qF -- "$1" "$PT_T/check.out"; }
pt_check check_number has "$PT_CONF/main.cf:$(line virtual_mailbox_limit): bad numerical value: virtual_mailbox_limit = lots (a whole number of at least 0)"
pt_check check_number_junk has "$PT_CONF/main.cf:$(line virtual_minimum_uid): bad numerical value: virtual_minimum_uid = 100x"
pt_check check_bounds has "$PT_CONF/main.cf:$(line hash_queue_depth): bad numerical value: hash_queue_depth = 17 (a whole number from 1 to 16)"
pt_check check_transport_suffix has "$PT_CONF/main.cf:$(line virtual_destination_concurrency_limit): bad numerical value: virtual_destination_concurrency_limit = none"
pt_check check_boolean has "$PT_CONF/main.cf:$(line disable_vrfy_command): bad boolean value: disable_vrfy_command = maybe (yes or no)"
pt_check check_o_option has "$PT_CONF/master.cf:$mline: service badrelay: bad time value: -o smtp_connect_timeout=never"
pt_check check_expanded has "$PT_CONF/main.cf:$(line smtpd_soft_error_limit): bad numerical value: smtpd_soft_error_limit = \$chain_b, which gives \"0x\""
# A $name loop is left to the daemon that expands it: no fatal here.
pt_check check_loop_not_fatal sh -c "! grep -q fatal '$PT_T/check.out'"
pt_check check_six_in_main [ "$(grep -c 'main.cf:[0-9]*: bad ' "$PT_T/check.out")" = 6 ]
pt_check check_one_in_master [ "$(grep -c 'master.cf:[0-9]*: .*bad ' "$PT_T/check.out")" = 1 ]
for ok in smtpd_timeout maximal_queue_lifetime smtpd_recipient_limit \
          relay_destination_concurrency_limit smtp_helo_timeout smtp_skip_5xx_greeting; do
    pt_check "check_good_$ok" sh -c "! grep -q '$ok' '$PT_T/check.out'"
done

# master says it at start, and starts. Only values that no daemon of the
# SMTP-to-mailbox path reads stay: master itself reads hash_queue_depth,
# smtpd disable_vrfy_command and its timeouts and limits, qmgr every
# TRANSPORT_destination_... limit; any of those stops that program, in
# Postfix as here.
sed -i -e '/^hash_queue_depth = 17$/d' -e '/^disable_vrfy_command = maybe$/d' \
    -e '/^virtual_destination_concurrency_limit = none$/d' -e '/^smtpd_helo_timeout = /d' \
    -e '/^smtpd_soft_error_limit = /d' "$PT_CONF/main.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
pt_check start_reported grep -qF "main.cf:$(line virtual_mailbox_limit): bad numerical value: virtual_mailbox_limit = lots" "$PT_T/start.log"
pt_smtp_send sender@example.test alice@example.test >/dev/null
pt_check mail_still_flows pt_wait '[ -s "$PT_T/mail/alice" ]' 20
pt_done
