/* Test fixture for quote verification: see quote_fixture.h. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "quote_fixture.h"

const uint8_t fx_endorsement[4] = {0x40, 0x00, 0x00, 0x0b};
const uint16_t fx_quote_banks[2] = {PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA1};

void set_pcr(pcrgate_pcrs *p, uint16_t alg, unsigned index)
{
	uint8_t v[PCRGATE_MAX_DIGEST];

	qt_pcr_value(alg, index, v);
	assert_int_equal(pcrgate_pcrs_set(p, alg, index, v, pcrgate_alg_digest_size(alg)), 0);
}

void fx_sign(struct fx *f)
{
	assert_int_equal(qt_attest_marshal(&f->a, f->attest, sizeof(f->attest), &f->attest_len), 0);
	assert_int_equal(qt_sign(f->key, 0, 0, f->attest, f->attest_len, f->sig, sizeof(f->sig), &f->sig_len),
			 0);
	f->in.attest_len = f->attest_len;
	f->in.signature_len = f->sig_len;
}

void fx_init(struct fx *f, const struct qt_key *key, int format)
{
	uint8_t pub[2048], qn[PCRGATE_QUOTE_MAX_NAME];
	size_t pub_len, qn_len = 0;

	memset(f, 0, sizeof(*f));
	f->key = key;
	assert_non_null(f->ak = pcrgate_akpub_new());
	assert_int_equal(qt_key_export(key, format, pub, sizeof(pub), &pub_len), 0);
	assert_int_equal(pcrgate_akpub_load(f->ak, pub, pub_len, NULL), 0);
	assert_non_null(f->pcrs = pcrgate_pcrs_new());
	set_pcr(f->pcrs, PCRGATE_ALG_SHA256, 0);
	set_pcr(f->pcrs, PCRGATE_ALG_SHA256, 1);
	set_pcr(f->pcrs, PCRGATE_ALG_SHA256, 2);
	set_pcr(f->pcrs, PCRGATE_ALG_SHA256, 16);
	set_pcr(f->pcrs, PCRGATE_ALG_SHA1, 0);
	set_pcr(f->pcrs, PCRGATE_ALG_SHA1, 7);
	memcpy(f->nonce, "single-use-nonce-123", sizeof(f->nonce));
	/* A TPM key's quote names its qualified name under the endorsement hierarchy. */
	if (pcrgate_akpub_qualified_name(f->ak, fx_endorsement, sizeof(fx_endorsement), qn, &qn_len) != 0) {
		memcpy(qn, "\x00\x0b", 2);
		memset(qn + 2, 0x5a, 32);
		qn_len = 34;
	}
	qt_attest_init(&f->a, qn, qn_len, f->nonce, sizeof(f->nonce));
	assert_int_equal(qt_attest_select(&f->a, f->pcrs, fx_quote_banks, 2, key->hash), 0);
	f->in.ak = f->ak;
	f->in.attest = f->attest;
	f->in.signature = f->sig;
	f->in.nonce = f->nonce;
	f->in.nonce_len = sizeof(f->nonce);
	f->in.pcrs = f->pcrs;
	fx_sign(f);
}

void fx_free(struct fx *f)
{
	pcrgate_quote_result_clear(&f->res);
	pcrgate_akpub_free(&f->ak);
	pcrgate_pcrs_free(&f->pcrs);
}

int verify(struct fx *f)
{
	pcrgate_errinfo_clear(&f->ei);
	/* The logs a previous verification kept. */
	pcrgate_quote_result_clear(&f->res);
	return pcrgate_quote_verify(&f->in, &f->res, &f->ei);
}

void expect_reject(struct fx *f, const char *check)
{
	size_t n = strlen(check);

	assert_int_equal(verify(f), PCRGATE_ERR_VERIFY);
	assert_non_null(f->res.failed_name);
	assert_string_equal(f->res.failed_name, check);
	assert_string_equal(pcrgate_quote_check_name(f->res.failed), check);
	assert_int_equal(strncmp(f->ei.message, check, n), 0);
	assert_int_equal(f->ei.message[n], ':');
	assert_true(f->res.detail[0] != '\0');
}

void expect_accept(struct fx *f)
{
	if (verify(f) != 0)
		fail_msg("rejected: %s", f->ei.message);
	assert_int_equal(f->res.failed, PCRGATE_QUOTE_CHECK_NONE);
	assert_null(f->res.failed_name);
}

void seed_put(uint8_t *seed, size_t cap, size_t *n, const void *p, size_t len)
{
	assert_true(len <= 0xffff && cap - *n >= 2 + len);
	seed[(*n)++] = (uint8_t)(len >> 8);
	seed[(*n)++] = (uint8_t)len;
	memcpy(seed + *n, p, len);
	*n += len;
}
