/*
 * milter8.h - Sendmail milter protocol (versions 2, 3, 4 and 6): packet
 *             codec and one milter connection
 *
 * Used by: lib/mail/milter.c (the list of milters and the stage driver),
 *          tests/unit/milter8_test.c.
 * Interface: milter8_encode(), milter8_read_packet(), milter8_parse_reply(),
 *            milter8_reply_free(), milter8_new(), milter8_free(),
 *            milter8_open(), milter8_send(), milter8_read_reply(),
 *            milter8_close().
 * Errors: I/O, timeouts and malformed packets return MILTER8_E_*; nothing
 *         read from a milter is trusted: every length is bounded
 *         (MILTER8_DATA_MAX per packet), every string must be NUL-ended
 *         inside its packet, reply codes are checked.
 * Notes: a packet is a 32-bit length in network order (command byte
 *        included), the command byte, then the data. The command and reply
 *        letters and the flag bits are the ones of libmilter's mfdef.h (a
 *        public protocol; see docs/milter.md).
 */
#ifndef POSTERN_MILTER8_H
#define POSTERN_MILTER8_H
#include "sys_compat.h"
#include "sbuf.h"
#include <stdint.h>

/* MTA -> milter commands */
#define SMFIC_ABORT 'A'
#define SMFIC_BODY 'B'
#define SMFIC_CONNECT 'C'
#define SMFIC_MACRO 'D'
#define SMFIC_BODYEOB 'E'
#define SMFIC_HELO 'H'
#define SMFIC_QUIT_NC 'K'
#define SMFIC_HEADER 'L'
#define SMFIC_MAIL 'M'
#define SMFIC_EOH 'N'
#define SMFIC_OPTNEG 'O'
#define SMFIC_QUIT 'Q'
#define SMFIC_RCPT 'R'
#define SMFIC_DATA 'T'
#define SMFIC_UNKNOWN 'U'

/* milter -> MTA replies */
#define SMFIR_ADDRCPT '+'
#define SMFIR_DELRCPT '-'
#define SMFIR_ADDRCPT_PAR '2'
#define SMFIR_SHUTDOWN '4'
#define SMFIR_ACCEPT 'a'
#define SMFIR_REPLBODY 'b'
#define SMFIR_CONTINUE 'c'
#define SMFIR_DISCARD 'd'
#define SMFIR_CHGFROM 'e'
#define SMFIR_CONN_FAIL 'f'
#define SMFIR_ADDHEADER 'h'
#define SMFIR_INSHEADER 'i'
#define SMFIR_SETSYMLIST 'l'
#define SMFIR_CHGHEADER 'm'
#define SMFIR_PROGRESS 'p'
#define SMFIR_QUARANTINE 'q'
#define SMFIR_REJECT 'r'
#define SMFIR_SKIP 's'
#define SMFIR_TEMPFAIL 't'
#define SMFIR_REPLYCODE 'y'
#define SMFIR_OPTNEG 'O'

/* Actions the MTA allows (SMFIF_*). */
#define SMFIF_ADDHDRS 0x01
#define SMFIF_CHGBODY 0x02
#define SMFIF_ADDRCPT 0x04
#define SMFIF_DELRCPT 0x08
#define SMFIF_CHGHDRS 0x10
#define SMFIF_QUARANTINE 0x20
#define SMFIF_CHGFROM 0x40
#define SMFIF_ADDRCPT_PAR 0x80
#define SMFIF_SETSYMLIST 0x100

/* Protocol steps (SMFIP_*). */
#define SMFIP_NOCONNECT 0x01
#define SMFIP_NOHELO 0x02
#define SMFIP_NOMAIL 0x04
#define SMFIP_NORCPT 0x08
#define SMFIP_NOBODY 0x10
#define SMFIP_NOHDRS 0x20
#define SMFIP_NOEOH 0x40
#define SMFIP_NR_HDR 0x80
#define SMFIP_NOUNKNOWN 0x100
#define SMFIP_NODATA 0x200
#define SMFIP_SKIP 0x400
#define SMFIP_RCPT_REJ 0x800
#define SMFIP_NR_CONN 0x1000
#define SMFIP_NR_HELO 0x2000
#define SMFIP_NR_MAIL 0x4000
#define SMFIP_NR_RCPT 0x8000
#define SMFIP_NR_DATA 0x10000
#define SMFIP_NR_UNKN 0x20000
#define SMFIP_NR_EOH 0x40000
#define SMFIP_NR_BODY 0x80000
#define SMFIP_HDR_LEADSPC 0x100000

/* Macro stages of SMFIR_SETSYMLIST (SMFIM_*). */
#define SMFIM_CONNECT 0
#define SMFIM_HELO 1
#define SMFIM_ENVFROM 2
#define SMFIM_ENVRCPT 3
#define SMFIM_DATA 4
#define SMFIM_EOM 5
#define SMFIM_EOH 6
#define MILTER8_NSTAGES 7

/* Largest packet data accepted from a milter: a 64 KiB body chunk (the
 * protocol's unnegotiated maximum) plus room. */
#define MILTER8_DATA_MAX (65535 + 1024)
/* Largest body chunk we send. */
#define MILTER8_CHUNK 65535

#define MILTER8_E_IO -1         /* read/write error or EOF */
#define MILTER8_E_TIMEOUT -2
#define MILTER8_E_PROTO -3      /* malformed packet or reply */

/* Appends one packet to out. */
void milter8_encode(struct sbuf *out, int cmd, const void *data, size_t len);

/* Reads one packet from fd, waiting at most timeout seconds in total.
 * *cmd gets the command byte, data the rest (at most max bytes). Returns 0
 * or MILTER8_E_*. */
int milter8_read_packet(int fd, int timeout, int *cmd, struct sbuf *data, size_t max);

/* One decoded reply. Strings are new (milter8_reply_free). */
struct milter8_reply {
    int cmd;                /* SMFIR_* */
    uint32_t index;         /* INSHEADER, CHGHEADER */
    char *s1;               /* header name, recipient, sender, reply text, reason */
    char *s2;               /* header value, ESMTP arguments (or NULL) */
    struct sbuf *body;      /* REPLBODY chunk */
    /* OPTNEG */
    uint32_t version, actions, protocol;
    char *symlists[MILTER8_NSTAGES];
};

/* Checks and decodes the data of a reply packet. A reply code text
 * (REPLYCODE) must be one or more lines "CODE[- ]..." with one 4xx or 5xx
 * code (CR LF between lines); it is stored with '\n' between lines.
 * Returns 0 or MILTER8_E_PROTO (why in err). */
int milter8_parse_reply(int cmd, const char *data, size_t len, struct milter8_reply *r,
                        struct sbuf *err);
void milter8_reply_free(struct milter8_reply *r);

/* One milter as configured. */
struct milter8 {
    char *name;             /* "inet:host:port" / "unix:/path" as written */
    int conn_timeout, cmd_timeout, msg_timeout;
    int version;            /* milter_protocol: 2, 3, 4 or 6 */
    int peer_version;       /* negotiated: the lower of ours and the milter's */
    char *def_action;       /* "accept", "reject", "tempfail", "quarantine" */
    int fd;                 /* -1: not connected */
    uint32_t actions;       /* negotiated SMFIF_* */
    uint32_t protocol;      /* negotiated SMFIP_* */
    char *symlists[MILTER8_NSTAGES];    /* the milter's SETSYMLIST, or NULL */
};

/* Parses one milter entry: "unix:/path", "inet:host:port" (also
 * "local:/path", "/path", "inet6:host:port"), or "{ endpoint,
 * name=value ... }" with connect_timeout, command_timeout,
 * content_timeout, default_action, protocol. Defaults come from the
 * arguments. Returns new, or NULL with why in err. */
struct milter8 *milter8_new(const char *entry, int conn_timeout, int cmd_timeout,
                            int msg_timeout, int version, const char *def_action,
                            struct sbuf *err);
void milter8_free(struct milter8 *m);

/* Connects and negotiates (SMFIC_OPTNEG). Returns 0 or MILTER8_E_*;
 * logged. */
int milter8_open(struct milter8 *m);
/* Sends one packet with the command timeout (content packets with the
 * content timeout). Returns 0 or MILTER8_E_*; not logged. */
int milter8_send(struct milter8 *m, int cmd, const void *data, size_t len, bool content);
/* Reads and decodes one reply (content timeout when content). Returns 0
 * or MILTER8_E_*; logged. */
int milter8_read_reply(struct milter8 *m, bool content, struct milter8_reply *r);
/* Sends QUIT (when quit) and closes. */
void milter8_close(struct milter8 *m, bool quit);

#endif
