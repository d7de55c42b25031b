/*
 * qfile.h - queue file records: writing, reading, envelope loading
 *
 * Used by: cleanup and postdrop (writers); qmgr, delivery agents, bounce,
 *          showq, pickup, postcat (readers).
 * Interface: qfile_writer_*: qfile_create_fd(), qfile_put(), qfile_putf(),
 *            qfile_put_line(), qfile_commit(), qfile_abort(); readers:
 *            qfile_open(), qfile_from_fd(), qfile_get(), qfile_seek(),
 *            qfile_seek_reread(), qfile_close(); envelope: qenv_load(),
 *            qenv_free();
 *            qfile_mark_done(), qfile_rcpt_is_done(), qfile_set_warn();
 *            in-place updates while writing: qfile_writer_set_size(),
 *            qfile_writer_mark_done(). Only this module knows record
 *            offsets and widths.
 * Errors: writers return -1 and keep errno (the caller logs with context and
 *         aborts); readers return QFILE_E_* for a corrupt file.
 * Notes: a record is one type byte, the data length as a base-128 varint
 *        (low 7 bits first, high bit = more) and the data. See
 *        docs/queue-file.md for the record list, segment order and commit
 *        protocol ("no 250 before fsync").
 */
#ifndef POSTERN_QFILE_H
#define POSTERN_QFILE_H
#include "sys_compat.h"
#include "sbuf.h"
#include "attr.h"

/* Envelope segment */
#define REC_SIZE 'C'        /* first record: fixed-width sizes, updated in place */
#define REC_TIME 'T'        /* arrival "sec usec" */
#define REC_CTIME 'c'       /* file create time */
#define REC_FULLNAME 'F'
#define REC_FILTER 'L'      /* content filter transport:nexthop (envelope only) */
#define REC_SENDER 'S'
#define REC_ORCPT 'O'       /* original recipient of the R that follows */
#define REC_RCPT 'R'        /* recipient still to do */
#define REC_DONE 'D'        /* recipient done (R overwritten in place) */
#define REC_ATTR 'A'        /* name=value */
#define REC_WARN 'W'        /* delay warning time, fixed width, 0 = sent */
#define REC_DSN_RET '<'
#define REC_DSN_ENVID 'i'
#define REC_DSN_ORCPT 'o'   /* ORCPT= of the R that follows */
#define REC_DSN_NOTIFY 'n'  /* NOTIFY= flags of the R that follows */
#define REC_VERP 'V'
#define REC_MESG 'M'        /* start of content */
/* Content segment */
#define REC_NORM 'N'        /* a complete line (no LF) */
#define REC_CONT 'L'        /* first part of a long line, continued by the next */
#define REC_PTR 'p'         /* "%15ld" offset of the next record to read (0: the next one) */
#define REC_XTRA 'X'        /* end of content, start of extracted segment */
/* Extracted segment may repeat R, O, A, etc. */
#define REC_RRTO 'r'
#define REC_ERTO 'e'
#define REC_END 'E'         /* end of file: a file without it is incomplete */

/* DSN flags (values match Postfix's). */
#define DSN_NOTIFY_NEVER 1
#define DSN_NOTIFY_SUCCESS 2
#define DSN_NOTIFY_FAILURE 4
#define DSN_NOTIFY_DELAY 8
#define DSN_RET_FULL 1
#define DSN_RET_HDRS 2

#define QFILE_REC_MAX (1 << 20)     /* longest record a reader accepts */
#define QFILE_LINE_CHUNK 2048       /* writers split content lines at this size */
#define QFILE_SIZE_FMT "%15ld %15ld %15ld %15ld %15ld %15ld"
#define QFILE_WARN_FMT "%15ld"
#define QFILE_PTR_FMT "%15ld"
#define QFILE_PTR_HOPS 64      /* pointer records one read may follow */
#define QFILE_PTR_TOTAL 1024   /* pointer records one read-through may follow */

#define QFILE_E_EOF -1
#define QFILE_E_CORRUPT -2
#define QFILE_E_IO -3

/* ---- writing ---- */
struct qfile_writer;
/* Starts writing records to fd (owned by the writer from now on; position 0). */
struct qfile_writer *qfile_writer_new(int fd);
/* fd is a reused file of old_size bytes (queue_recycle_take): qfile_commit()
 * cuts off what is left of the old contents after the last record written. */
void qfile_writer_set_reused(struct qfile_writer *w, off_t old_size);
int qfile_put(struct qfile_writer *w, int type, const void *data, size_t len);
int qfile_puts(struct qfile_writer *w, int type, const char *str);
int qfile_putf(struct qfile_writer *w, int type, const char *fmt, ...) PRINTF_LIKE(3, 4);
/* Writes one content line (without LF), split into L/N records as needed. */
int qfile_put_line(struct qfile_writer *w, const char *line, size_t len);
/* File offset of the next record to be written. */
off_t qfile_writer_offset(const struct qfile_writer *w);
/* Writes buffered records to the file (no fsync). */
int qfile_writer_flush(struct qfile_writer *w);
/* The numbers of the C record (first in the file), rewritten in place at
 * the end of writing. */
struct qfile_size {
    long content_size;      /* bytes from the first content record to X */
    long data_offset;       /* offset of the first content record */
    long rcpt_count;        /* recipient records still to do */
    long qmgr_flags;
    long content_length;    /* RFC 822 size (lines plus LF) */
    long smtputf8;
};
/* Overwrites the C placeholder with sz (flushes first). 0 or -1 (errno). */
int qfile_writer_set_size(struct qfile_writer *w, const struct qfile_size *sz);
/* Marks a recipient record this writer wrote as done (flushes first). */
int qfile_writer_mark_done(struct qfile_writer *w, off_t offset);
/* Flushes, cuts a reused file to its new length, sets mode 0700 (complete),
 * fsync()s. Returns 0 or -1 (errno).
 * The writer still owns fd; free with qfile_writer_free(). */
int qfile_commit(struct qfile_writer *w);
/* Frees the writer and closes the descriptor. */
void qfile_writer_free(struct qfile_writer *w);
/* Encodes one record (type, varint length, data) into out (appends). */
void qfile_encode(struct sbuf *out, int type, const void *data, size_t len);

/* ---- reading ---- */
struct qfile_reader;
/* Opens path (O_RDONLY or O_RDWR). NULL with errno on failure. */
struct qfile_reader *qfile_open(const char *path, int oflags);
/* Takes over fd. */
struct qfile_reader *qfile_from_fd(int fd);
int qfile_reader_fd(const struct qfile_reader *r);
/* Reads the next record into data; returns its type (>= 0) or QFILE_E_*.
 * *offset (if not NULL) receives the record's file offset. */
int qfile_get(struct qfile_reader *r, struct sbuf *data, off_t *offset);
/* Moves the read position to offset. Bytes already buffered are reused, so
 * changes made through another descriptor may not be seen; see below. */
int qfile_seek(struct qfile_reader *r, off_t offset);
/* Like qfile_seek(), but drops the read buffer: what follows is read from
 * the file again (after qfile_mark_done() or other writes through another
 * descriptor). Always 0. */
int qfile_seek_reread(struct qfile_reader *r, off_t offset);
void qfile_close(struct qfile_reader *r);
/* Reads one record from a stream (cleanup/pickup protocol); same codes. */
struct stream;
int qfile_get_stream(struct stream *s, struct sbuf *data, size_t max);
/* Writes one record to a stream (buffered). */
int qfile_put_stream(struct stream *s, int type, const void *data, size_t len);

/* Marks the recipient record at offset as done ('R' -> 'D'). 0 or -1. */
int qfile_mark_done(int fd, off_t offset);
/* True when the recipient record at offset is marked done (read from the
 * file itself, not from any reader's buffer). */
bool qfile_rcpt_is_done(int fd, off_t offset);
/* Rewrites the fixed-width W record at warn_offset (its record offset, as
 * qenv_load() reports it) with a new time; 0 means "warning sent". */
int qfile_set_warn(int fd, off_t warn_offset, long when);

/* ---- envelope ---- */
struct qenv_rcpt {
    char *address;
    char *orig;         /* O record, or NULL */
    char *dsn_orcpt;    /* o record, or NULL */
    int notify;         /* DSN_NOTIFY_* bits, 0 = not specified */
    off_t offset;       /* of the R/D record */
    bool done;
};

struct qenv {
    long arrival_sec, arrival_usec;
    long create_time;
    char *sender;
    char *fullname;
    char *filter;       /* L record in envelope */
    char *envid;
    int ret;            /* DSN_RET_* or 0 */
    long warn_time;     /* 0 = none / sent */
    off_t warn_offset;  /* of the W record, or -1 */
    long content_size;  /* from the C record */
    off_t content_offset;   /* offset of the first record after M */
    long rcpt_total;
    long qmgr_flags;
    struct attr_list *attrs;    /* A records */
    struct qenv_rcpt *rcpts;
    size_t nrcpt;
    size_t rcpt_cap;
    char *errors_to;
    char *return_receipt;
    char *verp_delims;  /* V record: two VERP delimiters, or NULL */
};

/* Reads the whole envelope (envelope segment and extracted segment, skipping
 * the content), always from the file itself, not from bytes r buffered
 * earlier. Returns 0, or QFILE_E_* when the file is incomplete/corrupt. */
int qenv_load(struct qfile_reader *r, struct qenv *env);
void qenv_free(struct qenv *env);

#endif
