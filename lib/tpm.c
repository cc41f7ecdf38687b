/*
 * pcrgate: TPM access through the TCTI loader and ESAPI: connect and start up, map
 * response codes, active PCR banks, PCR extend and read, transient-handle count.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <tss2/tss2_esys.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

#include "pcrgate/tpm.h"

/* Whole reads started again when the PCRs change between the parts of one read. */
#define PCR_READ_RESTARTS 3
/* TPM2_GetCapability(HANDLES) rounds; a TPM holds far fewer transient objects. */
#define HANDLE_ROUNDS 64
/* TPM2_TRANSIENT_FIRST, computed unsigned: tpm2-tss's macro shifts a signed int into the sign bit. */
#define TRANSIENT_FIRST ((uint32_t)TPM2_HT_TRANSIENT << TPM2_HR_SHIFT)

struct pcrgate_tpm {
	TSS2_TCTI_CONTEXT *tcti_ctx;
	ESYS_CONTEXT *esys;
	int source;
	char tcti[PCRGATE_TCTI_MAX];
	/* The active PCR banks, read on first use (see active_banks). */
	TPML_PCR_SELECTION banks;
	int banks_known;
};

uint32_t pcrgate_tpm_rc_base(uint32_t rc)
{
	uint32_t layer = rc & TSS2_RC_LAYER_MASK;

	if (layer != TSS2_TPM_RC_LAYER && layer != TSS2_RESMGR_TPM_RC_LAYER)
		return 0;
	rc &= ~TSS2_RC_LAYER_MASK;
	return (rc & TPM2_RC_FMT1) ? rc & (TPM2_RC_FMT1 | 0x3f) : rc & 0xfff;
}

int pcrgate_tpm_rc_retryable(uint32_t rc)
{
	uint32_t base = pcrgate_tpm_rc_base(rc);

	return base == TPM2_RC_RETRY || base == TPM2_RC_YIELDED || base == TPM2_RC_TESTING;
}

void pcrgate_tpm_backoff(uint32_t rc, unsigned attempt)
{
	unsigned ms = 25u << (attempt == 0 ? 0 : attempt > 6 ? 5 : attempt - 1);
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};

	pg_debug("%s: retry %u in %u ms", Tss2_RC_Decode(rc), attempt, ms);
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

int pcrgate_tpm_error(const char *command, uint32_t rc, pcrgate_errinfo *ei)
{
	const char *decoded, *hint = "";

	if (rc == TSS2_RC_SUCCESS)
		return PCRGATE_OK;
	if (command == NULL)
		command = "TPM command";
	decoded = Tss2_RC_Decode(rc);
	if (pcrgate_tpm_rc_base(rc) == TPM2_RC_LOCKOUT)
		hint = " (dictionary-attack lockout: not retried; wait for recovery or reset it)";
	pg_debug("%s: TSS2_RC 0x%08x: %s", command, (unsigned)rc, decoded);
	if (ei == NULL) {
		pg_err("%s: %s%s", command, decoded, hint);
		return PCRGATE_ERR_TPM;
	}
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET, "%s: %s%s", command, decoded, hint);
}

int pcrgate_tpm_open(const char *tcti_option, const char *config_path, pcrgate_tpm **out, pcrgate_errinfo *ei)
{
	char what[PCRGATE_TCTI_MAX + 64];
	pcrgate_tpm *t = NULL;
	TSS2_RC rc;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (out == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no output for the TPM context");
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = pcrgate_tcti_resolve(tcti_option, config_path, t->tcti, sizeof(t->tcti), &t->source, ei)) != 0)
		goto fail;
	snprintf(what, sizeof(what), "TCTI \"%s\" (from %s)", t->tcti, pcrgate_tcti_source_name(t->source));
	if ((rc = Tss2_TctiLdr_Initialize(t->tcti, &t->tcti_ctx)) != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error(what, rc, ei);
		goto fail;
	}
	if ((rc = Esys_Initialize(&t->esys, t->tcti_ctx, NULL)) != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error("Esys_Initialize", rc, ei);
		goto fail;
	}
	/* Firmware or the kernel has usually started the TPM already: TPM_RC_INITIALIZE is fine. */
	PCRGATE_TPM_RETRY(rc, Esys_Startup(t->esys, TPM2_SU_CLEAR));
	if (rc != TSS2_RC_SUCCESS && pcrgate_tpm_rc_base(rc) != TPM2_RC_INITIALIZE) {
		r = pcrgate_tpm_error("TPM2_Startup", rc, ei);
		goto fail;
	}
	pg_debug("connected through %s", what);
	*out = t;
	return PCRGATE_OK;
fail:
	pcrgate_tpm_close(&t);
	return r;
}

void pcrgate_tpm_close(pcrgate_tpm **tpm)
{
	if (tpm == NULL || *tpm == NULL)
		return;
	if ((*tpm)->esys != NULL)
		Esys_Finalize(&(*tpm)->esys);
	if ((*tpm)->tcti_ctx != NULL)
		Tss2_TctiLdr_Finalize(&(*tpm)->tcti_ctx);
	free(*tpm);
	*tpm = NULL;
}

const char *pcrgate_tpm_tcti(const pcrgate_tpm *tpm)
{
	return tpm != NULL ? tpm->tcti : NULL;
}

int pcrgate_tpm_tcti_source(const pcrgate_tpm *tpm)
{
	return tpm != NULL ? tpm->source : 0;
}

struct ESYS_CONTEXT *pcrgate_tpm_esys(pcrgate_tpm *tpm)
{
	return tpm != NULL ? tpm->esys : NULL;
}

static uint32_t sel_mask(const TPMS_PCR_SELECTION *s)
{
	uint32_t mask = 0;
	size_t i;

	for (i = 0; i < s->sizeofSelect && i < sizeof(s->pcrSelect); i++)
		mask |= (uint32_t)s->pcrSelect[i] << (8 * i);
	return mask;
}

/* Three bytes cover the 24 PCRs of a PC Client TPM; some TPMs reject a longer map. */
static void sel_set(TPMS_PCR_SELECTION *s, uint16_t alg, uint32_t mask)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	s->hash = alg;
	s->sizeofSelect = (mask >> 24) != 0 ? 4 : 3;
	for (i = 0; i < s->sizeofSelect; i++)
		s->pcrSelect[i] = (uint8_t)(mask >> (8 * i));
}

/*
 * The banks with at least one PCR allocated, from TPM2_GetCapability(PCRS), asked once per
 * handle: TPM2_PCR_Allocate takes effect only at the next TPM reset (_TPM_Init and
 * TPM2_Startup(CLEAR)), which also clears every PCR, so within one open handle the answer
 * cannot change while anything measured through it still counts.
 */
static int active_banks(pcrgate_tpm *tpm, TPML_PCR_SELECTION *out, pcrgate_errinfo *ei)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_NO;
	TSS2_RC rc;
	size_t i;
	int r;

	if (tpm->banks_known) {
		*out = tpm->banks;
		return PCRGATE_OK;
	}
	PCRGATE_TPM_RETRY(rc, Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, TPM2_CAP_PCRS,
						 0, 1, &more, &cap));
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error("TPM2_GetCapability(PCRS)", rc, ei);
	if (cap->capability != TPM2_CAP_PCRS || cap->data.assignedPCR.count > TPM2_NUM_PCR_BANKS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
					"TPM2_GetCapability(PCRS): unexpected answer (capability 0x%x)",
					(unsigned)cap->capability);
		goto fail;
	}
	memset(out, 0, sizeof(*out));
	for (i = 0; i < cap->data.assignedPCR.count; i++)
		if (sel_mask(&cap->data.assignedPCR.pcrSelections[i]) != 0)
			out->pcrSelections[out->count++] = cap->data.assignedPCR.pcrSelections[i];
	r = out->count > 0 ? PCRGATE_OK
			   : pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
						 "TPM2_GetCapability(PCRS): the TPM has no active PCR bank");
	if (r == PCRGATE_OK) {
		tpm->banks = *out;
		tpm->banks_known = 1;
	}
fail:
	Esys_Free(cap);
	return r;
}

int pcrgate_tpm_get_banks(pcrgate_tpm *tpm, uint16_t *algs, size_t cap, size_t *count, pcrgate_errinfo *ei)
{
	TPML_PCR_SELECTION banks;
	size_t i;
	int r;

	if (tpm == NULL || count == NULL || (algs == NULL && cap > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no TPM or output");
	if ((r = active_banks(tpm, &banks, ei)) != 0)
		return r;
	if (banks.count > cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "the TPM has %u active PCR banks, room for %zu", (unsigned)banks.count, cap);
	for (i = 0; i < banks.count; i++)
		algs[i] = banks.pcrSelections[i].hash;
	*count = banks.count;
	return PCRGATE_OK;
}

static int pcr_extend(pcrgate_tpm *tpm, unsigned pcr, const TPML_DIGEST_VALUES *values, pcrgate_errinfo *ei)
{
	char what[48];
	TSS2_RC rc;

	PCRGATE_TPM_RETRY(rc, Esys_PCR_Extend(tpm->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
					      ESYS_TR_NONE, values));
	if (rc != TSS2_RC_SUCCESS) {
		snprintf(what, sizeof(what), "TPM2_PCR_Extend (PCR %u)", pcr);
		return pcrgate_tpm_error(what, rc, ei);
	}
	return PCRGATE_OK;
}

int pcrgate_tpm_extend_data(pcrgate_tpm *tpm, unsigned pcr, const void *data, size_t len, pcrgate_errinfo *ei)
{
	TPML_PCR_SELECTION banks;
	TPML_DIGEST_VALUES values;
	char label[16];
	size_t i;
	int r;

	if (tpm == NULL || pcr >= PCRGATE_MAX_PCRS || (data == NULL && len > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no TPM, no data or PCR %u out of range", pcr);
	if ((r = active_banks(tpm, &banks, ei)) != 0)
		return r;
	memset(&values, 0, sizeof(values));
	for (i = 0; i < banks.count; i++) {
		uint16_t alg = banks.pcrSelections[i].hash;
		size_t size = pcrgate_alg_digest_size(alg);

		if (size == 0 || size > sizeof(values.digests[i].digest))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						   "active PCR bank %s has a hash pcrgate cannot compute",
						   pcrgate_alg_label(alg, label));
		values.digests[i].hashAlg = alg;
		if ((r = pcrgate_digest(alg, data, len, (uint8_t *)&values.digests[i].digest)) != 0)
			return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot compute the %s digest",
						   pcrgate_alg_label(alg, label));
		values.count++;
	}
	return pcr_extend(tpm, pcr, &values, ei);
}

int pcrgate_tpm_extend_digests(pcrgate_tpm *tpm, unsigned pcr, const pcrgate_tpm_digest *digests, size_t count,
			       pcrgate_errinfo *ei)
{
	TPML_PCR_SELECTION banks;
	TPML_DIGEST_VALUES values;
	char label[16];
	size_t i, j;
	int r;

	if (tpm == NULL || pcr >= PCRGATE_MAX_PCRS || digests == NULL || count == 0 || count > PCRGATE_MAX_BANKS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no TPM, PCR %u out of range, or %zu digests (1 to %d allowed)", pcr, count,
					   PCRGATE_MAX_BANKS);
	if ((r = active_banks(tpm, &banks, ei)) != 0)
		return r;
	memset(&values, 0, sizeof(values));
	for (i = 0; i < count; i++) {
		uint16_t alg = digests[i].alg;
		size_t size = pcrgate_alg_digest_size(alg);

		if (size == 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						   "digest %zu: unknown algorithm %s", i, pcrgate_alg_label(alg, label));
		for (j = 0; j < i; j++)
			if (digests[j].alg == alg)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
							   "two digests for PCR bank %s", pcrgate_alg_label(alg, label));
		for (j = 0; j < banks.count && banks.pcrSelections[j].hash != alg; j++)
			;
		if (j == banks.count)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						   "PCR bank %s is not active in the TPM", pcrgate_alg_label(alg, label));
		values.digests[i].hashAlg = alg;
		memcpy((uint8_t *)&values.digests[i].digest, digests[i].digest, size);
	}
	/* Every given bank is active and none twice: equal counts mean no active bank is left out. */
	if (count != banks.count) {
		for (i = 0; i < banks.count; i++) {
			for (j = 0; j < count && digests[j].alg != banks.pcrSelections[i].hash; j++)
				;
			if (j == count)
				break;
		}
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no digest for active PCR bank %s",
					   pcrgate_alg_label(banks.pcrSelections[i].hash, label));
	}
	values.count = (UINT32)count;
	return pcr_extend(tpm, pcr, &values, ei);
}

/*
 * Stores what one TPM2_PCR_Read returned and clears it from want. A TPM that
 * returns what was not asked, or sizes that do not match, is not trusted further.
 */
static int take_values(const pcrgate_tpm_bank_select *sel, size_t count, uint32_t *want,
		       const TPML_PCR_SELECTION *got, const TPML_DIGEST *values, pcrgate_pcrs *pcrs, size_t *taken,
		       pcrgate_errinfo *ei)
{
	char label[16];
	size_t i, b, v = 0;
	unsigned pcr;

	for (i = 0; i < got->count && i < TPM2_NUM_PCR_BANKS; i++) {
		uint32_t mask = sel_mask(&got->pcrSelections[i]);
		uint16_t alg = got->pcrSelections[i].hash;
		size_t size = pcrgate_alg_digest_size(alg);

		if (mask == 0)
			continue;
		for (b = 0; b < count && sel[b].alg != alg; b++)
			;
		if (b == count || (mask & ~want[b]) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
						   "TPM2_PCR_Read: the TPM returned %s PCRs that were not asked for",
						   pcrgate_alg_label(alg, label));
		for (pcr = 0; pcr < PCRGATE_MAX_PCRS; pcr++) {
			if (!(mask & ((uint32_t)1 << pcr)))
				continue;
			if (v >= values->count || v >= sizeof(values->digests) / sizeof(values->digests[0]) ||
			    values->digests[v].size != size)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
							   "TPM2_PCR_Read: no value of %zu bytes for %s PCR %u", size,
							   pcrgate_alg_label(alg, label), pcr);
			if (pcrgate_pcrs_set(pcrs, alg, pcr, values->digests[v].buffer, size) != 0)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
							   "TPM2_PCR_Read: cannot store %s PCR %u",
							   pcrgate_alg_label(alg, label), pcr);
			want[b] &= ~((uint32_t)1 << pcr);
			v++;
		}
	}
	if (v != values->count)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
					   "TPM2_PCR_Read: %u values for %zu selected PCRs", (unsigned)values->count, v);
	*taken = v;
	return PCRGATE_OK;
}

/* The first PCR still wanted, for a message. */
static int first_missing(const pcrgate_tpm_bank_select *sel, size_t count, const uint32_t *want, uint16_t *alg,
			 unsigned *pcr)
{
	size_t b;
	unsigned i;

	for (b = 0; b < count; b++)
		for (i = 0; i < PCRGATE_MAX_PCRS; i++)
			if (want[b] & ((uint32_t)1 << i)) {
				*alg = sel[b].alg;
				*pcr = i;
				return 1;
			}
	return 0;
}

/* One whole read, in as many TPM2_PCR_Read calls as needed; *changed set when the PCRs moved meanwhile. */
static int read_once(pcrgate_tpm *tpm, const pcrgate_tpm_bank_select *sel, size_t count, pcrgate_pcrs **out,
		     int *changed, pcrgate_errinfo *ei)
{
	uint32_t want[PCRGATE_MAX_BANKS], first_counter = 0, counter = 0;
	TPML_PCR_SELECTION in, *got = NULL;
	TPML_DIGEST *values = NULL;
	pcrgate_pcrs *pcrs = NULL;
	char label[16];
	size_t b, taken;
	unsigned round, pcr;
	uint16_t alg;
	TSS2_RC rc;
	int r = PCRGATE_ERR_NOMEM;

	*changed = 0;
	if ((pcrs = pcrgate_pcrs_new()) == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "out of memory");
	for (b = 0; b < count; b++)
		want[b] = sel[b].mask;
	/* Each round takes at least one PCR, so this ends. */
	for (round = 0; first_missing(sel, count, want, &alg, &pcr); round++) {
		memset(&in, 0, sizeof(in));
		for (b = 0; b < count; b++)
			if (want[b] != 0)
				sel_set(&in.pcrSelections[in.count++], sel[b].alg, want[b]);
		PCRGATE_TPM_RETRY(rc, Esys_PCR_Read(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &in, &counter,
						    &got, &values));
		if (rc != TSS2_RC_SUCCESS) {
			r = pcrgate_tpm_error("TPM2_PCR_Read", rc, ei);
			goto fail;
		}
		if (round == 0) {
			first_counter = counter;
		} else if (counter != first_counter) {
			*changed = 1;
			r = PCRGATE_OK;
			goto fail;
		}
		if ((r = take_values(sel, count, want, got, values, pcrs, &taken, ei)) != 0)
			goto fail;
		if (taken == 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
						"TPM2_PCR_Read: the TPM has no %s PCR %u (bank not active or PCR not "
						"implemented)",
						pcrgate_alg_label(alg, label), pcr);
			goto fail;
		}
		Esys_Free(got);
		Esys_Free(values);
		got = NULL;
		values = NULL;
	}
	*out = pcrs;
	return PCRGATE_OK;
fail:
	Esys_Free(got);
	Esys_Free(values);
	pcrgate_pcrs_free(&pcrs);
	return r;
}

int pcrgate_tpm_pcr_read(pcrgate_tpm *tpm, const pcrgate_tpm_bank_select *sel, size_t count, pcrgate_pcrs **out,
			 pcrgate_errinfo *ei)
{
	pcrgate_pcrs *pcrs = NULL;
	char label[16];
	size_t i, j;
	int changed, r, attempt;

	if (tpm == NULL || sel == NULL || out == NULL || count == 0 || count > PCRGATE_MAX_BANKS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no TPM or output, or %zu banks selected (1 to %d allowed)", count,
					   PCRGATE_MAX_BANKS);
	for (i = 0; i < count; i++) {
		if (pcrgate_alg_digest_size(sel[i].alg) == 0 || sel[i].mask == 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						   "selection %zu: unknown bank %s or no PCR selected", i,
						   pcrgate_alg_label(sel[i].alg, label));
		for (j = 0; j < i; j++)
			if (sel[j].alg == sel[i].alg)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
							   "PCR bank %s selected twice", pcrgate_alg_label(sel[i].alg, label));
	}
	for (attempt = 0; attempt <= PCR_READ_RESTARTS; attempt++) {
		if ((r = read_once(tpm, sel, count, &pcrs, &changed, ei)) != 0)
			return r;
		if (!changed) {
			*out = pcrs;
			return PCRGATE_OK;
		}
		pg_debug("PCRs changed while being read; reading again");
	}
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
				   "TPM2_PCR_Read: the PCRs kept changing while being read (%d attempts)", attempt);
}

int pcrgate_tpm_count_transient(pcrgate_tpm *tpm, size_t *count, pcrgate_errinfo *ei)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more = TPM2_YES;
	TPM2_HANDLE next = TRANSIENT_FIRST;
	size_t n = 0, i;
	unsigned round;
	TSS2_RC rc;
	int r;

	if (tpm == NULL || count == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no TPM or output");
	for (round = 0; more == TPM2_YES; round++) {
		if (round == HANDLE_ROUNDS)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
						   "TPM2_GetCapability(HANDLES): more than %d rounds", HANDLE_ROUNDS);
		PCRGATE_TPM_RETRY(rc, Esys_GetCapability(tpm->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
							 TPM2_CAP_HANDLES, next, TPM2_MAX_CAP_HANDLES, &more, &cap));
		if (rc != TSS2_RC_SUCCESS)
			return pcrgate_tpm_error("TPM2_GetCapability(HANDLES)", rc, ei);
		if (cap->capability != TPM2_CAP_HANDLES) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET,
						"TPM2_GetCapability(HANDLES): unexpected answer (capability 0x%x)",
						(unsigned)cap->capability);
			Esys_Free(cap);
			return r;
		}
		for (i = 0; i < cap->data.handles.count && i < TPM2_MAX_CAP_HANDLES; i++) {
			TPM2_HANDLE h = cap->data.handles.handle[i];
			/* Handles come in ascending order; a smaller one would make this loop forever. */
			if ((h >> TPM2_HR_SHIFT) != TPM2_HT_TRANSIENT || h < next) {
				more = TPM2_NO;
				break;
			}
			n++;
			next = h + 1;
		}
		if (cap->data.handles.count == 0)
			more = TPM2_NO;
		Esys_Free(cap);
		cap = NULL;
	}
	*count = n;
	return PCRGATE_OK;
}
