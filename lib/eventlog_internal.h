/*
 * The parsed event log's layout, shared by the parser/replay (eventlog.c) and the
 * data decoder (eventlog_decode.c); the replay of several logs into one PCR state, which
 * pcrgate_eventlog_replay and the quote's eventlog check share; event types by name, for
 * the reference policy parser. Internal to the library.
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
	uint8_t spec_minor, spec_major, uintn_size;
	size_t nalgs;
	struct el_alg algs[PCRGATE_EVENTLOG_MAX_ALGS];
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

/*
 * One PCR state replayed from several logs in order (the firmware's, then the boot
 * extension's): a PCR two logs extend gets the first log's events first, as the TPM did.
 * The caller names the banks, alg[0..nbanks), each one pcrgate knows; the rest is output.
 */
#define EL_REPLAY_MAX_LOGS 8 /* the logs that extend a PCR fit a byte mask */
struct el_replay {
	size_t nbanks;
	uint16_t alg[PCRGATE_MAX_BANKS];
	uint8_t value[PCRGATE_MAX_BANKS][PCRGATE_MAX_PCRS][PCRGATE_MAX_DIGEST];
	unsigned pcr0_start;		   /* PCR 0's starting value: the first log's */
	uint32_t extended;		   /* bit k: some event extends PCR k */
	uint8_t by[PCRGATE_MAX_PCRS];	   /* bit i: log i extends PCR k */
	size_t last_log[PCRGATE_MAX_PCRS]; /* the log of the last event on PCR k */
	size_t last_off[PCRGATE_MAX_PCRS]; /* and that event's offset in it */
	/* Where a failed replay stopped: the log, the event's index in it, the bank. */
	size_t fail_log, fail_event;
	uint16_t fail_alg;
};

/*
 * Replays every extending event of logs[0..nlogs) (at most EL_REPLAY_MAX_LOGS) into rp's
 * banks. A PCR starts as a TPM reset leaves it once something extends it: zeros, PCR 0 with
 * the first log's StartupLocality or H-CRTM value in its last byte. Returns 0;
 * PCRGATE_ERR_FORMAT for an extending event beyond the PCRs (the parser allows none);
 * PCRGATE_ERR_NOT_FOUND when an extending event has no digest in one of the banks; or the
 * extend's error. The fail_* members then say where.
 */
int el_replay_logs(const pcrgate_eventlog *const *logs, size_t nlogs, struct el_replay *rp);

/* The event type the specification names name ("EV_EFI_ACTION"); PCRGATE_ERR_NOT_FOUND if none. */
int pcrgate_event_type_from_name(const char *name, uint32_t *type);

#endif
