/*
 * pcrgate: the attestation key's private representation, shared by the key loader (akpub.c)
 * and the quote verifier (quote.c). Internal to the library.
 */
#ifndef PCRGATE_AKPUB_INTERNAL_H
#define PCRGATE_AKPUB_INTERNAL_H

#include <pthread.h>

#include <openssl/evp.h>

#include "pcrgate/quote.h"

/* Verification contexts kept ready per (scheme, hash): EVP_PKEY_verify_init is costly in OpenSSL 3. */
#define AKPUB_MAX_CTX 4

struct akpub_ctx {
	uint16_t sig_alg;
	uint16_t hash_alg;
	EVP_PKEY_CTX *ctx;
};

struct pcrgate_akpub {
	int format;
	EVP_PKEY *pkey;
	uint16_t key_type;
	unsigned bits;
	size_t field_bytes; /* ECC: bytes of a coordinate, the most an ECDSA r or s may take */

	int has_tpm; /* loaded from a TPM public area: the fields below are known */
	uint32_t attributes;
	uint16_t scheme;
	uint16_t scheme_hash;
	uint8_t name[PCRGATE_QUOTE_MAX_NAME];
	size_t name_len;

	/* Guards ctxs: a key may verify quotes from several threads at once. */
	pthread_mutex_t lock;
	size_t nctx;
	struct akpub_ctx ctxs[AKPUB_MAX_CTX];
};

/*
 * Verifies sig over the digest dgst (of hash_alg) with the AK under the scheme sig_alg
 * (RSA signatures as raw bytes, ECDSA as DER). Returns 0 when valid, PCRGATE_ERR_VERIFY when
 * not, another error when OpenSSL fails.
 */
int akpub_verify_digest(const struct pcrgate_akpub *ak, uint16_t sig_alg, uint16_t hash_alg,
			const uint8_t *sig, size_t siglen, const uint8_t *dgst, size_t dgstlen);

/*
 * The TPM name of a marshalled TPM2B_PUBLIC of an RSA or ECC key, framed and unmarshalled as
 * pcrgate_akpub_load does, without building the OpenSSL key: for a caller that only needs to
 * know the document names its key consistently. *name and *name_len written only on success.
 */
int akpub_tpm2b_name(const uint8_t *buf, size_t len, uint8_t name[PCRGATE_QUOTE_MAX_NAME], size_t *name_len,
		     pcrgate_errinfo *ei);

#endif
