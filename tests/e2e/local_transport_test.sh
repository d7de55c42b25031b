#!/usr/bin/env bash
# local_transport_test.sh - local(8) handing recipients to other transports:
# mailbox_transport_maps (alice to a real Dovecot LMTP server, bob to the
# error transport), mailbox_command_maps (carol), fallback_transport_maps
# (ghost, discarded) and fallback_transport (any other unknown user), and an
# alias whose second member is deferred by its transport: the member that
# was delivered is not lost, and the queue recipient is not marked done.
# Then mailbox_transport for everyone, the Dovecot everyday case.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
if ! [ -x /usr/lib/dovecot/lmtp ] || ! command -v dovecot >/dev/null; then
    echo "SKIP: Dovecot LMTP (Debian dovecot-lmtpd) is not installed"; exit 0
fi
pt_instance
printf 'alice lmtp:unix:private/dovecot-lmtp\nbob error:5.2.2 bob is over quota\n' > "$PT_CONF/mbt"
printf 'carol /usr/bin/tee %s/carol/cmd.out\n' "$PT_HOMES" > "$PT_CONF/mbc"
printf 'ghost discard:ghost has left\ndave retry:4.2.1 dave is resting\n' > "$PT_CONF/fbt"
printf 'both: alice, dave\n' >> "$PT_CONF/aliases"
cat >> "$PT_CONF/main.cf" <<EOM
mailbox_transport_maps = hash:$PT_CONF/mbt
mailbox_command_maps = hash:$PT_CONF/mbc
fallback_transport_maps = hash:$PT_CONF/fbt
fallback_transport = error:5.1.1 nobody by that name here
local_recipient_maps =
minimal_backoff_time = 300s
maximal_backoff_time = 600s
queue_run_delay = 300s
EOM
for t in mbt mbc fbt; do pt_cmd postmap "$PT_CONF/$t"; done

# ---- Dovecot, LMTP only, on private/dovecot-lmtp, system users ----
DV=$PT_T/dovecot
mkdir -p "$DV"; chmod 755 "$DV"
cat > "$DV/dovecot.conf" <<EOM
base_dir = $DV/run
state_dir = $DV/state
log_path = $DV/dovecot.log
protocols = lmtp
ssl = no
default_internal_user = dovecot
default_login_user = dovenull
auth_username_format = %Ln
mail_location = maildir:~/Maildir
passdb {
  driver = static
  args = nopassword=y
}
userdb {
  driver = passwd
}
service lmtp {
  unix_listener $PT_T/spool/private/dovecot-lmtp {
    mode = 0660
    user = postfix
    group = postfix
  }
}
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
setsid dovecot -F -c "$DV/dovecot.conf" >"$DV/stdout" 2>&1 &
DOVE_PID=$!
PT_PIDS+=("$DOVE_PID")
stop_dovecot() {
    local pids="$DOVE_PID $(ps -o pid= --ppid "$DOVE_PID" | tr '\n' ' ')"
    kill $pids 2>/dev/null; wait "$DOVE_PID" 2>/dev/null
}
if ! pt_wait "[ -S $PT_T/spool/private/dovecot-lmtp ]" 20; then
    pt_fail dovecot_start "no LMTP socket: $(tail -5 "$DV/stdout" "$DV/dovecot.log" 2>/dev/null)"
    pt_done; exit 1
fi
log_has() { grep -qE "$1" "$PT_T/maillog"; }
maildir_count() { find "$PT_HOMES/$1/Maildir/new" -type f 2>/dev/null | wc -l; }

# ---- one message, five recipients, each to another place ----
r=$(PT_BODY=$'Subject: transports\r\n\r\nhanded on\r\n' pt_smtp_send '' \
    alice@example.test bob@example.test carol@example.test ghost@example.test zed@example.test)
pt_check accepted [ "$r" = "250 ok" ]
pt_wait_queue_empty 20
pt_check lmtp_to_dovecot pt_wait '[ "$(maildir_count alice)" = 1 ]' 10
f=$(find "$PT_HOMES/alice/Maildir/new" -type f | head -1)
pt_check dovecot_maildir_content grep -q '^Subject: transports' "$f"
pt_check dovecot_maildir_owner [ "$(stat -c %U "$f" 2>/dev/null)" = alice ]
pt_check lmtp_logged log_has 'postfix/lmtp\[[0-9]+\]: [0-9A-F]+: to=<alice@example.test>, relay=[^,]*dovecot-lmtp[^,]*, delay=.*, dsn=2\.0\.0, status=sent'
pt_check local_not_mailbox [ ! -e "$PT_T/mail/alice" ]
pt_check transport_maps_error log_has 'postfix/error\[[0-9]+\]: [0-9A-F]+: to=<bob@example.test>, relay=none, .*dsn=5\.2\.2, status=bounced \(bob is over quota\)'
pt_check command_maps pt_wait "grep -q '^Subject: transports' $PT_HOMES/carol/cmd.out" 5
pt_check fallback_maps_discard log_has 'postfix/discard\[[0-9]+\]: [0-9A-F]+: to=<ghost@example.test>, relay=none, .*status=sent \(ghost has left\)'
pt_check fallback_transport log_has 'postfix/error\[[0-9]+\]: [0-9A-F]+: to=<zed@example.test>, relay=none, .*dsn=5\.1\.1, status=bounced \(nobody by that name here\)'

# ---- an alias: alice delivered by LMTP, dave deferred by his transport ----
r=$(PT_BODY=$'Subject: half\r\n\r\nhalf\r\n' pt_smtp_send '' both@example.test)
pt_check alias_accepted [ "$r" = "250 ok" ]
pt_wait '[ "$(maildir_count alice)" = 2 ] && log_has "to=<dave@[a-z.]*>, orig_to=<both@example.test>, .*status=deferred"' 20
pt_check alias_member_delivered [ "$(maildir_count alice)" = 2 ]
pt_check alias_member_deferred log_has 'postfix/error\[[0-9]+\]: [0-9A-F]+: to=<dave@[a-z.]*>, orig_to=<both@example.test>, .*dsn=4\.2\.1, status=deferred \(dave is resting\)'
pt_wait '[ "$(find $PT_T/spool/deferred -type f | wc -l)" = 1 ]' 10
pt_check alias_message_deferred [ "$(find "$PT_T/spool/deferred" -type f | wc -l)" = 1 ]
id=$(grep -oE '[0-9A-F]+: to=<dave@[a-z.]*>' "$PT_T/maillog" | head -1 | cut -d: -f1)
pt_check alias_recipient_not_done grep -q 'both@example.test' <<<"$(pt_cmd postqueue -p)"
pt_cmd postsuper -d "$id" >/dev/null 2>&1

# ---- mailbox_transport for every local user (the Dovecot everyday case) ----
pt_clean_homes
cat >> "$PT_CONF/main.cf" <<EOM
mailbox_transport_maps =
mailbox_command_maps =
mailbox_transport = lmtp:unix:private/dovecot-lmtp
EOM
pt_cmd postfix reload >/dev/null 2>&1
pt_wait "[ \$(grep -c 'reload' $PT_T/maillog) -ge 1 ]" 10
sleep 1     # XXX: a reload has no completion signal; children pick up the file as they restart
r=$(PT_BODY=$'Subject: everyone\r\n\r\nall\r\n' pt_smtp_send '' bob@example.test carol@example.test)
pt_check mt_accepted [ "$r" = "250 ok" ]
pt_wait_queue_empty 20
pt_check mt_bob pt_wait '[ "$(maildir_count bob)" = 1 ]' 5
pt_check mt_carol [ "$(maildir_count carol)" = 1 ]
pt_check mt_no_command [ ! -e "$PT_HOMES/carol/cmd.out" ]

# ---- Dovecot down: the recipient waits in the queue ----
stop_dovecot
r=$(pt_smtp_send '' alice@example.test)
pt_wait 'log_has "to=<alice@example.test>, .*status=deferred"' 20
pt_check lmtp_down_deferred log_has 'to=<alice@example.test>, .*status=deferred'
pt_check lmtp_down_kept [ "$(pt_queue_count)" = 1 ]
pt_done
