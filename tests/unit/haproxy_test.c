/*
 * haproxy_test.c - unit tests for the PROXY protocol header parser
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: version 1 lines and version 2 binary headers as HAProxy writes
 *        them, fed whole and byte by byte (the parser must say "more" until
 *        the last byte), plus malformed ones.
 */
#include "haproxy.h"
#include "harness.h"
#include <sys/socket.h>

/* Feeds buf one byte more each time; returns the first non-zero result. */
static ssize_t feed(const unsigned char *buf, size_t len, struct haproxy_info *info,
                    const char **why, size_t *at)
{
    for (size_t n = 1; n <= len; n++) {
        ssize_t r = haproxy_parse(buf, n, info, why);
        if (r != 0) {
            *at = n;
            return r;
        }
    }
    *at = len;
    return 0;
}

static ssize_t parse_str(const char *s, struct haproxy_info *info, const char **why)
{
    return haproxy_parse((const unsigned char *)s, strlen(s), info, why);
}

int main(void)
{
    harness_init();
    struct haproxy_info info;
    const char *why;
    size_t at;

    /* Version 1, IPv4, followed by SMTP input that is not consumed. */
    const char *v1 = "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\r\nEHLO x\r\n";
    EXPECT_EQ_INT(parse_str(v1, &info, &why), 44);
    EXPECT_TRUE(!info.local);
    EXPECT_EQ_INT(info.family, AF_INET);
    EXPECT_EQ_STR(info.client_addr, "192.0.2.7");
    EXPECT_EQ_STR(info.server_addr, "198.51.100.1");
    EXPECT_EQ_INT(info.client_port, 40000);
    EXPECT_EQ_INT(info.server_port, 25);
    EXPECT_EQ_INT(feed((const unsigned char *)v1, strlen(v1), &info, &why, &at), 44);
    EXPECT_EQ_INT(at, 44);

    /* Version 1, IPv6, and an IPv4-mapped client. */
    EXPECT_TRUE(parse_str("PROXY TCP6 2001:db8::1 2001:db8::2 1 2\r\n", &info, &why) > 0);
    EXPECT_EQ_INT(info.family, AF_INET6);
    EXPECT_EQ_STR(info.client_addr, "2001:db8::1");
    EXPECT_TRUE(parse_str("PROXY TCP6 ::ffff:192.0.2.9 ::1 1 2\r\n", &info, &why) > 0);
    EXPECT_EQ_INT(info.family, AF_INET);
    EXPECT_EQ_STR(info.client_addr, "192.0.2.9");

    /* UNKNOWN: not proxied. */
    EXPECT_EQ_INT(parse_str("PROXY UNKNOWN\r\n", &info, &why), 15);
    EXPECT_TRUE(info.local);
    EXPECT_TRUE(parse_str("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", &info, &why) > 0);
    EXPECT_TRUE(info.local);

    /* Malformed version 1. */
    const char *bad[] = {
        "EHLO client.example\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 40000\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25 extra\r\n",
        "PROXY TCP4 2001:db8::1 198.51.100.1 40000 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 70000 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 -1 25\r\n",
        "PROXY UDP4 192.0.2.7 198.51.100.1 1 25\r\n",
        "PROXY TCP4 192.0.2.7 198.51.100.1 40000 25\n",
        "PROXY TCP4  192.0.2.7 198.51.100.1 40000 25\r\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        EXPECT_EQ_INT(parse_str(bad[i], &info, &why), -1);
        EXPECT_TRUE(why != NULL);
    }
    /* Too long without an end. */
    char lng[200];
    memset(lng, 'x', sizeof(lng));
    memcpy(lng, "PROXY ", 6);
    EXPECT_EQ_INT(haproxy_parse((unsigned char *)lng, sizeof(lng), &info, &why), -1);
    /* Incomplete: more please. */
    EXPECT_EQ_INT(parse_str("PROX", &info, &why), 0);
    EXPECT_EQ_INT(parse_str("PROXY TCP4 192.0.2.7", &info, &why), 0);

    /* Version 2, PROXY TCP over IPv4, with a TLV after the addresses. */
    unsigned char v2[16 + 12 + 5] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
                                      0x55, 0x49, 0x54, 0x0A, 0x21, 0x11, 0x00, 12 + 5,
                                      192,  0,    2,    8,    198,  51,   100,  1,
                                      0x9c, 0x41, 0x00, 25,   0x04, 0x00, 0x02, 'o',
                                      'k' };
    EXPECT_EQ_INT(feed(v2, sizeof(v2), &info, &why, &at), (ssize_t)sizeof(v2));
    EXPECT_EQ_INT(at, sizeof(v2));
    EXPECT_TRUE(!info.local);
    EXPECT_EQ_STR(info.client_addr, "192.0.2.8");
    EXPECT_EQ_STR(info.server_addr, "198.51.100.1");
    EXPECT_EQ_INT(info.client_port, 40001);
    EXPECT_EQ_INT(info.server_port, 25);

    /* Version 2, IPv6. */
    unsigned char v26[16 + 36] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
                                   0x55, 0x49, 0x54, 0x0A, 0x21, 0x21, 0x00, 36 };
    v26[16] = 0x20; v26[17] = 0x01; v26[18] = 0x0d; v26[19] = 0xb8; v26[31] = 5;
    v26[32] = 0xfe; v26[33] = 0x80; v26[47] = 1;
    v26[48] = 0x01; v26[49] = 0x00; v26[50] = 0x00; v26[51] = 25;
    EXPECT_EQ_INT(haproxy_parse(v26, sizeof(v26), &info, &why), (ssize_t)sizeof(v26));
    EXPECT_EQ_INT(info.family, AF_INET6);
    EXPECT_EQ_STR(info.client_addr, "2001:db8::5");
    EXPECT_EQ_INT(info.client_port, 256);
    EXPECT_EQ_STR(info.server_addr, "fe80::1");
    EXPECT_EQ_INT(info.server_port, 25);
    /* An IPv6 block one byte short of two addresses and two ports. */
    v26[15] = 35;
    EXPECT_EQ_INT(haproxy_parse(v26, sizeof(v26) - 1, &info, &why), -1);
    EXPECT_EQ_STR(why, "version 2 header: short IPv6 address block");
    v26[15] = 36;

    /* LOCAL (health check): not proxied. */
    unsigned char loc[16] = { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51,
                              0x55, 0x49, 0x54, 0x0A, 0x20, 0x00, 0x00, 0x00 };
    EXPECT_EQ_INT(haproxy_parse(loc, sizeof(loc), &info, &why), 16);
    EXPECT_TRUE(info.local);

    /* Malformed version 2: version 1 in the high nibble, a bad command, UDP,
     * a short address block, an absurd length. */
    unsigned char b2[sizeof(v2)];
    memcpy(b2, v2, sizeof(v2));
    b2[12] = 0x11;
    EXPECT_EQ_INT(haproxy_parse(b2, sizeof(b2), &info, &why), -1);
    memcpy(b2, v2, sizeof(v2));
    b2[12] = 0x22;
    EXPECT_EQ_INT(haproxy_parse(b2, sizeof(b2), &info, &why), -1);
    memcpy(b2, v2, sizeof(v2));
    b2[13] = 0x12;
    EXPECT_EQ_INT(haproxy_parse(b2, sizeof(b2), &info, &why), -1);
    memcpy(b2, v2, sizeof(v2));
    b2[15] = 4;
    EXPECT_EQ_INT(haproxy_parse(b2, 20, &info, &why), -1);
    memcpy(b2, v2, sizeof(v2));
    b2[14] = 0xff;
    EXPECT_EQ_INT(haproxy_parse(b2, sizeof(b2), &info, &why), -1);
    /* A broken signature. */
    memcpy(b2, v2, sizeof(v2));
    b2[7] = 'X';
    EXPECT_EQ_INT(haproxy_parse(b2, 8, &info, &why), -1);
    EXPECT_EQ_INT(haproxy_parse(b2, 7, &info, &why), 0);

    return harness_done();
}
