/*
 * sendmail.h - private interfaces of the sendmail command
 *
 * Used by: the cmd/sendmail sources and tests/unit/sendmail_args_test.c (which
 *          compiles sendmail_args.c and sendmail_msg.c directly).
 * Interface: sendmail_parse_args(), sendmail_opts_free(), sm_input_init(),
 *            sm_input_piece(), sm_input_pending(), sendmail_copy_message(),
 *            sm_drop_open(), sm_drop_rec(), sm_drop_finish(),
 *            sendmail_smtp(), sm_fatal().
 * Notes: exit codes are sysexits.h values, as Postfix's sendmail uses.
 */
#ifndef POSTERN_SENDMAIL_H
#define POSTERN_SENDMAIL_H
#include "sys_compat.h"
#include "sbuf.h"

enum sendmail_mode {
    SM_MODE_ENQUEUE,        /* -bm (default) */
    SM_MODE_MAILQ,          /* -bp, mailq */
    SM_MODE_NEWALIASES,     /* -bi, -I, newaliases */
    SM_MODE_DAEMON,         /* -bd */
    SM_MODE_SMTP,           /* -bs, -bl */
    SM_MODE_VERIFY,         /* -bv */
    SM_MODE_FLUSH,          /* -q */
    SM_MODE_FLUSH_SITE,     /* -qR site */
    SM_MODE_FLUSH_ID,       /* -qI queue_id */
    SM_MODE_NOTHING,        /* -q interval and the like: nothing to do */
};

struct sendmail_opts {
    enum sendmail_mode mode;
    bool extract;           /* -t */
    bool dot_ends;          /* a lone "." ends input (cleared by -i, -oi) */
    int verbose;
    char *sender;           /* -f/-r, internal form; NULL = login name */
    char *fullname;         /* -F */
    int notify;             /* -N: DSN_NOTIFY_* bits, 0 = not given */
    int ret;                /* -R: DSN_RET_*, 0 = not given */
    char *envid;            /* -V */
    char *verp;             /* -XV[delims]: "" = default_verp_delimiters */
    char *config_dir;       /* -C / -c (a file means its directory) */
    char *alias_file;       /* -oA */
    char *site;             /* -qR site, -qI id */
    char **rcpts;           /* internal form */
    size_t nrcpt;
};

/* Parses argv (argv[0] selects mailq/newaliases). Fills o (caller frees
 * with sendmail_opts_free). Returns 0, or a sysexits code with err filled
 * with the message for "sendmail: fatal: ...". Ignored and bad-but-ignored
 * options produce warnings through log_warn. */
int sendmail_parse_args(struct sendmail_opts *o, int argc, char **argv, struct sbuf *err);
void sendmail_opts_free(struct sendmail_opts *o);

/* What happens to a CR directly before a line's LF (sendmail_fix_line_endings). */
enum sm_crlf {
    SM_CRLF_STRIP,          /* always: removed (also the SMTP mode's rule) */
    SM_CRLF_FIRST,          /* strict: removed when the first line ends in CR LF */
    SM_CRLF_KEEP,           /* never: kept as part of the line */
};

/* Plain unbuffered-fd line reader (stdin must not be made non-blocking:
 * it may be shared with the invoking shell). */
struct sm_input {
    int fd;
    int timeout;            /* seconds per read, 0 = forever */
    enum sm_crlf crlf;      /* SM_CRLF_FIRST turns into STRIP or KEEP at the first LF */
    size_t pos, len;
    bool eof, error;
    char buf[65536];
};
/* Starts reading fd, with SM_CRLF_STRIP. */
void sm_input_init(struct sm_input *in, int fd, int timeout);
/* Parses a sendmail_fix_line_endings value (always, strict, never; in
 * lower case, as Postfix). Returns its SM_CRLF_* mode, or -1 for anything
 * else. */
int sm_crlf_mode(const char *value);
/* Reads the next piece of a line (at most max bytes) into out. *eol is
 * true when the piece ends its line; the LF is removed, and one CR before
 * it as in->crlf says. Returns 1, 0 at end of input (nothing read), -1 on
 * error. */
int sm_input_piece(struct sm_input *in, struct sbuf *out, size_t max, bool *eol);
/* True when input is already buffered (SMTP pipelining). */
bool sm_input_pending(const struct sm_input *in);

/* Record sink: returns 0, or -1 to stop. */
typedef int (*sendmail_rec_fn)(void *ctx, int type, const char *data, size_t len);
/* Copies a message from in as N/L records: a leading "From " line is
 * skipped, CR LF becomes a line end as in->crlf says (a CR elsewhere is
 * data), a lone "." ends input when dot_ends.
 * Returns 0, -1 on input error, -2 when fn failed. */
int sendmail_copy_message(struct sm_input *in, bool dot_ends, sendmail_rec_fn fn, void *ctx);

/* A running "postdrop -r". */
struct sm_drop;
/* Starts postdrop and reads its queue ID; NULL when it could not be
 * started or refused at once (then *status holds its exit status). */
struct sm_drop *sm_drop_open(const char *path, int verbose, int *status);
const char *sm_drop_queue_id(const struct sm_drop *d);
int sm_drop_rec(void *d, int type, const char *data, size_t len);
/* Ends the stream, collects postdrop's verdict and exit status (returned:
 * 0 = queued, else a sysexits code); reason gets its text. Frees d. */
int sm_drop_finish(struct sm_drop *d, struct sbuf *reason);
/* Abandons the message (postdrop removes its file). Frees d. */
void sm_drop_abort(struct sm_drop *d);

/* -bs: an SMTP session on stdin/stdout. Returns the exit status. */
int sendmail_smtp(const struct sendmail_opts *o, const char *postdrop_path);

/* log_fatal with a sysexits exit status. */
void sm_fatal(int code, const char *fmt, ...) PRINTF_LIKE(2, 3) NORETURN;

#endif
