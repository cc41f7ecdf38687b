/*
 * pcrgate (library-internal): writing a trust-store directory (truststore.h). `pcrgate key
 * trust-store` writes a store it assembled, and the agent a device's store after a root
 * rotation (lib/bundle_trust.c). Both build the store in memory first, so every root and CRL
 * is checked once, by the code a device loads with; here it is written whole beside the old
 * one, loaded back, synced and swapped in, so a power cut at any moment leaves one store or the
 * other. Every durable change is a fault point of the power-cut tests.
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

#include <openssl/pem.h>
#include <openssl/x509.h>

#include "fault.h"
#include "truststore.h"

#define TMP_SUFFIX ".tmp.XXXXXX"
#define WHAT_MAX (PATH_MAX + 16)

static const char *const subdirs[] = {"roots", "crl"};

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

int pcrgate_truststore_dir_kind(const char *path, pcrgate_errinfo *ei)
{
	char dir[PATH_MAX], parent[PATH_MAX];
	int kind = PCRGATE_TRUST_DIR_NONE, r;
	struct dirent *de;
	struct stat st;
	DIR *d;

	if (path == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no path given");
	/* Without its trailing slashes, so that lstat sees a symbolic link rather than its target. */
	if ((r = split_path(path, dir, parent, ei)) != PCRGATE_OK)
		return r;
	if (lstat(dir, &st) != 0) {
		if (errno == ENOENT)
			return PCRGATE_TRUST_DIR_NONE;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return PCRGATE_TRUST_DIR_OTHER;
	if ((d = opendir(dir)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", dir, strerror(errno));
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
	char path[PATH_MAX];

	if (snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, name) >= (int)sizeof(path))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", dir);
	/* 0644 whatever the umask: a device reads its store as any user, like a CA certificate directory. */
	return pcrgate_file_create(path, data, len, 0644, ei);
}

/* The PEM text gathered in b as the new file dir/sub/name. */
static int write_pem(const char *dir, const char *sub, const char *name, BIO *b, pcrgate_errinfo *ei)
{
	char *data = NULL;
	long len = BIO_get_mem_data(b, &data);

	if (len <= 0 || data == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "%s/%s/%s: no PEM to write", dir,
					   sub, name);
	return write_file(dir, sub, name, (const uint8_t *)data, (size_t)len, ei);
}

/*
 * Fills the new directory tmp: roots/ and crl/ (0755: a device reads them), and for root i
 * roots/NAME with its certificate and crl/NAME with the CRLs it signed, when it signed any.
 */
static int fill(const char *tmp, const struct pcrgate_truststore *ts, pcrgate_errinfo *ei)
{
	char name[PCRGATE_TRUST_FILE_NAME], path[PATH_MAX];
	size_t i, j, n;
	BIO *b = NULL;
	X509 *root;
	int r = PCRGATE_OK;

	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", tmp, subdirs[i]) >= (int)sizeof(path))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", tmp);
		if (mkdir(path, 0755) != 0 || chmod(path, 0755) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	}
	for (i = 0; i < pcrgate_truststore_root_count(ts); i++) {
		root = pcrgate_truststore_root_cert(ts, i);
		if ((r = pcrgate_truststore_file_name(root, name)) != PCRGATE_OK) {
			r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot compute a root's fingerprint");
			goto fail;
		}
		if ((b = BIO_new(BIO_s_mem())) == NULL || PEM_write_bio_X509(b, root) != 1) {
			pcrgate_log_openssl(__func__, "PEM_write_bio_X509");
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		if ((r = write_pem(tmp, "roots", name, b, ei)) != PCRGATE_OK)
			goto fail;
		BIO_free(b);
		if ((b = BIO_new(BIO_s_mem())) == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		for (j = 0, n = 0; j < pcrgate_truststore_crl_count(ts); j++) {
			if (pcrgate_truststore_crl_root(ts, j) != (int)i)
				continue;
			if (PEM_write_bio_X509_CRL(b, pcrgate_truststore_crl(ts, j)) != 1) {
				pcrgate_log_openssl(__func__, "PEM_write_bio_X509_CRL");
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
				goto fail;
			}
			n++;
		}
		if (n > 0 && (r = write_pem(tmp, "crl", name, b, ei)) != PCRGATE_OK)
			goto fail;
		BIO_free(b);
		b = NULL;
	}
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		if (snprintf(path, sizeof(path), "%s/%s", tmp, subdirs[i]) >= (int)sizeof(path)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", tmp);
			goto fail;
		}
		if ((r = pcrgate_fsync_dir(path, ei)) != PCRGATE_OK)
			goto fail;
	}
	r = PCRGATE_OK;
fail:
	BIO_free(b);
	return r;
}

int pcrgate_truststore_write(const char *path, const struct pcrgate_truststore *ts, int replace,
			     pcrgate_errinfo *ei)
{
	char dir[PATH_MAX], parent[PATH_MAX], tmp[PATH_MAX], what[WHAT_MAX];
	struct pcrgate_truststore *check = NULL;
	int r, kind, made = 0, swapped = 0;
	pcrgate_errinfo sub;

	if (path == NULL || ts == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no path or store given");
	if (pcrgate_truststore_root_count(ts) == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "a trust store needs at least one root");
	if ((r = split_path(path, dir, parent, ei)) != PCRGATE_OK)
		return r;
	/* Only a store is ever replaced (and then deleted): never a directory holding anything else. */
	if ((kind = pcrgate_truststore_dir_kind(dir, ei)) < 0)
		return kind;
	if (kind == PCRGATE_TRUST_DIR_OTHER)
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
	if ((r = fill(tmp, ts, ei)) != PCRGATE_OK || (r = pcrgate_truststore_load(&check, tmp, ei)) != PCRGATE_OK ||
	    (r = pcrgate_fsync_dir(tmp, ei)) != PCRGATE_OK)
		goto fail;
	snprintf(what, sizeof(what), "rename %s", dir);
	(void)pcrgate_fault_point(what, 0);
	/* Swapped with the directory at dir (a store, or an empty one), so dir never goes missing. */
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, dir, RENAME_EXCHANGE) == 0) {
		swapped = 1;
	} else if (errno != ENOENT || rename(tmp, dir) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot put the new store at %s: %s", dir,
					strerror(errno));
		goto fail;
	}
	/* The new store is at dir; tmp holds the old one after a swap, and nothing after a rename. */
	made = 0;
	pcrgate_errinfo_clear(&sub);
	if ((r = pcrgate_fsync_dir(parent, &sub)) != PCRGATE_OK) {
		/* Kept: until the swap is durable, a power cut may bring the old directory back at dir. */
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
					"the new trust store is in place at %s, but may not survive a power cut (%s)%s%s",
					dir, sub.message, swapped ? "; the old store is kept in " : "", swapped ? tmp : "");
		goto fail;
	}
	if (swapped && remove_store(tmp) != 0)
		pg_warn("the old trust store is left in %s: %s", tmp, strerror(errno));
	r = PCRGATE_OK;
fail:
	if (made && remove_store(tmp) != 0)
		pg_warn("cannot remove %s: %s", tmp, strerror(errno));
	pcrgate_truststore_free(&check);
	return r;
}

int pcrgate_truststore_remove_leftovers(const char *path, pcrgate_errinfo *ei)
{
	char dir[PATH_MAX], parent[PATH_MAX], leftover[PATH_MAX];
	size_t blen, tlen = sizeof(TMP_SUFFIX) - 1;
	const char *base;
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r;

	if (path == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no path given");
	if ((r = split_path(path, dir, parent, ei)) != PCRGATE_OK)
		return r;
	base = strrchr(dir, '/') != NULL ? strrchr(dir, '/') + 1 : dir;
	blen = strlen(base);
	if ((d = opendir(parent)) == NULL)
		return PCRGATE_OK;
	/* DIR.tmp. and six characters mkdtemp chose. */
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != blen + tlen || strncmp(de->d_name, base, blen) != 0 ||
		    strncmp(de->d_name + blen, TMP_SUFFIX, tlen - 6) != 0)
			continue;
		if (snprintf(leftover, sizeof(leftover), "%s/%s", parent, de->d_name) >= (int)sizeof(leftover) ||
		    lstat(leftover, &st) != 0 || !S_ISDIR(st.st_mode))
			continue;
		if (remove_store(leftover) != 0)
			pg_warn("cannot remove the leftover %s: %s", leftover, strerror(errno));
	}
	closedir(d);
	return PCRGATE_OK;
}
