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
#include "verifier/vconfig.h"

struct api_ctx;

extern const struct vroute api_routes[];
extern const size_t api_route_count;

/*
 * Opens the store (running its migrations) and loads what the configuration names: EK CAs,
 * the JWS key, the vendor policy key. Something named but unreadable is an error; something
 * not configured disables what needs it (enrollment refuses without CAs when an EK
 * certificate is required; no authorization is issued without a JWS key).
 */
int api_ctx_new(const struct vconfig *cfg, struct api_ctx **out, pcrgate_errinfo *ei);
void api_ctx_free(struct api_ctx **ctx);

/* vhttp callbacks: app is the api_ctx. */
int api_admin_authenticate(void *app, const char *token);
/* vhttp_opts.device_auth: the chain is the device CA's certificate for device_id's enrolled TLS key. */
int api_device_auth(void *app, const char *device_id, const uint8_t *const *certs, const size_t *lens, size_t n,
		    char *why, size_t cap);
/* The device CA certificate (PEM) for the TLS server's client trust list; NULL when off. */
const char *api_device_ca_pem(const struct api_ctx *ctx);
int api_healthy(void *app);

/* Admin tokens: a new random token (printed once by the caller; only its SHA-256 is stored). */
#define API_TOKEN_SIZE 65 /* 64 hex characters and a NUL */
int api_token_create(struct api_ctx *ctx, const char *name, char *token, size_t cap, pcrgate_errinfo *ei);
int api_token_revoke(struct api_ctx *ctx, const char *name, pcrgate_errinfo *ei);
int api_token_list(struct api_ctx *ctx, FILE *out, pcrgate_errinfo *ei);

#endif
