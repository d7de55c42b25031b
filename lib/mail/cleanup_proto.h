/*
 * cleanup_proto.h - flags and status bits of the cleanup protocol
 *
 * Used by: cleanup (server), smtpd, pickup, bounce, local (clients).
 * Notes: see docs/ipc.md "cleanup".
 */
#ifndef POSTERN_CLEANUP_PROTO_H
#define POSTERN_CLEANUP_PROTO_H

#define CLEANUP_FLAG_BOUNCE 0x1         /* on fatal error, bounce instead of reject */
#define CLEANUP_FLAG_EXTRACT 0x2        /* sendmail -t: recipients from headers */
#define CLEANUP_FLAG_HOLD 0x4           /* place in hold queue */
#define CLEANUP_FLAG_DISCARD 0x8        /* accept and throw away */
#define CLEANUP_FLAG_MAP_OK 0x10        /* address mapping allowed (canonical, virtual) */
#define CLEANUP_FLAG_FILTER 0x20        /* content_filter applies */
#define CLEANUP_FLAG_BCC_OK 0x40        /* always_bcc etc. allowed */
#define CLEANUP_FLAG_HEADER_CHECKS 0x80 /* header/body checks allowed */
#define CLEANUP_FLAG_NOTIFY_SMTPUTF8 0x100
#define CLEANUP_FLAG_DKIM 0x200         /* trusted submission: DKIM-sign (postern_dkim_sign_clients) */
#define CLEANUP_FLAG_MASK_EXTERNAL (CLEANUP_FLAG_FILTER | CLEANUP_FLAG_MAP_OK | CLEANUP_FLAG_BCC_OK | CLEANUP_FLAG_HEADER_CHECKS)
#define CLEANUP_FLAG_MASK_INTERNAL CLEANUP_FLAG_MAP_OK

/* Extra envelope records a client may send (values as in Postfix). */
#define CLEANUP_REC_FLAGS 'f'           /* more CLEANUP_FLAG_HOLD/DISCARD bits */
#define CLEANUP_REC_REDIRECT '>'        /* send to this address instead */
/* Extracted segment only: "5XX text" of a non_smtpd_milters rejection;
 * the message is returned to its sender (CLEANUP_FLAG_BOUNCE) or refused. */
#define CLEANUP_REC_REJECT '!'

/* Keeping the connection (docs/ipc.md "cleanup"): a client that can use it
 * for its next message sends CLEANUP_ATTR_KEEP with its flags; cleanup
 * then adds CLEANUP_ATTR_MORE to its verdict when it will serve another
 * message on the connection, waiting at most CLEANUP_KEEP_IDLE seconds for
 * it. A client reuses a kept connection only within CLEANUP_KEEP_CLIENT_IDLE
 * seconds, so it seldom finds one that cleanup has just closed. */
#define CLEANUP_ATTR_KEEP "keep"
#define CLEANUP_ATTR_MORE "more"
#define CLEANUP_KEEP_IDLE 2.0
#define CLEANUP_KEEP_CLIENT_IDLE 1.0

#define CLEANUP_STAT_OK 0
#define CLEANUP_STAT_BAD 0x1
#define CLEANUP_STAT_WRITE 0x2
#define CLEANUP_STAT_SIZE 0x4
#define CLEANUP_STAT_CONT 0x8
#define CLEANUP_STAT_HOPS 0x10
#define CLEANUP_STAT_RCPT 0x20
#define CLEANUP_STAT_PROXY 0x40
#define CLEANUP_STAT_DEFER 0x80

#endif
