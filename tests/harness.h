/*
 * harness.h - the tiny unit-test harness
 *
 * Used by: the unit test programs in tests/unit.
 * Interface: EXPECT_TRUE(), EXPECT_EQ_INT(), EXPECT_EQ_STR(), EXPECT_FATAL(),
 *            harness_enter_tmpdir(), harness_done().
 * Notes: each failed expectation prints "FAIL file:line: what"; the program
 *        ends with harness_done(), which prints "N passed, M failed" and
 *        returns the exit code. EXPECT_FATAL(expr) runs expr and passes when
 *        it calls log_fatal() or log_panic() (intercepted with longjmp).
 */
#ifndef POSTERN_HARNESS_H
#define POSTERN_HARNESS_H
#include "sys_compat.h"
#include <setjmp.h>

extern int harness_passed, harness_failed;
extern jmp_buf harness_jmp;
extern bool harness_expect_fatal;
extern char harness_fatal_text[1024];

void harness_init(void);
/* Makes /tmp/NAME.XXXXXX and changes into it (a test that works in its own
 * queue directory); harness_done() removes it. 0, or -1 when it could not. */
int harness_enter_tmpdir(const char *name);
int harness_done(void);
void harness_report(bool ok, const char *file, int line, const char *what);

#define EXPECT_TRUE(c) harness_report((c), __FILE__, __LINE__, #c)
#define EXPECT_EQ_INT(a, b)                                                                        \
    do {                                                                                           \
        long long _a = (long long)(a), _b = (long long)(b);                                        \
        char _w[256];                                                                              \
        snprintf(_w, sizeof(_w), "%s == %s (%lld vs %lld)", #a, #b, _a, _b);                       \
        harness_report(_a == _b, __FILE__, __LINE__, _w);                                          \
    } while (0)
#define EXPECT_EQ_STR(a, b)                                                                        \
    do {                                                                                           \
        const char *_a = (a), *_b = (b);                                                           \
        char _w[2600];                                                                              \
        snprintf(_w, sizeof(_w), "%s == %s (\"%.1000s\" vs \"%.1000s\")", #a, #b, _a ? _a : "(null)", \
                 _b ? _b : "(null)");                                                              \
        harness_report(_a && _b && strcmp(_a, _b) == 0, __FILE__, __LINE__, _w);                   \
    } while (0)
#define EXPECT_FATAL(expr)                                                                         \
    do {                                                                                           \
        harness_expect_fatal = true;                                                               \
        if (setjmp(harness_jmp) == 0) {                                                            \
            expr;                                                                                  \
            harness_expect_fatal = false;                                                          \
            harness_report(false, __FILE__, __LINE__, "expected fatal: " #expr);                   \
        } else {                                                                                   \
            harness_expect_fatal = false;                                                          \
            harness_report(true, __FILE__, __LINE__, #expr);                                       \
        }                                                                                          \
    } while (0)

#endif
