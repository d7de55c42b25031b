/*
 * master_service.c - services from master.cf: listeners, wakeups, reload
 *
 * Used by: master.
 * Interface: master_services_load(), master_services_stop(),
 *            master_service_watch(), master_wakeup_init().
 * Errors: a service whose endpoint cannot be created is logged and skipped;
 *         the others keep running.
 * Notes: a service is keyed by "name/type". On reload an unchanged endpoint
 *        keeps its listening socket (no connection is refused during a
 *        reload); children of changed or unchanged services retire when idle
 *        so that new ones read the new configuration. Services that
 *        master_service_disable names are left out (no listener, no
 *        process), at start and at each reload. An inet port given by name
 *        is looked up in known_tcp_ports first (then the services
 *        database); tcp_windowsize (main.cf, or the service's own -o) sets
 *        the listener's buffer sizes. A change of either reopens the
 *        listener at reload.
 */
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "known_ports.h"
#include "log.h"
#include "mail_owner.h"
#include "master.h"
#include "master_status.h"
#include "mastercf.h"
#include "sbuf.h"
#include "sock.h"
#include <fcntl.h>
#include <signal.h>
#include <strings.h>
#include <sys/stat.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>

struct master_service *master_services;

/* $known_tcp_ports as of the last (re)load: inet endpoints name their port
 * through it before the services database is asked. */
static struct known_ports *master_known_ports;

static void master_accept_ready(int fd, int events, void *ctx)
{
    struct master_service *svc = ctx;
    (void)fd;
    (void)events;
    /* A client waits and no child is idle: start one (within limits). */
    master_board_sync(svc);     /* the board, not the last report, says who is idle */
    if (svc->avail == 0 && !svc->throttled && (svc->maxproc == 0 || svc->total < svc->maxproc))
        master_spawn(svc);
    master_service_watch(svc);
}

/* Stress mode (Postfix's STRESS_README): every process of an inet service
 * is busy. Warn (at most every MASTER_BUSY_WARN seconds), start new
 * children with "-o stress=yes" for a while, and tell the busy ones with
 * SIGURG (ignored by default; smtpd then switches to its ${stress?...}
 * settings) so that idle clients stop holding processes quickly. */
#define MASTER_BUSY_WARN 1000.0
#define MASTER_STRESS_HOLD 1.0

static void master_service_stress(struct master_service *svc)
{
    double now = event_now();
    if (now >= svc->busy_warn_time) {
        /* Postfix names the endpoint: "25" for "smtp", else host:port. */
        char where[64];
        int port = strchr(svc->name, ':') ? -1 : known_ports_number(master_known_ports, svc->name);
        if (port >= 0)
            snprintf(where, sizeof(where), "%d", port);
        else
            strlcpy(where, svc->name, sizeof(where));
        svc->busy_warn_time = now + MASTER_BUSY_WARN;
        log_warn("service \"%s\" (%s) has reached its process limit \"%d\": "
                 "new clients may experience noticeable delays", svc->name, where,
                 svc->maxproc);
        log_warn("to avoid this condition, increase the process count in master.cf "
                 "or reduce the service time per client");
        log_warn("see http://www.postfix.org/STRESS_README.html for examples of "
                 "stress-adapting configuration settings");
    }
    svc->stress_until = now + MASTER_STRESS_HOLD;
    if (now - svc->stress_signal_time >= 0.2) {
        svc->stress_signal_time = now;
        master_signal_busy(svc, SIGURG);
    }
}

void master_service_watch(struct master_service *svc)
{
    master_board_sync(svc);
    if (svc->nlisten > 0 && svc->maxproc > 0 && svc->total >= svc->maxproc && svc->avail == 0
        && !svc->throttled && strcmp(svc->type, "inet") == 0)
        master_service_stress(svc);

    bool full = svc->maxproc > 0 && svc->total >= svc->maxproc;
    if (svc->board)
        __atomic_store_n(&svc->board->full, (uint32_t)full, __ATOMIC_SEQ_CST);
    bool want = svc->nlisten > 0 && svc->avail == 0 && !svc->throttled && !full;
    if (want == svc->watching)
        return;
    for (int i = 0; i < svc->nlisten; i++) {
        if (want)
            event_fd_add(svc->listen_fds[i], EVENT_READ, master_accept_ready, svc);
        else
            event_fd_del(svc->listen_fds[i]);
    }
    svc->watching = want;
    if (svc->board)
        __atomic_store_n(&svc->board->watching, (uint32_t)want, __ATOMIC_SEQ_CST);
}

static void master_wakeup_event(void *ctx)
{
    struct master_service *svc = ctx;
    if (svc->wakeup <= 0 || svc->nlisten == 0)
        return;
    if (!(svc->wakeup_cond && svc->total == 0)) {
        /* We own the listener, so we can poke it ourselves. A FIFO is
         * written through the descriptor we hold (no name involved); a
         * socket is connected to as mail_owner, so a link planted in its
         * place cannot lead root anywhere mail_owner could not go. */
        if (strcmp(svc->type, "fifo") == 0) {
            char w = 'W';
            if (write(svc->listen_fds[0], &w, 1) != 1)
                log_debug(1, "wakeup %s: %m", svc->key);
        } else if (strcmp(svc->type, "unix") == 0) {
            if (mail_owner_begin() == 0) {
                if (sock_trigger(svc->endpoint, 'W') < 0)
                    log_debug(1, "wakeup %s: %m", svc->key);
                mail_owner_end();
            }
        }
    }
    event_timer_add(svc->wakeup, master_wakeup_event, svc);
}

void master_wakeup_init(struct master_service *svc)
{
    if (svc->wakeup > 0)
        event_timer_add(svc->wakeup_cond ? svc->wakeup : 0.1, master_wakeup_event, svc);
    else
        event_timer_del(master_wakeup_event, svc);
}

static struct master_service *master_find(const char *key)
{
    for (struct master_service *s = master_services; s; s = s->next)
        if (strcmp(s->key, key) == 0)
            return s;
    return NULL;
}

/* Works out the endpoint text of a service; NULL for unsupported types. */
static char *master_endpoint(const struct mastercf_service *m)
{
    struct sbuf *b = sbuf_new(128);
    const char *qdir = cfg_str(P_QUEUE_DIRECTORY);
    if (strcmp(m->type, "inet") == 0) {
        /* A port given by name becomes its number from known_tcp_ports
         * here, so that a changed table reopens the listener on reload. */
        const char *colon = strrchr(m->name, ':');
        if (colon) {
            sbuf_append(b, m->name, (size_t)(colon - m->name));
            sbuf_catf(b, " %s", known_ports_filter(master_known_ports, colon + 1));
        } else
            sbuf_printf(b, "%s %s", cfg_str(P_INET_INTERFACES),
                        known_ports_filter(master_known_ports, m->name));
    } else if (strcmp(m->type, "unix") == 0 || strcmp(m->type, "unix-dgram") == 0 ||
               strcmp(m->type, "fifo") == 0) {
        sbuf_printf(b, "%s/%s/%s", qdir, m->private_ ? "private" : "public", m->name);
    } else if (strcmp(m->type, "pass") == 0) {
        sbuf_printf(b, "%s/%s/%s", qdir, m->private_ ? "private" : "public", m->name);
    } else {
        sbuf_free(b);
        return NULL;
    }
    return sbuf_detach(b);
}

static void master_close_listeners(struct master_service *svc)
{
    bool was = svc->watching;
    if (was) {
        for (int i = 0; i < svc->nlisten; i++)
            event_fd_del(svc->listen_fds[i]);
        svc->watching = false;
    }
    for (int i = 0; i < svc->nlisten; i++)
        close(svc->listen_fds[i]);
    svc->nlisten = 0;
}

/* Strips brackets from an IPv6 literal host. */
static void master_host_unbracket(char *h)
{
    size_t n = strlen(h);
    if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
        memmove(h, h + 1, n - 2);
        h[n - 2] = 0;
    }
}

/* The unix, pass, unix-dgram and fifo endpoints; runs as mail_owner. */
static void master_open_local_listener(struct master_service *svc)
{
    int backlog = 100;
    if (strcmp(svc->type, "unix") == 0 || strcmp(svc->type, "pass") == 0) {
        int fd = sock_unix_listen(svc->endpoint, backlog, svc->private_ ? 0600 : 0660);
        if (fd < 0)
            log_warn("service %s: listen on %s: %m", svc->key, svc->endpoint);
        else
            svc->listen_fds[svc->nlisten++] = fd;
    } else if (strcmp(svc->type, "unix-dgram") == 0) {
        int fd = sock_unix_dgram_listen(svc->endpoint, svc->private_ ? 0600 : 0666);
        if (fd < 0)
            log_warn("service %s: bind %s: %m", svc->key, svc->endpoint);
        else
            svc->listen_fds[svc->nlisten++] = fd;
    } else if (strcmp(svc->type, "fifo") == 0) {
        unlink(svc->endpoint);
        mode_t old = umask(0);
        int made = mkfifo(svc->endpoint, svc->private_ ? 0600 : 0622);
        umask(old);
        if (made < 0) {
            log_warn("service %s: mkfifo %s: %m", svc->key, svc->endpoint);
            return;
        }
        int fd = open(svc->endpoint, O_RDWR | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC);
        struct stat st;
        if (fd < 0)
            log_warn("service %s: open %s: %m", svc->key, svc->endpoint);
        else if (fstat(fd, &st) < 0 || !S_ISFIFO(st.st_mode) || st.st_uid != geteuid()) {
            log_warn("service %s: %s was replaced while it was being created", svc->key,
                     svc->endpoint);
            close(fd);
        } else
            svc->listen_fds[svc->nlisten++] = fd;
    }
}

static int master_open_listeners(struct master_service *svc)
{
    const char *setgid_group = cfg_str(P_SETGID_GROUP);
    struct passwd *pw = getpwnam(cfg_str(P_MAIL_OWNER));
    struct group *gr = getgrnam(setgid_group);
    int backlog = 100;

    if (strcmp(svc->type, "inet") == 0) {
        char *ep = xstrdup(svc->endpoint);
        char *port = strrchr(ep, ' ');
        *port++ = 0;
        char **hosts = cfg_list(ep);
        bool all = hosts[0] == NULL || strcmp(hosts[0], "all") == 0;
        for (char **h = hosts; (all && h == hosts) || (!all && *h); h++) {
            if (svc->nlisten >= MASTER_MAX_LISTEN)
                break;
            char *host = all ? NULL : xstrdup(*h);
            if (host) {
                master_host_unbracket(host);
                if (strcmp(host, "loopback-only") == 0) {
                    xfree(host);
                    host = xstrdup("127.0.0.1");
                }
            }
            int fd = sock_inet_listen(host, port, backlog, svc->windowsize);
            if (fd < 0)
                log_warn("service %s: bind %s port %s: %m", svc->key, host ? host : "*", port);
            else
                svc->listen_fds[svc->nlisten++] = fd;
            xfree(host);
            if (all)
                break;
        }
        cfg_list_free(hosts);
        xfree(ep);
    } else {
        /*
         * UNIX sockets and FIFOs live in private/ and public/, which belong
         * to mail_owner: create them as mail_owner (with the setgid group
         * for public/ ones), so the kernel gives them their owner, group and
         * mode (sock.c sets the mode through the umask) at creation. Nothing
         * is chowned or chmodded by name afterwards, and whatever mail_owner
         * plants there, root never acts on it.
         */
        gid_t gid = pw ? pw->pw_gid : 0;
        if (!svc->private_ && gr)
            gid = gr->gr_gid;
        if (mail_owner_begin_group(gid) < 0)
            log_warn("service %s: cannot switch to mail_owner to create %s", svc->key,
                     svc->endpoint);
        else {
            master_open_local_listener(svc);
            mail_owner_end();
        }
    }
    for (int i = 0; i < svc->nlisten; i++)
        fcntl(svc->listen_fds[i], F_SETFD, FD_CLOEXEC);
    return svc->nlisten > 0 ? 0 : -1;
}

static void master_service_free(struct master_service *svc)
{
    master_close_listeners(svc);
    event_timer_del(master_wakeup_event, svc);
    if (svc->status_fd[0] >= 0) {
        event_fd_del(svc->status_fd[0]);
        close(svc->status_fd[0]);
        close(svc->status_fd[1]);
    }
    master_board_close(svc);
    cfg_list_free(svc->argv);
    xfree(svc->key);
    xfree(svc->name);
    xfree(svc->type);
    xfree(svc->path);
    xfree(svc->endpoint);
    xfree(svc);
}

/* master_service_disable: is service name/type switched off? The list
 * holds types ("inet") and name/type pairs ("smtp/inet"), either one after
 * '!' to exempt it; the first item that matches decides, as in Postfix. */
static bool master_service_disabled(char **list, const char *name, const char *type)
{
    for (char **p = list; p && *p; p++) {
        const char *item = *p;
        bool neg = *item == '!';
        item += neg;
        const char *slash = strrchr(item, '/');
        bool match = slash ? strncmp(item, name, (size_t)(slash - item)) == 0
                                 && name[slash - item] == 0 && strcasecmp(slash + 1, type) == 0
                           : strcasecmp(item, type) == 0;
        if (match)
            return !neg;
    }
    return false;
}

/* A tcp_windowsize value as a number; a bad one counts as 0 (off): it was
 * reported by master_check_config() (config_values_check()), and master
 * must not stop over it at a reload. */
static int master_windowsize_value(const char *value)
{
    long n;
    if (!config_parse_long(value, &n) || n < 0 || n > INT_MAX)
        return 0;
    return (int)n;
}

static void master_windowsize_override(const char *name, const char *value, void *ctx)
{
    if (strcmp(name, P_TCP_WINDOWSIZE) == 0) {
        char *v = cfg_expand(value);
        *(int *)ctx = master_windowsize_value(v);
        xfree(v);
    }
}

/* tcp_windowsize for the listeners of an inet service: main.cf's, or the
 * service's own "-o tcp_windowsize=N" (Postfix's master reads main.cf
 * only; honouring the -o is ours, so that the setting is never ignored).
 * 0 = the system's buffer sizes. */
static int master_windowsize(const struct mastercf_service *m)
{
    int ws = master_windowsize_value(cfg_str(P_TCP_WINDOWSIZE));
    mastercf_overrides(m, master_windowsize_override, &ws);
    return ws;
}

int master_services_load(bool reload)
{
    struct mastercf *mcf = NULL;
    struct sbuf *path = sbuf_new(128);
    sbuf_printf(path, "%s/master.cf", config_dir());
    int rc = mastercf_load(sbuf_str(path), &mcf);
    sbuf_free(path);
    if (mcf == NULL)
        return -1;
    char **names = mastercf_service_names(mcf);
    config_set_service_names(names);
    cfg_list_free(names);

    for (struct master_service *s = master_services; s; s = s->next)
        s->seen = false;

    int default_limit = cfg_int(P_DEFAULT_PROCESS_LIMIT);
    known_ports_free(master_known_ports);
    master_known_ports = known_ports_load();
    char **disable = cfg_list(cfg_str(P_MASTER_SERVICE_DISABLE));
    for (const struct mastercf_service *m = mcf->head; m; m = m->next) {
        if (master_service_disabled(disable, m->name, m->type)) {
            /* Not "seen": a running one is stopped below, as if removed. */
            log_info("%s:%d: service %s/%s disabled by %s", m->file, m->line, m->name, m->type,
                     P_MASTER_SERVICE_DISABLE);
            continue;
        }
        if (mastercf_inet_private(m)) {
            rc = -1;        /* logged by master_check_config() */
            continue;
        }
        struct sbuf *key = sbuf_new(64);
        sbuf_printf(key, "%s/%s", m->name, m->type);
        char *endpoint = master_endpoint(m);
        if (endpoint == NULL) {
            log_warn("%s:%d: service %s: unsupported type %s", m->file, m->line, m->name, m->type);
            sbuf_free(key);
            continue;
        }
        struct master_service *svc = master_find(sbuf_str(key));
        if (svc && svc->seen) {
            log_warn("%s:%d: duplicate service %s ignored", m->file, m->line, sbuf_str(key));
            xfree(endpoint);
            sbuf_free(key);
            continue;
        }
        bool is_new = svc == NULL;
        if (is_new) {
            svc = xcalloc(1, sizeof(*svc));
            svc->key = xstrdup(sbuf_str(key));
            svc->name = xstrdup(m->name);
            svc->type = xstrdup(m->type);
            svc->status_fd[0] = svc->status_fd[1] = -1;
            svc->board_fd = -1;
            svc->next = master_services;
            master_services = svc;
        }
        sbuf_free(key);
        svc->seen = true;
        svc->private_ = m->private_;
        svc->unpriv = m->unpriv;
        svc->chroot = m->chroot;
        svc->wakeup = m->wakeup;
        svc->wakeup_cond = m->wakeup_conditional;
        svc->maxproc = m->maxproc < 0 ? default_limit : m->maxproc;
        cfg_list_free(svc->argv);
        svc->argv = xcalloc((size_t)m->argc + 1, sizeof(char *));
        for (int i = 0; i < m->argc; i++)
            svc->argv[i] = xstrdup(m->argv[i]);
        xfree(svc->path);
        struct sbuf *prog = sbuf_new(128);
        const char *program = mastercf_program(m);
        if (program[0] == '/')
            sbuf_set(prog, program);
        else
            sbuf_printf(prog, "%s/%s", cfg_str(P_DAEMON_DIRECTORY), program);
        svc->path = sbuf_detach(prog);
        svc->missing_reported = false;

        int windowsize = strcmp(m->type, "inet") == 0 ? master_windowsize(m) : 0;
        if (svc->endpoint == NULL || strcmp(svc->endpoint, endpoint) != 0 || svc->nlisten == 0
            || svc->windowsize != windowsize) {
            master_close_listeners(svc);
            svc->windowsize = windowsize;
            xfree(svc->endpoint);
            svc->endpoint = endpoint;
            if (master_open_listeners(svc) < 0)
                rc = -1;
        } else
            xfree(endpoint);
        if (svc->status_fd[0] < 0) {
            if (pipe2(svc->status_fd, O_CLOEXEC) < 0)
                log_fatal("pipe: %m");
            fcntl(svc->status_fd[0], F_SETFL, O_NONBLOCK);
            event_fd_add(svc->status_fd[0], EVENT_READ, master_status_read, svc);
        }
        if (svc->board == NULL)
            master_board_open(svc);     /* none: children use the pipe alone */
        master_wakeup_init(svc);
        if (!is_new && reload)
            master_kill_children(svc, 0, false);    /* retire: new config on next start */
        master_service_watch(svc);
    }
    /* Services gone from master.cf: stop their children and listeners. */
    struct master_service **pp = &master_services;
    while (*pp) {
        struct master_service *s = *pp;
        if (!s->seen) {
            log_info("service %s removed", s->key);
            master_kill_children(s, SIGTERM, false);
            if (s->total == 0) {
                *pp = s->next;
                master_service_free(s);
                continue;
            }
            master_close_listeners(s);
            s->wakeup = 0;
            event_timer_del(master_wakeup_event, s);
        }
        pp = &s->next;
    }
    cfg_list_free(disable);
    mastercf_free(mcf);
    return rc;
}

void master_services_stop(void)
{
    for (struct master_service *s = master_services; s; s = s->next) {
        master_close_listeners(s);
        master_kill_children(s, SIGTERM, false);
        if (strcmp(s->type, "inet") != 0 && s->endpoint && mail_owner_begin() == 0) {
            unlink(s->endpoint);
            mail_owner_end();
        }
    }
}
