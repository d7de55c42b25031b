/*
 * smtpd_addr_test.c - unit tests for smtpd's SMTP path parser
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: smtpd_addr.c belongs to the smtpd program, not to libpostern, so
 *        it is compiled into this test directly.
 */
#include "../../smtpd/smtpd_addr.c"
#include "harness.h"

/* Parses text; checks the result code, the address and the rest. */
static void path_case(const char *text, bool strict, int want_rc, const char *want_addr,
                      const char *want_rest)
{
    struct sbuf *addr = sbuf_new(64);
    const char *rest = NULL;
    int rc = smtpd_addr_parse(text, strict, addr, &rest);
    char what[600];
    snprintf(what, sizeof(what), "parse [%.300s] rc=%d addr=[%s] rest=[%s]", text, rc,
             sbuf_str(addr), rest ? rest : "(null)");
    bool ok = rc == want_rc;
    if (ok && want_rc == SMTPD_ADDR_OK) {
        ok = strcmp(sbuf_str(addr), want_addr) == 0;
        if (want_rest)
            ok = ok && rest && strcmp(rest, want_rest) == 0;
    }
    harness_report(ok, __FILE__, __LINE__, what);
    sbuf_free(addr);
}

/*
 * The property smtpd relies on: when text parses, the external form of the
 * result, in angle brackets, parses strictly to the same address. Returns
 * false (and reports) when it does not.
 */
static bool roundtrip_holds(const char *text, bool strict, bool report)
{
    struct sbuf *addr = sbuf_new(64), *ext = sbuf_new(64), *path = sbuf_new(64);
    struct sbuf *again = sbuf_new(64);
    bool ok = true;

    if (smtpd_addr_parse(text, strict, addr, NULL) == SMTPD_ADDR_OK) {
        smtpd_addr_quote(ext, sbuf_str(addr));
        sbuf_printf(path, "<%s>", sbuf_str(ext));
        int rc = smtpd_addr_parse(sbuf_str(path), true, again, NULL);
        ok = rc == SMTPD_ADDR_TOOLONG ||
             (rc == SMTPD_ADDR_OK && strcmp(sbuf_str(again), sbuf_str(addr)) == 0);
        if (!ok || report) {
            char what[900];
            snprintf(what, sizeof(what),
                     "round trip [%.200s] -> [%.200s] -> [%.200s] rc=%d -> [%.200s]",
                     text, sbuf_str(addr), sbuf_str(path), rc, sbuf_str(again));
            harness_report(ok, __FILE__, __LINE__, what);
        }
    }
    sbuf_free(addr);
    sbuf_free(ext);
    sbuf_free(path);
    sbuf_free(again);
    return ok;
}

static void quote_case(const char *internal, const char *want)
{
    struct sbuf *out = sbuf_new(64);
    smtpd_addr_quote(out, internal);
    EXPECT_EQ_STR(sbuf_str(out), want);
    sbuf_free(out);
}

int main(void)
{
    harness_init();

    /* plain paths */
    path_case("<user@example.com>", false, SMTPD_ADDR_OK, "user@example.com", "");
    path_case("<user@example.com> SIZE=100 BODY=8BITMIME", false, SMTPD_ADDR_OK,
              "user@example.com", "SIZE=100 BODY=8BITMIME");
    path_case(" <user@example.com>", false, SMTPD_ADDR_OK, "user@example.com", "");
    path_case("<>", false, SMTPD_ADDR_OK, "", "");
    path_case("<> RET=HDRS", false, SMTPD_ADDR_OK, "", "RET=HDRS");
    path_case("<postmaster>", false, SMTPD_ADDR_OK, "postmaster", "");
    path_case("<u@[192.0.2.1]>", false, SMTPD_ADDR_OK, "u@[192.0.2.1]", "");
    path_case("<u@[IPv6:2001:db8::1]>", false, SMTPD_ADDR_OK, "u@[IPv6:2001:db8::1]", "");
    path_case("<first.last+tag@sub.example.com>", false, SMTPD_ADDR_OK,
              "first.last+tag@sub.example.com", "");

    /* quoted local parts are unquoted in internal form */
    path_case("<\"a b\"@example.com>", false, SMTPD_ADDR_OK, "a b@example.com", "");
    path_case("<\"a\\\"b\"@example.com>", false, SMTPD_ADDR_OK, "a\"b@example.com", "");
    path_case("<\"x>y\"@example.com> NOTIFY=NEVER", false, SMTPD_ADDR_OK, "x>y@example.com",
              "NOTIFY=NEVER");

    /* source routes are dropped */
    path_case("<@a.example,@b.example:u@c.example>", false, SMTPD_ADDR_OK, "u@c.example", "");
    path_case("<@a.example:u@c.example>", false, SMTPD_ADDR_OK, "u@c.example", "");
    path_case("<@a.example>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<@a.example,u@c.example>", false, SMTPD_ADDR_BAD, NULL, NULL);

    /* bare addresses: allowed unless strict_rfc821_envelopes */
    path_case("user@example.com", false, SMTPD_ADDR_OK, "user@example.com", "");
    path_case("user@example.com", true, SMTPD_ADDR_BAD, NULL, NULL);
    path_case(" <user@example.com>", true, SMTPD_ADDR_BAD, NULL, NULL);

    /* bad syntax */
    path_case("", false, SMTPD_ADDR_SYNTAX, NULL, NULL);
    path_case("   ", false, SMTPD_ADDR_SYNTAX, NULL, NULL);
    path_case("<user@example.com", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<a b@example.com>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<user@example.com>junk", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<\"unterminated@example.com>", false, SMTPD_ADDR_BAD, NULL, NULL);
    /* An empty domain parses; trivial-rewrite judges it (resolve_null_domain). */
    path_case("<user@>", false, SMTPD_ADDR_OK, "user@", "");
    path_case("<@example.com>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<user@exa mple.com>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<user@[192.0.2.1>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<us\001er@example.com>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<user@exa\tmple.com>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<us(er@example.com>", false, SMTPD_ADDR_BAD, NULL, NULL);

    /* A quoted local part holding '@' needs a domain: in internal form
     * the last '@' starts the domain (fuzzer finds). */
    path_case("\"@\"", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<\"@\">", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<\"a@b\">", true, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("\"<*@x%\"", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<\"a@b\"@example.com>", true, SMTPD_ADDR_OK, "a@b@example.com", "");
    path_case("<\"a b\">", true, SMTPD_ADDR_OK, "a b", "");

    /* Domain literals follow RFC 5321 4.1.3: IPv4, IPv6:addr, tag:dcontent */
    path_case("<user@[192.@0A.2.1]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("re@[096..>0]", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[192.0.2.256]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[192.0.2]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[192.0.2.1.5]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[1920.0.2.1]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[010.0.2.1]>", false, SMTPD_ADDR_OK, "u@[010.0.2.1]", "");
    path_case("<u@[]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[192.0.2.1]x>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[192.0.2.1]]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[IPv6:::1]>", true, SMTPD_ADDR_OK, "u@[IPv6:::1]", "");
    path_case("<u@[ipv6:2001:db8::192.0.2.1]>", true, SMTPD_ADDR_OK,
              "u@[ipv6:2001:db8::192.0.2.1]", "");
    path_case("<u@[IPv6:2001:db8::g]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[IPv6:]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[x-tag:some.content]>", true, SMTPD_ADDR_OK, "u@[x-tag:some.content]", "");
    path_case("<u@[x-:a]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[:a]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[tag:]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[tag:a b]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[tag:a@b]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("u@[tag:a>b]", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("u@[tag:a\"b]", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[tag:a\\b]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[tag:a[b]>", false, SMTPD_ADDR_BAD, NULL, NULL);
    path_case("<u@[tag:\303\251]>", false, SMTPD_ADDR_BAD, NULL, NULL);

    /* Round trip: parse, quote, parse again gives the same address. */
    {
        static const char *const texts[] = {
            "<user@example.com>", "<\"a b\"@example.com>", "<\"a\\\"b\"@example.com>",
            "<\"x>y\"@example.com>", "<\"a@b\"@example.com>", "<\".lead\"@x>",
            "<\"a..b\"@x>", "<\"\"@x>", "<\"\">", "<>", "<postmaster>", "<\"a b\">",
            "<u@[192.0.2.1]>", "<u@[IPv6:2001:db8::1]>", "<u@[tag:a.b]>",
            "<@a,@b:\"q@r\"@c>", "\"@\"", "\"<*@x%\"", "re@[096..>0]",
            "<user@[192.@0A.2.1]>", "<\"\\\\\"@x>", "<\"\303\251\"@x>",
        };
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
            roundtrip_holds(texts[i], false, true);
            roundtrip_holds(texts[i], true, false);
        }
        /* A small deterministic search over the characters that matter. */
        static const char alphabet[] = "\"@\\<>[]:.a0 ,-I6";
        unsigned long seed = 12345, bad = 0, tried = 0;
        char text[20];
        for (int n = 0; n < 300000 && bad < 5; n++) {
            seed = seed * 6364136223846793005UL + 1442695040888963407UL;
            size_t len = 1 + (seed >> 33) % 14, at = 0;
            if (n % 2)
                text[at++] = '<';       /* half of them bracketed */
            for (size_t i = 0; i < len; i++) {
                seed = seed * 6364136223846793005UL + 1442695040888963407UL;
                text[at++] = alphabet[(seed >> 33) % (sizeof(alphabet) - 1)];
            }
            if (n % 2)
                text[at++] = '>';
            text[at] = 0;
            tried++;
            if (!roundtrip_holds(text, false, false) || !roundtrip_holds(text, true, false))
                bad++;
        }
        char what[100];
        snprintf(what, sizeof(what), "round trip on %lu generated paths: %lu failures", tried, bad);
        harness_report(bad == 0, __FILE__, __LINE__, what);
    }

    /* RFC 5321 path limit: 256 octets including the brackets */
    {
        char buf[250], path[400];
        memset(buf, 'a', 242);
        buf[242] = 0;
        snprintf(path, sizeof(path), "<%s@example.com>", buf);    /* 242+12+2 = 256 */
        EXPECT_EQ_INT(strlen(path), 256);
        struct sbuf *a = sbuf_new(300);
        EXPECT_EQ_INT(smtpd_addr_parse(path, false, a, NULL), SMTPD_ADDR_OK);
        snprintf(path, sizeof(path), "<%sa@example.com>", buf);   /* 257 */
        EXPECT_EQ_INT(smtpd_addr_parse(path, false, a, NULL), SMTPD_ADDR_TOOLONG);
        snprintf(path, sizeof(path), "%sa@example.com", buf);     /* bare, 255 + 2 */
        EXPECT_EQ_INT(smtpd_addr_parse(path, false, a, NULL), SMTPD_ADDR_TOOLONG);
        sbuf_free(a);
    }

    /* external form */
    quote_case("user@example.com", "user@example.com");
    quote_case("a b@example.com", "\"a b\"@example.com");
    quote_case("a\"b@example.com", "\"a\\\"b\"@example.com");
    quote_case(".lead@example.com", "\".lead\"@example.com");
    quote_case("postmaster", "postmaster");
    quote_case("", "");

    /* xtext */
    {
        struct sbuf *o = sbuf_new(16);
        EXPECT_EQ_INT(smtpd_xtext_decode(o, "rfc822+3Bu+2Bx@example.com"), 0);
        EXPECT_EQ_STR(sbuf_str(o), "rfc822;u+x@example.com");
        EXPECT_EQ_INT(smtpd_xtext_decode(o, "bad+3"), -1);
        EXPECT_EQ_INT(smtpd_xtext_decode(o, "bad+ZZ"), -1);
        EXPECT_EQ_INT(smtpd_xtext_decode(o, "no=equals"), -1);
        sbuf_free(o);
    }
    return harness_done();
}
