/*
 * trivial_rewrite_rewrite.c - configuration and address rewriting to
 *                             canonical form (no I/O)
 *
 * Used by: trivial_rewrite_main.c, trivial_rewrite_resolve.c,
 *          tests/unit/rewrite_test.c.
 * Interface: tr_config_load(), tr_config_free(), tr_rewrite().
 * Errors: table open failures are logged; the table then fails lookups.
 * Notes: addresses are in internal form, so the local part is everything
 *        before the LAST '@'. The rewrite steps, in order: a lone "@" is
 *        the null address; a source route "@a,@b:" is removed; an address
 *        without '@' becomes user@host for "host!user" (swap_bangpath),
 *        user@domain for "user%domain" (allow_percent_hack), or gets
 *        "@origin" appended (append_at_myorigin); "user@host" without a
 *        dot gets ".domain" (append_dot_mydomain); one trailing dot is
 *        removed. For the local context origin is $myorigin and domain is
 *        $mydomain; for the remote context both are
 *        $remote_header_rewrite_domain (empty: nothing is appended).
 */
#include "trivial-rewrite.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "maps.h"
#include "resolve_local.h"

static char *tr_dup_param(const char *name)
{
    return xstrdup(cfg_str(name));
}

void tr_config_load(struct tr_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->myorigin = tr_dup_param(P_MYORIGIN);
    cfg->mydomain = tr_dup_param(P_MYDOMAIN);
    cfg->myhostname = tr_dup_param(P_MYHOSTNAME);
    cfg->append_at_myorigin = cfg_bool(P_APPEND_AT_MYORIGIN);
    cfg->append_dot_mydomain = cfg_bool(P_APPEND_DOT_MYDOMAIN);
    cfg->swap_bangpath = cfg_bool(P_SWAP_BANGPATH);
    cfg->percent_hack = cfg_bool(P_ALLOW_PERCENT_HACK);
    cfg->allow_min_user = cfg_bool(P_ALLOW_MIN_USER);
    cfg->resolve_null_domain = cfg_bool(P_RESOLVE_NULL_DOMAIN);
    cfg->resolve_numeric_domain = cfg_bool(P_RESOLVE_NUMERIC_DOMAIN);
    cfg->resolve_dequoted = cfg_bool(P_RESOLVE_DEQUOTED_ADDRESS);
    cfg->empty_address_recipient = xstrdup(cfg_str(P_EMPTY_ADDRESS_RECIPIENT));
    cfg->remote_domain = tr_dup_param(P_REMOTE_HEADER_REWRITE_DOMAIN);
    cfg->local_transport = tr_dup_param(P_LOCAL_TRANSPORT);
    cfg->virtual_transport = tr_dup_param(P_VIRTUAL_TRANSPORT);
    cfg->relay_transport = tr_dup_param(P_RELAY_TRANSPORT);
    cfg->default_transport = tr_dup_param(P_DEFAULT_TRANSPORT);
    cfg->relayhost = tr_dup_param(P_RELAYHOST);
    cfg->recipient_delimiter = tr_dup_param(P_RECIPIENT_DELIMITER);
    cfg->virtual_alias_domains =
        domain_list_new(P_VIRTUAL_ALIAS_DOMAINS, cfg_str(P_VIRTUAL_ALIAS_DOMAINS));
    cfg->virtual_mailbox_domains =
        domain_list_new(P_VIRTUAL_MAILBOX_DOMAINS, cfg_str(P_VIRTUAL_MAILBOX_DOMAINS));
    cfg->relay_domains = domain_list_new(P_RELAY_DOMAINS, cfg_str(P_RELAY_DOMAINS));

    cfg->transport_maps = maps_create(P_TRANSPORT_MAPS, cfg_str(P_TRANSPORT_MAPS), DICT_F_FOLD);
    if (*cfg_str(P_RELOCATED_MAPS))
        cfg->relocated_maps = maps_create(P_RELOCATED_MAPS, cfg_str(P_RELOCATED_MAPS), DICT_F_FOLD);
    if (*cfg_str(P_SENDER_DEPENDENT_DEFAULT_TRANSPORT_MAPS))
        cfg->sender_default_transport =
            maps_create(P_SENDER_DEPENDENT_DEFAULT_TRANSPORT_MAPS,
                        cfg_str(P_SENDER_DEPENDENT_DEFAULT_TRANSPORT_MAPS), DICT_F_FOLD);
    cfg->empty_sender_key = tr_dup_param(P_EMPTY_ADDRESS_DEFAULT_TRANSPORT_MAPS_LOOKUP_KEY);
    if (*cfg_str(P_SENDER_DEPENDENT_RELAYHOST_MAPS))
        cfg->sender_relayhost = maps_create(P_SENDER_DEPENDENT_RELAYHOST_MAPS,
                                            cfg_str(P_SENDER_DEPENDENT_RELAYHOST_MAPS), DICT_F_FOLD);
    cfg->empty_relay_key = tr_dup_param(P_EMPTY_ADDRESS_RELAYHOST_MAPS_LOOKUP_KEY);
    cfg->transport_parent = cfg_parent_matches(P_TRANSPORT_MAPS);
    resolve_local_init();
}

void tr_config_free(struct tr_config *cfg)
{
    xfree(cfg->myorigin);
    xfree(cfg->mydomain);
    xfree(cfg->myhostname);
    xfree(cfg->remote_domain);
    xfree(cfg->local_transport);
    xfree(cfg->virtual_transport);
    xfree(cfg->relay_transport);
    xfree(cfg->default_transport);
    maps_free(cfg->relocated_maps);
    maps_free(cfg->sender_default_transport);
    xfree(cfg->empty_sender_key);
    xfree(cfg->empty_address_recipient);
    maps_free(cfg->sender_relayhost);
    xfree(cfg->empty_relay_key);
    xfree(cfg->relayhost);
    xfree(cfg->recipient_delimiter);
    domain_list_free(cfg->virtual_alias_domains);
    domain_list_free(cfg->virtual_mailbox_domains);
    domain_list_free(cfg->relay_domains);
    maps_free(cfg->transport_maps);
    resolve_local_free();
    memset(cfg, 0, sizeof(*cfg));
}

int tr_rewrite(const struct tr_config *cfg, const char *rule, const char *addr, struct sbuf *out)
{
    const char *origin, *domain;
    if (strcmp(rule, "local") == 0) {
        origin = cfg->myorigin;
        domain = cfg->mydomain;
    } else if (strcmp(rule, "remote") == 0) {
        origin = cfg->remote_domain;
        domain = cfg->remote_domain;
    } else {
        sbuf_set(out, addr);
        return -1;
    }
    /* A lone "@" is the null address. */
    if (strcmp(addr, "@") == 0)
        addr = "";
    /* Strip a source route: "@a,@b:user@c" -> "user@c". */
    if (addr[0] == '@') {
        const char *colon = strchr(addr, ':');
        if (colon && colon[1])
            addr = colon + 1;
    }
    sbuf_set(out, addr);
    if (sbuf_len(out) == 0)
        return 0;

    if (strchr(sbuf_str(out), '@') == NULL) {
        char *s = xstrdup(sbuf_str(out));
        char *bang = strchr(s, '!');
        char *pct = strrchr(s, '%');
        if (cfg->swap_bangpath && bang && bang != s && bang[1]) {
            /* host!rest -> rest@host */
            *bang = 0;
            sbuf_printf(out, "%s@%s", bang + 1, s);
        } else if (cfg->percent_hack && pct && pct != s && pct[1]) {
            *pct = '@';
            sbuf_set(out, s);
        } else if (cfg->append_at_myorigin && origin && *origin) {
            sbuf_catf(out, "@%s", origin);
        }
        xfree(s);
    }
    /* Append ".domain" to "user@host" (not to literals or dotted names). */
    if (cfg->append_dot_mydomain && domain && *domain) {
        const char *at = strrchr(sbuf_str(out), '@');
        if (at && at[1] && at[1] != '[' && strchr(at + 1, '.') == NULL)
            sbuf_catf(out, ".%s", domain);
    }
    /* One trailing dot goes, but not from "x..", "@." forms. */
    size_t len = sbuf_len(out);
    if (len >= 2 && sbuf_str(out)[len - 1] == '.' && sbuf_str(out)[len - 2] != '.' &&
        sbuf_str(out)[len - 2] != '@')
        sbuf_truncate(out, len - 1);
    return 0;
}
