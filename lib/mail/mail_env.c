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
        const char *eq = memchr(start, '=', (size_t) (end - start));
        if (eq == NULL) {
            *p = xstrndup(start, (size_t) (end - start));
        } else {
            const char *name_end = eq, *val = eq + 1;
            while (name_end > start && isspace((unsigned char) name_end[-1]))
                name_end--;
            while (val < end && isspace((unsigned char) *val))
                val++;
            size_t nlen = (size_t) (name_end - start), vlen = (size_t) (end - val);
            *p = xmalloc(nlen + 1 + vlen + 1);
            memcpy(*p, start, nlen);
            (*p)[nlen] = '=';
            memcpy(*p + nlen + 1, val, vlen);
            (*p)[nlen + 1 + vlen] = 0;
        }
        xfree(s);
    }
    return list;
}

bool mail_env_item_ok(const char *item)
{
    const char *eq = strchr(item, '=');
    size_t n = eq ? (size_t) (eq - item) : strlen(item);

    if (n == 0)
        return false;
    for (size_t i = 0; i < n; i++)
        if (isspace((unsigned char) item[i]) || !isprint((unsigned char) item[i]))
            return false;
    return true;
}

/* The items of $import_environment that can be used; the rest is warned
 * about once per call. */
static char **mail_env_items(void)
{
    char **list = mail_env_list(cfg_str(P_IMPORT_ENVIRONMENT));
    size_t keep = 0;

    for (size_t i = 0; list[i]; i++) {
        if (mail_env_item_ok(list[i])) {
            list[keep++] = list[i];
        } else {
            log_warn("%s: ignoring \"%s\": not NAME or NAME=value", P_IMPORT_ENVIRONMENT, list[i]);
            xfree(list[i]);
        }
    }
    list[keep] = NULL;
    return list;
}

void mail_env_import(void)
{
    char **items = mail_env_items();
    size_t n = 0;

    for (char **p = items; *p; p++)
        n++;
    /* NAME=value strings to put back, taken before the environment goes. */
    char **keep = xcalloc(n + 1, sizeof(*keep));
    size_t k = 0;

    for (char **p = items; *p; p++) {
        if (strchr(*p, '=')) {
            keep[k++] = xstrdup(*p);
        } else {
            const char *v = getenv(*p);

            if (v) {
                size_t len = strlen(*p) + 1 + strlen(v) + 1;
                keep[k] = xmalloc(len);
                snprintf(keep[k++], len, "%s=%s", *p, v);
            }
        }
    }
    clearenv();
    for (size_t i = 0; i < k; i++) {
        char *eq = strchr(keep[i], '=');

        *eq = 0;
        if (setenv(keep[i], eq + 1, 1) < 0)
            log_fatal("setenv %s: %m", keep[i]);
        xfree(keep[i]);
    }
    xfree(keep);
    cfg_list_free(items);
}

void mail_env_update(void)
{
    char **items = mail_env_items();

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
