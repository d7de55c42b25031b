#!/usr/bin/env bash
# queue_recycle_test.sh - postern_queue_file_recycling: the files of delivered
# messages are kept in $queue_directory/recycle and reused by cleanup:
#   - five delivered messages leave exactly the limit (3) in recycle/ (mode
#     0700, mail_owner), named by the slots 0, 1 and 2; the others are removed;
#   - a new (held) message gets one of those files (same inode), written
#     afresh: no byte of the old, larger message is left, the file is complete
#     (0700), its queue ID is new, and postcat reads it back;
#   - a file in recycle/ that has a second name (link count 2) is not taken;
#   - 2000 messages over 20 sessions: all delivered, none left incomplete;
#   - 0 turns it off: delivered files are removed and recycle/ stays empty;
#   - with incoming/ and active/ hashed (hash_queue_names) reuse still works.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
transport_maps = inline:{ junk.example=discard }
smtpd_sender_restrictions = check_sender_access inline:{ hold@example.org=HOLD }
postern_queue_file_recycling = 3
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
R=$PT_T/spool/recycle
pool() { find "$R" -type f | wc -l; }
inodes() { find "$R" -type f -printf '%i\n' | sort; }
held() { find "$PT_T/spool/hold" -type f | wc -l; }

# Five large messages held (the pool is empty: new files), then released and
# delivered (discarded): three files go to recycle/, two are removed.
BIG=$(python3 -c 'print("Subject: OLDMARKER\r\n\r\n" + ("OLDMARKER " * 40 + "\r\n") * 60)')
for i in 1 2 3 4 5; do PT_BODY=$BIG pt_smtp_send hold@example.org "r$i@junk.example" >/dev/null; done
pt_check five_held test "$(held)" -eq 5
pt_cmd postsuper -H ALL 2>/dev/null
pt_check delivered_queue_empty pt_wait_queue_empty 30
pt_check pool_at_limit pt_wait '[ "$(pool)" -eq 3 ]' 10
pt_check pool_private test "$(stat -c %U:%a "$R")" = postfix:700
names=$(ls "$R")
pt_check pool_slot_names test "$(echo $names)" = "0 1 2"

# A small held message reuses one of them.
before=$(inodes)
r=$(PT_BODY=$'Subject: NEWMARKER\r\n\r\nsmall\r\n' pt_smtp_send hold@example.org x@junk.example)
pt_check held_accepted grep -q '^250' <<<"$r"
f=$(find "$PT_T/spool/hold" -type f | head -n 1)
pt_check held_file_exists test -n "$f"
pt_check held_reuses_inode grep -qx "$(stat -c %i "$f")" <<<"$before"
pt_check pool_shrank test "$(pool)" -eq 2
pt_check held_no_old_bytes eval '! grep -q OLDMARKER "$f"'
pt_check held_is_complete test "$(stat -c %a "$f")" = 700
pt_check held_small test "$(stat -c %s "$f")" -lt 2000
id=$(basename "$f")
pt_check held_new_id eval '! grep -qx "$id" <<<"$names"'
postcat_has() { pt_cmd postcat -q "$1" 2>/dev/null | grep -q "$2"; }
pt_check held_postcat_reads postcat_has "$id" NEWMARKER

# A pool file with a second name is never taken.
mkdir -p "$PT_T/links"
for g in "$R"/*; do ln "$g" "$PT_T/links/$(basename "$g")"; done
linked=$(inodes)
PT_BODY=$'Subject: THIRD\r\n\r\nsmall\r\n' pt_smtp_send hold@example.org y@junk.example >/dev/null
g=$(grep -l THIRD "$PT_T"/spool/hold/* | head -n 1)
pt_check third_held test -n "$g"
pt_check linked_not_taken eval '! grep -qx "$(stat -c %i "$g")" <<<"$linked"'
pt_check linked_left_alone test "$(inodes)" = "$linked"
rm -rf "$PT_T/links"

# Under load (20 sessions, files taken and given back all the time) every
# accepted message is delivered and none is left incomplete.
pt_cmd postsuper -d ALL hold 2>/dev/null
sent0=$(grep -c 'to=<load@junk.example>.*status=sent' "$PT_T/maillog")
"$PT_BUILD/sbin/smtp-source" -s 20 -m 2000 -l 2000 -f a@example.org -t load@junk.example \
    "127.0.0.1:$PT_PORT" >/dev/null 2>&1
pt_check load_source_ok test $? -eq 0
pt_check load_queue_empty pt_wait_queue_empty 60
# Log lines are datagrams to postlogd, and a daemon that found its socket
# full sends them a moment later (at most 200 ms): wait for them, but none
# may be missing.
sent_count() { grep -c 'to=<load@junk.example>.*status=sent' "$PT_T/maillog"; }
pt_check load_all_delivered pt_wait '[ "$(sent_count)" -eq $((sent0 + 2000)) ]' 10
pt_check load_none_incomplete eval '! grep -q "removing incomplete" "$PT_T/maillog"'
pt_check load_pool_within_limit test "$(pool)" -le 3

# Off: delivered files are removed, the pool is neither filled nor used.
pt_cmd postsuper -d ALL hold 2>/dev/null
rm -f "$R"/*
pt_cmd postconf -e postern_queue_file_recycling=0
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
for i in 1 2 3; do pt_smtp_send a@example.org "s$i@junk.example" >/dev/null; done
pt_check off_queue_empty pt_wait_queue_empty 30
pt_check off_pool_empty test "$(pool)" -eq 0
pt_check off_removed_logged pt_wait '[ "$(grep -c ": removed" "$PT_T/maillog")" -ge 8 ]' 10

# Hashed incoming/ and active/ (hash_queue_names): files still go to the
# pool from active/X/ID and come back to incoming/Y/NEWID.
pt_cmd postconf -e postern_queue_file_recycling=3 'hash_queue_names=incoming, active, deferred, defer'
pt_cmd postfix reload >/dev/null 2>&1
sleep 2
for i in 1 2 3 4; do pt_smtp_send a@example.org "h$i@junk.example" >/dev/null; done
pt_check hashed_queue_empty pt_wait_queue_empty 30
pt_check hashed_pool_filled pt_wait '[ "$(pool)" -ge 1 ]' 10
before=$(inodes)
PT_BODY=$'Subject: HASHED\r\n\r\nsmall\r\n' pt_smtp_send hold@example.org z@junk.example >/dev/null
h=$(grep -l HASHED "$PT_T"/spool/hold/* 2>/dev/null | head -n 1)
pt_check hashed_held test -n "$h"
pt_check hashed_reuses_inode grep -qx "$(stat -c %i "$h" 2>/dev/null)" <<<"$before"
pt_check hashed_none_incomplete eval '! grep -q "removing incomplete" "$PT_T/maillog"'

pt_stop
pt_done
