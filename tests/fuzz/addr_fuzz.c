/*
 * addr_fuzz.c - libFuzzer target: the header address-list parser
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: the input is a header value exactly as a remote sender wrote it
 *        (To:, Cc:, Reply-To:, ...), passed as a counted buffer with no NUL
 *        after it, so a read past the end is caught by ASan. Every address
 *        found must lie inside the value and respect ADDR_MAX_LEN; quoting
 *        an address to external form and unquoting it again must give the
 *        same internal address, and the split/fold helpers run on each one.
 */
#include "fuzz_common.h"
#include "addr.h"
#include "sbuf.h"

#define ADDR_FUZZ_MAX_ITEMS 50

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    /* An exact-size copy: nothing readable after the last byte. */
    char *value = xmalloc(size ? size : 1);

    if (size)
        memcpy(value, data, size);

    struct addr_items items = { 0 };
    size_t n = addr_parse_list(value, size, ADDR_FUZZ_MAX_ITEMS, &items);

    if (n != items.n || n > ADDR_FUZZ_MAX_ITEMS)
        abort();
    struct sbuf *ext = sbuf_new(64), *back = sbuf_new(64);
    struct sbuf *local = sbuf_new(64), *domain = sbuf_new(64);

    for (size_t i = 0; i < items.n; i++) {
        const struct addr_item *it = &items.v[i];

        if (it->addr == NULL || it->addr[0] == 0 || strlen(it->addr) > ADDR_MAX_LEN)
            abort();
        if (it->start > size || it->len > size - it->start)
            abort();
        addr_quote(ext, it->addr);
        addr_unquote(back, sbuf_str(ext));
        if (strcmp(sbuf_str(back), it->addr) != 0)
            abort();
        bool has_at = addr_split(it->addr, local, domain);

        if (has_at != (addr_at(it->addr) != NULL))
            abort();
        (void)addr_needs_quote(sbuf_str(local), sbuf_len(local));
        char *copy = xstrdup(it->addr);

        addr_fold_domain(copy);
        if (strlen(copy) != strlen(it->addr))
            abort();
        xfree(copy);
    }
    sbuf_free(ext);
    sbuf_free(back);
    sbuf_free(local);
    sbuf_free(domain);
    addr_items_free(&items);
    xfree(value);
    return 0;
}
