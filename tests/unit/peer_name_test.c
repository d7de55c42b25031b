/*
 * peer_name_test.c - unit tests for the client host name checks
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: peer_name_lookup() itself needs DNS; the e2e tests see it (smtpd
 *        logs "does not resolve to address"). Here: which PTR answers are
 *        plausible host names at all.
 */
#include "harness.h"
#include "peer_name.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

/* 127.0.0.1 as this machine names it (forward-confirmed), or "" when its
 * resolver has no name for it. */
static void loopback_lookup(char *out, size_t outlen)
{
    struct sockaddr_in sa = { .sin_family = AF_INET };
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    out[0] = 0;
    peer_name_lookup((struct sockaddr *)&sa, sizeof(sa), "127.0.0.1", out, outlen);
}

int main(void)
{
    harness_init();
    EXPECT_TRUE(peer_name_plausible("mail.example.com"));
    EXPECT_TRUE(peer_name_plausible("a-b_c.example"));
    EXPECT_TRUE(peer_name_plausible("localhost"));
    EXPECT_TRUE(!peer_name_plausible(""));
    EXPECT_TRUE(!peer_name_plausible("192.0.2.1"));
    EXPECT_TRUE(!peer_name_plausible("2001:db8::1"));
    EXPECT_TRUE(!peer_name_plausible("bad..example"));
    EXPECT_TRUE(!peer_name_plausible(".example"));
    EXPECT_TRUE(!peer_name_plausible("-lead.example"));
    EXPECT_TRUE(!peer_name_plausible("trail-.example"));
    EXPECT_TRUE(!peer_name_plausible("host.example-"));
    EXPECT_TRUE(!peer_name_plausible("sp ace.example"));
    EXPECT_TRUE(!peer_name_plausible("ctl\r\n.example"));
    char longlabel[80];
    memset(longlabel, 'a', 64);
    strlcpy(longlabel + 64, ".example", sizeof(longlabel) - 64);
    EXPECT_TRUE(!peer_name_plausible(longlabel));
    longlabel[1] = '.';     /* labels of 1 and 62 letters */
    EXPECT_TRUE(peer_name_plausible(longlabel));
    char huge[300];
    for (size_t i = 0; i < sizeof(huge) - 1; i++)
        huge[i] = i % 2 ? '.' : 'a';
    huge[sizeof(huge) - 1] = 0;
    EXPECT_TRUE(!peer_name_plausible(huge));

    /* A confirmed name is remembered for a few seconds: the second
     * lookup of the same address asks no resolver and gives the same name. */
    char first[NI_MAXHOST], second[NI_MAXHOST];
    unsigned long before = peer_name_resolver_calls();
    loopback_lookup(first, sizeof(first));
    EXPECT_EQ_INT((int)(peer_name_resolver_calls() - before), 1);
    loopback_lookup(second, sizeof(second));
    EXPECT_EQ_STR(second, first);
    /* A failure is not remembered: without a name the resolver is asked again. */
    EXPECT_EQ_INT((int)(peer_name_resolver_calls() - before), first[0] ? 1 : 2);
    return harness_done();
}
