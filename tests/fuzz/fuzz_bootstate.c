/*
 * libFuzzer target for the boot-state record: decoding any bytes, and choosing between two
 * arbitrary copies. Properties: a record that decodes encodes back to the same bytes (one
 * spelling per state), and after any pair of copies a store leaves the stored state as the
 * one the next load picks, without touching the copy it came from.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/bootstate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct flash {
	uint8_t copy[PCRGATE_BOOT_STATE_COPIES][PCRGATE_BOOTSTATE_SIZE];
	size_t len[PCRGATE_BOOT_STATE_COPIES];
};

static int flash_read(void *ctx, unsigned copy, uint8_t *buf, size_t cap, size_t *len)
{
	struct flash *f = ctx;

	if (f->len[copy] > cap)
		return PCRGATE_ERR_LIMIT;
	memcpy(buf, f->copy[copy], f->len[copy]);
	*len = f->len[copy];
	return 0;
}

static int flash_write(void *ctx, unsigned copy, const uint8_t *buf, size_t len)
{
	struct flash *f = ctx;

	if (len > sizeof(f->copy[copy]))
		abort();
	memcpy(f->copy[copy], buf, len);
	f->len[copy] = len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcrgate_boot_port port = {.state_read = flash_read, .state_write = flash_write};
	struct pcrgate_bootstate st, again;
	uint8_t rec[PCRGATE_BOOTSTATE_SIZE], kept[PCRGATE_BOOTSTATE_SIZE];
	struct flash f;
	size_t half = size / 2;
	int current, current2, i;

	if (pcrgate_bootstate_decode(data, size, &st, NULL) == 0) {
		if (pcrgate_bootstate_encode(&st, rec, sizeof(rec)) != 0 || size != sizeof(rec) ||
		    memcmp(rec, data, sizeof(rec)) != 0)
			abort();
	}

	/* The input split into two copies (each cut to the record size). */
	memset(&f, 0, sizeof(f));
	for (i = 0; i < 2; i++) {
		const uint8_t *p = data + (i == 0 ? 0 : half);
		size_t n = i == 0 ? half : size - half;

		f.len[i] = n < PCRGATE_BOOTSTATE_SIZE ? n : PCRGATE_BOOTSTATE_SIZE;
		memcpy(f.copy[i], p, f.len[i]);
	}
	port.ctx = &f;
	if (pcrgate_bootstate_load(&port, &st, &current) != 0 || current < -1 || current > 1)
		abort();
	if (current >= 0)
		memcpy(kept, f.copy[current], sizeof(kept));
	current2 = current;
	if (pcrgate_bootstate_store(&port, &st, &current2) != 0 || current2 == current)
		abort();
	if (current >= 0 && memcmp(kept, f.copy[current], sizeof(kept)) != 0)
		abort();
	if (pcrgate_bootstate_load(&port, &again, &current) != 0 || current != current2 || again.seq != st.seq)
		abort();
	return 0;
}
