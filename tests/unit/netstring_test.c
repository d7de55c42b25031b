/*
 * netstring_test.c - unit tests for the netstring reader and writer
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: input goes through a real pipe into a real stream, as a QMQP
 *        client's bytes reach qmqpd.
 */
#include "harness.h"
#include "netstring.h"

/* A stream that reads the bytes of input (written to a pipe, then closed). */
static struct stream *feed(const char *input, size_t len)
{
    int p[2];
    if (pipe(p) < 0)
        return NULL;
    if (write(p[1], input, len) != (ssize_t)len)
        return NULL;
    close(p[1]);
    struct stream *s = stream_open(p[0]);
    stream_set_timeout(s, 5);
    return s;
}

static ssize_t get_one(const char *input, size_t limit, struct sbuf *out)
{
    struct stream *s = feed(input, strlen(input));
    ssize_t r = netstring_get(s, out, limit);
    stream_close(s);
    return r;
}

int main(void)
{
    harness_init();
    struct sbuf *out = sbuf_new(16);

    EXPECT_EQ_INT(get_one("5:hello,", 100, out), 5);
    EXPECT_EQ_STR(sbuf_str(out), "hello");
    EXPECT_EQ_INT(get_one("0:,", 100, out), 0);
    EXPECT_EQ_INT(sbuf_len(out), 0);
    /* The limit is inclusive; one more is refused before reading data. */
    EXPECT_EQ_INT(get_one("5:hello,", 5, out), 5);
    EXPECT_EQ_INT(get_one("6:hello!,", 5, out), NETSTRING_E_SIZE);
    EXPECT_EQ_INT(get_one("99999999999999999999999:", 1000, out), NETSTRING_E_SIZE);
    /* Malformed: no digits, a non-digit, a missing comma, too many digits. */
    EXPECT_EQ_INT(get_one(":x,", 100, out), NETSTRING_E_FORMAT);
    EXPECT_EQ_INT(get_one("1x:a,", 100, out), NETSTRING_E_FORMAT);
    EXPECT_EQ_INT(get_one("-1:a,", 100, out), NETSTRING_E_FORMAT);
    EXPECT_EQ_INT(get_one("3:abcd", 100, out), NETSTRING_E_FORMAT);
    EXPECT_EQ_INT(get_one("01:a,", 100, out), NETSTRING_E_FORMAT);
    EXPECT_EQ_INT(get_one("00:,", 100, out), NETSTRING_E_FORMAT);
    EXPECT_EQ_INT(get_one("10:0123456789,", 100, out), 10);
    EXPECT_EQ_INT(get_one("000000000000000000001:a,", 100, out), NETSTRING_E_FORMAT);
    /* Short input is the end of the connection. */
    EXPECT_EQ_INT(get_one("10:abc", 100, out), STREAM_E_EOF);
    EXPECT_EQ_INT(get_one("", 100, out), STREAM_E_EOF);
    EXPECT_EQ_INT(get_one("12", 100, out), STREAM_E_EOF);

    /* Binary data and several netstrings in a row. */
    static const char two[] = "3:a\0b,2:cd,";
    struct stream *s = feed(two, sizeof(two) - 1);
    EXPECT_EQ_INT(netstring_get(s, out, 10), 3);
    EXPECT_TRUE(sbuf_len(out) == 3 && memcmp(sbuf_str(out), "a\0b", 3) == 0);
    EXPECT_EQ_INT(netstring_get_len(s, 10), 2);
    EXPECT_EQ_INT(netstring_get_data(s, 2, out), 0);
    EXPECT_EQ_STR(sbuf_str(out), "cd");
    stream_close(s);

    /* Writing: read back what netstring_put wrote. */
    int p[2];
    EXPECT_TRUE(pipe(p) == 0);
    struct stream *w = stream_open(p[1]);
    EXPECT_EQ_INT(netstring_put(w, "Kok", 3), 0);
    EXPECT_EQ_INT(netstring_put(w, "", 0), 0);
    EXPECT_EQ_INT(stream_flush(w), 0);
    stream_close(w);
    char buf[32] = { 0 };
    EXPECT_EQ_INT(read(p[0], buf, sizeof(buf) - 1), 9);
    EXPECT_EQ_STR(buf, "3:Kok,0:,");
    close(p[0]);

    EXPECT_EQ_STR(netstring_strerror(NETSTRING_E_SIZE), "netstring length exceeds storage limit");
    sbuf_free(out);
    return harness_done();
}
