#!/bin/bash
# dns_reply_filter_test.sh - *_dns_reply_filter and smtp_defer_if_no_mx_address_found
#
# A private network namespace with a dnsmasq serving the test zone (see
# pt_netns_dns in lib.sh), smtp-sink "remote" servers on 127.0.0.2 and up,
# and a Postern instance with smtp_dns_reply_filter and
# smtpd_dns_reply_filter (regexp: tables). Checks:
#   smtp:  an IGNOREd MX record sends the mail to the next MX although the
#          first is up; an IGNOREd A record of an MX host is never
#          connected to; a filter that drops every MX record defers (4.7.0);
#          an unknown action is warned about and defers the mail;
#   smtpd: check_sender_mx_access rejects a sender domain by its MX host,
#          and stops rejecting when the filter drops the MX record or the
#          MX host's address record; reject_unknown_sender_domain does not
#          reject when the filter dropped the MX records (a warning instead);
#   smtp_defer_if_no_mx_address_found: MX hosts without addresses bounce
#          (5.4.4) by default and are deferred (4.4.4, mail still queued)
#          with yes.
# The script runs twice (pt_netns_dns): outside (namespace, dnsmasq, clean
# up) and inside (PT_DRF_INNER=1: instance and checks). Skips only when
# network namespaces cannot be used here.

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# The zone (anything else under .example is NXDOMAIN):
#   filt.example      MX 10 mx1.filt.example (127.0.0.2), 20 mx2.filt.example (127.0.0.3)
#   allmx.example     MX 10 mxa.allmx.example (127.0.0.2): the filter drops it
#   addrf.example     MX 10 mxf.addrf.example, A 127.0.0.8 (dropped) and 127.0.0.3
#   badact.example    MX 10 mx2.filt.example: the filter answers FROBNICATE
#   nomxaddr.example, nomxaddr2.example  MX 10 ghost.nomxaddr.example (no address)
#   badmx.example     MX mx.badmx.example (127.0.0.44, listed in the cidr table)
#   hidden.example    MX mx.badmx.example: smtpd's filter drops the MX record
#   mxaddr.example    MX mx.mxaddr.example (127.0.0.44): smtpd's filter drops its A record
pt_netns_dns PT_DRF_INNER ptdrf mx1.filt.example 127.0.0.2 \
    --mx-host=filt.example,mx1.filt.example,10 \
    --mx-host=filt.example,mx2.filt.example,20 \
    --host-record=mx1.filt.example,127.0.0.2 \
    --host-record=mx2.filt.example,127.0.0.3 \
    --mx-host=allmx.example,mxa.allmx.example,10 \
    --host-record=mxa.allmx.example,127.0.0.2 \
    --mx-host=addrf.example,mxf.addrf.example,10 \
    --address=/mxf.addrf.example/127.0.0.8 \
    --address=/mxf.addrf.example/127.0.0.3 \
    --mx-host=badact.example,mx2.filt.example,10 \
    --mx-host=nomxaddr.example,ghost.nomxaddr.example,10 \
    --mx-host=nomxaddr2.example,ghost.nomxaddr.example,10 \
    --mx-host=badmx.example,mx.badmx.example,10 \
    --host-record=mx.badmx.example,127.0.0.44 \
    --mx-host=hidden.example,mx.badmx.example,10 \
    --mx-host=mxaddr.example,mx.mxaddr.example,10 \
    --host-record=mx.mxaddr.example,127.0.0.44

# ---- inside the namespace ------------------------------------------------------------

pt_setup_users
pt_instance
T=$PT_T
C=$PT_CONF
SINK=$PT_BUILD/sbin/smtp-sink
mkdir -p "$T/dump-mx1" "$T/dump-mx2"

cat > "$C/smtp_dns_filter" <<'EOT'
/^filt\.example\. [0-9]+ IN MX 10 mx1\.filt\.example\.$/    IGNORE
/^allmx\.example\. [0-9]+ IN MX /                           ignore all of them
/^mxf\.addrf\.example\. [0-9]+ IN A 127\.0\.0\.8$/          IGNORE
/^badact\.example\. /                                       FROBNICATE
EOT
cat > "$C/smtpd_dns_filter" <<'EOT'
/^hidden\.example\. [0-9]+ IN MX /                          IGNORE
/^mx\.mxaddr\.example\. [0-9]+ IN A 127\.0\.0\.44$/         IGNORE
EOT
printf '127.0.0.44/32 REJECT bad mail server\n' > "$C/mx.cidr"
printf 'nomxaddr2.example smtpdefer:\n' > "$C/transport"
cat >> "$C/main.cf" <<EOM
smtp_dns_reply_filter = regexp:$C/smtp_dns_filter
smtpd_dns_reply_filter = regexp:$C/smtpd_dns_filter
smtpd_sender_restrictions = check_sender_access inline:{ example.test=OK },
    check_sender_mx_access cidr:$C/mx.cidr, reject_unknown_sender_domain
transport_maps = texthash:$C/transport
EOM
printf 'smtpdefer unix - - n - - smtp\n  -o smtp_defer_if_no_mx_address_found=yes\n' \
    >> "$C/master.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
log_lacks() { ! grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
wait_log() { pt_wait "log_has '$1'" "${2:-30}"; }
dump_has_rcpt() { grep -qs "^X-Rcpt-Args: <$2>" "$1"/*; }
in_queue() { "$PT_BUILD/sbin/postqueue" -c "$C" -p 2>/dev/null | grep -q -- "$1"; }
wait_peer() {
    python3 - "$1" <<'EOP'
import socket, sys, time
end = time.time() + 20
while time.time() < end:
    try:
        s = socket.create_connection((sys.argv[1], 25), timeout=2)
        line = s.makefile("rb").readline()
        s.sendall(b"QUIT\r\n"); s.close()
        if line.startswith(b"220"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOP
}

pt_check netns_resolver_is_dnsmasq grep -qx 'nameserver 127.0.0.1' /etc/resolv.conf
"$SINK" -d "$T/dump-mx1/" 127.0.0.2:25 10 >"$T/sink-mx1.log" 2>&1 & PT_PIDS+=($!)
"$SINK" -d "$T/dump-mx2/" 127.0.0.3:25 10 >"$T/sink-mx2.log" 2>&1 & PT_PIDS+=($!)
pt_check mx1_listening wait_peer 127.0.0.2
pt_check mx2_listening wait_peer 127.0.0.3

# --- 1. smtp: the preferred MX record is IGNOREd: mx2 gets the mail although mx1 is up ----
reply=$(pt_smtp_send alice@example.test a@filt.example)
pt_check mx_filter_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<a@filt\.example>, .*status=" 30
pt_check mx_filter_sent_via_mx2 log_has "to=<a@filt\.example>, relay=mx2\.filt\.example\[127\.0\.0\.3\]:25, .*status=sent"
pt_check mx_filter_mx2_received dump_has_rcpt "$T/dump-mx2" a@filt.example
pt_check mx_filter_mx1_untouched bash -c '! grep -qs "^X-Rcpt-Args: <a@filt.example>" "$1"/*' _ "$T/dump-mx1"
pt_check mx_filter_logged log_has "ignoring DNS RR: filt\.example\. [0-9]+ IN MX 10 mx1\.filt\.example\."

# --- 2. smtp: every MX record dropped: deferred 4.7.0, not sent to the domain's address --
reply=$(pt_smtp_send alice@example.test b@allmx.example)
pt_check allmx_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<b@allmx\.example>, .*status=" 30
pt_check allmx_deferred log_has "to=<b@allmx\.example>, relay=none, .*dsn=4\.7\.0, status=deferred \(.*DNS reply filter drops all results"
pt_check allmx_still_queued in_queue b@allmx.example

# --- 3. smtp: an IGNOREd address record of an MX host is never connected to -------------
reply=$(pt_smtp_send alice@example.test c@addrf.example)
pt_check addr_filter_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<c@addrf\.example>, .*status=" 30
pt_check addr_filter_sent_via_other log_has "to=<c@addrf\.example>, relay=mxf\.addrf\.example\[127\.0\.0\.3\]:25, .*status=sent"
pt_check addr_filter_logged log_has "ignoring DNS RR: mxf\.addrf\.example\. [0-9]+ IN A 127\.0\.0\.8"
pt_check addr_filter_never_connected log_lacks "127\.0\.0\.8\]"

# --- 4. smtp: an unknown filter action: warned, the lookup fails, the mail waits -------
reply=$(pt_smtp_send alice@example.test d@badact.example)
pt_check badact_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<d@badact\.example>, .*status=" 30
pt_check badact_warned log_has "warning: .*smtp_dns_reply_filter: unknown DNS filter action: \"FROBNICATE\""
pt_check badact_deferred log_has "to=<d@badact\.example>, relay=none, .*status=deferred"
pt_check badact_not_sent bash -c '! grep -qs "^X-Rcpt-Args: <d@badact.example>" "$1"/*' _ "$T/dump-mx2"

# --- 5. MX hosts without addresses: bounced by default, deferred with the setting -------
reply=$(pt_smtp_send alice@example.test e@nomxaddr.example)
pt_check nomxaddr_accepted [ "${reply%% *}" = 250 ]
reply=$(pt_smtp_send alice@example.test f@nomxaddr2.example)
pt_check nomxaddr2_accepted [ "${reply%% *}" = 250 ]
wait_log "to=<e@nomxaddr\.example>, .*status=" 30
wait_log "to=<f@nomxaddr2\.example>, .*status=" 30
pt_check nomxaddr_bounced log_has "to=<e@nomxaddr\.example>, relay=none, .*dsn=5\.4\.4, status=bounced \(Host or domain name not found\. Name service error for name=ghost\.nomxaddr\.example type=A: Host not found\)"
pt_check nomxaddr_warned log_has "warning: .*no MX host for nomxaddr\.example has a valid address record"
pt_check nomxaddr2_deferred log_has "to=<f@nomxaddr2\.example>, relay=none, .*dsn=4\.4\.4, status=deferred \(Host or domain name not found\. Name service error for name=ghost\.nomxaddr\.example type=A: Host not found\)"
pt_check nomxaddr2_not_bounced log_lacks "to=<f@nomxaddr2\.example>, .*status=bounced"
pt_check nomxaddr2_still_queued in_queue f@nomxaddr2.example

# --- 6. smtpd: check_sender_mx_access with and without the filter ------------------------
reply=$(pt_smtp_send s@badmx.example alice@example.test)
pt_check sender_mx_rejected [ "${reply%% *}" = 554 ]
pt_check sender_mx_reject_text grep -q "bad mail server" <<<"$reply"
reply=$(pt_smtp_send s@hidden.example alice@example.test)
pt_check filtered_mx_accepted [ "${reply%% *}" = 250 ]
pt_check filtered_mx_logged log_has "ignoring DNS RR: hidden\.example\. [0-9]+ IN MX 10 mx\.badmx\.example\."
pt_check filtered_mx_unknown_domain_warned log_has "warning: .*hidden\.example: MX or address lookup error: DNS reply filter drops all results"
reply=$(pt_smtp_send s@mxaddr.example alice@example.test)
pt_check filtered_mx_addr_accepted [ "${reply%% *}" = 250 ]
pt_check filtered_mx_addr_logged log_has "ignoring DNS RR: mx\.mxaddr\.example\. [0-9]+ IN A 127\.0\.0\.44"

pt_done
