#!/usr/bin/env bash
# milter_rspamd_test.sh - rspamd (Debian rspamd) in milter mode (its proxy
# worker with milter = yes, scanning itself) as smtpd_milters: an ordinary
# message is delivered with the headers rspamd adds (X-Spamd-Result,
# X-Rspamd-Queue-Id, through its milter_headers module), and a message with
# the GTUBE test pattern is rejected at end of data with rspamd's 5xx reply.
# rspamd runs from a temp directory with its own ports and no DNS or Redis.
. "$(dirname "$0")/lib.sh"
RSPAMD=$(command -v rspamd || echo /usr/bin/rspamd)
if [ ! -x "$RSPAMD" ] || [ ! -f /etc/rspamd/rspamd.conf ]; then
    pt_fail rspamd_missing "rspamd is not installed (Debian rspamd)"; pt_done; exit 1
fi
pt_setup_users; pt_clean_homes
pt_instance
R=$PT_T/rspamd
mkdir -p "$R/local.d" "$R/db" "$R/run" "$R/log"
P_PROXY=$(pt_free_port); P_NORMAL=$(pt_free_port); P_CTL=$(pt_free_port)
cat > "$R/local.d/worker-proxy.inc" <<EOM
bind_socket = "127.0.0.1:$P_PROXY";
milter = yes;
timeout = 120s;
upstream "local" { default = yes; self_scan = yes; }
count = 1;
EOM
echo "bind_socket = \"127.0.0.1:$P_NORMAL\"; count = 1;" > "$R/local.d/worker-normal.inc"
echo "bind_socket = \"127.0.0.1:$P_CTL\";" > "$R/local.d/worker-controller.inc"
cat > "$R/local.d/milter_headers.conf" <<EOM
use = ["x-spamd-result", "x-rspamd-queue-id"];
skip_local = false;
skip_authenticated = false;
EOM
echo 'type = "console"; level = "warning";' > "$R/local.d/logging.inc"
echo 'dns { nameserver = ["127.0.0.1:1"]; timeout = 0.1s; retransmits = 1; }' > "$R/local.d/options.inc"
echo 'servers = "";' > "$R/local.d/redis.conf"
(cd "$R" && exec "$RSPAMD" -f -u root -g root -c /etc/rspamd/rspamd.conf --var LOCAL_CONFDIR="$R" \
    --var DBDIR="$R/db" --var RUNDIR="$R/run" --var LOGDIR="$R/log" >"$R/out.log" 2>&1) &
PT_PIDS+=($!)
pt_wait "ss -ltn | grep -q '127.0.0.1:$P_PROXY '" 120 ||
    { tail -20 "$R/out.log"; pt_fail rspamd_start "rspamd did not listen"; pt_done; exit 1; }

cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_milters = inet:127.0.0.1:$P_PROXY
milter_default_action = tempfail
milter_protocol = 6
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

r=$(PT_BODY=$'From: <bob@example.test>\r\nTo: <alice@example.test>\r\nSubject: rspamd ham\r\nMessage-ID: <ham@client.example.test>\r\nDate: Sat, 05 Dec 2026 10:00:00 +0000\r\n\r\nan ordinary message\r\n' \
    pt_smtp_send bob@example.test alice@example.test)
pt_check ham_accepted [ "${r%% *}" = 250 ]
pt_wait 'grep -qs "^Subject: rspamd ham" "$PT_HOMES"/alice/Maildir/new/*' 60
f=$(grep -l "^Subject: rspamd ham" "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | head -1)
pt_check ham_spamd_result grep -q '^X-Spamd-Result: ' "${f:-/dev/null}"
pt_check ham_queue_id grep -q '^X-Rspamd-Queue-Id: ' "${f:-/dev/null}"

GTUBE='XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X'
r=$(PT_BODY=$'From: <bob@example.test>\r\nTo: <alice@example.test>\r\nSubject: rspamd spam\r\n\r\n'"$GTUBE"$'\r\n' \
    pt_smtp_send bob@example.test alice@example.test)
pt_check gtube_rejected [ "${r:0:1}" = 5 ]
echo "# gtube reply: $r"
pt_check gtube_logged grep -q 'milter-reject: END-OF-MESSAGE' "$PT_T/maillog"
pt_wait_queue_empty 20
pt_check gtube_not_delivered bash -c '! grep -qs "^Subject: rspamd spam" "$1"/alice/Maildir/new/*' _ "$PT_HOMES"
pt_done
