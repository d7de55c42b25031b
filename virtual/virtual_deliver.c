/*
 * virtual_deliver.c - the virtual agent's back ends: Maildir and mbox
 *
 * Used by: virtual.c.
 * Interface: virtual_render(), virtual_deliver_maildir(),
 *            virtual_deliver_mbox().
 * Errors: each delivery reports its own result for the recipient through
 *         deliver_status(): sent, bounced (5.2.2 full, quota with
 *         virtual_overquota_bounce, 5.3.5 not a regular file) or deferred
 *         (4.2.0 and friends).
 * Notes: the process runs as root; the mailbox work is done with the
 *        recipient's effective uid/gid (seteuid), and root is taken back
 *        before any status is recorded (the status logs belong to the
 *        queue). Messages are rendered into memory once per recipient
 *        (message_size_limit bounds it).
 */
#include "virtual.h"
#include "alloc.h"
#include "config.h"
#include "deliver_common.h"
#include "log.h"
#include "maildir.h"
#include <fcntl.h>
#include <grp.h>
#include <sys/stat.h>

/* ---- rendering ---- */

int virtual_render(struct deliver_request *r, const struct deliver_rcpt *rc, bool mbox,
                   struct sbuf *out)
{
    sbuf_reset(out);
    if (mbox)
        deliver_mbox_from(out, r->sender);
    sbuf_catf(out, "Return-Path: <%s>\n", r->sender);
    sbuf_catf(out, "X-Original-To: %s\n", *rc->orig ? rc->orig : rc->address);
    sbuf_catf(out, "Delivered-To: %s\n", rc->address);
    struct deliver_copy c = { .out = out, .quote = mbox };
    if (deliver_content_lines(r, deliver_copy_line, &c) != 0)
        return -1;
    if (mbox)
        sbuf_addch(out, '\n');
    return 0;
}

/* Over-quota result per virtual_overquota_bounce. */
static void virtual_overquota(struct deliver_request *r, const struct deliver_rcpt *rc)
{
    if (virtual_cfg.overquota_bounce)
        deliver_bounce(r, rc, "5.2.2", "%s", virtual_cfg.limit_message);
    else
        deliver_defer(r, rc, "4.2.2", "%s", virtual_cfg.limit_message);
}

/* ---- Maildir ---- */

static int virtual_maildir_write(int fd, void *ctx)
{
    const struct sbuf *msg = ctx;
    return deliver_write_all(fd, sbuf_str(msg), sbuf_len(msg));
}

void virtual_deliver_maildir(struct deliver_request *r, const struct deliver_rcpt *rc,
                             const struct virtual_dest *d, const struct sbuf *msg)
{
    struct sbuf *why = sbuf_new(128), *host = sbuf_new(128), *qwhy = sbuf_new(64);
    long long size = (long long)sbuf_len(msg);
    enum { OK, FAILED, NOPRIV, OVERQUOTA } res = OK;
    int err = 0;

    /* Without the quota extension virtual_mailbox_limit caps each file. */
    if (!d->quota && d->limit > 0 && size > d->limit) {
        deliver_bounce(r, rc, "5.2.2", "maildir delivery failed: error writing message: %s",
                       strerror(EFBIG));
        goto out;
    }
    if (deliver_become(d->uid, d->gid) < 0) {
        res = NOPRIV;
    } else {
        if (d->quota) {
            struct virtual_usage u = { 0, 0 };
            bool from_file;
            /* A mailbox that does not exist yet holds nothing. */
            if (maildir_make(d->path, why) < 0) {
                err = errno;
                res = FAILED;
            } else if (virtual_quota_read(d->path, virtual_cfg.create_maildirsize,
                                          virtual_cfg.trash_count, virtual_cfg.trash_name, &u,
                                          &from_file) < 0) {
                err = errno;
                sbuf_printf(why, "count messages in %s: %s", d->path, strerror(err));
                res = FAILED;
            } else if (virtual_quota_over(d->limit, &u, size)) {
                res = OVERQUOTA;
            }
            /* Maildir++ readers take the size from the name. */
            sbuf_printf(host, "%s,S=%lld", virtual_cfg.hostname, size);
        } else
            sbuf_set(host, virtual_cfg.hostname);
        if (res == OK) {
            if (maildir_deliver(d->path, sbuf_str(host), virtual_maildir_write, (void *)msg, NULL,
                                why) < 0) {
                err = errno;
                res = FAILED;
            } else if (d->quota && virtual_cfg.create_maildirsize && d->limit > 0
                       && virtual_quota_update(d->path, d->limit, size, virtual_cfg.trash_count,
                                               virtual_cfg.trash_name, qwhy) < 0) {
                /* delivered; the next delivery recounts */
                err = -1;
            }
        }
        deliver_unbecome();
    }
    if (err == -1)
        log_warn("%s: %s: update maildirsize: %s", r->queue_id, rc->address, sbuf_str(qwhy));
    switch (res) {
    case OK:
        deliver_sent(r, rc, "2.0.0", "delivered to maildir");
        break;
    case NOPRIV:
        deliver_defer(r, rc, "4.3.0", "cannot switch privileges");
        break;
    case OVERQUOTA:
        virtual_overquota(r, rc);
        break;
    case FAILED:
        if (err == EACCES)
            log_warn("maildir access problem for UID/GID=%lu/%lu: %s", (unsigned long)d->uid,
                     (unsigned long)d->gid, sbuf_str(why));
        if (err == EDQUOT || err == EFBIG)
            deliver_bounce(r, rc, "5.2.2", "maildir delivery failed: %s", sbuf_str(why));
        else
            deliver_defer(r, rc, "4.2.0", "maildir delivery failed: %s", sbuf_str(why));
        break;
    }
out:
    sbuf_free(why);
    sbuf_free(host);
    sbuf_free(qwhy);
}

/* ---- mbox ---- */

/* Appends msg to path with the caller's (the user's) privileges. 0, or -1
 * with dsn and why filled. */
static int virtual_mbox_append(const struct virtual_dest *d, const struct sbuf *msg,
                               struct sbuf *dsn, struct sbuf *why)
{
    const char *path = d->path;
    struct sbuf *lockwhy = sbuf_new(128);
    int fd = -1, r = -1;
    bool locked = false;
    struct stat st;

    sbuf_set(dsn, "4.2.0");
    /* No symlinks, no blocking on a FIFO planted as the mailbox. */
    fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
              0600);
    if (fd < 0) {
        int err = errno;
        if (err == ENXIO) {     /* a FIFO without a reader */
            log_warn("recipient mailbox %s is not a regular file", path);
            sbuf_set(why, "mail system configuration error");
            sbuf_set(dsn, "5.3.5");
            goto out;
        }
        sbuf_printf(why, "cannot open mailbox %s: %s", path,
                    err == ELOOP ? "file is a symbolic link" : strerror(err));
        if (err == EDQUOT || err == EFBIG)
            sbuf_set(dsn, "5.2.2");
        goto out;
    }
    if (fstat(fd, &st) < 0) {
        sbuf_printf(why, "cannot stat mailbox %s: %s", path, strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode) || st.st_nlink > 1) {
        log_warn("recipient mailbox %s is not a regular file", path);
        sbuf_set(why, "mail system configuration error");
        sbuf_set(dsn, "5.3.5");
        goto out;
    }
    if (fcntl(fd, F_SETFL, O_WRONLY | O_APPEND) < 0) {
        sbuf_printf(why, "cannot set flags of mailbox %s: %s", path, strerror(errno));
        goto out;
    }
    if (virtual_cfg.strict_owner && st.st_uid != d->uid) {
        sbuf_printf(why, "destination %s is not owned by recipient", path);
        log_warn("specify \"%s = no\" to ignore mailbox ownership mismatch",
                 P_STRICT_MAILBOX_OWNERSHIP);
        goto out;
    }
    if (mbox_lock(fd, path, virtual_cfg.lock_mask, &virtual_cfg.lock_opts, lockwhy) < 0) {
        sbuf_set(why, sbuf_str(lockwhy));
        goto out;
    }
    locked = true;
    off_t size = lseek(fd, 0, SEEK_END);
    if (d->limit > 0 && (long long)size + (long long)sbuf_len(msg) > d->limit) {
        if (d->quota) {
            sbuf_set(dsn, "quota");
            goto out;
        }
        sbuf_printf(why, "error writing message: %s", strerror(EFBIG));
        sbuf_set(dsn, "5.2.2");
        goto out;
    }
    if (deliver_write_all(fd, sbuf_str(msg), sbuf_len(msg)) < 0 || fsync(fd) < 0) {
        int err = errno;
        sbuf_printf(why, "error writing message: %s", strerror(err));
        if (err == EDQUOT || err == EFBIG)
            sbuf_set(dsn, "5.2.2");
        if (ftruncate(fd, size) < 0)
            log_warn("truncate %s back to %ld bytes: %m", path, (long)size);
        goto out;
    }
    r = 0;
out:
    if (locked)
        mbox_unlock(fd, path, virtual_cfg.lock_mask);
    if (fd >= 0)
        close(fd);
    sbuf_free(lockwhy);
    return r;
}

void virtual_deliver_mbox(struct deliver_request *r, const struct deliver_rcpt *rc,
                          const struct virtual_dest *d, const struct sbuf *msg)
{
    struct sbuf *dsn = sbuf_new(16), *why = sbuf_new(128);
    if (deliver_become(d->uid, d->gid) < 0) {
        deliver_defer(r, rc, "4.3.0", "cannot switch privileges");
        goto out;
    }
    int res = virtual_mbox_append(d, msg, dsn, why);
    deliver_unbecome();
    if (res == 0)
        deliver_sent(r, rc, "2.0.0", "delivered to mailbox");
    else if (strcmp(sbuf_str(dsn), "quota") == 0)
        virtual_overquota(r, rc);
    else if (sbuf_str(dsn)[0] == '5')
        deliver_bounce(r, rc, sbuf_str(dsn), "delivery failed to mailbox %s: %s", d->path,
                       sbuf_str(why));
    else
        deliver_defer(r, rc, sbuf_str(dsn), "delivery failed to mailbox %s: %s", d->path,
                      sbuf_str(why));
out:
    sbuf_free(dsn);
    sbuf_free(why);
}
