/*
 * reply_footer_test.c - unit tests for reply footers, $name expansion and
 *                       the command filter (shared by smtpd and postscreen)
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: inline: tables, so that no .db file is needed.
 */
#include "reply_footer.h"
#include "cmd_filter.h"
#include "harness.h"
#include "log.h"

int main(void)
{
    harness_init();
    log_set_tag("postfix/reply_footer_test");
    log_close_syslog();

    struct reply_vars v = { .n = 0 };
    reply_vars_add(&v, "client_address", "192.0.2.1");
    reply_vars_add(&v, "server_name", "mx.example");
    reply_vars_add(&v, "empty", NULL);

    /* The expansion filter turns other characters into "_"; the forms. */
    struct reply_expand *x = reply_expand_new("0123456789\\.");
    struct sbuf *out = sbuf_new(64);
    reply_expand(x, out, "[$client_address] $server_name ${empty:none}${empty?set} $$", &v);
    EXPECT_TRUE(strcmp(sbuf_str(out), "[192.0.2.1] __._______ none $") == 0);

    /* Footer: a new line with code and enhanced code; \c continues. */
    struct reply_footer *f = reply_footer_new("Ask $client_address\\nthanks", "maps", "", x);
    EXPECT_TRUE(reply_footer_apply(f, "550 5.7.1 No", &v, out));
    EXPECT_TRUE(strcmp(sbuf_str(out), "550-5.7.1 No\n550-5.7.1 Ask 192.0.2.1\n550 5.7.1 thanks")
                == 0);
    EXPECT_TRUE(reply_footer_apply(f, "421 Busy", &v, out));
    EXPECT_TRUE(strcmp(sbuf_str(out), "421-Busy\n421-Ask 192.0.2.1\n421 thanks") == 0);
    reply_footer_free(f);
    f = reply_footer_new("\\c (see $client_address)", "maps",
                         "inline:{ { 450 4.3.2 Later = \\c via map } }", x);
    EXPECT_TRUE(reply_footer_apply(f, "450 4.3.2 Later", &v, out));
    EXPECT_TRUE(strcmp(sbuf_str(out), "450 4.3.2 Later via map") == 0);
    EXPECT_TRUE(reply_footer_apply(f, "550 5.3.2 No", &v, out));
    EXPECT_TRUE(strcmp(sbuf_str(out), "550 5.3.2 No (see 192.0.2.1)") == 0);
    reply_footer_free(f);
    f = reply_footer_new("", "maps", "", x);
    sbuf_set(out, "kept");
    EXPECT_TRUE(!reply_footer_apply(f, "550 5.7.1 No", &v, out));
    EXPECT_TRUE(strcmp(sbuf_str(out), "kept") == 0);
    reply_footer_free(f);
    reply_expand_free(x);

    /* Command filter: leading blanks skipped, case folded; no answer: 0. */
    EXPECT_TRUE(cmd_filter_new("smtpd_command_filter", "") == NULL);
    struct cmd_filter *cf = cmd_filter_new("smtpd_command_filter",
                                           "inline:{ { hello x = EHLO x } }");
    EXPECT_TRUE(cmd_filter_apply(cf, "[192.0.2.1]:25", "  HELLO X", out) == 1);
    EXPECT_TRUE(strcmp(sbuf_str(out), "EHLO x") == 0);
    EXPECT_TRUE(cmd_filter_apply(cf, "[192.0.2.1]:25", "NOOP", out) == 0);
    cmd_filter_free(cf);
    sbuf_free(out);
    return harness_done();
}
