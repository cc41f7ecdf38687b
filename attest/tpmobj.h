/*
 * pcrgate-agent (internal): TPM object public areas. The templates of the objects the agent
 * provisions (TCG EK templates L-1 and L-2, the SRK, the AK, the update key), their
 * comparison with what a TPM holds, TPM names computed in software, and conversion between
 * TPM public areas and OpenSSL keys. Shared by the agent and by `pcrgate policy`, which
 * needs no TPM.
 */
#ifndef PCRGATE_ATTEST_TPMOBJ_H
#define PCRGATE_ATTEST_TPMOBJ_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/common.h"

/* The EK templates' authPolicy: PolicySecret(TPM_RH_ENDORSEMENT) (TCG EK Credential Profile). */
extern const uint8_t tpmobj_ek_policy[32];

/* TCG EK Credential Profile template L-1 (RSA 2048) or L-2 (ECC NIST P-256). */
int tpmobj_template_ek(uint16_t alg, TPM2B_PUBLIC *out);
/* The TCG storage root key template: the EK's, with userWithAuth and noDA, without a policy. */
int tpmobj_template_srk(uint16_t alg, TPM2B_PUBLIC *out);
/* The AK: restricted signing key, ECDSA P-256 or RSASSA 2048, both with SHA-256. */
int tpmobj_template_ak(uint16_t alg, TPM2B_PUBLIC *out);
/*
 * The TLS client key: an unrestricted ECDSA P-256 (SHA-256) signing key, fixedTPM, used with
 * its empty authValue (through the tpm2-openssl provider) to authenticate TLS connections.
 */
int tpmobj_template_tls_key(TPM2B_PUBLIC *out);
/*
 * The update key: RSA 2048 decryption key (OAEP-SHA256 only) usable by policy alone
 * (userWithAuth clear) whose authPolicy is policy.
 */
int tpmobj_template_update_key(const TPM2B_DIGEST *policy, TPM2B_PUBLIC *out);

/*
 * Compares a public area with a template: type, nameAlg, objectAttributes, authPolicy and
 * parameters (not the key itself). 0 when equal, else PCRGATE_ERR_VERIFY with why (cap bytes)
 * naming the first difference.
 */
int tpmobj_matches(const TPMT_PUBLIC *have, const TPMT_PUBLIC *want, char *why, size_t cap);

/* A public area's TPM name: nameAlg || H_nameAlg(marshalled TPMT_PUBLIC). */
int tpmobj_name(const TPMT_PUBLIC *pub, TPM2B_NAME *name);
/* A qualified name: nameAlg || H_nameAlg(parent_qn || name). */
int tpmobj_qualified_name(uint16_t name_alg, const TPM2B_NAME *parent_qn, const TPM2B_NAME *name,
			  TPM2B_NAME *out);

/* OpenSSL key of a public area (RSA, or ECC P-256/P-384/P-521). */
int tpmobj_to_evp(const TPMT_PUBLIC *pub, EVP_PKEY **out, pcrgate_errinfo *ei);
/*
 * The public area under which a vendor's policy signing key is loaded into a TPM
 * (TPM2_LoadExternal), fixed so that signer and device compute the same name: nameAlg
 * SHA-256, attributes userWithAuth|sign|decrypt (as tpm2_loadexternal gives a PEM key), no
 * policy, null scheme and symmetric, RSA exponent 0 for 65537, ECC coordinates padded to
 * the field size.
 */
int tpmobj_from_evp(EVP_PKEY *pkey, TPM2B_PUBLIC *out, pcrgate_errinfo *ei);

/* Marshal / unmarshal helpers: the whole buffer must be one structure. */
int tpmobj_public_marshal(const TPM2B_PUBLIC *pub, uint8_t *buf, size_t cap, size_t *len);
int tpmobj_public_unmarshal(const uint8_t *buf, size_t len, TPM2B_PUBLIC *pub, pcrgate_errinfo *ei);

/* A signature made by pkey with OpenSSL (RSA PKCS#1 v1.5 raw, ECDSA DER) as a TPMT_SIGNATURE. */
int tpmobj_signature_from_der(EVP_PKEY *pkey, uint16_t hash_alg, const uint8_t *sig, size_t len,
			      TPMT_SIGNATURE *out, pcrgate_errinfo *ei);
/* Verifies a TPMT_SIGNATURE over a digest with a public key (RSASSA, RSAPSS, ECDSA). */
int tpmobj_verify_digest(EVP_PKEY *pkey, const TPMT_SIGNATURE *sig, const uint8_t *digest, size_t len,
			 pcrgate_errinfo *ei);

#endif
