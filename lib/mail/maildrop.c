/*
 * maildrop.c - validation of the local submission record stream
 *
 * Used by: postdrop (input from sendmail), pickup (maildrop files).
 * Interface: see maildrop.h.
 * Errors: returned as constant texts; nothing is logged here.
 * Notes: a small state machine: envelope -> content -> extracted -> done.
 *        Everything that reaches cleanup through pickup passed this check,
 *        so it is deliberately narrow: only the record types sendmail
 *        produces, bounded sizes, no NUL/CR/LF in envelope values.
 */
#include "maildrop.h"
#include "qfile.h"

enum {
    MD_ENVELOPE,
    MD_CONTENT,
    MD_EXTRACTED,
    MD_DONE,
    MD_FAILED,
};

void maildrop_check_init(struct maildrop_check *c, enum maildrop_source source,
                         long content_limit)
{
    memset(c, 0, sizeof(*c));
    c->source = source;
    c->state = MD_ENVELOPE;
    c->content_limit = content_limit > 0 ? content_limit : 0;
    c->verdict = MAILDROP_OK;
}

static const char *md_fail(struct maildrop_check *c, enum maildrop_verdict v, const char *why)
{
    c->state = MD_FAILED;
    c->verdict = v;
    return why;
}

/* Envelope values are single-line text without NUL. */
static bool md_clean_text(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (data[i] == 0 || data[i] == '\n' || data[i] == '\r')
            return false;
    return true;
}

static bool md_decimal(const char *data, size_t len, long max, long *out)
{
    long v = 0;
    if (len == 0 || len > 12)
        return false;
    for (size_t i = 0; i < len; i++) {
        if (data[i] < '0' || data[i] > '9')
            return false;
        v = v * 10 + (data[i] - '0');
    }
    if (v > max)
        return false;
    *out = v;
    return true;
}

/* T record: "sec usec", both decimal. */
static bool md_time_ok(const char *data, size_t len)
{
    const char *sp = memchr(data, ' ', len);
    long v;
    if (sp == NULL)
        return false;
    return md_decimal(data, (size_t)(sp - data), 999999999999L, &v)
        && md_decimal(sp + 1, len - (size_t)(sp - data) - 1, 999999, &v);
}

static bool md_envid_ok(const char *data, size_t len)
{
    if (len == 0 || len > MAILDROP_ENVID_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)data[i] < 0x21 || (unsigned char)data[i] > 0x7e)
            return false;
    return true;
}

static const char *md_envelope(struct maildrop_check *c, int type, const char *data, size_t len)
{
    long v;

    if (c->source == MAILDROP_FROM_FILE && !c->saw_time) {
        if (type != REC_TIME || !md_time_ok(data, len))
            return md_fail(c, MAILDROP_BAD, "missing or malformed time record");
        c->saw_time = true;
        return NULL;
    }
    if (type != REC_MESG && !md_clean_text(data, len))
        return md_fail(c, MAILDROP_BAD, "control character in envelope record");
    c->env_size += (long)len + 2;
    if (c->env_size > MAILDROP_ENV_MAX)
        return md_fail(c, MAILDROP_TOOBIG, "envelope too large");
    switch (type) {
    case REC_FULLNAME:
        if (c->saw_fullname)
            return md_fail(c, MAILDROP_BAD, "duplicate full name record");
        c->saw_fullname = true;
        return NULL;
    case MAILDROP_REC_FLAGS:
        if (c->saw_flags)
            return md_fail(c, MAILDROP_BAD, "duplicate flags record");
        if (!md_decimal(data, len, 0xffff, &v) || (v & ~(long)MAILDROP_FLAGS_ALLOWED))
            return md_fail(c, MAILDROP_BAD, "bad flags record");
        c->saw_flags = true;
        c->flags = (int)v;
        return NULL;
    case REC_SENDER:
        if (c->saw_sender)
            return md_fail(c, MAILDROP_BAD, "duplicate sender record");
        c->saw_sender = true;
        return NULL;
    case REC_DSN_RET:
        if (c->saw_ret)
            return md_fail(c, MAILDROP_BAD, "duplicate DSN RET record");
        if (!md_decimal(data, len, 9, &v) || (v != DSN_RET_FULL && v != DSN_RET_HDRS))
            return md_fail(c, MAILDROP_BAD, "bad DSN RET record");
        c->saw_ret = true;
        return NULL;
    case REC_VERP:
        /* two delimiters; cleanup checks them against verp_delimiter_filter */
        if (c->saw_verp)
            return md_fail(c, MAILDROP_BAD, "duplicate VERP record");
        if (len != 2)
            return md_fail(c, MAILDROP_BAD, "bad VERP record");
        c->saw_verp = true;
        return NULL;
    case REC_DSN_ENVID:
        if (c->saw_envid)
            return md_fail(c, MAILDROP_BAD, "duplicate DSN ENVID record");
        if (!md_envid_ok(data, len))
            return md_fail(c, MAILDROP_BAD, "bad DSN ENVID record");
        c->saw_envid = true;
        return NULL;
    case REC_DSN_ORCPT:
        if (c->pending_orcpt || len == 0)
            return md_fail(c, MAILDROP_BAD, "bad or repeated DSN ORCPT record");
        c->pending_orcpt = true;
        return NULL;
    case REC_DSN_NOTIFY:
        if (c->pending_notify || !md_decimal(data, len, 15, &v) || v == 0
            || ((v & DSN_NOTIFY_NEVER) && v != DSN_NOTIFY_NEVER))
            return md_fail(c, MAILDROP_BAD, "bad or repeated DSN NOTIFY record");
        c->pending_notify = true;
        return NULL;
    case REC_RCPT:
        if (len == 0)
            return md_fail(c, MAILDROP_BAD, "empty recipient record");
        c->pending_orcpt = c->pending_notify = false;
        c->nrcpt++;
        return NULL;
    case REC_MESG:
        if (len != 0)
            return md_fail(c, MAILDROP_BAD, "malformed message start record");
        if (!c->saw_sender)
            return md_fail(c, MAILDROP_BAD, "no sender record before the message");
        if (c->pending_orcpt || c->pending_notify)
            return md_fail(c, MAILDROP_BAD, "DSN record without a recipient");
        c->state = MD_CONTENT;
        return NULL;
    default:
        return md_fail(c, MAILDROP_BAD, "unexpected record type in envelope");
    }
}

const char *maildrop_check_rec(struct maildrop_check *c, int type, const char *data, size_t len)
{
    if (c->state == MD_FAILED)
        return "earlier error";
    if (len > MAILDROP_REC_MAX)
        return md_fail(c, MAILDROP_BAD, "record too long");
    switch (c->state) {
    case MD_ENVELOPE:
        return md_envelope(c, type, data, len);
    case MD_CONTENT:
        if (type == REC_NORM || type == REC_CONT) {
            c->content_size += (long)len + (type == REC_NORM);
            if (c->content_limit > 0 && c->content_size > c->content_limit)
                return md_fail(c, MAILDROP_TOOBIG, "message too large");
            return NULL;
        }
        if (type == REC_XTRA && len == 0) {
            c->state = MD_EXTRACTED;
            return NULL;
        }
        return md_fail(c, MAILDROP_BAD, "unexpected record type in content");
    case MD_EXTRACTED:
        if (type == REC_END && len == 0) {
            c->state = MD_DONE;
            return NULL;
        }
        return md_fail(c, MAILDROP_BAD, "unexpected record type after content");
    case MD_DONE:
        return md_fail(c, MAILDROP_BAD, "data after end record");
    default:
        return md_fail(c, MAILDROP_BAD, "bad state");
    }
}

bool maildrop_check_done(const struct maildrop_check *c)
{
    return c->state == MD_DONE;
}
