/*
 * postsuper_args.c - postsuper command-line parsing and report wording
 *
 * Used by: postsuper.c; tests/unit/postsuper_test.c (includes this file).
 * Interface: see postsuper.h.
 * Errors: ps_parse_args() returns -1 and describes the problem in err.
 */
#include "postsuper.h"
#include "alloc.h"
#include "mail_queue.h"
#include <getopt.h>

static const char *const ps_queues[] = { MAIL_QUEUE_MAILDROP, MAIL_QUEUE_INCOMING,
                                         MAIL_QUEUE_ACTIVE, MAIL_QUEUE_DEFERRED,
                                         MAIL_QUEUE_HOLD };

bool ps_queue_known(const char *name)
{
    for (size_t i = 0; i < ARRAY_LEN(ps_queues); i++)
        if (strcmp(name, ps_queues[i]) == 0)
            return true;
    return false;
}

static void ps_add(struct ps_args *a, enum ps_op op, const char *id)
{
    a->ids[op] = xreallocarray(a->ids[op], a->nids[op] + 2, sizeof(char *));
    a->ids[op][a->nids[op]++] = xstrdup(id);
    a->ids[op][a->nids[op]] = NULL;
}

int ps_parse_args(struct ps_args *a, int argc, char **argv, struct sbuf *err)
{
    int c;
    memset(a, 0, sizeof(*a));
    optind = 0;     /* glibc: full re-initialisation (tests parse repeatedly) */
    opterr = 0;
    while ((c = getopt(argc, argv, "c:d:e:f:h:H:pr:sSv")) != -1) {
        switch (c) {
        case 'c':
            a->config_dir = optarg;
            break;
        case 'd':
            ps_add(a, PS_DELETE, optarg);
            break;
        case 'e':
            ps_add(a, PS_EXPIRE, optarg);
            break;
        case 'f':
            /* expire, and release from hold so that it is seen */
            ps_add(a, PS_EXPIRE, optarg);
            ps_add(a, PS_RELEASE, optarg);
            break;
        case 'h':
            ps_add(a, PS_HOLD, optarg);
            break;
        case 'H':
            ps_add(a, PS_RELEASE, optarg);
            break;
        case 'p':
            a->purge = true;
            break;
        case 'r':
            ps_add(a, PS_REQUEUE, optarg);
            break;
        case 's':
        case 'S':
            a->structure = true;
            break;
        case 'v':
            a->verbose++;
            break;
        default:
            sbuf_printf(err, "usage: postsuper [-c config_dir] [-d queue_id (delete)] "
                             "[-e queue_id (expire)] [-f queue_id (expire and/or un-hold)] "
                             "[-h queue_id (hold)] [-H queue_id (un-hold)] "
                             "[-p (purge temporary files)] [-r queue_id (requeue)] "
                             "[-s (structure fix)] [-v (verbose)] [queue...]");
            return -1;
        }
    }
    for (int i = 0; i < PS_OP_COUNT; i++) {
        for (size_t j = 0; j < a->nids[i]; j++) {
            const char *id = a->ids[i][j];
            if (strcmp(id, "ALL") != 0 && strcmp(id, "-") != 0 && !mail_queue_id_ok(id)) {
                sbuf_printf(err, "invalid mail queue id: %.100s", id);
                return -1;
            }
        }
    }
    if (optind < argc) {
        for (int i = optind; i < argc; i++) {
            if (!ps_queue_known(argv[i])) {
                sbuf_printf(err, "unknown queue: %.100s", argv[i]);
                return -1;
            }
        }
        a->queues = argv + optind;
    }
    return 0;
}

void ps_args_free(struct ps_args *a)
{
    for (int i = 0; i < PS_OP_COUNT; i++) {
        for (size_t j = 0; j < a->nids[i]; j++)
            xfree(a->ids[i][j]);
        xfree(a->ids[i]);
    }
    memset(a, 0, sizeof(*a));
}

void ps_count_text(struct sbuf *out, const char *what, int n)
{
    sbuf_printf(out, "%s: %d message%s", what, n, n == 1 ? "" : "s");
}
