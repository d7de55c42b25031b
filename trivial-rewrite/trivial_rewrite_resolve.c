/*
 * trivial_rewrite_resolve.c - resolve a recipient to (class, transport,
 *                             nexthop, recipient, flags) (no I/O)
 *
 * Used by: trivial_rewrite_main.c, tests/unit/rewrite_test.c.
 * Interface: tr_result_init(), tr_result_free(), tr_resolve(),
 *            tr_split_transport(), tr_transport_lookup().
 * Errors: a failed table lookup sets TR_FLAG_FAIL (the caller tries later).
 * Notes: the address is first reduced: trailing dots (and, with
 *        resolve_null_domain, a trailing '@') go, a local domain
 *        ($mydestination, our IP literals) is stripped and remembered, and
 *        what is left is rewritten again when it still holds routing
 *        operators ("user%other@local" -> "user@other", "host!user@local"
 *        -> "user@host"); with resolve_dequoted_address = no, a local part
 *        that needs quotes ("a@b"@local) is one opaque name, operators and
 *        all. A domain that is not a valid host name (an empty one, all
 *        digits and dots, a misplaced '-') is a syntax error (TR_FLAG_ERROR:
 *        qmgr bounces it, smtpd answers 501), except that with
 *        resolve_numeric_domain an IPv4 address becomes [address]. An
 *        address without a domain is
 *        local; its recipient gets the stripped local domain back, or
 *        @$myhostname. The class then follows POSTFIX-FACTS.md section 7:
 *        local, virtual alias, virtual mailbox, relay, default; then
 *        transport_maps override everything but the alias class, and
 *        relocated_maps override everything ("5.1.6 User has moved to X"
 *        through the error transport). For the default class,
 *        sender_dependent_default_transport_maps (searched with the sender)
 *        replace default_transport. For the relay and default classes,
 *        sender_dependent_relayhost_maps (by sender) override relayhost.
 */
#include "trivial-rewrite.h"
#include "addr.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "hostname.h"
#include "log.h"
#include "maps.h"
#include "resolve_local.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

void tr_result_init(struct tr_result *r)
{
    r->transport = sbuf_new(32);
    r->nexthop = sbuf_new(64);
    r->recipient = sbuf_new(64);
    r->class_ = "default";
    r->flags = 0;
}

void tr_result_free(struct tr_result *r)
{
    sbuf_free(r->transport);
    sbuf_free(r->nexthop);
    sbuf_free(r->recipient);
    memset(r, 0, sizeof(*r));
}

void tr_split_transport(const char *value, struct sbuf *transport, struct sbuf *nexthop)
{
    const char *colon = strchr(value, ':');
    sbuf_reset(transport);
    sbuf_reset(nexthop);
    if (colon == NULL) {
        sbuf_cat(transport, value);
        return;
    }
    sbuf_append(transport, value, (size_t)(colon - value));
    sbuf_cat(nexthop, colon + 1);
}

/* Sets transport and nexthop from a "transport[:nexthop]" parameter; an
 * empty nexthop there falls back to dflt_hop. */
static void tr_use_transport(struct tr_result *r, const char *param_value, const char *dflt_hop)
{
    tr_split_transport(param_value, r->transport, r->nexthop);
    if (sbuf_len(r->nexthop) == 0)
        sbuf_set(r->nexthop, dflt_hop);
}

/* Is domain syntactically acceptable: a [literal] or a host name
 * (hostname_valid(), 8-bit bytes allowed for IDN). */
static bool tr_valid_domain(const char *d)
{
    size_t len = strlen(d);
    if (d[0] == '[')
        return len > 2 && len <= 255 && d[len - 1] == ']';
    return hostname_valid(d, true);
}

/* A dotted-quad IPv4 address (resolve_numeric_domain). */
static bool tr_ipv4_text(const char *d)
{
    struct in_addr a;
    return inet_pton(AF_INET, d, &a) == 1;
}

/* Looks up key in the tables of one kind; 1 found (value in *val), 0
 * none, -1 error. */
static int tr_maps_find(const struct tr_config *cfg, const char *key, bool pattern_only,
                        const char **val)
{
    const char *v = maps_find(cfg->transport_maps, key, pattern_only ? DICT_F_PATTERN : DICT_F_FIXED);
    if (v) {
        *val = v;
        return 1;
    }
    return maps_error(cfg->transport_maps) != DICT_ERR_NONE ? -1 : 0;
}

/* Applies one transport_maps result to r. */
static void tr_apply_transport(struct tr_result *r, const char *value, const char *domain)
{
    struct sbuf *t = sbuf_new(32), *h = sbuf_new(64);
    tr_split_transport(value, t, h);
    if (sbuf_len(t) > 0) {
        sbuf_set(r->transport, sbuf_str(t));
        /* "transport:" (no nexthop) means the recipient domain. */
        sbuf_set(r->nexthop, sbuf_len(h) ? sbuf_str(h) : domain);
    } else if (sbuf_len(h) > 0) {
        sbuf_set(r->nexthop, sbuf_str(h));  /* ":nexthop" keeps the class transport */
    }                                       /* ":" changes nothing */
    sbuf_free(t);
    sbuf_free(h);
}

int tr_transport_lookup(const struct tr_config *cfg, const char *recipient, struct tr_result *r)
{
    const char *val = NULL;
    int found;
    if (maps_count(cfg->transport_maps) == 0)
        return 0;
    const char *at = strrchr(recipient, '@');
    const char *domain = at ? at + 1 : "";
    struct sbuf *key = sbuf_new(128);
    int result = 0;

    /* Pattern tables (regexp, pcre) see the whole address only. */
    found = tr_maps_find(cfg, recipient, true, &val);
    if (found != 0)
        goto done;
    /* user+ext@domain, then user@domain. */
    found = tr_maps_find(cfg, recipient, false, &val);
    if (found != 0)
        goto done;
    if (*cfg->recipient_delimiter && at) {
        size_t llen = (size_t)(at - recipient);
        size_t ext = strcspn(recipient, cfg->recipient_delimiter);
        if (ext > 0 && ext < llen) {
            sbuf_reset(key);
            sbuf_append(key, recipient, ext);
            sbuf_cat(key, at);
            found = tr_maps_find(cfg, sbuf_str(key), false, &val);
            if (found != 0)
                goto done;
        }
    }
    /* domain, then its parents (".parent", or "parent" when transport_maps
     * is in parent_domain_matches_subdomains), then "*". */
    if (*domain) {
        found = tr_maps_find(cfg, domain, false, &val);
        if (found != 0)
            goto done;
        for (const char *dot = strchr(domain + 1, '.'); dot; dot = strchr(dot + 1, '.')) {
            found = tr_maps_find(cfg, cfg->transport_parent ? dot + 1 : dot, false, &val);
            if (found != 0)
                goto done;
        }
    }
    found = tr_maps_find(cfg, "*", false, &val);

done:
    if (found < 0)
        result = -1;
    else if (found > 0) {
        tr_apply_transport(r, val, domain);
        result = 1;
    }
    sbuf_free(key);
    return result;
}

/* The next hop of off-host mail (relay and default classes): the
 * sender_dependent_relayhost_maps entry for the sender (full address, then
 * @domain; the null sender is looked up as
 * $empty_address_relayhost_maps_lookup_key), else $relayhost, else the
 * recipient domain. An entry "DUNNO" means "no sender-dependent relay host"
 * (as in Postfix 2.6 and later). NULL after a table failure (TR_FLAG_FAIL
 * set). Borrows from cfg, domain or the table's last answer. */
static const char *tr_relayhost(const struct tr_config *cfg, const char *sender,
                                const char *domain, struct tr_result *r)
{
    if (cfg->sender_relayhost && sender) {
        const char *v = maps_find_addr(cfg->sender_relayhost, *sender ? sender : cfg->empty_relay_key,
                                       cfg->recipient_delimiter, 0, NULL);
        if (v && *v && strcasecmp(v, "DUNNO") != 0)
            return v;
        if (v == NULL && maps_error(cfg->sender_relayhost) != DICT_ERR_NONE) {
            r->flags |= TR_FLAG_FAIL;
            return NULL;
        }
    }
    return *cfg->relayhost ? cfg->relayhost : domain;
}

void tr_resolve(const struct tr_config *cfg, const char *sender, const char *addr,
                struct tr_result *r)
{
    struct sbuf *work = sbuf_new(128), *tmp = sbuf_new(128);
    char *saved_domain = NULL;
    const char *domain = NULL;
    bool routed = false;
    bool opaque = false;    /* a local part that would be quoted (resolve_dequoted_address = no) */
    int rl;

    r->flags = 0;
    r->class_ = "default";
    sbuf_reset(r->transport);
    sbuf_reset(r->nexthop);
    sbuf_reset(r->recipient);

    if (strlen(addr) > TR_ADDR_MAX) {
        r->flags |= TR_FLAG_ERROR;
        r->class_ = "default";
        sbuf_set(r->transport, "error");
        sbuf_set(r->nexthop, "5.1.3 Bad recipient address syntax");
        sbuf_set(r->recipient, "");
        goto out;
    }
    /* Source routes are noise here too. */
    if (addr[0] == '@' && strchr(addr, ':') && strchr(addr, ':')[1])
        addr = strchr(addr, ':') + 1;
    sbuf_set(work, addr);

    for (int round = 0;; round++) {
        if (round >= TR_RESOLVE_MAX_ROUNDS) {
            log_warn("resolve_addr: <%s>: giving up after %d iterations", addr, round);
            break;
        }
        /* Trailing dots (not "..", "@.") and a trailing '@' go. */
        for (;;) {
            size_t len = sbuf_len(work);
            const char *s = sbuf_str(work);
            if (len >= 2 && s[len - 1] == '.' && s[len - 2] != '.' && s[len - 2] != '@')
                sbuf_truncate(work, len - 1);
            else if (len >= 1 && s[len - 1] == '@' && cfg->resolve_null_domain)
                sbuf_truncate(work, len - 1);
            else
                break;
        }
        const char *at = strrchr(sbuf_str(work), '@');
        if (at && at[1] == 0)
            break;          /* "user@" without resolve_null_domain: an error below */
        if (at) {
            char *dom = xstrdup(at + 1);
            for (char *p = dom; *p; p++)
                *p = (char)tolower((unsigned char)*p);
            rl = resolve_local(dom);
            if (rl < 0) {
                r->flags |= TR_FLAG_FAIL;
                xfree(dom);
                goto out;
            }
            if (rl == 0) {
                xfree(dom);
                break;      /* a remote domain is left */
            }
            xfree(saved_domain);
            saved_domain = dom;
            sbuf_truncate(work, (size_t)(at - sbuf_str(work)));
        }
        /* Still routing operators in what is left: rewrite and go again
         * (not inside what would be a quoted local part, when
         * resolve_dequoted_address = no). */
        const char *s = sbuf_str(work);
        if (!cfg->resolve_dequoted && saved_domain && addr_needs_quote(s, sbuf_len(work))) {
            opaque = true;
            break;
        }
        if (strchr(s, '@')) {
            /* user@domain left after our domain went: a route through us.
             * The next round strips that domain too when it is ours. */
            routed = true;
            continue;
        }
        if ((cfg->swap_bangpath && strchr(s, '!')) || (cfg->percent_hack && strchr(s, '%'))) {
            if (tr_rewrite(cfg, "local", s, tmp) < 0 || strcmp(sbuf_str(tmp), s) == 0)
                break;      /* nothing changed: stop (no loop) */
            if (saved_domain)
                routed = true;
            sbuf_set(work, sbuf_str(tmp));
            continue;
        }
        /* An empty local part is $empty_address_recipient (MAILER-DAEMON). */
        if (sbuf_len(work) == 0)
            sbuf_set(work, cfg->empty_address_recipient);
        break;
    }

    const char *at = strrchr(sbuf_str(work), '@');
    /* A local part that would be quoted holds no domain of its own when
     * resolve_dequoted_address = no ("a@b"@local). */
    if (opaque)
        at = NULL;
    /* resolve_numeric_domain: user@1.2.3.4 is user@[1.2.3.4], which one of
     * our own addresses makes local. */
    if (at && cfg->resolve_numeric_domain && !tr_valid_domain(at + 1) && tr_ipv4_text(at + 1)) {
        size_t llen = (size_t)(at - sbuf_str(work));
        sbuf_printf(tmp, "[%s]", at + 1);
        sbuf_truncate(work, llen + 1);
        sbuf_cat(work, sbuf_str(tmp));
        rl = resolve_local(sbuf_str(tmp));
        if (rl < 0) {
            r->flags |= TR_FLAG_FAIL;
            goto out;
        }
        at = sbuf_str(work) + llen;
        if (rl > 0) {
            xfree(saved_domain);
            saved_domain = xstrdup(sbuf_str(tmp));
            sbuf_truncate(work, llen);
            at = NULL;
        }
    }
    if (at == NULL) {
        /* Local delivery. */
        sbuf_printf(r->recipient, "%s@%s", sbuf_str(work),
                    saved_domain ? saved_domain : cfg->myhostname);
        r->class_ = "local";
        r->flags |= TR_FLAG_FINAL;
        tr_use_transport(r, cfg->local_transport, cfg->myhostname);
    } else {
        /* Fold the domain of the recipient we hand out. */
        sbuf_set(r->recipient, sbuf_str(work));
        for (char *p = strrchr(sbuf_data(r->recipient), '@') + 1; *p; p++)
            *p = (char)tolower((unsigned char)*p);
        domain = strrchr(sbuf_str(r->recipient), '@') + 1;
        size_t llen = (size_t)(strrchr(sbuf_str(r->recipient), '@') - sbuf_str(r->recipient));
        /* Operators in a local part that would be quoted do not route when
         * resolve_dequoted_address = no. */
        bool quoted = !cfg->resolve_dequoted && addr_needs_quote(sbuf_str(r->recipient), llen);
        if (routed || (!quoted && (memchr(sbuf_str(r->recipient), '%', llen) ||
                                   memchr(sbuf_str(r->recipient), '!', llen) ||
                                   memchr(sbuf_str(r->recipient), '@', llen))))
            r->flags |= TR_FLAG_ROUTED;
        if (!tr_valid_domain(domain)) {
            /* A syntax error skips the class and table work; the error
             * transport makes sure that no consumer routes it anyway. */
            r->flags |= TR_FLAG_ERROR;
            sbuf_set(r->transport, "error");
            sbuf_set(r->nexthop, "5.1.3 bad address syntax");
            goto out;
        }
        int m;
        if ((m = domain_list_match(cfg->virtual_alias_domains, domain)) != 0) {
            if (m < 0) {
                r->flags |= TR_FLAG_FAIL;
                goto out;
            }
            r->class_ = "alias";
            r->flags |= TR_FLAG_FINAL;
            sbuf_set(r->transport, "error");
            sbuf_printf(r->nexthop, "5.1.1 User unknown%s",
                        cfg_bool(P_SHOW_USER_UNKNOWN_TABLE_NAME) ? " in virtual alias table" : "");
            goto out;       /* transport_maps do not apply */
        } else if ((m = domain_list_match(cfg->virtual_mailbox_domains, domain)) != 0) {
            if (m < 0) {
                r->flags |= TR_FLAG_FAIL;
                goto out;
            }
            r->class_ = "virtual";
            r->flags |= TR_FLAG_FINAL;
            tr_use_transport(r, cfg->virtual_transport, domain);
        } else if ((m = domain_list_match(cfg->relay_domains, domain)) != 0) {
            if (m < 0) {
                r->flags |= TR_FLAG_FAIL;
                goto out;
            }
            r->class_ = "relay";
            const char *hop = tr_relayhost(cfg, sender, domain, r);
            if (hop == NULL)
                goto out;
            tr_use_transport(r, cfg->relay_transport, hop);
        } else {
            r->class_ = "default";
            const char *dflt = cfg->default_transport;
            if (cfg->sender_default_transport && sender) {
                /* sender_dependent_default_transport_maps replace
                 * default_transport (the null sender is looked up as
                 * $empty_address_default_transport_maps_lookup_key). */
                const char *v = maps_find_addr(cfg->sender_default_transport,
                                               *sender ? sender : cfg->empty_sender_key,
                                               cfg->recipient_delimiter, 0, NULL);
                if (v && *v)
                    dflt = v;
                else if (maps_error(cfg->sender_default_transport) != DICT_ERR_NONE) {
                    r->flags |= TR_FLAG_FAIL;
                    goto out;
                }
            }
            const char *hop = tr_relayhost(cfg, sender, domain, r);
            if (hop == NULL)
                goto out;
            tr_use_transport(r, dflt, hop);
        }
    }

    /* transport_maps override every class but alias. */
    if (tr_transport_lookup(cfg, sbuf_str(r->recipient), r) < 0) {
        r->flags |= TR_FLAG_FAIL;
        goto out;
    }
    /* relocated_maps: "user has moved" wins over any route. The user-only
     * form applies to local recipients. */
    if (cfg->relocated_maps) {
        const char *v = maps_find_addr(cfg->relocated_maps, sbuf_str(r->recipient),
                                       cfg->recipient_delimiter,
                                       strcmp(r->class_, "local") == 0 ? MAPS_ADDR_LOCAL : 0, NULL);
        if (v && *v) {
            sbuf_set(r->transport, "error");
            sbuf_printf(r->nexthop, "5.1.6 User has moved to %s", v);
        } else if (maps_error(cfg->relocated_maps) != DICT_ERR_NONE) {
            r->flags |= TR_FLAG_FAIL;
            goto out;
        }
    }
    /* allow_min_user = no: a recipient that starts with '-' could pass for
     * an option on a command line (pipe, local commands). Postfix refuses
     * it here and again in qmgr. */
    if (!cfg->allow_min_user && sbuf_str(r->recipient)[0] == '-') {
        sbuf_set(r->transport, "error");
        sbuf_set(r->nexthop, "5.1.3 Bad recipient address syntax");
        r->flags |= TR_FLAG_ERROR;
    }

out:
    xfree(saved_domain);
    sbuf_free(work);
    sbuf_free(tmp);
}
