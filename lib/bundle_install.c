/*
 * pcrgate: a verified bundle written out as a slot directory, as pcrgate-boot reads one
 * (docs/updates.md "Installing a slot"). The payload is streamed through the bundle's checks
 * into the images the slot manifest names, each hashed as it is written and compared with
 * its manifest digest; then the slot manifest, its signature and the caller's extra files.
 * Everything goes into OUT.partial, synced, and is renamed to OUT only when every check
 * passed, so a failure or a power cut never leaves a half-written OUT. `pcrgate bundle
 * extract` and the agent's installer share it.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "bundle.h"
#include "fault.h"

/* The sink: the image stream cut into the slot's files, each hashed as written. */
struct slot_writer {
	const struct pcrgate_manifest *slot;
	const char *dir;
	size_t img;    /* the image being written */
	uint64_t done; /* its bytes so far */
	uint64_t tear; /* a torn write (tests): the byte count at which it is cut, else UINT64_MAX */
	int fd;
	EVP_MD_CTX *md;
	pcrgate_errinfo *ei;
};

static const char *image_name(const struct slot_writer *w)
{
	return w->img < w->slot->n_images ? w->slot->images[w->img].name : "-";
}

/* Ends the current image: its digest against the slot manifest, then synced and closed. */
static int writer_close_image(struct slot_writer *w)
{
	uint8_t md[32];
	unsigned n = 0;
	int r;

	if (EVP_DigestFinal_ex(w->md, md, &n) != 1 || n != 32)
		return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "image %s: sha256 failed",
					   image_name(w));
	if (!pcrgate_ct_equal(md, w->slot->images[w->img].sha256, 32))
		return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "image %s: sha256 differs from the slot manifest", image_name(w));
	r = fsync(w->fd);
	if (close(w->fd) != 0)
		r = -1;
	w->fd = -1;
	if (r != 0)
		return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing %s/%s: %s", w->dir,
					   image_name(w), strerror(errno));
	w->img++;
	w->done = 0;
	return PCRGATE_OK;
}

static int writer_open_image(struct slot_writer *w)
{
	char path[PATH_MAX], what[PATH_MAX + 8];

	if (snprintf(path, sizeof(path), "%s/%s", w->dir, image_name(w)) >= (int)sizeof(path))
		return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", w->dir);
	snprintf(what, sizeof(what), "write %s", path);
	w->tear = pcrgate_fault_point(what, 1) ? w->slot->images[w->img].size / 2 : UINT64_MAX;
	if ((w->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644)) < 0)
		return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "creating %s: %s", path,
					   strerror(errno));
	if (EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1)
		return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "sha256 failed");
	return PCRGATE_OK;
}

static int writer_write(void *ctx, const uint8_t *data, size_t len)
{
	struct slot_writer *w = ctx;
	const struct pcrgate_manifest_image *im;
	size_t n;
	int r;

	while (len > 0) {
		if (w->img >= w->slot->n_images)
			return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
						   "the image is longer than the slot manifest's images");
		im = &w->slot->images[w->img];
		if (w->fd < 0 && (r = writer_open_image(w)) != PCRGATE_OK)
			return r;
		n = im->size - w->done < len ? (size_t)(im->size - w->done) : len;
		if (w->tear != UINT64_MAX && w->done + n > w->tear)
			pcrgate_fault_tear(w->fd, data, (size_t)(w->tear - w->done));
		if (EVP_DigestUpdate(w->md, data, n) != 1)
			return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "sha256 failed");
		if (pcrgate_write_all(w->fd, data, n) != 0)
			return pcrgate_errinfo_set(w->ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing %s/%s: %s", w->dir,
						   im->name, strerror(errno));
		w->done += n;
		data += n;
		len -= n;
		if (w->done == im->size && (r = writer_close_image(w)) != PCRGATE_OK)
			return r;
	}
	return PCRGATE_OK;
}

/* One more file of the slot: written whole and synced (the directory is renamed into place later). */
static int write_slot_file(const char *dir, const char *name, const uint8_t *data, size_t len, pcrgate_errinfo *ei)
{
	char path[PATH_MAX];

	if (strchr(name, '/') != NULL || name[0] == '.' || name[0] == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "'%s' is not a file name",
					   name);
	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", dir);
	return pcrgate_file_create(path, data, len, 0644, ei);
}

int pcrgate_slot_dir_remove(const char *dir, pcrgate_errinfo *ei)
{
	char path[PATH_MAX], what[PATH_MAX + 8];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int r = PCRGATE_OK;

	if (lstat(dir, &st) != 0) {
		if (errno == ENOENT)
			return PCRGATE_OK;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", dir, strerror(errno));
	}
	if (!S_ISDIR(st.st_mode))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s is not a directory", dir);
	snprintf(what, sizeof(what), "remove %s", dir);
	(void)pcrgate_fault_point(what, 0);
	if ((d = opendir(dir)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", dir, strerror(errno));
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", dir);
			break;
		}
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
						"cannot remove %s: a directory (a slot holds files only)", path);
			break;
		}
		if (unlink(path) != 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot remove %s: %s", path,
						strerror(errno));
			break;
		}
	}
	closedir(d);
	if (r == PCRGATE_OK && rmdir(dir) != 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot remove %s: %s", dir, strerror(errno));
	return r;
}

int pcrgate_bundle_install(const struct pcrgate_bundle *b, FILE *f, const uint8_t *key, const char *base_path,
			   const char *out_dir, const struct pcrgate_slot_file *extra, size_t n_extra,
			   pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_manifest *m = pcrgate_bundle_get_manifest(b);
	struct slot_writer w;
	pcrgate_errinfo ignored;
	const uint8_t *bytes;
	char tmp[PATH_MAX], what[PATH_MAX + 16];
	struct stat st;
	size_t len, i;
	int r;

	memset(&w, 0, sizeof(w));
	w.fd = -1;
	if (m == NULL || f == NULL || out_dir == NULL || (extra == NULL && n_extra > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "install: a verified bundle, its payload and a slot directory are needed");
	if (lstat(out_dir, &st) == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "%s exists; a slot is installed into a new directory", out_dir);
	if (snprintf(tmp, sizeof(tmp), "%s.partial", out_dir) >= (int)sizeof(tmp))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", out_dir);
	/* What an interrupted install left is never used: it starts again from nothing. */
	if ((r = pcrgate_slot_dir_remove(tmp, ei)) != PCRGATE_OK)
		return r;
	if (mkdir(tmp, 0755) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot create %s: %s", tmp,
					   strerror(errno));
	w.slot = pcrgate_bundle_manifest_slot(m);
	w.dir = tmp;
	w.ei = ei;
	if ((w.md = EVP_MD_CTX_new()) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = pcrgate_bundle_stream_file(b, f, key, base_path, writer_write, &w, ei)) != PCRGATE_OK)
		goto fail;
	if (w.img != w.slot->n_images) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"the image is shorter than the slot manifest's images");
		goto fail;
	}
	bytes = pcrgate_bundle_manifest_slot_manifest(m, &len);
	if ((r = write_slot_file(tmp, "manifest", bytes, len, ei)) != PCRGATE_OK)
		goto fail;
	bytes = pcrgate_bundle_manifest_slot_manifest_sig(m, &len);
	if ((r = write_slot_file(tmp, "manifest.sig", bytes, len, ei)) != PCRGATE_OK)
		goto fail;
	for (i = 0; i < n_extra; i++)
		if ((r = write_slot_file(tmp, extra[i].name, extra[i].data, extra[i].len, ei)) != PCRGATE_OK)
			goto fail;
	if ((r = pcrgate_fsync_dir(tmp, ei)) != PCRGATE_OK)
		goto fail;
	snprintf(what, sizeof(what), "rename %s", out_dir);
	(void)pcrgate_fault_point(what, 0);
	if (rename(tmp, out_dir) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot move %s to %s: %s", tmp, out_dir,
					strerror(errno));
		goto fail;
	}
	EVP_MD_CTX_free(w.md);
	return pcrgate_fsync_parent(out_dir, ei);
fail:
	if (w.fd >= 0)
		close(w.fd);
	EVP_MD_CTX_free(w.md);
	pcrgate_errinfo_clear(&ignored);
	(void)pcrgate_slot_dir_remove(tmp, &ignored);
	return r;
}
