/*
 * attr_fuzz.c - libFuzzer target: the attribute-list reader (attr_read)
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: the input is what a hostile peer process could send on a service
 *        socket. It is served through a pipe; attr_read() is called until it
 *        reports an error or EOF, with a small max_count so the count limit
 *        is reached often. Every list read is checked against the framing
 *        rules (names [a-z0-9_]{1,64}, vlen within ATTR_MAX_VALUE) and
 *        written back out and re-read, which must give the same list.
 */
#include "fuzz_common.h"
#include "attr.h"
#include "stream.h"

/* Names and values of two lists must match exactly. */
static void attr_fuzz_same(const struct attr_list *a, const struct attr_list *b)
{
    if (a->count != b->count)
        abort();
    for (size_t i = 0; i < a->count; i++) {
        if (strcmp(a->items[i].name, b->items[i].name) != 0)
            abort();
        if (a->items[i].vlen != b->items[i].vlen ||
            memcmp(a->items[i].value, b->items[i].value, a->items[i].vlen) != 0)
            abort();
    }
}

static void attr_fuzz_check(const struct attr_list *l)
{
    if (l->count > l->max_count)
        abort();
    for (size_t i = 0; i < l->count; i++) {
        const char *n = l->items[i].name;
        size_t len = strlen(n);

        if (len == 0 || len > ATTR_MAX_NAME)
            abort();
        for (const char *p = n; *p; p++)
            if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_'))
                abort();
        if (l->items[i].vlen > ATTR_MAX_VALUE || l->items[i].value[l->items[i].vlen] != 0)
            abort();
    }
}

/* Writes l through a pipe and reads it back. */
static void attr_fuzz_roundtrip(const struct attr_list *l)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0)
        abort();
    (void)fcntl(p[1], F_SETPIPE_SZ, 1 << 20);
    struct stream *w = stream_open(p[1]);
    struct stream *r = stream_open(p[0]);

    stream_set_timeout(w, 2);
    stream_set_timeout(r, 2);
    struct attr_list *back = attr_list_new();

    back->max_count = l->max_count;
    /* A list that does not fit in the pipe is skipped (no reader thread). */
    int cap = fcntl(p[1], F_GETPIPE_SZ);
    size_t est = 2;

    for (size_t i = 0; i < l->count; i++)
        est += strlen(l->items[i].name) + 2 + 3 * l->items[i].vlen;
    if (cap > 0 && est < (size_t)cap) {
        if (attr_write(w, l) != 0)
            abort();
        if (attr_read(r, back) != 0)
            abort();
        attr_fuzz_same(l, back);
    }
    attr_list_free(back);
    stream_close(w);
    stream_close(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    int fd = fuzz_pipe(data, size);

    if (fd < 0)
        return 0;
    struct stream *s = stream_open(fd);

    stream_set_timeout(s, 2);
    struct attr_list *l = attr_list_new();

    /* Small count limit: the limit path is part of what we test. */
    l->max_count = 16;
    for (int lists = 0; lists < 64; lists++) {
        int rc = attr_read(s, l);

        if (rc != 0) {
            if (rc != STREAM_E_EOF && rc != ATTR_E_FORMAT && rc != ATTR_E_LIMIT &&
                rc != STREAM_E_IO && rc != STREAM_E_TOOLONG)
                abort();
            break;
        }
        attr_fuzz_check(l);
        attr_fuzz_roundtrip(l);
        (void)attr_get(l, "proto");
        long v;
        (void)attr_get_long(l, "size", &v);
    }
    attr_list_free(l);
    stream_close(s);
    return 0;
}
