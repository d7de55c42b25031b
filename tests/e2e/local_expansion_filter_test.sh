#!/usr/bin/env bash
# local_expansion_filter_test.sh - what local(8) lets through from a message
# into commands and file names, against a real instance:
#   - command_expansion_filter (default): in the environment of
#     mailbox_command, every character of SENDER, RECIPIENT, LOCAL,
#     EXTENSION (and the others) outside the set becomes "_", so a sender
#     address with ; ` $ cannot carry shell syntax; CLIENT_ADDRESS,
#     CLIENT_HELO and CLIENT_PROTOCOL are exported as Postfix's local does;
#   - command_execution_directory = $home/work: $name forms are expanded
#     (execution_directory_expansion_filter), the command runs there;
#   - forward_expansion_filter: for bob+x;y the .forward file looked for is
#     .forward+x_y (the ; is not allowed), which sends the mail on to carol.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance
SCRIPT=$PT_HOMES/deliver.sh
cat > "$SCRIPT" <<'EOS'
#!/bin/sh
env > "$HOME/env.out"
pwd > "$HOME/pwd.out"
cat >> "$HOME/mbox.out"
EOS
chmod 755 "$SCRIPT"
install -d -o alice -m 755 "$PT_HOMES/alice/work"
printf 'carol@example.test\n' > "$PT_HOMES/bob/.forward+x_y"
chown bob: "$PT_HOMES/bob/.forward+x_y"
cat >> "$PT_CONF/main.cf" <<EOM
recipient_delimiter = +
mailbox_command = $SCRIPT
command_execution_directory = \$home/work
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# send SENDER RECIPIENT TAG: one message over SMTP (smtplib keeps the
# quoted local parts as given); prints the reply to the content.
send() {
    python3 - "$PT_PORT" "$1" "$2" "$3" <<'EOP'
import smtplib, sys
port, sender, rcpt, tag = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = smtplib.SMTP("127.0.0.1", port, timeout=30)
s.ehlo("helo.client.example")
try:
    s.sendmail(sender, [rcpt], "Subject: %s\r\n\r\nbody %s\r\n" % (tag, tag))
    print("250 ok")
except smtplib.SMTPException as e:
    print("refused", e)
s.quit()
EOP
}

out=$(send '"s;`x`$y"@example.org' '"alice+e;1"@example.test' envtest)
pt_check env_message_accepted grep -q '^250' <<<"$out"
pt_check env_delivered pt_wait "grep -q 'body envtest' '$PT_HOMES/alice/mbox.out'" 30
ENV=$PT_HOMES/alice/env.out
pt_check env_sender_censored grep -qx 'SENDER=s__x__y@example.org' "$ENV"
pt_check env_recipient_censored grep -qx 'RECIPIENT=alice+e_1@example.test' "$ENV"
pt_check env_extension_censored grep -qx 'EXTENSION=e_1' "$ENV"
pt_check env_local_censored grep -qx 'LOCAL=alice+e_1' "$ENV"
no_raw_chars() { ! grep -E '^(SENDER|RECIPIENT|EXTENSION|LOCAL|ORIGINAL_RECIPIENT)=' "$ENV" | grep -q '[;`$"]'; }
pt_check env_no_shell_characters no_raw_chars
pt_check env_client_address grep -qx 'CLIENT_ADDRESS=127.0.0.1' "$ENV"
pt_check env_client_helo grep -qx 'CLIENT_HELO=helo.client.example' "$ENV"
pt_check env_client_protocol grep -qx 'CLIENT_PROTOCOL=ESMTP' "$ENV"
pt_check exec_dir_expanded grep -qx "$PT_HOMES/alice/work" "$PT_HOMES/alice/pwd.out"

out=$(send 'sender@example.org' '"bob+x;y"@example.test' fwdtest)
pt_check forward_message_accepted grep -q '^250' <<<"$out"
pt_check forward_file_censored_name pt_wait "grep -q 'body fwdtest' '$PT_HOMES/carol/mbox.out'" 30
not_for_bob() { ! grep -q 'body fwdtest' "$PT_HOMES/bob/mbox.out" 2>/dev/null; }
pt_check forward_not_kept_by_bob not_for_bob

pt_stop
rm -f "$SCRIPT"
pt_done
