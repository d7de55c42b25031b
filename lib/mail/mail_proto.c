/*
 * mail_proto.c - connecting to Postern services
 *
 * Used by: IPC clients.
 * Interface: see mail_proto.h.
 * Errors: mail_connect() logs a warning and returns NULL.
 */
#include "mail_proto.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_owner.h"
#include "sock.h"

void mail_service_path(struct sbuf *out, const char *class_, const char *service, bool absolute)
{
    if (absolute)
        sbuf_printf(out, "%s/%s/%s", cfg_str(P_QUEUE_DIRECTORY), class_, service);
    else
        sbuf_printf(out, "%s/%s", class_, service);
}

static bool mail_relative;

void mail_use_relative_paths(bool on)
{
    mail_relative = on;
}

struct stream *mail_connect(const char *class_, const char *service, const char *proto)
{
    struct sbuf *path = sbuf_new(128);
    mail_service_path(path, class_, service, !mail_relative);
    int timeout = (int)cfg_time(P_IPC_TIMEOUT);
    int fd = -1;
    /* A service that is (re)starting may refuse briefly: try a few times. */
    for (int i = 0; i < 10 && fd < 0; i++) {
        /* In a root agent, as mail_owner: a link planted in private/ or
         * public/ cannot lead root to a socket mail_owner cannot reach. */
        if (mail_owner_begin() == 0) {
            fd = sock_unix_connect_nb(sbuf_str(path), timeout);
            mail_owner_end();
        }
        if (fd < 0 && (errno == ECONNREFUSED || errno == EAGAIN || errno == ENOENT)) {
            struct timespec ts = { 0, 100000000L * (i + 1) };
            nanosleep(&ts, NULL);
        } else if (fd < 0)
            break;
    }
    if (fd < 0) {
        log_warn("connect to %s: %m", sbuf_str(path));
        sbuf_free(path);
        return NULL;
    }
    struct stream *s = stream_open_nonblock(fd);
    stream_set_timeout(s, timeout);
    if (proto) {
        int r = attr_expect_proto(s, proto);
        if (r < 0) {
            log_warn("%s: bad or missing greeting (want %s): %s", sbuf_str(path), proto,
                     r == ATTR_E_PROTO ? "protocol mismatch" : stream_strerror(r));
            stream_close(s);
            s = NULL;
        }
    }
    sbuf_free(path);
    return s;
}

static int mail_trigger_via(const char *class_, const char *service, char byte,
                            int (*via)(const char *, char))
{
    struct sbuf *path = sbuf_new(128);
    mail_service_path(path, class_, service, !mail_relative);
    int r = -1;
    if (mail_owner_begin() == 0) {
        r = via(sbuf_str(path), byte);
        mail_owner_end();
    }
    sbuf_free(path);
    return r;
}

int mail_trigger(const char *class_, const char *service, char byte)
{
    return mail_trigger_via(class_, service, byte, sock_trigger);
}

int mail_trigger_held(const char *class_, const char *service, char byte)
{
    return mail_trigger_via(class_, service, byte, sock_trigger_held);
}
