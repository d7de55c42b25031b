/*
 * smtpd_xclient.c - XCLIENT and XFORWARD for trusted proxies and content
 *                   filters, and ETRN (fast flush of a site's mail)
 *
 * Used by: smtpd_cmd.c (the commands and EHLO), smtpd.c (cleanup
 *          attributes, transaction reset), smtpd_data.c (Received:).
 * Interface: smtpd_xclient_cmd(), smtpd_xforward_cmd(), smtpd_etrn_cmd(),
 *            smtpd_xclient_ehlo(), smtpd_xforward_ehlo(),
 *            smtpd_xforward_cleanup(), smtpd_fwd_helo(), smtpd_fwd_name(),
 *            smtpd_fwd_rfc_addr(), smtpd_xforward_reset(),
 *            smtpd_xclient_session_end().
 * Errors: Postfix's replies: "550 5.7.0 Error: insufficient authorization"
 *         for a host outside smtpd_authorized_xclient_hosts /
 *         smtpd_authorized_xforward_hosts, "501 5.5.4 Bad NAME syntax: ..."
 *         for a bad value, "503 5.5.1 Error: MAIL transaction in progress".
 * Notes: who may use XCLIENT and XFORWARD is decided by the address of the
 *        real (TCP) client, so an XCLIENT that changes the client identity
 *        does not change that. XCLIENT replaces the client name, address,
 *        port, protocol, HELO name and login, forgets the HELO/EHLO state
 *        and greets again with 220. XFORWARD attributes last until the end
 *        of the mail transaction; they become the log_* attributes that
 *        cleanup stores and the "from" part of our Received: header.
 */
#include "smtpd.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "flush_clnt.h"
#include "log.h"
#include "mynetworks.h"
#include "qfile.h"
#include <arpa/inet.h>
#include <ctype.h>
#include <strings.h>

#define SMTPD_XATTR_MAX 255         /* longest attribute value */

struct smtpd_xforward {
    int xclient_ok, xforward_ok;    /* -1 not known yet, 0, 1 */
    bool any;                       /* some attribute is set this transaction */
    char *name, *addr, *rfc_addr, *port, *proto, *helo, *ident, *source;
};

static struct mynetworks *smtpd_xclient_hosts, *smtpd_xforward_hosts;

static struct smtpd_xforward *smtpd_xf(struct smtpd_state *st)
{
    if (st->xforward == NULL) {
        st->xforward = xcalloc(1, sizeof(*st->xforward));
        st->xforward->xclient_ok = st->xforward->xforward_ok = -1;
    }
    return st->xforward;
}

static void smtpd_xf_clear(struct smtpd_xforward *x)
{
    char **fields[] = { &x->name, &x->addr, &x->rfc_addr, &x->port, &x->proto,
                        &x->helo, &x->ident, &x->source };
    for (size_t i = 0; i < ARRAY_LEN(fields); i++) {
        xfree(*fields[i]);
        *fields[i] = NULL;
    }
    x->any = false;
}

void smtpd_xforward_reset(struct smtpd_state *st)
{
    if (st->xforward)
        smtpd_xf_clear(st->xforward);
}

void smtpd_xclient_session_end(struct smtpd_state *st)
{
    if (st->xforward == NULL)
        return;
    smtpd_xf_clear(st->xforward);
    xfree(st->xforward);
    st->xforward = NULL;
}

/* Authorization, decided once per session from the real client. */
static bool smtpd_x_allowed(struct smtpd_state *st, bool xclient)
{
    struct smtpd_xforward *x = smtpd_xf(st);
    int *cache = xclient ? &x->xclient_ok : &x->xforward_ok;
    struct mynetworks **list = xclient ? &smtpd_xclient_hosts : &smtpd_xforward_hosts;
    if (*list == NULL) {
        const char *param = xclient ? P_SMTPD_AUTHORIZED_XCLIENT_HOSTS
                                    : P_SMTPD_AUTHORIZED_XFORWARD_HOSTS;
        *list = mynetworks_new(param, cfg_str(param), false);
    }
    return smtpd_client_listed(st, *list, cache);
}

const char *smtpd_xclient_ehlo(struct smtpd_state *st)
{
    return smtpd_x_allowed(st, true)
               ? "XCLIENT NAME ADDR PROTO HELO REVERSE_NAME PORT LOGIN DESTADDR DESTPORT"
               : NULL;
}

const char *smtpd_xforward_ehlo(struct smtpd_state *st)
{
    return smtpd_x_allowed(st, false) ? "XFORWARD NAME ADDR PROTO HELO SOURCE PORT IDENT" : NULL;
}

/* ---- attribute syntax ---------------------------------------------------- */

static bool smtpd_x_unavailable(const char *v)
{
    return strcasecmp(v, "[UNAVAILABLE]") == 0 || strcasecmp(v, "[TEMPUNAVAIL]") == 0;
}

static bool smtpd_x_hostname(const char *v)
{
    size_t n = strlen(v);
    if (n == 0 || n > SMTPD_XATTR_MAX)
        return false;
    for (const char *p = v; *p; p++)
        if (!isalnum((unsigned char)*p) && *p != '-' && *p != '.' && *p != '_')
            return false;
    return true;
}

/* Numeric address, with "IPv6:" for IPv6. Fills addr and rfc_addr. */
static bool smtpd_x_address(const char *v, char **addr, char **rfc_addr)
{
    unsigned char buf[16];
    if (strncasecmp(v, "IPv6:", 5) == 0) {
        if (inet_pton(AF_INET6, v + 5, buf) != 1)
            return false;
        char txt[INET6_ADDRSTRLEN];
        inet_ntop(AF_INET6, buf, txt, sizeof(txt));
        *addr = xstrdup(txt);
        struct sbuf *b = sbuf_new(64);
        sbuf_printf(b, "IPv6:%s", txt);
        *rfc_addr = sbuf_detach(b);
        return true;
    }
    if (inet_pton(AF_INET, v, buf) != 1)
        return false;
    *addr = xstrdup(v);
    *rfc_addr = xstrdup(v);
    return true;
}

static bool smtpd_x_port(const char *v)
{
    size_t n = strspn(v, "0123456789");
    return n > 0 && n <= 5 && v[n] == 0 && strtol(v, NULL, 10) <= 65535;
}

/* Splits "NAME=value" and decodes the xtext value into val. Returns the
 * upper-cased name in name (caller's buffer) or replies with an error. */
static bool smtpd_x_split(struct smtpd_state *st, const char *word, char *name, size_t nlen,
                          struct sbuf *val)
{
    const char *eq = strchr(word, '=');
    if (eq == NULL || eq == word) {
        smtpd_reply(st, "501 5.5.4 Error: attribute=value expected");
        return false;
    }
    size_t k = (size_t)(eq - word);
    if (k >= nlen)
        k = nlen - 1;
    for (size_t i = 0; i < k; i++)
        name[i] = (char)toupper((unsigned char)word[i]);
    name[k] = 0;
    if (strlen(eq + 1) > 3 * SMTPD_XATTR_MAX || smtpd_xtext_decode(val, eq + 1) < 0
        || sbuf_len(val) > SMTPD_XATTR_MAX || memchr(sbuf_str(val), 0, sbuf_len(val))) {
        smtpd_reply(st, "501 5.5.4 Error: attribute value too long");
        return false;
    }
    /* xtext can carry CR and LF: they must not reach headers or logs */
    log_printable(sbuf_data(val));
    return true;
}

/* Common start: authorization, transaction, syntax. */
static bool smtpd_x_precheck(struct smtpd_state *st, const char *verb, bool xclient,
                             const char *args)
{
    if (*args == 0) {
        smtpd_reply(st, "501 5.5.4 Syntax: %s attribute=value...", verb);
        return false;
    }
    if (st->sender) {
        smtpd_reply(st, "503 5.5.1 Error: MAIL transaction in progress");
        return false;
    }
    if (!smtpd_x_allowed(st, xclient)) {
        smtpd_reply(st, "550 5.7.0 Error: insufficient authorization");
        return false;
    }
    return true;
}

/* Next blank-separated word of *p (new string) or NULL. */
static char *smtpd_x_word(const char **p)
{
    const char *s = *p;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == 0) {
        *p = s;
        return NULL;
    }
    size_t n = strcspn(s, " \t");
    *p = s + n;
    return xstrndup(s, n);
}

/* ---- XCLIENT ------------------------------------------------------------- */

struct smtpd_xclient_new {
    char *name, *addr, *rfc_addr, *port, *helo, *login;
    const char *proto;
    bool got_name, got_addr, got_port, got_helo, got_proto, got_login;
};

static void smtpd_xclient_new_free(struct smtpd_xclient_new *n)
{
    xfree(n->name);
    xfree(n->addr);
    xfree(n->rfc_addr);
    xfree(n->port);
    xfree(n->helo);
    xfree(n->login);
}

enum smtpd_cmd_result smtpd_xclient_cmd(struct smtpd_state *st, const char *args)
{
    if (!smtpd_x_precheck(st, "XCLIENT", true, args))
        return SMTPD_R_ERR;
    struct smtpd_xclient_new n;
    memset(&n, 0, sizeof(n));
    struct sbuf *val = sbuf_new(64);
    const char *p = args;
    char *w;
    bool ok = true;
    while (ok && (w = smtpd_x_word(&p)) != NULL) {
        char name[32];
        ok = smtpd_x_split(st, w, name, sizeof(name), val);
        const char *v = sbuf_str(val);
        bool unavail = ok && smtpd_x_unavailable(v);
        if (!ok) {
            /* already answered */
        } else if (strcmp(name, "NAME") == 0) {
            if (!unavail && !smtpd_x_hostname(v))
                ok = false;
            else {
                xfree(n.name);
                n.name = xstrdup(unavail ? "unknown" : v);
                n.got_name = true;
            }
        } else if (strcmp(name, "ADDR") == 0) {
            xfree(n.addr);
            xfree(n.rfc_addr);
            n.addr = n.rfc_addr = NULL;
            if (unavail) {
                n.addr = xstrdup("unknown");
                n.rfc_addr = xstrdup("unknown");
            } else if (!smtpd_x_address(v, &n.addr, &n.rfc_addr))
                ok = false;
            n.got_addr = ok;
        } else if (strcmp(name, "PORT") == 0) {
            if (!unavail && !smtpd_x_port(v))
                ok = false;
            else {
                xfree(n.port);
                n.port = xstrdup(unavail ? "0" : v);
                n.got_port = true;
            }
        } else if (strcmp(name, "PROTO") == 0) {
            if (strcasecmp(v, "SMTP") == 0)
                n.proto = "SMTP";
            else if (strcasecmp(v, "ESMTP") == 0)
                n.proto = "ESMTP";
            else if (!unavail)
                ok = false;
            n.got_proto = ok;
        } else if (strcmp(name, "HELO") == 0) {
            if (!unavail && (sbuf_len(val) == 0 || strpbrk(v, " \t<>") != NULL))
                ok = false;
            else {
                xfree(n.helo);
                n.helo = unavail ? NULL : xstrdup(v);
                n.got_helo = true;
            }
        } else if (strcmp(name, "LOGIN") == 0) {
            xfree(n.login);
            n.login = unavail || sbuf_len(val) == 0 ? NULL : xstrdup(v);
            n.got_login = true;
        } else if (strcmp(name, "REVERSE_NAME") == 0 || strcmp(name, "DESTADDR") == 0
                   || strcmp(name, "DESTPORT") == 0) {
            /* Accepted; Postern keeps no separate field for these. */
        } else {
            smtpd_reply(st, "501 5.5.4 Bad XCLIENT attribute name: %s", name);
            xfree(w);
            sbuf_free(val);
            smtpd_xclient_new_free(&n);
            return SMTPD_R_ERR;
        }
        if (!ok && strchr(w, '=') && sbuf_len(val) <= SMTPD_XATTR_MAX)
            smtpd_reply(st, "501 5.5.4 Bad %s syntax: %s", name, v);
        xfree(w);
    }
    sbuf_free(val);
    if (!ok) {
        smtpd_xclient_new_free(&n);
        return SMTPD_R_ERR;
    }

    /* Make it so: a new client identity and a fresh session. */
    smtpd_reset_transaction(st);
    if (n.got_name)
        strlcpy(st->name, n.name, sizeof(st->name));
    if (n.got_addr) {
        strlcpy(st->addr, n.addr, sizeof(st->addr));
        strlcpy(st->rfc_addr, n.rfc_addr, sizeof(st->rfc_addr));
    }
    if (n.got_port)
        st->port = (int)strtol(n.port, NULL, 10);
    smtpd_peer_namaddr(st);
    st->in_mynetworks = -1;
    xfree(st->helo_name);
    st->helo_name = n.got_helo && n.helo ? xstrdup(n.helo) : NULL;
    st->ehlo = false;
    st->protocol = n.got_proto ? n.proto : NULL;
    if (n.got_login) {
        xfree(st->sasl_username);
        xfree(st->sasl_method);
        st->sasl_username = n.login ? xstrdup(n.login) : NULL;
        st->sasl_method = n.login ? xstrdup("XCLIENT") : NULL;
    }
    xfree(st->client_reject);
    st->client_reject = NULL;
    if (!smtpd_cfg.delay_reject) {
        struct sbuf *r = sbuf_new(128);
        if (smtpd_check_client(st, r) != 0)
            st->client_reject = xstrdup(sbuf_str(r));
        sbuf_free(r);
    }
    smtpd_xclient_new_free(&n);
    log_debug(1, "XCLIENT: client is now %s", st->namaddr);
    smtpd_reply(st, "220 %s", smtpd_cfg.banner);
    return SMTPD_R_OK;
}

/* ---- XFORWARD ------------------------------------------------------------ */

enum smtpd_cmd_result smtpd_xforward_cmd(struct smtpd_state *st, const char *args)
{
    if (!smtpd_x_precheck(st, "XFORWARD", false, args))
        return SMTPD_R_ERR;
    struct smtpd_xforward *x = smtpd_xf(st);
    struct sbuf *val = sbuf_new(64);
    const char *p = args;
    char *w;
    while ((w = smtpd_x_word(&p)) != NULL) {
        char name[32];
        if (!smtpd_x_split(st, w, name, sizeof(name), val)) {
            xfree(w);
            sbuf_free(val);
            return SMTPD_R_ERR;
        }
        xfree(w);
        const char *v = sbuf_str(val);
        bool unavail = smtpd_x_unavailable(v);
        bool ok = true;
        char **slot = NULL;
        if (strcmp(name, "NAME") == 0) {
            ok = unavail || smtpd_x_hostname(v);
            slot = &x->name;
        } else if (strcmp(name, "ADDR") == 0) {
            xfree(x->addr);
            xfree(x->rfc_addr);
            x->addr = x->rfc_addr = NULL;
            if (!unavail)
                ok = smtpd_x_address(v, &x->addr, &x->rfc_addr);
        } else if (strcmp(name, "PORT") == 0) {
            ok = unavail || smtpd_x_port(v);
            slot = &x->port;
        } else if (strcmp(name, "PROTO") == 0) {
            ok = unavail || (sbuf_len(val) > 0 && strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                                          "abcdefghijklmnopqrstuvwxyz0123456789")
                                                       == sbuf_len(val));
            slot = &x->proto;
        } else if (strcmp(name, "HELO") == 0) {
            ok = unavail || (sbuf_len(val) > 0 && strpbrk(v, " \t<>") == NULL);
            slot = &x->helo;
        } else if (strcmp(name, "IDENT") == 0) {
            slot = &x->ident;
        } else if (strcmp(name, "SOURCE") == 0) {
            ok = unavail || strcasecmp(v, "LOCAL") == 0 || strcasecmp(v, "REMOTE") == 0;
            slot = &x->source;
        } else {
            smtpd_reply(st, "501 5.5.4 Bad XFORWARD attribute name: %s", name);
            sbuf_free(val);
            return SMTPD_R_ERR;
        }
        if (!ok) {
            smtpd_reply(st, "501 5.5.4 Bad %s syntax: %s", name, v);
            sbuf_free(val);
            return SMTPD_R_ERR;
        }
        if (slot) {
            xfree(*slot);
            *slot = unavail ? NULL : xstrdup(v);
        }
        x->any = true;
    }
    sbuf_free(val);
    smtpd_reply(st, "250 2.0.0 Ok");
    return SMTPD_R_OK;
}

bool smtpd_xforward_cleanup(struct smtpd_state *st, struct cleanup_clnt *c)
{
    struct smtpd_xforward *x = st->xforward;
    if (x == NULL || !x->any)
        return false;
    bool local = x->source && strcasecmp(x->source, "LOCAL") == 0;
    cleanup_recs(c, REC_ATTR, local ? "rewrite_context=local" : "rewrite_context=remote");
    cleanup_recf(c, REC_ATTR, "log_client_name=%s", x->name ? x->name : "unknown");
    cleanup_recf(c, REC_ATTR, "log_client_address=%s", x->addr ? x->addr : "unknown");
    if (x->port)
        cleanup_recf(c, REC_ATTR, "log_client_port=%s", x->port);
    if (x->helo)
        cleanup_recf(c, REC_ATTR, "log_helo_name=%s", x->helo);
    cleanup_recf(c, REC_ATTR, "log_protocol=%s",
                 x->proto ? x->proto : st->protocol ? st->protocol : "SMTP");
    if (x->ident)
        cleanup_recf(c, REC_ATTR, "log_ident=%s", x->ident);
    log_info("%s: client=%s, orig_client=%s[%s]", smtpd_queue_id(st), st->namaddr,
             x->name ? x->name : "unknown", x->addr ? x->addr : "unknown");
    return true;
}

const char *smtpd_fwd_helo(const struct smtpd_state *st)
{
    const struct smtpd_xforward *x = st->xforward;
    if (x && x->any)
        return x->helo ? x->helo : x->name ? x->name : "unknown";
    return st->helo_name ? st->helo_name : st->name;
}

const char *smtpd_fwd_name(const struct smtpd_state *st)
{
    const struct smtpd_xforward *x = st->xforward;
    if (x && x->any)
        return x->name ? x->name : "unknown";
    return st->name;
}

const char *smtpd_fwd_rfc_addr(const struct smtpd_state *st)
{
    const struct smtpd_xforward *x = st->xforward;
    if (x && x->any)
        return x->rfc_addr ? x->rfc_addr : "unknown";
    return st->rfc_addr;
}

/* ---- ETRN ---------------------------------------------------------------- */

enum smtpd_cmd_result smtpd_etrn_cmd(struct smtpd_state *st, const char *site)
{
    if (!smtpd_x_hostname(site) || !isalnum((unsigned char)site[0])) {
        log_warn("bad ETRN %.100s... from %s", site, st->namaddr);
        smtpd_reply(st, "501 Error: invalid parameter syntax");
        return SMTPD_R_ERR;
    }
    switch (flush_send_site(site)) {
    case FLUSH_STAT_OK:
        smtpd_reply(st, "250 Queuing started");
        return SMTPD_R_OK;
    case FLUSH_STAT_DENY:
        smtpd_reply(st, "459 <%s>: service unavailable", site);
        return SMTPD_R_ERR;
    default:
        smtpd_reply(st, "458 Unable to queue messages");
        return SMTPD_R_ERR;
    }
}
