/*
 * pcrgate-agent (internal): what provisioning makes, as a table that both `provision` and
 * `status` walk: each persistent object with its handle, hierarchy and template.
 */
#ifndef PCRGATE_ATTEST_PROVISION_H
#define PCRGATE_ATTEST_PROVISION_H

#include <tss2/tss2_esys.h>

#include "agent.h"

/* Where an object comes from: a primary key of a hierarchy, or a key created under the SRK. */
enum objspec_kind { OBJ_PRIMARY_ENDORSEMENT, OBJ_PRIMARY_OWNER, OBJ_CHILD_OF_SRK };

/* TCG EK certificate indices (TCG EK Credential Profile): RSA 2048 and ECC NIST P-256. */
#define EK_CERT_INDEX_RSA 0x01c00002u
#define EK_CERT_INDEX_ECC 0x01c0000au
/* The largest certificate read from NV. */
#define EK_CERT_MAX 4096u

struct objspec {
	const char *name; /* "ek-rsa", "ek-ecc", "srk", "ak", "update-key", "tls-key" */
	enum objspec_kind kind;
	uint32_t handle;
	uint32_t cert_index; /* EKs: where a manufacturer keeps its certificate; else 0 */
	TPM2B_PUBLIC tmpl;
};

#define OBJSPEC_MAX 6

/*
 * The objects of this configuration, in provisioning order (the counter comes between the
 * SRK and the AK). The update key's template needs the vendor's policy key: its name and
 * the authPolicy go to *policy_key_name and *update_policy (both may be NULL).
 */
int objspecs(const struct agent_config *cfg, struct objspec *specs, size_t *count, TPM2B_NAME *policy_key_name,
	     TPM2B_DIGEST *update_policy, pcrgate_errinfo *ei);

/*
 * Checks the object at spec->handle: 0 when it is the object of spec (for a child of the
 * SRK, also its qualified name under srk_qn), PCRGATE_ERR_NOT_FOUND when nothing is there,
 * PCRGATE_ERR_VERIFY naming the difference otherwise. pub, name and qn (may be NULL) get
 * what the TPM holds.
 */
int objspec_check(ESYS_CONTEXT *esys, const struct objspec *spec, const TPM2B_NAME *srk_qn, TPM2B_PUBLIC *pub,
		  TPM2B_NAME *name, TPM2B_NAME *qn, pcrgate_errinfo *ei);

/* Reads an EK certificate from NV; PCRGATE_ERR_NOT_FOUND when the index is not there or empty. */
int ek_cert_read(ESYS_CONTEXT *esys, uint32_t index, uint8_t *buf, size_t cap, size_t *len, pcrgate_errinfo *ei);

/* 1 when the DER certificate carries the key of pub, 0 when another, -1 when it cannot be parsed. */
int ek_cert_matches(const uint8_t *der, size_t len, const TPMT_PUBLIC *pub);

#endif
