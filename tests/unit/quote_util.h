/*
 * Test helpers for quote verification: an attestation key made with OpenSSL that plays the
 * TPM, quotes (TPMS_ATTEST) marshalled with the TSS, and their signatures (TPMT_SIGNATURE).
 * Shared by the unit tests and the benchmark.
 */
#ifndef PCRGATE_TEST_QUOTE_UTIL_H
#define PCRGATE_TEST_QUOTE_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/pcrs.h"

struct qt_key {
	EVP_PKEY *pkey;
	uint16_t scheme; /* TPM2_ALG_RSASSA, TPM2_ALG_RSAPSS or TPM2_ALG_ECDSA */
	uint16_t hash;	 /* the scheme's hash */
	TPMT_PUBLIC pub; /* the key as a restricted signing TPM key with that scheme */
};

/* A fresh key: RSA of bits for RSASSA/RSAPSS, or the NIST curve named by bits (256, 384) for ECDSA. */
int qt_key_new(struct qt_key *k, uint16_t scheme, uint16_t hash, unsigned bits);
void qt_key_free(struct qt_key *k);

/* The key's public part in one of pcrgate's accepted formats (PCRGATE_AKPUB_*). */
int qt_key_export(const struct qt_key *k, int format, uint8_t *buf, size_t cap, size_t *len);

/* A quote by default: magic, TPM_ST_ATTEST_QUOTE, clock 1000/resetCount 2/restartCount 1. */
void qt_attest_init(TPMS_ATTEST *a, const uint8_t *qsigner, size_t qlen, const uint8_t *nonce, size_t nlen);
/*
 * Selects every PCR pcrs holds, banks in the order algs[0..nalgs) gives, and sets pcrDigest
 * to the hash (alg hash) of their values in that order.
 */
int qt_attest_select(TPMS_ATTEST *a, const pcrgate_pcrs *pcrs, const uint16_t *algs, size_t nalgs,
		     uint16_t hash);
int qt_attest_marshal(const TPMS_ATTEST *a, uint8_t *buf, size_t cap, size_t *len);

/* Signs msg as the TPM does and marshals the TPMT_SIGNATURE; sig_scheme/sig_hash 0 use the key's. */
int qt_sign(const struct qt_key *k, uint16_t sig_scheme, uint16_t sig_hash, const uint8_t *msg, size_t len,
	    uint8_t *sig, size_t cap, size_t *siglen);

/*
 * Reads FILE (a path under $PCRGATE_TESTDATA, the shared real test data, read in place) into
 * *buf (the caller frees it). Returns 0; 1 when PCRGATE_TESTDATA is unset or empty (the
 * caller skips the test, and qt_exit_status then reports the program as skipped); -1 when
 * the file cannot be read, which is a failure: the data is there but broken.
 */
int qt_testdata_read(const char *file, size_t max, uint8_t **buf, size_t *len);
/*
 * main's exit status from cmocka's count of failed tests: 77 (the automake test driver's
 * "skipped") when nothing failed but a test skipped for want of the shared data, since
 * cmocka itself exits 0 then and the run would count as a pass.
 */
int qt_exit_status(int failed);

/* A PCR value that differs per bank and index. */
void qt_pcr_value(uint16_t alg, unsigned index, uint8_t *out);

#endif
