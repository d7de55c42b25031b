/*
 * smtp_source.c - smtp-source: send test mail over many parallel SMTP/LMTP sessions
 *
 * Used by: people, tests and bench/ to load an SMTP or LMTP server.
 * Interface: smtp-source [options] [inet:]host[:port]
 *            smtp-source [options] unix:pathname
 *            Options follow Postfix's smtp-source(1); see man/man1/smtp-source.1.
 * Errors: bad options, an unreachable server, or any reply other than the
 *         expected one end the program with status 1 (-A: carry on).
 * Notes: one process and one poll() loop drive all -s sessions. Unlike the
 *        Postfix tool, sessions start with EHLO (falling back to HELO) and
 *        pipeline MAIL/RCPT/DATA when the server offers PIPELINING.
 */
#include "smtp_source.h"
#include "alloc.h"
#include "events.h"
#include "log.h"
#include <fcntl.h>
#include <netdb.h>
#include <signal.h>
#include <sys/un.h>

struct src_opts src_opts;
struct src_stats src_stats;

#define SRC_LINE_LEN 78             /* characters per generated body line */

static NORETURN void src_usage(const char *prog)
{
    log_fatal("usage: %s [-46AcdLNov] [-C count] [-f from] [-F file] [-l length] "
              "[-m message_count] [-M myhostname] [-r recipient_count] [-R interval] "
              "[-s session_count] [-S subject] [-t to] [-T windowsize] [-w interval] "
              "[inet:]host[:port] | unix:pathname",
              prog);
}

static unsigned long src_number(const char *text, const char *what, unsigned long min,
                                unsigned long max)
{
    char *end;
    errno = 0;
    if (*text == '-')
        log_fatal("bad %s value: %s", what, text);
    unsigned long v = strtoul(text, &end, 10);
    if (*text == 0 || *end != 0 || errno == ERANGE || v < min || v > max)
        log_fatal("bad %s value: %s", what, text);
    return v;
}

void src_trace(const char *dir, const char *text, size_t len)
{
    if (log_verbose <= 0)
        return;
    if (len > 200)
        len = 200;
    dprintf(2, "smtp-source: %s %.*s\n", dir, (int)len, text);
}

unsigned long src_claim(void)
{
    if (src_stats.claimed >= src_opts.messages)
        return 0;
    return ++src_stats.claimed;
}

/* Date header value, recomputed at most once a second. */
static const char *src_date(void)
{
    static char buf[80];
    static time_t last;
    time_t now = time(NULL);
    if (now != last) {
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm);
        last = now;
    }
    return buf;
}

void src_message(struct sbuf *out, unsigned session_id, unsigned long msg_no)
{
    if (src_opts.headers) {
        sbuf_catf(out, "From: <%s>\r\nTo: <%s>\r\nDate: %s\r\n", src_opts.from, src_opts.to,
                  src_date());
        sbuf_catf(out, "Message-Id: <%lx.%u.%lu@%s>\r\n", (unsigned long)getpid(), session_id,
                  msg_no, src_opts.myhostname);
        if (src_opts.subject)
            sbuf_catf(out, "Subject: %s\r\n", src_opts.subject);
        sbuf_cat(out, "\r\n");
    }
    sbuf_append(out, sbuf_str(src_opts.body), sbuf_len(src_opts.body));
}

/* One line of text as message content: dot-stuffed, CR LF ended. */
static void src_body_line(struct sbuf *body, const char *line, size_t len)
{
    if (len > 0 && line[0] == '.')
        sbuf_addch(body, '.');
    sbuf_append(body, line, len);
    sbuf_cat(body, "\r\n");
}

/* -l: exactly length bytes of content between the header/body boundary
 * and the final ".", counting each line's CR LF; a last partial line gets
 * its CR LF on top. Lines are 78 letters, shifted by one for each line, so a
 * corrupted or reordered line shows. */
static void src_body_generate(struct sbuf *body, unsigned long length)
{
    char line[SRC_LINE_LEN];
    unsigned long left = length;
    for (unsigned long k = 0; left > 0; k++) {
        size_t n = left <= SRC_LINE_LEN ? left : (left - 2 < SRC_LINE_LEN ? left - 2 : SRC_LINE_LEN);
        for (size_t i = 0; i < n; i++)
            line[i] = (char)('a' + (k + i) % 26);
        sbuf_append(body, line, n);
        sbuf_cat(body, "\r\n");
        left -= left <= SRC_LINE_LEN ? left : n + 2;
    }
}

/* -F: the file's lines, sent as they are apart from line ends and dots. */
static void src_body_file(struct sbuf *body, const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        log_fatal("open %s: %m", path);
    struct sbuf *data = sbuf_new(65536);
    for (;;) {
        sbuf_reserve(data, 65536);
        ssize_t n = read(fd, sbuf_data(data) + sbuf_len(data), 65536);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            log_fatal("read %s: %m", path);
        if (n == 0)
            break;
        data->len += (size_t)n;
        data->data[data->len] = 0;
    }
    close(fd);
    const char *p = sbuf_str(data);
    size_t left = sbuf_len(data);
    while (left > 0) {
        const char *nl = memchr(p, '\n', left);
        size_t len = nl ? (size_t)(nl - p) : left;
        size_t used = nl ? len + 1 : len;
        if (len > 0 && p[len - 1] == '\r')
            len--;
        src_body_line(body, p, len);
        p += used;
        left -= used;
    }
    sbuf_free(data);
}

static void src_body_default(struct sbuf *body)
{
    static const char *const text[] = {
        "This is a test message sent by smtp-source.",
        "It carries no information; the receiving side may throw it away.",
        "End of test message.",
    };
    for (size_t i = 0; i < ARRAY_LEN(text); i++)
        src_body_line(body, text[i], strlen(text[i]));
}

/* Resolves "[inet:]host[:port]" or "unix:path" into src_opts.addr. */
static void src_resolve(const char *target, int family)
{
    if (strncmp(target, "unix:", 5) == 0) {
        struct sockaddr_un *sun = (struct sockaddr_un *)&src_opts.addr;
        const char *path = target + 5;
        if (*path == 0 || strlen(path) >= sizeof(sun->sun_path))
            log_fatal("bad UNIX-domain socket path: %s", path);
        memset(sun, 0, sizeof(*sun));
        sun->sun_family = AF_UNIX;
        memcpy(sun->sun_path, path, strlen(path));
        src_opts.addrlen = sizeof(*sun);
        return;
    }
    const char *spec = strncmp(target, "inet:", 5) == 0 ? target + 5 : target;
    char host[256];
    const char *port = "25";
    const char *hp = spec;
    size_t hlen;
    if (*spec == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL)
            log_fatal("bad address: %s", spec);
        hp = spec + 1;
        hlen = (size_t)(close - hp);
        if (close[1] == ':')
            port = close + 2;
        else if (close[1] != 0)
            log_fatal("bad address: %s", spec);
    } else {
        const char *colon = strchr(spec, ':');
        if (colon && strchr(colon + 1, ':') == NULL) {
            hlen = (size_t)(colon - spec);
            port = colon + 1;
        } else {
            hlen = strlen(spec);    /* no port, or a bare IPv6 address */
        }
    }
    if (hlen == 0 || hlen >= sizeof(host) || *port == 0)
        log_fatal("bad address: %s", spec);
    memcpy(host, hp, hlen);
    host[hlen] = 0;
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = family;
    hints.ai_socktype = SOCK_STREAM;
    int err = getaddrinfo(host, port, &hints, &res);
    if (err != 0)
        log_fatal("%s: %s", spec, gai_strerror(err));
    memcpy(&src_opts.addr, res->ai_addr, res->ai_addrlen);
    src_opts.addrlen = res->ai_addrlen;
    freeaddrinfo(res);
}

static void src_sweep_timer(void *ctx)
{
    (void)ctx;
    src_sessions_sweep();
    if (src_stats.sessions_alive > 0)
        event_timer_add(1.0, src_sweep_timer, NULL);
}

int main(int argc, char **argv)
{
    int family = AF_UNSPEC;
    const char *file = NULL;
    unsigned long length = 0;
    int ch;

    log_set_tag("smtp-source");
    log_set_stderr(true);
    log_close_syslog();
    signal(SIGPIPE, SIG_IGN);

    src_opts.connect_tries = 1;
    src_opts.messages = 1;
    src_opts.rcpts = 1;
    src_opts.sessions = 1;
    src_opts.random_delay = -1;
    src_opts.fixed_delay = -1;

    while ((ch = getopt(argc, argv, "46AcC:df:F:l:Lm:M:Nor:R:s:S:t:T:vw:")) != -1) {
        switch (ch) {
        case '4': family = AF_INET; break;
        case '6': family = AF_INET6; break;
        case 'A': src_opts.keep_going = true; break;
        case 'c': src_opts.show_count = true; break;
        case 'C': src_opts.connect_tries = (int)src_number(optarg, "-C", 1, 1000000); break;
        case 'd': src_opts.keep_conn = true; break;
        case 'f': src_opts.from = optarg; break;
        case 'F': file = optarg; break;
        case 'l': length = src_number(optarg, "message length", 1, 1UL << 31); break;
        case 'L': src_opts.lmtp = true; break;
        case 'm': src_opts.messages = src_number(optarg, "message count", 1, ULONG_MAX / 2); break;
        case 'M': src_opts.myhostname = optarg; break;
        case 'N': src_opts.number_rcpts = true; break;
        case 'o': src_opts.old_mode = true; break;
        case 'r': src_opts.rcpts = src_number(optarg, "recipient count", 1, 1000000); break;
        case 'R': src_opts.random_delay = (int)src_number(optarg, "-R", 0, 86400); break;
        case 's': src_opts.sessions = src_number(optarg, "session count", 1, 100000); break;
        case 'S': src_opts.subject = optarg; break;
        case 't': src_opts.to = optarg; break;
        case 'T': src_opts.window = (int)src_number(optarg, "-T", 1, 65535); break;
        case 'v': log_verbose++; break;
        case 'w': src_opts.fixed_delay = (int)src_number(optarg, "-w", 0, 86400); break;
        default: src_usage(argv[0]);
        }
    }
    if (argc - optind != 1)
        src_usage(argv[0]);
    src_opts.target = argv[optind];

    static char hostbuf[256];
    if (src_opts.myhostname == NULL) {
        if (gethostname(hostbuf, sizeof(hostbuf) - 1) < 0)
            log_fatal("gethostname: %m");
        hostbuf[sizeof(hostbuf) - 1] = 0;
        src_opts.myhostname = hostbuf;
    }
    struct sbuf *deflt = sbuf_new(300);
    sbuf_printf(deflt, "foo@%s", src_opts.myhostname);
    if (src_opts.from == NULL)
        src_opts.from = sbuf_str(deflt);
    if (src_opts.to == NULL)
        src_opts.to = sbuf_str(deflt);

    src_opts.body = sbuf_new(length + 1024);
    if (file)
        src_body_file(src_opts.body, file);
    else if (length > 0)
        src_body_generate(src_opts.body, length);
    else
        src_body_default(src_opts.body);
    sbuf_cat(src_opts.body, ".\r\n");
    src_opts.headers = !src_opts.old_mode && file == NULL;

    src_resolve(src_opts.target, family);

    unsigned long n = src_opts.sessions < src_opts.messages ? src_opts.sessions : src_opts.messages;
    for (unsigned long i = 0; i < n; i++)
        src_session_start((unsigned)i);
    event_timer_add(1.0, src_sweep_timer, NULL);
    while (src_stats.sessions_alive > 0)
        event_loop_once(-1);

    if (src_opts.show_count && write(1, "\n", 1) < 0) {
        /* best effort */
    }
    if (log_verbose)
        log_info("%lu messages, %lu accepted, %lu failures", src_stats.done, src_stats.delivered,
                 src_stats.failed);
    sbuf_free(deflt);
    return 0;
}
