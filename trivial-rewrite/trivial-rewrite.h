/*
 * trivial-rewrite.h - trivial-rewrite's private interfaces
 *
 * Used by: the trivial-rewrite sources and tests/unit/rewrite_test.c (which
 *          links the pure functions: no socket is needed for rewriting or
 *          resolving).
 * Interface: tr_config_load(), tr_config_free(), tr_rewrite(),
 *            tr_resolve(), tr_transport_lookup(), tr_split_transport().
 * Notes: see docs/ipc.md "rewrite" for the wire protocol and
 *        POSTFIX-FACTS.md section 7 for the decisions made here.
 */
#ifndef POSTERN_TRIVIAL_REWRITE_H
#define POSTERN_TRIVIAL_REWRITE_H
#include "sys_compat.h"
#include "sbuf.h"

struct domain_list;
struct maps;

/* Resolve flags (docs/ipc.md). */
#define TR_FLAG_FINAL 1
#define TR_FLAG_ROUTED 2
#define TR_FLAG_ERROR 4
#define TR_FLAG_FAIL 8

/* Longest address trivial-rewrite accepts (longer ones are refused). */
#define TR_ADDR_MAX 2048
/* Bound on local-domain stripping rounds (a%b%c%...@local). */
#define TR_RESOLVE_MAX_ROUNDS 100

/* Everything read from main.cf, built once (tr_config_load). */
struct tr_config {
    char *myorigin;
    char *mydomain;
    char *myhostname;
    bool append_at_myorigin;
    bool append_dot_mydomain;
    bool swap_bangpath;
    bool percent_hack;
    bool allow_min_user;            /* a recipient may start with '-' */
    bool resolve_null_domain;       /* "user@" is user@$myhostname, not an error */
    bool resolve_numeric_domain;    /* "user@1.2.3.4" is user@[1.2.3.4], not an error */
    bool resolve_dequoted;          /* routing operators count inside a quoted local part */
    char *empty_address_recipient;  /* what an empty local part resolves to */
    char *remote_domain;            /* remote_header_rewrite_domain */
    char *local_transport;
    char *virtual_transport;
    char *relay_transport;
    char *default_transport;
    char *relayhost;
    char *recipient_delimiter;
    struct domain_list *virtual_alias_domains;
    struct domain_list *virtual_mailbox_domains;
    struct domain_list *relay_domains;
    struct maps *transport_maps;
    bool transport_parent;          /* transport_maps in parent_domain_matches_subdomains */
    struct maps *relocated_maps;    /* NULL when empty */
    struct maps *sender_default_transport;  /* sender_dependent_default_transport_maps */
    char *empty_sender_key;         /* empty_address_default_transport_maps_lookup_key */
    struct maps *sender_relayhost;  /* sender_dependent_relayhost_maps, NULL when empty */
    char *empty_relay_key;          /* empty_address_relayhost_maps_lookup_key */
};

/* What resolve decides. */
struct tr_result {
    struct sbuf *transport;
    struct sbuf *nexthop;
    struct sbuf *recipient;
    const char *class_;     /* "local", "alias", "virtual", "relay", "default" */
    int flags;
};

/* Reads main.cf (already loaded) into cfg and opens the tables.
 * Table open failures are logged; lookups in them then report FAIL. */
void tr_config_load(struct tr_config *cfg);
void tr_config_free(struct tr_config *cfg);

/* Rewrites addr (internal form) to canonical form in context rule
 * ("local" or "remote"; anything else leaves addr unchanged).
 * Fills out. Returns 0, or -1 for an unknown rule. */
int tr_rewrite(const struct tr_config *cfg, const char *rule, const char *addr, struct sbuf *out);

void tr_result_init(struct tr_result *r);
void tr_result_free(struct tr_result *r);
/* Resolves addr to class, transport, nexthop and recipient. Fills r.
 * A failed table lookup sets TR_FLAG_FAIL. */
void tr_resolve(const struct tr_config *cfg, const char *sender, const char *addr,
                struct tr_result *r);

/* Splits "transport:nexthop" (nexthop may itself contain ':', e.g.
 * "smtp:[1.2.3.4]:2025"); nexthop is empty when there is no ':'. */
void tr_split_transport(const char *value, struct sbuf *transport, struct sbuf *nexthop);
/* Applies transport_maps to recipient (user@domain, domain folded).
 * Returns 1 when an entry changed r, 0 when none matched, -1 on a table
 * failure. */
int tr_transport_lookup(const struct tr_config *cfg, const char *recipient, struct tr_result *r);

#endif
