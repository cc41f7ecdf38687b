/*
 * libFuzzer target for the event log: parses the input, replays it, and describes every
 * event as `pcrgate eventlog show` does (at a full and at a tiny buffer size), plus every
 * event's data as a device path, and reads every event as the boot extension's slot event in
 * each bank (lib/slot_event.c). Any crash, overrun or leak is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "pcrgate/eventlog.h"
#include "slot_event.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA384,
					PCRGATE_ALG_SHA512, PCRGATE_ALG_SM3_256};
	char text[4096], tiny[7];
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *pcrs = NULL;
	const pcrgate_event *ev;
	struct pcrgate_slot_event se;
	const uint8_t *p;
	size_t i, k, len;

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	if (pcrgate_eventlog_parse(data, size, &log, NULL) != 0)
		return 0;
	if (pcrgate_eventlog_replay(log, &pcrs, NULL) == 0)
		pcrgate_pcrs_free(&pcrs);
	for (i = 0; i < pcrgate_eventlog_count(log); i++) {
		ev = pcrgate_eventlog_event(log, i);
		pcrgate_event_describe(ev, text, sizeof(text));
		pcrgate_event_describe(ev, tiny, sizeof(tiny));
		(void)pcrgate_event_type_name(pcrgate_event_type(ev));
		for (k = 0; k < sizeof(algs) / sizeof(algs[0]); k++)
			if ((p = pcrgate_event_digest(ev, algs[k], &len)) != NULL && len > 0)
				text[0] = (char)p[len - 1];
		p = pcrgate_event_data(ev, &len);
		pcrgate_efi_device_path_text(p, len, text, sizeof(text));
		for (k = 0; k < sizeof(algs) / sizeof(algs[0]); k++)
			if (pcrgate_slot_event_parse(ev, algs[k], &se) == 0 && se.slot > 1)
				__builtin_trap(); /* the parser promises slot a or b */
	}
	pcrgate_eventlog_free(&log);
	return 0;
}
