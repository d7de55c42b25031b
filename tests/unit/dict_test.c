/*
 * dict_test.c - unit tests for the lookup table types and the .db format
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h: FAIL lines, then "N passed, M failed").
 * Notes: works in a fresh temporary directory; warnings are captured in a
 *        log file there and searched for "file:line:" messages.
 */
#include "dict.h"
#include "dict_db.h"
#include "dict_file.h"
#include "alloc.h"
#include "base64.h"
#include "harness.h"
#include "log.h"
#include "sbuf.h"

#include <sys/stat.h>

static char t_dir[256];
static char t_log[300];

#define CHECK(cond, what) harness_report((cond), __FILE__, __LINE__, (what))

static bool streq(const char *a, const char *b)
{
    return a != NULL && b != NULL && strcmp(a, b) == 0;
}

static char *path_of(const char *name)
{
    static char buf[4][400];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof(buf[i]), "%s/%s", t_dir, name);
    return buf[i];
}

static void write_file(const char *name, const char *text)
{
    FILE *fp = fopen(path_of(name), "w");
    if (fp == NULL || fputs(text, fp) < 0 || fclose(fp) != 0) {
        perror(name);
        exit(2);
    }
}

/* True when the captured log contains s. */
static bool log_has(const char *s)
{
    FILE *fp = fopen(t_log, "r");
    char line[4096];
    bool found = false;
    if (fp == NULL)
        return false;
    while (!found && fgets(line, sizeof(line), fp))
        found = strstr(line, s) != NULL;
    fclose(fp);
    return found;
}

static const char *lookup1(const char *spec, const char *key, int flags)
{
    static char out[1024];
    struct dict *d = dict_open(spec, flags);
    if (d == NULL)
        return "<open failed>";
    const char *v = dict_lookup(d, key);
    if (v == NULL)
        snprintf(out, sizeof(out), dict_error(d) ? "<error>" : "<none>");
    else
        snprintf(out, sizeof(out), "%s", v);
    dict_close(d);
    return out;
}

static int count_walk(const char *k, const char *v, void *ctx)
{
    struct sbuf *b = ctx;
    sbuf_catf(b, "%s=%s;", k, v);
    return 0;
}

static void build_db(const char *src_name, const char *text, bool fold)
{
    char dbpath[512];
    write_file(src_name, text);
    snprintf(dbpath, sizeof(dbpath), "%s.db", path_of(src_name));
    struct dict_db_builder *b = dict_db_builder_new();
    if (dict_db_load_source(b, path_of(src_name), fold ? DICT_DB_SRC_FOLD : 0) < 0 ||
        dict_db_builder_write(b, dbpath, fold ? DICT_DB_F_FOLDED : 0, 0644, (uid_t)-1,
                              (gid_t)-1) < 0) {
        fprintf(stderr, "build %s failed\n", src_name);
        exit(2);
    }
    dict_db_builder_free(b);
}

static void test_hash(void)
{
    char spec[512];
    build_db("h1", "# comment\nalice  Alice Smith\nBob bob@example.org\ncarol\n  multi line\n"
                   "alice duplicate\nlonely\n",
             true);
    CHECK(log_has("h1:6: duplicate entry: \"alice\""), "hash: duplicate key warned with file:line");
    CHECK(log_has("h1:7: expected format"), "hash: key without value warned with file:line");
    snprintf(spec, sizeof(spec), "hash:%s", path_of("h1"));
    CHECK(streq(lookup1(spec, "ALICE", DICT_F_FOLD), "Alice Smith"), "hash: folded lookup, first kept");
    CHECK(streq(lookup1(spec, "bob", DICT_F_FOLD), "bob@example.org"), "hash: key folded at build");
    CHECK(streq(lookup1(spec, "carol", DICT_F_FOLD), "multi line"), "hash: continuation line");
    CHECK(streq(lookup1(spec, "nobody", DICT_F_FOLD), "<none>"), "hash: missing key not found");
    snprintf(spec, sizeof(spec), "btree:%s", path_of("h1"));
    CHECK(streq(lookup1(spec, "alice", DICT_F_FOLD), "Alice Smith"), "btree: same file format");

    struct dict *d;
    snprintf(spec, sizeof(spec), "hash:%s", path_of("h1"));
    d = dict_open(spec, DICT_F_FOLD);
    struct sbuf *all = sbuf_new(64);
    CHECK(d && dict_sequence(d, count_walk, all) == 0 &&
              streq(sbuf_str(all), "alice=Alice Smith;bob=bob@example.org;carol=multi line;"),
          "hash: sequence lists entries in key order");
    /* Rebuilt file is picked up on the next lookup. */
    build_db("h1", "alice changed\n", true);
    CHECK(d && streq(dict_lookup(d, "alice"), "changed"), "hash: re-opened after rebuild");
    CHECK(d && dict_lookup(d, "bob") == NULL, "hash: rebuilt file replaces old entries");
    dict_close(d);
    sbuf_free(all);

    snprintf(spec, sizeof(spec), "hash:%s", path_of("does-not-exist"));
    CHECK(dict_open(spec, DICT_F_FOLD) == NULL, "hash: missing .db fails to open");
    CHECK(log_has("does-not-exist.db"), "hash: open error names the .db file");

    /* Many keys: binary search over a bigger index. */
    struct sbuf *big = sbuf_new(1 << 16);
    for (int i = 0; i < 5000; i++)
        sbuf_catf(big, "key%d value%d\n", i, i * 7);
    build_db("big", sbuf_str(big), true);
    snprintf(spec, sizeof(spec), "hash:%s", path_of("big"));
    d = dict_open(spec, DICT_F_FOLD);
    bool allok = d != NULL;
    for (int i = 0; allok && i < 5000; i += 37) {
        char k[32], v[32];
        snprintf(k, sizeof(k), "key%d", i);
        snprintf(v, sizeof(v), "value%d", i * 7);
        allok = streq(dict_lookup(d, k), v);
    }
    CHECK(allok && dict_lookup(d, "key5000") == NULL, "hash: 5000 keys found by binary search");
    dict_close(d);
    sbuf_free(big);
}

static void copy_prefix(const char *from, const char *to, size_t n, long flip_at)
{
    FILE *in = fopen(from, "rb"), *out = fopen(to, "wb");
    int c;
    long i = 0;
    while (in && out && (size_t)i < n && (c = fgetc(in)) != EOF) {
        if (i == flip_at)
            c ^= 0x5a;
        fputc(c, out);
        i++;
    }
    if (in)
        fclose(in);
    if (out)
        fclose(out);
}

static void test_db_corruption(void)
{
    char good[512], bad[512];
    struct stat st;
    struct sbuf *err = sbuf_new(64);

    build_db("c1", "one 1\ntwo 2\nthree 3\nfour 4\n", true);
    snprintf(good, sizeof(good), "%s.db", path_of("c1"));
    snprintf(bad, sizeof(bad), "%s.db", path_of("cbad"));
    stat(good, &st);

    /* Every truncation is rejected at open. */
    bool all_rejected = true;
    for (size_t n = 0; n < (size_t)st.st_size; n++) {
        copy_prefix(good, bad, n, -1);
        struct dict_db *db = dict_db_open(bad, err);
        if (db != NULL) {
            all_rejected = false;
            dict_db_close(db);
        }
    }
    CHECK(all_rejected, "db: every truncated file is rejected");
    char spec[512];
    snprintf(spec, sizeof(spec), "hash:%s", path_of("cbad"));
    copy_prefix(good, bad, (size_t)st.st_size - 3, -1);
    CHECK(dict_open(spec, DICT_F_FOLD) == NULL, "db: truncated file makes dict_open fail");

    /* Flipping any single byte either is rejected or leaves a readable file
     * whose lookups stay in bounds (the sanitizer build checks the latter). */
    bool header_rejected = true, survived = true;
    for (long i = 0; i < (long)st.st_size; i++) {
        copy_prefix(good, bad, (size_t)st.st_size, i);
        struct dict_db *db = dict_db_open(bad, err);
        if (db == NULL)
            continue;
        if (i < DICT_DB_HEADER_SIZE)
            header_rejected = false;
        const char *v;
        const char *keys[] = { "one", "two", "three", "four", "five", "" };
        for (size_t k = 0; k < ARRAY_LEN(keys); k++)
            (void)dict_db_get(db, keys[k], strlen(keys[k]), &v);
        for (size_t k = 0; k < dict_db_count(db); k++) {
            const char *kk, *vv;
            dict_db_entry(db, k, &kk, &vv);
            survived &= strlen(kk) < (size_t)st.st_size && strlen(vv) < (size_t)st.st_size;
        }
        dict_db_close(db);
    }
    CHECK(header_rejected, "db: any header byte change is rejected (checksum)");
    CHECK(survived, "db: corrupted records never lead out of bounds");

    write_file("cbad.db", "PSTRNDB\nthis is not a table at all, but long enough for a header.....");
    CHECK(dict_db_open(bad, err) == NULL && strstr(sbuf_str(err), "cbad.db") != NULL,
          "db: garbage after the magic is rejected, naming the file");
    write_file("cbad.db", "");
    CHECK(dict_db_open(bad, err) == NULL, "db: empty file rejected");
    sbuf_free(err);
}

static void test_texthash(void)
{
    char spec[512];
    write_file("th", "Key1 value one\n# c\nkey2\tvalue\n\tcontinued\nkey1 second\n");
    snprintf(spec, sizeof(spec), "texthash:%s", path_of("th"));
    CHECK(streq(lookup1(spec, "KEY1", DICT_F_FOLD), "value one"), "texthash: folded, first kept");
    CHECK(streq(lookup1(spec, "key2", DICT_F_FOLD), "value\tcontinued"), "texthash: continuation");
    CHECK(log_has("th:5: duplicate entry"), "texthash: duplicate warned");
    write_file("al", "Postmaster: root\nlist: a, b,\n   c\n\"x y\": z\nbad line\n");
    snprintf(spec, sizeof(spec), "texthash:%s", path_of("al"));
    CHECK(streq(lookup1(spec, "postmaster", DICT_F_FOLD | DICT_F_ALIAS), "root"),
          "texthash: alias format with DICT_F_ALIAS");
    CHECK(streq(lookup1(spec, "list", DICT_F_FOLD | DICT_F_ALIAS), "a, b,   c"),
          "texthash: alias continuation kept as written");
    CHECK(streq(lookup1(spec, "x y", DICT_F_FOLD | DICT_F_ALIAS), "z"),
          "texthash: quoted alias name is stored without its quotes");
    CHECK(log_has("al:5: need name:value pair"), "texthash: bad alias line warned");
    snprintf(spec, sizeof(spec), "texthash:%s", path_of("missing"));
    CHECK(dict_open(spec, DICT_F_FOLD) == NULL, "texthash: missing file fails to open");
}

/* base64 as RFC 4648's test vectors; bad input refused. */
static void test_base64(void)
{
    static const char *vec[][2] = { { "", "" },           { "f", "Zg==" },
                                    { "fo", "Zm8=" },     { "foo", "Zm9v" },
                                    { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
                                    { "foobar", "Zm9vYmFy" } };
    struct sbuf *b = sbuf_new(16);
    for (size_t i = 0; i < sizeof(vec) / sizeof(vec[0]); i++) {
        sbuf_reset(b);
        base64_encode(b, vec[i][0], strlen(vec[i][0]));
        CHECK(streq(sbuf_str(b), vec[i][1]), "base64: encodes the RFC 4648 vector");
        sbuf_reset(b);
        CHECK(base64_decode(b, vec[i][1], strlen(vec[i][1])) == 0 && streq(sbuf_str(b), vec[i][0]),
              "base64: decodes the RFC 4648 vector");
    }
    sbuf_reset(b);
    CHECK(base64_decode(b, "Zm9v\nYmFy\n", 10) == 0 && streq(sbuf_str(b), "foobar"),
          "base64: line breaks are skipped");
    static const char *bad[] = { "Zg", "Zg=", "Z===", "Zg==Zg==", "Zm9v!", "Zg=a" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        sbuf_reset(b);
        CHECK(base64_decode(b, bad[i], strlen(bad[i])) < 0, "base64: malformed input refused");
    }
    unsigned char all[256];
    for (int i = 0; i < 256; i++)
        all[i] = (unsigned char)i;
    struct sbuf *d = sbuf_new(256);
    sbuf_reset(b);
    base64_encode(b, all, sizeof(all));
    CHECK(base64_decode(d, sbuf_str(b), sbuf_len(b)) == 0 && sbuf_len(d) == 256
              && memcmp(sbuf_str(d), all, 256) == 0,
          "base64: every byte value survives");
    sbuf_free(d);
    sbuf_free(b);
}

/* Values that name files (postmap -F, tls_server_sni_maps): texthash: and
 * inline: read them at open with DICT_F_RHS_FILE; a missing one fails. */
static void test_rhs_file(void)
{
    char spec[1024];
    struct sbuf *out = sbuf_new(64), *why = sbuf_new(64);
    write_file("k.pem", "KEY\n");
    write_file("c.pem", "CERT\n");
    snprintf(spec, sizeof(spec), "%s, %s", path_of("k.pem"), path_of("c.pem"));
    CHECK(dict_file_to_b64(spec, out, why) == 0, "rhs file: two files read");
    struct sbuf *pem = sbuf_new(64);
    CHECK(dict_file_from_b64(sbuf_str(out), pem) == 0 && streq(sbuf_str(pem), "KEY\n\nCERT\n"),
          "rhs file: contents joined with a newline between files");
    CHECK(dict_file_to_b64(path_of("nope.pem"), out, why) < 0
              && strstr(sbuf_str(why), "nope.pem") != NULL,
          "rhs file: a missing file is named");
    CHECK(dict_file_to_b64(" , ", out, why) < 0, "rhs file: no file name at all");
    CHECK(dict_file_from_b64("not base64!", pem) < 0, "rhs file: a plain value is not content");

    char line[600];
    snprintf(line, sizeof(line), "mail.example.com %s\n.example.org %s %s\n", path_of("k.pem"),
             path_of("k.pem"), path_of("c.pem"));
    write_file("sni", line);
    snprintf(spec, sizeof(spec), "texthash:%s", path_of("sni"));
    const char *v = lookup1(spec, "MAIL.example.com", DICT_F_FOLD | DICT_F_RHS_FILE);
    CHECK(v != NULL && dict_file_from_b64(v, pem) == 0 && streq(sbuf_str(pem), "KEY\n"),
          "rhs file: texthash answers with the file's content");
    v = lookup1(spec, ".example.org", DICT_F_FOLD);
    CHECK(v != NULL && strstr(v, "k.pem") != NULL, "rhs file: without the flag, the names");
    snprintf(spec, sizeof(spec), "inline:{ { a.test = %s, %s } }", path_of("k.pem"),
             path_of("c.pem"));
    v = lookup1(spec, "a.test", DICT_F_FOLD | DICT_F_RHS_FILE);
    CHECK(v != NULL && dict_file_from_b64(v, pem) == 0 && streq(sbuf_str(pem), "KEY\n\nCERT\n"),
          "rhs file: inline answers with the files' content");
    snprintf(line, sizeof(line), "x.test %s\n", path_of("gone.pem"));
    write_file("sni2", line);
    snprintf(spec, sizeof(spec), "texthash:%s", path_of("sni2"));
    CHECK(dict_open(spec, DICT_F_FOLD | DICT_F_RHS_FILE) == NULL,
          "rhs file: texthash naming a missing file fails to open");
    CHECK(log_has("sni2:1: open "), "rhs file: the source line is named");
    sbuf_free(pem);
    sbuf_free(out);
    sbuf_free(why);
}

static void test_simple(void)
{
    CHECK(streq(lookup1("static:OK", "anything", DICT_F_FOLD), "OK"), "static: value");
    CHECK(streq(lookup1("static:{ text with spaces }", "x", DICT_F_FOLD), "text with spaces"),
          "static: braces");
    CHECK(dict_open("static:{ broken", 0) == NULL, "static: missing brace fails");
    const char *in = "inline:{ a=1, B=2 ,{ c = value, with comma }, d=}";
    CHECK(streq(lookup1(in, "a", DICT_F_FOLD), "1"), "inline: key=value");
    CHECK(dict_open("inline:{ a=1, B = 2 }", DICT_F_FOLD) == NULL,
          "inline: 'B = 2' outside braces is not one item");
    CHECK(streq(lookup1("inline:{ a=1, B=2 }", "b", DICT_F_FOLD), "2"), "inline: folded key");
    CHECK(streq(lookup1(in, "C", DICT_F_FOLD), "value, with comma"), "inline: braced item");
    CHECK(streq(lookup1(in, "d", DICT_F_FOLD), ""), "inline: empty value");
    CHECK(dict_open("inline:{ a=1, novalue }", 0) == NULL, "inline: item without = fails");
    CHECK(dict_open("inline:a=1", 0) == NULL, "inline: missing braces fails");
    CHECK(streq(lookup1("fail:x", "k", 0), "<error>"), "fail: temporary error");
    const char *r = lookup1("unix:passwd.byname", "root", DICT_F_FOLD);
    CHECK(strncmp(r, "root:x:0:0:", 11) == 0, "unix: passwd.byname root");
    CHECK(streq(lookup1("unix:passwd.byname", "no-such-user-xyz", DICT_F_FOLD), "<none>"),
          "unix: unknown user not found");
    CHECK(strncmp(lookup1("unix:group.byname", "root", DICT_F_FOLD), "root:x:0:", 9) == 0,
          "unix: group.byname root");
    CHECK(dict_open("unix:shadow", 0) == NULL, "unix: unknown map fails");
    /* Answers are cached while /etc/passwd is unchanged: a second lookup in
     * the same table gives the same answer, found or not, and does not mix
     * up keys that share nothing but the table. */
    struct dict *pw = dict_open("unix:passwd.byname", DICT_F_FOLD);
    CHECK(pw != NULL, "unix: open passwd.byname");
    if (pw) {
        for (int round = 0; round < 2; round++) {
            const char *v = dict_lookup(pw, "root");
            CHECK(v && strncmp(v, "root:x:0:0:", 11) == 0, round ? "unix: cached root" : "unix: root");
            CHECK(dict_lookup(pw, "no-such-user-xyz") == NULL && dict_error(pw) == 0,
                  round ? "unix: cached not-found" : "unix: not found");
            v = dict_lookup(pw, "ROOT");
            CHECK(v && strncmp(v, "root:x:0:0:", 11) == 0, round ? "unix: cached folded key" : "unix: folded key");
        }
        dict_close(pw);
    }
    /* proxy: goes to proxymap (dict_proxy_test covers lookups); with
     * DICT_F_NO_PROXY the inner table is opened here. */
    CHECK(streq(lookup1("proxy:static:yes", "k", DICT_F_FOLD | DICT_F_NO_PROXY), "yes"),
          "proxy: ignored with DICT_F_NO_PROXY");
    CHECK(dict_open("nosuchtype:x", 0) == NULL, "unknown type fails");
    CHECK(dict_open("/no/type", 0) == NULL, "missing type fails");
    struct dict *d = dict_open("proxy:static:x", DICT_F_FOLD);
    CHECK(d && streq(dict_name(d), "proxy:static:x") && (dict_flags(d) & DICT_F_FIXED),
          "proxy: name kept, flags of the inner type");
    dict_close(d);
}

static void test_pattern(const char *type)
{
    char spec[512], name[64], msg[128];
    snprintf(name, sizeof(name), "pat-%s", type);
    write_file(name, "# header\n"
                     "/^(.*)@example\\.com$/  local:$1\n"
                     "/[unclosed/  broken\n"
                     "/^x/q  badflag\n"
                     "/^nosub/ $3\n"
                     "!/@/  unqualified\n"
                     "if /^vip/\n"
                     "/^(v)ip@big\\.org$/  VIP ${1}done$$\n"
                     "endif\n"
                     "/^([a-z]+)@big\\.org$/  plain $1\n"
                     "/^Case/i  sensitive\n"
                     "/a/!/b/ a-not-b\n"
                     "/\\//  slash\n"
                     "endif\n");
    snprintf(spec, sizeof(spec), "%s:%s", type, path_of(name));
#define P(key) lookup1(spec, key, DICT_F_FOLD)
    snprintf(msg, sizeof(msg), "%s: $1 substitution", type);
    CHECK(streq(P("Joe@Example.COM"), "local:Joe"), msg);
    snprintf(msg, sizeof(msg), "%s: bad pattern warned as file:line", type);
    snprintf(name, sizeof(name), "pat-%s:3:", type);
    CHECK(log_has(name), msg);
    snprintf(name, sizeof(name), "pat-%s:4: unknown", type);
    snprintf(msg, sizeof(msg), "%s: unknown flag warned", type);
    CHECK(log_has(name), msg);
    snprintf(name, sizeof(name), "pat-%s:5: out of range", type);
    snprintf(msg, sizeof(msg), "%s: out-of-range $n warned", type);
    CHECK(log_has(name), msg);
    snprintf(msg, sizeof(msg), "%s: negated pattern", type);
    CHECK(streq(P("nosub"), "unqualified"), msg);
    snprintf(msg, sizeof(msg), "%s: if block entered", type);
    CHECK(streq(P("vip@big.org"), "VIP vdone$"), msg);
    snprintf(msg, sizeof(msg), "%s: if block skipped", type);
    CHECK(streq(P("bob@big.org"), "plain bob"), msg);
    snprintf(msg, sizeof(msg), "%s: i flag makes it case-sensitive", type);
    CHECK(streq(P("case@x.y"), "a-not-b") && streq(P("Case@x.y"), "sensitive"), msg);
    snprintf(msg, sizeof(msg), "%s: /a/!/b/", type);
    CHECK(streq(P("a@q.r"), "a-not-b") && streq(P("ab@q.r"), "<none>"), msg);
    snprintf(msg, sizeof(msg), "%s: escaped delimiter", type);
    CHECK(streq(P("x/y@q.r"), "slash"), msg);
    snprintf(name, sizeof(name), "pat-%s:14: \"endif\" without", type);
    snprintf(msg, sizeof(msg), "%s: stray endif warned", type);
    CHECK(log_has(name), msg);
#undef P
    snprintf(spec, sizeof(spec), "%s:%s", type, path_of("missing"));
    snprintf(msg, sizeof(msg), "%s: missing file fails to open", type);
    CHECK(dict_open(spec, 0) == NULL, msg);
}

/*
 * Stacked or nested repeats make glibc's regcomp() need memory
 * exponential in their number (a ~95-byte rule took over 2 GB): such
 * rules are refused with a file:line warning, ordinary ones still work.
 */
static void test_regexp_complexity(void)
{
    char spec[512], text[2048], what[128];
    size_t n = 0;
    static const char *const bombs[] = {
        "/e+++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++++"
        "+++++++++++/ b1\n",
        "/((((((((((((((((((((a)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+)+/ b2\n",
        "/a{1,32767}/ b3\n",
        "/((((((a){1,10}){1,10}){1,10}){1,10}){1,10}){1,10}/ b4\n",
        "/a\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}"
        "\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}\\{2\\}/x b5\n",
    };
    for (size_t i = 0; i < ARRAY_LEN(bombs); i++)
        n += (size_t)snprintf(text + n, sizeof(text) - n, "%s", bombs[i]);
    /* line 6: parentheses nested 120 deep */
    n += (size_t)snprintf(text + n, sizeof(text) - n, "/");
    for (int i = 0; i < 120; i++)
        text[n++] = '(';
    text[n++] = 'a';
    for (int i = 0; i < 120; i++)
        text[n++] = ')';
    n += (size_t)snprintf(text + n, sizeof(text) - n, "/ deep\n");
    snprintf(text + n, sizeof(text) - n,
             "/^(a+)?x.*?$/ ok1\n"
             "/^b{1,1000}$/ ok2\n"
             "/^Subject:.{20,}/ ok3\n"
             "/^[]{}+*]+q$/ ok4\n"
             "/^c\\{2,3\\}$/x ok5\n"
             "/^(([a-z0-9-]+\\.)+[a-z]{2,63})$/ ok6 $1\n");
    write_file("bomb", text);
    snprintf(spec, sizeof(spec), "regexp:%s", path_of("bomb"));
    struct dict *d = dict_open(spec, 0);
    CHECK(d != NULL, "regexp: table with refused rules opens");
    if (d == NULL)
        return;
    for (int line = 1; line <= 5; line++) {
        char want[64];
        snprintf(want, sizeof(want), "bomb:%d: regexp \"", line);
        snprintf(what, sizeof(what), "regexp: bomb on line %d refused with file:line", line);
        CHECK(log_has(want), what);
        const char *v = dict_lookup(d, line == 5 ? "aaaa" : "eeeeaaaa");
        snprintf(what, sizeof(what), "regexp: bomb on line %d never matches", line);
        CHECK(v == NULL || strncmp(v, "b", 1) != 0, what);
    }
    CHECK(log_has("bomb:1: regexp \"e+++") && log_has("too complex"),
          "regexp: stacked quantifiers called too complex");
    CHECK(log_has("bomb:6: regexp") && log_has("nested more than"),
          "regexp: deep nesting refused");
    CHECK(streq(dict_lookup(d, "aaax-yz"), "ok1"), "regexp: a+ ? and .*? still work");
    CHECK(streq(dict_lookup(d, "bbbbbbbbbbbbbbbbbbbbbbbb"), "ok2"), "regexp: b{1,1000} works");
    CHECK(streq(dict_lookup(d, "Subject: a long subject line here"), "ok3"),
          "regexp: .{20,} works");
    CHECK(streq(dict_lookup(d, "{+}*q"), "ok4"), "regexp: bracket with ] and + works");
    CHECK(streq(dict_lookup(d, "ccc"), "ok5"), "regexp: BRE interval works");
    CHECK(streq(dict_lookup(d, "mail.example.org"), "ok6 mail.example.org"),
          "regexp: nested group repeat works");
    dict_close(d);
    /* The budget is returned on close: the same table loads again. */
    write_file("plain", "/^(([a-z]+\\.)+[a-z]{2,63})$/ again\n/^x{1,1000}$/ xs\n");
    snprintf(spec, sizeof(spec), "regexp:%s", path_of("plain"));
    for (int i = 0; i < 30; i++) {
        if (!streq(lookup1(spec, "xxxx", 0), "xs")) {
            CHECK(false, "regexp: repeated open/close keeps working");
            return;
        }
    }
    CHECK(true, "regexp: repeated open/close keeps working");
}

static void test_pcre_flags(void)
{
    char spec[512];
    write_file("pf", "/^a.b$/s dotall\n/^(a+?)/U greedy:$1\n/x$/E endonly\n");
    snprintf(spec, sizeof(spec), "pcre:%s", path_of("pf"));
    CHECK(streq(lookup1(spec, "a\nb", 0), "dotall"), "pcre: s flag");
    CHECK(streq(lookup1(spec, "aaa", 0), "greedy:aaa"), "pcre: U flag toggles greediness");
}

static void test_cidr(void)
{
    char spec[512];
    write_file("ci", "192.168.0.0/16  lan\n"
                     "10.1.2.3  host\n"
                     "10.0.0.0/8 ten\n"
                     "2001:db8::/32  doc6\n"
                     "[::1]  lo6\n"
                     "1.2.3.4/24  badbits\n"
                     "300.1.1.1/8 badaddr\n"
                     "if 172.16.0.0/12\n"
                     "172.16.5.0/24  inner\n"
                     "endif\n"
                     "!127.0.0.0/8  notloop\n");
    snprintf(spec, sizeof(spec), "cidr:%s", path_of("ci"));
    CHECK(streq(lookup1(spec, "192.168.7.7", 0), "lan"), "cidr: IPv4 network");
    CHECK(streq(lookup1(spec, "10.1.2.3", 0), "host"), "cidr: bare address is a host");
    CHECK(streq(lookup1(spec, "10.1.2.4", 0), "ten"), "cidr: first match wins");
    CHECK(streq(lookup1(spec, "2001:DB8::5", 0), "doc6"), "cidr: IPv6 network");
    CHECK(streq(lookup1(spec, "::1", 0), "lo6"), "cidr: bracketed IPv6 host");
    CHECK(log_has("ci:6: non-null host address bits"), "cidr: host bits warned");
    CHECK(log_has("ci:7: bad network address"), "cidr: bad address warned");
    CHECK(streq(lookup1(spec, "172.16.5.9", 0), "inner"), "cidr: if block entered");
    CHECK(streq(lookup1(spec, "172.20.0.1", 0), "notloop"), "cidr: if block no match, then !net");
    CHECK(streq(lookup1(spec, "127.0.0.1", 0), "<none>"), "cidr: negation excludes the network");
    CHECK(streq(lookup1(spec, "not-an-ip", 0), "<none>"), "cidr: non-address key not found");
    CHECK(streq(lookup1(spec, "::2", 0), "<none>"), "cidr: IPv4 rules never match IPv6");
}

static void test_parse_entry(void)
{
    struct sbuf *k = sbuf_new(16), *v = sbuf_new(16);
    const char *why;
    CHECK(dict_parse_entry("key   value  more", false, k, v, &why) == 0 && streq(sbuf_str(k), "key") &&
              streq(sbuf_str(v), "value  more"),
          "parse: postmap line");
    CHECK(dict_parse_entry("onlykey", false, k, v, &why) < 0, "parse: key without value");
    CHECK(dict_parse_entry("name : a, b", true, k, v, &why) == 0 && streq(sbuf_str(k), "name") &&
              streq(sbuf_str(v), "a, b"),
          "parse: alias line");
    CHECK(dict_parse_entry("no colon", true, k, v, &why) < 0, "parse: alias without colon");
    /* A quoted alias name loses its quotes, as with postalias (local(8)
     * looks up "a b"); a backslash takes the next character literally. */
    CHECK(dict_parse_entry("\"a b\": carol", true, k, v, &why) == 0 &&
              streq(sbuf_str(k), "a b") && streq(sbuf_str(v), "carol"),
          "parse: quoted alias name without quotes");
    CHECK(dict_parse_entry("  \"c d\"  : x", true, k, v, &why) == 0 && streq(sbuf_str(k), "c d"),
          "parse: quoted name, space before colon");
    CHECK(dict_parse_entry("\"x\\\"y\": dave", true, k, v, &why) == 0 &&
              streq(sbuf_str(k), "x\"y"),
          "parse: escaped quote in quoted name");
    CHECK(dict_parse_entry("\"p\\q\": erin", true, k, v, &why) == 0 && streq(sbuf_str(k), "pq"),
          "parse: backslash in quoted name is removed");
    CHECK(dict_parse_entry("\"t\\\\\": k", true, k, v, &why) == 0 && streq(sbuf_str(k), "t\\"),
          "parse: escaped backslash in quoted name");
    CHECK(dict_parse_entry("\"a:b\": x", true, k, v, &why) == 0 && streq(sbuf_str(k), "a:b"),
          "parse: colon inside a quoted name");
    CHECK(dict_parse_entry("\"q\\\": x", true, k, v, &why) < 0, "parse: escaped closing quote");
    CHECK(dict_parse_entry("\"\": x", true, k, v, &why) < 0, "parse: empty quoted name");
    CHECK(dict_parse_entry("\"a b\"x: y", true, k, v, &why) < 0, "parse: text after quoted name");
    sbuf_free(k);
    sbuf_free(v);
}

int main(void)
{
    snprintf(t_dir, sizeof(t_dir), "/tmp/dict_test.XXXXXX");
    if (mkdtemp(t_dir) == NULL) {
        perror("mkdtemp");
        return 2;
    }
    snprintf(t_log, sizeof(t_log), "%s/log", t_dir);
    log_set_tag("postfix/dict_test");
    log_close_syslog();
    log_open_file(t_log, "test");
    harness_init();

    test_hash();
    test_db_corruption();
    test_texthash();
    test_base64();
    test_rhs_file();
    test_simple();
    test_pattern("regexp");
    test_pattern("pcre");
    test_pcre_flags();
    test_regexp_complexity();
    test_cidr();
    test_parse_entry();

    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_dir);
    if (harness_failed == 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", t_dir);
    return harness_done();
}
