/*
 * hostname.c - is a string a syntactically valid host name (Postfix's rules)
 *
 * Used by: see hostname.h.
 * Interface: see hostname.h.
 */
#include "hostname.h"
#include <ctype.h>
#include <string.h>

bool hostname_valid(const char *name, bool allow_8bit)
{
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return false;
    size_t label = 0;
    bool numeric = true;
    for (const char *p = name; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c == '.') {
            if (label == 0 || p[-1] == '-')
                return false;
            label = 0;
            continue;
        }
        if (!(isalnum(c) || c == '-' || c == '_' || (allow_8bit && c >= 0x80)))
            return false;
        if (c == '-' && label == 0)
            return false;
        if (!isdigit(c))
            numeric = false;
        if (++label > 63)
            return false;
    }
    return label > 0 && name[len - 1] != '-' && !numeric;
}
