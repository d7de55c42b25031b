/*
 * dns_reply_fuzz.c - libFuzzer target: the DNS reply parser
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: the input is a reply as a name server (or whoever answers in its
 *        place) sends it to dns_lookup(); it is parsed for every record
 *        type the callers ask for (A, AAAA, MX, PTR, TXT, TLSA). A result
 *        is DNS_OK with records or one of the failures with none, and
 *        every TLSA record's data lies within the reply.
 */
#include "dns_lookup.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    static const int types[] = { DNS_T_A, DNS_T_AAAA, DNS_T_MX, DNS_T_PTR, DNS_T_TXT, DNS_T_TLSA };
    unsigned char *buf = xmalloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    for (size_t t = 0; t < sizeof(types) / sizeof(types[0]); t++) {
        struct dns_rr *rr = NULL;
        int r = dns_parse_reply(buf, size, types[t], &rr);
        if ((r == DNS_OK) != (rr != NULL))
            abort();
        for (struct dns_rr *p = rr; p; p = p->next)
            if (p->data == NULL || (types[t] == DNS_T_TLSA && (p->binlen == 0 || p->binlen > size)))
                abort();
        dns_rr_list_free(rr);
    }
    xfree(buf);
    return 0;
}
