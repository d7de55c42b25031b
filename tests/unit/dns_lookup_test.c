/*
 * dns_lookup_test.c - unit tests for lib/mail/dns_lookup.c that need no
 *                     name server: reversed address forms and refusal of
 *                     malformed names, and the reply parser on crafted
 *                     TLSA and CNAME answers, the text form of records and the
 *                     *_dns_reply_filter decision (live DNS answers are covered
 *                     by tests/e2e/smtpd_dnsbl_test.sh, dane_test.sh and
 *                     dns_reply_filter_test.sh).
 */
#include "dns_lookup.h"
#include "alloc.h"
#include "harness.h"
#include "maps.h"
#include <unistd.h>

static struct dns_rr *rr_new(const char *name, int type, unsigned ttl, int pref, const char *data)
{
    struct dns_rr *rr = xcalloc(1, sizeof(*rr));
    rr->name = xstrdup(name);
    rr->type = type;
    rr->ttl = ttl;
    rr->pref = pref;
    rr->data = xstrdup(data);
    return rr;
}

/* The record text and the filter decision. */
static void filter_tests(void)
{
    struct sbuf *t = sbuf_new(64);
    struct dns_rr *mx = rr_new("example.com", DNS_T_MX, 3600, 10, "mail.example.com");
    dns_rr_text(t, mx);
    EXPECT_EQ_STR(sbuf_str(t), "example.com. 3600 IN MX 10 mail.example.com.");
    struct dns_rr *a = rr_new("mail.example.com", DNS_T_A, 300, 0, "192.0.2.25");
    dns_rr_text(t, a);
    EXPECT_EQ_STR(sbuf_str(t), "mail.example.com. 300 IN A 192.0.2.25");
    struct dns_rr *aaaa = rr_new("mail.example.com", DNS_T_AAAA, 300, 0, "2001:db8::25");
    dns_rr_text(t, aaaa);
    EXPECT_EQ_STR(sbuf_str(t), "mail.example.com. 300 IN AAAA 2001:db8::25");
    struct dns_rr *txt = rr_new("2.0.0.127.bl.example", DNS_T_TXT, 60, 0, "listed, see x");
    dns_rr_text(t, txt);
    EXPECT_EQ_STR(sbuf_str(t), "2.0.0.127.bl.example. 60 IN TXT listed, see x");
    struct dns_rr *ns = rr_new("example.com", DNS_T_NS, 86400, 0, "ns1.example.net");
    dns_rr_text(t, ns);
    EXPECT_EQ_STR(sbuf_str(t), "example.com. 86400 IN NS ns1.example.net.");
    struct dns_rr *nullmx = rr_new("none.example", DNS_T_MX, 5, 0, "");
    dns_rr_text(t, nullmx);
    EXPECT_EQ_STR(sbuf_str(t), "none.example. 5 IN MX 0 .");
    struct dns_rr *tlsa = rr_new("_25._tcp.mail.example.com", DNS_T_TLSA, 10, 0, "");
    tlsa->usage = 3, tlsa->selector = 1, tlsa->mtype = 1;
    tlsa->binlen = 3;
    tlsa->bin = xmalloc(3);
    tlsa->bin[0] = 0xab, tlsa->bin[1] = 0x01, tlsa->bin[2] = 0xff;
    dns_rr_text(t, tlsa);
    EXPECT_EQ_STR(sbuf_str(t), "_25._tcp.mail.example.com. 10 IN TLSA 3 1 1 ab01ff");
    dns_rr_list_free(tlsa);
    dns_rr_list_free(nullmx);
    dns_rr_list_free(ns);
    dns_rr_list_free(txt);
    EXPECT_EQ_STR(dns_type_name(DNS_T_AAAA), "AAAA");
    EXPECT_EQ_STR(dns_type_name(99), "?");

    /* IGNORE (any case, words after it allowed) drops records; others stay. */
    char re[] = "/tmp/dns_filter_test.XXXXXX";
    int fd = mkstemp(re);
    EXPECT_TRUE(fd >= 0);
    static const char rules[] = "/^mail\\.example\\.com\\. [0-9]+ IN AAAA /  ignore v6\n"
                                "/ IN MX 20 /  IGNORE\n"
                                "/ IN MX 30 /  REJECT\n";
    EXPECT_TRUE(write(fd, rules, sizeof(rules) - 1) == (ssize_t)(sizeof(rules) - 1));
    close(fd);
    struct sbuf *spec = sbuf_new(64);
    sbuf_printf(spec, "regexp:%s", re);
    struct maps *m = maps_create("smtp_dns_reply_filter", sbuf_str(spec), DICT_F_FOLD);
    /* list: MX 10, MX 20, A, AAAA: MX 20 and AAAA go. */
    mx->next = rr_new("example.com", DNS_T_MX, 3600, 20, "backup.example.com");
    mx->next->next = a;
    a->next = aaaa;
    struct dns_rr *list = mx;
    EXPECT_EQ_INT(dns_rr_filter(m, &list), 0);
    EXPECT_TRUE(list == mx && mx->next == a && a->next == NULL);
    /* Every record dropped: an empty list. */
    struct dns_rr *only = rr_new("example.com", DNS_T_MX, 1, 20, "b.example.com");
    EXPECT_EQ_INT(dns_rr_filter(m, &only), 0);
    EXPECT_TRUE(only == NULL);
    /* An action other than IGNORE fails the lookup. */
    struct dns_rr *bad = rr_new("example.com", DNS_T_MX, 1, 30, "c.example.com");
    EXPECT_EQ_INT(dns_rr_filter(m, &bad), -1);
    EXPECT_TRUE(bad != NULL);
    dns_rr_list_free(bad);
    dns_rr_list_free(list);
    maps_free(m);
    /* A table that cannot be opened fails every lookup. */
    m = maps_create("smtp_dns_reply_filter", "regexp:/nonexistent/dns-filter", DICT_F_FOLD);
    list = rr_new("example.com", DNS_T_MX, 1, 10, "a.example.com");
    EXPECT_EQ_INT(dns_rr_filter(m, &list), -1);
    dns_rr_list_free(list);
    maps_free(m);
    unlink(re);
    sbuf_free(spec);
    sbuf_free(t);
}

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
    /* The owner name of each record is kept for the reply filter. */
    EXPECT_EQ_INT(dns_parse_reply(msg, n, DNS_T_CNAME, &rr), DNS_OK);
    EXPECT_TRUE(rr != NULL && rr->name && strcmp(rr->name, "_25._tcp.mx.example") == 0);
    dns_rr_list_free(rr);
    filter_tests();
    sbuf_free(b);
    return harness_done();
}
