/*
 * postlogd.c - append log datagrams from every Postern program to
 *              $maillog_file
 *
 * Used by: master (postlog unix-dgram n - n - 1 postlogd); every program
 *          that logs while maillog_file is set sends its finished lines to
 *          public/postlog.
 * Interface: a SERVER_DGRAM daemon; one datagram is one log line.
 * Errors: a maillog_file outside $maillog_file_prefixes, or one that cannot
 *         be opened, is fatal at start-up (said on stderr and syslog too,
 *         since the log file is what failed).
 * Notes: the file is opened in pre_jail, while still root, and kept open
 *        after the privilege drop. Lines are collected in a buffer and
 *        written when the socket has been drained (the skeleton hands us
 *        up to 256 datagrams per wake-up, several per system call, then
 *        calls dgram_drained) or the buffer is large; there
 *        is no fsync per line. A line without a trailing newline gets
 *        one. Rotation: postfix logrotate renames the file and reloads
 *        master, which stops this process; the next one opens a new file
 *        (cmd/postfix/postfix_logrotate.c).
 */
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "sbuf.h"
#include "server.h"
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#define POSTLOGD_FLUSH_AT (64 * 1024)

static int postlogd_fd = -1;
static struct sbuf *postlogd_buf;

/* True when path starts with one of the allowed prefixes (a prefix must
 * match a whole path component, so /var does not allow /variable). */
static bool postlogd_prefix_ok(const char *path)
{
    char **list = cfg_list(cfg_str(P_MAILLOG_FILE_PREFIXES));
    bool ok = false;
    for (char **p = list; p && *p && !ok; p++) {
        size_t n = strlen(*p);
        while (n > 1 && (*p)[n - 1] == '/')
            n--;
        if (strncmp(path, *p, n) == 0 && (path[n] == 0 || path[n] == '/' || (*p)[n - 1] == '/'))
            ok = true;
    }
    cfg_list_free(list);
    return ok;
}

static void postlogd_flush(void)
{
    const char *p = sbuf_str(postlogd_buf);
    size_t left = sbuf_len(postlogd_buf);
    while (left > 0) {
        ssize_t n = write(postlogd_fd, p, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;      /* nowhere to complain: the log is what fails */
        p += n;
        left -= (size_t)n;
    }
    sbuf_reset(postlogd_buf);
}

/* The skeleton read datagrams in a burst and none is left: write them. */
static void postlogd_drained(void)
{
    if (sbuf_len(postlogd_buf) > 0)
        postlogd_flush();
}

static void postlogd_dgram(const char *buf, size_t len)
{
    if (len == 0)
        return;
    sbuf_append(postlogd_buf, buf, len);
    if (buf[len - 1] != '\n')
        sbuf_addch(postlogd_buf, '\n');
    if (sbuf_len(postlogd_buf) >= POSTLOGD_FLUSH_AT)
        postlogd_flush();
}

static void postlogd_pre_jail(void)
{
    const char *path = cfg_str(P_MAILLOG_FILE);
    if (*path == 0 || !postlogd_prefix_ok(path)) {
        log_open_syslog(NULL);
        log_set_stderr(true);
        if (*path == 0)
            log_fatal("%s is empty: postlogd has nowhere to write", P_MAILLOG_FILE);
        log_fatal("%s = %s: the path does not start with an allowed prefix (%s = %s)",
                  P_MAILLOG_FILE, path, P_MAILLOG_FILE_PREFIXES, cfg_str(P_MAILLOG_FILE_PREFIXES));
    }
    postlogd_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY, 0600);
    if (postlogd_fd < 0) {
        log_open_syslog(NULL);
        log_set_stderr(true);
        log_fatal("open %s: %m", path);
    }
    struct stat st;
    if (fstat(postlogd_fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_nlink > 1) {
        log_open_syslog(NULL);
        log_set_stderr(true);
        log_fatal("%s: refusing a log file with hard links", path);
    }
    postlogd_buf = sbuf_new(POSTLOGD_FLUSH_AT + 8192);
    /* Our own lines go straight into the file, not through our socket. */
    log_open_maillog("", NULL);
    log_open_file(path, cfg_str(P_MYHOSTNAME));
}

static void postlogd_on_exit(void)
{
    if (postlogd_buf)
        postlogd_flush();
}

static const struct server_ops postlogd_ops = {
    .model = SERVER_DGRAM,
    .resident = true,
    .pre_jail = postlogd_pre_jail,
    .dgram = postlogd_dgram,
    .dgram_drained = postlogd_drained,
    .on_exit = postlogd_on_exit,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &postlogd_ops);
}
