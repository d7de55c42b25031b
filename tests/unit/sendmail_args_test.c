/*
 * sendmail_args_test.c - sendmail option parsing and message reading
 *
 * Used by: make unit.
 * Notes: compiles cmd/sendmail/sendmail_args.c and sendmail_msg.c into
 *        this test (programs are not libraries).
 */
#include "../../cmd/sendmail/sendmail_args.c"
#include "../../cmd/sendmail/sendmail_msg.c"
#include "harness.h"

static int parse(struct sendmail_opts *o, struct sbuf *err, const char *first, ...)
{
    char *argv[32];
    int argc = 0;
    va_list ap;
    va_start(ap, first);
    for (const char *a = first; a && argc < 31; a = va_arg(ap, const char *))
        argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    sbuf_reset(err);
    return sendmail_parse_args(o, argc, argv, err);
}

static void test_args(void)
{
    struct sendmail_opts o;
    struct sbuf *err = sbuf_new(64);

    EXPECT_EQ_INT(parse(&o, err, "sendmail", "a@b", "Bob <c@d>, e@f", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_ENQUEUE);
    EXPECT_EQ_INT(o.nrcpt, 3);
    if (o.nrcpt == 3) {
        EXPECT_EQ_STR(o.rcpts[0], "a@b");
        EXPECT_EQ_STR(o.rcpts[1], "c@d");
        EXPECT_EQ_STR(o.rcpts[2], "e@f");
    }
    EXPECT_TRUE(o.dot_ends);
    EXPECT_TRUE(o.sender == NULL);
    sendmail_opts_free(&o);

    EXPECT_EQ_INT(parse(&o, err, "/usr/sbin/sendmail", "-t", "-i", "-f", "<me@x>", "-F", "Me Too",
                        "-N", "success,delay", "-R", "hdrs", "-V", "env-1", NULL), 0);
    EXPECT_TRUE(o.extract);
    EXPECT_TRUE(!o.dot_ends);
    EXPECT_EQ_STR(o.sender, "me@x");
    EXPECT_EQ_STR(o.fullname, "Me Too");
    EXPECT_EQ_INT(o.notify, DSN_NOTIFY_SUCCESS | DSN_NOTIFY_DELAY);
    EXPECT_EQ_INT(o.ret, DSN_RET_HDRS);
    EXPECT_EQ_STR(o.envid, "env-1");
    EXPECT_EQ_INT(o.nrcpt, 0);
    sendmail_opts_free(&o);

    /* -r is -f; <> is the null sender; -oi is -i; -- ends options. */
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-r", "<>", "-oi", "--", "-x@y", NULL), 0);
    EXPECT_EQ_STR(o.sender, "");
    EXPECT_TRUE(!o.dot_ends);
    EXPECT_EQ_INT(o.nrcpt, 1);
    sendmail_opts_free(&o);

    /* -XV: VERP with the default delimiters ("") or the two given; -X
     * with anything else is the ignored traffic log. */
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-XV", "x@y", NULL), 0);
    EXPECT_TRUE(o.verp != NULL && *o.verp == 0);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-XV-=", "x@y", NULL), 0);
    EXPECT_EQ_STR(o.verp, "-=");
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-X", "/tmp/log", "x@y", NULL), 0);
    EXPECT_TRUE(o.verp == NULL);
    EXPECT_EQ_INT(o.nrcpt, 1);
    sendmail_opts_free(&o);

    /* Bad -N/-R/-V values are ignored (Postfix warns and carries on). */
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-N", "bogus", "-R", "most", "-V", "a b", "x@y", NULL), 0);
    EXPECT_EQ_INT(o.notify, 0);
    EXPECT_EQ_INT(o.ret, 0);
    EXPECT_TRUE(o.envid == NULL);
    sendmail_opts_free(&o);

    /* Modes. */
    EXPECT_EQ_INT(parse(&o, err, "mailq", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_MAILQ);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "/usr/bin/newaliases", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_NEWALIASES);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-bp", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_MAILQ);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-bs", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_SMTP);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-q", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_FLUSH);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-qR", "example.com", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_FLUSH_SITE);
    EXPECT_EQ_STR(o.site, "example.com");
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-qRexample.org", NULL), 0);
    EXPECT_EQ_STR(o.site, "example.org");
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-q15m", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_NOTHING);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-oA/etc/other", "-bi", NULL), 0);
    EXPECT_EQ_INT(o.mode, SM_MODE_NEWALIASES);
    EXPECT_EQ_STR(o.alias_file, "/etc/other");
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-C", "/tmp", "-B", "8bitmime", "-X", "/tmp/log",
                        "-om", "-o7", "-U", "a@b", NULL), 0);
    EXPECT_EQ_STR(o.config_dir, "/tmp");
    EXPECT_EQ_INT(o.nrcpt, 1);
    sendmail_opts_free(&o);

    /* Errors: usage exit code and a message. */
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-bp", "a@b", NULL), EX_USAGE);
    EXPECT_TRUE(strstr(sbuf_str(err), "requires no recipient") != NULL);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-bz", NULL), EX_USAGE);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-B", "9BIT", NULL), EX_USAGE);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-f", "a@b, c@d", "x@y", NULL), EX_USAGE);
    EXPECT_TRUE(strstr(sbuf_str(err), "malformed sender") != NULL);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-f", NULL), EX_USAGE);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-Q", NULL), EX_USAGE);
    sendmail_opts_free(&o);
    EXPECT_EQ_INT(parse(&o, err, "sendmail", "-qX", NULL), EX_USAGE);
    sendmail_opts_free(&o);
    sbuf_free(err);
}

/* Collects records as "N:text|" / "L:text|". */
static int collect(void *ctx, int type, const char *data, size_t len)
{
    struct sbuf *b = ctx;
    sbuf_catf(b, "%c:", type);
    sbuf_append(b, data, len);
    sbuf_addch(b, '|');
    return 0;
}

/* Runs sendmail_copy_message on text with the given SM_CRLF_* mode;
 * returns the record dump (new). */
static char *copy_mode(const char *text, size_t len, bool dot_ends, int crlf, int *rc);

/* Same, with the default (SM_CRLF_STRIP). */
static char *copy(const char *text, size_t len, bool dot_ends, int *rc)
{
    return copy_mode(text, len, dot_ends, SM_CRLF_STRIP, rc);
}

static char *copy_mode(const char *text, size_t len, bool dot_ends, int crlf, int *rc)
{
    int p[2];
    FILE *tmp = tmpfile();
    fwrite(text, 1, len, tmp);
    fflush(tmp);
    rewind(tmp);
    p[0] = dup(fileno(tmp));
    fclose(tmp);
    struct sm_input *in = xmalloc(sizeof(*in));
    sm_input_init(in, p[0], 0);
    in->crlf = (enum sm_crlf)crlf;
    struct sbuf *out = sbuf_new(64);
    *rc = sendmail_copy_message(in, dot_ends, collect, out);
    close(p[0]);
    xfree(in);
    return sbuf_detach(out);
}

static void test_message(void)
{
    int rc;
    char *r;

    r = copy("Subject: x\n\nhello\n.\nafter\n", 26, true, &rc);
    EXPECT_EQ_INT(rc, 0);
    EXPECT_EQ_STR(r, "N:Subject: x|N:|N:hello|");
    xfree(r);

    /* -i: the dot is just a line. */
    r = copy("a\n.\nb\n", 6, false, &rc);
    EXPECT_EQ_STR(r, "N:a|N:.|N:b|");
    xfree(r);

    /* CR LF becomes a line end; a lone CR stays; ".." is not unstuffed. */
    r = copy("a\r\nb\rc\r\n..x\r\n.\r\n", 17, true, &rc);
    EXPECT_EQ_STR(r, "N:a|N:b\rc|N:..x|");
    xfree(r);

    /* A leading From_ line is dropped, a later one kept. */
    r = copy("From me  Mon Jan 1\nFrom x\nbody", 30, true, &rc);
    EXPECT_EQ_STR(r, "N:From x|N:body|");
    xfree(r);

    /* Last line without LF; empty input. */
    r = copy("only", 4, true, &rc);
    EXPECT_EQ_STR(r, "N:only|");
    xfree(r);
    r = copy("", 0, true, &rc);
    EXPECT_EQ_STR(r, "");
    xfree(r);

    /* Long lines: split into L records of QFILE_LINE_CHUNK, ending in N. */
    size_t big = QFILE_LINE_CHUNK * 2 + 10;
    char *text = xmalloc(big + 3);
    memset(text, 'x', big);
    memcpy(text + big, "\r\n", 2);
    r = copy(text, big + 2, true, &rc);
    struct sbuf *want = sbuf_new(big + 20);
    sbuf_cat(want, "L:");
    sbuf_append(want, text, QFILE_LINE_CHUNK);
    sbuf_cat(want, "|L:");
    sbuf_append(want, text, QFILE_LINE_CHUNK);
    sbuf_cat(want, "|N:xxxxxxxxxx|");
    EXPECT_EQ_STR(r, sbuf_str(want));
    xfree(r);

    /* A line of exactly one chunk plus CR LF: one N record, no CR. */
    memcpy(text + QFILE_LINE_CHUNK, "\r\nz\n", 4);
    r = copy(text, QFILE_LINE_CHUNK + 4, true, &rc);
    sbuf_set(want, "N:");
    sbuf_append(want, text, QFILE_LINE_CHUNK);
    sbuf_cat(want, "|N:z|");
    EXPECT_EQ_STR(r, sbuf_str(want));
    xfree(r);

    /* A long line that is a dot followed by more text does not end input. */
    r = copy(".x\n.\n", 5, true, &rc);
    EXPECT_EQ_STR(r, "N:.x|");
    xfree(r);
    sbuf_free(want);
    xfree(text);
}

/* A NUL-free text, with a lone "." ending input. */
static char *copy_crlf(const char *text, int crlf, int *rc)
{
    return copy_mode(text, strlen(text), true, crlf, rc);
}

/* sendmail_fix_line_endings: always, strict, never. */
static void test_line_endings(void)
{
    int rc;
    char *r;

    EXPECT_EQ_INT(sm_crlf_mode("always"), SM_CRLF_STRIP);
    EXPECT_EQ_INT(sm_crlf_mode("strict"), SM_CRLF_FIRST);
    EXPECT_EQ_INT(sm_crlf_mode("Strict"), -1);
    EXPECT_EQ_INT(sm_crlf_mode("never"), SM_CRLF_KEEP);
    EXPECT_EQ_INT(sm_crlf_mode("yes"), -1);
    EXPECT_EQ_INT(sm_crlf_mode(""), -1);

    /* never: every CR is data, and ".\r" does not end input */
    r = copy_crlf("a\r\nb\n.\r\nc\n", SM_CRLF_KEEP, &rc);
    EXPECT_EQ_INT(rc, 0);
    EXPECT_EQ_STR(r, "N:a\r|N:b|N:.\r|N:c|");
    xfree(r);

    /* strict: the first line decides, for the whole message */
    r = copy_crlf("a\r\nb\nc\r\n", SM_CRLF_FIRST, &rc);
    EXPECT_EQ_STR(r, "N:a|N:b|N:c|");
    xfree(r);
    r = copy_crlf("a\nb\r\nc\rd\r\n", SM_CRLF_FIRST, &rc);
    EXPECT_EQ_STR(r, "N:a|N:b\r|N:c\rd\r|");
    xfree(r);

    /* always: a CR LF ends the line wherever it is */
    r = copy_crlf("a\nb\r\nc\rd\r\n", SM_CRLF_STRIP, &rc);
    EXPECT_EQ_STR(r, "N:a|N:b|N:c\rd|");
    xfree(r);

    /* never, a line of exactly one chunk plus CR LF: the CR that does not
     * fit ends the line in a piece of its own */
    char *text = xmalloc(QFILE_LINE_CHUNK + 4);
    memset(text, 'x', QFILE_LINE_CHUNK);
    memcpy(text + QFILE_LINE_CHUNK, "\r\nz\n", 4);
    r = copy_mode(text, QFILE_LINE_CHUNK + 4, true, SM_CRLF_KEEP, &rc);
    struct sbuf *want = sbuf_new(QFILE_LINE_CHUNK + 20);
    sbuf_set(want, "L:");
    sbuf_append(want, text, QFILE_LINE_CHUNK);
    sbuf_cat(want, "|N:\r|N:z|");
    EXPECT_EQ_STR(r, sbuf_str(want));
    xfree(r);
    /* strict, same input: the first line ends in CR LF, so CRs go */
    r = copy_mode(text, QFILE_LINE_CHUNK + 4, true, SM_CRLF_FIRST, &rc);
    sbuf_set(want, "N:");
    sbuf_append(want, text, QFILE_LINE_CHUNK);
    sbuf_cat(want, "|N:z|");
    EXPECT_EQ_STR(r, sbuf_str(want));
    xfree(r);
    sbuf_free(want);
    xfree(text);
}

int main(void)
{
    harness_init();
    test_args();
    test_message();
    test_line_endings();
    return harness_done();
}
