/*
 * known_ports.h - TCP port numbers for service names ($known_tcp_ports)
 *
 * Used by: master (inet service endpoints), smtp/lmtp (next-hop ports,
 *          smtp_tcp_port, lmtp_tcp_port).
 * Interface: known_ports_parse(), known_ports_load(), known_ports_free(),
 *            known_ports_filter(), known_ports_number().
 * Errors: a malformed entry is skipped and described (parse) or logged as a
 *         warning naming the parameter (load), as Postfix does; the valid
 *         entries still count.
 * Notes: syntax "name = port, name = name = port, ...": a comma ends an
 *        entry, several names may share one port, white space around names
 *        and numbers is optional but may not appear inside them. Names are
 *        matched exactly (case matters) and are consulted before the
 *        services(5) database, so that "submission" or "smtps" mean the same
 *        port on every system.
 */
#ifndef POSTERN_KNOWN_PORTS_H
#define POSTERN_KNOWN_PORTS_H
#include "sys_compat.h"

struct sbuf;
struct known_ports;

/* Parses a known_tcp_ports value. Returns new (free with known_ports_free;
 * an empty table for an empty value). Each bad entry is skipped and, when
 * errs is non-NULL, described on a line of its own appended to errs
 * ("in \"smtp\": not in name = port form"). */
struct known_ports *known_ports_parse(const char *settings, struct sbuf *errs);
/* known_ports_parse() of $known_tcp_ports, each problem logged as a warning
 * that names the parameter. Returns new. */
struct known_ports *known_ports_load(void);
void known_ports_free(struct known_ports *kp);
/* The port number (as text) for a service name in the table; anything else
 * (a number, an unknown name, NULL, or kp NULL) is returned as given.
 * Borrowed: valid while kp and name live. */
const char *known_ports_filter(const struct known_ports *kp, const char *name);
/* The port number of a TCP service: the table first, then a decimal
 * number (at most 65535), then the services(5) database. -1 when none of
 * them knows it. */
int known_ports_number(const struct known_ports *kp, const char *service);

#endif
