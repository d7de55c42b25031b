/*
 * virtual.h - private interfaces of the virtual(8) delivery agent
 *
 * Used by: the virtual/ sources and tests/unit/virtual_quota_test.c.
 * Interface: struct virtual_config (main.cf settings, virtual.c),
 *            the Maildir++ quota helpers of virtual_quota.c
 *            (virtual_quota_limit(), virtual_quota_parse(),
 *            virtual_quota_format(), virtual_quota_name_size(),
 *            virtual_quota_scan(), virtual_quota_over(),
 *            virtual_quota_read(), virtual_quota_update()), and the
 *            delivery back ends of virtual_deliver.c
 *            (virtual_deliver_maildir(), virtual_deliver_mbox()).
 * Notes: the quota settings come from the third-party "VDA" patch that
 *        some Postfix builds carried (virtual_mailbox_limit_maps,
 *        virtual_maildir_extended, ...). They are not Postfix parameters,
 *        so they are read by name (cfg_is_set()/cfg_str()) with the
 *        defaults defined below.
 */
#ifndef POSTERN_VIRTUAL_H
#define POSTERN_VIRTUAL_H
#include "sys_compat.h"
#include "deliver_request.h"
#include "maps.h"
#include "mbox_lock.h"
#include "sbuf.h"

/* VDA patch parameter names (no P_ entries in params.h: not Postfix's). */
#define VIRTUAL_P_LIMIT_MAPS "virtual_mailbox_limit_maps"
#define VIRTUAL_P_LIMIT_OVERRIDE "virtual_mailbox_limit_override"
#define VIRTUAL_P_CREATE_MAILDIRSIZE "virtual_create_maildirsize"
#define VIRTUAL_P_LIMIT_MESSAGE "virtual_maildir_limit_message"
#define VIRTUAL_P_OVERQUOTA_BOUNCE "virtual_overquota_bounce"
#define VIRTUAL_P_MAILBOX_EXTENDED "virtual_mailbox_extended"
#define VIRTUAL_P_MAILDIR_EXTENDED "virtual_maildir_extended"
#define VIRTUAL_P_TRASH_COUNT "virtual_trash_count"
#define VIRTUAL_P_TRASH_NAME "virtual_trash_name"
#define VIRTUAL_D_LIMIT_MESSAGE \
    "Sorry, the user's maildir has overdrawn his diskspace quota, please try again later."
#define VIRTUAL_D_TRASH_NAME ".Trash"

/* A maildirsize file larger than this is rewritten from a fresh count
 * (Maildir++ convention). */
#define VIRTUAL_MAILDIRSIZE_MAX 5120
/* Longest maildirsize file we read at all. */
#define VIRTUAL_MAILDIRSIZE_READ_MAX (64 * 1024)

struct virtual_config {
    struct maps *mailbox_maps;
    struct maps *uid_maps;
    struct maps *gid_maps;
    struct maps *limit_maps;        /* NULL when virtual_mailbox_limit_maps is empty */
    struct dsn_filter *status_filter; /* virtual_delivery_status_filter, or NULL */
    const char *base;               /* virtual_mailbox_base */
    const char *delim;              /* recipient_delimiter */
    const char *hostname;           /* myhostname, for Maildir file names */
    long min_uid;                   /* virtual_minimum_uid */
    long mailbox_limit;             /* virtual_mailbox_limit, bytes; 0 = none */
    int lock_mask;                  /* virtual_mailbox_lock */
    struct mbox_lock_opts lock_opts;
    bool strict_owner;              /* strict_mailbox_ownership */
    /* VDA quota features */
    bool extended;                  /* virtual_mailbox_extended or virtual_maildir_extended */
    bool create_maildirsize;
    bool limit_override;
    bool overquota_bounce;
    bool trash_count;
    const char *trash_name;
    char *limit_message;            /* quotes around the value removed */
};

/* Usage of a Maildir: bytes and messages. */
struct virtual_usage {
    long long bytes;
    long long count;
};

/* A parsed maildirsize file. */
struct virtual_quota_file {
    long long quota_bytes;          /* from the first line, -1 when not given */
    long long quota_count;          /* -1 when not given */
    struct virtual_usage used;      /* sum of the other lines */
    int lines;                      /* usage lines after the first */
};

/* ---- virtual_quota.c: pure arithmetic and file formats ---- */

/* The limit in bytes for one recipient (0 = unlimited). global is
 * virtual_mailbox_limit; user is the virtual_mailbox_limit_maps result or
 * NULL. A user value that is not a decimal number is ignored (returns
 * global, *bad set true). Without override a user value may only lower
 * the limit (a larger one, or 0, leaves the global limit); with override
 * it replaces the global limit, 0 then meaning "no limit". */
long long virtual_quota_limit(long long global, const char *user, bool override, bool *bad);

/* Parses maildirsize text (len bytes). 0 and q filled, or -1 when the text
 * is not a well-formed maildirsize (caller then counts afresh). */
int virtual_quota_parse(const char *text, size_t len, struct virtual_quota_file *q);

/* Fills out with a fresh maildirsize: "<limit>S\n<bytes> <count>\n". */
void virtual_quota_format(struct sbuf *out, long long limit, const struct virtual_usage *u);

/* Size taken from a Maildir++ file name ("...,S=1234[,:]..."), or -1. */
long long virtual_quota_name_size(const char *name);

/* Counts the messages in new/ and cur/ of dir and of its Maildir++ folders
 * (sub-directories whose names start with "."), skipping trash_name unless
 * count_trash. Sizes come from ",S=" in the name, else from lstat().
 * 0 and u filled, or -1 with errno (dir unreadable). */
int virtual_quota_scan(const char *dir, bool count_trash, const char *trash_name,
                       struct virtual_usage *u);

/* True when adding size bytes to u would exceed limit (0 = no limit). */
bool virtual_quota_over(long long limit, const struct virtual_usage *u, long long size);

/* The current usage of dir: from dir/maildirsize when use_file and it is
 * valid (its quota line need not match), else from a scan. *from_file
 * tells which. 0, or -1 with errno. */
int virtual_quota_read(const char *dir, bool use_file, bool count_trash, const char *trash_name,
                       struct virtual_usage *u, bool *from_file);

/* After a delivery of size bytes into dir: appends "size 1" to
 * dir/maildirsize, or rewrites the file from a fresh count when it is
 * missing, malformed, larger than VIRTUAL_MAILDIRSIZE_MAX or states
 * another limit. 0, or -1 with why filled (the message is delivered
 * anyway; callers only log). */
int virtual_quota_update(const char *dir, long long limit, long long size, bool count_trash,
                         const char *trash_name, struct sbuf *why);

/* ---- virtual_deliver.c ---- */

/* One recipient's destination, after the table lookups. */
struct virtual_dest {
    const char *path;       /* absolute mailbox path; ends in "/" for a Maildir */
    uid_t uid;
    gid_t gid;
    long long limit;        /* bytes; 0 = none */
    bool quota;             /* Maildir++ quota (VDA) applies */
};

/* Renders the message for rcpt into out (From_ line and >From quoting for
 * mbox). 0, or -1 when the queue file could not be read. */
int virtual_render(struct deliver_request *r, const struct deliver_rcpt *rc, bool mbox,
                   struct sbuf *out);
/* Delivers msg and reports the result for rc. */
void virtual_deliver_maildir(struct deliver_request *r, const struct deliver_rcpt *rc,
                             const struct virtual_dest *d, const struct sbuf *msg);
void virtual_deliver_mbox(struct deliver_request *r, const struct deliver_rcpt *rc,
                          const struct virtual_dest *d, const struct sbuf *msg);

extern struct virtual_config virtual_cfg;

#endif
