#!/usr/bin/env bash
# make install layout (DESTDIR/PREFIX, existing /etc/postfix files kept) and
# SMTP submission with swaks.
. "$(dirname "$0")/lib.sh"

# --- install into a DESTDIR ---
dest=$(mktemp -d /tmp/postern-install.XXXXXX)
PT_INSTANCES+=("$dest")
"$PT_ROOT/scripts/install" "$dest" /usr "$PT_BUILD" >/dev/null
for f in usr/sbin/postfix usr/sbin/postconf usr/sbin/postqueue usr/sbin/postsuper usr/sbin/postdrop \
         usr/sbin/sendmail usr/sbin/postmap usr/sbin/postalias usr/sbin/postcat \
         usr/libexec/postern/master usr/libexec/postern/smtpd usr/libexec/postern/qmgr \
         usr/libexec/postern/local usr/share/man/man1/postfix.1 usr/share/man/man8/smtpd.8 \
         usr/share/man/man5/postconf.5 etc/postfix/main.cf etc/postfix/master.cf; do
    pt_check "installed_$(basename "$f")" [ -f "$dest/$f" ]
done
pt_check mailq_links_sendmail [ "$(readlink "$dest/usr/bin/mailq")" = ../sbin/sendmail ]
pt_check newaliases_links_sendmail [ "$(readlink "$dest/usr/bin/newaliases")" = ../sbin/sendmail ]
pt_check postdrop_setgid [ "$(stat -c %A "$dest/usr/sbin/postdrop" | cut -c7)" = s ]
echo "# admin's own setting" > "$dest/etc/postfix/main.cf"
"$PT_ROOT/scripts/install" "$dest" /usr "$PT_BUILD" >/dev/null
pt_check existing_main_cf_kept grep -q "admin's own setting" "$dest/etc/postfix/main.cf"
pt_check installed_daemon_dir_default [ "$("$dest/usr/sbin/postconf" -c "$PT_ROOT/conf" -dh daemon_directory)" = /usr/libexec/postern ]

# --- swaks against a real instance ---
pt_setup_users
pt_clean_homes
pt_instance
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
out=$(swaks --server 127.0.0.1 --port "$PT_PORT" --from sender@example.org --to carol@example.test \
        --header "Subject: via swaks" --body "swaks body" 2>&1)
pt_check swaks_accepted grep -q '<-  250 2.0.0 Ok: queued as' <<<"$out"
pt_wait 'grep -lqs "Subject: via swaks" "$PT_HOMES"/carol/Maildir/new/*' 20
pt_check swaks_delivered grep -lqs 'Subject: via swaks' "$PT_HOMES"/carol/Maildir/new/*
out=$(swaks --server 127.0.0.1 --port "$PT_PORT" --from sender@example.org --to nobody-here@example.test 2>&1)
pt_check swaks_unknown_user_550 grep -q '<\*\* 550 5.1.1 <nobody-here@example.test>: Recipient address rejected: User unknown in local recipient table' <<<"$out"
out=$(swaks --server 127.0.0.1 --port "$PT_PORT" --from sender@example.org --to alice@example.test,bob@example.test \
        --header "Subject: swaks two" --pipeline 2>&1)
pt_check swaks_pipelined_two_rcpts grep -q '<-  250 2.0.0 Ok: queued as' <<<"$out"
pt_wait 'grep -lqs "Subject: swaks two" "$PT_HOMES"/bob/Maildir/new/*' 20
pt_check swaks_two_delivered bash -c "grep -lqs 'Subject: swaks two' $PT_HOMES/alice/Maildir/new/* && grep -lqs 'Subject: swaks two' $PT_HOMES/bob/Maildir/new/*"
pt_done
