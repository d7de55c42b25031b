/*
 * dnsblog_proto.h - the dnsblog(8) request and reply (docs/postscreen.md)
 *
 * Used by: dnsblog (server), postscreen (client).
 * Interface: the attribute names below; lib/util/attr.h framing.
 * Notes: the server greets with proto=dnsblog_v1. One request per
 *        connection: domain (the DNS list, without a reply filter), address
 *        (the client's numeric address), id (the caller's tag, echoed) and
 *        want_txt ("1": also look up the TXT record). The reply echoes
 *        domain, address and id and adds status (ok: listed, notfound,
 *        tempfail), addresses (the A records, separated by spaces), ttl
 *        (seconds, the smallest TTL of those records) and txt (when asked
 *        for and listed).
 */
#ifndef POSTERN_DNSBLOG_PROTO_H
#define POSTERN_DNSBLOG_PROTO_H

#define DNSBLOG_PROTO "dnsblog_v1"
#define DNSBLOG_ATTR_DOMAIN "domain"
#define DNSBLOG_ATTR_ADDRESS "address"
#define DNSBLOG_ATTR_ID "id"
#define DNSBLOG_ATTR_WANT_TXT "want_txt"
#define DNSBLOG_ATTR_STATUS "status"
#define DNSBLOG_ATTR_ADDRESSES "addresses"
#define DNSBLOG_ATTR_TTL "ttl"
#define DNSBLOG_ATTR_TXT "txt"

#define DNSBLOG_STATUS_OK "ok"
#define DNSBLOG_STATUS_NOTFOUND "notfound"
#define DNSBLOG_STATUS_TEMPFAIL "tempfail"

#endif
