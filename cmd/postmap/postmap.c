/*
 * postmap.c - the postmap command (Postfix compatible)
 *
 * Used by: administrators, newaliases (postalias), the test suites.
 * Interface: main(); everything else is dict_tool_main() in lib/mail.
 * Errors: see dict_tool.c; exit 0 on success or a found key, 1 otherwise.
 * Notes: man page man/man1/postmap.1.
 */
#include "dict_db.h"

int main(int argc, char **argv)
{
    return dict_tool_main(argc, argv, false);
}
