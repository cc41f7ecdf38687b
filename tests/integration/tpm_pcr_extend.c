/*
 * Integration test, run by tpm-pcr-extend.tpm under with-swtpm: through the library it
 * lists the active PCR banks, extends PCR 16 (debug, resettable) and PCR 8 in every
 * bank with known data and digests, reads them back and compares them with values
 * computed in software from zero. Bad extends must fail with clear errors and change
 * nothing. Prints "bank NAME" and "NAME:PCR=hex" lines for the script to compare with
 * tpm2_pcrread. Exit 0 pass, 1 fail, 77 skip.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcrgate/alg.h"
#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"
#include "pcrgate/tpm.h"

#define PCR_DEBUG 16
#define PCR_IMAGES 8
#define PC_CLIENT_PCRS 24

static pcrgate_tpm *tpm;
static uint16_t banks[PCRGATE_MAX_BANKS];
static size_t nbanks;
/* What PCR 8 and 16 must hold, per bank, computed in software. */
static uint8_t expect[PCRGATE_MAX_BANKS][PCRGATE_MAX_PCRS][PCRGATE_MAX_DIGEST];

static int failf(const char *what, int r, const pcrgate_errinfo *ei)
{
	fprintf(stderr, "FAIL: %s: %s%s%s\n", what, pcrgate_strerror(r), ei && ei->message[0] ? ": " : "",
		ei ? ei->message : "");
	return 1;
}

static void model_extend(size_t b, unsigned pcr, const uint8_t *digest)
{
	pcrgate_pcr_extend(banks[b], expect[b][pcr], digest);
}

static int extend_data(unsigned pcr, const char *data)
{
	pcrgate_errinfo ei = {0};
	uint8_t d[PCRGATE_MAX_DIGEST];
	size_t b;
	int r;

	if ((r = pcrgate_tpm_extend_data(tpm, pcr, data, strlen(data), &ei)) != 0)
		return failf("pcrgate_tpm_extend_data", r, &ei);
	for (b = 0; b < nbanks; b++) {
		if (pcrgate_digest(banks[b], data, strlen(data), d) != 0)
			return failf("pcrgate_digest", PCRGATE_ERR_CRYPTO, NULL);
		model_extend(b, pcr, d);
	}
	return 0;
}

/* Caller-given digests, handed over in reverse bank order: the order must not matter. */
static int extend_digests(unsigned pcr, const char *data)
{
	pcrgate_tpm_digest digests[PCRGATE_MAX_BANKS];
	pcrgate_errinfo ei = {0};
	size_t b;
	int r;

	for (b = 0; b < nbanks; b++) {
		pcrgate_tpm_digest *d = &digests[nbanks - 1 - b];
		d->alg = banks[b];
		if (pcrgate_digest(banks[b], data, strlen(data), d->digest) != 0)
			return failf("pcrgate_digest", PCRGATE_ERR_CRYPTO, NULL);
		model_extend(b, pcr, d->digest);
	}
	if ((r = pcrgate_tpm_extend_digests(tpm, pcr, digests, nbanks, &ei)) != 0)
		return failf("pcrgate_tpm_extend_digests", r, &ei);
	return 0;
}

/* Reads PCR 0-23 of every bank (more than one TPM2_PCR_Read answers) and checks PCR 8 and 16. */
static int check_pcrs(const char *when)
{
	pcrgate_tpm_bank_select sel[PCRGATE_MAX_BANKS];
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei = {0};
	const unsigned checked[] = {PCR_IMAGES, PCR_DEBUG};
	size_t b, i, len;
	int r, bad = 0;

	for (b = 0; b < nbanks; b++) {
		sel[b].alg = banks[b];
		sel[b].mask = ((uint32_t)1 << PC_CLIENT_PCRS) - 1;
	}
	if ((r = pcrgate_tpm_pcr_read(tpm, sel, nbanks, &pcrs, &ei)) != 0)
		return failf("pcrgate_tpm_pcr_read", r, &ei);
	for (b = 0; b < nbanks; b++) {
		if (pcrgate_pcrs_mask(pcrs, banks[b]) != sel[b].mask) {
			fprintf(stderr, "FAIL: %s: %s: read PCR mask 0x%08x, asked 0x%08x\n", when,
				pcrgate_alg_name(banks[b]), (unsigned)pcrgate_pcrs_mask(pcrs, banks[b]),
				(unsigned)sel[b].mask);
			bad = 1;
			continue;
		}
		for (i = 0; i < sizeof(checked) / sizeof(checked[0]); i++) {
			const uint8_t *v = pcrgate_pcrs_get(pcrs, banks[b], checked[i], &len);
			char got[2 * PCRGATE_MAX_DIGEST + 1], want[2 * PCRGATE_MAX_DIGEST + 1];

			if (v != NULL && len == pcrgate_alg_digest_size(banks[b]) &&
			    pcrgate_ct_equal(v, expect[b][checked[i]], len))
				continue;
			pcrgate_hex_encode(expect[b][checked[i]], pcrgate_alg_digest_size(banks[b]), want);
			if (v != NULL)
				pcrgate_hex_encode(v, len, got);
			fprintf(stderr, "FAIL: %s: %s PCR %u is %s, expected %s\n", when, pcrgate_alg_name(banks[b]),
				checked[i], v != NULL ? got : "missing", want);
			bad = 1;
		}
	}
	pcrgate_pcrs_free(&pcrs);
	return bad;
}

/* Calls that must fail, each with a message that names what was wrong, and change nothing. */
static int check_rejections(void)
{
	pcrgate_tpm_digest digests[PCRGATE_MAX_BANKS];
	pcrgate_tpm_bank_select sel = {PCRGATE_ALG_SHA256, (uint32_t)1 << 30};
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei = {0};
	size_t b;
	int r, bad = 0;

	memset(digests, 0, sizeof(digests));
	for (b = 0; b < nbanks; b++)
		digests[b].alg = banks[b];
	if (nbanks > 1) {
		r = pcrgate_tpm_extend_digests(tpm, PCR_DEBUG, digests, nbanks - 1, &ei);
		if (r != PCRGATE_ERR_INVALID_ARGUMENT || strstr(ei.message, "no digest for active PCR bank") == NULL)
			bad = failf("extend leaving out a bank was not refused", r, &ei);
	}
	digests[0].alg = banks[0] == PCRGATE_ALG_SM3_256 ? PCRGATE_ALG_SHA512 : PCRGATE_ALG_SM3_256;
	r = pcrgate_tpm_extend_digests(tpm, PCR_DEBUG, digests, nbanks, &ei);
	if (r != PCRGATE_ERR_INVALID_ARGUMENT || strstr(ei.message, "is not active") == NULL)
		bad = failf("extend of an inactive bank was not refused", r, &ei);
	/* A PCR the TPM does not have: the TPM's own error, decoded and named. */
	r = pcrgate_tpm_extend_data(tpm, 31, "x", 1, &ei);
	if (r != PCRGATE_ERR_TPM || strncmp(ei.message, "TPM2_PCR_Extend", 15) != 0 ||
	    strstr(ei.message, "tpm:") == NULL)
		bad = failf("extend of PCR 31 did not fail with a decoded TPM error", r, &ei);
	else
		fprintf(stderr, "# expected error: %s\n", ei.message);
	r = pcrgate_tpm_pcr_read(tpm, &sel, 1, &pcrs, &ei);
	if (r == 0 || pcrs != NULL)
		bad = failf("read of PCR 30 did not fail", r, &ei);
	else
		fprintf(stderr, "# expected error: %s\n", ei.message);
	return bad;
}

int main(void)
{
	pcrgate_errinfo ei = {0};
	const char *env = getenv("PCRGATE_TCTI");
	size_t b, transient = 1;
	int r, bad = 1;

	pcrgate_log_init_from_env();
	if (env == NULL || *env == '\0') {
		printf("SKIP: PCRGATE_TCTI is not set (run me under tests/integration/with-swtpm)\n");
		return 77;
	}
	if ((r = pcrgate_tpm_open(NULL, NULL, &tpm, &ei)) != 0)
		return failf("pcrgate_tpm_open", r, &ei);
	fprintf(stderr, "# TCTI %s (from %s)\n", pcrgate_tpm_tcti(tpm),
		pcrgate_tcti_source_name(pcrgate_tpm_tcti_source(tpm)));
	if (strcmp(pcrgate_tpm_tcti(tpm), env) != 0) {
		fprintf(stderr, "FAIL: opened TCTI %s, PCRGATE_TCTI is %s\n", pcrgate_tpm_tcti(tpm), env);
		goto done;
	}
	if ((r = pcrgate_tpm_get_banks(tpm, banks, PCRGATE_MAX_BANKS, &nbanks, &ei)) != 0) {
		failf("pcrgate_tpm_get_banks", r, &ei);
		goto done;
	}
	for (b = 0; b < nbanks; b++) {
		if (pcrgate_alg_digest_size(banks[b]) == 0) {
			fprintf(stderr, "FAIL: active bank 0x%04x is unknown to pcrgate\n", (unsigned)banks[b]);
			goto done;
		}
		printf("bank %s\n", pcrgate_alg_name(banks[b]));
	}
	/* A fresh swtpm: PCR 8 and 16 start at zero, as expect[] does. */
	if (check_pcrs("before extending") != 0)
		goto done;
	if (extend_data(PCR_DEBUG, "pcrgate integration test: first") != 0 ||
	    extend_data(PCR_DEBUG, "pcrgate integration test: second") != 0 ||
	    extend_digests(PCR_IMAGES, "pcrgate integration test: kernel image") != 0 ||
	    extend_data(PCR_IMAGES, "") != 0)
		goto done;
	if (check_pcrs("after extending") != 0 || check_rejections() != 0 ||
	    check_pcrs("after the refused extends") != 0)
		goto done;
	if ((r = pcrgate_tpm_count_transient(tpm, &transient, &ei)) != 0) {
		failf("pcrgate_tpm_count_transient", r, &ei);
		goto done;
	}
	if (transient != 0) {
		fprintf(stderr, "FAIL: %zu transient objects in the TPM\n", transient);
		goto done;
	}
	for (b = 0; b < nbanks; b++) {
		char hex[2 * PCRGATE_MAX_DIGEST + 1];
		size_t size = pcrgate_alg_digest_size(banks[b]);

		pcrgate_hex_encode(expect[b][PCR_IMAGES], size, hex);
		printf("%s:%u=%s\n", pcrgate_alg_name(banks[b]), PCR_IMAGES, hex);
		pcrgate_hex_encode(expect[b][PCR_DEBUG], size, hex);
		printf("%s:%u=%s\n", pcrgate_alg_name(banks[b]), PCR_DEBUG, hex);
	}
	bad = 0;
done:
	pcrgate_tpm_close(&tpm);
	return bad;
}
