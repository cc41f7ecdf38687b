/*
 * pcrgate-agent: credential activation for enrollment. The verifier protects a secret to this
 * TPM's EK and the AK's name (TPM2_MakeCredential in software); TPM2_ActivateCredential gives
 * it back only when the EK's private part and the named AK are in this one TPM, which is what
 * convinces the verifier that the AK it enrolls lives beside the EK its certificate vouches for.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <tss2/tss2_mu.h>

#include "tpmobj.h"
#include "tpmutil.h"

uint16_t agent_activate_ek_alg(const struct agent_config *cfg)
{
	return (cfg->eks & AGENT_EK_RSA) || !(cfg->eks & AGENT_EK_ECC) ? TPM2_ALG_RSA : TPM2_ALG_ECC;
}

/* The configured EK, checked against the TCG template: its authPolicy must be PolicySecret(endorsement). */
static int open_ek(ESYS_CONTEXT *esys, const struct agent_config *cfg, ESYS_TR *ek, pcrgate_errinfo *ei)
{
	uint16_t alg = agent_activate_ek_alg(cfg);
	uint32_t handle = alg == TPM2_ALG_RSA ? cfg->ek_rsa_handle : cfg->ek_ecc_handle;
	TPM2B_PUBLIC want, have;
	ESYS_TR t = ESYS_TR_NONE;
	char why[160], h[11];
	int r;

	if ((r = tpmutil_open_persistent(esys, handle, "EK", &t, &have, NULL, NULL, ei)) != PCRGATE_OK)
		return r;
	if (tpmobj_template_ek(alg, &want) != PCRGATE_OK ||
	    tpmobj_matches(&have.publicArea, &want.publicArea, why, sizeof(why)) != PCRGATE_OK) {
		tpmutil_close(esys, &t);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the object at %s is not the EK pcrgate provisions: %s",
					   tpmutil_handle_str(handle, h), why);
	}
	*ek = t;
	return PCRGATE_OK;
}

/* The verifier's two structures, each exactly one marshalled TPM2B. */
static int parse_inputs(const uint8_t *blob, size_t bloblen, const uint8_t *secret, size_t secretlen,
			TPM2B_ID_OBJECT *id, TPM2B_ENCRYPTED_SECRET *enc, pcrgate_errinfo *ei)
{
	size_t off = 0;

	if (blob == NULL || secret == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "missing credential");
	if (Tss2_MU_TPM2B_ID_OBJECT_Unmarshal(blob, bloblen, &off, id) != TSS2_RC_SUCCESS || off != bloblen)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "the credential blob is not one TPM2B_ID_OBJECT");
	off = 0;
	if (Tss2_MU_TPM2B_ENCRYPTED_SECRET_Unmarshal(secret, secretlen, &off, enc) != TSS2_RC_SUCCESS ||
	    off != secretlen)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off,
					   "the encrypted secret is not one TPM2B_ENCRYPTED_SECRET");
	return PCRGATE_OK;
}

/* What a refusal of TPM2_ActivateCredential means for enrollment. */
static int activate_error(TSS2_RC rc, pcrgate_errinfo *ei)
{
	uint32_t base = tpmutil_rc_base(rc);

	if (base == TPM2_RC_INTEGRITY) {
		pcrgate_tpm_error("TPM2_ActivateCredential", rc, NULL);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "TPM2_ActivateCredential: the credential is not for this TPM's EK and AK "
					   "(integrity check failed)");
	}
	if (base == TPM2_RC_VALUE || base == TPM2_RC_ECC_POINT || base == TPM2_RC_SIZE || base == TPM2_RC_NO_RESULT ||
	    base == TPM2_RC_KEY) {
		pcrgate_tpm_error("TPM2_ActivateCredential", rc, NULL);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "TPM2_ActivateCredential: the encrypted secret was not made for this TPM's EK");
	}
	return pcrgate_tpm_error("TPM2_ActivateCredential", rc, ei);
}

int agent_activate(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *blob, size_t bloblen,
		   const uint8_t *secret, size_t secretlen, uint8_t **out, size_t *outlen, pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	TPM2B_ID_OBJECT id;
	TPM2B_ENCRYPTED_SECRET enc;
	TPM2B_DIGEST *cert = NULL;
	ESYS_TR ak = ESYS_TR_NONE, ek = ESYS_TR_NONE, srk = ESYS_TR_NONE, session = ESYS_TR_NONE;
	uint8_t *buf;
	TSS2_RC rc;
	int r;

	if (tpm == NULL || cfg == NULL || out == NULL || outlen == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "missing argument");
	if ((r = parse_inputs(blob, bloblen, secret, secretlen, &id, &enc, ei)) != PCRGATE_OK)
		return r;
	if ((r = tpmutil_open_persistent(esys, cfg->ak_handle, "AK", &ak, NULL, NULL, NULL, ei)) != PCRGATE_OK ||
	    (r = open_ek(esys, cfg, &ek, ei)) != PCRGATE_OK || (r = tpmutil_open_srk(esys, cfg, &srk, ei)) != PCRGATE_OK)
		goto fail;
	/*
	 * One policy session, salted with the SRK, authorizes the EK and encrypts the parameters:
	 * the recovered secret leaves the TPM encrypted under a key only this session knows.
	 */
	if ((r = tpmutil_start_session(esys, srk, TPM2_SE_POLICY, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, &session,
				       ei)) != PCRGATE_OK)
		goto fail;
	PCRGATE_TPM_RETRY(rc, Esys_PolicySecret(esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
						ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL));
	if (rc != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("TPM2_PolicySecret (endorsement, for the EK)", rc, ei);
		goto fail;
	}
	PCRGATE_TPM_RETRY(rc, Esys_ActivateCredential(esys, ak, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &id, &enc,
						      &cert));
	if (rc != TSS2_RC_SUCCESS) {
		r = activate_error(rc, ei);
		goto fail;
	}
	if ((buf = malloc(cert->size ? cert->size : 1)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	memcpy(buf, cert->buffer, cert->size);
	*out = buf;
	*outlen = cert->size;
	r = PCRGATE_OK;
fail:
	if (cert != NULL) {
		OPENSSL_cleanse(cert, sizeof(*cert));
		Esys_Free(cert);
	}
	tpmutil_flush(esys, &session);
	tpmutil_close(esys, &srk);
	tpmutil_close(esys, &ek);
	tpmutil_close(esys, &ak);
	return r;
}
