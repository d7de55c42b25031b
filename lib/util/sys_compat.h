/*
 * sys_compat.h - feature-test macros, common includes and banned functions
 *
 * Used by: every Postern source file, always included first (via the
 *          module headers that include it).
 * Notes: the poison pragma makes a use of an unsafe string function a
 *        compile error; use sbuf_*, snprintf or strlcpy instead.
 */
#ifndef POSTERN_SYS_COMPAT_H
#define POSTERN_SYS_COMPAT_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#define POSTERN_VERSION "0.1.0"
#define POSTERN_MAIL_NAME "Postfix"	/* $mail_name default, as clients expect */

/* strlcpy: copy with truncation; returns strlen(src) so truncation is visible. */
size_t compat_strlcpy(char *dst, const char *src, size_t size);
#define strlcpy compat_strlcpy

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))
#define UNUSED(x) ((void)(x))

#if defined(__GNUC__)
#define PRINTF_LIKE(f, a) __attribute__((format(printf, f, a)))
#define NORETURN __attribute__((noreturn))
#else
#define PRINTF_LIKE(f, a)
#define NORETURN
#endif

#ifndef POSTERN_ALLOW_BANNED
/* With _FORTIFY_SOURCE, glibc defines some of these as macros for
 * compilers without __builtin_va_arg_pack (clang), and poisoning a macro
 * is an error there. Nothing may call them, so their fortified forms
 * are not lost. */
#undef strcpy
#undef strcat
#undef sprintf
#undef vsprintf
#undef gets
#undef strtok
#undef atoi
#pragma GCC poison strcpy strcat sprintf vsprintf gets strtok atoi
#endif

#endif
