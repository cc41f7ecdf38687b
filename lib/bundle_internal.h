/* pcrgate (internal): the bundle's structures, shared by lib/bundle*.c. */
#ifndef PCRGATE_BUNDLE_INTERNAL_H
#define PCRGATE_BUNDLE_INTERNAL_H

#include "bundle.h"

struct bundle_root {
	uint8_t *der;
	size_t len;
};

struct pcrgate_bundle_manifest {
	char release[PCRGATE_BUNDLE_RELEASE_MAX + 1];
	char compatible[PCRGATE_MANIFEST_STRING_MAX + 1];
	char version[PCRGATE_MANIFEST_STRING_MAX + 1];
	uint32_t security_version;
	uint8_t *slot_manifest;
	size_t slot_manifest_len;
	struct pcrgate_manifest slot;
	uint8_t *slot_sig;
	size_t slot_sig_len;
	uint64_t image_size;
	uint8_t image_sha256[32];
	int type;
	uint64_t base_size;
	uint8_t base_sha256[32];
	uint32_t chunk_size;
	uint64_t stored_size;
	size_t n_chunks;
	uint8_t (*chunks)[32];
	int encryption;
	uint8_t key_salt[32]; /* with aes-256-gcm: the salt of this bundle's chunk key */
	char *pcr_policy;
	size_t pcr_policy_len;
	char end_of_support[11];
	int has_end_of_support;
	char *notes;
	struct bundle_root add[PCRGATE_BUNDLE_MAX_TRUST_ROOTS];
	size_t n_add;
	uint8_t remove[PCRGATE_BUNDLE_MAX_TRUST_ROOTS][32];
	size_t n_remove;
};

struct pcrgate_bundle {
	struct pcrgate_bundle_header hdr;
	uint8_t *manifest;
	uint8_t *sig;
	struct pcrgate_bundle_manifest *m;
	int verified;
};

/* The header's one encoding (docs/updates.md "Layout"): what the writer writes, and a head's first bytes. */
void bundle_header_encode(const struct pcrgate_bundle_header *h, uint8_t out[PCRGATE_BUNDLE_HEADER_SIZE]);

/* Stored bytes of a chunk of plaintext length plain under encryption enc. */
static inline uint64_t bundle_stored_chunk(uint64_t plain, int enc)
{
	return plain + (enc == PCRGATE_BUNDLE_ENC_AES256GCM ? PCRGATE_BUNDLE_TAG_SIZE : 0);
}

/*
 * The chunk count a payload of stored bytes has at chunk_size under enc, or 0 when no
 * count fits exactly (an encrypted last chunk must hold at least one plaintext byte).
 */
uint64_t bundle_chunk_count(uint64_t stored, uint32_t chunk_size, int enc);

/*
 * The bundle's chunk key: HKDF-SHA256 (RFC 5869) of the 32-byte content key with the
 * manifest's key_salt and the info PCRGATE_BUNDLE_CHUNK_KEY_INFO (docs/updates.md
 * "Encryption"). A release's bundles share the content key; each has its own salt and so its
 * own chunk key, under which the index-based IVs never repeat.
 */
#define PCRGATE_BUNDLE_CHUNK_KEY_INFO "pcrgate-bundle-chunk v1"
int bundle_chunk_key(const uint8_t *content_key, const uint8_t salt[32], uint8_t out[PCRGATE_BUNDLE_KEY_SIZE],
		     pcrgate_errinfo *ei);

/* AES-256-GCM of one chunk in place (len plaintext bytes, tag after them), per the format; key: the chunk key. */
int bundle_chunk_encrypt(const uint8_t *key, uint64_t index, uint64_t count, uint8_t *buf, size_t len,
			 pcrgate_errinfo *ei);
/* The inverse: buf holds len ciphertext bytes then the tag; 0 only when the tag verifies. */
int bundle_chunk_decrypt(const uint8_t *key, uint64_t index, uint64_t count, uint8_t *buf, size_t len,
			 pcrgate_errinfo *ei);

#endif
