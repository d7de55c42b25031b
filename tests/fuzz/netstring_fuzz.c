/*
 * netstring_fuzz.c - libFuzzer target: the netstring reader (netstring_get)
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: the input is what a QMQP client sends to qmqpd. It is served
 *        through a pipe and read as netstrings until an error, with a small
 *        limit so the size check is reached often. Each netstring read must
 *        be within the limit, and writing it back with netstring_put() and
 *        reading that again must give the same bytes.
 */
#include "fuzz_common.h"
#include "netstring.h"

#define NETSTRING_FUZZ_LIMIT 4096

static void netstring_fuzz_roundtrip(const struct sbuf *b)
{
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        abort();
    (void)fcntl(p[1], F_SETPIPE_SZ, 65536);
    struct stream *w = stream_open(p[1]);
    if (netstring_put(w, sbuf_str(b), sbuf_len(b)) != 0 || stream_flush(w) != 0)
        abort();
    stream_close(w);
    struct stream *r = stream_open(p[0]);
    struct sbuf *again = sbuf_new(64);
    if (netstring_get(r, again, NETSTRING_FUZZ_LIMIT) != (ssize_t)sbuf_len(b)
        || memcmp(sbuf_str(again), sbuf_str(b), sbuf_len(b)) != 0)
        abort();
    sbuf_free(again);
    stream_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    int fd = fuzz_pipe(data, size);
    if (fd < 0)
        return 0;
    struct stream *s = stream_open(fd);
    stream_set_timeout(s, 5);
    struct sbuf *b = sbuf_new(64);
    for (;;) {
        ssize_t n = netstring_get(s, b, NETSTRING_FUZZ_LIMIT);
        if (n < 0)
            break;
        if ((size_t)n > NETSTRING_FUZZ_LIMIT || sbuf_len(b) != (size_t)n)
            abort();
        netstring_fuzz_roundtrip(b);
    }
    sbuf_free(b);
    stream_close(s);
    return 0;
}
