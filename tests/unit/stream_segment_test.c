/*
 * stream_segment_test.c - stream_get_segment() against a byte-at-a-time
 *                         reference
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: the reference is the rule written out one byte at a time (the way
 *        smtpd read message content before the bulk version): a piece ends
 *        at LF (CR LF or bare LF) or at max bytes, except that a CR as the
 *        max'th byte waits for the next byte, up to 2*max. Random inputs
 *        over the alphabet {x . CR LF}, random max, and a reader that hands
 *        the stream 1-7 bytes at a time (stream_set_io), so pieces meet
 *        buffer ends at every position. Also a few fixed cases.
 */
#include "stream.h"
#include "harness.h"
#include "sbuf.h"
#include <stdlib.h>
#include <unistd.h>

struct src {
    const char *data;
    size_t len, pos;
    unsigned seed;
    size_t chunk_max;           /* 0: all that fits */
};

static ssize_t src_read(void *ctx, int fd, void *buf, size_t len, bool *want_write)
{
    struct src *s = ctx;
    (void)fd;
    *want_write = false;
    size_t n = s->len - s->pos;
    if (s->chunk_max) {
        size_t c = 1 + (size_t)rand_r(&s->seed) % s->chunk_max;
        if (c < n)
            n = c;
    }
    if (n > len)
        n = len;
    memcpy(buf, s->data + s->pos, n);
    s->pos += n;
    return (ssize_t)n;
}

/* The rule, one byte at a time. */
static int ref_segment(const char *in, size_t len, size_t *pos, struct sbuf *out, size_t max)
{
    sbuf_reset(out);
    for (;;) {
        if (*pos >= len)
            return STREAM_E_EOF;
        int c = (unsigned char)in[(*pos)++];
        size_t n = sbuf_len(out);
        if (c == '\n') {
            if (n > 0 && sbuf_str(out)[n - 1] == '\r') {
                sbuf_truncate(out, n - 1);
                return STREAM_SEG_CRLF;
            }
            return STREAM_SEG_LF;
        }
        sbuf_addch(out, (char)c);
        n++;
        if (n >= max && (c != '\r' || n >= 2 * max))
            return STREAM_SEG_PARTIAL;
    }
}

/* Runs one input through both; true when every piece and result agree. */
static bool same_pieces(const char *in, size_t len, size_t max, size_t chunk_max, unsigned seed)
{
    struct src src = { .data = in, .len = len, .seed = seed, .chunk_max = chunk_max };
    int fds[2];
    if (pipe(fds) < 0)
        return false;
    struct stream *s = stream_open_nonblock(fds[0]);
    stream_set_io(s, src_read, NULL, &src);
    struct sbuf *a = sbuf_new(64), *b = sbuf_new(64);
    size_t pos = 0;
    bool ok = true;
    for (;;) {
        int ra = stream_get_segment(s, a, max);
        int rb = ref_segment(in, len, &pos, b, max);
        if (ra != rb || (ra >= 0 && (sbuf_len(a) != sbuf_len(b)
                                     || memcmp(sbuf_str(a), sbuf_str(b), sbuf_len(a)) != 0))) {
            ok = false;
            break;
        }
        if (ra < 0)
            break;
    }
    stream_close(s);
    close(fds[1]);
    sbuf_free(a);
    sbuf_free(b);
    return ok;
}

int main(void)
{
    harness_init();
    static const char alphabet[] = { 'x', 'x', 'x', '.', '\r', '\n' };
    char in[600];
    unsigned seed = 12345;
    int bad = 0, runs = 0;
    for (int round = 0; round < 3000; round++) {
        size_t len = (size_t)rand_r(&seed) % sizeof(in);
        for (size_t i = 0; i < len; i++)
            in[i] = alphabet[(size_t)rand_r(&seed) % sizeof(alphabet)];
        size_t max = 1 + (size_t)rand_r(&seed) % 24;
        size_t chunk = (size_t)rand_r(&seed) % 8;       /* 0: whole buffers */
        runs++;
        if (!same_pieces(in, len, max, chunk, seed)) {
            if (bad++ < 3)
                printf("# mismatch: len %zu max %zu chunk %zu round %d\n", len, max, chunk, round);
        }
    }
    EXPECT_EQ_INT(bad, 0);
    EXPECT_EQ_INT(runs, 3000);

    /* Fixed cases: a CR at the cut stays with its LF; a long line is cut
     * into max-byte pieces; a partial line at EOF is an error. */
    EXPECT_TRUE(same_pieces("abc\r\n", 5, 4, 0, 1));
    EXPECT_TRUE(same_pieces("abcdefghij\n", 11, 4, 1, 1));
    EXPECT_TRUE(same_pieces("abc\r\r\r\r\r\rx\n", 12, 3, 2, 1));
    struct src src = { .data = "abcd\r\nnoend", .len = 11 };
    int fds[2];
    EXPECT_EQ_INT(pipe(fds), 0);
    struct stream *s = stream_open_nonblock(fds[0]);
    stream_set_io(s, src_read, NULL, &src);
    struct sbuf *out = sbuf_new(16);
    EXPECT_EQ_INT(stream_get_segment(s, out, 3), STREAM_SEG_PARTIAL);
    EXPECT_EQ_STR(sbuf_str(out), "abc");
    EXPECT_EQ_INT(stream_get_segment(s, out, 3), STREAM_SEG_CRLF);
    EXPECT_EQ_STR(sbuf_str(out), "d");
    EXPECT_EQ_INT(stream_get_segment(s, out, 100), STREAM_E_EOF);
    stream_close(s);
    close(fds[1]);
    sbuf_free(out);
    return harness_done();
}
