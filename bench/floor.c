/*
 * floor.c - the least a server can do per held message (a bench reference)
 *
 * Used by: bench/run (BENCH_FLOOR=1, the default, on the ingest path).
 * Interface: floor PORT DIR PROCS
 * Errors: start-up errors exit 1 with a message; a failed commit answers 451.
 * Notes: this is not mail software and is never installed. It measures a
 *        lower bound of the ingest path on this machine: what the kernel must
 *        do for a message when each message is made durable on its own (as
 *        Postfix and Postern do), at the durability both MTAs give a held
 *        message; a server that committed several messages with one fsync
 *        could go below it. PROCS pre-forked processes share one
 *        listener on 127.0.0.1:PORT; each serves one SMTP session at a time
 *        with blocking I/O (banner, EHLO with PIPELINING, MAIL, RCPT, DATA,
 *        QUIT; no checks, no logging, no second process per message). Per
 *        message it creates DIR/incoming/NAME, writes the content in one
 *        write, renames it to DIR/hold/NAME, fsyncs it (on ext4 the fsync
 *        of a file whose name was just made commits that name too; Postern's
 *        cleanup makes held mail durable the same way) and only then sends
 *        250. The parent forwards SIGTERM to the workers and exits when they
 *        have.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#define FLOOR_LINE_MAX 1000           /* RFC 5321 text line, with CRLF */
#define FLOOR_MSG_MAX (10 * 1024 * 1024)

struct floor_conn {
    int fd;
    char in[65536];
    size_t pos, end;
    char out[4096];
    size_t out_len;
};

static const char *floor_dir;
static unsigned long floor_count;

static int floor_flush(struct floor_conn *c)
{
    size_t off = 0;
    while (off < c->out_len) {
        ssize_t n = send(c->fd, c->out + off, c->out_len - off, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return -1;
        off += (size_t)n;
    }
    c->out_len = 0;
    return 0;
}

/* Queues a reply; it goes out when the client has nothing more pipelined. */
static int floor_reply(struct floor_conn *c, const char *text)
{
    size_t n = strlen(text);
    if (c->out_len + n > sizeof(c->out) && floor_flush(c) < 0)
        return -1;
    memcpy(c->out + c->out_len, text, n);
    c->out_len += n;
    return 0;
}

/* The next line without its CRLF (NUL-terminated in place), or NULL at EOF,
 * on error or for a line longer than the buffer. Replies are flushed before
 * the process blocks for more input. */
static char *floor_line(struct floor_conn *c, size_t *len)
{
    for (;;) {
        char *nl = memchr(c->in + c->pos, '\n', c->end - c->pos);
        if (nl != NULL) {
            char *line = c->in + c->pos;
            size_t n = (size_t)(nl - line);
            c->pos += n + 1;
            if (n > 0 && line[n - 1] == '\r')
                n--;
            line[n] = 0;
            *len = n;
            return line;
        }
        if (c->pos > 0) {
            memmove(c->in, c->in + c->pos, c->end - c->pos);
            c->end -= c->pos;
            c->pos = 0;
        }
        if (c->end == sizeof(c->in))
            return NULL;
        if (c->out_len > 0 && floor_flush(c) < 0)
            return NULL;
        ssize_t n = read(c->fd, c->in + c->end, sizeof(c->in) - c->end);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;
        c->end += (size_t)n;
    }
}

/* Writes the message to incoming/, moves it to hold/ and makes it durable.
 * The name it got, or NULL (errno set). */
static const char *floor_commit(const char *data, size_t len)
{
    static char name[64];
    char tmp[4096], fin[4096];
    snprintf(name, sizeof(name), "%ld.%lu", (long)getpid(), ++floor_count);
    snprintf(tmp, sizeof(tmp), "%s/incoming/%s", floor_dir, name);
    snprintf(fin, sizeof(fin), "%s/hold/%s", floor_dir, name);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0)
        return NULL;
    ssize_t n = write(fd, data, len);
    bool moved = false;
    if (n != (ssize_t)len || !(moved = rename(tmp, fin) == 0) || fsync(fd) < 0) {
        int err = n >= 0 && n != (ssize_t)len ? ENOSPC : errno;
        close(fd);
        unlink(moved ? fin : tmp);     /* answered 451: nothing may stay held */
        errno = err;
        return NULL;
    }
    close(fd);
    return name;
}

/* Reads the content after 354 up to the lone dot, undoing dot-stuffing.
 * 0 with the content in *msg, 1 when it was longer than FLOOR_MSG_MAX (read
 * and dropped), -1 when the connection is gone. */
static int floor_data(struct floor_conn *c, char **msg, size_t *cap, size_t *len)
{
    size_t n;
    char *line;
    bool too_big = false;
    *len = 0;
    while ((line = floor_line(c, &n)) != NULL) {
        if (n == 1 && line[0] == '.')
            return too_big ? 1 : 0;
        if (line[0] == '.') {
            line++;
            n--;
        }
        if (*len + n + 2 > FLOOR_MSG_MAX) {
            too_big = true;
            continue;
        }
        if (*len + n + 2 > *cap) {
            size_t want = *cap * 2 > *len + n + 2 ? *cap * 2 : *len + n + 2;
            char *p = realloc(*msg, want);
            if (p == NULL)
                return -1;
            *msg = p;
            *cap = want;
        }
        memcpy(*msg + *len, line, n);
        memcpy(*msg + *len + n, "\r\n", 2);
        *len += n + 2;
    }
    return -1;
}

/* c: the worker's one buffer set, reset here (no allocation per session). */
static void floor_session(struct floor_conn *c, int fd, char **msg, size_t *cap)
{
    char *line, reply[128];
    size_t n, len;
    c->fd = fd;
    c->pos = c->end = c->out_len = 0;
    floor_reply(c, "220 floor.invalid ESMTP floor\r\n");
    while ((line = floor_line(c, &n)) != NULL) {
        if (n > FLOOR_LINE_MAX) {
            floor_reply(c, "500 5.5.2 Line too long\r\n");
        } else if (strncasecmp(line, "EHLO", 4) == 0) {
            floor_reply(c, "250-floor.invalid\r\n250-PIPELINING\r\n250 8BITMIME\r\n");
        } else if (strncasecmp(line, "HELO", 4) == 0) {
            floor_reply(c, "250 floor.invalid\r\n");
        } else if (strncasecmp(line, "MAIL", 4) == 0) {
            floor_reply(c, "250 2.1.0 Ok\r\n");
        } else if (strncasecmp(line, "RCPT", 4) == 0) {
            floor_reply(c, "250 2.1.5 Ok\r\n");
        } else if (strncasecmp(line, "DATA", 4) == 0) {
            floor_reply(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
            int r = floor_data(c, msg, cap, &len);
            if (r < 0)
                break;
            const char *name = r == 0 ? floor_commit(*msg, len) : NULL;
            if (r > 0)
                snprintf(reply, sizeof(reply), "552 5.3.4 Message too big\r\n");
            else if (name == NULL)
                snprintf(reply, sizeof(reply), "451 4.3.0 %s\r\n", strerror(errno));
            else
                snprintf(reply, sizeof(reply), "250 2.0.0 Ok: queued as %s\r\n", name);
            floor_reply(c, reply);
        } else if (strncasecmp(line, "QUIT", 4) == 0) {
            floor_reply(c, "221 2.0.0 Bye\r\n");
            break;
        } else if (strncasecmp(line, "RSET", 4) == 0 || strncasecmp(line, "NOOP", 4) == 0) {
            floor_reply(c, "250 2.0.0 Ok\r\n");
        } else {
            floor_reply(c, "502 5.5.2 Error: command not recognized\r\n");
        }
    }
    if (c->out_len > 0)
        (void)floor_flush(c);
}

/* unblock: the signal mask the parent had before it blocked SIGTERM and
 * SIGINT for its own wait. */
static void floor_worker(int ls, const sigset_t *unblock)
{
    static struct floor_conn conn;
    char *msg = NULL;
    size_t cap = 0;
    signal(SIGTERM, SIG_DFL);
    signal(SIGINT, SIG_DFL);
    sigprocmask(SIG_SETMASK, unblock, NULL);
    for (;;) {
        int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED)
                continue;
            perror("floor: accept");
            _exit(1);
        }
        floor_session(&conn, fd, &msg, &cap);
        close(fd);
    }
}

static volatile sig_atomic_t floor_stop;

static void floor_on_term(int sig)
{
    (void)sig;
    floor_stop = 1;
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: floor PORT DIR PROCS\n");
        return 1;
    }
    char *end1, *end3;
    long port = strtol(argv[1], &end1, 10), procs = strtol(argv[3], &end3, 10);
    floor_dir = argv[2];
    if (*end1 || *end3 || port <= 0 || port > 65535 || procs <= 0 || procs > 1000) {
        fprintf(stderr, "floor: bad port or process count\n");
        return 1;
    }
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (ls < 0 || setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
        bind(ls, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(ls, 1024) < 0) {
        perror("floor: listen");
        return 1;
    }
    /* Blocked until sigsuspend() below, so that a SIGTERM that comes before
     * the parent waits is not lost. */
    struct sigaction sa = { .sa_handler = floor_on_term };
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    sigaddset(&term, SIGINT);
    sigprocmask(SIG_BLOCK, &term, &old);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    pid_t *kids = calloc((size_t)procs, sizeof(*kids));
    if (kids == NULL) {
        perror("floor: calloc");
        return 1;
    }
    for (int i = 0; i < procs; i++) {
        kids[i] = fork();
        if (kids[i] == 0)
            floor_worker(ls, &old);
        if (kids[i] < 0) {
            perror("floor: fork");
            floor_stop = 1;
            break;
        }
    }
    while (!floor_stop)
        sigsuspend(&old);
    for (int i = 0; i < procs; i++)
        if (kids[i] > 0)
            kill(kids[i], SIGTERM);
    while (wait(NULL) > 0 || errno == EINTR)
        ;
    return 0;
}
