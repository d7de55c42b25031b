#!/usr/bin/env bash
# showq_requeue_test.sh - the queue as tools written for Postfix see it, and
# postsuper -r for a relay that has come back.
#
# Mail to a relayhost that refuses connections is deferred until qmgr holds
# the destination dead; one message is put on hold. Then:
#  - prometheus-postfix-exporter (Debian package), pointed at the instance's
#    public/showq socket, reports the deferred and held messages in its
#    postfix_showq_* metrics (it reads Postfix's own showq wire format);
#  - Postfix's own postqueue, when installed, lists the queue from our showq;
#  - postqueue -p still lists them all;
#  - smtp-sink starts on the relay port, postsuper -r ALL, and every message
#    is delivered within a few seconds (not after minimal_backoff_time);
#  - every delay=/delays= field (qmgr's deferrals included) is formatted as
#    Postfix formats it.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
SINK=$(pt_free_port)
cat >> "$PT_CONF/main.cf" <<EOM
relayhost = [127.0.0.1]:$SINK
minimal_backoff_time = 300s
maximal_backoff_time = 600s
queue_run_delay = 300s
initial_destination_concurrency = 1
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
PQ="$PT_BUILD/sbin/postqueue -c $PT_CONF"
PS="$PT_BUILD/sbin/postsuper -c $PT_CONF"
deferred_logged() { grep -c "status=deferred" "$PT_T/maillog"; }
qid() { grep -o "[0-9A-F]*: to=<$1>" "$PT_T/maillog" | head -1 | cut -d: -f1; }

r1=$(pt_smtp_send a@example.org one@remote.example)
pt_wait '[ "$(deferred_logged)" -ge 1 ]' 20
r2=$(pt_smtp_send b@example.org two@remote.example)
r3=$(pt_smtp_send c@example.org three@remote.example)
pt_check accepted [ "$r1 $r2 $r3" = "250 ok 250 ok 250 ok" ]
pt_wait '[ "$(deferred_logged)" -ge 3 ] && [ $(find $PT_T/spool/deferred -type f | wc -l) = 3 ]' 20
pt_check dead_destination grep -q "to=<two@remote.example>, relay=none, .*status=deferred" "$PT_T/maillog"
C=$(qid three@remote.example)
$PS -h "$C" >/dev/null 2>&1
pt_check held [ "$(find "$PT_T/spool/hold" -type f | wc -l)" = 1 ]

# ---- prometheus-postfix-exporter reads public/showq ----
# scripts/install-deps unpacks the exporter (its package would install
# Debian's postfix as the system MTA); an installed one works as well.
EXPORTER=$(command -v prometheus-postfix-exporter ||
    echo /var/lib/postern-test-tools/prometheus-postfix-exporter/usr/bin/prometheus-postfix-exporter)
if [ -x "$EXPORTER" ]; then
    EXP=$(pt_free_port)
    "$EXPORTER" --web.listen-address="127.0.0.1:$EXP" \
        --postfix.showq_path="$PT_T/spool/public/showq" \
        --postfix.logfile_path="$PT_T/maillog" >"$PT_T/exporter.log" 2>&1 &
    PT_PIDS+=($!)
    scrape() {
        python3 - "$EXP" <<'EOP'
import sys, urllib.request
try:
    print(urllib.request.urlopen("http://127.0.0.1:%s/metrics" % sys.argv[1], timeout=5).read().decode())
except Exception as e:
    sys.exit(1)
EOP
    }
    pt_wait 'scrape > $PT_T/metrics.txt' 15
    metric() { grep -E "^$1 " "$PT_T/metrics.txt" | awk '{print $2}'; }
    pt_check exporter_up [ "$(metric 'postfix_up\{path="'"$PT_T"'/spool/public/showq"\}')" = 1 ]
    pt_check exporter_deferred \
        [ "$(metric 'postfix_showq_message_size_bytes_count\{queue="deferred"\}')" = 2 ]
    pt_check exporter_hold \
        [ "$(metric 'postfix_showq_message_size_bytes_count\{queue="hold"\}')" = 1 ]
    pt_check exporter_age [ "$(metric 'postfix_showq_message_age_seconds_count\{queue="deferred"\}')" = 2 ]
    pt_check exporter_active_empty \
        [ "$(metric 'postfix_showq_message_size_bytes_count\{queue="active"\}')" = 0 ]
else
    echo "skip exporter: prometheus-postfix-exporter is not installed (scripts/install-deps test)"
fi

# ---- Postfix's own postqueue understands our showq ----
if [ -x /usr/sbin/postqueue ] && /usr/sbin/postconf -h mail_version >/dev/null 2>&1; then
    out=$(/usr/sbin/postqueue -c "$PT_CONF" -j 2>"$PT_T/pf-postqueue.err")
    pt_check postfix_postqueue_json [ "$(grep -c '"queue_name": "deferred"' <<<"$out")" = 2 \
        -a "$(grep -c '"queue_name": "hold"' <<<"$out")" = 1 ]
fi

# ---- our postqueue -p is unchanged ----
out=$($PQ -p)
pt_check postqueue_lists_all [ "$(grep -c '@remote.example' <<<"$out")" = 3 ]
pt_check postqueue_hold_mark grep -q "^$C!" <<<"$out"
pt_check postqueue_summary grep -q -- '-- [0-9]* Kbytes in 3 Requests.' <<<"$out"

# ---- the relay comes back; postsuper -r ALL delivers at once ----
"$PT_BUILD/sbin/smtp-sink" "127.0.0.1:$SINK" 10 >/dev/null 2>&1 &
PT_PIDS+=($!)
pt_wait "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", $SINK), 1)' 2>/dev/null" 10
$PS -r ALL > "$PT_T/ps.out" 2>&1
pt_check requeue_count grep -q 'Requeued: 3 messages' "$PT_T/ps.out"
pt_wait '[ "$(grep -c "status=sent" $PT_T/maillog)" = 3 ]' 8
pt_check requeued_delivered_at_once [ "$(grep -c "status=sent" "$PT_T/maillog")" = 3 ]
pt_wait_queue_empty 5
pt_check queue_empty [ "$(pt_queue_count)" = 0 ]

# ---- every delivery line (agents and qmgr) formats times as Postfix does:
# whole seconds from 10 s up, else two significant digits and at most two
# decimals ("0.01", never "0.0092" or "1.2e+02") ----
bad=$(grep -o 'delay=[^,]*, delays=[^,]*' "$PT_T/maillog" \
      | grep -vE '^delay=[0-9]+(\.[0-9]{1,2})?, delays=[0-9]+(\.[0-9]{1,2})?(/[0-9]+(\.[0-9]{1,2})?){3}$')
pt_check qmgr_delay_lines grep -q 'postfix/qmgr\[[0-9]*\]: .*to=<two@remote.example>, relay=none, delay=' "$PT_T/maillog"
pt_check delay_format [ -z "$bad" ]
pt_done
