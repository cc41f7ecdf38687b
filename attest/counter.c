/*
 * pcrgate-agent: the anti-rollback counter (counter.h): definition at provisioning, reads,
 * and raises to a release's security version that never go past it.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <tss2/tss2_mu.h>

#include "counter.h"
#include "policy.h"
#include "tpmutil.h"

int counter_open(ESYS_CONTEXT *esys, uint32_t index, ESYS_TR *nv, TPM2B_NV_PUBLIC *pub, pcrgate_errinfo *ei)
{
	TPM2B_NV_PUBLIC *p = NULL;
	ESYS_TR t = ESYS_TR_NONE;
	char cmd[80];
	TSS2_RC rc;

	snprintf(cmd, sizeof(cmd), "TPM2_NV_ReadPublic (anti-rollback counter 0x%08x)", (unsigned)index);
	PCRGATE_TPM_RETRY(rc, Esys_TR_FromTPMPublic(esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &t));
	if (tpmutil_rc_base(rc) == TPM2_RC_HANDLE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
					   "anti-rollback counter 0x%08x is not defined", (unsigned)index);
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error(cmd, rc, ei);
	PCRGATE_TPM_RETRY(rc, Esys_NV_ReadPublic(esys, t, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p, NULL));
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(esys, &t);
		return pcrgate_tpm_error(cmd, rc, ei);
	}
	*pub = *p;
	Esys_Free(p);
	*nv = t;
	return PCRGATE_OK;
}

int counter_check_public(const TPM2B_NV_PUBLIC *pub, char *why, size_t cap)
{
	const TPMS_NV_PUBLIC *p = &pub->nvPublic;
	TPMA_NV attrs = p->attributes & ~(TPMA_NV)TPMA_NV_WRITTEN;

	if (attrs != POLICY_COUNTER_ATTRS) {
		snprintf(why, cap, "attributes 0x%08x, expected 0x%08x (TPM_NT_COUNTER, ownerread, authwrite, no_da)",
			 (unsigned)attrs, (unsigned)POLICY_COUNTER_ATTRS);
		return PCRGATE_ERR_VERIFY;
	}
	if (p->nameAlg != TPM2_ALG_SHA256 || p->dataSize != 8 || p->authPolicy.size != 0) {
		snprintf(why, cap, "nameAlg 0x%04x, %u bytes, %s authPolicy; expected sha256, 8 bytes, none",
			 (unsigned)p->nameAlg, (unsigned)p->dataSize, p->authPolicy.size ? "an" : "no");
		return PCRGATE_ERR_VERIFY;
	}
	return PCRGATE_OK;
}

/* Reads the value of the open index nv whose public area is pub. */
static int read_value(ESYS_CONTEXT *esys, ESYS_TR nv, const TPM2B_NV_PUBLIC *pub, uint64_t *value, pcrgate_errinfo *ei)
{
	const uint32_t index = pub->nvPublic.nvIndex;
	const TPMA_NV attrs = pub->nvPublic.attributes;
	TPM2B_MAX_NV_BUFFER *data = NULL;
	ESYS_TR auth;
	uint64_t v = 0;
	size_t off = 0;
	char cmd[80];
	TSS2_RC rc;
	int r;

	if (((attrs & TPMA_NV_TPM2_NT_MASK) >> TPMA_NV_TPM2_NT_SHIFT) != TPM2_NT_COUNTER || pub->nvPublic.dataSize != 8)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "NV index 0x%08x is not a TPM_NT_COUNTER", (unsigned)index);
	if (!(attrs & TPMA_NV_WRITTEN))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
					   "anti-rollback counter 0x%08x was never incremented", (unsigned)index);
	/* As pcrgate-boot reads it: no secret, and never an authorization that counts against lockout. */
	if ((attrs & TPMA_NV_AUTHREAD) && (attrs & TPMA_NV_NO_DA))
		auth = nv;
	else if (attrs & TPMA_NV_OWNERREAD)
		auth = ESYS_TR_RH_OWNER;
	else
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "anti-rollback counter 0x%08x is readable neither by the owner nor with an "
					   "empty authValue exempt from lockout",
					   (unsigned)index);
	snprintf(cmd, sizeof(cmd), "TPM2_NV_Read (anti-rollback counter 0x%08x)", (unsigned)index);
	PCRGATE_TPM_RETRY(rc, Esys_NV_Read(esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, 8, 0, &data));
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error(cmd, rc, ei);
	if (data->size != 8 || Tss2_MU_UINT64_Unmarshal(data->buffer, data->size, &off, &v) != TSS2_RC_SUCCESS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET, "%s: %u bytes instead of 8", cmd,
					(unsigned)data->size);
	} else {
		*value = v;
		r = PCRGATE_OK;
	}
	Esys_Free(data);
	return r;
}

int agent_counter_read(ESYS_CONTEXT *esys, uint32_t index, uint64_t *value, pcrgate_errinfo *ei)
{
	TPM2B_NV_PUBLIC pub;
	ESYS_TR nv = ESYS_TR_NONE;
	int r;

	if ((r = counter_open(esys, index, &nv, &pub, ei)) != PCRGATE_OK)
		return r;
	r = read_value(esys, nv, &pub, value, ei);
	tpmutil_close(esys, &nv);
	return r;
}

/* Reads the counter's authValue from the state directory: exactly AGENT_COUNTER_AUTH_SIZE bytes. */
static int read_secret(const struct agent_config *cfg, TPM2B_AUTH *auth, pcrgate_errinfo *ei)
{
	char path[AGENT_PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if (agent_state_path(cfg, AGENT_COUNTER_AUTH_FILE, path, sizeof(path), ei) != PCRGATE_OK)
		return PCRGATE_ERR_LIMIT;
	if ((r = pcrgate_file_read(path, 1024, &buf, &len, ei)) == PCRGATE_ERR_NOT_FOUND)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "%s does not exist", path);
	if (r != PCRGATE_OK)
		return r;
	if (len != AGENT_COUNTER_AUTH_SIZE) {
		OPENSSL_clear_free(buf, len);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: %zu bytes, expected %d", path,
					   len, AGENT_COUNTER_AUTH_SIZE);
	}
	auth->size = AGENT_COUNTER_AUTH_SIZE;
	memcpy(auth->buffer, buf, len);
	OPENSSL_clear_free(buf, len);
	return PCRGATE_OK;
}

/* A new secret, on disk before the index that needs it exists, so a cut never strands the counter. */
static int make_secret(const struct agent_config *cfg, TPM2B_AUTH *auth, pcrgate_errinfo *ei)
{
	char path[AGENT_PATH_MAX];

	if (agent_state_path(cfg, AGENT_COUNTER_AUTH_FILE, path, sizeof(path), ei) != PCRGATE_OK)
		return PCRGATE_ERR_LIMIT;
	if (RAND_priv_bytes(auth->buffer, AGENT_COUNTER_AUTH_SIZE) != 1)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "no random bytes for the secret");
	auth->size = AGENT_COUNTER_AUTH_SIZE;
	/* Created with mode 0600 before any byte is written: never readable by others. */
	return pcrgate_file_write_atomic(path, auth->buffer, auth->size, 0600, ei);
}

/* One TPM2_NV_Increment, authorized by the secret in a salted HMAC session (never sent in the clear). */
static int increment(ESYS_CONTEXT *esys, ESYS_TR srk, ESYS_TR nv, uint32_t index, const TPM2B_AUTH *auth,
		     pcrgate_errinfo *ei)
{
	ESYS_TR session = ESYS_TR_NONE;
	char cmd[80];
	TSS2_RC rc;
	int r;

	if ((rc = Esys_TR_SetAuth(esys, nv, auth)) != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error("Esys_TR_SetAuth", rc, ei);
	if ((r = tpmutil_start_session(esys, srk, TPM2_SE_HMAC, 0, &session, ei)) != PCRGATE_OK)
		return r;
	TPMUTIL_NV_RETRY(rc, Esys_NV_Increment(esys, nv, nv, session, ESYS_TR_NONE, ESYS_TR_NONE));
	tpmutil_flush(esys, &session);
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(cmd, sizeof(cmd), "TPM2_NV_Increment (anti-rollback counter 0x%08x)", (unsigned)index);
		return pcrgate_tpm_error(cmd, rc, ei);
	}
	return PCRGATE_OK;
}

int counter_provision(ESYS_CONTEXT *esys, const struct agent_config *cfg, ESYS_TR srk, struct agent_step *step,
		      pcrgate_errinfo *ei)
{
	TPM2B_NV_PUBLIC pub;
	TPM2B_AUTH auth;
	ESYS_TR nv = ESYS_TR_NONE, session = ESYS_TR_NONE;
	const uint32_t index = cfg->counter_index;
	char why[sizeof(((pcrgate_errinfo *)0)->message)];
	uint64_t value = 0;
	TSS2_RC rc;
	int r, defined = 0;

	memset(&auth, 0, sizeof(auth));
	r = counter_open(esys, index, &nv, &pub, ei);
	if (r == PCRGATE_ERR_NOT_FOUND) {
		r = read_secret(cfg, &auth, ei);
		if (r == PCRGATE_ERR_NOT_FOUND)
			r = make_secret(cfg, &auth, ei);
		if (r != PCRGATE_OK)
			goto fail;
		policy_counter_public(index, 0, &pub);
		/* The secret travels parameter-encrypted, in a session salted with the SRK. */
		if ((r = tpmutil_start_session(esys, srk, TPM2_SE_HMAC, TPMA_SESSION_DECRYPT, &session, ei)) != 0)
			goto fail;
		agent_fault_point("TPM2_NV_DefineSpace (counter)");
		TPMUTIL_NV_RETRY(rc, Esys_NV_DefineSpace(esys, ESYS_TR_RH_OWNER, session, ESYS_TR_NONE, ESYS_TR_NONE,
							 &auth, &pub, &nv));
		tpmutil_flush(esys, &session);
		if (rc != TSS2_RC_SUCCESS) {
			r = pcrgate_tpm_error("TPM2_NV_DefineSpace (anti-rollback counter)", rc, ei);
			goto fail;
		}
		defined = 1;
	} else if (r != PCRGATE_OK) {
		goto fail;
	} else if (counter_check_public(&pub, why, sizeof(why)) != PCRGATE_OK) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"NV index 0x%08x is not the counter pcrgate provisions: %s; it is left as it is "
					"(choose another counter_index, or undefine it if it is not in use)",
					(unsigned)index, why);
		goto fail;
	} else if ((r = read_secret(cfg, &auth, ei)) != PCRGATE_OK) {
		snprintf(why, sizeof(why), "%s", ei != NULL ? ei->message : pcrgate_strerror(r));
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
					"counter 0x%08x exists but its write secret is unreadable, so the agent could "
					"never raise it: %s",
					(unsigned)index, why);
		goto fail;
	}
	/* A counter never incremented counts as not provisioned (pcrgate-boot refuses to boot). */
	if (defined || !(pub.nvPublic.attributes & TPMA_NV_WRITTEN)) {
		agent_fault_point("TPM2_NV_Increment (counter)");
		if ((r = increment(esys, srk, nv, index, &auth, ei)) != PCRGATE_OK)
			goto fail;
		pub.nvPublic.attributes |= TPMA_NV_WRITTEN;
		step->changed = 1;
	}
	if ((r = read_value(esys, nv, &pub, &value, ei)) != PCRGATE_OK)
		goto fail;
	snprintf(step->what, sizeof(step->what), "%s, value %llu",
		 defined ? "defined and incremented" : step->changed ? "incremented" : "present",
		 (unsigned long long)value);
	step->changed |= defined;
fail:
	OPENSSL_cleanse(&auth, sizeof(auth));
	tpmutil_close(esys, &nv);
	return r;
}

int agent_counter_raise(pcrgate_tpm *tpm, const struct agent_config *cfg, uint64_t target, uint64_t *before,
			uint64_t *steps, pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	TPM2B_NV_PUBLIC pub;
	TPM2B_AUTH auth;
	ESYS_TR srk = ESYS_TR_NONE, nv = ESYS_TR_NONE;
	uint64_t value = 0, first = 0, n = 0;
	char why[160];
	int r, lock = -1;

	memset(&auth, 0, sizeof(auth));
	if ((r = agent_lock(cfg, &lock, ei)) != PCRGATE_OK)
		return r;
	if ((r = read_secret(cfg, &auth, ei)) != PCRGATE_OK || (r = tpmutil_open_srk(esys, cfg, &srk, ei)) != 0 ||
	    (r = counter_open(esys, cfg->counter_index, &nv, &pub, ei)) != PCRGATE_OK)
		goto fail;
	if (counter_check_public(&pub, why, sizeof(why)) != PCRGATE_OK) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"NV index 0x%08x is not the counter pcrgate provisions: %s",
					(unsigned)cfg->counter_index, why);
		goto fail;
	}
	/* Read before every increment: the counter never passes target, however often this is cut and rerun. */
	for (;;) {
		if ((r = read_value(esys, nv, &pub, &value, ei)) != PCRGATE_OK)
			goto fail;
		if (n == 0)
			first = value;
		if (value == target)
			break;
		if (value > target) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						"anti-rollback counter 0x%08x is %llu, above %llu: a counter never goes "
						"down",
						(unsigned)cfg->counter_index, (unsigned long long)value,
						(unsigned long long)target);
			goto fail;
		}
		if (n == 0 && target - value > COUNTER_MAX_RAISE) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
						"raising counter 0x%08x from %llu to %llu takes more than %u increments",
						(unsigned)cfg->counter_index, (unsigned long long)value,
						(unsigned long long)target, COUNTER_MAX_RAISE);
			goto fail;
		}
		agent_fault_point("TPM2_NV_Increment (counter raise)");
		if ((r = increment(esys, srk, nv, cfg->counter_index, &auth, ei)) != PCRGATE_OK)
			goto fail;
		n++;
	}
	if (before != NULL)
		*before = first;
	if (steps != NULL)
		*steps = n;
	r = PCRGATE_OK;
fail:
	OPENSSL_cleanse(&auth, sizeof(auth));
	tpmutil_close(esys, &nv);
	tpmutil_close(esys, &srk);
	agent_unlock(&lock);
	return r;
}
