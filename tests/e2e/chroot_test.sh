#!/usr/bin/env bash
# Services marked chroot=y in master.cf (as Debian's stock master.cf does for
# smtpd, cleanup, rewrite, bounce, showq, error, smtp ...) run inside
# $queue_directory and mail still flows: SMTP in, local delivery, a bounce,
# and a queue listing. local_recipient_maps (proxy:unix:passwd.byname
# $alias_maps, the default) is answered by the unchrooted proxymap service, so
# the jailed smtpd knows the real users; the aliases are a proxy:hash: table.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
# Aliases through proxymap too (built by postalias as hash:, read as proxy:hash:).
echo "alias_maps = proxy:hash:$PT_CONF/aliases" >> "$PT_CONF/main.cf"
echo 'info: carol' >> "$PT_CONF/aliases"
# Turn on the chroot column for the services Debian chroots.
awk 'BEGIN { split("smtp pickup cleanup rewrite bounce defer trace verify showq error retry discard relay", a, " ");
             for (i in a) want[a[i]] = 1 }
     /^[^# \t]/ && ($1 in want || $1 ~ /^127\.0\.0\.1:/) && $5 == "n" { $5 = "y" }
     { print }' "$PT_CONF/master.cf" > "$PT_CONF/master.cf.new" && mv "$PT_CONF/master.cf.new" "$PT_CONF/master.cf"
pt_check master_cf_has_chroot grep -qE '^127\.0\.0\.1:[0-9]+ +inet +n +- +y' "$PT_CONF/master.cf"
pt_check master_cf_verify_chrooted grep -qE '^verify +unix +- +- +y' "$PT_CONF/master.cf"
# A second SMTP port whose recipients are verified (the jailed verify keeps
# its cache in $data_directory, outside the jail).
P_VERIFY=$(pt_free_port)
printf '127.0.0.1:%s inet n - y - - smtpd\n    -o smtpd_recipient_restrictions=reject_unverified_recipient\n' \
    "$P_VERIFY" >> "$PT_CONF/master.cf"
# What Debian's init script copies into the jail so that names resolve.
mkdir -p "$PT_T/spool/etc"
for f in /etc/localtime /etc/services /etc/resolv.conf /etc/hosts /etc/nsswitch.conf /etc/host.conf; do
    [ -e "$f" ] && cp -L "$f" "$PT_T/spool/etc/" 2>/dev/null
done
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

reply=$(pt_smtp_send sender@example.org alice@example.test)
pt_check chroot_smtp_accepts [ "${reply%% *}" = 250 ]
pt_wait '[ "$(ls "$PT_HOMES/alice/Maildir/new" 2>/dev/null | wc -l)" -ge 1 ]' 30
pt_check chroot_delivered [ "$(ls "$PT_HOMES/alice/Maildir/new" 2>/dev/null | wc -l)" -ge 1 ]

# The jail has no passwd file: only proxymap can tell real users from others.
pt_check jail_has_no_passwd [ ! -e "$PT_T/spool/etc/passwd" ]
reply=$(pt_smtp_send sender@example.org nosuchuser@example.test)
pt_check chroot_rejects_unknown_user \
    bash -c "case '$reply' in '550 5.1.1 <nosuchuser@example.test>: Recipient address rejected: User unknown in local recipient table'*) true;; *) false;; esac"
reply=$(pt_smtp_send sender@example.org carol@example.test)
pt_check chroot_accepts_second_real_user [ "${reply%% *}" = 250 ]
# An alias known only to the proxy:hash: table (carol gets it).
reply=$(pt_smtp_send sender@example.org info@example.test)
pt_check chroot_accepts_proxied_alias [ "${reply%% *}" = 250 ]
pt_wait 'grep -lqs "^X-Original-To: info@example.test" "$PT_HOMES"/carol/Maildir/new/*' 30
pt_check proxied_alias_delivered grep -lqs '^X-Original-To: info@example.test' "$PT_HOMES"/carol/Maildir/new/*

# proxymap itself runs outside the jail, unprivileged.
mpid=$(tr -d ' ' < "$PT_T/spool/pid/master.pid")
ppid=$(pgrep -P "$mpid" -x proxymap | head -1)
if [ -n "$ppid" ]; then
    pt_check proxymap_not_chrooted [ "$(readlink "/proc/$ppid/root")" = / ]
    pt_check proxymap_not_root [ "$(stat -c %U "/proc/$ppid")" = postfix ]
    # A proxymap that goes away: smtpd's next lookup reconnects to a new one.
    kill "$ppid"
    pt_wait "! kill -0 $ppid 2>/dev/null" 10
    reply=$(pt_smtp_send sender@example.org alice@example.test)
    pt_check chroot_lookup_after_proxymap_restart [ "${reply%% *}" = 250 ]
else
    pt_fail proxymap_not_chrooted "no proxymap process found"
fi

# postmap -q proxy:... asks proxymap (as Postfix's does); tables that
# proxy_read_maps does not list are refused and the query fails.
out=$(pt_cmd postmap -q alice proxy:unix:passwd.byname 2>&1)
pt_check postmap_query_through_proxymap [ "${out%%:*}" = alice ]
out=$(pt_cmd postmap -q info proxy:hash:"$PT_CONF/aliases" 2>&1)
pt_check postmap_query_proxied_alias [ "$out" = carol ]
printf 'x y\n' > "$PT_CONF/unlisted"
pt_cmd postmap "$PT_CONF/unlisted"
pt_check postmap_unapproved_table_fails bash -c "! '$PT_BUILD/sbin/postmap' -c '$PT_CONF' -q x proxy:hash:'$PT_CONF/unlisted' 2>/dev/null"
pt_wait "grep -q 'request for unapproved table: \"hash:$PT_CONF/unlisted\"' '$PT_T/maillog'" 10
pt_check proxymap_logs_unapproved_table grep -q "request for unapproved table: \"hash:$PT_CONF/unlisted\"" "$PT_T/maillog"

# The protocol as docs/ipc.md describes it, straight on the socket.
proto_out=$(python3 - "$PT_T/spool/private/proxymap" "$PT_CONF" <<'EOP'
import socket, sys
s = socket.socket(socket.AF_UNIX); s.settimeout(10); s.connect(sys.argv[1])
f = s.makefile("rb")
def reply():
    out = []
    while True:
        line = f.readline()
        if line in (b"\n", b""):
            return " ".join(out)
        out.append(line.decode().rstrip("\n"))
print(reply())
for req in ["request=open\ntable=unix:passwd.byname\nflags=1",
            "request=lookup\ntable=proxy:unix:passwd.byname\nflags=1\nkey=nosuchuser",
            "request=open\ntable=hash:%s/unlisted\nflags=1" % sys.argv[2],
            "request=update\ntable=unix:passwd.byname\nflags=1\nkey=a\nvalue=b",
            "request=frobnicate",
            "request=lookup\ntable=nocolon\nflags=1\nkey=a"]:
    s.sendall(req.encode() + b"\n\n")
    print(reply())
EOP
)
pt_check proxymap_protocol [ "$proto_out" = "proto=proxymap_v1
status=0 flags=3
status=1
status=3
status=3
status=4
status=4" ]
pt_wait "grep -q 'refusing update request for table unix:passwd.byname' '$PT_T/maillog'" 10
pt_check proxymap_logs_refused_update grep -q 'refusing update request for table unix:passwd.byname' "$PT_T/maillog"

# Unknown user from a local sender: the DSN is made by a chrooted bounce
# daemon and injected through a chrooted cleanup.
printf 'Subject: to nobody\n\nbody\n' | "$PT_BUILD/sbin/sendmail" -C "$PT_CONF" -f bob@example.test nosuchuser@example.test
pt_wait '[ "$(ls "$PT_HOMES/bob/Maildir/new" 2>/dev/null | wc -l)" -ge 1 ]' 30
pt_check chroot_bounce_delivered grep -lq 'multipart/report' "$PT_HOMES"/bob/Maildir/new/* 2>/dev/null

# smtpd really is jailed: its root directory is the queue directory.
pid=$(pgrep -P "$(tr -d ' ' < "$PT_T/spool/pid/master.pid")" -x smtpd | head -1)
if [ -n "$pid" ]; then
    root=$(readlink "/proc/$pid/root")
    pt_check smtpd_is_chrooted [ "$root" = "$PT_T/spool" ]
    pt_check smtpd_not_root [ "$(stat -c %U "/proc/$pid")" = postfix ]
else
    pt_fail smtpd_is_chrooted "no smtpd process found"
fi
pt_check chroot_postqueue_works "$PT_BUILD/sbin/postqueue" -c "$PT_CONF" -p

# A jailed verify probes, answers and writes its cache file outside the
# jail: the first RCPT may be pending (450), a later one is accepted.
verify_rcpt() {
    python3 - "$P_VERIFY" <<'EOP'
import smtplib, sys
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=30)
s.ehlo("client.example.test"); s.mail("bob@example.test")
print(s.rcpt("alice@example.test")[0]); s.quit()
EOP
}
verify_cached() { pt_cmd postmap -q alice@example.test "btree:$PT_T/data/verify_cache" 2>/dev/null; }
pt_wait '[ "$(verify_rcpt)" = 250 ]' 30
pt_check chroot_verify_accepts [ "$(verify_rcpt)" = 250 ]
pt_wait '[[ "$(verify_cached)" == 0:* ]]' 10
pt_check chroot_verify_cache_written bash -c "[[ '$(verify_cached)' == 0:* ]]"
vpid=$(pgrep -P "$(tr -d ' ' < "$PT_T/spool/pid/master.pid")" -x verify | head -1)
pt_check verify_is_chrooted [ "$(readlink "/proc/${vpid:-0}/root")" = "$PT_T/spool" ]
pt_check no_fatal_in_log bash -c "! grep -E 'fatal|panic' '$PT_T/maillog'"
pt_done
