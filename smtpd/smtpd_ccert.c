/*
 * smtpd_ccert.c - restrictions on the TLS client certificate:
 *                 permit_tls_clientcerts, permit_tls_all_clientcerts and
 *                 check_ccert_access
 *
 * Used by: smtpd_check.c (the restriction table, start-up).
 * Interface: smtpd_ccert_init(), smtpd_ccert_preopen(), smtpd_ccert_permit(),
 *            smtpd_ccert_permit_all(), smtpd_ccert_access().
 * Errors: a failed relay_clientcerts lookup answers "451 4.3.0 <subject>:
 *         Temporary lookup failure" with the subject of the list being
 *         evaluated (the recipient at RCPT time); a failed check_ccert_access
 *         lookup answers the same with the certificate's CommonName as the
 *         subject. Both are logged. The braced argument of Postfix 3.5
 *         ("check_ccert_access { type:table, { search_order = ... } }") is
 *         not supported: it is warned about at start-up and answered
 *         "451 4.3.5 Server configuration error" when reached.
 * Notes: what smtpd_tls.c recorded at the handshake is used: whether a
 *        certificate was presented, whether it verified against
 *        smtpd_tls_CAfile/CApath, and its two fingerprints
 *        (smtpd_tls_fingerprint_digest over the whole certificate and over
 *        its DER SubjectPublicKeyInfo; upper-case hex bytes joined by
 *        colons, as Postfix prints them). Without TLS or without a
 *        certificate every one of these is DUNNO; with TLS on but no
 *        certificate asked for (smtpd_tls_ask_ccert = no) that is warned
 *        about, as Postfix does.
 *          permit_tls_all_clientcerts: OK for a verified certificate; like
 *            Postfix it then also looks the fingerprints up in
 *            relay_clientcerts, so an unverified but listed one passes.
 *          permit_tls_clientcerts: OK when the certificate fingerprint or
 *            the public-key fingerprint is a key of relay_clientcerts; the
 *            value is not used, and the certificate need not verify (the
 *            fingerprint itself names it).
 *          check_ccert_access type:table: the certificate fingerprint,
 *            then the public-key fingerprint (when the first answer was
 *            DUNNO or nothing), as keys of an access(5) table whose actions
 *            smtpd_access.c carries out; the reply subject is the CN
 *            ("554 5.7.1 <CN>: Client certificate rejected: ..."). No
 *            verification is required (only Postfix 2.2 required it).
 *        Fixed-string tables fold the key to lower case, as every access
 *        table does, so "AB:CD:..." as an administrator copies it from the
 *        log matches whatever case the table holds it in.
 */
#include "smtpd_check.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "log.h"
#include "maps.h"
#include "params.h"

static struct {
    struct maps *relay; /* relay_clientcerts, NULL when empty */
    bool ask_ccert;     /* smtpd_tls_ask_ccert (or _req_ccert) */
} smtpd_ccert;

void smtpd_ccert_init(void)
{
    smtpd_ccert.ask_ccert = cfg_bool(P_SMTPD_TLS_ASK_CCERT) || cfg_bool(P_SMTPD_TLS_REQ_CCERT);
    const char *relay = cfg_str(P_RELAY_CLIENTCERTS);
    if (*relay && smtpd_ccert.relay == NULL)
        smtpd_ccert.relay = maps_create(P_RELAY_CLIENTCERTS, relay, DICT_F_FOLD);
}

/* "{ type:table, ... }": Postfix 3.5's form with a search order. */
static bool smtpd_ccert_braced(const char *arg)
{
    return arg[0] == '{';
}

static void smtpd_ccert_braced_warn(const char *arg)
{
    log_warn("check_ccert_access: the \"{ type:table, { search_order = ... } }\" form is not "
             "supported by Postern; use \"check_ccert_access type:table\": %.200s",
             arg);
}

void smtpd_ccert_preopen(const char *arg)
{
    if (smtpd_ccert_braced(arg))
        smtpd_ccert_braced_warn(arg);
    else
        (void)smtpd_access_table(arg);
}

/* True when the session has a client certificate to look at; warns (as
 * Postfix does) when TLS is on but no certificate was asked for. */
static bool smtpd_ccert_have(struct smtpd_check_ctx *c, const char *restriction)
{
    const struct smtpd_state *st = c->st;
    if (!st->tls_active)
        return false;
    if (st->tls_ccert_present)
        return true;
    if (!smtpd_ccert.ask_ccert)
        log_warn("%s is requested, but \"%s = no\"", restriction, P_SMTPD_TLS_ASK_CCERT);
    return false;
}

/* The fingerprints in lookup order; an empty one (digest failure) is
 * skipped by the callers. */
static void smtpd_ccert_keys(const struct smtpd_state *st, const char *keys[2])
{
    keys[0] = st->tls_ccert_fingerprint;
    keys[1] = st->tls_ccert_pubkey_fingerprint;
}

int smtpd_ccert_relay_listed(const struct smtpd_state *st)
{
    if (smtpd_ccert.relay == NULL || !st->tls_active || !st->tls_ccert_present)
        return 0;
    const char *keys[2];
    smtpd_ccert_keys(st, keys);
    for (size_t i = 0; i < 2; i++) {
        if (*keys[i] == 0)
            continue;
        if (maps_find(smtpd_ccert.relay, keys[i], 0) != NULL) {
            log_debug(1, "%s: certificate %s is in %s", st->namaddr, keys[i],
                      P_RELAY_CLIENTCERTS);
            return 1;
        }
        if (maps_error(smtpd_ccert.relay) != DICT_ERR_NONE) {
            log_warn("%s: lookup error for fingerprint %s, pkey fingerprint %s (client %s)",
                     P_RELAY_CLIENTCERTS, keys[0], keys[1], st->namaddr);
            return -1;
        }
    }
    log_debug(1, "%s: no match for fingerprint %s, pkey fingerprint %s", P_RELAY_CLIENTCERTS,
              keys[0], keys[1]);
    return 0;
}

/* permit_tls_clientcerts, and the second half of permit_tls_all_clientcerts. */
static enum smtpd_verdict smtpd_ccert_listed(struct smtpd_check_ctx *c)
{
    int r = smtpd_ccert_relay_listed(c->st);
    if (r > 0)
        return SMTPD_PERMIT;
    if (r < 0) {
        c->warn_only = false;
        return smtpd_reject(c, c->stage, 451, "4.3.0", NULL, "Temporary lookup failure");
    }
    return SMTPD_DUNNO;
}

enum smtpd_verdict smtpd_ccert_permit(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (!smtpd_ccert_have(c, "permit_tls_clientcerts"))
        return SMTPD_DUNNO;
    return smtpd_ccert_listed(c);
}

enum smtpd_verdict smtpd_ccert_permit_all(struct smtpd_check_ctx *c, const char *arg)
{
    (void)arg;
    if (!smtpd_ccert_have(c, "permit_tls_all_clientcerts"))
        return SMTPD_DUNNO;
    if (c->st->tls_ccert_trusted)
        return SMTPD_PERMIT;
    return smtpd_ccert_listed(c);
}

enum smtpd_verdict smtpd_ccert_access(struct smtpd_check_ctx *c, const char *arg)
{
    if (smtpd_ccert_braced(arg)) {
        smtpd_ccert_braced_warn(arg);
        return smtpd_config_error(c);
    }
    if (!smtpd_ccert_have(c, "check_ccert_access"))
        return SMTPD_DUNNO;
    const struct smtpd_state *st = c->st;
    struct maps *m = smtpd_access_table(arg);
    const char *keys[2];
    smtpd_ccert_keys(st, keys);
    enum smtpd_verdict v = SMTPD_DUNNO;
    for (size_t i = 0; i < 2 && v == SMTPD_DUNNO; i++) {
        if (*keys[i] == 0)
            continue;
        const char *val = maps_find(m, keys[i], 0);
        if (val == NULL) {
            if (maps_error(m) == DICT_ERR_NONE)
                continue;
            log_warn("%s: ccert lookup error for \"%s\"", arg, st->namaddr);
            c->warn_only = false;
            return smtpd_reject(c, SMTPD_STAGE_CCERT, 451, "4.3.0", NULL,
                                "Temporary lookup failure");
        }
        /* The value is borrowed until the next lookup: copy it. */
        char *copy = xstrdup(val);
        v = smtpd_access_action(c, SMTPD_STAGE_CCERT, copy, arg);
        xfree(copy);
    }
    return v;
}
