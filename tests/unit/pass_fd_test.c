/*
 * pass_fd_test.c - handing a connection to a "pass" service (pass_fd.c),
 *                  both ends real: pass_fd_send() in the parent,
 *                  pass_fd_receive() in a forked child on a UNIX listener;
 *                  pass_fd_reply() on collected answers
 *
 * Used by: make unit.
 * Notes: the "client connection" is the write end of a pipe; the receiver
 *        writes through the descriptor it got, so the test sees that the
 *        very same connection arrived, and it saves the attributes it read.
 */
#include "harness.h"
#include "attr.h"
#include "pass_fd.h"
#include "sock.h"
#include "ut_ipc.h"

static char *tmp;

static void receiver(int conn, int index, void *ctx)
{
    (void)index;
    (void)ctx;
    struct attr_list *a = attr_list_new();
    int fd = pass_fd_receive(conn, a, 5);
    if (fd >= 0) {
        const char *msg = attr_get_def(a, PASS_ATTR_CLIENT_ADDRESS, "none");
        ut_write_all(fd, msg, strlen(msg));
        close(fd);
    }
    attr_list_free(a);
}

/* A receiver that closes without answering: the sender must say so. */
static void mute(int conn, int index, void *ctx)
{
    (void)index;
    (void)ctx;
    char byte;
    int fd = -1;
    sock_recv_fd(conn, &byte, &fd, 5);
    if (fd >= 0)
        close(fd);
    close(conn);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    tmp = ut_tmpdir();
    EXPECT_EQ_INT(chdir(tmp), 0);
    int lfd = sock_unix_listen("pass-sock", 10, 0600);
    EXPECT_TRUE(lfd >= 0);
    pid_t pid = ut_serve(lfd, 1, receiver, NULL);

    int pp[2];
    EXPECT_EQ_INT(pipe(pp), 0);
    struct attr_list *a = attr_list_new();
    attr_add(a, PASS_ATTR_CLIENT_ADDRESS, "192.0.2.7");
    attr_add(a, PASS_ATTR_CLIENT_PORT, "4711");
    EXPECT_EQ_INT(pass_fd_send("pass-sock", pp[1], a, 5), 0);
    close(pp[1]);
    char buf[64] = "";
    ssize_t n = read(pp[0], buf, sizeof(buf) - 1);
    EXPECT_EQ_INT((int)n, 9);
    EXPECT_EQ_STR(buf, "192.0.2.7");
    close(pp[0]);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));

    /* No answer from the receiver: -1 for the sender. */
    pid = ut_serve(lfd, 1, mute, NULL);
    EXPECT_EQ_INT(pipe(pp), 0);
    EXPECT_EQ_INT(pass_fd_send("pass-sock", pp[1], a, 5), -1);
    close(pp[0]);
    close(pp[1]);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    close(lfd);

    /* No service at all. */
    EXPECT_EQ_INT(pipe(pp), 0);
    EXPECT_EQ_INT(pass_fd_send("no-such-sock", pp[1], a, 1), -1);
    close(pp[0]);
    close(pp[1]);

    /* A receiver given a connection without a descriptor refuses it. */
    int sp[2];
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    EXPECT_EQ_INT(sock_send_fd(sp[0], -1, PASS_FD_BYTE, 2), 0);
    EXPECT_EQ_INT(pass_fd_receive(sp[1], a, 2), -1);
    close(sp[0]);

    /* The answer as an event loop collects it. */
    EXPECT_EQ_INT(pass_fd_reply("status=0\n\n", 10), 1);
    EXPECT_EQ_INT(pass_fd_reply("status=0\n", 9), 0);
    EXPECT_EQ_INT(pass_fd_reply("status=1\n\n", 10), -1);
    EXPECT_EQ_INT(pass_fd_reply("other=0\n\n", 9), -1);

    attr_list_free(a);
    EXPECT_EQ_INT(chdir("/"), 0);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
