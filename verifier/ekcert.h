/*
 * pcrgate verifier: EK certificates. Verifies a device's EK certificate (DER) against the
 * configured TPM manufacturers' CA certificates, building the chain through intermediates
 * found there, tolerating the EK certificate defects real TPMs ship with
 * (docs/enrollment.md lists each and why), and checks that the certified key is the EK
 * public area the device sent. A bad signature or an untrusted root is never tolerated.
 */
#ifndef PCRGATE_VERIFIER_EKCERT_H
#define PCRGATE_VERIFIER_EKCERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/common.h"

#define EKCERT_MAX_SIZE (16u * 1024)   /* one EK certificate, DER */
#define EKCERT_MAX_CA_FILES 1024       /* files read from a CA directory */
#define EKCERT_MAX_CA_FILE (256u * 1024) /* one CA file (PEM, may hold several certificates) */

/* Defects of a certificate (or its chain) that verification tolerated; bits of ekcert_result.defects. */
enum {
	EKCERT_DEFECT_CRITICAL_EXT = 1u << 0, /* a critical extension OpenSSL does not handle (TCG SAN/EKU, ...) */
	EKCERT_DEFECT_EXPIRED = 1u << 1,      /* the EK certificate or a CA is outside its validity */
	EKCERT_DEFECT_SERIAL = 1u << 2,       /* serial number negative, zero or longer than 20 bytes */
	EKCERT_DEFECT_ENCODING = 1u << 3,     /* not DER: verified over the TBS bytes as sent */
};

/* The trusted manufacturer CAs, loaded once; safe to share between threads once loaded. */
typedef struct ekcert_trust ekcert_trust;

/*
 * Loads CA certificates from path: a PEM file (one or more certificates) or a directory
 * whose every regular file with a .pem, .crt, .cer or .der name is read (PEM or DER).
 * Self-signed ones are trust anchors, the others intermediates used to build chains. A file
 * that does not parse is an error naming it (a CA directory is configuration).
 */
int ekcert_trust_load(const char *path, ekcert_trust **out, pcrgate_errinfo *ei);
void ekcert_trust_free(ekcert_trust **trust);
/* How many certificates were loaded: anchors and intermediates. */
void ekcert_trust_count(const ekcert_trust *trust, size_t *anchors, size_t *intermediates);

/* What a verified EK certificate establishes. */
struct ekcert_result {
	EVP_PKEY *pkey;	       /* the certified EK public key; owned, freed by ekcert_result_clear */
	unsigned defects;      /* EKCERT_DEFECT_* tolerated */
	char issuer[256];      /* one-line names, for logs and the audit trail */
	char anchor[256];      /* the trusted root the chain ends at */
};

/*
 * Verifies an EK certificate (DER, at most EKCERT_MAX_SIZE) against trust. 0 and *res
 * filled when it chains to a trusted root with good signatures throughout; otherwise
 * PCRGATE_ERR_FORMAT (does not parse) or PCRGATE_ERR_VERIFY (untrusted, bad signature, not
 * an EK certificate's key type), ei naming why.
 */
int ekcert_verify_trust(const ekcert_trust *trust, const uint8_t *der, size_t len, struct ekcert_result *res,
			pcrgate_errinfo *ei);
/* The same with the CAs read from ca_path (a directory or a file) for this one call. */
int ekcert_verify(const uint8_t *der, size_t len, const char *ca_path, struct ekcert_result *res,
		  pcrgate_errinfo *ei);
/* Frees what a result holds and zeroes it; NULL-safe. */
void ekcert_result_clear(struct ekcert_result *res);

/*
 * Checks that a certified key is the key of an EK public area (RSA: modulus and exponent,
 * exponent 0 meaning 65537; ECC: curve and point). 0 when equal, else PCRGATE_ERR_VERIFY.
 */
int ekcert_match_public(EVP_PKEY *pkey, const TPM2B_PUBLIC *ek, pcrgate_errinfo *ei);

#endif
