/*
 * pcrgate: the boot extension's slot event read back from an event log (slot_event.h). The
 * event data is untrusted: only its digest was extended, so the fields count only when they
 * hash to it, and every field is bounded and checked before it is kept.
 */
#include "config.h"

#include <string.h>

#include "pcrgate/alg.h"
#include "pcrgate/common.h"
#include "pcrgate/pcr_map.h"
#include "slot_event.h"

#define LABEL_LEN (sizeof(PCRGATE_EVENT_LABEL_SLOT) - 1)
#define SV_DIGITS_MAX 20 /* decimal digits of a uint64_t */

/* Whether the len bytes at p spell key (a NUL-terminated name). */
static int is_key(const char *p, size_t len, const char *key)
{
	return len == strlen(key) && memcmp(p, key, len) == 0;
}

static int parse_u64(const char *p, size_t len, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (len == 0 || len > SV_DIGITS_MAX)
		return -1;
	for (i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - (uint64_t)(p[i] - '0')) / 10)
			return -1;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	*out = v;
	return 0;
}

/* "KEY=VALUE KEY=VALUE ...": single spaces, no empty token, printable ASCII only. */
static int parse_fields(const char *f, size_t len, struct pcrgate_slot_event *out)
{
	unsigned seen = 0;
	size_t i, n, k;
	const char *tok, *eq;

	for (i = 0; i < len; i++)
		if ((unsigned char)f[i] < 0x20 || (unsigned char)f[i] >= 0x7f)
			return PCRGATE_ERR_FORMAT;
	for (i = 0; i < len; i += n + 1) {
		tok = f + i;
		for (n = 0; i + n < len && tok[n] != ' '; n++)
			;
		if ((eq = memchr(tok, '=', n)) == NULL || eq == tok)
			return PCRGATE_ERR_FORMAT;
		k = (size_t)(eq - tok);
		if (is_key(tok, k, "slot")) {
			if ((seen & 1u) || n - k - 1 != 1 || (eq[1] != 'a' && eq[1] != 'b'))
				return PCRGATE_ERR_FORMAT;
			out->slot = (unsigned)(eq[1] - 'a');
			seen |= 1u;
		} else if (is_key(tok, k, "version")) {
			if ((seen & 2u) || n - k - 1 == 0 || n - k - 1 > PCRGATE_SLOT_EVENT_VERSION_MAX)
				return PCRGATE_ERR_FORMAT;
			memcpy(out->version, eq + 1, n - k - 1);
			out->version[n - k - 1] = '\0';
			seen |= 2u;
		} else if (is_key(tok, k, "security_version")) {
			if ((seen & 4u) || parse_u64(eq + 1, n - k - 1, &out->security_version) != 0)
				return PCRGATE_ERR_FORMAT;
			seen |= 4u;
		}
		if (i + n + 1 == len) /* a trailing space: an empty last token */
			return PCRGATE_ERR_FORMAT;
	}
	return seen == 7u ? PCRGATE_OK : PCRGATE_ERR_FORMAT;
}

int pcrgate_slot_event_parse(const pcrgate_event *ev, uint16_t bank, struct pcrgate_slot_event *out)
{
	struct pcrgate_slot_event e;
	uint8_t h[PCRGATE_MAX_DIGEST];
	const uint8_t *data, *d;
	size_t len = 0, dlen = 0, flen;
	int r;

	if (ev == NULL || out == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (pcrgate_event_pcr(ev) != PCRGATE_PCR_BOOT_SLOT || pcrgate_event_type(ev) != PCRGATE_EVENT_SLOT ||
	    (data = pcrgate_event_data(ev, &len)) == NULL || len < LABEL_LEN + 2 ||
	    memcmp(data, PCRGATE_EVENT_LABEL_SLOT " ", LABEL_LEN + 1) != 0 || data[len - 1] != 0)
		return PCRGATE_ERR_NOT_FOUND;
	flen = len - LABEL_LEN - 2;
	if ((d = pcrgate_event_digest(ev, bank, &dlen)) == NULL || dlen != pcrgate_alg_digest_size(bank))
		return PCRGATE_ERR_UNSUPPORTED;
	if (pcrgate_digest(bank, data + LABEL_LEN + 1, flen, h) != PCRGATE_OK || !pcrgate_ct_equal(h, d, dlen))
		return PCRGATE_ERR_VERIFY;
	memset(&e, 0, sizeof(e));
	if ((r = parse_fields((const char *)data + LABEL_LEN + 1, flen, &e)) != PCRGATE_OK)
		return r;
	*out = e;
	return PCRGATE_OK;
}
