/*
 * A bounded text builder for describing untrusted event data: appends never overrun
 * the caller's buffer, a cut never splits a UTF-8 sequence, and the result is always
 * NUL-terminated valid UTF-8 ending in "..." when cut. Internal to the library.
 */
#ifndef PCRGATE_EVENTLOG_TEXT_H
#define PCRGATE_EVENTLOG_TEXT_H

#include <stddef.h>
#include <stdint.h>

struct sb {
	char *p;
	size_t cap; /* at least 1 */
	size_t len;
	int full;
};

void sb_init(struct sb *s, char *p, size_t cap);
/* Forgets what was written (a decoder that found malformed data starts over). */
void sb_reset(struct sb *s);
/* Appends n bytes whole, or marks the text cut. */
void sb_put(struct sb *s, const char *str, size_t n);
void sb_str(struct sb *s, const char *str);
void sb_printf(struct sb *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Lower-case hex of at most max of the n bytes, then "..." when there were more. */
void sb_hex(struct sb *s, const uint8_t *p, size_t n, size_t max);
/* Bytes as printable ASCII, others escaped \xNN; trailing NULs dropped. */
void sb_ascii(struct sb *s, const uint8_t *p, size_t n);
/* n UTF-16LE code units as UTF-8 (up to a NUL when stop_at_nul); controls escaped, bad surrogates U+FFFD. */
void sb_utf16(struct sb *s, const uint8_t *p, size_t n, int stop_at_nul);
/* An EFI_GUID (little-endian fields) as 8-4-4-4-12 lower-case hex. */
void sb_guid(struct sb *s, const uint8_t *g);

/* Data is printable ASCII, maybe NUL-terminated. */
int text_is_ascii(const uint8_t *p, size_t n);
/* Data is UTF-16LE of printable ASCII characters, maybe NUL-terminated. */
int text_is_utf16(const uint8_t *p, size_t n);

/* Appends the device path's text; -1 (after appending what it could) when it is malformed. */
int el_devpath_text(struct sb *s, const uint8_t *p, size_t len);

#endif
