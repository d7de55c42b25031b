/*
 * lline.c - the one logical-line reader: main.cf, master.cf, table sources
 *
 * Used by: config.c, mastercf.c, dict.c.
 * Interface: see lline.h.
 * Errors: over-long and (by default) stray indented lines are logged as
 *         "PATH:LINE: what", counted, and skipped.
 * Notes: one physical line is read ahead: a logical line ends only when the
 *        next non-comment line does not start with white space. Postfix's
 *        util/readlline.c is the model (the idea, not the code).
 */
#include "lline.h"

#include <ctype.h>

#include "alloc.h"
#include "log.h"
#include "sbuf.h"

struct lline_reader {
    FILE *fp;
    char *path;
    size_t max;
    int flags;
    int lineno;             /* physical lines read so far */
    int errors;
    char *buf;              /* getline(3) buffer */
    size_t cap;
    ssize_t len;            /* length of the line in buf, -1 = none held */
    int buf_lineno;
    bool eof;
};

struct lline_reader *lline_open(FILE *fp, const char *path, size_t max, int flags)
{
    struct lline_reader *r = xcalloc(1, sizeof(*r));

    r->fp = fp;
    r->path = xstrdup(path);
    r->max = max;
    r->flags = flags;
    r->len = -1;
    return r;
}

/* Reads the next physical line that is not blank or a comment into r->buf.
 * Returns 1, 0 at end, -1 on error. */
static int lline_physical(struct lline_reader *r)
{
    for (;;) {
        ssize_t n = getline(&r->buf, &r->cap, r->fp);

        if (n < 0) {
            r->len = -1;
            if (ferror(r->fp)) {
                log_warn("%s: read error: %m", r->path);
                return -1;
            }
            return 0;
        }
        r->lineno++;
        while (n > 0 && (r->buf[n - 1] == '\n' || r->buf[n - 1] == '\r'))
            r->buf[--n] = 0;
        const char *p = r->buf;

        while (isspace((unsigned char) *p))
            p++;
        if (*p == 0 || *p == '#')
            continue;
        r->len = n;
        r->buf_lineno = r->lineno;
        return 1;
    }
}

static void lline_strip(struct sbuf *line)
{
    const char *s = sbuf_str(line);
    size_t skip = 0;

    sbuf_trim(line);
    while (isspace((unsigned char) s[skip]))
        skip++;
    if (skip > 0) {
        char *copy = xstrdup(s + skip);

        sbuf_set(line, copy);
        xfree(copy);
    }
}

int lline_next(struct lline_reader *r, struct sbuf *line, int *lineno)
{
    int rc;

    for (;;) {
        if (r->len < 0) {
            if (r->eof)
                return 0;
            if ((rc = lline_physical(r)) <= 0) {
                r->eof = true;
                return rc;
            }
        }
        /* r->buf holds the first physical line of a logical line. */
        *lineno = r->buf_lineno;
        bool stray = isspace((unsigned char) r->buf[0]) && !(r->flags & LLINE_F_LEAD_OK);
        bool too_long = (size_t) r->len > r->max;

        sbuf_reset(line);
        if (!too_long)
            sbuf_append(line, r->buf, (size_t) r->len);
        while ((rc = lline_physical(r)) > 0 && isspace((unsigned char) r->buf[0])) {
            const char *p = r->buf;

            if (r->flags & LLINE_F_JOIN_SPACE) {
                while (isspace((unsigned char) *p))
                    p++;
            }
            size_t plen = (size_t) r->len - (size_t) (p - r->buf);

            if (too_long || sbuf_len(line) + plen + 1 > r->max) {
                too_long = true;
                continue;
            }
            if (r->flags & LLINE_F_JOIN_SPACE) {
                sbuf_trim(line);
                sbuf_addch(line, ' ');
            }
            sbuf_append(line, p, plen);
        }
        if (rc < 0)
            r->eof = true;
        else if (rc == 0)
            r->eof = true;
        if (stray) {
            log_warn("%s:%d: logical line must not start with white space: \"%.100s\"",
                     r->path, *lineno, sbuf_str(line));
            r->errors++;
            continue;
        }
        if (too_long) {
            log_warn("%s:%d: logical line longer than %zu bytes; skipped", r->path, *lineno,
                     r->max);
            r->errors++;
            continue;
        }
        lline_strip(line);
        return 1;
    }
}

int lline_errors(const struct lline_reader *r)
{
    return r->errors;
}

void lline_close(struct lline_reader *r)
{
    if (r == NULL)
        return;
    free(r->buf);           /* from getline(3) */
    xfree(r->path);
    xfree(r);
}
