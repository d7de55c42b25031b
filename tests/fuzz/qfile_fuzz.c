/*
 * qfile_fuzz.c - libFuzzer target: queue-file records and the envelope loader
 *
 * Used by: make fuzz / make fuzz-smoke (mk/fuzz.mk).
 * Interface: LLVMFuzzerTestOneInput().
 * Notes: queue files are written by our own cleanup, but maildrop/ files
 *        come from local users and any file may be truncated by a crash, so
 *        the readers must survive anything. The input is put in a memfd and
 *        read three ways: record by record (qfile_get), as an envelope
 *        (qenv_load) and as the cleanup stream protocol (qfile_get_stream).
 *        When the envelope loads and has a live recipient, that recipient
 *        is marked done in place and the envelope reloaded: it must then
 *        read as done, everything else unchanged.
 */
#include "fuzz_common.h"
#include "qfile.h"
#include "sbuf.h"
#include "stream.h"
#include <sys/mman.h>

static void qfile_fuzz_records(int fd, size_t size)
{
    struct qfile_reader *r = qfile_from_fd(dup(fd));
    struct sbuf *data = sbuf_new(64);
    off_t off;

    /* Offsets rise between pointer records; a pointer may lead back (the
     * DKIM headers after the body point back to the content), so the only
     * order guarantee left is that a read-through ends: every file, however
     * damaged, must reach EOF or CORRUPT in a bounded number of records. */
    /* Each record takes at least 2 bytes; at most QFILE_PTR_TOTAL jumps. */
    size_t bound = (size / 2 + 1) * (QFILE_PTR_TOTAL + 1) + 1;
    size_t n;

    qfile_seek(r, 0);
    for (n = 0; n < bound; n++) {
        int type = qfile_get(r, data, &off);

        if (type < 0) {
            if (type != QFILE_E_EOF && type != QFILE_E_CORRUPT && type != QFILE_E_IO)
                abort();
            break;
        }
        if (type > 255 || off < 0 || sbuf_len(data) > QFILE_REC_MAX)
            abort();
    }
    if (n == bound)
        abort();                /* a pointer loop that never ends */
    sbuf_free(data);
    qfile_close(r);
}

static void qfile_fuzz_stream(const uint8_t *data, size_t size)
{
    int fd = fuzz_pipe(data, size);

    if (fd < 0)
        return;
    struct stream *s = stream_open(fd);
    struct sbuf *rec = sbuf_new(64);

    stream_set_timeout(s, 2);
    for (int n = 0; n < 100000; n++) {
        int type = qfile_get_stream(s, rec, 4096);

        if (type < 0)
            break;
        if (sbuf_len(rec) > 4096)
            abort();
    }
    sbuf_free(rec);
    stream_close(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_init();
    int fd = memfd_create("qfile_fuzz", MFD_CLOEXEC);

    if (fd < 0 || (size > 0 && write(fd, data, size) != (ssize_t)size))
        abort();

    qfile_fuzz_records(fd, size);

    struct qfile_reader *r = qfile_from_fd(dup(fd));
    struct qenv env;
    int rc = qenv_load(r, &env);

    if (rc == 0) {
        if (env.sender == NULL)
            abort();
        for (size_t i = 0; i < env.nrcpt; i++) {
            if (env.rcpts[i].done)
                continue;
            /* Mark it done in place and read the envelope again. */
            size_t n = env.nrcpt;
            off_t at = env.rcpts[i].offset;

            if (at < 0 || (size_t)at >= size || data[at] != REC_RCPT)
                abort();
            if (qfile_mark_done(fd, at) != 0)
                abort();
            /* A fresh reader: r may still hold the old bytes in its buffer. */
            struct qfile_reader *r2 = qfile_from_fd(dup(fd));
            struct qenv again;

            if (qenv_load(r2, &again) != 0 || again.nrcpt != n || !again.rcpts[i].done ||
                strcmp(again.rcpts[i].address, env.rcpts[i].address) != 0)
                abort();
            qenv_free(&again);
            qfile_close(r2);
            break;
        }
    }
    qenv_free(&env);
    qfile_close(r);
    close(fd);

    qfile_fuzz_stream(data, size);
    return 0;
}
