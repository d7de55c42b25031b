/*
 * param_support_test.c - the "implemented" mark and its reports
 *
 * Used by: make unit (run from the repository root).
 * Notes: the set of parameters the compiled table marks unsupported must be
 *        exactly the names in docs/unimplemented-parameters.txt (the one
 *        list; gen.py copies it into the table): a name added to or removed
 *        from that file without regenerating fails here. Reports are checked
 *        through log output captured from stderr.
 */
#include "harness.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "mastercf.h"
#include "param_support.h"
#include "param_table.h"
#include "sbuf.h"
#include "transport_param.h"
#include <fcntl.h>

#define LIST_FILE "docs/unimplemented-parameters.txt"

static char cap_path[] = "/tmp/param_support_test.XXXXXX";
static int cap_saved = -1;

static void cap_start(void)
{
    fflush(stderr);
    cap_saved = dup(2);
    int fd = open(cap_path, O_WRONLY | O_TRUNC);
    dup2(fd, 2);
    close(fd);
}

static const char *cap_end(void)
{
    static char buf[16384];
    fflush(stderr);
    dup2(cap_saved, 2);
    close(cap_saved);
    FILE *fp = fopen(cap_path, "r");
    size_t n = fp ? fread(buf, 1, sizeof(buf) - 1, fp) : 0;
    buf[n] = 0;
    if (fp)
        fclose(fp);
    return buf;
}

static int count_lines(const char *s, const char *needle)
{
    int n = 0;
    for (const char *p = s; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void test_table_matches_list(void)
{
    FILE *fp = fopen(LIST_FILE, "r");
    EXPECT_TRUE(fp != NULL);
    if (fp == NULL)
        return;
    char *line = NULL;
    size_t cap = 0, listed = 0, missing = 0;
    while (getline(&line, &cap, fp) >= 0) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        line[strcspn(line, " \t\n")] = 0;
        listed++;
        const struct param_def *p = param_find(line);
        if (p == NULL || p->unsupported == NULL) {
            printf("# listed in %s but not marked in the table: %s\n", LIST_FILE, line);
            missing++;
        }
    }
    free(line);
    fclose(fp);
    size_t marked = 0;
    for (size_t i = 0; i < param_table_count; i++)
        if (param_table[i].unsupported)
            marked++;
    EXPECT_EQ_INT(missing, 0);
    /* Same size and every listed name marked: the two sets are equal. */
    EXPECT_EQ_INT(marked, listed);
    printf("# %zu of %zu parameters not implemented\n", marked, param_table_count);
}

static void test_names(void)
{
    EXPECT_TRUE(param_unsupported(P_FORK_ATTEMPTS) != NULL);
    EXPECT_TRUE(param_unsupported(P_MYHOSTNAME) == NULL);
    EXPECT_TRUE(param_unsupported("policyd-spf_time_limit") == NULL);
    /* Per-transport names follow their fallback parameter. */
    EXPECT_TRUE(param_unsupported("smtp-amavis_destination_concurrency_limit") == NULL);
    EXPECT_TRUE(param_unsupported("smtp-amavis_delivery_slot_cost") != NULL);
    size_t tlen = 0;
    EXPECT_EQ_INT(transport_param_parse("smtp-amavis_destination_concurrency_failed_cohort_limit",
                                        &tlen),
                  TP_DESTINATION_CONCURRENCY_FAILED_COHORT_LIMIT);
    EXPECT_EQ_INT(tlen, strlen("smtp-amavis"));
    EXPECT_EQ_INT(transport_param_parse("relay_recipient_limit", &tlen), TP_RECIPIENT_LIMIT);
    EXPECT_EQ_INT(transport_param_parse("_recipient_limit", &tlen), -1);
    for (int i = 0; i < TP_COUNT; i++)
        EXPECT_TRUE(param_find(transport_param_fallback((enum transport_param)i)) != NULL);
}

static void test_reports(void)
{
    char dir[] = "/tmp/param_support_cf.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    struct sbuf *path = sbuf_new(64);
    sbuf_printf(path, "%s/main.cf", dir);
    FILE *fp = fopen(sbuf_str(path), "w");
    fputs("myhostname = mail.example.test\n"
          "smtp_pix_workaround_delay_time = 5s\n"
          "qmgr_fudge_factor = 100\n"               /* the default: quiet */
          "fork_attempts = 3\n"
          "smtp-amavis_delivery_slot_cost = 2\n"
          "policyd-spf_time_limit = 3600\n",
          fp);
    /* What the default ($config_directory) expands to: quiet, as in
     * Fedora's stock main.cf; a path Postern has no use for: reported. */
    fprintf(fp, "meta_directory = %s\n"
                "shlib_directory = /usr/lib64/postfix\n", dir);
    fclose(fp);
    sbuf_printf(path, "%s/master.cf", dir);
    fp = fopen(sbuf_str(path), "w");
    fputs("smtp inet n - n - - smtpd\n"
          "  -o qmgr_fudge_factor=50\n"
          "pickup unix n - n 60 1 pickup -o smtp_pix_workarounds=\n",
          fp);
    fclose(fp);
    EXPECT_EQ_INT(config_load(dir), 0);
    struct mastercf *m = NULL;
    EXPECT_EQ_INT(mastercf_load(sbuf_str(path), &m), 0);

    cap_start();
    int n = param_support_report(m, NULL, NULL);
    const char *out = cap_end();
    EXPECT_EQ_INT(n, 6);
    EXPECT_TRUE(strstr(out, "meta_directory") == NULL);
    EXPECT_TRUE(strstr(out, "main.cf:8: shlib_directory is not supported by Postern") != NULL);
    EXPECT_TRUE(strstr(out, "main.cf:2: smtp_pix_workaround_delay_time is not supported by Postern: ") != NULL);
    EXPECT_TRUE(strstr(out, "main.cf:4: fork_attempts is not supported by Postern") != NULL);
    EXPECT_TRUE(strstr(out, "main.cf:5: smtp-amavis_delivery_slot_cost is not supported") != NULL);
    EXPECT_TRUE(strstr(out, "master.cf:1: qmgr_fudge_factor is not supported by Postern") != NULL);
    EXPECT_TRUE(strstr(out, "master.cf:3: smtp_pix_workarounds is not supported by Postern") != NULL);
    EXPECT_EQ_INT(count_lines(out, "qmgr_fudge_factor"), 1);
    EXPECT_TRUE(strstr(out, "policyd-spf") == NULL);

    /* One service: main.cf plus that service's -o options only. */
    cap_start();
    n = param_support_report(m, "pickup", "unix");
    out = cap_end();
    EXPECT_EQ_INT(n, 5);
    EXPECT_TRUE(strstr(out, "qmgr_fudge_factor") == NULL);

    /* Nothing in the built-in list is unimplemented now: refusal is
     * judged against a list with two settings that still are. */
    struct sbuf *where = sbuf_new(32);
    EXPECT_TRUE(param_support_refused(m, where) == NULL);
    static const char *const test_refused[] = { P_QMGR_FUDGE_FACTOR, P_FORK_ATTEMPTS,
                                                P_BODY_CHECKS, NULL };
    param_support_set_refused(test_refused);
    const char *refused = param_support_refused(m, where);
    EXPECT_EQ_STR(refused, P_FORK_ATTEMPTS);
    EXPECT_TRUE(strstr(sbuf_str(where), "main.cf:4") != NULL);
    sbuf_reset(where);
    config_override(P_QMGR_FUDGE_FACTOR, "50");   /* a daemon's own -o */
    EXPECT_EQ_STR(param_support_refused(NULL, where), P_QMGR_FUDGE_FACTOR);
    EXPECT_TRUE(strstr(sbuf_str(where), "-o") != NULL);
    config_clear_overrides();
    config_override(P_BODY_CHECKS, "pcre:/x");      /* implemented: never refused */
    config_override(P_FORK_ATTEMPTS, "5");    /* at its default: none */
    EXPECT_TRUE(param_support_refused(NULL, where) == NULL);
    config_clear_overrides();
    param_support_set_refused(NULL);
    config_override(P_STRICT_8BITMIME, "yes");      /* implemented now */
    EXPECT_TRUE(param_support_refused(NULL, where) == NULL);
    config_clear_overrides();
    config_override(P_MESSAGE_REJECT_CHARACTERS, "\\0");   /* implemented now */
    EXPECT_TRUE(param_support_refused(NULL, where) == NULL);
    config_clear_overrides();
    config_override(P_SMTPD_MILTER_MAPS, "cidr:/x");       /* implemented now */
    EXPECT_TRUE(param_support_refused(NULL, where) == NULL);
    config_clear_overrides();
    sbuf_free(where);
    mastercf_free(m);
    sbuf_free(path);
    char cmd[200];
    snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
    EXPECT_EQ_INT(system(cmd), 0);
}

int main(void)
{
    harness_init();
    log_set_stderr(true);
    int fd = mkstemp(cap_path);
    if (fd >= 0)
        close(fd);
    test_table_matches_list();
    test_names();
    test_reports();
    unlink(cap_path);
    return harness_done();
}
