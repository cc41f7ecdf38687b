/* Unit tests for signed update authorizations (lib/authz.c): round trip and every refusal. */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "pcrgate/common.h"
#include "authz.h"

#define NOW ((time_t)1700000000)

struct keys {
	char *priv, *pub;       /* P-256 */
	char *other_priv, *other_pub;
	char *p384_priv;
};

static char *pem_of(EVP_PKEY *k, int priv)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *data, *out;
	long n;

	assert_non_null(b);
	if (priv)
		assert_int_equal(PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL), 1);
	else
		assert_int_equal(PEM_write_bio_PUBKEY(b, k), 1);
	n = BIO_get_mem_data(b, &data);
	assert_true(n > 0);
	out = calloc(1, (size_t)n + 1);
	assert_non_null(out);
	memcpy(out, data, (size_t)n);
	BIO_free(b);
	return out;
}

static int setup(void **state)
{
	struct keys *k = calloc(1, sizeof(*k));
	EVP_PKEY *a = EVP_EC_gen("P-256"), *b = EVP_EC_gen("P-256"), *c = EVP_EC_gen("P-384");

	if (k == NULL || a == NULL || b == NULL || c == NULL)
		return -1;
	k->priv = pem_of(a, 1);
	k->pub = pem_of(a, 0);
	k->other_priv = pem_of(b, 1);
	k->other_pub = pem_of(b, 0);
	k->p384_priv = pem_of(c, 1);
	EVP_PKEY_free(a);
	EVP_PKEY_free(b);
	EVP_PKEY_free(c);
	*state = k;
	return 0;
}

static int teardown(void **state)
{
	struct keys *k = *state;

	free(k->priv);
	free(k->pub);
	free(k->other_priv);
	free(k->other_pub);
	free(k->p384_priv);
	free(k);
	return 0;
}

static json_t *claims(void)
{
	json_t *c = json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s}", "device", "dev-1", "ak_name",
			      "000b0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20", "manifest_digest",
			      "aa11", "release", "gw-2.1", "version", "2.1.0", "security_version", (json_int_t)7,
			      "attestation_id", "att-9");

	assert_non_null(c);
	return c;
}

static char *sign_ok(const struct keys *k, time_t now, uint32_t ttl)
{
	json_t *c = claims();
	char *tok = NULL;
	pcrgate_errinfo ei = {0};

	assert_int_equal(authz_sign((const uint8_t *)k->priv, strlen(k->priv), c, now, ttl, &tok, NULL, &ei), 0);
	json_decref(c);
	return tok;
}

static int verify(const struct keys *k, const char *tok, time_t now, const struct authz_expect *e, pcrgate_errinfo *ei)
{
	return authz_verify((const uint8_t *)k->pub, strlen(k->pub), tok, now, e, NULL, ei);
}

static void test_round_trip(void **state)
{
	struct keys *k = *state;
	json_t *c = claims(), *got = NULL;
	char *tok = NULL, jti[AUTHZ_JTI_SIZE];
	pcrgate_errinfo ei = {0};
	struct authz_expect e = {.device = "dev-1", .manifest_digest = "aa11", .release = "gw-2.1",
				 .ak_name = "000b0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20"};

	assert_int_equal(authz_sign((const uint8_t *)k->priv, strlen(k->priv), c, NOW, 600, &tok, jti, &ei), 0);
	assert_int_equal(strlen(jti), 32);
	assert_int_equal(authz_verify((const uint8_t *)k->pub, strlen(k->pub), tok, NOW + 10, &e, &got, &ei), 0);
	assert_int_equal(json_integer_value(json_object_get(got, "iat")), NOW);
	assert_int_equal(json_integer_value(json_object_get(got, "exp")), NOW + 600);
	assert_string_equal(json_string_value(json_object_get(got, "jti")), jti);
	assert_int_equal(json_integer_value(json_object_get(got, "security_version")), 7);
	assert_string_equal(json_string_value(json_object_get(got, "version")), "2.1.0");
	/* A caller's own iat/exp/jti never survive signing. */
	json_object_set_new(c, "exp", json_integer(NOW + 999999));
	free(tok);
	assert_int_equal(authz_sign((const uint8_t *)k->priv, strlen(k->priv), c, NOW, 60, &tok, NULL, &ei), 0);
	assert_int_equal(verify(k, tok, NOW + 61, NULL, &ei), PCRGATE_ERR_VERIFY);
	json_decref(got);
	json_decref(c);
	free(tok);
}

static size_t b64url_dec(const char *s, size_t n, uint8_t *out)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	uint32_t acc = 0;
	int bits = 0;
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		const char *p = strchr(al, s[i]);
		assert_non_null(p);
		acc = (acc << 6) | (uint32_t)(p - al);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	return o;
}

/* The signature is the JWS form (R || S, 64 bytes) and OpenSSL verifies it on its own. */
static void test_standard_jws(void **state)
{
	struct keys *k = *state;
	char *tok = sign_ok(k, NOW, 60);
	const char *d2 = strrchr(tok, '.');
	uint8_t sig[128];
	size_t n = b64url_dec(d2 + 1, strlen(d2 + 1), sig);
	ECDSA_SIG *es = ECDSA_SIG_new();
	unsigned char *der = NULL;
	int derlen;
	BIO *b = BIO_new_mem_buf(k->pub, -1);
	EVP_PKEY *pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	assert_int_equal(n, 64);
	assert_int_equal(ECDSA_SIG_set0(es, BN_bin2bn(sig, 32, NULL), BN_bin2bn(sig + 32, 32, NULL)), 1);
	derlen = i2d_ECDSA_SIG(es, &der);
	assert_true(derlen > 0);
	assert_int_equal(EVP_DigestVerifyInit(md, NULL, EVP_sha256(), NULL, pk), 1);
	assert_int_equal(EVP_DigestVerify(md, der, (size_t)derlen, (const uint8_t *)tok, (size_t)(d2 - tok)), 1);
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pk);
	BIO_free(b);
	OPENSSL_free(der);
	ECDSA_SIG_free(es);
	free(tok);
}

static char *b64url_enc(const char *s)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t n = strlen(s), i, o = 0;
	char *out = calloc(1, n * 2 + 4);
	uint32_t acc = 0;
	int bits = 0;

	assert_non_null(out);
	for (i = 0; i < n; i++) {
		acc = (acc << 8) | (uint8_t)s[i];
		bits += 8;
		while (bits >= 6) {
			bits -= 6;
			out[o++] = al[(acc >> bits) & 63];
		}
	}
	if (bits > 0)
		out[o++] = al[(acc << (6 - bits)) & 63];
	return out;
}

/* A token with the given header over a valid payload and the given signature part. */
static char *forge(const char *header, const char *sig)
{
	json_t *c = claims();
	char *payload, *h, *p, *tok;

	json_object_set_new(c, "iat", json_integer(NOW));
	json_object_set_new(c, "exp", json_integer(NOW + 600));
	json_object_set_new(c, "jti", json_string("00112233445566778899aabbccddeeff"));
	payload = json_dumps(c, JSON_COMPACT);
	h = b64url_enc(header);
	p = b64url_enc(payload);
	tok = calloc(1, strlen(h) + strlen(p) + strlen(sig) + 3);
	assert_non_null(tok);
	sprintf(tok, "%s.%s.%s", h, p, sig);
	free(h);
	free(p);
	free(payload);
	json_decref(c);
	return tok;
}

static void test_refuses_other_algorithms(void **state)
{
	struct keys *k = *state;
	pcrgate_errinfo ei = {0};
	char *tok, *hs;
	jwt_t *jwt = NULL;
	json_t *c = claims();
	char *payload;

	tok = forge("{\"alg\":\"none\"}", "");
	assert_int_equal(verify(k, tok, NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
	free(tok);
	tok = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", "AAAA");
	assert_int_equal(verify(k, tok, NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "ES256"));
	free(tok);
	tok = forge("{\"typ\":\"JWT\"}", "AAAA");
	assert_int_equal(verify(k, tok, NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
	free(tok);
	tok = forge("{\"alg\":\"ES256\",\"jku\":\"https://x\"}", "AAAA");
	assert_int_equal(verify(k, tok, NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
	free(tok);

	/* The classic confusion: HS256 keyed with the verifier's public key PEM. */
	json_object_set_new(c, "iat", json_integer(NOW));
	json_object_set_new(c, "exp", json_integer(NOW + 600));
	json_object_set_new(c, "jti", json_string("00112233445566778899aabbccddeeff"));
	payload = json_dumps(c, JSON_COMPACT);
	assert_int_equal(jwt_new(&jwt), 0);
	assert_int_equal(jwt_add_grants_json(jwt, payload), 0);
	assert_int_equal(jwt_set_alg(jwt, JWT_ALG_HS256, (const unsigned char *)k->pub, (int)strlen(k->pub)), 0);
	hs = jwt_encode_str(jwt);
	assert_non_null(hs);
	assert_int_equal(verify(k, hs, NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "HS256"));
	free(hs);
	free(payload);
	jwt_free(jwt);
	json_decref(c);
}

static void test_refuses_wrong_key_and_tampering(void **state)
{
	struct keys *k = *state;
	pcrgate_errinfo ei = {0};
	char *tok = sign_ok(k, NOW, 600), *dot, *bad;
	json_t *c = claims();

	assert_int_equal(authz_verify((const uint8_t *)k->other_pub, strlen(k->other_pub), tok, NOW, NULL, NULL, &ei),
			 PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "signature"));
	/* A different payload under the original signature. */
	json_object_set_new(c, "device", json_string("dev-2"));
	json_object_set_new(c, "iat", json_integer(NOW));
	json_object_set_new(c, "exp", json_integer(NOW + 600));
	json_object_set_new(c, "jti", json_string("00112233445566778899aabbccddeeff"));
	{
		char *payload = json_dumps(c, JSON_COMPACT), *p = b64url_enc(payload);
		dot = strchr(tok, '.');
		bad = calloc(1, strlen(tok) + strlen(p) + 2);
		memcpy(bad, tok, (size_t)(dot - tok) + 1);
		strcat(bad, p);
		strcat(bad, strrchr(tok, '.'));
		assert_int_equal(verify(k, bad, NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
		free(p);
		free(payload);
		free(bad);
	}
	/* A private key where the public key belongs, and the other way round. */
	assert_int_equal(authz_verify((const uint8_t *)k->priv, strlen(k->priv), tok, NOW, NULL, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(authz_sign((const uint8_t *)k->pub, strlen(k->pub), c, NOW, 60, &bad, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(authz_sign((const uint8_t *)k->p384_priv, strlen(k->p384_priv), c, NOW, 60, &bad, NULL, &ei),
			 PCRGATE_ERR_UNSUPPORTED);
	json_decref(c);
	free(tok);
}

static void test_refuses_times(void **state)
{
	struct keys *k = *state;
	pcrgate_errinfo ei = {0};
	char *tok = sign_ok(k, NOW, 600);

	assert_int_equal(verify(k, tok, NOW + 599, NULL, &ei), 0);
	assert_int_equal(verify(k, tok, NOW + 600, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "expired"));
	assert_int_equal(verify(k, tok, NOW + 100000, NULL, &ei), PCRGATE_ERR_VERIFY);
	/* Issued in the future: within the skew it passes, beyond it not. */
	assert_int_equal(verify(k, tok, NOW - AUTHZ_CLOCK_SKEW, NULL, &ei), 0);
	assert_int_equal(verify(k, tok, NOW - AUTHZ_CLOCK_SKEW - 1, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "future"));
	free(tok);
	{
		json_t *c = claims();
		char *t = NULL;
		assert_int_equal(authz_sign((const uint8_t *)k->priv, strlen(k->priv), c, NOW, 0, &t, NULL, &ei),
				 PCRGATE_ERR_INVALID_ARGUMENT);
		assert_int_equal(authz_sign((const uint8_t *)k->priv, strlen(k->priv), c, NOW, AUTHZ_MAX_TTL + 1, &t,
					    NULL, &ei),
				 PCRGATE_ERR_INVALID_ARGUMENT);
		assert_null(t);
		json_decref(c);
	}
}

static void test_refuses_missing_claims(void **state)
{
	struct keys *k = *state;
	static const char *names[] = {"device", "ak_name", "manifest_digest", "release", "version",
				      "security_version", "attestation_id"};
	pcrgate_errinfo ei = {0};
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		json_t *c = claims();
		char *t = NULL, *payload;
		jwt_t *jwt = NULL;

		json_object_del(c, names[i]);
		assert_int_equal(authz_sign((const uint8_t *)k->priv, strlen(k->priv), c, NOW, 60, &t, NULL, &ei),
				 PCRGATE_ERR_INVALID_ARGUMENT);
		assert_null(t);
		/* A validly signed token without it (made directly with libjwt) is refused too. */
		json_object_set_new(c, "iat", json_integer(NOW));
		json_object_set_new(c, "exp", json_integer(NOW + 60));
		json_object_set_new(c, "jti", json_string("00112233445566778899aabbccddeeff"));
		payload = json_dumps(c, JSON_COMPACT);
		assert_int_equal(jwt_new(&jwt), 0);
		assert_int_equal(jwt_add_grants_json(jwt, payload), 0);
		assert_int_equal(jwt_set_alg(jwt, JWT_ALG_ES256, (const unsigned char *)k->priv, (int)strlen(k->priv)),
				 0);
		t = jwt_encode_str(jwt);
		assert_non_null(t);
		assert_int_equal(verify(k, t, NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
		assert_non_null(strstr(ei.message, names[i]));
		free(t);
		free(payload);
		jwt_free(jwt);
		json_decref(c);
	}
	/* A mistyped one: security_version as a string. */
	{
		json_t *c = claims();
		char *t = NULL;
		json_object_set_new(c, "security_version", json_string("7"));
		assert_int_equal(authz_sign((const uint8_t *)k->priv, strlen(k->priv), c, NOW, 60, &t, NULL, &ei),
				 PCRGATE_ERR_INVALID_ARGUMENT);
		json_decref(c);
	}
}

static void test_refuses_unexpected_values(void **state)
{
	struct keys *k = *state;
	pcrgate_errinfo ei = {0};
	char *tok = sign_ok(k, NOW, 600);
	struct authz_expect e = {.device = "dev-2"};

	assert_int_equal(verify(k, tok, NOW, &e, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "device"));
	e = (struct authz_expect){.ak_name = "000b00"};
	assert_int_equal(verify(k, tok, NOW, &e, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "ak_name"));
	e = (struct authz_expect){.manifest_digest = "aa1"};
	assert_int_equal(verify(k, tok, NOW, &e, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "manifest_digest"));
	e = (struct authz_expect){.release = "gw-2.0"};
	assert_int_equal(verify(k, tok, NOW, &e, &ei), PCRGATE_ERR_VERIFY);
	free(tok);
}

static void test_refuses_malformed(void **state)
{
	struct keys *k = *state;
	pcrgate_errinfo ei = {0};
	char *big = malloc(AUTHZ_MAX_TOKEN + 10);

	assert_int_equal(verify(k, "", NOW, NULL, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(verify(k, "abc.def", NOW, NULL, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(verify(k, "a.b.c.d", NOW, NULL, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(verify(k, "a b.c.d", NOW, NULL, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(verify(k, "e30.e30.", NOW, NULL, &ei), PCRGATE_ERR_VERIFY);
	assert_int_equal(verify(k, "!!!.e30.AAAA", NOW, NULL, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(verify(k, "W10.e30.AAAA", NOW, NULL, &ei), PCRGATE_ERR_FORMAT); /* header [] */
	/* Every part is strict base64url before libjwt sees it; the offset is the token's. */
	assert_int_equal(verify(k, "eyJhbGciOiJFUzI1NiJ9.e+0.AAAA", NOW, NULL, &ei), PCRGATE_ERR_FORMAT); /* ES256 */
	assert_true(ei.has_offset);
	assert_int_equal(ei.offset, 22);
	assert_string_equal(ei.message, "the token's payload is not base64url (character 1)");
	assert_int_equal(verify(k, "eyJhbGciOiJFUzI1NiJ9.e30.AAB", NOW, NULL, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "signature is not canonical base64url"));
	memset(big, 'A', AUTHZ_MAX_TOKEN + 9);
	big[AUTHZ_MAX_TOKEN + 9] = '\0';
	assert_int_equal(verify(k, big, NOW, NULL, &ei), PCRGATE_ERR_LIMIT);
	free(big);
}

static void test_public_key(void **state)
{
	struct keys *k = *state;
	pcrgate_errinfo ei = {0};
	char *pub = NULL, *tok = sign_ok(k, NOW, 60);
	size_t len = 0;

	assert_int_equal(authz_public_key((const uint8_t *)k->priv, strlen(k->priv), &pub, &len, &ei), 0);
	assert_int_equal(len, strlen(pub));
	assert_int_equal(authz_verify((const uint8_t *)pub, len, tok, NOW, NULL, NULL, &ei), 0);
	free(pub);
	free(tok);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_standard_jws),
		cmocka_unit_test(test_refuses_other_algorithms),
		cmocka_unit_test(test_refuses_wrong_key_and_tampering),
		cmocka_unit_test(test_refuses_times),
		cmocka_unit_test(test_refuses_missing_claims),
		cmocka_unit_test(test_refuses_unexpected_values),
		cmocka_unit_test(test_refuses_malformed),
		cmocka_unit_test(test_public_key),
	};

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	return cmocka_run_group_tests(tests, setup, teardown);
}
