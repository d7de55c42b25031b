/*
 * resolve_local_test.c - domain lists (names, .parent, /file, type:table,
 *                        !negation, parent_domain_matches_subdomains) and
 *                        the "is this domain ours" test
 *
 * Used by: make unit.
 * Notes: rewrite_test exercises these through trivial-rewrite's golden
 *        files; this test calls the module directly.
 */
#include "harness.h"
#include "config.h"
#include "log.h"
#include "resolve_local.h"
#include "ut_ipc.h"

static char *tmp;

static int match(const char *param, const char *value, const char *domain)
{
    struct domain_list *l = domain_list_new(param, value);
    int r = domain_list_match(l, domain);
    domain_list_free(l);
    return r;
}

static void test_names(void)
{
    config_set(P_PARENT_DOMAIN_MATCHES_SUBDOMAINS, "relay_domains");
    /* Names: case-insensitive, trailing dots ignored, whole labels only. */
    EXPECT_EQ_INT(match("mydestination", "example.com", "example.com"), 1);
    EXPECT_EQ_INT(match("mydestination", "Example.COM", "EXAMPLE.com."), 1);
    EXPECT_EQ_INT(match("mydestination", "example.com", "example.com.."), 1);
    EXPECT_EQ_INT(match("mydestination", "example.com", "xexample.com"), 0);
    EXPECT_EQ_INT(match("mydestination", "example.com", "example.co"), 0);
    /* Not in parent_domain_matches_subdomains: no subdomains. */
    EXPECT_EQ_INT(match("mydestination", "example.com", "sub.example.com"), 0);
    /* In it: subdomains match, but not look-alikes. */
    EXPECT_EQ_INT(match("relay_domains", "example.com", "sub.example.com"), 1);
    EXPECT_EQ_INT(match("relay_domains", "example.com", "a.b.example.com"), 1);
    EXPECT_EQ_INT(match("relay_domains", "example.com", "badexample.com"), 0);
    /* ".parent" matches strict subdomains only, in any list. */
    EXPECT_EQ_INT(match("mydestination", ".example.org", "a.example.org"), 1);
    EXPECT_EQ_INT(match("mydestination", ".example.org", "example.org"), 0);
    EXPECT_EQ_INT(match("mydestination", ".example.org", "aexample.org"), 0);
    /* Lists: commas and spaces; the first matching pattern decides. */
    const char *list = "one.example, !bad.example.net .example.net,two.example";
    EXPECT_EQ_INT(match("mydestination", list, "two.example"), 1);
    EXPECT_EQ_INT(match("mydestination", list, "bad.example.net"), 0);
    EXPECT_EQ_INT(match("mydestination", list, "good.example.net"), 1);
    EXPECT_EQ_INT(match("mydestination", "example.net !example.net", "example.net"), 1);
    EXPECT_EQ_INT(match("mydestination", "!!example.net", "example.net"), 1);

    /* Empty lists and empty names. */
    struct domain_list *l = domain_list_new("relay_domains", "");
    EXPECT_TRUE(domain_list_empty(l));
    EXPECT_EQ_INT(domain_list_match(l, "example.com"), 0);
    domain_list_free(l);
    EXPECT_TRUE(domain_list_empty(NULL));
    EXPECT_EQ_INT(domain_list_match(NULL, "x"), 0);
    l = domain_list_new("relay_domains", "example.com");
    EXPECT_TRUE(!domain_list_empty(l));
    EXPECT_EQ_INT(domain_list_match(l, ""), 0);
    EXPECT_EQ_INT(domain_list_match(l, NULL), 0);
    domain_list_free(l);
    domain_list_free(NULL);
}

static void test_files_and_tables(void)
{
    char file[300], value[400];
    snprintf(file, sizeof(file), "%s/domains", tmp);
    const char *text = "# our domains\none.example two.example # trailing comment\n"
                       "\n  Three.Example,four.example\n";
    ut_save(file, text, strlen(text));
    EXPECT_EQ_INT(match("mydestination", file, "one.example"), 1);
    EXPECT_EQ_INT(match("mydestination", file, "three.example"), 1);
    EXPECT_EQ_INT(match("mydestination", file, "four.example"), 1);
    EXPECT_EQ_INT(match("mydestination", file, "comment"), 0);
    EXPECT_EQ_INT(match("mydestination", file, "five.example"), 0);
    snprintf(value, sizeof(value), "!%s, .example", file);
    EXPECT_EQ_INT(match("mydestination", value, "two.example"), 0);
    EXPECT_EQ_INT(match("mydestination", value, "five.example"), 1);
    /* A file that cannot be read fails every lookup that reaches it. */
    snprintf(value, sizeof(value), "first.example %s/missing", tmp);
    EXPECT_EQ_INT(match("mydestination", value, "first.example"), 1);
    EXPECT_EQ_INT(match("mydestination", value, "other.example"), -1);

    /* type:table: any value is a match; parents are looked up as
     * "example.com" when the list is in parent_domain_matches_subdomains,
     * else as ".example.com". */
    const char *tbl = "inline:{ tbl.example=ok, .dot.example=ok }";
    EXPECT_EQ_INT(match("mydestination", tbl, "tbl.example"), 1);
    EXPECT_EQ_INT(match("mydestination", tbl, "TBL.EXAMPLE"), 1);
    EXPECT_EQ_INT(match("mydestination", tbl, "sub.tbl.example"), 0);
    EXPECT_EQ_INT(match("relay_domains", tbl, "sub.tbl.example"), 1);
    EXPECT_EQ_INT(match("mydestination", tbl, "a.b.dot.example"), 1);
    EXPECT_EQ_INT(match("relay_domains", tbl, "a.b.dot.example"), 0);
    EXPECT_EQ_INT(match("mydestination", tbl, "other.example"), 0);
    EXPECT_EQ_INT(match("mydestination", "!inline:{ tbl.example=x } .example", "tbl.example"), 0);
    /* An unknown table type: lookups fail (try again later). */
    EXPECT_EQ_INT(match("relay_domains", "nosuchtype:/etc/x", "example.com"), -1);
    /* "[...]" literals are names, not tables. */
    EXPECT_EQ_INT(match("mydestination", "[192.0.2.1]", "[192.0.2.1]"), 1);
}

static void test_resolve_local(void)
{
    config_set(P_MYHOSTNAME, "mail.example.com");
    config_set(P_MYDOMAIN, "example.com");
    config_set(P_MYDESTINATION, "$myhostname, localhost.$mydomain, localhost");
    config_set(P_INET_INTERFACES, "loopback-only");
    config_set(P_PROXY_INTERFACES, "192.0.2.7");
    resolve_local_init();
    EXPECT_EQ_INT(resolve_local("mail.example.com"), 1);
    EXPECT_EQ_INT(resolve_local("MAIL.Example.COM."), 1);
    EXPECT_EQ_INT(resolve_local("localhost.example.com"), 1);
    EXPECT_EQ_INT(resolve_local("localhost"), 1);
    EXPECT_EQ_INT(resolve_local("example.com"), 0);
    EXPECT_EQ_INT(resolve_local("other.example.com"), 0);
    EXPECT_EQ_INT(resolve_local(""), 0);
    EXPECT_EQ_INT(resolve_local(NULL), 0);
    /* Address literals: our interfaces (inet and proxy). */
    EXPECT_EQ_INT(resolve_local("[127.0.0.1]"), 1);
    EXPECT_EQ_INT(resolve_local("[IPv6:::1]"), 1);
    EXPECT_EQ_INT(resolve_local("[ipv6:0:0:0:0:0:0:0:1]"), 1);
    EXPECT_EQ_INT(resolve_local("[192.0.2.7]"), 1);
    EXPECT_EQ_INT(resolve_local("[192.0.2.8]"), 0);
    EXPECT_EQ_INT(resolve_local("[::1]"), 0);       /* IPv6 needs the IPv6: tag */
    EXPECT_EQ_INT(resolve_local("[not.an.address]"), 0);
    EXPECT_EQ_INT(resolve_local("[127.0.0.1"), 0);
    EXPECT_EQ_INT(resolve_local("[]"), 0);
    EXPECT_TRUE(resolve_local_address("127.0.0.1"));
    EXPECT_TRUE(resolve_local_address("::1"));
    EXPECT_TRUE(resolve_local_address("192.0.2.7"));
    EXPECT_TRUE(!resolve_local_address("192.0.2.8"));
    EXPECT_TRUE(!resolve_local_address("garbage"));

    /* A configuration change takes effect at the next init. */
    config_set(P_MYDESTINATION, "");
    config_set(P_INET_INTERFACES, "127.0.0.1");
    config_set(P_PROXY_INTERFACES, "[192.0.2.9]");
    EXPECT_EQ_INT(resolve_local("mail.example.com"), 1);   /* not yet */
    resolve_local_init();
    EXPECT_EQ_INT(resolve_local("mail.example.com"), 0);
    EXPECT_EQ_INT(resolve_local("[IPv6:::1]"), 0);
    EXPECT_EQ_INT(resolve_local("[127.0.0.1]"), 1);
    EXPECT_EQ_INT(resolve_local("[192.0.2.9]"), 1);
    EXPECT_EQ_INT(resolve_local("[192.0.2.7]"), 0);

    /* After free, the next call initialises again by itself. */
    resolve_local_free();
    config_set(P_MYDESTINATION, "again.example");
    EXPECT_EQ_INT(resolve_local("again.example"), 1);
    resolve_local_free();
}

int main(void)
{
    harness_init();
    alarm(30);
    tmp = ut_tmpdir();
    test_names();
    test_files_and_tables();
    test_resolve_local();
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
