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

#include <openssl/bio.h>
#include <openssl/pem.h> /* before cms.h, which declares its PEM functions only then */
#include <openssl/cms.h>
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

/* A PEM signature (it starts with "-----BEGIN") as DER; a DER one as it is, borrowed. */
static int signature_der(const uint8_t *sig, size_t len, uint8_t **der, size_t *der_len, uint8_t **owned)
{
	static const char pem[] = "-----BEGIN";
	CMS_ContentInfo *cms = NULL;
	BIO *in;
	int n;

	*owned = NULL;
	if (len < sizeof(pem) - 1 || memcmp(sig, pem, sizeof(pem) - 1) != 0) {
		*der = (uint8_t *)sig;
		*der_len = len;
		return PCRGATE_OK;
	}
	if ((in = BIO_new_mem_buf(sig, (int)len)) == NULL)
		return PCRGATE_ERR_NOMEM;
	cms = PEM_read_bio_CMS(in, NULL, NULL, NULL);
	BIO_free(in);
	if (cms == NULL || (n = i2d_CMS_ContentInfo(cms, owned)) <= 0) {
		CMS_ContentInfo_free(cms);
		return PCRGATE_ERR_VERIFY;
	}
	CMS_ContentInfo_free(cms);
	*der = *owned;
	*der_len = (size_t)n;
	return PCRGATE_OK;
}

int host_manifest_verify(void *ctx, unsigned slot, const uint8_t *manifest, size_t len)
{
	struct host_port *hp = ctx;
	struct pcrgate_truststore *ts = NULL;
	pcrgate_errinfo ei;
	uint8_t *sig = NULL, *der = NULL, *owned = NULL;
	size_t sig_len = 0, der_len = 0;
	int r;

	if (slot >= PCRGATE_BOOT_SLOTS || manifest == NULL || len > PCRGATE_MANIFEST_MAX)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if ((r = trust_store(hp, &ts)) != PCRGATE_OK)
		return r;
	if ((r = read_signature(hp, slot, &sig, &sig_len)) != PCRGATE_OK)
		return r;
	if ((r = signature_der(sig, sig_len, &der, &der_len, &owned)) != PCRGATE_OK) {
		pcrgate_log_openssl(__func__, "parsing manifest.sig");
		pg_warn("slot %s: manifest.sig is not a CMS signature (DER or PEM)", pcrgate_boot_slot_name(slot));
		goto fail;
	}
	pcrgate_errinfo_clear(&ei);
	r = pcrgate_truststore_verify_cms(ts, der, der_len, manifest, len, NULL, &ei);
	if (r != PCRGATE_OK) {
		pg_warn("slot %s: the manifest signature does not verify against %s: %s", pcrgate_boot_slot_name(slot),
			hp->cfg->trust, ei.message);
		/* Anything about the signature is a verdict; only running out of memory is a fault. */
		if (r != PCRGATE_ERR_NOMEM)
			r = PCRGATE_ERR_VERIFY;
	}
fail:
	ERR_clear_error();
	OPENSSL_free(owned);
	free(sig);
	return r;
}
