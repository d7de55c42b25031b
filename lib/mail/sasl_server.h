/*
 * sasl_server.h - server side of SASL authentication (RFC 4422) for smtpd
 *
 * Used by: smtpd (smtpd_sasl.c).
 * Interface: sasl_srv_init(), sasl_srv_new(), sasl_srv_mechs(),
 *            sasl_srv_restrict(), sasl_srv_start(), sasl_srv_step(),
 *            sasl_srv_username(), sasl_srv_method(), sasl_srv_free(),
 *            sasl_srv_security_parse(), sasl_srv_b64_valid().
 * Errors: set-up problems are logged and reported as -1/NULL; an
 *         authentication exchange ends in SASL_SRV_FAIL or _TEMP with a
 *         human-readable reason in the caller's buffer.
 * Notes: two back ends, chosen by smtpd_sasl_type: "cyrus" (sasl_cyrus.c,
 *        the Cyrus SASL library; with sasl_client.c the only includer of sasl.h)
 *        and "dovecot" (sasl_dovecot.c, Dovecot's authentication protocol
 *        over the socket named by smtpd_sasl_path). Challenges and
 *        responses cross this interface in base64, exactly as they appear
 *        on the SMTP wire; "=" stands for an empty initial response. The
 *        prefix is sasl_srv_ because the Cyrus library owns sasl_server_*.
 */
#ifndef POSTERN_SASL_SRV_H
#define POSTERN_SASL_SRV_H
#include "sys_compat.h"
#include "sbuf.h"

/* smtpd_sasl_security_options words. */
#define SASL_SRV_SEC_NOPLAINTEXT 0x01
#define SASL_SRV_SEC_NOACTIVE 0x02
#define SASL_SRV_SEC_NODICTIONARY 0x04
#define SASL_SRV_SEC_NOANONYMOUS 0x08
#define SASL_SRV_SEC_FORWARD_SECRECY 0x10
#define SASL_SRV_SEC_MUTUAL_AUTH 0x20

/* Outcome of one step of an exchange. */
enum sasl_srv_status {
    SASL_SRV_DONE,           /* authenticated */
    SASL_SRV_MORE,           /* reply holds the next challenge (base64) */
    SASL_SRV_FAIL,           /* reply holds the reason */
    SASL_SRV_TEMP,           /* temporary failure; reply holds the reason */
};

/* Upper bound on a decoded response we accept from a client. */
#define SASL_SRV_MAX_RESPONSE 65536

/* Per-process set-up, while still privileged (before chroot): type is
 * "cyrus" or "dovecot"; path is smtpd_sasl_path (Cyrus: the application
 * name whose NAME.conf is read; Dovecot: the socket); config_path is
 * cyrus_sasl_config_path (may be ""). Returns 0, or -1 (logged). */
int sasl_srv_init(const char *type, const char *path, const char *config_path);

struct sasl_srv_args {
    const char *service;        /* smtpd_sasl_service ("smtp") */
    const char *server_fqdn;    /* myhostname */
    const char *realm;          /* smtpd_sasl_local_domain, may be "" */
    const char *server_addr;    /* numeric, may be "" */
    int server_port;
    const char *client_addr;    /* numeric */
    int client_port;
    int security;               /* SASL_SRV_SEC_* */
    bool tls_active;            /* the session is encrypted */
    int timeout;                /* seconds, for talking to an auth server */
};

struct sasl_srv;

/* A server for one SMTP session. Returns new, or NULL (logged). */
struct sasl_srv *sasl_srv_new(const struct sasl_srv_args *args);
/* Mechanisms this server offers, blank separated, upper case (borrowed;
 * "" when none). */
const char *sasl_srv_mechs(const struct sasl_srv *s);
/* Narrows the offered list to the blank-separated names in mechs (the
 * result of smtpd_sasl_mechanism_filter); other names are then refused
 * as unknown mechanisms. */
void sasl_srv_restrict(struct sasl_srv *s, const char *mechs);
/* Starts an exchange with mechanism mech; init_b64 is the initial
 * response (NULL: none; "=": empty). Fills reply with a challenge (MORE)
 * or a reason (FAIL/TEMP). A server can run one exchange after another. */
enum sasl_srv_status sasl_srv_start(struct sasl_srv *s, const char *mech,
                                          const char *init_b64, struct sbuf *reply);
/* Continues the exchange with the client's base64 response. */
enum sasl_srv_status sasl_srv_step(struct sasl_srv *s, const char *resp_b64,
                                         struct sbuf *reply);
/* After DONE: the authenticated user name (borrowed); else NULL or the
 * name the client tried, when the back end knows it. */
const char *sasl_srv_username(const struct sasl_srv *s);
/* Mechanism of the current or last exchange, upper case (borrowed). */
const char *sasl_srv_method(const struct sasl_srv *s);
void sasl_srv_free(struct sasl_srv *s);

/* Parses a security options value (list of the words above); param names
 * the parameter for the error. Returns the SASL_SRV_SEC_* mask, or -1
 * after logging an unknown word. */
int sasl_srv_security_parse(const char *param, const char *value);
/* True when text is well-formed base64 (RFC 4648, padding required). */
bool sasl_srv_b64_valid(const char *text);

#endif
