/*
 * soft_bounce.c - the soft_bounce safety net
 *
 * Used by: deliver_request, smtpd.
 * Interface: see soft_bounce.h.
 * Errors: none.
 */
#include "soft_bounce.h"
#include "config.h"
#include <ctype.h>

bool soft_bounce_enabled(void)
{
    static int on = -1;
    if (on < 0)
        on = cfg_bool(P_SOFT_BOUNCE) ? 1 : 0;
    return on == 1;
}

void soft_bounce_dsn(char *dsn)
{
    if (dsn && dsn[0] == '5' && dsn[1] == '.')
        dsn[0] = '4';
}

void soft_bounce_text(char *reply)
{
    if (reply == NULL || reply[0] != '5' || !isdigit((unsigned char)reply[1])
        || !isdigit((unsigned char)reply[2]) || (reply[3] != ' ' && reply[3] != '-'
                                                 && reply[3] != 0))
        return;
    reply[0] = '4';
    if (reply[3] != 0)
        soft_bounce_dsn(reply + 4);
}
