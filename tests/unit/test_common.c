/* Unit tests for the common library: bounded reader, hex, base64, algorithms, PCR sets, atomic files. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pcrgate/alg.h"
#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"
#include "reader.h"

static void test_reader_bounds(void **state)
{
	const uint8_t buf[] = {0x01, 0x02, 0x03, 0x04, 0x05};
	struct reader r;
	uint32_t v32;
	uint16_t v16;
	const uint8_t *p;

	(void)state;
	reader_init(&r, buf, sizeof(buf));
	assert_int_equal(reader_u32le(&r, &v32), 0);
	assert_int_equal(v32, 0x04030201);
	assert_int_equal(r.off, 4);
	/* A failed read leaves the reader where it was. */
	assert_int_equal(reader_u16le(&r, &v16), -1);
	assert_int_equal(r.off, 4);
	assert_int_equal(r.left, 1);
	assert_int_equal(reader_bytes(&r, 2, &p), -1);
	assert_int_equal(reader_bytes(&r, 1, &p), 0);
	assert_int_equal(*p, 5);
	assert_int_equal(r.left, 0);
	/* A huge length cannot wrap the check. */
	reader_init(&r, buf, sizeof(buf));
	assert_int_equal(reader_skip(&r, SIZE_MAX), -1);
	reader_init(&r, buf, sizeof(buf));
	assert_int_equal(reader_u16be(&r, &v16), 0);
	assert_int_equal(v16, 0x0102);
}

/* pcrgate_store_be writes what reader_u64be reads back, and only its n bytes. */
static void test_store_be(void **state)
{
	uint8_t buf[10];
	struct reader r;
	uint64_t v;

	(void)state;
	memset(buf, 0xee, sizeof(buf));
	pcrgate_store_be(buf + 1, 0x0102030405060708u, 8);
	assert_int_equal(buf[0], 0xee);
	assert_int_equal(buf[9], 0xee);
	reader_init(&r, buf + 1, 8);
	assert_int_equal(reader_u64be(&r, &v), 0);
	assert_true(v == 0x0102030405060708u);
	/* The low bytes only: 6 of a millisecond time. */
	memset(buf, 0xee, sizeof(buf));
	pcrgate_store_be(buf, 0xffff0a0b0c0d0e0fu, 6);
	assert_memory_equal(buf, "\x0a\x0b\x0c\x0d\x0e\x0f\xee", 7);
}

/* pcrgate_key_uri_shown: a URI's query (a PIN) never shown; a file name as it is; cut to fit. */
static void test_key_uri_shown(void **state)
{
	char out[64], small[12];

	(void)state;
	assert_int_equal(pcrgate_key_uri_shown("pkcs11:token=ca;object=root?pin-value=123456", out, sizeof(out)), 1);
	assert_string_equal(out, "pkcs11:token=ca;object=root?...");
	assert_int_equal(pcrgate_key_uri_shown("/etc/pcrgate/key.pem", out, sizeof(out)), 0);
	assert_string_equal(out, "/etc/pcrgate/key.pem");
	assert_int_equal(pcrgate_key_uri_shown("handle:0x81000001", small, sizeof(small)), 0);
	assert_string_equal(small, "handle:0x81");
	assert_int_equal(pcrgate_key_uri_shown("pkcs11:object=a-long-name?pin-value=9", small, sizeof(small)), 1);
	assert_null(strstr(small, "pin"));
}

static void test_hex(void **state)
{
	const uint8_t in[] = {0x00, 0xab, 0xff};
	uint8_t out[4];
	char hex[7];
	size_t n;

	(void)state;
	pcrgate_hex_encode(in, sizeof(in), hex);
	assert_string_equal(hex, "00abff");
	assert_int_equal(pcrgate_hex_decode("00ABff", out, sizeof(out), &n), 0);
	assert_int_equal(n, 3);
	assert_memory_equal(out, in, 3);
	assert_int_equal(pcrgate_hex_decode("abc", out, sizeof(out), &n), PCRGATE_ERR_FORMAT);
	assert_int_equal(pcrgate_hex_decode("zz", out, sizeof(out), &n), PCRGATE_ERR_FORMAT);
	assert_int_equal(pcrgate_hex_decode("0011223344", out, sizeof(out), &n), PCRGATE_ERR_LIMIT);
}

static void test_alg_and_extend(void **state)
{
	uint8_t pcr[32] = {0}, digest[32];
	char hex[65];

	(void)state;
	assert_int_equal(pcrgate_alg_from_name("sm3_256"), PCRGATE_ALG_SM3_256);
	assert_string_equal(pcrgate_alg_name(PCRGATE_ALG_SHA384), "sha384");
	assert_int_equal(pcrgate_alg_digest_size(PCRGATE_ALG_SHA512), 64);
	assert_int_equal(pcrgate_alg_digest_size(0x9999), 0);
	assert_null(pcrgate_alg_name(0x9999));
	/* Extending zeros with sha256("") is a well-known value. */
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, "", 0, digest), 0);
	assert_int_equal(pcrgate_pcr_extend(PCRGATE_ALG_SHA256, pcr, digest), 0);
	pcrgate_hex_encode(pcr, 32, hex);
	assert_string_equal(hex, "1c9ecec90e28d2461650418635878a5c91e49f47586ecf75f2b0cbb94e897112");
	/* sm3 is available from OpenSSL's default provider. */
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SM3_256, "abc", 3, digest), 0);
	pcrgate_hex_encode(digest, 32, hex);
	assert_string_equal(hex, "66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0");
}

static void test_pcrs(void **state)
{
	pcrgate_pcrs *p = pcrgate_pcrs_new(), *d;
	uint8_t v20[20], v32[32];
	size_t len;

	(void)state;
	memset(v20, 0x11, sizeof(v20));
	memset(v32, 0x22, sizeof(v32));
	assert_non_null(p);
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA256, 7, v32, 32), 0);
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA1, 0, v20, 20), 0);
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA1, 0, v32, 32), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA1, 32, v20, 20), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_pcrs_set(p, 0x9999, 0, v20, 20), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_pcrs_bank_count(p), 2);
	assert_int_equal(pcrgate_pcrs_bank_alg(p, 0), PCRGATE_ALG_SHA1);
	assert_int_equal(pcrgate_pcrs_bank_alg(p, 1), PCRGATE_ALG_SHA256);
	assert_int_equal(pcrgate_pcrs_mask(p, PCRGATE_ALG_SHA256), 1u << 7);
	assert_memory_equal(pcrgate_pcrs_get(p, PCRGATE_ALG_SHA256, 7, &len), v32, 32);
	assert_int_equal(len, 32);
	assert_null(pcrgate_pcrs_get(p, PCRGATE_ALG_SHA256, 6, NULL));
	d = pcrgate_pcrs_dup(p);
	assert_memory_equal(pcrgate_pcrs_get(d, PCRGATE_ALG_SHA1, 0, NULL), v20, 20);
	pcrgate_pcrs_free(&p);
	assert_null(p);
	pcrgate_pcrs_free(&d);
	pcrgate_pcrs_free(&d);
}

static void test_atomic_write(void **state)
{
	char dir[] = "/tmp/pcrgate-test-XXXXXX", path[64];
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state", dir);
	assert_int_equal(pcrgate_file_write_atomic(path, (const uint8_t *)"one", 3, 0600, &ei), 0);
	assert_int_equal(pcrgate_file_write_atomic(path, (const uint8_t *)"second", 6, 0600, &ei), 0);
	assert_int_equal(pcrgate_file_read(path, 100, &buf, &len, &ei), 0);
	assert_int_equal(len, 6);
	assert_memory_equal(buf, "second", 6);
	free(buf);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* A file over the cap is refused, naming the limit. */
	assert_int_equal(pcrgate_file_read(path, 5, &buf, &len, &ei), PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "allowed"));
	/* Writing into a missing directory fails cleanly. */
	snprintf(path, sizeof(path), "%s/missing/state", dir);
	assert_int_equal(pcrgate_file_write_atomic(path, (const uint8_t *)"x", 1, 0600, &ei), PCRGATE_ERR_IO);
	snprintf(path, sizeof(path), "%s/state", dir);
	unlink(path);
	assert_int_equal(rmdir(dir), 0); /* no temporary file left behind */
}

/* pcrgate_file_create: a new file of exactly the mode asked, never over an existing one or through a link. */
static void test_file_create(void **state)
{
	char dir[] = "/tmp/pcrgate-test-XXXXXX", path[64], link[64], absent[64];
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len;
	struct stat st;
	mode_t old = umask(077);

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(pcrgate_file_create(path, (const uint8_t *)"data", 4, 0644, &ei), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(pcrgate_file_read(path, 100, &buf, &len, &ei), 0);
	assert_int_equal(len, 4);
	assert_memory_equal(buf, "data", 4);
	free(buf);
	assert_int_equal(pcrgate_file_create(path, (const uint8_t *)"x", 1, 0644, &ei), PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "creating"));
	/* A dangling link: creating through it would make its target; it is refused and nothing is made. */
	snprintf(absent, sizeof(absent), "%s/absent", dir);
	assert_int_equal(symlink(absent, link), 0);
	assert_int_equal(pcrgate_file_create(link, (const uint8_t *)"x", 1, 0644, &ei), PCRGATE_ERR_IO);
	assert_int_equal(access(absent, F_OK), -1);
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
	umask(old);
}

static void test_read_refuses_fifo(void **state)
{
	char dir[] = "/tmp/pcrgate-test-XXXXXX", path[64];
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/fifo", dir);
	assert_int_equal(mkfifo(path, 0600), 0);
	/* Without a writer, a blocking open would hang here. */
	assert_int_equal(pcrgate_file_read(path, 100, &buf, &len, &ei), PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "not a regular file"));
	assert_null(buf);
	unlink(path);
	assert_int_equal(rmdir(dir), 0);
}

static void test_hex_no_partial_output(void **state)
{
	uint8_t out[4] = {0xee, 0xee, 0xee, 0xee};
	size_t n = 99;

	(void)state;
	assert_int_equal(pcrgate_hex_decode("0011zz", out, sizeof(out), &n), PCRGATE_ERR_FORMAT);
	assert_int_equal(out[0], 0xee);
	assert_int_equal(n, 99);
}

/* Decodes text (NUL-terminated) with the alphabet into out; returns the result, ei filled. */
static int b64(const char *text, int alphabet, uint8_t *out, size_t cap, size_t *len, pcrgate_errinfo *ei)
{
	pcrgate_errinfo_clear(ei);
	return pcrgate_base64_decode(text, strlen(text), alphabet, out, cap, len, ei);
}

static void test_base64(void **state)
{
	/* RFC 4648 section 10 and two bytes that differ between the alphabets (0xfb 0xff). */
	static const struct {
		const char *text;
		int alphabet;
		const char *bytes;
	} good[] = {
		{"", PCRGATE_BASE64_STD, ""},		  {"Zg==", PCRGATE_BASE64_STD, "f"},
		{"Zm8=", PCRGATE_BASE64_STD, "fo"},	  {"Zm9v", PCRGATE_BASE64_STD, "foo"},
		{"Zm9vYmFy", PCRGATE_BASE64_STD, "foobar"}, {"+/8=", PCRGATE_BASE64_STD, "\xfb\xff"},
		{"", PCRGATE_BASE64_URL, ""},		  {"Zg", PCRGATE_BASE64_URL, "f"},
		{"Zm8", PCRGATE_BASE64_URL, "fo"},	  {"Zm9vYmE", PCRGATE_BASE64_URL, "fooba"},
		{"-_8", PCRGATE_BASE64_URL, "\xfb\xff"},
	};
	/* Each bad text with the position the error names. */
	static const struct {
		const char *text;
		int alphabet;
		size_t offset;
	} bad[] = {
		{"Zg", PCRGATE_BASE64_STD, 2},	  /* padding is required */
		{"Zm9vY", PCRGATE_BASE64_STD, 5}, /* no length has 4n+1 characters */
		{"Zg=a", PCRGATE_BASE64_STD, 2},  /* '=' only at the end */
		{"Z===", PCRGATE_BASE64_STD, 1},  /* at most two of them */
		{"=AAA", PCRGATE_BASE64_STD, 0},  {"Zm8 ", PCRGATE_BASE64_STD, 3},
		{"Zm\n8", PCRGATE_BASE64_STD, 2}, {"-_8=", PCRGATE_BASE64_STD, 0},
		{"Zh==", PCRGATE_BASE64_STD, 1},  /* bits left over: "Zg==" is the one text */
		{"Zm9=", PCRGATE_BASE64_STD, 2},  {"Zm8=", PCRGATE_BASE64_URL, 3},
		{"Zg==", PCRGATE_BASE64_URL, 2},  {"+/8", PCRGATE_BASE64_URL, 0},
		{"Zm9vY", PCRGATE_BASE64_URL, 5}, {"Zh", PCRGATE_BASE64_URL, 1},
		{"Zm9", PCRGATE_BASE64_URL, 2},	  {"Zm\x80", PCRGATE_BASE64_URL, 2},
	};
	uint8_t out[8];
	pcrgate_errinfo ei;
	size_t i, len;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		len = 99;
		assert_int_equal(b64(good[i].text, good[i].alphabet, out, sizeof(out), &len, &ei), PCRGATE_OK);
		assert_int_equal(len, strlen(good[i].bytes));
		assert_memory_equal(out, good[i].bytes, len);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(out, 0xee, sizeof(out));
		len = 99;
		assert_int_equal(b64(bad[i].text, bad[i].alphabet, out, sizeof(out), &len, &ei), PCRGATE_ERR_FORMAT);
		assert_true(ei.has_offset);
		assert_int_equal(ei.offset, bad[i].offset);
		assert_non_null(strstr(ei.message, "is not "));
		/* The whole text is checked first: nothing is written on failure. */
		assert_int_equal(out[0], 0xee);
		assert_int_equal(len, 99);
	}
	assert_int_equal(b64("Zm9vY", PCRGATE_BASE64_STD, out, sizeof(out), &len, &ei), PCRGATE_ERR_FORMAT);
	assert_string_equal(ei.message, "is not base64 (5 characters, not a multiple of 4)");
	assert_int_equal(b64("Zm\n8", PCRGATE_BASE64_STD, out, sizeof(out), &len, &ei), PCRGATE_ERR_FORMAT);
	assert_string_equal(ei.message, "is not base64 (character 2)");
	assert_int_equal(b64("Zh", PCRGATE_BASE64_URL, out, sizeof(out), &len, &ei), PCRGATE_ERR_FORMAT);
	assert_string_equal(ei.message, "is not canonical base64url");
	/* Caps: exactly cap bytes fit, one more is a limit; an empty text fits in no buffer at all. */
	assert_int_equal(b64("Zm9vYmE=", PCRGATE_BASE64_STD, out, 5, &len, &ei), PCRGATE_OK);
	assert_int_equal(len, 5);
	memset(out, 0xee, sizeof(out));
	assert_int_equal(b64("Zm9vYmE=", PCRGATE_BASE64_STD, out, 4, &len, &ei), PCRGATE_ERR_LIMIT);
	assert_string_equal(ei.message, "holds 5 bytes (at most 4)");
	assert_int_equal(out[0], 0xee);
	assert_int_equal(b64("Zm9vYmE", PCRGATE_BASE64_URL, out, 4, &len, &ei), PCRGATE_ERR_LIMIT);
	assert_int_equal(b64("", PCRGATE_BASE64_URL, NULL, 0, &len, &ei), PCRGATE_OK);
	assert_int_equal(len, 0);
	assert_int_equal(b64("Zg==", PCRGATE_BASE64_STD, NULL, 0, &len, &ei), PCRGATE_ERR_LIMIT);
	/* Lengths are explicit: a text need not end in NUL, and NUL inside it is a bad character. */
	assert_int_equal(pcrgate_base64_decode("Zm9v!!", 4, PCRGATE_BASE64_URL, out, sizeof(out), &len, &ei),
			 PCRGATE_OK);
	assert_int_equal(len, 3);
	assert_int_equal(pcrgate_base64_decode("Zm\0v", 4, PCRGATE_BASE64_STD, out, sizeof(out), &len, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(ei.offset, 2);
	assert_int_equal(pcrgate_base64_decode("Zm9v", 4, 7, out, sizeof(out), &len, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_base64_decode(NULL, 4, PCRGATE_BASE64_STD, out, sizeof(out), &len, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
}

static void test_errors(void **state)
{
	pcrgate_errinfo ei;

	(void)state;
	assert_string_equal(pcrgate_strerror(PCRGATE_ERR_VERIFY), "verification failed");
	assert_string_equal(pcrgate_strerror(12345), "unknown error");
	assert_int_equal(pcrgate_errinfo_set(&ei, PCRGATE_ERR_FORMAT, 17, "bad %s", "thing"), PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	assert_int_equal(ei.offset, 17);
	assert_string_equal(ei.message, "bad thing");
	assert_int_equal(pcrgate_errinfo_set(NULL, PCRGATE_ERR_IO, 0, "x"), PCRGATE_ERR_IO);
	assert_true(pcrgate_ct_equal("abc", "abc", 3));
	assert_false(pcrgate_ct_equal("abc", "abd", 3));
}

/* Dates as a bundle's and a report's end_of_support: only ones the Gregorian calendar has. */
static void test_date(void **state)
{
	static const char *const good[] = {"2030-12-31", "2024-02-29", "2000-02-29", "1970-01-01"};
	static const char *const bad[] = {"2023-02-29", "1900-02-29", "2030-13-01", "2030-04-31", "2030-00-10",
					  "1969-12-31", "2030-1-01", "2030/01/01", "2030-01-0a", "+030-01-01"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		assert_true(pcrgate_date_valid(good[i], strlen(good[i])));
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_false(pcrgate_date_valid(bad[i], strlen(bad[i])));
	assert_false(pcrgate_date_valid("2030-01-011", 11));
	assert_false(pcrgate_date_valid("2030-01-01", 9));
	assert_false(pcrgate_date_valid(NULL, 10));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reader_bounds), cmocka_unit_test(test_hex),
		cmocka_unit_test(test_alg_and_extend), cmocka_unit_test(test_pcrs),
		cmocka_unit_test(test_atomic_write),  cmocka_unit_test(test_file_create), cmocka_unit_test(test_errors),
		cmocka_unit_test(test_read_refuses_fifo), cmocka_unit_test(test_hex_no_partial_output),
		cmocka_unit_test(test_base64), cmocka_unit_test(test_date), cmocka_unit_test(test_store_be),
		cmocka_unit_test(test_key_uri_shown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
