#!/usr/bin/env bash
# spawn_test.sh - the spawn(8) service against a real instance: a policy
# script run per connection as user= behind check_policy_service
# unix:private/NAME (one recipient rejected, one passed on with DUNNO), the
# time limit killing the command's process group, and postfix-policyd-spf-
# python in its documented master.cf setup.
. "$(dirname "$0")/lib.sh"

pt_setup_users
pt_clean_homes
pt_instance
OUT=$PT_T/out
mkdir -p "$OUT"; chown bob: "$OUT"

# A policy server that speaks on stdin/stdout: REJECT for rejectme@, DUNNO
# otherwise; records its uid and each request's recipient.
cat > "$PT_T/policy.py" <<EOP
import os, sys
log = open("$OUT/policy.log", "a")
log.write("uid=%d pgid_is_pid=%s\n" % (os.getuid(), os.getpgid(0) == os.getpid()))
log.flush()
req = {}
while True:
    line = sys.stdin.readline()
    if not line:
        break
    line = line.rstrip("\n")
    if line:
        k, _, v = line.partition("=")
        req[k] = v
        continue
    rcpt = req.get("recipient", "")
    log.write("recipient=%s\n" % rcpt); log.flush()
    if rcpt.startswith("rejectme@"):
        sys.stdout.write("action=REJECT spawned policy says no\n\n")
    else:
        sys.stdout.write("action=DUNNO\n\n")
    sys.stdout.flush()
    req = {}
EOP
# A command that never answers and leaves a child behind.
cat > "$PT_T/hang.sh" <<EOS
#!/bin/sh
sleep 300 &
echo \$! > $OUT/hang-bg
sleep 300
EOS
chmod 755 "$PT_T/policy.py" "$PT_T/hang.sh"

cat >> "$PT_CONF/master.cf" <<EOM
mypolicy  unix  -       n       n       -       0       spawn
  user=bob argv=/usr/bin/python3 $PT_T/policy.py
hang      unix  -       n       n       -       0       spawn
  user=bob argv=$PT_T/hang.sh
EOM
# policyd-spf's code is Debian's python3-spf-engine; the postfix-policyd-spf-python
# package adds only a three-line wrapper and would pull in Debian's postfix as
# the system MTA, so scripts/install-deps installs the engine and, where the
# wrapper is missing, the test writes the same wrapper.
SPF=/usr/bin/policyd-spf
if [ ! -x "$SPF" ] && /usr/bin/python3 -c 'import spf_engine.policyd_spf' 2>/dev/null; then
    SPF=$PT_T/policyd-spf
    printf '#!/usr/bin/python3\nimport sys\nfrom spf_engine.policyd_spf import main\nsys.exit(main())\n' > "$SPF"
    chmod 755 "$SPF"
fi
getent passwd policyd-spf >/dev/null || useradd -r -M -d /nonexistent -s /usr/sbin/nologin policyd-spf
HAVE_SPF=
if [ -x "$SPF" ] && getent passwd policyd-spf >/dev/null; then
    HAVE_SPF=1
    # policyd-spf's documented entry, word for word.
    cat >> "$PT_CONF/master.cf" <<EOM
policyd-spf  unix  -       n       n       -       0       spawn
    user=policyd-spf argv=$SPF
EOM
    POLICIES="check_policy_service unix:private/mypolicy, check_policy_service unix:private/policyd-spf,"
else
    POLICIES="check_policy_service unix:private/mypolicy,"
fi
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_recipient_restrictions = $POLICIES permit_mynetworks, reject_unauth_destination
hang_time_limit = 2s
policyd-spf_time_limit = 3600
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# --- the policy script: reject one recipient, DUNNO the other ---
reply=$(pt_smtp_send sender@example.org rejectme@example.test)
pt_check spawn_policy_rejects grep -q '^554 5.7.1 <rejectme@example.test>: Recipient address rejected: spawned policy says no' <<<"$reply"
reply=$(PT_BODY=$'Subject: through spawn\r\n\r\nhello\r\n' pt_smtp_send sender@example.org alice@example.test)
pt_check spawn_policy_dunno_accepts grep -q '^250' <<<"$reply"
pt_check spawn_policy_dunno_delivered pt_wait "grep -qs '^Subject: through spawn' $PT_HOMES/alice/Maildir/new/*" 20
pt_check spawn_policy_saw_both bash -c "grep -qx 'recipient=rejectme@example.test' '$OUT/policy.log' && grep -qx 'recipient=alice@example.test' '$OUT/policy.log'"
pt_check spawn_policy_runs_as_user grep -q "^uid=$(id -u bob) " "$OUT/policy.log"
pt_check spawn_policy_own_process_group grep -q 'pgid_is_pid=True' "$OUT/policy.log"

# --- postfix-policyd-spf-python as its documentation sets it up ---
if [ -n "$HAVE_SPF" ]; then
    F=$(grep -ls '^Subject: through spawn' "$PT_HOMES"/alice/Maildir/new/* | head -1)
    pt_check policyd_spf_header_prepended grep -q '^X-Comment: SPF check N/A for local connections' "${F:-/dev/null}"
else
    pt_fail policyd_spf_available "python3-spf-engine is not installed (scripts/install-deps test installs it)"
fi

# --- time limit: the command and its child are killed ---
python3 - "$PT_T/spool/private/hang" <<'EOP' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.settimeout(30)
try:
    s.recv(1)       # returns (EOF) once spawn kills the command and closes
except OSError:
    pass
EOP
CLIENT=$!
pt_check hang_started pt_wait "[ -s $OUT/hang-bg ]" 20
BG=$(cat "$OUT/hang-bg" 2>/dev/null)
pt_check hang_client_sees_close pt_wait "! kill -0 $CLIENT 2>/dev/null" 15
gone() { [ ! -e "/proc/$1" ] || grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
pt_check hang_background_child_killed pt_wait "gone $BG" 5
pt_check hang_logged pt_wait "grep -q 'spawn.*service hang: command $PT_T/hang.sh: time limit of 2s exceeded' '$PT_T/maillog'" 5

pt_done
