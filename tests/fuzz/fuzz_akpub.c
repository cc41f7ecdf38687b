/*
 * libFuzzer target for the inputs that come with a quote besides the quote itself: the input is
 * loaded as an AK public key (every format is detected from the bytes), and read as a PCR file
 * in each format (the values format without a quote, then with the input as the quote). Any
 * crash, overrun or leak is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/quote.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t parent[4] = {0x40, 0x00, 0x00, 0x01};
	uint8_t qn[PCRGATE_QUOTE_MAX_NAME];
	pcrgate_akpub *ak = pcrgate_akpub_new();
	pcrgate_pcrs *pcrs = NULL;
	uint32_t attrs;
	uint16_t scheme, hash;
	size_t len;
	int f;

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	if (ak != NULL && pcrgate_akpub_load(ak, data, size, NULL) == 0) {
		(void)pcrgate_akpub_name(ak, &len);
		(void)pcrgate_akpub_tpm_info(ak, &attrs, &scheme, &hash);
		(void)pcrgate_akpub_qualified_name(ak, parent, sizeof(parent), qn, &len);
	}
	pcrgate_akpub_free(&ak);
	for (f = PCRGATE_PCRFILE_AUTO; f <= PCRGATE_PCRFILE_JSON; f++) {
		if (pcrgate_pcrfile_parse(data, size, f, NULL, 0, &pcrs, NULL, NULL) == 0)
			pcrgate_pcrs_free(&pcrs);
		if (pcrgate_pcrfile_parse(data, size, f, data, size, &pcrs, NULL, NULL) == 0)
			pcrgate_pcrs_free(&pcrs);
	}
	return 0;
}
