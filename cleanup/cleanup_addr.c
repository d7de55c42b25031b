/*
 * cleanup_addr.c - address mapping: rewriting, canonical maps, masquerading,
 *                  virtual alias expansion, duplicates, bcc
 *
 * Used by: cleanup_main.c (envelope), cleanup_message.c (headers, -t).
 * Interface: see cleanup.h.
 * Errors: table and service failures set CLEANUP_STAT_DEFER ("try again
 *         later"); the message is then not accepted.
 * Notes: lookups use maps_find_addr() (user+ext@domain, user@domain, then
 *        user forms for our own domains, then @domain). A result "@domain"
 *        keeps the original local part. Virtual alias expansion follows
 *        Postfix: breadth first over a growing list, an address may expand
 *        into itself once (that stops its recursion), and the nesting and
 *        size limits defer the message when exceeded.
 */
#include "cleanup.h"
#include "cleanup_clnt.h"
#include "addr.h"
#include "alloc.h"
#include "cleanup_proto.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "maps.h"
#include "mime_state.h"
#include "qfile.h"
#include "resolve_local.h"
#include "rewrite_clnt.h"
#include "unescape.h"
#include <ctype.h>
#include <strings.h>

struct cleanup_cfg cleanup_cfg;

int cleanup_parse_classes(const char *param, const char *value)
{
    int bits = 0;
    char **list = cfg_list(value);
    for (char **p = list; *p; p++) {
        if (strcasecmp(*p, "envelope_sender") == 0)
            bits |= CLEANUP_CLASS_ENV_SENDER;
        else if (strcasecmp(*p, "envelope_recipient") == 0)
            bits |= CLEANUP_CLASS_ENV_RCPT;
        else if (strcasecmp(*p, "header_sender") == 0)
            bits |= CLEANUP_CLASS_HDR_SENDER;
        else if (strcasecmp(*p, "header_recipient") == 0)
            bits |= CLEANUP_CLASS_HDR_RCPT;
        else
            log_warn("%s: unknown address class: %s", param, *p);
    }
    cfg_list_free(list);
    return bits;
}

static struct maps *cleanup_maps(const char *param)
{
    const char *v = cfg_str(param);
    return *v ? maps_create(param, v, DICT_F_FOLD) : NULL;
}

static char **cleanup_folded_list(const char *value)
{
    char **list = cfg_list(value);
    for (char **p = list; *p; p++)
        for (char *c = *p; *c; c++)
            *c = (char)tolower((unsigned char)*c);
    return list;
}

/* Reads a message_reject_characters-style value (C escapes, unescape.h)
 * into set; false when it names no character. */
static bool cleanup_chars_parse(const char *value, bool set[256])
{
    struct sbuf *chars = sbuf_new(16);
    memset(set, 0, 256 * sizeof(bool));
    unescape(chars, value);
    for (size_t i = 0; i < sbuf_len(chars); i++)
        set[(unsigned char)sbuf_str(chars)[i]] = true;
    bool any = sbuf_len(chars) > 0;
    sbuf_free(chars);
    return any;
}

void cleanup_cfg_load(void)
{
    struct cleanup_cfg *c = &cleanup_cfg;
    memset(c, 0, sizeof(*c));
    c->canonical = cleanup_maps(P_CANONICAL_MAPS);
    c->send_canonical = cleanup_maps(P_SENDER_CANONICAL_MAPS);
    c->rcpt_canonical = cleanup_maps(P_RECIPIENT_CANONICAL_MAPS);
    c->canonical_classes = cleanup_parse_classes(P_CANONICAL_CLASSES, cfg_str(P_CANONICAL_CLASSES));
    c->send_canonical_classes =
        cleanup_parse_classes(P_SENDER_CANONICAL_CLASSES, cfg_str(P_SENDER_CANONICAL_CLASSES));
    c->rcpt_canonical_classes = cleanup_parse_classes(P_RECIPIENT_CANONICAL_CLASSES,
                                                      cfg_str(P_RECIPIENT_CANONICAL_CLASSES));
    c->virtual_alias = cleanup_maps(P_VIRTUAL_ALIAS_MAPS);
    c->send_bcc = cleanup_maps(P_SENDER_BCC_MAPS);
    c->rcpt_bcc = cleanup_maps(P_RECIPIENT_BCC_MAPS);
    c->always_bcc = xstrdup(cfg_str(P_ALWAYS_BCC));
    c->drop_headers = cfg_list(cfg_str(P_MESSAGE_DROP_HEADERS));
    for (char **p = c->drop_headers; p && *p; p++)
        for (char *q = *p; *q; q++)
            *q = (char)tolower((unsigned char)*q);
    c->masq_domains = cleanup_folded_list(cfg_str(P_MASQUERADE_DOMAINS));
    c->masq_exceptions = cleanup_folded_list(cfg_str(P_MASQUERADE_EXCEPTIONS));
    c->masq_classes = cleanup_parse_classes(P_MASQUERADE_CLASSES, cfg_str(P_MASQUERADE_CLASSES));
    char **prop = cfg_list(cfg_str(P_PROPAGATE_UNMATCHED_EXTENSIONS));
    for (char **p = prop; *p; p++) {
        if (strcasecmp(*p, "canonical") == 0)
            c->prop_canonical = true;
        else if (strcasecmp(*p, "virtual") == 0)
            c->prop_virtual = true;
    }
    cfg_list_free(prop);
    c->delims = xstrdup(cfg_str(P_RECIPIENT_DELIMITER));
    c->myhostname = xstrdup(cfg_str(P_MYHOSTNAME));
    c->myorigin = xstrdup(cfg_str(P_MYORIGIN));
    c->header_size_limit = cfg_long(P_HEADER_SIZE_LIMIT);
    c->message_size_limit = cfg_long(P_MESSAGE_SIZE_LIMIT);
    c->hopcount_limit = cfg_int(P_HOPCOUNT_LIMIT);
    c->delay_warning_time = cfg_time(P_DELAY_WARNING_TIME);
    c->dup_limit = cfg_long(P_DUPLICATE_FILTER_LIMIT);
    c->enable_orcpt = cfg_bool(P_ENABLE_ORIGINAL_RECIPIENT);
    c->virt_recursion_limit = cfg_long(P_VIRTUAL_ALIAS_RECURSION_LIMIT);
    c->virt_expansion_limit = cfg_long(P_VIRTUAL_ALIAS_EXPANSION_LIMIT);
    c->virt_addrlen_limit = cfg_long(P_VIRTUAL_ALIAS_ADDRESS_LENGTH_LIMIT);
    c->undisclosed_header = xstrdup(cfg_str(P_UNDISCLOSED_RECIPIENTS_HEADER));
    c->always_add_missing = cfg_bool(P_ALWAYS_ADD_MISSING_HEADERS);
    const char *hff = cfg_str(P_HEADER_FROM_FORMAT);
    if (strcasecmp(hff, "standard") != 0 && strcasecmp(hff, "obsolete") != 0)
        log_fatal("invalid setting: \"%s = %s\" (standard or obsolete)", P_HEADER_FROM_FORMAT,
                  hff);
    c->from_obsolete = strcasecmp(hff, "obsolete") == 0;
    c->have_reject_chars = cleanup_chars_parse(cfg_str(P_MESSAGE_REJECT_CHARACTERS),
                                               c->reject_chars);
    c->have_strip_chars = cleanup_chars_parse(cfg_str(P_MESSAGE_STRIP_CHARACTERS), c->strip_chars);
    c->content_filter = xstrdup(cfg_str(P_CONTENT_FILTER));
    c->verp_filter = xstrdup(cfg_str(P_VERP_DELIMITER_FILTER));
    c->recycle = cfg_long(P_POSTERN_QUEUE_FILE_RECYCLING);
    c->remote_rewrite_domain_set = *cfg_str(P_REMOTE_HEADER_REWRITE_DOMAIN) != 0;
    c->header_checks = cleanup_maps(P_HEADER_CHECKS);
    c->mime_header_checks = cleanup_maps(P_MIME_HEADER_CHECKS);
    c->nested_header_checks = cleanup_maps(P_NESTED_HEADER_CHECKS);
    c->body_checks = cleanup_maps(P_BODY_CHECKS);
    c->body_checks_size_limit = cfg_long(P_BODY_CHECKS_SIZE_LIMIT);
    c->disable_mime = cfg_bool(P_DISABLE_MIME_INPUT_PROCESSING);
    c->replace_stray_cr_lf = cfg_bool(P_CLEANUP_REPLACE_STRAY_CR_LF);
    c->attr_count_limit = cfg_long(P_QUEUE_FILE_ATTRIBUTE_COUNT_LIMIT);
    /* strict_8bitmime is both of the 8-bit checks. */
    bool all8 = cfg_bool(P_STRICT_8BITMIME);
    c->strict_mime = (all8 || cfg_bool(P_STRICT_7BIT_HEADERS) ? MIME_OPT_REPORT_8BIT_IN_HEADER : 0)
                     | (all8 || cfg_bool(P_STRICT_8BITMIME_BODY) ? MIME_OPT_REPORT_8BIT_IN_7BIT_BODY : 0)
                     | (cfg_bool(P_STRICT_MIME_ENCODING_DOMAIN) ? MIME_OPT_REPORT_ENCODING_DOMAIN : 0);
    c->mime_nesting_limit = cfg_int(P_MIME_NESTING_LIMIT);
    c->mime_boundary_limit = cfg_long(P_MIME_BOUNDARY_LENGTH_LIMIT);
    c->header_token_limit = cfg_long(P_HEADER_ADDRESS_TOKEN_LIMIT);
    /* Only a receive_override_options given to this cleanup service with
     * -o narrows what its clients ask for. main.cf's value belongs to the
     * clients (smtpd, pickup), which apply it themselves, as in Postfix:
     * read here, a main.cf "no_address_mappings" (meant for mail on its way
     * to a content filter) would also strip the address mappings from the
     * mail that the filter re-injects through a listener that overrides it. */
    c->override_mask = cfg_is_overridden(P_RECEIVE_OVERRIDE_OPTIONS)
                           ? CLEANUP_FLAG_MASK_EXTERNAL
                                 & ~cleanup_input_flags(CLEANUP_FLAG_MASK_EXTERNAL)
                           : 0;
    resolve_local_init();
}

void cleanup_rcpt_add(struct cleanup_rcpt_list *l, const char *addr, const char *orig,
                      const char *dsn_orcpt, int notify)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 8;
        l->v = xreallocarray(l->v, l->cap, sizeof(*l->v));
    }
    struct cleanup_rcpt *r = &l->v[l->n++];
    r->addr = xstrdup(addr);
    r->orig = orig ? xstrdup(orig) : NULL;
    r->dsn_orcpt = dsn_orcpt ? xstrdup(dsn_orcpt) : NULL;
    r->notify = notify;
    r->offset = 0;
}

void cleanup_rcpt_list_free(struct cleanup_rcpt_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        xfree(l->v[i].addr);
        xfree(l->v[i].orig);
        xfree(l->v[i].dsn_orcpt);
    }
    xfree(l->v);
    memset(l, 0, sizeof(*l));
}

void cleanup_fail(struct cleanup_state *st, int stat, const char *reason)
{
    if (st->errs == 0)
        sbuf_set(st->reason, reason);
    st->errs |= stat;
}

/* Lookup flags for an address: the user-only forms apply to our domains. */
static int cleanup_lookup_flags(const char *addr)
{
    const char *at = strrchr(addr, '@');
    if (at == NULL)
        return MAPS_ADDR_LOCAL;
    if (strcasecmp(at + 1, cleanup_cfg.myorigin ? cleanup_cfg.myorigin : "") == 0)
        return MAPS_ADDR_LOCAL;
    return resolve_local(at + 1) > 0 ? MAPS_ADDR_LOCAL : 0;
}

/* Turns one table result item into an address: "@domain" keeps the local
 * part of key, an unmatched extension is put back when asked. */
static void cleanup_result_addr(struct sbuf *out, const char *key, const char *item,
                                const char *ext, bool propagate)
{
    struct sbuf *tmp = sbuf_new(64);
    addr_unquote(tmp, item);
    const char *res = sbuf_str(tmp);
    sbuf_reset(out);
    if (res[0] == '@') {
        const char *at = strrchr(key, '@');
        sbuf_append(out, key, at ? (size_t)(at - key) : strlen(key));
        /* The key's extension is part of its local part already. */
        ext = NULL;
    }
    if (ext && propagate) {
        const char *at = strrchr(res, '@');
        sbuf_append(out, res, at ? (size_t)(at - res) : strlen(res));
        sbuf_cat(out, ext);
        if (at)
            sbuf_cat(out, at);
    } else {
        sbuf_cat(out, res);
    }
    sbuf_free(tmp);
}

int cleanup_map11(struct maps *m, struct sbuf *addr, bool propagate)
{
    if (m == NULL)
        return 0;
    int changed = 0;
    struct sbuf *res = sbuf_new(64);
    for (int round = 0; round < CLEANUP_MAP11_MAX; round++) {
        char *ext = NULL;
        const char *v = maps_find_addr(m, sbuf_str(addr), cleanup_cfg.delims,
                                       cleanup_lookup_flags(sbuf_str(addr)), &ext);
        if (v == NULL) {
            xfree(ext);
            if (maps_error(m) != DICT_ERR_NONE) {
                changed = -1;
            }
            break;
        }
        char **items = cfg_list(v);
        if (items[0] == NULL) {
            cfg_list_free(items);
            xfree(ext);
            break;
        }
        if (items[1])
            log_warn("%s: %s maps to more than one address; using the first", maps_title(m),
                     sbuf_str(addr));
        cleanup_result_addr(res, sbuf_str(addr), items[0], ext, propagate);
        cfg_list_free(items);
        xfree(ext);
        if (strcasecmp(sbuf_str(res), sbuf_str(addr)) == 0)
            break;
        sbuf_set(addr, sbuf_str(res));
        changed = 1;
    }
    sbuf_free(res);
    return changed;
}

void cleanup_masquerade(struct sbuf *addr)
{
    char **doms = cleanup_cfg.masq_domains;
    if (doms == NULL || doms[0] == NULL)
        return;
    const char *s = sbuf_str(addr);
    const char *at = strrchr(s, '@');
    if (at == NULL)
        return;
    size_t llen = (size_t)(at - s);
    for (char **e = cleanup_cfg.masq_exceptions; e && *e; e++)
        if (strlen(*e) == llen && strncasecmp(*e, s, llen) == 0)
            return;
    char *domain = xstrdup(at + 1);
    for (char *c = domain; *c; c++)
        *c = (char)tolower((unsigned char)*c);
    size_t dl = strlen(domain);
    for (char **p = doms; *p; p++) {
        bool negate = (*p)[0] == '!';
        const char *pat = negate ? *p + 1 : *p;
        size_t pl = strlen(pat);
        bool equal = strcmp(domain, pat) == 0;
        bool sub = dl > pl && domain[dl - pl - 1] == '.' && strcmp(domain + dl - pl, pat) == 0;
        if (negate && (equal || sub))
            break;
        if (!negate && sub) {
            sbuf_truncate(addr, llen + 1);
            sbuf_cat(addr, pat);
            break;
        }
        if (!negate && equal)
            break;
    }
    xfree(domain);
}

int cleanup_virtual_expand(struct maps *m, const char *addr, long recursion_limit,
                           long expansion_limit, bool propagate, struct cleanup_rcpt_list *out,
                           struct sbuf *reason)
{
    struct cleanup_rcpt_list list = { 0 };
    struct cleanup_rcpt_list selfs = { 0 };     /* expanded into themselves */
    struct sbuf *res = sbuf_new(64);
    int status = 0;
    cleanup_rcpt_add(&list, addr, NULL, NULL, 0);
    for (size_t arg = 0; m && arg < list.n && status == 0; arg++) {
        if ((long)list.n > expansion_limit) {
            log_warn("unreasonable virtual_alias_maps map expansion size for %s -- "
                     "message not accepted, try again later", addr);
            sbuf_set(reason, "4.6.0 Alias expansion error");
            status = CLEANUP_STAT_DEFER;
            break;
        }
        for (long count = 0;; count++) {
            bool self = false;
            for (size_t i = 0; i < selfs.n; i++)
                if (strcasecmp(selfs.v[i].addr, list.v[arg].addr) == 0)
                    self = true;
            if (self)
                break;
            if (count >= recursion_limit) {
                log_warn("unreasonable virtual_alias_maps map nesting for %s -- "
                         "message not accepted, try again later", addr);
                sbuf_set(reason, "4.6.0 Alias expansion error");
                status = CLEANUP_STAT_DEFER;
                break;
            }
            char *ext = NULL;
            const char *cur = list.v[arg].addr;
            const char *v = maps_find_addr(m, cur, cleanup_cfg.delims, cleanup_lookup_flags(cur),
                                           &ext);
            if (v == NULL) {
                xfree(ext);
                if (maps_error(m) != DICT_ERR_NONE) {
                    log_warn("%s: lookup of %s failed", maps_title(m), cur);
                    sbuf_set(reason, "4.3.0 virtual alias table lookup failure");
                    status = CLEANUP_STAT_DEFER;
                }
                break;
            }
            char **items = cfg_list(v);
            char *saved = xstrdup(cur);
            for (size_t i = 0; items[i]; i++) {
                cleanup_result_addr(res, saved, items[i], ext, propagate);
                /* virtual_alias_address_length_limit: stops a table whose
                 * answers grow the address at every step (a doubling
                 * regexp reaches megabytes long before the nesting limit). */
                if (cleanup_cfg.virt_addrlen_limit > 0
                    && (long)sbuf_len(res) > cleanup_cfg.virt_addrlen_limit) {
                    log_warn("unreasonable %s result %.300s... -- "
                             "message not accepted, try again later", maps_title(m), sbuf_str(res));
                    sbuf_set(reason, "4.6.0 Alias expansion error");
                    status = CLEANUP_STAT_DEFER;
                    break;
                }
                if (i == 0) {
                    xfree(list.v[arg].addr);
                    list.v[arg].addr = xstrdup(sbuf_str(res));
                } else {
                    cleanup_rcpt_add(&list, sbuf_str(res), NULL, NULL, 0);
                }
                if (strcasecmp(saved, sbuf_str(res)) == 0)
                    cleanup_rcpt_add(&selfs, saved, NULL, NULL, 0);
            }
            bool empty = items[0] == NULL;
            xfree(saved);
            xfree(ext);
            cfg_list_free(items);
            if (empty || status != 0)
                break;
        }
    }
    if (status == 0)
        for (size_t i = 0; i < list.n; i++)
            cleanup_rcpt_add(out, list.v[i].addr, NULL, NULL, 0);
    cleanup_rcpt_list_free(&list);
    cleanup_rcpt_list_free(&selfs);
    sbuf_free(res);
    return status;
}

int cleanup_rewrite_addr(struct cleanup_state *st, const char *context, int class_,
                         struct sbuf *addr)
{
    const struct cleanup_cfg *c = &cleanup_cfg;
    if (sbuf_len(addr) == 0)
        return 0;       /* the null sender stays null */
    struct sbuf *out = sbuf_new(128);
    if (rewrite_clnt_rewrite(context, sbuf_str(addr), out) < 0) {
        sbuf_free(out);
        cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 address rewriting service unavailable");
        return -1;
    }
    sbuf_set(addr, sbuf_str(out));
    sbuf_free(out);
    if (sbuf_len(addr) > 0)
        addr_fold_domain(sbuf_data(addr));
    if (st->flags & CLEANUP_FLAG_MAP_OK) {
        int r = 0;
        bool sender = class_ & (CLEANUP_CLASS_ENV_SENDER | CLEANUP_CLASS_HDR_SENDER);
        struct maps *own = sender ? c->send_canonical : c->rcpt_canonical;
        int own_classes = sender ? c->send_canonical_classes : c->rcpt_canonical_classes;
        if (own && (own_classes & class_))
            r |= cleanup_map11(own, addr, c->prop_canonical) < 0;
        if (c->canonical && (c->canonical_classes & class_))
            r |= cleanup_map11(c->canonical, addr, c->prop_canonical) < 0;
        if (r) {
            cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 canonical table lookup failure");
            return -1;
        }
    }
    if (c->masq_classes & class_)
        cleanup_masquerade(addr);
    return 0;
}

/* ---- duplicate filter: open addressing over strings ---- */

struct cleanup_dups {
    char **slot;
    size_t cap;
};

static uint64_t cleanup_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h ^= (unsigned char)tolower((unsigned char)*s);
        h *= 1099511628211ULL;
    }
    return h;
}

/* True when key was seen before (and remembers it while under the limit). */
static bool cleanup_dup_seen(struct cleanup_state *st, const char *key)
{
    struct cleanup_dups *d = st->dups;
    if (d == NULL) {
        d = st->dups = xcalloc(1, sizeof(*d));
        d->cap = 64;
        d->slot = xcalloc(d->cap, sizeof(char *));
    }
    if ((st->ndups + 1) * 2 > d->cap) {
        struct cleanup_dups nd = { xcalloc(d->cap * 2, sizeof(char *)), d->cap * 2 };
        for (size_t i = 0; i < d->cap; i++) {
            if (d->slot[i] == NULL)
                continue;
            size_t j = cleanup_hash(d->slot[i]) & (nd.cap - 1);
            while (nd.slot[j])
                j = (j + 1) & (nd.cap - 1);
            nd.slot[j] = d->slot[i];
        }
        xfree(d->slot);
        *d = nd;
    }
    size_t j = cleanup_hash(key) & (d->cap - 1);
    while (d->slot[j]) {
        if (strcasecmp(d->slot[j], key) == 0)
            return true;
        j = (j + 1) & (d->cap - 1);
    }
    if (cleanup_cfg.dup_limit <= 0 || (long)st->ndups < cleanup_cfg.dup_limit) {
        d->slot[j] = xstrdup(key);
        st->ndups++;
    }
    return false;
}

void cleanup_dups_free(struct cleanup_state *st)
{
    struct cleanup_dups *d = st->dups;
    if (d == NULL)
        return;
    for (size_t i = 0; i < d->cap; i++)
        xfree(d->slot[i]);
    xfree(d->slot);
    xfree(d);
    st->dups = NULL;
    st->ndups = 0;
}

/* Writes one final recipient (O, o, n, R) unless it is a duplicate. As in
 * Postfix, with enable_original_recipient (the default) a duplicate is the
 * same final address with the same original recipient and DSN attributes
 * (case-insensitively); with it off, the final address alone decides. */
static void cleanup_out_rcpt(struct cleanup_state *st, const char *addr, const char *orig,
                             const char *dsn_orcpt, int notify)
{
    struct sbuf *key = sbuf_new(128);
    if (cleanup_cfg.enable_orcpt)
        sbuf_printf(key, "%s\n%d\n%s\n%s", dsn_orcpt ? dsn_orcpt : "", notify,
                    orig ? orig : "", addr);
    else
        sbuf_set(key, addr);
    bool dup = cleanup_dup_seen(st, sbuf_str(key));
    sbuf_free(key);
    if (dup)
        return;
    int r = 0;
    if (dsn_orcpt && *dsn_orcpt)
        r |= qfile_puts(st->w, REC_DSN_ORCPT, dsn_orcpt);
    if (notify)
        r |= qfile_putf(st->w, REC_DSN_NOTIFY, "%d", notify);
    if (orig)
        r |= qfile_puts(st->w, REC_ORCPT, orig);
    long offset = (long)qfile_writer_offset(st->w);
    r |= qfile_puts(st->w, REC_RCPT, addr);
    cleanup_rcpt_add(&st->written, addr, orig, dsn_orcpt, notify);
    st->written.v[st->written.n - 1].offset = offset;
    if (r < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
    st->rcpt_count++;
}

void cleanup_recipient(struct cleanup_state *st, const struct cleanup_rcpt *in)
{
    const struct cleanup_cfg *c = &cleanup_cfg;
    struct sbuf *addr = sbuf_new(128);
    sbuf_set(addr, in->addr);
    const char *orig = in->orig ? in->orig : in->addr;
    if (cleanup_rewrite_addr(st, REWRITE_LOCAL, CLEANUP_CLASS_ENV_RCPT, addr) < 0) {
        sbuf_free(addr);
        return;
    }
    /* recipient_bcc_maps look at the canonical recipient. */
    if ((st->flags & CLEANUP_FLAG_BCC_OK) && c->rcpt_bcc) {
        char *ext = NULL;
        const char *v = maps_find_addr(c->rcpt_bcc, sbuf_str(addr), c->delims,
                                       cleanup_lookup_flags(sbuf_str(addr)), &ext);
        if (v) {
            struct sbuf *b = sbuf_new(64);
            addr_unquote(b, v);
            cleanup_rcpt_add(&st->extra_rcpts, sbuf_str(b), NULL, NULL, 0);
            sbuf_free(b);
        } else if (maps_error(c->rcpt_bcc) != DICT_ERR_NONE) {
            cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 recipient_bcc_maps lookup failure");
        }
        xfree(ext);
    }
    if ((st->flags & CLEANUP_FLAG_MAP_OK) && c->virtual_alias) {
        struct cleanup_rcpt_list out = { 0 };
        struct sbuf *why = sbuf_new(64);
        int s = cleanup_virtual_expand(c->virtual_alias, sbuf_str(addr), c->virt_recursion_limit,
                                       c->virt_expansion_limit, c->prop_virtual, &out, why);
        if (s)
            cleanup_fail(st, s, sbuf_str(why));
        else
            for (size_t i = 0; i < out.n; i++)
                cleanup_out_rcpt(st, out.v[i].addr, orig, in->dsn_orcpt, in->notify);
        cleanup_rcpt_list_free(&out);
        sbuf_free(why);
    } else {
        cleanup_out_rcpt(st, sbuf_str(addr), orig, in->dsn_orcpt, in->notify);
    }
    sbuf_free(addr);
}
