/*
 * smtpd_path_fuzz.c - libFuzzer target: smtpd's MAIL FROM/RCPT TO path parser
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: smtpd_addr.c belongs to smtpd, not to libpostern, so it is compiled
 *        into this target (as tests/unit/smtpd_addr_test.c does). The input,
 *        up to its first NUL, is the text after "MAIL FROM:" as a client sent
 *        it. It is parsed strictly and leniently; an accepted path must give
 *        an address without control characters, a rest pointer inside the
 *        text, and must read back the same after smtpd_addr_quote() and
 *        strict re-parsing. The text is also fed to the xtext decoder
 *        (ORCPT= and ENVID= parameters).
 */
#include "../../smtpd/smtpd_addr.c"
#include "fuzz_common.h"

static void smtpd_path_fuzz_one(const char *text, bool strict)
{
    struct sbuf *addr = sbuf_new(64), *ext = sbuf_new(64), *again = sbuf_new(64);
    const char *rest = NULL;
    int rc = smtpd_addr_parse(text, strict, addr, &rest);

    if (rc != SMTPD_ADDR_OK && rc != SMTPD_ADDR_SYNTAX && rc != SMTPD_ADDR_BAD &&
        rc != SMTPD_ADDR_TOOLONG)
        abort();
    if (rc == SMTPD_ADDR_OK) {
        if (rest == NULL || rest < text || rest > text + strlen(text))
            abort();
        if (sbuf_len(addr) > SMTPD_PATH_MAX || strlen(sbuf_str(addr)) != sbuf_len(addr))
            abort();
        for (const char *p = sbuf_str(addr); *p; p++)
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                abort();
        /* External form, bracketed, parses back to the same address. */
        smtpd_addr_quote(ext, sbuf_str(addr));
        sbuf_printf(again, "<%s>", sbuf_str(ext));
        struct sbuf *addr2 = sbuf_new(64);
        int rc2 = smtpd_addr_parse(sbuf_str(again), true, addr2, NULL);

        if (rc2 != SMTPD_ADDR_TOOLONG &&
            (rc2 != SMTPD_ADDR_OK || strcmp(sbuf_str(addr2), sbuf_str(addr)) != 0))
            abort();
        sbuf_free(addr2);
    }
    sbuf_free(addr);
    sbuf_free(ext);
    sbuf_free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    char *text = fuzz_cstr(data, size);
    struct sbuf *x = sbuf_new(64);

    smtpd_path_fuzz_one(text, true);
    smtpd_path_fuzz_one(text, false);
    if (smtpd_xtext_decode(x, text) == 0 && sbuf_len(x) > strlen(text))
        abort();
    sbuf_free(x);
    xfree(text);
    return 0;
}
