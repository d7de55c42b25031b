#!/usr/bin/env bash
# mysql_test.sh - the d3xt3r01 reference style of MySQL tables, proxy:mysql:
# through the proxymap service, against a real MariaDB started for the test
# (as tests/unit/run-mysql-test.sh does): a virtual mailbox domain and its
# users from MySQL, an alias from the forwardings table, unknown users
# rejected, postmap -q through proxymap, and the database connections held by
# proxymap rather than by trivial-rewrite or virtual. Skips when MariaDB is
# not installed.
. "$(dirname "$0")/lib.sh"
pt_have_ref || { pt_skip mysql_test "no reference configurations at $PT_REF"; exit 0; }

if ! command -v mariadb-install-db >/dev/null 2>&1 || { ! command -v mariadbd >/dev/null 2>&1 &&
        [ ! -x /usr/sbin/mariadbd ]; }; then
    echo "skip: MariaDB server not installed"
    exit 0
fi
mariadbd=$(command -v mariadbd || echo /usr/sbin/mariadbd)
dbuser=mysql
id "$dbuser" >/dev/null 2>&1 || dbuser=$(id -un)
REF=$PT_REF/d3xt3r01

DB_T=$(mktemp -d /tmp/postern-e2e-db.XXXXXX)
chmod 755 "$DB_T"
mkdir "$DB_T/run" && chown "$dbuser" "$DB_T/run"
DB_PID=
db_stop() {
    if [ -n "$DB_PID" ] && kill -0 "$DB_PID" 2>/dev/null; then
        kill "$DB_PID"
        local i=0
        while kill -0 "$DB_PID" 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
        kill -0 "$DB_PID" 2>/dev/null && kill -9 "$DB_PID"
    fi
    rm -rf "$DB_T"
}
trap 'pt_cleanup; db_stop' EXIT

pt_setup_users; pt_clean_homes
pt_instance

if ! mariadb-install-db --no-defaults --user="$dbuser" --datadir="$DB_T/db" \
        --auth-root-authentication-method=normal --skip-test-db >"$DB_T/install.log" 2>&1; then
    cat "$DB_T/install.log"; pt_fail mariadb_install "mariadb-install-db failed"; pt_done; exit 1
fi
DB_PORT=$(pt_free_port)
"$mariadbd" --no-defaults --user="$dbuser" --datadir="$DB_T/db" --socket="$DB_T/run/db.sock" \
    --port="$DB_PORT" --bind-address=127.0.0.1 --pid-file="$DB_T/run/db.pid" \
    --skip-name-resolve --log-error="$DB_T/run/db.err" >/dev/null 2>&1 &
DB_PID=$!
sql() { mariadb --no-defaults -S "$DB_T/run/db.sock" -u root "$@"; }
pt_wait 'sql -e "SELECT 1" >/dev/null 2>&1' 60 || {
    cat "$DB_T/run/db.err" 2>/dev/null; pt_fail mariadb_start "mariadbd did not start"; pt_done; exit 1; }

# The reference schema and the how-to's data, for a test domain.
sql -e "CREATE DATABASE vmail;
        CREATE USER 'mail_admin'@'127.0.0.1' IDENTIFIED BY 'P4r0la';
        GRANT SELECT ON vmail.* TO 'mail_admin'@'127.0.0.1';"
sql vmail < "$REF/schema.sql"
sql vmail -e "INSERT INTO domains (domain) VALUES ('vdom.test');
              INSERT INTO users (email, password, quota) VALUES ('dexter@vdom.test', 'x', 10485760);
              INSERT INTO forwardings (source, destination) VALUES ('proba@vdom.test', 'dexter@vdom.test');"
pt_check mysql_data_loaded [ "$(sql -N vmail -e 'SELECT COUNT(*) FROM users')" = 1 ]

# The reference .cf files, with the host rewritten to this server.
for f in "$REF"/mysql-*.cf; do
    sed -e "s/^hosts = .*/hosts = 127.0.0.1:$DB_PORT/" "$f" > "$PT_CONF/$(basename "$f")"
    chmod 644 "$PT_CONF/$(basename "$f")"
done

VBASE=$PT_T/vmail
mkdir -p "$VBASE/vdom.test"
chmod 755 "$VBASE"; chmod 1777 "$VBASE/vdom.test"
cat >> "$PT_CONF/main.cf" <<EOM
home_mailbox = Maildir/
virtual_alias_domains =
virtual_alias_maps = proxy:mysql:$PT_CONF/mysql-virtual_forwardings.cf, mysql:$PT_CONF/mysql-virtual_email2email.cf
virtual_mailbox_domains = proxy:mysql:$PT_CONF/mysql-virtual_domains.cf
virtual_mailbox_maps = proxy:mysql:$PT_CONF/mysql-virtual_mailboxes.cf
virtual_mailbox_base = $VBASE
virtual_uid_maps = static:$(id -u carol)
virtual_gid_maps = static:$(id -g carol)
transport_maps = proxy:mysql:$PT_CONF/mysql-virtual_transports.cf
virtual_mailbox_limit_maps = proxy:mysql:$PT_CONF/mysql-virtual_mailbox_limit_maps.cf
$(grep '^proxy_read_maps' "$REF/main.cf")
EOM
pt_start || { pt_fail start "instance did not start"; pt_done; exit 1; }

# A user of the MySQL domain: accepted (domain via trivial-rewrite, mailbox
# via smtpd, both through proxymap) and delivered by virtual.
reply=$(pt_smtp_send sender@example.org dexter@vdom.test)
pt_check mysql_user_accepted [ "${reply%% *}" = 250 ]
pt_wait '[ "$(ls "$VBASE/vdom.test/dexter/new" 2>/dev/null | wc -l)" -ge 1 ]' 30
pt_check mysql_user_delivered [ "$(ls "$VBASE/vdom.test/dexter/new" 2>/dev/null | wc -l)" -ge 1 ]

# Unknown user in the MySQL domain: rejected, not deferred.
reply=$(pt_smtp_send sender@example.org nobody@vdom.test)
pt_check mysql_unknown_user_rejected \
    bash -c "case '$reply' in '550 5.1.1 <nobody@vdom.test>: Recipient address rejected: User unknown in virtual mailbox table'*) true;; *) false;; esac"

# The forwardings table (proxy:mysql: in virtual_alias_maps).
reply=$(pt_smtp_send sender@example.org proba@vdom.test)
pt_check mysql_alias_accepted [ "${reply%% *}" = 250 ]
pt_wait '[ "$(ls "$VBASE/vdom.test/dexter/new" 2>/dev/null | wc -l)" -ge 2 ]' 30
pt_check mysql_alias_delivered [ "$(ls "$VBASE/vdom.test/dexter/new" 2>/dev/null | wc -l)" -ge 2 ]

# postmap -q through proxymap.
out=$(pt_cmd postmap -q dexter@vdom.test "proxy:mysql:$PT_CONF/mysql-virtual_mailboxes.cf" 2>&1)
pt_check postmap_proxy_mysql [ "$out" = vdom.test/dexter/ ]
out=$(pt_cmd postmap -q VDOM.TEST "proxy:mysql:$PT_CONF/mysql-virtual_domains.cf" 2>&1)
pt_check postmap_proxy_mysql_folded [ "$out" = vdom.test ]

# Who holds the database connections: proxymap, not trivial-rewrite or virtual
# (their tables are all proxy:mysql:).
conns=$(ss -tnpH state established "( dport = :$DB_PORT )" 2>/dev/null)
pt_check proxymap_holds_db_connection grep -q '"proxymap"' <<<"$conns"
pt_check rewrite_has_no_db_connection bash -c "! grep -q '\"trivial-rewrite\"' <<<'$conns'"
pt_check virtual_has_no_db_connection bash -c "! grep -q '\"virtual\"' <<<'$conns'"

# The database goes away: lookups fail temporarily (4xx), never "user unknown".
kill "$DB_PID"
pt_wait "! kill -0 $DB_PID 2>/dev/null" 30
reply=$(pt_smtp_send sender@example.org dexter@vdom.test)
pt_check mysql_down_defers [ "${reply:0:1}" = 4 ]
pt_check no_fatal_in_log bash -c "! grep -E 'fatal|panic' '$PT_T/maillog'"
pt_done
