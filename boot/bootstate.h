/*
 * pcrgate boot core: the boot-state record (which slot is primary, each slot's status and
 * trial tries, the last fallback and why) and its two redundant copies. Each write is one
 * whole record with a higher sequence number into the copy that does not hold the current
 * record, so a power cut or torn write at any point leaves the previous record readable.
 * The byte layout is in docs/boot.md. Freestanding: no allocation, no libc beyond mem*.
 */
#ifndef PCRGATE_BOOT_BOOTSTATE_H
#define PCRGATE_BOOT_BOOTSTATE_H

#include <stddef.h>
#include <stdint.h>

#include "port.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCRGATE_BOOTSTATE_SIZE 24       /* bytes in one encoded record */
#define PCRGATE_BOOTSTATE_VERSION 1     /* record format version */
#define PCRGATE_BOOTSTATE_MAX_TRIES 32  /* the most trial boots one set-trial may arm */
#define PCRGATE_BOOTSTATE_NO_SLOT 0xFFu /* fallback_slot when no fallback is recorded */

/* A slot's status; the numbers are stored in the record. */
enum pcrgate_slot_status {
	PCRGATE_SLOT_UNKNOWN = 0, /* nothing recorded (fresh state): bootable once verified */
	PCRGATE_SLOT_GOOD = 1,    /* committed by the running system: bootable once verified */
	PCRGATE_SLOT_TRIAL = 2,   /* on trial: booted first while tries are left */
	PCRGATE_SLOT_BAD = 3,     /* failed: never tried again until re-armed */
	PCRGATE_SLOT_EMPTY = 4,   /* being installed or holding nothing: never tried */
};

/*
 * Why a slot was rejected or nothing was booted. Values up to
 * PCRGATE_BOOT_REASON_LAST_STORED are verdicts about a slot and are stored in the record
 * as its last fallback reason; the others are only reported in a boot result.
 */
enum pcrgate_boot_reason {
	PCRGATE_BOOT_REASON_NONE = 0,
	PCRGATE_BOOT_REASON_TRIES_EXHAUSTED = 1,
	PCRGATE_BOOT_REASON_MARKED_BAD = 2,
	PCRGATE_BOOT_REASON_MANIFEST_MISSING = 3,
	PCRGATE_BOOT_REASON_MANIFEST_INVALID = 4,
	PCRGATE_BOOT_REASON_SIGNATURE = 5,
	PCRGATE_BOOT_REASON_INCOMPATIBLE = 6,
	PCRGATE_BOOT_REASON_ROLLBACK = 7,
	PCRGATE_BOOT_REASON_IMAGE_MISSING = 8,
	PCRGATE_BOOT_REASON_IMAGE_SIZE = 9,
	PCRGATE_BOOT_REASON_IMAGE_DIGEST = 10,
	PCRGATE_BOOT_REASON_LAST_STORED = PCRGATE_BOOT_REASON_IMAGE_DIGEST,

	PCRGATE_BOOT_REASON_SLOT_BAD = 32,       /* not tried: marked bad earlier */
	PCRGATE_BOOT_REASON_SLOT_EMPTY = 33,     /* not tried: empty */
	PCRGATE_BOOT_REASON_PLATFORM_FAULT = 34, /* skipped this boot, not marked: a port fault */
	PCRGATE_BOOT_REASON_STATE_WRITE = 35,    /* trial skipped: its attempt could not be recorded */

	PCRGATE_BOOT_REASON_NO_BOOTABLE_SLOT = 64, /* stop: no slot passed verification */
	PCRGATE_BOOT_REASON_COUNTER = 65,          /* stop: anti-rollback counter unreadable */
	PCRGATE_BOOT_REASON_MEASURE = 66,          /* stop: a measurement failed */
	PCRGATE_BOOT_REASON_PORT = 67,             /* stop: the port is incomplete */
};

struct pcrgate_bootstate_slot {
	enum pcrgate_slot_status status;
	unsigned tries; /* trial boots left; 0 unless status is TRIAL */
};

struct pcrgate_bootstate {
	uint32_t seq;     /* sequence number of the record; the higher valid copy wins */
	unsigned primary; /* the preferred good slot: 0 (a) or 1 (b) */
	struct pcrgate_bootstate_slot slot[PCRGATE_BOOT_SLOTS];
	unsigned fallback_slot;                  /* slot of the last fallback, or NO_SLOT */
	enum pcrgate_boot_reason fallback_reason; /* why; NONE exactly when no fallback */
};

/* "a" or "b" (or "?" out of range): a slot's name in events, logs and commands. */
const char *pcrgate_boot_slot_name(unsigned slot);

/* "unknown", "good", "trial", "bad", "empty" (or "invalid"). */
const char *pcrgate_slot_status_str(enum pcrgate_slot_status status);

/* A short English description of a reason, for logs and the console. */
const char *pcrgate_boot_reason_str(enum pcrgate_boot_reason reason);
/* A reason as a stable token for scripts and JSON: the enum's name in lower case ("unknown"). */
const char *pcrgate_boot_reason_token(enum pcrgate_boot_reason reason);

/* The state used when neither copy is valid: both slots UNKNOWN, slot a primary, seq 0. */
void pcrgate_bootstate_fresh(struct pcrgate_bootstate *st);

/* 0 when every field is in range and consistent, else PCRGATE_ERR_FORMAT (and *why). */
int pcrgate_bootstate_check(const struct pcrgate_bootstate *st, const char **why);

/* Encodes a checked state into out (PCRGATE_BOOTSTATE_SIZE bytes). */
int pcrgate_bootstate_encode(const struct pcrgate_bootstate *st, uint8_t *out, size_t cap);

/*
 * Decodes one copy; strict: exact size, magic, version, CRC, every field. On failure
 * returns PCRGATE_ERR_FORMAT and, when why is not NULL, a static description.
 */
int pcrgate_bootstate_decode(const uint8_t *buf, size_t len, struct pcrgate_bootstate *st, const char **why);

/* 1 when sequence number a is newer than b (serial-number arithmetic, so wrap is fine). */
int pcrgate_bootstate_seq_newer(uint32_t a, uint32_t b);

/* 1 when two records hold the same state, field by field (sequence number included). */
int pcrgate_bootstate_equal(const struct pcrgate_bootstate *a, const struct pcrgate_bootstate *b);

/* CRC-32 as in IEEE 802.3 and zlib's crc32(). */
uint32_t pcrgate_crc32(const uint8_t *data, size_t len);

/*
 * Reads both copies through the port and picks the newer valid one; neither valid gives
 * the fresh state. *current is the copy the state came from, or -1 for the fresh state.
 */
int pcrgate_bootstate_load(const struct pcrgate_boot_port *port, struct pcrgate_bootstate *st, int *current);

/*
 * Writes st as the next record (seq + 1) into the copy that is not *current, then makes
 * that copy current and updates st->seq. On failure neither st nor *current changes.
 */
int pcrgate_bootstate_store(const struct pcrgate_boot_port *port, struct pcrgate_bootstate *st, int *current);

#ifdef __cplusplus
}
#endif
#endif
