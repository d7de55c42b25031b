#!/usr/bin/env bash
# local_test.sh - the local(8) delivery agent against a real instance:
# Maildir and mbox delivery (ownership, Delivered-To, Return-Path, From_ line
# and >From quoting), aliases to users, files, commands and :include: lists,
# a user's .forward, recipient_delimiter extensions, and the bounces a sender
# gets back for an unknown user (5.1.1) and a full mailbox (5.2.2). Mail goes
# in both through SMTP and through the build's sendmail. With biff = yes an
# mbox delivery sends one "user@offset" datagram to 127.0.0.1:512 (a listener
# here stands in for comsat); Maildir, files and commands send none.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance

# Files and commands named in aliases run as default_privs (nobody): give
# them a directory anybody may write in.
OUT=$PT_T/out
mkdir -p "$OUT"; chmod 1777 "$OUT"
cat > "$PT_T/save-msg.sh" <<EOS
#!/bin/sh
# Saves the message on stdin plus the environment local(8) passes.
cat > "$OUT/cmd.msg.tmp" && { echo "RECIPIENT=\$RECIPIENT"; echo "SENDER=\$SENDER"; } > "$OUT/cmd.env" \
    && mv "$OUT/cmd.msg.tmp" "$OUT/cmd.msg"
EOS
chmod 755 "$PT_T/save-msg.sh"
printf 'bob\ncarol\n' > "$PT_CONF/list.inc"
chmod 644 "$PT_CONF/list.inc"
cat >> "$PT_CONF/aliases" <<EOA
sales: bob
archive: $OUT/archive.mbox
savecmd: "|$PT_T/save-msg.sh"
team: :include:$PT_CONF/list.inc
EOA
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
recipient_delimiter = +
allow_mail_to_files = alias, forward, include
allow_mail_to_commands = alias, forward, include
EOM
# A stand-in for comsat(8) on the biff port, started before any delivery:
# it appends each datagram it gets, as a Python bytes literal, to $BIFF_LOG.
# Port 512 taken by something else is a failure of the biff cases, not a pass.
BIFF_LOG=$PT_T/biff.log
BIFF_READY=$PT_T/biff.ready
python3 - "$BIFF_LOG" "$BIFF_READY" <<'EOP' &
import os, socket, sys
log, ready = sys.argv[1], sys.argv[2]
def say(text):             # all at once: the shell polls for the file
    with open(ready + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(ready + ".tmp", ready)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    s.bind(("127.0.0.1", 512))
except OSError as e:
    say("cannot bind 127.0.0.1:512/udp (in use by another program?): %s" % e)
    sys.exit(1)
open(log, "w").close()
say("ok")
while True:
    data = s.recv(65536)
    with open(log, "a") as f:
        f.write(repr(data) + "\n")
EOP
PT_PIDS+=($!)
pt_wait "[ -s $BIFF_READY ]" 10
if grep -qx ok "$BIFF_READY" 2>/dev/null; then
    pt_ok biff_listener_bound
else
    pt_fail biff_listener_bound "$(cat "$BIFF_READY" 2>/dev/null || echo 'listener did not start'); the biff cases below fail"
fi

pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

SENDMAIL=$PT_BUILD/sbin/sendmail

# biff_count: datagrams the listener got so far (-1 without a listener, so
# that no biff case can pass then).
biff_count() { if [ -f "$BIFF_LOG" ]; then wc -l < "$BIFF_LOG"; else echo -1; fi; }
# biff_wait N [deadline]: waits until the listener got N datagrams.
biff_wait() { [ -f "$BIFF_LOG" ] && pt_wait "[ \$(biff_count) -ge $1 ]" "${2:-30}"; }
# no_biff_in TEXT: TEXT does not mention biff.
no_biff_in() { ! grep -q biff <<<"$1"; }
# biff_is N USER OFFSET: datagram N (from 1) is "USER@OFFSET" and its NUL.
biff_is() {
    local got
    got=$(sed -n "${1}p" "$BIFF_LOG" 2>/dev/null)
    [ "$got" = "b'$2@$3\\x00'" ] || { echo "    datagram $1: ${got:-none}, want b'$2@$3\\x00'"; return 1; }
}

# send_body BODY FROM TO...: pt_smtp_send with the given message text.
send_body() { ( export PT_BODY=$1; shift; pt_smtp_send "$@" ); }

# maildir_count USER: number of messages in USER's Maildir/new.
maildir_count() { find "$PT_HOMES/$1/Maildir/new" -type f 2>/dev/null | wc -l; }
# maildir_wait USER N: waits until USER has at least N new messages.
maildir_wait() { pt_wait "[ \$(maildir_count $1) -ge $2 ]" "${3:-30}"; }
# maildir_grep USER REGEX: prints the newest message file of USER that matches.
maildir_grep() {
    local f
    for f in $(ls -t "$PT_HOMES/$1/Maildir/new/" 2>/dev/null); do
        if grep -qE "$2" "$PT_HOMES/$1/Maildir/new/$f"; then echo "$PT_HOMES/$1/Maildir/new/$f"; return 0; fi
    done
    return 1
}

# dsn_check FILE RECIPIENT STATUS: the file (or mbox with one or more
# messages, newest last) holds a multipart/report DSN whose
# message/delivery-status part names RECIPIENT with STATUS.
dsn_check() {
    python3 - "$1" "$2" "$3" <<'EOP'
import email, email.policy, mailbox, sys
path, rcpt, status = sys.argv[1], sys.argv[2].lower(), sys.argv[3]
with open(path, "rb") as f:
    data = f.read()
msgs = [m for m in mailbox.mbox(path)] if data.startswith(b"From ") else \
       [email.message_from_bytes(data)]
for msg in msgs:
    if msg.get_content_type() != "multipart/report":
        continue
    if msg.get_param("report-type") != "delivery-status":
        continue
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        blocks = part.get_payload()
        for b in blocks[1:]:
            fr = (b.get("Final-Recipient") or "").lower()
            if fr.replace(" ", "") == "rfc822;" + rcpt and (b.get("Status") or "").strip() == status:
                sys.exit(0)
print("no delivery-status block for", rcpt, "with Status", status, "in", path, file=sys.stderr)
sys.exit(1)
EOP
}

# ---- Maildir delivery through SMTP ----
reply=$(send_body $'Subject: maildir one\r\n\r\nFrom the start of a line\r\nbody\r\n' sender@example.org alice@example.test)
pt_check maildir_smtp_accepted [ "${reply%% *}" = 250 ]
pt_check maildir_delivered maildir_wait alice 1
f=$(maildir_grep alice 'Subject: maildir one')
pt_check maildir_file_found [ -n "$f" ]
pt_check maildir_owner [ "$(stat -c %U "$f" 2>/dev/null)" = alice ]
pt_check maildir_delivered_to grep -q '^Delivered-To: alice@example.test$' "$f"
pt_check maildir_return_path grep -q '^Return-Path: <sender@example.org>$' "$f"
pt_check maildir_no_from_quoting grep -q '^From the start of a line$' "$f"
pt_check maildir_dirs_private [ "$(stat -c %a "$PT_HOMES/alice/Maildir/tmp")" = 700 ]
pt_check maildir_log pt_wait "grep -qE 'to=<alice@example.test>, relay=local, .*dsn=2.0.0, status=sent \(delivered to maildir\)' $PT_T/maillog" 10

# ---- Maildir delivery through sendmail ----
printf 'Subject: via sendmail\n\nsent with the sendmail command\n' |
    "$SENDMAIL" -C "$PT_CONF" -f carol@example.test alice@example.test
pt_check sendmail_exit0 [ $? -eq 0 ]
pt_check sendmail_delivered maildir_wait alice 2
f=$(maildir_grep alice 'Subject: via sendmail')
pt_check sendmail_file_found [ -n "$f" ]
pt_check sendmail_return_path grep -q '^Return-Path: <carol@example.test>$' "${f:-/dev/null}"

# ---- recipient_delimiter: alice+tag goes to alice ----
reply=$(send_body $'Subject: extension\r\n\r\nx\r\n' sender@example.org alice+tag@example.test)
pt_check extension_accepted [ "${reply%% *}" = 250 ]
pt_check extension_delivered maildir_wait alice 3
f=$(maildir_grep alice 'Subject: extension')
pt_check extension_to_alice [ -n "$f" ]
pt_check extension_delivered_to grep -q '^Delivered-To: alice+tag@example.test$' "${f:-/dev/null}"

# ---- alias to another user ----
reply=$(send_body $'Subject: to sales\r\n\r\nx\r\n' sender@example.org sales@example.test)
pt_check alias_user_accepted [ "${reply%% *}" = 250 ]
pt_check alias_user_delivered maildir_wait bob 1
f=$(maildir_grep bob 'Subject: to sales')
pt_check alias_user_in_bob [ -n "$f" ]
pt_check alias_user_owner [ "$(stat -c %U "${f:-/}")" = bob ]
# Postfix keeps the queue recipient (sales@) as Delivered-To for an alias.
pt_check alias_user_delivered_to grep -qE '^Delivered-To: (sales|bob)@(mail\.)?example\.test$' "${f:-/dev/null}"
pt_check alias_user_orig_to grep -q '^X-Original-To: sales@example.test$' "${f:-/dev/null}"

# ---- alias to a file (mbox format, as default_privs) ----
reply=$(send_body $'Subject: to archive\r\n\r\nFrom here on\r\n' sender@example.org archive@example.test)
pt_check alias_file_accepted [ "${reply%% *}" = 250 ]
pt_check alias_file_written pt_wait "grep -q 'Subject: to archive' $OUT/archive.mbox 2>/dev/null" 30
pt_check alias_file_from_line grep -q '^From sender@example.org ' "$OUT/archive.mbox"
pt_check alias_file_quoted grep -q '^>From here on$' "$OUT/archive.mbox"
pt_check alias_file_not_root [ "$(stat -c %u "$OUT/archive.mbox" 2>/dev/null)" != 0 ]
pt_check alias_file_log pt_wait "grep -q 'status=sent (delivered to file: $OUT/archive.mbox)' $PT_T/maillog" 10

# ---- alias to a command ----
reply=$(send_body $'Subject: to a command\r\n\r\npiped body\r\n' sender@example.org savecmd@example.test)
pt_check alias_cmd_accepted [ "${reply%% *}" = 250 ]
pt_check alias_cmd_ran pt_wait "[ -f $OUT/cmd.msg ]" 30
pt_check alias_cmd_got_message grep -q '^piped body$' "$OUT/cmd.msg"
pt_check alias_cmd_got_headers grep -q '^Subject: to a command$' "$OUT/cmd.msg"
pt_check alias_cmd_env_sender grep -q '^SENDER=sender@example.org$' "$OUT/cmd.env"
pt_check alias_cmd_not_root [ "$(stat -c %u "$OUT/cmd.msg" 2>/dev/null)" != 0 ]
pt_check alias_cmd_log pt_wait "grep -q 'status=sent (delivered to command: $PT_T/save-msg.sh)' $PT_T/maillog" 10

# ---- alias to an :include: list ----
nb=$(maildir_count bob); nc=$(maildir_count carol)
reply=$(send_body $'Subject: to the team\r\n\r\nx\r\n' sender@example.org team@example.test)
pt_check include_accepted [ "${reply%% *}" = 250 ]
pt_check include_bob maildir_wait bob $((nb + 1))
pt_check include_carol maildir_wait carol $((nc + 1))
pt_check include_bob_subject [ -n "$(maildir_grep bob 'Subject: to the team')" ]
pt_check include_carol_subject [ -n "$(maildir_grep carol 'Subject: to the team')" ]

# ---- .forward in alice's home: alice's mail goes to bob ----
echo 'bob@example.test' > "$PT_HOMES/alice/.forward"
chown alice: "$PT_HOMES/alice/.forward"; chmod 644 "$PT_HOMES/alice/.forward"
na=$(maildir_count alice); nb=$(maildir_count bob)
reply=$(send_body $'Subject: forwarded by alice\r\n\r\nx\r\n' sender@example.org alice@example.test)
pt_check forward_accepted [ "${reply%% *}" = 250 ]
pt_check forward_reaches_bob maildir_wait bob $((nb + 1))
f=$(maildir_grep bob 'Subject: forwarded by alice')
pt_check forward_in_bob [ -n "$f" ]
# A local target may be delivered in the same pass (as Postfix does when it
# resolves to the local transport) or re-queued; either way a Delivered-To
# names alice or bob.
pt_check forward_delivered_to grep -qE '^Delivered-To: (alice|bob)@example.test$' "${f:-/dev/null}"
pt_wait_queue_empty 30
pt_check forward_not_in_alice [ "$(maildir_count alice)" = "$na" ]
pt_check forward_log pt_wait "grep -qE 'to=<bob@example.test>, orig_to=<alice@example.test>, relay=local, .*status=sent' $PT_T/maillog" 10
rm -f "$PT_HOMES/alice/.forward"

# ---- unknown user: a DSN goes back to the sender (bob) ----
nb=$(maildir_count bob)
printf 'Subject: to nobody\n\nthis will bounce\n' |
    "$SENDMAIL" -C "$PT_CONF" -f bob@example.test nosuchuser@example.test
pt_check unknown_sendmail_exit0 [ $? -eq 0 ]
pt_check unknown_log pt_wait "grep -qE 'to=<nosuchuser@example.test>, relay=local, .*dsn=5.1.1, status=bounced \(unknown user: \"nosuchuser\"\)' $PT_T/maillog" 30
pt_check unknown_dsn_arrives maildir_wait bob $((nb + 1))
f=$(maildir_grep bob 'multipart/report')
pt_check unknown_dsn_found [ -n "$f" ]
pt_check unknown_dsn_report dsn_check "${f:-/dev/null}" nosuchuser@example.test 5.1.1
pt_check unknown_dsn_null_sender grep -q '^Return-Path: <>$' "${f:-/dev/null}"
pt_check unknown_dsn_has_original grep -q 'this will bounce' "${f:-/dev/null}"
pt_wait_queue_empty 30

# Maildir, /file and |command deliveries above sent no biff datagram (each
# was long finished: qmgr removes a queue file only after local's reply).
pt_check biff_none_for_maildir_file_command [ "$(biff_count)" = 0 ]

# ---- mbox in mail_spool_directory ----
pt_stop
sed -i '/^home_mailbox = /d' "$PT_CONF/main.cf"
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
reply=$(send_body $'Subject: mbox one\r\n\r\nFrom the spool\r\n>From already quoted\r\nend\r\n' sender@example.org alice@example.test)
pt_check mbox_accepted [ "${reply%% *}" = 250 ]
MB=$PT_T/mail/alice
pt_check mbox_written pt_wait "grep -q 'Subject: mbox one' $MB 2>/dev/null" 30
pt_check mbox_from_line grep -qE '^From sender@example.org  [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9]{2}:[0-9]{2}:[0-9]{2} [0-9]{4}$' "$MB"
pt_check mbox_quoted grep -q '^>From the spool$' "$MB"
# only "From " is quoted (mboxo, as Postfix): ">From" lines stay as they are
pt_check mbox_quoted_only_from grep -q '^>From already quoted$' "$MB"
pt_check mbox_owner [ "$(stat -c %U "$MB" 2>/dev/null)" = alice ]
pt_check mbox_delivered_to grep -q '^Delivered-To: alice@example.test$' "$MB"
pt_check mbox_return_path grep -q '^Return-Path: <sender@example.org>$' "$MB"
pt_check mbox_ends_blank [ "$(tail -c 2 "$MB" | od -An -c | tr -d ' ')" = '\n\n' ]
pt_check mbox_log pt_wait "grep -qE 'to=<alice@example.test>, relay=local, .*status=sent \(delivered to mailbox\)' $PT_T/maillog" 10
# biff: the first message into an empty mailbox starts at offset 0; the
# datagram comes after the append, so the size read then is final.
pt_check biff_first biff_wait 1
pt_check biff_first_offset0 biff_is 1 alice 0
size1=$(stat -c %s "$MB" 2>/dev/null)
printf 'Subject: mbox two\n\nsecond\n' | "$SENDMAIL" -C "$PT_CONF" -f sender@example.org alice@example.test
pt_check mbox_second_appended pt_wait "[ \$(grep -c '^From ' $MB) -eq 2 ]" 30
pt_check mbox_parses python3 -c "import mailbox,sys; sys.exit(0 if len(mailbox.mbox('$MB')) == 2 else 1)"
pt_check biff_second biff_wait 2
pt_check biff_second_offset biff_is 2 alice "$size1"
# an alias names the mailbox's user: biff gets the login name (bob), not sales
reply=$(send_body $'Subject: sales in mbox\r\n\r\nx\r\n' sender@example.org sales@example.test)
pt_check biff_alias_accepted [ "${reply%% *}" = 250 ]
pt_check biff_alias biff_wait 3
pt_check biff_alias_login_name biff_is 3 bob 0
pt_wait_queue_empty 30
pt_check biff_exactly_three [ "$(biff_count)" = 3 ]

# ---- biff = no: an mbox delivery sends nothing, and is not "unsupported" ----
pt_stop
echo 'biff = no' >> "$PT_CONF/main.cf"
out=$(pt_cmd postfix check 2>&1)
pt_check biff_no_not_reported no_biff_in "$out"
log_mark=$(wc -l < "$PT_T/maillog")
pt_start || { pt_fail restart_biff_no "instance did not restart"; pt_done; exit 1; }
pt_check biff_no_no_start_warning no_biff_in "$(cat "$PT_T/start.log"; tail -n +$((log_mark + 1)) "$PT_T/maillog")"
printf 'Subject: mbox three\n\nthird\n' | "$SENDMAIL" -C "$PT_CONF" -f sender@example.org alice@example.test
pt_check biff_no_delivered pt_wait "[ \$(grep -c '^From ' $MB) -eq 3 ]" 30
# local answers qmgr only after the whole delivery, biff included: with the
# queue empty, a datagram for message three would be in the log already.
pt_wait_queue_empty 30
size3=$(stat -c %s "$MB" 2>/dev/null)
# and nothing else is on its way: with biff back on, the next datagram the
# listener gets is the one for message four
pt_stop
sed -i '/^biff = no$/d' "$PT_CONF/main.cf"
pt_start || { pt_fail restart_biff_yes "instance did not restart"; pt_done; exit 1; }
printf 'Subject: mbox four\n\nfourth\n' | "$SENDMAIL" -C "$PT_CONF" -f sender@example.org alice@example.test
pt_check biff_back_on biff_wait 4
pt_check biff_no_sent_nothing biff_is 4 alice "$size3"
pt_wait_queue_empty 30

# ---- mailbox_size_limit: a message that does not fit bounces with 5.2.2 ----
pt_stop
cat >> "$PT_CONF/main.cf" <<EOM
message_size_limit = 10000
mailbox_size_limit = 10240
EOM
pt_start || { pt_fail restart2 "instance did not restart"; pt_done; exit 1; }
# carol's mailbox is nearly full already
head -c 10100 /dev/zero | tr '\0' x | { printf 'From x  Thu Jan  1 00:00:00 2024\n'; cat; echo; } > "$PT_T/mail/carol"
chown carol: "$PT_T/mail/carol"; chmod 600 "$PT_T/mail/carol"
size_before=$(stat -c %s "$PT_T/mail/carol")
reply=$(send_body $'Subject: too much\r\n\r\nno room for this\r\n' bob@example.test carol@example.test)
pt_check full_accepted [ "${reply%% *}" = 250 ]
pt_check full_log pt_wait "grep -qE 'to=<carol@example.test>, relay=local, .*dsn=5.2.2, status=bounced' $PT_T/maillog" 30
pt_check full_unchanged [ "$(stat -c %s "$PT_T/mail/carol")" = "$size_before" ]
pt_check full_dsn_arrives pt_wait "grep -q 'multipart/report' $PT_T/mail/bob 2>/dev/null" 30
pt_check full_dsn_report dsn_check "$PT_T/mail/bob" carol@example.test 5.2.2
pt_wait_queue_empty 30
pt_check queue_empty_at_end [ "$(pt_queue_count)" = 0 ]

# ---- a .forward over the 1 MB limit (sparse: only its size is huge) ----
# local must neither allocate by the user's st_size nor use a cut-short copy:
# the recipient is deferred and local keeps serving.
log_mark=$(wc -l < "$PT_T/maillog")
truncate -s 4G "$PT_HOMES/alice/.forward"
chown alice: "$PT_HOMES/alice/.forward"; chmod 644 "$PT_HOMES/alice/.forward"
reply=$(send_body $'Subject: huge forward\r\n\r\nx\r\n' sender@example.org alice@example.test)
pt_check huge_forward_accepted [ "${reply%% *}" = 250 ]
pt_check huge_forward_deferred pt_wait "grep -qE 'to=<alice@example.test>, relay=local, .*dsn=4\.3\.0, status=deferred \(cannot open file .*/\.forward: File too large\)' $PT_T/maillog" 20
pt_check huge_forward_no_crash bash -c "! tail -n +$((log_mark + 1)) $PT_T/maillog | grep -qE 'postfix/local.*(fatal|panic)|process [^ ]*/local pid [0-9]+ (killed by signal|exit status)'"
rm -f "$PT_HOMES/alice/.forward"
pt_done
