/*
 * server.c - the daemon skeleton: arguments, config, jail, loops
 *
 * Used by: every daemon master starts.
 * Interface: see server.h.
 * Errors: setup failures are fatal (master restarts the service with a
 *         back-off); peer errors end that conversation only.
 */
#include "server.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "dynlib.h"
#include "events.h"
#include "log.h"
#include "mail_flow.h"
#include "mail_log.h"
#include "mail_owner.h"
#include "mail_sched.h"
#include "mail_proto.h"
#include "master_status.h"
#include "mastercf.h"
#include "param_support.h"
#include "pass_fd.h"
#include "sbuf.h"
#include "sock.h"
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

static const struct server_ops *srv_ops;
static char srv_service[128] = "";
static char srv_program[64] = "";
static char srv_type[32] = "";
static char **srv_args;
static int srv_nlisten = 1;
static int srv_listen_fds[64];
static bool srv_unpriv, srv_chroot, srv_standalone;
static bool srv_debug;             /* -D: run debugger_command first */
static bool srv_stop;
static long srv_use_count, srv_max_use, srv_max_idle;
static double srv_last_active;
static int srv_clients;
static pid_t srv_parent;
static pid_t srv_pid;                   /* callbacks never fork, so it stays ours */
static volatile sig_atomic_t srv_released;  /* server_release() called for this client */
static volatile sig_atomic_t srv_answered;  /* another session offered: finish the callback */
static volatile sig_atomic_t srv_term;      /* SIGTERM to be acted on by the loop */
static struct attr_list *srv_pass_attrs;   /* type "pass": what the sender said */
static int srv_slot = -1;               /* status board slot (-b), -1 = pipe only */
static bool srv_flow;                   /* -f: the in_flow_delay pipe follows */
static long srv_in_flow_delay;          /* in_flow servers: the wait without a token */
static struct master_board *srv_board;  /* the service's status board, mapped */
static long srv_sessions;               /* SINGLE: sessions done on this connection */
static bool srv_keep;                   /* SINGLE: another session offered to the client */

const char *server_service_name(void)
{
    return srv_service;
}

const char *server_program_name(void)
{
    return srv_program;
}

char **server_args(void)
{
    return srv_args;
}

void server_stop_soon(void)
{
    srv_stop = true;
}

bool server_unprivileged(void)
{
    return srv_unpriv;
}

const char *server_pass_attr(const char *name)
{
    return srv_pass_attrs ? attr_get(srv_pass_attrs, name) : NULL;
}

/* With a status board: true when master need not hear of this change.
 * It must hear when the last idle process goes busy (to start more on the
 * next client), unless it already watches the listeners: then that client
 * wakes it. It should hear when the first process comes back while it
 * watches (to stop watching), else it need not. Every slot is stored before
 * it is scanned, so of two processes that go busy at once, the later scan
 * sees both stores. A stale "watching" costs master one wake-up at most. */
/* Is another process of the service idle (by the board)? */
static bool server_board_other_idle(void)
{
    uint32_t hi = __atomic_load_n(&srv_board->hiwater, __ATOMIC_SEQ_CST);
    if (hi > MASTER_BOARD_SLOTS)
        hi = MASTER_BOARD_SLOTS;    /* written by master; bounded all the same */
    for (uint32_t i = 0; i < hi; i++)
        if ((int)i != srv_slot && __atomic_load_n(&srv_board->slot[i].avail, __ATOMIC_SEQ_CST))
            return true;
    return false;
}

static bool server_board_quiet(int avail)
{
    struct master_board_slot *me = &srv_board->slot[srv_slot];
    if (!avail)
        __atomic_store_n(&me->used, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&me->avail, (uint8_t)(avail != 0), __ATOMIC_SEQ_CST);
    if (server_board_other_idle())
        return true;
    bool watching = __atomic_load_n(&srv_board->watching, __ATOMIC_SEQ_CST) != 0;
    return avail ? !watching : watching;
}

/* Has master asked this process to exit when next idle (a reload)? */
static bool server_board_retired(void)
{
    return srv_board && __atomic_load_n(&srv_board->slot[srv_slot].retire, __ATOMIC_SEQ_CST);
}

/* Maps the board master passed after the listeners (-b SLOT). */
static void server_board_map(void)
{
    int fd = MASTER_LISTEN_FD + srv_nlisten;
    struct stat st;
    if (srv_slot < 0)
        return;
    if (fstat(fd, &st) < 0 || st.st_size != (off_t)sizeof(struct master_board))
        log_fatal("-b %d: no status board on fd %d", srv_slot, fd);
    void *m = mmap(NULL, sizeof(struct master_board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (m == MAP_FAILED)
        log_fatal("map the status board: %m");
    close(fd);
    srv_board = m;
}

/* The in_flow_delay pipe master passed after the listeners and the board
 * (-f): kept by the processes that use it while in_flow_delay is on,
 * closed in all others. */
static void server_flow_init(const struct server_ops *ops)
{
    int fd = MASTER_LISTEN_FD + srv_nlisten + (srv_slot >= 0);
    long delay = cfg_time(P_IN_FLOW_DELAY);
    bool keep = (ops->in_flow || ops->flow_tokens) && delay > 0;
    mail_flow_child_init(fd, keep);
    if (keep && ops->in_flow)
        srv_in_flow_delay = delay;
}

/* in_flow servers, for each client: a token, or (none: receiving is ahead
 * of the queue manager) a pause of in_flow_delay first. */
static void server_flow_take(void)
{
    if (srv_in_flow_delay <= 0 || mail_flow_get(1) > 0)
        return;
    struct timespec ts = { srv_in_flow_delay, 0 };
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR && !srv_term)
        ;
}

static void server_status(int avail)
{
    struct master_status st = { .pid = (int32_t)srv_pid, .avail = avail };
    if (srv_standalone)
        return;
    if (srv_board && server_board_quiet(avail))
        return;
    /* The pipe is non-blocking: master may be gone; then we exit soon. */
    if (write(MASTER_STATUS_FD, &st, sizeof(st)) < 0 && errno != EAGAIN)
        srv_stop = true;
}

/* Tells master once that this process has done real work, so that its
 * death is not taken for a start-up failure (no throttling). */
static void server_note_used(void)
{
    static bool noted;
    if (noted)
        return;
    noted = true;
    server_status(0);
    server_status(1);
}

static void server_exit(int code)
{
    if (srv_ops->on_exit)
        srv_ops->on_exit();
    exit(code);
}

static void server_sigterm(int sig)
{
    (void)sig;
    /* A single-client process that has answered its client finishes the
     * follow-up first; an event-loop daemon with an on_exit hook (a cache
     * to write, statistics to log) leaves its loop and runs the hook. */
    if (srv_released || srv_answered || (srv_ops->model != SERVER_SINGLE && srv_ops->on_exit)) {
        srv_term = 1;
        return;
    }
    log_flush_at_signal();
    _exit(0);
}

void server_release(void)
{
    if (srv_ops->model != SERVER_SINGLE || srv_standalone || srv_released)
        return;
    if (!srv_ops->resident && srv_max_use > 0 && srv_use_count + 1 >= srv_max_use)
        return;     /* this was the last client: the process exits, it takes no other */
    srv_released = 1;
    server_status(1);
}

/* Drops root for good: groups, gid, uid; then proves it. */
static void server_drop_privileges(uid_t uid, gid_t gid)
{
    if (setgroups(1, &gid) < 0 || setgid(gid) < 0 || setuid(uid) < 0)
        log_fatal("drop privileges to uid %ld: %m", (long)uid);
    if (uid != 0 && setuid(0) == 0)
        log_fatal("privileges could be regained after dropping them");
}

static void server_jail(void)
{
    struct passwd *pw = NULL;
    const char *owner = cfg_str(P_MAIL_OWNER);
    if (srv_unpriv) {
        pw = getpwnam(owner);
        if (pw == NULL)
            log_fatal("mail_owner %s: no such user (fix main.cf or create the account)", owner);
        if (pw->pw_uid == 0)
            log_fatal("mail_owner %s must not be root", owner);
    }
    /* A service that keeps root (local, virtual, pipe) does its queue,
     * status-log and IPC work as mail_owner (lib/mail/mail_owner.h). */
    if (!srv_unpriv)
        mail_owner_init();
    if (srv_chroot) {
        /* libmariadb/libssl load on first use; map them while reachable. */
        dynlib_chroot_preload();
        if (chroot(".") < 0)
            log_fatal("chroot to %s: %m", cfg_str(P_QUEUE_DIRECTORY));
        if (chdir("/") < 0)
            log_fatal("chdir / in chroot: %m");
        mail_use_relative_paths(true);
    }
    if (pw && geteuid() == 0)
        server_drop_privileges(pw->pw_uid, pw->pw_gid);
}

static void server_parse_args(int argc, char **argv)
{
    int c;
    const char *slash = strrchr(argv[0], '/');
    strlcpy(srv_program, slash ? slash + 1 : argv[0], sizeof(srv_program));
    strlcpy(srv_service, srv_program, sizeof(srv_service));
    opterr = 0;
    while ((c = getopt(argc, argv, "+b:cDfSn:o:s:t:uvz")) != -1) {
        switch (c) {
        case 'b': {
            char *end;
            long slot = strtol(optarg, &end, 10);
            if (*optarg == 0 || *end != 0 || slot < 0 || slot >= MASTER_BOARD_SLOTS)
                log_fatal("bad -b %s", optarg);
            srv_slot = (int)slot;
            break;
        }
        case 'c':
            srv_chroot = true;
            break;
        case 'D':
            srv_debug = true;
            break;
        case 'f':
            srv_flow = true;
            break;
        case 'S':
            srv_standalone = true;
            break;
        case 'n':
            strlcpy(srv_service, optarg, sizeof(srv_service));
            break;
        case 'o': {
            char *eq = strchr(optarg, '=');
            if (eq == NULL)
                log_fatal("-o %s: expected name=value", optarg);
            char *name = xstrndup(optarg, (size_t)(eq - optarg));
            config_override(name, eq + 1);
            xfree(name);
            break;
        }
        case 's':
            srv_nlisten = (int)strtol(optarg, NULL, 10);
            if (srv_nlisten < 0 || srv_nlisten > (int)ARRAY_LEN(srv_listen_fds))
                log_fatal("bad -s %s", optarg);
            break;
        case 't':
            strlcpy(srv_type, optarg, sizeof(srv_type));
            break;
        case 'u':
            srv_unpriv = true;
            break;
        case 'v':
            log_verbose++;
            break;
        case 'z':
            break;
        default:
            log_fatal("unknown option -%c", optopt);
        }
    }
    srv_args = argv + optind;
    /* $service_name in -o values and main.cf (syslog_name = postfix/$service_name). */
    config_override(P_SERVICE_NAME, srv_service);
}

/* Reports this service's settings that Postern does not implement: main.cf
 * and the -o options of its master.cf line (read for the FILE:LINE). */
static void server_report_unsupported(void)
{
    struct sbuf *path = sbuf_new(128);
    struct mastercf *m = NULL;
    FILE *fp;

    sbuf_printf(path, "%s/master.cf", config_dir());
    if ((fp = fopen(sbuf_str(path), "r")) != NULL) {
        mastercf_read(fp, sbuf_str(path), &m);  /* bad lines: master reported them */
        fclose(fp);
    }
    param_support_report(m, srv_service, *srv_type ? srv_type : NULL);
    mastercf_free(m);
    sbuf_free(path);
}

/* -D on the master.cf line: run debugger_command ($process_name and
 * $process_id expanded) with /bin/sh and wait for it, as root and before
 * the chroot, so that the usual "gdb ... $process_id & sleep 5" can attach
 * before the daemon goes on. Without a command there is nothing to run the
 * daemon under: a configuration error. */
static void server_run_debugger(void)
{
    const char *cmd = cfg_str(P_DEBUGGER_COMMAND);
    if (*cmd == 0)
        log_fatal("%s was started with -D, but %s is empty in main.cf", srv_service,
                  P_DEBUGGER_COMMAND);
    log_info("running: %s", cmd);
    int status = system(cmd);
    if (status != 0)
        log_warn("%s: exit status %d", P_DEBUGGER_COMMAND,
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
}

static void server_setup_logging(void)
{
    mail_log_init(srv_program);
    if (srv_standalone)
        log_set_stderr(true);
}

/* Asked after every wake-up; looks at most once a second (PR_SET_PDEATHSIG
 * already sends SIGTERM when master dies; this is the fallback). */
static bool server_master_gone(void)
{
    static double last;
    double now = event_now();
    if (srv_standalone || now - last < 1.0)
        return false;
    last = now;
    return getppid() != srv_parent;
}

static bool server_idle_expired(void)
{
    if (srv_ops->resident || srv_max_idle <= 0)
        return false;
    return srv_clients == 0 && event_now() - srv_last_active >= (double)srv_max_idle;
}

/* Accepts one connection from any ready listener, or returns -1. The new
 * descriptor is non-blocking already (stream_open_nonblock: no fcntl). */
static int server_accept(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
    if (fd < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED && errno != EINTR)
        log_warn("accept: %m");
    /* A "pass" service (master.cf type pass, e.g. smtpd behind postscreen):
     * the connection carries the client's descriptor; serve that instead. */
    if (fd >= 0 && strcmp(srv_type, "pass") == 0) {
        if (srv_pass_attrs == NULL)
            srv_pass_attrs = attr_list_new();
        fd = pass_fd_receive(fd, srv_pass_attrs, 10);
    }
    return fd;
}

/* SINGLE: one wait for input, wait(ctx, ms) returning what poll() or
 * epoll_wait() does. It lasts at most a second (the callers look at master
 * and max_idle after each), less when kept log lines are due (log_idle) or
 * when the service's idle() is: that runs here once its time has come. */
static int server_wait(int (*wait)(void *ctx, int ms), void *ctx)
{
    double due = srv_ops->idle_due ? srv_ops->idle_due() : -1;
    int wait_ms = due >= 0 && due < 1.0 ? (int)(due * 1000) + 1 : 1000;
    int cut = log_idle(wait_ms);
    int n = wait(ctx, cut);
    if (n == 0 && cut >= wait_ms && srv_ops->idle)
        srv_ops->idle();
    return n;
}

/* server_wait() on one descriptor (a kept client). */
static int server_poll_in(void *ctx, int ms)
{
    struct pollfd p = { .fd = *(const int *)ctx, .events = POLLIN };
    return poll(&p, 1, ms);
}

long server_client_sessions(void)
{
    return srv_sessions;
}

/* Could a new client of the service be served without waiting for this
 * process: master may start another one (below the process limit), or
 * another is idle. Without a board, yes. */
static bool server_board_has_room(void)
{
    return srv_board == NULL || !__atomic_load_n(&srv_board->full, __ATOMIC_SEQ_CST)
           || server_board_other_idle();
}

bool server_offer_next_session(void)
{
    if (srv_ops->model != SERVER_SINGLE || srv_standalone)
        return false;
    if (!srv_ops->resident && srv_max_use > 0 && srv_use_count + 1 >= srv_max_use)
        return false;   /* this session is the last max_use allows */
    if (srv_stop || srv_term || server_board_retired() || !server_board_has_room())
        return false;
    srv_keep = true;
    srv_answered = 1;
    return true;
}

/* Waits on a client that was offered another session: true when it has
 * sent something (the next request), false when it closed the connection,
 * the process is to stop, or max_idle passed. While waiting, the process
 * stays busy for master and takes no new client; kept log lines and the
 * service's idle() run as in the accept loop. A SIGTERM now ends the
 * process at once, as it does one waiting in accept. */
static bool server_wait_next_session(struct stream *s)
{
    int fd = stream_fd(s);
    double since = event_now();
    double limit = srv_ops->keep_idle > 0 ? srv_ops->keep_idle : (double)srv_max_idle;
    if (srv_max_idle > 0 && (double)srv_max_idle < limit)
        limit = (double)srv_max_idle;
    while (!srv_stop && !srv_term && !server_board_retired()) {
        if (stream_pending(s) > 0)
            return true;
        int n = server_wait(server_poll_in, &fd);
        if (n < 0 && errno != EINTR)
            return false;
        if (n > 0) {
            ssize_t r = stream_read_ready(s);
            if (r != 0)
                return r > 0;
            continue;
        }
        if (server_master_gone() || (limit > 0 && event_now() - since >= limit))
            return false;
    }
    return false;
}

/* Serves one connection: one session, and more while the service offers
 * them (server_offer_next_session) and the client sends them. Each
 * session counts as one use towards max_use. */
static void server_single_client(struct stream *s)
{
    for (srv_sessions = 0;; srv_sessions++) {
        srv_keep = false;
        if (srv_sessions > 0)
            server_flow_take();     /* a token per session, as per client */
        srv_ops->service(s);
        srv_answered = 0;
        srv_last_active = event_now();
        if (!srv_ops->resident && srv_max_use > 0 && ++srv_use_count >= srv_max_use)
            srv_stop = true;
        if (srv_term || server_board_retired())
            srv_stop = true;
        if (srv_stop || srv_released || !srv_keep || !server_wait_next_session(s))
            break;
    }
    srv_sessions = 0;
}

/* server_wait() on the listeners' epoll instance. */
struct server_listen_wait {
    int ep;
    struct epoll_event *ev;
    int max;
};

static int server_epoll_in(void *ctx, int ms)
{
    struct server_listen_wait *w = ctx;
    return epoll_wait(w->ep, w->ev, w->max, ms);
}

/*
 * One client at a time. All idle processes of a service wait on the same
 * listening sockets; with poll() every one of them woke for each new
 * connection and all but one lost the accept() race (20 idle cleanup
 * processes: 20 wake-ups and 19 failed accepts per message). Each process
 * waits in its own epoll instance with EPOLLEXCLUSIVE instead, so the
 * kernel wakes one waiter per connection (Postfix serialises accept()
 * with a lock for the same reason).
 */
static void server_single_loop(void)
{
    struct epoll_event ev[ARRAY_LEN(srv_listen_fds)];
    int ep = epoll_create1(EPOLL_CLOEXEC);
    if (ep < 0)
        log_fatal("epoll_create1: %m");
    for (int i = 0; i < srv_nlisten; i++) {
        struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i };
        if (epoll_ctl(ep, EPOLL_CTL_ADD, srv_listen_fds[i], &e) < 0)
            log_fatal("epoll_ctl: %m");
    }
    server_status(1);
    struct server_listen_wait lw = { ep, ev, srv_nlisten };
    while (!srv_stop) {
        int n = server_wait(server_epoll_in, &lw);
        if (n < 0 && errno != EINTR)
            log_fatal("epoll_wait: %m");
        if (server_master_gone() || server_idle_expired())
            break;
        for (int k = 0; k < n && !srv_stop; k++) {
            int i = (int)ev[k].data.u32;
            if (!(ev[k].events & EPOLLIN))
                continue;
            int fd = server_accept(srv_listen_fds[i]);
            if (fd < 0)
                continue;
            server_status(0);
            server_flow_take();
            struct stream *s = stream_open_nonblock(fd);
            server_single_client(s);
            stream_close(s);
            if (!srv_stop && !srv_released)
                server_status(1);
            srv_released = 0;
        }
    }
}

/*
 * A multi-client server counts one use per client that has gone. At max_use
 * it takes no new client (master is told it is busy, so a new connection
 * gets a new process) and exits once the clients it still has are done:
 * exiting at once dropped them all, and a client whose one reconnection
 * met the same fate got "Temporary lookup failure" (trivial-rewrite with
 * max_use = 1 under 20 concurrent sessions).
 */
static void server_multi_count_use(void)
{
    static bool draining;
    if (srv_ops->resident || srv_max_use <= 0 || ++srv_use_count < srv_max_use)
        return;
    if (!draining) {
        draining = true;
        for (int i = 0; i < srv_nlisten; i++)
            event_fd_del(srv_listen_fds[i]);
        server_status(0);
    }
    if (srv_clients == 0)
        srv_stop = true;
}

static void server_multi_client(int fd, int events, void *ctx)
{
    struct stream *s = ctx;
    (void)events;
    srv_last_active = event_now();
    int r;
    server_note_used();
    do
        r = srv_ops->request(s);
    while (r == 0 && stream_pending(s) > 0 && !srv_stop);
    if (r < 0) {
        if (srv_ops->disconnect)
            srv_ops->disconnect(s);
        event_fd_del(fd);
        stream_close(s);
        srv_clients--;
        server_multi_count_use();
    }
}

void server_multi_done(struct stream *s)
{
    if (srv_ops->disconnect)
        srv_ops->disconnect(s);
    event_fd_del(stream_fd(s));
    stream_close(s);
    srv_clients--;
    srv_last_active = event_now();
    server_multi_count_use();
}

static void server_multi_accept(int lfd, int events, void *ctx)
{
    (void)events;
    (void)ctx;
    int fd = server_accept(lfd);
    if (fd < 0)
        return;
    struct stream *s = stream_open_nonblock(fd);
    stream_set_timeout(s, (int)cfg_time(P_IPC_TIMEOUT));
    if (srv_ops->connect && srv_ops->connect(s) < 0) {
        stream_close(s);
        return;
    }
    srv_clients++;
    srv_last_active = event_now();
    event_fd_add(fd, EVENT_READ, server_multi_client, s);
}

/* Trigger connections kept open by their clients (sock_trigger_held():
 * cleanup wakes qmgr once per message). At most SERVER_TRIGGER_HELD of
 * them; a client beyond that is read once and closed, as is every client
 * that has closed its end by the time the first bytes are read. */
#define SERVER_TRIGGER_HELD 256
static int srv_trigger_held;

static void server_trigger_deliver(const char *buf, size_t n)
{
    srv_last_active = event_now();
    server_note_used();
    srv_ops->trigger(buf, n);
}

static void server_trigger_client(int fd, int events, void *ctx)
{
    char buf[1024];
    (void)events;
    (void)ctx;
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n > 0) {
        server_trigger_deliver(buf, (size_t)n);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    event_fd_del(fd);
    close(fd);
    srv_trigger_held--;
}

/* ctx is non-NULL for a FIFO listener (looked at once, at start-up). */
static void server_trigger_accept(int lfd, int events, void *ctx)
{
    char buf[1024];
    (void)events;
    if (ctx != NULL) {
        ssize_t n = read(lfd, buf, sizeof(buf));
        if (n > 0)
            server_trigger_deliver(buf, (size_t)n);
        return;
    }
    int fd = server_accept(lfd);
    if (fd < 0)
        return;
    /* A trigger client writes a few bytes and closes; never wait long.
     * The bytes are usually there by the time we accept: read first. */
    struct pollfd pfd = { .fd = fd, .events = POLLIN };
    ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EAGAIN && poll(&pfd, 1, 1000) > 0)
        n = read(fd, buf, sizeof(buf));
    /* A client that has not closed after its bytes is one that keeps the
     * connection for its next triggers (EAGAIN now: its end is open). */
    char more;
    ssize_t peek = n > 0 && srv_trigger_held < SERVER_TRIGGER_HELD
        ? recv(fd, &more, 1, MSG_PEEK | MSG_DONTWAIT) : 0;
    if (peek > 0 || (peek < 0 && errno == EAGAIN)) {
        srv_trigger_held++;
        event_fd_add(fd, EVENT_READ, server_trigger_client, NULL);
    } else {
        close(fd);
    }
    srv_last_active = event_now();
    if (n > 0)
        server_trigger_deliver(buf, (size_t)n);
    if (!srv_ops->resident && srv_max_use > 0 && ++srv_use_count >= srv_max_use)
        srv_stop = true;
}

#define SERVER_DGRAM_BATCH 32
#define SERVER_DGRAM_SIZE LOG_DGRAM_MAX  /* postlogd: several kept log lines in one */

/* Takes up to 256 datagrams per wake-up, SERVER_DGRAM_BATCH per system
 * call; a short batch means the socket is drained, so no call is spent
 * finding that out. Then dgram_drained (if any) runs once. */
static void server_dgram_read(int lfd, int events, void *ctx)
{
    static char buf[SERVER_DGRAM_BATCH][SERVER_DGRAM_SIZE];
    struct mmsghdr msg[SERVER_DGRAM_BATCH];
    struct iovec iov[SERVER_DGRAM_BATCH];
    (void)events;
    (void)ctx;
    for (int round = 0; round < 256 / SERVER_DGRAM_BATCH; round++) {
        for (int i = 0; i < SERVER_DGRAM_BATCH; i++) {
            iov[i] = (struct iovec){ .iov_base = buf[i], .iov_len = SERVER_DGRAM_SIZE };
            msg[i] = (struct mmsghdr){ .msg_hdr = { .msg_iov = &iov[i], .msg_iovlen = 1 } };
        }
        int n = recvmmsg(lfd, msg, SERVER_DGRAM_BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0)
            break;
        server_note_used();
        for (int i = 0; i < n; i++)
            if (msg[i].msg_len > 0)
                srv_ops->dgram(buf[i], msg[i].msg_len);
        if (n < SERVER_DGRAM_BATCH)
            break;
    }
    if (srv_ops->dgram_drained)
        srv_ops->dgram_drained();
    srv_last_active = event_now();
}

static void server_event_loop(void)
{
    for (int i = 0; i < srv_nlisten; i++) {
        int lfd = srv_listen_fds[i];
        switch (srv_ops->model) {
        case SERVER_MULTI:
            event_fd_add(lfd, EVENT_READ, server_multi_accept, NULL);
            break;
        case SERVER_TRIGGER: {
            static char fifo_mark;
            struct stat st;
            bool fifo = fstat(lfd, &st) == 0 && S_ISFIFO(st.st_mode);
            event_fd_add(lfd, EVENT_READ, server_trigger_accept, fifo ? &fifo_mark : NULL);
            break;
        }
        case SERVER_DGRAM:
            event_fd_add(lfd, EVENT_READ, server_dgram_read, NULL);
            break;
        default:
            break;
        }
    }
    server_status(1);
    while (!srv_stop && !srv_term) {
        event_loop_once(1.0);
        if (server_master_gone() || server_idle_expired())
            break;
    }
}

int server_main(int argc, char **argv, const struct server_ops *ops)
{
    srv_ops = ops;
    srv_parent = getppid();
    srv_pid = getpid();
    signal(SIGPIPE, SIG_IGN);
    signal(SIGTERM, server_sigterm);
    server_parse_args(argc, argv);
    /* Look at fd 3 before config_load() and the log socket can take that
     * number: run by hand without it, the status messages would otherwise
     * go into whatever file or socket got fd 3. */
    bool have_status_fd = srv_standalone || fcntl(MASTER_STATUS_FD, F_GETFL) >= 0;
    if (!srv_standalone)
        server_board_map();
    log_set_tag(srv_program);
    if (config_load(NULL) < 0)
        log_fatal("%s/main.cf: configuration errors (run postfix check)", config_dir());
    if (srv_flow && !srv_standalone)
        server_flow_init(ops);
    server_setup_logging();
    dict_set_open_fatal(cfg_bool(P_DAEMON_TABLE_OPEN_ERROR_IS_FATAL));
    if (!srv_standalone)
        server_report_unsupported();
    if (srv_debug)
        server_run_debugger();
    /* Each setting that is bad was reported and is left alone. */
    (void)mail_sched_check(NULL);
    mail_sched_apply();
    /* Still root: a lower nice value needs it. The default is for qmgr and
     * the local-side agents; a master.cf -o gives any service its own. */
    if (ops->delivery || cfg_is_overridden(P_POSTERN_DELIVERY_PRIORITY))
        mail_sched_raise();
    umask(077);

    const char *qdir = cfg_str(P_QUEUE_DIRECTORY);
    if (chdir(qdir) < 0)
        log_fatal("chdir %s: %m", qdir);
    srv_max_use = cfg_long(P_MAX_USE);
    srv_max_idle = cfg_time(P_MAX_IDLE);
    srv_last_active = event_now();

    if (srv_standalone) {
        srv_nlisten = 0;
    } else {
        for (int i = 0; i < srv_nlisten; i++) {
            srv_listen_fds[i] = MASTER_LISTEN_FD + i;
            sock_set_nonblock(srv_listen_fds[i], true);
            fcntl(srv_listen_fds[i], F_SETFD, FD_CLOEXEC);
        }
        fcntl(MASTER_STATUS_FD, F_SETFD, FD_CLOEXEC);
        int fl = fcntl(MASTER_STATUS_FD, F_GETFL);
        if (!have_status_fd || fl < 0)
            log_fatal("no status pipe on fd %d: not started by master? (use -S to test by hand)",
                      MASTER_STATUS_FD);
        fcntl(MASTER_STATUS_FD, F_SETFL, fl | O_NONBLOCK);
    }
    if (ops->pre_jail)
        ops->pre_jail();
    server_jail();
    if (!srv_standalone)
        prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (ops->post_jail)
        ops->post_jail();
    log_debug(1, "service %s started", srv_service);

    if (srv_standalone) {
        if (ops->model == SERVER_SINGLE && ops->service) {
            struct stream *s = stream_open(0);
            ops->service(s);
            stream_free_keep_fd(s);
        }
        server_exit(0);
    }
    if (ops->model == SERVER_SINGLE)
        server_single_loop();
    else
        server_event_loop();
    server_exit(0);
    return 0;
}
