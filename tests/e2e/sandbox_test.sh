#!/usr/bin/env bash
# sandbox_test.sh - a queue that mail_owner cannot reach is caught before start,
# and `make run`'s script works from a checkout under a mode-0700 directory
# (as /root is on every fresh machine).
. "$(dirname "$0")/lib.sh"
pt_setup_users

# 1. postfix check / start with queue_directory under a 0700 parent.
pt_instance
chmod 700 "$PT_T"
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check check_fails_on_unreachable_queue [ "$rc" -ne 0 ]
pt_check check_names_queue_and_blocking_dir \
    grep -q "queue_directory = $PT_T/spool is not reachable by user postfix: directory $PT_T denies it search permission" <<<"$out"
pt_check check_says_the_fix grep -q "Fix: chmod o+x $PT_T" <<<"$out"
pt_check check_warns_data_directory grep -q "data_directory = $PT_T/data is not reachable" <<<"$out"
pt_check check_warns_spool_for_users grep -q "mail_spool_directory = $PT_T/mail is not reachable by user nobody" <<<"$out"
out=$(pt_cmd postfix start 2>&1); rc=$?
pt_check start_refuses_unreachable_queue [ "$rc" -ne 0 ]
pt_check start_says_why grep -q "not starting the mail system" <<<"$out"
pt_check no_master_after_refused_start [ ! -s "$PT_T/spool/pid/master.pid" ]
chmod 755 "$PT_T"
out=$(pt_cmd postfix check 2>&1)
pt_check check_quiet_when_reachable bash -c '! grep -q "not reachable" <<<"$1"' _ "$out"

# 2. The sandbox script itself, run from a checkout under a 0700 directory.
RU=ptsandbox
T=$(mktemp -d /tmp/postern-sandbox.XXXXXX)
chmod 700 "$T"
P=$T/checkout
mkdir -p "$P"
cp -r "$PT_ROOT/scripts" "$PT_ROOT/conf" "$P/"
cp -al "$PT_BUILD" "$P/build" 2>/dev/null || cp -a "$PT_BUILD" "$P/build"
PORT=$(pt_free_port)
sandbox_cleanup() {
    POSTERN_RUN_PORT=$PORT POSTERN_RUN_USER=$RU "$P/scripts/run-sandbox" stop >/dev/null 2>&1
    local real; real=$(readlink "$P/run" 2>/dev/null)
    case $real in /var/lib/postern-sandbox/*) rm -rf "$real" ;; esac
    rm -rf "$T"
    userdel "$RU" 2>/dev/null
    pt_cleanup
}
trap sandbox_cleanup EXIT

out=$(POSTERN_RUN_PORT=$PORT POSTERN_RUN_USER=$RU "$P/scripts/run-sandbox" 2>&1); rc=$?
pt_check sandbox_starts [ "$rc" -eq 0 ] || echo "$out" | tail -20
pt_check sandbox_run_links_out_of_0700 bash -c '[ -L "$1/run" ] && case $(readlink "$1/run") in /var/lib/postern-sandbox/*) true;; *) false;; esac' _ "$P"
pt_check sandbox_prints_how_to_send grep -q "swaks --server 127.0.0.1:$PORT" <<<"$out"
PT_T=$P/run
reply=$(PT_PORT=$PORT pt_smtp_send you@example.org postmaster@localhost)
pt_check sandbox_accepts_postmaster [ "${reply%% *}" = 250 ] || echo "reply: $reply"
reply=$(PT_PORT=$PORT pt_smtp_send you@example.org "$RU@localhost")
pt_check sandbox_accepts_shown_recipient [ "${reply%% *}" = 250 ] || echo "reply: $reply"
md=$P/run/home/$RU/Maildir/new
if pt_wait '[ "$(ls "$md" 2>/dev/null | wc -l)" -eq 2 ]' 30; then
    pt_ok sandbox_delivers_both_to_maildir
else
    pt_fail sandbox_delivers_both_to_maildir "$(ls "$md" 2>&1)"
fi
# A second run restarts the same instance and keeps the mail.
out=$(POSTERN_RUN_PORT=$PORT POSTERN_RUN_USER=$RU "$P/scripts/run-sandbox" 2>&1); rc=$?
pt_check sandbox_second_run_ok [ "$rc" -eq 0 ] || echo "$out" | tail -20
pt_check sandbox_second_run_keeps_mail [ "$(ls "$md" | wc -l)" -eq 2 ]
pt_done
