/*
 * mail_trust.c - trust checks shared by the set-gid submission commands
 *
 * Used by: postdrop, postqueue (see mail_trust.h).
 * Interface: mail_config_dir_trusted(), mail_user_authorized(), mail_user_anyone(),
 *            mail_sanitize_fds(), mail_sanitize_env().
 * Errors: table problems are returned to the caller, never fatal here.
 * Notes: no logging: the callers word their own diagnostics.
 */
#include "mail_trust.h"
#include "alloc.h"
#include "config.h"
#include "dict.h"
#include "params.h"
#include <fcntl.h>

bool mail_config_dir_trusted(const char *dir)
{
    static const char *const lists[] = { P_ALTERNATE_CONFIG_DIRECTORIES,
                                         P_MULTI_INSTANCE_DIRECTORIES };
    if (strcmp(dir, config_dir()) == 0)
        return true;
    for (size_t i = 0; i < ARRAY_LEN(lists); i++) {
        char **items = cfg_list(cfg_str(lists[i]));
        bool found = false;
        for (char **p = items; p && *p && !found; p++)
            found = strcmp(*p, dir) == 0;
        cfg_list_free(items);
        if (found)
            return true;
    }
    return false;
}

static void mail_trust_set_err(struct mail_trust_err *err, enum mail_trust_err_kind kind,
                               const char *item)
{
    if (err == NULL)
        return;
    err->kind = kind;
    strlcpy(err->item, item, sizeof(err->item));
}

int mail_user_authorized(const char *param, const char *user, struct mail_trust_err *err)
{
    char **items = cfg_list(cfg_str(param));
    int result = 0;
    bool decided = false;
    mail_trust_set_err(err, MAIL_TRUST_ERR_NONE, "");
    for (char **p = items; p && *p && !decided; p++) {
        const char *item = *p;
        bool neg = false, match;
        while (*item == '!') {
            neg = !neg;
            item++;
        }
        if (strcmp(item, "static:anyone") == 0 || strcmp(item, "static:all") == 0) {
            match = true;
        } else if (strchr(item, ':')) {
            struct dict *d = dict_open(item, DICT_F_FOLD);
            if (d == NULL) {
                mail_trust_set_err(err, MAIL_TRUST_ERR_OPEN, item);
                result = -1;
                break;
            }
            match = dict_lookup(d, user) != NULL;
            bool failed = !match && dict_error(d);
            dict_close(d);
            if (failed) {
                mail_trust_set_err(err, MAIL_TRUST_ERR_LOOKUP, item);
                result = -1;
                break;
            }
        } else {
            match = strcmp(item, user) == 0;
        }
        if (match) {
            decided = true;
            result = neg ? 0 : 1;
        }
    }
    cfg_list_free(items);
    return result;
}

bool mail_user_anyone(const char *param)
{
    char **items = cfg_list(cfg_str(param));
    bool anyone = items && items[0]
                  && (strcmp(items[0], "static:anyone") == 0 || strcmp(items[0], "static:all") == 0);
    cfg_list_free(items);
    return anyone;
}

int mail_sanitize_fds(void)
{
    int status = 0;
    /* Lower descriptors are open by the time fd is examined, so open()
     * normally returns fd itself. */
    for (int fd = 0; fd < 3; fd++) {
        if (fcntl(fd, F_GETFD) < 0) {
            int n = open("/dev/null", O_RDWR);
            if (n != fd) {
                if (n >= 0) {
                    (void)dup2(n, fd);
                    close(n);
                }
                status = -1;
            }
        }
    }
    /* One close_range() instead of a close() per possible descriptor
     * (tens of thousands of system calls with a high RLIMIT_NOFILE, for
     * every message sendmail submits); the loop is the fallback for
     * kernels before 5.9. */
    if (close_range(3, ~0U, 0) == 0)
        return status;
    long max = sysconf(_SC_OPEN_MAX);
    if (max < 0 || max > 65536)
        max = 65536;
    for (int fd = 3; fd < max; fd++)
        close(fd);
    return status;
}

char *mail_sanitize_env(void)
{
    const char *v = getenv("MAIL_CONFIG");
    char *env_config = v ? xstrdup(v) : NULL;
    v = getenv("TZ");
    char *env_tz = v ? xstrdup(v) : NULL;
    clearenv();
    if (env_tz)
        setenv("TZ", env_tz, 1);
    setenv("PATH", "/usr/bin:/bin", 1);
    xfree(env_tz);
    return env_config;
}
