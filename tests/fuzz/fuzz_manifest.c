/*
 * libFuzzer target for the slot-manifest parser the boot core runs on every slot.
 * Properties beyond not crashing: an accepted manifest formats back to exactly its input
 * (one spelling per meaning, so the measured digest identifies the meaning), and its
 * measurement events always fit the event buffer.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "boot/manifest.h"
#include "boot/measure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[PCRGATE_MANIFEST_MAX];
	struct pcrgate_boot_event events[PCRGATE_BOOT_MAX_EVENTS];
	struct pcrgate_manifest_error err = {0, NULL};
	struct pcrgate_manifest m;
	uint8_t digest[32] = {0};
	size_t len = 0, n = 0;

	if (pcrgate_manifest_parse(data, size, &m, &err) != 0) {
		if (err.what == NULL || err.offset > size + PCRGATE_MANIFEST_MAX)
			abort();
		return 0;
	}
	if (m.n_images < 1 || m.n_images > PCRGATE_MANIFEST_MAX_IMAGES || strcmp(m.images[0].name, "kernel") != 0)
		abort();
	if (pcrgate_manifest_format(&m, out, sizeof(out), &len) != 0 || len != size || memcmp(out, data, size) != 0)
		abort();
	if (pcrgate_boot_events(1, &m, digest, events, PCRGATE_BOOT_MAX_EVENTS, &n) != 0 || n != m.n_images + 3)
		abort();
	return 0;
}
