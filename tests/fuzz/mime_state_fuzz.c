/*
 * mime_state_fuzz.c - libFuzzer target: the MIME structure parser
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: message content is peer input. The bytes are split into lines at
 *        LF; a line longer than 64 bytes is fed as REC_CONT pieces ending
 *        in a REC_NORM, as cleanup receives it. Small header and nesting
 *        limits reach the truncation and nesting paths quickly. Checked:
 *        no crash or leak, every header starts with a header name, and the
 *        body bytes plus the header bytes never exceed the input.
 */
#include "fuzz_common.h"
#include "mime_state.h"
#include "qfile.h"
#include "sbuf.h"

static size_t fuzz_out;

static void fz_header(void *ctx, int cls, struct sbuf *h)
{
    (void)ctx;
    if (cls < MIME_HDR_PRIMARY || cls > MIME_HDR_NESTED || sbuf_len(h) == 0 ||
        sbuf_str(h)[0] == ' ' || sbuf_str(h)[0] == '\t' || strchr(sbuf_str(h), ':') == NULL)
        abort();
    fuzz_out += sbuf_len(h);
}

static void fz_header_end(void *ctx, int cls)
{
    (void)ctx;
    if (cls < MIME_HDR_PRIMARY || cls > MIME_HDR_NESTED)
        abort();
}

static void fz_body(void *ctx, int type, const char *data, size_t len, long offset)
{
    (void)ctx;
    (void)data;
    if ((type != REC_NORM && type != REC_CONT) || offset < 0)
        abort();
    fuzz_out += len;
}

static const struct mime_state_ops fz_ops = { fz_header, fz_header_end, fz_body };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static bool init;
    if (!init) {
        fuzz_init();
        init = true;
    }
    const char *p = (const char *)data, *end = p + size;
    struct mime_state *m = mime_state_new(&fz_ops, NULL, size > 0 && (data[0] & 1) ? MIME_OPT_DISABLE_MIME : 0,
                                          200, 4);
    fuzz_out = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        const char *q = p;
        while (n > 64) {
            mime_state_update(m, REC_CONT, q, 64);
            q += 64;
            n -= 64;
        }
        mime_state_update(m, REC_NORM, q, n);
        p = nl ? nl + 1 : end;
    }
    mime_state_end(m);
    mime_state_free(m);
    /* Folded headers gain no bytes ('\n' for each LF taken). */
    if (fuzz_out > size)
        abort();
    return 0;
}
