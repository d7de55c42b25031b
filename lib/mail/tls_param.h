/*
 * tls_param.h - TLS settings from main.cf that servers share: cipher
 *               grades, protocol lists, key-exchange groups
 *
 * Used by: smtpd (smtpd_tls_*), tlsproxy (tlsproxy_tls_*).
 * Interface: tls_param_cipherlist(), tls_param_protocols(), tls_param_groups().
 * Errors: a bad value is fatal (log_fatal names the parameter): a server
 *         must not start with TLS settings it cannot honour.
 */
#ifndef POSTERN_TLS_PARAM_H
#define POSTERN_TLS_PARAM_H
#include "sys_compat.h"

/* The OpenSSL cipher list of the Postfix grade in grade_param (high,
 * medium, low, export, null: tls_<grade>_cipherlist), with the names in
 * the exclusion parameters excl1 and excl2 (either may be NULL) removed.
 * Returns new. */
char *tls_param_cipherlist(const char *grade_param, const char *excl1, const char *excl2);
/* The TLS_PROTO_* mask of the protocol list in param; nothing older than
 * TLS 1.2 unless the parameter is set explicitly. */
unsigned tls_param_protocols(const char *param);
/* The key-exchange groups for the eecdh grade in grade_param (borrowed). */
const char *tls_param_groups(const char *grade_param);

#endif
