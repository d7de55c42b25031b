#!/usr/bin/env bash
# header_checks_test.sh - header_checks, mime_header_checks,
# nested_header_checks and body_checks in cleanup(8), every action of
# header_checks(5), seen from SMTP replies, sendmail bounces, the Maildirs,
# the hold queue and the log: REJECT (550 5.7.1, log line, DSN for sendmail
# mail), DEFER (451 4.7.1), WARN, INFO, IGNORE, HOLD, DISCARD, DUNNO, OK,
# REPLACE, PREPEND, REDIRECT, BCC, FILTER (through a second smtpd that
# re-injects with receive_override_options=no_header_body_checks), a folded
# header matched unfolded, an .exe attachment name in a multipart message,
# a nested message/rfc822, body lines (REJECT, REPLACE, IGNORE, and
# body_checks_size_limit), and the second smtpd letting a rejected message
# through.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes

SM=$PT_BUILD/sbin/sendmail
pt_instance
PORT2=$(pt_free_port)
C=$PT_CONF
cat >> "$C/main.cf" <<EOM
home_mailbox = Maildir/
header_checks = regexp:$C/header_checks
mime_header_checks = regexp:$C/mime_header_checks
nested_header_checks = pcre:$C/nested_header_checks
body_checks = regexp:$C/body_checks
body_checks_size_limit = 2000
smtp_header_checks = regexp:$C/smtp_header_checks
smtp_body_checks = regexp:$C/smtp_body_checks
EOM
# In the smtp client (the FILTER delivery goes through it).
cat > "$C/smtp_header_checks" <<'EOM'
/^X-Outbound-Secret:/      IGNORE
/^X-Outbound-Old:/         REPLACE X-Outbound-New: replaced by smtp_header_checks
/^Subject: hc-filter/      WARN leaving through smtp
EOM
cat > "$C/smtp_body_checks" <<'EOM'
/^outbound-body-secret/    REPLACE outbound body line replaced
EOM
# The re-injection (and "no checks") service.
echo "127.0.0.1:$PORT2 inet n - n - - smtpd -o receive_override_options=no_header_body_checks" >> "$C/master.cf"
cat > "$C/header_checks" <<EOM
/^Subject: hc-ok\b/             OK
/^Subject: hc-dunno\b/          DUNNO
/^Subject:.*forbidden/          REJECT no forbidden words here
/^Subject: hc-defer\b/          DEFER try again later
/^Subject: hc-warn\b/           WARN suspicious subject
/^Subject: hc-info\b/           INFO noted subject
/^Subject: hc-hold\b/           HOLD held for review
/^Subject: hc-discard\b/        DISCARD thrown away
/^Subject: hc-redirect\b/       REDIRECT carol@example.test
/^Subject: hc-toself\b/         REDIRECT carol@example.test
/^Subject: hc-bcc\b/            BCC carol@example.test
/^Subject: hc-filter\b/         FILTER smtp:[127.0.0.1]:$PORT2
/^Subject: hc-prepend\b/        PREPEND X-Prepended: by header_checks
/^Subject: hc-folded two lines/ REJECT 5.7.2 folded header matched
/^X-Filter-Me:/                 FILTER smtp:[127.0.0.1]:$PORT2
/^X-Remove-Me:/                 IGNORE
/^X-Replace-Me:/                REPLACE X-Replaced: new value
/^X-Bad-Replace:/               REPLACE no colon here
EOM
cat > "$C/mime_header_checks" <<'EOM'
/^Content-(Disposition|Type):.*name *= *"?[^"]*\.exe"?/  REJECT executable attachments are not accepted
EOM
cat > "$C/nested_header_checks" <<'EOM'
/^Subject: nested-bad/  REJECT attached message refused
EOM
cat > "$C/body_checks" <<'EOM'
/^body-reject-me/   REJECT body line refused
/^body-replace-me/  REPLACE body line replaced
/^body-ignore-me/   IGNORE
/^late-marker/      REJECT too late to matter
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
pt_wait_smtp "$PORT2" 20 || pt_fail start2 "second smtpd did not answer"

# send PORT FROM TO FILE: SMTP with smtplib; prints "CODE TEXT".
send() {
    python3 - "$@" <<'EOP'
import smtplib, sys
port, sender, rcpt, path = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body = open(path, "rb").read().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
try:
    s.sendmail(sender, [rcpt], body)
    print("250 ok")
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
except smtplib.SMTPRecipientsRefused as e:
    for r, (code, msg) in e.recipients.items():
        print(code, msg.decode())
s.quit()
EOP
}
M=$PT_T/msgs; mkdir -p "$M"
msg() { printf 'From: sender@example.org\nTo: alice@example.test\nSubject: %s\n%s\nbody of %s\n' "$1" "${2:-}" "$1" > "$M/$1"; }
# count USER SUBJECT: delivered messages whose Subject starts with SUBJECT
count() { grep -l "^Subject: $2\b" "$PT_HOMES/$1/Maildir/new/"* 2>/dev/null | wc -l; }
file_of() { grep -l "^Subject: $2\b" "$PT_HOMES/$1/Maildir/new/"* 2>/dev/null | head -1; }
log_has() { grep -qE "$1" "$PT_T/maillog"; }

# ---- REJECT / DEFER over SMTP ----
msg hc-x-forbidden
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-x-forbidden")
pt_check reject_550_571 [ "$r" = "550 5.7.1 no forbidden words here" ]
pt_check reject_logged log_has ': reject: header Subject: hc-x-forbidden from localhost\[127\.0\.0\.1\]; from=<sender@example\.org> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>: 5\.7\.1 no forbidden words here'
msg hc-defer
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-defer")
pt_check defer_451_471 [ "$r" = "451 4.7.1 try again later" ]
printf 'From: s@example.org\nSubject: hc-folded\n two lines\n\nbody\n' > "$M/folded"
r=$(send $PT_PORT sender@example.org alice@example.test "$M/folded")
pt_check folded_header_matched_unfolded [ "$r" = "550 5.7.2 folded header matched" ]

# ---- DUNNO / OK stop the search: the REJECT rule after them is not used ----
msg "hc-ok forbidden"; msg "hc-dunno forbidden"
r1=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-ok forbidden")
r2=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-dunno forbidden")
pt_check ok_dunno_accepted [ "$r1 / $r2" = "250 ok / 250 ok" ]

# ---- WARN, INFO, IGNORE, REPLACE, PREPEND: delivered, changed ----
msg hc-warn; msg hc-info
msg hc-prepend $'X-Remove-Me: secret\nX-Replace-Me: old value\nX-Keep: kept\nContent-Length: 99\nX-Bad-Replace: stays'
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-warn")
pt_check warn_accepted [ "$r" = "250 ok" ]
send $PT_PORT sender@example.org alice@example.test "$M/hc-info" >/dev/null
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-prepend")
pt_check prepend_accepted [ "$r" = "250 ok" ]

# ---- HOLD, DISCARD, REDIRECT, BCC ----
msg hc-hold; msg hc-discard; msg hc-redirect; msg hc-bcc
msg hc-hold-filtered 'X-Filter-Me: yes'
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-hold-filtered")
pt_check hold_filtered_accepted [ "$r" = "250 ok" ]
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-hold")
pt_check hold_accepted [ "$r" = "250 ok" ]
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-discard")
pt_check discard_accepted [ "$r" = "250 ok" ]
send $PT_PORT sender@example.org alice@example.test "$M/hc-redirect" >/dev/null
# A REDIRECT to the one recipient the message already has.
msg hc-toself
r=$(send $PT_PORT sender@example.org carol@example.test "$M/hc-toself")
pt_check redirect_to_same_accepted [ "$r" = "250 ok" ]
printf 'From: bob@example.test\nSubject: hc-toself sm\n\nbody\n' |
    MAIL_CONFIG=$C $SM -f bob@example.test carol@example.test
send $PT_PORT sender@example.org alice@example.test "$M/hc-bcc" >/dev/null

# ---- FILTER: to the second smtpd, which re-injects without checks ----
printf 'From: sender@example.org\nTo: alice@example.test\nSubject: hc-filter\nX-Outbound-Secret: s\nX-Outbound-Old: o\n\nbody\noutbound-body-secret here\n' > "$M/hc-filter"
r=$(send $PT_PORT sender@example.org alice@example.test "$M/hc-filter")
pt_check filter_accepted [ "$r" = "250 ok" ]

# ---- MIME: an .exe attachment, a nested message, a clean multipart ----
mime() {  # mime SUBJECT FILENAME NESTED_SUBJECT
    cat <<EOM
From: sender@example.org
To: alice@example.test
Subject: $1
MIME-Version: 1.0
Content-Type: multipart/mixed;
	boundary="=-outer-="

This is a multipart message.
--=-outer-=
Content-Type: text/plain

see attachment
--=-outer-=
Content-Type: application/octet-stream
Content-Disposition: attachment;
	filename="$2"
Content-Transfer-Encoding: base64

TVqQAAMAAAAEAAAA//8AALgAAAAAAAAAQAAAAAAAAAAA
--=-outer-=
Content-Type: message/rfc822

From: inner@example.org
Subject: $3

inner body
--=-outer-=--
EOM
}
mime mime-exe setup.exe nested-ok > "$M/mime-exe"
mime mime-nested report.pdf nested-bad > "$M/mime-nested"
mime mime-clean report.pdf nested-ok > "$M/mime-clean"
r=$(send $PT_PORT sender@example.org alice@example.test "$M/mime-exe")
pt_check mime_exe_rejected [ "$r" = "550 5.7.1 executable attachments are not accepted" ]
pt_check mime_exe_logged log_has ': reject: header Content-Disposition: attachment;.filename="setup\.exe" from localhost\[127\.0\.0\.1\];'
r=$(send $PT_PORT sender@example.org alice@example.test "$M/mime-nested")
pt_check nested_rejected [ "$r" = "550 5.7.1 attached message refused" ]
r=$(send $PT_PORT sender@example.org alice@example.test "$M/mime-clean")
pt_check mime_clean_accepted [ "$r" = "250 ok" ]
# The nested Subject is not a primary header: header_checks' rules for
# Subject do not see it (the inner "nested forbidden" would be rejected).
mime mime-inner-subject report.pdf "nested forbidden" > "$M/mime-inner"
r=$(send $PT_PORT sender@example.org alice@example.test "$M/mime-inner")
pt_check nested_not_header_checks [ "$r" = "250 ok" ]

# ---- body_checks ----
printf 'Subject: body-reject\n\nline one\nbody-reject-me please\n' > "$M/body-reject"
r=$(send $PT_PORT sender@example.org alice@example.test "$M/body-reject")
pt_check body_reject_550 [ "$r" = "550 5.7.1 body line refused" ]
pt_check body_reject_logged log_has ': reject: body body-reject-me please from localhost\[127\.0\.0\.1\]; from=<sender@example\.org> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>: 5\.7\.1 body line refused'
{ printf 'Subject: body-edit\n\nfirst\nbody-replace-me x\nbody-ignore-me y\n'
  python3 -c 'print("z" * 2100)'; printf 'late-marker beyond the limit\nlast\n'; } > "$M/body-edit"
r=$(send $PT_PORT sender@example.org alice@example.test "$M/body-edit")
pt_check body_size_limit_honoured [ "$r" = "250 ok" ]
# A header line is not a body line.
printf 'Subject: body-hdr\nX-Note: body-reject-me\n\nclean\n' > "$M/body-hdr"
r=$(send $PT_PORT sender@example.org alice@example.test "$M/body-hdr")
pt_check body_checks_skip_headers [ "$r" = "250 ok" ]

# ---- no_header_body_checks on the second smtpd ----
r=$(send $PORT2 sender@example.org alice@example.test "$M/hc-x-forbidden")
pt_check no_header_body_checks_accepts [ "$r" = "250 ok" ]
r=$(send $PORT2 sender@example.org alice@example.test "$M/mime-exe")
pt_check no_header_body_checks_mime [ "$r" = "250 ok" ]

# ---- sendmail: REJECT becomes a bounce to the sender ----
printf 'From: bob@example.test\nSubject: sm-forbidden\n\nbody\n' |
    MAIL_CONFIG=$C $SM -f bob@example.test alice@example.test
pt_check sendmail_exit_0 [ $? -eq 0 ]
printf 'From: bob@example.test\nSubject: hc-hold sm\n\nbody\n' |
    MAIL_CONFIG=$C $SM -f bob@example.test alice@example.test

# ---- wait for the results ----
pt_wait '[ "$(count alice hc-prepend)" -ge 1 ] && [ "$(count carol hc-redirect)" -ge 1 ] && [ "$(count carol hc-bcc)" -ge 1 ] && [ "$(count alice hc-filter)" -ge 1 ] && [ "$(count alice mime-clean)" -ge 1 ] && [ "$(count alice body-edit)" -ge 1 ]' 40
pt_wait 'grep -l "sm-forbidden" "$PT_HOMES/bob/Maildir/new/"* >/dev/null 2>&1' 30
pt_wait '[ "$(ls "$PT_T/spool/hold" | wc -l)" -ge 3 ]' 20

pt_check warn_logged log_has ': warning: header Subject: hc-warn from localhost\[127\.0\.0\.1\]; from=<sender@example\.org> to=<alice@example\.test> proto=ESMTP helo=<client\.example\.test>: suspicious subject'
pt_check info_logged log_has ': info: header Subject: hc-info from localhost\[127\.0\.0\.1\];.*: noted subject'
pt_check warn_delivered [ "$(count alice hc-warn)" = 1 ]
pt_check info_delivered [ "$(count alice hc-info)" = 1 ]
pt_check ok_delivered [ "$(count alice 'hc-ok forbidden')" = 1 ]
pt_check dunno_delivered [ "$(count alice 'hc-dunno forbidden')" = 1 ]
pt_check reject_not_delivered [ "$(count alice hc-x-forbidden)" = 1 ]   # only the PORT2 copy
pt_check nested_forbidden_delivered [ "$(count alice mime-inner-subject)" = 1 ]
f=$(file_of alice hc-prepend)
pt_check prepend_header_added grep -q '^X-Prepended: by header_checks$' "$f"
pt_check prepend_before_subject bash -c "grep -n '' '$f' | grep -E 'X-Prepended|^[0-9]+:Subject: hc-prepend' | head -1 | grep -q X-Prepended"
pt_check ignore_header_removed bash -c "! grep -q 'X-Remove-Me' '$f'"
pt_check replace_header_replaced bash -c "grep -q '^X-Replaced: new value$' '$f' && ! grep -q 'X-Replace-Me' '$f'"
pt_check other_header_kept grep -q '^X-Keep: kept$' "$f"
pt_check bad_replace_header_kept grep -q '^X-Bad-Replace: stays$' "$f"
pt_check bad_replace_warned log_has 'warning: [0-9A-Za-z]+: bad REPLACE action in header_checks: "REPLACE no colon here" \(the text must be a header\)'
pt_check content_length_still_dropped bash -c "! grep -qi '^Content-Length' '$f'"

HQ=$("$PT_BUILD/sbin/postqueue" -c "$C" -j 2>/dev/null)
pt_check hold_in_hold_queue bash -c "python3 -c '
import json, sys
n = 0
for line in sys.stdin:
    if line.strip() and json.loads(line).get(\"queue_name\") == \"hold\": n += 1
sys.exit(0 if n >= 2 else 1)' <<<'$HQ'"
# The FILTER choice is in the queue file, where postcat shows it.
fid=$(grep -h "filter: header X-Filter-Me: yes" "$PT_T/maillog" | sed -n 's/.*]: \([0-9A-Za-z]*\): filter:.*/\1/p' | head -1)
pc=$("$PT_BUILD/sbin/postcat" -c "$C" -q "$fid" 2>&1)
pt_check filter_record_in_queue_file grep -q "^content_filter: smtp:\[127\.0\.0\.1\]:$PORT2\$" <<<"$pc"
pt_check hold_logged log_has ': hold: header Subject: hc-hold from localhost\[127\.0\.0\.1\];.*: held for review'
pt_check hold_not_delivered [ "$(count alice hc-hold)" = 0 ]
pt_check discard_logged log_has ': discard: header Subject: hc-discard from localhost\[127\.0\.0\.1\];.*: thrown away'
pt_check discard_not_delivered [ "$(count alice hc-discard)" = 0 ]
pt_check redirect_to_carol [ "$(count carol hc-redirect)" = 1 ]
pt_check redirect_not_to_alice [ "$(count alice hc-redirect)" = 0 ]
pt_wait '[ "$(count carol hc-toself)" -ge 2 ]' 20
pt_check redirect_to_same_delivered [ "$(count carol hc-toself)" = 2 ]
pt_check redirect_to_same_sendmail_delivered [ "$(count carol 'hc-toself sm')" = 1 ]
pt_check redirect_logged log_has ': redirect: header Subject: hc-redirect from .*: carol@example\.test'
pt_check bcc_to_both bash -c "[ $(count carol hc-bcc) = 1 ] && [ $(count alice hc-bcc) = 1 ]"
pt_check filter_logged log_has ": filter: header Subject: hc-filter from .*: smtp:\[127\.0\.0\.1\]:$PORT2"
pt_check filter_delivered_once [ "$(count alice hc-filter)" = 1 ]
f=$(file_of alice hc-filter)
pt_check filter_went_through_filter_port [ "$(grep -c '^Received: ' "$f")" -ge 2 ]
pt_check smtp_header_checks_ignore bash -c "! grep -q '^X-Outbound-Secret' '$f'"
pt_check smtp_header_checks_replace grep -q '^X-Outbound-New: replaced by smtp_header_checks$' "$f"
pt_check smtp_body_checks_replace bash -c "grep -q '^outbound body line replaced$' '$f' && ! grep -q 'outbound-body-secret' '$f'"
pt_check smtp_header_checks_warn log_has 'postfix/smtp\[[0-9]+\]: [0-9A-Za-z]+: warning: header Subject: hc-filter: leaving through smtp'
pt_check filter_relay_logged log_has "relay=127\.0\.0\.1\[127\.0\.0\.1\]:$PORT2.*status=sent"
f=$(file_of alice mime-clean)
pt_check mime_clean_intact bash -c "grep -q '^inner body$' '$f' && grep -q 'filename=\"report.pdf\"' '$f' && grep -q '^--=-outer-=--$' '$f'"
f=$(file_of alice body-edit)
pt_check body_replace bash -c "grep -q '^body line replaced$' '$f' && ! grep -q 'body-replace-me' '$f'"
pt_check body_ignore bash -c "! grep -q 'body-ignore-me' '$f' && grep -q '^first$' '$f'"
pt_check body_past_limit_kept grep -q '^late-marker beyond the limit$' "$f"
pt_check no_checks_delivered [ "$(count alice mime-exe)" = 1 ]
b=$(grep -l "sm-forbidden" "$PT_HOMES/bob/Maildir/new/"* 2>/dev/null | head -1)
pt_check sendmail_reject_bounced bash -c "[ -n '$b' ] && grep -q 'Status: 5.7.1' '$b' && grep -qi 'no forbidden words here' '$b'"
pt_check sendmail_reject_logged log_has ': reject: header Subject: sm-forbidden from local; from=<bob@example\.test> to=<alice@example\.test>.*: 5\.7\.1 no forbidden words here'
pt_check sendmail_not_delivered [ "$(count alice sm-forbidden)" = 0 ]
pt_done
