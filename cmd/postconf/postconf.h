/*
 * postconf.h - private interface between the postconf modules
 *
 * Used by: cmd/postconf/postconf.c (options, printing),
 *          cmd/postconf/postconf_edit.c (in-place main.cf/master.cf edits).
 * Interface: postconf_edit_file(), enum postconf_edit_mode, struct postconf_edit.
 * Notes: edits are written to FILE.tmp beside the file, fsync'ed and renamed
 *        over it, so a reader sees the old or the new file, never a mix.
 */
#ifndef POSTERN_POSTCONF_H
#define POSTERN_POSTCONF_H
#include "sys_compat.h"

enum postconf_edit_mode {
    POSTCONF_EDIT_SET,      /* replace the first entry, drop the others, or append */
    POSTCONF_EDIT_REMOVE,   /* delete every entry */
    POSTCONF_EDIT_COMMENT,  /* put '#' before every line of every entry */
};

enum postconf_file_kind {
    POSTCONF_MAIN_CF,       /* entries keyed by "name" in "name = value" */
    POSTCONF_MASTER_CF,     /* entries keyed by "service/type" (first two columns) */
};

struct postconf_edit {
    const char *key;        /* parameter name or service/type */
    const char *text;       /* SET: the complete new logical line (may hold \n) */
    bool done;              /* set by postconf_edit_file when an entry matched */
};

/* Applies edits to path. Returns 0, or -1 after logging (the file is then
 * unchanged). A missing file counts as empty for SET. */
int postconf_edit_file(const char *path, enum postconf_file_kind kind,
                       enum postconf_edit_mode mode, struct postconf_edit *edits, size_t n);

#endif
