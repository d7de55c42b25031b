/*
 * tls_sni.h - tls_server_sni_maps for the TLS servers (smtpd, tlsproxy)
 *
 * Used by: smtpd/smtpd_tls.c, tlsproxy/tlsproxy.c.
 * Interface: tls_sni_init(), tls_sni_log().
 * Errors: a table that cannot be opened is logged by maps_create() and then
 *         fails every lookup, so a client that sends a name gets an alert,
 *         not a certificate meant for another name.
 * Notes: the tables are opened before the chroot and privilege drop, with
 *        DICT_F_RHS_FILE: texthash: and inline: read the PEM files their
 *        values name right then; hash: and btree: hold the content already
 *        (postmap -F). Every answer is base64 of PEM text (dict_file.h).
 */
#ifndef POSTERN_TLS_SNI_H
#define POSTERN_TLS_SNI_H
#include "sys_compat.h"
#include "tls_server.h"

/* Opens tls_server_sni_maps (the process's value, -o included) and fills
 * ops; false when the parameter is empty (SNI names are then ignored). */
bool tls_sni_init(struct tls_sni_ops *ops);
/* Logs what a handshake made of the client's SNI name, as Postfix words
 * it: a name that is not a host name, or one the tables do not know. */
void tls_sni_log(const struct tls_server_info *info, const char *peer);

#endif
