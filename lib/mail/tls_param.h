/*
 * tls_param.h - TLS settings from main.cf that servers share: cipher
 *               grades, protocol lists, key-exchange groups
 *
 * Used by: smtpd (smtpd_tls_*), tlsproxy (tlsproxy_tls_*), postscreen
 *          (postscreen_tls_security_level).
 * Interface: tls_param_cipherlist(), tls_param_protocols(), tls_param_groups(),
 *            tls_param_server_level(), tls_param_ssl_options().
 * Errors: a bad value is fatal (log_fatal names the parameter): a server
 *         must not start with TLS settings it cannot honour. The one
 *         exception is an unknown name in tls_ssl_options, which is warned
 *         about and left out, as Postfix does (those options only add).
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

/* A server's STARTTLS level: none, may (offered) or encrypt (required). */
enum tls_param_level { TLS_PARAM_NONE, TLS_PARAM_MAY, TLS_PARAM_ENCRYPT };
/* The level in level_param; when that is empty, the obsolete booleans:
 * enforce_param = yes means encrypt, use_param = yes means may. Any other
 * value is fatal. */
enum tls_param_level tls_param_server_level(const char *level_param, const char *enforce_param,
                                            const char *use_param);

/* The SSL_OP_* bits of tls_ssl_options, for servers and clients alike;
 * unknown words are warned about (tls_ssl_options_parse()). */
uint64_t tls_param_ssl_options(void);

#endif
