/*
 * ut_ipc.h - small helpers for unit tests that talk to real sockets
 *
 * Used by: the *_test.c programs of the IPC clients, sock, mail_log,
 *          queue_layout and the server skeleton.
 * Interface: ut_tmpdir(), ut_rmtree(), ut_serve(), ut_reap(), ut_read_until(),
 *            ut_read_records(), ut_write_all(), ut_save(), ut_load(),
 *            ut_recv_dgram().
 * Notes: header-only (static inline) because the unit-test rule links one
 *        *_test.c with the harness and the library, nothing else. A "fake
 *        server" is a forked child that accepts N connections on a socket the
 *        parent created before the fork (so there is no start-up race), runs
 *        a callback per connection, and _exit()s; what it received is saved to
 *        files for the parent to compare byte for byte. These fakes stand in
 *        for the daemons on the other side, never for the code under test.
 */
#ifndef POSTERN_UT_IPC_H
#define POSTERN_UT_IPC_H
#include "sys_compat.h"
#include "alloc.h"
#include "sbuf.h"
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

/* Makes a fresh 0755 directory under /tmp. Returns new (xfree). */
static inline char *ut_tmpdir(void)
{
    char tmpl[] = "/tmp/postern-unit.XXXXXX";
    if (mkdtemp(tmpl) == NULL) {
        perror("mkdtemp");
        exit(2);
    }
    chmod(tmpl, 0755);
    return xstrdup(tmpl);
}

static inline int ut_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    if (flag == FTW_DP || flag == FTW_D)
        return rmdir(path) < 0 ? 0 : 0;
    unlink(path);
    return 0;
}

/* Removes dir and everything below it (best effort). */
static inline void ut_rmtree(const char *dir)
{
    if (dir && *dir)
        nftw(dir, ut_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline double ut_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static inline void ut_sleep_ms(long ms)
{
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static inline int ut_write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

static inline int ut_write_str(int fd, const char *s)
{
    return ut_write_all(fd, s, strlen(s));
}

/* Waits up to ms for fd to become readable: 1 ready, 0 timeout, -1 error. */
static inline int ut_wait_readable(int fd, int ms)
{
    struct pollfd p = { .fd = fd, .events = POLLIN };
    int n;
    do
        n = poll(&p, 1, ms);
    while (n < 0 && errno == EINTR);
    return n;
}

/* Appends raw bytes from fd to out until out ends with term (NULL: until
 * EOF), EOF, or secs pass. Returns 1 when term was seen, 0 on EOF, -1 on
 * timeout or error. */
static inline int ut_read_until(int fd, struct sbuf *out, const char *term, int secs)
{
    double deadline = ut_now() + secs;
    size_t tl = term ? strlen(term) : 0;
    for (;;) {
        if (term && sbuf_len(out) >= tl && memcmp(sbuf_str(out) + sbuf_len(out) - tl, term, tl) == 0)
            return 1;
        int left = (int)((deadline - ut_now()) * 1000);
        if (left <= 0 || ut_wait_readable(fd, left) <= 0)
            return -1;
        char c;
        ssize_t n = read(fd, &c, 1);  /* one byte: never read past the terminator */
        if (n == 0)
            return 0;
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            return errno == ECONNRESET ? 0 : -1;
        }
        sbuf_addch(out, c);
    }
}

/* Reads raw queue-file records (type, 7-bit varint length, data) until an
 * 'E' record, EOF, or secs pass; appends every byte to out. Returns 1 after
 * E, 0 on EOF, -1 on timeout or a malformed length. */
static inline int ut_read_records(int fd, struct sbuf *out, int secs)
{
    double deadline = ut_now() + secs;
    for (;;) {
        unsigned char c;
        int type = -1;
        size_t len = 0, need = 0;
        int shift = 0, phase = 0; /* 0 type, 1 length, 2 data */
        for (;;) {
            if (phase == 2 && need == 0)
                break;
            int left = (int)((deadline - ut_now()) * 1000);
            if (left <= 0 || ut_wait_readable(fd, left) <= 0)
                return -1;
            ssize_t n = read(fd, &c, 1);
            if (n == 0)
                return 0;
            if (n < 0) {
                if (errno == EINTR || errno == EAGAIN)
                    continue;
                return 0;
            }
            sbuf_addch(out, c);
            if (phase == 0) {
                type = c;
                phase = 1;
            } else if (phase == 1) {
                len |= (size_t)(c & 0x7f) << shift;
                shift += 7;
                if (shift > 28)
                    return -1;
                if (!(c & 0x80)) {
                    phase = 2;
                    need = len;
                }
            } else {
                need--;
            }
        }
        if (type == 'E')
            return 1;
    }
}

/* Writes data to path (0644), replacing it. */
static inline void ut_save(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd >= 0) {
        (void)ut_write_all(fd, data, len);
        close(fd);
    }
}

/* Reads path into out (replacing it). Returns 0, or -1 when it is missing. */
static inline int ut_load(const char *path, struct sbuf *out)
{
    sbuf_reset(out);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    char buf[4096];
    ssize_t n;
    while ((n = read(fd, buf, sizeof(buf))) > 0)
        sbuf_append(out, buf, (size_t)n);
    close(fd);
    return 0;
}

typedef void (*ut_conn_fn)(int fd, int index, void *ctx);

/* Forks a child that accepts nconn connections on lfd, one at a time, and
 * runs fn on each (fd is closed after fn returns). The parent's copy of lfd
 * is left open; close it when no more connections should be queued.
 * Returns the child's pid. */
static inline pid_t ut_serve(int lfd, int nconn, ut_conn_fn fn, void *ctx)
{
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        exit(2);
    }
    if (pid > 0)
        return pid;
    alarm(20);  /* a stuck fake server must not outlive the test */
    for (int i = 0; i < nconn; i++) {
        int fd = accept(lfd, NULL, NULL);
        if (fd < 0) {
            if (errno == EINTR) {
                i--;
                continue;
            }
            _exit(3);
        }
        fn(fd, i, ctx);
        close(fd);
    }
    _exit(0);
}

/* Waits up to secs for pid; kills it when it overstays. Returns its wait
 * status, or -1 when it had to be killed. */
static inline int ut_reap(pid_t pid, int secs)
{
    double deadline = ut_now() + secs;
    int status;
    for (;;) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid)
            return status;
        if (r < 0)
            return -1;
        if (ut_now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return -1;
        }
        ut_sleep_ms(10);
    }
}

/* True when the child exited normally with code 0. */
static inline bool ut_exited_ok(int status)
{
    return status != -1 && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Receives one datagram into out (replacing it) within ms. Returns its
 * length or -1. */
static inline ssize_t ut_recv_dgram(int fd, struct sbuf *out, int ms)
{
    char buf[8192];
    sbuf_reset(out);
    if (ut_wait_readable(fd, ms) <= 0)
        return -1;
    ssize_t n = recv(fd, buf, sizeof(buf), 0);
    if (n > 0)
        sbuf_append(out, buf, (size_t)n);
    return n;
}

/* Listens at DIR/CLASS/SERVICE (creating CLASS/) for a fake server.
 * Returns the listening fd; exits the test when that fails. */
static inline int ut_listen_service(const char *dir, const char *class_, const char *service)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, class_);
    mkdir(path, 0755);
    snprintf(path, sizeof(path), "%s/%s/%s", dir, class_, service);
    unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    if (fd < 0 || strlen(path) >= sizeof(sun.sun_path)) {
        perror("socket");
        exit(2);
    }
    memcpy(sun.sun_path, path, strlen(path) + 1);
    if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(fd, 16) < 0) {
        perror(path);
        exit(2);
    }
    return fd;
}

#endif
