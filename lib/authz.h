/*
 * pcrgate (library-internal): signed update authorizations, a JWS (compact JWT) with ES256.
 *
 * The verifier signs one per device, release and attestation; the agent checks it before it
 * installs anything. Claims: device, ak_name, manifest_digest, release, version (strings),
 * security_version (integer), attestation_id (string), and iat, exp, jti set by authz_sign.
 * Verification accepts ES256 only (never "none" or an HMAC algorithm keyed with the public key),
 * and refuses an expired token, one issued in the future beyond AUTHZ_CLOCK_SKEW, a missing or
 * mistyped claim, and a claim that differs from what the caller expects.
 */
#ifndef PCRGATE_AUTHZ_H
#define PCRGATE_AUTHZ_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>

#include "pcrgate/common.h"

#define AUTHZ_MAX_TOKEN 8192      /* bytes of a token */
#define AUTHZ_MAX_KEY 16384       /* bytes of a PEM key */
#define AUTHZ_CLOCK_SKEW 60       /* seconds an "iat" may lie in the future */
#define AUTHZ_MAX_TTL (7 * 86400) /* seconds */
#define AUTHZ_JTI_SIZE 33         /* 32 hex characters + NUL */

/*
 * Signs claims (a JSON object, borrowed; its own iat/exp/jti are replaced) with the ES256 private
 * key in key_pem (PEM, key_len bytes, P-256): iat = now, exp = now + ttl (1..AUTHZ_MAX_TTL), jti =
 * 16 random bytes in hex, also copied to jti when it is not NULL. *token (malloc'd) only on success.
 */
int authz_sign(const uint8_t *key_pem, size_t key_len, const json_t *claims, time_t now, uint32_t ttl,
	       char **token, char jti[AUTHZ_JTI_SIZE], pcrgate_errinfo *ei);

/* What a verifier of a token expects; NULL members are not compared (presence is always required). */
struct authz_expect {
	const char *device;
	const char *ak_name;
	const char *manifest_digest;
	const char *release;
};

/*
 * Checks token against the P-256 public key in pub_pem at time now, then the claims: all present
 * with the right types, exp > now, iat <= now + AUTHZ_CLOCK_SKEW, iat < exp, and the expected
 * values (expect may be NULL). On success *claims (when non-NULL) gets a new reference to the
 * whole claim set. Any refusal: PCRGATE_ERR_VERIFY with a message naming the check
 * (malformed tokens: PCRGATE_ERR_FORMAT; oversize: PCRGATE_ERR_LIMIT).
 */
int authz_verify(const uint8_t *pub_pem, size_t pub_len, const char *token, time_t now,
		 const struct authz_expect *expect, json_t **claims, pcrgate_errinfo *ei);

/* The public key (PEM SubjectPublicKeyInfo, malloc'd, NUL-terminated) of an ES256 private key PEM. */
int authz_public_key(const uint8_t *key_pem, size_t key_len, char **pub_pem, size_t *pub_len,
		     pcrgate_errinfo *ei);

#endif
