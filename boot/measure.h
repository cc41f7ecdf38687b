/*
 * pcrgate boot core: the boot extension's events, byte for byte (docs/pcr-map.md). The core
 * builds them to measure a boot; a verifier or the PCR prediction tool builds the same
 * bytes from a manifest alone, because every image event carries the manifest's digest of
 * the image (which the core has checked) rather than a digest of the image itself.
 */
#ifndef PCRGATE_BOOT_MEASURE_H
#define PCRGATE_BOOT_MEASURE_H

#include <stddef.h>
#include <stdint.h>

#include "manifest.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The most events one boot measures: slot, each image, a separator in each of the two PCRs. */
#define PCRGATE_BOOT_MAX_EVENTS (1 + PCRGATE_MANIFEST_MAX_IMAGES + 2)

/*
 * One event: PCR, TCG event type, the event data to log, and the part of the data that is
 * digested and extended (data[hashed_off .. hashed_off + hashed_len)).
 */
struct pcrgate_boot_event {
	uint32_t pcr;
	uint32_t type;
	uint8_t data[PCRGATE_BOOT_EVENT_MAX];
	size_t len;
	size_t hashed_off;
	size_t hashed_len;
};

/* PCRGATE_PCR_BOOT_SLOT: "pcrgate.slot: slot=S version=V security_version=N manifest_sha256=H\0". */
int pcrgate_boot_event_slot(unsigned slot, const struct pcrgate_manifest *m, const uint8_t manifest_sha256[32],
			    struct pcrgate_boot_event *ev);

/* PCRGATE_PCR_BOOT_IMAGES: "pcrgate.image: image=NAME size=N sha256=H\0". */
int pcrgate_boot_event_image(const struct pcrgate_manifest_image *img, struct pcrgate_boot_event *ev);

/* EV_SEPARATOR on `pcr` with a 32-bit little-endian value (PCRGATE_SEPARATOR_OK or _ERROR). */
void pcrgate_boot_event_separator(uint32_t pcr, uint32_t value, struct pcrgate_boot_event *ev);

/*
 * Every event of a boot of `slot` with manifest m, in the order the core measures them:
 * the slot event, one image event per image in manifest order, then the separators of
 * PCRGATE_PCR_BOOT_IMAGES and PCRGATE_PCR_BOOT_SLOT. Writes *n events into events[cap].
 */
int pcrgate_boot_events(unsigned slot, const struct pcrgate_manifest *m, const uint8_t manifest_sha256[32],
			struct pcrgate_boot_event *events, size_t cap, size_t *n);

#ifdef __cplusplus
}
#endif
#endif
