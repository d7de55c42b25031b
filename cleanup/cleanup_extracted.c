/*
 * cleanup_extracted.c - the end of a message: the client's extracted
 *                       segment, then the extracted segment we write
 *
 * Used by: cleanup_main.c, through state->action (set by cleanup_message
 *          at X); cleanup_drain after a protocol error.
 * Interface: cleanup_extracted(), cleanup_extracted_end(), cleanup_drain(),
 *            cleanup_protocol_error().
 * Errors: write errors set CLEANUP_STAT_WRITE; a message that ends without
 *         any recipient gets CLEANUP_STAT_RCPT.
 * Notes: written after X: the -t and bcc recipients (sender_bcc_maps,
 *        always_bcc, recipient_bcc_maps, BCC actions), the REDIRECT of a
 *        header/body check (the recipients already in the envelope are
 *        marked done), the FILTER of a check (an L record here overrides
 *        one in the envelope, as qenv_load() reads the last), E, and last
 *        the real numbers in the C record.
 */
#include "cleanup.h"
#include "cleanup_proto.h"
#include "log.h"
#include "qfile.h"

void cleanup_protocol_error(struct cleanup_state *st, int type, const char *where)
{
    log_warn("%s: unexpected record type %d %s", st->queue_id, type, where);
    cleanup_fail(st, CLEANUP_STAT_BAD, "4.3.0 internal protocol error");
    st->action = cleanup_drain;
}

void cleanup_drain(struct cleanup_state *st, int type, const char *data, size_t len)
{
    (void)data;
    (void)len;
    if (type == REC_END)
        st->end = true;
}

void cleanup_extracted_end(struct cleanup_state *st)
{
    size_t i = 0;
    for (; i < st->extra_rcpts.n && cleanup_keep_writing(st); i++)
        cleanup_recipient(st, &st->extra_rcpts.v[i]);
    if (st->hbc_redirect && cleanup_keep_writing(st)) {
        cleanup_check_redirect(st);
        /* recipient_bcc_maps of the redirect address add to the list. */
        for (; i < st->extra_rcpts.n && cleanup_keep_writing(st); i++)
            cleanup_recipient(st, &st->extra_rcpts.v[i]);
    }
    if (st->hbc_filter && cleanup_keep_writing(st) &&
        qfile_puts(st->w, REC_FILTER, st->hbc_filter) < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
    if (!st->errs && st->rcpt_count == 0 && !(st->flags & CLEANUP_FLAG_DISCARD))
        cleanup_fail(st, CLEANUP_STAT_RCPT, "5.1.0 no recipients specified");
    if (cleanup_keep_writing(st) && qfile_put(st->w, REC_END, "", 0) < 0)
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
    if (cleanup_keep_writing(st)) {
        struct qfile_size sz = {
            .content_size = (long)(st->xtra_offset - st->data_offset),
            .data_offset = (long)(st->dkim_offset ? st->dkim_offset : st->data_offset),
            .rcpt_count = st->rcpt_count,
            .content_length = st->content_bytes,
        };
        if (qfile_writer_set_size(st->w, &sz) < 0)
            cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
    }
    st->end = true;
}

void cleanup_extracted(struct cleanup_state *st, int type, const char *data, size_t len)
{
    (void)len;
    if (type == REC_END)
        cleanup_extracted_end(st);
    else if (type == CLEANUP_REC_FLAGS)     /* smtpd end-of-data HOLD/DISCARD */
        st->flags |= (int)strtol(data, NULL, 10) & (CLEANUP_FLAG_HOLD | CLEANUP_FLAG_DISCARD);
    else if (type == CLEANUP_REC_REJECT) {  /* pickup: a milter rejected the message */
        log_info("%s: milter-reject: END-OF-MESSAGE: %.300s", st->queue_id, data);
        cleanup_fail(st, CLEANUP_STAT_CONT, strlen(data) > 4 ? data + 4 : "5.7.1 rejected");
    }
    else
        cleanup_rcpt_record(st, &st->extra_rcpts, type, data);
}
