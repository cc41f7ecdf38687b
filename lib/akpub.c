/*
 * pcrgate: loading an attestation key's public part (PEM/DER SubjectPublicKeyInfo or a TPM
 * public area) into an OpenSSL key that is built once, plus the key's TPM name, scheme and
 * attributes when the TPM public area gives them. Also the AK's signature verification with
 * reusable OpenSSL contexts, the hot path of quote verification.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/param_build.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "akpub.h"
#include "reader.h"

pcrgate_akpub *pcrgate_akpub_new(void)
{
	pcrgate_akpub *ak = calloc(1, sizeof(*ak));

	if (ak == NULL)
		return NULL;
	if (pthread_mutex_init(&ak->lock, NULL) != 0) {
		free(ak);
		return NULL;
	}
	return ak;
}

static void drop_ctxs(pcrgate_akpub *ak)
{
	size_t i;

	for (i = 0; i < ak->nctx; i++)
		EVP_PKEY_CTX_free(ak->ctxs[i].ctx);
	ak->nctx = 0;
}

void pcrgate_akpub_free(pcrgate_akpub **ak)
{
	if (ak == NULL || *ak == NULL)
		return;
	drop_ctxs(*ak);
	EVP_PKEY_free((*ak)->pkey);
	pthread_mutex_destroy(&(*ak)->lock);
	free(*ak);
	*ak = NULL;
}

/* What one load produced, moved into the akpub only when everything succeeded. */
struct loaded {
	int format;
	EVP_PKEY *pkey;
	uint16_t key_type;
	unsigned bits;
	size_t field_bytes;
	int has_tpm;
	uint32_t attributes;
	uint16_t scheme;
	uint16_t scheme_hash;
	uint8_t name[PCRGATE_QUOTE_MAX_NAME];
	size_t name_len;
};

/* OpenSSL reports a key read from SPKI by its SECG/X9.62 name, one built from parameters by NIST's. */
static const struct {
	const char *group;
	const char *alias;
	uint16_t tpm_curve;
	size_t bytes;
} curves[] = {
	{"P-256", "prime256v1", TPM2_ECC_NIST_P256, 32},
	{"P-384", "secp384r1", TPM2_ECC_NIST_P384, 48},
	{"P-521", "secp521r1", TPM2_ECC_NIST_P521, 66},
};

/* Fills key type, size and (ECC) curve from an OpenSSL key; only RSA and the NIST curves pass. */
static int describe_pkey(struct loaded *l, pcrgate_errinfo *ei)
{
	char group[32];
	size_t i;

	if (EVP_PKEY_is_a(l->pkey, "RSA")) {
		l->key_type = PCRGATE_KEY_RSA;
		l->bits = (unsigned)EVP_PKEY_get_bits(l->pkey);
		if (l->bits < 1024 || l->bits > 8 * 512)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						   "RSA key of %u bits not supported (1024..4096)", l->bits);
		return PCRGATE_OK;
	}
	if (EVP_PKEY_is_a(l->pkey, "EC")) {
		if (EVP_PKEY_get_utf8_string_param(l->pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group),
						   NULL) != 1)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						   "EC key without a named curve is not supported");
		for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++) {
			if (strcmp(group, curves[i].group) == 0 || strcmp(group, curves[i].alias) == 0) {
				l->key_type = PCRGATE_KEY_ECC;
				l->bits = (unsigned)EVP_PKEY_get_bits(l->pkey);
				l->field_bytes = curves[i].bytes;
				return PCRGATE_OK;
			}
		}
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "EC curve %s not supported (P-256, P-384, P-521)", group);
	}
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
				   "key type %s not supported (RSA or EC)", EVP_PKEY_get0_type_name(l->pkey));
}

/* DER SubjectPublicKeyInfo that must take every byte. */
static int load_der(struct loaded *l, const uint8_t *buf, size_t len, pcrgate_errinfo *ei)
{
	const unsigned char *p = buf;

	l->pkey = d2i_PUBKEY(NULL, &p, (long)len);
	if (l->pkey == NULL) {
		pcrgate_log_openssl(__func__, "d2i_PUBKEY");
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "not a DER SubjectPublicKeyInfo");
	}
	if ((size_t)(p - buf) != len) {
		EVP_PKEY_free(l->pkey);
		l->pkey = NULL;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)(p - buf),
					   "%zu bytes after the DER SubjectPublicKeyInfo",
					   len - (size_t)(p - buf));
	}
	return PCRGATE_OK;
}

static int load_spki(struct loaded *l, const uint8_t *buf, size_t len, int pem, pcrgate_errinfo *ei)
{
	char *label = NULL, *header = NULL;
	unsigned char *der = NULL;
	long der_len = 0;
	BIO *bio = NULL;
	int r;

	if (!pem) {
		r = load_der(l, buf, len, ei);
		l->format = PCRGATE_AKPUB_DER;
	} else {
		/* Only the "PUBLIC KEY" label is SubjectPublicKeyInfo; OpenSSL would take others too. */
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		if (PEM_read_bio(bio, &label, &header, &der, &der_len) != 1) {
			pcrgate_log_openssl(__func__, "PEM_read_bio");
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"not a well-formed PEM block");
		} else if (strcmp(label, "PUBLIC KEY") != 0 || header[0] != '\0') {
			r = pcrgate_errinfo_set(
				ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
				"PEM \"%.32s\" is not a \"PUBLIC KEY\" (SubjectPublicKeyInfo)", label);
		} else {
			r = load_der(l, der, (size_t)der_len, ei);
		}
		l->format = PCRGATE_AKPUB_PEM;
		BIO_free(bio);
		OPENSSL_free(label);
		OPENSSL_free(header);
		OPENSSL_free(der);
	}
	if (r != 0)
		return r;
	if ((r = describe_pkey(l, ei)) != 0) {
		EVP_PKEY_free(l->pkey);
		l->pkey = NULL;
	}
	return r;
}

/* Builds an OpenSSL key from parameters; keytype "RSA" or "EC". */
static int pkey_fromdata(const char *keytype, OSSL_PARAM_BLD *bld, EVP_PKEY **out, pcrgate_errinfo *ei)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = NULL, *check = NULL;
	EVP_PKEY *pkey = NULL;
	int ec = strcmp(keytype, "EC") == 0, r = PCRGATE_ERR_CRYPTO;

	if (params == NULL || (ctx = EVP_PKEY_CTX_new_from_name(NULL, keytype, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1) {
		pcrgate_log_openssl(__func__, "EVP_PKEY_fromdata_init");
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot build an %s key", keytype);
		goto fail;
	}
	if (EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) != 1) {
		pcrgate_log_openssl(__func__, "EVP_PKEY_fromdata");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"the TPM public area holds no valid %s key", keytype);
		goto fail;
	}
	/*
	 * An ECC point off its curve would make every later verification meaningless. The quick
	 * check (on the curve, not at infinity) is the whole check on the NIST curves, whose
	 * cofactor is 1; the full one adds a scalar multiplication by the order that costs more than
	 * the rest of the load, on every load (the verifier loads an AK per attestation).
	 */
	if ((check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    (ec ? EVP_PKEY_public_check_quick(check) : EVP_PKEY_public_check(check)) != 1) {
		pcrgate_log_openssl(__func__, "EVP_PKEY_public_check");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"the TPM public area's %s key is invalid", keytype);
		goto fail;
	}
	*out = pkey;
	pkey = NULL;
	r = PCRGATE_OK;
fail:
	EVP_PKEY_CTX_free(check);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	OSSL_PARAM_free(params);
	return r;
}

static int rsa_from_tpm(const TPMT_PUBLIC *pub, EVP_PKEY **out, pcrgate_errinfo *ei)
{
	const TPMS_RSA_PARMS *parms = &pub->parameters.rsaDetail;
	const TPM2B_PUBLIC_KEY_RSA *n = &pub->unique.rsa;
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *bn_n = NULL, *bn_e = NULL;
	int r = PCRGATE_ERR_FORMAT;

	if (parms->keyBits < 1024 || parms->keyBits > 4096 || n->size != parms->keyBits / 8)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "RSA modulus of %u bytes for keyBits %u",
					   n->size, parms->keyBits);
	/* An exponent of zero stands for the default, 2^16 + 1. */
	if ((bn_n = BN_bin2bn(n->buffer, n->size, NULL)) == NULL || (bn_e = BN_new()) == NULL ||
	    BN_set_word(bn_e, parms->exponent ? parms->exponent : 65537) != 1 ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn_n) != 1 ||
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, bn_e) != 1) {
		pcrgate_log_openssl(__func__, "RSA parameters");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
					"cannot build the RSA key");
		goto fail;
	}
	r = pkey_fromdata("RSA", bld, out, ei);
fail:
	OSSL_PARAM_BLD_free(bld);
	BN_free(bn_n);
	BN_free(bn_e);
	return r;
}

static int ecc_from_tpm(const TPMT_PUBLIC *pub, EVP_PKEY **out, size_t *field_bytes, pcrgate_errinfo *ei)
{
	const TPMS_ECC_POINT *pt = &pub->unique.ecc;
	uint8_t point[1 + 2 * 66];
	OSSL_PARAM_BLD *bld = NULL;
	size_t i, n = 0;
	int r;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].tpm_curve == pub->parameters.eccDetail.curveID)
			break;
	if (i == sizeof(curves) / sizeof(curves[0]))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "ECC curve 0x%04x not supported (P-256, P-384, P-521)",
					   pub->parameters.eccDetail.curveID);
	n = curves[i].bytes;
	if (pt->x.size == 0 || pt->x.size > n || pt->y.size == 0 || pt->y.size > n)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "ECC point coordinates of %u and %u bytes for %s", pt->x.size,
					   pt->y.size, curves[i].group);
	/* Uncompressed point, each coordinate left-padded to the field size. */
	memset(point, 0, sizeof(point));
	point[0] = 0x04;
	memcpy(point + 1 + (n - pt->x.size), pt->x.buffer, pt->x.size);
	memcpy(point + 1 + n + (n - pt->y.size), pt->y.buffer, pt->y.size);
	if ((bld = OSSL_PARAM_BLD_new()) == NULL ||
	    OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, curves[i].group, 0) != 1 ||
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, 1 + 2 * n) != 1) {
		pcrgate_log_openssl(__func__, "EC parameters");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
					"cannot build the ECC key");
		goto fail;
	}
	if ((r = pkey_fromdata("EC", bld, out, ei)) == 0)
		*field_bytes = n;
fail:
	OSSL_PARAM_BLD_free(bld);
	return r;
}

/* The TPM name: nameAlg || H_nameAlg(marshalled TPMT_PUBLIC). */
static int tpm_name(const TPMT_PUBLIC *pub, uint8_t *name, size_t *name_len, pcrgate_errinfo *ei)
{
	uint8_t buf[sizeof(TPMT_PUBLIC)];
	size_t off = 0, dlen = pcrgate_alg_digest_size(pub->nameAlg);
	TSS2_RC rc;

	if (dlen == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "nameAlg 0x%04x is not a known hash", pub->nameAlg);
	if ((rc = Tss2_MU_TPMT_PUBLIC_Marshal(pub, buf, sizeof(buf), &off)) != TSS2_RC_SUCCESS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "cannot marshal the public area for its name (%s)",
					   Tss2_RC_Decode(rc));
	pcrgate_store_be(name, pub->nameAlg, 2);
	if (pcrgate_digest(pub->nameAlg, buf, off, name + 2) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
					   "cannot hash the public area");
	*name_len = 2 + dlen;
	return PCRGATE_OK;
}

/*
 * Where a TPMT_PUBLIC that the TSS refused goes wrong. The TSS leaves the offset where it
 * started when an unmarshal fails, so the fields are walked one by one to find the first that
 * does not unmarshal: its offset (from base) and its name. PCRGATE_NO_OFFSET when every field
 * unmarshals alone.
 */
static size_t tpmt_public_fault(const uint8_t *buf, size_t len, size_t base, const char **field)
{
	TPMT_PUBLIC t;
	size_t off = 0, at;

	memset(&t, 0, sizeof(t));
	*field = "type";
	if (Tss2_MU_UINT16_Unmarshal(buf, len, &off, &t.type) != TSS2_RC_SUCCESS)
		return base + off;
	*field = "nameAlg";
	if (Tss2_MU_UINT16_Unmarshal(buf, len, &off, &t.nameAlg) != TSS2_RC_SUCCESS)
		return base + off;
	*field = "objectAttributes";
	if (Tss2_MU_TPMA_OBJECT_Unmarshal(buf, len, &off, &t.objectAttributes) != TSS2_RC_SUCCESS)
		return base + off;
	*field = "authPolicy";
	if (Tss2_MU_TPM2B_DIGEST_Unmarshal(buf, len, &off, &t.authPolicy) != TSS2_RC_SUCCESS)
		return base + off;
	*field = "parameters";
	at = off;
	if (Tss2_MU_TPMU_PUBLIC_PARMS_Unmarshal(buf, len, &off, t.type, &t.parameters) != TSS2_RC_SUCCESS)
		return base + at;
	*field = "unique";
	at = off;
	if (Tss2_MU_TPMU_PUBLIC_ID_Unmarshal(buf, len, &off, t.type, &t.unique) != TSS2_RC_SUCCESS)
		return base + at;
	return PCRGATE_NO_OFFSET;
}

/* A TPMT_PUBLIC that takes all len bytes, which start at offset base of the input. */
static int unmarshal_public(const uint8_t *buf, size_t len, size_t base, const char *what, TPMT_PUBLIC *pub,
			    pcrgate_errinfo *ei)
{
	const char *field = NULL;
	size_t off = 0, at;
	TSS2_RC rc;

	memset(pub, 0, sizeof(*pub));
	rc = Tss2_MU_TPMT_PUBLIC_Unmarshal(buf, len, &off, pub);
	if (rc != TSS2_RC_SUCCESS) {
		at = tpmt_public_fault(buf, len, base, &field);
		if (at == PCRGATE_NO_OFFSET)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, at,
						   "not a well-formed %s, offset unknown (%s)", what,
						   Tss2_RC_Decode(rc));
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, at,
					   "not a well-formed %s: cut short or invalid in its %s (%s)", what,
					   field, Tss2_RC_Decode(rc));
	}
	if (off != len)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, base + off, "%zu bytes after the %s",
					   len - off, what);
	return PCRGATE_OK;
}

static int load_tpm(struct loaded *l, const uint8_t *buf, size_t len, int tpm2b, pcrgate_errinfo *ei)
{
	struct reader rd;
	const uint8_t *area;
	TPMT_PUBLIC pub;
	uint16_t size = 0;
	int r;

	if (tpm2b) {
		/* Read here, not by the TSS: the size must frame exactly the TPMT_PUBLIC inside. */
		reader_init(&rd, buf, len);
		if (reader_u16be(&rd, &size) != 0 || reader_bytes(&rd, size, &area) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0,
						   "TPM2B_PUBLIC size %u, but %zu bytes follow", size,
						   len >= 2 ? len - 2 : 0);
		if (rd.left != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off,
						   "%zu bytes after the TPM2B_PUBLIC", rd.left);
		r = unmarshal_public(area, size, 2, "TPM2B_PUBLIC", &pub, ei);
	} else {
		r = unmarshal_public(buf, len, 0, "TPMT_PUBLIC", &pub, ei);
	}
	if (r != 0)
		return r;
	switch (pub.type) {
	case TPM2_ALG_RSA:
		r = rsa_from_tpm(&pub, &l->pkey, ei);
		l->scheme = pub.parameters.rsaDetail.scheme.scheme;
		l->scheme_hash = pub.parameters.rsaDetail.scheme.details.anySig.hashAlg;
		break;
	case TPM2_ALG_ECC:
		r = ecc_from_tpm(&pub, &l->pkey, &l->field_bytes, ei);
		l->scheme = pub.parameters.eccDetail.scheme.scheme;
		l->scheme_hash = pub.parameters.eccDetail.scheme.details.anySig.hashAlg;
		break;
	default:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "public area of type 0x%04x is not an RSA or ECC key", pub.type);
	}
	if (r != 0)
		return r;
	if (l->scheme == TPM2_ALG_NULL)
		l->scheme_hash = 0;
	if ((r = tpm_name(&pub, l->name, &l->name_len, ei)) != 0 || (r = describe_pkey(l, ei)) != 0)
		goto fail;
	l->format = tpm2b ? PCRGATE_AKPUB_TPM2B_PUBLIC : PCRGATE_AKPUB_TPMT_PUBLIC;
	l->has_tpm = 1;
	l->attributes = pub.objectAttributes;
	return PCRGATE_OK;
fail:
	EVP_PKEY_free(l->pkey);
	l->pkey = NULL;
	return r;
}

int akpub_tpm2b_name(const uint8_t *buf, size_t len, uint8_t name[PCRGATE_QUOTE_MAX_NAME], size_t *name_len,
		     pcrgate_errinfo *ei)
{
	struct reader rd;
	const uint8_t *area;
	TPMT_PUBLIC pub;
	uint16_t size = 0;
	int r;

	if (buf == NULL || name == NULL || name_len == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no key given");
	/* The same framing load_tpm demands of a TPM2B_PUBLIC. */
	reader_init(&rd, buf, len);
	if (reader_u16be(&rd, &size) != 0 || reader_bytes(&rd, size, &area) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "TPM2B_PUBLIC size %u, but %zu bytes follow",
					   size, len >= 2 ? len - 2 : 0);
	if (rd.left != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off, "%zu bytes after the TPM2B_PUBLIC", rd.left);
	if ((r = unmarshal_public(area, size, 2, "TPM2B_PUBLIC", &pub, ei)) != 0)
		return r;
	if (pub.type != TPM2_ALG_RSA && pub.type != TPM2_ALG_ECC)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "public area of type 0x%04x is not an RSA or ECC key", pub.type);
	return tpm_name(&pub, name, name_len, ei);
}

static int looks_like_pem(const uint8_t *buf, size_t len)
{
	static const char tag[] = "-----BEGIN ";
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return len - i >= sizeof(tag) - 1 && memcmp(buf + i, tag, sizeof(tag) - 1) == 0;
}

int pcrgate_akpub_load(pcrgate_akpub *ak, const uint8_t *buf, size_t len, pcrgate_errinfo *ei)
{
	struct loaded l;
	int r;

	memset(&l, 0, sizeof(l));
	if (ak == NULL || buf == NULL || len == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no key given");
	if (len > 64 * 1024 || len > INT32_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "%zu bytes is too large for a public key", len);
	/* DER starts with a SEQUENCE (0x30); a TPM2B_PUBLIC with its size; a TPMT_PUBLIC with its type. */
	if (looks_like_pem(buf, len))
		r = load_spki(&l, buf, len, 1, ei);
	else if (buf[0] == 0x30)
		r = load_spki(&l, buf, len, 0, ei);
	else if (len >= 2 && (size_t)((buf[0] << 8) | buf[1]) == len - 2)
		r = load_tpm(&l, buf, len, 1, ei);
	else if (len >= 2 && buf[0] == 0x00 && (buf[1] == 0x01 || buf[1] == 0x23))
		r = load_tpm(&l, buf, len, 0, ei);
	else
		r = pcrgate_errinfo_set(
			ei, PCRGATE_ERR_FORMAT, 0,
			"not a public key (PEM or DER SubjectPublicKeyInfo, TPM2B_PUBLIC, TPMT_PUBLIC)");
	if (r != 0)
		return r;

	pthread_mutex_lock(&ak->lock);
	drop_ctxs(ak);
	EVP_PKEY_free(ak->pkey);
	ak->format = l.format;
	ak->pkey = l.pkey;
	ak->key_type = l.key_type;
	ak->bits = l.bits;
	ak->field_bytes = l.field_bytes;
	ak->has_tpm = l.has_tpm;
	ak->attributes = l.attributes;
	ak->scheme = l.scheme;
	ak->scheme_hash = l.scheme_hash;
	memcpy(ak->name, l.name, sizeof(ak->name));
	ak->name_len = l.name_len;
	pthread_mutex_unlock(&ak->lock);
	return PCRGATE_OK;
}

int pcrgate_akpub_format(const pcrgate_akpub *ak)
{
	return ak ? ak->format : PCRGATE_AKPUB_NONE;
}

uint16_t pcrgate_akpub_key_type(const pcrgate_akpub *ak)
{
	return ak ? ak->key_type : 0;
}

unsigned pcrgate_akpub_bits(const pcrgate_akpub *ak)
{
	return ak ? ak->bits : 0;
}

const uint8_t *pcrgate_akpub_name(const pcrgate_akpub *ak, size_t *len)
{
	if (ak == NULL || !ak->has_tpm)
		return NULL;
	if (len != NULL)
		*len = ak->name_len;
	return ak->name;
}

int pcrgate_akpub_same_key(const pcrgate_akpub *a, const pcrgate_akpub *b)
{
	if (a == NULL || b == NULL || a->pkey == NULL || b->pkey == NULL || EVP_PKEY_eq(a->pkey, b->pkey) != 1)
		return 0;
	if (a->has_tpm && b->has_tpm)
		return a->name_len == b->name_len && pcrgate_ct_equal(a->name, b->name, a->name_len);
	return 1;
}

int pcrgate_akpub_qualified_name(const pcrgate_akpub *ak, const uint8_t *parent_qn, size_t parent_qn_len,
				 uint8_t out[PCRGATE_QUOTE_MAX_NAME], size_t *out_len)
{
	uint8_t buf[2 * PCRGATE_QUOTE_MAX_NAME], qn[PCRGATE_QUOTE_MAX_NAME];
	uint16_t alg;
	size_t dlen;

	if (ak == NULL || parent_qn == NULL || out == NULL || out_len == NULL || parent_qn_len == 0 ||
	    parent_qn_len > PCRGATE_QUOTE_MAX_NAME)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (!ak->has_tpm)
		return PCRGATE_ERR_NOT_FOUND;
	/* The child's nameAlg hashes the pair; tpm_name() already refused an unknown one. */
	alg = (uint16_t)(ak->name[0] << 8 | ak->name[1]);
	dlen = pcrgate_alg_digest_size(alg);
	memcpy(buf, parent_qn, parent_qn_len);
	memcpy(buf + parent_qn_len, ak->name, ak->name_len);
	qn[0] = ak->name[0];
	qn[1] = ak->name[1];
	if (pcrgate_digest(alg, buf, parent_qn_len + ak->name_len, qn + 2) != 0)
		return PCRGATE_ERR_CRYPTO;
	memcpy(out, qn, 2 + dlen);
	*out_len = 2 + dlen;
	return PCRGATE_OK;
}

int pcrgate_akpub_tpm_info(const pcrgate_akpub *ak, uint32_t *attributes, uint16_t *scheme,
			   uint16_t *scheme_hash)
{
	if (ak == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (!ak->has_tpm)
		return PCRGATE_ERR_NOT_FOUND;
	if (attributes != NULL)
		*attributes = ak->attributes;
	if (scheme != NULL)
		*scheme = ak->scheme;
	if (scheme_hash != NULL)
		*scheme_hash = ak->scheme_hash;
	return PCRGATE_OK;
}

/* A verification context for one (scheme, hash), ready for EVP_PKEY_verify on a digest. */
static EVP_PKEY_CTX *ctx_new(EVP_PKEY *pkey, uint16_t sig_alg, uint16_t hash_alg)
{
	const char *mdname = pcrgate_alg_openssl_name(hash_alg);
	EVP_PKEY_CTX *ctx = NULL;
	EVP_MD *md = NULL;

	if (mdname == NULL || (md = EVP_MD_fetch(NULL, mdname, NULL)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL || EVP_PKEY_verify_init(ctx) != 1)
		goto fail;
	if (sig_alg == PCRGATE_SIG_RSASSA && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	/* TPMs choose the salt length (the digest size, or the most the key allows): detect it. */
	if (sig_alg == PCRGATE_SIG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO) != 1))
		goto fail;
	if (EVP_PKEY_CTX_set_signature_md(ctx, md) != 1)
		goto fail;
	EVP_MD_free(md);
	return ctx;
fail:
	pcrgate_log_openssl(__func__, "verification context");
	EVP_PKEY_CTX_free(ctx);
	EVP_MD_free(md);
	return NULL;
}

int akpub_verify_digest(const struct pcrgate_akpub *cak, uint16_t sig_alg, uint16_t hash_alg,
			const uint8_t *sig, size_t siglen, const uint8_t *dgst, size_t dgstlen)
{
	/* Only the context pool changes, under its lock; the key itself stays as loaded. */
	struct pcrgate_akpub *ak = (struct pcrgate_akpub *)cak;
	EVP_PKEY_CTX *ctx = NULL;
	size_t i;

	if (ak == NULL || ak->pkey == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	pthread_mutex_lock(&ak->lock);
	for (i = 0; i < ak->nctx; i++) {
		if (ak->ctxs[i].sig_alg == sig_alg && ak->ctxs[i].hash_alg == hash_alg) {
			ctx = ak->ctxs[i].ctx;
			ak->ctxs[i] = ak->ctxs[--ak->nctx];
			break;
		}
	}
	pthread_mutex_unlock(&ak->lock);
	if (ctx == NULL && (ctx = ctx_new(ak->pkey, sig_alg, hash_alg)) == NULL)
		return PCRGATE_ERR_CRYPTO;

	if (EVP_PKEY_verify(ctx, sig, siglen, dgst, dgstlen) != 1) {
		/* A context that saw a failure is not reused. */
		ERR_clear_error();
		EVP_PKEY_CTX_free(ctx);
		return PCRGATE_ERR_VERIFY;
	}
	pthread_mutex_lock(&ak->lock);
	if (ak->nctx < AKPUB_MAX_CTX) {
		ak->ctxs[ak->nctx].sig_alg = sig_alg;
		ak->ctxs[ak->nctx].hash_alg = hash_alg;
		ak->ctxs[ak->nctx].ctx = ctx;
		ak->nctx++;
		ctx = NULL;
	}
	pthread_mutex_unlock(&ak->lock);
	EVP_PKEY_CTX_free(ctx);
	return PCRGATE_OK;
}
