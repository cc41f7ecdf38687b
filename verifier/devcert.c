/*
 * pcrgate-verifierd: the device CA (devcert.h): loading it, issuing device TLS client
 * certificates, and checking the chains devices present.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "attest/tpmobj.h"
#include "lib/x509util.h"
#include "pcrgate/alg.h"
#include "verifier/devcert.h"

#define CA_FILE_MAX (64 * 1024)
#define BACKDATE_SECONDS 300 /* clocks of devices and verifier differ a little */

struct devcert_ca {
	X509 *cert;
	EVP_PKEY *key;
	X509_STORE *store;
	char *pem;
};

void devcert_ca_free(devcert_ca **ca)
{
	if (ca == NULL || *ca == NULL)
		return;
	X509_free((*ca)->cert);
	EVP_PKEY_free((*ca)->key);
	X509_STORE_free((*ca)->store);
	free((*ca)->pem);
	free(*ca);
	*ca = NULL;
}

const char *devcert_ca_pem(const devcert_ca *ca)
{
	return ca != NULL ? ca->pem : NULL;
}

int devcert_ca_load(const char *cert_path, const char *key_uri, devcert_ca **out, pcrgate_errinfo *ei)
{
	devcert_ca *ca = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *bio = NULL;
	int r;

	if ((r = pcrgate_file_read(cert_path, CA_FILE_MAX, &buf, &len, ei)) != PCRGATE_OK)
		return r;
	r = PCRGATE_ERR_NOMEM;
	if ((ca = calloc(1, sizeof(*ca))) == NULL || (ca->pem = malloc(len + 1)) == NULL)
		goto nomem;
	memcpy(ca->pem, buf, len);
	ca->pem[len] = '\0';
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
		goto nomem;
	if ((ca->cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: not a PEM certificate", cert_path);
		goto fail;
	}
	if (X509_check_ca(ca->cert) == 0 || !(X509_get_key_usage(ca->cert) & KU_KEY_CERT_SIGN)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					"%s: not a CA certificate allowed to sign certificates", cert_path);
		goto fail;
	}
	if ((r = pcrgate_key_load(key_uri, 1, &ca->key, ei)) != PCRGATE_OK)
		goto fail;
	if (X509_check_private_key(ca->cert, ca->key) != 1) {
		ERR_clear_error();
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "device_ca_key is not the key of %s",
					cert_path);
		goto fail;
	}
	if ((ca->store = X509_STORE_new()) == NULL || X509_STORE_add_cert(ca->store, ca->cert) != 1)
		goto nomem;
	BIO_free(bio);
	free(buf);
	*out = ca;
	return PCRGATE_OK;
nomem:
	r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
fail:
	BIO_free(bio);
	free(buf);
	devcert_ca_free(&ca);
	return r;
}

/* The hex SHA-256 of key's DER SubjectPublicKeyInfo. */
static int devcert_spki_hex(EVP_PKEY *key, char spki[DEVCERT_SPKI_HEX])
{
	uint8_t *der = NULL, digest[32];
	int n = i2d_PUBKEY(key, &der);

	if (n <= 0)
		return PCRGATE_ERR_CRYPTO;
	n = pcrgate_digest(PCRGATE_ALG_SHA256, der, (size_t)n, digest);
	OPENSSL_free(der);
	if (n != 0)
		return PCRGATE_ERR_CRYPTO;
	pcrgate_hex_encode(digest, sizeof(digest), spki);
	return PCRGATE_OK;
}

int devcert_issue(const devcert_ca *ca, EVP_PKEY *key, const char *device_id, unsigned days, char **pem,
		  char spki[DEVCERT_SPKI_HEX], pcrgate_errinfo *ei)
{
	X509 *cert = NULL;
	X509_NAME *name = NULL;
	BIO *bio = NULL;
	X509V3_CTX v3;
	char *text, *copy = NULL;
	long n;
	int r = PCRGATE_ERR_CRYPTO;

	if (days == 0 || days > DEVCERT_MAX_DAYS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "a device certificate lasts 1 to %d days", DEVCERT_MAX_DAYS);
	if ((cert = X509_new()) == NULL || (name = X509_NAME_new()) == NULL || !pcrgate_x509_random_serial(cert) ||
	    X509_set_version(cert, X509_VERSION_3) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "O", MBSTRING_ASC, (const unsigned char *)"pcrgate device", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, (const unsigned char *)device_id, -1, -1, 0) != 1 ||
	    X509_set_subject_name(cert, name) != 1 || X509_set_issuer_name(cert, X509_get_subject_name(ca->cert)) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(cert), -BACKDATE_SECONDS) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)days, 0, NULL) == NULL || X509_set_pubkey(cert, key) != 1)
		goto fail;
	X509V3_set_ctx(&v3, ca->cert, cert, NULL, NULL, 0);
	if (!pcrgate_x509_add_ext(cert, &v3, NID_basic_constraints, "critical,CA:FALSE") ||
	    !pcrgate_x509_add_ext(cert, &v3, NID_key_usage, "critical,digitalSignature") ||
	    !pcrgate_x509_add_ext(cert, &v3, NID_ext_key_usage, "clientAuth") ||
	    !pcrgate_x509_add_ext(cert, &v3, NID_subject_key_identifier, "hash") ||
	    !pcrgate_x509_add_ext(cert, &v3, NID_authority_key_identifier, "keyid:always"))
		goto fail;
	if (X509_sign(cert, ca->key, EVP_sha256()) <= 0 || devcert_spki_hex(key, spki) != PCRGATE_OK)
		goto fail;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(bio, cert) != 1 ||
	    (n = BIO_get_mem_data(bio, &text)) <= 0 || (copy = malloc((size_t)n + 1)) == NULL)
		goto fail;
	memcpy(copy, text, (size_t)n);
	copy[n] = '\0';
	*pem = copy;
	r = PCRGATE_OK;
fail:
	if (r != PCRGATE_OK) {
		pcrgate_log_openssl(__func__, device_id);
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot issue the device certificate");
	}
	BIO_free(bio);
	X509_NAME_free(name);
	X509_free(cert);
	return r;
}

int devcert_verify(const devcert_ca *ca, const uint8_t *const *certs, const size_t *lens, size_t n, char *cn,
		   size_t cap, char spki[DEVCERT_SPKI_HEX], pcrgate_errinfo *ei)
{
	STACK_OF(X509) *chain = NULL;
	X509_STORE_CTX *ctx = NULL;
	X509 *leaf = NULL, *c;
	const unsigned char *p;
	size_t i;
	int r = PCRGATE_ERR_NOMEM, len;

	if (n == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "no client certificate");
	if ((chain = sk_X509_new_null()) == NULL || (ctx = X509_STORE_CTX_new()) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		p = certs[i];
		if (lens[i] > (size_t)INT32_MAX || (c = d2i_X509(NULL, &p, (long)lens[i])) == NULL ||
		    p != certs[i] + lens[i]) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						"client certificate %zu is not one DER certificate", i);
			goto fail;
		}
		if (i == 0)
			leaf = c;
		else if (sk_X509_push(chain, c) <= 0) {
			X509_free(c);
			goto fail;
		}
	}
	if (X509_STORE_CTX_init(ctx, ca->store, leaf, chain) != 1 ||
	    X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SSL_CLIENT) != 1)
		goto fail;
	if (X509_verify_cert(ctx) != 1) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"the client certificate is not a device certificate of this verifier: %s",
					X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto fail;
	}
	len = X509_NAME_get_text_by_NID(X509_get_subject_name(leaf), NID_commonName, cn, (int)cap);
	if (len <= 0 || (size_t)len >= cap || strlen(cn) != (size_t)len) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"the client certificate names no device (subject CN)");
		goto fail;
	}
	if (devcert_spki_hex(X509_get0_pubkey(leaf), spki) != PCRGATE_OK) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot hash the certificate's key");
		goto fail;
	}
	r = PCRGATE_OK;
fail:
	if (r == PCRGATE_ERR_NOMEM)
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "out of memory");
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	X509_free(leaf);
	sk_X509_pop_free(chain, X509_free);
	return r;
}
