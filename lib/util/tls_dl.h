/*
 * tls_dl.h - the OpenSSL functions the TLS wrapper calls, resolved when the
 *            first TLS context is created
 *
 * Used by: lib/util/tls_common.c, tls_server.c, tls_client.c (include it
 *          after the OpenSSL headers).
 * Interface: tls_dl_load(); every OpenSSL function named in TLS_DL_API
 *            becomes a call through a pointer.
 * Errors: tls_dl_load() returns -1 with the reason in why.
 * Notes: smtpd and smtp used to map libssl and libcrypto at exec time even
 *        with TLS off; their relocated data was about half of each
 *        process's memory (dynlib.h). A new OpenSSL call in a tls_*.c file
 *        belongs in TLS_DL_API with a #define below; without them the call
 *        still works but links libssl into the program again (ldd shows it).
 */
#ifndef POSTERN_TLS_DL_H
#define POSTERN_TLS_DL_H
#include "sbuf.h"
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#define TLS_DL_API(X) \
    X(CRYPTO_free) X(ERR_clear_error) X(ERR_error_string_n) \
    X(ERR_get_error) X(ERR_peek_error) X(EVP_Digest) \
    X(EVP_PKEY_free) X(EVP_PKEY_get0_type_name) X(EVP_PKEY_get_bits) \
    X(EVP_PKEY_get_utf8_string_param) X(EVP_PKEY_is_a) X(EVP_get_digestbyname) \
    X(EVP_sha256) X(OBJ_nid2sn) X(SSL_CIPHER_get_bits) \
    X(SSL_CIPHER_get_name) X(SSL_CTX_check_private_key) X(SSL_CTX_ctrl) \
    X(SSL_CTX_free) X(SSL_CTX_load_verify_locations) X(SSL_CTX_new) \
    X(SSL_CTX_set_cipher_list) X(SSL_CTX_set_client_CA_list) X(SSL_CTX_set_num_tickets) \
    X(SSL_CTX_set_options) X(SSL_CTX_set_session_id_context) X(SSL_CTX_set_timeout) \
    X(SSL_CTX_set_verify) X(SSL_CTX_set_verify_depth) X(SSL_CTX_use_PrivateKey_file) \
    X(SSL_CTX_use_certificate_chain_file) X(SSL_accept) X(SSL_connect) \
    X(SSL_ctrl) X(SSL_free) X(SSL_get1_peer_certificate) \
    X(SSL_get_current_cipher) X(SSL_get_error) X(SSL_get_privatekey) \
    X(SSL_get_verify_result) X(SSL_get_version) X(SSL_load_client_CA_file) \
    X(SSL_new) X(SSL_pending) X(SSL_read) X(SSL_session_reused) \
    X(SSL_set_cipher_list) X(SSL_set_fd) X(SSL_set_options) \
    X(SSL_shutdown) X(SSL_version) X(SSL_write) \
    X(TLS_client_method) X(TLS_server_method) X(X509_NAME_get_text_by_NID) \
    X(X509_check_host) X(X509_digest) X(X509_free) \
    X(X509_get0_pubkey) X(X509_get_issuer_name) X(X509_get_subject_name) \
    X(X509_verify_cert_error_string) X(i2d_PUBKEY) \
    X(OPENSSL_cleanse) X(RAND_add) X(RAND_bytes) X(SSL_CTX_dane_enable) X(SSL_CTX_dane_mtype_set) \
    X(SSL_CTX_get_ex_data) X(SSL_CTX_sess_set_new_cb) X(SSL_CTX_sess_set_get_cb) \
    X(SSL_CTX_sess_set_remove_cb) X(SSL_CTX_set_ex_data) X(SSL_CTX_set_tlsext_ticket_key_evp_cb) \
    X(SSL_SESSION_free) X(SSL_SESSION_get_id) X(SSL_SESSION_is_resumable) X(SSL_add1_host) \
    X(SSL_dane_enable) X(SSL_dane_set_flags) X(SSL_dane_tlsa_add) X(SSL_get0_dane) \
    X(SSL_get0_dane_tlsa) X(SSL_get_SSL_CTX) X(SSL_get_ex_data) X(SSL_set_ex_data) \
    X(SSL_set_session) X(d2i_SSL_SESSION) X(i2d_SSL_SESSION) X(EVP_CIPHER_get_iv_length) \
    X(EVP_CIPHER_get_key_length) X(EVP_DecryptInit_ex) X(EVP_EncryptInit_ex) X(EVP_MAC_CTX_set_params) \
    X(EVP_get_cipherbyname) X(OSSL_PARAM_construct_end) X(OSSL_PARAM_construct_octet_string) \
    X(OSSL_PARAM_construct_utf8_string) X(BIO_free) X(BIO_new_file) X(ERR_peek_last_error) \
    X(PEM_read_bio) X(SSL_get0_dane_authority) X(d2i_PUBKEY) X(d2i_X509) \
    X(PEM_read_bio_Parameters) X(SSL_CTX_set0_tmp_dh_pkey) X(BIO_new_mem_buf) \
    X(d2i_AutoPrivateKey) X(SSL_CTX_callback_ctrl) X(SSL_certs_clear) X(SSL_get_servername) \
    X(SSL_use_PrivateKey) X(SSL_use_certificate) X(SSL_CTX_set_default_verify_paths) \
    X(X509_STORE_CTX_get_error_depth) X(X509_STORE_CTX_set_error) X(X509_STORE_CTX_get_ex_data) \
    X(SSL_get_ex_data_X509_STORE_CTX_idx) X(SSL_get_verify_depth)
#define TLS_DL_TYPE(f) typedef __typeof__(f) f##_dlfn;
#define TLS_DL_INDEX(f) f##_dli,
TLS_DL_API(TLS_DL_TYPE)
enum { TLS_DL_API(TLS_DL_INDEX) TLS_DL_COUNT };
extern void *tls_dl_ptrs[TLS_DL_COUNT];

/* Loads libssl and libcrypto once and resolves TLS_DL_API; 0, or -1 with
 * why set. */
int tls_dl_load(struct sbuf *why);

#define TLS_DL_FN(f) ((f##_dlfn *)tls_dl_ptrs[f##_dli])
#define CRYPTO_free TLS_DL_FN(CRYPTO_free)
#define ERR_clear_error TLS_DL_FN(ERR_clear_error)
#define ERR_error_string_n TLS_DL_FN(ERR_error_string_n)
#define ERR_get_error TLS_DL_FN(ERR_get_error)
#define ERR_peek_error TLS_DL_FN(ERR_peek_error)
#define EVP_Digest TLS_DL_FN(EVP_Digest)
#define EVP_PKEY_free TLS_DL_FN(EVP_PKEY_free)
#define EVP_PKEY_get0_type_name TLS_DL_FN(EVP_PKEY_get0_type_name)
#define EVP_PKEY_get_bits TLS_DL_FN(EVP_PKEY_get_bits)
#define EVP_PKEY_get_utf8_string_param TLS_DL_FN(EVP_PKEY_get_utf8_string_param)
#define EVP_PKEY_is_a TLS_DL_FN(EVP_PKEY_is_a)
#define EVP_get_digestbyname TLS_DL_FN(EVP_get_digestbyname)
#define EVP_sha256 TLS_DL_FN(EVP_sha256)
#define OBJ_nid2sn TLS_DL_FN(OBJ_nid2sn)
#define SSL_CIPHER_get_bits TLS_DL_FN(SSL_CIPHER_get_bits)
#define SSL_CIPHER_get_name TLS_DL_FN(SSL_CIPHER_get_name)
#define SSL_CTX_check_private_key TLS_DL_FN(SSL_CTX_check_private_key)
#define SSL_CTX_ctrl TLS_DL_FN(SSL_CTX_ctrl)
#define SSL_CTX_free TLS_DL_FN(SSL_CTX_free)
#define SSL_CTX_load_verify_locations TLS_DL_FN(SSL_CTX_load_verify_locations)
#define SSL_CTX_new TLS_DL_FN(SSL_CTX_new)
#define SSL_CTX_set_cipher_list TLS_DL_FN(SSL_CTX_set_cipher_list)
#define SSL_CTX_set_client_CA_list TLS_DL_FN(SSL_CTX_set_client_CA_list)
#define SSL_CTX_set_num_tickets TLS_DL_FN(SSL_CTX_set_num_tickets)
#define SSL_CTX_set_options TLS_DL_FN(SSL_CTX_set_options)
#define SSL_CTX_set_session_id_context TLS_DL_FN(SSL_CTX_set_session_id_context)
#define SSL_CTX_set_timeout TLS_DL_FN(SSL_CTX_set_timeout)
#define SSL_CTX_set_verify TLS_DL_FN(SSL_CTX_set_verify)
#define SSL_CTX_set_verify_depth TLS_DL_FN(SSL_CTX_set_verify_depth)
#define SSL_CTX_use_PrivateKey_file TLS_DL_FN(SSL_CTX_use_PrivateKey_file)
#define SSL_CTX_use_certificate_chain_file TLS_DL_FN(SSL_CTX_use_certificate_chain_file)
#define SSL_accept TLS_DL_FN(SSL_accept)
#define SSL_connect TLS_DL_FN(SSL_connect)
#define SSL_ctrl TLS_DL_FN(SSL_ctrl)
#define SSL_free TLS_DL_FN(SSL_free)
#define SSL_get1_peer_certificate TLS_DL_FN(SSL_get1_peer_certificate)
#define SSL_get_current_cipher TLS_DL_FN(SSL_get_current_cipher)
#define SSL_get_error TLS_DL_FN(SSL_get_error)
#define SSL_pending TLS_DL_FN(SSL_pending)
#define SSL_get_privatekey TLS_DL_FN(SSL_get_privatekey)
#define SSL_get_verify_result TLS_DL_FN(SSL_get_verify_result)
#define SSL_get_version TLS_DL_FN(SSL_get_version)
#define SSL_load_client_CA_file TLS_DL_FN(SSL_load_client_CA_file)
#define SSL_new TLS_DL_FN(SSL_new)
#define SSL_read TLS_DL_FN(SSL_read)
#define SSL_session_reused TLS_DL_FN(SSL_session_reused)
#define SSL_set_cipher_list TLS_DL_FN(SSL_set_cipher_list)
#define SSL_set_fd TLS_DL_FN(SSL_set_fd)
#define SSL_set_options TLS_DL_FN(SSL_set_options)
#define SSL_shutdown TLS_DL_FN(SSL_shutdown)
#define SSL_version TLS_DL_FN(SSL_version)
#define SSL_write TLS_DL_FN(SSL_write)
#define TLS_client_method TLS_DL_FN(TLS_client_method)
#define TLS_server_method TLS_DL_FN(TLS_server_method)
#define X509_NAME_get_text_by_NID TLS_DL_FN(X509_NAME_get_text_by_NID)
#define X509_check_host TLS_DL_FN(X509_check_host)
#define X509_digest TLS_DL_FN(X509_digest)
#define X509_free TLS_DL_FN(X509_free)
#define X509_get0_pubkey TLS_DL_FN(X509_get0_pubkey)
#define X509_get_issuer_name TLS_DL_FN(X509_get_issuer_name)
#define X509_get_subject_name TLS_DL_FN(X509_get_subject_name)
#define X509_verify_cert_error_string TLS_DL_FN(X509_verify_cert_error_string)
#define i2d_PUBKEY TLS_DL_FN(i2d_PUBKEY)
#define OPENSSL_cleanse TLS_DL_FN(OPENSSL_cleanse)
#define RAND_add TLS_DL_FN(RAND_add)
#define RAND_bytes TLS_DL_FN(RAND_bytes)
#define SSL_CTX_dane_enable TLS_DL_FN(SSL_CTX_dane_enable)
#define SSL_CTX_dane_mtype_set TLS_DL_FN(SSL_CTX_dane_mtype_set)
#define SSL_CTX_get_ex_data TLS_DL_FN(SSL_CTX_get_ex_data)
#define SSL_CTX_sess_set_new_cb TLS_DL_FN(SSL_CTX_sess_set_new_cb)
#define SSL_CTX_sess_set_get_cb TLS_DL_FN(SSL_CTX_sess_set_get_cb)
#define SSL_CTX_sess_set_remove_cb TLS_DL_FN(SSL_CTX_sess_set_remove_cb)
#define SSL_CTX_set_ex_data TLS_DL_FN(SSL_CTX_set_ex_data)
#define SSL_CTX_set_tlsext_ticket_key_evp_cb TLS_DL_FN(SSL_CTX_set_tlsext_ticket_key_evp_cb)
#define SSL_SESSION_free TLS_DL_FN(SSL_SESSION_free)
#define SSL_SESSION_get_id TLS_DL_FN(SSL_SESSION_get_id)
#define SSL_SESSION_is_resumable TLS_DL_FN(SSL_SESSION_is_resumable)
#define SSL_add1_host TLS_DL_FN(SSL_add1_host)
#define SSL_dane_enable TLS_DL_FN(SSL_dane_enable)
#define SSL_dane_set_flags TLS_DL_FN(SSL_dane_set_flags)
#define SSL_dane_tlsa_add TLS_DL_FN(SSL_dane_tlsa_add)
#define SSL_get0_dane TLS_DL_FN(SSL_get0_dane)
#define SSL_get0_dane_tlsa TLS_DL_FN(SSL_get0_dane_tlsa)
#define SSL_get_SSL_CTX TLS_DL_FN(SSL_get_SSL_CTX)
#define SSL_get_ex_data TLS_DL_FN(SSL_get_ex_data)
#define X509_STORE_CTX_get_error_depth TLS_DL_FN(X509_STORE_CTX_get_error_depth)
#define X509_STORE_CTX_set_error TLS_DL_FN(X509_STORE_CTX_set_error)
#define X509_STORE_CTX_get_ex_data TLS_DL_FN(X509_STORE_CTX_get_ex_data)
#define SSL_get_ex_data_X509_STORE_CTX_idx TLS_DL_FN(SSL_get_ex_data_X509_STORE_CTX_idx)
#define SSL_get_verify_depth TLS_DL_FN(SSL_get_verify_depth)
#define SSL_set_ex_data TLS_DL_FN(SSL_set_ex_data)
#define SSL_set_session TLS_DL_FN(SSL_set_session)
#define d2i_SSL_SESSION TLS_DL_FN(d2i_SSL_SESSION)
#define i2d_SSL_SESSION TLS_DL_FN(i2d_SSL_SESSION)
#define EVP_CIPHER_get_iv_length TLS_DL_FN(EVP_CIPHER_get_iv_length)
#define EVP_CIPHER_get_key_length TLS_DL_FN(EVP_CIPHER_get_key_length)
#define EVP_DecryptInit_ex TLS_DL_FN(EVP_DecryptInit_ex)
#define EVP_EncryptInit_ex TLS_DL_FN(EVP_EncryptInit_ex)
#define EVP_MAC_CTX_set_params TLS_DL_FN(EVP_MAC_CTX_set_params)
#define EVP_get_cipherbyname TLS_DL_FN(EVP_get_cipherbyname)
#define OSSL_PARAM_construct_end TLS_DL_FN(OSSL_PARAM_construct_end)
#define OSSL_PARAM_construct_octet_string TLS_DL_FN(OSSL_PARAM_construct_octet_string)
#define OSSL_PARAM_construct_utf8_string TLS_DL_FN(OSSL_PARAM_construct_utf8_string)
#define BIO_free TLS_DL_FN(BIO_free)
#define BIO_new_file TLS_DL_FN(BIO_new_file)
#define ERR_peek_last_error TLS_DL_FN(ERR_peek_last_error)
#define PEM_read_bio TLS_DL_FN(PEM_read_bio)
#define BIO_new_mem_buf TLS_DL_FN(BIO_new_mem_buf)
#define d2i_AutoPrivateKey TLS_DL_FN(d2i_AutoPrivateKey)
#define SSL_CTX_callback_ctrl TLS_DL_FN(SSL_CTX_callback_ctrl)
#define SSL_certs_clear TLS_DL_FN(SSL_certs_clear)
#define SSL_get_servername TLS_DL_FN(SSL_get_servername)
#define SSL_use_PrivateKey TLS_DL_FN(SSL_use_PrivateKey)
#define SSL_use_certificate TLS_DL_FN(SSL_use_certificate)
#define SSL_CTX_set_default_verify_paths TLS_DL_FN(SSL_CTX_set_default_verify_paths)
#define SSL_get0_dane_authority TLS_DL_FN(SSL_get0_dane_authority)
#define d2i_PUBKEY TLS_DL_FN(d2i_PUBKEY)
#define d2i_X509 TLS_DL_FN(d2i_X509)
#define PEM_read_bio_Parameters TLS_DL_FN(PEM_read_bio_Parameters)
#define SSL_CTX_set0_tmp_dh_pkey TLS_DL_FN(SSL_CTX_set0_tmp_dh_pkey)

#endif
