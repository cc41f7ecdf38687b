/*
 * pcrgate-agent: `status`, the agent's objects as the TPM holds them: for each persistent
 * object its handle, whether it is there and is what provisioning makes, its name and public
 * area (and an EK's certificate); the counter and its value; the update key's expected
 * authPolicy. What a verifier needs to enroll the device, and what an operator checks.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "counter.h"
#include "jsonutil.h"
#include "policy.h"
#include "provision.h"
#include "tpmobj.h"
#include "tpmutil.h"

static int set_str(json_t *obj, const char *key, const char *value)
{
	return json_object_set_new(obj, key, json_string(value));
}

static int set_handle(json_t *obj, const char *key, uint32_t handle)
{
	char h[11];

	return set_str(obj, key, tpmutil_handle_str(handle, h));
}

/* One persistent object; *ok cleared when it is missing or not the expected one. */
static json_t *object_status(ESYS_CONTEXT *esys, const struct objspec *spec, const TPM2B_NAME *srk_qn,
			     TPM2B_NAME *qn_out, int *ok)
{
	uint8_t der[EK_CERT_MAX];
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	json_t *o = json_object();
	TPM2B_PUBLIC pub;
	TPM2B_NAME name, qn;
	pcrgate_errinfo ei;
	size_t len = 0;
	int r, m;

	if (o == NULL || set_handle(o, "handle", spec->handle) != 0)
		goto fail;
	pcrgate_errinfo_clear(&ei);
	memset(&pub, 0, sizeof(pub));
	r = objspec_check(esys, spec, srk_qn, &pub, &name, &qn, &ei);
	if (r == PCRGATE_ERR_NOT_FOUND) {
		*ok = 0;
		return set_str(o, "state", "absent") == 0 ? o : (json_decref(o), NULL);
	}
	if (r != PCRGATE_OK && pub.size == 0) {
		*ok = 0;
		if (set_str(o, "state", "error") != 0 || set_str(o, "problem", ei.message) != 0)
			goto fail;
		return o;
	}
	if (r != PCRGATE_OK)
		*ok = 0;
	else if (qn_out != NULL)
		*qn_out = qn;
	if (set_str(o, "state", r == PCRGATE_OK ? "ok" : "mismatch") != 0 ||
	    (r != PCRGATE_OK && set_str(o, "problem", ei.message) != 0) ||
	    json_object_set_new(o, "name", jsonutil_hex(name.name, name.size)) != 0 ||
	    json_object_set_new(o, "qualified_name", jsonutil_hex(qn.name, qn.size)) != 0 ||
	    tpmobj_public_marshal(&pub, buf, sizeof(buf), &len) != 0 ||
	    json_object_set_new(o, "public", jsonutil_b64(buf, len)) != 0)
		goto fail;
	if (spec->tmpl.publicArea.authPolicy.size > 0 && spec->cert_index == 0 &&
	    json_object_set_new(o, "auth_policy",
				jsonutil_hex(pub.publicArea.authPolicy.buffer, pub.publicArea.authPolicy.size)) != 0)
		goto fail;
	if (spec->cert_index != 0) {
		if (set_handle(o, "certificate_index", spec->cert_index) != 0)
			goto fail;
		pcrgate_errinfo_clear(&ei);
		if (ek_cert_read(esys, spec->cert_index, der, sizeof(der), &len, &ei) == PCRGATE_OK) {
			m = ek_cert_matches(der, len, &pub.publicArea);
			if (json_object_set_new(o, "certificate", jsonutil_b64(der, len)) != 0 ||
			    set_str(o, "certificate_state", m == 1 ? "certifies this EK" : m == 0 ? "another key" : "not parsable") != 0)
				goto fail;
		} else if (json_object_set_new(o, "certificate", json_null()) != 0) {
			goto fail;
		}
	}
	return o;
fail:
	json_decref(o);
	return NULL;
}

static json_t *counter_status(ESYS_CONTEXT *esys, const struct agent_config *cfg, int *ok)
{
	json_t *o = json_object();
	TPM2B_NV_PUBLIC pub;
	TPM2B_NAME name;
	ESYS_TR nv = ESYS_TR_NONE;
	pcrgate_errinfo ei;
	char path[AGENT_PATH_MAX], why[160];
	uint64_t value = 0;
	int r;

	pcrgate_errinfo_clear(&ei);
	if (o == NULL || set_handle(o, "index", cfg->counter_index) != 0)
		goto fail;
	r = counter_open(esys, cfg->counter_index, &nv, &pub, &ei);
	tpmutil_close(esys, &nv);
	if (r != PCRGATE_OK) {
		*ok = 0;
		if (set_str(o, "state", r == PCRGATE_ERR_NOT_FOUND ? "absent" : "error") != 0 ||
		    (r != PCRGATE_ERR_NOT_FOUND && set_str(o, "problem", ei.message) != 0))
			goto fail;
		return o;
	}
	r = counter_check_public(&pub, why, sizeof(why));
	if (r == PCRGATE_OK && !(pub.nvPublic.attributes & TPMA_NV_WRITTEN)) {
		r = PCRGATE_ERR_NOT_FOUND;
		snprintf(why, sizeof(why), "never incremented");
	}
	if (r != PCRGATE_OK)
		*ok = 0;
	if (set_str(o, "state", r == PCRGATE_OK ? "ok" : "mismatch") != 0 || (r != PCRGATE_OK && set_str(o, "problem", why) != 0))
		goto fail;
	if (policy_counter_name(cfg->counter_index, 1, &name) != 0 ||
	    json_object_set_new(o, "name", jsonutil_hex(name.name, name.size)) != 0)
		goto fail;
	if (agent_counter_read(esys, cfg->counter_index, &value, &ei) == PCRGATE_OK &&
	    json_object_set_new(o, "value", json_integer((json_int_t)value)) != 0)
		goto fail;
	if (agent_state_path(cfg, AGENT_COUNTER_AUTH_FILE, path, sizeof(path), NULL) != 0)
		goto fail;
	if (access(path, F_OK) != 0)
		*ok = 0;
	if (set_str(o, "write_secret", access(path, F_OK) == 0 ? "present" : "missing") != 0)
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

int agent_status(pcrgate_tpm *tpm, const struct agent_config *cfg, json_t **out, int *complete, pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	struct objspec specs[OBJSPEC_MAX];
	TPM2B_NAME key_name, srk_qn;
	TPM2B_DIGEST policy;
	TPM2B_NONCE ref;
	json_t *doc = NULL, *objs = NULL, *pol = NULL, *o;
	size_t n = 0, i;
	int ok = 1, r;

	if ((r = objspecs(cfg, specs, &n, &key_name, &policy, ei)) != PCRGATE_OK)
		return r;
	policy_ref(cfg->counter_index, &ref);
	memset(&srk_qn, 0, sizeof(srk_qn));
	if ((doc = json_object()) == NULL || (objs = json_object()) == NULL || (pol = json_object()) == NULL ||
	    set_str(doc, "tcti", pcrgate_tpm_tcti(tpm)) != 0 || set_str(doc, "state_dir", cfg->state_dir) != 0)
		goto nomem;
	for (i = 0; i < n; i++) {
		if (specs[i].kind == OBJ_CHILD_OF_SRK && json_object_get(objs, "counter") == NULL) {
			if ((o = counter_status(esys, cfg, &ok)) == NULL || json_object_set_new(objs, "counter", o) != 0)
				goto nomem;
		}
		o = object_status(esys, &specs[i], &srk_qn, specs[i].kind == OBJ_PRIMARY_OWNER ? &srk_qn : NULL, &ok);
		if (o == NULL || json_object_set_new(objs, specs[i].name, o) != 0)
			goto nomem;
	}
	if (json_object_set(doc, "objects", objs) != 0 ||
	    json_object_set_new(pol, "key", json_string(cfg->policy_key)) != 0 ||
	    json_object_set_new(pol, "key_name", jsonutil_hex(key_name.name, key_name.size)) != 0 ||
	    json_object_set_new(pol, "policy_ref", jsonutil_hex(ref.buffer, ref.size)) != 0 ||
	    json_object_set_new(pol, "update_key_auth_policy", jsonutil_hex(policy.buffer, policy.size)) != 0 ||
	    json_object_set(doc, "policy", pol) != 0 || json_object_set_new(doc, "complete", json_boolean(ok)) != 0)
		goto nomem;
	json_decref(objs);
	json_decref(pol);
	*out = doc;
	*complete = ok;
	return PCRGATE_OK;
nomem:
	json_decref(doc);
	json_decref(objs);
	json_decref(pol);
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot build the status");
}
