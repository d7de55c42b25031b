/*
 * reply_footer.c - the reject footer after a server's 4xx and 5xx replies
 *
 * Used by: smtpd (smtpd.c: every reply), postscreen (postscreen.c: every
 *          reply it writes).
 * Interface: reply_footer_new(), reply_footer_apply(), reply_footer_free().
 * Errors: see reply_footer.h.
 * Notes: the enhanced status code is repeated only when the reply has one
 *        ("4.x.y" or "5.x.y" after the code).
 */
#include "reply_footer.h"
#include "alloc.h"
#include "maps.h"
#include <time.h>

struct reply_footer {
    char *footer;                   /* the template ("" = none) */
    struct maps *maps;              /* by reply text; NULL = none */
    const struct reply_expand *x;
};

struct reply_footer *reply_footer_new(const char *footer, const char *maps_name,
                                      const char *maps_value, const struct reply_expand *x)
{
    struct reply_footer *f = xcalloc(1, sizeof(*f));
    f->footer = xstrdup(footer ? footer : "");
    if (maps_value && *maps_value)
        f->maps = maps_create(maps_name, maps_value, 0);
    f->x = x;
    return f;
}

void reply_footer_free(struct reply_footer *f)
{
    if (f == NULL)
        return;
    maps_free(f->maps);
    xfree(f->footer);
    xfree(f);
}

bool reply_footer_apply(const struct reply_footer *f, const char *reply,
                        const struct reply_vars *v, struct sbuf *out)
{
    const char *tmpl = NULL;
    if (f == NULL)
        return false;
    if (f->maps)
        tmpl = maps_find(f->maps, reply, 0);
    if (tmpl == NULL)
        tmpl = f->footer;
    if (*tmpl == 0 || strlen(reply) < 3)
        return false;

    /* The reply's code and enhanced status code, repeated on each line. */
    char code[4];
    memcpy(code, reply, 3);
    code[3] = 0;
    const char *text = reply[3] ? reply + 4 : reply + 3;
    size_t dl = strspn(text, "0123456789.");
    char dsn[16] = "";
    if (dl > 0 && dl < sizeof(dsn) && (text[0] == '4' || text[0] == '5') && text[1] == '.'
        && text[dl] == ' ') {
        memcpy(dsn, text, dl);
        dsn[dl] = 0;
        text += dl + 1;
    }

    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    if (strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm) == 0)
        when[0] = 0;
    struct reply_vars all_vars = *v;
    reply_vars_add(&all_vars, "localtime", when);

    /* Lines of the reply text: the original, then the footer pieces. */
    struct sbuf *all = sbuf_new(256);
    sbuf_cat(all, text);
    const char *p = tmpl;
    if (p[0] == '\\' && p[1] == 'c')
        p += 2;             /* continue the last line */
    else
        sbuf_addch(all, '\n');
    while (*p) {
        const char *nl = strstr(p, "\\n");
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        char *piece = xstrndup(p, n);
        reply_expand(f->x, all, piece, &all_vars);
        xfree(piece);
        p += n;
        if (nl) {
            sbuf_addch(all, '\n');
            p += 2;
        }
    }
    while (sbuf_len(all) > 0 && sbuf_str(all)[sbuf_len(all) - 1] == '\n')
        sbuf_truncate(all, sbuf_len(all) - 1);
    sbuf_reset(out);
    const char *s = sbuf_str(all);
    while (*s) {
        size_t n = strcspn(s, "\n");
        bool last = s[n] == 0;
        sbuf_catf(out, "%s%c%s%s%.*s%s", code, last ? ' ' : '-', dsn, *dsn ? " " : "", (int)n,
                  s, last ? "" : "\n");
        s += n + (last ? 0 : 1);
    }
    sbuf_free(all);
    return true;
}
