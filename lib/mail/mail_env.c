/*
 * mail_env.c - the process environment a Postern program runs with
 *
 * Interface: see mail_env.h.
 */
#include "mail_env.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "params.h"
#include "sbuf.h"
#include <ctype.h>

char **mail_env_list(const char *value)
{
    char **list = cfg_list(value);

    for (char **p = list; *p; p++) {
        char *s = *p;
        size_t len = strlen(s);

        if (len < 2 || s[0] != '{' || s[len - 1] != '}')
            continue;
        const char *start = s + 1, *end = s + len - 1;
        while (start < end && isspace((unsigned char) *start))
            start++;
        while (end > start && isspace((unsigned char) end[-1]))
            end--;
        /* "{ NAME = value }": the space around '=' is layout, as in a
         * master.cf "-o { name = value }". */
        char *inner = xstrndup(start, (size_t) (end - start));
        *p = config_norm_assign(inner);
        xfree(inner);
        xfree(s);
    }
    return list;
}

/* A non-empty name of printable characters without blanks before any '='. */
static bool mail_env_item_ok(const char *item)
{
    size_t n = strcspn(item, "=");

    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char) item[i]) || !isprint((unsigned char) item[i]))
            return false;
    return true;
}

/* The usable items of the list in param; the rest is warned about. */
static char **mail_env_items(const char *param)
{
    char **list = mail_env_list(cfg_str(param));
    size_t keep = 0;

    for (size_t i = 0; list[i]; i++) {
        if (mail_env_item_ok(list[i])) {
            list[keep++] = list[i];
        } else {
            log_warn("%s: ignoring \"%s\": not NAME or NAME=value", param, list[i]);
            xfree(list[i]);
        }
    }
    list[keep] = NULL;
    return list;
}

char **mail_env_resolve(const char *param)
{
    char **items = mail_env_items(param);
    size_t keep = 0;

    for (size_t i = 0; items[i]; i++) {
        const char *v;

        if (strchr(items[i], '=')) {
            items[keep++] = items[i];
        } else if ((v = getenv(items[i])) != NULL) {
            struct sbuf *b = sbuf_new(64);

            sbuf_printf(b, "%s=%s", items[i], v);
            xfree(items[i]);
            items[keep++] = sbuf_detach(b);
        } else {
            xfree(items[i]);        /* listed, but not set */
        }
    }
    items[keep] = NULL;
    return items;
}

void mail_env_import(void)
{
    char **keep = mail_env_resolve(P_IMPORT_ENVIRONMENT);

    clearenv();
    for (char **p = keep; *p; p++) {
        char *eq = strchr(*p, '=');

        *eq = 0;
        if (setenv(*p, eq + 1, 1) < 0)
            log_fatal("setenv %s: %m", *p);
    }
    cfg_list_free(keep);
}

void mail_env_update(void)
{
    char **items = mail_env_items(P_IMPORT_ENVIRONMENT);

    for (char **p = items; *p; p++) {
        char *eq = strchr(*p, '=');

        if (eq == NULL)
            continue;
        *eq = 0;
        if (setenv(*p, eq + 1, 1) < 0)
            log_fatal("setenv %s: %m", *p);
    }
    cfg_list_free(items);
}
