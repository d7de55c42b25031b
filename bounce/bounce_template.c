/*
 * bounce_template.c - bounce_template_file: the administrator's wording of
 *                     notices (Postfix's bounce(5) format)
 *
 * Used by: bounce_main.c (bounce_template_load() before the chroot),
 *          bounce_service.c (bounce_template_get()), bounce_dsn.c (the text).
 * Interface: see bounce.h.
 * Errors: a file that cannot be read, or a template that does not parse, is
 *         logged as "file:line: what" and leaves the built-in wording for
 *         that template (notices are never lost over it).
 * Notes: the file holds NAME = <<TOKEN ... TOKEN blocks for
 *        failure_template, delay_template, success_template and
 *        verify_template; # comments and blank lines between them. A
 *        template starts with headers (Charset:, From:, Subject:,
 *        Postmaster-Subject:), then an empty line, then the text. $name and
 *        ${name} in the text take main.cf values when the notice is made;
 *        delay_warning_time, maximal_queue_lifetime and
 *        bounce_queue_lifetime also exist as NAME_seconds, _minutes,
 *        _hours, _days and _weeks.
 */
#include "bounce.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "sbuf.h"
#include <ctype.h>
#include <strings.h>

static struct bounce_template bounce_templates[4];     /* by enum bounce_kind order below */

static int bounce_template_index(const char *name)
{
    static const char *const names[] = { "failure_template", "delay_template",
                                         "success_template", "verify_template" };
    for (int i = 0; i < 4; i++)
        if (strcmp(name, names[i]) == 0)
            return i;
    return -1;
}

static void bounce_template_clear(struct bounce_template *t)
{
    xfree(t->charset);
    xfree(t->from);
    xfree(t->subject);
    xfree(t->postmaster_subject);
    xfree(t->text);
    memset(t, 0, sizeof(*t));
}

/* Splits a here-document (headers, empty line, text) into t. */
static int bounce_template_parse(struct bounce_template *t, const char *doc, const char *file,
                                 int line)
{
    const char *p = doc;
    int at = line;      /* the NAME = <<TOKEN line; headers follow it */
    while (*p && *p != '\n') {
        at++;
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        const char *colon = memchr(p, ':', n);
        if (colon == NULL) {
            log_warn("%s:%d: template header without a colon: %.*s", file, at, (int)n, p);
            return -1;
        }
        size_t hl = (size_t)(colon - p);
        const char *v = colon + 1;
        while (v < p + n && isspace((unsigned char)*v))
            v++;
        char *value = xstrndup(v, (size_t)(p + n - v));
        char **slot = hl == 7 && strncasecmp(p, "Charset", 7) == 0 ? &t->charset
                      : hl == 4 && strncasecmp(p, "From", 4) == 0 ? &t->from
                      : hl == 7 && strncasecmp(p, "Subject", 7) == 0 ? &t->subject
                      : hl == 18 && strncasecmp(p, "Postmaster-Subject", 18) == 0
                          ? &t->postmaster_subject
                          : NULL;
        if (slot == NULL) {
            log_warn("%s:%d: unknown template header: %.*s", file, at, (int)hl, p);
            xfree(value);
            return -1;
        }
        xfree(*slot);
        *slot = value;
        p += n + (nl ? 1 : 0);
    }
    if (*p != '\n') {
        log_warn("%s:%d: template has no empty line after its headers", file, line);
        return -1;
    }
    t->text = xstrdup(p + 1);
    if (t->charset == NULL)
        t->charset = xstrdup("us-ascii");
    for (const char *c = t->text; *c; c++)
        if ((unsigned char)*c >= 0x80 && strcasecmp(t->charset, "us-ascii") == 0) {
            log_warn("%s:%d: 8-bit text needs a Charset: header other than us-ascii", file,
                     line);
            return -1;
        }
    return 0;
}

void bounce_template_load(const char *path)
{
    if (path == NULL || *path == 0)
        return;
    FILE *fp = fopen(path, "r");
    if (fp == NULL) {
        log_warn("open %s: %m; using the built-in notice texts", path);
        return;
    }
    char buf[4096];
    int lineno = 0;
    while (fgets(buf, sizeof(buf), fp)) {
        lineno++;
        char *s = buf + strspn(buf, " \t");
        s[strcspn(s, "\r\n")] = 0;
        if (*s == 0 || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char *here = eq ? strstr(eq, "<<") : NULL;
        if (eq == NULL || here == NULL) {
            log_warn("%s:%d: expected NAME = <<TOKEN", path, lineno);
            continue;
        }
        char *end = eq;
        while (end > s && isspace((unsigned char)end[-1]))
            end--;
        *end = 0;
        char *token = here + 2 + strspn(here + 2, " \t");
        token[strcspn(token, " \t")] = 0;
        int start = lineno, idx = bounce_template_index(s);
        if (*token == 0) {
            log_warn("%s:%d: no end marker after <<", path, lineno);
            continue;
        }
        char *tok = xstrdup(token), *name = xstrdup(s);
        struct sbuf *doc = sbuf_new(1024);
        bool closed = false;
        while (fgets(buf, sizeof(buf), fp)) {
            lineno++;
            buf[strcspn(buf, "\r\n")] = 0;
            if (strcmp(buf, tok) == 0) {
                closed = true;
                break;
            }
            sbuf_catf(doc, "%s\n", buf);
        }
        if (!closed)
            log_warn("%s:%d: %s: no line \"%s\" ends it", path, start, name, tok);
        else if (idx < 0)
            log_warn("%s:%d: unknown template name \"%s\"", path, start, name);
        else {
            struct bounce_template t = { 0 };
            if (bounce_template_parse(&t, sbuf_str(doc), path, start) == 0) {
                bounce_template_clear(&bounce_templates[idx]);
                bounce_templates[idx] = t;
                bounce_templates[idx].loaded = true;
            } else
                bounce_template_clear(&t);
        }
        xfree(tok);
        xfree(name);
        sbuf_free(doc);
    }
    fclose(fp);
}

const struct bounce_template *bounce_template_get(enum bounce_kind kind)
{
    int i = kind == BOUNCE_KIND_DELAYED     ? 1
            : kind == BOUNCE_KIND_DELIVERED ? 2
            : kind == BOUNCE_KIND_REPORT    ? 3
                                            : 0;
    return bounce_templates[i].loaded ? &bounce_templates[i] : NULL;
}

/* The value of $name in a template: a time parameter in another unit, a
 * main.cf parameter, or NULL (left as written). */
static bool bounce_template_var(const char *name, struct sbuf *out)
{
    static const char *const times[] = { "delay_warning_time", "maximal_queue_lifetime",
                                         "bounce_queue_lifetime" };
    static const struct {
        const char *suffix;
        long secs;
    } units[] = { { "_seconds", 1 }, { "_minutes", 60 }, { "_hours", 3600 },
                  { "_days", 86400 }, { "_weeks", 604800 } };
    for (size_t i = 0; i < sizeof(times) / sizeof(times[0]); i++) {
        size_t tl = strlen(times[i]);
        if (strncmp(name, times[i], tl) != 0)
            continue;
        for (size_t u = 0; u < sizeof(units) / sizeof(units[0]); u++)
            if (strcmp(name + tl, units[u].suffix) == 0) {
                sbuf_printf(out, "%ld", cfg_time(times[i]) / units[u].secs);
                return true;
            }
    }
    if (!config_known(name))
        return false;
    sbuf_set(out, cfg_str(name));
    return true;
}

void bounce_template_expand(struct sbuf *out, const char *text)
{
    struct sbuf *name = sbuf_new(32), *val = sbuf_new(64);
    for (const char *p = text; *p;) {
        if (*p != '$') {
            sbuf_addch(out, *p++);
            continue;
        }
        const char *q = p + 1;
        bool brace = *q == '{';
        q += brace;
        sbuf_reset(name);
        while (isalnum((unsigned char)*q) || *q == '_' || *q == '-')
            sbuf_addch(name, *q++);
        if (sbuf_len(name) == 0 || (brace && *q != '}') || !bounce_template_var(sbuf_str(name), val)) {
            sbuf_addch(out, *p++);      /* not a variable we know: as written */
            continue;
        }
        sbuf_cat(out, sbuf_str(val));
        p = q + brace;
    }
    sbuf_free(name);
    sbuf_free(val);
}
