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

int harness_done(void)
{
    printf("%d passed, %d failed\n", harness_passed, harness_failed);
    return harness_failed ? 1 : 0;
}
