/*
 * Unit tests of the agent's software side: policy digests against vectors taken from
 * tpm2-tools' trial sessions and tpm2_nvreadpublic on swtpm, signed policy documents (made
 * with keys of every supported type, read back, and each malformed or inconsistent member
 * rejected by name), TPM public areas to and from OpenSSL keys, templates, base64 members,
 * and the agent's config file. Signed documents become seeds for tests/fuzz/fuzz_policy.
 */
#include "config.h"

#include <stdarg.h>
#include <setjmp.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "agent_util.h"
#include "seed.h"
#include "attest/agent.h"
#include "attest/jsonutil.h"
#include "attest/policy.h"
#include "attest/tpmobj.h"

#define INDEX 0x01500100u

static void expect_hex(const uint8_t *got, size_t len, const char *want_hex)
{
	char hex[2 * 128 + 1];

	assert_true(len <= 128);
	pcrgate_hex_encode(got, len, hex);
	assert_string_equal(hex, want_hex);
}

/* tpm2_nvreadpublic's name of the counter as the agent provisions it, written. */
static void test_counter_name(void **state)
{
	TPM2B_NAME name;

	(void)state;
	assert_int_equal(policy_counter_name(INDEX, 1, &name), 0);
	expect_hex(name.name, name.size, "000b5e0de518d6c9fa61b2eb5111801c24c67ce8b79a8833371c92e515c00f87daaa");
}

static void test_policy_ref(void **state)
{
	TPM2B_NONCE ref;

	(void)state;
	policy_ref(INDEX, &ref);
	assert_int_equal(ref.size, strlen("pcrgate-counter:0x01500100"));
	assert_memory_equal(ref.buffer, "pcrgate-counter:0x01500100", ref.size);
}

/* PolicyAuthorize(name, ref), checked against tpm2_policyauthorize and the update key swtpm made. */
static void test_authorize_digest(void **state)
{
	TPM2B_NAME name;
	TPM2B_NONCE ref;
	TPM2B_DIGEST d;

	(void)state;
	name.size = (UINT16)agent_test_hex("000bf6e133347298757be83af615906280de40f485960cae33a81e74ee222afbdca7",
					   name.name, sizeof(name.name));
	policy_ref(INDEX, &ref);
	assert_int_equal(policy_authorize_digest(&name, &ref, &d), 0);
	expect_hex(d.buffer, d.size, "ba4d37fb80a3df127d0122fff5335b591962b0caeba19d481b445c420d63eb32");
}

static pcrgate_pcrs *zero_pcrs(const uint16_t *algs, const unsigned *idx, size_t n)
{
	static const uint8_t zero[PCRGATE_MAX_DIGEST];
	pcrgate_pcrs *p = pcrgate_pcrs_new();
	size_t i;

	assert_non_null(p);
	for (i = 0; i < n; i++)
		assert_int_equal(pcrgate_pcrs_set(p, algs[i], idx[i], zero, pcrgate_alg_digest_size(algs[i])), 0);
	return p;
}

/* tpm2_policypcr and tpm2_policynv in a trial session on swtpm gave these digests. */
static void test_pcr_nv_digests(void **state)
{
	const uint16_t a1[] = {PCRGATE_ALG_SHA256};
	const unsigned i1[] = {16};
	const uint16_t a2[] = {PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA1};
	const unsigned i2[] = {23, 1, 16, 0};
	pcrgate_pcrs *p1 = zero_pcrs(a1, i1, 1), *p2 = zero_pcrs(a2, i2, 4);
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST pd, d;
	TPM2B_NAME nv;
	TPM2B_OPERAND op;

	(void)state;
	assert_int_equal(policy_pcr_selection(p1, &sel, &pd, NULL), 0);
	memset(&d, 0, sizeof(d));
	d.size = 32;
	assert_int_equal(policy_update_pcr(&d, &sel, &pd), 0);
	expect_hex(d.buffer, d.size, "bff2d58e9813f97cefc14f72ad8133bc7092d652b7c877959254af140c841f36");
	assert_int_equal(policy_counter_name(INDEX, 1, &nv), 0);
	policy_version_operand(1, &op);
	assert_int_equal(policy_update_nv(&d, &op, 0, TPM2_EO_UNSIGNED_LE, &nv), 0);
	expect_hex(d.buffer, d.size, "f144c9c47ee6e01b9ab607777b18fac6d17a0ba35e59a2d011c16d311dbb0a94");
	assert_int_equal(policy_approved_digest(&sel, &pd, &nv, 1, &d), 0);
	expect_hex(d.buffer, d.size, "f144c9c47ee6e01b9ab607777b18fac6d17a0ba35e59a2d011c16d311dbb0a94");
	/* Two banks: sha1 before sha256 (by name), PCRs ascending, as tpm2-tools' sha1:0,1+sha256:16,23. */
	assert_int_equal(policy_pcr_selection(p2, &sel, &pd, NULL), 0);
	assert_int_equal(sel.count, 2);
	assert_int_equal(sel.pcrSelections[0].hash, PCRGATE_ALG_SHA1);
	memset(&d, 0, sizeof(d));
	d.size = 32;
	assert_int_equal(policy_update_pcr(&d, &sel, &pd), 0);
	expect_hex(d.buffer, d.size, "22b59677455ba89bf41153e05aab00ee018879e185056e13544058b04b3ee1b5");
	pcrgate_pcrs_free(&p1);
	pcrgate_pcrs_free(&p2);
}

/* A signed policy for sha256:8 and sha256:9 (arbitrary values), version 7, as a JSON string. */
static char *signed_doc(EVP_PKEY *key, uint64_t version)
{
	uint8_t v8[32], v9[32];
	pcrgate_pcrs *p = pcrgate_pcrs_new();
	json_t *doc = NULL;
	char *s;

	memset(v8, 0x18, sizeof(v8));
	memset(v9, 0x19, sizeof(v9));
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA256, 8, v8, 32), 0);
	assert_int_equal(pcrgate_pcrs_set(p, PCRGATE_ALG_SHA256, 9, v9, 32), 0);
	assert_int_equal(policy_sign(p, version, INDEX, key, &doc, NULL), 0);
	s = json_dumps(doc, JSON_PRESERVE_ORDER);
	assert_non_null(s);
	json_decref(doc);
	pcrgate_pcrs_free(&p);
	return s;
}

static void test_sign_parse(void **state)
{
	const char *kinds[] = {"P-256", "P-384", "RSA"};
	struct signed_policy sp;
	TPM2B_PUBLIC pub;
	TPM2B_NAME name;
	pcrgate_errinfo ei;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		EVP_PKEY *key = agent_test_key(kinds[i]);
		char *doc, file[32];

		assert_non_null(key);
		doc = signed_doc(key, 7);
		pcrgate_errinfo_clear(&ei);
		assert_int_equal(policy_parse((const uint8_t *)doc, strlen(doc), &sp, &ei), 0);
		assert_int_equal(sp.version, 7);
		assert_int_equal(sp.nv_index, INDEX);
		assert_int_equal(sp.sel.count, 1);
		assert_int_equal(sp.sel.pcrSelections[0].pcrSelect[1], 0x03);
		assert_int_equal(tpmobj_from_evp(key, &pub, NULL), 0);
		assert_int_equal(tpmobj_name(&pub.publicArea, &name), 0);
		assert_int_equal(name.size, sp.key_name.size);
		assert_memory_equal(name.name, sp.key_name.name, name.size);
		snprintf(file, sizeof(file), "signed-%s.json", kinds[i]);
		assert_true(test_seed_write("policy", file, doc, strlen(doc)) >= 0);
		free(doc);
		EVP_PKEY_free(key);
	}
}

/* A mutation of the document and the message its rejection must carry. */
struct mutation {
	const char *path;   /* "a" or "a.b" */
	const char *value;  /* JSON text of the new value, or NULL to delete the member */
	const char *expect; /* substring of the error message */
};

static void set_path(json_t *doc, const char *path, const char *value)
{
	char buf[64], *dot;
	json_t *obj = doc;

	snprintf(buf, sizeof(buf), "%s", path);
	if ((dot = strchr(buf, '.')) != NULL) {
		*dot = '\0';
		obj = json_object_get(doc, buf);
		assert_non_null(obj);
		path = dot + 1;
	} else {
		path = buf;
	}
	if (value == NULL) {
		json_object_del(obj, path);
	} else {
		json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);

		assert_non_null(v);
		json_object_set_new(obj, path, v);
	}
}

static void test_rejections(void **state)
{
	static const struct mutation m[] = {
		{"format", "\"other\"", "not a pcrgate signed policy"},
		{"version", "2", "not a pcrgate signed policy"},
		{"policy_hash", "\"sha1\"", "not a pcrgate signed policy"},
		{"counter", NULL, "\"counter\" is missing"},
		{"counter.index", "\"0x1500100\"", "an index 0x%08x"},
		{"counter.index", "\"0x02000000\"", "an index 0x%08x"},
		{"counter.index", "\"0x01500101\"", "counter.name is not the name"},
		{"counter.security_version", "-1", "security_version >= 0"},
		{"counter.security_version", "\"7\"", "security_version >= 0"},
		{"counter.security_version", "8", "approved_policy is not"},
		{"counter.name", "\"00\"", "counter.name is not the name"},
		{"pcrs", "{}", "must name 1 to"},
		{"pcrs", "{\"md5\": {\"8\": \"00\"}}", "pcrs.md5"},
		{"pcrs.sha256", "{\"08\": \"" "1818181818181818181818181818181818181818181818181818181818181818\"}", "pcrs.sha256.08"},
		{"pcrs.sha256", "{\"24\": \"" "1818181818181818181818181818181818181818181818181818181818181818\"}", "pcrs.sha256.24"},
		{"pcrs.sha256", "{\"8\": \"1818\"}", "pcrs.sha256.8"},
		{"pcrs.sha256", "{\"8\": \"" "1818181818181818181818181818181818181818181818181818181818181819\", \"9\": \""
				"1919191919191919191919191919191919191919191919191919191919191919\"}",
		 "approved_policy is not"},
		{"approved_policy", "\"00\"", "approved_policy is not"},
		{"approved_policy", "\"zz\"", "\"approved_policy\" is not hex"},
		{"policy_ref", "\"70\"", "policy_ref does not name"},
		{"signing_key.name", "\"000b00\"", "signing_key.name is not the name"},
		{"signing_key.public", "\"AAA=\"", "an empty TPM2B_PUBLIC"},
		{"signing_key.public", "\"AAE=\"", "not a TPM2B_PUBLIC"},
		{"signing_key.public", "\"!!!!\"", "is not base64"},
		{"signature", "\"AAA=\"", "not one TPMT_SIGNATURE"},
		{"signature", "42", "\"signature\" is not a string"},
	};
	EVP_PKEY *key = agent_test_key("P-256"), *other = agent_test_key("P-256");
	char *good = signed_doc(key, 7), *foreign = signed_doc(other, 7);
	json_t *g = json_loads(good, 0, NULL), *f = json_loads(foreign, 0, NULL);
	struct signed_policy sp;
	pcrgate_errinfo ei;
	size_t i;

	(void)state;
	assert_non_null(g);
	for (i = 0; i < sizeof(m) / sizeof(m[0]); i++) {
		json_t *doc = json_deep_copy(g);
		char *s;

		set_path(doc, m[i].path, m[i].value);
		s = json_dumps(doc, 0);
		pcrgate_errinfo_clear(&ei);
		if (policy_parse((const uint8_t *)s, strlen(s), &sp, &ei) == 0 || strstr(ei.message, m[i].expect) == NULL)
			fail_msg("mutation %zu (%s): '%s', expected '%s'", i, m[i].path, ei.message, m[i].expect);
		free(s);
		json_decref(doc);
	}
	/* Another key's public part and name with this key's signature: the signature fails. */
	json_object_set(g, "signing_key", json_object_get(f, "signing_key"));
	free(good);
	good = json_dumps(g, 0);
	pcrgate_errinfo_clear(&ei);
	assert_int_not_equal(policy_parse((const uint8_t *)good, strlen(good), &sp, &ei), 0);
	assert_non_null(strstr(ei.message, "the signature does not verify"));
	/* Not JSON, not an object, duplicates, too large. */
	assert_int_equal(policy_parse((const uint8_t *)"{", 1, &sp, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(policy_parse((const uint8_t *)"[]", 2, &sp, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(policy_parse((const uint8_t *)"{\"a\":1,\"a\":2}", 13, &sp, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(policy_parse((const uint8_t *)good, POLICY_FILE_MAX + 1, &sp, &ei), PCRGATE_ERR_LIMIT);
	free(good);
	free(foreign);
	json_decref(g);
	json_decref(f);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
}

static void test_evp_roundtrip(void **state)
{
	const char *kinds[] = {"P-256", "P-384", "P-521", "RSA"};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		EVP_PKEY *key = agent_test_key(kinds[i]), *back = NULL;
		TPM2B_PUBLIC pub, again;
		uint8_t buf[sizeof(TPM2B_PUBLIC)];
		size_t len = 0;

		assert_non_null(key);
		assert_int_equal(tpmobj_from_evp(key, &pub, NULL), 0);
		assert_int_equal(pub.publicArea.objectAttributes, 0x00060040);
		assert_int_equal(tpmobj_to_evp(&pub.publicArea, &back, NULL), 0);
		assert_int_equal(EVP_PKEY_eq(key, back), 1);
		assert_int_equal(tpmobj_public_marshal(&pub, buf, sizeof(buf), &len), 0);
		assert_int_equal(tpmobj_public_unmarshal(buf, len, &again, NULL), 0);
		assert_memory_equal(&again.publicArea.unique, &pub.publicArea.unique, sizeof(pub.publicArea.unique));
		assert_int_equal(tpmobj_public_unmarshal(buf, len - 1, &again, NULL), PCRGATE_ERR_FORMAT);
		EVP_PKEY_free(key);
		EVP_PKEY_free(back);
	}
}

static void test_templates(void **state)
{
	TPM2B_PUBLIC a, b;
	TPM2B_DIGEST policy;
	char why[160];

	(void)state;
	assert_int_equal(tpmobj_template_ek(TPM2_ALG_RSA, &a), 0);
	assert_int_equal(a.publicArea.objectAttributes, 0x000300b2);
	assert_int_equal(tpmobj_template_srk(TPM2_ALG_ECC, &b), 0);
	assert_int_equal(b.publicArea.objectAttributes, 0x00030472);
	assert_int_equal(tpmobj_matches(&a.publicArea, &a.publicArea, why, sizeof(why)), 0);
	assert_int_equal(tpmobj_matches(&b.publicArea, &a.publicArea, why, sizeof(why)), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(why, "key type"));
	assert_int_equal(tpmobj_template_ek(TPM2_ALG_ECC, &a), 0);
	assert_int_equal(tpmobj_matches(&b.publicArea, &a.publicArea, why, sizeof(why)), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(why, "objectAttributes"));
	memset(&policy, 0x5a, sizeof(policy));
	policy.size = 32;
	assert_int_equal(tpmobj_template_update_key(&policy, &a), 0);
	assert_int_equal(a.publicArea.objectAttributes & TPMA_OBJECT_USERWITHAUTH, 0);
	b = a;
	b.publicArea.authPolicy.buffer[0] ^= 1;
	assert_int_equal(tpmobj_matches(&b.publicArea, &a.publicArea, why, sizeof(why)), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(why, "authPolicy"));
	b = a;
	b.publicArea.parameters.rsaDetail.scheme.details.oaep.hashAlg = TPM2_ALG_SHA1;
	assert_int_equal(tpmobj_matches(&b.publicArea, &a.publicArea, why, sizeof(why)), PCRGATE_ERR_VERIFY);
	policy.size = 20;
	assert_int_equal(tpmobj_template_update_key(&policy, &a), PCRGATE_ERR_INVALID_ARGUMENT);
}

static void test_b64(void **state)
{
	uint8_t in[5] = {0xff, 0x00, 0x10, 0x7f, 0x80}, out[8];
	pcrgate_errinfo ei;
	size_t n, len;

	(void)state;
	for (n = 0; n <= sizeof(in); n++) {
		json_t *doc = json_object();

		json_object_set_new(doc, "b", jsonutil_b64(in, n));
		assert_int_equal(jsonutil_get_b64(doc, "t", "b", out, sizeof(out), &len, &ei), 0);
		assert_int_equal(len, n);
		assert_memory_equal(out, in, n);
		assert_int_equal(jsonutil_get_b64(doc, "t", "b", out, n > 0 ? n - 1 : 0, &len, &ei),
				 n > 0 ? PCRGATE_ERR_LIMIT : 0);
		json_decref(doc);
	}
	{
		/* Bad characters, misplaced padding, whitespace, bits left over ("AB==") and base64url. */
		const char *bad[] = {"abc", "ab=c", "a===", "=AAA", "AA\nA", "AAAA====", "AB==", "_-8="};
		size_t i;

		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			json_t *doc = json_pack("{s:s}", "b", bad[i]);

			assert_int_equal(jsonutil_get_b64(doc, "t", "b", out, sizeof(out), &len, &ei), PCRGATE_ERR_FORMAT);
			assert_non_null(strstr(ei.message, "t: member \"b\" is not"));
			json_decref(doc);
		}
	}
}

/* Writes a config file and resolves it; returns the result, cfg and ei filled. */
static int resolve(const char *text, struct agent_config *cfg, pcrgate_errinfo *ei)
{
	char path[] = "/tmp/pcrgate-agent-conf.XXXXXX";
	struct agent_options o = {NULL, NULL, NULL};
	int fd = mkstemp(path), r;

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	o.config = path;
	pcrgate_errinfo_clear(ei);
	r = agent_config_resolve(&o, cfg, ei);
	unlink(path);
	return r;
}

static void test_config(void **state)
{
	static const struct {
		const char *text, *expect;
	} bad[] = {
		{"srk_handle = 0x01000000\n", "srk_handle: '0x01000000' is not a persistent handle"},
		{"ak_handle = 0x81800000\n", "ak_handle"},
		{"ak_handle = 0x81000001\n", "srk_handle and ak_handle are both 0x81000001"},
		{"counter_index = 0x01c00002\n", "counter_index"},
		{"srk_alg = dsa\n", "is not rsa or ecc"},
		{"ek = both\n", "is not rsa,ecc"},
		{"quote_pcrs = 0-24\n", "quote_pcrs"},
		{"quote_pcrs = 3-1\n", "quote_pcrs"},
		{"quote_pcrs = 1,\n", "quote_pcrs"},
		{"state_dir = relative\n", "not an absolute path"},
		{"tcti = a\ntcti = b\n", "already set"},
	};
	struct agent_config c;
	pcrgate_errinfo ei;
	size_t i;

	(void)state;
	assert_int_equal(resolve("# nothing\n", &c, &ei), 0);
	assert_int_equal(c.srk_handle, AGENT_DEFAULT_SRK_HANDLE);
	assert_int_equal(c.counter_index, AGENT_DEFAULT_COUNTER_INDEX);
	assert_int_equal(c.quote_pcrs, 0x3ff);
	assert_int_equal(c.eks, AGENT_EK_RSA | AGENT_EK_ECC);
	assert_string_equal(c.state_dir, AGENT_DEFAULT_STATE_DIR);
	assert_int_equal(resolve("srk_handle = 0x81000002\nak_alg = rsa\nek = ecc\nquote_pcrs = 0,2-3,23\n"
				 "state_dir = /x/y\ncounter_index = 22020353\n",
				 &c, &ei),
			 0);
	assert_int_equal(c.srk_handle, 0x81000002);
	assert_int_equal(c.ak_alg, TPM2_ALG_RSA);
	assert_int_equal(c.eks, AGENT_EK_ECC);
	assert_int_equal(c.quote_pcrs, 0x80000d);
	assert_string_equal(c.state_dir, "/x/y");
	assert_int_equal(c.counter_index, 0x01500101);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_not_equal(resolve(bad[i].text, &c, &ei), 0);
		if (strstr(ei.message, bad[i].expect) == NULL)
			fail_msg("config '%s': '%s', expected '%s'", bad[i].text, ei.message, bad[i].expect);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_counter_name),   cmocka_unit_test(test_policy_ref),
		cmocka_unit_test(test_authorize_digest), cmocka_unit_test(test_pcr_nv_digests),
		cmocka_unit_test(test_sign_parse),     cmocka_unit_test(test_rejections),
		cmocka_unit_test(test_evp_roundtrip),  cmocka_unit_test(test_templates),
		cmocka_unit_test(test_b64),            cmocka_unit_test(test_config),
	};

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
