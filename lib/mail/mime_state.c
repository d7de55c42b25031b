/*
 * mime_state.c - MIME structure of a message as its content records go by
 *
 * Used by: cleanup (see mime_state.h).
 * Interface: see mime_state.h.
 * Errors: see mime_state.h.
 * Notes: two states: HEAD (collecting a header block, line by line) and
 *        BODY (passing records through, watching line starts for a
 *        boundary). A header block ends at the first line that is neither
 *        a header nor a continuation; that line is body. Its Content-Type
 *        decides what follows: a multipart type pushes its boundary, and
 *        message/rfc822 (or message/global) after a blank line opens a
 *        nested header block. A physical line in HEAD that grows past the
 *        header limit and does not belong to a header ends the block there
 *        and goes on as body, so no body byte is ever dropped.
 */
#include "mime_state.h"
#include "alloc.h"
#include "qfile.h"
#include <ctype.h>
#include <strings.h>

enum { MIME_ST_HEAD, MIME_ST_BODY };
enum { MIME_CT_OTHER, MIME_CT_MULTIPART, MIME_CT_MESSAGE };
enum { MIME_ENC_7BIT, MIME_ENC_8BIT, MIME_ENC_BINARY, MIME_ENC_OTHER };

struct mime_bound {
    char *text;
    size_t len;
    bool cut;           /* longer than the boundary limit: len is the limit */
    int msg_depth;      /* message/rfc822 depth when it was pushed */
    int enc;            /* the multipart's own encoding (its preamble, epilogue) */
};

struct mime_state {
    const struct mime_state_ops *ops;
    void *ctx;
    int opts;
    size_t header_limit;
    int nesting_limit;
    size_t boundary_limit;  /* mime_boundary_length_limit */
    int state;
    int hdr_class;
    struct sbuf *line;      /* HEAD: the physical line being assembled */
    bool line_cut;
    struct sbuf *hdr;       /* HEAD: the logical header being collected */
    bool mid_line;          /* the previous record was REC_CONT */
    long offset;            /* BODY: bytes of this body segment so far */
    int ctype;              /* Content-Type of the current header block */
    char *boundary;         /* its boundary parameter, if multipart */
    struct mime_bound *stack;
    size_t depth, cap;
    int msg_depth;
    int errs;
    int enc;                /* Content-Transfer-Encoding of the current header block */
    int body_enc;           /* ... of the body segment being passed through */
    struct sbuf *err_text;  /* mime_state_error_text() */
};

struct mime_state *mime_state_new(const struct mime_state_ops *ops, void *ctx, int opts,
                                  size_t header_limit, int nesting_limit)
{
    struct mime_state *m = xcalloc(1, sizeof(*m));
    m->ops = ops;
    m->ctx = ctx;
    m->opts = opts;
    m->header_limit = header_limit > 0 ? header_limit : 102400;
    m->nesting_limit = nesting_limit > 0 ? nesting_limit : 100;
    m->boundary_limit = 2048;
    m->state = MIME_ST_HEAD;
    m->hdr_class = MIME_HDR_PRIMARY;
    m->line = sbuf_new(256);
    m->hdr = sbuf_new(256);
    m->err_text = sbuf_new(100);
    return m;
}

static void mime_pop_to(struct mime_state *m, size_t depth)
{
    while (m->depth > depth)
        xfree(m->stack[--m->depth].text);
}

void mime_state_set_boundary_limit(struct mime_state *m, size_t limit)
{
    m->boundary_limit = limit > 0 ? limit : 2048;
}

void mime_state_free(struct mime_state *m)
{
    if (m == NULL)
        return;
    mime_pop_to(m, 0);
    xfree(m->stack);
    xfree(m->boundary);
    sbuf_free(m->err_text);
    sbuf_free(m->line);
    sbuf_free(m->hdr);
    xfree(m);
}

size_t mime_header_name_len(const char *line, size_t len)
{
    size_t i = 0;
    while (i < len && line[i] > 32 && line[i] < 127 && line[i] != ':')
        i++;
    if (i == 0)
        return 0;
    size_t name = i;
    while (i < len && (line[i] == ' ' || line[i] == '\t'))
        i++;
    return i < len && line[i] == ':' ? name : 0;
}

static bool mime_name_is(const char *name, size_t len, const char *want)
{
    return strlen(want) == len && strncasecmp(name, want, len) == 0;
}

bool mime_header_is_mime(const char *header, size_t len)
{
    size_t n = mime_header_name_len(header, len);
    /* Content-Length is no MIME header (RFC 2045 defines none such). */
    return (n > 8 && strncasecmp(header, "content-", 8) == 0 &&
            !mime_name_is(header, n, "content-length")) ||
           mime_name_is(header, n, "mime-version");
}

static bool mime_wsp(int c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* Reads a token or quoted string at *pp (up to end) into out. */
static void mime_param_value(const char **pp, const char *end, struct sbuf *out)
{
    const char *p = *pp;
    sbuf_reset(out);
    if (p < end && *p == '"') {
        for (p++; p < end && *p != '"'; p++) {
            if (*p == '\\' && p + 1 < end)
                p++;
            sbuf_addch(out, *p);
        }
        if (p < end)
            p++;
    } else {
        while (p < end && *p != ';' && !mime_wsp((unsigned char)*p))
            sbuf_addch(out, *p++);
    }
    *pp = p;
}

/* Content-Type value: type, and the boundary of a multipart. */
static void mime_content_type(struct mime_state *m, const char *v, const char *end)
{
    while (v < end && mime_wsp((unsigned char)*v))
        v++;
    const char *t = v;
    while (v < end && *v != '/' && *v != ';' && !mime_wsp((unsigned char)*v))
        v++;
    size_t tlen = (size_t)(v - t);
    const char *sub = v < end && *v == '/' ? v + 1 : v;
    v = sub;
    while (v < end && *v != ';' && !mime_wsp((unsigned char)*v))
        v++;
    size_t slen = (size_t)(v - sub);
    xfree(m->boundary);
    m->boundary = NULL;
    if (mime_name_is(t, tlen, "multipart")) {
        m->ctype = MIME_CT_MULTIPART;
    } else if (mime_name_is(t, tlen, "message") &&
               (mime_name_is(sub, slen, "rfc822") || mime_name_is(sub, slen, "global"))) {
        m->ctype = MIME_CT_MESSAGE;
        return;
    } else {
        m->ctype = MIME_CT_OTHER;
        return;
    }
    struct sbuf *val = sbuf_new(64);
    while (v < end) {
        while (v < end && *v != ';')
            v++;
        if (v == end)
            break;
        v++;
        while (v < end && mime_wsp((unsigned char)*v))
            v++;
        const char *name = v;
        while (v < end && *v != '=' && *v != ';' && !mime_wsp((unsigned char)*v))
            v++;
        size_t nlen = (size_t)(v - name);
        while (v < end && mime_wsp((unsigned char)*v))
            v++;
        if (v == end || *v != '=')
            continue;
        v++;
        while (v < end && mime_wsp((unsigned char)*v))
            v++;
        mime_param_value(&v, end, val);
        if (mime_name_is(name, nlen, "boundary") && sbuf_len(val) > 0 && m->boundary == NULL)
            m->boundary = xstrndup(sbuf_str(val), sbuf_len(val));
    }
    sbuf_free(val);
}

/* Raises err (when its option is on) with text for the log. */
static void mime_report(struct mime_state *m, int err, const char *text, size_t len)
{
    if (m->errs & err)
        return;
    m->errs |= err;
    sbuf_reset(m->err_text);
    sbuf_append(m->err_text, text, len < 100 ? len : 100);
}

static bool mime_has_8bit(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)p[i] >= 0x80)
            return true;
    return false;
}

const char *mime_state_error_text(const struct mime_state *m)
{
    return sbuf_str(m->err_text);
}

const char *mime_state_error(int err)
{
    if (err & MIME_ERR_8BIT_IN_HEADER)
        return "improper use of 8-bit data in message header";
    if (err & MIME_ERR_8BIT_IN_7BIT_BODY)
        return "improper use of 8-bit data in message body";
    if (err & MIME_ERR_ENCODING_DOMAIN)
        return "invalid message/* or multipart/* encoding domain";
    if (err & MIME_ERR_NESTING)
        return "MIME nesting exceeds safety limit";
    return "message header length exceeds safety limit";
}

/* Content-Transfer-Encoding value. */
static int mime_encoding(const char *v, const char *end)
{
    while (v < end && mime_wsp((unsigned char)*v))
        v++;
    const char *t = v;
    while (v < end && !mime_wsp((unsigned char)*v) && *v != ';' && *v != '(')
        v++;
    size_t n = (size_t)(v - t);
    return mime_name_is(t, n, "7bit")     ? MIME_ENC_7BIT
           : mime_name_is(t, n, "8bit")   ? MIME_ENC_8BIT
           : mime_name_is(t, n, "binary") ? MIME_ENC_BINARY
                                          : MIME_ENC_OTHER;
}

static void mime_body_out(struct mime_state *m, int type, const char *data, size_t len)
{
    if ((m->opts & MIME_OPT_REPORT_8BIT_IN_7BIT_BODY) && m->body_enc == MIME_ENC_7BIT
        && mime_has_8bit(data, len))
        mime_report(m, MIME_ERR_8BIT_IN_7BIT_BODY, data, len);
    m->ops->body(m->ctx, type, data, len, m->offset);
    m->offset += (long)len + (type == REC_NORM ? 1 : 0);
}

/* Delivers the logical header being collected, if any. */
static void mime_flush_header(struct mime_state *m)
{
    if (sbuf_len(m->hdr) == 0)
        return;
    if ((m->opts & MIME_OPT_REPORT_8BIT_IN_HEADER) && mime_has_8bit(sbuf_str(m->hdr), sbuf_len(m->hdr)))
        mime_report(m, MIME_ERR_8BIT_IN_HEADER, sbuf_str(m->hdr), sbuf_len(m->hdr));
    if (!(m->opts & MIME_OPT_DISABLE_MIME)) {
        const char *s = sbuf_str(m->hdr);
        size_t n = mime_header_name_len(s, sbuf_len(m->hdr));
        if (mime_name_is(s, n, "content-type"))
            mime_content_type(m, strchr(s, ':') + 1, s + sbuf_len(m->hdr));
        else if (mime_name_is(s, n, "content-transfer-encoding"))
            m->enc = mime_encoding(strchr(s, ':') + 1, s + sbuf_len(m->hdr));
    }
    m->ops->header(m->ctx, m->hdr_class, m->hdr);
    sbuf_reset(m->hdr);
}

/* Starts a header block of the given class. */
static void mime_begin_block(struct mime_state *m, int hdr_class)
{
    m->state = MIME_ST_HEAD;
    m->hdr_class = hdr_class;
    m->ctype = MIME_CT_OTHER;
    m->enc = MIME_ENC_7BIT;
    xfree(m->boundary);
    m->boundary = NULL;
}

/* Ends the current header block; returns true when a nested header block
 * is to start after the (blank) line that ended it. */
static bool mime_end_block(struct mime_state *m, bool blank)
{
    mime_flush_header(m);
    m->ops->header_end(m->ctx, m->hdr_class);
    m->state = MIME_ST_BODY;
    m->offset = 0;
    m->body_enc = m->enc;
    if (m->opts & MIME_OPT_DISABLE_MIME)
        return false;
    /* A container's body is parts or a message: only identity encodings. */
    if ((m->opts & MIME_OPT_REPORT_ENCODING_DOMAIN) && m->enc == MIME_ENC_OTHER
        && (m->ctype == MIME_CT_MULTIPART || m->ctype == MIME_CT_MESSAGE))
        mime_report(m, MIME_ERR_ENCODING_DOMAIN, "Content-Transfer-Encoding", 25);
    if (m->ctype == MIME_CT_MULTIPART && m->boundary) {
        if ((int)m->depth + m->msg_depth >= m->nesting_limit) {
            m->errs |= MIME_ERR_NESTING;
            return false;
        }
        if (m->depth == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 4;
            m->stack = xreallocarray(m->stack, m->cap, sizeof(*m->stack));
        }
        struct mime_bound *b = &m->stack[m->depth++];
        b->len = strlen(m->boundary);
        b->cut = b->len > m->boundary_limit;
        if (b->cut)
            b->len = m->boundary_limit;
        b->text = m->boundary;
        b->msg_depth = m->msg_depth;
        b->enc = m->enc;
        m->boundary = NULL;
        return false;
    }
    if (m->ctype == MIME_CT_MESSAGE && blank) {
        if ((int)m->depth + m->msg_depth >= m->nesting_limit) {
            m->errs |= MIME_ERR_NESTING;
            return false;
        }
        return true;
    }
    return false;
}

static bool mime_only_wsp(const char *p, const char *end)
{
    for (; p < end; p++)
        if (*p != ' ' && *p != '\t')
            return false;
    return true;
}

/* A complete line that may be a boundary of an open multipart. Handles it
 * (and returns true) when it is. */
static bool mime_boundary(struct mime_state *m, const char *p, size_t n)
{
    if (m->depth == 0 || n < 2 || p[0] != '-' || p[1] != '-')
        return false;
    for (size_t i = m->depth; i-- > 0;) {
        const struct mime_bound *b = &m->stack[i];
        if (n < 2 + b->len || memcmp(p + 2, b->text, b->len) != 0)
            continue;
        const char *rest = p + 2 + b->len, *end = p + n;
        bool close;
        if (b->cut) {
            /* Only the first boundary_limit characters are known: any line
             * that starts with them is this boundary, a closing one when
             * it ends in "--". */
            while (end > rest && (end[-1] == ' ' || end[-1] == '\t'))
                end--;
            close = end - rest >= 2 && end[-2] == '-' && end[-1] == '-';
        } else {
            close = end - rest >= 2 && rest[0] == '-' && rest[1] == '-';
            if (!mime_only_wsp(close ? rest + 2 : rest, end))
                continue;
        }
        if (m->state == MIME_ST_HEAD)
            (void)mime_end_block(m, false);
        int msg_depth = b->msg_depth, enc = b->enc;
        mime_pop_to(m, close ? i : i + 1);
        m->body_enc = enc;      /* the boundary line and an epilogue are the container's */
        m->msg_depth = msg_depth;
        m->state = MIME_ST_BODY;
        mime_body_out(m, REC_NORM, p, n);
        if (close)
            m->offset = 0;      /* the epilogue is a segment of its own */
        else
            mime_begin_block(m, MIME_HDR_MULTIPART);
        return true;
    }
    return false;
}

/* True when a line starts a header whose colon falls within the header
 * limit (a longer name could not be kept whole: such a line is body). */
static bool mime_is_header(const struct mime_state *m, const char *p, size_t n)
{
    if (mime_header_name_len(p, n) == 0)
        return false;
    const char *colon = memchr(p, ':', n);
    return colon != NULL && (size_t)(colon - p) < m->header_limit;
}

/* One complete physical line while in HEAD. */
static void mime_head_line(struct mime_state *m, const char *p, size_t n)
{
    if (mime_boundary(m, p, n))
        return;
    if (sbuf_len(m->hdr) > 0 && n > 0 && (p[0] == ' ' || p[0] == '\t')) {
        if (sbuf_len(m->hdr) + 1 + n <= m->header_limit) {
            sbuf_addch(m->hdr, '\n');
            sbuf_append(m->hdr, p, n);
        } else {
            m->errs |= MIME_ERR_TRUNC_HEADER;
        }
        return;
    }
    mime_flush_header(m);
    if (mime_is_header(m, p, n)) {
        sbuf_append(m->hdr, p, n < m->header_limit ? n : m->header_limit);
        if (n > m->header_limit)
            m->errs |= MIME_ERR_TRUNC_HEADER;
        return;
    }
    bool nested = mime_end_block(m, n == 0);
    mime_body_out(m, REC_NORM, p, n);
    if (nested) {
        m->msg_depth++;
        mime_begin_block(m, MIME_HDR_NESTED);
    }
}

/* True when the line being assembled belongs to a header (a header line
 * or the continuation of one). */
static bool mime_line_in_header(const struct mime_state *m)
{
    const char *p = sbuf_str(m->line);
    size_t n = sbuf_len(m->line);
    if (sbuf_len(m->hdr) > 0 && n > 0 && (p[0] == ' ' || p[0] == '\t'))
        return true;
    return mime_is_header(m, p, n);
}

static void mime_head_record(struct mime_state *m, int type, const char *data, size_t len)
{
    if (!m->line_cut)
        sbuf_append(m->line, data, len);
    if (type == REC_CONT) {
        m->mid_line = true;
        if (m->line_cut || sbuf_len(m->line) <= m->header_limit)
            return;
        if (mime_line_in_header(m)) {
            /* A header past the limit: keep what fits, drop the rest. */
            sbuf_truncate(m->line, m->header_limit);
            m->line_cut = true;
            m->errs |= MIME_ERR_TRUNC_HEADER;
            return;
        }
        /* A long line that is no header: the block ends, the body begins. */
        bool nested = mime_end_block(m, false);
        (void)nested;
        mime_body_out(m, REC_CONT, sbuf_str(m->line), sbuf_len(m->line));
        sbuf_reset(m->line);
        return;
    }
    m->mid_line = false;
    mime_head_line(m, sbuf_str(m->line), sbuf_len(m->line));
    sbuf_reset(m->line);
    m->line_cut = false;
}

int mime_state_update(struct mime_state *m, int type, const char *data, size_t len)
{
    m->errs = 0;
    if (m->state == MIME_ST_HEAD) {
        mime_head_record(m, type, data, len);
        return m->errs;
    }
    if (!m->mid_line && type == REC_NORM && mime_boundary(m, data, len))
        return m->errs;
    m->mid_line = type == REC_CONT;
    mime_body_out(m, type, data, len);
    return m->errs;
}

int mime_state_end(struct mime_state *m)
{
    m->errs = 0;
    if (m->state == MIME_ST_HEAD) {
        if (sbuf_len(m->line) > 0 || m->mid_line) {
            m->mid_line = false;
            mime_head_line(m, sbuf_str(m->line), sbuf_len(m->line));
            sbuf_reset(m->line);
        }
        if (m->state == MIME_ST_HEAD) {
            mime_flush_header(m);
            m->ops->header_end(m->ctx, m->hdr_class);
            m->state = MIME_ST_BODY;
        }
    }
    return m->errs;
}
