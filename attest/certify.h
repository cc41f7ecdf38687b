/*
 * pcrgate (internal): the AK's certification of the update key. The agent has the AK sign a
 * TPM2_Certify of the update key; a verifier checks, without a TPM, that the AK signed it for
 * its nonce, that the certified name is the name of the public area that comes with it, that
 * the AK and the key are children of one parent (so the key lives in the AK's TPM: fixedTPM),
 * and that the key is the update key pcrgate makes, with exactly the expected authPolicy. The
 * same document certifies the device's TLS client key (any key the agent keeps under the SRK).
 */
#ifndef PCRGATE_ATTEST_CERTIFY_H
#define PCRGATE_ATTEST_CERTIFY_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/common.h"

#define CERTIFY_FORMAT "pcrgate-certify"
#define CERTIFY_FILE_MAX (64u * 1024)

/* What a verified certification establishes. */
struct certify_result {
	TPM2B_PUBLIC key;	   /* the certified key's public area */
	TPM2B_NAME key_name;	   /* its TPM name, which the AK certified */
	TPM2B_DIGEST auth_policy;  /* its authPolicy, equal to the expected one */
	TPM2B_NAME ak_name;	   /* the AK that signed */
	TPM2B_NAME ak_qualified;   /* its qualified name (a quote's qualifiedSigner) */
	uint64_t clock;		   /* the TPM's clock at the certification */
	uint32_t reset_count;
	uint32_t restart_count;
};

/*
 * Verifies a certification document. policy_key_name and counter_index give the expected
 * authPolicy, PolicyAuthorize(policy key, policyRef of the counter). nonce (nonce_len bytes;
 * NULL skips the check) must be the qualifyingData. enrolled_ak, when not NULL, is the AK the
 * verifier enrolled: the document's AK must be it. Returns 0 when every check passes,
 * PCRGATE_ERR_VERIFY (ei names the check) or PCRGATE_ERR_FORMAT otherwise.
 */
int certify_verify(const uint8_t *doc, size_t len, const TPM2B_NAME *policy_key_name, uint32_t counter_index,
		   const uint8_t *nonce, size_t nonce_len, const TPM2B_PUBLIC *enrolled_ak, struct certify_result *res,
		   pcrgate_errinfo *ei);

/*
 * The same checks for any certified key: the key must match the template expected (type,
 * attributes, authPolicy, parameters); what names it in errors ("TLS client key").
 */
int certify_verify_key(const uint8_t *doc, size_t len, const TPMT_PUBLIC *expected, const char *what,
		       const uint8_t *nonce, size_t nonce_len, const TPM2B_PUBLIC *enrolled_ak, struct certify_result *res,
		       pcrgate_errinfo *ei);

#endif
