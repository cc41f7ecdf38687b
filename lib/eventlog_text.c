/* pcrgate: bounded text building for event-log display (see eventlog_text.h). */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "pcrgate/common.h"

#include "eventlog_text.h"

#define CUT_MARK "..."

void sb_init(struct sb *s, char *p, size_t cap)
{
	s->p = p;
	s->cap = cap;
	sb_reset(s);
}

void sb_reset(struct sb *s)
{
	s->len = 0;
	s->full = 0;
	s->p[0] = '\0';
}

void sb_put(struct sb *s, const char *str, size_t n)
{
	const size_t reserve = sizeof(CUT_MARK); /* the mark and the NUL */
	size_t room;

	if (s->full)
		return;
	if (s->cap < reserve || n > s->cap - reserve - s->len) {
		s->full = 1;
		if (s->cap >= reserve) {
			/* What fits, cut before a character's continuation bytes, then the mark. */
			room = s->cap - reserve - s->len;
			while (room > 0 && ((unsigned char)str[room] & 0xC0) == 0x80)
				room--;
			memcpy(s->p + s->len, str, room);
			memcpy(s->p + s->len + room, CUT_MARK, reserve - 1);
			s->len += room + reserve - 1;
		}
		s->p[s->len] = '\0';
		return;
	}
	memcpy(s->p + s->len, str, n);
	s->len += n;
	s->p[s->len] = '\0';
}

void sb_str(struct sb *s, const char *str)
{
	sb_put(s, str, strlen(str));
}

void sb_printf(struct sb *s, const char *fmt, ...)
{
	char tmp[160];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	sb_put(s, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

void sb_hex(struct sb *s, const uint8_t *p, size_t n, size_t max)
{
	char tmp[2 * 32 + 1];
	size_t i, chunk, shown = n < max ? n : max;

	for (i = 0; i < shown && !s->full; i += chunk) {
		chunk = shown - i < 32 ? shown - i : 32;
		pcrgate_hex_encode(p + i, chunk, tmp);
		sb_put(s, tmp, 2 * chunk);
	}
	if (shown < n)
		sb_str(s, CUT_MARK);
}

void sb_ascii(struct sb *s, const uint8_t *p, size_t n)
{
	size_t i;

	while (n > 0 && p[n - 1] == 0)
		n--;
	for (i = 0; i < n && !s->full; i++) {
		if (p[i] >= 0x20 && p[i] < 0x7f)
			sb_put(s, (const char *)&p[i], 1);
		else
			sb_printf(s, "\\x%02x", p[i]);
	}
}

/*
 * Code points that would steer the operator's terminal rather than show as text: C0 and C1
 * controls, and the bidirectional overrides and isolates that reorder what is displayed.
 */
static int is_terminal_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || (cp >= 0x200e && cp <= 0x200f) ||
	       (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

static void put_codepoint(struct sb *s, uint32_t cp)
{
	char u[4];

	if (is_terminal_control(cp)) {
		sb_printf(s, "\\u%04x", (unsigned)cp);
	} else if (cp < 0x80) {
		u[0] = (char)cp;
		sb_put(s, u, 1);
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		sb_put(s, u, 2);
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		sb_put(s, u, 3);
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		sb_put(s, u, 4);
	}
}

void sb_utf16(struct sb *s, const uint8_t *p, size_t n, int stop_at_nul)
{
	uint32_t u, lo;
	size_t i;

	for (i = 0; i < n && !s->full; i++) {
		u = (uint32_t)p[2 * i] | ((uint32_t)p[2 * i + 1] << 8);
		if (u == 0 && stop_at_nul)
			break;
		if (u >= 0xD800 && u < 0xDC00 && i + 1 < n) {
			lo = (uint32_t)p[2 * i + 2] | ((uint32_t)p[2 * i + 3] << 8);
			if (lo >= 0xDC00 && lo < 0xE000) {
				u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
				i++;
			} else {
				u = 0xFFFD;
			}
		} else if (u >= 0xD800 && u < 0xE000) {
			u = 0xFFFD;
		}
		put_codepoint(s, u);
	}
}

void sb_guid(struct sb *s, const uint8_t *g)
{
	sb_printf(s, "%08x-%04x-%04x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		  (unsigned)((uint32_t)g[0] | ((uint32_t)g[1] << 8) | ((uint32_t)g[2] << 16) | ((uint32_t)g[3] << 24)),
		  (unsigned)(g[4] | (g[5] << 8)), (unsigned)(g[6] | (g[7] << 8)), g[8], g[9], g[10], g[11], g[12],
		  g[13], g[14], g[15]);
}

int text_is_ascii(const uint8_t *p, size_t n)
{
	size_t i;

	while (n > 0 && p[n - 1] == 0)
		n--;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i++)
		if ((p[i] < 0x20 || p[i] >= 0x7f) && p[i] != '\t' && p[i] != '\n' && p[i] != '\r')
			return 0;
	return 1;
}

int text_is_utf16(const uint8_t *p, size_t n)
{
	size_t i;

	if (n < 2 || n % 2 != 0)
		return 0;
	while (n >= 2 && p[n - 1] == 0 && p[n - 2] == 0)
		n -= 2;
	if (n == 0)
		return 0;
	for (i = 0; i < n; i += 2)
		if (p[i + 1] != 0 || p[i] < 0x20 || p[i] >= 0x7f)
			return 0;
	return 1;
}
