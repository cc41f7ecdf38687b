/*
 * pcrgate verifier: a release's content key wrapped to a device's update key. RSA-OAEP with
 * SHA-256 (and MGF1-SHA-256) and the label the agent's unwrap gives the TPM, to the update
 * key's public area as the AK certified it; only that TPM, in a state the release's signed
 * policy approves, can unwrap it (docs/agent.md, docs/enrollment.md).
 */
#ifndef PCRGATE_VERIFIER_KEYWRAP_H
#define PCRGATE_VERIFIER_KEYWRAP_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/common.h"

#define KEYWRAP_CONTENT_KEY_SIZE 32
#define KEYWRAP_MAX_WRAPPED 512 /* an RSA 4096 ciphertext */

/*
 * Wraps key (KEYWRAP_CONTENT_KEY_SIZE bytes) to update_key, which must be an RSA decryption
 * key whose scheme is OAEP with SHA-256 or null. out (cap bytes, at least the modulus size)
 * gets the ciphertext, *outlen its size.
 */
int keywrap_wrap(const TPM2B_PUBLIC *update_key, const uint8_t *key, size_t key_len, uint8_t *out, size_t cap,
		 size_t *outlen, pcrgate_errinfo *ei);

#endif
