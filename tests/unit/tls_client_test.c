/*
 * tls_client_test.c - the TLS client wrapper against a real TLS server
 *
 * Used by: make unit (needs the openssl command; skipped with exit 77
 *          when it is missing).
 * Notes: a throwaway CA and a server certificate for mail.example.test are
 *        made with the openssl command in a temporary directory. The server
 *        is a forked child (ut_ipc.h) on 127.0.0.1 that speaks a tiny
 *        STARTTLS-like dialogue: plaintext greeting, "STARTTLS", TLS, one
 *        echoed line, the client's close_notify, then plaintext again. The
 *        server side uses OpenSSL directly; only the client is under test.
 */
#include "harness.h"
#include "sock.h"
#include "stream.h"
#include "tls_client.h"
#include "ut_ipc.h"
#include <ctype.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

static char *tmp;
static char ca_pem[300], srv_pem[300], srv_key[300], ca_key[300];

enum mode {
    S_TLS,          /* the full dialogue */
    S_NOT_TLS,      /* answers the handshake with plaintext */
    S_SILENT,       /* accepts STARTTLS, then never speaks TLS */
};

static int read_line_fd(int fd, char *buf, size_t len)
{
    struct sbuf *b = sbuf_new(64);
    int r = ut_read_until(fd, b, "\n", 5);
    strlcpy(buf, sbuf_str(b), len);
    sbuf_free(b);
    return r;
}

static void tls_server(int fd, int index, void *ctx)
{
    enum mode m = *(enum mode *)ctx;
    char line[256];
    (void)index;
    ut_write_str(fd, "220 ready\n");
    if (read_line_fd(fd, line, sizeof(line)) != 1 || strcmp(line, "STARTTLS\n") != 0)
        return;
    ut_write_str(fd, "220 go ahead\n");
    if (m == S_NOT_TLS) {
        ut_sleep_ms(100);  /* let the ClientHello arrive, then answer nonsense */
        ut_write_str(fd, "500 what?\r\n");
        ut_sleep_ms(300);
        return;
    }
    if (m == S_SILENT) {
        ut_sleep_ms(1300);
        return;
    }
    SSL_CTX *c = SSL_CTX_new(TLS_server_method());
    if (SSL_CTX_use_certificate_chain_file(c, srv_pem) != 1 ||
        SSL_CTX_use_PrivateKey_file(c, srv_key, SSL_FILETYPE_PEM) != 1)
        _exit(4);
    SSL *ssl = SSL_new(c);
    SSL_set_fd(ssl, fd);
    if (SSL_accept(ssl) != 1)
        _exit(5);
    /* One line in, one line out. */
    size_t got = 0;
    while (got < sizeof(line) - 1) {
        int n = SSL_read(ssl, line + got, 1);
        if (n <= 0)
            _exit(6);
        if (line[got++] == '\n')
            break;
    }
    line[got] = 0;
    char out[300];
    snprintf(out, sizeof(out), "echo: %s", line);
    SSL_write(ssl, out, (int)strlen(out));
    /* The client's close_notify ends TLS; from here on plaintext again. */
    char c1;
    int n = SSL_read(ssl, &c1, 1);
    if (n == 0 && SSL_get_error(ssl, n) == SSL_ERROR_ZERO_RETURN)
        ut_write_str(fd, "plain again\n");
    else
        ut_write_str(fd, "no close_notify\n");
    if (read_line_fd(fd, line, sizeof(line)) == 1)
        ut_write_str(fd, strcmp(line, "QUIT\n") == 0 ? "221 bye\n" : "500 garbled\n");
    SSL_free(ssl);
    SSL_CTX_free(c);
}

static int make_certs(void)
{
    char cmd[3000];
    snprintf(cmd, sizeof(cmd),
             "cd %s && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout ca.key -out ca.pem -days 2 -subj '/CN=Postern Test CA' "
             "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=keyCertSign,cRLSign && "
             "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes "
             "-keyout srv.key -out srv.csr -subj '/CN=mail.example.test' && "
             "printf 'subjectAltName=DNS:mail.example.test,DNS:*.wild.example.test\\n' > ext && "
             "openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-out srv.pem -days 2 -extfile ext",
             tmp);
    snprintf(ca_pem, sizeof(ca_pem), "%s/ca.pem", tmp);
    snprintf(ca_key, sizeof(ca_key), "%s/ca.key", tmp);
    snprintf(srv_pem, sizeof(srv_pem), "%s/srv.pem", tmp);
    snprintf(srv_key, sizeof(srv_key), "%s/srv.key", tmp);
    struct sbuf *full = sbuf_new(3100);
    sbuf_printf(full, "( %s ) >/dev/null 2>&1", cmd);
    int r = system(sbuf_str(full));
    sbuf_free(full);
    return r == 0 && access(srv_pem, R_OK) == 0 ? 0 : -1;
}

/* The last "="-separated field of the first output line of a shell
 * command, upper-cased, into out; "" on failure. */
static void cmd_tail(const char *cmd, char *out, size_t size)
{
    char line[400] = "";
    out[0] = 0;
    FILE *f = popen(cmd, "r");
    if (f == NULL)
        return;
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = 0;
    pclose(f);
    char *eq = strrchr(line, '=');
    const char *v = eq ? eq + 1 : "";
    v += strspn(v, " ");
    size_t n = 0;
    for (; v[n] && v[n] != '\n' && n + 1 < size; n++)
        out[n] = (char)toupper((unsigned char)v[n]);
    out[n] = 0;
}

/* Connects to the fake and runs the plaintext part up to "220 go ahead". */
static struct stream *open_plain(int port)
{
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    int fd = sock_inet_connect("127.0.0.1", ps, 2);
    if (fd < 0)
        return NULL;
    struct stream *s = stream_open(fd);
    stream_set_timeout(s, 3);
    struct sbuf *b = sbuf_new(64);
    stream_getline(s, b, 200, NULL);
    EXPECT_EQ_STR(sbuf_str(b), "220 ready");
    stream_puts(s, "STARTTLS\n");
    stream_flush(s);
    stream_getline(s, b, 200, NULL);
    EXPECT_EQ_STR(sbuf_str(b), "220 go ahead");
    sbuf_free(b);
    return s;
}

/* multi: tls_wildcard_matches_multiple_labels = yes. */
static void test_session(int lfd, int port, bool with_ca, bool multi)
{
    enum mode m = S_TLS;
    pid_t pid = ut_serve(lfd, 1, tls_server, &m);
    struct sbuf *why = sbuf_new(64);
    struct tls_client_opts o = { .ca_file = with_ca ? ca_pem : "", .wildcard_multi_label = multi };
    struct tls_client_ctx *ctx = tls_client_ctx_new(&o, why);
    EXPECT_TRUE(ctx != NULL);
    struct stream *s = open_plain(port);
    EXPECT_TRUE(s != NULL);
    if (ctx == NULL || s == NULL) {
        ut_reap(pid, 3);
        return;
    }
    struct tls_client_conn *c = tls_client_start(ctx, s, "mail.example.test", 3, why);
    EXPECT_TRUE(c != NULL);
    if (c == NULL) {
        printf("# why: %s\n", sbuf_str(why));
        stream_close(s);
        tls_client_ctx_free(ctx);
        ut_reap(pid, 3);
        return;
    }
    struct tls_client_info info;
    tls_client_info(c, "mail.example.test", &info);
    EXPECT_TRUE(info.have_cert);
    EXPECT_EQ_STR(info.peer_cn, "mail.example.test");
    /* The fingerprints (default digest sha256) as the openssl command
     * computes them: the certificate, and its DER public key. */
    char cmd[1200], want[300];
    snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -fingerprint -sha256", srv_pem);
    cmd_tail(cmd, want, sizeof(want));
    EXPECT_TRUE(strlen(want) == 95);
    EXPECT_EQ_STR(info.fingerprint, want);
    snprintf(cmd, sizeof(cmd),
             "openssl x509 -in %s -noout -pubkey | openssl pkey -pubin -outform DER "
             "| openssl dgst -sha256 -c",
             srv_pem);
    cmd_tail(cmd, want, sizeof(want));
    EXPECT_TRUE(strlen(want) == 95);
    EXPECT_EQ_STR(info.pkey_fingerprint, want);
    EXPECT_TRUE(strncmp(info.protocol, "TLSv1.", 6) == 0);
    EXPECT_TRUE(info.cipher[0] != 0);
    EXPECT_TRUE(info.bits >= 128 && info.alg_bits >= info.bits);
    if (with_ca) {
        EXPECT_TRUE(info.trusted);
        EXPECT_TRUE(info.name_matched);
        EXPECT_EQ_STR(info.verify_error, "");
        tls_client_info(c, "other.example.test", &info);
        EXPECT_TRUE(info.trusted && !info.name_matched);
        tls_client_info(c, "a.wild.example.test", &info);
        EXPECT_TRUE(info.name_matched);
        /* "*" is one label, or (multi) several; never part of one */
        tls_client_info(c, "a.b.wild.example.test", &info);
        EXPECT_TRUE(info.name_matched == multi);
        EXPECT_TRUE(tls_client_matches(c, "x.y.z.wild.example.test") == multi);
        EXPECT_TRUE(!tls_client_matches(c, "wild.example.test"));
        /* tls_client_matches: exact names, ".domain" = any subdomain
         * (what the secure level's dot-nexthop uses), never the parent */
        EXPECT_TRUE(tls_client_matches(c, "mail.example.test"));
        EXPECT_TRUE(tls_client_matches(c, ".example.test"));
        EXPECT_TRUE(!tls_client_matches(c, "example.test"));
        EXPECT_TRUE(!tls_client_matches(c, ".other.test"));
        EXPECT_TRUE(!tls_client_matches(c, "."));
        EXPECT_TRUE(!tls_client_matches(c, ""));
    } else {
        EXPECT_TRUE(!tls_client_matches(c, "mail.example.test"));   /* chain not trusted */
        EXPECT_TRUE(!info.trusted);
        EXPECT_TRUE(!info.name_matched);
        EXPECT_TRUE(info.verify_error[0] != 0);
    }

    /* Through TLS: the stream API as usual. */
    struct sbuf *b = sbuf_new(64);
    EXPECT_EQ_INT(stream_puts(s, "hello over tls\n"), 0);
    EXPECT_EQ_INT(stream_flush(s), 0);
    EXPECT_TRUE(stream_getline(s, b, 200, NULL) > 0);
    EXPECT_EQ_STR(sbuf_str(b), "echo: hello over tls");
    /* Stop: close_notify goes out, the stream is plaintext again. */
    tls_client_stop(c, s);
    EXPECT_TRUE(stream_getline(s, b, 200, NULL) > 0);
    EXPECT_EQ_STR(sbuf_str(b), "plain again");
    stream_puts(s, "QUIT\n");
    stream_flush(s);
    EXPECT_TRUE(stream_getline(s, b, 200, NULL) > 0);
    EXPECT_EQ_STR(sbuf_str(b), "221 bye");
    stream_close(s);
    EXPECT_TRUE(ut_exited_ok(ut_reap(pid, 3)));
    tls_client_ctx_free(ctx);
    sbuf_free(b);
    sbuf_free(why);
}

static void test_errors(int lfd, int port)
{
    struct sbuf *why = sbuf_new(64);
    char missing[300];
    snprintf(missing, sizeof(missing), "%s/missing.pem", tmp);

    /* Context errors name the file and carry OpenSSL's reason. */
    struct tls_client_opts bad_ca = { .ca_file = missing };
    EXPECT_TRUE(tls_client_ctx_new(&bad_ca, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "cannot load CA file/path") != NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "missing.pem") != NULL);
    EXPECT_TRUE(strchr(sbuf_str(why), ':') != NULL);
    struct tls_client_opts bad_digest = { .fingerprint_digest = "nosuchdigest" };
    EXPECT_TRUE(tls_client_ctx_new(&bad_digest, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "unknown fingerprint digest \"nosuchdigest\"") != NULL);
    struct tls_client_opts bad_cert = { .cert_file = missing };
    EXPECT_TRUE(tls_client_ctx_new(&bad_cert, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "cannot load client certificate") != NULL);
    /* A key that does not belong to the certificate. */
    struct tls_client_opts mismatch = { .cert_file = srv_pem, .key_file = ca_key };
    EXPECT_TRUE(tls_client_ctx_new(&mismatch, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "cannot load client certificate") != NULL);
    /* smtp_tls_chain_files: key and chain in one file; it wins over the
     * cert/key pair, as in Postfix (the bad pair is not even read). */
    char chainf[300];
    snprintf(chainf, sizeof(chainf), "%s/client-chain.pem", tmp);
    struct sbuf *cmd = sbuf_new(256);
    sbuf_printf(cmd, "cat %s %s > %s", srv_key, srv_pem, chainf);
    EXPECT_EQ_INT(system(sbuf_str(cmd)), 0);
    sbuf_free(cmd);
    struct tls_client_opts chain = { .chain_files = chainf, .cert_file = missing };
    struct tls_client_ctx *cctx = tls_client_ctx_new(&chain, why);
    EXPECT_TRUE(cctx != NULL);
    tls_client_ctx_free(cctx);
    struct tls_client_opts badchain = { .chain_files = missing };
    EXPECT_TRUE(tls_client_ctx_new(&badchain, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "cannot load client certificate: cannot load certificate "
                                      "chain from file") != NULL);
    /* A matching certificate and key, and a CA directory. */
    struct tls_client_opts good = { .cert_file = srv_pem, .key_file = srv_key, .ca_path = tmp };
    struct tls_client_ctx *ctx = tls_client_ctx_new(&good, why);
    EXPECT_TRUE(ctx != NULL);
    tls_client_ctx_free(ctx);
    tls_client_ctx_free(NULL);
    tls_client_stop(NULL, NULL);

    struct tls_client_opts none = { 0 };
    ctx = tls_client_ctx_new(&none, why);
    EXPECT_TRUE(ctx != NULL);

    /* Plaintext already buffered before the handshake is refused (it would
     * be taken as if it had been protected). */
    enum mode m = S_TLS;
    pid_t pid = ut_serve(lfd, 1, tls_server, &m);
    char ps[16];
    snprintf(ps, sizeof(ps), "%d", port);
    struct stream *s = stream_open(sock_inet_connect("127.0.0.1", ps, 2));
    stream_set_timeout(s, 3);
    struct sbuf *b = sbuf_new(64);
    stream_puts(s, "STARTTLS\n");
    stream_flush(s);
    ut_sleep_ms(200);       /* "220 ready" and "220 go ahead" both arrive */
    stream_getline(s, b, 200, NULL);
    EXPECT_EQ_STR(sbuf_str(b), "220 ready");
    EXPECT_TRUE(stream_pending(s) > 0);
    EXPECT_TRUE(tls_client_start(ctx, s, "mail.example.test", 2, why) == NULL);
    EXPECT_TRUE(strstr(sbuf_str(why), "unexpected plaintext data before TLS handshake") != NULL);
    stream_close(s);
    ut_reap(pid, 3);

    /* A server that answers the ClientHello with plaintext. */
    m = S_NOT_TLS;
    pid = ut_serve(lfd, 1, tls_server, &m);
    s = open_plain(port);
    EXPECT_TRUE(tls_client_start(ctx, s, "mail.example.test", 2, why) == NULL);
    EXPECT_TRUE(strncmp(sbuf_str(why), "TLS handshake failed", 20) == 0);
    stream_close(s);
    ut_reap(pid, 3);

    /* A server that never answers: the handshake deadline holds. */
    m = S_SILENT;
    pid = ut_serve(lfd, 1, tls_server, &m);
    s = open_plain(port);
    double t0 = ut_now();
    EXPECT_TRUE(tls_client_start(ctx, s, "127.0.0.1", 1, why) == NULL);
    double took = ut_now() - t0;
    EXPECT_EQ_STR(sbuf_str(why), "TLS handshake timed out");
    EXPECT_TRUE(took >= 0.9 && took < 1.8);
    stream_close(s);
    ut_reap(pid, 3);

    tls_client_ctx_free(ctx);
    sbuf_free(b);
    sbuf_free(why);
}

int main(void)
{
    harness_init();
    signal(SIGPIPE, SIG_IGN);
    alarm(60);
    if (system("openssl version >/dev/null 2>&1") != 0) {
        printf("# skip: no openssl command\n");
        return 77;
    }
    tmp = ut_tmpdir();
    if (make_certs() < 0) {
        printf("# could not make test certificates\n");
        EXPECT_TRUE(false);
        ut_rmtree(tmp);
        return harness_done();
    }
    int lfd = sock_inet_listen("127.0.0.1", "0", 8, 0);
    char addr[64];
    int port = 0;
    sock_local_addr(lfd, addr, sizeof(addr), &port);
    EXPECT_TRUE(port > 0);

    test_session(lfd, port, true, false);
    test_session(lfd, port, true, true);
    test_session(lfd, port, false, false);
    test_errors(lfd, port);

    close(lfd);
    ut_rmtree(tmp);
    xfree(tmp);
    return harness_done();
}
