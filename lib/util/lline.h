/*
 * lline.h - the one logical-line reader: main.cf, master.cf, table sources
 *
 * Used by: config.c (main.cf), mastercf.c (master.cf), dict.c (postmap,
 *          postalias and the regexp/pcre/cidr/mysql source files).
 * Interface: lline_open(), lline_next(), lline_errors(), lline_close().
 * Errors: a logical line longer than the reader's limit, and (unless
 *         LLINE_F_LEAD_OK) a first line that starts with white space, are
 *         logged once as "PATH:LINE: what" and skipped; lline_errors() counts
 *         them. A read error ends the file (lline_next() returns -1).
 * Notes: a physical line that starts with white space continues the logical
 *        line above it; empty lines and lines whose first non-blank is '#'
 *        are skipped and end nothing. Trailing CR/LF is removed. The logical
 *        line is returned without leading or trailing white space. Joining:
 *        LLINE_F_JOIN_SPACE puts one space between the pieces (main.cf,
 *        master.cf); otherwise a continuation keeps its own leading white
 *        space (table sources, where it may be part of a value).
 */
#ifndef POSTERN_LLINE_H
#define POSTERN_LLINE_H
#include "sys_compat.h"

struct sbuf;
struct lline_reader;

#define LLINE_F_JOIN_SPACE 0x1  /* join pieces with one space */
#define LLINE_F_LEAD_OK 0x2     /* a stray indented first line is a line, not an error */

/* Wraps an open stream (not closed by lline_close()); path names the file in
 * messages (copied); max is the longest logical line accepted, in bytes.
 * Returns new. */
struct lline_reader *lline_open(FILE *fp, const char *path, size_t max, int flags);
/* Fills line with the next logical line and *lineno with the number of its
 * first physical line. Returns 1, 0 at end of file, -1 on a read error
 * (logged). */
int lline_next(struct lline_reader *r, struct sbuf *line, int *lineno);
/* Number of lines skipped with an error so far. */
int lline_errors(const struct lline_reader *r);
void lline_close(struct lline_reader *r);

#endif
