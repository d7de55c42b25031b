/*
 * tls_server_test.c - unit tests for tls_common.c (protocol lists) and
 *                     tls_server.c (contexts, handshakes, plaintext discard)
 *
 * Notes: certificates are made with the openssl command in a temporary
 *        directory; the client side of each handshake is tls_client.c in
 *        a child process on a socketpair.
 */
#include "harness.h"
#include "alloc.h"
#include "stream.h"
#include "tls_client.h"
#include "tls_common.h"
#include "tls_server.h"
#include <openssl/ssl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

static char tmpdir[] = "/tmp/tls_server_test.XXXXXX";
static char rsa_cert[128], rsa_key[128], ec_cert[128], ec_key[128], chain[128];

/* tls_ssl_options: names in any case, numbers, unknown words reported. */
static void test_ssl_options_parse(void)
{
    struct sbuf *bad = sbuf_new(32);

    EXPECT_TRUE(tls_ssl_options_parse("", bad) == 0);
    EXPECT_TRUE(tls_ssl_options_parse("NO_TICKET", bad) == SSL_OP_NO_TICKET);
    EXPECT_TRUE(tls_ssl_options_parse("no_renegotiation, Prioritize_ChaCha", bad)
                == (SSL_OP_NO_RENEGOTIATION | SSL_OP_PRIORITIZE_CHACHA));
    EXPECT_TRUE(tls_ssl_options_parse("0x4000 16", bad) == (0x4000 | 16));
    EXPECT_EQ_INT((int) sbuf_len(bad), 0);
    EXPECT_TRUE(tls_ssl_options_parse("NO_TICKET ENABLE_KTLS 12x NO_SSLv2", bad)
                == SSL_OP_NO_TICKET);
    EXPECT_EQ_STR(sbuf_str(bad), "ENABLE_KTLS 12x NO_SSLv2");
    sbuf_free(bad);
}

static void test_proto_parse(void)
{
    struct sbuf *why = sbuf_new(64);
    unsigned m = 0;
    EXPECT_EQ_INT(tls_proto_parse(">=TLSv1.2", &m, why), 0);
    EXPECT_EQ_INT(m, TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3);
    EXPECT_EQ_INT(tls_proto_parse("!SSLv2, !SSLv3", &m, why), 0);
    EXPECT_EQ_INT(m, TLS_PROTO_TLSV1 | TLS_PROTO_TLSV1_1 | TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3);
    EXPECT_EQ_INT(tls_proto_parse("!SSLv2:!SSLv3:!TLSv1:!TLSv1.1", &m, why), 0);
    EXPECT_EQ_INT(m, TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3);
    EXPECT_EQ_INT(tls_proto_parse("TLSv1.2 TLSv1.3", &m, why), 0);
    EXPECT_EQ_INT(m, TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3);
    EXPECT_EQ_INT(tls_proto_parse("<=TLSv1.2, >=TLSv1", &m, why), 0);
    EXPECT_EQ_INT(m, TLS_PROTO_TLSV1 | TLS_PROTO_TLSV1_1 | TLS_PROTO_TLSV1_2);
    EXPECT_EQ_INT(tls_proto_parse("", &m, why), 0);
    EXPECT_EQ_INT(m, TLS_PROTO_ALL);
    EXPECT_EQ_INT(tls_proto_parse(">=tlsv1.3", &m, why), 0);   /* case-insensitive */
    EXPECT_EQ_INT(m, TLS_PROTO_TLSV1_3);
    EXPECT_EQ_INT(tls_proto_parse("!TLSv9", &m, why), -1);
    EXPECT_TRUE(strstr(sbuf_str(why), "TLSv9") != NULL);
    EXPECT_EQ_STR(tls_proto_name(TLS_PROTO_TLSV1_1), "TLSv1.1");

    /* The OpenSSL range of a mask, with a hole switched off inside it. */
    int lo = 0, hi = 0;
    uint64_t holes = 1;
    unsigned holed = TLS_PROTO_TLSV1 | TLS_PROTO_TLSV1_2;
    EXPECT_EQ_INT(tls_common_proto_range(holed, &lo, &hi, &holes, why), 0);
    EXPECT_EQ_INT(lo, TLS1_VERSION);
    EXPECT_EQ_INT(hi, TLS1_2_VERSION);
    EXPECT_TRUE(holes == (uint64_t)SSL_OP_NO_TLSv1_1);
    EXPECT_EQ_INT(tls_common_proto_range(TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3, &lo, &hi, &holes,
                                         why),
                  0);
    EXPECT_EQ_INT(lo, TLS1_2_VERSION);
    EXPECT_EQ_INT(hi, TLS1_3_VERSION);
    EXPECT_TRUE(holes == 0);
    /* SSLv2/SSLv3 alone leave no TLS version. */
    EXPECT_EQ_INT(tls_common_proto_range(TLS_PROTO_SSLV3, &lo, &hi, &holes, why), -1);
    EXPECT_TRUE(strstr(sbuf_str(why), "no TLS protocol") != NULL);
    sbuf_free(why);
}

static void make_certs(void)
{
    if (mkdtemp(tmpdir) == NULL) {
        perror("mkdtemp");
        exit(1);
    }
    snprintf(rsa_cert, sizeof(rsa_cert), "%s/rsa.crt", tmpdir);
    snprintf(rsa_key, sizeof(rsa_key), "%s/rsa.key", tmpdir);
    snprintf(ec_cert, sizeof(ec_cert), "%s/ec.crt", tmpdir);
    snprintf(ec_key, sizeof(ec_key), "%s/ec.key", tmpdir);
    snprintf(chain, sizeof(chain), "%s/chain.pem", tmpdir);
    struct sbuf *cmd = sbuf_new(512);
    sbuf_printf(cmd,
                "cd %s && openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=rsa.test "
                "-keyout rsa.key -out rsa.crt >/dev/null 2>&1 && "
                "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
                "-days 2 -subj /CN=ec.test -keyout ec.key -out ec.crt >/dev/null 2>&1 && "
                "cat ec.key ec.crt > chain.pem",
                tmpdir);
    if (system(sbuf_str(cmd)) != 0) {
        fprintf(stderr, "cannot make test certificates with openssl\n");
        exit(1);
    }
    sbuf_free(cmd);
}

static struct tls_server_ctx *server_ctx(unsigned protocols, bool ec_too,
                                         const struct tls_sni_ops *sni, struct sbuf *why)
{
    struct tls_server_opts o = {
        .sni = sni,
        .cert_file = rsa_cert,
        .key_file = rsa_key,
        .eccert_file = ec_too ? ec_cert : "",
        .eckey_file = ec_too ? ec_key : "",
        .protocols = protocols,
        .ciphers = "aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH",
        .groups = "X25519 X448 prime256v1 nosuchcurve secp384r1",
        .session_timeout = 3600,
        .session_context = "smtpd/test",
        .fingerprint_digest = "sha256",
    };
    return tls_server_ctx_new(&o, why);
}

static void test_ctx_errors(void)
{
    struct sbuf *why = sbuf_new(64);
    struct tls_server_opts o = { .cert_file = "/nonexistent/cert.pem",
                                 .protocols = TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3 };
    EXPECT_TRUE(tls_server_ctx_new(&o, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "/nonexistent/cert.pem") != NULL);

    struct tls_server_opts none = { .protocols = TLS_PROTO_TLSV1_3 };
    EXPECT_TRUE(tls_server_ctx_new(&none, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "no server certificate") != NULL);

    /* Key that does not belong to the certificate. */
    struct tls_server_opts bad = { .cert_file = rsa_cert, .key_file = ec_key,
                                   .protocols = TLS_PROTO_TLSV1_3 };
    EXPECT_TRUE(tls_server_ctx_new(&bad, why) == NULL);

    struct tls_server_opts noproto = { .cert_file = rsa_cert, .key_file = rsa_key,
                                       .protocols = TLS_PROTO_SSLV3 };
    EXPECT_TRUE(tls_server_ctx_new(&noproto, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "no TLS protocol") != NULL);

    struct tls_server_opts ch = { .chain_files = chain, .protocols = TLS_PROTO_TLSV1_3 };
    struct tls_server_ctx *c = tls_server_ctx_new(&ch, why);
    EXPECT_TRUE(c != NULL);
    tls_server_ctx_free(c);

    c = server_ctx(TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3, true, NULL, why);
    EXPECT_TRUE(c != NULL);
    tls_server_ctx_free(c);
    sbuf_free(why);
}

/* The child: sends STARTTLS plus an injected command in one write, waits
 * for the 220, starts TLS, sends "EHLO secure" and reads the echo. */
static int client_side(int fd, unsigned max_proto)
{
    (void)max_proto;
    struct stream *s = stream_open(fd);
    stream_set_timeout(s, 10);
    const char *first = "STARTTLS\r\nMAIL FROM:<injected@evil>\r\n";
    if (write(fd, first, strlen(first)) != (ssize_t)strlen(first))
        return 2;
    struct sbuf *line = sbuf_new(64);
    if (stream_getline(s, line, 512, NULL) < 0 || strncmp(sbuf_str(line), "220", 3) != 0)
        return 3;
    struct sbuf *why = sbuf_new(64);
    struct tls_client_opts co = { 0 };
    struct tls_client_ctx *cc = tls_client_ctx_new(&co, why);
    if (cc == NULL)
        return 4;
    struct tls_client_conn *conn = tls_client_start(cc, s, "rsa.test", 10, why);
    if (conn == NULL) {
        fprintf(stderr, "client: %s\n", sbuf_str(why));
        return 5;
    }
    stream_puts(s, "EHLO secure\r\n");
    if (stream_flush(s) != 0)
        return 6;
    if (stream_getline(s, line, 512, NULL) < 0 || strcmp(sbuf_str(line), "250 EHLO secure\r") != 0)
        return 7;
    tls_client_stop(conn, s);
    tls_client_ctx_free(cc);
    stream_close(s);
    return 0;
}

/* tls_server_sni_maps stand-in (the tables are tested in dict_test and
 * tls_sni_test.sh): records the keys asked for; ".test" has the ECDSA pair
 * of chain.pem ("bad": text that is no PEM; "error": a lookup error). */
struct sni_table {
    const char *mode;
    struct sbuf *asked;
    int unusable;
};

static int sni_find(void *arg, const char *key, struct sbuf *pem)
{
    struct sni_table *t = arg;
    sbuf_catf(t->asked, "%s%s", sbuf_len(t->asked) ? " " : "", key);
    if (strcmp(key, ".test") != 0)
        return 0;
    if (strcmp(t->mode, "error") == 0)
        return -1;
    if (strcmp(t->mode, "bad") == 0) {
        sbuf_set(pem, "-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n");
        return 1;
    }
    FILE *fp = fopen(chain, "r");
    char buf[4096];
    size_t n = fp ? fread(buf, 1, sizeof(buf), fp) : 0;
    if (fp)
        fclose(fp);
    sbuf_append(pem, buf, n);
    return 1;
}

static void sni_unusable(void *arg, const char *key, const char *why)
{
    (void)key;
    (void)why;
    ((struct sni_table *)arg)->unusable++;
}

/* What a handshake shows; sni NULL: no SNI tables, the RSA+ECDSA context. */
struct sni_case {
    const char *mode;           /* sni_table.mode, or NULL */
    bool ok;                    /* the handshake succeeds */
    const char *sig;            /* ... with this server signature */
    enum tls_sni_status status;
};

static void test_handshake(unsigned protocols, const char *want_proto, const struct sni_case *sc)
{
    struct sbuf *why = sbuf_new(64);
    struct sni_table table = { .mode = sc ? sc->mode : "", .asked = sbuf_new(64) };
    struct tls_sni_ops ops = { .find = sni_find, .unusable = sni_unusable, .arg = &table };
    struct tls_server_ctx *ctx = server_ctx(protocols, sc == NULL, sc ? &ops : NULL, why);
    EXPECT_TRUE(ctx != NULL);
    if (ctx == NULL)
        return;
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0) {
        perror("socketpair");
        exit(1);
    }
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        _exit(client_side(sv[1], protocols));
    }
    close(sv[1]);
    struct stream *s = stream_open(sv[0]);
    stream_set_timeout(s, 10);
    struct sbuf *line = sbuf_new(64);
    EXPECT_TRUE(stream_getline(s, line, 512, NULL) > 0);
    EXPECT_EQ_STR(sbuf_str(line), "STARTTLS\r");
    /* The injected command may still be in flight; wait until buffered. */
    for (int i = 0; i < 100 && stream_pending(s) == 0; i++)
        usleep(10000);
    stream_puts(s, "220 2.0.0 Ready to start TLS\r\n");
    stream_flush(s);
    size_t junk = 0;
    struct tls_server_conn *c = tls_server_start(ctx, s, 10, &junk, why);
    EXPECT_TRUE((c != NULL) == (sc == NULL || sc->ok));
    EXPECT_EQ_INT(junk, strlen("MAIL FROM:<injected@evil>\r\n"));
    if (sc) {
        /* The name as sent, then its parent with a leading dot. */
        EXPECT_EQ_STR(sbuf_str(table.asked), "rsa.test .test");
        EXPECT_EQ_INT(table.unusable, strcmp(sc->mode, "bad") == 0);
    }
    if (c) {
        EXPECT_TRUE(stream_getline(s, line, 512, NULL) > 0);
        EXPECT_EQ_STR(sbuf_str(line), "EHLO secure\r");    /* not the injected MAIL */
        stream_puts(s, "250 EHLO secure\r\n");
        stream_flush(s);
        struct tls_server_info in;
        tls_server_info(c, &in);
        EXPECT_EQ_STR(in.protocol, want_proto);
        EXPECT_TRUE(in.bits >= 128);
        EXPECT_TRUE(!in.have_cert);
        EXPECT_TRUE(!in.reused);
        EXPECT_TRUE(in.cipher[0] != 0);
        EXPECT_TRUE(in.kex[0] != 0);
        EXPECT_TRUE(in.sig[0] != 0);
        EXPECT_EQ_INT(in.sni_status, sc ? sc->status : TLS_SNI_NONE);
        if (sc) {
            EXPECT_EQ_STR(in.sig, sc->sig);
            EXPECT_EQ_STR(in.sni, "rsa.test");
        }
        tls_server_stop(c, s);
    }
    int status = -1;
    waitpid(pid, &status, 0);
    bool client_ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    EXPECT_TRUE(client_ok == (sc == NULL || sc->ok));
    if (!client_ok && (sc == NULL || sc->ok))
        fprintf(stderr, "client exit status %d\n", WEXITSTATUS(status));
    stream_close(s);
    sbuf_free(line);
    sbuf_free(why);
    sbuf_free(table.asked);
    tls_server_ctx_free(ctx);
}

/* tls_server_sni_maps: the client (SNI "rsa.test") gets the ECDSA pair
 * that ".test" names, not the RSA default; an unusable answer or a lookup
 * error ends the handshake rather than fall back to the default. */
static void test_sni(void)
{
    static const struct sni_case found = { "ec", true, "ECDSA", TLS_SNI_MATCHED };
    static const struct sni_case bad = { "bad", false, "", TLS_SNI_NONE };
    static const struct sni_case error = { "error", false, "", TLS_SNI_NONE };
    test_handshake(TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3, "TLSv1.3", &found);
    test_handshake(TLS_PROTO_TLSV1_2, "TLSv1.2", &found);
    test_handshake(TLS_PROTO_TLSV1_3, "TLSv1.3", &bad);
    test_handshake(TLS_PROTO_TLSV1_3, "TLSv1.3", &error);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    test_proto_parse();
    test_ssl_options_parse();
    make_certs();
    test_ctx_errors();
    test_handshake(TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3, "TLSv1.3", NULL);
    test_handshake(TLS_PROTO_TLSV1_2, "TLSv1.2", NULL);
    test_sni();
    struct sbuf *cmd = sbuf_new(64);
    sbuf_printf(cmd, "rm -rf %s", tmpdir);
    if (system(sbuf_str(cmd)) != 0)
        fprintf(stderr, "cannot remove %s\n", tmpdir);
    sbuf_free(cmd);
    return harness_done();
}
