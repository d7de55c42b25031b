#!/usr/bin/env bash
# pipe_test.sh - the pipe(8) delivery agent against a real instance: a
# recording script (argv, stdin, environment, ids), the message flags, one
# argument per recipient, exit codes (75 defers, 67 bounces with the
# command's output in the DSN), the time limit killing the whole process
# group, and dovecot-lda delivering into a Maildir read back over IMAP.
. "$(dirname "$0")/lib.sh"

pt_setup_users
pt_clean_homes
pt_instance
OUT=$PT_T/out
mkdir -p "$OUT"; chown bob: "$OUT"

# The recorder: arguments, ids, environment and working directory into
# N.meta, the message into N.msg.
cat > "$PT_T/rec.sh" <<EOS
#!/bin/sh
n=\$(date +%s%N)
{
    echo "uid=\$(id -u) gid=\$(id -g)"
    i=0; for a in "\$@"; do echo "arg\$i=\$a"; i=\$((i+1)); done
    env | sort | sed 's/^/env:/'
    echo "cwd=\$(pwd)"
} > $OUT/\$n.tmp
cat > $OUT/\$n.msg
mv $OUT/\$n.tmp $OUT/\$n.meta
EOS
cat > "$PT_T/fail.sh" <<'EOS'
#!/bin/sh
cat > /dev/null
echo "$2"
exit "$1"
EOS
cat > "$PT_T/slow.sh" <<EOS
#!/bin/sh
sleep 300 &
echo \$! > $OUT/bgpid
sleep 300
EOS
chmod 755 "$PT_T"/*.sh

cat >> "$PT_CONF/master.cf" <<EOM
rec       unix  -       n       n       -       -       pipe
  flags=FRODX.> user=bob argv=$PT_T/rec.sh \${sender} \${recipient} \${nexthop} \${user}
  \${extension} \${mailbox} \${domain} \${original_recipient} \${queue_id} \${size}
  \${client_address} \${client_helo} \${client_protocol} \${sasl_method:nosasl}
  \${extension?ext=\$extension} {two words} \$\$literal
multi     unix  -       n       n       -       -       pipe
  flags=u user=bob:carol argv=$PT_T/rec.sh -- \${recipient} end
fail      unix  -       n       n       -       -       pipe
  user=bob argv=$PT_T/fail.sh \${nexthop} {command output for \${recipient}}
slow      unix  -       n       n       -       -       pipe
  user=bob argv=$PT_T/slow.sh
EOM
cat > "$PT_CONF/transport" <<EOM
pipe.test       rec:next.hop.test
multi.test      multi:
t75.test        fail:75
t67.test        fail:67
t99.test        fail:99
slow.test       slow:
EOM
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
transport_maps = texthash:$PT_CONF/transport
rec_destination_recipient_limit = 1
slow_time_limit = 3s
recipient_delimiter = +
EOM
# dovecot (for IMAP and the userdb that dovecot-lda asks) and its transport.
LDA=/usr/lib/dovecot/dovecot-lda
HAVE_LDA=
if [ -x "$LDA" ] && [ -x /usr/sbin/dovecot ]; then
    HAVE_LDA=1
    DV=$PT_T/dovecot; mkdir -p "$DV/run" "$DV/home/carol"; chown carol: "$DV/home/carol"
    chmod 755 "$DV" "$DV/home"
    IMAPPORT=$(pt_free_port)
    echo "carol:{PLAIN}secret:$(id -u carol):$(id -g carol)::$DV/home/carol" > "$DV/passwd"
    cat > "$DV/dovecot.conf" <<EOM
base_dir = $DV/run
state_dir = $DV/state
log_path = /dev/stderr
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
mail_location = maildir:~/Maildir
passdb {
  driver = passwd-file
  args = $DV/passwd
}
userdb {
  driver = passwd-file
  args = $DV/passwd
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = $IMAPPORT
  }
  inet_listener imaps {
    port = 0
  }
}
service auth {
  unix_listener auth-userdb {
    mode = 0666
  }
}
EOM
    /usr/sbin/dovecot -F -c "$DV/dovecot.conf" > "$DV/dovecot.log" 2>&1 & PT_PIDS+=($!)
    cat >> "$PT_CONF/master.cf" <<EOM
dovecot   unix  -       n       n       -       -       pipe
  flags=DRXhu user=carol argv=$LDA -c $DV/dovecot.conf -f \${sender} -d \${user}
EOM
    echo "lda.test dovecot:" >> "$PT_CONF/transport"
    echo "dovecot_destination_recipient_limit = 1" >> "$PT_CONF/main.cf"
fi
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

meta_for() { grep -l "^arg1=$1\$" "$OUT"/*.meta 2>/dev/null | head -1; }
BOB_UID=$(id -u bob); BOB_GID=$(id -g bob); CAROL_GID=$(getent group carol | cut -d: -f3)

# --- one recipient, every flag that changes the content, the macros ---
PT_BODY=$'Subject: pipe one\r\n\r\n.leading dot\r\nFrom the start\r\nlast line\r\n' \
    pt_smtp_send alice@example.test joe+box@pipe.test >/dev/null
pt_check rec_ran pt_wait '[ -n "$(meta_for joe+box@pipe.test)" ]' 20
M=$(meta_for joe+box@pipe.test); MSG=${M%.meta}.msg
pt_check rec_uid_is_user grep -q "^uid=$BOB_UID gid=$BOB_GID\$" "$M"
pt_check rec_sender grep -qx 'arg0=alice@example.test' "$M"
pt_check rec_nexthop grep -qx 'arg2=next.hop.test' "$M"
pt_check rec_user grep -qx 'arg3=joe' "$M"
pt_check rec_extension grep -qx 'arg4=box' "$M"
pt_check rec_mailbox grep -qx 'arg5=joe+box' "$M"
pt_check rec_domain grep -qx 'arg6=pipe.test' "$M"
pt_check rec_original_recipient grep -qx 'arg7=joe+box@pipe.test' "$M"
pt_check rec_queue_id grep -qE '^arg8=[0-9A-Za-z]+$' "$M"
pt_check rec_size grep -qE '^arg9=[1-9][0-9]*$' "$M"
pt_check rec_client_address grep -qx 'arg10=127.0.0.1' "$M"
pt_check rec_client_helo grep -qx 'arg11=client.example.test' "$M"
pt_check rec_client_protocol grep -qx 'arg12=ESMTP' "$M"
pt_check rec_empty_value_text grep -qx 'arg13=nosasl' "$M"
pt_check rec_nonempty_value_text grep -qx 'arg14=ext=box' "$M"
pt_check rec_braced_argument grep -qx 'arg15=two words' "$M"
pt_check rec_dollar_dollar grep -qx 'arg16=$literal' "$M"
pt_check rec_env_path grep -qx 'env:PATH=/usr/bin:/bin' "$M"
pt_check rec_env_no_sender_leak bash -c "! grep -q '^env:SENDER=\|^env:RECIPIENT=' '$M'"
pt_check rec_from_line bash -c "head -1 '$MSG' | grep -q '^From alice@example.test  [A-Z][a-z][a-z] '"
pt_check rec_header_order bash -c "sed -n '2,4p' '$MSG' | tr '\n' '|' | grep -qx 'Return-Path: <alice@example.test>|X-Original-To: joe+box@pipe.test|Delivered-To: joe+box@pipe.test|'"
pt_check rec_dot_stuffed grep -qx '\.\.leading dot' "$MSG"
pt_check rec_from_quoted grep -qx '>From the start' "$MSG"
pt_check rec_logged_sent pt_wait "grep -q 'to=<joe+box@pipe.test>, relay=rec, .*status=sent (delivered via rec service)' '$PT_T/maillog'" 10

# --- D: a Delivered-To: for the recipient already is a loop ---
PT_BODY=$'Delivered-To: loop@pipe.test\r\nSubject: loop\r\n\r\nx\r\n' \
    pt_smtp_send alice@example.test loop@pipe.test >/dev/null
pt_check rec_loop_bounced pt_wait "grep -q 'to=<loop@pipe.test>, .*dsn=5.4.6, status=bounced (mail forwarding loop for loop@pipe.test)' '$PT_T/maillog'" 20

# --- several recipients: ${recipient} is one argument each; u folds; user:group ---
pt_smtp_send alice@example.test One@multi.test TWO@multi.test >/dev/null
pt_check multi_ran pt_wait '[ -n "$(grep -l "^arg0=--\$" "$OUT"/*.meta)" ]' 20
M=$(grep -l '^arg0=--$' "$OUT"/*.meta | head -1)
pt_check multi_one_command [ "$(grep -l '^arg0=--$' "$OUT"/*.meta | wc -l)" = 1 ]
pt_check multi_args bash -c "grep '^arg' '$M' | tr '\n' ' ' | grep -qE '^arg0=-- arg1=(one@multi.test arg2=two|two@multi.test arg2=one)@multi.test arg3=end \$'"
pt_check multi_group_from_user_attr grep -q "^uid=$BOB_UID gid=$CAROL_GID\$" "$M"

# --- exit status ---
pt_smtp_send alice@example.test x@t75.test >/dev/null
pt_check exit75_deferred pt_wait "grep -q 'to=<x@t75.test>, relay=fail, .*dsn=4.3.0, status=deferred (temporary failure. Command output: command output for x@t75.test)' '$PT_T/maillog'" 20
pt_check exit75_still_queued [ "$(find "$PT_T/spool/deferred" "$PT_T/spool/active" "$PT_T/spool/incoming" -type f | wc -l)" -ge 1 ]

pt_smtp_send alice@example.test y@t67.test >/dev/null
pt_check exit67_bounced pt_wait "grep -q 'to=<y@t67.test>, relay=fail, .*dsn=5.1.1, status=bounced (user unknown. Command output: command output for y@t67.test)' '$PT_T/maillog'" 20
dsn_file() { grep -l "$1" "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | head -1; }
pt_check exit67_dsn_delivered pt_wait '[ -n "$(dsn_file "Final-Recipient: rfc822; y@t67.test")" ]' 20
D=$(dsn_file "Final-Recipient: rfc822; y@t67.test")
pt_check exit67_dsn_status grep -q '^Status: 5.1.1' "$D"
pt_check exit67_dsn_diagnostic grep -q '^Diagnostic-Code: x-unix; command output for y@t67.test' "$D"

pt_smtp_send alice@example.test z@t99.test >/dev/null
pt_check exit_unknown_bounced pt_wait "grep -q 'to=<z@t99.test>, .*dsn=5.3.0, status=bounced (Command died with status 99: .*fail.sh 99 command output for z@t99.test\". Command output: command output for z@t99.test)' '$PT_T/maillog'" 20

# --- time limit: the whole process group dies ---
rm -f "$OUT/bgpid"
pt_smtp_send alice@example.test s@slow.test >/dev/null
pt_check slow_started pt_wait '[ -s "$OUT/bgpid" ]' 20
BG=$(cat "$OUT/bgpid" 2>/dev/null)
pt_check slow_bounced_at_limit pt_wait "grep -q 'to=<s@slow.test>, relay=slow, .*dsn=5.3.0, status=bounced (Command time limit exceeded: \"$PT_T/slow.sh\")' '$PT_T/maillog'" 20
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pt_check slow_background_child_killed pt_wait "gone $BG" 5

# --- dovecot-lda into a Maildir, read back over IMAP ---
if [ -n "$HAVE_LDA" ]; then
    pt_check lda_dovecot_ready pt_wait "[ -S $DV/run/auth-userdb ]" 10
    PT_BODY=$'Subject: via dovecot-lda\r\n\r\nbody for the imap reader\r\n' \
        pt_smtp_send alice@example.test carol@lda.test >/dev/null
    pt_check lda_sent pt_wait "grep -q 'to=<carol@lda.test>, relay=dovecot, .*status=sent (delivered via dovecot service)' '$PT_T/maillog'" 30
    F=$(ls "$DV/home/carol/Maildir/new/"* 2>/dev/null | head -1)
    pt_check lda_maildir_file [ -n "$F" ]
    pt_check lda_maildir_owner [ "$(stat -c %U "${F:-/nonexistent}" 2>/dev/null)" = carol ]
    pt_check lda_delivered_to grep -q '^Delivered-To: carol@lda.test' "${F:-/dev/null}"
    pt_check lda_return_path grep -q '^Return-Path: <alice@example.test>' "${F:-/dev/null}"
    if [ -x /usr/lib/dovecot/imap ]; then
        got=$(python3 - "$IMAPPORT" <<'EOP'
import imaplib, sys
m = imaplib.IMAP4("127.0.0.1", int(sys.argv[1]))
m.login("carol", "secret")
m.select("INBOX")
typ, data = m.search(None, "ALL")
for num in data[0].split():
    typ, msg = m.fetch(num, "(RFC822)")
    sys.stdout.write(msg[0][1].decode(errors="replace"))
m.logout()
EOP
)
        pt_check lda_imap_subject grep -q '^Subject: via dovecot-lda' <<<"$got"
        pt_check lda_imap_body grep -q 'body for the imap reader' <<<"$got"
    else
        echo "# dovecot-imapd not installed: IMAP read-back skipped"
    fi
else
    echo "# dovecot-lda not installed: skipped"
fi


pt_done
