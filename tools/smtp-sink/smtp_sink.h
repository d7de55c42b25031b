/*
 * smtp_sink.h - private interface of the smtp-sink test server
 *
 * Used by: smtp_sink.c (options, listener, main loop), smtp_sink_proto.c
 *          (one SMTP/LMTP conversation per connection), smtp_sink_dump.c
 *          (capture of mail transactions to files).
 * Notes: one process, one poll() loop (lib/util/events.h), many clients.
 */
#ifndef SMTP_SINK_H
#define SMTP_SINK_H
#include "sys_compat.h"
#include "sbuf.h"

/* Commands that -f -r -q -Q -s -W can name. */
enum sink_cmd {
    SINK_CMD_CONNECT,
    SINK_CMD_HELO,
    SINK_CMD_EHLO,
    SINK_CMD_LHLO,
    SINK_CMD_MAIL,
    SINK_CMD_RCPT,
    SINK_CMD_VRFY,
    SINK_CMD_DATA,
    SINK_CMD_DOT,
    SINK_CMD_RSET,
    SINK_CMD_NOOP,
    SINK_CMD_QUIT,
    SINK_CMD_BDAT,
    SINK_CMD_XCLIENT,
    SINK_CMD_XFORWARD,
    SINK_CMD_AUTH,
    SINK_CMD_ETRN,
    SINK_CMD_STARTTLS,
    SINK_CMD_HELP,
    SINK_CMD_UNKNOWN,
    SINK_CMD_COUNT
};

#define SINK_LINE_MAX 4096          /* longest command line we accept */
#define SINK_DATA_CHUNK 65536       /* a DATA "line" is cut into pieces this big */
#define SINK_BDAT_MAX 1073741824ULL /* largest single BDAT chunk */

struct sink_delay {
    int delay;                      /* seconds; -1 = none */
    int odds;                       /* 0 = fixed delay; 1..99 = random multiple */
};

struct sink_opts {
    bool no_8bitmime;               /* -8 */
    bool no_auth;                   /* -a */
    bool no_xclient;                /* -C */
    bool no_esmtp;                  /* -e */
    bool no_enhanced;               /* -E */
    bool no_xforward;               /* -F */
    bool no_dsn;                    /* -N */
    bool no_pipelining;             /* -p */
    bool pix;                       /* -P */
    bool no_chunking;               /* -K (Postern) */
    bool raw_dump;                  /* -U (Postern) */
    bool lmtp;                      /* -L */
    bool show_counts;               /* -c */
    int abort_delay;                /* -A, -1 = off */
    int data_read_delay;            /* -H, -1 = off */
    const char *soft_reply;         /* -b */
    const char *hard_reply;         /* -B */
    const char *dump_msg_template;  /* -d */
    const char *dump_all_template;  /* -D */
    const char *hostname;           /* -h */
    int max_conns;                  /* -m */
    unsigned long quit_msgs;        /* -M, 0 = never */
    unsigned long quit_sessions;    /* -n, 0 = never */
    unsigned fail_mask;             /* -f */
    unsigned soft_mask;             /* -r */
    unsigned drop_mask;             /* -q */
    unsigned drop421_mask;          /* -Q */
    unsigned log_mask;              /* -s */
    struct sbuf *start_string;      /* -S, escapes expanded; NULL = none */
    int timeout;                    /* -t */
    struct sink_delay delays[SINK_CMD_COUNT]; /* -w (DATA) and -W */
};

extern struct sink_opts sink_opts;

/* Counters shown by -c and used by -M/-n. */
struct sink_counts {
    unsigned long sessions;         /* sessions that ended */
    unsigned long quits;            /* QUIT commands */
    unsigned long messages;         /* messages accepted */
    unsigned long active;           /* connections open now */
};
extern struct sink_counts sink_counts;

/* Set once -M or -n is reached; main loop exits once replies are out. */
extern bool sink_exit_pending;

/* smtp_sink.c */
/* Shows the -c counters (if enabled) and checks the -M/-n limits. */
void sink_counts_changed(void);
/* A connection went away: accepting may resume. */
void sink_conn_gone(void);
/* Prints one conversation line on stderr when -v is given. */
void sink_trace(const char *addr, const char *dir, const char *text, size_t len);

/* smtp_sink_proto.c */
/* Takes over an accepted socket; addr is the printable client address
 * ("127.0.0.1", "ipv6:::1" or "local"). */
void sink_conn_start(int fd, const char *addr);
/* Number of connections that still have replies to send. */
size_t sink_conns_unflushed(void);
/* Maps a command name (case-insensitive, "." for end of data) to its code,
 * or -1 when unknown. */
int sink_cmd_lookup(const char *name, size_t len);
/* Drops connections silent for longer than -t (not those parked on a
 * delay on purpose); called once a second. */
void sink_conns_sweep(void);

/* smtp_sink_dump.c */
struct sink_dump;
/* Starts capturing one transaction: writes the smtp-sink header block.
 * Returns new; NULL when no dump option is active. */
struct sink_dump *sink_dump_begin(const char *addr, const char *proto, const char *helo,
                                  const char *mail_args, const struct sbuf *rcpt_args);
/* Adds one DATA line: its content (dot-stuffing removed, no line end) and
 * the terminator it arrived with ("\r\n", "\n", or "" for a piece of an
 * over-long line). d may be NULL (no capture). */
void sink_dump_line(struct sink_dump *d, const char *data, size_t len, const char *term);
/* Adds BDAT chunk bytes as they came; d may be NULL. */
void sink_dump_bytes(struct sink_dump *d, const char *data, size_t len);
/* Completes the capture and writes it out; frees d. Returns 0 or -1 (logged). */
int sink_dump_finish(struct sink_dump *d);
/* Drops an unfinished capture; accepts NULL. */
void sink_dump_abort(struct sink_dump *d);

#endif
