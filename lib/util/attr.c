/*
 * attr.c - attribute list encoding and decoding
 *
 * Used by: every IPC client and server.
 * Interface: see attr.h.
 * Errors: returned as STREAM_E_* / ATTR_E_* codes; limits are enforced while
 *         reading so a hostile peer cannot make us allocate without bound.
 */
#include "attr.h"
#include "alloc.h"
#include "sbuf.h"

struct attr_list *attr_list_new(void)
{
    struct attr_list *l = xcalloc(1, sizeof(*l));
    l->max_count = ATTR_MAX_COUNT;
    return l;
}

void attr_list_reset(struct attr_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        xfree(l->items[i].name);        /* the value shares its block */
    l->count = 0;
}

void attr_list_free(struct attr_list *l)
{
    if (l == NULL)
        return;
    attr_list_reset(l);
    xfree(l->items);
    xfree(l);
}

static void attr_add_len(struct attr_list *l, const char *name, const char *value, size_t vlen)
{
    if (l->count == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->items = xreallocarray(l->items, l->cap, sizeof(*l->items));
    }
    /* One block: "name\0value\0". Lists are built and read per request in
     * every daemon; two allocations a pair were most of their mallocs. */
    struct attr_pair *p = &l->items[l->count++];
    size_t nlen = strlen(name);
    p->name = xmalloc(nlen + 1 + vlen + 1);
    memcpy(p->name, name, nlen + 1);
    p->value = p->name + nlen + 1;
    memcpy(p->value, value, vlen);
    p->value[vlen] = 0;
    p->vlen = vlen;
}

void attr_add(struct attr_list *l, const char *name, const char *value)
{
    if (value == NULL)
        value = "";
    attr_add_len(l, name, value, strlen(value));
}

void attr_addf(struct attr_list *l, const char *name, const char *fmt, ...)
{
    char small[128];
    struct sbuf *spill;
    size_t n = 0;
    va_list ap;
    va_start(ap, fmt);
    const char *text = sbuf_vformat_small(small, sizeof(small), &spill, &n, fmt, ap);
    va_end(ap);
    attr_add_len(l, name, text ? text : "", text ? n : 0);
    sbuf_free(spill);
}

void attr_add_long(struct attr_list *l, const char *name, long value)
{
    attr_addf(l, name, "%ld", value);
}

const char *attr_get(const struct attr_list *l, const char *name)
{
    for (size_t i = 0; i < l->count; i++)
        if (strcmp(l->items[i].name, name) == 0)
            return l->items[i].value;
    return NULL;
}

const char *attr_get_def(const struct attr_list *l, const char *name, const char *dflt)
{
    const char *v = attr_get(l, name);
    return v ? v : dflt;
}

int attr_get_long(const struct attr_list *l, const char *name, long *out)
{
    const char *v = attr_get(l, name);
    char *end;
    if (v == NULL || *v == 0)
        return -1;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end)
        return -1;
    *out = n;
    return 0;
}

int attr_write(struct stream *s, const struct attr_list *l)
{
    int r = attr_put(s, l);
    return r == 0 ? stream_flush(s) : r;
}

/* Writes one value, %XX-encoded where needed, straight into the stream:
 * runs of plain bytes are copied whole. */
static int attr_put_value(struct stream *s, const char *v, size_t len)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t run = 0;
    int r = 0;
    for (size_t i = 0; i < len && r == 0; i++) {
        unsigned char c = (unsigned char)v[i];
        if (c != '%' && c != '\n' && c != '\r' && c != 0)
            continue;
        char esc[3] = { '%', hex[c >> 4], hex[c & 15] };
        r = stream_write(s, v + run, i - run);
        if (r == 0)
            r = stream_write(s, esc, 3);
        run = i + 1;
    }
    return r == 0 ? stream_write(s, v + run, len - run) : r;
}

int attr_put(struct stream *s, const struct attr_list *l)
{
    int r = 0;
    for (size_t i = 0; i < l->count && r == 0; i++) {
        r = stream_puts(s, l->items[i].name);
        if (r == 0)
            r = stream_write(s, "=", 1);
        if (r == 0)
            r = attr_put_value(s, l->items[i].value, l->items[i].vlen);
        if (r == 0)
            r = stream_write(s, "\n", 1);
    }
    return r == 0 ? stream_write(s, "\n", 1) : r;
}

static int attr_hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* An attribute name: lower-case letters, digits and '_' only. */
static bool attr_name_ok(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((p[i] >= 'a' && p[i] <= 'z') || (p[i] >= '0' && p[i] <= '9') || p[i] == '_'))
            return false;
    return true;
}

/* Decodes one "name=value" line (n bytes, no LF) into l: the name checks,
 * %XX decoding and the count and value limits every reader applies.
 * Returns 0 or ATTR_E_FORMAT / ATTR_E_LIMIT. */
static int attr_decode_line(struct attr_list *l, const char *p, size_t n, struct sbuf *val)
{
    const char *eq = memchr(p, '=', n);
    if (eq == NULL || eq == p || eq - p > ATTR_MAX_NAME || !attr_name_ok(p, (size_t)(eq - p)))
        return ATTR_E_FORMAT;
    if (l->count >= l->max_count)
        return ATTR_E_LIMIT;
    sbuf_reset(val);
    for (const char *q = eq + 1; q < p + n; q++) {
        if (*q == '%') {
            int hi = q + 1 < p + n ? attr_hexval(q[1]) : -1;
            int lo = q + 2 < p + n ? attr_hexval(q[2]) : -1;
            if (hi < 0 || lo < 0)
                return ATTR_E_FORMAT;
            sbuf_addch(val, hi * 16 + lo);
            q += 2;
        } else
            sbuf_addch(val, *q);
    }
    if (sbuf_len(val) > ATTR_MAX_VALUE)
        return ATTR_E_LIMIT;
    char name[ATTR_MAX_NAME + 1];
    memcpy(name, p, (size_t)(eq - p));
    name[eq - p] = 0;
    attr_add_len(l, name, sbuf_str(val), sbuf_len(val));
    return 0;
}

/* Work buffers for the readers, kept between calls: the daemons read a
 * list or two per request, and two new buffers each time were four
 * mallocs. Taking one leaves NULL behind, so a nested use gets its own; a
 * buffer that grew large goes back to malloc instead of being kept. */
enum { ATTR_SCRATCH_LINE, ATTR_SCRATCH_VAL, ATTR_SCRATCH_N };
#define ATTR_SCRATCH_KEEP 16384
static struct sbuf *attr_scratch[ATTR_SCRATCH_N];

static struct sbuf *attr_scratch_take(int which)
{
    struct sbuf *b = attr_scratch[which];
    if (b == NULL)
        return sbuf_new(256);
    attr_scratch[which] = NULL;
    sbuf_reset(b);
    return b;
}

static void attr_scratch_give(int which, struct sbuf *b)
{
    if (attr_scratch[which] == NULL && b->cap <= ATTR_SCRATCH_KEEP)
        attr_scratch[which] = b;
    else
        sbuf_free(b);
}

int attr_read(struct stream *s, struct attr_list *l)
{
    struct sbuf *line = attr_scratch_take(ATTR_SCRATCH_LINE);
    struct sbuf *val = attr_scratch_take(ATTR_SCRATCH_VAL);
    int result = 0;

    if (l->max_count == 0)
        l->max_count = ATTR_MAX_COUNT;
    attr_list_reset(l);
    for (;;) {
        ssize_t n = stream_getline(s, line, ATTR_MAX_LINE, NULL);
        if (n == STREAM_E_TOOLONG) {
            result = ATTR_E_LIMIT;
            break;
        }
        if (n < 0) {
            result = (int)n;
            break;
        }
        if (n == 0)
            break;
        if ((result = attr_decode_line(l, sbuf_str(line), (size_t)n, val)) < 0)
            break;
    }
    attr_scratch_give(ATTR_SCRATCH_LINE, line);
    attr_scratch_give(ATTR_SCRATCH_VAL, val);
    return result;
}

int attr_decode(const char *buf, size_t len, struct attr_list *l, size_t *used)
{
    /* Find the end of the list first: nothing is decoded from a partial one.
     * A list that has already more lines than it may hold is refused now,
     * so that the caller's buffer cannot grow without end waiting for it. */
    if (l->max_count == 0)
        l->max_count = ATTR_MAX_COUNT;
    const char *end = NULL;
    size_t lines = 0;
    for (const char *p = buf; p < buf + len; lines++) {
        if (lines > l->max_count)
            return ATTR_E_LIMIT;
        const char *nl = memchr(p, '\n', (size_t)(buf + len - p));
        if (nl == NULL) {
            if ((size_t)(buf + len - p) > ATTR_MAX_LINE)
                return ATTR_E_LIMIT;
            break;
        }
        if ((size_t)(nl - p) > ATTR_MAX_LINE)
            return ATTR_E_LIMIT;
        if (nl == p) {
            end = nl;
            break;
        }
        p = nl + 1;
    }
    if (end == NULL)
        return 0;
    attr_list_reset(l);
    struct sbuf *val = attr_scratch_take(ATTR_SCRATCH_VAL);
    int result = 1;
    for (const char *p = buf; p < end;) {
        const char *nl = memchr(p, '\n', (size_t)(end - p) + 1);
        int r = attr_decode_line(l, p, (size_t)(nl - p), val);
        if (r < 0) {
            result = r;
            break;
        }
        p = nl + 1;
    }
    attr_scratch_give(ATTR_SCRATCH_VAL, val);
    if (result == 1)
        *used = (size_t)(end - buf) + 1;
    return result;
}

int attr_send(struct stream *s, ...)
{
    struct attr_list *l = attr_list_new();
    va_list ap;
    va_start(ap, s);
    for (;;) {
        const char *name = va_arg(ap, const char *);
        if (name == NULL)
            break;
        const char *value = va_arg(ap, const char *);
        attr_add(l, name, value);
    }
    va_end(ap);
    int r = attr_write(s, l);
    attr_list_free(l);
    return r;
}

int attr_send_proto(struct stream *s, const char *proto)
{
    int r = attr_put_proto(s, proto);
    return r == 0 ? stream_flush(s) : r;
}

int attr_put_proto(struct stream *s, const char *proto)
{
    struct attr_list *l = attr_list_new();
    attr_add(l, "proto", proto);
    int r = attr_put(s, l);
    attr_list_free(l);
    return r;
}

/* Reads a greeting with read and checks that its attribute name says
 * proto (and, when only, that nothing else comes with it). */
static int attr_expect(struct stream *s, int (*read)(struct stream *, struct attr_list *),
                       const char *name, const char *proto, bool only)
{
    struct attr_list *l = attr_list_new();
    int r = read(s, l);
    if (r == 0) {
        const char *got = attr_get(l, name);
        if (got == NULL || strcmp(got, proto) != 0 || (only && l->count != 1))
            r = ATTR_E_PROTO;
    }
    attr_list_free(l);
    return r;
}

int attr_expect_proto(struct stream *s, const char *proto)
{
    return attr_expect(s, attr_read, "proto", proto, false);
}

int attr_write0(struct stream *s, const struct attr_list *l)
{
    struct sbuf *b = sbuf_new(256);
    for (size_t i = 0; i < l->count; i++) {
        if (memchr(l->items[i].value, 0, l->items[i].vlen) != NULL) {
            sbuf_free(b);
            return ATTR_E_FORMAT;
        }
        sbuf_append(b, l->items[i].name, strlen(l->items[i].name) + 1);
        sbuf_append(b, l->items[i].value, l->items[i].vlen + 1);
    }
    sbuf_addch(b, 0);
    int r = stream_write(s, sbuf_data(b), sbuf_len(b));
    sbuf_free(b);
    if (r == 0)
        r = stream_flush(s);
    return r;
}

/* Reads bytes up to a NUL into out (replacing it). 0, STREAM_E_*, or
 * ATTR_E_LIMIT when more than max bytes come before the NUL. */
static int attr_get0(struct stream *s, struct sbuf *out, size_t max)
{
    sbuf_reset(out);
    for (;;) {
        int c = stream_getc(s);
        if (c < 0)
            return c;
        if (c == 0)
            return 0;
        if (sbuf_len(out) >= max)
            return ATTR_E_LIMIT;
        sbuf_addch(out, c);
    }
}

int attr_read0(struct stream *s, struct attr_list *l)
{
    struct sbuf *name = sbuf_new(64);
    struct sbuf *val = sbuf_new(256);
    int result = 0;

    if (l->max_count == 0)
        l->max_count = ATTR_MAX_COUNT;
    attr_list_reset(l);
    for (;;) {
        if ((result = attr_get0(s, name, ATTR_MAX_NAME)) < 0)
            break;
        if (sbuf_len(name) == 0)
            break;
        if (!attr_name_ok(sbuf_str(name), sbuf_len(name))) {
            result = ATTR_E_FORMAT;
            break;
        }
        if (l->count >= l->max_count) {
            result = ATTR_E_LIMIT;
            break;
        }
        if ((result = attr_get0(s, val, ATTR_MAX_VALUE)) < 0) {
            if (result == STREAM_E_EOF)
                result = ATTR_E_FORMAT;     /* a name without its value */
            break;
        }
        attr_add_len(l, sbuf_str(name), sbuf_str(val), sbuf_len(val));
    }
    sbuf_free(name);
    sbuf_free(val);
    return result;
}

int attr_send_proto0(struct stream *s, const char *proto)
{
    struct attr_list *l = attr_list_new();
    attr_add(l, "protocol", proto);
    int r = attr_write0(s, l);
    attr_list_free(l);
    return r;
}

int attr_expect_proto0(struct stream *s, const char *proto)
{
    return attr_expect(s, attr_read0, "protocol", proto, true);
}
