/*
 * tls_sni.c - tls_server_sni_maps for the TLS servers (smtpd, tlsproxy)
 *
 * Used by: see tls_sni.h.
 * Interface: see tls_sni.h.
 * Errors: see tls_sni.h.
 */
#include "tls_sni.h"
#include "config.h"
#include "dict_file.h"
#include "log.h"
#include "maps.h"
#include "params.h"

static struct maps *tls_sni_maps;

/* tls_sni_ops.find: one key of the name-then-parents sequence. */
static int tls_sni_find(void *arg, const char *key, struct sbuf *pem)
{
    struct maps *m = arg;
    const char *v = maps_find(m, key, 0);
    if (v == NULL) {
        if (maps_error(m) == DICT_ERR_NONE)
            return 0;
        log_warn("%s: %s map lookup problem", maps_title(m), key);
        return -1;
    }
    if (dict_file_from_b64(v, pem) < 0) {
        log_warn("%s: the value for %s is not base64-encoded PEM data (was the table built "
                 "with \"postmap -F\"?)", maps_title(m), key);
        return -1;
    }
    return 1;
}

/* tls_sni_ops.unusable: say which name's keys did not load, and why. */
static void tls_sni_unusable(void *arg, const char *name, const char *why)
{
    log_warn("%s: cannot use the keys and certificates for TLS SNI %s: %s",
             maps_title((struct maps *)arg), name, why);
}

bool tls_sni_init(struct tls_sni_ops *ops)
{
    const char *value = cfg_str(P_TLS_SERVER_SNI_MAPS);
    if (value == NULL || *value == 0)
        return false;
    if (tls_sni_maps == NULL)
        tls_sni_maps = maps_create(P_TLS_SERVER_SNI_MAPS, value, DICT_F_FOLD | DICT_F_RHS_FILE);
    ops->find = tls_sni_find;
    ops->unusable = tls_sni_unusable;
    ops->arg = tls_sni_maps;
    return true;
}

void tls_sni_log(const struct tls_server_info *info, const char *peer)
{
    if (info->sni_status == TLS_SNI_INVALID)
        log_warn("TLS SNI from %s is invalid: %s", peer, info->sni);
    else if (info->sni_status == TLS_SNI_UNMATCHED)
        log_info("TLS SNI %s from %s not matched, using default chain", info->sni, peer);
}
