/*
 * Unit tests for update payloads (lib/payload.h): full and delta round trips fed in odd piece
 * sizes, a delta against the wrong base, endless, truncated and corrupted payloads, a wrong
 * expected size, frames that ask for too much memory, and the slot image. Writes seeds for
 * tests/fuzz/fuzz_payload.
 */
#include "config.h"

#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <zstd.h>

#include "payload.h"
#include "tests/fuzz/fuzz_payload.h"
#include "tests/unit/seed.h"

/* A scratch directory per test run, removed at the end. */
static char scratch[64];

static void path_in(char *out, size_t cap, const char *name)
{
	assert_true((size_t)snprintf(out, cap, "%s/%s", scratch, name) < cap);
}

static void write_file(const char *path, const uint8_t *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	if (len > 0)
		assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

/* xorshift: reproducible pseudo-random bytes. */
static void fill_random(uint8_t *p, size_t len, uint64_t seed)
{
	uint64_t x = seed | 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x >> 24);
	}
}

/* Structured data: text-like records with counters, as firmware tables and strings are. */
static void fill_structured(uint8_t *p, size_t len, unsigned variant)
{
	size_t off = 0;
	unsigned n = 0;

	while (off < len) {
		char rec[96];
		int k = snprintf(rec, sizeof(rec), "record %u: value=%08x flags=%u name=module_%u\n", n,
				 n * 2654435761u + variant, n % 7, n / 3);

		for (int i = 0; i < k && off < len; i++)
			p[off++] = (uint8_t)rec[i];
		n++;
	}
}

/* Encodes a buffer through files, as the tools do; returns the payload (malloc'd). */
static uint8_t *encode(const uint8_t *image, size_t len, const uint8_t *base, size_t base_len, int level,
		       size_t *out_len)
{
	char ipath[128], bpath[128];
	uint64_t n = 0;
	uint8_t *buf;
	FILE *f;
	long sz;

	path_in(ipath, sizeof(ipath), "image");
	path_in(bpath, sizeof(bpath), "base");
	write_file(ipath, image, len);
	if (base != NULL)
		write_file(bpath, base, base_len);
	assert_non_null(f = tmpfile());
	assert_int_equal(pcrgate_payload_encode(ipath, base != NULL ? bpath : NULL, level, f, &n, NULL), 0);
	sz = ftell(f);
	assert_int_equal((uint64_t)sz, n);
	rewind(f);
	assert_non_null(buf = malloc((size_t)n + 1));
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*out_len = (size_t)n;
	return buf;
}

struct collect {
	uint8_t *data;
	size_t len, cap;
	size_t max_seen; /* most bytes ever handed over: never past cap */
};

static int collect_sink(void *ctx, const uint8_t *p, size_t len)
{
	struct collect *c = ctx;

	if (len > c->cap - c->len)
		return PCRGATE_ERR_LIMIT;
	memcpy(c->data + c->len, p, len);
	c->len += len;
	if (c->len > c->max_seen)
		c->max_seen = c->len;
	return 0;
}

/*
 * Decodes payload in pieces of `piece` bytes (0: one call) against the base file written by
 * encode() (or none) into c (capacity: expected + 1); returns the first error, ei filled.
 */
static int decode(const uint8_t *payload, size_t len, int delta, uint64_t expected, size_t piece, struct collect *c,
		  pcrgate_errinfo *ei)
{
	struct pcrgate_payload_decoder *d = NULL;
	char bpath[128];
	int r;

	path_in(bpath, sizeof(bpath), "base");
	pcrgate_errinfo_clear(ei);
	c->len = 0;
	c->max_seen = 0;
	if ((r = pcrgate_payload_decoder_new(&d, delta ? bpath : NULL, NULL, expected, ei)) != 0)
		return r;
	for (size_t off = 0; off < len;) {
		size_t n = piece == 0 || len - off < piece ? len - off : piece;

		if ((r = pcrgate_payload_decoder_feed(d, payload + off, n, collect_sink, c, ei)) != 0)
			goto out;
		off += n;
	}
	r = pcrgate_payload_decoder_finish(d, ei);
out:
	pcrgate_payload_decoder_free(&d);
	assert_null(d);
	return r;
}

static void collect_init(struct collect *c, size_t cap)
{
	c->cap = cap;
	c->len = 0;
	c->max_seen = 0;
	assert_non_null(c->data = malloc(cap > 0 ? cap : 1));
}

static void round_trip(const uint8_t *image, size_t len, const uint8_t *base, size_t base_len, int level,
		       size_t *payload_len)
{
	static const size_t pieces[] = {0, 1, 7, 4093, 65537, 131072};
	struct collect c;
	pcrgate_errinfo ei;
	uint8_t *payload;
	size_t plen;

	payload = encode(image, len, base, base_len, level, &plen);
	collect_init(&c, len + 1);
	for (size_t i = 0; i < sizeof(pieces) / sizeof(pieces[0]); i++) {
		/* One byte at a time is slow under sanitizers: only on small payloads. */
		if (pieces[i] == 1 && plen > 20000)
			continue;
		assert_int_equal(decode(payload, plen, base != NULL, len, pieces[i], &c, &ei), 0);
		assert_int_equal(c.len, len);
		assert_memory_equal(c.data, image, len);
	}
	free(c.data);
	free(payload);
	if (payload_len != NULL)
		*payload_len = plen;
}

/* A base and a new image made from it: edits, an insertion, a deletion, appended data. */
static void make_pair(uint8_t **base, size_t *base_len, uint8_t **image, size_t *image_len)
{
	size_t bl = 600000, il = bl + 20000;
	uint8_t *b = malloc(bl), *im = malloc(il);

	assert_non_null(b);
	assert_non_null(im);
	fill_random(b, bl / 2, 7);
	fill_structured(b + bl / 2, bl - bl / 2, 1);
	/* image = base[0..100000) + 5000 new + base[100000..400000) (with edits) + base[450000..) + 65000 new */
	memcpy(im, b, 100000);
	fill_random(im + 100000, 5000, 99);
	memcpy(im + 105000, b + 100000, 300000);
	for (size_t i = 105000; i < 405000; i += 9973)
		im[i] ^= 0x5a;
	memcpy(im + 405000, b + 450000, bl - 450000);
	fill_random(im + 405000 + (bl - 450000), il - 405000 - (bl - 450000), 123);
	*base = b;
	*base_len = bl;
	*image = im;
	*image_len = il;
}

static void test_full_round_trip(void **state)
{
	uint8_t *rnd = malloc(300000), *txt = malloc(1000000), one = 0x42;
	size_t plen;

	(void)state;
	assert_non_null(rnd);
	assert_non_null(txt);
	fill_random(rnd, 300000, 1);
	fill_structured(txt, 1000000, 0);
	round_trip(rnd, 300000, NULL, 0, 3, NULL);
	round_trip(txt, 1000000, NULL, 0, 0, &plen);
	assert_true(plen < 1000000 / 4);
	round_trip(&one, 1, NULL, 0, 1, NULL);
	free(rnd);
	free(txt);
}

static void test_delta_round_trip(void **state)
{
	uint8_t *base, *image;
	size_t bl, il, dlen, flen;

	(void)state;
	make_pair(&base, &bl, &image, &il);
	round_trip(image, il, base, bl, 0, &dlen);
	round_trip(image, il, NULL, 0, 19, &flen);
	/* The delta carries little more than the new bytes (70000 random ones). */
	assert_true(dlen < 80000);
	assert_true(dlen * 3 < flen);
	round_trip(image, il, base, bl, 3, NULL);
	free(base);
	free(image);
}

static void sha256(const uint8_t *p, size_t len, uint8_t out[32])
{
	unsigned n = 0;

	assert_int_equal(EVP_Digest(p, len, out, &n, EVP_sha256(), NULL), 1);
}

static void test_delta_wrong_base(void **state)
{
	uint8_t *base, *image, *payload, *other, want[32], got[32];
	size_t bl, il, plen;
	struct collect c;
	pcrgate_errinfo ei;
	char bpath[128];
	int r;

	(void)state;
	make_pair(&base, &bl, &image, &il);
	payload = encode(image, il, base, bl, 3, &plen);
	collect_init(&c, il + 1);
	path_in(bpath, sizeof(bpath), "base");
	sha256(image, il, want);

	/* Same size, one byte different in a region the image copies. */
	assert_non_null(other = malloc(bl));
	memcpy(other, base, bl);
	other[200000] ^= 1;
	write_file(bpath, other, bl);
	r = decode(payload, plen, 1, il, 4093, &c, &ei);
	assert_int_equal(r, PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "base"));
	/* What came out before the checksum failed is not the image: the caller's digest says so too. */
	sha256(c.data, c.len, got);
	assert_false(c.len == il && memcmp(got, want, 32) == 0);

	/* Another base altogether, and a shorter one. */
	fill_random(other, bl, 4242);
	write_file(bpath, other, bl);
	assert_int_not_equal(decode(payload, plen, 1, il, 0, &c, &ei), 0);
	write_file(bpath, base, 1000);
	assert_int_not_equal(decode(payload, plen, 1, il, 0, &c, &ei), 0);
	assert_true(ei.message[0] != '\0');

	/* A delta decoded as a full payload refers to bytes that are not there. */
	write_file(bpath, base, bl);
	assert_int_not_equal(decode(payload, plen, 0, il, 0, &c, &ei), 0);
	assert_non_null(strstr(ei.message, "corrupt"));

	/* With the base's expected sha256 the decoder refuses another base before decoding a byte. */
	{
		struct pcrgate_payload_decoder *d = NULL;
		uint8_t base_md[32];

		sha256(base, bl, base_md);
		assert_int_equal(pcrgate_payload_decoder_new(&d, bpath, base_md, il, &ei), 0);
		pcrgate_payload_decoder_free(&d);
		base_md[0] ^= 1;
		assert_int_equal(pcrgate_payload_decoder_new(&d, bpath, base_md, il, &ei), PCRGATE_ERR_VERIFY);
		assert_non_null(strstr(ei.message, "sha256 differs"));
		assert_null(d);
	}

	free(other);
	free(c.data);
	free(payload);
	free(base);
	free(image);
}

/* Compresses with zstd directly, for frames our encoder never makes. */
static uint8_t *zstd_frame(const uint8_t *src, size_t len, int wlog, int content_size, size_t *out_len)
{
	ZSTD_CCtx *cctx = ZSTD_createCCtx();
	size_t cap = ZSTD_compressBound(len) + 64, n;
	uint8_t *out = malloc(cap);
	ZSTD_inBuffer in = {src, len, 0};
	ZSTD_outBuffer o;

	assert_non_null(cctx);
	assert_non_null(out);
	o.dst = out;
	o.size = cap;
	o.pos = 0;
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, wlog)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, content_size)));
	assert_false(ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)));
	/* Streaming without a pledged size leaves the content size out of the header. */
	if (content_size)
		assert_false(ZSTD_isError(ZSTD_CCtx_setPledgedSrcSize(cctx, len)));
	assert_false(ZSTD_isError(ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_continue)));
	do {
		n = ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_end);
		assert_false(ZSTD_isError(n));
	} while (n != 0);
	ZSTD_freeCCtx(cctx);
	*out_len = o.pos;
	return out;
}

static void test_endless(void **state)
{
	size_t big = 4 << 20, plen, flen;
	uint8_t *zeros = calloc(1, big), *payload, *skippable;
	struct collect c;
	pcrgate_errinfo ei;

	(void)state;
	assert_non_null(zeros);
	/* 4 MiB of zeros without a content size, decoded as a 64 KiB image: refused, the sink
	 * never sees a byte past the image. */
	payload = zstd_frame(zeros, big, 16, 0, &plen);
	collect_init(&c, big);
	assert_int_equal(decode(payload, plen, 0, 65536, 0, &c, &ei), PCRGATE_ERR_LIMIT);
	assert_true(c.max_seen <= 65536);
	assert_non_null(strstr(ei.message, "more than the image's 65536 bytes"));
	assert_int_equal(decode(payload, plen, 0, 65536, 3, &c, &ei), PCRGATE_ERR_LIMIT);
	assert_true(c.max_seen <= 65536);
	free(payload);

	/* Input that produces nothing (skippable frames) cannot go on for ever either. */
	flen = 1 << 20;
	assert_non_null(skippable = calloc(1, flen));
	for (size_t off = 0; off + 16 <= flen; off += 16) {
		const uint8_t frame[8] = {0x50, 0x2a, 0x4d, 0x18, 8, 0, 0, 0};

		memcpy(skippable + off, frame, sizeof(frame));
	}
	assert_int_equal(decode(skippable, flen, 0, 1000, 4096, &c, &ei), PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "longer than"));
	free(skippable);
	free(c.data);
	free(zeros);
}

static void test_truncated(void **state)
{
	uint8_t *image = malloc(200000), *payload;
	size_t plen;
	struct collect c;
	pcrgate_errinfo ei;
	struct pcrgate_payload_decoder *d = NULL;

	(void)state;
	assert_non_null(image);
	fill_structured(image, 100000, 5);
	fill_random(image + 100000, 100000, 5);
	payload = encode(image, 200000, NULL, 0, 3, &plen);
	collect_init(&c, 200001);
	for (size_t cut = 0; cut < plen; cut += cut < 64 ? 1 : 997) {
		int r = decode(payload, cut, 0, 200000, 509, &c, &ei);

		assert_int_equal(r, PCRGATE_ERR_FORMAT);
		assert_non_null(strstr(ei.message, "truncated"));
	}
	assert_int_equal(decode(payload, plen - 1, 0, 200000, 0, &c, &ei), PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	assert_int_equal(ei.offset, plen - 1);
	/* Nothing fed at all. */
	assert_int_equal(pcrgate_payload_decoder_new(&d, NULL, NULL, 10, &ei), 0);
	assert_int_equal(pcrgate_payload_decoder_finish(d, &ei), PCRGATE_ERR_FORMAT);
	pcrgate_payload_decoder_free(&d);
	pcrgate_payload_decoder_free(&d);
	free(c.data);
	free(payload);
	free(image);
}

/* Every single-byte change of a small payload is refused, or yields the image exactly. */
static void test_corrupted(void **state)
{
	uint8_t base[20000], image[20000], *payload, *bad;
	size_t plen;
	struct collect c;
	pcrgate_errinfo ei;
	unsigned refused = 0;

	(void)state;
	fill_structured(base, sizeof(base), 3);
	memcpy(image, base, sizeof(image));
	fill_random(image + 5000, 300, 77);
	collect_init(&c, sizeof(image) + 1);
	for (int delta = 0; delta < 2; delta++) {
		payload = encode(image, sizeof(image), delta ? base : NULL, sizeof(base), 19, &plen);
		assert_non_null(bad = malloc(plen));
		for (size_t pos = 0; pos < plen; pos++) {
			for (unsigned bit = 0; bit < 8; bit += 3) {
				memcpy(bad, payload, plen);
				bad[pos] ^= (uint8_t)(1u << bit);
				if (decode(bad, plen, delta, sizeof(image), 0, &c, &ei) != 0) {
					assert_true(ei.message[0] != '\0');
					refused++;
					continue;
				}
				assert_int_equal(c.len, sizeof(image));
				assert_memory_equal(c.data, image, sizeof(image));
			}
		}
		free(bad);
		free(payload);
	}
	assert_true(refused > 0);
	free(c.data);
}

static void test_expected_size(void **state)
{
	uint8_t *image = malloc(100000), *payload, *two;
	char bpath[128];
	size_t plen;
	struct collect c;
	pcrgate_errinfo ei;
	struct pcrgate_payload_decoder *d = NULL;

	(void)state;
	assert_non_null(image);
	fill_structured(image, 100000, 9);
	payload = encode(image, 100000, NULL, 0, 3, &plen);
	collect_init(&c, 200000);
	/* Smaller: refused at the first byte too many, which never reaches the sink. */
	assert_int_equal(decode(payload, plen, 0, 99999, 4093, &c, &ei), PCRGATE_ERR_LIMIT);
	assert_true(c.max_seen <= 99999);
	/* Larger: the frame ends early. */
	assert_int_equal(decode(payload, plen, 0, 100001, 4093, &c, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "produces 100000 bytes, the image has 100001"));
	/* Out of range. */
	assert_int_equal(pcrgate_payload_decoder_new(&d, NULL, NULL, 0, &ei), PCRGATE_ERR_LIMIT);
	assert_int_equal(pcrgate_payload_decoder_new(&d, NULL, NULL, PCRGATE_PAYLOAD_IMAGE_MAX + 1, &ei), PCRGATE_ERR_LIMIT);
	assert_null(d);
	/* Several frames make a full payload; a delta is one frame. */
	assert_non_null(two = malloc(2 * plen));
	memcpy(two, payload, plen);
	memcpy(two + plen, payload, plen);
	assert_int_equal(decode(two, 2 * plen, 0, 200000, 777, &c, &ei), 0);
	assert_memory_equal(c.data + 100000, image, 100000);
	path_in(bpath, sizeof(bpath), "base");
	write_file(bpath, image, 10);
	assert_int_equal(decode(two, 2 * plen, 1, 200000, 777, &c, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "after the end of the delta frame"));
	free(two);
	free(c.data);
	free(payload);
	free(image);
}

/* Frames that ask for a window or buffer beyond what the sizes justify are refused. */
static void test_memory(void **state)
{
	uint8_t *data = malloc(1 << 20), *payload;
	size_t plen;
	struct collect c;
	pcrgate_errinfo ei;
	uint64_t ceil;

	(void)state;
	assert_non_null(data);
	fill_random(data, 1 << 20, 11);
	collect_init(&c, (1 << 20) + 1);
	/* A window of 2^24 without a content size, for an image of 1 MiB: too large a window. */
	payload = zstd_frame(data, 1 << 20, 24, 0, &plen);
	assert_int_equal(decode(payload, plen, 0, 1 << 20, 0, &c, &ei), PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "window"));
	free(payload);
	/* The same with a content size decodes, in a buffer of the image's size. */
	payload = zstd_frame(data, 1 << 20, 24, 1, &plen);
	assert_int_equal(decode(payload, plen, 0, 1 << 20, 0, &c, &ei), 0);
	free(payload);
	/* The ceiling: the window buffer (the image, here) plus well under 1 MiB. */
	ceil = pcrgate_payload_decoder_ceiling(1 << 20, 0);
	assert_true(ceil > 1 << 20);
	assert_true(ceil < (1 << 20) + (1 << 20));
	ceil = pcrgate_payload_decoder_ceiling((uint64_t)256 << 20, 0);
	assert_true(ceil > (uint64_t)128 << 20 && ceil < ((uint64_t)129 << 20));
	assert_int_equal(pcrgate_payload_decoder_ceiling(0, 0), 0);
	assert_int_equal(pcrgate_payload_decoder_ceiling(((uint64_t)1 << 30) + 1, (uint64_t)1 << 30), 0);
	assert_true(pcrgate_payload_decoder_ceiling((uint64_t)1 << 30, (uint64_t)1 << 30) > 0);
	free(c.data);
	free(data);
}

static void test_arguments(void **state)
{
	struct pcrgate_payload_decoder *d = NULL;
	char ipath[128], bpath[128];
	pcrgate_errinfo ei;
	uint64_t n;
	FILE *f = tmpfile();
	int fd;

	(void)state;
	assert_non_null(f);
	path_in(ipath, sizeof(ipath), "image");
	path_in(bpath, sizeof(bpath), "nonexistent");
	write_file(ipath, (const uint8_t *)"x", 1);
	assert_int_equal(pcrgate_payload_encode(ipath, NULL, 23, f, &n, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_payload_encode(ipath, NULL, -1, f, &n, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_payload_encode(bpath, NULL, 1, f, &n, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_non_null(strstr(ei.message, "image"));
	assert_int_equal(pcrgate_payload_encode(ipath, bpath, 1, f, &n, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_non_null(strstr(ei.message, "base"));
	assert_int_equal(pcrgate_payload_encode(scratch, NULL, 1, f, &n, &ei), PCRGATE_ERR_IO);
	assert_int_equal(pcrgate_payload_decoder_new(&d, bpath, NULL, 10, &ei), PCRGATE_ERR_NOT_FOUND);
	write_file(ipath, NULL, 0);
	assert_int_equal(pcrgate_payload_encode(ipath, NULL, 1, f, &n, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "empty"));
	assert_int_equal(pcrgate_payload_decoder_new(&d, ipath, NULL, 10, &ei), PCRGATE_ERR_FORMAT);
	/* A 2 GiB base (sparse) and any image exceed a delta's window. */
	assert_true((fd = open(ipath, O_WRONLY | O_TRUNC)) >= 0);
	assert_int_equal(ftruncate(fd, (off_t)1 << 31), 0);
	close(fd);
	assert_int_equal(pcrgate_payload_decoder_new(&d, ipath, NULL, 1, &ei), PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "window"));
	assert_null(d);
	assert_int_equal(pcrgate_payload_decoder_new(&d, NULL, NULL, 10, &ei), 0);
	assert_int_equal(pcrgate_payload_decoder_feed(d, NULL, 0, collect_sink, NULL, &ei), 0);
	assert_int_equal(pcrgate_payload_decoder_feed(d, (const uint8_t *)"x", 1, NULL, NULL, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	pcrgate_payload_decoder_free(&d);
	pcrgate_payload_decoder_free(NULL);
	unlink(ipath);
	fclose(f);
}

static int failing_sink(void *ctx, const uint8_t *p, size_t len)
{
	(void)ctx;
	(void)p;
	(void)len;
	return PCRGATE_ERR_IO;
}

/* A sink that says why it failed, on the ei it is given as ctx. */
static int explaining_sink(void *ctx, const uint8_t *p, size_t len)
{
	(void)p;
	(void)len;
	return pcrgate_errinfo_set(ctx, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "image kernel: sha256 differs");
}

static void test_sink_error(void **state)
{
	uint8_t image[5000], *payload;
	struct pcrgate_payload_decoder *d = NULL;
	pcrgate_errinfo ei;
	size_t plen;

	(void)state;
	fill_structured(image, sizeof(image), 2);
	payload = encode(image, sizeof(image), NULL, 0, 1, &plen);
	assert_int_equal(pcrgate_payload_decoder_new(&d, NULL, NULL, sizeof(image), &ei), 0);
	assert_int_equal(pcrgate_payload_decoder_feed(d, payload, plen, failing_sink, NULL, &ei), PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "writing the image"));
	/* A decoder that failed stays failed. */
	assert_int_equal(pcrgate_payload_decoder_feed(d, payload, 1, collect_sink, NULL, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_payload_decoder_finish(d, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	pcrgate_payload_decoder_free(&d);
	/* The sink's own message is kept. */
	assert_int_equal(pcrgate_payload_decoder_new(&d, NULL, NULL, sizeof(image), &ei), 0);
	assert_int_equal(pcrgate_payload_decoder_feed(d, payload, plen, explaining_sink, &ei, &ei), PCRGATE_ERR_VERIFY);
	assert_string_equal(ei.message, "image kernel: sha256 differs");
	pcrgate_payload_decoder_free(&d);
	free(payload);
}

/* A slot directory: manifest naming kernel (and initrd), the images as files. */
static void make_slot(const char *dir, const uint8_t *kernel, size_t klen, const uint8_t *initrd, size_t ilen,
		      size_t claimed_klen)
{
	char path[256], line[256], hex[65];
	uint8_t d[32];
	FILE *f;

	mkdir(dir, 0755);
	snprintf(path, sizeof(path), "%s/manifest", dir);
	assert_non_null(f = fopen(path, "w"));
	fputs("pcrgate-manifest 1\ncompatible=acme,gw-100\nversion=1.0\nsecurity_version=3\n", f);
	sha256(kernel, klen, d);
	pcrgate_hex_encode(d, 32, hex);
	snprintf(line, sizeof(line), "image=kernel size=%zu sha256=%s\n", claimed_klen, hex);
	fputs(line, f);
	if (initrd != NULL) {
		sha256(initrd, ilen, d);
		pcrgate_hex_encode(d, 32, hex);
		snprintf(line, sizeof(line), "image=initrd size=%zu sha256=%s\n", ilen, hex);
		fputs(line, f);
	}
	assert_int_equal(fclose(f), 0);
	snprintf(path, sizeof(path), "%s/kernel", dir);
	write_file(path, kernel, klen);
	if (initrd != NULL) {
		snprintf(path, sizeof(path), "%s/initrd", dir);
		write_file(path, initrd, ilen);
	}
}

static int slot_write(const char *dir, uint8_t **out, size_t *out_len, uint8_t digest[32], pcrgate_errinfo *ei)
{
	FILE *f = tmpfile();
	uint64_t size = 0;
	long n;
	int r;

	assert_non_null(f);
	r = pcrgate_slot_image_write(dir, f, digest, &size, ei);
	if (r == 0 && out != NULL) {
		n = ftell(f);
		assert_int_equal((uint64_t)n, size);
		rewind(f);
		assert_non_null(*out = malloc((size_t)n + 1));
		assert_int_equal(fread(*out, 1, (size_t)n, f), (size_t)n);
		*out_len = (size_t)n;
	}
	fclose(f);
	return r;
}

static void test_slot_image(void **state)
{
	uint8_t kernel[70000], initrd[150000], want[32], got[32], *img = NULL, *cat;
	char dir[128], path[256];
	pcrgate_errinfo ei;
	size_t len = 0;

	(void)state;
	fill_random(kernel, sizeof(kernel), 31);
	fill_structured(initrd, sizeof(initrd), 8);
	path_in(dir, sizeof(dir), "slot-a");
	make_slot(dir, kernel, sizeof(kernel), initrd, sizeof(initrd), sizeof(kernel));
	assert_int_equal(slot_write(dir, &img, &len, got, &ei), 0);
	assert_int_equal(len, sizeof(kernel) + sizeof(initrd));
	assert_non_null(cat = malloc(len));
	memcpy(cat, kernel, sizeof(kernel));
	memcpy(cat + sizeof(kernel), initrd, sizeof(initrd));
	assert_memory_equal(img, cat, len);
	sha256(cat, len, want);
	assert_memory_equal(got, want, 32);
	free(img);

	/* An image of another size, or other content, than its manifest says. */
	make_slot(dir, kernel, sizeof(kernel), initrd, sizeof(initrd), sizeof(kernel) + 1);
	assert_int_equal(slot_write(dir, NULL, NULL, got, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "kernel is 70000 bytes, the manifest says 70001"));
	make_slot(dir, kernel, sizeof(kernel), initrd, sizeof(initrd), sizeof(kernel));
	snprintf(path, sizeof(path), "%s/initrd", dir);
	initrd[100] ^= 1;
	write_file(path, initrd, sizeof(initrd));
	assert_int_equal(slot_write(dir, NULL, NULL, got, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "initrd: sha256 differs"));
	/* A symbolic link, a missing image, a malformed manifest, no slot at all. */
	unlink(path);
	assert_int_equal(slot_write(dir, NULL, NULL, got, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(symlink("kernel", path), 0);
	assert_int_equal(slot_write(dir, NULL, NULL, got, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "symbolic link"));
	unlink(path);
	snprintf(path, sizeof(path), "%s/manifest", dir);
	write_file(path, (const uint8_t *)"pcrgate-manifest 1\ncompatible=acme\n", 36);
	assert_int_equal(slot_write(dir, NULL, NULL, got, &ei), PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	assert_non_null(strstr(ei.message, "manifest"));
	snprintf(path, sizeof(path), "%s/kernel", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/manifest", dir);
	unlink(path);
	assert_int_equal(slot_write(dir, NULL, NULL, got, &ei), PCRGATE_ERR_NOT_FOUND);
	rmdir(dir);
	assert_int_equal(slot_write(dir, NULL, NULL, got, &ei), PCRGATE_ERR_NOT_FOUND);
	free(cat);
}

/* Seeds for tests/fuzz/fuzz_payload, in its format, against its fixed base. */
static void write_seed(const char *file, int delta, size_t expected, size_t piece, const uint8_t *p, size_t len)
{
	uint8_t *buf = malloc(len + FUZZ_PAYLOAD_HEADER);

	assert_non_null(buf);
	buf[0] = (uint8_t)delta;
	buf[1] = (uint8_t)((expected - 1) >> 8);
	buf[2] = (uint8_t)(expected - 1);
	buf[3] = (uint8_t)(piece - 1);
	memcpy(buf + FUZZ_PAYLOAD_HEADER, p, len);
	assert_true(test_seed_write("payload", file, buf, len + FUZZ_PAYLOAD_HEADER) >= 0);
	free(buf);
}

static void test_fuzz_seeds(void **state)
{
	uint8_t base[FUZZ_PAYLOAD_BASE_SIZE], image[12000], *full, *delta;
	size_t flen, dlen;
	struct collect c;
	pcrgate_errinfo ei;

	(void)state;
	fuzz_payload_base(base);
	memcpy(image, base + 100, 6000);
	fill_structured(image + 6000, 3000, 4);
	memcpy(image + 9000, base + 5000, 3000);
	full = encode(image, sizeof(image), NULL, 0, 19, &flen);
	delta = encode(image, sizeof(image), base, sizeof(base), 19, &dlen);
	collect_init(&c, sizeof(image) + 1);
	assert_int_equal(decode(delta, dlen, 1, sizeof(image), 100, &c, &ei), 0);
	write_seed("full", 0, sizeof(image), 256, full, flen);
	write_seed("full-pieces", 0, sizeof(image), 7, full, flen);
	write_seed("delta", 1, sizeof(image), 256, delta, dlen);
	write_seed("delta-truncated", 1, sizeof(image), 33, delta, dlen - 5);
	write_seed("delta-short", 1, sizeof(image) - 1, 256, delta, dlen);
	write_seed("delta-as-full", 0, sizeof(image), 256, delta, dlen);
	free(c.data);
	free(full);
	free(delta);
}

static int setup(void **state)
{
	const char *tmp = getenv("TMPDIR");

	(void)state;
	snprintf(scratch, sizeof(scratch), "%s/test_payload.XXXXXX", tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	return mkdtemp(scratch) != NULL ? 0 : -1;
}

static int teardown(void **state)
{
	static const char *const names[] = {"image", "base"};
	char path[128];

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		path_in(path, sizeof(path), names[i]);
		unlink(path);
	}
	return rmdir(scratch);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_full_round_trip),	 cmocka_unit_test(test_delta_round_trip),
		cmocka_unit_test(test_delta_wrong_base), cmocka_unit_test(test_endless),
		cmocka_unit_test(test_truncated),	 cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_expected_size),	 cmocka_unit_test(test_memory),
		cmocka_unit_test(test_arguments),	 cmocka_unit_test(test_sink_error),
		cmocka_unit_test(test_slot_image),	 cmocka_unit_test(test_fuzz_seeds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
