/*
 * pcrgate verifier: TPM2_MakeCredential in software (TPM 2.0 Part 1, "Credential Protection"
 * and Annexes B and C). The verifier protects a secret to a device's EK and the name of the
 * AK it claims; only the TPM holding that EK, with that AK loaded, gives the secret back
 * (TPM2_ActivateCredential), which proves the EK and the AK share one TPM.
 */
#ifndef PCRGATE_VERIFIER_CREDENTIAL_H
#define PCRGATE_VERIFIER_CREDENTIAL_H

#include <stddef.h>
#include <stdint.h>

#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/common.h"

#define CREDENTIAL_MAX_SECRET 64 /* a TPM2B_DIGEST's buffer */
/* Marshalled sizes: a TPM2B_ID_OBJECT and a TPM2B_ENCRYPTED_SECRET at most. */
#define CREDENTIAL_MAX_BLOB (2 + sizeof(((TPM2B_ID_OBJECT *)0)->credential))
#define CREDENTIAL_MAX_ENC_SECRET (2 + sizeof(((TPM2B_ENCRYPTED_SECRET *)0)->secret))

/* What MakeCredential produces, marshalled (big-endian size, then the bytes). */
struct credential {
	uint8_t blob[CREDENTIAL_MAX_BLOB]; /* TPM2B_ID_OBJECT: integrityHMAC || encIdentity */
	size_t blob_len;
	uint8_t secret[CREDENTIAL_MAX_ENC_SECRET]; /* TPM2B_ENCRYPTED_SECRET: the seed, to the EK */
	size_t secret_len;
};

/*
 * MakeCredential of secret (1 to CREDENTIAL_MAX_SECRET bytes) for the object named
 * ak_name, protected to ek: an RSA EK (the seed RSA-OAEP encrypted with the EK's nameAlg,
 * label "IDENTITY") or an ECC EK (ephemeral ECDH on the EK's curve, KDFe), the EK being a
 * restricted decryption key with AES-128/192/256-CFB as its symmetric algorithm (the TCG EK
 * templates). The seed comes from the OpenSSL DRBG. *out is written only on success.
 */
int credential_make(const TPM2B_PUBLIC *ek, const TPM2B_NAME *ak_name, const uint8_t *secret, size_t secret_len,
		    struct credential *out, pcrgate_errinfo *ei);

/*
 * The credential as tpm2_makecredential writes its output file and tpm2_activatecredential
 * reads it: magic 0xBADCC0DE, version 1 (both 32-bit big-endian), the TPM2B_ID_OBJECT, the
 * TPM2B_ENCRYPTED_SECRET. *len gets the size; PCRGATE_ERR_LIMIT when cap is too small.
 */
int credential_tpm2tools_file(const struct credential *cred, uint8_t *buf, size_t cap, size_t *len);

#endif
