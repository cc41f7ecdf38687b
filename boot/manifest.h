/*
 * pcrgate boot core: the slot manifest, a small line-oriented text signed with a detached
 * CMS signature. The core parses it to learn what to check and measure; the agent and the
 * bundle tools use the same parser, so every side reads one grammar (docs/boot.md).
 * Strict and bounded: one canonical spelling of every field, fixed line order, hard caps,
 * printable ASCII only. Freestanding: no allocation, no libc beyond mem*.
 */
#ifndef PCRGATE_BOOT_MANIFEST_H
#define PCRGATE_BOOT_MANIFEST_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PCRGATE_MANIFEST_MAX 4096              /* bytes in a whole manifest */
#define PCRGATE_MANIFEST_LINE_MAX 255          /* bytes in one line, without its newline */
#define PCRGATE_MANIFEST_STRING_MAX 64         /* bytes in compatible= and version= */
#define PCRGATE_MANIFEST_NAME_MAX 16           /* bytes in an image name, with its NUL */
#define PCRGATE_MANIFEST_MAX_IMAGES 3          /* kernel, initrd, dtb */
#define PCRGATE_MANIFEST_IMAGE_MAX 0x80000000u /* largest image size: 2 GiB */
#define PCRGATE_MANIFEST_HEADER "pcrgate-manifest 1"

struct pcrgate_manifest_image {
	char name[PCRGATE_MANIFEST_NAME_MAX]; /* "kernel", "initrd" or "dtb" */
	uint64_t size;                        /* exact size in bytes */
	uint8_t sha256[32];
};

struct pcrgate_manifest {
	char compatible[PCRGATE_MANIFEST_STRING_MAX + 1];
	char version[PCRGATE_MANIFEST_STRING_MAX + 1];
	uint32_t security_version;
	unsigned n_images; /* in manifest order, which is always kernel, initrd, dtb */
	struct pcrgate_manifest_image images[PCRGATE_MANIFEST_MAX_IMAGES];
};

/* Where and why parsing failed: byte offset into the manifest and a static description. */
struct pcrgate_manifest_error {
	size_t offset;
	const char *what;
};

/*
 * Parses manifest bytes. Returns 0 and fills *m, or PCRGATE_ERR_FORMAT / PCRGATE_ERR_LIMIT
 * with *err (when not NULL) naming the problem; *m is written only on success.
 */
int pcrgate_manifest_parse(const uint8_t *buf, size_t len, struct pcrgate_manifest *m,
			   struct pcrgate_manifest_error *err);

/*
 * Writes m in its one canonical spelling (the bytes the bundle tools sign) into buf and
 * sets *len. A manifest the parser would not accept back is refused with
 * PCRGATE_ERR_INVALID_ARGUMENT; a buffer too small gives PCRGATE_ERR_LIMIT. On failure
 * *len is untouched and buf holds nothing usable.
 */
int pcrgate_manifest_format(const struct pcrgate_manifest *m, uint8_t *buf, size_t cap, size_t *len);

/* The entry of image `name`, or NULL. */
const struct pcrgate_manifest_image *pcrgate_manifest_image(const struct pcrgate_manifest *m, const char *name);

#ifdef __cplusplus
}
#endif
#endif
