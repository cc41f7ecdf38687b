/*
 * Unit tests for the evidence document (lib/evidence.c): a document built here the way
 * pcrgate-agent writes it (a test key plays the TPM, two event logs split by PCR) parses and
 * verifies; every member missing, of another type, over its cap or badly encoded is refused
 * with its name; a report bound to the nonce verifies. Also leaves seed inputs for
 * tests/fuzz/fuzz_evidence in the fuzz corpus directory.
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
#include <jansson.h>
#include <openssl/evp.h>

#include "pcrgate/eventlog.h"
#include "pcrgate/evidence.h"
#include "pcrgate/quote.h"
#include "quote_util.h"
#include "seed.h"

static struct qt_key signer;
static const uint16_t banks[] = {PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA1};
static const uint8_t endorsement[4] = {0x40, 0x00, 0x00, 0x0b};
static const uint8_t the_nonce[8] = {0x5e, 0xed, 0xf0, 0x0d, 0x0b, 0xad, 0xca, 0xfe};

struct logbuf {
	uint8_t buf[4096];
	size_t len;
};

/* A crypto-agile log in both banks with one event per pcrs[i], data the byte first + i. */
static void make_log(struct logbuf *l, const unsigned *pcrs, size_t n, uint8_t first)
{
	uint8_t d[2][PCRGATE_MAX_DIGEST], data;
	pcrgate_eventlog_digest dg[2] = {{banks[0], d[0]}, {banks[1], d[1]}};
	size_t i, w;

	assert_int_equal(pcrgate_eventlog_write_header(l->buf, sizeof(l->buf), banks, 2, &w), 0);
	l->len = w;
	for (i = 0; i < n; i++) {
		data = (uint8_t)(first + i);
		assert_int_equal(pcrgate_digest(banks[0], &data, 1, d[0]), 0);
		assert_int_equal(pcrgate_digest(banks[1], &data, 1, d[1]), 0);
		assert_int_equal(pcrgate_eventlog_write_event(l->buf + l->len, sizeof(l->buf) - l->len, pcrs[i],
							      PCRGATE_EV_IPL, dg, 2, &data, 1, &w),
				 0);
		l->len += w;
	}
}

static json_t *b64(const uint8_t *p, size_t n)
{
	char *s = malloc(4 * ((n + 2) / 3) + 1);
	json_t *j;

	assert_non_null(s);
	EVP_EncodeBlock((unsigned char *)s, p, (int)n);
	j = json_string(s);
	free(s);
	return j;
}

static json_t *hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);
	json_t *j;

	assert_non_null(s);
	pcrgate_hex_encode(p, n, s);
	j = json_string(s);
	free(s);
	return j;
}

/* The PCR values of both logs' replay, as the agent writes them. */
static json_t *pcrs_json(const pcrgate_pcrs *p)
{
	json_t *root = json_object(), *bank;
	const uint8_t *v;
	char idx[8];
	size_t i, len;
	unsigned k;

	for (i = 0; i < pcrgate_pcrs_bank_count(p); i++) {
		uint16_t alg = pcrgate_pcrs_bank_alg(p, i);
		bank = json_object();
		for (k = 0; k < PCRGATE_MAX_PCRS; k++)
			if ((v = pcrgate_pcrs_get(p, alg, k, &len)) != NULL) {
				snprintf(idx, sizeof(idx), "%u", k);
				json_object_set_new(bank, idx, hex(v, len));
			}
		json_object_set_new(root, pcrgate_alg_name(alg), bank);
	}
	return root;
}

/* Replays fw then boot (their PCRs are disjoint) into one set. */
static pcrgate_pcrs *replay_both(const struct logbuf *fw, const struct logbuf *boot)
{
	const struct logbuf *l[2] = {fw, boot};
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *out = pcrgate_pcrs_new(), *r = NULL;
	const uint8_t *v;
	size_t i, b, len;
	unsigned k;

	assert_non_null(out);
	for (i = 0; i < 2; i++) {
		assert_int_equal(pcrgate_eventlog_parse(l[i]->buf, l[i]->len, &log, NULL), 0);
		assert_int_equal(pcrgate_eventlog_replay(log, &r, NULL), 0);
		for (b = 0; b < 2; b++)
			for (k = 0; k < PCRGATE_MAX_PCRS; k++)
				if ((v = pcrgate_pcrs_get(r, banks[b], k, &len)) != NULL)
					assert_int_equal(pcrgate_pcrs_set(out, banks[b], k, v, len), 0);
		pcrgate_pcrs_free(&r);
		pcrgate_eventlog_free(&log);
	}
	return out;
}

/*
 * An evidence document as pcrgate-agent writes it: a quote by the test key over both logs'
 * PCRs with extra (the nonce, or a report binding) as extraData.
 */
static json_t *make_doc(const uint8_t *extra, size_t extra_len)
{
	static const unsigned fw_pcrs[] = {0, 1, 4}, boot_pcrs[] = {8, 9, 9};
	struct logbuf fw, boot;
	uint8_t pub[2048], attest[4096], sig[1024], qn[PCRGATE_QUOTE_MAX_NAME];
	size_t pub_len, attest_len, sig_len, qn_len, name_len;
	const uint8_t *name;
	pcrgate_akpub *ak = pcrgate_akpub_new();
	pcrgate_pcrs *p;
	TPMS_ATTEST a;
	json_t *doc;

	make_log(&fw, fw_pcrs, 3, 0);
	make_log(&boot, boot_pcrs, 3, 0x40);
	p = replay_both(&fw, &boot);
	assert_int_equal(qt_key_export(&signer, PCRGATE_AKPUB_TPM2B_PUBLIC, pub, sizeof(pub), &pub_len), 0);
	assert_int_equal(pcrgate_akpub_load(ak, pub, pub_len, NULL), 0);
	assert_non_null(name = pcrgate_akpub_name(ak, &name_len));
	assert_int_equal(pcrgate_akpub_qualified_name(ak, endorsement, sizeof(endorsement), qn, &qn_len), 0);
	qt_attest_init(&a, qn, qn_len, extra, extra_len);
	assert_int_equal(qt_attest_select(&a, p, banks, 2, signer.hash), 0);
	assert_int_equal(qt_attest_marshal(&a, attest, sizeof(attest), &attest_len), 0);
	assert_int_equal(qt_sign(&signer, 0, 0, attest, attest_len, sig, sizeof(sig), &sig_len), 0);
	doc = json_pack("{s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o,s:o,s:{s:I,s:I,s:I,s:b,s:s},s:{s:o,s:o}}", "format",
			"pcrgate-evidence", "version", 1, "nonce", hex(the_nonce, sizeof(the_nonce)), "ak_public",
			b64(pub, pub_len), "ak_name", hex(name, name_len), "ak_qualified_name", hex(qn, qn_len),
			"attest", b64(attest, attest_len), "signature", b64(sig, sig_len), "pcrs", pcrs_json(p),
			"clock", "clock", (json_int_t)1000, "reset_count", (json_int_t)2, "restart_count",
			(json_int_t)1, "safe", 1, "firmware_version", "0x0000000000001234", "eventlogs",
			"firmware", b64(fw.buf, fw.len), "boot", b64(boot.buf, boot.len));
	assert_non_null(doc);
	pcrgate_pcrs_free(&p);
	pcrgate_akpub_free(&ak);
	return doc;
}

/* Parses doc; returns the code, the document in *ev on success, the message in ei. */
static int parse(const json_t *doc, pcrgate_evidence **ev, pcrgate_errinfo *ei)
{
	char *text = json_dumps(doc, JSON_COMPACT);
	int r;

	assert_non_null(text);
	pcrgate_errinfo_clear(ei);
	r = pcrgate_evidence_parse((const uint8_t *)text, strlen(text), ev, ei);
	free(text);
	return r;
}

/* doc (taken) must be refused with code, the message naming what. */
static void expect_refused(json_t *doc, int code, const char *what)
{
	pcrgate_evidence *ev = NULL;
	pcrgate_errinfo ei;
	int r = parse(doc, &ev, &ei);

	if (r != code || strstr(ei.message, what) == NULL)
		fail_msg("expected %d naming '%s', got %d: %s", code, what, r, ei.message);
	assert_null(ev);
	json_decref(doc);
}

/* A copy of good with member path ("clock.safe") set to v (taken), or removed when v is NULL. */
static json_t *with(const json_t *good, const char *obj, const char *key, json_t *v)
{
	json_t *doc = json_deep_copy(good), *o = obj ? json_object_get(doc, obj) : doc;

	assert_non_null(o);
	if (v == NULL)
		assert_int_equal(json_object_del(o, key), 0);
	else
		assert_int_equal(json_object_set_new(o, key, v), 0);
	return doc;
}

static void verify(pcrgate_evidence *ev, const uint8_t *nonce, size_t nonce_len, pcrgate_quote_result *res,
		   int expect)
{
	pcrgate_quote_input in;
	pcrgate_errinfo ei;

	memset(&in, 0, sizeof(in));
	assert_int_equal(pcrgate_evidence_quote_input(ev, &in), 0);
	in.ak = pcrgate_evidence_ak(ev);
	in.nonce = nonce;
	in.nonce_len = nonce_len;
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_quote_verify(&in, res, &ei) != expect)
		fail_msg("verification: %s", ei.message);
	/* The callers read the verdict only, not the logs it keeps. */
	pcrgate_quote_result_clear(res);
}

static void test_good(void **state)
{
	json_t *doc = make_doc(the_nonce, sizeof(the_nonce)), *boot_only;
	pcrgate_evidence *ev = NULL;
	pcrgate_quote_result res;
	pcrgate_clock_state c;
	pcrgate_errinfo ei;
	const uint8_t *p;
	const char *name;
	uint64_t fw;
	size_t len;
	int safe;

	(void)state;
	assert_int_equal(parse(doc, &ev, &ei), 0);
	assert_non_null(p = pcrgate_evidence_nonce(ev, &len));
	assert_int_equal(len, sizeof(the_nonce));
	assert_memory_equal(p, the_nonce, len);
	assert_non_null(pcrgate_evidence_ak_public(ev, &len));
	assert_true(len > 0);
	assert_non_null(pcrgate_evidence_ak_name(ev, &len));
	assert_int_equal(len, 34);
	assert_non_null(pcrgate_evidence_ak_qualified_name(ev, &len));
	assert_int_equal(len, 34);
	assert_non_null(pcrgate_evidence_attest(ev, &len));
	assert_non_null(pcrgate_evidence_signature(ev, &len));
	assert_int_equal(pcrgate_pcrs_mask(pcrgate_evidence_pcrs(ev), PCRGATE_ALG_SHA256), 0x313u);
	assert_int_equal(pcrgate_evidence_clock(ev, &c, &safe, &fw), 0);
	assert_int_equal(c.clock, 1000);
	assert_int_equal(c.reset_count, 2);
	assert_int_equal(c.restart_count, 1);
	assert_int_equal(safe, 1);
	assert_int_equal(fw, 0x1234);
	assert_int_equal(pcrgate_evidence_eventlog_count(ev), 2);
	assert_non_null(pcrgate_evidence_eventlog(ev, 0, &name, &len));
	assert_string_equal(name, "firmware");
	assert_non_null(pcrgate_evidence_eventlog(ev, 1, &name, &len));
	assert_string_equal(name, "boot");
	assert_null(pcrgate_evidence_eventlog(ev, 2, &name, &len));

	/* The quote verifies with both logs replayed, firmware first. */
	verify(ev, the_nonce, sizeof(the_nonce), &res, 0);
	assert_true(res.passed & (1u << PCRGATE_QUOTE_CHECK_EVENTLOG));
	assert_true(res.passed & (1u << PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER));
	assert_int_equal(res.eventlog_compared, 10);
	/* The document's nonce proves nothing: another one is refused. */
	verify(ev, (const uint8_t *)"another", 7, &res, PCRGATE_ERR_VERIFY);
	assert_int_equal(res.failed, PCRGATE_QUOTE_CHECK_NONCE);
	pcrgate_evidence_free(&ev);
	pcrgate_evidence_free(&ev);
	assert_null(ev);
	/* Without the firmware's log the boot log alone does not explain PCRs 0, 1 and 4. */
	boot_only = with(doc, "eventlogs", "firmware", NULL);
	assert_int_equal(parse(boot_only, &ev, &ei), 0);
	verify(ev, the_nonce, sizeof(the_nonce), &res, PCRGATE_ERR_VERIFY);
	assert_int_equal(res.failed, PCRGATE_QUOTE_CHECK_EVENTLOG);
	assert_non_null(strstr(res.detail, "the boot event log does not explain"));
	pcrgate_evidence_free(&ev);
	json_decref(boot_only);
	json_decref(doc);
}

static void test_members(void **state)
{
	static const char *const top[] = {"format", "version", "nonce", "ak_public", "ak_name",
					  "ak_qualified_name", "attest", "signature", "pcrs", "clock",
					  "eventlogs"};
	static const char *const clock[] = {"clock", "reset_count", "restart_count", "safe", "firmware_version"};
	json_t *doc = make_doc(the_nonce, sizeof(the_nonce));
	char path[64];
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		/* format's type decides before anything else; any other member is named. */
		snprintf(path, sizeof(path), "\"%s\" is missing", top[i]);
		expect_refused(with(doc, NULL, top[i], NULL), PCRGATE_ERR_FORMAT, path);
		snprintf(path, sizeof(path), "\"%s\" is not a", top[i]);
		expect_refused(with(doc, NULL, top[i], strcmp(top[i], "version") ? json_integer(7) : json_string("1")),
			       PCRGATE_ERR_FORMAT, path);
	}
	for (i = 0; i < sizeof(clock) / sizeof(clock[0]); i++) {
		snprintf(path, sizeof(path), "\"clock.%s\" is missing", clock[i]);
		expect_refused(with(doc, "clock", clock[i], NULL), PCRGATE_ERR_FORMAT, path);
		snprintf(path, sizeof(path), "\"clock.%s\" is not a", clock[i]);
		expect_refused(with(doc, "clock", clock[i], json_array()), PCRGATE_ERR_FORMAT, path);
	}
	expect_refused(with(doc, "eventlogs", "boot", json_integer(1)), PCRGATE_ERR_FORMAT,
		       "\"eventlogs.boot\" is not a string");
	/* Unknown members anywhere, another format or version. */
	expect_refused(with(doc, NULL, "extra", json_true()), PCRGATE_ERR_FORMAT, "unknown member \"extra\"");
	expect_refused(with(doc, "clock", "tz", json_true()), PCRGATE_ERR_FORMAT, "unknown member \"tz\" in \"clock\"");
	expect_refused(with(doc, "eventlogs", "ima", json_string("")), PCRGATE_ERR_FORMAT,
		       "unknown member \"ima\" in \"eventlogs\"");
	expect_refused(with(doc, NULL, "format", json_string("pcrgate-certify")), PCRGATE_ERR_FORMAT,
		       "format \"pcrgate-certify\"");
	expect_refused(with(doc, NULL, "version", json_integer(2)), PCRGATE_ERR_UNSUPPORTED, "version 2");
	/* Ranges. */
	expect_refused(with(doc, "clock", "clock", json_integer(-1)), PCRGATE_ERR_FORMAT, "\"clock.clock\" is out of range");
	expect_refused(with(doc, "clock", "reset_count", json_integer(0x100000000)), PCRGATE_ERR_FORMAT,
		       "\"clock.reset_count\" is out of range");
	expect_refused(with(doc, "clock", "firmware_version", json_string("0x12345678901234567")), PCRGATE_ERR_FORMAT,
		       "clock.firmware_version");
	expect_refused(with(doc, "clock", "firmware_version", json_string("1234")), PCRGATE_ERR_FORMAT,
		       "clock.firmware_version");
	expect_refused(with(doc, "clock", "firmware_version", json_string("0x12g4")), PCRGATE_ERR_FORMAT,
		       "clock.firmware_version");
	/* Not an object, not JSON, a duplicate key. */
	expect_refused(json_array(), PCRGATE_ERR_FORMAT, "not a JSON object");
	json_decref(doc);
}

static void test_sizes_encodings(void **state)
{
	static const struct {
		const char *key;
		size_t over; /* one byte more than allowed */
		int b64;
	} caps[] = {
		{"nonce", PCRGATE_EVIDENCE_MAX_NONCE + 1, 0},
		{"ak_public", PCRGATE_EVIDENCE_MAX_AK_PUBLIC + 1, 1},
		{"ak_name", PCRGATE_QUOTE_MAX_NAME + 1, 0},
		{"ak_qualified_name", PCRGATE_QUOTE_MAX_NAME + 1, 0},
		{"attest", PCRGATE_QUOTE_MAX_ATTEST + 1, 1},
		{"signature", PCRGATE_QUOTE_MAX_SIGNATURE + 1, 1},
	};
	json_t *doc = make_doc(the_nonce, sizeof(the_nonce));
	pcrgate_evidence *ev = NULL;
	pcrgate_errinfo ei;
	uint8_t *big;
	char path[64];
	size_t i;

	(void)state;
	assert_non_null(big = calloc(1, PCRGATE_EVIDENCE_MAX_SIZE + 1));
	for (i = 0; i < sizeof(caps) / sizeof(caps[0]); i++) {
		snprintf(path, sizeof(path), "\"%s\" holds %zu bytes", caps[i].key, caps[i].over);
		expect_refused(with(doc, NULL, caps[i].key, caps[i].b64 ? b64(big, caps[i].over) : hex(big, caps[i].over)),
			       PCRGATE_ERR_LIMIT, path);
		/* Bad encodings: a character outside the alphabet, a length that cannot be. */
		snprintf(path, sizeof(path), "\"%s\" is not %s", caps[i].key, caps[i].b64 ? "base64" : "hex");
		expect_refused(with(doc, NULL, caps[i].key, json_string(caps[i].b64 ? "AAA*" : "zz")),
			       PCRGATE_ERR_FORMAT, path);
		expect_refused(with(doc, NULL, caps[i].key, json_string(caps[i].b64 ? "AAAAA" : "abc")),
			       PCRGATE_ERR_FORMAT, path);
	}
	/* Empty where bytes are needed; base64 with bits left over; whitespace; an embedded NUL. */
	expect_refused(with(doc, NULL, "attest", json_string("")), PCRGATE_ERR_FORMAT, "\"attest\" holds 0 bytes");
	expect_refused(with(doc, NULL, "ak_name", json_string("")), PCRGATE_ERR_FORMAT, "\"ak_name\" holds 0 bytes");
	expect_refused(with(doc, NULL, "signature", json_string("AB==")), PCRGATE_ERR_FORMAT,
		       "\"signature\" is not canonical base64");
	expect_refused(with(doc, NULL, "signature", json_string("AA A")), PCRGATE_ERR_FORMAT,
		       "\"signature\" is not base64");
	expect_refused(with(doc, NULL, "signature", json_stringn("AA\0A", 4)), PCRGATE_ERR_FORMAT, "evidence: JSON: ");
	expect_refused(with(doc, "eventlogs", "boot", json_string("")), PCRGATE_ERR_FORMAT,
		       "\"eventlogs.boot\" is empty");
	expect_refused(with(doc, "eventlogs", "firmware", json_string("A===")), PCRGATE_ERR_FORMAT,
		       "\"eventlogs.firmware\" is not base64");
	/* An event log over its cap, and the whole document over its own: refused before parsing. */
	expect_refused(with(doc, "eventlogs", "boot", b64(big, PCRGATE_EVENTLOG_MAX_SIZE + 1)), PCRGATE_ERR_LIMIT,
		       "\"eventlogs.boot\" holds");
	memset(big, ' ', PCRGATE_EVIDENCE_MAX_SIZE + 1);
	assert_int_equal(pcrgate_evidence_parse(big, PCRGATE_EVIDENCE_MAX_SIZE + 1, &ev, &ei), PCRGATE_ERR_LIMIT);
	assert_null(ev);
	free(big);
	/* The AK: a TPM2B_PUBLIC whose name is ak_name. */
	expect_refused(with(doc, NULL, "ak_public", json_string("AAEC")), PCRGATE_ERR_FORMAT, "\"ak_public\":");
	expect_refused(with(doc, NULL, "ak_name", json_string("000b00")), PCRGATE_ERR_FORMAT,
		       "\"ak_name\" is not the name of ak_public");
	/* PCR values: known banks, hex of the bank's size. */
	expect_refused(with(doc, "pcrs", "md5", json_object()), PCRGATE_ERR_FORMAT, "unknown bank \"md5\"");
	expect_refused(with(doc, "pcrs", "sha1", json_pack("{s:s}", "0", "00")), PCRGATE_ERR_FORMAT, "\"pcrs\":");
	expect_refused(with(doc, NULL, "pcrs", json_object()), PCRGATE_ERR_FORMAT, "\"pcrs\" holds no PCR value");
	json_decref(doc);
	/* Malformed JSON is refused with its offset; so is a key given twice. */
	pcrgate_errinfo_clear(&ei);
	assert_int_equal(pcrgate_evidence_parse((const uint8_t *)"{\"format\": ", 11, &ev, &ei), PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	assert_int_equal(pcrgate_evidence_parse((const uint8_t *)"{\"a\":1,\"a\":1}", 13, &ev, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_null(ev);
}

/* A report bound to the evidence: extraData is SHA-256(nonce || report). */
static void test_report_binding(void **state)
{
	static const char report[] = "{\"release\":\"r2\",\"outcome\":\"committed\",\"reason\":\"\"}";
	uint8_t binding[PCRGATE_EVIDENCE_BINDING_SIZE], cat[sizeof(the_nonce) + sizeof(report)], want[32];
	pcrgate_evidence *ev = NULL;
	pcrgate_quote_result res;
	pcrgate_errinfo ei;
	unsigned n;
	json_t *doc;

	(void)state;
	memcpy(cat, the_nonce, sizeof(the_nonce));
	memcpy(cat + sizeof(the_nonce), report, strlen(report));
	assert_int_equal(EVP_Digest(cat, sizeof(the_nonce) + strlen(report), want, &n, EVP_sha256(), NULL), 1);
	assert_int_equal(pcrgate_evidence_report_binding(the_nonce, sizeof(the_nonce), (const uint8_t *)report,
							 strlen(report), binding),
			 0);
	assert_memory_equal(binding, want, 32);
	assert_int_equal(pcrgate_evidence_report_binding(NULL, 1, NULL, 0, binding), PCRGATE_ERR_INVALID_ARGUMENT);

	doc = make_doc(binding, sizeof(binding));
	assert_int_equal(parse(doc, &ev, &ei), 0);
	verify(ev, binding, sizeof(binding), &res, 0);
	/* The bare nonce, or a binding of another report, is not what the quote carries. */
	verify(ev, the_nonce, sizeof(the_nonce), &res, PCRGATE_ERR_VERIFY);
	assert_int_equal(res.failed, PCRGATE_QUOTE_CHECK_NONCE);
	assert_int_equal(pcrgate_evidence_report_binding(the_nonce, sizeof(the_nonce), (const uint8_t *)report,
							 strlen(report) - 1, binding),
			 0);
	verify(ev, binding, sizeof(binding), &res, PCRGATE_ERR_VERIFY);
	assert_int_equal(res.failed, PCRGATE_QUOTE_CHECK_NONCE);
	pcrgate_evidence_free(&ev);
	json_decref(doc);
}

/* Seeds for fuzz_evidence: the good document, one with the boot log only, one with a bad clock. */
static void write_seeds(void **state)
{
	json_t *doc = make_doc(the_nonce, sizeof(the_nonce)), *v[3];
	const char *names[3] = {"unit-good", "unit-boot-only", "unit-bad-clock"};
	char *text[3];
	size_t i;
	int w = 0;

	(void)state;
	v[0] = json_incref(doc);
	v[1] = with(doc, "eventlogs", "firmware", NULL);
	v[2] = with(doc, "clock", "safe", json_string("no"));
	for (i = 0; i < 3; i++) {
		assert_non_null(text[i] = json_dumps(v[i], JSON_COMPACT));
		json_decref(v[i]);
	}
	json_decref(doc);
	for (i = 0; i < 3 && w == 0; i++)
		w = test_seed_write("evidence", names[i], (const uint8_t *)text[i], strlen(text[i]));
	for (i = 0; i < 3; i++)
		free(text[i]);
	if (w == 1)
		skip();
	assert_int_equal(w, 0);
}

static int setup(void **state)
{
	(void)state;
	return qt_key_new(&signer, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA256, 256) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	qt_key_free(&signer);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good),
		cmocka_unit_test(test_members),
		cmocka_unit_test(test_sizes_encodings),
		cmocka_unit_test(test_report_binding),
		cmocka_unit_test(write_seeds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
