/*
 * postfix_logrotate.c - "postfix logrotate": rotate $maillog_file
 *
 * Used by: postfix.c.
 * Interface: postfix_logrotate() (postfix.h).
 * Errors: every problem is fatal (exit 1) with one message, "logfile
 *         'FILE' rotation failed: why" (or the empty-parameter and /dev
 *         messages), as in Postfix.
 * Notes: the steps are Postfix's: rename FILE to FILE.SUFFIX, SIGHUP the
 *        master (postlogd, which holds the old file open, is restarted and
 *        opens a new FILE when the next line arrives), wait a second, then
 *        compress FILE.SUFFIX. Unlike mv, an existing FILE.SUFFIX (two
 *        rotations within one suffix period) is never overwritten.
 */
#include "config.h"
#include "log.h"
#include "params.h"
#include "postfix.h"
#include "sbuf.h"
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

extern char **environ;

/* Runs the compressor on path and waits; 0, or -1 with why. */
static int logrotate_compress(const char *compressor, const char *path, struct sbuf *why)
{
    char *argv[] = { (char *)compressor, (char *)path, NULL };
    pid_t pid;
    int rc = posix_spawnp(&pid, compressor, NULL, NULL, argv, environ);
    if (rc != 0) {
        sbuf_printf(why, "cannot run %s: %s", compressor, strerror(rc));
        return -1;
    }
    int status;
    while (waitpid(pid, &status, 0) < 0)
        if (errno != EINTR) {
            sbuf_printf(why, "waitpid: %s", strerror(errno));
            return -1;
        }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
        return 0;
    if (WIFEXITED(status))
        sbuf_printf(why, "%s %s: exit status %d", compressor, path, WEXITSTATUS(status));
    else
        sbuf_printf(why, "%s %s: killed by signal %d", compressor, path,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    return -1;
}

int postfix_logrotate(pid_t master)
{
    static const char *const needed[] = { P_MAILLOG_FILE, P_MAILLOG_FILE_COMPRESSOR,
                                          P_MAILLOG_FILE_ROTATE_SUFFIX };
    for (size_t i = 0; i < sizeof(needed) / sizeof(needed[0]); i++)
        if (*cfg_str(needed[i]) == 0)
            log_fatal("empty '%s' parameter value - logfile rotation failed", needed[i]);
    const char *file = cfg_str(P_MAILLOG_FILE);
    if (strncmp(file, "/dev/", 5) == 0)
        log_fatal("not rotating '%s'", file);
    struct sbuf *why = sbuf_new(128), *old = sbuf_new(256);
    char suffix[256];
    time_t now = time(NULL);
    struct tm tm;
    int rc = 1;
    if (localtime_r(&now, &tm) == NULL
        || strftime(suffix, sizeof(suffix), cfg_str(P_MAILLOG_FILE_ROTATE_SUFFIX), &tm) == 0
        || strchr(suffix, '/') != NULL) {
        sbuf_printf(why, "%s = %s does not give a file name suffix", P_MAILLOG_FILE_ROTATE_SUFFIX,
                    cfg_str(P_MAILLOG_FILE_ROTATE_SUFFIX));
        goto done;
    }
    sbuf_printf(old, "%s.%s", file, suffix);
    /* link + unlink: a rename would replace an earlier FILE.SUFFIX. */
    if (link(file, sbuf_str(old)) < 0) {
        sbuf_printf(why, errno == EEXIST ? "%s already exists" : "cannot rename %s: %s",
                    errno == EEXIST ? sbuf_str(old) : file, strerror(errno));
        goto done;
    }
    if (unlink(file) < 0) {
        sbuf_printf(why, "cannot remove %s after linking it to %s: %s", file, sbuf_str(old),
                    strerror(errno));
        goto done;
    }
    if (master > 0) {
        if (kill(master, SIGHUP) < 0) {
            sbuf_printf(why, "cannot signal the master process %ld: %s", (long)master,
                        strerror(errno));
            goto done;
        }
        sleep(1);   /* the old postlogd writes its last lines and exits */
    }
    if (logrotate_compress(cfg_str(P_MAILLOG_FILE_COMPRESSOR), sbuf_str(old), why) < 0)
        goto done;
    rc = 0;
done:
    if (rc)
        log_fatal("logfile '%s' rotation failed: %s", file, sbuf_str(why));
    sbuf_free(why);
    sbuf_free(old);
    return rc;
}
