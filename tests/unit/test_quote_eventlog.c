/*
 * Unit tests for the event log's check in quote verification: a log given as raw bytes is
 * parsed only after the signed quote passed, and must explain every quoted bank and PCR
 * (replayed, or at its reset value); a real log that misses events is flagged. Also leaves a
 * seed input for tests/fuzz/fuzz_quote that reaches the event log.
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
#include "pcrgate/quote.h"
#include "quote_fixture.h"
#include "quote_util.h"
#include "seed.h"

static struct qt_key ecdsa;

/* A serialized event log: bytes as a device sends them. */
struct logbuf {
	uint8_t buf[8192];
	size_t len;
};

/*
 * Writes a crypto-agile log in the banks algs[0..nalgs): a StartupLocality event when locality
 * is 0 to 4, then one event per (pcr, byte i) for each pcrs[i].
 */
static void write_log(struct logbuf *l, const uint16_t *algs, size_t nalgs, int locality,
		      const unsigned *pcrs, size_t n)
{
	static const char startup[16] = "StartupLocality";
	uint8_t d[PCRGATE_MAX_BANKS][PCRGATE_MAX_DIGEST], data[17];
	pcrgate_eventlog_digest dg[PCRGATE_MAX_BANKS];
	size_t i, j, w;

	assert_true(nalgs <= PCRGATE_MAX_BANKS);
	assert_int_equal(pcrgate_eventlog_write_header(l->buf, sizeof(l->buf), algs, nalgs, &w), 0);
	l->len = w;
	for (j = 0; j < nalgs; j++) {
		dg[j].alg = algs[j];
		dg[j].digest = d[j];
	}
	if (locality >= 0) {
		memcpy(data, startup, 16);
		data[16] = (uint8_t)locality;
		memset(d, 0, sizeof(d));
		assert_int_equal(pcrgate_eventlog_write_event(l->buf + l->len, sizeof(l->buf) - l->len, 0,
							      PCRGATE_EV_NO_ACTION, dg, nalgs, data, 17, &w),
				 0);
		l->len += w;
	}
	for (i = 0; i < n; i++) {
		data[0] = (uint8_t)i;
		for (j = 0; j < nalgs; j++)
			assert_int_equal(pcrgate_digest(algs[j], data, 1, d[j]), 0);
		assert_int_equal(pcrgate_eventlog_write_event(l->buf + l->len, sizeof(l->buf) - l->len,
							      pcrs[i], PCRGATE_EV_IPL, dg, nalgs, data, 1, &w),
				 0);
		l->len += w;
	}
}

static const uint16_t log_banks[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};

/* A log in sha1 and sha256 with one event per (pcr, byte). */
static void make_log(struct logbuf *l, const unsigned *pcrs, size_t n)
{
	write_log(l, log_banks, 2, -1, pcrs, n);
}

/* What replaying a serialized log gives. */
static pcrgate_pcrs *replay(const struct logbuf *l)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *replayed = NULL;

	assert_int_equal(pcrgate_eventlog_parse(l->buf, l->len, &log, NULL), 0);
	assert_int_equal(pcrgate_eventlog_replay(log, &replayed, NULL), 0);
	pcrgate_eventlog_free(&log);
	return replayed;
}

/* The input's event logs: l1 (unnamed when alone), then l2 named "boot" (l1 then "firmware"). */
static void set_logs(struct fx *f, const struct logbuf *l1, const struct logbuf *l2)
{
	memset(f->in.eventlogs, 0, sizeof(f->in.eventlogs));
	f->in.eventlog_count = 0;
	if (l1 == NULL)
		return;
	f->in.eventlogs[0].name = l2 != NULL ? "firmware" : NULL;
	f->in.eventlogs[0].data = l1->buf;
	f->in.eventlogs[0].len = l1->len;
	f->in.eventlog_count = 1;
	if (l2 == NULL)
		return;
	f->in.eventlogs[1].name = "boot";
	f->in.eventlogs[1].data = l2->buf;
	f->in.eventlogs[1].len = l2->len;
	f->in.eventlog_count = 2;
}

/* The quote now covers exactly p (which the fixture takes), banks in log order, and the log l. */
static void fx_quote_pcrs(struct fx *f, pcrgate_pcrs *p, const struct logbuf *l)
{
	if (f->pcrs != p)
		pcrgate_pcrs_free(&f->pcrs);
	f->pcrs = p;
	f->in.pcrs = p;
	assert_int_equal(qt_attest_select(&f->a, p, log_banks, 2, f->key->hash), 0);
	fx_sign(f);
	set_logs(f, l, NULL);
}

/* A quote over exactly the PCRs and values that replaying log gives, with the log. */
static void fx_init_from_log(struct fx *f, const struct logbuf *l)
{
	fx_init(f, &ecdsa, PCRGATE_AKPUB_PEM);
	fx_quote_pcrs(f, replay(l), l);
}

static void set_value(pcrgate_pcrs *p, uint16_t alg, unsigned index, int byte)
{
	uint8_t v[PCRGATE_MAX_DIGEST];

	memset(v, byte, sizeof(v));
	assert_int_equal(pcrgate_pcrs_set(p, alg, index, v, pcrgate_alg_digest_size(alg)), 0);
}

static void test_eventlog(void **state)
{
	static const unsigned log_pcrs[] = {0, 1, 1, 4};
	static const unsigned other_pcrs[] = {9, 9};
	struct logbuf log, other;
	pcrgate_pcrs *p;
	struct fx f;

	(void)state;
	make_log(&log, log_pcrs, 4);
	make_log(&other, other_pcrs, 2);
	fx_init_from_log(&f, &log);
	expect_accept(&f);
	assert_int_equal(f.res.eventlog_compared, 6); /* PCRs 0, 1, 4 in two banks */
	assert_int_equal(f.res.eventlog_verified_count, 2);
	assert_int_equal(f.res.eventlog_verified[0].alg, PCRGATE_ALG_SHA1);
	assert_int_equal(f.res.eventlog_verified[0].mask, 0x13);
	assert_int_equal(f.res.eventlog_verified[1].alg, PCRGATE_ALG_SHA256);
	assert_int_equal(f.res.eventlog_verified[1].mask, 0x13);

	/* A quote whose PCR 1 differs from the log, consistently signed: the log is caught. */
	p = pcrgate_pcrs_dup(f.pcrs);
	set_value(p, PCRGATE_ALG_SHA256, 1, 0xee);
	fx_quote_pcrs(&f, p, &log);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha256:1:"));
	assert_true(f.res.passed & (1u << PCRGATE_QUOTE_CHECK_PCR_DIGEST));
	assert_int_equal(f.res.eventlog_verified_count, 0);
	fx_free(&f);

	/* A log with no event for quoted PCRs that are not at their reset value explains nothing. */
	fx_init_from_log(&f, &log);
	set_logs(&f, &other, NULL);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha1:0 is quoted with a value the event log does not explain "
					     "(no event extends it)"));
	/* Quoted PCRs all at their reset values, none extended by the log: it proves nothing. */
	p = pcrgate_pcrs_new();
	set_value(p, PCRGATE_ALG_SHA1, 16, 0);
	set_value(p, PCRGATE_ALG_SHA256, 16, 0);
	fx_quote_pcrs(&f, p, &other);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "none"));

	/* An event log without the PCR values it is compared with is a caller's mistake. */
	f.in.pcrs = NULL;
	assert_int_equal(verify(&f), PCRGATE_ERR_INVALID_ARGUMENT);
	f.in.pcrs = f.pcrs;
	f.in.eventlogs[0].data = NULL;
	assert_int_equal(verify(&f), PCRGATE_ERR_INVALID_ARGUMENT);
	f.in.eventlogs[0].data = other.buf;
	f.in.eventlog_count = PCRGATE_QUOTE_MAX_EVENTLOGS + 1;
	assert_int_equal(verify(&f), PCRGATE_ERR_INVALID_ARGUMENT);
	fx_free(&f);
}

/*
 * Every quoted bank and PCR must be explained by the log: a bank the log does not carry is
 * refused; a PCR no event extends must hold its reset value (zeros; all ones for 17 to 22;
 * PCR 0 ends in the log's StartupLocality).
 */
static void test_eventlog_unexplained(void **state)
{
	static const uint16_t sha1_only[] = {PCRGATE_ALG_SHA1};
	static const unsigned pcr12[] = {12, 12};
	pcrgate_pcrs *rep1, *p;
	struct logbuf l1, l2, l3;
	uint8_t v[32];
	struct fx f;

	(void)state;
	write_log(&l1, sha1_only, 1, -1, pcr12, 2);
	make_log(&l2, pcr12, 2);
	write_log(&l3, log_banks, 2, 3, pcr12, 2);

	/* sha1:9,12 + sha256:9,12 against a log of sha1 events on PCR 12 only. */
	rep1 = replay(&l1);
	p = replay(&l2);
	set_pcr(p, PCRGATE_ALG_SHA1, 9);
	set_pcr(p, PCRGATE_ALG_SHA256, 9);
	assert_memory_equal(pcrgate_pcrs_get(p, PCRGATE_ALG_SHA1, 12, NULL),
			    pcrgate_pcrs_get(rep1, PCRGATE_ALG_SHA1, 12, NULL), 20);
	pcrgate_pcrs_free(&rep1);
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	fx_quote_pcrs(&f, p, &l1);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "bank sha256, which the event log does not carry"));
	/* With both banks in the log, PCR 9 is still unexplained in each bank. */
	fx_quote_pcrs(&f, p, &l2);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha1:9 is quoted"));
	set_value(p, PCRGATE_ALG_SHA1, 9, 0);
	fx_quote_pcrs(&f, p, &l2);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha256:9 is quoted with a value the event log does not explain "
					     "(no event extends it)"));
	/* At its reset value PCR 9 is explained: nothing happened to it. */
	set_value(p, PCRGATE_ALG_SHA256, 9, 0);
	fx_quote_pcrs(&f, p, &l2);
	expect_accept(&f);
	assert_int_equal(f.res.eventlog_compared, 2);
	assert_int_equal(f.res.eventlog_verified[0].mask, (1u << 9) | (1u << 12));
	assert_int_equal(f.res.eventlog_verified[1].mask, (1u << 9) | (1u << 12));

	/* PCR 0 starts at the StartupLocality; 17 to 22 at all ones. */
	p = replay(&l3);
	memset(v, 0, sizeof(v));
	v[31] = 3;
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA256, 0, v, 32), 0);
	set_value(p, PCRGATE_ALG_SHA256, 17, 0xff);
	set_value(p, PCRGATE_ALG_SHA256, 22, 0xff);
	set_value(p, PCRGATE_ALG_SHA256, 23, 0);
	fx_quote_pcrs(&f, p, &l3);
	expect_accept(&f);
	assert_int_equal(f.res.eventlog_verified[1].mask, 0xc21001u);
	/* The same quote against a log that started at locality 0. */
	fx_quote_pcrs(&f, p, &l2);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha256:0 is quoted"));
	set_value(p, PCRGATE_ALG_SHA256, 0, 0);
	set_value(p, PCRGATE_ALG_SHA256, 17, 0);
	fx_quote_pcrs(&f, p, &l2);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha256:17 is quoted"));
	fx_free(&f);
}

/* The union of two replays (their PCRs are disjoint). */
static pcrgate_pcrs *merge(const struct logbuf *a, const struct logbuf *b)
{
	pcrgate_pcrs *p = replay(a), *q = replay(b);
	const uint8_t *v;
	size_t i, len;
	unsigned k;

	for (i = 0; i < pcrgate_pcrs_bank_count(q); i++) {
		uint16_t alg = pcrgate_pcrs_bank_alg(q, i);
		for (k = 0; k < PCRGATE_MAX_PCRS; k++)
			if ((v = pcrgate_pcrs_get(q, alg, k, &len)) != NULL) {
				assert_null(pcrgate_pcrs_get(p, alg, k, NULL));
				assert_int_equal(pcrgate_pcrs_set(p, alg, k, v, len), 0);
			}
	}
	pcrgate_pcrs_free(&q);
	return p;
}

/*
 * Several logs replay in order into one PCR state: a log split in two by PCR verifies in either
 * order; where both extend a PCR, only the order the TPM saw (firmware, then boot) does. Each
 * failure names the log at fault.
 */
static void test_eventlog_several(void **state)
{
	static const unsigned fw_pcrs[] = {0, 1, 4, 8, 8};
	static const unsigned fw_only[] = {0, 1, 4};
	static const unsigned boot_pcrs[] = {8, 9};
	static const unsigned boot8[] = {8};
	static const uint16_t sha1_only[] = {PCRGATE_ALG_SHA1};
	static uint8_t big[PCRGATE_EVENTLOG_MAX_SIZE + 1];
	struct logbuf fw, fw1, boot, boot1, boot_sha1, boot_loc;
	uint8_t d[PCRGATE_MAX_DIGEST], v[PCRGATE_MAX_DIGEST], zero = 0;
	pcrgate_pcrs *p;
	size_t b, len;
	struct fx f;

	(void)state;
	make_log(&fw1, fw_only, 3);
	make_log(&boot, boot_pcrs, 2);
	/* Split by PCR: firmware 0, 1, 4; boot 8, 9. Either order explains the same quote. */
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	fx_quote_pcrs(&f, merge(&fw1, &boot), NULL);
	set_logs(&f, &fw1, &boot);
	expect_accept(&f);
	assert_int_equal(f.res.eventlog_compared, 10); /* PCRs 0, 1, 4, 8, 9 in two banks */
	assert_int_equal(f.res.eventlog_verified_count, 2);
	assert_int_equal(f.res.eventlog_verified[0].mask, 0x313u);
	assert_int_equal(f.res.eventlog_verified[1].mask, 0x313u);
	/* The result keeps the logs it replayed, parsed, in order and named, for the policy. */
	assert_int_equal(f.res.eventlog_count, 2);
	assert_string_equal(f.res.eventlogs[0].name, "firmware");
	assert_string_equal(f.res.eventlogs[1].name, "boot");
	assert_int_equal(pcrgate_eventlog_count(f.res.eventlogs[0].log), 1 + 3);
	assert_int_equal(pcrgate_eventlog_count(f.res.eventlogs[1].log), 1 + 2);
	set_logs(&f, &boot, &fw1);
	expect_accept(&f);
	/* Either log alone leaves quoted PCRs unexplained, and says which logs were given. */
	set_logs(&f, &fw1, NULL);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha1:8 is quoted with a value the event log does not explain"));
	f.in.eventlogs[0].name = "firmware";
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "the firmware event log does not explain"));

	/* Both extend PCR 8: the firmware's two events, then the boot's one. */
	make_log(&fw, fw_pcrs, 5);
	make_log(&boot1, boot8, 1);
	p = replay(&fw);
	for (b = 0; b < 2; b++) {
		const uint8_t *fw8 = pcrgate_pcrs_get(p, log_banks[b], 8, &len);
		assert_non_null(fw8);
		memcpy(v, fw8, len);
		assert_int_equal(pcrgate_digest(log_banks[b], &zero, 1, d), 0); /* boot's event 0 */
		assert_int_equal(pcrgate_pcr_extend(log_banks[b], v, d), 0);
		assert_int_equal(pcrgate_pcrs_set(p, log_banks[b], 8, v, len), 0);
	}
	fx_quote_pcrs(&f, p, NULL);
	set_logs(&f, &fw, &boot1);
	expect_accept(&f);
	assert_int_equal(f.res.eventlog_compared, 8);
	set_logs(&f, &boot1, &fw);
	f.in.eventlogs[0].name = "boot";
	f.in.eventlogs[1].name = "firmware";
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha1:8: the event logs (boot, firmware) replay to "));
	assert_non_null(strstr(f.res.detail, "of the firmware event log)"));
	/* The firmware's log alone does not explain PCR 8, and the mismatch names it. */
	set_logs(&f, &fw, NULL);
	f.in.eventlogs[0].name = "firmware";
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "sha1:8: the firmware event log replays to "));

	/* One bad log among good ones is named, with the offset where it went wrong. */
	set_logs(&f, &fw, &boot1);
	f.in.eventlogs[1].len = boot1.len - 3;
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "the boot event log is malformed at offset "));
	assert_null(strstr(f.res.detail, "firmware"));
	/* Every log must carry every quoted bank. */
	write_log(&boot_sha1, sha1_only, 1, -1, boot8, 1);
	set_logs(&f, &fw, &boot_sha1);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "bank sha256, which the boot event log does not carry (it carries sha1)"));
	/* Only the first log sets PCR 0's starting value. */
	write_log(&boot_loc, log_banks, 2, 3, boot8, 1);
	set_logs(&f, &fw, &boot_loc);
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "the boot event log sets PCR 0's starting value"));
	/* Each log's size is checked first, and named. */
	set_logs(&f, &fw, &boot1);
	f.in.eventlogs[1].data = big;
	f.in.eventlogs[1].len = sizeof(big);
	expect_reject(&f, "size");
	assert_non_null(strstr(f.res.detail, "the boot event log of "));
	assert_int_equal(f.res.passed, 0);
	fx_free(&f);
}

/* The log is untrusted bytes: parsed only after the signed quote passed, its errors name an offset. */
static void test_eventlog_parse_order(void **state)
{
	static const unsigned log_pcrs[] = {4};
	static uint8_t big[PCRGATE_EVENTLOG_MAX_SIZE + 1];
	struct logbuf log;
	struct fx f;

	(void)state;
	make_log(&log, log_pcrs, 1);
	fx_init_from_log(&f, &log);
	/* Cut inside its last event. */
	f.in.eventlogs[0].len = log.len - 3;
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, "malformed at offset "));
	assert_true(f.res.passed & (1u << PCRGATE_QUOTE_CHECK_PCR_DIGEST));
	/* Garbage is not looked at while the signature fails, nor while the clock does. */
	memset(log.buf, 0xa5, 64);
	f.in.eventlogs[0].len = 64;
	f.attest[10] ^= 1;
	expect_reject(&f, "signature");
	f.attest[10] ^= 1;
	f.in.previous = &(pcrgate_clock_state){5000, 9, 9};
	expect_reject(&f, "clock");
	f.in.previous = NULL;
	expect_reject(&f, "eventlog");
	/* A log over the cap fails the size check, before anything else. */
	f.in.eventlogs[0].data = big;
	f.in.eventlogs[0].len = sizeof(big);
	expect_reject(&f, "size");
	assert_int_equal(f.res.passed, 0);
	fx_free(&f);
}

/*
 * go-attestation's ebs_event_missing_eventlog lacks its ExitBootServices events: the TPM
 * extended PCR 5 twice more than the log says. A quote of the real PCR values (the replay plus
 * those two EV_EFI_ACTION digests) must be flagged at PCR 5, never accepted.
 */
static void test_eventlog_upstream_mismatch(void **state)
{
	static const char *const actions[] = {"Exit Boot Services Invocation",
					      "Exit Boot Services Returned with Success"};
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *replayed = NULL;
	uint16_t banks[PCRGATE_MAX_BANKS];
	uint8_t *buf = NULL, v[PCRGATE_MAX_DIGEST], d[PCRGATE_MAX_DIGEST];
	size_t len, nb, i, a, vlen;
	struct fx f;
	int r;

	(void)state;
	r = qt_testdata_read("eventlogs/go-attestation__ebs_event_missing_eventlog", PCRGATE_EVENTLOG_MAX_SIZE, &buf,
			     &len);
	if (r == 1)
		skip();
	assert_int_equal(r, 0);
	assert_int_equal(pcrgate_eventlog_parse(buf, len, &log, NULL), 0);
	assert_int_equal(pcrgate_eventlog_replay(log, &replayed, NULL), 0);
	pcrgate_eventlog_free(&log);
	nb = pcrgate_pcrs_bank_count(replayed);
	for (i = 0; i < nb; i++) {
		const uint8_t *pcr5;
		banks[i] = pcrgate_pcrs_bank_alg(replayed, i);
		assert_non_null(pcr5 = pcrgate_pcrs_get(replayed, banks[i], 5, &vlen));
		memcpy(v, pcr5, vlen);
		for (a = 0; a < 2; a++) {
			assert_int_equal(pcrgate_digest(banks[i], actions[a], strlen(actions[a]), d), 0);
			assert_int_equal(pcrgate_pcr_extend(banks[i], v, d), 0);
		}
		assert_int_equal(pcrgate_pcrs_set(replayed, banks[i], 5, v, vlen), 0);
	}
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	pcrgate_pcrs_free(&f.pcrs);
	f.pcrs = replayed;
	f.in.pcrs = replayed;
	assert_int_equal(qt_attest_select(&f.a, replayed, banks, nb, f.key->hash), 0);
	fx_sign(&f);
	f.in.eventlogs[0].data = buf;
	f.in.eventlogs[0].len = len;
	f.in.eventlog_count = 1;
	expect_reject(&f, "eventlog");
	assert_non_null(strstr(f.res.detail, ":5:"));
	fx_free(&f);
	free(buf);
}

/*
 * A seed for fuzz_quote that reaches the event log: flags 0x86 (signed by the fuzzer with its
 * ECC key; a PCR file and event logs follow), u16 attest length, attest, u16 signature length,
 * signature, the PCRs as text lines with a u16 length, a byte 0 (one log), the log.
 */
static void write_seeds(void **state)
{
	static const unsigned log_pcrs[] = {0, 1, 4};
	char text[2048], hex[2 * PCRGATE_MAX_DIGEST + 1], b[PCRGATE_ALG_LABEL_MAX];
	uint8_t seed[16384];
	struct logbuf log;
	size_t i, n, tl = 0, vlen;
	unsigned k;
	struct fx f;
	int w;

	(void)state;
	make_log(&log, log_pcrs, 3);
	fx_init_from_log(&f, &log);
	for (i = 0; i < pcrgate_pcrs_bank_count(f.pcrs); i++) {
		uint16_t alg = pcrgate_pcrs_bank_alg(f.pcrs, i);
		for (k = 0; k < PCRGATE_MAX_PCRS; k++) {
			const uint8_t *v = pcrgate_pcrs_get(f.pcrs, alg, k, &vlen);
			if (v == NULL)
				continue;
			pcrgate_hex_encode(v, vlen, hex);
			tl += (size_t)snprintf(text + tl, sizeof(text) - tl, "%s:%u=%s\n",
					       pcrgate_alg_label(alg, b), k, hex);
			assert_true(tl < sizeof(text));
		}
	}
	seed[0] = 0x86;
	n = 1;
	seed_put(seed, sizeof(seed), &n, f.attest, f.attest_len);
	seed_put(seed, sizeof(seed), &n, f.sig, f.sig_len);
	seed_put(seed, sizeof(seed), &n, text, tl);
	assert_true(sizeof(seed) - n > log.len);
	seed[n++] = 0;
	memcpy(seed + n, log.buf, log.len);
	n += log.len;
	fx_free(&f);
	w = test_seed_write("quote", "unit-eventlog", seed, n);
	if (w == 1)
		skip();
	assert_int_equal(w, 0);
}

static int setup(void **state)
{
	(void)state;
	return qt_key_new(&ecdsa, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA256, 256) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	qt_key_free(&ecdsa);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_eventlog),
		cmocka_unit_test(test_eventlog_unexplained),
		cmocka_unit_test(test_eventlog_several),
		cmocka_unit_test(test_eventlog_parse_order),
		cmocka_unit_test(test_eventlog_upstream_mismatch),
		cmocka_unit_test(write_seeds),
	};

	return qt_exit_status(cmocka_run_group_tests(tests, setup, teardown));
}
