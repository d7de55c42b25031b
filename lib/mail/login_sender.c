/*
 * login_sender.c - match an envelope sender against a login's patterns
 *
 * Used by: cmd/postdrop.
 * Interface: see login_sender.h.
 * Errors: -1 on a lookup error; nothing is logged here (maps logs).
 * Notes: the sender is compared in external form ("a b"@x quoted), with
 *        the extension cut from the unquoted local part first, so a
 *        pattern "joe@example.com" admits joe+list@example.com.
 */
#include "login_sender.h"
#include "addr.h"
#include "alloc.h"
#include "dict.h"
#include "sbuf.h"
#include <strings.h>

/* The sender without its extension, in external form. */
static void login_sender_base(struct sbuf *out, const char *sender, const char *delims)
{
    const char *at = strrchr(sender, '@');
    size_t lplen = at ? (size_t)(at - sender) : strlen(sender);
    size_t base = maps_ext_split(sender, lplen, delims);
    struct sbuf *bare = sbuf_new(64);
    sbuf_append(bare, sender, base);
    if (at)
        sbuf_cat(bare, at);
    addr_quote(out, sbuf_str(bare));
    sbuf_free(bare);
}

/* Length of the pattern at p: up to white space or a comma that is not
 * inside a quoted local part ("first last"@example.com is one pattern). */
static size_t login_sender_token(const char *p)
{
    bool quoted = false;
    size_t n = 0;
    for (; p[n] && (quoted || strchr(" \t,", p[n]) == NULL); n++) {
        if (p[n] == '"')
            quoted = !quoted;
        else if (p[n] == '\\' && p[n + 1])
            n++;
    }
    return n;
}

int login_sender_match(struct maps *m, const char *login, const char *sender, const char *delims,
                       const char *null_key)
{
    const char *v = maps_find(m, login, 0);
    if (v == NULL)
        return maps_error(m) != DICT_ERR_NONE ? -1 : 0;
    char *patterns = xstrdup(v);
    struct sbuf *base = NULL;
    const char *at = strrchr(sender, '@');
    int found = 0;
    for (char *p = patterns; !found && *p;) {
        p += strspn(p, " \t,");
        size_t n = login_sender_token(p);
        if (n == 0)
            break;
        char save = p[n];
        p[n] = 0;
        if (*p == '@')
            found = at != NULL && strcasecmp(p, at) == 0;
        else if (strcmp(p, "*") == 0)
            found = 1;
        else if (null_key && *null_key && strcasecmp(p, null_key) == 0)
            found = *sender == 0;
        else if (*sender) {
            if (base == NULL) {
                base = sbuf_new(64);
                login_sender_base(base, sender, delims);
            }
            found = strcasecmp(p, sbuf_str(base)) == 0;
        }
        p[n] = save;
        p += n;
    }
    sbuf_free(base);
    xfree(patterns);
    return found;
}
