/*
 * tlsproxy.c - the tlsproxy service: TLS handshakes and encryption on
 *              behalf of other processes
 *
 * Used by: master (`tlsproxy unix - - y - 0 tlsproxy`); clients are smtp
 *          and lmtp with *_tls_connection_reuse (lib/mail/tlsproxy_clnt.c).
 * Interface: main(); the request protocol is in docs/tlsproxy.md.
 * Errors: a malformed request, a missing descriptor, a failed handshake or
 *         a timeout ends that session: the client gets status=-1 with a
 *         reason when it is still listening, otherwise its socket is
 *         closed (it sees a lost connection and defers the mail). Nothing
 *         is ever relayed in the clear: plaintext moves only after the
 *         handshake has succeeded.
 * Notes: one SERVER_MULTI process serves many sessions on one event loop.
 *        A session is two descriptors: the client's UNIX socket (the
 *        plaintext side) and the remote TCP connection it passed with
 *        SCM_RIGHTS (the TLS side). The TLS client role builds its context
 *        from the settings in the request, one context per distinct set;
 *        the set named by tlsproxy_client_* is built before the chroot so
 *        that its files are read while they are still reachable. Limits:
 *        the handshake gets the request's timeout (the client's
 *        *_starttls_timeout), an established session that moves nothing
 *        for $ipc_timeout is closed, and one callback that takes longer
 *        than $tlsproxy_watchdog_timeout ends the process (SIGALRM). Each
 *        direction buffers at most TLSPROXY_BUF bytes; a full buffer stops
 *        reading from that side until the other side takes it.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include "sbuf.h"
#include "server.h"
#include "sock.h"
#include "stream.h"
#include "tls_client.h"
#include "tls_param.h"
#include "tls_server.h"
#include "tls_sni.h"
#include "tlsmgr_clnt.h"
#include "tlsproxy_clnt.h"
#include <signal.h>

#define TLSPROXY_BUF 16384
/* Distinct client contexts kept (a site has one or two). */
#define TLSPROXY_CTX_MAX 8

struct tlsproxy_ctx {
    char *key;                  /* the settings it was built from */
    struct tls_client_ctx *ctx;
    struct tlsmgr_clnt *tlsmgr;
    struct tls_cache_ops ops;
};

static struct tlsproxy_ctx tlsproxy_ctxs[TLSPROXY_CTX_MAX];
static size_t tlsproxy_nctx;
/* The server role's context (tlsproxy_tls_*), NULL when not configured. */
static struct tls_server_ctx *tlsproxy_sctx;
static struct tlsmgr_clnt *tlsproxy_stlsmgr;
static struct tls_cache_ops tlsproxy_sops;
static struct tls_sni_ops tlsproxy_sni;     /* tls_server_sni_maps */
static bool tlsproxy_req_ccert;
static long tlsproxy_watchdog;
static long tlsproxy_idle;

struct tlsproxy_sess {
    struct stream *plain;       /* the client's socket (the skeleton's stream) */
    int pfd, rfd;               /* plaintext and TLS descriptors */
    struct tls_client_conn *tls;    /* client role */
    struct tls_server_conn *stls;   /* server role */
    bool established;
    struct tlsproxy_req req;
    /* plaintext from the client on its way into TLS, and back */
    char p2t[TLSPROXY_BUF], t2p[TLSPROXY_BUF];
    size_t p2t_len, t2p_len;
    bool plain_eof, tls_eof;
};

static void tlsproxy_timeout(void *ctx);

/* The watchdog: one callback may not run longer than this. */
static void tlsproxy_dog_start(void)
{
    if (tlsproxy_watchdog > 0)
        alarm((unsigned)tlsproxy_watchdog);
}

static void tlsproxy_dog_stop(void)
{
    alarm(0);
}

/* ---- client contexts ---- */

static void tlsproxy_ctx_key(struct sbuf *key, const struct tlsproxy_req *r)
{
    sbuf_printf(key, "%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%s\n%ld", r->ca_file,
                r->ca_path, r->cert_file, r->key_file, r->eccert_file, r->eckey_file,
                r->dcert_file, r->dkey_file, r->chain_files, r->fingerprint_digest,
                r->dane_digests, r->cache_type, r->verify_depth);
}

/* The context for r's settings, built on first use. NULL with why. */
static struct tls_client_ctx *tlsproxy_ctx_get(const struct tlsproxy_req *r, struct sbuf *why)
{
    struct sbuf *key = sbuf_new(256);
    tlsproxy_ctx_key(key, r);
    struct tlsproxy_ctx *c = NULL;
    for (size_t i = 0; i < tlsproxy_nctx; i++)
        if (strcmp(tlsproxy_ctxs[i].key, sbuf_str(key)) == 0)
            c = &tlsproxy_ctxs[i];
    if (c) {
        sbuf_free(key);
        return c->ctx;
    }
    if (tlsproxy_nctx >= TLSPROXY_CTX_MAX) {
        sbuf_set(why, "too many different TLS client settings");
        sbuf_free(key);
        return NULL;
    }
    c = &tlsproxy_ctxs[tlsproxy_nctx];
    memset(c, 0, sizeof(*c));
    struct tls_client_opts o = { .ca_file = r->ca_file,
                                 .append_default_ca = cfg_bool(P_TLS_APPEND_DEFAULT_CA),
                                 .ca_path = r->ca_path,
                                 .cert_file = r->cert_file,
                                 .key_file = r->key_file,
                                 .eccert_file = r->eccert_file,
                                 .eckey_file = r->eckey_file,
                                 .dcert_file = r->dcert_file,
                                 .dkey_file = r->dkey_file,
                                 .chain_files = r->chain_files,
                                 .dane_digests = r->dane_digests,
                                 .fingerprint_digest = r->fingerprint_digest,
                                 .ssl_options = tls_param_ssl_options(),
                                 .verify_depth = (int)r->verify_depth,
                                 .wildcard_multi_label =
                                     cfg_bool(P_TLS_WILDCARD_MATCHES_MULTIPLE_LABELS) };
    if (*r->cache_type) {
        c->tlsmgr = tlsmgr_clnt_new(r->cache_type);
        tlsmgr_clnt_ops(c->tlsmgr, true, false, &c->ops);
        o.cache = &c->ops;
    }
    c->ctx = tls_client_ctx_new(&o, why);
    if (c->ctx == NULL) {
        if (c->tlsmgr)
            tlsmgr_clnt_free(c->tlsmgr);
        sbuf_free(key);
        return NULL;
    }
    c->key = xstrdup(sbuf_str(key));
    tlsproxy_nctx++;
    sbuf_free(key);
    return c->ctx;
}

/* The server role's context from tlsproxy_tls_* (defaults smtpd_tls_*),
 * built when a certificate is configured; the level decides between the
 * mandatory and the opportunistic protocols and ciphers, as in smtpd. */
static void tlsproxy_server_init(void)
{
    if (*cfg_str(P_TLSPROXY_TLS_CERT_FILE) == 0 && *cfg_str(P_TLSPROXY_TLS_CHAIN_FILES) == 0)
        return;
    bool mandatory = strcmp(cfg_str(P_TLSPROXY_TLS_SECURITY_LEVEL), "encrypt") == 0;
    tlsproxy_req_ccert = cfg_bool(P_TLSPROXY_TLS_REQ_CCERT);
    char *ciphers = mandatory ? tls_param_cipherlist(P_TLSPROXY_TLS_MANDATORY_CIPHERS,
                                                     P_TLSPROXY_TLS_EXCLUDE_CIPHERS,
                                                     P_TLSPROXY_TLS_MANDATORY_EXCLUDE_CIPHERS)
                              : tls_param_cipherlist(P_TLSPROXY_TLS_CIPHERS,
                                                     P_TLSPROXY_TLS_EXCLUDE_CIPHERS, NULL);
    /* Tickets sealed with tlsmgr's keys: a session postscreen's client
     * started here can resume in any tlsproxy (or smtpd) process. */
    tlsproxy_stlsmgr = tlsmgr_clnt_new("smtpd");
    tlsmgr_clnt_ops(tlsproxy_stlsmgr, false, true, &tlsproxy_sops);
    struct tls_server_opts o = {
        .cache = &tlsproxy_sops,
        .ticket_cipher = cfg_str(P_TLS_SESSION_TICKET_CIPHER),
        .cert_file = cfg_str(P_TLSPROXY_TLS_CERT_FILE),
        .key_file = cfg_str(P_TLSPROXY_TLS_KEY_FILE),
        .eccert_file = cfg_str(P_TLSPROXY_TLS_ECCERT_FILE),
        .eckey_file = cfg_str(P_TLSPROXY_TLS_ECKEY_FILE),
        .dcert_file = cfg_str(P_TLSPROXY_TLS_DCERT_FILE),
        .dkey_file = cfg_str(P_TLSPROXY_TLS_DKEY_FILE),
        .chain_files = cfg_str(P_TLSPROXY_TLS_CHAIN_FILES),
        .ca_file = cfg_str(P_TLSPROXY_TLS_CAFILE),
        .append_default_ca = cfg_bool(P_TLS_APPEND_DEFAULT_CA),
        .ca_path = cfg_str(P_TLSPROXY_TLS_CAPATH),
        .ask_ccert = cfg_bool(P_TLSPROXY_TLS_ASK_CCERT) || tlsproxy_req_ccert,
        .verify_depth = cfg_int(P_TLSPROXY_TLS_CCERT_VERIFYDEPTH),
        .protocols = tls_param_protocols(mandatory ? P_TLSPROXY_TLS_MANDATORY_PROTOCOLS
                                                   : P_TLSPROXY_TLS_PROTOCOLS),
        .ciphers = ciphers,
        .groups = tls_param_groups(P_TLSPROXY_TLS_EECDH_GRADE),
        .server_cipher_order = cfg_is_set(P_TLS_PREEMPT_CIPHERLIST)
                                   ? cfg_bool(P_TLS_PREEMPT_CIPHERLIST)
                                   : true,
        .session_timeout = cfg_time(P_SMTPD_TLS_SESSION_CACHE_TIMEOUT),
        .no_local_session_ids = !cfg_bool(P_TLSPROXY_TLS_ALWAYS_ISSUE_SESSION_IDS),
        .session_context = "smtpd/smtp",
        .fingerprint_digest = cfg_str(P_TLSPROXY_TLS_FINGERPRINT_DIGEST),
        .ssl_options = tls_param_ssl_options(),
        .dh_file = cfg_str(P_TLSPROXY_TLS_DH1024_PARAM_FILE),
        .dh_warning = sbuf_new(64),
        .sni = tls_sni_init(&tlsproxy_sni) ? &tlsproxy_sni : NULL,
    };
    struct sbuf *why = sbuf_new(128);
    tlsproxy_sctx = tls_server_ctx_new(&o, why);
    if (sbuf_len(o.dh_warning))
        log_warn("%s: %s", P_TLSPROXY_TLS_DH1024_PARAM_FILE, sbuf_str(o.dh_warning));
    sbuf_free(o.dh_warning);
    if (tlsproxy_sctx == NULL)
        log_warn("TLS server initialization failed: %s; server role requests will be refused",
                 sbuf_str(why));
    sbuf_free(why);
    xfree(ciphers);
}

/* Before the chroot: the context named by tlsproxy_client_*, whose files
 * may be unreachable afterwards. A failure is logged; requests for those
 * settings then fail (and their mail is deferred). */
static void tlsproxy_pre_jail(void)
{
    tlsproxy_watchdog = cfg_time(P_TLSPROXY_WATCHDOG_TIMEOUT);
    tlsproxy_idle = cfg_time(P_IPC_TIMEOUT);
    tlsproxy_server_init();
    const char *level = cfg_str(P_TLSPROXY_CLIENT_SECURITY_LEVEL);
    if (strcmp(level, "none") == 0 || *level == 0)
        return;
    bool cache = *cfg_str(P_SMTP_TLS_SESSION_CACHE_DATABASE) != 0
                 && cfg_time(P_SMTP_TLS_SESSION_CACHE_TIMEOUT) > 0;
    struct tlsproxy_req r = {
        .ca_file = (char *)cfg_str(P_TLSPROXY_CLIENT_CAFILE),
        .ca_path = (char *)cfg_str(P_TLSPROXY_CLIENT_CAPATH),
        .cert_file = (char *)cfg_str(P_TLSPROXY_CLIENT_CERT_FILE),
        .key_file = (char *)cfg_str(P_TLSPROXY_CLIENT_KEY_FILE),
        .eccert_file = (char *)"", .eckey_file = (char *)"", .dcert_file = (char *)"",
        .dkey_file = (char *)"", .chain_files = (char *)"",
        .fingerprint_digest = (char *)cfg_str(P_TLSPROXY_CLIENT_FINGERPRINT_DIGEST),
        .dane_digests = (char *)cfg_str(P_TLS_DANE_DIGESTS),
        .cache_type = cache ? "smtp" : "",
    };
    struct sbuf *why = sbuf_new(128);
    if (tlsproxy_ctx_get(&r, why) == NULL)
        log_warn("TLS client initialization failed: %s", sbuf_str(why));
    sbuf_free(why);
}

/* ---- sessions ---- */

/* The session's TLS side, whichever role it has. */
static int tlsproxy_step(struct tlsproxy_sess *ss, bool *want_write, struct sbuf *why)
{
    return ss->stls ? tls_server_handshake_step(ss->stls, want_write, why)
                    : tls_client_handshake_step(ss->tls, want_write, why);
}

static ssize_t tlsproxy_tls_read(struct tlsproxy_sess *ss, void *buf, size_t len, bool *want)
{
    return ss->stls ? tls_server_read(ss->stls, buf, len, want)
                    : tls_client_read(ss->tls, buf, len, want);
}

static ssize_t tlsproxy_tls_write(struct tlsproxy_sess *ss, const void *buf, size_t len,
                                  bool *want)
{
    return ss->stls ? tls_server_write(ss->stls, buf, len, want)
                    : tls_client_write(ss->tls, buf, len, want);
}

static void tlsproxy_tls_free(struct tlsproxy_sess *ss)
{
    if (ss->tls)
        tls_client_stop(ss->tls, NULL);     /* close_notify, once */
    if (ss->stls)
        tls_server_stop(ss->stls, NULL);
    ss->tls = NULL;
    ss->stls = NULL;
}

static void tlsproxy_end(struct tlsproxy_sess *ss)
{
    event_timer_del(tlsproxy_timeout, ss);
    tlsproxy_tls_free(ss);
    event_fd_del(ss->rfd);
    close(ss->rfd);
    server_multi_done(ss->plain);
    tlsproxy_req_free(&ss->req);
    xfree(ss);
}

static void tlsproxy_timeout(void *ctx)
{
    struct tlsproxy_sess *ss = ctx;
    if (ss->established)
        log_info("idle timeout for %s", ss->req.peer);
    else {
        log_info("TLS handshake timeout for %s", ss->req.peer);
        struct attr_list *l = attr_list_new();
        struct tlsproxy_res res = { .status = -1 };
        snprintf(res.reason, sizeof(res.reason), "TLS handshake timed out with %s",
                 ss->req.peer);
        tlsproxy_res_encode(&res, l);
        stream_set_timeout(ss->plain, 5);
        (void)attr_write(ss->plain, l);
        attr_list_free(l);
    }
    tlsproxy_end(ss);
}

/* Moves bytes in every direction that can move without waiting. Returns
 * -1 when the session is over (both sides done, or an error). */
static int tlsproxy_pump(struct tlsproxy_sess *ss, bool *tls_rd, bool *tls_wr)
{
    bool moved;
    *tls_rd = *tls_wr = false;
    do {
        moved = false;
        bool want = false;
        ssize_t n;
        /* client -> buffer */
        if (!ss->plain_eof && ss->p2t_len < sizeof(ss->p2t)) {
            n = read(ss->pfd, ss->p2t + ss->p2t_len, sizeof(ss->p2t) - ss->p2t_len);
            if (n > 0) {
                ss->p2t_len += (size_t)n;
                moved = true;
            } else if (n == 0 || (errno != EAGAIN && errno != EINTR))
                ss->plain_eof = true;
        }
        /* buffer -> TLS */
        if (ss->p2t_len > 0) {
            n = tlsproxy_tls_write(ss, ss->p2t, ss->p2t_len, &want);
            if (n > 0) {
                memmove(ss->p2t, ss->p2t + n, ss->p2t_len - (size_t)n);
                ss->p2t_len -= (size_t)n;
                moved = true;
            } else if (n < 0 && errno == EAGAIN) {
                if (want)
                    *tls_rd = true;
                else
                    *tls_wr = true;
            } else {
                log_info("write to %s: lost connection", ss->req.peer);
                return -1;
            }
        }
        /* TLS -> buffer */
        if (!ss->tls_eof && ss->t2p_len < sizeof(ss->t2p)) {
            n = tlsproxy_tls_read(ss, ss->t2p + ss->t2p_len, sizeof(ss->t2p) - ss->t2p_len,
                                  &want);
            if (n > 0) {
                ss->t2p_len += (size_t)n;
                moved = true;
            } else if (n < 0 && errno == EAGAIN) {
                if (want)
                    *tls_wr = true;
                else
                    *tls_rd = true;
            } else
                ss->tls_eof = true;
        }
        /* buffer -> client */
        if (ss->t2p_len > 0) {
            n = write(ss->pfd, ss->t2p, ss->t2p_len);
            if (n > 0) {
                memmove(ss->t2p, ss->t2p + n, ss->t2p_len - (size_t)n);
                ss->t2p_len -= (size_t)n;
                moved = true;
            } else if (n < 0 && errno != EAGAIN && errno != EINTR)
                return -1;      /* the client went away */
        }
    } while (moved);
    /* The client is done and everything it sent is out; or the server is
     * done and everything it sent has reached the client. */
    if ((ss->plain_eof && ss->p2t_len == 0) || (ss->tls_eof && ss->t2p_len == 0))
        return -1;
    return 0;
}

static void tlsproxy_relay_event(int fd, int events, void *ctx)
{
    (void)fd;
    (void)events;
    struct tlsproxy_sess *ss = ctx;
    tlsproxy_dog_start();
    bool rd, wr;
    if (tlsproxy_pump(ss, &rd, &wr) < 0)
        tlsproxy_end(ss);
    else {
        int pev = (!ss->plain_eof && ss->p2t_len < sizeof(ss->p2t) ? EVENT_READ : 0)
                  | (ss->t2p_len > 0 ? EVENT_WRITE : 0);
        int rev = (rd ? EVENT_READ : 0) | (wr ? EVENT_WRITE : 0);
        if (pev)
            event_fd_add(ss->pfd, pev, tlsproxy_relay_event, ss);
        else
            event_fd_del(ss->pfd);
        if (rev)
            event_fd_add(ss->rfd, rev, tlsproxy_relay_event, ss);
        else
            event_fd_del(ss->rfd);
        event_timer_add((double)tlsproxy_idle, tlsproxy_timeout, ss);
    }
    tlsproxy_dog_stop();
}

/* The handshake is done: report the TLS properties, then relay. */
static void tlsproxy_established(struct tlsproxy_sess *ss)
{
    struct tlsproxy_res res = { .status = 0 };
    if (ss->stls) {
        struct tls_server_info si;
        tls_server_info(ss->stls, &si);
        tls_sni_log(&si, ss->req.peer);
        struct tls_client_info *i = &res.info;
        strlcpy(i->protocol, si.protocol, sizeof(i->protocol));
        strlcpy(i->cipher, si.cipher, sizeof(i->cipher));
        i->bits = si.bits;
        i->alg_bits = si.alg_bits;
        i->reused = si.reused;
        i->have_cert = si.have_cert;
        i->trusted = si.trusted;
        strlcpy(i->peer_cn, si.peer_cn, sizeof(i->peer_cn));
        strlcpy(i->verify_error, si.verify_error, sizeof(i->verify_error));
        strlcpy(i->fingerprint, si.fingerprint, sizeof(i->fingerprint));
        strlcpy(i->pkey_fingerprint, si.pkey_fingerprint, sizeof(i->pkey_fingerprint));
        if (tlsproxy_req_ccert && !si.trusted) {
            /* tlsproxy_tls_req_ccert: no verified client certificate, no
             * session. */
            log_info("%s: no trusted client certificate", ss->req.peer);
            struct tlsproxy_res fail = { .status = -1 };
            strlcpy(fail.reason, "no trusted client certificate", sizeof(fail.reason));
            struct attr_list *fl = attr_list_new();
            tlsproxy_res_encode(&fail, fl);
            stream_set_timeout(ss->plain, 5);
            (void)attr_write(ss->plain, fl);
            attr_list_free(fl);
            tlsproxy_end(ss);
            return;
        }
    } else {
        tls_client_info(ss->tls, ss->req.host, &res.info);
        for (size_t i = 0; i < ss->req.nmatch; i++)
            if (tls_client_matches(ss->tls, ss->req.match[i]))
                res.matched |= 1u << i;
    }
    struct attr_list *l = attr_list_new();
    tlsproxy_res_encode(&res, l);
    stream_set_timeout(ss->plain, (int)(tlsproxy_watchdog > 1 ? tlsproxy_watchdog / 2 : 1));
    int r = attr_write(ss->plain, l);
    attr_list_free(l);
    if (r < 0) {
        log_info("lost connection with the client of %s", ss->req.peer);
        tlsproxy_end(ss);
        return;
    }
    ss->established = true;
    log_debug(1, "%s: %s with cipher %s relayed", ss->req.peer, res.info.protocol,
              res.info.cipher);
    tlsproxy_relay_event(ss->pfd, 0, ss);
}

static void tlsproxy_handshake_event(int fd, int events, void *ctx)
{
    struct tlsproxy_sess *ss = ctx;
    tlsproxy_dog_start();
    if (fd == ss->pfd) {
        /* The client may only listen during the handshake: data or its
         * end means it gave up. */
        (void)events;
        log_info("client of %s went away during the TLS handshake", ss->req.peer);
        tlsproxy_end(ss);
        tlsproxy_dog_stop();
        return;
    }
    struct sbuf *why = sbuf_new(128);
    bool want_write = false;
    int r = tlsproxy_step(ss, &want_write, why);
    if (r > 0) {
        event_timer_del(tlsproxy_timeout, ss);
        tlsproxy_established(ss);
    } else if (r == 0)
        event_fd_add(ss->rfd, want_write ? EVENT_WRITE : EVENT_READ, tlsproxy_handshake_event,
                     ss);
    else {
        log_info("TLS handshake with %s failed: %s", ss->req.peer, sbuf_str(why));
        struct tlsproxy_res res = { .status = -1 };
        strlcpy(res.reason, sbuf_str(why), sizeof(res.reason));
        struct attr_list *l = attr_list_new();
        tlsproxy_res_encode(&res, l);
        stream_set_timeout(ss->plain, 5);
        (void)attr_write(ss->plain, l);
        attr_list_free(l);
        tlsproxy_tls_free(ss);
        tlsproxy_end(ss);
    }
    sbuf_free(why);
    tlsproxy_dog_stop();
}

/* Refuses a request whose client still listens. */
static int tlsproxy_refuse(struct stream *s, const char *reason)
{
    struct tlsproxy_res res = { .status = -1 };
    strlcpy(res.reason, reason, sizeof(res.reason));
    struct attr_list *l = attr_list_new();
    tlsproxy_res_encode(&res, l);
    (void)attr_write(s, l);
    attr_list_free(l);
    return -1;
}

/* One new session: the raw byte with the remote connection, then the
 * request. The client sends nothing else until it has the answer. */
static int tlsproxy_request(struct stream *s)
{
    tlsproxy_dog_start();
    int result = -1;
    if (stream_pending(s) > 0) {
        log_warn("client sent data before its connection");
        goto out;
    }
    char byte = 0;
    int fd = -1;
    if (sock_recv_fd(stream_fd(s), &byte, &fd, 3) < 0) {
        if (errno != ECONNRESET)
            log_warn("receive connection: %m");
        goto out;
    }
    if (fd < 0 || (byte != TLSPROXY_BYTE_CLIENT && byte != TLSPROXY_BYTE_SERVER)) {
        log_warn("malformed request: no connection or unknown role");
        if (fd >= 0)
            close(fd);
        goto out;
    }
    /* Both waits together stay below the watchdog's default. */
    stream_set_timeout(s, 3);
    struct attr_list *l = attr_list_new();
    int r = attr_read(s, l);
    struct tlsproxy_sess *ss = xcalloc(1, sizeof(*ss));
    ss->plain = s;
    ss->pfd = stream_fd(s);
    ss->rfd = fd;
    struct sbuf *why = sbuf_new(128);
    if (r < 0 || stream_pending(s) > 0
        || tlsproxy_req_decode(l, byte == TLSPROXY_BYTE_SERVER, &ss->req, why) < 0) {
        log_warn("malformed request: %s",
                 r < 0 ? stream_strerror(r) : sbuf_len(why) ? sbuf_str(why) : "extra data");
        attr_list_free(l);
        sbuf_free(why);
        close(fd);
        xfree(ss);
        goto out;
    }
    attr_list_free(l);
    sock_set_nonblock(fd, true);
    if (ss->req.server_role) {
        if (tlsproxy_sctx == NULL) {
            result = tlsproxy_refuse(s, "TLS server role is not configured in tlsproxy");
            goto fail;
        }
        ss->stls = tls_server_prepare(tlsproxy_sctx, fd, why);
        if (ss->stls == NULL) {
            result = tlsproxy_refuse(s, sbuf_str(why));
            goto fail;
        }
        goto start;
    }
    struct tls_client_ctx *ctx = tlsproxy_ctx_get(&ss->req, why);
    if (ctx == NULL) {
        log_warn("TLS client initialization failed: %s", sbuf_str(why));
        sbuf_printf(why, " (tlsproxy)");
        result = tlsproxy_refuse(s, sbuf_str(why));
        goto fail;
    }
    struct tls_client_sess_opts so = {
        .protocols = ss->req.protocols,
        .ciphers = ss->req.ciphers,
        .tlsa = ss->req.tlsa,
        .ntlsa = ss->req.ntlsa,
        .dane_base = *ss->req.dane_base ? ss->req.dane_base : NULL,
        .dane_name2 = *ss->req.dane_name2 ? ss->req.dane_name2 : NULL,
        .cache_id = *ss->req.cache_id ? ss->req.cache_id : NULL,
    };
    ss->tls = tls_client_prepare(ctx, fd, *ss->req.servername ? ss->req.servername : NULL, &so,
                                 why);
    if (ss->tls == NULL) {
        result = tlsproxy_refuse(s, sbuf_str(why));
        goto fail;
    }
start:
    sbuf_free(why);
    /* The session owns the client's socket from here on. */
    event_timer_add(ss->req.timeout > 0 ? (double)ss->req.timeout : 300.0, tlsproxy_timeout, ss);
    /* The first step runs from the loop: a failure frees s, which the
     * skeleton still looks at when this callback returns. */
    event_fd_add(ss->pfd, EVENT_READ, tlsproxy_handshake_event, ss);
    event_fd_add(ss->rfd, EVENT_WRITE, tlsproxy_handshake_event, ss);
    tlsproxy_dog_stop();
    return 0;
fail:
    sbuf_free(why);
    close(fd);
    tlsproxy_req_free(&ss->req);
    xfree(ss);
out:
    tlsproxy_dog_stop();
    return result;
}

static const struct server_ops tlsproxy_ops = {
    .model = SERVER_MULTI,
    .pre_jail = tlsproxy_pre_jail,
    .request = tlsproxy_request,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &tlsproxy_ops);
}
