#!/bin/bash
# privsep_queue_test.sh - a compromised mail_owner cannot make root touch files outside the
# mail system through the queue or data directory (ARCHITECTURE.md section 2)
#
# Attack steps run with the uid of mail_owner (postfix), as a compromised smtpd, cleanup or
# qmgr would: symlinked status-log hash directories (defer/, bounce/, trace/) while local
# defers, bounces and traces mail; a symlinked deferred/<hash> directory plus a forged
# delivery request to local; a symlinked master.lock and pid file before "postfix start";
# sockets and FIFOs swapped while master re-creates them on reload. Every case checks that a
# root-owned decoy outside the mail system is unchanged (content, size, owner, mode, and no
# new files beside it) and that no mail was lost. Last, every queue entry must belong to
# mail_owner (except the queue directory and pid/, root's, and maildrop/ and public/, group
# postdrop).
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes

DECOY=$(mktemp -d /var/tmp/postern-decoy-XXXXXX)
DECOYQ=$(mktemp -d /var/tmp/postern-decoyq-XXXXXX)
chmod 700 "$DECOY" "$DECOYQ"
printf 'root:x:0:0:decoy:/root:/bin/sh\n' > "$DECOY/passwd"
chmod 600 "$DECOY/passwd"
trap 'pt_cleanup; rm -rf "$DECOY" "$DECOYQ"' EXIT

# Everything observable about a decoy directory and its files.
decoy_sig() {
    (cd "$1" && find . -printf '%p %y %s %u %g %m\n' | sort && find . -type f -exec sha256sum {} + | sort)
}
DECOY_SIG=$(decoy_sig "$DECOY")
decoy_same() { [ "$(decoy_sig "$DECOY")" = "$DECOY_SIG" ]; }

as_postfix() { setpriv --reuid=postfix --regid=postfix --clear-groups -- "$@"; }

pt_instance
SPOOL=$PT_T/spool
cat >> "$PT_CONF/main.cf" <<EOM
hash_queue_names = deferred, defer, bounce, trace
local_recipient_maps =
EOM
printf 'deferme: "|exit 75"\n' >> "$PT_CONF/aliases"
pt_cmd postalias "$PT_CONF/aliases"
pt_cmd postfix set-permissions >/dev/null 2>&1

# ---- master.lock and the pid file ----
as_postfix ln -s "$DECOY/passwd" "$PT_T/data/master.lock"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" start >"$PT_T/start1.log" 2>&1
pt_check master_lock_symlink_refused [ -L "$PT_T/data/master.lock" ]
pt_check master_lock_symlink_decoy_unchanged decoy_same
no_master() { "$PT_BUILD/libexec/master" -c "$PT_CONF" -t 2>/dev/null; }
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" stop >/dev/null 2>&1
rm -f "$PT_T/data/master.lock"
pt_wait no_master 10

# pid/ is root's, so only root could plant this one; master must still not follow it.
ln -sfn "$DECOY/passwd" "$SPOOL/pid/master.pid"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" start >"$PT_T/start2.log" 2>&1
pt_check pid_file_symlink_decoy_unchanged decoy_same
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" stop >/dev/null 2>&1
rm -f "$SPOOL/pid/master.pid"
pt_wait no_master 10

pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# ---- status logs: every hash directory of defer/, bounce/, trace/ points at the decoy ----
for q in defer bounce trace; do
    for h in 0 1 2 3 4 5 6 7 8 9 A B C D E F; do
        as_postfix ln -s "$DECOY" "$SPOOL/$q/$h"
    done
done
r1=$(pt_smtp_send sender@example.org deferme@example.test)
r2=$(pt_smtp_send alice@example.test nosuchuser@example.test)
r3=$(python3 - "$PT_PORT" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test")
s.sendmail("sender@example.org", ["carol@example.test"],
           "Subject: trace me\r\n\r\nhello\r\n", rcpt_options=["NOTIFY=SUCCESS"])
print("250 ok")
s.quit()
EOP
)
pt_check status_mail_accepted [ "${r1%% *}${r2%% *}${r3%% *}" = 250250250 ]
# local has answered for all three (whatever the outcome) once each has a status line.
pt_wait 'grep -q "to=<deferme@example.test>.*status=" $PT_T/maillog && grep -q "to=<nosuchuser@example.test>.*status=" $PT_T/maillog && grep -q "to=<carol@example.test>.*status=" $PT_T/maillog' 30
pt_check status_hash_symlink_decoy_unchanged decoy_same
# Nothing is lost: a recipient whose status could not be recorded stays queued.
pt_check status_hash_symlink_mail_kept [ "$(pt_queue_count)" -ge 2 ]

# The attacker goes away; the mail still ends where it should.
for q in defer bounce trace; do
    for h in 0 1 2 3 4 5 6 7 8 9 A B C D E F; do
        as_postfix rm -f "$SPOOL/$q/$h"
    done
done
pt_cmd postqueue -f >/dev/null 2>&1
pt_check bounce_reaches_sender_after_attack \
    pt_wait "grep -q 'nosuchuser@example.test' $PT_T/mail/alice 2>/dev/null" 40
pt_check carol_delivered_after_attack pt_wait "grep -q 'Subject: trace me' $PT_T/mail/carol 2>/dev/null" 30
pt_check deferred_mail_still_queued \
    pt_wait '[ -n "$(find $SPOOL/deferred -type f 2>/dev/null)" ]' 30

# ---- deferred/<hash> symlink plus a forged delivery request to local ----
# The deferme message sits in deferred/<h>/<id>. A root-owned copy of it outside the mail
# system stands for a root-only file; a compromised qmgr points deferred/d at its directory
# and asks local to deliver "deferred/passwd" (hash directory "d").
QF=$(find "$SPOOL/deferred" -type f | head -n 1)
cp "$QF" "$DECOYQ/passwd"; chown root:root "$DECOYQ/passwd"; chmod 600 "$DECOYQ/passwd"
DECOYQ_SIG=$(decoy_sig "$DECOYQ")
OFFSET=$(python3 - "$DECOYQ/passwd" <<'EOP'
import sys
data = open(sys.argv[1], "rb").read()
pos = 0
while pos < len(data):
    t = data[pos]; p = pos + 1; n = 0; shift = 0
    while True:
        b = data[p]; p += 1; n |= (b & 0x7f) << shift; shift += 7
        if not b & 0x80:
            break
    if t == ord("R"):
        print(pos); break
    pos = p + n
EOP
)
rm -rf "$SPOOL/deferred/d"
as_postfix ln -s "$DECOYQ" "$SPOOL/deferred/d"
as_postfix /usr/bin/python3 - "$SPOOL/private/local" "$OFFSET" >"$PT_T/forged.out" 2>&1 <<'EOP'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.settimeout(30)
s.connect(sys.argv[1])
f = s.makefile("rwb")
while f.readline() not in (b"\n", b""):
    pass
req = {"queue_name": "deferred", "queue_id": "passwd", "sender": "sender@example.org",
       "rcpt_count": "1"}
body = "".join("%s=%s\n" % kv for kv in req.items())
body += "rcpt_address=alice@example.test\nrcpt_offset=%s\n\n" % sys.argv[2]
f.write(body.encode()); f.flush()
# The reply (if local accepted the request) ends with an empty line.
for line in iter(f.readline, b""):
    print(line.decode(errors="replace"), end="")
    if line == b"\n":
        break
EOP
pt_check forged_request_answered pt_wait "grep -q 'passwd' $PT_T/maillog" 20
[ "$PT_FAILS" -eq 0 ] || sed "s/^/    forged: /" "$PT_T/forged.out"
pt_check forged_deferred_symlink_decoy_unchanged [ "$(decoy_sig "$DECOYQ")" = "$DECOYQ_SIG" ]
as_postfix rm -f "$SPOOL/deferred/d"
QID=$(basename "$QF")
pt_check forged_request_real_mail_kept pt_wait "[ -n \"\$(find $SPOOL/deferred $SPOOL/active -name $QID)\" ]" 10

# ---- sockets and FIFOs swapped while master re-creates them on reload ----
# A service added and removed on each reload makes master create (and later remove) its
# endpoints again; the attacker keeps replacing them with links to the decoy.
cp "$PT_CONF/master.cf" "$PT_T/master.cf.base"
cp "$PT_CONF/master.cf" "$PT_T/master.cf.extra"
cat >> "$PT_T/master.cf.extra" <<EOM
pqunix    unix  -       -       n       -       -       showq
pqpublic  unix  n       -       n       -       -       showq
pqfifo    fifo  n       -       n       1       1       pickup
EOM
as_postfix bash -c '
    end=$((SECONDS + 8))
    while [ $SECONDS -lt $end ]; do
        for e in private/pqunix public/pqpublic public/pqfifo; do
            ln -sfn "$2" "$1/$e.x" 2>/dev/null && mv -Tf "$1/$e.x" "$1/$e" 2>/dev/null
        done
    done' swapper "$SPOOL" "$DECOY/passwd" &
SWAPPER=$!
# Paced on purpose: each reload must land while the swapper runs (a race, not a wait).
for i in $(seq 1 12); do
    cp "$PT_T/master.cf.extra" "$PT_CONF/master.cf"
    pt_cmd postfix reload >/dev/null 2>&1
    sleep 0.3
    cp "$PT_T/master.cf.base" "$PT_CONF/master.cf"
    pt_cmd postfix reload >/dev/null 2>&1
    sleep 0.3
done
wait "$SWAPPER"
pt_check swapped_endpoints_decoy_unchanged decoy_same
# Without the attacker, the endpoints come out with their owners and modes.
rm -f "$SPOOL/private/pqunix" "$SPOOL/public/pqpublic" "$SPOOL/public/pqfifo" "$SPOOL"/*/*.x
cp "$PT_T/master.cf.extra" "$PT_CONF/master.cf"
pt_cmd postfix reload >/dev/null 2>&1
pt_wait '[ -S "$SPOOL/private/pqunix" ] && [ -S "$SPOOL/public/pqpublic" ] && [ -p "$SPOOL/public/pqfifo" ]' 10
pt_check endpoint_private_socket [ "$(stat -c '%F %U %G %a' "$SPOOL/private/pqunix")" = "socket postfix postfix 600" ]
pt_check endpoint_public_socket [ "$(stat -c '%F %U %G %a' "$SPOOL/public/pqpublic")" = "socket postfix postdrop 660" ]
pt_check endpoint_public_fifo [ "$(stat -c '%F %U %G %a' "$SPOOL/public/pqfifo")" = "fifo postfix postdrop 622" ]
# The wake-up timer (every second) reaches the FIFO service through master's descriptor.
pt_check fifo_wakeup_starts_service pt_wait "pgrep -f -- '-n pqfifo' >/dev/null" 10
cp "$PT_T/master.cf.base" "$PT_CONF/master.cf"
pt_cmd postfix reload >/dev/null 2>&1
pt_check mail_flows_after_reloads [ "$(pt_smtp_send sender@example.org bob@example.test | cut -c1-3)" = 250 ]
pt_check bob_delivered_after_reloads pt_wait "grep -q 'hello from the e2e suite' $PT_T/mail/bob 2>/dev/null" 30

# ---- every entry under the queue and data directories belongs to mail_owner ----
bad=$(cd "$SPOOL" && find . -mindepth 1 -printf '%P %u %g\n' | while read -r p u g; do
    case "$p" in
        pid|pid/*) [ "$u" = root ] || echo "$p $u:$g" ;;
        maildrop|public|public/*) [ "$u:$g" = postfix:postdrop ] || echo "$p $u:$g" ;;
        *) [ "$u" = postfix ] || echo "$p $u:$g" ;;
    esac
done)
bad+=$(cd "$PT_T/data" && find . -mindepth 1 ! -user postfix -printf ' %P %u\n')
pt_check queue_entries_owned_by_mail_owner [ -z "$bad" ]
[ -z "$bad" ] || echo "$bad" | head -n 20 | sed 's/^/    not mail_owner: /'
pt_check queue_dir_root [ "$(stat -c %U "$SPOOL")" = root ]

# ---- set-permissions (root) gives old root-owned queue entries back, and only them ----
mkdir -p "$SPOOL/defer/7"; echo x > "$SPOOL/defer/7/ABC7"; chown -R root:root "$SPOOL/defer/7"
ln -s "$DECOY/passwd" "$SPOOL/defer/7/DEF7"
pt_cmd postfix set-permissions >/dev/null 2>&1
pt_check set_permissions_repairs_hash_dir [ "$(stat -c %U:%U "$SPOOL/defer/7" "$SPOOL/defer/7/ABC7" | sort -u)" = postfix:postfix ]
pt_check set_permissions_decoy_unchanged decoy_same

pt_done
