/*
 * dsn_filter_test.c - unit tests for lib/mail/dsn_filter.c
 *
 * Covers: which table results are accepted (code, text, success and
 *         failure classes), lookups through a regexp table ($1 keeps the
 *         case of the text), no match, an empty parameter, and a table
 *         that fails (fail: and one that cannot be opened).
 * Interface: main() (tests/harness.h).
 */
#include "harness.h"
#include "dsn_filter.h"

static const char *check(const char *orig, const char *result, struct sbuf *dsn, struct sbuf *text)
{
    sbuf_reset(dsn);
    sbuf_reset(text);
    return dsn_filter_check(orig, result, dsn, text);
}

static void test_check(void)
{
    struct sbuf *dsn = sbuf_new(16), *text = sbuf_new(64);

    /* failure -> failure, either class, the code and text split */
    EXPECT_TRUE(check("5.1.1", "4.1.1 try later", dsn, text) == NULL);
    EXPECT_EQ_STR(sbuf_str(dsn), "4.1.1");
    EXPECT_EQ_STR(sbuf_str(text), "try later");
    EXPECT_TRUE(check("4.4.1", "5.4.1   no route", dsn, text) == NULL);
    EXPECT_EQ_STR(sbuf_str(dsn), "5.4.1");
    EXPECT_EQ_STR(sbuf_str(text), "no route");
    EXPECT_TRUE(check("5.0.0", "5.123.456 x", dsn, text) == NULL);
    EXPECT_EQ_STR(sbuf_str(dsn), "5.123.456");
    /* success -> success */
    EXPECT_TRUE(check("2.0.0", "2.0.0 delivered to file", dsn, text) == NULL);
    EXPECT_EQ_STR(sbuf_str(text), "delivered to file");

    /* no success <-> failure */
    EXPECT_TRUE(check("2.0.0", "5.0.0 nope", dsn, text) != NULL);
    EXPECT_TRUE(check("2.0.0", "4.0.0 later", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "2.0.0 fine", dsn, text) != NULL);
    EXPECT_TRUE(check("4.2.0", "2.0.0 fine", dsn, text) != NULL);

    /* not an enhanced status code first */
    EXPECT_TRUE(check("5.1.1", "bogus text", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "550 5.1.1 user unknown", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "3.1.1 odd class", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "5.1 short", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "5.1.1234 long detail", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "5.1.1x glued", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "", dsn, text) != NULL);
    /* the text must not be empty */
    EXPECT_TRUE(check("5.1.1", "4.1.1", dsn, text) != NULL);
    EXPECT_TRUE(check("5.1.1", "4.1.1   ", dsn, text) != NULL);

    sbuf_free(dsn);
    sbuf_free(text);
}

static void test_apply(void)
{
    char path[] = "/tmp/dsn_filter_test.XXXXXX";
    int fd = mkstemp(path);
    EXPECT_TRUE(fd >= 0);
    const char *rules = "/^5\\.1\\.1 (.*Unknown User.*)/  4.1.1 $1\n"
                        "/^5\\.7\\.1 /                   2.0.0 success from failure\n"
                        "/^5\\.2\\.2 /                   bogus\n"
                        "/^4(\\.4\\.1 .*)/               5$1\n"
                        "/^2[^ ]+ (delivered to file).*/ 2.0.0 $1\n";
    EXPECT_EQ_INT(write(fd, rules, strlen(rules)), (long)strlen(rules));
    close(fd);

    struct sbuf *spec = sbuf_new(64), *dsn = sbuf_new(16), *text = sbuf_new(64);
    sbuf_printf(spec, "regexp:%s", path);
    struct dsn_filter *f = dsn_filter_new("smtp_delivery_status_filter", sbuf_str(spec));
    EXPECT_TRUE(f != NULL);
    EXPECT_EQ_STR(dsn_filter_title(f), "smtp_delivery_status_filter");

    /* 5 -> 4, $1 keeps the text's case (keys are not folded) */
    EXPECT_EQ_INT(dsn_filter_apply(f, "QID", "5.1.1", "host x said: 550 Unknown User", dsn, text),
                  DSN_FILTER_REPLACED);
    EXPECT_EQ_STR(sbuf_str(dsn), "4.1.1");
    EXPECT_EQ_STR(sbuf_str(text), "host x said: 550 Unknown User");
    /* 4 -> 5 */
    EXPECT_EQ_INT(dsn_filter_apply(f, NULL, "4.4.1", "connect to x: refused", dsn, text),
                  DSN_FILTER_REPLACED);
    EXPECT_EQ_STR(sbuf_str(dsn), "5.4.1");
    EXPECT_EQ_STR(sbuf_str(text), "connect to x: refused");
    /* success text rewritten */
    EXPECT_EQ_INT(dsn_filter_apply(f, NULL, "2.0.0", "delivered to file: /secret/path", dsn, text),
                  DSN_FILTER_REPLACED);
    EXPECT_EQ_STR(sbuf_str(text), "delivered to file");

    /* refused results and no match leave dsn and text alone */
    sbuf_set(dsn, "keep");
    sbuf_set(text, "keep");
    EXPECT_EQ_INT(dsn_filter_apply(f, "QID", "5.7.1", "relay denied", dsn, text), DSN_FILTER_KEEP);
    EXPECT_EQ_INT(dsn_filter_apply(f, "QID", "5.2.2", "mailbox full", dsn, text), DSN_FILTER_KEEP);
    EXPECT_EQ_INT(dsn_filter_apply(f, "QID", "5.1.2", "bad domain", dsn, text), DSN_FILTER_KEEP);
    EXPECT_EQ_STR(sbuf_str(dsn), "keep");
    EXPECT_EQ_STR(sbuf_str(text), "keep");

    /* input and output may share buffers (deliver_request does this) */
    sbuf_set(dsn, "5.1.1");
    sbuf_set(text, "user said: Unknown User here");
    EXPECT_EQ_INT(dsn_filter_apply(f, NULL, sbuf_str(dsn), sbuf_str(text), dsn, text),
                  DSN_FILTER_REPLACED);
    EXPECT_EQ_STR(sbuf_str(dsn), "4.1.1");
    EXPECT_EQ_STR(sbuf_str(text), "user said: Unknown User here");
    dsn_filter_free(f);

    /* nothing to filter */
    EXPECT_TRUE(dsn_filter_new("x", "") == NULL);
    EXPECT_TRUE(dsn_filter_new("x", " , ") == NULL);
    EXPECT_TRUE(dsn_filter_new("x", NULL) == NULL);
    EXPECT_EQ_INT(dsn_filter_apply(NULL, NULL, "5.1.1", "x", dsn, text), DSN_FILTER_KEEP);
    dsn_filter_free(NULL);

    /* a table that fails, or cannot be opened: an error, never a match */
    f = dsn_filter_new("x", "fail:down");
    EXPECT_TRUE(f != NULL);
    EXPECT_EQ_INT(dsn_filter_apply(f, "QID", "5.1.1", "x", dsn, text), DSN_FILTER_ERROR);
    dsn_filter_free(f);
    f = dsn_filter_new("x", "regexp:/nonexistent/dsn_filter_test");
    EXPECT_TRUE(f != NULL);
    EXPECT_EQ_INT(dsn_filter_apply(f, "QID", "2.0.0", "x", dsn, text), DSN_FILTER_ERROR);
    dsn_filter_free(f);

    unlink(path);
    sbuf_free(spec);
    sbuf_free(dsn);
    sbuf_free(text);
}

int main(void)
{
    harness_init();
    test_check();
    test_apply();
    return harness_done();
}
