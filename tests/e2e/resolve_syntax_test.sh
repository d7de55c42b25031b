#!/bin/bash
# resolve_syntax_test.sh - address syntax as trivial-rewrite decides it,
# seen from SMTP replies, mailboxes and bounces of a real instance:
# "user@", numeric and malformed domains are refused at MAIL/RCPT with 501
# and bounced with 5.1.3 by qmgr when they come in through sendmail (the
# defaults); resolve_null_domain, resolve_numeric_domain and
# resolve_dequoted_address change that, each on its own smtpd (-o), as
# Postfix does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/smtpd_restrict_lib.sh"
pt_setup_users; pt_clean_homes
# start_variant SETTING...: a fresh instance with these main.cf lines
# (trivial-rewrite reads the resolve_* settings, and the clients cache its
# answers: one instance per variant).
start_variant() {
    [ -n "${PT_CONF:-}" ] && pt_stop
    pt_instance
    printf '%s\n' 'home_mailbox = Maildir/' \
        'smtpd_recipient_restrictions = permit_mynetworks, reject_unauth_destination' "$@" \
        >> "$PT_CONF/main.cf"
    pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
}
PT_CONF=
start_variant

# --- defaults: 501 at MAIL and RCPT ---
out=$(pt_rdialog 'EHLO client.example.test' 'MAIL FROM:<alice@>' 'MAIL FROM:<alice@1.2.3.4>' \
    'MAIL FROM:<alice@-bad.example>' 'MAIL FROM:<alice@example.test>' 'RCPT TO:<bob@>' \
    'RCPT TO:<bob@1.2.3.4>' 'RCPT TO:<bob@bad-.example>' 'RCPT TO:<bob@123>' \
    'RCPT TO:<bob@[127.0.0.1]>' 'RCPT TO:<bob@a-1.example>')
pt_expect mail_null_domain_501 '^MAIL FROM:<alice@> => 501 5.1.7 Bad sender address syntax' "$out"
pt_expect mail_numeric_501 '^MAIL FROM:<alice@1.2.3.4> => 501 5.1.7 Bad sender address syntax' "$out"
pt_expect mail_hyphen_501 '^MAIL FROM:<alice@-bad.example> => 501 5.1.7' "$out"
pt_expect mail_good_250 '^MAIL FROM:<alice@example.test> => 250' "$out"
pt_expect rcpt_null_domain_501 '^RCPT TO:<bob@> => 501 5.1.3 Bad recipient address syntax' "$out"
pt_expect rcpt_numeric_501 '^RCPT TO:<bob@1.2.3.4> => 501 5.1.3 Bad recipient address syntax' "$out"
pt_expect rcpt_hyphen_501 '^RCPT TO:<bob@bad-.example> => 501 5.1.3' "$out"
pt_expect rcpt_all_digits_501 '^RCPT TO:<bob@123> => 501 5.1.3' "$out"
pt_expect rcpt_literal_250 '^RCPT TO:<bob@\[127.0.0.1\]> => 250' "$out"
pt_expect rcpt_hyphen_inside_250 '^RCPT TO:<bob@a-1.example> => 250' "$out"
pt_check illegal_syntax_logged pt_wait "grep -q 'warning: Illegal address syntax from .* in RCPT command: <bob@1.2.3.4>' '$PT_T/maillog'" 10

# --- defaults: sendmail to a numeric domain bounces with 5.1.3 at once ---
MAIL_CONFIG="$PT_CONF" "$PT_BUILD/sbin/sendmail" -f alice@example.test carol@1.2.3.4 <<'EOM'
Subject: numeric domain

to an IP address without brackets
EOM
pt_check sendmail_numeric_bounced pt_wait "grep -qs 'postfix/error.*to=<carol@1.2.3.4>, relay=none.*dsn=5.1.3, status=bounced (bad address syntax)' '$PT_T/maillog'" 20
pt_check mail_log_raw_text grep -q 'Illegal address syntax from .* in MAIL command: <alice@1.2.3.4>' "$PT_T/maillog"
pt_check bounce_in_alice_box pt_wait "grep -ls 'Diagnostic-Code: X-Postfix; bad address syntax' '$PT_HOMES'/alice/Maildir/new/* >/dev/null" 20
f=$(grep -ls 'Diagnostic-Code: X-Postfix; bad address syntax' "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | head -n 1)
pt_check bounce_status_513 grep -q '^Status: 5.1.3' "${f:-/dev/null}"
pt_check bounce_final_rcpt grep -q '^Final-Recipient: rfc822; carol@1.2.3.4' "${f:-/dev/null}"
pt_check numeric_not_tried_by_smtp bash -c "! grep -q 'to=<carol@1.2.3.4>.*relay=[^n]' '$PT_T/maillog'"

# --- resolve_null_domain = yes: alice@ is alice@$myhostname ---
start_variant 'resolve_null_domain = yes'
out=$(pt_rdialog 'EHLO client.example.test' 'MAIL FROM:<bob@>' 'RCPT TO:<alice@>' 'DATA')
pt_expect null_mail_250 '^MAIL FROM:<bob@> => 250' "$out"
pt_expect null_rcpt_250 '^RCPT TO:<alice@> => 250' "$out"
pt_expect null_queued '^EOM => 250' "$out"
pt_check null_delivered pt_wait "grep -q 'to=<alice@>, relay=local.*status=sent' '$PT_T/maillog'" 20

# --- resolve_numeric_domain = yes: user@127.0.0.1 is local, 1.2.3.4 remote ---
start_variant 'resolve_numeric_domain = yes'
out=$(pt_rdialog 'EHLO client.example.test' 'MAIL FROM:<bob@example.test>' \
    'RCPT TO:<carol@127.0.0.1>' 'RCPT TO:<nosuch@127.0.0.1>' 'RCPT TO:<carol@123>' 'DATA')
pt_expect numeric_local_250 '^RCPT TO:<carol@127.0.0.1> => 250' "$out"
pt_expect numeric_local_unknown_550 '^RCPT TO:<nosuch@127.0.0.1> => 550 5.1.1' "$out"
pt_expect numeric_non_ip_501 '^RCPT TO:<carol@123> => 501 5.1.3' "$out"
pt_expect numeric_queued '^EOM => 250' "$out"
pt_check numeric_delivered pt_wait "grep -q 'to=<carol@127.0.0.1>, relay=local.*status=sent' '$PT_T/maillog'" 20

# --- resolve_dequoted_address = no: "bob@remote.example"@example.test is
# one local name (unknown here), not a route to remote.example ---
start_variant 'resolve_dequoted_address = no'
out=$(pt_rdialog 'EHLO client.example.test' 'MAIL FROM:<bob@example.test>' \
    'RCPT TO:<"bob@remote.example"@example.test>' 'RCPT TO:<carol%example.test@example.test>')
pt_expect dequoted_no_local_name_550 '^RCPT TO:<"bob@remote.example"@example.test> => 550 5.1.1 <"bob@remote.example"@example.test>: Recipient address rejected: User unknown in local recipient table' "$out"
pt_expect dequoted_no_percent_still_routes '^RCPT TO:<carol%example.test@example.test> => 250' "$out"
dq_log=$PT_T/maillog
start_variant
out=$(pt_rdialog 'EHLO client.example.test' 'MAIL FROM:<bob@example.test>' \
    'RCPT TO:<"bob@remote.example"@example.test>')
pt_expect dequoted_yes_routes_250 '^RCPT TO:<"bob@remote.example"@example.test> => 250' "$out"

# --- a route through this host to a relay domain is not relaying for a
# client outside mynetworks (the resolver marks it routed, as Postfix's) ---
start_variant 'mynetworks = 127.0.0.1/32' 'relay_domains = relay.example'
out=$(pt_rdialog -s 127.0.0.2 'EHLO client.example.test' 'MAIL FROM:<bob@example.org>' \
    'RCPT TO:<a@relay.example>' 'RCPT TO:<"a@relay.example"@example.test>' \
    'RCPT TO:<a%relay.example@example.test>' 'RCPT TO:<"carol@example.test"@example.test>')
pt_expect relay_domain_250 '^RCPT TO:<a@relay.example> => 250' "$out"
pt_expect routed_at_refused '^RCPT TO:<"a@relay.example"@example.test> => 454 4.7.1 <"a@relay.example"@example.test>: Relay access denied' "$out"
pt_expect routed_percent_refused '^RCPT TO:<a%relay.example@example.test> => 454 4.7.1 <a%relay.example@example.test>: Relay access denied' "$out"
pt_expect local_twice_250 '^RCPT TO:<"carol@example.test"@example.test> => 250' "$out"

# No "not supported" warning for the three settings.
pt_check no_unsupported_warning bash -c "! grep -qs 'resolve_[a-z_]* is not supported' ${PT_INSTANCES[*]/%//maillog} ${PT_INSTANCES[*]/%//start.log}"
pt_done
