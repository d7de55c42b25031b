/*
 * sendmail_msg.c - reading the message text from standard input
 *
 * Used by: sendmail.c (normal submission), sendmail_smtp.c (commands and
 *          DATA); tests/unit/sendmail_args_test.c.
 * Interface: sm_input_init(), sm_input_piece(), sm_input_pending(),
 *            sendmail_copy_message().
 * Errors: read errors and timeouts return -1 (errno kept).
 * Notes: lines have no length limit: a long line is passed on in pieces
 *        of QFILE_LINE_CHUNK bytes as L records ending with an N record.
 *        A CR directly before LF is removed (CR LF input) or kept, as
 *        sendmail_fix_line_endings says (sm_crlf_mode()); the SMTP mode
 *        always removes it. Other CRs are kept. A last line without LF
 *        still counts as a line.
 */
#include "qfile.h"
#include "sendmail.h"
#include <poll.h>

void sm_input_init(struct sm_input *in, int fd, int timeout)
{
    in->fd = fd;
    in->timeout = timeout;
    in->crlf = SM_CRLF_STRIP;
    in->pos = in->len = 0;
    in->eof = in->error = false;
}

int sm_crlf_mode(const char *value)
{
    if (strcmp(value, "always") == 0)
        return SM_CRLF_STRIP;
    if (strcmp(value, "strict") == 0)
        return SM_CRLF_FIRST;
    if (strcmp(value, "never") == 0)
        return SM_CRLF_KEEP;
    return -1;
}

/* At a line end: true when the CR before its LF (crlf says whether there
 * is one) is to be removed. "strict" is settled by the first line end. */
static bool sm_input_strip_cr(struct sm_input *in, bool crlf)
{
    if (in->crlf == SM_CRLF_FIRST)
        in->crlf = crlf ? SM_CRLF_STRIP : SM_CRLF_KEEP;
    return crlf && in->crlf == SM_CRLF_STRIP;
}

bool sm_input_pending(const struct sm_input *in)
{
    return in->pos < in->len;
}

/* Makes at least n bytes available (fewer only at EOF/error). */
static size_t sm_input_fill(struct sm_input *in, size_t n)
{
    while (in->len - in->pos < n && !in->eof && !in->error) {
        if (in->pos > 0) {
            memmove(in->buf, in->buf + in->pos, in->len - in->pos);
            in->len -= in->pos;
            in->pos = 0;
        }
        if (in->timeout > 0) {
            struct pollfd pfd = { .fd = in->fd, .events = POLLIN };
            int r = poll(&pfd, 1, in->timeout * 1000);
            if (r < 0 && errno == EINTR)
                continue;
            if (r == 0)
                errno = ETIMEDOUT;
            if (r <= 0) {
                in->error = true;
                break;
            }
        }
        ssize_t got = read(in->fd, in->buf + in->len, sizeof(in->buf) - in->len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            in->error = true;
        else if (got == 0)
            in->eof = true;
        else
            in->len += (size_t)got;
    }
    return in->len - in->pos;
}

int sm_input_piece(struct sm_input *in, struct sbuf *out, size_t max, bool *eol)
{
    sbuf_reset(out);
    *eol = false;
    for (;;) {
        size_t avail = sm_input_fill(in, 1);
        if (avail == 0) {
            if (in->error)
                return -1;
            /* EOF: a partial last line is still a line. */
            if (sbuf_len(out) > 0) {
                *eol = true;
                return 1;
            }
            return 0;
        }
        const char *p = in->buf + in->pos;
        size_t room = max - sbuf_len(out);
        size_t scan = avail < room ? avail : room;
        const char *lf = memchr(p, '\n', scan);
        if (lf) {
            size_t n = (size_t)(lf - p);
            sbuf_append(out, p, n);
            in->pos += n + 1;
            bool cr = sbuf_len(out) > 0 && sbuf_str(out)[sbuf_len(out) - 1] == '\r';
            if (sm_input_strip_cr(in, cr))
                sbuf_truncate(out, sbuf_len(out) - 1);
            *eol = true;
            return 1;
        }
        sbuf_append(out, p, scan);
        in->pos += scan;
        if (sbuf_len(out) < max)
            continue;
        /* The piece is full: does its line end right here? */
        avail = sm_input_fill(in, 2);
        p = in->buf + in->pos;
        if (avail >= 1 && p[0] == '\n') {
            in->pos += 1;
            *eol = true;
            /* The CR of a CR LF pair was the piece's last byte. */
            if (sm_input_strip_cr(in, sbuf_str(out)[sbuf_len(out) - 1] == '\r'))
                sbuf_truncate(out, sbuf_len(out) - 1);
        } else if (avail >= 2 && p[0] == '\r' && p[1] == '\n') {
            /* A kept CR does not fit: it starts the next piece, which
             * ends the line. */
            if (sm_input_strip_cr(in, true)) {
                in->pos += 2;
                *eol = true;
            }
        } else if (avail == 0 && !in->error) {
            *eol = true;        /* EOF right after a full piece */
        }
        return 1;
    }
}

int sendmail_copy_message(struct sm_input *in, bool dot_ends, sendmail_rec_fn fn, void *ctx)
{
    struct sbuf *piece = sbuf_new(QFILE_LINE_CHUNK + 1);
    bool line_start = true, first_line = true, skipping = false;
    bool eol;
    int r, result = 0;

    while ((r = sm_input_piece(in, piece, QFILE_LINE_CHUNK, &eol)) > 0) {
        const char *s = sbuf_str(piece);
        size_t n = sbuf_len(piece);
        if (line_start) {
            /* A mbox-style envelope line is not part of the message. */
            skipping = first_line && n >= 5 && memcmp(s, "From ", 5) == 0;
            first_line = false;
            if (dot_ends && eol && n == 1 && s[0] == '.')
                break;
        }
        line_start = eol;
        if (skipping)
            continue;
        if (fn(ctx, eol ? REC_NORM : REC_CONT, s, n) < 0) {
            result = -2;
            break;
        }
    }
    if (r < 0)
        result = -1;
    sbuf_free(piece);
    return result;
}
