/*
 * postscreen.c - postscreen(8): screen SMTP clients before smtpd sees them
 *
 * Used by: master (`smtp inet n - y - 1 postscreen`, one resident process
 *          for all connections of the SMTP port).
 * Interface: main(); the life of a connection (ps_session_*).
 * Errors: a client that misbehaves only ends its own connection; setup
 *         errors (a bad *_action value, an unusable cache map) are fatal
 *         at start.
 * Notes: every connection, on one event loop:
 *          1. limits: postscreen_pre_queue_limit (421 4.3.2 All server
 *             ports are busy) and postscreen_client_connection_count_limit;
 *             at the hand-over, postscreen_post_queue_limit (clients whose
 *             descriptor smtpd has not yet taken);
 *          2. with postscreen_upstream_proxy_protocol = haproxy, the PROXY
 *             header names the real client;
 *          3. postscreen_access_list: permit hands the client to smtpd at
 *             once (ALLOWLISTED), reject is a failed test with
 *             postscreen_denylist_action (DENYLISTED);
 *          4. a client whose tests are still valid in postscreen_cache_map
 *             is handed over (PASS OLD); any other client that connected
 *             to a server address outside postscreen_allowlist_interfaces
 *             (default: the old name postscreen_whitelist_interfaces, else
 *             static:all) is logged ALLOWLIST VETO and will end in the
 *             dummy engine, uncached, whatever the tests say;
 *          5. otherwise the before-220 tests run (postscreen_early.c):
 *             pregreet and the DNS lists; a clean client is cached and
 *             handed over (PASS NEW) or, when an after-220 test is on and
 *             due, kept in the dummy engine, which runs it and answers
 *             RCPT with 450 (the client passes on its next connection); a
 *             failing one is dropped (521),
 *             talked to by the dummy SMTP engine (postscreen_smtpd.c,
 *             550 at RCPT TO; STARTTLS through tlsproxy,
 *             postscreen_starttls.c) or, with the "ignore" action, handed over
 *             without being cached.
 *        Every 4xx/5xx reply postscreen writes gets postscreen_reject_footer
 *        (ps_write()). The hand-over sends the descriptor to the master.cf pass service
 *        "smtpd" (private/smtpd, lib/mail/pass_fd.h); smtpd then greets the
 *        client with its own "220 " line, which completes postscreen's
 *        "220-" banner. The skeleton (SERVER_MULTI) accepts connections; its
 *        connect hook takes a duplicate of each descriptor and lets the
 *        skeleton close its own, so that this file runs the connection.
 */
#include "postscreen.h"
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "haproxy.h"
#include "log.h"
#include "mail_proto.h"
#include "mynetworks.h"
#include "params.h"
#include "pass_fd.h"
#include "reply_footer.h"
#include "soft_bounce.h"
#include "server.h"
#include "sock.h"
#include "stream.h"
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>

struct ps_config ps_cfg;

static struct ps_state *ps_sessions;
static long ps_nsessions;         /* all live connections */
static long ps_npassing;          /* of those, waiting for smtpd's answer */

static void ps_pass_timeout(void *ctx);

/* Least input kept from a client before the dummy engine reads it (more
 * when $line_length_limit needs it). */
#define PS_INPUT_MAX 4096
/* The pass service: fixed, as in Postfix (master.cf "smtpd ... pass"). */
#define PS_SMTPD_SERVICE "smtpd"
/* Longest wait for smtpd to take a client (seconds). */
#define PS_PASS_TIMEOUT 5

const char *ps_client(const struct ps_state *st)
{
    static char buf[96];
    snprintf(buf, sizeof(buf), "[%s]:%s", st->addr, st->port);
    return buf;
}

enum ps_action ps_action_parse(const char *param)
{
    const char *v = cfg_str(param);
    if (strcmp(v, "ignore") == 0)
        return PS_ACT_IGNORE;
    if (strcmp(v, "enforce") == 0)
        return PS_ACT_ENFORCE;
    if (strcmp(v, "drop") == 0)
        return PS_ACT_DROP;
    log_fatal("%s = %s: expected ignore, enforce or drop", param, v);
}

/* postscreen_reject_footer after a 4xx/5xx reply (text: one line ending in
 * CR LF): true and out filled with the reply and its footer, CR LF after
 * each line, when one applies (reply_footer.c). */
static bool ps_footer(const char *addr, const char *port, const char *text, struct sbuf *out)
{
    if (text[0] != '4' && text[0] != '5')
        return false;
    char *line = xstrndup(text, strcspn(text, "\r\n"));
    struct reply_vars v = { .n = 0 };
    reply_vars_add(&v, "client_address", addr);
    reply_vars_add(&v, "client_port", port);
    reply_vars_add(&v, "server_name", ps_cfg.myhostname);
    struct sbuf *lines = sbuf_new(256);
    bool applied = reply_footer_apply(ps_cfg.footer, line, &v, lines);
    xfree(line);
    if (applied) {
        sbuf_reset(out);
        for (const char *p = sbuf_str(lines); *p;) {
            size_t n = strcspn(p, "\n");
            sbuf_append(out, p, n);
            sbuf_cat(out, "\r\n");
            p += n + (p[n] ? 1 : 0);
        }
    }
    sbuf_free(lines);
    return applied;
}

/* Writes text without waiting: replies are short and the socket buffer is
 * empty; a client that does not read loses its connection soon anyway. */
static void ps_write(int fd, const char *addr, const char *port, const char *text)
{
    struct sbuf *foot = sbuf_new(256), *soft = NULL;
    /* soft_bounce: a 5xx reply goes out as 4xx (its footer too), as from
     * Postfix's postscreen. */
    if (text[0] == '5' && soft_bounce_enabled()) {
        soft = sbuf_new(strlen(text) + 1);
        sbuf_cat(soft, text);
        soft_bounce_text(sbuf_data(soft));
        text = sbuf_str(soft);
    }
    if (ps_footer(addr, port, text, foot))
        text = sbuf_str(foot);
    size_t len = strlen(text);
    if (send(fd, text, len, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)len)
        log_debug(1, "write to [%s]:%s: %m", addr, port);
    sbuf_free(foot);
    sbuf_free(soft);
}

void ps_send(struct ps_state *st, const char *text)
{
    if (st->fd >= 0)
        ps_write(st->fd, st->addr, st->port, text);
}

/* postscreen_watchdog_timeout: if the event loop stops turning for that
 * long (a stuck lookup, a bug), SIGALRM ends the process and master
 * starts a new one. A timer re-arms the alarm every second. */
static void ps_watchdog_pet(void *ctx)
{
    alarm((unsigned)ps_cfg.watchdog);
    event_timer_add(1.0, ps_watchdog_pet, ctx);
}

void ps_session_close(struct ps_state *st)
{
    if (st->phase == PS_PH_PASS) {
        event_timer_del(ps_pass_timeout, st);
        event_fd_del(st->pass_conn);
        close(st->pass_conn);
        ps_npassing--;
    }
    ps_early_cancel(st);
    ps_dnsbl_cancel(st);
    ps_smtpd_cancel(st);
    ps_starttls_cancel(st);
    if (st->fd >= 0) {
        event_fd_del(st->fd);
        close(st->fd);
    }
    if (st->prev)
        st->prev->next = st->next;
    else
        ps_sessions = st->next;
    if (st->next)
        st->next->prev = st->prev;
    ps_nsessions--;
    sbuf_free(st->in);
    xfree(st->reply);
    xfree(st->dnsbl_name);
    xfree(st->helo);
    xfree(st->sender);
    cfg_list_free(st->discard);
    xfree(st);
}

static void ps_pass_done(struct ps_state *st, bool ok)
{
    if (!ok) {
        log_warn("cannot hand %s to service %s", ps_client(st), PS_SMTPD_SERVICE);
        ps_send(st, "421 4.3.2 All server ports are busy\r\n");
    }
    ps_session_close(st);
}

static void ps_pass_timeout(void *ctx)
{
    struct ps_state *st = ctx;
    log_warn("service %s did not answer within %ds", PS_SMTPD_SERVICE, PS_PASS_TIMEOUT);
    ps_pass_done(st, false);
}

/* smtpd's answer: status=0 means an smtpd process holds the client now. */
static void ps_pass_read(int fd, int events, void *ctx)
{
    struct ps_state *st = ctx;
    char buf[256];
    (void)events;
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    if (n > 0 && sbuf_len(st->in) < 1024)
        sbuf_append(st->in, buf, (size_t)n);
    int r = n > 0 ? pass_fd_reply(sbuf_str(st->in), sbuf_len(st->in)) : -1;
    if (r != 0)
        ps_pass_done(st, r > 0);
}

/* Hands the client to smtpd (how: "PASS NEW", "PASS OLD", NULL: no log
 * line): the descriptor goes out now and the session ends when smtpd
 * answers (ps_pass_read). Until then the client counts against
 * postscreen_post_queue_limit, not postscreen_pre_queue_limit. */
void ps_session_pass(struct ps_state *st, const char *how)
{
    if (ps_cfg.post_queue_limit > 0 && ps_npassing >= ps_cfg.post_queue_limit) {
        log_info("NOQUEUE: reject: CONNECT from %s: all server ports busy", ps_client(st));
        ps_send(st, "421 4.3.2 All server ports are busy\r\n");
        ps_session_close(st);
        return;
    }
    struct attr_list *a = attr_list_new();
    struct sbuf *path = sbuf_new(64);
    if (how)
        log_info("%s %s", how, ps_client(st));
    attr_add(a, PASS_ATTR_CLIENT_ADDRESS, st->addr);
    attr_add(a, PASS_ATTR_CLIENT_PORT, st->port);
    attr_add(a, PASS_ATTR_SERVER_ADDRESS, st->saddr);
    attr_add(a, PASS_ATTR_SERVER_PORT, st->sport);
    mail_service_path(path, "private", PS_SMTPD_SERVICE, false);
    /* Connecting to and writing a few bytes into a local socket does not
     * wait in practice; the answer is waited for on the event loop. */
    int conn = pass_fd_request(sbuf_str(path), st->fd, a, 1);
    sbuf_free(path);
    attr_list_free(a);
    if (conn < 0) {
        ps_pass_done(st, false);
        return;
    }
    ps_early_cancel(st);
    ps_dnsbl_cancel(st);
    ps_smtpd_cancel(st);
    event_fd_del(st->fd);
    sbuf_reset(st->in);
    st->phase = PS_PH_PASS;
    st->pass_conn = conn;
    ps_npassing++;
    event_fd_add(conn, EVENT_READ, ps_pass_read, st);
    event_timer_add((double)PS_PASS_TIMEOUT, ps_pass_timeout, st);
}

void ps_escape(struct sbuf *out, const char *p, size_t n)
{
    sbuf_reset(out);
    for (size_t i = 0; i < n && i < 100; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '\r')
            sbuf_cat(out, "\\r");
        else if (c == '\n')
            sbuf_cat(out, "\\n");
        else if (c < 0x20 || c > 0x7e)
            sbuf_catf(out, "\\%03o", c);
        else
            sbuf_addch(out, c);
    }
}

void ps_fail(struct ps_state *st, unsigned test, enum ps_action act, const char *reply)
{
    st->failed |= test;
    if (act == PS_ACT_ENFORCE && st->reply == NULL)
        st->reply = xstrdup(reply);
    if (act > st->action)
        st->action = act;
}

static size_t ps_count_client(const char *addr)
{
    size_t n = 0;
    for (struct ps_state *p = ps_sessions; p; p = p->next)
        if (strcmp(p->addr, addr) == 0)
            n++;
    return n;
}

/* The client is known (after a PROXY header, if any): limits, access list,
 * cache, tests. */
static void ps_session_begin(struct ps_state *st)
{
    log_info("CONNECT from %s to [%s]:%s", ps_client(st), st->saddr, st->sport);
    if (ps_cfg.client_conn_limit > 0
        && ps_count_client(st->addr) > (size_t)ps_cfg.client_conn_limit) {
        log_info("NOQUEUE: reject: CONNECT from %s: too many connections", ps_client(st));
        ps_send(st, "421 4.7.0 Error: too many connections\r\n");
        ps_session_close(st);
        return;
    }
    int acc = ps_access_check(st->addr);
    if (acc > 0) {
        ps_session_pass(st, ps_cfg.respectful ? "ALLOWLISTED" : "WHITELISTED");
        return;
    }
    if (acc < 0) {
        log_info("%s %s", ps_cfg.respectful ? "DENYLISTED" : "BLACKLISTED", ps_client(st));
        if (ps_cfg.deny_action == PS_ACT_DROP) {
            ps_send(st, "521 5.3.2 Service currently unavailable\r\n");
            ps_session_close(st);
            return;
        }
        st->denylisted = true;
        if (ps_cfg.deny_action == PS_ACT_ENFORCE) {
            st->action = PS_ACT_ENFORCE;
            st->reply = xstrdup("550 5.3.2 Service currently unavailable");
        }
    }
    bool deep_only = false;     /* only an after-220 test is due */
    if (acc == 0) {
        unsigned todo = ps_cache_todo(st->addr);
        if (todo == 0) {
            ps_session_pass(st, "PASS OLD");
            return;
        }
        deep_only = (todo & (PS_T_GREET | PS_T_DNSBL)) == 0;
    }
    /* A client that is not yet cached, on a server address that may not
     * cache it (a backup MX address), can never reach smtpd from here. */
    if (ps_cfg.allow_if && mynetworks_match(ps_cfg.allow_if, st->saddr, NULL) != 1) {
        log_info("%s %s", ps_cfg.respectful ? "ALLOWLIST VETO" : "WHITELIST VETO", ps_client(st));
        st->veto = true;
    }
    if (deep_only) {
        /* Straight to the engine. */
        st->deep = true;
        ps_smtpd_start(st);
        return;
    }
    ps_early_start(st);
}

/* Reads what the client sent; 0 on end of file or error (logged), -1
 * when there is nothing (more) to read now. At most ps_cfg.input_max bytes
 * wait here unused: then the client is no longer watched, what it sends
 * next waits in the kernel (and in the end in the client), and
 * ps_session_input_used() watches it again once the dummy engine has used
 * some. Nothing is dropped (before, bytes past 4 KiB were, silently). */
static ssize_t ps_read_more(struct ps_state *st)
{
    char buf[1024];
    size_t len = sbuf_len(st->in);
    if (len >= ps_cfg.input_max) {
        event_fd_del(st->fd);
        st->read_paused = true;
        return -1;
    }
    size_t room = ps_cfg.input_max - len;
    ssize_t n = recv(st->fd, buf, room < sizeof(buf) ? room : sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return -1;
    if (n > 0)
        sbuf_append(st->in, buf, (size_t)n);
    return n > 0 ? n : 0;
}

void ps_session_input_used(struct ps_state *st)
{
    if (st->read_paused && st->fd >= 0 && sbuf_len(st->in) < ps_cfg.input_max)
        ps_session_watch(st);
}

static void ps_proxy_timeout(void *ctx)
{
    struct ps_state *st = ctx;
    log_warn("haproxy read: timeout error for %s", ps_client(st));
    ps_session_close(st);
}

static void ps_session_read(int fd, int events, void *ctx)
{
    struct ps_state *st = ctx;
    (void)fd;
    (void)events;
    ssize_t n = ps_read_more(st);
    if (n < 0)
        return;
    if (n == 0) {
        if (st->phase == PS_PH_EARLY)
            log_info("HANGUP after %.1f from %s in tests before SMTP handshake",
                     event_now() - st->start, ps_client(st));
        else if (st->phase == PS_PH_SMTP)
            log_info("DISCONNECT %s", ps_client(st));
        ps_session_close(st);
        return;
    }
    switch (st->phase) {
    case PS_PH_PROXY: {
        struct haproxy_info info;
        const char *why = NULL;
        ssize_t r = haproxy_parse((const unsigned char *)sbuf_str(st->in), sbuf_len(st->in),
                                  &info, &why);
        if (r == 0 && sbuf_len(st->in) < HAPROXY_MAX_LEN)
            return;
        event_timer_del(ps_proxy_timeout, st);
        if (r <= 0) {
            log_warn("haproxy read: %s from %s", why ? why : "header too long", ps_client(st));
            ps_session_close(st);
            return;
        }
        if (!info.local) {
            strlcpy(st->addr, info.client_addr, sizeof(st->addr));
            snprintf(st->port, sizeof(st->port), "%u", info.client_port);
            strlcpy(st->saddr, info.server_addr, sizeof(st->saddr));
            snprintf(st->sport, sizeof(st->sport), "%u", info.server_port);
        }
        /* Whatever followed the header was sent before our greeting. */
        struct sbuf *rest = sbuf_new(64);
        sbuf_append(rest, sbuf_str(st->in) + r, sbuf_len(st->in) - (size_t)r);
        sbuf_free(st->in);
        st->in = rest;
        st->phase = PS_PH_EARLY;
        ps_session_begin(st);
        return;
    }
    case PS_PH_EARLY:
        ps_early_read(st);
        return;
    case PS_PH_SMTP:
        ps_smtpd_read(st);
        return;
    default:
        return;
    }
}

void ps_session_watch(struct ps_state *st)
{
    st->read_paused = false;
    event_fd_add(st->fd, EVENT_READ, ps_session_read, st);
}

static int ps_connect(struct stream *s)
{
    int fd = fcntl(stream_fd(s), F_DUPFD_CLOEXEC, 0);
    if (fd < 0) {
        log_warn("dup: %m");
        return -1;
    }
    sock_set_nonblock(fd, true);
    if (ps_cfg.pre_queue_limit > 0 && ps_nsessions - ps_npassing >= ps_cfg.pre_queue_limit) {
        char a[64];
        int p = 0;
        char ps[16];
        if (sock_peer_addr(fd, a, sizeof(a), &p) == 0)
            log_info("NOQUEUE: reject: CONNECT from [%s]:%d: all server ports busy", a, p);
        else
            strlcpy(a, "unknown", sizeof(a));
        snprintf(ps, sizeof(ps), "%d", p);
        ps_write(fd, a, ps, "421 4.3.2 All server ports are busy\r\n");
        close(fd);
        return -1;
    }
    struct ps_state *st = xcalloc(1, sizeof(*st));
    int port = 0;
    st->fd = fd;
    st->tls_conn = -1;
    st->in = sbuf_new(256);
    st->start = event_now();
    st->dnsbl_ttl = -1;
    if (sock_peer_addr(fd, st->addr, sizeof(st->addr), &port) < 0)
        strlcpy(st->addr, "unknown", sizeof(st->addr));
    snprintf(st->port, sizeof(st->port), "%d", port);
    if (sock_local_addr(fd, st->saddr, sizeof(st->saddr), &port) < 0)
        strlcpy(st->saddr, "unknown", sizeof(st->saddr));
    snprintf(st->sport, sizeof(st->sport), "%d", port);
    sock_addr_unmap(st->addr);
    sock_addr_unmap(st->saddr);
    st->next = ps_sessions;
    if (ps_sessions)
        ps_sessions->prev = st;
    ps_sessions = st;
    ps_nsessions++;
    event_fd_add(fd, EVENT_READ, ps_session_read, st);
    if (ps_cfg.proxy) {
        st->phase = PS_PH_PROXY;
        event_timer_add((double)ps_cfg.proxy_timeout, ps_proxy_timeout, st);
    } else {
        st->phase = PS_PH_EARLY;
        ps_session_begin(st);
    }
    return -1;      /* the skeleton closes its copy; we run the connection */
}

/* Tables and the cache file are opened here, before the chroot. */
static void ps_pre_jail(void)
{
    ps_cache_init();
    ps_access_init();
    ps_dnsbl_init();
    ps_smtpd_pre_jail();
    /* postscreen_whitelist_interfaces, the old name, is this one's default. */
    const char *allow_if = cfg_str(P_POSTSCREEN_ALLOWLIST_INTERFACES);
    if (strcmp(allow_if, "static:all") != 0)
        ps_cfg.allow_if = mynetworks_new(P_POSTSCREEN_ALLOWLIST_INTERFACES, allow_if, false);
}

static void ps_post_jail(void)
{
    ps_cfg.banner = xstrdup(cfg_str(P_POSTSCREEN_GREET_BANNER));
    ps_cfg.smtpd_banner = xstrdup(cfg_str(P_SMTPD_BANNER));
    ps_cfg.myhostname = xstrdup(cfg_str(P_MYHOSTNAME));
    /* respectful_logging = no (the default below compatibility level 3.6):
     * the older words, WHITELISTED, BLACKLISTED, WHITELIST VETO, that log
     * readers written for those configurations look for. */
    ps_cfg.respectful = cfg_bool(P_RESPECTFUL_LOGGING);
    ps_cfg.greet_wait = cfg_time(P_POSTSCREEN_GREET_WAIT);
    ps_cfg.greet_ttl = cfg_time(P_POSTSCREEN_GREET_TTL);
    ps_cfg.greet_action = ps_action_parse(P_POSTSCREEN_GREET_ACTION);
    ps_cfg.dnsbl_action = ps_action_parse(P_POSTSCREEN_DNSBL_ACTION);
    ps_cfg.deny_action = ps_action_parse(P_POSTSCREEN_DENYLIST_ACTION);
    ps_cfg.cmd_count_limit = cfg_long(P_POSTSCREEN_COMMAND_COUNT_LIMIT);
    ps_cfg.cmd_time_limit = cfg_time(P_POSTSCREEN_COMMAND_TIME_LIMIT);
    long ll = cfg_long(P_LINE_LENGTH_LIMIT);
    ps_cfg.line_limit = ll < 512 ? 512 : (size_t)ll;    /* as smtpd: RFC 5321's minimum */
    ps_cfg.input_max = ps_cfg.line_limit + 2 > PS_INPUT_MAX ? ps_cfg.line_limit + 2 : PS_INPUT_MAX;
    ps_cfg.pre_queue_limit = cfg_long(P_POSTSCREEN_PRE_QUEUE_LIMIT);
    ps_cfg.post_queue_limit = cfg_long(P_POSTSCREEN_POST_QUEUE_LIMIT);
    ps_cfg.client_conn_limit = cfg_long(P_POSTSCREEN_CLIENT_CONNECTION_COUNT_LIMIT);
    ps_cfg.watchdog = cfg_time(P_POSTSCREEN_WATCHDOG_TIMEOUT);
    ps_cfg.proxy_timeout = cfg_time(P_POSTSCREEN_UPSTREAM_PROXY_TIMEOUT);
    const char *proxy = cfg_str(P_POSTSCREEN_UPSTREAM_PROXY_PROTOCOL);
    if (strcmp(proxy, "haproxy") == 0)
        ps_cfg.proxy = true;
    else if (*proxy)
        log_fatal("%s = %s: unsupported (the only protocol is haproxy)",
                  P_POSTSCREEN_UPSTREAM_PROXY_PROTOCOL, proxy);
    ps_smtpd_init();
    ps_starttls_init();
    ps_cache_start();
    if (ps_cfg.watchdog > 0) {
        signal(SIGALRM, SIG_DFL);
        ps_watchdog_pet(NULL);
    }
}

static const struct server_ops ps_ops = {
    .model = SERVER_MULTI,
    .resident = true,
    .pre_jail = ps_pre_jail,
    .post_jail = ps_post_jail,
    .connect = ps_connect,
    .on_exit = ps_cache_flush,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &ps_ops);
}
