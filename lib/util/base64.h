/*
 * base64.h - base64 (RFC 4648, standard alphabet, padded) without a library
 *
 * Used by: lib/mail/dict_file.c (postmap -F values, tls_server_sni_maps).
 * Interface: base64_encode(), base64_decode().
 * Errors: base64_decode() returns -1 on a character outside the alphabet,
 *         misplaced padding or a length that is not a multiple of four.
 * Notes: postmap must not load OpenSSL or libsodium just to encode a table
 *        value; SASL and DKIM keep their libraries' codecs.
 */
#ifndef POSTERN_BASE64_H
#define POSTERN_BASE64_H
#include "sys_compat.h"
#include "sbuf.h"

/* Appends the base64 of p (n bytes) to out, no line breaks. */
void base64_encode(struct sbuf *out, const void *p, size_t n);
/* Appends the bytes that s (n characters) encodes to out; white space is
 * skipped. Returns 0, or -1 (out then holds a partial result). */
int base64_decode(struct sbuf *out, const char *s, size_t n);

#endif
