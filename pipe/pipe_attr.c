/*
 * pipe_attr.c - the pipe agent's master.cf command attributes
 *
 * Used by: pipe.c (once, at start-up, still as root).
 * Interface: pipe_attr_parse().
 * Errors: every mistake is returned with a reason; pipe.c makes it fatal,
 *         so that master throttles the transport and mail waits in the
 *         queue instead of going to the wrong user or command.
 * Notes: attributes are flags=, user=NAME[:GROUP], directory=, chroot=,
 *        eol=, null_sender=, size= and finally argv= (everything after it
 *        is the command). Names are matched without regard to case, as
 *        Postfix does. A command never runs as root, with group 0, or with
 *        the ids of $mail_owner.
 */
#include "pipe.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "pipe_command.h"
#include "unescape.h"

static const struct {
    char letter;
    int flag;
} pipe_flag_table[] = {
    { 'B', PIPE_F_BLANK },     { 'D', PIPE_F_DELIVERED },  { 'F', PIPE_F_FROM },
    { 'O', PIPE_F_ORIG },      { 'R', PIPE_F_RETURN },     { 'X', PIPE_F_FINAL },
    { 'h', PIPE_F_FOLD_HOST }, { 'q', PIPE_F_QUOTE },      { 'u', PIPE_F_FOLD_USER },
    { '.', PIPE_F_DOT },       { '>', PIPE_F_QUOTE_FROM },
};

/* Returns the value when arg is "name=value" (any case), else NULL. */
static const char *pipe_attr_value(const char *arg, const char *name)
{
    size_t n = strlen(name);
    if (strncasecmp(arg, name, n) == 0 && arg[n] == '=')
        return arg + n + 1;
    return NULL;
}

void pipe_attr_free(struct pipe_attr *a)
{
    if (a->argv) {
        for (char **p = a->argv; *p; p++)
            xfree(*p);
        xfree(a->argv);
    }
    xfree(a->user);
    xfree(a->directory);
    xfree(a->chroot_dir);
    xfree(a->null_sender);
    sbuf_free(a->eol);
    memset(a, 0, sizeof(*a));
}

/* The parser proper; on failure the caller releases what it built. */
static int pipe_attr_parse_words(struct pipe_attr *a, char **args, struct sbuf *why)
{
    const char *user = NULL, *v;
    memset(a, 0, sizeof(*a));
    a->eol = sbuf_new(4);
    sbuf_set(a->eol, "\n");
    a->null_sender = xstrdup(D_EMPTY_ADDRESS_RECIPIENT);

    for (char **p = args; p && *p; p++) {
        if ((v = pipe_attr_value(*p, "flags")) != NULL) {
            for (; *v; v++) {
                size_t i;
                for (i = 0; i < ARRAY_LEN(pipe_flag_table); i++)
                    if (pipe_flag_table[i].letter == *v)
                        break;
                if (i == ARRAY_LEN(pipe_flag_table)) {
                    sbuf_printf(why, "unknown flag: %c", *v);
                    return -1;
                }
                a->flags |= pipe_flag_table[i].flag;
            }
        } else if ((v = pipe_attr_value(*p, "user")) != NULL) {
            user = v;
        } else if ((v = pipe_attr_value(*p, "directory")) != NULL) {
            xfree(a->directory);
            a->directory = xstrdup(v);
        } else if ((v = pipe_attr_value(*p, "chroot")) != NULL) {
            xfree(a->chroot_dir);
            a->chroot_dir = xstrdup(v);
        } else if ((v = pipe_attr_value(*p, "eol")) != NULL) {
            unescape(a->eol, v);
        } else if ((v = pipe_attr_value(*p, "null_sender")) != NULL) {
            xfree(a->null_sender);
            a->null_sender = xstrdup(v);
        } else if ((v = pipe_attr_value(*p, "size")) != NULL) {
            if (!config_parse_long(v, &a->size_limit) || a->size_limit < 0) {
                sbuf_printf(why, "bad size= value: %s", v);
                return -1;
            }
        } else if ((v = pipe_attr_value(*p, "argv")) != NULL) {
            if (*v == 0) {
                sbuf_set(why, "argv= names no command");
                return -1;
            }
            /* argv= starts the command: the rest of the words are its arguments. */
            size_t n = 1;
            while (p[n])
                n++;
            a->argv = xcalloc(n + 1, sizeof(char *));
            a->argv[0] = xstrdup(v);
            for (size_t i = 1; i < n; i++)
                a->argv[i] = xstrdup(p[i]);
            break;
        } else {
            sbuf_printf(why, "unknown attribute name: %s", *p);
            return -1;
        }
    }
    if (user == NULL) {
        sbuf_set(why, "missing user= command-line attribute");
        return -1;
    }
    if (a->argv == NULL) {
        sbuf_set(why, "missing argv= command-line attribute");
        return -1;
    }

    return pipe_command_user(user, &a->uid, &a->gid, &a->user, why);
}

int pipe_attr_parse(struct pipe_attr *a, char **args, struct sbuf *why)
{
    if (pipe_attr_parse_words(a, args, why) < 0) {
        pipe_attr_free(a);
        return -1;
    }
    return 0;
}
