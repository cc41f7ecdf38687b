/*
 * libFuzzer target for the update payload decoder (lib/payload.h), full and delta against a
 * fixed small base (tests/fuzz/fuzz_payload.h gives the input format). Properties beyond not
 * crashing: the sink never receives more than the expected size, an accepted payload produced
 * exactly that size, every error has a message, and the decoder's heap stays under its
 * ceiling (it is enforced through zstd's allocator; ASan would see an overrun).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "payload.h"
#include "tests/fuzz/fuzz_payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char base_path[4096];

static void remove_base(void)
{
	unlink(base_path);
}

/* The base is a file, as on a device: written once per process. */
static const char *base_file(void)
{
	const char *tmp = getenv("TMPDIR");
	uint8_t base[FUZZ_PAYLOAD_BASE_SIZE];
	int fd, n;

	if (base_path[0] != '\0')
		return base_path;
	n = snprintf(base_path, sizeof(base_path), "%s/fuzz_payload_base.XXXXXX",
		     tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
	if (n < 0 || (size_t)n >= sizeof(base_path))
		abort();
	if ((fd = mkstemp(base_path)) < 0)
		abort();
	fuzz_payload_base(base);
	if (write(fd, base, sizeof(base)) != (ssize_t)sizeof(base) || close(fd) != 0)
		abort();
	atexit(remove_base);
	return base_path;
}

struct sink_state {
	uint64_t got;
	uint64_t expected;
};

static int sink(void *ctx, const uint8_t *p, size_t len)
{
	struct sink_state *s = ctx;

	(void)p;
	s->got += len;
	if (s->got > s->expected)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pcrgate_payload_decoder *d = NULL;
	struct sink_state st = {0, 0};
	pcrgate_errinfo ei;
	size_t piece, off;
	int r = 0;

	if (size < FUZZ_PAYLOAD_HEADER)
		return 0;
	st.expected = (((uint64_t)data[1] << 8) | data[2]) + 1;
	piece = (size_t)data[3] + 1;
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_payload_decoder_new(&d, (data[0] & 1) ? base_file() : NULL, NULL, st.expected, &ei) != 0)
		abort();
	for (off = FUZZ_PAYLOAD_HEADER; off < size && r == 0; off += piece) {
		size_t n = size - off < piece ? size - off : piece;

		r = pcrgate_payload_decoder_feed(d, data + off, n, sink, &st, &ei);
	}
	if (r == 0)
		r = pcrgate_payload_decoder_finish(d, &ei);
	if (r == 0 && st.got != st.expected)
		abort();
	if (r != 0 && ei.message[0] == '\0')
		abort();
	pcrgate_payload_decoder_free(&d);
	return 0;
}
