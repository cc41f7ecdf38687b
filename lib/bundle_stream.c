/*
 * pcrgate: streaming a verified bundle's payload (lib/bundle.h). One stored chunk at a time is
 * read whole, its sha256 compared with the manifest's before any byte of it is decrypted or
 * decompressed, then AES-256-GCM under the bundle's chunk key (when encrypted) and the payload
 * decoder, whose output is hashed on its way to the caller's sink. Memory: one chunk (at most 16 MiB + tag) plus the
 * decoder's. The payload never grows past stored_size: one byte more is an error.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "bundle_internal.h"
#include "pcrgate/alg.h"

/* The caller's sink behind a sha256 of the image (the decoder enforces its size). */
struct image_sink {
	pcrgate_payload_sink sink;
	void *ctx;
	EVP_MD_CTX *md;
};

static int image_sink_write(void *ctx, const uint8_t *data, size_t len)
{
	struct image_sink *s = ctx;

	if (EVP_DigestUpdate(s->md, data, len) != 1)
		return PCRGATE_ERR_CRYPTO;
	return s->sink != NULL ? s->sink(s->ctx, data, len) : PCRGATE_OK;
}

/* Reads up to n bytes through fn, as many as it has; *got < n only at the end of the data. */
static int read_full(pcrgate_bundle_read_fn fn, void *ctx, uint8_t *buf, size_t n, size_t *got,
		     pcrgate_errinfo *ei)
{
	size_t done = 0, k;
	int r;

	while (done < n) {
		k = 0;
		errno = 0;
		if ((r = fn(ctx, buf + done, n - done, &k)) != 0)
			/* A source failing on a system call leaves its errno: the more precise reason. */
			return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "payload: reading failed: %s",
						   r == PCRGATE_ERR_IO && errno != 0 ? strerror(errno) : pcrgate_strerror(r));
		if (k == 0)
			break;
		if (k > n - done)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						   "payload: the source returned more than asked");
		done += k;
	}
	*got = done;
	return PCRGATE_OK;
}

/*
 * Reads stored chunk i of m's payload (its length into *len) through fn into buf; *got is what
 * came (less than *len only at the end of the data), *match 1 when all of it came and its
 * sha256 is the manifest's (compared in constant time).
 */
static int read_chunk(const struct pcrgate_bundle_manifest *m, size_t i, pcrgate_bundle_read_fn fn, void *ctx,
		      uint8_t *buf, uint64_t *len, size_t *got, int *match, pcrgate_errinfo *ei)
{
	uint8_t md[32];
	int r;

	*match = 0;
	pcrgate_bundle_manifest_chunk(m, i, len);
	if ((r = read_full(fn, ctx, buf, (size_t)*len, got, ei)) != 0 || *got != *len)
		return r;
	if ((r = pcrgate_digest(PCRGATE_ALG_SHA256, buf, *got, md)) != 0)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "sha256 failed");
	*match = pcrgate_ct_equal(md, m->chunks[i], 32);
	return PCRGATE_OK;
}

int pcrgate_bundle_stream(const struct pcrgate_bundle *b, pcrgate_bundle_read_fn fn, void *fn_ctx,
			  const uint8_t *key, const char *base_path, pcrgate_payload_sink sink, void *sink_ctx,
			  pcrgate_errinfo *ei)
{
	struct pcrgate_payload_decoder *d = NULL;
	const struct pcrgate_bundle_manifest *m;
	struct image_sink is = {sink, sink_ctx, NULL};
	uint8_t *buf = NULL, md[32], chunk_key[PCRGATE_BUNDLE_KEY_SIZE] = {0}, extra;
	uint64_t len, off = 0;
	unsigned mdlen = 0;
	size_t i, got = 0;
	int r, match;

	if (b == NULL || fn == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no bundle given");
	if (!b->verified || (m = b->m) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "the bundle has not been verified");
	if (m->encryption == PCRGATE_BUNDLE_ENC_AES256GCM && key == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "the payload is encrypted and no content key was given");
	if (m->type == PCRGATE_BUNDLE_DELTA && base_path == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "base: the payload is a delta and no base image was given");
	if ((buf = malloc(bundle_stored_chunk(m->chunk_size, m->encryption))) == NULL ||
	    (is.md = EVP_MD_CTX_new()) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if (EVP_DigestInit_ex(is.md, EVP_sha256(), NULL) != 1) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "sha256 failed");
		goto fail;
	}
	/* The decoder hashes the base once, on the mapping it decodes against. */
	if ((r = pcrgate_payload_decoder_new(&d, m->type == PCRGATE_BUNDLE_DELTA ? base_path : NULL,
					     m->type == PCRGATE_BUNDLE_DELTA ? m->base_sha256 : NULL, m->image_size,
					     ei)) != 0)
		goto fail;
	if (m->encryption == PCRGATE_BUNDLE_ENC_AES256GCM && (r = bundle_chunk_key(key, m->key_salt, chunk_key, ei)) != 0)
		goto fail;
	for (i = 0; i < m->n_chunks; i++) {
		if ((r = read_chunk(m, i, fn, fn_ctx, buf, &len, &got, &match, ei)) != 0)
			goto fail;
		if (got != len) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"payload: truncated in chunk %zu of %zu (%" PRIu64 " of %" PRIu64 " bytes)", i,
						m->n_chunks, off + got, m->stored_size);
			goto fail;
		}
		if (!match) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						"chunk %zu (payload bytes %" PRIu64 " to %" PRIu64 "): sha256 differs from the manifest",
						i, off, off + len - 1);
			goto fail;
		}
		if (m->encryption == PCRGATE_BUNDLE_ENC_AES256GCM) {
			len -= PCRGATE_BUNDLE_TAG_SIZE;
			if ((r = bundle_chunk_decrypt(chunk_key, i, m->n_chunks, buf, (size_t)len, ei)) != 0)
				goto fail;
		}
		if ((r = pcrgate_payload_decoder_feed(d, buf, (size_t)len, image_sink_write, &is, ei)) != 0)
			goto fail;
		off += got;
	}
	if ((r = read_full(fn, fn_ctx, &extra, 1, &got, ei)) != 0)
		goto fail;
	if (got != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"payload: data after the manifest's stored_size of %" PRIu64 " bytes", m->stored_size);
		goto fail;
	}
	if ((r = pcrgate_payload_decoder_finish(d, ei)) != 0)
		goto fail;
	if (EVP_DigestFinal_ex(is.md, md, &mdlen) != 1 || mdlen != 32) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "sha256 failed");
		goto fail;
	}
	if (!pcrgate_ct_equal(md, m->image_sha256, 32)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"image: sha256 of the decoded image differs from the manifest");
		goto fail;
	}
	r = PCRGATE_OK;
fail:
	OPENSSL_cleanse(chunk_key, sizeof(chunk_key));
	pcrgate_payload_decoder_free(&d);
	EVP_MD_CTX_free(is.md);
	free(buf);
	return r;
}

static int file_read(void *ctx, uint8_t *buf, size_t cap, size_t *got)
{
	FILE *f = ctx;

	*got = fread(buf, 1, cap, f);
	return *got == 0 && ferror(f) ? PCRGATE_ERR_IO : PCRGATE_OK;
}

int pcrgate_bundle_stream_file(const struct pcrgate_bundle *b, FILE *f, const uint8_t *key, const char *base_path,
			       pcrgate_payload_sink sink, void *sink_ctx, pcrgate_errinfo *ei)
{
	if (f == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no payload given");
	return pcrgate_bundle_stream(b, file_read, f, key, base_path, sink, sink_ctx, ei);
}

int pcrgate_bundle_check_partial(const struct pcrgate_bundle_manifest *m, FILE *f, size_t *valid_chunks,
				 uint64_t *valid_bytes, pcrgate_errinfo *ei)
{
	uint8_t *buf = NULL;
	uint64_t len, off = 0;
	size_t i, got = 0;
	int r, match;

	if (m == NULL || f == NULL || valid_chunks == NULL || valid_bytes == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no manifest or file given");
	if ((buf = malloc(bundle_stored_chunk(m->chunk_size, m->encryption))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	for (i = 0; i < m->n_chunks; i++) {
		if ((r = read_chunk(m, i, file_read, f, buf, &len, &got, &match, ei)) != 0)
			goto fail;
		if (!match)
			break;
		off += len;
	}
	*valid_chunks = i;
	*valid_bytes = off;
	r = PCRGATE_OK;
fail:
	free(buf);
	return r;
}
