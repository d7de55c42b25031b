/*
 * cmd_filter.c - rewrite an SMTP client's command line before it is parsed
 *
 * Used by: smtpd (smtpd.c), postscreen (postscreen_smtpd.c).
 * Interface: cmd_filter_new(), cmd_filter_apply(), cmd_filter_free().
 * Errors: see cmd_filter.h.
 * Notes: the log lines show at most 100 bytes of each command.
 */
#include "cmd_filter.h"
#include "alloc.h"
#include "dict.h"
#include "log.h"
#include "maps.h"

struct cmd_filter {
    char *param;
    struct maps *maps;
};

struct cmd_filter *cmd_filter_new(const char *param, const char *value)
{
    if (value == NULL || *value == 0)
        return NULL;
    struct cmd_filter *f = xcalloc(1, sizeof(*f));
    f->param = xstrdup(param);
    f->maps = maps_create(param, value, DICT_F_FOLD);
    return f;
}

int cmd_filter_apply(const struct cmd_filter *f, const char *client, const char *line,
                     struct sbuf *out)
{
    const char *cmd = line + strspn(line, " \t");
    const char *v = maps_find(f->maps, cmd, 0);
    if (v) {
        log_info("%s: replacing command \"%.100s\" with \"%.100s\"", client, cmd, v);
        sbuf_set(out, v);
        return 1;
    }
    if (maps_error(f->maps) != DICT_ERR_NONE) {
        log_warn("%s: %s lookup error for \"%.100s\"", client, f->param, cmd);
        return -1;
    }
    return 0;
}

void cmd_filter_free(struct cmd_filter *f)
{
    if (f == NULL)
        return;
    maps_free(f->maps);
    xfree(f->param);
    xfree(f);
}
