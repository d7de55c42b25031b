#!/usr/bin/env bash
# virtual_test.sh - the virtual(8) delivery agent against a real instance:
# Maildir and mbox mailboxes under virtual_mailbox_base found through
# texthash/hash tables, per-user uid from virtual_uid_maps (with an @domain
# fallback), recipient_delimiter extensions, unknown users (rejected by smtpd,
# bounced by virtual when they come in through sendmail), a uid below
# virtual_minimum_uid (deferred), and the VDA-style quota the reference
# configuration uses: virtual_mailbox_limit_maps, maildirsize upkeep, ",S="
# file names, over-quota bounce (5.2.2 with virtual_maildir_limit_message)
# or deferral (virtual_overquota_bounce = no).
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance

VBASE=$PT_T/vmail
mkdir -p "$VBASE/vdom.test"
chmod 755 "$VBASE"; chmod 1777 "$VBASE/vdom.test"
ALICE_UID=$(id -u alice); CAROL_UID=$(id -u carol); CAROL_GID=$(id -g carol)
cat > "$PT_CONF/vmailbox" <<EOT
u1@vdom.test      vdom.test/u1/
u2@vdom.test      vdom.test/u2.mbox
quota@vdom.test   vdom.test/quota/
lowuid@vdom.test  vdom.test/lowuid/
EOT
cat > "$PT_CONF/vuids" <<EOT
u1@vdom.test      $ALICE_UID
lowuid@vdom.test  5
@vdom.test        $CAROL_UID
EOT
printf 'quota@vdom.test 3000\n' > "$PT_CONF/vquota"
"$PT_BUILD/sbin/postmap" -c "$PT_CONF" "hash:$PT_CONF/vquota"
pt_check postmap_quota_table [ $? -eq 0 ]
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
recipient_delimiter = +
virtual_mailbox_domains = vdom.test
virtual_mailbox_base = $VBASE
virtual_mailbox_maps = texthash:$PT_CONF/vmailbox
virtual_uid_maps = texthash:$PT_CONF/vuids
virtual_gid_maps = static:$CAROL_GID
virtual_minimum_uid = 100
virtual_create_maildirsize = yes
virtual_mailbox_extended = yes
virtual_mailbox_limit_maps = hash:$PT_CONF/vquota
virtual_mailbox_limit_override = yes
virtual_maildir_limit_message = "The user you are trying to reach is over quota."
virtual_overquota_bounce = yes
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

SENDMAIL=$PT_BUILD/sbin/sendmail
send_body() { ( export PT_BODY=$1; shift; pt_smtp_send "$@" ); }
count() { find "$1" -type f 2>/dev/null | wc -l; }
# newest file under DIR containing REGEX
grep_newest() {
    local f
    for f in $(ls -t "$1" 2>/dev/null); do
        if grep -qE "$2" "$1/$f"; then echo "$1/$f"; return 0; fi
    done
    return 1
}
dsn_check() {
    python3 - "$1" "$2" "$3" "${4:-}" <<'EOP'
import email, sys
path, rcpt, status, text = sys.argv[1], sys.argv[2].lower(), sys.argv[3], sys.argv[4]
msg = email.message_from_bytes(open(path, "rb").read())
ok = False
if msg.get_content_type() == "multipart/report" and msg.get_param("report-type") == "delivery-status":
    for part in msg.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for b in part.get_payload()[1:]:
            fr = (b.get("Final-Recipient") or "").replace(" ", "").lower()
            diag = " ".join((b.get("Diagnostic-Code") or "").split())
            if fr == "rfc822;" + rcpt and (b.get("Status") or "").strip() == status \
                    and text in diag:
                ok = True
if not ok:
    print("no delivery-status block for", rcpt, status, repr(text), "in", path, file=sys.stderr)
sys.exit(0 if ok else 1)
EOP
}
BOBNEW=$PT_HOMES/bob/Maildir/new

# ---- Maildir mailbox, per-user uid ----
U1=$VBASE/vdom.test/u1
reply=$(send_body $'Subject: virtual one\r\n\r\nFrom inside\r\n' sender@example.org u1@vdom.test)
pt_check maildir_accepted [ "${reply%% *}" = 250 ]
pt_check maildir_delivered pt_wait "[ \$(count $U1/new) -ge 1 ]" 30
f=$(grep_newest "$U1/new" 'Subject: virtual one')
pt_check maildir_file [ -n "$f" ]
pt_check maildir_owner_uid [ "$(stat -c %u "${f:-/}")" = "$ALICE_UID" ]
pt_check maildir_group [ "$(stat -c %g "${f:-/}")" = "$CAROL_GID" ]
pt_check maildir_dir_owner [ "$(stat -c %u "$U1")" = "$ALICE_UID" ]
pt_check maildir_delivered_to grep -q '^Delivered-To: u1@vdom.test$' "${f:-/dev/null}"
pt_check maildir_return_path grep -q '^Return-Path: <sender@example.org>$' "${f:-/dev/null}"
pt_check maildir_orig_to grep -q '^X-Original-To: u1@vdom.test$' "${f:-/dev/null}"
pt_check maildir_not_quoted grep -q '^From inside$' "${f:-/dev/null}"
pt_check maildir_log pt_wait "grep -qE 'virtual\[[0-9]+\]: [0-9A-Za-z]+: to=<u1@vdom.test>, relay=virtual, .*dsn=2.0.0, status=sent \(delivered to maildir\)' $PT_T/maillog" 10

# ---- recipient_delimiter ----
reply=$(send_body $'Subject: with extension\r\n\r\nx\r\n' sender@example.org u1+lists@vdom.test)
pt_check extension_accepted [ "${reply%% *}" = 250 ]
pt_check extension_delivered pt_wait "grep -lq 'Subject: with extension' $U1/new/* 2>/dev/null" 30
f=$(grep_newest "$U1/new" 'Subject: with extension')
pt_check extension_delivered_to grep -q '^Delivered-To: u1+lists@vdom.test$' "${f:-/dev/null}"

# ---- mbox mailbox, uid from the @domain entry ----
MB=$VBASE/vdom.test/u2.mbox
printf 'Subject: virtual mbox\n\nFrom the top\nline two\n' |
    "$SENDMAIL" -C "$PT_CONF" -f sender@example.org u2@vdom.test
pt_check mbox_sendmail_exit0 [ $? -eq 0 ]
pt_check mbox_written pt_wait "grep -q 'Subject: virtual mbox' $MB 2>/dev/null" 30
pt_check mbox_from_line grep -qE '^From sender@example.org  [A-Z][a-z]{2} [A-Z][a-z]{2} [ 0-9][0-9] [0-9:]{8} [0-9]{4}$' "$MB"
pt_check mbox_quoted grep -q '^>From the top$' "$MB"
pt_check mbox_owner [ "$(stat -c %u "$MB" 2>/dev/null)" = "$CAROL_UID" ]
pt_check mbox_delivered_to grep -q '^Delivered-To: u2@vdom.test$' "$MB"
pt_check mbox_no_lock_left [ ! -e "$MB.lock" ]
pt_check mbox_log pt_wait "grep -qE 'to=<u2@vdom.test>, relay=virtual, .*status=sent \(delivered to mailbox\)' $PT_T/maillog" 10

# ---- unknown users ----
reply=$(send_body $'Subject: x\r\n\r\nx\r\n' sender@example.org nobody@vdom.test)
pt_check unknown_smtp_rejected grep -q '^550 5.1.1 <nobody@vdom.test>: Recipient address rejected: User unknown in virtual mailbox table' <<<"$reply"
nb=$(count "$BOBNEW")
printf 'Subject: to a ghost\n\nbounce me\n' | "$SENDMAIL" -C "$PT_CONF" -f bob@example.test ghost@vdom.test
pt_check unknown_log pt_wait "grep -qE 'to=<ghost@vdom.test>, relay=virtual, .*dsn=5.1.1, status=bounced \(unknown user: \"ghost@vdom.test\"\)' $PT_T/maillog" 30
pt_check unknown_dsn_arrives pt_wait "[ \$(count $BOBNEW) -gt $nb ]" 30
f=$(grep_newest "$BOBNEW" 'multipart/report')
pt_check unknown_dsn_report dsn_check "${f:-/dev/null}" ghost@vdom.test 5.1.1 'unknown user'

# ---- a uid below virtual_minimum_uid: deferred, nothing written ----
printf 'Subject: low uid\n\nx\n' | "$SENDMAIL" -C "$PT_CONF" -f sender@example.org lowuid@vdom.test
pt_check lowuid_deferred pt_wait "grep -qE 'to=<lowuid@vdom.test>, relay=virtual, .*dsn=4.3.5, status=deferred \(mail system configuration error\)' $PT_T/maillog" 30
pt_check lowuid_warning grep -q 'recipient lowuid@vdom.test: bad uid 5 in' "$PT_T/maillog"
pt_check lowuid_nothing_written [ ! -e "$VBASE/vdom.test/lowuid" ]
pt_check lowuid_still_queued [ "$(pt_queue_count)" -ge 1 ]

# ---- quota: maildirsize and ,S= names ----
Q=$VBASE/vdom.test/quota
reply=$(send_body $'Subject: quota one\r\n\r\nsmall\r\n' sender@example.org quota@vdom.test)
pt_check quota_first_accepted [ "${reply%% *}" = 250 ]
pt_check quota_first_delivered pt_wait "[ \$(count $Q/new) -ge 1 ]" 30
f=$(ls "$Q/new" | head -1)
size=$(stat -c %s "$Q/new/$f" 2>/dev/null)
pt_check quota_name_has_size grep -q ",S=$size\$" <<<"$f"
pt_check quota_maildirsize_created [ -f "$Q/maildirsize" ]
pt_check quota_maildirsize_limit [ "$(head -1 "$Q/maildirsize" 2>/dev/null)" = 3000S ]
msum() { awk 'NR>1 {b+=$1; c+=$2} END {print b+0, c+0}' "$Q/maildirsize"; }
pt_check quota_maildirsize_first [ "$(msum)" = "$size 1" ]
reply=$(send_body $'Subject: quota two\r\n\r\nsmall again\r\n' sender@example.org quota@vdom.test)
pt_check quota_second_delivered pt_wait "[ \$(count $Q/new) -ge 2 ]" 30
total=$(cat "$Q"/new/* | wc -c)
pt_check quota_maildirsize_sum [ "$(msum)" = "$total 2" ]
pt_check quota_maildirsize_appended [ "$(wc -l < "$Q/maildirsize")" = 3 ]

# ---- over quota: bounce with the configured text ----
big=$(head -c 2200 /dev/zero | tr '\0' y | fold -w 76 | sed 's/$/\r/')
nb=$(count "$BOBNEW")
reply=$(send_body "Subject: too big"$'\r\n\r\n'"$big"$'\r\n' bob@example.test quota@vdom.test)
pt_check overquota_accepted [ "${reply%% *}" = 250 ]
pt_check overquota_bounced_log pt_wait "grep -qE 'to=<quota@vdom.test>, relay=virtual, .*dsn=5.2.2, status=bounced \(The user you are trying to reach is over quota.\)' $PT_T/maillog" 30
pt_check overquota_not_written [ "$(count $Q/new)" = 2 ]
pt_check overquota_dsn_arrives pt_wait "[ \$(count $BOBNEW) -gt $nb ]" 30
f=$(grep_newest "$BOBNEW" 'quota@vdom.test')
pt_check overquota_dsn_report dsn_check "${f:-/dev/null}" quota@vdom.test 5.2.2 'The user you are trying to reach is over quota.'
# a user without a per-user limit gets the (large) global one
reply=$(send_body "Subject: big for u1"$'\r\n\r\n'"$big"$'\r\n' sender@example.org u1@vdom.test)
pt_check global_limit_allows pt_wait "grep -lq 'Subject: big for u1' $U1/new/* 2>/dev/null" 30

# ---- over quota with virtual_overquota_bounce = no: deferred ----
pt_stop
sed -i 's/^virtual_overquota_bounce = yes/virtual_overquota_bounce = no/' "$PT_CONF/main.cf"
pt_start || { pt_fail restart "instance did not restart"; pt_done; exit 1; }
reply=$(send_body "Subject: too big again"$'\r\n\r\n'"$big"$'\r\n' bob@example.test quota@vdom.test)
pt_check overquota_defer_accepted [ "${reply%% *}" = 250 ]
pt_check overquota_deferred_log pt_wait "grep -qE 'to=<quota@vdom.test>, relay=virtual, .*dsn=4.2.2, status=deferred \(The user you are trying to reach is over quota.\)' $PT_T/maillog" 30
pt_check overquota_kept_in_queue [ "$(find "$PT_T/spool/deferred" "$PT_T/spool/active" -type f | wc -l)" -ge 1 ]
pt_check overquota_still_two [ "$(count $Q/new)" = 2 ]
# Freeing space lets the waiting message in on the next attempt.
rm -f "$Q"/new/* "$Q/maildirsize"
pt_check overquota_retry_delivers pt_wait "grep -lq 'Subject: too big again' $Q/new/* 2>/dev/null" 40
pt_done
