/*
 * mail_proto.h - service endpoints, protocol names and shared request fields
 *
 * Used by: every IPC client and server.
 * Interface: mail_connect(), mail_trigger(), mail_service_path(); the
 *            MAIL_PROTO_* greeting names and MAIL_CLASS_* directories.
 * Notes: the request/reply fields of each protocol are listed in
 *        docs/ipc.md; the names here are the single source for code.
 */
#ifndef POSTERN_MAIL_PROTO_H
#define POSTERN_MAIL_PROTO_H
#include "sys_compat.h"
#include "sbuf.h"
#include "stream.h"

#define MAIL_CLASS_PRIVATE "private"
#define MAIL_CLASS_PUBLIC "public"

#define MAIL_SERVICE_CLEANUP "cleanup"
#define MAIL_SERVICE_PICKUP "pickup"
#define MAIL_SERVICE_QMGR "qmgr"
#define MAIL_SERVICE_REWRITE "rewrite"
#define MAIL_SERVICE_BOUNCE "bounce"
#define MAIL_SERVICE_DEFER "defer"
#define MAIL_SERVICE_TRACE "trace"
#define MAIL_SERVICE_SHOWQ "showq"
#define MAIL_SERVICE_FLUSH "flush"
#define MAIL_SERVICE_POSTLOG "postlog"
#define MAIL_SERVICE_ANVIL "anvil"

#define MAIL_PROTO_CLEANUP "cleanup_v1"
#define MAIL_PROTO_REWRITE "rewrite_v1"
#define MAIL_PROTO_DELIVERY "delivery_v1"
#define MAIL_PROTO_BOUNCE "bounce_v1"
/* Postfix's own name: showq speaks Postfix's framing (attr_write0). */
#define MAIL_PROTO_SHOWQ "mail_queue_list_protocol"
#define MAIL_PROTO_FLUSH "flush_v1"

/* qmgr trigger bytes */
#define QMGR_TRIGGER_INCOMING 'I'
#define QMGR_TRIGGER_DEFERRED 'D'
#define QMGR_TRIGGER_IGNORE_TIME 'A'
#define QMGR_TRIGGER_FLUSH_DEAD 'F'
#define QMGR_TRIGGER_WAKEUP 'W'

/* Fills out with the socket path of class/service. Relative to
 * $queue_directory unless absolute is true. */
void mail_service_path(struct sbuf *out, const char *class_, const char *service, bool absolute);
/* Chrooted daemons reach sockets by paths relative to $queue_directory. */
void mail_use_relative_paths(bool on);
/* Connects to class/service and checks the greeting proto (NULL: none).
 * Returns a stream with $ipc_timeout, or NULL after logging a warning. */
struct stream *mail_connect(const char *class_, const char *service, const char *proto);
/* Sends a one-byte trigger; 0 or -1 (not logged: a lost trigger only delays). */
int mail_trigger(const char *class_, const char *service, char byte);
/* The same over a connection kept for the next call (sock_trigger_held()):
 * for a process that triggers one service again and again (cleanup, qmgr). */
int mail_trigger_held(const char *class_, const char *service, char byte);

#endif
