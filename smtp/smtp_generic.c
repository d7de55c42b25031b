/*
 * smtp_generic.c - smtp_generic_maps (lmtp_generic_maps in LMTP mode):
 *                  address rewriting on the way out, as generic(5) says
 *
 * Used by: smtp_proto.c (MAIL FROM and RCPT TO addresses), smtp_checks.c
 *          (address headers of the primary message header).
 * Interface: smtp_generic_load(), smtp_generic_active(),
 *            smtp_generic_map(), smtp_generic_header().
 * Errors: a table that fails to answer returns -1; the caller defers the
 *         message (never sends it half rewritten).
 * Notes: one lookup per address (no recursion), in generic(5)'s order:
 *        user+ext@domain, user@domain, then - only when the domain is
 *        $myorigin or one of ours ($mydestination, our address literals) -
 *        user+ext and user, then @domain. A result "@otherdomain" keeps the
 *        local part; an unmatched extension is put back only when
 *        propagate_unmatched_extensions names "generic". The null sender
 *        is never rewritten. Headers: From, Sender, Reply-To, Errors-To,
 *        Return-Receipt-To, Disposition-Notification-To, Return-Path, To,
 *        Cc, Bcc, Apparently-To and their Resent- forms.
 *        XXX: the "@domain keeps the local part" step duplicates
 *        cleanup_addr.c's; both could move to lib/mail.
 */
#include "smtp.h"
#include "addr.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "resolve_local.h"
#include <ctype.h>
#include <strings.h>

static struct maps *smtp_generic;
static char *smtp_generic_delims;
static char *smtp_generic_origin;
static bool smtp_generic_propagate;

void smtp_generic_load(bool lmtp)
{
    const char *name = lmtp ? P_LMTP_GENERIC_MAPS : P_SMTP_GENERIC_MAPS;
    const char *v = cfg_str(name);
    if (*v == 0)
        return;
    smtp_generic = maps_create(name, v, DICT_F_FOLD);
    smtp_generic_delims = xstrdup(cfg_str(P_RECIPIENT_DELIMITER));
    smtp_generic_origin = xstrdup(cfg_str(P_MYORIGIN));
    char **prop = cfg_list(cfg_str(P_PROPAGATE_UNMATCHED_EXTENSIONS));
    for (char **p = prop; *p; p++)
        if (strcasecmp(*p, "generic") == 0)
            smtp_generic_propagate = true;
    cfg_list_free(prop);
    resolve_local_init();
}

bool smtp_generic_active(void)
{
    return smtp_generic != NULL;
}

/* The user-only forms apply to our own domains (generic(5)). */
static int smtp_generic_flags(const char *addr)
{
    const char *at = addr_at(addr);
    if (at == NULL || strcasecmp(at + 1, smtp_generic_origin) == 0)
        return MAPS_ADDR_LOCAL;
    return resolve_local(at + 1) > 0 ? MAPS_ADDR_LOCAL : 0;
}

int smtp_generic_map(struct sbuf *addr)
{
    if (smtp_generic == NULL || sbuf_len(addr) == 0)
        return 0;
    char *ext = NULL;
    const char *v = maps_find_addr(smtp_generic, sbuf_str(addr), smtp_generic_delims,
                                   smtp_generic_flags(sbuf_str(addr)), &ext);
    if (v == NULL) {
        xfree(ext);
        if (maps_error(smtp_generic) != DICT_ERR_NONE) {
            log_warn("%s: table lookup problem for %s", maps_title(smtp_generic), sbuf_str(addr));
            return -1;
        }
        return 0;
    }
    char **items = cfg_list(v);
    int changed = 0;
    if (items[0]) {
        if (items[1])
            log_warn("%s: %s maps to more than one address; using the first",
                     maps_title(smtp_generic), sbuf_str(addr));
        struct sbuf *res = sbuf_new(64), *out = sbuf_new(64);
        addr_unquote(res, items[0]);
        const char *r = sbuf_str(res);
        if (r[0] == '@') {
            /* "@domain" result: the original local part, extension and all. */
            const char *at = addr_at(sbuf_str(addr));
            sbuf_append(out, sbuf_str(addr), at ? (size_t)(at - sbuf_str(addr)) : sbuf_len(addr));
            sbuf_cat(out, r);
        } else if (ext && smtp_generic_propagate) {
            const char *at = addr_at(r);
            sbuf_append(out, r, at ? (size_t)(at - r) : strlen(r));
            sbuf_cat(out, ext);
            if (at)
                sbuf_cat(out, at);
        } else
            sbuf_set(out, r);
        if (strcmp(sbuf_str(out), sbuf_str(addr)) != 0) {
            sbuf_set(addr, sbuf_str(out));
            changed = 1;
        }
        sbuf_free(res);
        sbuf_free(out);
    }
    cfg_list_free(items);
    xfree(ext);
    return changed;
}

/* Headers whose value is an address list. */
static const char *const smtp_generic_headers[] = {
    "from", "sender", "reply-to", "errors-to", "return-receipt-to",
    "disposition-notification-to", "return-path", "to", "cc", "bcc", "apparently-to",
    "resent-from", "resent-sender", "resent-reply-to", "resent-to", "resent-cc", "resent-bcc",
    NULL,
};

int smtp_generic_header(struct sbuf *header)
{
    if (smtp_generic == NULL)
        return 0;
    const char *text = sbuf_str(header);
    const char *colon = strchr(text, ':');
    if (colon == NULL)
        return 0;
    size_t nlen = (size_t)(colon - text);
    while (nlen > 0 && (text[nlen - 1] == ' ' || text[nlen - 1] == '\t'))
        nlen--;
    bool known = false;
    for (const char *const *h = smtp_generic_headers; *h && !known; h++)
        known = strlen(*h) == nlen && strncasecmp(*h, text, nlen) == 0;
    if (!known)
        return 0;

    size_t value_off = (size_t)(colon + 1 - text);
    const char *value = text + value_off;
    size_t vlen = sbuf_len(header) - value_off;
    struct addr_items items = { 0 };
    addr_parse_list(value, vlen, 10000, &items);
    if (items.n == 0)
        return 0;
    struct sbuf *out = sbuf_new(sbuf_len(header) + 64);
    struct sbuf *a = sbuf_new(128), *q = sbuf_new(128);
    sbuf_append(out, text, value_off);
    size_t pos = 0;
    int result = 0;
    for (size_t i = 0; i < items.n && result >= 0; i++) {
        const struct addr_item *it = &items.v[i];
        sbuf_append(out, value + pos, it->start - pos);
        sbuf_set(a, it->addr);
        int m = smtp_generic_map(a);
        if (m < 0)
            result = -1;
        else if (m > 0) {
            addr_quote(q, sbuf_str(a));
            sbuf_append(out, sbuf_str(q), sbuf_len(q));
            result = 1;
        } else
            sbuf_append(out, value + it->start, it->len);
        pos = it->start + it->len;
    }
    if (result > 0) {
        sbuf_append(out, value + pos, vlen - pos);
        sbuf_set(header, sbuf_str(out));
    }
    sbuf_free(out);
    sbuf_free(a);
    sbuf_free(q);
    addr_items_free(&items);
    return result;
}
