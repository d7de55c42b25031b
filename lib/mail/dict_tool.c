/*
 * dict_tool.c - the postmap and postalias commands
 *
 * Used by: cmd/postmap, cmd/postalias (each a one-line main).
 * Interface: dict_tool_main().
 * Errors: usage errors, unreadable sources and failed writes are fatal
 *         (exit 1) with a message on stderr; -q and -d exit 1 when nothing
 *         was found, 0 when something was.
 * Notes: postmap [-FNfinoprsUuvw] [-c config_dir] [-d key] [-q key]
 *        [type:]file...; postalias takes the same options and, without file
 *        arguments, works on $alias_database. Without "type:", the type is
 *        $default_database_type (hash). Building writes FILE.db atomically;
 *        -i adds lines from standard input to an existing FILE.db and -d
 *        deletes keys, both under an exclusive lock. Pattern tables (regexp,
 *        pcre, cidr) and the other non-file types can be queried (-q) but
 *        are never built: they read their source directly. postmap -F:
 *        each value names files whose content is stored base64-encoded
 *        (dict_file.h); -q and -s then print the content. Run by root,
 *        building, -i and -d switch to the source file's owner (not with
 *        -o), as Postfix does (tool_as_owner()).
 */
#include "dict.h"
#include "dict_db.h"
#include "dict_file.h"
#include "alloc.h"
#include "config.h"
#include "log.h"
#include "mail_env.h"
#include "sbuf.h"

#include <getopt.h>
#include <grp.h>
#include <sys/stat.h>

struct tool {
    bool alias;
    const char *prog;
    bool fold, replace, quiet_dups, preserve_mode;
    bool files;                 /* -F: values name files, stored base64 */
    bool keep_root;             /* -o: root does not become the source's owner */
    struct sbuf *shown;         /* -F: a decoded value */
    const char *dflt_type;
};

static void tool_usage(const struct tool *t)
{
    fprintf(stderr,
            "usage: %s [-%sNfinoprsUuvw] [-c config_dir] [-d key] [-q key] "
            "[map_type:]file...\n",
            t->prog, t->alias ? "" : "F");
    exit(1);
}

/* Returns new "type:name" for an argument, adding the default type. */
static char *tool_spec(const struct tool *t, const char *arg)
{
    struct sbuf *type = sbuf_new(16);
    struct sbuf *out = sbuf_new(128);

    if (dict_split_spec(arg, type) != NULL)
        sbuf_set(out, arg);
    else
        sbuf_printf(out, "%s:%s", t->dflt_type, arg);
    sbuf_free(type);
    return sbuf_detach(out);
}

/* For hash:/btree: specs returns the source path (borrowed from spec), else
 * NULL. */
static const char *tool_file_type(const char *spec, struct sbuf *type)
{
    const char *name = dict_split_spec(spec, type);
    if (name == NULL)
        return NULL;
    if (strcmp(sbuf_str(type), "hash") == 0 || strcmp(sbuf_str(type), "btree") == 0)
        return name;
    return NULL;
}

static int tool_dict_flags(const struct tool *t)
{
    return (t->fold ? DICT_F_FOLD : 0) | (t->alias ? DICT_F_ALIAS : 0)
           | (t->files ? DICT_F_RHS_FILE : 0);
}

/* What -q and -s print for a value: with -F the content it encodes. */
static const char *tool_shown(const struct tool *t, const char *spec, const char *key,
                              const char *value)
{
    if (!t->files)
        return value;
    if (dict_file_from_b64(value, t->shown) < 0)
        log_fatal("table %s: the value of \"%s\" is not base64 (was it built with -F?)", spec,
                  key);
    /* One line ending after the content, as without -F. */
    if (sbuf_len(t->shown) > 0 && sbuf_str(t->shown)[sbuf_len(t->shown) - 1] == '\n')
        sbuf_truncate(t->shown, sbuf_len(t->shown) - 1);
    return sbuf_str(t->shown);
}

static int tool_print(const char *key, const char *value, void *ctx)
{
    const struct tool *t = ctx;
    printf("%s%s\t%s\n", key, t->alias ? ":" : "", tool_shown(t, "", key, value));
    return 0;
}

/* -q key: first table with an answer. */
static int tool_query(const struct tool *t, char **specs, int n, const char *key)
{
    for (int i = 0; i < n; i++) {
        struct dict *d = dict_open(specs[i], tool_dict_flags(t));
        if (d == NULL)
            log_fatal("open %s failed", specs[i]);
        const char *v = dict_lookup(d, key);
        if (v != NULL) {
            printf("%s\n", tool_shown(t, specs[i], key, v));
            dict_close(d);
            return 0;
        }
        if (dict_error(d) != DICT_ERR_NONE)
            log_fatal("table %s: query error", specs[i]);
        dict_close(d);
    }
    return 1;
}

/* -q -: keys from standard input, "key<TAB>value" for each one found. */
static int tool_query_stdin(const struct tool *t, char **specs, int n)
{
    struct dict **d = xcalloc((size_t)n, sizeof(*d));
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    int found = 0;

    for (int i = 0; i < n; i++)
        if ((d[i] = dict_open(specs[i], tool_dict_flags(t))) == NULL)
            log_fatal("open %s failed", specs[i]);
    while ((len = getline(&line, &cap, stdin)) >= 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r' ||
                           line[len - 1] == ' ' || line[len - 1] == '\t'))
            line[--len] = 0;
        char *key = line + strspn(line, " \t");
        if (*key == 0)
            continue;
        for (int i = 0; i < n; i++) {
            const char *v = dict_lookup(d[i], key);
            if (v != NULL) {
                printf("%s\t%s\n", key, tool_shown(t, specs[i], key, v));
                found = 1;
                break;
            }
            if (dict_error(d[i]) != DICT_ERR_NONE)
                log_fatal("table %s: query error", specs[i]);
        }
    }
    free(line);
    for (int i = 0; i < n; i++)
        dict_close(d[i]);
    xfree(d);
    fflush(stdout);
    return found ? 0 : 1;
}

static int tool_sequence(const struct tool *t, char **specs, int n)
{
    for (int i = 0; i < n; i++) {
        struct dict *d = dict_open(specs[i], tool_dict_flags(t));
        if (d == NULL)
            log_fatal("open %s failed", specs[i]);
        if (dict_sequence(d, tool_print, (void *)t) < 0)
            log_fatal("table %s: cannot list its entries", specs[i]);
        dict_close(d);
    }
    return 0;
}

/* Run by root, work on a table as the owner of its source file (unless
 * -o), as Postfix does: the new FILE.db gets that owner, and root never
 * reads for a user what the user could not read (postmap -F values, a
 * source that is a link). The real uid stays 0, so the next table can
 * switch again. A source that cannot be looked at is left to the reader
 * to report. */
static void tool_as_owner(const struct tool *t, const char *src)
{
    struct stat st;
    if (t->keep_root || getuid() != 0 || strcmp(src, "-") == 0 || stat(src, &st) < 0)
        return;
    if (seteuid(0) < 0)
        log_fatal("seteuid(0): %m");
    if (st.st_uid == geteuid() && st.st_gid == getegid())
        return;
    if (setgroups(1, &st.st_gid) < 0 || setegid(st.st_gid) < 0 || seteuid(st.st_uid) < 0)
        log_fatal("cannot take the identity of %s's owner (uid %ld, gid %ld): %m", src,
                  (long)st.st_uid, (long)st.st_gid);
}

/* File mode for a new FILE.db: like the source when it exists. Its owner
 * is whoever writes it (see tool_as_owner()). */
static mode_t tool_db_mode(const struct tool *t, const char *src)
{
    struct stat st;
    if (!t->preserve_mode && stat(src, &st) == 0)
        return st.st_mode & 0666;
    return 0644;
}

/* How the source of a table is read. */
static unsigned tool_src_flags(const struct tool *t)
{
    return (t->alias ? DICT_DB_SRC_ALIAS : 0) | (t->fold ? DICT_DB_SRC_FOLD : 0)
           | (t->replace ? DICT_DB_SRC_REPLACE : 0) | (t->quiet_dups ? DICT_DB_SRC_QUIET_DUPS : 0)
           | (t->files ? DICT_DB_SRC_FILES : 0);
}

static unsigned tool_db_flags(const struct tool *t)
{
    return (t->fold ? DICT_DB_F_FOLDED : 0) | (t->alias ? DICT_DB_F_ALIAS : 0);
}

/* Loads path.db (if any) under lock into b. Returns the lock fd or -1. */
static int tool_load_locked(const char *dbpath, struct dict_db_builder *b, bool must_exist)
{
    int fd = dict_db_lock(dbpath);
    if (fd < 0) {
        if (errno == ENOENT && !must_exist)
            return -1;
        log_fatal("open %s: %m", dbpath);
    }
    struct sbuf *err = sbuf_new(128);
    struct dict_db *db = dict_db_open(dbpath, err);
    if (db == NULL)
        log_fatal("%s", sbuf_str(err));
    dict_db_builder_load_db(b, db);
    dict_db_close(db);
    sbuf_free(err);
    return fd;
}

static int tool_delete(const struct tool *t, char **specs, int n, const char *key)
{
    struct sbuf *type = sbuf_new(16);
    struct sbuf *dbpath = sbuf_new(128);
    int found = 0;
    char **keys = NULL;
    size_t nkeys = 0;

    if (strcmp(key, "-") == 0) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t len;
        while ((len = getline(&line, &cap, stdin)) >= 0) {
            while (len > 0 && strchr("\r\n \t", line[len - 1]))
                line[--len] = 0;
            char *k = line + strspn(line, " \t");
            if (*k == 0)
                continue;
            keys = xreallocarray(keys, nkeys + 1, sizeof(*keys));
            keys[nkeys++] = xstrdup(k);
        }
        free(line);
    } else {
        keys = xcalloc(1, sizeof(*keys));
        keys[nkeys++] = xstrdup(key);
    }
    for (size_t k = 0; k < nkeys; k++)
        if (t->fold)
            dict_fold(keys[k]);
    for (int i = 0; i < n; i++) {
        const char *src = tool_file_type(specs[i], type);
        if (src == NULL)
            log_fatal("unsupported dictionary type for -d: %s", specs[i]);
        sbuf_printf(dbpath, "%s.db", src);
        tool_as_owner(t, src);
        struct dict_db_builder *b = dict_db_builder_new();
        int fd = tool_load_locked(sbuf_str(dbpath), b, true);
        int here = 0;
        for (size_t k = 0; k < nkeys; k++)
            here |= dict_db_builder_delete(b, keys[k]);
        if (here) {
            struct stat st;
            if (fstat(fd, &st) < 0)
                log_fatal("fstat %s: %m", sbuf_str(dbpath));
            if (dict_db_builder_write(b, sbuf_str(dbpath), tool_db_flags(t), st.st_mode & 0777,
                                      geteuid() == 0 ? st.st_uid : (uid_t)-1, st.st_gid) < 0)
                log_fatal("cannot update %s", sbuf_str(dbpath));
            found = 1;
        }
        close(fd);
        dict_db_builder_free(b);
    }
    for (size_t k = 0; k < nkeys; k++)
        xfree(keys[k]);
    xfree(keys);
    sbuf_free(type);
    sbuf_free(dbpath);
    return found ? 0 : 1;
}

static int tool_build(const struct tool *t, char **specs, int n, bool incremental)
{
    struct sbuf *type = sbuf_new(16);
    struct sbuf *dbpath = sbuf_new(128);

    for (int i = 0; i < n; i++) {
        const char *src = tool_file_type(specs[i], type);
        if (src == NULL)
            log_fatal("unsupported dictionary type: %s (only hash and btree files are built; "
                      "other types read their source directly)",
                      sbuf_len(type) ? sbuf_str(type) : specs[i]);
        sbuf_printf(dbpath, "%s.db", src);
        struct dict_db_builder *b = dict_db_builder_new();
        mode_t mode = tool_db_mode(t, src);
        int fd = -1;
        tool_as_owner(t, src);
        if (incremental) {
            fd = tool_load_locked(sbuf_str(dbpath), b, false);
            if (dict_db_load_source(b, "-", tool_src_flags(t)) < 0)
                log_fatal("read standard input failed");
        } else if (dict_db_load_source(b, src, tool_src_flags(t)) < 0) {
            log_fatal("cannot build %s from %s", sbuf_str(dbpath), src);
        }
        if (dict_db_builder_write(b, sbuf_str(dbpath), tool_db_flags(t), mode, (uid_t)-1,
                                  (gid_t)-1) < 0)
            log_fatal("cannot write %s", sbuf_str(dbpath));
        if (fd >= 0)
            close(fd);
        dict_db_builder_free(b);
    }
    sbuf_free(type);
    sbuf_free(dbpath);
    return 0;
}

int dict_tool_main(int argc, char **argv, bool alias)
{
    struct tool t = { .alias = alias, .prog = alias ? "postalias" : "postmap", .fold = true };
    const char *cfg_dir_opt = NULL, *query = NULL, *del = NULL;
    bool incremental = false, sequence = false;
    int ch;

    log_set_tag(alias ? "postfix/postalias" : "postfix/postmap");
    log_set_stderr(true);
    while ((ch = getopt(argc, argv, "FNbc:d:fhimnopq:rsUuvw")) != -1) {
        switch (ch) {
        case 'F':
            if (alias)
                tool_usage(&t);
            t.files = true;
            break;
        case 'c':
            cfg_dir_opt = optarg;
            break;
        case 'd':
            if (del || query || sequence)
                log_fatal("specify only one of -s -q or -d");
            del = optarg;
            break;
        case 'f':
            t.fold = false;
            break;
        case 'i':
            incremental = true;
            break;
        case 'p':
            t.preserve_mode = true;
            break;
        case 'q':
            if (del || query || sequence)
                log_fatal("specify only one of -s -q or -d");
            query = optarg;
            break;
        case 'r':
            t.replace = true;
            t.quiet_dups = true;
            break;
        case 's':
            if (del || query || sequence)
                log_fatal("specify only one of -s -q or -d");
            sequence = true;
            break;
        case 'v':
            log_verbose++;
            break;
        case 'w':
            t.quiet_dups = true;
            break;
        case 'o':
            t.keep_root = true;
            break;
        case 'N': case 'n': case 'U': case 'u': case 'b': case 'h': case 'm':
            break;              /* accepted for compatibility; no effect here */
        default:
            tool_usage(&t);
        }
    }
    if (config_load(cfg_dir_opt) < 0)
        log_fatal("cannot read the configuration in %s", config_dir());
    mail_env_update();
    t.shown = sbuf_new(4096);
    t.dflt_type = cfg_str(P_DEFAULT_DATABASE_TYPE);
    if (t.dflt_type == NULL || *t.dflt_type == 0)
        t.dflt_type = D_DEFAULT_DATABASE_TYPE;

    /* Table arguments, or $alias_database for postalias without any. */
    char **args = argv + optind;
    int nargs = argc - optind;
    char **list = NULL;
    if (nargs == 0 && alias) {
        list = cfg_list(cfg_str(P_ALIAS_DATABASE));
        args = list;
        while (list[nargs])
            nargs++;
    }
    if (nargs == 0)
        tool_usage(&t);
    char **specs = xcalloc((size_t)nargs, sizeof(*specs));
    for (int i = 0; i < nargs; i++)
        specs[i] = tool_spec(&t, args[i]);

    int rc;
    if (query && strcmp(query, "-") == 0)
        rc = tool_query_stdin(&t, specs, nargs);
    else if (query)
        rc = tool_query(&t, specs, nargs, query);
    else if (del)
        rc = tool_delete(&t, specs, nargs, del);
    else if (sequence)
        rc = tool_sequence(&t, specs, nargs);
    else
        rc = tool_build(&t, specs, nargs, incremental);

    for (int i = 0; i < nargs; i++)
        xfree(specs[i]);
    xfree(specs);
    if (list)
        cfg_list_free(list);
    fflush(stdout);
    return rc;
}
