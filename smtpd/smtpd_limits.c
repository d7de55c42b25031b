/*
 * smtpd_limits.c - client limits and abuse resistance: anvil connection
 *                  count and rate limits, message/recipient/AUTH/TLS rate
 *                  limits, the junk command limit, queue file system
 *                  space (queue_minfree), stress mode and the per-client
 *                  EHLO keyword filter
 *
 * Used by: smtpd.c (session start and end, command loop), smtpd_cmd.c
 *          (MAIL, RCPT, EHLO), smtpd_sasl.c (AUTH), smtpd_tls.c (STARTTLS,
 *          wrapper mode).
 * Interface: smtpd_limits_init(), smtpd_limits_connect(),
 *            smtpd_limits_disconnect(), smtpd_limits_mail(),
 *            smtpd_limits_rcpt(), smtpd_limits_auth(), smtpd_limits_newtls(),
 *            smtpd_limits_queue_space(),
 *            smtpd_limits_command(), smtpd_limits_wait(),
 *            smtpd_limits_stress(), smtpd_limits_ehlo_discard(),
 *            smtpd_limits_exempt().
 * Errors: a limit that is hit is answered with Postfix's reply and logged
 *         with Postfix's warning; when anvil cannot be reached the limits
 *         are simply not enforced (logged once by anvil_clnt.c).
 * Notes: stress mode. master runs new smtpd processes with "-o stress=yes"
 *        once every process of the service is busy, and sends SIGURG to
 *        the busy ones (its default action is to ignore it, so a program
 *        that does not know about stress is unaffected). On that signal
 *        this process re-reads the ${stress?...} parameters (smtpd_timeout,
 *        smtpd_hard_error_limit, smtpd_junk_command_limit) as if it had been
 *        started with stress=yes. In stress mode, and only while other
 *        clients wait in the listen queue, a client that has not sent a
 *        single command within SMTPD_STRESS_IDLE_MS of the greeting is
 *        disconnected with "421 4.4.2 ... timeout exceeded": a real client
 *        answers the greeting within a round trip, while idle connections
 *        would otherwise hold every process for smtpd_timeout each and
 *        starve the clients queued behind them.
 */
#include "smtpd.h"
#include "alloc.h"
#include "anvil_clnt.h"
#include "config.h"
#include "ehlo_discard.h"
#include "log.h"
#include "maps.h"
#include "master_status.h"
#include "mynetworks.h"
#include "server.h"
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/statvfs.h>

#define SMTPD_STRESS_IDLE_MS 1000   /* stress: grace for the first command */
#define SMTPD_WAIT_SLICE_MS 200     /* how often a waiting session re-checks */
#define SMTPD_LISTEN_MAX 16

struct smtpd_limits_sess {
    bool anvil_connected;       /* anvil counts this connection */
    bool exempt;                /* smtpd_client_event_limit_exceptions */
    bool spoke;                 /* the client has sent a command */
    int junk;                   /* junk commands since the last delivery */
    int data_ok;                /* DATA successes seen (junk counter reset) */
    char *discard_addr;         /* the client address the list was chosen for
                                 * (XCLIENT may change it), NULL: not yet */
    char **discard;             /* the keywords not to offer this client */
};

static struct {
    int conn_count, conn_rate, msg_rate, rcpt_rate, newtls_rate, auth_rate;
    int junk_limit;
    long queue_minfree, msg_size_limit;
    struct mynetworks *exceptions;
    struct ehlo_discard *discard;   /* smtpd_discard_ehlo_keywords and its address maps */
    struct anvil_clnt *anvil;
    bool stress;
    int listen_fds[SMTPD_LISTEN_MAX];
    int nlisten;
} smtpd_lim;

static volatile sig_atomic_t smtpd_stress_signal;

static void smtpd_limits_on_sigurg(int sig)
{
    (void)sig;
    smtpd_stress_signal = 1;
}

/* Re-reads the parameters whose defaults depend on ${stress}. */
static void smtpd_limits_read_stress_params(void)
{
    smtpd_cfg.timeout = (int)cfg_time(P_SMTPD_TIMEOUT);
    smtpd_cfg.per_request_deadline = cfg_bool(P_SMTPD_PER_REQUEST_DEADLINE);
    smtpd_cfg.hard_error_limit = cfg_int(P_SMTPD_HARD_ERROR_LIMIT);
    smtpd_lim.junk_limit = cfg_int(P_SMTPD_JUNK_COMMAND_LIMIT);
}

/* Applies a stress notice from master, once. */
static void smtpd_limits_check_signal(struct smtpd_state *st)
{
    if (!smtpd_stress_signal || smtpd_lim.stress)
        return;
    smtpd_lim.stress = true;
    config_override(P_STRESS, "yes");
    smtpd_limits_read_stress_params();
    if (st && st->client) {
        stream_set_timeout(st->client, smtpd_cfg.timeout);
        stream_set_deadline(st->client, smtpd_cfg.per_request_deadline);
    }
    log_debug(1, "stress mode: smtpd_timeout=%d smtpd_hard_error_limit=%d", smtpd_cfg.timeout,
              smtpd_cfg.hard_error_limit);
}

void smtpd_limits_init(void)
{
    smtpd_lim.conn_count = cfg_int(P_SMTPD_CLIENT_CONNECTION_COUNT_LIMIT);
    smtpd_lim.conn_rate = cfg_int(P_SMTPD_CLIENT_CONNECTION_RATE_LIMIT);
    smtpd_lim.msg_rate = cfg_int(P_SMTPD_CLIENT_MESSAGE_RATE_LIMIT);
    smtpd_lim.rcpt_rate = cfg_int(P_SMTPD_CLIENT_RECIPIENT_RATE_LIMIT);
    smtpd_lim.newtls_rate = cfg_int(P_SMTPD_CLIENT_NEW_TLS_SESSION_RATE_LIMIT);
    smtpd_lim.auth_rate = cfg_int(P_SMTPD_CLIENT_AUTH_RATE_LIMIT);
    smtpd_lim.junk_limit = cfg_int(P_SMTPD_JUNK_COMMAND_LIMIT);
    smtpd_lim.queue_minfree = cfg_long(P_QUEUE_MINFREE);
    smtpd_lim.msg_size_limit = cfg_long(P_MESSAGE_SIZE_LIMIT);
    smtpd_lim.exceptions = mynetworks_new(P_SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS,
                                          cfg_str(P_SMTPD_CLIENT_EVENT_LIMIT_EXCEPTIONS), false);
    smtpd_lim.discard = ehlo_discard_new(cfg_str(P_SMTPD_DISCARD_EHLO_KEYWORDS),
                                         P_SMTPD_DISCARD_EHLO_KEYWORD_ADDRESS_MAPS,
                                         cfg_str(P_SMTPD_DISCARD_EHLO_KEYWORD_ADDRESS_MAPS));
    if (smtpd_lim.conn_count > 0 || smtpd_lim.conn_rate > 0 || smtpd_lim.msg_rate > 0
        || smtpd_lim.rcpt_rate > 0 || smtpd_lim.newtls_rate > 0 || smtpd_lim.auth_rate > 0)
        smtpd_lim.anvil = anvil_clnt_new();
    const char *stress = cfg_str(P_STRESS);
    smtpd_lim.stress = strcasecmp(stress, "yes") == 0;

    /* Our listening sockets, to see whether other clients are waiting. */
    for (int fd = MASTER_LISTEN_FD; fd < MASTER_LISTEN_FD + SMTPD_LISTEN_MAX; fd++) {
        int on = 0;
        socklen_t len = sizeof(on);
        if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &on, &len) < 0 || !on)
            break;
        smtpd_lim.listen_fds[smtpd_lim.nlisten++] = fd;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = smtpd_limits_on_sigurg;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGURG, &sa, NULL);
}

bool smtpd_limits_stress(void)
{
    smtpd_limits_check_signal(NULL);
    return smtpd_lim.stress;
}

static struct smtpd_limits_sess *smtpd_limits_sess(struct smtpd_state *st)
{
    if (st->limits == NULL)
        st->limits = xcalloc(1, sizeof(*st->limits));
    return st->limits;
}

/* A TCP client (not "smtpd -S" on a pipe): only those are counted. */
static bool smtpd_limits_networked(const struct smtpd_state *st)
{
    if (st->peer_tcp != 0)
        return st->peer_tcp == 1;   /* smtpd_peer_init() looked already */
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getpeername(stream_fd(st->client), (struct sockaddr *)&ss, &len) < 0)
        return false;
    return ss.ss_family == AF_INET || ss.ss_family == AF_INET6;
}

bool smtpd_limits_exempt(struct smtpd_state *st)
{
    return smtpd_limits_sess(st)->exempt;
}

static const char *smtpd_limits_service(void)
{
    const char *s = server_service_name();
    return s && *s ? s : "smtp";
}

bool smtpd_limits_connect(struct smtpd_state *st)
{
    struct smtpd_limits_sess *ls = smtpd_limits_sess(st);
    smtpd_limits_check_signal(st);
    ls->exempt = !smtpd_limits_networked(st)
                 || mynetworks_match(smtpd_lim.exceptions, st->addr, st->name) == 1;
    if (smtpd_lim.anvil == NULL || ls->exempt)
        return true;
    long count = 0, rate = 0;
    if (anvil_clnt_connect(smtpd_lim.anvil, smtpd_limits_service(), st->addr, &count, &rate)
        != ANVIL_STAT_OK)
        return true;
    ls->anvil_connected = true;
    const char *what = NULL;
    long value = 0;
    if (smtpd_lim.conn_count > 0 && count > smtpd_lim.conn_count) {
        what = "Connection concurrency limit exceeded";
        value = count;
    } else if (smtpd_lim.conn_rate > 0 && rate > smtpd_lim.conn_rate) {
        what = "Connection rate limit exceeded";
        value = rate;
    }
    if (what == NULL)
        return true;
    struct sbuf *r = sbuf_new(128);
    sbuf_printf(r, "421 4.7.0 %s Error: too many connections from %s\r\n", smtpd_cfg.myhostname,
                st->addr);
    stream_write(st->client, sbuf_str(r), sbuf_len(r));
    stream_flush(st->client);
    sbuf_free(r);
    log_warn("%s: %ld from %s for service %s", what, value, st->namaddr, smtpd_limits_service());
    return false;
}

void smtpd_limits_disconnect(struct smtpd_state *st)
{
    struct smtpd_limits_sess *ls = st->limits;
    smtpd_xclient_session_end(st);
    if (ls == NULL)
        return;
    if (ls->anvil_connected && smtpd_lim.anvil)
        anvil_clnt_disconnect(smtpd_lim.anvil, smtpd_limits_service(), st->addr);
    cfg_list_free(ls->discard);
    xfree(ls->discard_addr);
    xfree(ls);
    st->limits = NULL;
}

/* Counts one event with anvil; true when the rate is above limit. */
static bool smtpd_limits_rate(struct smtpd_state *st, int limit,
                              int (*fn)(struct anvil_clnt *, const char *, const char *, long *),
                              long *rate)
{
    if (limit <= 0 || smtpd_lim.anvil == NULL || smtpd_limits_sess(st)->exempt)
        return false;
    if (fn(smtpd_lim.anvil, smtpd_limits_service(), st->addr, rate) != ANVIL_STAT_OK)
        return false;
    return *rate > limit;
}

bool smtpd_limits_mail(struct smtpd_state *st)
{
    long rate = 0;
    if (!smtpd_limits_rate(st, smtpd_lim.msg_rate, anvil_clnt_message, &rate))
        return true;
    smtpd_reply(st, "450 4.7.1 Error: too much mail from %s", st->addr);
    log_warn("Message delivery request rate limit exceeded: %ld from %s for service %s", rate,
             st->namaddr, smtpd_limits_service());
    return false;
}

static long smtpd_limits_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

bool smtpd_limits_queue_space(struct smtpd_state *st, long size)
{
    /* The process runs in the queue directory (chrooted or not). The
     * answer is kept for a second: a client sending one message per
     * connection otherwise costs a statvfs() per message. */
    static unsigned long long avail;
    static long when = -1;
    long now = smtpd_limits_now_ms();
    if (when < 0 || now - when >= 1000) {
        struct statvfs fs;
        if (statvfs(".", &fs) < 0) {
            log_warn("statvfs queue directory: %m");
            return true;        /* cleanup will find out for itself */
        }
        avail = (unsigned long long)fs.f_bavail * fs.f_frsize;
        when = now;
    }
    unsigned long long minfree = 0, limit = 0;
    if (smtpd_lim.queue_minfree > 0)
        minfree = (unsigned long long)smtpd_lim.queue_minfree;
    if (smtpd_lim.msg_size_limit > 0)
        limit = (unsigned long long)smtpd_lim.msg_size_limit;
    const char *why = NULL;
    if (avail <= minfree)
        why = "below queue_minfree";
    else if (limit > 0 && avail < limit + limit / 2)
        why = "below 1.5*message_size_limit";
    else if (size > 0 && (unsigned long long)size > avail - minfree)
        why = "below the declared message SIZE plus queue_minfree";
    if (why == NULL)
        return true;
    const char *reply = "452 4.3.1 Insufficient system storage";
    log_warn("not enough free space in mail queue: %llu bytes %s", avail, why);
    smtpd_log_reject(st, "reject", "MAIL", reply, NULL);
    smtpd_reply(st, "%s", reply);
    return false;
}

bool smtpd_limits_rcpt(struct smtpd_state *st)
{
    long rate = 0;
    if (!smtpd_limits_rate(st, smtpd_lim.rcpt_rate, anvil_clnt_recipient, &rate))
        return true;
    smtpd_reply(st, "450 4.7.1 Error: too many recipients from %s", st->addr);
    log_warn("Recipient address rate limit exceeded: %ld from %s for service %s", rate,
             st->namaddr, smtpd_limits_service());
    return false;
}

bool smtpd_limits_auth(struct smtpd_state *st)
{
    long rate = 0;
    if (!smtpd_limits_rate(st, smtpd_lim.auth_rate, anvil_clnt_auth, &rate))
        return true;
    smtpd_reply(st, "450 4.7.1 Error: too many AUTH commands from %s", st->addr);
    log_warn("AUTH command rate limit exceeded: %ld from %s for service %s", rate, st->namaddr,
             smtpd_limits_service());
    return false;
}

bool smtpd_limits_newtls(struct smtpd_state *st, bool wrapper)
{
    long rate = 0;
    if (!smtpd_limits_rate(st, smtpd_lim.newtls_rate, anvil_clnt_newtls, &rate))
        return true;
    if (wrapper) {
        struct sbuf *r = sbuf_new(128);
        sbuf_printf(r, "421 4.7.0 %s Error: too many new TLS sessions from %s\r\n",
                    smtpd_cfg.myhostname, st->addr);
        stream_write(st->client, sbuf_str(r), sbuf_len(r));
        stream_flush(st->client);
        sbuf_free(r);
    } else
        smtpd_reply(st, "454 4.7.0 Error: too many new TLS sessions from %s", st->addr);
    log_warn("New TLS session rate limit exceeded: %ld from %s for service %s", rate, st->namaddr,
             smtpd_limits_service());
    return false;
}

void smtpd_limits_command(struct smtpd_state *st, enum smtpd_cmd_id id)
{
    struct smtpd_limits_sess *ls = smtpd_limits_sess(st);
    ls->spoke = true;
    smtpd_limits_check_signal(st);
    /* "The junk command count is reset after mail is delivered." */
    if (st->counts[SMTPD_C_DATA][0] + st->counts[SMTPD_C_BDAT][0] != ls->data_ok) {
        ls->data_ok = st->counts[SMTPD_C_DATA][0] + st->counts[SMTPD_C_BDAT][0];
        ls->junk = 0;
    }
    if (smtpd_cmd_flags(id) & SMTPD_CMD_F_JUNK) {
        if (ls->junk++ > smtpd_lim.junk_limit)
            st->error_count++;
    }
}

/* True when another client waits in one of our listen queues. */
static bool smtpd_limits_queue_busy(void)
{
    struct pollfd pfd[SMTPD_LISTEN_MAX];
    for (int i = 0; i < smtpd_lim.nlisten; i++)
        pfd[i] = (struct pollfd){ .fd = smtpd_lim.listen_fds[i], .events = POLLIN };
    return smtpd_lim.nlisten > 0 && poll(pfd, (nfds_t)smtpd_lim.nlisten, 0) > 0;
}

bool smtpd_limits_wait(struct smtpd_state *st)
{
    struct smtpd_limits_sess *ls = smtpd_limits_sess(st);
    /* TLS may hold decrypted input the socket does not show: let the
     * stream's own deadline handle those sessions. */
    if (st->tls_active || stream_pending(st->client) > 0)
        return true;
    int fd = stream_fd(st->client);
    long start = smtpd_limits_now_ms();
    for (;;) {
        smtpd_limits_check_signal(st);
        long limit = (long)smtpd_cfg.timeout * 1000;
        if (smtpd_lim.stress && !ls->spoke && limit > SMTPD_STRESS_IDLE_MS
            && smtpd_limits_queue_busy())
            limit = SMTPD_STRESS_IDLE_MS;
        long left = start + limit - smtpd_limits_now_ms();
        if (smtpd_cfg.timeout <= 0)
            left = SMTPD_WAIT_SLICE_MS;     /* no deadline: just keep waiting */
        if (left <= 0)
            break;
        struct pollfd pfd = { .fd = fd, .events = POLLIN };
        int n = log_poll(&pfd, 1, (int)(left < SMTPD_WAIT_SLICE_MS ? left : SMTPD_WAIT_SLICE_MS));
        if (n != 0 && (n > 0 || errno != EINTR)) {
            /* Ready (or an error for the stream to report): the wait is
             * part of the request's deadline when there is one. */
            stream_spend(st->client, smtpd_limits_now_ms() - start);
            return true;
        }
    }
    struct sbuf *r = sbuf_new(128);
    sbuf_printf(r, "421 4.4.2 %s Error: timeout exceeded\r\n", smtpd_cfg.myhostname);
    stream_write(st->client, sbuf_str(r), sbuf_len(r));
    stream_flush(st->client);
    sbuf_free(r);
    log_info("timeout after %s from %s", st->where, st->namaddr);
    return false;
}

/* The client's list is the address map's answer when it has one, else
 * smtpd_discard_ehlo_keywords (Postfix's rule: the answer replaces the
 * list), chosen once per session and again when XCLIENT names another
 * client address. */
bool smtpd_limits_ehlo_discard(struct smtpd_state *st, const char *kw)
{
    struct smtpd_limits_sess *ls = smtpd_limits_sess(st);
    if (ls->discard_addr == NULL || strcmp(ls->discard_addr, st->addr) != 0) {
        cfg_list_free(ls->discard);
        xfree(ls->discard_addr);
        ls->discard_addr = xstrdup(st->addr);
        ls->discard = ehlo_discard_lookup(smtpd_lim.discard, st->addr);
    }
    return ehlo_discard_has(ls->discard, kw);
}
