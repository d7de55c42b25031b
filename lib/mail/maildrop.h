/*
 * maildrop.h - the record stream of local submission: sendmail -> postdrop
 *              -> maildrop/ID -> pickup
 *
 * Used by: sendmail (writer), postdrop (validates its input and writes the
 *          file), pickup (validates the file again: it is hostile input).
 * Interface: maildrop_check_init(), maildrop_check_rec(),
 *            maildrop_check_done().
 * Errors: maildrop_check_rec() returns NULL for an acceptable record or a
 *         constant text that says what is wrong (never logs).
 * Notes: the records are queue-file records (qfile.h framing). What a
 *        client (sendmail) may send, in order:
 *          envelope:  F fullname?, f flags?, S sender (exactly one),
 *                     < ret?, i envid?, then per recipient o? n? R;
 *                     in any order, except that o/n belong to the next R
 *          M          end of envelope (needs S)
 *          content:   N and L records (L = part of a long line)
 *          X          end of content
 *          E          end of stream; nothing may follow
 *        A maildrop file is the same stream preceded by one T record
 *        ("sec usec", written by postdrop). Flags ('f', decimal) may only
 *        hold CLEANUP_FLAG_EXTRACT (sendmail -t) and MAILDROP_FLAG_USER_VERIFY
 *        (sendmail -bv). A file is complete when its
 *        owner-execute bit is set; postdrop makes it 0744 so that pickup,
 *        running as mail_owner, can read a file owned by the submitting user.
 *        The file owner's uid is the submitter (logged by pickup as uid=).
 */
#ifndef POSTERN_MAILDROP_H
#define POSTERN_MAILDROP_H
#include "sys_compat.h"

#define MAILDROP_REC_FLAGS 'f'          /* decimal CLEANUP_FLAG_* bits */
#define MAILDROP_REC_MAX 8192           /* longest record accepted */
#define MAILDROP_ENV_MAX (16L << 20)    /* all envelope records together */
#define MAILDROP_MODE_COMPLETE 0744     /* owner-exec = complete; others read */
#define MAILDROP_FLAG_USER_VERIFY 0x8000    /* sendmail -bv: pickup marks the
                                             * message as a delivery report
                                             * request (trace_flags attribute) */
#define MAILDROP_FLAGS_ALLOWED (0x2 | MAILDROP_FLAG_USER_VERIFY)   /* + CLEANUP_FLAG_EXTRACT */
#define MAILDROP_ENVID_MAX 100

/* Where the records come from: a client's stream (no T allowed) or a
 * maildrop file (one T first). */
enum maildrop_source {
    MAILDROP_FROM_CLIENT,
    MAILDROP_FROM_FILE,
};

/* Result of a check, so callers can choose exit codes and DSN texts. */
enum maildrop_verdict {
    MAILDROP_OK = 0,
    MAILDROP_BAD = 1,       /* malformed or out-of-order record */
    MAILDROP_TOOBIG = 2,    /* content larger than message_size_limit */
};

struct maildrop_check {
    enum maildrop_source source;
    int state;                  /* private: segment */
    long content_limit;         /* bytes, 0 = none */
    long content_size;          /* content bytes so far (lines + LF) */
    long env_size;
    bool saw_time, saw_sender, saw_fullname, saw_flags, saw_ret, saw_envid, saw_verp;
    bool pending_orcpt, pending_notify;
    long nrcpt;
    int flags;                  /* value of the f record */
    enum maildrop_verdict verdict;
};

/* Starts checking a new stream. content_limit is message_size_limit
 * (0 = unlimited). */
void maildrop_check_init(struct maildrop_check *c, enum maildrop_source source,
                         long content_limit);
/* Checks one record. Returns NULL when it is acceptable here, otherwise a
 * constant description ("unexpected record type", ...); c->verdict tells
 * whether the message was malformed or too large. After a failure every
 * later call fails too. */
const char *maildrop_check_rec(struct maildrop_check *c, int type, const char *data, size_t len);
/* True when the stream is complete (E seen) and nothing failed. */
bool maildrop_check_done(const struct maildrop_check *c);

#endif
