/*
 * pcrgate-boot: the manifest signature check. Each slot has `manifest.sig`, a detached
 * CMS SignedData (DER or PEM) over the exact manifest bytes. It is checked with the update
 * trust store's rules (lib/truststore.h, docs/updates.md), the same as the agent's: at least
 * one signer whose certificate chains to a trust anchor, carries the codeSigning extended key
 * usage and is not revoked by a CRL of the store (when boot.trust names a trust-store
 * directory). Validity periods are not checked: a device may have no trustworthy clock this
 * early, and an expired signing certificate must not stop a device from booting the
 * release it already has (DESIGN.md: expiry must not brick the update path). What ends a
 * release's life is the anti-rollback counter, which the core checks next.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "truststore.h"

#include "host.h"

/*
 * The trust anchors (a trust-store directory or a PEM file of roots), loaded once. A missing
 * or unreadable store is the platform's problem, not the slot's: PCRGATE_ERR_CONFIG makes the
 * core skip the slot unmarked.
 */
static int trust_store(struct host_port *hp, struct pcrgate_truststore **out)
{
	struct pcrgate_truststore *ts = hp->trust_store;
	pcrgate_errinfo ei;

	if (ts == NULL) {
		pcrgate_errinfo_clear(&ei);
		if (pcrgate_truststore_load(&ts, hp->cfg->trust, &ei) != PCRGATE_OK) {
			pg_err("trust anchor %s cannot be loaded: no manifest can be checked (%s)", hp->cfg->trust,
			       ei.message);
			return ei.code == PCRGATE_ERR_NOMEM ? PCRGATE_ERR_NOMEM : PCRGATE_ERR_CONFIG;
		}
		hp->trust_store = ts;
	}
	*out = ts;
	return PCRGATE_OK;
}

void host_verify_free(struct host_port *hp)
{
	struct pcrgate_truststore *ts = hp->trust_store;

	pcrgate_truststore_free(&ts);
	hp->trust_store = NULL;
}

/* Reads the slot's manifest.sig; missing, too large or a symbolic link is a verdict. */
static int read_signature(struct host_port *hp, unsigned slot, uint8_t **sig, size_t *len)
{
	uint8_t *buf = malloc(HOST_SIG_MAX);
	int r;

	if (buf == NULL)
		return PCRGATE_ERR_NOMEM;
	r = host_slot_read(hp, slot, "manifest.sig", buf, HOST_SIG_MAX, len);
	if (r == PCRGATE_OK) {
		*sig = buf;
		return r;
	}
	free(buf);
	if (r == PCRGATE_ERR_NOT_FOUND || r == PCRGATE_ERR_FORMAT || r == PCRGATE_ERR_LIMIT)
		return PCRGATE_ERR_VERIFY;
	return r;
}

int host_manifest_verify(void *ctx, unsigned slot, const uint8_t *manifest, size_t len)
{
	struct host_port *hp = ctx;
	struct pcrgate_truststore *ts = NULL;
	pcrgate_errinfo ei;
	uint8_t *sig = NULL, *der = NULL;
	size_t sig_len = 0, der_len = 0;
	int r;

	if (slot >= PCRGATE_BOOT_SLOTS || manifest == NULL || len > PCRGATE_MANIFEST_MAX)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if ((r = trust_store(hp, &ts)) != PCRGATE_OK)
		return r;
	if ((r = read_signature(hp, slot, &sig, &sig_len)) != PCRGATE_OK)
		return r;
	pcrgate_errinfo_clear(&ei);
	if ((r = pcrgate_cms_to_der(sig, sig_len, &der, &der_len, &ei)) != PCRGATE_OK) {
		pg_warn("slot %s: manifest.sig is not a CMS signature (DER or PEM): %s", pcrgate_boot_slot_name(slot),
			ei.message);
		if (r == PCRGATE_ERR_FORMAT)
			r = PCRGATE_ERR_VERIFY;
		goto fail;
	}
	r = pcrgate_truststore_verify_cms(ts, der, der_len, manifest, len, NULL, &ei);
	if (r != PCRGATE_OK) {
		pg_warn("slot %s: the manifest signature does not verify against %s: %s", pcrgate_boot_slot_name(slot),
			hp->cfg->trust, ei.message);
		/*
		 * What is wrong with the signature (malformed, too large, untrusted, not
		 * matching) is a verdict about the slot. Anything else (no memory, OpenSSL
		 * failing, a bad call) is this device's fault and passes through, so the
		 * core skips the slot for this boot without marking it bad (port.h).
		 */
		if (r == PCRGATE_ERR_FORMAT || r == PCRGATE_ERR_LIMIT || r == PCRGATE_ERR_VERIFY)
			r = PCRGATE_ERR_VERIFY;
	}
fail:
	ERR_clear_error();
	free(der);
	free(sig);
	return r;
}
