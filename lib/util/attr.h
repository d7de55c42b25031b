/*
 * attr.h - attribute lists: the framing of every request and reply between
 *          Postern processes
 *
 * Used by: all daemons and the commands that talk to them.
 * Interface: attr_list_new(), attr_list_free(), attr_list_reset(), attr_add(),
 *            attr_addf(), attr_add_long(), attr_get(), attr_get_long(),
 *            attr_write(), attr_put(), attr_put_proto(), attr_read(), attr_decode(),
 *            attr_send(), attr_send_proto(),
 *            attr_expect_proto(); Postfix's null-terminated framing:
 *            attr_write0(), attr_read0(), attr_send_proto0(),
 *            attr_expect_proto0().
 * Errors: attr_read() returns 0, a STREAM_E_* code, or ATTR_E_* for a
 *         malformed or oversized list. Nothing is logged here.
 * Notes: wire format is "name=value\n" lines ended by an empty line; in
 *        values '%', LF, CR and NUL are written as %XX. Names match
 *        [a-z0-9_]{1,64}. A list may repeat a name (recipient groups); order
 *        is kept. See docs/ipc.md.
 *        The "0" variants speak Postfix's own framing (its attr_print0 /
 *        attr_scan0), used where programs written for Postfix read a
 *        Postern socket directly (public/showq): each pair is the name, a
 *        NUL, the value, a NUL; an empty name (a lone NUL) ends the list.
 *        Values cannot contain NUL there; the greeting is the pair
 *        "protocol" = NAME.
 */
#ifndef POSTERN_ATTR_H
#define POSTERN_ATTR_H
#include "sys_compat.h"
#include "stream.h"

#define ATTR_MAX_NAME 64
#define ATTR_MAX_VALUE 65536
#define ATTR_MAX_COUNT 1024
/* Longest encoded line: a name, '=' and a value of which every byte is %XX. */
#define ATTR_MAX_LINE (ATTR_MAX_NAME + 1 + 3 * ATTR_MAX_VALUE)
#define ATTR_E_FORMAT -20
#define ATTR_E_LIMIT -21
#define ATTR_E_PROTO -22

struct attr_pair {
    char *name;
    char *value;        /* NUL-terminated; may contain NUL when vlen says so */
    size_t vlen;
};

struct attr_list {
    struct attr_pair *items;
    size_t count;
    size_t cap;
    size_t max_count;   /* ATTR_MAX_COUNT unless raised by the owner */
};

/* Returns a new empty list. */
struct attr_list *attr_list_new(void);
void attr_list_free(struct attr_list *l);
void attr_list_reset(struct attr_list *l);
/* Appends a copy of name and value. */
void attr_add(struct attr_list *l, const char *name, const char *value);
void attr_addf(struct attr_list *l, const char *name, const char *fmt, ...) PRINTF_LIKE(3, 4);
void attr_add_long(struct attr_list *l, const char *name, long value);
/* First value for name, borrowed; NULL when absent. */
const char *attr_get(const struct attr_list *l, const char *name);
/* Returns the first value for name, or dflt. */
const char *attr_get_def(const struct attr_list *l, const char *name, const char *dflt);
/* Parses the first value for name as a decimal long: 0 ok, -1 absent or bad. */
int attr_get_long(const struct attr_list *l, const char *name, long *out);

/* Writes the list and the terminating empty line, then flushes. */
int attr_write(struct stream *s, const struct attr_list *l);
/* The same without the flush: the list waits in the stream's buffer for
 * whatever is written next (one send for a greeting and what follows). */
int attr_put(struct stream *s, const struct attr_list *l);
/* Reads one list into l (reset first). */
int attr_read(struct stream *s, struct attr_list *l);
/* Decodes one list from the front of buf (for readers on an event loop
 * that collect bytes themselves), with the same checks and limits as
 * attr_read(). Returns 1 with *used set to the bytes the list took (l
 * reset and filled), 0 when buf does not yet hold a whole list, or
 * ATTR_E_FORMAT / ATTR_E_LIMIT. */
int attr_decode(const char *buf, size_t len, struct attr_list *l, size_t *used);
/* Writes name/value string pairs ending with NULL, then flushes. */
int attr_send(struct stream *s, ...);
/* Server greeting: "proto=NAME". */
int attr_send_proto(struct stream *s, const char *proto);
/* The greeting, buffered (attr_put()). */
int attr_put_proto(struct stream *s, const char *proto);
/* Client side: reads the greeting and checks it; ATTR_E_PROTO on mismatch. */
int attr_expect_proto(struct stream *s, const char *proto);

/* Postfix's null-terminated framing. Writes each pair as name NUL value NUL,
 * then the terminating NUL, then flushes. ATTR_E_FORMAT (nothing written)
 * when a value contains NUL. */
int attr_write0(struct stream *s, const struct attr_list *l);
/* Reads one null-terminated list into l (reset first): 0 (an empty list is
 * the bare terminator), a STREAM_E_* code, ATTR_E_FORMAT or ATTR_E_LIMIT. */
int attr_read0(struct stream *s, struct attr_list *l);
/* Server greeting in that framing: "protocol" NUL NAME NUL NUL. */
int attr_send_proto0(struct stream *s, const char *proto);
/* Client side of attr_send_proto0(); ATTR_E_PROTO on mismatch. */
int attr_expect_proto0(struct stream *s, const char *proto);

#endif
