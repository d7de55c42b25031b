/*
 * local.h - private interfaces of the local delivery agent
 *
 * Used by: the local/ sources and tests/unit/local_alias_test.c.
 * Interface: struct local_state (one delivery in progress), struct local_ops
 *            (the effects a resolution can have), local_resolve() (alias,
 *            .forward and :include: expansion down to mailboxes, files,
 *            commands and forwarded addresses), token helpers
 *            local_tokenize(), local_token_kind(), local_split_ext(),
 *            local_expand(); delivery back ends in local_deliver.c;
 *            comsat notices local_biff_init(), local_biff_notify().
 * Notes: the resolution logic calls only through struct local_ops so the
 *        unit test can run it against a texthash alias table and record
 *        what would be delivered where.
 */
#ifndef POSTERN_LOCAL_H
#define POSTERN_LOCAL_H
#include "sys_compat.h"
#include "deliver_request.h"
#include "sbuf.h"

/* How an address was reached (for allow_mail_to_* and prepend_delivered_header). */
#define LOCAL_EXP_NONE 0        /* the queue recipient itself */
#define LOCAL_EXP_ALIAS 1       /* from alias_maps */
#define LOCAL_EXP_FORWARD 2     /* from a .forward file */
#define LOCAL_EXP_INCLUDE 3     /* from an :include: file */

/* Classes for allow_mail_to_commands / allow_mail_to_files. */
#define LOCAL_ALLOW_ALIAS 0x1
#define LOCAL_ALLOW_FORWARD 0x2
#define LOCAL_ALLOW_INCLUDE 0x4

/* Token kinds in an alias value, .forward or :include: file. */
enum local_token {
    LOCAL_TOK_ADDRESS,      /* user or user@domain */
    LOCAL_TOK_MAILBOX,      /* \user: the user's own mailbox, no further expansion */
    LOCAL_TOK_FILE,         /* /path (mbox) or /path/ (Maildir) */
    LOCAL_TOK_COMMAND,      /* |command */
    LOCAL_TOK_INCLUDE,      /* :include:/path */
};

#define LOCAL_LEVEL_MAX 100     /* nesting of aliases, forwards, includes */

struct local_pw {
    char *name;
    char *home;
    char *shell;
    uid_t uid;
    gid_t gid;
};

/* A name already expanded on the way to the current address. */
struct local_parent {
    const struct local_parent *up;
    int type;               /* LOCAL_EXP_* of the expansion */
    const char *name;       /* alias name, user (forward) or include path */
};

/* Shared by every leaf of one queue recipient. */
struct local_outcome {
    bool deferred;
    int leaves;             /* deliveries attempted (for the dup filter limit) */
    char **seen;            /* duplicate filter: "kind:what" */
    size_t nseen, seen_cap;
};

struct local_state {
    struct deliver_request *req;            /* NULL in unit tests */
    const struct deliver_rcpt *rc;          /* the queue recipient */
    const char *address;                    /* address being delivered now */
    const char *delivered;                  /* value for Delivered-To: (frozen_delivered_to) */
    const char *sender;                     /* envelope sender (owner-x after an alias) */
    int level;
    int exp_type;                           /* LOCAL_EXP_* that produced address */
    const char *exp_from;                   /* alias name / .forward user / include path */
    bool have_privs;                        /* uid/gid below apply to files/commands */
    uid_t uid;
    gid_t gid;
    const struct local_pw *user;            /* the local user, when known */
    const char *extension;                  /* "" when none */
    const struct local_parent *parents;
    struct local_outcome *out;
};

struct local_ops {
    /* 1 found (pw filled, freed by local_pw_free), 0 no such user, -1 try later */
    int (*getpw)(const char *name, struct local_pw *pw);
    /* Alias value for key (borrowed until the next call), or NULL; *err <0 on a table error */
    const char *(*alias)(const char *key, int *err);
    /* Same, by uid (the owner of an :include: file). */
    int (*getpwuid)(uid_t uid, struct local_pw *pw);
    /* Reads a .forward or include file with the given privileges (uid -1:
     * default_privs). Returns new contents with *owner set to the file's
     * owner, or NULL with *err = errno (ENOENT: no such file; EINVAL: not a
     * regular file; EPERM: world-writable). */
    char *(*read_file)(const char *path, uid_t uid, gid_t gid, uid_t *owner, int *err);
    /* require_home_directory: 0 when pw's home directory can be looked at
     * with the user's privileges, else -1 with *err = errno. May be NULL. */
    int (*stat_home)(const struct local_pw *pw, int *err);
    /* True when the message already has "Delivered-To: address". */
    bool (*has_delivered_to)(const char *address);
    /* Is the domain delivered locally? 1, 0, -1 try later. */
    int (*is_local_domain)(const char *domain);
    /* Leaves: each reports its own result through report(). */
    void (*mailbox)(struct local_state *st, const struct local_pw *pw);
    void (*file)(struct local_state *st, const char *path);
    void (*command)(struct local_state *st, const char *cmd);
    void (*forward)(struct local_state *st, const char *address);
    /* A user without a passwd entry: hands st->address to a transport
     * (mailbox_transport, fallback_transport) and returns true, or returns
     * false to go on with luser_relay or the bounce. May be NULL. */
    bool (*unknown)(struct local_state *st, const char *user);
    /* Reports one result for st->address (sent/bounced/deferred). */
    void (*report)(struct local_state *st, enum deliver_kind kind, const char *dsn,
                   const char *text);
};

/* Configuration the resolver needs (filled from main.cf by local.c). */
struct local_config {
    const char *recipient_delimiter;
    const char *myorigin;
    const char *luser_relay;
    const char *forward_path;
    const char *forward_filter; /* forward_expansion_filter; NULL: values as they are */
    int allow_commands;     /* LOCAL_ALLOW_* bits */
    int allow_files;
    bool owner_request_special;
    bool expand_owner_alias;
    bool require_home;      /* require_home_directory */
    bool frozen_delivered;  /* frozen_delivered_to: Delivered-To: stays the queue recipient */
    int dup_limit;
};

/* ---- local_token.c: pure helpers ---- */
/* Splits an alias value or file text into tokens (commas and white space
 * separate; "..." groups; lines starting with # are comments). Returns a new
 * NULL-terminated array (free with local_tokens_free), *n = count. */
char **local_tokenize(const char *text, size_t *n);
void local_tokens_free(char **v);
/* Classifies a token; *rest points past the |, \\ or :include: prefix. */
enum local_token local_token_kind(const char *tok, const char **rest);
/* Splits local part lp at the first delimiter character (not at position 0;
 * owner-x and x-request are kept whole when "-" is a delimiter and
 * owner_special). Fills user and ext (ext with its delimiter, "" if none). */
void local_split_ext(const char *lp, const char *delims, bool owner_special, struct sbuf *user,
                     struct sbuf *ext);
/* Expands $name, ${name}, ${name?text}, ${name:text} from the NULL-ended
 * names/values arrays into out. Returns 1 when every referenced name had a
 * non-empty value, 0 when some did not (forward_path skips such entries). */
int local_expand(struct sbuf *out, const char *pattern, const char *const *names,
                 const char *const *values);
/* local_expand() with every character of every value that is not in the
 * set filter (an *_expansion_filter value; NULL: none) turned into "_".
 * values is NULL-ended like names; NULL entries count as "". */
int local_expand_filtered(struct sbuf *out, const char *pattern, const char *const *names,
                          const char *const *values, const char *filter);
/* Parses an allow_mail_to_* value into LOCAL_ALLOW_* bits. */
int local_allow_mask(const char *value);
void local_pw_free(struct local_pw *pw);

/* ---- local_resolve.c ---- */
/* Delivers to st->address (an address that resolved to this host), following
 * aliases, .forward and :include: files. Results go through ops->report and
 * the leaf operations. */
void local_resolve(struct local_state *st, const struct local_ops *ops,
                   const struct local_config *cfg);
/* Delivers one token found in an alias, .forward or include file. */
void local_resolve_token(struct local_state *st, const struct local_ops *ops,
                         const struct local_config *cfg, const char *tok);
/* Duplicate filter: true when key was seen before for this recipient (and
 * remembers it otherwise). */
bool local_seen(struct local_outcome *out, const char *key, int limit);
void local_outcome_free(struct local_outcome *out);

/* ---- local_deliver.c: the real back ends ---- */
/* Reads main.cf settings and opens alias_maps (call while still root). */
void local_deliver_init(void);
extern const struct local_ops local_real_ops;
extern struct local_config local_cfg;

/* ---- local_biff.c: comsat notices ---- */
/* Reads biff (call once at start, from local_deliver_init). */
void local_biff_init(void);
/* When biff = yes, tells the local comsat service that a message for user
 * (the login name) was appended to that user's mbox mailbox, starting at
 * byte offset. Never fails, never waits: a notice that cannot be sent is
 * dropped (logged with -v only). */
void local_biff_notify(const char *user, off_t offset);

/* ---- local_transport.c: mailbox_transport and friends ---- */
/* Reads the parameters and opens the tables (local_deliver_init). */
void local_transport_init(void);
/* mailbox_transport_maps / mailbox_transport for user: true when st was
 * handed on (or deferred for a table error), false to deliver here. */
bool local_transport_mailbox(struct local_state *st, const char *user);
/* Same, then fallback_transport_maps / fallback_transport, for a user
 * without a passwd entry. */
bool local_transport_unknown(struct local_state *st, const char *user);
/* The mailbox command for user: mailbox_command_maps, else mailbox_command
 * (borrowed; "" for none). NULL with *failed after deferring st on a table
 * error. */
const char *local_transport_command(struct local_state *st, const char *user, bool *failed);
/* The request being served and the folded Delivered-To: values found in
 * its message header (set by local.c for each request). */
extern struct deliver_request *local_req;
extern char **local_delivered_hdrs;

#endif
