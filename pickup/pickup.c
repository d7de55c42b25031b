/*
 * pickup.c - move locally submitted mail from maildrop/ into cleanup
 *
 * Used by: master (pickup unix n - n 60 1 pickup); woken by postdrop's
 *          trigger and by master's periodic wake-up.
 * Interface: a SERVER_TRIGGER daemon; any trigger byte starts a scan.
 * Errors: a malformed file is hostile input: it is logged and removed. A
 *         temporary cleanup failure leaves the file for the next scan; a
 *         permanent rejection is logged and the file removed (the
 *         submitter is local and no DSN path exists for a rejected file).
 * Notes: files are handled in queue-ID (arrival) order. Only complete
 *        files (owner-execute bit) that are regular, single-link files
 *        are read, opened without following links. Each file is checked
 *        completely (lib/mail/maildrop.c) before anything is sent to
 *        cleanup. The submitter is the file owner: logged as
 *        "ID: uid=N from=<sender>" with cleanup's queue ID. The message
 *        content gets a "Received: by HOST (Postfix, from userid N)" header
 *        first, as in Postfix.
 *        receive_override_options of this service (-o) narrow the
 *        external-source flags pickup asks cleanup for (and EXTRACT for
 *        sendmail -t). content_filter is this service's own (main.cf or
 *        -o), sent to cleanup as the message's filter while cleanup is asked
 *        not to add main.cf's: "-o content_filter=" on pickup (the usual
 *        amavisd-new set-up, FILTER_README) means local submissions are not
 *        filtered, as in Postfix, where pickup writes the filter itself.
 */
#include "alloc.h"
#include "cleanup_clnt.h"
#include "config.h"
#include "deliver_request.h"
#include "log.h"
#include "log_addr.h"
#include "mail_queue.h"
#include "pickup.h"
#include "maildrop.h"
#include "qfile.h"
#include "server.h"
#include <fcntl.h>
#include <sys/stat.h>

#define PICKUP_MAX_PER_SCAN 10000

struct pickup_list {
    char **ids;
    size_t n, cap;
};

static int pickup_collect(const char *id, const char *path, void *ctx)
{
    struct pickup_list *l = ctx;
    (void)path;
    if (l->n >= PICKUP_MAX_PER_SCAN)
        return 1;       /* the rest waits for the next scan */
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->ids = xreallocarray(l->ids, l->cap, sizeof(char *));
    }
    l->ids[l->n++] = xstrdup(id);
    return 0;
}

static int pickup_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Removes a file we are done with (or that is unusable). */
static void pickup_remove(const char *path)
{
    if (unlink(path) < 0 && errno != ENOENT)
        log_warn("remove %s: %m", path);
}

/* Checks the whole file; fills *flags and sender. Returns NULL or why. */
static const char *pickup_validate(struct qfile_reader *r, int *flags, struct sbuf *sender)
{
    struct maildrop_check chk;
    struct sbuf *data = sbuf_new(256);
    const char *why = NULL;
    maildrop_check_init(&chk, MAILDROP_FROM_FILE, cfg_long(P_MESSAGE_SIZE_LIMIT));
    while (why == NULL && !maildrop_check_done(&chk)) {
        int type = qfile_get(r, data, NULL);
        if (type < 0) {
            why = type == QFILE_E_IO ? "read error" : "truncated or corrupt file";
            break;
        }
        why = maildrop_check_rec(&chk, type, sbuf_str(data), sbuf_len(data));
        if (why == NULL && type == REC_SENDER)
            sbuf_set(sender, sbuf_str(data));
    }
    if (why == NULL && qfile_get(r, data, NULL) != QFILE_E_EOF)
        why = "data after end record";
    if (why && chk.verdict == MAILDROP_TOOBIG)
        why = "message too large";
    *flags = chk.flags;
    sbuf_free(data);
    return why;
}

/* The trace header that starts every picked-up message, in Postfix's shape:
 *   Received: by HOST (MAIL_NAME, from userid UID)
 *   <TAB>id QUEUEID; DATE
 * with the submitter's uid (not the login name) and the maildrop file's
 * modification time as the date ("Sun,  2 Nov 2026 08:00:00 +0000 (UTC)"). */
static void pickup_received(struct cleanup_clnt *c, uid_t uid, time_t when)
{
    struct sbuf *h = sbuf_new(128);
    struct tm tm;
    char day[64], zone[16];
    localtime_r(&when, &tm);
    strftime(day, sizeof(day), "%a, %e %b %Y %H:%M:%S", &tm);
    long off = tm.tm_gmtoff / 60;
    char sign = off < 0 ? '-' : '+';
    if (off < 0)
        off = -off;
    sbuf_printf(h, "Received: by %s (%s, from userid %ld)", cfg_str(P_MYHOSTNAME),
                cfg_str(P_MAIL_NAME), (long)uid);
    cleanup_rec(c, REC_NORM, sbuf_str(h), sbuf_len(h));
    sbuf_printf(h, "\tid %s; %s %c%02ld%02ld", cleanup_queue_id(c), day, sign, off / 60, off % 60);
    if (strftime(zone, sizeof(zone), "%Z", &tm) > 0 && zone[0])
        sbuf_catf(h, " (%s)", zone);
    cleanup_rec(c, REC_NORM, sbuf_str(h), sbuf_len(h));
    sbuf_free(h);
}

/* content_filter, read once at start (pickup_post_jail). */
static const char *pickup_content_filter;     /* "" = none */

/* Sends the validated file to cleanup. Returns the cleanup status. Like
 * Postfix's pickup, asks cleanup to bounce (not reject) a message that it
 * cannot accept for a permanent reason: the submitter is gone. */
static int pickup_copy(struct qfile_reader *r, int flags, uid_t uid, time_t mtime,
                       const char *sender, struct sbuf *reason)
{
    /* Our own content_filter, not cleanup's: see the header comment. */
    int cflags = cleanup_input_flags(CLEANUP_FLAG_MASK_EXTERNAL) & ~CLEANUP_FLAG_FILTER;
    struct cleanup_clnt *c = cleanup_open(CLEANUP_FLAG_BOUNCE | cflags
                                          | (flags & CLEANUP_FLAG_EXTRACT)
                                          | cleanup_dkim_flags(false, false, true));
    if (c == NULL) {
        sbuf_set(reason, "4.3.0 cleanup service unavailable");
        return CLEANUP_STAT_WRITE;
    }
    struct sbuf *data = sbuf_new(256);
    bool sent_attrs = false;
    bool milters = pickup_milter_active();
    char **rcpts = NULL;        /* envelope recipients, for the milters */
    size_t nrcpt = 0;
    if (milters && cleanup_spool_begin(c) < 0) {
        cleanup_abort(c);
        sbuf_free(data);
        sbuf_set(reason, "4.3.0 milter spool error");
        return CLEANUP_STAT_WRITE;
    }
    if (*pickup_content_filter)     /* after the spool began: the milters' copy has it */
        cleanup_recs(c, REC_FILTER, pickup_content_filter);
    qfile_seek(r, 0);
    for (;;) {
        int type = qfile_get(r, data, NULL);
        if (type < 0) {
            /* Validated before, so changed since or unreadable: finishing
             * would queue a truncated message. Leave the file for the next
             * scan, which validates it again. */
            cleanup_abort(c);
            sbuf_free(data);
            for (size_t i = 0; i < nrcpt; i++)
                xfree(rcpts[i]);
            xfree(rcpts);
            sbuf_set(reason, "4.3.0 maildrop file changed or unreadable while copied");
            return CLEANUP_STAT_WRITE;
        }
        if (type == MAILDROP_REC_FLAGS)
            continue;       /* carried in the cleanup flags */
        if (type == REC_SENDER) {
            cleanup_rec(c, REC_SENDER, sbuf_str(data), sbuf_len(data));
            struct sbuf *lb = sbuf_new(64);
            log_info("%s: uid=%ld from=<%s>", cleanup_queue_id(c), (long)uid, log_addr(lb, sender));
            sbuf_free(lb);
            if (!sent_attrs) {
                cleanup_recs(c, REC_ATTR, "rewrite_context=local");
                if (flags & MAILDROP_FLAG_USER_VERIFY)      /* sendmail -bv */
                    cleanup_recf(c, REC_ATTR, "%s=%d", DELIVER_ATTR_TRACE_FLAGS,
                                 DELIVER_REQ_F_USER_VERIFY);
                sent_attrs = true;
            }
            continue;
        }
        cleanup_rec(c, type, sbuf_str(data), sbuf_len(data));
        if (type == REC_RCPT && milters) {
            rcpts = xreallocarray(rcpts, nrcpt + 2, sizeof(*rcpts));
            rcpts[nrcpt++] = xstrdup(sbuf_str(data));
            rcpts[nrcpt] = NULL;
        }
        if (type == REC_MESG)
            pickup_received(c, uid, mtime);
        if (type == REC_END)
            break;
    }
    sbuf_free(data);
    int status = milters ? pickup_milter_run(c, sender, rcpts, reason) : CLEANUP_STAT_OK;
    for (size_t i = 0; i < nrcpt; i++)
        xfree(rcpts[i]);
    xfree(rcpts);
    if (status != CLEANUP_STAT_OK) {
        cleanup_abort(c);
        return status;
    }
    return cleanup_finish(c, reason);
}

static void pickup_file(const char *id)
{
    struct sbuf *path = sbuf_new(64);
    struct stat lst, st;
    mail_queue_path(path, MAIL_QUEUE_MAILDROP, id);
    const char *p = sbuf_str(path);

    if (lstat(p, &lst) < 0)
        goto out;       /* gone meanwhile */
    if (!S_ISREG(lst.st_mode)) {
        log_warn("%s: not a regular file: removed", p);
        pickup_remove(p);
        goto out;
    }
    if (!MAIL_QUEUE_IS_COMPLETE(&lst))
        goto out;       /* postdrop is still writing (or died: postsuper cleans up) */
    int fd = open(p, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        log_warn("open %s: %m", p);
        goto out;
    }
    if (fstat(fd, &st) < 0 || st.st_dev != lst.st_dev || st.st_ino != lst.st_ino
        || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
        log_warn("%s: file changed or has extra links: removed", p);
        close(fd);
        pickup_remove(p);
        goto out;
    }
    struct qfile_reader *r = qfile_from_fd(fd);
    struct sbuf *sender = sbuf_new(64), *reason = sbuf_new(64);
    int flags = 0;
    const char *why = pickup_validate(r, &flags, sender);
    if (why) {
        log_warn("%s: uid=%ld: %s: message discarded", p, (long)st.st_uid, why);
        pickup_remove(p);
    } else {
        int status = pickup_copy(r, flags, st.st_uid, st.st_mtime, sbuf_str(sender), reason);
        if (status == CLEANUP_STAT_OK) {
            pickup_remove(p);
        } else if (status & (CLEANUP_STAT_WRITE | CLEANUP_STAT_DEFER)) {
            log_warn("%s: uid=%ld: %s: will retry", p, (long)st.st_uid, sbuf_str(reason));
        } else {
            struct sbuf *lb = sbuf_new(64);
            log_warn("%s: uid=%ld from=<%s>: rejected: %s", p, (long)st.st_uid,
                     log_addr(lb, sbuf_str(sender)), sbuf_str(reason));
            sbuf_free(lb);
            pickup_remove(p);
        }
    }
    qfile_close(r);
    sbuf_free(sender);
    sbuf_free(reason);
out:
    sbuf_free(path);
}

static void pickup_scan(void)
{
    struct pickup_list l = { 0 };
    if (mail_queue_dir_scan(MAIL_QUEUE_MAILDROP, pickup_collect, &l) < 0)
        log_warn("scan %s: %m", MAIL_QUEUE_MAILDROP);
    if (l.n > 1)    /* qsort(NULL, 0, ...) is undefined: an empty maildrop */
        qsort(l.ids, l.n, sizeof(char *), pickup_cmp);
    for (size_t i = 0; i < l.n; i++) {
        pickup_file(l.ids[i]);
        xfree(l.ids[i]);
    }
    xfree(l.ids);
}

static void pickup_trigger(const char *buf, size_t len)
{
    (void)buf;
    (void)len;
    pickup_scan();
}

static void pickup_post_jail(void)
{
    pickup_content_filter = cfg_str(P_CONTENT_FILTER);
    pickup_milter_init();
    mail_queue_init();
    pickup_scan();      /* mail may have arrived while we were not running */
}

static const struct server_ops pickup_ops = {
    .model = SERVER_TRIGGER,
    .resident = true,
    .post_jail = pickup_post_jail,
    .trigger = pickup_trigger,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &pickup_ops);
}
