/*
 * Unit tests for the event log: writer -> parser round trips in every bank, each
 * firmware quirk and each rejection built by hand, truncation at every byte, caps,
 * the legacy format, and data decoding on good and garbage input. The logs built
 * here are also saved as seeds for the fuzz target (PCRGATE_FUZZ_CORPUS/eventlog).
 * Data decoding has its own tests in test_eventlog_decode.c.
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

#include "pcrgate/eventlog.h"
#include "seed.h"

#define LOG_CAP (64 * 1024)

struct lb {
	uint8_t b[LOG_CAP];
	size_t len;
};

static const uint16_t all_banks[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA384, PCRGATE_ALG_SHA512,
				     PCRGATE_ALG_SM3_256};

/* Seeds for the fuzzer: every log a test builds. */
static void save_seed(const char *name, const uint8_t *buf, size_t len)
{
	char file[64];

	snprintf(file, sizeof(file), "seed-%s", name);
	assert_true(test_seed_write("eventlog", file, buf, len) >= 0);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static void add_bytes(struct lb *l, const void *p, size_t n)
{
	assert_true(n <= LOG_CAP - l->len);
	memcpy(l->b + l->len, p, n);
	l->len += n;
}

static void add_u32(struct lb *l, uint32_t v)
{
	uint8_t b[4];

	put32(b, v);
	add_bytes(l, b, 4);
}

static void add_header(struct lb *l, const uint16_t *algs, size_t n)
{
	size_t w;

	assert_int_equal(pcrgate_eventlog_write_header(l->b + l->len, LOG_CAP - l->len, algs, n, &w), 0);
	assert_int_equal(w, pcrgate_eventlog_header_size(n));
	l->len += w;
}

/* A TCG_PCR_EVENT2 whose digests are of `measured` (normally the data itself). */
static size_t add_event_measuring(struct lb *l, const uint16_t *algs, size_t n, uint32_t pcr, uint32_t type,
				  const void *data, size_t len, const void *measured, size_t mlen)
{
	uint8_t store[PCRGATE_EVENTLOG_MAX_ALGS][PCRGATE_MAX_DIGEST];
	pcrgate_eventlog_digest d[PCRGATE_EVENTLOG_MAX_ALGS];
	size_t i, w, at = l->len;

	for (i = 0; i < n; i++) {
		assert_int_equal(pcrgate_digest(algs[i], measured, mlen, store[i]), 0);
		d[i].alg = algs[i];
		d[i].digest = store[i];
	}
	assert_int_equal(pcrgate_eventlog_write_event(l->b + l->len, LOG_CAP - l->len, pcr, type, d, n, data, len, &w),
			 0);
	assert_int_equal(w, pcrgate_eventlog_event_size(d, n, len));
	l->len += w;
	return at;
}

static size_t add_event(struct lb *l, const uint16_t *algs, size_t n, uint32_t pcr, uint32_t type, const char *data)
{
	return add_event_measuring(l, algs, n, pcr, type, data, strlen(data), data, strlen(data));
}

/* A legacy TCG_PCR_EVENT with the SHA-1 of its data. */
static size_t add_legacy(struct lb *l, uint32_t pcr, uint32_t type, const void *data, size_t len)
{
	uint8_t digest[20];
	size_t at = l->len;

	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA1, data, len, digest), 0);
	add_u32(l, pcr);
	add_u32(l, type);
	add_bytes(l, digest, 20);
	add_u32(l, (uint32_t)len);
	add_bytes(l, data, len);
	return at;
}

/* The header of a TCG_PCR_EVENT at PCR 0, EV_NO_ACTION, zero digest, with size bytes of data. */
static void add_noaction_header(struct lb *l, size_t size)
{
	add_u32(l, 0);
	add_u32(l, PCRGATE_EV_NO_ACTION);
	memset(l->b + l->len, 0, 20);
	l->len += 20;
	add_u32(l, (uint32_t)size);
}

struct spec {
	uint8_t minor, major, uintn;
	uint32_t nalgs; /* as written; the table holds min(nalgs, n) entries */
	size_t n;
	uint16_t algs[4], sizes[4];
	uint8_t vendor_size; /* as written */
	size_t vendor_len;   /* bytes actually present */
	size_t extra;        /* bytes after the vendor info */
};

/* A Spec ID event from its fields, for quirks and rejections the writer never makes. */
static void add_spec(struct lb *l, const struct spec *s)
{
	uint8_t data[256];
	size_t n = 0, i;

	memcpy(data, "Spec ID Event03", 16);
	n = 16;
	put32(data + n, 0);
	n += 4;
	data[n++] = s->minor;
	data[n++] = s->major;
	data[n++] = 0;
	data[n++] = s->uintn;
	put32(data + n, s->nalgs);
	n += 4;
	for (i = 0; i < s->n; i++) {
		data[n++] = (uint8_t)s->algs[i];
		data[n++] = (uint8_t)(s->algs[i] >> 8);
		data[n++] = (uint8_t)s->sizes[i];
		data[n++] = (uint8_t)(s->sizes[i] >> 8);
	}
	data[n++] = s->vendor_size;
	memset(data + n, 0xAB, s->vendor_len + s->extra);
	n += s->vendor_len + s->extra;
	add_noaction_header(l, n);
	add_bytes(l, data, n);
}

static const struct spec good_spec = {
	.minor = 0, .major = 2, .uintn = 2, .nalgs = 2, .n = 2,
	.algs = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256}, .sizes = {20, 32},
};

static pcrgate_eventlog *parse_ok(const struct lb *l)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_eventlog_parse(l->b, l->len, &log, &ei) != 0)
		fail_msg("parse failed at offset %zu: %s", ei.offset, ei.message);
	return log;
}

/* Parsing fails with code at exactly offset, with a message. */
static void parse_fails(const struct lb *l, int code, size_t offset)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	assert_int_equal(pcrgate_eventlog_parse(l->b, l->len, &log, &ei), code);
	assert_null(log);
	assert_int_equal(ei.code, code);
	assert_true(ei.has_offset);
	if (ei.offset != offset)
		fail_msg("offset %zu, expected %zu (%s)", ei.offset, offset, ei.message);
	assert_true(strlen(ei.message) > 10);
}

/* The PCR holds what extending the digests of msgs[0..n) into 00..0`start` gives. */
static void assert_pcr(const pcrgate_pcrs *pcrs, uint16_t alg, unsigned index, uint8_t start,
		       const char *const *msgs, size_t n)
{
	uint8_t want[PCRGATE_MAX_DIGEST], d[PCRGATE_MAX_DIGEST];
	size_t len = pcrgate_alg_digest_size(alg), i;
	const uint8_t *got;

	memset(want, 0, len);
	want[len - 1] = start;
	for (i = 0; i < n; i++) {
		assert_int_equal(pcrgate_digest(alg, msgs[i], strlen(msgs[i]), d), 0);
		assert_int_equal(pcrgate_pcr_extend(alg, want, d), 0);
	}
	got = pcrgate_pcrs_get(pcrs, alg, index, &len);
	assert_non_null(got);
	assert_int_equal(len, pcrgate_alg_digest_size(alg));
	assert_memory_equal(got, want, len);
}

static pcrgate_pcrs *replay_ok(const pcrgate_eventlog *log)
{
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_eventlog_replay(log, &pcrs, &ei) != 0)
		fail_msg("replay failed: %s", ei.message);
	return pcrs;
}

static void test_roundtrip_banks(void **state)
{
	static const struct {
		size_t first, n;
	} sets[] = {{0, 1}, {1, 1}, {0, 2}, {2, 3}, {4, 1}, {0, 5}};
	static const char *const pcr0[] = {"crtm version", "firmware blob"};
	static const char *const pcr4[] = {"shim", "grub"};
	static const char *const pcr7[] = {"SecureBoot"};
	struct lb *l = calloc(1, sizeof(*l));
	const pcrgate_event *ev;
	pcrgate_eventlog *log;
	pcrgate_pcrs *pcrs;
	size_t s, i, len, offs[8];
	const uint16_t *algs;
	const uint8_t *p;
	uint8_t want[PCRGATE_MAX_DIGEST];
	char name[32];

	(void)state;
	for (s = 0; s < sizeof(sets) / sizeof(sets[0]); s++) {
		algs = all_banks + sets[s].first;
		l->len = 0;
		add_header(l, algs, sets[s].n);
		offs[0] = add_event(l, algs, sets[s].n, 0, PCRGATE_EV_S_CRTM_VERSION, pcr0[0]);
		offs[1] = add_event(l, algs, sets[s].n, 4, PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION, pcr4[0]);
		offs[2] = add_event(l, algs, sets[s].n, 0, PCRGATE_EV_EFI_PLATFORM_FIRMWARE_BLOB, pcr0[1]);
		offs[3] = add_event(l, algs, sets[s].n, 7, PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG, pcr7[0]);
		offs[4] = add_event(l, algs, sets[s].n, 2, PCRGATE_EV_NO_ACTION, "not extended");
		offs[5] = add_event(l, algs, sets[s].n, PCRGATE_EVENTLOG_NO_PCR, PCRGATE_EV_EFI_ACTION, "no PCR");
		offs[6] = add_event(l, algs, sets[s].n, 4, PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION, pcr4[1]);
		snprintf(name, sizeof(name), "roundtrip-%zu", s);
		save_seed(name, l->b, l->len);

		log = parse_ok(l);
		assert_int_equal(pcrgate_eventlog_format(log), PCRGATE_EVENTLOG_CRYPTO_AGILE);
		assert_int_equal(pcrgate_eventlog_count(log), 8);
		assert_int_equal(pcrgate_eventlog_bank_count(log), sets[s].n);
		for (i = 0; i < sets[s].n; i++)
			assert_int_equal(pcrgate_eventlog_bank_alg(log, i), algs[i]);
		assert_int_equal(pcrgate_eventlog_uintn_size(log), sizeof(void *));
		assert_int_equal(pcrgate_eventlog_padding(log, NULL), 0);
		ev = pcrgate_eventlog_event(log, 0);
		assert_int_equal(pcrgate_event_type(ev), PCRGATE_EV_NO_ACTION);
		assert_false(pcrgate_event_extends(ev));
		for (i = 0; i < 7; i++)
			assert_int_equal(pcrgate_event_offset(pcrgate_eventlog_event(log, i + 1)), offs[i]);
		ev = pcrgate_eventlog_event(log, 4);
		assert_int_equal(pcrgate_event_pcr(ev), 7);
		assert_int_equal(pcrgate_event_type(ev), PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG);
		assert_true(pcrgate_event_extends(ev));
		p = pcrgate_event_data(ev, &len);
		assert_int_equal(len, strlen(pcr7[0]));
		assert_memory_equal(p, pcr7[0], len);
		for (i = 0; i < sets[s].n; i++) {
			p = pcrgate_event_digest(ev, algs[i], &len);
			assert_non_null(p);
			assert_int_equal(pcrgate_digest(algs[i], pcr7[0], strlen(pcr7[0]), want), 0);
			assert_memory_equal(p, want, len);
		}
		assert_false(pcrgate_event_extends(pcrgate_eventlog_event(log, 5)));
		assert_false(pcrgate_event_extends(pcrgate_eventlog_event(log, 6)));
		assert_null(pcrgate_eventlog_event(log, 8));

		pcrs = replay_ok(log);
		assert_int_equal(pcrgate_pcrs_bank_count(pcrs), sets[s].n);
		for (i = 0; i < sets[s].n; i++) {
			assert_int_equal(pcrgate_pcrs_mask(pcrs, algs[i]), (1u << 0) | (1u << 4) | (1u << 7));
			assert_pcr(pcrs, algs[i], 0, 0, pcr0, 2);
			assert_pcr(pcrs, algs[i], 4, 0, pcr4, 2);
			assert_pcr(pcrs, algs[i], 7, 0, pcr7, 1);
		}
		pcrgate_pcrs_free(&pcrs);
		pcrgate_eventlog_free(&log);
		assert_null(log);
	}
	free(l);
}

static void test_writer_errors(void **state)
{
	uint8_t buf[256], digest[64] = {0};
	const uint16_t dup[] = {PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA256}, unknown[] = {0x0027};
	pcrgate_eventlog_digest d = {PCRGATE_ALG_SHA256, digest}, bad = {0x0027, digest};
	size_t w = 0;

	(void)state;
	assert_int_equal(pcrgate_eventlog_write_header(buf, 10, all_banks, 2, &w), PCRGATE_ERR_LIMIT);
	assert_int_equal(pcrgate_eventlog_write_header(buf, sizeof(buf), all_banks, 0, &w),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_write_header(buf, sizeof(buf), dup, 2, &w), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_write_header(buf, sizeof(buf), unknown, 1, &w),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_write_event(buf, 20, 0, 1, &d, 1, (const uint8_t *)"x", 1, &w),
			 PCRGATE_ERR_LIMIT);
	assert_int_equal(pcrgate_eventlog_write_event(buf, sizeof(buf), 32, 1, &d, 1, NULL, 0, &w),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_write_event(buf, sizeof(buf), 0, 1, &bad, 1, NULL, 0, &w),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_write_event(buf, sizeof(buf), 0, 1, &d, 1, NULL, 3, &w),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(w, 0);
	assert_int_equal(pcrgate_eventlog_event_size(&d, 1, PCRGATE_EVENTLOG_MAX_EVENT_DATA + 1), 0);
	assert_int_equal(pcrgate_eventlog_write_event(buf, sizeof(buf), 0, 1, &d, 1, NULL, 0, &w), 0);
	assert_int_equal(w, 12 + 2 + 32 + 4);
}

static void test_startup_locality(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
	static const char *const m0[] = {"crtm"};
	static const char loc3[17] = "StartupLocality\0\3", loc5[17] = "StartupLocality\0\5";
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	pcrgate_pcrs *pcrs;
	size_t at;

	(void)state;
	add_header(l, algs, 2);
	add_event_measuring(l, algs, 2, 0, PCRGATE_EV_NO_ACTION, loc3, 17, "", 0);
	add_event(l, algs, 2, 0, PCRGATE_EV_S_CRTM_VERSION, m0[0]);
	save_seed("locality3", l->b, l->len);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_pcr0_start(log), 3);
	pcrs = replay_ok(log);
	assert_pcr(pcrs, PCRGATE_ALG_SHA1, 0, 3, m0, 1);
	assert_pcr(pcrs, PCRGATE_ALG_SHA256, 0, 3, m0, 1);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);

	/* After PCR 0 was extended, twice, or with a locality the TPM does not have: refused. */
	at = add_event_measuring(l, algs, 2, 0, PCRGATE_EV_NO_ACTION, loc3, 17, "", 0);
	parse_fails(l, PCRGATE_ERR_FORMAT, at);
	l->len = pcrgate_eventlog_header_size(2);
	add_event_measuring(l, algs, 2, 0, PCRGATE_EV_NO_ACTION, loc3, 17, "", 0);
	at = add_event_measuring(l, algs, 2, 0, PCRGATE_EV_NO_ACTION, loc3, 17, "", 0);
	parse_fails(l, PCRGATE_ERR_FORMAT, at);
	l->len = pcrgate_eventlog_header_size(2);
	at = add_event_measuring(l, algs, 2, 0, PCRGATE_EV_NO_ACTION, loc5, 17, "", 0);
	parse_fails(l, PCRGATE_ERR_FORMAT, at);
	l->len = pcrgate_eventlog_header_size(2);
	at = add_event_measuring(l, algs, 2, 0, PCRGATE_EV_NO_ACTION, "StartupLocality\0\3\3", 18, "", 0);
	parse_fails(l, PCRGATE_ERR_FORMAT, at);

	/* The signature elsewhere than PCR 0 is just another EV_NO_ACTION event. */
	l->len = pcrgate_eventlog_header_size(2);
	add_event_measuring(l, algs, 2, 1, PCRGATE_EV_NO_ACTION, loc3, 17, "", 0);
	add_event(l, algs, 2, 0, PCRGATE_EV_S_CRTM_VERSION, m0[0]);
	log = parse_ok(l);
	pcrs = replay_ok(log);
	assert_pcr(pcrs, PCRGATE_ALG_SHA256, 0, 0, m0, 1);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);
	free(l);
}

static void test_hcrtm(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA384};
	static const char *const m0[] = {"HCRTM", "bios"};
	static const char loc3[17] = "StartupLocality\0\3";
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	pcrgate_pcrs *pcrs;
	size_t at;

	(void)state;
	add_header(l, algs, 2);
	add_event_measuring(l, algs, 2, 0, PCRGATE_EV_NO_ACTION, loc3, 17, "", 0);
	add_event(l, algs, 2, 0, PCRGATE_EV_EFI_HCRTM_EVENT, m0[0]);
	add_event(l, algs, 2, 0, PCRGATE_EV_POST_CODE, m0[1]);
	save_seed("hcrtm", l->b, l->len);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_pcr0_start(log), 4);
	pcrs = replay_ok(log);
	assert_pcr(pcrs, PCRGATE_ALG_SHA256, 0, 4, m0, 2);
	assert_pcr(pcrs, PCRGATE_ALG_SHA384, 0, 4, m0, 2);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);

	/* An H-CRTM event after another measurement into PCR 0 contradicts the log. */
	at = add_event(l, algs, 2, 0, PCRGATE_EV_EFI_HCRTM_EVENT, m0[0]);
	parse_fails(l, PCRGATE_ERR_FORMAT, at);
	free(l);
}

static void test_pcr_index(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA256};
	static const char *const m[] = {"a"};
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	pcrgate_pcrs *pcrs;
	size_t at;

	(void)state;
	add_header(l, algs, 1);
	add_event(l, algs, 1, PCRGATE_EVENTLOG_NO_PCR, PCRGATE_EV_EFI_ACTION, "no pcr");
	add_event(l, algs, 1, 31, PCRGATE_EV_IPL, m[0]);
	log = parse_ok(l);
	pcrs = replay_ok(log);
	assert_int_equal(pcrgate_pcrs_mask(pcrs, PCRGATE_ALG_SHA256), 1u << 31);
	assert_pcr(pcrs, PCRGATE_ALG_SHA256, 31, 0, m, 1);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);

	at = add_event(l, algs, 1, 31, PCRGATE_EV_IPL, "b");
	put32(l->b + at, 32);
	parse_fails(l, PCRGATE_ERR_FORMAT, at);
	put32(l->b + at, 0xFFFFFFFE);
	parse_fails(l, PCRGATE_ERR_FORMAT, at);
	free(l);
}

static void test_spec_quirks_accepted(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
	static const uint8_t image32[] = {
		/* UEFI_IMAGE_LOAD_EVENT with 32-bit UINTNs, then a file path node and the end node. */
		0x00, 0x10, 0, 0, 0, 0, 0, 0, 0x00, 0x20, 0, 0, 0, 0, 0, 0, 14, 0, 0, 0,
		4, 4, 10, 0, 'A', 0, '.', 0, 'e', 0, 0x7f, 0xff, 4, 0};
	struct spec s = good_spec;
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	char text[256];

	(void)state;
	s.uintn = 1;
	s.vendor_size = 4;
	s.vendor_len = 4;
	add_spec(l, &s);
	add_event_measuring(l, algs, 2, 4, PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION, image32, sizeof(image32), "x", 1);
	save_seed("uintn1-vendor", l->b, l->len);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_uintn_size(log), 4);
	assert_int_equal(pcrgate_event_describe(pcrgate_eventlog_event(log, 0), text, sizeof(text)), 0);
	assert_non_null(strstr(text, "uintnSize 1"));
	assert_non_null(strstr(text, "vendor info 4 bytes: abababab"));
	assert_int_equal(pcrgate_event_describe(pcrgate_eventlog_event(log, 1), text, sizeof(text)), 0);
	assert_string_equal(text, "image at 0x1000, 8192 bytes, link-time address 0x0, path A.e");
	pcrgate_eventlog_free(&log);
	free(l);
}

static void test_spec_rejected(void **state)
{
	struct lb *l = calloc(1, sizeof(*l));
	struct spec s;
	const size_t data = 32; /* the Spec ID data starts after the TCG_PCR_EVENT header */

	(void)state;
#define REJECT(field_setup, code, offset)                                                                      \
	do {                                                                                                   \
		s = good_spec;                                                                                 \
		field_setup;                                                                                   \
		l->len = 0;                                                                                    \
		add_spec(l, &s);                                                                               \
		parse_fails(l, code, offset);                                                                  \
	} while (0)
	REJECT(s.major = 1; s.minor = 2, PCRGATE_ERR_FORMAT, data + 20);
	save_seed("spec-version", l->b, l->len);
	REJECT(s.minor = 1, PCRGATE_ERR_FORMAT, data + 20);
	REJECT(s.uintn = 3, PCRGATE_ERR_FORMAT, data + 23);
	REJECT(s.nalgs = 0; s.n = 0, PCRGATE_ERR_FORMAT, data + 24);
	REJECT(s.nalgs = 17, PCRGATE_ERR_LIMIT, data + 24);
	REJECT(s.nalgs = 0x7FFFFFFF, PCRGATE_ERR_LIMIT, data + 24);
	save_seed("spec-count", l->b, l->len);
	REJECT(s.nalgs = 3, PCRGATE_ERR_FORMAT, data + 28 + 8);
	REJECT(s.vendor_size = 4; s.vendor_len = 3, PCRGATE_ERR_FORMAT, data + 28 + 8);
	save_seed("spec-vendor", l->b, l->len);
	REJECT(s.vendor_size = 2; s.vendor_len = 2; s.extra = 1, PCRGATE_ERR_FORMAT, data + 28 + 8 + 3);
	REJECT(s.sizes[1] = 20, PCRGATE_ERR_FORMAT, data + 28 + 6);
	REJECT(s.algs[1] = PCRGATE_ALG_SHA1; s.sizes[1] = 20, PCRGATE_ERR_FORMAT, data + 28 + 4);
	REJECT(s.algs[1] = 0x0027; s.sizes[1] = 0, PCRGATE_ERR_FORMAT, data + 28 + 6);
	REJECT(s.algs[1] = 0x0027; s.sizes[1] = 65, PCRGATE_ERR_FORMAT, data + 28 + 6);
#undef REJECT
	/* The Spec ID event at another PCR, or with a digest. */
	l->len = 0;
	add_spec(l, &good_spec);
	put32(l->b, 1);
	parse_fails(l, PCRGATE_ERR_FORMAT, 0);
	put32(l->b, 0);
	l->b[10] = 1;
	parse_fails(l, PCRGATE_ERR_FORMAT, 8);
	/* Too short for its header. */
	l->len = 0;
	add_noaction_header(l, 20);
	add_bytes(l, "Spec ID Event03\0\0\0\0\0", 20);
	parse_fails(l, PCRGATE_ERR_FORMAT, data);
	free(l);
}

static void test_digest_rules(void **state)
{
	static const uint16_t two[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256}, swapped[] = {PCRGATE_ALG_SHA256,
											   PCRGATE_ALG_SHA1};
	static const char *const m[] = {"kernel"};
	struct spec s = good_spec;
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	pcrgate_pcrs *pcrs;
	size_t base, at;

	(void)state;
	/* Declared sha1, sha256, sha384; events carry sha1 and sha256 (tpm2-tools' fixtures do this). */
	s.nalgs = s.n = 3;
	s.algs[2] = PCRGATE_ALG_SHA384;
	s.sizes[2] = 48;
	add_spec(l, &s);
	base = l->len;
	add_event(l, two, 2, 8, PCRGATE_EV_IPL, m[0]);
	add_event(l, swapped, 2, 8, PCRGATE_EV_IPL, m[0]);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_bank_count(log), 2);
	pcrs = replay_ok(log);
	assert_int_equal(pcrgate_pcrs_bank_count(pcrs), 2);
	assert_null(pcrgate_pcrs_get(pcrs, PCRGATE_ALG_SHA384, 8, NULL));
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);

	/* A later event with other banks, too few or too many digests, or none. */
	at = add_event(l, all_banks, 1, 8, PCRGATE_EV_IPL, "x");
	parse_fails(l, PCRGATE_ERR_FORMAT, at + 8);
	l->len = at;
	at = add_event(l, all_banks + 1, 2, 8, PCRGATE_EV_IPL, "x");
	parse_fails(l, PCRGATE_ERR_FORMAT, at + 12 + 2 + 32);
	l->len = at;
	at = add_event(l, two, 2, 8, PCRGATE_EV_IPL, "x");
	put32(l->b + at + 8, 4);
	parse_fails(l, PCRGATE_ERR_FORMAT, at + 8);
	put32(l->b + at + 8, 0);
	parse_fails(l, PCRGATE_ERR_FORMAT, at + 8);
	/* An algorithm the Spec ID event does not declare, and the same one twice. */
	l->len = base;
	at = add_event(l, all_banks + 3, 1, 8, PCRGATE_EV_IPL, "x");
	parse_fails(l, PCRGATE_ERR_FORMAT, at + 12);
	l->len = base;
	at = add_event(l, two, 2, 8, PCRGATE_EV_IPL, "x");
	l->b[at + 12 + 22] = (uint8_t)PCRGATE_ALG_SHA1;
	parse_fails(l, PCRGATE_ERR_FORMAT, at + 12 + 22);

	/* An algorithm pcrgate does not know, declared with its size: parsed, shown, not replayed. */
	s = good_spec;
	s.algs[0] = 0x0027;
	s.sizes[0] = 32;
	l->len = 0;
	add_spec(l, &s);
	add_u32(l, 8);
	add_u32(l, PCRGATE_EV_IPL);
	add_u32(l, 2);
	add_bytes(l, "\x27\x00", 2);
	memset(l->b + l->len, 0x55, 32);
	l->len += 32;
	add_bytes(l, "\x0b\x00", 2);
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, m[0], strlen(m[0]), l->b + l->len), 0);
	l->len += 32;
	add_u32(l, (uint32_t)strlen(m[0]));
	add_bytes(l, m[0], strlen(m[0]));
	save_seed("unknown-alg", l->b, l->len);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_bank_count(log), 2);
	assert_int_equal(pcrgate_eventlog_bank_alg(log, 0), 0x0027);
	pcrs = replay_ok(log);
	assert_int_equal(pcrgate_pcrs_bank_count(pcrs), 1);
	assert_pcr(pcrs, PCRGATE_ALG_SHA256, 8, 0, m, 1);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);
	free(l);
}

static void test_digest_not_data(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA256};
	static const char *const measured[] = {"what was really measured"};
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	pcrgate_pcrs *pcrs;

	(void)state;
	add_header(l, algs, 1);
	add_event_measuring(l, algs, 1, 9, PCRGATE_EV_IPL, "a claim", 7, measured[0], strlen(measured[0]));
	save_seed("mismatch", l->b, l->len);
	log = parse_ok(l);
	pcrs = replay_ok(log);
	assert_pcr(pcrs, PCRGATE_ALG_SHA256, 9, 0, measured, 1);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);
	free(l);
}

/* Every prefix of a log either parses (cut at an event boundary) or fails at or before the cut. */
static void check_truncations(const struct lb *l, const size_t *bounds, size_t nbounds)
{
	pcrgate_eventlog *log;
	pcrgate_errinfo ei;
	size_t k, b, events;
	uint8_t *copy;
	int r;

	for (k = 0; k < l->len; k++) {
		copy = malloc(k ? k : 1);
		memcpy(copy, l->b, k);
		log = NULL;
		pcrgate_errinfo_clear(&ei);
		r = pcrgate_eventlog_parse(copy, k, &log, &ei);
		for (b = 0, events = 0; b < nbounds && bounds[b] <= k; b++)
			events = b + 1;
		if (events > 0 && bounds[events - 1] == k) {
			if (r != 0)
				fail_msg("prefix of %zu bytes: %s", k, ei.message);
			assert_int_equal(pcrgate_eventlog_count(log), events);
		} else {
			assert_int_equal(r, PCRGATE_ERR_FORMAT);
			assert_null(log);
			assert_true(ei.has_offset);
			assert_true(ei.offset <= k);
			assert_true(ei.message[0] != '\0');
		}
		pcrgate_eventlog_free(&log);
		free(copy);
	}
}

static void test_truncation(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
	struct lb *l = calloc(1, sizeof(*l));
	size_t bounds[4];

	(void)state;
	add_header(l, algs, 2);
	bounds[0] = l->len;
	add_event(l, algs, 2, 8, PCRGATE_EV_IPL, "grub_cmd linux");
	bounds[1] = l->len;
	add_event(l, algs, 2, 9, PCRGATE_EV_IPL, "/boot/vmlinuz");
	bounds[2] = l->len;
	add_event(l, algs, 2, 5, PCRGATE_EV_EFI_ACTION, "Exit Boot Services Invocation");
	bounds[3] = l->len;
	check_truncations(l, bounds, 4);

	l->len = 0;
	add_legacy(l, 8, PCRGATE_EV_IPL, "one", 3);
	bounds[0] = l->len;
	add_legacy(l, 9, PCRGATE_EV_IPL, "two", 3);
	bounds[1] = l->len;
	check_truncations(l, bounds, 2);
	free(l);
}

static void test_padding(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA256};
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	size_t end, off = 0;

	(void)state;
	add_header(l, algs, 1);
	add_event(l, algs, 1, 4, PCRGATE_EV_SEPARATOR, "\xff\xff\xff\xff");
	end = l->len;
	memset(l->b + end, 0xFF, 100);
	l->len = end + 100;
	save_seed("padding-ff", l->b, l->len);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_count(log), 2);
	assert_int_equal(pcrgate_eventlog_padding(log, &off), 100);
	assert_int_equal(off, end);
	pcrgate_eventlog_free(&log);
	memset(l->b + end, 0x00, 100);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_padding(log, &off), 100);
	pcrgate_eventlog_free(&log);
	/* Fill followed by anything else is not fill. */
	l->b[l->len - 1] = 0x01;
	parse_fails(l, PCRGATE_ERR_FORMAT, end + 8);
	free(l);
}

static void test_caps(void **state)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA256};
	struct lb *l = calloc(1, sizeof(*l));
	uint8_t *big;
	size_t i, at, size = (size_t)(PCRGATE_EVENTLOG_MAX_EVENTS + 1) * 32;
	pcrgate_eventlog *log = NULL;
	pcrgate_errinfo ei;

	(void)state;
	/* Whole log over its cap: refused before reading anything. */
	big = calloc(1, PCRGATE_EVENTLOG_MAX_SIZE + 1);
	assert_int_equal(pcrgate_eventlog_parse(big, PCRGATE_EVENTLOG_MAX_SIZE + 1, &log, &ei), PCRGATE_ERR_LIMIT);
	assert_true(ei.has_offset);
	free(big);
	/* One event's data over its cap. */
	add_header(l, algs, 1);
	at = add_event(l, algs, 1, 4, PCRGATE_EV_IPL, "x");
	put32(l->b + at + 12 + 34, PCRGATE_EVENTLOG_MAX_EVENT_DATA + 1);
	parse_fails(l, PCRGATE_ERR_LIMIT, at + 12 + 34);
	/* Event count: exactly the cap parses, one more is refused (legacy events of 32 bytes). */
	big = calloc(1, size);
	for (i = 0; i <= PCRGATE_EVENTLOG_MAX_EVENTS; i++) {
		put32(big + 32 * i, 1);
		put32(big + 32 * i + 4, PCRGATE_EV_POST_CODE);
	}
	assert_int_equal(pcrgate_eventlog_parse(big, size - 32, &log, &ei), 0);
	assert_int_equal(pcrgate_eventlog_count(log), PCRGATE_EVENTLOG_MAX_EVENTS);
	pcrgate_eventlog_free(&log);
	assert_int_equal(pcrgate_eventlog_parse(big, size, &log, &ei), PCRGATE_ERR_LIMIT);
	assert_int_equal(ei.offset, size - 32);
	free(big);
	free(l);
}

static void test_legacy(void **state)
{
	static const char *const m0[] = {"crtm", "post"};
	static const char *const m4[] = {"ipl"};
	struct lb *l = calloc(1, sizeof(*l));
	pcrgate_eventlog *log;
	pcrgate_pcrs *pcrs;
	size_t len;

	(void)state;
	add_legacy(l, 0, PCRGATE_EV_NO_ACTION, "StartupLocality\0\3", 17);
	add_legacy(l, 0, PCRGATE_EV_S_CRTM_VERSION, m0[0], 4);
	add_legacy(l, 4, PCRGATE_EV_IPL, m4[0], 3);
	add_legacy(l, 0, PCRGATE_EV_POST_CODE, m0[1], 4);
	add_legacy(l, 6, PCRGATE_EV_NO_ACTION, "Spec ID Event00\0", 16);
	save_seed("legacy", l->b, l->len);
	log = parse_ok(l);
	assert_int_equal(pcrgate_eventlog_format(log), PCRGATE_EVENTLOG_SHA1);
	assert_int_equal(pcrgate_eventlog_count(log), 5);
	assert_int_equal(pcrgate_eventlog_bank_count(log), 1);
	assert_int_equal(pcrgate_eventlog_bank_alg(log, 0), PCRGATE_ALG_SHA1);
	assert_int_equal(pcrgate_eventlog_uintn_size(log), 0);
	assert_non_null(pcrgate_event_digest(pcrgate_eventlog_event(log, 1), PCRGATE_ALG_SHA1, &len));
	assert_int_equal(len, 20);
	assert_null(pcrgate_event_digest(pcrgate_eventlog_event(log, 1), PCRGATE_ALG_SHA256, &len));
	pcrs = replay_ok(log);
	assert_int_equal(pcrgate_pcrs_bank_count(pcrs), 1);
	assert_int_equal(pcrgate_pcrs_mask(pcrs, PCRGATE_ALG_SHA1), (1u << 0) | (1u << 4));
	assert_pcr(pcrs, PCRGATE_ALG_SHA1, 0, 3, m0, 2);
	assert_pcr(pcrs, PCRGATE_ALG_SHA1, 4, 0, m4, 1);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);
	free(l);
}

static void test_bad_arguments(void **state)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei;
	char text[8];

	(void)state;
	assert_int_equal(pcrgate_eventlog_parse((const uint8_t *)"", 0, &log, &ei), PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	assert_int_equal(ei.offset, 0);
	assert_int_equal(pcrgate_eventlog_parse(NULL, 5, &log, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_parse((const uint8_t *)"x", 1, NULL, NULL), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_replay(NULL, &pcrs, NULL), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_event_describe(NULL, text, sizeof(text)), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_eventlog_count(NULL), 0);
	assert_null(pcrgate_eventlog_event(NULL, 0));
	pcrgate_eventlog_free(NULL);
	pcrgate_eventlog_free(&log);
	assert_string_equal(pcrgate_event_type_name(PCRGATE_EV_POST_CODE), "EV_POST_CODE");
	assert_string_equal(pcrgate_event_type_name(PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG),
			    "EV_EFI_VARIABLE_DRIVER_CONFIG");
	assert_string_equal(pcrgate_event_type_name(PCRGATE_EV_EFI_SPDM_DEVICE_AUTHORITY),
			    "EV_EFI_SPDM_DEVICE_AUTHORITY");
	assert_null(pcrgate_event_type_name(0x7FFF0000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip_banks),
		cmocka_unit_test(test_writer_errors),
		cmocka_unit_test(test_startup_locality),
		cmocka_unit_test(test_hcrtm),
		cmocka_unit_test(test_pcr_index),
		cmocka_unit_test(test_spec_quirks_accepted),
		cmocka_unit_test(test_spec_rejected),
		cmocka_unit_test(test_digest_rules),
		cmocka_unit_test(test_digest_not_data),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_padding),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_legacy),
		cmocka_unit_test(test_bad_arguments),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
