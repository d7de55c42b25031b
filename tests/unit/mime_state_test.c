/*
 * mime_state_test.c - unit tests for the MIME structure parser
 *
 * Feeds messages line by line (and a long line in pieces) and checks the
 * class of every header, where header blocks end, and that every body
 * byte comes out again in order.
 */
#include "alloc.h"
#include "harness.h"
#include "mime_state.h"
#include "qfile.h"

/* What the callbacks saw, one line each: "H<class> text", "E<class>",
 * "B<offset> text" (a REC_CONT piece ends in "\\"). */
static struct sbuf *seen;

static void t_header(void *ctx, int cls, struct sbuf *h)
{
    (void)ctx;
    sbuf_catf(seen, "H%d %s\n", cls, sbuf_str(h));
}

static void t_header_end(void *ctx, int cls)
{
    (void)ctx;
    sbuf_catf(seen, "E%d\n", cls);
}

static void t_body(void *ctx, int type, const char *data, size_t len, long offset)
{
    (void)ctx;
    sbuf_catf(seen, "B%ld %.*s%s\n", offset, (int)len, data, type == REC_CONT ? "\\" : "");
}

static const struct mime_state_ops ops = { t_header, t_header_end, t_body };

static size_t bound_limit;     /* mime_state_set_boundary_limit() when not 0 */

/* Runs text (lines split at '\n') through a parser; returns the errors. */
static int run(const char *text, int opts, size_t limit)
{
    sbuf_reset(seen);
    struct mime_state *m = mime_state_new(&ops, NULL, opts, limit, 3);
    if (bound_limit)
        mime_state_set_boundary_limit(m, bound_limit);
    int errs = 0;
    const char *p = text;
    while (*p) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        errs |= mime_state_update(m, REC_NORM, p, n);
        p += n + (nl != NULL);
    }
    errs |= mime_state_end(m);
    mime_state_free(m);
    return errs;
}

static void test_plain(void)
{
    run("Subject: hi\nX-Long: a\n\tb\n\nbody 1\nbody 2\n", 0, 1000);
    EXPECT_EQ_STR(sbuf_str(seen), "H1 Subject: hi\nH1 X-Long: a\n\tb\nE1\nB0 \nB1 body 1\nB8 body 2\n");
    /* Headers only, no body: the block still ends. */
    run("Subject: x\n", 0, 1000);
    EXPECT_EQ_STR(sbuf_str(seen), "H1 Subject: x\nE1\n");
}

static const char *multipart =
    "Subject: m\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/mixed;\n"
    "\tboundary=\"b1\"\n"
    "\n"
    "preamble\n"
    "--b1\n"
    "Content-Type: text/plain\n"
    "\n"
    "text part\n"
    "--b1\n"
    "Content-Type: application/octet-stream; name=\"x.exe\"\n"
    "Content-Disposition: attachment; filename=\"x.exe\"\n"
    "\n"
    "AAAA\n"
    "--b1\n"
    "Content-Type: message/rfc822\n"
    "\n"
    "Subject: inner\n"
    "From: a@b\n"
    "\n"
    "inner body\n"
    "--b1--\n"
    "epilogue\n";

static void test_multipart(void)
{
    EXPECT_EQ_INT(run(multipart, 0, 1000), 0);
    EXPECT_EQ_STR(sbuf_str(seen),
                  "H1 Subject: m\n"
                  "H1 MIME-Version: 1.0\n"
                  "H1 Content-Type: multipart/mixed;\n\tboundary=\"b1\"\n"
                  "E1\n"
                  "B0 \n"
                  "B1 preamble\n"
                  "B10 --b1\n"
                  "H2 Content-Type: text/plain\n"
                  "E2\n"
                  "B0 \n"
                  "B1 text part\n"
                  "B11 --b1\n"
                  "H2 Content-Type: application/octet-stream; name=\"x.exe\"\n"
                  "H2 Content-Disposition: attachment; filename=\"x.exe\"\n"
                  "E2\n"
                  "B0 \n"
                  "B1 AAAA\n"
                  "B6 --b1\n"
                  "H2 Content-Type: message/rfc822\n"
                  "E2\n"
                  "B0 \n"
                  "H3 Subject: inner\n"
                  "H3 From: a@b\n"
                  "E3\n"
                  "B0 \n"
                  "B1 inner body\n"
                  "B12 --b1--\n"
                  "B0 epilogue\n");
    /* With MIME processing off, only the primary block is headers. */
    run(multipart, MIME_OPT_DISABLE_MIME, 1000);
    EXPECT_TRUE(strstr(sbuf_str(seen), "H2") == NULL && strstr(sbuf_str(seen), "H3") == NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "B1 preamble\n") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "Content-Disposition: attachment") != NULL);
}

static void test_nesting(void)
{
    /* An inner multipart closed by the outer boundary; a look-alike line
     * with trailing text is no boundary. */
    run("Content-Type: multipart/mixed; boundary=out\n\n"
        "--out\nContent-Type: multipart/alternative; boundary=in\n\n"
        "--in\nX-A: 1\n\na\n--inx\n--out--\nafter\n", 0, 1000);
    EXPECT_TRUE(strstr(sbuf_str(seen), "H2 X-A: 1\n") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "B3 --inx\n") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "B0 after\n") != NULL);
    /* Deeper than the limit (3): the rest is body. */
    int errs = run("Content-Type: multipart/mixed; boundary=a\n\n--a\n"
                   "Content-Type: multipart/mixed; boundary=b\n\n--b\n"
                   "Content-Type: multipart/mixed; boundary=c\n\n--c\n"
                   "Content-Type: multipart/mixed; boundary=d\n\n--d\nX-Deep: 1\n\n",
                   0, 1000);
    EXPECT_TRUE(errs & MIME_ERR_NESTING);
    EXPECT_TRUE(strstr(sbuf_str(seen), "B0 X-Deep: 1\n") != NULL || strstr(sbuf_str(seen), "X-Deep: 1\n") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "H2 X-Deep") == NULL);
}

/* mime_boundary_length_limit: only the first N characters tell. */
static void test_boundary_limit(void)
{
    const char *text = "Content-Type: multipart/mixed; boundary=abcdefXYZ\n\n"
                       "--abcdefQQQ\nX-Part: 1\n\none\n--abcdefXYZ--\nafter\n";
    run(text, 0, 1000);             /* the default (2048): a different boundary */
    EXPECT_TRUE(strstr(sbuf_str(seen), "H2 X-Part") == NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "--abcdefQQQ\n") != NULL);
    bound_limit = 6;
    run(text, 0, 1000);             /* the same first 6 characters: a boundary */
    EXPECT_TRUE(strstr(sbuf_str(seen), "H2 X-Part: 1\n") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "B0 after\n") != NULL);   /* closed: epilogue */
    /* A boundary within the limit is matched whole, as before. */
    run("Content-Type: multipart/mixed; boundary=ab\n\n--abc\nX-No: 1\n--ab\nX-Yes: 1\n\n",
        0, 1000);
    EXPECT_TRUE(strstr(sbuf_str(seen), "H2 X-No") == NULL);
    EXPECT_TRUE(strstr(sbuf_str(seen), "H2 X-Yes: 1\n") != NULL);
    bound_limit = 0;
}

static void test_limits(void)
{
    /* A header past the limit is cut; the body is untouched. */
    int errs = run("Subject: 0123456789012345678901234567890123456789\n\nbody\n", 0, 20);
    EXPECT_TRUE(errs & MIME_ERR_TRUNC_HEADER);
    EXPECT_TRUE(strstr(sbuf_str(seen), "H1 Subject: 01234567890\n") != NULL);
    /* A long first body line in pieces: nothing is lost. */
    sbuf_reset(seen);
    struct mime_state *m = mime_state_new(&ops, NULL, 0, 20, 3);
    mime_state_update(m, REC_NORM, "Subject: s", 10);
    mime_state_update(m, REC_CONT, "ABCDEFGHIJKLMNOP", 16);
    mime_state_update(m, REC_CONT, "QRSTUVWXYZ", 10);
    mime_state_update(m, REC_NORM, "end", 3);
    mime_state_end(m);
    mime_state_free(m);
    EXPECT_EQ_STR(sbuf_str(seen), "H1 Subject: s\nE1\nB0 ABCDEFGHIJKLMNOPQRSTUVWXYZ\\\nB26 end\n");
    /* A "header" whose colon lies past the limit is body: a header is
     * never cut before its colon. */
    run("Subject: s\nAbcdefghijklmnopqrstuvwxyz: v\nX: y\n", 0, 20);
    EXPECT_EQ_STR(sbuf_str(seen), "H1 Subject: s\nE1\nB0 Abcdefghijklmnopqrstuvwxyz: v\nB30 X: y\n");
    EXPECT_TRUE(mime_header_is_mime("Content-Disposition: x", 22));
    EXPECT_TRUE(mime_header_is_mime("MIME-Version: 1.0", 17));
    EXPECT_TRUE(!mime_header_is_mime("Subject: Content-Type", 21));
    EXPECT_TRUE(!mime_header_is_mime("Content-Length: 12", 18));
}

/* The strict_* checks: 8-bit in a header, 8-bit text in a 7bit body (said
 * or by default), base64 for a multipart; nothing without the options. */
static void test_strict(void)
{
    const int h8 = MIME_OPT_REPORT_8BIT_IN_HEADER, b8 = MIME_OPT_REPORT_8BIT_IN_7BIT_BODY,
              dom = MIME_OPT_REPORT_ENCODING_DOMAIN;
    const char *hdr = "Subject: gr\xc3\xbc\xc3\x9f\n\nbody\n";
    EXPECT_EQ_INT(run(hdr, h8, 1000), MIME_ERR_8BIT_IN_HEADER);
    EXPECT_EQ_INT(run(hdr, 0, 1000), 0);
    EXPECT_EQ_INT(run(hdr, b8, 1000), 0);
    /* No MIME headers at all: the body is 7bit by default. */
    const char *body = "Subject: x\n\ngr\xc3\xbc\xc3\x9f\n";
    EXPECT_EQ_INT(run(body, b8, 1000), MIME_ERR_8BIT_IN_7BIT_BODY);
    EXPECT_EQ_INT(run(body, h8, 1000), 0);
    EXPECT_EQ_INT(run("MIME-Version: 1.0\nContent-Transfer-Encoding: 8bit\n\n\xc3\xbc\n", b8,
                      1000),
                  0);
    /* Per part: an 8bit part is fine, the 7bit part after it is not. */
    const char *mp = "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
                     "--b\nContent-Transfer-Encoding: 8bit\n\n\xc3\xbc ok\n"
                     "--b\nContent-Type: text/plain\n\n\xc3\xbc bad\n--b--\n";
    EXPECT_EQ_INT(run(mp, b8, 1000), MIME_ERR_8BIT_IN_7BIT_BODY);
    const char *mp_ok = "Content-Type: multipart/mixed; boundary=\"b\"\n\n"
                        "--b\nContent-Transfer-Encoding: 8bit\n\n\xc3\xbc ok\n--b--\n";
    EXPECT_EQ_INT(run(mp_ok, b8, 1000), 0);
    /* A multipart (or message) body cannot be base64. */
    const char *bad_dom = "Content-Type: multipart/mixed; boundary=\"b\"\n"
                          "Content-Transfer-Encoding: base64\n\n--b\n\nx\n--b--\n";
    EXPECT_EQ_INT(run(bad_dom, dom, 1000), MIME_ERR_ENCODING_DOMAIN);
    EXPECT_EQ_INT(run(bad_dom, 0, 1000), 0);
    EXPECT_EQ_INT(run("Content-Type: text/plain\nContent-Transfer-Encoding: base64\n\nQQ==\n",
                      dom, 1000),
                  0);
    EXPECT_EQ_STR(mime_state_error(MIME_ERR_8BIT_IN_HEADER),
                  "improper use of 8-bit data in message header");
}

int main(void)
{
    harness_init();
    seen = sbuf_new(1024);
    test_plain();
    test_multipart();
    test_nesting();
    test_boundary_limit();
    test_limits();
    test_strict();
    sbuf_free(seen);
    return harness_done();
}
