/*
 * log.c - syslog/maillog/stderr logging that never blocks
 *
 * Used by: everything.
 * Interface: see log.h.
 * Notes: we speak the syslog datagram format ourselves instead of calling
 *        syslog(3), because syslog(3) may block on a full socket. A line
 *        for the postlog socket that finds it full is kept back (see
 *        "Deferred lines" below) and sent with the next one; a syslog line
 *        that finds the socket full waits up to LOG_ROOM_WAIT_MS for room,
 *        unless the reader failed to make room the last time; a line that
 *        still cannot be sent is dropped and counted; the next line that
 *        goes through is preceded by a warning with the count.
 */
#include "log.h"
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>
#include <time.h>

int log_verbose;

static char log_tag_buf[128] = "postfix";
static int log_facility = LOG_MAIL;
static bool log_to_stderr;
static int log_syslog_fd = -1;
static char log_syslog_path[108] = "/dev/log";
static int log_maillog_fd = -1;
static char log_maillog_path[108];
static int log_file_fd = -1;
static char log_hostname[256] = "localhost";
static unsigned long log_lost;
static unsigned long log_lost_reported;
static log_hook_fn log_fatal_hook;
static log_exit_fn log_exit_hook;
static bool log_in_fatal;
static pid_t log_pid_cache;             /* 0: not known in this process yet */

/*
 * Deferred lines. postlogd's socket queues only net.unix.max_dgram_qlen
 * datagrams (10 by default); under a mail burst every daemon logs at once
 * and postlogd, merely not scheduled yet, leaves the queue full. A daemon
 * that then waited for room slept, was woken with every other waiting
 * sender each time postlogd took one datagram, and mostly slept again
 * (bench/run relay: about 1.6 full-socket waits and 7 wake-ups per
 * message). Instead, a postlog line that finds the socket full is kept
 * here and sent, with any other kept lines, as one datagram before the
 * next line (postlogd writes a datagram as it comes, so several whole
 * lines are fine). log_idle(), which every place that waits for input
 * calls, sends them when the process is about to wait, and makes that
 * wait end LOG_DEFER_MAX_MS after the first kept line at the latest; at
 * that point, and when the buffer is full or the process exits, the
 * sender waits for room as a syslog line does; a process stopped by a
 * signal sends them from its handler (log_flush_at_signal). A forked
 * child (which may leave with _exit) keeps nothing back. Only the postlog socket: syslog
 * wants one line per datagram.
 */
#define LOG_DEFER_MAX_MS 200
static char log_defer_buf[LOG_DGRAM_MAX];
static size_t log_defer_len;
static long log_defer_since;    /* ms, CLOCK_MONOTONIC, of the first kept line */
static bool log_defer_off;      /* a forked child: no keeping back */
static bool log_maillog_stuck;
static void log_defer_flush(bool wait);
/* Set while the kept lines are being changed or sent, so that
 * log_flush_at_signal() never sends a half-written buffer or sends one
 * twice; the fences keep the compiler from moving the change across it. */
static volatile sig_atomic_t log_defer_busy;
#define LOG_DEFER_BEGIN() (log_defer_busy = 1, __atomic_signal_fence(__ATOMIC_SEQ_CST))
#define LOG_DEFER_END() (__atomic_signal_fence(__ATOMIC_SEQ_CST), log_defer_busy = 0)

/* A forked child must not log with its parent's pid, nor send the
 * parent's kept lines a second time. */
static void log_pid_forget(void)
{
    log_pid_cache = 0;
    log_defer_len = 0;
    log_defer_off = true;
}

static void log_atfork_register(void)
{
    static bool registered;
    if (!registered) {
        registered = true;
        pthread_atfork(NULL, NULL, log_pid_forget);
    }
}

/* The pid for the line's "tag[pid]": one getpid() per process, not per line. */
long log_pid(void)
{
    log_atfork_register();
    if (log_pid_cache == 0)
        log_pid_cache = getpid();
    return (long)log_pid_cache;
}

void log_set_tag(const char *tag)
{
    log_atfork_register();
    strlcpy(log_tag_buf, tag, sizeof(log_tag_buf));
}

const char *log_tag(void)
{
    return log_tag_buf;
}

void log_set_stderr(bool on)
{
    log_to_stderr = on;
}

void log_set_fatal_hook(log_hook_fn fn)
{
    log_fatal_hook = fn;
}

void log_set_exit_hook(log_exit_fn fn)
{
    log_exit_hook = fn;
}

unsigned long log_dropped(void)
{
    return log_lost;
}

static int log_dgram_connect(const char *path)
{
    struct sockaddr_un sun;
    int fd;

    if (strlen(path) >= sizeof(sun.sun_path))
        return -1;
    fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    memcpy(sun.sun_path, path, strlen(path));
    if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

void log_open_syslog(const char *path)
{
    if (path)
        strlcpy(log_syslog_path, path, sizeof(log_syslog_path));
    if (log_syslog_fd >= 0)
        close(log_syslog_fd);
    log_syslog_fd = log_dgram_connect(log_syslog_path);
}

void log_close_syslog(void)
{
    if (log_syslog_fd >= 0)
        close(log_syslog_fd);
    log_syslog_fd = -1;
    log_syslog_path[0] = 0;
}

int log_set_facility(const char *name)
{
    static const struct {
        const char *name;
        int code;
    } fac[] = {
        { "auth", LOG_AUTH },     { "authpriv", LOG_AUTHPRIV }, { "cron", LOG_CRON },
        { "daemon", LOG_DAEMON }, { "ftp", LOG_FTP },           { "kern", LOG_KERN },
        { "lpr", LOG_LPR },       { "mail", LOG_MAIL },         { "news", LOG_NEWS },
        { "syslog", LOG_SYSLOG }, { "user", LOG_USER },         { "uucp", LOG_UUCP },
        { "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },     { "local2", LOG_LOCAL2 },
        { "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 },     { "local5", LOG_LOCAL5 },
        { "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
    };
    for (size_t i = 0; i < sizeof(fac) / sizeof(fac[0]); i++)
        if (strcasecmp(name, fac[i].name) == 0) {
            log_facility = fac[i].code;
            return 0;
        }
    return -1;
}

void log_open_maillog(const char *postlog_socket, const char *hostname)
{
    log_defer_flush(true);  /* kept lines go where they were meant to */
    strlcpy(log_maillog_path, postlog_socket, sizeof(log_maillog_path));
    if (hostname)
        strlcpy(log_hostname, hostname, sizeof(log_hostname));
    if (log_maillog_fd >= 0)
        close(log_maillog_fd);
    log_maillog_fd = log_dgram_connect(log_maillog_path);
}

void log_open_file(const char *path, const char *hostname)
{
    if (hostname)
        strlcpy(log_hostname, hostname, sizeof(log_hostname));
    if (log_file_fd >= 0)
        close(log_file_fd);
    log_file_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0644);
}

/*
 * How long a line waits for room in a full log socket. The reader's queue
 * holds only net.unix.max_dgram_qlen datagrams (10 by default): under a
 * mail burst every process logs at once and postlogd, merely not scheduled
 * yet, had about one line in nine refused (bench/cost relay 1000: 830 of
 * some 7 600). A reader that does not drain within this time is taken to be
 * stuck: lines are then dropped at once (and counted) until one gets
 * through again, so a dead reader never slows a daemon down by more than
 * one wait.
 */
#define LOG_ROOM_WAIT_MS 100

/*
 * Sends one datagram; returns false when it was lost. A reader that went
 * away (postlogd or syslogd restarted) leaves our connected socket
 * pointing at nothing: reconnect once and retry, so a restart does not
 * cost a line. *stuck remembers a reader that did not make room in time.
 */
static bool log_send(int *fdp, const char *path, const char *buf, size_t len, bool *stuck,
                     bool may_wait)
{
    for (int attempt = 0; attempt < 2; attempt++) {
        if (*fdp < 0 && path[0])
            *fdp = log_dgram_connect(path);
        if (*fdp < 0)
            return false;
        if (send(*fdp, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len) {
            *stuck = false;
            return true;
        }
        if (errno == EAGAIN && !may_wait)
            return false;       /* full: the caller keeps the line back */
        if (errno == EAGAIN && !*stuck) {
            /* Other senders may take the room first: wait again, within
             * one LOG_ROOM_WAIT_MS in all (counted in 10 ms steps). */
            for (int waited = 0; waited < LOG_ROOM_WAIT_MS && errno == EAGAIN; waited += 10) {
                struct pollfd pfd = { .fd = *fdp, .events = POLLOUT };
                if (poll(&pfd, 1, 10) > 0) {
                    if (send(*fdp, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
                        return true;
                } else
                    errno = EAGAIN;     /* timed out, or a signal: still no room */
            }
            if (errno == EAGAIN) {
                *stuck = true;
                return false;
            }
        }
        if (errno != ECONNREFUSED && errno != ENOTCONN && errno != EBADF)
            return false;       /* EAGAIN: full; the line is lost, the fd is fine */
        close(*fdp);
        *fdp = -1;
    }
    return false;
}

static long log_clock_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Sends the kept lines as one datagram. They stay kept only when the
 * socket is full and wait is false; lines that cannot be sent even after
 * waiting are dropped and counted. */
static void log_defer_flush(bool wait)
{
    if (log_defer_len == 0)
        return;
    LOG_DEFER_BEGIN();
    bool sent = log_send(&log_maillog_fd, log_maillog_path, log_defer_buf, log_defer_len,
                         &log_maillog_stuck, wait);
    if (sent || wait || errno != EAGAIN) {
        for (size_t i = 0; !sent && i < log_defer_len; i++)
            if (log_defer_buf[i] == '\n')
                log_lost++;
        log_defer_len = 0;
    }
    LOG_DEFER_END();
}

void log_flush_at_signal(void)
{
    int saved = errno;
    if (!log_defer_busy && log_defer_len > 0 && log_maillog_fd >= 0) {
        for (int i = 0; i < 10; i++) {
            if (send(log_maillog_fd, log_defer_buf, log_defer_len, MSG_DONTWAIT | MSG_NOSIGNAL) >= 0
                || errno != EAGAIN)
                break;
            struct pollfd pfd = { .fd = log_maillog_fd, .events = POLLOUT };
            (void)poll(&pfd, 1, 10);
        }
        log_defer_len = 0;
    }
    errno = saved;
}

static void log_defer_at_exit(void)
{
    log_defer_flush(true);
}

/* Sends one postlog line (ending in a newline): after the kept ones, or
 * kept back itself when the socket is full. False: lost. A note about
 * lost lines is never kept back: it counts as reported only once sent. */
static bool log_maillog_send(const char *line, size_t len, bool note)
{
    log_defer_flush(false);
    if (log_defer_len > 0) {
        if (note)
            return false;
        if (log_defer_len + len <= sizeof(log_defer_buf)) {
            LOG_DEFER_BEGIN();
            memcpy(log_defer_buf + log_defer_len, line, len);
            log_defer_len += len;
            LOG_DEFER_END();
            return true;
        }
        log_defer_flush(true);
    }
    bool keep = !note && !log_defer_off && len <= sizeof(log_defer_buf);
    if (log_send(&log_maillog_fd, log_maillog_path, line, len, &log_maillog_stuck, !keep))
        return true;
    if (!keep || errno != EAGAIN)
        return false;
    static bool exit_registered;
    if (!exit_registered) {
        exit_registered = true;
        atexit(log_defer_at_exit);
    }
    LOG_DEFER_BEGIN();
    memcpy(log_defer_buf, line, len);
    log_defer_len = len;
    LOG_DEFER_END();
    log_defer_since = log_clock_ms();
    return true;
}

int log_idle(int wait_ms)
{
    log_defer_flush(false);
    if (log_defer_len == 0)
        return wait_ms;
    long left = LOG_DEFER_MAX_MS - (log_clock_ms() - log_defer_since);
    if (left <= 0) {
        log_defer_flush(true);
        return wait_ms;
    }
    return wait_ms < 0 || wait_ms > left ? (int)left : wait_ms;
}

int log_poll(struct pollfd *pfds, nfds_t n, int ms)
{
    if (log_defer_len == 0)
        return poll(pfds, n, ms);
    long end = ms >= 0 ? log_clock_ms() + ms : -1;
    for (;;) {
        int wait = log_idle(ms);
        int ready = poll(pfds, n, wait);
        if (ready != 0 || wait == ms)
            return ready;
        if (end >= 0 && (ms = (int)(end - log_clock_ms())) <= 0)
            return 0;
    }
}

/*
 * Formats one line for each open destination and sends it. *tried says
 * whether any destination exists; the result says whether any took it.
 */
static bool log_deliver(int prio, const char *stamp, const char *level, const char *text,
                        bool *tried, bool note)
{
    char line[4096];
    bool sent = false;
    int n;

    *tried = false;
    if (log_syslog_fd >= 0 || log_syslog_path[0]) {
        n = snprintf(line, sizeof(line), "<%d>%s %s[%ld]: %s%s", log_facility | prio, stamp,
                     log_tag_buf, log_pid(), level, text);
        if (n < 0)
            return false;
        if (n > (int)sizeof(line) - 1)
            n = (int)sizeof(line) - 1;
        *tried = true;
        static bool stuck;
        sent |= log_send(&log_syslog_fd, log_syslog_path, line, (size_t)n, &stuck, true);
    }
    if (log_maillog_path[0] || log_file_fd >= 0) {
        n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s%s\n", stamp, log_hostname,
                     log_tag_buf, log_pid(), level, text);
        if (n < 0)
            return sent;
        if (n > (int)sizeof(line) - 1) {
            n = (int)sizeof(line) - 1;
            line[n - 1] = '\n';
        }
        if (log_file_fd >= 0) {
            *tried = true;
            sent |= write(log_file_fd, line, (size_t)n) == n;
        }
        if (log_maillog_path[0]) {
            *tried = true;
            sent |= log_maillog_send(line, (size_t)n, note);
        }
    }
    return sent;
}

static void log_emit(int prio, const char *level, const char *text)
{
    /* The time stamp changes once a second: formatted once a second (a
     * daemon logs several lines per message). */
    static char stamp[32];
    static time_t stamp_time = -1;
    time_t now = time(NULL);
    bool tried;
    int saved = errno;

    if (now != stamp_time) {
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);
        stamp_time = now;
    }

    if (log_to_stderr) {
        const char *name = strrchr(log_tag_buf, '/');
        dprintf(2, "%s: %s%s\n", name ? name + 1 : log_tag_buf, level, text);
    }
    /*
     * Report lost lines first, so a reader sees the gap where it happened.
     * The count is settled only when the warning itself got through; while
     * the socket stays full the warning is retried with each line and is
     * not itself counted, so the number it finally shows is exact.
     */
    if (log_lost > log_lost_reported && prio != LOG_DEBUG) {
        unsigned long lost = log_lost - log_lost_reported;
        char note[128];
        snprintf(note, sizeof(note), "%lu log messages were lost (log socket full or down)", lost);
        if (log_deliver(LOG_WARNING, stamp, "warning: ", note, &tried, true))
            log_lost_reported += lost;
    }
    /* A line the user saw on stderr is not lost. */
    if (!log_deliver(prio, stamp, level, text, &tried, false) && tried && !log_to_stderr)
        log_lost++;
    errno = saved;
}

char *log_printable(char *text)
{
    for (unsigned char *p = (unsigned char *)text; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
    return text;
}

static void log_vemit(int prio, const char *level, const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof(text), fmt, ap);
    log_printable(text);
    log_emit(prio, level, text);
}

void log_debug(int level, const char *fmt, ...)
{
    va_list ap;
    if (log_verbose < level)
        return;
    va_start(ap, fmt);
    log_vemit(LOG_DEBUG, "", fmt, ap);
    va_end(ap);
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vemit(LOG_INFO, "", fmt, ap);
    va_end(ap);
}

void log_warn(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_vemit(LOG_WARNING, "warning: ", fmt, ap);
    va_end(ap);
}

void log_fatal(const char *fmt, ...)
{
    va_list ap;
    char text[2048];
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_printable(text);
    if (log_fatal_hook)
        log_fatal_hook(0, text);
    log_emit(LOG_CRIT, "fatal: ", text);
    if (!log_in_fatal && log_exit_hook) {
        log_in_fatal = true;
        log_exit_hook();
    }
    exit(1);
}

void log_panic(const char *fmt, ...)
{
    va_list ap;
    char text[2048];
    va_start(ap, fmt);
    vsnprintf(text, sizeof(text), fmt, ap);
    va_end(ap);
    log_printable(text);
    if (log_fatal_hook)
        log_fatal_hook(1, text);
    log_emit(LOG_CRIT, "panic: ", text);
    log_defer_flush(true);  /* abort() runs no atexit handler */
    abort();
}
