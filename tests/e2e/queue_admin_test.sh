#!/usr/bin/env bash
# queue_admin_test.sh - the queue administration commands on a real
# instance with mail stuck in the deferred queue (a transport_maps entry
# sends defer.test to the error agent's "retry" service): postqueue -p and
# -j, mailq and sendmail -bp, postcat -q, postsuper -h/-H/-r/-d, and
# postqueue run by an ordinary user through its setgid postdrop permission.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
printf 'defer.test retry:4.4.1 remote site is resting\n' > "$PT_CONF/transport"
# Long backoff: a deferred message is tried again only when we ask for it.
cat >> "$PT_CONF/main.cf" <<EOM
transport_maps = hash:$PT_CONF/transport
minimal_backoff_time = 600s
maximal_backoff_time = 1200s
EOM
pt_cmd postmap "$PT_CONF/transport"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

PQ="$PT_BUILD/sbin/postqueue -c $PT_CONF"
PS="$PT_BUILD/sbin/postsuper -c $PT_CONF"
# attempts ADDR: delivery attempts logged for a recipient so far.
attempts() { grep -c "to=<$1>, relay=none, .*status=deferred" "$PT_T/maillog"; }
# where ID: the queue directory (relative to the spool) that holds the file, or "".
where() {
    local f; f=$(find "$PT_T/spool" -path "$PT_T/spool/defer" -prune -o -type f -name "$1" -print | head -1)
    f=${f#$PT_T/spool/}; echo "${f%%/*}"
}
# json_field ID EXPR: evaluates a Python expression over the postqueue -j record of ID (m).
json_field() {
    $PQ -j | python3 -c '
import json, sys
for line in sys.stdin:
    m = json.loads(line)
    if m["queue_id"] == sys.argv[1]:
        print(eval(sys.argv[2])); break
else:
    print("(absent)")' "$1" "$2"
}

# ---- two deferred messages: A (two recipients), B (null sender, 3 KB) ----
r1=$(pt_smtp_send bob@example.test a1@defer.test a2@defer.test)
r2=$(PT_BODY="Subject: big one"$'\r\n\r\n'"$(head -c 3000 /dev/zero | tr '\0' x)"$'\r\n' pt_smtp_send '' b1@defer.test)
pt_check accepted [ "$r1 $r2" = "250 ok 250 ok" ]
pt_wait "[ \$(attempts a2@defer.test) -ge 1 ] && [ \$(attempts b1@defer.test) -ge 1 ] && [ \$(find $PT_T/spool/deferred -type f | wc -l) = 2 ]" 20
pt_check both_deferred [ "$(find "$PT_T/spool/deferred" -type f | wc -l)" = 2 ]
A=$(grep -o '[0-9A-F]*: to=<a1@defer.test>' "$PT_T/maillog" | head -1 | cut -d: -f1)
B=$(grep -o '[0-9A-F]*: to=<b1@defer.test>' "$PT_T/maillog" | head -1 | cut -d: -f1)
pt_check ids_found [ -n "$A" -a -n "$B" ]

# ---- postqueue -j: one JSON object per line ----
$PQ -j > "$PT_T/q.json"; rc=$?
pt_check json_exit [ $rc = 0 ]
out=$(python3 - "$PT_T/q.json" "$A" "$B" <<'EOP'
import json, sys
path, a, b = sys.argv[1:]
bad = []
lines = open(path).read().splitlines()
msgs = {}
for line in lines:
    try:
        m = json.loads(line)
    except ValueError as e:
        bad.append("not JSON: %r" % line); continue
    msgs[m.get("queue_id")] = m
if len(lines) != 2:
    bad.append("%d lines" % len(lines))
ma, mb = msgs.get(a, {}), msgs.get(b, {})
for m in (ma, mb):
    if m.get("queue_name") != "deferred":
        bad.append("queue_name %r" % m.get("queue_name"))
    if not isinstance(m.get("arrival_time"), int) or not isinstance(m.get("message_size"), int):
        bad.append("arrival_time/message_size not numbers")
    if m.get("forced_expire") is not False:
        bad.append("forced_expire %r" % m.get("forced_expire"))
    for r in m.get("recipients", []):
        if r.get("delay_reason") != "remote site is resting":
            bad.append("delay_reason %r" % r.get("delay_reason"))
if ma.get("sender") != "bob@example.test":
    bad.append("sender A %r" % ma.get("sender"))
if mb.get("sender") != "MAILER-DAEMON":
    bad.append("sender B %r" % mb.get("sender"))
if [r.get("address") for r in ma.get("recipients", [])] != ["a1@defer.test", "a2@defer.test"]:
    bad.append("recipients A %r" % ma.get("recipients"))
if [r.get("address") for r in mb.get("recipients", [])] != ["b1@defer.test"]:
    bad.append("recipients B %r" % mb.get("recipients"))
if not (mb.get("message_size", 0) > 3000 > ma.get("message_size", 0) > 100):
    bad.append("sizes %r %r" % (ma.get("message_size"), mb.get("message_size")))
print("; ".join(bad))
EOP
)
if [ -z "$out" ]; then pt_ok json_content; else pt_fail json_content "$out"; fi

# ---- postqueue -p: the classic layout, computed here from the JSON ----
$PQ -p > "$PT_T/q.txt"; rc=$?
pt_check list_exit [ $rc = 0 ]
python3 - "$PT_T/q.json" > "$PT_T/q.expect" <<'EOP'
import json, sys, time
out = ["-Queue ID-  --Size-- ----Arrival Time---- -Sender/Recipient-------"]
total = 0
for line in open(sys.argv[1]):
    m = json.loads(line)
    mark = {"active": "*", "hold": "!"}.get(m["queue_name"], "")
    # asctime() text cut to 20 columns, so a space follows the seconds
    date = time.strftime("%a %b %e %H:%M:%S %Y", time.localtime(m["arrival_time"]))[:20]
    out.append("%-11s %7d %s %s" % (m["queue_id"] + mark, m["message_size"], date, m["sender"]))
    last = None
    for r in m["recipients"]:
        why = r.get("delay_reason", "")
        if why and why != last:
            out.append(" " * max(0, 76 - len(why)) + "(" + why + ")")
        last = why
        out.append(" " * 41 + r["address"])
    out.append("")
    total += m["message_size"]
n = sum(1 for _ in open(sys.argv[1]))
out.append("-- %d Kbytes in %d Request%s." % (total // 1024, n, "" if n == 1 else "s"))
print("\n".join(out))
EOP
pt_check list_layout diff -u "$PT_T/q.expect" "$PT_T/q.txt"
pt_check list_summary grep -qx -- '-- 3 Kbytes in 2 Requests.' "$PT_T/q.txt"
pt_check list_reason_line grep -qx ' \{54\}(remote site is resting)' "$PT_T/q.txt"

# ---- mailq and sendmail -bp print the same listing ----
pt_check mailq_is_symlink [ -L "$PT_BUILD/sbin/mailq" ]
pt_check mailq_same bash -c "'$PT_BUILD/sbin/mailq' -C '$PT_CONF' | diff -u '$PT_T/q.txt' -"
pt_check sendmail_bp_same bash -c "'$PT_BUILD/sbin/sendmail' -C '$PT_CONF' -bp | diff -u '$PT_T/q.txt' -"

# ---- postcat -q: envelope and content of a queued message ----
pt_cmd postcat -q "$A" > "$PT_T/cat.txt" 2>&1; rc=$?
pt_check postcat_exit [ $rc = 0 ]
pt_check postcat_envelope grep -qx "\*\*\* ENVELOPE RECORDS deferred/.*$A \*\*\*" "$PT_T/cat.txt"
pt_check postcat_sender grep -qx 'sender: bob@example.test' "$PT_T/cat.txt"
pt_check postcat_rcpts [ "$(grep -c '^recipient: a[12]@defer.test$' "$PT_T/cat.txt")" = 2 ]
pt_check postcat_arrival grep -q '^message_arrival_time: ' "$PT_T/cat.txt"
pt_check postcat_contents grep -qx "\*\*\* MESSAGE CONTENTS deferred/.*$A \*\*\*" "$PT_T/cat.txt"
pt_check postcat_body grep -qx 'hello from the e2e suite' "$PT_T/cat.txt"
pt_check postcat_header grep -qx 'Subject: test' "$PT_T/cat.txt"
pt_check postcat_end grep -qx "\*\*\* MESSAGE FILE END deferred/.*$A \*\*\*" "$PT_T/cat.txt"
pt_cmd postcat -q 0123456789ABC > "$PT_T/cat2.txt" 2>&1; rc=$?
pt_check postcat_missing_fails [ $rc != 0 ]

# ---- postsuper -r: requeued and tried again at once ----
n=$(attempts a1@defer.test)
$PS -r "$A" > "$PT_T/ps.out" 2>&1; rc=$?
pt_check requeue_exit [ $rc = 0 ]
pt_check requeue_says grep -qx "postsuper: $A: requeued" "$PT_T/ps.out"
pt_check requeue_count grep -qx 'postsuper: Requeued: 1 message' "$PT_T/ps.out"
pt_check requeue_retried pt_wait "[ \$(attempts a1@defer.test) -gt $n ]" 15
pt_check requeue_logged grep -qE "postfix/postsuper\[[0-9]+\]: $A: requeued" "$PT_T/maillog"
pt_wait "[ \"\$(where $A)\" = deferred ]" 10
pt_check requeue_back_deferred [ "$(where "$A")" = deferred ]

# ---- postsuper -h: on hold, marked '!', not tried by a flush ----
$PS -h "$A" > "$PT_T/ps.out" 2>&1; rc=$?
pt_check hold_exit [ $rc = 0 ]
pt_check hold_says grep -qx "postsuper: $A: placed on hold" "$PT_T/ps.out"
pt_check hold_count grep -qx 'postsuper: Placed on hold: 1 message' "$PT_T/ps.out"
pt_check hold_in_spool [ "$(where "$A")" = hold ]
pt_check hold_listed_bang grep -q "^$A! " <($PQ -p)
pt_check hold_json [ "$(json_field "$A" 'm["queue_name"]')" = hold ]
pt_check hold_logged grep -qE "postfix/postsuper\[[0-9]+\]: $A: placed on hold" "$PT_T/maillog"
na=$(attempts a1@defer.test); nb=$(attempts b1@defer.test)
$PQ -f
pt_check flush_tries_others pt_wait "[ \$(attempts b1@defer.test) -gt $nb ]" 15
pt_check hold_not_tried [ "$(attempts a1@defer.test)" = "$na" ]

# ---- postsuper -H: back to the deferred queue ----
$PS -H "$A" > "$PT_T/ps.out" 2>&1; rc=$?
pt_check release_exit [ $rc = 0 ]
pt_check release_says grep -qx "postsuper: $A: released from hold" "$PT_T/ps.out"
pt_check release_count grep -qx 'postsuper: Released from hold: 1 message' "$PT_T/ps.out"
pt_wait "[ \"\$(where $A)\" = deferred ]" 10
pt_check release_in_deferred [ "$(where "$A")" = deferred ]
pt_check release_no_bang bash -c "$PQ -p | grep -q '^$A '"

# ---- postsuper -d ID ----
$PS -d "$A" > "$PT_T/ps.out" 2>&1; rc=$?
pt_check delete_exit [ $rc = 0 ]
pt_check delete_says grep -qx "postsuper: $A: removed" "$PT_T/ps.out"
pt_check delete_count grep -qx 'postsuper: Deleted: 1 message' "$PT_T/ps.out"
pt_check delete_gone_spool [ -z "$(find "$PT_T/spool" -name "$A")" ]
pt_check delete_gone_list [ "$(json_field "$A" 1)" = "(absent)" ]
pt_check delete_logged grep -qE "postfix/postsuper\[[0-9]+\]: $A: removed" "$PT_T/maillog"
pt_check list_one_request bash -c "$PQ -p | grep -qx -- '-- 3 Kbytes in 1 Request.'"

# ---- postsuper -d ALL deferred ----
r3=$(pt_smtp_send carol@example.test c1@defer.test)
pt_wait "[ \$(attempts c1@defer.test) -ge 1 ] && [ \$(find $PT_T/spool/deferred -type f | wc -l) = 2 ]" 20
$PS -d ALL deferred > "$PT_T/ps.out" 2>&1; rc=$?
pt_check delete_all_exit [ $rc = 0 ]
pt_check delete_all_count grep -qx 'postsuper: Deleted: 2 messages' "$PT_T/ps.out"
pt_check delete_all_each [ "$(grep -c '^postsuper: [0-9A-F]*: removed$' "$PT_T/ps.out")" = 2 ]
pt_check delete_all_spool_empty [ "$(pt_queue_count)" = 0 ]
pt_check delete_all_logs_gone [ -z "$(find "$PT_T/spool/defer" -type f)" ]
pt_check delete_all_list_empty bash -c "[ \"\$($PQ -p)\" = 'Mail queue is empty' ]"
pt_check delete_all_json_empty bash -c "[ -z \"\$($PQ -j)\" ]"

# ---- privileges: postqueue for any user, postsuper for root only ----
mode=$(stat -c '%U:%G %A' "$PT_BUILD/sbin/postqueue")
pt_check postqueue_setgid_postdrop [ "${mode%% *}" = root:postdrop -a "$(echo "${mode#* }" | cut -c7)" = s ]
r4=$(pt_smtp_send bob@example.test d1@defer.test)
pt_wait "[ \$(attempts d1@defer.test) -ge 1 ]" 20
out=$(su alice -c "$PT_BUILD/sbin/postsuper -c $PT_CONF -d ALL" 2>&1); rc=$?
pt_check postsuper_root_only [ $rc != 0 -a -n "$(grep 'reserved for the superuser' <<<"$out")" ]
# A non-root caller may name a configuration directory only when the
# default main.cf lists it in alternate_config_directories.
# The test writes that file only when there is none, and removes it at exit.
made_default= made_dir=
if [ ! -e /etc/postfix/main.cf ]; then
    [ -d /etc/postfix ] || { mkdir /etc/postfix && made_dir=yes; }
    if (set -o noclobber; echo "alternate_config_directories = $PT_CONF" > /etc/postfix/main.cf) 2>/dev/null; then
        made_default=yes
        trap 'grep -qx "alternate_config_directories = $PT_CONF" /etc/postfix/main.cf 2>/dev/null && rm -f /etc/postfix/main.cf; [ -n "$made_dir" ] && rmdir /etc/postfix 2>/dev/null; pt_cleanup' EXIT
    fi
fi
if [ -n "$made_default" ]; then
    out=$(su alice -c "$PT_BUILD/sbin/postqueue -c $PT_CONF -p" 2>&1); rc=$?
    pt_check user_postqueue_exit [ $rc = 0 ]
    pt_check user_postqueue_lists grep -q 'd1@defer.test' <<<"$out"
    pt_check user_postqueue_same bash -c "$PQ -p | diff - <(cat <<<'$out')"
    out=$(su alice -c "MAIL_CONFIG=$PT_CONF $PT_BUILD/sbin/postqueue -j" 2>&1); rc=$?
    pt_check user_postqueue_json [ $rc = 0 -a -n "$(grep '"d1@defer.test"' <<<"$out")" ]
    # The same program without its setgid bit cannot reach the showq socket.
    cp "$PT_BUILD/sbin/postqueue" "$PT_T/postqueue-plain"; chmod 755 "$PT_T/postqueue-plain"
    out=$(su alice -c "$PT_T/postqueue-plain -c $PT_CONF -p" 2>&1); rc=$?
    pt_check user_needs_setgid [ $rc != 0 -a -n "$(grep 'showq service: Permission denied' <<<"$out")" ]
else
    echo "# /etc/postfix/main.cf exists: not testing postqueue as an ordinary user with -c"
fi
out=$(su alice -c "$PT_BUILD/sbin/postqueue -c $PT_CONF.other -p" 2>&1); rc=$?
pt_check user_unlisted_dir_refused [ $rc != 0 -a -n "$(grep 'alternate_config_directories' <<<"$out")" ]

# ---- with the mail system stopped: root's postqueue reads the queue
# directly, an ordinary user's cannot; postsuper still works and writes its
# lines to maillog_file itself ----
$PQ -p > "$PT_T/q.running"
pt_stop
$PQ -p > "$PT_T/q.stopped" 2> "$PT_T/q.err"; rc=$?
pt_check stopped_root_postqueue_exit [ $rc = 0 ]
pt_check stopped_root_postqueue_warns grep -qx 'postqueue: warning: Mail system is down -- accessing queue directly' "$PT_T/q.err"
pt_check stopped_root_postqueue_same diff -u "$PT_T/q.running" "$PT_T/q.stopped"
if [ -n "$made_default" ]; then
    out=$(su alice -c "$PT_BUILD/sbin/postqueue -c $PT_CONF -p" 2>&1); rc=$?
    pt_check stopped_user_postqueue_fails [ $rc = 69 ]
    pt_check stopped_user_postqueue_says grep -qx 'postqueue: fatal: Queue report unavailable - mail system is down' <<<"$out"
fi
D=$(grep -o '[0-9A-F]*: to=<d1@defer.test>' "$PT_T/maillog" | head -1 | cut -d: -f1)
$PS -d ALL > "$PT_T/ps.out" 2>&1; rc=$?
pt_check stopped_delete_exit [ $rc = 0 ]
pt_check stopped_delete_count grep -qx 'postsuper: Deleted: 1 message' "$PT_T/ps.out"
pt_check stopped_delete_logged grep -qE "postfix/postsuper\[[0-9]+\]: $D: removed" "$PT_T/maillog"
pt_check stopped_queue_empty [ "$(pt_queue_count)" = 0 ]
pt_done
