#!/usr/bin/env bash
# cleanup_test.sh - cleanup(8)'s documented behaviour seen from the mailboxes
# and DSNs of a real instance: missing headers (Message-Id, Date, From with
# the -F full name) for local submissions and local SMTP clients but not for
# remote ones, the Received: headers of smtpd and of pickup ("from userid N"),
# virtual_alias_maps (plain, several targets, recursion, catch-all, @a -> @b,
# self-reference, nesting/expansion limits, the flurdy how-to routing, unknown
# alias-domain user), canonical_maps / sender_ / recipient_canonical_maps and
# canonical_classes, masquerade_domains with an exception, always_bcc,
# sender_bcc_maps, recipient_bcc_maps, sendmail -t with Bcc: removed,
# hopcount_limit (SMTP reject, and a DSN for sendmail mail), header_size_limit,
# message_size_limit for sendmail, and duplicate recipients.
#
# Two instances: the first holds most cases; the second has the settings
# that touch every message (masquerading, always_bcc,
# always_add_missing_headers with remote header context).
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes

SM=$PT_BUILD/sbin/sendmail
CAROL_UID=$(id -u carol); CAROL_GID=$(id -g carol); ALICE_UID=$(id -u alice)
MQ=$(mktemp /tmp/postern-e2e-mq.XXXXXX.py)
BOX=$(mktemp -d /tmp/postern-e2e-box.XXXXXX)
trap 'pt_cleanup; rm -rf "$MQ" "$BOX"' EXIT

# The users' homes are shared with other scripts, which may clean them while
# this one runs: a collector copies every delivered file into $BOX/USER/new
# as it appears, and the checks read those copies (subjects are unique).
collect_once() {
    local u f
    for u in alice bob carol; do
        mkdir -p "$BOX/$u/new"
        for f in "$PT_HOMES/$u/Maildir/new/"* "$PT_HOMES/$u/Maildir/cur/"*; do
            # Only new files: a cp per file every 0.1 s took a core.
            [ -f "$f" ] && [ ! -e "$BOX/$u/new/${f##*/}" ] && cp -n "$f" "$BOX/$u/new/" 2>/dev/null
        done
    done
    return 0
}
( while :; do collect_once; sleep 0.1; done ) &
PT_PIDS+=($!)

# mq.py: reads a Maildir with Python's email package.
#   count DIR SUBJ            number of messages whose Subject is SUBJ
#   hdr DIR SUBJ NAME         every NAME: value (unfolded) of the first such message
#   dsn DIR SUBJ              "rcpt status action orig" lines of the DSN(s) whose
#                             returned message has Subject SUBJ, then the
#                             notification text after a "--" line
cat > "$MQ" <<'EOP'
import email, email.policy, os, re, sys
mode, d, subj = sys.argv[1], sys.argv[2], sys.argv[3]
msgs = []
for sub in ("new", "cur"):
    p = os.path.join(d, sub)
    if os.path.isdir(p):
        for f in sorted(os.listdir(p)):
            with open(os.path.join(p, f), "rb") as fh:
                msgs.append(email.message_from_binary_file(fh, policy=email.policy.compat32))
def unfold(v):
    # RFC 5322 unfolding: a line break before white space goes; the spaces
    # inside a line stay (a Date of "Sat,  5 Dec" keeps its two spaces).
    return re.sub(r"\r?\n[ \t]+", " ", str(v)).strip()
if mode == "count":
    print(sum(1 for m in msgs if unfold(m.get("Subject", "")) == subj))
elif mode == "hdr":
    for m in msgs:
        if unfold(m.get("Subject", "")) == subj:
            for v in m.get_all(sys.argv[4], []):
                print(unfold(v) if sys.argv[4].lower() != "x-fold" else str(v))
            break
elif mode == "dsn":
    for m in msgs:
        if m.get_content_type() != "multipart/report":
            continue
        parts = m.get_payload()
        if len(parts) < 3:
            continue
        ret = parts[2]
        inner = ret.get_payload(0) if ret.is_multipart() else email.message_from_string(ret.get_payload())
        if unfold(inner.get("Subject", "")) != subj:
            continue
        for blk in parts[1].get_payload()[1:]:
            print(blk.get("Final-Recipient", "").split(";")[-1].strip(), blk.get("Status", ""),
                  blk.get("Action", ""), blk.get("Original-Recipient", "").split(";")[-1].strip())
        print("--")
        print(parts[0].get_payload(decode=True).decode("utf-8", "replace"))
EOP

count() { python3 "$MQ" count "$BOX/$1" "$2"; }
hdr() { python3 "$MQ" hdr "$BOX/$1" "$2" "$3"; }
dsn() { python3 "$MQ" dsn "$BOX/$1" "$2"; }
# smtp PORT FROM RCPT... (body on stdin, LF line ends): prints the final reply
smtp() {
    local port=$1; shift
    PT_BODY=$(cat | sed 's/$/\r/') python3 - "$port" "$@" <<'EOP'
import os, smtplib, sys
port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
try:
    s.sendmail(sender, rcpts, os.environ["PT_BODY"] + "\r\n")
    print("250 ok")
except smtplib.SMTPRecipientsRefused as e:
    for r, (code, msg) in e.recipients.items():
        print(code, msg.decode())
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
s.quit()
EOP
}
# as USER ARGS...: runs sendmail as USER (message on stdin). A non-root user
# may name this instance's config directory only when the default main.cf
# lists it in alternate_config_directories: added for the moment of the
# submission (under a lock shared with other scripts that do the same) and
# then restored.
as() {
    local u=$1 rc; shift
    if [ "$u" = root ]; then MAIL_CONFIG=$PT_CONF $SM "$@"; return; fi
    mkdir -p /etc/postfix
    exec 9>/etc/postfix/.postern-e2e.lock; flock 9
    local def=/etc/postfix/main.cf save=$PT_T/default-main.cf.save
    if [ -e "$def" ]; then cp -p "$def" "$save"; else rm -f "$save"; fi
    echo "alternate_config_directories = $PT_CONF" >> "$def"
    chmod 755 "$PT_CONF"; chmod 644 "$PT_CONF/main.cf"
    su "$u" -s /bin/sh -c "MAIL_CONFIG=$PT_CONF $SM $*"; rc=$?
    if [ -e "$save" ]; then cp -p "$save" "$def"; else rm -f "$def"; fi
    flock -u 9; exec 9>&-
    return $rc
}
# qid_of SUBJ USER: queue id from the Received: header's "id" clause
qid_of() { hdr "$2" "$1" Received | sed -n 's/.* id \([0-9A-Za-z]*\)[;]* .*/\1/p' | head -1; }

# ======================= instance 1 =======================
pt_instance
I1_T=$PT_T
mkdir -p "$PT_T/vmail"; chmod 1777 "$PT_T/vmail"
cat > "$PT_CONF/virtual" <<EOT
plain@valias.test       alice@example.test
multi@valias.test       alice@example.test, bob@example.test,carol@example.test
rec1@valias.test        rec2@valias.test
rec2@valias.test        rec3@valias.test
rec3@valias.test        carol@example.test
@cat.test               carol@example.test
@a.test                 @example.test
bob+keep@example.test   bob+keep@example.test, carol@example.test
dup@valias.test         bob@example.test
deep1@valias.test       deep2@valias.test
deep2@valias.test       deep3@valias.test
deep3@valias.test       deep4@valias.test
deep4@valias.test       deep5@valias.test
deep5@valias.test       deep6@valias.test
deep6@valias.test       deep7@valias.test
deep7@valias.test       alice@example.test
wide@valias.test        alice@example.test, bob@example.test, carol@example.test, alice+1@example.test, bob+1@example.test, carol+1@example.test
EOT
# Each step makes the address longer: past virtual_alias_address_length_limit
# (1000) at the second, well inside the nesting limit.
G300=$(printf 'g%.0s' $(seq 300)); G1000=$(printf 'g%.0s' $(seq 1000))
printf 'grow@valias.test %s@valias.test\n%s@valias.test %s@valias.test\n' "$G300" "$G300" "$G1000" \
    >> "$PT_CONF/virtual"
# The flurdy how-to's routing (data.sql comments), as a second (hash) table.
cat > "$PT_CONF/flurdy" <<EOT
@whopper.nu             xandros@blobber.org
xandros@blobber.org     xandros@blobber.org
@lala.com               @whupper.nu
@mail.blobber.org       @blobber.org
EOT
pt_cmd postmap "hash:$PT_CONF/flurdy"
printf 'xandros@blobber.org blobber.org/xandros/\n' > "$PT_CONF/vmailbox"
# whupper.nu is hosted nowhere: model "not hosted" with an error transport.
printf 'whupper.nu error:5.1.2 whupper.nu is not hosted here\n' > "$PT_CONF/transport"
printf 'old@example.test bob@example.test\n' > "$PT_CONF/canonical"
printf 'sc-user@example.test sender.canon@example.test\n' > "$PT_CONF/sender_canonical"
printf 'rc-user@example.test carol@example.test\n' > "$PT_CONF/recipient_canonical"
printf 'bccsender@example.test bob+sbcc@example.test\n' > "$PT_CONF/sender_bcc"
printf 'alice+rbcc@example.test carol+rbcc@example.test\n' > "$PT_CONF/recipient_bcc"
printf '/^Subject: c-redirect-bcc$/ REDIRECT alice+rbcc@example.test\n' > "$PT_CONF/header_checks"
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
recipient_delimiter = +
virtual_alias_domains = valias.test, cat.test, a.test, whopper.nu, lala.com
virtual_alias_maps = texthash:$PT_CONF/virtual, hash:$PT_CONF/flurdy
virtual_alias_recursion_limit = 5
virtual_alias_expansion_limit = 5
virtual_mailbox_domains = blobber.org
virtual_mailbox_base = $PT_T/vmail
virtual_mailbox_maps = texthash:$PT_CONF/vmailbox
virtual_uid_maps = static:$CAROL_UID
virtual_gid_maps = static:$CAROL_GID
virtual_minimum_uid = 100
transport_maps = texthash:$PT_CONF/transport
canonical_maps = texthash:$PT_CONF/canonical
canonical_classes = envelope_sender, envelope_recipient, header_recipient
sender_canonical_maps = texthash:$PT_CONF/sender_canonical
recipient_canonical_maps = texthash:$PT_CONF/recipient_canonical
sender_bcc_maps = texthash:$PT_CONF/sender_bcc
recipient_bcc_maps = texthash:$PT_CONF/recipient_bcc
header_checks = regexp:$PT_CONF/header_checks
hopcount_limit = 5
header_size_limit = 1000
message_size_limit = 20000
EOM
# A second smtpd whose clients are "remote" for header rewriting.
PORT_R=$(pt_free_port)
echo "127.0.0.1:$PORT_R inet n - n - - smtpd -o local_header_rewrite_clients=" >> "$PT_CONF/master.cf"
pt_start || { pt_fail start "instance 1 did not start"; pt_done; exit 1; }
P1=$PT_PORT
MAILNAME=$(pt_cmd postconf -h mail_name 2>/dev/null); MAILNAME=${MAILNAME:-Postfix}

# ---- submissions (all first, then one wait) ----
printf 'Subject: c-local-sendmail\n\nbody\n' | as alice -F "'Alice Liddell'" bob@example.test
pt_check sendmail_accepts [ $? -eq 0 ]
printf 'Subject: c-local-smtp\n\nbody\n' | smtp $P1 alice@example.test bob@example.test >/dev/null
r=$(printf 'Subject: c-remote-smtp\nTo: bob\n\nbody\n' | smtp $PORT_R alice@example.test bob@example.test)
pt_check remote_smtp_accepted [ "${r%% *}" = 250 ]
printf 'Subject: c-keep-headers\nFrom: Someone <someone@elsewhere.test>\nDate: Mon, 1 Jan 2024 10:00:00 +0000\nMessage-Id: <given.1@elsewhere.test>\n\nbody\n' \
    | smtp $P1 alice@example.test bob@example.test >/dev/null

printf 'Subject: c-plain\n\nb\n' | smtp $P1 bob@example.test plain@valias.test >/dev/null
printf 'Subject: c-multi\n\nb\n' | smtp $P1 bob@example.test multi@valias.test >/dev/null
printf 'Subject: c-recursive\n\nb\n' | smtp $P1 bob@example.test rec1@valias.test >/dev/null
printf 'Subject: c-catchall\n\nb\n' | smtp $P1 bob@example.test whoever@cat.test >/dev/null
printf 'Subject: c-domain-map\n\nb\n' | smtp $P1 alice@example.test bob@a.test >/dev/null
printf 'Subject: c-self\n\nb\n' | smtp $P1 alice@example.test bob+keep@example.test >/dev/null
r_deep=$(printf 'Subject: c-deep\n\nb\n' | smtp $P1 bob@example.test deep1@valias.test)
r_wide=$(printf 'Subject: c-wide\n\nb\n' | smtp $P1 bob@example.test wide@valias.test)
r_grow=$(printf 'Subject: c-grow\n\nb\n' | smtp $P1 bob@example.test grow@valias.test)
r_unknown=$(printf 'Subject: c-unknown-smtp\n\nb\n' | smtp $P1 bob@example.test nobody@valias.test)
printf 'Subject: c-unknown-sendmail\n\nb\n' | as root -f carol@example.test nobody@valias.test
printf 'Subject: c-flurdy-john\n\nb\n' | smtp $P1 bob@example.test john@whopper.nu >/dev/null
r_jul=$(printf 'Subject: c-flurdy-julian\n\nb\n' | smtp $P1 bob@example.test julian.whippit@lala.com)

# (Through sendmail: see smtpd_accepts_canonical_rcpt for the SMTP path.)
printf 'Subject: c-canonical\nFrom: old@example.test\nTo: old@example.test\n\nb\n' \
    | as root -f old@example.test old@example.test
printf 'Subject: c-sender-canonical\nFrom: sc-user@example.test\nTo: sc-user@example.test\n\nb\n' \
    | smtp $P1 sc-user@example.test alice@example.test >/dev/null
printf 'Subject: c-rcpt-canonical\nFrom: rc-user@example.test\nTo: rc-user@example.test\n\nb\n' \
    | as root -f rc-user@example.test rc-user@example.test
# Postfix's smtpd accepts a local-domain recipient that canonical_maps or
# recipient_canonical_maps know even without a local account.
r_canon=$(printf 'Subject: c-canonical-smtp\n\nb\n' | smtp $P1 alice@example.test rc-user@example.test)

printf 'Subject: c-sender-bcc\n\nb\n' | smtp $P1 bccsender@example.test alice@example.test >/dev/null
printf 'Subject: c-rcpt-bcc\n\nb\n' | smtp $P1 bob@example.test alice+rbcc@example.test >/dev/null
# A header_checks REDIRECT to an address with a recipient_bcc_maps entry.
printf 'Subject: c-redirect-bcc\n\nb\n' | smtp $P1 bob@example.test bob@example.test >/dev/null

printf 'Subject: c-minus-t\nTo: bob@example.test\nCc: carol@example.test\nBcc: alice+hidden@example.test\n\nb\n' \
    | as alice -t
pt_check minus_t_accepted [ $? -eq 0 ]

hops() { local i; for i in $(seq 1 "$1"); do printf 'Received: from relay%d.example.net by x; Mon, 1 Jan 2024 10:00:00 +0000\n' "$i"; done; }
r_hop3=$( (hops 3; printf 'Subject: c-hops-3\n\nb\n') | smtp $P1 alice@example.test bob@example.test)
r_hop4=$( (hops 4; printf 'Subject: c-hops-4\n\nb\n') | smtp $P1 alice@example.test bob@example.test)
(hops 4; printf 'Subject: c-hops-sendmail\n\nb\n') | as root -f carol@example.test bob@example.test

python3 -c "print('X-Fold: a'); print(''.join('\tcont%d\n' % i for i in range(300)), end=''); print('Subject: c-header-limit\n\nbody')" \
    | smtp $P1 alice@example.test bob@example.test >/dev/null
python3 -c "print('Subject: c-too-big\n'); print(('x' * 70 + '\n') * 400)" | as root -f carol@example.test bob@example.test 2>"$PT_T/big.err"
big_rc=$?

# Same final address and same original recipient (case aside): one copy.
# (Different original recipients stay apart while enable_original_recipient
# = yes, as in Postfix: instance 2 turns it off.)
r_dup=$(printf 'Subject: c-dups\n\nb\n' | smtp $P1 alice@example.test bob@example.test bob@example.test BOB@example.test)
printf 'Subject: c-dups-orig\n\nb\n' | smtp $P1 alice@example.test bob@example.test dup@valias.test >/dev/null

pt_wait_queue_empty 40 || pt_fail queue_empty "instance 1 queue did not drain"
collect_once
pt_wait '[ "$(count carol c-unknown-sendmail)" -ge 1 ] && [ "$(count carol c-hops-sendmail)" -ge 1 ] && [ "$(count bob c-flurdy-julian)" -ge 1 ]' 20

# ---- missing headers, Received ----
Q=$(qid_of c-local-sendmail bob)
pt_check sendmail_received_by_userid \
    bash -c "hdr() { python3 '$MQ' hdr '$BOX/bob' c-local-sendmail \"\$1\"; }; hdr Received | grep -qE '^by mail\.example\.test \($MAILNAME, from userid $ALICE_UID\) id [0-9A-Z]+; [A-Z][a-z]{2}, [ 0-9]?[0-9] [A-Z][a-z]{2} [0-9]{4} [0-9:]{8} [-+][0-9]{4}'"
pt_check sendmail_msgid_shape \
    bash -c "[[ '$(hdr bob c-local-sendmail Message-Id)' =~ ^\<[0-9]{14}\.$Q@mail\.example\.test\>$ ]]"
pt_check sendmail_msgid_logged grep -q "$Q: message-id=<[0-9]\{14\}\.$Q@mail.example.test>" "$I1_T/maillog"
d=$(hdr bob c-local-sendmail Date)
pt_check sendmail_date_added python3 -c "
import email.utils, sys, time
t = email.utils.parsedate_to_datetime(sys.argv[1]).timestamp()
sys.exit(0 if abs(t - time.time()) < 600 else 1)" "$d"
pt_check sendmail_date_day_padding bash -c "[[ '$d' =~ ^[A-Z][a-z]{2},\ (\ [1-9]|[1-3][0-9])\ [A-Z][a-z]{2}\ [0-9]{4}\  ]]"
pt_check sendmail_from_fullname [ "$(hdr bob c-local-sendmail From)" = "Alice Liddell <alice@mail.example.test>" ]
pt_check local_smtp_msgid bash -c "[[ '$(hdr bob c-local-smtp Message-Id)' =~ ^\<[0-9]{14}\.[0-9A-Z]+@mail\.example\.test\>$ ]]"
pt_check local_smtp_date [ -n "$(hdr bob c-local-smtp Date)" ]
pt_check local_smtp_from [ "$(hdr bob c-local-smtp From)" = "alice@example.test" ]
Q=$(qid_of c-local-smtp bob)
pt_check smtp_received_shape bash -c "python3 '$MQ' hdr '$BOX/bob' c-local-smtp Received | head -1 | grep -qE '^from client\.example\.test \(localhost \[127\.0\.0\.1\]\) by mail\.example\.test \($MAILNAME\) with ESMTP id $Q for <bob@example\.test>; [A-Z][a-z]{2}, [ 0-9]?[0-9] [A-Z][a-z]{2} [0-9]{4} '"
pt_check smtp_received_not_pickup bash -c "! python3 '$MQ' hdr '$BOX/bob' c-local-smtp Received | grep -q userid"
pt_check remote_smtp_no_msgid [ -z "$(hdr bob c-remote-smtp Message-Id)" ]
pt_check remote_smtp_no_date [ -z "$(hdr bob c-remote-smtp Date)" ]
pt_check remote_smtp_no_from [ -z "$(hdr bob c-remote-smtp From)" ]
pt_check remote_smtp_to_not_rewritten [ "$(hdr bob c-remote-smtp To)" = "bob" ]
pt_check remote_smtp_msgid_log_empty grep -qE "$(qid_of c-remote-smtp bob): message-id=<>$" "$I1_T/maillog"
pt_check keeps_given_headers bash -c "[ '$(hdr bob c-keep-headers Message-Id)' = '<given.1@elsewhere.test>' ] && [ '$(hdr bob c-keep-headers From)' = 'Someone <someone@elsewhere.test>' ] && [ \$(python3 '$MQ' hdr '$BOX/bob' c-keep-headers Date | wc -l) = 1 ]"

# ---- virtual aliases ----
pt_check valias_plain [ "$(count alice c-plain)" = 1 ]
pt_check valias_multi bash -c "[ $(count alice c-multi) = 1 ] && [ $(count bob c-multi) = 1 ] && [ $(count carol c-multi) = 1 ]"
pt_check valias_recursive [ "$(count carol c-recursive)" = 1 ]
pt_check valias_catchall [ "$(count carol c-catchall)" = 1 ]
pt_check valias_domain_to_domain [ "$(count bob c-domain-map)" = 1 ]
pt_check valias_self_stops bash -c "[ $(count bob c-self) = 1 ] && [ $(count carol c-self) = 1 ]"
pt_check valias_self_delivered_to_extension grep -qE "to=<bob\+keep@example.test>.*status=sent" "$I1_T/maillog"
pt_check valias_nesting_limit_tempfails [ "${r_deep:0:1}" = 4 ]
pt_check valias_nesting_limit_logged grep -q "unreasonable virtual_alias_maps map nesting for deep1@valias.test" "$I1_T/maillog"
pt_check valias_nesting_not_delivered [ "$(count alice c-deep)" = 0 ]
pt_check valias_expansion_limit_tempfails [ "${r_wide:0:1}" = 4 ]
pt_check valias_expansion_limit_status bash -c "[[ '$r_wide' == *4.6.0* ]]"
pt_check valias_expansion_not_delivered [ "$(count alice c-wide)" = 0 ]
pt_check valias_length_limit_tempfails bash -c "[[ '$r_grow' == 4*4.6.0* ]]"
pt_check valias_length_limit_logged grep -q "unreasonable virtual_alias_maps result g\{300\}\.\.\. -- message not accepted" "$I1_T/maillog"
pt_check valias_unknown_rcpt_rejected bash -c "[[ '$r_unknown' == '550 5.1.1 '*'User unknown in virtual alias table'* ]]"
u=$(dsn carol c-unknown-sendmail)
pt_check valias_unknown_sendmail_bounced bash -c "grep -q '^nobody@valias.test 5.1.1 failed' <<<'$u' && grep -q 'User unknown in virtual alias table' <<<'$u'"
pt_check flurdy_john_to_xandros [ "$(find "$I1_T/vmail/blobber.org/xandros/new" -type f 2>/dev/null | xargs grep -l c-flurdy-john 2>/dev/null | wc -l)" = 1 ]
pt_check flurdy_john_logged grep -qE "to=<xandros@blobber.org>, orig_to=<john@whopper.nu>.*status=sent" "$I1_T/maillog"
pt_check flurdy_julian_accepted [ "${r_jul%% *}" = 250 ]
u=$(dsn bob c-flurdy-julian)
pt_check flurdy_julian_bounced bash -c "grep -q '^julian.whippit@whupper.nu 5.1.2 failed julian.whippit@lala.com' <<<'$u'"

# ---- canonical ----
pt_check canonical_rcpt_delivered [ "$(count bob c-canonical)" = 1 ]
pt_check canonical_env_sender [ "$(hdr bob c-canonical Return-Path)" = "<bob@example.test>" ]
pt_check canonical_hdr_rcpt [ "$(hdr bob c-canonical To)" = "bob@example.test" ]
pt_check canonical_classes_hdr_sender_kept [ "$(hdr bob c-canonical From)" = "old@example.test" ]
pt_check sender_canonical_env [ "$(hdr alice c-sender-canonical Return-Path)" = "<sender.canon@example.test>" ]
pt_check sender_canonical_hdr [ "$(hdr alice c-sender-canonical From)" = "sender.canon@example.test" ]
pt_check sender_canonical_not_rcpt [ "$(hdr alice c-sender-canonical To)" = "sc-user@example.test" ]
pt_check rcpt_canonical_env [ "$(count carol c-rcpt-canonical)" = 1 ]
pt_check rcpt_canonical_hdr [ "$(hdr carol c-rcpt-canonical To)" = "carol@example.test" ]
pt_check smtpd_accepts_canonical_rcpt bash -c "[ '${r_canon%% *}' = 250 ] && [ \$(python3 '$MQ' count '$BOX/carol' c-canonical-smtp) = 1 ]"
pt_check rcpt_canonical_not_sender bash -c "[ '$(hdr carol c-rcpt-canonical From)' = rc-user@example.test ] && [ '$(hdr carol c-rcpt-canonical Return-Path)' = '<rc-user@example.test>' ]"

# ---- bcc ----
pt_check sender_bcc_copy bash -c "[ $(count alice c-sender-bcc) = 1 ] && [ $(count bob c-sender-bcc) = 1 ]"
pt_check rcpt_bcc_copy bash -c "[ $(count alice c-rcpt-bcc) = 1 ] && [ $(count carol c-rcpt-bcc) = 1 ]"
pt_check redirect_rcpt_bcc_copy bash -c "[ $(count alice c-redirect-bcc) = 1 ] && [ $(count carol c-redirect-bcc) = 1 ] && [ $(count bob c-redirect-bcc) = 0 ]"

# ---- sendmail -t ----
pt_check minus_t_to_cc_bcc bash -c "[ $(count bob c-minus-t) = 1 ] && [ $(count carol c-minus-t) = 1 ] && [ $(count alice c-minus-t) = 1 ]"
pt_check minus_t_bcc_removed bash -c "[ -z '$(hdr bob c-minus-t Bcc)$(hdr carol c-minus-t Bcc)$(hdr alice c-minus-t Bcc)' ]"
pt_check minus_t_to_kept [ "$(hdr carol c-minus-t To)" = "bob@example.test" ]

# ---- hops ----
pt_check hops_under_limit_accepted bash -c "[ '${r_hop3%% *}' = 250 ] && [ $(count bob c-hops-3) = 1 ]"
pt_check hops_over_limit_rejected [ "$r_hop4" = "554 5.4.0 Error: too many hops" ]
pt_check hops_over_limit_not_delivered [ "$(count bob c-hops-4)" = 0 ]
u=$(dsn carol c-hops-sendmail)
pt_check hops_sendmail_bounced bash -c "grep -q '^bob@example.test 5.4.0 failed' <<<'$u' && grep -q 'too many hops' <<<'$u'"
pt_check hops_sendmail_not_delivered [ "$(count bob c-hops-sendmail)" = 0 ]
pt_check hops_sendmail_logged grep -qE "to=<bob@example.test>, relay=none, .*dsn=5\.4\.0, status=bounced \(too many hops\)" "$I1_T/maillog"

# ---- size limits ----
pt_check header_limit_delivered [ "$(count bob c-header-limit)" = 1 ]
hl=$(hdr bob c-header-limit X-Fold | wc -c)
pt_check header_limit_truncated bash -c "[ $hl -le 1002 ] && [ $hl -ge 900 ]"
pt_check header_limit_next_header_kept [ "$(hdr bob c-header-limit Subject)" = c-header-limit ]
pt_check size_limit_sendmail_fails [ "$big_rc" -ne 0 ]
pt_check size_limit_sendmail_says_why grep -qi "too big\|too large\|size" "$I1_T/big.err"
pt_check size_limit_not_delivered [ "$(count bob c-too-big)" = 0 ]

# ---- duplicates ----
pt_check dups_accepted [ "${r_dup%% *}" = 250 ]
pt_check dups_one_delivery [ "$(count bob c-dups)" = 1 ]
pt_check dups_orig_kept_apart [ "$(count bob c-dups-orig)" = 2 ]
pt_stop

# ======================= instance 2 =======================
pt_instance
I2_T=$PT_T
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
recipient_delimiter = +
masquerade_domains = example.test
masquerade_exceptions = root
always_bcc = carol+abcc@example.test
always_add_missing_headers = yes
enable_original_recipient = no
virtual_alias_maps = inline:{ alias2@example.test=bob@example.test }
header_from_format = obsolete
EOM
PORT_R=$(pt_free_port)
echo "127.0.0.1:$PORT_R inet n - n - - smtpd -o local_header_rewrite_clients=" >> "$PT_CONF/master.cf"
pt_start || { pt_fail start "instance 2 did not start"; pt_done; exit 1; }
printf 'Subject: c-masq\nFrom: alice@host.example.test\nCc: bob@deep.host.example.test\n\nb\n' \
    | smtp $PT_PORT alice@host.example.test bob@example.test >/dev/null
printf 'Subject: c-masq-root\nFrom: root@host.example.test\n\nb\n' \
    | smtp $PT_PORT root@host.example.test bob@example.test >/dev/null
printf 'Subject: c-always-add\nTo: alice\n\nb\n' | smtp $PORT_R bob@example.test alice@example.test >/dev/null
printf 'Subject: c-dups-no-orig\n\nb\n' | smtp $PT_PORT alice@example.test bob@example.test alias2@example.test >/dev/null
# header_from_format = obsolete: "From: address (full name)", the comment quoted.
printf 'Subject: c-from-obsolete\n\nbody\n' | as root -F "Alice (A.) Liddell" -f alice@example.test bob@example.test
printf 'Subject: c-from-obsolete-gecos\n\nbody\n' | as root -f alice@example.test bob@example.test
pt_wait_queue_empty 30 || pt_fail queue_empty "instance 2 queue did not drain"
collect_once
pt_check masq_hdr_sender [ "$(hdr bob c-masq From)" = "alice@example.test" ]
pt_check masq_env_sender [ "$(hdr bob c-masq Return-Path)" = "<alice@example.test>" ]
pt_check masq_hdr_rcpt [ "$(hdr bob c-masq Cc)" = "bob@example.test" ]
pt_check masq_exception_root bash -c "[ '$(hdr bob c-masq-root From)' = root@host.example.test ] && [ '$(hdr bob c-masq-root Return-Path)' = '<root@host.example.test>' ]"
pt_check always_bcc_copy bash -c "[ $(count carol c-masq) = 1 ] && [ $(count carol c-masq-root) = 1 ] && [ $(count carol c-always-add) = 1 ]"
pt_check always_bcc_logged grep -q "to=<carol+abcc@example.test>.*status=sent" "$I2_T/maillog"
pt_check dups_no_orig_collapse [ "$(count bob c-dups-no-orig)" = 1 ]
pt_check always_add_missing_remote_to_kept [ "$(hdr alice c-always-add To)" = alice ]
pt_check from_format_obsolete [ "$(hdr bob c-from-obsolete From)" = 'alice@example.test (Alice \(A.\) Liddell)' ]
# Without -F the name comes from the submitter's passwd entry (root's here).
pt_check from_format_obsolete_gecos [ "$(hdr bob c-from-obsolete-gecos From)" = "alice@example.test ($(getent passwd root | cut -d: -f5 | cut -d, -f1))" ]
pt_check always_add_missing_remote bash -c "[ -n '$(hdr alice c-always-add Message-Id)' ] && [ -n '$(hdr alice c-always-add Date)' ] && [ '$(hdr alice c-always-add From)' = bob@example.test ]"
pt_done
