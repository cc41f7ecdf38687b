/*
 * pcrgate-agent: using the update key under a signed policy. The policy document is checked
 * in software first (policy_parse), then satisfied in the TPM in one salted policy session:
 * TPM2_PolicyPCR (the TPM compares its PCRs with the policy's values), TPM2_PolicyNV (the
 * anti-rollback counter must not exceed the release's security version), then
 * TPM2_PolicyAuthorize with the ticket of TPM2_VerifySignature (the TPM itself checks the
 * vendor's signature over the approved policy). Only then does TPM2_RSA_Decrypt run, with
 * the ciphertext and the plaintext parameter-encrypted on the bus.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "counter.h"
#include "policy.h"
#include "tpmobj.h"
#include "tpmutil.h"

/* Checks that the policy is for this device: its counter, and the key its update key was made for. */
static int policy_for_device(const struct agent_config *cfg, const struct signed_policy *sp, const TPM2B_PUBLIC *key,
			     pcrgate_errinfo *ei)
{
	TPM2B_PUBLIC vendor;
	TPM2B_NAME vname;
	TPM2B_NONCE ref;
	TPM2B_DIGEST want;
	EVP_PKEY *pkey = NULL;
	char a[2 * sizeof(vname.name) + 1], b[2 * sizeof(vname.name) + 1];
	int r;

	if (sp->nv_index != cfg->counter_index)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the policy is for counter 0x%08x; this device's is 0x%08x",
					   (unsigned)sp->nv_index, (unsigned)cfg->counter_index);
	if ((r = pcrgate_key_load(cfg->policy_key, 0, &pkey, ei)) != PCRGATE_OK)
		return r;
	r = tpmobj_from_evp(pkey, &vendor, ei);
	EVP_PKEY_free(pkey);
	if (r != PCRGATE_OK)
		return r;
	if (tpmobj_name(&vendor.publicArea, &vname) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot name the policy key");
	if (vname.size != sp->key_name.size || !pcrgate_ct_equal(vname.name, sp->key_name.name, vname.size)) {
		pcrgate_hex_encode(sp->key_name.name, sp->key_name.size, a);
		pcrgate_hex_encode(vname.name, vname.size, b);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the policy is signed by key %s, not by the configured policy key %s", a, b);
	}
	policy_ref(cfg->counter_index, &ref);
	if (policy_authorize_digest(&vname, &ref, &want) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot compute the authPolicy");
	if (key->publicArea.authPolicy.size != want.size ||
	    !pcrgate_ct_equal(key->publicArea.authPolicy.buffer, want.buffer, want.size))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the update key at 0x%08x was made for another policy key or counter",
					   (unsigned)cfg->update_key_handle);
	return PCRGATE_OK;
}

/* The TPM's own check of the vendor's signature: a ticket that TPM2_PolicyAuthorize accepts. */
static int verify_in_tpm(ESYS_CONTEXT *esys, const struct signed_policy *sp, TPMT_TK_VERIFIED **ticket,
			 pcrgate_errinfo *ei)
{
	TPM2B_DIGEST ahash;
	TPM2B_NAME *name = NULL;
	ESYS_TR key = ESYS_TR_NONE;
	TSS2_RC rc;
	int r = PCRGATE_OK;

	ahash.size = 32;
	if (policy_ahash(&sp->approved, &sp->ref, ahash.buffer) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot hash the policy");
	/* The owner hierarchy, not the null one: only then is the ticket one PolicyAuthorize accepts. */
	PCRGATE_TPM_RETRY(rc, Esys_LoadExternal(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, NULL, &sp->key,
						ESYS_TR_RH_OWNER, &key));
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error("TPM2_LoadExternal (the policy's signing key)", rc, ei);
	if ((rc = Esys_TR_GetName(esys, key, &name)) != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("Esys_TR_GetName (the policy's signing key)", rc, ei);
	} else if (name->size != sp->key_name.size || !pcrgate_ct_equal(name->name, sp->key_name.name, name->size)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
					"the TPM names the policy's signing key differently from pcrgate");
	} else {
		PCRGATE_TPM_RETRY(rc, Esys_VerifySignature(esys, key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &ahash,
							   &sp->signature, ticket));
		if (rc != TSS2_RC_SUCCESS)
			r = pcrgate_tpm_error("TPM2_VerifySignature (the policy's signature)", rc, ei);
	}
	Esys_Free(name);
	tpmutil_flush(esys, &key);
	return r;
}

/* Why a policy command failed, in the words of what the policy asserts. */
static int policy_error(const char *command, TSS2_RC rc, const char *meaning, pcrgate_errinfo *ei)
{
	char cmd[160];

	snprintf(cmd, sizeof(cmd), "%s (%s)", command, meaning);
	return pcrgate_tpm_error(cmd, rc, ei);
}

/* PolicyPCR, PolicyNV, then PolicyAuthorize in session; each digest step checked against the software one. */
static int satisfy(ESYS_CONTEXT *esys, const struct agent_config *cfg, const struct signed_policy *sp,
		   const TPM2B_DIGEST *auth_policy, ESYS_TR session, pcrgate_errinfo *ei)
{
	TPMT_TK_VERIFIED *ticket = NULL;
	TPM2B_DIGEST *digest = NULL;
	TPM2B_OPERAND operand;
	TPM2B_NV_PUBLIC pub;
	TPM2B_NAME *nv_name = NULL;
	ESYS_TR nv = ESYS_TR_NONE;
	TSS2_RC rc;
	int r;

	PCRGATE_TPM_RETRY(rc, Esys_PolicyPCR(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sp->pcr_digest,
					     &sp->sel));
	if (rc != TSS2_RC_SUCCESS)
		return policy_error("TPM2_PolicyPCR", rc,
				    tpmutil_rc_base(rc) == TPM2_RC_VALUE ? "the PCRs are not the ones the policy approves"
									 : "PCR selection",
				    ei);
	if ((r = counter_open(esys, cfg->counter_index, &nv, &pub, ei)) != PCRGATE_OK)
		return r;
	if ((rc = Esys_TR_GetName(esys, nv, &nv_name)) != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("Esys_TR_GetName (counter)", rc, ei);
		goto fail;
	}
	if (nv_name->size != sp->nv_name.size || !pcrgate_ct_equal(nv_name->name, sp->nv_name.name, nv_name->size)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"counter 0x%08x is not the one the policy names (another public area)",
					(unsigned)cfg->counter_index);
		goto fail;
	}
	policy_version_operand(sp->version, &operand);
	PCRGATE_TPM_RETRY(rc, Esys_PolicyNV(esys, ESYS_TR_RH_OWNER, nv, session, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					    ESYS_TR_NONE, &operand, 0, TPM2_EO_UNSIGNED_LE));
	if (rc != TSS2_RC_SUCCESS) {
		r = policy_error("TPM2_PolicyNV", rc,
				 tpmutil_rc_base(rc) == TPM2_RC_POLICY
					 ? "the anti-rollback counter is above the policy's security version"
					 : "anti-rollback counter",
				 ei);
		goto fail;
	}
	PCRGATE_TPM_RETRY(rc, Esys_PolicyGetDigest(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest));
	if (rc != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("TPM2_PolicyGetDigest", rc, ei);
		goto fail;
	}
	if (digest->size != sp->approved.size || !pcrgate_ct_equal(digest->buffer, sp->approved.buffer, digest->size)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
					"the TPM's policy digest differs from the approved policy computed in software");
		goto fail;
	}
	if ((r = verify_in_tpm(esys, sp, &ticket, ei)) != PCRGATE_OK)
		goto fail;
	PCRGATE_TPM_RETRY(rc, Esys_PolicyAuthorize(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
						   &sp->approved, &sp->ref, &sp->key_name, ticket));
	if (rc != TSS2_RC_SUCCESS) {
		r = policy_error("TPM2_PolicyAuthorize", rc, "the vendor's approval", ei);
		goto fail;
	}
	Esys_Free(digest);
	digest = NULL;
	PCRGATE_TPM_RETRY(rc, Esys_PolicyGetDigest(esys, session, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &digest));
	if (rc != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("TPM2_PolicyGetDigest", rc, ei);
	} else if (digest->size != auth_policy->size ||
		   !pcrgate_ct_equal(digest->buffer, auth_policy->buffer, digest->size)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
					"after PolicyAuthorize the TPM's policy digest is not the update key's authPolicy");
	} else {
		r = PCRGATE_OK;
	}
fail:
	Esys_Free(ticket);
	Esys_Free(digest);
	Esys_Free(nv_name);
	tpmutil_close(esys, &nv);
	return r;
}

int agent_unwrap(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *policy_json, size_t policy_len,
		 const uint8_t *ciphertext, size_t clen, uint8_t **out, size_t *outlen, pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	struct signed_policy sp;
	TPM2B_PUBLIC key;
	TPM2B_PUBLIC_KEY_RSA in;
	TPM2B_PUBLIC_KEY_RSA *plain = NULL;
	TPM2B_DATA label;
	const TPMT_RSA_DECRYPT scheme = {.scheme = TPM2_ALG_OAEP, .details = {.oaep = {.hashAlg = TPM2_ALG_SHA256}}};
	ESYS_TR srk = ESYS_TR_NONE, uk = ESYS_TR_NONE, session = ESYS_TR_NONE;
	uint8_t *buf;
	TSS2_RC rc;
	int r;

	if ((r = policy_parse(policy_json, policy_len, &sp, ei)) != PCRGATE_OK)
		return r;
	if (clen == 0 || clen > sizeof(in.buffer))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "ciphertext of %zu bytes; 1 to %zu expected", clen, sizeof(in.buffer));
	in.size = (UINT16)clen;
	memcpy(in.buffer, ciphertext, clen);
	label.size = (UINT16)POLICY_OAEP_LABEL_SIZE;
	memcpy(label.buffer, POLICY_OAEP_LABEL, POLICY_OAEP_LABEL_SIZE);
	if ((r = tpmutil_open_persistent(esys, cfg->update_key_handle, "update key", &uk, &key, NULL, NULL, ei)) != 0)
		return r;
	if ((r = policy_for_device(cfg, &sp, &key, ei)) != PCRGATE_OK || (r = tpmutil_open_srk(esys, cfg, &srk, ei)) != 0)
		goto fail;
	if ((r = tpmutil_start_session(esys, srk, TPM2_SE_POLICY, TPMA_SESSION_DECRYPT | TPMA_SESSION_ENCRYPT, &session,
				       ei)) != PCRGATE_OK ||
	    (r = satisfy(esys, cfg, &sp, &key.publicArea.authPolicy, session, ei)) != PCRGATE_OK)
		goto fail;
	/* After the command the TPM resets the session's policy: each approval serves one decryption. */
	PCRGATE_TPM_RETRY(rc, Esys_RSA_Decrypt(esys, uk, session, ESYS_TR_NONE, ESYS_TR_NONE, &in, &scheme, &label,
					       &plain));
	if (rc != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("TPM2_RSA_Decrypt (update key)", rc, ei);
		goto fail;
	}
	if ((buf = malloc(plain->size ? plain->size : 1)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	memcpy(buf, plain->buffer, plain->size);
	*out = buf;
	*outlen = plain->size;
	r = PCRGATE_OK;
fail:
	if (plain != NULL) {
		OPENSSL_cleanse(plain, sizeof(*plain));
		Esys_Free(plain);
	}
	tpmutil_flush(esys, &session);
	tpmutil_close(esys, &srk);
	tpmutil_close(esys, &uk);
	return r;
}
