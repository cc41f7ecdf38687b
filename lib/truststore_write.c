/*
 * pcrgate (library-internal): writing a device trust store (truststore.h). The same code
 * assembles a store for `pcrgate key trust-store` and applies a bundle's trust_update to a
 * device's store when the agent commits an update. A store is built whole beside the old one,
 * loaded back as a device loads it, synced and swapped in, so a power cut at any moment leaves
 * one store or the other; every durable change is a fault point of the power-cut tests.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include "bundle.h"
#include "truststore.h"

#define TMP_SUFFIX ".tmp.XXXXXX"
#define WHAT_MAX (PATH_MAX + 16)

static const char *const subdirs[] = {"roots", "crl"};

int pcrgate_truststore_dir_kind(const char *path)
{
	struct dirent *de;
	struct stat st;
	int kind = PCRGATE_TRUST_DIR_NONE;
	DIR *d;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? PCRGATE_TRUST_DIR_NONE : PCRGATE_TRUST_DIR_OTHER;
	if (!S_ISDIR(st.st_mode) || (d = opendir(path)) == NULL)
		return PCRGATE_TRUST_DIR_OTHER;
	while (kind != PCRGATE_TRUST_DIR_OTHER && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		kind = strcmp(de->d_name, "roots") == 0 || strcmp(de->d_name, "crl") == 0 ? PCRGATE_TRUST_DIR_STORE
											   : PCRGATE_TRUST_DIR_OTHER;
	}
	closedir(d);
	return kind;
}

int pcrgate_truststore_file_name(X509 *root, char name[PCRGATE_TRUST_FILE_NAME])
{
	unsigned int n = 0;
	uint8_t md[32];
	char hex[65];

	if (root == NULL || name == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (X509_digest(root, EVP_sha256(), md, &n) != 1 || n != 32) {
		pcrgate_log_openssl(__func__, "X509_digest");
		return PCRGATE_ERR_CRYPTO;
	}
	pcrgate_hex_encode(md, 32, hex);
	snprintf(name, PCRGATE_TRUST_FILE_NAME, "%.16s.pem", hex);
	return PCRGATE_OK;
}

/* Whether root issued and signed crl. */
static int signed_by(X509 *root, X509_CRL *crl)
{
	int ok = X509_NAME_cmp(X509_CRL_get_issuer(crl), X509_get_subject_name(root)) == 0 &&
		 X509_CRL_verify(crl, X509_get0_pubkey(root)) == 1;

	ERR_clear_error();
	return ok;
}

/*
 * Removes a store directory: the .pem files of roots/ and crl/, those directories, then dir.
 * Through descriptors opened without following links, so a link planted in a leftover directory
 * never makes it delete elsewhere. Each removal is a fault point. 0, or -1 with errno.
 */
static int remove_store(const char *dir)
{
	char what[WHAT_MAX];
	struct dirent *de;
	int dfd, sfd, r = 0, e = 0;
	size_t i, l;
	DIR *d;

	if ((dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0)
		return errno == ENOENT ? 0 : -1;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if ((sfd = openat(dfd, subdirs[i], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
			if (errno != ENOENT)
				r = -1, e = errno;
			continue;
		}
		if ((d = fdopendir(sfd)) == NULL) {
			close(sfd);
			r = -1, e = errno;
			continue;
		}
		while ((de = readdir(d)) != NULL) {
			l = strlen(de->d_name);
			if (l < 5 || strcmp(de->d_name + l - 4, ".pem") != 0)
				continue;
			snprintf(what, sizeof(what), "remove %s/%s/%s", dir, subdirs[i], de->d_name);
			(void)pcrgate_fault_point(what, 0);
			if (unlinkat(dirfd(d), de->d_name, 0) != 0)
				r = -1, e = errno;
		}
		closedir(d);
		snprintf(what, sizeof(what), "remove %s/%s", dir, subdirs[i]);
		(void)pcrgate_fault_point(what, 0);
		if (unlinkat(dfd, subdirs[i], AT_REMOVEDIR) != 0 && errno != ENOENT)
			r = -1, e = errno;
	}
	close(dfd);
	snprintf(what, sizeof(what), "remove %s", dir);
	(void)pcrgate_fault_point(what, 0);
	if (rmdir(dir) != 0)
		r = -1, e = errno;
	errno = e;
	return r;
}

/* One new file dir/sub/name holding len bytes, synced; its write is a tearable fault point. */
static int write_file(const char *dir, const char *sub, const char *name, const uint8_t *data, size_t len,
		      pcrgate_errinfo *ei)
{
	char path[PATH_MAX], what[WHAT_MAX];
	int fd, r = PCRGATE_OK;

	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name) >= (int)sizeof(path))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", dir);
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644)) < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "creating %s: %s", path,
					   strerror(errno));
	snprintf(what, sizeof(what), "write %s", path);
	if (pcrgate_fault_point(what, 1))
		pcrgate_fault_tear(fd, data, len);
	if (pcrgate_write_all(fd, data, len) != 0 || fsync(fd) != 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing %s: %s", path, strerror(errno));
	if (close(fd) != 0 && r == PCRGATE_OK)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing %s: %s", path, strerror(errno));
	return r;
}

/* root as PEM, or the CRLs of crls[] it signed, into a memory BIO. */
static int pem_file(X509 *root, X509_CRL *const *crls, size_t n_crls, BIO **out, size_t *count)
{
	BIO *b = BIO_new(BIO_s_mem());
	size_t i, n = 0;
	int ok = b != NULL;

	if (ok && crls == NULL)
		ok = PEM_write_bio_X509(b, root) == 1;
	for (i = 0; ok && crls != NULL && i < n_crls; i++)
		if (signed_by(root, crls[i])) {
			ok = PEM_write_bio_X509_CRL(b, crls[i]) == 1;
			n++;
		}
	if (!ok) {
		pcrgate_log_openssl(__func__, "PEM encoding");
		BIO_free(b);
		return PCRGATE_ERR_NOMEM;
	}
	*out = b;
	if (count != NULL)
		*count = n;
	return PCRGATE_OK;
}

/* Fills the new directory tmp: roots/ and crl/ (0755: a device reads them), one file per root and its CRLs. */
static int fill(const char *tmp, X509 *const *roots, size_t n_roots, X509_CRL *const *crls, size_t n_crls,
		pcrgate_errinfo *ei)
{
	char name[PCRGATE_TRUST_FILE_NAME], path[PATH_MAX];
	size_t i, j, n;
	BIO *b = NULL;
	char *data;
	long len;
	int r, dup;

	/* Every CRL is written under the root that signed it; one of no root here is refused. */
	for (i = 0; i < n_crls; i++) {
		for (j = 0, n = 0; j < n_roots && n == 0; j++)
			n = (size_t)signed_by(roots[j], crls[i]);
		if (n == 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						   "CRL %zu is not signed by a root of the store", i + 1);
	}
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", tmp, subdirs[i]) >= (int)sizeof(path))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", tmp);
		if (mkdir(path, 0755) != 0 || chmod(path, 0755) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	}
	for (i = 0; i < n_roots; i++) {
		for (j = 0, dup = 0; j < i && !dup; j++)
			dup = X509_cmp(roots[i], roots[j]) == 0;
		if (dup)
			continue;
		if ((r = pcrgate_truststore_file_name(roots[i], name)) != PCRGATE_OK)
			return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot compute a root's fingerprint");
		/* j = 0: roots/NAME, the certificate; j = 1: crl/NAME, its CRLs when it has any. */
		for (j = 0; j < 2; j++) {
			if ((r = pem_file(roots[i], j == 0 ? NULL : crls, n_crls, &b, &n)) != PCRGATE_OK)
				return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "out of memory");
			len = BIO_get_mem_data(b, &data);
			r = (j == 0 || n > 0) && len > 0
				    ? write_file(tmp, subdirs[j], name, (const uint8_t *)data, (size_t)len, ei)
				    : PCRGATE_OK;
			BIO_free(b);
			if (r != PCRGATE_OK)
				return r;
		}
	}
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", tmp, subdirs[i]) >= (int)sizeof(path))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", tmp);
		if ((r = pcrgate_fsync_dir(path, ei)) != PCRGATE_OK)
			return r;
	}
	return PCRGATE_OK;
}

/* path without trailing slashes into dir, and its parent directory into parent. */
static int split_path(const char *path, char dir[PATH_MAX], char parent[PATH_MAX], pcrgate_errinfo *ei)
{
	size_t n = strlen(path);
	char *slash;

	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0 || n + sizeof(TMP_SUFFIX) > PATH_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "%s: not a usable path",
					   path);
	memcpy(dir, path, n);
	dir[n] = '\0';
	if (strcmp(dir, "/") == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "/ cannot be a trust store");
	memcpy(parent, dir, n + 1);
	if ((slash = strrchr(parent, '/')) == NULL)
		strcpy(parent, ".");
	else if (slash == parent)
		parent[1] = '\0';
	else
		*slash = '\0';
	return PCRGATE_OK;
}

int pcrgate_truststore_write(const char *path, X509 *const *roots, size_t n_roots, X509_CRL *const *crls,
			     size_t n_crls, int replace, pcrgate_errinfo *ei)
{
	char dir[PATH_MAX], parent[PATH_MAX], tmp[PATH_MAX], what[WHAT_MAX];
	struct pcrgate_truststore *check = NULL;
	int r, kind, made = 0;
	size_t i;

	if (path == NULL || roots == NULL || n_roots == 0 || (crls == NULL && n_crls > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no store or no root");
	if (n_roots > PCRGATE_TRUST_MAX_ROOTS || n_crls > PCRGATE_TRUST_MAX_CRLS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "a store holds at most %d roots and %d CRLs", PCRGATE_TRUST_MAX_ROOTS,
					   PCRGATE_TRUST_MAX_CRLS);
	for (i = 0; i < n_roots; i++)
		if (roots[i] == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no root %zu", i);
	for (i = 0; i < n_crls; i++)
		if (crls[i] == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no CRL %zu", i);
	if ((r = split_path(path, dir, parent, ei)) != PCRGATE_OK)
		return r;
	/* Only a store is ever replaced (and then deleted): never a directory holding anything else. */
	if ((kind = pcrgate_truststore_dir_kind(dir)) == PCRGATE_TRUST_DIR_OTHER)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "%s holds files other than a trust store (or is no directory)", dir);
	if (kind == PCRGATE_TRUST_DIR_STORE && !replace)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "%s already holds a trust store", dir);
	if (snprintf(tmp, sizeof(tmp), "%s" TMP_SUFFIX, dir) >= (int)sizeof(tmp))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", dir);
	snprintf(what, sizeof(what), "mkdir %s", tmp);
	(void)pcrgate_fault_point(what, 0);
	if (mkdtemp(tmp) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot create a directory beside %s: %s",
					   dir, strerror(errno));
	made = 1;
	if (chmod(tmp, 0755) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if ((r = fill(tmp, roots, n_roots, crls, n_crls, ei)) != PCRGATE_OK ||
	    (r = pcrgate_truststore_load(&check, tmp, ei)) != PCRGATE_OK || (r = pcrgate_fsync_dir(tmp, ei)) != PCRGATE_OK)
		goto fail;
	snprintf(what, sizeof(what), "rename %s", dir);
	(void)pcrgate_fault_point(what, 0);
	/* An existing directory (a store, or empty) is swapped, so that dir never goes missing. */
	if ((kind != PCRGATE_TRUST_DIR_NONE || access(dir, F_OK) == 0)
		    ? renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) != 0
		    : rename(tmp, dir) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot put the new store at %s: %s", dir,
					strerror(errno));
		goto fail;
	}
	/* After an exchange tmp holds the old store, which goes now; after a rename it is gone. */
	made = access(tmp, F_OK) == 0;
	if ((r = pcrgate_fsync_dir(parent, ei)) != PCRGATE_OK)
		goto fail;
	if (made && remove_store(tmp) != 0)
		pg_warn("the old trust store is left in %s: %s", tmp, strerror(errno));
	made = 0;
	r = PCRGATE_OK;
fail:
	if (made && remove_store(tmp) != 0)
		pg_warn("cannot remove %s: %s", tmp, strerror(errno));
	pcrgate_truststore_free(&check);
	return r;
}

/* Removes what an interrupted write left beside dir: directories named DIR.tmp.XXXXXX. */
static void remove_leftovers(const char *dir, const char *parent)
{
	const char *base = strrchr(dir, '/') != NULL ? strrchr(dir, '/') + 1 : dir;
	size_t blen = strlen(base), tlen = sizeof(TMP_SUFFIX) - 1;
	char path[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	if ((d = opendir(parent)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != blen + tlen || strncmp(de->d_name, base, blen) != 0 ||
		    strncmp(de->d_name + blen, TMP_SUFFIX, tlen - 6) != 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", parent, de->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (remove_store(path) != 0)
			pg_warn("cannot remove the leftover %s: %s", path, strerror(errno));
	}
	closedir(d);
}

/* Whether fp is one of the update's removed roots. */
static int removed_root(const struct pcrgate_bundle_manifest *m, const uint8_t fp[32])
{
	size_t i;

	for (i = 0; i < pcrgate_bundle_manifest_roots_removed(m); i++)
		if (pcrgate_ct_equal(fp, pcrgate_bundle_manifest_root_removed(m, i), 32))
			return 1;
	return 0;
}

int pcrgate_truststore_apply_update(const char *store_dir, const struct pcrgate_bundle *b, pcrgate_errinfo *ei)
{
	X509 *roots[PCRGATE_TRUST_MAX_ROOTS + PCRGATE_BUNDLE_MAX_TRUST_ROOTS];
	X509 *owned[PCRGATE_BUNDLE_MAX_TRUST_ROOTS] = {NULL};
	X509_CRL *crls[PCRGATE_TRUST_MAX_CRLS];
	const struct pcrgate_bundle_manifest *m;
	struct pcrgate_truststore *old = NULL;
	char dir[PATH_MAX], parent[PATH_MAX];
	size_t n = 0, nc = 0, n_owned = 0, changes = 0, i, j, len;
	const uint8_t *der, *p;
	uint8_t fp[32];
	struct stat st;
	X509 *x;
	int r, have;

	if (store_dir == NULL || b == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no store or bundle");
	if (pcrgate_bundle_trust_update_authorized(b) != 1 || (m = pcrgate_bundle_get_manifest(b)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "trust_update: not authorized (a bundle verified against this store, "
					   "signed under a root it keeps and under each root it adds)");
	if ((r = split_path(store_dir, dir, parent, ei)) != PCRGATE_OK)
		return r;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
					   "trust_update: %s is not a trust-store directory (a PEM file or a symbolic "
					   "link cannot be updated)",
					   dir);
	remove_leftovers(dir, parent);
	if ((r = pcrgate_truststore_load(&old, dir, ei)) != PCRGATE_OK)
		return r;
	for (i = 0; i < pcrgate_truststore_root_count(old); i++) {
		if ((r = pcrgate_truststore_root_sha256(old, i, fp)) != PCRGATE_OK) {
			r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot compute a root's fingerprint");
			goto fail;
		}
		if (removed_root(m, fp))
			changes++;
		else
			roots[n++] = pcrgate_truststore_root_cert(old, i);
	}
	for (i = 0; i < pcrgate_bundle_manifest_roots_added(m); i++) {
		der = pcrgate_bundle_manifest_root_added(m, i, &len);
		p = der;
		if (der == NULL || len > LONG_MAX || (x = d2i_X509(NULL, &p, (long)len)) == NULL) {
			pcrgate_log_openssl(__func__, "an added root");
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						"trust_update: add_roots[%zu] is not a certificate", i);
			goto fail;
		}
		owned[n_owned++] = x;
		for (j = 0, have = 0; j < n && !have; j++)
			have = X509_cmp(roots[j], x) == 0;
		if (!have) {
			roots[n++] = x;
			changes++;
		}
	}
	/* Nothing to add or remove: an update applied before (the agent runs it again after a power cut). */
	if (changes == 0) {
		r = PCRGATE_OK;
		goto fail;
	}
	if (n == 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"trust_update: %s would hold no root", dir);
		goto fail;
	}
	/* A removed root's CRLs go with it: the store accepts only CRLs of its own roots. */
	for (i = 0; i < pcrgate_truststore_crl_count(old); i++)
		for (j = 0; j < n; j++)
			if (signed_by(roots[j], pcrgate_truststore_crl(old, i))) {
				crls[nc++] = pcrgate_truststore_crl(old, i);
				break;
			}
	r = pcrgate_truststore_write(dir, roots, n, crls, nc, 1, ei);
fail:
	for (i = 0; i < n_owned; i++)
		X509_free(owned[i]);
	pcrgate_truststore_free(&old);
	return r;
}
