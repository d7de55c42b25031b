#!/usr/bin/env bash
# privsep_user_test.sh - local users attacking the root-run local(8) and
# virtual(8) agents, against a real instance: a FIFO planted as a user's
# mailbox in the sticky spool (bounces 5.2.0 at once, local does not hang)
# and as a virtual mbox (bounces 5.3.5 at once), a symlink as a user's
# mailbox pointing at a root-owned decoy (bounced, decoy untouched), a
# .forward owned by another user (ignored: the mail stays in the mailbox), a
# command that closes its output and leaves grandchildren behind against
# command_time_limit = 3s (bounces 5.3.0 within the limit and no process of
# its group survives), and a CR in EHLO (our Received: header shows '?',
# no raw CR and no forged header line). Every case checks that the root-owned
# decoy outside the mail system keeps its content, size, owner and mode, and
# that no mail is lost (each bounce reaches the sender).
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
MAIL=$PT_T/mail                 # sticky, world-writable spool (lib.sh: 1777)
MARK=$RANDOM$RANDOM             # tells this run's sleeps from anybody else's
cat >> "$PT_CONF/aliases" <<EOA
slow: "|sh -c 'exec >/dev/null 2>&1; sleep 30.$MARK & sleep 31.$MARK'"
EOA
# virtual(8): bob's mbox in a sticky directory he may write in
VBASE=$PT_T/vmail
mkdir -p "$VBASE/vdom.test"; chmod 755 "$VBASE"; chmod 1777 "$VBASE/vdom.test"
printf 'vbob@vdom.test vdom.test/vbob.mbox\n' > "$PT_CONF/vmailbox"
cat >> "$PT_CONF/main.cf" <<EOM
command_time_limit = 3s
virtual_mailbox_domains = vdom.test
virtual_mailbox_base = $VBASE
virtual_mailbox_maps = texthash:$PT_CONF/vmailbox
virtual_uid_maps = static:$(id -u bob)
virtual_gid_maps = static:$(id -g bob)
virtual_minimum_uid = 100
EOM

# The decoy: a root-owned file outside the mail system.
DECOY=$(mktemp /var/tmp/postern-decoy.XXXXXX)
printf 'root-owned decoy, must never change\n' > "$DECOY"
chown root:root "$DECOY"; chmod 644 "$DECOY"
decoy_state() { stat -c '%s %u %g %a %F' "$DECOY"; sha256sum < "$DECOY"; }
DECOY_BEFORE=$(decoy_state)
decoy_same() { [ "$(decoy_state)" = "$DECOY_BEFORE" ]; }

pt_start || { pt_fail start "instance did not start"; rm -f "$DECOY"; pt_done; exit 1; }

# bounces_to_alice: number of notices in alice's mbox (the sender of all tests).
bounces_to_alice() { grep -c '^From MAILER-DAEMON ' "$MAIL/alice" 2>/dev/null || echo 0; }
logged() { grep -qE "$1" "$PT_T/maillog"; }

# ---- a FIFO as bob's mailbox ----
su -s /bin/sh bob -c "mkfifo -m 600 '$MAIL/bob'"
t0=$(date +%s)
reply=$(pt_smtp_send alice@example.test bob@example.test)
pt_check fifo_smtp_accepts [ "${reply%% *}" = 250 ]
pt_check fifo_bounced_520 pt_wait "logged 'to=<bob@example.test>, relay=local, .*dsn=5\\.2\\.0, status=bounced .*not a regular file'" 15
# at once: no waiting for a reader that never comes
pt_check fifo_quick bash -c "grep -q 'to=<bob@example.test>, .*status=bounced' '$PT_T/maillog' && [ $(( $(date +%s) - t0 )) -le 10 ]"
pt_check fifo_still_fifo [ -p "$MAIL/bob" ]
pt_check fifo_decoy_unchanged decoy_same
rm -f "$MAIL/bob"

# ---- a FIFO as a virtual(8) mbox ----
su -s /bin/sh bob -c "mkfifo -m 600 '$VBASE/vdom.test/vbob.mbox'"
t0=$(date +%s)
reply=$(pt_smtp_send alice@example.test vbob@vdom.test)
pt_check vfifo_smtp_accepts [ "${reply%% *}" = 250 ]
pt_check vfifo_bounced pt_wait "logged 'to=<vbob@vdom.test>, relay=virtual, .*dsn=5\\.3\\.5, status=bounced'" 15
pt_check vfifo_quick bash -c "grep -q 'to=<vbob@vdom.test>, .*status=bounced' '$PT_T/maillog' && [ $(( $(date +%s) - t0 )) -le 10 ]"
pt_check vfifo_decoy_unchanged decoy_same
rm -f "$VBASE/vdom.test/vbob.mbox"

# ---- a symlink as carol's mailbox, pointing at the decoy ----
su -s /bin/sh carol -c "ln -s '$DECOY' '$MAIL/carol'"
reply=$(pt_smtp_send alice@example.test carol@example.test)
pt_check symlink_smtp_accepts [ "${reply%% *}" = 250 ]
pt_check symlink_bounced_520 pt_wait "logged 'to=<carol@example.test>, relay=local, .*dsn=5\\.2\\.0, status=bounced'" 15
pt_check symlink_decoy_unchanged decoy_same
pt_check symlink_left_alone [ -L "$MAIL/carol" ]
rm -f "$MAIL/carol"

# ---- bob's .forward owned by alice: ignored, bob keeps his mail ----
printf 'carol\n' > "$PT_HOMES/bob/.forward"
chown alice: "$PT_HOMES/bob/.forward"; chmod 644 "$PT_HOMES/bob/.forward"
reply=$(PT_BODY=$'Subject: forward-owner\r\n\r\nfor bob only\r\n' pt_smtp_send alice@example.test bob@example.test)
pt_check forward_smtp_accepts [ "${reply%% *}" = 250 ]
pt_check forward_bad_owner_warned pt_wait "logged 'warning: file $PT_HOMES/bob/.forward has bad owner uid'" 15
pt_check forward_kept_by_bob pt_wait "grep -q '^Subject: forward-owner' '$MAIL/bob' 2>/dev/null" 15
pt_check forward_not_to_carol bash -c "! grep -qs 'forward-owner' '$MAIL/carol'"
pt_check forward_decoy_unchanged decoy_same
rm -f "$PT_HOMES/bob/.forward"

# ---- a command with grandchildren against command_time_limit = 3s ----
t0=$(date +%s)
reply=$(pt_smtp_send alice@example.test slow@example.test)
pt_check slow_smtp_accepts [ "${reply%% *}" = 250 ]
pt_check slow_bounced_530 pt_wait "logged 'to=<slow@example.test>, relay=local, .*dsn=5\\.3\\.0, status=bounced \\(Command time limit exceeded'" 20
elapsed=$(( $(date +%s) - t0 ))
pt_check slow_within_limit [ "$elapsed" -le 12 ]
# nothing of the command's process group may outlive the delivery
pt_check slow_no_survivors pt_wait "! pgrep -f 'sleep 3[01]\\.$MARK' >/dev/null" 5
pt_check slow_decoy_unchanged decoy_same

# ---- a CR in EHLO ----
python3 - "$PT_PORT" <<'EOP' > "$PT_T/helo.out" 2>&1
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=30)
f = s.makefile("rb")
def reply():
    while True:
        line = f.readline()
        if not line or line[3:4] != b"-":
            return line
reply()
for cmd in (b"EHLO evil\rX-Injected: yes", b"MAIL FROM:<alice@example.test>",
            b"RCPT TO:<carol@example.test>", b"DATA"):
    s.sendall(cmd + b"\r\n"); print(reply().decode().strip())
s.sendall(b"Subject: helo-cr\r\n\r\nbody\r\n.\r\n"); print(reply().decode().strip())
s.sendall(b"QUIT\r\n"); reply(); s.close()
EOP
pt_check helo_cr_accepted grep -q '^250 .*queued as' "$PT_T/helo.out"
pt_check helo_cr_delivered pt_wait "grep -q '^Subject: helo-cr' '$MAIL/carol' 2>/dev/null" 15
pt_check helo_cr_received_qmark grep -q '^Received: from evil?X-Injected: yes ' "$MAIL/carol"
pt_check helo_cr_no_raw_cr bash -c "! grep -q \$'\\r' '$MAIL/carol'"
pt_check helo_cr_no_forged_header bash -c "! grep -qi '^X-Injected:' '$MAIL/carol'"
pt_check helo_cr_log_clean bash -c "! grep -q \$'\\r' '$PT_T/maillog'"

# ---- nothing lost: four notices reached the sender, the queue drained ----
pt_check bounces_reached_sender pt_wait '[ "$(bounces_to_alice)" -ge 4 ]' 30
pt_check queue_drained pt_wait_queue_empty 30
pt_check decoy_unchanged_at_end decoy_same
rm -f "$DECOY"
pt_done
