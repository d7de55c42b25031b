/*
 * anvil_clnt.c - client of the anvil service
 *
 * Used by: smtpd.
 * Interface: see anvil_clnt.h.
 * Errors: ANVIL_STAT_FAIL when anvil cannot be reached or answers badly;
 *         the first failure after a success is logged as a warning, and no
 *         new connection is tried for ANVIL_CLNT_RETRY seconds so that a
 *         missing service costs each SMTP session nothing.
 * Notes: the socket is private/anvil relative to the working directory,
 *         which the daemon skeleton sets to $queue_directory (so this also
 *         works inside a chroot jail).
 */
#include "anvil_clnt.h"
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "sbuf.h"
#include "sock.h"
#include "stream.h"

#define ANVIL_CLNT_RETRY 10     /* seconds between reconnect attempts */
#define ANVIL_CLNT_TIMEOUT 10   /* seconds for one request */

struct anvil_clnt {
    struct stream *s;
    time_t retry_after;     /* no connection attempts before this */
    bool warned;            /* an outage was logged */
    struct attr_list *reply;
};

struct anvil_clnt *anvil_clnt_new(void)
{
    struct anvil_clnt *a = xcalloc(1, sizeof(*a));
    a->reply = attr_list_new();
    return a;
}

void anvil_clnt_free(struct anvil_clnt *a)
{
    if (a == NULL)
        return;
    stream_close(a->s);
    attr_list_free(a->reply);
    xfree(a);
}

static void anvil_clnt_trouble(struct anvil_clnt *a, const char *what)
{
    if (!a->warned)
        log_warn("problem talking to service private/%s: %s", MAIL_SERVICE_ANVIL, what);
    a->warned = true;
    stream_close(a->s);
    a->s = NULL;
    a->retry_after = time(NULL) + ANVIL_CLNT_RETRY;
}

static bool anvil_clnt_open(struct anvil_clnt *a)
{
    if (a->s)
        return true;
    if (time(NULL) < a->retry_after)
        return false;
    struct sbuf *path = sbuf_new(64);
    mail_service_path(path, MAIL_CLASS_PRIVATE, MAIL_SERVICE_ANVIL, false);
    int fd = sock_unix_connect(sbuf_str(path), ANVIL_CLNT_TIMEOUT);
    sbuf_free(path);
    if (fd < 0) {
        anvil_clnt_trouble(a, strerror(errno));
        return false;
    }
    a->s = stream_open(fd);
    stream_set_timeout(a->s, ANVIL_CLNT_TIMEOUT);
    int r = attr_expect_proto(a->s, ANVIL_PROTO);
    if (r < 0) {
        anvil_clnt_trouble(a, r == ATTR_E_PROTO ? "protocol mismatch" : stream_strerror(r));
        return false;
    }
    return true;
}

/* One request/reply exchange; retries once on a fresh connection when an
 * old one turns out to be dead (anvil restarted). */
static int anvil_clnt_request(struct anvil_clnt *a, const char *req, const char *service,
                              const char *addr)
{
    struct sbuf *ident = sbuf_new(64);
    sbuf_printf(ident, "%s:%s", service, addr);
    int result = ANVIL_STAT_FAIL;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool reused = a->s != NULL;
        if (!anvil_clnt_open(a))
            break;
        if (attr_send(a->s, "request", req, "ident", sbuf_str(ident), (char *)NULL) == 0
            && attr_read(a->s, a->reply) == 0) {
            long status = -1;
            if (attr_get_long(a->reply, "status", &status) == 0 && status == 0) {
                a->warned = false;
                result = ANVIL_STAT_OK;
            } else
                anvil_clnt_trouble(a, "request failed");
            break;
        }
        stream_close(a->s);
        a->s = NULL;
        if (!reused) {
            anvil_clnt_trouble(a, "lost connection");
            break;
        }
    }
    sbuf_free(ident);
    return result;
}

static long anvil_clnt_value(struct anvil_clnt *a, const char *name)
{
    long v = 0;
    if (attr_get_long(a->reply, name, &v) < 0)
        v = 0;
    return v;
}

int anvil_clnt_connect(struct anvil_clnt *a, const char *service, const char *addr, long *count,
                       long *rate)
{
    if (anvil_clnt_request(a, ANVIL_REQ_CONNECT, service, addr) < 0)
        return ANVIL_STAT_FAIL;
    *count = anvil_clnt_value(a, "count");
    *rate = anvil_clnt_value(a, "rate");
    return ANVIL_STAT_OK;
}

int anvil_clnt_disconnect(struct anvil_clnt *a, const char *service, const char *addr)
{
    return anvil_clnt_request(a, ANVIL_REQ_DISCONNECT, service, addr);
}

static int anvil_clnt_rate(struct anvil_clnt *a, const char *req, const char *service,
                           const char *addr, long *rate)
{
    if (anvil_clnt_request(a, req, service, addr) < 0)
        return ANVIL_STAT_FAIL;
    *rate = anvil_clnt_value(a, "rate");
    return ANVIL_STAT_OK;
}

int anvil_clnt_message(struct anvil_clnt *a, const char *service, const char *addr, long *rate)
{
    return anvil_clnt_rate(a, ANVIL_REQ_MESSAGE, service, addr, rate);
}

int anvil_clnt_recipient(struct anvil_clnt *a, const char *service, const char *addr, long *rate)
{
    return anvil_clnt_rate(a, ANVIL_REQ_RECIPIENT, service, addr, rate);
}

int anvil_clnt_newtls(struct anvil_clnt *a, const char *service, const char *addr, long *rate)
{
    return anvil_clnt_rate(a, ANVIL_REQ_NEWTLS, service, addr, rate);
}

int anvil_clnt_newtls_report(struct anvil_clnt *a, const char *service, const char *addr,
                             long *rate)
{
    return anvil_clnt_rate(a, ANVIL_REQ_NEWTLS_REPORT, service, addr, rate);
}

int anvil_clnt_auth(struct anvil_clnt *a, const char *service, const char *addr, long *rate)
{
    return anvil_clnt_rate(a, ANVIL_REQ_AUTH, service, addr, rate);
}

int anvil_clnt_lookup(struct anvil_clnt *a, const char *service, const char *addr,
                      struct anvil_counts *out)
{
    if (anvil_clnt_request(a, ANVIL_REQ_LOOKUP, service, addr) < 0)
        return ANVIL_STAT_FAIL;
    out->count = anvil_clnt_value(a, "count");
    out->rate = anvil_clnt_value(a, "rate");
    out->message = anvil_clnt_value(a, "message");
    out->recipient = anvil_clnt_value(a, "recipient");
    out->newtls = anvil_clnt_value(a, "newtls");
    out->auth = anvil_clnt_value(a, "auth");
    return ANVIL_STAT_OK;
}
