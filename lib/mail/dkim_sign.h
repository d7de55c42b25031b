/*
 * dkim_sign.h - DKIM signatures (RFC 6376, RFC 8463) for a message read
 *               line by line
 *
 * Used by: cleanup (cleanup_dkim.c), tests/unit/dkim_sign_test.c.
 * Interface: dkim_canon_header(), dkim_body_*() (canonicalization and body
 *            hash), dkim_msg_*() (collect a message, sign it),
 *            dkim_key_entry_parse().
 * Errors: dkim_msg_sign() returns -1 with a reason; the caller logs.
 * Notes: lines come without their line ending; canonical form uses CRLF.
 *        docs/dkim.md describes the choices (header selection, oversigning,
 *        folding).
 */
#ifndef POSTERN_DKIM_SIGN_H
#define POSTERN_DKIM_SIGN_H
#include "sys_compat.h"
#include "sbuf.h"
#include "dkim_crypto.h"

/* Appends the canonical form of one header (lines separated by '\n', no
 * final newline) followed by CRLF. */
void dkim_canon_header(struct sbuf *out, const char *hdr, size_t len, bool relaxed);

struct dkim_body;
/* Body hash in progress (returns new). */
struct dkim_body *dkim_body_new(bool relaxed);
/* One body line, without its line ending. */
void dkim_body_line(struct dkim_body *b, const char *line, size_t len);
/* Appends the base64 body hash (bh=) to out; the body then takes no more lines. */
void dkim_body_final(struct dkim_body *b, struct sbuf *out);
void dkim_body_free(struct dkim_body *b);

struct dkim_opts {
    char **headers;         /* names to sign, NULL-terminated */
    char **oversign;        /* names signed once more than present */
    bool hdr_relaxed, body_relaxed;
};

struct dkim_msg;
/* A message in progress (returns new). */
struct dkim_msg *dkim_msg_new(bool body_relaxed);
/* One piece of a content line: eol false for a piece that the next one
 * continues (REC_CONT), true for the last piece (REC_NORM). */
void dkim_msg_piece(struct dkim_msg *m, const char *data, size_t len, bool eol);
/* The domain of the From: header address, lower case; NULL when the
 * message does not have exactly one From: with an address (borrows). */
const char *dkim_msg_from_domain(struct dkim_msg *m);
/* Finishes the body hash (idempotent) and signs: out gets the complete
 * DKIM-Signature header, folded with "\n\t", no final newline. Returns 0 or
 * -1 with err. */
int dkim_msg_sign(struct dkim_msg *m, const struct dkim_opts *o, const char *domain,
                  const char *selector, int alg, struct dkim_key *key, long now,
                  struct sbuf *out, struct sbuf *err);
void dkim_msg_free(struct dkim_msg *m);

/* Parses "selector:algorithm:path" (algorithm rsa or ed25519). Fills sel
 * and path; returns the DKIM_ALG_* or -1. */
int dkim_key_entry_parse(const char *entry, struct sbuf *sel, struct sbuf *path);

#endif
