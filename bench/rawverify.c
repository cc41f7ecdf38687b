/* The benchmarks' raw OpenSSL reference: see rawverify.h. */
#include "config.h"

#include <string.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/quote.h"
#include "rawverify.h"

int rawverify_once(const struct rawverify *rv)
{
	return EVP_PKEY_verify(rv->ctx, rv->sig, rv->sig_len, rv->dgst, sizeof(rv->dgst)) == 1 ? 0 : -1;
}

/* The signature as OpenSSL verifies it: bare for RSA, a DER SEQUENCE of r and s for ECDSA. */
static int openssl_sig(struct rawverify *rv, const uint8_t *tpm_sig, size_t tpm_sig_len)
{
	ECDSA_SIG *es = NULL;
	BIGNUM *r = NULL, *s = NULL;
	unsigned char *p = rv->sig;
	const TPMS_SIGNATURE_ECC *ecc;
	TPMT_SIGNATURE ts;
	size_t off = 0;
	int n, rc = -1;

	memset(&ts, 0, sizeof(ts));
	if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(tpm_sig, tpm_sig_len, &off, &ts) != TSS2_RC_SUCCESS)
		return -1;
	ecc = &ts.signature.ecdsa;
	if (ts.sigAlg != TPM2_ALG_ECDSA) {
		if (ts.signature.rsassa.sig.size > sizeof(rv->sig))
			return -1;
		memcpy(rv->sig, ts.signature.rsassa.sig.buffer, ts.signature.rsassa.sig.size);
		rv->sig_len = ts.signature.rsassa.sig.size;
		return 0;
	}
	if ((es = ECDSA_SIG_new()) == NULL ||
	    (r = BN_bin2bn(ecc->signatureR.buffer, ecc->signatureR.size, NULL)) == NULL ||
	    (s = BN_bin2bn(ecc->signatureS.buffer, ecc->signatureS.size, NULL)) == NULL ||
	    ECDSA_SIG_set0(es, r, s) != 1)
		goto fail;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(es, NULL)) <= 0 || (size_t)n > sizeof(rv->sig) || i2d_ECDSA_SIG(es, &p) != n)
		goto fail;
	rv->sig_len = (size_t)n;
	rc = 0;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(es);
	return rc;
}

/* The settings pcrgate's verification context uses, nothing else. */
int rawverify_setup(struct rawverify *rv, const struct qt_key *key, const uint8_t *attest, size_t attest_len,
		    const uint8_t *tpm_sig, size_t tpm_sig_len)
{
	uint8_t der[1024];
	const unsigned char *p = der;
	EVP_MD *md = NULL;
	size_t len;
	int r = -1;

	memset(rv, 0, sizeof(*rv));
	if (qt_key_export(key, PCRGATE_AKPUB_DER, der, sizeof(der), &len) != 0 ||
	    (rv->pub = d2i_PUBKEY(NULL, &p, (long)len)) == NULL || openssl_sig(rv, tpm_sig, tpm_sig_len) != 0 ||
	    pcrgate_digest(PCRGATE_ALG_SHA256, attest, attest_len, rv->dgst) != 0 ||
	    (md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL ||
	    (rv->ctx = EVP_PKEY_CTX_new_from_pkey(NULL, rv->pub, NULL)) == NULL ||
	    EVP_PKEY_verify_init(rv->ctx) != 1)
		goto fail;
	if (key->scheme == TPM2_ALG_RSASSA && EVP_PKEY_CTX_set_rsa_padding(rv->ctx, RSA_PKCS1_PADDING) != 1)
		goto fail;
	if (key->scheme == TPM2_ALG_RSAPSS &&
	    (EVP_PKEY_CTX_set_rsa_padding(rv->ctx, RSA_PKCS1_PSS_PADDING) != 1 ||
	     EVP_PKEY_CTX_set_rsa_pss_saltlen(rv->ctx, RSA_PSS_SALTLEN_AUTO) != 1))
		goto fail;
	if (EVP_PKEY_CTX_set_signature_md(rv->ctx, md) != 1 || rawverify_once(rv) != 0)
		goto fail;
	r = 0;
fail:
	EVP_MD_free(md);
	if (r != 0)
		rawverify_free(rv);
	return r;
}

void rawverify_free(struct rawverify *rv)
{
	EVP_PKEY_CTX_free(rv->ctx);
	EVP_PKEY_free(rv->pub);
	rv->ctx = NULL;
	rv->pub = NULL;
}
