/*
 * pcrgate-verifierd: device TLS client certificates. Enrollment hands the TLS key the AK
 * certified to api_device_tls_issue once the credential is activated; every later device
 * request (the VROUTE_DEVICE routes) must come over a TLS connection whose client certificate
 * the device CA issued for exactly the key enrolled for that device (api_device_auth).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "attest/tpmobj.h"
#include "verifier/api_internal.h"

const char *api_device_ca_pem(const struct api_ctx *ctx)
{
	return ctx != NULL ? devcert_ca_pem(ctx->device_ca) : NULL;
}

/* The device's enrolled TLS key; its state is the handlers' to judge, which record their verdicts. */
struct tls_row {
	int found;
	char spki[DEVCERT_SPKI_HEX];
};

static int tls_row(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei)
{
	struct tls_row *t = arg;

	(void)ei;
	if (ncols != 1)
		return 0;
	t->found = 1;
	vcol_text(&cols[0], t->spki, sizeof(t->spki));
	return 0;
}

struct tls_lookup {
	const char *device_id;
	struct tls_row row;
};

static int tls_lookup_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct tls_lookup *l = arg;
	struct vparam id = VPARAM_TEXT(l->device_id);

	memset(&l->row, 0, sizeof(l->row));
	return vstore_exec(tx, "SELECT tls_spki FROM devices WHERE id = ?", &id, 1, tls_row, &l->row, NULL, ei);
}

_Static_assert(VHTTP_KEY_ID == DEVCERT_SPKI_HEX, "a device's TLS key identity is its SPKI digest in hex");

int api_device_auth(void *app, const char *device_id, const uint8_t *const *certs, const size_t *lens, size_t n,
		    const char *verified, char key_out[VHTTP_KEY_ID], char *why, size_t cap)
{
	struct api_ctx *ctx = app;
	char cn[API_MAX_NAME + 1], spki[DEVCERT_SPKI_HEX];
	struct tls_lookup l;
	pcrgate_errinfo ei;
	int r;

	pcrgate_errinfo_clear(&ei);
	key_out[0] = '\0';
	if (ctx->device_ca == NULL) {
		snprintf(why, cap, "device client certificates are not configured");
		return 503;
	}
	/* The chain and its name were verified on this connection for this leaf: only the key is looked up. */
	if (verified != NULL && strlen(verified) == DEVCERT_SPKI_HEX - 1) {
		memcpy(spki, verified, DEVCERT_SPKI_HEX);
	} else {
		if (devcert_verify(ctx->device_ca, certs, lens, n, cn, sizeof(cn), spki, &ei) != PCRGATE_OK) {
			snprintf(why, cap, "%s", ei.message);
			return 401;
		}
		if (strcmp(cn, device_id) != 0) {
			snprintf(why, cap, "the client certificate is device %s's, not %s's", cn, device_id);
			return 403;
		}
	}
	memset(&l, 0, sizeof(l));
	l.device_id = device_id;
	if ((r = vstore_run_read(ctx->store, tls_lookup_tx, &l, &ei)) != PCRGATE_OK) {
		pg_err("device %s: %s", device_id, ei.message);
		snprintf(why, cap, "the store is not available");
		return 503;
	}
	/* A certificate for a key the device no longer has enrolled (re-enrolled since) is refused. */
	if (!l.row.found || strlen(l.row.spki) != DEVCERT_SPKI_HEX - 1 ||
	    !pcrgate_ct_equal(l.row.spki, spki, DEVCERT_SPKI_HEX - 1)) {
		snprintf(why, cap, "the client certificate's key is not the TLS key enrolled for device %s", device_id);
		return 403;
	}
	memcpy(key_out, spki, DEVCERT_SPKI_HEX);
	return 0;
}

int api_device_tls_issue(struct api_ctx *ctx, vstore_tx *tx, const char *device_id, const uint8_t *tpm_public,
			 size_t len, char **pem, pcrgate_errinfo *ei)
{
	char spki[DEVCERT_SPKI_HEX];
	TPM2B_PUBLIC pub;
	EVP_PKEY *key = NULL;
	char *cert = NULL;
	int r;

	if ((r = tpmobj_public_unmarshal(tpm_public, len, &pub, ei)) != PCRGATE_OK ||
	    (r = tpmobj_to_evp(&pub.publicArea, &key, ei)) != PCRGATE_OK ||
	    (r = devcert_issue(ctx->device_ca, key, device_id, ctx->cfg.device_cert_days, &cert, spki, ei)) != PCRGATE_OK)
		goto fail;
	{
		struct vparam p[3] = {VPARAM_BLOB(tpm_public, len), VPARAM_TEXT(spki), VPARAM_TEXT(device_id)};

		if ((r = vstore_exec(tx, "UPDATE devices SET tls_key_public = ?, tls_spki = ?, tls_pending = NULL "
					 "WHERE id = ?",
				     p, 3, NULL, NULL, NULL, ei)) != PCRGATE_OK)
			goto fail;
	}
	if ((r = api_audit(tx, "device", "tls-certificate-issued", device_id, json_pack("{s:s}", "spki_sha256", spki),
			   ei)) != PCRGATE_OK)
		goto fail;
	/* The certificate leaves in the answer: its key's record must survive a power cut. */
	vstore_tx_durable(tx);
	*pem = cert;
	cert = NULL;
fail:
	free(cert);
	EVP_PKEY_free(key);
	return r;
}
