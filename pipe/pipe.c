/*
 * pipe.c - the pipe delivery agent: a message to an external command
 *
 * Used by: master (master.cf "NAME unix - n n - - pipe flags=... user=...
 *          argv=..."; runs as root so that it can become user=).
 * Interface: main().
 * Errors: bad command attributes are fatal at start-up (master throttles
 *         the transport; mail waits in the queue). A bad request is logged
 *         and the connection closed (qmgr defers).
 * Notes: one command per request for all its recipients (qmgr groups at
 *        most $TRANSPORT_destination_recipient_limit of them); its result
 *        (pipe_command_verdict) applies to each. Flags D and O need that
 *        limit to be 1, otherwise the request is deferred as a configuration
 *        error. The message is rendered into memory (message_size_limit
 *        bounds it) and fed to the command, which runs as user= in its own
 *        process group for at most $TRANSPORT_time_limit seconds. Command
 *        output becomes the reason in the log and in the bounce (as
 *        "Diagnostic-Code: x-unix; ..."). The environment holds only the
 *        $export_environment variables and PATH.
 */
#include "pipe.h"
#include "alloc.h"
#include "config.h"
#include "deliver_common.h"
#include "dsn_filter.h"
#include "log.h"
#include "pipe_command.h"
#include "server.h"
#include <ctype.h>
#include <time.h>

#define PIPE_OUTPUT_MAX 2048        /* command output kept for the reason */

static struct pipe_attr pipe_attr;
static long pipe_time_limit;
static char **pipe_env;
static struct dsn_filter *pipe_status_filter; /* pipe_delivery_status_filter */

/* ---- the message as the command sees it ---- */

struct pipe_render {
    struct sbuf *out;
    int flags;
    const char *eol;
    size_t eol_len;
};

static int pipe_render_line(const char *line, size_t len, void *ctx)
{
    struct pipe_render *p = ctx;
    if ((p->flags & PIPE_F_DOT) && len > 0 && line[0] == '.')
        sbuf_addch(p->out, '.');
    if ((p->flags & PIPE_F_QUOTE_FROM) && len >= 5 && memcmp(line, "From ", 5) == 0)
        sbuf_addch(p->out, '>');
    sbuf_append(p->out, line, len);
    sbuf_append(p->out, p->eol, p->eol_len);
    return 0;
}

/* Renders r's message for rc (the only recipient when D or O is set).
 * 0, or -1 when the queue file cannot be read. */
static int pipe_render(struct sbuf *out, struct deliver_request *r, const struct deliver_rcpt *rc)
{
    int flags = pipe_attr.flags;
    const char *eol = sbuf_str(pipe_attr.eol);
    const char *sender = *r->sender ? r->sender : pipe_attr.null_sender;
    sbuf_reset(out);
    if (flags & PIPE_F_FROM) {
        char date[64];
        time_t now = time(NULL);
        struct tm tm;
        localtime_r(&now, &tm);
        strftime(date, sizeof(date), "%a %b %e %H:%M:%S %Y", &tm);
        sbuf_catf(out, "From %s  %s%s", *r->sender ? r->sender : "MAILER-DAEMON", date, eol);
    }
    if (flags & PIPE_F_RETURN)
        sbuf_catf(out, "Return-Path: <%s>%s", sender, eol);
    if ((flags & PIPE_F_ORIG) && rc)
        sbuf_catf(out, "X-Original-To: %s%s", *rc->orig ? rc->orig : rc->address, eol);
    if ((flags & PIPE_F_DELIVERED) && rc) {
        struct sbuf *d = sbuf_new(64);
        sbuf_set(d, rc->address);
        for (char *s = sbuf_data(d); *s; s++)
            *s = (char)tolower((unsigned char)*s);
        sbuf_catf(out, "Delivered-To: %s%s", sbuf_str(d), eol);
        sbuf_free(d);
    }
    struct pipe_render p = { .out = out, .flags = flags, .eol = eol,
                             .eol_len = sbuf_len(pipe_attr.eol) };
    if (deliver_content_lines(r, pipe_render_line, &p) != 0)
        return -1;
    if (flags & PIPE_F_BLANK)
        sbuf_append(out, eol, p.eol_len);
    return 0;
}

/* ---- one request ---- */

/* Reports one result for every recipient in list. */
static void pipe_report_all(struct deliver_request *r, struct deliver_rcpt **list, size_t n,
                            enum pipe_command_kind kind, const char *dsn, const char *text)
{
    int sflags = (pipe_attr.flags & PIPE_F_FINAL) ? 0 : DELIVER_F_RELAYED;
    for (size_t i = 0; i < n; i++) {
        if (kind == PIPE_CMD_OK)
            deliver_status(r, list[i], DELIVER_SENT, sflags, dsn, "%s", text);
        else
            deliver_status(r, list[i], kind == PIPE_CMD_DEFER ? DELIVER_DEFERRED : DELIVER_BOUNCED,
                           0, dsn, "%s", text);
    }
}

/* The command line as one text for reasons: words joined by blanks. */
static void pipe_command_text(struct sbuf *out, char **argv)
{
    sbuf_reset(out);
    for (char **a = argv; *a; a++)
        sbuf_catf(out, "%s%s", a == argv ? "" : " ", *a);
}

static void pipe_service(struct stream *client)
{
    const char *service = server_service_name();
    struct deliver_request *r = deliver_request_read(client, service, pipe_status_filter);
    if (r == NULL)
        return;
    struct sbuf *msg = sbuf_new(8192), *why = sbuf_new(128), *cmdtext = sbuf_new(128);
    struct sbuf *dsn = sbuf_new(16), *reason = sbuf_new(256), *diag = sbuf_new(256);
    struct sbuf *output = sbuf_new(256), *setup = sbuf_new(128);
    struct deliver_rcpt **todo = xcalloc(r->nrcpt + 1, sizeof(*todo));
    size_t ntodo = 0;
    char **argv = NULL;
    long size = 0;
    const char *sz = attr_get(r->attrs, "content_size");

    /* size= : too large is permanent. */
    if (pipe_attr.size_limit > 0 && sz && config_parse_long(sz, &size)
        && size > pipe_attr.size_limit) {
        for (size_t i = 0; i < r->nrcpt; i++)
            deliver_bounce(r, &r->rcpts[i], "5.2.3", "message too large");
        goto done;
    }
    /* D and O describe one recipient. */
    if ((pipe_attr.flags & (PIPE_F_DELIVERED | PIPE_F_ORIG)) && r->nrcpt > 1) {
        log_warn("%s: pipe flag `%c' requires %s_destination_recipient_limit = 1",
                 r->queue_id, (pipe_attr.flags & PIPE_F_DELIVERED) ? 'D' : 'O', service);
        for (size_t i = 0; i < r->nrcpt; i++)
            deliver_defer(r, &r->rcpts[i], "4.3.5", "mail system configuration error");
        goto done;
    }
    /* D also catches loops: a Delivered-To: for this recipient already. */
    if (pipe_attr.flags & PIPE_F_DELIVERED) {
        char **seen = deliver_delivered_to(r);
        for (size_t i = 0; i < r->nrcpt; i++) {
            bool loop = false;
            for (char **s = seen; *s && !loop; s++)
                loop = strcasecmp(*s, r->rcpts[i].address) == 0;
            if (loop)
                deliver_bounce(r, &r->rcpts[i], "5.4.6", "mail forwarding loop for %s",
                               r->rcpts[i].address);
            else
                todo[ntodo++] = &r->rcpts[i];
        }
        deliver_strv_free(seen);
    } else {
        for (size_t i = 0; i < r->nrcpt; i++)
            todo[ntodo++] = &r->rcpts[i];
    }
    if (ntodo == 0)
        goto done;

    struct pipe_macros m = {
        .attr = &pipe_attr,
        .req = r,
        .rcpts = (const struct deliver_rcpt *const *)todo,
        .nrcpt = ntodo,
        .delimiters = cfg_str(P_RECIPIENT_DELIMITER),
    };
    argv = pipe_expand_argv(&m, why);
    if (argv == NULL) {
        log_warn("%s: service %s: argv=: %s", r->queue_id, service, sbuf_str(why));
        pipe_report_all(r, todo, ntodo, PIPE_CMD_DEFER, "4.3.5",
                        "mail system configuration error");
        goto done;
    }
    pipe_command_text(cmdtext, argv);
    if (r->flags & DELIVER_REQ_F_CHECK_ONLY) {
        /* A probe: the command would be run; it is not. */
        for (size_t i = 0; i < ntodo; i++)
            deliver_sent(r, todo[i], "2.0.0", "delivers to command: %s", sbuf_str(cmdtext));
        goto done;
    }
    if (pipe_render(msg, r, ntodo == 1 ? todo[0] : NULL) < 0) {
        pipe_report_all(r, todo, ntodo, PIPE_CMD_DEFER, "4.3.0", "queue file read error");
        goto done;
    }
    struct pipe_command_spec spec = {
        .argv = argv,
        .env = pipe_env,
        .uid = pipe_attr.uid,
        .gid = pipe_attr.gid,
        .user = pipe_attr.user,
        .chroot_dir = pipe_attr.chroot_dir,
        .directory = pipe_attr.directory,
        .stdio_fd = -1,
        .input = sbuf_str(msg),
        .input_len = sbuf_len(msg),
        .time_limit = pipe_time_limit,
        .output_max = PIPE_OUTPUT_MAX,
    };
    struct pipe_command_result res = { .output = output, .why = setup };
    pipe_command_run(&spec, &res);
    if (res.outcome == PIPE_CMD_SETUP)
        log_warn("%s: service %s: %s", r->queue_id, service, sbuf_str(setup));
    enum pipe_command_kind kind = pipe_command_verdict(&res, sbuf_str(cmdtext), dsn, reason, diag);
    if (kind == PIPE_CMD_OK) {
        sbuf_printf(reason, "delivered via %s service", service);
    } else {
        r->diag_type = "x-unix";
        r->diag_text = sbuf_str(diag);
    }
    pipe_report_all(r, todo, ntodo, kind, sbuf_str(dsn), sbuf_str(reason));
    r->diag_type = r->diag_text = NULL;

done:
    cfg_list_free(argv);
    xfree(todo);
    sbuf_free(msg);
    sbuf_free(why);
    sbuf_free(cmdtext);
    sbuf_free(dsn);
    sbuf_free(reason);
    sbuf_free(diag);
    sbuf_free(output);
    sbuf_free(setup);
    deliver_request_done(client, r);
}

/* ---- start-up ---- */

static void pipe_pre_jail(void)
{
    struct sbuf *why = sbuf_new(128), *name = sbuf_new(64);
    pipe_status_filter =
        dsn_filter_new(P_PIPE_DELIVERY_STATUS_FILTER, cfg_str(P_PIPE_DELIVERY_STATUS_FILTER));
    if (pipe_attr_parse(&pipe_attr, server_args(), why) < 0)
        log_fatal("service %s: %s", server_service_name(), sbuf_str(why));
    sbuf_printf(name, "%s_time_limit", server_service_name());
    pipe_time_limit = cfg_time_or(sbuf_str(name), P_COMMAND_TIME_LIMIT);
    pipe_env = pipe_command_env();
    sbuf_free(why);
    sbuf_free(name);
}

/* Without root (master.cf unpriv column "y", or run by hand) the commands
 * would run as this process's own user, e.g. $mail_owner: refuse. */
static void pipe_post_jail(void)
{
    if (getuid() != 0 && getuid() != pipe_attr.uid)
        log_fatal("service %s: cannot run commands as %s without root privileges "
                  "(set the unpriv column of master.cf to n)",
                  server_service_name(), pipe_attr.user);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .pre_jail = pipe_pre_jail,
        .post_jail = pipe_post_jail,
        .service = pipe_service,
        .delivery = true,
    };
    return server_main(argc, argv, &ops);
}
