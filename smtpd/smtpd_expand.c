/*
 * smtpd_expand.c - $name templates in smtpd replies (default_rbl_reply,
 *                  rbl_reply_maps, smtpd_reject_footer) and the reply footer
 *
 * Used by: smtpd_dnsbl.c (block list replies), smtpd.c (reject footer).
 * Interface: smtpd_vars_add(), smtpd_expand(), smtpd_footer_init(),
 *            smtpd_footer_apply().
 * Errors: none: an unknown $name expands to nothing, an unbalanced ${...}
 *         drops the rest of the template.
 * Notes: the forms are Postfix's: $name, ${name}, $(name), ${name?text}
 *        (text when name is non-empty), ${name:text} (text when it is
 *        empty) and $$. Every character of an expanded value that is not in
 *        smtpd_expansion_filter becomes "_", so that client-supplied text
 *        (HELO names, DNS TXT records) cannot shape a reply. The footer
 *        (smtpd_reject_footer, or the smtpd_reject_footer_maps entry for the
 *        whole reply text) goes after every 4xx and 5xx reply: "\n" in the
 *        template starts a new reply line with the reply's code and enhanced
 *        status code, a leading "\c" continues the reply's last line.
 */
#include "smtpd.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "maps.h"
#include "unescape.h"
#include <ctype.h>

static struct {
    bool inited;
    bool allowed[256];          /* smtpd_expansion_filter */
    const char *footer;         /* smtpd_reject_footer, raw ("" = none) */
    struct maps *footer_maps;   /* smtpd_reject_footer_maps */
} smtpd_exp;

/* Decodes the C-like escapes of smtpd_expansion_filter into the set. */
static void smtpd_expand_filter_init(const char *spec)
{
    struct sbuf *chars = sbuf_new(64);
    unescape(chars, spec);
    for (size_t i = 0; i < sbuf_len(chars); i++)
        smtpd_exp.allowed[(unsigned char)sbuf_str(chars)[i]] = true;
    sbuf_free(chars);
}

static void smtpd_expand_init(void)
{
    if (smtpd_exp.inited)
        return;
    smtpd_exp.inited = true;
    smtpd_expand_filter_init(cfg_raw(P_SMTPD_EXPANSION_FILTER));
}

void smtpd_footer_init(void)
{
    smtpd_expand_init();
    smtpd_exp.footer = cfg_raw(P_SMTPD_REJECT_FOOTER);
    const char *m = cfg_str(P_SMTPD_REJECT_FOOTER_MAPS);
    if (*m)
        smtpd_exp.footer_maps = maps_create(P_SMTPD_REJECT_FOOTER_MAPS, m, 0);
}

void smtpd_vars_add(struct smtpd_vars *v, const char *name, const char *value)
{
    if (v->n < ARRAY_LEN(v->names)) {
        v->names[v->n] = name;
        v->values[v->n++] = value ? value : "";
    }
}

static const char *smtpd_vars_find(const struct smtpd_vars *v, const char *name, size_t len)
{
    for (size_t i = 0; i < v->n; i++)
        if (strlen(v->names[i]) == len && strncmp(v->names[i], name, len) == 0)
            return v->values[i];
    return NULL;
}

static void smtpd_expand_value(struct sbuf *out, const char *val)
{
    for (const unsigned char *p = (const unsigned char *)val; *p; p++)
        sbuf_addch(out, smtpd_exp.allowed[*p] ? (char)*p : '_');
}

static void smtpd_expand_span(struct sbuf *out, const char *tmpl, size_t len,
                              const struct smtpd_vars *v, int depth)
{
    const char *p = tmpl, *end = tmpl + len;
    while (p < end) {
        if (*p != '$' || p + 1 >= end) {
            sbuf_addch(out, *p++);
            continue;
        }
        p++;
        if (*p == '$') {
            sbuf_addch(out, *p++);
            continue;
        }
        if (*p == '{' || *p == '(') {
            char open = *p, close = open == '{' ? '}' : ')';
            int level = 1;
            const char *q = p + 1;
            while (q < end && level > 0) {
                if (*q == open)
                    level++;
                else if (*q == close)
                    level--;
                if (level)
                    q++;
            }
            if (q >= end)
                break;          /* unbalanced: drop the rest */
            const char *name = p + 1;
            size_t nl = strcspn(name, "?:})");
            if (name + nl > q)
                nl = (size_t)(q - name);
            const char *val = smtpd_vars_find(v, name, nl);
            bool set = val && *val;
            if (name + nl < q && (name[nl] == '?' || name[nl] == ':')) {
                bool want = name[nl] == '?';
                if (set == want && depth < 5)
                    smtpd_expand_span(out, name + nl + 1, (size_t)(q - name - nl - 1), v,
                                      depth + 1);
            } else if (set)
                smtpd_expand_value(out, val);
            p = q + 1;
            continue;
        }
        size_t nl = 0;
        while (p + nl < end && (isalnum((unsigned char)p[nl]) || p[nl] == '_'))
            nl++;
        const char *val = smtpd_vars_find(v, p, nl);
        if (val)
            smtpd_expand_value(out, val);
        p += nl;
    }
}

void smtpd_expand(struct sbuf *out, const char *tmpl, const struct smtpd_vars *v)
{
    smtpd_expand_init();
    smtpd_expand_span(out, tmpl, strlen(tmpl), v, 0);
}

bool smtpd_footer_apply(struct smtpd_state *st, const char *reply, struct sbuf *out)
{
    const char *tmpl = NULL;
    if (smtpd_exp.footer_maps)
        tmpl = maps_find(smtpd_exp.footer_maps, reply, 0);
    if (tmpl == NULL)
        tmpl = smtpd_exp.footer;
    if (tmpl == NULL || *tmpl == 0 || strlen(reply) < 3)
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

    char port[16], when[32];
    snprintf(port, sizeof(port), "%d", st->port);
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    if (strftime(when, sizeof(when), "%b %e %H:%M:%S", &tm) == 0)
        when[0] = 0;
    struct smtpd_vars v = { .n = 0 };
    smtpd_vars_add(&v, "client_address", st->addr);
    smtpd_vars_add(&v, "client_name", st->name);
    smtpd_vars_add(&v, "client_port", port);
    smtpd_vars_add(&v, "localtime", when);
    smtpd_vars_add(&v, "server_name", smtpd_cfg.myhostname);

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
        smtpd_expand(all, piece, &v);
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
