/*
 * local_biff.c - "new mail" notices to the comsat (biff) service
 *
 * Used by: local_deliver.c, after a message was appended to a user's mbox
 *          mailbox (not Maildir, not /file targets, not commands).
 * Interface: local_biff_init(), local_biff_notify().
 * Errors: none reach the caller. A notice is one UDP datagram sent without
 *         waiting; when it cannot be sent it is dropped (a -v log line says
 *         why), so a missing or slow comsat never delays or fails delivery.
 * Notes: the datagram is the text "user@offset" followed by its NUL byte,
 *        as Postfix sends it: comsat(8) reads the user's mailbox from that
 *        byte offset to show the new message. It goes to the "biff" UDP
 *        service (port 512 when /etc/services has no entry) on 127.0.0.1.
 *        The socket is made on first use and kept for the process's life.
 */
#include "local.h"
#include "config.h"
#include "log.h"
#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#define LOCAL_BIFF_PORT 512     /* when getservbyname() does not know "biff" */

static bool local_biff_on;      /* biff = yes */
static int local_biff_fd = -1;
static struct sockaddr_in local_biff_addr;

void local_biff_init(void)
{
    local_biff_on = cfg_bool(P_BIFF);
}

/* Makes the socket and the address on first use. 0, or -1 (logged at -v). */
static int local_biff_open(void)
{
    if (local_biff_fd >= 0)
        return 0;
    struct servent *se = getservbyname("biff", "udp");
    memset(&local_biff_addr, 0, sizeof(local_biff_addr));
    local_biff_addr.sin_family = AF_INET;
    local_biff_addr.sin_port = se ? (in_port_t)se->s_port : htons(LOCAL_BIFF_PORT);
    local_biff_addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    /* Non-blocking: a full socket buffer drops the notice, never waits. */
    local_biff_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (local_biff_fd < 0) {
        log_debug(1, "biff: socket: %m");
        return -1;
    }
    return 0;
}

void local_biff_notify(const char *user, off_t offset)
{
    if (!local_biff_on || local_biff_open() < 0)
        return;
    struct sbuf *b = sbuf_new(64);
    sbuf_printf(b, "%s@%lld", user, (long long)offset);
    /* sbuf keeps a NUL after the text: send it too, as Postfix does */
    if (sendto(local_biff_fd, sbuf_str(b), sbuf_len(b) + 1, 0,
               (const struct sockaddr *)&local_biff_addr, sizeof(local_biff_addr)) < 0)
        log_debug(1, "biff: send \"%s\" to 127.0.0.1:%u: %m", sbuf_str(b),
                  (unsigned)ntohs(local_biff_addr.sin_port));
    else
        log_debug(1, "biff: sent \"%s\" to 127.0.0.1:%u", sbuf_str(b),
                  (unsigned)ntohs(local_biff_addr.sin_port));
    sbuf_free(b);
}
