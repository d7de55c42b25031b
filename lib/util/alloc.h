/*
 * alloc.h - allocation that never returns NULL
 *
 * Used by: everything.
 * Interface: xmalloc(), xcalloc(), xrealloc(), xreallocarray(), xstrdup(),
 *            xstrndup(), xmemdup(), xfree().
 * Errors: out of memory or size overflow is log_fatal().
 */
#ifndef POSTERN_ALLOC_H
#define POSTERN_ALLOC_H
#include "sys_compat.h"

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
void *xreallocarray(void *p, size_t n, size_t size);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
void *xmemdup(const void *p, size_t n);
void xfree(void *p);

#endif
