/*
 * pcrgate boot core: encode, decode, load and store the boot-state record (see
 * bootstate.h; the byte layout is in docs/boot.md). Explicit little-endian fields, never
 * a struct cast; a record is accepted only whole: size, magic, version, CRC and every field.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bootstate.h"
#include "reader.h"

static const uint8_t bootstate_magic[4] = {'P', 'G', 'B', 'S'};

/* Byte offsets of the record's fields. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 4,
	OFF_SIZE = 5,
	OFF_RESERVED0 = 6,
	OFF_SEQ = 8,
	OFF_PRIMARY = 12,
	OFF_SLOTS = 13, /* status, tries for slot a, then for slot b */
	OFF_FALLBACK_SLOT = 17,
	OFF_FALLBACK_REASON = 18,
	OFF_RESERVED1 = 19,
	OFF_CRC = 20,
};

const char *pcrgate_boot_slot_name(unsigned slot)
{
	static const char *const names[PCRGATE_BOOT_SLOTS] = {"a", "b"};

	return slot < PCRGATE_BOOT_SLOTS ? names[slot] : "?";
}

const char *pcrgate_slot_status_str(enum pcrgate_slot_status status)
{
	switch (status) {
	case PCRGATE_SLOT_UNKNOWN:
		return "unknown";
	case PCRGATE_SLOT_GOOD:
		return "good";
	case PCRGATE_SLOT_TRIAL:
		return "trial";
	case PCRGATE_SLOT_BAD:
		return "bad";
	case PCRGATE_SLOT_EMPTY:
		return "empty";
	}
	return "invalid";
}

/* Each reason's stable token for scripts (the enum's name in lower case) and its description. */
static const struct {
	enum pcrgate_boot_reason reason;
	const char *token, *text;
} reasons[] = {
	{PCRGATE_BOOT_REASON_NONE, "none", "none"},
	{PCRGATE_BOOT_REASON_TRIES_EXHAUSTED, "tries_exhausted", "trial boots used up without a commit"},
	{PCRGATE_BOOT_REASON_MARKED_BAD, "marked_bad", "marked bad by the running system"},
	{PCRGATE_BOOT_REASON_MANIFEST_MISSING, "manifest_missing", "manifest missing"},
	{PCRGATE_BOOT_REASON_MANIFEST_INVALID, "manifest_invalid", "manifest malformed"},
	{PCRGATE_BOOT_REASON_SIGNATURE, "signature", "manifest signature invalid or untrusted"},
	{PCRGATE_BOOT_REASON_INCOMPATIBLE, "incompatible", "manifest is for other hardware"},
	{PCRGATE_BOOT_REASON_ROLLBACK, "rollback", "security version below the anti-rollback counter"},
	{PCRGATE_BOOT_REASON_IMAGE_MISSING, "image_missing", "image missing"},
	{PCRGATE_BOOT_REASON_IMAGE_SIZE, "image_size", "image size differs from the manifest"},
	{PCRGATE_BOOT_REASON_IMAGE_DIGEST, "image_digest", "image digest differs from the manifest"},
	{PCRGATE_BOOT_REASON_SLOT_BAD, "slot_bad", "slot is marked bad"},
	{PCRGATE_BOOT_REASON_SLOT_EMPTY, "slot_empty", "slot is empty"},
	{PCRGATE_BOOT_REASON_PLATFORM_FAULT, "platform_fault",
	 "platform fault while checking the slot (not marked bad)"},
	{PCRGATE_BOOT_REASON_STATE_WRITE, "state_write", "trial boot could not be recorded, trial skipped"},
	{PCRGATE_BOOT_REASON_NO_BOOTABLE_SLOT, "no_bootable_slot", "no bootable slot"},
	{PCRGATE_BOOT_REASON_COUNTER, "counter", "anti-rollback counter unreadable"},
	{PCRGATE_BOOT_REASON_MEASURE, "measure", "measurement into the TPM failed"},
	{PCRGATE_BOOT_REASON_PORT, "port", "port incomplete"},
};

const char *pcrgate_boot_reason_str(enum pcrgate_boot_reason reason)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].reason == reason)
			return reasons[i].text;
	return "unknown reason";
}

const char *pcrgate_boot_reason_token(enum pcrgate_boot_reason reason)
{
	size_t i;

	for (i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
		if (reasons[i].reason == reason)
			return reasons[i].token;
	return "unknown";
}

void pcrgate_bootstate_fresh(struct pcrgate_bootstate *st)
{
	unsigned i;

	st->seq = 0;
	st->primary = 0;
	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++) {
		st->slot[i].status = PCRGATE_SLOT_UNKNOWN;
		st->slot[i].tries = 0;
	}
	st->fallback_slot = PCRGATE_BOOTSTATE_NO_SLOT;
	st->fallback_reason = PCRGATE_BOOT_REASON_NONE;
}

uint32_t pcrgate_crc32(const uint8_t *data, size_t len)
{
	uint32_t crc = 0xFFFFFFFFu;
	size_t i;
	int bit;

	/* Bitwise: the record is 20 bytes, a table would cost more than it saves. */
	for (i = 0; i < len; i++) {
		crc ^= data[i];
		for (bit = 0; bit < 8; bit++)
			crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1u)));
	}
	return ~crc;
}

int pcrgate_bootstate_seq_newer(uint32_t a, uint32_t b)
{
	uint32_t d = a - b;

	return d != 0 && d < 0x80000000u;
}

int pcrgate_bootstate_check(const struct pcrgate_bootstate *st, const char **why)
{
	const char *w = NULL;
	unsigned i;

	if (st->primary >= PCRGATE_BOOT_SLOTS)
		w = "primary slot out of range";
	for (i = 0; w == NULL && i < PCRGATE_BOOT_SLOTS; i++) {
		switch (st->slot[i].status) {
		case PCRGATE_SLOT_TRIAL:
			if (st->slot[i].tries > PCRGATE_BOOTSTATE_MAX_TRIES)
				w = "trial tries out of range";
			break;
		case PCRGATE_SLOT_UNKNOWN:
		case PCRGATE_SLOT_GOOD:
		case PCRGATE_SLOT_BAD:
		case PCRGATE_SLOT_EMPTY:
			if (st->slot[i].tries != 0)
				w = "tries set on a slot that is not on trial";
			break;
		default:
			w = "unknown slot status";
			break;
		}
	}
	if (w == NULL) {
		if (st->fallback_slot == PCRGATE_BOOTSTATE_NO_SLOT) {
			if (st->fallback_reason != PCRGATE_BOOT_REASON_NONE)
				w = "fallback reason without a fallback slot";
		} else if (st->fallback_slot >= PCRGATE_BOOT_SLOTS) {
			w = "fallback slot out of range";
		} else if (st->fallback_reason == PCRGATE_BOOT_REASON_NONE ||
			   st->fallback_reason > PCRGATE_BOOT_REASON_LAST_STORED) {
			w = "fallback reason out of range";
		}
	}
	if (w != NULL) {
		if (why != NULL)
			*why = w;
		return PCRGATE_ERR_FORMAT;
	}
	return PCRGATE_OK;
}

static void put_u32le(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

int pcrgate_bootstate_encode(const struct pcrgate_bootstate *st, uint8_t *out, size_t cap)
{
	uint8_t rec[PCRGATE_BOOTSTATE_SIZE];
	unsigned i;
	int r;

	if (st == NULL || out == NULL || cap < PCRGATE_BOOTSTATE_SIZE)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	r = pcrgate_bootstate_check(st, NULL);
	if (r != PCRGATE_OK)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	memset(rec, 0, sizeof(rec));
	memcpy(rec + OFF_MAGIC, bootstate_magic, sizeof(bootstate_magic));
	rec[OFF_VERSION] = PCRGATE_BOOTSTATE_VERSION;
	rec[OFF_SIZE] = PCRGATE_BOOTSTATE_SIZE;
	put_u32le(rec + OFF_SEQ, st->seq);
	rec[OFF_PRIMARY] = (uint8_t)st->primary;
	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++) {
		rec[OFF_SLOTS + 2 * i] = (uint8_t)st->slot[i].status;
		rec[OFF_SLOTS + 2 * i + 1] = (uint8_t)st->slot[i].tries;
	}
	rec[OFF_FALLBACK_SLOT] = (uint8_t)st->fallback_slot;
	rec[OFF_FALLBACK_REASON] = (uint8_t)st->fallback_reason;
	put_u32le(rec + OFF_CRC, pcrgate_crc32(rec, OFF_CRC));
	memcpy(out, rec, sizeof(rec));
	return PCRGATE_OK;
}

int pcrgate_bootstate_decode(const uint8_t *buf, size_t len, struct pcrgate_bootstate *st, const char **why)
{
	struct pcrgate_bootstate s;
	struct reader r, c;
	uint8_t magic[4], version, size, primary, status, tries, fb_slot, fb_reason, reserved1;
	uint16_t reserved0;
	uint32_t seq, crc;
	const char *w = NULL;
	unsigned i;

	if (buf == NULL || st == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (len != PCRGATE_BOOTSTATE_SIZE) {
		w = "record has the wrong size";
		goto fail;
	}
	reader_init(&r, buf, len);
	if (reader_copy(&r, magic, sizeof(magic)) != 0 || memcmp(magic, bootstate_magic, sizeof(magic)) != 0) {
		w = "no boot-state record (bad magic)";
		goto fail;
	}
	if (reader_u8(&r, &version) != 0 || version != PCRGATE_BOOTSTATE_VERSION) {
		w = "unsupported record format version";
		goto fail;
	}
	if (reader_u8(&r, &size) != 0 || size != PCRGATE_BOOTSTATE_SIZE) {
		w = "record size field is wrong";
		goto fail;
	}
	/* The CRC is checked before any field is believed. */
	reader_init(&c, buf + OFF_CRC, len - OFF_CRC);
	if (reader_u32le(&c, &crc) != 0 || crc != pcrgate_crc32(buf, OFF_CRC)) {
		w = "CRC mismatch (torn or corrupted record)";
		goto fail;
	}
	if (reader_u16le(&r, &reserved0) != 0 || reserved0 != 0) {
		w = "reserved bytes are not zero";
		goto fail;
	}
	if (reader_u32le(&r, &seq) != 0 || reader_u8(&r, &primary) != 0) {
		w = "record truncated";
		goto fail;
	}
	s.seq = seq;
	s.primary = primary;
	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++) {
		if (reader_u8(&r, &status) != 0 || reader_u8(&r, &tries) != 0) {
			w = "record truncated";
			goto fail;
		}
		s.slot[i].status = (enum pcrgate_slot_status)status;
		s.slot[i].tries = tries;
	}
	if (reader_u8(&r, &fb_slot) != 0 || reader_u8(&r, &fb_reason) != 0 || reader_u8(&r, &reserved1) != 0) {
		w = "record truncated";
		goto fail;
	}
	if (reserved1 != 0) {
		w = "reserved bytes are not zero";
		goto fail;
	}
	s.fallback_slot = fb_slot;
	s.fallback_reason = (enum pcrgate_boot_reason)fb_reason;
	if (pcrgate_bootstate_check(&s, &w) != PCRGATE_OK)
		goto fail;
	*st = s;
	return PCRGATE_OK;

fail:
	if (why != NULL)
		*why = w;
	return PCRGATE_ERR_FORMAT;
}

int pcrgate_bootstate_load(const struct pcrgate_boot_port *port, struct pcrgate_bootstate *st, int *current)
{
	struct pcrgate_bootstate copy[PCRGATE_BOOT_STATE_COPIES];
	int valid[PCRGATE_BOOT_STATE_COPIES];
	uint8_t buf[PCRGATE_BOOTSTATE_SIZE];
	size_t len;
	unsigned i;
	int best = -1;

	if (port == NULL || port->state_read == NULL || st == NULL || current == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	for (i = 0; i < PCRGATE_BOOT_STATE_COPIES; i++) {
		len = 0;
		/* An unreadable copy is as good as a corrupt one: the other copy decides. */
		valid[i] = port->state_read(port->ctx, i, buf, sizeof(buf), &len) == PCRGATE_OK &&
			   len <= sizeof(buf) && pcrgate_bootstate_decode(buf, len, &copy[i], NULL) == PCRGATE_OK;
		if (valid[i] && (best < 0 || pcrgate_bootstate_seq_newer(copy[i].seq, copy[best].seq)))
			best = (int)i;
	}
	if (best < 0)
		pcrgate_bootstate_fresh(st);
	else
		*st = copy[best];
	*current = best;
	return PCRGATE_OK;
}

int pcrgate_bootstate_store(const struct pcrgate_boot_port *port, struct pcrgate_bootstate *st, int *current)
{
	struct pcrgate_bootstate next;
	uint8_t rec[PCRGATE_BOOTSTATE_SIZE];
	unsigned target;
	int r;

	if (port == NULL || port->state_write == NULL || st == NULL || current == NULL ||
	    *current >= PCRGATE_BOOT_STATE_COPIES)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	next = *st;
	next.seq = st->seq + 1;
	/* Never the copy holding the current record: a cut during this write must not touch it. */
	target = *current < 0 ? 0 : ((unsigned)*current + 1) % PCRGATE_BOOT_STATE_COPIES;
	r = pcrgate_bootstate_encode(&next, rec, sizeof(rec));
	if (r != PCRGATE_OK)
		return r;
	r = port->state_write(port->ctx, target, rec, sizeof(rec));
	if (r != PCRGATE_OK)
		return r < 0 ? r : PCRGATE_ERR_IO;
	*st = next;
	*current = (int)target;
	return PCRGATE_OK;
}

int pcrgate_bootstate_equal(const struct pcrgate_bootstate *a, const struct pcrgate_bootstate *b)
{
	unsigned i;

	for (i = 0; i < PCRGATE_BOOT_SLOTS; i++)
		if (a->slot[i].status != b->slot[i].status || a->slot[i].tries != b->slot[i].tries)
			return 0;
	return a->seq == b->seq && a->primary == b->primary && a->fallback_slot == b->fallback_slot &&
	       a->fallback_reason == b->fallback_reason;
}
