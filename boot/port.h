/*
 * pcrgate boot core: the port interface, the only way the platform-neutral core reaches
 * the platform. A port (the Linux host's pcrgate-boot, U-Boot, EFI) fills one
 * struct pcrgate_boot_port with its functions and a context pointer; the core calls
 * nothing else but memcpy/memset/memcmp. The port's own TPM driver does all TPM work
 * (tpm2-tss, U-Boot's TPM API, EFI_TCG2_PROTOCOL): the core never marshals a TPM command.
 *
 * Every function returns 0 or a negative PCRGATE_ERR_* code. The code matters: for the
 * slot functions (manifest, signature, image) PCRGATE_ERR_NOT_FOUND, _FORMAT, _LIMIT and
 * _VERIFY are verdicts about the slot's contents, and the core marks the slot bad; any
 * other code (_IO, _NOMEM, _TPM, _CRYPTO, ...) is a platform fault, and the core skips the
 * slot for this boot without marking it, so a flaky storage driver cannot brick a device
 * by condemning both slots. See docs/boot.md for how to write a port.
 */
#ifndef PCRGATE_BOOT_PORT_H
#define PCRGATE_BOOT_PORT_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/alg.h"
#include "pcrgate/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* The two A/B slots, and the two copies of the boot-state record. */
#define PCRGATE_BOOT_SLOTS 2
#define PCRGATE_BOOT_STATE_COPIES 2

/* The one digest the core computes (manifest and image digests); the port may offer more. */
#define PCRGATE_BOOT_HASH_ALG PCRGATE_ALG_SHA256
#define PCRGATE_BOOT_HASH_SIZE 32

/* The largest event data (and hashed part) the core passes to pcr_extend. */
#define PCRGATE_BOOT_EVENT_MAX 256

struct pcrgate_boot_port {
	/* Passed as the first argument of every function; the core never looks inside. */
	void *ctx;

	/*
	 * The hardware this port runs on, matched exactly against a manifest's
	 * "compatible=" line; NULL skips the check (a port that cannot know it).
	 */
	const char *compatible;

	/*
	 * Measure one event: in every PCR bank the TPM has active, extend PCR `pcr` with the
	 * bank's digest of hashed[0..hashed_len), and append one crypto-agile log entry
	 * (TCG_PCR_EVENT2: pcr, event_type, those digests, event[0..event_len)). `hashed` is
	 * either `event` itself or a part of it (see docs/pcr-map.md), so this maps 1:1 onto
	 * EFI_TCG2_PROTOCOL.HashLogExtendEvent, U-Boot's tcg2_measure_data() and, with
	 * tpm2-tss, software digests + Esys_PCR_Extend + the library's event-log writer.
	 * Both lengths are at most PCRGATE_BOOT_EVENT_MAX. A failure must leave no log entry
	 * without its extension (a log entry may be missing, which a verifier then detects).
	 */
	int (*pcr_extend)(void *ctx, uint32_t pcr, uint32_t event_type, const uint8_t *hashed, size_t hashed_len,
			  const uint8_t *event, size_t event_len);

	/* Read the TPM NV anti-rollback counter (TPM_NT_COUNTER) of this update channel. */
	int (*counter_read)(void *ctx, uint64_t *value);

	/*
	 * Streamed digest: init, any number of updates, final. The core runs one digest at a
	 * time and always finishes (or restarts with init) what it began; `alg` is a TPM_ALG_ID
	 * (PCRGATE_BOOT_HASH_ALG) and final writes `size` bytes (its digest size).
	 */
	int (*hash_init)(void *ctx, uint16_t alg);
	int (*hash_update)(void *ctx, const uint8_t *data, size_t len);
	int (*hash_final)(void *ctx, uint8_t *digest, size_t size);

	/*
	 * The boot-state area: PCRGATE_BOOT_STATE_COPIES independent copies of one record.
	 * state_read copies up to `cap` bytes of copy `copy` into buf and sets *len; a copy
	 * that was never written may return PCRGATE_ERR_NOT_FOUND or erased bytes (the CRC
	 * rejects them). state_write replaces copy `copy` with buf[0..len): the core never
	 * writes the copy holding the current record, so a power cut or a torn write
	 * anywhere in one call costs at most that call. Copies should not share an erase
	 * block (or a file-system block: the host port keeps them 4 KiB apart in one file and
	 * writes each in place, since the two copies already are the redundancy).
	 */
	int (*state_read)(void *ctx, unsigned copy, uint8_t *buf, size_t cap, size_t *len);
	int (*state_write)(void *ctx, unsigned copy, const uint8_t *buf, size_t len);

	/*
	 * Copy the whole manifest of slot `slot` (0 = a, 1 = b) into buf (cap bytes) and set
	 * *len. Absent: PCRGATE_ERR_NOT_FOUND; larger than cap: PCRGATE_ERR_LIMIT.
	 */
	int (*manifest_read)(void *ctx, unsigned slot, uint8_t *buf, size_t cap, size_t *len);

	/*
	 * Verify the slot's detached signature over exactly manifest[0..len) against the
	 * port's trust anchor (CMS and X.509 with OpenSSL on the host, the platform's verified
	 * boot API elsewhere); the port finds the signature itself. 0: valid and trusted;
	 * PCRGATE_ERR_VERIFY: invalid, untrusted, malformed or missing signature.
	 */
	int (*manifest_verify)(void *ctx, unsigned slot, const uint8_t *manifest, size_t len);

	/*
	 * Stream one image of a slot: open by manifest name ("kernel", "initrd", "dtb") with
	 * the size the manifest promises, then read chunks until *len is 0. A chunk is the
	 * port's memory, valid until the next call. A port that boots from storage an
	 * attacker could change between check and use hands out chunks of the memory it will
	 * boot from (load address, sealed memfd), so the bytes checked are the bytes booted.
	 * image_close is called once after every successful image_open, with verified = 1
	 * when the image matched its manifest entry (keep it for booting) or 0 (discard it).
	 */
	int (*image_open)(void *ctx, unsigned slot, const char *name, uint64_t size);
	int (*image_read)(void *ctx, const uint8_t **chunk, size_t *len);
	void (*image_close)(void *ctx, int verified);
};

#ifdef __cplusplus
}
#endif
#endif
