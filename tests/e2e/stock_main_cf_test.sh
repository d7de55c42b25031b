#!/usr/bin/env bash
# stock_main_cf_test.sh - the main.cf a distribution ships draws no warnings
#
# An administrator who replaces Postfix keeps the main.cf the distribution
# installed. `postfix check` with Debian 12's and Fedora/RHEL 9's stock
# settings (their directories moved under the test instance) must not
# report any setting as unsupported, except RHEL's shlib_directory (the
# place of Postfix's own shared libraries; Postern has none). Fedora's
# "meta_directory = /etc/postfix" is what the default, $config_directory,
# expands to there, so it counts as the default. A meta_directory elsewhere
# is reported (the control).
. "$(dirname "$0")/lib.sh"
pt_setup_users
pt_instance
T=$PT_T
cp "$PT_CONF/main.cf" "$T/base.cf"

# stock NAME: main.cf = the distribution's lines (/etc/postfix -> PT_CONF),
# then the instance's own directories and ports (later lines win).
stock() {
    sed -e "s|/etc/postfix|$PT_CONF|g" "$T/$1.cf" > "$PT_CONF/main.cf"
    cat "$T/base.cf" >> "$PT_CONF/main.cf"
}
unsupported() { grep 'is not supported by Postern' <<<"$1"; }

cat > "$T/debian.cf" <<'EOM'
smtpd_banner = $myhostname ESMTP $mail_name (Debian/GNU)
biff = no
append_dot_mydomain = no
readme_directory = no
compatibility_level = 3.6
smtpd_tls_cert_file=/etc/ssl/certs/ssl-cert-snakeoil.pem
smtpd_tls_key_file=/etc/ssl/private/ssl-cert-snakeoil.key
smtpd_tls_security_level=may
smtp_tls_CApath=/etc/ssl/certs
smtp_tls_security_level=may
smtp_tls_session_cache_database = btree:${data_directory}/smtp_scache
smtpd_relay_restrictions = permit_mynetworks permit_sasl_authenticated defer_unauth_destination
myhostname = debian.example.test
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
myorigin = /etc/mailname
mydestination = $myhostname, debian.example.test, localhost.example.test, localhost
relayhost =
mynetworks = 127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128
mailbox_size_limit = 0
recipient_delimiter = +
inet_interfaces = all
inet_protocols = all
EOM

cat > "$T/rhel.cf" <<'EOM'
compatibility_level = 2
queue_directory = /var/spool/postfix
command_directory = /usr/sbin
daemon_directory = /usr/libexec/postfix
data_directory = /var/lib/postfix
mail_owner = postfix
inet_interfaces = localhost
inet_protocols = all
mydestination = $myhostname, localhost.$mydomain, localhost
unknown_local_recipient_reject_code = 550
alias_maps = hash:/etc/aliases
alias_database = hash:/etc/aliases
debug_peer_level = 2
debugger_command =
	 PATH=/bin:/usr/bin:/usr/local/bin:/usr/X11R6/bin
	 ddd $daemon_directory/$process_name $process_id & sleep 5
sendmail_path = /usr/sbin/sendmail.postfix
newaliases_path = /usr/bin/newaliases.postfix
mailq_path = /usr/bin/mailq.postfix
setgid_group = postdrop
html_directory = no
manpage_directory = /usr/share/man
sample_directory = /usr/share/doc/postfix/samples
readme_directory = /usr/share/doc/postfix/README_FILES
smtpd_tls_cert_file = /etc/pki/tls/certs/postfix.pem
smtpd_tls_key_file = /etc/pki/tls/private/postfix.key
smtpd_tls_security_level = may
smtp_tls_CApath = /etc/pki/tls/certs
smtp_tls_CAfile = /etc/pki/tls/certs/ca-bundle.crt
smtp_tls_security_level = may
meta_directory = /etc/postfix
shlib_directory = /usr/lib64/postfix
EOM

stock debian
out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1)
pt_check debian_stock_nothing_unsupported [ -z "$(unsupported "$out")" ]
pt_check debian_stock_was_read [ "$(pt_cmd postconf -h recipient_delimiter)" = + ]

stock rhel
out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1)
u=$(unsupported "$out")
no_meta() { ! grep -q meta_directory <<<"$u"; }
pt_check rhel_stock_meta_directory_quiet no_meta
pt_check rhel_stock_only_shlib_directory [ "$(grep -c . <<<"$u")" -eq 1 ]
pt_check rhel_stock_shlib_directory_named grep -q "main.cf:32: shlib_directory is not supported" <<<"$u"
pt_check rhel_meta_directory_is_config_dir [ "$(pt_cmd postconf -h meta_directory)" = "$PT_CONF" ]

# Control: meta_directory somewhere other than the default's expansion.
sed -i -e "s|^meta_directory = .*|meta_directory = $T/elsewhere|" "$PT_CONF/main.cf"
out=$("$PT_BUILD/sbin/postfix" -c "$PT_CONF" check 2>&1)
pt_check other_meta_directory_reported grep -q "main.cf:31: meta_directory is not supported" <<<"$out"
pt_done
