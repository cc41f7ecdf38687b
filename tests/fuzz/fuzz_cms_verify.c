/*
 * libFuzzer target for the CMS signature check of the update trust store (lib/truststore.c):
 * the input is the signature, over fixed data, against a store of one root with a CRL. The
 * root's key is the one tests/unit/test_truststore.c signs its seeds under, so seeds reach
 * the chain, usage and revocation checks. Properties beyond not crashing: an accepted
 * signature has a verified signer chaining to that root, and its report is consistent.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tests/unit/trust_fixture.h"
#include "truststore.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct pcrgate_truststore *store;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	EVP_PKEY *key = fx_key(FX_ROOT_SEED);
	X509 *root = fx_cert(FX_ROOT_CN, key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	X509 *revoked = fx_cert("revoked", key, root, key, FX_SIGNER, 0x666, -1, 365);
	X509_CRL *crl = root != NULL && revoked != NULL ? fx_crl(root, key, &revoked, 1, 1) : NULL;
	uint8_t *pem = NULL, *crl_pem = NULL;
	size_t len = 0, crl_len = 0;

	(void)argc;
	(void)argv;
	if (crl == NULL || (pem = fx_pem(root, NULL, &len)) == NULL ||
	    (crl_pem = fx_pem(NULL, crl, &crl_len)) == NULL ||
	    pcrgate_truststore_new(&store) != 0 || pcrgate_truststore_add_roots(store, pem, len, "root", NULL) != 0 ||
	    pcrgate_truststore_add_crls(store, crl_pem, crl_len, "crl", NULL) != 0)
		abort();
	free(pem);
	free(crl_pem);
	X509_CRL_free(crl);
	X509_free(revoked);
	X509_free(root);
	EVP_PKEY_free(key);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char signed_data[] = FX_DATA;
	struct pcrgate_cms_report rep;
	pcrgate_errinfo ei;
	size_t i, verified = 0;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_truststore_verify_cms(store, data, size, (const uint8_t *)signed_data, sizeof(signed_data) - 1,
					  &rep, &ei) != 0) {
		if (ei.code >= 0 || ei.message[0] == '\0')
			abort();
		return 0;
	}
	if (rep.signer_count < 1 || rep.signer_count > PCRGATE_CMS_MAX_SIGNERS || rep.verified_count < 1 ||
	    rep.roots != 1u)
		abort();
	for (i = 0; i < rep.signer_count; i++) {
		if (rep.signer[i].verified && (rep.signer[i].root != 0 || rep.signer[i].reason[0] != '\0'))
			abort();
		verified += rep.signer[i].verified != 0;
	}
	if (verified != rep.verified_count)
		abort();
	return 0;
}
