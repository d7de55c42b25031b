/*
 * mastercf.h - master.cf reader: one struct per service line
 *
 * Used by: master (services to run), postconf (-M, -F, -P), postfix check,
 *          config_known() callers (service names).
 * Interface: mastercf_load(), mastercf_read(), mastercf_free(),
 *            mastercf_find(), mastercf_overrides(), mastercf_program(),
 *            mastercf_service_names(), mastercf_format_line(), mastercf_field().
 * Errors: each bad line is logged once as "FILE:LINE: what" through log_warn
 *         and skipped; the readers then return -1 but keep the good services.
 * Notes: columns are service, type, private, unpriv, chroot, wakeup, maxproc,
 *        command + args. A line that starts with white space continues the
 *        one above; '#' at the start of a line (after white space) is a
 *        comment. "-o { name = value }" and any "{ text }" argument lose the
 *        braces and the white space just inside them. A "-" column takes the
 *        default; the raw column text is kept for postconf -M.
 */
#ifndef POSTERN_MASTERCF_H
#define POSTERN_MASTERCF_H
#include "sys_compat.h"

struct sbuf;

#define MASTERCF_MAX_LINE (64 * 1024)   /* longest logical line accepted */
#define MASTERCF_MAX_ARGS 1024          /* most command arguments per service */

enum {
    MASTERCF_COL_SERVICE,
    MASTERCF_COL_TYPE,
    MASTERCF_COL_PRIVATE,
    MASTERCF_COL_UNPRIV,
    MASTERCF_COL_CHROOT,
    MASTERCF_COL_WAKEUP,
    MASTERCF_COL_MAXPROC,
    MASTERCF_NCOLS
};

struct mastercf_service {
    char *name;             /* column 1 as written ("smtp", "127.0.0.1:10025") */
    char *type;             /* inet, unix, unix-dgram, fifo, pass */
    bool private_;          /* default y (also for inet: master refuses that) */
    bool unpriv;            /* default y */
    bool chroot;            /* default n */
    int wakeup;             /* seconds; 0 = none */
    bool wakeup_conditional;/* "N?": only after the first use */
    int maxproc;            /* -1 = "-" ($default_process_limit), 0 = no limit */
    char **argv;            /* command + args, NULL-terminated, braces removed */
    int argc;
    char *file;
    int line;
    char *raw[MASTERCF_NCOLS]; /* the columns as written, "-" kept */
    bool *arg_braced;       /* per argv entry: it was written as "{ ... }" */
    struct mastercf_service *next;
};

struct mastercf {
    struct mastercf_service *head;
    size_t count;
};

/* Reads path. Returns new (possibly empty) list in *out and 0, or -1 when a
 * line was bad (logged; the other services are still in *out) or the file
 * cannot be opened (logged; *out is an empty list). Free with
 * mastercf_free(). */
int mastercf_load(const char *path, struct mastercf **out);
/* Same, from an open stream; path is used in messages. */
int mastercf_read(FILE *fp, const char *path, struct mastercf **out);
void mastercf_free(struct mastercf *m);
/* Finds a service by name and type (type NULL: first with that name).
 * Returns borrowed, or NULL. */
const struct mastercf_service *mastercf_find(const struct mastercf *m,
                                             const char *name, const char *type);
/* The program name: argv[0] (borrowed). */
const char *mastercf_program(const struct mastercf_service *s);
/* Calls fn(name, value) for each "-o name=value" in the arguments, in order.
 * Returns the number of overrides, or -1 if one lacks '=' (fn is not called
 * for it; a warning names FILE:LINE). fn may be NULL: only check them. */
int mastercf_overrides(const struct mastercf_service *s,
                       void (*fn)(const char *name, const char *value, void *ctx),
                       void *ctx);
/* True for an inet service whose private column is y or - (Postfix's
 * master refuses to start it: "inet service cannot be private"). */
bool mastercf_inet_private(const struct mastercf_service *s);
/* Same as mastercf_overrides(), without warnings (for callers that only look). */
int mastercf_overrides_quiet(const struct mastercf_service *s,
                             void (*fn)(const char *name, const char *value, void *ctx),
                             void *ctx);
/* NULL-terminated array of distinct service names, for
 * config_set_service_names(); returns new (free with cfg_list_free()).
 * For inet services the port part is used ("127.0.0.1:10025" -> "10025"). */
char **mastercf_service_names(const struct mastercf *m);
/* Fills out with the service as postconf -M prints it (columns padded);
 * fold: one "-o" per continuation line, as postconf -Mf. */
void mastercf_format_line(struct sbuf *out, const struct mastercf_service *s, bool fold);
/* Fills out with the command and arguments as one string (postconf -F
 * "command" field). */
void mastercf_format_command(struct sbuf *out, const struct mastercf_service *s);
/* Column index for a postconf -F field name ("service", "type", "private",
 * "unprivileged", "chroot", "wakeup", "process_limit", "command"); the
 * command is MASTERCF_NCOLS; -1 for an unknown name. */
int mastercf_field_index(const char *field);
/* Field names in column order (MASTERCF_NCOLS + 1 entries). */
extern const char *const mastercf_field_names[];

#endif
