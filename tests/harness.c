/*
 * harness.c - the tiny unit-test harness
 *
 * Used by: every unit test program.
 * Interface: see harness.h.
 */
#include "harness.h"
#include "log.h"

int harness_passed, harness_failed;
jmp_buf harness_jmp;
bool harness_expect_fatal;
char harness_fatal_text[1024];

static void harness_fatal_hook(int is_panic, const char *text)
{
    (void)is_panic;
    strlcpy(harness_fatal_text, text, sizeof(harness_fatal_text));
    if (harness_expect_fatal)
        longjmp(harness_jmp, 1);
}

void harness_init(void)
{
    log_set_fatal_hook(harness_fatal_hook);
    log_set_stderr(getenv("HARNESS_VERBOSE") != NULL);
}

void harness_report(bool ok, const char *file, int line, const char *what)
{
    if (ok)
        harness_passed++;
    else {
        harness_failed++;
        printf("FAIL %s:%d: %s\n", file, line, what);
    }
}

static char harness_tmpdir[256];

int harness_enter_tmpdir(const char *name)
{
    snprintf(harness_tmpdir, sizeof(harness_tmpdir), "/tmp/%s.XXXXXX", name);
    if (mkdtemp(harness_tmpdir) == NULL || chdir(harness_tmpdir) < 0) {
        harness_tmpdir[0] = 0;
        return -1;
    }
    return 0;
}

int harness_done(void)
{
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    int rc = harness_failed ? 1 : 0;
    if (harness_tmpdir[0]) {
        char cmd[300];
        snprintf(cmd, sizeof(cmd), "rm -rf '%s'", harness_tmpdir);
        if (chdir("/") < 0 || system(cmd) != 0)
            rc = 1;
    }
    return rc;
}
