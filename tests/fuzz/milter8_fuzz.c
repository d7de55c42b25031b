/*
 * milter8_fuzz.c - libFuzzer target: decoding of milter replies
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: the first byte is the reply command, the rest its data, passed as
 *        an exact-size copy so a read past the end is caught by ASan. A
 *        decoded reply must hold only strings that end inside the data; a
 *        reply code text must start with a 4xx/5xx code.
 */
#include "fuzz_common.h"
#include "milter8.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size == 0)
        return 0;
    size_t n = size - 1;
    char *buf = xmalloc(n ? n : 1);
    if (n)
        memcpy(buf, data + 1, n);
    struct milter8_reply r;
    struct sbuf *err = sbuf_new(64);
    if (milter8_parse_reply(data[0], buf, n, &r, err) == 0) {
        if (r.s1 && strlen(r.s1) > n)
            abort();
        if (r.s2 && strlen(r.s2) > n)
            abort();
        if (r.cmd == SMFIR_REPLYCODE && (r.s1 == NULL || (r.s1[0] != '4' && r.s1[0] != '5')))
            abort();
        if (r.body && sbuf_len(r.body) != n)
            abort();
    }
    milter8_reply_free(&r);
    sbuf_free(err);
    xfree(buf);
    return 0;
}
