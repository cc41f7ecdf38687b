/*
 * pcrgate (internal): signed PCR policies, computed in software so that the vendor signs them
 * without a TPM and the device checks them before it asks its TPM.
 *
 * The update key's authPolicy is PolicyAuthorize(vendor policy key, policyRef), policyRef
 * naming the anti-rollback counter. A release's approved policy is
 * PolicyPCR(expected PCRs) then PolicyNV(counter <= security version); the vendor signs
 * aHash = SHA-256(approvedPolicy || policyRef). docs/agent.md gives every byte.
 */
#ifndef PCRGATE_ATTEST_POLICY_H
#define PCRGATE_ATTEST_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"

/* policyRef: this prefix then the counter's index as 0x%08x, e.g. "pcrgate-counter:0x01500100". */
#define POLICY_REF_PREFIX "pcrgate-counter:"
/* The OAEP label a content key is wrapped to the update key with, including its final NUL. */
#define POLICY_OAEP_LABEL "pcrgate-update-key"
#define POLICY_OAEP_LABEL_SIZE (sizeof(POLICY_OAEP_LABEL))
/* A signed policy document's size cap. */
#define POLICY_FILE_MAX (64u * 1024)
#define POLICY_FORMAT "pcrgate-signed-policy"

/*
 * The anti-rollback counter's attributes: TPM_NT_COUNTER; read with the owner's (empty)
 * authorization, which pcrgate-boot and PolicyNV use; written only with the index's own
 * authValue, a secret in the agent's state directory; exempt from dictionary-attack
 * lockout, which a 32-byte random secret does not need.
 */
#define POLICY_COUNTER_ATTRS                                                                                   \
	((TPMA_NV)((TPM2_NT_COUNTER << TPMA_NV_TPM2_NT_SHIFT) | TPMA_NV_OWNERREAD | TPMA_NV_AUTHWRITE |        \
		   TPMA_NV_NO_DA))

/* The counter's public area at index (with TPMA_NV_WRITTEN when written) and its TPM name. */
void policy_counter_public(uint32_t index, int written, TPM2B_NV_PUBLIC *out);
int policy_counter_name(uint32_t index, int written, TPM2B_NAME *out);

void policy_ref(uint32_t index, TPM2B_NONCE *out);

/* authPolicy of the update key: PolicyAuthorize(key_name, ref) from a zero digest. */
int policy_authorize_digest(const TPM2B_NAME *key_name, const TPM2B_NONCE *ref, TPM2B_DIGEST *out);

/* The selection (banks as pcrs orders them, PCRs 0-23) and the SHA-256 of its values in TPM order. */
int policy_pcr_selection(const pcrgate_pcrs *pcrs, TPML_PCR_SELECTION *sel, TPM2B_DIGEST *pcr_digest,
			 pcrgate_errinfo *ei);
/* PolicyPCR and PolicyNV applied to digest in place (SHA-256 policies). */
int policy_update_pcr(TPM2B_DIGEST *digest, const TPML_PCR_SELECTION *sel, const TPM2B_DIGEST *pcr_digest);
int policy_update_nv(TPM2B_DIGEST *digest, const TPM2B_OPERAND *operand, uint16_t offset, uint16_t operation,
		     const TPM2B_NAME *nv_name);
/* operandB of the release's PolicyNV: the security version, 8 bytes big-endian. */
void policy_version_operand(uint64_t version, TPM2B_OPERAND *out);
/* The approved policy: PolicyPCR then PolicyNV(counter <= version, unsigned), from a zero digest. */
int policy_approved_digest(const TPML_PCR_SELECTION *sel, const TPM2B_DIGEST *pcr_digest, const TPM2B_NAME *nv_name,
			   uint64_t version, TPM2B_DIGEST *out);
/* What the vendor signs: SHA-256(approved || ref). */
int policy_ahash(const TPM2B_DIGEST *approved, const TPM2B_NONCE *ref, uint8_t out[32]);

/* A signed policy, as read from its document and checked in software. */
struct signed_policy {
	TPM2B_DIGEST approved;
	TPM2B_NONCE ref;
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST pcr_digest;
	uint32_t nv_index;
	uint64_t version;
	TPM2B_NAME nv_name;
	TPM2B_PUBLIC key; /* the signing key, as loaded into the TPM */
	TPM2B_NAME key_name;
	TPMT_SIGNATURE signature;
};

/*
 * Signs the policy of a release: the expected PCR values pcrs, the counter at index and
 * the release's security version. key is the vendor's private key (any provider); *out
 * gets the document.
 */
int policy_sign(const pcrgate_pcrs *pcrs, uint64_t version, uint32_t index, EVP_PKEY *key, json_t **out,
		pcrgate_errinfo *ei);
/*
 * Reads a signed policy document and checks it whole: every member, the counter's name
 * for its index, policyRef for that counter, the approved digest recomputed, the key's name
 * and the signature. The TPM checks the signature again when the policy is used.
 */
int policy_parse(const uint8_t *buf, size_t len, struct signed_policy *out, pcrgate_errinfo *ei);

#endif
