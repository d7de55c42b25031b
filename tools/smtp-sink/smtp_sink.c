/*
 * smtp_sink.c - smtp-sink: a many-client SMTP/LMTP server that throws mail away
 *
 * Used by: people and tests measuring an SMTP client (smtp-source, the smtp
 *          delivery agent), and tests that need to see what a peer received
 *          (-d/-D capture each transaction to files).
 * Interface: smtp-sink [options] [inet:][host]:port backlog
 *            smtp-sink [options] unix:pathname backlog
 *            Options follow Postfix's smtp-sink(1); see man/man1/smtp-sink.1.
 *            Postern adds -K (no CHUNKING) and -U (raw capture).
 * Errors: bad options and setup failures are fatal (exit 1); peer errors
 *         only end that peer's session.
 * Notes: single process, one poll() loop from lib/util/events.c.
 */
#include "smtp_sink.h"
#include "alloc.h"
#include "events.h"
#include "log.h"
#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netdb.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

struct sink_opts sink_opts;
struct sink_counts sink_counts;
bool sink_exit_pending;

static int sink_listen_fd = -1;
static bool sink_accepting;

static NORETURN void sink_usage(const char *prog)
{
    log_fatal("usage: %s [-468acCeEFKLNpPUv] [-A abort_delay] [-b soft_bounce_reply] "
              "[-B hard_bounce_reply] [-d dump-template] [-D dump-template] [-f commands] "
              "[-h hostname] [-H delay] [-m max_concurrency] [-M message_quit_count] "
              "[-n quit_count] [-q commands] [-Q commands] [-r commands] [-R root-dir] "
              "[-s commands] [-S start-string] [-t timeout] [-T windowsize] [-u user_privs] "
              "[-w delay] [-W command:delay[:odds]] [host]:port backlog",
              prog);
}

/* Parses a decimal number within [min, max] or dies naming the option. */
static long sink_number(const char *text, const char *what, long min, long max)
{
    char *end;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (*text == 0 || *end != 0 || errno == ERANGE || v < min || v > max)
        log_fatal("bad %s value: %s", what, text);
    return v;
}

/* Turns "MAIL,RCPT ." into a bit mask of commands. */
static unsigned sink_cmd_mask(const char *list, char opt)
{
    unsigned mask = 0;
    const char *p = list;
    while (*p) {
        size_t skip = strspn(p, " \t,");
        p += skip;
        size_t len = strcspn(p, " \t,");
        if (len == 0)
            break;
        int cmd = sink_cmd_lookup(p, len);
        if (cmd < 0)
            log_fatal("-%c: unknown command name: %.*s", opt, (int)len, p);
        mask |= 1U << cmd;
        p += len;
    }
    return mask;
}

/* -W command:delay[:odds], several separated by commas or blanks. */
static void sink_parse_delays(const char *list)
{
    char *copy = xstrdup(list);
    char *save = NULL;
    for (char *item = strtok_r(copy, " \t,", &save); item; item = strtok_r(NULL, " \t,", &save)) {
        char *c1 = strchr(item, ':');
        if (c1 == NULL)
            log_fatal("-W: expected command:delay[:odds]: %s", item);
        *c1++ = 0;
        char *c2 = strchr(c1, ':');
        if (c2)
            *c2++ = 0;
        int cmd = sink_cmd_lookup(item, strlen(item));
        if (cmd < 0)
            log_fatal("-W: unknown command name: %s", item);
        sink_opts.delays[cmd].delay = (int)sink_number(c1, "-W delay", 0, 86400);
        sink_opts.delays[cmd].odds = c2 ? (int)sink_number(c2, "-W odds", 1, 99) : 0;
    }
    xfree(copy);
}

/* Expands C escapes of the -S string; returns new. */
static struct sbuf *sink_unescape(const char *s)
{
    struct sbuf *b = sbuf_new(strlen(s) + 1);
    while (*s) {
        if (*s != '\\' || s[1] == 0) {
            sbuf_addch(b, *s++);
            continue;
        }
        s++;
        switch (*s) {
        case 'a': sbuf_addch(b, '\a'); s++; break;
        case 'b': sbuf_addch(b, '\b'); s++; break;
        case 'f': sbuf_addch(b, '\f'); s++; break;
        case 'n': sbuf_addch(b, '\n'); s++; break;
        case 'r': sbuf_addch(b, '\r'); s++; break;
        case 't': sbuf_addch(b, '\t'); s++; break;
        case 'v': sbuf_addch(b, '\v'); s++; break;
        case '\\': sbuf_addch(b, '\\'); s++; break;
        default:
            if (*s >= '0' && *s <= '7') {
                int v = 0;
                for (int i = 0; i < 3 && *s >= '0' && *s <= '7'; i++)
                    v = v * 8 + (*s++ - '0');
                sbuf_addch(b, v & 0xff);
            } else {
                sbuf_addch(b, '\\');
                sbuf_addch(b, *s++);
            }
            break;
        }
    }
    return b;
}

void sink_trace(const char *addr, const char *dir, const char *text, size_t len)
{
    if (log_verbose <= 0)
        return;
    if (len > 200)
        len = 200;
    dprintf(2, "smtp-sink: %s: %s %.*s\n", addr, dir, (int)len, text);
}

void sink_counts_changed(void)
{
    if (sink_opts.show_counts) {
        char line[128];
        int n = snprintf(line, sizeof(line), "sess=%lu quit=%lu mesg=%lu\r", sink_counts.sessions,
                         sink_counts.quits, sink_counts.messages);
        if (n > 0 && write(1, line, (size_t)n) < 0) {
            /* nothing to do: counters are best effort */
        }
    }
    if ((sink_opts.quit_msgs && sink_counts.messages >= sink_opts.quit_msgs) ||
        (sink_opts.quit_sessions && sink_counts.sessions >= sink_opts.quit_sessions))
        sink_exit_pending = true;
}

static void sink_accept_event(int fd, int events, void *ctx);

/* Watches the listener while there is room for another connection. */
static void sink_accept_update(void)
{
    bool want = !sink_exit_pending && sink_counts.active < (unsigned long)sink_opts.max_conns;
    if (want && !sink_accepting)
        event_fd_add(sink_listen_fd, EVENT_READ, sink_accept_event, NULL);
    else if (!want && sink_accepting)
        event_fd_del(sink_listen_fd);
    sink_accepting = want;
}

void sink_conn_gone(void)
{
    sink_accept_update();
}

/* Printable client address, Postfix dump style. */
static void sink_addr_text(const struct sockaddr_storage *ss, char *out, size_t size)
{
    char buf[INET6_ADDRSTRLEN];
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)ss;
        inet_ntop(AF_INET, &in->sin_addr, buf, sizeof(buf));
        snprintf(out, size, "%s", buf);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)ss;
        if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
            inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], buf, sizeof(buf));
            snprintf(out, size, "%s", buf);
        } else {
            inet_ntop(AF_INET6, &in6->sin6_addr, buf, sizeof(buf));
            snprintf(out, size, "ipv6:%s", buf);
        }
    } else {
        snprintf(out, size, "local");
    }
}

static void sink_accept_event(int fd, int events, void *ctx)
{
    (void)events;
    (void)ctx;
    while (sink_counts.active < (unsigned long)sink_opts.max_conns && !sink_exit_pending) {
        struct sockaddr_storage ss;
        socklen_t slen = sizeof(ss);
        memset(&ss, 0, sizeof(ss));
        int cfd = accept4(fd, (struct sockaddr *)&ss, &slen, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR && errno != ECONNABORTED)
                log_warn("accept: %m");
            break;
        }
        char addr[80];
        sink_addr_text(&ss, addr, sizeof(addr));
        sink_trace(addr, "*", "connect", 7);
        sink_conn_start(cfd, addr);
    }
    sink_accept_update();
}

/* Binds and listens; endpoint is "[inet:][host]:port" or "unix:path". */
static int sink_listen(const char *endpoint, int backlog, int family, int window)
{
    int fd;
    if (strncmp(endpoint, "unix:", 5) == 0) {
        struct sockaddr_un sun;
        const char *path = endpoint + 5;
        if (*path == 0 || strlen(path) >= sizeof(sun.sun_path))
            log_fatal("bad UNIX-domain socket path: %s", path);
        memset(&sun, 0, sizeof(sun));
        sun.sun_family = AF_UNIX;
        memcpy(sun.sun_path, path, strlen(path));
        struct stat st;
        if (lstat(path, &st) == 0 && S_ISSOCK(st.st_mode))
            unlink(path);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            log_fatal("socket: %m");
        if (bind(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0)
            log_fatal("bind %s: %m", path);
    } else {
        const char *spec = strncmp(endpoint, "inet:", 5) == 0 ? endpoint + 5 : endpoint;
        const char *colon = strrchr(spec, ':');
        if (colon == NULL || colon[1] == 0)
            log_fatal("expected [host]:port, got: %s", spec);
        char host[256];
        size_t hlen = (size_t)(colon - spec);
        if (hlen >= sizeof(host))
            log_fatal("host name too long: %s", spec);
        memcpy(host, spec, hlen);
        host[hlen] = 0;
        if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
            memmove(host, host + 1, hlen - 2);
            host[hlen - 2] = 0;
        }
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = family;
        hints.ai_socktype = SOCK_STREAM;
        hints.ai_flags = AI_PASSIVE;
        if (*host == 0 && family == AF_UNSPEC)
            hints.ai_family = AF_INET6;     /* "::" also takes IPv4, below */
        int err = getaddrinfo(*host ? host : NULL, colon + 1, &hints, &res);
        if (err != 0 && *host == 0 && family == AF_UNSPEC) {
            hints.ai_family = AF_INET;
            err = getaddrinfo(NULL, colon + 1, &hints, &res);
        }
        if (err != 0)
            log_fatal("%s: %s", spec, gai_strerror(err));
        fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            log_fatal("socket: %m");
        int on = 1, off = 0;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
        if (res->ai_family == AF_INET6 && *host == 0 && family == AF_UNSPEC)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
        if (window > 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &window, sizeof(window));
        if (bind(fd, res->ai_addr, res->ai_addrlen) < 0)
            log_fatal("bind %s: %m", spec);
        freeaddrinfo(res);
    }
    if (listen(fd, backlog) < 0)
        log_fatal("listen: %m");
    return fd;
}

/* -R and -u: after the socket is open. */
static void sink_drop_privileges(const char *root_dir, const char *user)
{
    struct passwd *pw = NULL;
    if (user) {
        pw = getpwnam(user);
        if (pw == NULL)
            log_fatal("unknown user: %s", user);
    }
    if (root_dir) {
        if (chroot(root_dir) < 0 || chdir("/") < 0)
            log_fatal("chroot %s: %m", root_dir);
    }
    if (pw) {
        if (setgroups(1, &pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
            log_fatal("cannot switch to user %s: %m", user);
        if (pw->pw_uid != 0 && setuid(0) == 0)
            log_fatal("privileges could be regained after switching to %s", user);
    }
}

static void sink_sweep_timer(void *ctx)
{
    (void)ctx;
    sink_conns_sweep();
    event_timer_add(1.0, sink_sweep_timer, NULL);
}

int main(int argc, char **argv)
{
    int family = AF_UNSPEC;
    int window = 0;
    const char *root_dir = NULL;
    const char *user = NULL;
    int ch;

    log_set_tag("smtp-sink");
    log_set_stderr(true);
    log_close_syslog();
    signal(SIGPIPE, SIG_IGN);

    sink_opts.hostname = "smtp-sink";
    sink_opts.max_conns = 256;
    sink_opts.timeout = 100;
    sink_opts.abort_delay = -1;
    sink_opts.data_read_delay = -1;
    sink_opts.soft_reply = "450 4.3.0 Error: command failed";
    sink_opts.hard_reply = "500 5.3.0 Error: command failed";
    for (size_t i = 0; i < SINK_CMD_COUNT; i++)
        sink_opts.delays[i].delay = -1;

    while ((ch = getopt(argc, argv, "468aA:b:B:cCd:D:eEf:Fh:H:KLm:M:n:NpPq:Q:r:R:s:S:t:T:u:Uvw:W:")) != -1) {
        switch (ch) {
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case '8': sink_opts.no_8bitmime = true; break;
        case 'a': sink_opts.no_auth = true; break;
        case 'A': sink_opts.abort_delay = (int)sink_number(optarg, "-A", 0, 86400); break;
        case 'b': sink_opts.soft_reply = optarg; break;
        case 'B': sink_opts.hard_reply = optarg; break;
        case 'c': sink_opts.show_counts = true; break;
        case 'C': sink_opts.no_xclient = true; break;
        case 'd': sink_opts.dump_msg_template = optarg; break;
        case 'D': sink_opts.dump_all_template = optarg; break;
        case 'e': sink_opts.no_esmtp = true; break;
        case 'E': sink_opts.no_enhanced = true; break;
        case 'f': sink_opts.fail_mask |= sink_cmd_mask(optarg, 'f'); sink_opts.no_pipelining = true; break;
        case 'F': sink_opts.no_xforward = true; break;
        case 'h': sink_opts.hostname = optarg; break;
        case 'H': sink_opts.data_read_delay = (int)sink_number(optarg, "-H", 0, 86400); break;
        case 'K': sink_opts.no_chunking = true; break;
        case 'L': sink_opts.lmtp = true; break;
        case 'm': sink_opts.max_conns = (int)sink_number(optarg, "-m", 1, 1000000); break;
        case 'M': sink_opts.quit_msgs = (unsigned long)sink_number(optarg, "-M", 1, LONG_MAX); break;
        case 'n': sink_opts.quit_sessions = (unsigned long)sink_number(optarg, "-n", 1, LONG_MAX); break;
        case 'N': sink_opts.no_dsn = true; break;
        case 'p': sink_opts.no_pipelining = true; break;
        case 'P': sink_opts.pix = true; sink_opts.no_esmtp = true; break;
        case 'q': sink_opts.drop_mask |= sink_cmd_mask(optarg, 'q'); break;
        case 'Q': sink_opts.drop421_mask |= sink_cmd_mask(optarg, 'Q'); break;
        case 'r': sink_opts.soft_mask |= sink_cmd_mask(optarg, 'r'); sink_opts.no_pipelining = true; break;
        case 'R': root_dir = optarg; break;
        case 's': sink_opts.log_mask |= sink_cmd_mask(optarg, 's'); break;
        case 'S': sbuf_free(sink_opts.start_string); sink_opts.start_string = sink_unescape(optarg); break;
        case 't': sink_opts.timeout = (int)sink_number(optarg, "-t", 1, 86400); break;
        case 'T': window = (int)sink_number(optarg, "-T", 1, 65535); break;
        case 'u': user = optarg; break;
        case 'U': sink_opts.raw_dump = true; break;
        case 'v': log_verbose++; break;
        case 'w': sink_opts.delays[SINK_CMD_DATA].delay = (int)sink_number(optarg, "-w", 0, 86400);
                  sink_opts.delays[SINK_CMD_DATA].odds = 0; break;
        case 'W': sink_parse_delays(optarg); break;
        default: sink_usage(argv[0]);
        }
    }
    if (argc - optind != 2)
        sink_usage(argv[0]);
    if (sink_opts.dump_msg_template && sink_opts.dump_all_template)
        log_fatal("use only one of -d or -D, but not both");
    if (sink_opts.log_mask)
        log_open_syslog("/dev/log");
    int backlog = (int)sink_number(argv[optind + 1], "backlog", 1, 65535);

    sink_listen_fd = sink_listen(argv[optind], backlog, family, window);
    sink_drop_privileges(root_dir, user);

    sink_accept_update();
    event_timer_add(1.0, sink_sweep_timer, NULL);
    double exit_deadline = 0;
    for (;;) {
        event_loop_once(sink_exit_pending ? 0.05 : -1);
        if (!sink_exit_pending)
            continue;
        sink_accept_update();
        /* Let the last replies go out, but do not wait forever. */
        if (exit_deadline == 0)
            exit_deadline = event_now() + 5;
        if (sink_conns_unflushed() == 0 || event_now() > exit_deadline)
            break;
    }
    if (sink_opts.show_counts && write(1, "\n", 1) < 0) {
        /* best effort */
    }
    return 0;
}
