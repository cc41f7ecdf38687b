/*
 * libFuzzer target for the Range header parser of the bundle route (verifier/vrange.h), which
 * reads a client's header. The first byte picks the file size (as tests/unit/test_range.c's
 * seeds do), the rest is the header. Properties beyond not crashing: the answer is -1, 0 or 1;
 * a range lies inside the file, first to last; the outputs are written only for a range.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "verifier/vrange.h"

#define MAX_HEADER 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint64_t sizes[] = {0, 1, 100, 3u * 1024 * 1024, UINT64_MAX - 1, UINT64_MAX};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char header[MAX_HEADER + 1];
	uint64_t file, first = 1, last = 0;
	size_t n;
	int r;

	if (size < 1 || size - 1 > MAX_HEADER)
		return 0;
	file = sizes[data[0] % (sizeof(sizes) / sizeof(sizes[0]))];
	n = size - 1;
	memcpy(header, data + 1, n);
	header[n] = '\0';
	r = vrange_parse(header, file, &first, &last);
	if (r < -1 || r > 1)
		abort();
	if (r == 1 && (first > last || last >= file))
		abort();
	if (r != 1 && (first != 1 || last != 0))
		abort();
	return 0;
}
