/*
 * dict_proxy_test.c - proxy:TYPE:NAME tables against a fake proxymap
 *
 * Used by: make unit.
 * Notes: the fake (a forked child, ut_ipc.h) speaks proxymap_v1 as
 *        docs/ipc.md describes it: greeting, then one reply per request from
 *        a script. Every request it reads is appended to a capture file as
 *        "#CONN\n" plus the raw bytes, so the test checks what the client
 *        sent byte for byte and on which connection.
 */
#include "harness.h"
#include "config.h"
#include "dict.h"
#include "dict_proxy.h"
#include "log.h"
#include "mail_proto.h"
#include "ut_ipc.h"

static char *tmp;
static char logpath[300], cappath[300];
static int lfd = -1;

struct fake {
    const char *greeting;       /* NULL: the right one */
    const char *replies[8];     /* raw reply to request N (counted over all
                                 * connections); NULL: hang up unanswered */
    int per_conn;               /* close after this many requests (0: at EOF) */
};

static int fake_seen;           /* requests read so far (in the child) */

static void fake_proxymap(int fd, int index, void *ctx)
{
    const struct fake *f = ctx;
    ut_write_str(fd, f->greeting ? f->greeting : "proto=proxymap_v1\n\n");
    for (int n = 0; f->per_conn == 0 || n < f->per_conn; n++) {
        struct sbuf *req = sbuf_new(128);
        if (ut_read_until(fd, req, "\n\n", 5) != 1) {
            sbuf_free(req);
            return;
        }
        struct sbuf *cap = sbuf_new(256);
        ut_load(cappath, cap);
        sbuf_catf(cap, "#%d\n", index);
        sbuf_append(cap, sbuf_str(req), sbuf_len(req));
        ut_save(cappath, sbuf_str(cap), sbuf_len(cap));
        sbuf_free(cap);
        sbuf_free(req);
        const char *reply = fake_seen < 8 ? f->replies[fake_seen] : NULL;
        fake_seen++;
        if (reply == NULL)
            return;
        ut_write_str(fd, reply);
    }
}

static pid_t fake_start(const struct fake *f, int nconn)
{
    unlink(cappath);
    return ut_serve(lfd, nconn, fake_proxymap, (void *)f);
}

static void captured(struct sbuf *out)
{
    if (ut_load(cappath, out) < 0)
        sbuf_set(out, "(nothing)");
}

static bool log_has(const char *needle)
{
    struct sbuf *b = sbuf_new(256);
    bool found = ut_load(logpath, b) == 0 && strstr(sbuf_str(b), needle) != NULL;
    sbuf_free(b);
    return found;
}

static int log_count(const char *needle)
{
    struct sbuf *b = sbuf_new(256);
    int n = 0;
    if (ut_load(logpath, b) == 0)
        for (const char *p = sbuf_str(b); (p = strstr(p, needle)) != NULL; p++)
            n++;
    sbuf_free(b);
    return n;
}

/* Open: names, flags, refusals, without any connection. */
static void test_open(void)
{
    struct dict *d = dict_open("proxy:hash:/etc/x", DICT_F_FOLD);
    EXPECT_TRUE(d != NULL);
    if (d) {
        EXPECT_EQ_STR(dict_name(d), "proxy:hash:/etc/x");
        EXPECT_TRUE(dict_flags(d) & DICT_F_FIXED);
        EXPECT_TRUE(dict_flags(d) & DICT_F_FOLD);
        EXPECT_EQ_INT(dict_sequence(d, NULL, NULL), -1);   /* cannot list */
        dict_close(d);
    }
    d = dict_open("proxy:regexp:/etc/y", DICT_F_FOLD);
    EXPECT_TRUE(d != NULL && (dict_flags(d) & DICT_F_PATTERN) && !(dict_flags(d) & DICT_F_FIXED));
    dict_close(d);
    EXPECT_TRUE(dict_open("proxy:nosuchtype:x", 0) == NULL);
    EXPECT_TRUE(log_has("proxy:nosuchtype:x: unsupported dictionary type: nosuchtype"));
    EXPECT_TRUE(dict_open("proxy:/no/type", 0) == NULL);
    EXPECT_TRUE(dict_open("proxy:", 0) == NULL);
    /* No connection was made: nothing listened, nothing was logged about it. */
    EXPECT_TRUE(!log_has("connect to"));
}

/* The request bytes: table without proxy:, client flags, folded key. */
static void test_request_bytes(void)
{
    struct fake f = { NULL, { "status=0\nvalue=alice:x:1000\n\n", "status=0\nvalue=B%0Ac\n\n",
                              "status=1\n\n", "status=0\nvalue=\n\n" }, 0 };
    pid_t pid = fake_start(&f, 1);
    struct dict *d = dict_open("proxy:proxy:unix:passwd.byname", DICT_F_FOLD);
    struct dict *pat = dict_open("proxy:regexp:/etc/postfix/re", DICT_F_FOLD);
    struct dict *nofold = dict_open("proxy:hash:/etc/aliases", DICT_F_ALIAS);
    EXPECT_TRUE(d && pat && nofold);
    EXPECT_EQ_STR(dict_lookup(d, "Alice"), "alice:x:1000");
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_NONE);
    EXPECT_EQ_STR(dict_lookup(pat, "Mixed%Case\n"), "B\nc");
    EXPECT_TRUE(dict_lookup(nofold, "Root") == NULL);
    EXPECT_EQ_INT(dict_error(nofold), DICT_ERR_NONE);
    EXPECT_EQ_STR(dict_lookup(d, "empty"), "");
    dict_close(d);
    dict_close(pat);
    dict_close(nofold);
    dict_proxy_disconnect();
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    struct sbuf *cap = sbuf_new(256);
    captured(cap);
    /* One shared connection (#0) for all three tables. */
    EXPECT_EQ_STR(sbuf_str(cap),
                  "#0\nrequest=lookup\ntable=unix:passwd.byname\nflags=1\nkey=alice\n\n"
                  "#0\nrequest=lookup\ntable=regexp:/etc/postfix/re\nflags=1\n"
                  "key=Mixed%25Case%0A\n\n"
                  "#0\nrequest=lookup\ntable=hash:/etc/aliases\nflags=8\nkey=Root\n\n"
                  "#0\nrequest=lookup\ntable=unix:passwd.byname\nflags=1\nkey=empty\n\n");
    sbuf_free(cap);
}

/* Status values other than found/not found are "try again", never "not found". */
static void test_status_mapping(void)
{
    struct fake f = { NULL,
                      { "status=2\n\n", "status=3\n\n", "status=3\n\n", "status=4\n\n",
                        "value=x\n\n", "status=0\n\n", "status=0\nvalue=ok\n\n" },
                      0 };
    pid_t pid = fake_start(&f, 3);
    struct dict *d = dict_open("proxy:mysql:/etc/postfix/v.cf", DICT_F_FOLD);
    EXPECT_TRUE(d != NULL);
    EXPECT_TRUE(dict_lookup(d, "a") == NULL);                   /* 2: table error */
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(dict_lookup(d, "b") == NULL);                   /* 3: refused */
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(log_has("proxy:mysql:/etc/postfix/v.cf: the proxymap service refuses table "
                        "mysql:/etc/postfix/v.cf"));
    EXPECT_TRUE(dict_lookup(d, "c") == NULL);                   /* 3 again: warned once */
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_EQ_INT(log_count("service refuses table"), 1);
    EXPECT_TRUE(dict_lookup(d, "d") == NULL);                   /* 4: bad request */
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(log_has("answered status 4"));
    /* A reply without status: malformed; the connection is dropped. */
    EXPECT_TRUE(dict_lookup(d, "e") == NULL);
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(log_has("malformed reply from the proxymap service (no status)"));
    /* status=0 without a value: malformed too (connection #2 after this). */
    EXPECT_TRUE(dict_lookup(d, "f") == NULL);
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(log_has("(no value)"));
    /* And a good answer clears the error. */
    EXPECT_EQ_STR(dict_lookup(d, "g"), "ok");
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_NONE);
    dict_close(d);
    dict_proxy_disconnect();
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    struct sbuf *cap = sbuf_new(256);
    captured(cap);
    EXPECT_TRUE(strstr(sbuf_str(cap), "#1\nrequest=lookup\ntable=mysql:/etc/postfix/v.cf\n"
                                      "flags=1\nkey=f\n\n") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(cap), "#2\nrequest=lookup\ntable=mysql:/etc/postfix/v.cf\n"
                                      "flags=1\nkey=g\n\n") != NULL);
    sbuf_free(cap);
}

/* A connection that proxymap closed is replaced once, and the request is
 * sent again; a second failure in a row is "try again", not "not found". */
static void test_reconnect(void)
{
    struct fake f = { NULL, { "status=0\nvalue=one\n\n", "status=0\nvalue=two\n\n" }, 1 };
    pid_t pid = fake_start(&f, 2);
    struct dict *d = dict_open("proxy:hash:/etc/t", DICT_F_FOLD);
    EXPECT_EQ_STR(dict_lookup(d, "k1"), "one");
    /* The fake hung up after one request: this lookup meets a dead socket. */
    ut_sleep_ms(100);
    EXPECT_EQ_STR(dict_lookup(d, "k2"), "two");
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_NONE);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    struct sbuf *cap = sbuf_new(256);
    captured(cap);
    EXPECT_EQ_STR(sbuf_str(cap), "#0\nrequest=lookup\ntable=hash:/etc/t\nflags=1\nkey=k1\n\n"
                                 "#1\nrequest=lookup\ntable=hash:/etc/t\nflags=1\nkey=k2\n\n");

    /* Every connection breaks: two tries, then DICT_ERR_RETRY. */
    struct fake broken = { NULL, { NULL }, 0 };
    dict_proxy_disconnect();
    pid = fake_start(&broken, 2);
    EXPECT_TRUE(dict_lookup(d, "k3") == NULL);
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(log_has("proxy:hash:/etc/t: lookup through the proxymap service failed"));
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    captured(cap);
    EXPECT_EQ_STR(sbuf_str(cap), "#0\nrequest=lookup\ntable=hash:/etc/t\nflags=1\nkey=k3\n\n"
                                 "#1\nrequest=lookup\ntable=hash:/etc/t\nflags=1\nkey=k3\n\n");
    sbuf_free(cap);
    dict_close(d);
}

/* A service that greets with another protocol, or cannot be reached at all. */
static void test_unreachable(void)
{
    struct fake wrong = { "proto=rewrite_v1\n\n", { NULL }, 0 };
    pid_t pid = fake_start(&wrong, 1);
    struct dict *d = dict_open("proxy:unix:passwd.byname", DICT_F_FOLD);
    EXPECT_TRUE(dict_lookup(d, "root") == NULL);
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(log_has("private/proxymap: bad or missing greeting (want proxymap_v1)"));
    ut_reap(pid, 5);

    /* No proxymap socket at all (queue_directory is a plain file: the
     * connect fails at once): try again later, never "user unknown". */
    char file[400];
    snprintf(file, sizeof(file), "%s/plainfile", tmp);
    ut_save(file, "x", 1);
    config_set(P_QUEUE_DIRECTORY, file);
    EXPECT_TRUE(dict_lookup(d, "root") == NULL);
    EXPECT_EQ_INT(dict_error(d), DICT_ERR_RETRY);
    EXPECT_TRUE(log_has("plainfile/private/proxymap: Not a directory"));
    config_set(P_QUEUE_DIRECTORY, tmp);

    /* proxymap_service_name picks the socket. */
    config_set(P_PROXYMAP_SERVICE_NAME, "altmap");
    int l2 = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, "altmap");
    struct fake ok = { NULL, { "status=0\nvalue=alt\n\n" }, 0 };
    unlink(cappath);
    pid = ut_serve(l2, 1, fake_proxymap, &ok);
    EXPECT_EQ_STR(dict_lookup(d, "root"), "alt");
    dict_proxy_disconnect();
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    close(l2);
    config_set(P_PROXYMAP_SERVICE_NAME, "proxymap");
    dict_close(d);
}

/* An idle connection is replaced after $ipc_idle. */
static void test_idle(void)
{
    config_set(P_IPC_IDLE, "1s");
    struct fake f = { NULL, { "status=1\n\n", "status=1\n\n" }, 0 };
    pid_t pid = fake_start(&f, 2);
    struct dict *d = dict_open("proxy:hash:/etc/i", DICT_F_FOLD);
    EXPECT_TRUE(dict_lookup(d, "a") == NULL && dict_error(d) == DICT_ERR_NONE);
    ut_sleep_ms(2100);
    EXPECT_TRUE(dict_lookup(d, "b") == NULL && dict_error(d) == DICT_ERR_NONE);
    dict_proxy_disconnect();
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 5)));
    struct sbuf *cap = sbuf_new(256);
    captured(cap);
    EXPECT_TRUE(strstr(sbuf_str(cap), "#1\nrequest=lookup\ntable=hash:/etc/i\nflags=1\nkey=b\n\n")
                != NULL);
    sbuf_free(cap);
    dict_close(d);
    config_set(P_IPC_IDLE, "5s");
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
    tmp = ut_tmpdir();
    snprintf(logpath, sizeof(logpath), "%s/log", tmp);
    snprintf(cappath, sizeof(cappath), "%s/capture", tmp);
    log_open_file(logpath, "testhost");
    config_set(P_QUEUE_DIRECTORY, tmp);
    config_set(P_IPC_TIMEOUT, "2s");
    test_open();
    lfd = ut_listen_service(tmp, MAIL_CLASS_PRIVATE, "proxymap");
    test_request_bytes();
    test_status_mapping();
    test_reconnect();
    test_unreachable();
    test_idle();
    close(lfd);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
