/*
 * smtp_checks.c - smtp_header_checks, smtp_mime_header_checks,
 *                 smtp_nested_header_checks and smtp_body_checks (lmtp_*
 *                 in LMTP mode): content changes on the way out
 *
 * Used by: smtp_proto.c (between deliver_content_lines() and the line
 *          writer), smtp.c (tables opened at start).
 * Interface: smtp_checks_load(), smtp_checks_active(), smtp_checks_new(),
 *            smtp_checks_line(), smtp_checks_end(), smtp_checks_free().
 * Errors: a table that fails to answer stops the message: the line writer
 *         is not called again and smtp_checks_line() returns non-zero, so
 *         the conversation ends without the final dot and the recipients
 *         are deferred (never sent unchecked). An action that cannot apply
 *         here (REJECT, DEFER, HOLD, DISCARD, REDIRECT, BCC, FILTER: they
 *         would change the delivery, which is already under way) or a
 *         malformed one is logged as a warning and otherwise ignored.
 * Notes: as in Postfix, only the actions that edit or log are available:
 *        IGNORE, REPLACE, PREPEND, WARN, INFO, DUNNO, OK. The MIME
 *        structure is followed with lib/mail/mime_state.c, as in cleanup;
 *        headers are matched unfolded; body lines are checked up to
 *        body_checks_size_limit bytes into each body segment. Log lines:
 *        "ID: warning: header Subject: x: text". The same path carries
 *        smtp_generic_maps' header rewriting (smtp_generic.c), after the
 *        checks.
 */
#include "smtp.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "mime_state.h"
#include "qfile.h"
#include <strings.h>

static struct maps *smtp_hc, *smtp_mhc, *smtp_nhc, *smtp_bc;
static const char *smtp_hc_name, *smtp_mhc_name, *smtp_nhc_name, *smtp_bc_name;
static long smtp_bc_limit;
/* The MIME parser's settings, read once with the tables. */
static int smtp_mime_opts, smtp_mime_nesting;
static size_t smtp_mime_header_limit, smtp_mime_boundary_limit;

static struct maps *smtp_checks_open(const char *param)
{
    const char *v = cfg_str(param);
    return *v ? maps_create(param, v, DICT_F_FOLD) : NULL;
}

void smtp_checks_load(bool lmtp)
{
    smtp_hc_name = lmtp ? P_LMTP_HEADER_CHECKS : P_SMTP_HEADER_CHECKS;
    smtp_mhc_name = lmtp ? P_LMTP_MIME_HEADER_CHECKS : P_SMTP_MIME_HEADER_CHECKS;
    smtp_nhc_name = lmtp ? P_LMTP_NESTED_HEADER_CHECKS : P_SMTP_NESTED_HEADER_CHECKS;
    smtp_bc_name = lmtp ? P_LMTP_BODY_CHECKS : P_SMTP_BODY_CHECKS;
    smtp_hc = smtp_checks_open(smtp_hc_name);
    smtp_mhc = smtp_checks_open(smtp_mhc_name);
    smtp_nhc = smtp_checks_open(smtp_nhc_name);
    smtp_bc = smtp_checks_open(smtp_bc_name);
    smtp_bc_limit = cfg_long(P_BODY_CHECKS_SIZE_LIMIT);
    smtp_mime_opts = cfg_bool(P_DISABLE_MIME_INPUT_PROCESSING) ? MIME_OPT_DISABLE_MIME : 0;
    smtp_mime_header_limit = (size_t)cfg_long(P_HEADER_SIZE_LIMIT);
    smtp_mime_nesting = cfg_int(P_MIME_NESTING_LIMIT);
    smtp_mime_boundary_limit = (size_t)cfg_long(P_MIME_BOUNDARY_LENGTH_LIMIT);
}

bool smtp_checks_active(void)
{
    /* smtp_generic_maps rewrite headers on the same path. */
    return smtp_hc || smtp_mhc || smtp_nhc || smtp_bc || smtp_generic_active();
}

struct smtp_checks {
    const char *queue_id;
    deliver_line_fn out;
    void *out_ctx;
    struct mime_state *mime;
    int stop;               /* non-zero: the writer failed or a table did */
};

static void smtp_checks_write(struct smtp_checks *c, const char *p, size_t len)
{
    if (c->stop == 0)
        c->stop = c->out(p, len, c->out_ctx);
}

/* Acts on one match; returns false to drop the header or line. */
static bool smtp_checks_act(struct smtp_checks *c, const char *map, const char *where,
                            const char *text, const char *value, bool header,
                            struct sbuf *replace, bool *replaced)
{
    size_t wlen = strcspn(value, " \t");
    const char *arg = value + wlen;
    while (*arg == ' ' || *arg == '\t')
        arg++;
#define SMTP_ACT_IS(w) (strlen(w) == wlen && strncasecmp(value, (w), wlen) == 0)
    if (SMTP_ACT_IS("WARN") || SMTP_ACT_IS("INFO")) {
        log_info("%s: %s: %s %.60s: %s", c->queue_id, SMTP_ACT_IS("WARN") ? "warning" : "info",
                 where, text, *arg ? arg : "content matched");
        return true;
    }
    if (SMTP_ACT_IS("IGNORE"))
        return false;
    if (SMTP_ACT_IS("DUNNO") || SMTP_ACT_IS("OK"))
        return true;
    if (SMTP_ACT_IS("REPLACE") || SMTP_ACT_IS("PREPEND")) {
        bool prepend = SMTP_ACT_IS("PREPEND");
        size_t nlen = strcspn(arg, ":");
        if (header && (arg[nlen] != ':' || nlen == 0 || strpbrk(arg, " \t") < arg + nlen)) {
            log_warn("%s: bad %s action in %s: \"%s\" (the text must be a header)",
                     c->queue_id, prepend ? "PREPEND" : "REPLACE", map, value);
            return true;
        }
        if (prepend) {
            smtp_checks_write(c, arg, strlen(arg));
        } else {
            sbuf_set(replace, arg);
            *replaced = true;
        }
        return true;
    }
    log_warn("%s: action not available in %s, ignored: \"%s\"", c->queue_id, map, value);
    return true;
}

/* Looks key up; a table failure stops the message. */
static const char *smtp_checks_find(struct smtp_checks *c, struct maps *m, const char *key)
{
    const char *v = maps_find(m, key, 0);
    if (v == NULL && maps_error(m) != DICT_ERR_NONE) {
        log_warn("%s: %s lookup error: delivery deferred", c->queue_id, maps_title(m));
        if (c->stop == 0)
            c->stop = -1;
    }
    return v;
}

static void smtp_checks_header(void *ctx, int hdr_class, struct sbuf *header)
{
    struct smtp_checks *c = ctx;
    struct maps *m;
    const char *name;
    if (hdr_class == MIME_HDR_MULTIPART || mime_header_is_mime(sbuf_str(header), sbuf_len(header))) {
        m = smtp_mhc;
        name = smtp_mhc_name;
    } else if (hdr_class == MIME_HDR_NESTED) {
        m = smtp_nhc;
        name = smtp_nhc_name;
    } else {
        m = smtp_hc;
        name = smtp_hc_name;
    }
    if (m && c->stop == 0) {
        struct sbuf *key = sbuf_new(sbuf_len(header) + 1);
        for (size_t i = 0; i < sbuf_len(header); i++)
            if (sbuf_str(header)[i] != '\n')
                sbuf_addch(key, sbuf_str(header)[i]);
        const char *v = smtp_checks_find(c, m, sbuf_str(key));
        bool keep = true;
        if (v) {
            struct sbuf *value = sbuf_new(64), *repl = sbuf_new(64);
            bool replaced = false;
            sbuf_set(value, v);
            keep = smtp_checks_act(c, name, "header", sbuf_str(key), sbuf_str(value), true, repl,
                                   &replaced);
            if (replaced)
                sbuf_set(header, sbuf_str(repl));
            sbuf_free(value);
            sbuf_free(repl);
        }
        sbuf_free(key);
        if (!keep)
            return;
    }
    /* smtp_generic_maps: the message's own address headers. */
    if (hdr_class == MIME_HDR_PRIMARY && c->stop == 0 && smtp_generic_header(header) < 0) {
        log_warn("%s: smtp_generic_maps lookup error: delivery deferred", c->queue_id);
        c->stop = -1;
        return;
    }
    /* Out line by line: a header keeps its folding. */
    const char *p = sbuf_str(header), *end = p + sbuf_len(header);
    for (;;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        smtp_checks_write(c, p, nl ? (size_t)(nl - p) : (size_t)(end - p));
        if (nl == NULL)
            break;
        p = nl + 1;
    }
}

static void smtp_checks_header_end(void *ctx, int hdr_class)
{
    (void)ctx;
    (void)hdr_class;
}

static void smtp_checks_body(void *ctx, int type, const char *data, size_t len, long offset)
{
    struct smtp_checks *c = ctx;
    (void)type;     /* lines come whole from deliver_content_lines() */
    if (smtp_bc && c->stop == 0 && (smtp_bc_limit <= 0 || offset < smtp_bc_limit)) {
        struct sbuf *key = sbuf_new(len + 1);
        sbuf_append(key, data, len);
        const char *v = smtp_checks_find(c, smtp_bc, sbuf_str(key));
        if (v) {
            struct sbuf *value = sbuf_new(64), *repl = sbuf_new(64);
            bool replaced = false;
            sbuf_set(value, v);
            bool keep = smtp_checks_act(c, smtp_bc_name, "body", sbuf_str(key), sbuf_str(value),
                                        false, repl, &replaced);
            if (keep)
                smtp_checks_write(c, replaced ? sbuf_str(repl) : data,
                                  replaced ? sbuf_len(repl) : len);
            sbuf_free(value);
            sbuf_free(repl);
            sbuf_free(key);
            return;
        }
        sbuf_free(key);
    }
    smtp_checks_write(c, data, len);
}

static const struct mime_state_ops smtp_checks_ops = {
    .header = smtp_checks_header,
    .header_end = smtp_checks_header_end,
    .body = smtp_checks_body,
};

struct smtp_checks *smtp_checks_new(const char *queue_id, deliver_line_fn out, void *out_ctx)
{
    struct smtp_checks *c = xcalloc(1, sizeof(*c));
    c->queue_id = queue_id;
    c->out = out;
    c->out_ctx = out_ctx;
    c->mime = mime_state_new(&smtp_checks_ops, c, smtp_mime_opts, smtp_mime_header_limit,
                             smtp_mime_nesting);
    mime_state_set_boundary_limit(c->mime, smtp_mime_boundary_limit);
    return c;
}

int smtp_checks_line(const char *line, size_t len, void *ctx)
{
    struct smtp_checks *c = ctx;
    mime_state_update(c->mime, REC_NORM, line, len);
    return c->stop;
}

int smtp_checks_end(struct smtp_checks *c)
{
    mime_state_end(c->mime);
    return c->stop;
}

void smtp_checks_free(struct smtp_checks *c)
{
    if (c == NULL)
        return;
    mime_state_free(c->mime);
    xfree(c);
}
