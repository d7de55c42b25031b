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

# --- the installation paths of a kept Fedora/RHEL main.cf ---
rh=$(mktemp -d /tmp/postern-install.XXXXXX)
PT_INSTANCES+=("$rh")
mkdir -p "$rh/etc/postfix"
cat > "$rh/etc/postfix/main.cf" <<'EOM'
sendmail_path = /usr/sbin/sendmail.postfix
newaliases_path = /usr/bin/newaliases.postfix
mailq_path = /usr/bin/mailq.postfix
manpage_directory = /usr/local/share/man
readme_directory = /usr/share/doc/postfix/README_FILES
sample_directory = /usr/share/doc/postfix/samples
EOM
"$PT_ROOT/scripts/install" "$rh" /usr "$PT_BUILD" >/dev/null
pt_check rh_sendmail_path_program cmp -s "$rh/usr/sbin/sendmail.postfix" "$PT_BUILD/sbin/sendmail"
pt_check rh_sendmail_path_mode [ "$(stat -c %a "$rh/usr/sbin/sendmail.postfix")" = 755 ]
pt_check rh_mailq_path_link [ "$(readlink "$rh/usr/bin/mailq.postfix")" = /usr/sbin/sendmail.postfix ]
pt_check rh_newaliases_path_link [ "$(readlink "$rh/usr/bin/newaliases.postfix")" = /usr/sbin/sendmail.postfix ]
pt_check rh_default_sendmail_too [ -f "$rh/usr/sbin/sendmail" ]
pt_check rh_manpage_directory [ -f "$rh/usr/local/share/man/man8/smtpd.8" ]
pt_check rh_no_man_in_default [ ! -e "$rh/usr/share/man" ]
pt_check rh_readme_directory [ -f "$rh/usr/share/doc/postfix/README_FILES/README.md" ]
pt_check rh_sample_directory cmp -s "$rh/usr/share/doc/postfix/samples/master.cf" "$PT_ROOT/conf/master.cf"
pt_check rh_main_cf_kept grep -q '^sendmail_path = /usr/sbin/sendmail.postfix' "$rh/etc/postfix/main.cf"
# No installation path is reported as unsupported any more.
out=$("$rh/usr/sbin/postconf" -c "$rh/etc/postfix" -h sendmail_path 2>&1)
pt_check rh_postconf_value [ "$out" = /usr/sbin/sendmail.postfix ]
plain=$(mktemp -d /tmp/postern-install.XXXXXX)
PT_INSTANCES+=("$plain")
"$PT_ROOT/scripts/install" "$plain" /usr "$PT_BUILD" >/dev/null
pt_check default_no_readme_dir [ ! -e "$plain/usr/share/doc" ]
pt_check default_no_sendmail_copy [ "$(ls "$plain/usr/sbin" | grep -c '^sendmail')" = 1 ]
echo 'sendmail_path = relative/sendmail' >> "$rh/etc/postfix/main.cf"
out=$("$PT_ROOT/scripts/install" "$rh" /usr "$PT_BUILD" 2>&1); rc=$?
pt_check rh_relative_path_refused [ "$rc" -ne 0 ]
pt_check rh_relative_path_message grep -q 'sendmail_path = relative/sendmail is not an absolute path' <<<"$out"

# --- swaks against a real instance ---
pt_setup_users
pt_clean_homes
pt_instance
echo 'home_mailbox = Maildir/' >> "$PT_CONF/main.cf"
# postfix set-permissions: owner root and mode 0755 for $sendmail_path.
cp "$PT_BUILD/sbin/sendmail" "$PT_T/sendmail.postfix"
chown nobody "$PT_T/sendmail.postfix"; chmod 700 "$PT_T/sendmail.postfix"
echo "sendmail_path = $PT_T/sendmail.postfix" >> "$PT_CONF/main.cf"
"$PT_BUILD/sbin/postfix" -c "$PT_CONF" set-permissions >/dev/null 2>&1
pt_check set_permissions_sendmail_path [ "$(stat -c '%U %a' "$PT_T/sendmail.postfix")" = "root 755" ]
out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1)
pt_check check_quiet_on_sendmail_path bash -c '! grep -q "sendmail_path is not supported" <<<"$1"' _ "$out"
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
