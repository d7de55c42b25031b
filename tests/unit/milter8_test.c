/*
 * milter8_test.c - the milter packet codec: framing, size bounds, reply
 *                  decoding and rejection of malformed replies, entry
 *                  parsing with per-milter settings
 *
 * Used by: make check-unit.
 * Notes: packets are written by hand into one end of a socketpair and read
 *        with milter8_read_packet() from the other.
 */
#include "harness.h"
#include "milter8.h"
#include <arpa/inet.h>
#include <sys/socket.h>

static void put_raw(int fd, uint32_t len, int cmd, const char *data, size_t n)
{
    uint32_t l = htonl(len);
    char c = (char)cmd;
    EXPECT_TRUE(write(fd, &l, 4) == 4);
    EXPECT_TRUE(write(fd, &c, 1) == 1);
    if (n)
        EXPECT_TRUE(write(fd, data, n) == (ssize_t)n);
}

static int parse(int cmd, const char *data, size_t len, struct milter8_reply *r)
{
    struct sbuf *err = sbuf_new(64);
    int rc = milter8_parse_reply(cmd, data, len, r, err);
    sbuf_free(err);
    return rc;
}

static void test_framing(void)
{
    int sv[2];
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    struct sbuf *b = sbuf_new(16), *data = sbuf_new(16);
    milter8_encode(b, SMFIR_ADDHEADER, "X\0y\0", 4);
    EXPECT_EQ_INT(sbuf_len(b), 9);
    EXPECT_TRUE(memcmp(sbuf_str(b), "\0\0\0\5h", 5) == 0);
    EXPECT_TRUE(write(sv[0], sbuf_str(b), sbuf_len(b)) == 9);
    int cmd = 0;
    EXPECT_EQ_INT(milter8_read_packet(sv[1], 2, &cmd, data, MILTER8_DATA_MAX), 0);
    EXPECT_EQ_INT(cmd, 'h');
    EXPECT_EQ_INT(sbuf_len(data), 4);

    /* zero length: no command byte */
    uint32_t z = 0;
    EXPECT_TRUE(write(sv[0], &z, 4) == 4);
    EXPECT_EQ_INT(milter8_read_packet(sv[1], 2, &cmd, data, MILTER8_DATA_MAX), MILTER8_E_PROTO);

    /* too large: refused before reading the data */
    put_raw(sv[0], MILTER8_DATA_MAX + 2, 'b', NULL, 0);
    EXPECT_EQ_INT(milter8_read_packet(sv[1], 2, &cmd, data, MILTER8_DATA_MAX), MILTER8_E_PROTO);
    close(sv[0]);
    close(sv[1]);

    /* the largest allowed packet */
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    if (fork() == 0) {
        char *big = calloc(1, MILTER8_DATA_MAX);
        put_raw(sv[0], MILTER8_DATA_MAX + 1, 'b', big, MILTER8_DATA_MAX);
        _exit(0);
    }
    EXPECT_EQ_INT(milter8_read_packet(sv[1], 5, &cmd, data, MILTER8_DATA_MAX), 0);
    EXPECT_EQ_INT(sbuf_len(data), MILTER8_DATA_MAX);
    close(sv[0]);
    close(sv[1]);

    /* truncated packet (peer closes) and timeout (peer silent) */
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    put_raw(sv[0], 10, 'h', "ab", 2);
    close(sv[0]);
    EXPECT_EQ_INT(milter8_read_packet(sv[1], 2, &cmd, data, MILTER8_DATA_MAX), MILTER8_E_IO);
    close(sv[1]);
    EXPECT_EQ_INT(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    put_raw(sv[0], 10, 'h', "ab", 2);
    EXPECT_EQ_INT(milter8_read_packet(sv[1], 1, &cmd, data, MILTER8_DATA_MAX), MILTER8_E_TIMEOUT);
    close(sv[0]);
    close(sv[1]);
    sbuf_free(b);
    sbuf_free(data);
}

static void test_replies(void)
{
    struct milter8_reply r;
    EXPECT_EQ_INT(parse('c', "", 0, &r), 0);
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('h', "X-A\0v\0", 6, &r), 0);
    EXPECT_EQ_STR(r.s1, "X-A");
    EXPECT_EQ_STR(r.s2, "v");
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('h', "X-A\0v", 5, &r), MILTER8_E_PROTO);     /* no NUL */
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('h', "X A\0v\0", 6, &r), MILTER8_E_PROTO);   /* bad name */
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('h', "\0v\0", 3, &r), MILTER8_E_PROTO);      /* empty name */
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('m', "\0\0\0\2X\0\0", 7, &r), 0);
    EXPECT_EQ_INT(r.index, 2);
    EXPECT_EQ_STR(r.s2, "");
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('i', "\0\0", 2, &r), MILTER8_E_PROTO);       /* short index */
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('2', "<a@b>\0NOTIFY=NEVER\0", 19, &r), 0);
    EXPECT_EQ_STR(r.s1, "<a@b>");
    EXPECT_EQ_STR(r.s2, "NOTIFY=NEVER");
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('+', "<a\nb>\0", 6, &r), MILTER8_E_PROTO);   /* control char */
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('Z', "", 0, &r), MILTER8_E_PROTO);           /* unknown */
    milter8_reply_free(&r);

    /* reply codes */
    EXPECT_EQ_INT(parse('y', "550 5.7.1 no\0", 13, &r), 0);
    EXPECT_EQ_STR(r.s1, "550 5.7.1 no");
    milter8_reply_free(&r);
    const char ml[] = "553-5.7.2 one\r\n553 5.7.2 two";
    EXPECT_EQ_INT(parse('y', ml, sizeof(ml), &r), 0);
    EXPECT_EQ_STR(r.s1, "553-5.7.2 one\n553 5.7.2 two");
    milter8_reply_free(&r);
    const char *bad[] = { "250 ok", "55 x", "5a0 x", "550x", "553-a\r\n554 b", "553-only",
                          "550 a\r\n550 b", "550 ctl\001" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        EXPECT_EQ_INT(parse('y', bad[i], strlen(bad[i]) + 1, &r), MILTER8_E_PROTO);
        milter8_reply_free(&r);
    }
    EXPECT_EQ_INT(parse('y', "550 x", 5, &r), MILTER8_E_PROTO);      /* no NUL */
    milter8_reply_free(&r);

    /* option negotiation with a macro list */
    char neg[12 + 4 + 6];
    uint32_t v[3] = { htonl(6), htonl(0x1ff), htonl(0x80) };
    memcpy(neg, v, 12);
    uint32_t stage = htonl(SMFIM_ENVFROM);
    memcpy(neg + 12, &stage, 4);
    memcpy(neg + 16, "{x} i", 6);
    EXPECT_EQ_INT(parse('O', neg, sizeof(neg), &r), 0);
    EXPECT_EQ_INT(r.version, 6);
    EXPECT_EQ_INT(r.protocol, 0x80);
    EXPECT_EQ_STR(r.symlists[SMFIM_ENVFROM], "{x} i");
    milter8_reply_free(&r);
    EXPECT_EQ_INT(parse('O', neg, 11, &r), MILTER8_E_PROTO);
    milter8_reply_free(&r);
    stage = htonl(9);
    memcpy(neg + 12, &stage, 4);
    EXPECT_EQ_INT(parse('O', neg, sizeof(neg), &r), MILTER8_E_PROTO);
    milter8_reply_free(&r);
}

static void test_entries(void)
{
    struct sbuf *err = sbuf_new(64);
    struct milter8 *m = milter8_new("inet:127.0.0.1:8891", 30, 30, 300, 6, "tempfail", err);
    EXPECT_TRUE(m != NULL);
    EXPECT_EQ_STR(m->name, "inet:127.0.0.1:8891");
    milter8_free(m);
    m = milter8_new("{ unix:/run/m.sock, connect_timeout=10s, default_action = accept, "
                    "protocol=2, command_timeout=5s, content_timeout=1m }",
                    30, 30, 300, 6, "tempfail", err);
    EXPECT_TRUE(m != NULL);
    if (m) {
        EXPECT_EQ_STR(m->name, "unix:/run/m.sock");
        EXPECT_EQ_INT(m->conn_timeout, 10);
        EXPECT_EQ_INT(m->cmd_timeout, 5);
        EXPECT_EQ_INT(m->msg_timeout, 60);
        EXPECT_EQ_INT(m->version, 2);
        EXPECT_EQ_STR(m->def_action, "accept");
    }
    milter8_free(m);
    EXPECT_TRUE(milter8_new("{ inet:h:1, default_action=maybe }", 1, 1, 1, 6, "tempfail", err)
                == NULL);
    EXPECT_TRUE(milter8_new("{ inet:h:1, protocol=5 }", 1, 1, 1, 6, "tempfail", err) == NULL);
    EXPECT_TRUE(milter8_new("{ inet:h:1, colour=red }", 1, 1, 1, 6, "tempfail", err) == NULL);
    EXPECT_TRUE(milter8_new("{ inet:h:1", 1, 1, 1, 6, "tempfail", err) == NULL);
    EXPECT_TRUE(milter8_new("{ connect_timeout=1s }", 1, 1, 1, 6, "tempfail", err) == NULL);
    sbuf_free(err);
}

int main(void)
{
    harness_init();
    test_framing();
    test_replies();
    test_entries();
    return harness_done();
}
