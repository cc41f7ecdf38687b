/*
 * pcrgate boot core: the platform-neutral measured-boot logic. pcrgate_boot_run() picks an
 * A/B slot with boot counting and fallback, boots only a slot whose manifest signature,
 * security version and image digests check out, and measures it into PCRs 9 and 8 in a
 * fixed order. The operations below it are what the running system (the agent, the host
 * port's command line) uses to arm a trial, commit or reject a slot. Everything goes
 * through the port (port.h); the state machine is drawn in docs/boot.md.
 *
 * No allocation and no libc beyond mem*; the caller owns every structure (they are not
 * opaque for that reason). A boot uses about 6 KiB of stack, most of it one manifest.
 */
#ifndef PCRGATE_BOOT_CORE_H
#define PCRGATE_BOOT_CORE_H

#include <stddef.h>
#include <stdint.h>

#include "bootstate.h"
#include "manifest.h"
#include "measure.h"
#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

/* What happened to one slot during a boot. */
struct pcrgate_boot_slot_report {
	enum pcrgate_boot_reason reason;      /* NONE: booted, or never needed */
	int marked_bad;                       /* this boot recorded the slot as bad */
	int error;                            /* the port's code behind a fault or missing item, else 0 */
	char image[PCRGATE_MANIFEST_NAME_MAX]; /* the image that failed, or "" */
	const char *detail;                   /* manifest parse error, or NULL */
	size_t offset;                        /* its byte offset in the manifest */
};

/*
 * The outcome of a boot; always filled in, whatever pcrgate_boot_run returns. When
 * `booted` is set the port boots `slot` with the images it kept (image_close(1)) and
 * manifest describes them, in measurement order.
 */
struct pcrgate_boot_result {
	int booted;
	unsigned slot;
	enum pcrgate_boot_reason stop; /* why nothing is booted; NONE when booted */
	int trial;                     /* the slot boots on trial */
	unsigned tries_left;           /* trial boots left after this one */
	int fell_back;                 /* a slot preferred to this one was rejected or skipped */
	uint64_t counter;              /* the anti-rollback counter read this boot */
	struct pcrgate_manifest manifest;
	uint8_t manifest_sha256[32];
	unsigned extends;  /* pcr_extend calls made this boot */
	int state_error;   /* first failed boot-state write this boot, else 0 */
	struct pcrgate_boot_slot_report slots[PCRGATE_BOOT_SLOTS];
};

/*
 * Boots: loads the boot state, reads the counter once, chooses and verifies a slot
 * (recording trial attempts and bad slots in the boot state), and measures it. Returns 0
 * when result->slot is to be booted. Otherwise nothing may be booted and result->stop
 * says why: PCRGATE_ERR_VERIFY (no slot passed), or the port's error when the counter or
 * a measurement failed (PCRGATE_ERR_TPM and the like), or PCRGATE_ERR_INVALID_ARGUMENT.
 * When nothing is booted, PCRs 8 and 9 are capped with an error separator, so nothing
 * started afterwards can make them look like a good boot.
 *
 * TPM calls: one counter_read, then either one pcr_extend per measured event (slot,
 * each image, two separators: 1 + images + 2) or, with nothing booted, two error
 * separators (none when the port is incomplete).
 */
int pcrgate_boot_run(const struct pcrgate_boot_port *port, struct pcrgate_boot_result *result);
/*
 * Caps PCRs 8 and 9 with an error separator (best effort): what pcrgate_boot_run does when
 * nothing boots, for a port that finds it cannot start the verified images after all, so a
 * recovery path started next cannot look like a good boot. The number of extends it tried.
 */
unsigned pcrgate_boot_cap_pcrs(const struct pcrgate_boot_port *port);

/*
 * The running system's operations, each one whole-record boot-state write (or none when
 * nothing changes). They use only the port's state_read and state_write.
 */

/* Arms slot for `tries` trial boots (1..PCRGATE_BOOTSTATE_MAX_TRIES); clears the last fallback. */
int pcrgate_boot_set_trial(const struct pcrgate_boot_port *port, unsigned slot, unsigned tries);

/* Commits slot: GOOD and primary. Only a slot that can have booted (trial, good, unknown). */
int pcrgate_boot_mark_good(const struct pcrgate_boot_port *port, unsigned slot);

/* Rejects slot (a failed health check): BAD, recorded as the last fallback. */
int pcrgate_boot_mark_bad(const struct pcrgate_boot_port *port, unsigned slot);

/* Empties slot before installing into it, so a half-written slot is never tried. */
int pcrgate_boot_mark_empty(const struct pcrgate_boot_port *port, unsigned slot);

/* The current boot state; *current is the copy it came from, -1 when none was valid. */
int pcrgate_boot_status(const struct pcrgate_boot_port *port, struct pcrgate_bootstate *st, int *current);

#ifdef __cplusplus
}
#endif
#endif
