/*
 * pcrgate-verifierd: the admin API (bearer token; `pcrgate admin` is its client). Devices with
 * their last verdict and firmware, revocation and re-enrollment, groups; reference policies
 * (parsed before they are stored); releases and rollouts; attestations; the audit log as JSON
 * lines. Every change is recorded in the audit log under the token's name.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "attest/jsonutil.h"
#include "attest/tpmobj.h"
#include "lib/refpolicy.h"
#include "pcrgate/alg.h"
#include "verifier/api_internal.h"
#include "verifier/audit.h"
#include "verifier/keywrap.h"

#define LIST_DEFAULT 100

/* ---- Queries answered as JSON ---- */

struct rows {
	const char *const *names; /* column names, in the SELECT's order */
	size_t n;
	json_t *array;
};

static int json_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct rows *rs = arg;
	json_t *o = json_object(), *v;
	size_t i;

	if (o == NULL || ncols != rs->n)
		goto fail;
	for (i = 0; i < ncols; i++) {
		switch (cols[i].type) {
		case VP_INT:
			v = json_integer(cols[i].i64);
			break;
		case VP_TEXT:
			v = json_stringn(cols[i].text, cols[i].len);
			break;
		case VP_BLOB:
			v = jsonutil_b64(cols[i].blob, cols[i].len);
			break;
		default:
			v = json_null();
		}
		if (json_object_set_new(o, rs->names[i], v) != 0)
			goto fail;
	}
	if (json_array_append_new(rs->array, o) == 0)
		return 0;
	o = NULL;
fail:
	json_decref(o);
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
}

struct query {
	const char *sql;
	const struct vparam *params;
	size_t nparams;
	struct rows rows;
};

static int query_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct query *q = arg;

	json_array_clear(q->rows.array);
	return vstore_exec(tx, q->sql, q->params, q->nparams, json_row, &q->rows, NULL, ei);
}

/* Runs a read query; the rows as an array into *out. */
static int query(struct api_ctx *ctx, const char *sql, const struct vparam *params, size_t nparams,
		 const char *const *names, size_t nnames, json_t **out, pcrgate_errinfo *ei)
{
	struct query q = {sql, params, nparams, {names, nnames, json_array()}};
	int r;

	if (q.rows.array == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = vstore_run_read(ctx->store, query_tx, &q, ei)) != PCRGATE_OK) {
		json_decref(q.rows.array);
		return r;
	}
	*out = q.rows.array;
	return PCRGATE_OK;
}

/*
 * Answers the rows of sql as {key: [...]}. json_member, when not NULL, names a column that
 * holds JSON text the verifier wrote (an attestation's reasons): it is answered as the JSON it
 * is, and a value that is not JSON (a damaged store) is a 500 naming the row.
 */
static int answer_list(struct vreq *req, struct vresp *resp, const char *key, const char *sql,
		       const struct vparam *params, size_t nparams, const char *const *names, size_t nnames,
		       const char *json_member)
{
	json_t *rows = NULL, *row, *v;
	const char *text;
	pcrgate_errinfo ei;
	size_t i;
	int r;

	pcrgate_errinfo_clear(&ei);
	if ((r = query(req->app, sql, params, nparams, names, nnames, &rows, &ei)) != PCRGATE_OK)
		return api_fail(resp, key, r, &ei);
	for (i = 0; json_member != NULL && i < json_array_size(rows); i++) {
		row = json_array_get(rows, i);
		if ((text = json_string_value(json_object_get(row, json_member))) == NULL)
			continue;
		if ((v = json_loads(text, JSON_REJECT_DUPLICATES, NULL)) == NULL) {
			const char *id = json_string_value(json_object_get(row, "id"));

			pg_err("%s %s: the stored %s is not JSON", key, id != NULL ? id : "?", json_member);
			r = vresp_error(resp, 500, "store", "%s %s: the stored %s is not JSON", key, id != NULL ? id : "?",
					json_member);
			json_decref(rows);
			return r;
		}
		json_object_set_new(row, json_member, v);
	}
	return vresp_json(resp, 200, json_pack("{s:o}", key, rows));
}

/* ?limit=N (1 to API_LIST_MAX) into *limit, else def; 1 when resp was set. */
static int limit_param(struct vreq *req, struct vresp *resp, int64_t def, int64_t *limit)
{
	const char *s = vreq_query(req, "limit");
	uint64_t v = 0;

	*limit = def;
	if (s == NULL)
		return 0;
	/* Digits only: no blank, sign or base prefix. */
	if (pcrgate_parse_decimal(&s, API_LIST_MAX, &v) != PCRGATE_OK || *s != '\0' || v < 1) {
		vresp_error(resp, 400, "request", "limit must be 1 to %d", API_LIST_MAX);
		return 1;
	}
	*limit = (int64_t)v;
	return 0;
}

/* ---- Changes, each with its audit entry ---- */

typedef int (*change_fn)(vstore_tx *tx, void *arg, long *changes, pcrgate_errinfo *ei);

struct change {
	change_fn fn;
	void *arg;
	const char *actor, *action, *subject;
	json_t *detail; /* borrowed */
	long changes;
};

static int change_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct change *c = arg;
	int r;

	c->changes = 0;
	if ((r = audit_lock(tx, ei)) != PCRGATE_OK || (r = c->fn(tx, c->arg, &c->changes, ei)) != PCRGATE_OK ||
	    c->changes == 0)
		return r;
	return audit_append(tx, c->actor, c->action, c->subject, c->detail, ei);
}

/*
 * Runs fn and records action by the request's admin (the name the HTTP layer's token check
 * gave) in one transaction. 404 naming what when fn changed nothing; 409 on a constraint; 1
 * when resp was set with an error, 0 on success.
 */
static int change(struct vreq *req, struct vresp *resp, const char *action, const char *subject, json_t *detail,
		  const char *what, change_fn fn, void *arg)
{
	struct api_ctx *ctx = req->app;
	struct change c = {fn, arg, req->actor, action, subject, detail, 0};
	pcrgate_errinfo ei;
	int r;

	pcrgate_errinfo_clear(&ei);
	r = vstore_run(ctx->store, change_tx, &c, &ei);
	if (r == VSTORE_ERR_CONSTRAINT) {
		vresp_error(resp, 409, "conflict", "%s", ei.message);
		return 1;
	}
	if (r != PCRGATE_OK) {
		api_fail(resp, action, r, &ei);
		return 1;
	}
	if (c.changes == 0) {
		vresp_error(resp, 404, "not-found", "no %s %s", what, subject);
		return 1;
	}
	return 0;
}

static int exec_changes(vstore_tx *tx, const char *sql, const struct vparam *p, size_t n, long *changes,
			pcrgate_errinfo *ei)
{
	return vstore_exec(tx, sql, p, n, NULL, NULL, changes, ei);
}

/* ---- Devices ---- */

static const char *const device_columns[] = {"id", "state", "group", "policy", "release", "security_version",
					     "last_verdict", "last_attestation", "last_attestation_at", "ak_name",
					     "created_at", "updated_at", "allow_reenroll", "reset_count"};
/* The last attestation's time comes from its row, found by its primary key. */
#define DEVICE_SELECT                                                                                          \
	"SELECT d.id, d.state, d.grp, d.policy, d.release, d.security_version, d.last_verdict, "               \
	"d.last_attestation, a.created_at, d.ak_name, d.created_at, d.updated_at, d.allow_reenroll, "          \
	"d.reset_count FROM devices d LEFT JOIN attestations a ON a.id = d.last_attestation"

int api_admin_devices(struct vreq *req, struct vresp *resp)
{
	return answer_list(req, resp, "devices", DEVICE_SELECT " ORDER BY d.id", NULL, 0, device_columns,
			   sizeof(device_columns) / sizeof(device_columns[0]), NULL);
}

/* The outcomes one device view shows: its latest reports, newest first. */
#define DEVICE_OUTCOMES 10
static const char *const outcome_columns[] = {"release", "version", "outcome", "reason", "end_of_support",
					      "reported_at"};

/* A device and its latest outcomes, read in one transaction (on SQLite, one snapshot). */
struct device_view {
	struct query device, outcomes;
};

static int device_view_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct device_view *d = arg;
	int r;

	if ((r = query_tx(tx, &d->device, ei)) != PCRGATE_OK)
		return r;
	return query_tx(tx, &d->outcomes, ei);
}

int api_admin_device(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	struct vparam p[2] = {VPARAM_TEXT(req->params[0]), VPARAM_INT(DEVICE_OUTCOMES)};
	/* What the device reported of its updates: the release's version and end of support with each. */
	struct device_view d = {
		{DEVICE_SELECT " WHERE d.id = ?", p, 1,
		 {device_columns, sizeof(device_columns) / sizeof(device_columns[0]), json_array()}},
		{"SELECT release, version, outcome, reason, end_of_support, created_at FROM outcomes "
		 "WHERE device_id = ? ORDER BY created_at DESC, id LIMIT ?",
		 p, 2, {outcome_columns, sizeof(outcome_columns) / sizeof(outcome_columns[0]), json_array()}},
	};
	json_t *dev;
	pcrgate_errinfo ei;
	int r;

	pcrgate_errinfo_clear(&ei);
	if (d.device.rows.array == NULL || d.outcomes.rows.array == NULL)
		r = pcrgate_errinfo_set(&ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	else
		r = vstore_run_read(ctx->store, device_view_tx, &d, &ei);
	if (r != PCRGATE_OK) {
		r = api_fail(resp, "device", r, &ei);
		goto fail;
	}
	if (json_array_size(d.device.rows.array) == 0) {
		r = vresp_error(resp, 404, "not-found", "no device %s", req->params[0]);
		goto fail;
	}
	dev = json_incref(json_array_get(d.device.rows.array, 0));
	/* json_object_set_new takes the outcomes whether or not it succeeds. */
	r = json_object_set_new(dev, "outcomes", d.outcomes.rows.array);
	d.outcomes.rows.array = NULL;
	if (r != 0) {
		json_decref(dev);
		r = api_fail(resp, "device", PCRGATE_ERR_NOMEM, NULL);
		goto fail;
	}
	r = vresp_json(resp, 200, dev);
fail:
	json_decref(d.device.rows.array);
	json_decref(d.outcomes.rows.array);
	return r;
}

struct device_set {
	const char *id, *sql;
	const struct vparam *extra;
	size_t nextra;
};

static int device_set_fn(vstore_tx *tx, void *arg, long *changes, pcrgate_errinfo *ei)
{
	struct device_set *d = arg;
	struct vparam p[4];
	size_t i;

	for (i = 0; i < d->nextra; i++)
		p[i] = d->extra[i];
	p[i++] = VPARAM_INT(time(NULL));
	p[i++] = VPARAM_TEXT(d->id);
	return exec_changes(tx, d->sql, p, i, changes, ei);
}

int api_admin_revoke(struct vreq *req, struct vresp *resp)
{
	struct device_set d = {req->params[0], "UPDATE devices SET state = 'revoked', updated_at = ? WHERE id = ?", NULL, 0};

	if (change(req, resp, "device-revoke", d.id, NULL, "device", device_set_fn, &d))
		return 0;
	return vresp_json(resp, 200, json_pack("{s:s,s:s}", "device_id", d.id, "state", "revoked"));
}

int api_admin_allow_reenroll(struct vreq *req, struct vresp *resp)
{
	struct device_set d = {req->params[0],
			       "UPDATE devices SET allow_reenroll = 1, updated_at = ? WHERE id = ? AND state <> 'revoked'",
			       NULL, 0};

	if (change(req, resp, "device-allow-reenroll", d.id, NULL, "device (not revoked)", device_set_fn, &d))
		return 0;
	return vresp_json(resp, 200, json_pack("{s:s,s:b}", "device_id", d.id, "allow_reenroll", 1));
}

int api_admin_group(struct vreq *req, struct vresp *resp)
{
	const char *group = NULL, *policy = NULL;
	struct vparam extra[2];
	struct device_set d = {req->params[0], NULL, extra, 2};
	json_t *detail;
	int failed;

	if (api_req_string(resp, req->json, "group", API_MAX_NAME, 1, &group) ||
	    api_req_string(resp, req->json, "policy", API_MAX_NAME, 1, &policy))
		return 0;
	if (group == NULL && policy == NULL)
		return vresp_error(resp, 400, "request", "give group, policy or both");
	extra[0] = group != NULL ? VPARAM_TEXT(group) : VPARAM_NULL;
	extra[1] = policy != NULL ? VPARAM_TEXT(policy) : VPARAM_NULL;
	d.sql = "UPDATE devices SET grp = COALESCE(?, grp), policy = COALESCE(?, policy), updated_at = ? WHERE id = ?";
	detail = json_pack("{s:s?,s:s?}", "group", group, "policy", policy);
	failed = change(req, resp, "device-group", d.id, detail, "device", device_set_fn, &d);
	json_decref(detail);
	if (failed)
		return 0;
	return vresp_json(resp, 200, json_pack("{s:s,s:s?,s:s?}", "device_id", d.id, "group", group, "policy", policy));
}

struct import_op {
	struct api_ctx *ctx;
	const char *id, *ek_digest, *ak_name, *ak_qn, *group, *policy;
	const uint8_t *ek, *ak, *uk, *tls;
	size_t ek_len, ak_len, uk_len, tls_len;
	char *certificate; /* out: the TLS client certificate issued for tls, or NULL */
};

static int import_fn(vstore_tx *tx, void *arg, long *changes, pcrgate_errinfo *ei)
{
	struct import_op *op = arg;
	int64_t now = time(NULL);
	struct vparam p[11] = {VPARAM_TEXT(op->id),
			       VPARAM_TEXT(op->ek_digest),
			       VPARAM_BLOB(op->ek, op->ek_len),
			       VPARAM_BLOB(op->ak, op->ak_len),
			       VPARAM_TEXT(op->ak_name),
			       VPARAM_TEXT(op->ak_qn),
			       op->uk_len > 0 ? VPARAM_BLOB(op->uk, op->uk_len) : VPARAM_NULL,
			       op->group != NULL ? VPARAM_TEXT(op->group) : VPARAM_NULL,
			       op->policy != NULL ? VPARAM_TEXT(op->policy) : VPARAM_NULL,
			       VPARAM_INT(now),
			       VPARAM_INT(now)};

	int r;

	free(op->certificate);
	op->certificate = NULL;
	if ((r = exec_changes(tx, "INSERT INTO devices (id, ek_digest, ek_public, ak_public, ak_name, ak_qualified_name, "
				  "update_key_public, grp, policy, state, allow_reenroll, created_at, updated_at) "
				  "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'active', 0, ?, ?)",
			      p, 11, changes, ei)) != PCRGATE_OK)
		return r;
	if (op->tls_len == 0 || op->ctx->device_ca == NULL)
		return PCRGATE_OK;
	return api_device_tls_issue(op->ctx, tx, op->id, op->tls, op->tls_len, &op->certificate, ei);
}

/*
 * Operator import: the operator vouches for the EK, the AK and that they share a TPM (a
 * manufacturing line's records, or a fleet simulated for benchmarks); the EK's and the AK's
 * attributes are still checked as at enrollment, and the AK's qualified name must be given
 * (its parent is not known otherwise).
 */
int api_admin_import(struct vreq *req, struct vresp *resp)
{
	uint8_t ek[sizeof(TPM2B_PUBLIC)], ak[sizeof(TPM2B_PUBLIC)], uk[sizeof(TPM2B_PUBLIC)], qn[PCRGATE_QUOTE_MAX_NAME];
	uint8_t tls[sizeof(TPM2B_PUBLIC)];
	char digest[65], id[API_ID_HEX], name_hex[2 * sizeof(TPMU_NAME) + 1];
	json_t *doc;
	const char *qn_hex, *why;
	size_t qnlen = 0;
	TPM2B_PUBLIC pub, akpub;
	TPM2B_NAME name;
	struct import_op op;
	pcrgate_errinfo ei;

	memset(&op, 0, sizeof(op));
	if (api_req_b64(resp, req->json, "ek_public", ek, sizeof(ek), 0, &op.ek_len) ||
	    api_req_b64(resp, req->json, "ak_public", ak, sizeof(ak), 0, &op.ak_len) ||
	    api_req_b64(resp, req->json, "update_key_public", uk, sizeof(uk), 1, &op.uk_len) ||
	    api_req_b64(resp, req->json, "tls_key_public", tls, sizeof(tls), 1, &op.tls_len) ||
	    api_req_string(resp, req->json, "ak_qualified_name", 2 * PCRGATE_QUOTE_MAX_NAME, 0, &qn_hex) ||
	    api_req_string(resp, req->json, "group", API_MAX_NAME, 1, &op.group) ||
	    api_req_string(resp, req->json, "policy", API_MAX_NAME, 1, &op.policy))
		return 0;
	pcrgate_errinfo_clear(&ei);
	if (tpmobj_public_unmarshal(ek, op.ek_len, &pub, &ei) != PCRGATE_OK)
		return vresp_error(resp, 400, "request", "ek_public: %s", ei.message);
	if ((why = api_ek_unacceptable(&pub.publicArea)) != NULL)
		return vresp_error(resp, 403, "ek", "%s", why);
	if (tpmobj_public_unmarshal(ak, op.ak_len, &akpub, &ei) != PCRGATE_OK)
		return vresp_error(resp, 400, "request", "ak_public: %s", ei.message);
	if (op.uk_len > 0 && tpmobj_public_unmarshal(uk, op.uk_len, &pub, &ei) != PCRGATE_OK)
		return vresp_error(resp, 400, "request", "update_key_public: %s", ei.message);
	if (op.tls_len > 0 && tpmobj_public_unmarshal(tls, op.tls_len, &pub, &ei) != PCRGATE_OK)
		return vresp_error(resp, 400, "request", "tls_key_public: %s", ei.message);
	if (pcrgate_hex_decode(qn_hex, qn, sizeof(qn), &qnlen) != 0 || qnlen < 4)
		return vresp_error(resp, 400, "request", "ak_qualified_name must be a TPM name in hex");
	if ((why = api_ak_unacceptable(&akpub.publicArea)) != NULL)
		return vresp_error(resp, 403, "ak-attributes", "%s", why);
	if (tpmobj_name(&akpub.publicArea, &name) != 0)
		return api_fail(resp, "import", PCRGATE_ERR_FORMAT, NULL);
	pcrgate_hex_encode(name.name, name.size, name_hex);
	api_sha256_hex(ek, op.ek_len, digest);
	memcpy(id, digest, API_ID_HEX - 1);
	id[API_ID_HEX - 1] = '\0';
	op.id = id;
	op.ek_digest = digest;
	op.ak_name = name_hex;
	op.ak_qn = qn_hex;
	op.ek = ek;
	op.ak = ak;
	op.uk = uk;
	op.tls = tls;
	op.ctx = req->app;
	if (change(req, resp, "device-import", id, NULL, "device", import_fn, &op)) {
		free(op.certificate);
		return 0;
	}
	doc = json_pack("{s:s,s:s}", "device_id", id, "state", "active");
	if (doc != NULL && op.certificate != NULL &&
	    json_object_set_new(doc, "client_certificate", json_string(op.certificate)) != 0) {
		json_decref(doc);
		doc = NULL;
	}
	free(op.certificate);
	return vresp_json(resp, 201, doc);
}

/* ---- Policies ---- */

struct policy_op {
	const char *name, *doc, *digest;
};

static int policy_put_fn(vstore_tx *tx, void *arg, long *changes, pcrgate_errinfo *ei)
{
	struct policy_op *op = arg;
	struct vparam del = VPARAM_TEXT(op->name);
	struct vparam p[4] = {VPARAM_TEXT(op->name), VPARAM_TEXT(op->doc), VPARAM_TEXT(op->digest),
			      VPARAM_INT(time(NULL))};
	int r;

	if ((r = vstore_exec(tx, "DELETE FROM policies WHERE name = ?", &del, 1, NULL, NULL, NULL, ei)) != PCRGATE_OK)
		return r;
	return exec_changes(tx, "INSERT INTO policies (name, document, digest, created_at) VALUES (?, ?, ?, ?)", p, 4,
			    changes, ei);
}

int api_admin_policy_put(struct vreq *req, struct vresp *resp)
{
	pcrgate_refpolicy *p = NULL;
	struct policy_op op;
	json_t *detail;
	pcrgate_errinfo ei;
	int failed;

	if (req->body == NULL || req->body_len == 0 || strlen((const char *)req->body) != req->body_len)
		return vresp_error(resp, 400, "policy", "the body must be a policy document (docs/policies.md)");
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_refpolicy_parse(req->body, req->body_len, &p, &ei) != 0)
		return vresp_error(resp, 400, "policy", "policy: %s", ei.message);
	op.name = req->params[0];
	op.doc = (const char *)req->body;
	op.digest = pcrgate_refpolicy_digest(p);
	detail = json_pack("{s:s,s:s}", "digest", op.digest, "document_name", pcrgate_refpolicy_name(p));
	failed = change(req, resp, "policy-put", op.name, detail, "policy", policy_put_fn, &op);
	json_decref(detail);
	if (!failed)
		vresp_json(resp, 200, json_pack("{s:s,s:s}", "name", op.name, "digest", op.digest));
	pcrgate_refpolicy_free(&p);
	return 0;
}

int api_admin_policies(struct vreq *req, struct vresp *resp)
{
	static const char *const names[] = {"name", "digest", "created_at"};

	return answer_list(req, resp, "policies", "SELECT name, digest, created_at FROM policies ORDER BY name", NULL, 0,
			   names, 3, NULL);
}

struct policy_get {
	const char *name;
	char *doc;
};

static int policy_get_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct policy_get *g = arg;
	struct vparam p = VPARAM_TEXT(g->name);

	free(g->doc);
	g->doc = NULL;
	return vstore_exec(tx, "SELECT document FROM policies WHERE name = ?", &p, 1, api_text_row, &g->doc, NULL,
			   ei);
}

int api_admin_policy_get(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	struct policy_get g = {req->params[0], NULL};
	pcrgate_errinfo ei;
	int r;

	pcrgate_errinfo_clear(&ei);
	if ((r = vstore_run_read(ctx->store, policy_get_tx, &g, &ei)) != PCRGATE_OK) {
		free(g.doc);
		return api_fail(resp, "policy", r, &ei);
	}
	if (g.doc == NULL)
		return vresp_error(resp, 404, "not-found", "no policy %s", g.name);
	return vresp_raw(resp, 200, "application/json", g.doc, strlen(g.doc));
}

/* ---- Releases and rollouts ---- */

struct release_op {
	const char *name, *version, *digest, *url;
	int64_t security_version;
	const uint8_t *key;
	size_t key_len;
};

static int release_put_fn(vstore_tx *tx, void *arg, long *changes, pcrgate_errinfo *ei)
{
	struct release_op *op = arg;
	struct vparam del = VPARAM_TEXT(op->name);
	struct vparam p[7] = {VPARAM_TEXT(op->name),
			      VPARAM_TEXT(op->version),
			      VPARAM_INT(op->security_version),
			      VPARAM_TEXT(op->digest),
			      VPARAM_TEXT(op->url),
			      op->key_len > 0 ? VPARAM_BLOB(op->key, op->key_len) : VPARAM_NULL,
			      VPARAM_INT(time(NULL))};
	int r;

	if ((r = vstore_exec(tx, "DELETE FROM releases WHERE name = ?", &del, 1, NULL, NULL, NULL, ei)) != PCRGATE_OK)
		return r;
	return exec_changes(tx, "INSERT INTO releases (name, version, security_version, manifest_digest, bundle_url, "
				"content_key, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
			    p, 7, changes, ei);
}

int api_admin_release_put(struct vreq *req, struct vresp *resp)
{
	/* Room for a key of the wrong size to be decoded and named as such. */
	uint8_t key[2 * KEYWRAP_CONTENT_KEY_SIZE], digest_raw[PCRGATE_MAX_DIGEST];
	size_t dlen = 0;
	struct release_op op;
	json_t *detail;
	int failed;

	memset(&op, 0, sizeof(op));
	op.name = req->params[0];
	if (api_req_string(resp, req->json, "version", API_MAX_NAME, 0, &op.version) ||
	    api_req_int(resp, req->json, "security_version", 0, INT64_MAX, 0, &op.security_version) ||
	    api_req_string(resp, req->json, "manifest_digest", 128, 0, &op.digest) ||
	    api_req_string(resp, req->json, "bundle_url", API_MAX_TEXT, 0, &op.url))
		return 0;
	if (pcrgate_hex_decode(op.digest, digest_raw, sizeof(digest_raw), &dlen) != 0 || dlen != API_MANIFEST_DIGEST_SIZE)
		return vresp_error(resp, 400, "request", "manifest_digest must be a SHA-256 digest in hex");
	if (strncmp(op.url, "https://", 8) != 0 && strncmp(op.url, "http://", 7) != 0 && strncmp(op.url, "file:", 5) != 0)
		return vresp_error(resp, 400, "request", "bundle_url must be an https://, http:// or file: URL");
	/* The key last: from here on every way out clears it. */
	if (api_req_b64(resp, req->json, "content_key", key, sizeof(key), 1, &op.key_len))
		goto done;
	if (op.key_len != 0 && op.key_len != KEYWRAP_CONTENT_KEY_SIZE) {
		vresp_error(resp, 400, "request", "content_key must be %d bytes", KEYWRAP_CONTENT_KEY_SIZE);
		goto done;
	}
	op.key = key;
	/* The content key never goes to the audit log, only whether there is one. */
	detail = json_pack("{s:s,s:I,s:s,s:s,s:b}", "version", op.version, "security_version",
			   (json_int_t)op.security_version, "manifest_digest", op.digest, "bundle_url", op.url,
			   "content_key", op.key_len > 0);
	failed = change(req, resp, "release-put", op.name, detail, "release", release_put_fn, &op);
	json_decref(detail);
	if (!failed)
		vresp_json(resp, 200, json_pack("{s:s,s:s,s:I}", "name", op.name, "version", op.version,
						"security_version", (json_int_t)op.security_version));
done:
	OPENSSL_cleanse(key, sizeof(key));
	return 0;
}

int api_admin_releases(struct vreq *req, struct vresp *resp)
{
	static const char *const names[] = {"name", "version", "security_version", "manifest_digest", "bundle_url",
					    "created_at"};

	return answer_list(req, resp, "releases",
			   "SELECT name, version, security_version, manifest_digest, bundle_url, created_at FROM releases "
			   "ORDER BY security_version, name",
			   NULL, 0, names, 6, NULL);
}

struct rollout_op {
	const char *id, *release, *device_id, *group;
};

static int rollout_fn(vstore_tx *tx, void *arg, long *changes, pcrgate_errinfo *ei)
{
	struct rollout_op *op = arg;
	struct vparam rel = VPARAM_TEXT(op->release);
	struct vparam target = op->device_id != NULL ? VPARAM_TEXT(op->device_id) : VPARAM_TEXT(op->group);
	struct vparam p[5] = {VPARAM_TEXT(op->id), VPARAM_TEXT(op->release),
			      op->device_id != NULL ? VPARAM_TEXT(op->device_id) : VPARAM_NULL,
			      op->group != NULL ? VPARAM_TEXT(op->group) : VPARAM_NULL, VPARAM_INT(time(NULL))};
	long n = 0;
	int r;

	if ((r = vstore_exec(tx, "SELECT 1 FROM releases WHERE name = ?", &rel, 1, api_count_row, &n, NULL, ei)) != 0)
		return r;
	if (n == 0)
		return PCRGATE_OK; /* nothing changed: 404 no release */
	/* A new rollout replaces the earlier one for the same target. */
	if ((r = vstore_exec(tx, op->device_id != NULL ? "UPDATE rollouts SET active = 0 WHERE device_id = ?"
						       : "UPDATE rollouts SET active = 0 WHERE device_id IS NULL AND grp = ?",
			     &target, 1, NULL, NULL, NULL, ei)) != PCRGATE_OK)
		return r;
	return exec_changes(tx, "INSERT INTO rollouts (id, release, device_id, grp, created_at, active) "
				"VALUES (?, ?, ?, ?, ?, 1)",
			    p, 5, changes, ei);
}

int api_admin_rollout_post(struct vreq *req, struct vresp *resp)
{
	char id[API_ID_HEX];
	struct rollout_op op;
	json_t *detail;
	int failed;

	memset(&op, 0, sizeof(op));
	if (api_req_string(resp, req->json, "release", API_MAX_NAME, 0, &op.release) ||
	    api_req_string(resp, req->json, "device_id", API_MAX_NAME, 1, &op.device_id) ||
	    api_req_string(resp, req->json, "group", API_MAX_NAME, 1, &op.group))
		return 0;
	if ((op.device_id == NULL) == (op.group == NULL))
		return vresp_error(resp, 400, "request", "give exactly one of device_id and group");
	if (api_new_id(id) != PCRGATE_OK)
		return api_fail(resp, "rollout", PCRGATE_ERR_CRYPTO, NULL);
	op.id = id;
	detail = json_pack("{s:s,s:s?,s:s?}", "release", op.release, "device_id", op.device_id, "group", op.group);
	failed = change(req, resp, "rollout", id, detail, "release", rollout_fn, &op);
	json_decref(detail);
	if (failed)
		return 0;
	return vresp_json(resp, 201, json_pack("{s:s,s:s,s:s?,s:s?}", "id", id, "release", op.release, "device_id",
					       op.device_id, "group", op.group));
}

int api_admin_rollouts(struct vreq *req, struct vresp *resp)
{
	static const char *const names[] = {"id", "release", "device_id", "group", "created_at", "active"};

	return answer_list(req, resp, "rollouts",
			   "SELECT id, release, device_id, grp, created_at, active FROM rollouts ORDER BY created_at, id",
			   NULL, 0, names, 6, NULL);
}

/* ---- Attestations and the audit log ---- */

int api_admin_attestations(struct vreq *req, struct vresp *resp)
{
	static const char *const names[] = {"id", "device_id", "created_at", "verdict", "failed_check", "reasons",
					    "release", "security_version", "reset_count"};
	const char *device = vreq_query(req, "device");
	struct vparam p[2];
	int64_t limit;

	if (limit_param(req, resp, LIST_DEFAULT, &limit))
		return 0;
	if (device != NULL) {
		p[0] = VPARAM_TEXT(device);
		p[1] = VPARAM_INT(limit);
		return answer_list(req, resp, "attestations",
				   "SELECT id, device_id, created_at, verdict, failed_check, reasons, release, "
				   "security_version, reset_count FROM attestations WHERE device_id = ? "
				   "ORDER BY created_at DESC, id LIMIT ?",
				   p, 2, names, 9, "reasons");
	}
	p[0] = VPARAM_INT(limit);
	return answer_list(req, resp, "attestations",
			   "SELECT id, device_id, created_at, verdict, failed_check, reasons, release, security_version, "
			   "reset_count FROM attestations ORDER BY created_at DESC, id LIMIT ?",
			   p, 1, names, 9, "reasons");
}

struct audit_page {
	int64_t after;
	size_t limit;
	char *buf;
	size_t len, cap;
};

static int audit_line(const char *line, size_t len, void *arg, pcrgate_errinfo *ei)
{
	struct audit_page *pg = arg;
	char *n;

	if (pg->len + len + 2 > pg->cap) {
		size_t cap = (pg->cap + len + 2) * 2;

		if ((n = realloc(pg->buf, cap)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		pg->buf = n;
		pg->cap = cap;
	}
	memcpy(pg->buf + pg->len, line, len);
	pg->len += len;
	pg->buf[pg->len++] = '\n';
	pg->buf[pg->len] = '\0';
	return 0;
}

static int audit_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct audit_page *pg = arg;

	pg->len = 0;
	return audit_export(tx, pg->after, pg->limit, audit_line, pg, NULL, ei);
}

int api_admin_audit(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	const char *after = vreq_query(req, "after");
	struct audit_page pg = {0, 0, NULL, 0, 0};
	pcrgate_errinfo ei;
	int64_t limit;
	char *end;
	int r;

	/* A page at a time, as every list: a whole log in one answer would be as large as the log. */
	if (limit_param(req, resp, API_LIST_MAX, &limit))
		return 0;
	pg.limit = (size_t)limit;
	if (after != NULL) {
		pg.after = strtoll(after, &end, 10);
		if (*after == '\0' || *end != '\0' || pg.after < 0)
			return vresp_error(resp, 400, "request", "after must be a sequence number");
	}
	pcrgate_errinfo_clear(&ei);
	if ((r = vstore_run_read(ctx->store, audit_tx, &pg, &ei)) != PCRGATE_OK) {
		free(pg.buf);
		return api_fail(resp, "audit", r, &ei);
	}
	if (pg.buf == NULL && (pg.buf = calloc(1, 1)) == NULL)
		return api_fail(resp, "audit", PCRGATE_ERR_NOMEM, NULL);
	return vresp_raw(resp, 200, "application/x-ndjson", pg.buf, pg.len);
}
