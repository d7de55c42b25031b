/*
 * postconf_edit.c - in-place edits of main.cf and master.cf (postconf -e/-X/-#)
 *
 * Used by: postconf.c.
 * Interface: postconf_edit_file().
 * Errors: I/O errors are logged with the path; the original file is then
 *         left as it was.
 * Notes: an entry is a logical line: its first physical line (no leading
 *        white space) and the non-blank lines after it that start with white
 *        space. Comment and blank lines are never part of an entry, so they
 *        survive every edit. The new file is written next to the old one,
 *        fsync'ed, given the old file's mode, and renamed over it.
 */
#include "postconf.h"

#include "sys_compat.h"

#include <ctype.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "alloc.h"
#include "config.h"
#include "log.h"
#include "sbuf.h"

struct pe_line {
    char *text;             /* without the newline */
    int entry;              /* index of the entry it belongs to, -1 if none */
};

/* The key of a logical line's first physical line, or NULL. Returns new. */
static char *pe_key(const char *line, enum postconf_file_kind kind)
{
    const char *p = line;

    if (*p == 0 || isspace((unsigned char) *p) || *p == '#')
        return NULL;
    if (kind == POSTCONF_MAIN_CF) {
        while (config_name_char((unsigned char) *p))
            p++;
        const char *end = p;

        while (isspace((unsigned char) *p))
            p++;
        if (*p != '=' || end == line)
            return NULL;
        return xstrndup(line, (size_t) (end - line));
    }
    /* master.cf: "service type ..." -> "service/type" */
    const char *e1 = p;

    while (*e1 && !isspace((unsigned char) *e1))
        e1++;
    const char *t = e1;

    while (isspace((unsigned char) *t))
        t++;
    const char *e2 = t;

    while (*e2 && !isspace((unsigned char) *e2))
        e2++;
    if (t == e2)
        return NULL;
    struct sbuf *b = sbuf_new(64);

    sbuf_append(b, line, (size_t) (e1 - line));
    sbuf_addch(b, '/');
    sbuf_append(b, t, (size_t) (e2 - t));
    return sbuf_detach(b);
}

static int pe_write(const char *path, const struct sbuf *out)
{
    struct sbuf *tmp = sbuf_new(128);
    struct stat st;
    mode_t mode = 0644;
    int fd, rc = -1;

    if (stat(path, &st) == 0)
        mode = st.st_mode & 07777;
    sbuf_printf(tmp, "%s.tmp", path);
    fd = open(sbuf_str(tmp), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        log_warn("open %s: %m", sbuf_str(tmp));
        sbuf_free(tmp);
        return -1;
    }
    const char *p = sbuf_str(out);
    size_t left = sbuf_len(out);

    while (left > 0) {
        ssize_t n = write(fd, p, left);

        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_warn("write %s: %m", sbuf_str(tmp));
            goto out;
        }
        p += n;
        left -= (size_t) n;
    }
    if (fchmod(fd, mode) < 0 || fsync(fd) < 0) {
        log_warn("sync %s: %m", sbuf_str(tmp));
        goto out;
    }
    if (close(fd) < 0) {
        fd = -1;
        log_warn("close %s: %m", sbuf_str(tmp));
        goto out;
    }
    fd = -1;
    if (rename(sbuf_str(tmp), path) < 0) {
        log_warn("rename %s to %s: %m", sbuf_str(tmp), path);
        goto out;
    }
    rc = 0;
out:
    if (fd >= 0)
        close(fd);
    if (rc < 0)
        unlink(sbuf_str(tmp));
    sbuf_free(tmp);
    return rc;
}

int postconf_edit_file(const char *path, enum postconf_file_kind kind,
                       enum postconf_edit_mode mode, struct postconf_edit *edits, size_t n)
{
    FILE *fp = fopen(path, "r");
    struct pe_line *lines = NULL;
    size_t nlines = 0, cap = 0;
    char *buf = NULL;
    size_t bcap = 0;
    ssize_t len;
    int cur = -1, rc;

    if (fp == NULL && (errno != ENOENT || mode != POSTCONF_EDIT_SET)) {
        log_warn("open %s: %m", path);
        return -1;
    }
    while (fp && (len = getline(&buf, &bcap, fp)) >= 0) {
        while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
            buf[--len] = 0;
        if (nlines == cap) {
            cap = cap ? 2 * cap : 128;
            lines = xreallocarray(lines, cap, sizeof(*lines));
        }
        lines[nlines].text = xstrdup(buf);
        lines[nlines].entry = -1;
        /* Which edit does this line belong to? */
        const char *p = buf;

        while (isspace((unsigned char) *p))
            p++;
        if (*p == 0 || *p == '#') {
            cur = -1;                       /* blank/comment: never part of an entry */
        } else if (p != buf) {
            lines[nlines].entry = cur;      /* continuation */
        } else {
            char *key = pe_key(buf, kind);

            cur = -1;
            for (size_t i = 0; key && i < n; i++)
                if (strcmp(key, edits[i].key) == 0)
                    cur = (int) i;
            lines[nlines].entry = cur;
            xfree(key);
        }
        nlines++;
    }
    free(buf);
    if (fp)
        fclose(fp);

    struct sbuf *out = sbuf_new(4096);
    int *count = xcalloc(n + 1, sizeof(*count));

    for (size_t i = 0; i < nlines; i++)
        if (lines[i].entry >= 0 && !isspace((unsigned char) lines[i].text[0])
            && ++count[lines[i].entry] == 2)
            log_warn("%s: multiple entries for \"%s\"", path, edits[lines[i].entry].key);
    xfree(count);

    for (size_t i = 0; i < nlines; i++) {
        int e = lines[i].entry;

        if (e < 0) {
            sbuf_cat(out, lines[i].text);
            sbuf_addch(out, '\n');
            continue;
        }
        bool first = !isspace((unsigned char) lines[i].text[0]);

        switch (mode) {
        case POSTCONF_EDIT_SET:
            if (first) {
                sbuf_cat(out, edits[e].text);
                sbuf_addch(out, '\n');
            }
            break;      /* continuation lines of a replaced entry are dropped */
        case POSTCONF_EDIT_REMOVE:
            break;
        case POSTCONF_EDIT_COMMENT:
            sbuf_addch(out, '#');
            sbuf_cat(out, lines[i].text);
            sbuf_addch(out, '\n');
            break;
        }
        /* Mark done after the entry's last physical line. */
        if (i + 1 >= nlines || lines[i + 1].entry != e
            || !isspace((unsigned char) lines[i + 1].text[0]))
            edits[e].done = true;
    }
    if (mode == POSTCONF_EDIT_SET) {
        for (size_t i = 0; i < n; i++) {
            if (edits[i].done)
                continue;
            if (sbuf_len(out) && sbuf_str(out)[sbuf_len(out) - 1] != '\n')
                sbuf_addch(out, '\n');
            sbuf_cat(out, edits[i].text);
            sbuf_addch(out, '\n');
            edits[i].done = true;
        }
    }
    rc = pe_write(path, out);
    sbuf_free(out);
    for (size_t i = 0; i < nlines; i++)
        xfree(lines[i].text);
    xfree(lines);
    return rc;
}
