/*
 * scache_clnt.h - client of the scache connection cache service
 *
 * Used by: smtp and lmtp (smtp_cache.c), tests.
 * Interface: scache_clnt_new(), scache_clnt_free(), scache_clnt_save(),
 *            scache_clnt_find().
 * Errors: every failure (service missing, protocol error, timeout) makes
 *         the call report "nothing cached" or "not saved"; the first failure
 *         after a success is logged as a warning. A missing scache only
 *         costs new connections, never mail.
 * Notes: the protocol is in docs/ipc.md "scache". Connections are passed
 *        as descriptors (SCM_RIGHTS, lib/util/sock.h). Every request starts
 *        with one raw byte sent with sock_send_fd() - 'S' with the
 *        connection attached for a save, 'F' for a find - followed by an
 *        attribute list; a find is answered first by one raw byte ('1'
 *        with the descriptor attached, or '0'), then by an attribute list.
 *        Raw bytes are only ever sent when the other side has nothing
 *        unread, so no buffered stream can swallow a descriptor.
 */
#ifndef POSTERN_SCACHE_CLNT_H
#define POSTERN_SCACHE_CLNT_H
#include "sys_compat.h"
#include "sbuf.h"

#define SCACHE_PROTO "scache_v1"

/* Raw request and reply bytes. */
#define SCACHE_BYTE_SAVE 'S'
#define SCACHE_BYTE_FIND 'F'
#define SCACHE_BYTE_FOUND '1'
#define SCACHE_BYTE_NONE '0'

/* Request names (attribute "request"). */
#define SCACHE_REQ_SAVE "save"
#define SCACHE_REQ_FIND_ENDP "find_endp"
#define SCACHE_REQ_FIND_DEST "find_dest"

/* Longest label or property string accepted. */
#define SCACHE_LABEL_MAX 1024
#define SCACHE_PROPS_MAX 4096

struct scache_clnt;

/* A client of private/$connection_cache_service_name with the given
 * per-request timeout (connection_cache_protocol_timeout). Connects on
 * first use. Returns new. */
struct scache_clnt *scache_clnt_new(const char *service, int timeout);
void scache_clnt_free(struct scache_clnt *c);

/* Hands the idle connection fd to the cache for at most ttl seconds, under
 * the endpoint label and (dest_label not NULL or "") the destination label,
 * with props (opaque to the cache) to be returned by a find. fd is always
 * closed here, whether or not the cache took it. Returns 0 when the
 * request went out: its answer is not waited for (the caller has no use
 * for it) but read before the next request, or never when the process
 * ends; a refusal is only logged (debug). -1: not sent. */
int scache_clnt_save(struct scache_clnt *c, const char *endp_label, const char *dest_label,
                     const char *props, int ttl, int fd);

/* Takes a cached connection out of the cache by its endpoint label
 * (by_dest false) or destination label (by_dest true). Returns the
 * descriptor (the caller owns it) with props filled, or -1 when none. */
int scache_clnt_find(struct scache_clnt *c, bool by_dest, const char *label, struct sbuf *props);

#endif
