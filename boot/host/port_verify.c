/*
 * pcrgate-boot: the manifest signature check. Each slot has `manifest.sig`, a detached
 * CMS SignedData (DER or PEM) over the exact manifest bytes, made with a signing
 * certificate that chains to the trust anchor file and carries the codeSigning extended
 * key usage. Validity periods are not checked: a device may have no trustworthy clock this
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
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "host.h"

/*
 * The trust anchors, loaded once. A missing or unreadable anchor is the platform's
 * problem, not the slot's: PCRGATE_ERR_CONFIG makes the core skip the slot unmarked.
 */
static int trust_store(struct host_port *hp, X509_STORE **out)
{
	X509_STORE *store = hp->trust_store;

	if (store == NULL) {
		if ((store = X509_STORE_new()) == NULL) {
			pcrgate_log_openssl(__func__, "X509_STORE_new");
			return PCRGATE_ERR_NOMEM;
		}
		if (X509_STORE_load_file(store, hp->cfg->trust) != 1) {
			pcrgate_log_openssl(__func__, hp->cfg->trust);
			pg_err("trust anchor %s cannot be loaded: no manifest can be checked", hp->cfg->trust);
			X509_STORE_free(store);
			return PCRGATE_ERR_CONFIG;
		}
		/*
		 * No time checks (see the top of this file). Purpose "any" lifts the S/MIME
		 * key-usage rules CMS_verify applies by default; the codeSigning usage is
		 * required below instead.
		 */
		if (X509_STORE_set_flags(store, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_X509_STRICT) != 1 ||
		    X509_STORE_set_purpose(store, X509_PURPOSE_ANY) != 1) {
			pcrgate_log_openssl(__func__, "X509_STORE_set_flags");
			X509_STORE_free(store);
			return PCRGATE_ERR_CRYPTO;
		}
		hp->trust_store = store;
	}
	*out = store;
	return PCRGATE_OK;
}

void host_verify_free(struct host_port *hp)
{
	X509_STORE_free(hp->trust_store);
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

static CMS_ContentInfo *parse_cms(const uint8_t *sig, size_t len)
{
	static const char pem[] = "-----BEGIN";
	CMS_ContentInfo *cms = NULL;
	BIO *in = BIO_new_mem_buf(sig, (int)len);

	if (in == NULL)
		return NULL;
	if (len >= sizeof(pem) - 1 && memcmp(sig, pem, sizeof(pem) - 1) == 0)
		cms = PEM_read_bio_CMS(in, NULL, NULL, NULL);
	else
		cms = d2i_CMS_bio(in, NULL);
	BIO_free(in);
	return cms;
}

/* Every signer's certificate must be for code signing, and allow digital signatures. */
static int signers_may_sign_code(CMS_ContentInfo *cms, unsigned slot)
{
	STACK_OF(X509) *signers = CMS_get0_signers(cms);
	int i, ok = signers != NULL && sk_X509_num(signers) > 0;

	for (i = 0; ok && i < sk_X509_num(signers); i++) {
		X509 *x = sk_X509_value(signers, i);
		uint32_t flags = X509_get_extension_flags(x);

		if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(x) & XKU_CODE_SIGN)) {
			pg_warn("slot %s: the signing certificate lacks the codeSigning extended key usage",
				pcrgate_boot_slot_name(slot));
			ok = 0;
		} else if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE)) {
			pg_warn("slot %s: the signing certificate's key usage excludes digitalSignature",
				pcrgate_boot_slot_name(slot));
			ok = 0;
		}
	}
	sk_X509_free(signers);
	return ok;
}

int host_manifest_verify(void *ctx, unsigned slot, const uint8_t *manifest, size_t len)
{
	struct host_port *hp = ctx;
	CMS_ContentInfo *cms = NULL;
	X509_STORE *store = NULL;
	BIO *content = NULL;
	uint8_t *sig = NULL;
	size_t sig_len = 0;
	int r;

	if (slot >= PCRGATE_BOOT_SLOTS || manifest == NULL || len > PCRGATE_MANIFEST_MAX)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if ((r = trust_store(hp, &store)) != PCRGATE_OK)
		return r;
	if ((r = read_signature(hp, slot, &sig, &sig_len)) != PCRGATE_OK)
		return r;
	r = PCRGATE_ERR_VERIFY;
	if ((cms = parse_cms(sig, sig_len)) == NULL) {
		pcrgate_log_openssl(__func__, "parsing manifest.sig");
		pg_warn("slot %s: manifest.sig is not a CMS signature (DER or PEM)", pcrgate_boot_slot_name(slot));
		goto fail;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed || CMS_is_detached(cms) != 1) {
		pg_warn("slot %s: manifest.sig is not a detached CMS SignedData", pcrgate_boot_slot_name(slot));
		goto fail;
	}
	if ((content = BIO_new_mem_buf(manifest, (int)len)) == NULL) {
		r = PCRGATE_ERR_NOMEM;
		goto fail;
	}
	/* Binary: the signature covers the bytes as they are, no MIME canonical form. */
	if (CMS_verify(cms, NULL, store, content, NULL, CMS_BINARY) != 1) {
		pcrgate_log_openssl(__func__, "CMS_verify");
		pg_warn("slot %s: the manifest signature does not verify against %s", pcrgate_boot_slot_name(slot),
			hp->cfg->trust);
		goto fail;
	}
	if (!signers_may_sign_code(cms, slot))
		goto fail;
	r = PCRGATE_OK;
fail:
	ERR_clear_error();
	BIO_free(content);
	CMS_ContentInfo_free(cms);
	free(sig);
	return r;
}
