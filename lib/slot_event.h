/*
 * pcrgate (library-internal): the boot extension's slot event read back from an event log.
 * pcrgate-boot logs, on PCR 9, "pcrgate.slot: slot=S version=V security_version=N
 * manifest_sha256=H\0" (boot/measure.c, docs/pcr-map.md); the extended digest covers the fields
 * after the label. The agent learns the running slot from it, `pcrgate policy from-eventlog` a
 * release's version: both only from an event whose digest vouches for its fields.
 */
#ifndef PCRGATE_SLOT_EVENT_H
#define PCRGATE_SLOT_EVENT_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/eventlog.h"

/* Bytes of version=, as the slot manifest's version= allows (boot/manifest.h). */
#define PCRGATE_SLOT_EVENT_VERSION_MAX 64

struct pcrgate_slot_event {
	unsigned slot;                                      /* 0 for slot a, 1 for slot b */
	char version[PCRGATE_SLOT_EVENT_VERSION_MAX + 1];  /* printable, NUL-terminated */
	uint64_t security_version;
};

/*
 * The fields of ev when it is a slot event: PCR PCRGATE_PCR_BOOT_SLOT, type PCRGATE_EVENT_SLOT,
 * data "PCRGATE_EVENT_LABEL_SLOT FIELDS\0", and its digest in bank the digest of FIELDS. slot=,
 * version= and security_version= must each appear once; other fields are skipped. *out only on
 * success. PCRGATE_ERR_NOT_FOUND: not a slot event; PCRGATE_ERR_UNSUPPORTED: no digest in bank;
 * PCRGATE_ERR_VERIFY: the digest is not that of the fields; PCRGATE_ERR_FORMAT: malformed fields.
 */
int pcrgate_slot_event_parse(const pcrgate_event *ev, uint16_t bank, struct pcrgate_slot_event *out);

#endif
