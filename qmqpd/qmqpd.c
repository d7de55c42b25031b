/*
 * qmqpd.c - the QMQP server: one message per connection into cleanup
 *
 * Used by: master (628 inet n - y - - qmqpd).
 * Interface: a SERVER_SINGLE daemon; the service callback speaks QMQP
 *            (http://cr.yp.to/proto/qmqp.html) with one client.
 * Errors: every problem is answered in the protocol's one reply, a
 *         netstring starting with K (queued), Z (try again later) or D
 *         (permanent failure), after qmqpd_error_delay for Z and D; with
 *         soft_bounce D becomes Z. A malformed or oversized netstring is
 *         answered at once ("D netstring format error while ..."), the
 *         connection closed and the unfinished queue file dropped.
 * Notes: the request is one netstring holding the message netstring, the
 *        sender netstring and one netstring per recipient. Only clients in
 *        qmqpd_authorized_clients ($mynetworks-style list, empty by
 *        default: nobody) are served; the others get "D Error: NAME[ADDR]
 *        is not authorized to use this service", as with Postfix.
 *        The message comes before its envelope in QMQP, while cleanup wants
 *        the envelope first, so the message is held in memory (at most
 *        message_size_limit bytes) until the recipients are read; this is
 *        Postfix's approach too. Limits: the whole request and the message
 *        are at most message_size_limit bytes (with message_size_limit = 0,
 *        QMQPD_NOLIMIT_MAX), the message no longer than the request says it
 *        is, the sender and each recipient at most
 *        line_length_limit. The recipient count is bounded by the request
 *        length. The reply is K only after cleanup_finish() has the queue
 *        file safely on disk.
 *        The message gets "Received: from NAME (NAME [ADDR]) by HOST
 *        (MAIL_NAME) with QMQP id QUEUEID; DATE" first. A sender of the
 *        form prefix@origin-@[] asks for VERP in qmail's form, which
 *        Postern does not take (XVERP and sendmail -XV it does): such
 *        mail is refused with D rather than sent with a return path the
 *        list manager did not ask for.
 *        content_filter and receive_override_options are this service's
 *        own (main.cf or -o), as for smtpd.
 */
#include "addr.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "log.h"
#include "mynetworks.h"
#include "netstring.h"
#include "qfile.h"
#include "qmqpd.h"
#include "server.h"
#include "soft_bounce.h"
#include <ctype.h>

#define QMQPD_STAT_OK 'K'
#define QMQPD_STAT_RETRY 'Z'
#define QMQPD_STAT_HARD 'D'

/* The request size limit when message_size_limit = 0 ("no limit"): the
 * message is held in memory, so something must bound it. */
#define QMQPD_NOLIMIT_MAX ((size_t)1 << 30)

static struct {
    struct mynetworks *clients;     /* qmqpd_authorized_clients */
    struct mynetworks *mynetworks;  /* for postern_dkim_sign_clients */
    struct mynetworks *debug_peers;
    int debug_peer_level;
    int timeout;
    int error_delay;
    bool port_logging;
    size_t size_limit;
    size_t line_limit;
    const char *content_filter;     /* "" = none */
    const char *myhostname;
    const char *mail_name;
} qmqpd_cfg;

struct qmqpd_state {
    struct stream *client;
    struct qmqpd_peer peer;
    struct cleanup_clnt *cleanup;
    char queue_id[64];
    const char *where;              /* the protocol phase, for errors */
    struct sbuf *message;
    struct sbuf *buf;
    char *recipient;                /* the first one, for Received: */
    size_t rcpt_count;
};

/* Still root: tables named in the lists may be readable by root only. */
static void qmqpd_pre_jail(void)
{
    qmqpd_cfg.clients = mynetworks_new(P_QMQPD_AUTHORIZED_CLIENTS,
                                       cfg_str(P_QMQPD_AUTHORIZED_CLIENTS),
                                       cfg_parent_matches(P_QMQPD_AUTHORIZED_CLIENTS));
    qmqpd_cfg.mynetworks = mynetworks_new(P_MYNETWORKS, cfg_str(P_MYNETWORKS),
                                          cfg_parent_matches(P_MYNETWORKS));
    if (*cfg_str(P_DEBUG_PEER_LIST))
        qmqpd_cfg.debug_peers = mynetworks_new(P_DEBUG_PEER_LIST, cfg_str(P_DEBUG_PEER_LIST),
                                               cfg_parent_matches(P_DEBUG_PEER_LIST));
    qmqpd_cfg.debug_peer_level = cfg_int(P_DEBUG_PEER_LEVEL);
    qmqpd_cfg.timeout = (int)cfg_time(P_QMQPD_TIMEOUT);
    qmqpd_cfg.error_delay = (int)cfg_time(P_QMQPD_ERROR_DELAY);
    qmqpd_cfg.port_logging = cfg_bool(P_QMQPD_CLIENT_PORT_LOGGING);
    long size = cfg_long(P_MESSAGE_SIZE_LIMIT);
    qmqpd_cfg.size_limit = size > 0 && (size_t)size < QMQPD_NOLIMIT_MAX ? (size_t)size
                                                                         : QMQPD_NOLIMIT_MAX;
    long line = cfg_long(P_LINE_LENGTH_LIMIT);
    qmqpd_cfg.line_limit = line > 0 ? (size_t)line : 2048;
    qmqpd_cfg.content_filter = cfg_str(P_CONTENT_FILTER);
    qmqpd_cfg.myhostname = cfg_str(P_MYHOSTNAME);
    qmqpd_cfg.mail_name = cfg_str(P_MAIL_NAME);
    if (server_args()[0])
        log_fatal("unexpected command-line argument: %s", server_args()[0]);
}

/* Sends the one reply: a netstring of the status letter and text. A
 * negative reply waits qmqpd_error_delay first (slows down run-away
 * clients) and is logged when log_it. */
static void qmqpd_reply(struct qmqpd_state *st, bool log_it, int code, const char *fmt, ...)
    PRINTF_LIKE(4, 5);
static void qmqpd_reply(struct qmqpd_state *st, bool log_it, int code, const char *fmt, ...)
{
    if (code == QMQPD_STAT_HARD && soft_bounce_enabled())
        code = QMQPD_STAT_RETRY;
    sbuf_reset(st->buf);
    sbuf_addch(st->buf, code);
    va_list ap;
    va_start(ap, fmt);
    sbuf_vcatf(st->buf, fmt, ap);
    va_end(ap);
    if (log_it) {
        if (code == QMQPD_STAT_OK)
            log_info("%s: %s: %s", st->queue_id, st->peer.namaddr, sbuf_str(st->buf) + 1);
        else
            log_warn("%s: %s: %s", st->queue_id, st->peer.namaddr, sbuf_str(st->buf) + 1);
    }
    if (code != QMQPD_STAT_OK && qmqpd_cfg.error_delay > 0)
        sleep((unsigned)qmqpd_cfg.error_delay);
    netstring_put(st->client, sbuf_str(st->buf), sbuf_len(st->buf));
    stream_flush(st->client);
}

/* "Sat,  5 Dec 2026 16:17:52 +0000 (UTC)" */
static void qmqpd_date(struct sbuf *out, time_t when)
{
    struct tm tm;
    char buf[128];
    localtime_r(&when, &tm);
    if (strftime(buf, sizeof(buf), "%a, %e %b %Y %H:%M:%S %z (%Z)", &tm) == 0)
        strlcpy(buf, "Thu,  1 Jan 1970 00:00:00 +0000 (UTC)", sizeof(buf));
    sbuf_set(out, buf);
}

/* Our Received: header, in Postfix's qmqpd shape: the recipient is named
 * only when there is exactly one (others would reveal Bcc: recipients). */
static void qmqpd_received(struct qmqpd_state *st)
{
    struct cleanup_clnt *c = st->cleanup;
    struct sbuf *date = sbuf_new(64);
    qmqpd_date(date, time(NULL));
    cleanup_recf(c, REC_NORM, "Received: from %s (%s [%s])", st->peer.name, st->peer.name,
                 st->peer.rfc_addr);
    if (st->rcpt_count == 1) {
        struct sbuf *q = sbuf_new(64);
        addr_quote(q, st->recipient);
        cleanup_recf(c, REC_NORM, "\tby %s (%s) with QMQP id %s", qmqpd_cfg.myhostname,
                     qmqpd_cfg.mail_name, st->queue_id);
        cleanup_recf(c, REC_NORM, "\tfor <%s>; %s", sbuf_str(q), sbuf_str(date));
        sbuf_free(q);
    } else {
        cleanup_recf(c, REC_NORM, "\tby %s (%s) with QMQP", qmqpd_cfg.myhostname,
                     qmqpd_cfg.mail_name);
        cleanup_recf(c, REC_NORM, "\tid %s; %s", st->queue_id, sbuf_str(date));
    }
    sbuf_free(date);
}

/* Sends the held message as content records: lines end at LF; a line
 * longer than line_length_limit goes as pieces (L records) and a final N
 * record. A UNIX From_ line at the start becomes X-Mailbox-Line:, and
 * content that starts with white space gets an empty line first, so that
 * it is never taken for a continuation of our Received: header. */
static void qmqpd_content(struct qmqpd_state *st)
{
    struct cleanup_clnt *c = st->cleanup;
    const char *p = sbuf_str(st->message), *end = p + sbuf_len(st->message);
    bool first = true;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        size_t len = (size_t)(eol - p);
        if (first) {
            first = false;
            size_t gt = 0;
            while (gt < len && p[gt] == '>')
                gt++;
            if (len - gt >= 5 && memcmp(p + gt, "From ", 5) == 0) {
                cleanup_recf(c, REC_NORM, "X-Mailbox-Line: %.*s",
                             (int)(len < qmqpd_cfg.line_limit ? len : qmqpd_cfg.line_limit), p);
                p = nl ? nl + 1 : end;
                continue;
            }
            if (len > 0 && (p[0] == ' ' || p[0] == '\t'))
                cleanup_rec(c, REC_NORM, "", 0);
        }
        while (len > qmqpd_cfg.line_limit) {
            cleanup_rec(c, REC_CONT, p, qmqpd_cfg.line_limit);
            p += qmqpd_cfg.line_limit;
            len -= qmqpd_cfg.line_limit;
        }
        cleanup_rec(c, REC_NORM, p, len);
        p = nl ? nl + 1 : end;
    }
}

/* True when sender is prefix@origin-@[] (a VERP request). */
static bool qmqpd_verp_requested(const char *sender, size_t len)
{
    return len > 4 && memcmp(sender + len - 4, "-@[]", 4) == 0 && strchr(sender, '@') != NULL
           && strchr(sender, '@') < sender + len - 4;
}

/* The reply for a cleanup verdict (Postfix's texts). */
static void qmqpd_status_reply(struct qmqpd_state *st, int status, const char *reason)
{
    /* cleanup's text starts with an enhanced status code: drop it. */
    const char *text = reason;
    if (text[0] && text[1] == '.') {
        const char *sp = strchr(text, ' ');
        text = sp ? sp + 1 : "";
    }
    if (status == CLEANUP_STAT_OK)
        qmqpd_reply(st, false, QMQPD_STAT_OK, "Ok: queued as %s", st->queue_id);
    else if (status & CLEANUP_STAT_BAD)
        qmqpd_reply(st, true, QMQPD_STAT_RETRY, "Error: internal error %d", status);
    else if (status & CLEANUP_STAT_SIZE)
        qmqpd_reply(st, true, QMQPD_STAT_HARD, "Error: message too large");
    else if (status & CLEANUP_STAT_HOPS)
        qmqpd_reply(st, true, QMQPD_STAT_HARD, "Error: too many hops");
    else if (status & CLEANUP_STAT_CONT)
        qmqpd_reply(st, true, QMQPD_STAT_HARD, "Error: %s", *text ? text : "content rejected");
    else if (status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_DEFER | CLEANUP_STAT_PROXY))
        qmqpd_reply(st, true, QMQPD_STAT_RETRY, "Error: queue file write error");
    else if (status & CLEANUP_STAT_RCPT)
        qmqpd_reply(st, true, QMQPD_STAT_HARD, "Error: no recipients specified");
    else
        qmqpd_reply(st, true, QMQPD_STAT_RETRY, "Error: internal error %d", status);
}

/* Opens the queue file and sends the envelope's head. False (answered)
 * when cleanup is unavailable. */
static bool qmqpd_open(struct qmqpd_state *st, const char *sender)
{
    int flags = cleanup_input_flags(CLEANUP_FLAG_MASK_EXTERNAL) & ~CLEANUP_FLAG_FILTER;
    bool mynet = mynetworks_match(qmqpd_cfg.mynetworks, st->peer.addr, st->peer.name) == 1;
    st->cleanup = cleanup_open(flags | cleanup_dkim_flags(mynet, false, false));
    if (st->cleanup == NULL) {
        qmqpd_reply(st, true, QMQPD_STAT_RETRY, "Error: queue file write error");
        return false;
    }
    struct cleanup_clnt *c = st->cleanup;
    strlcpy(st->queue_id, cleanup_queue_id(c), sizeof(st->queue_id));
    log_info("%s: client=%s", st->queue_id, st->peer.namaddr);
    /* Our own content_filter, not cleanup's (see the header comment). */
    if (*qmqpd_cfg.content_filter)
        cleanup_recs(c, REC_FILTER, qmqpd_cfg.content_filter);
    cleanup_recs(c, REC_SENDER, sender);
    cleanup_recs(c, REC_ATTR, "rewrite_context=local");
    cleanup_recf(c, REC_ATTR, "log_client_name=%s", st->peer.name);
    cleanup_recf(c, REC_ATTR, "log_client_address=%s", st->peer.addr);
    cleanup_recf(c, REC_ATTR, "log_client_port=%d", st->peer.port);
    cleanup_recs(c, REC_ATTR, "log_protocol=QMQP");
    cleanup_recs(c, REC_ATTR, "log_message_origin=qmqpd");
    return true;
}

/* Answers a protocol error (D, or nothing when the client is gone) and
 * logs "QUEUEID: CLIENT: REASON while WHERE", as Postfix does. */
static void qmqpd_proto_error(struct qmqpd_state *st, int err)
{
    const char *reason = netstring_strerror(err);
    if (err == NETSTRING_E_FORMAT || err == NETSTRING_E_SIZE)
        qmqpd_reply(st, false, QMQPD_STAT_HARD, "%s while %s", reason, st->where);
    log_info("%s: %s: %s while %s", st->queue_id, st->peer.namaddr, reason, st->where);
}

/* The bytes a netstring of len data bytes takes ("LEN:DATA,"). */
static size_t qmqpd_netstring_size(size_t len)
{
    size_t digits = 1;
    for (size_t v = len; v >= 10; v /= 10)
        digits++;
    return digits + 2 + len;
}

/* Reads the request and queues it. Every path sends at most one reply. */
static void qmqpd_receive(struct qmqpd_state *st)
{
    ssize_t n;
    size_t total, used = 0;

    st->where = "receiving QMQP packet header";
    if ((n = netstring_get_len(st->client, qmqpd_cfg.size_limit)) < 0)
        goto proto_error;
    total = (size_t)n;

    /* The message must fit in the request as declared: no reading (and
     * holding) more than the client said it would send. */
    st->where = "receiving message content";
    if ((n = netstring_get_len(st->client, total)) < 0)
        goto proto_error;
    int r = netstring_get_data(st->client, (size_t)n, st->message);
    if (r < 0) {
        n = r;
        goto proto_error;
    }
    used += qmqpd_netstring_size((size_t)n);

    st->where = "receiving sender address";
    if (used >= total) {
        n = NETSTRING_E_FORMAT;
        goto proto_error;
    }
    if ((n = netstring_get(st->client, st->buf, qmqpd_cfg.line_limit)) < 0)
        goto proto_error;
    used += qmqpd_netstring_size((size_t)n);
    if (used > total || memchr(sbuf_str(st->buf), '\0', sbuf_len(st->buf))) {
        n = NETSTRING_E_FORMAT;
        goto proto_error;
    }
    char *sender = xstrdup(sbuf_str(st->buf));
    bool verp = qmqpd_verp_requested(sender, strlen(sender));
    if (!qmqpd_open(st, sender)) {
        xfree(sender);
        return;
    }
    xfree(sender);

    st->where = "receiving recipient address";
    while (used < total) {
        if ((n = netstring_get(st->client, st->buf, qmqpd_cfg.line_limit)) < 0)
            goto proto_error;
        used += qmqpd_netstring_size((size_t)n);
        if (used > total || memchr(sbuf_str(st->buf), '\0', sbuf_len(st->buf))) {
            n = NETSTRING_E_FORMAT;
            goto proto_error;
        }
        cleanup_rec(st->cleanup, REC_RCPT, sbuf_str(st->buf), sbuf_len(st->buf));
        if (st->rcpt_count++ == 0)
            st->recipient = xstrdup(sbuf_str(st->buf));
    }
    st->where = "receiving QMQP packet trailer";
    int c = stream_getc(st->client);
    if (c != ',') {
        n = c < 0 ? c : NETSTRING_E_FORMAT;
        goto proto_error;
    }

    st->where = "sending completion status";
    if (verp) {
        cleanup_abort(st->cleanup);
        st->cleanup = NULL;
        qmqpd_reply(st, true, QMQPD_STAT_HARD,
                    "Error: VERP (a sender ending in -@[]) is not supported by this server");
        return;
    }
    cleanup_rec(st->cleanup, REC_MESG, "", 0);
    qmqpd_received(st);
    qmqpd_content(st);
    struct sbuf *reason = sbuf_new(64);
    int status = cleanup_finish(st->cleanup, reason);
    st->cleanup = NULL;
    qmqpd_status_reply(st, status, sbuf_str(reason));
    sbuf_free(reason);
    return;

proto_error:
    if (st->cleanup) {
        cleanup_abort(st->cleanup);
        st->cleanup = NULL;
    }
    qmqpd_proto_error(st, (int)n);
}

static void qmqpd_service(struct stream *client)
{
    struct qmqpd_state st;
    memset(&st, 0, sizeof(st));
    st.client = client;
    strlcpy(st.queue_id, "NOQUEUE", sizeof(st.queue_id));
    st.message = sbuf_new(4096);
    st.buf = sbuf_new(256);
    stream_set_timeout(client, qmqpd_cfg.timeout);
    qmqpd_peer_init(&st.peer, client, qmqpd_cfg.port_logging);
    int saved_verbose = log_verbose;
    if (qmqpd_cfg.debug_peers
        && mynetworks_match(qmqpd_cfg.debug_peers, st.peer.addr, st.peer.name) == 1)
        log_verbose += qmqpd_cfg.debug_peer_level;
    log_info("connect from %s", st.peer.namaddr);

    int ok = mynetworks_match(qmqpd_cfg.clients, st.peer.addr, st.peer.name);
    if (ok == 0)
        qmqpd_reply(&st, false, QMQPD_STAT_HARD, "Error: %s is not authorized to use this service",
                    st.peer.namaddr);
    else if (ok < 0)
        qmqpd_reply(&st, true, QMQPD_STAT_RETRY, "Error: temporary lookup failure");
    else
        qmqpd_receive(&st);

    log_info("disconnect from %s", st.peer.namaddr);
    log_verbose = saved_verbose;
    xfree(st.recipient);
    sbuf_free(st.message);
    sbuf_free(st.buf);
}

static const struct server_ops qmqpd_ops = {
    .model = SERVER_SINGLE,
    .pre_jail = qmqpd_pre_jail,
    .service = qmqpd_service,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &qmqpd_ops);
}
