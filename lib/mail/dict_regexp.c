/*
 * dict_regexp.c - regexp: tables (POSIX regular expressions)
 *
 * Used by: dict.c (type table); header_checks, access and alias maps.
 * Interface: dict_type_regexp.
 * Errors: an unreadable file fails the open; bad rules are logged
 *         "file:line: what" and skipped (see dict_pattern.c).
 * Notes: flags after the closing delimiter toggle: i (case-insensitive,
 *        on by default), x (extended syntax, on by default), m (newline
 *        sensitive, off by default). The source file is read directly;
 *        postmap does not build it.
 */
#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "log.h"

#include <regex.h>

static void *regexp_compile(const char *pattern, const char *flags, struct sbuf *err,
                            int *nsub)
{
    int cflags = REG_EXTENDED | REG_ICASE;

    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'i':
            cflags ^= REG_ICASE;
            break;
        case 'x':
            cflags ^= REG_EXTENDED;
            break;
        case 'm':
            cflags ^= REG_NEWLINE;
            break;
        default:
            sbuf_printf(err, "unknown regexp option \"%c\"", *f);
            return NULL;
        }
    }
    regex_t *re = xmalloc(sizeof(*re));
    int rc = regcomp(re, pattern, cflags);
    if (rc != 0) {
        char msg[256];
        regerror(rc, re, msg, sizeof(msg));
        sbuf_printf(err, "regexp \"%s\": %s", pattern, msg);
        xfree(re);
        return NULL;
    }
    *nsub = (int)re->re_nsub;
    return re;
}

static int regexp_match(void *re, const char *subject, struct dict_pat_match *m)
{
    regmatch_t pm[DICT_PAT_NSUB];
    int rc = regexec(re, subject, DICT_PAT_NSUB, pm, 0);

    if (rc == REG_NOMATCH)
        return 0;
    if (rc != 0) {
        log_warn("regexp: regexec failed (%d)", rc);
        return -1;
    }
    for (int i = 0; i < DICT_PAT_NSUB; i++) {
        m->so[i] = (int)pm[i].rm_so;
        m->eo[i] = (int)pm[i].rm_eo;
    }
    return 1;
}

static void regexp_free(void *re)
{
    regfree(re);
    xfree(re);
}

static const struct dict_pat_engine regexp_engine = {
    "regexp", regexp_compile, regexp_match, regexp_free,
};

static int dict_regexp_open(struct dict *d, const char *name)
{
    d->impl = dict_pattern_load(name, &regexp_engine);
    if (d->impl == NULL) {
        log_warn("%s: cannot read the table file", d->spec);
        return -1;
    }
    return 0;
}

static const char *dict_regexp_lookup(struct dict *d, const char *key)
{
    return dict_pattern_lookup(d->impl, key, d->result) == 1 ? sbuf_str(d->result) : NULL;
}

static void dict_regexp_close(struct dict *d)
{
    dict_pattern_free(d->impl);
}

const struct dict_type dict_type_regexp = {
    "regexp", DICT_F_PATTERN, dict_regexp_open, dict_regexp_lookup, NULL, dict_regexp_close,
};
