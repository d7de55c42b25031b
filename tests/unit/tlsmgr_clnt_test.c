/*
 * tlsmgr_clnt_test.c - unit tests for lib/mail/tlsmgr_clnt.c that need no
 *                      tlsmgr: the hex coding of sessions and keys and its
 *                      limits (the service itself: tests/e2e/tls_cache_test.sh).
 */
#include "harness.h"
#include "tlsmgr_clnt.h"

int main(void)
{
    harness_init();
    struct sbuf *b = sbuf_new(16), *d = sbuf_new(16);
    const unsigned char in[] = { 0x00, 0xff, 0x10, 0x7f, 0x0a, 0x25 };
    tlsmgr_hex_encode(b, in, sizeof(in));
    EXPECT_EQ_STR(sbuf_str(b), "00ff107f0a25");
    EXPECT_EQ_INT(tlsmgr_hex_decode(d, "00FF107f0A25", 16), 0);
    EXPECT_EQ_INT((long)sbuf_len(d), (long)sizeof(in));
    EXPECT_TRUE(memcmp(sbuf_str(d), in, sizeof(in)) == 0);
    EXPECT_EQ_INT(tlsmgr_hex_decode(d, "", 16), 0);
    EXPECT_EQ_INT((long)sbuf_len(d), 0);
    /* Odd length, a non-hex digit, more than the limit: refused. */
    EXPECT_EQ_INT(tlsmgr_hex_decode(d, "abc", 16), -1);
    EXPECT_EQ_INT(tlsmgr_hex_decode(d, "zz", 16), -1);
    EXPECT_EQ_INT(tlsmgr_hex_decode(d, "0011", 1), -1);
    EXPECT_EQ_INT(tlsmgr_hex_decode(d, "00", 1), 0);
    sbuf_free(b);
    sbuf_free(d);
    return harness_done();
}
