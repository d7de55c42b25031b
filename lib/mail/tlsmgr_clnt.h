/*
 * tlsmgr_clnt.h - client of the tlsmgr service: shared TLS session cache,
 *                 session ticket keys and PRNG seed
 *
 * Used by: smtpd (server sessions and ticket keys), smtp/lmtp (client
 *          sessions), both for the PRNG seed; tlsmgr (the wire names and
 *          the hex coding).
 * Interface: tlsmgr_clnt_new(), tlsmgr_clnt_free(), tlsmgr_clnt_ops(),
 *            tlsmgr_clnt_seed(), tlsmgr_clnt_seed_prng(), tlsmgr_hex_encode(),
 *            tlsmgr_hex_decode().
 * Errors: a service that cannot be reached or answers badly is logged once
 *         per outage and then not asked for TLSMGR_CLNT_RETRY seconds: TLS
 *         still works, only without shared sessions (full handshakes).
 * Notes: the protocol is in docs/ipc.md "tlsmgr": the server greets with
 *        proto=tlsmgr_v1; requests lookup, update, delete (cache_type
 *        smtpd/smtp/lmtp, cache_id, session as hex), tktkey (keyname as hex
 *        or empty for the current key) and seed (size). The socket is
 *        private/$tlsmgr_service_name under the queue directory.
 */
#ifndef POSTERN_TLSMGR_CLNT_H
#define POSTERN_TLSMGR_CLNT_H
#include "sys_compat.h"
#include "sbuf.h"
#include "tls_common.h"

#define TLSMGR_PROTO "tlsmgr_v1"
#define TLSMGR_REQ_LOOKUP "lookup"
#define TLSMGR_REQ_UPDATE "update"
#define TLSMGR_REQ_DELETE "delete"
#define TLSMGR_REQ_TKTKEY "tktkey"
#define TLSMGR_REQ_SEED "seed"

/* Limits on what crosses the socket (tlsmgr enforces them on requests,
 * the client on replies). */
#define TLSMGR_ID_MAX 512           /* cache_id length */
#define TLSMGR_SESSION_MAX 16384    /* serialized session, bytes */
#define TLSMGR_SEED_MAX 1024        /* bytes of one seed request */

struct tlsmgr_clnt;

/* A client for cache_type ("smtpd", "smtp", "lmtp"; borrowed, must stay
 * valid). Nothing is connected until first use. Returns new. */
struct tlsmgr_clnt *tlsmgr_clnt_new(const char *cache_type);
void tlsmgr_clnt_free(struct tlsmgr_clnt *t);
/* Fills ops with callbacks that talk to tlsmgr through t: sessions (get,
 * put, del) when sessions is true, ticket keys when tickets is true. */
void tlsmgr_clnt_ops(struct tlsmgr_clnt *t, bool sessions, bool tickets,
                     struct tls_cache_ops *ops);
/* Fills buf with len (at most TLSMGR_SEED_MAX) bytes from tlsmgr's
 * generator. 0, or -1 (unreachable). */
int tlsmgr_clnt_seed(struct tlsmgr_clnt *t, unsigned char *buf, size_t len);
/* Once per process: adds $tls_random_bytes from tlsmgr to OpenSSL's
 * generator (tls_prng_add); a failure is logged by the client and only
 * means OpenSSL keeps its own kernel seed. */
void tlsmgr_clnt_seed_prng(struct tlsmgr_clnt *t);

/* Appends the lower-case hex form of len bytes to out. */
void tlsmgr_hex_encode(struct sbuf *out, const unsigned char *buf, size_t len);
/* Replaces out with the bytes of hex text in; -1 when in is not an even
 * number of hex digits or would decode to more than max bytes. */
int tlsmgr_hex_decode(struct sbuf *out, const char *in, size_t max);

#endif
