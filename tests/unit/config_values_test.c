/*
 * config_values_test.c - unit tests for lib/mail/config_values.c
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: config_value_problem() only; config_values_check() is exercised
 *        through postfix check by tests/e2e/bad_values_test.sh.
 */
#include "config_values.h"
#include "config.h"
#include "harness.h"
#include "log.h"
#include "params.h"
#include "sbuf.h"

static const char *kind;
static struct sbuf *why;

static bool bad(const char *name, const char *value)
{
    kind = config_value_problem(name, value, why);
    return kind != NULL;
}

int main(void)
{
    harness_init();
    log_set_tag("postfix/config_values_test");
    log_close_syslog();
    why = sbuf_new(64);
    /* Booleans. */
    EXPECT_TRUE(!bad(P_DISABLE_VRFY_COMMAND, "yes"));
    EXPECT_TRUE(!bad(P_DISABLE_VRFY_COMMAND, "No"));
    EXPECT_TRUE(bad(P_DISABLE_VRFY_COMMAND, "maybe"));
    EXPECT_EQ_STR(kind, "boolean");
    EXPECT_EQ_STR(sbuf_str(why), "yes or no");
    EXPECT_TRUE(bad(P_DISABLE_VRFY_COMMAND, ""));
    /* Numbers and their bounds. */
    EXPECT_TRUE(!bad(P_MESSAGE_SIZE_LIMIT, "10240000"));
    EXPECT_TRUE(!bad(P_MESSAGE_SIZE_LIMIT, " 0 "));
    EXPECT_TRUE(bad(P_MESSAGE_SIZE_LIMIT, "12k"));
    EXPECT_EQ_STR(kind, "numerical");
    EXPECT_EQ_STR(sbuf_str(why), "a whole number of at least 0");
    EXPECT_TRUE(bad(P_MESSAGE_SIZE_LIMIT, "-1"));
    EXPECT_TRUE(bad(P_MESSAGE_SIZE_LIMIT, "99999999999999999999"));
    EXPECT_TRUE(!bad(P_HASH_QUEUE_DEPTH, "16"));
    EXPECT_TRUE(bad(P_HASH_QUEUE_DEPTH, "0"));
    EXPECT_EQ_STR(sbuf_str(why), "a whole number from 1 to 16");
    EXPECT_TRUE(bad(P_SMTPD_RECIPIENT_LIMIT, "4294967296"));   /* an int */
    /* Times: units, bounds in seconds, a parameter's own default unit. */
    EXPECT_TRUE(!bad(P_SMTPD_TIMEOUT, "300s"));
    EXPECT_TRUE(!bad(P_SMTPD_TIMEOUT, "5m"));
    EXPECT_TRUE(bad(P_SMTPD_TIMEOUT, "0"));
    EXPECT_EQ_STR(kind, "time");
    EXPECT_EQ_STR(sbuf_str(why), "a number and an optional unit (s, m, h, d or w) of at least 1s");
    EXPECT_TRUE(bad(P_SMTPD_TIMEOUT, "5x"));
    EXPECT_TRUE(!bad(P_MAXIMAL_QUEUE_LIFETIME, "5"));
    EXPECT_TRUE(bad(P_MAXIMAL_QUEUE_LIFETIME, "5 days"));
    EXPECT_EQ_STR(sbuf_str(why), "a number and an optional unit (s, m, h, d or w); "
                  "a number alone counts in d");
    /* TRANSPORT_suffix names follow their fallback parameter. */
    EXPECT_TRUE(!bad("relay_destination_concurrency_limit", "4"));
    EXPECT_TRUE(bad("relay_destination_concurrency_limit", "0"));
    EXPECT_EQ_STR(sbuf_str(why), "a whole number of at least 1");
    EXPECT_TRUE(bad("smtp-amavis_destination_rate_delay", "soon"));
    /* The two mail_sched settings are judged here too (mail_sched_check()
     * reports them). */
    EXPECT_TRUE(!bad(P_POSTERN_DELIVERY_PRIORITY, "20"));
    EXPECT_TRUE(bad(P_POSTERN_DELIVERY_PRIORITY, "high"));
    EXPECT_EQ_STR(sbuf_str(why), "a whole number from 0 to 20");
    EXPECT_TRUE(bad(P_POSTERN_BATCH_SCHEDULING, "maybe"));
    EXPECT_EQ_STR(kind, "boolean");
    /* Not checked: strings, unknown names. */
    EXPECT_TRUE(!bad(P_MYHOSTNAME, "!!"));
    EXPECT_TRUE(!bad("no_such_parameter", "x"));
    sbuf_free(why);
    return harness_done();
}
