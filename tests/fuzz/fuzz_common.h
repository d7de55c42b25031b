/*
 * fuzz_common.h - helpers shared by the libFuzzer targets in tests/fuzz
 *
 * Used by: every tests/fuzz target (each includes this once).
 * Interface: fuzz_init() (quiet logging, private temp directory),
 *            fuzz_write_file() (input bytes to a file in that directory),
 *            fuzz_pipe() (input bytes behind the read end of a pipe),
 *            fuzz_cstr() (a NUL-terminated copy of the input).
 * Notes: logging is switched off (no /dev/log traffic at thousands of runs
 *        a second); log_fatal() and log_panic() are left alone, so a parser
 *        that exits or aborts on input shows up as a libFuzzer crash. The
 *        temp directory is removed at exit.
 */
#ifndef POSTERN_FUZZ_COMMON_H
#define POSTERN_FUZZ_COMMON_H
#include "sys_compat.h"
#include "alloc.h"
#include "log.h"
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir[64];

static void fuzz_cleanup(void)
{
    char path[512];
    DIR *d = fuzz_dir[0] ? opendir(fuzz_dir) : NULL;
    struct dirent *e;

    while (d && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        snprintf(path, sizeof(path), "%s/%s", fuzz_dir, e->d_name);
        unlink(path);
    }
    if (d)
        closedir(d);
    if (fuzz_dir[0])
        rmdir(fuzz_dir);
}

/* Once per process: logging off, temp directory made. */
__attribute__((unused)) static void fuzz_init(void)
{
    static bool done;

    if (done)
        return;
    done = true;
    log_set_tag("postern/fuzz");
    log_set_stderr(getenv("FUZZ_VERBOSE") != NULL);
    log_close_syslog();
    strlcpy(fuzz_dir, "/tmp/postern-fuzz.XXXXXX", sizeof(fuzz_dir));
    if (mkdtemp(fuzz_dir) == NULL) {
        perror("mkdtemp");
        abort();
    }
    atexit(fuzz_cleanup);
}

/* Writes data to fuzz_dir/name (replacing it); fills path (cap bytes). */
__attribute__((unused)) static void fuzz_write_file(const char *name, const uint8_t *data, size_t size, char *path,
                            size_t cap)
{
    snprintf(path, cap, "%s/%s", fuzz_dir, name);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size)) {
        perror(path);
        abort();
    }
    close(fd);
}

/* Returns the read end of a pipe that yields data and then EOF, or -1 when
 * the input does not fit in the pipe buffer (caller skips the input). */
__attribute__((unused)) static int fuzz_pipe(const uint8_t *data, size_t size)
{
    int p[2];

    if (pipe2(p, O_CLOEXEC) < 0) {
        perror("pipe");
        abort();
    }
    if (size > 65536 && size <= (1 << 20))
        (void)fcntl(p[1], F_SETPIPE_SZ, (int)size);
    int cap = fcntl(p[1], F_GETPIPE_SZ);
    if (cap < 0 || (size_t)cap < size) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (size > 0 && write(p[1], data, size) != (ssize_t)size) {
        perror("write pipe");
        abort();
    }
    close(p[1]);
    return p[0];
}

/* Returns a new NUL-terminated copy of the input (caller xfree()s). */
__attribute__((unused)) static char *fuzz_cstr(const uint8_t *data, size_t size)
{
    char *s = xmalloc(size + 1);

    if (size)
        memcpy(s, data, size);
    s[size] = 0;
    return s;
}

#endif
