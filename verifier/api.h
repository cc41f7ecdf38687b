/*
 * pcrgate-verifierd: the REST API (/v1, docs/openapi.yaml) that the HTTP framework serves. The
 * daemon makes one context from its configuration (the store, the trusted EK CAs, the
 * authorization signing key, the vendor policy key) and hands it to the framework as `app`.
 */
#ifndef PCRGATE_VERIFIER_API_H
#define PCRGATE_VERIFIER_API_H

#include <stddef.h>
#include <stdio.h>

#include "pcrgate/common.h"
#include "verifier/http.h"
#include "verifier/store.h"
#include "verifier/vconfig.h"

struct api_ctx;

extern const struct vroute api_routes[];
extern const size_t api_route_count;

/* Limits of the admin API that `pcrgate admin` applies too, so it refuses early by the same rule. */
#define API_LIST_MAX 1000           /* rows of one list answer (?limit=), audit log pages included */
#define API_MANIFEST_DIGEST_SIZE 32 /* a release's manifest digest: SHA-256 */

/*
 * Opens the store (running its migrations) and loads what the configuration names: EK CAs,
 * the JWS key, the vendor policy key. Something named but unreadable is an error; something
 * not configured disables what needs it (enrollment refuses without CAs when an EK
 * certificate is required; no authorization is issued without a JWS key).
 */
int api_ctx_new(const struct vconfig *cfg, struct api_ctx **out, pcrgate_errinfo *ei);
void api_ctx_free(struct api_ctx **ctx);

/* vhttp callbacks: app is the api_ctx. */
/* vhttp_opts.admin_auth: actor gets "admin:NAME", the token's name, for the audit trail. */
int api_admin_authenticate(void *app, const char *token, char *actor, size_t cap);
/*
 * vhttp_opts.device_auth: the chain is the device CA's certificate for device_id's enrolled TLS
 * key; the key identity is the SHA-256 of its SubjectPublicKeyInfo (as devices.tls_spki).
 */
int api_device_auth(void *app, const char *device_id, const uint8_t *const *certs, const size_t *lens, size_t n,
		    const char *verified, char key_out[VHTTP_KEY_ID], char *why, size_t cap);
/* The device CA certificate (PEM) for the TLS server's client trust list; NULL when off. */
const char *api_device_ca_pem(const struct api_ctx *ctx);
int api_healthy(void *app);

/*
 * Admin tokens, on the store alone (no other part of the context is needed): a new random
 * token (printed once by the caller; only its SHA-256 is stored), revocation, the list.
 */
#define API_TOKEN_SIZE 65 /* 64 hex characters and a NUL */
int api_token_create(vstore *store, const char *name, char *token, size_t cap, pcrgate_errinfo *ei);
int api_token_revoke(vstore *store, const char *name, pcrgate_errinfo *ei);
int api_token_list(vstore *store, FILE *out, pcrgate_errinfo *ei);

#endif
