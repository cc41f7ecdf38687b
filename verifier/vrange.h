/*
 * pcrgate verifier: the Range request header of a byte download (RFC 9110, section 14), as the
 * bundle route (verifier/api_bundle.c) reads it. A pure function on untrusted text
 * (verifier/vrange.c, over the common library only), fuzzed by tests/fuzz/fuzz_range.c.
 */
#ifndef PCRGATE_VERIFIER_VRANGE_H
#define PCRGATE_VERIFIER_VRANGE_H

#include <stdint.h>

/*
 * What the Range header asks of a representation of size bytes:
 *   1   one satisfiable range: bytes [*first, *last] (clamped to the size) for a 206
 *   0   the whole representation, 200: no header (NULL), another unit than bytes, a malformed
 *       or invalid (last before first) header, or more than one range (which RFC 9110 lets a
 *       server ignore), or a suffix range of an empty representation
 *  -1   a single range that is not satisfiable (its first byte at or past the end, or a suffix
 *       of length 0): 416, with a Content-Range that gives only the size
 * Accepts "bytes=A-B", "bytes=A-" and "bytes=-N", the unit in any case, blanks around the
 * range and empty list elements. Numbers too large for 64 bits are taken as the largest
 * value: past any end. *first and *last are written only when it returns 1.
 */
int vrange_parse(const char *header, uint64_t size, uint64_t *first, uint64_t *last);

#endif
