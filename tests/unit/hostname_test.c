/*
 * hostname_test.c - hostname_valid(): Postfix's host name rules
 *
 * Used by: make unit / tests/run-all.
 * Interface: main() (tests/harness.h).
 */
#include "harness.h"
#include "hostname.h"
#include <string.h>

int main(void)
{
    harness_init();
    EXPECT_TRUE(hostname_valid("example.com", false));
    EXPECT_TRUE(hostname_valid("a-1.example", false));
    EXPECT_TRUE(hostname_valid("1a.example", false));
    EXPECT_TRUE(hostname_valid("123.example", false));
    EXPECT_TRUE(hostname_valid("host_name.example", false));
    EXPECT_TRUE(hostname_valid("localhost", false));
    /* empty, empty labels, dots at either end */
    EXPECT_TRUE(!hostname_valid("", false));
    EXPECT_TRUE(!hostname_valid("bad..example", false));
    EXPECT_TRUE(!hostname_valid(".example", false));
    EXPECT_TRUE(!hostname_valid("example.", false));
    /* a hyphen that starts or ends a label */
    EXPECT_TRUE(!hostname_valid("-bad.example", false));
    EXPECT_TRUE(!hostname_valid("bad-.example", false));
    EXPECT_TRUE(!hostname_valid("bad.-example", false));
    EXPECT_TRUE(!hostname_valid("example-", false));
    /* digits and dots only */
    EXPECT_TRUE(!hostname_valid("1.2.3.4", false));
    EXPECT_TRUE(!hostname_valid("123", false));
    /* other characters; 8-bit only when allowed */
    EXPECT_TRUE(!hostname_valid("exa mple.com", false));
    EXPECT_TRUE(!hostname_valid("exa$mple.com", false));
    EXPECT_TRUE(!hostname_valid("b\xc3\xbc" "cher.example", false));
    EXPECT_TRUE(hostname_valid("b\xc3\xbc" "cher.example", true));
    /* label and name lengths */
    char label[80];
    memset(label, 'a', 63);
    memcpy(label + 63, ".example", 9);
    EXPECT_TRUE(hostname_valid(label, false));
    memset(label, 'a', 64);
    memcpy(label + 64, ".example", 9);
    EXPECT_TRUE(!hostname_valid(label, false));
    char name[300];
    for (size_t i = 0; i < 256; i++)
        name[i] = i % 10 == 9 ? '.' : 'a';
    name[255] = 'a';
    name[256] = 0;
    EXPECT_TRUE(!hostname_valid(name, false));
    name[255] = 0;
    EXPECT_TRUE(hostname_valid(name, false));
    return harness_done();
}
