/*
 * Unit tests for update bundles (lib/bundle*.c): a PKI made here with OpenSSL
 * (tests/unit/trust_fixture.h), a slot image of two images, and bundles of it built with
 * pcrgate_bundle_create: full and delta, encrypted and not, each verified and streamed back to
 * the exact image. Then the attacks, each refused with the check that caught it: a bad
 * signature, an unknown or revoked signer, rollback, other hardware, payloads swapped between
 * bundles, data after the payload, a chunk tampered, a delta against the wrong base, truncation,
 * the caps; every manifest member's checks; partial downloads; root rotation. Writes seeds
 * for tests/fuzz/fuzz_bundle.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "bundle.h"
#include "pcrgate/alg.h"
#include "seed.h"
#include "trust_fixture.h"

#define KERNEL_SIZE 150000u
#define INITRD_SIZE 60000u
#define IMAGE_SIZE (KERNEL_SIZE + INITRD_SIZE)

static const char policy_json[] =
	"{\"format\":\"pcrgate-signed-policy\",\"version\":1,\"counter\":{\"index\":\"0x01500100\","
	"\"security_version\":7}}";

/* The PKI: a root with a signer and a revoked signer, another root, a second root for rotation. */
static EVP_PKEY *root_key, *signer_key, *revoked_key, *other_root_key, *other_key, *root2_key, *signer2_key;
static X509 *root, *signer, *revoked, *other_root, *other, *root2, *signer2;
static struct pcrgate_truststore *ts, *ts_both;
static char dir[64], image_path[128], base_path[128], wrong_path[128];
static uint8_t *image, *slot_manifest, *slot_sig;
static size_t slot_manifest_len, slot_sig_len;
static const uint8_t content_key[32] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16,
					17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

struct buf {
	uint8_t *p;
	size_t len;
};

/* Deterministic bytes. */
static void fill(uint8_t *p, size_t n, uint32_t seed)
{
	size_t i;

	for (i = 0; i < n; i++) {
		seed = seed * 1103515245u + 12345u;
		p[i] = (uint8_t)(seed >> 16);
	}
}

static void write_file(const char *path, const uint8_t *p, size_t n)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(p, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

static void hex(const uint8_t *p, size_t n, char *out)
{
	uint8_t md[32];
	unsigned len;

	assert_int_equal(EVP_Digest(p, n, md, &len, EVP_sha256(), NULL), 1);
	pcrgate_hex_encode(md, 32, out);
}

static int add_pem(struct pcrgate_truststore *t, X509 *x, X509_CRL *crl)
{
	size_t len = 0;
	uint8_t *pem = fx_pem(x, crl, &len);
	int r;

	if (pem == NULL)
		return -1;
	r = crl != NULL ? pcrgate_truststore_add_crls(t, pem, len, "crl", NULL)
			: pcrgate_truststore_add_roots(t, pem, len, "root", NULL);
	free(pem);
	return r;
}

static int setup(void **state)
{
	char k[65], i[65];
	uint8_t *base;
	X509_CRL *crl;
	struct fx_signers s;
	int n;

	(void)state;
	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	snprintf(dir, sizeof(dir), "/tmp/pcrgate-test-bundle.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	root_key = fx_key(0), signer_key = fx_key(0), revoked_key = fx_key(0), other_root_key = fx_key(0);
	other_key = fx_key(0), root2_key = fx_key(0), signer2_key = fx_key(0);
	root = fx_cert("bundle root", root_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	signer = fx_cert("bundle signer", signer_key, root, root_key, FX_SIGNER, 2, -1, 365);
	revoked = fx_cert("bundle revoked", revoked_key, root, root_key, FX_SIGNER, 3, -1, 365);
	other_root = fx_cert("other root", other_root_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	other = fx_cert("other signer", other_key, other_root, other_root_key, FX_SIGNER, 2, -1, 365);
	root2 = fx_cert("bundle root 2", root2_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	signer2 = fx_cert("bundle signer 2", signer2_key, root2, root2_key, FX_SIGNER, 2, -1, 365);
	crl = fx_crl(root, root_key, &revoked, 1, 1);
	if (root == NULL || signer == NULL || revoked == NULL || other == NULL || signer2 == NULL || crl == NULL ||
	    pcrgate_truststore_new(&ts) != 0 || add_pem(ts, root, NULL) != 0 || add_pem(ts, NULL, crl) != 0 ||
	    pcrgate_truststore_new(&ts_both) != 0 || add_pem(ts_both, root, NULL) != 0 ||
	    add_pem(ts_both, root2, NULL) != 0)
		return -1;
	X509_CRL_free(crl);

	/* The slot image (kernel || initrd), a base that differs in a few places, and another base. */
	image = malloc(IMAGE_SIZE);
	base = malloc(IMAGE_SIZE);
	fill(base, IMAGE_SIZE, 7);
	memcpy(image, base, IMAGE_SIZE);
	fill(image + 1000, 300, 8);
	fill(image + 170000, 500, 9);
	snprintf(image_path, sizeof(image_path), "%s/image", dir);
	snprintf(base_path, sizeof(base_path), "%s/base", dir);
	snprintf(wrong_path, sizeof(wrong_path), "%s/wrong", dir);
	write_file(image_path, image, IMAGE_SIZE);
	write_file(base_path, base, IMAGE_SIZE);
	base[5] ^= 1;
	write_file(wrong_path, base, IMAGE_SIZE);
	free(base);
	hex(image, KERNEL_SIZE, k);
	hex(image + KERNEL_SIZE, INITRD_SIZE, i);
	slot_manifest = malloc(PCRGATE_MANIFEST_MAX);
	n = snprintf((char *)slot_manifest, PCRGATE_MANIFEST_MAX,
		     "pcrgate-manifest 1\ncompatible=acme,gw-100\nversion=4.2.0\nsecurity_version=7\n"
		     "image=kernel size=%u sha256=%s\nimage=initrd size=%u sha256=%s\n",
		     KERNEL_SIZE, k, INITRD_SIZE, i);
	slot_manifest_len = (size_t)n;
	s.certs[0] = signer;
	s.keys[0] = signer_key;
	s.n = 1;
	return fx_sign_cb(&s, slot_manifest, slot_manifest_len, &slot_sig, &slot_sig_len, NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (fx_rmtree(dir) != 0)
		return -1;
	pcrgate_truststore_free(&ts);
	pcrgate_truststore_free(&ts_both);
	X509_free(root), X509_free(signer), X509_free(revoked), X509_free(other_root), X509_free(other);
	X509_free(root2), X509_free(signer2);
	EVP_PKEY_free(root_key), EVP_PKEY_free(signer_key), EVP_PKEY_free(revoked_key);
	EVP_PKEY_free(other_root_key), EVP_PKEY_free(other_key), EVP_PKEY_free(root2_key), EVP_PKEY_free(signer2_key);
	free(image);
	free(slot_manifest);
	free(slot_sig);
	return 0;
}

/* What a bundle is made with, beyond the fixed slot. */
struct opts {
	const uint8_t *key;
	const char *base;
	X509 *certs[2];
	EVP_PKEY *keys[2];
	size_t n_signers;
	X509 *add;
	X509 *remove;
	const char *eos;
};

static struct buf make(const struct opts *o)
{
	struct pcrgate_bundle_create_params p;
	struct fx_signers s = {{signer, NULL}, {signer_key, NULL}, 1};
	uint8_t image_md[32], base_md[32], *bbuf = NULL;
	struct buf b = {NULL, 0};
	pcrgate_errinfo ei;
	size_t blen = 0;

	memset(&p, 0, sizeof(p));
	/* The digests a caller has from pcrgate_slot_image_write. */
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, image, IMAGE_SIZE, image_md), 0);
	if (o->base != NULL) {
		assert_int_equal(pcrgate_file_read(o->base, IMAGE_SIZE, &bbuf, &blen, NULL), 0);
		assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, bbuf, blen, base_md), 0);
		free(bbuf);
	}
	if (o->n_signers > 0) {
		memcpy(s.certs, o->certs, sizeof(s.certs));
		memcpy(s.keys, o->keys, sizeof(s.keys));
		s.n = o->n_signers;
	}
	p.release = "gw-100-4.2.0";
	p.slot_manifest = slot_manifest;
	p.slot_manifest_len = slot_manifest_len;
	p.slot_manifest_sig = slot_sig;
	p.slot_manifest_sig_len = slot_sig_len;
	p.image_path = image_path;
	p.image_sha256 = image_md;
	p.image_size = IMAGE_SIZE;
	p.base_path = o->base;
	p.base_sha256 = o->base != NULL ? base_md : NULL;
	p.base_size = blen;
	p.level = 3;
	p.chunk_size = 65536;
	p.key = o->key;
	p.pcr_policy = policy_json;
	p.pcr_policy_len = strlen(policy_json);
	p.end_of_support = o->eos;
	p.notes = "test release";
	pcrgate_errinfo_clear(&ei);
	if ((b.p = fx_bundle(&p, o->add, o->remove, &s, &b.len, &ei)) == NULL)
		fail_msg("create: %s", ei.message);
	return b;
}

/* Payload from memory. */
struct mem {
	const uint8_t *p;
	size_t left;
};

static int mem_read(void *ctx, uint8_t *out, size_t cap, size_t *got)
{
	struct mem *m = ctx;
	size_t n = m->left < cap ? m->left : cap;

	memcpy(out, m->p, n);
	m->p += n;
	m->left -= n;
	*got = n;
	return 0;
}

static int collect(void *ctx, const uint8_t *data, size_t len)
{
	struct buf *b = ctx;

	if (b->len + len > IMAGE_SIZE)
		return PCRGATE_ERR_LIMIT;
	memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* Verifies bundle bytes with policy (may be NULL) against store; returns the code, ei filled. */
static int verify(const struct buf *bb, const struct pcrgate_truststore *store, const struct pcrgate_bundle_policy *pol,
		  struct pcrgate_bundle **out, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle *b = NULL;
	int r;

	pcrgate_errinfo_clear(ei);
	if ((r = pcrgate_bundle_load(bb->p, bb->len, &b, ei)) == 0)
		r = pcrgate_bundle_verify(b, store, pol, ei);
	if (out != NULL && r == 0)
		*out = b;
	else
		pcrgate_bundle_free(&b);
	return r;
}

/* Verifies and streams; the image must come out exactly. Returns the stream's code. */
static int run(const struct buf *bb, const uint8_t *key, const char *base, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle *b = NULL;
	struct buf out = {malloc(IMAGE_SIZE), 0};
	struct mem m;
	uint64_t off;
	int r;

	if (verify(bb, ts, NULL, &b, ei) != 0)
		fail_msg("verify: %s", ei->message);
	off = pcrgate_bundle_payload_offset(b);
	m.p = bb->p + off;
	m.left = bb->len - off;
	pcrgate_errinfo_clear(ei);
	r = pcrgate_bundle_stream(b, mem_read, &m, key, base, collect, &out, ei);
	if (r == 0) {
		assert_int_equal(out.len, IMAGE_SIZE);
		assert_memory_equal(out.p, image, IMAGE_SIZE);
	}
	free(out.p);
	pcrgate_bundle_free(&b);
	return r;
}

#define assert_msg(ei, s)                                                                                      \
	do {                                                                                                   \
		if (strstr((ei).message, (s)) == NULL)                                                         \
			fail_msg("message \"%s\" lacks \"%s\"", (ei).message, (s));                           \
	} while (0)

static void test_full(void **state)
{
	struct opts o = {0};
	struct buf b = make(&o);
	struct pcrgate_bundle *bundle = NULL;
	pcrgate_errinfo ei;

	(void)state;
	assert_int_equal(run(&b, NULL, NULL, &ei), 0);
	/* A full payload ignores a base. */
	assert_int_equal(run(&b, NULL, wrong_path, &ei), 0);
	/* The fuzz target reads header, manifest and signature: the payload is left out. */
	assert_int_equal(pcrgate_bundle_load(b.p, b.len, &bundle, &ei), 0);
	test_seed_write("bundle", "full-plain", b.p, (size_t)pcrgate_bundle_payload_offset(bundle));
	pcrgate_bundle_free(&bundle);
	free(b.p);
}

static void test_encrypted(void **state)
{
	struct opts o = {.key = content_key};
	struct buf b = make(&o);
	uint8_t wrong[32];
	pcrgate_errinfo ei;

	(void)state;
	assert_int_equal(run(&b, content_key, NULL, &ei), 0);
	assert_int_equal(run(&b, NULL, NULL, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_msg(ei, "no content key");
	memcpy(wrong, content_key, 32);
	wrong[0] ^= 1;
	assert_int_equal(run(&b, wrong, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "chunk 0: decryption failed");
	free(b.p);
}

/* Bundles of one release share its content key; each has its own salt, chunk key and ciphertext. */
static void test_key_salt(void **state)
{
	struct opts o = {.key = content_key};
	struct buf a = make(&o), b = make(&o);
	struct pcrgate_bundle *ba = NULL, *bb = NULL;
	const uint8_t *pa, *pb;
	pcrgate_errinfo ei;

	(void)state;
	assert_int_equal(run(&a, content_key, NULL, &ei), 0);
	assert_int_equal(run(&b, content_key, NULL, &ei), 0);
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &ba, &ei), 0);
	assert_int_equal(pcrgate_bundle_load(b.p, b.len, &bb, &ei), 0);
	assert_int_equal(pcrgate_bundle_parse_unverified(ba, &ei), 0);
	assert_int_equal(pcrgate_bundle_parse_unverified(bb, &ei), 0);
	/* The same plaintext chunk 0 (same image, same level) under the same content key. */
	pa = a.p + pcrgate_bundle_payload_offset(ba);
	pb = b.p + pcrgate_bundle_payload_offset(bb);
	assert_true(memcmp(pa, pb, 64) != 0);
	assert_true(memcmp(pcrgate_bundle_manifest_chunk(pcrgate_bundle_get_manifest(ba), 0, NULL),
			   pcrgate_bundle_manifest_chunk(pcrgate_bundle_get_manifest(bb), 0, NULL), 32) != 0);
	pcrgate_bundle_free(&ba);
	pcrgate_bundle_free(&bb);
	free(a.p);
	free(b.p);
}

static void test_delta(void **state)
{
	struct opts o = {.key = content_key, .base = base_path};
	struct buf b = make(&o);
	pcrgate_errinfo ei;

	(void)state;
	assert_int_equal(run(&b, content_key, base_path, &ei), 0);
	assert_int_equal(run(&b, content_key, wrong_path, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "is not the image the delta was made against (sha256 differs)");
	assert_int_equal(run(&b, content_key, image_path, &ei), PCRGATE_ERR_VERIFY);
	assert_int_equal(run(&b, content_key, NULL, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_msg(ei, "delta and no base");
	free(b.p);
}

static void test_signatures(void **state)
{
	struct opts o = {0};
	struct buf b = make(&o);
	pcrgate_errinfo ei;
	char *p;

	(void)state;
	/* One byte of the manifest changed: still JSON, no longer what was signed. */
	p = memmem(b.p, b.len, "gw-100-4.2.0", 12);
	assert_non_null(p);
	p[0] = 'G';
	assert_int_equal(verify(&b, ts, NULL, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "manifest signature");
	free(b.p);

	o.certs[0] = other, o.keys[0] = other_key, o.n_signers = 1;
	b = make(&o);
	assert_int_equal(verify(&b, ts, NULL, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "manifest signature");
	free(b.p);

	o.certs[0] = revoked, o.keys[0] = revoked_key;
	b = make(&o);
	assert_int_equal(verify(&b, ts, NULL, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "manifest signature");
	assert_msg(ei, "the certificate is revoked by a CRL of the trust store");
	free(b.p);
}

static void test_policy(void **state)
{
	struct opts o = {0};
	struct buf b = make(&o);
	struct pcrgate_bundle_policy pol = {"acme,gw-100", 7};
	pcrgate_errinfo ei;

	(void)state;
	assert_int_equal(verify(&b, ts, &pol, NULL, &ei), 0);
	pol.min_security_version = 8;
	assert_int_equal(verify(&b, ts, &pol, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "security version: 7 is below the minimum 8");
	pol.min_security_version = 0;
	pol.compatible = "acme,gw-200";
	assert_int_equal(verify(&b, ts, &pol, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "compatible");
	free(b.p);
}

/* Stream bundle a's header, manifest and signature with payload bytes p (n); the stream's code. */
static int stream_with(const struct buf *a, const uint8_t *p, size_t n, const uint8_t *key, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle *b = NULL;
	struct buf out = {malloc(IMAGE_SIZE), 0};
	struct mem m = {p, n};
	int r;

	if (verify(a, ts, NULL, &b, ei) != 0)
		fail_msg("verify: %s", ei->message);
	pcrgate_errinfo_clear(ei);
	r = pcrgate_bundle_stream(b, mem_read, &m, key, NULL, collect, &out, ei);
	free(out.p);
	pcrgate_bundle_free(&b);
	return r;
}

static void test_payload_attacks(void **state)
{
	struct opts o = {0}, oe = {.key = content_key};
	struct buf a = make(&o), e = make(&oe);
	struct pcrgate_bundle *b = NULL;
	uint64_t off;
	pcrgate_errinfo ei;
	uint8_t *p;
	size_t n;

	(void)state;
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), 0);
	off = pcrgate_bundle_payload_offset(b);
	pcrgate_bundle_free(&b);
	n = a.len - off;
	p = malloc(n + 4096);
	/* Mix and match: the encrypted bundle's payload under the plain bundle's manifest. */
	assert_int_equal(pcrgate_bundle_load(e.p, e.len, &b, &ei), 0);
	assert_int_equal(stream_with(&a, e.p + pcrgate_bundle_payload_offset(b), e.len - pcrgate_bundle_payload_offset(b),
				     NULL, &ei),
			 PCRGATE_ERR_VERIFY);
	assert_msg(ei, "chunk 0 (payload bytes 0 to 65535): sha256 differs");
	pcrgate_bundle_free(&b);
	/* Endless data: one byte, or much more, after the payload. */
	memcpy(p, a.p + off, n);
	memset(p + n, 0, 4096);
	assert_int_equal(stream_with(&a, p, n + 1, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "data after the manifest's stored_size");
	assert_int_equal(stream_with(&a, p, n + 4096, NULL, &ei), PCRGATE_ERR_VERIFY);
	/* Truncated payload. */
	assert_int_equal(stream_with(&a, p, n - 1, NULL, &ei), PCRGATE_ERR_FORMAT);
	assert_msg(ei, "payload: truncated in chunk");
	/* A chunk tampered mid-stream. */
	p[2 * 65536 + 10] ^= 0x40;
	assert_int_equal(stream_with(&a, p, n, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "chunk 2 (payload bytes 131072 to 196607): sha256 differs");
	free(p);
	/* The header's payload length disagrees with the signed stored_size. */
	a.p[27] ^= 1;
	assert_int_equal(verify(&a, ts, NULL, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "payload length");
	/* An unverified bundle is never streamed. */
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), 0);
	assert_int_equal(pcrgate_bundle_parse_unverified(b, &ei), 0);
	assert_int_equal(pcrgate_bundle_stream(b, mem_read, &(struct mem){a.p, a.len}, NULL, NULL, NULL, NULL, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_msg(ei, "not been verified");
	pcrgate_bundle_free(&b);
	free(a.p);
	free(e.p);
}

static void put_u32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24), p[1] = (uint8_t)(v >> 16), p[2] = (uint8_t)(v >> 8), p[3] = (uint8_t)v;
}

static void test_header(void **state)
{
	struct opts o = {0};
	struct buf a = make(&o);
	struct pcrgate_bundle *b = NULL;
	uint8_t h[PCRGATE_BUNDLE_HEADER_SIZE];
	uint32_t mlen;
	pcrgate_errinfo ei;

	(void)state;
	memcpy(h, a.p, sizeof(h));
	mlen = ((uint32_t)h[12] << 24) | ((uint32_t)h[13] << 16) | ((uint32_t)h[14] << 8) | h[15];
	assert_int_equal(pcrgate_bundle_load(a.p, 27, &b, &ei), PCRGATE_ERR_FORMAT);
	assert_msg(ei, "truncated header");
	assert_int_equal(pcrgate_bundle_load(a.p, 28 + mlen - 1, &b, &ei), PCRGATE_ERR_FORMAT);
	assert_msg(ei, "truncated manifest");
	assert_int_equal(pcrgate_bundle_load(a.p, 28 + mlen + 5, &b, &ei), PCRGATE_ERR_FORMAT);
	assert_msg(ei, "truncated signature");
	a.p[0] = 'X';
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), PCRGATE_ERR_FORMAT);
	assert_msg(ei, "bad magic");
	a.p[0] = 'P';
	put_u32(a.p + 8, 2);
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), PCRGATE_ERR_UNSUPPORTED);
	assert_true(ei.has_offset && ei.offset == 8);
	put_u32(a.p + 8, 1);
	put_u32(a.p + 12, PCRGATE_BUNDLE_MANIFEST_MAX + 1);
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), PCRGATE_ERR_LIMIT);
	assert_true(ei.has_offset && ei.offset == 12);
	put_u32(a.p + 12, mlen);
	put_u32(a.p + 16, 0);
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), PCRGATE_ERR_LIMIT);
	assert_msg(ei, "signature length 0");
	put_u32(a.p + 16, PCRGATE_BUNDLE_SIG_MAX + 1);
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), PCRGATE_ERR_LIMIT);
	put_u32(a.p + 16, 0);
	put_u32(a.p + 20, 0xffffffffu);
	put_u32(a.p + 16, 1);
	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, &ei), PCRGATE_ERR_LIMIT);
	assert_msg(ei, "payload length");
	test_seed_write("bundle", "header-caps", a.p, a.len > 4096 ? 4096 : a.len);
	free(a.p);
}

/* The manifest of a good bundle, as a JSON document to change. */
static json_t *good_manifest(char **text)
{
	struct opts o = {0};
	struct buf a = make(&o);
	struct pcrgate_bundle *b = NULL;
	const uint8_t *m;
	size_t len;
	json_t *doc;

	assert_int_equal(pcrgate_bundle_load(a.p, a.len, &b, NULL), 0);
	m = pcrgate_bundle_manifest_bytes(b, &len);
	doc = json_loadb((const char *)m, len, 0, NULL);
	assert_non_null(doc);
	if (text != NULL) {
		*text = malloc(len + 1);
		memcpy(*text, m, len);
		(*text)[len] = '\0';
	}
	pcrgate_bundle_free(&b);
	free(a.p);
	return doc;
}

/* Parses doc after path (a.b) was set to v (NULL: removed); expects code and a message part. */
static void expect(const json_t *good, const char *obj, const char *key, json_t *v, int code, const char *msg)
{
	json_t *doc = json_deep_copy(good), *o = obj ? json_object_get(doc, obj) : doc;
	struct pcrgate_bundle_manifest *m = NULL;
	pcrgate_errinfo ei;
	char *text;

	assert_non_null(o);
	if (v != NULL)
		json_object_set_new(o, key, v);
	else
		json_object_del(o, key);
	text = json_dumps(doc, JSON_COMPACT);
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_bundle_manifest_parse((const uint8_t *)text, strlen(text), &m, &ei) != code)
		fail_msg("%s.%s: got %d (%s), want %d", obj ? obj : "", key, ei.code, ei.message, code);
	if (strstr(ei.message, msg) == NULL)
		fail_msg("%s.%s: message \"%s\" lacks \"%s\"", obj ? obj : "", key, ei.message, msg);
	pcrgate_bundle_manifest_free(&m);
	free(text);
	json_decref(doc);
}

/* Base64 of x's DER, as a manifest's add_roots holds it (malloc'd). */
static char *der_b64(X509 *x)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der);
	char *out = n > 0 ? malloc(4 * ((size_t)n + 2) / 3 + 1) : NULL;

	assert_non_null(out);
	EVP_EncodeBlock((unsigned char *)out, der, n);
	OPENSSL_free(der);
	return out;
}

/* A self-signed version 1 certificate: no extensions, so no basicConstraints CA:TRUE. */
static X509 *v1_cert(EVP_PKEY *key)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	assert_true(x != NULL && name != NULL && X509_set_version(x, X509_VERSION_1) == 1 &&
		    ASN1_INTEGER_set(X509_get_serialNumber(x), 7) == 1 &&
		    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"v1 root", -1, -1, 0) ==
			    1 &&
		    X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, name) == 1 &&
		    X509_gmtime_adj(X509_getm_notBefore(x), -86400) != NULL &&
		    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL && X509_set_pubkey(x, key) == 1 &&
		    X509_sign(x, key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

/*
 * An added root must be what the trust store takes as a root (a v1 certificate passed
 * X509_check_ca here, and was refused only when the commit applied it).
 */
static void test_manifest_added_root(void **state)
{
	json_t *good = good_manifest(NULL);
	X509 *v1 = v1_cert(other_key);
	X509 *mid = fx_cert("bundle intermediate", other_key, root, root_key, FX_INTERMEDIATE, 9, -1, 365);
	char *b64;

	(void)state;
	assert_non_null(mid);
	b64 = der_b64(v1);
	expect(good, NULL, "trust_update", json_pack("{s:[s]}", "add_roots", b64), PCRGATE_ERR_FORMAT,
	       "\"trust_update.add_roots[0]\" is not a CA (basicConstraints CA:TRUE)");
	free(b64);
	b64 = der_b64(signer);
	expect(good, NULL, "trust_update", json_pack("{s:[s]}", "add_roots", b64), PCRGATE_ERR_FORMAT,
	       "is not a CA (basicConstraints CA:TRUE)");
	free(b64);
	b64 = der_b64(mid);
	expect(good, NULL, "trust_update", json_pack("{s:[s]}", "add_roots", b64), PCRGATE_ERR_FORMAT,
	       "is not a self-signed root");
	free(b64);
	X509_free(v1);
	X509_free(mid);
	json_decref(good);
}

static void test_manifest_members(void **state)
{
	struct pcrgate_bundle_manifest *m = NULL;
	char *text, *dup, big[PCRGATE_BUNDLE_NOTES_MAX + 2];
	json_t *good = good_manifest(&text), *chunks;
	pcrgate_errinfo ei;

	(void)state;
	assert_int_equal(pcrgate_bundle_manifest_parse((const uint8_t *)text, strlen(text), &m, &ei), 0);
	assert_string_equal(pcrgate_bundle_manifest_release(m), "gw-100-4.2.0");
	assert_int_equal(pcrgate_bundle_manifest_image_size(m), IMAGE_SIZE);
	assert_int_equal(pcrgate_bundle_manifest_slot(m)->n_images, 2);
	assert_string_equal(pcrgate_bundle_manifest_notes(m), "test release");
	assert_null(pcrgate_bundle_manifest_end_of_support(m));
	pcrgate_bundle_manifest_free(&m);
	test_seed_write("bundle", "manifest", text, strlen(text));

	expect(good, NULL, "extra", json_true(), PCRGATE_ERR_FORMAT, "unknown member \"extra\"");
	expect(good, NULL, "release", NULL, PCRGATE_ERR_FORMAT, "member \"release\" is missing");
	expect(good, NULL, "release", json_string("a b"), PCRGATE_ERR_FORMAT, "member \"release\" has ' '");
	expect(good, NULL, "format", json_string("zip"), PCRGATE_ERR_FORMAT, "member \"format\"");
	expect(good, NULL, "format_version", json_integer(2), PCRGATE_ERR_UNSUPPORTED, "format_version");
	expect(good, NULL, "security_version", json_string("7"), PCRGATE_ERR_FORMAT, "\"security_version\" is not an integer");
	expect(good, NULL, "security_version", json_integer(8), PCRGATE_ERR_FORMAT, "differs from the slot manifest");
	expect(good, NULL, "compatible", json_string("acme,gw-200"), PCRGATE_ERR_FORMAT, "\"compatible\" (acme,gw-200) differs");
	expect(good, NULL, "version", json_string("4.2.1"), PCRGATE_ERR_FORMAT, "\"version\" (4.2.1) differs");
	expect(good, NULL, "slot_manifest", json_string("pcrgate-manifest 2\n"), PCRGATE_ERR_FORMAT,
	       "\"slot_manifest\": at byte");
	expect(good, NULL, "slot_manifest_sig", json_string("!!"), PCRGATE_ERR_FORMAT, "slot_manifest_sig");
	expect(good, NULL, "end_of_support", json_string("2027-02-29"), PCRGATE_ERR_FORMAT, "end_of_support");
	expect(good, NULL, "notes", json_integer(1), PCRGATE_ERR_FORMAT, "\"notes\" is not a string");
	memset(big, 'n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	expect(good, NULL, "notes", json_string(big), PCRGATE_ERR_LIMIT, "\"notes\" holds 16385 bytes");
	expect(good, NULL, "trust_update", json_object(), PCRGATE_ERR_FORMAT, "neither adds nor removes");
	expect(good, NULL, "trust_update", json_pack("{s:[s]}", "add_roots", "AAAA"), PCRGATE_ERR_FORMAT,
	       "trust_update.add_roots[0]");
	expect(good, NULL, "trust_update", json_pack("{s:[s]}", "remove_roots", "00"), PCRGATE_ERR_FORMAT,
	       "trust_update.remove_roots[0]");
	expect(good, "image", "size", json_integer(IMAGE_SIZE + 1), PCRGATE_ERR_FORMAT, "\"image.size\"");
	expect(good, "image", "sha256", json_string("AB"), PCRGATE_ERR_FORMAT, "\"image.sha256\" is not a sha256");
	expect(good, "image", "extra", json_null(), PCRGATE_ERR_FORMAT, "unknown member \"extra\" in \"image\"");
	expect(good, "payload", "type", json_string("patch"), PCRGATE_ERR_FORMAT, "payload.type");
	expect(good, "payload", "compression", json_string("xz"), PCRGATE_ERR_FORMAT, "payload.compression");
	expect(good, "payload", "base", json_pack("{s:i,s:s}", "size", 1, "sha256", "00"), PCRGATE_ERR_FORMAT,
	       "\"payload.base\" is present in a full payload");
	expect(good, "payload", "chunk_size", json_integer(65537), PCRGATE_ERR_FORMAT, "not a power of two");
	expect(good, "payload", "chunk_size", json_integer(32768), PCRGATE_ERR_FORMAT, "payload.chunk_size");
	expect(good, "payload", "stored_size", json_integer(1), PCRGATE_ERR_FORMAT, "makes 1 chunks");
	expect(good, "payload", "encryption", json_string("rot13"), PCRGATE_ERR_FORMAT, "payload.encryption");
	/* key_salt: required with encryption (the good manifest has none), refused without. */
	expect(good, "payload", "encryption", json_string("aes-256-gcm"), PCRGATE_ERR_FORMAT,
	       "member \"payload.key_salt\" is missing (required with aes-256-gcm)");
	expect(good, "payload", "key_salt", json_string("00000000000000000000000000000000000000000000000000000000000000"
							"00"),
	       PCRGATE_ERR_FORMAT, "member \"payload.key_salt\" is present in an unencrypted payload");
	expect(good, "payload", "chunks", json_string("x"), PCRGATE_ERR_FORMAT, "\"payload.chunks\" is not an array");
	chunks = json_deep_copy(json_object_get(json_object_get(good, "payload"), "chunks"));
	json_array_set_new(chunks, 1, json_string("zz"));
	expect(good, "payload", "chunks", chunks, PCRGATE_ERR_FORMAT, "payload.chunks[1]");
	expect(good, "pcr_policy", "format", json_string("x"), PCRGATE_ERR_FORMAT, "pcr_policy.format");
	expect(good, "pcr_policy", "counter", json_pack("{s:i}", "security_version", 6), PCRGATE_ERR_FORMAT,
	       "pcr_policy.counter.security_version");

	/* A member twice, trailing bytes, not an object, too big. */
	dup = malloc(strlen(text) + 32);
	sprintf(dup, "{\"release\":\"x\",%s", text + 1);
	assert_int_equal(pcrgate_bundle_manifest_parse((const uint8_t *)dup, strlen(dup), &m, &ei), PCRGATE_ERR_FORMAT);
	assert_msg(ei, "duplicate");
	sprintf(dup, "%s ]", text);
	assert_int_equal(pcrgate_bundle_manifest_parse((const uint8_t *)dup, strlen(dup), &m, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(pcrgate_bundle_manifest_parse((const uint8_t *)"[1]", 3, &m, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(pcrgate_bundle_manifest_parse((const uint8_t *)text, PCRGATE_BUNDLE_MANIFEST_MAX + 1, &m, &ei),
			 PCRGATE_ERR_LIMIT);
	free(dup);
	free(text);
	json_decref(good);
}

static void test_partial(void **state)
{
	struct opts o = {.key = content_key};
	struct buf a = make(&o);
	struct pcrgate_bundle *b = NULL;
	uint64_t off, bytes = 0;
	size_t chunks = 0;
	pcrgate_errinfo ei;
	FILE *f;

	(void)state;
	assert_int_equal(verify(&a, ts, NULL, &b, &ei), 0);
	off = pcrgate_bundle_payload_offset(b);
	f = tmpfile();
	fwrite(a.p + off, 1, 2 * (65536 + 16) + 1000, f);
	rewind(f);
	assert_int_equal(pcrgate_bundle_check_partial(pcrgate_bundle_get_manifest(b), f, &chunks, &bytes, &ei), 0);
	assert_int_equal(chunks, 2);
	assert_int_equal(bytes, 2 * (65536 + 16));
	/* One bit of the second chunk flipped: only the first one still counts. */
	fseek(f, 65536 + 20, SEEK_SET);
	fputc(a.p[off + 65536 + 20] ^ 1, f);
	rewind(f);
	assert_int_equal(pcrgate_bundle_check_partial(pcrgate_bundle_get_manifest(b), f, &chunks, &bytes, &ei), 0);
	assert_int_equal(chunks, 1);
	assert_int_equal(bytes, 65536 + 16);
	fclose(f);
	pcrgate_bundle_free(&b);
	free(a.p);
}

static void test_rotation(void **state)
{
	struct opts o = {.add = root2};
	struct pcrgate_bundle *b = NULL;
	pcrgate_errinfo ei;
	struct buf a;

	(void)state;
	/* Adding a root needs the new root's signature too. */
	a = make(&o);
	assert_int_equal(verify(&a, ts, NULL, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "trust_update: add_roots[0] did not sign the manifest");
	free(a.p);
	o.certs[0] = signer, o.keys[0] = signer_key, o.certs[1] = signer2, o.keys[1] = signer2_key, o.n_signers = 2;
	a = make(&o);
	assert_int_equal(verify(&a, ts, NULL, &b, &ei), 0);
	assert_int_equal(pcrgate_bundle_trust_update_authorized(b), 1);
	assert_int_equal(pcrgate_bundle_manifest_roots_added(pcrgate_bundle_get_manifest(b)), 1);
	pcrgate_bundle_free(&b);
	free(a.p);
	/* Removing the only root the signers chain to is refused; a root that stays may remove another. */
	o.add = NULL;
	o.remove = root;
	a = make(&o);
	assert_int_equal(verify(&a, ts, NULL, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_msg(ei, "stays trusted");
	free(a.p);
	o.remove = root2;
	o.n_signers = 1;
	a = make(&o);
	assert_int_equal(verify(&a, ts_both, NULL, &b, &ei), 0);
	assert_int_equal(pcrgate_bundle_trust_update_authorized(b), 1);
	pcrgate_bundle_free(&b);
	free(a.p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_encrypted),
		cmocka_unit_test(test_key_salt),
		cmocka_unit_test(test_delta),
		cmocka_unit_test(test_signatures),
		cmocka_unit_test(test_policy),
		cmocka_unit_test(test_payload_attacks),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_manifest_members),
		cmocka_unit_test(test_manifest_added_root),
		cmocka_unit_test(test_partial),
		cmocka_unit_test(test_rotation),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
