/*
 * Builders of EC keys, certificates, CRLs and CMS signatures for the trust-store and bundle
 * unit tests and the CMS fuzz target, straight from OpenSSL (independent of pcrgate key); and,
 * for the tests that include lib/bundle.h first, the signing callback and the bundle builder
 * they share. Header-only, so that each can use it without another source file in its build
 * rules. Keys made from a seed are the same in every run, so that signatures the unit test
 * writes as fuzz seeds chain to the root the fuzz target builds (FX_ROOT_SEED, FX_ROOT_CN) and
 * cover more than the parser.
 */
#ifndef PCRGATE_TEST_TRUST_FIXTURE_H
#define PCRGATE_TEST_TRUST_FIXTURE_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <openssl/cms.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define FX_ROOT_SEED 1
#define FX_ROOT_CN "pcrgate test root"
#define FX_DATA "pcrgate-manifest 1\nrelease test\n"

/* Certificate profiles. */
enum { FX_ROOT, FX_INTERMEDIATE, FX_SIGNER, FX_SIGNER_NO_EKU, FX_SIGNER_TLS };

/* Removes a test's scratch directory and everything in it; 0 when it is gone. */
static inline int fx_rmtree(const char *dir)
{
	char cmd[4200];

	if (strchr(dir, '\'') != NULL || (size_t)snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir) >= sizeof(cmd))
		return -1;
	return system(cmd) == 0 ? 0 : -1;
}

/* A P-256 key: random for seed 0, else the same in every run. NULL on failure. */
static inline EVP_PKEY *fx_key(unsigned seed)
{
	uint8_t priv[32], pub[65];
	EC_GROUP *g = NULL;
	EC_POINT *pt = NULL;
	BIGNUM *d = NULL;
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *c = NULL;
	EVP_PKEY *pk = NULL;

	if (seed == 0)
		return EVP_EC_gen("P-256");
	memset(priv, 0x5a, sizeof(priv));
	priv[0] = 0x1f;
	priv[31] = (uint8_t)seed;
	if ((g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1)) == NULL || (pt = EC_POINT_new(g)) == NULL ||
	    (d = BN_bin2bn(priv, sizeof(priv), NULL)) == NULL || EC_POINT_mul(g, pt, d, NULL, NULL, NULL) != 1 ||
	    EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED, pub, sizeof(pub), NULL) != sizeof(pub) ||
	    (b = OSSL_PARAM_BLD_new()) == NULL ||
	    !OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, d) ||
	    !OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, pub, sizeof(pub)) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (c = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(c) != 1 || EVP_PKEY_fromdata(c, &pk, EVP_PKEY_KEYPAIR, params) != 1)
		pk = NULL;
	EVP_PKEY_CTX_free(c);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(d);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
	return pk;
}

static inline int fx_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e != NULL && X509_add_ext(x, e, -1) == 1;

	X509_EXTENSION_free(e);
	return ok;
}

/*
 * A certificate for key, named CN=cn, of profile kind, issued by issuer with issuer_key (both
 * NULL: self-signed), valid from now + from_days to now + to_days. NULL on failure.
 */
static inline X509 *fx_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, int kind,
			    long serial, long from_days, long to_days)
{
	X509V3_CTX ctx;
	X509_NAME *name = X509_NAME_new();
	X509 *x = X509_new();
	int ca = kind == FX_ROOT || kind == FX_INTERMEDIATE, ok;

	ok = x != NULL && name != NULL && X509_set_version(x, X509_VERSION_3) == 1 &&
	     ASN1_INTEGER_set(X509_get_serialNumber(x), serial) == 1 &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
	     X509_set_subject_name(x, name) == 1 &&
	     X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1 &&
	     X509_gmtime_adj(X509_getm_notBefore(x), from_days * 86400) != NULL &&
	     X509_gmtime_adj(X509_getm_notAfter(x), to_days * 86400) != NULL && X509_set_pubkey(x, key) == 1;
	if (ok) {
		X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
		ok = fx_ext(x, &ctx, NID_basic_constraints, ca ? "critical,CA:TRUE" : "critical,CA:FALSE") &&
		     fx_ext(x, &ctx, NID_key_usage,
			    ca ? "critical,keyCertSign,cRLSign" : "critical,digitalSignature") &&
		     fx_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		     fx_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
		if (ok && kind == FX_SIGNER)
			ok = fx_ext(x, &ctx, NID_ext_key_usage, "codeSigning");
		if (ok && kind == FX_SIGNER_TLS)
			ok = fx_ext(x, &ctx, NID_ext_key_usage, "serverAuth");
	}
	ok = ok && X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* A CRL of issuer listing the serial numbers of the n certificates revoked. */
static inline X509_CRL *fx_crl(X509 *issuer, EVP_PKEY *key, X509 *const *revoked, size_t n, long number)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	int ok = crl != NULL && now != NULL && num != NULL && X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1 &&
		 X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer)) == 1 &&
		 X509_CRL_set1_lastUpdate(crl, now) == 1 && ASN1_INTEGER_set(num, number) == 1 &&
		 X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1;
	size_t i;

	for (i = 0; ok && i < n; i++) {
		X509_REVOKED *r = X509_REVOKED_new();

		ok = r != NULL && X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked[i])) == 1 &&
		     X509_REVOKED_set_revocationDate(r, now) == 1 && X509_CRL_add0_revoked(crl, r) == 1;
		if (!ok)
			X509_REVOKED_free(r);
	}
	ok = ok && X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, key, EVP_sha256()) > 0;
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(now);
	if (!ok) {
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* PEM of a certificate (or CRL, when crl is not NULL) in a malloc'd buffer. */
static inline uint8_t *fx_pem(X509 *x, X509_CRL *crl, size_t *len)
{
	BIO *b = BIO_new(BIO_s_mem());
	uint8_t *out = NULL;
	char *p = NULL;
	long n;

	if (b != NULL && (crl != NULL ? PEM_write_bio_X509_CRL(b, crl) : PEM_write_bio_X509(b, x)) == 1 &&
	    (n = BIO_get_mem_data(b, &p)) > 0 && (out = malloc((size_t)n)) != NULL) {
		memcpy(out, p, (size_t)n);
		*len = (size_t)n;
	}
	BIO_free(b);
	return out;
}

/*
 * A detached CMS SignedData (DER, malloc'd) over data by n signers (certs[i] with keys[i]),
 * carrying extra[0..nextra) as well; digest md (NULL: SHA-256). NULL on failure.
 */
static inline uint8_t *fx_sign(X509 *const *certs, EVP_PKEY *const *keys, size_t n, X509 *const *extra,
			       size_t nextra, const EVP_MD *md, const void *data, size_t len, size_t *out_len)
{
	const unsigned flags = CMS_BINARY | CMS_DETACHED | CMS_NOSMIMECAP;
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, flags | CMS_PARTIAL);
	BIO *in = BIO_new_mem_buf(data, (int)len);
	uint8_t *der = NULL, *p;
	int ok = cms != NULL && in != NULL, dlen = 0;
	size_t i;

	for (i = 0; ok && i < n; i++)
		ok = CMS_add1_signer(cms, certs[i], keys[i], md != NULL ? md : EVP_sha256(), flags) != NULL;
	for (i = 0; ok && i < nextra; i++)
		ok = CMS_add1_cert(cms, extra[i]) == 1;
	ok = ok && CMS_final(cms, in, NULL, flags) == 1 && (dlen = i2d_CMS_ContentInfo(cms, NULL)) > 0 &&
	     (der = malloc((size_t)dlen)) != NULL;
	if (ok) {
		p = der;
		i2d_CMS_ContentInfo(cms, &p);
		*out_len = (size_t)dlen;
	}
	BIO_free(in);
	CMS_ContentInfo_free(cms);
	return ok ? der : NULL;
}

/* The signers of a bundle: certs[i] with keys[i], i < n. */
struct fx_signers {
	X509 *certs[2];
	EVP_PKEY *keys[2];
	size_t n;
};

#ifdef PCRGATE_BUNDLE_H
/* A pcrgate_bundle_sign_fn: a detached CMS signature by the struct fx_signers at ctx. */
static inline int fx_sign_cb(void *ctx, const uint8_t *data, size_t len, uint8_t **sig, size_t *sig_len,
			     pcrgate_errinfo *ei)
{
	const struct fx_signers *s = ctx;

	*sig = fx_sign(s->certs, s->keys, s->n, NULL, 0, NULL, data, len, sig_len);
	return *sig != NULL ? 0 : pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "fx_sign failed");
}

/*
 * A whole bundle (malloc'd, *out_len bytes) made with pcrgate_bundle_create from p (slot, image,
 * payload and policy; its trust_update and signing members are set here): a trust_update adding
 * root add and removing root remove (either NULL: none), signed by s. NULL on failure, with
 * the reason in ei.
 */
static inline uint8_t *fx_bundle(struct pcrgate_bundle_create_params *p, X509 *add, X509 *remove,
				 struct fx_signers *s, size_t *out_len, pcrgate_errinfo *ei)
{
	uint8_t rm[1][32], *add_der = NULL, *rem_der = NULL, *out = NULL;
	const uint8_t *adds[1];
	size_t add_len = 0;
	unsigned md_len = 0;
	FILE *f = tmpfile();
	int n = 0, ok = f != NULL;
	long pos = 0;

	p->n_add_roots = 0;
	p->n_remove_roots = 0;
	if (ok && add != NULL && (ok = (n = i2d_X509(add, &add_der)) > 0)) {
		add_len = (size_t)n;
		adds[0] = add_der;
		p->add_roots = adds;
		p->add_root_lens = &add_len;
		p->n_add_roots = 1;
	}
	if (ok && remove != NULL && (ok = (n = i2d_X509(remove, &rem_der)) > 0) &&
	    (ok = EVP_Digest(rem_der, (size_t)n, rm[0], &md_len, EVP_sha256(), NULL) == 1)) {
		p->remove_roots = (const uint8_t(*)[32])rm;
		p->n_remove_roots = 1;
	}
	p->sign = fx_sign_cb;
	p->sign_ctx = s;
	if (!ok)
		pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "no temporary file, or a root not encoded");
	if (ok && (ok = pcrgate_bundle_create(p, f, ei) == 0)) {
		ok = (pos = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 && (out = malloc((size_t)pos)) != NULL &&
		     fread(out, 1, (size_t)pos, f) == (size_t)pos;
		if (!ok)
			pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot read the bundle back");
	}
	if (ok)
		*out_len = (size_t)pos;
	/* The pointers into this frame do not outlive it. */
	p->add_roots = NULL, p->add_root_lens = NULL, p->n_add_roots = 0;
	p->remove_roots = NULL, p->n_remove_roots = 0;
	OPENSSL_free(add_der);
	OPENSSL_free(rem_der);
	if (f != NULL)
		fclose(f);
	if (!ok) {
		free(out);
		return NULL;
	}
	return out;
}
#endif

#endif
