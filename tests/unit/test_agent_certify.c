/*
 * Unit tests of certify_verify: certifications built in-test (a TPMS_ATTEST of TPM2_Certify
 * marshalled here, signed by an in-test key given a restricted AK's public area) are accepted,
 * and each forgery is rejected naming its check: another nonce, another policy key or counter,
 * a public area that is not the certified one, an AK that is not restricted, another AK than
 * the enrolled one, another attestation type, another parent, a changed byte. The documents
 * become seeds for tests/fuzz/fuzz_policy, which reads certifications too.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <tss2/tss2_mu.h>

#include "agent_util.h"
#include "seed.h"
#include "attest/certify.h"
#include "attest/jsonutil.h"
#include "attest/policy.h"
#include "attest/tpmobj.h"
#include "pcrgate/alg.h"

#define INDEX 0x01500100u

struct world {
	EVP_PKEY *ak_key, *vendor, *uk_key;
	TPM2B_PUBLIC ak, uk;
	TPM2B_NAME ak_name, uk_name, vendor_name, parent;
};

/* What to build differently from a genuine certification. */
struct knobs {
	TPMI_ST_ATTEST type;
	int parent_flip;  /* the attest names another parent */
	int attest_flip;  /* one byte of the signed attest changed after signing */
	int key_is_ak;    /* the document's key member is the AK's public area */
	uint32_t ak_attrs; /* 0: the restricted signer's */
};

static int setup(void **state)
{
	struct world *w = calloc(1, sizeof(*w));
	TPM2B_PUBLIC vpub, rsa;
	TPM2B_NONCE ref;
	TPM2B_DIGEST policy;

	assert_non_null(w);
	w->ak_key = agent_test_key("P-256");
	w->vendor = agent_test_key("P-256");
	w->uk_key = agent_test_key("RSA");
	assert_non_null(w->ak_key);
	assert_non_null(w->vendor);
	assert_non_null(w->uk_key);
	assert_int_equal(tpmobj_from_evp(w->ak_key, &w->ak, NULL), 0);
	w->ak.publicArea.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
					    TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
					    TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT;
	w->ak.publicArea.parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
	w->ak.publicArea.parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
	assert_int_equal(tpmobj_name(&w->ak.publicArea, &w->ak_name), 0);
	assert_int_equal(tpmobj_from_evp(w->vendor, &vpub, NULL), 0);
	assert_int_equal(tpmobj_name(&vpub.publicArea, &w->vendor_name), 0);
	policy_ref(INDEX, &ref);
	assert_int_equal(policy_authorize_digest(&w->vendor_name, &ref, &policy), 0);
	assert_int_equal(tpmobj_template_update_key(&policy, &w->uk), 0);
	assert_int_equal(tpmobj_from_evp(w->uk_key, &rsa, NULL), 0);
	w->uk.publicArea.unique = rsa.publicArea.unique;
	assert_int_equal(tpmobj_name(&w->uk.publicArea, &w->uk_name), 0);
	w->parent.size = (UINT16)agent_test_hex("000b0da1b45c54146dff07e36a57e5a2a3bc30583879a813504b9981b07ff33d21d4",
						w->parent.name, sizeof(w->parent.name));
	*state = w;
	return 0;
}

static int teardown(void **state)
{
	struct world *w = *state;

	EVP_PKEY_free(w->ak_key);
	EVP_PKEY_free(w->vendor);
	EVP_PKEY_free(w->uk_key);
	free(w);
	return 0;
}

static json_t *key_member(const TPM2B_PUBLIC *pub, const TPM2B_NAME *name)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	size_t len = 0;

	assert_int_equal(tpmobj_public_marshal(pub, buf, sizeof(buf), &len), 0);
	return json_pack("{s:o,s:o}", "public", jsonutil_b64(buf, len), "name", jsonutil_hex(name->name, name->size));
}

/* A certification document as the agent writes it, built as knobs say; a malloc'd string. */
static char *build(const struct world *w, const struct knobs *k, const uint8_t *nonce, size_t nlen)
{
	TPMS_ATTEST att;
	TPM2B_NAME parent = w->parent, ak_name;
	TPM2B_PUBLIC ak = w->ak;
	TPMT_SIGNATURE sig;
	EVP_PKEY_CTX *ctx;
	uint8_t buf[2048], der[128], digest[32], sigbuf[sizeof(TPMT_SIGNATURE)];
	size_t len = 0, dlen = sizeof(der), slen = 0;
	json_t *doc;
	char *s;

	if (k->ak_attrs != 0)
		ak.publicArea.objectAttributes = k->ak_attrs;
	assert_int_equal(tpmobj_name(&ak.publicArea, &ak_name), 0);
	memset(&att, 0, sizeof(att));
	att.magic = TPM2_GENERATED_VALUE;
	att.type = k->type ? k->type : TPM2_ST_ATTEST_CERTIFY;
	if (k->parent_flip)
		parent.name[5] ^= 1;
	assert_int_equal(tpmobj_qualified_name(TPM2_ALG_SHA256, &parent, &ak_name, &att.qualifiedSigner), 0);
	att.extraData.size = (UINT16)nlen;
	memcpy(att.extraData.buffer, nonce, nlen);
	att.clockInfo.clock = 123456;
	att.clockInfo.resetCount = 2;
	att.clockInfo.safe = TPM2_YES;
	if (att.type == TPM2_ST_ATTEST_CERTIFY) {
		att.attested.certify.name = w->uk_name;
		assert_int_equal(tpmobj_qualified_name(TPM2_ALG_SHA256, &parent, &w->uk_name,
						       &att.attested.certify.qualifiedName),
				 0);
	}
	assert_int_equal(Tss2_MU_TPMS_ATTEST_Marshal(&att, buf, sizeof(buf), &len), TSS2_RC_SUCCESS);
	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, buf, len, digest), 0);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, w->ak_key, NULL);
	assert_true(ctx != NULL && EVP_PKEY_sign_init(ctx) == 1 && EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(ctx, der, &dlen, digest, sizeof(digest)) == 1);
	EVP_PKEY_CTX_free(ctx);
	assert_int_equal(tpmobj_signature_from_der(w->ak_key, TPM2_ALG_SHA256, der, dlen, &sig, NULL), 0);
	assert_int_equal(Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sigbuf, sizeof(sigbuf), &slen), TSS2_RC_SUCCESS);
	if (k->attest_flip)
		buf[len - 1] ^= 1;
	doc = json_pack("{s:s,s:i,s:o,s:o,s:o,s:o,s:o,s:o}", "format", CERTIFY_FORMAT, "version", 1, "nonce",
			jsonutil_hex(nonce, nlen), "parent_qualified_name", jsonutil_hex(w->parent.name, w->parent.size),
			"ak", key_member(&ak, &ak_name), "key",
			k->key_is_ak ? key_member(&ak, &ak_name) : key_member(&w->uk, &w->uk_name), "attest",
			jsonutil_b64(buf, len), "signature", jsonutil_b64(sigbuf, slen));
	assert_non_null(doc);
	s = json_dumps(doc, 0);
	json_decref(doc);
	assert_non_null(s);
	return s;
}

static const uint8_t NONCE[4] = {0xc0, 0xff, 0xee, 0x01};

static void test_genuine(void **state)
{
	struct world *w = *state;
	struct knobs k = {0};
	struct certify_result res;
	pcrgate_errinfo ei;
	char *doc = build(w, &k, NONCE, sizeof(NONCE));

	pcrgate_errinfo_clear(&ei);
	assert_int_equal(certify_verify((const uint8_t *)doc, strlen(doc), &w->vendor_name, INDEX, NONCE, sizeof(NONCE),
					&w->ak, &res, &ei),
			 0);
	assert_int_equal(res.auth_policy.size, 32);
	assert_memory_equal(res.auth_policy.buffer, w->uk.publicArea.authPolicy.buffer, 32);
	assert_memory_equal(res.key_name.name, w->uk_name.name, w->uk_name.size);
	assert_int_equal(res.clock, 123456);
	assert_int_equal(res.reset_count, 2);
	/* Without a nonce or an enrolled AK to compare, the rest still holds. */
	assert_int_equal(certify_verify((const uint8_t *)doc, strlen(doc), &w->vendor_name, INDEX, NULL, 0, NULL, &res, &ei),
			 0);
	assert_true(test_seed_write("policy", "certify-genuine.json", doc, strlen(doc)) >= 0);
	free(doc);
}

static void expect_reject(const struct world *w, const struct knobs *k, const uint8_t *nonce, size_t nlen,
			  const TPM2B_NAME *vendor, uint32_t index, const TPM2B_PUBLIC *enrolled, const char *want)
{
	struct certify_result res;
	pcrgate_errinfo ei;
	char *doc = build(w, k, nonce, nlen);

	pcrgate_errinfo_clear(&ei);
	if (certify_verify((const uint8_t *)doc, strlen(doc), vendor, index, NONCE, sizeof(NONCE), enrolled, &res, &ei) ==
		    0 ||
	    strstr(ei.message, want) == NULL)
		fail_msg("'%s', expected '%s'", ei.message, want);
	free(doc);
}

static void test_forgeries(void **state)
{
	struct world *w = *state;
	const uint8_t other_nonce[4] = {0xc0, 0xff, 0xee, 0x02};
	struct knobs k;
	TPM2B_NAME other_vendor = w->vendor_name;
	TPM2B_PUBLIC other_ak = w->ak;

	other_vendor.name[3] ^= 1;
	other_ak.publicArea.unique.ecc.x.buffer[0] ^= 1;
	memset(&k, 0, sizeof(k));
	expect_reject(w, &k, other_nonce, sizeof(other_nonce), &w->vendor_name, INDEX, NULL, "the nonce differs");
	expect_reject(w, &k, NONCE, sizeof(NONCE), &other_vendor, INDEX, NULL, "another authPolicy");
	expect_reject(w, &k, NONCE, sizeof(NONCE), &w->vendor_name, INDEX + 1, NULL, "another authPolicy");
	expect_reject(w, &k, NONCE, sizeof(NONCE), &w->vendor_name, INDEX, &other_ak, "another AK than the enrolled");
	k.key_is_ak = 1;
	expect_reject(w, &k, NONCE, sizeof(NONCE), &w->vendor_name, INDEX, NULL, "the certified name is not the name");
	memset(&k, 0, sizeof(k));
	k.ak_attrs = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
		     TPMA_OBJECT_USERWITHAUTH | TPMA_OBJECT_SIGN_ENCRYPT;
	expect_reject(w, &k, NONCE, sizeof(NONCE), &w->vendor_name, INDEX, NULL, "not a restricted");
	memset(&k, 0, sizeof(k));
	k.type = TPM2_ST_ATTEST_QUOTE;
	expect_reject(w, &k, NONCE, sizeof(NONCE), &w->vendor_name, INDEX, NULL, "not a TPM-generated TPM2_Certify");
	memset(&k, 0, sizeof(k));
	k.parent_flip = 1;
	expect_reject(w, &k, NONCE, sizeof(NONCE), &w->vendor_name, INDEX, NULL, "not children of the stated parent");
	memset(&k, 0, sizeof(k));
	k.attest_flip = 1;
	expect_reject(w, &k, NONCE, sizeof(NONCE), &w->vendor_name, INDEX, NULL, "signature does not verify");
}

static void test_malformed(void **state)
{
	struct world *w = *state;
	struct certify_result res;
	pcrgate_errinfo ei;
	const char *bad[] = {"{}", "{\"format\": \"pcrgate-certify\"}", "[1]", "{\"format\": 1}"};
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(certify_verify((const uint8_t *)bad[i], strlen(bad[i]), &w->vendor_name, INDEX, NULL, 0,
						NULL, &res, &ei),
				 PCRGATE_ERR_FORMAT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_genuine),
		cmocka_unit_test(test_forgeries),
		cmocka_unit_test(test_malformed),
	};

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	return cmocka_run_group_tests(tests, setup, teardown);
}
