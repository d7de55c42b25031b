/*
 * dns_lookup_test.c - unit tests for lib/mail/dns_lookup.c that need no
 *                     name server: reversed address forms and refusal of
 *                     malformed names, and the reply parser on crafted
 *                     TLSA and CNAME answers (live DNS answers are covered by
 *                     tests/e2e/smtpd_dnsbl_test.sh and dane_test.sh).
 */
#include "dns_lookup.h"
#include "harness.h"

/* A reply to "_25._tcp.mx.example TLSA" with one answer whose RDATA is
 * rd (rdlen bytes); returns its length in msg. */
static size_t tlsa_reply(unsigned char *msg, const unsigned char *rd, size_t rdlen)
{
    static const unsigned char head[] = {
        0x12, 0x34, 0x81, 0xa0, 0, 1, 0, 1, 0, 0, 0, 0,    /* QR RD RA AD, 1 q, 1 an */
        3, '_', '2', '5', 4, '_', 't', 'c', 'p', 2, 'm', 'x', 7, 'e', 'x', 'a', 'm', 'p', 'l',
        'e', 0, 0, 52, 0, 1,                                /* the question */
        0xc0, 12, 0, 52, 0, 1, 0, 0, 1, 44,                 /* answer: name, TLSA, IN, ttl */
    };
    size_t n = sizeof(head);
    memcpy(msg, head, n);
    msg[n++] = (unsigned char)(rdlen >> 8);
    msg[n++] = (unsigned char)rdlen;
    memcpy(msg + n, rd, rdlen);
    return n + rdlen;
}

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
    /* TLSA answers: usage, selector, matching type, association data. */
    unsigned char msg[512], rd[40];
    rd[0] = 3, rd[1] = 1, rd[2] = 1;
    for (int i = 0; i < 32; i++)
        rd[3 + i] = (unsigned char)i;
    size_t n = tlsa_reply(msg, rd, 35);
    rr = NULL;
    EXPECT_EQ_INT(dns_parse_reply(msg, n, DNS_T_TLSA, &rr), DNS_OK);
    EXPECT_TRUE(rr != NULL && rr->usage == 3 && rr->selector == 1 && rr->mtype == 1
                && rr->binlen == 32 && rr->bin[31] == 31 && rr->next == NULL);
    dns_rr_list_free(rr);
    /* No association data: not a record. A reply cut short: malformed. */
    n = tlsa_reply(msg, rd, 3);
    EXPECT_EQ_INT(dns_parse_reply(msg, n, DNS_T_TLSA, &rr), DNS_NOTFOUND);
    n = tlsa_reply(msg, rd, 35);
    EXPECT_EQ_INT(dns_parse_reply(msg, n - 1, DNS_T_TLSA, &rr), DNS_TEMPFAIL);
    EXPECT_TRUE(rr == NULL);
    /* Asked for MX: the TLSA record is skipped. */
    EXPECT_EQ_INT(dns_parse_reply(msg, n, DNS_T_MX, &rr), DNS_NOTFOUND);
    /* A CNAME answer (the same reply with the answer's type made 5):
     * its target name (DANE's TLSA base domain expansion). */
    static const unsigned char target[] = { 3, 'm', 'x', '9', 7, 'e', 'x', 'a', 'm', 'p', 'l',
                                            'e', 0 };
    n = tlsa_reply(msg, target, sizeof(target));
    EXPECT_EQ_INT(msg[37] == 0xc0 && msg[40] == 52, 1);
    msg[40] = DNS_T_CNAME;
    EXPECT_EQ_INT(dns_parse_reply(msg, n, DNS_T_CNAME, &rr), DNS_OK);
    EXPECT_TRUE(rr != NULL && strcmp(rr->data, "mx9.example") == 0 && rr->next == NULL);
    dns_rr_list_free(rr);
    rr = NULL;
    EXPECT_EQ_INT(dns_parse_reply(msg, n, DNS_T_A, &rr), DNS_NOTFOUND);
    sbuf_free(b);
    return harness_done();
}
