/*
 * cleanup_clnt_test.c - the client side of the cleanup protocol against a
 *                       fake cleanup service on public/cleanup
 *
 * Used by: make unit.
 * Notes: the fake (a forked child, ut_ipc.h) follows docs/ipc.md: greeting,
 *        queue_id list, reads flags and records up to E, answers status and
 *        reason. What the client sent is compared byte for byte with records
 *        encoded here by hand (type, 7-bit little-endian length, data).
 */
#include "harness.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "qfile.h"
#include "ut_ipc.h"

static char *tmp;
static int lfd = -1;

enum mode {
    M_OK,           /* normal conversation, answer with reply */
    M_CLOSE_EARLY,  /* hang up right after the queue_id */
    M_NO_ANSWER,    /* read everything, never answer */
    M_WRONG_PROTO,  /* greet with another protocol */
    M_NO_QUEUE_ID,  /* greet, then a list without queue_id */
    M_READ_EOF,     /* read until the client hangs up (abort) */
};

struct script {
    enum mode mode;
    const char *reply;  /* M_OK: the answer list, raw */
};

static void cap_path(char *buf, size_t len, int index)
{
    snprintf(buf, len, "%s/cap.%d", tmp, index);
}

static void fake_cleanup(int fd, int index, void *ctx)
{
    const struct script *sc = ctx;
    char path[300];
    struct sbuf *cap = sbuf_new(256);
    cap_path(path, sizeof(path), index);
    if (sc->mode == M_WRONG_PROTO) {
        ut_write_str(fd, "proto=bounce_v1\n\nqueue_id=X\n\n");
        ut_sleep_ms(100);
        return;
    }
    ut_write_str(fd, "proto=cleanup_v1\n\n");
    if (sc->mode == M_NO_QUEUE_ID) {
        ut_write_str(fd, "id=ABC\n\n");
        ut_sleep_ms(100);
        return;
    }
    ut_write_str(fd, "queue_id=4XyZ1q2w3e\n\n");
    ut_read_until(fd, cap, "\n\n", 5);      /* flags list */
    if (sc->mode == M_CLOSE_EARLY) {
        /* Hangs up once the client's flags are in: the client sends them
         * before it reads the greeting, so a hang-up before reading them
         * would fail cleanup_open() itself, or not, by timing. */
        sbuf_free(cap);
        return;
    }
    if (sc->mode == M_READ_EOF) {
        if (ut_read_until(fd, cap, NULL, 5) == 0)
            sbuf_cat(cap, "#EOF");
        ut_save(path, sbuf_str(cap), sbuf_len(cap));
        sbuf_free(cap);
        return;
    }
    int r = ut_read_records(fd, cap, 5);
    ut_save(path, sbuf_str(cap), sbuf_len(cap));
    if (r == 1 && sc->mode == M_OK)
        ut_write_str(fd, sc->reply);
    if (sc->mode == M_NO_ANSWER)
        ut_sleep_ms(1500);
    sbuf_free(cap);
}

/* Appends one record as the wire carries it. */
static void rec(struct sbuf *b, int type, const char *data, size_t len)
{
    sbuf_addch(b, type);
    size_t v = len;
    do {
        int byte = v & 0x7f;
        v >>= 7;
        sbuf_addch(b, byte | (v ? 0x80 : 0));
    } while (v);
    sbuf_append(b, data, len);
}

static void recs(struct sbuf *b, int type, const char *str)
{
    rec(b, type, str, strlen(str));
}

static pid_t serve(const struct script *sc)
{
    return ut_serve(lfd, 1, fake_cleanup, (void *)sc);
}

static bool captured(int index, const struct sbuf *want)
{
    char path[300];
    cap_path(path, sizeof(path), index);
    struct sbuf *got = sbuf_new(256);
    bool same = ut_load(path, got) == 0 && sbuf_len(got) == sbuf_len(want) &&
                memcmp(sbuf_str(got), sbuf_str(want), sbuf_len(want)) == 0;
    if (!same) {
        printf("# captured %zu bytes, expected %zu\n", sbuf_len(got), sbuf_len(want));
    }
    sbuf_free(got);
    unlink(path);
    return same;
}

static void test_normal(void)
{
    struct script sc = { M_OK, "status=0\nreason=\n\n" };
    pid_t pid = serve(&sc);
    struct cleanup_clnt *c = cleanup_open(CLEANUP_FLAG_MAP_OK | CLEANUP_FLAG_FILTER);
    EXPECT_TRUE(c != NULL);
    if (c == NULL) {
        ut_reap(pid, 5);
        return;
    }
    EXPECT_EQ_STR(cleanup_queue_id(c), "4XyZ1q2w3e");
    EXPECT_EQ_INT(cleanup_recs(c, REC_SENDER, "alice@example.org"), 0);
    EXPECT_EQ_INT(cleanup_recf(c, REC_ATTR, "%s=%s", "rewrite_context", "remote"), 0);
    EXPECT_EQ_INT(cleanup_recs(c, REC_RCPT, "bob@example.net"), 0);
    EXPECT_EQ_INT(cleanup_rec(c, REC_MESG, "", 0), 0);
    EXPECT_EQ_INT(cleanup_line(c, "Subject: hi", 11), 0);
    EXPECT_EQ_INT(cleanup_line(c, "", 0), 0);
    /* A 5000-byte line goes out as L(2048) L(2048) N(904). */
    char *longline = xmalloc(5000);
    for (int i = 0; i < 5000; i++)
        longline[i] = (char)('a' + i % 26);
    EXPECT_EQ_INT(cleanup_line(c, longline, 5000), 0);
    /* A line with a NUL byte and exactly one chunk long stays one N. */
    EXPECT_EQ_INT(cleanup_line(c, "a\0b", 3), 0);
    EXPECT_EQ_INT(cleanup_line(c, longline, QFILE_LINE_CHUNK), 0);
    struct sbuf *reason = sbuf_new(32);
    sbuf_set(reason, "stale text from an earlier message");
    EXPECT_EQ_INT(cleanup_finish(c, reason), CLEANUP_STAT_OK);
    EXPECT_EQ_STR(sbuf_str(reason), "");
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));

    struct sbuf *want = sbuf_new(8192);
    char fl[16];
    snprintf(fl, sizeof(fl), "%d", CLEANUP_FLAG_MAP_OK | CLEANUP_FLAG_FILTER);
    sbuf_printf(want, "flags=%s\n\n", fl);
    EXPECT_EQ_STR(fl, "48");
    recs(want, 'S', "alice@example.org");
    recs(want, 'A', "rewrite_context=remote");
    recs(want, 'R', "bob@example.net");
    rec(want, 'M', "", 0);
    recs(want, 'N', "Subject: hi");
    rec(want, 'N', "", 0);
    rec(want, 'L', longline, 2048);
    rec(want, 'L', longline + 2048, 2048);
    rec(want, 'N', longline + 4096, 904);
    rec(want, 'N', "a\0b", 3);
    rec(want, 'N', longline, 2048);
    rec(want, 'X', "", 0);
    rec(want, 'E', "", 0);
    EXPECT_TRUE(captured(0, want));
    /* Spot-check the varint: 2048 = 0x80 0x10. */
    EXPECT_TRUE(memchr(sbuf_str(want), 0x10, sbuf_len(want)) != NULL);
    xfree(longline);
    sbuf_free(want);
    sbuf_free(reason);
}

/* A client that sends X and E itself gets no second X/E. */
static void test_explicit_end(void)
{
    struct script sc = { M_OK, "status=0\n\n" };
    pid_t pid = serve(&sc);
    struct cleanup_clnt *c = cleanup_open(0);
    EXPECT_TRUE(c != NULL);
    if (c == NULL) {
        ut_reap(pid, 5);
        return;
    }
    cleanup_recs(c, REC_SENDER, "");
    cleanup_rec(c, REC_MESG, "", 0);
    cleanup_rec(c, REC_XTRA, "", 0);
    cleanup_rec(c, REC_END, "", 0);
    EXPECT_EQ_INT(cleanup_finish(c, NULL), 0);
    ut_reap(pid, 5);
    struct sbuf *want = sbuf_new(64);
    sbuf_set(want, "flags=0\n\n");
    rec(want, 'S', "", 0);
    rec(want, 'M', "", 0);
    rec(want, 'X', "", 0);
    rec(want, 'E', "", 0);
    EXPECT_TRUE(captured(0, want));
    sbuf_free(want);
}

/* Milter spool: records after cleanup_spool_begin() stay in the spool
 * (nothing reaches cleanup), cleanup_spool_end() hands them over, and only
 * what is sent afterwards (the edited message) reaches cleanup. */
static void test_spool(void)
{
    struct script sc = { M_OK, "status=0\n\n" };
    pid_t pid = serve(&sc);
    struct cleanup_clnt *c = cleanup_open(0);
    EXPECT_TRUE(c != NULL);
    if (c == NULL) {
        ut_reap(pid, 5);
        return;
    }
    EXPECT_EQ_INT(cleanup_spool_begin(c), 0);
    EXPECT_TRUE(cleanup_spooling(c));
    cleanup_recs(c, REC_SENDER, "old@example.org");
    cleanup_recs(c, REC_RCPT, "bob@example.net");
    cleanup_rec(c, REC_MESG, "", 0);
    cleanup_line(c, "Subject: x", 10);
    int fd = cleanup_spool_end(c);
    EXPECT_TRUE(fd >= 0);
    EXPECT_TRUE(!cleanup_spooling(c));
    struct sbuf *spooled = sbuf_new(64), *want = sbuf_new(64);
    char buf[256];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    if (n > 0)
        sbuf_append(spooled, buf, (size_t)n);
    recs(want, 'S', "old@example.org");
    recs(want, 'R', "bob@example.net");
    rec(want, 'M', "", 0);
    recs(want, 'N', "Subject: x");
    EXPECT_TRUE(sbuf_len(spooled) == sbuf_len(want)
                && memcmp(sbuf_str(spooled), sbuf_str(want), sbuf_len(want)) == 0);
    close(fd);
    cleanup_recs(c, REC_SENDER, "new@example.org");
    cleanup_rec(c, REC_MESG, "", 0);
    EXPECT_EQ_INT(cleanup_finish(c, NULL), 0);
    ut_reap(pid, 5);
    sbuf_set(want, "flags=0\n\n");
    recs(want, 'S', "new@example.org");
    rec(want, 'M', "", 0);
    rec(want, 'X', "", 0);
    rec(want, 'E', "", 0);
    EXPECT_TRUE(captured(0, want));

    /* Finishing while still spooling never sends the unchecked message. */
    pid = serve(&sc);
    c = cleanup_open(0);
    EXPECT_TRUE(c != NULL);
    if (c) {
        EXPECT_EQ_INT(cleanup_spool_begin(c), 0);
        cleanup_recs(c, REC_SENDER, "old@example.org");
        EXPECT_EQ_INT(cleanup_finish(c, NULL), CLEANUP_STAT_WRITE);
    }
    ut_reap(pid, 5);
    char path[300];
    cap_path(path, sizeof(path), 0);
    unlink(path);
    sbuf_free(spooled);
    sbuf_free(want);
}

/* cleanup's verdict and text reach the caller unchanged. */
static void test_verdicts(void)
{
    static const struct {
        const char *reply;
        int status;
        const char *reason;
    } cases[] = {
        { "status=4\nreason=5.3.4 Message size exceeds fixed limit\n\n", CLEANUP_STAT_SIZE,
          "5.3.4 Message size exceeds fixed limit" },
        { "status=128\nreason=4.7.1 Try again later\n\n", CLEANUP_STAT_DEFER,
          "4.7.1 Try again later" },
        { "status=8\nreason=5.7.1 bad%25content\n\n", CLEANUP_STAT_CONT, "5.7.1 bad%content" },
        { "status=2\nreason=4.3.0 disk full\n\n", CLEANUP_STAT_WRITE, "4.3.0 disk full" },
        { "status=32\n\n", CLEANUP_STAT_RCPT, "" },
        /* A nonsense answer is a write error to the client. */
        { "status=abc\nreason=x\n\n", CLEANUP_STAT_WRITE, "4.3.0 queue file write error" },
        { "reason=no status\n\n", CLEANUP_STAT_WRITE, "4.3.0 queue file write error" },
    };
    struct sbuf *reason = sbuf_new(32);
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        struct script sc = { M_OK, cases[i].reply };
        pid_t pid = serve(&sc);
        struct cleanup_clnt *c = cleanup_open(0);
        EXPECT_TRUE(c != NULL);
        if (c == NULL) {
            ut_reap(pid, 5);
            continue;
        }
        cleanup_recs(c, REC_SENDER, "a@b");
        sbuf_set(reason, "left over");
        EXPECT_EQ_INT(cleanup_finish(c, reason), cases[i].status);
        EXPECT_EQ_STR(sbuf_str(reason), cases[i].reason);
        ut_reap(pid, 5);
    }
    sbuf_free(reason);
}

static void test_failures(void)
{
    struct sbuf *reason = sbuf_new(32);

    /* The server hangs up after the queue id: the records go nowhere and
     * finish reports a temporary write error with the standard text. */
    struct script early = { M_CLOSE_EARLY, NULL };
    pid_t pid = serve(&early);
    struct cleanup_clnt *c = cleanup_open(0);
    EXPECT_TRUE(c != NULL);
    if (c) {
        ut_reap(pid, 5);
        cleanup_recs(c, REC_SENDER, "a@b");
        cleanup_recs(c, REC_RCPT, "c@d");
        sbuf_set(reason, "5.0.0 left over from before");
        EXPECT_EQ_INT(cleanup_finish(c, reason), CLEANUP_STAT_WRITE);
        EXPECT_EQ_STR(sbuf_str(reason), "4.3.0 queue file write error");
    } else
        ut_reap(pid, 5);

    /* No answer within $ipc_timeout: same verdict, bounded wait. */
    struct script mute = { M_NO_ANSWER, NULL };
    pid = serve(&mute);
    c = cleanup_open(0);
    EXPECT_TRUE(c != NULL);
    if (c) {
        double t0 = ut_now();
        sbuf_reset(reason);
        EXPECT_EQ_INT(cleanup_finish(c, reason), CLEANUP_STAT_WRITE);
        EXPECT_TRUE(ut_now() - t0 < 1.45);
        EXPECT_EQ_STR(sbuf_str(reason), "4.3.0 queue file write error");
    }
    ut_reap(pid, 5);

    /* Greeting problems: no client at all. */
    struct script wrong = { M_WRONG_PROTO, NULL };
    pid = serve(&wrong);
    EXPECT_TRUE(cleanup_open(0) == NULL);
    ut_reap(pid, 5);
    struct script noid = { M_NO_QUEUE_ID, NULL };
    pid = serve(&noid);
    EXPECT_TRUE(cleanup_open(0) == NULL);
    ut_reap(pid, 5);

    /* cleanup_abort: the server sees the stream end without X/E (records
     * still buffered in the client may or may not have gone out). */
    struct script eof = { M_READ_EOF, NULL };
    pid = serve(&eof);
    c = cleanup_open(CLEANUP_FLAG_HOLD);
    EXPECT_TRUE(c != NULL);
    if (c) {
        cleanup_recs(c, REC_SENDER, "s");
        cleanup_abort(c);
    }
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    struct sbuf *got = sbuf_new(32);
    char path[300];
    cap_path(path, sizeof(path), 0);
    EXPECT_EQ_INT(ut_load(path, got), 0);
    EXPECT_TRUE(strncmp(sbuf_str(got), "flags=4\n\n", 9) == 0);
    EXPECT_TRUE(sbuf_len(got) >= 13 && strcmp(sbuf_str(got) + sbuf_len(got) - 4, "#EOF") == 0);
    EXPECT_TRUE(strstr(sbuf_str(got), "X") == NULL);
    cleanup_abort(NULL);
    sbuf_free(got);
    sbuf_free(reason);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    tmp = ut_tmpdir();
    config_set(P_QUEUE_DIRECTORY, tmp);
    config_set(P_IPC_TIMEOUT, "1s");
    lfd = ut_listen_service(tmp, MAIL_CLASS_PUBLIC, MAIL_SERVICE_CLEANUP);
    test_normal();
    test_explicit_end();
    test_spool();
    test_verdicts();
    test_failures();
    close(lfd);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
