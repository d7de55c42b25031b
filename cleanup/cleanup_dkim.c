/*
 * cleanup_dkim.c - native DKIM signing (postern_dkim_*, Postern-only)
 *
 * Used by: cleanup_message.c (each content line written, end of content),
 *          cleanup_main.c (configuration at pre_jail, free).
 * Interface: cleanup_dkim_cfg_load(), cleanup_dkim_record(),
 *            cleanup_dkim_end(), cleanup_dkim_free().
 * Errors: a key that cannot be looked up or loaded defers the message
 *         (4.3.0, logged with the reason), so mail that should be signed
 *         never leaves unsigned; a message without a From: domain that has
 *         keys is not signed.
 * Notes: key files are parsed once per process and reloaded when they
 *        change (cleanup_dkim_key()).
 *        Signs when postern_dkim_enable is set and the client set
 *        CLEANUP_FLAG_DKIM (smtpd and pickup decide with
 *        postern_dkim_sign_clients). Every content line that is written to
 *        the queue file is also fed to lib/mail/dkim_sign.c, so the
 *        signature covers exactly what is delivered. The headers are already
 *        in the queue file when the body ends, so the DKIM-Signature
 *        headers are written after the body, between two pointer records,
 *        and the content offset in the size record points at them
 *        (docs/dkim.md, docs/queue-file.md "Pointer records"):
 *            content: [headers body] p(->X) [DKIM-Signature...] p(->content) X
 */
#include "cleanup.h"
#include "alloc.h"
#include "cleanup_proto.h"
#include "config.h"
#include "dkim_sign.h"
#include "file_id.h"
#include "log.h"
#include "maps.h"
#include "params.h"
#include "qfile.h"
#include <errno.h>
#include <string.h>
#include <time.h>

void cleanup_dkim_cfg_load(struct cleanup_cfg *c)
{
    c->dkim_enable = cfg_bool(P_POSTERN_DKIM_ENABLE);
    if (!c->dkim_enable)
        return;
    const char *v = cfg_str(P_POSTERN_DKIM_KEY_MAPS);
    c->dkim_keys = *v ? maps_create(P_POSTERN_DKIM_KEY_MAPS, v, DICT_F_FOLD) : NULL;
    c->dkim_opts.headers = cfg_list(cfg_str(P_POSTERN_DKIM_HEADERS));
    c->dkim_opts.oversign = cfg_list(cfg_str(P_POSTERN_DKIM_OVERSIGN));
    const char *canon = cfg_str(P_POSTERN_DKIM_CANONICALIZATION);
    const char *slash = strchr(canon, '/');
    size_t hn = slash ? (size_t)(slash - canon) : strlen(canon);
    const char *body = slash ? slash + 1 : "simple";
    bool ok = true;
    if (hn == 7 && strncmp(canon, "relaxed", 7) == 0)
        c->dkim_opts.hdr_relaxed = true;
    else if (!(hn == 6 && strncmp(canon, "simple", 6) == 0))
        ok = false;
    if (strcmp(body, "relaxed") == 0)
        c->dkim_opts.body_relaxed = true;
    else if (strcmp(body, "simple") != 0)
        ok = false;
    if (!ok)
        log_fatal("%s: bad value \"%s\": use relaxed or simple, as header/body",
                  P_POSTERN_DKIM_CANONICALIZATION, canon);
}

void cleanup_dkim_record(struct cleanup_state *st, int type, const char *data, size_t len)
{
    if (!cleanup_cfg.dkim_enable || !(st->flags & CLEANUP_FLAG_DKIM) || st->dkim_done)
        return;
    if (st->dkim == NULL)
        st->dkim = dkim_msg_new(cleanup_cfg.dkim_opts.body_relaxed);
    dkim_msg_piece(st->dkim, data, len, type == REC_NORM);
}

/* Looks the domain up, then its parents as ".parent". Borrowed answer or NULL. */
static const char *cleanup_dkim_keys(struct cleanup_state *st, const char *domain)
{
    const char *v = maps_find(cleanup_cfg.dkim_keys, domain, 0);
    for (const char *d = strchr(domain, '.'); v == NULL && d && !maps_error(cleanup_cfg.dkim_keys);
         d = strchr(d + 1, '.')) {
        if (strchr(d + 1, '.') == NULL)
            break;      /* never a top-level domain */
        v = maps_find(cleanup_cfg.dkim_keys, d, 0);
    }
    if (v == NULL && maps_error(cleanup_cfg.dkim_keys)) {
        log_warn("%s: %s lookup error for %s", st->queue_id, P_POSTERN_DKIM_KEY_MAPS, domain);
        cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 DKIM key lookup failed");
    }
    return v;
}

/* Keys loaded so far, kept for the life of the process: parsing a PEM file
 * per message is work done once. A key is reloaded when its file changes
 * (another inode, size, or change time), so a rotated key takes effect with
 * the next message, and a key file that is gone still defers. */
#define CLEANUP_DKIM_CACHE_MAX 64
struct cleanup_dkim_cached {
    char *path;
    int alg;
    struct stat sb;
    struct dkim_key *key;
};
static struct cleanup_dkim_cached cleanup_dkim_cache[CLEANUP_DKIM_CACHE_MAX];
static size_t cleanup_dkim_ncached;

/* The key in path for alg, loaded or from the cache (borrowed), or NULL
 * with the reason in err. */
static struct dkim_key *cleanup_dkim_key(const char *path, int alg, struct sbuf *err)
{
    struct stat sb;
    if (stat(path, &sb) < 0) {
        sbuf_printf(err, "open %s: %s", path, strerror(errno));
        return NULL;
    }
    struct cleanup_dkim_cached *c = NULL;
    for (size_t i = 0; i < cleanup_dkim_ncached && c == NULL; i++)
        if (cleanup_dkim_cache[i].alg == alg && strcmp(cleanup_dkim_cache[i].path, path) == 0)
            c = &cleanup_dkim_cache[i];
    if (c && file_id_same(&c->sb, &sb))
        return c->key;
    /* Stat before loading: a file replaced in between leaves an older
     * identity in the cache, which only causes one more reload. */
    struct dkim_key *k = dkim_key_load(path, alg, err);
    if (k == NULL)
        return NULL;
    if (c == NULL) {
        if (cleanup_dkim_ncached == CLEANUP_DKIM_CACHE_MAX) {
            /* Full: the oldest entry goes. */
            xfree(cleanup_dkim_cache[0].path);
            dkim_key_free(cleanup_dkim_cache[0].key);
            memmove(cleanup_dkim_cache, cleanup_dkim_cache + 1,
                    (CLEANUP_DKIM_CACHE_MAX - 1) * sizeof(cleanup_dkim_cache[0]));
            cleanup_dkim_ncached--;
        }
        c = &cleanup_dkim_cache[cleanup_dkim_ncached++];
        c->path = xstrdup(path);
        c->alg = alg;
    } else {
        dkim_key_free(c->key);
    }
    c->sb = sb;
    c->key = k;
    return k;
}

/* Signs with every key in keys; the headers go to hdrs ('\n'-separated lines,
 * one header after another). Returns 0, or -1 after cleanup_fail(). */
static int cleanup_dkim_sign(struct cleanup_state *st, const char *domain, const char *keys,
                             struct sbuf *hdrs)
{
    char **list = cfg_list(keys);
    struct sbuf *sel = sbuf_new(32), *path = sbuf_new(128), *err = sbuf_new(128);
    struct sbuf *one = sbuf_new(1024);
    int res = 0;
    for (char **p = list; *p && res == 0; p++) {
        int alg = dkim_key_entry_parse(*p, sel, path);
        struct dkim_key *k = NULL;
        if (alg < 0) {
            log_warn("%s: %s: bad entry \"%s\" for %s: want selector:rsa|ed25519:/path",
                     st->queue_id, P_POSTERN_DKIM_KEY_MAPS, *p, domain);
            res = -1;
        } else if ((k = cleanup_dkim_key(sbuf_str(path), alg, err)) == NULL) {
            log_warn("%s: DKIM key for %s: %s", st->queue_id, domain, sbuf_str(err));
            res = -1;
        } else if (dkim_msg_sign(st->dkim, &cleanup_cfg.dkim_opts, domain, sbuf_str(sel), alg,
                                 k, (long)time(NULL), one, err) < 0) {
            log_warn("%s: DKIM signing for %s: %s", st->queue_id, domain, sbuf_str(err));
            res = -1;
        } else {
            sbuf_append(hdrs, sbuf_str(one), sbuf_len(one));
            sbuf_addch(hdrs, '\n');
            log_info("%s: DKIM-Signature field added (s=%s, d=%s)", st->queue_id,
                     sbuf_str(sel), domain);
        }
    }
    if (res < 0)
        cleanup_fail(st, CLEANUP_STAT_DEFER, "4.3.0 DKIM signing failed");
    cfg_list_free(list);
    sbuf_free(sel);
    sbuf_free(path);
    sbuf_free(err);
    sbuf_free(one);
    return res;
}

void cleanup_dkim_end(struct cleanup_state *st)
{
    if (st->dkim == NULL || st->dkim_done || !cleanup_keep_writing(st) || st->errs)
        return;
    st->dkim_done = true;
    const char *domain = dkim_msg_from_domain(st->dkim);
    const char *keys = domain && cleanup_cfg.dkim_keys ? cleanup_dkim_keys(st, domain) : NULL;
    if (keys == NULL)
        return;
    struct sbuf *hdrs = sbuf_new(2048), *enc = sbuf_new(2048), *ptr = sbuf_new(32);
    if (cleanup_dkim_sign(st, domain, keys, hdrs) < 0 || sbuf_len(hdrs) == 0)
        goto out;
    sbuf_truncate(hdrs, sbuf_len(hdrs) - 1);
    /* Encode to learn the length, so that both pointers are known up front. */
    for (const char *p = sbuf_str(hdrs);;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        qfile_encode(enc, REC_NORM, p, n);
        st->content_bytes += (long)n + 1;
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    sbuf_printf(ptr, QFILE_PTR_FMT, 0L);
    struct sbuf *tmp = sbuf_new(32);
    qfile_encode(tmp, REC_PTR, sbuf_str(ptr), sbuf_len(ptr));
    off_t ptr_len = (off_t)sbuf_len(tmp);
    sbuf_free(tmp);
    off_t here = qfile_writer_offset(st->w);
    off_t hdr_at = here + ptr_len;
    off_t xtra_at = hdr_at + (off_t)sbuf_len(enc) + ptr_len;
    int r = qfile_putf(st->w, REC_PTR, QFILE_PTR_FMT, (long)xtra_at);
    for (const char *p = sbuf_str(hdrs); r == 0;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        r = qfile_put(st->w, REC_NORM, p, n);
        if (nl == NULL)
            break;
        p = nl + 1;
    }
    if (r == 0)
        r = qfile_putf(st->w, REC_PTR, QFILE_PTR_FMT, (long)st->data_offset);
    if (r < 0) {
        cleanup_fail(st, CLEANUP_STAT_WRITE, "4.3.0 queue file write error");
        goto out;
    }
    if (qfile_writer_offset(st->w) != xtra_at)
        log_panic("%s: DKIM records end at %ld, expected %ld", st->queue_id,
                  (long)qfile_writer_offset(st->w), (long)xtra_at);
    st->dkim_offset = hdr_at;
out:
    sbuf_free(hdrs);
    sbuf_free(enc);
    sbuf_free(ptr);
}

void cleanup_dkim_free(struct cleanup_state *st)
{
    dkim_msg_free(st->dkim);
    st->dkim = NULL;
}
