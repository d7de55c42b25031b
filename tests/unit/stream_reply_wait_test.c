/*
 * stream_reply_wait_test.c - stream_set_reply_wait(): a client that waits
 *                            for the reply before its first read
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: over a socketpair: the reply that comes later is read whole; a
 *        reply already there is read at once; a peer that never answers
 *        gives STREAM_E_TIMEOUT after the stream's time limit (1 s here),
 *        not a hang; a closed peer gives STREAM_E_EOF.
 */
#include "stream.h"
#include "harness.h"
#include "sbuf.h"
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    harness_init();
    int sp[2];
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sp), 0);
    struct stream *s = stream_open(sp[0]);
    stream_set_timeout(s, 1);
    stream_set_reply_wait(s, true);
    struct sbuf *line = sbuf_new(64);

    /* A reply that comes 50 ms after the request. */
    pid_t pid = fork();
    if (pid == 0) {
        char buf[64];
        ssize_t n = read(sp[1], buf, sizeof(buf));
        usleep(50000);
        if (n > 0 && write(sp[1], "250 late\n", 9) != 9)
            _exit(1);
        _exit(0);
    }
    EXPECT_EQ_INT(stream_puts(s, "REQUEST\n"), 0);
    EXPECT_EQ_INT(stream_flush(s), 0);
    EXPECT_EQ_INT(stream_getline(s, line, 100, NULL), 8);
    EXPECT_EQ_STR(sbuf_str(line), "250 late");
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_EQ_INT(status, 0);

    /* A reply that is there before the read. */
    EXPECT_EQ_INT(stream_puts(s, "AGAIN\n"), 0);
    EXPECT_EQ_INT(stream_flush(s), 0);
    EXPECT_EQ_INT(write(sp[1], "250 early\n", 10), 10);
    EXPECT_EQ_INT(stream_getline(s, line, 100, NULL), 9);
    EXPECT_EQ_STR(sbuf_str(line), "250 early");

    /* No reply: the time limit, not a hang. */
    EXPECT_EQ_INT(stream_puts(s, "SILENCE\n"), 0);
    EXPECT_EQ_INT(stream_flush(s), 0);
    double t0 = now_s();
    EXPECT_EQ_INT(stream_getline(s, line, 100, NULL), STREAM_E_TIMEOUT);
    double waited = now_s() - t0;
    EXPECT_TRUE(waited >= 0.9 && waited < 5.0);
    stream_close(s);

    /* The peer closes instead of answering. */
    int sq[2];
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sq), 0);
    s = stream_open(sq[0]);
    stream_set_timeout(s, 5);
    stream_set_reply_wait(s, true);
    EXPECT_EQ_INT(stream_puts(s, "BYE\n"), 0);
    EXPECT_EQ_INT(stream_flush(s), 0);
    char bye[8];
    EXPECT_EQ_INT(read(sq[1], bye, sizeof(bye)), 4);   /* unread data would make it a reset */
    close(sq[1]);
    EXPECT_EQ_INT(stream_getline(s, line, 100, NULL), STREAM_E_EOF);
    stream_close(s);
    close(sp[1]);
    sbuf_free(line);
    return harness_done();
}
