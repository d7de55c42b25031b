/*
 * addr_test.c - unit tests for lib/mail/addr.c
 *
 * Used by: make unit / tests/run-all.
 * Interface: main().
 */
#include "harness.h"
#include "addr.h"
#include "alloc.h"

/* Parses value and checks the addresses (joined with "|"). */
static void list_case(const char *value, const char *want)
{
    struct addr_items items = { 0 };
    struct sbuf *got = sbuf_new(128);
    addr_parse_list(value, strlen(value), 100, &items);
    for (size_t i = 0; i < items.n; i++)
        sbuf_catf(got, "%s%s", i ? "|" : "", items.v[i].addr);
    EXPECT_EQ_STR(sbuf_str(got), want);
    addr_items_free(&items);
    sbuf_free(got);
}

int main(void)
{
    harness_init();
    struct sbuf *b = sbuf_new(64), *l = sbuf_new(64), *d = sbuf_new(64);

    /* split */
    EXPECT_TRUE(addr_split("user@example.com", l, d));
    EXPECT_EQ_STR(sbuf_str(l), "user");
    EXPECT_EQ_STR(sbuf_str(d), "example.com");
    EXPECT_TRUE(addr_split("a@b@c.example", l, d));
    EXPECT_EQ_STR(sbuf_str(l), "a@b");
    EXPECT_EQ_STR(sbuf_str(d), "c.example");
    EXPECT_TRUE(!addr_split("postmaster", l, d));
    EXPECT_EQ_STR(sbuf_str(l), "postmaster");
    EXPECT_EQ_STR(sbuf_str(d), "");

    /* fold */
    char a1[] = "John.Doe@Example.COM";
    addr_fold_domain(a1);
    EXPECT_EQ_STR(a1, "John.Doe@example.com");

    /* quote / unquote */
    addr_quote(b, "john.doe@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "john.doe@example.com");
    addr_quote(b, "john doe@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "\"john doe\"@example.com");
    addr_quote(b, "a\"b@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "\"a\\\"b\"@example.com");
    addr_quote(b, "a@b@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "\"a@b\"@example.com");
    addr_quote(b, ".dot@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "\".dot\"@example.com");
    addr_quote(b, "a..b@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "\"a..b\"@example.com");
    addr_quote(b, "");
    EXPECT_EQ_STR(sbuf_str(b), "");
    addr_quote(b, "@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "\"\"@example.com");
    addr_unquote(b, "\"john doe\"@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "john doe@example.com");
    addr_unquote(b, "\"a\\\"b\"@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "a\"b@example.com");
    addr_unquote(b, "\"a@b\"@example.com");
    EXPECT_EQ_STR(sbuf_str(b), "a@b@example.com");

    /* A domain holding '"' or '\\' (from a malformed header) survives
     * quote + unquote unchanged (fuzzer find). */
    {
        static const char *const odd[] = {
            "bob@exampLe.net\"Alice", "q\\@x\\y", "a b@ex\"am\\\"ple", "@\"", "x@[a\"b]",
            "\"@\\\"", "a\"b", "a@b@c\"d",
        };
        struct sbuf *q = sbuf_new(64);
        for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
            addr_quote(q, odd[i]);
            addr_unquote(b, sbuf_str(q));
            EXPECT_EQ_STR(sbuf_str(b), odd[i]);
        }
        addr_quote(q, "a b@ex\"am\\ple");
        EXPECT_EQ_STR(sbuf_str(q), "\"a b\"@ex\"am\\ple");
        /* The fuzzer's header: every address it yields round-trips. */
        static const char hdr[] = "ce A\" <alice@example.org>, bob@exampLe.net\"Alice A\"\x8f\"y"
                                  "\x8f\"y,q\\\"\" q\\ \"q\\ple.;, <>";
        struct addr_items items = { 0 };
        size_t n = addr_parse_list(hdr, sizeof(hdr) - 1, 50, &items);
        EXPECT_TRUE(n >= 1);
        bool odd_seen = false;
        for (size_t i = 0; i < items.n; i++) {
            const char *at = addr_at(items.v[i].addr);
            odd_seen |= at && strpbrk(at, "\"\\") != NULL;
            addr_quote(q, items.v[i].addr);
            addr_unquote(b, sbuf_str(q));
            EXPECT_EQ_STR(sbuf_str(b), items.v[i].addr);
        }
        EXPECT_TRUE(odd_seen);
        addr_items_free(&items);
        sbuf_free(q);
    }
    EXPECT_TRUE(!addr_needs_quote("user+tag", 8));
    EXPECT_TRUE(addr_needs_quote("a b", 3));
    EXPECT_TRUE(addr_needs_quote("", 0));

    /* header address lists */
    list_case("\"A B\" <a@b>, c@d, group: x@y;", "a@b|c@d|x@y");
    list_case("Joe (the man) <joe@example.com>", "joe@example.com");
    list_case("joe@example.com (Joe Doe)", "joe@example.com");
    list_case("\"Doe, John\" <john@example.com>, jane@example.com", "john@example.com|jane@example.com");
    list_case("<@relay1,@relay2:user@example.com>", "user@example.com");
    list_case("undisclosed-recipients:;", "");
    list_case("\"quoted local\"@example.com", "quoted local@example.com");
    list_case("<>", "");
    list_case("Broken <a@b", "a@b");
    list_case("  a@b ,, , c@d  ", "a@b|c@d");
    list_case("friends: a@x.example, B <b@x.example>; c@y.example", "a@x.example|b@x.example|c@y.example");
    list_case("user@[192.0.2.1]", "user@[192.0.2.1]");
    list_case("Folded\r\n <folded@example.com>", "folded@example.com");
    list_case("(unterminated comment a@b", "");

    /* spans point at the address text */
    struct addr_items items = { 0 };
    const char *v = "Joe <joe@x>, ann@y (c)";
    addr_parse_list(v, strlen(v), 10, &items);
    EXPECT_EQ_INT(items.n, 2);
    if (items.n == 2) {
        EXPECT_EQ_INT(items.v[0].start, 5);
        EXPECT_EQ_INT(items.v[0].len, 5);
        EXPECT_TRUE(items.v[0].angle);
        EXPECT_EQ_INT(items.v[1].start, 13);
        EXPECT_EQ_INT(items.v[1].len, 5);
        EXPECT_TRUE(!items.v[1].angle);
    }
    addr_items_free(&items);

    /* limits: item count and overlong addresses */
    addr_parse_list("a@x, b@x, c@x", 13, 2, &items);
    EXPECT_EQ_INT(items.n, 2);
    addr_items_free(&items);
    /* header_address_token_limit: "a@x" is 3 tokens, "," one more. 6
     * tokens end inside "b@x" (b @): that partial address is dropped; 7
     * take it whole; "other.example" is one token. */
    addr_parse_list_limit("a@x, b@x, c@x", 13, 100, 6, &items);
    EXPECT_EQ_INT(items.n, 1);
    if (items.n == 1)
        EXPECT_EQ_STR(items.v[0].addr, "a@x");
    addr_items_free(&items);
    addr_parse_list_limit("a@x, b@x, c@x", 13, 100, 7, &items);
    EXPECT_EQ_INT(items.n, 2);
    addr_items_free(&items);
    addr_parse_list_limit("al@other.example, bob@x", 23, 100, 5, &items);
    EXPECT_EQ_INT(items.n, 1);
    addr_items_free(&items);
    addr_parse_list_limit("<a@x>, \"B\" <b@x>", 17, 100, 0, &items);     /* 0: no limit */
    EXPECT_EQ_INT(items.n, 2);
    addr_items_free(&items);
    addr_parse_list_limit("a@x, b@x, c@x", 13, 100, 4, &items);   /* a @ x , */
    EXPECT_EQ_INT(items.n, 1);
    addr_items_free(&items);
    struct sbuf *big = sbuf_new(ADDR_MAX_LEN + 64);
    for (int i = 0; i < ADDR_MAX_LEN + 10; i++)
        sbuf_addch(big, 'x');
    sbuf_cat(big, "@example.com, ok@example.com");
    addr_parse_list(sbuf_str(big), sbuf_len(big), 10, &items);
    EXPECT_EQ_INT(items.n, 1);
    if (items.n == 1)
        EXPECT_EQ_STR(items.v[0].addr, "ok@example.com");
    addr_items_free(&items);
    sbuf_free(big);

    /* Token storage grows past its inline part (32) and its first step
     * (128) and stops at 512 tokens per address: "a@a@...@a" with 200
     * a's is 399 tokens, kept whole; with 300 it is 599, dropped, and the
     * address after it is still read. Each address in angle brackets uses
     * the second token list. */
    for (int angle = 0; angle < 2; angle++) {
        for (int n = 200; n <= 300; n += 100) {
            struct sbuf *dots = sbuf_new(1024), *want = sbuf_new(1024);
            sbuf_cat(dots, angle ? "Name <" : "");
            for (int i = 0; i < n; i++)
                sbuf_cat(want, i ? "@a" : "a");
            sbuf_cat(dots, sbuf_str(want));
            sbuf_cat(dots, angle ? ">, c@y" : ", c@y");
            addr_parse_list(sbuf_str(dots), sbuf_len(dots), 10, &items);
            EXPECT_EQ_INT(items.n, n == 200 ? 2 : 1);
            if (items.n == 2)
                EXPECT_EQ_STR(items.v[0].addr, sbuf_str(want));
            if (items.n >= 1)
                EXPECT_EQ_STR(items.v[items.n - 1].addr, "c@y");
            addr_items_free(&items);
            sbuf_free(dots);
            sbuf_free(want);
        }
    }

    sbuf_free(b);
    sbuf_free(l);
    sbuf_free(d);
    return harness_done();
}
