/*
 * pcrgate-agent: TPM object templates, their comparison with the TPM's objects, TPM names in
 * software, and TPM public areas to and from OpenSSL keys (tpmobj.h).
 */
#include "config.h"

#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/alg.h"
#include "tpmobj.h"

const uint8_t tpmobj_ek_policy[32] = {0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8, 0x1a, 0x90, 0xcc,
				      0x8d, 0x46, 0xa5, 0xd7, 0x24, 0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52,
				      0x0b, 0x64, 0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa};

#define ATTR_KEY (TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN)
#define ATTR_EK (ATTR_KEY | TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)
#define ATTR_SRK (ATTR_KEY | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT)
#define ATTR_AK (ATTR_KEY | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT)
/* adminWithPolicy stays clear: TPM2_Certify needs the ADMIN role (docs/agent.md says why that is safe). */
#define ATTR_UPDATE_KEY (ATTR_KEY | TPMA_OBJECT_DECRYPT)
/* Signs TLS handshakes with its (empty) authValue; never decrypts, never leaves the TPM. */
#define ATTR_TLS_KEY (ATTR_KEY | TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_NODA | TPMA_OBJECT_SIGN_ENCRYPT)
#define ATTR_EXTERNAL (TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_DECRYPT)

/* EK and SRK: a storage key, AES-128-CFB, RSA 2048 or NIST P-256 with an all-zero unique field. */
static int storage_template(uint16_t alg, TPMA_OBJECT attrs, TPM2B_PUBLIC *out)
{
	TPMT_PUBLIC *p = &out->publicArea;

	memset(out, 0, sizeof(*out));
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = attrs;
	if (alg == TPM2_ALG_RSA) {
		p->type = TPM2_ALG_RSA;
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
		p->parameters.rsaDetail.symmetric.keyBits.aes = 128;
		p->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.rsaDetail.keyBits = 2048;
		p->unique.rsa.size = 256;
	} else if (alg == TPM2_ALG_ECC) {
		p->type = TPM2_ALG_ECC;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
		p->parameters.eccDetail.symmetric.keyBits.aes = 128;
		p->parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		p->unique.ecc.x.size = 32;
		p->unique.ecc.y.size = 32;
	} else {
		return PCRGATE_ERR_INVALID_ARGUMENT;
	}
	return PCRGATE_OK;
}

int tpmobj_template_ek(uint16_t alg, TPM2B_PUBLIC *out)
{
	int r = storage_template(alg, ATTR_EK, out);

	if (r == PCRGATE_OK) {
		out->publicArea.authPolicy.size = sizeof(tpmobj_ek_policy);
		memcpy(out->publicArea.authPolicy.buffer, tpmobj_ek_policy, sizeof(tpmobj_ek_policy));
	}
	return r;
}

int tpmobj_template_srk(uint16_t alg, TPM2B_PUBLIC *out)
{
	return storage_template(alg, ATTR_SRK, out);
}

int tpmobj_template_ak(uint16_t alg, TPM2B_PUBLIC *out)
{
	TPMT_PUBLIC *p = &out->publicArea;

	memset(out, 0, sizeof(*out));
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = ATTR_AK;
	if (alg == TPM2_ALG_ECC) {
		p->type = TPM2_ALG_ECC;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
		p->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
		p->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
	} else if (alg == TPM2_ALG_RSA) {
		p->type = TPM2_ALG_RSA;
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_RSASSA;
		p->parameters.rsaDetail.scheme.details.rsassa.hashAlg = TPM2_ALG_SHA256;
		p->parameters.rsaDetail.keyBits = 2048;
	} else {
		return PCRGATE_ERR_INVALID_ARGUMENT;
	}
	return PCRGATE_OK;
}

/* An ECDSA P-256 signing key as the AK's ECC template, with the TLS key's attributes (not restricted). */
int tpmobj_template_tls_key(TPM2B_PUBLIC *out)
{
	int r = tpmobj_template_ak(TPM2_ALG_ECC, out);

	out->publicArea.objectAttributes = ATTR_TLS_KEY;
	return r;
}

int tpmobj_template_update_key(const TPM2B_DIGEST *policy, TPM2B_PUBLIC *out)
{
	TPMT_PUBLIC *p = &out->publicArea;

	if (policy == NULL || policy->size != 32)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	memset(out, 0, sizeof(*out));
	p->type = TPM2_ALG_RSA;
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = ATTR_UPDATE_KEY;
	p->authPolicy = *policy;
	p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
	p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_OAEP;
	p->parameters.rsaDetail.scheme.details.oaep.hashAlg = TPM2_ALG_SHA256;
	p->parameters.rsaDetail.keyBits = 2048;
	return PCRGATE_OK;
}

static int sym_equal(const TPMT_SYM_DEF_OBJECT *a, const TPMT_SYM_DEF_OBJECT *b)
{
	if (a->algorithm != b->algorithm)
		return 0;
	return a->algorithm == TPM2_ALG_NULL || (a->keyBits.sym == b->keyBits.sym && a->mode.sym == b->mode.sym);
}

/* Schemes compare by algorithm and, when there is one, its hash (every scheme keeps it first). */
static int scheme_equal(uint16_t sa, uint16_t ha, uint16_t sb, uint16_t hb)
{
	return sa == sb && (sa == TPM2_ALG_NULL || ha == hb);
}

#define DIFFER(...) (snprintf(why, cap, __VA_ARGS__), PCRGATE_ERR_VERIFY)

int tpmobj_matches(const TPMT_PUBLIC *have, const TPMT_PUBLIC *want, char *why, size_t cap)
{
	if (have->type != want->type)
		return DIFFER("key type 0x%04x, expected 0x%04x", (unsigned)have->type, (unsigned)want->type);
	if (have->nameAlg != want->nameAlg)
		return DIFFER("nameAlg 0x%04x, expected 0x%04x", (unsigned)have->nameAlg, (unsigned)want->nameAlg);
	if (have->objectAttributes != want->objectAttributes)
		return DIFFER("objectAttributes 0x%08x, expected 0x%08x", (unsigned)have->objectAttributes,
			      (unsigned)want->objectAttributes);
	if (have->authPolicy.size != want->authPolicy.size ||
	    !pcrgate_ct_equal(have->authPolicy.buffer, want->authPolicy.buffer, want->authPolicy.size))
		return DIFFER("another authPolicy");
	if (have->type == TPM2_ALG_RSA) {
		const TPMS_RSA_PARMS *h = &have->parameters.rsaDetail, *w = &want->parameters.rsaDetail;
		uint32_t he = h->exponent == 0 ? 65537 : h->exponent, we = w->exponent == 0 ? 65537 : w->exponent;

		if (!sym_equal(&h->symmetric, &w->symmetric))
			return DIFFER("another symmetric algorithm");
		if (!scheme_equal(h->scheme.scheme, h->scheme.details.anySig.hashAlg, w->scheme.scheme,
				  w->scheme.details.anySig.hashAlg))
			return DIFFER("scheme 0x%04x, expected 0x%04x", (unsigned)h->scheme.scheme,
				      (unsigned)w->scheme.scheme);
		if (h->keyBits != w->keyBits || he != we)
			return DIFFER("RSA %u bits exponent %u, expected %u bits exponent %u", (unsigned)h->keyBits,
				      (unsigned)he, (unsigned)w->keyBits, (unsigned)we);
	} else if (have->type == TPM2_ALG_ECC) {
		const TPMS_ECC_PARMS *h = &have->parameters.eccDetail, *w = &want->parameters.eccDetail;

		if (!sym_equal(&h->symmetric, &w->symmetric))
			return DIFFER("another symmetric algorithm");
		if (!scheme_equal(h->scheme.scheme, h->scheme.details.anySig.hashAlg, w->scheme.scheme,
				  w->scheme.details.anySig.hashAlg))
			return DIFFER("scheme 0x%04x, expected 0x%04x", (unsigned)h->scheme.scheme,
				      (unsigned)w->scheme.scheme);
		if (h->curveID != w->curveID)
			return DIFFER("curve 0x%04x, expected 0x%04x", (unsigned)h->curveID, (unsigned)w->curveID);
		if (!scheme_equal(h->kdf.scheme, h->kdf.details.mgf1.hashAlg, w->kdf.scheme, w->kdf.details.mgf1.hashAlg))
			return DIFFER("another KDF");
	} else {
		return DIFFER("key type 0x%04x is not supported", (unsigned)have->type);
	}
	return PCRGATE_OK;
}

int tpmobj_name(const TPMT_PUBLIC *pub, TPM2B_NAME *name)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	size_t len = 0, dsize = pcrgate_alg_digest_size(pub->nameAlg);

	if (dsize == 0 || Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(buf), &len) != TSS2_RC_SUCCESS)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	pcrgate_store_be(name->name, pub->nameAlg, 2);
	if (pcrgate_digest(pub->nameAlg, buf, len, name->name + 2) != 0)
		return PCRGATE_ERR_CRYPTO;
	name->size = (UINT16)(2 + dsize);
	return PCRGATE_OK;
}

int tpmobj_qualified_name(uint16_t name_alg, const TPM2B_NAME *parent_qn, const TPM2B_NAME *name, TPM2B_NAME *out)
{
	uint8_t buf[2 * sizeof(((TPM2B_NAME *)0)->name)];
	size_t dsize = pcrgate_alg_digest_size(name_alg);

	if (dsize == 0 || parent_qn->size > sizeof(parent_qn->name) || name->size > sizeof(name->name))
		return PCRGATE_ERR_INVALID_ARGUMENT;
	memcpy(buf, parent_qn->name, parent_qn->size);
	memcpy(buf + parent_qn->size, name->name, name->size);
	pcrgate_store_be(out->name, name_alg, 2);
	if (pcrgate_digest(name_alg, buf, (size_t)parent_qn->size + name->size, out->name + 2) != 0)
		return PCRGATE_ERR_CRYPTO;
	out->size = (UINT16)(2 + dsize);
	return PCRGATE_OK;
}

static const struct {
	uint16_t curve;
	const char *name;
	size_t bytes;
} curves[] = {
	{TPM2_ECC_NIST_P256, "prime256v1", 32},
	{TPM2_ECC_NIST_P384, "secp384r1", 48},
	{TPM2_ECC_NIST_P521, "secp521r1", 66},
};

static int curve_by_id(uint16_t id)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].curve == id)
			return (int)i;
	return -1;
}

static int curve_by_name(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (strcmp(curves[i].name, name) == 0 ||
		    (i == 0 && strcmp(name, "P-256") == 0) || (i == 1 && strcmp(name, "P-384") == 0) ||
		    (i == 2 && strcmp(name, "P-521") == 0))
			return (int)i;
	return -1;
}

int tpmobj_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **out, pcrgate_errinfo *ei)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *pkey = NULL;
	BIGNUM *n = NULL, *e = NULL;
	uint8_t point[1 + 2 * 66];
	int r = PCRGATE_ERR_CRYPTO, c;

	if (bld == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if (pub->type == TPM2_ALG_RSA) {
		const TPM2B_PUBLIC_KEY_RSA *m = &pub->unique.rsa;

		if (m->size == 0 || m->size > sizeof(m->buffer) || (size_t)m->size * 8 != pub->parameters.rsaDetail.keyBits) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"RSA modulus of %u bytes for a %u-bit key", (unsigned)m->size,
						(unsigned)pub->parameters.rsaDetail.keyBits);
			goto fail;
		}
		if ((n = BN_bin2bn(m->buffer, m->size, NULL)) == NULL || (e = BN_new()) == NULL ||
		    !BN_set_word(e, pub->parameters.rsaDetail.exponent ? pub->parameters.rsaDetail.exponent : 65537) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n) ||
		    !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e) ||
		    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL)) == NULL)
			goto crypto;
	} else if (pub->type == TPM2_ALG_ECC) {
		const TPMS_ECC_POINT *q = &pub->unique.ecc;
		size_t fb;

		if ((c = curve_by_id(pub->parameters.eccDetail.curveID)) < 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET, "ECC curve 0x%04x",
						(unsigned)pub->parameters.eccDetail.curveID);
			goto fail;
		}
		fb = curves[c].bytes;
		if (q->x.size == 0 || q->y.size == 0 || q->x.size > fb || q->y.size > fb) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"ECC point of %u and %u bytes on a curve of %zu-byte coordinates",
						(unsigned)q->x.size, (unsigned)q->y.size, fb);
			goto fail;
		}
		memset(point, 0, sizeof(point));
		point[0] = 0x04;
		memcpy(point + 1 + fb - q->x.size, q->x.buffer, q->x.size);
		memcpy(point + 1 + 2 * fb - q->y.size, q->y.buffer, q->y.size);
		if (!OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curves[c].name, 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * fb) ||
		    (ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL)) == NULL)
			goto crypto;
	} else {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET, "key type 0x%04x",
					(unsigned)pub->type);
		goto fail;
	}
	if ((params = OSSL_PARAM_BLD_to_param(bld)) == NULL || EVP_PKEY_fromdata_init(ctx) <= 0 ||
	    EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0)
		goto crypto;
	*out = pkey;
	r = PCRGATE_OK;
	goto fail;
crypto:
	pcrgate_log_openssl(__func__, "building a public key from a TPM public area");
	r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
				"OpenSSL refuses the key of the TPM public area");
fail:
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(bld);
	EVP_PKEY_CTX_free(ctx);
	BN_free(n);
	BN_free(e);
	return r;
}

static int bn_param(EVP_PKEY *pkey, const char *name, uint8_t *out, size_t size, size_t *len)
{
	BIGNUM *bn = NULL;
	int n, r = -1;

	if (EVP_PKEY_get_bn_param(pkey, name, &bn) && (n = BN_num_bytes(bn)) > 0 && (size_t)n <= size) {
		if (len != NULL) {
			*len = (size_t)n;
			r = BN_bn2bin(bn, out) == n ? 0 : -1;
		} else {
			r = BN_bn2binpad(bn, out, (int)size) == (int)size ? 0 : -1;
		}
	}
	BN_free(bn);
	return r;
}

int tpmobj_from_evp(EVP_PKEY *pkey, TPM2B_PUBLIC *out, pcrgate_errinfo *ei)
{
	TPM2B_PUBLIC pub;
	TPMT_PUBLIC *p = &pub.publicArea;
	char group[64];
	uint8_t ebuf[8];
	size_t len = 0, elen = 0, i;
	uint64_t e = 0;
	int c;

	memset(&pub, 0, sizeof(pub));
	p->nameAlg = TPM2_ALG_SHA256;
	p->objectAttributes = ATTR_EXTERNAL;
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		p->type = TPM2_ALG_RSA;
		p->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
		if (bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, p->unique.rsa.buffer, sizeof(p->unique.rsa.buffer), &len) != 0 ||
		    (len != 256 && len != 384 && len != 512) ||
		    bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, ebuf, sizeof(ebuf), &elen) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						   "RSA key: 2048, 3072 or 4096 bits with a 32-bit exponent expected");
		for (i = 0; i < elen; i++)
			e = e << 8 | ebuf[i];
		if (e > UINT32_MAX)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						   "RSA exponent larger than 32 bits");
		p->unique.rsa.size = (UINT16)len;
		p->parameters.rsaDetail.keyBits = (UINT16)(len * 8);
		p->parameters.rsaDetail.exponent = e == 65537 ? 0 : (UINT32)e;
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		if (!EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), NULL) ||
		    (c = curve_by_name(group)) < 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						   "EC key: NIST P-256, P-384 or P-521 expected");
		p->type = TPM2_ALG_ECC;
		p->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
		p->parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
		p->parameters.eccDetail.curveID = curves[c].curve;
		p->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
		if (bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_X, p->unique.ecc.x.buffer, curves[c].bytes, NULL) != 0 ||
		    bn_param(pkey, OSSL_PKEY_PARAM_EC_PUB_Y, p->unique.ecc.y.buffer, curves[c].bytes, NULL) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
						   "cannot read the EC key's public point");
		p->unique.ecc.x.size = p->unique.ecc.y.size = (UINT16)curves[c].bytes;
	} else {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "the key is neither RSA nor EC");
	}
	*out = pub;
	return PCRGATE_OK;
}

int tpmobj_public_marshal(const TPM2B_PUBLIC *pub, uint8_t *buf, size_t cap, size_t *len)
{
	size_t off = 0;

	if (Tss2_MU_TPM2B_PUBLIC_Marshal(pub, buf, cap, &off) != TSS2_RC_SUCCESS)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	*len = off;
	return PCRGATE_OK;
}

int tpmobj_public_unmarshal(const uint8_t *buf, size_t len, TPM2B_PUBLIC *pub, pcrgate_errinfo *ei)
{
	TPM2B_PUBLIC p;
	size_t off = 0;

	memset(&p, 0, sizeof(p));
	if (Tss2_MU_TPM2B_PUBLIC_Unmarshal(buf, len, &off, &p) != TSS2_RC_SUCCESS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "not a TPM2B_PUBLIC");
	if (off != len)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "%zu bytes after the TPM2B_PUBLIC", len - off);
	if (p.size == 0 || pcrgate_alg_digest_size(p.publicArea.nameAlg) == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "an empty TPM2B_PUBLIC or one without a name algorithm");
	*pub = p;
	return PCRGATE_OK;
}

int tpmobj_signature_from_der(EVP_PKEY *pkey, uint16_t hash_alg, const uint8_t *sig, size_t len,
			      TPMT_SIGNATURE *out, pcrgate_errinfo *ei)
{
	TPMT_SIGNATURE s;
	ECDSA_SIG *es = NULL;
	const BIGNUM *r, *sv;
	const uint8_t *p = sig;
	int fb = (EVP_PKEY_get_bits(pkey) + 7) / 8, rc = PCRGATE_ERR_FORMAT;

	memset(&s, 0, sizeof(s));
	if (EVP_PKEY_is_a(pkey, "RSA")) {
		if (len == 0 || len > sizeof(s.signature.rsassa.sig.buffer))
			return pcrgate_errinfo_set(ei, rc, PCRGATE_NO_OFFSET, "RSA signature of %zu bytes", len);
		s.sigAlg = TPM2_ALG_RSASSA;
		s.signature.rsassa.hash = hash_alg;
		s.signature.rsassa.sig.size = (UINT16)len;
		memcpy(s.signature.rsassa.sig.buffer, sig, len);
	} else if (EVP_PKEY_is_a(pkey, "EC")) {
		if (len > 256 || (es = d2i_ECDSA_SIG(NULL, &p, (long)len)) == NULL || p != sig + len)
			goto bad;
		ECDSA_SIG_get0(es, &r, &sv);
		if (fb <= 0 || fb > (int)sizeof(s.signature.ecdsa.signatureR.buffer) ||
		    BN_bn2binpad(r, s.signature.ecdsa.signatureR.buffer, fb) != fb ||
		    BN_bn2binpad(sv, s.signature.ecdsa.signatureS.buffer, fb) != fb)
			goto bad;
		s.sigAlg = TPM2_ALG_ECDSA;
		s.signature.ecdsa.hash = hash_alg;
		s.signature.ecdsa.signatureR.size = s.signature.ecdsa.signatureS.size = (UINT16)fb;
		ECDSA_SIG_free(es);
	} else {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET, "neither RSA nor EC key");
	}
	*out = s;
	return PCRGATE_OK;
bad:
	ECDSA_SIG_free(es);
	return pcrgate_errinfo_set(ei, rc, PCRGATE_NO_OFFSET, "malformed ECDSA signature");
}

int tpmobj_verify_digest(EVP_PKEY *pkey, const TPMT_SIGNATURE *sig, const uint8_t *digest, size_t len,
			 pcrgate_errinfo *ei)
{
	const EVP_MD *md;
	EVP_PKEY_CTX *ctx = NULL;
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	uint8_t der[160], *p = der;
	const uint8_t *raw = NULL;
	size_t rawlen = 0;
	uint16_t hash;
	int n, pad = 0, ok = 0, rc = PCRGATE_ERR_VERIFY;

	switch (sig->sigAlg) {
	case TPM2_ALG_RSASSA:
	case TPM2_ALG_RSAPSS:
		if (!EVP_PKEY_is_a(pkey, "RSA"))
			return pcrgate_errinfo_set(ei, rc, PCRGATE_NO_OFFSET, "an RSA signature from a non-RSA key");
		hash = sig->signature.rsassa.hash;
		raw = sig->signature.rsassa.sig.buffer;
		rawlen = sig->signature.rsassa.sig.size;
		pad = sig->sigAlg == TPM2_ALG_RSASSA ? RSA_PKCS1_PADDING : RSA_PKCS1_PSS_PADDING;
		break;
	case TPM2_ALG_ECDSA:
		if (!EVP_PKEY_is_a(pkey, "EC"))
			return pcrgate_errinfo_set(ei, rc, PCRGATE_NO_OFFSET, "an ECDSA signature from a non-EC key");
		hash = sig->signature.ecdsa.hash;
		if ((es = ECDSA_SIG_new()) == NULL ||
		    (r = BN_bin2bn(sig->signature.ecdsa.signatureR.buffer, sig->signature.ecdsa.signatureR.size,
				   NULL)) == NULL ||
		    (s = BN_bin2bn(sig->signature.ecdsa.signatureS.buffer, sig->signature.ecdsa.signatureS.size,
				   NULL)) == NULL ||
		    !ECDSA_SIG_set0(es, r, s)) {
			BN_free(r);
			BN_free(s);
			rc = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)n > sizeof(der) || i2d_ECDSA_SIG(es, &p) != n) {
			rc = pcrgate_errinfo_set(ei, rc, PCRGATE_NO_OFFSET, "ECDSA signature too large");
			goto fail;
		}
		raw = der;
		rawlen = (size_t)n;
		break;
	default:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET, "signature scheme 0x%04x",
					   (unsigned)sig->sigAlg);
	}
	if (pcrgate_alg_digest_size(hash) != len || (md = EVP_get_digestbyname(pcrgate_alg_openssl_name(hash))) == NULL) {
		rc = pcrgate_errinfo_set(ei, rc, PCRGATE_NO_OFFSET, "signature hash 0x%04x does not fit a %zu-byte digest",
					 (unsigned)hash, len);
		goto fail;
	}
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL || EVP_PKEY_verify_init(ctx) <= 0 ||
	    EVP_PKEY_CTX_set_signature_md(ctx, md) <= 0 ||
	    (pad != 0 && EVP_PKEY_CTX_set_rsa_padding(ctx, pad) <= 0) ||
	    (pad == RSA_PKCS1_PSS_PADDING && EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO) <= 0)) {
		pcrgate_log_openssl(__func__, "preparing a signature check");
		rc = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot prepare the signature check");
		goto fail;
	}
	ok = EVP_PKEY_verify(ctx, raw, rawlen, digest, len) == 1;
	ERR_clear_error();
	rc = ok ? PCRGATE_OK : pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "bad signature");
fail:
	EVP_PKEY_CTX_free(ctx);
	ECDSA_SIG_free(es);
	return rc;
}
