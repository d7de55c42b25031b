/*
 * tls_dane_test.c - the DANE settings of the TLS client wrapper:
 *                   tls_dane_digests parsing and the matching types it
 *                   makes usable (DANE handshakes themselves:
 *                   tests/e2e/dane_test.sh, with a signed zone).
 */
#include "harness.h"
#include "tls_client.h"

static struct tls_client_ctx *ctx_with(const char *digests, struct sbuf *why)
{
    struct tls_client_opts o = { .dane_digests = digests };
    sbuf_reset(why);
    return tls_client_ctx_new(&o, why);
}

int main(void)
{
    harness_init();
    struct sbuf *why = sbuf_new(64);
    struct tls_client_ctx *c = ctx_with("", why);   /* sha512 sha256 */
    EXPECT_TRUE(c != NULL);
    EXPECT_TRUE(tls_client_dane_mtype_ok(c, 0));
    EXPECT_TRUE(tls_client_dane_mtype_ok(c, 1));
    EXPECT_TRUE(tls_client_dane_mtype_ok(c, 2));
    EXPECT_TRUE(!tls_client_dane_mtype_ok(c, 3));
    tls_client_ctx_free(c);
    c = ctx_with("sha256", why);
    EXPECT_TRUE(c != NULL && tls_client_dane_mtype_ok(c, 1) && !tls_client_dane_mtype_ok(c, 2));
    tls_client_ctx_free(c);
    c = ctx_with("sha512, sha384=3", why);
    EXPECT_TRUE(c != NULL && tls_client_dane_mtype_ok(c, 2) && tls_client_dane_mtype_ok(c, 3)
                && !tls_client_dane_mtype_ok(c, 1));
    tls_client_ctx_free(c);
    /* Unknown digests and numbers out of range are configuration errors. */
    EXPECT_TRUE(ctx_with("nosuchdigest=4", why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "unknown digest") != NULL);
    EXPECT_TRUE(ctx_with("sha384", why) == NULL);
    EXPECT_TRUE(ctx_with("sha256=0", why) == NULL);
    EXPECT_TRUE(ctx_with("sha256=256", why) == NULL);
    sbuf_free(why);
    return harness_done();
}
