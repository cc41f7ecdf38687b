/*
 * pcrgate verifier: a release's content key wrapped to a device's update key, RSA-OAEP with
 * SHA-256 for the hash and MGF1 and the label the agent's unwrap passes to TPM2_RSA_Decrypt
 * (POLICY_OAEP_LABEL, its final NUL included): the TPM compares labels, so one byte of
 * difference makes every unwrap fail.
 */
#include "config.h"

#include "verifier/keywrap.h"

#include <string.h>

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "attest/policy.h"
#include "attest/tpmobj.h"

int keywrap_wrap(const TPM2B_PUBLIC *update_key, const uint8_t *key, size_t key_len, uint8_t *out, size_t cap,
		 size_t *outlen, pcrgate_errinfo *ei)
{
	const TPMT_PUBLIC *pub;
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	unsigned char *label = NULL;
	size_t n;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (update_key == NULL || key == NULL || out == NULL || outlen == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "missing argument");
	if (key_len != KEYWRAP_CONTENT_KEY_SIZE)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "a content key of %zu bytes; %d expected", key_len,
					   KEYWRAP_CONTENT_KEY_SIZE);
	pub = &update_key->publicArea;
	if (pub->type != TPM2_ALG_RSA || !(pub->objectAttributes & TPMA_OBJECT_DECRYPT) ||
	    (pub->objectAttributes & TPMA_OBJECT_RESTRICTED))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the update key is not an unrestricted RSA decryption key");
	if (pub->parameters.rsaDetail.scheme.scheme != TPM2_ALG_NULL &&
	    (pub->parameters.rsaDetail.scheme.scheme != TPM2_ALG_OAEP ||
	     pub->parameters.rsaDetail.scheme.details.oaep.hashAlg != TPM2_ALG_SHA256))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the update key's scheme is not OAEP with SHA-256");
	n = pub->unique.rsa.size;
	if (cap < n)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "%zu bytes for a %zu-byte ciphertext", cap, n);
	if ((r = tpmobj_to_evp(pub, &pkey, ei)) != PCRGATE_OK)
		return r;
	if ((ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    (label = OPENSSL_memdup(POLICY_OAEP_LABEL, POLICY_OAEP_LABEL_SIZE)) == NULL ||
	    EVP_PKEY_encrypt_init(ctx) != 1 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) != 1 ||
	    EVP_PKEY_CTX_set_rsa_oaep_md_name(ctx, "SHA256", NULL) != 1 ||
	    EVP_PKEY_CTX_set_rsa_mgf1_md_name(ctx, "SHA256", NULL) != 1 ||
	    EVP_PKEY_CTX_set0_rsa_oaep_label(ctx, label, POLICY_OAEP_LABEL_SIZE) != 1) {
		pcrgate_log_openssl(__func__, "RSA-OAEP setup");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "RSA-OAEP setup failed");
		goto fail;
	}
	label = NULL; /* owned by ctx now */
	if (EVP_PKEY_encrypt(ctx, out, &n, key, key_len) != 1) {
		pcrgate_log_openssl(__func__, "RSA-OAEP encryption");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "RSA-OAEP encryption failed");
		goto fail;
	}
	*outlen = n;
	r = PCRGATE_OK;
fail:
	OPENSSL_free(label);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}
