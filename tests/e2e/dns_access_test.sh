#!/bin/bash
# dns_access_test.sh - check_*_{a,mx,ns}_access against real DNS
#
# A private network namespace with a dnsmasq serving the test zone (see
# pt_netns_dns in lib.sh) and a Postern instance whose restriction lists use
# the client, reverse client, HELO, sender and recipient variants of
# check_*_mx_access, check_*_ns_access and check_*_a_access with a texthash:
# table (host names with parent-domain matching, a partial address, an OK
# entry, a DUNNO entry) and a cidr: table. Checks the replies (code and
# enhanced status code) of real SMTP sessions: MX host names and addresses,
# the implicit MX of a domain without MX records, a null MX, every MX host
# examined, NS hosts (also those of a parent zone), address literals, the
# _a_ variants looking at addresses only, that an OK result never permits
# (Postfix answers "451 4.3.5 Server configuration error" and logs why), and
# that a DNS server failure leaves the restriction without effect (the next
# restriction still rejects: a failure never permits).
#
# The script runs twice (pt_netns_dns): outside (namespace, dnsmasq, clean
# up) and inside (PT_DNSA_INNER=1: instance and checks). Skips only when
# network namespaces cannot be used here.

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"

# dnsmasq has no NS record option outside its authoritative mode: NS
# records are given as raw data (--dns-rr), the target in DNS wire form.
wire_name() {
    python3 -c 'import sys
print("".join("%02x" % len(l) + l.encode().hex() for l in sys.argv[1].split(".")) + "00")' "$1"
}

# The zone (anything else under .example is NXDOMAIN, nothing is forwarded
# except servfail.example, whose server answers SERVFAIL):
#   bad-mx.example      MX mx.spamhost.example (127.0.0.9; the table lists
#                       spamhost.example, so the MX host matches by parent)
#   good.example        MX mx.good.example (127.0.0.50, not listed)
#   nomx.example        A 127.0.66.5 only (the table lists 127.0.66)
#   cidrmx.example      MX mx.cidrhost.example (127.0.77.7, in the cidr table)
#   okmx.example        MX mx.okhost.example (listed OK)
#   dunnomx.example     MX mx.dunno.example (listed DUNNO; its address
#                       127.0.66.9 would match 127.0.66)
#   twomx.example       MX mx.good.example (10) and mx.spamhost.example (20)
#   nullmx.example      MX 0 . (RFC 7505)
#   nsdom.example       NS ns.badns.example (listed by name)
#   sub.nsdom.example   A only: its name servers are those of nsdom.example
#   goodns.example      NS ns.good.example, MX mx.good.example, A 127.0.0.56
#   listed.example      listed by name itself; A 127.0.0.70, MX mx.good.example
#   acidr.example       A 127.0.77.8 (cidr), MX mx.good.example
#   stampmx.example     MX mx.stamphost.example (listed with an
#                       all-numerical value, which means OK)
#   stamped.example     MX mx.spamhost.example, but check_sender_access
#                       permits it first (all-numerical value)
#   discardmx.example   MX mx.discardhost.example (listed DISCARD)
#   mail.bad-mx.example 127.0.0.20 (A and PTR), MX mx.spamhost.example
#   cidrclient.example  127.0.77.20 (A and PTR)
#   127.0.0.22          PTR fake.bad-mx.example (no A: unverified),
#                       which has MX mx.spamhost.example
pt_netns_dns PT_DNSA_INNER ptdnsa mx.spamhost.example 127.0.0.9 \
    --local=/test/ --local=/in-addr.arpa/ \
    --mx-host=bad-mx.example,mx.spamhost.example,10 \
    --host-record=mx.spamhost.example,127.0.0.9 \
    --mx-host=good.example,mx.good.example,10 \
    --host-record=mx.good.example,127.0.0.50 \
    --host-record=nomx.example,127.0.66.5 \
    --mx-host=cidrmx.example,mx.cidrhost.example,10 \
    --host-record=mx.cidrhost.example,127.0.77.7 \
    --mx-host=okmx.example,mx.okhost.example,10 \
    --host-record=mx.okhost.example,127.0.0.60 \
    --mx-host=dunnomx.example,mx.dunno.example,10 \
    --host-record=mx.dunno.example,127.0.66.9 \
    --mx-host=twomx.example,mx.good.example,10 \
    --mx-host=twomx.example,mx.spamhost.example,20 \
    --dns-rr=nullmx.example,15,000000 \
    --dns-rr=nsdom.example,2,"$(wire_name ns.badns.example)" \
    --host-record=ns.badns.example,127.0.0.53 \
    --host-record=sub.nsdom.example,127.0.0.54 \
    --dns-rr=goodns.example,2,"$(wire_name ns.good.example)" \
    --host-record=ns.good.example,127.0.0.55 \
    --host-record=goodns.example,127.0.0.56 \
    --mx-host=goodns.example,mx.good.example,10 \
    --host-record=listed.example,127.0.0.70 \
    --mx-host=listed.example,mx.good.example,10 \
    --host-record=acidr.example,127.0.77.8 \
    --mx-host=acidr.example,mx.good.example,10 \
    --mx-host=stampmx.example,mx.stamphost.example,10 \
    --host-record=mx.stamphost.example,127.0.0.61 \
    --mx-host=stamped.example,mx.spamhost.example,10 \
    --mx-host=discardmx.example,mx.discardhost.example,10 \
    --host-record=mx.discardhost.example,127.0.0.62 \
    --host-record=mail.bad-mx.example,127.0.0.20 \
    --mx-host=mail.bad-mx.example,mx.spamhost.example,10 \
    --host-record=cidrclient.example,127.0.77.20 \
    --ptr-record=22.0.0.127.in-addr.arpa,fake.bad-mx.example \
    --mx-host=fake.bad-mx.example,mx.spamhost.example,10 \
    --server=/servfail.example/127.0.0.9#5353

# ---- inside the namespace ------------------------------------------------------------

. "$HERE/smtpd_restrict_lib.sh"
pt_setup_users
pt_instance
T=$PT_T
C=$PT_CONF

# A name server that answers every query with SERVFAIL (dnsmasq forwards
# servfail.example to it): a DNS failure, at once.
python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.9", 5353))
while True:
    q, peer = s.recvfrom(4096)
    if len(q) >= 12:
        s.sendto(q[:2] + bytes([0x81, 0x82]) + q[4:6] + bytes(4) + q[10:12] + q[12:], peer)
' & PT_PIDS+=($!)

cat > "$C/dnsaccess" <<'EOT'
spamhost.example    REJECT bad mail server
ns.badns.example    REJECT bad name server
mx.okhost.example   OK
mx.stamphost.example 1234567890
mx.discardhost.example DISCARD
mx.dunno.example    DUNNO
listed.example      REJECT listed by name
127.0.66            554 5.7.2 listed network
EOT
printf '127.0.77.0/24 REJECT cidr listed\n' > "$C/dnsaccess.cidr"
printf 'servfail.example mxstrict\nstamped.example 20261206\n' > "$C/route"
A=texthash:$C/dnsaccess
B=cidr:$C/dnsaccess.cidr
cat >> "$C/main.cf" <<EOM
mynetworks = 127.0.0.99/32
relay_domains = bad-mx.example, good.example, nsdom.example
smtpd_restriction_classes = mxstrict
mxstrict = check_sender_mx_access $A, reject
smtpd_client_restrictions = check_client_mx_access $A,
    check_reverse_client_hostname_mx_access $A, check_client_a_access $B
smtpd_helo_restrictions = check_helo_a_access $A, check_helo_mx_access $A,
    check_helo_ns_access $A
smtpd_sender_restrictions = check_sender_access texthash:$C/route,
    check_sender_mx_access $A, check_sender_mx_access $B, check_sender_ns_access $A,
    check_sender_a_access $B
smtpd_recipient_restrictions = check_recipient_mx_access $A, check_recipient_ns_access $A,
    check_recipient_a_access $B
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

log_has() { grep -Eq -- "$1" "$T/maillog" 2>/dev/null; }
# A session with a clean HELO name (goodns.example: every check passes).
mail_from() { pt_rdialog "EHLO goodns.example" "MAIL FROM:<$1>" "RCPT TO:<${2:-alice@example.test}>"; }
rcpt_line() { echo "^RCPT TO:<${1:-alice@example\.test}> => $2\$"; }

pt_check netns_resolver_is_dnsmasq grep -qx 'nameserver 127.0.0.1' /etc/resolv.conf

# --- sender: MX hosts ---------------------------------------------------------------
out=$(mail_from x@bad-mx.example)
pt_expect sender_mx_host_by_parent_domain \
    "$(rcpt_line '' '554 5\.7\.1 <x@bad-mx\.example>: Sender address rejected: bad mail server')" "$out"
out=$(mail_from x@good.example)
pt_expect sender_mx_unlisted_accepted "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"
out=$(mail_from x@nomx.example)
pt_expect sender_implicit_mx_partial_address \
    "$(rcpt_line '' '554 5\.7\.2 <x@nomx\.example>: Sender address rejected: listed network')" "$out"
out=$(mail_from x@cidrmx.example)
pt_expect sender_mx_address_cidr \
    "$(rcpt_line '' '554 5\.7\.1 <x@cidrmx\.example>: Sender address rejected: cidr listed')" "$out"
out=$(mail_from x@twomx.example)
pt_expect sender_every_mx_examined \
    "$(rcpt_line '' '554 5\.7\.1 <x@twomx\.example>: Sender address rejected: bad mail server')" "$out"
out=$(mail_from x@dunnomx.example)
pt_expect sender_mx_dunno_name_decides "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"
out=$(mail_from x@nullmx.example)
pt_expect sender_null_mx_nothing_to_check "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"
out=$(mail_from '')
pt_expect sender_null_sender_skipped "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"
out=$(mail_from 'x@[127.0.66.1]')
pt_expect sender_address_literal_is_its_mx \
    "$(rcpt_line '' '554 5\.7\.2 <x@\[127\.0\.66\.1\]>: Sender address rejected: listed network')" "$out"

# --- sender: OK is refused, a DNS failure does not permit -------------------------------
out=$(mail_from x@okmx.example)
pt_expect sender_mx_ok_is_config_error "$(rcpt_line '' '451 4\.3\.5 Server configuration error')" "$out"
pt_check sender_mx_ok_logged log_has 'warning: restriction check_sender_mx_access returns OK for x@okmx\.example'
out=$(mail_from x@stampmx.example)
pt_expect sender_mx_all_numerical_is_ok_refused \
    "$(rcpt_line '' '451 4\.3\.5 Server configuration error')" "$out"
pt_check sender_mx_all_numerical_logged log_has 'warning: restriction check_sender_mx_access returns OK for x@stampmx\.example'
# (the same value in check_sender_access permits, as access(5) says: the
# sender list ends before check_sender_mx_access would reject)
out=$(mail_from x@stamped.example)
pt_expect all_numerical_access_result_permits "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"
# DISCARD is no permit to be refused: the message is accepted and dropped
out=$(mail_from x@discardmx.example)
pt_expect sender_mx_discard_allowed "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"
pt_check sender_mx_discard_logged log_has 'discard: RCPT from .*<x@discardmx\.example>: Sender address triggers DISCARD action'
out=$(mail_from x@servfail.example)
pt_expect sender_dns_failure_next_restriction_rejects \
    "$(rcpt_line '' '554 5\.7\.1 <x@servfail\.example>: Sender address rejected: Access denied')" "$out"
pt_check sender_dns_failure_logged log_has 'warning: Unable to look up MX host for servfail\.example'

# --- sender: NS hosts, A records ----------------------------------------------------------
out=$(mail_from x@nsdom.example)
pt_expect sender_ns_host_by_name \
    "$(rcpt_line '' '554 5\.7\.1 <x@nsdom\.example>: Sender address rejected: bad name server')" "$out"
out=$(mail_from x@sub.nsdom.example)
pt_expect sender_ns_of_parent_zone \
    "$(rcpt_line '' '554 5\.7\.1 <x@sub\.nsdom\.example>: Sender address rejected: bad name server')" "$out"
out=$(mail_from x@acidr.example)
pt_expect sender_a_address_cidr \
    "$(rcpt_line '' '554 5\.7\.1 <x@acidr\.example>: Sender address rejected: cidr listed')" "$out"

# --- HELO -----------------------------------------------------------------------------------
helo() { pt_rdialog "EHLO $1" "MAIL FROM:<x@good.example>" "RCPT TO:<alice@example.test>"; }
out=$(helo nomx.example)
pt_expect helo_a_partial_address \
    "$(rcpt_line '' '554 5\.7\.2 <nomx\.example>: Helo command rejected: listed network')" "$out"
out=$(helo '[127.0.66.1]')
pt_expect helo_a_address_literal \
    "$(rcpt_line '' '554 5\.7\.2 <\[127\.0\.66\.1\]>: Helo command rejected: listed network')" "$out"
out=$(helo bad-mx.example)
pt_expect helo_mx_host \
    "$(rcpt_line '' '554 5\.7\.1 <bad-mx\.example>: Helo command rejected: bad mail server')" "$out"
out=$(helo sub.nsdom.example)
pt_expect helo_ns_of_parent_zone \
    "$(rcpt_line '' '554 5\.7\.1 <sub\.nsdom\.example>: Helo command rejected: bad name server')" "$out"
# listed.example is in the table by name, but _a_ looks at its address and
# _mx_ at its MX host (mx.good.example): neither matches.
out=$(helo listed.example)
pt_expect helo_domain_name_itself_not_looked_up "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"

# --- recipient ------------------------------------------------------------------------------
out=$(mail_from x@good.example r@bad-mx.example)
pt_expect rcpt_mx_host \
    "$(rcpt_line 'r@bad-mx\.example' '554 5\.7\.1 <r@bad-mx\.example>: Recipient address rejected: bad mail server')" "$out"
out=$(mail_from x@good.example r@nsdom.example)
pt_expect rcpt_ns_host \
    "$(rcpt_line 'r@nsdom\.example' '554 5\.7\.1 <r@nsdom\.example>: Recipient address rejected: bad name server')" "$out"
out=$(mail_from x@good.example r@good.example)
pt_expect rcpt_unlisted_accepted "$(rcpt_line 'r@good\.example' '250 2\.1\.5 Ok')" "$out"

# --- client, reverse client -------------------------------------------------------------------
client() { pt_rdialog -s "$1" "EHLO goodns.example" "MAIL FROM:<x@good.example>" "RCPT TO:<alice@example.test>"; }
out=$(client 127.0.0.20)
pt_expect client_mx_host \
    "$(rcpt_line '' '554 5\.7\.1 <mail\.bad-mx\.example\[127\.0\.0\.20\]>: Client host rejected: bad mail server')" "$out"
out=$(client 127.0.77.20)
pt_expect client_a_address_cidr \
    "$(rcpt_line '' '554 5\.7\.1 <cidrclient\.example\[127\.0\.77\.20\]>: Client host rejected: cidr listed')" "$out"
# 127.0.0.22's name is not verified: check_client_mx_access has nothing to
# look at, the reverse-name variant finds the MX host.
out=$(client 127.0.0.22)
pt_expect reverse_client_mx_host \
    "$(rcpt_line '' '554 5\.7\.1 <unknown\[127\.0\.0\.22\]>: Unverified Client host rejected: bad mail server')" "$out"
out=$(client 127.0.0.1)
pt_expect client_localhost_accepted "$(rcpt_line '' '250 2\.1\.5 Ok')" "$out"

pt_check no_unknown_restriction_warnings eval '! log_has "unknown smtpd restriction"'
pt_done
