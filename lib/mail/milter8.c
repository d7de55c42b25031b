/*
 * milter8.c - Sendmail milter protocol: packet codec and one milter
 *             connection (connect, option negotiation, send, read reply)
 *
 * Used by: lib/mail/milter.c.
 * Interface: see milter8.h.
 * Errors: see milter8.h. Every failure that ends the conversation closes
 *         the socket; the caller then applies the milter's default action.
 * Notes: the socket is non-blocking and every wait goes through poll(2)
 *        with a deadline, so a milter that stops reading or answering
 *        costs at most its timeout.
 */
#include "milter8.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "sock.h"
#include <arpa/inet.h>
#include <poll.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

static double milter8_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Waits until fd is ready for events, at most until deadline. */
static int milter8_wait(int fd, short events, double deadline)
{
    for (;;) {
        int ms = (int)((deadline - milter8_now()) * 1000);
        if (ms < 0)
            return MILTER8_E_TIMEOUT;
        struct pollfd p = { .fd = fd, .events = events };
        int r = log_poll(&p, 1, ms);
        if (r > 0)
            return 0;
        if (r == 0)
            return MILTER8_E_TIMEOUT;
        if (errno != EINTR)
            return MILTER8_E_IO;
    }
}

static int milter8_read_full(int fd, void *buf, size_t len, double deadline)
{
    char *p = buf;
    while (len > 0) {
        /* Wait first: the descriptor may be a blocking one. */
        int w = milter8_wait(fd, POLLIN, deadline);
        if (w < 0)
            return w;
        ssize_t n = read(fd, p, len);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n == 0)
            return MILTER8_E_IO;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return MILTER8_E_IO;
    }
    return 0;
}

static int milter8_write_full(int fd, const void *buf, size_t len, double deadline)
{
    const char *p = buf;
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n >= 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return MILTER8_E_IO;
        int r = milter8_wait(fd, POLLOUT, deadline);
        if (r < 0)
            return r;
    }
    return 0;
}

void milter8_encode(struct sbuf *out, int cmd, const void *data, size_t len)
{
    uint32_t n = htonl((uint32_t)(len + 1));
    sbuf_append(out, (const char *)&n, 4);
    sbuf_addch(out, (char)cmd);
    if (len)
        sbuf_append(out, data, len);
}

int milter8_read_packet(int fd, int timeout, int *cmd, struct sbuf *data, size_t max)
{
    double deadline = milter8_now() + timeout;
    unsigned char hdr[5];
    int r = milter8_read_full(fd, hdr, 4, deadline);
    if (r < 0)
        return r;
    uint32_t len = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (len == 0 || len - 1 > max)
        return MILTER8_E_PROTO;
    if ((r = milter8_read_full(fd, hdr + 4, 1, deadline)) < 0)
        return r;
    *cmd = hdr[4];
    sbuf_reset(data);
    char buf[8192];
    size_t left = len - 1;
    while (left > 0) {
        size_t k = left < sizeof(buf) ? left : sizeof(buf);
        if ((r = milter8_read_full(fd, buf, k, deadline)) < 0)
            return r;
        sbuf_append(data, buf, k);
        left -= k;
    }
    return 0;
}

/* ---- reply decoding ---------------------------------------------------- */

static uint32_t milter8_get32(const char *p)
{
    const unsigned char *u = (const unsigned char *)p;
    return (uint32_t)u[0] << 24 | (uint32_t)u[1] << 16 | (uint32_t)u[2] << 8 | u[3];
}

/* Takes the NUL-ended string at *p (before end): new copy, or NULL when
 * there is no NUL. */
static char *milter8_take_str(const char **p, const char *end)
{
    const char *nul = memchr(*p, 0, (size_t)(end - *p));
    if (nul == NULL)
        return NULL;
    char *s = xstrndup(*p, (size_t)(nul - *p));
    *p = nul + 1;
    return s;
}

/* A REPLYCODE text: lines "DDD[- ]text" or "DDD" (CR LF or LF between
 * them), the same 4xx/5xx code on each, '-' on all but the last. */
static int milter8_check_code(const char *text, struct sbuf *out, struct sbuf *err)
{
    sbuf_reset(out);
    const char *p = text;
    char code[4] = "";
    for (;;) {
        size_t n = strcspn(p, "\r\n");
        if (n < 3 || (p[0] != '4' && p[0] != '5') || p[1] < '0' || p[1] > '9' || p[2] < '0'
            || p[2] > '9' || (n > 3 && p[3] != ' ' && p[3] != '-')) {
            sbuf_printf(err, "malformed reply code text \"%.100s\"", p);
            return MILTER8_E_PROTO;
        }
        if (code[0] && memcmp(code, p, 3) != 0) {
            sbuf_printf(err, "mixed reply codes in \"%.100s\"", text);
            return MILTER8_E_PROTO;
        }
        memcpy(code, p, 3);
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)p[i] < 32 && p[i] != '\t') {
                sbuf_set(err, "control character in reply code text");
                return MILTER8_E_PROTO;
            }
        const char *next = p + n;
        if (*next == '\r')
            next++;
        if (*next == '\n')
            next++;
        bool last = *next == 0;
        if ((n > 3 && p[3] == '-') == last) {
            sbuf_printf(err, "bad multi-line reply \"%.100s\"", text);
            return MILTER8_E_PROTO;
        }
        sbuf_append(out, p, n);
        if (last)
            return 0;
        sbuf_addch(out, '\n');
        p = next;
    }
}

void milter8_reply_free(struct milter8_reply *r)
{
    xfree(r->s1);
    xfree(r->s2);
    sbuf_free(r->body);
    for (int i = 0; i < MILTER8_NSTAGES; i++)
        xfree(r->symlists[i]);
    memset(r, 0, sizeof(*r));
}

int milter8_parse_reply(int cmd, const char *data, size_t len, struct milter8_reply *r,
                        struct sbuf *err)
{
    const char *p = data, *end = data + len;
    memset(r, 0, sizeof(*r));
    r->cmd = cmd;
    sbuf_reset(err);
    switch (cmd) {
    case SMFIR_ACCEPT:
    case SMFIR_CONTINUE:
    case SMFIR_DISCARD:
    case SMFIR_REJECT:
    case SMFIR_TEMPFAIL:
    case SMFIR_PROGRESS:
    case SMFIR_SKIP:
    case SMFIR_SHUTDOWN:
    case SMFIR_CONN_FAIL:
        return 0;       /* data, if any, is ignored */
    case SMFIR_OPTNEG:
        if (len < 12) {
            sbuf_set(err, "short SMFIC_OPTNEG reply");
            return MILTER8_E_PROTO;
        }
        r->version = milter8_get32(p);
        r->actions = milter8_get32(p + 4);
        r->protocol = milter8_get32(p + 8);
        p += 12;
        while (p < end) {       /* SETSYMLIST: (stage, list) pairs */
            if (end - p < 5) {
                sbuf_set(err, "truncated macro list in SMFIC_OPTNEG reply");
                return MILTER8_E_PROTO;
            }
            uint32_t stage = milter8_get32(p);
            p += 4;
            char *list = milter8_take_str(&p, end);
            if (list == NULL || stage >= MILTER8_NSTAGES) {
                xfree(list);
                sbuf_set(err, "bad macro list in SMFIC_OPTNEG reply");
                return MILTER8_E_PROTO;
            }
            xfree(r->symlists[stage]);
            r->symlists[stage] = list;
        }
        return 0;
    case SMFIR_REPLYCODE: {
        char *text = milter8_take_str(&p, end);
        struct sbuf *out = sbuf_new(64);
        if (text == NULL || milter8_check_code(text, out, err) < 0) {
            if (text == NULL)
                sbuf_set(err, "unterminated reply code text");
            xfree(text);
            sbuf_free(out);
            return MILTER8_E_PROTO;
        }
        xfree(text);
        r->s1 = sbuf_detach(out);
        return 0;
    }
    case SMFIR_INSHEADER:
    case SMFIR_CHGHEADER:
    case SMFIR_ADDHEADER:
        if (cmd != SMFIR_ADDHEADER) {   /* a 32-bit index first */
            if (len < 4) {
                sbuf_set(err, "short header change request");
                return MILTER8_E_PROTO;
            }
            r->index = milter8_get32(p);
            p += 4;
        }
        if ((r->s1 = milter8_take_str(&p, end)) == NULL
            || (r->s2 = milter8_take_str(&p, end)) == NULL) {
            sbuf_set(err, "malformed header request");
            return MILTER8_E_PROTO;
        }
        if (r->s1[0] == 0 || r->s1[strcspn(r->s1, ": \t\r\n")] != 0) {
            sbuf_printf(err, "bad header name \"%.100s\"", r->s1);
            return MILTER8_E_PROTO;
        }
        return 0;
    case SMFIR_ADDRCPT:
    case SMFIR_DELRCPT:
    case SMFIR_ADDRCPT_PAR:
    case SMFIR_CHGFROM:
    case SMFIR_QUARANTINE:
        if ((r->s1 = milter8_take_str(&p, end)) == NULL) {
            sbuf_printf(err, "unterminated argument of reply '%c'", cmd);
            return MILTER8_E_PROTO;
        }
        if (p < end && (cmd == SMFIR_ADDRCPT_PAR || cmd == SMFIR_CHGFROM)
            && (r->s2 = milter8_take_str(&p, end)) == NULL) {
            sbuf_printf(err, "unterminated ESMTP arguments of reply '%c'", cmd);
            return MILTER8_E_PROTO;
        }
        for (const char *s = r->s1; *s; s++)
            if ((unsigned char)*s < 32 && cmd != SMFIR_QUARANTINE) {
                sbuf_set(err, "control character in address");
                return MILTER8_E_PROTO;
            }
        return 0;
    case SMFIR_REPLBODY:
        r->body = sbuf_new(len + 1);
        sbuf_append(r->body, data, len);
        return 0;
    default:
        sbuf_printf(err, "unknown reply '%c' (0x%02x)", cmd >= 32 && cmd < 127 ? cmd : '?',
                    (unsigned)cmd & 0xff);
        return MILTER8_E_PROTO;
    }
}

/* ---- configuration ----------------------------------------------------- */

static bool milter8_action_ok(const char *a)
{
    return strcasecmp(a, "accept") == 0 || strcasecmp(a, "reject") == 0
           || strcasecmp(a, "tempfail") == 0 || strcasecmp(a, "quarantine") == 0;
}

static char *milter8_trim(const char *s, size_t n)
{
    while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\n' || *s == ',')) {
        s++;
        n--;
    }
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == ','))
        n--;
    return xstrndup(s, n);
}

struct milter8 *milter8_new(const char *entry, int conn_timeout, int cmd_timeout,
                            int msg_timeout, int version, const char *def_action,
                            struct sbuf *err)
{
    struct milter8 *m = xcalloc(1, sizeof(*m));
    m->fd = -1;
    m->conn_timeout = conn_timeout;
    m->cmd_timeout = cmd_timeout;
    m->msg_timeout = msg_timeout;
    m->version = version;
    m->def_action = xstrdup(def_action);
    size_t n = strlen(entry);
    if (entry[0] != '{') {
        m->name = milter8_trim(entry, n);
        return m;
    }
    if (n < 2 || entry[n - 1] != '}') {
        sbuf_printf(err, "unbalanced braces in \"%s\"", entry);
        milter8_free(m);
        return NULL;
    }
    /* { endpoint, name = value, ... } : items separated by commas or
     * blanks; "name = value" may have blanks around '='. */
    char *inner = xstrndup(entry + 1, n - 2);
    char **words = cfg_list(inner);
    xfree(inner);
    size_t nw = 0;
    while (words[nw])
        nw++;
    for (size_t i = 0; i < nw; i++) {
        char *w = words[i];
        const char *name = w, *value = NULL;
        char *eq = strchr(w, '=');
        char nbuf[64];
        if (eq) {
            *eq = 0;
            value = eq + 1;
            if (*value == 0 && i + 1 < nw)
                value = words[++i];
        } else if (i + 1 < nw && strcmp(words[i + 1], "=") == 0 && i + 2 < nw) {
            value = words[i + 2];
            i += 2;
        } else if (i + 1 < nw && words[i + 1][0] == '=') {
            value = words[i + 1] + 1;
            i++;
            if (*value == 0 && i + 1 < nw)
                value = words[++i];
        }
        if (value == NULL) {
            if (m->name) {
                sbuf_printf(err, "unexpected \"%s\" in \"%s\"", w, entry);
                goto bad;
            }
            m->name = xstrdup(w);
            continue;
        }
        strlcpy(nbuf, name, sizeof(nbuf));
        long t;
        if (strcmp(nbuf, "connect_timeout") == 0 || strcmp(nbuf, "command_timeout") == 0
            || strcmp(nbuf, "content_timeout") == 0) {
            if (!config_parse_time(value, 's', &t) || t <= 0 || t > 86400) {
                sbuf_printf(err, "bad %s value \"%s\"", nbuf, value);
                goto bad;
            }
            if (nbuf[2] == 'n' && nbuf[3] == 'n')
                m->conn_timeout = (int)t;
            else if (nbuf[2] == 'm')
                m->cmd_timeout = (int)t;
            else
                m->msg_timeout = (int)t;
        } else if (strcmp(nbuf, "default_action") == 0) {
            if (!milter8_action_ok(value)) {
                sbuf_printf(err, "bad default_action value \"%s\"", value);
                goto bad;
            }
            xfree(m->def_action);
            m->def_action = xstrdup(value);
        } else if (strcmp(nbuf, "protocol") == 0) {
            if (strcmp(value, "2") != 0 && strcmp(value, "3") != 0 && strcmp(value, "4") != 0
                && strcmp(value, "6") != 0) {
                sbuf_printf(err, "bad protocol value \"%s\"", value);
                goto bad;
            }
            m->version = value[0] - '0';
        } else {
            sbuf_printf(err, "unknown setting \"%s\"", nbuf);
            goto bad;
        }
    }
    cfg_list_free(words);
    if (m->name == NULL) {
        sbuf_printf(err, "no endpoint in \"%s\"", entry);
        milter8_free(m);
        return NULL;
    }
    return m;
bad:
    cfg_list_free(words);
    milter8_free(m);
    return NULL;
}

void milter8_free(struct milter8 *m)
{
    if (m == NULL)
        return;
    milter8_close(m, false);
    xfree(m->name);
    xfree(m->def_action);
    for (int i = 0; i < MILTER8_NSTAGES; i++)
        xfree(m->symlists[i]);
    xfree(m);
}

/* ---- the conversation -------------------------------------------------- */

/* What we offer per protocol version. */
static void milter8_offer(int version, uint32_t *actions, uint32_t *protocol)
{
    switch (version) {
    case 2:
        *actions = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS;
        *protocol = 0x3f;
        break;
    case 3:
        *actions = SMFIF_ADDHDRS | SMFIF_CHGBODY | SMFIF_ADDRCPT | SMFIF_DELRCPT | SMFIF_CHGHDRS;
        *protocol = 0x7f;
        break;
    case 4:
        *actions = 0x3f;
        *protocol = 0xff;
        break;
    default:
        *actions = 0x1ff;
        /* everything but SMFIP_RCPT_REJ (we send only accepted recipients) */
        *protocol = 0x1fffff & ~(uint32_t)SMFIP_RCPT_REJ;
        break;
    }
}

static int milter8_connect(struct milter8 *m)
{
    const char *n = m->name;
    if (strncmp(n, "unix:", 5) == 0 || strncmp(n, "local:", 6) == 0 || n[0] == '/') {
        const char *path = n[0] == '/' ? n : strchr(n, ':') + 1;
        return sock_unix_connect(path, m->conn_timeout);
    }
    if (strncmp(n, "inet:", 5) == 0 || strncmp(n, "inet6:", 6) == 0) {
        const char *hp = strchr(n, ':') + 1;
        const char *colon = strrchr(hp, ':');
        if (colon == NULL || colon[1] == 0) {
            errno = EINVAL;
            return -1;
        }
        char host[256];
        size_t hl = (size_t)(colon - hp);
        if (hl >= 2 && hp[0] == '[' && hp[hl - 1] == ']') {
            hp++;
            hl -= 2;
        }
        if (hl >= sizeof(host)) {
            errno = EINVAL;
            return -1;
        }
        memcpy(host, hp, hl);
        host[hl] = 0;
        return sock_inet_connect(host, colon + 1, m->conn_timeout);
    }
    errno = EINVAL;
    return -1;
}

int milter8_open(struct milter8 *m)
{
    milter8_close(m, false);
    int fd = milter8_connect(m);
    if (fd < 0) {
        log_warn("milter %s: can't connect: %m", m->name);
        return MILTER8_E_IO;
    }
    sock_set_nonblock(fd, true);
    m->fd = fd;
    uint32_t actions, protocol;
    milter8_offer(m->version, &actions, &protocol);
    unsigned char neg[12];
    uint32_t v[3] = { htonl((uint32_t)m->version), htonl(actions), htonl(protocol) };
    memcpy(neg, v, 12);
    /* milter_connect_timeout covers the negotiation too. */
    int saved = m->cmd_timeout;
    m->cmd_timeout = m->conn_timeout;
    int r = milter8_send(m, SMFIC_OPTNEG, neg, 12, false);
    struct milter8_reply rep;
    memset(&rep, 0, sizeof(rep));
    if (r == 0)
        r = milter8_read_reply(m, false, &rep);
    m->cmd_timeout = saved;
    if (r == 0 && rep.cmd != SMFIR_OPTNEG) {
        log_warn("milter %s: unexpected reply '%c' to SMFIC_OPTNEG", m->name, rep.cmd);
        r = MILTER8_E_PROTO;
    } else if (r == 0 && rep.version < 2) {
        log_warn("milter %s: protocol version %u is not supported", m->name, rep.version);
        r = MILTER8_E_PROTO;
    } else if (r == 0) {
        if (rep.actions & ~actions)
            log_warn("milter %s: ignoring actions 0x%x we did not offer", m->name,
                     rep.actions & ~actions);
        m->actions = rep.actions & actions;
        m->peer_version = (int)rep.version < m->version ? (int)rep.version : m->version;
        /* Steps we cannot leave out are masked: the milter simply gets
         * them (as with Postfix, a step it asked not to see is skipped). */
        m->protocol = rep.protocol & protocol;
        for (int i = 0; i < MILTER8_NSTAGES; i++) {
            xfree(m->symlists[i]);
            m->symlists[i] = rep.symlists[i];
            rep.symlists[i] = NULL;
        }
        log_debug(1, "milter %s: version %u actions 0x%x protocol 0x%x", m->name, rep.version,
                  m->actions, m->protocol);
    } else if (r == MILTER8_E_TIMEOUT)
        log_warn("milter %s: timeout in option negotiation", m->name);
    milter8_reply_free(&rep);
    if (r < 0)
        milter8_close(m, false);
    return r;
}

int milter8_send(struct milter8 *m, int cmd, const void *data, size_t len, bool content)
{
    if (m->fd < 0)
        return MILTER8_E_IO;
    struct sbuf *b = sbuf_new(len + 8);
    milter8_encode(b, cmd, data, len);
    int r = milter8_write_full(m->fd, sbuf_str(b), sbuf_len(b),
                               milter8_now() + (content ? m->msg_timeout : m->cmd_timeout));
    sbuf_free(b);
    return r;
}

int milter8_read_reply(struct milter8 *m, bool content, struct milter8_reply *r)
{
    struct sbuf *data = sbuf_new(256), *err = sbuf_new(64);
    int cmd = 0;
    int rc = m->fd < 0 ? MILTER8_E_IO
                       : milter8_read_packet(m->fd, content ? m->msg_timeout : m->cmd_timeout,
                                             &cmd, data, MILTER8_DATA_MAX);
    if (rc == MILTER8_E_TIMEOUT)
        log_warn("milter %s: timeout waiting for a reply", m->name);
    else if (rc == MILTER8_E_IO)
        log_warn("milter %s: read error or connection closed", m->name);
    else if (rc == MILTER8_E_PROTO)
        log_warn("milter %s: reply packet too large or empty", m->name);
    else if ((rc = milter8_parse_reply(cmd, sbuf_str(data), sbuf_len(data), r, err)) < 0)
        log_warn("milter %s: %s", m->name, sbuf_str(err));
    sbuf_free(data);
    sbuf_free(err);
    return rc;
}

void milter8_close(struct milter8 *m, bool quit)
{
    if (m->fd < 0)
        return;
    if (quit)
        (void)milter8_send(m, SMFIC_QUIT, NULL, 0, false);
    close(m->fd);
    m->fd = -1;
}
