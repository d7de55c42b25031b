/*
 * smtp_tls_policy.c - the TLS policy of the smtp/lmtp client, per destination
 *
 * Used by: smtp.c (smtp_load_config: the default policy; smtp_service: the
 *          policy of each next-hop destination), smtp_proto.c (applies it).
 * Interface: smtp_tls_policy_default(), smtp_tls_policy_lookup(),
 *            smtp_tls_policy_free(), smtp_tls_level_parse(),
 *            smtp_tls_cache_ops(), smtp_tls_seed() (tlsmgr).
 * Errors: a table lookup failure, a bad table entry or an attribute this
 *         client cannot honour at a level stronger than "may" makes
 *         smtp_tls_policy_lookup() fail: the caller defers the destination
 *         (4.7.5 "client TLS configuration problem", as Postfix does); the
 *         details are logged here as warnings.
 * Notes: the default policy comes from *_tls_security_level (or the older
 *        *_use_tls / *_enforce_tls), *_tls_{verify,secure}_cert_match,
 *        *_tls_[mandatory_]protocols and *_tls_[mandatory_][exclude_]ciphers.
 *        *_tls_policy_maps overrides it per destination. Lookup keys: the
 *        next hop as written - "[host]" or "domain", with ":port" when a
 *        port other than the default is given - and, for a domain without
 *        brackets, each parent domain with a leading dot (".example.com",
 *        ".com"). A table value is a level followed by name=value
 *        attributes: match= (colon-separated names at verify and secure,
 *        "|"-separated fingerprints at fingerprint; several match=
 *        attributes add up), protocols=, ciphers= (a grade: high,
 *        medium, ...), exclude=, servername= (SNI: a name, "hostname" for
 *        the server's name, "nexthop" for the next-hop domain; default
 *        *_tls_servername), tafile= (verify and secure: trust anchor files
 *        that replace the CAs, else *_tls_trust_anchor_file; each is read
 *        once per process by tls_client_anchors_load(), and one that cannot
 *        be used defers the destination), connection_reuse= (yes or no:
 *        overrides *_tls_connection_reuse). "dane" and "dane-only" are worked out per
 *        server by smtp_dane.c. Fingerprints (match= or
 *        *_tls_fingerprint_cert_match) are hex digests with or without
 *        colons, any case; they are kept upper-case without colons and
 *        compared with the digests of the peer's certificate and of its
 *        public key (smtp_proto.c). What main.cf
 *        gives a level (protocols, ciphers, match strategies) is worked
 *        out once per process, not per delivery.
 *
 *        *_tls_per_site, the table of Postfix before 2.3, is used when
 *        *_tls_policy_maps is empty (with both set it is ignored, with a
 *        warning at start). It is searched for the next hop's name (no
 *        brackets, no port) and then for each server's MX name, and its
 *        answers NONE, MAY, MUST_NOPEERMATCH and MUST combine as in
 *        Postfix (smtp_tls_site_step): the strongest MUST wins, NONE beats
 *        MAY, a lone MAY yields to a stronger main.cf level. MUST is level
 *        "verify" and MUST_NOPEERMATCH "encrypt", with main.cf's settings
 *        for that level. *_enforce_tls = yes without a security level is
 *        "verify" when *_tls_enforce_peername is yes (the default), else
 *        "encrypt".
 */
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include "sbuf.h"
#include "smtp.h"
#include "tls_client.h"
#include "tls_common.h"
#include "tlsmgr_clnt.h"
#include <ctype.h>

#define SMTP_P(smtp_name, lmtp_name) (smtp_cfg.lmtp ? (lmtp_name) : (smtp_name))

/* The table, opened once at start; NULL when not configured. */
static struct maps *smtp_tls_policy_table;
/* *_tls_per_site, when *_tls_policy_maps is empty; else NULL. */
static struct maps *smtp_tls_site_table;

/* The levels by name, as main.cf and the policy tables write them. */
static const char *const smtp_tls_level_names[] = {
    [SMTP_TLS_NONE] = "none",         [SMTP_TLS_MAY] = "may",
    [SMTP_TLS_ENCRYPT] = "encrypt",   [SMTP_TLS_DANE] = "dane",
    [SMTP_TLS_DANE_ONLY] = "dane-only", [SMTP_TLS_FINGERPRINT] = "fingerprint",
    [SMTP_TLS_VERIFY] = "verify",     [SMTP_TLS_SECURE] = "secure",
};

const char *smtp_tls_level_name(enum smtp_tls_level level)
{
    return (unsigned)level < ARRAY_LEN(smtp_tls_level_names) && smtp_tls_level_names[level]
               ? smtp_tls_level_names[level]
               : "unknown";
}

enum smtp_tls_level smtp_tls_level_parse(const char *v, const char **warn)
{
    *warn = NULL;
    if (*v == 0)
        return SMTP_TLS_NONE;
    for (size_t l = 0; l < ARRAY_LEN(smtp_tls_level_names); l++)
        if (smtp_tls_level_names[l] && strcasecmp(v, smtp_tls_level_names[l]) == 0)
            return (enum smtp_tls_level)l;
    /* Anything unknown: a level we cannot honour. Deferring is the only
     * answer that never sends with less security than configured. */
    *warn = "this level is not supported; mail for it will be deferred";
    return SMTP_TLS_UNAVAILABLE;
}

/* One fingerprint as it is kept: upper-case hex without colons, into
 * out. The input is hex, colons allowed between bytes, any case. Returns
 * 0, or -1 when it is not a whole number of hex bytes (at most 64). */
static int smtp_tls_fprint_norm(const char *in, struct sbuf *out)
{
    sbuf_set(out, "");
    for (const char *q = in; *q;) {
        if (*q == ':' && q != in && q[1] != 0 && q[1] != ':') {
            q++;
            continue;
        }
        if (!isxdigit((unsigned char)q[0]) || !isxdigit((unsigned char)q[1]))
            return -1;
        sbuf_catf(out, "%c%c", toupper((unsigned char)q[0]), toupper((unsigned char)q[1]));
        q += 2;
    }
    return sbuf_len(out) > 0 && sbuf_len(out) <= 128 ? 0 : -1;
}

/* The fingerprints of v (separated by any of delims) appended to *list
 * (a NULL-terminated list, grown; *list may be NULL). Malformed ones are
 * warned about (title names the setting) and left out. */
static void smtp_tls_fprint_add(char ***list, const char *v, const char *delims,
                                const char *title)
{
    size_t n = 0;
    while (*list && (*list)[n])
        n++;
    struct sbuf *one = sbuf_new(64), *norm = sbuf_new(130);
    for (const char *q = v;;) {
        q += strspn(q, delims);
        if (*q == 0)
            break;
        size_t len = strcspn(q, delims);
        sbuf_set(one, "");
        sbuf_catf(one, "%.*s", (int)len, q);
        q += len;
        if (smtp_tls_fprint_norm(sbuf_str(one), norm) < 0) {
            log_warn("%s: malformed fingerprint value: %.200s", title, sbuf_str(one));
            continue;
        }
        *list = xrealloc(*list, (n + 2) * sizeof(char *));
        (*list)[n++] = xstrdup(sbuf_str(norm));
        (*list)[n] = NULL;
    }
    sbuf_free(one);
    sbuf_free(norm);
}

/* Keeps the usable match strategies of v for level (in place); returns how
 * many are left. title names the setting in warnings. */
static size_t smtp_tls_match_filter(char **v, enum smtp_tls_level level, const char *title)
{
    size_t k = 0;
    for (size_t i = 0; v && v[i]; i++) {
        const char *w = v[i];
        bool ok = strcasecmp(w, "nexthop") == 0 || strcasecmp(w, "dot-nexthop") == 0
                  || strchr(w, '.') != NULL;
        if (strcasecmp(w, "hostname") == 0) {
            /* The MX name comes from unauthenticated DNS: fine for verify,
             * meaningless for secure without DNSSEC. */
            ok = level == SMTP_TLS_VERIFY;
            if (!ok)
                log_warn("%s: \"hostname\" is not used at the secure level (no DNSSEC)", title);
        } else if (!ok)
            log_warn("%s: ignoring unknown match strategy \"%s\"", title, w);
        if (ok)
            v[k++] = v[i];
        else
            xfree(v[i]);
    }
    if (v)
        v[k] = NULL;
    return k;
}

/* The OpenSSL cipher list of a Postfix cipher grade, or NULL (unknown). */
static const char *smtp_tls_grade_list(const char *grade)
{
    static const struct {
        const char *grade, *param;
    } g[] = {
        { "high", P_TLS_HIGH_CIPHERLIST },
        { "medium", P_TLS_MEDIUM_CIPHERLIST },
        { "low", P_TLS_LOW_CIPHERLIST },
        { "export", P_TLS_EXPORT_CIPHERLIST },
        { "null", P_TLS_NULL_CIPHERLIST },
    };
    for (size_t i = 0; i < sizeof(g) / sizeof(g[0]); i++)
        if (strcasecmp(grade, g[i].grade) == 0)
            return cfg_str(g[i].param);
    return NULL;
}

/* p->ciphers from a grade and exclusions (blank, comma or colon separated).
 * Returns 0, or -1 with why filled. */
static int smtp_tls_set_ciphers(struct smtp_tls_policy *p, const char *grade,
                                const char *exclude, struct sbuf *why)
{
    const char *list = smtp_tls_grade_list(grade);
    if (list == NULL) {
        sbuf_printf(why, "unknown cipher grade \"%s\"", grade);
        return -1;
    }
    struct sbuf *b = sbuf_new(128);
    sbuf_cat(b, list);
    const char *q = exclude ? exclude : "";
    for (;;) {
        q += strspn(q, " \t,:");
        if (*q == 0)
            break;
        size_t n = strcspn(q, " \t,:");
        sbuf_catf(b, ":!%.*s", (int)n, q);
        q += n;
    }
    xfree(p->ciphers);
    p->ciphers = sbuf_detach(b);
    return 0;
}

static int smtp_tls_set_protocols(struct smtp_tls_policy *p, const char *spec, struct sbuf *why)
{
    unsigned mask = 0;
    if (tls_proto_parse(spec, &mask, why) < 0)
        return -1;
    p->protocols = mask;
    return 0;
}

/* What main.cf gives each class of level, worked out on first use and
 * kept for the life of the process: a table entry asks for it on every
 * delivery, and the parameters do not change meanwhile. Protocols and
 * ciphers: [0] opportunistic, [1] mandatory (encrypt and stronger). Match
 * strategies: [0] verify, [1] secure; [2] the fingerprints. */
static struct {
    bool done;
    unsigned protocols;
    char *ciphers;
    char *error;            /* why the settings are unusable, NULL = fine */
} smtp_tls_class[2];
static struct {
    bool done;
    char **match;
} smtp_tls_class_match[3];

/* The protocols and ciphers *_tls_[mandatory_]* give a level, computed. */
static void smtp_tls_class_load(bool mand)
{
    const char *protos = mand ? SMTP_P(P_SMTP_TLS_MANDATORY_PROTOCOLS, P_LMTP_TLS_MANDATORY_PROTOCOLS)
                              : SMTP_P(P_SMTP_TLS_PROTOCOLS, P_LMTP_TLS_PROTOCOLS);
    const char *grade = mand ? SMTP_P(P_SMTP_TLS_MANDATORY_CIPHERS, P_LMTP_TLS_MANDATORY_CIPHERS)
                             : SMTP_P(P_SMTP_TLS_CIPHERS, P_LMTP_TLS_CIPHERS);
    struct sbuf *excl = sbuf_new(64), *why = sbuf_new(64);
    sbuf_cat(excl, cfg_str(SMTP_P(P_SMTP_TLS_EXCLUDE_CIPHERS, P_LMTP_TLS_EXCLUDE_CIPHERS)));
    if (mand)
        sbuf_catf(excl, " %s", cfg_str(SMTP_P(P_SMTP_TLS_MANDATORY_EXCLUDE_CIPHERS,
                                              P_LMTP_TLS_MANDATORY_EXCLUDE_CIPHERS)));
    struct smtp_tls_policy t = { .level = SMTP_TLS_NONE };
    int rc = 0;
    if (smtp_tls_set_protocols(&t, cfg_str(protos), why) < 0) {
        sbuf_printf(why, " in %s", protos);
        rc = -1;
    } else if (smtp_tls_set_ciphers(&t, cfg_str(grade), sbuf_str(excl), why) < 0) {
        sbuf_printf(why, " in %s", grade);
        rc = -1;
    }
    /* Nothing older than TLS 1.2 unless the administrator asked for it,
     * as for smtpd (docs/tls.md). */
    if (rc == 0 && !cfg_is_set(protos))
        t.protocols &= TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3;
    smtp_tls_class[mand].protocols = t.protocols;
    smtp_tls_class[mand].ciphers = t.ciphers;
    smtp_tls_class[mand].error = rc < 0 ? sbuf_detach(why) : NULL;
    smtp_tls_class[mand].done = true;
    if (rc == 0)
        sbuf_free(why);
    sbuf_free(excl);
}

/* The protocols and ciphers *_tls_[mandatory_]* give p's level. */
static int smtp_tls_level_defaults(struct smtp_tls_policy *p, struct sbuf *why)
{
    bool mand = p->level >= SMTP_TLS_ENCRYPT;
    if (!smtp_tls_class[mand].done)
        smtp_tls_class_load(mand);
    p->protocols = smtp_tls_class[mand].protocols;
    xfree(p->ciphers);
    p->ciphers = smtp_tls_class[mand].ciphers ? xstrdup(smtp_tls_class[mand].ciphers) : NULL;
    if (smtp_tls_class[mand].error) {
        sbuf_cat(why, smtp_tls_class[mand].error);
        return -1;
    }
    return 0;
}

/* A new copy of a NULL-terminated list (NULL stays NULL). */
static char **smtp_tls_list_copy(char **v)
{
    if (v == NULL)
        return NULL;
    size_t n = 0;
    while (v[n])
        n++;
    char **out = xcalloc(n + 1, sizeof(char *));
    for (size_t i = 0; i < n; i++)
        out[i] = xstrdup(v[i]);
    return out;
}

/* The match strategies *_tls_{verify,secure}_cert_match give a level, or
 * the fingerprints of *_tls_fingerprint_cert_match (a new list; NULL for
 * the other levels and when there are no fingerprints). */
static char **smtp_tls_level_match(enum smtp_tls_level level)
{
    if (level == SMTP_TLS_FINGERPRINT) {
        if (!smtp_tls_class_match[2].done) {
            const char *name =
                SMTP_P(P_SMTP_TLS_FINGERPRINT_CERT_MATCH, P_LMTP_TLS_FINGERPRINT_CERT_MATCH);
            smtp_tls_fprint_add(&smtp_tls_class_match[2].match, cfg_str(name), " \t\r\n,", name);
            smtp_tls_class_match[2].done = true;
        }
        return smtp_tls_list_copy(smtp_tls_class_match[2].match);
    }
    if (level != SMTP_TLS_VERIFY && level != SMTP_TLS_SECURE)
        return NULL;
    bool secure = level == SMTP_TLS_SECURE;
    if (!smtp_tls_class_match[secure].done) {
        const char *name =
            secure ? SMTP_P(P_SMTP_TLS_SECURE_CERT_MATCH, P_LMTP_TLS_SECURE_CERT_MATCH)
                   : SMTP_P(P_SMTP_TLS_VERIFY_CERT_MATCH, P_LMTP_TLS_VERIFY_CERT_MATCH);
        char **v = cfg_list(cfg_str(name));
        if (smtp_tls_match_filter(v, level, name) == 0)
            log_warn("%s names nothing usable: no certificate will match, mail will be deferred",
                     name);
        smtp_tls_class_match[secure].match = v;
        smtp_tls_class_match[secure].done = true;
    }
    return smtp_tls_list_copy(smtp_tls_class_match[secure].match);
}

/* The files of *_tls_trust_anchor_file (comma or white space separated),
 * a new list, or NULL when it is empty. */
static char **smtp_tls_level_tafiles(void)
{
    const char *v = cfg_str(SMTP_P(P_SMTP_TLS_TRUST_ANCHOR_FILE, P_LMTP_TLS_TRUST_ANCHOR_FILE));
    char **files = cfg_list(v);
    if (files && files[0] == NULL) {
        cfg_list_free(files);
        files = NULL;
    }
    return files;
}

void smtp_tls_policy_free(struct smtp_tls_policy *p)
{
    if (p == NULL)
        return;
    xfree(p->level_name);
    cfg_list_free(p->match);
    xfree(p->ciphers);
    xfree(p->servername);
    cfg_list_free(p->tafiles);
    memset(p, 0, sizeof(*p));
}

void smtp_tls_policy_default(struct smtp_cfg *c)
{
    struct smtp_tls_policy *p = &c->tls_default;
    const char *lv = cfg_str(SMTP_P(P_SMTP_TLS_SECURITY_LEVEL, P_LMTP_TLS_SECURITY_LEVEL));
    const char *warn = NULL;
    if (*lv)
        p->level = smtp_tls_level_parse(lv, &warn);
    else if (cfg_bool(SMTP_P(P_SMTP_ENFORCE_TLS, P_LMTP_ENFORCE_TLS)))
        /* The older settings: enforce_peername (yes by default) also
         * verifies the server's name, as level "verify" does. */
        p->level = cfg_bool(SMTP_P(P_SMTP_TLS_ENFORCE_PEERNAME, P_LMTP_TLS_ENFORCE_PEERNAME))
                       ? SMTP_TLS_VERIFY : SMTP_TLS_ENCRYPT;
    else if (cfg_bool(SMTP_P(P_SMTP_USE_TLS, P_LMTP_USE_TLS)))
        p->level = SMTP_TLS_MAY;
    else
        p->level = SMTP_TLS_NONE;
    p->level_name = xstrdup(*lv ? lv : smtp_tls_level_name(p->level));
    if (warn)
        log_warn("%s_tls_security_level = %s: %s", c->lmtp ? "lmtp" : "smtp", lv, warn);
    smtp_dane_load(c);
    if ((p->level == SMTP_TLS_DANE || p->level == SMTP_TLS_DANE_ONLY) && !c->dnssec)
        log_warn("%s_tls_security_level = %s configured with dnssec lookups disabled "
                 "(%s_dns_support_level = dnssec is required): %s",
                 c->lmtp ? "lmtp" : "smtp", lv, c->lmtp ? "lmtp" : "smtp",
                 p->level == SMTP_TLS_DANE ? "using \"may\"" : "mail will be deferred");
    c->tls_wrapper = cfg_bool(SMTP_P(P_SMTP_TLS_WRAPPERMODE, P_LMTP_TLS_WRAPPERMODE));
    if (c->tls_wrapper && (p->level == SMTP_TLS_NONE || p->level == SMTP_TLS_MAY)) {
        /* No plaintext to fall back to: the connection is TLS or nothing. */
        log_info("%s_tls_wrappermode = yes: TLS is mandatory (level \"encrypt\")",
                 c->lmtp ? "lmtp" : "smtp");
        p->level = SMTP_TLS_ENCRYPT;
    }
    p->match = smtp_tls_level_match(p->level);
    if (p->level == SMTP_TLS_VERIFY || p->level == SMTP_TLS_SECURE)
        p->tafiles = smtp_tls_level_tafiles();
    if (p->level == SMTP_TLS_FINGERPRINT && p->match == NULL)
        log_warn("%s_tls_security_level = fingerprint, but %s names no fingerprints: "
                 "mail will be deferred", c->lmtp ? "lmtp" : "smtp",
                 SMTP_P(P_SMTP_TLS_FINGERPRINT_CERT_MATCH, P_LMTP_TLS_FINGERPRINT_CERT_MATCH));
    const char *sni = cfg_str(SMTP_P(P_SMTP_TLS_SERVERNAME, P_LMTP_TLS_SERVERNAME));
    if (*sni)
        p->servername = xstrdup(sni);
    struct sbuf *why = sbuf_new(64);
    if (smtp_tls_level_defaults(p, why) < 0) {
        log_warn("%s; TLS connections will fail", sbuf_str(why));
        p->config_error = true;
    }
    sbuf_free(why);

    const char *map = SMTP_P(P_SMTP_TLS_POLICY_MAPS, P_LMTP_TLS_POLICY_MAPS);
    const char *site = SMTP_P(P_SMTP_TLS_PER_SITE, P_LMTP_TLS_PER_SITE);
    if (*cfg_str(map)) {
        smtp_tls_policy_table = maps_create(map, cfg_str(map), DICT_F_FOLD);
        if (*cfg_str(site))
            log_warn("%s is ignored when %s is not empty", site, map);
    } else if (*cfg_str(site))
        smtp_tls_site_table = maps_create(site, cfg_str(site), DICT_F_FOLD);
}

bool smtp_tls_policy_active(void)
{
    return smtp_tls_policy_table != NULL || smtp_tls_site_table != NULL;
}

bool smtp_tls_site_active(void)
{
    return smtp_tls_site_table != NULL;
}

/* No per-site answer yet: below every level. */
#define SMTP_TLS_SITE_NOTFOUND (-1)

/* One per-site lookup of name, folded into *level by the table's rules
 * (Postfix's, so that an old table means what it meant): NONE wins over
 * MAY and over no answer, MAY only over no answer, MUST_NOPEERMATCH raises
 * the level to "encrypt" and MUST to "verify". Returns -1 with why filled
 * when the table fails or holds another word. */
static int smtp_tls_site_step(int *level, const char *name, const char *what, struct sbuf *why)
{
    const char *v = maps_find(smtp_tls_site_table, name, 0);
    if (v == NULL) {
        if (maps_error(smtp_tls_site_table) == DICT_ERR_NONE)
            return 0;
        log_warn("%s: %s \"%s\": per-site table lookup error", maps_title(smtp_tls_site_table),
                 what, name);
        sbuf_set(why, "client TLS configuration problem: per-site table lookup error");
        return -1;
    }
    if (strcasecmp(v, "NONE") == 0) {
        if (*level <= SMTP_TLS_MAY)
            *level = SMTP_TLS_NONE;
    } else if (strcasecmp(v, "MAY") == 0) {
        if (*level < SMTP_TLS_NONE)
            *level = SMTP_TLS_MAY;
    } else if (strcasecmp(v, "MUST_NOPEERMATCH") == 0) {
        if (*level < SMTP_TLS_ENCRYPT)
            *level = SMTP_TLS_ENCRYPT;
    } else if (strcasecmp(v, "MUST") == 0) {
        if (*level < SMTP_TLS_VERIFY)
            *level = SMTP_TLS_VERIFY;
    } else {
        log_warn("%s: unknown TLS policy '%.100s' for %s %s", maps_title(smtp_tls_site_table), v,
                 what, name);
        sbuf_set(why, "client TLS configuration problem");
        return -1;
    }
    return 0;
}

/* The per-site level of next hop dest and, unless NULL or the same name,
 * its server host; then, as Postfix does, a MAY (the table's wildcard
 * answer) gives way to a stronger global level, and no answer means the
 * global level. Returns the level, or -1 (why filled). */
static int smtp_tls_site_level(const char *dest, const char *host, struct sbuf *why)
{
    int level = SMTP_TLS_SITE_NOTFOUND;
    if (smtp_tls_site_step(&level, dest, "next-hop destination", why) < 0)
        return -1;
    if (host && strcasecmp(dest, host) != 0
        && smtp_tls_site_step(&level, host, "server hostname", why) < 0)
        return -1;
    int global = (int)smtp_cfg.tls_default.level;
    if (level == SMTP_TLS_SITE_NOTFOUND || (level == SMTP_TLS_MAY && global > SMTP_TLS_MAY))
        level = global;
    return level;
}

static int smtp_tls_policy_parse(const char *key, const char *value, struct smtp_tls_policy *p,
                                 struct sbuf *why);

/* *p: the policy of the main.cf settings at level (what a table entry
 * naming only that level gives). */
static int smtp_tls_site_policy(const char *key, int level, struct smtp_tls_policy *p,
                                struct sbuf *why)
{
    return smtp_tls_policy_parse(key, smtp_tls_level_name((enum smtp_tls_level)level), p, why);
}

int smtp_tls_site_host(const char *dest, const char *host, const struct smtp_tls_policy *base,
                       struct smtp_tls_policy *p, struct sbuf *why)
{
    memset(p, 0, sizeof(*p));
    if (smtp_tls_site_table == NULL || dest == NULL || host == NULL || strcasecmp(dest, host) == 0)
        return 1;
    int level = smtp_tls_site_level(dest, host, why);
    if (level < 0)
        return -1;
    if (level == (int)base->level)
        return 1;
    if (smtp_tls_site_policy(host, level, p, why) < 0) {
        smtp_tls_policy_free(p);
        return -1;
    }
    return 0;
}

/* Splits "a:b:c" into a new NULL-terminated list. */
static char **smtp_tls_colon_list(const char *v)
{
    size_t n = 1;
    for (const char *q = v; *q; q++)
        n += *q == ':';
    char **out = xcalloc(n + 1, sizeof(char *));
    size_t k = 0;
    for (const char *q = v;;) {
        size_t len = strcspn(q, ":");
        if (len > 0)
            out[k++] = xstrndup(q, len);
        if (q[len] == 0)
            break;
        q += len + 1;
    }
    out[k] = NULL;
    return out;
}

/* Appends a copy of v to the NULL-terminated list *list (grown). */
static void smtp_tls_list_add(char ***list, const char *v)
{
    size_t n = 0;
    while (*list && (*list)[n])
        n++;
    *list = xrealloc(*list, (n + 2) * sizeof(char *));
    (*list)[n++] = xstrdup(v);
    (*list)[n] = NULL;
}

int smtp_tls_anchors(const struct smtp_tls_policy *p, const struct tls_client_anchors **out,
                     struct sbuf *why)
{
    int n = 0;
    for (char **f = p->tafiles; f && *f; f++) {
        if (n == SMTP_TA_FILES_MAX) {
            sbuf_printf(why, "more than %d trust anchor files", SMTP_TA_FILES_MAX);
            return -1;
        }
        if ((out[n] = tls_client_anchors_load(*f, why)) == NULL)
            return -1;
        n++;
    }
    return n;
}

/* Fills p from a table value. Returns 0, or -1 with why filled. */
static int smtp_tls_policy_parse(const char *key, const char *value, struct smtp_tls_policy *p,
                                 struct sbuf *why)
{
    char **w = cfg_list(value);
    int rc = -1;
    const char *protocols = NULL, *grade = NULL, *exclude = NULL;
    struct sbuf *match = NULL;      /* the match= values, joined */
    if (w == NULL || w[0] == NULL) {
        sbuf_set(why, "empty TLS policy");
        goto out;
    }
    const char *warn = NULL;
    p->level_name = xstrdup(w[0]);
    p->level = smtp_tls_level_parse(w[0], &warn);
    if (warn)
        log_warn("TLS policy for %s: level \"%s\": %s", key, w[0], warn);
    for (size_t i = 1; w[i]; i++) {
        char *eq = strchr(w[i], '=');
        if (eq == NULL || eq == w[i]) {
            sbuf_printf(why, "malformed attribute \"%s\" (want name=value)", w[i]);
            goto out;
        }
        *eq = 0;
        const char *name = w[i], *val = eq + 1;
        if (strcasecmp(name, "match") == 0) {
            if (*val == 0) {
                sbuf_set(why, "empty match= attribute");
                goto out;
            }
            if (match == NULL)
                match = sbuf_new(64);
            else
                sbuf_cat(match, p->level == SMTP_TLS_FINGERPRINT ? "|" : ":");
            sbuf_cat(match, val);
        } else if (strcasecmp(name, "protocols") == 0)
            protocols = val;
        else if (strcasecmp(name, "ciphers") == 0)
            grade = val;
        else if (strcasecmp(name, "exclude") == 0)
            exclude = val;
        else if (strcasecmp(name, "servername") == 0) {
            xfree(p->servername);
            p->servername = xstrdup(val);
        } else if (strcasecmp(name, "tafile") == 0) {
            /* Trust anchors replace the CAs: meaningful at verify and
             * secure only. Elsewhere Postfix refuses the entry (a weaker
             * check than the entry's author expected); with TLS off
             * there is nothing to weaken. */
            if (p->level == SMTP_TLS_VERIFY || p->level == SMTP_TLS_SECURE) {
                if (*val == 0) {
                    sbuf_set(why, "empty tafile= attribute");
                    goto out;
                }
                smtp_tls_list_add(&p->tafiles, val);
            } else if (p->level == SMTP_TLS_NONE)
                log_warn("TLS policy for %s: ignoring attribute \"tafile\" with TLS disabled",
                         key);
            else if (p->level == SMTP_TLS_DANE || p->level == SMTP_TLS_DANE_ONLY)
                log_warn("TLS policy for %s: ignoring attribute \"tafile\" at level \"%s\" "
                         "(TLSA records are the trust anchors)", key, p->level_name);
            else {
                sbuf_printf(why, "attribute \"tafile\" is invalid at security level \"%s\"",
                            p->level_name);
                goto out;
            }
        } else if (strcasecmp(name, "connection_reuse") == 0) {
            /* tlsproxy and the connection cache (smtp_proto.c) */
            if (strcasecmp(val, "yes") != 0 && strcasecmp(val, "no") != 0) {
                sbuf_printf(why, "invalid connection_reuse value \"%s\"", val);
                goto out;
            }
            p->connection_reuse = strcasecmp(val, "yes") == 0 ? 1 : -1;
        } else if (strcasecmp(name, "enable_rpk") == 0) {
            /* Postern cannot apply these. Ignoring one at "may" or below
             * gives no weaker result than the level promises; at stronger
             * levels it might, so the destination is deferred. */
            if (p->level > SMTP_TLS_MAY) {
                sbuf_printf(why, "attribute \"%s\" is not supported", name);
                goto out;
            }
            log_warn("TLS policy for %s: ignoring unsupported attribute \"%s\"", key, name);
        } else {
            sbuf_printf(why, "unknown attribute \"%s\"", name);
            goto out;
        }
    }
    /* The level's defaults, then the entry's own protocols and ciphers. */
    if (smtp_tls_level_defaults(p, why) < 0)
        goto out;
    if (protocols && smtp_tls_set_protocols(p, protocols, why) < 0)
        goto out;
    if (grade || exclude) {
        bool mand = p->level >= SMTP_TLS_ENCRYPT;
        const char *dflt = cfg_str(mand ? SMTP_P(P_SMTP_TLS_MANDATORY_CIPHERS,
                                                 P_LMTP_TLS_MANDATORY_CIPHERS)
                                        : SMTP_P(P_SMTP_TLS_CIPHERS, P_LMTP_TLS_CIPHERS));
        if (smtp_tls_set_ciphers(p, grade ? grade : dflt, exclude, why) < 0)
            goto out;
    }
    if (p->level == SMTP_TLS_VERIFY || p->level == SMTP_TLS_SECURE) {
        if (match) {
            p->match = smtp_tls_colon_list(sbuf_str(match));
            if (smtp_tls_match_filter(p->match, p->level, key) == 0) {
                sbuf_printf(why, "match=%s names nothing usable", sbuf_str(match));
                goto out;
            }
        } else
            p->match = smtp_tls_level_match(p->level);
        if (p->tafiles == NULL)
            p->tafiles = smtp_tls_level_tafiles();
    } else if (p->level == SMTP_TLS_FINGERPRINT) {
        if (match)
            smtp_tls_fprint_add(&p->match, sbuf_str(match), "|", key);
        else
            p->match = smtp_tls_level_match(p->level);
        if (p->match == NULL) {
            sbuf_set(why, "fingerprint level, but no fingerprints to match");
            goto out;
        }
    } else if (match)
        log_info("TLS policy for %s: match= is not used at level \"%s\"", key, p->level_name);
    /* No servername= in the entry: *_tls_servername. */
    const char *sni = cfg_str(SMTP_P(P_SMTP_TLS_SERVERNAME, P_LMTP_TLS_SERVERNAME));
    if (p->servername == NULL && *sni)
        p->servername = xstrdup(sni);
    rc = 0;
out:
    sbuf_free(match);
    cfg_list_free(w);
    return rc;
}

static int smtp_tls_policy_lookup1(const struct smtp_dest *d, const char *dflt_port,
                                   struct smtp_tls_policy *p, struct sbuf *why)
{
    memset(p, 0, sizeof(*p));
    if (smtp_tls_site_table && d->kind == SMTP_DEST_INET) {
        /* The per-site table: the next hop's name, without brackets or
         * port; its servers' own names come later (smtp_tls_site_host). */
        int level = smtp_tls_site_level(d->host, NULL, why);
        if (level < 0)
            return -1;
        if (level == (int)smtp_cfg.tls_default.level)
            return 1;
        if (smtp_tls_site_policy(d->host, level, p, why) < 0) {
            smtp_tls_policy_free(p);
            return -1;
        }
        return 0;
    }
    if (smtp_tls_policy_table == NULL || d->kind != SMTP_DEST_INET)
        return 1;
    bool with_port = d->port && dflt_port && strcmp(d->port, dflt_port) != 0;
    struct sbuf *key = sbuf_new(128);
    const char *value = NULL;
    /* "[host]" or "domain", then ".parent" domains of a plain domain. */
    bool bracket = d->no_mx && !smtp_cfg.lmtp;
    for (const char *name = d->host; name; ) {
        sbuf_set(key, "");
        if (bracket)
            sbuf_catf(key, "[%s]", name);
        else
            sbuf_cat(key, name);
        if (with_port)
            sbuf_catf(key, ":%s", d->port);
        value = maps_find(smtp_tls_policy_table, sbuf_str(key), 0);
        if (value || maps_error(smtp_tls_policy_table) != DICT_ERR_NONE || bracket)
            break;
        const char *dot = strchr(name + (*name == '.'), '.');
        name = dot && dot[1] ? dot : NULL;
    }
    int rc = 1;
    if (value == NULL && maps_error(smtp_tls_policy_table) != DICT_ERR_NONE) {
        log_warn("%s: table lookup failed for %s", maps_title(smtp_tls_policy_table),
                 sbuf_str(key));
        sbuf_set(why, "client TLS configuration problem");
        rc = -1;
    } else if (value) {
        struct sbuf *err = sbuf_new(128);
        if (smtp_tls_policy_parse(sbuf_str(key), value, p, err) < 0) {
            log_warn("%s: TLS policy for %s: %s", maps_title(smtp_tls_policy_table),
                     sbuf_str(key), sbuf_str(err));
            sbuf_set(why, "client TLS configuration problem");
            smtp_tls_policy_free(p);
            rc = -1;
        } else
            rc = 0;
        sbuf_free(err);
    }
    sbuf_free(key);
    return rc;
}

int smtp_tls_policy_lookup(const struct smtp_dest *d, const char *dflt_port,
                           struct smtp_tls_policy *p, struct sbuf *why)
{
    int rc = smtp_tls_policy_lookup1(d, dflt_port, p, why);
    if (rc < 0)
        return rc;
    /* DANE that cannot apply for configuration reasons: decided here,
     * before any connection is made (per-server DNS checks come later,
     * smtp_dane.c). "dane" without dnssec is "may" (warned at start). */
    const struct smtp_tls_policy *eff = rc == 0 ? p : &smtp_cfg.tls_default;
    bool dane = eff->level == SMTP_TLS_DANE || eff->level == SMTP_TLS_DANE_ONLY;
    const char *problem = NULL;
    struct sbuf *tawhy = sbuf_new(64);
    const struct tls_client_anchors *ta[SMTP_TA_FILES_MAX];
    if (dane && d->kind == SMTP_DEST_UNIX)
        problem = "the dane security levels are invalid for delivery via unix-domain sockets";
    else if (eff->level == SMTP_TLS_DANE_ONLY && !smtp_cfg.dnssec)
        problem = "dane configured with dnssec lookups disabled";
    else if (eff->tafiles && smtp_tls_anchors(eff, ta, tawhy) < 0) {
        /* Never the CA files instead, never plaintext: defer. */
        log_warn("%s", sbuf_str(tawhy));
        problem = sbuf_str(tawhy);
    }
    if (problem == NULL) {
        sbuf_free(tawhy);
        return rc;
    }
    sbuf_printf(why, "client TLS configuration problem: %s", problem);
    sbuf_free(tawhy);
    if (rc == 0)
        smtp_tls_policy_free(p);
    return -1;
}

/* tlsmgr: client sessions shared by all smtp (lmtp) processes. */
static struct tlsmgr_clnt *smtp_tlsmgr;
static struct tls_cache_ops smtp_tls_cache;

const struct tls_cache_ops *smtp_tls_cache_ops(void)
{
    const char *db = SMTP_P(P_SMTP_TLS_SESSION_CACHE_DATABASE, P_LMTP_TLS_SESSION_CACHE_DATABASE);
    const char *tmo = SMTP_P(P_SMTP_TLS_SESSION_CACHE_TIMEOUT, P_LMTP_TLS_SESSION_CACHE_TIMEOUT);
    if (smtp_tlsmgr == NULL)
        smtp_tlsmgr = tlsmgr_clnt_new(smtp_cfg.lmtp ? "lmtp" : "smtp");
    if (*cfg_str(db) == 0 || cfg_time(tmo) <= 0)
        return NULL;
    tlsmgr_clnt_ops(smtp_tlsmgr, true, false, &smtp_tls_cache);
    return &smtp_tls_cache;
}

void smtp_tls_seed(void)
{
    if (smtp_tlsmgr == NULL)
        smtp_tlsmgr = tlsmgr_clnt_new(smtp_cfg.lmtp ? "lmtp" : "smtp");
    tlsmgr_clnt_seed_prng(smtp_tlsmgr);
}
