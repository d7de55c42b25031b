/*
 * deliver_common.c - helpers shared by the local and virtual agents
 *
 * Used by: local, virtual (see deliver_common.h).
 * Interface: deliver_become(), deliver_unbecome(), deliver_delivered_to(),
 *            deliver_strv_free(), deliver_copy_line(), deliver_mbox_from(),
 *            deliver_write_all().
 * Errors: see deliver_common.h.
 * Notes: header values and continuation lines are capped at
 *        DELIVER_HDR_MAX bytes, so a hostile header cannot grow memory.
 */
#include "deliver_common.h"
#include "alloc.h"
#include "log.h"
#include "mail_owner.h"
#include <grp.h>
#include <time.h>

#define DELIVER_DELIVERED_MAX 1000
#define DELIVER_HDR_MAX 4096

/* ---- privileges ---- */

/* The real uid never changes in a delivery agent (only a forked command
 * child drops it, and that child never comes back here): ask once. */
static bool deliver_real_root(void)
{
    static int root = -1;
    if (root < 0)
        root = getuid() == 0;
    return root == 1;
}

/* Back to effective root with group list {0}, step by step. 0 or -1 (errno
 * from the failing step). seteuid(0) comes first: the other calls need it.
 * A set*id call that returns 0 has taken effect (the kernel changes the ids
 * or fails), so there is no read-back: two system calls per switch less. */
static int deliver_regain_root(void)
{
    gid_t g = 0;
    if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(1, &g) < 0)
        return -1;
    return 0;
}

int deliver_become(uid_t uid, gid_t gid)
{
    if (!deliver_real_root())
        return 0;       /* run by hand as a normal user */
    /* All or nothing: a step that fails undoes the steps before it, and a
     * process that cannot undo them does not carry on half switched. */
    if (setgroups(1, &gid) < 0 || setegid(gid) < 0 || seteuid(uid) < 0) {
        log_warn("switch to uid %ld gid %ld: %m", (long)uid, (long)gid);
        if (deliver_regain_root() < 0)
            log_fatal("cannot undo a partial privilege switch: %m");
        return -1;
    }
    return 0;
}

void deliver_unbecome(void)
{
    if (!deliver_real_root())
        return;
    if (deliver_regain_root() < 0)
        log_fatal("cannot regain root privileges: %m");
}

/* ---- Delivered-To: values of the header ---- */

struct deliver_hdr_scan {
    struct sbuf *cur;   /* header being collected (with continuations) */
    char **vals;
    size_t n, cap;
};

static void deliver_hdr_flush(struct deliver_hdr_scan *h)
{
    const char *p = sbuf_str(h->cur);
    if (strncasecmp(p, "Delivered-To:", 13) == 0 && h->n < DELIVER_DELIVERED_MAX) {
        p += 13;
        while (*p == ' ' || *p == '\t')
            p++;
        char *v = xstrdup(p);
        size_t n = strlen(v);
        while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t' || v[n - 1] == '\r'))
            v[--n] = 0;
        if (h->n + 1 >= h->cap) {
            h->cap = h->cap ? h->cap * 2 : 8;
            h->vals = xreallocarray(h->vals, h->cap, sizeof(char *));
        }
        h->vals[h->n++] = v;
        h->vals[h->n] = NULL;
    }
    sbuf_reset(h->cur);
}

static int deliver_hdr_line(const char *line, size_t len, void *ctx)
{
    struct deliver_hdr_scan *h = ctx;
    if (len > 0 && (line[0] == ' ' || line[0] == '\t')) {
        if (sbuf_len(h->cur) < DELIVER_HDR_MAX)
            sbuf_append(h->cur, line, len);
        return 0;
    }
    if (sbuf_len(h->cur))
        deliver_hdr_flush(h);
    if (len == 0 || memchr(line, ':', len) == NULL)
        return 1;       /* end of the header */
    sbuf_append(h->cur, line, len < DELIVER_HDR_MAX ? len : DELIVER_HDR_MAX);
    return 0;
}

char **deliver_delivered_to(struct deliver_request *r)
{
    struct deliver_hdr_scan h = { .cur = sbuf_new(256) };
    if (deliver_content_lines(r, deliver_hdr_line, &h) == 0 && sbuf_len(h.cur))
        deliver_hdr_flush(&h);
    sbuf_free(h.cur);
    if (h.vals == NULL)
        h.vals = xcalloc(1, sizeof(char *));
    return h.vals;
}

void deliver_strv_free(char **v)
{
    for (char **p = v; p && *p; p++)
        xfree(*p);
    xfree(v);
}

/* ---- rendering and writing ---- */

int deliver_copy_line(const char *line, size_t len, void *ctx)
{
    struct deliver_copy *c = ctx;
    if (c->quote && len >= 5 && memcmp(line, "From ", 5) == 0)
        sbuf_addch(c->out, '>');
    sbuf_append(c->out, line, len);
    sbuf_addch(c->out, '\n');
    return 0;
}

void deliver_mbox_from(struct sbuf *out, const char *sender)
{
    time_t now = time(NULL);
    struct tm tm;
    char date[64];
    localtime_r(&now, &tm);
    strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
    sbuf_catf(out, "From %s  %s\n", *sender ? sender : "MAILER-DAEMON", date);
}

int deliver_write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}
