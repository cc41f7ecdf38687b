/*
 * pcrgate (library-internal): the signing side of truststore.h. Detached CMS signatures of
 * update metadata with one or more signers whose keys may live in files or behind any OpenSSL
 * provider (TPM, HSM), loaded with the core library's pcrgate_key_load.
 */
#include "config.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "truststore.h"

/* Appends the certificates of a file (PEM, or one DER) to sk (at most PCRGATE_CMS_MAX_CERTS in all). */
static int load_cert_file(const char *path, STACK_OF(X509) *sk, pcrgate_errinfo *ei)
{
	STACK_OF(X509) *got = NULL;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = pcrgate_file_read(path, PCRGATE_TRUST_ROOT_FILE_MAX, &buf, &len, ei)) != PCRGATE_OK)
		return r;
	r = pcrgate_cert_parse(buf, len, PCRGATE_CMS_MAX_CERTS, path, &got, ei);
	free(buf);
	while (r == PCRGATE_OK && sk_X509_num(got) > 0) {
		X509 *x = sk_X509_shift(got);

		if (sk_X509_num(sk) >= PCRGATE_CMS_MAX_CERTS || !sk_X509_push(sk, x)) {
			X509_free(x);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
						"%s: more than %d certificates in all", path, PCRGATE_CMS_MAX_CERTS);
		}
	}
	sk_X509_pop_free(got, X509_free);
	return r;
}

/* A certificate that may sign now: inside its validity period, with the usage devices require. */
static int check_signer(X509 *x, const char *path, pcrgate_errinfo *ei)
{
	const char *why;

	if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "%s is not valid yet", path);
	if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "%s has expired: issue a new signing certificate", path);
	if ((why = pcrgate_truststore_signer_problem(x)) != NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "%s %s", path, why);
	return PCRGATE_OK;
}

/* Adds x to the SignedData's certificates unless an equal one is there already (added: a reference to each). */
static int add_cert(CMS_ContentInfo *cms, STACK_OF(X509) *added, X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(added); i++)
		if (X509_cmp(sk_X509_value(added, i), x) == 0)
			return 1;
	if (CMS_add1_cert(cms, x) != 1 || !X509_up_ref(x))
		return 0;
	if (!sk_X509_push(added, x)) {
		X509_free(x);
		return 0;
	}
	return 1;
}

int pcrgate_cms_sign(const struct pcrgate_cms_signer_spec *signers, size_t n, const uint8_t *data, size_t len,
		     uint8_t **sig, size_t *sig_len, pcrgate_errinfo *ei)
{
	const unsigned flags = CMS_BINARY | CMS_DETACHED | CMS_NOSMIMECAP;
	STACK_OF(X509) *certs = NULL, *added = NULL;
	CMS_ContentInfo *cms = NULL;
	EVP_PKEY *key = NULL;
	BIO *in = NULL;
	uint8_t *der = NULL, *p;
	size_t i;
	int j, dlen, r;

	if (signers == NULL || n == 0 || sig == NULL || sig_len == NULL || (data == NULL && len > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no signer or data");
	if (n > PCRGATE_CMS_MAX_SIGNERS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%zu signers (at most %d)", n,
					   PCRGATE_CMS_MAX_SIGNERS);
	if (len > INT_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the data is too large to sign");
	r = PCRGATE_ERR_NOMEM;
	if ((added = sk_X509_new_null()) == NULL ||
	    (cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL)) == NULL)
		goto fail;
	for (i = 0; i < n; i++) {
		if (signers[i].cert == NULL || signers[i].key == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						"signer %zu: no certificate or key", i + 1);
			goto fail;
		}
		if ((certs = sk_X509_new_null()) == NULL) {
			r = PCRGATE_ERR_NOMEM;
			goto fail;
		}
		if ((r = load_cert_file(signers[i].cert, certs, ei)) != PCRGATE_OK ||
		    (signers[i].chain != NULL && (r = load_cert_file(signers[i].chain, certs, ei)) != PCRGATE_OK) ||
		    (r = pcrgate_key_load(signers[i].key, 1, &key, ei)) != PCRGATE_OK)
			goto fail;
		if (X509_check_private_key(sk_X509_value(certs, 0), key) != 1) {
			char shown[256];

			(void)pcrgate_key_uri_shown(signers[i].key, shown, sizeof(shown));
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						"signer %zu: its key %s is not the key of the certificate %s", i + 1,
						shown, signers[i].cert);
			goto fail;
		}
		/*
		 * Expiry is enforced here, when a key signs, never on devices (docs/updates.md
		 * "Rotation, revocation and expiry"); a certificate devices would refuse fails now.
		 */
		if ((r = check_signer(sk_X509_value(certs, 0), signers[i].cert, ei)) != PCRGATE_OK)
			goto fail;
		/* The signer's certificate is added with the chain below, once however often it signs. */
		if (CMS_add1_signer(cms, sk_X509_value(certs, 0), key, EVP_sha256(), flags | CMS_NOCERTS) == NULL) {
			pcrgate_log_openssl(__func__, "CMS_add1_signer");
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot add signer %s",
						signers[i].cert);
			goto fail;
		}
		for (j = 0; j < sk_X509_num(certs); j++) {
			if (!add_cert(cms, added, sk_X509_value(certs, j))) {
				pcrgate_log_openssl(__func__, "CMS_add1_cert");
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
							"cannot add the certificates of %s", signers[i].cert);
				goto fail;
			}
		}
		EVP_PKEY_free(key);
		key = NULL;
		sk_X509_pop_free(certs, X509_free);
		certs = NULL;
	}
	if ((in = BIO_new_mem_buf(len > 0 ? data : (const void *)"", (int)len)) == NULL)
		goto fail;
	if (CMS_final(cms, in, NULL, flags) != 1) {
		pcrgate_log_openssl(__func__, "CMS_final");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot sign");
		goto fail;
	}
	if ((dlen = i2d_CMS_ContentInfo(cms, NULL)) <= 0 || (der = malloc((size_t)dlen)) == NULL) {
		r = dlen <= 0 ? PCRGATE_ERR_CRYPTO : PCRGATE_ERR_NOMEM;
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot encode the signature");
		goto fail;
	}
	p = der;
	i2d_CMS_ContentInfo(cms, &p);
	if ((size_t)dlen > PCRGATE_CMS_MAX) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"the signature has %d bytes (at most %u)", dlen, PCRGATE_CMS_MAX);
		goto fail;
	}
	*sig = der;
	*sig_len = (size_t)dlen;
	der = NULL;
	r = PCRGATE_OK;
fail:
	if (r == PCRGATE_ERR_NOMEM)
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "out of memory");
	ERR_clear_error();
	free(der);
	BIO_free(in);
	EVP_PKEY_free(key);
	sk_X509_pop_free(certs, X509_free);
	sk_X509_pop_free(added, X509_free);
	CMS_ContentInfo_free(cms);
	return r;
}
