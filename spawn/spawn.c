/*
 * spawn.c - the spawn service: one external command per connection
 *
 * Used by: master (master.cf "NAME unix - n n - 0 spawn user=USER
 *          argv=COMMAND ARGS..." or the same as an inet service; runs as
 *          root so that it can become user=).
 * Interface: main().
 * Errors: bad command attributes are fatal at start-up (master throttles
 *         the service). A command that cannot be started, fails, or runs
 *         out of time is logged; the client just sees the connection close.
 * Notes: the accepted connection becomes the command's standard input,
 *        output and error; the command talks to the client directly (a
 *        policy server such as policyd-spf behind check_policy_service).
 *        The command runs as user= (NAME or NAME:GROUP; never root nor
 *        $mail_owner) in a process group of its own, with the
 *        $export_environment variables and PATH, for at most
 *        $SERVICE_time_limit seconds (default $command_time_limit); then
 *        the whole group is killed. One process serves one connection at a
 *        time, so the master.cf process limit bounds the commands running.
 */
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "pipe_command.h"
#include "server.h"
#include <fcntl.h>

static char **spawn_argv;
static uid_t spawn_uid;
static gid_t spawn_gid;
static char *spawn_user;
static long spawn_time_limit;
static char **spawn_env;

static void spawn_service(struct stream *client)
{
    int fd = stream_fd(client);
    int fl = fcntl(fd, F_GETFL);
    if (fl >= 0 && (fl & O_NONBLOCK))
        fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    struct sbuf *output = sbuf_new(16), *why = sbuf_new(128);
    struct pipe_command_spec spec = {
        .argv = spawn_argv,
        .env = spawn_env,
        .uid = spawn_uid,
        .gid = spawn_gid,
        .user = spawn_user,
        .stdio_fd = fd,
        .time_limit = spawn_time_limit,
    };
    struct pipe_command_result res = { .output = output, .why = why };
    pipe_command_run(&spec, &res);
    switch (res.outcome) {
    case PIPE_CMD_SETUP:
        log_warn("service %s: command %s: %s", server_service_name(), spawn_argv[0],
                 sbuf_str(why));
        break;
    case PIPE_CMD_TIMEOUT:
        log_warn("service %s: command %s: time limit of %lds exceeded; killed",
                 server_service_name(), spawn_argv[0], spawn_time_limit);
        break;
    case PIPE_CMD_SIGNALED:
        log_warn("service %s: command %s killed by signal %d", server_service_name(),
                 spawn_argv[0], res.signal);
        break;
    case PIPE_CMD_EXITED:
        if (res.exit_code != 0)
            log_warn("service %s: command %s exit status %d", server_service_name(),
                     spawn_argv[0], res.exit_code);
        break;
    }
    sbuf_free(output);
    sbuf_free(why);
}

/* Command attributes: user=NAME[:GROUP] and, last, argv=COMMAND ARGS... */
static void spawn_pre_jail(void)
{
    struct sbuf *why = sbuf_new(128), *name = sbuf_new(64);
    const char *user = NULL;
    for (char **p = server_args(); p && *p; p++) {
        if (strncasecmp(*p, "user=", 5) == 0) {
            user = *p + 5;
        } else if (strncasecmp(*p, "argv=", 5) == 0) {
            *p += 5;
            spawn_argv = p;
            break;
        } else
            log_fatal("service %s: unknown attribute name: %s", server_service_name(), *p);
    }
    if (user == NULL)
        log_fatal("service %s: missing user= command-line attribute", server_service_name());
    if (spawn_argv == NULL || *spawn_argv[0] == 0)
        log_fatal("service %s: missing argv= command-line attribute", server_service_name());
    if (pipe_command_user(user, &spawn_uid, &spawn_gid, &spawn_user, why) < 0)
        log_fatal("service %s: %s", server_service_name(), sbuf_str(why));
    sbuf_printf(name, "%s_time_limit", server_service_name());
    spawn_time_limit = cfg_time_or(sbuf_str(name), P_COMMAND_TIME_LIMIT);
    spawn_env = pipe_command_env();
    sbuf_free(why);
    sbuf_free(name);
}

static void spawn_post_jail(void)
{
    if (getuid() != 0 && getuid() != spawn_uid)
        log_fatal("service %s: cannot run commands as %s without root privileges "
                  "(set the unpriv column of master.cf to n)",
                  server_service_name(), spawn_user);
}

int main(int argc, char **argv)
{
    static const struct server_ops ops = {
        .model = SERVER_SINGLE,
        .pre_jail = spawn_pre_jail,
        .post_jail = spawn_post_jail,
        .service = spawn_service,
    };
    return server_main(argc, argv, &ops);
}
