/*
 * postqueue.h - postqueue's private interface
 *
 * Used by: cmd/postqueue sources and tests/unit/postqueue_test.c.
 * Interface: struct pq_msg, pq_msg_from_attrs(), pq_msg_free(),
 *            pq_list_header(), pq_list_msg(), pq_list_summary(),
 *            pq_json_msg(), pq_printable().
 * Notes: the formatting functions are pure: they append text to an sbuf.
 *        Layout and wording follow Postfix's postqueue -p and -j output.
 */
#ifndef POSTERN_POSTQUEUE_H
#define POSTERN_POSTQUEUE_H
#include "sys_compat.h"
#include "attr.h"
#include "sbuf.h"

struct pq_rcpt {
    char *address;
    char *reason;       /* "" when none */
};

struct pq_msg {
    char *queue_name;
    char *queue_id;
    long arrival;
    long size;
    bool forced_expire;
    char *sender;
    struct pq_rcpt *rcpts;
    size_t nrcpt;
};

/* Fills m (new strings) from one showq list. Returns 0, or -1 when a
 * required field is missing or malformed. */
int pq_msg_from_attrs(struct pq_msg *m, const struct attr_list *l);
void pq_msg_free(struct pq_msg *m);
/* Replaces non-printable ASCII characters with '?' in place. */
void pq_printable(char *s);
/* Classic listing. long_ids selects Postfix's wide layout
 * (enable_long_queue_ids). */
void pq_list_header(struct sbuf *out, bool long_ids);
void pq_list_msg(struct sbuf *out, const struct pq_msg *m, bool long_ids);
/* "-- N Kbytes in M Requests." or "Mail queue is empty". */
void pq_list_summary(struct sbuf *out, unsigned long bytes, unsigned long count);
/* One JSON object and a newline. */
void pq_json_msg(struct sbuf *out, const struct pq_msg *m);

#endif
