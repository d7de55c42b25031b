/*
 * tls_param.c - TLS settings from main.cf that servers share
 *
 * Used by: smtpd, tlsproxy.
 * Interface: see tls_param.h.
 * Errors: fatal on a bad value (see tls_param.h).
 * Notes: moved from smtpd_tls.c so that tlsproxy's server role reads its
 *        tlsproxy_tls_* settings the same way.
 */
#include "tls_param.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "sbuf.h"
#include "tls_common.h"
#include <strings.h>

char *tls_param_cipherlist(const char *grade_param, const char *excl1, const char *excl2)
{
    const char *grade = cfg_str(grade_param);
    const char *list_param;
    if (strcasecmp(grade, "high") == 0)
        list_param = P_TLS_HIGH_CIPHERLIST;
    else if (strcasecmp(grade, "medium") == 0)
        list_param = P_TLS_MEDIUM_CIPHERLIST;
    else if (strcasecmp(grade, "low") == 0)
        list_param = P_TLS_LOW_CIPHERLIST;
    else if (strcasecmp(grade, "export") == 0)
        list_param = P_TLS_EXPORT_CIPHERLIST;
    else if (strcasecmp(grade, "null") == 0)
        list_param = P_TLS_NULL_CIPHERLIST;
    else
        log_fatal("invalid %s value: \"%s\" (use high, medium, low, export or null)", grade_param,
                  grade);
    struct sbuf *b = sbuf_new(128);
    sbuf_set(b, cfg_str(list_param));
    const char *excl[] = { excl1, excl2 };
    for (size_t i = 0; i < ARRAY_LEN(excl); i++) {
        if (excl[i] == NULL)
            continue;
        char **names = cfg_list(cfg_str(excl[i]));
        for (char **p = names; p && *p; p++)
            sbuf_catf(b, ":!%s", *p);
        cfg_list_free(names);
    }
    return sbuf_detach(b);
}

unsigned tls_param_protocols(const char *param)
{
    unsigned mask;
    struct sbuf *why = sbuf_new(64);
    if (tls_proto_parse(cfg_str(param), &mask, why) < 0)
        log_fatal("%s: %s", param, sbuf_str(why));
    sbuf_free(why);
    /* Nothing older than TLS 1.2 unless the administrator asked for it. */
    if (!cfg_is_set(param))
        mask &= TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3;
    return mask;
}

const char *tls_param_groups(const char *grade_param)
{
    const char *grade = cfg_str(grade_param);
    if (strcasecmp(grade, "strong") == 0)
        return cfg_str(P_TLS_EECDH_STRONG_CURVE);
    if (strcasecmp(grade, "ultra") == 0)
        return cfg_str(P_TLS_EECDH_ULTRA_CURVE);
    return cfg_str(P_TLS_EECDH_AUTO_CURVES);
}

enum tls_param_level tls_param_server_level(const char *level_param, const char *enforce_param,
                                            const char *use_param)
{
    const char *lv = cfg_str(level_param);
    if (*lv == 0) {
        if (cfg_bool(enforce_param))
            return TLS_PARAM_ENCRYPT;
        return cfg_bool(use_param) ? TLS_PARAM_MAY : TLS_PARAM_NONE;
    }
    if (strcasecmp(lv, "none") == 0)
        return TLS_PARAM_NONE;
    if (strcasecmp(lv, "may") == 0)
        return TLS_PARAM_MAY;
    if (strcasecmp(lv, "encrypt") == 0)
        return TLS_PARAM_ENCRYPT;
    log_fatal("invalid %s value: \"%s\" (use none, may or encrypt)", level_param, lv);
}

uint64_t tls_param_ssl_options(void)
{
    struct sbuf *bad = sbuf_new(32);
    uint64_t bits = tls_ssl_options_parse(cfg_str(P_TLS_SSL_OPTIONS), bad);

    if (sbuf_len(bad))
        log_warn("%s: ignoring unknown option(s): %s", P_TLS_SSL_OPTIONS, sbuf_str(bad));
    sbuf_free(bad);
    return bits;
}
