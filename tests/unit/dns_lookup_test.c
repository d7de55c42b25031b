/*
 * dns_lookup_test.c - unit tests for lib/mail/dns_lookup.c that need no
 *                     name server: reversed address forms and refusal of
 *                     malformed names (DNS answers are covered by
 *                     tests/e2e/smtpd_dnsbl_test.sh with a real dnsmasq).
 */
#include "dns_lookup.h"
#include "harness.h"

int main(void)
{
    harness_init();
    struct sbuf *b = sbuf_new(64);
    EXPECT_EQ_INT(dns_reverse_addr("192.0.2.10", b), 0);
    EXPECT_EQ_STR(sbuf_str(b), "10.2.0.192");
    EXPECT_EQ_INT(dns_reverse_addr("2001:db8::1", b), 0);
    EXPECT_EQ_STR(sbuf_str(b),
                  "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2");
    EXPECT_EQ_INT(dns_reverse_addr("not-an-address", b), -1);
    EXPECT_EQ_INT(dns_reverse_addr("1.2.3", b), -1);
    /* Malformed names never reach the resolver. */
    struct dns_rr *rr = (struct dns_rr *)1;
    EXPECT_EQ_INT(dns_lookup("a..b", DNS_T_A, &rr, NULL), DNS_INVAL);
    EXPECT_TRUE(rr == NULL);
    EXPECT_EQ_INT(dns_lookup("", DNS_T_A, NULL, NULL), DNS_INVAL);
    EXPECT_EQ_INT(dns_lookup("bad name.example", DNS_T_TXT, NULL, NULL), DNS_INVAL);
    char big[300];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    EXPECT_EQ_INT(dns_lookup(big, DNS_T_A, NULL, NULL), DNS_INVAL);
    sbuf_free(b);
    return harness_done();
}
