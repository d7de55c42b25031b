/*
 * dkim_sign.c - DKIM signing: canonicalization, body hash, header
 *               selection and the DKIM-Signature header (RFC 6376, 8463)
 *
 * Used by: cleanup (cleanup_dkim.c), tests/unit/dkim_sign_test.c.
 * Interface: see dkim_sign.h.
 * Errors: dkim_msg_sign() returns -1 with a reason in err.
 * Notes: the message arrives as content lines (queue file N/L records);
 *        the header block ends at the first empty line or the first line
 *        that is neither a header nor a continuation (that line is body).
 *        Headers are kept in memory, the body is hashed as it streams.
 *        The b= value is not folded, so the signed header text is exactly
 *        the one written, for either canonicalization.
 */
#include "dkim_sign.h"
#include "alloc.h"
#include <ctype.h>
#include <string.h>
#include <strings.h>

#define DKIM_FOLD_AT 72     /* fold the h= list before this column */

struct dkim_body {
    bool relaxed, done;
    long empty;             /* empty lines held back (trailing ones are dropped) */
    bool any;               /* a non-empty line was hashed */
    struct dkim_sha256 *h;
    struct sbuf *line;
    unsigned char digest[DKIM_SHA256_LEN];
};

struct dkim_hdr {
    char *text;             /* as written, lines joined by '\n' */
    size_t name_len;
};

struct dkim_msg {
    bool in_body;
    struct sbuf *line;      /* line being assembled from pieces */
    struct sbuf *cur;       /* header being assembled (with continuations) */
    struct dkim_hdr *hdrs;
    size_t nhdrs, cap;
    struct dkim_body *body;
    char *from_domain;
};

static bool dkim_wsp(int c)
{
    return c == ' ' || c == '\t';
}

void dkim_canon_header(struct sbuf *out, const char *hdr, size_t len, bool relaxed)
{
    if (!relaxed) {
        for (size_t i = 0; i < len; i++) {
            if (hdr[i] == '\n')
                sbuf_append(out, "\r\n", 2);
            else
                sbuf_addch(out, hdr[i]);
        }
        sbuf_append(out, "\r\n", 2);
        return;
    }
    const char *colon = memchr(hdr, ':', len);
    size_t nlen = colon ? (size_t)(colon - hdr) : len;
    while (nlen > 0 && dkim_wsp(hdr[nlen - 1]))
        nlen--;
    for (size_t i = 0; i < nlen; i++)
        sbuf_addch(out, tolower((unsigned char)hdr[i]));
    sbuf_addch(out, ':');
    if (colon) {
        const char *p = colon + 1, *end = hdr + len;
        bool pending_sp = false, started = false;
        for (; p < end; p++) {
            if (*p == '\n' || *p == '\r')
                continue;   /* unfold */
            if (dkim_wsp(*p)) {
                pending_sp = started;
                continue;
            }
            if (pending_sp)
                sbuf_addch(out, ' ');
            pending_sp = false;
            started = true;
            sbuf_addch(out, *p);
        }
    }
    sbuf_append(out, "\r\n", 2);
}

struct dkim_body *dkim_body_new(bool relaxed)
{
    struct dkim_body *b = xcalloc(1, sizeof(*b));
    b->relaxed = relaxed;
    b->h = dkim_sha256_new();
    b->line = sbuf_new(256);
    return b;
}

void dkim_body_line(struct dkim_body *b, const char *line, size_t len)
{
    if (b->done)
        return;
    sbuf_reset(b->line);
    if (b->relaxed) {
        bool sp = false;
        for (size_t i = 0; i < len; i++) {
            if (dkim_wsp(line[i])) {
                sp = true;
                continue;
            }
            if (sp)
                sbuf_addch(b->line, ' ');
            sp = false;
            sbuf_addch(b->line, line[i]);
        }
        /* trailing WSP dropped: sp is simply forgotten */
    } else {
        sbuf_append(b->line, line, len);
    }
    if (sbuf_len(b->line) == 0) {
        b->empty++;
        return;
    }
    for (; b->empty > 0; b->empty--)
        dkim_sha256_update(b->h, "\r\n", 2);
    dkim_sha256_update(b->h, sbuf_str(b->line), sbuf_len(b->line));
    dkim_sha256_update(b->h, "\r\n", 2);
    b->any = true;
}

void dkim_body_final(struct dkim_body *b, struct sbuf *out)
{
    if (!b->done) {
        /* An empty body is CRLF in simple, nothing in relaxed (RFC 6376 3.4.3/3.4.4). */
        if (!b->any && !b->relaxed)
            dkim_sha256_update(b->h, "\r\n", 2);
        dkim_sha256_final(b->h, b->digest);
        b->done = true;
    }
    dkim_base64(out, b->digest, sizeof(b->digest));
}

void dkim_body_free(struct dkim_body *b)
{
    if (b == NULL)
        return;
    dkim_sha256_free(b->h);
    sbuf_free(b->line);
    xfree(b);
}

struct dkim_msg *dkim_msg_new(bool body_relaxed)
{
    struct dkim_msg *m = xcalloc(1, sizeof(*m));
    m->line = sbuf_new(256);
    m->cur = sbuf_new(256);
    m->body = dkim_body_new(body_relaxed);
    return m;
}

static void dkim_msg_end_header(struct dkim_msg *m)
{
    if (sbuf_len(m->cur) == 0)
        return;
    if (m->nhdrs == m->cap) {
        m->cap = m->cap ? 2 * m->cap : 32;
        m->hdrs = xrealloc(m->hdrs, m->cap * sizeof(*m->hdrs));
    }
    const char *t = sbuf_str(m->cur);
    size_t n = strcspn(t, ":");
    while (n > 0 && dkim_wsp(t[n - 1]))
        n--;
    m->hdrs[m->nhdrs].name_len = n;
    m->hdrs[m->nhdrs++].text = sbuf_detach(m->cur);
    m->cur = sbuf_new(256);
}

/* True for "name:" with a name of printable non-space characters. */
static bool dkim_is_header(const char *p, size_t len)
{
    size_t i = 0;
    while (i < len && p[i] > ' ' && p[i] < 127 && p[i] != ':')
        i++;
    while (i > 0 && i < len && dkim_wsp(p[i]))
        i++;
    return i > 0 && i < len && p[i] == ':';
}

static void dkim_msg_line(struct dkim_msg *m, const char *p, size_t len)
{
    if (!m->in_body) {
        if (len > 0 && dkim_wsp(p[0]) && sbuf_len(m->cur) > 0) {
            sbuf_addch(m->cur, '\n');
            sbuf_append(m->cur, p, len);
            return;
        }
        dkim_msg_end_header(m);
        if (len > 0 && dkim_is_header(p, len)) {
            sbuf_append(m->cur, p, len);
            return;
        }
        m->in_body = true;
        if (len == 0)
            return;     /* the separator is not part of the body */
    }
    dkim_body_line(m->body, p, len);
}

void dkim_msg_piece(struct dkim_msg *m, const char *data, size_t len, bool eol)
{
    sbuf_append(m->line, data, len);
    if (!eol)
        return;
    dkim_msg_line(m, sbuf_str(m->line), sbuf_len(m->line));
    sbuf_reset(m->line);
}

static bool dkim_name_is(const struct dkim_hdr *h, const char *name)
{
    return strlen(name) == h->name_len && strncasecmp(h->text, name, h->name_len) == 0;
}

const char *dkim_msg_from_domain(struct dkim_msg *m)
{
    if (m->from_domain)
        return m->from_domain;
    dkim_msg_end_header(m);
    const struct dkim_hdr *from = NULL;
    for (size_t i = 0; i < m->nhdrs; i++) {
        if (dkim_name_is(&m->hdrs[i], "from")) {
            if (from)
                return NULL;
            from = &m->hdrs[i];
        }
    }
    if (from == NULL)
        return NULL;
    const char *v = from->text + from->name_len;
    v += strcspn(v, ":") + 1;
    /* The address is in <...> when there is a phrase, else the value itself. */
    const char *lt = strrchr(v, '<');
    const char *start = lt ? lt + 1 : v;
    const char *stop = lt ? strchr(start, '>') : start + strcspn(start, ",;()\n");
    if (stop == NULL)
        return NULL;
    const char *at = NULL;
    for (const char *p = start; p < stop; p++)
        if (*p == '@')
            at = p;
    if (at == NULL)
        return NULL;
    struct sbuf *d = sbuf_new(64);
    for (const char *p = at + 1; p < stop && !isspace((unsigned char)*p); p++)
        sbuf_addch(d, tolower((unsigned char)*p));
    if (sbuf_len(d) == 0 || strchr(sbuf_str(d), '.') == NULL) {
        sbuf_free(d);
        return NULL;
    }
    m->from_domain = sbuf_detach(d);
    return m->from_domain;
}

static bool dkim_in_list(char **list, const char *name)
{
    for (char **p = list; p && *p; p++)
        if (strcasecmp(*p, name) == 0)
            return true;
    return false;
}

/* Adds name to h= (folding the list) and its canonical header to input. */
static void dkim_add_name(struct sbuf *hlist, size_t *col, const char *name, size_t n)
{
    if (sbuf_len(hlist) > 0) {
        sbuf_addch(hlist, ':');
        (*col)++;
        if (*col + n > DKIM_FOLD_AT) {
            sbuf_cat(hlist, "\n\t");
            *col = 8;
        }
    }
    for (size_t i = 0; i < n; i++)
        sbuf_addch(hlist, tolower((unsigned char)name[i]));
    *col += n;
}

int dkim_msg_sign(struct dkim_msg *m, const struct dkim_opts *o, const char *domain,
                  const char *selector, int alg, struct dkim_key *key, long now,
                  struct sbuf *out, struct sbuf *err)
{
    struct sbuf *input = sbuf_new(4096), *hlist = sbuf_new(256), *bh = sbuf_new(64);
    size_t col = 4;     /* "\th=" */
    char *names[256];
    size_t nnames = 0;
    int res;

    dkim_msg_end_header(m);
    /* From first (it must be signed), then the configured names once each. */
    names[nnames++] = "From";
    names[nnames] = NULL;
    for (int pass = 0; pass < 2; pass++) {
        for (char **p = pass ? o->oversign : o->headers; p && *p && nnames < 250; p++) {
            if (!dkim_in_list(names, *p)) {
                names[nnames++] = *p;
                names[nnames] = NULL;
            }
        }
    }
    for (size_t k = 0; k < nnames; k++) {
        /* Every instance, bottom-up (RFC 6376 5.4.2). */
        for (size_t i = m->nhdrs; i-- > 0;) {
            if (!dkim_name_is(&m->hdrs[i], names[k]))
                continue;
            dkim_add_name(hlist, &col, names[k], strlen(names[k]));
            dkim_canon_header(input, m->hdrs[i].text, strlen(m->hdrs[i].text), o->hdr_relaxed);
        }
        if (dkim_in_list(o->oversign, names[k]))
            dkim_add_name(hlist, &col, names[k], strlen(names[k]));
    }
    dkim_body_final(m->body, bh);
    sbuf_printf(out, "DKIM-Signature: v=1; a=%s; c=%s/%s; d=%s; s=%s;\n\tt=%ld;\n\th=%s;\n\t"
                     "bh=%s;\n\tb=",
                alg == DKIM_ALG_ED25519 ? "ed25519-sha256" : "rsa-sha256",
                o->hdr_relaxed ? "relaxed" : "simple", o->body_relaxed ? "relaxed" : "simple",
                domain, selector, now, sbuf_str(hlist), sbuf_str(bh));
    /* The signature header itself, b= empty, without its final CRLF. */
    dkim_canon_header(input, sbuf_str(out), sbuf_len(out), o->hdr_relaxed);
    sbuf_truncate(input, sbuf_len(input) - 2);
    unsigned char digest[DKIM_SHA256_LEN];
    struct dkim_sha256 *h = dkim_sha256_new();
    dkim_sha256_update(h, sbuf_str(input), sbuf_len(input));
    dkim_sha256_final(h, digest);
    dkim_sha256_free(h);
    res = dkim_key_sign(key, digest, out, err);
    sbuf_free(input);
    sbuf_free(hlist);
    sbuf_free(bh);
    return res;
}

void dkim_msg_free(struct dkim_msg *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; i < m->nhdrs; i++)
        xfree(m->hdrs[i].text);
    xfree(m->hdrs);
    sbuf_free(m->line);
    sbuf_free(m->cur);
    dkim_body_free(m->body);
    xfree(m->from_domain);
    xfree(m);
}

int dkim_key_entry_parse(const char *entry, struct sbuf *sel, struct sbuf *path)
{
    const char *c1 = strchr(entry, ':');
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (c1 == NULL || c2 == NULL || c1 == entry || c2[1] == 0)
        return -1;
    int alg;
    size_t an = (size_t)(c2 - c1 - 1);
    if (an == 3 && strncasecmp(c1 + 1, "rsa", 3) == 0)
        alg = DKIM_ALG_RSA;
    else if (an == 7 && strncasecmp(c1 + 1, "ed25519", 7) == 0)
        alg = DKIM_ALG_ED25519;
    else
        return -1;
    sbuf_reset(sel);
    sbuf_append(sel, entry, (size_t)(c1 - entry));
    sbuf_set(path, c2 + 1);
    return alg;
}
