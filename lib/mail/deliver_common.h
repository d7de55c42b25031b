/*
 * deliver_common.h - helpers shared by the local and virtual agents
 *
 * Used by: local, virtual.
 * Interface: deliver_become(), deliver_unbecome(); deliver_delivered_to(),
 *            deliver_strv_free(); deliver_copy_line(), deliver_mbox_from();
 *            deliver_write_all().
 * Errors: deliver_become() logs a warning and returns -1 when the ids cannot
 *         be taken on, after undoing any step that did succeed (fatal when
 *         that is impossible: the process never goes on half switched);
 *         deliver_unbecome() is fatal when root cannot be fully regained
 *         (continuing would record statuses with the wrong owner).
 * Notes: privilege switching only happens when the real uid is root; run
 *        by hand (tests, -S) the process keeps its own ids.
 */
#ifndef POSTERN_DELIVER_COMMON_H
#define POSTERN_DELIVER_COMMON_H
#include "sys_compat.h"
#include "deliver_request.h"
#include "sbuf.h"

/* Takes on uid/gid (and gid as the only supplementary group) as effective
 * ids, all or nothing: 0, or -1 after a warning with root fully restored
 * (the caller defers the delivery). Fatal when a partial
 * switch cannot be undone. A no-op for a non-root real uid. */
int deliver_become(uid_t uid, gid_t gid);

/* Goes back to effective root (uid, gid and group list 0). A no-op for a
 * non-root real uid; fatal when any step fails. */
void deliver_unbecome(void);

/* The Delivered-To: values of r's message header, trailing blanks removed,
 * at most 1000 of them: a NULL-terminated array (never NULL) that the
 * caller frees with deliver_strv_free(). */
char **deliver_delivered_to(struct deliver_request *r);

/* Frees a NULL-terminated array of strings and the strings (NULL is ok). */
void deliver_strv_free(char **v);

/* Context for deliver_copy_line(). */
struct deliver_copy {
    struct sbuf *out;   /* appended to */
    bool quote;         /* prefix ">" to lines starting with "From " */
};

/* deliver_content_lines() callback: appends line plus newline to
 * ctx->out, quoted for mbox when asked. Always 0. */
int deliver_copy_line(const char *line, size_t len, void *ctx);

/* Appends the mbox "From sender  date" separator (local time; an empty
 * sender is written as MAILER-DAEMON). */
void deliver_mbox_from(struct sbuf *out, const char *sender);

/* Writes all n bytes of p to fd, retrying after EINTR. 0 or -1. */
int deliver_write_all(int fd, const char *p, size_t n);

#endif
