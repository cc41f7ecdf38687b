/*
 * pcrgate-agent: the verifier's client. Enrollment (the EK, the AK and the certified update
 * key sent to the verifier, its credential activated in the TPM) and attestation (a quote over
 * the verifier's nonce, or over the nonce bound to an update report, and the authorization
 * that may come back, checked and kept). docs/agent.md describes the exchanges.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "authz.h"
#include "httpclient.h"
#include "jsonutil.h"
#include "pcrgate/evidence.h"
#include "provision.h"
#include "tpmobj.h"
#include "tpmutil.h"

#define CREDENTIAL_MAX 4096 /* bytes of the credential blob and of the encrypted secret */
#define NONCE_MIN 16
#define NONCE_MAX 64 /* a TPM2B_DATA */

/*
 * A client for the configured verifier; says which setting is missing. With tcti (the TPM the
 * agent uses), and once enrollment has brought a client certificate, TLS connections present
 * that certificate with the TPM's TLS key (through the tpm2-openssl provider, which opens the
 * same TPM: the key never leaves it).
 */
static int open_verifier(const struct agent_config *cfg, const char *tcti, httpclient **c, pcrgate_errinfo *ei)
{
	struct httpclient_options o = {0};
	char why[sizeof(ei->message)], cert[AGENT_PATH_MAX], uri[32];
	struct stat st;
	int r;

	if (cfg->verifier_url[0] == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "verifier_url is not set in the agent's config file (%s)",
					   cfg->config[0] ? cfg->config : AGENT_DEFAULT_CONFIG);
	o.base_url = cfg->verifier_url;
	o.ca_file = cfg->verifier_ca[0] ? cfg->verifier_ca : NULL;
	if (tcti != NULL && agent_state_path(cfg, AGENT_CLIENT_CERT_FILE, cert, sizeof(cert), NULL) == PCRGATE_OK &&
	    stat(cert, &st) == 0) {
		snprintf(uri, sizeof(uri), "handle:0x%08x", (unsigned)cfg->tls_key_handle);
		o.cert_file = cert;
		o.tpm_key_uri = uri;
		o.tcti = tcti;
	}
	if ((r = httpclient_new(&o, c, ei)) != PCRGATE_OK && o.ca_file == NULL && r == PCRGATE_ERR_CONFIG) {
		snprintf(why, sizeof(why), "%s", ei->message);
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "verifier_url: %s (set verifier_ca)", why);
	}
	return r;
}

/*
 * POST path; any answer but 2xx is PCRGATE_ERR_VERIFY with the verifier's own error text and
 * check, so the operator sees why it refused.
 */
static int post(httpclient *c, const char *path, const json_t *body, json_t **resp, pcrgate_errinfo *ei)
{
	const char *text, *check;
	json_t *doc = NULL;
	long status = 0;
	int r;

	if ((r = httpclient_post(c, path, body, &status, &doc, ei)) != PCRGATE_OK)
		return r;
	if (status < 200 || status > 299) {
		text = httpclient_error_text(doc);
		check = json_string_value(json_object_get(doc, "check"));
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "%s: the verifier answered HTTP %ld%s%s%s%s%s",
					path, status, text ? ": " : "", text ? text : "", check ? " (check " : "",
					check ? check : "", check ? ")" : "");
		json_decref(doc);
		return r;
	}
	if (!json_is_object(doc)) {
		json_decref(doc);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "%s: the verifier's answer is not a JSON object", path);
	}
	*resp = doc;
	return PCRGATE_OK;
}

/* The device id the verifier gave: printable, no slash (it goes into paths), at most cap-1 bytes. */
static int copy_device_id(const json_t *doc, const char *what, char *out, size_t cap, pcrgate_errinfo *ei)
{
	const char *id, *p;
	int r;

	if ((r = jsonutil_get_string(doc, what, "device_id", &id, ei)) != PCRGATE_OK)
		return r;
	for (p = id; *p > 0x20 && *p < 0x7f && *p != '/'; p++)
		;
	if (*p != '\0' || p == id || (size_t)(p - id) >= cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: device_id is not a usable id",
					   what);
	memcpy(out, id, (size_t)(p - id) + 1);
	return PCRGATE_OK;
}

/* STATE_DIR/device.json's device id; PCRGATE_ERR_NOT_FOUND when this device is not enrolled. */
static int load_device(const struct agent_config *cfg, char *id, size_t cap, pcrgate_errinfo *ei)
{
	char path[AGENT_PATH_MAX];
	json_t *doc = NULL;
	int r;

	if ((r = agent_state_path(cfg, AGENT_DEVICE_FILE, path, sizeof(path), ei)) != PCRGATE_OK)
		return r;
	if ((r = agent_state_read(cfg, AGENT_DEVICE_FILE, &doc, ei)) == PCRGATE_ERR_NOT_FOUND)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
					   "not enrolled with a verifier (no %s): run 'pcrgate-agent enroll'", path);
	if (r == PCRGATE_OK)
		r = copy_device_id(doc, path, id, cap, ei);
	json_decref(doc);
	return r;
}

/* The EK enrollment sends: the one credential activation uses. */
static int enroll_ek(const struct agent_config *cfg, uint32_t *handle, uint32_t *cert_index, pcrgate_errinfo *ei)
{
	if (!(cfg->eks & (AGENT_EK_RSA | AGENT_EK_ECC)))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "ek = none: enrollment proves the AK with an EK; configure rsa or ecc");
	if (agent_activate_ek_alg(cfg) == TPM2_ALG_RSA) {
		*handle = cfg->ek_rsa_handle;
		*cert_index = EK_CERT_INDEX_RSA;
	} else {
		*handle = cfg->ek_ecc_handle;
		*cert_index = EK_CERT_INDEX_ECC;
	}
	return PCRGATE_OK;
}

/* A persistent object's public area as base64 TPM2B_PUBLIC; *name (may be NULL) gets its name. */
static int public_b64(ESYS_CONTEXT *esys, uint32_t handle, const char *what, json_t **out, TPM2B_NAME *name,
		      pcrgate_errinfo *ei)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	TPM2B_PUBLIC pub;
	size_t len = 0;
	int r;

	if ((r = tpmutil_open_persistent(esys, handle, what, NULL, &pub, name, NULL, ei)) != PCRGATE_OK) {
		if (r == PCRGATE_ERR_NOT_FOUND)
			pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no %s at 0x%08x: run 'pcrgate-agent provision'",
					    what, (unsigned)handle);
		return r;
	}
	if (tpmobj_public_marshal(&pub, buf, sizeof(buf), &len) != 0 || (*out = jsonutil_b64(buf, len)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot encode the %s", what);
	return PCRGATE_OK;
}

/* The body of POST /v1/enroll. */
static int enroll_request(pcrgate_tpm *tpm, const struct agent_config *cfg, json_t **out, TPM2B_NAME *akname,
			  pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	uint8_t cert[EK_CERT_MAX];
	uint32_t ek_handle = 0, cert_index = 0;
	size_t certlen = 0;
	pcrgate_errinfo cei;
	json_t *body = NULL, *v = NULL;
	int r;

	if ((r = enroll_ek(cfg, &ek_handle, &cert_index, ei)) != PCRGATE_OK)
		return r;
	if ((body = json_object()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = public_b64(esys, ek_handle, "EK", &v, NULL, ei)) != PCRGATE_OK ||
	    (r = json_object_set_new(body, "ek_public", v) == 0 ? PCRGATE_OK : PCRGATE_ERR_NOMEM) != PCRGATE_OK)
		goto fail;
	/* The verifier decides whether it needs the certificate; one that cannot be read is only noted. */
	pcrgate_errinfo_clear(&cei);
	r = ek_cert_read(esys, cert_index, cert, sizeof(cert), &certlen, &cei);
	if (r == PCRGATE_OK) {
		if (json_object_set_new(body, "ek_certificate", jsonutil_b64(cert, certlen)) != 0) {
			r = PCRGATE_ERR_NOMEM;
			goto fail;
		}
	} else if (r != PCRGATE_ERR_NOT_FOUND) {
		pg_warn("enrolling without the EK certificate: %s", cei.message);
	}
	if ((r = public_b64(esys, cfg->ak_handle, "AK", &v, akname, ei)) != PCRGATE_OK ||
	    (r = json_object_set_new(body, "ak_public", v) == 0 ? PCRGATE_OK : PCRGATE_ERR_NOMEM) != PCRGATE_OK)
		goto fail;
	/* The certification's freshness comes from the credential exchange: no nonce. */
	if ((r = agent_certify(tpm, cfg, NULL, 0, &v, ei)) != PCRGATE_OK)
		goto fail;
	if (json_object_set_new(body, "update_key_certification", v) != 0) {
		r = PCRGATE_ERR_NOMEM;
		goto fail;
	}
	if ((r = agent_certify_key(tpm, cfg, cfg->tls_key_handle, "TLS key", NULL, 0, &v, ei)) != PCRGATE_OK)
		goto fail;
	if (json_object_set_new(body, "tls_key_certification", v) != 0 ||
	    (cfg->device_group[0] && json_object_set_new(body, "group", json_string(cfg->device_group)) != 0)) {
		r = PCRGATE_ERR_NOMEM;
		goto fail;
	}
	*out = body;
	return PCRGATE_OK;
fail:
	json_decref(body);
	if (r == PCRGATE_ERR_NOMEM)
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot build the enrollment request");
	return r;
}

/*
 * The TLS client certificate the activation answer carries, kept in the state directory before
 * device.json (so an enrolled device always has it); a verifier that issues none leaves none.
 */
static int keep_client_certificate(const struct agent_config *cfg, const json_t *done, pcrgate_errinfo *ei)
{
	const char *pem = json_string_value(json_object_get(done, "client_certificate"));
	char path[AGENT_PATH_MAX];

	if (agent_state_path(cfg, AGENT_CLIENT_CERT_FILE, path, sizeof(path), ei) != PCRGATE_OK)
		return PCRGATE_ERR_LIMIT;
	if (pem == NULL) {
		if (unlink(path) != 0 && errno != ENOENT)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
		return PCRGATE_OK;
	}
	if (strncmp(pem, "-----BEGIN CERTIFICATE-----", 27) != 0 || strlen(pem) > 16384)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "/v1/enroll/activate: client_certificate is not one PEM certificate");
	return pcrgate_file_write_atomic(path, (const uint8_t *)pem, strlen(pem), 0644, ei);
}

int agent_enroll(pcrgate_tpm *tpm, const struct agent_config *cfg, int force, struct agent_enrollment *out,
		 pcrgate_errinfo *ei)
{
	struct agent_enrollment e;
	uint8_t blob[CREDENTIAL_MAX], enc[CREDENTIAL_MAX], *secret = NULL;
	size_t bloblen = 0, enclen = 0, slen = 0;
	const char *enrollment_id;
	TPM2B_NAME akname;
	httpclient *c = NULL;
	json_t *req = NULL, *resp = NULL, *act = NULL, *done = NULL, *dev = NULL;
	char akhex[2 * sizeof(akname.name) + 1];
	int lock = -1, r;

	memset(&e, 0, sizeof(e));
	if ((r = agent_lock(cfg, &lock, ei)) != PCRGATE_OK)
		return r;
	r = load_device(cfg, e.device_id, sizeof(e.device_id), ei);
	if (r == PCRGATE_OK && !force) {
		e.already = 1;
		goto done;
	}
	if (r != PCRGATE_OK && r != PCRGATE_ERR_NOT_FOUND)
		goto fail;
	if ((r = open_verifier(cfg, NULL, &c, ei)) != PCRGATE_OK ||
	    (r = enroll_request(tpm, cfg, &req, &akname, ei)) != PCRGATE_OK ||
	    (r = post(c, "/v1/enroll", req, &resp, ei)) != PCRGATE_OK)
		goto fail;
	if ((r = jsonutil_get_string(resp, "/v1/enroll", "enrollment_id", &enrollment_id, ei)) != PCRGATE_OK ||
	    (r = jsonutil_get_b64(resp, "/v1/enroll", "credential_blob", blob, sizeof(blob), &bloblen, ei)) != 0 ||
	    (r = jsonutil_get_b64(resp, "/v1/enroll", "encrypted_secret", enc, sizeof(enc), &enclen, ei)) != 0)
		goto fail;
	/* The TPM decrypts the secret only when the AK named in the credential is its own. */
	if ((r = agent_activate(tpm, cfg, blob, bloblen, enc, enclen, &secret, &slen, ei)) != PCRGATE_OK)
		goto fail;
	if ((act = json_pack("{s:s,s:o}", "enrollment_id", enrollment_id, "secret", jsonutil_b64(secret, slen))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = post(c, "/v1/enroll/activate", act, &done, ei)) != PCRGATE_OK ||
	    (r = copy_device_id(done, "/v1/enroll/activate", e.device_id, sizeof(e.device_id), ei)) != PCRGATE_OK)
		goto fail;
	if ((r = keep_client_certificate(cfg, done, ei)) != PCRGATE_OK)
		goto fail;
	pcrgate_hex_encode(akname.name, akname.size, akhex);
	if ((dev = json_pack("{s:s,s:s,s:s,s:I}", "device_id", e.device_id, "verifier_url", cfg->verifier_url,
			     "ak_name", akhex, "enrolled_at", (json_int_t)time(NULL))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = agent_state_write(cfg, AGENT_DEVICE_FILE, dev, 0644, ei)) != PCRGATE_OK)
		goto fail;
done:
	*out = e;
	r = PCRGATE_OK;
fail:
	if (secret != NULL)
		OPENSSL_clear_free(secret, slen);
	OPENSSL_cleanse(enc, sizeof(enc));
	json_decref(req);
	json_decref(resp);
	if (act != NULL) {
		/* It held the activated secret. */
		jsonutil_cleanse_member(act, "secret");
		json_decref(act);
	}
	json_decref(done);
	json_decref(dev);
	httpclient_free(&c);
	agent_unlock(&lock);
	return r;
}

/* The signed claims must state what the unsigned members of the authorization say. */
static int check_claims(const json_t *authz, const json_t *claims, pcrgate_errinfo *ei)
{
	static const char *const same[] = {"version", "security_version", "attestation_id"};
	const json_t *a, *b;
	size_t i;

	for (i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		a = json_object_get(authz, same[i]);
		b = json_object_get(claims, same[i]);
		if (a != NULL && (b == NULL || !json_equal(a, b)))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						   "authorization: %s differs from the signed token's", same[i]);
	}
	return PCRGATE_OK;
}

/* Checks the authorization in resp and keeps it in STATE_DIR/authorization.json (mode 0600). */
static int keep_authorization(const struct agent_config *cfg, const char *device_id, const json_t *evidence,
			      const json_t *resp, pcrgate_errinfo *ei)
{
	const json_t *authz = json_object_get(resp, "authorization");
	struct authz_expect want = {0};
	uint8_t *key = NULL;
	size_t keylen = 0;
	const char *token;
	json_t *claims = NULL, *doc = NULL, *v;
	int r;

	if (cfg->verifier_jws_key[0] == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "the verifier sent an authorization, but verifier_jws_key is not set to check it");
	if ((r = jsonutil_get_string(authz, "authorization", "token", &token, ei)) != PCRGATE_OK)
		return r;
	want.device = device_id;
	want.ak_name = json_string_value(json_object_get(evidence, "ak_name"));
	want.release = json_string_value(json_object_get(authz, "release"));
	want.manifest_digest = json_string_value(json_object_get(authz, "manifest_digest"));
	if (want.ak_name == NULL || want.release == NULL || want.manifest_digest == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "authorization: release or manifest_digest missing");
	if ((r = pcrgate_file_read(cfg->verifier_jws_key, AUTHZ_MAX_KEY, &key, &keylen, ei)) != PCRGATE_OK)
		return r;
	if ((r = authz_verify(key, keylen, token, time(NULL), &want, &claims, ei)) != PCRGATE_OK ||
	    (r = check_claims(authz, claims, ei)) != PCRGATE_OK)
		goto fail;
	if ((doc = json_deep_copy(authz)) == NULL || json_object_set(doc, "claims", claims) != 0 ||
	    json_object_set_new(doc, "device_id", json_string(device_id)) != 0 ||
	    json_object_set_new(doc, "received_at", json_integer((json_int_t)time(NULL))) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((v = json_object_get(resp, "attestation_id")) != NULL && json_object_get(doc, "attestation_id") == NULL)
		json_object_set(doc, "attestation_id", v);
	r = agent_state_write(cfg, AGENT_AUTHORIZATION_FILE, doc, 0600, ei);
fail:
	json_decref(doc);
	json_decref(claims);
	free(key);
	return r;
}

/* The verifier's nonce: hex of NONCE_MIN to NONCE_MAX bytes. */
static int get_nonce(httpclient *c, const char *device_id, uint8_t *nonce, size_t *len, pcrgate_errinfo *ei)
{
	json_t *req = json_pack("{s:s}", "device_id", device_id), *resp = NULL;
	int r;

	if (req == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = post(c, "/v1/attest/nonce", req, &resp, ei)) == PCRGATE_OK &&
	    (r = jsonutil_get_hex(resp, "/v1/attest/nonce", "nonce", nonce, NONCE_MAX, len, ei)) == PCRGATE_OK &&
	    *len < NONCE_MIN)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"/v1/attest/nonce: a nonce of %zu bytes is too short", *len);
	json_decref(req);
	json_decref(resp);
	return r;
}

const char *agent_failed_check(const json_t *response)
{
	const char *verdict = json_string_value(json_object_get(response, "verdict"));
	const char *check = json_string_value(json_object_get(response, "failed_check"));

	if (verdict != NULL && strcmp(verdict, "pass") == 0)
		return NULL;
	return check != NULL ? check : "?";
}

int agent_attest(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *report, size_t report_len,
		 json_t **response, int *authorized, pcrgate_errinfo *ei)
{
	char device_id[sizeof(((struct agent_enrollment *)0)->device_id)];
	uint8_t nonce[NONCE_MAX], binding[32];
	const uint8_t *qualifying = nonce;
	size_t nlen = 0, qlen;
	httpclient *c = NULL;
	json_t *evidence = NULL, *req = NULL, *resp = NULL, *text = NULL;
	const char *verdict;
	int r, granted = 0;

	if ((r = load_device(cfg, device_id, sizeof(device_id), ei)) != PCRGATE_OK ||
	    (r = open_verifier(cfg, pcrgate_tpm_tcti(tpm), &c, ei)) != PCRGATE_OK)
		goto fail;
	if (report != NULL && (text = json_stringn((const char *)report, report_len)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "the report is not UTF-8 text");
		goto fail;
	}
	if ((r = get_nonce(c, device_id, nonce, &nlen, ei)) != PCRGATE_OK)
		goto fail;
	qlen = nlen;
	/* A report rides on the quote: the TPM signs SHA-256(nonce || report) instead of the nonce. */
	if (report != NULL) {
		if ((r = pcrgate_evidence_report_binding(nonce, nlen, report, report_len, binding)) != PCRGATE_OK) {
			pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot bind the report to the nonce");
			goto fail;
		}
		qualifying = binding;
		qlen = sizeof(binding);
	}
	if ((r = agent_quote(tpm, cfg, qualifying, qlen, &evidence, ei)) != PCRGATE_OK)
		goto fail;
	/* The verifier's nonce goes along: the evidence's own nonce member is the qualifying data. */
	if ((req = json_pack("{s:s,s:O,s:o}", "device_id", device_id, "evidence", evidence, "nonce",
			     jsonutil_hex(nonce, nlen))) == NULL ||
	    (text != NULL && json_object_set(req, "report", text) != 0)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = post(c, "/v1/attest", req, &resp, ei)) != PCRGATE_OK)
		goto fail;
	verdict = json_string_value(json_object_get(resp, "verdict"));
	if (verdict == NULL || (strcmp(verdict, "pass") != 0 && strcmp(verdict, "fail") != 0)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"/v1/attest: the answer has no verdict \"pass\" or \"fail\"");
		goto fail;
	}
	if (json_is_object(json_object_get(resp, "authorization"))) {
		if (strcmp(verdict, "pass") != 0) {
			pg_warn("an authorization with a failed verdict is ignored");
		} else {
			if ((r = keep_authorization(cfg, device_id, evidence, resp, ei)) != PCRGATE_OK)
				goto fail;
			granted = 1;
		}
	}
	*response = resp;
	resp = NULL;
	*authorized = granted;
	r = PCRGATE_OK;
fail:
	json_decref(evidence);
	json_decref(req);
	json_decref(resp);
	json_decref(text);
	httpclient_free(&c);
	return r;
}
