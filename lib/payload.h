/*
 * pcrgate: update payloads (docs/updates.md "Payloads" and "Memory"). A payload is the slot
 * image (the slot's images concatenated in slot-manifest order) compressed with zstd: full,
 * or a delta made with zstd's patch-from against the base slot image (the image installed
 * now, named by its digest in the bundle manifest). The decoder streams a payload in pieces
 * of any size into a sink with a memory ceiling fixed before the first byte, derived from the
 * image and base sizes alone.
 */
#ifndef PCRGATE_PAYLOAD_H
#define PCRGATE_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "pcrgate/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Largest slot image: three images of at most 2 GiB each (boot/manifest.h). */
#define PCRGATE_PAYLOAD_IMAGE_MAX (3 * (uint64_t)0x80000000u)
/*
 * Largest zstd window a decoder accepts, as a power of two: a delta's window covers base and
 * image together, so base + image is at most 2 GiB for a delta (1 GiB on 32-bit systems,
 * zstd's own limit there).
 */
#define PCRGATE_PAYLOAD_WINDOW_LOG_MAX 31
/*
 * Window of a full payload, as a power of two: 128 MiB, zstd's default decoder limit, so
 * any full payload stock `zstd` writes with its usual settings decodes too.
 */
#define PCRGATE_PAYLOAD_FULL_WINDOW_LOG 27
/* The compression level 0 stands for: the highest (zstd's --ultra -22). */
#define PCRGATE_PAYLOAD_DEFAULT_LEVEL 22

/*
 * Compresses the file image_path into out: full, or a delta against base_path when it is not
 * NULL (zstd patch-from: the base is the frame's prefix, long-distance matching, a window
 * covering base and image). One zstd frame with its content size and checksum. level 1..22,
 * 0 for PCRGATE_PAYLOAD_DEFAULT_LEVEL. For images up to 16 MiB several block and match
 * settings are tried and the smallest result kept. *out_len is the bytes written. On failure
 * out may hold part of a payload, which the caller discards.
 */
PCRGATE_API int pcrgate_payload_encode(const char *image_path, const char *base_path, int level, FILE *out,
				       uint64_t *out_len, pcrgate_errinfo *ei);

struct pcrgate_payload_decoder;

/*
 * A decoder for a payload that must produce exactly expected_size bytes (1 ..
 * PCRGATE_PAYLOAD_IMAGE_MAX). base_path: the base slot image of a delta, mapped read-only
 * (never copied to the heap) for the decoder's life, during which the file must not change
 * (a file truncated under a mapping faults); NULL for a full payload. base_sha256: the sha256
 * the base must have (a bundle manifest's payload.base.sha256), computed once over the very
 * mapping the decoder then uses, so the bytes checked are the bytes decoded against; a
 * mismatch is PCRGATE_ERR_VERIFY. NULL skips the check (only for callers without a digest:
 * benchmarks, fuzzing). A full payload may be several frames; a delta is exactly one.
 */
PCRGATE_API int pcrgate_payload_decoder_new(struct pcrgate_payload_decoder **d, const char *base_path,
					    const uint8_t *base_sha256, uint64_t expected_size, pcrgate_errinfo *ei);

/*
 * Receives decoded bytes in order; returns 0 or a negative PCRGATE_ERR_*, which stops decoding.
 * A sink that describes its failure with pcrgate_errinfo_set on the ei given to the feed (the
 * same code it returns) keeps that message; otherwise the decoder names the byte it failed at.
 */
typedef int (*pcrgate_payload_sink)(void *ctx, const uint8_t *data, size_t len);

/*
 * Decodes the next len payload bytes (any split of the payload) into sink. Output beyond the
 * expected size is refused before the sink sees it; so are data after the end of a delta
 * and more input than a payload of that size can take. After an error the decoder refuses
 * everything. Offsets in ei count payload bytes from the start.
 */
PCRGATE_API int pcrgate_payload_decoder_feed(struct pcrgate_payload_decoder *d, const uint8_t *in, size_t len,
					     pcrgate_payload_sink sink, void *ctx, pcrgate_errinfo *ei);

/* Checks that the payload ended at the end of a frame and produced exactly the expected size. */
PCRGATE_API int pcrgate_payload_decoder_finish(struct pcrgate_payload_decoder *d, pcrgate_errinfo *ei);

PCRGATE_API void pcrgate_payload_decoder_free(struct pcrgate_payload_decoder **d);

/*
 * The most heap a decoder for an image of expected_size bytes (and a base of base_size bytes,
 * 0 for a full payload) may use, in bytes, its own state included; the decoder refuses to
 * allocate more. 0 when no decoder can be made for these sizes. The base's mapping (page
 * cache, shared with the file) is not counted.
 */
PCRGATE_API uint64_t pcrgate_payload_decoder_ceiling(uint64_t expected_size, uint64_t base_size);

/*
 * Writes the slot image of slot directory slot_dir (its images in slot-manifest order) to
 * out, checking each image's size and sha256 against the slot's manifest (slot_dir/manifest,
 * parsed with the boot core's parser; its signature is the caller's to check). Returns the
 * image's sha256 and size. Images must be regular files, never symbolic links. On failure out
 * may hold part of the image, which the caller discards.
 */
PCRGATE_API int pcrgate_slot_image_write(const char *slot_dir, FILE *out, uint8_t sha256[32], uint64_t *size,
					 pcrgate_errinfo *ei);

#ifdef __cplusplus
}
#endif
#endif
