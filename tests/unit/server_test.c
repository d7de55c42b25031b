/*
 * server_test.c - the daemon skeleton, driven the way master drives it
 *
 * Used by: make unit (as root: privilege drop to mail_owner is checked;
 *          skipped with exit 77 otherwise).
 * Interface: main(); "server_test testd-MODEL [server args]" is the daemon
 *            side: this same binary re-executed by the test, since the
 *            unit-test rule builds one program per *_test.c.
 * Notes: each daemon runs with fd 3 = a status pipe and fd 4 = a listening
 *        socket or FIFO, MAIL_CONFIG pointing at a temporary main.cf, and
 *        $maillog_file set so that its log lines come to a datagram socket
 *        at $queue_directory/public/postlog that the test reads
 *        (docs/master-protocol.md).
 */
#include "harness.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "master_status.h"
#include "server.h"
#include "sock.h"
#include "ut_ipc.h"
#include <pwd.h>

/* ---- the daemon side ------------------------------------------------------ */

static void testd_describe(struct sbuf *b)
{
    char **args = server_args();
    sbuf_printf(b, "uid=%ld euid=%ld gid=%ld svc=%s prog=%s flag=%s max_use=%s unpriv=%d args=",
                (long)getuid(), (long)geteuid(), (long)getgid(), server_service_name(),
                server_program_name(), cfg_str("test_flag"), cfg_str(P_MAX_USE),
                server_unprivileged());
    for (int i = 0; args && args[i]; i++)
        sbuf_catf(b, "%s%s", i ? "," : "", args[i]);
}

/* SINGLE: describe ourselves, then echo one line. */
static void testd_single_service(struct stream *s)
{
    struct sbuf *b = sbuf_new(128);
    testd_describe(b);
    stream_printf(s, "%s\n", sbuf_str(b));
    stream_flush(s);
    if (stream_getline(s, b, 1000, NULL) >= 0) {
        stream_printf(s, "got %s\n", sbuf_str(b));
        stream_flush(s);
    }
    sbuf_free(b);
}

static int testd_connect(struct stream *s)
{
    return attr_send_proto(s, "testd_v1") == 0 ? 0 : -1;
}

/* MULTI: one attribute-list request, one answer. */
static int testd_request(struct stream *s)
{
    struct attr_list *req = attr_list_new();
    if (attr_read(s, req) != 0) {
        attr_list_free(req);
        return -1;
    }
    struct sbuf *b = sbuf_new(128);
    testd_describe(b);
    int r = attr_send(s, "who", sbuf_str(b), "echo", attr_get_def(req, "value", ""),
                      (char *)NULL);
    sbuf_free(b);
    attr_list_free(req);
    return r == 0 ? 0 : -1;
}

/* TRIGGER: append what arrived to trigger.out in the queue directory. */
static void testd_trigger(const char *buf, size_t len)
{
    int fd = open("trigger.out", O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd >= 0) {
        (void)ut_write_all(fd, buf, len);
        close(fd);
    }
}

static int testd_main(int argc, char **argv)
{
    static const struct server_ops single = { .model = SERVER_SINGLE,
                                              .service = testd_single_service };
    static const struct server_ops multi = { .model = SERVER_MULTI,
                                             .connect = testd_connect,
                                             .request = testd_request };
    static const struct server_ops trigger = { .model = SERVER_TRIGGER,
                                               .trigger = testd_trigger };
    const struct server_ops *ops = strcmp(argv[0], "testd-single") == 0  ? &single
                                   : strcmp(argv[0], "testd-multi") == 0 ? &multi
                                                                         : &trigger;
    return server_main(argc, argv, ops);
}

/* ---- the master side ------------------------------------------------------ */

static char *tmp;
static char qdir[300];
static int logsock = -1;
static struct sbuf *logbuf;

/* Starts "this-binary testd-MODEL args..." with fd 3 = status pipe (when
 * *status is not NULL; its read end is returned there) and fd 4 = lfd. */
static pid_t spawn(const char *model, int lfd, int *status, const char *const *args)
{
    int p[2] = { -1, -1 };
    if (status && pipe2(p, O_CLOEXEC) < 0)
        exit(2);
    const char *argv[32];
    int n = 0;
    argv[n++] = "server_test";
    argv[n++] = model;
    for (int i = 0; args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        int a = status ? fcntl(p[1], F_DUPFD, 10) : -1;
        int b = fcntl(lfd, F_DUPFD, 10);
        if (a >= 0)
            dup2(a, MASTER_STATUS_FD);
        else
            close(MASTER_STATUS_FD);
        dup2(b, MASTER_LISTEN_FD);
        if (a >= 0)
            close(a);
        close(b);
        setenv("SERVER_TEST_DAEMON", "1", 1);
        execv("/proc/self/exe", (char *const *)argv);
        _exit(127);
    }
    if (status) {
        close(p[1]);
        *status = p[0];
    }
    return pid;
}

/* Reads one status message: 1, 0 at EOF, -1 on timeout. */
static int read_status(int fd, struct master_status *st, int ms)
{
    size_t got = 0;
    double deadline = ut_now() + ms / 1000.0;
    while (got < sizeof(*st)) {
        int left = (int)((deadline - ut_now()) * 1000);
        if (left <= 0 || ut_wait_readable(fd, left) <= 0)
            return -1;
        ssize_t n = read(fd, (char *)st + got, sizeof(*st) - got);
        if (n == 0)
            return 0;
        if (n < 0 && errno != EINTR)
            return -1;
        if (n > 0)
            got += (size_t)n;
    }
    return 1;
}

/* Expects the next status message to be {pid, avail}. */
static bool status_is(int fd, pid_t pid, int avail)
{
    struct master_status st;
    int r = read_status(fd, &st, 3000);
    if (r != 1 || st.pid != pid || st.avail != avail) {
        printf("# status: r=%d pid=%d (want %d) avail=%d (want %d)\n", r, r == 1 ? st.pid : 0,
               (int)pid, r == 1 ? st.avail : -1, avail);
        return false;
    }
    return true;
}

/* Collects log lines until needle shows up (or ms pass). */
static bool log_wait(const char *needle, int ms)
{
    double deadline = ut_now() + ms / 1000.0;
    struct sbuf *d = sbuf_new(256);
    bool found = strstr(sbuf_str(logbuf), needle) != NULL;
    while (!found) {
        int left = (int)((deadline - ut_now()) * 1000);
        if (left <= 0 || ut_recv_dgram(logsock, d, left) <= 0)
            break;
        sbuf_append(logbuf, sbuf_str(d), sbuf_len(d));
        found = strstr(sbuf_str(logbuf), needle) != NULL;
    }
    sbuf_free(d);
    if (!found)
        printf("# not logged: %s\n", needle);
    return found;
}

static int make_listener(const char *name)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    int l = sock_unix_listen(path, 16, 0666);
    if (l < 0)
        exit(2);
    return l;
}

/* Starts prog (spawn) on a new listener NAME and expects its first
 * "available" status; the status pipe is left in *st. */
static pid_t spawn_on(const char *name, const char *prog, int *st, const char **args)
{
    int l = make_listener(name);
    pid_t pid = spawn(prog, l, st, args);
    close(l);
    EXPECT_TRUE(status_is(*st, pid, 1));
    return pid;
}

static int connect_to(const char *name)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/%s", tmp, name);
    return sock_unix_connect(path, 2);
}

static void test_single(void)
{
    int st;
    const char *args[] = { "-n", "testsvc", "-t", "unix", "-s", "1", "-o", "max_use=2",
                           "-o", "test_flag=hello world", "extra1", "extra2", NULL };
    pid_t pid = spawn_on("single", "testd-single", &st, args);

    struct sbuf *b = sbuf_new(256);
    int c = connect_to("single");
    struct stream *s = stream_open(c);
    stream_set_timeout(s, 3);
    EXPECT_TRUE(stream_getline(s, b, 1000, NULL) > 0);
    EXPECT_TRUE(strstr(sbuf_str(b), "uid=0 ") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(b), " svc=testsvc prog=testd-single flag=hello world max_use=2 "
                                    "unpriv=0 args=extra1,extra2") != NULL);
    EXPECT_TRUE(status_is(st, pid, 0));     /* busy while serving */
    stream_puts(s, "ping\n");
    stream_flush(s);
    EXPECT_TRUE(stream_getline(s, b, 1000, NULL) > 0);
    EXPECT_EQ_STR(sbuf_str(b), "got ping");
    stream_close(s);
    EXPECT_TRUE(status_is(st, pid, 1));     /* idle again */

    /* The second client is the last (max_use=2): busy, then exit 0, and no
     * more "available" message. */
    c = connect_to("single");
    s = stream_open(c);
    stream_set_timeout(s, 3);
    EXPECT_TRUE(stream_getline(s, b, 1000, NULL) > 0);
    stream_puts(s, "bye\n");
    stream_flush(s);
    EXPECT_TRUE(stream_getline(s, b, 1000, NULL) > 0);
    EXPECT_EQ_STR(sbuf_str(b), "got bye");
    stream_close(s);
    EXPECT_TRUE(status_is(st, pid, 0));
    struct master_status ms;
    EXPECT_EQ_INT(read_status(st, &ms, 3000), 0);  /* EOF: it exited */
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    close(st);
    sbuf_free(b);
}

static void test_multi_unpriv(void)
{
    struct passwd *pw = getpwnam("postfix");
    if (pw == NULL) {
        printf("# skip: no postfix account\n");
        return;
    }
    long want_uid = (long)pw->pw_uid, want_gid = (long)pw->pw_gid;
    int st;
    const char *args[] = { "-n", "testsvc", "-t", "unix", "-u", "-v", "-o", "max_idle=1",
                           "-o", "test_flag=multi", "-o", "syslog_name=postfix/testsvc", NULL };
    pid_t pid = spawn_on("multi", "testd-multi", &st, args);

    int c = connect_to("multi");
    struct stream *s = stream_open(c);
    stream_set_timeout(s, 3);
    EXPECT_EQ_INT(attr_expect_proto(s, "testd_v1"), 0);     /* the connect hook greets */
    struct attr_list *rep = attr_list_new();
    EXPECT_EQ_INT(attr_send(s, "value", "one", (char *)NULL), 0);
    EXPECT_EQ_INT(attr_read(s, rep), 0);
    EXPECT_EQ_STR(attr_get(rep, "echo"), "one");
    char want[200];
    snprintf(want, sizeof(want), "uid=%ld euid=%ld gid=%ld svc=testsvc prog=testd-multi flag=multi",
             want_uid, want_uid, want_gid);
    const char *who = attr_get_def(rep, "who", "");
    EXPECT_TRUE(strncmp(who, want, strlen(want)) == 0);
    if (strncmp(who, want, strlen(want)) != 0)
        printf("# who=%s\n", who);
    EXPECT_TRUE(strstr(who, "unpriv=1") != NULL);
    /* First real work: busy, then available again. */
    EXPECT_TRUE(status_is(st, pid, 0));
    EXPECT_TRUE(status_is(st, pid, 1));
    /* More requests on the same connection. */
    EXPECT_EQ_INT(attr_send(s, "value", "two", (char *)NULL), 0);
    EXPECT_EQ_INT(attr_read(s, rep), 0);
    EXPECT_EQ_STR(attr_get(rep, "echo"), "two");
    /* A second client at the same time. */
    int c2 = connect_to("multi");
    struct stream *s2 = stream_open(c2);
    stream_set_timeout(s2, 3);
    EXPECT_EQ_INT(attr_expect_proto(s2, "testd_v1"), 0);
    EXPECT_EQ_INT(attr_send(s2, "value", "three", (char *)NULL), 0);
    EXPECT_EQ_INT(attr_read(s2, rep), 0);
    EXPECT_EQ_STR(attr_get(rep, "echo"), "three");
    stream_close(s2);
    /* While a client stays connected the daemon is not idle. */
    ut_sleep_ms(1300);
    EXPECT_TRUE(waitpid(pid, NULL, WNOHANG) == 0);
    stream_close(s);
    attr_list_free(rep);

    /* max_idle=1 with no client: gone within a couple of seconds. */
    double t0 = ut_now();
    struct master_status ms;
    EXPECT_EQ_INT(read_status(st, &ms, 4000), 0);
    EXPECT_TRUE(ut_now() - t0 < 3.5);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    close(st);

    /* -o syslog_name reached the log tag; -v enabled debug lines. */
    snprintf(want, sizeof(want), "postfix/testsvc/testd-multi[%ld]: service testsvc started",
             (long)pid);
    EXPECT_TRUE(log_wait(want, 1000));
}

static void test_multi_max_use(void)
{
    int st;
    const char *args[] = { "-n", "m2", "-t", "unix", "-o", "max_use=2", NULL };
    pid_t pid = spawn_on("multi2", "testd-multi", &st, args);
    struct attr_list *rep = attr_list_new();
    for (int i = 0; i < 2; i++) {
        struct stream *s = stream_open(connect_to("multi2"));
        stream_set_timeout(s, 3);
        EXPECT_EQ_INT(attr_expect_proto(s, "testd_v1"), 0);
        attr_send(s, "value", "x", (char *)NULL);
        EXPECT_EQ_INT(attr_read(s, rep), 0);
        EXPECT_TRUE(strstr(attr_get_def(rep, "who", ""), "uid=0 ") != NULL);
        stream_close(s);
        if (i == 0)
            ut_sleep_ms(100);
    }
    /* Two clients served and gone: exit without waiting for max_idle. */
    double t0 = ut_now();
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    EXPECT_TRUE(ut_now() - t0 < 2.0);
    attr_list_free(rep);
    close(st);
}

static bool file_becomes(const char *path, const char *want, int ms)
{
    double deadline = ut_now() + ms / 1000.0;
    struct sbuf *b = sbuf_new(16);
    bool ok = false;
    while (!ok && ut_now() < deadline) {
        ok = ut_load(path, b) == 0 && strcmp(sbuf_str(b), want) == 0;
        if (!ok)
            ut_sleep_ms(20);
    }
    if (!ok)
        printf("# %s: \"%s\", want \"%s\"\n", path, sbuf_str(b), want);
    sbuf_free(b);
    return ok;
}

/* Waits until the file at path ends with ch (or ms pass). */
static bool file_ends_with(const char *path, char ch, int ms)
{
    double deadline = ut_now() + ms / 1000.0;
    struct sbuf *b = sbuf_new(512);
    bool ok = false;
    while (!ok && ut_now() < deadline) {
        ok = ut_load(path, b) == 0 && sbuf_len(b) > 0 && sbuf_str(b)[sbuf_len(b) - 1] == ch;
        if (!ok)
            ut_sleep_ms(20);
    }
    sbuf_free(b);
    return ok;
}

static void test_trigger(void)
{
    char out[400], path[400];
    snprintf(out, sizeof(out), "%s/trigger.out", qdir);

    /* Socket triggers; max_use=2 ends it after two. */
    int st;
    const char *args[] = { "-n", "pickup", "-t", "unix", "-o", "max_use=2", NULL };
    pid_t pid = spawn_on("trig", "testd-trigger", &st, args);
    snprintf(path, sizeof(path), "%s/trig", tmp);
    EXPECT_EQ_INT(sock_trigger(path, 'W'), 0);
    EXPECT_TRUE(file_becomes(out, "W", 2000));
    EXPECT_TRUE(status_is(st, pid, 0));
    EXPECT_TRUE(status_is(st, pid, 1));
    EXPECT_EQ_INT(sock_trigger(path, 'I'), 0);
    EXPECT_TRUE(file_becomes(out, "WI", 2000));
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    close(st);

    /* A FIFO, opened read-write as master does: several bytes, then
     * SIGTERM ends it cleanly. */
    unlink(out);
    snprintf(path, sizeof(path), "%s/fifo", tmp);
    EXPECT_EQ_INT(mkfifo(path, 0622), 0);
    int f = open(path, O_RDWR | O_NONBLOCK);
    const char *fargs[] = { "-n", "qmgr", "-t", "fifo", NULL };
    pid = spawn("testd-trigger", f, &st, fargs);
    close(f);
    EXPECT_TRUE(status_is(st, pid, 1));
    EXPECT_EQ_INT(sock_trigger(path, 'D'), 0);
    EXPECT_TRUE(file_becomes(out, "D", 2000));
    EXPECT_EQ_INT(sock_trigger(path, 'A'), 0);
    EXPECT_EQ_INT(sock_trigger(path, 'F'), 0);
    EXPECT_TRUE(file_becomes(out, "DAF", 2000));
    kill(pid, SIGTERM);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    close(st);
}

/* A trigger client that keeps its connection (sock_trigger_held) is read
 * from again; at most 256 such are kept, a client beyond is read once and
 * let go, and a kept one that hangs up makes room again. */
static void test_trigger_held(void)
{
    char out[400];
    snprintf(out, sizeof(out), "%s/trigger.out", qdir);
    unlink(out);
    int st;
    const char *args[] = { "-n", "qmgr", "-t", "unix", "-o", "max_use=1000", NULL };
    pid_t pid = spawn_on("held", "testd-trigger", &st, args);
    enum { HELD = 256 };
    int c[HELD + 2];
    c[0] = connect_to("held");
    EXPECT_EQ_INT(write(c[0], "A", 1), 1);
    EXPECT_TRUE(file_becomes(out, "A", 2000));
    EXPECT_EQ_INT(write(c[0], "B", 1), 1);          /* same connection */
    EXPECT_TRUE(file_becomes(out, "AB", 2000));
    for (int i = 1; i < HELD; i++) {
        c[i] = connect_to("held");
        EXPECT_TRUE(c[i] >= 0 && write(c[i], "x", 1) == 1);
    }
    c[HELD] = connect_to("held");                   /* one too many */
    EXPECT_EQ_INT(write(c[HELD], "y", 1), 1);
    struct pollfd pfd = { .fd = c[HELD], .events = POLLIN };
    char ch;
    EXPECT_TRUE(poll(&pfd, 1, 3000) == 1 && read(c[HELD], &ch, 1) == 0);    /* let go */
    pfd.fd = c[0];
    EXPECT_EQ_INT(poll(&pfd, 1, 200), 0);           /* the first is still kept */
    close(c[1]);                                    /* room for one again */
    EXPECT_EQ_INT(write(c[0], "C", 1), 1);          /* read after c[1]'s hang-up */
    EXPECT_TRUE(file_ends_with(out, 'C', 2000));
    c[HELD + 1] = connect_to("held");
    EXPECT_EQ_INT(write(c[HELD + 1], "z", 1), 1);
    pfd.fd = c[HELD + 1];
    EXPECT_EQ_INT(poll(&pfd, 1, 300), 0);           /* kept, not let go */
    EXPECT_EQ_INT(write(c[0], "D", 1), 1);
    EXPECT_TRUE(file_ends_with(out, 'D', 2000));
    struct sbuf *b = sbuf_new(512);
    EXPECT_TRUE(ut_load(out, b) == 0 && sbuf_len(b) == HELD + 5);  /* every byte arrived */
    sbuf_free(b);
    for (int i = 0; i < HELD + 2; i++)
        if (i != 1)
            close(c[i]);
    kill(pid, SIGTERM);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    close(st);
}

/* Without a status pipe on fd 3 the skeleton refuses to run. */
static void test_no_status_pipe(void)
{
    int l = make_listener("nostatus");
    const char *args[] = { "-n", "lonely", "-t", "unix", NULL };
    pid_t pid = spawn("testd-single", l, NULL, args);
    close(l);
    int status = ut_reap(pid, 3);
    EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
    char want[200];
    snprintf(want, sizeof(want), "testd-single[%ld]: fatal: no status pipe on fd 3", (long)pid);
    EXPECT_TRUE(log_wait(want, 1000));

    /* A bad option is fatal too. */
    l = make_listener("badopt");
    int st;
    const char *bad[] = { "-n", "x", "-Q", NULL };
    pid = spawn("testd-single", l, &st, bad);
    close(l);
    status = ut_reap(pid, 3);
    EXPECT_TRUE(status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 1);
    close(st);
}

static void write_main_cf(void)
{
    char path[400];
    snprintf(path, sizeof(path), "%s/etc", tmp);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/etc/main.cf", tmp);
    struct sbuf *b = sbuf_new(256);
    sbuf_printf(b,
                "queue_directory = %s\n"
                "mail_owner = postfix\n"
                "maillog_file = %s/maillog\n"
                "myhostname = test.example\n"
                "max_idle = 100s\n"
                "max_use = 100\n"
                "ipc_timeout = 5s\n",
                qdir, tmp);
    ut_save(path, sbuf_str(b), sbuf_len(b));
    snprintf(path, sizeof(path), "%s/etc", tmp);
    setenv("MAIL_CONFIG", path, 1);
    sbuf_free(b);
}

int main(int argc, char **argv)
{
    if (argc > 1 && strncmp(argv[1], "testd-", 6) == 0)
        return testd_main(argc - 1, argv + 1);
    if (getenv("SERVER_TEST_DAEMON"))
        _exit(99);      /* a daemon must never run the tests (no recursion) */

    harness_init();
    if (geteuid() != 0) {
        printf("# skip: server_test needs root (privilege drop)\n");
        return 77;
    }
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
    if (getpwnam("postfix") == NULL)
        (void)!system("useradd -r -M -d /nonexistent -s /usr/sbin/nologin postfix >/dev/null 2>&1");
    tmp = ut_tmpdir();
    snprintf(qdir, sizeof(qdir), "%s/queue", tmp);
    mkdir(qdir, 0755);
    char path[400];
    snprintf(path, sizeof(path), "%s/public", qdir);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/public/postlog", qdir);
    logsock = sock_unix_dgram_listen(path, 0666);
    logbuf = sbuf_new(1024);
    write_main_cf();

    test_single();
    test_multi_unpriv();
    test_multi_max_use();
    test_trigger();
    test_trigger_held();
    test_no_status_pipe();

    close(logsock);
    sbuf_free(logbuf);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
