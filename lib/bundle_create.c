/*
 * pcrgate: writing a bundle (lib/bundle.h pcrgate_bundle_create). The payload is encoded into
 * an anonymous temporary file, cut into chunks, encrypted per chunk (under a chunk key of this
 * bundle's own, from the content key and a random salt) and hashed into a second
 * one; the manifest is built, read back through the device's own parser (a bundle the devices
 * would refuse is never written), signed, and everything is written in the format's order.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "bundle_internal.h"
#include "pcrgate/alg.h"

struct create_state {
	uint8_t key_salt[32], chunk_key[PCRGATE_BUNDLE_KEY_SIZE];
	FILE *encoded, *stored;
	uint64_t encoded_len, stored_len;
	uint32_t chunk_size;
	size_t n_chunks;
	uint8_t (*digests)[32];
};

static json_t *hex_string(const uint8_t *p, size_t n)
{
	char s[2 * 32 + 1];

	if (n > 32)
		return NULL;
	pcrgate_hex_encode(p, n, s);
	return json_string(s);
}

static json_t *b64_string(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	json_t *j;

	if (s == NULL || n > INT32_MAX / 2) {
		free(s);
		return NULL;
	}
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	j = json_string(s);
	free(s);
	return j;
}

/* Stored chunks: read each chunk_size piece of the encoded payload, encrypt, hash, write. */
static int make_chunks(const struct pcrgate_bundle_create_params *p, struct create_state *st, pcrgate_errinfo *ei)
{
	uint64_t done = 0;
	uint8_t *buf = NULL;
	size_t i, n;
	int r;

	if ((buf = malloc((size_t)st->chunk_size + PCRGATE_BUNDLE_TAG_SIZE)) == NULL ||
	    (st->digests = calloc(st->n_chunks, 32)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	rewind(st->encoded);
	for (i = 0; i < st->n_chunks; i++) {
		n = st->encoded_len - done < st->chunk_size ? (size_t)(st->encoded_len - done) : st->chunk_size;
		if (fread(buf, 1, n, st->encoded) != n) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "reading the encoded payload back");
			goto fail;
		}
		done += n;
		if (p->key != NULL) {
			if ((r = bundle_chunk_encrypt(st->chunk_key, i, st->n_chunks, buf, n, ei)) != 0)
				goto fail;
			n += PCRGATE_BUNDLE_TAG_SIZE;
		}
		if ((r = pcrgate_digest(PCRGATE_ALG_SHA256, buf, n, st->digests[i])) != 0) {
			pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "sha256 of chunk %zu failed", i);
			goto fail;
		}
		if (fwrite(buf, 1, n, st->stored) != n) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing a temporary file: %s",
						strerror(errno));
			goto fail;
		}
		st->stored_len += n;
	}
	r = PCRGATE_OK;
fail:
	free(buf);
	return r;
}

static json_t *build_payload(const struct pcrgate_bundle_create_params *p, const struct create_state *st)
{
	json_t *pl = json_object(), *chunks = json_array(), *base = NULL;
	size_t i;
	int ok = pl != NULL && chunks != NULL;

	for (i = 0; ok && i < st->n_chunks; i++)
		ok = json_array_append_new(chunks, hex_string(st->digests[i], 32)) == 0;
	ok = ok && json_object_set_new(pl, "type", json_string(p->base_path ? "delta" : "full")) == 0 &&
	     json_object_set_new(pl, "compression", json_string("zstd")) == 0;
	if (ok && p->base_path != NULL)
		ok = (base = json_object()) != NULL &&
		     json_object_set_new(base, "size", json_integer((json_int_t)p->base_size)) == 0 &&
		     json_object_set_new(base, "sha256", hex_string(p->base_sha256, 32)) == 0 &&
		     json_object_set(pl, "base", base) == 0;
	ok = ok && json_object_set_new(pl, "chunk_size", json_integer(st->chunk_size)) == 0 &&
	     json_object_set_new(pl, "stored_size", json_integer((json_int_t)st->stored_len)) == 0 &&
	     json_object_set(pl, "chunks", chunks) == 0 &&
	     json_object_set_new(pl, "encryption", json_string(p->key ? "aes-256-gcm" : "none")) == 0;
	if (ok && p->key != NULL)
		ok = json_object_set_new(pl, "key_salt", hex_string(st->key_salt, 32)) == 0;
	json_decref(base);
	json_decref(chunks);
	if (!ok) {
		json_decref(pl);
		return NULL;
	}
	return pl;
}

static json_t *build_trust_update(const struct pcrgate_bundle_create_params *p)
{
	json_t *tu = json_object(), *add = json_array(), *rem = json_array();
	size_t i;
	int ok = tu != NULL && add != NULL && rem != NULL;

	for (i = 0; ok && i < p->n_add_roots; i++)
		ok = json_array_append_new(add, b64_string(p->add_roots[i], p->add_root_lens[i])) == 0;
	for (i = 0; ok && i < p->n_remove_roots; i++)
		ok = json_array_append_new(rem, hex_string(p->remove_roots[i], 32)) == 0;
	if (ok && p->n_add_roots > 0)
		ok = json_object_set(tu, "add_roots", add) == 0;
	if (ok && p->n_remove_roots > 0)
		ok = json_object_set(tu, "remove_roots", rem) == 0;
	json_decref(add);
	json_decref(rem);
	if (!ok) {
		json_decref(tu);
		return NULL;
	}
	return tu;
}

static int build_manifest(const struct pcrgate_bundle_create_params *p, const struct create_state *st, char **out,
			  pcrgate_errinfo *ei)
{
	struct pcrgate_manifest_error merr = {0, NULL};
	struct pcrgate_manifest slot;
	json_t *doc = NULL, *image = NULL, *policy = NULL, *payload = NULL, *tu = NULL;
	json_error_t jerr;
	char *text = NULL;
	int ok, r;

	if ((r = pcrgate_manifest_parse(p->slot_manifest, p->slot_manifest_len, &slot, &merr)) != 0)
		return pcrgate_errinfo_set(ei, r, merr.offset, "slot manifest: at byte %zu: %s", merr.offset,
					   merr.what != NULL ? merr.what : "malformed");
	policy = json_loadb(p->pcr_policy, p->pcr_policy_len, JSON_REJECT_DUPLICATES, &jerr);
	if (policy == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)jerr.position, "PCR policy: JSON: %s",
					   jerr.text);
	ok = (doc = json_object()) != NULL && (image = json_object()) != NULL &&
	     (payload = build_payload(p, st)) != NULL &&
	     json_object_set_new(doc, "format", json_string(PCRGATE_BUNDLE_FORMAT)) == 0 &&
	     json_object_set_new(doc, "format_version", json_integer(PCRGATE_BUNDLE_FORMAT_VERSION)) == 0 &&
	     json_object_set_new(doc, "release", json_string(p->release)) == 0 &&
	     json_object_set_new(doc, "compatible", json_string(slot.compatible)) == 0 &&
	     json_object_set_new(doc, "version", json_string(slot.version)) == 0 &&
	     json_object_set_new(doc, "security_version", json_integer(slot.security_version)) == 0 &&
	     json_object_set_new(doc, "slot_manifest",
				 json_stringn((const char *)p->slot_manifest, p->slot_manifest_len)) == 0 &&
	     json_object_set_new(doc, "slot_manifest_sig", b64_string(p->slot_manifest_sig, p->slot_manifest_sig_len)) ==
		     0 &&
	     json_object_set_new(image, "size", json_integer((json_int_t)p->image_size)) == 0 &&
	     json_object_set_new(image, "sha256", hex_string(p->image_sha256, 32)) == 0 &&
	     json_object_set(doc, "image", image) == 0 && json_object_set(doc, "payload", payload) == 0 &&
	     json_object_set(doc, "pcr_policy", policy) == 0;
	if (ok && p->end_of_support != NULL)
		ok = json_object_set_new(doc, "end_of_support", json_string(p->end_of_support)) == 0;
	if (ok && p->notes != NULL)
		ok = json_object_set_new(doc, "notes", json_string(p->notes)) == 0;
	if (ok && (p->n_add_roots > 0 || p->n_remove_roots > 0))
		ok = (tu = build_trust_update(p)) != NULL && json_object_set(doc, "trust_update", tu) == 0;
	if (ok)
		ok = (text = json_dumps(doc, JSON_INDENT(1))) != NULL;
	r = ok ? PCRGATE_OK
	       : pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
				     "cannot build the manifest (a member is not valid UTF-8?)");
	json_decref(tu);
	json_decref(payload);
	json_decref(image);
	json_decref(policy);
	json_decref(doc);
	if (r == PCRGATE_OK)
		*out = text;
	return r;
}

static int write_bundle(FILE *out, const char *manifest, size_t mlen, const uint8_t *sig, size_t slen,
			struct create_state *st, pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_header h = {.format_version = PCRGATE_BUNDLE_FORMAT_VERSION,
						 .manifest_len = (uint32_t)mlen,
						 .sig_len = (uint32_t)slen,
						 .payload_len = st->stored_len};
	uint8_t hdr[PCRGATE_BUNDLE_HEADER_SIZE], buf[65536];
	size_t n;

	bundle_header_encode(&h, hdr);
	if (fwrite(hdr, 1, sizeof(hdr), out) != sizeof(hdr) || fwrite(manifest, 1, mlen, out) != mlen ||
	    fwrite(sig, 1, slen, out) != slen)
		goto fail;
	rewind(st->stored);
	while ((n = fread(buf, 1, sizeof(buf), st->stored)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			goto fail;
	if (!ferror(st->stored) && fflush(out) == 0 && !ferror(out))
		return PCRGATE_OK;
fail:
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing the bundle: %s", strerror(errno));
}

/* Chunk size: the one asked for, or the smallest from 1 MiB up that keeps within the chunk cap. */
static int pick_chunks(const struct pcrgate_bundle_create_params *p, struct create_state *st, pcrgate_errinfo *ei)
{
	uint64_t cs = p->chunk_size;

	if (cs == 0)
		for (cs = 1u << 20; cs < PCRGATE_BUNDLE_CHUNK_MAX && (st->encoded_len + cs - 1) / cs > PCRGATE_BUNDLE_MAX_CHUNKS;
		     cs *= 2)
			;
	if (cs < PCRGATE_BUNDLE_CHUNK_MIN || cs > PCRGATE_BUNDLE_CHUNK_MAX || (cs & (cs - 1)) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "chunk size %" PRIu64 " is not a power of two from %u to %u", cs,
					   PCRGATE_BUNDLE_CHUNK_MIN, PCRGATE_BUNDLE_CHUNK_MAX);
	if (st->encoded_len == 0 || (st->encoded_len + cs - 1) / cs > PCRGATE_BUNDLE_MAX_CHUNKS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "a payload of %" PRIu64 " bytes makes more than %u chunks of %" PRIu64
					   " bytes; choose a larger chunk size",
					   st->encoded_len, PCRGATE_BUNDLE_MAX_CHUNKS, cs);
	st->chunk_size = (uint32_t)cs;
	st->n_chunks = (size_t)((st->encoded_len + cs - 1) / cs);
	return PCRGATE_OK;
}

int pcrgate_bundle_create(const struct pcrgate_bundle_create_params *p, FILE *out, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle_manifest *check = NULL;
	struct create_state st;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	char *manifest = NULL;
	int r = PCRGATE_OK;

	memset(&st, 0, sizeof(st));
	if (p == NULL || out == NULL || p->release == NULL || p->slot_manifest == NULL || p->slot_manifest_sig == NULL ||
	    p->image_path == NULL || p->image_sha256 == NULL || p->pcr_policy == NULL || p->sign == NULL ||
	    (p->base_path != NULL && p->base_sha256 == NULL) ||
	    (p->n_add_roots > 0 && (p->add_roots == NULL || p->add_root_lens == NULL)) ||
	    (p->n_remove_roots > 0 && p->remove_roots == NULL))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "incomplete bundle parameters");
	if (p->n_add_roots > PCRGATE_BUNDLE_MAX_TRUST_ROOTS || p->n_remove_roots > PCRGATE_BUNDLE_MAX_TRUST_ROOTS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "at most %u roots added and %u removed", PCRGATE_BUNDLE_MAX_TRUST_ROOTS,
					   PCRGATE_BUNDLE_MAX_TRUST_ROOTS);
	/* A fresh salt per bundle: the chunk key differs even where the content key does not. */
	if (p->key != NULL && (RAND_bytes(st.key_salt, sizeof(st.key_salt)) != 1 ||
			       (r = bundle_chunk_key(p->key, st.key_salt, st.chunk_key, ei)) != 0)) {
		if (r == 0) {
			pcrgate_log_openssl(__func__, "RAND_bytes");
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "no random salt");
		}
		goto fail;
	}
	if ((st.encoded = tmpfile()) == NULL || (st.stored = tmpfile()) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot create a temporary file: %s",
					strerror(errno));
		goto fail;
	}
	if ((r = pcrgate_payload_encode(p->image_path, p->base_path, p->level, st.encoded, &st.encoded_len, ei)) != 0)
		goto fail;
	if (fflush(st.encoded) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing a temporary file: %s",
					strerror(errno));
		goto fail;
	}
	if ((r = pick_chunks(p, &st, ei)) != 0 || (r = make_chunks(p, &st, ei)) != 0 ||
	    (r = build_manifest(p, &st, &manifest, ei)) != 0)
		goto fail;
	if ((r = pcrgate_bundle_manifest_parse((const uint8_t *)manifest, strlen(manifest), &check, ei)) != 0)
		goto fail;
	if ((r = p->sign(p->sign_ctx, (const uint8_t *)manifest, strlen(manifest), &sig, &sig_len, ei)) != 0)
		goto fail;
	if (sig_len == 0 || sig_len > PCRGATE_BUNDLE_SIG_MAX) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "a signature of %zu bytes (1 to %u)",
					sig_len, PCRGATE_BUNDLE_SIG_MAX);
		goto fail;
	}
	r = write_bundle(out, manifest, strlen(manifest), sig, sig_len, &st, ei);
fail:
	OPENSSL_cleanse(st.chunk_key, sizeof(st.chunk_key));
	pcrgate_bundle_manifest_free(&check);
	free(sig);
	free(manifest);
	free(st.digests);
	if (st.encoded != NULL)
		fclose(st.encoded);
	if (st.stored != NULL)
		fclose(st.stored);
	return r;
}
