/*
 * smtp_sasl.c - SASL login of the smtp/lmtp client (AUTH, RFC 4954)
 *
 * Used by: smtp.c (smtp_sasl_load at start, smtp_sasl_dest_key per next
 *          hop), smtp_proto.c (smtp_sasl_login after EHLO and STARTTLS).
 * Interface: smtp_sasl_load(), smtp_sasl_enabled(), smtp_sasl_dest_key(),
 *            smtp_sasl_passwd_find(), smtp_sasl_login().
 * Errors: a failed login fills a Postfix-shaped reason ("SASL
 *         authentication failed; server H[A] said: 535 ...") with DSN 4.7.0
 *         (5.7.0 for a 5xx reply when *_sasl_auth_soft_bounce = no); a
 *         mechanism the security options forbid, or a password table that
 *         fails, defers too. A server without AUTH, or one for which no
 *         password is found, gets the mail without a login, as in Postfix.
 * Notes: parameters are the smtp_* or lmtp_* names by mode. Password table
 *        keys, first match wins: with *_sender_dependent_authentication
 *        the sender address and then its @domain; then the
 *        server's host name; then the next hop as written, "[host]:port"
 *        (smtp_sasl_dest_key rebuilds it: brackets when MX lookup is off,
 *        the port when it is not the default). The value is
 *        "username:password". Security options: *_sasl_security_options in
 *        plaintext, *_sasl_tls_security_options under TLS, and
 *        *_sasl_tls_verified_security_options when the certificate was
 *        verified. *_sasl_mechanism_filter narrows the server's offer
 *        (names, "!name" to exclude; first match decides). Only the Cyrus
 *        implementation exists; *_sasl_path is not used by it (as Postfix).
 */
#include "smtp.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include "sasl_client.h"
#include "sasl_server.h"

static struct {
    bool enabled;
    bool lmtp;
    char *type_error;           /* reason to defer: bad *_sasl_type / options */
    struct maps *passwd;
    bool sender_dep;
    int sec_plain, sec_tls, sec_verified;
    char **filter;
    bool soft_bounce;
} smtp_sasl;

#define SASL_P(smtp_name, lmtp_name) (smtp_sasl.lmtp ? (lmtp_name) : (smtp_name))

bool smtp_sasl_enabled(void)
{
    return smtp_sasl.enabled;
}

static int smtp_sasl_sec(const char *param, bool *bad)
{
    int v = sasl_srv_security_parse(param, cfg_str(param));
    if (v < 0) {
        *bad = true;
        return 0;
    }
    return v;
}

void smtp_sasl_load(bool lmtp)
{
    smtp_sasl.lmtp = lmtp;
    smtp_sasl.enabled = cfg_bool(SASL_P(P_SMTP_SASL_AUTH_ENABLE, P_LMTP_SASL_AUTH_ENABLE));
    if (!smtp_sasl.enabled)
        return;
    const char *tp = SASL_P(P_SMTP_SASL_TYPE, P_LMTP_SASL_TYPE);
    struct sbuf *why = sbuf_new(128);
    bool bad = false;
    smtp_sasl.sec_plain =
        smtp_sasl_sec(SASL_P(P_SMTP_SASL_SECURITY_OPTIONS, P_LMTP_SASL_SECURITY_OPTIONS), &bad);
    smtp_sasl.sec_tls = smtp_sasl_sec(
        SASL_P(P_SMTP_SASL_TLS_SECURITY_OPTIONS, P_LMTP_SASL_TLS_SECURITY_OPTIONS), &bad);
    smtp_sasl.sec_verified =
        smtp_sasl_sec(SASL_P(P_SMTP_SASL_TLS_VERIFIED_SECURITY_OPTIONS,
                             P_LMTP_SASL_TLS_VERIFIED_SECURITY_OPTIONS),
                      &bad);
    if (strcasecmp(cfg_str(tp), "cyrus") != 0)
        sbuf_printf(why, "SASL authentication failed: %s = %s is not supported (only cyrus)", tp,
                    cfg_str(tp));
    else if (bad)
        sbuf_printf(why, "SASL authentication failed: bad SASL security options (see the log)");
    else if (sasl_clt_init("cyrus") < 0)
        sbuf_printf(why, "SASL authentication failed: SASL library initialization failed");
    if (sbuf_len(why)) {
        log_warn("%s; mail will be deferred", sbuf_str(why));
        smtp_sasl.type_error = sbuf_detach(why);
    } else
        sbuf_free(why);
    const char *pm = SASL_P(P_SMTP_SASL_PASSWORD_MAPS, P_LMTP_SASL_PASSWORD_MAPS);
    if (*cfg_str(pm))
        smtp_sasl.passwd = maps_create(pm, cfg_str(pm), DICT_F_FOLD);
    else
        log_warn("%s = yes, but %s is empty: no server will be logged in to",
                 SASL_P(P_SMTP_SASL_AUTH_ENABLE, P_LMTP_SASL_AUTH_ENABLE), pm);
    smtp_sasl.sender_dep = cfg_bool(
        SASL_P(P_SMTP_SENDER_DEPENDENT_AUTHENTICATION, P_LMTP_SENDER_DEPENDENT_AUTHENTICATION));
    smtp_sasl.filter =
        cfg_list(cfg_str(SASL_P(P_SMTP_SASL_MECHANISM_FILTER, P_LMTP_SASL_MECHANISM_FILTER)));
    smtp_sasl.soft_bounce =
        cfg_bool(SASL_P(P_SMTP_SASL_AUTH_SOFT_BOUNCE, P_LMTP_SASL_AUTH_SOFT_BOUNCE));
}

char *smtp_sasl_dest_key(const struct smtp_dest *d, bool lmtp, const char *dflt_port)
{
    struct sbuf *b = sbuf_new(64);
    if (d->kind == SMTP_DEST_UNIX)
        sbuf_printf(b, "unix:%s", d->host);
    else if (d->no_mx && !lmtp)
        sbuf_printf(b, "[%s]", d->host);
    else
        sbuf_cat(b, d->host);
    if (d->port && (dflt_port == NULL || strcmp(d->port, dflt_port) != 0))
        sbuf_catf(b, ":%s", d->port);
    return sbuf_detach(b);
}

const char *smtp_sasl_passwd_find(struct maps *m, bool sender_dep, const char *sender,
                                  const char *host, const char *dest, int *error)
{
    const char *v = NULL;
    *error = 0;
    if (sender_dep && sender && *sender) {
        v = maps_find_addr(m, sender, NULL, 0, NULL);
        if (v || (*error = maps_error(m)) != 0)
            return v;
    }
    const char *keys[2] = {host, dest};
    for (int i = 0; i < 2; i++) {
        if (keys[i] == NULL || *keys[i] == 0)
            continue;
        v = maps_find(m, keys[i], 0);
        if (v || (*error = maps_error(m)) != 0)
            return v;
    }
    return NULL;
}

/* The server's offer narrowed by the mechanism filter, into out. */
static void smtp_sasl_filter(const char *offer, struct sbuf *out)
{
    sbuf_reset(out);
    char **v = cfg_list(offer);
    for (size_t i = 0; v && v[i]; i++) {
        bool keep = smtp_sasl.filter == NULL || smtp_sasl.filter[0] == NULL;
        for (char **f = smtp_sasl.filter; !keep && f && *f; f++) {
            bool neg = **f == '!';
            if (strcasecmp(*f + neg, v[i]) == 0) {
                keep = !neg;
                break;
            }
        }
        if (keep) {
            if (sbuf_len(out))
                sbuf_addch(out, ' ');
            sbuf_cat(out, v[i]);
        }
    }
    cfg_list_free(v);
}

enum smtp_sasl_result smtp_sasl_login(const struct smtp_sasl_io *io, const struct smtp_sasl_peer *p,
                                      struct sbuf *dsn, struct sbuf *why)
{
    if (!smtp_sasl.enabled)
        return SMTP_SASL_NONE;
    if (smtp_sasl.type_error) {
        sbuf_set(dsn, "4.7.0");
        sbuf_set(why, smtp_sasl.type_error);
        return SMTP_SASL_FAIL;
    }
    if (p->mechs == NULL || *p->mechs == 0 || smtp_sasl.passwd == NULL)
        return SMTP_SASL_NONE;
    int err = 0;
    const char *value = smtp_sasl_passwd_find(smtp_sasl.passwd, smtp_sasl.sender_dep, p->sender,
                                              p->host, p->dest, &err);
    if (value == NULL && err) {
        sbuf_set(dsn, "4.7.0");
        sbuf_printf(why, "SASL authentication failed: unable to look up password for server %s",
                    p->peer);
        return SMTP_SASL_FAIL;
    }
    if (value == NULL) {
        log_debug(1, "no SASL password for %s (host %s, next hop %s): no login", p->peer, p->host,
                  p->dest ? p->dest : "");
        return SMTP_SASL_NONE;
    }
    size_t value_len = strlen(value);
    char *user = xstrdup(value);
    char *pass = strchr(user, ':');
    if (pass)
        *pass++ = 0;
    struct sbuf *mechs = sbuf_new(64), *b64 = sbuf_new(256), *cmd = sbuf_new(256);
    enum smtp_sasl_result res = SMTP_SASL_FAIL;
    struct sasl_clt *c = NULL;
    smtp_sasl_filter(p->mechs, mechs);
    if (sbuf_len(mechs) == 0) {
        log_warn("%s offered no supported AUTH mechanisms: '%s'", p->peer, p->mechs);
        res = SMTP_SASL_NONE;
        goto out;
    }
    struct sasl_clt_args a = {
        .service = "smtp",
        .server_name = p->host,
        .username = user,
        .password = pass ? pass : "",
        .security = p->tls_verified ? smtp_sasl.sec_verified
                    : p->tls        ? smtp_sasl.sec_tls
                                    : smtp_sasl.sec_plain,
    };
    struct sbuf *r = sbuf_new(128);
    c = sasl_clt_new(&a, r);
    const char *mech = NULL;
    bool has_init = false;
    if (c == NULL || sasl_clt_start(c, sbuf_str(mechs), &mech, b64, &has_init, r) < 0) {
        sbuf_set(dsn, "4.7.0");
        sbuf_printf(why, "SASL authentication failed; cannot authenticate to server %s: %s",
                    p->peer, sbuf_str(r));
        sbuf_free(r);
        goto out;
    }
    sbuf_free(r);
    log_debug(1, "%s: AUTH %s as %s", p->peer, mech, user);
    sbuf_printf(cmd, "AUTH %s%s%s", mech, has_init ? " " : "", sbuf_str(b64));
    for (int rounds = 0;; rounds++) {
        int code = io->command(io->ctx, sbuf_str(cmd));
        explicit_bzero(sbuf_data(cmd), sbuf_len(cmd));
        if (code < 0) {
            res = SMTP_SASL_IO;
            goto out;
        }
        if (code == 235) {
            res = SMTP_SASL_DONE;
            goto out;
        }
        if (code != 334 || rounds > 20) {
            bool hard = code / 100 == 5 && !smtp_sasl.soft_bounce;
            sbuf_set(dsn, hard ? "5.7.0" : "4.7.0");
            sbuf_printf(why, "SASL authentication failed; server %s said: %s", p->peer,
                        io->reply(io->ctx));
            res = SMTP_SASL_REFUSED;
            goto out;
        }
        struct sbuf *e = sbuf_new(128);
        if (sasl_clt_step(c, io->first_text(io->ctx), b64, e) < 0) {
            /* Tell the server we give up, as RFC 4954 allows. */
            io->command(io->ctx, "*");
            sbuf_set(dsn, "4.7.0");
            sbuf_printf(why, "SASL authentication failed; cannot authenticate to server %s: %s",
                        p->peer, sbuf_str(e));
            sbuf_free(e);
            goto out;
        }
        sbuf_free(e);
        sbuf_set(cmd, sbuf_str(b64));
    }
out:
    sasl_clt_free(c);
    explicit_bzero(user, value_len);
    xfree(user);
    sbuf_free(mechs);
    sbuf_free(b64);
    sbuf_free(cmd);
    return res;
}
