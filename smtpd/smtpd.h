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
struct cleanup_clnt;

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
    int hard_error_limit, soft_error_limit;
    long error_sleep;
    int rcpt_limit;
    bool helo_required, disable_vrfy, delay_reject, peername_lookup, delay_open;
    bool strict_rfc821, allow_untrusted_routing, reject_unlisted_rcpt, smtputf8_enable;
    bool forbid_unauth_pipelining, forbid_bare_lf;
    int bare_lf_code;
    struct mynetworks *mynetworks, *bare_lf_exclusions;
    char **discard_ehlo;
    char **forbidden_cmds;
    char **client_restr, **helo_restr, **sender_restr, **relay_restr, **rcpt_restr,
        **data_restr;
    struct maps *local_rcpt_maps, *virt_alias_maps, *virt_mailbox_maps, *relay_rcpt_maps;
    const char *rcpt_delim;
    int unknown_local_code, unknown_alias_code, unknown_mailbox_code, unknown_relay_code;
    int reject_code, defer_code, relay_code, non_fqdn_code;
};
extern struct smtpd_config smtpd_cfg;

/* ---- session state ---- */
enum smtpd_cmd_id {
    SMTPD_C_HELO, SMTPD_C_EHLO, SMTPD_C_STARTTLS, SMTPD_C_AUTH, SMTPD_C_MAIL, SMTPD_C_RCPT,
    SMTPD_C_DATA, SMTPD_C_BDAT, SMTPD_C_RSET, SMTPD_C_NOOP, SMTPD_C_VRFY, SMTPD_C_ETRN,
    SMTPD_C_QUIT, SMTPD_C_UNKNOWN, SMTPD_C_COUNT
};

struct smtpd_state {
    struct stream *client;
    char addr[64];              /* numeric client address */
    char name[256];             /* verified client name or "unknown" */
    char rfc_addr[80];          /* addr, or "IPv6:addr" for Received: */
    char namaddr[340];          /* name[addr] for logs */
    int port;
    int in_mynetworks;          /* -1 not known yet, 0, 1 */
    char *helo_name;
    const char *protocol;       /* "SMTP" or "ESMTP" */
    bool ehlo;
    bool pipelined;             /* input was pending when this command was read */
    int error_count;
    int counts[SMTPD_C_COUNT][2];   /* [ok, total] */
    const char *where;          /* last command name, for "lost connection after" */
    char *client_reject;        /* smtpd_delay_reject=no: a stored client verdict */
    /* transaction */
    char *sender;               /* NULL: no MAIL yet */
    struct cleanup_clnt *cleanup;
    char queue_id[64];          /* empty: NOQUEUE */
    bool cleanup_failed;
    int rcpt_count;
    char *first_rcpt;           /* first accepted recipient, internal form */
    int dsn_ret;
    char *dsn_envid;
    long declared_size;
    bool smtputf8;
    size_t data_bytes;          /* bytes received in DATA (for logs) */
    struct sbuf *line;          /* current command line */
    struct sbuf *reply;         /* scratch for replies */
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
/* Drops the mail transaction (aborts the cleanup stream). */
void smtpd_reset_transaction(struct smtpd_state *st);
/* Opens the cleanup stream and sends the envelope so far; false after
 * replying 451. */
bool smtpd_open_cleanup(struct smtpd_state *st);
/* True when the client matches $mynetworks (cached per session). */
bool smtpd_client_in_mynetworks(struct smtpd_state *st);
const char *smtpd_log_queue_id(const struct smtpd_state *st);

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
/* Runs the command; args is the text after the verb (blanks skipped). */
enum smtpd_cmd_result smtpd_cmd_run(struct smtpd_state *st, enum smtpd_cmd_id id, const char *args);

/* smtpd_data.c */
/* Receives the message after 354, streams it to cleanup, replies. */
enum smtpd_cmd_result smtpd_data_receive(struct smtpd_state *st);
/* Formats an RFC 5322 date for Received: headers into out. */
void smtpd_format_date(struct sbuf *out, time_t when);

/* smtpd_check.c */
/* Each returns 0 to go on, or the reply code with reply set to the whole
 * reply line ("554 5.7.1 <x>: Relay access denied"); the rejection is
 * already logged. */
int smtpd_check_client(struct smtpd_state *st, struct sbuf *reply);
int smtpd_check_helo(struct smtpd_state *st, struct sbuf *reply);
int smtpd_check_mail(struct smtpd_state *st, struct sbuf *reply);
int smtpd_check_rcpt(struct smtpd_state *st, const char *rcpt, struct sbuf *reply);
int smtpd_check_data(struct smtpd_state *st, struct sbuf *reply);
/* VRFY: 0 when the address is known/deliverable, else reply filled. */
int smtpd_check_vrfy(struct smtpd_state *st, const char *addr, struct sbuf *reply);
/* Splits a restriction list parameter (returns new, cfg_list_free()). */
char **smtpd_check_parse(const char *param);

/* smtpd_peer.c */
/* Fills addr/name/namaddr/rfc_addr/port from the client socket; a
 * non-socket (smtpd -S on a pipe) is "localhost[127.0.0.1]". */
void smtpd_peer_init(struct smtpd_state *st);

#endif
