#!/usr/bin/env bash
# sendmail_test.sh - local submission: sendmail -> postdrop -> maildrop ->
# pickup -> cleanup -> delivery to a Maildir; -t with Bcc, -f, -bs, an
# unprivileged submitter, and postdrop refusing malformed input.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
SM=$PT_BUILD/sbin/sendmail
maildir_count() { ls "$PT_HOMES/$1/Maildir/new" 2>/dev/null | wc -l; }
maildir_grep() { grep -l -- "$2" "$PT_HOMES/$1"/Maildir/new/* >/dev/null 2>&1; }

# Plain submission with recipients on the command line.
printf 'Subject: plain\n\nplain body\n.\nnot delivered\n' | "$SM" -f sender@example.org alice@example.test
pt_check plain_exit_0 [ $? -eq 0 ]
pt_wait '[ "$(maildir_count alice)" -ge 1 ]' 30
pt_check plain_delivered maildir_grep alice 'plain body'
pt_check plain_dot_ends_input bash -c "! grep -q 'not delivered' $PT_HOMES/alice/Maildir/new/*"
pt_check plain_return_path maildir_grep alice 'Return-Path: <sender@example.org>'

# -XV (VERP): the recipient is folded into the return path.
printf 'Subject: verp\n\nverp body\n' | "$SM" -XV -f list-owner@example.org alice@example.test 2>"$PT_T/verp.err"
pt_check verp_exit_0 [ $? -eq 0 ]
pt_check verp_delivered pt_wait 'maildir_grep alice "verp body"' 30
pt_check verp_return_path maildir_grep alice 'Return-Path: <list-owner+alice=example.test@example.org>'

# -t: recipients from To/Cc/Bcc; Bcc is removed from the delivered copy.
printf 'To: bob@example.test\nBcc: carol@example.test\nSubject: extract\n\nbody t\n' \
    | "$SM" -t -f t@example.org
pt_check extract_exit_0 [ $? -eq 0 ]
pt_wait '[ "$(maildir_count bob)" -ge 1 ] && [ "$(maildir_count carol)" -ge 1 ]' 30
pt_check extract_to_delivered maildir_grep bob 'body t'
pt_check extract_bcc_delivered maildir_grep carol 'body t'
pt_check extract_bcc_hidden bash -c "! grep -qi '^Bcc:' $PT_HOMES/bob/Maildir/new/* $PT_HOMES/carol/Maildir/new/*"

# -i: a lone dot is data.
pt_clean_homes
printf 'Subject: dots\n\nline1\n.\nline3\n' | "$SM" -i -f x@example.org bob@example.test
pt_wait '[ "$(maildir_count bob)" -ge 1 ]' 30
pt_check dash_i_keeps_dot maildir_grep bob 'line3'

# No recipients: usage error, exit 64.
printf 'x\n' | "$SM" 2>/dev/null
pt_check no_recipients_ex_usage [ $? -eq 64 ]

# -bs: an SMTP session on stdin/stdout.
pt_clean_homes
out=$(printf 'EHLO me\r\nMAIL FROM:<bs@example.org>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\nSubject: bs\r\n\r\n..stuffed\r\n.\r\nQUIT\r\n' | "$SM" -bs)
pt_check bs_greeting bash -c "printf '%s' \"\$1\" | head -1 | grep -q '^220 '" _ "$out"
pt_check bs_queued bash -c "printf '%s' \"\$1\" | grep -q '^250 2.0.0 Ok: queued as '" _ "$out"
pt_check bs_bye bash -c "printf '%s' \"\$1\" | grep -q '^221 2.0.0 Bye'" _ "$out"
pt_wait '[ "$(maildir_count alice)" -ge 1 ]' 30
pt_check bs_delivered maildir_grep alice '^\.stuffed'
out=$(printf 'DATA\r\nRCPT TO:<a@b>\r\nFOO\r\nQUIT\r\n' | "$SM" -bs)
pt_check bs_data_needs_rcpt bash -c "printf '%s' \"\$1\" | grep -q '^503 5.5.1 Error: need RCPT command'" _ "$out"
pt_check bs_rcpt_needs_mail bash -c "printf '%s' \"\$1\" | grep -q '^503 5.5.1 Error: need MAIL command'" _ "$out"
pt_check bs_unknown_command bash -c "printf '%s' \"\$1\" | grep -q '^502 5.5.2'" _ "$out"

# postdrop refuses malformed input and leaves nothing in maildrop/.
before=$(ls "$PT_T/spool/maildrop" | wc -l)
printf 'S\001aA\003x=y' | "$PT_BUILD/sbin/postdrop" 2>"$PT_T/pd.err"
pt_check postdrop_refuses_bad_record [ $? -ne 0 ]
pt_check postdrop_says_why grep -q 'malformed input' "$PT_T/pd.err"
pt_check postdrop_leaves_nothing [ "$(ls "$PT_T/spool/maildrop" | wc -l)" -eq "$before" ]

# An unprivileged user (alice) submits: postdrop is setgid postdrop, and
# the instance's config directory must be trusted by the default main.cf.
pt_clean_homes
DEF=/etc/postfix/main.cf
if [ -e "$DEF" ]; then cp -p "$DEF" "$PT_T/default-main.cf.save"; else mkdir -p /etc/postfix; fi
restore_default() {
    if [ -e "$PT_T/default-main.cf.save" ]; then cp -p "$PT_T/default-main.cf.save" "$DEF"; else rm -f "$DEF"; fi
}
echo "alternate_config_directories = $PT_CONF" >> "$DEF"
chmod 755 "$PT_CONF"; chmod 644 "$PT_CONF/main.cf"
su alice -s /bin/sh -c "printf 'Subject: from alice\n\nuser body\n' | MAIL_CONFIG=$PT_CONF $SM bob@example.test"
rc=$?
restore_default
pt_check user_submit_exit_0 [ $rc -eq 0 ]
pt_wait '[ "$(maildir_count bob)" -ge 1 ]' 30
pt_check user_submit_delivered maildir_grep bob 'user body'
pt_check user_sender_is_login maildir_grep bob 'Return-Path: <alice@'
pt_check pickup_logs_uid grep -q "pickup.*uid=$(id -u alice) from=<alice>" "$PT_T/maillog"

# A non-root user may not pick an untrusted configuration directory.
su alice -s /bin/sh -c "printf 'x\n' | MAIL_CONFIG=$PT_CONF $SM bob@example.test" 2>"$PT_T/untrusted.err"
pt_check untrusted_config_refused [ $? -ne 0 ]
pt_check untrusted_config_says_why grep -q 'untrusted configuration directory' "$PT_T/untrusted.err"
pt_done
