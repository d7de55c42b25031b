/*
 * cleanup_envelope.c - the envelope part of a message: collect the client's
 *                      envelope records, then write the envelope segment
 *
 * Used by: cleanup_main.c (state->action at the start of each message).
 * Interface: cleanup_envelope(), cleanup_env_free(), cleanup_rcpt_record().
 * Errors: content or end records before M are a protocol error (the rest
 *         is drained, the client gets 4.3.0); a message without a sender
 *         is refused the same way. Rewriting or table failures set
 *         CLEANUP_STAT_DEFER (cleanup_addr.c).
 * Notes: the envelope is collected up to the client's M record (attributes
 *        such as rewrite_context may follow S), then written in one go:
 *        C (fixed-width placeholder, rewritten at the end), T, c, F, L, S,
 *        A..., <, i, W, recipients, M. After M the handler is
 *        cleanup_message (cleanup_message.c).
 */
#include "cleanup.h"
#include "alloc.h"
#include "attr.h"
#include "cleanup_proto.h"
#include "log.h"
#include "maps.h"
#include "qfile.h"
#include "rewrite_clnt.h"
#include "verp.h"

void cleanup_env_free(struct cleanup_env *e)
{
    xfree(e->sender);
    xfree(e->fullname);
    xfree(e->filter);
    xfree(e->envid);
    xfree(e->verp);
    xfree(e->redirect);
    xfree(e->orig);
    xfree(e->orcpt);
    attr_list_free(e->attrs);
    memset(e, 0, sizeof(*e));
}

static void cleanup_set(char **slot, const char *v)
{
    xfree(*slot);
    *slot = xstrdup(v);
}

bool cleanup_rcpt_record(struct cleanup_state *st, struct cleanup_rcpt_list *l, int type,
                         const char *v)
{
    struct cleanup_env *e = &st->env;
    switch (type) {
    case REC_DSN_ORCPT:
        cleanup_set(&e->orcpt, v);
        return true;
    case REC_DSN_NOTIFY:
        e->notify = (int)strtol(v, NULL, 10);
        return true;
    case REC_ORCPT:
        cleanup_set(&e->orig, v);
        return true;
    case REC_RCPT:
        cleanup_rcpt_add(l, v, e->orig, e->orcpt, e->notify);
        xfree(e->orig);
        xfree(e->orcpt);
        e->orig = e->orcpt = NULL;
        e->notify = 0;
        return true;
    default:
        return false;
    }
}

static void cleanup_write_fail(struct cleanup_state *st, int r)
{
    if (r < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
}

/* The V record, when the client asked for VERP and the request is usable:
 * smtpd and sendmail check the delimiters, but a maildrop file is written by
 * a local user, so they are checked again here (as Postfix's cleanup does). */
static int cleanup_write_verp(struct cleanup_state *st)
{
    const char *v = st->env.verp;
    if (v == NULL)
        return 0;
    if (*st->sender == 0) {
        log_warn("%s: ignoring VERP request for null sender", st->queue_id);
        return 0;
    }
    const char *why = verp_delims_check(v, cleanup_cfg.verp_filter);
    if (why) {
        log_warn("%s: ignoring bad VERP request \"%.100s\": %s", st->queue_id, v, why);
        return 0;
    }
    return qfile_puts(st->w, REC_VERP, v);
}

/* Writes the envelope segment and M. */
static void cleanup_write_envelope(struct cleanup_state *st)
{
    const struct cleanup_cfg *c = &cleanup_cfg;
    struct cleanup_env *e = &st->env;
    struct qfile_writer *w = st->w;
    int r = 0;

    r |= qfile_putf(w, REC_SIZE, QFILE_SIZE_FMT, 0L, 0L, 0L, 0L, 0L, 0L);
    r |= qfile_putf(w, REC_TIME, "%ld %ld", e->arrival_sec, e->arrival_usec);
    r |= qfile_putf(w, REC_CTIME, "%ld", (long)time(NULL));
    if (e->fullname)
        r |= qfile_puts(w, REC_FULLNAME, e->fullname);
    if (e->filter)
        r |= qfile_puts(w, REC_FILTER, e->filter);
    else if (*c->content_filter && (st->flags & CLEANUP_FLAG_FILTER))
        r |= qfile_puts(w, REC_FILTER, c->content_filter);
    cleanup_write_fail(st, r);

    /* The sender: always rewritten in the local context. */
    struct sbuf *sender = sbuf_new(128);
    sbuf_set(sender, e->sender ? e->sender : "");
    cleanup_rewrite_addr(st, REWRITE_LOCAL, CLEANUP_CLASS_ENV_SENDER, sender);
    st->sender = xstrdup(sbuf_str(sender));
    st->fullname = e->fullname ? xstrdup(e->fullname) : NULL;
    r = qfile_puts(w, REC_SENDER, st->sender);
    r |= cleanup_write_verp(st);
    for (size_t i = 0; i < e->attrs->count; i++)
        r |= qfile_putf(w, REC_ATTR, "%s=%s", e->attrs->items[i].name, e->attrs->items[i].value);
    if (e->ret)
        r |= qfile_putf(w, REC_DSN_RET, "%d", e->ret);
    if (e->envid)
        r |= qfile_puts(w, REC_DSN_ENVID, e->envid);
    if (c->delay_warning_time > 0)
        r |= qfile_putf(w, REC_WARN, QFILE_WARN_FMT, e->arrival_sec + c->delay_warning_time);
    cleanup_write_fail(st, r);

    for (size_t i = 0; i < st->env_rcpts.n && !st->errs; i++)
        cleanup_recipient(st, &st->env_rcpts.v[i]);

    /* sender_bcc_maps and always_bcc go to the extracted segment. */
    if ((st->flags & CLEANUP_FLAG_BCC_OK) && !st->errs) {
        if (c->send_bcc && *st->sender) {
            char *ext = NULL;
            const char *v = maps_find_addr(c->send_bcc, st->sender, c->delims, 0, &ext);
            if (v)
                cleanup_rcpt_add(&st->extra_rcpts, v, NULL, NULL, 0);
            else if (maps_error(c->send_bcc) != DICT_ERR_NONE)
                cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 sender_bcc_maps lookup failure");
            xfree(ext);
        }
        if (*c->always_bcc)
            cleanup_rcpt_add(&st->extra_rcpts, c->always_bcc, NULL, NULL, 0);
    }
    cleanup_write_fail(st, qfile_put(w, REC_MESG, "", 0));
    sbuf_free(sender);
}

/* The client's M: the envelope is complete. */
static void cleanup_envelope_end(struct cleanup_state *st)
{
    struct cleanup_env *e = &st->env;
    if (e->redirect) {
        /* REDIRECT: every envelope recipient goes to one address instead. */
        for (size_t i = 0; i < st->env_rcpts.n; i++) {
            struct cleanup_rcpt *r = &st->env_rcpts.v[i];
            if (r->orig == NULL)
                r->orig = r->addr;
            else
                xfree(r->addr);
            r->addr = xstrdup(e->redirect);
        }
    }
    if (e->sender == NULL) {
        log_warn("%s: no sender in envelope", st->queue_id);
        cleanup_fail(st, CLEANUP_STAT_BAD, "4.3.0 internal protocol error");
    }
    const char *ctx = attr_get(e->attrs, "rewrite_context");
    if (ctx && strcmp(ctx, REWRITE_REMOTE) == 0)
        st->hdr_context = cleanup_cfg.remote_rewrite_domain_set ? REWRITE_REMOTE : NULL;
    else
        st->hdr_context = REWRITE_LOCAL;
    st->add_missing = (st->hdr_context && strcmp(st->hdr_context, REWRITE_LOCAL) == 0) ||
                      cleanup_cfg.always_add_missing;
    if (!st->errs)
        cleanup_write_envelope(st);
    st->data_offset = qfile_writer_offset(st->w);
    st->action = cleanup_message;
}

void cleanup_envelope(struct cleanup_state *st, int type, const char *v, size_t len)
{
    struct cleanup_env *e = &st->env;
    (void)len;
    if (cleanup_rcpt_record(st, &st->env_rcpts, type, v))
        return;
    switch (type) {
    case REC_MESG:
        cleanup_envelope_end(st);
        break;
    case REC_SENDER:
        cleanup_set(&e->sender, v);
        break;
    case REC_FULLNAME:
        cleanup_set(&e->fullname, v);
        break;
    case REC_FILTER:
        cleanup_set(&e->filter, v);
        break;
    case REC_DSN_ENVID:
        cleanup_set(&e->envid, v);
        break;
    case REC_VERP:
        cleanup_set(&e->verp, v);
        break;
    case CLEANUP_REC_FLAGS:     /* smtpd HOLD/DISCARD actions */
        st->flags |= (int)strtol(v, NULL, 10) & (CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD);
        break;
    case CLEANUP_REC_REDIRECT:
        cleanup_set(&e->redirect, v);
        break;
    case REC_DSN_RET:
        e->ret = (int)strtol(v, NULL, 10);
        break;
    case REC_TIME:
        sscanf(v, "%ld %ld", &e->arrival_sec, &e->arrival_usec);
        break;
    case REC_ATTR: {
        const char *eq = strchr(v, '=');
        if (eq == NULL || eq == v)
            break;
        char *name = xstrndup(v, (size_t)(eq - v));
        /* queue_file_attribute_count_limit: so many different names, and
         * the message is refused (Postfix's safety limit). */
        if (attr_get(e->attrs, name) == NULL
            && ++st->attr_names > cleanup_cfg.attr_count_limit) {
            log_warn("%s: message rejected: attribute count exceeds limit %ld", st->queue_id,
                     cleanup_cfg.attr_count_limit);
            cleanup_fail(st, CLEANUP_STAT_BAD, "4.3.0 queue file attribute count exceeds limit");
        } else if (e->attrs->count < ATTR_MAX_COUNT)
            attr_add(e->attrs, name, eq + 1);
        xfree(name);
        break;
    }
    case REC_END:
    case REC_XTRA:
        cleanup_protocol_error(st, type, "before message content");
        break;
    default:
        break;      /* other envelope records are not taken from clients */
    }
}
