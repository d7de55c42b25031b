#!/usr/bin/env bash
# compat_options_test.sh - three Postfix compatibility settings on real
# instances:
#   sendmail_fix_line_endings  the bytes delivered to a Maildir for input with
#                              CR LF, bare LF and bare CR under always (the
#                              default), strict and never; a bad value;
#   frozen_delivered_to        the Delivered-To: header of mail delivered
#                              through an alias and a .forward, yes (default)
#                              and no; the loop check is the same for both;
#   enable_threaded_bounces    In-Reply-To:/References: with the original's
#                              Message-ID in a non-delivery and a success
#                              notice with yes, none by default.
# Instance A runs the defaults, instance B frozen_delivered_to = no and
# enable_threaded_bounces = yes.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
SM=$PT_BUILD/sbin/sendmail

# setup_instance [MAIN.CF LINE...]: a new instance (the previous one, if
# any, stopped) with Maildir delivery, the alias "staff: alice, carol" and
# carol's .forward to bob; mail for other domains (the notices to
# sender@example.org) is discarded; extra main.cf lines as given.
setup_instance() {
    pt_stop
    pt_clean_homes
    pt_instance
    cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
local_recipient_maps =
default_transport = discard:
EOM
    local l
    for l in "$@"; do echo "$l" >> "$PT_CONF/main.cf"; done
    echo 'staff: alice, carol' >> "$PT_CONF/aliases"
    echo bob > "$PT_HOMES/carol/.forward"
    chown carol: "$PT_HOMES/carol/.forward"; chmod 644 "$PT_HOMES/carol/.forward"
    pt_start
}

# msg USER SUBJECT: prints the path of USER's newest Maildir message whose
# Subject: header (the CR of a CR LF header line allowed) is SUBJECT.
msg() {
    python3 - "$PT_HOMES/$1/Maildir/new" "$2" <<'EOP'
import os, re, sys
d, subj = sys.argv[1], sys.argv[2].encode()
pat = re.compile(rb"^Subject: " + re.escape(subj) + rb"\r?$", re.M | re.I)
try:
    names = sorted(os.listdir(d), key=lambda n: os.stat(os.path.join(d, n)).st_mtime, reverse=True)
except OSError:
    sys.exit(1)
for n in names:
    p = os.path.join(d, n)
    with open(p, "rb") as f:
        data = f.read()
    if pat.search(data.split(b"\n\n", 1)[0]):
        print(p); sys.exit(0)
sys.exit(1)
EOP
}
# no_msg USER SUBJECT: USER has no such message.
no_msg() { ! msg "$1" "$2" >/dev/null; }
# msg_wait USER SUBJECT: waits for that message (30 s).
msg_wait() { pt_wait "msg $1 '$2' >/dev/null" 30; }

# body_is USER SUBJECT PYTHON-BYTES: the message body (after the first empty
# line) is exactly these bytes, e.g. 'b"one\r\ntwo\n"'.
body_is() {
    python3 - "$(msg "$1" "$2")" "$3" <<'EOP'
import ast, sys
path, want = sys.argv[1], ast.literal_eval(sys.argv[2])
with open(path, "rb") as f:
    body = f.read().split(b"\n\n", 1)[1]
if body != want:
    print("    body %r, want %r" % (body, want)); sys.exit(1)
EOP
}
# has_bytes USER SUBJECT PYTHON-BYTES: the message contains these bytes.
has_bytes() {
    python3 - "$(msg "$1" "$2")" "$3" <<'EOP'
import ast, sys
with open(sys.argv[1], "rb") as f:
    data = f.read()
if ast.literal_eval(sys.argv[2]) not in data:
    print("    %s lacks %s" % (sys.argv[1], sys.argv[2])); sys.exit(1)
EOP
}
# headers_are USER SUBJECT NAME VALUE...: the message's NAME: headers, in
# order, have exactly these values (none given: no such header).
headers_are() {
    python3 - "$(msg "$1" "$2")" "${@:3}" <<'EOP'
import email, email.policy, sys
path, name, want = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path, "rb") as f:
    m = email.message_from_binary_file(f, policy=email.policy.compat32)
got = [v.strip() for v in m.get_all(name, [])]
if got != want:
    print("    %s: %r, want %r" % (name, got, want)); sys.exit(1)
EOP
}

# send FROM RCPT_OPTS TO SUBJECT [EXTRA_HEADER]: one SMTP transaction with
# RCPT parameters (may be empty); the message has a Message-ID of
# <SUBJECT@client.example.test>. Prints the reply code.
send() {
    python3 - "$PT_PORT" "$@" <<'EOP'
import smtplib, sys
port, sender, ropts, rcpt, subj = int(sys.argv[1]), sys.argv[2], sys.argv[3].split(), sys.argv[4], sys.argv[5]
extra = sys.argv[6] + "\r\n" if len(sys.argv) > 6 else ""
body = ("%sSubject: %s\r\nMessage-ID: <%s@client.example.test>\r\n\r\nbody of %s\r\n"
        % (extra, subj, subj, subj))
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
try:
    s.sendmail(sender, [rcpt], body, [], ropts)
    print("250")
except smtplib.SMTPRecipientsRefused as e:
    print(list(e.recipients.values())[0][0])
except smtplib.SMTPResponseException as e:
    print(e.smtp_code)
s.quit()
EOP
}

# set_eol VALUE: sendmail_fix_line_endings in main.cf (empty: the default).
# sendmail reads main.cf itself, at each run: no reload is needed.
set_eol() {
    sed -i '/^sendmail_fix_line_endings/d' "$PT_CONF/main.cf"
    [ -z "$1" ] || echo "sendmail_fix_line_endings = $1" >> "$PT_CONF/main.cf"
}

# ======== instance A: the defaults ========
setup_instance || { pt_fail start_a "instance did not start"; pt_done; exit 1; }

# ---- sendmail_fix_line_endings ----
# What sendmail leaves of a CR (inside a line, or before the LF) reaches
# cleanup, which turns it into a space (cleanup_replace_stray_cr_lf = yes,
# the default, as in Postfix 3.7.10 and later).
# always (the default): CR LF and LF end lines, ".\r\n" ends the input, a
# CR elsewhere is data.
printf 'Subject: eol-always\r\n\r\nline one\r\nbare\rcr\nbare lf\n.\r\nafter dot\n' \
    | "$SM" -f eol@example.org alice@example.test
pt_check eol_always_exit_0 [ $? -eq 0 ]
pt_check eol_always_delivered msg_wait alice eol-always
pt_check eol_always_body body_is alice eol-always 'b"line one\nbare cr\nbare lf\n"'
pt_check eol_always_header_no_cr has_bytes alice eol-always 'b"\nSubject: eol-always\n"'

# strict, first line ends in CR LF: as always.
set_eol strict
printf 'Subject: eol-strict-crlf\r\n\r\nline one\r\nbare\rcr\nbare lf\n' \
    | "$SM" -f eol@example.org alice@example.test
pt_check eol_strict_crlf_delivered msg_wait alice eol-strict-crlf
pt_check eol_strict_crlf_body body_is alice eol-strict-crlf 'b"line one\nbare cr\nbare lf\n"'

# strict, first line ends in a bare LF: sendmail keeps every CR (and
# cleanup makes each a space).
printf 'Subject: eol-strict-lf\n\nline one\r\nbare\rcr\nbare lf\n' \
    | "$SM" -f eol@example.org alice@example.test
pt_check eol_strict_lf_delivered msg_wait alice eol-strict-lf
pt_check eol_strict_lf_body body_is alice eol-strict-lf 'b"line one \nbare cr\nbare lf\n"'

# never: sendmail keeps CRs even when the first line ends in CR LF, and ".\r" is
# not the end of the input.
set_eol never
printf 'X-Eol: never\r\nSubject: eol-never\n\nline one\r\nbare\rcr\n.\r\nafter dot\n' \
    | "$SM" -f eol@example.org alice@example.test
pt_check eol_never_exit_0 [ $? -eq 0 ]
pt_check eol_never_delivered msg_wait alice eol-never
pt_check eol_never_body body_is alice eol-never 'b"line one \nbare cr\n. \nafter dot\n"'
pt_check eol_never_header_cr has_bytes alice eol-never 'b"\nX-Eol: never \n"'

# A value Postfix does not know (it is case-sensitive): refused, exit 64,
# nothing queued.
set_eol Always
before=$(find "$PT_T/spool/maildrop" -type f | wc -l)
printf 'Subject: eol-bad\n\nx\n' | "$SM" -f eol@example.org alice@example.test 2>"$PT_T/eol.err"
rc=$?
pt_check eol_bad_value_exit_64 [ $rc -eq 64 ]
pt_check eol_bad_value_says_why grep -q 'sendmail_fix_line_endings = Always' "$PT_T/eol.err"
pt_check eol_bad_value_not_queued [ "$(find "$PT_T/spool/maildrop" -type f | wc -l)" -eq "$before" ]
set_eol ''

# ---- frozen_delivered_to = yes (default) ----
# staff -> alice, and staff -> carol -> (.forward) bob: both copies name the
# address the mail was sent to.
code=$(send sender@example.org '' staff@example.test dt-alias)
pt_check dt_yes_accepted [ "$code" = 250 ]
pt_check dt_yes_alias_delivered msg_wait alice dt-alias
pt_check dt_yes_alias_header headers_are alice dt-alias Delivered-To staff@example.test
pt_check dt_yes_forward_delivered msg_wait bob dt-alias
pt_check dt_yes_alias_forward_header headers_are bob dt-alias Delivered-To staff@example.test
pt_check dt_yes_carol_nothing no_msg carol dt-alias
send sender@example.org '' carol@example.test dt-forward >/dev/null
pt_check dt_yes_forward_only_delivered msg_wait bob dt-forward
pt_check dt_yes_forward_header headers_are bob dt-forward Delivered-To carol@example.test
# The loop check still looks at each address met: a message that was at
# alice before bounces for her, and bob still gets his copy.
send sender@example.org '' staff@example.test dt-loop 'Delivered-To: alice@mail.example.test' >/dev/null
pt_check dt_yes_loop_bounced pt_wait "grep -qE 'to=<alice@mail.example.test>, orig_to=<staff@example.test>, .*dsn=5.4.6, status=bounced \\(mail forwarding loop for alice@mail.example.test\\)' '$PT_T/maillog'" 30
pt_check dt_yes_loop_other_delivered msg_wait bob dt-loop
pt_check dt_yes_loop_headers headers_are bob dt-loop Delivered-To staff@example.test alice@mail.example.test

# ---- enable_threaded_bounces = no (default) ----
code=$(send bob@example.test '' nosuchuser@example.test thr-default)
pt_check thr_no_accepted [ "$code" = 250 ]
pt_check thr_no_dsn_arrives msg_wait bob 'Undelivered Mail Returned to Sender'
pt_check thr_no_dsn_is_ours has_bytes bob 'Undelivered Mail Returned to Sender' 'b"<thr-default@client.example.test>"'
pt_check thr_no_in_reply_to headers_are bob 'Undelivered Mail Returned to Sender' In-Reply-To
pt_check thr_no_references headers_are bob 'Undelivered Mail Returned to Sender' References

# ======== instance B: frozen_delivered_to = no, enable_threaded_bounces = yes ========
setup_instance 'frozen_delivered_to = no' 'enable_threaded_bounces = yes' \
    || { pt_fail start_b "instance did not start"; pt_done; exit 1; }

# ---- frozen_delivered_to = no: the address expanded last ----
# (alias and .forward targets are qualified with $myorigin, mail.example.test)
code=$(send sender@example.org '' staff@example.test dt-alias)
pt_check dt_no_accepted [ "$code" = 250 ]
pt_check dt_no_alias_delivered msg_wait alice dt-alias
pt_check dt_no_alias_header headers_are alice dt-alias Delivered-To alice@mail.example.test
pt_check dt_no_forward_delivered msg_wait bob dt-alias
pt_check dt_no_alias_forward_header headers_are bob dt-alias Delivered-To bob@mail.example.test
send sender@example.org '' carol@example.test dt-forward >/dev/null
pt_check dt_no_forward_only_delivered msg_wait bob dt-forward
pt_check dt_no_forward_header headers_are bob dt-forward Delivered-To bob@mail.example.test
send sender@example.org '' staff@example.test dt-loop 'Delivered-To: alice@mail.example.test' >/dev/null
pt_check dt_no_loop_bounced pt_wait "grep -qE 'to=<alice@mail.example.test>, orig_to=<staff@example.test>, .*dsn=5.4.6, status=bounced \\(mail forwarding loop for alice@mail.example.test\\)' '$PT_T/maillog'" 30
pt_check dt_no_loop_other_delivered msg_wait bob dt-loop
pt_check dt_no_loop_headers headers_are bob dt-loop Delivered-To bob@mail.example.test alice@mail.example.test

# ---- enable_threaded_bounces = yes ----
code=$(send bob@example.test '' nosuchuser@example.test thr-bounce)
pt_check thr_yes_accepted [ "$code" = 250 ]
pt_check thr_yes_dsn_arrives msg_wait bob 'Undelivered Mail Returned to Sender'
pt_check thr_yes_in_reply_to headers_are bob 'Undelivered Mail Returned to Sender' \
    In-Reply-To '<thr-bounce@client.example.test>'
pt_check thr_yes_references headers_are bob 'Undelivered Mail Returned to Sender' \
    References '<thr-bounce@client.example.test>'
code=$(send bob@example.test 'NOTIFY=SUCCESS' alice@example.test thr-success)
pt_check thr_yes_success_accepted [ "$code" = 250 ]
pt_check thr_yes_success_dsn_arrives msg_wait bob 'Successful Mail Delivery Report'
pt_check thr_yes_success_in_reply_to headers_are bob 'Successful Mail Delivery Report' \
    In-Reply-To '<thr-success@client.example.test>'
pt_check thr_yes_success_references headers_are bob 'Successful Mail Delivery Report' \
    References '<thr-success@client.example.test>'
pt_done
