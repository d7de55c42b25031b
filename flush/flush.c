/*
 * flush.c - fast flush service: per-site lists of deferred mail
 *
 * Used by: master (service flush, `flush unix n - n 1000? 0 flush`).
 * Interface: requests per docs/ipc.md "flush": add, send_site, send_file,
 *            refresh, purge; a wakeup ('W' trigger) does a refresh.
 * Errors: a site not in $fast_flush_domains gets FLUSH_STAT_DENY; a bad site
 *         or queue ID gets FLUSH_STAT_BAD (nothing is created from it).
 * Notes: flush/SITE holds one queue ID per line. send_site moves those
 *        messages from deferred/ to incoming/ (so their retry time no longer
 *        matters), empties the list, and wakes qmgr; messages that are
 *        deferred again are added again by qmgr. refresh does send_site for
 *        lists older than $fast_flush_refresh_time and removes lists unused
 *        for $fast_flush_purge_time.
 */
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "flush_clnt.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "resolve_local.h"
#include "sbuf.h"
#include "server.h"
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>

#define FLUSH_SITE_MAX 255

static struct domain_list *flush_domains;

/* Lower-cases site into out; false when it is not a plausible domain. */
static bool flush_site_ok(const char *site, struct sbuf *out)
{
    size_t n = strlen(site);
    if (n == 0 || n > FLUSH_SITE_MAX || site[0] == '.')
        return false;
    sbuf_reset(out);
    for (const char *p = site; *p; p++) {
        int c = tolower((unsigned char)*p);
        if (!(isalnum(c) || c == '.' || c == '-' || c == '_' || c == '[' || c == ']' || c == ':'))
            return false;
        sbuf_addch(out, c);
    }
    return strstr(site, "..") == NULL;
}

static void flush_path(struct sbuf *path, const char *site)
{
    sbuf_printf(path, "%s/%s", MAIL_QUEUE_FLUSH, site);
}

static int flush_do_add(const char *site, const char *id)
{
    struct sbuf *s = sbuf_new(64), *path = sbuf_new(128);
    int status = FLUSH_STAT_BAD;
    if (flush_site_ok(site, s) && mail_queue_id_ok(id)) {
        if (domain_list_match(flush_domains, sbuf_str(s)) != 1)
            status = FLUSH_STAT_DENY;
        else {
            flush_path(path, sbuf_str(s));
            int fd = open(sbuf_str(path), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
            status = FLUSH_STAT_FAIL;
            if (fd >= 0) {
                struct sbuf *line = sbuf_new(40);
                sbuf_printf(line, "%s\n", id);
                if (write(fd, sbuf_str(line), sbuf_len(line)) == (ssize_t)sbuf_len(line))
                    status = FLUSH_STAT_OK;
                sbuf_free(line);
                close(fd);
            }
        }
    }
    sbuf_free(s);
    sbuf_free(path);
    return status;
}

/* Moves one deferred message to incoming; true when it moved. */
static bool flush_requeue(const char *id)
{
    if (!mail_queue_id_ok(id))
        return false;
    if (mail_queue_rename(id, MAIL_QUEUE_DEFERRED, MAIL_QUEUE_INCOMING) == 0)
        return true;
    return false;
}

/* Sends the mail listed for an already-validated site. */
static int flush_site_file(const char *site)
{
    struct sbuf *path = sbuf_new(128), *line = sbuf_new(64);
    flush_path(path, site);
    int fd = open(sbuf_str(path), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    int moved = 0;
    if (fd >= 0) {
        flock(fd, LOCK_EX);
        FILE *fp = fdopen(dup(fd), "r");
        char buf[128];
        while (fp && fgets(buf, sizeof(buf), fp)) {
            buf[strcspn(buf, "\r\n")] = 0;
            if (flush_requeue(buf))
                moved++;
        }
        if (fp)
            fclose(fp);
        if (ftruncate(fd, 0) < 0)
            log_warn("truncate %s: %m", sbuf_str(path));
        close(fd);
    }
    if (moved > 0)
        mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_INCOMING);
    log_info("flush site %s: %d messages", site, moved);
    sbuf_free(path);
    sbuf_free(line);
    return FLUSH_STAT_OK;
}

static int flush_do_send_site(const char *site)
{
    struct sbuf *s = sbuf_new(64);
    int status = FLUSH_STAT_BAD;
    if (flush_site_ok(site, s)) {
        int m = domain_list_match(flush_domains, sbuf_str(s));
        status = m == 1 ? flush_site_file(sbuf_str(s)) : m < 0 ? FLUSH_STAT_FAIL : FLUSH_STAT_DENY;
    }
    sbuf_free(s);
    return status;
}

static int flush_do_send_file(const char *id)
{
    if (!mail_queue_id_ok(id))
        return FLUSH_STAT_BAD;
    if (flush_requeue(id))
        mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, QMGR_TRIGGER_INCOMING);
    return FLUSH_STAT_OK;
}

static int flush_do_refresh(bool purge_only)
{
    DIR *d = opendir(MAIL_QUEUE_FLUSH);
    struct dirent *de;
    time_t now = time(NULL);
    long refresh = cfg_time(P_FAST_FLUSH_REFRESH_TIME), purge = cfg_time(P_FAST_FLUSH_PURGE_TIME);
    struct sbuf *path = sbuf_new(128);
    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        if (de->d_name[0] == '.')
            continue;
        flush_path(path, de->d_name);
        if (lstat(sbuf_str(path), &st) < 0 || !S_ISREG(st.st_mode))
            continue;
        if (st.st_size == 0 && now - st.st_mtime > purge)
            unlink(sbuf_str(path));
        else if (!purge_only && st.st_size > 0 && now - st.st_mtime > refresh)
            flush_site_file(de->d_name);
    }
    if (d)
        closedir(d);
    sbuf_free(path);
    return FLUSH_STAT_OK;
}

static void flush_service(struct stream *client)
{
    struct attr_list *req = attr_list_new();
    stream_set_timeout(client, (int)cfg_time(P_IPC_TIMEOUT));
    if (attr_send_proto(client, MAIL_PROTO_FLUSH) < 0 || attr_read(client, req) < 0) {
        attr_list_free(req);
        return;
    }
    const char *r = attr_get_def(req, "request", "");
    int status;
    if (strcmp(r, "add") == 0)
        status = flush_do_add(attr_get_def(req, "site", ""), attr_get_def(req, "queue_id", ""));
    else if (strcmp(r, "send_site") == 0)
        status = flush_do_send_site(attr_get_def(req, "site", ""));
    else if (strcmp(r, "send_file") == 0)
        status = flush_do_send_file(attr_get_def(req, "queue_id", ""));
    else if (strcmp(r, "refresh") == 0)
        status = flush_do_refresh(false);
    else if (strcmp(r, "purge") == 0)
        status = flush_do_refresh(true);
    else if (strcmp(r, "") == 0 && req->count == 0) {
        /* A wake-up trigger ("W") written to our socket looks like this. */
        status = flush_do_refresh(false);
    } else
        status = FLUSH_STAT_BAD;
    char buf[16];
    snprintf(buf, sizeof(buf), "%d", status);
    attr_send(client, "status", buf, (char *)NULL);
    attr_list_free(req);
}

static void flush_post_jail(void)
{
    mail_queue_init();
    flush_domains = domain_list_new(P_FAST_FLUSH_DOMAINS, cfg_str(P_FAST_FLUSH_DOMAINS));
}

static const struct server_ops flush_ops = {
    .model = SERVER_SINGLE,
    .post_jail = flush_post_jail,
    .service = flush_service,
};

int main(int argc, char **argv)
{
    return server_main(argc, argv, &flush_ops);
}
