/*
 * sasl_priv.h - what the SASL server back ends share with sasl_server.c
 *
 * Used by: sasl_server.c, sasl_cyrus.c, sasl_dovecot.c only.
 * Interface: struct sasl_srv_backend (one per smtpd_sasl_type) and the
 *            common part of struct sasl_srv.
 * Notes: callers outside these files see struct sasl_srv as opaque.
 */
#ifndef POSTERN_SASL_PRIV_H
#define POSTERN_SASL_PRIV_H
#include "sasl_server.h"

struct sasl_srv_backend {
    const char *name;
    int (*init)(const char *path, const char *config_path);
    /* Fills the backend's part of s and the offered list; -1 on failure. */
    int (*create)(struct sasl_srv *s, const struct sasl_srv_args *args);
    enum sasl_srv_status (*start)(struct sasl_srv *s, const char *mech,
                                     const char *init_b64, struct sbuf *reply);
    enum sasl_srv_status (*step)(struct sasl_srv *s, const char *resp_b64,
                                    struct sbuf *reply);
    void (*destroy)(struct sasl_srv *s);
    const char *nomech_text;    /* reason for an unknown mechanism */
};

struct sasl_srv {
    const struct sasl_srv_backend *be;
    void *priv;                 /* the back end's own state */
    struct sbuf *mechs;         /* offered mechanisms */
    char *method;               /* current or last mechanism */
    char *username;             /* set by the back end */
};

extern const struct sasl_srv_backend sasl_cyrus_backend;
extern const struct sasl_srv_backend sasl_dovecot_backend;

#endif
