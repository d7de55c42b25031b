/*
 * cleanup_checks.c - header_checks, mime_header_checks,
 *                    nested_header_checks and body_checks
 *
 * Used by: cleanup_message.c (mime_state callbacks), cleanup_extracted.c
 *          (REDIRECT at the end).
 * Interface: cleanup_check_header(), cleanup_check_body(),
 *            cleanup_check_redirect().
 * Errors: a table that fails to answer defers the message (4.3.0), so that
 *         no mail passes unchecked. A malformed action (unknown word, a
 *         REPLACE or PREPEND text that is not a header where one is
 *         needed, a REDIRECT or BCC without '@', a FILTER without ':') is
 *         logged as a warning and otherwise ignored, as Postfix does.
 * Notes: actions as in header_checks(5). A header is looked up whole and
 *        unfolded (the line breaks of its continuation lines removed, the
 *        white space kept); MIME-Version and Content-* headers, wherever
 *        they are, and every header of a MIME part go to
 *        mime_header_checks; headers of an attached message/rfc822 to
 *        nested_header_checks; the message's own to header_checks. Body
 *        records are looked up as they are, up to body_checks_size_limit
 *        bytes into each body segment. REJECT answers 5.7.1 (or the
 *        text's own enhanced code), DEFER 4.7.1. The log lines are
 *        Postfix's: "ID: reject: header Subject: x from host[addr];
 *        from=<s> to=<r> proto=ESMTP helo=<h>: 5.7.1 text".
 */
#include "cleanup.h"
#include "alloc.h"
#include "attr.h"
#include "cleanup_proto.h"
#include "log.h"
#include "log_addr.h"
#include "maps.h"
#include "mime_state.h"
#include "params.h"
#include "qfile.h"
#include <ctype.h>
#include <strings.h>

/* Where a match came from, for the log line and the action's limits. */
struct cleanup_hit {
    const char *context;        /* "header" or "body" */
    const char *text;           /* what matched (unfolded header, body line) */
    const char *map;            /* parameter name, for warnings */
    bool header;
};

static const char *cleanup_attr(const struct cleanup_state *st, const char *name)
{
    return st->env.attrs ? attr_get(st->env.attrs, name) : NULL;
}

/* "ID: ACTION: header TEXT from CLIENT; from=<> to=<> proto= helo=<>: WHY" */
static void cleanup_act_log(const struct cleanup_state *st, const char *action,
                            const struct cleanup_hit *hit, const char *why)
{
    struct sbuf *b = sbuf_new(256);
    const char *name = cleanup_attr(st, "log_client_name");
    const char *addr = cleanup_attr(st, "log_client_address");
    const char *v;
    sbuf_printf(b, "%s: %s: %s %.200s from ", st->queue_id, action, hit->context, hit->text);
    if (name && addr)
        sbuf_catf(b, "%s[%s];", name, addr);
    else
        sbuf_cat(b, "local;");
    struct sbuf *lb = sbuf_new(64);
    sbuf_catf(b, " from=<%s>", log_addr(lb, st->sender ? st->sender : st->env.sender));
    if (st->env_rcpts.n > 0)
        sbuf_catf(b, " to=<%s>", log_addr(lb, st->env_rcpts.v[0].addr));
    sbuf_free(lb);
    if ((v = cleanup_attr(st, "log_protocol")) != NULL)
        sbuf_catf(b, " proto=%s", v);
    if ((v = cleanup_attr(st, "log_helo_name")) != NULL)
        sbuf_catf(b, " helo=<%s>", v);
    if (why && *why)
        sbuf_catf(b, ": %s", why);
    log_info("%s", sbuf_str(b));
    sbuf_free(b);
}

/* The reply text of REJECT/DEFER: the action's text with its own enhanced
 * status code when it starts with one of the right class, else dflt_code. */
static void cleanup_act_reason(struct sbuf *out, const char *text, const char *dflt_code,
                               const char *dflt_text)
{
    if (*text == 0)
        text = dflt_text;
    if (text[0] == dflt_code[0] && text[1] == '.' && isdigit((unsigned char)text[2])) {
        size_t n = strcspn(text, " \t");
        const char *p = text;
        bool dsn = true;
        for (size_t i = 0; i < n; i++)
            if (!isdigit((unsigned char)p[i]) && p[i] != '.')
                dsn = false;
        if (dsn) {
            sbuf_set(out, text);
            return;
        }
    }
    sbuf_printf(out, "%s %s", dflt_code, text);
}

#define CLEANUP_ACT_IS(word, len, want) (strlen(want) == (len) && strncasecmp((word), (want), (len)) == 0)

/* Acts on one match. Returns false when the header or line is dropped.
 * A REPLACE text goes to *replace (and *replaced is set). */
static bool cleanup_act(struct cleanup_state *st, const struct cleanup_hit *hit, const char *value,
                        struct sbuf *replace, bool *replaced)
{
    size_t wlen = strcspn(value, " \t");
    const char *text = value + wlen;
    while (*text == ' ' || *text == '\t')
        text++;

    if (CLEANUP_ACT_IS(value, wlen, "REJECT") || CLEANUP_ACT_IS(value, wlen, "DEFER")) {
        bool reject = toupper((unsigned char)value[0]) == 'R';
        struct sbuf *why = sbuf_new(64);
        if (reject)
            cleanup_act_reason(why, text, "5.7.1", "message content rejected");
        else
            cleanup_act_reason(why, text, "4.7.1", "Service unavailable");
        cleanup_act_log(st, reject ? "reject" : "defer", hit, sbuf_str(why));
        cleanup_fail(st, reject ? CLEANUP_STAT_CONT : CLEANUP_STAT_DEFER, sbuf_str(why));
        sbuf_free(why);
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "WARN")) {
        cleanup_act_log(st, "warning", hit, text);
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "INFO")) {
        cleanup_act_log(st, "info", hit, text);
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "HOLD")) {
        cleanup_act_log(st, "hold", hit, text);
        st->flags |= CLEANUP_FLAG_HOLD;
        st->hbc_logged = true;
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "DISCARD")) {
        cleanup_act_log(st, "discard", hit, text);
        st->flags |= CLEANUP_FLAG_DISCARD;
        st->hbc_logged = true;
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "FILTER")) {
        const char *colon = strchr(text, ':');
        if (colon == NULL || colon == text) {
            log_warn("%s: bad FILTER action in %s: \"%s\" (need transport:destination)",
                     st->queue_id, hit->map, value);
            return true;
        }
        cleanup_act_log(st, "filter", hit, text);
        xfree(st->hbc_filter);
        st->hbc_filter = xstrdup(text);
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "REDIRECT") || CLEANUP_ACT_IS(value, wlen, "BCC")) {
        bool redirect = toupper((unsigned char)value[0]) == 'R';
        if (strchr(text, '@') == NULL || strpbrk(text, " \t")) {
            log_warn("%s: bad %s action in %s: \"%s\" (need user@domain)", st->queue_id,
                     redirect ? "REDIRECT" : "BCC", hit->map, value);
            return true;
        }
        if (redirect) {
            cleanup_act_log(st, "redirect", hit, text);
            xfree(st->hbc_redirect);
            st->hbc_redirect = xstrdup(text);
        } else {
            cleanup_rcpt_add(&st->extra_rcpts, text, NULL, NULL, 0);
        }
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "PREPEND") || CLEANUP_ACT_IS(value, wlen, "REPLACE")) {
        bool prepend = toupper((unsigned char)value[0]) == 'P';
        if (hit->header && mime_header_name_len(text, strlen(text)) == 0) {
            log_warn("%s: bad %s action in %s: \"%s\" (the text must be a header)",
                     st->queue_id, prepend ? "PREPEND" : "REPLACE", hit->map, value);
            return true;
        }
        if (!prepend) {
            cleanup_act_log(st, "replace", hit, text);
            sbuf_set(replace, text);
            *replaced = true;
        } else if (hit->header) {
            cleanup_act_log(st, "prepend", hit, text);
            cleanup_write_header(st, text, strlen(text));
        } else if (st->pending_cont) {
            log_warn("%s: PREPEND in %s: not at the start of a line, ignored", st->queue_id,
                     hit->map);
        } else {
            cleanup_act_log(st, "prepend", hit, text);
            cleanup_write_line(st, text, strlen(text));
        }
        return true;
    }
    if (CLEANUP_ACT_IS(value, wlen, "IGNORE"))
        return false;
    if (CLEANUP_ACT_IS(value, wlen, "DUNNO") || CLEANUP_ACT_IS(value, wlen, "OK"))
        return true;
    log_warn("%s: unknown action in %s: \"%s\"", st->queue_id, hit->map, value);
    return true;
}

/* Looks key up; NULL when nothing matched (a table failure defers). */
static const char *cleanup_check_find(struct cleanup_state *st, struct maps *m, const char *key)
{
    const char *v = maps_find(m, key, 0);
    if (v == NULL && maps_error(m) != DICT_ERR_NONE) {
        log_warn("%s: %s lookup error: message deferred", st->queue_id, maps_title(m));
        cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 content inspection table lookup error");
    }
    return v;
}

bool cleanup_check_header(struct cleanup_state *st, int hdr_class, struct sbuf *header)
{
    const struct cleanup_cfg *c = &cleanup_cfg;
    struct maps *m;
    const char *title;
    if (hdr_class == MIME_HDR_MULTIPART || mime_header_is_mime(sbuf_str(header), sbuf_len(header))) {
        m = c->mime_header_checks;
        title = "mime_header_checks";
    } else if (hdr_class == MIME_HDR_NESTED) {
        m = c->nested_header_checks;
        title = "nested_header_checks";
    } else {
        m = c->header_checks;
        title = "header_checks";
    }
    if (m == NULL)
        return true;
    /* Unfold: drop the line breaks, keep the white space after them. */
    struct sbuf *key = sbuf_new(sbuf_len(header) + 1);
    for (size_t i = 0; i < sbuf_len(header); i++)
        if (sbuf_str(header)[i] != '\n')
            sbuf_addch(key, sbuf_str(header)[i]);
    bool keep = true;
    const char *v = cleanup_check_find(st, m, sbuf_str(key));
    if (v) {
        struct cleanup_hit hit = { "header", sbuf_str(key), title, true };
        struct sbuf *value = sbuf_new(64), *repl = sbuf_new(64);
        bool replaced = false;
        sbuf_set(value, v);     /* the table's buffer is reused by the next lookup */
        keep = cleanup_act(st, &hit, sbuf_str(value), repl, &replaced);
        if (keep && replaced)
            sbuf_set(header, sbuf_str(repl));
        sbuf_free(value);
        sbuf_free(repl);
    }
    sbuf_free(key);
    return keep;
}

bool cleanup_check_chars(struct cleanup_state *st, const char *data, size_t len,
                         struct sbuf *out, bool *use_out)
{
    const struct cleanup_cfg *c = &cleanup_cfg;
    *use_out = false;
    if (c->have_reject_chars)
        for (size_t i = 0; i < len; i++)
            if (c->reject_chars[(unsigned char)data[i]]) {
                /* The line as it can be logged: no NUL or line break in it. */
                struct sbuf *text = sbuf_new(len + 1);
                for (size_t j = 0; j < len && j < 200; j++)
                    sbuf_addch(text, (unsigned char)data[j] < 32 ? '?' : data[j]);
                struct cleanup_hit hit = { "content", sbuf_str(text),
                                           P_MESSAGE_REJECT_CHARACTERS, false };
                cleanup_act(st, &hit, "REJECT disallowed character", NULL, NULL);
                sbuf_free(text);
                return false;
            }
    if (c->have_strip_chars) {
        size_t i = 0;
        while (i < len && !c->strip_chars[(unsigned char)data[i]])
            i++;
        if (i == len)
            return true;    /* nothing to strip: the record is used as it is */
        sbuf_reset(out);
        for (i = 0; i < len; i++)
            if (!c->strip_chars[(unsigned char)data[i]])
                sbuf_addch(out, data[i]);
        *use_out = true;
    }
    return true;
}

bool cleanup_check_body(struct cleanup_state *st, const char *data, size_t len, long offset,
                        struct sbuf *out, bool *use_out)
{
    const struct cleanup_cfg *c = &cleanup_cfg;
    *use_out = false;
    if (c->body_checks == NULL ||
        (c->body_checks_size_limit > 0 && offset >= c->body_checks_size_limit))
        return true;
    struct sbuf *key = sbuf_new(len + 1);
    sbuf_append(key, data, len);
    bool keep = true;
    const char *v = cleanup_check_find(st, c->body_checks, sbuf_str(key));
    if (v) {
        struct cleanup_hit hit = { "body", sbuf_str(key), "body_checks", false };
        struct sbuf *value = sbuf_new(64);
        sbuf_set(value, v);
        keep = cleanup_act(st, &hit, sbuf_str(value), out, use_out);
        sbuf_free(value);
    }
    sbuf_free(key);
    return keep;
}

void cleanup_check_redirect(struct cleanup_state *st)
{
    /* Every recipient written so far is done; the redirect address takes
     * their place, with the first of them as its original recipient. */
    const char *orig = NULL;
    struct cleanup_rcpt_list old = st->written;
    memset(&st->written, 0, sizeof(st->written));
    for (size_t i = 0; i < old.n; i++) {
        if (qfile_writer_mark_done(st->w, old.v[i].offset) < 0) {
            cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
            break;
        }
        st->rcpt_count--;
        if (orig == NULL)
            orig = old.v[i].orig ? old.v[i].orig : old.v[i].addr;
    }
    if (!st->errs) {
        /* The done recipients no longer count as duplicates: a redirect to
         * one of them must still be written, or no recipient is left. */
        cleanup_dups_free(st);
        struct cleanup_rcpt r = { .addr = st->hbc_redirect, .orig = (char *)orig };
        cleanup_recipient(st, &r);
    }
    cleanup_rcpt_list_free(&old);
}
