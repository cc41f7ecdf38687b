/*
 * pcrgate verifier: EK certificate verification with an OpenSSL X509_STORE. The configured
 * manufacturer CAs are loaded one certificate at a time (self-signed ones are anchors, the
 * rest intermediates for chain building, so cross-signed roots chain on to their signer).
 * Real EK certificates have defects that a strict X.509 verifier refuses; the ones tolerated
 * here are recorded in the result and documented in docs/enrollment.md. Signatures and the
 * chain to a configured anchor are never relaxed.
 */
#include "config.h"

#include "verifier/ekcert.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>

#include "attest/tpmobj.h"
#include "lib/reader.h"

struct ekcert_trust {
	X509_STORE *store;
	STACK_OF(X509) *intermediates;
	size_t anchors;
};

/* TCG PC Client Platform TPM Profile, "EK certificate in NV": tag 0x1001, type 0 (full certificate), size. */
#define NV_CERT_TAG 0x1001
#define MAX_SERIAL_BYTES 20 /* RFC 5280, 4.1.2.2 */

void ekcert_trust_free(ekcert_trust **trust)
{
	if (trust == NULL || *trust == NULL)
		return;
	X509_STORE_free((*trust)->store);
	sk_X509_pop_free((*trust)->intermediates, X509_free);
	free(*trust);
	*trust = NULL;
}

void ekcert_trust_count(const ekcert_trust *trust, size_t *anchors, size_t *intermediates)
{
	*anchors = trust ? trust->anchors : 0;
	*intermediates = trust ? (size_t)sk_X509_num(trust->intermediates) : 0;
}

static int add_cert(ekcert_trust *t, X509 *x, const char *file, pcrgate_errinfo *ei)
{
	if (X509_self_signed(x, 0) == 1) {
		if (X509_STORE_add_cert(t->store, x) != 1) {
			/* The same root in two files is harmless. */
			unsigned long e = ERR_peek_last_error();
			if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
				pcrgate_log_openssl(__func__, "X509_STORE_add_cert");
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
							   "%s: cannot add the certificate to the trust store", file);
			}
			ERR_clear_error();
			return PCRGATE_OK;
		}
		t->anchors++;
		return PCRGATE_OK;
	}
	if (!X509_up_ref(x) || sk_X509_push(t->intermediates, x) <= 0) {
		X509_free(x);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	return PCRGATE_OK;
}

/* One CA file: PEM with one or more certificates, or one DER certificate. */
static int load_file(ekcert_trust *t, const char *file, pcrgate_errinfo *ei)
{
	uint8_t *buf = NULL;
	size_t len, n = 0;
	BIO *bio = NULL;
	X509 *x = NULL;
	int r;

	if ((r = pcrgate_file_read(file, EKCERT_MAX_CA_FILE, &buf, &len, ei)) != PCRGATE_OK)
		return r;
	if (len >= 10 && memmem(buf, len, "-----BEGIN", 10) != NULL) {
		if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
			r = add_cert(t, x, file, ei);
			X509_free(x);
			if (r != PCRGATE_OK)
				goto fail;
			n++;
		}
		/* The loop ends at the end of the PEM data, or at a certificate that does not parse. */
		if (ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE || n == 0) {
			pcrgate_log_openssl(__func__, file);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"%s: certificate %zu does not parse", file, n + 1);
			goto fail;
		}
		ERR_clear_error();
	} else {
		const unsigned char *p = buf;
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || (size_t)(p - buf) != len) {
			X509_free(x);
			pcrgate_log_openssl(__func__, file);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"%s: not a PEM or DER certificate", file);
			goto fail;
		}
		r = add_cert(t, x, file, ei);
		X509_free(x);
		if (r != PCRGATE_OK)
			goto fail;
	}
	r = PCRGATE_OK;
fail:
	BIO_free(bio);
	free(buf);
	return r;
}

static int is_cert_name(const char *name)
{
	static const char *const ext[] = {".pem", ".crt", ".cer", ".der"};
	size_t n = strlen(name);

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++)
		if (n > 4 && strcasecmp(name + n - 4, ext[i]) == 0)
			return 1;
	return 0;
}

static int load_dir(ekcert_trust *t, const char *dir, pcrgate_errinfo *ei)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	struct stat st;
	char path[4096];
	size_t files = 0;
	int r = PCRGATE_OK;

	if (d == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot open %s: %s", dir,
					   strerror(errno));
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.' || !is_cert_name(e->d_name))
			continue;
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= sizeof(path)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s/%s: path too long", dir,
						e->d_name);
			break;
		}
		if (stat(path, &st) != 0 || !S_ISREG(st.st_mode))
			continue;
		if (++files > EKCERT_MAX_CA_FILES) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: more than %d CA files", dir,
						EKCERT_MAX_CA_FILES);
			break;
		}
		if ((r = load_file(t, path, ei)) != PCRGATE_OK)
			break;
	}
	closedir(d);
	return r;
}

int ekcert_trust_load(const char *path, ekcert_trust **out, pcrgate_errinfo *ei)
{
	ekcert_trust *t;
	struct stat st;
	int r;

	if (path == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "missing argument");
	if (stat(path, &st) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "EK CA path %s: %s", path,
					   strerror(errno));
	if ((t = calloc(1, sizeof(*t))) == NULL || (t->store = X509_STORE_new()) == NULL ||
	    (t->intermediates = sk_X509_new_null()) == NULL) {
		ekcert_trust_free(&t);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	r = S_ISDIR(st.st_mode) ? load_dir(t, path, ei) : load_file(t, path, ei);
	if (r == PCRGATE_OK && t->anchors == 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					"EK CA path %s holds no self-signed root certificate", path);
	if (r != PCRGATE_OK) {
		ekcert_trust_free(&t);
		return r;
	}
	*out = t;
	return PCRGATE_OK;
}

void ekcert_result_clear(struct ekcert_result *res)
{
	if (res == NULL)
		return;
	EVP_PKEY_free(res->pkey);
	memset(res, 0, sizeof(*res));
}

/*
 * The certificate inside what a TPM's NV index holds: an optional TCG NV header, then one DER
 * SEQUENCE, then possibly padding (NV indices are often larger than the certificate).
 */
static int unwrap_der(const uint8_t *der, size_t len, const uint8_t **cert, size_t *certlen, unsigned *defects,
		      pcrgate_errinfo *ei)
{
	struct reader rd;
	uint8_t tag, type, lb, hdr[2];
	size_t body = 0, hlen;

	reader_init(&rd, der, len);
	if (len >= 5 && der[0] == (NV_CERT_TAG >> 8) && der[1] == (NV_CERT_TAG & 0xff) && der[2] == 0) {
		uint16_t size;
		if (reader_copy(&rd, hdr, 2) != 0 || reader_u8(&rd, &type) != 0 || reader_copy(&rd, hdr, 2) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off, "truncated NV certificate header");
		size = (uint16_t)(hdr[0] << 8 | hdr[1]);
		if (size > rd.left)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 3,
						   "NV certificate header says %u bytes, %zu follow", size, rd.left);
		reader_init(&rd, der + 5, size);
		rd.off = 5;
		*defects |= EKCERT_DEFECT_ENCODING;
	}
	*cert = rd.p;
	if (reader_u8(&rd, &tag) != 0 || tag != 0x30 || reader_u8(&rd, &lb) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off, "not a DER certificate (no SEQUENCE)");
	hlen = 2;
	if (lb < 0x80) {
		body = lb;
	} else if (lb >= 0x81 && lb <= 0x83) {
		for (unsigned i = 0; i < (unsigned)(lb & 0x7f); i++) {
			uint8_t b;
			if (reader_u8(&rd, &b) != 0)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off, "truncated certificate length");
			body = body << 8 | b;
			hlen++;
		}
	} else {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off - 1,
					   "certificate length encoding 0x%02x not supported", lb);
	}
	if (body > rd.left)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, rd.off, "certificate of %zu bytes, %zu present", body,
					   rd.left);
	if (rd.left > body)
		*defects |= EKCERT_DEFECT_ENCODING; /* padding after the certificate */
	*certlen = hlen + body;
	return PCRGATE_OK;
}

/* Serial numbers: RFC 5280 wants positive and at most 20 bytes; some manufacturers ignored that. */
static void check_serial(X509 *x, unsigned *defects)
{
	const ASN1_INTEGER *s = X509_get0_serialNumber(x);
	const unsigned char *d = ASN1_STRING_get0_data(s);
	int n = ASN1_STRING_length(s), zero = 1;

	for (int i = 0; i < n; i++)
		zero &= d[i] == 0;
	if (ASN1_STRING_type(s) == V_ASN1_NEG_INTEGER || n > MAX_SERIAL_BYTES || zero)
		*defects |= EKCERT_DEFECT_SERIAL;
}

struct verify_state {
	unsigned defects;
};

static int ex_idx = -1;
static pthread_once_t ex_once = PTHREAD_ONCE_INIT;

static void ex_init(void)
{
	ex_idx = X509_STORE_CTX_get_ex_new_index(0, NULL, NULL, NULL, NULL);
}

/* The index under which verify_cb finds its state; -1 when OpenSSL could not give one. */
static int ex_index(void)
{
	pthread_once(&ex_once, ex_init);
	return ex_idx;
}

/*
 * Tolerates exactly the documented defects: validity periods anywhere in the chain (EK
 * certificates are issued for the device's lifetime) and critical extensions OpenSSL does not
 * know in the EK certificate itself (the TCG's). Everything else fails verification.
 */
static int verify_cb(int ok, X509_STORE_CTX *ctx)
{
	struct verify_state *st = X509_STORE_CTX_get_ex_data(ctx, ex_index());
	int err = X509_STORE_CTX_get_error(ctx);

	if (ok)
		return 1;
	switch (err) {
	case X509_V_ERR_CERT_HAS_EXPIRED:
	case X509_V_ERR_CERT_NOT_YET_VALID:
		st->defects |= EKCERT_DEFECT_EXPIRED;
		return 1;
	case X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION:
		if (X509_STORE_CTX_get_error_depth(ctx) == 0) {
			st->defects |= EKCERT_DEFECT_CRITICAL_EXT;
			return 1;
		}
		return 0;
	default:
		return 0;
	}
}

static void name_line(const X509_NAME *n, char *out, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	int len;

	out[0] = '\0';
	if (b == NULL)
		return;
	if (X509_NAME_print_ex(b, n, 0, XN_FLAG_ONELINE & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (len = BIO_read(b, out, (int)cap - 1)) > 0)
		out[len] = '\0';
	BIO_free(b);
}

int ekcert_verify_trust(const ekcert_trust *trust, const uint8_t *der, size_t len, struct ekcert_result *res,
			pcrgate_errinfo *ei)
{
	struct verify_state st = {0};
	X509_STORE_CTX *ctx = NULL;
	STACK_OF(X509) *chain;
	X509 *x = NULL;
	EVP_PKEY *pk;
	const uint8_t *cert = NULL, *p;
	unsigned char *re = NULL;
	size_t certlen = 0;
	int relen, err, type, r;

	if (trust == NULL || der == NULL || res == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "missing argument");
	if (len > EKCERT_MAX_SIZE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "EK certificate of %zu bytes; at most %u", len, EKCERT_MAX_SIZE);
	if ((r = unwrap_der(der, len, &cert, &certlen, &st.defects, ei)) != PCRGATE_OK)
		return r;
	p = cert;
	if ((x = d2i_X509(NULL, &p, (long)certlen)) == NULL || (size_t)(p - cert) != certlen) {
		pcrgate_log_openssl(__func__, "d2i_X509");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)(cert - der),
					"the EK certificate does not parse as X.509");
		goto fail;
	}
	/* OpenSSL keeps the signed bytes as sent; a different re-encoding means they were not DER. */
	if ((relen = i2d_X509(x, &re)) < 0 || (size_t)relen != certlen || memcmp(re, cert, certlen) != 0)
		st.defects |= EKCERT_DEFECT_ENCODING;
	check_serial(x, &st.defects);
	if ((pk = X509_get0_pubkey(x)) == NULL ||
	    ((type = EVP_PKEY_get_base_id(pk)) != EVP_PKEY_RSA && type != EVP_PKEY_EC)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"the EK certificate's key is not an RSA or EC key");
		goto fail;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL || ex_index() < 0 ||
	    X509_STORE_CTX_init(ctx, trust->store, x, trust->intermediates) != 1 ||
	    X509_STORE_CTX_set_ex_data(ctx, ex_index(), &st) != 1) {
		pcrgate_log_openssl(__func__, "X509_STORE_CTX_init");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot set up chain verification");
		goto fail;
	}
	X509_STORE_CTX_set_verify_cb(ctx, verify_cb);
	if (X509_verify_cert(ctx) != 1) {
		err = X509_STORE_CTX_get_error(ctx);
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"EK certificate chain: %s (at depth %d)%s", X509_verify_cert_error_string(err),
					X509_STORE_CTX_get_error_depth(ctx),
					err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY ||
							err == X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT ||
							err == X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN ||
							err == X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT
						? ": not issued by a configured manufacturer CA"
						: "");
		goto fail;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	memset(res, 0, sizeof(*res));
	if (!EVP_PKEY_up_ref(pk)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	res->pkey = pk;
	res->defects = st.defects;
	name_line(X509_get_issuer_name(x), res->issuer, sizeof(res->issuer));
	name_line(X509_get_subject_name(sk_X509_value(chain, sk_X509_num(chain) - 1)), res->anchor,
		  sizeof(res->anchor));
	r = PCRGATE_OK;
fail:
	OPENSSL_free(re);
	X509_STORE_CTX_free(ctx);
	X509_free(x);
	return r;
}

int ekcert_verify(const uint8_t *der, size_t len, const char *ca_path, struct ekcert_result *res,
		  pcrgate_errinfo *ei)
{
	ekcert_trust *t = NULL;
	int r;

	if ((r = ekcert_trust_load(ca_path, &t, ei)) != PCRGATE_OK)
		return r;
	r = ekcert_verify_trust(t, der, len, res, ei);
	ekcert_trust_free(&t);
	return r;
}

int ekcert_match_public(EVP_PKEY *pkey, const TPM2B_PUBLIC *ek, pcrgate_errinfo *ei)
{
	EVP_PKEY *mine = NULL;
	int r;

	if (pkey == NULL || ek == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "missing argument");
	if ((r = tpmobj_to_evp(&ek->publicArea, &mine, ei)) != PCRGATE_OK)
		return r;
	r = EVP_PKEY_eq(pkey, mine) == 1
		    ? PCRGATE_OK
		    : pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					  "the EK certificate certifies another key than the EK public area sent");
	EVP_PKEY_free(mine);
	return r;
}
