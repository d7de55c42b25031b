/*
 * config_unused_test.c - which main.cf and master.cf settings are unused
 *
 * Used by: make unit.
 * Notes: a real main.cf and master.cf in a temp directory; the warnings are
 *        captured from stderr (log_warn) and compared line by line.
 */
#include "harness.h"
#include "config.h"
#include "config_unused.h"
#include "log.h"
#include "mastercf.h"
#include "sbuf.h"
#include <fcntl.h>

static char cap_path[] = "/tmp/config_unused_test.XXXXXX";
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

static void write_file(const char *dir, const char *name, const char *text)
{
    struct sbuf *p = sbuf_new(64);
    sbuf_printf(p, "%s/%s", dir, name);
    FILE *fp = fopen(sbuf_str(p), "w");
    fputs(text, fp);
    fclose(fp);
    sbuf_free(p);
}

/* Only names containing "builtin" are known (the postconf-style hook). */
static bool only_builtin(const char *name)
{
    return strstr(name, "builtin") != NULL;
}

int main(void)
{
    harness_init();
    log_set_stderr(true);
    int fd = mkstemp(cap_path);
    EXPECT_TRUE(fd >= 0);
    close(fd);
    char dir[] = "/tmp/config_unused_cf.XXXXXX";
    EXPECT_TRUE(mkdtemp(dir) != NULL);
    write_file(dir, "main.cf",
               "myhostname = mail.example.test\n"
               "typo_parameter = 1\n"                          /* unused */
               "smtpd_sender_restrictions = $mua_sender\n"
               "mua_helo = permit\n"                            /* used by a -o */
               "smtpd_restriction_classes = main_class\n"
               "main_class = permit\n"                          /* a class */
               "builtin_thing = x\n"
               "smtpd_per_record_deadline = yes\n");          /* a default refers to it */
    write_file(dir, "master.cf",
               "smtp inet n - n - - smtpd\n"
               "submission inet n - n - - smtpd\n"
               "  -o smtpd_bind_address=127.0.0.1\n"            /* unused */
               "  -o mua_sender=permit\n"                       /* main.cf refers to it */
               "  -o mua_client=reject\n"                       /* another -o refers to it */
               "  -o smtpd_client_restrictions=${mua_client}\n"
               "  -o smtpd_helo_restrictions=$mua_helo\n"
               "  -o smtpd_restriction_classes=o_class\n"
               "  -o o_class=permit\n"
               "  -o submission_destination_concurrency_limit=2\n");  /* per-service */
    EXPECT_EQ_INT(config_load(dir), 0);
    struct sbuf *path = sbuf_new(64);
    sbuf_printf(path, "%s/master.cf", dir);
    struct mastercf *m = NULL;
    EXPECT_EQ_INT(mastercf_load(sbuf_str(path), &m), 0);
    char **names = mastercf_service_names(m);
    config_set_service_names(names);
    cfg_list_free(names);

    struct sbuf *want = sbuf_new(256);
    sbuf_printf(want, "%s/main.cf: unused parameter: typo_parameter=1\n", dir);
    cap_start();
    EXPECT_EQ_INT(config_unused_report(m, CONFIG_UNUSED_MAIN, NULL), 2);
    const char *out = cap_end();
    EXPECT_TRUE(strstr(out, sbuf_str(want)) != NULL);
    sbuf_printf(want, "%s/main.cf: unused parameter: builtin_thing=x\n", dir);
    EXPECT_TRUE(strstr(out, sbuf_str(want)) != NULL);
    EXPECT_TRUE(strstr(out, "mua_helo") == NULL && strstr(out, "main_class") == NULL);
    EXPECT_TRUE(strstr(out, "per_record_deadline") == NULL);

    cap_start();
    EXPECT_EQ_INT(config_unused_report(m, CONFIG_UNUSED_MASTER, NULL), 1);
    out = cap_end();
    sbuf_printf(want, "%s/master.cf: unused parameter: smtpd_bind_address=127.0.0.1\n", dir);
    EXPECT_TRUE(strstr(out, sbuf_str(want)) != NULL);
    EXPECT_TRUE(strstr(out, "mua_") == NULL && strstr(out, "o_class") == NULL
                && strstr(out, "submission_destination") == NULL);

    /* A caller's own idea of what is built in (postconf's). */
    cap_start();
    /* typo_parameter and smtpd_restriction_classes: neither has "builtin"
     * in its name, and no default refers to them; built-in defaults refer
     * to $myhostname and $smtpd_sender_restrictions, so those are used. */
    EXPECT_EQ_INT(config_unused_report(m, CONFIG_UNUSED_MAIN, only_builtin), 2);
    out = cap_end();
    EXPECT_TRUE(strstr(out, "typo_parameter=1") != NULL);
    EXPECT_TRUE(strstr(out, "smtpd_restriction_classes") != NULL);
    EXPECT_TRUE(strstr(out, "myhostname") == NULL);
    EXPECT_TRUE(strstr(out, "builtin_thing") == NULL);

    /* No master.cf at all: nothing refers to mua_helo any more. */
    cap_start();
    EXPECT_EQ_INT(config_unused_report(NULL, CONFIG_UNUSED_MAIN | CONFIG_UNUSED_MASTER, NULL), 3);
    out = cap_end();
    EXPECT_TRUE(strstr(out, "unused parameter: mua_helo=permit") != NULL);

    mastercf_free(m);
    unlink(sbuf_str(path));
    sbuf_printf(path, "%s/main.cf", dir);
    unlink(sbuf_str(path));
    rmdir(dir);
    sbuf_free(path);
    sbuf_free(want);
    unlink(cap_path);
    return harness_done();
}
