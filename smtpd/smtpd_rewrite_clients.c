/*
 * smtpd_rewrite_clients.c - local_header_rewrite_clients: whose headers
 *                           cleanup may rewrite as local
 *
 * Used by: smtpd.c (start-up, and each message's cleanup attributes).
 * Interface: smtpd_rewrite_clients_init(), smtpd_rewrite_client_local().
 * Errors: a word Postfix does not allow here is warned about once at
 *         start and ignored; a failed lookup is logged and the client is
 *         not local (only the rewriting of its headers is at stake).
 * Notes: Postfix's list, first match wins: permit_inet_interfaces (the
 *        client is at one of inet_interfaces), permit_mynetworks,
 *        permit_sasl_authenticated, permit_tls_clientcerts (certificate
 *        listed in relay_clientcerts), permit_tls_all_clientcerts (a
 *        verified certificate), check_address_map type:table (the client
 *        address is a key of the table: no subnets, the value ignored, as
 *        for pop-before-smtp tables), and static:all.
 */
#include "smtpd.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include "resolve_local.h"

enum smtpd_lrc_kind {
    SMTPD_LRC_INET, SMTPD_LRC_MYNETWORKS, SMTPD_LRC_SASL, SMTPD_LRC_TLS_LISTED,
    SMTPD_LRC_TLS_ALL, SMTPD_LRC_ADDRESS_MAP, SMTPD_LRC_ALL,
};

struct smtpd_lrc_item {
    enum smtpd_lrc_kind kind;
    struct maps *map;           /* check_address_map */
};

static struct {
    struct smtpd_lrc_item *v;
    size_t n;
} smtpd_lrc;

static const struct {
    const char *name;
    enum smtpd_lrc_kind kind;
} smtpd_lrc_words[] = {
    { "permit_inet_interfaces", SMTPD_LRC_INET },
    { "permit_mynetworks", SMTPD_LRC_MYNETWORKS },
    { "permit_sasl_authenticated", SMTPD_LRC_SASL },
    { "permit_tls_clientcerts", SMTPD_LRC_TLS_LISTED },
    { "permit_tls_all_clientcerts", SMTPD_LRC_TLS_ALL },
    { "check_address_map", SMTPD_LRC_ADDRESS_MAP },
    { "static:all", SMTPD_LRC_ALL },
};

void smtpd_rewrite_clients_init(void)
{
    char **words = cfg_list(cfg_str(P_LOCAL_HEADER_REWRITE_CLIENTS));
    size_t cap = 0;
    for (char **w = words; w && *w; w++)
        cap++;
    smtpd_lrc.v = xcalloc(cap ? cap : 1, sizeof(*smtpd_lrc.v));
    for (char **w = words; w && *w; w++) {
        size_t i = 0;
        while (i < ARRAY_LEN(smtpd_lrc_words) && strcasecmp(*w, smtpd_lrc_words[i].name) != 0)
            i++;
        if (i == ARRAY_LEN(smtpd_lrc_words)) {
            log_warn("%s: unknown item \"%s\": ignored", P_LOCAL_HEADER_REWRITE_CLIENTS, *w);
            continue;
        }
        struct smtpd_lrc_item *it = &smtpd_lrc.v[smtpd_lrc.n];
        it->kind = smtpd_lrc_words[i].kind;
        if (it->kind == SMTPD_LRC_ADDRESS_MAP) {
            if (w[1] == NULL) {
                log_warn("%s: check_address_map needs a table: ignored",
                         P_LOCAL_HEADER_REWRITE_CLIENTS);
                continue;
            }
            it->map = maps_create(P_LOCAL_HEADER_REWRITE_CLIENTS, *++w, DICT_F_FOLD);
        }
        smtpd_lrc.n++;
    }
    cfg_list_free(words);
}

static bool smtpd_lrc_match(const struct smtpd_lrc_item *it, struct smtpd_state *st)
{
    switch (it->kind) {
    case SMTPD_LRC_INET:
        return resolve_local_interface(st->addr);
    case SMTPD_LRC_MYNETWORKS:
        return smtpd_client_in_mynetworks(st);
    case SMTPD_LRC_SASL:
        return st->sasl_username != NULL;
    case SMTPD_LRC_TLS_LISTED:
        return smtpd_ccert_relay_listed(st) > 0;
    case SMTPD_LRC_TLS_ALL:
        return st->tls_active && st->tls_ccert_trusted;
    case SMTPD_LRC_ADDRESS_MAP:
        if (maps_find(it->map, st->addr, 0) != NULL)
            return true;
        if (maps_error(it->map) != DICT_ERR_NONE)
            log_warn("%s: check_address_map lookup error for %s", P_LOCAL_HEADER_REWRITE_CLIENTS,
                     st->namaddr);
        return false;
    case SMTPD_LRC_ALL:
        return true;
    }
    return false;
}

bool smtpd_rewrite_client_local(struct smtpd_state *st)
{
    for (size_t i = 0; i < smtpd_lrc.n; i++)
        if (smtpd_lrc_match(&smtpd_lrc.v[i], st))
            return true;
    return false;
}
