#!/usr/bin/env bash
# logrotate_test.sh - "postfix logrotate" against a running instance that logs
# to maillog_file through postlogd:
#   - the file is renamed with the strftime suffix, the old name is written
#     anew by a restarted postlogd, and the renamed file is compressed with
#     maillog_file_compressor (gzip by default; an administrator's own program
#     gets the renamed file's path as its one argument);
#   - lines logged before the rotation are in the old file only, lines logged
#     after it in the new file only;
#   - refusals, as Postfix words them: arguments, an empty parameter, a /dev
#     file, a compressor that fails; an existing rotated file is not
#     overwritten;
#   - maillog_file without the postlog service: check and start refuse,
#     "postfix upgrade-configuration" adds the service.
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
LOG=$PT_T/maillog
cat >> "$PT_CONF/main.cf" <<EOM
maillog_file_rotate_suffix = rot-%Y
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
YEAR=$(date +%Y)
OLD=$LOG.rot-$YEAR

# A line before the rotation: its queue ID must stay in the old file.
PT_BODY=$'Subject: before rotation\r\n\r\nbefore rotation\r\n' pt_smtp_send sender@example.org alice@example.test >/dev/null 2>&1
pt_wait "grep -q 'message-id=' '$LOG'" 10
before_id=$(grep -o '[0-9A-F]\{10,\}: message-id=' "$LOG" | head -n 1 | cut -d: -f1)
pt_check have_a_queue_id [ -n "$before_id" ]
old_postlogd=$(pt_child postlogd)

out=$(pt_cmd postfix logrotate 2>&1); rc=$?
pt_check logrotate_succeeds [ "$rc" = 0 ]
[ "$rc" = 0 ] || echo "    postfix logrotate said: $out"
pt_check rotated_and_compressed [ -f "$OLD.gz" ]
pt_check uncompressed_copy_gone [ ! -e "$OLD" ]
pt_check old_lines_in_rotated_file bash -c "zcat '$OLD.gz' | grep -q '$before_id: message-id='"
# The reload that restarts postlogd is the last thing the old file records.
pt_check reload_logged_in_rotated_file bash -c "zcat '$OLD.gz' | grep -q 'postfix/master.*reload'"

PT_BODY=$'Subject: after rotation\r\n\r\nafter rotation\r\n' pt_smtp_send sender@example.org alice@example.test >/dev/null 2>&1
pt_wait "grep -q 'message-id=' '$LOG' 2>/dev/null" 10
after_id=$(grep -o '[0-9A-F]\{10,\}: message-id=' "$LOG" 2>/dev/null | head -n 1 | cut -d: -f1)
pt_check new_file_written [ -n "$after_id" ]
pt_check new_file_lacks_old_lines bash -c "! grep -q '$before_id' '$LOG'"
pt_check rotated_file_lacks_new_lines bash -c "! zcat '$OLD.gz' | grep -q '$after_id'"
new_postlogd=$(pt_child postlogd)
pt_check postlogd_restarted [ -n "$new_postlogd" -a -n "$old_postlogd" -a "$new_postlogd" != "$old_postlogd" ]
pt_check new_file_mode_0600 [ "$(stat -c %a "$LOG")" = 600 ]

# A second rotation in the same suffix period: gzip will not overwrite the
# .gz, so the command fails and says so; the earlier .gz is intact.
size=$(stat -c %s "$OLD.gz")
out=$(pt_cmd postfix logrotate 2>&1); rc=$?
pt_check second_rotation_fails [ "$rc" = 1 ]
pt_check second_rotation_says_why grep -q "fatal: logfile '$LOG' rotation failed: gzip $OLD: exit status" <<<"$out"
pt_check earlier_archive_untouched [ "$(stat -c %s "$OLD.gz")" = "$size" ]
# The renamed, uncompressed file is still there: never overwritten either.
# (A line first, so that the live file exists again: the reload's own line
# may have gone to the old postlogd, and so into the renamed file.)
PT_BODY=$'Subject: again\r\n\r\nagain\r\n' pt_smtp_send sender@example.org alice@example.test >/dev/null 2>&1
pt_wait "[ -s '$LOG' ]" 10
out=$(pt_cmd postfix logrotate 2>&1); rc=$?
pt_check existing_rotated_file_kept [ "$rc:$(grep -c "$OLD already exists" <<<"$out")" = 1:1 ]
rm -f "$OLD"

# An administrator's compressor gets the renamed file as its only argument.
cat > "$PT_T/mycompress" <<EOS
#!/bin/sh
echo "\$#:\$1" > "$PT_T/compressor.args"
EOS
chmod 755 "$PT_T/mycompress"
cat >> "$PT_CONF/main.cf" <<EOM
maillog_file_compressor = $PT_T/mycompress
maillog_file_rotate_suffix = own-%Y%m%d
EOM
PT_BODY=$'Subject: third\r\n\r\nthird\r\n' pt_smtp_send sender@example.org alice@example.test >/dev/null 2>&1
pt_wait "[ -s '$LOG' ]" 10
out=$(pt_cmd postfix logrotate 2>&1); rc=$?
pt_check own_compressor_ok [ "$rc" = 0 ]
pt_check own_compressor_argument [ "$(cat "$PT_T/compressor.args" 2>/dev/null)" = "1:$LOG.own-$(date +%Y%m%d)" ]

# Refusals.
out=$(pt_cmd postfix logrotate now 2>&1); rc=$?
pt_check refuses_arguments [ "$rc:$(grep -c "usage postfix logrotate (no arguments)" <<<"$out")" = 1:1 ]
echo "maillog_file_compressor =" >> "$PT_CONF/main.cf"
out=$(pt_cmd postfix logrotate 2>&1); rc=$?
pt_check refuses_empty_compressor [ "$rc:$(grep -c "empty 'maillog_file_compressor' parameter value - logfile rotation failed" <<<"$out")" = 1:1 ]
echo "maillog_file_compressor = /bin/false" >> "$PT_CONF/main.cf"
PT_BODY=$'Subject: fourth\r\n\r\nfourth\r\n' pt_smtp_send sender@example.org alice@example.test >/dev/null 2>&1
pt_wait "[ -s '$LOG' ]" 10
rm -f "$LOG".own-*
out=$(pt_cmd postfix logrotate 2>&1); rc=$?
pt_check failing_compressor_reported [ "$rc:$(grep -c "rotation failed: /bin/false $LOG.own-.*: exit status 1" <<<"$out")" = 1:1 ]
sed -i '/^maillog_file =/d' "$PT_CONF/main.cf"; echo "maillog_file = /dev/stdout" >> "$PT_CONF/main.cf"
out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" logrotate 2>&1); rc=$?
pt_check refuses_dev_file [ "$rc:$(grep -c "not rotating '/dev/stdout'" <<<"$out")" = 1:1 ]

pt_stop

# maillog_file without a postlog service in master.cf: every line would be
# lost, so check and start refuse, as Postfix does; upgrade-configuration
# adds the service, once.
sed -i '/^maillog_file =/d' "$PT_CONF/main.cf"; echo "maillog_file = $LOG" >> "$PT_CONF/main.cf"
sed -i '/^postlog /d' "$PT_CONF/master.cf"
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check no_postlog_check_fails [ "$rc:$(grep -c "missing 'postlog' service in master.cf - run 'postfix upgrade-configuration'" <<<"$out")" = 1:1 ]
out=$(pt_cmd postfix start 2>&1); rc=$?
pt_check no_postlog_start_refused [ "$rc" != 0 ]
pt_cmd postfix upgrade-configuration >/dev/null 2>&1
pt_cmd postfix upgrade-configuration >/dev/null 2>&1
pt_check upgrade_adds_postlog_once [ "$(grep -c '^postlog *unix-dgram' "$PT_CONF/master.cf")" = 1 ]
out=$(pt_cmd postfix check 2>&1); rc=$?
pt_check upgraded_check_passes bash -c "! grep -q \"missing 'postlog'\" <<<\"\$1\"" _ "$out"
pt_done
