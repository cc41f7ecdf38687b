/*
 * pcrgate-verifierd: enrollment (docs/enrollment.md). POST /v1/enroll checks the EK certificate
 * chain and that it certifies the EK sent, the AK's attributes, and the AK's certification of
 * the update key with its authPolicy; then it protects a secret to the EK and the AK's name
 * (MakeCredential). POST /v1/enroll/activate takes the secret back: only the TPM holding both
 * keys could recover it, so the device becomes active only then.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "attest/certify.h"
#include "attest/jsonutil.h"
#include "attest/tpmobj.h"
#include "verifier/api_internal.h"
#include "verifier/audit.h"
#include "verifier/credential.h"

#define ACTIVATION_SECRET 32
#define EK_CERT_MAX 16384

struct enroll_op {
	struct api_ctx *ctx;
	const char *device_id, *ek_digest, *ak_name, *ak_qn, *group, *enrollment_id, *secret_hash, *defects;
	const uint8_t *ek_public, *ek_cert, *ak_public, *uk_public, *tls_public;
	size_t ek_public_len, ek_cert_len, ak_public_len, uk_public_len, tls_public_len;
	/* out */
	int refused; /* 409: known EK, other AK; 403: revoked */
	char why[160];
};

static int enroll_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct enroll_op *op = arg;
	struct api_device dev;
	int64_t now = time(NULL);
	json_t *detail;
	int r;

	op->refused = 0;
	if ((r = audit_lock(tx, ei)) != PCRGATE_OK || (r = api_device_load(tx, op->device_id, &dev, ei)) != PCRGATE_OK)
		return r;
	if (dev.found && strcmp(dev.state, "revoked") == 0) {
		op->refused = 403;
		snprintf(op->why, sizeof(op->why), "device %s is revoked", op->device_id);
	} else if (dev.found && strcmp(dev.ak_name, op->ak_name) != 0 && !dev.allow_reenroll) {
		op->refused = 409;
		snprintf(op->why, sizeof(op->why),
			 "device %s is enrolled with another AK; an operator must allow re-enrollment", op->device_id);
	}
	if (op->refused) {
		detail = json_pack("{s:s,s:s}", "ak_name", op->ak_name, "why", op->why);
		return api_audit(tx, "device", "enroll-refused", op->device_id, detail, ei);
	}
	if (!dev.found) {
		struct vparam p[11] = {
			VPARAM_TEXT(op->device_id), VPARAM_TEXT(op->ek_digest),
			VPARAM_BLOB(op->ek_public, op->ek_public_len), VPARAM_BLOB(op->ek_cert, op->ek_cert_len),
			VPARAM_BLOB(op->ak_public, op->ak_public_len), VPARAM_TEXT(op->ak_name), VPARAM_TEXT(op->ak_qn),
			VPARAM_BLOB(op->uk_public, op->uk_public_len), VPARAM_TEXT(op->group), VPARAM_INT(now),
			VPARAM_INT(now)};
		r = vstore_exec(tx, "INSERT INTO devices (id, ek_digest, ek_public, ek_certificate, ak_public, ak_name, "
				    "ak_qualified_name, update_key_public, grp, state, allow_reenroll, created_at, "
				    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?)",
				p, 11, NULL, NULL, NULL, ei);
	} else {
		/* The same AK again, or a new one an operator allowed: activation must follow either way. */
		struct vparam p[7] = {VPARAM_BLOB(op->ak_public, op->ak_public_len), VPARAM_TEXT(op->ak_name),
				      VPARAM_TEXT(op->ak_qn), VPARAM_BLOB(op->uk_public, op->uk_public_len),
				      VPARAM_BLOB(op->ek_cert, op->ek_cert_len), VPARAM_INT(now),
				      VPARAM_TEXT(op->device_id)};
		int same = strcmp(dev.ak_name, op->ak_name) == 0;

		r = vstore_exec(tx, same ? "UPDATE devices SET ak_public = ?, ak_name = ?, ak_qualified_name = ?, "
					   "update_key_public = ?, ek_certificate = ?, updated_at = ? WHERE id = ?"
					 : "UPDATE devices SET ak_public = ?, ak_name = ?, ak_qualified_name = ?, "
					   "update_key_public = ?, ek_certificate = ?, updated_at = ?, state = 'pending', "
					   "allow_reenroll = 0, clock = NULL, reset_count = NULL, restart_count = NULL "
					   "WHERE id = ?",
				p, 7, NULL, NULL, NULL, ei);
	}
	if (r != PCRGATE_OK)
		return r;
	/* The certified TLS key waits for activation; only then is its certificate issued. */
	{
		struct vparam t[2] = {op->tls_public != NULL ? VPARAM_BLOB(op->tls_public, op->tls_public_len) : VPARAM_NULL,
				      VPARAM_TEXT(op->device_id)};

		if ((r = vstore_exec(tx, "UPDATE devices SET tls_pending = ? WHERE id = ?", t, 2, NULL, NULL, NULL,
				     ei)) != PCRGATE_OK)
			return r;
	}
	{
		struct vparam c[5] = {VPARAM_TEXT(op->enrollment_id), VPARAM_TEXT(op->device_id),
				      VPARAM_TEXT(op->secret_hash), VPARAM_INT(now),
				      VPARAM_INT(now + op->ctx->cfg.nonce_ttl)};
		struct vparam d[2] = {VPARAM_TEXT(op->device_id), VPARAM_INT(now)};

		/* The device's expired challenges go as a new one comes: the table stays bounded per device. */
		if ((r = vstore_exec(tx, "DELETE FROM challenges WHERE device_id = ? AND expires_at < ?", d, 2, NULL, NULL,
				     NULL, ei)) != PCRGATE_OK)
			return r;
		if ((r = vstore_exec(tx, "INSERT INTO challenges (id, device_id, purpose, value, created_at, "
					 "expires_at, used) VALUES (?, ?, 'activate', ?, ?, ?, 0)",
				     c, 5, NULL, NULL, NULL, ei)) != PCRGATE_OK)
			return r;
	}
	detail = json_pack("{s:s,s:s,s:s,s:b,s:s}", "ak_name", op->ak_name, "enrollment_id", op->enrollment_id, "group",
			   op->group != NULL ? op->group : "", "ek_certificate", op->ek_cert_len > 0, "ek_defects",
			   op->defects);
	return api_audit(tx, "device", dev.found ? "re-enroll-start" : "enroll-start", op->device_id, detail, ei);
}

/* The EK certificate: checked against the manufacturer CAs and matched to the EK; 1 when resp was set. */
static int check_ek_certificate(struct api_ctx *ctx, struct vresp *resp, const uint8_t *cert, size_t len,
				const TPM2B_PUBLIC *ek, char *defects, size_t cap)
{
	struct ekcert_result res;
	pcrgate_errinfo ei;
	int r;

	defects[0] = '\0';
	if (len == 0) {
		if (!ctx->cfg.require_ek_certificate)
			return 0;
		vresp_error(resp, 403, "ek-certificate", "an EK certificate is required");
		return 1;
	}
	if (ctx->trust == NULL) {
		vresp_error(resp, 403, "ek-certificate", "no EK manufacturer CA is configured (ek_ca)");
		return 1;
	}
	memset(&res, 0, sizeof(res));
	pcrgate_errinfo_clear(&ei);
	if ((r = ekcert_verify_trust(ctx->trust, cert, len, &res, &ei)) != PCRGATE_OK ||
	    (r = ekcert_match_public(res.pkey, ek, &ei)) != PCRGATE_OK) {
		ekcert_result_clear(&res);
		if (r == PCRGATE_ERR_VERIFY || r == PCRGATE_ERR_FORMAT) {
			vresp_error(resp, 403, "ek-certificate", "EK certificate: %s", ei.message);
			return 1;
		}
		api_fail(resp, "ek-certificate", r, &ei);
		return 1;
	}
	snprintf(defects, cap, "%s%s%s%s", res.defects & EKCERT_DEFECT_CRITICAL_EXT ? "critical-extension " : "",
		 res.defects & EKCERT_DEFECT_EXPIRED ? "expired " : "", res.defects & EKCERT_DEFECT_SERIAL ? "serial " : "",
		 res.defects & EKCERT_DEFECT_ENCODING ? "encoding" : "");
	ekcert_result_clear(&res);
	return 0;
}

/*
 * The device's TLS client key, certified by the AK like the update key: the same TPM, an
 * unrestricted signing key that never leaves it. 1 when resp was set (refused), else 0 with
 * the key's TPM2B_PUBLIC in out.
 */
static int certified_tls_key(const json_t *body, const TPM2B_PUBLIC *ak, struct vresp *resp, uint8_t *out, size_t cap,
			     size_t *len)
{
	const json_t *doc = json_object_get(body, "tls_key_certification");
	struct certify_result res;
	TPM2B_PUBLIC tmpl;
	pcrgate_errinfo ei;
	char *text;
	int r;

	if (!json_is_object(doc)) {
		vresp_error(resp, 400, "request",
			    "member tls_key_certification must be an object: this verifier issues device TLS client "
			    "certificates (update the agent, or provision its TLS key)");
		return 1;
	}
	if ((text = json_dumps(doc, JSON_COMPACT)) == NULL) {
		api_fail(resp, "tls-key", PCRGATE_ERR_NOMEM, NULL);
		return 1;
	}
	pcrgate_errinfo_clear(&ei);
	tpmobj_template_tls_key(&tmpl);
	r = certify_verify_key((const uint8_t *)text, strlen(text), &tmpl.publicArea, "TLS client key", NULL, 0, ak, &res,
			       &ei);
	free(text);
	if (r == PCRGATE_ERR_VERIFY || r == PCRGATE_ERR_FORMAT) {
		vresp_error(resp, 403, "tls-key", "TLS key certification: %s", ei.message);
		return 1;
	}
	if (r != PCRGATE_OK || tpmobj_public_marshal(&res.key, out, cap, len) != PCRGATE_OK) {
		api_fail(resp, "tls-key", r != PCRGATE_OK ? r : PCRGATE_ERR_FORMAT, &ei);
		return 1;
	}
	return 0;
}

int api_enroll(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	uint8_t ek_raw[sizeof(TPM2B_PUBLIC)], ak_raw[sizeof(TPM2B_PUBLIC)], uk_raw[sizeof(TPM2B_PUBLIC)];
	uint8_t tls_raw[sizeof(TPM2B_PUBLIC)];
	uint8_t cert[EK_CERT_MAX], secret[ACTIVATION_SECRET];
	char ek_digest[65], device_id[API_ID_HEX], enrollment_id[API_ID_HEX], secret_hash[65];
	char ak_hex[2 * sizeof(TPMU_NAME) + 1], qn_hex[2 * sizeof(TPMU_NAME) + 1], defects[80];
	size_t ek_len = 0, ak_len = 0, cert_len = 0, uk_len = 0, tls_len = 0;
	const char *group = NULL, *why;
	json_t *certdoc = NULL;
	char *certtext = NULL;
	TPM2B_PUBLIC ek, ak;
	struct certify_result cres;
	struct credential cred;
	struct enroll_op op;
	pcrgate_errinfo ei;
	int r;

	if (api_req_b64(resp, req->json, "ek_public", ek_raw, sizeof(ek_raw), 0, &ek_len) ||
	    api_req_b64(resp, req->json, "ak_public", ak_raw, sizeof(ak_raw), 0, &ak_len) ||
	    api_req_b64(resp, req->json, "ek_certificate", cert, sizeof(cert), 1, &cert_len) ||
	    api_req_string(resp, req->json, "group", API_MAX_NAME, 1, &group))
		return 0;
	if (!json_is_object(certdoc = json_object_get(req->json, "update_key_certification")))
		return vresp_error(resp, 400, "request", "member update_key_certification must be an object");
	pcrgate_errinfo_clear(&ei);
	if (tpmobj_public_unmarshal(ek_raw, ek_len, &ek, &ei) != PCRGATE_OK)
		return vresp_error(resp, 400, "request", "ek_public: %s", ei.message);
	if (tpmobj_public_unmarshal(ak_raw, ak_len, &ak, &ei) != PCRGATE_OK)
		return vresp_error(resp, 400, "request", "ak_public: %s", ei.message);
	if ((why = api_ek_unacceptable(&ek.publicArea)) != NULL)
		return vresp_error(resp, 403, "ek", "%s", why);
	if ((why = api_ak_unacceptable(&ak.publicArea)) != NULL)
		return vresp_error(resp, 403, "ak-attributes", "%s", why);
	if (check_ek_certificate(ctx, resp, cert, cert_len, &ek, defects, sizeof(defects)))
		return 0;
	if (!ctx->have_policy_key)
		return vresp_error(resp, 503, "configuration", "no vendor policy key is configured (policy_key)");
	if ((certtext = json_dumps(certdoc, JSON_COMPACT)) == NULL)
		return api_fail(resp, "update-key", PCRGATE_ERR_NOMEM, NULL);
	r = certify_verify((const uint8_t *)certtext, strlen(certtext), &ctx->policy_key_name, ctx->cfg.counter_index,
			   NULL, 0, &ak, &cres, &ei);
	free(certtext);
	if (r == PCRGATE_ERR_VERIFY || r == PCRGATE_ERR_FORMAT)
		return vresp_error(resp, 403, "update-key", "update key certification: %s", ei.message);
	if (r != PCRGATE_OK)
		return api_fail(resp, "update-key", r, &ei);
	if ((r = tpmobj_public_marshal(&cres.key, uk_raw, sizeof(uk_raw), &uk_len)) != PCRGATE_OK)
		return api_fail(resp, "update-key", PCRGATE_ERR_FORMAT, NULL);
	if (ctx->device_ca != NULL && certified_tls_key(req->json, &ak, resp, tls_raw, sizeof(tls_raw), &tls_len))
		return 0;
	if (RAND_bytes(secret, sizeof(secret)) != 1 || api_new_id(enrollment_id) != PCRGATE_OK)
		return api_fail(resp, "enroll", PCRGATE_ERR_CRYPTO, NULL);
	if ((r = credential_make(&ek, &cres.ak_name, secret, sizeof(secret), &cred, &ei)) != PCRGATE_OK) {
		OPENSSL_cleanse(secret, sizeof(secret));
		return vresp_error(resp, 403, "ek", "cannot make a credential for this EK: %s", ei.message);
	}
	api_sha256_hex(secret, sizeof(secret), secret_hash);
	OPENSSL_cleanse(secret, sizeof(secret));
	/* The device id is the EK's fingerprint: one EK, one device. */
	api_sha256_hex(ek_raw, ek_len, ek_digest);
	memcpy(device_id, ek_digest, API_ID_HEX - 1);
	device_id[API_ID_HEX - 1] = '\0';
	pcrgate_hex_encode(cres.ak_name.name, cres.ak_name.size, ak_hex);
	pcrgate_hex_encode(cres.ak_qualified.name, cres.ak_qualified.size, qn_hex);
	memset(&op, 0, sizeof(op));
	op.ctx = ctx;
	op.device_id = device_id;
	op.ek_digest = ek_digest;
	op.ak_name = ak_hex;
	op.ak_qn = qn_hex;
	op.group = group;
	op.enrollment_id = enrollment_id;
	op.secret_hash = secret_hash;
	op.defects = defects;
	op.ek_public = ek_raw;
	op.ek_public_len = ek_len;
	op.ek_cert = cert_len > 0 ? cert : NULL;
	op.ek_cert_len = cert_len;
	op.ak_public = ak_raw;
	op.ak_public_len = ak_len;
	op.uk_public = uk_raw;
	op.uk_public_len = uk_len;
	op.tls_public = tls_len > 0 ? tls_raw : NULL;
	op.tls_public_len = tls_len;
	if ((r = vstore_run(ctx->store, enroll_tx, &op, &ei)) != PCRGATE_OK)
		return api_fail(resp, "enroll", r, &ei);
	if (op.refused)
		return vresp_error(resp, op.refused, op.refused == 403 ? "revoked" : "reenrollment", "%s", op.why);
	return vresp_json(resp, 201,
			  json_pack("{s:s,s:s,s:o,s:o}", "device_id", device_id, "enrollment_id", enrollment_id,
				    "credential_blob", jsonutil_b64(cred.blob, cred.blob_len), "encrypted_secret",
				    jsonutil_b64(cred.secret, cred.secret_len)));
}

struct activate_op {
	struct api_ctx *ctx;
	const char *enrollment_id, *secret_hash;
	char device_id[API_MAX_NAME + 1];
	const char *why; /* out: NULL when activated */
	char *certificate; /* out: the device's TLS client certificate (PEM, malloc'd), or NULL */
};

struct pending_row {
	uint8_t key[sizeof(TPM2B_PUBLIC)];
	size_t len;
};

static int pending_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct pending_row *p = arg;

	(void)ei;
	if (ncols == 1)
		p->len = vcol_blob(&cols[0], p->key, sizeof(p->key));
	return 0;
}

/* The device's pending TLS key gets its certificate when the credential is activated. */
static int issue_tls_certificate(vstore_tx *tx, struct activate_op *op, pcrgate_errinfo *ei)
{
	struct vparam id = VPARAM_TEXT(op->device_id);
	struct pending_row p;
	int r;

	free(op->certificate);
	op->certificate = NULL;
	if (op->ctx->device_ca == NULL)
		return PCRGATE_OK;
	memset(&p, 0, sizeof(p));
	if ((r = vstore_exec(tx, "SELECT tls_pending FROM devices WHERE id = ?", &id, 1, pending_row, &p, NULL, ei)) !=
	    PCRGATE_OK)
		return r;
	if (p.len == 0) {
		op->why = "no certified TLS key is waiting for this device: enroll again";
		return PCRGATE_OK;
	}
	return api_device_tls_issue(op->ctx, tx, op->device_id, p.key, p.len, &op->certificate, ei);
}

struct challenge_row {
	int found;
	char device_id[API_MAX_NAME + 1], value[129];
	int64_t expires_at, used;
};

static int challenge_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct challenge_row *c = arg;

	(void)ei;
	if (ncols != 4 || vcol_text(&cols[0], c->device_id, sizeof(c->device_id)) != 0 ||
	    vcol_text(&cols[1], c->value, sizeof(c->value)) != 0)
		return 0;
	c->found = 1;
	c->expires_at = vcol_int(&cols[2], 0);
	c->used = vcol_int(&cols[3], 1);
	return 0;
}

static int activate_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct activate_op *op = arg;
	struct challenge_row c;
	struct vparam id = VPARAM_TEXT(op->enrollment_id);
	struct api_device dev;
	long changes = 0;
	int r;

	memset(&c, 0, sizeof(c));
	op->why = NULL;
	if ((r = audit_lock(tx, ei)) != PCRGATE_OK ||
	    (r = vstore_exec(tx, "SELECT device_id, value, expires_at, used FROM challenges "
				 "WHERE id = ? AND purpose = 'activate'",
			     &id, 1, challenge_row, &c, NULL, ei)) != PCRGATE_OK)
		return r;
	if (!c.found) {
		op->why = "unknown enrollment";
		return PCRGATE_OK;
	}
	snprintf(op->device_id, sizeof(op->device_id), "%s", c.device_id);
	/* One attempt per credential: a wrong secret uses it up as well. */
	if ((r = vstore_exec(tx, "UPDATE challenges SET used = 1 WHERE id = ? AND used = 0", &id, 1, NULL, NULL,
			     &changes, ei)) != PCRGATE_OK)
		return r;
	if (changes != 1)
		op->why = "this credential was already used";
	else if (c.expires_at < time(NULL))
		op->why = "the credential expired";
	else if (strlen(c.value) != 64 || !pcrgate_ct_equal(c.value, op->secret_hash, 64))
		op->why = "the secret is not the credential's: the EK and the AK are not in one TPM";
	if (op->why == NULL) {
		if ((r = api_device_load(tx, c.device_id, &dev, ei)) != PCRGATE_OK)
			return r;
		if (!dev.found || strcmp(dev.state, "revoked") == 0)
			op->why = "the device is revoked";
	}
	if (op->why == NULL && (r = issue_tls_certificate(tx, op, ei)) != PCRGATE_OK)
		return r;
	if (op->why != NULL)
		return api_audit(tx, "device", "enroll-activate-failed", c.device_id, json_pack("{s:s}", "why", op->why),
				 ei);
	{
		struct vparam p[2] = {VPARAM_INT(time(NULL)), VPARAM_TEXT(c.device_id)};

		if ((r = vstore_exec(tx, "UPDATE devices SET state = 'active', updated_at = ? WHERE id = ?", p, 2, NULL,
				     NULL, NULL, ei)) != PCRGATE_OK)
			return r;
	}
	return api_audit(tx, "device", "enroll-activated", c.device_id, NULL, ei);
}

int api_enroll_activate(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	uint8_t secret[CREDENTIAL_MAX_SECRET];
	char hash[65];
	const char *eid;
	size_t len = 0;
	struct activate_op op;
	json_t *doc;
	pcrgate_errinfo ei;
	int r;

	if (api_req_string(resp, req->json, "enrollment_id", API_MAX_NAME, 0, &eid) ||
	    api_req_b64(resp, req->json, "secret", secret, sizeof(secret), 0, &len))
		return 0;
	api_sha256_hex(secret, len, hash);
	OPENSSL_cleanse(secret, sizeof(secret));
	memset(&op, 0, sizeof(op));
	op.ctx = ctx;
	op.enrollment_id = eid;
	op.secret_hash = hash;
	pcrgate_errinfo_clear(&ei);
	if ((r = vstore_run(ctx->store, activate_tx, &op, &ei)) != PCRGATE_OK) {
		free(op.certificate);
		return api_fail(resp, "activation", r, &ei);
	}
	if (op.why != NULL) {
		free(op.certificate);
		return vresp_error(resp, 403, "activation", "%s", op.why);
	}
	doc = json_pack("{s:s,s:s}", "device_id", op.device_id, "state", "active");
	if (doc != NULL && op.certificate != NULL &&
	    json_object_set_new(doc, "client_certificate", json_string(op.certificate)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	free(op.certificate);
	return vresp_json(resp, 200, doc);
}
