/*
 * The input format of tests/fuzz/fuzz_payload.c, shared with the unit test that writes its
 * seeds: byte 0 selects full (even) or delta (odd) against the fixed base below; bytes 1-2
 * (big-endian, plus one) are the expected image size; byte 3 is the size of the pieces the
 * payload is fed in (plus one); the rest is the payload.
 */
#ifndef PCRGATE_FUZZ_PAYLOAD_H
#define PCRGATE_FUZZ_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#define FUZZ_PAYLOAD_HEADER 4
#define FUZZ_PAYLOAD_BASE_SIZE 8192

/* The fixed base: runs and patterns, so that deltas against it have something to match. */
static inline void fuzz_payload_base(uint8_t *out)
{
	for (size_t i = 0; i < FUZZ_PAYLOAD_BASE_SIZE; i++)
		out[i] = (uint8_t)(((i * 2654435761u) >> 13) ^ (i / 64));
}

#endif
