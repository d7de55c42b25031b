/*
 * config_test.c - unit tests for main.cf reading, expansion and typed access
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main(); prints "ok N - what" or "FAIL N - what" per check, then
 *            "N passed, N failed", and exits non-zero when a check failed.
 * Notes: each case writes a main.cf into a fresh temporary directory and
 *        loads it. Warnings are captured by pointing stderr at a file;
 *        log_fatal is caught with the fatal hook and longjmp.
 */
#include "config.h"
#include "param_table.h"
#include "alloc.h"
#include "log.h"
#include "sbuf.h"

#include <fcntl.h>
#include <setjmp.h>
#include <sys/stat.h>

static int t_n, t_fail;
static char t_dir[256];

#define CHECK(cond, what)                                                      \
    do {                                                                       \
        t_n++;                                                                 \
        if (cond)                                                              \
            printf("ok %d - %s\n", t_n, what);                                 \
        else {                                                                 \
            t_fail++;                                                          \
            printf("FAIL %d - %s (%s:%d)\n", t_n, what, __FILE__, __LINE__);   \
        }                                                                      \
    } while (0)

#define CHECK_STR(got, want, what)                                             \
    do {                                                                       \
        const char *g_ = (got), *w_ = (want);                                  \
        bool ok_ = g_ != NULL && strcmp(g_, w_) == 0;                          \
        CHECK(ok_, what);                                                      \
        if (!ok_)                                                              \
            printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", w_);   \
    } while (0)

/* ---- helpers -------------------------------------------------------------- */

static void write_main_cf(const char *text)
{
    char path[400];
    FILE *fp;

    snprintf(path, sizeof(path), "%s/main.cf", t_dir);
    fp = fopen(path, "w");
    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
        perror(path);
        exit(2);
    }
}

static int load(const char *text)
{
    write_main_cf(text);
    return config_load(t_dir);
}

/* stderr capture */
static int cap_saved = -1;
static char cap_path[400];

static void cap_start(void)
{
    int fd;

    snprintf(cap_path, sizeof(cap_path), "%s/stderr.txt", t_dir);
    fflush(stderr);
    cap_saved = dup(2);
    fd = open(cap_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || cap_saved < 0) {
        perror("capture");
        exit(2);
    }
    dup2(fd, 2);
    close(fd);
}

/* Returns what was written to stderr since cap_start (static buffer). */
static const char *cap_end(void)
{
    static char buf[8192];
    FILE *fp;
    size_t n;

    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    cap_saved = -1;
    fp = fopen(cap_path, "r");
    n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
    buf[n] = 0;
    if (fp)
        fclose(fp);
    return buf;
}

/* fatal interception */
static jmp_buf fatal_jmp;
static bool fatal_armed;
static char fatal_text[1024];

static void fatal_hook(int is_panic, const char *text)
{
    UNUSED(is_panic);
    snprintf(fatal_text, sizeof(fatal_text), "%s", text);
    if (fatal_armed) {
        fatal_armed = false;
        longjmp(fatal_jmp, 1);
    }
}

#define EXPECT_FATAL(stmt, needle, what)                                        \
    do {                                                                       \
        fatal_text[0] = 0;                                                     \
        fatal_armed = true;                                                    \
        cap_start();                                                           \
        if (setjmp(fatal_jmp) == 0) {                                          \
            stmt;                                                              \
            fatal_armed = false;                                               \
            cap_end();                                                         \
            CHECK(false, what);                                                \
        } else {                                                               \
            cap_end();                                                         \
            CHECK(strstr(fatal_text, needle) != NULL, what);                   \
            if (strstr(fatal_text, needle) == NULL)                            \
                printf("#   fatal text: \"%s\"\n", fatal_text);                \
        }                                                                      \
    } while (0)

/* ---- cases ---------------------------------------------------------------- */

static void test_table(void)
{
    const struct param_def *p;
    bool sorted = true;

    /* 831 Postfix 3.7 parameters plus 11 of the VDA quota patch (gen.py EXTRA),
     * Postern's own 6 postern_dkim_*, postern_batch_scheduling,
     * postern_delivery_priority and postern_queue_file_recycling (gen.py
     * POSTERN), Postfix's old fallback_relay and authorized_verp_clients and
     * 4 old postscreen names (gen.py EXTRA, LEGACY). */
    CHECK(param_table_count == 831 + 11 + 9 + 2 + 4,
          "table holds the 831 Postfix 3.7 parameters + 11 VDA + 9 postern_* + fallback_relay"
          " + authorized_verp_clients"
          " + 4 old postscreen names");
    p = param_find("postern_delivery_priority");
    CHECK(p && p->type == PARAM_INT && strcmp(p->dflt, "10") == 0 && p->min == 0 && p->max == 20,
          "postern_delivery_priority: a number from 0 to 20, default 10");
    p = param_find("postscreen_blacklist_action");
    CHECK(p && strcmp(p->dflt, "") == 0, "postscreen_blacklist_action, an old name, is known");
    p = param_find("fallback_relay");
    CHECK(p && strcmp(p->dflt, "") == 0, "fallback_relay, the old name, is known");
    p = param_find("authorized_verp_clients");
    CHECK(p && strcmp(p->dflt, "") == 0, "authorized_verp_clients, the old name, is known");
    p = param_find("postern_dkim_enable");
    CHECK(p && p->type == PARAM_BOOL && strcmp(p->dflt, "no") == 0, "Postern parameter in the table");
    p = param_find("virtual_overquota_bounce");
    CHECK(p && p->type == PARAM_BOOL && strcmp(p->dflt, "no") == 0, "VDA parameter in the table");
    CHECK(config_known("virtual_mailbox_limit_maps") && config_known("virtual_trash_name"),
          "VDA parameters are known");
    CHECK_STR(D_SMTPD_FORBID_BARE_NEWLINE, "yes", "bare LF policy default");
    for (size_t i = 1; i < param_table_count; i++)
        if (strcmp(param_table[i - 1].name, param_table[i].name) >= 0)
            sorted = false;
    CHECK(sorted, "table is sorted and has no duplicates");
    p = param_find("delay_warning_time");
    CHECK(p && p->type == PARAM_TIME && p->unit == 'h', "delay_warning_time is time in hours");
    p = param_find("maximal_queue_lifetime");
    CHECK(p && p->type == PARAM_TIME && p->unit == 'd', "maximal_queue_lifetime unit is days");
    p = param_find("message_size_limit");
    CHECK(p && p->type == PARAM_LONG, "message_size_limit is a long");
    p = param_find("smtpd_tls_auth_only");
    CHECK(p && p->type == PARAM_BOOL, "smtpd_tls_auth_only is a boolean");
    p = param_find("forward_path");
    CHECK(p && (p->flags & PARAM_F_RAW), "forward_path is raw");
    CHECK(param_find("no_such_parameter") == NULL, "unknown name is not found");
    CHECK_STR(D_MAIL_NAME, "Postfix", "mail_name default");
    CHECK_STR(D_COMPATIBILITY_LEVEL, "3.6", "compatibility_level default");
    CHECK_STR(D_ALIAS_MAPS, "hash:/etc/aliases", "alias_maps default");
    CHECK_STR(P_QUEUE_RUN_DELAY, "queue_run_delay", "P_ macro holds the name");
}

static void test_expansion(void)
{
    CHECK(load("myhostname = mail.example.com\n"
               "a = one\n"
               "b = $a two\n"
               "c = ${a}x $(a)y\n"
               "d = ${a?set} ${nothing?set} ${a:unset} ${nothing:unset}\n"
               "e = ${a?{yes $a}:{no}} ${nothing?{yes}:{no $a}}\n"
               "f = cost $$5 $\n"
               "g = [$undefined_name]\n"
               "h = ${{$a} == {one} ? {eq} : {ne}} ${{$compatibility_level} <level {3.6} ? {old} : {new}}\n"
               "relayhost = $b\n") == 0,
          "load expansion main.cf");
    CHECK_STR(cfg_str("b"), "one two", "$name");
    CHECK_STR(cfg_str("c"), "onex oney", "${name} and $(name)");
    CHECK_STR(cfg_str("d"), "set   unset", "${name?value} and ${name:value}");
    CHECK_STR(cfg_str("e"), "yes one no one", "${name?{t}:{f}}");
    CHECK_STR(cfg_str("f"), "cost $5 $", "$$ and a lone $");
    CHECK_STR(cfg_str("g"), "[]", "undefined name expands to empty");
    CHECK_STR(cfg_str("h"), "eq new", "${{a} op {b} ? {t} : {f}}");
    CHECK_STR(cfg_str("relayhost"), "one two", "recursive expansion");
    CHECK_STR(cfg_raw("relayhost"), "$b", "cfg_raw is not expanded");
    CHECK_STR(cfg_str("mydomain"), "example.com", "mydomain derives from myhostname");
    CHECK_STR(cfg_str("myorigin"), "mail.example.com", "default $myhostname expands");
    CHECK_STR(cfg_str("mydestination"), "mail.example.com, localhost.example.com, localhost",
              "mydestination default");
    CHECK_STR(cfg_str("append_dot_mydomain"), "no", "compat-level expression at 3.6");
    CHECK_STR(cfg_str("smtpd_timeout"), "300s", "${stress?...} default");
    CHECK_STR(cfg_str("forward_path"), D_FORWARD_PATH, "raw parameter is not expanded");
    CHECK_STR(cfg_str("no_such_parameter"), "", "unknown unset name reads as empty");
    CHECK(cfg_raw("no_such_parameter") == NULL, "cfg_raw of unknown unset name is NULL");

    char *x = cfg_expand("<$a|${b}>");

    CHECK_STR(x, "<one|one two>", "cfg_expand");
    xfree(x);

    /* Caching: same pointer until something changes; new value after set. */
    const char *p1 = cfg_str("b"), *p2 = cfg_str("b");

    CHECK(p1 == p2, "expanded value is cached");
    config_set("a", "uno");
    CHECK_STR(cfg_str("b"), "uno two", "set invalidates dependent expansions");
    CHECK_STR(p1, "one two", "old pointer stays valid after another set");
}

static void test_loop(void)
{
    CHECK(load("loop_a = x $loop_b\nloop_b = $loop_a\nfine = ok\n") == 0, "load loop main.cf");
    EXPECT_FATAL(cfg_str("loop_a"), "loop_", "expansion loop is fatal and names the parameter");
    CHECK_STR(cfg_str("fine"), "ok", "other parameters still work after a loop");
    CHECK(load("loop_a = 1\n") == 0, "reload after a fatal loop");
    CHECK_STR(cfg_str("loop_a"), "1", "no stale loop state after reload");

    /* A fatal deep inside cfg_expand() (through ${name?{..}}, ${{..}}
     * and $(..) forms) leaves nothing behind: config_load() frees what the
     * interrupted expansion held (the sanitizer build's leak check would
     * report it otherwise). */
    CHECK(load("loop_a = x ${loop_b?{$(loop_b)}}\n"
               "loop_b = ${{$loop_a} == {x} ? {t} : {f}}\n") == 0,
          "load nested loop main.cf");
    char *volatile got = NULL;

    EXPECT_FATAL(got = cfg_expand("pre ${loop_a:{a}} $(loop_b) post"), "loop_",
                 "cfg_expand() of a loop is fatal");
    CHECK(got == NULL, "cfg_expand() returned nothing after the fatal");
    EXPECT_FATAL(got = cfg_expand("${{${loop_b}} == {x} ? {y}}"), "loop_",
                 "cfg_expand() of a loop in a condition is fatal");
    CHECK(load("fine = ok\n") == 0, "reload after fatal expansions");
    got = cfg_expand("$fine ${fine?{yes}}");
    CHECK_STR(got, "ok yes", "expansion works after the fatal ones");
    xfree(got);
}

static void test_syntax(void)
{
    const char *err;
    int rc;

    cap_start();
    rc = load("# comment\n"
              "smtpd_recipient_restrictions = permit_mynetworks,\n"
              "    reject_unauth_destination   \n"
              "\n"
              "  # indented comment in the middle\n"
              "\tcheck_x\n"
              "relayhost=[mx.example.net]:587   \n"
              "this line is wrong\n"
              "  myorigin = no\n"
              "= nothing\n"
              "inet_interfaces   =   loopback-only\n"
              "empty =\n");
    err = cap_end();
    CHECK(rc == -1, "config_load returns -1 on syntax errors");
    CHECK_STR(cfg_str("smtpd_recipient_restrictions"),
              "permit_mynetworks, reject_unauth_destination check_x",
              "continuation lines join with one space across blank/comment lines");
    CHECK_STR(cfg_str("relayhost"), "[mx.example.net]:587", "no spaces around = and trailing space");
    CHECK_STR(cfg_str("inet_interfaces"), "loopback-only", "rest of the file still loads");
    CHECK(cfg_is_set("empty") && strcmp(cfg_str("empty"), "") == 0, "empty value");
    {
        char want[512];

        snprintf(want, sizeof(want), "%s/main.cf:8: missing '=' after parameter name", t_dir);
        CHECK(strstr(err, want) != NULL, "error names FILE:LINE");
        if (!strstr(err, want))
            printf("#   stderr: %s\n", err);
        snprintf(want, sizeof(want), "%s/main.cf:10: missing parameter name", t_dir);
        CHECK(strstr(err, want) != NULL, "missing name names FILE:LINE");
    }
    CHECK(!cfg_in_main_cf("myorigin", NULL, NULL),
          "an indented line continues the bad line, it does not set myorigin");
    const char *file = NULL;
    int line = 0;

    CHECK(cfg_in_main_cf("relayhost", &file, &line) && line == 7, "entry remembers its line");

    /* A file that starts with white space. */
    cap_start();
    rc = load("   relayhost = x\nmyhostname = h.example\n");
    err = cap_end();
    CHECK(rc == -1 && strstr(err, "main.cf:1: logical line must not start with white space"),
          "leading white space on the first line is an error");
    CHECK_STR(cfg_str("myhostname"), "h.example", "later lines still load");
}

static void test_types(void)
{
    long t;
    bool b;

    CHECK(config_parse_time("10", 's', &t) && t == 10, "bare number uses default unit s");
    CHECK(config_parse_time("2", 'h', &t) && t == 7200, "bare number uses default unit h");
    CHECK(config_parse_time("3d", 's', &t) && t == 3 * 86400, "explicit unit d");
    CHECK(config_parse_time("1w", 's', &t) && t == 7 * 86400, "explicit unit w");
    CHECK(config_parse_time("5m", 'd', &t) && t == 300, "explicit unit beats default");
    CHECK(!config_parse_time("5x", 's', &t), "bad unit rejected");
    CHECK(!config_parse_time("", 's', &t), "empty time rejected");
    CHECK(!config_parse_time("-5s", 's', &t), "negative time rejected");
    CHECK(!config_parse_time("99999999999999999999", 's', &t), "overflow rejected");
    CHECK(config_parse_bool("YES", &b) && b, "YES is true");
    CHECK(config_parse_bool("false", &b) && !b, "false is false");
    CHECK(!config_parse_bool("maybe", &b), "maybe is not a boolean");

    CHECK(load("delay_warning_time = 4\n"
               "maximal_queue_lifetime = 2\n"
               "minimal_backoff_time = 10m\n"
               "smtpd_tls_auth_only = yes\n"
               "message_size_limit = 52428800\n"
               "smtpd_hard_error_limit = 12\n"
               "bad_bool = maybe\n") == 0, "load typed main.cf");
    CHECK(cfg_time("delay_warning_time") == 4 * 3600, "delay_warning_time bare number is hours");
    CHECK(cfg_time("maximal_queue_lifetime") == 2 * 86400, "maximal_queue_lifetime in days");
    CHECK(cfg_time("minimal_backoff_time") == 600, "minutes");
    CHECK(cfg_time("queue_run_delay") == 300, "default 300s");
    CHECK(cfg_time("bounce_queue_lifetime") == 5 * 86400, "default 5d");
    CHECK(cfg_bool("smtpd_tls_auth_only"), "bool yes");
    CHECK(!cfg_bool("soft_bounce"), "bool default no");
    CHECK(cfg_long("message_size_limit") == 52428800L, "long");
    CHECK(cfg_int("smtpd_hard_error_limit") == 12, "int");
    CHECK(cfg_int("default_process_limit") == 100, "int default");
    EXPECT_FATAL(cfg_bool("bad_bool"), "bad_bool", "bad boolean is fatal, naming the parameter");
    config_set("default_process_limit", "0");
    EXPECT_FATAL(cfg_int("default_process_limit"), "default_process_limit",
                 "value below the minimum is fatal");
    config_set("queue_run_delay", "soon");
    EXPECT_FATAL(cfg_time("queue_run_delay"), "queue_run_delay", "bad time is fatal");
    config_set("max_use", "12abc");
    EXPECT_FATAL(cfg_int("max_use"), "max_use", "trailing junk in a number is fatal");
}

static void test_override(void)
{
    CHECK(load("relayhost = from-main\nmyhostname = m.example\n") == 0, "load override main.cf");
    config_override("relayhost", "from-o");
    CHECK_STR(cfg_str("relayhost"), "from-o", "-o override wins over main.cf");
    CHECK(cfg_is_set("relayhost"), "overridden is set");
    config_override("smtpd_banner", "$myhostname hi");
    CHECK_STR(cfg_str("smtpd_banner"), "m.example hi", "override value is expanded");

    /* Reload: main.cf values are replaced, overrides stay. */
    CHECK(load("myhostname = n.example\nmyorigin = $mydomain\n") == 0, "reload");
    CHECK_STR(cfg_str("relayhost"), "from-o", "override survives reload");
    CHECK_STR(cfg_str("smtpd_banner"), "n.example hi", "reload re-expands with new values");
    CHECK_STR(cfg_str("myorigin"), "example", "new main.cf value");
    config_clear_overrides();
    CHECK_STR(cfg_str("relayhost"), "", "after clearing overrides, default again");
    CHECK(!cfg_is_set("relayhost"), "relayhost no longer set");
    config_unset("myorigin");
    CHECK_STR(cfg_str("myorigin"), "n.example", "unset returns to default");
}

struct order_ctx {
    struct sbuf *b;
};

static void collect(const struct config_entry *e, void *ctx)
{
    struct order_ctx *o = ctx;

    sbuf_catf(o->b, "%s@%d ", e->name, e->line);
}

static void test_foreach_known(void)
{
    struct order_ctx o = { sbuf_new(64) };
    char *names[] = { "amavis", "relay", NULL };

    CHECK(load("zeta = 1\nalpha = 2\n\nmid = 3\nalpha = 4\n") == 0, "load order main.cf");
    config_foreach(collect, &o);
    CHECK_STR(sbuf_str(o.b), "zeta@1 alpha@5 mid@4 ", "config_foreach in file order, last value");
    CHECK_STR(cfg_str("alpha"), "4", "a later line wins");
    sbuf_free(o.b);

    CHECK(config_known("smtpd_banner"), "table parameter is known");
    CHECK(!config_known("amavis_destination_concurrency_limit"), "service not registered yet");
    config_set_service_names(names);
    CHECK(config_known("amavis_destination_concurrency_limit"), "per-service name is known");
    CHECK(config_known("relay_destination_rate_delay"), "per-service rate delay");
    CHECK(config_known("amavis_time_limit"), "per-service time limit");
    CHECK(!config_known("amavis_bogus_limit"), "unknown suffix");
    CHECK(!config_known("other_destination_concurrency_limit"), "unknown service");
    CHECK_STR(cfg_str("amavis_destination_concurrency_limit"), "20",
              "per-service default follows default_destination_concurrency_limit");
    config_set("amavis_destination_recipient_limit", "7");
    CHECK_STR(cfg_str_or("amavis_destination_recipient_limit", "default_destination_recipient_limit"),
              "7", "cfg_str_or takes the set value");
    CHECK_STR(cfg_str_or("nosvc_destination_recipient_limit", "default_destination_recipient_limit"),
              "50", "cfg_str_or falls back");
    CHECK(cfg_time_or("nosvc_destination_rate_delay", "default_destination_rate_delay") == 0,
          "cfg_time_or falls back");
    config_set("relay_destination_rate_delay", "2m");
    CHECK(cfg_time_or("relay_destination_rate_delay", "default_destination_rate_delay") == 120,
          "cfg_time_or uses the set value");
    CHECK(cfg_long_or("nosvc_extra_recipient_limit", "default_extra_recipient_limit") == 1000,
          "cfg_long_or falls back");
    config_set_service_names(NULL);
}

static void test_lists(void)
{
    char **l = cfg_list("a, b,,c\td  check_policy_service { inet:127.0.0.1:9998, timeout=10s }"
                        " regexp:{{/x y/ REJECT}}");
    size_t n = 0;

    while (l[n])
        n++;
    CHECK(n == 7, "list item count");
    CHECK(n == 7 && strcmp(l[0], "a") == 0 && strcmp(l[3], "d") == 0, "commas and white space split");
    CHECK(n == 7 && strcmp(l[5], "{ inet:127.0.0.1:9998, timeout=10s }") == 0,
          "braced item stays whole");
    CHECK(n == 7 && strcmp(l[6], "regexp:{{/x y/ REJECT}}") == 0, "braces inside an item");
    cfg_list_free(l);
    l = cfg_list("");
    CHECK(l[0] == NULL, "empty list");
    cfg_list_free(l);
}

static void test_runtime_defaults(void)
{
    CHECK(load("mynetworks_style = host\n") == 0, "load runtime main.cf");
    const char *host = cfg_str("myhostname");

    CHECK(strchr(host, '.') != NULL, "computed myhostname is qualified");
    CHECK(strstr(cfg_str("mynetworks"), "127.0.0.1/32") != NULL, "host style lists 127.0.0.1/32");
    config_set("mynetworks_style", "subnet");
    CHECK(strstr(cfg_str("mynetworks"), "127.0.0.0/8") != NULL, "subnet style lists 127.0.0.0/8");
    config_set("inet_interfaces", "loopback-only");
    config_set("mynetworks_style", "host");
    CHECK(strncmp(cfg_str("mynetworks"), "127.0.0.1/32", 12) == 0
          && strstr(cfg_str("mynetworks"), "192.") == NULL
          && strstr(cfg_str("mynetworks"), "10.") == NULL,
          "loopback-only limits mynetworks to loopback addresses");
    config_set("inet_interfaces", "all");
    config_set("mynetworks_style", "class");
    CHECK(strstr(cfg_str("mynetworks"), "127.0.0.0/8") != NULL, "class style lists 127.0.0.0/8");

    /* $MAIL_CONFIG is the default directory. */
    setenv("MAIL_CONFIG", t_dir, 1);
    write_main_cf("relayhost = env\n");
    CHECK(config_load(NULL) == 0, "load from $MAIL_CONFIG");
    CHECK_STR(config_dir(), t_dir, "config_dir follows $MAIL_CONFIG");
    CHECK_STR(cfg_str("relayhost"), "env", "value from $MAIL_CONFIG/main.cf");
    unsetenv("MAIL_CONFIG");
}

static void test_speed(void)
{
    struct timespec a, b;
    volatile size_t sink = 0;

    CHECK(load("myhostname = x.example\n") == 0, "load speed main.cf");
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (int i = 0; i < 1000000; i++)
        sink += strlen(cfg_str("smtpd_banner"));
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double) (b.tv_sec - a.tv_sec) + (double) (b.tv_nsec - a.tv_nsec) / 1e9;

    CHECK(sink > 0 && secs < 2.0, "one million cached cfg_str calls take under 2 s");
    printf("#   1e6 cfg_str calls: %.3f s\n", secs);
}

int main(void)
{
    snprintf(t_dir, sizeof(t_dir), "/tmp/config_test.XXXXXX");
    if (mkdtemp(t_dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    log_set_tag("config_test");
    log_set_stderr(true);
    log_close_syslog();     /* messages go to stderr only */
    log_set_fatal_hook(fatal_hook);

    test_table();
    test_expansion();
    test_loop();
    test_syntax();
    test_types();
    test_override();
    test_foreach_known();
    test_lists();
    test_runtime_defaults();
    test_speed();

    char cmd[400];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t_dir);
    printf("%d passed, %d failed\n", t_n - t_fail, t_fail);
    return t_fail ? 1 : 0;
}
