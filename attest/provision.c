/*
 * pcrgate-agent: provisioning. Each step first looks at what the TPM holds at its handle: the
 * expected object means the step is done, nothing means it is made now, anything else is an
 * error that names the handle and leaves the object alone. So a second run changes nothing
 * and a run cut at any point completes on the next. Steps: EKs (TCG templates, and their
 * certificates from NV), SRK, anti-rollback counter, AK, update key.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "counter.h"
#include "policy.h"
#include "provision.h"
#include "tpmobj.h"
#include "tpmutil.h"

int objspecs(const struct agent_config *cfg, struct objspec *specs, size_t *count, TPM2B_NAME *policy_key_name,
	     TPM2B_DIGEST *update_policy, pcrgate_errinfo *ei)
{
	TPM2B_PUBLIC vendor;
	TPM2B_NAME vname;
	TPM2B_NONCE ref;
	TPM2B_DIGEST policy;
	EVP_PKEY *pkey = NULL;
	size_t n = 0;
	int r;

	/* The vendor's key comes first: a configuration error must stop provisioning before it changes anything. */
	if ((r = pcrgate_key_load(cfg->policy_key, 0, &pkey, ei)) != PCRGATE_OK) {
		char why[sizeof(ei->message)];

		/* The loader's message names the key as it may be shown (a URI without its query). */
		snprintf(why, sizeof(why), "%s", ei != NULL ? ei->message : "");
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "policy_key: %s: no public key to bind the update "
					   "key to", why);
	}
	r = tpmobj_from_evp(pkey, &vendor, ei);
	EVP_PKEY_free(pkey);
	if (r != PCRGATE_OK)
		return r;
	policy_ref(cfg->counter_index, &ref);
	if (tpmobj_name(&vendor.publicArea, &vname) != 0 || policy_authorize_digest(&vname, &ref, &policy) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot compute the update key's "
					   "authPolicy");
	memset(specs, 0, sizeof(*specs) * OBJSPEC_MAX);
	if (cfg->eks & AGENT_EK_RSA) {
		specs[n] = (struct objspec){"ek-rsa", OBJ_PRIMARY_ENDORSEMENT, cfg->ek_rsa_handle, EK_CERT_INDEX_RSA, {0}};
		tpmobj_template_ek(TPM2_ALG_RSA, &specs[n++].tmpl);
	}
	if (cfg->eks & AGENT_EK_ECC) {
		specs[n] = (struct objspec){"ek-ecc", OBJ_PRIMARY_ENDORSEMENT, cfg->ek_ecc_handle, EK_CERT_INDEX_ECC, {0}};
		tpmobj_template_ek(TPM2_ALG_ECC, &specs[n++].tmpl);
	}
	specs[n] = (struct objspec){"srk", OBJ_PRIMARY_OWNER, cfg->srk_handle, 0, {0}};
	tpmobj_template_srk(cfg->srk_alg, &specs[n++].tmpl);
	specs[n] = (struct objspec){"ak", OBJ_CHILD_OF_SRK, cfg->ak_handle, 0, {0}};
	tpmobj_template_ak(cfg->ak_alg, &specs[n++].tmpl);
	specs[n] = (struct objspec){"update-key", OBJ_CHILD_OF_SRK, cfg->update_key_handle, 0, {0}};
	tpmobj_template_update_key(&policy, &specs[n++].tmpl);
	specs[n] = (struct objspec){"tls-key", OBJ_CHILD_OF_SRK, cfg->tls_key_handle, 0, {0}};
	tpmobj_template_tls_key(&specs[n++].tmpl);
	*count = n;
	if (policy_key_name != NULL)
		*policy_key_name = vname;
	if (update_policy != NULL)
		*update_policy = policy;
	return PCRGATE_OK;
}

int objspec_check(ESYS_CONTEXT *esys, const struct objspec *spec, const TPM2B_NAME *srk_qn, TPM2B_PUBLIC *pub,
		  TPM2B_NAME *name, TPM2B_NAME *qn, pcrgate_errinfo *ei)
{
	TPM2B_PUBLIC have;
	TPM2B_NAME n, q, want_qn;
	char why[200], h[11];
	int r;

	if ((r = tpmutil_open_persistent(esys, spec->handle, spec->name, NULL, &have, &n, &q, ei)) != PCRGATE_OK)
		return r;
	if (pub != NULL)
		*pub = have;
	if (name != NULL)
		*name = n;
	if (qn != NULL)
		*qn = q;
	if (tpmobj_matches(&have.publicArea, &spec->tmpl.publicArea, why, sizeof(why)) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the object at %s is not the %s pcrgate provisions: %s; it is left in place "
					   "(configure another handle, or evict it if it is not in use)",
					   tpmutil_handle_str(spec->handle, h), spec->name, why);
	/* A child must live under this SRK: its qualified name proves its parent. */
	if (spec->kind == OBJ_CHILD_OF_SRK &&
	    (srk_qn == NULL || tpmobj_qualified_name(have.publicArea.nameAlg, srk_qn, &n, &want_qn) != PCRGATE_OK ||
	     want_qn.size != q.size || !pcrgate_ct_equal(want_qn.name, q.name, q.size)))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "the %s at %s is not a child of the SRK at the configured srk_handle; it is "
					   "left in place",
					   spec->name, tpmutil_handle_str(spec->handle, h));
	return PCRGATE_OK;
}

static TPM2_HANDLE nv_buffer_max(ESYS_CONTEXT *esys)
{
	TPMS_CAPABILITY_DATA *cap = NULL;
	TPMI_YES_NO more;
	TPM2_HANDLE v = 512;
	TSS2_RC rc;

	PCRGATE_TPM_RETRY(rc, Esys_GetCapability(esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
						 TPM2_CAP_TPM_PROPERTIES, TPM2_PT_NV_BUFFER_MAX, 1, &more, &cap));
	if (rc == TSS2_RC_SUCCESS && cap->data.tpmProperties.count == 1 &&
	    cap->data.tpmProperties.tpmProperty[0].property == TPM2_PT_NV_BUFFER_MAX &&
	    cap->data.tpmProperties.tpmProperty[0].value >= 64)
		v = cap->data.tpmProperties.tpmProperty[0].value;
	Esys_Free(cap);
	return v > TPM2_MAX_NV_BUFFER_SIZE ? TPM2_MAX_NV_BUFFER_SIZE : v;
}

int ek_cert_read(ESYS_CONTEXT *esys, uint32_t index, uint8_t *buf, size_t cap, size_t *len, pcrgate_errinfo *ei)
{
	TPM2B_NV_PUBLIC *pub = NULL;
	TPM2B_MAX_NV_BUFFER *data = NULL;
	ESYS_TR nv = ESYS_TR_NONE, auth;
	TPMA_NV attrs;
	size_t size, off = 0, chunk;
	char cmd[64];
	TSS2_RC rc;
	int r = PCRGATE_ERR_NOT_FOUND;

	snprintf(cmd, sizeof(cmd), "TPM2_NV_Read (EK certificate 0x%08x)", (unsigned)index);
	PCRGATE_TPM_RETRY(rc, Esys_TR_FromTPMPublic(esys, index, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &nv));
	if (tpmutil_rc_base(rc) == TPM2_RC_HANDLE)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no EK certificate at 0x%08x", (unsigned)index);
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error(cmd, rc, ei);
	PCRGATE_TPM_RETRY(rc, Esys_NV_ReadPublic(esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL));
	if (rc != TSS2_RC_SUCCESS) {
		r = pcrgate_tpm_error(cmd, rc, ei);
		goto fail;
	}
	attrs = pub->nvPublic.attributes;
	size = pub->nvPublic.dataSize;
	if (!(attrs & TPMA_NV_WRITTEN) || size == 0) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "EK certificate index 0x%08x is empty", (unsigned)index);
		goto fail;
	}
	if (size > cap) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"EK certificate at 0x%08x has %zu bytes, at most %zu read", (unsigned)index, size, cap);
		goto fail;
	}
	/* Manufacturers make it readable without a secret: with its empty authValue, or the owner's. */
	if ((attrs & TPMA_NV_AUTHREAD) && (attrs & TPMA_NV_NO_DA))
		auth = nv;
	else if (attrs & TPMA_NV_OWNERREAD)
		auth = ESYS_TR_RH_OWNER;
	else {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					"EK certificate at 0x%08x is not readable without a secret", (unsigned)index);
		goto fail;
	}
	chunk = nv_buffer_max(esys);
	while (off < size) {
		UINT16 n = (UINT16)(size - off < chunk ? size - off : chunk);

		PCRGATE_TPM_RETRY(rc, Esys_NV_Read(esys, auth, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
						   (UINT16)off, &data));
		if (rc != TSS2_RC_SUCCESS) {
			r = pcrgate_tpm_error(cmd, rc, ei);
			goto fail;
		}
		if (data->size != n) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET, "%s: %u bytes instead of %u", cmd,
						(unsigned)data->size, (unsigned)n);
			goto fail;
		}
		memcpy(buf + off, data->buffer, n);
		off += n;
		Esys_Free(data);
		data = NULL;
	}
	*len = size;
	r = PCRGATE_OK;
fail:
	Esys_Free(data);
	Esys_Free(pub);
	tpmutil_close(esys, &nv);
	return r;
}

int ek_cert_matches(const uint8_t *der, size_t len, const TPMT_PUBLIC *pub)
{
	const uint8_t *p = der;
	X509 *cert = d2i_X509(NULL, &p, (long)len);
	EVP_PKEY *ek = NULL;
	int r = -1;

	if (cert != NULL && tpmobj_to_evp(pub, &ek, NULL) == PCRGATE_OK)
		r = EVP_PKEY_eq(X509_get0_pubkey(cert), ek) == 1;
	/* Real EK certificates have known encoding defects; an unparsable one is reported, not fatal. */
	ERR_clear_error();
	EVP_PKEY_free(ek);
	X509_free(cert);
	return r;
}

static struct agent_step *step_add(struct agent_report *rep, const char *name, uint32_t handle)
{
	struct agent_step *st = &rep->steps[rep->count < AGENT_MAX_STEPS ? rep->count++ : AGENT_MAX_STEPS - 1];

	memset(st, 0, sizeof(*st));
	snprintf(st->name, sizeof(st->name), "%s", name);
	st->handle = handle;
	return st;
}

/* Creates the object of spec, loads it where needed and makes it persistent; no transient object outlives this. */
static int make_object(ESYS_CONTEXT *esys, const struct objspec *spec, ESYS_TR srk, pcrgate_errinfo *ei)
{
	const TPM2B_SENSITIVE_CREATE sensitive = {0};
	const TPM2B_DATA outside = {0};
	const TPML_PCR_SELECTION no_pcrs = {0};
	TPM2B_PRIVATE *priv = NULL;
	TPM2B_PUBLIC *pub = NULL;
	ESYS_TR obj = ESYS_TR_NONE;
	char cmd[80], what[48];
	TSS2_RC rc;
	int r;

	if (spec->kind == OBJ_CHILD_OF_SRK) {
		snprintf(cmd, sizeof(cmd), "TPM2_Create (%s)", spec->name);
		PCRGATE_TPM_RETRY(rc, Esys_Create(esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, &sensitive,
						  &spec->tmpl, &outside, &no_pcrs, &priv, &pub, NULL, NULL, NULL));
		if (rc == TSS2_RC_SUCCESS) {
			snprintf(cmd, sizeof(cmd), "TPM2_Load (%s)", spec->name);
			PCRGATE_TPM_RETRY(rc, Esys_Load(esys, srk, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, priv, pub,
							&obj));
		}
	} else {
		ESYS_TR hierarchy = spec->kind == OBJ_PRIMARY_ENDORSEMENT ? ESYS_TR_RH_ENDORSEMENT : ESYS_TR_RH_OWNER;

		snprintf(cmd, sizeof(cmd), "TPM2_CreatePrimary (%s)", spec->name);
		PCRGATE_TPM_RETRY(rc, Esys_CreatePrimary(esys, hierarchy, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
							 &sensitive, &spec->tmpl, &outside, &no_pcrs, &obj, NULL, NULL,
							 NULL, NULL));
	}
	Esys_Free(priv);
	Esys_Free(pub);
	if (rc != TSS2_RC_SUCCESS)
		return pcrgate_tpm_error(cmd, rc, ei);
	snprintf(what, sizeof(what), "TPM2_EvictControl (%s)", spec->name);
	agent_fault_point(what);
	r = tpmutil_persist(esys, obj, spec->handle, spec->name, ei);
	tpmutil_flush(esys, &obj);
	return r;
}

/* Finds the EK's certificate and says whether it certifies this EK; its absence is no error. */
static void ek_cert_note(ESYS_CONTEXT *esys, const struct objspec *spec, const TPMT_PUBLIC *ek, struct agent_step *st)
{
	uint8_t der[EK_CERT_MAX];
	size_t len = 0, n = strlen(st->what);
	pcrgate_errinfo ei;
	int m;

	pcrgate_errinfo_clear(&ei);
	if (ek_cert_read(esys, spec->cert_index, der, sizeof(der), &len, &ei) != PCRGATE_OK) {
		snprintf(st->what + n, sizeof(st->what) - n, "; %s", ei.code == PCRGATE_ERR_NOT_FOUND
									? "no EK certificate in NV"
									: ei.message);
		return;
	}
	m = ek_cert_matches(der, len, ek);
	snprintf(st->what + n, sizeof(st->what) - n, "; EK certificate at 0x%08x (%zu bytes%s)",
		 (unsigned)spec->cert_index, len,
		 m == 1 ? ", certifies this EK" : m == 0 ? ", for ANOTHER key" : ", not parsable");
	if (m == 0)
		pg_warn("the EK certificate at 0x%08x does not certify the %s at 0x%08x", (unsigned)spec->cert_index,
			spec->name, (unsigned)spec->handle);
}

int agent_provision(pcrgate_tpm *tpm, const struct agent_config *cfg, struct agent_report *rep, pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	struct objspec specs[OBJSPEC_MAX];
	struct agent_step *st;
	TPM2B_PUBLIC have;
	TPM2B_NAME srk_qn;
	ESYS_TR srk = ESYS_TR_NONE;
	size_t n = 0, i;
	int r, lock = -1;

	memset(rep, 0, sizeof(*rep));
	if ((r = objspecs(cfg, specs, &n, NULL, NULL, ei)) != PCRGATE_OK)
		return r;
	if ((r = agent_lock(cfg, &lock, ei)) != PCRGATE_OK)
		return r;
	for (i = 0; i < n; i++) {
		if (specs[i].kind == OBJ_CHILD_OF_SRK && srk == ESYS_TR_NONE) {
			/* Between the SRK and the keys under it: the counter, whose secret goes in an SRK-salted session. */
			if ((r = tpmutil_open_srk(esys, cfg, &srk, ei)) != PCRGATE_OK)
				goto fail;
			st = step_add(rep, "counter", cfg->counter_index);
			if ((r = counter_provision(esys, cfg, srk, st, ei)) != PCRGATE_OK)
				goto fail;
			rep->changed += (unsigned)st->changed;
		}
		st = step_add(rep, specs[i].name, specs[i].handle);
		r = objspec_check(esys, &specs[i], specs[i].kind == OBJ_CHILD_OF_SRK ? &srk_qn : NULL, &have, NULL,
				  specs[i].kind == OBJ_PRIMARY_OWNER ? &srk_qn : NULL, ei);
		if (r == PCRGATE_ERR_NOT_FOUND) {
			if ((r = make_object(esys, &specs[i], srk, ei)) != PCRGATE_OK ||
			    (r = objspec_check(esys, &specs[i], specs[i].kind == OBJ_CHILD_OF_SRK ? &srk_qn : NULL, &have,
					       NULL, specs[i].kind == OBJ_PRIMARY_OWNER ? &srk_qn : NULL, ei)) != 0)
				goto fail;
			st->changed = 1;
			rep->changed++;
			snprintf(st->what, sizeof(st->what), "created");
		} else if (r != PCRGATE_OK) {
			goto fail;
		} else {
			snprintf(st->what, sizeof(st->what), "present");
		}
		if (specs[i].cert_index != 0)
			ek_cert_note(esys, &specs[i], &have.publicArea, st);
	}
	r = PCRGATE_OK;
fail:
	tpmutil_close(esys, &srk);
	agent_unlock(&lock);
	return r;
}
