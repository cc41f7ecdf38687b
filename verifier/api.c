/*
 * pcrgate-verifierd: the REST API's context, its route table, admin tokens, and the helpers the
 * handlers share (request members, the device record, audit entries).
 */
#include "config.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/rand.h>

#include "attest/jsonutil.h"
#include "attest/tpmobj.h"
#include "verifier/api_internal.h"
#include "verifier/audit.h"

/* Bodies: enrollment carries two public areas, a certificate and a certification. */
#define ENROLL_MAX_BODY (64u * 1024)
#define SMALL_MAX_BODY (4u * 1024)
#define POLICY_MAX_BODY (4u * 1024 * 1024)

const struct vroute api_routes[] = {
	{"POST", "/v1/enroll", api_enroll, VROUTE_JSON, ENROLL_MAX_BODY},
	{"POST", "/v1/enroll/activate", api_enroll_activate, VROUTE_JSON, SMALL_MAX_BODY},
	{"POST", "/v1/attest/nonce", api_nonce, VROUTE_JSON | VROUTE_DEVICE, SMALL_MAX_BODY},
	{"POST", "/v1/attest", api_attest, VROUTE_JSON | VROUTE_DEVICE, 0},
	{"GET", "/v1/admin/devices", api_admin_devices, VROUTE_ADMIN, 0},
	{"POST", "/v1/admin/devices/import", api_admin_import, VROUTE_ADMIN | VROUTE_JSON, ENROLL_MAX_BODY},
	{"GET", "/v1/admin/devices/{}", api_admin_device, VROUTE_ADMIN, 0},
	{"POST", "/v1/admin/devices/{}/revoke", api_admin_revoke, VROUTE_ADMIN, SMALL_MAX_BODY},
	{"POST", "/v1/admin/devices/{}/allow-reenroll", api_admin_allow_reenroll, VROUTE_ADMIN, SMALL_MAX_BODY},
	{"PUT", "/v1/admin/devices/{}/group", api_admin_group, VROUTE_ADMIN | VROUTE_JSON, SMALL_MAX_BODY},
	{"GET", "/v1/admin/policies", api_admin_policies, VROUTE_ADMIN, 0},
	{"GET", "/v1/admin/policies/{}", api_admin_policy_get, VROUTE_ADMIN, 0},
	{"PUT", "/v1/admin/policies/{}", api_admin_policy_put, VROUTE_ADMIN, POLICY_MAX_BODY},
	{"GET", "/v1/admin/releases", api_admin_releases, VROUTE_ADMIN, 0},
	{"PUT", "/v1/admin/releases/{}", api_admin_release_put, VROUTE_ADMIN | VROUTE_JSON, SMALL_MAX_BODY},
	{"GET", "/v1/admin/rollouts", api_admin_rollouts, VROUTE_ADMIN, 0},
	{"POST", "/v1/admin/rollouts", api_admin_rollout_post, VROUTE_ADMIN | VROUTE_JSON, SMALL_MAX_BODY},
	{"GET", "/v1/admin/attestations", api_admin_attestations, VROUTE_ADMIN, 0},
	{"GET", "/v1/admin/audit", api_admin_audit, VROUTE_ADMIN, 0},
	/* Release bundles (bundle_dir): signed and encrypted, so served without authentication. */
	{"GET", "/v1/bundles/{}", api_bundle, 0, SMALL_MAX_BODY},
	{"HEAD", "/v1/bundles/{}", api_bundle, 0, SMALL_MAX_BODY},
};
const size_t api_route_count = sizeof(api_routes) / sizeof(api_routes[0]);

int api_ctx_new(const struct vconfig *cfg, struct api_ctx **out, pcrgate_errinfo *ei)
{
	struct api_ctx *ctx = calloc(1, sizeof(*ctx));
	TPM2B_PUBLIC pub;
	EVP_PKEY *key = NULL;
	int r = PCRGATE_ERR_NOMEM;

	if (ctx == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "out of memory");
	ctx->cfg = *cfg;
	if ((r = vstore_open(cfg->database, &ctx->store, ei)) != PCRGATE_OK)
		goto fail;
	if ((r = api_nonce_key_load(ctx, ei)) != PCRGATE_OK)
		goto fail;
	if (cfg->ek_ca[0] != '\0' && (r = ekcert_trust_load(cfg->ek_ca, &ctx->trust, ei)) != PCRGATE_OK)
		goto fail;
	if (cfg->jws_key[0] != '\0' &&
	    (r = pcrgate_file_read(cfg->jws_key, 64 * 1024, &ctx->jws_key, &ctx->jws_key_len, ei)) != PCRGATE_OK)
		goto fail;
	if (cfg->policy_key[0] != '\0') {
		if ((r = pcrgate_key_load(cfg->policy_key, 0, &key, ei)) != PCRGATE_OK ||
		    (r = tpmobj_from_evp(key, &pub, ei)) != PCRGATE_OK)
			goto fail;
		if (tpmobj_name(&pub.publicArea, &ctx->policy_key_name) != 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "policy_key: cannot name it");
			goto fail;
		}
		ctx->have_policy_key = 1;
	}
	if (cfg->device_client_certs &&
	    (r = devcert_ca_load(cfg->device_ca_cert, cfg->device_ca_key, &ctx->device_ca, ei)) != PCRGATE_OK)
		goto fail;
	if (cfg->bundle_dir[0] != '\0' && (r = api_bundle_dir_check(cfg->bundle_dir, ei)) != PCRGATE_OK)
		goto fail;
	EVP_PKEY_free(key);
	*out = ctx;
	return PCRGATE_OK;
fail:
	EVP_PKEY_free(key);
	api_ctx_free(&ctx);
	return r;
}

void api_ctx_free(struct api_ctx **ctx)
{
	if (ctx == NULL || *ctx == NULL)
		return;
	vstore_close(&(*ctx)->store);
	ekcert_trust_free(&(*ctx)->trust);
	devcert_ca_free(&(*ctx)->device_ca);
	if ((*ctx)->jws_key != NULL)
		OPENSSL_clear_free((*ctx)->jws_key, (*ctx)->jws_key_len);
	OPENSSL_cleanse((*ctx)->nonce_key, sizeof((*ctx)->nonce_key));
	free(*ctx);
	*ctx = NULL;
}

/* ---- Helpers ---- */

int api_new_id(char out[API_ID_HEX])
{
	uint8_t b[16];
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	pcrgate_store_be(b, (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u, API_ID_TIME);
	if (RAND_bytes(b + API_ID_TIME, sizeof(b) - API_ID_TIME) != 1)
		return PCRGATE_ERR_CRYPTO;
	pcrgate_hex_encode(b, sizeof(b), out);
	return PCRGATE_OK;
}

void api_sha256_hex(const void *buf, size_t len, char out[65])
{
	uint8_t d[32];
	unsigned n = 0;

	EVP_Digest(buf, len, d, &n, EVP_sha256(), NULL);
	pcrgate_hex_encode(d, sizeof(d), out);
}

static int plain_text(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return 0;
	return 1;
}

int api_req_string(struct vresp *resp, const json_t *obj, const char *key, size_t cap, int optional,
		   const char **out)
{
	const json_t *v = json_object_get(obj, key);
	const char *s;

	*out = NULL;
	if (v == NULL || json_is_null(v) || (optional && json_is_string(v) && json_string_length(v) == 0)) {
		if (optional)
			return 0;
		vresp_error(resp, 400, "request", "member %s is missing", key);
		return 1;
	}
	if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > cap ||
	    strlen(s = json_string_value(v)) != json_string_length(v) || !plain_text(s)) {
		vresp_error(resp, 400, "request", "member %s must be a non-empty string of at most %zu bytes "
			    "without control characters", key, cap);
		return 1;
	}
	*out = s;
	return 0;
}

int api_req_b64(struct vresp *resp, const json_t *obj, const char *key, uint8_t *buf, size_t cap, int optional,
		size_t *len)
{
	pcrgate_errinfo ei;

	*len = 0;
	if (optional && (json_object_get(obj, key) == NULL || json_is_null(json_object_get(obj, key))))
		return 0;
	pcrgate_errinfo_clear(&ei);
	if (jsonutil_get_b64(obj, "request", key, buf, cap, len, &ei) != PCRGATE_OK) {
		vresp_error(resp, 400, "request", "%s", ei.message);
		return 1;
	}
	return 0;
}

int api_req_int(struct vresp *resp, const json_t *obj, const char *key, int64_t min, int64_t max, int optional,
		int64_t *out)
{
	const json_t *v = json_object_get(obj, key);

	if (v == NULL && optional)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		vresp_error(resp, 400, "request", "member %s must be an integer from %lld to %lld", key,
			    (long long)min, (long long)max);
		return 1;
	}
	*out = json_integer_value(v);
	return 0;
}

int api_fail(struct vresp *resp, const char *what, int r, const pcrgate_errinfo *ei)
{
	if (r == PCRGATE_ERR_FORMAT || r == PCRGATE_ERR_LIMIT || r == PCRGATE_ERR_UNSUPPORTED ||
	    r == PCRGATE_ERR_INVALID_ARGUMENT)
		return vresp_error(resp, r == PCRGATE_ERR_LIMIT ? 413 : 400, what, "%s: %s", what,
				   ei != NULL && ei->message[0] != '\0' ? ei->message : pcrgate_strerror(r));
	pg_err("%s: %s", what, ei != NULL ? ei->message : pcrgate_strerror(r));
	return vresp_error(resp, 500, "internal", "internal error");
}

int api_audit(vstore_tx *tx, const char *actor, const char *action, const char *subject, json_t *detail,
	      pcrgate_errinfo *ei)
{
	int r = audit_append(tx, actor, action, subject, detail, ei);

	json_decref(detail);
	return r;
}

int api_count_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	(void)cols;
	(void)ncols;
	(void)ei;
	(*(long *)arg)++;
	return 0;
}

int api_text_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	char **text = arg;

	if (ncols != 1 || cols[0].type != VP_TEXT || *text != NULL)
		return 0;
	if ((*text = vcol_strdup(&cols[0])) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	return 0;
}

int api_text_buf_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct api_text_buf *b = arg;

	(void)ei;
	if (ncols == 1 && !b->found) {
		b->found = 1;
		vcol_text(&cols[0], b->out, b->cap);
	}
	return 0;
}

/* ---- Keys a device enrolls ---- */

/* The AK attributes DESIGN.md requires: a restricted signing key that never left its TPM. */
#define AK_REQUIRED                                                                                            \
	(TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |  \
	 TPMA_OBJECT_SENSITIVEDATAORIGIN)
/* An EK is a restricted decryption key, fixed to its TPM. */
#define EK_REQUIRED (TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT | TPMA_OBJECT_FIXEDTPM)

const char *api_ak_unacceptable(const TPMT_PUBLIC *ak)
{
	if ((ak->objectAttributes & AK_REQUIRED) != AK_REQUIRED)
		return "the AK must be restricted, sign, fixedTPM, fixedParent and sensitiveDataOrigin";
	if (ak->objectAttributes & TPMA_OBJECT_DECRYPT)
		return "the AK must not be a decryption key";
	if (ak->nameAlg != TPM2_ALG_SHA256 && ak->nameAlg != TPM2_ALG_SHA384 && ak->nameAlg != TPM2_ALG_SHA512)
		return "the AK's name algorithm must be SHA-256 or stronger";
	if (ak->type == TPM2_ALG_ECC) {
		uint16_t c = ak->parameters.eccDetail.curveID;

		return c == TPM2_ECC_NIST_P256 || c == TPM2_ECC_NIST_P384 ? NULL : "the AK's curve is not P-256 or P-384";
	}
	if (ak->type == TPM2_ALG_RSA)
		return ak->parameters.rsaDetail.keyBits >= 2048 ? NULL : "an RSA AK must have at least 2048 bits";
	return "the AK must be an RSA or ECC key";
}

const char *api_ek_unacceptable(const TPMT_PUBLIC *ek)
{
	if ((ek->objectAttributes & EK_REQUIRED) != EK_REQUIRED || (ek->type != TPM2_ALG_RSA && ek->type != TPM2_ALG_ECC))
		return "the EK must be a restricted RSA or ECC decryption key, fixedTPM";
	return NULL;
}

/* ---- The device record ---- */

int api_device_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct api_device *d = arg;

	if (ncols != 14)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "devices: %zu columns", ncols);
	memset(d, 0, sizeof(*d));
	d->found = 1;
	vcol_text(&cols[0], d->id, sizeof(d->id));
	vcol_text(&cols[1], d->state, sizeof(d->state));
	vcol_text(&cols[2], d->grp, sizeof(d->grp));
	vcol_text(&cols[3], d->policy, sizeof(d->policy));
	vcol_text(&cols[4], d->release, sizeof(d->release));
	d->ak_public_len = vcol_blob(&cols[5], d->ak_public, sizeof(d->ak_public));
	vcol_text(&cols[6], d->ak_name, sizeof(d->ak_name));
	vcol_text(&cols[7], d->ak_qualified_name, sizeof(d->ak_qualified_name));
	d->update_key_public_len = vcol_blob(&cols[8], d->update_key_public, sizeof(d->update_key_public));
	d->have_clock = cols[9].type != VP_NULL;
	d->clock.clock = (uint64_t)vcol_int(&cols[9], 0);
	d->clock.reset_count = (uint32_t)vcol_int(&cols[10], 0);
	d->clock.restart_count = (uint32_t)vcol_int(&cols[11], 0);
	d->security_version = vcol_int(&cols[12], -1);
	d->allow_reenroll = vcol_int(&cols[13], 0) != 0;
	return 0;
}

int api_device_load(vstore_tx *tx, const char *id, struct api_device *dev, pcrgate_errinfo *ei)
{
	struct vparam p = VPARAM_TEXT(id);

	memset(dev, 0, sizeof(*dev));
	return vstore_exec(tx, "SELECT " API_DEVICE_COLUMNS " FROM devices WHERE id = ?", &p, 1, api_device_row, dev,
			   NULL, ei);
}

/* ---- Admin tokens ---- */

_Static_assert(VHTTP_MAX_ACTOR >= sizeof("admin:") + API_MAX_NAME, "an admin's actor name must fit vreq.actor");

struct token_lookup {
	const char *hash;
	char name[API_MAX_NAME + 1];
	int found;
};

static int token_name_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct token_lookup *t = arg;

	(void)ei;
	if (ncols == 1 && vcol_text(&cols[0], t->name, sizeof(t->name)) == 0)
		t->found = 1;
	return 0;
}

static int token_lookup_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct token_lookup *t = arg;
	struct vparam p = VPARAM_TEXT(t->hash);

	t->found = 0;
	return vstore_exec(tx, "SELECT name FROM admin_tokens WHERE token_hash = ? AND revoked = 0", &p, 1,
			   token_name_row, t, NULL, ei);
}

/* The active token's name into t; PCRGATE_ERR_VERIFY when there is none, PCRGATE_ERR_IO when the store failed. */
static int token_find(struct api_ctx *ctx, const char *token, struct token_lookup *t)
{
	char hash[65];
	pcrgate_errinfo ei;
	size_t len = token != NULL ? strlen(token) : 0;

	memset(t, 0, sizeof(*t));
	if (len == 0 || len > VHTTP_MAX_TOKEN)
		return PCRGATE_ERR_VERIFY;
	api_sha256_hex(token, len, hash);
	t->hash = hash;
	pcrgate_errinfo_clear(&ei);
	if (vstore_run_read(ctx->store, token_lookup_tx, t, &ei) != PCRGATE_OK) {
		pg_err("admin token lookup: %s", ei.message);
		return PCRGATE_ERR_IO;
	}
	t->hash = NULL;
	return t->found ? PCRGATE_OK : PCRGATE_ERR_VERIFY;
}

int api_admin_authenticate(void *app, const char *token, char *actor, size_t cap)
{
	struct token_lookup t;
	int r = token_find(app, token, &t);

	if (r != PCRGATE_OK)
		return r;
	/* Names fit (token_name_ok at creation, and the assertion above); one that did not is refused, not cut. */
	if ((size_t)snprintf(actor, cap, "admin:%s", t.name) >= cap)
		return PCRGATE_ERR_LIMIT;
	return PCRGATE_OK;
}

static int healthy_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	return vstore_exec(tx, "SELECT 1", NULL, 0, NULL, NULL, NULL, ei);
}

int api_healthy(void *app)
{
	struct api_ctx *ctx = app;
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	return vstore_run_read(ctx->store, healthy_tx, NULL, &ei);
}

struct token_op {
	const char *name, *hash, *id;
	FILE *out;
	long changes;
};

static int token_create_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct token_op *op = arg;
	struct vparam p[4] = {VPARAM_TEXT(op->id), VPARAM_TEXT(op->name), VPARAM_TEXT(op->hash),
			      VPARAM_INT(time(NULL))};
	struct vparam n = VPARAM_TEXT(op->name);
	long have = 0;
	int r;

	if ((r = audit_lock(tx, ei)) != PCRGATE_OK ||
	    (r = vstore_exec(tx, "SELECT 1 FROM admin_tokens WHERE name = ? AND revoked = 0", &n, 1, api_count_row,
			     &have, NULL, ei)) != PCRGATE_OK)
		return r;
	if (have > 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "a token named %s exists; revoke it first", op->name);
	if ((r = vstore_exec(tx, "INSERT INTO admin_tokens (id, name, token_hash, created_at, revoked) "
				 "VALUES (?, ?, ?, ?, 0)", p, 4, NULL, NULL, NULL, ei)) != PCRGATE_OK)
		return r;
	return api_audit(tx, "operator", "token-create", op->name, NULL, ei);
}

static int token_name_ok(const char *name, pcrgate_errinfo *ei)
{
	size_t i, n = name != NULL ? strlen(name) : 0;

	for (i = 0; i < n; i++)
		if (!isalnum((unsigned char)name[i]) && strchr("-_.@", name[i]) == NULL)
			break;
	if (n == 0 || n > API_MAX_NAME || i != n)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "a token name is 1 to %d letters, digits, '-', '_', '.' or '@'",
					   API_MAX_NAME);
	return PCRGATE_OK;
}

int api_token_create(vstore *store, const char *name, char *token, size_t cap, pcrgate_errinfo *ei)
{
	uint8_t raw[32];
	char hex[65], hash[65], id[API_ID_HEX];
	struct token_op op = {name, hash, id, NULL, 0};
	int r;

	if ((r = token_name_ok(name, ei)) != PCRGATE_OK)
		return r;
	if (cap < API_TOKEN_SIZE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "token buffer too small");
	if (RAND_bytes(raw, sizeof(raw)) != 1 || api_new_id(id) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "no random bytes");
	pcrgate_hex_encode(raw, sizeof(raw), hex);
	OPENSSL_cleanse(raw, sizeof(raw));
	api_sha256_hex(hex, 64, hash);
	if ((r = vstore_run(store, token_create_tx, &op, ei)) == PCRGATE_OK)
		memcpy(token, hex, API_TOKEN_SIZE);
	OPENSSL_cleanse(hex, sizeof(hex));
	return r;
}

static int token_revoke_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct token_op *op = arg;
	struct vparam n = VPARAM_TEXT(op->name);
	int r;

	if ((r = audit_lock(tx, ei)) != PCRGATE_OK ||
	    (r = vstore_exec(tx, "UPDATE admin_tokens SET revoked = 1 WHERE name = ? AND revoked = 0", &n, 1, NULL,
			     NULL, &op->changes, ei)) != PCRGATE_OK)
		return r;
	if (op->changes == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET, "no active token named %s",
					   op->name);
	return api_audit(tx, "operator", "token-revoke", op->name, NULL, ei);
}

int api_token_revoke(vstore *store, const char *name, pcrgate_errinfo *ei)
{
	struct token_op op = {name, NULL, NULL, NULL, 0};
	int r;

	if ((r = token_name_ok(name, ei)) != PCRGATE_OK)
		return r;
	return vstore_run(store, token_revoke_tx, &op, ei);
}

static int token_list_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct token_op *op = arg;

	(void)ei;
	if (ncols == 3)
		fprintf(op->out, "%-32s %-8s %lld\n", cols[0].type == VP_TEXT ? cols[0].text : "?",
			vcol_int(&cols[1], 0) ? "revoked" : "active", (long long)vcol_int(&cols[2], 0));
	return 0;
}

static int token_list_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	return vstore_exec(tx, "SELECT name, revoked, created_at FROM admin_tokens ORDER BY created_at, name", NULL,
			   0, token_list_row, arg, NULL, ei);
}

int api_token_list(vstore *store, FILE *out, pcrgate_errinfo *ei)
{
	struct token_op op = {NULL, NULL, NULL, out, 0};

	fprintf(out, "%-32s %-8s %s\n", "NAME", "STATE", "CREATED");
	return vstore_run_read(store, token_list_tx, &op, ei);
}
