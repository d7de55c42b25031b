/*
 * mail_env_test.c - unit tests for lib/mail/mail_env.c
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: import_environment is set with config_set(); the environment is
 *        this process's own.
 */
#include "mail_env.h"
#include "config.h"
#include "harness.h"
#include "log.h"

extern char **environ;

static size_t env_count(void)
{
    size_t n = 0;

    for (char **e = environ; e && *e; e++)
        n++;
    return n;
}

static void test_list(void)
{
    char **l = mail_env_list("TZ, LANG=C { NAME=a b,c }\t{X=1}  MAIL_CONFIG { Y = 2 } { Z }");

    EXPECT_EQ_STR(l[0], "TZ");
    EXPECT_EQ_STR(l[1], "LANG=C");
    EXPECT_EQ_STR(l[2], "NAME=a b,c");
    EXPECT_EQ_STR(l[3], "X=1");
    EXPECT_EQ_STR(l[4], "MAIL_CONFIG");
    EXPECT_EQ_STR(l[5], "Y=2");
    EXPECT_EQ_STR(l[6], "Z");
    EXPECT_TRUE(l[7] == NULL);
    cfg_list_free(l);
    l = mail_env_list("");
    EXPECT_TRUE(l[0] == NULL);
    cfg_list_free(l);
}

/* NAME items take this process's value (left out when unset), NAME=value
 * items are kept as given, unusable names are left out. */
static void test_resolve(void)
{
    setenv("TZ", "UTC", 1);
    unsetenv("POSTERN_UNSET_X");
    config_set(P_EXPORT_ENVIRONMENT, "TZ LANG=C A=b=c =x { A B=c } {A\tB} POSTERN_UNSET_X {E=}");
    char **r = mail_env_resolve(P_EXPORT_ENVIRONMENT);
    EXPECT_EQ_STR(r[0], "TZ=UTC");
    EXPECT_EQ_STR(r[1], "LANG=C");
    EXPECT_EQ_STR(r[2], "A=b=c");
    EXPECT_EQ_STR(r[3], "E=");
    EXPECT_TRUE(r[4] == NULL);
    cfg_list_free(r);
    config_set(P_EXPORT_ENVIRONMENT, "");
    r = mail_env_resolve(P_EXPORT_ENVIRONMENT);
    EXPECT_TRUE(r[0] == NULL);
    cfg_list_free(r);
}

static void test_import(void)
{
    setenv("TZ", "Europe/Berlin", 1);
    setenv("MAIL_CONFIG", "/etc/pa", 1);
    setenv("LD_LIBRARY_PATH", "/tmp/evil", 1);
    setenv("http_proxy", "http://proxy:3128", 1);
    setenv("LANG", "de_DE.UTF-8", 1);
    unsetenv("DISPLAY");
    config_set(P_IMPORT_ENVIRONMENT, "MAIL_CONFIG MAIL_DEBUG TZ DISPLAY LANG=C { SPACED=a b }");
    mail_env_import();
    EXPECT_EQ_STR(getenv("TZ"), "Europe/Berlin");
    EXPECT_EQ_STR(getenv("MAIL_CONFIG"), "/etc/pa");
    EXPECT_EQ_STR(getenv("LANG"), "C");
    EXPECT_EQ_STR(getenv("SPACED"), "a b");
    EXPECT_TRUE(getenv("LD_LIBRARY_PATH") == NULL);
    EXPECT_TRUE(getenv("http_proxy") == NULL);
    EXPECT_TRUE(getenv("DISPLAY") == NULL);     /* listed, but was not set */
    EXPECT_TRUE(getenv("PATH") == NULL);
    EXPECT_EQ_INT((int) env_count(), 4);

    /* Again with a shorter list (master at reload): what is gone stays gone. */
    config_set(P_IMPORT_ENVIRONMENT, "TZ, =bad, B AD, LD_LIBRARY_PATH");
    mail_env_import();
    EXPECT_EQ_STR(getenv("TZ"), "Europe/Berlin");
    EXPECT_TRUE(getenv("MAIL_CONFIG") == NULL);
    EXPECT_TRUE(getenv("LD_LIBRARY_PATH") == NULL);
    EXPECT_EQ_INT((int) env_count(), 1);

    /* An empty list empties the environment. */
    config_set(P_IMPORT_ENVIRONMENT, "");
    mail_env_import();
    EXPECT_EQ_INT((int) env_count(), 0);
}

static void test_update(void)
{
    setenv("KEEP", "1", 1);
    setenv("TZ", "UTC", 1);
    config_set(P_IMPORT_ENVIRONMENT, "TZ LANG=C MAIL_CONFIG {A=x, y}");
    mail_env_update();
    EXPECT_EQ_STR(getenv("KEEP"), "1");         /* not a privileged program: kept */
    EXPECT_EQ_STR(getenv("TZ"), "UTC");
    EXPECT_EQ_STR(getenv("LANG"), "C");
    EXPECT_EQ_STR(getenv("A"), "x, y");
    EXPECT_TRUE(getenv("MAIL_CONFIG") == NULL);
}

int main(void)
{
    harness_init();
    log_set_tag("postfix/mail_env_test");
    log_close_syslog();
    test_list();
    test_resolve();
    test_import();
    test_update();
    return harness_done();
}
