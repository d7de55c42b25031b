/*
 * smtpd_access.c - access maps: check_*_access lookups and their actions
 *
 * Used by: smtpd_check.c (check_client_access, check_reverse_client_
 *          hostname_access, check_helo_access, check_sender_access,
 *          check_recipient_access, check_sasl_access, check_etrn_access),
 *          smtpd_policy.c (policy server replies use the same actions),
 *          smtpd_dnsaccess.c (check_*_{a,mx,ns}_access: the same lookups
 *          and actions for a domain's servers), smtpd_ccert.c
 *          (check_ccert_access: the table and the actions).
 * Interface: smtpd_access_check(), smtpd_access_action(),
 *            smtpd_access_table(), smtpd_access_cleanup(); for
 *            smtpd_dnsaccess.c (the _a_, _mx_ and _ns_ variants):
 *            smtpd_access_find_host(), smtpd_access_find_addr(),
 *            smtpd_access_lookup_failed(), smtpd_access_reverse_name().
 * Errors: a failed table lookup answers 451 4.3.0 "Temporary lookup
 *         failure"; a malformed action is logged and answered 451 4.3.5.
 * Notes: lookup order, first answer wins (fixed-string tables see every
 *        key, pattern tables only the whole name or address):
 *          client:  hostname, its parent domains, address, its subnets
 *                   (1.2.3, 1.2, 1 / IPv6 without trailing groups);
 *          helo:    name, parent domains;
 *          sender, recipient: user@domain (with and without the address
 *                   extension), domain, parent domains, user@;
 *          sasl:    the login name; etrn: the domain;
 *          ccert:   (smtpd_ccert.c) the certificate fingerprint, then the
 *                   public-key fingerprint.
 *        Parent domains are tried as "example.com" when smtpd_access_maps
 *        is in parent_domain_matches_subdomains, else as ".example.com".
 *        Actions: OK, DUNNO, REJECT, DEFER, DEFER_IF_REJECT,
 *        DEFER_IF_PERMIT, 4NN/5NN text, all-numerical (OK), HOLD, DISCARD,
 *        FILTER, REDIRECT, PREPEND, BCC, WARN, INFO, or a restriction list
 *        / class name.
 */
#include "smtpd_check.h"
#include "alloc.h"
#include "cleanup_proto.h"
#include "config.h"
#include "dict.h"
#include "dns_lookup.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include <ctype.h>
#include <strings.h>

#define SMTPD_ACCESS_TABLES_MAX 64

static struct {
    char *name;
    struct maps *maps;
} smtpd_access_tables[SMTPD_ACCESS_TABLES_MAX];
static size_t smtpd_access_ntables;
static int smtpd_access_parent = -1;

struct maps *smtpd_access_table(const char *table)
{
    for (size_t i = 0; i < smtpd_access_ntables; i++)
        if (strcmp(smtpd_access_tables[i].name, table) == 0)
            return smtpd_access_tables[i].maps;
    if (smtpd_access_ntables >= SMTPD_ACCESS_TABLES_MAX)
        log_fatal("too many access tables (limit %d)", SMTPD_ACCESS_TABLES_MAX);
    struct maps *m = maps_create("smtpd_access_maps", table, DICT_F_FOLD);
    smtpd_access_tables[smtpd_access_ntables].name = xstrdup(table);
    smtpd_access_tables[smtpd_access_ntables++].maps = m;
    return m;
}

void smtpd_access_cleanup(void)
{
    for (size_t i = 0; i < smtpd_access_ntables; i++) {
        maps_free(smtpd_access_tables[i].maps);
        xfree(smtpd_access_tables[i].name);
    }
    smtpd_access_ntables = 0;
}

static bool smtpd_access_parent_match(void)
{
    if (smtpd_access_parent < 0) {
        smtpd_access_parent = cfg_parent_matches("smtpd_access_maps") ? 1 : 0;
    }
    return smtpd_access_parent == 1;
}

/* One lookup: 1 found (*val set), 0 not found, -1 table failure. */
static int smtpd_access_find(struct maps *m, const char *key, int flags, const char **val)
{
    *val = maps_find(m, key, flags);
    if (*val)
        return 1;
    return maps_error(m) != DICT_ERR_NONE ? -1 : 0;
}

/* Host or domain name and its parents. */
static int smtpd_access_domain(struct maps *m, const char *name, bool whole, const char **val)
{
    struct sbuf *k = sbuf_new(64);
    int r = 0;
    bool parent = smtpd_access_parent_match();
    for (const char *d = name; d && *d && r == 0; d = strchr(d, '.') ? strchr(d, '.') + 1 : NULL) {
        if (d == name) {
            r = smtpd_access_find(m, d, whole ? 0 : DICT_F_FIXED, val);
            continue;
        }
        if (parent)
            r = smtpd_access_find(m, d, DICT_F_FIXED, val);
        else {
            sbuf_printf(k, ".%s", d);
            r = smtpd_access_find(m, sbuf_str(k), DICT_F_FIXED, val);
        }
    }
    sbuf_free(k);
    return r;
}

/* Numeric address, then its shorter network prefixes. */
static int smtpd_access_addr(struct maps *m, const char *addr, const char **val)
{
    int r = smtpd_access_find(m, addr, 0, val);
    if (r != 0)
        return r;
    char buf[80];
    strlcpy(buf, addr, sizeof(buf));
    char sep = strchr(buf, ':') ? ':' : '.';
    char *p;
    while (r == 0 && (p = strrchr(buf, sep)) != NULL) {
        *p = 0;
        if (sep == ':' && (p == buf || p[-1] == ':'))
            break;
        r = smtpd_access_find(m, buf, DICT_F_FIXED, val);
    }
    return r;
}

/* user@domain, domain, parents, user@. */
static int smtpd_access_mail(struct maps *m, const char *addr, const char **val)
{
    if (*addr == 0) {
        const char *key = cfg_str(P_SMTPD_NULL_ACCESS_LOOKUP_KEY);
        return smtpd_access_find(m, key, 0, val);
    }
    int r = smtpd_access_find(m, addr, 0, val);
    if (r != 0)
        return r;
    const char *at = strrchr(addr, '@');
    struct sbuf *k = sbuf_new(64);
    /* Without the address extension. */
    const char *delims = smtpd_cfg.rcpt_delim;
    if (at && delims && *delims) {
        size_t n = strcspn(addr + 1, delims) + 1;
        if (addr + n < at) {
            sbuf_append(k, addr, n);
            sbuf_cat(k, at);
            r = smtpd_access_find(m, sbuf_str(k), DICT_F_FIXED, val);
        }
    }
    if (r == 0 && at && at[1])
        r = smtpd_access_domain(m, at + 1, false, val);
    if (r == 0 && at) {
        sbuf_reset(k);
        sbuf_append(k, addr, (size_t)(at - addr) + 1);
        r = smtpd_access_find(m, sbuf_str(k), DICT_F_FIXED, val);
    }
    sbuf_free(k);
    return r;
}

bool smtpd_access_reverse_name(struct smtpd_state *st, struct sbuf *out)
{
    if (strcmp(st->name, "unknown") != 0) {
        sbuf_set(out, st->name);
        return true;
    }
    if (dns_ptr_name(st->addr, out) == DNS_OK && sbuf_len(out) > 0)
        return true;
    sbuf_reset(out);
    return false;
}

enum smtpd_verdict smtpd_access_lookup_failed(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                              const char *table, const char *kind)
{
    log_warn("%s: %s lookup error for \"%s\"", table, kind, c->st->namaddr);
    c->warn_only = false;
    return smtpd_reject(c, subj, 451, "4.3.0", NULL, "Temporary lookup failure");
}

int smtpd_access_find_host(const char *table, const char *name, const char **val)
{
    return smtpd_access_domain(smtpd_access_table(table), name, true, val);
}

int smtpd_access_find_addr(const char *table, const char *addr, const char **val)
{
    return smtpd_access_addr(smtpd_access_table(table), addr, val);
}

enum smtpd_verdict smtpd_access_check(struct smtpd_check_ctx *c, const char *kind,
                                      const char *table)
{
    struct maps *m = smtpd_access_table(table);
    if (kind == NULL)
        return SMTPD_DUNNO;             /* start-up: open only */
    struct smtpd_state *st = c->st;
    const char *val = NULL;
    int r = 0;
    enum smtpd_stage subj = c->stage;
    struct sbuf *rev = NULL;

    if (strcmp(kind, "client") == 0) {
        subj = SMTPD_STAGE_CLIENT;
        if (strcmp(st->name, "unknown") != 0)
            r = smtpd_access_domain(m, st->name, true, &val);
        if (r == 0)
            r = smtpd_access_addr(m, st->addr, &val);
    } else if (strcmp(kind, "reverse_client") == 0) {
        subj = SMTPD_STAGE_REV_CLIENT;
        rev = sbuf_new(64);
        if (smtpd_access_reverse_name(st, rev))
            r = smtpd_access_domain(m, sbuf_str(rev), true, &val);
        if (r == 0)
            r = smtpd_access_addr(m, st->addr, &val);
    } else if (strcmp(kind, "helo") == 0) {
        subj = SMTPD_STAGE_HELO;
        if (st->helo_name == NULL)
            return SMTPD_DUNNO;
        r = smtpd_access_domain(m, st->helo_name, true, &val);
    } else if (strcmp(kind, "sender") == 0) {
        subj = SMTPD_STAGE_SENDER;
        if (st->sender == NULL)
            return SMTPD_DUNNO;
        r = smtpd_access_mail(m, st->sender, &val);
    } else if (strcmp(kind, "recipient") == 0) {
        subj = SMTPD_STAGE_RCPT;
        if (c->rcpt == NULL)
            return SMTPD_DUNNO;
        r = smtpd_access_mail(m, c->rcpt, &val);
    } else if (strcmp(kind, "sasl") == 0) {
        subj = SMTPD_STAGE_CLIENT;
        if (st->sasl_username == NULL || *st->sasl_username == 0)
            return SMTPD_DUNNO;
        r = smtpd_access_find(m, st->sasl_username, 0, &val);
    } else if (strcmp(kind, "etrn") == 0) {
        subj = SMTPD_STAGE_ETRN;
        if (c->etrn_domain == NULL)
            return SMTPD_DUNNO;
        r = smtpd_access_domain(m, c->etrn_domain, true, &val);
    }
    sbuf_free(rev);
    if (r < 0)
        return smtpd_access_lookup_failed(c, subj, table, kind);
    if (r == 0)
        return SMTPD_DUNNO;
    /* The value is borrowed until the next lookup: copy it. */
    char *v = xstrdup(val);
    enum smtpd_verdict res = smtpd_access_action(c, subj, v, table);
    xfree(v);
    return res;
}

/* "4.7.1 text" -> dsn and the rest. */
static const char *smtpd_access_dsn(const char *text, char *dsn, size_t size)
{
    const char *p = text;
    if ((p[0] == '4' || p[0] == '5') && p[1] == '.' && isdigit((unsigned char)p[2])) {
        size_t n = strspn(p, "0123456789.");
        if (n < size && (p[n] == ' ' || p[n] == 0)) {
            memcpy(dsn, p, n);
            dsn[n] = 0;
            p += n;
            while (*p == ' ' || *p == '\t')
                p++;
            return p;
        }
    }
    return NULL;
}

static enum smtpd_verdict smtpd_access_config_error(struct smtpd_check_ctx *c, const char *origin,
                                                    const char *value, const char *why)
{
    log_warn("access table %s: %s: \"%.100s\"", origin, why, value);
    c->warn_only = false;
    sbuf_set(c->reply, "451 4.3.5 Server configuration error");
    c->code = 451;
    return SMTPD_REJECT;
}

/* "<subject>: Class TEXT" for the action log lines. */
static void smtpd_access_whatsup(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                 const char *kind, const char *text)
{
    struct sbuf *s = sbuf_new(64), *t = sbuf_new(128);
    smtpd_stage_subject(c, subj, s);
    sbuf_printf(t, "<%s>: %s %s", sbuf_str(s), smtpd_stage_what(subj), text);
    smtpd_check_log(c, kind, sbuf_str(t));
    sbuf_free(s);
    sbuf_free(t);
}

enum smtpd_verdict smtpd_access_action(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                       const char *value, const char *origin)
{
    while (isspace((unsigned char)*value))
        value++;
    size_t n = strcspn(value, " \t");
    const char *text = value + n;
    while (*text == ' ' || *text == '\t')
        text++;
    char cmd[32];
    if (n >= sizeof(cmd))
        n = sizeof(cmd) - 1;
    memcpy(cmd, value, n);
    cmd[n] = 0;
    struct smtpd_check_state *cs = smtpd_check_state(c->st);
    const char *what = smtpd_stage_what(subj);
    struct sbuf *t = sbuf_new(64);
    enum smtpd_verdict v = SMTPD_DUNNO;

    if (strcasecmp(cmd, "OK") == 0 || strcasecmp(cmd, "RELAY") == 0) {
        v = SMTPD_PERMIT;
        smtpd_permit_log(c, subj, cmd, origin);
    } else if (strcasecmp(cmd, "DUNNO") == 0) {
        v = SMTPD_DUNNO;
    } else if (strcasecmp(cmd, "REJECT") == 0 || strcasecmp(cmd, "DEFER") == 0) {
        bool rej = toupper((unsigned char)cmd[0]) == 'R';
        char dsn[16];
        strlcpy(dsn, rej ? "5.7.1" : "4.7.1", sizeof(dsn));
        const char *rest = smtpd_access_dsn(text, dsn, sizeof(dsn));
        if (rest)
            text = rest;
        v = smtpd_reject(c, subj, rej ? cfg_int(P_ACCESS_MAP_REJECT_CODE)
                                      : cfg_int(P_ACCESS_MAP_DEFER_CODE),
                         dsn, what, *text ? text : "Access denied");
    } else if (strcasecmp(cmd, "DEFER_IF_REJECT") == 0 || strcasecmp(cmd, "DEFER_IF_PERMIT") == 0) {
        char dsn[16] = "4.7.1";
        const char *rest = smtpd_access_dsn(text, dsn, sizeof(dsn));
        if (rest)
            text = rest;
        smtpd_delay(c, strcasecmp(cmd, "DEFER_IF_PERMIT") == 0, smtpd_cfg.defer_code, dsn, subj,
                    *text ? text : "Service unavailable");
    } else if (n == 3 && (cmd[0] == '4' || cmd[0] == '5') && isdigit((unsigned char)cmd[1])
               && isdigit((unsigned char)cmd[2])) {
        int code = (cmd[0] - '0') * 100 + (cmd[1] - '0') * 10 + (cmd[2] - '0');
        char dsn[16];
        snprintf(dsn, sizeof(dsn), "%c.7.1", cmd[0]);
        const char *rest = smtpd_access_dsn(text, dsn, sizeof(dsn));
        if (rest)
            text = rest;
        if (dsn[0] != cmd[0])
            dsn[0] = cmd[0];
        v = smtpd_reject(c, subj, code, dsn, what, *text ? text : "Access denied");
    } else if (*value && value[strspn(value, "0123456789")] == 0) {
        /* All-numerical (a time stamp left by pop-before-smtp and the
         * like): OK, as access(5) says. */
        v = SMTPD_PERMIT;
        smtpd_permit_log(c, subj, cmd, origin);
    } else if (strcasecmp(cmd, "HOLD") == 0) {
        cs->saved_flags |= CLEANUP_FLAG_HOLD;
        smtpd_access_whatsup(c, subj, "hold", *text ? text : "triggers HOLD action");
    } else if (strcasecmp(cmd, "DISCARD") == 0) {
        cs->saved_flags |= CLEANUP_FLAG_DISCARD;
        smtpd_access_whatsup(c, subj, "discard", *text ? text : "triggers DISCARD action");
        v = SMTPD_PERMIT;
        smtpd_permit_log(c, subj, cmd, origin);
    } else if (strcasecmp(cmd, "FILTER") == 0) {
        if (strchr(text, ':') == NULL || text[0] == ':')
            v = smtpd_access_config_error(c, origin, value, "FILTER needs transport:destination");
        else {
            xfree(cs->filter);
            cs->filter = xstrdup(text);
            sbuf_printf(t, "triggers FILTER %s", text);
            smtpd_access_whatsup(c, subj, "filter", sbuf_str(t));
        }
    } else if (strcasecmp(cmd, "REDIRECT") == 0) {
        if (*text == 0 || strchr(text, ' '))
            v = smtpd_access_config_error(c, origin, value, "REDIRECT needs one address");
        else {
            xfree(cs->redirect);
            cs->redirect = xstrdup(text);
            sbuf_printf(t, "triggers REDIRECT %s", text);
            smtpd_access_whatsup(c, subj, "redirect", sbuf_str(t));
        }
    } else if (strcasecmp(cmd, "BCC") == 0) {
        if (*text == 0 || strchr(text, ' '))
            v = smtpd_access_config_error(c, origin, value, "BCC needs one address");
        else {
            cs->bcc = xrealloc(cs->bcc, (cs->nbcc + 1) * sizeof(*cs->bcc));
            cs->bcc[cs->nbcc++] = xstrdup(text);
            sbuf_printf(t, "triggers BCC %s", text);
            smtpd_access_whatsup(c, subj, "bcc", sbuf_str(t));
        }
    } else if (strcasecmp(cmd, "PREPEND") == 0) {
        size_t name = strcspn(text, ": \t");
        if (name == 0 || text[name] != ':' || sbuf_len(cs->prepend) > 16384)
            v = smtpd_access_config_error(c, origin, value, "PREPEND needs a header line");
        else {
            sbuf_cat(cs->prepend, text);
            sbuf_addch(cs->prepend, '\n');
        }
    } else if (strcasecmp(cmd, "WARN") == 0 || strcasecmp(cmd, "INFO") == 0) {
        smtpd_access_whatsup(c, subj, toupper((unsigned char)cmd[0]) == 'W' ? "warn" : "info",
                             text);
    } else {
        /* A restriction class or a list of restrictions. */
        char **list = cfg_list(value);
        if (list[0] == NULL)
            v = smtpd_access_config_error(c, origin, value, "empty action");
        else
            v = smtpd_check_sublist(c, list);
        cfg_list_free(list);
    }
    sbuf_free(t);
    return v;
}
