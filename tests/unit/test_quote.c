/*
 * Unit tests for quote verification: keys made here with OpenSSL play the TPM and sign quotes
 * marshalled here with the TSS; every check's acceptance and rejection, in DESIGN.md's order
 * (the event log's check is in test_quote_eventlog.c). Also leaves seed inputs for
 * tests/fuzz/fuzz_quote in the fuzz corpus directory.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include <cmocka.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/quote.h"
#include "quote_fixture.h"
#include "quote_util.h"
#include "seed.h"

/* Keys are slow to make: one of each kind for the whole run. */
static struct qt_key rsassa, rsapss, ecdsa, ecdsa384;

static void test_accept_each_scheme_and_format(void **state)
{
	const struct qt_key *keys[] = {&rsassa, &rsapss, &ecdsa, &ecdsa384};
	const int formats[] = {PCRGATE_AKPUB_PEM, PCRGATE_AKPUB_DER, PCRGATE_AKPUB_TPM2B_PUBLIC,
			       PCRGATE_AKPUB_TPMT_PUBLIC};
	size_t i, j;
	struct fx f;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		for (j = 0; j < sizeof(formats) / sizeof(formats[0]); j++) {
			fx_init(&f, keys[i], formats[j]);
			expect_accept(&f);
			assert_int_equal(f.res.sig_alg, keys[i]->scheme);
			assert_int_equal(f.res.hash_alg, keys[i]->hash);
			assert_true(f.res.parsed);
			assert_int_equal(f.res.clock.clock, 1000);
			assert_int_equal(f.res.clock.reset_count, 2);
			assert_int_equal(f.res.clock.restart_count, 1);
			assert_int_equal(f.res.firmware_version, 0x2019102300163636ull);
			assert_int_equal(f.res.extra_data_len, sizeof(f.nonce));
			assert_int_equal(f.res.selection_count, 2);
			assert_int_equal(f.res.selection[0].alg, PCRGATE_ALG_SHA256);
			assert_int_equal(f.res.selection[0].mask, 0x10007);
			assert_int_equal(f.res.selection[1].alg, PCRGATE_ALG_SHA1);
			assert_int_equal(f.res.selection[1].mask, 0x81);
			assert_int_equal(f.res.pcr_digest_len, pcrgate_alg_digest_size(keys[i]->hash));
			/* Without the optional inputs their checks are reported skipped, not passed. */
			assert_true(f.res.skipped & (1u << PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER));
			assert_true(f.res.skipped & (1u << PCRGATE_QUOTE_CHECK_CLOCK));
			assert_true(f.res.skipped & (1u << PCRGATE_QUOTE_CHECK_EVENTLOG));
			assert_int_equal(f.res.passed, (1u << PCRGATE_QUOTE_CHECK_SIZE) |
							       (1u << PCRGATE_QUOTE_CHECK_SIGNATURE) |
							       (1u << PCRGATE_QUOTE_CHECK_MAGIC) |
							       (1u << PCRGATE_QUOTE_CHECK_TYPE) |
							       (1u << PCRGATE_QUOTE_CHECK_NONCE) |
							       (1u << PCRGATE_QUOTE_CHECK_PCR_SELECTION) |
							       (1u << PCRGATE_QUOTE_CHECK_PCR_DIGEST));
			/* Verifying again reuses the key's OpenSSL context. */
			expect_accept(&f);
			fx_free(&f);
		}
	}
}

static void test_optional_inputs_skipped(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	f.in.nonce = NULL;
	f.in.pcrs = NULL;
	expect_accept(&f);
	assert_int_equal(f.res.skipped,
			 (1u << PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER) | (1u << PCRGATE_QUOTE_CHECK_NONCE) |
				 (1u << PCRGATE_QUOTE_CHECK_PCR_SELECTION) |
				 (1u << PCRGATE_QUOTE_CHECK_PCR_DIGEST) | (1u << PCRGATE_QUOTE_CHECK_CLOCK) |
				 (1u << PCRGATE_QUOTE_CHECK_EVENTLOG));
	fx_free(&f);
}

static void test_size(void **state)
{
	static uint8_t big[PCRGATE_QUOTE_MAX_ATTEST + 1];
	struct fx f;

	(void)state;
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	f.in.attest_len = 0;
	expect_reject(&f, "size");
	/* Caps come before any work: nothing else ran. */
	assert_int_equal(f.res.passed, 0);
	assert_int_equal(f.res.sig_alg, 0);
	f.in.attest = big;
	f.in.attest_len = sizeof(big);
	expect_reject(&f, "size");
	f.in.attest = f.attest;
	f.in.attest_len = f.attest_len;
	f.in.signature_len = 0;
	expect_reject(&f, "size");
	f.in.signature_len = PCRGATE_QUOTE_MAX_SIGNATURE + 1;
	expect_reject(&f, "size");
	fx_free(&f);
}

static void test_signature(void **state)
{
	const struct qt_key *keys[] = {&rsassa, &rsapss, &ecdsa};
	uint8_t other_pub[2048];
	size_t i, pos, other_len;
	struct fx f;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		fx_init(&f, keys[i], PCRGATE_AKPUB_TPM2B_PUBLIC);
		/* One flipped bit anywhere in the attest bytes or in the signature value. */
		for (pos = 0; pos < f.attest_len; pos += 7) {
			f.attest[pos] ^= 0x10;
			expect_reject(&f, "signature");
			assert_false(f.res.parsed);
			f.attest[pos] ^= 0x10;
		}
		f.sig[f.sig_len - 1] ^= 1;
		expect_reject(&f, "signature");
		f.sig[f.sig_len - 1] ^= 1;
		f.sig[f.sig_len / 2] ^= 0x80;
		expect_reject(&f, "signature");
		f.sig[f.sig_len / 2] ^= 0x80;
		/* Truncated, or with bytes after the TPMT_SIGNATURE. */
		f.in.signature_len = f.sig_len - 1;
		expect_reject(&f, "signature");
		f.sig[f.sig_len] = 0;
		f.in.signature_len = f.sig_len + 1;
		expect_reject(&f, "signature");
		f.in.signature_len = f.sig_len;
		expect_accept(&f);
		fx_free(&f);
	}

	/* Another key's valid signature. */
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	assert_int_equal(qt_key_export(&rsapss, PCRGATE_AKPUB_PEM, other_pub, sizeof(other_pub), &other_len),
			 0);
	assert_int_equal(pcrgate_akpub_load(f.ak, other_pub, other_len, NULL), 0);
	expect_reject(&f, "signature");
	fx_free(&f);

	/* An ECDSA signature cannot come from an RSA key, nor RSA from ECC. */
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	assert_int_equal(qt_sign(&ecdsa, 0, 0, f.attest, f.attest_len, f.sig, sizeof(f.sig), &f.sig_len), 0);
	f.in.signature_len = f.sig_len;
	expect_reject(&f, "signature");
	assert_non_null(strstr(f.res.detail, "RSA key"));
	fx_free(&f);

	/* A TPM key bound to RSASSA-SHA256 makes no RSAPSS signature; a PEM key does not say. */
	fx_init(&f, &rsassa, PCRGATE_AKPUB_TPMT_PUBLIC);
	assert_int_equal(qt_sign(&rsassa, TPM2_ALG_RSAPSS, 0, f.attest, f.attest_len, f.sig, sizeof(f.sig),
				 &f.sig_len),
			 0);
	f.in.signature_len = f.sig_len;
	expect_reject(&f, "signature");
	assert_non_null(strstr(f.res.detail, "rsassa-sha256"));
	fx_free(&f);
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	assert_int_equal(qt_sign(&rsassa, TPM2_ALG_RSAPSS, 0, f.attest, f.attest_len, f.sig, sizeof(f.sig),
				 &f.sig_len),
			 0);
	f.in.signature_len = f.sig_len;
	expect_accept(&f);

	/* SHA-1 signatures are not accepted, even when valid. */
	assert_int_equal(qt_sign(&rsassa, 0, PCRGATE_ALG_SHA1, f.attest, f.attest_len, f.sig, sizeof(f.sig),
				 &f.sig_len),
			 0);
	f.in.signature_len = f.sig_len;
	expect_reject(&f, "signature");
	assert_non_null(strstr(f.res.detail, "sha1"));

	/* An HMAC "signature" (TPM_ALG_HMAC) is no quote signature. */
	memcpy(f.sig, "\x00\x05\x00\x0b", 4);
	memset(f.sig + 4, 0x11, 32);
	f.in.signature_len = 36;
	expect_reject(&f, "signature");
	fx_free(&f);
}

static void test_magic_and_type(void **state)
{
	struct fx f;

	(void)state;
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	f.a.magic = 0xff544348;
	fx_sign(&f);
	expect_reject(&f, "magic");
	assert_true(f.res.passed & (1u << PCRGATE_QUOTE_CHECK_SIGNATURE));
	fx_free(&f);

	/* A signed structure of 3 bytes has no room for the magic. */
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	f.attest_len = 3;
	assert_int_equal(qt_sign(f.key, 0, 0, f.attest, 3, f.sig, sizeof(f.sig), &f.sig_len), 0);
	f.in.attest_len = 3;
	f.in.signature_len = f.sig_len;
	expect_reject(&f, "magic");
	fx_free(&f);

	/* A certification, not a quote, under the same key. */
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	f.a.type = TPM2_ST_ATTEST_CERTIFY;
	fx_sign(&f);
	expect_reject(&f, "type");
	assert_non_null(strstr(f.res.detail, "0x8017"));
	fx_free(&f);

	/* A quote with a byte after it, and a cut one, both signed. */
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	f.attest[f.attest_len] = 0;
	assert_int_equal(qt_sign(f.key, 0, 0, f.attest, f.attest_len + 1, f.sig, sizeof(f.sig), &f.sig_len),
			 0);
	f.in.attest_len = f.attest_len + 1;
	f.in.signature_len = f.sig_len;
	expect_reject(&f, "type");
	assert_false(f.res.parsed);
	assert_int_equal(qt_sign(f.key, 0, 0, f.attest, f.attest_len - 5, f.sig, sizeof(f.sig), &f.sig_len),
			 0);
	f.in.attest_len = f.attest_len - 5;
	f.in.signature_len = f.sig_len;
	expect_reject(&f, "type");
	fx_free(&f);
}

static void test_qualified_signer(void **state)
{
	const uint8_t owner[4] = {0x40, 0x00, 0x00, 0x01};
	uint8_t qn[PCRGATE_QUOTE_MAX_NAME];
	size_t qn_len;
	struct fx f;

	(void)state;
	fx_init(&f, &rsassa, PCRGATE_AKPUB_TPM2B_PUBLIC);
	assert_int_equal(pcrgate_akpub_qualified_name(f.ak, fx_endorsement, 4, qn, &qn_len), 0);
	f.in.ak_qualified_name = qn;
	f.in.ak_qualified_name_len = qn_len;
	expect_accept(&f);
	assert_true(f.res.passed & (1u << PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER));
	qn[5] ^= 1;
	expect_reject(&f, "qualified-signer");
	f.in.ak_qualified_name_len = qn_len - 1;
	expect_reject(&f, "qualified-signer");
	/* Derived from the parent: right under the endorsement hierarchy, wrong under the owner's. */
	f.in.ak_qualified_name = NULL;
	f.in.ak_parent_qn = fx_endorsement;
	f.in.ak_parent_qn_len = 4;
	expect_accept(&f);
	f.in.ak_parent_qn = owner;
	expect_reject(&f, "qualified-signer");
	fx_free(&f);

	/* A PEM key has no TPM name to derive from. */
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	f.in.ak_parent_qn = fx_endorsement;
	f.in.ak_parent_qn_len = 4;
	assert_int_equal(verify(&f), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(f.res.failed, PCRGATE_QUOTE_CHECK_NONE);
	fx_free(&f);
}

static void test_nonce(void **state)
{
	uint8_t wrong[20];
	struct fx f;

	(void)state;
	fx_init(&f, &rsapss, PCRGATE_AKPUB_PEM);
	memcpy(wrong, f.nonce, sizeof(wrong));
	wrong[19] ^= 1;
	f.in.nonce = wrong;
	expect_reject(&f, "nonce");
	f.in.nonce_len = 19;
	f.in.nonce = f.nonce;
	expect_reject(&f, "nonce");
	/* A nonce given as empty still has to match: this quote carries one. */
	f.in.nonce_len = 0;
	expect_reject(&f, "nonce");
	fx_free(&f);
}

static void test_pcr_selection(void **state)
{
	TPML_PCR_SELECTION *sel;
	pcrgate_pcrs *p;
	struct fx f;

	(void)state;
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	/* One more PCR supplied than quoted. */
	p = pcrgate_pcrs_dup(f.pcrs);
	set_pcr(p, PCRGATE_ALG_SHA256, 17);
	f.in.pcrs = p;
	expect_reject(&f, "pcr-selection");
	assert_non_null(strstr(f.res.detail, "sha256:17"));
	pcrgate_pcrs_free(&p);
	/* A bank supplied that the quote does not cover. */
	p = pcrgate_pcrs_dup(f.pcrs);
	set_pcr(p, PCRGATE_ALG_SHA384, 0);
	f.in.pcrs = p;
	expect_reject(&f, "pcr-selection");
	assert_non_null(strstr(f.res.detail, "sha384:0"));
	pcrgate_pcrs_free(&p);
	/* One quoted PCR not supplied. */
	p = pcrgate_pcrs_new();
	set_pcr(p, PCRGATE_ALG_SHA256, 0);
	set_pcr(p, PCRGATE_ALG_SHA256, 1);
	set_pcr(p, PCRGATE_ALG_SHA256, 2);
	set_pcr(p, PCRGATE_ALG_SHA1, 0);
	set_pcr(p, PCRGATE_ALG_SHA1, 7);
	f.in.pcrs = p;
	expect_reject(&f, "pcr-selection");
	assert_non_null(strstr(f.res.detail, "sha256:16"));
	/* A whole quoted bank missing. */
	pcrgate_pcrs_free(&p);
	p = pcrgate_pcrs_new();
	set_pcr(p, PCRGATE_ALG_SHA256, 0);
	set_pcr(p, PCRGATE_ALG_SHA256, 1);
	set_pcr(p, PCRGATE_ALG_SHA256, 2);
	set_pcr(p, PCRGATE_ALG_SHA256, 16);
	f.in.pcrs = p;
	expect_reject(&f, "pcr-selection");
	assert_non_null(strstr(f.res.detail, "sha1:0"));
	pcrgate_pcrs_free(&p);
	f.in.pcrs = f.pcrs;

	/* A quote selecting one bank twice is ambiguous. */
	f.a.attested.quote.pcrSelect.pcrSelections[2] = f.a.attested.quote.pcrSelect.pcrSelections[0];
	f.a.attested.quote.pcrSelect.count = 3;
	fx_sign(&f);
	expect_reject(&f, "pcr-selection");
	assert_non_null(strstr(f.res.detail, "twice"));
	fx_free(&f);

	/* An empty entry for a bank before its real one selects nothing and hides nothing. */
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	sel = &f.a.attested.quote.pcrSelect;
	sel->pcrSelections[2] = sel->pcrSelections[1];
	sel->pcrSelections[1] = sel->pcrSelections[0];
	memset(sel->pcrSelections[0].pcrSelect, 0, sizeof(sel->pcrSelections[0].pcrSelect));
	sel->count = 3;
	fx_sign(&f);
	expect_accept(&f);
	assert_int_equal(f.res.selection_count, 3);
	assert_int_equal(f.res.selection[0].mask, 0);
	fx_free(&f);
}

/*
 * An AK from a TPM public area must be a restricted signing key bound to its TPM: an
 * unrestricted one (tpm2_sign) signs forged quotes. Refused at the signature check before the
 * key is used, naming what is missing. A PEM or DER key does not say: the result records it.
 */
static void test_ak_attributes(void **state)
{
	static const struct {
		uint32_t clear, set;
		const char *named;
	} cases[] = {
		{TPMA_OBJECT_RESTRICTED, 0, "lack restricted:"},
		{TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_SENSITIVEDATAORIGIN, 0,
		 "lack fixedTPM, sensitiveDataOrigin:"},
		{TPMA_OBJECT_FIXEDPARENT, 0, "lack fixedParent:"},
		{TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_RESTRICTED, TPMA_OBJECT_DECRYPT,
		 "lack restricted, sign:"},
		{0, TPMA_OBJECT_DECRYPT, "decrypt set"},
	};
	const int formats[] = {PCRGATE_AKPUB_TPM2B_PUBLIC, PCRGATE_AKPUB_TPMT_PUBLIC};
	uint8_t pub[2048];
	struct qt_key k;
	size_t i, j, len;
	struct fx f;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (j = 0; j < 2; j++) {
			fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
			k = rsassa;
			k.pub.objectAttributes = (k.pub.objectAttributes & ~cases[i].clear) | cases[i].set;
			assert_int_equal(qt_key_export(&k, formats[j], pub, sizeof(pub), &len), 0);
			assert_int_equal(pcrgate_akpub_load(f.ak, pub, len, NULL), 0);
			expect_reject(&f, "signature");
			if (strstr(f.res.detail, cases[i].named) == NULL)
				fail_msg("case %zu: \"%s\" does not name %s", i, f.res.detail,
					 cases[i].named);
			assert_false(f.res.ak_attributes_checked);
			/* Refused before the signature was even read. */
			assert_int_equal(f.res.sig_alg, 0);
			fx_free(&f);
		}
	}
	fx_init(&f, &rsassa, PCRGATE_AKPUB_TPM2B_PUBLIC);
	expect_accept(&f);
	assert_true(f.res.ak_attributes_checked);
	fx_free(&f);
	fx_init(&f, &rsassa, PCRGATE_AKPUB_DER);
	expect_accept(&f);
	assert_false(f.res.ak_attributes_checked);
	fx_free(&f);
}

static void test_pcr_digest(void **state)
{
	static const uint16_t sorted[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
	uint8_t v[32];
	pcrgate_pcrs *p;
	struct fx f;

	(void)state;
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	p = pcrgate_pcrs_dup(f.pcrs);
	qt_pcr_value(PCRGATE_ALG_SHA256, 16, v);
	v[31] ^= 1;
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA256, 16, v, 32), 0);
	f.in.pcrs = p;
	expect_reject(&f, "pcr-digest");
	assert_true(f.res.passed & (1u << PCRGATE_QUOTE_CHECK_PCR_SELECTION));
	pcrgate_pcrs_free(&p);
	fx_free(&f);

	/* The digest follows the quote's bank order: hashed in another order it does not match. */
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	assert_int_equal(qt_attest_select(&f.a, f.pcrs, sorted, 2, PCRGATE_ALG_SHA256), 0);
	f.a.attested.quote.pcrSelect.pcrSelections[0].hash = PCRGATE_ALG_SHA256;
	f.a.attested.quote.pcrSelect.pcrSelections[1].hash = PCRGATE_ALG_SHA1;
	memcpy(f.a.attested.quote.pcrSelect.pcrSelections[0].pcrSelect, "\x07\x00\x01", 3);
	memcpy(f.a.attested.quote.pcrSelect.pcrSelections[1].pcrSelect, "\x81\x00\x00", 3);
	fx_sign(&f);
	expect_reject(&f, "pcr-digest");
	fx_free(&f);

	/* pcrDigest uses the signature's hash: a SHA-256 digest under a SHA-384 signature fails. */
	fx_init(&f, &ecdsa384, PCRGATE_AKPUB_PEM);
	assert_int_equal(qt_attest_select(&f.a, f.pcrs, fx_quote_banks, 2, PCRGATE_ALG_SHA256), 0);
	fx_sign(&f);
	expect_reject(&f, "pcr-digest");
	assert_non_null(strstr(f.res.detail, "sha384"));
	fx_free(&f);
}

static void test_clock(void **state)
{
	pcrgate_clock_state prev = {1000, 2, 1};
	struct fx f;

	(void)state;
	fx_init(&f, &ecdsa, PCRGATE_AKPUB_PEM);
	f.in.previous = &prev;
	expect_accept(&f);
	assert_false(f.res.rebooted);
	assert_false(f.res.restarted);
	prev.clock = 1001;
	expect_reject(&f, "clock");
	prev.clock = 900;
	prev.reset_count = 3;
	expect_reject(&f, "clock");
	assert_non_null(strstr(f.res.detail, "resetCount"));
	prev.reset_count = 2;
	prev.restart_count = 2;
	expect_reject(&f, "clock");
	assert_non_null(strstr(f.res.detail, "restartCount"));
	/* A reboot: resetCount up, restartCount back to zero. Accepted, and recorded. */
	prev.reset_count = 1;
	prev.restart_count = 5;
	expect_accept(&f);
	assert_true(f.res.rebooted);
	assert_false(f.res.restarted);
	/* A resume: restartCount up under the same resetCount. */
	prev.reset_count = 2;
	prev.restart_count = 0;
	expect_accept(&f);
	assert_false(f.res.rebooted);
	assert_true(f.res.restarted);

	/* Clock below the previous one after a reset: only as the named workaround, and only with safe = NO.
	 */
	prev.clock = 2000;
	prev.reset_count = 1;
	f.in.accept_clock_restore = 1;
	expect_reject(&f, "clock");
	f.a.clockInfo.safe = TPM2_NO;
	fx_sign(&f);
	f.in.accept_clock_restore = 0;
	expect_reject(&f, "clock");
	assert_non_null(strstr(f.res.detail, "unorderly"));
	f.in.accept_clock_restore = 1;
	expect_accept(&f);
	assert_true(f.res.clock_restored);
	assert_true(f.res.rebooted);
	assert_false(f.res.safe);
	prev.reset_count = 2;
	prev.restart_count = 1;
	expect_reject(&f, "clock");
	fx_free(&f);
}


static void test_first_failure_wins(void **state)
{
	pcrgate_clock_state prev = {5000, 9, 9};
	uint8_t wrong[20] = {0};
	struct fx f;

	(void)state;
	fx_init(&f, &rsassa, PCRGATE_AKPUB_PEM);
	f.in.nonce = wrong;
	f.in.previous = &prev;
	pcrgate_pcrs_free(&f.pcrs);
	f.pcrs = pcrgate_pcrs_new();
	f.in.pcrs = f.pcrs;
	expect_reject(&f, "nonce");
	f.in.nonce = f.nonce;
	expect_reject(&f, "pcr-selection");
	f.in.pcrs = NULL;
	expect_reject(&f, "clock");
	f.attest[0] ^= 1;
	expect_reject(&f, "signature");
	fx_free(&f);
}

/* One key verifies in several threads at once (its OpenSSL contexts are pooled under a lock). */
static void *verify_many(void *arg)
{
	struct fx *f = arg;
	pcrgate_quote_result res;
	intptr_t bad = 0;
	int i;

	for (i = 0; i < 200; i++) {
		bad += pcrgate_quote_verify(&f->in, &res, NULL) != 0;
		pcrgate_quote_result_clear(&res);
	}
	return (void *)bad;
}

static void test_threads(void **state)
{
	pthread_t t[4];
	struct fx f;
	void *bad;
	size_t i;

	(void)state;
	fx_init(&f, &rsapss, PCRGATE_AKPUB_TPMT_PUBLIC);
	for (i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_many, &f), 0);
	for (i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(t[i], &bad), 0);
		assert_null(bad);
	}
	fx_free(&f);
}

static void test_check_names(void **state)
{
	static const char *const names[] = {
		"none", "size", "signature", "magic", "type", "qualified-signer",
		"nonce", "pcr-selection", "pcr-digest", "clock", "eventlog",
	};
	int i;

	(void)state;
	for (i = 0; i < PCRGATE_QUOTE_CHECK_COUNT; i++)
		assert_string_equal(pcrgate_quote_check_name((pcrgate_quote_check)i), names[i]);
	assert_null(pcrgate_quote_check_name(PCRGATE_QUOTE_CHECK_COUNT));
	assert_int_equal(pcrgate_quote_verify(NULL, NULL, NULL), PCRGATE_ERR_INVALID_ARGUMENT);
}

/* Seeds for fuzz_quote: flags byte, u16 attest length, attest, u16 signature length, signature. */
static void write_seeds(void **state)
{
	const struct qt_key *keys[] = {&rsassa, &rsapss, &ecdsa};
	uint8_t seed[4096];
	char file[16];
	int w;
	size_t i, n;
	struct fx f;

	(void)state;
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		fx_init(&f, keys[i], PCRGATE_AKPUB_PEM);
		seed[0] = (uint8_t)i;
		n = 1;
		seed_put(seed, sizeof(seed), &n, f.attest, f.attest_len);
		seed_put(seed, sizeof(seed), &n, f.sig, f.sig_len);
		snprintf(file, sizeof(file), "unit-%zu", i);
		fx_free(&f);
		w = test_seed_write("quote", file, seed, n);
		if (w == 1)
			skip();
		assert_int_equal(w, 0);
	}
}

static int setup(void **state)
{
	(void)state;
	if (qt_key_new(&rsassa, TPM2_ALG_RSASSA, PCRGATE_ALG_SHA256, 2048) != 0 ||
	    qt_key_new(&rsapss, TPM2_ALG_RSAPSS, PCRGATE_ALG_SHA256, 2048) != 0 ||
	    qt_key_new(&ecdsa, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA256, 256) != 0 ||
	    qt_key_new(&ecdsa384, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA384, 384) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	qt_key_free(&rsassa);
	qt_key_free(&rsapss);
	qt_key_free(&ecdsa);
	qt_key_free(&ecdsa384);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_accept_each_scheme_and_format),
		cmocka_unit_test(test_optional_inputs_skipped),
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_signature),
		cmocka_unit_test(test_ak_attributes),
		cmocka_unit_test(test_magic_and_type),
		cmocka_unit_test(test_qualified_signer),
		cmocka_unit_test(test_nonce),
		cmocka_unit_test(test_pcr_selection),
		cmocka_unit_test(test_pcr_digest),
		cmocka_unit_test(test_clock),
		cmocka_unit_test(test_first_failure_wins),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_check_names),
		cmocka_unit_test(write_seeds),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
