/*
 * pcrgate: a bundle's checks before its payload (lib/bundle.h pcrgate_bundle_verify), in the
 * order of docs/updates.md: the manifest's CMS signature against the device's trust store
 * before the manifest parser runs, then the manifest, the header's payload length, the slot
 * manifest's own signature, hardware, security version, and a root rotation's signatures.
 */
#include "config.h"

#include <inttypes.h>
#include <string.h>

#include "bundle_internal.h"

/* Whether the root of store index i is one trust_update removes. */
static int removed(const struct pcrgate_truststore *ts, size_t i, const struct pcrgate_bundle_manifest *m)
{
	uint8_t fp[32];

	return pcrgate_truststore_root_sha256(ts, i, fp) == 0 && pcrgate_bundle_manifest_removes_root(m, fp);
}

/*
 * Root rotation: the manifest must be signed under a root the device trusts that stays trusted
 * (the old root authorizes the change; a root cannot remove the others alone) and, for every
 * root it adds, under that new root (the new root's holder takes part, so a typo or a
 * certificate without its key cannot become an anchor).
 */
static int check_trust_update(const struct pcrgate_bundle *b, const struct pcrgate_truststore *ts,
			      const struct pcrgate_cms_report *rep, pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_manifest *m = b->m;
	struct pcrgate_truststore *one = NULL;
	pcrgate_errinfo sub;
	size_t i;
	int r, kept = 0;

	for (i = 0; i < pcrgate_truststore_root_count(ts); i++)
		if ((rep->roots & (1u << i)) != 0 && !removed(ts, i, m))
			kept = 1;
	if (!kept)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "trust_update: no signer chains to a trusted root that stays trusted");
	for (i = 0; i < m->n_add; i++) {
		pcrgate_errinfo_clear(&sub);
		if ((r = pcrgate_truststore_new(&one)) != 0)
			return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "out of memory");
		r = pcrgate_truststore_add_roots(one, m->add[i].der, m->add[i].len, "trust_update", &sub);
		if (r == 0)
			r = pcrgate_truststore_verify_cms(one, b->sig, b->hdr.sig_len, b->manifest, b->hdr.manifest_len,
							  NULL, &sub);
		pcrgate_truststore_free(&one);
		if (r != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						   "trust_update: add_roots[%zu] did not sign the manifest: %s", i,
						   sub.message);
	}
	return PCRGATE_OK;
}

int pcrgate_bundle_verify(struct pcrgate_bundle *b, const struct pcrgate_truststore *ts,
			  const struct pcrgate_bundle_policy *policy, pcrgate_errinfo *ei)
{
	struct pcrgate_bundle_manifest *m = NULL;
	struct pcrgate_cms_report rep;
	pcrgate_errinfo sub;
	int r;

	if (b == NULL || ts == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no bundle or trust store given");
	b->verified = 0;
	pcrgate_bundle_manifest_free(&b->m);
	pcrgate_errinfo_clear(&sub);
	if ((r = pcrgate_truststore_verify_cms(ts, b->sig, b->hdr.sig_len, b->manifest, b->hdr.manifest_len, &rep,
					       &sub)) != 0)
		return pcrgate_errinfo_set(ei, r == PCRGATE_ERR_NOMEM ? r : PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "manifest signature: %s", sub.message);
	if ((r = pcrgate_bundle_manifest_parse(b->manifest, b->hdr.manifest_len, &m, ei)) != 0) {
		/* The parser's offsets are into the manifest; make them offsets into the bundle. */
		if (ei != NULL && ei->has_offset)
			ei->offset += PCRGATE_BUNDLE_HEADER_SIZE;
		return r;
	}
	if (m->stored_size != b->hdr.payload_len) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, 20,
					"payload length: the header says %" PRIu64 " bytes, the manifest's stored_size %" PRIu64,
					b->hdr.payload_len, m->stored_size);
		goto fail;
	}
	pcrgate_errinfo_clear(&sub);
	if ((r = pcrgate_truststore_verify_cms(ts, m->slot_sig, m->slot_sig_len, m->slot_manifest, m->slot_manifest_len,
					       NULL, &sub)) != 0) {
		r = pcrgate_errinfo_set(ei, r == PCRGATE_ERR_NOMEM ? r : PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"slot manifest signature: %s", sub.message);
		goto fail;
	}
	if (policy != NULL && policy->compatible != NULL && strcmp(policy->compatible, m->compatible) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"compatible: the bundle is for \"%s\", this hardware is \"%s\"", m->compatible,
					policy->compatible);
		goto fail;
	}
	if (policy != NULL && m->security_version < policy->min_security_version) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"security version: %" PRIu32 " is below the minimum %" PRIu32 " (rollback)",
					m->security_version, policy->min_security_version);
		goto fail;
	}
	b->m = m;
	m = NULL;
	if ((b->m->n_add > 0 || b->m->n_remove > 0) && (r = check_trust_update(b, ts, &rep, ei)) != 0) {
		pcrgate_bundle_manifest_free(&b->m);
		goto fail;
	}
	b->verified = 1;
	r = PCRGATE_OK;
fail:
	pcrgate_bundle_manifest_free(&m);
	return r;
}
