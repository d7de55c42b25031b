/*
 * verify_clnt_test.c - the address verification client against a fake
 *                      private/verify
 *
 * Used by: make unit.
 * Notes: the fake (forked child, ut_ipc.h) greets with verify_v1, saves the
 *        request it receives and answers with a scripted reply; one request
 *        per connection, as docs/ipc.md "verify" says.
 */
#include "harness.h"
#include "config.h"
#include "mail_proto.h"
#include "params.h"
#include "ut_ipc.h"
#include "verify_clnt.h"

static char *tmp;
static int lfd;

struct script {
    const char *greeting;
    const char *reply;      /* NULL: hang up without answering */
};

static void fake_verify(int fd, int index, void *ctx)
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

#define CALL(sc, expr, req)                                                                        \
    ({                                                                                             \
        char _p[300];                                                                              \
        snprintf(_p, sizeof(_p), "%s/request", tmp);                                               \
        unlink(_p);                                                                                \
        pid_t _pid = ut_serve(lfd, 1, fake_verify, (void *)(sc));                                  \
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
    config_set(P_ADDRESS_VERIFY_SERVICE_NAME, "vrfy");     /* the name is a parameter */
    lfd = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, "vrfy");
    struct sbuf *req = sbuf_new(128), *why = sbuf_new(64);
    int status = -1;

    const struct script ok = { "proto=verify_v1\n\n",
                               "status=0\naddr_status=2\nreason=host x said: 550 no\n\n" };
    const struct script todo = { "proto=verify_v1\n\n",
                                 "status=0\naddr_status=3\nreason=Address verification in "
                                 "progress\n\n" };
    const struct script updated = { "proto=verify_v1\n\n", "status=0\n\n" };
    const struct script refused = { "proto=verify_v1\n\n", "status=1\n\n" };
    const struct script range = { "proto=verify_v1\n\n", "status=0\naddr_status=7\n\n" };
    const struct script mute = { "proto=verify_v1\n\n", NULL };
    const struct script wrong = { "proto=anvil_v1\n\n", "status=0\naddr_status=0\n\n" };

    /* A query goes out as docs/ipc.md lists it; the answer comes back. */
    EXPECT_EQ_INT(CALL(&ok, verify_clnt_query("bad@example.org", &status, why), req),
                  VERIFY_CLNT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=query\naddress=bad@example.org\n\n");
    EXPECT_EQ_INT(status, VERIFY_ADDR_BOUNCE);
    EXPECT_EQ_STR(sbuf_str(why), "host x said: 550 no");
    EXPECT_EQ_INT(CALL(&todo, verify_clnt_query("new@example.org", &status, why), req),
                  VERIFY_CLNT_OK);
    EXPECT_EQ_INT(status, VERIFY_ADDR_TODO);
    EXPECT_EQ_STR(sbuf_str(why), "Address verification in progress");

    /* An update carries status and reason, escaped. */
    EXPECT_EQ_INT(
        CALL(&updated, verify_clnt_update("a@example.org", VERIFY_ADDR_OK, "250 2.1.5 Ok\n"), req),
        VERIFY_CLNT_OK);
    EXPECT_EQ_STR(sbuf_str(req), "request=update\naddress=a@example.org\naddr_status=0\n"
                                 "reason=250 2.1.5 Ok%0A\n\n");

    /* A refused request, a status out of range, silence and the wrong
     * protocol are failures; *status is left alone. */
    status = 42;
    EXPECT_EQ_INT(CALL(&refused, verify_clnt_update("a@example.org", VERIFY_ADDR_DEFER, "x"), req),
                  VERIFY_CLNT_FAIL);
    EXPECT_EQ_INT(CALL(&range, verify_clnt_query("a@example.org", &status, why), req),
                  VERIFY_CLNT_FAIL);
    EXPECT_EQ_INT(CALL(&mute, verify_clnt_query("a@example.org", &status, why), req),
                  VERIFY_CLNT_FAIL);
    EXPECT_EQ_INT(CALL(&wrong, verify_clnt_query("a@example.org", &status, why), req),
                  VERIFY_CLNT_FAIL);
    EXPECT_EQ_STR(sbuf_str(req), "");   /* nothing was sent after the bad greeting */
    EXPECT_EQ_INT(status, 42);

    /* No service at all: FAIL. */
    close(lfd);
    config_set(P_ADDRESS_VERIFY_SERVICE_NAME, "none");
    EXPECT_EQ_INT(verify_clnt_query("a@example.org", &status, why), VERIFY_CLNT_FAIL);

    sbuf_free(req);
    sbuf_free(why);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
