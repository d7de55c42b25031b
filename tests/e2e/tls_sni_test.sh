#!/bin/bash
# tls_sni_test.sh - tls_server_sni_maps: the SMTP server presents the
# certificate that the table names for the client's SNI server name.
#
# postmap -F builds hash: and btree: tables whose values are files (key and
# certificate chain, concatenated, stored in base64); -F -q prints the PEM
# text, -q alone the base64; a file that cannot be read is reported with
# the source file and line. One instance with tls_server_sni_maps = hash:
# serves, over STARTTLS, the named certificate for an exact name (in any
# case), the ".parent" one for a subdomain at any depth, and the default one
# for an unknown name (logged "not matched"), for no name, and for a name
# that is not a valid host name (warned about; "_" is valid, as in Postfix's
# valid_hostname). The TLS log line names the matched name. A texthash:
# listener reads the source itself; a wrapper-mode (smtps) listener matches
# too; a listener with the parameter empty ignores SNI. An entry with an RSA
# and an ECDSA key serves the one the client can use.
# postfix check no longer calls the parameter unsupported, and mail flows
# over a session that sent SNI.
. "$(dirname "$0")/lib.sh"
pt_setup_users; pt_clean_homes
pt_instance

# ---- certificates: each self-signed with its own key --------------------------------
TLS=$PT_T/tls; mkdir -p "$TLS"
(
    cd "$TLS" || exit 1
    mk() {   # mk BASENAME SUBJECT [rsa|ec]
        local alg=(-newkey rsa:2048)
        [ "${3:-rsa}" = ec ] && alg=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1)
        openssl req -x509 "${alg[@]}" -nodes -days 2 -subj "$2" -keyout "$1.key" -out "$1.crt"
    }
    mk default /CN=mail.example.test &&
    mk other /CN=other.example.net &&
    mk wild /CN=wild.example.org &&
    mk dual-rsa /CN=dual.example.com/O=rsa &&
    mk dual-ec /CN=dual.example.com/O=ec ec &&
    cat wild.key wild.crt > wild.pem &&
    cat dual-rsa.key dual-rsa.crt dual-ec.key dual-ec.crt > dual.pem
) >/dev/null 2>&1 || { pt_fail certs "openssl could not make certificates"; pt_done; exit 1; }
chmod 600 "$TLS"/*.key "$TLS"/*.pem

# The SNI table source: values are lists of files (commas and/or spaces).
SNI=$TLS/sni
cat > "$SNI" <<EOF
# SNI name              private key(s), each followed by its certificate chain
other.example.net       $TLS/other.key, $TLS/other.crt
.example.org            $TLS/wild.pem
dual.example.com        $TLS/dual.pem
EOF
# The texthash: source (read by smtpd itself) has one more name, so that a
# match there cannot come from the hash: table.
{ cat "$SNI"; echo "text-only.example.net   $TLS/other.key $TLS/other.crt"; } > "$TLS/sni.txt"

# ---- 1. postmap -F: build, query decoded and raw ------------------------------------
out=$(pt_cmd postmap -F "hash:$SNI" 2>&1); rc=$?
pt_check postmap_F_builds_hash [ "$rc" = 0 ]
[ "$rc" = 0 ] || echo "    postmap -F said: $out"
pem=$(pt_cmd postmap -F -q other.example.net "hash:$SNI" 2>&1)
pt_check postmap_Fq_has_certificate grep -q -- '-----BEGIN CERTIFICATE-----' <<<"$pem"
pt_check postmap_Fq_has_private_key grep -q -- '-----BEGIN PRIVATE KEY-----' <<<"$pem"
# the two files, in their order (the blank line put between files aside)
want=$(cat "$TLS/other.key" "$TLS/other.crt" | grep -v '^$')
pt_check postmap_Fq_concatenates_files [ "$(grep -v '^$' <<<"$pem")" = "$want" ]
raw=$(pt_cmd postmap -q other.example.net "hash:$SNI" 2>&1)
pt_check postmap_q_no_pem bash -c '[ -n "$1" ] && ! grep -q BEGIN <<<"$1"' _ "$raw"
pt_check postmap_q_is_base64 bash -c '[[ $1 =~ ^[A-Za-z0-9+/=]+$ ]]' _ "$raw"
pt_check postmap_q_base64_decodes_to_Fq [ "$(base64 -d <<<"$raw" 2>/dev/null)" = "$pem" ]
out=$(pt_cmd postmap -F -q .example.org "hash:$SNI" 2>&1)
pt_check postmap_Fq_single_file [ "$out" = "$(cat "$TLS/wild.pem")" ]
out=$(pt_cmd postmap -F -q nothing.example.net "hash:$SNI" 2>&1); rc=$?
pt_check postmap_Fq_missing_key [ "$rc.$out" = 1. ]
cp "$SNI" "$TLS/sni-btree"
pt_cmd postmap -F "btree:$TLS/sni-btree" >/dev/null 2>&1
out=$(pt_cmd postmap -F -q dual.example.com "btree:$TLS/sni-btree" 2>&1)
pt_check postmap_F_btree [ "$out" = "$(cat "$TLS/dual.pem")" ]

# ---- 2. postmap -F: a file that cannot be read ---------------------------------------
cat > "$TLS/sni-bad" <<EOF
other.example.net       $TLS/other.key, $TLS/other.crt

bad.example.net         $TLS/other.key, $TLS/missing.crt
EOF
err=$(pt_cmd postmap -F "hash:$TLS/sni-bad" 2>&1 >/dev/null); rc=$?
pt_check postmap_F_missing_file_fails [ "$rc" != 0 ]
pt_check postmap_F_missing_file_names_line grep -qF "$TLS/sni-bad:3:" <<<"$err"
while IFS= read -r l; do echo "# postmap -F on a missing file said: $l"; done <<<"$err"

# ---- 2b. root builds a table as its source's owner (unless -o) ----------------------------
# A user who owns a source must not get root to read a file for them: the
# root-only default.key named by a nobody-owned source is refused, with the
# source line; a plain nobody-owned source gives a nobody-owned .db; with
# -o root keeps its privileges and the .db stays root's.
OWN=$PT_T/own; mkdir -p "$OWN"; chmod 777 "$OWN"
echo "steal.example.net $TLS/default.key" > "$OWN/steal"
echo "plain.example.net value" > "$OWN/plain"
chown nobody: "$OWN/steal" "$OWN/plain"
err=$(pt_cmd postmap -F "hash:$OWN/steal" 2>&1 >/dev/null); rc=$?
pt_check postmap_as_owner_refuses_root_file [ "$rc" != 0 -a ! -e "$OWN/steal.db" ]
pt_check postmap_as_owner_says_why grep -qF "$OWN/steal:1: open $TLS/default.key: Permission denied" <<<"$err"
pt_cmd postmap "hash:$OWN/plain" >/dev/null 2>&1
pt_check postmap_db_owned_by_source_owner [ "$(stat -c %U "$OWN/plain.db" 2>/dev/null)" = nobody ]
pt_cmd postmap -o -F "hash:$OWN/steal" >/dev/null 2>&1; rc=$?
pt_check postmap_o_keeps_root [ "$rc:$(stat -c %U "$OWN/steal.db" 2>/dev/null)" = 0:root ]

# ---- the instance --------------------------------------------------------------------
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
smtpd_tls_security_level = may
smtpd_tls_cert_file = $TLS/default.crt
smtpd_tls_key_file = $TLS/default.key
smtpd_tls_loglevel = 1
tls_server_sni_maps = hash:$SNI
EOM
P_TEXT=$(pt_free_port); P_SMTPS=$(pt_free_port); P_OFF=$(pt_free_port)
cat >> "$PT_CONF/master.cf" <<EOM
127.0.0.1:$P_TEXT inet n - n - - smtpd
  -o tls_server_sni_maps=texthash:$TLS/sni.txt
127.0.0.1:$P_SMTPS inet n - n - - smtpd
  -o smtpd_tls_wrappermode=yes
127.0.0.1:$P_OFF inet n - n - - smtpd
  -o tls_server_sni_maps=
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }
for p in "$P_TEXT" "$P_OFF"; do pt_wait_smtp "$p" 20 || pt_fail "listen_$p" "no banner on $p"; done

# subject PORT S_CLIENT_ARGS...: subject (RFC 2253) of the certificate the
# server on PORT presents after STARTTLS; subject_smtps: in wrapper mode.
subject() {
    local port=$1; shift
    timeout 10 openssl s_client -starttls smtp -connect "127.0.0.1:$port" "$@" </dev/null 2>/dev/null |
        openssl x509 -noout -subject -nameopt RFC2253 2>/dev/null
}
subject_smtps() {
    local port=$1; shift
    timeout 10 openssl s_client -connect "127.0.0.1:$port" "$@" </dev/null 2>/dev/null |
        openssl x509 -noout -subject -nameopt RFC2253 2>/dev/null
}
# served NAME WANT_SUBJECT FUNCTION PORT ARGS...: ok if the subject is WANT.
served() {
    local name=$1 want=$2 got; shift 2
    got=$("$@")
    if [ "$got" = "subject=$want" ]; then
        pt_ok "$name"
    else
        pt_fail "$name" "wanted subject=$want, got '$got' ($*)"
    fi
}
log() { grep -E -- "$1" "$PT_T/maillog" 2>/dev/null; }
CLIENT='localhost\[127\.0\.0\.1\]'
DEFAULT=CN=mail.example.test OTHER=CN=other.example.net WILD=CN=wild.example.org

# ---- 3. the hash: table over STARTTLS ------------------------------------------------
served sni_exact "$OTHER" subject "$PT_PORT" -servername other.example.net
served sni_parent_domain "$WILD" subject "$PT_PORT" -servername mail2.example.org
served sni_parent_domain_deep "$WILD" subject "$PT_PORT" -servername deep.x.example.org
served sni_upper_case "$OTHER" subject "$PT_PORT" -servername OTHER.EXAMPLE.NET
served sni_unknown_default "$DEFAULT" subject "$PT_PORT" -servername unknown.example.com
pt_check sni_unknown_logged pt_wait "log 'smtpd\[[0-9]+\]: TLS SNI unknown\.example\.com from $CLIENT not matched, using default chain' >/dev/null" 10
# ".example.org" matches below example.org, not example.org itself
served sni_parent_key_not_self "$DEFAULT" subject "$PT_PORT" -servername example.org
pt_check sni_parent_key_not_self_logged pt_wait "log 'TLS SNI example\.org from $CLIENT not matched, using default chain' >/dev/null" 10
served sni_none_default "$DEFAULT" subject "$PT_PORT" -noservername
served sni_invalid_default "$DEFAULT" subject "$PT_PORT" -servername 'bad!name.example.net'
pt_check sni_invalid_warned pt_wait "log 'smtpd\[[0-9]+\]: warning: TLS SNI from $CLIENT is invalid: bad!name\.example\.net' >/dev/null" 10
# "_" is allowed in a host name (as by Postfix's valid_hostname): looked up
served sni_underscore_default "$DEFAULT" subject "$PT_PORT" -servername bad_name.example.net
pt_check sni_underscore_looked_up pt_wait "log 'TLS SNI bad_name\.example\.net from $CLIENT not matched, using default chain' >/dev/null" 10
# an empty label: invalid, even though it ends in a matching ".example.org"
served sni_empty_label_default "$DEFAULT" subject "$PT_PORT" -servername a..b.example.org
pt_check sni_empty_label_warned pt_wait "log 'warning: TLS SNI from $CLIENT is invalid: a\.\.b\.example\.org' >/dev/null" 10

# ---- 4. the TLS log line names the matched name ----------------------------------------
pt_check tls_log_names_sni pt_wait "log 'smtpd\[[0-9]+\]: Anonymous TLS connection established from $CLIENT to other\.example\.net: TLSv1\.3 with cipher ' >/dev/null" 10
pt_check tls_log_names_sent_name pt_wait "log 'TLS connection established from $CLIENT to mail2\.example\.org: TLSv' >/dev/null" 10
pt_check tls_log_without_sni pt_wait "log 'Anonymous TLS connection established from $CLIENT: TLSv1\.3 with cipher ' >/dev/null" 10

# ---- 5. texthash: on a listener of its own ----------------------------------------------
served texthash_exact "$OTHER" subject "$P_TEXT" -servername other.example.net
served texthash_own_entry "$OTHER" subject "$P_TEXT" -servername text-only.example.net
served texthash_parent_domain "$WILD" subject "$P_TEXT" -servername www.example.org
served hash_lacks_texthash_entry "$DEFAULT" subject "$PT_PORT" -servername text-only.example.net

# ---- 6. smtps (wrapper mode) --------------------------------------------------------------
served smtps_sni "$OTHER" subject_smtps "$P_SMTPS" -servername other.example.net
served smtps_no_sni "$DEFAULT" subject_smtps "$P_SMTPS" -noservername

# ---- 7. tls_server_sni_maps empty: SNI ignored --------------------------------------------
served sni_maps_empty_ignored "$DEFAULT" subject "$P_OFF" -servername other.example.net
served sni_maps_empty_unknown "$DEFAULT" subject "$P_OFF" -servername ignored.example.com

# ---- 8. one entry with an RSA and an ECDSA key -------------------------------------------
served dual_ecdsa_client O=ec,CN=dual.example.com subject "$PT_PORT" -servername dual.example.com \
    -sigalgs ECDSA+SHA256
served dual_rsa_client O=rsa,CN=dual.example.com subject "$PT_PORT" -servername dual.example.com \
    -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
served dual_ecdsa_client_tls12 O=ec,CN=dual.example.com subject "$PT_PORT" -servername dual.example.com \
    -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256

# ---- 9. postfix check ------------------------------------------------------------------------
out=$(pt_cmd postfix check 2>&1)
pt_check postfix_check_quiet_about_sni bash -c '! grep -q tls_server_sni_maps <<<"$1"' _ "$out"
if grep -q tls_server_sni_maps <<<"$out"; then echo "    postfix check said: $out"; fi

# ---- 10. mail over a session that sent SNI --------------------------------------------------
out=$(python3 - "$PT_PORT" <<'EOP'
import smtplib, ssl, sys
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=20)
s.ehlo("client.example.test")
s._host = "other.example.net"          # starttls() sends it as server_hostname (SNI)
code, _ = s.starttls(context=ctx)
print("starttls:", code)
print(ssl.DER_cert_to_PEM_cert(s.sock.getpeercert(binary_form=True)), end="")
s.ehlo("client.example.test")
s.sendmail("sender@example.org", ["alice@example.test"], "Subject: sni\r\n\r\nover an SNI session\r\n")
print("sent")
s.quit()
EOP
)
pt_check mail_sni_starttls grep -q '^starttls: 220$' <<<"$out"
pt_check mail_sni_certificate [ "$(openssl x509 -noout -subject -nameopt RFC2253 <<<"$out" 2>/dev/null)" = "subject=$OTHER" ]
pt_check mail_sni_accepted grep -q '^sent$' <<<"$out"
pt_check mail_sni_delivered pt_wait 'grep -lqs "^Subject: sni" $PT_HOMES/alice/Maildir/new/*' 30
pt_check mail_sni_logged pt_wait "log 'to=<alice@example\.test>, .*status=sent' >/dev/null" 10

# ---- negative log checks (the lines above came later, so these are in the log) -------
pt_check no_to_for_unmatched bash -c "! grep -Eq ' to (unknown\.example\.com|example\.org|bad.name\.example\.net|a\.\.b\.example\.org|ignored\.example\.com): TLSv' '$PT_T/maillog'"
pt_check sni_maps_empty_not_logged bash -c "! grep -Eq 'TLS SNI (ignored\.example\.com|other\.example\.net) from' '$PT_T/maillog'"
pt_check no_sni_trouble bash -c "! grep -Eq 'smtpd\[[0-9]+\]: (fatal|panic|error):' '$PT_T/maillog'"

pt_done
