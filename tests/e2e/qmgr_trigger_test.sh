#!/usr/bin/env bash
# cleanup wakes qmgr over one connection it keeps (sock_trigger_held): mail
# is delivered at once, also after qmgr was killed and restarted while the
# cleanup process still held a connection to the old one, and one-shot
# triggers (postqueue -f) still work beside the held ones. queue_run_delay
# is an hour, so nothing but a trigger brings mail in during the test.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
EOM
pt_cmd postconf -e "queue_run_delay = 3600s" "minimal_backoff_time = 3600s" \
    "maximal_backoff_time = 3600s"
# One cleanup process, so that the second message goes through the process
# that holds the connection to the killed qmgr.
sed -i -e 's/^\(cleanup *unix *n *- *n *- *\)0/\11/' "$PT_CONF/master.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

maildir_count() { find "$PT_HOMES/alice/Maildir/new" -type f 2>/dev/null | wc -l; }
send_one() { PT_BODY="Subject: trigger $1" pt_smtp_send sender@example.org alice@example.test; }

r=$(send_one 1)
pt_check "first message accepted" [ "${r:0:3}" = 250 ]
pt_check "first message delivered within 10 s" pt_wait '[ "$(maildir_count)" -ge 1 ]' 10

qmgr=$(pt_child qmgr)
cleanup=$(pt_child cleanup)
held_to_qmgr() {
    # a UNIX stream socket of cleanup whose peer is one of qmgr's sockets
    local inodes peer
    inodes=$(for f in /proc/"$1"/fd/*; do readlink "$f"; done 2>/dev/null |
             sed -n 's/^socket:\[\([0-9]*\)\]$/\1/p')
    for i in $inodes; do
        peer=$(ss -xpn 2>/dev/null | awk -v i="$i" '$6 == i { print $8 }')
        [ -n "$peer" ] && ss -xpn 2>/dev/null | awk -v p="$peer" '$6 == p' | grep -q "pid=$2," && return 0
    done
    return 1
}
# The first trigger to a path is one-shot (it finds the path is a socket);
# from the second on, cleanup keeps its connection.
r=$(send_one 2)
pt_check "second message delivered within 10 s" pt_wait '[ "$(maildir_count)" -ge 2 ]' 10
pt_check "the same cleanup process served both" [ "$(pt_child cleanup)" = "$cleanup" ]
pt_check "cleanup holds a connection to qmgr after its trigger" held_to_qmgr "$cleanup" "$qmgr"
r=$(send_one 3)
pt_check "third message, over the held connection, delivered within 10 s" \
    pt_wait '[ "$(maildir_count)" -ge 3 ]' 10

# qmgr dies. The held connection is dead now: the next trigger must notice
# and connect again, which is also what makes master start a new qmgr.
kill -9 "$qmgr"
pt_wait '! kill -0 '"$qmgr"' 2>/dev/null' 10
sleep 1
r=$(send_one 4)
pt_check "message after qmgr was killed accepted" [ "${r:0:3}" = 250 ]
pt_check "message after qmgr was killed delivered within 10 s (not at the hourly scan)" \
    pt_wait '[ "$(maildir_count)" -ge 4 ]' 10
pt_check "a new qmgr runs" pt_wait '[ -n "$(pt_child qmgr)" ] && [ "$(pt_child qmgr)" != "'"$qmgr"'" ]' 10
pt_check "cleanup holds a connection to the new qmgr" held_to_qmgr "$(pt_child cleanup)" "$(pt_child qmgr)"

# A one-shot trigger beside the held one: postqueue -f brings a deferred
# message back at once (its retry time is an hour away).
pt_cmd postconf -e "defer_transports = local"
pt_cmd postfix reload >/dev/null 2>&1
pt_wait '[ -n "$(pt_child qmgr)" ]' 10
sleep 1
r=$(send_one 5)
pt_check "fifth message deferred" pt_wait \
    '[ "$(find "$PT_T/spool/deferred" -type f | wc -l)" -eq 1 ]' 10
pt_cmd postconf -e "defer_transports ="
pt_cmd postfix reload >/dev/null 2>&1
pt_wait '[ -n "$(pt_child qmgr)" ]' 10
sleep 1
pt_check "postqueue -f works beside held triggers" pt_cmd postqueue -f
pt_check "flushed message delivered within 10 s" pt_wait '[ "$(maildir_count)" -ge 5 ]' 10
pt_check "queue empty" pt_wait_queue_empty 10
pt_done
