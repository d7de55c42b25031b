/*
 * postsuper.h - postsuper's private interface
 *
 * Used by: cmd/postsuper sources and tests/unit/postsuper_test.c.
 * Interface: struct ps_args, ps_parse_args(), ps_args_free(),
 *            ps_count_text().
 * Notes: argument parsing is pure so that it can be tested; it does not
 *        touch the queue.
 */
#ifndef POSTERN_POSTSUPER_H
#define POSTERN_POSTSUPER_H
#include "sys_compat.h"
#include "sbuf.h"

enum ps_op { PS_DELETE, PS_HOLD, PS_RELEASE, PS_REQUEUE, PS_EXPIRE, PS_OP_COUNT };

struct ps_args {
    const char *config_dir;     /* -c (borrowed from argv) */
    char **ids[PS_OP_COUNT];    /* NULL-terminated lists of ids, "ALL" or "-" */
    size_t nids[PS_OP_COUNT];
    bool structure;             /* -s */
    bool purge;                 /* -p */
    int verbose;
    char **queues;              /* restricting queue names (borrowed), or NULL */
};

/* Parses argv. Returns 0, or -1 with an error text in err (usage errors,
 * unknown queue names, no operation at all). */
int ps_parse_args(struct ps_args *a, int argc, char **argv, struct sbuf *err);
void ps_args_free(struct ps_args *a);
/* "Deleted: 1 message" / "Deleted: 3 messages" into out (replaced). */
void ps_count_text(struct sbuf *out, const char *what, int n);
/* True when name is a queue postsuper may operate on. */
bool ps_queue_known(const char *name);

#endif
