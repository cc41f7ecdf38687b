/*
 * The parsed event log's layout, shared by the parser/replay (eventlog.c) and the
 * data decoder (eventlog_decode.c). Internal to the library.
 */
#ifndef PCRGATE_EVENTLOG_INTERNAL_H
#define PCRGATE_EVENTLOG_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/eventlog.h"

/* Fixed sizes of the on-disk structures. */
#define EL_PCR_EVENT_HEADER 32u /* TCG_PCR_EVENT: pcrIndex, eventType, SHA-1 digest, eventDataSize */
#define EL_SPEC_ID_HEADER 28u   /* signature, platformClass, versions, uintnSize, numberOfAlgorithms */
#define EL_SPEC_ID_SIGNATURE "Spec ID Event03" /* 16 bytes with its NUL */
#define EL_STARTUP_LOCALITY "StartupLocality"  /* 16 bytes with its NUL, then the locality */

struct el_alg {
	uint16_t alg;
	uint16_t size;
};

struct pcrgate_event {
	const struct pcrgate_eventlog *log;
	const uint8_t *data;
	size_t offset;
	uint32_t pcr;
	uint32_t type;
	uint32_t data_len;
	uint8_t legacy; /* a TCG_PCR_EVENT: its one digest is SHA-1 at offset 8 */
	/* Offset from the event's start of its digest in each of the log's banks. */
	uint16_t digest_off[PCRGATE_EVENTLOG_MAX_ALGS];
};

struct pcrgate_eventlog {
	uint8_t *buf;
	size_t len;
	int format;
	/* The Spec ID event's fields (crypto-agile logs). */
	uint32_t platform_class;
	uint8_t spec_minor, spec_major, spec_errata, uintn_size;
	size_t nalgs;
	struct el_alg algs[PCRGATE_EVENTLOG_MAX_ALGS];
	size_t vendor_len;
	/* The banks every event carries, in the first event's order. */
	size_t nbanks;
	struct el_alg banks[PCRGATE_EVENTLOG_MAX_ALGS];
	int banks_fixed; /* set by the first TCG_PCR_EVENT2 */
	/* PCR 0's initial value. */
	uint8_t locality;
	int has_locality;
	int hcrtm;
	size_t pad_off, pad_len;
	size_t nevents, cap;
	struct pcrgate_event *events;
};

#endif
