#!/bin/bash
# smtp_mx_test.sh - the smtp delivery agent follows real MX records
#
# A private network namespace holds everything: a dnsmasq serving the test
# zone on 127.0.0.1:53 (the namespace's /etc/resolv.conf points at it,
# bind-mounted by `ip netns exec`), smtp-sink "remote" servers on 127.0.0.2
# and up, port 25, and a Postern instance. Checks that mail goes to the
# preferred MX, falls back to the next one in preference order when the first
# refuses the connection or defers the recipient, that a domain without MX
# records is reached through its address record, and that a domain that does
# not exist bounces with the name service error, and that
# smtp_address_preference picks the IPv4 or the IPv6 address of a dual-stack MX,
# and that an MX host at one of our own addresses (inet_interfaces), whatever
# its name, cuts the MX list: the best MX being us bounces "loops back to
# myself", a backup MX being us is never tried.
#
# The script runs twice (pt_netns_dns in lib.sh): outside (creates the namespace, /etc/netns/NAME and
# dnsmasq, cleans them up on any exit) and inside (PT_MX_INNER=1: the
# instance, the peers and the checks). Skips only when `ip netns add` is not
# permitted (e.g. an unprivileged container).

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# The zone. mxtest.example: two MX hosts, preference 10 and 20.
# grey.example: a preferred MX that defers recipients, then mx2.
# amx.example: an address record and no MX. Anything else under
# .example is NXDOMAIN (--local), nothing is forwarded.
pt_netns_dns PT_MX_INNER ptmx mx1.mxtest.example 127.0.0.2 \
    --mx-host=mxtest.example,mx1.mxtest.example,10 \
    --mx-host=mxtest.example,mx2.mxtest.example,20 \
    --host-record=mx1.mxtest.example,127.0.0.2 \
    --host-record=mx2.mxtest.example,127.0.0.3 \
    --mx-host=grey.example,mx4.grey.example,10 \
    --mx-host=grey.example,mx2.mxtest.example,20 \
    --host-record=mx4.grey.example,127.0.0.4 \
    --host-record=amx.example,127.0.0.5 \
    --mx-host=pref4.example,mxd.dual.example,10 \
    --mx-host=pref6.example,mxd.dual.example,10 \
    --host-record=mxd.dual.example,127.0.0.6,::1 \
    --mx-host=selfbest.example,me.selfbest.example,10 \
    --host-record=me.selfbest.example,127.0.0.1 \
    --mx-host=backup.example,mx9.backup.example,10 \
    --mx-host=backup.example,me.backup.example,20 \
    --host-record=mx9.backup.example,127.0.0.9 \
    --host-record=me.backup.example,127.0.0.1 \
    --mx-host=bal.example,mxa1.bal.example,10 --mx-host=bal.example,mxa2.bal.example,10 \
    --mx-host=bal.example,mxa3.bal.example,10 --mx-host=bal.example,mxa4.bal.example,10 \
    --mx-host=bal.example,mxa5.bal.example,10 --mx-host=bal.example,mxb.bal.example,20 \
    --mx-host=nobal.example,mxa1.bal.example,10 --mx-host=nobal.example,mxa2.bal.example,10 \
    --mx-host=nobal.example,mxa3.bal.example,10 --mx-host=nobal.example,mxa4.bal.example,10 \
    --mx-host=nobal.example,mxa5.bal.example,10 --mx-host=nobal.example,mxb.bal.example,20 \
    --host-record=mxa1.bal.example,127.0.0.21 --host-record=mxa2.bal.example,127.0.0.22 \
    --host-record=mxa3.bal.example,127.0.0.23 --host-record=mxa4.bal.example,127.0.0.24 \
    --host-record=mxa5.bal.example,127.0.0.25 --host-record=mxb.bal.example,::1

# ---- inside the namespace ------------------------------------------------------------

pt_setup_users
pt_instance
T=$PT_T
SINK=$PT_BUILD/sbin/smtp-sink
mkdir -p "$T/dump-mx1" "$T/dump-mx2" "$T/dump-amx" "$T/dump-d4" "$T/dump-d6"
# Case 6: two smtp transports that differ only in smtp_address_preference.
printf 'pref4.example smtp4:\npref6.example smtp6:\nnobal.example nobal:\n' > "$PT_CONF/transport"
"$PT_BUILD/sbin/postmap" -c "$PT_CONF" "$PT_CONF/transport"
printf 'transport_maps = hash:%s/transport\n' "$PT_CONF" >> "$PT_CONF/main.cf"
printf '%s unix - - n - - smtp\n  -o smtp_address_preference=%s\n' \
    smtp4 ipv4 smtp6 ipv6 >> "$PT_CONF/master.cf"
printf 'nobal unix - - n - - smtp\n  -o smtp_balance_inet_protocols=no\n' >> "$PT_CONF/master.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }
# Files (messages) in a dump directory, or those naming a recipient.
dump_count() { ls "$1" 2>/dev/null | grep -cv '^\.'; }
dump_has_rcpt() { grep -qs "^X-Rcpt-Args: <$2>" "$1"/*; }
# Waits until ADDR:25 greets with 220.
wait_peer() { pt_wait_smtp 25 20 "$1"; }

pt_check netns_resolver_is_dnsmasq grep -qx 'nameserver 127.0.0.1' /etc/resolv.conf

# --- 1. the preferred MX (mx1, 127.0.0.2) refuses connections: mx2 gets the mail --------
"$SINK" -d "$T/dump-mx2/" 127.0.0.3:25 10 >"$T/sink-mx2.log" 2>&1 & PT_PIDS+=($!)
pt_check mx2_listening wait_peer 127.0.0.3
reply=$(pt_smtp_send alice@example.test a@mxtest.example)
pt_check fallback_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<a@mxtest\.example>, .*status=" 30
pt_check fallback_tried_mx1_first log_has "connect to mx1\.mxtest\.example\[127\.0\.0\.2\]:25: Connection refused"
pt_check fallback_sent_via_mx2 log_has "to=<a@mxtest\.example>, relay=mx2\.mxtest\.example\[127\.0\.0\.3\]:25, .*dsn=2\.0\.0, status=sent \(250 "
pt_check fallback_mx2_received dump_has_rcpt "$T/dump-mx2" a@mxtest.example
# the refusal is logged before the delivery
first_refused=$(grep -n 'connect to mx1\.mxtest\.example\[127\.0\.0\.2\]:25: Connection refused' "$T/maillog" | head -1 | cut -d: -f1)
first_sent=$(grep -n 'to=<a@mxtest\.example>, .*status=sent' "$T/maillog" | head -1 | cut -d: -f1)
pt_check fallback_in_preference_order [ "${first_refused:-999999}" -lt "${first_sent:-0}" ]

# --- 2. both MX hosts up: the preferred one (preference 10) gets the mail ---------------
"$SINK" -d "$T/dump-mx1/" 127.0.0.2:25 10 >"$T/sink-mx1.log" 2>&1 & PT_PIDS+=($!)
pt_check mx1_listening wait_peer 127.0.0.2
mx2_before=$(dump_count "$T/dump-mx2")
reply=$(pt_smtp_send alice@example.test b@mxtest.example)
pt_check preferred_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<b@mxtest\.example>, .*status=" 30
pt_check preferred_sent_via_mx1 log_has "to=<b@mxtest\.example>, relay=mx1\.mxtest\.example\[127\.0\.0\.2\]:25, .*dsn=2\.0\.0, status=sent \(250 "
pt_check preferred_mx1_received dump_has_rcpt "$T/dump-mx1" b@mxtest.example
pt_check preferred_mx2_untouched [ "$(dump_count "$T/dump-mx2")" = "$mx2_before" ]

# --- 3. the preferred MX defers the recipient (450): the next MX takes it ---------------
"$SINK" -c -r RCPT -b "450 4.7.1 <g@grey.example>: Recipient address rejected: try again later" \
    127.0.0.4:25 10 >"$T/sink-mx4.log" 2>&1 & PT_PIDS+=($!)
pt_check mx4_listening wait_peer 127.0.0.4
reply=$(pt_smtp_send alice@example.test g@grey.example)
pt_check soft_fallback_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<g@grey\.example>, .*status=" 30
pt_check soft_fallback_sent_via_mx2 log_has "to=<g@grey\.example>, relay=mx2\.mxtest\.example\[127\.0\.0\.3\]:25, .*status=sent \(250 "
pt_check soft_fallback_mx2_received dump_has_rcpt "$T/dump-mx2" g@grey.example
# mx4 had a session of its own (the probe by wait_peer plus the delivery attempt)
pt_check soft_fallback_mx4_tried grep -Eq 'sess=([2-9]|[1-9][0-9])' "$T/sink-mx4.log"
pt_check soft_fallback_not_deferred [ "$(grep -c 'to=<g@grey\.example>, .*status=deferred' "$T/maillog")" = 0 ]

# --- 4. no MX records, an address record: mail goes to that address ---------------------
"$SINK" -d "$T/dump-amx/" 127.0.0.5:25 10 >"$T/sink-amx.log" 2>&1 & PT_PIDS+=($!)
pt_check amx_listening wait_peer 127.0.0.5
reply=$(pt_smtp_send alice@example.test c@amx.example)
pt_check a_record_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<c@amx\.example>, .*status=" 30
pt_check a_record_sent log_has "to=<c@amx\.example>, relay=amx\.example\[127\.0\.0\.5\]:25, .*dsn=2\.0\.0, status=sent \(250 "
pt_check a_record_peer_received dump_has_rcpt "$T/dump-amx" c@amx.example

# --- 5. the domain does not exist: bounced with the name service error ------------------
reply=$(pt_smtp_send alice@example.test d@nxdomain.example)
pt_check nxdomain_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<d@nxdomain\.example>, .*status=" 30
pt_check nxdomain_bounced log_has "to=<d@nxdomain\.example>, relay=none, .*dsn=5\.4\.4, status=bounced \(Host or domain name not found\. Name service error for name=nxdomain\.example type=MX: Host not found\)"
pt_wait "grep -qs 'd@nxdomain.example' '$T/mail/alice'" 30
pt_check nxdomain_dsn_to_sender grep -q 'Final-Recipient: rfc822; d@nxdomain.example' "$T/mail/alice"

# --- 6. smtp_address_preference: an MX host with an IPv4 and an IPv6 address -----------
# mxd.dual.example is 127.0.0.6 and ::1, a sink on each: the transport that
# prefers ipv4 reaches the first, the one that prefers ipv6 the second.
"$SINK" -d "$T/dump-d4/" 127.0.0.6:25 10 >"$T/sink-d4.log" 2>&1 & PT_PIDS+=($!)
"$SINK" -6 -d "$T/dump-d6/" '[::1]:25' 10 >"$T/sink-d6.log" 2>&1 & PT_PIDS+=($!)
pt_check d4_listening wait_peer 127.0.0.6
pt_check d6_listening wait_peer ::1
reply=$(pt_smtp_send alice@example.test e@pref4.example)
pt_check pref4_accepted [ "${reply%% *}" = 250 ]
reply=$(pt_smtp_send alice@example.test f@pref6.example)
pt_check pref6_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<e@pref4\.example>, .*status=" 30
wait_log "to=<f@pref6\.example>, .*status=" 30
pt_check pref4_sent_over_ipv4 log_has "to=<e@pref4\.example>, relay=mxd\.dual\.example\[127\.0\.0\.6\]:25, .*status=sent"
pt_check pref6_sent_over_ipv6 log_has "to=<f@pref6\.example>, relay=mxd\.dual\.example\[::1\]:25, .*status=sent"
pt_check pref4_received_by_v4_sink dump_has_rcpt "$T/dump-d4" e@pref4.example
pt_check pref6_received_by_v6_sink dump_has_rcpt "$T/dump-d6" f@pref6.example

# --- 7. an MX host at our own address (127.0.0.1, inet_interfaces) ------------------
# me.selfbest.example is not $myhostname, but its address is ours: the best
# MX is this host, so the mail would loop.
reply=$(pt_smtp_send alice@example.test h@selfbest.example)
pt_check self_best_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<h@selfbest\.example>, .*status=" 30
pt_check self_best_bounced log_has "to=<h@selfbest\.example>, relay=none, .*dsn=5\.4\.6, status=bounced \(mail for selfbest\.example loops back to myself\)"
pt_check self_best_never_connected bash -c '! grep -q "connect to me\.selfbest\.example" "$1"' _ "$T/maillog"
# backup.example: we are the MX of preference 20; the preferred one (10,
# 127.0.0.9) refuses connections. The mail waits for it, and never goes
# to ourselves.
reply=$(pt_smtp_send alice@example.test i@backup.example)
pt_check self_backup_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<i@backup\.example>, .*status=" 30
pt_check self_backup_deferred log_has "to=<i@backup\.example>, relay=none, .*status=deferred \(connect to mx9\.backup\.example\[127\.0\.0\.9\]:25: Connection refused\)"
pt_check self_backup_never_tried bash -c '! grep -q "me\.backup\.example" "$1"' _ "$T/maillog"

# --- 8. smtp_balance_inet_protocols: five IPv4 MX hosts (nothing listens)
# and a worse one with only ::1 (the IPv6 sink of case 6), more than
# smtp_mx_address_limit (5) together. Balanced (the default), the list
# keeps ::1 and the mail gets through; with the setting off, the five IPv4
# addresses fill the list and the mail waits.
reply=$(pt_smtp_send alice@example.test j@bal.example)
pt_check balance_accepted [ "${reply%% *}" = 250 ]
reply=$(pt_smtp_send alice@example.test k@nobal.example)
pt_check nobalance_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<j@bal\.example>, .*status=" 30
wait_log "to=<k@nobal\.example>, .*status=" 30
pt_check balance_sent_over_ipv6 log_has "to=<j@bal\.example>, relay=mxb\.bal\.example\[::1\]:25, .*status=sent"
pt_check balance_received_by_v6_sink dump_has_rcpt "$T/dump-d6" j@bal.example
pt_check nobalance_deferred log_has "to=<k@nobal\.example>, relay=none, .*status=deferred \(connect to mxa[1-5]\.bal\.example\[127\.0\.0\.2[1-5]\]:25: Connection refused\)"
no_v6_k() { ! dump_has_rcpt "$T/dump-d6" k@nobal.example; }
pt_check nobalance_never_ipv6 no_v6_k

pt_done
