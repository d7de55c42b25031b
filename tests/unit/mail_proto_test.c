/*
 * mail_proto_test.c - service paths, mail_connect() greetings, mail_trigger()
 *
 * Used by: make unit.
 * Notes: a fake service (forked child, ut_ipc.h) listens in a temporary
 *        $queue_directory; warnings are read back from a log file.
 */
#include "harness.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "ut_ipc.h"

static char *tmp;
static char logpath[256];

/* True when the log file contains needle. */
static bool log_has(const char *needle)
{
    struct sbuf *b = sbuf_new(256);
    bool found = ut_load(logpath, b) == 0 && strstr(sbuf_str(b), needle) != NULL;
    sbuf_free(b);
    return found;
}

/* Per-connection script: what the fake service says first. */
struct greet {
    const char *greeting;   /* raw bytes to send, or NULL: say nothing */
    int hold_ms;            /* then wait this long before closing */
    bool capture;           /* save the client's bytes (until "\n\n") */
};

static void greet_conn(int fd, int index, void *ctx)
{
    const struct greet *g = ctx;
    (void)index;
    if (g->greeting)
        ut_write_str(fd, g->greeting);
    if (g->capture) {
        struct sbuf *b = sbuf_new(64);
        ut_read_until(fd, b, "\n\n", 5);
        char path[300];
        snprintf(path, sizeof(path), "%s/capture", tmp);
        ut_save(path, sbuf_str(b), sbuf_len(b));
        sbuf_free(b);
        ut_write_str(fd, "answer=42\n\n");
    }
    if (g->hold_ms)
        ut_sleep_ms(g->hold_ms);
}

static void test_paths(void)
{
    struct sbuf *b = sbuf_new(64);
    mail_service_path(b, MAIL_CLASS_PUBLIC, MAIL_SERVICE_CLEANUP, true);
    struct sbuf *want = sbuf_new(64);
    sbuf_printf(want, "%s/public/cleanup", tmp);
    EXPECT_EQ_STR(sbuf_str(b), sbuf_str(want));
    mail_service_path(b, MAIL_CLASS_PRIVATE, MAIL_SERVICE_REWRITE, false);
    EXPECT_EQ_STR(sbuf_str(b), "private/rewrite");
    sbuf_free(b);
    sbuf_free(want);
}

static void test_connect(void)
{
    /* Right greeting: a usable stream; the client's request arrives intact. */
    struct greet ok = { "proto=test_v1\n\n", 0, true };
    int l = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, "svc");
    pid_t pid = ut_serve(l, 1, greet_conn, &ok);
    struct stream *s = mail_connect(MAIL_CLASS_PRIVATE, "svc", "test_v1");
    EXPECT_TRUE(s != NULL);
    if (s) {
        EXPECT_EQ_INT(attr_send(s, "request", "x%y\nz", (char *)NULL), 0);
        struct attr_list *al = attr_list_new();
        EXPECT_EQ_INT(attr_read(s, al), 0);
        EXPECT_EQ_STR(attr_get(al, "answer"), "42");
        attr_list_free(al);
        stream_close(s);
    }
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    struct sbuf *cap = sbuf_new(64);
    char path[300];
    snprintf(path, sizeof(path), "%s/capture", tmp);
    EXPECT_EQ_INT(ut_load(path, cap), 0);
    EXPECT_EQ_STR(sbuf_str(cap), "request=x%25y%0Az\n\n");

    /* Wrong greeting: NULL and a warning that names the mismatch. */
    struct greet wrong = { "proto=other_v1\n\n", 0, false };
    pid = ut_serve(l, 1, greet_conn, &wrong);
    s = mail_connect(MAIL_CLASS_PRIVATE, "svc", "test_v1");
    EXPECT_TRUE(s == NULL);
    stream_close(s);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    EXPECT_TRUE(log_has("private/svc: bad or missing greeting (want test_v1): protocol mismatch"));

    /* A greeting without proto= at all, and a service that hangs up. */
    struct greet noproto = { "hello=1\n\n", 0, false };
    pid = ut_serve(l, 1, greet_conn, &noproto);
    s = mail_connect(MAIL_CLASS_PRIVATE, "svc", "test_v1");
    EXPECT_TRUE(s == NULL);
    ut_reap(pid, 5);
    struct greet hangup = { NULL, 0, false };
    pid = ut_serve(l, 1, greet_conn, &hangup);
    s = mail_connect(MAIL_CLASS_PRIVATE, "svc", "test_v1");
    EXPECT_TRUE(s == NULL);
    ut_reap(pid, 5);

    /* A silent service: the greeting read ends at $ipc_timeout. */
    struct greet silent = { NULL, 1600, false };
    pid = ut_serve(l, 1, greet_conn, &silent);
    double t0 = ut_now();
    s = mail_connect(MAIL_CLASS_PRIVATE, "svc", "test_v1");
    double took = ut_now() - t0;
    EXPECT_TRUE(s == NULL);
    EXPECT_TRUE(took >= 0.9 && took < 1.55);
    ut_reap(pid, 5);

    /* No greeting expected (proto NULL): the stream comes back at once. */
    struct greet quiet = { NULL, 300, false };
    pid = ut_serve(l, 1, greet_conn, &quiet);
    t0 = ut_now();
    s = mail_connect(MAIL_CLASS_PRIVATE, "svc", NULL);
    EXPECT_TRUE(s != NULL && ut_now() - t0 < 0.5);
    stream_close(s);
    ut_reap(pid, 5);
    close(l);
    sbuf_free(cap);
}

/* A service that comes up a little late is waited for (master may be
 * restarting it): the listener appears 300 ms after the first attempt. */
static void test_late_service(void)
{
    char path[300];
    snprintf(path, sizeof(path), "%s/public/late", tmp);
    unlink(path);
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        ut_sleep_ms(300);
        int l = ut_listen_service(tmp, MAIL_CLASS_PUBLIC, "late");
        struct greet ok = { "proto=late_v1\n\n", 0, false };
        alarm(10);
        int fd = accept(l, NULL, NULL);
        greet_conn(fd, 0, &ok);
        ut_sleep_ms(200);
        _exit(0);
    }
    struct stream *s = mail_connect(MAIL_CLASS_PUBLIC, "late", "late_v1");
    EXPECT_TRUE(s != NULL);
    stream_close(s);
    ut_reap(pid, 5);
}

/* Errors that retrying cannot cure fail at once, with a warning. */
static void test_unreachable(void)
{
    char file[300];
    snprintf(file, sizeof(file), "%s/plainfile", tmp);
    ut_save(file, "x", 1);
    config_set(P_QUEUE_DIRECTORY, file);   /* "file/public/x": ENOTDIR */
    double t0 = ut_now();
    struct stream *s = mail_connect(MAIL_CLASS_PUBLIC, "x", "x_v1");
    EXPECT_TRUE(s == NULL);
    EXPECT_TRUE(ut_now() - t0 < 0.5);
    EXPECT_TRUE(log_has("plainfile/public/x: Not a directory"));
    EXPECT_EQ_INT(mail_trigger(MAIL_CLASS_PUBLIC, "x", 'W'), -1);
    config_set(P_QUEUE_DIRECTORY, tmp);
}

static void test_trigger(void)
{
    /* Socket: the byte arrives, then EOF. */
    int l = ut_listen_service(tmp, MAIL_CLASS_PUBLIC, MAIL_SERVICE_PICKUP);
    EXPECT_EQ_INT(mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_PICKUP, 'W'), 0);
    int a = accept(l, NULL, NULL);
    struct sbuf *b = sbuf_new(8);
    EXPECT_EQ_INT(ut_read_until(a, b, NULL, 2), 0);
    EXPECT_EQ_STR(sbuf_str(b), "W");
    close(a);
    close(l);

    /* FIFO (qmgr's public/qmgr in Postfix layouts). */
    char fifo[300];
    snprintf(fifo, sizeof(fifo), "%s/public/%s", tmp, MAIL_SERVICE_QMGR);
    EXPECT_EQ_INT(mkfifo(fifo, 0622), 0);
    int r = open(fifo, O_RDONLY | O_NONBLOCK);
    EXPECT_EQ_INT(mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_INCOMING), 0);
    char c = 0;
    EXPECT_EQ_INT(read(r, &c, 1), 1);
    EXPECT_EQ_INT(c, 'I');
    close(r);

    /* Relative paths (chrooted daemons): resolved against the cwd. */
    char cwd[512];
    EXPECT_TRUE(getcwd(cwd, sizeof(cwd)) != NULL);
    EXPECT_EQ_INT(chdir(tmp), 0);
    mail_use_relative_paths(true);
    config_set(P_QUEUE_DIRECTORY, "/nonexistent-queue-dir");
    r = open(fifo, O_RDONLY | O_NONBLOCK);
    EXPECT_EQ_INT(mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, 'D'), 0);
    EXPECT_EQ_INT(read(r, &c, 1), 1);
    EXPECT_EQ_INT(c, 'D');
    close(r);
    mail_use_relative_paths(false);
    config_set(P_QUEUE_DIRECTORY, tmp);
    EXPECT_EQ_INT(chdir(cwd), 0);
    sbuf_free(b);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    tmp = ut_tmpdir();
    snprintf(logpath, sizeof(logpath), "%s/log", tmp);
    log_open_file(logpath, "testhost");
    config_set(P_QUEUE_DIRECTORY, tmp);
    config_set(P_IPC_TIMEOUT, "1s");
    test_paths();
    test_connect();
    test_late_service();
    test_unreachable();
    test_trigger();
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
