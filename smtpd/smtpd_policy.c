/*
 * smtpd_policy.c - policy delegation (check_policy_service)
 *
 * Used by: smtpd_check.c.
 * Interface: smtpd_policy_check(), smtpd_policy_session_end().
 * Errors: a policy server that cannot be reached, times out or answers
 *         garbage is retried (smtpd_policy_service_try_limit, with
 *         smtpd_policy_service_retry_delay between tries); then the
 *         default action applies (smtpd_policy_service_default_action,
 *         "451 4.3.5 Server configuration problem").
 * Notes: Postfix's policy protocol: the request is "name=value" lines and
 *        an empty line; the reply is "action=..." (other attributes are
 *        ignored) and an empty line. The action is interpreted like an
 *        access-map result (smtpd_access_action()). Endpoints are
 *        "inet:host:port" or "unix:path" (relative paths are relative to
 *        the queue directory), or the 3.x form "{ inet:host:port,
 *        timeout=10s, default_action=DUNNO, max_idle=.., max_ttl=..,
 *        request_limit=.., try_limit=.., retry_delay=.., policy_context=..
 *        }". Connections are kept open across requests and sessions of
 *        this process, and closed after max_idle seconds unused, after
 *        max_ttl seconds of life, or after request_limit requests.
 */
#include "smtpd_check.h"
#include "alloc.h"
#include "config.h"
#include "dns_lookup.h"
#include "log.h"
#include "params.h"
#include "sock.h"
#include <poll.h>
#include <strings.h>
#include <sys/time.h>

#define SMTPD_POLICY_REPLY_MAX 65536
#define SMTPD_POLICY_MAX 16

struct smtpd_policy_clnt {
    char *key;                  /* the restriction argument as written */
    char *endpoint;             /* inet:host:port or unix:path */
    long timeout, max_idle, max_ttl, retry_delay;
    int request_limit, try_limit;
    char *default_action, *context;
    int fd;
    time_t opened, last_used;
    int requests;
};

static struct smtpd_policy_clnt *smtpd_policy_clients[SMTPD_POLICY_MAX];
static size_t smtpd_policy_nclients;
static unsigned smtpd_policy_counter;

static long smtpd_policy_time(const char *v, long dflt)
{
    char *end;
    long n = strtol(v, &end, 10);
    if (end == v || n < 0)
        return dflt;
    switch (*end) {
    case 0: case 's': return n;
    case 'm': return n * 60;
    case 'h': return n * 3600;
    case 'd': return n * 86400;
    case 'w': return n * 604800;
    default: return dflt;
    }
}

/* Parses the argument (plain endpoint or braced 3.x form). */
static struct smtpd_policy_clnt *smtpd_policy_new(const char *arg)
{
    struct smtpd_policy_clnt *p = xcalloc(1, sizeof(*p));
    p->key = xstrdup(arg);
    p->fd = -1;
    p->timeout = cfg_time(P_SMTPD_POLICY_SERVICE_TIMEOUT);
    p->max_idle = cfg_time(P_SMTPD_POLICY_SERVICE_MAX_IDLE);
    p->max_ttl = cfg_time(P_SMTPD_POLICY_SERVICE_MAX_TTL);
    p->retry_delay = cfg_time(P_SMTPD_POLICY_SERVICE_RETRY_DELAY);
    p->request_limit = cfg_int(P_SMTPD_POLICY_SERVICE_REQUEST_LIMIT);
    p->try_limit = cfg_int(P_SMTPD_POLICY_SERVICE_TRY_LIMIT);
    p->default_action = xstrdup(cfg_str(P_SMTPD_POLICY_SERVICE_DEFAULT_ACTION));
    p->context = xstrdup(cfg_str(P_SMTPD_POLICY_SERVICE_POLICY_CONTEXT));
    if (arg[0] != '{') {
        p->endpoint = xstrdup(arg);
        return p;
    }
    /* "{ endpoint, name=value, ... }": items separated by commas. */
    size_t len = strlen(arg);
    char *body = xstrndup(arg + 1, len >= 2 && arg[len - 1] == '}' ? len - 2 : len - 1);
    char *s = body;
    while (*s) {
        size_t n = strcspn(s, ",");
        char *item = xstrndup(s, n);
        s += n;
        if (*s == ',')
            s++;
        char *a = item, *e = item + strlen(item);
        while (*a == ' ' || *a == '\t' || *a == '\n')
            a++;
        while (e > a && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n'))
            *--e = 0;
        char *eq = strchr(a, '=');
        if (*a == 0) {
        } else if (eq == NULL || (p->endpoint == NULL && strchr(a, ':') && eq > strchr(a, ':'))) {
            xfree(p->endpoint);
            p->endpoint = xstrdup(a);
        } else {
            *eq = 0;
            char *name = a, *val = eq + 1;
            char *ne = eq;
            while (ne > name && (ne[-1] == ' ' || ne[-1] == '\t'))
                *--ne = 0;
            while (*val == ' ' || *val == '\t')
                val++;
            if (strcmp(name, "timeout") == 0)
                p->timeout = smtpd_policy_time(val, p->timeout);
            else if (strcmp(name, "max_idle") == 0)
                p->max_idle = smtpd_policy_time(val, p->max_idle);
            else if (strcmp(name, "max_ttl") == 0)
                p->max_ttl = smtpd_policy_time(val, p->max_ttl);
            else if (strcmp(name, "retry_delay") == 0)
                p->retry_delay = smtpd_policy_time(val, p->retry_delay);
            else if (strcmp(name, "request_limit") == 0)
                p->request_limit = (int)smtpd_policy_time(val, p->request_limit);
            else if (strcmp(name, "try_limit") == 0)
                p->try_limit = (int)smtpd_policy_time(val, p->try_limit);
            else if (strcmp(name, "default_action") == 0) {
                xfree(p->default_action);
                p->default_action = xstrdup(val);
            } else if (strcmp(name, "policy_context") == 0) {
                xfree(p->context);
                p->context = xstrdup(val);
            } else
                log_warn("check_policy_service: unknown attribute \"%s\" in %s", name, arg);
        }
        xfree(item);
    }
    xfree(body);
    if (p->endpoint == NULL)
        p->endpoint = xstrdup("");
    if (p->try_limit < 1)
        p->try_limit = 1;
    if (p->timeout < 1)
        p->timeout = 1;
    return p;
}

static struct smtpd_policy_clnt *smtpd_policy_find(const char *arg)
{
    for (size_t i = 0; i < smtpd_policy_nclients; i++)
        if (strcmp(smtpd_policy_clients[i]->key, arg) == 0)
            return smtpd_policy_clients[i];
    struct smtpd_policy_clnt *p = smtpd_policy_new(arg);
    if (smtpd_policy_nclients < SMTPD_POLICY_MAX)
        smtpd_policy_clients[smtpd_policy_nclients++] = p;
    else
        log_fatal("too many check_policy_service endpoints (limit %d)", SMTPD_POLICY_MAX);
    return p;
}

static void smtpd_policy_disconnect(struct smtpd_policy_clnt *p)
{
    if (p->fd >= 0)
        close(p->fd);
    p->fd = -1;
    p->requests = 0;
}

static int smtpd_policy_connect(struct smtpd_policy_clnt *p)
{
    time_t now = time(NULL);
    if (p->fd >= 0 && ((p->max_idle > 0 && now - p->last_used > p->max_idle)
                       || (p->max_ttl > 0 && now - p->opened > p->max_ttl)
                       || (p->request_limit > 0 && p->requests >= p->request_limit)))
        smtpd_policy_disconnect(p);
    if (p->fd >= 0)
        return 0;
    const char *ep = p->endpoint;
    int fd = -1;
    if (strncmp(ep, "inet:", 5) == 0) {
        const char *hp = ep + 5;
        const char *colon = strrchr(hp, ':');
        if (colon == NULL) {
            log_warn("check_policy_service %s: no port", ep);
            return -1;
        }
        char *host = xstrndup(hp, (size_t)(colon - hp));
        /* "[::1]:port" */
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = 0;
        }
        fd = sock_inet_connect(host, colon + 1, (int)p->timeout);
        xfree(host);
    } else if (strncmp(ep, "unix:", 5) == 0) {
        fd = sock_unix_connect(ep + 5, (int)p->timeout);
    } else {
        log_warn("check_policy_service: unsupported endpoint \"%s\"", ep);
        return -1;
    }
    if (fd < 0) {
        log_warn("connect to %s: %m", ep);
        return -1;
    }
    p->fd = fd;
    p->opened = now;
    p->requests = 0;
    return 0;
}

/* Waits for fd to become ready for events until deadline. */
static bool smtpd_policy_wait(int fd, short events, const struct timeval *deadline)
{
    struct timeval now;
    gettimeofday(&now, NULL);
    long ms = (deadline->tv_sec - now.tv_sec) * 1000 + (deadline->tv_usec - now.tv_usec) / 1000;
    if (ms <= 0)
        return false;
    struct pollfd pfd = { .fd = fd, .events = events };
    int r;
    do
        r = log_poll(&pfd, 1, (int)ms);
    while (r < 0 && errno == EINTR);
    return r > 0;
}

/* One request/reply exchange; the action into action. 0, or -1. */
static int smtpd_policy_exchange(struct smtpd_policy_clnt *p, const char *req, struct sbuf *action)
{
    struct timeval deadline;
    gettimeofday(&deadline, NULL);
    deadline.tv_sec += p->timeout;
    size_t len = strlen(req), off = 0;
    while (off < len) {
        if (!smtpd_policy_wait(p->fd, POLLOUT, &deadline)) {
            log_warn("timeout writing to %s", p->endpoint);
            return -1;
        }
        ssize_t n = send(p->fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0) {
            if (n < 0 && errno == EINTR)
                continue;
            log_warn("write to %s: %m", p->endpoint);
            return -1;
        }
        off += (size_t)n;
    }
    struct sbuf *in = sbuf_new(256);
    int rc = -1;
    for (;;) {
        const char *s = sbuf_str(in);
        size_t l = sbuf_len(in);
        if ((l == 1 && s[0] == '\n') || (l >= 2 && strstr(s, "\n\n")) || (l >= 1 && s[0] == '\n')) {
            rc = 0;
            break;
        }
        if (l > SMTPD_POLICY_REPLY_MAX) {
            log_warn("%s: reply too long", p->endpoint);
            break;
        }
        if (!smtpd_policy_wait(p->fd, POLLIN, &deadline)) {
            log_warn("timeout reading from %s", p->endpoint);
            break;
        }
        char buf[4096];
        ssize_t n = read(p->fd, buf, sizeof(buf));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                log_warn("premature end-of-input on %s while reading policy reply",
                         p->endpoint);
            else
                log_warn("read from %s: %m", p->endpoint);
            break;
        }
        if (memchr(buf, 0, (size_t)n)) {
            log_warn("%s: NUL in policy reply", p->endpoint);
            break;
        }
        sbuf_append(in, buf, (size_t)n);
    }
    if (rc == 0) {
        /* Anything after the empty line would be out of step: drop the
         * connection after this reply. */
        const char *s = sbuf_str(in);
        const char *end = s[0] == '\n' ? s : strstr(s, "\n\n") + 1;
        if ((size_t)(end - s) + 1 < sbuf_len(in))
            smtpd_policy_disconnect(p);
        bool found = false;
        for (const char *line = s; line < end;) {
            size_t n = strcspn(line, "\n");
            if (n > 7 && strncasecmp(line, "action=", 7) == 0 && !found) {
                sbuf_reset(action);
                sbuf_append(action, line + 7, n - 7);
                found = true;
            }
            line += n + 1;
        }
        if (!found) {
            log_warn("%s: policy reply without action", p->endpoint);
            rc = -1;
        }
    }
    sbuf_free(in);
    return rc;
}

/* Adds name=value, with line breaks (and other controls) made harmless. */
static void smtpd_policy_attr(struct sbuf *req, const char *name, const char *value)
{
    sbuf_catf(req, "%s=", name);
    for (const char *v = value ? value : ""; *v; v++)
        sbuf_addch(req, (unsigned char)*v < ' ' ? '?' : *v);
    sbuf_addch(req, '\n');
}

static const char *smtpd_policy_state_name(struct smtpd_check_ctx *c)
{
    return c->cmd ? c->cmd : "CONNECT";
}

static void smtpd_policy_request(struct smtpd_check_ctx *c, struct smtpd_policy_clnt *p,
                                 struct sbuf *req)
{
    struct smtpd_state *st = c->st;
    struct smtpd_check_state *cs = smtpd_check_state(st);
    char num[32], srv[80];
    int srv_port = 0;
    struct sbuf *q = sbuf_new(64);

    if (cs->instance[0] == 0) {
        struct timeval tv;
        gettimeofday(&tv, NULL);
        snprintf(cs->instance, sizeof(cs->instance), "%lx.%lx.%lx.%x", (unsigned long)getpid(),
                 (unsigned long)tv.tv_sec, (unsigned long)tv.tv_usec, smtpd_policy_counter++);
    }
    if (cs->rev_name == NULL) {
        struct sbuf *r = sbuf_new(64);
        if (strcmp(st->name, "unknown") != 0)
            sbuf_set(r, st->name);
        else if (dns_ptr_name(st->addr, r) != DNS_OK)
            sbuf_set(r, "unknown");
        cs->rev_name = sbuf_detach(r);
    }
    if (sock_local_addr(stream_fd(st->client), srv, sizeof(srv), &srv_port) < 0) {
        strlcpy(srv, "", sizeof(srv));
        srv_port = 0;
    }
    sbuf_reset(req);
    smtpd_policy_attr(req, "request", "smtpd_access_policy");
    smtpd_policy_attr(req, "protocol_state", smtpd_policy_state_name(c));
    smtpd_policy_attr(req, "protocol_name", st->protocol ? st->protocol : "SMTP");
    smtpd_policy_attr(req, "client_address", st->addr);
    smtpd_policy_attr(req, "client_name", st->name);
    snprintf(num, sizeof(num), "%d", st->port);
    smtpd_policy_attr(req, "client_port", num);
    smtpd_policy_attr(req, "reverse_client_name", cs->rev_name);
    smtpd_policy_attr(req, "server_address", srv);
    snprintf(num, sizeof(num), "%d", srv_port);
    smtpd_policy_attr(req, "server_port", num);
    smtpd_policy_attr(req, "helo_name", st->helo_name);
    if (st->sender)
        smtpd_addr_quote(q, st->sender);
    else
        sbuf_reset(q);
    smtpd_policy_attr(req, "sender", sbuf_str(q));
    if (c->rcpt)
        smtpd_addr_quote(q, c->rcpt);
    else
        sbuf_reset(q);
    smtpd_policy_attr(req, "recipient", sbuf_str(q));
    snprintf(num, sizeof(num), "%d", st->rcpt_count);
    smtpd_policy_attr(req, "recipient_count", num);
    smtpd_policy_attr(req, "queue_id", smtpd_queue_id(st));
    smtpd_policy_attr(req, "instance", cs->instance);
    long size = c->stage == SMTPD_STAGE_EOD ? (long)st->data_bytes : st->declared_size;
    snprintf(num, sizeof(num), "%ld", size);
    smtpd_policy_attr(req, "size", num);
    smtpd_policy_attr(req, "etrn_domain", c->etrn_domain);
    smtpd_policy_attr(req, "stress", cfg_str(P_STRESS));
    smtpd_policy_attr(req, "sasl_method", st->sasl_method);
    smtpd_policy_attr(req, "sasl_username", st->sasl_username);
    smtpd_policy_attr(req, "sasl_sender", st->sasl_sender);
    smtpd_policy_attr(req, "ccert_subject", st->tls_ccert_subject);
    smtpd_policy_attr(req, "ccert_issuer", st->tls_ccert_issuer);
    smtpd_policy_attr(req, "ccert_fingerprint", st->tls_ccert_fingerprint);
    smtpd_policy_attr(req, "ccert_pubkey_fingerprint", st->tls_ccert_pubkey_fingerprint);
    smtpd_policy_attr(req, "encryption_protocol", st->tls_protocol);
    smtpd_policy_attr(req, "encryption_cipher", st->tls_cipher);
    if (st->tls_active && st->tls_bits > 0)
        snprintf(num, sizeof(num), "%d", st->tls_bits);
    else
        num[0] = 0;
    smtpd_policy_attr(req, "encryption_keysize", st->tls_active ? num : "");
    smtpd_policy_attr(req, "policy_context", p->context);
    smtpd_policy_attr(req, "compatibility_level", cfg_str(P_COMPATIBILITY_LEVEL));
    smtpd_policy_attr(req, "mail_version", cfg_str(P_MAIL_VERSION));
    sbuf_addch(req, '\n');
    sbuf_free(q);
}

enum smtpd_verdict smtpd_policy_check(struct smtpd_check_ctx *c, const char *arg)
{
    struct smtpd_policy_clnt *p = smtpd_policy_find(arg);
    struct sbuf *req = sbuf_new(1024), *action = sbuf_new(64);
    smtpd_policy_request(c, p, req);
    int ok = -1;
    for (int attempt = 0; attempt < p->try_limit && ok < 0; attempt++) {
        if (attempt > 0 && p->retry_delay > 0)
            sleep((unsigned)p->retry_delay);
        if (smtpd_policy_connect(p) < 0)
            continue;
        ok = smtpd_policy_exchange(p, sbuf_str(req), action);
        if (ok < 0)
            smtpd_policy_disconnect(p);
        else {
            p->requests++;
            p->last_used = time(NULL);
        }
    }
    if (ok < 0) {
        log_warn("problem talking to server %s: giving up", p->endpoint);
        sbuf_set(action, p->default_action);
    }
    enum smtpd_stage subj = c->stage == SMTPD_STAGE_RELAY ? SMTPD_STAGE_RCPT : c->stage;
    enum smtpd_verdict v = smtpd_access_action(c, subj, sbuf_str(action), p->endpoint);
    sbuf_free(req);
    sbuf_free(action);
    return v;
}

void smtpd_policy_session_end(struct smtpd_check_state *cs)
{
    /* Connections outlive the session (max_idle/max_ttl decide); only the
     * per-session data goes. */
    xfree(cs->rev_name);
    cs->rev_name = NULL;
}
