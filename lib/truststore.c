/*
 * pcrgate (library-internal): the update trust store (roots and CRLs) and the verification of
 * detached CMS signatures against it. The rules are in truststore.h and docs/updates.md; the
 * signing side is lib/cms_sign.c.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/pem.h> /* before cms.h, which declares its PEM functions only then */
#include <openssl/cms.h>
#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "truststore.h"

/* Longest certificate chain from a signer to its root (signer, intermediates, root). */
#define TRUST_MAX_DEPTH 4

struct pcrgate_truststore {
	X509_STORE *store;
	STACK_OF(X509) *roots;
	STACK_OF(X509_CRL) *crls;
	char *subjects[PCRGATE_TRUST_MAX_ROOTS];
	int crl_roots[PCRGATE_TRUST_MAX_CRLS]; /* CRL i's signer: an index of roots, which only grows */
};

char *pcrgate_x509_name_line(const X509_NAME *name)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *s = NULL, *p = NULL;
	long n;

	if (b == NULL)
		return NULL;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) >= 0 && (n = BIO_get_mem_data(b, &p)) >= 0 &&
	    (s = malloc((size_t)n + 1)) != NULL) {
		memcpy(s, p, (size_t)n);
		s[n] = '\0';
	}
	BIO_free(b);
	return s;
}

int pcrgate_truststore_new(struct pcrgate_truststore **ts)
{
	struct pcrgate_truststore *t;

	if (ts == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if ((t = calloc(1, sizeof(*t))) == NULL)
		return PCRGATE_ERR_NOMEM;
	if ((t->store = X509_STORE_new()) == NULL || (t->roots = sk_X509_new_null()) == NULL ||
	    (t->crls = sk_X509_CRL_new_null()) == NULL) {
		pcrgate_log_openssl(__func__, "X509_STORE_new");
		pcrgate_truststore_free(&t);
		return PCRGATE_ERR_NOMEM;
	}
	/*
	 * No time checks (truststore.h); strict X.509 parsing; a short chain. Revocation is checked
	 * by verify_signer itself against the store's CRLs, so that a missing CRL is acceptable.
	 */
	if (X509_STORE_set_flags(t->store, X509_V_FLAG_NO_CHECK_TIME | X509_V_FLAG_X509_STRICT) != 1 ||
	    X509_STORE_set_depth(t->store, TRUST_MAX_DEPTH - 2) != 1) {
		pcrgate_log_openssl(__func__, "X509_STORE_set_flags");
		pcrgate_truststore_free(&t);
		return PCRGATE_ERR_CRYPTO;
	}
	*ts = t;
	return PCRGATE_OK;
}

void pcrgate_truststore_free(struct pcrgate_truststore **ts)
{
	struct pcrgate_truststore *t;
	size_t i;

	if (ts == NULL || (t = *ts) == NULL)
		return;
	X509_STORE_free(t->store);
	sk_X509_pop_free(t->roots, X509_free);
	sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
	for (i = 0; i < PCRGATE_TRUST_MAX_ROOTS; i++)
		free(t->subjects[i]);
	free(t);
	*ts = NULL;
}

static int is_pem(const uint8_t *buf, size_t len)
{
	static const char begin[] = "-----BEGIN ";
	size_t i = 0;

	while (i < len && (buf[i] == ' ' || buf[i] == '\t' || buf[i] == '\r' || buf[i] == '\n'))
		i++;
	return len - i >= sizeof(begin) - 1 && memcmp(buf + i, begin, sizeof(begin) - 1) == 0;
}

/* True when the PEM reader stopped because the input ended, not because of a bad block. */
static int pem_at_end(void)
{
	unsigned long e = ERR_peek_last_error();

	if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
		ERR_clear_error();
		return 1;
	}
	return 0;
}

int pcrgate_cert_parse(const uint8_t *buf, size_t len, size_t max, const char *name, STACK_OF(X509) **out,
		       pcrgate_errinfo *ei)
{
	STACK_OF(X509) *sk = sk_X509_new_null();
	const uint8_t *p = buf;
	BIO *in = NULL;
	X509 *x = NULL;
	int r = PCRGATE_ERR_NOMEM;

	if (sk == NULL)
		goto fail;
	if (len > INT_MAX) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: too large", name);
		goto fail;
	}
	if (!is_pem(buf, len)) {
		if ((x = d2i_X509(NULL, &p, (long)len)) == NULL || p != buf + len) {
			pcrgate_log_openssl(__func__, name);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)(p - buf),
						"%s: not a PEM or DER certificate", name);
			goto fail;
		}
		if (!sk_X509_push(sk, x))
			goto fail;
		x = NULL;
	} else {
		if ((in = BIO_new_mem_buf(buf, (int)len)) == NULL)
			goto fail;
		while ((x = PEM_read_bio_X509(in, NULL, NULL, NULL)) != NULL) {
			if ((size_t)sk_X509_num(sk) >= max) {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
							"%s: more than %zu certificates", name, max);
				goto fail;
			}
			if (!sk_X509_push(sk, x))
				goto fail;
			x = NULL;
		}
		if (!pem_at_end()) {
			pcrgate_log_openssl(__func__, name);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"%s: certificate %d is not a valid PEM certificate", name,
						sk_X509_num(sk) + 1);
			goto fail;
		}
	}
	if (sk_X509_num(sk) == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: holds no certificate", name);
		goto fail;
	}
	*out = sk;
	sk = NULL;
	r = PCRGATE_OK;
fail:
	if (r == PCRGATE_ERR_NOMEM)
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "%s: out of memory", name);
	X509_free(x);
	BIO_free(in);
	sk_X509_pop_free(sk, X509_free);
	return r;
}

static int root_index(const struct pcrgate_truststore *ts, const X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(ts->roots); i++)
		if (X509_cmp(sk_X509_value(ts->roots, i), x) == 0)
			return i;
	return -1;
}

/* Whether sk holds a certificate equal to x (sk_X509_find without a comparison compares pointers). */
static int in_stack(STACK_OF(X509) *sk, const X509 *x)
{
	int i;

	for (i = 0; i < sk_X509_num(sk); i++)
		if (X509_cmp(sk_X509_value(sk, i), x) == 0)
			return 1;
	return 0;
}

const char *pcrgate_truststore_signer_problem(X509 *x)
{
	uint32_t flags = X509_get_extension_flags(x);

	if (!(flags & EXFLAG_XKUSAGE) || !(X509_get_extended_key_usage(x) & XKU_CODE_SIGN))
		return "lacks the codeSigning extended key usage";
	if ((flags & EXFLAG_KUSAGE) && !(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE))
		return "has a key usage without digitalSignature";
	return NULL;
}

const char *pcrgate_truststore_root_problem(X509 *x)
{
	if (!(X509_get_extension_flags(x) & EXFLAG_CA))
		return "is not a CA (basicConstraints CA:TRUE)";
	if (X509_self_signed(x, 1) != 1) {
		ERR_clear_error();
		return "is not a self-signed root";
	}
	return NULL;
}

int pcrgate_truststore_add_roots(struct pcrgate_truststore *ts, const uint8_t *buf, size_t len, const char *name,
				 pcrgate_errinfo *ei)
{
	STACK_OF(X509) *certs = NULL, *fresh = NULL;
	size_t room, added = 0;
	char *subject[PCRGATE_TRUST_MAX_ROOTS] = {NULL};
	X509 *x;
	int i, r;

	if (ts == NULL || buf == NULL || name == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no store or roots");
	room = PCRGATE_TRUST_MAX_ROOTS - (size_t)sk_X509_num(ts->roots);
	if ((r = pcrgate_cert_parse(buf, len, PCRGATE_TRUST_MAX_ROOTS, name, &certs, ei)) != PCRGATE_OK)
		return r;
	if ((fresh = sk_X509_new_null()) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	/* Check them all before the store changes, so a bad file leaves it as it was. */
	for (i = 0; i < sk_X509_num(certs); i++) {
		const char *why;

		x = sk_X509_value(certs, i);
		if ((why = pcrgate_truststore_root_problem(x)) != NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "%s: certificate %d %s", name,
						i + 1, why);
			goto fail;
		}
		if (root_index(ts, x) >= 0 || in_stack(fresh, x))
			continue;
		if (added >= room) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
						"%s: the store would hold more than %d roots", name,
						PCRGATE_TRUST_MAX_ROOTS);
			goto fail;
		}
		if ((subject[added] = pcrgate_x509_name_line(X509_get_subject_name(x))) == NULL || !sk_X509_push(fresh, x)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		added++;
	}
	for (i = 0; i < sk_X509_num(fresh); i++) {
		x = sk_X509_value(fresh, i);
		if (X509_STORE_add_cert(ts->store, x) != 1 || !X509_up_ref(x) || !sk_X509_push(ts->roots, x)) {
			/* Only an allocation failure gets here; the store may hold some of them. */
			pcrgate_log_openssl(__func__, name);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "%s: cannot add root", name);
			goto fail;
		}
		ts->subjects[sk_X509_num(ts->roots) - 1] = subject[i];
		subject[i] = NULL;
	}
	r = PCRGATE_OK;
fail:
	for (added = 0; added < PCRGATE_TRUST_MAX_ROOTS; added++)
		free(subject[added]);
	sk_X509_free(fresh);
	sk_X509_pop_free(certs, X509_free);
	return r;
}

/* The root that issued and signed crl, or -1. */
static int crl_root(const struct pcrgate_truststore *ts, X509_CRL *crl)
{
	int i;

	for (i = 0; i < sk_X509_num(ts->roots); i++) {
		X509 *root = sk_X509_value(ts->roots, i);

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(root)) == 0 &&
		    X509_CRL_verify(crl, X509_get0_pubkey(root)) == 1)
			return i;
	}
	ERR_clear_error();
	return -1;
}

int pcrgate_truststore_add_crls(struct pcrgate_truststore *ts, const uint8_t *buf, size_t len, const char *name,
				pcrgate_errinfo *ei)
{
	STACK_OF(X509_CRL) *crls = NULL;
	int i, r = PCRGATE_ERR_NOMEM, signer[PCRGATE_TRUST_MAX_CRLS];
	const uint8_t *p = buf;
	X509_CRL *crl = NULL;
	BIO *in = NULL;

	if (ts == NULL || buf == NULL || name == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no store or CRL");
	if (len > INT_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: too large", name);
	if ((crls = sk_X509_CRL_new_null()) == NULL)
		goto fail;
	if (!is_pem(buf, len)) {
		if ((crl = d2i_X509_CRL(NULL, &p, (long)len)) == NULL || p != buf + len) {
			pcrgate_log_openssl(__func__, name);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)(p - buf), "%s: not a PEM or DER CRL",
						name);
			goto fail;
		}
		if (!sk_X509_CRL_push(crls, crl))
			goto fail;
		crl = NULL;
	} else {
		if ((in = BIO_new_mem_buf(buf, (int)len)) == NULL)
			goto fail;
		while ((crl = PEM_read_bio_X509_CRL(in, NULL, NULL, NULL)) != NULL) {
			if ((size_t)(sk_X509_CRL_num(ts->crls) + sk_X509_CRL_num(crls)) >= PCRGATE_TRUST_MAX_CRLS) {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
							"%s: the store would hold more than %d CRLs", name,
							PCRGATE_TRUST_MAX_CRLS);
				goto fail;
			}
			if (!sk_X509_CRL_push(crls, crl))
				goto fail;
			crl = NULL;
		}
		if (!pem_at_end()) {
			pcrgate_log_openssl(__func__, name);
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"%s: CRL %d is not a valid PEM CRL", name, sk_X509_CRL_num(crls) + 1);
			goto fail;
		}
	}
	if (sk_X509_CRL_num(crls) == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: holds no CRL", name);
		goto fail;
	}
	if ((size_t)(sk_X509_CRL_num(ts->crls) + sk_X509_CRL_num(crls)) > PCRGATE_TRUST_MAX_CRLS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"%s: the store would hold more than %d CRLs", name, PCRGATE_TRUST_MAX_CRLS);
		goto fail;
	}
	for (i = 0; i < sk_X509_CRL_num(crls); i++) {
		X509_CRL *c = sk_X509_CRL_value(crls, i);

		/* Delta and partitioned CRLs could hide entries of a full one: only whole CRLs count. */
		if (X509_CRL_get_ext_by_NID(c, NID_delta_crl, -1) >= 0 ||
		    X509_CRL_get_ext_by_NID(c, NID_issuing_distribution_point, -1) >= 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						"%s: CRL %d is a delta or partitioned CRL", name, i + 1);
			goto fail;
		}
		/* The one signature check of a CRL: its root is kept for the writer (crl/NAME). */
		if ((signer[i] = crl_root(ts, c)) < 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						"%s: CRL %d is not signed by a root of the store", name, i + 1);
			goto fail;
		}
	}
	for (i = 0; sk_X509_CRL_num(crls) > 0; i++) {
		crl = sk_X509_CRL_shift(crls);
		if (!sk_X509_CRL_push(ts->crls, crl))
			goto fail;
		ts->crl_roots[sk_X509_CRL_num(ts->crls) - 1] = signer[i];
		crl = NULL;
	}
	r = PCRGATE_OK;
fail:
	if (r == PCRGATE_ERR_NOMEM)
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "%s: out of memory", name);
	X509_CRL_free(crl);
	BIO_free(in);
	sk_X509_CRL_pop_free(crls, X509_CRL_free);
	return r;
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Adds every DIR/SUB/<name>.pem (sorted by name, so that root indices are stable) with add.
 * *count gets the number of files; a missing SUB is 0 files.
 */
static int load_dir(struct pcrgate_truststore *ts, const char *dir, const char *sub, size_t max_file,
		    int (*add)(struct pcrgate_truststore *, const uint8_t *, size_t, const char *, pcrgate_errinfo *),
		    size_t *count, pcrgate_errinfo *ei)
{
	char path[PATH_MAX], *names[PCRGATE_TRUST_MAX_FILES];
	size_t n = 0, i, len = 0;
	struct dirent *de;
	struct stat st;
	uint8_t *buf = NULL;
	DIR *d;
	int r = PCRGATE_OK;

	if (snprintf(path, sizeof(path), "%s/%s", dir, sub) >= (int)sizeof(path))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "%s: path too long",
					   dir);
	if ((d = opendir(path)) == NULL) {
		if (errno == ENOENT) {
			*count = 0;
			return PCRGATE_OK;
		}
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	}
	while ((de = readdir(d)) != NULL) {
		size_t l = strlen(de->d_name);

		if (de->d_name[0] == '.' || l < 5 || strcmp(de->d_name + l - 4, ".pem") != 0)
			continue;
		if (n >= PCRGATE_TRUST_MAX_FILES) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: more than %d .pem files",
						path, PCRGATE_TRUST_MAX_FILES);
			goto fail;
		}
		if ((names[n] = strdup(de->d_name)) == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		n++;
	}
	qsort(names, n, sizeof(names[0]), name_cmp);
	for (i = 0; i < n; i++) {
		if (snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, names[i]) >= (int)sizeof(path)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						"%s: path too long", names[i]);
			goto fail;
		}
		if (lstat(path, &st) != 0 || !S_ISREG(st.st_mode)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"%s: not a regular file (symbolic links are refused)", path);
			goto fail;
		}
		if ((r = pcrgate_file_read(path, max_file, &buf, &len, ei)) != PCRGATE_OK)
			goto fail;
		r = add(ts, buf, len, path, ei);
		free(buf);
		buf = NULL;
		if (r != PCRGATE_OK)
			goto fail;
	}
	*count = n;
fail:
	for (i = 0; i < n; i++)
		free(names[i]);
	closedir(d);
	return r;
}

int pcrgate_truststore_load(struct pcrgate_truststore **ts, const char *path, pcrgate_errinfo *ei)
{
	struct pcrgate_truststore *t = NULL;
	uint8_t *buf = NULL;
	size_t len = 0, n = 0;
	struct stat st;
	int r;

	if (ts == NULL || path == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no trust store given");
	if (stat(path, &st) != 0)
		return pcrgate_errinfo_set(ei, errno == ENOENT ? PCRGATE_ERR_NOT_FOUND : PCRGATE_ERR_IO,
					   PCRGATE_NO_OFFSET, "trust store %s: %s", path, strerror(errno));
	if ((r = pcrgate_truststore_new(&t)) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot create a trust store");
	if (S_ISDIR(st.st_mode)) {
		if ((r = load_dir(t, path, "roots", PCRGATE_TRUST_ROOT_FILE_MAX, pcrgate_truststore_add_roots, &n,
				  ei)) != PCRGATE_OK)
			goto fail;
		if (n == 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
						"trust store %s: roots/ holds no .pem file", path);
			goto fail;
		}
		if ((r = load_dir(t, path, "crl", PCRGATE_TRUST_CRL_FILE_MAX, pcrgate_truststore_add_crls, &n, ei)) !=
		    PCRGATE_OK)
			goto fail;
	} else {
		if ((r = pcrgate_file_read(path, PCRGATE_TRUST_ROOT_FILE_MAX, &buf, &len, ei)) != PCRGATE_OK ||
		    (r = pcrgate_truststore_add_roots(t, buf, len, path, ei)) != PCRGATE_OK)
			goto fail;
	}
	*ts = t;
	t = NULL;
fail:
	free(buf);
	pcrgate_truststore_free(&t);
	return r;
}

size_t pcrgate_truststore_root_count(const struct pcrgate_truststore *ts)
{
	return ts == NULL ? 0 : (size_t)sk_X509_num(ts->roots);
}

int pcrgate_truststore_root_sha256(const struct pcrgate_truststore *ts, size_t i, uint8_t out[32])
{
	unsigned int n = 0;

	if (ts == NULL || out == NULL || i >= (size_t)sk_X509_num(ts->roots))
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (X509_digest(sk_X509_value(ts->roots, (int)i), EVP_sha256(), out, &n) != 1 || n != 32)
		return PCRGATE_ERR_CRYPTO;
	return PCRGATE_OK;
}

const char *pcrgate_truststore_root_subject(const struct pcrgate_truststore *ts, size_t i)
{
	if (ts == NULL || i >= (size_t)sk_X509_num(ts->roots))
		return NULL;
	return ts->subjects[i];
}

X509 *pcrgate_truststore_root_cert(const struct pcrgate_truststore *ts, size_t i)
{
	return ts == NULL || i >= (size_t)sk_X509_num(ts->roots) ? NULL : sk_X509_value(ts->roots, (int)i);
}

size_t pcrgate_truststore_crl_count(const struct pcrgate_truststore *ts)
{
	return ts == NULL ? 0 : (size_t)sk_X509_CRL_num(ts->crls);
}

X509_CRL *pcrgate_truststore_crl(const struct pcrgate_truststore *ts, size_t i)
{
	return ts == NULL || i >= (size_t)sk_X509_CRL_num(ts->crls) ? NULL : sk_X509_CRL_value(ts->crls, (int)i);
}

int pcrgate_truststore_crl_root(const struct pcrgate_truststore *ts, size_t i)
{
	return ts == NULL || i >= (size_t)sk_X509_CRL_num(ts->crls) ? -1 : ts->crl_roots[i];
}

/* True when a CRL of the store, issued and signed by issuer, lists cert. */
static int revoked(const struct pcrgate_truststore *ts, X509 *cert, X509 *issuer)
{
	X509_REVOKED *entry = NULL;
	int i;

	for (i = 0; i < sk_X509_CRL_num(ts->crls); i++) {
		X509_CRL *crl = sk_X509_CRL_value(ts->crls, i);

		if (X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(issuer)) != 0 ||
		    X509_CRL_verify(crl, X509_get0_pubkey(issuer)) != 1)
			continue;
		/* Every CRL of the issuer counts: a revocation is never taken back. */
		if (X509_CRL_get0_by_serial(crl, &entry, (ASN1_INTEGER *)X509_get0_serialNumber(cert)) == 1)
			return 1;
	}
	ERR_clear_error();
	return 0;
}

/* Digests a signature may use: SHA-256 or stronger. */
static int digest_allowed(const X509_ALGOR *alg)
{
	int nid = OBJ_obj2nid(alg->algorithm);

	return nid == NID_sha256 || nid == NID_sha384 || nid == NID_sha512;
}

/*
 * Signature algorithms a signer may name: fitting its key and its digest. OpenSSL verifies
 * with the key's algorithm and the SignerInfo's digest whatever the name says, so a name that
 * does not fit is refused rather than left for readers of the signature to misunderstand.
 */
static int sigalg_allowed(EVP_PKEY *pk, const X509_ALGOR *digest, const X509_ALGOR *alg)
{
	int nid = OBJ_obj2nid(alg->algorithm), md = OBJ_obj2nid(digest->algorithm), sig_md = NID_undef, pk_nid;

	if (OBJ_find_sigid_algs(nid, &sig_md, &pk_nid) != 1)
		pk_nid = nid;
	else if (sig_md != md)
		return 0;
	if (EVP_PKEY_is_a(pk, "EC"))
		return pk_nid == NID_X9_62_id_ecPublicKey;
	if (EVP_PKEY_is_a(pk, "RSA"))
		return pk_nid == NID_rsaEncryption;
	return 0;
}

/*
 * Every check of one SignerInfo; content is the CMS_dataInit chain the data went through.
 * Fills s; 1 when it verified.
 */
static int verify_signer(const struct pcrgate_truststore *ts, CMS_SignerInfo *si, BIO *content,
			 STACK_OF(X509) *certs, struct pcrgate_cms_signer *s)
{
	X509_STORE_CTX *ctx = NULL;
	X509_ALGOR *dig = NULL, *sigalg = NULL;
	STACK_OF(X509) *chain;
	EVP_PKEY *pk = NULL;
	X509 *signer = NULL;
	unsigned int mdlen = 0;
	const char *why;
	char *subject;
	int i, n, ok = 0;

	s->root = -1;
	CMS_SignerInfo_get0_algs(si, &pk, &signer, &dig, &sigalg);
	if (signer == NULL) {
		snprintf(s->reason, sizeof(s->reason), "its certificate is not in the signature");
		return 0;
	}
	if ((subject = pcrgate_x509_name_line(X509_get_subject_name(signer))) != NULL) {
		snprintf(s->subject, sizeof(s->subject), "%s", subject);
		free(subject);
	}
	if (X509_digest(signer, EVP_sha256(), s->cert_sha256, &mdlen) != 1 || mdlen != 32)
		memset(s->cert_sha256, 0, sizeof(s->cert_sha256));
	if (dig == NULL || !digest_allowed(dig)) {
		snprintf(s->reason, sizeof(s->reason), "its digest algorithm is not SHA-256, SHA-384 or SHA-512");
		return 0;
	}
	if (pk == NULL || sigalg == NULL || !sigalg_allowed(pk, dig, sigalg)) {
		snprintf(s->reason, sizeof(s->reason), "its signature algorithm does not fit its key");
		return 0;
	}
	/* With signed attributes the signature covers them and they carry the data's digest. */
	if (CMS_signed_get_attr_count(si) >= 0 && CMS_SignerInfo_verify(si) != 1) {
		snprintf(s->reason, sizeof(s->reason), "the signature does not verify");
		goto fail;
	}
	if (CMS_SignerInfo_verify_content(si, content) != 1) {
		snprintf(s->reason, sizeof(s->reason), "the signature does not match the signed data");
		goto fail;
	}
	if ((ctx = X509_STORE_CTX_new()) == NULL || X509_STORE_CTX_init(ctx, ts->store, signer, certs) != 1) {
		snprintf(s->reason, sizeof(s->reason), "out of memory");
		goto fail;
	}
	if (X509_verify_cert(ctx) != 1) {
		snprintf(s->reason, sizeof(s->reason), "no chain to a root of the trust store: %s",
			 X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
		goto fail;
	}
	chain = X509_STORE_CTX_get0_chain(ctx);
	n = sk_X509_num(chain);
	if (n < 2 || (s->root = root_index(ts, sk_X509_value(chain, n - 1))) < 0) {
		snprintf(s->reason, sizeof(s->reason), "the chain does not end at a root of the trust store");
		goto fail;
	}
	if ((why = pcrgate_truststore_signer_problem(signer)) != NULL) {
		snprintf(s->reason, sizeof(s->reason), "the certificate %s", why);
		goto fail;
	}
	for (i = 0; i + 1 < n; i++) {
		if (revoked(ts, sk_X509_value(chain, i), sk_X509_value(chain, i + 1))) {
			snprintf(s->reason, sizeof(s->reason), "%s is revoked by a CRL of the trust store",
				 i == 0 ? "the certificate" : "an intermediate certificate");
			goto fail;
		}
	}
	ok = 1;
	s->verified = 1;
fail:
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	return ok;
}

/* Streams data through the digests of the SignedData; the chain to free up to content on success. */
static int digest_content(CMS_ContentInfo *cms, BIO *content, BIO **chain)
{
	uint8_t buf[4096];
	BIO *b = CMS_dataInit(cms, content);
	int n;

	if (b == NULL)
		return PCRGATE_ERR_FORMAT;
	while ((n = BIO_read(b, buf, sizeof(buf))) > 0)
		;
	*chain = b;
	return PCRGATE_OK;
}

static void free_chain(BIO *chain, BIO *content)
{
	while (chain != NULL && chain != content) {
		BIO *next = BIO_pop(chain);

		BIO_free(chain);
		chain = next;
	}
}

int pcrgate_truststore_verify_cms(const struct pcrgate_truststore *ts, const uint8_t *sig, size_t sig_len,
				  const uint8_t *data, size_t data_len, struct pcrgate_cms_report *report,
				  pcrgate_errinfo *ei)
{
	struct pcrgate_cms_report *rep = NULL;
	STACK_OF(CMS_SignerInfo) *sis;
	STACK_OF(X509) *certs = NULL;
	CMS_ContentInfo *cms = NULL;
	BIO *content = NULL, *chain = NULL;
	const uint8_t *p = sig;
	char why[sizeof(ei->message)];
	size_t i, used = 0;
	int n, r;

	if (ts == NULL || sig == NULL || (data == NULL && data_len > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no store, signature or data");
	if (sig_len == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "the signature is empty");
	if (sig_len > PCRGATE_CMS_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "the signature has %zu bytes (at most %u)", sig_len, PCRGATE_CMS_MAX);
	if (data_len > INT_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the signed data is too large");
	if ((rep = calloc(1, sizeof(*rep))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((cms = d2i_CMS_ContentInfo(NULL, &p, (long)sig_len)) == NULL) {
		pcrgate_log_openssl(__func__, "d2i_CMS_ContentInfo");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "the signature is not CMS (DER)");
		goto fail;
	}
	if (p != sig + sig_len) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)(p - sig), "bytes after the CMS signature");
		goto fail;
	}
	if (OBJ_obj2nid(CMS_get0_type(cms)) != NID_pkcs7_signed || CMS_is_detached(cms) != 1) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"the signature is not a detached CMS SignedData");
		goto fail;
	}
	/* Plain data: any other content type would be a different statement over the same bytes. */
	if (OBJ_obj2nid(CMS_get0_eContentType(cms)) != NID_pkcs7_data) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"the signature's content type is not id-data");
		goto fail;
	}
	sis = CMS_get0_SignerInfos(cms);
	if ((n = sk_CMS_SignerInfo_num(sis)) <= 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "the signature has no signer");
		goto fail;
	}
	if (n > PCRGATE_CMS_MAX_SIGNERS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"the signature has %d signers (at most %d)", n, PCRGATE_CMS_MAX_SIGNERS);
		goto fail;
	}
	certs = CMS_get1_certs(cms);
	if (certs != NULL && sk_X509_num(certs) > PCRGATE_CMS_MAX_CERTS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"the signature carries %d certificates (at most %d)", sk_X509_num(certs),
					PCRGATE_CMS_MAX_CERTS);
		goto fail;
	}
	/* Matches each SignerInfo with its certificate; a signer without one fails on its own below. */
	CMS_set1_signers_certs(cms, NULL, 0);
	ERR_clear_error();
	if ((content = BIO_new_mem_buf(data_len > 0 ? data : (const void *)"", (int)data_len)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if (digest_content(cms, content, &chain) != PCRGATE_OK) {
		pcrgate_log_openssl(__func__, "CMS_dataInit");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"the signature names a digest algorithm that cannot be used");
		goto fail;
	}
	rep->signer_count = (size_t)n;
	for (i = 0; i < rep->signer_count; i++) {
		struct pcrgate_cms_signer *s = &rep->signer[i];

		if (verify_signer(ts, sk_CMS_SignerInfo_value(sis, (int)i), chain, certs, s)) {
			rep->verified_count++;
			rep->roots |= UINT32_C(1) << s->root;
			pg_debug("signer %zu (%s) verified, root %d", i + 1, s->subject, s->root);
		} else {
			pg_debug("signer %zu (%s): %s", i + 1, s->subject, s->reason);
		}
	}
	if (rep->verified_count == 0) {
		why[0] = '\0';
		for (i = 0; i < rep->signer_count && used < sizeof(why); i++) {
			int w = snprintf(why + used, sizeof(why) - used, "%ssigner %zu (%s): %s", i > 0 ? "; " : "",
					 i + 1, rep->signer[i].subject[0] != '\0' ? rep->signer[i].subject : "?",
					 rep->signer[i].reason);
			used += w > 0 ? (size_t)w : 0;
		}
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "%s", why);
		goto fail;
	}
	if (report != NULL)
		*report = *rep;
	r = PCRGATE_OK;
fail:
	ERR_clear_error();
	free_chain(chain, content);
	BIO_free(content);
	sk_X509_pop_free(certs, X509_free);
	CMS_ContentInfo_free(cms);
	free(rep);
	return r;
}

int pcrgate_cms_to_der(const uint8_t *buf, size_t len, uint8_t **der, size_t *der_len, pcrgate_errinfo *ei)
{
	CMS_ContentInfo *cms = NULL;
	uint8_t *out = NULL, *p;
	BIO *bio = NULL;
	int n, r;

	if (buf == NULL || der == NULL || der_len == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no signature given");
	if (len > INT_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "the signature is too large");
	if (len < 10 || memcmp(buf, "-----BEGIN", 10) != 0) {
		if ((out = malloc(len > 0 ? len : 1)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		memcpy(out, buf, len);
		*der = out;
		*der_len = len;
		return PCRGATE_OK;
	}
	if ((bio = BIO_new_mem_buf(buf, (int)len)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((cms = PEM_read_bio_CMS(bio, NULL, NULL, NULL)) == NULL || (n = i2d_CMS_ContentInfo(cms, NULL)) <= 0) {
		pcrgate_log_openssl(__func__, "PEM_read_bio_CMS");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "PEM that holds no CMS signature");
		goto fail;
	}
	if ((out = malloc((size_t)n)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	p = out;
	i2d_CMS_ContentInfo(cms, &p);
	*der = out;
	*der_len = (size_t)n;
	r = PCRGATE_OK;
fail:
	BIO_free(bio);
	CMS_ContentInfo_free(cms);
	return r;
}
