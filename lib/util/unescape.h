/*
 * unescape.h - C-like escapes in configuration values
 *
 * Used by: pipe (eol=), char_filter.c (the *_expansion_filter values), cleanup
 *          (message_reject_characters, message_strip_characters).
 * Interface: unescape().
 * Errors: none; a backslash before any other character stands for that
 *         character, a trailing backslash for itself.
 * Notes: Postfix's escapes: \a \b \f \n \r \t \v \\ and \ddd (one to three
 *        octal digits). The result may hold NUL bytes: use its length.
 */
#ifndef POSTERN_UNESCAPE_H
#define POSTERN_UNESCAPE_H
#include "sbuf.h"

/* Replaces out with s, escapes decoded. */
void unescape(struct sbuf *out, const char *s);

#endif
