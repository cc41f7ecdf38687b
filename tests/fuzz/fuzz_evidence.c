/*
 * libFuzzer target for the evidence document: pcrgate_evidence_parse on the input; a document
 * that parses is read through every getter and verified with its own AK and nonce (which runs
 * the quote checks on its members, and the event logs' when a quote gets that far), and its
 * nonce is bound to the input as a report. Any crash, overrun or leak is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pcrgate/evidence.h"
#include "pcrgate/quote.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t binding[PCRGATE_EVIDENCE_BINDING_SIZE];
	pcrgate_evidence *ev = NULL;
	pcrgate_quote_input in;
	pcrgate_quote_result res;
	pcrgate_clock_state clock;
	const char *name;
	const uint8_t *nonce;
	size_t i, len, nonce_len = 0;
	uint64_t fw;
	int safe;

	if (pcrgate_evidence_parse(data, size, &ev, NULL) != 0)
		return 0;
	nonce = pcrgate_evidence_nonce(ev, &nonce_len);
	(void)pcrgate_evidence_ak_public(ev, &len);
	(void)pcrgate_evidence_ak_name(ev, &len);
	(void)pcrgate_evidence_ak_qualified_name(ev, &len);
	(void)pcrgate_evidence_attest(ev, &len);
	(void)pcrgate_evidence_signature(ev, &len);
	(void)pcrgate_evidence_pcrs(ev);
	(void)pcrgate_evidence_clock(ev, &clock, &safe, &fw);
	for (i = 0; i <= pcrgate_evidence_eventlog_count(ev); i++)
		(void)pcrgate_evidence_eventlog(ev, i, &name, &len);
	memset(&in, 0, sizeof(in));
	if (pcrgate_evidence_quote_input(ev, &in) == 0) {
		in.ak = pcrgate_evidence_ak(ev);
		in.nonce = nonce;
		in.nonce_len = nonce_len;
		in.previous = &clock;
		(void)pcrgate_quote_verify(&in, &res, NULL);
		pcrgate_quote_result_clear(&res);
	}
	(void)pcrgate_evidence_report_binding(nonce, nonce_len, data, size, binding);
	pcrgate_evidence_free(&ev);
	return 0;
}
