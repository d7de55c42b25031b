/*
 * postqueue.c - queue listing and flushing for any local user
 *
 * Used by: users and scripts (mailq, sendmail -q and -bp call this).
 * Interface: postqueue [-v] [-c config_dir] -p | -j | -f | -s site | -i queue_id
 * Errors: problems are reported as "postqueue: fatal: ..." on stderr (and
 *         to the mail log) with exit status 69 (service unavailable), 64
 *         (usage) or 78 (configuration).
 * Notes: installed setgid postdrop so that it can reach the sockets in
 *        $queue_directory/public. It therefore starts by cleaning its
 *        environment and descriptors, and accepts -c / MAIL_CONFIG from a
 *        non-root caller only for a directory the default main.cf trusts
 *        (alternate_config_directories, multi_instance_directories).
 *        Listing talks to showq (when the mail system is down, root gets
 *        a stand-alone showq instead); -f triggers qmgr (F, A, D, I) and pickup;
 *        -s and -i ask the flush service, falling back to a deferred-queue
 *        scan when it is not running.
 */
#include "postqueue.h"
#include "alloc.h"
#include "attr.h"
#include "config.h"
#include "log.h"
#include "mail_proto.h"
#include "mail_queue.h"
#include "mail_env.h"
#include "mail_trust.h"
#include "sock.h"
#include "stream.h"
#include <fcntl.h>
#include <ctype.h>
#include <pwd.h>
#include <sys/time.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>

enum pq_mode { PQ_NONE, PQ_LIST, PQ_JSON, PQ_FLUSH, PQ_SITE, PQ_ID };

static NORETURN void pq_usage(void)
{
    fprintf(stderr, "usage: postqueue -f | postqueue -i queueid | postqueue -j | "
                    "postqueue -p | postqueue -s site\n");
    exit(EX_USAGE);
}

/* authorized_mailq_users / authorized_flush_users (mail_trust.h); a
 * table problem is fatal. */
static bool pq_user_allowed(const char *param, const char *user)
{
    struct mail_trust_err err;
    int res = mail_user_authorized(param, user, &err);
    if (res < 0 && err.kind == MAIL_TRUST_ERR_OPEN)
        log_fatal("%s: cannot open %s", param, err.item);
    if (res < 0)
        log_fatal("%s: lookup error in %s", param, err.item);
    return res > 0;
}

static void pq_load_config(const char *cflag, const char *env_config)
{
    const char *want = cflag ? cflag : (env_config && *env_config ? env_config : NULL);
    if (want && getuid() == 0) {
        if (config_load(want) < 0)
            log_fatal("%s/main.cf: configuration errors", want);
    } else {
        if (config_load(NULL) < 0 && want == NULL)
            log_fatal("%s/main.cf: configuration errors", config_dir());
        if (want && strcmp(want, config_dir()) != 0) {
            if (!mail_config_dir_trusted(want))
                log_fatal("bad -c option or MAIL_CONFIG: %s is not listed in %s of %s/main.cf",
                          want, P_ALTERNATE_CONFIG_DIRECTORIES, config_dir());
            if (config_load(want) < 0)
                log_fatal("%s/main.cf: configuration errors", want);
        }
    }
    if (want)
        setenv("MAIL_CONFIG", want, 1);
    mail_env_import();
    struct sbuf *tag = sbuf_new(64);
    sbuf_printf(tag, "%s/postqueue", cfg_str(P_SYSLOG_NAME));
    log_set_tag(sbuf_str(tag));
    sbuf_free(tag);
    if (*cfg_str(P_MAILLOG_FILE)) {
        struct sbuf *path = sbuf_new(128);
        mail_service_path(path, MAIL_CLASS_PUBLIC, MAIL_SERVICE_POSTLOG, true);
        log_close_syslog();
        log_open_maillog(sbuf_str(path), cfg_str(P_MYHOSTNAME));
        sbuf_free(path);
    } else {
        log_open_syslog(NULL);
    }
}

static void pq_write(struct sbuf *b)
{
    if (sbuf_len(b) && fwrite(sbuf_str(b), 1, sbuf_len(b), stdout) != sbuf_len(b))
        log_fatal("output write error: %m");
    sbuf_reset(b);
}

/* Runs "$daemon_directory/showq -S -u" on one end of a socket pair and
 * returns a stream to it (after its greeting), or NULL. *pid is the child. */
static struct stream *pq_showq_standalone(pid_t *pid)
{
    int sv[2];
    struct sbuf *prog = sbuf_new(128);
    sbuf_printf(prog, "%s/showq", cfg_str(P_DAEMON_DIRECTORY));
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        log_fatal("socketpair: %m");
    *pid = fork();
    if (*pid < 0)
        log_fatal("fork: %m");
    if (*pid == 0) {
        if (dup2(sv[1], 0) < 0)
            _exit(EX_OSERR);
        execl(sbuf_str(prog), "showq", "-S", "-u", (char *)NULL);
        fprintf(stderr, "postqueue: fatal: execute %s: %s\n", sbuf_str(prog), strerror(errno));
        _exit(EX_OSERR);
    }
    close(sv[1]);
    sbuf_free(prog);
    struct stream *s = stream_open(sv[0]);
    stream_set_timeout(s, (int)cfg_time(P_IPC_TIMEOUT));
    if (attr_expect_proto0(s, MAIL_PROTO_SHOWQ) < 0) {
        stream_close(s);
        return NULL;
    }
    return s;
}

/* Connects to the showq service. When the mail system is down the
 * super-user reads the queue through a stand-alone showq, as Postfix
 * does; anyone else is told the report is unavailable. */
static struct stream *pq_showq_connect(pid_t *pid)
{
    struct sbuf *path = sbuf_new(128);
    *pid = -1;
    mail_service_path(path, MAIL_CLASS_PUBLIC, MAIL_SERVICE_SHOWQ, true);
    int fd = sock_unix_connect(sbuf_str(path), (int)cfg_time(P_IPC_TIMEOUT));
    int err = errno;
    sbuf_free(path);
    if (fd >= 0) {
        close(fd);
        /* showq greets in Postfix's framing, which mail_connect() does not
         * read: connect without a greeting check and check it here. */
        struct stream *s = mail_connect(MAIL_CLASS_PUBLIC, MAIL_SERVICE_SHOWQ, NULL);
        if (s) {
            int r = attr_expect_proto0(s, MAIL_PROTO_SHOWQ);
            if (r == 0)
                return s;
            stream_close(s);
            fprintf(stderr, "postqueue: fatal: malformed showq server response\n");
            exit(EX_SOFTWARE);
        }
        err = errno;
    }
    if (err == EACCES || err == EPERM) {
        fprintf(stderr, "postqueue: fatal: Connect to the %s service: %s\n",
                MAIL_SERVICE_SHOWQ, strerror(err));
        exit(EX_SOFTWARE);
    }
    if (geteuid() == 0) {
        fprintf(stderr, "postqueue: warning: Mail system is down -- accessing queue directly\n");
        struct stream *s = pq_showq_standalone(pid);
        if (s)
            return s;
    }
    fprintf(stderr, "postqueue: fatal: Queue report unavailable - mail system is down\n");
    exit(EX_UNAVAILABLE);
}

static void pq_show(bool json)
{
    pid_t pid;
    struct stream *s = pq_showq_connect(&pid);
    bool long_ids = cfg_bool(P_ENABLE_LONG_QUEUE_IDS);
    struct attr_list *l = attr_list_new();
    l->max_count = 4096;
    struct sbuf *out = sbuf_new(4096);
    unsigned long bytes = 0, count = 0;
    int r;
    while ((r = attr_read0(s, l)) == 0 && l->count > 0) {
        struct pq_msg m;
        if (pq_msg_from_attrs(&m, l) < 0) {
            log_warn("malformed showq record ignored");
            continue;
        }
        if (json) {
            pq_json_msg(out, &m);
        } else {
            if (count == 0)
                pq_list_header(out, long_ids);
            pq_list_msg(out, &m, long_ids);
        }
        if (m.size > 0)
            bytes += (unsigned long)m.size;
        count++;
        pq_msg_free(&m);
        pq_write(out);
    }
    if (r != 0)
        log_fatal("read from showq: %s", r <= ATTR_E_FORMAT ? "malformed reply"
                                                            : stream_strerror(r));
    if (!json)
        pq_list_summary(out, bytes, count);
    pq_write(out);
    if (fflush(stdout) != 0)
        log_fatal("output write error: %m");
    attr_list_free(l);
    stream_close(s);
    sbuf_free(out);
    if (pid > 0) {
        int st;
        while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
            continue;
    }
}

static void pq_flush_all(void)
{
    static const char bytes[] = { QMGR_TRIGGER_FLUSH_DEAD, QMGR_TRIGGER_IGNORE_TIME,
                                  QMGR_TRIGGER_DEFERRED, QMGR_TRIGGER_INCOMING };
    for (size_t i = 0; i < sizeof(bytes); i++) {
        if (mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR, bytes[i]) < 0) {
            fprintf(stderr, "postqueue: fatal: Cannot flush mail queue - mail system is down\n");
            exit(EX_UNAVAILABLE);
        }
    }
    (void)mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_PICKUP, QMGR_TRIGGER_WAKEUP);
}

/* Asks the flush service; returns its status, or -1 when it is absent. */
static int pq_flush_request(const char *request, const char *name, const char *value)
{
    struct sbuf *path = sbuf_new(128);
    mail_service_path(path, MAIL_CLASS_PUBLIC, MAIL_SERVICE_FLUSH, true);
    bool present = access(sbuf_str(path), F_OK) == 0;
    sbuf_free(path);
    if (!present)
        return -1;
    struct stream *s = mail_connect(MAIL_CLASS_PUBLIC, MAIL_SERVICE_FLUSH, MAIL_PROTO_FLUSH);
    if (s == NULL)
        return -1;
    struct attr_list *l = attr_list_new();
    long st = -1;
    if (attr_send(s, "request", request, name, value, (char *)NULL) == 0
        && attr_read(s, l) == 0 && attr_get_long(l, "status", &st) == 0) {
        /* status as given */
    } else {
        st = -1;
    }
    attr_list_free(l);
    stream_close(s);
    return (int)st;
}

static bool pq_site_ok(const char *site)
{
    if (*site == 0 || strlen(site) > 255)
        return false;
    for (const char *p = site; *p; p++)
        if (!(isalnum((unsigned char)*p) || strchr(".-_[]:", *p)))
            return false;
    return true;
}

int main(int argc, char **argv)
{
    enum pq_mode mode = PQ_NONE;
    const char *cflag = NULL, *arg = NULL;
    int c;

    (void)mail_sanitize_fds();
    umask(022);
    log_set_tag("postqueue");
    log_set_stderr(true);
    signal(SIGPIPE, SIG_IGN);
    char *env_config = mail_sanitize_env();

    while ((c = getopt(argc, argv, "c:fi:jps:v")) != -1) {
        enum pq_mode want = PQ_NONE;
        switch (c) {
        case 'c':
            cflag = optarg;
            continue;
        case 'v':
            log_verbose++;
            continue;
        case 'f':
            want = PQ_FLUSH;
            break;
        case 'i':
            want = PQ_ID;
            arg = optarg;
            break;
        case 'j':
            want = PQ_JSON;
            break;
        case 'p':
            want = PQ_LIST;
            break;
        case 's':
            want = PQ_SITE;
            arg = optarg;
            break;
        default:
            pq_usage();
        }
        if (mode != PQ_NONE && mode != want)
            pq_usage();
        mode = want;
    }
    if (optind != argc || mode == PQ_NONE)
        pq_usage();

    pq_load_config(cflag, env_config);
    mail_queue_init();
    struct passwd *pw = getpwuid(getuid());
    char user[64];
    if (pw)
        strlcpy(user, pw->pw_name, sizeof(user));
    else
        snprintf(user, sizeof(user), "uid%ld", (long)getuid());

    switch (mode) {
    case PQ_LIST:
    case PQ_JSON:
        if (getuid() != 0 && !pq_user_allowed(P_AUTHORIZED_MAILQ_USERS, user))
            log_fatal("User %s(%ld) is not allowed to view the mail queue", user,
                      (long)getuid());
        pq_show(mode == PQ_JSON);
        break;
    case PQ_FLUSH:
    case PQ_SITE:
    case PQ_ID:
        if (getuid() != 0 && !pq_user_allowed(P_AUTHORIZED_FLUSH_USERS, user))
            log_fatal("User %s(%ld) is not allowed to flush the mail queue", user,
                      (long)getuid());
        if (mode == PQ_FLUSH) {
            pq_flush_all();
        } else if (mode == PQ_SITE) {
            if (!pq_site_ok(arg))
                log_fatal("Cannot flush mail queue - invalid destination: \"%.100s%s\"", arg,
                          strlen(arg) > 100 ? "..." : "");
            int st = pq_flush_request("send_site", "site", arg);
            if (st < 0) {
                log_warn("flush service unavailable: flushing the whole deferred queue");
                pq_flush_all();
            } else if (st != 0) {
                log_fatal("Flush service is not configured for destination \"%s\"", arg);
            }
        } else {
            if (!mail_queue_id_ok(arg))
                log_fatal("Cannot flush queue ID - invalid name: \"%.100s%s\"", arg,
                          strlen(arg) > 100 ? "..." : "");
            int st = pq_flush_request("send_file", "queue_id", arg);
            if (st < 0) {
                /* Without a flush service only root can touch the file. */
                struct sbuf *path = sbuf_new(128);
                sbuf_printf(path, "%s/", cfg_str(P_QUEUE_DIRECTORY));
                struct sbuf *rel = sbuf_new(64);
                mail_queue_path(rel, MAIL_QUEUE_DEFERRED, arg);
                sbuf_cat(path, sbuf_str(rel));
                if (getuid() == 0 && utimes(sbuf_str(path), NULL) == 0) {
                    (void)mail_trigger(MAIL_CLASS_PUBLIC, MAIL_SERVICE_QMGR,
                                       QMGR_TRIGGER_DEFERRED);
                } else {
                    log_warn("flush service unavailable: flushing the whole deferred queue");
                    pq_flush_all();
                }
                sbuf_free(rel);
                sbuf_free(path);
            } else if (st != 0) {
                log_fatal("Cannot flush queue ID %s: not in the deferred queue", arg);
            }
        }
        break;
    case PQ_NONE:
        break;
    }
    xfree(env_config);
    return 0;
}
