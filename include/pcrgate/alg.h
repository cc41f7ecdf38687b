/* pcrgate: the TPM hash algorithms (PCR banks) pcrgate knows, by TPM_ALG_ID. */
#ifndef PCRGATE_ALG_H
#define PCRGATE_ALG_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/common.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCRGATE_ALG_SHA1 0x0004
#define PCRGATE_ALG_SHA256 0x000B
#define PCRGATE_ALG_SHA384 0x000C
#define PCRGATE_ALG_SHA512 0x000D
#define PCRGATE_ALG_SM3_256 0x0012

#define PCRGATE_MAX_DIGEST 64 /* SHA-512 */
#define PCRGATE_MAX_BANKS 8   /* distinct banks one log or quote may carry */
#define PCRGATE_MAX_PCRS 32   /* PCR indices 0..31 */

/* The TCG name ("sha1", "sha256", "sha384", "sha512", "sm3_256"), or NULL when unknown. */
PCRGATE_API const char *pcrgate_alg_name(uint16_t alg);
/* Room for pcrgate_alg_label's text. */
#define PCRGATE_ALG_LABEL_MAX 8
/* The TCG name, or the id as "0x%04x" written into buf when the algorithm is unknown: for messages. */
PCRGATE_API const char *pcrgate_alg_label(uint16_t alg, char buf[PCRGATE_ALG_LABEL_MAX]);
/* Algorithm id for a TCG name; 0 when unknown. */
PCRGATE_API uint16_t pcrgate_alg_from_name(const char *name);
/* Digest size in bytes, or 0 when unknown. */
PCRGATE_API size_t pcrgate_alg_digest_size(uint16_t alg);
/* OpenSSL's digest name for EVP_MD_fetch, or NULL. */
PCRGATE_API const char *pcrgate_alg_openssl_name(uint16_t alg);

/* One-shot digest of data into out (pcrgate_alg_digest_size(alg) bytes). */
PCRGATE_API int pcrgate_digest(uint16_t alg, const void *data, size_t len, uint8_t *out);
/* pcr := H(pcr || digest), both of the bank's digest size. */
PCRGATE_API int pcrgate_pcr_extend(uint16_t alg, uint8_t *pcr, const uint8_t *digest);

#ifdef __cplusplus
}
#endif
#endif
