/*
 * milter_message.c - the message stage: headers, end of headers, body and
 *                    end of message to each milter, the milters' edits
 *                    applied, and the result written to cleanup
 *
 * Used by: smtpd, pickup (through milters_message()).
 * Interface: milters_message().
 * Errors: a spool that cannot be read is a temporary error ("451 4.3.0");
 *         a milter that asks for an action it was not offered, or sends a
 *         replacement body larger than message_size_limit, has failed and
 *         its default action applies.
 * Notes: the client (smtpd, pickup) spooled its cleanup records (lib/mail/
 *        cleanup_clnt.c, cleanup_spool_begin()) instead of sending them.
 *        Here the spool is read back into a model of the message: the
 *        envelope records, the header list, and the body (the spooled
 *        records, or a replacement). Each milter sees the message as the
 *        milters before it left it. Then the model goes to cleanup as
 *        ordinary records, so edits and message are one queue file,
 *        committed (and answered 250) together; nothing of a rejected
 *        message reaches cleanup at all.
 *        Header edits follow libmilter: CHGHEADER's index counts headers
 *        of that name from 1 (an empty value deletes; an index past the
 *        last adds the header at the end), INSHEADER's counts all headers
 *        from 0 (past the end: appended). Without SMFIP_HDR_LEADSPC
 *        values are sent without their leading blanks and new ones get
 *        "Name: value".
 */
#include "milter.h"
#include "dsn_notify.h"
#include "milter_priv.h"
#include "addr.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "cleanup_proto.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include "qfile.h"
#include <ctype.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>

/* Most modification requests one milter may make for one message (a
 * replacement body counts one per 64 KiB chunk). */
#define MILTER_EDITS_MAX 10000

struct mm_rec {
    int type;
    const char *data;
    size_t len;
};

struct mm_hdr {
    char *name;
    char *value;        /* text after ':', lines joined with '\n' */
    bool by_milter;     /* added or changed by a milter (milter_header_checks) */
};

struct mm_rcpt {
    char *addr;
    char *args;
};

struct mm_msg {
    struct mm_rec *recs;
    size_t nrec, mesg, body, xtra;  /* record indexes */
    bool had_sep;                   /* an empty line ended the headers */
    struct mm_hdr *hdrs;
    size_t nhdr;
    struct sbuf *newbody;           /* replacement (CR LF text), or NULL */
    char *sender;                   /* CHGFROM, or NULL */
    char **del;
    size_t ndel;
    struct mm_rcpt *add;
    size_t nadd;
    long size_limit;
    size_t hdr_bytes;               /* header text added or changed by milters */
};

/* ---- reading the spool -------------------------------------------------- */

static int mm_parse_recs(struct mm_msg *mm, const char *p, size_t len)
{
    size_t off = 0, cap = 0;
    while (off < len) {
        int type = (unsigned char)p[off++];
        size_t n = 0;
        int shift = 0;
        for (;;) {
            if (off >= len || shift > 28)
                return -1;
            unsigned char c = (unsigned char)p[off++];
            n |= (size_t)(c & 0x7f) << shift;
            shift += 7;
            if (!(c & 0x80))
                break;
        }
        if (n > len - off)
            return -1;
        if (mm->nrec == cap) {
            cap = cap ? cap * 2 : 64;
            mm->recs = xreallocarray(mm->recs, cap, sizeof(*mm->recs));
        }
        mm->recs[mm->nrec++] = (struct mm_rec){ type, p + off, n };
        off += n;
    }
    return 0;
}

static bool mm_is_header_start(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && s[i] != ':' && (unsigned char)s[i] > 32 && (unsigned char)s[i] < 127)
        i++;
    return i > 0 && i < n && s[i] == ':';
}

static void mm_add_hdr(struct mm_msg *mm, size_t at, const char *name, size_t nlen,
                       const char *value, size_t vlen)
{
    mm->hdrs = xreallocarray(mm->hdrs, mm->nhdr + 1, sizeof(*mm->hdrs));
    memmove(&mm->hdrs[at + 1], &mm->hdrs[at], (mm->nhdr - at) * sizeof(*mm->hdrs));
    mm->hdrs[at].name = xstrndup(name, nlen);
    mm->hdrs[at].value = xstrndup(value, vlen);
    mm->hdrs[at].by_milter = false;
    mm->nhdr++;
}

/* Splits the content into headers and body. */
static void mm_parse_content(struct mm_msg *mm)
{
    mm->mesg = mm->xtra = mm->nrec;
    for (size_t i = 0; i < mm->nrec; i++)
        if (mm->recs[i].type == REC_MESG) {
            mm->mesg = i;
            break;
        }
    size_t i = mm->mesg < mm->nrec ? mm->mesg + 1 : mm->nrec;
    while (i < mm->nrec && (mm->recs[i].type == REC_NORM || mm->recs[i].type == REC_CONT))
        i++;
    mm->xtra = i;
    mm->body = mm->xtra;
    struct sbuf *line = sbuf_new(256);
    struct mm_hdr *cur = NULL;
    size_t start = mm->mesg + 1;
    for (i = start; i < mm->xtra; i++) {
        const struct mm_rec *r = &mm->recs[i];
        sbuf_append(line, r->data, r->len);
        if (r->type == REC_CONT)
            continue;
        const char *s = sbuf_str(line);
        size_t n = sbuf_len(line);
        if (cur && n > 0 && (s[0] == ' ' || s[0] == '\t')) {
            size_t ol = strlen(cur->value);
            cur->value = xrealloc(cur->value, ol + n + 2);
            cur->value[ol] = '\n';
            memcpy(cur->value + ol + 1, s, n);
            cur->value[ol + 1 + n] = 0;
        } else if (mm_is_header_start(s, n)) {
            size_t nl = (size_t)((const char *)memchr(s, ':', n) - s);
            mm_add_hdr(mm, mm->nhdr, s, nl, s + nl + 1, n - nl - 1);
            cur = &mm->hdrs[mm->nhdr - 1];
        } else {
            mm->had_sep = n == 0;
            mm->body = n == 0 ? i + 1 : start;
            break;
        }
        sbuf_reset(line);
        start = i + 1;
    }
    sbuf_free(line);
}

static void mm_free(struct mm_msg *mm)
{
    for (size_t i = 0; i < mm->nhdr; i++) {
        xfree(mm->hdrs[i].name);    /* NULL after IGNORE */
        xfree(mm->hdrs[i].value);
    }
    xfree(mm->hdrs);
    xfree(mm->recs);
    sbuf_free(mm->newbody);
    xfree(mm->sender);
    for (size_t i = 0; i < mm->ndel; i++)
        xfree(mm->del[i]);
    xfree(mm->del);
    for (size_t i = 0; i < mm->nadd; i++) {
        xfree(mm->add[i].addr);
        xfree(mm->add[i].args);
    }
    xfree(mm->add);
}

/* ---- edits -------------------------------------------------------------- */

/* "<addr>" or "addr", external form -> addr in internal form (new). */
static char *mm_strip_brackets(const char *s)
{
    size_t n = strlen(s);
    while (n > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        n--;
    }
    if (n >= 2 && s[0] == '<' && s[n - 1] == '>') {
        s++;
        n -= 2;
    }
    /* External form ("a b"@x) to the internal form the queue keeps (a b@x). */
    char *ext = xstrndup(s, n);
    struct sbuf *in = sbuf_new(n + 1);
    addr_unquote(in, ext);
    xfree(ext);
    return sbuf_detach(in);
}

/* A header value from a milter, as stored: CR LF -> LF, a continuation
 * line that does not start with a blank gets a TAB (no header
 * injection), and a space after the colon unless the milter negotiated
 * SMFIP_HDR_LEADSPC. */
static char *mm_new_value(const char *v, bool leadspc)
{
    struct sbuf *b = sbuf_new(strlen(v) + 4);
    if (!leadspc)
        sbuf_addch(b, ' ');
    for (const char *p = v; *p; p++) {
        if (*p == '\r' && p[1] == '\n')
            continue;
        if (*p == '\r')
            continue;
        sbuf_addch(b, *p);
        if (*p == '\n' && p[1] != ' ' && p[1] != '\t')
            sbuf_addch(b, '\t');
    }
    return sbuf_detach(b);
}

static void mm_chgheader(struct mm_msg *mm, uint32_t index, const char *name, const char *value,
                         bool leadspc)
{
    uint32_t seen = 0;
    if (index == 0)
        index = 1;      /* libmilter treats 0 as 1 */
    for (size_t i = 0; i < mm->nhdr; i++) {
        if (strcasecmp(mm->hdrs[i].name, name) != 0 || ++seen != index)
            continue;
        if (*value == 0) {
            xfree(mm->hdrs[i].name);
            xfree(mm->hdrs[i].value);
            memmove(&mm->hdrs[i], &mm->hdrs[i + 1], (mm->nhdr - i - 1) * sizeof(*mm->hdrs));
            mm->nhdr--;
        } else {
            xfree(mm->hdrs[i].value);
            mm->hdrs[i].value = mm_new_value(value, leadspc);
            mm->hdrs[i].by_milter = true;
        }
        return;
    }
    if (*value) {
        char *v = mm_new_value(value, leadspc);
        mm_add_hdr(mm, mm->nhdr, name, strlen(name), v, strlen(v));
        mm->hdrs[mm->nhdr - 1].by_milter = true;
        xfree(v);
    }
}

/* Applies one modification request; false when the milter was not
 * offered that action (or broke a limit). */
static bool mm_apply(struct milters *ms, struct milter_one *mo, struct mm_msg *mm,
                     const struct milter8_reply *r, bool *body_started)
{
    uint32_t act = mo->m->actions;
    bool leadspc = (mo->m->protocol & SMFIP_HDR_LEADSPC) != 0;
    if (r->cmd == SMFIR_ADDHEADER || r->cmd == SMFIR_INSHEADER || r->cmd == SMFIR_CHGHEADER) {
        mm->hdr_bytes += strlen(r->s1) + strlen(r->s2);
        if (mm->size_limit > 0 && (long)mm->hdr_bytes > mm->size_limit) {
            log_warn("milter %s: added headers exceed message_size_limit", mo->m->name);
            return false;
        }
    }
    switch (r->cmd) {
    case SMFIR_ADDHEADER:
    case SMFIR_INSHEADER: {
        if (!(act & SMFIF_ADDHDRS))
            return false;
        char *v = mm_new_value(r->s2, leadspc);
        size_t at = r->cmd == SMFIR_ADDHEADER || r->index > mm->nhdr ? mm->nhdr : r->index;
        mm_add_hdr(mm, at, r->s1, strlen(r->s1), v, strlen(v));
        mm->hdrs[at].by_milter = true;
        xfree(v);
        return true;
    }
    case SMFIR_CHGHEADER:
        if (!(act & SMFIF_CHGHDRS))
            return false;
        mm_chgheader(mm, r->index, r->s1, r->s2, leadspc);
        return true;
    case SMFIR_REPLBODY:
        if (!(act & SMFIF_CHGBODY))
            return false;
        if (!*body_started) {
            sbuf_free(mm->newbody);
            mm->newbody = sbuf_new(sbuf_len(r->body) + 64);
            *body_started = true;
        }
        if (mm->size_limit > 0
            && (long)(sbuf_len(mm->newbody) + sbuf_len(r->body)) > mm->size_limit) {
            log_warn("milter %s: replacement body exceeds message_size_limit", mo->m->name);
            return false;
        }
        sbuf_append(mm->newbody, sbuf_str(r->body), sbuf_len(r->body));
        return true;
    case SMFIR_ADDRCPT:
    case SMFIR_ADDRCPT_PAR:
        if (!(act & (r->cmd == SMFIR_ADDRCPT ? SMFIF_ADDRCPT : SMFIF_ADDRCPT_PAR)))
            return false;
        mm->add = xreallocarray(mm->add, mm->nadd + 1, sizeof(*mm->add));
        mm->add[mm->nadd].addr = mm_strip_brackets(r->s1);
        mm->add[mm->nadd++].args = r->s2 ? xstrdup(r->s2) : NULL;
        return true;
    case SMFIR_DELRCPT:
        if (!(act & SMFIF_DELRCPT))
            return false;
        mm->del = xreallocarray(mm->del, mm->ndel + 1, sizeof(*mm->del));
        mm->del[mm->ndel++] = mm_strip_brackets(r->s1);
        return true;
    case SMFIR_CHGFROM:
        if (!(act & SMFIF_CHGFROM))
            return false;
        xfree(mm->sender);
        mm->sender = mm_strip_brackets(r->s1);
        if (r->s2 && *r->s2)
            log_info("milter %s: CHGFROM ESMTP arguments ignored: %.100s", mo->m->name, r->s2);
        return true;
    case SMFIR_QUARANTINE:
        if (!(act & SMFIF_QUARANTINE))
            return false;
        if (!ms->hold)
            sbuf_set(ms->hold_reason, r->s1);
        ms->hold = true;
        return true;
    default:
        return false;
    }
}

/* ---- the message to one milter ----------------------------------------- */

/* Sends one content packet and reads the reply unless noreply. *res gets
 * a final verdict other than continue. Returns false to stop talking to
 * this milter about the message. */
static bool mm_content(struct milters *ms, struct milter_one *mo, int stage, int cmd,
                       const void *data, size_t len, uint32_t noreply, const char **res,
                       bool *skip)
{
    if (stage >= 0 && milter_send_macros_stage(ms, mo, stage, cmd) < 0) {
        *res = milter_fail(ms, mo);
        return false;
    }
    if (milter8_send(mo->m, cmd, data, len, true) < 0) {
        log_warn("milter %s: error sending message content", mo->m->name);
        *res = milter_fail(ms, mo);
        return false;
    }
    if (mo->m->protocol & noreply)
        return true;
    for (;;) {
        struct milter8_reply r;
        if (milter8_read_reply(mo->m, true, &r) < 0) {
            *res = milter_fail(ms, mo);
            return false;
        }
        if (r.cmd == SMFIR_PROGRESS) {
            milter8_reply_free(&r);
            continue;
        }
        if (r.cmd == SMFIR_SKIP && skip) {
            *skip = true;
            milter8_reply_free(&r);
            return true;
        }
        *res = milter_final(ms, mo, &r, false);
        milter8_reply_free(&r);
        return *res == NULL && !mo->msg_accept && mo->state == MILTER_S_READY;
    }
}

/* Feeds the body (CR LF lines) in chunks. */
static bool mm_body(struct milters *ms, struct milter_one *mo, const struct mm_msg *mm,
                    const char **res)
{
    bool skip = false;
    struct sbuf *chunk = sbuf_new(MILTER8_CHUNK + 4096);
    bool ok = true;
    if (mm->newbody) {
        const char *p = sbuf_str(mm->newbody);
        size_t left = sbuf_len(mm->newbody);
        while (ok && left > 0 && !skip) {
            size_t k = left < MILTER8_CHUNK ? left : MILTER8_CHUNK;
            ok = mm_content(ms, mo, -1, SMFIC_BODY, p, k, SMFIP_NR_BODY, res, &skip);
            p += k;
            left -= k;
        }
    } else {
        for (size_t i = mm->body; ok && !skip && i < mm->xtra; i++) {
            const struct mm_rec *r = &mm->recs[i];
            sbuf_append(chunk, r->data, r->len);
            if (r->type == REC_NORM)
                sbuf_append(chunk, "\r\n", 2);
            while (ok && !skip && sbuf_len(chunk) >= MILTER8_CHUNK) {
                ok = mm_content(ms, mo, -1, SMFIC_BODY, sbuf_str(chunk), MILTER8_CHUNK,
                                SMFIP_NR_BODY, res, &skip);
                size_t rest = sbuf_len(chunk) - MILTER8_CHUNK;
                memmove(sbuf_data(chunk), sbuf_str(chunk) + MILTER8_CHUNK, rest);
                sbuf_truncate(chunk, rest);
            }
        }
        if (ok && !skip && sbuf_len(chunk) > 0)
            ok = mm_content(ms, mo, -1, SMFIC_BODY, sbuf_str(chunk), sbuf_len(chunk),
                            SMFIP_NR_BODY, res, &skip);
    }
    sbuf_free(chunk);
    return ok;
}

static const char *mm_one(struct milters *ms, struct milter_one *mo, struct mm_msg *mm)
{
    const char *res = NULL;
    uint32_t proto = mo->m->protocol;
    if (!(proto & SMFIP_NOHDRS)) {
        struct sbuf *b = sbuf_new(256);
        for (size_t i = 0; i < mm->nhdr; i++) {
            const char *v = mm->hdrs[i].value;
            if (!(proto & SMFIP_HDR_LEADSPC))
                v += strspn(v, " \t");
            sbuf_reset(b);
            sbuf_append(b, mm->hdrs[i].name, strlen(mm->hdrs[i].name) + 1);
            sbuf_append(b, v, strlen(v) + 1);
            if (!mm_content(ms, mo, -1, SMFIC_HEADER, sbuf_str(b), sbuf_len(b), SMFIP_NR_HDR,
                            &res, NULL)) {
                sbuf_free(b);
                return res;
            }
        }
        sbuf_free(b);
    }
    if (!(proto & SMFIP_NOEOH)
        && !mm_content(ms, mo, SMFIM_EOH, SMFIC_EOH, NULL, 0, SMFIP_NR_EOH, &res, NULL))
        return res;
    if (!(proto & SMFIP_NOBODY) && !mm_body(ms, mo, mm, &res))
        return res;
    /* End of message: edits, then the verdict. */
    if (milter_send_macros_stage(ms, mo, SMFIM_EOM, SMFIC_BODYEOB) < 0
        || milter8_send(mo->m, SMFIC_BODYEOB, NULL, 0, true) < 0)
        return milter_fail(ms, mo);
    bool body_started = false;
    size_t edits = 0;
    for (;;) {
        struct milter8_reply r;
        if (milter8_read_reply(mo->m, true, &r) < 0)
            return milter_fail(ms, mo);
        if (r.cmd != SMFIR_PROGRESS && ++edits > MILTER_EDITS_MAX) {
            log_warn("milter %s: more than %d requests at end of message", mo->m->name,
                     MILTER_EDITS_MAX);
            milter8_reply_free(&r);
            return milter_fail(ms, mo);
        }
        switch (r.cmd) {
        case SMFIR_PROGRESS:
            break;
        case SMFIR_ADDHEADER:
        case SMFIR_INSHEADER:
        case SMFIR_CHGHEADER:
        case SMFIR_REPLBODY:
        case SMFIR_ADDRCPT:
        case SMFIR_ADDRCPT_PAR:
        case SMFIR_DELRCPT:
        case SMFIR_CHGFROM:
        case SMFIR_QUARANTINE:
            if (!mm_apply(ms, mo, mm, &r, &body_started)) {
                log_warn("milter %s: action '%c' not allowed or out of bounds", mo->m->name,
                         r.cmd);
                milter8_reply_free(&r);
                return milter_fail(ms, mo);
            }
            break;
        default:
            res = milter_final(ms, mo, &r, false);
            milter8_reply_free(&r);
            mo->in_msg = false;
            return res;
        }
        milter8_reply_free(&r);
    }
}

/* ---- milter_header_checks ------------------------------------------------ */

#define MM_ACT_IS(word, len, want) (strlen(want) == (len) && strncasecmp((word), (want), (len)) == 0)

/* milter_header_checks on the headers milters added or changed: the
 * header_checks(5) actions that make sense after the message is complete.
 * Returns NULL, or the reply for REJECT/DEFER (or a table error). */
static const char *mm_header_checks(struct milters *ms, struct mm_msg *mm)
{
    if (ms->hdr_checks == NULL)
        return NULL;
    struct sbuf *key = sbuf_new(256);
    const char *res = NULL;
    for (size_t i = 0; i < mm->nhdr && res == NULL; i++) {
        if (!mm->hdrs[i].by_milter)
            continue;
        sbuf_printf(key, "%s:%s", mm->hdrs[i].name, mm->hdrs[i].value);
        const char *v = maps_find(ms->hdr_checks, sbuf_str(key), 0);
        if (v == NULL) {
            if (maps_error(ms->hdr_checks) != DICT_ERR_NONE) {
                log_warn("%s: lookup error for header \"%.100s\"", P_MILTER_HEADER_CHECKS,
                         sbuf_str(key));
                res = "451 4.3.0 Error: temporary lookup failure";
            }
            continue;
        }
        size_t wlen = strcspn(v, " \t");
        const char *text = v + wlen + strspn(v + wlen, " \t");
        if (MM_ACT_IS(v, wlen, "REJECT") || MM_ACT_IS(v, wlen, "DEFER")) {
            bool rej = toupper((unsigned char)v[0]) == 'R';
            bool own = text[0] == (rej ? '5' : '4') && text[1] == '.';
            sbuf_printf(ms->reply, "%s %s%s", rej ? "550" : "451",
                        own ? "" : rej ? "5.7.1 " : "4.7.1 ",
                        *text ? text : rej ? "message content rejected" : "Service unavailable");
            res = sbuf_str(ms->reply);
        } else if (MM_ACT_IS(v, wlen, "HOLD")) {
            if (!ms->hold)
                sbuf_printf(ms->hold_reason, "%s: %.100s", P_MILTER_HEADER_CHECKS,
                            *text ? text : sbuf_str(key));
            ms->hold = true;
        } else if (MM_ACT_IS(v, wlen, "DISCARD")) {
            ms->discard = true;
        } else if (MM_ACT_IS(v, wlen, "IGNORE")) {
            mm->hdrs[i].by_milter = false;
            xfree(mm->hdrs[i].name);
            mm->hdrs[i].name = NULL;        /* dropped when written */
        } else if (MM_ACT_IS(v, wlen, "REDIRECT") && *text) {
            xfree(ms->redirect);
            ms->redirect = xstrdup(text);
        } else if (MM_ACT_IS(v, wlen, "FILTER") && *text) {
            xfree(ms->filter);
            ms->filter = xstrdup(text);
        } else if (MM_ACT_IS(v, wlen, "WARN")) {
            log_info("milter_header_checks: warning: header %.200s: %s", sbuf_str(key), text);
        } else if (!MM_ACT_IS(v, wlen, "DUNNO") && !MM_ACT_IS(v, wlen, "OK")) {
            log_warn("%s: unsupported action \"%.100s\" ignored", P_MILTER_HEADER_CHECKS, v);
        }
    }
    sbuf_free(key);
    return res;
}

/* ---- writing the result ------------------------------------------------- */

static bool mm_deleted(const struct mm_msg *mm, const char *addr, size_t len)
{
    for (size_t i = 0; i < mm->ndel; i++)
        if (strlen(mm->del[i]) == len && strncasecmp(mm->del[i], addr, len) == 0)
            return true;
    return false;
}

static void mm_write_added(const struct mm_rcpt *a, struct cleanup_clnt *c)
{
    int notify = 0;
    struct sbuf *w = sbuf_new(64);
    /* ESMTP parameters, separated by spaces (NOTIFY=SUCCESS,FAILURE is one). */
    for (const char *p = a->args ? a->args : ""; *p;) {
        size_t n = strcspn(p, " \t");
        sbuf_reset(w);
        sbuf_append(w, p, n);
        p += n;
        p += strspn(p, " \t");
        const char *v = sbuf_str(w);
        if (n == 0)
            continue;
        if (strncasecmp(v, "NOTIFY=", 7) == 0) {
            int f = dsn_notify_parse(v + 7);
            if (f > 0)
                notify = f;
            else
                log_info("milter: ADDRCPT bad NOTIFY ignored: %.100s", v);
        } else if (strncasecmp(v, "ORCPT=", 6) == 0 && strchr(v, ';')) {
            cleanup_recs(c, REC_DSN_ORCPT, v + 6);
        } else {
            log_info("milter: ADDRCPT ESMTP argument ignored: %.100s", v);
        }
    }
    sbuf_free(w);
    if (notify)
        cleanup_recf(c, REC_DSN_NOTIFY, "%d", notify);
    cleanup_recs(c, REC_RCPT, a->addr);
}

static void mm_write_text_lines(struct cleanup_clnt *c, const char *p, size_t len)
{
    const char *end = p + len;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        size_t k = n;
        if (k > 0 && p[k - 1] == '\r')
            k--;
        cleanup_line(c, p, k);
        p += n + (nl ? 1 : 0);
    }
}

static void mm_write(struct milters *ms, const struct mm_msg *mm, struct cleanup_clnt *c)
{
    size_t group = 0;       /* first DSN record of the recipient to come */
    bool in_group = false;
    for (size_t i = 0; i < mm->mesg && i < mm->nrec; i++) {
        const struct mm_rec *r = &mm->recs[i];
        if (r->type == REC_DSN_ORCPT || r->type == REC_DSN_NOTIFY || r->type == REC_ORCPT) {
            if (!in_group)
                group = i;
            in_group = true;
            continue;
        }
        if (r->type == REC_RCPT) {
            if (!mm_deleted(mm, r->data, r->len)) {
                for (size_t j = in_group ? group : i; j < i; j++)
                    cleanup_rec(c, mm->recs[j].type, mm->recs[j].data, mm->recs[j].len);
                cleanup_rec(c, r->type, r->data, r->len);
            }
            in_group = false;
            continue;
        }
        if (in_group) {     /* DSN records not followed by R: keep them */
            for (size_t j = group; j < i; j++)
                cleanup_rec(c, mm->recs[j].type, mm->recs[j].data, mm->recs[j].len);
            in_group = false;
        }
        if (r->type == REC_SENDER && mm->sender)
            cleanup_recs(c, REC_SENDER, mm->sender);
        else
            cleanup_rec(c, r->type, r->data, r->len);
    }
    for (size_t i = 0; i < mm->nadd; i++)
        mm_write_added(&mm->add[i], c);
    int flags = (ms->hold ? CLEANUP_FLAG_HOLD : 0) | (ms->discard ? CLEANUP_FLAG_DISCARD : 0);
    if (flags)
        cleanup_recf(c, CLEANUP_REC_FLAGS, "%d", flags);
    if (ms->redirect)
        cleanup_recs(c, CLEANUP_REC_REDIRECT, ms->redirect);
    if (ms->filter)
        cleanup_recs(c, REC_FILTER, ms->filter);
    if (mm->mesg >= mm->nrec)
        return;
    cleanup_rec(c, REC_MESG, "", 0);
    struct sbuf *h = sbuf_new(256);
    for (size_t i = 0; i < mm->nhdr; i++) {
        if (mm->hdrs[i].name == NULL)
            continue;       /* IGNORE of milter_header_checks */
        sbuf_printf(h, "%s:%s", mm->hdrs[i].name, mm->hdrs[i].value);
        mm_write_text_lines(c, sbuf_str(h), sbuf_len(h));
    }
    sbuf_free(h);
    if (mm->newbody) {
        if (sbuf_len(mm->newbody) > 0 || mm->had_sep)
            cleanup_line(c, "", 0);
        mm_write_text_lines(c, sbuf_str(mm->newbody), sbuf_len(mm->newbody));
    } else {
        if (mm->had_sep)
            cleanup_line(c, "", 0);
        for (size_t i = mm->body; i < mm->xtra; i++)
            cleanup_rec(c, mm->recs[i].type, mm->recs[i].data, mm->recs[i].len);
    }
    for (size_t i = mm->xtra; i < mm->nrec; i++)
        cleanup_rec(c, mm->recs[i].type, mm->recs[i].data, mm->recs[i].len);
}

const char *milters_message(struct milters *ms, int spool_fd, struct cleanup_clnt *c,
                            long size_limit)
{
    struct stat sb;
    struct mm_msg mm;
    memset(&mm, 0, sizeof(mm));
    mm.size_limit = size_limit;
    const char *res = NULL;
    void *map = NULL;
    if (fstat(spool_fd, &sb) < 0) {
        log_warn("milter: spool: fstat: %m");
        return "451 4.3.0 Error: internal error";
    }
    if (sb.st_size > 0) {
        map = mmap(NULL, (size_t)sb.st_size, PROT_READ, MAP_PRIVATE, spool_fd, 0);
        if (map == MAP_FAILED) {
            log_warn("milter: spool: mmap: %m");
            return "451 4.3.0 Error: internal error";
        }
    }
    if (map && mm_parse_recs(&mm, map, (size_t)sb.st_size) < 0) {
        log_warn("milter: spool: malformed record");
        res = "451 4.3.0 Error: internal error";
    } else {
        mm_parse_content(&mm);
        for (size_t i = 0; i < ms->n && res == NULL && !ms->discard; i++) {
            struct milter_one *mo = &ms->v[i];
            if (mo->state == MILTER_S_FAILED)
                res = milter_default_reply(ms, mo);
            else if (mo->state == MILTER_S_READY && !milter_skipped(mo, true))
                res = mm_one(ms, mo, &mm);
            mo->in_msg = false;
        }
        if (res == NULL)
            res = mm_header_checks(ms, &mm);
        if (res && res[0] == 'D')
            res = "D";
        if (res == NULL || res[0] == 'D')
            mm_write(ms, &mm, c);
    }
    mm_free(&mm);
    if (map)
        munmap(map, (size_t)sb.st_size);
    return res;
}
