/*
 * log.c - syslog/maillog/stderr logging that never blocks
 *
 * Used by: everything.
 * Interface: see log.h.
 * Notes: we speak the syslog datagram format ourselves instead of calling
 *        syslog(3), because syslog(3) may block on a full socket. A line
 *        that cannot be sent at once is dropped and counted; the next line
 *        that goes through is preceded by a warning with the count.
 */
#include "log.h"
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <syslog.h>

int log_verbose;

static char log_tag_buf[128] = "postfix";
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

void log_set_tag(const char *tag)
{
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

void log_open_maillog(const char *postlog_socket, const char *hostname)
{
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

/* Sends one datagram without blocking; returns false when it was lost. */
static bool log_send(int *fdp, const char *path, const char *buf, size_t len)
{
    if (*fdp < 0 && path[0])
        *fdp = log_dgram_connect(path);
    if (*fdp < 0)
        return false;
    if (send(*fdp, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)len)
        return true;
    if (errno == ECONNREFUSED || errno == ENOTCONN || errno == EBADF) {
        close(*fdp);            /* the reader went away: reconnect next time */
        *fdp = -1;
    }
    return false;
}

static void log_emit(int prio, const char *level, const char *text)
{
    char stamp[32];
    char line[4096];
    time_t now = time(NULL);
    struct tm tm;
    int n;
    int saved = errno;

    localtime_r(&now, &tm);
    strftime(stamp, sizeof(stamp), "%b %e %H:%M:%S", &tm);

    if (log_to_stderr && !(prio == LOG_WARNING && strstr(text, "log messages were lost"))) {
        const char *name = strrchr(log_tag_buf, '/');
        dprintf(2, "%s: %s%s\n", name ? name + 1 : log_tag_buf, level, text);
    }
    /* Report lost lines first, so a reader sees the gap where it happened. */
    if (log_lost > log_lost_reported && prio != LOG_DEBUG) {
        unsigned long lost = log_lost - log_lost_reported;
        log_lost_reported = log_lost;
        char note[128];
        snprintf(note, sizeof(note), "%lu log messages were lost (log socket full or down)", lost);
        log_emit(LOG_WARNING, "warning: ", note);
    }
    bool sent = false, tried = false;
    if (log_syslog_fd >= 0 || log_syslog_path[0]) {
        n = snprintf(line, sizeof(line), "<%d>%s %s[%ld]: %s%s", LOG_MAIL | prio, stamp,
                     log_tag_buf, (long)getpid(), level, text);
        if (n > (int)sizeof(line) - 1)
            n = (int)sizeof(line) - 1;
        tried = true;
        sent |= log_send(&log_syslog_fd, log_syslog_path, line, (size_t)n);
    }
    if (log_maillog_path[0] || log_file_fd >= 0) {
        n = snprintf(line, sizeof(line), "%s %s %s[%ld]: %s%s\n", stamp, log_hostname,
                     log_tag_buf, (long)getpid(), level, text);
        if (n > (int)sizeof(line) - 1) {
            n = (int)sizeof(line) - 1;
            line[n - 1] = '\n';
        }
        if (log_file_fd >= 0) {
            tried = true;
            sent |= write(log_file_fd, line, (size_t)n) == n;
        }
        if (log_maillog_path[0]) {
            tried = true;
            sent |= log_send(&log_maillog_fd, log_maillog_path, line, (size_t)n);
        }
    }
    /* A line the user saw on stderr is not lost. */
    if (tried && !sent && !log_to_stderr)
        log_lost++;
    errno = saved;
}

static void log_vemit(int prio, const char *level, const char *fmt, va_list ap)
{
    char text[2048];
    vsnprintf(text, sizeof(text), fmt, ap);
    /* Control characters from peers must not forge log lines. */
    for (char *p = text; *p; p++)
        if ((unsigned char)*p < 0x20)
            *p = '?';
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
    if (log_fatal_hook)
        log_fatal_hook(1, text);
    log_emit(LOG_CRIT, "panic: ", text);
    abort();
}
