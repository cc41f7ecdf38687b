/*
 * pcrgate: signed update authorizations (JWS compact serialization, ES256) through libjwt.
 *
 * libjwt 1.10 picks the verification algorithm from the token's own header, so a token that
 * says "HS256" would be checked as an HMAC keyed with our public key PEM, and "none" would not
 * be checked at all. The header is therefore read and held to exactly ES256 here before libjwt
 * sees the token, and the claims are read from the verified payload with jansson so their JSON
 * types are checked exactly.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <jwt.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>

#include "pcrgate/common.h"
#include "authz.h"

#define AUTHZ_MAX_PART 4096 /* decoded bytes of the header or the payload */

/* The claims every authorization carries, with their JSON types. */
static const struct {
	const char *name;
	json_type type;
} required_claims[] = {
	{"device", JSON_STRING},  {"ak_name", JSON_STRING},		 {"manifest_digest", JSON_STRING},
	{"release", JSON_STRING}, {"version", JSON_STRING},		 {"security_version", JSON_INTEGER},
	{"attestation_id", JSON_STRING}, {"iat", JSON_INTEGER}, {"exp", JSON_INTEGER},
	{"jti", JSON_STRING},
};

/* Parses a PEM key (private when priv) and requires EC on P-256. */
static int load_p256(const uint8_t *pem, size_t len, int priv, EVP_PKEY **out, pcrgate_errinfo *ei)
{
	int r = PCRGATE_ERR_INVALID_ARGUMENT;
	BIO *bio = NULL;
	EVP_PKEY *pkey = NULL;
	char group[64];
	size_t glen = 0;

	if (pem == NULL || len == 0 || len > AUTHZ_MAX_KEY) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					"the %s key is empty or larger than %d bytes", priv ? "signing" : "public",
					AUTHZ_MAX_KEY);
		goto fail;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	pkey = priv ? PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL) : PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	if (pkey == NULL) {
		pcrgate_log_openssl(__func__, "PEM_read_bio");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "the %s key is not a PEM %s key",
					priv ? "signing" : "public", priv ? "private" : "public");
		goto fail;
	}
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof(group), &glen) != 1 ||
	    strcmp(group, "prime256v1") != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					"the %s key is not an EC P-256 key (ES256 needs one)",
					priv ? "signing" : "public");
		goto fail;
	}
	*out = pkey;
	pkey = NULL;
	r = PCRGATE_OK;
fail:
	EVP_PKEY_free(pkey);
	BIO_free(bio);
	return r;
}

/* code: what a missing or mistyped claim is (a caller's mistake when signing, a refusal when verifying). */
static int check_claim_types(const json_t *claims, int code, pcrgate_errinfo *ei)
{
	size_t i;

	for (i = 0; i < sizeof(required_claims) / sizeof(required_claims[0]); i++) {
		json_t *v = json_object_get(claims, required_claims[i].name);
		if (v == NULL)
			return pcrgate_errinfo_set(ei, code, PCRGATE_NO_OFFSET, "claim \"%s\" is missing",
						   required_claims[i].name);
		if (json_typeof(v) != required_claims[i].type)
			return pcrgate_errinfo_set(ei, code, PCRGATE_NO_OFFSET, "claim \"%s\" is not a%s",
						   required_claims[i].name,
						   required_claims[i].type == JSON_STRING ? " string" : "n integer");
	}
	return PCRGATE_OK;
}

int authz_sign(const uint8_t *key_pem, size_t key_len, const json_t *claims, time_t now, uint32_t ttl,
	       char **token, char jti[AUTHZ_JTI_SIZE], pcrgate_errinfo *ei)
{
	int r = PCRGATE_ERR_INVALID_ARGUMENT;
	EVP_PKEY *pkey = NULL;
	json_t *c = NULL;
	jwt_t *jwt = NULL;
	char *payload = NULL, *out = NULL;
	uint8_t rnd[16];
	char id[AUTHZ_JTI_SIZE];

	if (claims == NULL || !json_is_object(claims) || token == NULL || now <= 0) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "claims must be a JSON object");
		goto fail;
	}
	if (ttl == 0 || ttl > AUTHZ_MAX_TTL) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "authorization lifetime %u s is outside 1..%d",
					ttl, AUTHZ_MAX_TTL);
		goto fail;
	}
	if ((r = load_p256(key_pem, key_len, 1, &pkey, ei)) < 0)
		goto fail;
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		pcrgate_log_openssl(__func__, "RAND_bytes");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "no random bytes for the jti");
		goto fail;
	}
	pcrgate_hex_encode(rnd, sizeof(rnd), id);
	if ((c = json_deep_copy(claims)) == NULL ||
	    json_object_set_new(c, "iat", json_integer((json_int_t)now)) != 0 ||
	    json_object_set_new(c, "exp", json_integer((json_int_t)now + ttl)) != 0 ||
	    json_object_set_new(c, "jti", json_string(id)) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	/* Never sign what authz_verify would refuse. */
	if ((r = check_claim_types(c, PCRGATE_ERR_INVALID_ARGUMENT, ei)) < 0)
		goto fail;
	if ((payload = json_dumps(c, JSON_COMPACT | JSON_SORT_KEYS)) == NULL || jwt_new(&jwt) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if (jwt_add_grants_json(jwt, payload) != 0 ||
	    jwt_set_alg(jwt, JWT_ALG_ES256, key_pem, (int)key_len) != 0 || (out = jwt_encode_str(jwt)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "libjwt could not sign: %s",
					strerror(errno));
		goto fail;
	}
	if (strlen(out) >= AUTHZ_MAX_TOKEN) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"the signed authorization is longer than %d bytes", AUTHZ_MAX_TOKEN);
		goto fail;
	}
	if ((*token = strdup(out)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if (jti != NULL)
		memcpy(jti, id, AUTHZ_JTI_SIZE);
	r = PCRGATE_OK;
fail:
	free(out); /* libjwt allocates with the default allocator */
	free(payload);
	jwt_free(jwt);
	json_decref(c);
	EVP_PKEY_free(pkey);
	return r;
}

/*
 * Decodes the token part of n characters at s (strict, unpadded base64url) into out
 * (AUTHZ_MAX_PART bytes); errors name the part and give the offset in the token.
 */
static int part_bytes(const char *token, const char *s, size_t n, const char *what, uint8_t *out, size_t *len,
		      pcrgate_errinfo *ei)
{
	pcrgate_errinfo sub;
	int r;

	pcrgate_errinfo_clear(&sub);
	if ((r = pcrgate_base64_decode(s, n, PCRGATE_BASE64_URL, out, AUTHZ_MAX_PART, len, &sub)) != 0)
		return pcrgate_errinfo_set(ei, r, sub.has_offset ? (size_t)(s - token) + sub.offset : PCRGATE_NO_OFFSET,
					   "the token's %s %s", what, sub.message);
	return PCRGATE_OK;
}

/* A decoded token part as a JSON object. */
static int part_json(const uint8_t *buf, size_t len, const char *what, json_t **out, pcrgate_errinfo *ei)
{
	json_error_t jerr;
	json_t *j;

	if (memchr(buf, '\0', len) != NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "the token's %s has a NUL byte",
					   what);
	j = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr);
	if (j == NULL || !json_is_object(j)) {
		json_decref(j);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "the token's %s is not a JSON object", what);
	}
	*out = j;
	return PCRGATE_OK;
}

/* Holds the JOSE header to {"alg": "ES256"} with at most "typ": "JWT" beside it. */
static int check_header(const json_t *hdr, pcrgate_errinfo *ei)
{
	const char *key;
	json_t *v;

	v = json_object_get(hdr, "alg");
	if (!json_is_string(v))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "the token names no algorithm");
	if (strcmp(json_string_value(v), "ES256") != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the token's algorithm \"%.32s\" is not ES256", json_string_value(v));
	json_object_foreach((json_t *)hdr, key, v) {
		if (strcmp(key, "alg") == 0)
			continue;
		if (strcmp(key, "typ") == 0 && json_is_string(v) && strcmp(json_string_value(v), "JWT") == 0)
			continue;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the token's header has an unexpected member \"%.32s\"", key);
	}
	return PCRGATE_OK;
}

static int expect_string(const json_t *claims, const char *name, const char *want, pcrgate_errinfo *ei)
{
	const char *have = json_string_value(json_object_get(claims, name));
	size_t hl, wl;

	if (want == NULL)
		return PCRGATE_OK;
	hl = strlen(have);
	wl = strlen(want);
	if (hl != wl || !pcrgate_ct_equal(have, want, wl))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "claim \"%s\" is not the expected value", name);
	return PCRGATE_OK;
}

int authz_verify(const uint8_t *pub_pem, size_t pub_len, const char *token, time_t now,
		 const struct authz_expect *expect, json_t **claims, pcrgate_errinfo *ei)
{
	int r = PCRGATE_ERR_INVALID_ARGUMENT;
	EVP_PKEY *pkey = NULL;
	json_t *hdr = NULL, *c = NULL;
	jwt_t *jwt = NULL;
	uint8_t buf[AUTHZ_MAX_PART], payload[AUTHZ_MAX_PART];
	const char *dot1, *dot2;
	size_t len, plen;
	json_int_t iat, exp;

	if (token == NULL || now <= 0) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no token");
		goto fail;
	}
	if ((len = strnlen(token, AUTHZ_MAX_TOKEN)) >= AUTHZ_MAX_TOKEN) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the token is longer than %d bytes",
					AUTHZ_MAX_TOKEN - 1);
		goto fail;
	}
	if ((dot1 = strchr(token, '.')) == NULL || (dot2 = strchr(dot1 + 1, '.')) == NULL ||
	    strchr(dot2 + 1, '.') != NULL || dot1 == token || dot2 == dot1 + 1) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"the token is not three dot-separated parts");
		goto fail;
	}
	if (dot2[1] == '\0') {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "the token is not signed");
		goto fail;
	}
	if ((r = part_bytes(token, token, (size_t)(dot1 - token), "header", buf, &len, ei)) < 0 ||
	    (r = part_json(buf, len, "header", &hdr, ei)) < 0 || (r = check_header(hdr, ei)) < 0)
		goto fail;
	/* libjwt decodes the payload and the signature more loosely: both are held to strict base64url first. */
	if ((r = part_bytes(token, dot1 + 1, (size_t)(dot2 - dot1 - 1), "payload", payload, &plen, ei)) < 0 ||
	    (r = part_bytes(token, dot2 + 1, strlen(dot2 + 1), "signature", buf, &len, ei)) < 0)
		goto fail;
	if ((r = load_p256(pub_pem, pub_len, 0, &pkey, ei)) < 0)
		goto fail;
	/* libjwt checks the signature (its errno-style result tells nothing more than "bad"). */
	if (jwt_decode(&jwt, token, pub_pem, (int)pub_len) != 0 || jwt == NULL || jwt_get_alg(jwt) != JWT_ALG_ES256) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"the token's signature does not verify with the authorization key");
		goto fail;
	}
	if ((r = part_json(payload, plen, "payload", &c, ei)) < 0 ||
	    (r = check_claim_types(c, PCRGATE_ERR_VERIFY, ei)) < 0)
		goto fail;
	iat = json_integer_value(json_object_get(c, "iat"));
	exp = json_integer_value(json_object_get(c, "exp"));
	r = PCRGATE_ERR_VERIFY;
	if (exp <= (json_int_t)now) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the authorization expired %lld s ago",
					(long long)((json_int_t)now - exp));
		goto fail;
	}
	if (iat > (json_int_t)now + AUTHZ_CLOCK_SKEW) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the authorization is issued %lld s in the future",
					(long long)(iat - (json_int_t)now));
		goto fail;
	}
	if (iat >= exp) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the authorization expires before it is issued");
		goto fail;
	}
	if (expect != NULL && ((r = expect_string(c, "device", expect->device, ei)) < 0 ||
			       (r = expect_string(c, "ak_name", expect->ak_name, ei)) < 0 ||
			       (r = expect_string(c, "manifest_digest", expect->manifest_digest, ei)) < 0 ||
			       (r = expect_string(c, "release", expect->release, ei)) < 0))
		goto fail;
	if (claims != NULL) {
		*claims = c;
		c = NULL;
	}
	r = PCRGATE_OK;
fail:
	jwt_free(jwt);
	json_decref(c);
	json_decref(hdr);
	EVP_PKEY_free(pkey);
	return r;
}

int authz_public_key(const uint8_t *key_pem, size_t key_len, char **pub_pem, size_t *pub_len, pcrgate_errinfo *ei)
{
	int r;
	EVP_PKEY *pkey = NULL;
	BIO *bio = NULL;
	char *data, *out = NULL;
	long n;

	if (pub_pem == NULL || pub_len == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no output");
		goto fail;
	}
	if ((r = load_p256(key_pem, key_len, 1, &pkey, ei)) < 0)
		goto fail;
	if ((bio = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_PUBKEY(bio, pkey) != 1 ||
	    (n = BIO_get_mem_data(bio, &data)) <= 0) {
		pcrgate_log_openssl(__func__, "PEM_write_bio_PUBKEY");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot write the public key");
		goto fail;
	}
	if ((out = malloc((size_t)n + 1)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*pub_pem = out;
	*pub_len = (size_t)n;
	r = PCRGATE_OK;
fail:
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return r;
}
