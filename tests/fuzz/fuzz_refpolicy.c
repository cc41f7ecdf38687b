/*
 * libFuzzer target for reference policies: the input is parsed as a policy document and, when
 * it parses, evaluated against a small fixed device (a log with a separator and an EFI action
 * on PCRs 0-9 in sha1 and sha256, every replayed PCR vouched for). Any crash, overrun or leak
 * is a bug; the seeds come from tests/unit/test_refpolicy.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pcrgate/eventlog.h"
#include "refpolicy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t log_buf[4096];
static size_t log_len;
static pcrgate_pcrs *pcrs;
static pcrgate_quote_result qr;

static int add(uint32_t pcr, uint32_t type, const void *ev, size_t len)
{
	static const uint16_t algs[2] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
	uint8_t d1[20], d2[32];
	pcrgate_eventlog_digest dg[2] = {{algs[0], d1}, {algs[1], d2}};
	size_t w = 0;

	if (pcrgate_digest(algs[0], ev, len, d1) != 0 || pcrgate_digest(algs[1], ev, len, d2) != 0 ||
	    pcrgate_eventlog_write_event(log_buf + log_len, sizeof(log_buf) - log_len, pcr, type, dg, 2, ev, len,
					 &w) != 0)
		return -1;
	log_len += w;
	return 0;
}

/* The fixed device, built once. */
static int setup(void)
{
	static const uint16_t algs[2] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
	static const uint8_t sep[4] = {0, 0, 0, 0};
	pcrgate_eventlog *log = NULL;
	uint32_t k;
	size_t b;

	if (pcrs != NULL)
		return 0;
	if (pcrgate_eventlog_write_header(log_buf, sizeof(log_buf), algs, 2, &log_len) != 0)
		return -1;
	for (k = 0; k <= 9; k++)
		if (add(k, PCRGATE_EV_EFI_ACTION, "Exit Boot Services Invocation", 29) != 0 ||
		    add(k, PCRGATE_EV_SEPARATOR, sep, sizeof(sep)) != 0)
			return -1;
	if (pcrgate_eventlog_parse(log_buf, log_len, &log, NULL) != 0 || pcrgate_eventlog_replay(log, &pcrs, NULL) != 0) {
		pcrgate_eventlog_free(&log);
		return -1;
	}
	/* The result keeps the parsed log, as a verified quote's does. */
	snprintf(qr.eventlogs[0].name, sizeof(qr.eventlogs[0].name), "fuzz");
	qr.eventlogs[0].log = log;
	qr.eventlog_count = 1;
	qr.selection_count = 2;
	qr.eventlog_verified_count = 2;
	for (b = 0; b < 2; b++) {
		qr.selection[b].alg = qr.eventlog_verified[b].alg = algs[b];
		qr.selection[b].mask = qr.eventlog_verified[b].mask = pcrgate_pcrs_mask(pcrs, algs[b]);
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	pcrgate_refpolicy_verdict v;
	pcrgate_refpolicy *p = NULL;

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	if (setup() != 0)
		return 0;
	if (pcrgate_refpolicy_parse(data, size, &p, NULL) != 0)
		return 0;
	(void)pcrgate_refpolicy_evaluate(p, pcrs, &qr, &v, NULL);
	(void)pcrgate_refpolicy_pcr_mask(p);
	pcrgate_refpolicy_free(&p);
	return 0;
}
