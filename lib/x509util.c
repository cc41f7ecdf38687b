/* pcrgate: helpers for issuing X.509 certificates (lib/x509util.h). */
#include "config.h"

#include <stdint.h>

#include <openssl/bn.h>
#include <openssl/rand.h>

#include "x509util.h"

int pcrgate_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *e = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok = e != NULL && X509_add_ext(x, e, -1) == 1;

	X509_EXTENSION_free(e);
	return ok;
}

int pcrgate_x509_random_serial(X509 *x)
{
	uint8_t b[16];
	BIGNUM *bn = NULL;
	int ok;

	if (RAND_bytes(b, sizeof(b)) != 1)
		return 0;
	b[0] = (uint8_t)((b[0] & 0x7f) | 0x40);
	ok = (bn = BN_bin2bn(b, sizeof(b), NULL)) != NULL && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL;
	BN_free(bn);
	return ok;
}
