/*
 * sasl_dovecot.c - SASL server back end talking to Dovecot's auth service
 *
 * Used by: sasl_server.c (smtpd_sasl_type = dovecot).
 * Interface: sasl_dovecot_backend.
 * Errors: a socket that cannot be reached is logged ("SASL: Connect to
 *         Dovecot auth socket ... failed") and the session offers no AUTH;
 *         a connection lost during an exchange is a temporary failure
 *         (454), and the next exchange reconnects.
 * Notes: the protocol is Dovecot's auth-client protocol, version 1: lines
 *        of tab-separated fields. We send "VERSION 1 1" and "CPID pid";
 *        the server lists its mechanisms ("MECH name flags...") and ends
 *        its hand-shake with "DONE". An exchange is
 *        "AUTH id mech service=smtp nologin lip= rip= [secured] [resp=b64]",
 *        answered by "CONT id b64" (we relay it as a 334 challenge and send
 *        the client's answer back as "CONT id b64"), "OK id user=name" or
 *        "FAIL id [reason=text] [temp] [user=name]". The socket is
 *        smtpd_sasl_path: a UNIX socket relative to the queue directory
 *        (e.g. private/auth) or an absolute path, or inet:host:port. One
 *        connection serves every session of this process. Mechanisms
 *        Dovecot marks private are never offered; the others are filtered
 *        by the security options from their flags. Everything sent to
 *        Dovecot is checked first (mechanism from its own list, base64
 *        data), so no field can smuggle a tab or a newline.
 */
#include "sasl_priv.h"
#include "alloc.h"
#include "log.h"
#include "sock.h"
#include "stream.h"
#include <strings.h>

#define DOVECOT_MAJOR 1
#define DOVECOT_MINOR 1
#define DOVECOT_LINE_MAX 65536

#define DOVECOT_MECH_ANONYMOUS 0x01
#define DOVECOT_MECH_PLAINTEXT 0x02
#define DOVECOT_MECH_DICTIONARY 0x04
#define DOVECOT_MECH_ACTIVE 0x08
#define DOVECOT_MECH_FORWARD_SECRECY 0x10
#define DOVECOT_MECH_MUTUAL_AUTH 0x20
#define DOVECOT_MECH_PRIVATE 0x40

struct dovecot_mech {
    char *name;
    int flags;
};

/* The process-wide connection to the auth service. */
static struct {
    char *path;
    int timeout;
    struct stream *s;
    struct dovecot_mech *mechs;
    size_t nmechs;
    unsigned next_id;
} dv;

/* Per-session state. */
struct sasl_dovecot {
    unsigned id;                /* request in progress, 0 when none */
    char *service, *lip, *rip;
    bool secured;
};

static int sasl_dovecot_init(const char *path, const char *config_path)
{
    (void)config_path;
    if (path == NULL || *path == 0) {
        log_warn("smtpd_sasl_path is empty: no Dovecot auth socket to talk to");
        return -1;
    }
    xfree(dv.path);
    dv.path = xstrdup(path);
    return 0;
}

static void sasl_dovecot_disconnect(void)
{
    if (dv.s)
        stream_close(dv.s);
    dv.s = NULL;
    for (size_t i = 0; i < dv.nmechs; i++)
        xfree(dv.mechs[i].name);
    xfree(dv.mechs);
    dv.mechs = NULL;
    dv.nmechs = 0;
}

/* Splits line at tabs in place; returns the number of fields (at most max). */
static size_t sasl_dovecot_split(char *line, char **fields, size_t max)
{
    size_t n = 0;
    char *p = line;
    while (n < max) {
        fields[n++] = p;
        char *t = strchr(p, '\t');
        if (t == NULL)
            break;
        *t = 0;
        p = t + 1;
    }
    return n;
}

/* Undoes Dovecot's value escapes (\001 followed by 1, t, r or n). */
static void sasl_dovecot_unescape(char *v)
{
    char *w = v;
    for (char *r = v; *r; r++) {
        if (*r == '\001' && r[1]) {
            r++;
            *w++ = *r == 't' ? '\t' : *r == 'r' ? '\r' : *r == 'n' ? '\n' : '\001';
        } else
            *w++ = *r;
    }
    *w = 0;
}

static int sasl_dovecot_mech_flag(const char *word)
{
    static const struct {
        const char *name;
        int flag;
    } f[] = {
        { "anonymous", DOVECOT_MECH_ANONYMOUS }, { "plaintext", DOVECOT_MECH_PLAINTEXT },
        { "dictionary", DOVECOT_MECH_DICTIONARY }, { "active", DOVECOT_MECH_ACTIVE },
        { "forward-secrecy", DOVECOT_MECH_FORWARD_SECRECY },
        { "mutual-auth", DOVECOT_MECH_MUTUAL_AUTH }, { "private", DOVECOT_MECH_PRIVATE },
    };
    for (size_t i = 0; i < ARRAY_LEN(f); i++)
        if (strcasecmp(word, f[i].name) == 0)
            return f[i].flag;
    return 0;
}

/* Connects and reads the hand-shake. 0, or -1 (logged). */
static int sasl_dovecot_connect(int timeout)
{
    if (dv.s)
        return 0;
    int fd;
    if (strncmp(dv.path, "inet:", 5) == 0) {
        char *host = xstrdup(dv.path + 5);
        char *colon = strrchr(host, ':');
        if (colon == NULL) {
            log_warn("SASL: bad Dovecot auth socket address '%s': need inet:host:port", dv.path);
            xfree(host);
            return -1;
        }
        *colon = 0;
        fd = sock_inet_connect(host, colon + 1, timeout);
        xfree(host);
    } else {
        const char *p = strncmp(dv.path, "unix:", 5) == 0 ? dv.path + 5 : dv.path;
        fd = sock_unix_connect(p, timeout);
    }
    if (fd < 0) {
        log_warn("SASL: Connect to Dovecot auth socket '%s' failed: %m", dv.path);
        return -1;
    }
    dv.s = stream_open(fd);
    stream_set_timeout(dv.s, timeout);
    stream_printf(dv.s, "VERSION\t%d\t%d\nCPID\t%ld\n", DOVECOT_MAJOR, DOVECOT_MINOR,
                  (long)getpid());
    if (stream_flush(dv.s) != 0) {
        log_warn("SASL: Couldn't send handshake: %s", stream_strerror(stream_error(dv.s)));
        sasl_dovecot_disconnect();
        return -1;
    }
    struct sbuf *line = sbuf_new(256);
    bool done = false, version = false;
    while (!done) {
        ssize_t n = stream_getline(dv.s, line, DOVECOT_LINE_MAX, NULL);
        if (n < 0) {
            log_warn("SASL: Dovecot auth socket '%s': hand-shake failed: %s", dv.path,
                     stream_strerror((int)n));
            break;
        }
        char *f[16];
        size_t nf = sasl_dovecot_split(sbuf_data(line), f, ARRAY_LEN(f));
        if (strcmp(f[0], "VERSION") == 0 && nf >= 2) {
            long major = strtol(f[1], NULL, 10);
            if (major != DOVECOT_MAJOR) {
                log_warn("SASL: Protocol version mismatch (%d vs. %ld)", DOVECOT_MAJOR, major);
                break;
            }
            version = true;
        } else if (strcmp(f[0], "MECH") == 0 && nf >= 2) {
            int flags = 0;
            for (size_t i = 2; i < nf; i++)
                flags |= sasl_dovecot_mech_flag(f[i]);
            /* A name we could not pass back safely is simply not offered. */
            if (strlen(f[1]) > 64 || strpbrk(f[1], " \t\r\n") != NULL)
                continue;
            dv.mechs = xreallocarray(dv.mechs, dv.nmechs + 1, sizeof(*dv.mechs));
            dv.mechs[dv.nmechs].name = xstrdup(f[1]);
            dv.mechs[dv.nmechs].flags = flags;
            dv.nmechs++;
        } else if (strcmp(f[0], "DONE") == 0) {
            done = true;
        }
        /* SPID, CUID, COOKIE and anything newer are not needed here. */
    }
    sbuf_free(line);
    if (!done || !version) {
        if (done)
            log_warn("SASL: Protocol version error");
        sasl_dovecot_disconnect();
        return -1;
    }
    return 0;
}

static bool sasl_dovecot_mech_ok(const struct dovecot_mech *m, int sec)
{
    if (m->flags & DOVECOT_MECH_PRIVATE)
        return false;
    if ((sec & SASL_SRV_SEC_NOANONYMOUS) && (m->flags & DOVECOT_MECH_ANONYMOUS))
        return false;
    if ((sec & SASL_SRV_SEC_NOPLAINTEXT) && (m->flags & DOVECOT_MECH_PLAINTEXT))
        return false;
    if ((sec & SASL_SRV_SEC_NODICTIONARY) && (m->flags & DOVECOT_MECH_DICTIONARY))
        return false;
    if ((sec & SASL_SRV_SEC_NOACTIVE) && (m->flags & DOVECOT_MECH_ACTIVE))
        return false;
    if ((sec & SASL_SRV_SEC_FORWARD_SECRECY) && !(m->flags & DOVECOT_MECH_FORWARD_SECRECY))
        return false;
    if ((sec & SASL_SRV_SEC_MUTUAL_AUTH) && !(m->flags & DOVECOT_MECH_MUTUAL_AUTH))
        return false;
    return true;
}

static int sasl_dovecot_create(struct sasl_srv *s, const struct sasl_srv_args *a)
{
    struct sasl_dovecot *d = xcalloc(1, sizeof(*d));
    s->priv = d;
    d->service = xstrdup(a->service && *a->service ? a->service : "smtp");
    d->lip = xstrdup(a->server_addr ? a->server_addr : "");
    d->rip = xstrdup(a->client_addr ? a->client_addr : "");
    d->secured = a->tls_active;
    dv.timeout = a->timeout > 0 ? a->timeout : 300;
    if (sasl_dovecot_connect(dv.timeout) < 0)
        return -1;
    for (size_t i = 0; i < dv.nmechs; i++) {
        if (!sasl_dovecot_mech_ok(&dv.mechs[i], a->security)) {
            log_debug(1, "skip mechanism: %s", dv.mechs[i].name);
            continue;
        }
        log_debug(1, "keep mechanism: %s", dv.mechs[i].name);
        if (sbuf_len(s->mechs))
            sbuf_addch(s->mechs, ' ');
        sbuf_cat(s->mechs, dv.mechs[i].name);
    }
    if (sbuf_len(s->mechs) == 0) {
        log_warn("no SASL authentication mechanisms");
        return -1;
    }
    return 0;
}

static void sasl_dovecot_destroy(struct sasl_srv *s)
{
    struct sasl_dovecot *d = s->priv;
    xfree(d->service);
    xfree(d->lip);
    xfree(d->rip);
    xfree(d);
    s->priv = NULL;
}

/* Reads the answer to request d->id. */
static enum sasl_srv_status sasl_dovecot_answer(struct sasl_srv *s, struct sbuf *reply)
{
    struct sasl_dovecot *d = s->priv;
    struct sbuf *line = sbuf_new(256);
    enum sasl_srv_status st = SASL_SRV_TEMP;
    for (;;) {
        ssize_t n = stream_getline(dv.s, line, DOVECOT_LINE_MAX, NULL);
        if (n < 0) {
            log_warn("SASL: Dovecot auth socket '%s': %s", dv.path, stream_strerror((int)n));
            sasl_dovecot_disconnect();
            sbuf_set(reply, "Connection lost to authentication server");
            st = SASL_SRV_TEMP;
            break;
        }
        char *f[64];
        size_t nf = sasl_dovecot_split(sbuf_data(line), f, ARRAY_LEN(f));
        if (nf < 2 || strtoul(f[1], NULL, 10) != d->id)
            continue;           /* not ours (or noise): skip */
        if (strcmp(f[0], "CONT") == 0) {
            sbuf_set(reply, nf >= 3 ? f[2] : "");
            st = SASL_SRV_MORE;
            break;
        }
        if (strcmp(f[0], "OK") != 0 && strcmp(f[0], "FAIL") != 0) {
            log_warn("SASL: malformed server reply type: %s", f[0]);
            sasl_dovecot_disconnect();
            sbuf_set(reply, "Authentication backend error");
            st = SASL_SRV_TEMP;
            break;
        }
        bool ok = strcmp(f[0], "OK") == 0, temp = false;
        for (size_t i = 2; i < nf; i++) {
            if (strncmp(f[i], "user=", 5) == 0) {
                sasl_dovecot_unescape(f[i] + 5);
                xfree(s->username);
                s->username = xstrdup(f[i] + 5);
            } else if (!ok && strncmp(f[i], "reason=", 7) == 0) {
                sasl_dovecot_unescape(f[i] + 7);
                sbuf_set(reply, f[i] + 7);
            } else if (!ok && strcmp(f[i], "temp") == 0)
                temp = true;
        }
        d->id = 0;
        if (ok && s->username == NULL) {
            log_warn("missing Dovecot server OK username field");
            sbuf_set(reply, "Authentication backend error");
            st = SASL_SRV_FAIL;
        } else if (ok)
            st = SASL_SRV_DONE;
        else
            /* Without a reason the reply keeps the last challenge, as the
             * log lines of other servers do. */
            st = temp ? SASL_SRV_TEMP : SASL_SRV_FAIL;
        break;
    }
    sbuf_free(line);
    return st;
}

static enum sasl_srv_status sasl_dovecot_start(struct sasl_srv *s, const char *mech,
                                               const char *init_b64, struct sbuf *reply)
{
    struct sasl_dovecot *d = s->priv;
    if (init_b64 && strcmp(init_b64, "=") != 0 && !sasl_srv_b64_valid(init_b64)) {
        sbuf_set(reply, "Invalid base64 data in initial response");
        return SASL_SRV_FAIL;
    }
    /* One reconnect if the old connection went stale between sessions. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (sasl_dovecot_connect(dv.timeout) < 0)
            break;
        d->id = ++dv.next_id;
        if (d->id == 0)
            d->id = dv.next_id = 1;
        stream_printf(dv.s, "AUTH\t%u\t%s\tservice=%s\tnologin\tlip=%s\trip=%s", d->id, mech,
                      d->service, d->lip, d->rip);
        if (d->secured)
            stream_puts(dv.s, "\tsecured");
        if (init_b64)
            stream_printf(dv.s, "\tresp=%s", strcmp(init_b64, "=") == 0 ? "" : init_b64);
        stream_puts(dv.s, "\n");
        if (stream_flush(dv.s) == 0)
            return sasl_dovecot_answer(s, reply);
        sasl_dovecot_disconnect();
    }
    d->id = 0;
    sbuf_set(reply, "Can't connect to authentication server");
    return SASL_SRV_TEMP;
}

static enum sasl_srv_status sasl_dovecot_step(struct sasl_srv *s, const char *resp_b64,
                                              struct sbuf *reply)
{
    struct sasl_dovecot *d = s->priv;
    if (d->id == 0 || dv.s == NULL) {
        sbuf_set(reply, "Connection lost to authentication server");
        return SASL_SRV_TEMP;
    }
    if (*resp_b64 && !sasl_srv_b64_valid(resp_b64)) {
        sbuf_set(reply, "Invalid base64 data in continued response");
        return SASL_SRV_FAIL;
    }
    stream_printf(dv.s, "CONT\t%u\t%s\n", d->id, resp_b64);
    if (stream_flush(dv.s) != 0) {
        sasl_dovecot_disconnect();
        sbuf_set(reply, "Connection lost to authentication server");
        return SASL_SRV_TEMP;
    }
    return sasl_dovecot_answer(s, reply);
}

const struct sasl_srv_backend sasl_dovecot_backend = {
    .name = "dovecot",
    .init = sasl_dovecot_init,
    .create = sasl_dovecot_create,
    .start = sasl_dovecot_start,
    .step = sasl_dovecot_step,
    .destroy = sasl_dovecot_destroy,
    .nomech_text = "Invalid authentication mechanism",
};
