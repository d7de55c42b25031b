/*
 * smtp_source.h - private interface of the smtp-source load generator
 *
 * Used by: smtp_source.c (options, message content, main loop) and
 *          smtp_source_session.c (one SMTP/LMTP client session).
 * Notes: one process, one poll() loop (lib/util/events.h), many sessions.
 */
#ifndef SMTP_SOURCE_H
#define SMTP_SOURCE_H
#include "sys_compat.h"
#include "sbuf.h"
#include <sys/socket.h>

#define SRC_REPLY_MAX 65536         /* longest server reply line we take */
#define SRC_TIMEOUT 300             /* seconds of silence before giving up */

struct src_opts {
    bool keep_going;                /* -A */
    bool show_count;                /* -c */
    int connect_tries;              /* -C */
    bool keep_conn;                 /* -d */
    const char *from;               /* -f */
    const char *to;                 /* -t */
    bool lmtp;                      /* -L */
    unsigned long messages;         /* -m */
    const char *myhostname;         /* -M */
    bool number_rcpts;              /* -N */
    bool old_mode;                  /* -o */
    unsigned long rcpts;            /* -r */
    int random_delay;               /* -R, -1 = off */
    unsigned long sessions;         /* -s */
    int window;                     /* -T, 0 = system default */
    int fixed_delay;                /* -w, -1 = off */
    struct sbuf *body;              /* message body, dot-stuffed, ends in ".\r\n" */
    bool headers;                   /* generate From/To/Date/Message-Id */
    const char *subject;            /* -S */
    /* Where to connect. */
    struct sockaddr_storage addr;
    socklen_t addrlen;
    const char *target;             /* as given, for messages */
};

extern struct src_opts src_opts;

struct src_stats {
    unsigned long claimed;          /* messages handed to a session */
    unsigned long done;             /* transactions finished (any outcome) */
    unsigned long delivered;        /* messages the server accepted */
    unsigned long failed;           /* rejections seen with -A */
    unsigned long rcpt_seq;         /* -N counter */
    unsigned long sessions_alive;
};
extern struct src_stats src_stats;

/* smtp_source.c */
/* Prints one conversation line on stderr when -v is given. */
void src_trace(const char *dir, const char *text, size_t len);
/* Takes the next message number (1, 2, ...); 0 when all are handed out. */
unsigned long src_claim(void);
/* Appends the generated headers (if any) and body for one message. */
void src_message(struct sbuf *out, unsigned session_id, unsigned long msg_no);

/* smtp_source_session.c */
/* Starts session number id; it runs until no message is left. */
void src_session_start(unsigned id);
/* Gives up on sessions silent for longer than SRC_TIMEOUT. */
void src_sessions_sweep(void);

#endif
