#!/bin/bash
# mx_backup_test.sh - the permit_mx_backup restriction and
# permit_mx_backup_networks, against a real instance in a network namespace
# whose DNS (dnsmasq) serves the MX records.
#
# The instance listens on 127.0.0.1 (inet_interfaces), so an MX host whose
# address is 127.0.0.1 is "this host"; mynetworks (192.0.2.0/24) does not
# hold the test client. With smtpd_recipient_restrictions = permit_mx_backup,
# reject the checks are: a domain where this host is a backup MX is accepted
# (by address, and by an MX name in mydestination) and its mail is queued; a
# domain where this host is a primary MX, one that does not list this host,
# one without MX records (an A record pointing here does not count) and an
# address literal are rejected with reject's 554 5.7.1; our own and relay
# domains are accepted (permit_auth_destination's test); sender-specified
# routing (user@host@domain, user%host@domain) is refused; a DNS failure
# (SERVFAIL for the MX records, or for an MX host's address) does not
# permit: reject becomes 450 4.4.4. With permit_mx_backup_networks (smtpd
# services with -o): accepted only when all addresses of all primary MX
# hosts match (CIDR, a host name, a root-only /file read at start).
#
# The script runs twice (pt_netns_dns in lib.sh): outside (namespace and
# dnsmasq) and inside (PT_MXB_INNER=1: the instance and the checks).

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# The zone (127.0.0.1 is this host; anything else under .example that is
# not listed here is NXDOMAIN; fail.example is forwarded to a server that
# does not exist, so its lookups fail):
#   backup.example   MX 10 mx1.backup.example (127.0.0.2), MX 20 mx2.backup.example (127.0.0.1)
#   primary.example  MX 10 mx.primary.example (127.0.0.1), MX 20 mx1.backup.example
#   notus.example    MX 10 mx1.backup.example, MX 20 mx3.notus.example (127.0.0.3)
#   nomx.example     A 127.0.0.1, no MX
#   named.example    MX 10 mx1.backup.example, MX 20 mail.example.test (= $myhostname)
#   multi.example    MX 10 mx1.backup.example, MX 10 mx4.multi.example (127.0.0.4),
#                    MX 30 mx2.backup.example
#   tmpmx.example    MX 10 mx1.backup.example, MX 20 mx.fail.example (address lookup fails)
pt_netns_dns PT_MXB_INNER ptmxb mx1.backup.example 127.0.0.2 \
    --server=/fail.example/127.0.0.9 \
    --mx-host=backup.example,mx1.backup.example,10 \
    --mx-host=backup.example,mx2.backup.example,20 \
    --host-record=mx1.backup.example,127.0.0.2 \
    --host-record=mx2.backup.example,127.0.0.1 \
    --mx-host=primary.example,mx.primary.example,10 \
    --mx-host=primary.example,mx1.backup.example,20 \
    --host-record=mx.primary.example,127.0.0.1 \
    --mx-host=notus.example,mx1.backup.example,10 \
    --mx-host=notus.example,mx3.notus.example,20 \
    --host-record=mx3.notus.example,127.0.0.3 \
    --host-record=nomx.example,127.0.0.1 \
    --mx-host=named.example,mx1.backup.example,10 \
    --mx-host=named.example,mail.example.test,20 \
    --mx-host=multi.example,mx1.backup.example,10 \
    --mx-host=multi.example,mx4.multi.example,10 \
    --mx-host=multi.example,mx2.backup.example,30 \
    --host-record=mx4.multi.example,127.0.0.4 \
    --mx-host=tmpmx.example,mx1.backup.example,10 \
    --mx-host=tmpmx.example,mx.fail.example,20

# ---- inside the namespace ------------------------------------------------------------
. "$HERE/smtpd_restrict_lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
C=$PT_CONF
NET_PRIM=$(pt_free_port)    # permit_mx_backup_networks = the primary's address
NET_OTHER=$(pt_free_port)   # ... a network without it
NET_ONE=$(pt_free_port)     # ... one of two primaries
NET_NAME=$(pt_free_port)    # ... the primary's host name
NET_FILE=$(pt_free_port)    # ... a root-only /file
ROUTE_OK=$(pt_free_port)    # allow_untrusted_routing = yes
cat >> "$C/main.cf" <<EOM
mynetworks = 192.0.2.0/24
smtpd_peername_lookup = no
relay_domains = relayed.example
smtpd_relay_restrictions =
smtpd_recipient_restrictions = permit_mx_backup, reject
defer_transports = smtp
EOM
printf '# the primary MX networks\n127.0.0.0/29\n' > "$C/mxnets"
chmod 600 "$C/mxnets"
cat >> "$C/master.cf" <<EOM
127.0.0.1:$NET_PRIM inet n - n - - smtpd -o permit_mx_backup_networks=127.0.0.2/32
127.0.0.1:$NET_OTHER inet n - n - - smtpd -o permit_mx_backup_networks=10.0.0.0/8,127.0.0.3
127.0.0.1:$NET_ONE inet n - n - - smtpd -o permit_mx_backup_networks=127.0.0.2
127.0.0.1:$NET_NAME inet n - n - - smtpd -o permit_mx_backup_networks=mx1.backup.example
127.0.0.1:$NET_FILE inet n - n - - smtpd -o permit_mx_backup_networks=$C/mxnets
127.0.0.1:$ROUTE_OK inet n - n - - smtpd -o allow_untrusted_routing=yes
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
for p in $NET_PRIM $NET_OTHER $NET_ONE $NET_NAME $NET_FILE $ROUTE_OK; do
    pt_wait_smtp "$p" 20 || pt_fail "listen_$p" "smtpd on port $p did not answer"
done

# rcpt [-p PORT] ADDRESS: the reply to RCPT TO:<ADDRESS> (last line).
rcpt() {
    local port=$PT_PORT
    if [ "$1" = -p ]; then port=$2; shift 2; fi
    pt_rdialog -p "$port" "EHLO client.example.org" "MAIL FROM:<sender@example.org>" \
        "RCPT TO:<$1>" | sed -n 's/^RCPT TO:<[^>]*> => //p'
}
# expect NAME 'REGEX' ARGS...: rcpt ARGS, the reply must match REGEX (grep -E).
expect() {
    local name=$1 pat=$2 r
    shift 2
    r=$(rcpt "$@")
    if grep -qE -- "$pat" <<<"$r"; then pt_ok "$name"; else
        pt_fail "$name" "RCPT TO:<${*: -1}>: got \"$r\", want /$pat/"; fi
}
DENIED='^554 5\.7\.1 <[^>]*>: Recipient address rejected: Access denied$'

# --- this host is a backup MX: accepted, and the mail is queued ------------------------
expect backup_accepted '^250 2\.1\.5 ' user@backup.example
expect backup_by_mx_name_accepted '^250 2\.1\.5 ' user@named.example
r=$(pt_smtp_send sender@example.org queued@backup.example)
pt_check backup_message_accepted [ "${r%% *}" = 250 ]
pt_check backup_message_queued pt_wait \
    "$PT_BUILD/sbin/postqueue -c $C -p 2>/dev/null | grep -q 'queued@backup\.example'" 20
pt_check backup_message_not_delivered_by_us pt_wait \
    "grep -q 'to=<queued@backup\.example>, .*status=deferred' '$PT_T/maillog'" 20

# --- not a backup MX: reject's 554 5.7.1 -----------------------------------------------
expect primary_rejected "$DENIED" user@primary.example
expect not_listed_rejected "$DENIED" user@notus.example
expect no_mx_rejected "$DENIED" user@nomx.example
expect nxdomain_rejected "$DENIED" user@nosuch.example
expect address_literal_rejected "$DENIED" 'user@[127.0.0.2]'
pt_check reject_logged grep -q 'reject: RCPT from .*<user@notus\.example>: Recipient address rejected: Access denied' "$PT_T/maillog"

# --- authorized destinations: ours and relay_domains ---------------------------------
expect own_domain_accepted '^250 2\.1\.5 ' alice@example.test
expect relay_domain_accepted '^250 2\.1\.5 ' anyone@relayed.example

# --- sender-specified routing is never a backup MX's business --------------------------
# (the quoted local part is "user@elsewhere.example": internally
# user@elsewhere.example@backup.example; unquoted, smtpd's parser already
# refuses that form with 501 5.1.3)
expect routed_at_refused "$DENIED" '"user@elsewhere.example"@backup.example'
expect routed_at_unquoted_refused '^5[0-9][0-9] ' user@elsewhere.example@backup.example
expect routed_percent_refused "$DENIED" user%elsewhere.example@backup.example
# ... because of the routing: with allow_untrusted_routing = yes it passes
expect routed_allowed_when_trusted '^250 2\.1\.5 ' -p "$ROUTE_OK" user%elsewhere.example@backup.example

# --- DNS failures never permit: a later reject becomes 450 4.4.4 ----------------------
expect mx_servfail_deferred \
    '^450 4\.4\.4 <user@fail\.example>: Recipient address rejected: Unable to look up mail exchanger information: ' \
    user@fail.example
expect mx_host_servfail_deferred \
    '^450 4\.4\.4 <user@tmpmx\.example>: Recipient address rejected: Unable to look up mail exchanger host mx\.fail\.example: ' \
    user@tmpmx.example

# --- permit_mx_backup_networks ---------------------------------------------------------
expect networks_primary_listed_accepted '^250 2\.1\.5 ' -p "$NET_PRIM" user@backup.example
expect networks_primary_not_listed_rejected "$DENIED" -p "$NET_OTHER" user@backup.example
# both primaries (preference 10) must match: 127.0.0.4 does not
expect networks_one_of_two_primaries_rejected "$DENIED" -p "$NET_ONE" user@multi.example
expect networks_host_name_accepted '^250 2\.1\.5 ' -p "$NET_NAME" user@backup.example
expect networks_file_accepted '^250 2\.1\.5 ' -p "$NET_FILE" user@multi.example
# the list does not make a non-backup domain acceptable
expect networks_primary_still_rejected "$DENIED" -p "$NET_FILE" user@primary.example

pt_done
