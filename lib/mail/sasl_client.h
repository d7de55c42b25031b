/*
 * sasl_client.h - client side of SASL authentication (RFC 4422) for smtp/lmtp
 *
 * Used by: smtp (smtp_sasl.c).
 * Interface: sasl_clt_init(), sasl_clt_new(), sasl_clt_start(),
 *            sasl_clt_step(), sasl_clt_free().
 * Errors: set-up problems are logged and reported as -1/NULL; an exchange
 *         that cannot go on returns -1 with the library's reason in why.
 * Notes: the Cyrus SASL library's client API (sasl_client.c; with
 *        sasl_cyrus.c the only files that include <sasl/sasl.h>). Data
 *        crosses this interface in base64, as on the SMTP wire. The user
 *        name and password are given per connection; no authorization id
 *        is sent. No security layer is negotiated (max_ssf 0). Security
 *        options use the SASL_SRV_SEC_* words of sasl_server.h. The prefix
 *        is sasl_clt_ because the Cyrus library owns sasl_client_*.
 */
#ifndef POSTERN_SASL_CLT_H
#define POSTERN_SASL_CLT_H
#include "sys_compat.h"
#include "sbuf.h"

/* Per-process set-up, while still privileged (plugins are loaded here).
 * type must be "cyrus". Returns 0, or -1 (logged). */
int sasl_clt_init(const char *type);

struct sasl_clt_args {
    const char *service;        /* "smtp" */
    const char *server_name;    /* the server's host name */
    const char *username, *password;
    int security;               /* SASL_SRV_SEC_* */
};

struct sasl_clt;

/* A client for one login. Returns new, or NULL with why filled. */
struct sasl_clt *sasl_clt_new(const struct sasl_clt_args *args, struct sbuf *why);
/* Picks a mechanism from mechs (blank-separated, the server's offer after
 * filtering) allowed by the security options. *mech gets its name
 * (borrowed); init_b64 the initial response in base64, or stays empty with
 * *has_init false when the mechanism sends none first. Returns 0, or -1
 * with why filled ("no mechanism available" and the like). */
int sasl_clt_start(struct sasl_clt *c, const char *mechs, const char **mech, struct sbuf *init_b64,
                   bool *has_init, struct sbuf *why);
/* Answers the server's base64 challenge: resp_b64 gets the response
 * (maybe empty). Returns 0, or -1 with why filled. */
int sasl_clt_step(struct sasl_clt *c, const char *challenge_b64, struct sbuf *resp_b64,
                  struct sbuf *why);
void sasl_clt_free(struct sasl_clt *c);

#endif
