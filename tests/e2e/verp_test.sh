#!/usr/bin/env bash
# verp_test.sh - VERP (variable envelope return paths):
#   - XVERP is offered and accepted only for smtpd_authorized_verp_clients
#     (empty by default: 555 Unsupported option), whose default is the old
#     name authorized_verp_clients;
#   - XVERP with the null sender is 503, with delimiters outside
#     verp_delimiter_filter or given twice 501;
#   - with ENVID as well, and for an aliased recipient (the original address
#     goes into the sender);
#   - each recipient of a VERP message is delivered apart, with the envelope
#     sender owner+user=domain@origin (XVERP, XVERP=-=, sendmail -XV);
#     without VERP both recipients share one delivery and the plain sender;
#   - sendmail -XV with bad delimiters exits 64 and queues nothing; cleanup
#     ignores (with a warning) a V record it is handed with bad delimiters
#     or the null sender;
#   - failed and expired recipients bounce one notice each to their VERP
#     address, or one to the plain sender with disable_verp_bounces = yes;
#   - unusable default_verp_delimiters: XVERP 451, sendmail -XV exit 64.
# The deliveries are recorded by a pipe(8) service as "${sender} ${recipient}";
# fail.example goes to a pipe(8) command that exits 67 (user unknown).
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
OUT=$PT_T/out
mkdir -p "$OUT"; chown bob: "$OUT"
cat > "$PT_T/rec.sh" <<EOS
#!/bin/sh
cat > /dev/null
s=\$1; shift
echo "\$s \$*" >> $OUT/log
EOS
chmod 755 "$PT_T/rec.sh"
for code in 67 75; do
    printf '#!/bin/sh\ncat > /dev/null\nexit %s\n' "$code" > "$PT_T/exit$code.sh"
    chmod 755 "$PT_T/exit$code.sh"
done
cat >> "$PT_CONF/master.cf" <<EOM
rec       unix  -       n       n       -       -       pipe
  user=bob argv=$PT_T/rec.sh \${sender} \${recipient}
nouser    unix  -       n       n       -       -       pipe
  user=bob argv=$PT_T/exit67.sh
later     unix  -       n       n       -       -       pipe
  user=bob argv=$PT_T/exit75.sh
EOM
cat >> "$PT_CONF/main.cf" <<EOM
transport_maps = inline:{ list.example=rec, fail.example=nouser, slow.example=later }
virtual_alias_maps = inline:{ alias@list.example=real@list.example }
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# smtp SENDER OPTIONS RCPT...: EHLO, MAIL with OPTIONS (comma-separated, or
# "-"), RCPT, DATA; prints "ehlo:XVERP" when offered, then the MAIL reply
# code and, when accepted, the end-of-data code.
smtp() {
    python3 - "$PT_PORT" "$@" <<'EOP'
import smtplib, sys
port, sender, opts, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4:]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example")
if s.has_extn("xverp"):
    print("ehlo:XVERP")
code, msg = s.mail(sender, [] if opts == "-" else opts.split(","))
print("mail:%d" % code)
if code == 250:
    for r in rcpts:
        s.rcpt(r)
    code, msg = s.data("Subject: verp\r\n\r\nbody\r\n")
    print("data:%d" % code)
s.quit()
EOP
}
logged() { grep -qxF -- "$1" "$OUT/log" 2>/dev/null; }
lines() { grep -cF -- "$1" "$OUT/log" 2>/dev/null; }

# Not authorized (the default).
r=$(smtp owner@list.example XVERP a@list.example)
pt_check default_not_offered eval '! grep -q ehlo:XVERP <<<"$r"'
pt_check default_refused_555 grep -qx mail:555 <<<"$r"

# Without VERP: one delivery, the plain sender.
r=$(smtp owner@list.example - p@list.example q@list.example)
pt_check plain_accepted grep -qx data:250 <<<"$r"
pt_check plain_one_delivery pt_wait "logged 'owner@list.example p@list.example q@list.example'" 30

# The old name (Postfix 2.0's authorized_verp_clients) is the new one's
# default: honoured, and known to postconf.
pt_cmd postconf -e authorized_verp_clients=127.0.0.1
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
r=$(smtp owner@list.example - o@list.example)
pt_check old_name_honoured grep -qx ehlo:XVERP <<<"$r"
pt_check old_name_known eval 'pt_cmd postconf authorized_verp_clients 2>&1 | grep -qx "authorized_verp_clients = 127.0.0.1"'

pt_cmd postconf -e authorized_verp_clients= smtpd_authorized_verp_clients=127.0.0.1
pt_cmd postfix reload >/dev/null 2>&1
sleep 2

r=$(smtp owner@list.example XVERP a@list.example b@list.example)
pt_check authorized_offered grep -qx ehlo:XVERP <<<"$r"
pt_check xverp_accepted grep -qx data:250 <<<"$r"
pt_check xverp_first pt_wait "logged 'owner+a=list.example@list.example a@list.example'" 30
pt_check xverp_second pt_wait "logged 'owner+b=list.example@list.example b@list.example'" 30

r=$(smtp owner@list.example XVERP=-= c@list.example)
pt_check explicit_delims_accepted grep -qx data:250 <<<"$r"
pt_check explicit_delims_used pt_wait "logged 'owner-c=list.example@list.example c@list.example'" 30

pt_check null_sender_503 grep -qx mail:503 <<<"$(smtp '' XVERP a@list.example)"
pt_check bad_delims_501 grep -qx mail:501 <<<"$(smtp owner@list.example 'XVERP=a@' a@list.example)"
pt_check duplicate_501 grep -qx mail:501 <<<"$(smtp owner@list.example 'XVERP,XVERP=-=' a@list.example)"

# With a DSN envelope ID too (the V and i records both in the queue file).
r=$(smtp owner@list.example 'XVERP,ENVID=list-42' e@list.example)
pt_check with_envid_accepted grep -qx data:250 <<<"$r"
pt_check with_envid_used pt_wait "logged 'owner+e=list.example@list.example e@list.example'" 30

# The original recipient goes into the sender, not what an alias made of it.
r=$(smtp owner@list.example XVERP alias@list.example)
pt_check alias_accepted grep -qx data:250 <<<"$r"
pt_check alias_original_used pt_wait "logged 'owner+alias=list.example@list.example real@list.example'" 30

# sendmail -XV: local submission needs no authorization.
printf 'Subject: local\n\nbody\n' | pt_cmd sendmail -XV -f owner@list.example d@list.example
pt_check sendmail_xv_exit0 test $? -eq 0
pt_check sendmail_xv_used pt_wait "logged 'owner+d=list.example@list.example d@list.example'" 30
pt_check queue_empty_before_bad pt_wait_queue_empty 30
printf 'Subject: bad\n\nbody\n' | pt_cmd sendmail -XVab -f owner@list.example e@list.example 2>/dev/null
pt_check sendmail_bad_delims_exit64 test $? -eq 64
pt_check sendmail_bad_nothing_queued test "$(find "$PT_T/spool/maildrop" -type f | wc -l)" -eq 0

# cleanup checks a V record again (a maildrop file is a local user's work):
# delimiters outside verp_delimiter_filter, or the null sender, and the
# request is ignored with a warning; the mail still goes, plainly.
r=$(pt_cleanup_records S:owner@list.example V:ab R:g@list.example M: "N:Subject: v" N: N:x X: E:)
pt_check cleanup_bad_v_queued grep -q '^0 ' <<<"$r"
pt_check cleanup_bad_v_plain pt_wait "logged 'owner@list.example g@list.example'" 30
pt_check cleanup_bad_v_warned grep -q 'ignoring bad VERP request "ab"' "$PT_T/maillog"
r=$(pt_cleanup_records S: V:+= R:h@list.example M: "N:Subject: v" N: N:x X: E:)
pt_check cleanup_null_v_queued grep -q '^0 ' <<<"$r"
pt_check cleanup_null_v_delivered pt_wait "grep -q ' h@list.example\$' '$OUT/log'" 30
pt_check cleanup_null_v_warned grep -q 'ignoring VERP request for null sender' "$PT_T/maillog"

# Bounces: one per failed recipient, to its VERP address.
r=$(smtp owner@list.example XVERP x@fail.example y@fail.example)
pt_check bounce_source_accepted grep -qx data:250 <<<"$r"
pt_check bounce_to_first pt_wait "lines ' owner+x=fail.example@list.example' | grep -qx 1" 30
pt_check bounce_to_second pt_wait "lines ' owner+y=fail.example@list.example' | grep -qx 1" 30
pt_check bounce_null_sender grep -qE '^(MAILER-DAEMON)? owner\+x=fail.example@list.example$' "$OUT/log"
pt_check bounce_user_unknown grep -q 'to=<x@fail.example>.*dsn=5.1.1, status=bounced' "$PT_T/maillog"
pt_check bounce_none_to_plain eval '! grep -q " owner@list.example$" "$OUT/log"'

# Expired (postsuper -e, then a queue run): one notice per recipient too.
r=$(smtp owner@list.example XVERP t1@slow.example t2@slow.example)
pt_check expire_source_accepted grep -qx data:250 <<<"$r"
pt_check expire_deferred pt_wait '[ "$(find "$PT_T/spool/deferred" -type f | wc -l)" -ge 1 ]' 30
pt_cmd postsuper -e ALL >/dev/null 2>&1
pt_cmd postqueue -f
pt_check expire_to_first pt_wait "lines ' owner+t1=slow.example@list.example' | grep -qx 1" 30
pt_check expire_to_second pt_wait "lines ' owner+t2=slow.example@list.example' | grep -qx 1" 30

pt_cmd postconf -e disable_verp_bounces=yes
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
r=$(smtp owner@list.example XVERP u@fail.example v@fail.example)
pt_check one_bounce_accepted grep -qx data:250 <<<"$r"
pt_check one_bounce_to_plain pt_wait "lines ' owner@list.example' | grep -qx 1" 30
pt_check no_verp_bounce_u eval '! grep -q "owner+u=" "$OUT/log"'
pt_check queue_empty pt_wait_queue_empty 30

# default_verp_delimiters that verp_delimiter_filter does not allow: XVERP
# without a value is a temporary error, sendmail -XV a usage error.
pt_cmd postconf -e default_verp_delimiters=ab
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
pt_check bad_default_451 grep -qx mail:451 <<<"$(smtp owner@list.example XVERP a@list.example)"
printf 'Subject: x\n\nx\n' | pt_cmd sendmail -XV -f owner@list.example a@list.example 2>/dev/null
pt_check bad_default_sendmail_64 test $? -eq 64

pt_stop
pt_done
