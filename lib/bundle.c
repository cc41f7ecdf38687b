/*
 * pcrgate: update bundles (lib/bundle.h), the container. The fixed header read with the
 * bounded reader and checked against the caps before any length is used, the manifest and
 * signature bytes read whole (they are small and come before the payload), the getters, and
 * the chunk key and per-chunk AES-256-GCM that both the writer and the streamer use.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>

#include "bundle_internal.h"
#include "reader.h"

/* The chunk's AAD prefix; its index and the chunk count follow (u64be each). */
#define CHUNK_AAD "pcrgate-bundle-chunk"

int pcrgate_bundle_header_parse(const uint8_t *buf, size_t len, struct pcrgate_bundle_header *h,
				pcrgate_errinfo *ei)
{
	struct pcrgate_bundle_header out;
	const uint8_t *magic;
	struct reader r;

	if (buf == NULL || h == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no bundle given");
	reader_init(&r, buf, len);
	if (reader_bytes(&r, 8, &magic) != 0 || reader_u32be(&r, &out.format_version) != 0 ||
	    reader_u32be(&r, &out.manifest_len) != 0 || reader_u32be(&r, &out.sig_len) != 0 ||
	    reader_u64be(&r, &out.payload_len) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, len,
					   "bundle: truncated header (%zu of %d bytes)", len,
					   PCRGATE_BUNDLE_HEADER_SIZE);
	if (memcmp(magic, PCRGATE_BUNDLE_MAGIC, 8) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "bundle: bad magic (not a pcrgate bundle)");
	if (out.format_version != PCRGATE_BUNDLE_FORMAT_VERSION)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, 8,
					   "bundle: format version %" PRIu32 " is not supported (only %d)",
					   out.format_version, PCRGATE_BUNDLE_FORMAT_VERSION);
	if (out.manifest_len < 1 || out.manifest_len > PCRGATE_BUNDLE_MANIFEST_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, 12,
					   "bundle: manifest length %" PRIu32 " out of range (1 to %u)",
					   out.manifest_len, PCRGATE_BUNDLE_MANIFEST_MAX);
	if (out.sig_len < 1 || out.sig_len > PCRGATE_BUNDLE_SIG_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, 16,
					   "bundle: signature length %" PRIu32 " out of range (1 to %u)", out.sig_len,
					   PCRGATE_BUNDLE_SIG_MAX);
	if (out.payload_len < 1 ||
	    out.payload_len > (uint64_t)PCRGATE_BUNDLE_MAX_CHUNKS * (PCRGATE_BUNDLE_CHUNK_MAX + PCRGATE_BUNDLE_TAG_SIZE))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, 20,
					   "bundle: payload length %" PRIu64 " out of range", out.payload_len);
	*h = out;
	return PCRGATE_OK;
}

static int bundle_new(const struct pcrgate_bundle_header *h, struct pcrgate_bundle **out, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle *b = calloc(1, sizeof(*b));

	if (b == NULL || (b->manifest = malloc(h->manifest_len)) == NULL || (b->sig = malloc(h->sig_len)) == NULL) {
		pcrgate_bundle_free(&b);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	b->hdr = *h;
	*out = b;
	return PCRGATE_OK;
}

int pcrgate_bundle_load(const uint8_t *buf, size_t len, struct pcrgate_bundle **out, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle_header h;
	struct pcrgate_bundle *b = NULL;
	struct reader r;
	int rc;

	if (out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no bundle given");
	if ((rc = pcrgate_bundle_header_parse(buf, len, &h, ei)) != 0)
		return rc;
	reader_init(&r, buf, len);
	reader_skip(&r, PCRGATE_BUNDLE_HEADER_SIZE);
	if (r.left < h.manifest_len)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, len,
					   "bundle: truncated manifest (%zu of %" PRIu32 " bytes)", r.left,
					   h.manifest_len);
	if (r.left - h.manifest_len < h.sig_len)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, len,
					   "bundle: truncated signature (%zu of %" PRIu32 " bytes)",
					   r.left - h.manifest_len, h.sig_len);
	if ((rc = bundle_new(&h, &b, ei)) != 0)
		return rc;
	reader_copy(&r, b->manifest, h.manifest_len);
	reader_copy(&r, b->sig, h.sig_len);
	*out = b;
	return PCRGATE_OK;
}

/* Reads exactly n bytes; what names the part for a message about a short file. */
static int read_exact(FILE *f, uint8_t *buf, size_t n, uint64_t off, const char *what, pcrgate_errinfo *ei)
{
	size_t got = fread(buf, 1, n, f);

	if (got == n)
		return PCRGATE_OK;
	if (ferror(f))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "bundle: reading the %s: %s", what,
					   strerror(errno));
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)(off + got),
				   "bundle: truncated %s (%zu of %zu bytes)", what, got, n);
}

int pcrgate_bundle_read(FILE *f, struct pcrgate_bundle **out, pcrgate_errinfo *ei)
{
	uint8_t hbuf[PCRGATE_BUNDLE_HEADER_SIZE];
	struct pcrgate_bundle_header h;
	struct pcrgate_bundle *b = NULL;
	size_t got;
	int rc;

	if (f == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no bundle given");
	got = fread(hbuf, 1, sizeof(hbuf), f);
	if (got < sizeof(hbuf) && ferror(f))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "bundle: reading the header: %s",
					   strerror(errno));
	if ((rc = pcrgate_bundle_header_parse(hbuf, got, &h, ei)) != 0)
		return rc;
	if ((rc = bundle_new(&h, &b, ei)) != 0)
		return rc;
	if ((rc = read_exact(f, b->manifest, h.manifest_len, PCRGATE_BUNDLE_HEADER_SIZE, "manifest", ei)) != 0 ||
	    (rc = read_exact(f, b->sig, h.sig_len, PCRGATE_BUNDLE_HEADER_SIZE + (uint64_t)h.manifest_len,
			     "signature", ei)) != 0) {
		pcrgate_bundle_free(&b);
		return rc;
	}
	*out = b;
	return PCRGATE_OK;
}

void pcrgate_bundle_free(struct pcrgate_bundle **b)
{
	if (b == NULL || *b == NULL)
		return;
	free((*b)->manifest);
	free((*b)->sig);
	pcrgate_bundle_manifest_free(&(*b)->m);
	free(*b);
	*b = NULL;
}

const struct pcrgate_bundle_header *pcrgate_bundle_get_header(const struct pcrgate_bundle *b)
{
	return b ? &b->hdr : NULL;
}

uint64_t pcrgate_bundle_payload_offset(const struct pcrgate_bundle *b)
{
	return b ? PCRGATE_BUNDLE_HEADER_SIZE + (uint64_t)b->hdr.manifest_len + b->hdr.sig_len : 0;
}

const uint8_t *pcrgate_bundle_manifest_bytes(const struct pcrgate_bundle *b, size_t *len)
{
	if (b == NULL)
		return NULL;
	if (len != NULL)
		*len = b->hdr.manifest_len;
	return b->manifest;
}

void bundle_header_encode(const struct pcrgate_bundle_header *h, uint8_t out[PCRGATE_BUNDLE_HEADER_SIZE])
{
	memcpy(out, PCRGATE_BUNDLE_MAGIC, 8);
	pcrgate_store_be(out + 8, h->format_version, 4);
	pcrgate_store_be(out + 12, h->manifest_len, 4);
	pcrgate_store_be(out + 16, h->sig_len, 4);
	pcrgate_store_be(out + 20, h->payload_len, 8);
}

int pcrgate_bundle_head_bytes(const struct pcrgate_bundle *b, uint8_t **out, size_t *len, pcrgate_errinfo *ei)
{
	size_t n;
	uint8_t *p;

	if (b == NULL || out == NULL || len == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no bundle given");
	n = PCRGATE_BUNDLE_HEADER_SIZE + (size_t)b->hdr.manifest_len + b->hdr.sig_len;
	if ((p = malloc(n)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	/* The header has one encoding of its fields, so this is the bundle's own first bytes. */
	bundle_header_encode(&b->hdr, p);
	memcpy(p + PCRGATE_BUNDLE_HEADER_SIZE, b->manifest, b->hdr.manifest_len);
	memcpy(p + PCRGATE_BUNDLE_HEADER_SIZE + b->hdr.manifest_len, b->sig, b->hdr.sig_len);
	*out = p;
	*len = n;
	return PCRGATE_OK;
}

int pcrgate_bundle_manifest_sha256(const struct pcrgate_bundle *b, uint8_t out[32], pcrgate_errinfo *ei)
{
	uint8_t md[32];
	unsigned n = 0;

	if (b == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no bundle given");
	if (EVP_Digest(b->manifest, b->hdr.manifest_len, md, &n, EVP_sha256(), NULL) != 1 || n != sizeof(md)) {
		pcrgate_log_openssl(__func__, "SHA-256 of the manifest");
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
					   "bundle: SHA-256 of the manifest failed");
	}
	memcpy(out, md, sizeof(md));
	return PCRGATE_OK;
}

int pcrgate_bundle_trust_update_authorized(const struct pcrgate_bundle *b)
{
	return b != NULL && b->verified && b->m != NULL && (b->m->n_add > 0 || b->m->n_remove > 0);
}

const struct pcrgate_bundle_manifest *pcrgate_bundle_get_manifest(const struct pcrgate_bundle *b)
{
	return b ? b->m : NULL;
}

int pcrgate_bundle_parse_unverified(struct pcrgate_bundle *b, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle_manifest *m = NULL;
	int rc;

	if (b == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no bundle given");
	if ((rc = pcrgate_bundle_manifest_parse(b->manifest, b->hdr.manifest_len, &m, ei)) != 0)
		return rc;
	pcrgate_bundle_manifest_free(&b->m);
	b->m = m;
	b->verified = 0;
	return PCRGATE_OK;
}

uint64_t bundle_chunk_count(uint64_t stored, uint32_t chunk_size, int enc)
{
	uint64_t per = bundle_stored_chunk(chunk_size, enc), n, last;

	if (stored == 0 || chunk_size == 0)
		return 0;
	n = stored / per + (stored % per != 0);
	last = stored - (n - 1) * per;
	if (last <= bundle_stored_chunk(0, enc))
		return 0;
	return n;
}

int bundle_chunk_key(const uint8_t *content_key, const uint8_t salt[32], uint8_t out[PCRGATE_BUNDLE_KEY_SIZE],
		     pcrgate_errinfo *ei)
{
	static const char info[] = PCRGATE_BUNDLE_CHUNK_KEY_INFO;
	EVP_KDF *kdf = EVP_KDF_fetch(NULL, "HKDF", NULL);
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[5], *p = params;
	int r = PCRGATE_ERR_CRYPTO;

	*p++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)"SHA256", 0);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, (void *)content_key, PCRGATE_BUNDLE_KEY_SIZE);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)salt, 32);
	*p++ = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, (void *)info, sizeof(info) - 1);
	*p = OSSL_PARAM_construct_end();
	if (kdf == NULL || (ctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(ctx, out, PCRGATE_BUNDLE_KEY_SIZE, params) != 1) {
		pcrgate_log_openssl(__func__, "HKDF-SHA256");
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "deriving the chunk key (HKDF-SHA256) failed");
		goto fail;
	}
	r = PCRGATE_OK;
fail:
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

static int chunk_crypt(int encrypt, const uint8_t *key, uint64_t index, uint64_t count, uint8_t *buf, size_t len,
		       pcrgate_errinfo *ei)
{
	uint8_t iv[12] = {0}, aad[sizeof(CHUNK_AAD) - 1 + 16];
	EVP_CIPHER_CTX *ctx = NULL;
	size_t off = 0, step;
	int n, ok, rc = PCRGATE_ERR_CRYPTO;

	pcrgate_store_be(iv + 4, index, 8);
	pcrgate_store_be(aad + sizeof(CHUNK_AAD) - 1, index, 8);
	pcrgate_store_be(aad + sizeof(CHUNK_AAD) - 1 + 8, count, 8);
	memcpy(aad, CHUNK_AAD, sizeof(CHUNK_AAD) - 1);
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	ok = EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, encrypt) == 1 &&
	     EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, sizeof(iv), NULL) == 1 &&
	     EVP_CipherInit_ex(ctx, NULL, NULL, key, iv, encrypt) == 1 &&
	     EVP_CipherUpdate(ctx, NULL, &n, aad, sizeof(aad)) == 1;
	/* EVP lengths are int: a chunk (at most 16 MiB) goes in pieces anyway. */
	while (ok && off < len) {
		step = len - off > (1u << 20) ? (1u << 20) : len - off;
		ok = EVP_CipherUpdate(ctx, buf + off, &n, buf + off, (int)step) == 1 && (size_t)n == step;
		off += step;
	}
	if (ok && !encrypt)
		ok = EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, PCRGATE_BUNDLE_TAG_SIZE, buf + len) == 1;
	if (!ok) {
		pcrgate_log_openssl(__func__, "AES-256-GCM");
		pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "AES-256-GCM of chunk %" PRIu64 " failed",
				    index);
		goto fail;
	}
	if (EVP_CipherFinal_ex(ctx, buf + len, &n) != 1) {
		/* Only a decryption can fail here: the tag does not match key, index, count or data. */
		pcrgate_log_openssl(__func__, "AES-256-GCM final");
		rc = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					 "chunk %" PRIu64 ": decryption failed (wrong content key?)", index);
		goto fail;
	}
	if (encrypt && EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, PCRGATE_BUNDLE_TAG_SIZE, buf + len) != 1) {
		pcrgate_log_openssl(__func__, "AES-256-GCM tag");
		pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "AES-256-GCM tag of chunk %" PRIu64,
				    index);
		goto fail;
	}
	rc = PCRGATE_OK;
fail:
	EVP_CIPHER_CTX_free(ctx);
	return rc;
}

int bundle_chunk_encrypt(const uint8_t *key, uint64_t index, uint64_t count, uint8_t *buf, size_t len,
			 pcrgate_errinfo *ei)
{
	return chunk_crypt(1, key, index, count, buf, len, ei);
}

int bundle_chunk_decrypt(const uint8_t *key, uint64_t index, uint64_t count, uint8_t *buf, size_t len,
			 pcrgate_errinfo *ei)
{
	return chunk_crypt(0, key, index, count, buf, len, ei);
}
