/*
 * The benchmarks' raw OpenSSL reference: the least OpenSSL can do per quote, EVP_PKEY_verify of
 * the quote's signature with the AK's public key on one context made once, over the SHA-256 of
 * the attest structure computed once, with the padding pcrgate's verification uses. Shared by
 * bench/evidence and bench/verifier so both compare against the same figure.
 */
#ifndef PCRGATE_BENCH_RAWVERIFY_H
#define PCRGATE_BENCH_RAWVERIFY_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "../tests/unit/quote_util.h"

#define RAWVERIFY_SIG_MAX 600 /* an OpenSSL signature of the keys the benchmarks make */

struct rawverify {
	EVP_PKEY *pub;
	EVP_PKEY_CTX *ctx; /* not shared between threads: one rawverify per thread */
	uint8_t dgst[32];
	uint8_t sig[RAWVERIFY_SIG_MAX];
	size_t sig_len;
};

/*
 * Sets rv up to verify the TPMT_SIGNATURE tpm_sig (made by key over attest) as OpenSSL takes
 * it: bare for RSA, a DER SEQUENCE of r and s for ECDSA. Checks once that it verifies.
 */
int rawverify_setup(struct rawverify *rv, const struct qt_key *key, const uint8_t *attest, size_t attest_len,
		    const uint8_t *tpm_sig, size_t tpm_sig_len);
/* One verification: 0 when the signature verifies, -1 otherwise. */
int rawverify_once(const struct rawverify *rv);
void rawverify_free(struct rawverify *rv);

#endif
