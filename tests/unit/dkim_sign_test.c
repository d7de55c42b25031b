/*
 * dkim_sign_test.c - unit tests for DKIM canonicalization, body hash,
 *                    header selection and queue-file pointer records
 *
 * Vectors: RFC 6376 3.4.5 (canonicalization example), the body of RFC 6376
 * appendix A / RFC 8463 appendix A (bh=2jUSOH9N...), and the well-known
 * hashes of the empty body. Signatures themselves are verified by dkimpy
 * in tests/e2e/dkim_test.sh.
 */
#include "alloc.h"
#include "dkim_sign.h"
#include "harness.h"
#include "qfile.h"
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static void body_hash(const char *const *lines, bool relaxed, struct sbuf *out)
{
    struct dkim_body *b = dkim_body_new(relaxed);
    for (; *lines; lines++)
        dkim_body_line(b, *lines, strlen(*lines));
    sbuf_reset(out);
    dkim_body_final(b, out);
    dkim_body_free(b);
}

static void test_canon(void)
{
    struct sbuf *s = sbuf_new(64);
    /* RFC 6376 3.4.5 */
    dkim_canon_header(s, "A: X", 4, true);
    dkim_canon_header(s, "B : Y\t\n\tZ  ", 11, true);
    EXPECT_EQ_STR(sbuf_str(s), "a:X\r\nb:Y Z\r\n");
    sbuf_reset(s);
    dkim_canon_header(s, "B : Y\t\n\tZ  ", 11, false);
    EXPECT_EQ_STR(sbuf_str(s), "B : Y\t\r\n\tZ  \r\n");
    sbuf_reset(s);
    dkim_canon_header(s, "Subject:   Hello   World  ", 26, true);
    EXPECT_EQ_STR(sbuf_str(s), "subject:Hello World\r\n");

    const char *const rfc[] = {" C ", "D \t E", "", "", NULL};
    body_hash(rfc, true, s);    /* " C\r\nD E\r\n" */
    EXPECT_EQ_STR(sbuf_str(s), "unak6JHq0wL+Q1HP7dW1tjBx9FLA6DffoZ0qrLwbbpo=");
    body_hash(rfc, false, s);   /* " C \r\nD \t E\r\n" */
    EXPECT_EQ_STR(sbuf_str(s), "NOeivbQlDH9TmNKJUw7D53wZfsk8YMZ/hTuVVwTgi8s=");

    const char *const joe[] = {"Hi.", "", "We lost the game. Are you hungry yet?", "", "Joe.",
                               "", "", NULL};
    body_hash(joe, true, s);
    EXPECT_EQ_STR(sbuf_str(s), "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");
    body_hash(joe, false, s);
    EXPECT_EQ_STR(sbuf_str(s), "2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=");

    const char *const empty[] = {"", "", NULL};
    body_hash(empty, false, s);
    EXPECT_EQ_STR(sbuf_str(s), "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
    body_hash(empty, true, s);
    EXPECT_EQ_STR(sbuf_str(s), "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
    sbuf_free(s);
}

static struct dkim_msg *feed(const char *text, bool relaxed)
{
    struct dkim_msg *m = dkim_msg_new(relaxed);
    for (const char *p = text; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        /* long lines arrive in pieces, as L records */
        if (n > 10) {
            dkim_msg_piece(m, p, 10, false);
            dkim_msg_piece(m, p + 10, n - 10, true);
        } else {
            dkim_msg_piece(m, p, n, true);
        }
        p += n + (nl != NULL);
    }
    return m;
}

static void test_sign(void)
{
    char path[] = "/tmp/dkim_sign_test.XXXXXX";
    int fd = mkstemp(path);
    /* RFC 8463 appendix A's Ed25519 seed */
    const char *seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=\n";
    EXPECT_TRUE(fd >= 0 && write(fd, seed, strlen(seed)) == (ssize_t)strlen(seed));
    close(fd);

    struct sbuf *err = sbuf_new(64), *out = sbuf_new(512), *sel = sbuf_new(16),
                *kp = sbuf_new(64);
    struct dkim_key *k = dkim_key_load(path, DKIM_ALG_ED25519, err);
    EXPECT_TRUE(k != NULL);
    EXPECT_TRUE(dkim_key_load("/nonexistent/key", DKIM_ALG_RSA, err) == NULL);
    EXPECT_TRUE(dkim_key_load(path, DKIM_ALG_RSA, err) == NULL);    /* not PEM */

    struct dkim_msg *m = feed("From: Joe SixPack <joe@Football.Example.COM>\n"
                              "To: Suzie Q <suzie@shopping.example.net>\n"
                              "Subject: Is dinner ready?\n"
                              "X-Other: not signed\n"
                              "\n"
                              "Hi.\n\nWe lost the game. Are you hungry yet?\n\nJoe.\n\n", true);
    EXPECT_EQ_STR(dkim_msg_from_domain(m), "football.example.com");
    char *hdrs[] = {"To", "Subject", "Date", NULL}, *over[] = {"From", NULL};
    struct dkim_opts o = {.headers = hdrs, .oversign = over, .hdr_relaxed = true,
                          .body_relaxed = true};
    EXPECT_EQ_INT(dkim_msg_sign(m, &o, "football.example.com", "brisbane", DKIM_ALG_ED25519, k,
                                1528637909, out, err), 0);
    const char *want = "DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed; "
                       "d=football.example.com; s=brisbane;\n\tt=1528637909;\n\t"
                       "h=from:from:to:subject;\n\t"
                       "bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;\n\tb=";
    EXPECT_TRUE(strncmp(sbuf_str(out), want, strlen(want)) == 0);
    EXPECT_EQ_INT(sbuf_len(out) - strlen(want), 88);   /* 64 bytes in base64 */
    /* Ed25519 is deterministic: the same input signs the same. */
    struct sbuf *again = sbuf_new(512);
    dkim_msg_sign(m, &o, "football.example.com", "brisbane", DKIM_ALG_ED25519, k, 1528637909,
                  again, err);
    EXPECT_EQ_STR(sbuf_str(again), sbuf_str(out));
    dkim_msg_free(m);

    m = feed("From: a@b.example\nFrom: c@d.example\n\nx\n", true);
    EXPECT_TRUE(dkim_msg_from_domain(m) == NULL);      /* two From: headers */
    dkim_msg_free(m);
    m = feed("From: undisclosed\n\nx\n", true);
    EXPECT_TRUE(dkim_msg_from_domain(m) == NULL);
    dkim_msg_free(m);
    m = feed("From: alice@example.org (Alice)\n\nx\n", true);
    EXPECT_EQ_STR(dkim_msg_from_domain(m), "example.org");
    dkim_msg_free(m);

    EXPECT_EQ_INT(dkim_key_entry_parse("sel1:rsa:/etc/k.pem", sel, kp), DKIM_ALG_RSA);
    EXPECT_EQ_STR(sbuf_str(sel), "sel1");
    EXPECT_EQ_STR(sbuf_str(kp), "/etc/k.pem");
    EXPECT_EQ_INT(dkim_key_entry_parse("s2:ED25519:/k", sel, kp), DKIM_ALG_ED25519);
    EXPECT_EQ_INT(dkim_key_entry_parse("s2:dsa:/k", sel, kp), -1);
    EXPECT_EQ_INT(dkim_key_entry_parse("/k", sel, kp), -1);

    dkim_key_free(k);
    unlink(path);
    sbuf_free(err);
    sbuf_free(out);
    sbuf_free(again);
    sbuf_free(sel);
    sbuf_free(kp);
}

/* Content with a header appended after the body, linked by pointer records,
 * reads in logical order from the content offset, and in file order (minus
 * the appended part) from the start. */
static void test_pointers(void)
{
    char path[] = "/tmp/dkim_ptr_test.XXXXXX";
    int fd = mkstemp(path);
    struct qfile_writer *w = qfile_writer_new(fd);
    qfile_puts(w, REC_MESG, "");
    off_t data = qfile_writer_offset(w);
    qfile_puts(w, REC_NORM, "Subject: s");
    qfile_puts(w, REC_NORM, "");
    qfile_puts(w, REC_NORM, "body");
    struct sbuf *enc = sbuf_new(64);
    qfile_encode(enc, REC_NORM, "DKIM-Signature: x", 17);
    off_t p1 = qfile_writer_offset(w), plen = 17;
    off_t hdr = p1 + plen, xtra = hdr + (off_t)sbuf_len(enc) + plen;
    qfile_putf(w, REC_PTR, QFILE_PTR_FMT, (long)xtra);
    qfile_puts(w, REC_NORM, "DKIM-Signature: x");
    qfile_putf(w, REC_PTR, QFILE_PTR_FMT, (long)data);
    EXPECT_EQ_INT(qfile_writer_offset(w), xtra);
    qfile_puts(w, REC_XTRA, "");
    qfile_writer_flush(w);

    struct qfile_reader *r = qfile_open(path, O_RDONLY);
    struct sbuf *d = sbuf_new(64), *seen = sbuf_new(256);
    int type;
    qfile_seek(r, hdr);
    while ((type = qfile_get(r, d, NULL)) == REC_NORM)
        sbuf_catf(seen, "%s|", sbuf_str(d));
    EXPECT_EQ_INT(type, REC_XTRA);
    EXPECT_EQ_STR(sbuf_str(seen), "DKIM-Signature: x|Subject: s||body|");
    sbuf_reset(seen);
    qfile_seek(r, 0);
    while ((type = qfile_get(r, d, NULL)) >= 0 && type != REC_XTRA)
        sbuf_catf(seen, "%c%s|", type, sbuf_str(d));
    EXPECT_EQ_STR(sbuf_str(seen), "M|NSubject: s|N|Nbody|");
    qfile_close(r);
    qfile_writer_free(w);
    unlink(path);
    sbuf_free(enc);
    sbuf_free(d);
    sbuf_free(seen);
}

int main(void)
{
    harness_init();
    test_canon();
    test_sign();
    test_pointers();
    return harness_done();
}
