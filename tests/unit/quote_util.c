/* Test helpers for quote verification: see quote_util.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/common.h"
#include "pcrgate/quote.h"
#include "quote_util.h"

static int rsa_pub(struct qt_key *k, unsigned bits)
{
	BIGNUM *n = NULL;
	int r = -1;

	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
	    BN_bn2binpad(n, k->pub.unique.rsa.buffer, (int)(bits / 8)) != (int)(bits / 8))
		goto fail;
	k->pub.type = TPM2_ALG_RSA;
	k->pub.parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	k->pub.parameters.rsaDetail.scheme.scheme = k->scheme;
	k->pub.parameters.rsaDetail.scheme.details.anySig.hashAlg = k->hash;
	k->pub.parameters.rsaDetail.keyBits = (uint16_t)bits;
	k->pub.parameters.rsaDetail.exponent = 0;
	k->pub.unique.rsa.size = (uint16_t)(bits / 8);
	r = 0;
fail:
	BN_free(n);
	return r;
}

static int ecc_pub(struct qt_key *k, unsigned bits)
{
	BIGNUM *x = NULL, *y = NULL;
	int n = (int)(bits + 7) / 8, r = -1;

	if (EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &x) != 1 ||
	    EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &y) != 1 ||
	    BN_bn2binpad(x, k->pub.unique.ecc.x.buffer, n) != n ||
	    BN_bn2binpad(y, k->pub.unique.ecc.y.buffer, n) != n)
		goto fail;
	k->pub.type = TPM2_ALG_ECC;
	k->pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
	k->pub.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	k->pub.parameters.eccDetail.scheme.details.anySig.hashAlg = k->hash;
	k->pub.parameters.eccDetail.curveID = bits == 384 ? TPM2_ECC_NIST_P384 : TPM2_ECC_NIST_P256;
	k->pub.parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	k->pub.unique.ecc.x.size = (uint16_t)n;
	k->pub.unique.ecc.y.size = (uint16_t)n;
	r = 0;
fail:
	BN_free(x);
	BN_free(y);
	return r;
}

int qt_key_new(struct qt_key *k, uint16_t scheme, uint16_t hash, unsigned bits)
{
	memset(k, 0, sizeof(*k));
	k->scheme = scheme;
	k->hash = hash;
	/* An AK as tpm2_createak makes one: restricted, sign-only, fixed to its TPM. */
	k->pub.nameAlg = TPM2_ALG_SHA256;
	k->pub.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
				  TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
				  TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	if (scheme == TPM2_ALG_ECDSA) {
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", bits == 384 ? "P-384" : "P-256");
		if (k->pkey == NULL || ecc_pub(k, bits) != 0)
			goto fail;
	} else {
		k->pkey = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
		if (k->pkey == NULL || rsa_pub(k, bits) != 0)
			goto fail;
	}
	return 0;
fail:
	qt_key_free(k);
	return -1;
}

void qt_key_free(struct qt_key *k)
{
	EVP_PKEY_free(k->pkey);
	k->pkey = NULL;
}

int qt_key_export(const struct qt_key *k, int format, uint8_t *buf, size_t cap, size_t *len)
{
	unsigned char *p = buf;
	TPM2B_PUBLIC p2b;
	size_t off = 0;
	BIO *bio;
	char *mem;
	long n;
	int dn;

	switch (format) {
	case PCRGATE_AKPUB_PEM:
		if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, k->pkey) != 1) {
			BIO_free(bio);
			return -1;
		}
		n = BIO_get_mem_data(bio, &mem);
		if (n <= 0 || (size_t)n > cap) {
			BIO_free(bio);
			return -1;
		}
		memcpy(buf, mem, (size_t)n);
		*len = (size_t)n;
		BIO_free(bio);
		return 0;
	case PCRGATE_AKPUB_DER:
		if ((dn = i2d_PUBKEY(k->pkey, NULL)) <= 0 || (size_t)dn > cap ||
		    i2d_PUBKEY(k->pkey, &p) != dn)
			return -1;
		*len = (size_t)dn;
		return 0;
	case PCRGATE_AKPUB_TPM2B_PUBLIC:
		memset(&p2b, 0, sizeof(p2b));
		p2b.publicArea = k->pub;
		if (Tss2_MU_TPM2B_PUBLIC_Marshal(&p2b, buf, cap, &off) != TSS2_RC_SUCCESS)
			return -1;
		*len = off;
		return 0;
	case PCRGATE_AKPUB_TPMT_PUBLIC:
		if (Tss2_MU_TPMT_PUBLIC_Marshal(&k->pub, buf, cap, &off) != TSS2_RC_SUCCESS)
			return -1;
		*len = off;
		return 0;
	default:
		return -1;
	}
}

void qt_attest_init(TPMS_ATTEST *a, const uint8_t *qsigner, size_t qlen, const uint8_t *nonce, size_t nlen)
{
	memset(a, 0, sizeof(*a));
	a->magic = TPM2_GENERATED_VALUE;
	a->type = TPM2_ST_ATTEST_QUOTE;
	a->qualifiedSigner.size = (uint16_t)qlen;
	memcpy(a->qualifiedSigner.name, qsigner, qlen);
	a->extraData.size = (uint16_t)nlen;
	if (nlen > 0)
		memcpy(a->extraData.buffer, nonce, nlen);
	a->clockInfo.clock = 1000;
	a->clockInfo.resetCount = 2;
	a->clockInfo.restartCount = 1;
	a->clockInfo.safe = TPM2_YES;
	a->firmwareVersion = 0x2019102300163636ull;
}

int qt_attest_select(TPMS_ATTEST *a, const pcrgate_pcrs *pcrs, const uint16_t *algs, size_t nalgs,
		     uint16_t hash)
{
	uint8_t buf[PCRGATE_MAX_BANKS * PCRGATE_MAX_PCRS * PCRGATE_MAX_DIGEST];
	TPML_PCR_SELECTION *sel = &a->attested.quote.pcrSelect;
	size_t i, used = 0, vlen;
	unsigned k;

	memset(sel, 0, sizeof(*sel));
	for (i = 0; i < nalgs; i++) {
		uint32_t mask = pcrgate_pcrs_mask(pcrs, algs[i]);
		TPMS_PCR_SELECTION *s = &sel->pcrSelections[sel->count++];
		s->hash = algs[i];
		s->sizeofSelect = 3;
		for (k = 0; k < PCRGATE_MAX_PCRS; k++) {
			const uint8_t *v;
			if (!(mask & (1u << k)))
				continue;
			if (k >= 24)
				s->sizeofSelect = 4;
			s->pcrSelect[k / 8] |= (uint8_t)(1u << (k % 8));
			v = pcrgate_pcrs_get(pcrs, algs[i], k, &vlen);
			memcpy(buf + used, v, vlen);
			used += vlen;
		}
	}
	a->attested.quote.pcrDigest.size = (uint16_t)pcrgate_alg_digest_size(hash);
	return pcrgate_digest(hash, buf, used, a->attested.quote.pcrDigest.buffer);
}

int qt_attest_marshal(const TPMS_ATTEST *a, uint8_t *buf, size_t cap, size_t *len)
{
	size_t off = 0;

	if (Tss2_MU_TPMS_ATTEST_Marshal(a, buf, cap, &off) != TSS2_RC_SUCCESS)
		return -1;
	*len = off;
	return 0;
}

int qt_sign(const struct qt_key *k, uint16_t sig_scheme, uint16_t sig_hash, const uint8_t *msg, size_t len,
	    uint8_t *sig, size_t cap, size_t *siglen)
{
	uint8_t dgst[PCRGATE_MAX_DIGEST], raw[1024];
	size_t rawlen = sizeof(raw), off = 0, n;
	const unsigned char *p = raw;
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	TPMT_SIGNATURE ts;
	EVP_MD *md = NULL;
	int r = -1;

	sig_scheme = sig_scheme ? sig_scheme : k->scheme;
	sig_hash = sig_hash ? sig_hash : k->hash;
	if (pcrgate_digest(sig_hash, msg, len, dgst) != 0 ||
	    (md = EVP_MD_fetch(NULL, pcrgate_alg_openssl_name(sig_hash), NULL)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k->pkey, NULL)) == NULL || EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		goto fail;
	if (sig_scheme == TPM2_ALG_RSASSA && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	if (sig_scheme == TPM2_ALG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_DIGEST) != 1))
		goto fail;
	if (EVP_PKEY_sign(ctx, raw, &rawlen, dgst, pcrgate_alg_digest_size(sig_hash)) != 1)
		goto fail;
	memset(&ts, 0, sizeof(ts));
	ts.sigAlg = sig_scheme;
	if (sig_scheme == TPM2_ALG_ECDSA) {
		const BIGNUM *br, *bs;
		n = (size_t)(EVP_PKEY_get_bits(k->pkey) + 7) / 8;
		if ((es = d2i_ECDSA_SIG(NULL, &p, (long)rawlen)) == NULL)
			goto fail;
		ECDSA_SIG_get0(es, &br, &bs);
		ts.signature.ecdsa.hash = sig_hash;
		ts.signature.ecdsa.signatureR.size = (uint16_t)n;
		ts.signature.ecdsa.signatureS.size = (uint16_t)n;
		if (BN_bn2binpad(br, ts.signature.ecdsa.signatureR.buffer, (int)n) != (int)n ||
		    BN_bn2binpad(bs, ts.signature.ecdsa.signatureS.buffer, (int)n) != (int)n)
			goto fail;
	} else {
		ts.signature.rsassa.hash = sig_hash;
		ts.signature.rsassa.sig.size = (uint16_t)rawlen;
		memcpy(ts.signature.rsassa.sig.buffer, raw, rawlen);
	}
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(&ts, sig, cap, &off) != TSS2_RC_SUCCESS)
		goto fail;
	*siglen = off;
	r = 0;
fail:
	ECDSA_SIG_free(es);
	EVP_PKEY_CTX_free(ctx);
	EVP_MD_free(md);
	return r;
}

void qt_pcr_value(uint16_t alg, unsigned index, uint8_t *out)
{
	size_t i, n = pcrgate_alg_digest_size(alg);

	for (i = 0; i < n; i++)
		out[i] = (uint8_t)(alg * 7 + index * 13 + i);
}

static int testdata_absent;

int qt_testdata_read(const char *file, size_t max, uint8_t **buf, size_t *len)
{
	const char *dir = getenv("PCRGATE_TESTDATA");
	char path[4096];
	int n;

	if (dir == NULL || dir[0] == '\0') {
		testdata_absent = 1;
		return 1;
	}
	n = snprintf(path, sizeof(path), "%s/%s", dir, file);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	return pcrgate_file_read(path, max, buf, len, NULL) == 0 ? 0 : -1;
}

int qt_exit_status(int failed)
{
	return failed == 0 && testdata_absent ? 77 : failed;
}
