#!/usr/bin/env bash
# amavis_test.sh - a real amavisd-new (Debian amavisd-new) as the after-queue
# content filter of both reference setups, with their content_filter and
# master.cf lines taken from shared/reference as written:
#   flurdy    main.cf content_filter, master.cf.additions "amavis" transport
#             and 127.0.0.1:10025 re-injection listener, and the how-to's
#             pickup override (-o content_filter= on pickup, so locally
#             submitted mail is, by that setup's design, not scanned);
#   d3xt3r01  main.cf content_filter and receive_override_options =
#             no_address_mappings, master.cf.additions re-injection listener
#             (address mappings happen after the filter, exactly once).
# What is changed, and only because it must point at this test's own
# processes: the ports 10024 (amavisd) and 10025 (re-injection), and
# d3xt3r01's smtp_bind_address (10.3.0.125 is not an address of this
# machine, the amavis transport could not connect from it). d3xt3r01's
# additions lack the "amavis" master.cf transport its content_filter names
# (Postfix too would defer every message: "unknown mail transport"), so
# the test adds a plain "amavis unix - - n - 2 smtp" line for it.
# One amavisd-new serves both instances: two ports, one policy bank each
# with its own $forward_method back to that instance's re-injection port;
# no virus scanner is configured and spam, banned-name and header checks
# are bypassed (no ClamAV or SpamAssassin needed); amavisd still decodes
# each message and adds "X-Virus-Scanned: by amavisd-new at example.test"
# to what it passes (it would not with the virus check bypassed too). It runs as the Debian
# "amavis" user in a temp directory, started and stopped by PID.
# Checked: mail via SMTP and via sendmail is delivered exactly once, with
# amavisd's header where the setup routes it through amavisd, the queue
# empties; with amavisd stopped mail waits in the deferred queue and is
# delivered once after amavisd returns and "postqueue -f".
. "$(dirname "$0")/lib.sh"
pt_have_ref || { pt_skip amavis_test "no reference configurations at $PT_REF"; exit 0; }
if ! command -v amavisd >/dev/null; then
    pt_fail amavisd_installed "amavisd is not installed (Debian package amavisd-new)"
    pt_done; exit 1
fi
getent passwd amavis >/dev/null ||
    { pt_fail amavis_user "no amavis user (Debian package amavisd-new makes it)"; pt_done; exit 1; }
pt_setup_users; pt_clean_homes

A1=$(pt_free_port); A2=$(pt_free_port)      # amavisd: flurdy's, d3xt3r01's
R1=$(pt_free_port); R2=$(pt_free_port)      # re-injection listeners

# ---- the flurdy instance ------------------------------------------------
pt_instance
F_T=$PT_T; F_CONF=$PT_CONF; F_PORT=$PT_PORT
echo 'home_mailbox = Maildir/' >> "$F_CONF/main.cf"
# content_filter exactly as in flurdy/main.cf, the port changed (10024 ->
# this test's amavisd port).
grep '^content_filter' "$PT_REF/flurdy/main.cf" | sed "s/:10024\$/:$A1/" >> "$F_CONF/main.cf"
# master.cf.additions from the "amavis" transport to the end of the
# re-injection listener, as written, the listener's port changed (10025).
sed -n '/^amavis unix/,/^# and, immediately below/p' "$PT_REF/flurdy/master.cf.additions" |
    sed -e '$d' -e "s/^127.0.0.1:10025 inet/127.0.0.1:$R1 inet/" >> "$F_CONF/master.cf"
# The how-to's pickup override (given as comment lines in the additions).
pickup_o=$(sed -n '/immediately below the stock "pickup"/,/^[^#]/p' "$PT_REF/flurdy/master.cf.additions" |
    sed -n 's/^#\(  -o .*\)$/\1/p')
ADD=$pickup_o awk '{ print } /^pickup / { print ENVIRON["ADD"] }' "$F_CONF/master.cf" > "$F_CONF/master.cf.new" &&
    mv "$F_CONF/master.cf.new" "$F_CONF/master.cf"
pt_check flurdy_additions_installed bash -c "grep -q '^amavis unix - - - - 2 smtp\$' '$F_CONF/master.cf' &&
    grep -q '^127.0.0.1:$R1 inet n - - - - smtpd\$' '$F_CONF/master.cf' &&
    grep -A2 '^pickup ' '$F_CONF/master.cf' | grep -q '^  -o receive_override_options=no_header_body_checks\$' &&
    grep -q '^content_filter = amavis:\[127.0.0.1\]:$A1\$' '$F_CONF/main.cf'"

# ---- the d3xt3r01 instance ----------------------------------------------
pt_instance
D_T=$PT_T; D_CONF=$PT_CONF; D_PORT=$PT_PORT
cat >> "$D_CONF/main.cf" <<EOM
home_mailbox = Maildir/
virtual_alias_maps = inline:{ vtest@example.test=bob@example.test }
EOM
# d3xt3r01/main.cf's filter lines as written (port changed), and its
# smtp_bind_address pointed at this machine.
grep -E '^(content_filter|receive_override_options|smtp_bind_address) ' "$PT_REF/d3xt3r01/main.cf" |
    sed -e "s/:10024\$/:$A2/" -e 's/^smtp_bind_address = .*/smtp_bind_address = 127.0.0.1/' >> "$D_CONF/main.cf"
echo 'amavis unix - - n - 2 smtp' >> "$D_CONF/master.cf"
grep -v '^#' "$PT_REF/d3xt3r01/master.cf.additions" |
    sed "s/^127.0.0.1:10025 inet/127.0.0.1:$R2 inet/" >> "$D_CONF/master.cf"
pt_check d3xt3r01_additions_installed bash -c "grep -q '^127.0.0.1:$R2 inet n - - - - smtpd\$' '$D_CONF/master.cf' &&
    grep -q '^receive_override_options = no_address_mappings\$' '$D_CONF/main.cf'"

# ---- amavisd-new ----------------------------------------------------------
# Its config must sit in a directory the amavis user cannot write (amavisd
# refuses to start otherwise); its home and temp dirs belong to it.
AM_ETC=$(mktemp -d /tmp/postern-amavis-etc.XXXXXX)
AM_HOME=$(mktemp -d /tmp/postern-amavis.XXXXXX)
chmod 755 "$AM_ETC" "$AM_HOME"
mkdir -p "$AM_HOME/tmp" "$AM_HOME/db" "$AM_HOME/var" "$AM_HOME/quarantine"
chown -R amavis:amavis "$AM_HOME"
cat > "$AM_ETC/amavisd.conf" <<EOC
use strict;
\$MYHOME = '$AM_HOME';
\$TEMPBASE = "\$MYHOME/tmp";
\$db_home = "\$MYHOME/db";
\$helpers_home = "\$MYHOME/var";
\$QUARANTINEDIR = "\$MYHOME/quarantine";
\$pid_file = "\$MYHOME/amavisd.pid";
\$lock_file = "\$MYHOME/amavisd.lock";
\$daemon_user = 'amavis';
\$daemon_group = 'amavis';
\$mydomain = 'example.test';
\$myhostname = 'amavis.example.test';
\$max_servers = 2;
\$inet_socket_bind = '127.0.0.1';
\$inet_socket_port = [$A1, $A2];
@inet_acl = qw(127.0.0.1);
\$unix_socketname = undef;
\$interface_policy{'$A1'} = 'FLURDY';
\$interface_policy{'$A2'} = 'D3XT3R01';
\$policy_bank{'FLURDY'} = { forward_method => 'smtp:[127.0.0.1]:$R1',
                            notify_method => 'smtp:[127.0.0.1]:$R1' };
\$policy_bank{'D3XT3R01'} = { forward_method => 'smtp:[127.0.0.1]:$R2',
                              notify_method => 'smtp:[127.0.0.1]:$R2' };
\$forward_method = 'smtp:[127.0.0.1]:$R1';
\$notify_method = \$forward_method;
@bypass_spam_checks_maps = (1);
@bypass_banned_checks_maps = (1);
@bypass_header_checks_maps = (1);
@av_scanners = ();
@av_scanners_backup = ();
\$enable_db = 0;
\$enable_zmq = 0;
\$enable_dkim_verification = 0;
\$enable_dkim_signing = 0;
\$do_syslog = 0;
\$LOGFILE = "\$MYHOME/amavis.log";
\$log_level = 2;
\$X_HEADER_TAG = 'X-Virus-Scanned';
\$X_HEADER_LINE = "by amavisd-new at \$mydomain";
@local_domains_maps = (['.example.test']);
\$virus_admin = undef;
\$spam_admin = undef;
1;
EOC
chmod 644 "$AM_ETC/amavisd.conf"
AM_PID=
amavis_up() {
    python3 - "$1" <<'EOP'
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=2)
    ok = s.makefile("rb").readline().startswith(b"220")
    s.sendall(b"QUIT\r\n"); s.close()
    sys.exit(0 if ok else 1)
except OSError:
    sys.exit(1)
EOP
}
start_amavis() {
    (cd "$AM_HOME" && exec amavisd -c "$AM_ETC/amavisd.conf" foreground) >>"$AM_HOME/stdout" 2>&1 &
    AM_PID=$!
    PT_PIDS+=("$AM_PID")
    pt_wait "amavis_up $A1 && amavis_up $A2" 60
}
stop_amavis() {
    kill "$AM_PID" 2>/dev/null
    pt_wait "! kill -0 $AM_PID 2>/dev/null" 30
    wait "$AM_PID" 2>/dev/null
    pt_wait "! amavis_up $A1 && ! amavis_up $A2" 30
}
am_fail() {
    pt_fail "$1" "$2"
    echo "--- amavisd:"; tail -n 15 "$AM_HOME/amavis.log" "$AM_HOME/stdout" 2>/dev/null | sed 's/^/    /'
}
finish() {
    [ -z "$AM_PID" ] || stop_amavis
    AM_PID=
    rm -rf "$AM_ETC" "$AM_HOME"
}
trap 'finish; pt_cleanup' EXIT
if ! start_amavis; then
    am_fail amavisd_start "amavisd-new did not answer on $A1/$A2"; pt_done; exit 1
fi
pt_ok amavisd_start

# use INSTANCE_DIR: point the lib.sh helpers at that instance.
use() { PT_T=$1; PT_CONF=$1/etc; export MAIL_CONFIG=$PT_CONF
        PT_PORT=$( [ "$1" = "$F_T" ] && echo "$F_PORT" || echo "$D_PORT"); }
for t in "$F_T" "$D_T"; do
    use "$t"
    pt_start || { pt_fail start "instance $t did not start"; pt_done; exit 1; }
done
pt_wait_smtp "$R1" 20 || pt_fail flurdy_reinject_listener "no banner on $R1"
pt_wait_smtp "$R2" 20 || pt_fail d3xt3r01_reinject_listener "no banner on $R2"
# Every setting of both setups is one Postern implements.
no_unsupported() { ! grep -q 'not supported by Postern' <<<"$1"; }
out=$("$PT_BUILD/sbin/postfix" -c "$F_CONF" check 2>&1)
echo "$out" | sed 's/^/# flurdy postfix check: /'
pt_check flurdy_check_all_supported no_unsupported "$out"
out=$("$PT_BUILD/sbin/postfix" -c "$D_CONF" check 2>&1)
echo "$out" | sed 's/^/# d3xt3r01 postfix check: /'
pt_check d3xt3r01_check_all_supported no_unsupported "$out"
subj_files() { grep -ls "^Subject: $2\$" "$PT_HOMES/$1"/Maildir/new/* 2>/dev/null; }
subj_count() { subj_files "$1" "$2" | wc -l; }
scanned() { local f; f=$(subj_files "$1" "$2" | head -1); [ -n "$f" ] && grep -q '^X-Virus-Scanned: by amavisd-new at example.test$' "$f"; }
not_scanned() { local f; f=$(subj_files "$1" "$2" | head -1); [ -n "$f" ] && ! grep -q '^X-Virus-Scanned' "$f"; }
smtp_send() {   # FROM TO SUBJECT: prints the final reply code
    PT_BODY=$(printf 'Subject: %s\r\n\r\nthrough amavisd-new\r\n' "$3") pt_smtp_send "$1" "$2" | awk '{ print $1; exit }'
}
sm_send() {     # TO SUBJECT: sendmail (MAIL_CONFIG: this instance); prints the exit status
    printf 'Subject: %s\n\nthrough amavisd-new\n' "$2" |
        "$PT_BUILD/sbin/sendmail" -f alice@example.test "$1"
    echo $?
}

# ---- flurdy: SMTP through amavisd, sendmail past it (pickup override) ------
use "$F_T"
pt_check flurdy_smtp_accepted [ "$(smtp_send sender@example.org alice@example.test fl-smtp)" = 250 ]
pt_check flurdy_sendmail_accepted [ "$(sm_send bob@example.test fl-sendmail)" = 0 ]
pt_wait '[ "$(subj_count alice fl-smtp)" -ge 1 ] && [ "$(subj_count bob fl-sendmail)" -ge 1 ]' 30
pt_wait_queue_empty 30 || pt_fail flurdy_queue_empty "$(pt_queue_count) messages left"
pt_check flurdy_smtp_once [ "$(subj_count alice fl-smtp)" = 1 ]
pt_check flurdy_smtp_scanned scanned alice fl-smtp || am_fail flurdy_smtp_scanned_detail "no X-Virus-Scanned"
pt_check flurdy_smtp_via_amavis_logged grep -q "relay=127.0.0.1\[127.0.0.1\]:$A1.*status=sent (250 2.0.0 from MTA(smtp:\[127.0.0.1\]:$R1)" "$F_T/maillog"
pt_check flurdy_sendmail_once [ "$(subj_count bob fl-sendmail)" = 1 ]
pt_check flurdy_sendmail_not_scanned_by_design not_scanned bob fl-sendmail

# ---- d3xt3r01: both through amavisd, aliases resolved after it ----------
use "$D_T"
pt_check d3x_smtp_accepted [ "$(smtp_send sender@example.org vtest@example.test dx-smtp)" = 250 ]
pt_check d3x_sendmail_accepted [ "$(sm_send carol@example.test dx-sendmail)" = 0 ]
pt_wait '[ "$(subj_count bob dx-smtp)" -ge 1 ] && [ "$(subj_count carol dx-sendmail)" -ge 1 ]' 30
pt_wait_queue_empty 30 || pt_fail d3x_queue_empty "$(pt_queue_count) messages left"
pt_check d3x_smtp_once [ "$(subj_count bob dx-smtp)" = 1 ]
pt_check d3x_smtp_scanned scanned bob dx-smtp
pt_check d3x_sendmail_once [ "$(subj_count carol dx-sendmail)" = 1 ]
pt_check d3x_sendmail_scanned scanned carol dx-sendmail
# no_address_mappings before the filter: amavisd saw vtest@, the mapping
# to bob happened on the way back in.
pt_check d3x_filter_saw_unmapped grep -q "<sender@example.org> -> <vtest@example.test>" "$AM_HOME/amavis.log"
pt_check d3x_mapped_after_filter grep -q "to=<bob@example.test>, orig_to=<vtest@example.test>, relay=local.*status=sent" "$D_T/maillog"

# ---- amavisd down: mail waits, then goes through once ---------------------
stop_amavis
use "$F_T"
pt_check down_flurdy_smtp_accepted [ "$(smtp_send sender@example.org alice@example.test fl-down)" = 250 ]
use "$D_T"
pt_check down_d3x_sendmail_accepted [ "$(sm_send carol@example.test dx-down)" = 0 ]
pt_check down_flurdy_deferred pt_wait "grep -q 'status=deferred.*127.0.0.1\[127.0.0.1\]:$A1' '$F_T/maillog'" 30
pt_check down_d3x_deferred pt_wait "grep -q 'status=deferred.*127.0.0.1\[127.0.0.1\]:$A2' '$D_T/maillog'" 30
use "$F_T"; fq=$(pt_queue_count)
use "$D_T"; dq=$(pt_queue_count)
pt_check down_mail_stays_queued [ "$fq/$dq" = 1/1 ]
pt_check down_nothing_delivered [ "$(subj_count alice fl-down)/$(subj_count carol dx-down)" = 0/0 ]
start_amavis || am_fail amavisd_restart "amavisd-new did not come back"
for t in "$F_T" "$D_T"; do "$PT_BUILD/sbin/postqueue" -c "$t/etc" -f >/dev/null 2>&1; done
pt_check up_flurdy_delivered pt_wait '[ "$(subj_count alice fl-down)" -ge 1 ]' 30
pt_check up_d3x_delivered pt_wait '[ "$(subj_count carol dx-down)" -ge 1 ]' 30
use "$F_T"; pt_wait_queue_empty 30; fq=$(pt_queue_count)
use "$D_T"; pt_wait_queue_empty 30; dq=$(pt_queue_count)
pt_check up_queues_empty [ "$fq/$dq" = 0/0 ]
pt_check up_delivered_once [ "$(subj_count alice fl-down)/$(subj_count carol dx-down)" = 1/1 ]
pt_check up_flurdy_scanned scanned alice fl-down
pt_check up_d3x_scanned scanned carol dx-down
finish
pt_done
