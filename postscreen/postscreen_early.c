/*
 * postscreen_early.c - the tests before the 220 greeting: pregreet and DNSBL
 *
 * Used by: postscreen.c (start, client input), postscreen_dnsbl.c (all
 *          answers in).
 * Interface: ps_early_start(), ps_early_read(), ps_early_dnsbl_done(),
 *            ps_early_cancel().
 * Errors: none of its own; a failed test is the client's.
 * Notes: at connect postscreen sends postscreen_greet_banner as a "220-"
 *        line (unless empty) and asks the DNS lists. A client that sends
 *        anything before postscreen_greet_wait is over fails the pregreet
 *        test ("PREGREET N after T from [addr]:port: TEXT"); with
 *        postscreen_greet_action = drop it is dropped at once ("521 5.5.1
 *        Protocol error"). When the wait is over the DNS list answers that
 *        arrived are added up; a score at or above postscreen_dnsbl_threshold
 *        fails the DNSBL test ("DNSBL rank N for [addr]:port"), with
 *        postscreen_dnsbl_action. A score at or below a negative
 *        postscreen_dnsbl_allowlist_threshold lets a client that has not
 *        talked out of turn pass as soon as the last answer is in, without
 *        waiting. Queries still open after postscreen_dnsbl_timeout are
 *        given up. Then: no failure - cached, then PASS NEW and to smtpd,
 *        or, when an after-220 test is due, the dummy engine runs it
 *        (postscreen_smtpd.c); a failure
 *        with action enforce - the dummy SMTP engine; only "ignore"
 *        failures - to smtpd, not cached (the tests run again next time).
 *        A client on a server address outside postscreen_allowlist_interfaces
 *        (st->veto) is never cached nor handed over: whatever the tests
 *        say, it ends in the dummy engine (RCPT: 450, or the enforced
 *        failure's reply), and the allowlist threshold does not end its
 *        wait early.
 */
#include "postscreen.h"
#include "alloc.h"
#include "events.h"
#include "log.h"
#include "maps.h"

static void ps_early_greet_timeout(void *ctx);

static void ps_early_dnsbl_timeout(void *ctx)
{
    struct ps_state *st = ctx;
    if (st->dnsbl_pending > 0) {
        log_warn("dnsblog reply timeout %lds for %s", ps_cfg.dnsbl_timeout, st->addr);
        ps_dnsbl_cancel(st);
    }
}

void ps_early_cancel(struct ps_state *st)
{
    event_timer_del(ps_early_greet_timeout, st);
    event_timer_del(ps_early_dnsbl_timeout, st);
}

void ps_early_start(struct ps_state *st)
{
    st->phase = PS_PH_EARLY;
    if (*ps_cfg.banner) {
        struct sbuf *b = sbuf_new(128);
        sbuf_printf(b, "220-%s\r\n", ps_cfg.banner);
        ps_send(st, sbuf_str(b));
        sbuf_free(b);
    }
    if (ps_cfg.nsites > 0 && ps_dnsbl_start(st) > 0)
        event_timer_add((double)ps_cfg.dnsbl_timeout, ps_early_dnsbl_timeout, st);
    event_timer_add((double)ps_cfg.greet_wait, ps_early_greet_timeout, st);
    /* Bytes that came with a PROXY header were sent before the banner. */
    if (sbuf_len(st->in) > 0)
        ps_early_read(st);
}

void ps_early_read(struct ps_state *st)
{
    if (st->failed & PS_T_GREET)
        return;                 /* keep it for the dummy engine */
    struct sbuf *text = sbuf_new(128);
    size_t n = sbuf_len(st->in);
    ps_escape(text, sbuf_str(st->in), n);
    log_info("PREGREET %zu after %.2f from %s: %s", n, event_now() - st->start, ps_client(st),
             sbuf_str(text));
    sbuf_free(text);
    if (ps_cfg.greet_action == PS_ACT_DROP) {
        ps_send(st, "521 5.5.1 Protocol error\r\n");
        ps_session_close(st);
        return;
    }
    ps_fail(st, PS_T_GREET, ps_cfg.greet_action, "550 5.5.1 Protocol error");
}

/* How long a DNS list verdict stays cached. */
static long ps_early_dnsbl_ttl(const struct ps_state *st)
{
    if (st->dnsbl_ttl < 0)
        return ps_cfg.dnsbl_max_ttl;
    long t = st->dnsbl_ttl;
    if (t < ps_cfg.dnsbl_min_ttl)
        t = ps_cfg.dnsbl_min_ttl;
    if (t > ps_cfg.dnsbl_max_ttl)
        t = ps_cfg.dnsbl_max_ttl;
    return t;
}

void ps_early_dnsbl_done(struct ps_state *st)
{
    if (st->phase != PS_PH_EARLY)
        return;
    event_timer_del(ps_early_dnsbl_timeout, st);
    if (ps_cfg.dnsbl_allow_threshold < 0 && st->dnsbl_score <= ps_cfg.dnsbl_allow_threshold
        && st->failed == 0 && !st->denylisted && !st->veto) {
        ps_early_cancel(st);
        /* The allowlist threshold skips the after-220 tests too. */
        ps_cache_pass(st->addr, ps_early_dnsbl_ttl(st));
        if (ps_cfg.deep_enabled)
            ps_cache_pass_deep(st->addr);
        ps_session_pass(st, "PASS NEW");
    }
}

static void ps_early_greet_timeout(void *ctx)
{
    struct ps_state *st = ctx;
    event_timer_del(ps_early_dnsbl_timeout, st);
    ps_dnsbl_cancel(st);
    if (ps_cfg.nsites > 0 && st->dnsbl_score >= ps_cfg.dnsbl_threshold) {
        const char *name = st->dnsbl_name ? st->dnsbl_name : "(unknown)";
        if (ps_cfg.dnsbl_reply_map) {
            const char *v = maps_find(ps_cfg.dnsbl_reply_map, name, 0);
            if (v && *v)
                name = v;
        }
        struct sbuf *r = sbuf_new(128);
        log_info("DNSBL rank %d for %s", st->dnsbl_score, ps_client(st));
        if (ps_cfg.dnsbl_action == PS_ACT_DROP) {
            sbuf_printf(r, "521 5.7.1 Service unavailable; client [%s] blocked using %s\r\n",
                        st->addr, name);
            ps_send(st, sbuf_str(r));
            sbuf_free(r);
            ps_session_close(st);
            return;
        }
        sbuf_printf(r, "550 5.7.1 Service unavailable; client [%s] blocked using %s", st->addr,
                    name);
        ps_fail(st, PS_T_DNSBL, ps_cfg.dnsbl_action, sbuf_str(r));
        sbuf_free(r);
    }
    if (st->failed == 0 && !st->denylisted && st->veto) {
        /* Passed, but not cached and not handed over (ALLOWLIST VETO):
         * the engine runs the after-220 tests that are due, and RCPT gets
         * 450. */
        st->deep = (ps_cache_todo(st->addr) & PS_T_DEEP) != 0;
        ps_smtpd_start(st);
    } else if (st->failed == 0 && !st->denylisted) {
        ps_cache_pass(st->addr, ps_early_dnsbl_ttl(st));
        if (ps_cache_todo(st->addr) & PS_T_DEEP) {
            st->deep = true;
            ps_smtpd_start(st);
        } else
            ps_session_pass(st, "PASS NEW");
    } else if (st->action == PS_ACT_ENFORCE || st->veto) {
        ps_smtpd_start(st);
    } else {
        ps_session_pass(st, NULL);
    }
}
