/*
 * smtp_sasl_test.c - unit tests for the smtp client's SASL password lookup:
 *                    the next-hop key and Postfix's key order
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: smtp_sasl.c and smtp_addr.c belong to the smtp program, so they
 *        are compiled into this test directly. The table is a real inline:
 *        map; the exchange itself is covered by
 *        tests/e2e/smtp_sasl_client_test.sh.
 */
#include "../../smtp/smtp_addr.c"
#include "../../smtp/smtp_sasl.c"
#include "alloc.h"
#include "harness.h"

static void key_case(int line, const char *text, bool lmtp, const char *want)
{
    struct smtp_dest d;
    struct sbuf *why = sbuf_new(64);
    const char *dflt = lmtp ? "24" : "smtp";
    char *got = NULL;
    if (smtp_dest_parse(text, lmtp, dflt, &d, why) == 0) {
        got = smtp_sasl_dest_key(&d, lmtp, dflt);
        smtp_dest_free(&d);
    }
    char what[256];
    snprintf(what, sizeof(what), "dest key of %s: got %s, want %s", text, got ? got : "(none)",
             want);
    harness_report(got && strcmp(got, want) == 0, __FILE__, line, what);
    xfree(got);
    sbuf_free(why);
}

static void find_case(int line, struct maps *m, bool sender_dep, const char *sender,
                      const char *host, const char *dest, const char *want)
{
    int err = -1;
    const char *got = smtp_sasl_passwd_find(m, sender_dep, sender, host, dest, &err);
    char what[256];
    snprintf(what, sizeof(what), "sender=%s host=%s dest=%s: got %s, want %s", sender, host, dest,
             got ? got : "(none)", want ? want : "(none)");
    bool ok = err == 0 && ((got == NULL && want == NULL) || (got && want && !strcmp(got, want)));
    harness_report(ok, __FILE__, line, what);
}

int main(void)
{
    harness_init();
    log_set_tag("postfix/smtp_sasl_test");
    log_close_syslog();

    key_case(__LINE__, "[127.0.0.1]:2525", false, "[127.0.0.1]:2525");
    key_case(__LINE__, "[mail.isp.example]", false, "[mail.isp.example]");
    key_case(__LINE__, "[mail.isp.example]:submission", false, "[mail.isp.example]:submission");
    key_case(__LINE__, "isp.example", false, "isp.example");
    key_case(__LINE__, "isp.example:587", false, "isp.example:587");

    struct maps *m = maps_create("smtp_sasl_password_maps",
                                 "inline:{ alice@example.org=a:1, @example.org=dom:2, "
                                 "mx.isp.example=host:3, { [relay.isp.example]:587 = dest:4 }, "
                                 "isp.example=domain:5 }",
                                 DICT_F_FOLD);
    /* sender first, then @domain, only with sender-dependent authentication */
    find_case(__LINE__, m, true, "alice@example.org", "mx.isp.example", "isp.example", "a:1");
    find_case(__LINE__, m, true, "bob@example.org", "mx.isp.example", "isp.example", "dom:2");
    find_case(__LINE__, m, false, "alice@example.org", "mx.isp.example", "isp.example", "host:3");
    /* the server's host name before the next hop */
    find_case(__LINE__, m, true, "carol@other.example", "mx.isp.example", "isp.example", "host:3");
    find_case(__LINE__, m, false, "", "mx2.isp.example", "isp.example", "domain:5");
    /* the next hop as written, brackets and port included */
    find_case(__LINE__, m, false, "", "relay.isp.example", "[relay.isp.example]:587", "dest:4");
    find_case(__LINE__, m, false, "", "relay.isp.example", "[relay.isp.example]", NULL);
    find_case(__LINE__, m, true, "", "other.example", "other.example", NULL);
    maps_free(m);
    return harness_done();
}
