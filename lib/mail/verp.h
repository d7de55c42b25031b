/*
 * verp.h - variable envelope return paths
 *
 * Used by: cmd/sendmail, smtpd, qmgr, bounce.
 * Interface: verp_delims_check(), verp_sender().
 * Errors: verp_delims_check() says what is wrong with a delimiter pair.
 * Notes: a message submitted with VERP carries its two delimiters in its
 *        queue file (REC_VERP). Each recipient is then delivered on its own,
 *        with the recipient folded into the envelope sender: sender
 *        owner@origin, recipient user@domain and delimiters "+=" give
 *        owner+user=domain@origin. Which delimiters may be asked for is
 *        verp_delimiter_filter's business (checked where a client asks).
 */
#ifndef POSTERN_VERP_H
#define POSTERN_VERP_H
#include "sys_compat.h"
#include "sbuf.h"

/* NULL when delims is two characters, both in filter; else what is wrong. */
const char *verp_delims_check(const char *delims, const char *filter);

/* out = sender with recipient folded in (see above). An empty sender stays
 * empty: there is nobody to return mail to. delims must be two characters. */
void verp_sender(struct sbuf *out, const char *delims, const char *sender, const char *recipient);

#endif
