/*
 * mynetworks_test.c - unit tests for host/network list matching
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: uses a temporary /file list and an inline: table.
 */
#include "mynetworks.h"
#include "harness.h"
#include "log.h"

static void match_case(struct mynetworks *m, const char *addr, const char *name, int want,
                       int line)
{
    char what[300];
    int got = mynetworks_match(m, addr, name);
    snprintf(what, sizeof(what), "match %s %s: got %d want %d", addr, name ? name : "-", got,
             want);
    harness_report(got == want, __FILE__, line, what);
}
#define MATCH(m, a, n, w) match_case((m), (a), (n), (w), __LINE__)

int main(void)
{
    harness_init();

    struct mynetworks *m = mynetworks_new(
        "mynetworks", "127.0.0.0/8, 192.0.2.0/24 [::1]/128 [2001:db8::]/32 10.1.2.3", true);
    EXPECT_EQ_INT(mynetworks_count(m), 5);
    MATCH(m, "127.0.0.1", NULL, 1);
    MATCH(m, "127.255.255.254", NULL, 1);
    MATCH(m, "128.0.0.1", NULL, 0);
    MATCH(m, "192.0.2.77", NULL, 1);
    MATCH(m, "192.0.3.1", NULL, 0);
    MATCH(m, "10.1.2.3", NULL, 1);
    MATCH(m, "10.1.2.4", NULL, 0);
    MATCH(m, "::1", NULL, 1);
    MATCH(m, "::2", NULL, 0);
    MATCH(m, "2001:db8:ffff::1", NULL, 1);
    MATCH(m, "2001:db9::1", NULL, 0);
    MATCH(m, "::ffff:192.0.2.5", NULL, 1);        /* IPv4-mapped */
    MATCH(m, "not-an-address", NULL, 0);
    mynetworks_free(m);

    /* odd prefixes, bare IPv6, negation, first match wins */
    m = mynetworks_new("t", "!192.168.1.128/25 192.168.0.0/16 2001:db8::/126 10.0.0.0/9", true);
    MATCH(m, "192.168.1.200", NULL, 0);
    MATCH(m, "192.168.1.100", NULL, 1);
    MATCH(m, "2001:db8::3", NULL, 1);
    MATCH(m, "2001:db8::4", NULL, 0);
    MATCH(m, "10.127.0.1", NULL, 1);
    MATCH(m, "10.128.0.1", NULL, 0);
    mynetworks_free(m);

    /* bad items are skipped, not fatal */
    m = mynetworks_new("t", "192.0.2.0/33 [::1 300.1.1.1/8 127.0.0.1", true);
    EXPECT_EQ_INT(mynetworks_count(m), 1);
    MATCH(m, "127.0.0.1", NULL, 1);
    mynetworks_free(m);

    /* host bits set: the network part is used */
    m = mynetworks_new("t", "192.0.2.1/24", true);
    MATCH(m, "192.0.2.200", NULL, 1);
    mynetworks_free(m);

    /* names, with and without parent-domain matching */
    m = mynetworks_new("t", "example.com .example.org", true);
    MATCH(m, "192.0.2.1", "example.com", 1);
    MATCH(m, "192.0.2.1", "mx.example.com", 1);
    MATCH(m, "192.0.2.1", "badexample.com", 0);
    MATCH(m, "192.0.2.1", "example.org", 0);
    MATCH(m, "192.0.2.1", "a.example.org", 1);
    MATCH(m, "192.0.2.1", "unknown", 0);
    mynetworks_free(m);
    m = mynetworks_new("t", "example.com", false);
    MATCH(m, "192.0.2.1", "mx.example.com", 0);
    MATCH(m, "192.0.2.1", "EXAMPLE.COM", 1);
    mynetworks_free(m);

    /* /file and type:table entries */
    char path[] = "/tmp/mynetworks_test.XXXXXX";
    int fd = mkstemp(path);
    EXPECT_TRUE(fd >= 0);
    const char *text = "# trusted\n198.51.100.0/24  # office\n[2001:db8:1::]/48\n";
    EXPECT_TRUE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
    close(fd);
    char list[512];
    snprintf(list, sizeof(list), "%s inline:{203.0.113.9=ok}", path);
    m = mynetworks_new("t", list, true);
    EXPECT_EQ_INT(mynetworks_count(m), 3);
    MATCH(m, "198.51.100.20", NULL, 1);
    MATCH(m, "2001:db8:1:2::1", NULL, 1);
    MATCH(m, "203.0.113.9", NULL, 1);
    MATCH(m, "203.0.113.10", NULL, 0);
    mynetworks_free(m);
    unlink(path);

    /* empty list matches nothing */
    m = mynetworks_new("t", "", true);
    MATCH(m, "127.0.0.1", "localhost", 0);
    mynetworks_free(m);
    return harness_done();
}
