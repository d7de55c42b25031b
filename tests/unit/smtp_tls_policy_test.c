/*
 * smtp_tls_policy_test.c - unit tests for the smtp client's TLS policy
 *                          table: lookup keys, levels and attributes, and
 *                          the DANE decisions that need no DNS,
 *                          fingerprints, the SNI setting and trust
 *                          anchor files (tafile=, *_tls_trust_anchor_file)
 *
 * Used by: make unit (tests/run-all, make check-unit).
 * Interface: main() (tests/harness.h).
 * Notes: smtp_tls_policy.c belongs to the smtp program, not to libpostern,
 *        so it is compiled into this test directly; the table is a real
 *        texthash file in a scratch directory.
 */
#include "../../smtp/smtp_tls_policy.c"
#include "../../smtp/smtp_dane.c"
#include "alloc.h"
#include "harness.h"
#include "tls_common.h"

struct smtp_cfg smtp_cfg;

/* A self-signed EC certificate and its public key (trust anchor files). */
static const char test_ta_cert[] =
    "-----BEGIN CERTIFICATE-----\n"
    "MIIBgzCCASmgAwIBAgIUdspfz8YYkdI8+sb2/jFAB2z8m54wCgYIKoZIzj0EAwIw\n"
    "FjEUMBIGA1UEAwwLdW5pdC1hbmNob3IwIBcNMjYxMjA1MTYyMjUyWhgPMjEyNjEx\n"
    "MTExNjIyNTJaMBYxFDASBgNVBAMMC3VuaXQtYW5jaG9yMFkwEwYHKoZIzj0CAQYI\n"
    "KoZIzj0DAQcDQgAEIZ8FxqJe/U+cC/dGE6O8M8VJSV/mjdayPSYach9DeHHpHzDu\n"
    "dZAnOafgHoaFDdIlpU/sdNT+0ejKPxWICA5NOKNTMFEwHQYDVR0OBBYEFJnsltJf\n"
    "ifaCeCVcgTpqi9qX61qqMB8GA1UdIwQYMBaAFJnsltJfifaCeCVcgTpqi9qX61qq\n"
    "MA8GA1UdEwEB/wQFMAMBAf8wCgYIKoZIzj0EAwIDSAAwRQIgOpyNBY0G+soH//aD\n"
    "0Yy5pec/rgI6eEzHP8iqMFzR8O4CIQCZmiCozGSUk2r2MTLhEzAFtcW/yamCC+SQ\n"
    "J41IOpWRRQ==\n"
    "-----END CERTIFICATE-----\n";
static const char test_ta_pkey[] =
    "-----BEGIN PUBLIC KEY-----\n"
    "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEIZ8FxqJe/U+cC/dGE6O8M8VJSV/m\n"
    "jdayPSYach9DeHHpHzDudZAnOafgHoaFDdIlpU/sdNT+0ejKPxWICA5NOA==\n"
    "-----END PUBLIC KEY-----\n";

/* Writes text to DIR/name; path gets the file's name. */
static void write_file(const char *dir, const char *name, const char *text, char *path,
                       size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) {
        fputs(text, f);
        fclose(f);
    }
}

/* Looks up the next hop host (bracketed when no_mx) with port; returns
 * the lookup result and fills *p. */
static int lookup(const char *host, const char *port, bool no_mx, struct smtp_tls_policy *p)
{
    struct smtp_dest d = { .kind = SMTP_DEST_INET, .host = (char *)host, .port = (char *)port,
                           .no_mx = no_mx };
    struct sbuf *why = sbuf_new(64);
    int rc = smtp_tls_policy_lookup(&d, "smtp", p, why);
    sbuf_free(why);
    return rc;
}

int main(void)
{
    harness_init();
    char dir[] = "/tmp/smtp_tls_policy_test.XXXXXX";
    if (mkdtemp(dir) == NULL)
        return 1;
    char path[256], value[600], ta_cert[256], ta_pkey[256], ta_both[256], ta_none[256],
        ta_bad[256], ta_gone[256];
    write_file(dir, "cert.pem", test_ta_cert, ta_cert, sizeof(ta_cert));
    write_file(dir, "pkey.pem", test_ta_pkey, ta_pkey, sizeof(ta_pkey));
    {
        char both[2048];
        snprintf(both, sizeof(both), "comment\n%s\n%s", test_ta_cert, test_ta_pkey);
        write_file(dir, "both.pem", both, ta_both, sizeof(ta_both));
    }
    write_file(dir, "none.pem", "no PEM objects here\n", ta_none, sizeof(ta_none));
    write_file(dir, "bad.pem", "-----BEGIN CERTIFICATE-----\nMIIBgzCCASmgAwIBAgIU\n"
               "-----END CERTIFICATE-----\n", ta_bad, sizeof(ta_bad));
    write_file(dir, "gone.pem", test_ta_pkey, ta_gone, sizeof(ta_gone));
    snprintf(path, sizeof(path), "%s/policy", dir);
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return 1;
    fprintf(f, "ta.example            verify tafile=%s tafile=%s match=nexthop\n"
            "ta-secure.example     secure tafile=%s\n"
            "ta-missing.example    verify tafile=%s/missing.pem\n"
            "ta-none.example       secure tafile=%s\n"
            "ta-bad.example        verify tafile=%s\n"
            "ta-empty.example      verify tafile=\n"
            "ta-off.example        none tafile=/x\n"
            "ta-dane.example       dane tafile=/x\n"
            "ta-main.example       verify\n"
            "ta-main-enc.example   encrypt\n",
            ta_cert, ta_pkey, ta_both, dir, ta_none, ta_bad);
    fputs("example.com           verify match=mx.example.com:.example.net protocols=>=TLSv1.2\n"
          ".example.com          encrypt ciphers=high exclude=aNULL:RC4\n"
          "[relay.example.org]   secure\n"
          "[relay.example.org]:587 none\n"
          "example.org:2525      may servername=hostname\n"
          "bad.example           verify match=hostname foo=bar\n"
          "grade.example         encrypt ciphers=bogus\n"
          "tafile.example        encrypt tafile=/x\n"
          "tafile-may.example    may tafile=/x\n"
          "proto.example         encrypt protocols=TLSv9\n"
          "dane.example          dane\n"
          "daneonly.example      dane-only\n"
          "fp.example            fingerprint match=ab:cd:EF:01|0123456789abcdef match=AA:BB\n"
          "fpbad.example         fingerprint match=zz:11|ab:c\n"
          "fpdflt.example        fingerprint\n"
          "reuse.example         encrypt connection_reuse=yes\n"
          "noreuse.example       verify connection_reuse=no\n"
          "reusebad.example      encrypt connection_reuse=maybe\n",
          f);
    fclose(f);
    snprintf(value, sizeof(value), "texthash:%s", path);
    config_set(P_SMTP_TLS_POLICY_MAPS, value);
    config_set(P_SMTP_TLS_SECURITY_LEVEL, "may");
    config_set(P_SMTP_TLS_FINGERPRINT_CERT_MATCH, "11:22:33, 4455\n  bad:x");
    config_set(P_SMTP_TLS_SERVERNAME, "nexthop");
    smtp_tls_policy_default(&smtp_cfg);
    EXPECT_EQ_INT(smtp_cfg.tls_default.level, SMTP_TLS_MAY);
    EXPECT_EQ_STR(smtp_cfg.tls_default.servername, "nexthop");
    EXPECT_TRUE(smtp_tls_policy_active());

    struct smtp_tls_policy p;
    /* The domain itself, with attributes. */
    EXPECT_EQ_INT(lookup("example.com", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_VERIFY);
    EXPECT_TRUE(p.match && p.match[0] && strcmp(p.match[0], "mx.example.com") == 0 && p.match[1]
                && strcmp(p.match[1], ".example.net") == 0 && p.match[2] == NULL);
    EXPECT_EQ_INT(p.protocols, TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3);
    smtp_tls_policy_free(&p);
    /* A subdomain: the ".parent" entry; ciphers from the grade and exclusions. */
    EXPECT_EQ_INT(lookup("a.b.example.com", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_ENCRYPT);
    EXPECT_TRUE(p.ciphers && strstr(p.ciphers, "HIGH") && strstr(p.ciphers, ":!aNULL:!RC4"));
    smtp_tls_policy_free(&p);
    /* No entry: the default applies. */
    EXPECT_EQ_INT(lookup("example.net", "smtp", false, &p), 1);
    /* [host] keys never walk parents; :port only when not the default. */
    EXPECT_EQ_INT(lookup("relay.example.org", "smtp", true, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_SECURE);
    EXPECT_TRUE(p.match != NULL);   /* smtp_tls_secure_cert_match */
    EXPECT_EQ_STR(p.match[0], "nexthop");
    smtp_tls_policy_free(&p);
    /* Worked out once and kept: each lookup gets its own copy, which the
     * caller frees without touching the kept list. */
    EXPECT_TRUE(smtp_tls_class_match[1].done);
    EXPECT_EQ_INT(lookup("relay.example.org", "smtp", true, &p), 0);
    EXPECT_TRUE(p.match != NULL && p.match != smtp_tls_class_match[1].match);
    EXPECT_EQ_STR(p.match[0], "nexthop");
    EXPECT_EQ_STR(p.match[1], "dot-nexthop");
    EXPECT_TRUE(p.match[2] == NULL);
    smtp_tls_policy_free(&p);
    EXPECT_EQ_STR(smtp_tls_class_match[1].match[0], "nexthop");
    EXPECT_EQ_INT(lookup("relay.example.org", "587", true, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_NONE);
    smtp_tls_policy_free(&p);
    EXPECT_EQ_INT(lookup("x.relay.example.org", "smtp", true, &p), 1);
    EXPECT_EQ_INT(lookup("example.org", "2525", false, &p), 0);
    EXPECT_EQ_STR(p.servername, "hostname");
    smtp_tls_policy_free(&p);
    /* No servername= in the entry: smtp_tls_servername. */
    EXPECT_EQ_INT(lookup("relay.example.org", "587", true, &p), 0);
    EXPECT_EQ_STR(p.servername, "nexthop");
    smtp_tls_policy_free(&p);

    /* fingerprint: "|"-separated, several match= add up, kept upper-case
     * without colons. */
    EXPECT_EQ_INT(lookup("fp.example", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_FINGERPRINT);
    EXPECT_TRUE(p.match && p.match[0] && p.match[1] && p.match[2] && p.match[3] == NULL);
    EXPECT_EQ_STR(p.match[0], "ABCDEF01");
    EXPECT_EQ_STR(p.match[1], "0123456789ABCDEF");
    EXPECT_EQ_STR(p.match[2], "AABB");
    smtp_tls_policy_free(&p);
    /* Only malformed fingerprints: a configuration problem. */
    EXPECT_EQ_INT(lookup("fpbad.example", "smtp", false, &p), -1);
    /* No match=: smtp_tls_fingerprint_cert_match (blank or comma
     * separated; the malformed one is left out). */
    EXPECT_EQ_INT(lookup("fpdflt.example", "smtp", false, &p), 0);
    EXPECT_TRUE(p.match && p.match[0] && p.match[1] && p.match[2] == NULL);
    EXPECT_EQ_STR(p.match[0], "112233");
    EXPECT_EQ_STR(p.match[1], "4455");
    smtp_tls_policy_free(&p);
    {
        const char *warn;
        EXPECT_EQ_INT(smtp_tls_level_parse("Fingerprint", &warn), SMTP_TLS_FINGERPRINT);
        EXPECT_TRUE(warn == NULL);
        EXPECT_EQ_INT(smtp_tls_level_parse("bogus", &warn), SMTP_TLS_UNAVAILABLE);
        EXPECT_TRUE(warn != NULL);
        struct sbuf *n = sbuf_new(16);
        EXPECT_EQ_INT(smtp_tls_fprint_norm("ab:Cd:0f", n), 0);
        EXPECT_EQ_STR(sbuf_str(n), "ABCD0F");
        EXPECT_EQ_INT(smtp_tls_fprint_norm("abcd0F", n), 0);
        EXPECT_EQ_STR(sbuf_str(n), "ABCD0F");
        EXPECT_EQ_INT(smtp_tls_fprint_norm("abc", n), -1);
        EXPECT_EQ_INT(smtp_tls_fprint_norm("a:bc", n), -1);
        EXPECT_EQ_INT(smtp_tls_fprint_norm(":ab", n), -1);
        EXPECT_EQ_INT(smtp_tls_fprint_norm("ab:", n), -1);
        EXPECT_EQ_INT(smtp_tls_fprint_norm("ab::cd", n), -1);
        EXPECT_EQ_INT(smtp_tls_fprint_norm("ag", n), -1);
        EXPECT_EQ_INT(smtp_tls_fprint_norm("", n), -1);
        sbuf_free(n);
    }
    EXPECT_EQ_INT(lookup("example.org", "smtp", false, &p), 1);
    /* Bad entries and attributes we cannot honour above "may": defer. */
    EXPECT_EQ_INT(lookup("bad.example", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("grade.example", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("tafile.example", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("proto.example", "smtp", false, &p), -1);
    /* tafile= is for verify and secure: refused at may (as Postfix does),
     * ignored with TLS off and at the dane levels (TLSA records rule). */
    EXPECT_EQ_INT(lookup("tafile-may.example", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("ta-off.example", "smtp", false, &p), 0);
    EXPECT_TRUE(p.tafiles == NULL);
    smtp_tls_policy_free(&p);
    smtp_cfg.dnssec = true;
    EXPECT_EQ_INT(lookup("ta-dane.example", "smtp", false, &p), 0);
    EXPECT_TRUE(p.tafiles == NULL);
    smtp_tls_policy_free(&p);
    smtp_cfg.dnssec = false;
    /* Several tafile= add up; each file's anchors are read once. */
    EXPECT_EQ_INT(lookup("ta.example", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_VERIFY);
    EXPECT_TRUE(p.tafiles && p.tafiles[0] && strcmp(p.tafiles[0], ta_cert) == 0 && p.tafiles[1]
                && strcmp(p.tafiles[1], ta_pkey) == 0 && p.tafiles[2] == NULL);
    EXPECT_TRUE(p.match && p.match[0] && strcmp(p.match[0], "nexthop") == 0);
    {
        const struct tls_client_anchors *ta[SMTP_TA_FILES_MAX];
        struct sbuf *why = sbuf_new(64);
        EXPECT_EQ_INT(smtp_tls_anchors(&p, ta, why), 2);
        EXPECT_TRUE(ta[0] && ta[1] && ta[0] != ta[1]);
        /* The same file again: the same anchors, not a second read. */
        EXPECT_TRUE(tls_client_anchors_load(ta_cert, why) == ta[0]);
        /* A file once read stays loaded after it is removed. */
        const struct tls_client_anchors *g = tls_client_anchors_load(ta_gone, why);
        EXPECT_TRUE(g != NULL);
        unlink(ta_gone);
        EXPECT_TRUE(tls_client_anchors_load(ta_gone, why) == g);
        /* Failures name the file and are not remembered. */
        sbuf_set(why, "");
        EXPECT_TRUE(tls_client_anchors_load(ta_none, why) == NULL);
        EXPECT_TRUE(strstr(sbuf_str(why), "no certificate or public key") != NULL);
        sbuf_set(why, "");
        EXPECT_TRUE(tls_client_anchors_load(ta_bad, why) == NULL);
        EXPECT_TRUE(strstr(sbuf_str(why), ta_bad) != NULL);
        sbuf_free(why);
    }
    smtp_tls_policy_free(&p);
    /* A certificate and a key in one file, at secure. */
    EXPECT_EQ_INT(lookup("ta-secure.example", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_SECURE);
    EXPECT_TRUE(p.tafiles && p.tafiles[0] && p.tafiles[1] == NULL);
    smtp_tls_policy_free(&p);
    /* Unreadable, empty of anchors, malformed, empty attribute: defer
     * (client TLS configuration problem), never the CAs instead. */
    {
        struct smtp_dest d = { .kind = SMTP_DEST_INET, .host = "ta-missing.example" };
        struct sbuf *why = sbuf_new(64);
        EXPECT_EQ_INT(smtp_tls_policy_lookup(&d, "smtp", &p, why), -1);
        EXPECT_TRUE(strncmp(sbuf_str(why), "client TLS configuration problem: cannot open "
                            "trust anchor file", 58) == 0);
        sbuf_free(why);
    }
    EXPECT_EQ_INT(lookup("ta-none.example", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("ta-bad.example", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("ta-empty.example", "smtp", false, &p), -1);
    /* *_tls_trust_anchor_file: for verify and secure entries without a
     * tafile= of their own; not at other levels. */
    snprintf(value, sizeof(value), "%s, %s", ta_pkey, ta_cert);
    config_set(P_SMTP_TLS_TRUST_ANCHOR_FILE, value);
    EXPECT_EQ_INT(lookup("ta-main.example", "smtp", false, &p), 0);
    EXPECT_TRUE(p.tafiles && p.tafiles[0] && strcmp(p.tafiles[0], ta_pkey) == 0 && p.tafiles[1]
                && strcmp(p.tafiles[1], ta_cert) == 0 && p.tafiles[2] == NULL);
    smtp_tls_policy_free(&p);
    EXPECT_EQ_INT(lookup("ta-secure.example", "smtp", false, &p), 0);
    EXPECT_TRUE(p.tafiles && strcmp(p.tafiles[0], ta_both) == 0 && p.tafiles[1] == NULL);
    smtp_tls_policy_free(&p);
    EXPECT_EQ_INT(lookup("ta-main-enc.example", "smtp", false, &p), 0);
    EXPECT_TRUE(p.tafiles == NULL);
    smtp_tls_policy_free(&p);
    /* ... and for the main.cf level; a bad file there defers too. */
    snprintf(value, sizeof(value), "%s/missing.pem", dir);
    config_set(P_SMTP_TLS_TRUST_ANCHOR_FILE, value);
    EXPECT_EQ_INT(lookup("ta-main.example", "smtp", false, &p), -1);
    config_set(P_SMTP_TLS_TRUST_ANCHOR_FILE, "");
    /* dane and dane-only are levels of their own (smtp_dane.c decides
     * per server); dane-only without dnssec fails before any connection. */
    EXPECT_EQ_INT(lookup("daneonly.example", "smtp", false, &p), -1);
    smtp_cfg.dnssec = true;
    EXPECT_EQ_INT(lookup("dane.example", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_DANE);
    /* smtp_tls_protocols not set: TLS 1.2 and 1.3 only, as for smtpd. */
    EXPECT_EQ_INT(p.protocols, TLS_PROTO_TLSV1_2 | TLS_PROTO_TLSV1_3);
    smtp_tls_policy_free(&p);
    EXPECT_EQ_INT(lookup("daneonly.example", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.level, SMTP_TLS_DANE_ONLY);
    smtp_tls_policy_free(&p);

    /* DANE decisions made before any DNS lookup. */
    {
        struct smtp_tls_policy dane = { .level = SMTP_TLS_DANE, .level_name = (char *)"dane" };
        struct smtp_tls_policy only = { .level = SMTP_TLS_DANE_ONLY,
                                        .level_name = (char *)"dane-only" };
        struct smtp_addr a = { .host = (char *)"mx.example", .addr = (char *)"192.0.2.1",
                               .port = (char *)"25", .family = AF_INET };
        struct smtp_dane d;
        struct sbuf *why = sbuf_new(64);
        /* No dnssec support level: dane is may, dane-only fails. */
        smtp_cfg.dnssec = false;
        EXPECT_EQ_INT(smtp_dane_resolve(&dane, &a, &d, why), 0);
        EXPECT_EQ_INT(d.level, SMTP_TLS_MAY);
        smtp_dane_free(&d);
        EXPECT_EQ_INT(smtp_dane_resolve(&only, &a, &d, why), -1);
        EXPECT_TRUE(strstr(sbuf_str(why), "dnssec lookups disabled") != NULL);
        /* An insecure MX: dane-only fails, dane with the "may" policy is may. */
        smtp_cfg.dnssec = true;
        smtp_cfg.dane_insecure_mx = SMTP_TLS_MAY;
        a.via_mx = true;
        a.mx_secure = false;
        sbuf_reset(why);
        EXPECT_EQ_INT(smtp_dane_resolve(&only, &a, &d, why), -1);
        EXPECT_EQ_STR(sbuf_str(why), "non DNSSEC destination");
        EXPECT_EQ_INT(smtp_dane_resolve(&dane, &a, &d, why), 0);
        EXPECT_EQ_INT(d.level, SMTP_TLS_MAY);
        smtp_dane_free(&d);
        /* UNIX-domain sockets: never. */
        a.family = AF_UNIX;
        EXPECT_EQ_INT(smtp_dane_resolve(&dane, &a, &d, why), -1);
        sbuf_free(why);
        /* Usable records: DANE-TA/EE, selectors 0/1, digest lengths. */
        unsigned char h32[32] = { 1 }, h64[64] = { 2 };
        struct dns_rr r = { .usage = 3, .selector = 1, .mtype = 1, .bin = h32, .binlen = 32 };
        EXPECT_TRUE(smtp_dane_usable(&r));
        r.usage = 1;
        EXPECT_TRUE(!smtp_dane_usable(&r));     /* PKIX-EE: not for SMTP */
        r.usage = 2;
        r.selector = 2;
        EXPECT_TRUE(!smtp_dane_usable(&r));
        r.selector = 0;
        r.binlen = 31;
        EXPECT_TRUE(!smtp_dane_usable(&r));     /* truncated sha256 */
        r.mtype = 2;
        r.bin = h64;
        r.binlen = 64;
        EXPECT_TRUE(smtp_dane_usable(&r));
        r.mtype = 7;
        EXPECT_TRUE(!smtp_dane_usable(&r));     /* unknown digest */
    }

    /* connection_reuse= (TLS through tlsproxy) overrides
     * smtp_tls_connection_reuse; anything but yes/no defers. */
    EXPECT_EQ_INT(lookup("reuse.example", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.connection_reuse, 1);
    smtp_tls_policy_free(&p);
    EXPECT_EQ_INT(lookup("noreuse.example", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.connection_reuse, -1);
    smtp_tls_policy_free(&p);
    EXPECT_EQ_INT(lookup("reusebad.example", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("example.com", "smtp", false, &p), 0);
    EXPECT_EQ_INT(p.connection_reuse, 0);
    smtp_tls_policy_free(&p);

    /* A table that cannot answer: defer, never the default. */
    maps_free(smtp_tls_policy_table);
    smtp_tls_policy_table = maps_create(P_SMTP_TLS_POLICY_MAPS, "fail:policy", DICT_F_FOLD);
    EXPECT_EQ_INT(lookup("example.net", "smtp", false, &p), -1);
    EXPECT_EQ_INT(lookup("relay.example.org", "smtp", true, &p), -1);

    unlink(path);
    unlink(ta_cert);
    unlink(ta_pkey);
    unlink(ta_both);
    unlink(ta_none);
    unlink(ta_bad);
    rmdir(dir);
    return harness_done();
}
