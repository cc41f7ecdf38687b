/*
 * pcrgate: loading a key through OSSL_STORE (include/pcrgate/common.h pcrgate_key_load), the
 * one loader every part uses: a PEM/DER file, or a provider URI (pkcs11:, handle:, ...) so that
 * keys may live in a TPM or an HSM. A URI's query may carry a PIN (pkcs11: ?pin-value=), so
 * messages and logs name the URI without its query.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/store.h>
#include <openssl/ui.h>
#include <openssl/x509.h>

#include "pcrgate/common.h"

int pcrgate_key_uri_shown(const char *uri, char *out, size_t cap)
{
	size_t n = strcspn(uri, "?");
	int had_query = uri[n] != '\0';

	snprintf(out, cap, "%.*s%s", (int)(n < cap ? n : cap - 1), uri, had_query ? "?..." : "");
	return had_query;
}

/* OpenSSL's messages may repeat the URI, query included: only logged when it has none. */
static void log_store_errors(const char *func, const char *shown, int had_query)
{
	if (had_query) {
		ERR_clear_error();
		pg_debug("%s: OpenSSL's details withheld (the key URI has a query)", shown);
		return;
	}
	pcrgate_log_openssl(func, shown);
}

int pcrgate_key_load(const char *uri, int want_private, EVP_PKEY **out, pcrgate_errinfo *ei)
{
	OSSL_STORE_CTX *st;
	OSSL_STORE_INFO *info;
	EVP_PKEY *pkey = NULL;
	char shown[256];
	X509 *cert;
	int type, had_query;

	if (uri == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no key given");
	had_query = pcrgate_key_uri_shown(uri, shown, sizeof(shown));
	st = OSSL_STORE_open(uri, want_private ? UI_get_default_method() : UI_null(), NULL, NULL, NULL);
	if (st == NULL) {
		log_store_errors(__func__, shown, had_query);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET, "cannot open key %s", shown);
	}
	while (pkey == NULL && !OSSL_STORE_eof(st)) {
		if ((info = OSSL_STORE_load(st)) == NULL) {
			/* A store that fails without reaching its end would loop here forever. */
			if (OSSL_STORE_error(st))
				break;
			continue;
		}
		type = OSSL_STORE_INFO_get_type(info);
		if (type == OSSL_STORE_INFO_PKEY)
			pkey = OSSL_STORE_INFO_get1_PKEY(info);
		else if (type == OSSL_STORE_INFO_PUBKEY && !want_private)
			pkey = OSSL_STORE_INFO_get1_PUBKEY(info);
		else if (type == OSSL_STORE_INFO_CERT && !want_private &&
			 (cert = OSSL_STORE_INFO_get0_CERT(info)) != NULL)
			pkey = X509_get_pubkey(cert);
		OSSL_STORE_INFO_free(info);
	}
	OSSL_STORE_close(st);
	if (pkey == NULL) {
		log_store_errors(__func__, shown, had_query);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET, "%s holds no %s key", shown,
					   want_private ? "private" : "public");
	}
	ERR_clear_error();
	*out = pkey;
	return PCRGATE_OK;
}
