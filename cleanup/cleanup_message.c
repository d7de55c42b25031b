/*
 * cleanup_message.c - message content: headers (inspection, rewriting,
 *                     missing ones added, -t extraction) and body copy
 *
 * Used by: cleanup_main.c, through state->action (set by cleanup_envelope
 *          at M).
 * Interface: cleanup_message(), cleanup_keep_writing(),
 *            cleanup_write_line(), cleanup_write_header().
 * Errors: too many Received: headers (hopcount_limit) and an oversized
 *         message (message_size_limit) set CLEANUP_STAT_HOPS/SIZE; a
 *         REJECT or DEFER of a header/body check sets CLEANUP_STAT_CONT or
 *         DEFER. The rest of the content is then read and dropped, except
 *         that a hop-count error or content rejection of a client that
 *         asked for bounces (CLEANUP_FLAG_BOUNCE) keeps the whole message,
 *         which is returned in the DSN.
 * Notes: the records go through lib/mail/mime_state.c, which calls back
 *        with each logical header (of the message, of a MIME part, of an
 *        attached message) and each body record. Header and body checks
 *        (cleanup_checks.c) see them first. Only the message's own
 *        (primary) headers are then counted, rewritten and extracted;
 *        the other headers are copied as they are. The header block ends
 *        at the first line that is neither a header nor a continuation;
 *        that line starts the body. A header longer than header_size_limit
 *        is cut there (the excess is discarded, as Postfix does). Headers
 *        named in message_drop_headers (default Bcc:, Content-Length:,
 *        Resent-Bcc:, Return-Path:) are not copied.
 *        Missing Message-Id:, Date:, From: (and To: when
 *        undisclosed_recipients_header is set) are appended at the end of
 *        the header block for local submissions (rewrite context "local")
 *        or when always_add_missing_headers is set.
 */
#include "cleanup.h"
#include "addr.h"
#include "alloc.h"
#include "attr.h"
#include "cleanup_proto.h"
#include "log.h"
#include "log_addr.h"
#include "mime_state.h"
#include "qfile.h"
#include "rewrite_clnt.h"
#include <ctype.h>
#include <strings.h>
#include <sys/time.h>

/* Header kinds that matter here. */
enum cleanup_hdr_kind {
    HK_OTHER,
    HK_SENDER,      /* From, Sender, Reply-To, Errors-To, Return-Receipt-To, Resent-From... */
    HK_RCPT,        /* To, Cc, Bcc, Resent-To... */
};


static bool cleanup_name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

bool cleanup_keep_writing(const struct cleanup_state *st)
{
    return st->errs == 0 ||
           ((st->errs == CLEANUP_STAT_HOPS || st->errs == CLEANUP_STAT_CONT) &&
            (st->flags & CLEANUP_FLAG_BOUNCE));
}

void cleanup_write_line(struct cleanup_state *st, const char *p, size_t len)
{
    if (!cleanup_keep_writing(st))
        return;
    if (qfile_put_line(st->w, p, len) < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
    cleanup_dkim_record(st, REC_NORM, p, len);
}

void cleanup_write_header(struct cleanup_state *st, const char *text, size_t len)
{
    const char *p = text, *end = text + len;
    while (p <= end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        cleanup_write_line(st, p, n);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
}

/* Rewrites the addresses in one header value in place (spans replaced by
 * the rewritten external form). */
static void cleanup_rewrite_header(struct cleanup_state *st, struct sbuf *text, size_t value_off,
                                   int class_)
{
    struct addr_items items = { 0 };
    const char *value = sbuf_str(text) + value_off;
    size_t vlen = sbuf_len(text) - value_off;
    addr_parse_list_limit(value, vlen, 10000, (size_t)cleanup_cfg.header_token_limit, &items);
    if (items.n == 0)
        return;
    struct sbuf *out = sbuf_new(sbuf_len(text) + 64);
    struct sbuf *a = sbuf_new(128), *q = sbuf_new(128);
    sbuf_append(out, sbuf_str(text), value_off);
    size_t pos = 0;
    bool changed = false;
    for (size_t i = 0; i < items.n; i++) {
        const struct addr_item *it = &items.v[i];
        sbuf_append(out, value + pos, it->start - pos);
        sbuf_set(a, it->addr);
        if (cleanup_rewrite_addr(st, st->hdr_context, class_, a) == 0 &&
            strcmp(sbuf_str(a), it->addr) != 0) {
            addr_quote(q, sbuf_str(a));
            sbuf_append(out, sbuf_str(q), sbuf_len(q));
            changed = true;
        } else {
            sbuf_append(out, value + it->start, it->len);
        }
        pos = it->start + it->len;
    }
    sbuf_append(out, value + pos, vlen - pos);
    if (changed)
        sbuf_set(text, sbuf_str(out));
    sbuf_free(out);
    sbuf_free(a);
    sbuf_free(q);
    addr_items_free(&items);
}

/* Adds the addresses of a To/Cc/Bcc header to a -t candidate list. */
static void cleanup_extract(struct cleanup_rcpt_list *l, const char *value, size_t len)
{
    struct addr_items items = { 0 };
    addr_parse_list_limit(value, len, 10000, (size_t)cleanup_cfg.header_token_limit, &items);
    for (size_t i = 0; i < items.n; i++)
        cleanup_rcpt_add(l, items.v[i].addr, NULL, NULL, 0);
    addr_items_free(&items);
}

static void cleanup_trimmed_value(struct sbuf *out, const char *value, size_t len)
{
    while (len > 0 && isspace((unsigned char)*value)) {
        value++;
        len--;
    }
    while (len > 0 && isspace((unsigned char)value[len - 1]))
        len--;
    sbuf_reset(out);
    for (size_t i = 0; i < len; i++)
        sbuf_addch(out, value[i] == '\n' ? ' ' : value[i]);
}

/* One logical header of the message's own header block (physical lines
 * joined with '\n'). */
static void cleanup_primary_header(struct cleanup_state *st, struct sbuf *text)
{
    const char *s = sbuf_str(text);
    size_t nlen = mime_header_name_len(s, sbuf_len(text));
    size_t voff = (size_t)(strchr(s, ':') - s) + 1;
    const char *value = s + voff;
    size_t vlen = sbuf_len(text) - voff;
    enum cleanup_hdr_kind kind = HK_OTHER;
    bool drop = false;
    bool resent = nlen > 7 && strncasecmp(s, "resent-", 7) == 0;
    const char *base = resent ? s + 7 : s;
    size_t blen = resent ? nlen - 7 : nlen;

    if (resent)
        st->resent = true;
    if (!resent && cleanup_name_is(s, nlen, "received")) {
        if (++st->hops >= cleanup_cfg.hopcount_limit && !(st->errs & CLEANUP_STAT_HOPS)) {
            log_warn("%s: message rejected: hopcount exceeded", st->queue_id);
            cleanup_fail(st, CLEANUP_STAT_HOPS, "5.4.0 Error: too many hops");
        }
    } else if (cleanup_name_is(base, blen, "message-id")) {
        struct sbuf *v = sbuf_new(128);
        cleanup_trimmed_value(v, value, vlen);
        log_info("%s: %smessage-id=%s", st->queue_id, resent ? "resent-" : "", sbuf_str(v));
        sbuf_free(v);
        st->seen |= resent ? CLEANUP_SEEN_RMSGID : CLEANUP_SEEN_MSGID;
    } else if (cleanup_name_is(base, blen, "date")) {
        st->seen |= resent ? CLEANUP_SEEN_RDATE : CLEANUP_SEEN_DATE;
    } else if (cleanup_name_is(base, blen, "from")) {
        st->seen |= resent ? CLEANUP_SEEN_RFROM : CLEANUP_SEEN_FROM;
        kind = HK_SENDER;
    } else if (cleanup_name_is(base, blen, "sender") || cleanup_name_is(base, blen, "reply-to") ||
               cleanup_name_is(s, nlen, "errors-to") ||
               cleanup_name_is(s, nlen, "return-receipt-to")) {
        kind = HK_SENDER;
    } else if (cleanup_name_is(base, blen, "to") || cleanup_name_is(base, blen, "cc")) {
        st->seen |= resent ? CLEANUP_SEEN_RTO : CLEANUP_SEEN_TO;
        kind = HK_RCPT;
        if (st->flags & CLEANUP_FLAG_EXTRACT)
            cleanup_extract(resent ? &st->xtract_resent : &st->xtract, value, vlen);
    } else if (cleanup_name_is(base, blen, "bcc")) {
        kind = HK_RCPT;
        if (st->flags & CLEANUP_FLAG_EXTRACT)
            cleanup_extract(resent ? &st->xtract_resent : &st->xtract, value, vlen);
    }
    /* message_drop_headers (default bcc, content-length, resent-bcc,
     * return-path), after -t has seen the recipients. */
    for (char **p = cleanup_cfg.drop_headers; p && *p && !drop; p++)
        drop = cleanup_name_is(s, nlen, *p);
    if (drop)
        return;
    if (kind != HK_OTHER && st->hdr_context)
        cleanup_rewrite_header(st, text, voff,
                               kind == HK_SENDER ? CLEANUP_CLASS_HDR_SENDER : CLEANUP_CLASS_HDR_RCPT);
    cleanup_write_header(st, sbuf_str(text), sbuf_len(text));
}

/* A display name goes out as-is when it is plain words, else quoted. */
static void cleanup_phrase(struct sbuf *out, const char *name)
{
    bool plain = true;
    for (const char *p = name; *p; p++)
        if (strchr("()<>@,;:\\\".[]", *p) || (unsigned char)*p < 32)
            plain = false;
    if (plain) {
        sbuf_cat(out, name);
        return;
    }
    sbuf_addch(out, '"');
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 32)
            continue;
        if (*p == '"' || *p == '\\')
            sbuf_addch(out, '\\');
        sbuf_addch(out, *p);
    }
    sbuf_addch(out, '"');
}

/* name as an RFC 5322 comment: "(name)", with parentheses and backslashes
 * inside it quoted and control characters left out. */
static void cleanup_comment(struct sbuf *out, const char *name)
{
    sbuf_addch(out, '(');
    for (const char *p = name; *p; p++) {
        if ((unsigned char)*p < 32)
            continue;
        if (*p == '(' || *p == ')' || *p == '\\')
            sbuf_addch(out, '\\');
        sbuf_addch(out, *p);
    }
    sbuf_addch(out, ')');
}

/* RFC 5322 date in local time, day of month space-padded as Postfix
 * writes it: "Sun,  2 Nov 2026 08:00:00 +0100 (CET)". */
static void cleanup_mail_date(struct sbuf *out, time_t when)
{
    struct tm tm;
    char buf[64], zone[16];
    localtime_r(&when, &tm);
    strftime(buf, sizeof(buf), "%a, %e %b %Y %H:%M:%S", &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    sbuf_catf(out, "%s %c%02ld%02ld", buf, sign, off / 60, off % 60);
    if (strftime(zone, sizeof(zone), "%Z", &tm) > 0 && zone[0])
        sbuf_catf(out, " (%s)", zone);
}

/* End of the header block: missing headers, -t recipients. */
static void cleanup_headers_end(struct cleanup_state *st)
{
    const char *rs = st->resent ? "Resent-" : "";
    unsigned need_msgid = st->resent ? CLEANUP_SEEN_RMSGID : CLEANUP_SEEN_MSGID;
    unsigned need_date = st->resent ? CLEANUP_SEEN_RDATE : CLEANUP_SEEN_DATE;
    unsigned need_from = st->resent ? CLEANUP_SEEN_RFROM : CLEANUP_SEEN_FROM;
    unsigned need_to = st->resent ? CLEANUP_SEEN_RTO : CLEANUP_SEEN_TO;
    struct sbuf *h = sbuf_new(256);

    st->headers_done = true;
    if (st->add_missing) {
        if (!(st->seen & need_msgid)) {
            struct tm tm;
            char stamp[32];
            time_t now = time(NULL);
            gmtime_r(&now, &tm);
            strftime(stamp, sizeof(stamp), "%Y%m%d%H%M%S", &tm);
            sbuf_printf(h, "%sMessage-Id: <%s.%s@%s>", rs, stamp, st->queue_id,
                        cleanup_cfg.myhostname);
            cleanup_write_line(st, sbuf_str(h), sbuf_len(h));
            log_info("%s: %smessage-id=<%s.%s@%s>", st->queue_id, st->resent ? "resent-" : "",
                     stamp, st->queue_id, cleanup_cfg.myhostname);
        }
        if (!(st->seen & need_date)) {
            sbuf_printf(h, "%sDate: ", rs);
            cleanup_mail_date(h, time(NULL));
            cleanup_write_line(st, sbuf_str(h), sbuf_len(h));
        }
        if (!(st->seen & need_from)) {
            struct sbuf *q = sbuf_new(128);
            const char *sender = st->sender && *st->sender ? st->sender : "MAILER-DAEMON";
            addr_quote(q, sender);
            sbuf_printf(h, "%sFrom: ", rs);
            if (!(st->sender && *st->sender && st->fullname && *st->fullname)) {
                sbuf_cat(h, sbuf_str(q));
            } else if (cleanup_cfg.from_obsolete) {
                /* header_from_format = obsolete: "addr (name)", before 3.3. */
                sbuf_catf(h, "%s ", sbuf_str(q));
                cleanup_comment(h, st->fullname);
            } else {
                cleanup_phrase(h, st->fullname);
                sbuf_catf(h, " <%s>", sbuf_str(q));
            }
            cleanup_write_line(st, sbuf_str(h), sbuf_len(h));
            sbuf_free(q);
        }
        if (!(st->seen & need_to) && *cleanup_cfg.undisclosed_header) {
            sbuf_printf(h, "%s%s", rs, cleanup_cfg.undisclosed_header);
            cleanup_write_line(st, sbuf_str(h), sbuf_len(h));
        }
    } else if (!(st->seen & (CLEANUP_SEEN_MSGID | CLEANUP_SEEN_RMSGID))) {
        log_info("%s: message-id=<>", st->queue_id);
    }
    sbuf_free(h);
    if (st->flags & CLEANUP_FLAG_EXTRACT) {
        struct cleanup_rcpt_list *src =
            st->resent && st->xtract_resent.n > 0 ? &st->xtract_resent : &st->xtract;
        for (size_t i = 0; i < src->n; i++)
            cleanup_rcpt_add(&st->extra_rcpts, src->v[i].addr, NULL, NULL, 0);
    }
}

/* mime_state callback: one logical header. */
static void cleanup_mime_header(void *ctx, int hdr_class, struct sbuf *header)
{
    struct cleanup_state *st = ctx;
    if (!cleanup_keep_writing(st))
        return;
    if (st->checks && !cleanup_check_header(st, hdr_class, header))
        return;
    /* Headers of parts and attached messages are copied as they are. */
    if (hdr_class == MIME_HDR_PRIMARY)
        cleanup_primary_header(st, header);
    else
        cleanup_write_header(st, sbuf_str(header), sbuf_len(header));
}

/* mime_state callback: end of a header block. */
static void cleanup_mime_header_end(void *ctx, int hdr_class)
{
    struct cleanup_state *st = ctx;
    if (hdr_class == MIME_HDR_PRIMARY && !st->headers_done && cleanup_keep_writing(st))
        cleanup_headers_end(st);
}

/* Writes one body record as it came (a long piece is split further). */
static void cleanup_write_body(struct cleanup_state *st, int type, const char *data, size_t len)
{
    int r = 0;
    cleanup_dkim_record(st, type, data, len);
    if (type == REC_NORM) {
        r = qfile_put_line(st->w, data, len);
    } else {
        while (len > QFILE_LINE_CHUNK && r == 0) {
            r = qfile_put(st->w, REC_CONT, data, QFILE_LINE_CHUNK);
            data += QFILE_LINE_CHUNK;
            len -= QFILE_LINE_CHUNK;
        }
        if (r == 0)
            r = qfile_put(st->w, REC_CONT, data, len);
    }
    st->pending_cont = type == REC_CONT;
    if (r < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
}

/* mime_state callback: one body record. */
static void cleanup_mime_body(void *ctx, int type, const char *data, size_t len, long offset)
{
    struct cleanup_state *st = ctx;
    if (!cleanup_keep_writing(st))
        return;
    if (st->checks && cleanup_cfg.body_checks) {
        struct sbuf *out = sbuf_new(64);
        bool use_out = false;
        bool keep = cleanup_check_body(st, data, len, offset, out, &use_out);
        if (keep && cleanup_keep_writing(st))
            cleanup_write_body(st, type, use_out ? sbuf_str(out) : data,
                               use_out ? sbuf_len(out) : len);
        else if (!keep && type == REC_NORM && st->pending_cont)
            cleanup_write_body(st, REC_NORM, "", 0);  /* end the line its pieces began */
        sbuf_free(out);
        return;
    }
    cleanup_write_body(st, type, data, len);
}

static const struct mime_state_ops cleanup_mime_ops = {
    .header = cleanup_mime_header,
    .header_end = cleanup_mime_header_end,
    .body = cleanup_mime_body,
};

static void cleanup_mime_errs(struct cleanup_state *st, int errs)
{
    if ((errs & MIME_ERR_TRUNC_HEADER) && !st->trunc_logged) {
        st->trunc_logged = true;
        log_info("%s: header size limit exceeded: truncated", st->queue_id);
    }
    if ((errs & MIME_ERR_NESTING) && !st->nesting_logged) {
        st->nesting_logged = true;
        log_info("%s: MIME nesting exceeds mime_nesting_limit %d: rest taken as body",
                 st->queue_id, cleanup_cfg.mime_nesting_limit);
    }
    /* strict_7bit_headers, strict_8bitmime(_body), strict_mime_encoding_domain. */
    int strict = errs & (MIME_ERR_8BIT_IN_HEADER | MIME_ERR_8BIT_IN_7BIT_BODY
                         | MIME_ERR_ENCODING_DOMAIN);
    if (strict && cleanup_keep_writing(st)) {
        const char *what = mime_state_error(strict);
        struct sbuf *text = sbuf_new(128);
        for (const char *p = mime_state_error_text(st->mime); *p; p++)
            sbuf_addch(text, (unsigned char)*p < 32 ? ' ' : *p);
        const char *name = st->env.attrs ? attr_get(st->env.attrs, "log_client_name") : NULL;
        const char *addr = st->env.attrs ? attr_get(st->env.attrs, "log_client_address") : NULL;
        struct sbuf *lfrom = sbuf_new(64), *lto = sbuf_new(64);
        log_info("%s: reject: mime-error %s: %s from %s%s%s%s; from=<%s> to=<%s>", st->queue_id,
                 what, sbuf_str(text), name && addr ? name : "local", name && addr ? "[" : "",
                 name && addr ? addr : "", name && addr ? "]" : "", log_addr(lfrom, st->sender),
                 st->env_rcpts.n > 0 ? log_addr(lto, st->env_rcpts.v[0].addr) : "unknown");
        sbuf_free(lfrom);
        sbuf_free(lto);
        struct sbuf *why = sbuf_new(96);
        sbuf_printf(why, "5.6.0 %c%s", toupper((unsigned char)what[0]), what + 1);
        cleanup_fail(st, CLEANUP_STAT_CONT, sbuf_str(why));
        sbuf_free(why);
        sbuf_free(text);
    }
}

/* One content record (N or L) from the client. */
static void cleanup_content(struct cleanup_state *st, int type, const char *data, size_t len)
{
    st->content_bytes += (long)len + (type == REC_NORM ? 1 : 0);
    if (cleanup_cfg.message_size_limit > 0 && st->content_bytes > cleanup_cfg.message_size_limit &&
        !(st->errs & CLEANUP_STAT_SIZE)) {
        log_warn("%s: message size exceeds message_size_limit %ld", st->queue_id,
                 cleanup_cfg.message_size_limit);
        cleanup_fail(st, CLEANUP_STAT_SIZE, "5.3.4 Message size exceeds fixed limit");
    }
    if (!cleanup_keep_writing(st))
        return;     /* the message will not be accepted: just drain */
    if (st->mime == NULL)
        st->mime = mime_state_new(&cleanup_mime_ops, st,
                                  cleanup_cfg.disable_mime ? MIME_OPT_DISABLE_MIME
                                  /* the strict_* checks go with header/body checks */
                                  : (st->flags & CLEANUP_FLAG_HEADER_CHECKS) ? cleanup_cfg.strict_mime
                                                                             : 0,
                                  (size_t)cleanup_cfg.header_size_limit,
                                  cleanup_cfg.mime_nesting_limit);
    if (st->mime && cleanup_cfg.mime_boundary_limit > 0)
        mime_state_set_boundary_limit(st->mime, (size_t)cleanup_cfg.mime_boundary_limit);
    /* cleanup_replace_stray_cr_lf: a CR or LF inside a line (one that did
     * not end it, e.g. "text\r\r\n" or a lone "\r" in the middle) becomes a
     * space before anything looks at the line, so that no server the mail
     * goes to next can read it as a line end (SMTP smuggling), and DKIM
     * signs what every receiver sees. */
    struct sbuf *spaced = NULL;
    if (cleanup_cfg.replace_stray_cr_lf && len > 0
        && (memchr(data, '\r', len) != NULL || memchr(data, '\n', len) != NULL)) {
        spaced = sbuf_new(len + 1);
        sbuf_append(spaced, data, len);
        for (size_t i = 0; i < len; i++)
            if (sbuf_data(spaced)[i] == '\r' || sbuf_data(spaced)[i] == '\n')
                sbuf_data(spaced)[i] = ' ';
        data = sbuf_str(spaced);
    }
    /* message_reject/strip_characters see the raw record, before MIME, as
     * header and body checks do (off with no_header_body_checks). */
    struct sbuf *stripped = NULL;
    if ((st->flags & CLEANUP_FLAG_HEADER_CHECKS)
        && (cleanup_cfg.have_reject_chars || cleanup_cfg.have_strip_chars)) {
        bool use = false;
        stripped = sbuf_new(len + 1);
        if (!cleanup_check_chars(st, data, len, stripped, &use)) {
            sbuf_free(stripped);
            sbuf_free(spaced);
            return;
        }
        if (use) {
            data = sbuf_str(stripped);
            len = sbuf_len(stripped);
        }
    }
    cleanup_mime_errs(st, mime_state_update(st->mime, type, data, len));
    if (stripped)
        sbuf_free(stripped);
    sbuf_free(spaced);
}

/* End of content (the client's X, or E without X). */
static void cleanup_content_end(struct cleanup_state *st)
{
    if (!cleanup_keep_writing(st))
        return;
    if (st->mime)
        cleanup_mime_errs(st, mime_state_end(st->mime));
    if (!st->headers_done && cleanup_keep_writing(st))
        cleanup_headers_end(st);    /* a message without content */
    if (st->pending_cont && cleanup_keep_writing(st)) {
        st->pending_cont = false;
        if (qfile_put(st->w, REC_NORM, "", 0) < 0)
            cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
        cleanup_dkim_record(st, REC_NORM, "", 0);
    }
    cleanup_dkim_end(st);
}

void cleanup_message(struct cleanup_state *st, int type, const char *data, size_t len)
{
    if (type == REC_NORM || type == REC_CONT) {
        cleanup_content(st, type, data, len);
        return;
    }
    if (type != REC_XTRA && type != REC_END) {
        cleanup_protocol_error(st, type, "in message content");
        return;
    }
    cleanup_content_end(st);
    st->xtra_offset = qfile_writer_offset(st->w);
    if (cleanup_keep_writing(st) && qfile_put(st->w, REC_XTRA, "", 0) < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
    st->action = cleanup_extracted;
    if (type == REC_END)
        cleanup_extracted_end(st);      /* tolerate a client that skips X */
}
