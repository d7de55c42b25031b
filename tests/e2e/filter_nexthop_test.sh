#!/usr/bin/env bash
# filter_nexthop_test.sh - the next hop of a content filter named without
# one (content_filter = filt, or FILTER filt: from an access table):
#   - with default_filter_nexthop empty (the default) each recipient's
#     domain, so one message to two domains makes two deliveries;
#   - with default_filter_nexthop = filterhost, that name;
#   - an explicit next hop (filt:given.example) is kept.
# The filter is a pipe(8) service recording ${nexthop} ${recipient}.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
OUT=$PT_T/out
mkdir -p "$OUT"; chown bob: "$OUT"
cat > "$PT_T/rec.sh" <<EOS
#!/bin/sh
cat > /dev/null
nh=\$1; shift
for r in "\$@"; do echo "\$nh \$r" >> $OUT/log; done
EOS
chmod 755 "$PT_T/rec.sh"
cat >> "$PT_CONF/master.cf" <<EOM
filt      unix  -       n       n       -       -       pipe
  user=bob argv=$PT_T/rec.sh \${nexthop} \${recipient}
EOM
cat >> "$PT_CONF/main.cf" <<EOM
content_filter = filt
smtpd_recipient_restrictions = check_recipient_access inline:{ {carol@example.test=FILTER filt:given.example} }, permit_mynetworks, reject
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# send TAG RCPT...: one message, prints the end-of-data reply.
send() {
    local tag=$1
    shift
    python3 - "$PT_PORT" "$tag" "$@" <<'EOP'
import smtplib, sys
port, tag, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.sendmail("sender@example.org", rcpts, "Subject: %s\r\n\r\n%s\r\n" % (tag, tag))
print("250 ok")
s.quit()
EOP
}
logged() { grep -qx -- "$1" "$OUT/log" 2>/dev/null; }

pt_check two_domains_accepted grep -q '^250' <<<"$(send one alice@example.test x@other.example)"
pt_check nexthop_first_domain pt_wait "logged 'example.test alice@example.test'" 30
pt_check nexthop_second_domain pt_wait "logged 'other.example x@other.example'" 30

pt_check explicit_accepted grep -q '^250' <<<"$(send two carol@example.test)"
pt_check explicit_nexthop_kept pt_wait "logged 'given.example carol@example.test'" 30

pt_cmd postconf -e default_filter_nexthop=filterhost
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
pt_check default_set_accepted grep -q '^250' <<<"$(send three bob@example.test y@third.example)"
pt_check default_nexthop_used pt_wait "logged 'filterhost bob@example.test' && logged 'filterhost y@third.example'" 30
pt_check queue_empty pt_wait_queue_empty 30

pt_stop
pt_done
