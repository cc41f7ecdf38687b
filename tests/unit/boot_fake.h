/*
 * An in-memory device for the boot core's unit tests: two slots of manifest + images, a
 * boot-state "flash" of two copies, an anti-rollback counter and a TPM that keeps the
 * sha256 bank of PCRs and an event list. It is a deliberate fake of the port seam, for
 * the state machine; the host port is tested against swtpm. It can cut power before a
 * chosen boot-state write or tear that write in half, MCUboot-simulator style.
 */
#ifndef PCRGATE_TEST_BOOT_FAKE_H
#define PCRGATE_TEST_BOOT_FAKE_H

#include <setjmp.h>
#include <stddef.h>
#include <stdint.h>

#include "boot/core.h"

#define FAKE_COMPATIBLE "acme,gw-100"
#define FAKE_MAX_EVENTS 32
#define FAKE_MAX_WRITES 64
#define FAKE_CHUNK 4096 /* bytes per image_read chunk */

struct fake_image {
	char name[PCRGATE_MANIFEST_NAME_MAX];
	uint8_t *data;
	size_t len;
};

struct fake_slot {
	int installed;
	uint8_t manifest[PCRGATE_MANIFEST_MAX + 64];
	size_t manifest_len;
	int sig_result; /* what manifest_verify answers: 0 valid, else the error */
	uint32_t security_version;
	int tampered;   /* an image was changed after the manifest was made */
	int open_error; /* image_open fails with this (a storage fault) */
	struct fake_image images[PCRGATE_MANIFEST_MAX_IMAGES];
	size_t n_images;
	unsigned kept; /* images closed as verified in the last boot */
};

struct fake_event {
	uint32_t pcr, type;
	uint8_t hashed[PCRGATE_BOOT_EVENT_MAX];
	size_t hashed_len;
	uint8_t data[PCRGATE_BOOT_EVENT_MAX];
	size_t len;
};

struct fake {
	/* The boot-state flash: two copies, erased to 0xFF. */
	uint8_t copy[PCRGATE_BOOT_STATE_COPIES][PCRGATE_BOOTSTATE_SIZE];
	int missing[PCRGATE_BOOT_STATE_COPIES]; /* read answers NOT_FOUND, like an absent file */

	struct fake_slot slot[PCRGATE_BOOT_SLOTS];
	uint64_t counter;

	/* The TPM: sha256 PCRs and the measurement log since the last reboot. */
	uint8_t pcr[24][32];
	struct fake_event events[FAKE_MAX_EVENTS];
	size_t n_events;

	/* Calls since the last reboot (image_opens: the successful ones). */
	unsigned counter_reads, extends, state_reads, manifest_reads, verifies, image_opens, image_closes;
	unsigned hash_inits;

	/* Fault injection. */
	int counter_error;      /* counter_read fails with this */
	int extend_error;       /* pcr_extend number extend_fail_at (1-based) fails with this */
	unsigned extend_fail_at;
	int write_error;        /* every state_write fails with this */
	int hash_error;         /* hash_update fails with this */

	/* Power cuts: total writes ever, the write to cut at (1-based, 0 none), torn or before. */
	unsigned writes;
	unsigned cut_at;
	int torn;
	jmp_buf *cut;
	/* Boot state just before and after each write (for atomicity checks). */
	struct pcrgate_bootstate before[FAKE_MAX_WRITES + 1], after[FAKE_MAX_WRITES + 1];

	/* Image streaming. */
	const struct fake_image *open;
	unsigned open_slot;
	size_t pos;
	void *md; /* EVP_MD_CTX */

	struct pcrgate_boot_port port;
};

void fake_init(struct fake *f);
void fake_free(struct fake *f);
/* Power cycle: the TPM resets, call counts restart; flash, slots and a pending cut stay. */
void fake_reboot(struct fake *f);

/* Installs a release into a slot: kernel, and initrd and dtb when full is set. */
void fake_install(struct fake *f, unsigned slot, const char *version, uint32_t security_version, int full);
void fake_uninstall(struct fake *f, unsigned slot);
/* Changes one byte of an image after its manifest was made. */
void fake_tamper(struct fake *f, unsigned slot, const char *image);
/* 1 when the slot's contents pass every check the core makes (an independent oracle). */
int fake_slot_verifiable(const struct fake *f, unsigned slot);

/* The current boot state as the core would load it. */
void fake_state(struct fake *f, struct pcrgate_bootstate *st, int *current);

/* sha256 helper for tests. */
void fake_sha256(const void *data, size_t len, uint8_t out[32]);
void fake_hex(const uint8_t *in, size_t len, char *out);

#endif
