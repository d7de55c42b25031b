/*
 * dnsbl_filter_test.c - DNS list reply filters (dnsbl_filter.c)
 *
 * Used by: make unit.
 */
#include "harness.h"
#include "dnsbl_filter.h"

static const struct {
    const char *filter, *answer;
    bool match;
} cases[] = {
    { "127.0.0.2", "127.0.0.2", true },
    { "127.0.0.2", "127.0.0.3", false },
    { "127.0.0.[2..11]", "127.0.0.10", true },
    { "127.0.0.[2..11]", "127.0.0.20", false },
    { "127.0.0.[2;4]", "127.0.0.4", true },
    { "127.0.0.[2;4]", "127.0.0.3", false },
    { "127.0.[0..255].[2;4..6]", "127.0.9.5", true },
    { "127.0.0.2", "not-an-address", false },
    { "127.0.0", "127.0.0.2", false },
    { "127.0.0.[2..11", "127.0.0.3", false },
    { "127.0.0.2.5", "127.0.0.2", false },
};

int main(void)
{
    harness_init();
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        EXPECT_EQ_INT(dnsbl_filter_match(cases[i].filter, cases[i].answer), cases[i].match);
    return harness_done();
}
