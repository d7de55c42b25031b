# tests/e2e/lib.sh - start and drive real Postern instances in temp directories
#
# Source this from a test script (bash). Each test script is one group of
# related cases; it prints "ok NAME" or "FAIL NAME: why" per case and exits
# non-zero if any case failed. See tests/e2e/README.md.

set -u
PT_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
PT_BUILD=${PT_BUILD:-$PT_ROOT/build}
# When the build sits where ordinary users cannot reach it (a checkout under
# /root, mode 0700), the commands that tests run as other users (sendmail as
# alice, postdrop) could not even be executed: use a hard-linked copy of the
# programs in /var/tmp instead (removed at exit).
PT_BUILD_COPY=
if [ "$(id -u)" = 0 ] && ! runuser -u nobody -- test -x "$PT_BUILD/sbin" 2>/dev/null; then
    PT_BUILD_COPY=$(mktemp -d /var/tmp/postern-e2e-build.XXXXXX)
    chmod 755 "$PT_BUILD_COPY"
    cp -al "$PT_BUILD/sbin" "$PT_BUILD/libexec" "$PT_BUILD_COPY/" 2>/dev/null ||
        cp -a "$PT_BUILD/sbin" "$PT_BUILD/libexec" "$PT_BUILD_COPY/"
    PT_BUILD=$PT_BUILD_COPY
fi
# A version manager's python3 shim (pyenv) costs about 0.3 s per start, and
# the scripts start Python hundreds of times: put the directory of the
# interpreter the shim chooses first in PATH, so that the same python3 is run
# directly.
if pt_py=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) && [ -n "$pt_py" ]; then
    PATH=$(dirname "$pt_py"):$PATH
    export PATH
fi
unset pt_py
PT_FAILS=0
PT_PASSES=0
PT_INSTANCES=()
PT_PIDS=()
PT_HOMES=/var/tmp/postern-test-homes
# The reference configurations (shared/ beside the repository in CI).
PT_REF=$PT_ROOT/../shared/reference
[ -d "$PT_REF" ] || PT_REF=/work/shared/reference

# pt_have_ref: are the reference configurations (shared/reference) here? They
# are beside the repository in CI; a bare clone elsewhere lacks them, and the
# cases built on them then say "skip" instead of failing.
pt_have_ref() { [ -d "$PT_REF/flurdy" ] && [ -d "$PT_REF/d3xt3r01" ]; }
pt_skip() { echo "skip $1: $2"; }
pt_ok() { echo "ok $1"; PT_PASSES=$((PT_PASSES + 1)); }
pt_fail() {
    echo "FAIL $1: $2"
    PT_FAILS=$((PT_FAILS + 1))
    if [ -n "${PT_T:-}" ] && [ -f "$PT_T/maillog" ]; then
        echo "--- last lines of $PT_T/maillog:"; tail -n 25 "$PT_T/maillog" | sed 's/^/    /'
    fi
}
# pt_check NAME COMMAND...: ok if the command succeeds.
pt_check() { local name=$1; shift; if "$@"; then pt_ok "$name"; else pt_fail "$name" "$*"; fi; }

# Users and groups the instances need (idempotent).
pt_setup_users() {
    getent group postdrop >/dev/null || groupadd -r postdrop
    getent passwd postfix >/dev/null || useradd -r -M -d /nonexistent -s /usr/sbin/nologin postfix
    mkdir -p "$PT_HOMES"; chmod 755 "$PT_HOMES"
    local u
    for u in alice bob carol; do
        getent passwd "$u" >/dev/null || useradd -m -d "$PT_HOMES/$u" -s /bin/sh "$u" 2>/dev/null \
            || useradd -M -d "$PT_HOMES/$u" -s /bin/sh "$u"
        mkdir -p "$PT_HOMES/$u"
        chown "$u:" "$PT_HOMES/$u"; chmod 755 "$PT_HOMES/$u"
    done
}

# Cleans the test users' home directories (Maildir, .forward, mbox files).
pt_clean_homes() {
    local u
    for u in alice bob carol; do
        find "$PT_HOMES/$u" -mindepth 1 -delete 2>/dev/null
    done
}

# A port nothing listens on now. The kernel may offer a port again once the
# probe socket is closed, so the ports handed out in this test run are
# remembered (in a file: callers use $(pt_free_port), a subshell) and never
# given twice: two services of one instance on one port stop it starting.
pt_free_port() {
    local used=/tmp/postern-e2e-ports.$$ p
    while :; do
        p=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()')
        grep -qx "$p" "$used" 2>/dev/null || break
    done
    echo "$p" >> "$used"
    echo "$p"
}

# pt_instance: makes a new instance directory and sets PT_T, PT_PORT, PT_CONF.
# Extra main.cf lines can be appended to $PT_CONF/main.cf before pt_start.
pt_instance() {
    # PT_TMPDIR: where instances go (bench/run's BENCH_FS=fresh puts them on
    # a file system of their own).
    PT_T=$(mktemp -d "${PT_TMPDIR:-/tmp}/postern-e2e.XXXXXX")
    chmod 755 "$PT_T"
    PT_CONF=$PT_T/etc
    PT_PORT=$(pt_free_port)
    mkdir -p "$PT_CONF" "$PT_T/spool" "$PT_T/data" "$PT_T/mail"
    chmod 1777 "$PT_T/mail"
    cat > "$PT_CONF/main.cf" <<EOM
queue_directory = $PT_T/spool
data_directory = $PT_T/data
daemon_directory = $PT_BUILD/libexec
command_directory = $PT_BUILD/sbin
inet_interfaces = 127.0.0.1
mail_spool_directory = $PT_T/mail
maillog_file = $PT_T/maillog
maillog_file_prefixes = $PT_T, /var, /dev/stdout
myhostname = mail.example.test
mydomain = example.test
myorigin = \$myhostname
mydestination = \$myhostname, localhost.\$mydomain, localhost, example.test
mynetworks = 127.0.0.0/8
alias_maps = hash:$PT_CONF/aliases
alias_database = hash:$PT_CONF/aliases
service_throttle_time = 2s
smtpd_error_sleep_time = 0
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 2s
EOM
    sed -e "s/^smtp\( *\)inet/127.0.0.1:$PT_PORT\1inet/" "$PT_ROOT/conf/master.cf" > "$PT_CONF/master.cf"
    printf 'postmaster: root\nroot: alice\n' > "$PT_CONF/aliases"
    PT_INSTANCES+=("$PT_T")
    export MAIL_CONFIG=$PT_CONF
}

# pt_postmap ARGS: run postmap/postalias etc. from the build against this instance.
pt_cmd() { local c=$1; shift; "$PT_BUILD/sbin/$c" -c "$PT_CONF" "$@"; }

# pt_wait_smtp [PORT [DEADLINE [HOST]]]: waits until HOST:PORT (default
# 127.0.0.1, the instance's port) answers with 220 (DEADLINE seconds, 20).
pt_wait_smtp() {
    local port=${1:-$PT_PORT} deadline=${2:-20} host=${3:-127.0.0.1}
    python3 - "$port" "$deadline" "$host" <<'EOP'
import socket, sys, time
port, deadline, host = int(sys.argv[1]), time.time() + float(sys.argv[2]), sys.argv[3]
while time.time() < deadline:
    try:
        s = socket.create_connection((host, port), timeout=2)
        line = s.makefile("rb").readline()
        s.sendall(b"QUIT\r\n"); s.close()
        if line.startswith(b"220"):
            sys.exit(0)
    except OSError:
        pass
    time.sleep(0.1)
sys.exit(1)
EOP
}

pt_start() {
    "$PT_BUILD/libexec/../sbin/postalias" -c "$PT_CONF" "$PT_CONF/aliases" 2>/dev/null || true
    "$PT_BUILD/sbin/postfix" -c "$PT_CONF" set-permissions >/dev/null 2>&1
    if ! "$PT_BUILD/sbin/postfix" -c "$PT_CONF" start >"$PT_T/start.log" 2>&1; then
        echo "postfix start failed:"; cat "$PT_T/start.log"; return 1
    fi
    pt_wait_smtp "$PT_PORT" 20 || { echo "smtpd did not answer on $PT_PORT"; return 1; }
    # master starts qmgr and pickup at once, but on a loaded machine smtpd
    # can answer first: scripts look at those processes right away.
    local svc
    for svc in qmgr pickup; do
        if grep -Eq "^$svc[[:space:]]" "$PT_CONF/master.cf"; then
            pt_wait "[ -n \"\$(pt_child $svc)\" ]" 10 || true
        fi
    done
}

# PID of the instance's master, and of its first child named NAME.
pt_master_pid() { tr -d ' \n' < "$PT_T/spool/pid/master.pid" 2>/dev/null; }
pt_child() { pgrep -P "$(pt_master_pid)" -x "$1" | head -n 1; }

pt_stop() {
    [ -n "${PT_CONF:-}" ] || return 0
    "$PT_BUILD/sbin/postfix" -c "$PT_CONF" stop >/dev/null 2>&1 || true
}

# Number of messages in the queue (files under incoming, active, deferred, hold, maildrop).
pt_queue_count() {
    find "$PT_T/spool/incoming" "$PT_T/spool/active" "$PT_T/spool/deferred" "$PT_T/spool/hold" \
         "$PT_T/spool/maildrop" -type f 2>/dev/null | wc -l
}

# pt_wait COND_COMMAND [deadline]: polls until the command succeeds.
pt_wait() {
    local cond=$1 deadline=${2:-30} end
    end=$(( $(date +%s) + deadline ))
    while [ "$(date +%s)" -lt "$end" ]; do
        eval "$cond" && return 0
        sleep 0.1
    done
    return 1
}

pt_wait_queue_empty() { pt_wait '[ "$(pt_queue_count)" -eq 0 ]' "${1:-30}"; }

# pt_log_count ERE: lines of the instance's maillog that match.
pt_log_count() { grep -cE "$1" "$PT_T/maillog"; }

# pt_burst SESSIONS COUNT RCPT: COUNT messages from a@example.org over
# SESSIONS parallel smtp-source sessions; smtp-source's exit status.
pt_burst() {
    "$PT_BUILD/sbin/smtp-source" -s "$1" -m "$2" -f a@example.org -t "$3" \
        "127.0.0.1:$PT_PORT" >/dev/null 2>&1
}

# pt_service_option SERVICE TEXT: appends TEXT (e.g. "-o max_use=3") to the
# master.cf line of SERVICE (a line that starts with it and ends with it as
# the program), reloads and gives the reload a second; false when no such line.
pt_service_option() {
    sed -i "s/^\($1 .* $1\)\$/\1 $2/" "$PT_CONF/master.cf"
    grep -q "^$1 .* $2\$" "$PT_CONF/master.cf" || return 1
    pt_cmd postfix reload >/dev/null 2>&1
    sleep 1
}

# pt_reload_burst SESSIONS COUNT RCPT: pt_burst while "postfix reload" runs
# three times, 0.4 s apart; smtp-source's exit status.
pt_reload_burst() {
    local src i
    pt_burst "$@" &
    src=$!
    for i in 1 2 3; do sleep 0.4; pt_cmd postfix reload >/dev/null 2>&1; done
    wait "$src"
}

# pt_service_socks SOCKET PROGRAM: PROGRAM's connected sockets on the
# instance's UNIX-domain SOCKET (e.g. private/discard), as "PID INODE" lines.
pt_service_socks() {
    ss -xpn 2>/dev/null | awk -v p="$PT_T/spool/$1" -v prog="$2" '
        $1 == "u_str" && $2 == "ESTAB" && $5 == p {
            if (match($0, "\"" prog "\",pid=[0-9]+")) {
                s = substr($0, RSTART, RLENGTH); sub(/.*pid=/, "", s); print s, $6
            }
        }'
}

# pt_smtp_send FROM TO [TO...]: sends a small message with Python's smtplib,
# prints the server's final reply ("250 ..."). Body from $PT_BODY if set.
pt_smtp_send() {
    local from=$1; shift
    python3 - "$PT_PORT" "$from" "$@" <<'EOP'
import os, smtplib, sys
port, sender, rcpts = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
body = os.environ.get("PT_BODY", "Subject: test\r\n\r\nhello from the e2e suite\r\n")
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("client.example.test")
try:
    s.sendmail(sender, rcpts, body)
    print("250 ok")
except smtplib.SMTPRecipientsRefused as e:
    for r, (code, msg) in e.recipients.items():
        print(code, msg.decode())
except smtplib.SMTPResponseException as e:
    print(e.smtp_code, e.smtp_error.decode())
s.quit()
EOP
}

# pt_cleanup_records TYPE:DATA...: one message straight to public/cleanup,
# as smtpd would send it (flags=0), made of these records (TYPE is the one
# record letter, DATA the rest; "A*N:name" stands for N attribute records
# name_0=x .. name_N-1=x); prints cleanup's status and reason.
pt_cleanup_records() {
    python3 - "$PT_T/spool/public/cleanup" "$@" <<'EOP'
import socket, sys
path, specs = sys.argv[1], sys.argv[2:]
def rec(t, data):
    data = data.encode()
    out, l = bytearray(t.encode()), len(data)
    while True:
        b = l & 0x7f
        l >>= 7
        out.append(b | (0x80 if l else 0))
        if not l:
            break
    return bytes(out) + data
body = b""
for spec in specs:
    t, _, data = spec.partition(":")
    if t.startswith("A*"):
        body += b"".join(rec("A", "%s_%d=x" % (data, i)) for i in range(int(t[2:])))
    else:
        body += rec(t, data)
s = socket.socket(socket.AF_UNIX)
s.connect(path)
f = s.makefile("rb")
def attrs():
    d = {}
    while True:
        l = f.readline().decode().rstrip("\n")
        if not l:
            return d
        k, _, v = l.partition("=")
        d[k] = v
attrs(); attrs()
s.sendall(b"flags=0\n\n")
s.sendall(body)
a = attrs()
print(a.get("status"), a.get("reason"))
EOP
}

pt_cleanup() {
    local t
    for p in "${PT_PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for t in "${PT_INSTANCES[@]}"; do
        "$PT_BUILD/sbin/postfix" -c "$t/etc" stop >/dev/null 2>&1 || true
        [ -n "${PT_KEEP:-}" ] || rm -rf "$t"
    done
    [ -z "$PT_BUILD_COPY" ] || rm -rf "$PT_BUILD_COPY"
    rm -f "/tmp/postern-e2e-ports.$$"
}
trap pt_cleanup EXIT

# pt_done: prints the summary line for this script and sets the exit code.
pt_done() {
    echo "# $(basename "$0"): $PT_PASSES passed, $PT_FAILS failed"
    [ "$PT_FAILS" -eq 0 ]
}

# pt_netns_dns INNERVAR PREFIX PROBE_NAME PROBE_ADDR DNSMASQ_ARG...: runs the
# calling script a second time inside a private network namespace whose
# resolver is a dnsmasq serving the test zone given by DNSMASQ_ARG (after
# --local=/example/: nothing is forwarded). When INNERVAR is 1 we are that
# second run and it returns at once. Otherwise (the outer run) it makes the
# namespace PREFIX$$ with /etc/netns/PREFIX$$/resolv.conf, starts dnsmasq on
# its 127.0.0.1:53, waits until PROBE_NAME resolves to PROBE_ADDR, runs the
# script with INNERVAR=1 inside, removes everything on any exit, and exits
# with the inner run's status. Skips (exit 0) only when `ip netns add` is not
# permitted or the namespace cannot be configured (the machine's limit, not
# Postern's); a missing dnsmasq or a zone that never answers is a failure.
PT_NS=
PT_NS_DNSPID=
PT_NS_INNERPID=
PT_NS_DT=
pt_netns_dns() {
    local innervar=$1 prefix=$2 probe_name=$3 probe_addr=$4 self ready n rc
    shift 4
    [ "${!innervar:-}" = 1 ] && return 0
    self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")
    pt_netns_new "$prefix"
    command -v dnsmasq >/dev/null ||
        pt_netns_fail dnsmasq_missing "dnsmasq is not installed (Debian dnsmasq-base)"
    ip netns exec "$PT_NS" dnsmasq --no-daemon --no-resolv --no-hosts --bind-interfaces \
        --listen-address=127.0.0.1 --local=/example/ "$@" \
        >"$PT_NS_DT/dnsmasq.err" 2>&1 &
    PT_NS_DNSPID=$!
    # (getent hosts, not ahosts: getaddrinfo's AI_ADDRCONFIG finds no
    # address in a loopback-only namespace and would not even ask)
    ready=
    for n in $(seq 100); do
        if ip netns exec "$PT_NS" getent hosts "$probe_name" 2>/dev/null |
                awk -v a="$probe_addr" '$1 == a { f = 1 } END { exit !f }'; then
            ready=1
            break
        fi
        kill -0 "$PT_NS_DNSPID" 2>/dev/null || break
        sleep 0.1
    done
    [ -n "$ready" ] || pt_netns_fail dns_ready "dnsmasq in $PT_NS did not answer for $probe_name"
    # In the background so that a signal reaches our trap at once (bash runs
    # traps only between foreground commands).
    env "$innervar=1" ip netns exec "$PT_NS" bash "$self" &
    PT_NS_INNERPID=$!
    wait "$PT_NS_INNERPID"
    rc=$?
    PT_NS_INNERPID=
    exit $rc
}

# pt_netns_new PREFIX: makes the namespace PREFIX$$ (in PT_NS) with lo up,
# /etc/netns/PREFIX$$/resolv.conf naming 127.0.0.1, a scratch directory in
# PT_NS_DT and pt_netns_cleanup as the EXIT trap. Skips (exit 0) when the
# namespace cannot be made or configured here; any other error fails.
pt_netns_new() {
    local prefix=$1 err
    PT_NS=$prefix$$
    if ! err=$(ip netns add "$PT_NS" 2>&1); then
        case $err in
        *"not permitted"* | *"ermission denied"*)
            echo "# skip: ip netns add not permitted: $err"
            exit 0 ;;
        esac
        echo "FAIL netns_add: ip netns add $PT_NS: $err"
        echo "# $(basename "$0"): 0 passed, 1 failed"
        exit 1
    fi
    trap pt_netns_cleanup EXIT
    trap 'exit 1' INT TERM HUP
    # Some sandboxes let a namespace be made but not configured: that is the
    # machine's limit, not Postern's, so say so and skip.
    if ! err=$(ip -n "$PT_NS" link set lo up 2>&1); then
        echo "# skip: network namespaces are not usable here (lo up in $PT_NS: $err)"
        exit 0
    fi
    mkdir -p "/etc/netns/$PT_NS"
    echo 'nameserver 127.0.0.1' > "/etc/netns/$PT_NS/resolv.conf"
    PT_NS_DT=$(mktemp -d "/tmp/postern-$prefix-dns.XXXXXX")
}

pt_netns_fail() {
    echo "FAIL $1: $2"
    [ -n "$PT_NS_DT" ] && [ -f "$PT_NS_DT/dnsmasq.err" ] &&
        sed 's/^/    /' "$PT_NS_DT/dnsmasq.err" | tail -20
    echo "# $(basename "$0"): 0 passed, 1 failed"
    exit 1
}

pt_netns_cleanup() {
    local p n
    if [ -n "$PT_NS_INNERPID" ]; then
        # interrupted: the inner run stops its instance in its EXIT trap
        kill "$PT_NS_INNERPID" 2>/dev/null
        for n in $(seq 100); do
            kill -0 "$PT_NS_INNERPID" 2>/dev/null || break
            sleep 0.1
        done
    fi
    if [ -n "$PT_NS_DNSPID" ]; then
        kill "$PT_NS_DNSPID" 2>/dev/null
        wait "$PT_NS_DNSPID" 2>/dev/null
    fi
    # Anything still running in our namespace was started by this test (an
    # inner run that was interrupted): stop it by PID.
    for p in $(ip netns pids "$PT_NS" 2>/dev/null); do kill "$p" 2>/dev/null; done
    for n in $(seq 50); do
        [ -z "$(ip netns pids "$PT_NS" 2>/dev/null)" ] && break
        sleep 0.1
    done
    for p in $(ip netns pids "$PT_NS" 2>/dev/null); do kill -9 "$p" 2>/dev/null; done
    ip netns del "$PT_NS" 2>/dev/null
    rm -rf "/etc/netns/$PT_NS"
    rmdir /etc/netns 2>/dev/null     # only when no other namespace uses it
    [ -n "$PT_NS_DT" ] && rm -rf "$PT_NS_DT"
    pt_cleanup
}
