/*
 * pipe.h - private interfaces of the pipe delivery agent
 *
 * Used by: the pipe/ sources.
 * Interface: struct pipe_attr and pipe_attr_parse() (the master.cf command
 *            attributes); struct pipe_macros and pipe_expand_argv() (the
 *            ${name} macros of argv=).
 * Notes: see man/man8/pipe.8 for what each attribute and flag means.
 */
#ifndef POSTERN_PIPE_H
#define POSTERN_PIPE_H
#include "sys_compat.h"
#include "deliver_request.h"
#include "sbuf.h"

/* flags= letters */
#define PIPE_F_BLANK 0x001          /* B: blank line after the message */
#define PIPE_F_DELIVERED 0x002      /* D: Delivered-To: (and loop check) */
#define PIPE_F_FROM 0x004           /* F: "From sender date" first line */
#define PIPE_F_ORIG 0x008           /* O: X-Original-To: */
#define PIPE_F_RETURN 0x010         /* R: Return-Path: */
#define PIPE_F_FINAL 0x020          /* X: final delivery (DSN "delivered") */
#define PIPE_F_FOLD_HOST 0x040      /* h: lower-case domains and next hop */
#define PIPE_F_QUOTE 0x080          /* q: quote address local parts */
#define PIPE_F_FOLD_USER 0x100      /* u: lower-case recipient local parts */
#define PIPE_F_DOT 0x200            /* .: "." before lines that start with "." */
#define PIPE_F_QUOTE_FROM 0x400     /* >: ">" before lines that start with "From " */

/* The command attributes that follow "pipe" in master.cf. */
struct pipe_attr {
    char **argv;                /* after argv= (a copy, NULL-terminated) */
    int flags;                  /* PIPE_F_* */
    uid_t uid;
    gid_t gid;
    char *user;                 /* login name (supplementary groups) */
    char *directory;            /* directory=, or NULL */
    char *chroot_dir;           /* chroot=, or NULL */
    struct sbuf *eol;           /* eol= after \ escapes, default "\n" */
    char *null_sender;          /* null_sender=, default MAILER-DAEMON */
    long size_limit;            /* size=, 0 = none */
};

/* Reads args (the master.cf words after the program name). Returns 0, or
 * -1 with why filled ("unknown attribute name: x=y", "missing user=
 * attribute", "user= specifies root privileges", ...). */
int pipe_attr_parse(struct pipe_attr *a, char **args, struct sbuf *why);

/* Releases what pipe_attr_parse() allocated; leaves A zeroed. */
void pipe_attr_free(struct pipe_attr *a);

/* Values for the argv= macros of one delivery request. */
struct pipe_macros {
    const struct pipe_attr *attr;
    const struct deliver_request *req;
    const struct deliver_rcpt *const *rcpts;    /* recipients of this command */
    size_t nrcpt;
    const char *delimiters;     /* recipient_delimiter */
};

/* Expands the macros of attr->argv. An argument that names a recipient
 * macro (recipient, original_recipient, user, extension, mailbox, domain)
 * becomes one argument per recipient; one whose ${user} is empty for a
 * recipient is left out for that recipient. Returns a new NULL-terminated
 * vector (free with cfg_list_free), or NULL with why filled (unknown macro,
 * unbalanced braces). */
char **pipe_expand_argv(const struct pipe_macros *m, struct sbuf *why);

/* Expands one pattern with the non-recipient macros and recipient rc (may
 * be NULL when the pattern has no recipient macro). 0, or -1 with why
 * filled. For the unit test and pipe_expand_argv(). */
int pipe_expand_one(struct sbuf *out, const char *pattern, const struct pipe_macros *m,
                    const struct deliver_rcpt *rc, struct sbuf *why);

#endif
