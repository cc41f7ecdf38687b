/*
 * pcrgate verifier: TPM2_MakeCredential in software (TPM 2.0 Part 1, "Credential Protection";
 * Annex B for RSA, Annex C for ECC secret sharing). A random seed is shared with the EK (RSA:
 * OAEP; ECC: ephemeral ECDH and KDFe). From the seed KDFa derives the symmetric key that
 * encrypts the credential (label "STORAGE", context the AK's name) and the HMAC key (label
 * "INTEGRITY") whose HMAC over encIdentity || name lets the TPM refuse a credential meant for
 * another object. Every primitive is OpenSSL's.
 */
#include "config.h"

#include "verifier/credential.h"

#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "attest/tpmobj.h"
#include "pcrgate/alg.h"

/* The labels, with their final NUL byte as the TPM uses them (Part 1, 11.4.10). */
static const char IDENTITY_LABEL[] = "IDENTITY";
static const char STORAGE_LABEL[] = "STORAGE";
static const char INTEGRITY_LABEL[] = "INTEGRITY";

static int crypto_fail(const char *what, pcrgate_errinfo *ei)
{
	pcrgate_log_openssl(__func__, what);
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "%s failed", what);
}

/* Runs OpenSSL's KDF named kdf with params into out; what names the derivation in errors. */
static int kdf_derive(const char *kdf, const char *what, const OSSL_PARAM *params, uint8_t *out, size_t outlen,
		      pcrgate_errinfo *ei)
{
	EVP_KDF *k = EVP_KDF_fetch(NULL, kdf, NULL);
	EVP_KDF_CTX *kctx = NULL;
	int r = PCRGATE_ERR_CRYPTO;

	if (k == NULL || (kctx = EVP_KDF_CTX_new(k)) == NULL) {
		r = crypto_fail(kdf, ei);
		goto fail;
	}
	if (EVP_KDF_derive(kctx, out, outlen, params) != 1) {
		r = crypto_fail(what, ei);
		goto fail;
	}
	r = PCRGATE_OK;
fail:
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(k);
	return r;
}

/*
 * KDFa (Part 1, 11.4.10.2): SP 800-108 counter mode with HMAC, a 32-bit counter, the label
 * and a zero byte, the context, and the length in bits: exactly OpenSSL's KBKDF defaults.
 */
static int kdfa(const char *md, const uint8_t *key, size_t keylen, const char *label, const uint8_t *ctx,
		size_t ctxlen, uint8_t *out, size_t outlen, pcrgate_errinfo *ei)
{
	OSSL_PARAM params[7], *p = params;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MODE, (char *)"COUNTER", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_MAC, (char *)"HMAC", 0);
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)key, keylen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)label, strlen(label));
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)ctx, ctxlen);
	*p = OSSL_PARAM_construct_end();
	return kdf_derive("KBKDF", "KDFa", params, out, outlen, ei);
}

/*
 * KDFe (Part 1, 11.4.10.3): H(counter || Z || label || partyU || partyV), the SP 800-56A
 * one-step KDF, which is OpenSSL's SSKDF with the fixed info label || U || V.
 */
static int kdfe(const char *md, const uint8_t *z, size_t zlen, const uint8_t *u, size_t ulen, const uint8_t *v,
		size_t vlen, uint8_t *out, size_t outlen, pcrgate_errinfo *ei)
{
	uint8_t info[sizeof(IDENTITY_LABEL) + 2 * 66];
	OSSL_PARAM params[4], *p = params;
	size_t n = sizeof(IDENTITY_LABEL);

	if (ulen > 66 || vlen > 66)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "ECC coordinate too long");
	memcpy(info, IDENTITY_LABEL, n);
	memcpy(info + n, u, ulen);
	memcpy(info + n + ulen, v, vlen);
	n += ulen + vlen;
	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)md, 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)z, zlen);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info, n);
	*p = OSSL_PARAM_construct_end();
	return kdf_derive("SSKDF", "KDFe", params, out, outlen, ei);
}

/* RSA EK: the seed encrypted with OAEP, the EK's nameAlg for hash and MGF1, label "IDENTITY\0". */
static int seed_rsa(EVP_PKEY *ek, const char *md, uint8_t *seed, size_t seedlen, TPM2B_ENCRYPTED_SECRET *enc,
		    pcrgate_errinfo *ei)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL);
	unsigned char *label = OPENSSL_memdup(IDENTITY_LABEL, sizeof(IDENTITY_LABEL));
	size_t outlen = sizeof(enc->secret);
	int r;

	if (RAND_bytes(seed, (int)seedlen) != 1) {
		r = crypto_fail("RAND_bytes", ei);
		goto fail;
	}
	if (ctx == NULL || label == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, md, NULL) != 1 || EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, md, NULL) != 1 ||
	    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, sizeof(IDENTITY_LABEL)) != 1) {
		r = crypto_fail("RSA-OAEP setup", ei);
		goto fail;
	}
	label = NULL; /* owned by ctx now */
	if (EVP_PKEY_encrypt(ctx, enc->secret, &outlen, seed, seedlen) != 1) {
		r = crypto_fail("RSA-OAEP encryption of the seed", ei);
		goto fail;
	}
	enc->size = (UINT16)outlen;
	r = PCRGATE_OK;
fail:
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	return r;
}

/* The coordinates x and y of an EC key's public point, each left-padded to the field size. */
static int ec_point(EVP_PKEY *key, uint8_t *x, size_t *xlen, uint8_t *y, size_t *ylen, pcrgate_errinfo *ei)
{
	BIGNUM *bx = NULL, *by = NULL;
	size_t n = (size_t)(EVP_PKEY_get_bits(key) + 7) / 8;
	int r = PCRGATE_OK;

	if (n == 0 || n > 66 || EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_X, &bx) != 1 ||
	    EVP_PKEY_get_bn_param(key, OSSL_PKEY_PARAM_EC_PUB_Y, &by) != 1 || BN_bn2binpad(bx, x, (int)n) < 0 ||
	    BN_bn2binpad(by, y, (int)n) < 0)
		r = crypto_fail("reading an EC point", ei);
	else
		*xlen = *ylen = n;
	BN_free(bx);
	BN_free(by);
	return r;
}

/*
 * ECC EK (Part 1, C.6.4): an ephemeral key on the EK's curve; Z = x of d_e * Q_EK; seed =
 * KDFe(nameAlg, Z, "IDENTITY", x_e, x_EK); the encrypted secret is the ephemeral point.
 */
static int seed_ecc(EVP_PKEY *ek, const TPMT_PUBLIC *pub, const char *md, uint8_t *seed, size_t seedlen,
		    TPM2B_ENCRYPTED_SECRET *enc, pcrgate_errinfo *ei)
{
	EVP_PKEY_CTX *gctx = EVP_PKEY_CTX_new_from_pkey(NULL, ek, NULL), *dctx = NULL;
	EVP_PKEY *eph = NULL;
	TPMS_ECC_POINT point = {0};
	uint8_t z[66], x[66], y[66];
	size_t zlen = sizeof(z), xlen = 0, ylen = 0, off = 0;
	int r;

	if (gctx == NULL || EVP_PKEY_keygen_init(gctx) != 1 || EVP_PKEY_keygen(gctx, &eph) != 1) {
		r = crypto_fail("ephemeral EC key generation", ei);
		goto fail;
	}
	if ((dctx = EVP_PKEY_CTX_new_from_pkey(NULL, eph, NULL)) == NULL || EVP_PKEY_derive_init(dctx) != 1 ||
	    EVP_PKEY_derive_set_peer(dctx, ek) != 1 || EVP_PKEY_derive(dctx, z, &zlen) != 1) {
		r = crypto_fail("ECDH with the EK", ei);
		goto fail;
	}
	if ((r = ec_point(eph, x, &xlen, y, &ylen, ei)) != PCRGATE_OK)
		goto fail;
	if ((r = kdfe(md, z, zlen, x, xlen, pub->unique.ecc.x.buffer, pub->unique.ecc.x.size, seed, seedlen, ei)) !=
	    PCRGATE_OK)
		goto fail;
	point.x.size = (UINT16)xlen;
	memcpy(point.x.buffer, x, xlen);
	point.y.size = (UINT16)ylen;
	memcpy(point.y.buffer, y, ylen);
	if (Tss2_MU_TPMS_ECC_POINT_Marshal(&point, enc->secret, sizeof(enc->secret), &off) != TSS2_RC_SUCCESS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "ephemeral point does not fit");
		goto fail;
	}
	enc->size = (UINT16)off;
	r = PCRGATE_OK;
fail:
	OPENSSL_cleanse(z, sizeof(z));
	EVP_PKEY_CTX_free(dctx);
	EVP_PKEY_CTX_free(gctx);
	EVP_PKEY_free(eph);
	return r;
}

/* The EK must be a restricted decryption key with AES-CFB: what TPM2_ActivateCredential requires. */
static int check_ek(const TPMT_PUBLIC *pub, const EVP_CIPHER **cipher, pcrgate_errinfo *ei)
{
	const TPMT_SYM_DEF_OBJECT *sym;
	const char *name;

	if (pub->type != TPM2_ALG_RSA && pub->type != TPM2_ALG_ECC)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "the EK is of type 0x%04x, not RSA or ECC", pub->type);
	if (!(pub->objectAttributes & TPMA_OBJECT_RESTRICTED) || !(pub->objectAttributes & TPMA_OBJECT_DECRYPT))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the EK is not a restricted decryption key");
	sym = pub->type == TPM2_ALG_RSA ? &pub->parameters.rsaDetail.symmetric : &pub->parameters.eccDetail.symmetric;
	if (sym->algorithm != TPM2_ALG_AES || sym->mode.aes != TPM2_ALG_CFB)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "the EK's symmetric algorithm is not AES-CFB");
	switch (sym->keyBits.aes) {
	case 128: name = "AES-128-CFB"; break;
	case 192: name = "AES-192-CFB"; break;
	case 256: name = "AES-256-CFB"; break;
	default:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "the EK's AES key size %u is not 128, 192 or 256", sym->keyBits.aes);
	}
	if ((*cipher = EVP_get_cipherbyname(name)) == NULL)
		return crypto_fail(name, ei);
	return PCRGATE_OK;
}

int credential_make(const TPM2B_PUBLIC *ek, const TPM2B_NAME *ak_name, const uint8_t *secret, size_t secret_len,
		    struct credential *out, pcrgate_errinfo *ei)
{
	const TPMT_PUBLIC *pub;
	const EVP_CIPHER *cipher = NULL;
	const char *md;
	EVP_PKEY *pkey = NULL;
	EVP_CIPHER_CTX *cctx = NULL;
	TPM2B_ENCRYPTED_SECRET enc = {0};
	TPM2B_DIGEST plain = {0};
	TPM2B_ID_OBJECT id = {0};
	uint8_t seed[PCRGATE_MAX_DIGEST], symkey[32], hmackey[PCRGATE_MAX_DIGEST], ident[sizeof(TPM2B_DIGEST)];
	uint8_t hmacbuf[sizeof(id.credential) + sizeof(ak_name->name)];
	uint8_t iv[16] = {0};
	size_t dlen, identlen = 0, off;
	unsigned hlen = 0;
	int n, fin, r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (ek == NULL || ak_name == NULL || secret == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "missing argument");
	if (secret_len == 0 || secret_len > CREDENTIAL_MAX_SECRET)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "a secret of %zu bytes; 1 to %d expected",
					   secret_len, CREDENTIAL_MAX_SECRET);
	if (ak_name->size < 2 || ak_name->size > sizeof(ak_name->name))
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the AK's name is %u bytes", ak_name->size);
	pub = &ek->publicArea;
	if ((r = check_ek(pub, &cipher, ei)) != PCRGATE_OK)
		return r;
	dlen = pcrgate_alg_digest_size(pub->nameAlg);
	if (dlen == 0 || (md = pcrgate_alg_openssl_name(pub->nameAlg)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "the EK's name algorithm 0x%04x is not supported", pub->nameAlg);
	if ((r = tpmobj_to_evp(pub, &pkey, ei)) != PCRGATE_OK)
		return r;
	r = pub->type == TPM2_ALG_RSA ? seed_rsa(pkey, md, seed, dlen, &enc, ei)
				      : seed_ecc(pkey, pub, md, seed, dlen, &enc, ei);
	if (r != PCRGATE_OK)
		goto fail;
	if ((r = kdfa(md, seed, dlen, STORAGE_LABEL, ak_name->name, ak_name->size, symkey,
		      (size_t)EVP_CIPHER_get_key_length(cipher), ei)) != PCRGATE_OK ||
	    (r = kdfa(md, seed, dlen, INTEGRITY_LABEL, NULL, 0, hmackey, dlen, ei)) != PCRGATE_OK)
		goto fail;
	/* encIdentity: the whole TPM2B_DIGEST, size included, AES-CFB with a zero IV. */
	plain.size = (UINT16)secret_len;
	memcpy(plain.buffer, secret, secret_len);
	off = 0;
	if (Tss2_MU_TPM2B_DIGEST_Marshal(&plain, ident, sizeof(ident), &off) != TSS2_RC_SUCCESS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the secret does not fit");
		goto fail;
	}
	identlen = off;
	if ((cctx = EVP_CIPHER_CTX_new()) == NULL || EVP_EncryptInit_ex(cctx, cipher, NULL, symkey, iv) != 1 ||
	    EVP_EncryptUpdate(cctx, ident, &n, ident, (int)identlen) != 1 || EVP_EncryptFinal_ex(cctx, ident + n, &fin) != 1 ||
	    (size_t)(n + fin) != identlen) {
		r = crypto_fail("AES-CFB encryption of the credential", ei);
		goto fail;
	}
	/* integrityHMAC = HMAC_nameAlg(hmacKey, encIdentity || name). */
	memcpy(hmacbuf, ident, identlen);
	memcpy(hmacbuf + identlen, ak_name->name, ak_name->size);
	off = 2;
	if (HMAC(EVP_get_digestbyname(md), hmackey, (int)dlen, hmacbuf, identlen + ak_name->size, id.credential + off,
		 &hlen) == NULL || hlen != dlen) {
		r = crypto_fail("integrity HMAC", ei);
		goto fail;
	}
	pcrgate_store_be(id.credential, hlen, 2);
	memcpy(id.credential + off + hlen, ident, identlen);
	id.size = (UINT16)(off + hlen + identlen);
	off = 0;
	if (Tss2_MU_TPM2B_ID_OBJECT_Marshal(&id, out->blob, sizeof(out->blob), &off) != TSS2_RC_SUCCESS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the credential does not fit");
		goto fail;
	}
	out->blob_len = off;
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Marshal(&enc, out->secret, sizeof(out->secret), &off) != TSS2_RC_SUCCESS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the encrypted seed does not fit");
		goto fail;
	}
	out->secret_len = off;
	r = PCRGATE_OK;
fail:
	OPENSSL_cleanse(seed, sizeof(seed));
	OPENSSL_cleanse(symkey, sizeof(symkey));
	OPENSSL_cleanse(hmackey, sizeof(hmackey));
	OPENSSL_cleanse(&plain, sizeof(plain));
	OPENSSL_cleanse(hmacbuf, sizeof(hmacbuf));
	EVP_CIPHER_CTX_free(cctx);
	EVP_PKEY_free(pkey);
	return r;
}

int credential_tpm2tools_file(const struct credential *cred, uint8_t *buf, size_t cap, size_t *len)
{
	static const uint8_t header[8] = {0xba, 0xdc, 0xc0, 0xde, 0, 0, 0, 1};
	size_t need;

	if (cred == NULL || buf == NULL || len == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	need = sizeof(header) + cred->blob_len + cred->secret_len;
	if (cap < need)
		return PCRGATE_ERR_LIMIT;
	memcpy(buf, header, sizeof(header));
	memcpy(buf + sizeof(header), cred->blob, cred->blob_len);
	memcpy(buf + sizeof(header) + cred->blob_len, cred->secret, cred->secret_len);
	*len = need;
	return PCRGATE_OK;
}
