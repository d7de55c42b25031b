/*
 * rewrite_clnt_test.c - the trivial-rewrite client: requests on the wire,
 *                       the resolve cache, reconnects, malformed replies
 *
 * Used by: make unit.
 * Notes: a fake trivial-rewrite (forked child, ut_ipc.h) on private/rewrite
 *        answers any number of requests per connection and appends each
 *        request it receives, raw, to $tmp/requests, so the test can count
 *        what reached the service and compare the bytes.
 */
#include "harness.h"
#include "config.h"
#include "mail_proto.h"
#include "rewrite_clnt.h"
#include "ut_ipc.h"

static char *tmp;
static char reqlog[300];

/* Reply to one raw request (a "name=value\n...\n\n" block). */
static void answer(int fd, const char *req, const char *tag)
{
    const char *a = strstr(req, "address=");
    char addr[256] = "";
    if (a) {
        a += 8;
        size_t n = strcspn(a, "\n");
        if (n >= sizeof(addr))
            n = sizeof(addr) - 1;
        memcpy(addr, a, n);
        addr[n] = 0;
    }
    char out[1024];
    if (strncmp(req, "request=rewrite\n", 16) == 0)
        snprintf(out, sizeof(out), "flags=0\naddress=%s.rewritten\n\n", addr);
    else if (strncmp(addr, "fail", 4) == 0)
        snprintf(out, sizeof(out),
                 "flags=8\nclass=default\ntransport=\nnexthop=\nrecipient=%s\n\n", addr);
    else if (strncmp(addr, "broken", 6) == 0)
        snprintf(out, sizeof(out), "flags=1\nclass=local\n\n");      /* no transport */
    else
        snprintf(out, sizeof(out),
                 "flags=1\nclass=local\ntransport=local\nnexthop=%s\nrecipient=%s\n\n", tag,
                 addr);
    ut_write_str(fd, out);
}

/* Serves one persistent connection until the client hangs up or, when
 * ctx points at a positive number, until that many requests were served. */
static void fake_rewrite(int fd, int index, void *ctx)
{
    int limit = ctx ? *(int *)ctx : 0;
    char tag[32];
    snprintf(tag, sizeof(tag), "server%d.%d", (int)getpid() % 100000, index);
    ut_write_str(fd, "proto=rewrite_v1\n\n");
    struct sbuf *req = sbuf_new(256);
    for (int n = 0; limit <= 0 || n < limit; n++) {
        sbuf_reset(req);
        if (ut_read_until(fd, req, "\n\n", 10) != 1)
            break;
        int lf = open(reqlog, O_WRONLY | O_APPEND | O_CREAT, 0644);
        ut_write_all(lf, sbuf_str(req), sbuf_len(req));
        close(lf);
        answer(fd, sbuf_str(req), tag);
    }
    sbuf_free(req);
}

/* Number of requests the fake services have received so far. */
static int requests_seen(struct sbuf *all)
{
    ut_load(reqlog, all);
    int n = 0;
    for (const char *p = sbuf_str(all); (p = strstr(p, "\n\n")) != NULL; p += 2)
        n++;
    return n;
}

static void test_requests(void)
{
    struct sbuf *all = sbuf_new(256);
    struct sbuf *out = sbuf_new(64);
    struct resolve_reply rr;
    resolve_reply_init(&rr);

    int l = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, MAIL_SERVICE_REWRITE);
    pid_t pid = ut_serve(l, 1, fake_rewrite, NULL);

    /* rewrite: exact request bytes, value escaping, the answer. */
    EXPECT_EQ_INT(rewrite_clnt_rewrite(REWRITE_LOCAL, "user", out), 0);
    EXPECT_EQ_STR(sbuf_str(out), "user.rewritten");
    EXPECT_EQ_INT(requests_seen(all), 1);
    EXPECT_EQ_STR(sbuf_str(all), "request=rewrite\nrule=local\naddress=user\n\n");
    EXPECT_EQ_INT(rewrite_clnt_rewrite(REWRITE_REMOTE, "odd%user\nx", out), 0);
    EXPECT_EQ_INT(requests_seen(all), 2);
    EXPECT_TRUE(strstr(sbuf_str(all), "request=rewrite\nrule=remote\naddress=odd%25user%0Ax\n\n"));
    /* The same rewrite again comes from the cache; another rule is another key. */
    EXPECT_EQ_INT(rewrite_clnt_rewrite(REWRITE_LOCAL, "user", out), 0);
    EXPECT_EQ_STR(sbuf_str(out), "user.rewritten");
    EXPECT_EQ_INT(requests_seen(all), 2);
    EXPECT_EQ_INT(rewrite_clnt_rewrite(REWRITE_REMOTE, "user", out), 0);
    EXPECT_EQ_INT(requests_seen(all), 3);

    /* resolve: request, reply fields, one connection for everything. */
    EXPECT_EQ_INT(rewrite_clnt_resolve("alice@example.org", "bob@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), 4);
    EXPECT_TRUE(strstr(sbuf_str(all),
                       "request=resolve\nsender=alice@example.org\naddress=bob@example.net\n\n"));
    EXPECT_EQ_STR(sbuf_str(rr.transport), "local");
    EXPECT_EQ_STR(sbuf_str(rr.recipient), "bob@example.net");
    EXPECT_EQ_STR(rr.class_, "local");
    EXPECT_EQ_INT(rr.flags, RESOLVE_FLAG_FINAL);
    char first_hop[64];
    strlcpy(first_hop, sbuf_str(rr.nexthop), sizeof(first_hop));
    EXPECT_TRUE(strncmp(first_hop, "server", 6) == 0 && strstr(first_hop, ".0") != NULL);

    /* The same question again is answered from the cache. */
    resolve_reply_free(&rr);
    resolve_reply_init(&rr);
    EXPECT_EQ_INT(rewrite_clnt_resolve("alice@example.org", "bob@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), 4);
    EXPECT_EQ_STR(sbuf_str(rr.transport), "local");
    EXPECT_EQ_STR(sbuf_str(rr.nexthop), first_hop);
    EXPECT_EQ_STR(sbuf_str(rr.recipient), "bob@example.net");
    EXPECT_EQ_STR(rr.class_, "local");
    EXPECT_EQ_INT(rr.flags, RESOLVE_FLAG_FINAL);

    /* A different sender, or verify instead of resolve, is another key. */
    EXPECT_EQ_INT(rewrite_clnt_resolve("carol@example.org", "bob@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), 5);
    EXPECT_EQ_INT(rewrite_clnt_verify("alice@example.org", "bob@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), 6);
    EXPECT_TRUE(strstr(sbuf_str(all),
                       "request=verify\nsender=alice@example.org\naddress=bob@example.net\n\n"));
    EXPECT_EQ_INT(rewrite_clnt_verify("alice@example.org", "bob@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), 6);
    /* A NULL sender is sent as empty. */
    EXPECT_EQ_INT(rewrite_clnt_resolve(NULL, "dave@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), 7);
    EXPECT_TRUE(strstr(sbuf_str(all), "request=resolve\nsender=\naddress=dave@example.net\n\n"));

    /* A FAIL answer is not cached: asking again reaches the service. */
    EXPECT_EQ_INT(rewrite_clnt_resolve("a@b", "fail@example.net", &rr), 0);
    EXPECT_TRUE(rr.flags & RESOLVE_FLAG_FAIL);
    int before = requests_seen(all);
    EXPECT_EQ_INT(rewrite_clnt_resolve("a@b", "fail@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), before + 1);

    /* A flush forgets everything. */
    rewrite_clnt_cache_flush();
    EXPECT_EQ_INT(rewrite_clnt_resolve("alice@example.org", "bob@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), before + 2);

    /* A malformed reply: -1, and the connection is dropped (the fake sees
     * EOF and ends). */
    EXPECT_EQ_INT(rewrite_clnt_resolve("a@b", "broken@example.net", &rr), -1);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));

    /* The service restarts (new process, new socket at the same path):
     * the next call reconnects by itself. */
    close(l);
    l = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, MAIL_SERVICE_REWRITE);
    pid = ut_serve(l, 1, fake_rewrite, NULL);
    EXPECT_EQ_INT(rewrite_clnt_resolve("x@y", "new@example.net", &rr), 0);
    EXPECT_TRUE(strstr(sbuf_str(rr.nexthop), ".0") != NULL &&
                strcmp(sbuf_str(rr.nexthop), first_hop) != 0);
    /* The old answers are still cached across the reconnect. */
    before = requests_seen(all);
    EXPECT_EQ_INT(rewrite_clnt_resolve("alice@example.org", "bob@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), before);

    /* Recycled by master while we were connected: the child serves one
     * more request and exits; the broken connection is reopened once. */
    kill(pid, SIGKILL);
    ut_reap(pid, 3);
    int one = 1;
    pid_t pid2 = ut_serve(l, 2, fake_rewrite, &one);
    EXPECT_EQ_INT(rewrite_clnt_rewrite(REWRITE_LOCAL, "after-restart", out), 0);
    EXPECT_EQ_STR(sbuf_str(out), "after-restart.rewritten");
    EXPECT_EQ_INT(rewrite_clnt_rewrite(REWRITE_LOCAL, "again", out), 0);
    EXPECT_EQ_STR(sbuf_str(out), "again.rewritten");
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid2, 3)));
    rewrite_clnt_disconnect();
    close(l);

    /* No service at all: -1, no hang. */
    char file[300];
    snprintf(file, sizeof(file), "%s/plainfile", tmp);
    ut_save(file, "x", 1);
    config_set(P_QUEUE_DIRECTORY, file);
    EXPECT_EQ_INT(rewrite_clnt_resolve("x@y", "nobody@example.net", &rr), -1);
    EXPECT_EQ_INT(rewrite_clnt_rewrite(REWRITE_LOCAL, "x", out), -1);
    /* ... but cached answers still work without the service. */
    EXPECT_EQ_INT(rewrite_clnt_resolve("x@y", "new@example.net", &rr), 0);
    config_set(P_QUEUE_DIRECTORY, tmp);

    rewrite_clnt_cache_flush();
    resolve_reply_free(&rr);
    sbuf_free(out);
    sbuf_free(all);
}

/* More distinct answers than the cache holds: the least recently used
 * entries go first, the busy one stays. */
static void test_cache_eviction(void)
{
    struct sbuf *all = sbuf_new(4096);
    struct resolve_reply rr;
    resolve_reply_init(&rr);
    unlink(reqlog);
    int l = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, MAIL_SERVICE_REWRITE);
    pid_t pid = ut_serve(l, 1, fake_rewrite, NULL);
    char addr[64];
    EXPECT_EQ_INT(rewrite_clnt_resolve("", "hot@example.net", &rr), 0);
    for (int i = 0; i < RESOLVE_CACHE_SIZE + 10; i++) {
        snprintf(addr, sizeof(addr), "user%d@example.net", i);
        rewrite_clnt_resolve("", addr, &rr);
        EXPECT_EQ_INT(rewrite_clnt_resolve("", "hot@example.net", &rr), 0);   /* keep it hot */
    }
    int n = requests_seen(all);
    EXPECT_EQ_INT(n, 1 + RESOLVE_CACHE_SIZE + 10);
    /* The newest is cached, the oldest was evicted, hot stayed. */
    EXPECT_EQ_INT(rewrite_clnt_resolve("", addr, &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), n);
    EXPECT_EQ_INT(rewrite_clnt_resolve("", "user0@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), n + 1);
    EXPECT_EQ_INT(rewrite_clnt_resolve("", "hot@example.net", &rr), 0);
    EXPECT_EQ_INT(requests_seen(all), n + 1);
    rewrite_clnt_disconnect();
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    close(l);
    rewrite_clnt_cache_flush();
    resolve_reply_free(&rr);
    sbuf_free(all);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(30);
    tmp = ut_tmpdir();
    snprintf(reqlog, sizeof(reqlog), "%s/requests", tmp);
    config_set(P_QUEUE_DIRECTORY, tmp);
    config_set(P_IPC_TIMEOUT, "2s");
    test_requests();
    test_cache_eviction();
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
