/*
 * pcrgate: the bundle manifest's strict parser and its getters (lib/bundle.h). Untrusted JSON
 * even after its signature verified (a signer's mistake must not crash a device): the size is
 * capped before parsing, duplicate and unknown members are refused, every member is checked
 * for type, range and encoding, and each error names the member. The embedded slot manifest
 * goes through the boot core's parser, so bundle and boot read one grammar.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include "bundle_internal.h"
#include "json_members.h"
#include "truststore.h"

#define IMAGE_SIZE_MAX PCRGATE_PAYLOAD_IMAGE_MAX
#define POLICY_FORMAT "pcrgate-signed-policy"

static const char *const top_members[] = {"format", "format_version", "release", "compatible", "version",
					  "security_version", "slot_manifest", "slot_manifest_sig", "image",
					  "payload", "pcr_policy", "end_of_support", "notes", "trust_update", NULL};
static const char *const image_members[] = {"size", "sha256", NULL};
static const char *const payload_members[] = {"type", "compression", "base", "chunk_size", "stored_size",
					      "chunks", "encryption", "key_salt", NULL};
static const char *const trust_members[] = {"add_roots", "remove_roots", NULL};

/* The shared strict getters (lib/json_members.h) with this document's name in every message. */
#define PREFIX "bundle manifest"

static int bad(pcrgate_errinfo *ei, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int bad(pcrgate_errinfo *ei, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = pcrgate_json_vfail(ei, PCRGATE_ERR_FORMAT, PREFIX, fmt, ap);
	va_end(ap);
	return r;
}

static int only_members(const json_t *obj, const char *what, const char *const *names, pcrgate_errinfo *ei)
{
	return pcrgate_json_only_members(obj, PREFIX, what, names, ei);
}

/* Member key of obj as a string of 1..max bytes (path names it). */
static int get_string(const json_t *obj, const char *path, const char *key, size_t max, const char **out,
		      size_t *len, pcrgate_errinfo *ei)
{
	return pcrgate_json_get_string(obj, PREFIX, path, key, 1, max, out, len, ei);
}

static int get_uint(const json_t *obj, const char *path, const char *key, uint64_t min, uint64_t max,
		    uint64_t *out, pcrgate_errinfo *ei)
{
	return pcrgate_json_get_uint(obj, PREFIX, path, key, min, max, out, ei);
}

static int get_object(const json_t *obj, const char *path, const char *key, json_t **out, pcrgate_errinfo *ei)
{
	return pcrgate_json_get_object(obj, PREFIX, path, key, out, ei);
}

/* 32 bytes in their one spelling: 64 lower-case hex digits; what names them ("a sha256"). */
static int parse_hex32(const char *s, size_t n, const char *path, const char *what, uint8_t out[32],
		       pcrgate_errinfo *ei)
{
	size_t i, len;

	for (i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			break;
	if (n != 64 || i != n || pcrgate_hex_decode(s, out, 32, &len) != 0 || len != 32)
		return bad(ei, "member \"%s\" is not %s (64 lower-case hex digits)", path, what);
	return PCRGATE_OK;
}

static int parse_sha256(const char *s, size_t n, const char *path, uint8_t out[32], pcrgate_errinfo *ei)
{
	return parse_hex32(s, n, path, "a sha256", out, ei);
}

static int get_hex32(const json_t *obj, const char *path, const char *key, const char *what, uint8_t out[32],
		     pcrgate_errinfo *ei)
{
	const char *s;
	size_t n;
	int r;

	if ((r = get_string(obj, path, key, 64, &s, &n, ei)) != 0)
		return r == PCRGATE_ERR_LIMIT ? bad(ei, "member \"%s\" is not %s (64 lower-case hex digits)", path, what)
					      : r;
	return parse_hex32(s, n, path, what, out, ei);
}

static int get_sha256(const json_t *obj, const char *path, const char *key, uint8_t out[32], pcrgate_errinfo *ei)
{
	return get_hex32(obj, path, key, "a sha256", out, ei);
}

/* The slot manifest's string alphabet (docs/boot.md), 1..max characters. */
static int get_name(const json_t *obj, const char *key, size_t max, char *out, pcrgate_errinfo *ei)
{
	const char *s;
	size_t n, i;
	int r;

	if ((r = get_string(obj, key, key, max, &s, &n, ei)) != 0)
		return r;
	for (i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') ||
		      strchr("._-+~,:", s[i]) != NULL))
			return bad(ei, "member \"%s\" has '%c' at %zu (allowed: letters, digits, ._-+~,:)", key,
				   s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?', i);
	memcpy(out, s, n + 1);
	return PCRGATE_OK;
}

/* Base64 text of member path, at most cap bytes, into a new buffer. */
static int decode_b64(const char *s, size_t n, const char *path, size_t cap, uint8_t **out, size_t *len,
		      pcrgate_errinfo *ei)
{
	uint8_t *buf;
	int r;

	if ((buf = malloc(n / 4 * 3 + 3)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = pcrgate_json_b64_decode(PREFIX, path, s, n, buf, cap, len, ei)) != 0) {
		free(buf);
		return r;
	}
	*out = buf;
	return PCRGATE_OK;
}

static int parse_slot(const json_t *root, struct pcrgate_bundle_manifest *m, pcrgate_errinfo *ei)
{
	struct pcrgate_manifest_error merr = {0, NULL};
	uint64_t total = 0;
	const char *s;
	size_t n, i;
	int r;

	if ((r = get_string(root, "slot_manifest", "slot_manifest", PCRGATE_MANIFEST_MAX, &s, &n, ei)) != 0)
		return r;
	if ((m->slot_manifest = malloc(n)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	memcpy(m->slot_manifest, s, n);
	m->slot_manifest_len = n;
	if ((r = pcrgate_manifest_parse(m->slot_manifest, n, &m->slot, &merr)) != 0)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
					   "bundle manifest: member \"slot_manifest\": at byte %zu: %s", merr.offset,
					   merr.what ? merr.what : "malformed");
	if (strcmp(m->slot.compatible, m->compatible) != 0)
		return bad(ei, "member \"compatible\" (%s) differs from the slot manifest's (%s)", m->compatible,
			   m->slot.compatible);
	if (strcmp(m->slot.version, m->version) != 0)
		return bad(ei, "member \"version\" (%s) differs from the slot manifest's (%s)", m->version,
			   m->slot.version);
	if (m->slot.security_version != m->security_version)
		return bad(ei, "member \"security_version\" (%" PRIu32 ") differs from the slot manifest's (%" PRIu32 ")",
			   m->security_version, m->slot.security_version);
	for (i = 0; i < m->slot.n_images; i++)
		total += m->slot.images[i].size;
	if (total != m->image_size)
		return bad(ei, "member \"image.size\" (%" PRIu64 ") is not the sum of the slot manifest's images (%" PRIu64 ")",
			   m->image_size, total);
	if ((r = get_string(root, "slot_manifest_sig", "slot_manifest_sig", (PCRGATE_BUNDLE_SIG_MAX + 2) / 3 * 4, &s,
			    &n, ei)) != 0 ||
	    (r = decode_b64(s, n, "slot_manifest_sig", PCRGATE_BUNDLE_SIG_MAX, &m->slot_sig, &m->slot_sig_len, ei)) != 0)
		return r;
	return PCRGATE_OK;
}

static int parse_payload(const json_t *root, struct pcrgate_bundle_manifest *m, pcrgate_errinfo *ei)
{
	json_t *p = NULL, *base = NULL, *chunks, *v;
	const char *s;
	uint64_t u, want;
	size_t n, i;
	char path[64];
	int r;

	if ((r = get_object(root, "payload", "payload", &p, ei)) != 0 ||
	    (r = only_members(p, "\"payload\"", payload_members, ei)) != 0 ||
	    (r = get_string(p, "payload.type", "type", 16, &s, &n, ei)) != 0)
		return r;
	if (strcmp(s, "full") == 0)
		m->type = PCRGATE_BUNDLE_FULL;
	else if (strcmp(s, "delta") == 0)
		m->type = PCRGATE_BUNDLE_DELTA;
	else
		return bad(ei, "member \"payload.type\" is \"%.16s\", not \"full\" or \"delta\"", s);
	if ((r = get_string(p, "payload.compression", "compression", 16, &s, &n, ei)) != 0)
		return r;
	if (strcmp(s, "zstd") != 0)
		return bad(ei, "member \"payload.compression\" is \"%.16s\", not \"zstd\"", s);
	base = json_object_get(p, "base");
	if (m->type == PCRGATE_BUNDLE_FULL && base != NULL)
		return bad(ei, "member \"payload.base\" is present in a full payload");
	if (m->type == PCRGATE_BUNDLE_DELTA) {
		if ((r = get_object(p, "payload.base", "base", &base, ei)) != 0 ||
		    (r = only_members(base, "\"payload.base\"", image_members, ei)) != 0 ||
		    (r = get_uint(base, "payload.base.size", "size", 1, IMAGE_SIZE_MAX, &m->base_size, ei)) != 0 ||
		    (r = get_sha256(base, "payload.base.sha256", "sha256", m->base_sha256, ei)) != 0)
			return r;
	}
	if ((r = get_string(p, "payload.encryption", "encryption", 16, &s, &n, ei)) != 0)
		return r;
	if (strcmp(s, "none") == 0)
		m->encryption = PCRGATE_BUNDLE_ENC_NONE;
	else if (strcmp(s, "aes-256-gcm") == 0)
		m->encryption = PCRGATE_BUNDLE_ENC_AES256GCM;
	else
		return bad(ei, "member \"payload.encryption\" is \"%.16s\", not \"none\" or \"aes-256-gcm\"", s);
	/* The salt makes each bundle's chunk key its own (docs/updates.md "Encryption"). */
	if (m->encryption == PCRGATE_BUNDLE_ENC_AES256GCM) {
		if (json_object_get(p, "key_salt") == NULL)
			return bad(ei, "member \"payload.key_salt\" is missing (required with aes-256-gcm)");
		if ((r = get_hex32(p, "payload.key_salt", "key_salt", "a 32-byte salt", m->key_salt, ei)) != 0)
			return r;
	} else if (json_object_get(p, "key_salt") != NULL) {
		return bad(ei, "member \"payload.key_salt\" is present in an unencrypted payload");
	}
	if ((r = get_uint(p, "payload.chunk_size", "chunk_size", PCRGATE_BUNDLE_CHUNK_MIN, PCRGATE_BUNDLE_CHUNK_MAX, &u,
			  ei)) != 0)
		return r;
	if ((u & (u - 1)) != 0)
		return bad(ei, "member \"payload.chunk_size\" (%" PRIu64 ") is not a power of two", u);
	m->chunk_size = (uint32_t)u;
	if ((r = get_uint(p, "payload.stored_size", "stored_size", 1,
			  (uint64_t)PCRGATE_BUNDLE_MAX_CHUNKS * bundle_stored_chunk(m->chunk_size, m->encryption),
			  &m->stored_size, ei)) != 0)
		return r;
	want = bundle_chunk_count(m->stored_size, m->chunk_size, m->encryption);
	if (want == 0)
		return bad(ei, "member \"payload.stored_size\" (%" PRIu64 ") ends in an encrypted chunk without data",
			   m->stored_size);
	if ((chunks = json_object_get(p, "chunks")) == NULL)
		return bad(ei, "member \"payload.chunks\" is missing");
	if (!json_is_array(chunks))
		return bad(ei, "member \"payload.chunks\" is not an array");
	if (json_array_size(chunks) != want)
		return bad(ei, "member \"payload.chunks\" lists %zu digests; stored_size %" PRIu64 " at chunk_size %" PRIu32
			       " makes %" PRIu64 " chunks",
			   json_array_size(chunks), m->stored_size, m->chunk_size, want);
	if ((m->chunks = calloc((size_t)want, 32)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	m->n_chunks = (size_t)want;
	json_array_foreach(chunks, i, v)
	{
		snprintf(path, sizeof(path), "payload.chunks[%zu]", i);
		if (!json_is_string(v) || json_string_length(v) != 64)
			return bad(ei, "member \"%s\" is not a sha256 (64 lower-case hex digits)", path);
		if ((r = parse_sha256(json_string_value(v), json_string_length(v), path, m->chunks[i], ei)) != 0)
			return r;
	}
	return PCRGATE_OK;
}

/* pcr_policy: a signed policy document for this release's security version, kept compact. */
static int parse_policy(const json_t *root, struct pcrgate_bundle_manifest *m, pcrgate_errinfo *ei)
{
	json_t *pol = NULL, *counter = NULL, *v;
	const char *s;
	size_t n;
	int r;

	if ((r = get_object(root, "pcr_policy", "pcr_policy", &pol, ei)) != 0 ||
	    (r = get_string(pol, "pcr_policy.format", "format", 64, &s, &n, ei)) != 0)
		return r;
	if (strcmp(s, POLICY_FORMAT) != 0)
		return bad(ei, "member \"pcr_policy.format\" is not \"%s\"", POLICY_FORMAT);
	if ((r = get_object(pol, "pcr_policy.counter", "counter", &counter, ei)) != 0)
		return r;
	v = json_object_get(counter, "security_version");
	if (v == NULL || !json_is_integer(v) || json_integer_value(v) != (json_int_t)m->security_version)
		return bad(ei, "member \"pcr_policy.counter.security_version\" is not the bundle's security_version "
			       "(%" PRIu32 ")",
			   m->security_version);
	if ((m->pcr_policy = json_dumps(pol, JSON_COMPACT)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	m->pcr_policy_len = strlen(m->pcr_policy);
	if (m->pcr_policy_len > PCRGATE_BUNDLE_POLICY_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "bundle manifest: member \"pcr_policy\" holds %zu bytes (at most %u)",
					   m->pcr_policy_len, PCRGATE_BUNDLE_POLICY_MAX);
	return PCRGATE_OK;
}

/* An added root: one DER X.509 certificate the trust store would take as a root. */
static int check_root(const uint8_t *der, size_t len, const char *path, pcrgate_errinfo *ei)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);
	const char *why = x == NULL || p != der + len ? "is not one DER certificate" : pcrgate_truststore_root_problem(x);

	if (x == NULL)
		pcrgate_log_openssl(__func__, "an added root");
	X509_free(x);
	if (why != NULL)
		return bad(ei, "member \"%s\" %s", path, why);
	return PCRGATE_OK;
}

static int parse_trust_update(const json_t *root, struct pcrgate_bundle_manifest *m, pcrgate_errinfo *ei)
{
	json_t *tu = NULL, *add, *rem, *v;
	char path[64];
	size_t i, j;
	int r;

	if (json_object_get(root, "trust_update") == NULL)
		return PCRGATE_OK;
	if ((r = get_object(root, "trust_update", "trust_update", &tu, ei)) != 0 ||
	    (r = only_members(tu, "\"trust_update\"", trust_members, ei)) != 0)
		return r;
	add = json_object_get(tu, "add_roots");
	rem = json_object_get(tu, "remove_roots");
	if ((add != NULL && !json_is_array(add)) || (rem != NULL && !json_is_array(rem)))
		return bad(ei, "member \"trust_update.%s\" is not an array",
			   add != NULL && !json_is_array(add) ? "add_roots" : "remove_roots");
	if (json_array_size(add) > PCRGATE_BUNDLE_MAX_TRUST_ROOTS || json_array_size(rem) > PCRGATE_BUNDLE_MAX_TRUST_ROOTS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "bundle manifest: member \"trust_update\": at most %u roots added and %u removed",
					   PCRGATE_BUNDLE_MAX_TRUST_ROOTS, PCRGATE_BUNDLE_MAX_TRUST_ROOTS);
	if (json_array_size(add) == 0 && json_array_size(rem) == 0)
		return bad(ei, "member \"trust_update\" neither adds nor removes a root");
	json_array_foreach(add, i, v)
	{
		snprintf(path, sizeof(path), "trust_update.add_roots[%zu]", i);
		if (!json_is_string(v) || json_string_length(v) == 0 ||
		    json_string_length(v) > (PCRGATE_BUNDLE_ROOT_MAX + 2) / 3 * 4)
			return bad(ei, "member \"%s\" is not base64 of at most %u bytes", path, PCRGATE_BUNDLE_ROOT_MAX);
		if ((r = decode_b64(json_string_value(v), json_string_length(v), path, PCRGATE_BUNDLE_ROOT_MAX,
				    &m->add[i].der, &m->add[i].len, ei)) != 0)
			return r;
		m->n_add = i + 1;
		if ((r = check_root(m->add[i].der, m->add[i].len, path, ei)) != 0)
			return r;
		for (j = 0; j < i; j++)
			if (m->add[j].len == m->add[i].len && memcmp(m->add[j].der, m->add[i].der, m->add[i].len) == 0)
				return bad(ei, "member \"%s\" repeats an added root", path);
	}
	json_array_foreach(rem, i, v)
	{
		snprintf(path, sizeof(path), "trust_update.remove_roots[%zu]", i);
		if (!json_is_string(v) || json_string_length(v) != 64)
			return bad(ei, "member \"%s\" is not a sha256 (64 lower-case hex digits)", path);
		if ((r = parse_sha256(json_string_value(v), 64, path, m->remove[i], ei)) != 0)
			return r;
		m->n_remove = i + 1;
	}
	return PCRGATE_OK;
}

static int parse_doc(const json_t *root, struct pcrgate_bundle_manifest *m, pcrgate_errinfo *ei)
{
	json_t *image = NULL;
	const char *s;
	uint64_t u;
	size_t n;
	int r;

	if (!json_is_object(root))
		return bad(ei, "not a JSON object");
	if ((r = get_string(root, "format", "format", 64, &s, &n, ei)) != 0)
		return r;
	if (strcmp(s, PCRGATE_BUNDLE_FORMAT) != 0)
		return bad(ei, "member \"format\" is not \"%s\"", PCRGATE_BUNDLE_FORMAT);
	if ((r = get_uint(root, "format_version", "format_version", 0, UINT32_MAX, &u, ei)) != 0)
		return r;
	if (u != PCRGATE_BUNDLE_FORMAT_VERSION)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "bundle manifest: member \"format_version\" %" PRIu64 " is not supported (only %d)",
					   u, PCRGATE_BUNDLE_FORMAT_VERSION);
	if ((r = only_members(root, "the manifest", top_members, ei)) != 0 ||
	    (r = get_name(root, "release", PCRGATE_BUNDLE_RELEASE_MAX, m->release, ei)) != 0 ||
	    (r = get_name(root, "compatible", PCRGATE_MANIFEST_STRING_MAX, m->compatible, ei)) != 0 ||
	    (r = get_name(root, "version", PCRGATE_MANIFEST_STRING_MAX, m->version, ei)) != 0 ||
	    (r = get_uint(root, "security_version", "security_version", 0, UINT32_MAX, &u, ei)) != 0)
		return r;
	m->security_version = (uint32_t)u;
	if ((r = get_object(root, "image", "image", &image, ei)) != 0 ||
	    (r = only_members(image, "\"image\"", image_members, ei)) != 0 ||
	    (r = get_uint(image, "image.size", "size", 1, IMAGE_SIZE_MAX, &m->image_size, ei)) != 0 ||
	    (r = get_sha256(image, "image.sha256", "sha256", m->image_sha256, ei)) != 0 ||
	    (r = parse_slot(root, m, ei)) != 0 || (r = parse_payload(root, m, ei)) != 0 ||
	    (r = parse_policy(root, m, ei)) != 0)
		return r;
	if (m->type == PCRGATE_BUNDLE_DELTA && m->base_size == m->image_size &&
	    pcrgate_ct_equal(m->base_sha256, m->image_sha256, 32))
		return bad(ei, "member \"payload.base\" is the image itself");
	if (json_object_get(root, "end_of_support") != NULL) {
		if ((r = get_string(root, "end_of_support", "end_of_support", 10, &s, &n, ei)) != 0)
			return r;
		if (!pcrgate_date_valid(s, n))
			return bad(ei, "member \"end_of_support\" is not a date YYYY-MM-DD");
		memcpy(m->end_of_support, s, n + 1);
		m->has_end_of_support = 1;
	}
	if (json_object_get(root, "notes") != NULL) {
		if ((r = get_string(root, "notes", "notes", PCRGATE_BUNDLE_NOTES_MAX, &s, &n, ei)) != 0)
			return r;
		if ((m->notes = strdup(s)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	return parse_trust_update(root, m, ei);
}

int pcrgate_bundle_manifest_parse(const uint8_t *json, size_t len, struct pcrgate_bundle_manifest **out,
				  pcrgate_errinfo *ei)
{
	struct pcrgate_bundle_manifest *m = NULL;
	json_error_t jerr;
	json_t *root = NULL;
	int r;

	if (json == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no manifest given");
	if (len == 0 || len > PCRGATE_BUNDLE_MANIFEST_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "bundle manifest of %zu bytes (1 to %u)", len, PCRGATE_BUNDLE_MANIFEST_MAX);
	root = json_loadb((const char *)json, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)jerr.position,
					   "bundle manifest: JSON: %s", jerr.text);
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = parse_doc(root, m, ei)) != 0)
		goto fail;
	*out = m;
	m = NULL;
fail:
	pcrgate_bundle_manifest_free(&m);
	json_decref(root);
	return r;
}

void pcrgate_bundle_manifest_free(struct pcrgate_bundle_manifest **m)
{
	size_t i;

	if (m == NULL || *m == NULL)
		return;
	free((*m)->slot_manifest);
	free((*m)->slot_sig);
	free((*m)->chunks);
	free((*m)->pcr_policy);
	free((*m)->notes);
	for (i = 0; i < (*m)->n_add; i++)
		free((*m)->add[i].der);
	free(*m);
	*m = NULL;
}

const char *pcrgate_bundle_manifest_release(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->release : NULL;
}

const char *pcrgate_bundle_manifest_compatible(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->compatible : NULL;
}

const char *pcrgate_bundle_manifest_version(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->version : NULL;
}

uint32_t pcrgate_bundle_manifest_security_version(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->security_version : 0;
}

const uint8_t *pcrgate_bundle_manifest_slot_manifest(const struct pcrgate_bundle_manifest *m, size_t *len)
{
	if (m == NULL)
		return NULL;
	if (len != NULL)
		*len = m->slot_manifest_len;
	return m->slot_manifest;
}

const struct pcrgate_manifest *pcrgate_bundle_manifest_slot(const struct pcrgate_bundle_manifest *m)
{
	return m ? &m->slot : NULL;
}

const uint8_t *pcrgate_bundle_manifest_slot_manifest_sig(const struct pcrgate_bundle_manifest *m, size_t *len)
{
	if (m == NULL)
		return NULL;
	if (len != NULL)
		*len = m->slot_sig_len;
	return m->slot_sig;
}

uint64_t pcrgate_bundle_manifest_image_size(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->image_size : 0;
}

const uint8_t *pcrgate_bundle_manifest_image_sha256(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->image_sha256 : NULL;
}

int pcrgate_bundle_manifest_payload_type(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->type : 0;
}

uint64_t pcrgate_bundle_manifest_base_size(const struct pcrgate_bundle_manifest *m)
{
	return m && m->type == PCRGATE_BUNDLE_DELTA ? m->base_size : 0;
}

const uint8_t *pcrgate_bundle_manifest_base_sha256(const struct pcrgate_bundle_manifest *m)
{
	return m && m->type == PCRGATE_BUNDLE_DELTA ? m->base_sha256 : NULL;
}

uint32_t pcrgate_bundle_manifest_chunk_size(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->chunk_size : 0;
}

uint64_t pcrgate_bundle_manifest_stored_size(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->stored_size : 0;
}

size_t pcrgate_bundle_manifest_chunk_count(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->n_chunks : 0;
}

const uint8_t *pcrgate_bundle_manifest_chunk(const struct pcrgate_bundle_manifest *m, size_t i, uint64_t *stored_len)
{
	uint64_t per;

	if (m == NULL || i >= m->n_chunks)
		return NULL;
	per = bundle_stored_chunk(m->chunk_size, m->encryption);
	if (stored_len != NULL)
		*stored_len = i + 1 < m->n_chunks ? per : m->stored_size - per * i;
	return m->chunks[i];
}

int pcrgate_bundle_manifest_encryption(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->encryption : 0;
}

const char *pcrgate_bundle_manifest_pcr_policy(const struct pcrgate_bundle_manifest *m, size_t *len)
{
	if (m == NULL)
		return NULL;
	if (len != NULL)
		*len = m->pcr_policy_len;
	return m->pcr_policy;
}

const char *pcrgate_bundle_manifest_end_of_support(const struct pcrgate_bundle_manifest *m)
{
	return m && m->has_end_of_support ? m->end_of_support : NULL;
}

const char *pcrgate_bundle_manifest_notes(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->notes : NULL;
}

size_t pcrgate_bundle_manifest_roots_added(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->n_add : 0;
}

size_t pcrgate_bundle_manifest_roots_removed(const struct pcrgate_bundle_manifest *m)
{
	return m ? m->n_remove : 0;
}

const uint8_t *pcrgate_bundle_manifest_root_added(const struct pcrgate_bundle_manifest *m, size_t i, size_t *len)
{
	if (m == NULL || i >= m->n_add)
		return NULL;
	if (len != NULL)
		*len = m->add[i].len;
	return m->add[i].der;
}

int pcrgate_bundle_manifest_removes_root(const struct pcrgate_bundle_manifest *m, const uint8_t fp[32])
{
	size_t i;

	for (i = 0; m != NULL && fp != NULL && i < m->n_remove; i++)
		if (pcrgate_ct_equal(fp, m->remove[i], 32))
			return 1;
	return 0;
}
