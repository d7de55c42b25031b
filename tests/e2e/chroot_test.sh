#!/usr/bin/env bash
# Services marked chroot=y in master.cf (as Debian's stock master.cf does for
# smtpd, cleanup, rewrite, bounce, showq, error, smtp ...) run inside
# $queue_directory and mail still flows: SMTP in, local delivery, a bounce,
# and a queue listing.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_clean_homes
pt_instance
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
# Turn on the chroot column for the services Debian chroots.
awk 'BEGIN { split("smtp pickup cleanup rewrite bounce defer trace showq error retry discard relay", a, " ");
             for (i in a) want[a[i]] = 1 }
     /^[^# \t]/ && ($1 in want || $1 ~ /^127\.0\.0\.1:/) && $5 == "n" { $5 = "y" }
     { print }' "$PT_CONF/master.cf" > "$PT_CONF/master.cf.new" && mv "$PT_CONF/master.cf.new" "$PT_CONF/master.cf"
pt_check master_cf_has_chroot grep -qE '^127\.0\.0\.1:[0-9]+ +inet +n +- +y' "$PT_CONF/master.cf"
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
pt_check no_fatal_in_log bash -c "! grep -E 'fatal|panic' '$PT_T/maillog'"
pt_done
