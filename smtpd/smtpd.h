/*
 * smtpd.h - private interfaces of the SMTP server
 *
 * Used by: every smtpd source file and tests/unit/smtpd_addr_test.c.
 * Interface: the session state (struct smtpd_state), the parsed
 *            configuration (smtpd_cfg), and each module's entry points:
 *            smtpd.c (session loop, replies, logging), smtpd_cmd.c
 *            (commands), smtpd_addr.c (paths), smtpd_check.c (restrictions),
 *            smtpd_data.c (DATA), smtpd_peer.c (client name).
 * Notes: one process serves one session at a time (SERVER_SINGLE).
 */
#ifndef POSTERN_SMTPD_H
#define POSTERN_SMTPD_H
#include "sys_compat.h"
#include "sbuf.h"
#include "stream.h"

struct maps;
struct mynetworks;
struct cmd_filter;
struct reply_expand;
struct reply_footer;
struct cleanup_clnt;
struct smtpd_check_state;
struct tls_server_conn;

/* ---- smtpd_addr.c ---- */
#define SMTPD_PATH_MAX 256          /* RFC 5321 4.5.3.1.3, brackets included */
#define SMTPD_ADDR_OK 0
#define SMTPD_ADDR_SYNTAX -1        /* no path at all */
#define SMTPD_ADDR_BAD -2           /* malformed path */
#define SMTPD_ADDR_TOOLONG -3       /* path longer than SMTPD_PATH_MAX */

/* Parses "<path>" (or, unless strict, a bare address) at the start of
 * text. Fills addr (internal form; empty for <>). *rest (when not NULL)
 * points to what follows the path, leading blanks skipped. Returns
 * SMTPD_ADDR_*. */
int smtpd_addr_parse(const char *text, bool strict, struct sbuf *addr, const char **rest);
/* External (quoted) form of an internal address, for replies and logs. */
void smtpd_addr_quote(struct sbuf *out, const char *addr);
/* Decodes RFC 3461 xtext ("+HH" escapes). 0, or -1 on bad syntax. */
int smtpd_xtext_decode(struct sbuf *out, const char *in);

/* ---- configuration (smtpd.c) ---- */
struct smtpd_config {
    const char *myhostname;
    const char *mail_name;
    char *banner;
    long msg_size_limit;
    size_t line_limit;
    int timeout;
    bool per_request_deadline;  /* smtpd_per_request_deadline: timeout per request */
    int min_data_rate;          /* smtpd_min_data_rate: DATA/BDAT bytes/s that extend it */
    int hard_error_limit, soft_error_limit;
    long error_sleep;
    int rcpt_limit;
    int rcpt_overshoot_limit;   /* smtpd_recipient_overshoot_limit */
    bool helo_required, disable_vrfy, delay_reject, peername_lookup, delay_open;
    bool client_port_logging;   /* smtpd_client_port_logging: name[addr]:port */
    bool strict_rfc821, allow_untrusted_routing, reject_unlisted_rcpt, reject_unlisted_sender;
    bool unknown_rcpt_checks;   /* not switched off by receive_override_options */
    bool smtputf8_enable;
    bool forbid_unauth_pipelining;
    int bare_lf;                /* smtpd_forbid_bare_newline: SMTPD_BARE_LF_* */
    int bare_lf_code;
    bool proxy_protocol;        /* smtpd_upstream_proxy_protocol = haproxy */
    int proxy_timeout;          /* smtpd_upstream_proxy_timeout */
    struct mynetworks *debug_peers;     /* debug_peer_list (NULL: empty) */
    int debug_peer_level;
    struct mynetworks *mynetworks, *bare_lf_exclusions;
    char **forbidden_cmds;
    char **noop_cmds;               /* smtpd_noop_commands */
    struct cmd_filter *cmd_filter;  /* smtpd_command_filter, or NULL */
    struct reply_expand *expand;    /* smtpd_expansion_filter */
    struct reply_footer *footer;    /* smtpd_reject_footer, smtpd_reject_footer_maps */
    struct maps *dns_reply_filter;  /* smtpd_dns_reply_filter, or NULL */
    char **client_restr, **helo_restr, **sender_restr, **relay_restr, **rcpt_restr,
        **data_restr;
    struct maps *local_rcpt_maps, *virt_alias_maps, *virt_mailbox_maps, *relay_rcpt_maps;
    struct maps *canonical_maps, *rcpt_canonical_maps, *sender_canonical_maps;
    const char *rcpt_delim;
    int unknown_local_code, unknown_alias_code, unknown_mailbox_code, unknown_relay_code;
    int reject_code, defer_code, relay_code, non_fqdn_code, plaintext_code;
};
extern struct smtpd_config smtpd_cfg;

/* ---- session state ---- */
enum smtpd_cmd_id {
    SMTPD_C_HELO, SMTPD_C_EHLO, SMTPD_C_STARTTLS, SMTPD_C_AUTH, SMTPD_C_MAIL, SMTPD_C_RCPT,
    SMTPD_C_DATA, SMTPD_C_BDAT, SMTPD_C_RSET, SMTPD_C_NOOP, SMTPD_C_VRFY, SMTPD_C_ETRN,
    SMTPD_C_QUIT, SMTPD_C_XCLIENT, SMTPD_C_XFORWARD, SMTPD_C_UNKNOWN, SMTPD_C_COUNT
};

struct smtpd_state {
    struct stream *client;
    char addr[64];              /* numeric client address */
    char name[256];             /* verified client name or "unknown" */
    char rfc_addr[80];          /* addr, or "IPv6:addr" for Received: */
    char namaddr[340];          /* name[addr] for logs */
    int port;
    int in_mynetworks;          /* -1 not known yet, 0, 1 */
    int peer_tcp;               /* the socket's peer: 0 not looked at yet, 1 TCP, 2 other */
    char *helo_name;
    const char *protocol;       /* "SMTP" or "ESMTP" */
    bool ehlo;
    bool pipelined;             /* input was pending when this command was read */
    bool early_talker;          /* sent input before our greeting (seen by "sleep") */
    bool quit;                  /* the client ended the session with QUIT */
    int error_count;
    bool reply_not_error;       /* the next 4xx reply does not count (smtpd_reply) */
    int rcpt_overshoot;         /* recipients refused past rcpt_limit, this transaction */
    int error_mask;             /* notify classes of this session's errors (smtpd_notify.c) */
    struct sbuf *history;       /* the transcript, or NULL */
    int history_lines;
    int counts[SMTPD_C_COUNT][2];   /* [ok, total] */
    const char *where;          /* last command name, for "lost connection after" */
    char *client_reject;        /* smtpd_delay_reject=no: a stored client verdict */
    /* transaction */
    char *sender;               /* NULL: no MAIL yet */
    struct cleanup_clnt *cleanup;
    char queue_id[64];          /* empty: NOQUEUE; see smtpd_queue_id() */
    bool queue_id_pending;      /* cleanup's greeting (the ID) not read yet */
    bool cleanup_failed;
    int rcpt_count;
    char *first_rcpt;           /* first accepted recipient, internal form */
    int dsn_ret;
    char *dsn_envid;
    char verp_delims[3];        /* MAIL ... XVERP: the two delimiters, or empty */
    int verp_ok;                /* smtpd_authorized_verp_clients: -1 not decided yet */
    long declared_size;
    bool smtputf8;
    size_t data_bytes;          /* bytes received in DATA (for logs) */
    struct sbuf *line;          /* current command line */
    struct sbuf *reply;         /* scratch for replies */
    /* TLS (smtpd_tls.c). The strings are "" and numbers 0 until a
     * handshake succeeds; policy attributes encryption_* and ccert_*. */
    bool tls_active;            /* STARTTLS or wrappermode handshake done */
    struct tls_server_conn *tls_conn;
    char tls_protocol[32];      /* encryption_protocol: "TLSv1.3" */
    char tls_cipher[80];        /* encryption_cipher */
    int tls_bits;               /* encryption_keysize */
    bool tls_ccert_present;     /* the client sent a certificate */
    bool tls_ccert_trusted;     /* ... and it verified against smtpd_tls_CAfile */
    char tls_ccert_subject[256];    /* ccert_subject (CommonName) */
    char tls_ccert_issuer[256];     /* ccert_issuer (issuer CommonName) */
    char tls_ccert_fingerprint[160];        /* ccert_fingerprint (XX:XX:..) */
    char tls_ccert_pubkey_fingerprint[160]; /* ccert_pubkey_fingerprint */
    /* SASL (smtpd_sasl.c): set when AUTH succeeded (or by XCLIENT LOGIN). */
    char *sasl_username;        /* NULL: not authenticated */
    char *sasl_method;          /* "PLAIN", "LOGIN", ... */
    char *sasl_sender;          /* MAIL FROM AUTH= value, this transaction */
    struct smtpd_sasl_sess *sasl;   /* the SASL server, created on demand */
    /* Restrictions (smtpd_check.c): HOLD/DISCARD/FILTER/... actions and
     * policy state; NULL until the first check. */
    struct smtpd_check_state *chk;
    /* Limits (smtpd_limits.c), BDAT (smtpd_bdat.c), XFORWARD (smtpd_xclient.c). */
    struct smtpd_limits_sess *limits;   /* per-session limit state */
    struct smtpd_bdat *bdat;            /* non-NULL inside a BDAT transaction */
    struct smtpd_xforward *xforward;    /* XFORWARD attributes, this transaction */
    struct smtpd_proxy *proxy;          /* smtpd_proxy_filter: this transaction's */
};

/* smtpd.c */
/* Queues one reply line (CRLF added); 4xx/5xx count as errors and are
 * delayed by smtpd_error_sleep_time past the soft error limit. Output is
 * flushed when no more client input is pending (pipelining). */
void smtpd_reply(struct smtpd_state *st, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Writes out queued replies; false when the client is gone. */
bool smtpd_flush(struct smtpd_state *st);
/* Logs "ID: reject: CMD from name[addr]: REPLY; from=<> to=<> proto= helo=<>"
 * (or reject_warning with warn). rcpt may be NULL. */
void smtpd_log_reject(struct smtpd_state *st, const char *kind, const char *cmd, const char *reply,
                      const char *rcpt);
/* smtpd_forbid_bare_newline, as it applies to this client (clients in
 * smtpd_forbid_bare_newline_exclusions get SMTPD_BARE_LF_NO):
 *   NO         a bare LF ends a line; any "." line ends DATA (Postfix "no")
 *   NORMALIZE  a bare LF ends a line; only CR LF "." CR LF ends DATA
 *              ("normalize", and "yes", its alias)
 *   REJECT     a bare LF is answered with smtpd_forbid_bare_newline_reject_code
 *              and the session ends ("reject") */
#define SMTPD_BARE_LF_NO 0
#define SMTPD_BARE_LF_NORMALIZE 1
#define SMTPD_BARE_LF_REJECT 2
int smtpd_bare_lf_mode(struct smtpd_state *st);
/* Drops the mail transaction (aborts the cleanup stream). */
void smtpd_reset_transaction(struct smtpd_state *st);
/* Opens the cleanup stream and sends the envelope so far; false after
 * replying 451. */
bool smtpd_open_cleanup(struct smtpd_state *st);
/* smtpd_unavail.c: content_filter, and the milters Postern cannot run
 * (treated as unavailable, as Postfix does). */
void smtpd_filter_init(void);
/* MAIL FROM: true after replying when the transaction is refused. */
bool smtpd_filter_mail(struct smtpd_state *st);
/* The cleanup flags smtpd asks for, given the usual ones. */
int smtpd_filter_cleanup_flags(int flags);
/* Envelope records for this service's content_filter / quarantine. */
struct cleanup_clnt;
void smtpd_filter_envelope(struct cleanup_clnt *c);
/* smtpd_milter.c: smtpd_milters. The bool functions return true when
 * they refused the command (already answered and logged). */
void smtpd_milter_init(void);
void smtpd_milter_connect(struct smtpd_state *st);
/* HELO/EHLO: true only for a 421 (end the session); other verdicts are
 * kept for MAIL FROM. */
bool smtpd_milter_helo(struct smtpd_state *st);
/* True for a milter reply that ends the session (421, e.g. SMFIR_SHUTDOWN):
 * the command then returns SMTPD_R_CLOSE. */
bool smtpd_milter_421(const char *reply);
bool smtpd_milter_mail(struct smtpd_state *st, const char *args);
bool smtpd_milter_rcpt(struct smtpd_state *st, const char *rcpt, const char *args);
/* DATA (reply NULL: answered here) or the first BDAT chunk (reply filled,
 * not answered). */
bool smtpd_milter_data(struct smtpd_state *st, struct sbuf *reply);
/* A milter's reply to an unknown command, or NULL. */
const char *smtpd_milter_unknown(struct smtpd_state *st, const char *line);
/* The cleanup stream was opened: spool its records for the milters. */
void smtpd_milter_spool(struct smtpd_state *st);
/* End of message: the milters see it and their edits go to cleanup. True
 * (reply filled, logged) when they refused it; the caller then drops the
 * transaction. */
bool smtpd_milter_eom(struct smtpd_state *st, struct cleanup_clnt *c, struct sbuf *reply);
void smtpd_milter_abort(struct smtpd_state *st);
void smtpd_milter_disconnect(struct smtpd_state *st);
/* True when the client matches $mynetworks (cached per session). */
bool smtpd_client_in_mynetworks(struct smtpd_state *st);
/* Is the session's client in list (mynetworks syntax)? Decided once per
 * session: *cache is -1 until then; a table lookup error answers no and is
 * not kept. */
bool smtpd_client_listed(struct smtpd_state *st, struct mynetworks *list, int *cache);
/* The open transaction's queue ID ("" when none). cleanup's greeting is
 * read only when the ID is first wanted (the "client=" line is logged
 * then): usually once the client's content arrives, so that smtpd does not
 * sleep while cleanup creates the queue file. */
const char *smtpd_queue_id(struct smtpd_state *st);
/* The same, "NOQUEUE" when there is none (log lines). */
const char *smtpd_log_queue_id(struct smtpd_state *st);

/* smtpd_proxy.c: the before-queue content filter (smtpd_proxy_filter).
 * With a filter set, st->proxy replaces st->cleanup for the transaction. */
/* Reads the smtpd_proxy_* parameters (pre_jail; bad options are fatal). */
void smtpd_proxy_init(void);
/* Is smtpd_proxy_filter set for this service? */
bool smtpd_proxy_enabled(void);
/* MAIL FROM accepted: remembers the command line (st->line) for the
 * filter and makes st->proxy. No effect without a filter. */
void smtpd_proxy_note_mail(struct smtpd_state *st);
/* Opens the filter connection and passes MAIL FROM (a no-op when already
 * open, or with speed_adjust). False after replying with the filter's
 * reply or our 451. */
bool smtpd_proxy_open(struct smtpd_state *st);
/* A recipient that passed our checks: passes the RCPT line (st->line) and
 * answers the client with the filter's reply. True when it accepted. */
bool smtpd_proxy_rcpt(struct smtpd_state *st, const char *rcpt);
/* DATA: true when the filter said 354 (the caller sends our 354); false
 * after replying with the filter's answer. */
bool smtpd_proxy_data_cmd(struct smtpd_state *st);
/* Our Received: header, to the filter. */
void smtpd_proxy_received(struct smtpd_state *st);
/* One piece of content (dot-stuffed here; CR LF added at end_of_line). */
void smtpd_proxy_put(struct smtpd_state *st, bool end_of_line, const char *text, size_t len);
/* The end of the content: fills reply with the filter's verdict (or our
 * 451) and logs proxy-accept / proxy-reject. */
void smtpd_proxy_finish(struct smtpd_state *st, struct sbuf *reply);
/* Ends the transaction at the filter (QUIT, close) and frees st->proxy. */
void smtpd_proxy_reset(struct smtpd_state *st);

/* smtpd_cmd.c: command handlers return one of these. */
enum smtpd_cmd_result {
    SMTPD_R_OK,         /* command succeeded */
    SMTPD_R_ERR,        /* command failed (already replied) */
    SMTPD_R_QUIT,       /* succeeded, end the session */
    SMTPD_R_CLOSE,      /* failed, end the session (already replied) */
    SMTPD_R_GONE,       /* the client went away or timed out */
};
/* Looks up a verb (case-insensitive); SMTPD_C_UNKNOWN when not a command. */
enum smtpd_cmd_id smtpd_cmd_lookup(const char *verb, size_t len);
const char *smtpd_cmd_name(enum smtpd_cmd_id id);      /* lower case, for stats */
const char *smtpd_cmd_verb(enum smtpd_cmd_id id);      /* upper case, for logs */
#define SMTPD_CMD_F_JUNK 0x1        /* counts toward smtpd_junk_command_limit */
#define SMTPD_CMD_F_PRE_TLS 0x2     /* allowed before STARTTLS when TLS is required */
#define SMTPD_CMD_F_LAST 0x4        /* must end a pipelined group (RFC 2920) */
/* The SMTPD_CMD_F_* flags of a verb (SMTPD_C_UNKNOWN included). */
int smtpd_cmd_flags(enum smtpd_cmd_id id);
/* Runs the command; args is the text after the verb (blanks skipped). */
enum smtpd_cmd_result smtpd_cmd_run(struct smtpd_state *st, enum smtpd_cmd_id id, const char *args);

/* smtpd_data.c */
/* Receives the message after 354, streams it to cleanup, replies. */
enum smtpd_cmd_result smtpd_data_receive(struct smtpd_state *st);
/* Formats an RFC 5322 date for Received: headers into out. */
void smtpd_format_date(struct sbuf *out, time_t when);
/* Where smtpd_received() puts each line of the header (no line end). */
typedef void smtpd_line_fn(struct smtpd_state *st, void *ctx, const char *line, size_t len);
/* Our Received: header, line by line, with " id QUEUE_ID" when queue_id is
 * not NULL (the before-queue filter's copy has none yet). */
void smtpd_received(struct smtpd_state *st, const char *queue_id, smtpd_line_fn *emit,
                    void *ctx);
/* Sends our Received: header to cleanup (DATA and BDAT). */
void smtpd_data_received(struct smtpd_state *st, struct cleanup_clnt *c);
/* Fills out with the reply for a failed cleanup_finish() status. */
void smtpd_data_status_reply(struct smtpd_state *st, int status, const char *reason,
                             struct sbuf *out);

/* smtpd_limits.c */
/* Reads the limit parameters, creates the anvil client, installs the
 * stress signal handler (pre_jail). */
void smtpd_limits_init(void);
/* Connection count and rate limits; false after "421 4.7.0 ... too many
 * connections" (end the session). */
bool smtpd_limits_connect(struct smtpd_state *st);
/* End of session: tells anvil, frees the limit, BDAT and XFORWARD state. */
void smtpd_limits_disconnect(struct smtpd_state *st);
/* Message, recipient and AUTH rate limits: false after replying 450. */
bool smtpd_limits_mail(struct smtpd_state *st);
bool smtpd_limits_rcpt(struct smtpd_state *st);
bool smtpd_limits_auth(struct smtpd_state *st);
/* Free space in the queue file system, at MAIL: false (after replying
 * "452 4.3.1 Insufficient system storage") when it is at or below
 * queue_minfree, below 1.5 * message_size_limit (as Postfix), or too small
 * for the declared size (SIZE=, 0 when none) on top of queue_minfree. */
bool smtpd_limits_queue_space(struct smtpd_state *st, long size);
/* New TLS session rate: false after replying 454 (STARTTLS) or 421
 * (wrapper mode: then end the session). */
bool smtpd_limits_newtls(struct smtpd_state *st, bool wrapper);
/* Called before each command runs: junk command count, stress notice. */
void smtpd_limits_command(struct smtpd_state *st, enum smtpd_cmd_id id);
/* Waits for the next command line; false after a timeout (421 sent and
 * logged): end the session. Shortened for idle clients under stress. */
bool smtpd_limits_wait(struct smtpd_state *st);
/* True in stress mode (started with stress=yes or told by master). */
bool smtpd_limits_stress(void);
/* True when EHLO keyword kw is discarded for this client
 * (smtpd_discard_ehlo_keywords, smtpd_discard_ehlo_keyword_address_maps). */
bool smtpd_limits_ehlo_discard(struct smtpd_state *st, const char *kw);
/* True when the client is exempt from the anvil limits. */
bool smtpd_limits_exempt(struct smtpd_state *st);

/* smtpd_bdat.c */
/* BDAT (RFC 3030 CHUNKING). */
enum smtpd_cmd_result smtpd_bdat_cmd(struct smtpd_state *st, const char *args);
/* True (after replying 503) when a BDAT transaction forbids this command. */
bool smtpd_bdat_refused(struct smtpd_state *st, enum smtpd_cmd_id id);
/* Forgets the BDAT state (with the transaction). */
void smtpd_bdat_reset(struct smtpd_state *st);

/* smtpd_xclient.c */
enum smtpd_cmd_result smtpd_xclient_cmd(struct smtpd_state *st, const char *args);
enum smtpd_cmd_result smtpd_xforward_cmd(struct smtpd_state *st, const char *args);
/* ETRN after smtpd_cmd.c's checks: validates the site name and asks the
 * flush service to deliver its deferred mail. */
enum smtpd_cmd_result smtpd_etrn_cmd(struct smtpd_state *st, const char *site);
/* EHLO lines "XCLIENT ..." / "XFORWARD ..." for this client, or NULL. */
const char *smtpd_xclient_ehlo(struct smtpd_state *st);
const char *smtpd_xforward_ehlo(struct smtpd_state *st);

/* smtpd_verp.c: XVERP for smtpd_authorized_verp_clients. smtpd_verp_param()
 * checks one MAIL parameter (val: after '=', or NULL) and on success fills
 * out with the two delimiters; else it returns the reply. */
bool smtpd_verp_allowed(struct smtpd_state *st);
const char *smtpd_verp_ehlo(struct smtpd_state *st);
const char *smtpd_verp_param(const char *val, bool null_sender, char out[3]);
/* Sends the XFORWARD client attributes to cleanup; false when there are
 * none (the caller then sends the real client's). */
bool smtpd_xforward_cleanup(struct smtpd_state *st, struct cleanup_clnt *c);
/* Received: header fields: the XFORWARD value when there is one, else the
 * real client's (borrowed). */
const char *smtpd_fwd_helo(const struct smtpd_state *st);
const char *smtpd_fwd_name(const struct smtpd_state *st);
const char *smtpd_fwd_rfc_addr(const struct smtpd_state *st);
/* Forgets the XFORWARD attributes (with the transaction). */
void smtpd_xforward_reset(struct smtpd_state *st);
/* End of session: frees the XCLIENT/XFORWARD state. */
void smtpd_xclient_session_end(struct smtpd_state *st);

/* smtpd_check.c */
/* Each returns 0 to go on, or the reply code with reply set to the whole
 * reply line ("554 5.7.1 <x>: Relay access denied"); the rejection is
 * already logged. */
int smtpd_check_client(struct smtpd_state *st, struct sbuf *reply);
int smtpd_check_helo(struct smtpd_state *st, struct sbuf *reply);
int smtpd_check_mail(struct smtpd_state *st, struct sbuf *reply);
int smtpd_check_rcpt(struct smtpd_state *st, const char *rcpt, struct sbuf *reply);
/* True when trivial-rewrite calls addr a syntax error (RESOLVE_FLAG_ERROR:
 * "user@", a numeric or malformed domain), resolving it for sender as the
 * restrictions will (one cached answer for both). A resolver failure is
 * not an error here: the restrictions report it. */
bool smtpd_check_addr_syntax(const char *sender, const char *addr);
int smtpd_check_data(struct smtpd_state *st, struct sbuf *reply);
/* VRFY: 0 when the address is known/deliverable, else reply filled. */
int smtpd_check_vrfy(struct smtpd_state *st, const char *addr, struct sbuf *reply);
/* Splits a restriction list parameter (returns new, cfg_list_free()). */
char **smtpd_check_parse(const char *param);
/* Start-up (pre_jail, after smtpd_cfg is filled): reads the remaining
 * restriction parameters and opens the access tables. */
void smtpd_check_init(void);
/* smtpd_end_of_data_restrictions (after the message, before cleanup's
 * verdict) and smtpd_etrn_restrictions; same result as above. */
int smtpd_check_eod(struct smtpd_state *st, struct sbuf *reply);
int smtpd_check_etrn(struct smtpd_state *st, const char *domain, struct sbuf *reply);
/* Forgets the transaction's actions (HOLD, FILTER, PREPEND...). */
void smtpd_check_reset(struct smtpd_state *st);
/* Frees the per-session restriction state. */
void smtpd_check_session_end(struct smtpd_state *st);
/* Hands the actions to cleanup: envelope records before M (flags, FILTER,
 * REDIRECT), PREPEND header lines (before our Received:), and after the
 * content the end-of-data flags and BCC recipients. */
void smtpd_check_envelope(struct smtpd_state *st, struct cleanup_clnt *c);
void smtpd_check_headers(struct smtpd_state *st, struct cleanup_clnt *c);
void smtpd_check_eod_records(struct smtpd_state *st, struct cleanup_clnt *c);

/* smtpd_peer.c */
/* Fills addr/name/namaddr/rfc_addr/port from the client socket, or from
 * the PROXY header (smtpd_upstream_proxy_protocol); a non-socket (smtpd -S
 * on a pipe) is "localhost[127.0.0.1]". False when the PROXY header is
 * missing or bad (logged; the client is then "unknown[unknown]"). */
bool smtpd_peer_init(struct smtpd_state *st);
/* Sets namaddr from name, addr (and port, with smtpd_client_port_logging):
 * the client as log lines and reply texts show it. */
void smtpd_peer_namaddr(struct smtpd_state *st);

/* smtpd_notify.c */
/* Reads notify_classes, error_notice_recipient, smtpd_history_flush_threshold. */
void smtpd_notify_init(void);
/* Records a command line / a reply line in the transcript. */
void smtpd_history_in(struct smtpd_state *st, const char *line, size_t len);
void smtpd_history_out(struct smtpd_state *st, const char *line, size_t len);
/* Mails the transcript if the session had an error of a notify class, and
 * starts a new one: always when end is set, else only when the transcript
 * is over smtpd_history_flush_threshold lines (EHLO, RSET, end of DATA). */
void smtpd_notify_flush(struct smtpd_state *st, bool end);
void smtpd_notify_free(struct smtpd_state *st);

/* smtpd_tls.c */
/* Reads the TLS parameters and builds the server context (keys are read
 * here: call from pre_jail, still privileged). A broken certificate or key
 * is logged and leaves TLS "not available" (STARTTLS answers 454). */
void smtpd_tls_pre_jail(void);
/* True when EHLO should offer STARTTLS now. */
bool smtpd_tls_offer(const struct smtpd_state *st);
/* smtpd_ccert.c: is the session's client certificate (fingerprint, then
 * public-key fingerprint) listed in relay_clientcerts? 1, 0 (also without
 * TLS or a certificate), or -1 when the lookup failed (logged). */
int smtpd_ccert_relay_listed(const struct smtpd_state *st);

/* smtpd_rewrite_clients.c: local_header_rewrite_clients. Init parses the
 * list and opens its tables (still privileged); the test says whether
 * cleanup may treat this client's headers as local. */
void smtpd_rewrite_clients_init(void);
bool smtpd_rewrite_client_local(struct smtpd_state *st);

/* smtpd_tls_wrappermode: handshake before the greeting. False when the
 * session must end (already logged). True when not in wrapper mode. */
bool smtpd_tls_wrapper_start(struct smtpd_state *st);
/* smtpd_tls_security_level = encrypt: false (after replying 530) when
 * this command needs TLS first. */
bool smtpd_tls_required_ok(struct smtpd_state *st, enum smtpd_cmd_id id);
enum smtpd_cmd_result smtpd_cmd_starttls(struct smtpd_state *st, const char *args);
/* Received: header: the protocol word ("ESMTPS", "ESMTPSA", ...) and,
 * with smtpd_tls_received_header, the "(using ...)" lines for out. */
const char *smtpd_tls_received_proto(const struct smtpd_state *st);
void smtpd_tls_received_lines(struct smtpd_state *st, smtpd_line_fn *emit, void *ctx);
/* Ends the TLS session (close_notify) at the end of a connection. */
void smtpd_tls_end(struct smtpd_state *st);

/* smtpd_sasl.c (restrictions: smtpd_sasl.h) */
/* Reads the smtpd_sasl_* parameters and starts the SASL library (still
 * privileged: before chroot). Bad settings are fatal. */
void smtpd_sasl_pre_jail(void);
/* EHLO keyword "AUTH mechs" (equals false) or, with
 * broken_sasl_auth_clients, "AUTH=mechs" (equals true); NULL when AUTH is
 * not offered to this session. Borrowed until the next call with the
 * same equals. */
const char *smtpd_sasl_ehlo(struct smtpd_state *st, bool equals);
/* The AUTH command, with its 334 dialogue. */
enum smtpd_cmd_result smtpd_sasl_auth_cmd(struct smtpd_state *st, const char *args);
/* MAIL FROM AUTH=value: NULL when accepted, else the whole error reply. */
const char *smtpd_sasl_mail_param(struct smtpd_state *st, const char *value);
/* Appends ", sasl_method=M, sasl_username=U, sasl_sender=S" (the parts
 * that are set) for the "client=" log line. */
void smtpd_sasl_log_client(const struct smtpd_state *st, struct sbuf *out);
/* Sends the sasl_method/sasl_username/sasl_sender attributes to cleanup. */
void smtpd_sasl_cleanup_attrs(const struct smtpd_state *st, struct cleanup_clnt *c);
/* With smtpd_sasl_authenticated_header: fills out with the Received:
 * line "\t(Authenticated sender: USER)" and returns true. */
bool smtpd_sasl_received(const struct smtpd_state *st, struct sbuf *out);
/* Forgets AUTH= of the transaction (RSET, end of mail). */
void smtpd_sasl_reset_transaction(struct smtpd_state *st);
/* Frees the session's SASL state and login. */
void smtpd_sasl_session_end(struct smtpd_state *st);

#endif
