/*
 * log_test.c - unit tests for lib/util/log: line format, prefixes, %m,
 *              control characters, and the "logging never blocks" rule
 *
 * Each case binds its own datagram socket in a temp directory, points the
 * logger at it (log_open_syslog() or log_open_maillog()) and reads back
 * what arrived. The full-socket case uses a receiver that never reads and
 * checks that 10000 calls return quickly, that the lost count grows, and
 * that the first line after the receiver drains is the lost-count warning.
 */
#include "harness.h"
#include "log.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>

static char test_dir[64];

/* Binds a datagram socket at test_dir/NAME; returns the fd. */
static int recv_bind(const char *name, int rcvbuf)
{
    struct sockaddr_un sun;
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("socket");
        exit(2);
    }
    if (rcvbuf > 0)
        (void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s/%s", test_dir, name);
    unlink(sun.sun_path);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        perror("bind");
        exit(2);
    }
    return fd;
}

static const char *recv_path(const char *name, char *buf, size_t size)
{
    snprintf(buf, size, "%s/%s", test_dir, name);
    return buf;
}

/* Reads one datagram into buf (NUL-terminated); returns its length or -1 when none waits. */
static ssize_t recv_line(int fd, char *buf, size_t size)
{
    ssize_t n = recv(fd, buf, size - 1, MSG_DONTWAIT);
    buf[n < 0 ? 0 : n] = 0;
    return n;
}

/* Reads and discards everything queued; returns the number of datagrams. */
static long recv_drain(int fd)
{
    char buf[8192];
    long count = 0;
    while (recv_line(fd, buf, sizeof(buf)) >= 0)
        count++;
    return count;
}

/* Reads every waiting datagram and splits it into lines (postlog
 * datagrams may carry several); counts lines containing flood, and
 * reports the position of the first note about lost lines (its count in
 * *note) and of the first line containing last. Positions count lines
 * from 1; 0 when not seen. */
struct line_scan {
    long flood, note, note_pos, last_pos, lines;
};

static struct line_scan recv_scan(int fd, const char *flood, const char *last)
{
    struct line_scan r = { 0, -1, 0, 0, 0 };
    char buf[8192];
    while (recv_line(fd, buf, sizeof(buf)) >= 0) {
        for (char *line = buf, *nl; *line; line = nl + 1) {
            nl = strchr(line, '\n');
            if (nl)
                *nl = 0;
            r.lines++;
            if (strstr(line, flood))
                r.flood++;
            if (!r.note_pos && strstr(line, " log messages were lost")) {
                r.note_pos = r.lines;
                const char *p = strstr(line, "warning: ");
                r.note = p ? strtol(p + 9, NULL, 10) : -1;
            }
            if (!r.last_pos && last && strstr(line, last))
                r.last_pos = r.lines;
            if (!nl)
                break;
        }
    }
    return r;
}

/* True when s starts with a "Mmm dd hh:mm:ss " syslog time stamp (day space-padded). */
static bool stamp_ok(const char *s)
{
    static const char *months = "JanFebMarAprMayJunJulAugSepOctNovDec";
    bool month = false;
    for (int i = 0; i < 12; i++)
        if (strncmp(s, months + 3 * i, 3) == 0)
            month = true;
    if (!month || s[3] != ' ')
        return false;
    if (!(s[4] == ' ' || (s[4] >= '1' && s[4] <= '3')) || s[5] < '0' || s[5] > '9')
        return false;
    const char *pat = " dd:dd:dd ";
    for (int i = 0; pat[i]; i++) {
        char c = s[6 + i];
        if (pat[i] == 'd' ? (c < '0' || c > '9') : c != pat[i])
            return false;
    }
    return true;
}

#define STAMP_LEN 16 /* "Mmm dd hh:mm:ss " */

/* Checks a syslog datagram: "<PRI>stamp tag[pid]: text" with no newline. */
static void expect_syslog(const char *got, int pri, const char *text, int line)
{
    char want_head[32], want_tail[2600];
    snprintf(want_head, sizeof(want_head), "<%d>", pri);
    snprintf(want_tail, sizeof(want_tail), "postfix/logtest[%ld]: %s", (long)getpid(), text);
    size_t hl = strlen(want_head);
    bool ok = strncmp(got, want_head, hl) == 0 && strlen(got) > hl + STAMP_LEN &&
              stamp_ok(got + hl) && strcmp(got + hl + STAMP_LEN, want_tail) == 0;
    char what[3000];
    snprintf(what, sizeof(what), "syslog line \"%.1200s\" is %s<stamp> %.1200s", got, want_head,
             want_tail);
    harness_report(ok, __FILE__, line, what);
}

static void test_syslog_format(void)
{
    char path[128], buf[8192];
    int rfd = recv_bind("syslog", 0);
    log_open_syslog(recv_path("syslog", path, sizeof(path)));

    log_info("hello %d", 42);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    expect_syslog(buf, LOG_MAIL | LOG_INFO, "hello 42", __LINE__);

    log_warn("disk %s", "full");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    expect_syslog(buf, LOG_MAIL | LOG_WARNING, "warning: disk full", __LINE__);

    /* syslog_facility */
    EXPECT_EQ_INT(log_set_facility("local3"), 0);
    log_info("elsewhere");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    expect_syslog(buf, LOG_LOCAL3 | LOG_INFO, "elsewhere", __LINE__);
    EXPECT_EQ_INT(log_set_facility("nonsense"), -1);
    EXPECT_EQ_INT(log_set_facility("mail"), 0);

    /* Debug lines appear only at the matching verbosity. */
    log_debug(1, "quiet");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) < 0);
    log_verbose = 2;
    log_debug(2, "loud");
    log_verbose = 0;
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    expect_syslog(buf, LOG_MAIL | LOG_DEBUG, "loud", __LINE__);

    /* Peer text must not forge lines or terminal escapes. */
    log_info("a\nb\rc\td%ce%cf", 0x1b, 0x7f);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    expect_syslog(buf, LOG_MAIL | LOG_INFO, "a?b?c?d?e?f", __LINE__);
    /* UTF-8 passes through. */
    log_info("caf\xc3\xa9");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    expect_syslog(buf, LOG_MAIL | LOG_INFO, "caf\xc3\xa9", __LINE__);

    /* %m is strerror(errno) at entry, and errno survives the call. */
    errno = ENOENT;
    log_warn("open %s: %m", "/x");
    EXPECT_EQ_INT(errno, ENOENT);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    expect_syslog(buf, LOG_MAIL | LOG_WARNING, "warning: open /x: No such file or directory",
                  __LINE__);

    /* A very long line is cut, not split, and stays one datagram. */
    char big[3000];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    log_info("%s", big);
    ssize_t n = recv_line(rfd, buf, sizeof(buf));
    EXPECT_TRUE(n > 1000 && n < 4096);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) < 0);

    EXPECT_EQ_INT(log_dropped(), 0);
    log_close_syslog();
    close(rfd);
}

/* Runs fn in a child without the harness hook; returns the wait status. */
static int run_child(void (*fn)(void))
{
    fflush(stdout); /* the child's exit() must not repeat our buffered output */
    pid_t pid = fork();
    if (pid == 0) {
        struct rlimit rl = {0, 0};
        setrlimit(RLIMIT_CORE, &rl);
        log_set_fatal_hook(NULL);
        fn();
        _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
}

static bool exit_hook_ran;
static void child_exit_hook(void)
{
    exit_hook_ran = true;
    log_info("exit hook ran");
}
static void child_fatal(void)
{
    log_set_exit_hook(child_exit_hook);
    errno = EACCES;
    log_fatal("cannot open\n%s: %m", "queue");
}
static void child_panic(void)
{
    log_panic("invariant %d broken", 7);
}

/* Fatal and panic lines carry their prefix and priority before the process ends. */
static void test_fatal_panic(void)
{
    char path[128], buf[8192], want[256];
    int rfd = recv_bind("syslog2", 0);
    log_open_syslog(recv_path("syslog2", path, sizeof(path)));

    int st = run_child(child_fatal);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 1);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    /* The child has its own pid: check the parts around it. */
    EXPECT_TRUE(strncmp(buf, "<18>", 4) == 0 && stamp_ok(buf + 4));
    EXPECT_TRUE(strstr(buf, "]: fatal: cannot open?queue: Permission denied") != NULL);
    EXPECT_TRUE(strchr(buf, '\n') == NULL);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    EXPECT_TRUE(strstr(buf, "]: exit hook ran") != NULL);

    st = run_child(child_panic);
    EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    snprintf(want, sizeof(want), "]: panic: invariant 7 broken");
    EXPECT_TRUE(strncmp(buf, "<18>", 4) == 0 && strstr(buf, want) != NULL);

    /* In-process, the harness hook sees the (cleaned) text. */
    EXPECT_FATAL(log_fatal("bad\rvalue %d", 3));
    EXPECT_EQ_STR(harness_fatal_text, "bad?value 3");
    log_close_syslog();
    close(rfd);
}

/* The postlog path: "stamp host tag[pid]: text\n", one line per datagram. */
static void test_maillog_format(void)
{
    char path[128], buf[8192], want[256];
    int rfd = recv_bind("postlog", 0);
    log_close_syslog();
    log_open_maillog(recv_path("postlog", path, sizeof(path)), "mx.example.test");
    unsigned long before = log_dropped();

    log_info("%s: to=<%s>, status=sent", "4XyZ1", "a@example.test");
    ssize_t n = recv_line(rfd, buf, sizeof(buf));
    EXPECT_TRUE(n > STAMP_LEN && stamp_ok(buf));
    snprintf(want, sizeof(want), "mx.example.test postfix/logtest[%ld]: 4XyZ1: to=<a@example.test>, "
                                 "status=sent\n", (long)getpid());
    EXPECT_EQ_STR(buf + (n > STAMP_LEN ? STAMP_LEN : 0), want);

    log_warn("x\ny");
    n = recv_line(rfd, buf, sizeof(buf));
    snprintf(want, sizeof(want), "mx.example.test postfix/logtest[%ld]: warning: x?y\n",
             (long)getpid());
    EXPECT_EQ_STR(buf + (n > STAMP_LEN ? STAMP_LEN : 0), want);

    /* A long line is cut but still ends in exactly one newline. */
    char big[3000];
    memset(big, 'y', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    log_info("%s", big);
    n = recv_line(rfd, buf, sizeof(buf));
    EXPECT_TRUE(n > 1000 && buf[n - 1] == '\n' && strchr(buf, '\n') == buf + n - 1);

    /* No syslog copy was attempted, nothing lost. */
    EXPECT_EQ_INT(log_dropped() - before, 0);
    close(rfd);
}

static double now_sec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Parses "... warning: N log messages were lost ..." into N; -1 if not such a line. */
static long lost_note(const char *line)
{
    const char *p = strstr(line, "warning: ");
    if (!p || !strstr(line, " log messages were lost"))
        return -1;
    return strtol(p + 9, NULL, 10);
}

/* A receiver that never reads must not slow down or block the sender. */
static void test_full_socket(const char *which)
{
    char path[128], buf[8192];
    int rfd = recv_bind("full", 1024);
    bool maillog = strcmp(which, "maillog") == 0;
    recv_path("full", path, sizeof(path));
    if (maillog) {
        log_close_syslog();
        log_open_maillog(path, "mx.example.test");
    } else
        log_open_syslog(path);

    unsigned long before = log_dropped();
    double t0 = now_sec();
    for (int i = 0; i < 10000; i++)
        log_info("flood line %d with some text to fill the buffer", i);
    double took = now_sec() - t0;
    unsigned long lost = log_dropped() - before;
    char what[400];
    /* A sender that waited for the reader would block here for good; the
     * bound only has to tell "returned" from "blocked", not measure speed
     * (a loaded machine may take a second or two). */
    snprintf(what, sizeof(what), "%s: 10000 log calls on a full socket returned (%.3fs, < 20s)",
             which, took);
    harness_report(took < 20.0, __FILE__, __LINE__, what);
    snprintf(what, sizeof(what), "%s: lost %lu of 10000 lines (expect most)", which, lost);
    harness_report(lost >= 9000, __FILE__, __LINE__, what);

    if (maillog) {
        /* Postlog lines that found the socket full were kept back, up to
         * one datagram's worth; they go out before the next line, then the
         * note with the exact count, then the line. */
        struct line_scan r = recv_scan(rfd, "flood line", NULL);
        log_info("after the flood");
        struct line_scan t = recv_scan(rfd, "flood line", "]: after the flood");
        snprintf(what, sizeof(what),
                 "maillog: received %ld + kept %ld + lost %lu == 10000 (in %ld + %ld lines)",
                 r.flood, t.flood, lost, r.lines, t.lines);
        harness_report(r.flood + t.flood + (long)lost == 10000, __FILE__, __LINE__, what);
        snprintf(what, sizeof(what), "maillog: the note after the kept lines reports %ld of %lu lost",
                 t.note, lost);
        harness_report(t.note == (long)lost && t.note_pos == t.flood + 1, __FILE__, __LINE__, what);
        EXPECT_EQ_INT(t.last_pos, t.note_pos + 1);
        EXPECT_EQ_INT(t.lines, t.last_pos);
        log_info("calm again");
        EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
        EXPECT_TRUE(strstr(buf, "]: calm again\n") != NULL);
        EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) < 0);
        EXPECT_EQ_INT(log_dropped() - before, lost);
        log_open_maillog(path, NULL); /* drop the fd before closing the receiver */
        close(rfd);
        unlink(path);
        return;
    }

    /* The receiver catches up: what it got plus what was lost is everything. */
    long got = recv_drain(rfd);
    snprintf(what, sizeof(what), "%s: received %ld + lost %lu == 10000", which, got, lost);
    harness_report(got + (long)lost == 10000, __FILE__, __LINE__, what);

    /* The next line is preceded by one warning with the exact count. */
    log_info("after the flood");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    snprintf(what, sizeof(what), "%s: first line after drain \"%.200s\" reports %lu lost", which,
             buf, lost);
    harness_report(lost_note(buf) == (long)lost, __FILE__, __LINE__, what);
    EXPECT_TRUE(strstr(buf, maillog ? "]: warning: " : ">") != NULL);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    EXPECT_TRUE(strstr(buf, "]: after the flood") != NULL);
    /* Reported once only. */
    log_info("calm again");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    EXPECT_TRUE(strstr(buf, "]: calm again") != NULL);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) < 0);
    EXPECT_EQ_INT(log_dropped() - before, lost);

    if (maillog)
        log_open_maillog(path, NULL); /* drop the fd before closing the receiver */
    else
        log_close_syslog();
    close(rfd);
    unlink(path);
}

/*
 * Postlog lines that find the socket full are kept back, not waited for:
 * none is lost, they go out in order before the next line or when the
 * process waits (log_poll), and a reader that stays full costs only the
 * kept ones, counted, after at most 200 ms plus one wait.
 */
static void test_kept_lines(void)
{
    char path[128], buf[8192], what[300];
    int rfd = recv_bind("kept", 0);
    recv_path("kept", path, sizeof(path));
    log_close_syslog();
    log_open_maillog(path, "mx.example.test");

    /* More lines than the socket's queue holds (net.unix.max_dgram_qlen). */
    unsigned long before = log_dropped();
    for (int i = 0; i < 30; i++)
        log_info("kept %d", i);
    EXPECT_EQ_INT(log_dropped() - before, 0);
    struct line_scan r = recv_scan(rfd, "]: kept ", NULL);
    snprintf(what, sizeof(what), "%ld of 30 lines in the queue, the rest kept back", r.flood);
    harness_report(r.flood > 0 && r.flood < 30, __FILE__, __LINE__, what);
    /* Waiting sends them, in order, and still waits the whole time asked. */
    double t0 = now_sec();
    EXPECT_EQ_INT(log_poll(NULL, 0, 300), 0);
    double took = now_sec() - t0;
    snprintf(what, sizeof(what), "log_poll(300 ms) waited %.3f s", took);
    harness_report(took >= 0.29, __FILE__, __LINE__, what);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    char want[64];
    snprintf(want, sizeof(want), "]: kept %ld\n", r.flood);
    snprintf(what, sizeof(what), "kept lines arrive as one datagram starting with \"%s\"", want);
    harness_report(strstr(buf, want) != NULL && strstr(buf, "]: kept 29\n") != NULL, __FILE__,
                   __LINE__, what);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) < 0);
    EXPECT_EQ_INT(log_dropped() - before, 0);

    /* log_idle(), for waits that are not a poll: while lines are kept and
     * the socket is full it cuts the wait to what is left of 200 ms; once
     * there is room it sends them and leaves the wait alone. */
    for (int i = 0; i < 30; i++)
        log_info("idle %d", i);
    int cut = log_idle(1000);
    snprintf(what, sizeof(what), "log_idle(1000) with kept lines and a full socket: %d ms", cut);
    harness_report(cut >= 1 && cut <= 200, __FILE__, __LINE__, what);
    EXPECT_EQ_INT(log_idle(-1) <= 200, 1);
    r = recv_scan(rfd, "]: idle ", NULL);
    EXPECT_EQ_INT(log_idle(1000), 1000);
    struct line_scan k = recv_scan(rfd, "]: idle ", NULL);
    snprintf(what, sizeof(what), "idle lines: %ld queued + %ld sent by log_idle == 30", r.flood,
             k.flood);
    harness_report(r.flood + k.flood == 30 && k.flood > 0, __FILE__, __LINE__, what);
    EXPECT_EQ_INT(log_dropped() - before, 0);

    /* A reader that does not drain: the kept lines are dropped and counted
     * after 200 ms and one wait for room, and the wait asked for is whole. */
    for (int i = 0; i < 60; i++)
        log_info("stuck %d", i);
    EXPECT_EQ_INT(log_dropped() - before, 0);
    t0 = now_sec();
    EXPECT_EQ_INT(log_poll(NULL, 0, 1000), 0);
    took = now_sec() - t0;
    unsigned long lost = log_dropped() - before;
    snprintf(what, sizeof(what), "log_poll(1000 ms) with a full reader waited %.3f s, lost %lu",
             took, lost);
    harness_report(took >= 0.99 && took < 5 && lost > 0, __FILE__, __LINE__, what);
    r = recv_scan(rfd, "]: stuck ", NULL);
    log_info("drained");
    struct line_scan t = recv_scan(rfd, "]: stuck ", "]: drained");
    snprintf(what, sizeof(what), "stuck lines: %ld queued + %lu lost == 60; note says %ld",
             r.flood + t.flood, lost, t.note);
    harness_report(r.flood + t.flood + (long)lost == 60 && t.note == (long)lost, __FILE__,
                   __LINE__, what);
    EXPECT_EQ_INT(t.last_pos, t.note_pos + 1);
    log_open_maillog(path, NULL);
    close(rfd);
    unlink(path);
}

static void on_usr1(int sig)
{
    (void)sig;
    log_flush_at_signal();
}

/* A process stopped by a signal sends its kept lines from the handler,
 * once: nothing is sent twice afterwards. */
static void test_kept_lines_at_signal(void)
{
    char path[128], buf[8192], what[200];
    int rfd = recv_bind("sig", 0);
    recv_path("sig", path, sizeof(path));
    log_open_maillog(path, "mx.example.test");
    unsigned long before = log_dropped();
    for (int i = 0; i < 30; i++)
        log_info("signal %d", i);
    struct line_scan r = recv_scan(rfd, "]: signal ", NULL);
    harness_report(r.flood > 0 && r.flood < 30, __FILE__, __LINE__, "some lines kept back");
    signal(SIGUSR1, on_usr1);
    raise(SIGUSR1);
    signal(SIGUSR1, SIG_DFL);
    struct line_scan t = recv_scan(rfd, "]: signal ", NULL);
    snprintf(what, sizeof(what), "handler sent the kept lines: %ld + %ld == 30", r.flood, t.flood);
    harness_report(r.flood + t.flood == 30, __FILE__, __LINE__, what);
    EXPECT_EQ_INT(log_poll(NULL, 0, 0), 0);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) < 0);
    EXPECT_EQ_INT(log_dropped() - before, 0);
    log_open_maillog(path, NULL);
    close(rfd);
    unlink(path);
}

/* A socket that does not exist (yet) costs lines but nothing else. */
static void test_missing_socket(void)
{
    char path[128], buf[8192];
    recv_path("later", path, sizeof(path));
    unlink(path);
    log_close_syslog();
    log_open_maillog(path, "mx.example.test");
    unsigned long before = log_dropped();
    double t0 = now_sec();
    for (int i = 0; i < 100; i++)
        log_info("nobody listens %d", i);
    EXPECT_TRUE(now_sec() - t0 < 0.5);
    EXPECT_EQ_INT(log_dropped() - before, 100);

    /* The reader appears (postlogd started): the next line gets through, after the note. */
    int rfd = recv_bind("later", 0);
    log_info("now someone listens");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    EXPECT_EQ_INT(lost_note(buf), 100);
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    EXPECT_TRUE(strstr(buf, "]: now someone listens\n") != NULL);

    /* The reader restarts (new socket at the same path): no line is lost. */
    close(rfd);
    unlink(path);
    rfd = recv_bind("later", 0);
    before = log_dropped();
    log_info("after restart");
    EXPECT_TRUE(recv_line(rfd, buf, sizeof(buf)) > 0);
    EXPECT_TRUE(strstr(buf, "]: after restart\n") != NULL);
    EXPECT_EQ_INT(log_dropped() - before, 0);
    close(rfd);
    unlink(path);

    /* A path too long for a socket address is refused quietly, never overflowed. */
    char longpath[300];
    memset(longpath, 'p', sizeof(longpath) - 1);
    longpath[0] = '/';
    longpath[sizeof(longpath) - 1] = 0;
    log_open_maillog(longpath, NULL);
    before = log_dropped();
    log_info("into the void");
    EXPECT_EQ_INT(log_dropped() - before, 1);
}

/* Lines shown on stderr (commands) are not counted as lost. */
static void test_stderr_not_lost(void)
{
    char path[128];
    recv_path("nothere", path, sizeof(path));
    log_open_maillog(path, NULL);
    int saved = dup(2), null = open("/dev/null", O_WRONLY);
    dup2(null, 2);
    log_set_stderr(true);
    unsigned long before = log_dropped();
    log_info("to the terminal only");
    log_set_stderr(false);
    dup2(saved, 2);
    close(saved);
    close(null);
    EXPECT_EQ_INT(log_dropped() - before, 0);
}

int main(void)
{
    harness_init();
    log_set_stderr(false); /* loss accounting is what we test */
    log_set_tag("postfix/logtest");
    snprintf(test_dir, sizeof(test_dir), "/tmp/log_test.XXXXXX");
    if (!mkdtemp(test_dir)) {
        perror("mkdtemp");
        return 2;
    }
    signal(SIGPIPE, SIG_IGN);
    test_syslog_format();
    test_fatal_panic();
    test_full_socket("syslog");
    /* From here on lines go to the postlog socket only. */
    test_maillog_format();
    test_full_socket("maillog");
    test_kept_lines();
    test_kept_lines_at_signal();
    test_missing_socket();
    test_stderr_not_lost();

    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", test_dir);
    if (system(cmd) != 0)
        printf("warning: could not remove %s\n", test_dir);
    return harness_done();
}
