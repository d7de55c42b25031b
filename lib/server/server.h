/*
 * server.h - the daemon skeleton every Postern service runs inside
 *
 * Used by: every program that master starts.
 * Interface: server_main(), server_service_name(), server_program_name(),
 *            server_stop_soon(), server_release(), server_multi_done(),
 *            server_pass_attr(), server_offer_next_session(),
 *            server_client_sessions().
 * Notes: master runs a child as
 *          PROGRAM -n SERVICE -t TYPE [-u] [-c] [-s N] [-v] [-o name=value]... [args]
 *        with fd 3 = the service's status pipe and fds 4..4+N-1 = the
 *        listening sockets (see docs/master-protocol.md). The skeleton
 *        loads main.cf plus the -o overrides, sets up logging, chdir()s to
 *        $queue_directory, calls pre_jail (still root), chroot()s (-c) and
 *        drops to $mail_owner (-u), calls post_jail, then runs the loop for
 *        its model until max_use clients, max_idle seconds idle, or master
 *        goes away. Services ignore SIGPIPE; they never fork in a callback.
 *        Run by hand with -S (stand-alone), SINGLE services serve stdin/stdout.
 *        On a type "pass" service each accepted UNIX connection carries
 *        a client's TCP descriptor (lib/mail/pass_fd.h), which is served
 *        in its place.
 */
#ifndef POSTERN_SERVER_H
#define POSTERN_SERVER_H
#include "sys_compat.h"
#include "stream.h"

enum server_model {
    SERVER_SINGLE,      /* one client at a time, a whole session per callback */
    SERVER_MULTI,       /* many clients on an event loop, one request per callback */
    SERVER_TRIGGER,     /* one-byte wake-ups; the daemon may add its own events */
    SERVER_DGRAM,       /* datagrams on a unix-dgram socket (postlogd) */
};

struct server_ops {
    enum server_model model;
    bool resident;              /* ignore max_use and max_idle (qmgr, anvil) */
    bool delivery;              /* qmgr, local, virtual, pipe, discard, error:
                                 * main.cf's postern_delivery_priority applies */
    bool in_flow;               /* SINGLE: takes an in_flow_delay token for each
                                 * client, waiting in_flow_delay without one
                                 * (cleanup; mail_flow.h) */
    bool flow_tokens;           /* keeps the in_flow_delay pipe for its own use
                                 * (qmgr produces the tokens) */
    void (*pre_jail)(void);     /* still root: open tables, keys, files */
    void (*post_jail)(void);    /* after chroot and privilege drop */
    /* SINGLE: serve the whole conversation. */
    void (*service)(struct stream *client);
    /* MULTI: serve one request; return -1 to close the connection. */
    int (*request)(struct stream *client);
    /* MULTI: a client connected (optional; e.g. send the proto greeting).
     * Return -1 to close it at once. */
    int (*connect)(struct stream *client);
    /* MULTI: a client went away (optional). */
    void (*disconnect)(struct stream *client);
    /* TRIGGER: bytes received on the trigger socket or fifo. */
    void (*trigger)(const char *buf, size_t len);
    /* DGRAM: one datagram. */
    void (*dgram)(const char *buf, size_t len);
    /* DGRAM: the socket has been read dry for now (optional; e.g. flush). */
    void (*dgram_drained)(void);
    /* Called before the process exits normally (optional). */
    void (*on_exit)(void);
    /* SINGLE, optional: seconds until the service wants idle() called while
     * it waits for a client (<0: not needed), and that call. smtp hands
     * the connection it kept to scache this way. */
    double (*idle_due)(void);
    void (*idle)(void);
    /* SINGLE, optional: the longest wait, in seconds, for the next session
     * on a connection this process offered one (server_offer_next_session);
     * 0: max_idle. cleanup, whose clients keep the connection without
     * closing it when idle, sets a few seconds. */
    double keep_idle;
};

/* MULTI: a request callback may take client s over (watching its fd with
 * its own event callbacks: event_fd_add() replaces the skeleton's watch);
 * it then calls this once when done with it: s is closed and the client
 * counted as gone (tlsproxy). max_use ends the process only when no such
 * client is left. */
void server_multi_done(struct stream *s);
/* Runs the service; returns only to exit with its result. */
int server_main(int argc, char **argv, const struct server_ops *ops);
/* The master.cf service name (-n), e.g. "submission" (borrowed). */
const char *server_service_name(void);
/* The program name, e.g. "smtpd" (borrowed). */
const char *server_program_name(void);
/* Extra arguments after the options (borrowed, NULL-terminated). */
char **server_args(void);
/* Asks the loop to exit after the current client/request. */
void server_stop_soon(void);
/* SINGLE: the client has its answer; what is left of the callback is
 * this process's own follow-up (logging, a trigger). Tells master now
 * that the process is available, so that a client arriving meanwhile does
 * not make master start another process: the connection waits in the
 * listen queue for the few microseconds until the loop accepts it. Not
 * when this is the last client max_use allows. A SIGTERM from now until
 * the callback returns ends the process after it (not in the middle). */
void server_release(void);
/* SINGLE: called by a service as it answers its client's request. True
 * when this process can serve another session on the same connection
 * (not its last under max_use, not stopping, and the service is not at
 * its process limit with no other process idle, where a new client would
 * wait for this one): the service then tells its client so, and once
 * service() returns, the skeleton waits on the connection and calls
 * service() again when the client sends more (the delivery agents, whose
 * client is qmgr; cleanup, whose client is smtpd; docs/ipc.md). From a
 * true answer until service() returns, a SIGTERM ends the process after
 * the callback, as after server_release(). False elsewhere. */
bool server_offer_next_session(void);
/* SINGLE: how many sessions this connection had before the current one
 * (0 on a new connection, and when run by hand). */
long server_client_sessions(void);
/* True when master runs us with privilege separation (-u). */
bool server_unprivileged(void);
/* On a master.cf "pass" service: an attribute the sender gave with the
 * current client's descriptor (lib/mail/pass_fd.h names them), borrowed;
 * NULL elsewhere or when not sent. */
const char *server_pass_attr(const char *name);

#endif
