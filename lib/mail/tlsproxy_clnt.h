/*
 * tlsproxy_clnt.h - the tlsproxy request protocol: codec and client
 *
 * Used by: smtp and lmtp (TLS connection reuse), postscreen (STARTTLS in
 *          the dummy engine), tlsproxy (the server side of the codec),
 *          tests/unit/tlsproxy_proto_test.c.
 * Interface: tlsproxy_req_encode(), tlsproxy_req_decode(), tlsproxy_req_free(),
 *            tlsproxy_res_encode(), tlsproxy_res_decode(),
 *            tlsproxy_clnt_start(); for an event loop tlsproxy_clnt_request()
 *            and tlsproxy_clnt_reply().
 * Errors: decoders return -1 with a reason (a malformed or oversized
 *         field); tlsproxy_clnt_start() returns -1 with a reason
 *         ("tlsproxy service unavailable: ...", or the handshake failure
 *         tlsproxy reported); nothing is logged here.
 * Notes: the exchange is in docs/tlsproxy.md. The client connects to
 *        private/$tlsproxy_service_name, sends one raw byte with the
 *        remote connection attached (SCM_RIGHTS): 'C' (tlsproxy is the TLS
 *        client: smtp/lmtp) or 'S' (tlsproxy is the TLS server: postscreen),
 *        then one attribute list (the request). tlsproxy answers with one
 *        attribute list (the result: status, reason, the TLS properties);
 *        after a status=0 answer the same socket carries the plaintext of
 *        the TLS session both ways until either side closes.
 */
#ifndef POSTERN_TLSPROXY_CLNT_H
#define POSTERN_TLSPROXY_CLNT_H
#include "sys_compat.h"
#include "attr.h"
#include "sbuf.h"
#include "tls_client.h"

#define TLSPROXY_BYTE_CLIENT 'C'
#define TLSPROXY_BYTE_SERVER 'S'

/* Limits of one request (a request over them is refused whole). */
#define TLSPROXY_STR_MAX 1024       /* any one text field */
#define TLSPROXY_MATCH_MAX 16       /* names to check the certificate against */
#define TLSPROXY_TLSA_MAX 32        /* DANE TLSA records */
#define TLSPROXY_TLSA_DATA_MAX 512  /* bytes of one record's data */

/* One request. Text fields are never NULL after decoding ("" = unset). */
struct tlsproxy_req {
    bool server_role;           /* 'S': TLS server (the fields below marked
                                 * [client] are then empty) */
    char *peer;                 /* "host[addr]:port", for tlsproxy's logs */
    long timeout;               /* handshake time limit, seconds */
    /* [client] The context: tlsproxy keeps one per distinct set. */
    char *ca_file, *ca_path, *cert_file, *key_file;
    char *eccert_file, *eckey_file, *dcert_file, *dkey_file, *chain_files;
    char *fingerprint_digest, *dane_digests;
    char *cache_type;           /* tlsmgr session cache: "smtp", "lmtp", "" none */
    long verify_depth;          /* *_tls_scert_verifydepth (0: OpenSSL's) */
    /* [client] The session. */
    char *servername;           /* SNI */
    char *cache_id;             /* session cache key, "" = none */
    unsigned protocols;         /* TLS_PROTO_* mask */
    char *ciphers;
    char *host;                 /* the server's name (the "Verified" check) */
    char **match;               /* names the certificate may carry */
    size_t nmatch;
    struct tls_client_tlsa *tlsa;   /* data owned by the request */
    size_t ntlsa;
    char *dane_base, *dane_name2;
    /* [server] */
    bool ask_ccert;             /* request a client certificate */
};

/* The answer. */
struct tlsproxy_res {
    int status;                 /* 0 TLS is on; -1 failed */
    char reason[512];           /* why it failed */
    struct tls_client_info info;
    unsigned matched;           /* bit i: the certificate names req.match[i] */
};

/* Request to attributes (l is reset first). */
void tlsproxy_req_encode(const struct tlsproxy_req *r, struct attr_list *l);
/* Attributes to a request (zeroed first; free with tlsproxy_req_free).
 * 0, or -1 with why filled (r is then freed already). */
int tlsproxy_req_decode(const struct attr_list *l, bool server_role, struct tlsproxy_req *r,
                        struct sbuf *why);
void tlsproxy_req_free(struct tlsproxy_req *r);
void tlsproxy_res_encode(const struct tlsproxy_res *r, struct attr_list *l);
/* 0, or -1 with why filled (a malformed answer). */
int tlsproxy_res_decode(const struct attr_list *l, struct tlsproxy_res *r, struct sbuf *why);

/* Hands the connected socket fd (its read buffer empty: nothing after the
 * "220" to STARTTLS, or nothing at all in wrapper mode) to
 * private/<service> for the TLS handshake of req (a client request).
 * Returns a stream on the plaintext socket (it may already hold what the
 * server sent right after the handshake; the caller closes fd either
 * way), with *res filled, or NULL with why filled: tlsproxy unreachable or
 * gone, or the handshake failed (res->status -1). */
struct stream *tlsproxy_clnt_start(const char *service, int fd, const struct tlsproxy_req *req,
                                   int timeout, struct tlsproxy_res *res, struct sbuf *why);

/* The first half of tlsproxy_clnt_start() for an event loop: connects,
 * sends fd with the role byte of req (TLSPROXY_BYTE_SERVER when
 * req->server_role) and the request, each step within timeout seconds
 * (a local socket: no wait in practice). Returns the connection (blocking,
 * close-on-exec) on which the result will come, or -1 with why filled
 * ("tlsproxy service unavailable: ..."). */
int tlsproxy_clnt_request(const char *service, int fd, const struct tlsproxy_req *req,
                          int timeout, struct sbuf *why);
/* Checks the len bytes read so far from that connection: 1 TLS is on (res
 * filled, *used = the bytes of the result; what follows is plaintext from
 * the peer), 0 incomplete, -1 handshake failed or malformed (why filled). */
int tlsproxy_clnt_reply(const char *buf, size_t len, size_t *used, struct tlsproxy_res *res,
                        struct sbuf *why);

#endif
