/*
 * util_test.c - unit tests for lib/util: sbuf, attr, stream, events, alloc
 */
#include "alloc.h"
#include "attr.h"
#include "events.h"
#include "harness.h"
#include "unescape.h"
#include "log.h"
#include "sbuf.h"
#include "stream.h"
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/wait.h>

static void test_sbuf(void)
{
    struct sbuf *b = sbuf_new(1);
    sbuf_cat(b, "abc");
    sbuf_catf(b, "-%d-", 42);
    EXPECT_EQ_STR(sbuf_str(b), "abc-42-");
    EXPECT_EQ_INT(sbuf_len(b), 7);
    sbuf_append(b, "\0x", 2);
    EXPECT_EQ_INT(sbuf_len(b), 9);
    EXPECT_TRUE(sbuf_str(b)[9] == 0);
    sbuf_printf(b, "%s", "replaced");
    EXPECT_EQ_STR(sbuf_str(b), "replaced");
    for (int i = 0; i < 10000; i++)
        sbuf_addch(b, 'x');
    EXPECT_EQ_INT(sbuf_len(b), 10008);
    sbuf_set(b, "trail  \r\n");
    sbuf_trim(b);
    EXPECT_EQ_STR(sbuf_str(b), "trail");
    sbuf_truncate(b, 2);
    EXPECT_EQ_STR(sbuf_str(b), "tr");
    char *s = sbuf_detach(b);
    EXPECT_EQ_STR(s, "tr");
    xfree(s);
    sbuf_free(NULL);
}

static const char *format_small(char *stack, size_t size, struct sbuf **spill, size_t *len,
                                const char *fmt, ...) PRINTF_LIKE(5, 6);
static const char *format_small(char *stack, size_t size, struct sbuf **spill, size_t *len,
                                const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    const char *t = sbuf_vformat_small(stack, size, spill, len, fmt, ap);
    va_end(ap);
    return t;
}

/* sbuf_vformat_small: the stack buffer while the text fits (one byte kept
 * for the NUL), a spilled buffer from then on. */
static void test_format_small(void)
{
    char stack[8];
    struct sbuf *spill;
    size_t n = 0;
    const char *t = format_small(stack, sizeof(stack), &spill, &n, "%d-%s", 42, "abcd");
    EXPECT_TRUE(t == stack && spill == NULL);
    EXPECT_EQ_STR(t, "42-abcd");
    EXPECT_EQ_INT(n, 7);
    t = format_small(stack, sizeof(stack), &spill, &n, "%d-%s", 42, "abcde");
    EXPECT_TRUE(spill != NULL && t == sbuf_str(spill));
    EXPECT_EQ_STR(t, "42-abcde");
    EXPECT_EQ_INT(n, 8);
    sbuf_free(spill);
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    t = format_small(stack, sizeof(stack), &spill, &n, "<%s>", big);
    EXPECT_EQ_INT(n, sizeof(big) + 1);
    EXPECT_TRUE(t != NULL && t[0] == '<' && t[n - 1] == '>' && t[n] == 0);
    sbuf_free(spill);
}

static void test_attr_roundtrip(void)
{
    int sv[2];
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct stream *a = stream_open(sv[0]), *b = stream_open(sv[1]);
    struct attr_list *l = attr_list_new();
    attr_add(l, "name", "value with\nnewline % and \r");
    attr_add_long(l, "count", -17);
    attr_add(l, "rcpt", "one");
    attr_add(l, "rcpt", "two");
    attr_add(l, "empty", "");
    EXPECT_EQ_INT(attr_write(a, l), 0);
    struct attr_list *r = attr_list_new();
    EXPECT_EQ_INT(attr_read(b, r), 0);
    EXPECT_EQ_INT(r->count, 5);
    EXPECT_EQ_STR(attr_get(r, "name"), "value with\nnewline % and \r");
    long n = 0;
    EXPECT_EQ_INT(attr_get_long(r, "count", &n), 0);
    EXPECT_EQ_INT(n, -17);
    EXPECT_EQ_STR(r->items[3].value, "two");
    EXPECT_EQ_STR(attr_get(r, "empty"), "");
    EXPECT_TRUE(attr_get(r, "missing") == NULL);
    EXPECT_EQ_INT(attr_get_long(r, "name", &n), -1);

    /* Malformed input: bad names, bad escapes, no '='. */
    const char *bad[] = { "Bad=x\n\n", "nameonly\n\n", "x=%zz\n\n", "=v\n\n" };
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        EXPECT_TRUE(write(sv[0], bad[i], strlen(bad[i])) == (ssize_t)strlen(bad[i]));
        int rc = attr_read(b, r);
        EXPECT_EQ_INT(rc, ATTR_E_FORMAT);
        /* resynchronise: drain the rest of the bad list */
        struct sbuf *line = sbuf_new(16);
        while (stream_pending(b) > 0 && stream_getline(b, line, 100, NULL) > 0)
            ;
        sbuf_free(line);
    }
    /* Too many attributes. */
    r->max_count = 3;
    EXPECT_EQ_INT(attr_write(a, l), 0);
    EXPECT_EQ_INT(attr_read(b, r), ATTR_E_LIMIT);
    attr_list_free(l);
    attr_list_free(r);
    stream_close(a);
    stream_close(b);
}

/* attr_decode(): the same checks as attr_read(), on a buffer that may hold
 * part of a list, one list or more. */
static void test_attr_decode(void)
{
    struct attr_list *l = attr_list_new();
    size_t used = 0;
    const char *two = "status=0\nreason=a%0Ab\n\nproto=x\n\n";
    EXPECT_EQ_INT(attr_decode(two, 5, l, &used), 0);               /* partial */
    EXPECT_EQ_INT(attr_decode(two, strlen(two) - 10, l, &used), 0); /* no blank line yet */
    EXPECT_EQ_INT(attr_decode(two, strlen(two), l, &used), 1);
    EXPECT_EQ_INT(used, strlen("status=0\nreason=a%0Ab\n\n"));
    EXPECT_EQ_INT(l->count, 2);
    EXPECT_EQ_STR(attr_get(l, "reason"), "a\nb");
    EXPECT_EQ_INT(attr_decode(two + used, strlen(two) - used, l, &used), 1);
    EXPECT_EQ_STR(attr_get(l, "proto"), "x");
    EXPECT_EQ_INT(attr_decode("\n", 1, l, &used), 1);            /* empty list */
    EXPECT_EQ_INT(l->count, 0);
    /* The checks qmgr's old private decoder skipped. */
    EXPECT_EQ_INT(attr_decode("Bad=x\n\n", 8, l, &used), ATTR_E_FORMAT);
    EXPECT_EQ_INT(attr_decode("x=%zz\n\n", 8, l, &used), ATTR_E_FORMAT);
    EXPECT_EQ_INT(attr_decode("x=%4\n\n", 7, l, &used), ATTR_E_FORMAT);
    EXPECT_EQ_INT(attr_decode("nameonly\n\n", 10, l, &used), ATTR_E_FORMAT);
    l->max_count = 1;
    EXPECT_EQ_INT(attr_decode("a=1\nb=2\n\n", 10, l, &used), ATTR_E_LIMIT);
    /* Too many lines is an error before the list's end arrives. */
    EXPECT_EQ_INT(attr_decode("a=1\n", 4, l, &used), 0);
    EXPECT_EQ_INT(attr_decode("a=1\nb=2\nc=", 10, l, &used), ATTR_E_LIMIT);
    attr_list_free(l);
}

static void test_proto(void)
{
    int sv[2];
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct stream *a = stream_open(sv[0]), *b = stream_open(sv[1]);
    attr_send_proto(a, "x_v1");
    EXPECT_EQ_INT(attr_expect_proto(b, "x_v1"), 0);
    attr_send_proto(a, "x_v2");
    EXPECT_EQ_INT(attr_expect_proto(b, "x_v1"), ATTR_E_PROTO);
    stream_close(a);
    stream_close(b);
}

/* Postfix's null-terminated framing: exact bytes, round trip, limits. */
static void test_attr0(void)
{
    int sv[2];
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct stream *a = stream_open(sv[0]), *b = stream_open(sv[1]);
    EXPECT_EQ_INT(attr_send_proto0(a, "mail_queue_list_protocol"), 0);
    struct attr_list *l = attr_list_new();
    attr_add(l, "queue_name", "deferred");
    attr_add_long(l, "size", 512);
    attr_add(l, "reason", "");
    EXPECT_EQ_INT(attr_write0(a, l), 0);
    /* The bytes Postfix's attr_print0() writes. */
    static const char want[] = "protocol\0mail_queue_list_protocol\0\0"
                               "queue_name\0deferred\0size\0" "512\0reason\0\0\0";
    char got[sizeof(want)];
    EXPECT_TRUE(stream_read(b, got, sizeof(want) - 1) == (ssize_t)(sizeof(want) - 1));
    EXPECT_TRUE(memcmp(got, want, sizeof(want) - 1) == 0);

    /* Round trip, then the empty list that ends a listing. */
    struct attr_list *r = attr_list_new();
    EXPECT_EQ_INT(attr_send_proto0(a, "p"), 0);
    EXPECT_EQ_INT(attr_write0(a, l), 0);
    attr_list_reset(l);
    EXPECT_EQ_INT(attr_write0(a, l), 0);
    EXPECT_EQ_INT(attr_expect_proto0(b, "p"), 0);
    EXPECT_EQ_INT(attr_read0(b, r), 0);
    EXPECT_EQ_INT(r->count, 3);
    EXPECT_EQ_STR(attr_get(r, "queue_name"), "deferred");
    EXPECT_EQ_STR(attr_get(r, "reason"), "");
    EXPECT_EQ_INT(attr_read0(b, r), 0);
    EXPECT_EQ_INT(r->count, 0);

    /* Wrong greeting, bad name, name without value at EOF. */
    EXPECT_EQ_INT(attr_send_proto0(a, "other"), 0);
    EXPECT_EQ_INT(attr_expect_proto0(b, "p"), ATTR_E_PROTO);
    /* A greeting is the protocol attribute alone. */
    EXPECT_TRUE(write(sv[0], "protocol\0p\0extra\0x\0\0", 20) == 20);
    EXPECT_EQ_INT(attr_expect_proto0(b, "p"), ATTR_E_PROTO);
    EXPECT_TRUE(write(sv[0], "Bad\0x\0\0", 7) == 7);
    EXPECT_EQ_INT(attr_read0(b, r), ATTR_E_FORMAT);
    while (stream_pending(b) > 0)
        (void)stream_getc(b);
    attr_add(l, "v", "with_nul");
    l->items[0].value[4] = 0;       /* vlen stays 8: a NUL inside */
    EXPECT_EQ_INT(attr_write0(a, l), ATTR_E_FORMAT);
    EXPECT_TRUE(write(sv[0], "name\0", 5) == 5);
    stream_close(a);
    EXPECT_EQ_INT(attr_read0(b, r), ATTR_E_FORMAT);
    attr_list_free(l);
    attr_list_free(r);
    stream_close(b);
}

static void test_stream_lines(void)
{
    int sv[2];
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct stream *b = stream_open(sv[1]);
    stream_set_timeout(b, 1);
    const char *data = "short\r\nthis line is far too long\nbare\nlast-without-lf";
    EXPECT_TRUE(write(sv[0], data, strlen(data)) == (ssize_t)strlen(data));
    close(sv[0]);
    struct sbuf *line = sbuf_new(16);
    bool lf;
    EXPECT_EQ_INT(stream_getline(b, line, 10, &lf), 6);
    EXPECT_EQ_STR(sbuf_str(line), "short\r");
    EXPECT_TRUE(lf);
    EXPECT_EQ_INT(stream_getline(b, line, 10, &lf), STREAM_E_TOOLONG);
    EXPECT_EQ_STR(sbuf_str(line), "this line ");
    EXPECT_EQ_INT(stream_getline(b, line, 10, &lf), 4);
    EXPECT_EQ_STR(sbuf_str(line), "bare");
    EXPECT_EQ_INT(stream_getline(b, line, 100, &lf), 15);
    EXPECT_TRUE(!lf);
    EXPECT_EQ_INT(stream_getline(b, line, 100, &lf), STREAM_E_EOF);
    sbuf_free(line);
    stream_close(b);
}

static void test_stream_timeout(void)
{
    int sv[2];
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct stream *b = stream_open(sv[1]);
    stream_set_timeout(b, 1);
    struct sbuf *line = sbuf_new(16);
    EXPECT_EQ_INT(stream_getline(b, line, 100, NULL), STREAM_E_TIMEOUT);
    /* The error is sticky. */
    EXPECT_EQ_INT(stream_getc(b), STREAM_E_TIMEOUT);
    sbuf_free(line);
    stream_close(b);
    close(sv[0]);
}

/* A peer that sends `chunks` pieces of `size` bytes every `gap_ms`, then a
 * newline. Returns its pid; fd is the reading end. */
static pid_t trickler(int *fd, int chunks, size_t size, int gap_ms)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
        return -1;
    pid_t pid = fork();
    if (pid == 0) {
        char buf[256];
        memset(buf, 'x', sizeof(buf));
        close(sv[1]);
        for (int i = 0; i < chunks; i++) {
            if (write(sv[0], buf, size) != (ssize_t)size)
                _exit(1);
            usleep((useconds_t)gap_ms * 1000);
        }
        _exit(write(sv[0], "\n", 1) == 1 ? 0 : 1);
    }
    close(sv[0]);
    *fd = sv[1];
    return pid;
}

/* Reads one line from a trickler with the given mode; returns what
 * stream_getline returned. */
static ssize_t trickle_read(int chunks, size_t size, int gap_ms, bool deadline, int min_rate)
{
    int fd;
    pid_t pid = trickler(&fd, chunks, size, gap_ms);
    struct stream *s = stream_open(fd);
    stream_set_timeout(s, 1);
    stream_set_deadline(s, deadline);
    stream_set_min_rate(s, min_rate);
    struct sbuf *line = sbuf_new(64);
    ssize_t n = stream_getline(s, line, 100000, NULL);
    sbuf_free(line);
    stream_close(s);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    return n;
}

static void test_stream_deadline(void)
{
    /* 40 bytes, one every 50 ms: 2 s in all, no single wait near 1 s. */
    EXPECT_EQ_INT(trickle_read(40, 1, 50, false, 0), 40);
    EXPECT_EQ_INT(trickle_read(40, 1, 50, true, 0), STREAM_E_TIMEOUT);
    /* 100 bytes every 50 ms at a minimum of 500 B/s earn 200 ms per 50 ms
     * spent: the line arrives. At 10000 B/s they earn 10 ms: it does not. */
    EXPECT_EQ_INT(trickle_read(40, 100, 50, true, 500), 4000);
    EXPECT_EQ_INT(trickle_read(40, 100, 50, true, 10000), STREAM_E_TIMEOUT);
    /* A new request refills the budget; time spent elsewhere is charged. */
    int sv[2];
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    struct stream *b = stream_open(sv[1]);
    stream_set_timeout(b, 1);
    stream_set_deadline(b, true);
    stream_spend(b, 1000);
    EXPECT_TRUE(write(sv[0], "ab\n", 3) == 3);
    struct sbuf *line = sbuf_new(16);
    EXPECT_EQ_INT(stream_getline(b, line, 100, NULL), 2);      /* no wait needed */
    EXPECT_EQ_INT(stream_getline(b, line, 100, NULL), STREAM_E_TIMEOUT);
    sbuf_free(line);
    stream_close(b);
    close(sv[0]);
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    b = stream_open(sv[1]);
    stream_set_timeout(b, 1);
    stream_set_deadline(b, true);
    stream_spend(b, 5000);
    stream_start_request(b);
    EXPECT_TRUE(write(sv[0], "cd\n", 3) == 3);
    line = sbuf_new(16);
    EXPECT_EQ_INT(stream_getline(b, line, 100, NULL), 2);
    sbuf_free(line);
    stream_close(b);
    close(sv[0]);
}

static int timer_hits;
static void timer_fn(void *ctx)
{
    (void)ctx;
    timer_hits++;
}

static int fd_hits;
static void fd_fn(int fd, int events, void *ctx)
{
    char c;
    (void)ctx;
    if ((events & EVENT_READ) && read(fd, &c, 1) == 1)
        fd_hits++;
}

static void test_events(void)
{
    int p[2];
    EXPECT_TRUE(pipe(p) == 0);
    event_fd_add(p[0], EVENT_READ, fd_fn, NULL);
    event_timer_add(0.01, timer_fn, NULL);
    event_timer_add(0.02, timer_fn, &timer_hits);
    EXPECT_TRUE(write(p[1], "x", 1) == 1);
    double start = event_now();
    while ((timer_hits < 2 || fd_hits < 1) && event_now() - start < 2)
        event_loop_once(0.5);
    EXPECT_EQ_INT(timer_hits, 2);
    EXPECT_EQ_INT(fd_hits, 1);
    event_timer_add(0.01, timer_fn, NULL);
    event_timer_del(timer_fn, NULL);
    event_loop_once(0.05);
    EXPECT_EQ_INT(timer_hits, 2);
    event_fd_del(p[0]);
    close(p[0]);
    close(p[1]);
}

static void test_fatal_intercept(void)
{
    EXPECT_FATAL(log_fatal("boom %d", 1));
    EXPECT_EQ_STR(harness_fatal_text, "boom 1");
    EXPECT_FATAL(xreallocarray(NULL, SIZE_MAX / 2, 4));
}

/* unescape(): Postfix's C escapes, octal up to three digits, NUL kept. */
static void test_unescape(void)
{
    struct sbuf *b = sbuf_new(16);
    unescape(b, "a\\tb\\n\\\\c\\101\\0x\\q\\");
    EXPECT_EQ_INT(sbuf_len(b), 11);
    EXPECT_TRUE(memcmp(sbuf_str(b), "a\tb\n\\cA\0xq\\", 11) == 0);
    unescape(b, "\\a\\b\\f\\r\\v\\1234");
    EXPECT_TRUE(sbuf_len(b) == 7 && memcmp(sbuf_str(b), "\a\b\f\r\vS4", 7) == 0);
    unescape(b, "");
    EXPECT_EQ_INT(sbuf_len(b), 0);
    sbuf_free(b);
}

int main(void)
{
    harness_init();
    test_sbuf();
    test_format_small();
    test_unescape();
    test_attr_roundtrip();
    test_attr_decode();
    test_proto();
    test_attr0();
    test_stream_lines();
    test_stream_timeout();
    test_stream_deadline();
    test_events();
    test_fatal_intercept();
    return harness_done();
}
