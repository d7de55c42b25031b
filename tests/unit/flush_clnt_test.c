/*
 * flush_clnt_test.c - the fast flush client against a fake public/flush
 *
 * Used by: make unit.
 * Notes: the fake (forked child, ut_ipc.h) greets with flush_v1, saves the
 *        request it receives and answers with a scripted reply; one request
 *        per connection, as docs/ipc.md says.
 */
#include "harness.h"
#include "config.h"
#include "flush_clnt.h"
#include "mail_proto.h"
#include "ut_ipc.h"

static char *tmp;
static int lfd;

struct script {
    const char *greeting;
    const char *reply;      /* NULL: hang up without answering */
};

static void fake_flush(int fd, int index, void *ctx)
{
    const struct script *sc = ctx;
    (void)index;
    ut_write_str(fd, sc->greeting);
    struct sbuf *req = sbuf_new(128);
    if (ut_read_until(fd, req, "\n\n", 5) == 1) {
        char path[300];
        snprintf(path, sizeof(path), "%s/request", tmp);
        ut_save(path, sbuf_str(req), sbuf_len(req));
        if (sc->reply)
            ut_write_str(fd, sc->reply);
    }
    sbuf_free(req);
}

/* Runs one client call against a fake with script sc; returns the call's
 * result and leaves the raw request in req. */
#define CALL(sc, expr, req)                                                                        \
    ({                                                                                             \
        char _p[300];                                                                              \
        snprintf(_p, sizeof(_p), "%s/request", tmp);                                               \
        unlink(_p);                                                                                \
        pid_t _pid = ut_serve(lfd, 1, fake_flush, (void *)(sc));                                   \
        int _r = (expr);                                                                           \
        ut_reap(_pid, 5);                                                                          \
        ut_load(_p, req);                                                                          \
        _r;                                                                                        \
    })

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    tmp = ut_tmpdir();
    config_set(P_QUEUE_DIRECTORY, tmp);
    config_set(P_IPC_TIMEOUT, "1s");
    lfd = ut_listen_service(tmp, MAIL_CLASS_PUBLIC, MAIL_SERVICE_FLUSH);
    struct sbuf *req = sbuf_new(128);

    const struct script ok = { "proto=flush_v1\n\n", "status=0\n\n" };
    const struct script deny = { "proto=flush_v1\n\n", "status=2\n\n" };
    const struct script bad = { "proto=flush_v1\n\n", "status=3\n\n" };
    const struct script junk = { "proto=flush_v1\n\n", "status=zero\n\n" };
    const struct script nostatus = { "proto=flush_v1\n\n", "reason=x\n\n" };
    const struct script mute = { "proto=flush_v1\n\n", NULL };
    const struct script wrong = { "proto=showq_v1\n\n", "status=0\n\n" };

    /* Each request goes out byte for byte as docs/ipc.md lists it. */
    EXPECT_EQ_INT(CALL(&ok, flush_send_site("example.com"), req), FLUSH_STAT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=send_site\nsite=example.com\n\n");
    EXPECT_EQ_INT(CALL(&ok, flush_send_file("4XyZ1q2w3e"), req), FLUSH_STAT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=send_file\nqueue_id=4XyZ1q2w3e\n\n");
    EXPECT_EQ_INT(CALL(&ok, flush_refresh(), req), FLUSH_STAT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=refresh\n\n");
    EXPECT_EQ_INT(CALL(&ok, flush_purge(), req), FLUSH_STAT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=purge\n\n");
    EXPECT_EQ_INT(CALL(&ok, flush_add("example.com", "4XyZ1q2w3e"), req), FLUSH_STAT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=add\nsite=example.com\nqueue_id=4XyZ1q2w3e\n\n");
    /* Values are escaped on the wire. */
    EXPECT_EQ_INT(CALL(&ok, flush_send_site("a%b\nc"), req), FLUSH_STAT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=send_site\nsite=a%25b%0Ac\n\n");

    /* The service's status comes back as is. */
    EXPECT_EQ_INT(CALL(&deny, flush_send_site("other.example"), req), FLUSH_STAT_DENY);
    EXPECT_EQ_INT(CALL(&bad, flush_send_file("../x"), req), FLUSH_STAT_BAD);
    EXPECT_EQ_INT(CALL(&deny, flush_add("other.example", "ABC"), req), FLUSH_STAT_DENY);

    /* Nonsense, silence, a hang-up and the wrong protocol are failures. */
    EXPECT_EQ_INT(CALL(&junk, flush_refresh(), req), FLUSH_STAT_FAIL);
    EXPECT_EQ_INT(CALL(&nostatus, flush_purge(), req), FLUSH_STAT_FAIL);
    EXPECT_EQ_INT(CALL(&junk, flush_add("example.com", "ABC"), req), FLUSH_STAT_FAIL);
    EXPECT_EQ_INT(CALL(&mute, flush_send_site("example.com"), req), FLUSH_STAT_FAIL);
    EXPECT_EQ_STR(sbuf_str(req), "request=send_site\nsite=example.com\n\n");
    EXPECT_EQ_INT(CALL(&mute, flush_add("example.com", "ABC"), req), FLUSH_STAT_FAIL);
    EXPECT_EQ_INT(CALL(&wrong, flush_send_site("example.com"), req), FLUSH_STAT_FAIL);
    EXPECT_EQ_STR(sbuf_str(req), "");   /* nothing was sent after the bad greeting */
    EXPECT_EQ_INT(CALL(&wrong, flush_add("example.com", "ABC"), req), FLUSH_STAT_FAIL);

    /* No service: FAIL at once. */
    close(lfd);
    char file[300];
    snprintf(file, sizeof(file), "%s/plainfile", tmp);
    ut_save(file, "x", 1);
    config_set(P_QUEUE_DIRECTORY, file);
    EXPECT_EQ_INT(flush_send_site("example.com"), FLUSH_STAT_FAIL);
    EXPECT_EQ_INT(flush_add("example.com", "ABC"), FLUSH_STAT_FAIL);

    sbuf_free(req);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
