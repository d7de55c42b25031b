/*
 * smtpd_bdat.c - CHUNKING (RFC 3030): "BDAT size [LAST]"
 *
 * Used by: smtpd_cmd.c (BDAT, and the MAIL/RCPT/DATA refusals inside a
 *          BDAT transaction); smtpd.c (transaction reset).
 * Interface: smtpd_bdat_cmd(), smtpd_bdat_refused(), smtpd_bdat_reset().
 * Errors: the replies and log lines are Postfix's: a malformed BDAT command
 *         gets "521 5.5.4 Syntax: BDAT count [LAST]" and ends the session
 *         (the byte count is unknown, so the dialogue cannot stay in step);
 *         every other error reads and discards the chunk first so that the
 *         next command is read from the right place.
 * Notes: a chunk is exactly SIZE octets of message content, with no dot
 *        stuffing and no end marker: a "." line is content. Lines are cut
 *        at LF (a CR before it is dropped); a line may span chunks; a bare
 *        CR is content; lines longer than line_length_limit go to cleanup
 *        as L records followed by a final N record, like DATA. The message
 *        ends with the LAST chunk; an unterminated last line is kept.
 */
#include "smtpd.h"
#include "alloc.h"
#include "cleanup_clnt.h"
#include "log.h"
#include "qfile.h"
#include <ctype.h>
#include <strings.h>

#define SMTPD_BDAT_DIGITS 18        /* a longer count cannot be sane */

struct smtpd_bdat {
    struct sbuf *line;      /* partial line carried between chunks */
    size_t total;           /* chunk octets received in this transaction */
    size_t content;         /* stored content bytes (size limit) */
    bool too_big;
    bool write_err;
    bool error;             /* an earlier chunk failed: discard the rest */
};

void smtpd_bdat_reset(struct smtpd_state *st)
{
    struct smtpd_bdat *b = st->bdat;
    if (b == NULL)
        return;
    sbuf_free(b->line);
    xfree(b);
    st->bdat = NULL;
}

bool smtpd_bdat_refused(struct smtpd_state *st, enum smtpd_cmd_id id)
{
    if (st->bdat == NULL)
        return false;
    if (id == SMTPD_C_MAIL)
        smtpd_reply(st, "503 5.5.1 Error: MAIL after BDAT");
    else if (id == SMTPD_C_RCPT)
        smtpd_reply(st, "503 5.5.1 Error: RCPT after BDAT");
    else if (id == SMTPD_C_DATA)
        smtpd_reply(st, "503 5.5.1 Error: DATA after BDAT");
    else
        return false;
    return true;
}

/* Reads and drops n octets; false when the client went away. */
static bool smtpd_bdat_skip(struct smtpd_state *st, size_t n)
{
    char buf[4096];
    while (n > 0) {
        size_t k = n < sizeof(buf) ? n : sizeof(buf);
        ssize_t r = stream_read_some(st->client, buf, k);
        if (r < 0)
            return false;
        st->data_bytes += (size_t)r;
        n -= (size_t)r;
    }
    return true;
}

/* Stores one piece of content: text up to a line end (eol) or a cut. */
static void smtpd_bdat_store(struct smtpd_state *st, struct smtpd_bdat *b, const char *text,
                             size_t len, bool eol)
{
    b->content += len + (eol ? 1 : 0);
    if (!b->too_big && smtpd_cfg.msg_size_limit > 0
        && b->content > (size_t)smtpd_cfg.msg_size_limit)
        b->too_big = true;
    if (!b->too_big && !b->write_err
        && cleanup_rec(st->cleanup, eol ? REC_NORM : REC_CONT, text, len) < 0)
        b->write_err = true;
}

/* Splits chunk data into lines for cleanup. */
static void smtpd_bdat_feed(struct smtpd_state *st, struct smtpd_bdat *b, const char *data,
                            size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = data[i];
        if (c == '\n') {
            size_t l = sbuf_len(b->line);
            if (l > 0 && sbuf_str(b->line)[l - 1] == '\r')
                sbuf_truncate(b->line, l - 1);
            smtpd_bdat_store(st, b, sbuf_str(b->line), sbuf_len(b->line), true);
            sbuf_reset(b->line);
            continue;
        }
        sbuf_addch(b->line, c);
        /* Keep a trailing CR for the next byte: CR LF must not be split. */
        if (sbuf_len(b->line) >= smtpd_cfg.line_limit && c != '\r') {
            smtpd_bdat_store(st, b, sbuf_str(b->line), sbuf_len(b->line), false);
            sbuf_reset(b->line);
        }
    }
}

/* Checks before the first chunk of a transaction; 0 or the reply. */
static bool smtpd_bdat_start_ok(struct smtpd_state *st, struct sbuf *reply)
{
    if (st->sender == NULL) {
        sbuf_set(reply, "503 5.5.1 Error: need RCPT command");
        return false;
    }
    if (st->rcpt_count == 0 || st->cleanup == NULL) {
        sbuf_set(reply, "554 5.5.1 Error: no valid recipients");
        return false;
    }
    if (smtpd_check_data(st, reply) != 0)
        return false;
    if (smtpd_milter_data(st, reply))
        return false;
    return true;
}

/* Finishes the message after the LAST chunk and replies. */
static enum smtpd_cmd_result smtpd_bdat_finish(struct smtpd_state *st, struct smtpd_bdat *b)
{
    struct cleanup_clnt *c = st->cleanup;
    if (sbuf_len(b->line) > 0)
        smtpd_bdat_store(st, b, sbuf_str(b->line), sbuf_len(b->line), true);
    struct sbuf *reply = sbuf_new(128);
    enum smtpd_cmd_result res = SMTPD_R_ERR;
    bool eod_rejected = false;
    if (b->too_big || b->write_err) {
        sbuf_set(reply, b->too_big ? "552 5.3.4 Message size exceeds fixed limit"
                                   : "451 4.3.0 Error: queue file write error");
    } else if (smtpd_check_eod(st, reply) != 0) {
        eod_rejected = true;
    } else if (smtpd_check_eod_records(st, c), smtpd_milter_eom(st, c, reply)) {
        eod_rejected = true;    /* logged */
        if (smtpd_milter_421(sbuf_str(reply)))
            res = SMTPD_R_CLOSE;
    } else {
        struct sbuf *reason = sbuf_new(64);
        st->cleanup = NULL;     /* cleanup_finish frees it */
        int status = cleanup_finish(c, reason);
        if (status == CLEANUP_STAT_OK) {
            sbuf_printf(reply, "250 2.0.0 Ok: %zu bytes queued as %s", b->total, st->queue_id);
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
    return res;
}

enum smtpd_cmd_result smtpd_bdat_cmd(struct smtpd_state *st, const char *args)
{
    /* Not announced while a before-queue filter is set (smtpd_proxy.c). */
    if (smtpd_limits_ehlo_discard(st, "CHUNKING") || smtpd_proxy_enabled()) {
        smtpd_reply(st, "502 5.5.1 Error: command not implemented");
        return SMTPD_R_ERR;
    }
    /* BDAT count [LAST] */
    size_t dlen = strspn(args, "0123456789");
    const char *p = args + dlen;
    while (*p == ' ' || *p == '\t')
        p++;
    bool last = false;
    if (strncasecmp(p, "LAST", 4) == 0 && (p[4] == 0 || p[4] == ' ' || p[4] == '\t')) {
        last = true;
        p += 4;
        while (*p == ' ' || *p == '\t')
            p++;
    }
    if (dlen == 0 || dlen > SMTPD_BDAT_DIGITS || (args[dlen] != 0 && args[dlen] != ' '
                                                  && args[dlen] != '\t') || *p != 0) {
        log_info("%s: malformed BDAT command syntax from %s: %.100s", smtpd_log_queue_id(st),
                 st->namaddr, args);
        smtpd_reply(st, "521 5.5.4 Syntax: BDAT count [LAST]");
        return SMTPD_R_CLOSE;
    }
    char *end;
    errno = 0;
    unsigned long long n = strtoull(args, &end, 10);
    size_t count = (size_t)n;
    st->where = "BDAT";
    /* The chunk belongs to this request: with smtpd_per_request_deadline
     * each byte of it earns 1/smtpd_min_data_rate s more. */
    stream_set_min_rate(st->client, smtpd_cfg.min_data_rate);
    if (st->bdat == NULL)
        st->data_bytes = 0;

    struct smtpd_bdat *b = st->bdat;
    if (b == NULL) {
        /* First chunk: is there a transaction to receive it? */
        if (!smtpd_bdat_start_ok(st, st->reply)) {
            if (!smtpd_bdat_skip(st, count)) {
                smtpd_reset_transaction(st);
                return SMTPD_R_GONE;
            }
            smtpd_reply(st, "%s", sbuf_str(st->reply));
            return SMTPD_R_ERR;
        }
        b = st->bdat = xcalloc(1, sizeof(*b));
        b->line = sbuf_new(256);
        smtpd_check_envelope(st, st->cleanup);     /* HOLD, FILTER, REDIRECT */
        if (cleanup_rec(st->cleanup, REC_MESG, "", 0) < 0)
            b->write_err = true;
        smtpd_check_headers(st, st->cleanup);      /* PREPEND above Received: */
        smtpd_data_received(st, st->cleanup);
    }
    if (b->error) {
        if (!smtpd_bdat_skip(st, count)) {
            smtpd_reset_transaction(st);
            return SMTPD_R_GONE;
        }
        smtpd_reply(st, "551 5.0.0 Discarded %zu bytes after earlier error", count);
        if (last)
            smtpd_reset_transaction(st);
        return SMTPD_R_ERR;
    }
    if (count == 0 && !last) {
        log_info("%s: null BDAT request from %s", smtpd_log_queue_id(st), st->namaddr);
        smtpd_reply(st, "551 5.7.1 Null BDAT request");
        return SMTPD_R_ERR;
    }
    if (errno == ERANGE || (smtpd_cfg.msg_size_limit > 0
                            && (n > (unsigned long long)smtpd_cfg.msg_size_limit
                                || b->total + count > (size_t)smtpd_cfg.msg_size_limit))) {
        log_info("%s: BDAT request from %s exceeds message size limit", smtpd_log_queue_id(st),
                 st->namaddr);
        b->error = true;
        if (!smtpd_bdat_skip(st, count)) {
            smtpd_reset_transaction(st);
            return SMTPD_R_GONE;
        }
        smtpd_reply(st, "552 5.3.4 Chunk exceeds message size limit");
        if (last)
            smtpd_reset_transaction(st);
        return SMTPD_R_ERR;
    }

    char buf[4096];
    size_t left = count;
    while (left > 0) {
        size_t k = left < sizeof(buf) ? left : sizeof(buf);
        ssize_t r = stream_read_some(st->client, buf, k);
        if (r < 0) {
            smtpd_reset_transaction(st);
            return SMTPD_R_GONE;
        }
        st->data_bytes += (size_t)r;
        smtpd_bdat_feed(st, b, buf, (size_t)r);
        left -= (size_t)r;
    }
    b->total += count;
    if (last)
        return smtpd_bdat_finish(st, b);
    smtpd_reply(st, "250 2.0.0 Ok: %zu bytes", count);
    return SMTPD_R_OK;
}
