#!/usr/bin/env bash
# syslog_test.sh - syslog_facility reaches the syslog socket
#
# With maillog_file empty Postern writes syslog datagrams to /dev/log itself.
# In a private mount namespace (a tmpfs over /dev holding only null, urandom
# and our own datagram socket at /dev/log) sendmail runs against a main.cf
# whose queue directory does not exist, so postdrop logs a fatal error: its
# datagram must carry the priority of the configured facility (<154> for
# local3 at crit, <18> for the default mail). An unknown facility name stops
# the program with an error that names it. Skips only when the machine
# refuses `unshare -m` or the tmpfs mount.
. "$(dirname "$0")/lib.sh"
T=$(mktemp -d /tmp/postern-syslog.XXXXXX)
PT_INSTANCES+=("$T")            # removed by pt_cleanup
mkdir "$T/etc"
cp "$PT_ROOT/conf/master.cf" "$T/etc/"
if ! err=$(unshare -m bash -c 'mount --make-rprivate / && mount -t tmpfs tmpfs /dev' 2>&1); then
    echo "# skip: private mount namespaces are not usable here: $err"
    exit 0
fi

cat > "$T/recv.py" <<'EOP'
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1]); os.chmod(sys.argv[1], 0o666)
open(sys.argv[2] + ".ready", "w").close()
with open(sys.argv[2], "w") as out:
    while True:
        out.write(s.recv(65536).decode(errors="replace") + "\n"); out.flush()
EOP

# run_logged FACILITY_LINE OUT: sendmail under a private /dev; the datagrams
# that reached /dev/log go to OUT, sendmail's stderr to OUT.err.
run_logged() {
    # command_directory: sendmail runs this build's postdrop, not whatever
    # /usr/sbin/postdrop the machine has (or lacks: then only sendmail's own
    # "unable to execute" error would reach the log).
    printf '%s\nmaillog_file =\nqueue_directory = %s/nonexistent\ncommand_directory = %s/sbin\n' \
        "$1" "$T" "$PT_BUILD" > "$T/etc/main.cf"
    rm -f "$2" "$2.ready"
    unshare -m bash -c '
        mount --make-rprivate / && mount -t tmpfs tmpfs /dev &&
            mknod -m 666 /dev/null c 1 3 && mknod -m 666 /dev/urandom c 1 9 || exit 1
        python3 "$1/recv.py" /dev/log "$2" & rp=$!
        for n in $(seq 50); do [ -e "$2.ready" ] && break; sleep 0.1; done
        echo hello | "$3/sbin/sendmail" -c "$1/etc" bob@example.com 2>"$2.err"
        sleep 0.2; kill $rp; wait $rp 2>/dev/null' _ "$T" "$2" "$PT_BUILD"
}

run_logged 'syslog_facility = local3' "$T/local3.log"
pt_check local3_line_logged grep -q 'postfix/postdrop\[[0-9]*\]: fatal: chdir' "$T/local3.log"
pt_check local3_priority grep -q '^<154>.*postfix/postdrop' "$T/local3.log"

run_logged '' "$T/mail.log"
pt_check default_mail_priority grep -q '^<18>.*postfix/postdrop' "$T/mail.log"

run_logged 'syslog_facility = nosuch' "$T/bad.log"
pt_check unknown_facility_named grep -q 'unknown syslog facility "nosuch"' "$T/bad.log.err"
pt_check unknown_facility_no_postdrop bash -c '! grep -q postdrop "$1"' _ "$T/bad.log"
pt_done
