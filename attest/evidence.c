/*
 * pcrgate-agent: `quote`, the answer to a verifier's challenge. TPM2_Quote by the AK over the
 * configured PCRs in every active bank, with the nonce as qualifyingData, and the PCR values
 * that produced the quoted digest: they are read before the quote, and when the digest of
 * what was read differs from the quote's (a PCR was extended in between) both are taken again.
 * The evidence document carries the quote, its signature, the AK, the PCR values, the clock
 * and the event logs that explain the PCRs (the firmware's and pcrgate-boot's).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <tss2/tss2_mu.h>

#include "agent.h"
#include "jsonutil.h"
#include "pcrgate/alg.h"
#include "pcrgate/eventlog.h"
#include "tpmobj.h"
#include "tpmutil.h"

#define EVIDENCE_FORMAT "pcrgate-evidence"
/* Quote and read again at most this often when the PCRs keep moving. */
#define QUOTE_ATTEMPTS 3

/* The digest a quote carries over pcrs, in the selection's order (banks as listed, PCRs ascending). */
static int pcr_digest(const pcrgate_tpm_bank_select *sel, size_t nsel, const pcrgate_pcrs *pcrs, uint16_t hash,
		      uint8_t *out, size_t *outlen)
{
	const char *name = pcrgate_alg_openssl_name(hash);
	const EVP_MD *md = name != NULL ? EVP_get_digestbyname(name) : NULL;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	const uint8_t *v;
	unsigned p, n = 0;
	size_t b, len;
	int ok = md != NULL && ctx != NULL && EVP_DigestInit_ex(ctx, md, NULL) == 1;

	for (b = 0; ok && b < nsel; b++)
		for (p = 0; ok && p < 24; p++)
			if ((sel[b].mask >> p) & 1)
				ok = (v = pcrgate_pcrs_get(pcrs, sel[b].alg, p, &len)) != NULL &&
				     EVP_DigestUpdate(ctx, v, len) == 1;
	ok = ok && EVP_DigestFinal_ex(ctx, out, &n) == 1;
	EVP_MD_CTX_free(ctx);
	*outlen = n;
	return ok ? PCRGATE_OK : PCRGATE_ERR_CRYPTO;
}

/* An event log file into doc's "eventlogs" as key; a missing file is left out, an unreadable one is an error. */
static int add_log(json_t *logs, const char *key, const char *path, pcrgate_errinfo *ei)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = pcrgate_file_read(path, PCRGATE_EVENTLOG_MAX_SIZE, &buf, &len, ei)) == PCRGATE_ERR_NOT_FOUND) {
		pg_debug("no %s event log at %s", key, path);
		return PCRGATE_OK;
	}
	if (r != PCRGATE_OK) {
		char why[sizeof(ei->message)];

		snprintf(why, sizeof(why), "%s", ei != NULL ? ei->message : path);
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the %s event log (configured: %s): %s", key,
					   path, why);
	}
	r = json_object_set_new(logs, key, jsonutil_b64(buf, len)) == 0
		    ? PCRGATE_OK
		    : pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot add the %s event log", key);
	free(buf);
	return r;
}

/* One quote and the PCRs read just before it; *moved set when they disagree. */
static int quote_once(ESYS_CONTEXT *esys, pcrgate_tpm *tpm, ESYS_TR ak, const TPM2B_DATA *nonce,
		      const pcrgate_tpm_bank_select *sel, size_t nsel, pcrgate_pcrs **pcrs, TPM2B_ATTEST **attest,
		      TPMT_SIGNATURE **sig, TPMS_ATTEST *parsed, int *moved, pcrgate_errinfo *ei)
{
	const TPMT_SIG_SCHEME null_scheme = {.scheme = TPM2_ALG_NULL};
	TPML_PCR_SELECTION tsel;
	uint8_t digest[PCRGATE_MAX_DIGEST];
	size_t b, dlen = 0, off = 0;
	uint16_t hash;
	TSS2_RC rc;
	int r;

	memset(&tsel, 0, sizeof(tsel));
	for (b = 0; b < nsel; b++) {
		tsel.pcrSelections[b].hash = sel[b].alg;
		tsel.pcrSelections[b].sizeofSelect = 3;
		tsel.pcrSelections[b].pcrSelect[0] = (uint8_t)sel[b].mask;
		tsel.pcrSelections[b].pcrSelect[1] = (uint8_t)(sel[b].mask >> 8);
		tsel.pcrSelections[b].pcrSelect[2] = (uint8_t)(sel[b].mask >> 16);
	}
	tsel.count = (UINT32)nsel;
	if ((r = pcrgate_tpm_pcr_read(tpm, sel, nsel, pcrs, ei)) != PCRGATE_OK)
		return r;
	PCRGATE_TPM_RETRY(rc, Esys_Quote(esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, nonce, &null_scheme,
					 &tsel, attest, sig));
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error("TPM2_Quote (AK)", rc, ei);
	memset(parsed, 0, sizeof(*parsed));
	if (Tss2_MU_TPMS_ATTEST_Unmarshal((*attest)->attestationData, (*attest)->size, &off, parsed) != TSS2_RC_SUCCESS ||
	    off != (*attest)->size || parsed->type != TPM2_ST_ATTEST_QUOTE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET, "TPM2_Quote: not a quote");
	hash = (*sig)->sigAlg == TPM2_ALG_ECDSA ? (*sig)->signature.ecdsa.hash : (*sig)->signature.rsassa.hash;
	if ((r = pcr_digest(sel, nsel, *pcrs, hash, digest, &dlen)) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot hash the PCR values");
	*moved = dlen != parsed->attested.quote.pcrDigest.size ||
		 !pcrgate_ct_equal(digest, parsed->attested.quote.pcrDigest.buffer, dlen);
	return PCRGATE_OK;
}

int agent_quote(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *nonce, size_t nonce_len,
		json_t **out, pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	pcrgate_tpm_bank_select sel[PCRGATE_MAX_BANKS];
	uint16_t banks[PCRGATE_MAX_BANKS];
	TPM2B_PUBLIC akpub;
	TPM2B_NAME akname, akqn;
	TPM2B_DATA qualifying;
	TPM2B_ATTEST *attest = NULL;
	TPMT_SIGNATURE *sig = NULL;
	TPMS_ATTEST parsed;
	pcrgate_pcrs *pcrs = NULL;
	ESYS_TR ak = ESYS_TR_NONE;
	uint8_t pubbuf[sizeof(TPM2B_PUBLIC)], sigbuf[sizeof(TPMT_SIGNATURE)];
	size_t nbanks = 0, b, publen = 0, siglen = 0;
	json_t *doc = NULL, *clock = NULL, *logs = NULL;
	char fw[24];
	int r, attempt, moved = 1;

	if (nonce_len > sizeof(qualifying.buffer))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "nonce of %zu bytes; at most %zu", nonce_len, sizeof(qualifying.buffer));
	qualifying.size = (UINT16)nonce_len;
	if (nonce_len > 0)
		memcpy(qualifying.buffer, nonce, nonce_len);
	if (cfg->quote_pcrs == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "quote_pcrs names no PCR");
	if ((r = pcrgate_tpm_get_banks(tpm, banks, PCRGATE_MAX_BANKS, &nbanks, ei)) != PCRGATE_OK)
		return r;
	for (b = 0; b < nbanks; b++) {
		sel[b].alg = banks[b];
		sel[b].mask = cfg->quote_pcrs;
	}
	if ((r = tpmutil_open_persistent(esys, cfg->ak_handle, "AK", &ak, &akpub, &akname, &akqn, ei)) != PCRGATE_OK)
		return r;
	for (attempt = 0; moved && attempt < QUOTE_ATTEMPTS; attempt++) {
		pcrgate_pcrs_free(&pcrs);
		Esys_Free(attest);
		Esys_Free(sig);
		attest = NULL;
		sig = NULL;
		if ((r = quote_once(esys, tpm, ak, &qualifying, sel, nbanks, &pcrs, &attest, &sig, &parsed, &moved, ei)) != 0)
			goto fail;
	}
	if (moved) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
					"the PCRs kept changing during %d quotes", QUOTE_ATTEMPTS);
		goto fail;
	}
	if (tpmobj_public_marshal(&akpub, pubbuf, sizeof(pubbuf), &publen) != 0 ||
	    Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigbuf, sizeof(sigbuf), &siglen) != TSS2_RC_SUCCESS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET, "cannot marshal the AK or the signature");
		goto fail;
	}
	snprintf(fw, sizeof(fw), "0x%016llx", (unsigned long long)parsed.firmwareVersion);
	r = PCRGATE_ERR_NOMEM;
	if ((doc = json_object()) == NULL || (logs = json_object()) == NULL ||
	    (clock = json_pack("{s:I,s:I,s:I,s:b,s:s}", "clock", (json_int_t)parsed.clockInfo.clock, "reset_count",
			       (json_int_t)parsed.clockInfo.resetCount, "restart_count",
			       (json_int_t)parsed.clockInfo.restartCount, "safe", parsed.clockInfo.safe == TPM2_YES,
			       "firmware_version", fw)) == NULL ||
	    json_object_set_new(doc, "format", json_string(EVIDENCE_FORMAT)) != 0 ||
	    json_object_set_new(doc, "version", json_integer(1)) != 0 ||
	    json_object_set_new(doc, "nonce", jsonutil_hex(nonce, nonce_len)) != 0 ||
	    json_object_set_new(doc, "ak_public", jsonutil_b64(pubbuf, publen)) != 0 ||
	    json_object_set_new(doc, "ak_name", jsonutil_hex(akname.name, akname.size)) != 0 ||
	    json_object_set_new(doc, "ak_qualified_name", jsonutil_hex(akqn.name, akqn.size)) != 0 ||
	    json_object_set_new(doc, "attest", jsonutil_b64(attest->attestationData, attest->size)) != 0 ||
	    json_object_set_new(doc, "signature", jsonutil_b64(sigbuf, siglen)) != 0 ||
	    json_object_set_new(doc, "pcrs", jsonutil_pcrs(pcrs)) != 0 ||
	    json_object_set(doc, "clock", clock) != 0) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot build the evidence");
		goto fail;
	}
	if ((r = add_log(logs, "firmware", cfg->firmware_log, ei)) != PCRGATE_OK ||
	    (r = add_log(logs, "boot", cfg->boot_log, ei)) != PCRGATE_OK)
		goto fail;
	if (json_object_set(doc, "eventlogs", logs) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot build the evidence");
		goto fail;
	}
	*out = doc;
	doc = NULL;
	r = PCRGATE_OK;
fail:
	json_decref(doc);
	json_decref(clock);
	json_decref(logs);
	pcrgate_pcrs_free(&pcrs);
	Esys_Free(attest);
	Esys_Free(sig);
	tpmutil_close(esys, &ak);
	return r;
}
