/*
 * Unit tests of the boot core's two formats: the boot-state record (golden bytes, strict
 * decoding, copy selection) and the slot manifest (its grammar, every rejection, the
 * canonical formatter). Also writes seeds for the fuzz targets into $PCRGATE_FUZZ_CORPUS.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot/core.h"
#include "boot_fake.h"
#include "pcrgate/pcr_map.h"
#include "seed.h"

/* seq 7, primary b, a good, b on trial with 3 tries, no fallback: docs/boot.md's example. */
static const uint8_t golden[PCRGATE_BOOTSTATE_SIZE] = {
	0x50, 0x47, 0x42, 0x53, 0x01, 0x18, 0x00, 0x00, 0x07, 0x00, 0x00, 0x00,
	0x01, 0x01, 0x00, 0x02, 0x03, 0xff, 0x00, 0x00, 0xac, 0xa3, 0x22, 0x96,
};

static void golden_state(struct pcrgate_bootstate *st)
{
	pcrgate_bootstate_fresh(st);
	st->seq = 7;
	st->primary = 1;
	st->slot[0].status = PCRGATE_SLOT_GOOD;
	st->slot[1].status = PCRGATE_SLOT_TRIAL;
	st->slot[1].tries = 3;
}

/* Writes one seed file for fuzz target DIR. */
static void seed(const char *dir, const char *name, const void *data, size_t len)
{
	assert_true(test_seed_write(dir, name, data, len) >= 0);
}

static void test_crc32(void **state)
{
	(void)state;
	/* The check value of CRC-32/ISO-HDLC, as zlib computes it. */
	assert_int_equal(pcrgate_crc32((const uint8_t *)"123456789", 9), 0xCBF43926u);
	assert_int_equal(pcrgate_crc32(NULL, 0), 0);
}

static void test_record_golden(void **state)
{
	struct pcrgate_bootstate st, back;
	uint8_t rec[PCRGATE_BOOTSTATE_SIZE];
	const char *why = NULL;

	(void)state;
	golden_state(&st);
	assert_int_equal(pcrgate_bootstate_encode(&st, rec, sizeof(rec)), 0);
	assert_memory_equal(rec, golden, sizeof(golden));
	assert_int_equal(pcrgate_bootstate_decode(golden, sizeof(golden), &back, &why), 0);
	assert_int_equal(back.seq, 7);
	assert_int_equal(back.primary, 1);
	assert_int_equal(back.slot[1].status, PCRGATE_SLOT_TRIAL);
	assert_int_equal(back.slot[1].tries, 3);
	assert_int_equal(back.fallback_slot, PCRGATE_BOOTSTATE_NO_SLOT);
	assert_int_equal(pcrgate_bootstate_encode(&st, rec, sizeof(rec) - 1), PCRGATE_ERR_INVALID_ARGUMENT);
	seed("bootstate", "golden", golden, sizeof(golden));

	st.fallback_slot = 0;
	st.fallback_reason = PCRGATE_BOOT_REASON_IMAGE_DIGEST;
	assert_int_equal(pcrgate_bootstate_encode(&st, rec, sizeof(rec)), 0);
	assert_int_equal(pcrgate_bootstate_decode(rec, sizeof(rec), &back, NULL), 0);
	assert_int_equal(back.fallback_reason, PCRGATE_BOOT_REASON_IMAGE_DIGEST);
	seed("bootstate", "fallback", rec, sizeof(rec));
	/* A state that is not one cannot be written. */
	st.fallback_reason = PCRGATE_BOOT_REASON_NO_BOOTABLE_SLOT;
	assert_int_equal(pcrgate_bootstate_encode(&st, rec, sizeof(rec)), PCRGATE_ERR_INVALID_ARGUMENT);
}

/* golden with byte `off` set to v and the CRC fixed up, so only that field is wrong. */
static void expect_field_rejected(size_t off, uint8_t v, const char *why_part)
{
	uint8_t rec[PCRGATE_BOOTSTATE_SIZE];
	struct pcrgate_bootstate st;
	const char *why = NULL;
	uint32_t crc;

	memcpy(rec, golden, sizeof(rec));
	rec[off] = v;
	crc = pcrgate_crc32(rec, 20);
	rec[20] = (uint8_t)crc;
	rec[21] = (uint8_t)(crc >> 8);
	rec[22] = (uint8_t)(crc >> 16);
	rec[23] = (uint8_t)(crc >> 24);
	assert_int_equal(pcrgate_bootstate_decode(rec, sizeof(rec), &st, &why), PCRGATE_ERR_FORMAT);
	assert_non_null(why);
	if (strstr(why, why_part) == NULL)
		fail_msg("byte %zu = %u: \"%s\" does not mention \"%s\"", off, v, why, why_part);
}

static void test_record_rejects(void **state)
{
	uint8_t rec[PCRGATE_BOOTSTATE_SIZE], erased[PCRGATE_BOOTSTATE_SIZE];
	struct pcrgate_bootstate st;
	const char *why = NULL;
	size_t i;
	int bit;

	(void)state;
	/* Every single-bit error anywhere is caught. */
	for (i = 0; i < sizeof(golden); i++) {
		for (bit = 0; bit < 8; bit++) {
			memcpy(rec, golden, sizeof(rec));
			rec[i] ^= (uint8_t)(1u << bit);
			assert_int_equal(pcrgate_bootstate_decode(rec, sizeof(rec), &st, NULL), PCRGATE_ERR_FORMAT);
		}
	}
	/* A torn write: the first half of a new record over an older one. */
	golden_state(&st);
	st.seq = 8;
	st.slot[1].tries = 2;
	assert_int_equal(pcrgate_bootstate_encode(&st, rec, sizeof(rec)), 0);
	memcpy(rec + 12, golden + 12, 12);
	assert_int_equal(pcrgate_bootstate_decode(rec, sizeof(rec), &st, &why), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(why, "CRC"));
	seed("bootstate", "torn", rec, sizeof(rec));
	memset(erased, 0xFF, sizeof(erased));
	assert_int_equal(pcrgate_bootstate_decode(erased, sizeof(erased), &st, &why), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(why, "magic"));
	assert_int_equal(pcrgate_bootstate_decode(golden, sizeof(golden) - 1, &st, &why), PCRGATE_ERR_FORMAT);
	assert_int_equal(pcrgate_bootstate_decode(golden, 0, &st, &why), PCRGATE_ERR_FORMAT);

	expect_field_rejected(4, 2, "version");
	expect_field_rejected(5, 25, "size");
	expect_field_rejected(6, 1, "reserved");
	expect_field_rejected(19, 1, "reserved");
	expect_field_rejected(12, 2, "primary");
	expect_field_rejected(13, 5, "status");
	expect_field_rejected(14, 1, "not on trial");
	expect_field_rejected(16, PCRGATE_BOOTSTATE_MAX_TRIES + 1, "tries");
	expect_field_rejected(17, 2, "fallback slot");
	expect_field_rejected(18, 3, "without a fallback slot");
	expect_field_rejected(17, 0, "fallback reason");
}

static void test_seq_order(void **state)
{
	(void)state;
	assert_true(pcrgate_bootstate_seq_newer(2, 1));
	assert_false(pcrgate_bootstate_seq_newer(1, 2));
	assert_false(pcrgate_bootstate_seq_newer(5, 5));
	/* Wrapping past 2^32 keeps the order. */
	assert_true(pcrgate_bootstate_seq_newer(0, 0xFFFFFFFFu));
	assert_true(pcrgate_bootstate_seq_newer(3, 0xFFFFFFF0u));
	assert_false(pcrgate_bootstate_seq_newer(0xFFFFFFFFu, 0));
}

static void test_load_picks_newest(void **state)
{
	struct pcrgate_bootstate st;
	struct fake f;
	int current;

	(void)state;
	fake_init(&f);
	golden_state(&st);
	st.seq = 0xFFFFFFFFu;
	assert_int_equal(pcrgate_bootstate_encode(&st, f.copy[1], PCRGATE_BOOTSTATE_SIZE), 0);
	st.seq = 0;
	st.slot[1].tries = 2;
	assert_int_equal(pcrgate_bootstate_encode(&st, f.copy[0], PCRGATE_BOOTSTATE_SIZE), 0);
	fake_state(&f, &st, &current);
	assert_int_equal(current, 0);
	assert_int_equal(st.slot[1].tries, 2);
	/* The same sequence number twice (never written so): copy 0. */
	memcpy(f.copy[1], f.copy[0], PCRGATE_BOOTSTATE_SIZE);
	fake_state(&f, &st, &current);
	assert_int_equal(current, 0);
	/* An unreadable copy is an invalid one. */
	f.missing[0] = 1;
	fake_state(&f, &st, &current);
	assert_int_equal(current, 1);
	f.missing[1] = 1;
	fake_state(&f, &st, &current);
	assert_int_equal(current, -1);
	assert_int_equal(st.slot[0].status, PCRGATE_SLOT_UNKNOWN);
	assert_int_equal(st.primary, 0);
	fake_free(&f);
}

#define MANIFEST_HEAD "pcrgate-manifest 1\ncompatible=acme,gw-100\nversion=2.1.0\nsecurity_version=42\n"
#define HEX64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define KERNEL "image=kernel size=8388608 sha256=" HEX64 "\n"
#define INITRD "image=initrd size=1 sha256=" HEX64 "\n"
#define DTB "image=dtb size=2147483648 sha256=" HEX64 "\n"

static void test_manifest_valid(void **state)
{
	static const char full[] = MANIFEST_HEAD KERNEL INITRD DTB;
	static const char kernel_only[] = MANIFEST_HEAD KERNEL;
	struct pcrgate_manifest m;
	struct pcrgate_manifest_error err = {0, NULL};
	uint8_t out[PCRGATE_MANIFEST_MAX];
	size_t len = 0;

	(void)state;
	assert_int_equal(pcrgate_manifest_parse((const uint8_t *)full, strlen(full), &m, &err), 0);
	assert_string_equal(m.compatible, "acme,gw-100");
	assert_string_equal(m.version, "2.1.0");
	assert_int_equal(m.security_version, 42);
	assert_int_equal(m.n_images, 3);
	assert_string_equal(m.images[0].name, "kernel");
	assert_int_equal(m.images[0].size, 8388608);
	assert_int_equal(m.images[0].sha256[0], 0x01);
	assert_int_equal(m.images[0].sha256[31], 0xef);
	assert_int_equal(m.images[2].size, PCRGATE_MANIFEST_IMAGE_MAX);
	assert_ptr_equal(pcrgate_manifest_image(&m, "initrd"), &m.images[1]);
	assert_null(pcrgate_manifest_image(&m, "rootfs"));
	assert_null(pcrgate_manifest_image(&m, "kern"));
	/* One spelling per meaning: formatting gives back the very bytes. */
	assert_int_equal(pcrgate_manifest_format(&m, out, sizeof(out), &len), 0);
	assert_int_equal(len, strlen(full));
	assert_memory_equal(out, full, len);
	assert_int_equal(pcrgate_manifest_format(&m, out, 10, &len), PCRGATE_ERR_LIMIT);
	seed("manifest", "full", full, strlen(full));

	assert_int_equal(pcrgate_manifest_parse((const uint8_t *)kernel_only, strlen(kernel_only), &m, NULL), 0);
	assert_int_equal(m.n_images, 1);
	seed("manifest", "kernel-only", kernel_only, strlen(kernel_only));
	/* The formatter refuses what the parser would. */
	m.version[3] = ' ';
	assert_int_equal(pcrgate_manifest_format(&m, out, sizeof(out), &len), PCRGATE_ERR_INVALID_ARGUMENT);
}

struct bad_manifest {
	const char *text;
	size_t len; /* 0: strlen(text) */
	int code;
	size_t offset;
	const char *what;
};

static void test_manifest_rejects(void **state)
{
	static const char nul[] = MANIFEST_HEAD "image=kernel\0size=1 sha256=" HEX64 "\n";
	static const struct bad_manifest cases[] = {
		{"", 0, PCRGATE_ERR_FORMAT, 0, "empty"},
		{"pcrgate-manifest 2\n", 0, PCRGATE_ERR_FORMAT, 0, "first line"},
		{"pcrgate-manifest 1", 0, PCRGATE_ERR_FORMAT, 18, "newline"},
		{"pcrgate-manifest 1\r\n", 0, PCRGATE_ERR_FORMAT, 18, "carriage return"},
		{MANIFEST_HEAD "\n" KERNEL, 0, PCRGATE_ERR_FORMAT, 76, "key=value"},
		{MANIFEST_HEAD "policy=x\n", 0, PCRGATE_ERR_FORMAT, 76, "unknown key"},
		{MANIFEST_HEAD "version=2\n", 0, PCRGATE_ERR_FORMAT, 76, "out of order"},
		{MANIFEST_HEAD "security_version=1\n", 0, PCRGATE_ERR_FORMAT, 76, "duplicate key"},
		{"pcrgate-manifest 1\nversion=1\n", 0, PCRGATE_ERR_FORMAT, 29, "missing compatible"},
		{"pcrgate-manifest 1\ncompatible=a\nsecurity_version=1\n" KERNEL, 0, PCRGATE_ERR_FORMAT, 149,
		 "missing version"},
		{"pcrgate-manifest 1\ncompatible=a\nversion=1\n" KERNEL, 0, PCRGATE_ERR_FORMAT, 140,
		 "missing security_version"},
		{MANIFEST_HEAD, 0, PCRGATE_ERR_FORMAT, 76, "missing image"},
		{"pcrgate-manifest 1\ncompatible=\n", 0, PCRGATE_ERR_FORMAT, 30, "empty value"},
		{"pcrgate-manifest 1\ncompatible=a b\n", 0, PCRGATE_ERR_FORMAT, 31, "not allowed"},
		{"pcrgate-manifest 1\ncompatible=a\tb\n", 0, PCRGATE_ERR_FORMAT, 31, "printable"},
		{"pcrgate-manifest 1\ncompatible=\xc3\xa9\n", 0, PCRGATE_ERR_FORMAT, 30, "printable"},
		{"pcrgate-manifest 1\ncompatible=a=b\n", 0, PCRGATE_ERR_FORMAT, 31, "not allowed"},
		{"pcrgate-manifest 1\ncompatible="
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n",
		 0, PCRGATE_ERR_LIMIT, 30, "longer than 64"},
		{"pcrgate-manifest 1\ncompatible=a\nversion=1\nsecurity_version=01\n", 0, PCRGATE_ERR_FORMAT, 59,
		 "leading zero"},
		{"pcrgate-manifest 1\ncompatible=a\nversion=1\nsecurity_version=+1\n", 0, PCRGATE_ERR_FORMAT, 59,
		 "decimal digit"},
		{"pcrgate-manifest 1\ncompatible=a\nversion=1\nsecurity_version=\n", 0, PCRGATE_ERR_FORMAT, 59,
		 "empty number"},
		{"pcrgate-manifest 1\ncompatible=a\nversion=1\nsecurity_version=4294967296\n", 0, PCRGATE_ERR_LIMIT,
		 59, "too large"},
		{MANIFEST_HEAD INITRD, 0, PCRGATE_ERR_FORMAT, 82, "first image must be the kernel"},
		{MANIFEST_HEAD KERNEL KERNEL, 0, PCRGATE_ERR_FORMAT, 180, "duplicate image"},
		{MANIFEST_HEAD KERNEL DTB INITRD, 0, PCRGATE_ERR_FORMAT, 278, "out of order"},
		{MANIFEST_HEAD "image=rootfs size=1 sha256=" HEX64 "\n", 0, PCRGATE_ERR_FORMAT, 82, "unknown image"},
		{MANIFEST_HEAD "image=kernel size=0 sha256=" HEX64 "\n", 0, PCRGATE_ERR_FORMAT, 94, "at least 1"},
		{MANIFEST_HEAD "image=kernel size=010 sha256=" HEX64 "\n", 0, PCRGATE_ERR_FORMAT, 94, "leading zero"},
		{MANIFEST_HEAD "image=kernel size=2147483649 sha256=" HEX64 "\n", 0, PCRGATE_ERR_LIMIT, 94,
		 "too large"},
		{MANIFEST_HEAD "image=kernel size=1 sha256=" HEX64 "0\n", 0, PCRGATE_ERR_FORMAT, 103, "64"},
		{MANIFEST_HEAD "image=kernel size=1 sha256=0123456789ABCDEF"
			       "0123456789abcdef0123456789abcdef0123456789abcdef\n",
		 0, PCRGATE_ERR_FORMAT, 113, "lower-case"},
		{MANIFEST_HEAD "image=kernel sha256=" HEX64 " size=1\n", 0, PCRGATE_ERR_FORMAT, 89, "image line"},
		{MANIFEST_HEAD "image=kernel  size=1 sha256=" HEX64 "\n", 0, PCRGATE_ERR_FORMAT, 89, "image line"},
		{MANIFEST_HEAD "image=kernel size=1\n", 0, PCRGATE_ERR_FORMAT, 94, "image line"},
		{MANIFEST_HEAD "image=kernel\n", 0, PCRGATE_ERR_FORMAT, 82, "image line"},
		{nul, sizeof(nul) - 1, PCRGATE_ERR_FORMAT, 88, "NUL"},
	};
	struct pcrgate_manifest m;
	char big[PCRGATE_MANIFEST_MAX + 2], longline[400];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_manifest *c = &cases[i];
		struct pcrgate_manifest_error err = {0, NULL};
		size_t len = c->len ? c->len : strlen(c->text);
		char name[32];
		int r;

		r = pcrgate_manifest_parse((const uint8_t *)c->text, len, &m, &err);
		if (r != c->code || err.what == NULL || strstr(err.what, c->what) == NULL || err.offset != c->offset)
			fail_msg("case %zu: got %d at %zu \"%s\", want %d at %zu \"%s\"", i, r, err.offset,
				 err.what ? err.what : "", c->code, c->offset, c->what);
		snprintf(name, sizeof(name), "reject-%02zu", i);
		seed("manifest", name, c->text, len);
	}
	/* Hard caps: one line, the whole manifest. */
	snprintf(longline, sizeof(longline), "pcrgate-manifest 1\ncompatible=%0300d\n", 0);
	assert_int_equal(pcrgate_manifest_parse((const uint8_t *)longline, strlen(longline), &m, NULL),
			 PCRGATE_ERR_LIMIT);
	memset(big, 'a', sizeof(big));
	assert_int_equal(pcrgate_manifest_parse((const uint8_t *)big, PCRGATE_MANIFEST_MAX + 1, &m, NULL),
			 PCRGATE_ERR_LIMIT);
	assert_int_equal(pcrgate_manifest_parse(NULL, 0, &m, NULL), PCRGATE_ERR_INVALID_ARGUMENT);
}

static void test_events_bounds(void **state)
{
	static const char text[] = "pcrgate-manifest 1\ncompatible=a\n"
				   "version=vvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvvv\n"
				   "security_version=4294967295\n" KERNEL INITRD DTB;
	struct pcrgate_boot_event ev[PCRGATE_BOOT_MAX_EVENTS];
	struct pcrgate_manifest m;
	uint8_t digest[32] = {0};
	size_t n = 0;

	(void)state;
	/* The longest fields still fit an event. */
	assert_int_equal(pcrgate_manifest_parse((const uint8_t *)text, strlen(text), &m, NULL), 0);
	assert_int_equal(pcrgate_boot_events(1, &m, digest, ev, PCRGATE_BOOT_MAX_EVENTS, &n), 0);
	assert_int_equal(n, 6);
	assert_true(ev[0].len <= PCRGATE_BOOT_EVENT_MAX);
	assert_int_equal(ev[0].hashed_off, strlen(PCRGATE_EVENT_LABEL_SLOT) + 1);
	assert_int_equal(ev[0].hashed_len, ev[0].len - ev[0].hashed_off - 1);
	assert_int_equal(pcrgate_boot_events(1, &m, digest, ev, 5, &n), PCRGATE_ERR_LIMIT);
	assert_int_equal(pcrgate_boot_events(2, &m, digest, ev, PCRGATE_BOOT_MAX_EVENTS, &n),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	seed("manifest", "longest", text, strlen(text));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_crc32),
		cmocka_unit_test(test_record_golden),
		cmocka_unit_test(test_record_rejects),
		cmocka_unit_test(test_seq_order),
		cmocka_unit_test(test_load_picks_newest),
		cmocka_unit_test(test_manifest_valid),
		cmocka_unit_test(test_manifest_rejects),
		cmocka_unit_test(test_events_bounds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
