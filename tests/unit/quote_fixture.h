/*
 * Test fixture for quote verification, shared by the quote unit tests: a valid quote over
 * sha256:0,1,2,16 and sha1:0,7 signed by a test key, and assertions on the verdict.
 */
#ifndef PCRGATE_TEST_QUOTE_FIXTURE_H
#define PCRGATE_TEST_QUOTE_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/quote.h"
#include "quote_util.h"

/* The endorsement hierarchy's qualified name (its handle), the parent of the fixture's AK. */
extern const uint8_t fx_endorsement[4];
/* The quote's banks in TPML order: sha256 before sha1, unlike pcrgate_pcrs' name order. */
extern const uint16_t fx_quote_banks[2];

struct fx {
	const struct qt_key *key;
	pcrgate_akpub *ak;
	pcrgate_pcrs *pcrs;
	TPMS_ATTEST a;
	uint8_t attest[4096];
	size_t attest_len;
	uint8_t sig[1024];
	size_t sig_len;
	uint8_t nonce[20];
	pcrgate_quote_input in;
	pcrgate_quote_result res;
	pcrgate_errinfo ei;
};

/* Sets bank alg, PCR index to qt_pcr_value's value. */
void set_pcr(pcrgate_pcrs *p, uint16_t alg, unsigned index);
/* Marshals f->a and signs it with f->key. */
void fx_sign(struct fx *f);
/* A valid quote by key over sha256:0,1,2,16 and sha1:0,7, with the AK in format. */
void fx_init(struct fx *f, const struct qt_key *key, int format);
void fx_free(struct fx *f);
int verify(struct fx *f);
/* Asserts a rejection by check name, and that ei says "CHECK: ...". */
void expect_reject(struct fx *f, const char *check);
void expect_accept(struct fx *f);
/* Appends a u16 length and the bytes to a fuzz seed of cap bytes, *n used. */
void seed_put(uint8_t *seed, size_t cap, size_t *n, const void *p, size_t len);

#endif
