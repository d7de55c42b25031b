/*
 * smtp_addr_test.c - unit tests for the smtp agent's next-hop parser, MX
 *                    ordering, reply codes and xtext encoding
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: smtp_addr.c belongs to the smtp program, not to libpostern, so it
 *        is compiled into this test directly.
 */
#include "../../smtp/smtp_addr.c"
#include "alloc.h"
#include "harness.h"

/* Parses text; checks kind, host, port and no_mx, or a failure. */
static void dest_case(int line, const char *text, bool lmtp, int want_rc, int kind,
                      const char *host, const char *port, bool no_mx)
{
    struct smtp_dest d;
    struct sbuf *why = sbuf_new(64);
    int rc = smtp_dest_parse(text, lmtp, lmtp ? "24" : "smtp", &d, why);
    char what[512];
    snprintf(what, sizeof(what), "dest [%s]%s rc=%d kind=%d host=%s port=%s no_mx=%d why=%s",
             text, lmtp ? " (lmtp)" : "", rc, rc == 0 ? (int)d.kind : -1,
             rc == 0 ? d.host : "-", rc == 0 && d.port ? d.port : "-", rc == 0 ? d.no_mx : -1,
             sbuf_str(why));
    bool ok = rc == want_rc;
    if (ok && rc == 0) {
        ok = (int)d.kind == kind && strcmp(d.host, host) == 0 && d.no_mx == no_mx
             && ((port == NULL && d.port == NULL)
                 || (port && d.port && strcmp(port, d.port) == 0));
    }
    harness_report(ok, __FILE__, line, what);
    if (rc == 0)
        smtp_dest_free(&d);
    sbuf_free(why);
}

static void test_dest_parse(void)
{
    dest_case(__LINE__, "example.com", false, 0, SMTP_DEST_INET, "example.com", "smtp", false);
    dest_case(__LINE__, "example.com:2525", false, 0, SMTP_DEST_INET, "example.com", "2525", false);
    dest_case(__LINE__, "[mail.example.com]", false, 0, SMTP_DEST_INET, "mail.example.com", "smtp",
              true);
    dest_case(__LINE__, "[127.0.0.1]:10025", false, 0, SMTP_DEST_INET, "127.0.0.1", "10025", true);
    dest_case(__LINE__, "[ipv6:2001:db8::1]:26", false, 0, SMTP_DEST_INET, "2001:db8::1", "26",
              true);
    dest_case(__LINE__, "[2001:db8::1]", false, 0, SMTP_DEST_INET, "2001:db8::1", "smtp", true);
    dest_case(__LINE__, "inet:[127.0.0.1]:25", false, 0, SMTP_DEST_INET, "127.0.0.1", "25", true);
    dest_case(__LINE__, "example.com:submission", false, 0, SMTP_DEST_INET, "example.com",
              "submission", false);
    /* LMTP: never MX, default port 24, unix: sockets */
    dest_case(__LINE__, "inet:localhost:2003", true, 0, SMTP_DEST_INET, "localhost", "2003", true);
    dest_case(__LINE__, "localhost", true, 0, SMTP_DEST_INET, "localhost", "24", true);
    dest_case(__LINE__, "unix:private/dovecot-lmtp", true, 0, SMTP_DEST_UNIX,
              "private/dovecot-lmtp", NULL, true);
    /* errors */
    dest_case(__LINE__, "unix:/var/run/lmtp", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "[127.0.0.1", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "[127.0.0.1]x", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "2001:db8::1", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "example.com:0", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "example.com:70000", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "example.com:", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "exa mple.com", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "[]", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "bad/host", false, -1, 0, NULL, NULL, false);
    dest_case(__LINE__, "unix:", true, -1, 0, NULL, NULL, false);
}

static void test_dest_list(void)
{
    struct smtp_dest *v;
    struct sbuf *why = sbuf_new(64);
    int n = smtp_dest_list_parse(" [a.example]:25, b.example  c.example:26,", false, "smtp", &v,
                                 why);
    EXPECT_EQ_INT(n, 3);
    if (n == 3) {
        EXPECT_EQ_STR(v[0].host, "a.example");
        EXPECT_TRUE(v[0].no_mx);
        EXPECT_EQ_STR(v[1].host, "b.example");
        EXPECT_EQ_STR(v[1].port, "smtp");
        EXPECT_EQ_STR(v[2].port, "26");
        smtp_dest_list_free(v, n);
    }
    EXPECT_EQ_INT(smtp_dest_list_parse(" , ", false, "smtp", &v, why), -1);
    EXPECT_EQ_INT(smtp_dest_list_parse("good.example, [bad", false, "smtp", &v, why), -1);
    sbuf_free(why);
}

/* A deterministic "random" source: always the last index (reverses). */
static unsigned rnd_last(unsigned n)
{
    return n - 1;
}
static unsigned smtp_test_rand(unsigned n)
{
    return (unsigned)(random() % n);
}
static unsigned rnd_first(unsigned n)
{
    (void)n;
    return 0;
}

static struct smtp_mx *mx_make(const char *spec, size_t *n)
{
    /* "host/pref host/pref ..." */
    struct smtp_mx *v = xcalloc(16, sizeof(*v));
    *n = 0;
    char *copy = xstrdup(spec), *save = NULL;
    for (char *w = strtok_r(copy, " ", &save); w; w = strtok_r(NULL, " ", &save)) {
        char *slash = strchr(w, '/');
        *slash = 0;
        v[*n].host = xstrdup(w);
        v[*n].pref = (int)strtol(slash + 1, NULL, 10);
        (*n)++;
    }
    xfree(copy);
    return v;
}

static void mx_order(struct sbuf *out, struct smtp_mx *v, size_t n)
{
    sbuf_reset(out);
    for (size_t i = 0; i < n; i++)
        sbuf_catf(out, "%s%s/%d", i ? " " : "", v[i].host, v[i].pref);
}

static void mx_free(struct smtp_mx *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        xfree(v[i].host);
    xfree(v);
}

static void test_mx_sort(void)
{
    struct sbuf *o = sbuf_new(128);
    size_t n;
    struct smtp_mx *v = mx_make("c/30 a/10 b/20 a2/10", &n);
    smtp_mx_sort(v, n, NULL);
    mx_order(o, v, n);
    EXPECT_EQ_STR(sbuf_str(o), "a/10 a2/10 b/20 c/30");     /* stable without shuffle */
    mx_free(v, n);

    /* Shuffling changes only the order within one preference. */
    v = mx_make("x1/10 y/5 x2/10 x3/10 z/20", &n);
    smtp_mx_sort(v, n, rnd_first);
    mx_order(o, v, n);
    EXPECT_TRUE(strncmp(sbuf_str(o), "y/5 ", 4) == 0);
    EXPECT_TRUE(strstr(sbuf_str(o), " z/20") != NULL && o->data[o->len - 1] == '0');
    bool all = strstr(sbuf_str(o), "x1/10") && strstr(sbuf_str(o), "x2/10")
               && strstr(sbuf_str(o), "x3/10");
    EXPECT_TRUE(all);
    struct sbuf *o2 = sbuf_new(128);
    mx_free(v, n);
    v = mx_make("x1/10 y/5 x2/10 x3/10 z/20", &n);
    smtp_mx_sort(v, n, rnd_last);
    mx_order(o2, v, n);
    EXPECT_EQ_STR(sbuf_str(o2), "y/5 x1/10 x2/10 x3/10 z/20");
    mx_free(v, n);

    /* Over many real shuffles, each of three equal MX hosts comes first. */
    int first_seen[3] = { 0, 0, 0 };
    int backup_last = 0;
    srandom(42);
    for (int t = 0; t < 300; t++) {
        v = mx_make("m0/10 m1/10 m2/10 backup/20", &n);
        smtp_mx_sort(v, n, smtp_test_rand);
        first_seen[v[0].host[1] - '0']++;
        backup_last += strcmp(v[3].host, "backup") == 0;
        mx_free(v, n);
    }
    EXPECT_EQ_INT(backup_last, 300);
    EXPECT_TRUE(first_seen[0] > 50 && first_seen[1] > 50 && first_seen[2] > 50);
    sbuf_free(o);
    sbuf_free(o2);
}

static void test_mx_self(void)
{
    size_t n;
    struct smtp_mx *v = mx_make("a/10 b/20 me.example/20 c/30", &n);
    size_t k = smtp_mx_truncate_self(v, n, "ME.example.");
    EXPECT_EQ_INT(k, 1);        /* b/20 is not better than us: dropped too */
    EXPECT_EQ_STR(v[0].host, "a");
    mx_free(v, k);
    v = mx_make("me.example/10 b/20", &n);
    EXPECT_EQ_INT(smtp_mx_truncate_self(v, n, "me.example"), 0);
    xfree(v);
    v = mx_make("a/10 b/20", &n);
    EXPECT_EQ_INT(smtp_mx_truncate_self(v, n, "me.example"), 2);
    mx_free(v, n);
    EXPECT_TRUE(smtp_host_equal("Mail.Example.", "mail.example"));
    EXPECT_TRUE(!smtp_host_equal("mail.example", "mail.example.com"));
}

/* smtp_address_preference: the preferred family first within equal MX
 * preference, order otherwise kept. */
static void test_addr_prefer(void)
{
    struct smtp_addr v[] = {
        { .addr = "a6", .family = AF_INET6, .pref = 10 }, { .addr = "a4", .family = AF_INET, .pref = 10 },
        { .addr = "b6", .family = AF_INET6, .pref = 10 }, { .addr = "b4", .family = AF_INET, .pref = 10 },
        { .addr = "c6", .family = AF_INET6, .pref = 20 }, { .addr = "c4", .family = AF_INET, .pref = 20 },
    };
    smtp_addr_prefer(v, ARRAY_LEN(v), AF_INET);
    const char *want[] = { "a4", "b4", "a6", "b6", "c4", "c6" };
    for (size_t i = 0; i < ARRAY_LEN(v); i++)
        EXPECT_EQ_STR(v[i].addr, want[i]);
    smtp_addr_prefer(v, ARRAY_LEN(v), AF_INET6);
    const char *want6[] = { "a6", "b6", "a4", "b4", "c6", "c4" };
    for (size_t i = 0; i < ARRAY_LEN(v); i++)
        EXPECT_EQ_STR(v[i].addr, want6[i]);
    smtp_addr_prefer(v, ARRAY_LEN(v), 0);
    EXPECT_EQ_STR(v[0].addr, "a6");
    int f = -1;
    EXPECT_EQ_INT(smtp_addr_pref_parse("ipv4", &f), 0);
    EXPECT_EQ_INT(f, AF_INET);
    EXPECT_EQ_INT(smtp_addr_pref_parse("IPv6", &f), 0);
    EXPECT_EQ_INT(f, AF_INET6);
    EXPECT_EQ_INT(smtp_addr_pref_parse("any", &f), 0);
    EXPECT_EQ_INT(f, 0);
    EXPECT_EQ_INT(smtp_addr_pref_parse("ipv5", &f), -1);
}

static void test_reply_code(void)
{
    struct sbuf *d = sbuf_new(16);
    EXPECT_EQ_INT(smtp_reply_code("250 2.1.5 Ok", d), 250);
    EXPECT_EQ_STR(sbuf_str(d), "2.1.5");
    EXPECT_EQ_INT(smtp_reply_code("550-5.1.1 no such user", d), 550);
    EXPECT_EQ_STR(sbuf_str(d), "5.1.1");
    EXPECT_EQ_INT(smtp_reply_code("451 try later", d), 451);
    EXPECT_EQ_STR(sbuf_str(d), "4.0.0");
    EXPECT_EQ_INT(smtp_reply_code("550 4.1.1 class mismatch", d), 550);
    EXPECT_EQ_STR(sbuf_str(d), "5.0.0");
    EXPECT_EQ_INT(smtp_reply_code("354 go ahead", d), 354);
    EXPECT_EQ_INT(smtp_reply_code("220", d), 220);
    EXPECT_EQ_INT(smtp_reply_code("25 short", d), -1);
    EXPECT_EQ_INT(smtp_reply_code("250x", d), -1);
    EXPECT_EQ_INT(smtp_reply_code("150 nope", d), -1);
    EXPECT_EQ_INT(smtp_reply_code("hello", d), -1);
    sbuf_free(d);
}

static void test_xtext(void)
{
    struct sbuf *o = sbuf_new(32);
    smtp_xtext_encode(o, "a+b=c d\x01~");
    EXPECT_EQ_STR(sbuf_str(o), "a+2Bb+3Dc+20d+01~");
    sbuf_free(o);
}

int main(void)
{
    harness_init();
    test_dest_parse();
    test_dest_list();
    test_mx_sort();
    test_mx_self();
    test_addr_prefer();
    test_reply_code();
    test_xtext();
    return harness_done();
}
