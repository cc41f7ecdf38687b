/*
 * pcrgate: signed PCR policies in software (policy.h): the policy digests a TPM computes for
 * PolicyPCR, PolicyNV and PolicyAuthorize, the counter's public area and name, and the signed
 * policy document (made by `pcrgate policy sign`, read by the agent).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "jsonutil.h"
#include "pcrgate/alg.h"
#include "policy.h"
#include "tpmobj.h"

#define SHA256_SIZE 32

/* SHA-256 of up to four parts (NULL parts are skipped). */
static int sha256_parts(uint8_t out[SHA256_SIZE], const void *a, size_t alen, const void *b, size_t blen,
			const void *c, size_t clen, const void *d, size_t dlen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int ok = ctx != NULL && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1 &&
		 (a == NULL || EVP_DigestUpdate(ctx, a, alen) == 1) && (b == NULL || EVP_DigestUpdate(ctx, b, blen) == 1) &&
		 (c == NULL || EVP_DigestUpdate(ctx, c, clen) == 1) && (d == NULL || EVP_DigestUpdate(ctx, d, dlen) == 1) &&
		 EVP_DigestFinal_ex(ctx, out, NULL) == 1;

	EVP_MD_CTX_free(ctx);
	return ok ? PCRGATE_OK : PCRGATE_ERR_CRYPTO;
}

void policy_counter_public(uint32_t index, int written, TPM2B_NV_PUBLIC *out)
{
	memset(out, 0, sizeof(*out));
	out->nvPublic.nvIndex = index;
	out->nvPublic.nameAlg = TPM2_ALG_SHA256;
	out->nvPublic.attributes = POLICY_COUNTER_ATTRS | (written ? TPMA_NV_WRITTEN : 0);
	out->nvPublic.dataSize = 8;
}

int policy_counter_name(uint32_t index, int written, TPM2B_NAME *out)
{
	TPM2B_NV_PUBLIC pub;
	uint8_t buf[sizeof(TPMS_NV_PUBLIC)];
	size_t len = 0;

	policy_counter_public(index, written, &pub);
	if (Tss2_MU_TPMS_NV_PUBLIC_Marshal(&pub.nvPublic, buf, sizeof(buf), &len) != TSS2_RC_SUCCESS)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	pcrgate_store_be(out->name, TPM2_ALG_SHA256, 2);
	out->size = 2 + SHA256_SIZE;
	return sha256_parts(out->name + 2, buf, len, NULL, 0, NULL, 0, NULL, 0);
}

void policy_ref(uint32_t index, TPM2B_NONCE *out)
{
	int n = snprintf((char *)out->buffer, sizeof(out->buffer), POLICY_REF_PREFIX "0x%08x", (unsigned)index);

	out->size = (UINT16)n;
}

int policy_authorize_digest(const TPM2B_NAME *key_name, const TPM2B_NONCE *ref, TPM2B_DIGEST *out)
{
	uint8_t zero[SHA256_SIZE], cc[4], d[SHA256_SIZE];
	int r;

	memset(zero, 0, sizeof(zero));
	pcrgate_store_be(cc, TPM2_CC_PolicyAuthorize, 4);
	/* PolicyAuthorize resets the digest, extends it with the key's name, then with policyRef. */
	if ((r = sha256_parts(d, zero, sizeof(zero), cc, 4, key_name->name, key_name->size, NULL, 0)) != 0 ||
	    (r = sha256_parts(out->buffer, d, sizeof(d), ref->buffer, ref->size, NULL, 0, NULL, 0)) != 0)
		return r;
	out->size = SHA256_SIZE;
	return PCRGATE_OK;
}

int policy_pcr_selection(const pcrgate_pcrs *pcrs, TPML_PCR_SELECTION *sel, TPM2B_DIGEST *pcr_digest,
			 pcrgate_errinfo *ei)
{
	TPML_PCR_SELECTION s;
	EVP_MD_CTX *ctx = NULL;
	const uint8_t *v;
	char label[PCRGATE_ALG_LABEL_MAX];
	size_t b, n = pcrgate_pcrs_bank_count(pcrs), len;
	uint32_t mask;
	unsigned p;
	int r = PCRGATE_ERR_CRYPTO;

	memset(&s, 0, sizeof(s));
	if (n == 0 || n > TPM2_NUM_PCR_BANKS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "%zu PCR banks; 1 to %d expected", n, TPM2_NUM_PCR_BANKS);
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
		goto fail;
	for (b = 0; b < n; b++) {
		uint16_t alg = pcrgate_pcrs_bank_alg(pcrs, b);

		mask = pcrgate_pcrs_mask(pcrs, alg);
		if (mask == 0 || (mask >> 24) != 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						"bank %s: PCRs 0 to 23 expected", pcrgate_alg_label(alg, label));
			goto fail;
		}
		s.pcrSelections[b].hash = alg;
		s.pcrSelections[b].sizeofSelect = 3;
		s.pcrSelections[b].pcrSelect[0] = (uint8_t)mask;
		s.pcrSelections[b].pcrSelect[1] = (uint8_t)(mask >> 8);
		s.pcrSelections[b].pcrSelect[2] = (uint8_t)(mask >> 16);
		/* The TPM hashes the values in selection order, each bank's PCRs in ascending order. */
		for (p = 0; p < 24; p++)
			if ((mask >> p) & 1) {
				if ((v = pcrgate_pcrs_get(pcrs, alg, p, &len)) == NULL || EVP_DigestUpdate(ctx, v, len) != 1)
					goto fail;
			}
	}
	s.count = (UINT32)n;
	if (EVP_DigestFinal_ex(ctx, pcr_digest->buffer, NULL) != 1)
		goto fail;
	pcr_digest->size = SHA256_SIZE;
	*sel = s;
	r = PCRGATE_OK;
fail:
	if (r == PCRGATE_ERR_CRYPTO)
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot hash the PCR values");
	EVP_MD_CTX_free(ctx);
	return r;
}

int policy_update_pcr(TPM2B_DIGEST *digest, const TPML_PCR_SELECTION *sel, const TPM2B_DIGEST *pcr_digest)
{
	uint8_t cc[4], buf[sizeof(TPML_PCR_SELECTION)];
	size_t len = 0;
	int r;

	pcrgate_store_be(cc, TPM2_CC_PolicyPCR, 4);
	if (digest->size != SHA256_SIZE ||
	    Tss2_MU_TPML_PCR_SELECTION_Marshal(sel, buf, sizeof(buf), &len) != TSS2_RC_SUCCESS)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	r = sha256_parts(digest->buffer, digest->buffer, SHA256_SIZE, cc, 4, buf, len, pcr_digest->buffer,
			 pcr_digest->size);
	return r;
}

int policy_update_nv(TPM2B_DIGEST *digest, const TPM2B_OPERAND *operand, uint16_t offset, uint16_t operation,
		     const TPM2B_NAME *nv_name)
{
	uint8_t cc[4], tail[4], args[SHA256_SIZE];
	int r;

	if (digest->size != SHA256_SIZE)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	pcrgate_store_be(cc, TPM2_CC_PolicyNV, 4);
	pcrgate_store_be(tail, offset, 2);
	pcrgate_store_be(tail + 2, operation, 2);
	/* args = H(operandB.buffer || offset || operation); then H(old || CC || args || nvIndex's name). */
	if ((r = sha256_parts(args, operand->buffer, operand->size, tail, 4, NULL, 0, NULL, 0)) != 0)
		return r;
	return sha256_parts(digest->buffer, digest->buffer, SHA256_SIZE, cc, 4, args, sizeof(args), nv_name->name,
			    nv_name->size);
}

void policy_version_operand(uint64_t version, TPM2B_OPERAND *out)
{
	out->size = 8;
	pcrgate_store_be(out->buffer, version, 8);
}

int policy_approved_digest(const TPML_PCR_SELECTION *sel, const TPM2B_DIGEST *pcr_digest, const TPM2B_NAME *nv_name,
			   uint64_t version, TPM2B_DIGEST *out)
{
	TPM2B_DIGEST d;
	TPM2B_OPERAND operand;
	int r;

	memset(&d, 0, sizeof(d));
	d.size = SHA256_SIZE;
	policy_version_operand(version, &operand);
	if ((r = policy_update_pcr(&d, sel, pcr_digest)) != 0 ||
	    (r = policy_update_nv(&d, &operand, 0, TPM2_EO_UNSIGNED_LE, nv_name)) != 0)
		return r;
	*out = d;
	return PCRGATE_OK;
}

int policy_ahash(const TPM2B_DIGEST *approved, const TPM2B_NONCE *ref, uint8_t out[32])
{
	return sha256_parts(out, approved->buffer, approved->size, ref->buffer, ref->size, NULL, 0, NULL, 0);
}

/* Signs the 32-byte aHash with key: ECDSA or RSASSA (PKCS#1 v1.5), SHA-256. */
static int sign_ahash(EVP_PKEY *key, const uint8_t ahash[32], TPMT_SIGNATURE *sig, pcrgate_errinfo *ei)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, key, NULL);
	uint8_t der[1024];
	size_t len = sizeof(der);
	int r;

	if (ctx == NULL || EVP_PKEY_sign_init(ctx) <= 0 || EVP_PKEY_CTX_set_signature_md(ctx, EVP_sha256()) <= 0 ||
	    (EVP_PKEY_is_a(key, "RSA") && EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) <= 0) ||
	    EVP_PKEY_sign(ctx, der, &len, ahash, 32) <= 0) {
		pcrgate_log_openssl(__func__, "signing the policy");
		EVP_PKEY_CTX_free(ctx);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "the key cannot sign the policy");
	}
	EVP_PKEY_CTX_free(ctx);
	r = tpmobj_signature_from_der(key, TPM2_ALG_SHA256, der, len, sig, ei);
	return r;
}

int policy_sign(const pcrgate_pcrs *pcrs, uint64_t version, uint32_t index, EVP_PKEY *key, json_t **out,
		pcrgate_errinfo *ei)
{
	TPML_PCR_SELECTION sel;
	TPM2B_DIGEST pcr_digest, approved;
	TPM2B_NONCE ref;
	TPM2B_NAME nv_name, key_name;
	TPM2B_PUBLIC pub;
	TPMT_SIGNATURE sig;
	uint8_t ahash[32], pubbuf[sizeof(TPM2B_PUBLIC)], sigbuf[sizeof(TPMT_SIGNATURE)];
	char idx[16];
	size_t publen = 0, siglen = 0;
	json_t *doc = NULL, *counter = NULL, *signer = NULL;
	int r;

	if (version > (uint64_t)INT64_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "security version above 2^63-1");
	if ((r = policy_pcr_selection(pcrs, &sel, &pcr_digest, ei)) != 0 ||
	    (r = tpmobj_from_evp(key, &pub, ei)) != 0)
		return r;
	policy_ref(index, &ref);
	if (policy_counter_name(index, 1, &nv_name) != 0 || tpmobj_name(&pub.publicArea, &key_name) != 0 ||
	    policy_approved_digest(&sel, &pcr_digest, &nv_name, version, &approved) != 0 ||
	    policy_ahash(&approved, &ref, ahash) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot compute the policy");
	if ((r = sign_ahash(key, ahash, &sig, ei)) != 0)
		return r;
	if (tpmobj_public_marshal(&pub, pubbuf, sizeof(pubbuf), &publen) != 0 ||
	    Tss2_MU_TPMT_SIGNATURE_Marshal(&sig, sigbuf, sizeof(sigbuf), &siglen) != TSS2_RC_SUCCESS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "cannot marshal the key or signature");
	snprintf(idx, sizeof(idx), "0x%08x", (unsigned)index);
	if ((doc = json_object()) == NULL || (counter = json_object()) == NULL || (signer = json_object()) == NULL ||
	    json_object_set_new(doc, "format", json_string(POLICY_FORMAT)) != 0 ||
	    json_object_set_new(doc, "version", json_integer(1)) != 0 ||
	    json_object_set_new(doc, "policy_hash", json_string("sha256")) != 0 ||
	    json_object_set_new(doc, "approved_policy", jsonutil_hex(approved.buffer, approved.size)) != 0 ||
	    json_object_set_new(doc, "policy_ref", jsonutil_hex(ref.buffer, ref.size)) != 0 ||
	    json_object_set_new(doc, "pcrs", jsonutil_pcrs(pcrs)) != 0 ||
	    json_object_set_new(counter, "index", json_string(idx)) != 0 ||
	    json_object_set_new(counter, "name", jsonutil_hex(nv_name.name, nv_name.size)) != 0 ||
	    json_object_set_new(counter, "security_version", json_integer((json_int_t)version)) != 0 ||
	    json_object_set(doc, "counter", counter) != 0 ||
	    json_object_set_new(signer, "public", jsonutil_b64(pubbuf, publen)) != 0 ||
	    json_object_set_new(signer, "name", jsonutil_hex(key_name.name, key_name.size)) != 0 ||
	    json_object_set(doc, "signing_key", signer) != 0 ||
	    json_object_set_new(doc, "signature", jsonutil_b64(sigbuf, siglen)) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot build the policy document");
		json_decref(doc);
		doc = NULL;
	}
	json_decref(counter);
	json_decref(signer);
	if (doc == NULL)
		return r;
	*out = doc;
	return PCRGATE_OK;
}

/* "pcrs" back into a pcrgate_pcrs: known banks, PCRs 0-23 written canonically, values of the bank's size. */
static int parse_pcrs(const json_t *obj, pcrgate_pcrs **out, pcrgate_errinfo *ei)
{
	pcrgate_pcrs *pcrs = pcrgate_pcrs_new();
	const char *bank, *key;
	json_t *values, *v;
	uint8_t value[PCRGATE_MAX_DIGEST];
	size_t len;
	uint16_t alg;
	char *end, canon[4];
	unsigned long p;
	int r = PCRGATE_ERR_FORMAT;

	if (pcrs == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if (json_object_size(obj) == 0 || json_object_size(obj) > PCRGATE_MAX_BANKS) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "policy: \"pcrs\" must name 1 to %d banks", PCRGATE_MAX_BANKS);
		goto fail;
	}
	json_object_foreach((json_t *)obj, bank, values) {
		if ((alg = pcrgate_alg_from_name(bank)) == 0 || pcrgate_alg_openssl_name(alg) == NULL ||
		    !json_is_object(values) || json_object_size(values) == 0 || json_object_size(values) > 24) {
			pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "policy: pcrs.%s: a known bank of 1 to 24 PCRs expected",
					    bank);
			goto fail;
		}
		json_object_foreach(values, key, v) {
			errno = 0;
			p = strtoul(key, &end, 10);
			snprintf(canon, sizeof(canon), "%lu", p);
			if (*key < '0' || *key > '9' || *end != '\0' || errno != 0 || p > 23 || strcmp(canon, key) != 0 ||
			    !json_is_string(v) || pcrgate_hex_decode(json_string_value(v), value, sizeof(value), &len) != 0 ||
			    len != pcrgate_alg_digest_size(alg) || pcrgate_pcrs_set(pcrs, alg, (unsigned)p, value, len) != 0) {
				pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
						    "policy: pcrs.%s.%s: a PCR 0 to 23 with a %zu-byte hex value expected",
						    bank, key, pcrgate_alg_digest_size(alg));
				goto fail;
			}
		}
	}
	*out = pcrs;
	return PCRGATE_OK;
fail:
	pcrgate_pcrs_free(&pcrs);
	return r;
}

/* Every digest or name the document states must equal the one recomputed from its other members. */
static int must_equal(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen, const char *what,
		      pcrgate_errinfo *ei)
{
	if (alen != blen || !pcrgate_ct_equal(a, b, alen))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "policy: %s", what);
	return PCRGATE_OK;
}

int policy_parse(const uint8_t *buf, size_t len, struct signed_policy *out, pcrgate_errinfo *ei)
{
	struct signed_policy sp;
	json_t *doc = NULL, *counter, *signer, *pcrsobj, *v;
	pcrgate_pcrs *pcrs = NULL;
	TPM2B_DIGEST approved;
	TPM2B_NONCE ref;
	TPM2B_NAME name;
	EVP_PKEY *pkey = NULL;
	uint8_t tmp[sizeof(TPM2B_PUBLIC)], ahash[32];
	const char *s;
	size_t n = 0, off = 0;
	unsigned long idx;
	char *end;
	int r;

	memset(&sp, 0, sizeof(sp));
	if ((r = jsonutil_parse(buf, len, POLICY_FILE_MAX, &doc, ei)) != 0)
		return r;
	r = PCRGATE_ERR_FORMAT;
	if (jsonutil_get_string(doc, "policy", "format", &s, ei) != 0 || strcmp(s, POLICY_FORMAT) != 0 ||
	    (v = json_object_get(doc, "version")) == NULL || !json_is_integer(v) || json_integer_value(v) != 1 ||
	    jsonutil_get_string(doc, "policy", "policy_hash", &s, ei) != 0 || strcmp(s, "sha256") != 0) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
				    "not a pcrgate signed policy of version 1 with SHA-256 policies (format, version, "
				    "policy_hash)");
		goto fail;
	}
	if ((r = jsonutil_get_object(doc, "policy", "counter", &counter, ei)) != 0 ||
	    (r = jsonutil_get_object(doc, "policy", "signing_key", &signer, ei)) != 0 ||
	    (r = jsonutil_get_object(doc, "policy", "pcrs", &pcrsobj, ei)) != 0 ||
	    (r = jsonutil_get_string(counter, "policy: counter", "index", &s, ei)) != 0)
		goto fail;
	errno = 0;
	idx = strtoul(s, &end, 16);
	v = json_object_get(counter, "security_version");
	if (strncmp(s, "0x", 2) != 0 || strlen(s) != 10 || *end != '\0' || errno != 0 || idx < 0x01000000ul ||
	    idx > 0x01fffffful || v == NULL || !json_is_integer(v) || json_integer_value(v) < 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"policy: counter: an index 0x%%08x and a security_version >= 0 expected");
		goto fail;
	}
	sp.nv_index = (uint32_t)idx;
	sp.version = (uint64_t)json_integer_value(v);
	if ((r = parse_pcrs(pcrsobj, &pcrs, ei)) != 0 ||
	    (r = policy_pcr_selection(pcrs, &sp.sel, &sp.pcr_digest, ei)) != 0 ||
	    (r = jsonutil_get_hex(counter, "policy: counter", "name", sp.nv_name.name, sizeof(sp.nv_name.name), &n,
				  ei)) != 0)
		goto fail;
	sp.nv_name.size = (UINT16)n;
	if ((r = jsonutil_get_hex(doc, "policy", "approved_policy", sp.approved.buffer, sizeof(sp.approved.buffer),
				  &n, ei)) != 0)
		goto fail;
	sp.approved.size = (UINT16)n;
	if ((r = jsonutil_get_hex(doc, "policy", "policy_ref", sp.ref.buffer, sizeof(sp.ref.buffer), &n, ei)) != 0)
		goto fail;
	sp.ref.size = (UINT16)n;
	if ((r = jsonutil_get_b64(signer, "policy: signing_key", "public", tmp, sizeof(tmp), &n, ei)) != 0 ||
	    (r = tpmobj_public_unmarshal(tmp, n, &sp.key, ei)) != 0 ||
	    (r = jsonutil_get_hex(signer, "policy: signing_key", "name", sp.key_name.name, sizeof(sp.key_name.name),
				  &n, ei)) != 0)
		goto fail;
	sp.key_name.size = (UINT16)n;
	if ((r = jsonutil_get_b64(doc, "policy", "signature", tmp, sizeof(tmp), &n, ei)) != 0)
		goto fail;
	if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(tmp, n, &off, &sp.signature) != TSS2_RC_SUCCESS || off != n) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, off, "policy: signature: not one TPMT_SIGNATURE");
		goto fail;
	}
	/* Recompute everything the document states, then check the signature. */
	policy_ref(sp.nv_index, &ref);
	if ((r = policy_counter_name(sp.nv_index, 1, &name)) != 0 ||
	    (r = must_equal(sp.nv_name.name, sp.nv_name.size, name.name, name.size,
			    "counter.name is not the name of the counter pcrgate provisions at counter.index", ei)) != 0 ||
	    (r = must_equal(sp.ref.buffer, sp.ref.size, ref.buffer, ref.size,
			    "policy_ref does not name counter.index", ei)) != 0 ||
	    (r = policy_approved_digest(&sp.sel, &sp.pcr_digest, &sp.nv_name, sp.version, &approved)) != 0 ||
	    (r = must_equal(sp.approved.buffer, sp.approved.size, approved.buffer, approved.size,
			    "approved_policy is not PolicyPCR(pcrs) then PolicyNV(counter <= security_version)",
			    ei)) != 0 ||
	    (r = tpmobj_name(&sp.key.publicArea, &name)) != 0 ||
	    (r = must_equal(sp.key_name.name, sp.key_name.size, name.name, name.size,
			    "signing_key.name is not the name of signing_key.public", ei)) != 0)
		goto fail;
	if ((r = tpmobj_to_evp(&sp.key.publicArea, &pkey, ei)) != 0 || (r = policy_ahash(&sp.approved, &sp.ref, ahash)) != 0)
		goto fail;
	if ((r = tpmobj_verify_digest(pkey, &sp.signature, ahash, sizeof(ahash), ei)) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"policy: the signature does not verify with signing_key");
		goto fail;
	}
	*out = sp;
	r = PCRGATE_OK;
fail:
	EVP_PKEY_free(pkey);
	pcrgate_pcrs_free(&pcrs);
	json_decref(doc);
	return r;
}
