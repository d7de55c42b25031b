/*
 * smtpd_data.c - receive the message after "354" and stream it to cleanup
 *
 * Used by: smtpd_cmd.c (DATA).
 * Interface: smtpd_data_receive(), smtpd_format_date().
 * Errors: a client that goes away or times out aborts the cleanup stream
 *         (cleanup removes the file); size and write problems are answered
 *         only after the whole message has been read, so the dialogue
 *         stays in step.
 * Notes: with smtpd_proxy_filter the content goes to the before-queue
 *        filter instead of cleanup, and its reply is the client's
 *        (smtpd_proxy.c). The message ends only at CR LF "." CR LF: a "." line counts only
 *        when the previous line ended in CR LF, and a line ending in a bare
 *        LF is never an end (no SMTP smuggling). That is
 *        smtpd_forbid_bare_newline = normalize (or yes); with "reject" a
 *        bare LF is refused outright and the session closed; with "no" (and
 *        for excluded clients) any "." line ends the message, as in Postfix.
 *        Lines longer than line_length_limit go to cleanup as L records
 *        followed by a final N record: split, never cut.
 *        We add our Received: header first. The reply is 250 only after
 *        cleanup_finish() says the queue file is safely on disk.
 */
#include "smtpd.h"
#include "cleanup_clnt.h"
#include "events.h"
#include "log.h"
#include "qfile.h"
#include <poll.h>


void smtpd_format_date(struct sbuf *out, time_t when)
{
    struct tm tm;
    char buf[128];
    localtime_r(&when, &tm);
    if (strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S %z (%Z)", &tm) == 0)
        strlcpy(buf, "Thu, 01 Jan 1970 00:00:00 +0000 (UTC)", sizeof(buf));
    sbuf_set(out, buf);
}

void smtpd_received(struct smtpd_state *st, const char *queue_id, smtpd_line_fn *emit,
                    void *ctx)
{
    struct sbuf *date = sbuf_new(64);
    struct sbuf *h = sbuf_new(256);
    smtpd_format_date(date, time(NULL));
    sbuf_printf(h, "Received: from %s (%s [%s])", smtpd_fwd_helo(st), smtpd_fwd_name(st),
                smtpd_fwd_rfc_addr(st));
    emit(st, ctx, sbuf_str(h), sbuf_len(h));
    smtpd_tls_received_lines(st, emit, ctx);
    if (smtpd_sasl_received(st, h))
        emit(st, ctx, sbuf_str(h), sbuf_len(h));
    sbuf_printf(h, "\tby %s (%s) with %s%s%s%s", smtpd_cfg.myhostname, smtpd_cfg.mail_name,
                smtpd_tls_received_proto(st), queue_id ? " id " : "", queue_id ? queue_id : "",
                st->rcpt_count == 1 ? "" : ";");
    emit(st, ctx, sbuf_str(h), sbuf_len(h));
    if (st->rcpt_count == 1) {
        struct sbuf *q = sbuf_new(64);
        smtpd_addr_quote(q, st->first_rcpt);
        sbuf_printf(h, "\tfor <%s>; %s", sbuf_str(q), sbuf_str(date));
        sbuf_free(q);
    } else
        sbuf_printf(h, "\t%s", sbuf_str(date));
    emit(st, ctx, sbuf_str(h), sbuf_len(h));
    sbuf_free(h);
    sbuf_free(date);
}

static void smtpd_data_line(struct smtpd_state *st, void *ctx, const char *line, size_t len)
{
    (void)st;
    cleanup_line(ctx, line, len);
}

void smtpd_data_received(struct smtpd_state *st, struct cleanup_clnt *c)
{
    smtpd_received(st, smtpd_queue_id(st), smtpd_data_line, c);
}

/* After 354 the client has to answer before anything else happens, and
 * cleanup has long sent its greeting by then: wait for the client's first
 * bytes first, so that reading the queue ID costs no sleep of its own. At
 * most a second (a slow client's smtpd_timeout hardly changes), and not
 * under TLS (decrypted bytes may wait inside the TLS layer). */
static void smtpd_data_await_client(struct smtpd_state *st)
{
    if (!st->queue_id_pending || st->tls_active || stream_pending(st->client) > 0)
        return;
    struct pollfd pfd = { .fd = stream_fd(st->client), .events = POLLIN };
    double t0 = event_now();
    (void)log_poll(&pfd, 1, 1000);
    stream_spend(st->client, (long)((event_now() - t0) * 1000));
}

/* Reply code and text for a cleanup verdict. */
void smtpd_data_status_reply(struct smtpd_state *st, int status, const char *reason,
                                    struct sbuf *out)
{
    int code;
    const char *dflt;
    if (status & CLEANUP_STAT_BAD) {
        code = 451;
        dflt = "4.3.0 Error: internal error";
    } else if (status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_PROXY | CLEANUP_STAT_DEFER)) {
        code = 451;
        dflt = "4.3.0 Error: queue file write error";
    } else if (status & CLEANUP_STAT_SIZE) {
        code = 552;
        dflt = "5.3.4 Message size exceeds fixed limit";
    } else if (status & CLEANUP_STAT_HOPS) {
        code = 554;
        dflt = "5.4.0 Error: too many hops";
    } else if (status & CLEANUP_STAT_CONT) {
        code = 550;     /* Postfix's code for content rejected by cleanup */
        dflt = "5.7.1 Error: message content rejected";
    } else if (status & CLEANUP_STAT_RCPT) {
        code = 554;
        dflt = "5.5.1 Error: no valid recipients";
    } else {
        code = 451;
        dflt = "4.3.0 Error: internal error";
    }
    /* Use cleanup's text when its enhanced code agrees with our class. */
    if (reason && reason[0] == (code >= 500 ? '5' : '4') && reason[1] == '.')
        sbuf_printf(out, "%d %s", code, reason);
    else
        sbuf_printf(out, "%d %s", code, dflt);
    (void)st;
}

enum smtpd_cmd_result smtpd_data_receive(struct smtpd_state *st)
{
    struct cleanup_clnt *c = st->cleanup;
    struct sbuf *seg = sbuf_new(smtpd_cfg.line_limit + 2);
    int bare_lf = smtpd_bare_lf_mode(st);
    bool too_big = false, write_err = false;
    bool line_start = true, prev_crlf = true;
    size_t content = 0;     /* stored bytes: line text plus one per line end */

    st->where = "DATA";
    st->data_bytes = 0;
    /* The content is a request of its own: with smtpd_per_request_deadline
     * it gets smtpd_timeout, and every byte smtpd_min_data_rate more. */
    stream_start_request(st->client);
    stream_set_min_rate(st->client, smtpd_cfg.min_data_rate);
    if (st->proxy) {
        /* smtpd_proxy_filter: the content goes to the filter, which gives
         * the verdict (smtpd_proxy.c). */
        smtpd_proxy_received(st);
    } else {
        smtpd_data_await_client(st);
        smtpd_check_envelope(st, c);     /* HOLD, FILTER, REDIRECT from restrictions */
        if (cleanup_rec(c, REC_MESG, "", 0) < 0)
            write_err = true;
        smtpd_check_headers(st, c);      /* PREPEND goes above our Received: */
        smtpd_data_received(st, c);
    }

    for (;;) {
        int r = stream_get_segment(st->client, seg, smtpd_cfg.line_limit);
        if (r < 0) {
            sbuf_free(seg);
            smtpd_reset_transaction(st);
            return SMTPD_R_GONE;
        }
        size_t len = sbuf_len(seg);
        const char *text = sbuf_str(seg);
        st->data_bytes += len + (r == STREAM_SEG_CRLF ? 2 : r == STREAM_SEG_LF ? 1 : 0);
        if (r == STREAM_SEG_LF && bare_lf == SMTPD_BARE_LF_REJECT) {
            sbuf_free(seg);
            smtpd_reset_transaction(st);
            smtpd_reply(st, "%d 5.5.2 %s Error: bare <LF> received", smtpd_cfg.bare_lf_code,
                        smtpd_cfg.myhostname);
            log_info("disconnect: bare <LF> received after DATA (%zu bytes) from %s",
                     st->data_bytes, st->namaddr);
            return SMTPD_R_CLOSE;
        }
        /* The end of data: CR LF "." CR LF; with bare LF allowed the old
         * way (smtpd_forbid_bare_newline = no, or an excluded client) any
         * "." line. */
        if (line_start && len == 1 && text[0] == '.'
            && (bare_lf == SMTPD_BARE_LF_NO ? r != STREAM_SEG_PARTIAL
                                            : prev_crlf && r == STREAM_SEG_CRLF))
            break;
        if (line_start && len > 0 && text[0] == '.') {     /* undo dot-stuffing */
            text++;
            len--;
        }
        content += len + (r == STREAM_SEG_PARTIAL ? 0 : 1);
        if (!too_big && smtpd_cfg.msg_size_limit > 0
            && content > (size_t)smtpd_cfg.msg_size_limit)
            too_big = true;
        if (!too_big && !write_err && st->proxy)
            smtpd_proxy_put(st, r != STREAM_SEG_PARTIAL, text, len);
        else if (!too_big && !write_err
                 && cleanup_rec(c, r == STREAM_SEG_PARTIAL ? REC_CONT : REC_NORM, text, len) < 0)
            write_err = true;
        line_start = r != STREAM_SEG_PARTIAL;
        if (line_start)
            prev_crlf = r == STREAM_SEG_CRLF;
    }
    sbuf_free(seg);

    struct sbuf *reply = sbuf_new(128);
    enum smtpd_cmd_result res = SMTPD_R_ERR;
    bool eod_rejected = false;      /* smtpd_check_eod() logged it */
    if (too_big || write_err) {
        sbuf_set(reply, too_big ? "552 5.3.4 Message size exceeds fixed limit"
                                : "451 4.3.0 Error: queue file write error");
    } else if (smtpd_check_eod(st, reply) != 0) {
        eod_rejected = true;
    } else if (st->proxy) {
        smtpd_proxy_finish(st, reply);  /* logged there */
        smtpd_milter_abort(st);         /* their transaction ends without content */
        eod_rejected = true;
        if (sbuf_str(reply)[0] == '2')
            res = SMTPD_R_OK;
    } else if (smtpd_check_eod_records(st, c), smtpd_milter_eom(st, c, reply)) {
        eod_rejected = true;    /* logged */
        if (smtpd_milter_421(sbuf_str(reply)))
            res = SMTPD_R_CLOSE;
    } else {
        struct sbuf *reason = sbuf_new(64);
        st->cleanup = NULL;     /* cleanup_finish frees it */
        int status = cleanup_finish(c, reason);
        if (status == CLEANUP_STAT_OK) {
            sbuf_printf(reply, "250 2.0.0 Ok: queued as %s", st->queue_id);
            res = SMTPD_R_OK;
        } else
            smtpd_data_status_reply(st, status, sbuf_str(reason), reply);
        sbuf_free(reason);
    }
    if (res != SMTPD_R_OK && !eod_rejected)
        smtpd_log_reject(st, "reject", "END-OF-MESSAGE", sbuf_str(reply), NULL);
    smtpd_reset_transaction(st);
    smtpd_reply(st, "%s", sbuf_str(reply));
    sbuf_free(reply);
    smtpd_notify_flush(st, false);
    return res;
}
