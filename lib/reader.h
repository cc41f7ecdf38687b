/*
 * Bounded reader over untrusted bytes: every read checks the remaining length by
 * subtraction first and advances only on success. Internal to the library.
 */
#ifndef PCRGATE_READER_H
#define PCRGATE_READER_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct reader {
	const uint8_t *p;
	size_t left;
	size_t off; /* bytes consumed since the start of the input */
};

static inline void reader_init(struct reader *r, const uint8_t *p, size_t len)
{
	r->p = p;
	r->left = len;
	r->off = 0;
}

static inline int reader_skip(struct reader *r, size_t n)
{
	if (r->left < n)
		return -1;
	r->p += n;
	r->left -= n;
	r->off += n;
	return 0;
}

/* Borrows n bytes of the input. */
static inline int reader_bytes(struct reader *r, size_t n, const uint8_t **out)
{
	if (r->left < n)
		return -1;
	*out = r->p;
	return reader_skip(r, n);
}

static inline int reader_copy(struct reader *r, void *out, size_t n)
{
	if (r->left < n)
		return -1;
	memcpy(out, r->p, n);
	return reader_skip(r, n);
}

static inline int reader_u8(struct reader *r, uint8_t *v)
{
	if (r->left < 1)
		return -1;
	*v = r->p[0];
	return reader_skip(r, 1);
}

static inline int reader_u16le(struct reader *r, uint16_t *v)
{
	if (r->left < 2)
		return -1;
	*v = (uint16_t)(r->p[0] | (r->p[1] << 8));
	return reader_skip(r, 2);
}

static inline int reader_u32le(struct reader *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = (uint32_t)r->p[0] | ((uint32_t)r->p[1] << 8) | ((uint32_t)r->p[2] << 16) | ((uint32_t)r->p[3] << 24);
	return reader_skip(r, 4);
}

static inline int reader_u64le(struct reader *r, uint64_t *v)
{
	uint32_t lo, hi;
	if (r->left < 8)
		return -1;
	reader_u32le(r, &lo);
	reader_u32le(r, &hi);
	*v = ((uint64_t)hi << 32) | lo;
	return 0;
}

static inline int reader_u16be(struct reader *r, uint16_t *v)
{
	if (r->left < 2)
		return -1;
	*v = (uint16_t)((r->p[0] << 8) | r->p[1]);
	return reader_skip(r, 2);
}

static inline int reader_u32be(struct reader *r, uint32_t *v)
{
	if (r->left < 4)
		return -1;
	*v = ((uint32_t)r->p[0] << 24) | ((uint32_t)r->p[1] << 16) | ((uint32_t)r->p[2] << 8) | (uint32_t)r->p[3];
	return reader_skip(r, 4);
}

static inline int reader_u64be(struct reader *r, uint64_t *v)
{
	uint64_t x = 0;
	size_t i;

	if (r->left < 8)
		return -1;
	for (i = 0; i < 8; i++)
		x = (x << 8) | r->p[i];
	*v = x;
	return reader_skip(r, 8);
}

#endif
