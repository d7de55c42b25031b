/*
 * sendmail_args.c - sendmail command line: modes, options, recipients
 *
 * Used by: sendmail.c; tests/unit/sendmail_args_test.c.
 * Interface: sendmail_parse_args(), sendmail_opts_free().
 * Errors: returns a sysexits code and a message; options that Postfix
 *         accepts but ignores, or ignores when malformed (-N, -R, -V),
 *         only log a warning.
 * Notes: option letters and their treatment follow Postfix's sendmail(1).
 *        Addresses are converted to the internal form (unquoted local
 *        part) with addr_parse_list(), so "Name <a@b>, c@d" works.
 */
#include "addr.h"
#include "alloc.h"
#include "dsn_notify.h"
#include "log.h"
#include "qfile.h"
#include "sendmail.h"
#include <getopt.h>
#include <strings.h>
#include <sys/stat.h>
#include <sysexits.h>

#define SM_MAX_ADDRS_PER_ARG 1000

void sendmail_opts_free(struct sendmail_opts *o)
{
    xfree(o->sender);
    xfree(o->fullname);
    xfree(o->envid);
    xfree(o->verp);
    xfree(o->config_dir);
    xfree(o->alias_file);
    xfree(o->site);
    for (size_t i = 0; i < o->nrcpt; i++)
        xfree(o->rcpts[i]);
    xfree(o->rcpts);
    memset(o, 0, sizeof(*o));
}

static void sm_add_rcpt(struct sendmail_opts *o, const char *addr)
{
    o->rcpts = xreallocarray(o->rcpts, o->nrcpt + 1, sizeof(char *));
    o->rcpts[o->nrcpt++] = xstrdup(addr);
}

/* An ENVID must be printable ASCII without spaces and not too long. */
static bool sm_envid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > 100)
        return false;
    for (; *s; s++)
        if ((unsigned char)*s < 0x21 || (unsigned char)*s > 0x7e)
            return false;
    return true;
}

/* Parses one address argument into the internal form: "" or "<>" is the
 * null address; "Name <a@b>" yields a@b. Returns the number of addresses
 * appended to out (0 for the null address, -1 for junk). */
static int sm_parse_addrs(const char *arg, struct addr_items *out)
{
    const char *p = arg;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p == 0 || strcmp(p, "<>") == 0)
        return 0;
    size_t n = addr_parse_list(arg, strlen(arg), SM_MAX_ADDRS_PER_ARG, out);
    return n == 0 ? -1 : (int)n;
}

static int sm_usage(struct sbuf *err, const char *fmt, const char *arg)
{
    sbuf_printf(err, fmt, arg);
    return EX_USAGE;
}

int sendmail_parse_args(struct sendmail_opts *o, int argc, char **argv, struct sbuf *err)
{
    int c;
    const char *slash = strrchr(argv[0], '/');
    const char *name = slash ? slash + 1 : argv[0];

    memset(o, 0, sizeof(*o));
    o->mode = SM_MODE_ENQUEUE;
    o->dot_ends = true;
    if (strcmp(name, "mailq") == 0)
        o->mode = SM_MODE_MAILQ;
    else if (strcmp(name, "newaliases") == 0)
        o->mode = SM_MODE_NEWALIASES;

    optind = 0;                 /* full getopt reset (tests parse repeatedly) */
    opterr = 0;
    while ((c = getopt(argc, argv, "+A:B:C:F:GIL:N:O:R:UV:X:b:c:e:f:h:imno:p:q::r:tvx")) != -1) {
        switch (c) {
        case 'A':
        case 'G':
        case 'L':
        case 'O':
        case 'U':
        case 'e':
        case 'h':
        case 'm':
        case 'n':
        case 'p':
        case 'x':
            log_debug(1, "-%c option ignored", c);
            break;
        case 'B':
            if (strcasecmp(optarg, "8BITMIME") != 0 && strcasecmp(optarg, "7BIT") != 0)
                return sm_usage(err, "-B option needs 8BITMIME or 7BIT%s", "");
            break;
        case 'C':
        case 'c': {
            struct stat st;
            xfree(o->config_dir);
            if (stat(optarg, &st) == 0 && !S_ISDIR(st.st_mode) && strrchr(optarg, '/')) {
                const char *s = strrchr(optarg, '/');
                o->config_dir = s == optarg ? xstrdup("/") : xstrndup(optarg, (size_t)(s - optarg));
            } else if (stat(optarg, &st) == 0 && !S_ISDIR(st.st_mode)) {
                o->config_dir = xstrdup(".");
            } else {
                o->config_dir = xstrdup(optarg);
            }
            break;
        }
        case 'F':
            xfree(o->fullname);
            o->fullname = xstrdup(optarg);
            break;
        case 'I':
            o->mode = SM_MODE_NEWALIASES;
            break;
        case 'N': {
            int bits = dsn_notify_parse(optarg);
            if (bits < 0)
                log_warn("bad -N option value -- ignored");
            else
                o->notify = bits;
            break;
        }
        case 'R': {
            int ret = dsn_ret_parse(optarg);
            if (ret < 0)
                log_warn("bad -R option value -- ignored");
            else
                o->ret = ret;
            break;
        }
        case 'V':
            if (!sm_envid_ok(optarg)) {
                log_warn("bad syntax in -V option value -- ignored");
            } else {
                xfree(o->envid);
                o->envid = xstrdup(optarg);
            }
            break;
        case 'X':
            /* -XV[delims]: VERP (checked against verp_delimiter_filter once
             * the configuration is read). Otherwise -X is sendmail's
             * traffic log file, which Postfix ignores too. */
            if (optarg[0] == 'V') {
                xfree(o->verp);
                o->verp = xstrdup(optarg + 1);
            } else {
                log_debug(1, "-X%s option ignored", optarg);
            }
            break;
        case 'b':
            switch (optarg[0]) {
            case 'd':
                o->mode = SM_MODE_DAEMON;
                break;
            case 'i':
                o->mode = SM_MODE_NEWALIASES;
                break;
            case 'l':
            case 's':
                o->mode = SM_MODE_SMTP;
                break;
            case 'm':
                o->mode = SM_MODE_ENQUEUE;
                break;
            case 'p':
                o->mode = SM_MODE_MAILQ;
                break;
            case 'v':
                o->mode = SM_MODE_VERIFY;
                break;
            default:
                return sm_usage(err, "unsupported: -b%s", optarg);
            }
            break;
        case 'f':
        case 'r': {
            struct addr_items items = { 0 };
            int n = sm_parse_addrs(optarg, &items);
            if (n < 0 || n > 1) {
                addr_items_free(&items);
                return sm_usage(err, "-f option specified malformed sender: %s", optarg);
            }
            xfree(o->sender);
            o->sender = xstrdup(n == 1 ? items.v[0].addr : "");
            addr_items_free(&items);
            break;
        }
        case 'i':
            o->dot_ends = false;
            break;
        case 'o':
            switch (optarg[0]) {
            case 'A':
                if (optarg[1] == 0)
                    return sm_usage(err, "-oA requires pathname%s", "");
                xfree(o->alias_file);
                o->alias_file = xstrdup(optarg + 1);
                break;
            case 'i':
                o->dot_ends = false;
                break;
            default:
                log_debug(1, "-o%s option ignored", optarg);
                break;
            }
            break;
        case 'q':
            if (optarg == NULL || optarg[0] == 0) {
                o->mode = SM_MODE_FLUSH;
            } else if (optarg[0] == 'R' || optarg[0] == 'I') {
                const char *arg = optarg + 1;
                if (*arg == 0) {
                    if (optind >= argc)
                        return sm_usage(err, "-q%s requires an argument", optarg);
                    arg = argv[optind++];
                }
                if (o->mode != SM_MODE_ENQUEUE)
                    return sm_usage(err, "-q%s can be used only in delivery mode", optarg);
                o->mode = optarg[0] == 'R' ? SM_MODE_FLUSH_SITE : SM_MODE_FLUSH_ID;
                xfree(o->site);
                o->site = xstrdup(arg);
            } else if (optarg[0] >= '0' && optarg[0] <= '9') {
                /* -q interval: periodic queue runs are master's job. */
                if (o->mode == SM_MODE_ENQUEUE)
                    o->mode = SM_MODE_NOTHING;
            } else {
                sbuf_printf(err, "-q%c is not implemented", optarg[0]);
                return EX_USAGE;
            }
            break;
        case 't':
            o->extract = true;
            break;
        case 'v':
            o->verbose++;
            break;
        case '?':
        default:
            if (optopt && strchr("ABCFLNORVXbcefhopr", optopt))
                sbuf_printf(err, "option -%c requires an argument", optopt);
            else
                sbuf_printf(err, "usage: %s [options] [recipient ...] (unknown option -%c)", name,
                            optopt ? optopt : '?');
            return EX_USAGE;
        }
    }

    /* Modes other than delivery take no recipients. */
    static const struct {
        enum sendmail_mode mode;
        const char *text;
    } no_rcpt[] = {
        { SM_MODE_MAILQ, "display queue mode requires no recipient" },
        { SM_MODE_NEWALIASES, "alias initialization mode requires no recipient" },
        { SM_MODE_DAEMON, "daemon mode requires no recipient" },
        { SM_MODE_SMTP, "stand-alone mode requires no recipient" },
        { SM_MODE_FLUSH, "flush queue mode requires no recipient" },
        { SM_MODE_FLUSH_SITE, "flush site requires no recipient" },
        { SM_MODE_FLUSH_ID, "flush queue_id requires no recipient" },
    };
    for (size_t i = 0; i < ARRAY_LEN(no_rcpt); i++)
        if (o->mode == no_rcpt[i].mode && optind < argc)
            return sm_usage(err, "%s", no_rcpt[i].text);
    if (o->mode == SM_MODE_VERIFY && o->extract)
        return sm_usage(err, "-t option cannot be used with -bv%s", "");
    if (o->extract && o->mode != SM_MODE_ENQUEUE && o->mode != SM_MODE_VERIFY)
        return sm_usage(err, "-t can be used only in delivery mode%s", "");

    for (int i = optind; i < argc; i++) {
        struct addr_items items = { 0 };
        int n = sm_parse_addrs(argv[i], &items);
        if (n < 0) {
            addr_items_free(&items);
            return sm_usage(err, "bad recipient address syntax: %s", argv[i]);
        }
        for (size_t k = 0; k < items.n; k++)
            sm_add_rcpt(o, items.v[k].addr);
        addr_items_free(&items);
    }
    return 0;
}
