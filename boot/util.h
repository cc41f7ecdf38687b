/*
 * pcrgate boot core: small freestanding helpers shared by the core's files (internal).
 * The core may not call libc beyond mem*, so it brings its own constant-time compare,
 * hex and decimal formatting, and a bounded output buffer.
 */
#ifndef PCRGATE_BOOT_UTIL_H
#define PCRGATE_BOOT_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* Constant-time equality of two byte strings of the same length; 1 when equal. */
static inline int boot_ct_equal(const uint8_t *a, const uint8_t *b, size_t len)
{
	volatile uint8_t acc = 0;
	size_t i;

	for (i = 0; i < len; i++)
		acc |= (uint8_t)(a[i] ^ b[i]);
	return acc == 0;
}

/* Length of a NUL-terminated string, looking at no more than max bytes. */
static inline size_t boot_strnlen(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && s[n] != '\0')
		n++;
	return n;
}

/*
 * An output buffer that remembers overflow instead of writing past its end, so event
 * data can be built with a run of appends and checked once.
 */
struct boot_out {
	uint8_t *p;
	size_t cap;
	size_t len;
	int overflow;
};

static inline void boot_out_init(struct boot_out *o, uint8_t *p, size_t cap)
{
	o->p = p;
	o->cap = cap;
	o->len = 0;
	o->overflow = 0;
}

static inline void boot_out_bytes(struct boot_out *o, const void *data, size_t n)
{
	const uint8_t *d = data;
	size_t i;

	if (o->overflow || o->cap - o->len < n) {
		o->overflow = 1;
		return;
	}
	for (i = 0; i < n; i++)
		o->p[o->len + i] = d[i];
	o->len += n;
}

/* Appends a NUL-terminated string of the core's own (a literal, never input). */
static inline void boot_out_str(struct boot_out *o, const char *s)
{
	boot_out_bytes(o, s, boot_strnlen(s, (size_t)-1));
}

static inline void boot_out_hex(struct boot_out *o, const uint8_t *data, size_t n)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < n; i++) {
		char pair[2] = {digits[data[i] >> 4], digits[data[i] & 0xf]};
		boot_out_bytes(o, pair, 2);
	}
}

/* Canonical decimal: no sign, no leading zeros. */
static inline void boot_out_u64(struct boot_out *o, uint64_t v)
{
	char buf[20];
	size_t n = 0;

	do {
		buf[sizeof(buf) - 1 - n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v != 0);
	boot_out_bytes(o, buf + sizeof(buf) - n, n);
}

#endif
