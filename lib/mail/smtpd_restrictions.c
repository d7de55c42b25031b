/*
 * smtpd_restrictions.c - restriction names smtpd would not know, found
 *                        before a client meets them
 *
 * Interface: see smtpd_restrictions.h.
 * Notes: smtpd answers "451 4.3.5 Server configuration error" to every
 *        request that reaches a word it does not know, so an administrator
 *        who kept a Postfix main.cf with a restriction Postern lacks would
 *        see mail stop with no word from postfix check. The lists are read
 *        as smtpd reads them (cfg_list of the value in effect): a known
 *        restriction, with its argument when it takes one; warn_if_reject;
 *        a name listed in smtpd_restriction_classes, whose own value is
 *        then checked as a list too; or a bare type:table, which smtpd
 *        reads as the list's own check_*_access (not in the DATA and
 *        end-of-data lists). A value with a $name left in it
 *        (master.cf -o) is expanded only in the daemon: not checked here.
 */
#include "smtpd_restrictions.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "mastercf.h"
#include "params.h"
#include "sbuf.h"
#include <strings.h>

struct sr_name {
    const char *name;
    int takes_arg;
};

#define SR_ROW(name, fn, arg) { name, arg },
static const struct sr_name sr_names[] = { SMTPD_RESTRICTION_LIST(SR_ROW) };
#undef SR_ROW

int smtpd_restriction_takes_arg(const char *name)
{
    for (size_t i = 0; i < sizeof(sr_names) / sizeof(sr_names[0]); i++)
        if (strcasecmp(name, sr_names[i].name) == 0)
            return sr_names[i].takes_arg;
    return -1;
}

/* The parameters smtpd evaluates as restriction lists. */
static const char *const sr_lists[] = {
    P_SMTPD_CLIENT_RESTRICTIONS, P_SMTPD_HELO_RESTRICTIONS,   P_SMTPD_SENDER_RESTRICTIONS,
    P_SMTPD_RELAY_RESTRICTIONS,  P_SMTPD_RECIPIENT_RESTRICTIONS, P_SMTPD_DATA_RESTRICTIONS,
    P_SMTPD_END_OF_DATA_RESTRICTIONS, P_SMTPD_ETRN_RESTRICTIONS, NULL,
};

struct sr_ctx {
    char **classes;                     /* smtpd_restriction_classes in effect */
    const struct mastercf_service *s;   /* NULL: main.cf */
    const char *file;
    int line;
    int bad;
};

static bool sr_is_list(const struct sr_ctx *c, const char *name)
{
    for (const char *const *p = sr_lists; *p; p++)
        if (strcmp(*p, name) == 0)
            return true;
    for (char **p = c->classes; p && *p; p++)
        if (strcmp(*p, name) == 0)
            return true;
    return false;
}

static bool sr_is_class(const struct sr_ctx *c, const char *word)
{
    for (char **p = c->classes; p && *p; p++)
        if (strcmp(*p, word) == 0)
            return true;
    return false;
}

/* The DATA and end-of-data lists have no subject for a bare table; a
 * class may be used in any list, so its bare tables are not judged. */
static bool sr_bare_table_ok(const char *param)
{
    return strcmp(param, P_SMTPD_DATA_RESTRICTIONS) != 0
           && strcmp(param, P_SMTPD_END_OF_DATA_RESTRICTIONS) != 0;
}

static void sr_report(struct sr_ctx *c, const char *param, const char *fmt, const char *word)
{
    struct sbuf *what = sbuf_new(128);

    sbuf_printf(what, fmt, word);
    if (c->s)
        log_warn("%s:%d: service %s: -o %s: %s", c->file, c->line, c->s->name, param,
                 sbuf_str(what));
    else
        log_warn("%s:%d: %s: %s", c->file, c->line, param, sbuf_str(what));
    sbuf_free(what);
    c->bad++;
}

static void sr_check_value(struct sr_ctx *c, const char *param, const char *value)
{
    char **words = cfg_list(value);

    for (char **w = words; *w; w++) {
        int arg = smtpd_restriction_takes_arg(*w);

        if (arg > 0) {
            if (w[1] == NULL) {
                sr_report(c, param, "restriction \"%s\" needs an argument (smtpd answers "
                          "451 4.3.5 to every request that reaches it)", *w);
                break;
            }
            w++;
        } else if (arg < 0 && strchr(*w, ':')) {
            /* A bare table: the list's own access check (older form). */
            if (!sr_bare_table_ok(param))
                sr_report(c, param, "a bare table \"%s\" needs check_client_access, "
                          "check_sender_access or another check_*_access before it in "
                          "this list (smtpd answers 451 4.3.5 where it is reached)", *w);
        } else if (arg < 0 && strcasecmp(*w, "warn_if_reject") != 0 && !sr_is_class(c, *w)) {
            sr_report(c, param, "unknown restriction \"%s\": Postern's smtpd does not know "
                      "it and answers 451 4.3.5 to every request that reaches it", *w);
        }
    }
    cfg_list_free(words);
}

static void sr_main_entry(const struct config_entry *e, void *vctx)
{
    struct sr_ctx *c = vctx;
    const char *file = e->file;
    int line = e->line;

    /* The line in effect only (a name set twice counts once). */
    if (!sr_is_list(c, e->name) || !cfg_in_main_cf(e->name, &file, &line) || line != e->line
        || strcmp(file, e->file) != 0)
        return;
    c->file = file;
    c->line = line;
    sr_check_value(c, e->name, cfg_str(e->name));
}

static void sr_override(const char *name, const char *value, void *vctx)
{
    struct sr_ctx *c = vctx;

    if (strchr(value, '$') || !sr_is_list(c, name))
        return;
    sr_check_value(c, name, value);
}

int smtpd_restrictions_check(const struct mastercf *m)
{
    struct sr_ctx c = { .classes = cfg_list(cfg_str(P_SMTPD_RESTRICTION_CLASSES)) };

    config_foreach(sr_main_entry, &c);
    for (const struct mastercf_service *s = m ? m->head : NULL; s; s = s->next) {
        c.s = s;
        c.file = s->file;
        c.line = s->line;
        mastercf_overrides_quiet(s, sr_override, &c);
    }
    cfg_list_free(c.classes);
    return c.bad;
}
