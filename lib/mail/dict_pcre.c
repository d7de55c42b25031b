/*
 * dict_pcre.c - pcre: tables (PCRE2, 8-bit)
 *
 * Used by: dict.c (type table); header_checks, body_checks, access maps.
 * Interface: dict_type_pcre.
 * Errors: an unreadable file fails the open; bad rules are logged
 *         "file:line: what" and skipped; a match that hits a PCRE2 limit is
 *         logged and counts as no match.
 * Notes: flags toggle: i (caseless, on by default), m (multiline), s
 *        (dot matches newline), x (extended), A (anchored), E (dollar matches
 *        only at the end), U (ungreedy), X (accepted, no effect with PCRE2).
 *        Matching runs under PCRE2 limits (PCRE_MATCH_LIMIT backtracking
 *        steps, PCRE_DEPTH_LIMIT nested backtracking points, PCRE_HEAP_LIMIT
 *        KiB of backtracking memory), so a pathological pattern or subject
 *        fails that one lookup ("matching error") instead of eating the
 *        process's CPU or memory; PCRE2's own defaults allow 20 GB of heap.
 */
#define PCRE2_CODE_UNIT_WIDTH 8
#include "dict.h"
#include "dict_priv.h"
#include "alloc.h"
#include "log.h"

#include <pcre2.h>
#include "dynlib.h"

/*
 * libpcre2 is loaded with the first pcre: table, not at exec time (most
 * processes never open one; dynlib.h says why that matters). The calls
 * below go through the pointers dynlib_load() set; pcre2.h names the
 * 8-bit functions with a _8 suffix, which is what the library exports.
 */
#define PC_API(X) X(pcre2_code_free_8) X(pcre2_compile_8) X(pcre2_get_error_message_8) \
    X(pcre2_get_ovector_count_8) X(pcre2_get_ovector_pointer_8) X(pcre2_match_8) \
    X(pcre2_match_context_create_8) X(pcre2_match_data_create_from_pattern_8) \
    X(pcre2_match_data_free_8) X(pcre2_pattern_info_8) X(pcre2_set_depth_limit_8) \
    X(pcre2_set_heap_limit_8) X(pcre2_set_match_limit_8)
DYNLIB_DEFINE(pc_api, PC_API, "libpcre2-8.so.0", "libpcre2-8.so");
#define PC_FN(f) DYNLIB_FN(pc_api, f)
#undef pcre2_code_free
#undef pcre2_compile
#undef pcre2_get_error_message
#undef pcre2_get_ovector_count
#undef pcre2_get_ovector_pointer
#undef pcre2_match
#undef pcre2_match_context_create
#undef pcre2_match_data_create_from_pattern
#undef pcre2_match_data_free
#undef pcre2_pattern_info
#undef pcre2_set_depth_limit
#undef pcre2_set_heap_limit
#undef pcre2_set_match_limit
#define pcre2_code_free PC_FN(pcre2_code_free_8)
#define pcre2_compile PC_FN(pcre2_compile_8)
#define pcre2_get_error_message PC_FN(pcre2_get_error_message_8)
#define pcre2_get_ovector_count PC_FN(pcre2_get_ovector_count_8)
#define pcre2_get_ovector_pointer PC_FN(pcre2_get_ovector_pointer_8)
#define pcre2_match PC_FN(pcre2_match_8)
#define pcre2_match_context_create PC_FN(pcre2_match_context_create_8)
#define pcre2_match_data_create_from_pattern PC_FN(pcre2_match_data_create_from_pattern_8)
#define pcre2_match_data_free PC_FN(pcre2_match_data_free_8)
#define pcre2_pattern_info PC_FN(pcre2_pattern_info_8)
#define pcre2_set_depth_limit PC_FN(pcre2_set_depth_limit_8)
#define pcre2_set_heap_limit PC_FN(pcre2_set_heap_limit_8)
#define pcre2_set_match_limit PC_FN(pcre2_set_match_limit_8)

#define PCRE_MATCH_LIMIT 5000000        /* calls of the internal match() */
#define PCRE_DEPTH_LIMIT 250000         /* backtracking depth */
#define PCRE_HEAP_LIMIT (256 * 1024)    /* KiB of backtracking frames */

struct pcre_re {
    pcre2_code *code;
    pcre2_match_data *md;
};

/* The match context every pattern matches with (one per process). */
static pcre2_match_context *pcre_mctx;

static pcre2_match_context *pcre_match_context(void)
{
    if (pcre_mctx == NULL) {
        pcre_mctx = pcre2_match_context_create(NULL);
        if (pcre_mctx == NULL)
            log_fatal("pcre2_match_context_create: out of memory");
        pcre2_set_match_limit(pcre_mctx, PCRE_MATCH_LIMIT);
        pcre2_set_depth_limit(pcre_mctx, PCRE_DEPTH_LIMIT);
        pcre2_set_heap_limit(pcre_mctx, PCRE_HEAP_LIMIT);
    }
    return pcre_mctx;
}

static void *pcre_compile_one(const char *pattern, const char *flags, struct sbuf *err,
                              int *nsub)
{
    uint32_t opts = PCRE2_CASELESS;
    int ecode;
    PCRE2_SIZE eoff;

    for (const char *f = flags; *f; f++) {
        switch (*f) {
        case 'i':
            opts ^= PCRE2_CASELESS;
            break;
        case 'm':
            opts ^= PCRE2_MULTILINE;
            break;
        case 's':
            opts ^= PCRE2_DOTALL;
            break;
        case 'x':
            opts ^= PCRE2_EXTENDED;
            break;
        case 'A':
            opts ^= PCRE2_ANCHORED;
            break;
        case 'E':
            opts ^= PCRE2_DOLLAR_ENDONLY;
            break;
        case 'U':
            opts ^= PCRE2_UNGREEDY;
            break;
        case 'X':
            break;
        default:
            sbuf_printf(err, "unknown pcre option \"%c\"", *f);
            return NULL;
        }
    }
    pcre2_code *code =
        pcre2_compile((PCRE2_SPTR)pattern, PCRE2_ZERO_TERMINATED, opts, &ecode, &eoff, NULL);
    if (code == NULL) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(ecode, msg, sizeof(msg));
        sbuf_printf(err, "pcre \"%s\" at offset %lu: %s", pattern, (unsigned long)eoff,
                    (const char *)msg);
        return NULL;
    }
    uint32_t count = 0;
    pcre2_pattern_info(code, PCRE2_INFO_CAPTURECOUNT, &count);
    *nsub = (int)count;
    struct pcre_re *re = xmalloc(sizeof(*re));
    re->code = code;
    re->md = pcre2_match_data_create_from_pattern(code, NULL);
    if (re->md == NULL)
        log_fatal("pcre2_match_data_create_from_pattern: out of memory");
    return re;
}

static int pcre_match_one(void *p, const char *subject, struct dict_pat_match *m)
{
    struct pcre_re *re = p;
    int rc = pcre2_match(re->code, (PCRE2_SPTR)subject, PCRE2_ZERO_TERMINATED, 0, 0, re->md,
                         pcre_match_context());

    if (rc == PCRE2_ERROR_NOMATCH)
        return 0;
    if (rc < 0) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(rc, msg, sizeof(msg));
        log_warn("pcre: matching error: %s", (const char *)msg);
        return -1;
    }
    PCRE2_SIZE *ov = pcre2_get_ovector_pointer(re->md);
    uint32_t n = pcre2_get_ovector_count(re->md);
    for (uint32_t i = 0; i < DICT_PAT_NSUB; i++) {
        if (i < n && i < (uint32_t)rc && ov[2 * i] != PCRE2_UNSET) {
            m->so[i] = (int)ov[2 * i];
            m->eo[i] = (int)ov[2 * i + 1];
        } else {
            m->so[i] = m->eo[i] = -1;
        }
    }
    return 1;
}

static void pcre_free_one(void *p)
{
    struct pcre_re *re = p;
    pcre2_match_data_free(re->md);
    pcre2_code_free(re->code);
    xfree(re);
}

static const struct dict_pat_engine pcre_engine = {
    "pcre", pcre_compile_one, pcre_match_one, pcre_free_one,
};

static int dict_pcre_open(struct dict *d, const char *name)
{
    if (dict_dynlib_load(d, &pc_api) < 0)
        return -1;
    d->impl = dict_pattern_load(name, &pcre_engine);
    if (d->impl == NULL) {
        log_warn("%s: cannot read the table file", d->spec);
        return -1;
    }
    return 0;
}

static const char *dict_pcre_lookup(struct dict *d, const char *key)
{
    return dict_pattern_lookup(d->impl, key, d->result) == 1 ? sbuf_str(d->result) : NULL;
}

static void dict_pcre_close(struct dict *d)
{
    dict_pattern_free(d->impl);
}

const struct dict_type dict_type_pcre = {
    "pcre", DICT_F_PATTERN, dict_pcre_open, dict_pcre_lookup, NULL, dict_pcre_close,
};
