/*
 * postscreen_starttls.c - STARTTLS in the dummy SMTP engine, through tlsproxy
 *
 * Used by: postscreen_smtpd.c (the STARTTLS command), postscreen.c (setup,
 *          session end).
 * Interface: ps_starttls_init(), ps_starttls_start(), ps_starttls_cancel().
 * Errors: tlsproxy unreachable: the caller answers "454 4.7.0 TLS not
 *         available due to local problem"; a failed handshake, tlsproxy
 *         going away or no result within the time limit ends the session
 *         (the client is mid-handshake: there is nothing left to say).
 * Notes: postscreen_tls_security_level (default $smtpd_tls_security_level;
 *        when empty, postscreen_enforce_tls = yes means encrypt and
 *        postscreen_use_tls = yes means may) decides whether EHLO offers
 *        STARTTLS (may, encrypt) and whether it is required (encrypt: 530
 *        before it). postscreen has no TLS of its own: the client's socket
 *        goes to the server role of tlsproxy (private/$tlsproxy_service_name,
 *        request byte 'S', lib/mail/tlsproxy_clnt.h; its certificate comes
 *        from tlsproxy_tls_*, default smtpd_tls_*). The request is written
 *        at once (a local socket), then "220 2.0.0 Ready to start TLS" goes
 *        to the client; tlsproxy answers after the handshake on the event
 *        loop (ps_starttls_read) and its socket then carries the session's
 *        plaintext, which becomes the session's descriptor. Input pipelined
 *        after the STARTTLS line is discarded (RFC 3207 §4.2 state reset:
 *        HELO name and sender are forgotten too).
 */
#include "postscreen.h"
#include "alloc.h"
#include "config.h"
#include "events.h"
#include "log.h"
#include "params.h"
#include "sock.h"
#include "tls_param.h"
#include "tlsproxy_clnt.h"
#include <sys/socket.h>

/* The result list is small; more than this before it ends is an error. */
#define PS_TLS_RESULT_MAX 8192
/* Beyond the handshake limit given to tlsproxy, how long we wait for its
 * answer before giving up on it (seconds). */
#define PS_TLS_SLACK 5


void ps_starttls_init(void)
{
    ps_cfg.tls_level = tls_param_server_level(P_POSTSCREEN_TLS_SECURITY_LEVEL,
                                              P_POSTSCREEN_ENFORCE_TLS, P_POSTSCREEN_USE_TLS);
    ps_cfg.tls_service = xstrdup(cfg_str(P_TLSPROXY_SERVICE_NAME));
    if (ps_cfg.tls_level != TLS_PARAM_NONE && *cfg_str(P_TLSPROXY_TLS_CERT_FILE) == 0
        && *cfg_str(P_TLSPROXY_TLS_CHAIN_FILES) == 0)
        log_warn("%s = %s but tlsproxy has no server certificate (%s, %s): "
                 "STARTTLS will fail", P_POSTSCREEN_TLS_SECURITY_LEVEL,
                 ps_cfg.tls_level == TLS_PARAM_MAY ? "may" : "encrypt", P_TLSPROXY_TLS_CERT_FILE,
                 P_TLSPROXY_TLS_CHAIN_FILES);
}

static void ps_starttls_timeout(void *ctx)
{
    struct ps_state *st = ctx;
    log_warn("%s service did not finish the TLS handshake with %s in time",
             ps_cfg.tls_service, ps_client(st));
    ps_session_close(st);
}

void ps_starttls_cancel(struct ps_state *st)
{
    event_timer_del(ps_starttls_timeout, st);
    if (st->tls_conn >= 0) {
        event_fd_del(st->tls_conn);
        close(st->tls_conn);
        st->tls_conn = -1;
    }
}

/* tlsproxy's result, and after it the first plaintext of the session. */
static void ps_starttls_read(int fd, int events, void *ctx)
{
    struct ps_state *st = ctx;
    char buf[1024];
    (void)events;
    ssize_t n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    if (n <= 0) {
        log_info("STARTTLS from %s: %s service closed the connection", ps_client(st),
                 ps_cfg.tls_service);
        ps_session_close(st);
        return;
    }
    sbuf_append(st->in, buf, (size_t)n);
    struct tlsproxy_res res;
    struct sbuf *why = sbuf_new(128);
    size_t used = 0;
    int r = tlsproxy_clnt_reply(sbuf_str(st->in), sbuf_len(st->in), &used, &res, why);
    if (r == 0 && sbuf_len(st->in) > PS_TLS_RESULT_MAX) {
        r = -1;
        sbuf_set(why, "tlsproxy result too long");
    }
    if (r == 0) {
        sbuf_free(why);
        return;
    }
    if (r < 0) {
        log_info("STARTTLS from %s failed: %s", ps_client(st), sbuf_str(why));
        sbuf_free(why);
        ps_session_close(st);
        return;
    }
    sbuf_free(why);
    log_debug(1, "TLS with %s: %s with cipher %s", ps_client(st), res.info.protocol,
              res.info.cipher);
    /* tlsproxy holds the TCP connection now; its socket is the client. */
    event_timer_del(ps_starttls_timeout, st);
    event_fd_del(st->tls_conn);
    close(st->fd);
    st->fd = st->tls_conn;
    st->tls_conn = -1;
    st->tls_on = true;
    struct sbuf *rest = sbuf_new(64);
    sbuf_append(rest, sbuf_str(st->in) + used, sbuf_len(st->in) - used);
    sbuf_free(st->in);
    st->in = rest;
    st->phase = PS_PH_SMTP;
    ps_session_watch(st);
    ps_smtpd_resume(st);
}

int ps_starttls_start(struct ps_state *st)
{
    char peer[128];
    snprintf(peer, sizeof(peer), "unknown%s", ps_client(st));
    struct tlsproxy_req req = {
        .server_role = true,
        .peer = peer,
        .timeout = ps_cfg.cmd_time_limit,
    };
    struct sbuf *why = sbuf_new(128);
    /* Connecting to a local socket and writing a few bytes do not wait in
     * practice (at most a second); the result is waited for on the loop. */
    int conn = tlsproxy_clnt_request(ps_cfg.tls_service, st->fd, &req, 1, why);
    if (conn < 0) {
        log_warn("STARTTLS from %s: %s", ps_client(st), sbuf_str(why));
        sbuf_free(why);
        return -1;
    }
    sbuf_free(why);
    sock_set_nonblock(conn, true);
    ps_smtpd_cancel(st);
    event_fd_del(st->fd);
    if (sbuf_len(st->in) > 0)
        log_debug(1, "%s: discarding %zu bytes pipelined after STARTTLS", ps_client(st),
                  sbuf_len(st->in));
    sbuf_reset(st->in);
    xfree(st->helo);
    st->helo = NULL;
    xfree(st->sender);
    st->sender = NULL;
    st->esmtp = false;
    st->tls_conn = conn;
    st->phase = PS_PH_TLS;
    event_fd_add(conn, EVENT_READ, ps_starttls_read, st);
    event_timer_add((double)(ps_cfg.cmd_time_limit + PS_TLS_SLACK), ps_starttls_timeout, st);
    return 0;
}
