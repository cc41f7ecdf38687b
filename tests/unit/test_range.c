/*
 * Unit tests of vrange_parse (verifier/vrange.h), the Range header of a bundle download, as a
 * table: single ranges of each form, clamping, unsatisfiable ones, the headers that are
 * ignored (malformed, invalid, several ranges, another unit), and 64-bit overflow. Each case
 * is also written as a seed for tests/fuzz/fuzz_range (its first byte picks the size).
 */
#include "config.h"

#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "seed.h"
#include "verifier/vrange.h"

#define MAX UINT64_MAX
#define UNSET 0xdeadbeefu

/* The sizes a fuzz input's first byte chooses from (tests/fuzz/fuzz_range.c has the same). */
static const uint64_t sizes[] = {0, 1, 100, 3u * 1024 * 1024, UINT64_MAX - 1, UINT64_MAX};

struct range_case {
	const char *header;
	unsigned size; /* index into sizes */
	int want;
	uint64_t first, last;
};

static const struct range_case cases[] = {
	{NULL, 2, 0, 0, 0},
	{"bytes=0-9", 2, 1, 0, 9},
	{"bytes=10-", 2, 1, 10, 99},
	{"bytes=-10", 2, 1, 90, 99},
	{"bytes=-200", 2, 1, 0, 99},
	{"bytes=90-200", 2, 1, 90, 99},
	{"bytes=99-99", 2, 1, 99, 99},
	{"bytes=0-", 1, 1, 0, 0},
	{"bytes=1048576-2097151", 3, 1, 1048576, 2097151},
	/* Unsatisfiable: from the end on, or an empty suffix. */
	{"bytes=100-", 2, -1, 0, 0},
	{"bytes=100-200", 2, -1, 0, 0},
	{"bytes=-0", 2, -1, 0, 0},
	{"bytes=0-0", 0, -1, 0, 0},
	{"bytes=0-", 0, -1, 0, 0},
	/* A suffix of nothing is the (empty) whole. */
	{"bytes=-5", 0, 0, 0, 0},
	/* Spelling: the unit in any case, blanks and empty list elements. */
	{"BYTES=1-2", 2, 1, 1, 2},
	{"Bytes=1-2", 2, 1, 1, 2},
	{" bytes= 1-2 ", 2, 1, 1, 2},
	{"bytes=\t1-2\t", 2, 1, 1, 2},
	{"bytes=1-2,", 2, 1, 1, 2},
	{"bytes=, ,1-2", 2, 1, 1, 2},
	/* Several ranges: served whole. */
	{"bytes=1-2,3-4", 2, 0, 0, 0},
	{"bytes=1-2, -5", 2, 0, 0, 0},
	{"bytes=0-1,0-1", 2, 0, 0, 0},
	{"bytes=500-600,1-2", 2, 0, 0, 0},
	/* Invalid or malformed: ignored. */
	{"bytes=5-2", 2, 0, 0, 0},
	{"bytes=abc", 2, 0, 0, 0},
	{"bytes=1-2x", 2, 0, 0, 0},
	{"bytes=1 -2", 2, 0, 0, 0},
	{"bytes=1- 2", 2, 0, 0, 0},
	{"bytes =1-2", 2, 0, 0, 0},
	{"bytes", 2, 0, 0, 0},
	{"bytes1-2", 2, 0, 0, 0},
	{"items=1-2", 2, 0, 0, 0},
	{"bytes=", 2, 0, 0, 0},
	{"bytes=,", 2, 0, 0, 0},
	{"bytes=-", 2, 0, 0, 0},
	{"bytes=--1", 2, 0, 0, 0},
	{"bytes=+1-2", 2, 0, 0, 0},
	{"bytes=1-2-3", 2, 0, 0, 0},
	{"bytes=1", 2, 0, 0, 0},
	{"bytes=0x10-20", 2, 0, 0, 0},
	{"bytes=1-2;x", 2, 0, 0, 0},
	{"", 2, 0, 0, 0},
	/* Numbers past 64 bits: past any end. */
	{"bytes=99999999999999999999999-", 2, -1, 0, 0},
	{"bytes=0-99999999999999999999999", 2, 1, 0, 99},
	{"bytes=-99999999999999999999999", 2, 1, 0, 99},
	{"bytes=18446744073709551615-", 5, -1, 0, 0},
	{"bytes=18446744073709551614-", 5, 1, MAX - 1, MAX - 1},
	{"bytes=0-18446744073709551615", 5, 1, 0, MAX - 1},
	{"bytes=-1", 5, 1, MAX - 1, MAX - 1},
	{"bytes=-18446744073709551615", 4, 1, 0, MAX - 2},
	{"bytes=99999999999999999999999-99999999999999999999999", 5, -1, 0, 0},
};

static void test_table(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct range_case *c = &cases[i];
		uint64_t first = UNSET, last = UNSET;
		int got = vrange_parse(c->header, sizes[c->size], &first, &last);

		if (got != c->want)
			fail_msg("case %zu \"%s\" (size %" PRIu64 "): %d, not %d", i, c->header ? c->header : "(none)",
				 sizes[c->size], got, c->want);
		if (got == 1) {
			assert_int_equal(first, c->first);
			assert_int_equal(last, c->last);
		} else {
			/* Written only for a range. */
			assert_int_equal(first, UNSET);
			assert_int_equal(last, UNSET);
		}
	}
}

/* Every case as a fuzz seed: one byte choosing the size, then the header. */
static void test_write_seeds(void **state)
{
	char seed[128], file[32];
	size_t i, n;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (cases[i].header == NULL)
			continue;
		n = strlen(cases[i].header);
		assert_true(n + 1 <= sizeof(seed));
		seed[0] = (char)cases[i].size;
		memcpy(seed + 1, cases[i].header, n);
		snprintf(file, sizeof(file), "case-%02zu", i);
		assert_true(test_seed_write("range", file, seed, n + 1) >= 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_write_seeds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
