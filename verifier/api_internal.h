/*
 * pcrgate-verifierd (internal): what the REST handlers share: the context, the device record,
 * request-member readers that answer 400 naming the member, and audit helpers.
 */
#ifndef PCRGATE_VERIFIER_API_INTERNAL_H
#define PCRGATE_VERIFIER_API_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <jansson.h>
#include <tss2/tss2_tpm2_types.h>

#include "pcrgate/quote.h"
#include "verifier/api.h"
#include "verifier/devcert.h"
#include "verifier/ekcert.h"
#include "verifier/store.h"

struct api_ctx {
	struct vconfig cfg;
	vstore *store;
	ekcert_trust *trust; /* NULL when no ek_ca is configured */
	uint8_t *jws_key;    /* PEM, NULL when none is configured: no authorizations */
	size_t jws_key_len;
	int have_policy_key;
	TPM2B_NAME policy_key_name; /* the vendor policy key, for the update key's authPolicy */
	devcert_ca *device_ca;      /* NULL when device client certificates are off */
	uint8_t nonce_key[32];      /* the store's key for attestation nonces (api_nonce_key_load) */
};

#define API_ID_HEX 33	  /* an id of 16 bytes in hex and a NUL (api_new_id) */
#define API_ID_TIME 6	  /* its first bytes: the time of its making */
#define API_MAX_NAME 128  /* device ids, group, policy and release names */
#define API_MAX_TEXT 1024 /* free text: reasons, URLs */

/* A device as stored: fixed buffers (blobs are copies), nothing to free. */
struct api_device {
	int found;
	char id[API_MAX_NAME + 1];
	char state[16];
	char grp[API_MAX_NAME + 1];
	char policy[API_MAX_NAME + 1];
	char release[API_MAX_NAME + 1];
	uint8_t ak_public[sizeof(TPM2B_PUBLIC)];
	size_t ak_public_len;
	char ak_name[2 * sizeof(TPMU_NAME) + 4];
	char ak_qualified_name[2 * sizeof(TPMU_NAME) + 4];
	uint8_t update_key_public[sizeof(TPM2B_PUBLIC)];
	size_t update_key_public_len;
	int have_clock;
	pcrgate_clock_state clock;
	int64_t security_version;
	int allow_reenroll;
};

/* The columns api_device_row reads, in its order, for "SELECT " API_DEVICE_COLUMNS " FROM devices ...". */
#define API_DEVICE_COLUMNS                                                                                     \
	"id, state, grp, policy, release, ak_public, ak_name, ak_qualified_name, update_key_public, clock, "   \
	"reset_count, restart_count, security_version, allow_reenroll"
/* A vstore_rowfn filling the struct api_device that arg points to. */
int api_device_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei);
/* Loads the device with id (dev->found says whether it exists). */
int api_device_load(vstore_tx *tx, const char *id, struct api_device *dev, pcrgate_errinfo *ei);

/*
 * Issues the device's TLS client certificate for its certified TLS key (TPM2B_PUBLIC bytes),
 * records the key as the device's (tls_key_public, tls_spki) and audits it; *pem (malloc'd)
 * gets the certificate.
 */
int api_device_tls_issue(struct api_ctx *ctx, vstore_tx *tx, const char *device_id, const uint8_t *tpm_public,
			 size_t len, char **pem, pcrgate_errinfo *ei);

/* A vstore_rowfn counting rows into the long that arg points to. */
int api_count_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei);
/* A vstore_rowfn keeping the first row's one text column, malloc'd, in the char * that arg points to. */
int api_text_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei);
/*
 * A vstore_rowfn keeping the first row's one text column in a caller's buffer: arg points to a
 * struct api_text_buf; found says a row came, out is "" when its text did not fit (vcol_text).
 */
struct api_text_buf {
	char *out;
	size_t cap;
	int found;
};
int api_text_buf_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei);

/*
 * A new row id: 16 bytes as hex, the first API_ID_TIME the milliseconds since the epoch
 * (big-endian), the other 10 random. Ids made later sort later, so a table's index on them
 * grows at its end instead of at a random page (a write of one page less per row, and pages
 * that stay cached); 80 random bits keep them unique and unguessable.
 */
int api_new_id(char out[API_ID_HEX]);
/* SHA-256 of buf as 64 hex digits. */
void api_sha256_hex(const void *buf, size_t len, char out[65]);

/*
 * Request members. Each answers 400 through resp (returning 1) when the member is missing
 * (unless optional), of another type, longer than cap or badly encoded; 0 when it was read.
 * Strings must be non-empty, without control characters.
 */
int api_req_string(struct vresp *resp, const json_t *obj, const char *key, size_t cap, int optional,
		   const char **out);
int api_req_b64(struct vresp *resp, const json_t *obj, const char *key, uint8_t *buf, size_t cap, int optional,
		size_t *len);
int api_req_int(struct vresp *resp, const json_t *obj, const char *key, int64_t min, int64_t max, int optional,
		int64_t *out);

/* Maps a failed library call to a response: 400 for bad input (naming it), 500 otherwise. Returns 0. */
int api_fail(struct vresp *resp, const char *what, int r, const pcrgate_errinfo *ei);

/* Appends an audit entry; detail is stolen (may be NULL). */
int api_audit(vstore_tx *tx, const char *actor, const char *action, const char *subject, json_t *detail,
	      pcrgate_errinfo *ei);

/* The handlers, by file. */
int api_enroll(struct vreq *req, struct vresp *resp);
int api_enroll_activate(struct vreq *req, struct vresp *resp);
int api_nonce(struct vreq *req, struct vresp *resp);
int api_attest(struct vreq *req, struct vresp *resp);
int api_admin_devices(struct vreq *req, struct vresp *resp);
int api_admin_device(struct vreq *req, struct vresp *resp);
int api_admin_revoke(struct vreq *req, struct vresp *resp);
int api_admin_allow_reenroll(struct vreq *req, struct vresp *resp);
int api_admin_group(struct vreq *req, struct vresp *resp);
int api_admin_import(struct vreq *req, struct vresp *resp);
int api_admin_policy_put(struct vreq *req, struct vresp *resp);
int api_admin_policy_get(struct vreq *req, struct vresp *resp);
int api_admin_policies(struct vreq *req, struct vresp *resp);
int api_admin_release_put(struct vreq *req, struct vresp *resp);
int api_admin_releases(struct vreq *req, struct vresp *resp);
int api_admin_rollout_post(struct vreq *req, struct vresp *resp);
int api_admin_rollouts(struct vreq *req, struct vresp *resp);
int api_admin_attestations(struct vreq *req, struct vresp *resp);
int api_admin_audit(struct vreq *req, struct vresp *resp);
int api_bundle(struct vreq *req, struct vresp *resp);

/*
 * The store's attestation nonce key into ctx->nonce_key: made (random) by the first verifier to
 * open the store, so every verifier of one store checks the nonces any of them issued.
 */
int api_nonce_key_load(struct api_ctx *ctx, pcrgate_errinfo *ei);

/* PCRGATE_ERR_CONFIG naming bundle_dir when dir cannot be opened as a directory. */
int api_bundle_dir_check(const char *dir, pcrgate_errinfo *ei);

/*
 * Why a public area is not acceptable as an AK (DESIGN.md: a restricted signing key that never
 * left its TPM, of a strong enough algorithm) or as an EK (a restricted RSA or ECC decryption
 * key, fixedTPM); NULL when it is. Enrollment and the operator's import check the same.
 */
const char *api_ak_unacceptable(const TPMT_PUBLIC *ak);
const char *api_ek_unacceptable(const TPMT_PUBLIC *ek);

#endif
