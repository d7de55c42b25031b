/*
 * dict_file.c - table values that name files (postmap -F, tls_server_sni_maps)
 *
 * Used by: see dict_file.h.
 * Interface: see dict_file.h.
 * Errors: see dict_file.h.
 */
#include "dict_file.h"
#include "alloc.h"
#include "base64.h"
#include <fcntl.h>
#include <sys/stat.h>

/* Appends the content of file to buf (at most DICT_FILE_MAX in all). */
static int dict_file_read(const char *file, struct sbuf *buf, struct sbuf *why)
{
    int fd = open(file, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    struct stat st;
    if (fd < 0) {
        sbuf_printf(why, "open %s: %s", file, strerror(errno));
        return -1;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        sbuf_printf(why, "%s: not a regular file", file);
        close(fd);
        return -1;
    }
    char chunk[8192];
    for (;;) {
        ssize_t n = read(fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            sbuf_printf(why, "read %s: %s", file, strerror(errno));
            close(fd);
            return -1;
        }
        if (n == 0)
            break;
        if (sbuf_len(buf) + (size_t)n > DICT_FILE_MAX) {
            sbuf_printf(why, "%s: more than %d bytes in the files of one entry", file,
                        DICT_FILE_MAX);
            close(fd);
            return -1;
        }
        sbuf_append(buf, chunk, (size_t)n);
    }
    close(fd);
    return 0;
}

int dict_file_to_b64(const char *names, struct sbuf *out, struct sbuf *why)
{
    static const char sep[] = " \t\r\n,";
    struct sbuf *content = sbuf_new(4096);
    int files = 0, rc = 0;
    for (const char *p = names + strspn(names, sep); *p; p += strspn(p, sep)) {
        size_t n = strcspn(p, sep);
        char *file = xstrndup(p, n);
        p += n;
        if (files++ > 0)
            sbuf_addch(content, '\n');
        rc = dict_file_read(file, content, why);
        xfree(file);
        if (rc < 0)
            break;
    }
    if (rc == 0 && files == 0) {
        sbuf_set(why, "no file name in the value");
        rc = -1;
    }
    sbuf_reset(out);
    if (rc == 0)
        base64_encode(out, sbuf_str(content), sbuf_len(content));
    sbuf_free(content);
    return rc;
}

int dict_file_from_b64(const char *value, struct sbuf *out)
{
    sbuf_reset(out);
    return base64_decode(out, value, strlen(value));
}
