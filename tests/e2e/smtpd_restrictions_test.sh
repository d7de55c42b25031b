#!/bin/bash
# smtpd_restrictions_test.sh - smtpd_*_restrictions against a real instance:
# each built-in restriction with a rejecting and an accepting case (reply
# code and enhanced status code), restriction classes, access maps built
# with postmap (hash) and cidr/pcre tables, every access-map action with
# its effect (HOLD in the hold queue, PREPEND in the delivered header,
# REDIRECT delivered elsewhere, DISCARD, FILTER, WARN), smtpd_delay_reject
# yes/no, data, end-of-data and ETRN restrictions.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd_restrict_lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
C=$PT_CONF
PORT2=$(pt_free_port)
cat >> "$C/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_peername_lookup = no
mynetworks = 127.0.0.1/32
smtpd_restriction_classes = c_permit c_reject c_defer c_dip c_dir c_mynet c_sasl c_unauth
    c_defer_unauth c_nonfqdn_helo c_invalid_helo c_nonfqdn_sender c_nonfqdn_rcpt
    c_unlisted_sender c_warn c_helo_access c_client_access c_sender_access
c_permit = permit
c_reject = reject
c_defer = defer
c_dip = defer_if_permit, permit
c_dir = defer_if_reject, reject
c_mynet = permit_mynetworks, reject
c_sasl = permit_sasl_authenticated, reject
c_unauth = reject_unauth_destination, permit
c_defer_unauth = defer_unauth_destination, permit
c_nonfqdn_helo = reject_non_fqdn_helo_hostname, permit
c_invalid_helo = reject_invalid_helo_hostname, permit
c_nonfqdn_sender = reject_non_fqdn_sender, permit
c_nonfqdn_rcpt = reject_non_fqdn_recipient, permit
c_unlisted_sender = reject_unlisted_sender, permit
c_warn = warn_if_reject, reject, permit
c_helo_access = check_helo_access pcre:$C/helo.pcre, permit
c_client_access = check_client_access cidr:$C/client.cidr, permit
c_sender_access = check_sender_access hash:$C/sender, permit
smtpd_client_restrictions = check_client_access cidr:$C/early.cidr
smtpd_recipient_restrictions = check_recipient_access hash:$C/rcpt, permit_mynetworks,
    reject_unauth_destination
smtpd_data_restrictions = reject_unauth_pipelining
smtpd_end_of_data_restrictions = check_sender_access hash:$C/eod
smtpd_etrn_restrictions = check_client_access cidr:$C/client.cidr
EOM
echo "127.0.0.1:$PORT2 inet n - n - - smtpd -o smtpd_delay_reject=no" >> "$C/master.cf"
names="permit reject defer dip dir mynet sasl unauth dunauth helo invhelo nfsender fqdn unlsender warn
helomap clientmap sendermap code450 code5 mapdefer mapreject maplist hold discard prepend filter
warnaction eod"
for n in $names; do echo "$n: alice"; done >> "$C/aliases"
echo "redirect: alice" >> "$C/aliases"
cat > "$C/rcpt" <<EOM
permit@example.test c_permit
reject@example.test c_reject
defer@example.test c_defer
dip@example.test c_dip
dir@example.test c_dir
mynet@example.test c_mynet
sasl@example.test c_sasl
relay.example c_unauth
unauth@example.test c_unauth
drelay.example c_defer_unauth
dunauth@example.test c_defer_unauth
helo@example.test c_nonfqdn_helo
invhelo@example.test c_invalid_helo
nfsender@example.test c_nonfqdn_sender
nonfqdn c_nonfqdn_rcpt
fqdn@example.test c_nonfqdn_rcpt
unlsender@example.test c_unlisted_sender
warn@example.test c_warn
helomap@example.test c_helo_access
clientmap@example.test c_client_access
sendermap@example.test c_sender_access
code450@example.test 450 4.2.0 come back later
code5@example.test 550 go away
mapdefer@example.test DEFER
mapreject@example.test REJECT not welcome
maplist@example.test permit_mynetworks, reject
hold@example.test HOLD
discard@example.test DISCARD
prepend@example.test PREPEND X-Restriction-Test: prepended
redirect@example.test REDIRECT bob@example.test
filter@example.test FILTER discard:filtered
warnaction@example.test WARN watch this one
EOM
printf '/^spammer\\./ REJECT no spammers here\n' > "$C/helo.pcre"
printf '127.0.0.3/32 REJECT\n127.0.0.4 REJECT\n' > "$C/client.cidr"
printf '127.0.0.5 REJECT\n' > "$C/early.cidr"
printf 'blocked.example REJECT blocked domain\nbaduser@ REJECT\n' > "$C/sender"
printf 'eodreject@example.org REJECT\neodhold@example.org HOLD\n' > "$C/eod"
pt_cmd postmap "$C/rcpt" && pt_cmd postmap "$C/sender" && pt_cmd postmap "$C/eod"
pt_check postmap_built [ -f "$C/rcpt.db" -o -f "$C/rcpt.pdb" -o -n "$(ls $C/rcpt.* 2>/dev/null)" ]
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# one NAME RCPT-EXPECT [-s SRC] [EHLO] [FROM] RCPT
one() {
    local name=$1 pat=$2; shift 2
    local args=()
    if [ "$1" = -s ]; then args=(-s "$2"); shift 2; fi
    local helo=${3:+$1} from rcpt
    if [ $# -ge 3 ]; then helo=$1; from=$2; rcpt=$3; else helo=client.example.test; from=${2:+$1}; from=${from:-s@example.org}; rcpt=${2:-$1}; fi
    local out
    out=$(pt_rdialog "${args[@]}" "EHLO $helo" "MAIL FROM:<$from>" "RCPT TO:<$rcpt>" RSET)
    pt_expect "$name" "^RCPT TO:<[^>]*> => $pat" "$out"
}
ACC='250 2\.1\.5 Ok$'
one permit_accepts "$ACC" permit@example.test
one reject_rejects '554 5\.7\.1 <reject@example\.test>: Recipient address rejected: Access denied$' reject@example.test
one defer_defers '450 4\.3\.2 <defer@example\.test>: Recipient address rejected: Try again later$' defer@example.test
one defer_if_permit '450 4\.7\.1 <dip@example\.test>: Recipient address rejected: defer_if_permit requested$' dip@example.test
one defer_if_reject '450 4\.7\.1 <dir@example\.test>: Recipient address rejected: defer_if_reject requested$' dir@example.test
one permit_mynetworks_accepts "$ACC" mynet@example.test
one permit_mynetworks_rejects '554 5\.7\.1 <mynet@example\.test>: Recipient address rejected: Access denied$' -s 127.0.0.2 mynet@example.test
one permit_sasl_unauthenticated '554 5\.7\.1 <sasl@example\.test>: Recipient address rejected: Access denied$' sasl@example.test
one reject_unauth_destination '554 5\.7\.1 <x@relay\.example>: Relay access denied$' x@relay.example
one reject_unauth_destination_local "$ACC" unauth@example.test
one defer_unauth_destination '454 4\.7\.1 <x@drelay\.example>: Relay access denied$' x@drelay.example
one defer_unauth_destination_local "$ACC" dunauth@example.test
one non_fqdn_helo_rejects '504 5\.5\.2 <foo>: Helo command rejected: need fully-qualified hostname$' foo s@example.org helo@example.test
one non_fqdn_helo_accepts "$ACC" foo.example s@example.org helo@example.test
one invalid_helo_rejects '501 5\.5\.2 <bad\.\.example>: Helo command rejected: Invalid name$' bad..example s@example.org invhelo@example.test
one invalid_helo_accepts "$ACC" good.example s@example.org invhelo@example.test
# Postfix's host name rules (lib/util/hostname.c): the last label may not end with '-' either.
one invalid_helo_hyphen_rejects '501 5\.5\.2 <bad\.example->: Helo command rejected: Invalid name$' bad.example- s@example.org invhelo@example.test
one non_fqdn_sender_rejects '504 5\.5\.2 <joe>: Sender address rejected: need fully-qualified address$' h.example joe nfsender@example.test
one non_fqdn_sender_accepts "$ACC" h.example joe@example.org nfsender@example.test
one non_fqdn_rcpt_rejects '504 5\.5\.2 <nonfqdn>: Recipient address rejected: need fully-qualified address$' nonfqdn
one non_fqdn_rcpt_accepts "$ACC" fqdn@example.test
one unlisted_sender_rejects '550 5\.1\.0 <ghost@example\.test>: Sender address rejected: User unknown in local recipient table$' h.example ghost@example.test unlsender@example.test
one unlisted_sender_accepts "$ACC" h.example alice@example.test unlsender@example.test
one unlisted_recipient_rejects '550 5\.1\.1 <ghost@example\.test>: Recipient address rejected: User unknown in local recipient table$' ghost@example.test
one warn_if_reject_accepts "$ACC" warn@example.test
pt_check warn_if_reject_logged pt_wait "grep -q 'reject_warning: RCPT from unknown\[127.0.0.1\]: 554 5.7.1 <warn@example.test>: Recipient address rejected: Access denied' $PT_T/maillog" 10
one helo_pcre_rejects '554 5\.7\.1 <spammer\.example>: Helo command rejected: no spammers here$' spammer.example s@example.org helomap@example.test
one helo_pcre_accepts "$ACC" good.example s@example.org helomap@example.test
one client_cidr_rejects '554 5\.7\.1 <unknown\[127\.0\.0\.3\]>: Client host rejected: Access denied$' -s 127.0.0.3 clientmap@example.test
one client_cidr_accepts "$ACC" clientmap@example.test
one sender_parent_domain_rejects '554 5\.7\.1 <x@sub\.blocked\.example>: Sender address rejected: blocked domain$' h.example x@sub.blocked.example sendermap@example.test
one sender_user_at_rejects '554 5\.7\.1 <baduser@example\.org>: Sender address rejected: Access denied$' h.example baduser@example.org sendermap@example.test
one sender_hash_accepts "$ACC" h.example gooduser@example.org sendermap@example.test
one action_nnn_text '450 4\.2\.0 <code450@example\.test>: Recipient address rejected: come back later$' code450@example.test
one action_5nn_default_dsn '550 5\.7\.1 <code5@example\.test>: Recipient address rejected: go away$' code5@example.test
one action_defer '450 4\.7\.1 <mapdefer@example\.test>: Recipient address rejected: Access denied$' mapdefer@example.test
one action_reject_text '554 5\.7\.1 <mapreject@example\.test>: Recipient address rejected: not welcome$' mapreject@example.test
one action_list_accepts "$ACC" maplist@example.test
one action_list_rejects '554 5\.7\.1 <maplist@example\.test>: Recipient address rejected: Access denied$' -s 127.0.0.2 maplist@example.test

# smtpd_delay_reject: yes (main service) answers the client verdict at RCPT,
# no (second service) at MAIL.
out=$(pt_rdialog -s 127.0.0.5 "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<alice@example.test>")
pt_expect delay_reject_yes_mail_ok '^MAIL FROM:<s@example.org> => 250 2\.1\.0 Ok$' "$out"
pt_expect delay_reject_yes_rcpt '^RCPT TO:<alice@example.test> => 554 5\.7\.1 <unknown\[127\.0\.0\.5\]>: Client host rejected: Access denied$' "$out"
out=$(pt_rdialog -p "$PORT2" -s 127.0.0.5 "EHLO h.example" "MAIL FROM:<s@example.org>")
pt_expect delay_reject_no_mail '^MAIL FROM:<s@example.org> => 554 5\.7\.1 <unknown\[127\.0\.0\.5\]>: Client host rejected: Access denied$' "$out"
out=$(pt_rdialog -p "$PORT2" "EHLO h.example" "MAIL FROM:<s@example.org>")
pt_expect delay_reject_no_accepts '^MAIL FROM:<s@example.org> => 250 2\.1\.0 Ok$' "$out"

# Data restrictions: reject_unauth_pipelining on content sent before 354.
out=$(python3 - "$PT_PORT" <<'EOP'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rb")
f.readline()
for c in (b"HELO h.example", b"MAIL FROM:<s@example.org>", b"RCPT TO:<alice@example.test>"):
    s.sendall(c + b"\r\n"); f.readline()
s.sendall(b"DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n")
print("DATA =>", f.readline().decode().rstrip())
EOP
)
pt_expect unauth_pipelining_rejects '^DATA => 503 5\.5\.0 <DATA>: Data command rejected: Improper use of SMTP command pipelining$' "$out"
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<permit@example.test>" DATA)
pt_expect unauth_pipelining_accepts '^EOM => 250 2\.0\.0 Ok: queued as' "$out"

# End-of-data restrictions.
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<eodreject@example.org>" "RCPT TO:<alice@example.test>" DATA)
pt_expect eod_rejects '^EOM => 554 5\.7\.1 <eodreject@example.org>: Sender address rejected: Access denied$' "$out"
# ETRN restrictions.
out=$(pt_rdialog -s 127.0.0.4 "EHLO h.example" "ETRN example.net")
pt_expect etrn_rejects '^ETRN example.net => 554 5\.7\.1 <unknown\[127\.0\.0\.4\]>: Client host rejected: Access denied$' "$out"
out=$(pt_rdialog "EHLO h.example" "ETRN example.net")
pt_expect etrn_accepts '^ETRN example.net => (250|458|459) ' "$out"

# Actions that reach cleanup.
pt_wait_queue_empty 30
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<hold@example.test>" DATA)
pt_expect hold_accepted '^EOM => 250 2\.0\.0 Ok: queued as' "$out"
pt_check hold_in_hold_queue pt_wait "[ \$(find $PT_T/spool/hold -type f | wc -l) = 1 ]" 10
pt_check hold_logged grep -q 'hold: RCPT from unknown\[127.0.0.1\]: <hold@example.test>: Recipient address triggers HOLD action' "$PT_T/maillog"
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<eodhold@example.org>" RSET "MAIL FROM:<eodhold@example.org>" "RCPT TO:<alice@example.test>" DATA)
pt_check eod_hold_in_hold_queue pt_wait "[ \$(find $PT_T/spool/hold -type f | wc -l) = 2 ]" 10
rm -rf "$PT_HOMES"/alice/Maildir "$PT_HOMES"/bob/Maildir
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<discard@example.test>" DATA)
pt_expect discard_accepted '^EOM => 250 2\.0\.0 Ok: queued as' "$out"
pt_check discard_logged pt_wait "grep -q 'discard: RCPT from unknown\[127.0.0.1\]: <discard@example.test>: Recipient address triggers DISCARD action' $PT_T/maillog" 10
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<prepend@example.test>" DATA)
pt_expect prepend_accepted '^EOM => 250 2\.0\.0 Ok: queued as' "$out"
pt_check prepend_delivered pt_wait "grep -qls '^X-Restriction-Test: prepended' $PT_HOMES/alice/Maildir/new/*" 20
f=$(grep -ls '^X-Restriction-Test: prepended' $PT_HOMES/alice/Maildir/new/* | head -1)
pt_check prepend_before_received bash -c "[ -n '$f' ] && h=\$(grep -n '^X-Restriction-Test: prepended' '$f' | cut -d: -f1) && r=\$(grep -n '^Received:' '$f' | head -1 | cut -d: -f1) && [ \"\$h\" -lt \"\$r\" ]"
pt_check discard_not_delivered bash -c "! grep -qs 'discard@example.test' $PT_HOMES/alice/Maildir/new/*"
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<redirect@example.test>" DATA)
pt_check redirect_to_bob pt_wait "[ \$(ls $PT_HOMES/bob/Maildir/new 2>/dev/null | wc -l) = 1 ]" 20
pt_check redirect_not_alice bash -c "! grep -qs 'redirect@example.test' $PT_HOMES/alice/Maildir/new/*"
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<filter@example.test>" DATA)
pt_check filter_logged grep -q 'filter: RCPT from unknown\[127.0.0.1\]: <filter@example.test>: Recipient address triggers FILTER discard:filtered' "$PT_T/maillog"
pt_check filter_used pt_wait "grep -q 'postfix/discard.*to=<filter@example.test>.*status=sent (filtered)' $PT_T/maillog" 20
out=$(pt_rdialog "EHLO h.example" "MAIL FROM:<s@example.org>" "RCPT TO:<warnaction@example.test>")
pt_expect warn_action_accepts "^RCPT TO:<warnaction@example.test> => $ACC" "$out"
pt_check warn_action_logged grep -q 'warn: RCPT from unknown\[127.0.0.1\]: <warnaction@example.test>: Recipient address watch this one' "$PT_T/maillog"
pt_done
