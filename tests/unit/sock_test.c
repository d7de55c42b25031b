/*
 * sock_test.c - UNIX-domain and TCP socket helpers on real sockets
 *
 * Used by: make unit.
 * Notes: everything lives in a temporary directory or on 127.0.0.1 / ::1
 *        with kernel-chosen ports. The IPv6 cases are skipped (and say so)
 *        when ::1 cannot be bound.
 */
#include "harness.h"
#include "sock.h"
#include "ut_ipc.h"
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/un.h>

static char *tmp;

static char *tpath(const char *name)
{
    static char buf[256];
    snprintf(buf, sizeof(buf), "%s/%s", tmp, name);
    return buf;
}

static bool is_nonblocking(int fd)
{
    return (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0;
}

static void test_unix_stream(void)
{
    char path[256];
    strlcpy(path, tpath("stream"), sizeof(path));
    int l = sock_unix_listen(path, 8, 0622);
    EXPECT_TRUE(l >= 0);
    struct stat st;
    EXPECT_TRUE(stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
    EXPECT_EQ_INT(st.st_mode & 0777, 0622);
    EXPECT_TRUE(fcntl(l, F_GETFD) & FD_CLOEXEC);

    int c = sock_unix_connect(path, 2);
    EXPECT_TRUE(c >= 0);
    EXPECT_TRUE(!is_nonblocking(c));    /* contract: a blocking fd */
    int a = accept(l, NULL, NULL);
    EXPECT_TRUE(a >= 0);
    EXPECT_EQ_INT(write(c, "ping", 4), 4);
    char buf[8] = "";
    EXPECT_EQ_INT(read(a, buf, sizeof(buf)), 4);
    EXPECT_TRUE(memcmp(buf, "ping", 4) == 0);

    /* Address formatting for UNIX sockets: "unix", port 0. */
    char addr[64] = "x";
    int port = -1;
    EXPECT_EQ_INT(sock_peer_addr(a, addr, sizeof(addr), &port), 0);
    EXPECT_EQ_STR(addr, "unix");
    EXPECT_EQ_INT(port, 0);
    port = -1;
    EXPECT_EQ_INT(sock_local_addr(c, addr, sizeof(addr), &port), 0);
    EXPECT_EQ_STR(addr, "unix");
    EXPECT_EQ_INT(port, 0);

    /* sock_set_nonblock toggles O_NONBLOCK both ways. */
    EXPECT_EQ_INT(sock_set_nonblock(c, true), 0);
    EXPECT_TRUE(is_nonblocking(c));
    EXPECT_EQ_INT(sock_set_nonblock(c, false), 0);
    EXPECT_TRUE(!is_nonblocking(c));
    EXPECT_EQ_INT(sock_set_nonblock(-1, true), -1);
    close(a);
    close(c);
    close(l);

    /* A stale socket file (listener gone) refuses, and a new listener may
     * take the same path over. */
    errno = 0;
    EXPECT_EQ_INT(sock_unix_connect(path, 2), -1);
    EXPECT_EQ_INT(errno, ECONNREFUSED);
    l = sock_unix_listen(path, 8, 0666);
    EXPECT_TRUE(l >= 0);
    c = sock_unix_connect(path, 2);
    EXPECT_TRUE(c >= 0);
    close(c);

    /* A full backlog makes the client wait at most its timeout, then fail
     * with ETIMEDOUT (never hand back an unconnected descriptor). */
    close(l);
    l = sock_unix_listen(path, 0, 0666);
    int held[4];
    int nheld = 0, r = 0;
    while (nheld < 4 && (r = sock_unix_connect(path, 1)) >= 0)
        held[nheld++] = r;
    EXPECT_TRUE(nheld >= 1);
    EXPECT_EQ_INT(r, -1);
    EXPECT_EQ_INT(errno, ETIMEDOUT);
    double t0 = ut_now();
    errno = 0;
    r = sock_unix_connect(path, 1);
    double took = ut_now() - t0;
    EXPECT_EQ_INT(r, -1);
    EXPECT_EQ_INT(errno, ETIMEDOUT);
    EXPECT_TRUE(took >= 0.8 && took < 3.0);
    /* Room in the backlog again: the next connect succeeds. */
    int acc = accept(l, NULL, NULL);
    EXPECT_TRUE(acc >= 0);
    r = sock_unix_connect(path, 1);
    EXPECT_TRUE(r >= 0);
    if (r >= 0) {
        EXPECT_EQ_INT(write(r, "x", 1), 1);
        close(r);
    }
    close(acc);
    for (int i = 0; i < nheld; i++)
        close(held[i]);
    close(l);

    /* Missing path, over-long path. */
    errno = 0;
    EXPECT_EQ_INT(sock_unix_connect(tpath("missing"), 1), -1);
    EXPECT_EQ_INT(errno, ENOENT);
    char longp[300];
    memset(longp, 'a', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = 0;
    errno = 0;
    EXPECT_EQ_INT(sock_unix_connect(longp, 1), -1);
    EXPECT_EQ_INT(errno, ENAMETOOLONG);
    EXPECT_EQ_INT(sock_unix_listen(longp, 1, 0666), -1);
    EXPECT_EQ_INT(errno, ENAMETOOLONG);
    /* A directory that does not exist: bind fails, errno kept. */
    errno = 0;
    EXPECT_EQ_INT(sock_unix_listen(tpath("nodir/sock"), 1, 0666), -1);
    EXPECT_EQ_INT(errno, ENOENT);
}

static void test_unix_dgram(void)
{
    char path[256];
    strlcpy(path, tpath("dgram"), sizeof(path));
    int d = sock_unix_dgram_listen(path, 0620);
    EXPECT_TRUE(d >= 0);
    struct stat st;
    EXPECT_TRUE(stat(path, &st) == 0 && S_ISSOCK(st.st_mode) && (st.st_mode & 0777) == 0620);
    int type = 0;
    socklen_t tl = sizeof(type);
    EXPECT_TRUE(getsockopt(d, SOL_SOCKET, SO_TYPE, &type, &tl) == 0 && type == SOCK_DGRAM);

    struct sockaddr_un sun = { .sun_family = AF_UNIX };
    strlcpy(sun.sun_path, path, sizeof(sun.sun_path));
    int s = socket(AF_UNIX, SOCK_DGRAM, 0);
    EXPECT_EQ_INT(sendto(s, "one", 3, 0, (struct sockaddr *)&sun, sizeof(sun)), 3);
    EXPECT_EQ_INT(sendto(s, "two!", 4, 0, (struct sockaddr *)&sun, sizeof(sun)), 4);
    struct sbuf *b = sbuf_new(16);
    EXPECT_EQ_INT(ut_recv_dgram(d, b, 1000), 3);
    EXPECT_EQ_STR(sbuf_str(b), "one");
    EXPECT_EQ_INT(ut_recv_dgram(d, b, 1000), 4);    /* message boundaries kept */
    EXPECT_EQ_STR(sbuf_str(b), "two!");
    close(s);
    close(d);
    /* Re-binding over the old socket file works (stale file removed). */
    d = sock_unix_dgram_listen(path, 0666);
    EXPECT_TRUE(d >= 0);
    close(d);
    sbuf_free(b);
}

static void test_inet(const char *host, const char *expect_addr)
{
    int l = sock_inet_listen(host, "0", 8, 0);
    if (l < 0 && strchr(host, ':')) {
        printf("# skip: cannot listen on %s: %s\n", host, strerror(errno));
        return;
    }
    EXPECT_TRUE(l >= 0);
    if (l < 0)
        return;
    char addr[64] = "";
    int lport = 0;
    EXPECT_EQ_INT(sock_local_addr(l, addr, sizeof(addr), &lport), 0);
    EXPECT_EQ_STR(addr, expect_addr);
    EXPECT_TRUE(lport > 0 && lport < 65536);

    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", lport);
    int c = sock_inet_connect(host, portstr, 2);
    EXPECT_TRUE(c >= 0);
    EXPECT_TRUE(!is_nonblocking(c));
    int nodelay = 0;
    socklen_t nl = sizeof(nodelay);
    EXPECT_TRUE(getsockopt(c, IPPROTO_TCP, TCP_NODELAY, &nodelay, &nl) == 0 && nodelay);
    int a = accept(l, NULL, NULL);
    EXPECT_TRUE(a >= 0);

    /* Both ends agree on who is who. */
    int cport = 0, pport = 0, p2 = 0;
    EXPECT_EQ_INT(sock_local_addr(c, addr, sizeof(addr), &cport), 0);
    EXPECT_EQ_STR(addr, expect_addr);
    EXPECT_EQ_INT(sock_peer_addr(a, addr, sizeof(addr), &pport), 0);
    EXPECT_EQ_STR(addr, expect_addr);
    EXPECT_EQ_INT(pport, cport);
    EXPECT_EQ_INT(sock_peer_addr(c, addr, sizeof(addr), &p2), 0);
    EXPECT_EQ_STR(addr, expect_addr);
    EXPECT_EQ_INT(p2, lport);

    EXPECT_EQ_INT(write(c, "hello", 5), 5);
    char buf[8] = "";
    EXPECT_EQ_INT(read(a, buf, sizeof(buf)), 5);
    close(a);
    close(c);
    close(l);

    /* The port is free now: connecting is refused. */
    errno = 0;
    EXPECT_EQ_INT(sock_inet_connect(host, portstr, 2), -1);
    EXPECT_EQ_INT(errno, ECONNREFUSED);
}

static void test_inet_errors(void)
{
    /* A listening socket has no peer. */
    int l = sock_inet_listen("127.0.0.1", "0", 1, 0);
    char addr[64];
    int port;
    EXPECT_EQ_INT(sock_peer_addr(l, addr, sizeof(addr), &port), -1);
    /* The same port twice: the second bind fails. */
    sock_local_addr(l, addr, sizeof(addr), &port);
    char portstr[16];
    snprintf(portstr, sizeof(portstr), "%d", port);
    EXPECT_EQ_INT(sock_inet_listen("127.0.0.1", portstr, 1, 0), -1);
    close(l);
    /* A port that is not a number or service name. */
    EXPECT_EQ_INT(sock_inet_listen("127.0.0.1", "no-such-service-xyz", 1, 0), -1);
    EXPECT_EQ_INT(sock_inet_connect("127.0.0.1", "no-such-service-xyz", 1), -1);
    EXPECT_EQ_INT(sock_local_addr(-1, addr, sizeof(addr), &port), -1);
}

static int sockopt_int(int fd, int opt)
{
    int v = -1;
    socklen_t n = sizeof(v);
    return getsockopt(fd, SOL_SOCKET, opt, &v, &n) == 0 ? v : -1;
}

/* tcp_windowsize: both buffers are set (Linux reports twice the size
 * asked for, and at least its minimum); a connection accepted from a
 * listener made with a size has the listener's buffers, one made without
 * has the system's (larger) ones. */
static void test_windowsize(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_TRUE(fd >= 0);
    int dflt_rcv = sockopt_int(fd, SO_RCVBUF), dflt_snd = sockopt_int(fd, SO_SNDBUF);
    EXPECT_EQ_INT(sock_set_windowsize(fd, 8192), 0);
    EXPECT_EQ_INT(sockopt_int(fd, SO_RCVBUF), 16384);
    EXPECT_EQ_INT(sockopt_int(fd, SO_SNDBUF), 16384);
    /* A tiny size is not refused: the kernel raises it to its minimum. */
    EXPECT_EQ_INT(sock_set_windowsize(fd, 1), 0);
    EXPECT_TRUE(sockopt_int(fd, SO_RCVBUF) > 1 && sockopt_int(fd, SO_RCVBUF) < 16384);
    /* Zero or less is a caller error; a bad descriptor fails. */
    errno = 0;
    EXPECT_EQ_INT(sock_set_windowsize(fd, 0), -1);
    EXPECT_EQ_INT(errno, EINVAL);
    close(fd);
    EXPECT_EQ_INT(sock_set_windowsize(-1, 8192), -1);
    EXPECT_EQ_INT(errno, EBADF);

    int sizes[] = { 8192, 0 };
    for (size_t i = 0; i < 2; i++) {
        int l = sock_inet_listen("127.0.0.1", "0", 4, sizes[i]);
        EXPECT_TRUE(l >= 0);
        char addr[64], portstr[16];
        int port = 0;
        sock_local_addr(l, addr, sizeof(addr), &port);
        snprintf(portstr, sizeof(portstr), "%d", port);
        int c = sock_inet_connect("127.0.0.1", portstr, 2);
        int a = accept(l, NULL, NULL);
        EXPECT_TRUE(c >= 0 && a >= 0);
        if (sizes[i]) {
            EXPECT_EQ_INT(sockopt_int(l, SO_RCVBUF), 16384);
            EXPECT_EQ_INT(sockopt_int(a, SO_RCVBUF), 16384);
            EXPECT_EQ_INT(sockopt_int(a, SO_SNDBUF), 16384);
        } else {
            /* (the system's sizes are not fixed: TCP tunes them) */
            EXPECT_TRUE(sockopt_int(a, SO_RCVBUF) > 16384);
            EXPECT_TRUE(dflt_rcv > 16384 && dflt_snd > 0);
        }
        close(a);
        close(c);
        close(l);
    }
}

/* Accepts one trigger client on l and expects a one-shot: the byte want,
 * then the client's hang-up. */
static void expect_one_shot(int l, const char *want)
{
    int a = accept(l, NULL, NULL);
    struct sbuf *b = sbuf_new(8);
    EXPECT_EQ_INT(ut_read_until(a, b, NULL, 2), 0);     /* EOF after the byte */
    EXPECT_EQ_INT(sbuf_len(b), 1);
    EXPECT_EQ_STR(sbuf_str(b), want);
    sbuf_free(b);
    close(a);
}

static void test_trigger(void)
{
    /* To a stream socket: one byte, then the client hangs up. */
    char path[256];
    strlcpy(path, tpath("trig"), sizeof(path));
    int l = sock_unix_listen(path, 4, 0666);
    EXPECT_EQ_INT(sock_trigger(path, 'W'), 0);
    expect_one_shot(l, "W");
    close(l);
    /* Nobody listening: -1. */
    EXPECT_EQ_INT(sock_trigger(path, 'W'), -1);
    EXPECT_EQ_INT(sock_trigger(tpath("nothing"), 'W'), -1);
    /* The same path, a socket last time (remembered), now a FIFO with a
     * reader: the byte goes to the FIFO. */
    l = sock_unix_listen(path, 4, 0666);
    EXPECT_EQ_INT(sock_trigger(path, 'W'), 0);
    close(l);
    unlink(path);
    EXPECT_EQ_INT(mkfifo(path, 0622), 0);
    int fr = open(path, O_RDONLY | O_NONBLOCK);
    EXPECT_TRUE(fr >= 0);
    EXPECT_EQ_INT(sock_trigger(path, 'X'), 0);
    char one[4] = "";
    EXPECT_EQ_INT(read(fr, one, sizeof(one)), 1);
    EXPECT_EQ_INT(one[0], 'X');
    close(fr);
    unlink(path);
    /* A symlink to a listening socket (a path not remembered): refused. */
    char real[256], link[256];
    strlcpy(real, tpath("trig-real"), sizeof(real));
    strlcpy(link, tpath("trig-link"), sizeof(link));
    l = sock_unix_listen(real, 4, 0666);
    EXPECT_EQ_INT(symlink(real, link), 0);
    EXPECT_EQ_INT(sock_trigger(link, 'W'), -1);
    unlink(link);
    close(l);
    unlink(real);

    /* To a FIFO with a reader. */
    char fifo[256];
    strlcpy(fifo, tpath("fifo"), sizeof(fifo));
    EXPECT_EQ_INT(mkfifo(fifo, 0622), 0);
    /* No reader: a non-blocking open fails at once instead of hanging. */
    double t0 = ut_now();
    EXPECT_EQ_INT(sock_trigger(fifo, 'I'), -1);
    EXPECT_TRUE(ut_now() - t0 < 1.0);
    int r = open(fifo, O_RDONLY | O_NONBLOCK);
    EXPECT_TRUE(r >= 0);
    EXPECT_EQ_INT(sock_trigger(fifo, 'I'), 0);
    EXPECT_EQ_INT(sock_trigger(fifo, 'D'), 0);
    char buf[8] = "";
    EXPECT_EQ_INT(read(r, buf, sizeof(buf)), 2);
    EXPECT_TRUE(memcmp(buf, "ID", 2) == 0);
    close(r);
}

/* sock_trigger_held: one connection for many triggers, a new one when the
 * server has let it go, and a FIFO or unknown path left to sock_trigger. */
static void test_trigger_held(void)
{
    char path[256];
    strlcpy(path, tpath("held"), sizeof(path));
    int l = sock_unix_listen(path, 4, 0666);
    /* The first trigger to a path not yet known as a socket is one-shot. */
    EXPECT_EQ_INT(sock_trigger_held(path, 'I'), 0);
    expect_one_shot(l, "I");
    /* Known now: the next three travel over one connection that stays open. */
    EXPECT_EQ_INT(sock_trigger_held(path, 'I'), 0);
    EXPECT_EQ_INT(sock_trigger_held(path, 'D'), 0);
    EXPECT_EQ_INT(sock_trigger_held(path, 'W'), 0);
    int a = accept(l, NULL, NULL);
    EXPECT_TRUE(a >= 0);
    char buf[8] = "";
    EXPECT_EQ_INT(read(a, buf, sizeof(buf)), 3);
    EXPECT_TRUE(memcmp(buf, "IDW", 3) == 0);
    EXPECT_TRUE(fcntl(l, F_SETFL, O_NONBLOCK) == 0);
    EXPECT_EQ_INT(accept(l, NULL, NULL), -1);           /* no second connection */
    EXPECT_EQ_INT(errno, EAGAIN);
    /* The server lets it go (a restarted qmgr): the next trigger notices
     * and connects again, and its byte arrives. */
    close(a);
    EXPECT_EQ_INT(sock_trigger_held(path, 'I'), 0);
    struct pollfd pfd = { .fd = l, .events = POLLIN };
    EXPECT_EQ_INT(poll(&pfd, 1, 2000), 1);
    a = accept(l, NULL, NULL);
    EXPECT_TRUE(a >= 0);
    EXPECT_EQ_INT(read(a, buf, sizeof(buf)), 1);
    EXPECT_EQ_INT(buf[0], 'I');
    close(a);
    close(l);
    unlink(path);
    /* Nobody listens any more: -1, and nothing held. */
    EXPECT_EQ_INT(sock_trigger_held(path, 'I'), -1);
    /* A FIFO at a new path gets its byte as from sock_trigger. */
    char fifo[256];
    strlcpy(fifo, tpath("held-fifo"), sizeof(fifo));
    EXPECT_EQ_INT(mkfifo(fifo, 0622), 0);
    int r = open(fifo, O_RDONLY | O_NONBLOCK);
    EXPECT_EQ_INT(sock_trigger_held(fifo, 'I'), 0);
    EXPECT_EQ_INT(sock_trigger_held(fifo, 'D'), 0);
    EXPECT_EQ_INT(read(r, buf, sizeof(buf)), 2);
    EXPECT_TRUE(memcmp(buf, "ID", 2) == 0);
    close(r);
    unlink(fifo);
}

static void test_connect_nb(void)
{
    char path[256];
    strlcpy(path, tpath("nb"), sizeof(path));
    int l = sock_unix_listen(path, 4, 0666);
    int fd = sock_unix_connect_nb(path, 2);
    EXPECT_TRUE(fd >= 0);
    EXPECT_TRUE((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    EXPECT_TRUE((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    int a = accept(l, NULL, NULL);
    EXPECT_EQ_INT(write(fd, "x", 1), 1);
    char c = 0;
    EXPECT_EQ_INT(read(a, &c, 1), 1);
    EXPECT_EQ_INT(c, 'x');
    /* Nothing to read yet: EAGAIN, not a wait. */
    EXPECT_EQ_INT(read(fd, &c, 1), -1);
    EXPECT_EQ_INT(errno, EAGAIN);
    close(a);
    close(fd);
    close(l);
    /* Nobody listening, nothing there. */
    EXPECT_EQ_INT(sock_unix_connect_nb(path, 1), -1);
    EXPECT_EQ_INT(errno, ECONNREFUSED);
    EXPECT_EQ_INT(sock_unix_connect_nb(tpath("nothing"), 1), -1);
    EXPECT_EQ_INT(errno, ENOENT);
}

static void test_addr_unmap(void)
{
    char a[64] = "::FFFF:192.0.2.1", b[64] = "::ffff:c000:201", c[64] = "2001:db8::1";
    EXPECT_TRUE(sock_addr_unmap(a));
    EXPECT_EQ_STR(a, "192.0.2.1");
    EXPECT_TRUE(!sock_addr_unmap(b));   /* hex form: not IPv4 text */
    EXPECT_EQ_STR(b, "::ffff:c000:201");
    EXPECT_TRUE(!sock_addr_unmap(c));
    EXPECT_EQ_STR(c, "2001:db8::1");
}

/* A descriptor passed over a socket pair works on the other side; a
 * byte sent alone arrives without one; end of file is reported. */
static void test_fd_passing(void)
{
    int sp[2], pp[2];
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    EXPECT_EQ_INT(pipe(pp), 0);
    EXPECT_EQ_INT(sock_send_fd(sp[0], pp[1], 'S', 2), 0);
    close(pp[1]);
    char byte = 0;
    int fd = -1;
    EXPECT_EQ_INT(sock_recv_fd(sp[1], &byte, &fd, 2), 0);
    EXPECT_TRUE(byte == 'S');
    EXPECT_TRUE(fd >= 0);
    if (fd >= 0) {
        EXPECT_EQ_INT((int)write(fd, "x", 1), 1);
        close(fd);
        char c = 0;
        EXPECT_EQ_INT((int)read(pp[0], &c, 1), 1);
        EXPECT_TRUE(c == 'x');
    }
    close(pp[0]);
    EXPECT_EQ_INT(sock_send_fd(sp[0], -1, 'N', 2), 0);
    EXPECT_EQ_INT(sock_recv_fd(sp[1], &byte, &fd, 2), 0);
    EXPECT_TRUE(byte == 'N' && fd == -1);
    /* Nothing sent: times out. */
    sock_set_nonblock(sp[1], true);
    EXPECT_EQ_INT(sock_recv_fd(sp[1], &byte, &fd, 1), -1);
    EXPECT_EQ_INT(errno, ETIMEDOUT);
    close(sp[0]);
    EXPECT_EQ_INT(sock_recv_fd(sp[1], &byte, &fd, 1), -1);
    EXPECT_EQ_INT(errno, ECONNRESET);
    close(sp[1]);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    tmp = ut_tmpdir();
    test_unix_stream();
    test_unix_dgram();
    test_inet("127.0.0.1", "127.0.0.1");
    test_inet("::1", "::1");
    test_inet_errors();
    test_windowsize();
    test_trigger();
    test_trigger_held();
    test_connect_nb();
    ut_rmtree(tmp);
    xfree(tmp);
    test_addr_unmap();
    test_fd_passing();
    return harness_done();
}
