/*
 * stream_read_ready_test.c - stream_read_ready(): buffer what has arrived
 *                            without waiting
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: over a non-blocking socketpair: nothing there gives 0 at once;
 *        bytes there are buffered (stream_pending) and then read by the
 *        normal calls; a closed peer gives STREAM_E_EOF, and that sticks.
 *        This is how the daemon skeleton tells a kept client's next request
 *        from its hang-up (server_offer_next_session()).
 */
#include "stream.h"
#include "harness.h"
#include "sbuf.h"
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    harness_init();
    int sp[2];
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sp), 0);
    struct stream *s = stream_open_nonblock(sp[0]);
    struct sbuf *line = sbuf_new(64);

    /* Nothing sent yet: no wait, nothing buffered. */
    EXPECT_EQ_INT((int)stream_read_ready(s), 0);
    EXPECT_EQ_INT((int)stream_pending(s), 0);

    /* Two lines sent: both buffered by one call, then read as usual. */
    EXPECT_EQ_INT((int)write(sp[1], "one\ntwo\n", 8), 8);
    EXPECT_EQ_INT((int)stream_read_ready(s), 8);
    EXPECT_EQ_INT((int)stream_pending(s), 8);
    EXPECT_EQ_INT((int)stream_getline(s, line, 100, NULL), 3);
    EXPECT_EQ_STR(sbuf_str(line), "one");

    /* More arrives behind a line not yet read: appended after it. */
    EXPECT_EQ_INT((int)write(sp[1], "three\n", 6), 6);
    EXPECT_EQ_INT((int)stream_read_ready(s), 6);
    EXPECT_EQ_INT((int)stream_getline(s, line, 100, NULL), 3);
    EXPECT_EQ_STR(sbuf_str(line), "two");
    EXPECT_EQ_INT((int)stream_getline(s, line, 100, NULL), 5);
    EXPECT_EQ_STR(sbuf_str(line), "three");

    /* The peer hangs up: EOF, and the stream keeps saying so. */
    close(sp[1]);
    EXPECT_EQ_INT((int)stream_read_ready(s), STREAM_E_EOF);
    EXPECT_EQ_INT(stream_error(s), STREAM_E_EOF);
    EXPECT_EQ_INT((int)stream_read_ready(s), STREAM_E_EOF);

    sbuf_free(line);
    stream_close(s);
    return harness_done();
}
