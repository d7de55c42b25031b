/*
 * stream.h - buffered file-descriptor I/O with deadlines
 *
 * Used by: every daemon and command that talks over a socket or pipe.
 * Interface: stream_open(), stream_open_nonblock(), stream_close(), stream_fd(), stream_set_timeout(),
 *            stream_set_deadline(), stream_start_request(), stream_set_min_rate(), stream_spend(),
 *            stream_getline(), stream_read(), stream_getc(), stream_write(),
 *            stream_puts(), stream_printf(), stream_flush(), stream_error(),
 *            stream_set_io() (TLS plugs in here), stream_pending(), stream_read_ready().
 * Errors: a read or write that fails or passes its deadline sets a sticky
 *         error (STREAM_E_*); every later call fails fast.
 * Notes: reads and writes poll() with the stream timeout so a silent peer
 *        never hangs a daemon. By default the timeout limits each wait; in
 *        deadline mode (smtpd_per_request_deadline and the client's
 *        *_per_request_deadline) it is a budget for a whole request that
 *        only waiting spends, refilled by stream_start_request() or
 *        stream_set_timeout(), and with a minimum rate each n bytes moved
 *        earn n/rate seconds more, up to the timeout (*_min_data_rate). Lines are returned without the LF; a CR
 *        before it is kept for the caller to judge (SMTP needs to know).
 */
#ifndef POSTERN_STREAM_H
#define POSTERN_STREAM_H
#include "sys_compat.h"
#include "sbuf.h"

#define STREAM_BUFSIZE 16384

enum stream_err {
    STREAM_OK = 0,
    STREAM_E_EOF = -1,      /* peer closed */
    STREAM_E_TIMEOUT = -2,  /* deadline passed */
    STREAM_E_IO = -3,       /* read/write error */
    STREAM_E_TOOLONG = -4,  /* line longer than the caller's limit (not sticky) */
};

/* Low-level I/O hooks; default is read(2)/write(2). Return like read/write,
 * or -1 with errno EAGAIN to wait (want_write tells which direction). */
typedef ssize_t (*stream_read_fn)(void *ctx, int fd, void *buf, size_t len, bool *want_write);
typedef ssize_t (*stream_write_fn)(void *ctx, int fd, const void *buf, size_t len, bool *want_read);

struct stream;

/* Wraps fd (made non-blocking). Returns new; stream_close() closes fd. */
struct stream *stream_open(int fd);
/* The same for an fd that is non-blocking already (accept4 or socket with
 * SOCK_NONBLOCK): no fcntl calls. */
struct stream *stream_open_nonblock(int fd);
/* Frees the stream and closes the descriptor; accepts NULL. */
void stream_close(struct stream *s);
/* Frees the stream but leaves the descriptor open. */
void stream_free_keep_fd(struct stream *s);
int stream_fd(const struct stream *s);
/* Timeout in seconds for each read or write wait; 0 = forever. In deadline
 * mode it also refills the request's budget. */
void stream_set_timeout(struct stream *s, int seconds);
/* Deadline mode on or off (off by default); either way the budget is refilled. */
void stream_set_deadline(struct stream *s, bool on);
/* A new request begins: its budget is the whole timeout again. */
void stream_start_request(struct stream *s);
/* Deadline mode: bytes per second that earn more budget (DATA, BDAT); 0 = off. */
void stream_set_min_rate(struct stream *s, int bytes_per_second);
/* Deadline mode: ms the caller spent waiting for this stream elsewhere
 * (its own poll), charged to the current request. */
void stream_spend(struct stream *s, long ms);
void stream_set_io(struct stream *s, stream_read_fn rd, stream_write_fn wr, void *ctx);
/* For a client that writes a request and then reads the peer's reply:
 * the first read after a write waits for input before reading (one system
 * call instead of a read that finds nothing, a wait and a read). */
void stream_set_reply_wait(struct stream *s, bool on);
/* Sticky error or STREAM_OK. */
int stream_error(const struct stream *s);
const char *stream_strerror(int err);
/* Bytes already buffered for reading (pipelining detection). */
size_t stream_pending(const struct stream *s);
/* Buffers what has arrived, without waiting: the bytes added, 0 when none
 * had (or a TLS layer wants to write first), or STREAM_E_EOF / STREAM_E_IO. */
ssize_t stream_read_ready(struct stream *s);

/* Reads one line into out (replacing it), without the LF. Returns the line
 * length, or STREAM_E_EOF (no bytes at all), STREAM_E_TIMEOUT, STREAM_E_IO.
 * A line longer than maxlen returns STREAM_E_TOOLONG after the rest of that
 * line has been read and discarded (out then holds the first maxlen bytes).
 * A last line without LF before EOF is returned as a line. *had_lf, if not
 * NULL, tells whether the line ended with LF. */
ssize_t stream_getline(struct stream *s, struct sbuf *out, size_t maxlen, bool *had_lf);
/* Reads exactly len bytes; returns len or a STREAM_E_* code. */
ssize_t stream_read(struct stream *s, void *buf, size_t len);
/* Reads up to len bytes that are available (at least 1); returns count or error. */
ssize_t stream_read_some(struct stream *s, void *buf, size_t len);
/* Returns next byte (0..255) or a STREAM_E_* code. */
int stream_getc(struct stream *s);
/* Message content as records: reads into out (replacing it) one line
 * without its line end, or the first max bytes of a longer one. Returns
 * STREAM_SEG_CRLF (the line ended with CR LF), STREAM_SEG_LF (a bare LF),
 * STREAM_SEG_PARTIAL (max bytes and more to come: a CR as the last of them
 * is kept with this piece until the next byte, up to 2*max, so that a
 * CR LF is never split), or a STREAM_E_* code (a partial line at EOF is
 * lost). */
int stream_get_segment(struct stream *s, struct sbuf *out, size_t max);
#define STREAM_SEG_PARTIAL 0
#define STREAM_SEG_CRLF 1
#define STREAM_SEG_LF 2

/* Buffered writes; data goes out on stream_flush() or when the buffer fills. */
int stream_write(struct stream *s, const void *buf, size_t len);
int stream_puts(struct stream *s, const char *str);
int stream_printf(struct stream *s, const char *fmt, ...) PRINTF_LIKE(2, 3);
/* Writes out buffered data; returns 0 or a STREAM_E_* code. */
int stream_flush(struct stream *s);

#endif
