/*
 * pcrgate (library-internal): a bundle's trust_update applied to a device's trust store
 * (lib/bundle.h pcrgate_truststore_apply_update, docs/updates.md "Root rotation"), which the
 * agent runs when it commits an update. The new store is built in memory with the trust
 * store's own checks (lib/truststore.c) and written by lib/truststore_write.c.
 */
#include "config.h"

#include <stdio.h>

#include <openssl/crypto.h>
#include <openssl/x509.h>

#include "bundle.h"
#include "truststore.h"

/*
 * Adds an object of the old store to the new one: its DER (len bytes from i2d, which fail with
 * len <= 0) through add, the parser a device loads with. Frees der.
 */
static int add_der(struct pcrgate_truststore *ts, uint8_t *der, int len,
		   int (*add)(struct pcrgate_truststore *, const uint8_t *, size_t, const char *, pcrgate_errinfo *),
		   const char *what, pcrgate_errinfo *ei)
{
	int r;

	if (len <= 0) {
		pcrgate_log_openssl(__func__, what);
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "trust_update: cannot encode %s", what);
	} else {
		r = add(ts, der, (size_t)len, what, ei);
	}
	OPENSSL_free(der);
	return r;
}

int pcrgate_truststore_apply_update(const char *store_dir, const struct pcrgate_bundle *b, pcrgate_errinfo *ei)
{
	struct pcrgate_truststore *old = NULL, *next = NULL;
	const struct pcrgate_bundle_manifest *m;
	int r, kind, keep[PCRGATE_TRUST_MAX_ROOTS];
	size_t i, kept = 0, removed = 0, len = 0;
	char what[48];
	const uint8_t *der;
	uint8_t *enc, fp[32];
	int n, signer;

	if (store_dir == NULL || b == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no store or bundle");
	if (pcrgate_bundle_trust_update_authorized(b) != 1 || (m = pcrgate_bundle_get_manifest(b)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "trust_update: not authorized (a bundle verified against this store, "
					   "signed under a root it keeps and under each root it adds)");
	if ((r = pcrgate_truststore_remove_leftovers(store_dir, ei)) != PCRGATE_OK)
		return r;
	if ((kind = pcrgate_truststore_dir_kind(store_dir, ei)) < 0)
		return kind;
	if (kind != PCRGATE_TRUST_DIR_STORE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "trust_update: %s is not a trust-store directory holding only roots/ and crl/ "
					   "(a PEM file or a symbolic link cannot be updated)",
					   store_dir);
	if ((r = pcrgate_truststore_load(&old, store_dir, ei)) != PCRGATE_OK)
		return r;
	if ((r = pcrgate_truststore_new(&next)) != PCRGATE_OK) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	/* The roots kept, then those added; a root the store holds already is not added twice. */
	for (i = 0; i < pcrgate_truststore_root_count(old); i++) {
		if ((r = pcrgate_truststore_root_sha256(old, i, fp)) != PCRGATE_OK) {
			r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot compute a root's fingerprint");
			goto fail;
		}
		keep[i] = !pcrgate_bundle_manifest_removes_root(m, fp);
		if (!keep[i]) {
			removed++;
			continue;
		}
		enc = NULL;
		n = i2d_X509(pcrgate_truststore_root_cert(old, i), &enc);
		snprintf(what, sizeof(what), "the store's root %zu", i + 1);
		if ((r = add_der(next, enc, n, pcrgate_truststore_add_roots, what, ei)) != PCRGATE_OK)
			goto fail;
		kept++;
	}
	for (i = 0; i < pcrgate_bundle_manifest_roots_added(m); i++) {
		der = pcrgate_bundle_manifest_root_added(m, i, &len);
		snprintf(what, sizeof(what), "trust_update: add_roots[%zu]", i);
		if ((r = pcrgate_truststore_add_roots(next, der, len, what, ei)) != PCRGATE_OK)
			goto fail;
	}
	/* Nothing removed and nothing new: an update applied before (the agent runs it again after a power cut). */
	if (removed == 0 && pcrgate_truststore_root_count(next) == kept) {
		r = PCRGATE_OK;
		goto fail;
	}
	if (pcrgate_truststore_root_count(next) == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"trust_update: %s would hold no root", store_dir);
		goto fail;
	}
	/* A removed root's CRLs go with it: a store holds only CRLs of its own roots. */
	for (i = 0; i < pcrgate_truststore_crl_count(old); i++) {
		if ((signer = pcrgate_truststore_crl_root(old, i)) < 0 || !keep[signer])
			continue;
		enc = NULL;
		n = i2d_X509_CRL(pcrgate_truststore_crl(old, i), &enc);
		snprintf(what, sizeof(what), "the store's CRL %zu", i + 1);
		if ((r = add_der(next, enc, n, pcrgate_truststore_add_crls, what, ei)) != PCRGATE_OK)
			goto fail;
	}
	r = pcrgate_truststore_write(store_dir, next, 1, ei);
fail:
	pcrgate_truststore_free(&next);
	pcrgate_truststore_free(&old);
	return r;
}
