/*
 * Unit tests for the update trust store (lib/truststore.c, lib/cms_sign.c): what verifies
 * (one signer, one of two, a root rotation, an expired certificate, a chain through an
 * intermediate), every refusal (unknown root, no codeSigning, revoked signer or intermediate,
 * corrupted signature, changed data, SHA-1, caps), loading a store from files, and signing
 * through files. Leaves seed signatures for tests/fuzz/fuzz_cms_verify.c.
 */
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

#include "pcrgate/common.h"
#include "seed.h"
#include "trust_fixture.h"
#include "truststore.h"

#define DATA ((const uint8_t *)FX_DATA)
#define DATA_LEN (sizeof(FX_DATA) - 1)

/* A root (the fuzz target's), a second root, an intermediate and signers of each kind. */
struct fx {
	EVP_PKEY *root_key, *root2_key, *other_key, *mid_key, *key;
	X509 *root, *root2, *other, *mid;
	X509 *signer, *signer2, *signer_other, *signer_mid, *no_eku, *tls, *expired, *revoked;
	struct pcrgate_truststore *ts; /* root and root2, and a CRL of root revoking `revoked` */
};

static struct fx F;

static void add_root(struct pcrgate_truststore *ts, X509 *x)
{
	pcrgate_errinfo ei;
	size_t len = 0;
	uint8_t *pem = fx_pem(x, NULL, &len);

	assert_non_null(pem);
	assert_int_equal(pcrgate_truststore_add_roots(ts, pem, len, "root", &ei), 0);
	free(pem);
}

static int add_crl(struct pcrgate_truststore *ts, X509 *issuer, EVP_PKEY *key, X509 *const *rev, size_t n,
		   pcrgate_errinfo *ei)
{
	X509_CRL *crl = fx_crl(issuer, key, rev, n, 1);
	size_t len = 0;
	uint8_t *pem = fx_pem(NULL, crl, &len);
	int r;

	assert_non_null(pem);
	r = pcrgate_truststore_add_crls(ts, pem, len, "crl", ei);
	free(pem);
	X509_CRL_free(crl);
	return r;
}

static int setup(void **state)
{
	(void)state;
	F.root_key = fx_key(FX_ROOT_SEED);
	F.root2_key = fx_key(2);
	F.other_key = fx_key(0);
	F.mid_key = fx_key(0);
	F.key = fx_key(3);
	if (F.root_key == NULL || F.root2_key == NULL || F.other_key == NULL || F.mid_key == NULL || F.key == NULL)
		return -1;
	F.root = fx_cert(FX_ROOT_CN, F.root_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	F.root2 = fx_cert("pcrgate test root 2", F.root2_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	F.other = fx_cert("someone else's root", F.other_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	F.mid = fx_cert("pcrgate intermediate", F.mid_key, F.root, F.root_key, FX_INTERMEDIATE, 50, -1, 3650);
	F.signer = fx_cert("signer", F.key, F.root, F.root_key, FX_SIGNER, 100, -1, 365);
	F.signer2 = fx_cert("signer of root 2", F.key, F.root2, F.root2_key, FX_SIGNER, 101, -1, 365);
	F.signer_other = fx_cert("signer of another root", F.key, F.other, F.other_key, FX_SIGNER, 102, -1, 365);
	F.signer_mid = fx_cert("signer below the intermediate", F.key, F.mid, F.mid_key, FX_SIGNER, 103, -1, 365);
	F.no_eku = fx_cert("signer without EKU", F.key, F.root, F.root_key, FX_SIGNER_NO_EKU, 104, -1, 365);
	F.tls = fx_cert("a TLS server", F.key, F.root, F.root_key, FX_SIGNER_TLS, 105, -1, 365);
	F.expired = fx_cert("expired signer", F.key, F.root, F.root_key, FX_SIGNER, 106, -3000, -2000);
	F.revoked = fx_cert("revoked signer", F.key, F.root, F.root_key, FX_SIGNER, 0x666, -1, 365);
	if (F.root == NULL || F.root2 == NULL || F.other == NULL || F.mid == NULL || F.signer == NULL ||
	    F.signer2 == NULL || F.signer_other == NULL || F.signer_mid == NULL || F.no_eku == NULL ||
	    F.tls == NULL || F.expired == NULL || F.revoked == NULL)
		return -1;
	if (pcrgate_truststore_new(&F.ts) != 0)
		return -1;
	add_root(F.ts, F.root);
	add_root(F.ts, F.root2);
	return add_crl(F.ts, F.root, F.root_key, &F.revoked, 1, NULL) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	X509 *certs[] = {F.root, F.root2, F.other, F.mid, F.signer, F.signer2, F.signer_other,
			 F.signer_mid, F.no_eku, F.tls, F.expired, F.revoked};
	EVP_PKEY *keys[] = {F.root_key, F.root2_key, F.other_key, F.mid_key, F.key};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(certs) / sizeof(certs[0]); i++)
		X509_free(certs[i]);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		EVP_PKEY_free(keys[i]);
	pcrgate_truststore_free(&F.ts);
	return 0;
}

/* Signs DATA by one signer with F.key; extra certificate mid when given. */
static uint8_t *sign1(X509 *cert, X509 *extra, size_t *len)
{
	uint8_t *sig = fx_sign(&cert, &F.key, 1, &extra, extra != NULL, NULL, DATA, DATA_LEN, len);

	assert_non_null(sig);
	return sig;
}

/* Verifies sig over DATA and expects code; a VERIFY failure's message must contain why. */
static void expect(const uint8_t *sig, size_t len, int code, const char *why)
{
	struct pcrgate_cms_report rep;
	pcrgate_errinfo ei;
	int r;

	pcrgate_errinfo_clear(&ei);
	r = pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, &rep, &ei);
	if (r != code)
		fail_msg("expected %d, got %d: %s", code, r, ei.message);
	if (why != NULL && strstr(ei.message, why) == NULL)
		fail_msg("message '%s' lacks '%s'", ei.message, why);
}

static void test_valid(void **state)
{
	struct pcrgate_cms_report rep;
	uint8_t fp[32], sig_fp[32];
	unsigned int n = 0;
	size_t len = 0;
	uint8_t *sig = sign1(F.signer, NULL, &len);

	(void)state;
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, &rep, NULL), 0);
	assert_int_equal(rep.signer_count, 1);
	assert_int_equal(rep.verified_count, 1);
	assert_int_equal(rep.roots, 1u);
	assert_int_equal(rep.signer[0].verified, 1);
	assert_int_equal(rep.signer[0].root, 0);
	assert_string_equal(rep.signer[0].subject, "CN=signer");
	assert_string_equal(rep.signer[0].reason, "");
	assert_int_equal(X509_digest(F.signer, EVP_sha256(), sig_fp, &n), 1);
	assert_memory_equal(rep.signer[0].cert_sha256, sig_fp, 32);
	assert_int_equal(pcrgate_truststore_root_count(F.ts), 2);
	assert_int_equal(pcrgate_truststore_root_sha256(F.ts, 0, fp), 0);
	assert_int_equal(X509_digest(F.root, EVP_sha256(), sig_fp, &n), 1);
	assert_memory_equal(fp, sig_fp, 32);
	assert_string_equal(pcrgate_truststore_root_subject(F.ts, 1), "CN=pcrgate test root 2");
	assert_null(pcrgate_truststore_root_subject(F.ts, 2));
	assert_int_equal(pcrgate_truststore_root_sha256(F.ts, 2, fp), PCRGATE_ERR_INVALID_ARGUMENT);
	test_seed_write("cms_verify", "valid.der", sig, len);
	free(sig);
	/* A report is optional. */
	sig = sign1(F.signer2, NULL, &len);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, NULL, NULL), 0);
	free(sig);
}

static void test_unknown_root(void **state)
{
	size_t len = 0;
	uint8_t *sig = sign1(F.signer_other, NULL, &len);

	(void)state;
	expect(sig, len, PCRGATE_ERR_VERIFY, "no chain to a root of the trust store");
	free(sig);
	/* A self-signed signing certificate is no better. */
	sig = fx_sign(&F.root, &F.root_key, 1, NULL, 0, NULL, DATA, DATA_LEN, &len);
	assert_non_null(sig);
	expect(sig, len, PCRGATE_ERR_VERIFY, "signer 1 (CN=pcrgate test root)");
	free(sig);
}

static void test_no_code_signing(void **state)
{
	size_t len = 0;
	uint8_t *sig = sign1(F.no_eku, NULL, &len);

	(void)state;
	expect(sig, len, PCRGATE_ERR_VERIFY, "lacks the codeSigning extended key usage");
	test_seed_write("cms_verify", "no-eku.der", sig, len);
	free(sig);
	sig = sign1(F.tls, NULL, &len);
	expect(sig, len, PCRGATE_ERR_VERIFY, "lacks the codeSigning extended key usage");
	free(sig);
}

/* A signer of F.key under F.root with codeSigning but a key usage that leaves out digitalSignature. */
static X509 *no_digital_signature(void)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;

	assert_true(x != NULL && name != NULL && X509_set_version(x, X509_VERSION_3) == 1 &&
		    ASN1_INTEGER_set(X509_get_serialNumber(x), 120) == 1 &&
		    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)"ku signer", -1, -1,
					       0) == 1 &&
		    X509_set_subject_name(x, name) == 1 && X509_set_issuer_name(x, X509_get_subject_name(F.root)) == 1 &&
		    X509_gmtime_adj(X509_getm_notBefore(x), -86400) != NULL &&
		    X509_gmtime_adj(X509_getm_notAfter(x), 86400) != NULL && X509_set_pubkey(x, F.key) == 1);
	X509V3_set_ctx(&ctx, F.root, x, NULL, NULL, 0);
	assert_true(fx_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
		    fx_ext(x, &ctx, NID_key_usage, "critical,keyEncipherment") &&
		    fx_ext(x, &ctx, NID_ext_key_usage, "codeSigning") &&
		    fx_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") &&
		    X509_sign(x, F.root_key, EVP_sha256()) > 0);
	X509_NAME_free(name);
	return x;
}

/* Such a signer is refused (one rule for the verifier and the signer: lib/truststore.c). */
static void test_key_usage(void **state)
{
	X509 *x = no_digital_signature();
	uint8_t *sig;
	size_t len = 0;

	(void)state;
	sig = sign1(x, NULL, &len);
	expect(sig, len, PCRGATE_ERR_VERIFY, "has a key usage without digitalSignature");
	free(sig);
	X509_free(x);
}

static void test_revoked(void **state)
{
	struct pcrgate_truststore *ts = NULL;
	pcrgate_errinfo ei;
	size_t len = 0;
	uint8_t *sig = sign1(F.revoked, NULL, &len);

	(void)state;
	expect(sig, len, PCRGATE_ERR_VERIFY, "the certificate is revoked");
	test_seed_write("cms_verify", "revoked.der", sig, len);
	/* Without the CRL (a device may have none) it verifies. */
	assert_int_equal(pcrgate_truststore_new(&ts), 0);
	add_root(ts, F.root);
	assert_int_equal(pcrgate_truststore_verify_cms(ts, sig, len, DATA, DATA_LEN, NULL, NULL), 0);
	/* A CRL the store's roots did not sign is refused when it is added, and changes nothing. */
	assert_int_equal(add_crl(ts, F.other, F.other_key, &F.revoked, 1, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "not signed by a root of the store"));
	assert_int_equal(pcrgate_truststore_verify_cms(ts, sig, len, DATA, DATA_LEN, NULL, NULL), 0);
	/* A root's CRL that lists other serials leaves the signer alone; a newer one revokes it. */
	assert_int_equal(add_crl(ts, F.root, F.root_key, &F.signer, 1, &ei), 0);
	assert_int_equal(pcrgate_truststore_verify_cms(ts, sig, len, DATA, DATA_LEN, NULL, NULL), 0);
	assert_int_equal(add_crl(ts, F.root, F.root_key, &F.revoked, 1, &ei), 0);
	assert_int_equal(pcrgate_truststore_verify_cms(ts, sig, len, DATA, DATA_LEN, NULL, &ei), PCRGATE_ERR_VERIFY);
	/* Each CRL knows the root that signed it (where the writer files it). */
	add_root(ts, F.root2);
	assert_int_equal(add_crl(ts, F.root2, F.root2_key, &F.signer2, 1, &ei), 0);
	assert_int_equal(pcrgate_truststore_crl_count(ts), 3);
	assert_int_equal(pcrgate_truststore_crl_root(ts, 0), 0);
	assert_int_equal(pcrgate_truststore_crl_root(ts, 1), 0);
	assert_int_equal(pcrgate_truststore_crl_root(ts, 2), 1);
	assert_int_equal(pcrgate_truststore_crl_root(ts, 3), -1);
	assert_int_equal(pcrgate_truststore_crl_root(NULL, 0), -1);
	free(sig);
	pcrgate_truststore_free(&ts);
	assert_null(ts);
	pcrgate_truststore_free(NULL);
}

static void test_intermediate(void **state)
{
	struct pcrgate_truststore *ts = NULL;
	pcrgate_errinfo ei;
	size_t len = 0;
	uint8_t *sig = sign1(F.signer_mid, F.mid, &len);

	(void)state;
	expect(sig, len, 0, NULL);
	free(sig);
	/* Without the intermediate in the signature there is no chain. */
	sig = sign1(F.signer_mid, NULL, &len);
	expect(sig, len, PCRGATE_ERR_VERIFY, "no chain");
	free(sig);
	/* A root's CRL revoking the intermediate ends its signers. */
	sig = sign1(F.signer_mid, F.mid, &len);
	assert_int_equal(pcrgate_truststore_new(&ts), 0);
	add_root(ts, F.root);
	assert_int_equal(add_crl(ts, F.root, F.root_key, &F.mid, 1, &ei), 0);
	assert_int_equal(pcrgate_truststore_verify_cms(ts, sig, len, DATA, DATA_LEN, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "an intermediate certificate is revoked"));
	free(sig);
	pcrgate_truststore_free(&ts);
}

/* No time checks: an expired signing certificate verifies (docs/updates.md). */
static void test_expired_verifies(void **state)
{
	size_t len = 0;
	uint8_t *sig = sign1(F.expired, NULL, &len);

	(void)state;
	expect(sig, len, 0, NULL);
	test_seed_write("cms_verify", "expired.der", sig, len);
	free(sig);
}

static void test_corrupted(void **state)
{
	size_t len = 0, i;
	uint8_t *sig = sign1(F.signer, NULL, &len);
	int r;

	(void)state;
	/*
	 * Every single-byte change of the signature is refused, whatever the reason, except in
	 * the version numbers of the SignedData and the SignerInfo (INTEGER 1 before a SET or
	 * SEQUENCE): no signature covers them and nothing depends on them.
	 */
	for (i = 0; i < len; i++) {
		if (i >= 2 && i + 1 < len && sig[i - 2] == 0x02 && sig[i - 1] == 0x01 && sig[i] == 0x01 &&
		    (sig[i + 1] == 0x30 || sig[i + 1] == 0x31))
			continue;
		sig[i] ^= 0x01;
		r = pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, NULL, NULL);
		if (r == 0)
			fail_msg("the signature verifies with byte %zu changed", i);
		sig[i] ^= 0x01;
	}
	sig[len - 1] ^= 0x80;
	expect(sig, len, PCRGATE_ERR_VERIFY, "the signature does not verify");
	free(sig);
}

static void test_data_changed(void **state)
{
	static const uint8_t other[] = "pcrgate-manifest 1\nrelease tesT\n";
	struct pcrgate_cms_report rep;
	pcrgate_errinfo ei;
	size_t len = 0;
	uint8_t *sig = sign1(F.signer, NULL, &len);

	(void)state;
	memset(&rep, 0xa5, sizeof(rep));
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, other, sizeof(other) - 1, &rep, &ei),
			 PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "does not match the signed data"));
	/* The report is written only on success. */
	assert_int_equal(rep.signer_count, (size_t)0xa5a5a5a5a5a5a5a5ull);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN - 1, NULL, NULL),
			 PCRGATE_ERR_VERIFY);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, NULL, 0, NULL, NULL), PCRGATE_ERR_VERIFY);
	free(sig);
}

static void test_two_signers(void **state)
{
	X509 *certs[2] = {F.signer_other, F.signer};
	EVP_PKEY *keys[2] = {F.key, F.key};
	struct pcrgate_cms_report rep;
	size_t len = 0, i;
	uint8_t *sig = fx_sign(certs, keys, 2, NULL, 0, NULL, DATA, DATA_LEN, &len);

	(void)state;
	assert_non_null(sig);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, &rep, NULL), 0);
	assert_int_equal(rep.signer_count, 2);
	assert_int_equal(rep.verified_count, 1);
	assert_int_equal(rep.roots, 1u);
	/* DER sorts the SignerInfos (a SET OF): find the untrusted one by its subject. */
	i = strcmp(rep.signer[0].subject, "CN=signer") == 0;
	assert_string_equal(rep.signer[1 - i].subject, "CN=signer");
	assert_int_equal(rep.signer[i].verified, 0);
	assert_int_equal(rep.signer[i].root, -1);
	assert_non_null(strstr(rep.signer[i].reason, "no chain"));
	assert_int_equal(rep.signer[1 - i].verified, 1);
	assert_int_equal(rep.signer[1 - i].root, 0);
	free(sig);
	/* A root rotation: signed under the old root and the new one, both verify. */
	certs[0] = F.signer2;
	sig = fx_sign(certs, keys, 2, NULL, 0, NULL, DATA, DATA_LEN, &len);
	assert_non_null(sig);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, &rep, NULL), 0);
	assert_int_equal(rep.verified_count, 2);
	assert_int_equal(rep.roots, 3u);
	assert_int_equal(rep.signer[0].root + rep.signer[1].root, 1);
	test_seed_write("cms_verify", "two-signers.der", sig, len);
	free(sig);
	/* Neither trusted: the message names both. */
	certs[0] = F.signer_other;
	certs[1] = F.no_eku;
	sig = fx_sign(certs, keys, 2, NULL, 0, NULL, DATA, DATA_LEN, &len);
	assert_non_null(sig);
	expect(sig, len, PCRGATE_ERR_VERIFY, "signer 2 (CN=");
	free(sig);
}

static void test_weak_digest(void **state)
{
	X509 *cert = F.signer;
	size_t len = 0;
	uint8_t *sig = fx_sign(&cert, &F.key, 1, NULL, 0, EVP_sha1(), DATA, DATA_LEN, &len);

	(void)state;
	assert_non_null(sig);
	expect(sig, len, PCRGATE_ERR_VERIFY, "not SHA-256");
	free(sig);
}

static void test_caps_and_format(void **state)
{
	X509 *certs[PCRGATE_CMS_MAX_SIGNERS + 1], *extra[PCRGATE_CMS_MAX_CERTS];
	EVP_PKEY *keys[PCRGATE_CMS_MAX_SIGNERS + 1];
	struct pcrgate_truststore *ts = NULL;
	pcrgate_errinfo ei;
	uint8_t *sig, *big;
	size_t len = 0, i;

	(void)state;
	for (i = 0; i <= PCRGATE_CMS_MAX_SIGNERS; i++) {
		assert_non_null(certs[i] = fx_cert("one of many", F.key, F.root, F.root_key, FX_SIGNER, 500 + (long)i,
						   0, 1));
		keys[i] = F.key;
	}
	sig = fx_sign(certs, keys, PCRGATE_CMS_MAX_SIGNERS + 1, NULL, 0, NULL, DATA, DATA_LEN, &len);
	assert_non_null(sig);
	expect(sig, len, PCRGATE_ERR_LIMIT, "signers (at most 8)");
	free(sig);
	sig = fx_sign(certs, keys, PCRGATE_CMS_MAX_SIGNERS, NULL, 0, NULL, DATA, DATA_LEN, &len);
	expect(sig, len, 0, NULL);
	free(sig);
	/* Too many certificates: the signer's plus 16 distinct others. */
	for (i = 0; i < PCRGATE_CMS_MAX_CERTS; i++)
		assert_non_null(extra[i] = fx_cert("filler", F.key, F.root, F.root_key, FX_SIGNER, 1000 + (long)i,
						   0, 1));
	sig = fx_sign(certs, keys, 1, extra, PCRGATE_CMS_MAX_CERTS, NULL, DATA, DATA_LEN, &len);
	assert_non_null(sig);
	expect(sig, len, PCRGATE_ERR_LIMIT, "certificates (at most 16)");
	free(sig);
	/* Size, emptiness, trailing bytes, garbage. */
	big = calloc(1, PCRGATE_CMS_MAX + 1);
	assert_non_null(big);
	expect(big, PCRGATE_CMS_MAX + 1, PCRGATE_ERR_LIMIT, NULL);
	expect(big, 0, PCRGATE_ERR_FORMAT, "empty");
	expect(big, 100, PCRGATE_ERR_FORMAT, "not CMS");
	sig = sign1(F.signer, NULL, &len);
	memcpy(big, sig, len);
	expect(big, len + 1, PCRGATE_ERR_FORMAT, "bytes after");
	expect(big, len - 1, PCRGATE_ERR_FORMAT, "not CMS");
	free(sig);
	free(big);
	/* Roots: at most 32, each a self-signed CA. */
	assert_int_equal(pcrgate_truststore_new(&ts), 0);
	add_root(ts, F.root);
	add_root(ts, F.root);
	assert_int_equal(pcrgate_truststore_root_count(ts), 1); /* the same root, once */
	pcrgate_truststore_free(&ts);
	/* The same root twice in one file: added once too. */
	assert_int_equal(pcrgate_truststore_new(&ts), 0);
	{
		size_t plen = 0;
		uint8_t *pem = fx_pem(F.root, NULL, &plen), *two = malloc(2 * plen);

		assert_non_null(two);
		memcpy(two, pem, plen);
		memcpy(two + plen, pem, plen);
		assert_int_equal(pcrgate_truststore_add_roots(ts, two, 2 * plen, "twice.pem", &ei), 0);
		assert_int_equal(pcrgate_truststore_root_count(ts), 1);
		free(two);
		free(pem);
	}
	for (i = 1; i < PCRGATE_TRUST_MAX_ROOTS; i++) {
		EVP_PKEY *k = fx_key(100 + (unsigned)i);
		X509 *x = fx_cert("many roots", k, NULL, NULL, FX_ROOT, (long)i, 0, 1);

		add_root(ts, x);
		X509_free(x);
		EVP_PKEY_free(k);
	}
	assert_int_equal(pcrgate_truststore_root_count(ts), PCRGATE_TRUST_MAX_ROOTS);
	{
		size_t plen = 0;
		uint8_t *pem = fx_pem(F.root2, NULL, &plen);

		assert_int_equal(pcrgate_truststore_add_roots(ts, pem, plen, "one too many", &ei), PCRGATE_ERR_LIMIT);
		free(pem);
		pem = fx_pem(F.signer, NULL, &plen);
		assert_int_equal(pcrgate_truststore_add_roots(ts, pem, plen, "leaf.pem", &ei), PCRGATE_ERR_VERIFY);
		assert_string_equal(ei.message, "leaf.pem: certificate 1 is not a CA (basicConstraints CA:TRUE)");
		free(pem);
		pem = fx_pem(F.mid, NULL, &plen);
		assert_int_equal(pcrgate_truststore_add_roots(ts, pem, plen, "mid.pem", &ei), PCRGATE_ERR_VERIFY);
		assert_string_equal(ei.message, "mid.pem: certificate 1 is not a self-signed root");
		free(pem);
	}
	pcrgate_truststore_free(&ts);
	for (i = 0; i < PCRGATE_CMS_MAX_CERTS; i++)
		X509_free(extra[i]);
	for (i = 0; i <= PCRGATE_CMS_MAX_SIGNERS; i++)
		X509_free(certs[i]);
}

static void write_file(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static void write_pem(const char *path, X509 *x, X509_CRL *crl)
{
	size_t len = 0;
	uint8_t *pem = fx_pem(x, crl, &len);

	assert_non_null(pem);
	write_file(path, pem, len);
	free(pem);
}

static void test_load_dir(void **state)
{
	char dir[] = "/tmp/pcrgate-trust.XXXXXX", path[512];
	struct pcrgate_truststore *ts = NULL;
	struct pcrgate_cms_report rep;
	X509_CRL *crl = fx_crl(F.root, F.root_key, &F.revoked, 1, 1);
	pcrgate_errinfo ei;
	size_t len = 0;
	uint8_t *sig;

	(void)state;
	assert_non_null(mkdtemp(dir));
	assert_int_equal(pcrgate_truststore_load(&ts, dir, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_non_null(strstr(ei.message, "roots/ holds no .pem file"));
	snprintf(path, sizeof(path), "%s/roots", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/roots/b-new.pem", dir);
	write_pem(path, F.root2, NULL);
	snprintf(path, sizeof(path), "%s/roots/a-old.pem", dir);
	write_pem(path, F.root, NULL);
	snprintf(path, sizeof(path), "%s/roots/README", dir);
	write_file(path, "ignored", 7);
	/* No crl/ at all is fine. */
	assert_int_equal(pcrgate_truststore_load(&ts, dir, &ei), 0);
	assert_int_equal(pcrgate_truststore_root_count(ts), 2);
	assert_string_equal(pcrgate_truststore_root_subject(ts, 0), "CN=" FX_ROOT_CN);
	pcrgate_truststore_free(&ts);
	snprintf(path, sizeof(path), "%s/crl", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof(path), "%s/crl/root.pem", dir);
	write_pem(path, NULL, crl);
	assert_int_equal(pcrgate_truststore_load(&ts, dir, &ei), 0);
	sig = sign1(F.revoked, NULL, &len);
	assert_int_equal(pcrgate_truststore_verify_cms(ts, sig, len, DATA, DATA_LEN, &rep, &ei), PCRGATE_ERR_VERIFY);
	free(sig);
	pcrgate_truststore_free(&ts);
	/* A broken file is named. */
	snprintf(path, sizeof(path), "%s/crl/broken.pem", dir);
	write_file(path, "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n", 52);
	assert_int_equal(pcrgate_truststore_load(&ts, dir, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "/crl/broken.pem: CRL 1 is not a valid PEM CRL"));
	assert_null(ts);
	unlink(path);
	/* Symbolic links are refused. */
	snprintf(path, sizeof(path), "%s/roots/link.pem", dir);
	assert_int_equal(symlink("a-old.pem", path), 0);
	assert_int_equal(pcrgate_truststore_load(&ts, dir, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "/roots/link.pem: not a regular file"));
	unlink(path);
	/* A single PEM file of anchors. */
	snprintf(path, sizeof(path), "%s/roots/a-old.pem", dir);
	assert_int_equal(pcrgate_truststore_load(&ts, path, &ei), 0);
	assert_int_equal(pcrgate_truststore_root_count(ts), 1);
	pcrgate_truststore_free(&ts);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(pcrgate_truststore_load(&ts, path, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(fx_rmtree(dir), 0);
	X509_CRL_free(crl);
}

static void write_key(const char *path, EVP_PKEY *k)
{
	FILE *f = fopen(path, "wb");

	assert_non_null(f);
	assert_int_equal(PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL), 1);
	assert_int_equal(fclose(f), 0);
}

static void test_sign(void **state)
{
	char dir[] = "/tmp/pcrgate-sign.XXXXXX", c1[512], c2[512], k1[512], k2[512], ch[512];
	struct pcrgate_cms_signer_spec spec[2] = {{NULL, NULL, NULL}, {NULL, NULL, NULL}};
	struct pcrgate_cms_report rep;
	EVP_PKEY *key2 = fx_key(0);
	X509 *signer2 = fx_cert("second signer", key2, F.root2, F.root2_key, FX_SIGNER, 7, -1, 365);
	pcrgate_errinfo ei;
	uint8_t *sig = NULL;
	size_t len = 0;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(c1, sizeof(c1), "%s/c1.pem", dir);
	snprintf(c2, sizeof(c2), "%s/c2.pem", dir);
	snprintf(k1, sizeof(k1), "%s/k1.pem", dir);
	snprintf(k2, sizeof(k2), "%s/k2.pem", dir);
	/* Signer 1 below the intermediate, its file carrying the chain. */
	assert_non_null(f = fopen(c1, "wb"));
	assert_int_equal(PEM_write_X509(f, F.signer_mid), 1);
	assert_int_equal(PEM_write_X509(f, F.mid), 1);
	assert_int_equal(fclose(f), 0);
	write_pem(c2, signer2, NULL);
	write_key(k1, F.key);
	write_key(k2, key2);
	spec[0].cert = c1;
	spec[0].key = k1;
	spec[1].cert = c2;
	spec[1].key = k2;
	assert_int_equal(pcrgate_cms_sign(spec, 2, DATA, DATA_LEN, &sig, &len, &ei), 0);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, &rep, &ei), 0);
	assert_int_equal(rep.verified_count, 2);
	assert_int_equal(rep.roots, 3u);
	free(sig);
	sig = NULL;
	/* The same signer with its chain in a file of its own (spec.chain). */
	write_pem(c1, F.signer_mid, NULL);
	snprintf(ch, sizeof(ch), "%s/chain.pem", dir);
	write_pem(ch, F.mid, NULL);
	assert_int_equal(pcrgate_cms_sign(spec, 1, DATA, DATA_LEN, &sig, &len, &ei), 0);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, &rep, &ei), PCRGATE_ERR_VERIFY);
	free(sig);
	sig = NULL;
	spec[0].chain = ch;
	assert_int_equal(pcrgate_cms_sign(spec, 1, DATA, DATA_LEN, &sig, &len, &ei), 0);
	assert_int_equal(pcrgate_truststore_verify_cms(F.ts, sig, len, DATA, DATA_LEN, &rep, &ei), 0);
	assert_int_equal(rep.verified_count, 1);
	free(sig);
	sig = NULL;
	spec[0].chain = NULL;
	unlink(ch);
	assert_non_null(f = fopen(c1, "wb"));
	assert_int_equal(PEM_write_X509(f, F.signer_mid), 1);
	assert_int_equal(PEM_write_X509(f, F.mid), 1);
	assert_int_equal(fclose(f), 0);
	/* A key that is not the certificate's. */
	spec[1].key = k1;
	assert_int_equal(pcrgate_cms_sign(spec, 2, DATA, DATA_LEN, &sig, &len, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(ei.message, "is not the key of the certificate"));
	assert_null(sig);
	/* Expiry and usage bind the signer: refused when signing, though devices ignore expiry. */
	write_pem(c2, F.expired, NULL);
	assert_int_equal(pcrgate_cms_sign(spec, 2, DATA, DATA_LEN, &sig, &len, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "has expired"));
	write_pem(c2, F.tls, NULL);
	assert_int_equal(pcrgate_cms_sign(spec, 2, DATA, DATA_LEN, &sig, &len, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "lacks the codeSigning"));
	assert_null(sig);
	{
		X509 *ku = no_digital_signature();

		write_pem(c2, ku, NULL);
		X509_free(ku);
	}
	assert_int_equal(pcrgate_cms_sign(spec, 2, DATA, DATA_LEN, &sig, &len, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "has a key usage without digitalSignature"));
	assert_null(sig);
	/* The certificate file is read as the trust store reads one: a broken PEM block after a good one fails. */
	write_pem(c2, signer2, NULL);
	assert_non_null(f = fopen(c2, "ab"));
	assert_true(fputs("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", f) >= 0);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(pcrgate_cms_sign(spec, 2, DATA, DATA_LEN, &sig, &len, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "certificate 2 is not a valid PEM certificate"));
	assert_null(sig);
	spec[1].key = "/nonexistent/key.pem";
	write_pem(c2, signer2, NULL);
	assert_int_equal(pcrgate_cms_sign(spec, 2, DATA, DATA_LEN, &sig, &len, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(pcrgate_cms_sign(spec, 0, DATA, DATA_LEN, &sig, &len, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(fx_rmtree(dir), 0);
	X509_free(signer2);
	EVP_PKEY_free(key2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_unknown_root),
		cmocka_unit_test(test_no_code_signing),
		cmocka_unit_test(test_key_usage),
		cmocka_unit_test(test_revoked),
		cmocka_unit_test(test_intermediate),
		cmocka_unit_test(test_expired_verifies),
		cmocka_unit_test(test_corrupted),
		cmocka_unit_test(test_data_changed),
		cmocka_unit_test(test_two_signers),
		cmocka_unit_test(test_weak_digest),
		cmocka_unit_test(test_caps_and_format),
		cmocka_unit_test(test_load_dir),
		cmocka_unit_test(test_sign),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
