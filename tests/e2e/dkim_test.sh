#!/usr/bin/env bash
# dkim_test.sh - native DKIM signing in cleanup (postern_dkim_*): mail from a
# client in mynetworks (SMTP), from a SASL-authenticated client and from
# sendmail (pickup) carries one
# DKIM-Signature per key of its From: domain, RSA-SHA256 and Ed25519-SHA256,
# and each verifies with dkimpy (Debian python3-dkim) against the DNS TXT
# record made from the key; the keys of a second domain come from a real
# MariaDB (mysql: table) when MariaDB is installed; mail from a client
# outside mynetworks that did not log in, and mail whose From: domain has no
# key, is not signed; simple/simple verifies too; a changed body does not.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
if ! $PY -c 'import dkim, nacl' 2>/dev/null; then
    pt_skip dkim_test "python3-dkim / python3-nacl not installed"; exit 0
fi
SM=$PT_BUILD/sbin/sendmail

DB_PID=
DB_T=
db_stop() {
    if [ -n "$DB_PID" ] && kill -0 "$DB_PID" 2>/dev/null; then
        kill "$DB_PID"
        local i=0
        while kill -0 "$DB_PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        kill -0 "$DB_PID" 2>/dev/null && kill -9 "$DB_PID"
    fi
    [ -z "$DB_T" ] || rm -rf "$DB_T"
}
trap 'pt_cleanup; db_stop' EXIT

pt_setup_users; pt_clean_homes
pt_instance
K=$PT_T/keys
mkdir -p "$K"

# Keys and the TXT records a verifier would find in DNS.
openssl genrsa -out "$K/rsa.pem" 2048 2>/dev/null
openssl genpkey -algorithm ed25519 -outform DER -out "$K/ed.der" 2>/dev/null
# The PKCS#8 DER ends with the 32-byte seed; the SPKI DER with the public key.
tail -c 32 "$K/ed.der" | base64 -w0 > "$K/ed.key"
ED_PUB=$(openssl pkey -inform DER -in "$K/ed.der" -pubout -outform DER | tail -c 32 | base64 -w0)
RSA_PUB=$(openssl rsa -in "$K/rsa.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
openssl genrsa -out "$K/db.pem" 2048 2>/dev/null
DB_PUB=$(openssl rsa -in "$K/db.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
cat > "$K/dns.txt" <<EOM
rsa1._domainkey.example.test. v=DKIM1; k=rsa; p=$RSA_PUB
ed1._domainkey.example.test. v=DKIM1; k=ed25519; p=$ED_PUB
db1._domainkey.db.example.test. v=DKIM1; k=rsa; p=$DB_PUB
EOM
chown -R postfix "$K"; chmod 600 "$K"/*.pem "$K/ed.key"

printf 'example.test rsa1:rsa:%s, ed1:ed25519:%s\n' "$K/rsa.pem" "$K/ed.key" > "$PT_CONF/dkim_keys"
MAPS="texthash:$PT_CONF/dkim_keys"

# MariaDB with the key of db.example.test (as tests/e2e/mysql_test.sh starts it).
HAVE_DB=
if command -v mariadb-install-db >/dev/null 2>&1 && { command -v mariadbd >/dev/null 2>&1 ||
        [ -x /usr/sbin/mariadbd ]; }; then
    mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
    dbuser=mysql
    id "$dbuser" >/dev/null 2>&1 || dbuser=$(id -un)
    DB_T=$(mktemp -d /tmp/postern-e2e-db.XXXXXX)
    chmod 755 "$DB_T"
    mkdir "$DB_T/run" && chown "$dbuser" "$DB_T/run"
    if mariadb-install-db --no-defaults --user="$dbuser" --datadir="$DB_T/db" \
            --auth-root-authentication-method=normal --skip-test-db >"$DB_T/install.log" 2>&1; then
        DB_PORT=$(pt_free_port)
        "$mariadbd" --no-defaults --user="$dbuser" --datadir="$DB_T/db" --socket="$DB_T/run/db.sock" \
            --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$DB_T/run/db.pid" \
            --skip-name-resolve --log-error="$DB_T/run/db.err" >/dev/null 2>&1 &
        DB_PID=$!
        sql() { mariadb --no-defaults -S "$DB_T/run/db.sock" -u root "$@"; }
        if pt_wait 'sql -e "SELECT 1" >/dev/null 2>&1' 60; then
            sql -e "CREATE DATABASE dkim;
                    CREATE USER 'dkim'@'127.0.0.1' IDENTIFIED BY 'S3cret';
                    GRANT SELECT ON dkim.* TO 'dkim'@'127.0.0.1';
                    CREATE TABLE dkim.dkim_keys (domain VARCHAR(255) PRIMARY KEY, dkim_keys TEXT);
                    INSERT INTO dkim.dkim_keys VALUES ('db.example.test', 'db1:rsa:$K/db.pem');"
            printf 'hosts = 127.0.0.1:%s\nuser = dkim\npassword = S3cret\ndbname = dkim\nquery = SELECT dkim_keys FROM dkim_keys WHERE domain='"'"'%%s'"'"'\n' \
                "$DB_PORT" > "$PT_CONF/mysql-dkim.cf"
            MAPS="$MAPS, mysql:$PT_CONF/mysql-dkim.cf"
            HAVE_DB=1
        else
            cat "$DB_T/run/db.err" 2>/dev/null; pt_fail mariadb_start "mariadbd did not start"
        fi
    else
        # Installed but broken is a failure, not a skip.
        tail -20 "$DB_T/install.log"; pt_fail mariadb_install "mariadb-install-db failed"
    fi
else
    pt_skip dkim_mysql_key "MariaDB not installed"
fi

cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
mynetworks = 127.0.0.2/32
postern_dkim_enable = yes
postern_dkim_key_maps = $MAPS
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# send SOURCE_IP FROM_HEADER SUBJECT: SMTP from that address to alice.
send() {
    python3 - "$PT_PORT" "$1" "$2" "$3" <<'EOP'
import os, smtplib, sys
port, src, frm, subj = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
body = ("From: %s\r\nTo: Alice <alice@example.test>\r\nSubject: %s\r\n"
        "Date: Sat, 05 Dec 2026 10:00:00 +0000\r\nMessage-ID: <%s@client.example.test>\r\n\r\n"
        "Hello  Alice,\r\n  indented   line with trailing space \r\n\r\n"
        "A long line: %s\r\n\r\n\r\n") % (frm, subj, subj.replace(' ', '.'), 'x' * 3000)
s = smtplib.SMTP("127.0.0.1", port, timeout=30, source_address=(src, 0))
s.ehlo("client.example.test")
if os.environ.get("PT_LOGIN"):
    user, _, pw = os.environ["PT_LOGIN"].partition(":")
    s.login(user, pw)
s.sendmail("bob@example.test", ["alice@example.test"], body)
s.quit()
print("250 ok")
EOP
}

# msg SUBJECT: a copy (in $K) of alice's delivered message with that subject,
# taken as soon as it is there; empty when it did not arrive.
msg() {
    local copy="$K/msg.${1// /_}" f
    if [ ! -s "$copy" ]; then
        f=$(grep -l "^Subject: $1\$" "$PT_HOMES"/alice/Maildir/new/* 2>/dev/null | head -1)
        [ -n "$f" ] && cp "$f" "$copy" 2>/dev/null
    fi
    [ -s "$copy" ] && echo "$copy"
}

# verify FILE: prints one "d=DOMAIN a=ALG ok|fail" line per DKIM-Signature.
verify() { $PY "$PT_ROOT/tests/e2e/dkim_verify.py" "$1" "$K/dns.txt"; }

# ---- SMTP from a client in mynetworks ----
r=$(send 127.0.0.2 "Bob <bob@example.test>" "dkim mynetworks")
pt_check smtp_mynetworks_accepted [ "$r" = "250 ok" ]
pt_wait '[ -n "$(msg "dkim mynetworks")" ]' 30
f=$(msg "dkim mynetworks")
v=$(verify "$f"); echo "$v"
pt_check smtp_two_signatures [ "$(grep -c '^DKIM-Signature:' "$f")" = 2 ]
pt_check smtp_rsa_verifies grep -q '^d=example.test a=rsa-sha256 ok$' <<<"$v"
pt_check smtp_ed25519_verifies grep -q '^d=example.test a=ed25519-sha256 ok$' <<<"$v"
pt_check smtp_from_oversigned grep -q 'h=from:from:to:subject:date:message-id' "$f"
pt_check signing_logged grep -q 'DKIM-Signature field added (s=ed1, d=example.test)' "$PT_T/maillog"

# ---- sendmail (pickup) ----
printf 'From: bob@example.test\nTo: alice@example.test\nSubject: dkim sendmail\n\nfrom sendmail\n\n\n' |
    $SM -f bob@example.test alice@example.test
pt_check sendmail_exit_0 [ $? -eq 0 ]
pt_wait '[ -n "$(msg "dkim sendmail")" ]' 30
f=$(msg "dkim sendmail")
v=$(verify "$f"); echo "$v"
pt_check sendmail_rsa_verifies grep -q '^d=example.test a=rsa-sha256 ok$' <<<"$v"
pt_check sendmail_ed25519_verifies grep -q '^d=example.test a=ed25519-sha256 ok$' <<<"$v"

# ---- a client outside mynetworks that did not authenticate ----
r=$(send 127.0.0.1 "Bob <bob@example.test>" "dkim outsider")
pt_check outsider_accepted [ "$r" = "250 ok" ]
pt_wait '[ -n "$(msg "dkim outsider")" ]' 30
pt_check outsider_not_signed bash -c "! grep -qi '^DKIM-Signature:' '$(msg "dkim outsider")'"

# ---- a From: domain without keys ----
r=$(send 127.0.0.2 "carol@elsewhere.test" "dkim nokey")
pt_wait '[ -n "$(msg "dkim nokey")" ]' 30
pt_check nokey_delivered_unsigned bash -c "[ -n '$(msg "dkim nokey")' ] && ! grep -qi '^DKIM-Signature:' '$(msg "dkim nokey")'"

# ---- a key file replaced: the next message is signed with the new key ----
# (cleanup keeps parsed keys; a changed file must not keep signing with the old one)
openssl genrsa -out "$K/rsa2.pem" 2048 2>/dev/null
RSA2_PUB=$(openssl rsa -in "$K/rsa2.pem" -pubout -outform DER 2>/dev/null | base64 -w0)
chown postfix "$K/rsa2.pem"; chmod 600 "$K/rsa2.pem"
cp "$K/rsa.pem" "$K/rsa1.pem.old"
mv "$K/rsa2.pem" "$K/rsa.pem"
sed -i "s|^rsa1\._domainkey\.example\.test\. .*|rsa1._domainkey.example.test. v=DKIM1; k=rsa; p=$RSA2_PUB|" "$K/dns.txt"
send 127.0.0.2 "bob@example.test" "dkim rotated" >/dev/null
pt_wait '[ -n "$(msg "dkim rotated")" ]' 30
v=$(verify "$(msg "dkim rotated")"); echo "$v"
pt_check rotated_key_used grep -q '^d=example.test a=rsa-sha256 ok$' <<<"$v"

# ---- a key file that is gone: the message is deferred, not sent unsigned ----
mv "$K/ed.key" "$K/ed.key.away"
r=$(send 127.0.0.2 "bob@example.test" "dkim keygone" 2>&1)
pt_check keygone_not_accepted bash -c '! grep -q "^250 ok$" <<<"$1"' _ "$r"
pt_check keygone_temporary grep -q '451\|4\.3\.0' <<<"$r"
pt_check keygone_logged grep -q "DKIM key for example.test: open $K/ed.key:" "$PT_T/maillog"
mv "$K/ed.key.away" "$K/ed.key"

# ---- the key from MariaDB ----
if [ -n "$HAVE_DB" ]; then
    send 127.0.0.2 "Dee <dee@db.example.test>" "dkim mysql" >/dev/null
    pt_wait '[ -n "$(msg "dkim mysql")" ]' 30
    f=$(msg "dkim mysql")
    v=$(verify "$f"); echo "$v"
    pt_check mysql_key_verifies [ "$v" = "d=db.example.test a=rsa-sha256 ok" ]
fi

# ---- simple/simple, in a second instance ----
pt_wait_queue_empty 30
pt_stop
pt_instance
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
mynetworks = 127.0.0.2/32
postern_dkim_enable = yes
postern_dkim_key_maps = texthash:$PT_CONF/dkim_keys
postern_dkim_canonicalization = simple/simple
header_checks = regexp:$PT_CONF/header_checks
EOM
HAVE_SASL=
if command -v saslpasswd2 >/dev/null; then
    SASLDIR=$PT_T/sasl
    mkdir -p "$SASLDIR"
    echo "s3cret-Pass" | saslpasswd2 -p -c -f "$SASLDIR/sasldb2" -u example.test bob
    chown postfix "$SASLDIR/sasldb2"; chmod 600 "$SASLDIR/sasldb2"
    printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\nmech_list: PLAIN\n' \
        "$SASLDIR/sasldb2" > "$SASLDIR/smtpd.conf"
    printf 'smtpd_sasl_auth_enable = yes\ncyrus_sasl_config_path = %s\nsmtpd_sasl_local_domain = example.test\n' \
        "$SASLDIR" >> "$PT_CONF/main.cf"
    HAVE_SASL=1
else
    pt_skip dkim_sasl "saslpasswd2 missing (sasl2-bin)"
fi
echo '/^Subject: dkim held/ HOLD' > "$PT_CONF/header_checks"
printf 'example.test rsa1:rsa:%s ed1:ed25519:%s\n' "$K/rsa.pem" "$K/ed.key" > "$PT_CONF/dkim_keys"
pt_start || { pt_fail start2 "second instance did not start"; pt_done; exit 1; }
send 127.0.0.2 "bob@example.test" "dkim simple" >/dev/null
pt_wait '[ -n "$(msg "dkim simple")" ]' 30
f=$(msg "dkim simple")
v=$(verify "$f"); echo "$v"
pt_check simple_canonicalization grep -q 'c=simple/simple' "$f"
pt_check simple_both_verify [ "$(grep -c ' ok$' <<<"$v")" = 2 ]

# ---- a SASL-authenticated client outside mynetworks ----
if [ -n "$HAVE_SASL" ]; then
    r=$(PT_LOGIN="bob:s3cret-Pass" send 127.0.0.1 "bob@example.test" "dkim sasl")
    pt_check sasl_accepted [ "$r" = "250 ok" ]
    pt_wait '[ -n "$(msg "dkim sasl")" ]' 30
    v=$(verify "$(msg "dkim sasl")"); echo "$v"
    pt_check sasl_signed_and_verifies [ "$(grep -c ' ok$' <<<"$v")" = 2 ]
fi

# ---- a held message: postcat shows the signatures first, then the message ----
send 127.0.0.2 "bob@example.test" "dkim held" >/dev/null
pt_wait '[ -n "$(ls "$PT_T/spool/hold")" ]' 30
id=$(ls "$PT_T/spool/hold" | head -1)
pc=$(pt_cmd postcat -h -q "$id" 2>&1)
first=$(head -1 <<<"$pc")
pt_check postcat_signatures_first grep -q '^DKIM-Signature: v=1; a=rsa-sha256; c=simple/simple' <<<"$first"
pt_check postcat_then_headers grep -q '^Subject: dkim held$' <<<"$pc"
pt_cmd postsuper -d "$id" hold >/dev/null 2>&1

# ---- the verifier does fail a changed message ----
sed -i 's/^from sendmail$/from sendmail, altered/' "$(msg "dkim sendmail")"
v=$(verify "$(msg "dkim sendmail")"); echo "$v"
pt_check altered_body_fails [ "$(grep -c ' fail$' <<<"$v")" = 2 ]

pt_wait_queue_empty 30
pt_done
