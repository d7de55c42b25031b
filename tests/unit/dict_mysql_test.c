/*
 * dict_mysql_test.c - mysql: tables against a real MariaDB server
 *
 * Used by: tests/unit/run-mysql-test.sh (starts the server and sets the
 *          environment); make unit runs it as a plain test, which skips.
 * Interface: main(); exit 77 with "skip" when POSTERN_TEST_MYSQL_SOCKET is
 *            not set; otherwise harness output ("N passed, M failed").
 * Notes: creates the how-to schema (shared/reference/d3xt3r01/schema.sql, or
 *        an embedded copy of it) in database postern_test through the mariadb
 *        client as root, then checks both .cf formats, %-expansions, escaping,
 *        result_format, expansion_limit, domain, failover and reconnection.
 */
#include "dict.h"
#include "alloc.h"
#include "harness.h"
#include "log.h"
#include "sbuf.h"

static char t_dir[128];
static const char *t_sock;
static const char *t_port;

#define CHECK(cond, what) harness_report((cond), __FILE__, __LINE__, (what))

static const char embedded_schema[] =
    "CREATE TABLE domains (domain varchar(50) NOT NULL, PRIMARY KEY (domain)) ENGINE=MyISAM;\n"
    "CREATE TABLE forwardings (source varchar(80) NOT NULL, destination TEXT NOT NULL,"
    " PRIMARY KEY (source)) ENGINE=MyISAM;\n"
    "CREATE TABLE users (email varchar(80) NOT NULL, password varchar(20) NOT NULL,"
    " quota INT(10) DEFAULT '10485760', PRIMARY KEY (email)) ENGINE=MyISAM;\n"
    "CREATE TABLE transport (domain varchar(128) NOT NULL default '',"
    " transport varchar(128) NOT NULL default '', UNIQUE KEY domain (domain)) ENGINE=MyISAM;\n";

static const char test_data[] =
    "INSERT INTO domains (domain) VALUES ('d3xt3r01.tk');\n"
    "INSERT INTO users (email, password, quota) VALUES"
    " ('dexter@d3xt3r01.tk', 'x', 10485760), ('a@multi.tk', 'x', 1), ('b@multi.tk', 'x', 2);\n"
    "INSERT INTO forwardings (source, destination) VALUES"
    " ('proba@d3xt3r01.tk', 'dexter@d3xt3r01.tk'), ('@d3xt3r01.tk', 'catchall@d3xt3r01.tk');\n"
    "INSERT INTO transport (domain, transport) VALUES ('d3xt3r01.tk', 'smtp:[1.2.3.4]');\n"
    "CREATE USER 'mail_admin'@'localhost' IDENTIFIED BY 'P4r0la';\n"
    "CREATE USER 'mail_admin'@'127.0.0.1' IDENTIFIED BY 'P4r0la';\n"
    "GRANT SELECT ON postern_test.* TO 'mail_admin'@'localhost';\n"
    "GRANT SELECT ON postern_test.* TO 'mail_admin'@'127.0.0.1';\n"
    "GRANT PROCESS ON *.* TO 'mail_admin'@'localhost';\n";

/* Runs SQL through the mariadb client as root; returns its exit status. */
static int sql_run(const char *db, const char *sql)
{
    char cmd[512];
    snprintf(cmd, sizeof(cmd), "mariadb --no-defaults -S '%s' -u root %s", t_sock, db);
    FILE *p = popen(cmd, "w");
    if (p == NULL)
        return -1;
    fputs(sql, p);
    return pclose(p);
}

static char *read_all(const char *path)
{
    FILE *fp = fopen(path, "r");
    if (fp == NULL)
        return NULL;
    struct sbuf *b = sbuf_new(4096);
    char buf[4096];
    size_t n;
    while ((n = fread(buf, 1, sizeof(buf), fp)) > 0)
        sbuf_append(b, buf, n);
    fclose(fp);
    return sbuf_detach(b);
}

static const char *cf(const char *name, const char *text)
{
    static char path[4][300];
    static int i;
    i = (i + 1) % 4;
    snprintf(path[i], sizeof(path[i]), "%s/%s", t_dir, name);
    FILE *fp = fopen(path[i], "w");
    if (fp == NULL) {
        perror(path[i]);
        exit(2);
    }
    fputs("user = mail_admin\npassword = P4r0la\ndbname = postern_test\n", fp);
    fputs(text, fp);
    fclose(fp);
    return path[i];
}

/* "value", "<none>" or "<error>" for key in table spec (opened fresh). */
static const char *q(const char *path, const char *key)
{
    static char out[1024];
    char spec[400];
    snprintf(spec, sizeof(spec), "mysql:%s", path);
    struct dict *d = dict_open(spec, DICT_F_FOLD);
    if (d == NULL)
        return "<open failed>";
    const char *v = dict_lookup(d, key);
    snprintf(out, sizeof(out), "%s", v ? v : dict_error(d) ? "<error>" : "<none>");
    dict_close(d);
    return out;
}

static bool streq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

int main(void)
{
    char hosts[400];
    harness_init();

    t_sock = getenv("POSTERN_TEST_MYSQL_SOCKET");
    t_port = getenv("POSTERN_TEST_MYSQL_PORT");
    if (t_sock == NULL || *t_sock == 0) {
        printf("skip: POSTERN_TEST_MYSQL_SOCKET is not set (use tests/unit/run-mysql-test.sh)\n");
        return 77;
    }
    log_set_tag("postfix/dict_mysql_test");
    log_close_syslog();
    log_set_stderr(getenv("HARNESS_VERBOSE") != NULL);
    snprintf(t_dir, sizeof(t_dir), "/tmp/dict_mysql_test.XXXXXX");
    if (mkdtemp(t_dir) == NULL)
        return 2;

    /* Schema: the how-to's file when it can be found, else our copy of it. */
    const char *sp = getenv("POSTERN_TEST_MYSQL_SCHEMA");
    char *schema = read_all(sp ? sp : "/work/shared/reference/d3xt3r01/schema.sql");
    if (schema == NULL)
        schema = read_all("../shared/reference/d3xt3r01/schema.sql");
    if (schema == NULL)
        schema = xstrdup(embedded_schema);
    if (sql_run("", "DROP DATABASE IF EXISTS postern_test; CREATE DATABASE postern_test;") != 0 ||
        sql_run("postern_test", schema) != 0 || sql_run("postern_test", test_data) != 0) {
        printf("FAIL 0 - could not create the test database\n");
        return 1;
    }
    xfree(schema);

    snprintf(hosts, sizeof(hosts), "hosts = unix:%s\n", t_sock);
    struct sbuf *b = sbuf_new(256);

    /* query = format, as in the how-to's mysql-virtual_forwardings.cf */
    sbuf_printf(b, "%squery = SELECT destination FROM forwardings WHERE source='%%s'\n", hosts);
    char *fwd = xstrdup(cf("fwd.cf", sbuf_str(b)));  /* cf() reuses its buffers */
    CHECK(streq(q(fwd, "proba@d3xt3r01.tk"), "dexter@d3xt3r01.tk"), "query: found");
    CHECK(streq(q(fwd, "PROBA@D3XT3R01.TK"), "dexter@d3xt3r01.tk"), "query: key folded");
    CHECK(streq(q(fwd, "nobody@d3xt3r01.tk"), "<none>"), "query: not found is not an error");
    CHECK(streq(q(fwd, "x' OR '1'='1"), "<none>"), "query: key is escaped (no injection)");

    /* legacy table/select_field/where_field, over TCP */
    if (t_port) {
        sbuf_printf(b, "hosts = inet:127.0.0.1:%s\ntable = forwardings\nselect_field = "
                       "destination\nwhere_field = source\nadditional_conditions = LIMIT 1\n",
                    t_port);
        const char *legacy = cf("legacy.cf", sbuf_str(b));
        CHECK(streq(q(legacy, "proba@d3xt3r01.tk"), "dexter@d3xt3r01.tk"),
              "legacy table/select_field over TCP");
        CHECK(streq(q(legacy, "@d3xt3r01.tk"), "catchall@d3xt3r01.tk"), "legacy: @domain row");
    }

    /* how-to mailbox query with CONCAT */
    sbuf_printf(b, "%squery = SELECT CONCAT(SUBSTRING_INDEX(email,'@',-1),'/',"
                   "SUBSTRING_INDEX(email,'@',1),'/') FROM users WHERE email='%%s'\n", hosts);
    CHECK(streq(q(cf("mbox.cf", sbuf_str(b)), "dexter@d3xt3r01.tk"), "d3xt3r01.tk/dexter/"),
          "mailbox path query");

    /* expansions */
    sbuf_printf(b, "%squery = SELECT '%%u|%%d|%%1|%%2|%%s|100%%%%'\n", hosts);
    const char *ex = cf("exp.cf", sbuf_str(b));
    CHECK(streq(q(ex, "a.b@mail.example.com"), "a.b|mail.example.com|com|example|"
                                                 "a.b@mail.example.com|100%"),
          "%u %d %1 %2 %s %% expand");
    CHECK(streq(q(ex, "nodomain"), "<none>"), "%d without a domain: query not sent");
    sbuf_printf(b, "%squery = SELECT '%%3'\n", hosts);
    CHECK(streq(q(cf("lab.cf", sbuf_str(b)), "u@example.com"), "<none>"),
          "%3 with two labels: query not sent");
    sbuf_printf(b, "%squery = SELECT '%%s'\n", hosts);
    CHECK(streq(q(cf("esc.cf", sbuf_str(b)), "o'neil\\x@d3xt3r01.tk"), "o'neil\\x@d3xt3r01.tk"),
          "quote and backslash survive escaping");

    /* several rows joined; result_format; expansion_limit */
    sbuf_printf(b, "%squery = SELECT email FROM users WHERE email LIKE '%%%%@%%d' ORDER BY email\n",
                hosts);
    CHECK(streq(q(cf("multi.cf", sbuf_str(b)), "x@multi.tk"), "a@multi.tk, b@multi.tk"),
          "several rows joined with \", \"");
    sbuf_printf(b, "%squery = SELECT email, quota FROM users WHERE email LIKE '%%%%@%%d' "
                   "ORDER BY email\nresult_format = <%%s:%%U>\n", hosts);
    CHECK(streq(q(cf("fmt.cf", sbuf_str(b)), "Zed@multi.tk"),
                "<a@multi.tk:zed>, <1:zed>, <b@multi.tk:zed>, <2:zed>"),
          "result_format with %s and %U, every column");
    sbuf_printf(b, "%squery = SELECT email FROM users WHERE email LIKE '%%%%@%%d'\n"
                   "expansion_limit = 1\n", hosts);
    CHECK(streq(q(cf("limit.cf", sbuf_str(b)), "x@multi.tk"), "<error>"),
          "expansion_limit exceeded is a temporary error");

    /* domain restriction */
    sbuf_printf(b, "%squery = SELECT 'hit'\ndomain = d3xt3r01.tk, other.tk\n", hosts);
    const char *dom = cf("dom.cf", sbuf_str(b));
    CHECK(streq(q(dom, "x@d3xt3r01.tk"), "hit"), "domain: listed domain looked up");
    CHECK(streq(q(dom, "x@elsewhere.tk"), "<none>"), "domain: other domain not looked up");
    CHECK(streq(q(dom, "x"), "<none>") && streq(q(dom, "@d3xt3r01.tk"), "<none>"),
          "domain: bare names and @domain not looked up");

    /* SQL error and connection failure are temporary errors */
    sbuf_printf(b, "%squery = SELECT nosuchcolumn FROM users WHERE email='%%s'\n", hosts);
    CHECK(streq(q(cf("bad.cf", sbuf_str(b)), "x@y.z"), "<error>"), "SQL error is a temporary error");
    const char *down = cf("down.cf", "hosts = unix:/nonexistent/mysql.sock\nquery = SELECT 1\n");
    CHECK(streq(q(down, "x@y.z"), "<error>"), "no server reachable: temporary error, not 'not found'");
    sbuf_printf(b, "hosts = unix:/nonexistent/mysql.sock, unix:%s\n"
                   "query = SELECT transport FROM transport WHERE domain='%%s'\n", t_sock);
    CHECK(streq(q(cf("fo.cf", sbuf_str(b)), "d3xt3r01.tk"), "smtp:[1.2.3.4]"),
          "failover to the next host");
    if (t_port) {
        /* port 1 on loopback refuses connections: a dead TCP host */
        sbuf_printf(b, "hosts = inet:127.0.0.1:1 127.0.0.1:%s\n"
                       "query = SELECT transport FROM transport WHERE domain='%%s'\n", t_port);
        const char *tcp = cf("tcpfo.cf", sbuf_str(b));
        bool all = true;
        for (int i = 0; i < 4; i++)     /* random order: both orders get tried */
            all &= streq(q(tcp, "d3xt3r01.tk"), "smtp:[1.2.3.4]");
        CHECK(all, "TCP failover past a refused host");
    }
    CHECK(dict_open("mysql:/nonexistent/file.cf", 0) == NULL, "missing .cf fails to open");
    CHECK(streq(q(cf("noq.cf", "hosts = localhost\n"), "x"), "<open failed>"),
          ".cf without query or table fails to open");

    /* A kept connection that the server dropped is re-established. */
    char spec[400];
    snprintf(spec, sizeof(spec), "mysql:%s", fwd);
    struct dict *d = dict_open(spec, DICT_F_FOLD);
    const char *v = d ? dict_lookup(d, "proba@d3xt3r01.tk") : NULL;
    CHECK(v && streq(v, "dexter@d3xt3r01.tk"), "kept connection: first lookup");
    {
        /* kill every mail_admin session through a generated script */
        char cmd[700];
        snprintf(cmd, sizeof(cmd),
                 "mariadb --no-defaults -S '%s' -u root -N -e \"SELECT CONCAT('KILL ', id, ';') "
                 "FROM information_schema.processlist WHERE user='mail_admin'\" | "
                 "mariadb --no-defaults -S '%s' -u root", t_sock, t_sock);
        if (system(cmd) != 0)
            printf("# kill command failed\n");
    }
    v = d ? dict_lookup(d, "proba@d3xt3r01.tk") : NULL;
    CHECK(v && streq(v, "dexter@d3xt3r01.tk"), "reconnects after the server dropped the connection");
    dict_close(d);
    sbuf_free(b);
    xfree(fwd);

    sql_run("", "DROP DATABASE postern_test;");
    char cmd[300];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t_dir);
    return harness_done();
}
