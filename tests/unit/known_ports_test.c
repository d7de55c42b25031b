/*
 * known_ports_test.c - unit tests for the known_tcp_ports table (known_ports.c)
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: the services(5) fallback is checked with "smtp", which every
 *        services database has; the cases that must not reach it use names
 *        no database has.
 */
#include "known_ports.h"
#include "config.h"
#include "harness.h"
#include "params.h"
#include "sbuf.h"

struct probe {
    const char *query;
    const char *filtered;   /* known_ports_filter() */
    int number;             /* known_ports_number() */
};

static const struct {
    const char *settings;
    const char *errors;     /* what parse describes, "" when nothing */
    struct probe probes[6];
} cases[] = {
    /* Postfix's default. */
    { "lmtp=24, smtp=25, smtps=submissions=465, submission=587", "",
      { { "smtp", "25", 25 }, { "lmtp", "24", 24 }, { "smtps", "465", 465 },
        { "submissions", "465", 465 }, { "submission", "587", 587 },
        { "1234", "1234", 1234 } } },
    /* White space is optional around names and numbers; case matters. */
    { "  smtp =  2525 ,x-test= y-test =10 ", "",
      { { "smtp", "2525", 2525 }, { "x-test", "10", 10 }, { "y-test", "10", 10 },
        { "SMTP", "SMTP", -1 }, { "no-such-name-xyz", "no-such-name-xyz", -1 } } },
    /* Empty: everything goes to services(5). */
    { "", "",
      { { "smtp", "smtp", 25 }, { "x-test", "x-test", -1 }, { "65535", "65535", 65535 },
        { "65536", "65536", -1 } } },
    /* Bad entries are skipped, the good ones kept, as in Postfix. */
    { "a-test=100, a-test=200, 300=300, b-test=c-test, d-test",
      "in \"a-test=200\": duplicate service name\n"
      "in \"300=300\": numerical service name\n"
      "in \"b-test=c-test\": non-numerical service port\n"
      "in \"d-test\": not in \"name = value\" form\n",
      { { "a-test", "100", 100 }, { "b-test", "b-test", -1 }, { "300", "300", 300 } } },
    { "e-test=65536, f-test=65535, g test=1, h-test=1 2, =5, i-test=",
      "in \"e-test=65536\": port number out of range\n"
      "in \"g test=1\": whitespace in service name\n"
      "in \"h-test=1 2\": whitespace in port number\n"
      "in \"=5\": missing service name before \"=\"\n"
      "in \"i-test=\": missing port value after \"=\"\n",
      { { "e-test", "e-test", -1 }, { "f-test", "65535", 65535 }, { "g", "g", -1 } } },
    /* One bad name in a chain does not lose the good ones. */
    { "j-test = 99 = k-test = 7, ,", "in \"j-test = 99 = k-test = 7\": numerical service name\n",
      { { "j-test", "7", 7 }, { "k-test", "7", 7 }, { "99", "99", 99 } } },
};

int main(void)
{
    harness_init();
    struct sbuf *errs = sbuf_new(64);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        sbuf_reset(errs);
        struct known_ports *kp = known_ports_parse(cases[i].settings, errs);
        EXPECT_EQ_STR(sbuf_str(errs), cases[i].errors);
        for (const struct probe *p = cases[i].probes; p < cases[i].probes + 6 && p->query; p++) {
            EXPECT_EQ_STR(known_ports_filter(kp, p->query), p->filtered);
            EXPECT_EQ_INT(known_ports_number(kp, p->query), p->number);
        }
        known_ports_free(kp);
    }
    sbuf_free(errs);

    /* No table at all, and no name. */
    EXPECT_EQ_STR(known_ports_filter(NULL, "smtp"), "smtp");
    EXPECT_TRUE(known_ports_filter(NULL, NULL) == NULL);
    EXPECT_EQ_INT(known_ports_number(NULL, "smtp"), 25);
    EXPECT_EQ_INT(known_ports_number(NULL, ""), -1);
    EXPECT_EQ_INT(known_ports_number(NULL, NULL), -1);
    known_ports_free(NULL);

    /* known_ports_load() reads $known_tcp_ports: the built-in default,
     * then a main.cf value. */
    struct known_ports *kp = known_ports_load();
    EXPECT_EQ_STR(known_ports_filter(kp, "submissions"), "465");
    known_ports_free(kp);
    config_set(P_KNOWN_TCP_PORTS, "smtp = 10025, broken");
    kp = known_ports_load();
    EXPECT_EQ_INT(known_ports_number(kp, "smtp"), 10025);
    EXPECT_EQ_STR(known_ports_filter(kp, "submission"), "submission");
    known_ports_free(kp);
    return harness_done();
}
