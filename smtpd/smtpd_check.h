/*
 * smtpd_check.h - shared internals of the restriction evaluator
 *
 * Used by: smtpd_check.c (lists, built-in restrictions), smtpd_access.c
 *          (check_*_access and access-map actions), smtpd_ccert.c (TLS
 *          client-certificate restrictions), smtpd_dnsaccess.c
 *          (check_*_{a,mx,ns}_access), smtpd_dnsbl.c (DNS
 *          lists), smtpd_policy.c (check_policy_service), smtpd_verify.c
 *          (reject_unverified_recipient, reject_unverified_sender),
 *          smtpd_mxbackup.c (permit_mx_backup).
 * Interface: struct smtpd_check_ctx, struct smtpd_check_state and the
 *            helpers below.
 * Notes: not for other smtpd modules: they use the smtpd_check_*()
 *        entry points in smtpd.h.
 */
#ifndef POSTERN_SMTPD_CHECK_H
#define POSTERN_SMTPD_CHECK_H
#include "smtpd.h"
#include "rewrite_clnt.h"

enum smtpd_stage {
    SMTPD_STAGE_CLIENT, SMTPD_STAGE_HELO, SMTPD_STAGE_SENDER, SMTPD_STAGE_RELAY,
    SMTPD_STAGE_RCPT, SMTPD_STAGE_DATA, SMTPD_STAGE_EOD, SMTPD_STAGE_ETRN,
    SMTPD_STAGE_REV_CLIENT,         /* reply subject only */
    SMTPD_STAGE_CCERT,              /* reply subject only: the certificate's CN */
};

/* Verdict of one restriction or one list. */
enum smtpd_verdict { SMTPD_DUNNO, SMTPD_PERMIT, SMTPD_REJECT };

/* A delayed verdict (defer_if_permit, defer_if_reject). */
struct smtpd_delayed {
    bool active;
    int code;
    struct sbuf *reply;
};

struct smtpd_check_ctx {
    struct smtpd_state *st;
    enum smtpd_stage stage;     /* list being evaluated */
    const char *cmd;            /* "RCPT", "MAIL", ... for the log */
    const char *rcpt;           /* internal form, or NULL */
    const char *etrn_domain;
    struct resolve_reply res;
    bool resolved;
    bool warn_only;             /* warn_if_reject is pending */
    bool permit_logged;         /* the last restriction's permit was considered for the log */
    int depth;                  /* nesting of classes and access-map lists */
    struct smtpd_delayed dip, dir;
    struct sbuf *reply;
    int code;
};

/* Per-session state (st->chk): actions to hand to cleanup and the policy
 * connections. */
struct smtpd_check_state {
    int saved_flags;            /* CLEANUP_FLAG_HOLD, CLEANUP_FLAG_DISCARD */
    char *filter;               /* FILTER transport:destination */
    char *redirect;             /* REDIRECT address */
    struct sbuf *prepend;       /* PREPEND headers, one per line */
    char **bcc;                 /* BCC addresses (NULL-terminated) */
    size_t nbcc;
    int eod_flags;              /* flags decided at end-of-data */
    char instance[64];          /* policy "instance": one per transaction */
    char *rev_name;             /* reverse client name, for policy requests */
    struct smtpd_policy_clnt *policy;   /* smtpd_policy.c */
};

/* smtpd_check.c */
/* smtpd_log_access_permit_actions: logs "permit: ... action=ACTION for
 * Class=subject[ from ORIGIN]" when ACTION is in that list (and no
 * defer_if_permit is pending). */
void smtpd_permit_log(struct smtpd_check_ctx *c, enum smtpd_stage subj, const char *action,
                      const char *origin);
/* "Client host", "Sender address", ... (reply class). */
const char *smtpd_stage_what(enum smtpd_stage s);
/* The thing a stage is about ("<thing>: ..."), into out. */
void smtpd_stage_subject(struct smtpd_check_ctx *c, enum smtpd_stage s, struct sbuf *out);
/* Rejects with "CODE DSN <subject>: WHAT rejected: TEXT" (what NULL: no
 * "WHAT rejected:" part). Honours warn_if_reject and defer_if_reject. The
 * class digit of dsn follows code. */
enum smtpd_verdict smtpd_reject(struct smtpd_check_ctx *c, enum smtpd_stage subj, int code,
                                const char *dsn, const char *what, const char *text);
/* Same, with the whole reply text after "CODE DSN " given. */
enum smtpd_verdict smtpd_reject_raw(struct smtpd_check_ctx *c, int code, const char *dsn,
                                    const char *text);
/* Records a defer_if_permit (dip true) or defer_if_reject verdict. */
void smtpd_delay(struct smtpd_check_ctx *c, bool dip, int code, const char *dsn,
                 enum smtpd_stage subj, const char *text);
/* Evaluates a restriction list (one nesting level deeper). */
enum smtpd_verdict smtpd_check_sublist(struct smtpd_check_ctx *c, char **list);
/* The session's action state (created on first use). */
struct smtpd_check_state *smtpd_check_state(struct smtpd_state *st);
/* Logs "ID: KIND: CMD from ...: TEXT; from=<> to=<> ...". */
void smtpd_check_log(struct smtpd_check_ctx *c, const char *kind, const char *text);
/* True when name is a smtpd_restriction_classes member. */
bool smtpd_check_is_class(const char *name);
/* Answers "451 4.3.0 <subject>: Temporary lookup failure" (a table or
 * address-resolver lookup failed). */
enum smtpd_verdict smtpd_temp_lookup_failure(struct smtpd_check_ctx *c, enum smtpd_stage s);
/* permit_auth_destination's test on the recipient (c->rcpt, resolved into
 * c->res): 1 when its domain is ours (local, virtual alias, virtual mailbox
 * or relay class) and it has no sender-specified routing (unless
 * allow_untrusted_routing), 0 when not, -1 when it could not be resolved. */
int smtpd_auth_dest(struct smtpd_check_ctx *c);
/* Logs nothing; answers "451 4.3.5 Server configuration error" (the
 * caller logged why). */
enum smtpd_verdict smtpd_config_error(struct smtpd_check_ctx *c);

/* smtpd_access.c */
/* check_client_access etc.: looks the stage's key up in table and acts on
 * the result. kind: "client", "reverse_client", "helo", "sender",
 * "recipient", "sasl", "etrn". */
enum smtpd_verdict smtpd_access_check(struct smtpd_check_ctx *c, const char *kind,
                                      const char *table);
/* Acts on an access-map (or policy) result value. subj names the reply
 * subject; origin is the table name for logs. */
enum smtpd_verdict smtpd_access_action(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                       const char *value, const char *origin);
/* The access table named table, opened on first use (still privileged at
 * start-up, see smtpd_check_init()) and kept for the process. Borrows. */
struct maps *smtpd_access_table(const char *table);
void smtpd_access_cleanup(void);
/* The lookups of check_client_access, on their own: a host name and its
 * parent domains, or a numeric address and its shorter networks, in table
 * (opened on first use). 1 found (*val borrowed until the next lookup in
 * that table), 0 not found, -1 table failure. */
int smtpd_access_find_host(const char *table, const char *name, const char **val);
int smtpd_access_find_addr(const char *table, const char *addr, const char **val);
/* A table failure: logged, answered 451 4.3.0 "Temporary lookup failure".
 * kind names the restriction for the log. */
enum smtpd_verdict smtpd_access_lookup_failed(struct smtpd_check_ctx *c, enum smtpd_stage subj,
                                              const char *table, const char *kind);
/* The reverse client name (the verified name, else the unverified PTR
 * name) into out (fills caller's buffer); false when there is none. */
bool smtpd_access_reverse_name(struct smtpd_state *st, struct sbuf *out);

/* smtpd_dnsaccess.c: check_{client,reverse_client_hostname,helo,sender,
 * recipient}_{a,mx,ns}_access. what: "client", "reverse_client", "helo",
 * "sender", "recipient"; type: DNS_T_A, DNS_T_MX or DNS_T_NS; restriction
 * is the restriction's name, for logs. */
void smtpd_dnsaccess_init(void);
enum smtpd_verdict smtpd_dnsaccess_check(struct smtpd_check_ctx *c, const char *restriction,
                                         const char *what, int type, const char *table);

/* smtpd_ccert.c: restrictions on the TLS client certificate */
/* Reads smtpd_tls_ask_ccert and opens relay_clientcerts (privileged). */
void smtpd_ccert_init(void);
/* Start-up: opens check_ccert_access's table (warns about a form we refuse). */
void smtpd_ccert_preopen(const char *arg);
enum smtpd_verdict smtpd_ccert_permit(struct smtpd_check_ctx *c, const char *arg);
enum smtpd_verdict smtpd_ccert_permit_all(struct smtpd_check_ctx *c, const char *arg);
enum smtpd_verdict smtpd_ccert_access(struct smtpd_check_ctx *c, const char *arg);

/* smtpd_dnsbl.c */
enum smtpd_verdict smtpd_dnsbl_client(struct smtpd_check_ctx *c, const char *arg, bool white);
/* what: "client", "reverse_client", "helo", "sender", "recipient". */
enum smtpd_verdict smtpd_dnsbl_rhs(struct smtpd_check_ctx *c, const char *what, const char *arg,
                                   bool white);

/* smtpd_verify.c: reject_unverified_recipient / _sender */
void smtpd_verify_init(void);
enum smtpd_verdict smtpd_verify_rcpt(struct smtpd_check_ctx *c, const char *arg);
enum smtpd_verdict smtpd_verify_sender(struct smtpd_check_ctx *c, const char *arg);

/* smtpd_mxbackup.c: permit_mx_backup, permit_mx_backup_networks */
/* Reads permit_mx_backup_networks (opening its files and tables) and, when
 * used (permit_mx_backup is named in a restriction list), mydestination and
 * the local interface addresses; at start, still privileged. */
void smtpd_mxbackup_init(bool used);
enum smtpd_verdict smtpd_mxbackup_permit(struct smtpd_check_ctx *c, const char *arg);

/* smtpd_policy.c */
enum smtpd_verdict smtpd_policy_check(struct smtpd_check_ctx *c, const char *arg);
void smtpd_policy_session_end(struct smtpd_check_state *cs);

#endif
