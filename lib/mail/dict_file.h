/*
 * dict_file.h - table values that name files (postmap -F, tls_server_sni_maps)
 *
 * Used by: dict_db.c (dict_db_load_source with DICT_DB_SRC_FILES: postmap -F,
 *          texthash: opened with DICT_F_RHS_FILE), dict_inline.c, dict_tool.c
 *          (postmap -F -q/-s), smtpd (tls_server_sni_maps).
 * Interface: dict_file_to_b64(), dict_file_from_b64().
 * Errors: dict_file_to_b64() returns -1 with the reason ("open FILE: ...").
 * Notes: as in Postfix, the value is a list of file names separated by
 *        commas and/or white space; the files' contents are joined with a
 *        newline between two files and stored base64-encoded, so that an
 *        indexed table holds the content itself (keys and certificates read
 *        as root when the table is built, none read later by path).
 */
#ifndef POSTERN_DICT_FILE_H
#define POSTERN_DICT_FILE_H
#include "sys_compat.h"
#include "sbuf.h"

#define DICT_FILE_MAX (1 << 19)     /* content limit: the table keeps values below 1 MiB */

/* Replaces out with the base64 of the files that names lists. */
int dict_file_to_b64(const char *names, struct sbuf *out, struct sbuf *why);
/* Replaces out with the content a stored value encodes; -1 when it is not
 * base64 (a table built without -F). */
int dict_file_from_b64(const char *value, struct sbuf *out);

#endif
