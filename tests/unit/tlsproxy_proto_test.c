/*
 * tlsproxy_proto_test.c - the tlsproxy request and result codec
 *                         (lib/mail/tlsproxy_clnt.c) over a real socket
 *
 * Used by: make unit.
 * Notes: every list goes through attr_write()/attr_read() on a socketpair,
 *        as between smtp and tlsproxy; the event-loop client half
 *        (tlsproxy_clnt_request/_reply, postscreen's) against a real UNIX
 *        listener in a temporary directory; the daemon itself is exercised
 *        by tests/e2e/tls_reuse_test.sh and tests/e2e/postscreen_test.sh.
 */
#include "harness.h"
#include "attr.h"
#include "stream.h"
#include "sock.h"
#include "tlsproxy_clnt.h"
#include <stdlib.h>
#include <sys/socket.h>
#include <sys/stat.h>

static struct stream *wr, *rd;

/* Sends l over the socket pair and reads it back into l. */
static void wire(struct attr_list *l)
{
    EXPECT_EQ_INT(attr_write(wr, l), 0);
    EXPECT_EQ_INT(attr_read(rd, l), 0);
}

static void test_client_request(void)
{
    const unsigned char d1[] = { 0xde, 0xad, 0xbe, 0xef }, d2[32] = { 1, 2, 3 };
    struct tls_client_tlsa tlsa[2] = {
        { .usage = 3, .selector = 1, .mtype = 1, .data = d2, .len = sizeof(d2) },
        { .usage = 2, .selector = 0, .mtype = 0, .data = d1, .len = sizeof(d1) },
    };
    char *match[] = { "mx.example.com", ".example.com" };
    struct tlsproxy_req in = {
        .peer = "mx.example.com[192.0.2.1]:25", .timeout = 300,
        .ca_file = "/etc/ssl/ca.pem", .ca_path = "", .cert_file = "", .key_file = "",
        .fingerprint_digest = "sha256", .dane_digests = "sha512 sha256", .cache_type = "smtp",
        .servername = "mx.example.com", .cache_id = "mx&192.0.2.1&25", .protocols = 0x30,
        .ciphers = "HIGH:!aNULL", .host = "mx.example.com", .match = match, .nmatch = 2,
        .tlsa = tlsa, .ntlsa = 2, .dane_base = "mx.example.com", .dane_name2 = "example.com",
    };
    struct attr_list *l = attr_list_new();
    tlsproxy_req_encode(&in, l);
    wire(l);
    struct tlsproxy_req out;
    struct sbuf *why = sbuf_new(64);
    EXPECT_EQ_INT(tlsproxy_req_decode(l, false, &out, why), 0);
    EXPECT_TRUE(!out.server_role);
    EXPECT_EQ_STR(out.peer, in.peer);
    EXPECT_EQ_INT(out.timeout, 300);
    EXPECT_EQ_STR(out.ca_file, "/etc/ssl/ca.pem");
    EXPECT_EQ_STR(out.ca_path, "");
    EXPECT_EQ_STR(out.fingerprint_digest, "sha256");
    EXPECT_EQ_STR(out.dane_digests, "sha512 sha256");
    EXPECT_EQ_STR(out.cache_type, "smtp");
    EXPECT_EQ_STR(out.servername, "mx.example.com");
    EXPECT_EQ_STR(out.cache_id, "mx&192.0.2.1&25");
    EXPECT_EQ_INT(out.protocols, 0x30);
    EXPECT_EQ_STR(out.ciphers, "HIGH:!aNULL");
    EXPECT_EQ_STR(out.host, "mx.example.com");
    EXPECT_EQ_INT(out.nmatch, 2);
    EXPECT_EQ_STR(out.match[0], "mx.example.com");
    EXPECT_EQ_STR(out.match[1], ".example.com");
    EXPECT_EQ_INT(out.ntlsa, 2);
    EXPECT_TRUE(out.ntlsa == 2 && out.tlsa[0].usage == 3 && out.tlsa[0].selector == 1
                && out.tlsa[0].mtype == 1 && out.tlsa[0].len == sizeof(d2)
                && memcmp(out.tlsa[0].data, d2, sizeof(d2)) == 0);
    EXPECT_TRUE(out.ntlsa == 2 && out.tlsa[1].usage == 2 && out.tlsa[1].len == sizeof(d1)
                && memcmp(out.tlsa[1].data, d1, sizeof(d1)) == 0);
    EXPECT_EQ_STR(out.dane_base, "mx.example.com");
    EXPECT_EQ_STR(out.dane_name2, "example.com");
    tlsproxy_req_free(&out);
    /* A client request is not a server request. */
    sbuf_reset(why);
    EXPECT_EQ_INT(tlsproxy_req_decode(l, true, &out, why), -1);
    EXPECT_TRUE(strstr(sbuf_str(why), "unexpected request") != NULL);
    attr_list_free(l);
    sbuf_free(why);
}

static void test_server_request(void)
{
    struct tlsproxy_req in = { .server_role = true, .peer = "client[198.51.100.7]:4711",
                               .timeout = 60, .ask_ccert = true };
    struct attr_list *l = attr_list_new();
    tlsproxy_req_encode(&in, l);
    wire(l);
    struct tlsproxy_req out;
    struct sbuf *why = sbuf_new(64);
    EXPECT_EQ_INT(tlsproxy_req_decode(l, true, &out, why), 0);
    EXPECT_TRUE(out.server_role && out.ask_ccert);
    EXPECT_EQ_INT(out.timeout, 60);
    EXPECT_EQ_STR(out.peer, "client[198.51.100.7]:4711");
    EXPECT_EQ_INT(out.nmatch, 0);
    EXPECT_EQ_INT(out.ntlsa, 0);
    tlsproxy_req_free(&out);
    attr_list_free(l);
    sbuf_free(why);
}

/* A valid client request with one attribute replaced; decode must fail
 * with a reason naming it. */
static void expect_bad(const char *name, const char *value, const char *in_reason)
{
    struct tlsproxy_req in = { .peer = "p", .host = "h" };
    struct attr_list *l = attr_list_new(), *m = attr_list_new();
    tlsproxy_req_encode(&in, l);
    for (size_t i = 0; i < l->count; i++)
        attr_add(m, l->items[i].name, strcmp(l->items[i].name, name) == 0 ? value
                                                                          : l->items[i].value);
    wire(m);
    struct tlsproxy_req out;
    struct sbuf *why = sbuf_new(64);
    int r = tlsproxy_req_decode(m, false, &out, why);
    EXPECT_EQ_INT(r, -1);
    if (r == 0)
        tlsproxy_req_free(&out);
    char what[256];
    snprintf(what, sizeof(what), "%s: \"%s\" in \"%s\"", name, in_reason, sbuf_str(why));
    harness_report(strstr(sbuf_str(why), in_reason) != NULL, __FILE__, __LINE__, what);
    attr_list_free(l);
    attr_list_free(m);
    sbuf_free(why);
}

static void test_limits(void)
{
    char big[TLSPROXY_STR_MAX + 2];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    expect_bad("ca_file", big, "ca_file");
    expect_bad("host", "bad\nname", "host");
    expect_bad("timeout", "-1", "timeout");
    expect_bad("timeout", "12x", "timeout");
    expect_bad("protocols", "999999", "protocols");
    struct sbuf *many = sbuf_new(256);
    for (int i = 0; i <= TLSPROXY_MATCH_MAX; i++)
        sbuf_catf(many, "n%d.example ", i);
    expect_bad("match", sbuf_str(many), "match");
    expect_bad("tlsa", "4 1 1 abcd", "tlsa");          /* usage 4 */
    expect_bad("tlsa", "3 2 1 abcd", "tlsa");          /* selector 2 */
    expect_bad("tlsa", "3 1 1 abc", "tlsa");           /* odd hex */
    expect_bad("tlsa", "3 1 1 ", "tlsa");              /* no data */
    expect_bad("tlsa", "3 1", "tlsa");
    sbuf_reset(many);
    for (int i = 0; i <= TLSPROXY_TLSA_MAX; i++)
        sbuf_catf(many, "%s3 1 1 00", i ? "," : "");
    expect_bad("tlsa", sbuf_str(many), "tlsa");
    sbuf_reset(many);
    sbuf_cat(many, "3 1 1 ");
    for (int i = 0; i <= TLSPROXY_TLSA_DATA_MAX; i++)
        sbuf_cat(many, "ab");
    expect_bad("tlsa", sbuf_str(many), "tlsa");
    expect_bad("request", "tls_other", "unexpected request");
    sbuf_free(many);
    /* Exactly at the limits is fine. */
    struct tlsproxy_req in = { .peer = "p" };
    char *names[TLSPROXY_MATCH_MAX];
    for (int i = 0; i < TLSPROXY_MATCH_MAX; i++)
        names[i] = "n.example";
    in.match = names;
    in.nmatch = TLSPROXY_MATCH_MAX;
    big[TLSPROXY_STR_MAX] = 0;
    in.cache_id = big;
    struct attr_list *l = attr_list_new();
    tlsproxy_req_encode(&in, l);
    wire(l);
    struct tlsproxy_req out;
    struct sbuf *why = sbuf_new(64);
    EXPECT_EQ_INT(tlsproxy_req_decode(l, false, &out, why), 0);
    EXPECT_EQ_INT(out.nmatch, TLSPROXY_MATCH_MAX);
    EXPECT_EQ_INT((long)strlen(out.cache_id), TLSPROXY_STR_MAX);
    tlsproxy_req_free(&out);
    attr_list_free(l);
    sbuf_free(why);
}

static void test_result(void)
{
    struct tlsproxy_res in = { .status = 0, .matched = 0x5 };
    struct tls_client_info *i = &in.info;
    i->trusted = i->have_cert = i->dane = i->dane_matched = true;
    i->dane_usage = 3;
    strlcpy(i->protocol, "TLSv1.3", sizeof(i->protocol));
    strlcpy(i->cipher, "TLS_AES_256_GCM_SHA384", sizeof(i->cipher));
    i->bits = i->alg_bits = 256;
    strlcpy(i->peer_cn, "mx.example.com", sizeof(i->peer_cn));
    strlcpy(i->fingerprint, "AB:CD", sizeof(i->fingerprint));
    strlcpy(i->pkey_fingerprint, "01:02", sizeof(i->pkey_fingerprint));
    struct attr_list *l = attr_list_new();
    tlsproxy_res_encode(&in, l);
    wire(l);
    struct tlsproxy_res out;
    struct sbuf *why = sbuf_new(64);
    EXPECT_EQ_INT(tlsproxy_res_decode(l, &out, why), 0);
    EXPECT_EQ_INT(out.status, 0);
    EXPECT_EQ_INT(out.matched, 0x5);
    EXPECT_TRUE(out.info.trusted && out.info.have_cert && out.info.dane && out.info.dane_matched);
    EXPECT_TRUE(!out.info.name_matched && !out.info.reused);
    EXPECT_EQ_INT(out.info.dane_usage, 3);
    EXPECT_EQ_STR(out.info.protocol, "TLSv1.3");
    EXPECT_EQ_STR(out.info.cipher, "TLS_AES_256_GCM_SHA384");
    EXPECT_EQ_INT(out.info.bits, 256);
    EXPECT_EQ_INT(out.info.alg_bits, 256);
    EXPECT_EQ_STR(out.info.peer_cn, "mx.example.com");
    EXPECT_EQ_STR(out.info.fingerprint, "AB:CD");
    EXPECT_EQ_STR(out.info.pkey_fingerprint, "01:02");
    /* A failure carries its reason. */
    struct tlsproxy_res fail = { .status = -1 };
    strlcpy(fail.reason, "TLS handshake failed: lost connection", sizeof(fail.reason));
    tlsproxy_res_encode(&fail, l);
    wire(l);
    EXPECT_EQ_INT(tlsproxy_res_decode(l, &out, why), 0);
    EXPECT_EQ_INT(out.status, -1);
    EXPECT_EQ_STR(out.reason, "TLS handshake failed: lost connection");
    /* Malformed answers. */
    attr_list_reset(l);
    attr_add(l, "status", "1");
    EXPECT_EQ_INT(tlsproxy_res_decode(l, &out, why), -1);
    attr_list_reset(l);
    attr_add(l, "reason", "x");
    EXPECT_EQ_INT(tlsproxy_res_decode(l, &out, why), -1);
    attr_list_reset(l);
    attr_add(l, "status", "0");
    attr_add(l, "peer_cn", "evil\r\nname");
    EXPECT_EQ_INT(tlsproxy_res_decode(l, &out, why), -1);
    char longer[sizeof(out.info.protocol) + 8];
    memset(longer, 'x', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = 0;
    attr_list_reset(l);
    attr_add(l, "status", "0");
    attr_add(l, "protocol", longer);
    EXPECT_EQ_INT(tlsproxy_res_decode(l, &out, why), -1);
    attr_list_free(l);
    sbuf_free(why);
}

/* tlsproxy_clnt_request(): connect, byte 'S' with the descriptor, the
 * request; tlsproxy_clnt_reply(): the result read piecemeal, and what
 * follows it left to the caller. */
static void test_event_client(void)
{
    char dir[] = "/tmp/tlsproxy_test.XXXXXX";
    char old[4096];
    EXPECT_TRUE(mkdtemp(dir) != NULL && getcwd(old, sizeof(old)) != NULL);
    EXPECT_TRUE(chdir(dir) == 0 && mkdir("private", 0700) == 0);
    int lsn = sock_unix_listen("private/tpx", 5, 0600);
    EXPECT_TRUE(lsn >= 0);
    int pair[2];
    EXPECT_TRUE(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    struct tlsproxy_req req = { .server_role = true, .peer = "unknown[192.0.2.1]:4711",
                                .timeout = 300 };
    struct sbuf *why = sbuf_new(64);
    int conn = tlsproxy_clnt_request("tpx", pair[0], &req, 1, why);
    EXPECT_TRUE(conn >= 0);
    int srv = accept(lsn, NULL, NULL);
    char byte = 0;
    int got = -1;
    EXPECT_EQ_INT(sock_recv_fd(srv, &byte, &got, 2), 0);
    EXPECT_EQ_INT(byte, TLSPROXY_BYTE_SERVER);
    EXPECT_TRUE(got >= 0);
    struct stream *ss = stream_open(srv);
    stream_set_timeout(ss, 2);
    struct attr_list *l = attr_list_new();
    EXPECT_EQ_INT(attr_read(ss, l), 0);
    struct tlsproxy_req back;
    EXPECT_EQ_INT(tlsproxy_req_decode(l, true, &back, why), 0);
    EXPECT_EQ_STR(back.peer, "unknown[192.0.2.1]:4711");
    EXPECT_EQ_INT(back.timeout, 300);
    tlsproxy_req_free(&back);
    /* The result, then plaintext right behind it. */
    struct tlsproxy_res ok = { .status = 0 };
    strlcpy(ok.info.protocol, "TLSv1.3", sizeof(ok.info.protocol));
    tlsproxy_res_encode(&ok, l);
    EXPECT_EQ_INT(attr_write(ss, l), 0);
    EXPECT_EQ_INT(stream_write(ss, "EHLO x\r\n", 8), 0);
    EXPECT_EQ_INT(stream_flush(ss), 0);
    char buf[1024];
    size_t len = 0;
    while (!(len > 8 && memcmp(buf + len - 8, "EHLO x\r\n", 8) == 0)) {
        ssize_t n = recv(conn, buf + len, sizeof(buf) - len, 0);
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    EXPECT_TRUE(len > 8);
    struct tlsproxy_res res;
    size_t used = 0;
    bool partial_ok = true;
    for (size_t cut = 0; cut < len - 8; cut++)
        if (tlsproxy_clnt_reply(buf, cut, &used, &res, why) != 0)
            partial_ok = false;
    EXPECT_TRUE(partial_ok);
    EXPECT_EQ_INT(tlsproxy_clnt_reply(buf, len, &used, &res, why), 1);
    EXPECT_EQ_INT(used, len - 8);
    EXPECT_EQ_STR(res.info.protocol, "TLSv1.3");
    /* A refusal carries tlsproxy's reason; garbage is refused. */
    struct tlsproxy_res no = { .status = -1 };
    strlcpy(no.reason, "TLS server role is not configured", sizeof(no.reason));
    tlsproxy_res_encode(&no, l);
    struct stream *ms = stream_open(pair[1]);
    EXPECT_EQ_INT(attr_write(ms, l), 0);
    len = (size_t)recv(got, buf, sizeof(buf), 0);
    sbuf_reset(why);
    EXPECT_EQ_INT(tlsproxy_clnt_reply(buf, len, &used, &res, why), -1);
    EXPECT_EQ_STR(sbuf_str(why), "TLS server role is not configured");
    EXPECT_EQ_INT(tlsproxy_clnt_reply("status\n\n", 9, &used, &res, why), -1);
    /* No such service. */
    sbuf_reset(why);
    EXPECT_EQ_INT(tlsproxy_clnt_request("nosuch", pair[0], &req, 1, why), -1);
    EXPECT_TRUE(strncmp(sbuf_str(why), "tlsproxy service unavailable: connect to private/nosuch",
                        55) == 0);
    stream_close(ms);
    stream_close(ss);
    close(conn);
    close(got);
    close(pair[0]);
    close(lsn);
    unlink("private/tpx");
    rmdir("private");
    EXPECT_TRUE(chdir(old) == 0 && rmdir(dir) == 0);
    attr_list_free(l);
    sbuf_free(why);
}

int main(void)
{
    harness_init();
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        return 1;
    wr = stream_open(sv[0]);
    rd = stream_open(sv[1]);
    stream_set_timeout(wr, 10);
    stream_set_timeout(rd, 10);
    test_client_request();
    test_server_request();
    test_limits();
    test_result();
    test_event_client();
    stream_close(wr);
    stream_close(rd);
    return harness_done();
}
