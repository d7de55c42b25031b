/*
 * scache_clnt_test.c - the connection cache client against a fake
 *                      private/scache that passes descriptors back
 *
 * Used by: make unit.
 * Notes: the fake (forked child, ut_ipc.h) speaks docs/ipc.md "scache":
 *        it greets with scache_v1, reads the raw request byte (with a
 *        descriptor for a save) and the attribute list, keeps one saved
 *        connection and hands it back to a find with the matching label.
 *        The "connection" is the write end of a pipe, so the test can see
 *        that the descriptor it gets back reaches the same pipe.
 */
#include "harness.h"
#include "config.h"
#include "mail_proto.h"
#include "scache_clnt.h"
#include "sock.h"
#include "ut_ipc.h"

static char *tmp;

/* The value of "name=" in one raw attribute list (still %XX-escaped). */
static void raw_value(const char *list, const char *name, struct sbuf *out)
{
    sbuf_reset(out);
    size_t nl = strlen(name);
    for (const char *p = list; p && *p;) {
        const char *eol = strchr(p, '\n');
        if (eol && (size_t)(eol - p) > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            sbuf_append(out, p + nl + 1, (size_t)(eol - p - nl - 1));
            return;
        }
        p = eol ? eol + 1 : NULL;
    }
}

static void fake_scache(int fd, int index, void *ctx)
{
    (void)index;
    (void)ctx;
    int kept = -1;
    struct sbuf *endp = sbuf_new(64), *dest = sbuf_new(64), *props = sbuf_new(64);
    struct sbuf *req = sbuf_new(256), *v = sbuf_new(64), *label = sbuf_new(64);
    ut_write_str(fd, "proto=" SCACHE_PROTO "\n\n");
    for (;;) {
        char byte;
        int got = -1;
        if (sock_recv_fd(fd, &byte, &got, 5) < 0)
            break;
        sbuf_reset(req);
        if (ut_read_until(fd, req, "\n\n", 5) != 1)
            break;
        raw_value(sbuf_str(req), "request", v);
        if (byte == SCACHE_BYTE_SAVE && got >= 0 && strcmp(sbuf_str(v), "save") == 0) {
            if (kept >= 0)
                close(kept);
            kept = got;
            raw_value(sbuf_str(req), "endp_label", endp);
            raw_value(sbuf_str(req), "dest_label", dest);
            raw_value(sbuf_str(req), "props", props);
            ut_write_str(fd, "status=0\n\n");
            continue;
        }
        raw_value(sbuf_str(req), "label", label);
        bool by_dest = strcmp(sbuf_str(v), "find_dest") == 0;
        if (kept >= 0 && strcmp(sbuf_str(label), sbuf_str(by_dest ? dest : endp)) == 0) {
            sock_send_fd(fd, kept, SCACHE_BYTE_FOUND, 5);
            close(kept);
            kept = -1;
            ut_write_str(fd, "status=0\nprops=");
            ut_write_str(fd, sbuf_str(props));
            ut_write_str(fd, "\n\n");
        } else {
            sock_send_fd(fd, -1, SCACHE_BYTE_NONE, 5);
            ut_write_str(fd, "status=1\n\n");
        }
    }
    sbuf_free(endp);
    sbuf_free(dest);
    sbuf_free(props);
    sbuf_free(req);
    sbuf_free(v);
    sbuf_free(label);
}

/* fd, from the cache, is the write end of the pipe read from rd: a byte
 * written to it comes out there. Closes fd. */
static void expect_same_pipe(int fd, int rd, char byte)
{
    EXPECT_EQ_INT((int)write(fd, &byte, 1), 1);
    close(fd);
    char ch = 0;
    EXPECT_EQ_INT((int)read(rd, &ch, 1), 1);
    EXPECT_TRUE(ch == byte);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    tmp = ut_tmpdir();
    EXPECT_EQ_INT(chdir(tmp), 0);   /* service paths are relative to the queue */
    int lfd = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, "scache");
    pid_t pid = ut_serve(lfd, 1, fake_scache, NULL);

    struct scache_clnt *c = scache_clnt_new("scache", 2);
    struct sbuf *props = sbuf_new(64);
    int pp[2];
    EXPECT_EQ_INT(pipe(pp), 0);

    /* Save: the cache gets the descriptor, ours is closed either way. */
    EXPECT_EQ_INT(scache_clnt_save(c, "smtp|endp|192.0.2.1|25", "smtp|dest|example.com",
                                   "host=mx.example.com\nfeatures=3\n", 5, pp[1]),
                  0);
    EXPECT_TRUE(fcntl(pp[1], F_GETFD) < 0);
    /* Nothing under another label. */
    EXPECT_EQ_INT(scache_clnt_find(c, false, "smtp|endp|192.0.2.9|25", props), -1);
    /* Found by destination: the same connection, with its properties. */
    int fd = scache_clnt_find(c, true, "smtp|dest|example.com", props);
    EXPECT_TRUE(fd >= 0);
    EXPECT_EQ_STR(sbuf_str(props), "host=mx.example.com\nfeatures=3\n");
    if (fd >= 0)
        expect_same_pipe(fd, pp[0], 'y');
    /* Taken out of the cache: gone under its endpoint too. */
    EXPECT_EQ_INT(scache_clnt_find(c, false, "smtp|endp|192.0.2.1|25", props), -1);
    /* Saves are not waited for: two in a row, then a find. Each save's answer
     * must be read before the next request goes out, or the find would take
     * it for its own answer. */
    int pa[2], pb[2];
    EXPECT_EQ_INT(pipe(pa), 0);
    EXPECT_EQ_INT(pipe(pb), 0);
    EXPECT_EQ_INT(scache_clnt_save(c, "smtp|endp|192.0.2.2|25", "smtp|dest|a.example", "n=a\n", 5,
                                   pa[1]),
                  0);
    EXPECT_EQ_INT(scache_clnt_save(c, "smtp|endp|192.0.2.3|25", "smtp|dest|b.example", "n=b\n", 5,
                                   pb[1]),
                  0);
    fd = scache_clnt_find(c, true, "smtp|dest|b.example", props);
    EXPECT_TRUE(fd >= 0);
    EXPECT_EQ_STR(sbuf_str(props), "n=b\n");
    if (fd >= 0)
        expect_same_pipe(fd, pb[0], 'z');
    close(pa[0]);
    close(pb[0]);
    scache_clnt_free(c);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    close(lfd);

    /* No service: nothing found, nothing saved, the descriptor still closed. */
    struct scache_clnt *none = scache_clnt_new("no-such-scache", 1);
    int pq[2];
    EXPECT_EQ_INT(pipe(pq), 0);
    EXPECT_EQ_INT(scache_clnt_find(none, false, "x", props), -1);
    EXPECT_EQ_INT(scache_clnt_save(none, "x", "", "", 5, pq[1]), -1);
    EXPECT_TRUE(fcntl(pq[1], F_GETFD) < 0);
    scache_clnt_free(none);
    close(pq[0]);
    close(pp[0]);
    sbuf_free(props);
    EXPECT_EQ_INT(chdir("/"), 0);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
