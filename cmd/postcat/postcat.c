/*
 * postcat.c - show the records of queue files
 *
 * Used by: the administrator.
 * Interface: postcat [-bdehoqv] [-c config_dir] [files...]
 *            -q treats the arguments as queue IDs and finds them in the
 *            queue (incoming, active, deferred, hold, maildrop, corrupt).
 * Errors: an unreadable or malformed file is reported and postcat goes on
 *         with the next one; the exit status is then 1.
 * Notes: the layout follows Postfix's postcat: "*** ENVELOPE RECORDS
 *        NAME ***", "record_name: value" lines, the content under "***
 *        MESSAGE CONTENTS NAME ***", the extracted segment under "***
 *        HEADER EXTRACTED NAME ***" and "*** MESSAGE FILE END NAME ***".
 *        -e, -h and -b select envelope, header and body (default: all);
 *        -o prefixes each record with its offset, -d with its type.
 */
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "mail_queue.h"
#include "qfile.h"
#include <fcntl.h>

#define PC_ENV 1
#define PC_HDR 2
#define PC_BODY 4

struct pc_opts {
    int show;
    bool offsets;
    bool types;
};

static const char *pc_rec_name(int type, bool in_env)
{
    switch (type) {
    case REC_SIZE: return "message_size";
    case REC_TIME: return "message_arrival_time";
    case REC_CTIME: return "create_time";
    case REC_FULLNAME: return "sender_fullname";
    case 'L': return in_env ? "content_filter" : "pointer_record";  /* envelope or extracted */
    case REC_SENDER: return "sender";
    case REC_ORCPT: return "original_recipient";
    case REC_RCPT: return "recipient";
    case REC_DONE: return "done_recipient";
    case REC_ATTR: return "named_attribute";
    case REC_WARN: return "warning_message_time";
    case REC_DSN_RET: return "dsn_return_flags";
    case REC_DSN_ENVID: return "dsn_envelope_id";
    case REC_DSN_ORCPT: return "dsn_orig_rcpt";
    case REC_DSN_NOTIFY: return "dsn_notify_flags";
    case REC_VERP: return "verp_delimiters";
    case REC_MESG: return "message_content";
    case REC_XTRA: return "message_extracted";
    case REC_RRTO: return "return_receipt";
    case REC_ERTO: return "errors_to";
    case REC_END: return "message_end";
    case 'P': return "priority";
    case 'p': return "pointer_record";
    case 'f': return "cleanup_flags";
    case 'd': return "delivered_to";
    case 'K': return "killed";
    case '>': return "redirect_to";
    case 'w': return "padding";
    default: return "unknown_record_type";
    }
}

static void pc_prefix(const struct pc_opts *o, off_t off, int type)
{
    if (o->offsets)
        printf("%9lu ", (unsigned long)off);
    if (o->types)
        printf("%3d ", type);
}

static void pc_time(const char *label, long t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    char buf[64];
    localtime_r(&tt, &tm);
    if (strftime(buf, sizeof(buf), "%a %b %e %H:%M:%S %Y", &tm) == 0)
        buf[0] = 0;
    printf("%s: %s\n", label, buf);
}

/* Prints one file; returns 0, or -1 when it is not a valid queue file. */
static int pc_file(const struct pc_opts *o, const char *path, const char *label)
{
    struct qfile_reader *r = qfile_open(path, O_RDONLY);
    if (r == NULL) {
        log_warn("open %s: %m", path);
        return -1;
    }
    struct sbuf *data = sbuf_new(1024), *line = sbuf_new(1024);
    enum { SEG_ENV, SEG_CONTENT, SEG_EXTRACTED } seg = SEG_ENV;
    bool in_header = true, saw_end = false, marker = (o->show & PC_ENV) != 0;
    int type, result = 0;
    off_t off, content_at = 0;

    if (marker)
        printf("*** ENVELOPE RECORDS %s ***\n", label);
    while ((type = qfile_get(r, data, &off)) >= 0) {
        const char *v = sbuf_str(data);
        if (type == REC_SIZE && seg == SEG_ENV) {
            long sz, at;
            if (sscanf(v, "%ld %ld", &sz, &at) == 2 && at > 0)
                content_at = (off_t)at;
        }
        if (seg == SEG_CONTENT && (type == REC_NORM || type == REC_CONT)) {
            sbuf_append(line, v, sbuf_len(data));
            if (type == REC_CONT)
                continue;
            bool separator = in_header && sbuf_len(line) == 0;
            if (separator)
                in_header = false;
            /* The empty line between header and body belongs to neither. */
            bool want = separator ? (o->show & (PC_HDR | PC_BODY)) == (PC_HDR | PC_BODY)
                                  : (o->show & (in_header ? PC_HDR : PC_BODY)) != 0;
            if (want) {
                pc_prefix(o, off, type);
                fwrite(sbuf_str(line), 1, sbuf_len(line), stdout);
                putchar('\n');
            }
            sbuf_reset(line);
            continue;
        }
        if (type == REC_MESG) {
            if (seg != SEG_ENV) {
                log_warn("%s: out-of-order message content marker", label);
                result = -1;
                break;
            }
            seg = SEG_CONTENT;
            if (marker)
                printf("*** MESSAGE CONTENTS %s ***\n", label);
            /* Headers cleanup added after the body (DKIM-Signature) come
             * first from the content offset: read the content from there. */
            if (content_at > off)
                qfile_seek(r, content_at);
            continue;
        }
        if (type == REC_XTRA) {
            if (seg != SEG_CONTENT) {
                log_warn("%s: out-of-order extracted segment marker", label);
                result = -1;
                break;
            }
            seg = SEG_EXTRACTED;
            if (marker)
                printf("*** HEADER EXTRACTED %s ***\n", label);
            continue;
        }
        if (type == REC_END) {
            saw_end = true;
            if (marker)
                printf("*** MESSAGE FILE END %s ***\n", label);
            break;
        }
        if (seg == SEG_CONTENT) {
            log_warn("%s: unexpected record type %d in message content", label, type);
            result = -1;
            break;
        }
        if (!(o->show & PC_ENV))
            continue;
        pc_prefix(o, off, type);
        switch (type) {
        case REC_TIME:
        case REC_CTIME:
            pc_time(pc_rec_name(type, seg == SEG_ENV), strtol(v, NULL, 10));
            break;
        case REC_WARN: {
            long t = strtol(v, NULL, 10);
            if (t > 0)
                pc_time(pc_rec_name(type, true), t);
            else
                printf("%s: %s\n", pc_rec_name(type, true), v);
            break;
        }
        case REC_ATTR: {
            const char *eq = strchr(v, '=');
            if (eq == NULL)
                printf("%s: malformed attribute: %.100s\n", label, v);
            else
                printf("%s: %.*s=%s\n", pc_rec_name(type, true), (int)(eq - v), v, eq + 1);
            break;
        }
        default:
            printf("%s: %s\n", pc_rec_name(type, seg != SEG_CONTENT), v);
            break;
        }
    }
    if (type < 0 && type != QFILE_E_EOF) {
        log_warn("%s: input is not a valid queue file", label);
        result = -1;
    } else if (!saw_end && result == 0) {
        log_warn("%s: file ends before the message end marker", label);
        result = -1;
    }
    fflush(stdout);
    sbuf_free(data);
    sbuf_free(line);
    qfile_close(r);
    return result;
}

static NORETURN void pc_usage(void)
{
    fprintf(stderr, "usage: postcat [-b (body text)] [-c config_dir] [-d (decimal record type)] "
                    "[-e (envelope records)] [-h (header text)] [-o (record offsets)] "
                    "[-q (access queue)] [-v] [file(s)...]\n");
    exit(1);
}

int main(int argc, char **argv)
{
    struct pc_opts o = { 0 };
    const char *cdir = NULL;
    bool by_id = false;
    int c, status = 0;

    log_set_tag("postcat");
    log_set_stderr(true);
    while ((c = getopt(argc, argv, "bc:dehoqv")) != -1) {
        switch (c) {
        case 'b': o.show |= PC_BODY; break;
        case 'c': cdir = optarg; break;
        case 'd': o.types = true; break;
        case 'e': o.show |= PC_ENV; break;
        case 'h': o.show |= PC_HDR; break;
        case 'o': o.offsets = true; break;
        case 'q': by_id = true; break;
        case 'v': log_verbose++; break;
        default: pc_usage();
        }
    }
    if (o.show == 0)
        o.show = PC_ENV | PC_HDR | PC_BODY;

    if (by_id) {
        static const char *const queues[] = { MAIL_QUEUE_INCOMING, MAIL_QUEUE_ACTIVE,
                                              MAIL_QUEUE_DEFERRED, MAIL_QUEUE_HOLD,
                                              MAIL_QUEUE_MAILDROP, MAIL_QUEUE_CORRUPT };
        if (optind == argc)
            pc_usage();
        if (config_load(cdir) < 0)
            log_fatal("%s/main.cf: configuration errors", cdir ? cdir : config_dir());
        mail_queue_init();
        if (chdir(cfg_str(P_QUEUE_DIRECTORY)) < 0)
            log_fatal("chdir %s: %m", cfg_str(P_QUEUE_DIRECTORY));
        struct sbuf *path = sbuf_new(64);
        for (int i = optind; i < argc; i++) {
            bool found = false;
            if (!mail_queue_id_ok(argv[i])) {
                log_warn("bad mail queue ID: %.100s", argv[i]);
                status = 1;
                continue;
            }
            for (size_t q = 0; q < ARRAY_LEN(queues) && !found; q++) {
                mail_queue_path(path, queues[q], argv[i]);
                if (access(sbuf_str(path), F_OK) == 0) {
                    found = true;
                    if (pc_file(&o, sbuf_str(path), sbuf_str(path)) < 0)
                        status = 1;
                }
            }
            if (!found) {
                log_warn("open queue file %s: No such file or directory", argv[i]);
                status = 1;
            }
        }
        sbuf_free(path);
    } else if (optind == argc) {
        if (pc_file(&o, "/dev/stdin", "/dev/stdin") < 0)
            status = 1;
    } else {
        for (int i = optind; i < argc; i++)
            if (pc_file(&o, argv[i], argv[i]) < 0)
                status = 1;
    }
    return status;
}
