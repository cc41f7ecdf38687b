/*
 * pcrgate: the slot image (lib/payload.h), the base a delta is made against and what a bundle
 * installs: a slot's images concatenated in slot-manifest order. Read with the boot core's
 * manifest parser and checked image by image as it is written, so a slot whose files differ
 * from their manifest never yields a base.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "boot/manifest.h"
#include "payload.h"

#define READ_CHUNK ((size_t)1 << 20)

/* Opens a regular file of the slot directory, never through a symbolic link. */
static int slot_open(int dirfd, const char *slot_dir, const char *name, int *fd_out, uint64_t *size,
		     pcrgate_errinfo *ei)
{
	struct stat st;
	int fd;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
						   "slot %s: %s does not exist", slot_dir, name);
		if (e == ELOOP)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						   "slot %s: %s is a symbolic link", slot_dir, name);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "slot %s: %s: %s", slot_dir, name,
					   strerror(e));
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "slot %s: %s is not a regular file", slot_dir, name);
	}
	*fd_out = fd;
	*size = (uint64_t)st.st_size;
	return 0;
}

/* Reads the whole manifest (at most PCRGATE_MANIFEST_MAX bytes) and parses it. */
static int read_manifest(int dirfd, const char *slot_dir, struct pcrgate_manifest *m, pcrgate_errinfo *ei)
{
	uint8_t buf[PCRGATE_MANIFEST_MAX + 1];
	struct pcrgate_manifest_error perr = {0, NULL};
	size_t len = 0;
	uint64_t size;
	int fd = -1, r;

	if ((r = slot_open(dirfd, slot_dir, "manifest", &fd, &size, ei)) != 0)
		return r;
	/* One byte more than allowed, so that a file that grew since fstat still shows too long. */
	while (len < sizeof(buf)) {
		ssize_t n = read(fd, buf + len, sizeof(buf) - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "slot %s: manifest: %s",
						slot_dir, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	if (len > PCRGATE_MANIFEST_MAX) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"slot %s: manifest is larger than %d bytes", slot_dir, PCRGATE_MANIFEST_MAX);
		goto fail;
	}
	if ((r = pcrgate_manifest_parse(buf, len, m, &perr)) != 0) {
		r = pcrgate_errinfo_set(ei, r, perr.offset, "slot %s: manifest: %s", slot_dir,
					perr.what != NULL ? perr.what : "invalid");
		goto fail;
	}
	r = 0;
fail:
	close(fd);
	return r;
}

/*
 * Streams one image into out and both digests, stopping at its manifest size; a file of any
 * other size (checked before and after reading, as it may change meanwhile) is refused.
 */
static int write_image(int dirfd, const char *slot_dir, const struct pcrgate_manifest_image *img, uint8_t *buf,
		       EVP_MD_CTX *whole, FILE *out, pcrgate_errinfo *ei)
{
	uint8_t digest[32];
	EVP_MD_CTX *one = NULL;
	uint64_t size, done = 0;
	unsigned dlen = 0;
	int fd = -1, r;

	if ((r = slot_open(dirfd, slot_dir, img->name, &fd, &size, ei)) != 0)
		return r;
	if (size != img->size) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"slot %s: %s is %ju bytes, the manifest says %ju", slot_dir, img->name,
					(uintmax_t)size, (uintmax_t)img->size);
		goto fail;
	}
	if ((one = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(one, EVP_sha256(), NULL) != 1) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "SHA-256 failed");
		goto fail;
	}
	for (;;) {
		uint64_t left = img->size - done;
		/* Read one byte past the end, so that a file that grew is noticed. */
		size_t want = left < READ_CHUNK ? (size_t)left + 1 : READ_CHUNK;
		ssize_t n = read(fd, buf, want);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "slot %s: %s: %s", slot_dir,
						img->name, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		if ((uint64_t)n > left) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
						"slot %s: %s grew past the manifest's %ju bytes while read", slot_dir,
						img->name, (uintmax_t)img->size);
			goto fail;
		}
		if (EVP_DigestUpdate(one, buf, (size_t)n) != 1 || EVP_DigestUpdate(whole, buf, (size_t)n) != 1) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "SHA-256 failed");
			goto fail;
		}
		if (fwrite(buf, 1, (size_t)n, out) != (size_t)n) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "slot image: write failed: %s",
						strerror(errno));
			goto fail;
		}
		done += (uint64_t)n;
	}
	if (done != img->size) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"slot %s: %s ended after %ju bytes, the manifest says %ju", slot_dir, img->name,
					(uintmax_t)done, (uintmax_t)img->size);
		goto fail;
	}
	if (EVP_DigestFinal_ex(one, digest, &dlen) != 1 || dlen != sizeof(digest)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "SHA-256 failed");
		goto fail;
	}
	if (!pcrgate_ct_equal(digest, img->sha256, sizeof(digest))) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"slot %s: %s: sha256 differs from the manifest", slot_dir, img->name);
		goto fail;
	}
	r = 0;
fail:
	EVP_MD_CTX_free(one);
	close(fd);
	return r;
}

int pcrgate_slot_image_write(const char *slot_dir, FILE *out, uint8_t sha256[32], uint64_t *size, pcrgate_errinfo *ei)
{
	struct pcrgate_manifest m;
	EVP_MD_CTX *whole = NULL;
	uint8_t digest[32], *buf = NULL;
	uint64_t total = 0;
	unsigned dlen = 0;
	int dirfd = -1, r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (slot_dir == NULL || out == NULL || sha256 == NULL || size == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "slot image: no slot or output given");
	dirfd = open(slot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return pcrgate_errinfo_set(ei, errno == ENOENT ? PCRGATE_ERR_NOT_FOUND : PCRGATE_ERR_IO,
					   PCRGATE_NO_OFFSET, "slot %s: %s", slot_dir, strerror(errno));
	if ((r = read_manifest(dirfd, slot_dir, &m, ei)) != 0)
		goto fail;
	if ((buf = malloc(READ_CHUNK)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "slot image: out of memory");
		goto fail;
	}
	if ((whole = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(whole, EVP_sha256(), NULL) != 1) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "SHA-256 failed");
		goto fail;
	}
	for (unsigned i = 0; i < m.n_images; i++) {
		if ((r = write_image(dirfd, slot_dir, &m.images[i], buf, whole, out, ei)) != 0)
			goto fail;
		total += m.images[i].size;
	}
	if (fflush(out) != 0 || ferror(out)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "slot image: write failed: %s",
					strerror(errno));
		goto fail;
	}
	if (EVP_DigestFinal_ex(whole, digest, &dlen) != 1 || dlen != sizeof(digest)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "SHA-256 failed");
		goto fail;
	}
	memcpy(sha256, digest, sizeof(digest));
	*size = total;
	r = 0;
fail:
	EVP_MD_CTX_free(whole);
	free(buf);
	close(dirfd);
	return r;
}
