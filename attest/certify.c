/*
 * pcrgate: the AK's certification of the update key (certify.h): TPM2_Certify on the device,
 * and its verification in software.
 */
#include "config.h"

#include <string.h>

#include <tss2/tss2_mu.h>

#include "agent.h"
#include "certify.h"
#include "jsonutil.h"
#include "pcrgate/alg.h"
#include "policy.h"
#include "tpmobj.h"
#include "tpmutil.h"

#define ATTR_RESTRICTED_SIGNER                                                                                 \
	(TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_RESTRICTED | \
	 TPMA_OBJECT_SIGN_ENCRYPT)

static json_t *key_json(uint32_t handle, const TPM2B_PUBLIC *pub, const TPM2B_NAME *name, const TPM2B_NAME *qn)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	size_t len = 0;
	char h[11];
	json_t *o = json_object();

	if (o == NULL || tpmobj_public_marshal(pub, buf, sizeof(buf), &len) != 0 ||
	    json_object_set_new(o, "handle", json_string(tpmutil_handle_str(handle, h))) != 0 ||
	    json_object_set_new(o, "public", jsonutil_b64(buf, len)) != 0 ||
	    json_object_set_new(o, "name", jsonutil_hex(name->name, name->size)) != 0 ||
	    json_object_set_new(o, "qualified_name", jsonutil_hex(qn->name, qn->size)) != 0) {
		json_decref(o);
		return NULL;
	}
	return o;
}

int agent_certify(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *nonce, size_t nonce_len,
		  json_t **out, pcrgate_errinfo *ei)
{
	return agent_certify_key(tpm, cfg, cfg->update_key_handle, "update key", nonce, nonce_len, out, ei);
}

int agent_certify_key(pcrgate_tpm *tpm, const struct agent_config *cfg, uint32_t handle, const char *what,
		      const uint8_t *nonce, size_t nonce_len, json_t **out, pcrgate_errinfo *ei)
{
	ESYS_CONTEXT *esys = pcrgate_tpm_esys(tpm);
	const TPMT_SIG_SCHEME null_scheme = {.scheme = TPM2_ALG_NULL};
	TPM2B_PUBLIC akpub, ukpub;
	TPM2B_NAME akname, akqn, ukname, ukqn, srkqn;
	TPM2B_DATA qualifying;
	TPM2B_ATTEST *attest = NULL;
	TPMT_SIGNATURE *sig = NULL;
	ESYS_TR ak = ESYS_TR_NONE, uk = ESYS_TR_NONE;
	uint8_t sigbuf[sizeof(TPMT_SIGNATURE)];
	size_t siglen = 0;
	json_t *doc = NULL;
	TSS2_RC rc;
	int r;

	if (nonce_len > sizeof(qualifying.buffer))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "nonce of %zu bytes; at most %zu", nonce_len, sizeof(qualifying.buffer));
	qualifying.size = (UINT16)nonce_len;
	if (nonce_len > 0)
		memcpy(qualifying.buffer, nonce, nonce_len);
	if ((r = tpmutil_open_persistent(esys, cfg->srk_handle, "SRK", NULL, NULL, NULL, &srkqn, ei)) != 0 ||
	    (r = tpmutil_open_persistent(esys, cfg->ak_handle, "AK", &ak, &akpub, &akname, &akqn, ei)) != 0 ||
	    (r = tpmutil_open_persistent(esys, handle, what, &uk, &ukpub, &ukname, &ukqn, ei)) != 0)
		goto fail;
	/* Both with their (empty) authValue: the AK's USER role, the key's ADMIN role. */
	PCRGATE_TPM_RETRY(rc, Esys_Certify(esys, uk, ak, ESYS_TR_PASSWORD, ESYS_TR_PASSWORD, ESYS_TR_NONE, &qualifying,
					   &null_scheme, &attest, &sig));
	if (rc != TSS2_RC_SUCCESS) {
		char cmd[64];

		snprintf(cmd, sizeof(cmd), "TPM2_Certify (%s by the AK)", what);
		r = pcrgate_tpm_error(cmd, rc, ei);
		goto fail;
	}
	if (Tss2_MU_TPMT_SIGNATURE_Marshal(sig, sigbuf, sizeof(sigbuf), &siglen) != TSS2_RC_SUCCESS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_TPM, PCRGATE_NO_OFFSET, "cannot marshal the signature");
		goto fail;
	}
	if ((doc = json_object()) == NULL || json_object_set_new(doc, "format", json_string(CERTIFY_FORMAT)) != 0 ||
	    json_object_set_new(doc, "version", json_integer(1)) != 0 ||
	    json_object_set_new(doc, "nonce", jsonutil_hex(nonce, nonce_len)) != 0 ||
	    json_object_set_new(doc, "parent_qualified_name", jsonutil_hex(srkqn.name, srkqn.size)) != 0 ||
	    json_object_set_new(doc, "ak", key_json(cfg->ak_handle, &akpub, &akname, &akqn)) != 0 ||
	    json_object_set_new(doc, "key", key_json(handle, &ukpub, &ukname, &ukqn)) != 0 ||
	    json_object_set_new(doc, "attest", jsonutil_b64(attest->attestationData, attest->size)) != 0 ||
	    json_object_set_new(doc, "signature", jsonutil_b64(sigbuf, siglen)) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot build the document");
		goto fail;
	}
	*out = doc;
	doc = NULL;
	r = PCRGATE_OK;
fail:
	json_decref(doc);
	Esys_Free(attest);
	Esys_Free(sig);
	tpmutil_close(esys, &ak);
	tpmutil_close(esys, &uk);
	return r;
}

static int fail_check(pcrgate_errinfo *ei, const char *what)
{
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "certification: %s", what);
}

static int name_equal(const TPM2B_NAME *a, const TPM2B_NAME *b)
{
	return a->size == b->size && pcrgate_ct_equal(a->name, b->name, a->size);
}

/* A key member of the document: its public area, and the name it states must be that area's. */
static int read_key(const json_t *doc, const char *member, TPM2B_PUBLIC *pub, TPM2B_NAME *name, pcrgate_errinfo *ei)
{
	uint8_t buf[sizeof(TPM2B_PUBLIC)];
	TPM2B_NAME stated;
	json_t *o;
	size_t n = 0;
	int r;

	if ((r = jsonutil_get_object(doc, "certification", member, &o, ei)) != 0 ||
	    (r = jsonutil_get_b64(o, member, "public", buf, sizeof(buf), &n, ei)) != 0 ||
	    (r = tpmobj_public_unmarshal(buf, n, pub, ei)) != 0 ||
	    (r = jsonutil_get_hex(o, member, "name", stated.name, sizeof(stated.name), &n, ei)) != 0)
		return r;
	stated.size = (UINT16)n;
	if (tpmobj_name(&pub->publicArea, name) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: unsupported name algorithm",
					   member);
	if (!name_equal(name, &stated))
		return fail_check(ei, "a stated name is not the name of its public area");
	return PCRGATE_OK;
}

int certify_verify(const uint8_t *buf, size_t len, const TPM2B_NAME *policy_key_name, uint32_t counter_index,
		   const uint8_t *nonce, size_t nonce_len, const TPM2B_PUBLIC *enrolled_ak, struct certify_result *res,
		   pcrgate_errinfo *ei)
{
	TPM2B_NONCE ref;
	TPM2B_DIGEST policy;
	TPM2B_PUBLIC tmpl;

	policy_ref(counter_index, &ref);
	if (policy_authorize_digest(policy_key_name, &ref, &policy) != 0 || tpmobj_template_update_key(&policy, &tmpl) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot compute the expected key");
	return certify_verify_key(buf, len, &tmpl.publicArea, "update key", nonce, nonce_len, enrolled_ak, res, ei);
}

int certify_verify_key(const uint8_t *buf, size_t len, const TPMT_PUBLIC *expected, const char *what,
		       const uint8_t *nonce, size_t nonce_len, const TPM2B_PUBLIC *enrolled_ak, struct certify_result *res,
		       pcrgate_errinfo *ei)
{
	struct certify_result out;
	json_t *doc = NULL;
	TPM2B_NAME parent, want, enrolled;
	TPM2B_PUBLIC akpub;
	TPMS_ATTEST att;
	TPMT_SIGNATURE sig;
	EVP_PKEY *pkey = NULL;
	uint8_t attest[PCRGATE_MAX_DIGEST + 2304], sigbuf[sizeof(TPMT_SIGNATURE)], digest[PCRGATE_MAX_DIGEST];
	char why[200];
	const char *s;
	size_t alen = 0, slen = 0, off = 0, n = 0;
	uint16_t hash;
	int r;

	memset(&out, 0, sizeof(out));
	if ((r = jsonutil_parse(buf, len, CERTIFY_FILE_MAX, &doc, ei)) != 0)
		return r;
	if ((r = jsonutil_get_string(doc, "certification", "format", &s, ei)) != 0 || strcmp(s, CERTIFY_FORMAT) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "not a pcrgate certification");
		goto fail;
	}
	if ((r = read_key(doc, "ak", &akpub, &out.ak_name, ei)) != 0 || (r = read_key(doc, "key", &out.key, &out.key_name, ei)) != 0 ||
	    (r = jsonutil_get_hex(doc, "certification", "parent_qualified_name", parent.name, sizeof(parent.name), &n,
				  ei)) != 0)
		goto fail;
	parent.size = (UINT16)n;
	if ((r = jsonutil_get_b64(doc, "certification", "attest", attest, sizeof(attest), &alen, ei)) != 0 ||
	    (r = jsonutil_get_b64(doc, "certification", "signature", sigbuf, sizeof(sigbuf), &slen, ei)) != 0)
		goto fail;
	r = PCRGATE_ERR_VERIFY;
	/* The AK: the enrolled one, and a restricted signing key, so what it signs the TPM made. */
	if (enrolled_ak != NULL && (tpmobj_name(&enrolled_ak->publicArea, &enrolled) != 0 || !name_equal(&enrolled, &out.ak_name))) {
		r = fail_check(ei, "signed by another AK than the enrolled one");
		goto fail;
	}
	if ((akpub.publicArea.objectAttributes & ATTR_RESTRICTED_SIGNER) != ATTR_RESTRICTED_SIGNER ||
	    (akpub.publicArea.objectAttributes & TPMA_OBJECT_DECRYPT)) {
		r = fail_check(ei, "the AK is not a restricted, fixedTPM, sign-only key");
		goto fail;
	}
	memset(&sig, 0, sizeof(sig));
	if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(sigbuf, slen, &off, &sig) != TSS2_RC_SUCCESS || off != slen) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "certification: signature: not one TPMT_SIGNATURE");
		goto fail;
	}
	hash = sig.sigAlg == TPM2_ALG_ECDSA ? sig.signature.ecdsa.hash : sig.signature.rsassa.hash;
	if (pcrgate_alg_digest_size(hash) == 0 || pcrgate_digest(hash, attest, alen, digest) != 0 ||
	    tpmobj_to_evp(&akpub.publicArea, &pkey, ei) != 0 ||
	    tpmobj_verify_digest(pkey, &sig, digest, pcrgate_alg_digest_size(hash), ei) != 0) {
		r = fail_check(ei, "the AK's signature does not verify");
		goto fail;
	}
	off = 0;
	memset(&att, 0, sizeof(att));
	if (Tss2_MU_TPMS_ATTEST_Unmarshal(attest, alen, &off, &att) != TSS2_RC_SUCCESS || off != alen) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "certification: attest: not one TPMS_ATTEST");
		goto fail;
	}
	if (att.magic != TPM2_GENERATED_VALUE || att.type != TPM2_ST_ATTEST_CERTIFY) {
		r = fail_check(ei, "not a TPM-generated TPM2_Certify");
		goto fail;
	}
	if (nonce != NULL && (att.extraData.size != nonce_len || !pcrgate_ct_equal(att.extraData.buffer, nonce, nonce_len))) {
		r = fail_check(ei, "the nonce differs");
		goto fail;
	}
	if (!name_equal(&att.attested.certify.name, &out.key_name)) {
		r = fail_check(ei, "the certified name is not the name of the key's public area");
		goto fail;
	}
	/* One parent for both: the certified key is in the AK's TPM, under the same SRK. */
	if (tpmobj_qualified_name(akpub.publicArea.nameAlg, &parent, &out.ak_name, &out.ak_qualified) != 0 ||
	    !name_equal(&att.qualifiedSigner, &out.ak_qualified) ||
	    tpmobj_qualified_name(out.key.publicArea.nameAlg, &parent, &out.key_name, &want) != 0 ||
	    !name_equal(&att.attested.certify.qualifiedName, &want)) {
		r = fail_check(ei, "the AK and the key are not children of the stated parent");
		goto fail;
	}
	if (tpmobj_matches(&out.key.publicArea, expected, why, sizeof(why)) != PCRGATE_OK) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"certification: the key is not the expected %s: %s", what, why);
		goto fail;
	}
	out.auth_policy = out.key.publicArea.authPolicy;
	out.clock = att.clockInfo.clock;
	out.reset_count = att.clockInfo.resetCount;
	out.restart_count = att.clockInfo.restartCount;
	*res = out;
	r = PCRGATE_OK;
fail:
	EVP_PKEY_free(pkey);
	json_decref(doc);
	return r;
}
