/*
 * maildrop_test.c - validation of the local submission record stream
 *
 * Used by: make unit.
 */
#include "alloc.h"
#include "maildrop.h"
#include "qfile.h"
#include "harness.h"

struct rec {
    int type;
    const char *data;
};

/* Feeds records; returns the index of the first refused one, or -1 when
 * all pass. *done tells whether the stream ended properly. */
static int feed(enum maildrop_source src, long limit, const struct rec *r, size_t n, bool *done,
                enum maildrop_verdict *verdict)
{
    struct maildrop_check c;
    maildrop_check_init(&c, src, limit);
    int bad = -1;
    for (size_t i = 0; i < n && bad < 0; i++)
        if (maildrop_check_rec(&c, r[i].type, r[i].data, strlen(r[i].data)) != NULL)
            bad = (int)i;
    *done = maildrop_check_done(&c);
    *verdict = c.verdict;
    return bad;
}

#define FEED(src, limit, arr) feed(src, limit, arr, ARRAY_LEN(arr), &done, &verdict)

int main(void)
{
    bool done;
    enum maildrop_verdict verdict;
    harness_init();

    const struct rec good[] = {
        { 'F', "Full Name" }, { 'f', "2" }, { 'S', "me" }, { '<', "2" }, { 'i', "env1" },
        { 'o', "rfc822;a@b" }, { 'n', "6" }, { 'R', "a@b" }, { 'R', "c@d" }, { 'M', "" },
        { 'N', "Subject: x" }, { 'L', "part" }, { 'N', "rest" }, { 'X', "" }, { 'E', "" },
    };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, good), -1);
    EXPECT_TRUE(done);

    /* A file needs a T record first; a client must not send one. */
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_FILE, 0, good), 0);
    const struct rec file[] = { { 'T', "1700000000 12" }, { 'S', "" }, { 'R', "x" }, { 'M', "" },
                                { 'X', "" }, { 'E', "" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_FILE, 0, file), -1);
    EXPECT_TRUE(done);
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, file), 0);
    const struct rec badtime[] = { { 'T', "12x 3" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_FILE, 0, badtime), 0);

    /* Record types a client may not use (content filter, attributes, done
     * recipients, size record). */
    const struct rec filter[] = { { 'S', "me" }, { 'L', "smtp:evil" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, filter), 1);
    const struct rec attr[] = { { 'S', "me" }, { 'A', "rewrite_context=remote" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, attr), 1);
    EXPECT_EQ_INT(verdict, MAILDROP_BAD);
    const struct rec done_rcpt[] = { { 'S', "me" }, { 'D', "x@y" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, done_rcpt), 1);

    /* VERP: one V record of two characters (cleanup checks which). */
    const struct rec verp[] = { { 'S', "me" }, { 'V', "+=" }, { 'R', "a@b" }, { 'M', "" },
                                { 'X', "" }, { 'E', "" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, verp), -1);
    const struct rec verp_twice[] = { { 'S', "me" }, { 'V', "+=" }, { 'V', "-=" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, verp_twice), 2);
    const struct rec verp_long[] = { { 'S', "me" }, { 'V', "+=-" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, verp_long), 1);
    EXPECT_EQ_INT(verdict, MAILDROP_BAD);

    /* Structure: sender once and before M; o/n need an R; nothing after E. */
    const struct rec nosender[] = { { 'R', "a" }, { 'M', "" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, nosender), 1);
    const struct rec twosenders[] = { { 'S', "a" }, { 'S', "b" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, twosenders), 1);
    const struct rec dangling[] = { { 'S', "a" }, { 'n', "2" }, { 'M', "" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, dangling), 2);
    const struct rec after[] = { { 'S', "a" }, { 'M', "" }, { 'X', "" }, { 'E', "" }, { 'N', "x" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, after), 4);
    const struct rec rcpt_in_content[] = { { 'S', "a" }, { 'M', "" }, { 'R', "x" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, rcpt_in_content), 2);
    const struct rec truncated[] = { { 'S', "a" }, { 'M', "" }, { 'N', "x" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, truncated), -1);
    EXPECT_TRUE(!done);

    /* Values: control characters, flags outside the allowed mask, DSN syntax. */
    const struct rec newline[] = { { 'S', "a\nb" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, newline), 0);
    const struct rec flags[] = { { 'f', "4" } };   /* HOLD is not the user's to ask */
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, flags), 0);
    const struct rec notify[] = { { 'S', "a" }, { 'n', "3" } };  /* NEVER + SUCCESS */
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, notify), 1);
    const struct rec ret[] = { { 'S', "a" }, { '<', "3" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, ret), 1);
    const struct rec envid[] = { { 'S', "a" }, { 'i', "has space" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, envid), 1);

    /* Size: content beyond message_size_limit, one over-long record. */
    const struct rec big[] = { { 'S', "a" }, { 'M', "" }, { 'N', "0123456789" }, { 'N', "0123456789" } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 15, big), 3);
    EXPECT_EQ_INT(verdict, MAILDROP_TOOBIG);
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, big), -1);
    char *huge = xmalloc(MAILDROP_REC_MAX + 2);
    memset(huge, 'x', MAILDROP_REC_MAX + 1);
    huge[MAILDROP_REC_MAX + 1] = 0;
    const struct rec toolong[] = { { 'S', "a" }, { 'M', "" }, { 'N', huge } };
    EXPECT_EQ_INT(FEED(MAILDROP_FROM_CLIENT, 0, toolong), 2);
    xfree(huge);

    /* After a failure everything fails. */
    struct maildrop_check c;
    maildrop_check_init(&c, MAILDROP_FROM_CLIENT, 0);
    EXPECT_TRUE(maildrop_check_rec(&c, 'Z', "", 0) != NULL);
    EXPECT_TRUE(maildrop_check_rec(&c, 'S', "a", 1) != NULL);
    return harness_done();
}
