/*
 * pcrgate-agent: ESAPI helpers (tpmutil.h): response codes, NV write retries, persistent
 * objects, clean-up, salted sessions.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "tpmobj.h"
#include "tpmutil.h"

int tpmutil_rc_nv_busy(uint32_t rc)
{
	uint32_t base = pcrgate_tpm_rc_base(rc);

	return pcrgate_tpm_rc_retryable(rc) || base == TPM2_RC_NV_RATE || base == TPM2_RC_NV_UNAVAILABLE;
}

void tpmutil_nv_backoff(uint32_t rc, unsigned attempt)
{
	unsigned ms;
	struct timespec ts;

	if (pcrgate_tpm_rc_base(rc) != TPM2_RC_NV_RATE) {
		pcrgate_tpm_backoff(rc, attempt);
		return;
	}
	ms = 100u << (attempt == 0 ? 0 : attempt > 6 ? 5 : attempt - 1);
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000L;
	pg_info("the TPM rate-limits NV writes: trying again in %u ms (attempt %u)", ms, attempt);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

const char *tpmutil_handle_str(uint32_t handle, char buf[11])
{
	snprintf(buf, 11, "0x%08x", (unsigned)handle);
	return buf;
}

void tpmutil_close(ESYS_CONTEXT *esys, ESYS_TR *tr)
{
	if (tr == NULL || *tr == ESYS_TR_NONE)
		return;
	if (Esys_TR_Close(esys, tr) != TSS2_RC_SUCCESS)
		pg_debug("Esys_TR_Close failed");
	*tr = ESYS_TR_NONE;
}

void tpmutil_flush(ESYS_CONTEXT *esys, ESYS_TR *tr)
{
	TSS2_RC rc;

	if (tr == NULL || *tr == ESYS_TR_NONE)
		return;
	PCRGATE_TPM_RETRY(rc, Esys_FlushContext(esys, *tr));
	if (rc != TSS2_RC_SUCCESS) {
		/* Reported, never ignored silently: a handle left behind exhausts the TPM's few slots. */
		pcrgate_tpm_error("TPM2_FlushContext", rc, NULL);
		Esys_TR_Close(esys, tr);
	}
	*tr = ESYS_TR_NONE;
}

int tpmutil_open_persistent(ESYS_CONTEXT *esys, uint32_t handle, const char *what, ESYS_TR *tr, TPM2B_PUBLIC *pub,
			    TPM2B_NAME *name, TPM2B_NAME *qn, pcrgate_errinfo *ei)
{
	TPM2B_PUBLIC *p = NULL;
	TPM2B_NAME *n = NULL, *q = NULL;
	ESYS_TR t = ESYS_TR_NONE;
	char cmd[96], h[11];
	TSS2_RC rc;

	snprintf(cmd, sizeof(cmd), "TPM2_ReadPublic (%s at %s)", what, tpmutil_handle_str(handle, h));
	PCRGATE_TPM_RETRY(rc, Esys_TR_FromTPMPublic(esys, handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &t));
	if (pcrgate_tpm_rc_base(rc) == TPM2_RC_HANDLE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET, "no %s at %s", what, h);
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error(cmd, rc, ei);
	PCRGATE_TPM_RETRY(rc, Esys_ReadPublic(esys, t, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &p, &n, &q));
	if (rc != TSS2_RC_SUCCESS) {
		Esys_TR_Close(esys, &t);
		return pcrgate_tpm_error(cmd, rc, ei);
	}
	if (pub != NULL)
		*pub = *p;
	if (name != NULL)
		*name = *n;
	if (qn != NULL)
		*qn = *q;
	Esys_Free(p);
	Esys_Free(n);
	Esys_Free(q);
	if (tr != NULL)
		*tr = t;
	else
		Esys_TR_Close(esys, &t);
	return PCRGATE_OK;
}

int tpmutil_persist(ESYS_CONTEXT *esys, ESYS_TR object, uint32_t handle, const char *what, pcrgate_errinfo *ei)
{
	ESYS_TR persistent = ESYS_TR_NONE;
	char cmd[96], h[11];
	TSS2_RC rc;

	TPMUTIL_NV_RETRY(rc, Esys_EvictControl(esys, ESYS_TR_RH_OWNER, object, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					       ESYS_TR_NONE, handle, &persistent));
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(cmd, sizeof(cmd), "TPM2_EvictControl (%s to %s)", what, tpmutil_handle_str(handle, h));
		return pcrgate_tpm_error(cmd, rc, ei);
	}
	Esys_TR_Close(esys, &persistent);
	return PCRGATE_OK;
}

int tpmutil_open_srk(ESYS_CONTEXT *esys, const struct agent_config *cfg, ESYS_TR *srk, pcrgate_errinfo *ei)
{
	TPM2B_PUBLIC want, have;
	ESYS_TR t = ESYS_TR_NONE;
	char why[160], h[11];
	int r;

	if ((r = tpmutil_open_persistent(esys, cfg->srk_handle, "SRK", &t, &have, NULL, NULL, ei)) != PCRGATE_OK)
		return r;
	if (tpmobj_template_srk(cfg->srk_alg, &want) != PCRGATE_OK ||
	    tpmobj_matches(&have.publicArea, &want.publicArea, why, sizeof(why)) != PCRGATE_OK) {
		tpmutil_close(esys, &t);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the object at %s is not the SRK pcrgate provisions: %s",
					   tpmutil_handle_str(cfg->srk_handle, h), why);
	}
	*srk = t;
	return PCRGATE_OK;
}

int tpmutil_start_session(ESYS_CONTEXT *esys, ESYS_TR salt_key, TPM2_SE type, TPMA_SESSION attrs, ESYS_TR *session,
			  pcrgate_errinfo *ei)
{
	const TPMT_SYM_DEF sym = {.algorithm = TPM2_ALG_AES, .keyBits = {.aes = 128}, .mode = {.aes = TPM2_ALG_CFB}};
	ESYS_TR s = ESYS_TR_NONE;
	TSS2_RC rc;

	PCRGATE_TPM_RETRY(rc, Esys_StartAuthSession(esys, salt_key, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
						    ESYS_TR_NONE, NULL, type, &sym, TPM2_ALG_SHA256, &s));
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error(type == TPM2_SE_POLICY ? "TPM2_StartAuthSession (salted policy session)"
								: "TPM2_StartAuthSession (salted HMAC session)",
					 rc, ei);
	rc = Esys_TRSess_SetAttributes(esys, s, (TPMA_SESSION)(attrs | TPMA_SESSION_CONTINUESESSION), 0xff);
	if (rc != TSS2_RC_SUCCESS) {
		tpmutil_flush(esys, &s);
		return pcrgate_tpm_error("Esys_TRSess_SetAttributes", rc, ei);
	}
	*session = s;
	return PCRGATE_OK;
}
