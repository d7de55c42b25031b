#!/usr/bin/env bash
# service_disable_test.sh - master_service_disable against a running master:
# a name/type item switches one listener off, a type switches off every
# service of that type, "!name/type" before it keeps one on (first match
# wins), each change applied by "postfix reload"; mail still flows through
# what stays on, and master logs what it left out.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
P2=$(pt_free_port)
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P2 inet n - n - - smtpd
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog

# Does something answer SMTP on port $1 (a 220 greeting)?
answers() {
    python3 - "$1" <<'EOP'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
    sys.exit(0 if s.recv(100).startswith(b"220") else 1)
except OSError:
    sys.exit(1)
EOP
}
reload() {
    sed -i '/^master_service_disable/d' "$PT_CONF/main.cf"
    echo "master_service_disable = $1" >> "$PT_CONF/main.cf"
    pt_cmd postfix reload >/dev/null 2>&1
    sleep 1
}

pt_check both_listen_at_start bash -c "$(declare -f answers); answers $PT_PORT && answers $P2"

reload "127.0.0.1:$P2/inet"
pt_check named_service_off bash -c "$(declare -f answers); ! answers $P2"
pt_check other_service_on bash -c "$(declare -f answers); answers $PT_PORT"
pt_check disable_logged grep -q "service 127.0.0.1:$P2/inet disabled by master_service_disable" "$LOG"
out=$(pt_smtp_send sender@example.org alice@example.test)
pt_check mail_flows_through_the_rest grep -q '^250' <<<"$out"

reload "inet"
pt_check type_turns_all_inet_off bash -c "$(declare -f answers); ! answers $PT_PORT && ! answers $P2"
printf 'Subject: local\n\nbody\n' | pt_cmd sendmail -f sender@example.org alice@example.test
pt_check unix_services_still_on pt_wait "grep -q 'to=<alice@example.test>.*status=sent' '$LOG'" 20

reload "!127.0.0.1:$P2/inet, inet"
pt_check exemption_first_match_wins bash -c "$(declare -f answers); answers $P2 && ! answers $PT_PORT"

reload ""
pt_check empty_turns_all_on bash -c "$(declare -f answers); answers $PT_PORT && answers $P2"

pt_stop
pt_done
