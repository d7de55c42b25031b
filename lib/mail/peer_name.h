/*
 * peer_name.h - the verified host name of a network client
 *
 * Used by: smtpd_peer.c, qmqpd_peer.c.
 * Interface: peer_name_lookup().
 * Errors: none returned; a name that fails a check is logged and not used.
 * Notes: the PTR answer is data the client's owner controls, so a name is
 *        kept only when it is a plausible host name (labels of 1-63
 *        letters, digits, '-' or '_', not starting or ending with '-', at
 *        most 255 bytes, not a numeric address) and its forward lookup gives
 *        the client's address back (Postfix's "does not resolve to
 *        address" check). A confirmed name is reused for 5 seconds for the
 *        same address (peer_name.c).
 */
#ifndef POSTERN_PEER_NAME_H
#define POSTERN_PEER_NAME_H
#include "sys_compat.h"
#include <sys/socket.h>

/* Looks up the name of sa (numeric address addr, unmapped) and copies it
 * to out when it passes both checks; out is left as it was otherwise.
 * True when a name was copied. */
bool peer_name_lookup(const struct sockaddr *sa, socklen_t len, const char *addr, char *out,
                      size_t outlen);
/* How many PTR lookups peer_name_lookup() has made (the rest were answered
 * from its few-second memory of confirmed names; for tests). */
unsigned long peer_name_resolver_calls(void);
/* The plausibility check alone (exported for tests). */
bool peer_name_plausible(const char *name);

#endif
