/*
 * pcrgate: update bundles (docs/updates.md "The bundle format"). A bundle is a fixed header, a
 * JSON manifest, a detached CMS signature over the manifest bytes, and the payload (a zstd
 * frame of the slot image, full or delta) cut into chunks whose digests the manifest lists.
 * Everything a device decides on comes before the payload, so it verifies the signature and
 * the manifest before it downloads, decrypts, decompresses or writes a payload byte.
 *
 * Order of use: pcrgate_bundle_read/_load (header and byte lengths only), then
 * pcrgate_bundle_verify (signature first, only then the manifest parser), then
 * pcrgate_bundle_stream (each chunk's digest before it is decrypted and decompressed).
 */
#ifndef PCRGATE_BUNDLE_H
#define PCRGATE_BUNDLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "boot/manifest.h"
#include "payload.h"
#include "pcrgate/common.h"
#include "truststore.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCRGATE_BUNDLE_MAGIC "PCRGBNDL"
#define PCRGATE_BUNDLE_FORMAT_VERSION 1
#define PCRGATE_BUNDLE_HEADER_SIZE 28
#define PCRGATE_BUNDLE_MANIFEST_MAX 262144u /* bytes of manifest JSON */
#define PCRGATE_BUNDLE_SIG_MAX PCRGATE_CMS_MAX /* bytes of the manifest's CMS signature (DER) */
#define PCRGATE_BUNDLE_CHUNK_MIN 65536u     /* plaintext bytes per chunk: a power of two in this range */
#define PCRGATE_BUNDLE_CHUNK_MAX 16777216u
#define PCRGATE_BUNDLE_MAX_CHUNKS 2048u     /* chunk digests in one manifest */
#define PCRGATE_BUNDLE_NOTES_MAX 16384u     /* bytes of "notes" */
#define PCRGATE_BUNDLE_POLICY_MAX 65536u    /* bytes of "pcr_policy", written compactly */
#define PCRGATE_BUNDLE_RELEASE_MAX 64u
#define PCRGATE_BUNDLE_KEY_SIZE 32u         /* AES-256-GCM content key */
#define PCRGATE_BUNDLE_TAG_SIZE 16u         /* GCM tag after each encrypted chunk */
#define PCRGATE_BUNDLE_MAX_TRUST_ROOTS 4u   /* roots one trust_update adds, and removes */
#define PCRGATE_BUNDLE_ROOT_MAX 8192u       /* bytes of one added root certificate (DER) */
#define PCRGATE_BUNDLE_FORMAT "pcrgate-bundle"

enum pcrgate_bundle_payload_type { PCRGATE_BUNDLE_FULL = 1, PCRGATE_BUNDLE_DELTA = 2 };
enum pcrgate_bundle_encryption { PCRGATE_BUNDLE_ENC_NONE = 1, PCRGATE_BUNDLE_ENC_AES256GCM = 2 };

/* The fixed header, as read (big-endian on disk). */
struct pcrgate_bundle_header {
	uint32_t format_version;
	uint32_t manifest_len;
	uint32_t sig_len;
	uint64_t payload_len;
};

/* A bundle's header, manifest bytes and signature bytes, and its manifest once parsed. */
struct pcrgate_bundle;
/* A parsed manifest (borrowed from its bundle, or owned by the caller of _manifest_parse). */
struct pcrgate_bundle_manifest;

/*
 * Parses the 28-byte header at buf (len >= 28): magic, version, and each length within its
 * cap. Errors carry the byte offset of the field.
 */
PCRGATE_API int pcrgate_bundle_header_parse(const uint8_t *buf, size_t len, struct pcrgate_bundle_header *h,
					    pcrgate_errinfo *ei);

/*
 * Reads header, manifest and signature from f (at the bundle's start) and leaves f at the
 * payload's first byte. Nothing is parsed beyond the header: the manifest is bytes until
 * pcrgate_bundle_verify or pcrgate_bundle_parse_unverified.
 */
PCRGATE_API int pcrgate_bundle_read(FILE *f, struct pcrgate_bundle **b, pcrgate_errinfo *ei);
/* The same from a buffer holding at least header, manifest and signature (a payload may follow). */
PCRGATE_API int pcrgate_bundle_load(const uint8_t *buf, size_t len, struct pcrgate_bundle **b,
				    pcrgate_errinfo *ei);
PCRGATE_API void pcrgate_bundle_free(struct pcrgate_bundle **b);

PCRGATE_API const struct pcrgate_bundle_header *pcrgate_bundle_get_header(const struct pcrgate_bundle *b);
/* Bytes of header + manifest + signature: where the payload starts. */
PCRGATE_API uint64_t pcrgate_bundle_payload_offset(const struct pcrgate_bundle *b);
PCRGATE_API const uint8_t *pcrgate_bundle_manifest_bytes(const struct pcrgate_bundle *b, size_t *len);

/* Header, manifest and signature as they stand at the bundle's start (malloc'd), for keeping a verified head. */
PCRGATE_API int pcrgate_bundle_head_bytes(const struct pcrgate_bundle *b, uint8_t **out, size_t *len,
					  pcrgate_errinfo *ei);
/*
 * The SHA-256 of the manifest's exact bytes: a release's manifest_digest in the verifier, which
 * binds an update authorization to this bundle (docs/verifier.md). out only on success.
 */
PCRGATE_API int pcrgate_bundle_manifest_sha256(const struct pcrgate_bundle *b, uint8_t out[32], pcrgate_errinfo *ei);
/* What pcrgate_bundle_verify requires beyond a good signature. */
struct pcrgate_bundle_policy {
	const char *compatible;        /* the hardware's compatible string, or NULL: not checked */
	uint32_t min_security_version; /* the device's anti-rollback counter (0: any) */
};

/*
 * Verifies the bundle, in this order: the CMS signature over the manifest bytes against ts
 * (before the manifest parser sees a byte); the manifest, strictly; the header's payload
 * length against payload.stored_size; the slot manifest's own signature against ts;
 * compatible; security version >= the minimum; trust_update's double signature (docs). Any
 * failure is PCRGATE_ERR_VERIFY (a signature or a check), _FORMAT or _LIMIT (the manifest),
 * with a message naming the check. On success the manifest is available and the bundle can
 * be streamed.
 */
PCRGATE_API int pcrgate_bundle_verify(struct pcrgate_bundle *b, const struct pcrgate_truststore *ts,
				      const struct pcrgate_bundle_policy *policy, pcrgate_errinfo *ei);
/* Parses the manifest WITHOUT checking any signature (for inspection; never for installing). */
PCRGATE_API int pcrgate_bundle_parse_unverified(struct pcrgate_bundle *b, pcrgate_errinfo *ei);
/* The manifest after _verify or _parse_unverified, else NULL. Borrowed. */
PCRGATE_API const struct pcrgate_bundle_manifest *pcrgate_bundle_get_manifest(const struct pcrgate_bundle *b);
/* Whether the verified bundle's trust_update was signed as root rotation requires (0 without one). */
PCRGATE_API int pcrgate_bundle_trust_update_authorized(const struct pcrgate_bundle *b);

/*
 * The strict manifest parser on its own: json (len bytes, at most PCRGATE_BUNDLE_MANIFEST_MAX).
 * Unknown or duplicate members, wrong types, values out of range, a slot manifest that does
 * not parse or disagrees with compatible/version/security_version, a chunk count that does
 * not match stored_size exactly: each refused with the member's name.
 */
PCRGATE_API int pcrgate_bundle_manifest_parse(const uint8_t *json, size_t len,
					      struct pcrgate_bundle_manifest **m, pcrgate_errinfo *ei);
PCRGATE_API void pcrgate_bundle_manifest_free(struct pcrgate_bundle_manifest **m);

/* Getters: borrowed, valid while the manifest lives. */
PCRGATE_API const char *pcrgate_bundle_manifest_release(const struct pcrgate_bundle_manifest *m);
PCRGATE_API const char *pcrgate_bundle_manifest_compatible(const struct pcrgate_bundle_manifest *m);
PCRGATE_API const char *pcrgate_bundle_manifest_version(const struct pcrgate_bundle_manifest *m);
PCRGATE_API uint32_t pcrgate_bundle_manifest_security_version(const struct pcrgate_bundle_manifest *m);
PCRGATE_API const uint8_t *pcrgate_bundle_manifest_slot_manifest(const struct pcrgate_bundle_manifest *m,
								  size_t *len);
PCRGATE_API const struct pcrgate_manifest *
pcrgate_bundle_manifest_slot(const struct pcrgate_bundle_manifest *m);
PCRGATE_API const uint8_t *pcrgate_bundle_manifest_slot_manifest_sig(const struct pcrgate_bundle_manifest *m,
								      size_t *len);
PCRGATE_API uint64_t pcrgate_bundle_manifest_image_size(const struct pcrgate_bundle_manifest *m);
PCRGATE_API const uint8_t *pcrgate_bundle_manifest_image_sha256(const struct pcrgate_bundle_manifest *m);
PCRGATE_API int pcrgate_bundle_manifest_payload_type(const struct pcrgate_bundle_manifest *m);
/* The base of a delta (0/NULL for a full payload). */
PCRGATE_API uint64_t pcrgate_bundle_manifest_base_size(const struct pcrgate_bundle_manifest *m);
PCRGATE_API const uint8_t *pcrgate_bundle_manifest_base_sha256(const struct pcrgate_bundle_manifest *m);
PCRGATE_API uint32_t pcrgate_bundle_manifest_chunk_size(const struct pcrgate_bundle_manifest *m);
PCRGATE_API uint64_t pcrgate_bundle_manifest_stored_size(const struct pcrgate_bundle_manifest *m);
PCRGATE_API size_t pcrgate_bundle_manifest_chunk_count(const struct pcrgate_bundle_manifest *m);
/* Stored bytes of chunk i, and its sha256 (NULL past the end). */
PCRGATE_API const uint8_t *pcrgate_bundle_manifest_chunk(const struct pcrgate_bundle_manifest *m, size_t i,
							 uint64_t *stored_len);
PCRGATE_API int pcrgate_bundle_manifest_encryption(const struct pcrgate_bundle_manifest *m);
/* "pcr_policy" written compactly (NUL-terminated). */
PCRGATE_API const char *pcrgate_bundle_manifest_pcr_policy(const struct pcrgate_bundle_manifest *m, size_t *len);
/* "YYYY-MM-DD", or NULL when absent. */
PCRGATE_API const char *pcrgate_bundle_manifest_end_of_support(const struct pcrgate_bundle_manifest *m);
/* The notes (NUL-terminated), or NULL when absent. */
PCRGATE_API const char *pcrgate_bundle_manifest_notes(const struct pcrgate_bundle_manifest *m);
/* trust_update: how many roots it adds and how many it removes. */
PCRGATE_API size_t pcrgate_bundle_manifest_roots_added(const struct pcrgate_bundle_manifest *m);
PCRGATE_API size_t pcrgate_bundle_manifest_roots_removed(const struct pcrgate_bundle_manifest *m);
/* Added root i (DER, *len bytes); NULL past the end. */
PCRGATE_API const uint8_t *pcrgate_bundle_manifest_root_added(const struct pcrgate_bundle_manifest *m, size_t i,
							      size_t *len);
/* Whether trust_update removes the root whose DER sha256 is fp (compared in constant time). */
PCRGATE_API int pcrgate_bundle_manifest_removes_root(const struct pcrgate_bundle_manifest *m, const uint8_t fp[32]);

/*
 * Applies a bundle's trust_update to the trust-store directory store_dir (lib/bundle_trust.c,
 * docs/updates.md "Root rotation"): only for a bundle that pcrgate_bundle_verify accepted and
 * whose pcrgate_bundle_trust_update_authorized() is 1 (else PCRGATE_ERR_VERIFY). The new store
 * holds the old one's roots minus those the update removes, plus those it adds, and the CRLs of
 * the roots kept; it must hold at least one root, and is written as pcrgate_truststore_write
 * writes. Applying an update the store already reflects changes nothing and succeeds, so the
 * agent can run it again after a power cut; leftovers of an interrupted write beside store_dir
 * are removed first. store_dir must be a directory holding only roots/ and crl/ (a single PEM
 * file or a symbolic link is PCRGATE_ERR_UNSUPPORTED).
 */
PCRGATE_API int pcrgate_truststore_apply_update(const char *store_dir, const struct pcrgate_bundle *b,
						pcrgate_errinfo *ei);

/*
 * Reads up to cap bytes of payload into buf; *got = 0 at the end of the data. 0 or a negative
 * PCRGATE_ERR_*.
 */
typedef int (*pcrgate_bundle_read_fn)(void *ctx, uint8_t *buf, size_t cap, size_t *got);

/*
 * Streams a verified bundle's payload, read through fn from its first byte: each stored chunk
 * is read whole and its sha256 compared (constant time) with the manifest's, only then
 * decrypted (key: the 32-byte content key, required for an encrypted payload; each bundle's
 * chunk key is derived from it and the manifest's key_salt) and fed to the payload decoder,
 * whose output goes to sink. A delta's base (base_path, the base slot image) is mapped once by
 * the decoder and must have the manifest's base size and sha256, checked on that mapping before
 * anything is decoded. A byte after stored_size, a short payload, or an image of another sha256
 * fails. The sink may have seen bytes when this fails; the caller discards them.
 */
PCRGATE_API int pcrgate_bundle_stream(const struct pcrgate_bundle *b, pcrgate_bundle_read_fn fn, void *fn_ctx,
				      const uint8_t *key, const char *base_path, pcrgate_payload_sink sink,
				      void *sink_ctx, pcrgate_errinfo *ei);
/* The same reading f (positioned at the payload). */
PCRGATE_API int pcrgate_bundle_stream_file(const struct pcrgate_bundle *b, FILE *f, const uint8_t *key,
					   const char *base_path, pcrgate_payload_sink sink, void *sink_ctx,
					   pcrgate_errinfo *ei);

/*
 * For resuming a download: how many whole chunks at the start of the partial payload read
 * from f (positioned at the payload) match the manifest's digests, and the stored bytes they
 * span (the offset to resume from). Stops at the first short or mismatching chunk. Needs only a
 * parsed manifest, not the content key.
 */
PCRGATE_API int pcrgate_bundle_check_partial(const struct pcrgate_bundle_manifest *m, FILE *f,
					     size_t *valid_chunks, uint64_t *valid_bytes, pcrgate_errinfo *ei);

/* A file the installer writes into a slot besides its images, manifest and manifest.sig. */
struct pcrgate_slot_file {
	const char *name; /* a plain file name */
	const uint8_t *data;
	size_t len;
};
/*
 * Installs a verified bundle as the slot directory out_dir, which must not exist: the payload
 * read from f (positioned at the payload) is streamed as pcrgate_bundle_stream does (key and
 * base_path as there) into the images the slot manifest names, each hashed while written and
 * compared with its slot-manifest digest; then manifest, manifest.sig and the extra files. All
 * of it goes into out_dir.partial (a leftover of an interrupted install is removed first), is
 * synced, and is renamed to out_dir only when every check passed; a failure removes it.
 */
PCRGATE_API int pcrgate_bundle_install(const struct pcrgate_bundle *b, FILE *f, const uint8_t *key,
				       const char *base_path, const char *out_dir,
				       const struct pcrgate_slot_file *extra, size_t n_extra, pcrgate_errinfo *ei);
/* Removes a slot directory and the files in it (nothing when it does not exist); a subdirectory is an error. */
PCRGATE_API int pcrgate_slot_dir_remove(const char *dir, pcrgate_errinfo *ei);
/* Signs data (the manifest, or a slot manifest): detached CMS DER, malloc'd into *sig. */
typedef int (*pcrgate_bundle_sign_fn)(void *ctx, const uint8_t *data, size_t len, uint8_t **sig, size_t *sig_len,
				      pcrgate_errinfo *ei);

/* What pcrgate_bundle_create builds a bundle from. */
struct pcrgate_bundle_create_params {
	const char *release;
	const uint8_t *slot_manifest; /* the exact signed bytes */
	size_t slot_manifest_len;
	const uint8_t *slot_manifest_sig; /* its detached CMS, DER */
	size_t slot_manifest_sig_len;
	const char *image_path;  /* the slot image this bundle installs */
	const uint8_t *image_sha256; /* its sha256 and size, as pcrgate_slot_image_write returned them */
	uint64_t image_size;
	const char *base_path;   /* the base slot image for a delta, or NULL for a full payload */
	const uint8_t *base_sha256; /* a delta's base: its sha256 and size (pcrgate_slot_image_write) */
	uint64_t base_size;
	int level;               /* zstd level, 0 for the payload encoder's default */
	uint32_t chunk_size;     /* 0: the smallest power of two >= 1 MiB that fits the chunk cap */
	const uint8_t *key;      /* 32-byte content key, or NULL: not encrypted (a random key_salt is drawn) */
	const char *pcr_policy;  /* the signed PCR policy document (JSON) */
	size_t pcr_policy_len;
	const char *end_of_support; /* "YYYY-MM-DD" or NULL */
	const char *notes;          /* or NULL */
	const uint8_t *const *add_roots; /* trust_update: DER root certificates, or none */
	const size_t *add_root_lens;
	size_t n_add_roots;
	const uint8_t (*remove_roots)[32]; /* sha256 fingerprints of roots to remove */
	size_t n_remove_roots;
	pcrgate_bundle_sign_fn sign;
	void *sign_ctx;
};

/*
 * Writes a complete bundle to out: encodes the payload (temporary files), chunks and encrypts
 * it, builds the manifest, checks it with the same parser a device uses, signs it, and writes
 * header, manifest, signature and payload.
 */
PCRGATE_API int pcrgate_bundle_create(const struct pcrgate_bundle_create_params *p, FILE *out,
				      pcrgate_errinfo *ei);

#ifdef __cplusplus
}
#endif
#endif
