/*
 * rewrite_clnt.h - client of the trivial-rewrite service (rewrite, resolve)
 *
 * Used by: cleanup (address rewriting), qmgr (recipient routing), smtpd
 *          (reject_unauth_destination, recipient checks).
 * Interface: rewrite_clnt_rewrite(), rewrite_clnt_resolve(),
 *            rewrite_clnt_verify(), resolve_reply_init(),
 *            resolve_reply_free(), rewrite_clnt_disconnect(),
 *            rewrite_clnt_cache_flush().
 * Errors: the calls return -1 after logging a warning when the service
 *         cannot be reached or answers nonsense; the caller defers.
 * Notes: one persistent connection per process, reopened once per call
 *        when it broke (the service may have been recycled by master).
 *        Rewrite and resolve answers are kept in a small LRU cache (RESOLVE_CACHE_SIZE
 *        entries, RESOLVE_CACHE_TTL seconds) because qmgr, smtpd and cleanup ask
 *        once per recipient; answers with RESOLVE_FLAG_FAIL are not cached.
 *        Protocol: docs/ipc.md "rewrite".
 */
#ifndef POSTERN_REWRITE_CLNT_H
#define POSTERN_REWRITE_CLNT_H
#include "sys_compat.h"
#include "sbuf.h"

#define RESOLVE_FLAG_FINAL 1
#define RESOLVE_FLAG_ROUTED 2
#define RESOLVE_FLAG_ERROR 4
#define RESOLVE_FLAG_FAIL 8

#define REWRITE_LOCAL "local"
#define REWRITE_REMOTE "remote"

#define RESOLVE_CACHE_SIZE 128
#define RESOLVE_CACHE_TTL 30

struct resolve_reply {
    struct sbuf *transport;
    struct sbuf *nexthop;
    struct sbuf *recipient;
    int flags;
    char class_[16];    /* local, alias, virtual, relay, default */
};

/* Allocates the buffers of reply. */
void resolve_reply_init(struct resolve_reply *reply);
void resolve_reply_free(struct resolve_reply *reply);

/* Rewrites addr (internal form) in context rule ("local" or "remote").
 * Fills out. Returns 0, or -1 (service unreachable; logged). */
int rewrite_clnt_rewrite(const char *rule, const char *addr, struct sbuf *out);
/* Resolves addr for sender. Fills reply. Returns 0, or -1 (logged). A
 * table failure inside the service is reply->flags & RESOLVE_FLAG_FAIL. */
int rewrite_clnt_resolve(const char *sender, const char *addr, struct resolve_reply *reply);
/* Same, as request=verify: the routing of an address probe, with the
 * address_verify_* overrides (qmgr, for messages from verify(8)). */
int rewrite_clnt_verify(const char *sender, const char *addr, struct resolve_reply *reply);
/* Closes the connection (e.g. before a long sleep). */
void rewrite_clnt_disconnect(void);
/* Forgets every cached resolve answer. */
void rewrite_clnt_cache_flush(void);

#endif
