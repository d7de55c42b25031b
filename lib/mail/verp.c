/*
 * verp.c - variable envelope return paths
 *
 * Used by: cmd/sendmail, smtpd, qmgr, bounce.
 * Interface: see verp.h.
 * Errors: none; verp_delims_check() returns its complaint as text.
 * Notes: the last '@' separates local part and domain, of the sender and
 *        of the recipient alike; an address without one is all local part.
 */
#include "verp.h"

const char *verp_delims_check(const char *delims, const char *filter)
{
    if (strlen(delims) != 2)
        return "VERP needs exactly two delimiter characters";
    for (const char *p = delims; *p; p++)
        if (strchr(filter, *p) == NULL)
            return "VERP delimiter character not in verp_delimiter_filter";
    return NULL;
}

void verp_sender(struct sbuf *out, const char *delims, const char *sender, const char *recipient)
{
    sbuf_reset(out);
    if (*sender == 0)
        return;
    const char *s_at = strrchr(sender, '@');
    const char *r_at = strrchr(recipient, '@');
    size_t s_local = s_at ? (size_t)(s_at - sender) : strlen(sender);
    size_t r_local = r_at ? (size_t)(r_at - recipient) : strlen(recipient);

    sbuf_append(out, sender, s_local);
    sbuf_addch(out, delims[0]);
    sbuf_append(out, recipient, r_local);
    if (r_at && r_at[1]) {
        sbuf_addch(out, delims[1]);
        sbuf_cat(out, r_at + 1);
    }
    if (s_at && s_at[1]) {
        sbuf_addch(out, '@');
        sbuf_cat(out, s_at + 1);
    }
}
