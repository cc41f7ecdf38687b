/*
 * pcrgate: update payloads, zstd full and patch-from delta (lib/payload.h). The encoder runs
 * on the vendor's machine and may spend time and memory for a smaller payload; the decoder
 * runs on the device, so its window and heap are fixed from the sizes it is given before the
 * first byte, and every byte it writes is counted against the image's size.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define ZSTD_STATIC_LINKING_ONLY /* custom allocator, buffer-size estimates, block size */
#include <zstd.h>
#include <zstd_errors.h>

#include "payload.h"
#include "pcrgate/alg.h"

/* Images up to this size get several encoder settings tried (docs/updates.md "Payloads"). */
#define SEARCH_IMAGE_MAX ((uint64_t)16 << 20)
/* Input a payload of n bytes may take: zstd's worst case is n + n/256 plus headers. */
#define INPUT_SLACK ((uint64_t)64 << 10)

/* A file mapped read-only; len > 0 whenever p is set. */
struct mapping {
	const uint8_t *p;
	size_t len;
};

static void mapping_free(struct mapping *m)
{
	if (m->p != NULL)
		munmap((void *)m->p, m->len);
	m->p = NULL;
	m->len = 0;
}

/* Maps a non-empty regular file of at most max bytes; what names it in messages. */
static int mapping_open(struct mapping *m, const char *path, const char *what, uint64_t max, pcrgate_errinfo *ei)
{
	struct stat st;
	void *p;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0)
		return pcrgate_errinfo_set(ei, errno == ENOENT ? PCRGATE_ERR_NOT_FOUND : PCRGATE_ERR_IO,
					   PCRGATE_NO_OFFSET, "%s %s: %s", what, path, strerror(errno));
	if (fstat(fd, &st) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s %s: %s", what, path,
					strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s %s: not a regular file", what, path);
		goto fail;
	}
	if (st.st_size == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s %s is empty", what, path);
		goto fail;
	}
	if ((uint64_t)st.st_size > max || (uint64_t)st.st_size > SIZE_MAX) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"%s %s: %jd bytes, more than the %ju allowed", what, path, (intmax_t)st.st_size,
					(uintmax_t)max);
		goto fail;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (p == MAP_FAILED) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s %s: cannot map: %s", what, path,
					strerror(errno));
		goto fail;
	}
	close(fd);
	m->p = p;
	m->len = (size_t)st.st_size;
	return 0;
fail:
	close(fd);
	return r;
}

/* A payload position as an error offset (saturated where size_t is narrower). */
static size_t offset_at(uint64_t at)
{
	return at >= SIZE_MAX ? SIZE_MAX - 1 : (size_t)at;
}

/* Smallest n with 2^n >= v, at least zstd's smallest window. */
static unsigned ceil_log2(uint64_t v)
{
	unsigned n = ZSTD_WINDOWLOG_MIN;

	while (n < 64 && ((uint64_t)1 << n) < v)
		n++;
	return n;
}

/* Largest window log zstd allows on this system, capped at ours. */
static unsigned window_log_cap(void)
{
	return ZSTD_WINDOWLOG_MAX < PCRGATE_PAYLOAD_WINDOW_LOG_MAX ? ZSTD_WINDOWLOG_MAX
								   : PCRGATE_PAYLOAD_WINDOW_LOG_MAX;
}

/*
 * The window log both sides derive from the sizes alone: a delta's covers base and image so
 * every image byte can refer to any base byte; a full payload's is capped. 0: too large.
 */
static unsigned window_log(uint64_t image_size, uint64_t base_size)
{
	unsigned wlog;

	if (image_size == 0 || image_size > PCRGATE_PAYLOAD_IMAGE_MAX || base_size > PCRGATE_PAYLOAD_IMAGE_MAX)
		return 0;
	if (base_size == 0) {
		wlog = ceil_log2(image_size);
		return wlog < PCRGATE_PAYLOAD_FULL_WINDOW_LOG ? wlog : PCRGATE_PAYLOAD_FULL_WINDOW_LOG;
	}
	wlog = ceil_log2(image_size + base_size);
	return wlog <= window_log_cap() ? wlog : 0;
}

/*
 * One setting of the encoder's search. zstd's block size decides where literals get their
 * own Huffman table, which on already-compressed firmware is most of what is left to win.
 */
struct encode_try {
	int min_match; /* 0: the level's */
	int block_max; /* 0: zstd's 128 KiB */
};

static const struct encode_try encode_tries[] = {
	{0, 0}, {5, 0}, {0, 98304}, {5, 98304}, {0, 65536}, {5, 65536}, {5, 32768},
};

/* Sets up cctx for one try; a setting this libzstd lacks is reported as UNSUPPORTED. */
static int encode_setup(ZSTD_CCtx *cctx, const struct encode_try *t, int level, unsigned wlog,
			const struct mapping *base, uint64_t image_size)
{
	size_t z;

	ZSTD_CCtx_reset(cctx, ZSTD_reset_session_and_parameters);
	z = ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level);
	if (!ZSTD_isError(z))
		z = ZSTD_CCtx_setParameter(cctx, ZSTD_c_windowLog, (int)wlog);
	if (!ZSTD_isError(z))
		z = ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1);
	if (!ZSTD_isError(z))
		z = ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1);
	if (!ZSTD_isError(z) && base->p != NULL)
		z = ZSTD_CCtx_setParameter(cctx, ZSTD_c_enableLongDistanceMatching, 1);
	if (!ZSTD_isError(z) && t->min_match != 0)
		z = ZSTD_CCtx_setParameter(cctx, ZSTD_c_minMatch, t->min_match);
	if (!ZSTD_isError(z))
		z = ZSTD_CCtx_setPledgedSrcSize(cctx, image_size);
	if (ZSTD_isError(z))
		return PCRGATE_ERR_CRYPTO;
	if (t->block_max != 0 && ZSTD_isError(ZSTD_CCtx_setParameter(cctx, ZSTD_c_maxBlockSize, t->block_max)))
		return PCRGATE_ERR_UNSUPPORTED;
	if (base->p != NULL && ZSTD_isError(ZSTD_CCtx_refPrefix(cctx, base->p, base->len)))
		return PCRGATE_ERR_CRYPTO;
	return 0;
}

/* Compresses the whole image in one frame, streaming into out; adds to *written. */
static int encode_stream(ZSTD_CCtx *cctx, const struct mapping *image, FILE *out, uint64_t *written,
			 pcrgate_errinfo *ei)
{
	ZSTD_inBuffer in = {image->p, image->len, 0};
	size_t cap = ZSTD_CStreamOutSize(), z;
	uint8_t *buf = malloc(cap);
	int r = PCRGATE_ERR_NOMEM;

	if (buf == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "payload: out of memory");
	do {
		ZSTD_outBuffer o = {buf, cap, 0};

		z = ZSTD_compressStream2(cctx, &o, &in, ZSTD_e_end);
		if (ZSTD_isError(z)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
						"zstd compression failed: %s", ZSTD_getErrorName(z));
			goto fail;
		}
		if (o.pos > 0 && fwrite(buf, 1, o.pos, out) != o.pos) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "payload: write failed: %s",
						strerror(errno));
			goto fail;
		}
		*written += o.pos;
	} while (z != 0);
	r = 0;
fail:
	free(buf);
	return r;
}

/*
 * Tries every setting of encode_tries in memory and writes the smallest frame. Settings this
 * libzstd lacks are skipped; the first (zstd's defaults for the level) always runs.
 */
static int encode_search(ZSTD_CCtx *cctx, int level, unsigned wlog, const struct mapping *base,
			 const struct mapping *image, FILE *out, uint64_t *written, pcrgate_errinfo *ei)
{
	size_t bound = ZSTD_compressBound(image->len), best_len = 0, z;
	uint8_t *best = NULL, *cur = NULL, *swap;
	int r = PCRGATE_ERR_NOMEM;

	if ((best = malloc(bound)) == NULL || (cur = malloc(bound)) == NULL) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "payload: out of memory for %zu bytes", bound);
		goto fail;
	}
	for (size_t i = 0; i < sizeof(encode_tries) / sizeof(encode_tries[0]); i++) {
		r = encode_setup(cctx, &encode_tries[i], level, wlog, base, image->len);
		if (r == PCRGATE_ERR_UNSUPPORTED && i > 0)
			continue;
		if (r != 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "zstd refused the settings");
			goto fail;
		}
		z = ZSTD_compress2(cctx, cur, bound, image->p, image->len);
		if (ZSTD_isError(z)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
						"zstd compression failed: %s", ZSTD_getErrorName(z));
			goto fail;
		}
		pg_debug("min_match %d, block %d: %zu bytes", encode_tries[i].min_match, encode_tries[i].block_max, z);
		if (best_len == 0 || z < best_len) {
			swap = best;
			best = cur;
			cur = swap;
			best_len = z;
		}
	}
	if (fwrite(best, 1, best_len, out) != best_len) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "payload: write failed: %s",
					strerror(errno));
		goto fail;
	}
	*written += best_len;
	r = 0;
fail:
	free(best);
	free(cur);
	return r;
}

int pcrgate_payload_encode(const char *image_path, const char *base_path, int level, FILE *out, uint64_t *out_len,
			   pcrgate_errinfo *ei)
{
	struct mapping image = {NULL, 0}, base = {NULL, 0};
	ZSTD_CCtx *cctx = NULL;
	uint64_t written = 0;
	unsigned wlog;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (image_path == NULL || out == NULL || out_len == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "payload: no image or output given");
	if (level < 0 || level > ZSTD_maxCLevel())
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "compression level %d is not 0..%d", level,
					   ZSTD_maxCLevel());
	if (level == 0)
		level = PCRGATE_PAYLOAD_DEFAULT_LEVEL;
	if ((r = mapping_open(&image, image_path, "image", PCRGATE_PAYLOAD_IMAGE_MAX, ei)) != 0)
		goto fail;
	if (base_path != NULL && (r = mapping_open(&base, base_path, "base", PCRGATE_PAYLOAD_IMAGE_MAX, ei)) != 0)
		goto fail;
	if ((wlog = window_log(image.len, base.len)) == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"base (%zu bytes) and image (%zu bytes) exceed a delta's window of %ju",
					base.len, image.len, (uintmax_t)1 << window_log_cap());
		goto fail;
	}
	if ((cctx = ZSTD_createCCtx()) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "payload: out of memory");
		goto fail;
	}
	if (image.len <= SEARCH_IMAGE_MAX) {
		r = encode_search(cctx, level, wlog, &base, &image, out, &written, ei);
	} else if (encode_setup(cctx, &encode_tries[0], level, wlog, &base, image.len) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "zstd refused the settings");
	} else {
		r = encode_stream(cctx, &image, out, &written, ei);
	}
	if (r != 0)
		goto fail;
	if (fflush(out) != 0 || ferror(out)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "payload: write failed: %s",
					strerror(errno));
		goto fail;
	}
	*out_len = written;
	r = 0;
fail:
	ZSTD_freeCCtx(cctx);
	mapping_free(&image);
	mapping_free(&base);
	return r;
}

/* The decoder's heap: zstd allocates through these, so the ceiling is enforced, not hoped for. */
struct heap {
	size_t used, peak, cap;
};

struct pcrgate_payload_decoder {
	ZSTD_DCtx *dctx;
	struct heap heap;
	struct mapping base;
	uint64_t expected;  /* bytes the image must have */
	uint64_t produced;  /* bytes given to the sink */
	uint64_t consumed;  /* payload bytes taken */
	uint64_t input_max; /* payload bytes a payload of this size may take */
	unsigned frames;    /* frames completed */
	int frame_open;	    /* inside a frame: its end not yet seen */
	int failed;
	uint8_t *out;
	size_t out_cap;
};

/* Each block carries its size ahead of it, so that free can count it back. */
#define HEAP_HEADER 16

static void *heap_alloc(void *opaque, size_t size)
{
	struct heap *h = opaque;
	uint8_t *p;

	if (size > h->cap - h->used || size > SIZE_MAX - HEAP_HEADER)
		return NULL;
	if ((p = malloc(size + HEAP_HEADER)) == NULL)
		return NULL;
	memcpy(p, &size, sizeof(size));
	h->used += size;
	if (h->used > h->peak)
		h->peak = h->used;
	return p + HEAP_HEADER;
}

static void heap_free(void *opaque, void *address)
{
	struct heap *h = opaque;
	uint8_t *p = address;
	size_t size;

	if (p == NULL)
		return;
	p -= HEAP_HEADER;
	memcpy(&size, p, sizeof(size));
	h->used -= size;
	free(p);
}

/*
 * What zstd may allocate for one frame of these sizes: its context, the prefix's entropy
 * tables, one input block and the window buffer. A frame that states its content size needs
 * a buffer of at most that size; one that does not needs its window and two blocks more, so
 * such a frame may have a window up to the image's size and no larger.
 */
static uint64_t zstd_ceiling(uint64_t expected, unsigned wlog)
{
	uint64_t window = (uint64_t)1 << wlog;

	return (uint64_t)ZSTD_estimateDCtxSize() + ZSTD_estimateDDictSize(0, ZSTD_dlm_byRef) + ZSTD_BLOCKSIZE_MAX +
	       ZSTD_decodingBufferSize_min(window < expected ? window : expected, ZSTD_CONTENTSIZE_UNKNOWN);
}

uint64_t pcrgate_payload_decoder_ceiling(uint64_t expected_size, uint64_t base_size)
{
	unsigned wlog = window_log(expected_size, base_size);

	if (wlog == 0)
		return 0;
	return zstd_ceiling(expected_size, wlog) + ZSTD_DStreamOutSize() + sizeof(struct pcrgate_payload_decoder);
}

int pcrgate_payload_decoder_new(struct pcrgate_payload_decoder **d, const char *base_path, const uint8_t *base_sha256,
				uint64_t expected_size, pcrgate_errinfo *ei)
{
	uint8_t md[32];
	struct pcrgate_payload_decoder *nd = NULL;
	ZSTD_customMem mem;
	uint64_t zcap;
	unsigned wlog;
	size_t z;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (d == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "payload decoder: no output given");
	if (expected_size == 0 || expected_size > PCRGATE_PAYLOAD_IMAGE_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "image size %ju is not 1..%ju bytes", (uintmax_t)expected_size,
					   (uintmax_t)PCRGATE_PAYLOAD_IMAGE_MAX);
	if ((nd = calloc(1, sizeof(*nd))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "payload decoder: out of memory");
	if (base_path != NULL && (r = mapping_open(&nd->base, base_path, "base", PCRGATE_PAYLOAD_IMAGE_MAX, ei)) != 0)
		goto fail;
	if (nd->base.p != NULL && base_sha256 != NULL) {
		if ((r = pcrgate_digest(PCRGATE_ALG_SHA256, nd->base.p, nd->base.len, md)) != 0) {
			pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "base %s: sha256 failed", base_path);
			goto fail;
		}
		if (!pcrgate_ct_equal(md, base_sha256, sizeof(md))) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						"base: %s (%zu bytes) is not the image the delta was made against "
						"(sha256 differs)",
						base_path, nd->base.len);
			goto fail;
		}
	}
	if ((wlog = window_log(expected_size, nd->base.len)) == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"base (%zu bytes) and image (%ju bytes) exceed a delta's window of %ju",
					nd->base.len, (uintmax_t)expected_size, (uintmax_t)1 << window_log_cap());
		goto fail;
	}
	zcap = zstd_ceiling(expected_size, wlog);
	if (zcap > SIZE_MAX) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"decoding an image of %ju bytes needs more memory than this system addresses",
					(uintmax_t)expected_size);
		goto fail;
	}
	nd->heap.cap = (size_t)zcap;
	nd->expected = expected_size;
	nd->input_max = expected_size + expected_size / 128 + INPUT_SLACK;
	nd->out_cap = ZSTD_DStreamOutSize();
	mem.customAlloc = heap_alloc;
	mem.customFree = heap_free;
	mem.opaque = &nd->heap;
	if ((nd->out = malloc(nd->out_cap)) == NULL || (nd->dctx = ZSTD_createDCtx_advanced(mem)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "payload decoder: out of memory");
		goto fail;
	}
	z = ZSTD_DCtx_setParameter(nd->dctx, ZSTD_d_windowLogMax, (int)wlog);
	if (!ZSTD_isError(z) && nd->base.p != NULL)
		z = ZSTD_DCtx_refPrefix(nd->dctx, nd->base.p, nd->base.len);
	if (ZSTD_isError(z)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
					"zstd refused the decoder's settings: %s", ZSTD_getErrorName(z));
		goto fail;
	}
	*d = nd;
	return 0;
fail:
	pcrgate_payload_decoder_free(&nd);
	return r;
}

void pcrgate_payload_decoder_free(struct pcrgate_payload_decoder **d)
{
	if (d == NULL || *d == NULL)
		return;
	ZSTD_freeDCtx((*d)->dctx);
	mapping_free(&(*d)->base);
	free((*d)->out);
	free(*d);
	*d = NULL;
}

/* Maps a zstd decoding error to our code and a message that says what it likely means. */
static int decode_error(struct pcrgate_payload_decoder *d, size_t z, uint64_t at, pcrgate_errinfo *ei)
{
	const char *delta = d->base.p != NULL ? " (is the base the image this delta was made against?)" : "";
	size_t off = offset_at(at);

	switch (ZSTD_getErrorCode(z)) {
	case ZSTD_error_frameParameter_windowTooLarge:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, off,
					   "payload frame needs a window larger than an image of %ju bytes%s needs",
					   (uintmax_t)d->expected, d->base.p != NULL ? " and its base" : "");
	case ZSTD_error_memory_allocation:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, off,
					   "payload needs more than the decoder's ceiling of %zu bytes for zstd",
					   d->heap.cap);
	case ZSTD_error_checksum_wrong:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, off, "payload checksum does not match its content%s",
					   delta);
	case ZSTD_error_prefix_unknown:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "payload is not a zstd frame");
	case ZSTD_error_frameParameter_unsupported:
	case ZSTD_error_version_unsupported:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, off, "payload frame: %s", ZSTD_getErrorName(z));
	default:
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "payload is corrupt: %s%s",
					   ZSTD_getErrorName(z), delta);
	}
}

int pcrgate_payload_decoder_feed(struct pcrgate_payload_decoder *d, const uint8_t *in, size_t len,
				 pcrgate_payload_sink sink, void *ctx, pcrgate_errinfo *ei)
{
	ZSTD_inBuffer zin = {in, len, 0};
	int more = 0, r = PCRGATE_ERR_INVALID_ARGUMENT;

	pcrgate_errinfo_clear(ei);
	if (d == NULL || sink == NULL || (in == NULL && len > 0))
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "payload decoder: nothing to decode into");
	if (d->failed)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "payload decoder: already failed");
	if (len > d->input_max - d->consumed) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, offset_at(d->consumed),
					"payload is longer than the %ju bytes an image of %ju bytes can take",
					(uintmax_t)d->input_max, (uintmax_t)d->expected);
		goto fail;
	}
	while (zin.pos < zin.size || more) {
		uint64_t left = d->expected - d->produced, at = d->consumed + zin.pos;
		/* One byte of room past the image, so that endless output shows at its first byte. */
		ZSTD_outBuffer zout = {d->out, left < d->out_cap ? (size_t)left + 1 : d->out_cap, 0};
		size_t z;

		if (d->base.p != NULL && d->frames > 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, offset_at(at),
						"data after the end of the delta frame");
			goto fail;
		}
		z = ZSTD_decompressStream(d->dctx, &zout, &zin);
		if (ZSTD_isError(z)) {
			r = decode_error(d, z, d->consumed + zin.pos, ei);
			goto fail;
		}
		if (zout.pos > left) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, offset_at(d->consumed + zin.pos),
						"payload produces more than the image's %ju bytes",
						(uintmax_t)d->expected);
			goto fail;
		}
		if (zout.pos > 0 && (r = sink(ctx, d->out, zout.pos)) != 0) {
			/* A sink that said why on ei (cleared on entry) keeps its own, more precise, message. */
			if (ei == NULL || ei->code != r)
				pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
						    "payload: writing the image at byte %ju failed: %s",
						    (uintmax_t)d->produced, pcrgate_strerror(r));
			goto fail;
		}
		d->produced += zout.pos;
		d->frame_open = z != 0;
		if (z == 0)
			d->frames++;
		/* A full output buffer may leave decoded bytes inside zstd: call again for them. */
		more = z != 0 && zout.pos == zout.size;
	}
	d->consumed += len;
	return 0;
fail:
	d->failed = 1;
	return r;
}

int pcrgate_payload_decoder_finish(struct pcrgate_payload_decoder *d, pcrgate_errinfo *ei)
{
	if (d == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no payload decoder");
	if (d->failed)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "payload decoder: already failed");
	if (d->frame_open || d->frames == 0) {
		d->failed = 1;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, offset_at(d->consumed),
					   "payload is truncated: it ends inside a frame after %ju bytes",
					   (uintmax_t)d->consumed);
	}
	if (d->produced != d->expected) {
		d->failed = 1;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, offset_at(d->consumed),
					   "payload produces %ju bytes, the image has %ju", (uintmax_t)d->produced,
					   (uintmax_t)d->expected);
	}
	pg_debug("%ju bytes from %ju, zstd heap peak %zu of %zu", (uintmax_t)d->produced, (uintmax_t)d->consumed,
		 d->heap.peak, d->heap.cap);
	return 0;
}
