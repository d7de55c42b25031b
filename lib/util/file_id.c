/*
 * file_id.c - has a file been replaced or rewritten since it was read?
 *
 * Used by: see file_id.h.
 * Interface: see file_id.h.
 * Errors: none.
 */
#include "file_id.h"

bool file_id_same(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size
        && a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec
        && a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}
