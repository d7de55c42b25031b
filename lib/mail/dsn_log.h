/*
 * dsn_log.h - per-message delivery status logs (bounce/, defer/, trace/)
 *
 * Used by: delivery agents and qmgr (writers), bounce and showq (readers),
 *          postsuper (removal).
 * Interface: dsn_log_append(), dsn_log_read(), dsn_log_remove(),
 *            struct dsn_entry, dsn_entry_free().
 * Errors: dsn_log_append() returns -1 and logs a warning; the caller then
 *         treats the recipient as deferred (never as done).
 * Notes: each entry is one attribute list written with a single write(2)
 *        in O_APPEND mode, so concurrent agents never interleave. See
 *        docs/ipc.md "status logs".
 */
#ifndef POSTERN_DSN_LOG_H
#define POSTERN_DSN_LOG_H
#include "sys_compat.h"

struct dsn_entry {
    char *recipient;
    char *orig_rcpt;
    char *dsn_orcpt;
    int notify;
    long offset;
    char *status;       /* "5.1.1" */
    char *action;       /* failed, delayed, delivered, relayed, expanded */
    char *reason;       /* human text */
    char *mta;          /* remote MTA or "" */
    char *diag_type;    /* "smtp" or "" */
    char *diag_text;    /* "550 5.1.1 ..." or "" */
    long time;
};

/* Appends e to QUEUE/ID (QUEUE is "bounce", "defer" or "trace"). */
int dsn_log_append(const char *queue, const char *id, const struct dsn_entry *e);
/* Reads all entries; returns count (>= 0, *out new array) or -1. */
int dsn_log_read(const char *queue, const char *id, struct dsn_entry **out);
void dsn_entries_free(struct dsn_entry *v, int n);
int dsn_log_remove(const char *queue, const char *id);

#endif
