/*
 * haproxy_fuzz.c - libFuzzer target: the PROXY protocol header parser
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: the input is what a connection to a smtpd with
 *        smtpd_upstream_proxy_protocol = haproxy sends first. It is offered
 *        in an exact-size buffer, whole and as every prefix (as smtpd feeds
 *        it, byte by byte); a prefix of a complete header never counts as
 *        complete or broken, a result never exceeds the input, and the
 *        addresses of an accepted header are NUL-terminated numeric text.
 */
#include "fuzz_common.h"
#include "haproxy.h"
#include <arpa/inet.h>
#include <sys/socket.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    if (size > HAPROXY_MAX_LEN + 16)
        size = HAPROXY_MAX_LEN + 16;
    unsigned char *buf = xmalloc(size ? size : 1);
    if (size)
        memcpy(buf, data, size);
    struct haproxy_info info;
    const char *why;
    ssize_t first = 0;
    size_t first_at = 0;
    for (size_t n = 0; n <= size; n++) {
        ssize_t r = haproxy_parse(buf, n, &info, &why);
        if (r < -1 || r > (ssize_t)n)
            abort();
        if (r == -1 && why == NULL)
            abort();
        if (r > 0 && !info.local) {
            unsigned char bin[16];
            if (inet_pton(info.family, info.client_addr, bin) != 1
                || info.client_port > 65535 || info.server_port > 65535)
                abort();
        }
        if (r != 0 && first == 0) {
            first = r;
            first_at = n;
        }
        /* Once decided, more bytes never change the verdict. */
        if (first != 0 && r != first)
            abort();
    }
    if (first > 0 && (size_t)first != first_at)
        abort();
    xfree(buf);
    return 0;
}
