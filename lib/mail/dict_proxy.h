/*
 * dict_proxy.h - the proxymap protocol and the proxy: table client
 *
 * Used by: dict.c (the proxy: type), proxymap (the server), tests.
 * Interface: DICT_PROXY_* protocol names and status codes,
 *            dict_proxy_disconnect(), dict_type_proxy and dict_type_find()
 *            (the last two for dict.c and dict_proxy.c only).
 * Notes: protocol in docs/ipc.md "proxymap". A proxy:TYPE:NAME table sends
 *        each lookup to $queue_directory/private/$proxymap_service_name,
 *        which opens TYPE:NAME outside any chroot and shares it (and its
 *        database connections) among all clients.
 */
#ifndef POSTERN_DICT_PROXY_H
#define POSTERN_DICT_PROXY_H
#include "sys_compat.h"
#include "dict.h"

#define DICT_PROXY_PROTO "proxymap_v1"
#define DICT_PROXY_PREFIX "proxy:"

/* Request names. */
#define DICT_PROXY_REQ_OPEN "open"
#define DICT_PROXY_REQ_LOOKUP "lookup"
#define DICT_PROXY_REQ_UPDATE "update"

/* Reply status values. */
#define DICT_PROXY_STAT_OK 0        /* found (lookup) or opened (open) */
#define DICT_PROXY_STAT_NOKEY 1     /* not found */
#define DICT_PROXY_STAT_RETRY 2     /* the table failed: try again later */
#define DICT_PROXY_STAT_DENY 3      /* not in proxy_read_maps, or cannot be opened */
#define DICT_PROXY_STAT_BAD 4       /* malformed request */

/* Flags a client may pass to the server (DICT_F_FOLD | DICT_F_ALIAS). */
#define DICT_PROXY_CLIENT_FLAGS (DICT_F_FOLD | DICT_F_ALIAS)

/* Longest table name ("TYPE:NAME") accepted in a request. */
#define DICT_PROXY_TABLE_MAX 1024

/* Closes this process's connection to proxymap (if any); the next lookup
 * reconnects. For programs that fork or drop privileges. */
void dict_proxy_disconnect(void);

/* For dict.c and dict_proxy.c only. */
struct dict_type;
extern const struct dict_type dict_type_proxy;
/* The table type called name (not "proxy"), or NULL (borrowed). */
const struct dict_type *dict_type_find(const char *name);

#endif
