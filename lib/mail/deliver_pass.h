/*
 * deliver_pass.h - hand one recipient of a delivery request to another
 *                  transport (local's mailbox_transport, fallback_transport)
 *
 * Used by: local.
 * Interface: deliver_pass().
 * Errors: a transport that cannot be reached or answers nonsense returns -1
 *         with the reason filled; the caller then defers the recipient
 *         ("4.3.0 mail transport unavailable"), as Postfix does.
 * Notes: as Postfix's deliver_pass(), the request goes straight to the
 *        transport's socket (private/TRANSPORT) with the same queue file,
 *        sender and log attributes, the given next hop and one recipient.
 *        The other agent logs the delivery, writes the status logs and
 *        reports to the sender exactly as for a request from qmgr; the request
 *        carries DELIVER_REQ_F_PASSED so that it does not mark the recipient
 *        done: the passing agent does that for the whole queue recipient
 *        (an alias may expand to several users handed on separately).
 */
#ifndef POSTERN_DELIVER_PASS_H
#define POSTERN_DELIVER_PASS_H
#include "sys_compat.h"
#include "deliver_request.h"

/* Passes rc (usually a copy of a queue recipient with the address being
 * delivered) of request r to "transport:nexthop" (spec; without ":nexthop"
 * the request's own next hop is used). Returns 0 when the other agent
 * finished the recipient (delivered or bounced), 1 when it deferred it, -1
 * when it could not be asked (why filled). */
int deliver_pass(struct deliver_request *r, const char *spec, const struct deliver_rcpt *rc,
                 struct sbuf *why);

#endif
