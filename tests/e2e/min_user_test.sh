#!/usr/bin/env bash
# min_user_test.sh - allow_min_user: a recipient that starts with '-' never
# reaches a delivery agent's command line unless the administrator allows it.
# Against a real instance with a pipe(8) transport that records its argv:
#   - smtpd rejects RCPT TO:<-alice@example.test> with 501 5.1.3 Bad
#     recipient address syntax (trivial-rewrite calls it a syntax error,
#     as Postfix's does, and smtpd checks the syntax before anything else);
#   - a message submitted with sendmail to -oQ/tmp/x@pipe.test (a pipe
#     transport; sendmail does not go through smtpd) is bounced by
#     qmgr with dsn=5.1.3 and the pipe command never runs for it, while
#     ok@pipe.test in the same message is delivered;
#   - with allow_min_user = yes the same recipient is delivered and the
#     command gets it as written.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
OUT=$PT_T/out
mkdir -p "$OUT"; chown bob: "$OUT"
cat > "$PT_T/rec.sh" <<EOS
#!/bin/sh
for a in "\$@"; do echo "arg=\$a"; done > $OUT/\$(date +%s%N).args
cat > /dev/null
EOS
chmod 755 "$PT_T/rec.sh"
cat >> "$PT_CONF/master.cf" <<EOM
rec       unix  -       n       n       -       -       pipe
  user=bob argv=$PT_T/rec.sh \${recipient}
EOM
echo "pipe.test rec:" > "$PT_CONF/transport"
cat >> "$PT_CONF/main.cf" <<EOM
transport_maps = texthash:$PT_CONF/transport
rec_destination_recipient_limit = 1
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
LOG=$PT_T/maillog

out=$(pt_smtp_send sender@example.org -alice@example.test)
pt_check smtpd_rejects_dash_recipient grep -q '^501 5.1.3 Bad recipient address syntax' <<<"$out"

printf 'Subject: dash\n\nbody\n' | pt_cmd sendmail -f sender@example.org -- -oQ/tmp/x@pipe.test ok@pipe.test
pt_check dash_recipient_bounced pt_wait "grep -qE 'to=<-oQ/tmp/x@pipe.test>, .*dsn=5.1.3, status=bounced \\(Bad recipient address syntax\\)' '$LOG'" 20
pt_check other_recipient_delivered pt_wait "grep -q '^arg=ok@pipe.test$' $OUT/*.args 2>/dev/null" 20
pt_check command_never_saw_dash bash -c "! grep -q -- '-oQ' $OUT/*.args"

echo "allow_min_user = yes" >> "$PT_CONF/main.cf"
pt_cmd postfix reload >/dev/null 2>&1
sleep 1
rm -f "$OUT"/*.args
printf 'Subject: dash allowed\n\nbody\n' | pt_cmd sendmail -f sender@example.org -- -oQ/tmp/y@pipe.test
pt_check allowed_dash_recipient_delivered pt_wait "grep -q '^arg=-oQ/tmp/y@pipe.test$' $OUT/*.args 2>/dev/null" 20
pt_check allowed_logged_sent pt_wait "grep -qE 'to=<-oQ/tmp/y@pipe.test>, .*status=sent' '$LOG'" 20

pt_stop
pt_done
