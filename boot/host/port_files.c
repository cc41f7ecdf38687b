/*
 * pcrgate-boot: the host port's files. The boot-state file holds the record's two copies,
 * each at the start of its own 4 KiB region and written in place with one pwrite and an
 * fdatasync: the core's two copies are the redundancy, so a rename-based write would only
 * add a window in which the file is missing. Slots are directories under one slots
 * directory; manifests and images are regular files in them, never symbolic links.
 * Hashing is OpenSSL EVP over 1 MiB reads. Each image is copied, as it is read, into a
 * memfd that is sealed once the core has verified it; the chunks the core hashes are the
 * bytes copied, so what a writer of the slot directory changes afterwards cannot reach the
 * boot. The booted slot's copies are then written into a private directory for the next
 * stage (docs/boot.md, "Images").
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "host.h"

/* The file of a slot, relative to the slots directory: "a/manifest", "b/kernel". */
static int slot_file(unsigned slot, const char *name, char *out, size_t cap)
{
	int n;

	if (slot >= PCRGATE_BOOT_SLOTS)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	n = snprintf(out, cap, "%s/%s", pcrgate_boot_slot_name(slot), name);
	return n < 0 || (size_t)n >= cap ? PCRGATE_ERR_INVALID_ARGUMENT : PCRGATE_OK;
}

/*
 * Opens a regular file of a slot. What is wrong with the slot's contents (missing, a
 * symbolic link or not a regular file) is a verdict; anything else is a platform fault,
 * which must not make the core condemn the slot.
 */
static int open_slot_file(struct host_port *hp, unsigned slot, const char *name, int *fd_out, off_t *size)
{
	char rel[64];
	struct stat st;
	int fd, r;

	if (hp->slots_fd < 0) {
		pg_warn("slots directory %s: %s", hp->cfg->slots, strerror(hp->slots_errno));
		return PCRGATE_ERR_IO;
	}
	if ((r = slot_file(slot, name, rel, sizeof(rel))) != PCRGATE_OK)
		return r;
	fd = openat(hp->slots_fd, rel, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY);
	if (fd < 0) {
		int e = errno;

		if (e == ENOENT || e == ENOTDIR) {
			pg_warn("slot %s: %s/%s does not exist", pcrgate_boot_slot_name(slot), hp->cfg->slots, rel);
			return PCRGATE_ERR_NOT_FOUND;
		}
		if (e == ELOOP) {
			pg_warn("slot %s: %s/%s is a symbolic link", pcrgate_boot_slot_name(slot), hp->cfg->slots, rel);
			return PCRGATE_ERR_FORMAT;
		}
		pg_warn("slot %s: %s/%s: %s", pcrgate_boot_slot_name(slot), hp->cfg->slots, rel, strerror(e));
		return PCRGATE_ERR_IO;
	}
	if (fstat(fd, &st) != 0) {
		pg_warn("slot %s: %s/%s: %s", pcrgate_boot_slot_name(slot), hp->cfg->slots, rel, strerror(errno));
		close(fd);
		return PCRGATE_ERR_IO;
	}
	if (!S_ISREG(st.st_mode)) {
		pg_warn("slot %s: %s/%s is not a regular file", pcrgate_boot_slot_name(slot), hp->cfg->slots, rel);
		close(fd);
		return PCRGATE_ERR_FORMAT;
	}
	*fd_out = fd;
	*size = st.st_size;
	return PCRGATE_OK;
}

/* read() until len bytes, EOF or an error; returns the bytes read or -1. */
static ssize_t read_full(int fd, uint8_t *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

int host_slot_read(struct host_port *hp, unsigned slot, const char *name, uint8_t *buf, size_t cap, size_t *len)
{
	off_t size = 0;
	ssize_t n;
	int fd = -1, r;

	if ((r = open_slot_file(hp, slot, name, &fd, &size)) != PCRGATE_OK)
		return r;
	if ((uint64_t)size > cap) {
		pg_warn("slot %s: %s has %jd bytes, at most %zu allowed", pcrgate_boot_slot_name(slot), name,
			(intmax_t)size, cap);
		r = PCRGATE_ERR_LIMIT;
		goto fail;
	}
	if ((n = read_full(fd, buf, cap)) < 0) {
		pg_warn("slot %s: reading %s: %s", pcrgate_boot_slot_name(slot), name, strerror(errno));
		r = PCRGATE_ERR_IO;
		goto fail;
	}
	/* A byte beyond cap shows a file that grew since fstat. */
	if ((size_t)n == cap) {
		uint8_t extra;

		if (read_full(fd, &extra, 1) != 0) {
			r = PCRGATE_ERR_LIMIT;
			goto fail;
		}
	}
	*len = (size_t)n;
	r = PCRGATE_OK;
fail:
	close(fd);
	return r;
}

static int p_manifest_read(void *ctx, unsigned slot, uint8_t *buf, size_t cap, size_t *len)
{
	return host_slot_read(ctx, slot, "manifest", buf, cap, len);
}

static void kept_drop(struct host_image *k)
{
	if (k->fd >= 0)
		close(k->fd);
	k->fd = -1;
	k->name[0] = '\0';
}

static int p_image_open(void *ctx, unsigned slot, const char *name, uint64_t size)
{
	struct host_port *hp = ctx;
	char label[32 + PCRGATE_MANIFEST_NAME_MAX];
	off_t actual = 0;
	size_t i;
	int fd = -1, copy, r;

	if (hp->image_fd >= 0 || hp->copy_fd >= 0 || strlen(name) >= sizeof(hp->image_name))
		return PCRGATE_ERR_INVALID_ARGUMENT;
	/* A check of another slot, or of this image again: what was kept before is not what boots. */
	for (i = 0; i < PCRGATE_MANIFEST_MAX_IMAGES; i++)
		if (hp->kept[i].fd >= 0 && (hp->kept[i].slot != slot || strcmp(hp->kept[i].name, name) == 0))
			kept_drop(&hp->kept[i]);
	if ((r = open_slot_file(hp, slot, name, &fd, &actual)) != PCRGATE_OK)
		return r;
	if ((uint64_t)actual != size) {
		pg_warn("slot %s: image %s has %jd bytes, the manifest says %llu", pcrgate_boot_slot_name(slot), name,
			(intmax_t)actual, (unsigned long long)size);
		close(fd);
		return PCRGATE_ERR_LIMIT;
	}
	snprintf(label, sizeof(label), "pcrgate-boot-%s", name);
	if ((copy = memfd_create(label, MFD_CLOEXEC | MFD_ALLOW_SEALING)) < 0) {
		r = errno == ENOMEM || errno == EMFILE || errno == ENFILE ? PCRGATE_ERR_NOMEM : PCRGATE_ERR_IO;
		pg_err("memfd_create for image %s: %s", name, strerror(errno));
		close(fd);
		return r;
	}
	(void)posix_fadvise(fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	hp->image_fd = fd;
	hp->copy_fd = copy;
	hp->image_left = size;
	hp->image_slot = slot;
	snprintf(hp->image_name, sizeof(hp->image_name), "%s", name);
	return PCRGATE_OK;
}

/*
 * The next chunk of the image, copied into the memfd before the core sees it: the core
 * hashes the very bytes the copy holds. Never more than the manifest promised, so the copy
 * stays bounded even when the file grows while it is read.
 */
static int p_image_read(void *ctx, const uint8_t **chunk, size_t *len)
{
	struct host_port *hp = ctx;
	size_t want;
	ssize_t n;
	int e;

	if (hp->image_fd < 0 || hp->copy_fd < 0)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	/* One byte beyond the promised size shows a file that grew since image_open. */
	want = hp->image_left < HOST_CHUNK ? (size_t)hp->image_left + 1 : HOST_CHUNK;
	if ((n = read_full(hp->image_fd, hp->chunk, want)) < 0) {
		pg_warn("reading image %s: %s", hp->image_name, strerror(errno));
		return PCRGATE_ERR_IO;
	}
	if ((uint64_t)n > hp->image_left) {
		pg_warn("slot %s: image %s grew while it was read", pcrgate_boot_slot_name(hp->image_slot),
			hp->image_name);
		return PCRGATE_ERR_LIMIT;
	}
	if (n > 0 && pcrgate_write_all(hp->copy_fd, hp->chunk, (size_t)n) != 0) {
		e = errno;
		pg_err("copying image %s into memory: %s", hp->image_name, strerror(e));
		return e == ENOMEM || e == ENOSPC || e == EFBIG ? PCRGATE_ERR_NOMEM : PCRGATE_ERR_IO;
	}
	hp->image_left -= (uint64_t)n;
	*chunk = hp->chunk;
	*len = (size_t)n;
	return PCRGATE_OK;
}

/* Seals a verified copy and keeps it; a copy that cannot be sealed is dropped (and not booted). */
static void keep_copy(struct host_port *hp)
{
	const int seals = F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL;
	size_t i;

	if (hp->image_left != 0 || fcntl(hp->copy_fd, F_ADD_SEALS, seals) != 0) {
		pg_err("image %s: the verified copy cannot be sealed: %s", hp->image_name,
		       hp->image_left != 0 ? "it is incomplete" : strerror(errno));
		return;
	}
	for (i = 0; i < PCRGATE_MANIFEST_MAX_IMAGES && hp->kept[i].fd >= 0; i++)
		;
	if (i == PCRGATE_MANIFEST_MAX_IMAGES) {
		pg_err("image %s: more verified images than a manifest has", hp->image_name);
		return;
	}
	hp->kept[i].fd = hp->copy_fd;
	hp->kept[i].slot = hp->image_slot;
	snprintf(hp->kept[i].name, sizeof(hp->kept[i].name), "%s", hp->image_name);
	hp->copy_fd = -1;
}

static void p_image_close(void *ctx, int verified)
{
	struct host_port *hp = ctx;

	if (hp->image_fd >= 0)
		close(hp->image_fd);
	hp->image_fd = -1;
	if (hp->copy_fd >= 0 && verified)
		keep_copy(hp);
	if (hp->copy_fd >= 0)
		close(hp->copy_fd);
	hp->copy_fd = -1;
	hp->image_left = 0;
	hp->image_name[0] = '\0';
}

/* Creates path and any missing parent; the last one private (0700). Errors show when it is opened. */
static void make_dirs(const char *path)
{
	char dir[HOST_PATH_MAX];
	char *p;

	snprintf(dir, sizeof(dir), "%s", path);
	for (p = strchr(dir + 1, '/'); p != NULL; p = strchr(p + 1, '/')) {
		*p = '\0';
		(void)mkdir(dir, 0755);
		*p = '/';
	}
	(void)mkdir(dir, 0700);
}

int host_images_prepare(struct host_port *hp, pcrgate_errinfo *ei)
{
	const char *run = hp->cfg->run_dir;
	struct stat st;
	int fd, n;

	if (hp->pub_fd >= 0)
		return PCRGATE_OK;
	make_dirs(run);
	if ((fd = open(run, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "run directory %s: %s", run,
					   strerror(errno));
	n = fstat(fd, &st) != 0 ? errno : 0;
	close(fd);
	if (n != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "run directory %s: %s", run,
					   strerror(n));
	/* Whoever could rename entries in it could put their own directory where ours was. */
	if ((st.st_uid != geteuid() && st.st_uid != 0) || (st.st_mode & (S_IWGRP | S_IWOTH)) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "run directory %s must belong to this user or root and be writable by "
					   "its owner only (it is uid %ju, mode %04o)",
					   run, (uintmax_t)st.st_uid, (unsigned)(st.st_mode & 07777));
	n = snprintf(hp->pub_dir, sizeof(hp->pub_dir), "%s/boot.XXXXXX", run);
	if (n < 0 || (size_t)n >= sizeof(hp->pub_dir))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "run directory %s: path too long",
					   run);
	if (mkdtemp(hp->pub_dir) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "creating a directory in %s: %s",
					   run, strerror(errno));
	if ((hp->pub_fd = open(hp->pub_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
		n = errno;
		(void)rmdir(hp->pub_dir);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", hp->pub_dir, strerror(n));
	}
	return PCRGATE_OK;
}

/* Writes one sealed copy into a new file of the private directory. */
static int publish_one(struct host_port *hp, const struct host_image *k, uint64_t size, pcrgate_errinfo *ei)
{
	const char *why = NULL;
	uint64_t total = 0;
	ssize_t n;
	int fd;

	fd = openat(hp->pub_fd, k->name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0400);
	if (fd < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s/%s: %s", hp->pub_dir, k->name,
					   strerror(errno));
	for (;;) {
		do
			n = pread(k->fd, hp->chunk, HOST_CHUNK, (off_t)total);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			break;
		if (n < 0 || pcrgate_write_all(fd, hp->chunk, (size_t)n) != 0) {
			why = strerror(errno);
			break;
		}
		total += (uint64_t)n;
	}
	if (why == NULL && total != size)
		why = "the verified copy has another size";
	if (close(fd) != 0 && why == NULL)
		why = strerror(errno);
	if (why == NULL)
		return PCRGATE_OK;
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing %s/%s: %s", hp->pub_dir, k->name,
				   why);
}

int host_images_publish(struct host_port *hp, unsigned slot, const struct pcrgate_manifest *m, pcrgate_errinfo *ei)
{
	struct host_image *k;
	size_t i, j;
	int r = PCRGATE_OK;

	if (hp->pub_fd < 0 || hp->published)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no private directory for the images");
	for (i = 0; i < m->n_images && r == PCRGATE_OK; i++) {
		for (j = 0, k = NULL; j < PCRGATE_MANIFEST_MAX_IMAGES && k == NULL; j++)
			if (hp->kept[j].fd >= 0 && hp->kept[j].slot == slot &&
			    strcmp(hp->kept[j].name, m->images[i].name) == 0)
				k = &hp->kept[j];
		if (k == NULL)
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						"image %s of slot %s was not kept after its check", m->images[i].name,
						pcrgate_boot_slot_name(slot));
		else if ((r = publish_one(hp, k, m->images[i].size, ei)) == PCRGATE_OK)
			kept_drop(k);
	}
	if (r == PCRGATE_OK) {
		hp->published = 1;
		return PCRGATE_OK;
	}
	for (j = 0; j < m->n_images; j++)
		(void)unlinkat(hp->pub_fd, m->images[j].name, 0);
	close(hp->pub_fd);
	hp->pub_fd = -1;
	(void)rmdir(hp->pub_dir);
	return r;
}

int host_image_path(const struct host_port *hp, const char *name, char *out, size_t cap)
{
	int n;

	if (!hp->published)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	n = snprintf(out, cap, "%s/%s", hp->pub_dir, name);
	return n < 0 || (size_t)n >= cap ? PCRGATE_ERR_LIMIT : PCRGATE_OK;
}

static int p_hash_init(void *ctx, uint16_t alg)
{
	struct host_port *hp = ctx;
	const char *name = pcrgate_alg_openssl_name(alg);

	if (name == NULL)
		return PCRGATE_ERR_UNSUPPORTED;
	if (hp->md == NULL || hp->md_alg != alg) {
		EVP_MD_free(hp->md);
		hp->md = EVP_MD_fetch(NULL, name, NULL);
		hp->md_alg = alg;
		if (hp->md == NULL) {
			pcrgate_log_openssl(__func__, name);
			return PCRGATE_ERR_CRYPTO;
		}
	}
	if (EVP_DigestInit_ex2(hp->md_ctx, hp->md, NULL) != 1) {
		pcrgate_log_openssl(__func__, "EVP_DigestInit_ex2");
		return PCRGATE_ERR_CRYPTO;
	}
	return PCRGATE_OK;
}

static int p_hash_update(void *ctx, const uint8_t *data, size_t len)
{
	struct host_port *hp = ctx;

	if (EVP_DigestUpdate(hp->md_ctx, data, len) != 1) {
		pcrgate_log_openssl(__func__, "EVP_DigestUpdate");
		return PCRGATE_ERR_CRYPTO;
	}
	hp->stats.hashed_bytes += len;
	return PCRGATE_OK;
}

static int p_hash_final(void *ctx, uint8_t *digest, size_t size)
{
	struct host_port *hp = ctx;
	uint8_t out[EVP_MAX_MD_SIZE];
	unsigned n = 0;

	if (EVP_DigestFinal_ex(hp->md_ctx, out, &n) != 1) {
		pcrgate_log_openssl(__func__, "EVP_DigestFinal_ex");
		return PCRGATE_ERR_CRYPTO;
	}
	if (n != size)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	memcpy(digest, out, n);
	return PCRGATE_OK;
}

static int p_state_read(void *ctx, unsigned copy, uint8_t *buf, size_t cap, size_t *len)
{
	struct host_port *hp = ctx;
	ssize_t n;

	if (copy >= PCRGATE_BOOT_STATE_COPIES || cap > HOST_STATE_REGION)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (hp->state_fd < 0)
		return PCRGATE_ERR_NOT_FOUND;
	do
		n = pread(hp->state_fd, buf, cap, (off_t)copy * HOST_STATE_REGION);
	while (n < 0 && errno == EINTR);
	if (n < 0) {
		pg_warn("%s: reading copy %u: %s", hp->cfg->state, copy, strerror(errno));
		return PCRGATE_ERR_IO;
	}
	if (n == 0)
		return PCRGATE_ERR_NOT_FOUND;
	*len = (size_t)n;
	return PCRGATE_OK;
}

/* Power goes at once: no exit handlers, no buffered output. */
static void power_cut(void)
{
	raise(SIGKILL);
	_exit(137);
}

static int write_at(int fd, const uint8_t *buf, size_t len, off_t off)
{
	while (len > 0) {
		ssize_t n = pwrite(fd, buf, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

static int p_state_write(void *ctx, unsigned copy, const uint8_t *buf, size_t len)
{
	struct host_port *hp = ctx;
	off_t off = (off_t)copy * HOST_STATE_REGION;

	if (copy >= PCRGATE_BOOT_STATE_COPIES || len == 0 || len > HOST_STATE_REGION)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	if (hp->state_fd < 0 || !hp->state_rw) {
		pg_warn("%s: cannot record the boot state: the file is not writable", hp->cfg->state);
		return PCRGATE_ERR_IO;
	}
	hp->stats.state_writes++;
	if (hp->fault.kind != HOST_FAULT_NONE && hp->fault.at == hp->stats.state_writes) {
		/* Test-only: the power goes before this write, or halfway through it. */
		if (hp->fault.kind == HOST_FAULT_TORN && write_at(hp->state_fd, buf, len / 2, off) == 0)
			(void)fdatasync(hp->state_fd);
		power_cut();
	}
	if (write_at(hp->state_fd, buf, len, off) != 0 || fdatasync(hp->state_fd) != 0) {
		pg_warn("%s: writing copy %u: %s", hp->cfg->state, copy, strerror(errno));
		return PCRGATE_ERR_IO;
	}
	return PCRGATE_OK;
}

/* Makes a newly created file's directory entry durable. */
static void sync_parent(const char *path)
{
	char dir[HOST_PATH_MAX];
	char *slash;
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) == NULL)
		return;
	if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		(void)fsync(fd);
		close(fd);
	}
}

/*
 * Opens the state file: read-write (created when missing) for commands that may write,
 * read-only otherwise or when it cannot be written, so a read-only root still boots.
 * A missing file reads as the fresh state. The lock keeps the agent's commands and a
 * boot from interleaving their read-modify-write.
 */
static void open_state(struct host_port *hp, int writable)
{
	const char *path = hp->cfg->state;
	int fd = -1, flags = O_CLOEXEC | O_NOFOLLOW | O_NOCTTY;

	if (writable) {
		fd = open(path, O_RDWR | flags);
		if (fd < 0 && errno == ENOENT) {
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | flags, 0600);
			if (fd >= 0)
				sync_parent(path);
		}
		hp->state_rw = fd >= 0;
	}
	if (fd < 0)
		fd = open(path, O_RDONLY | flags);
	if (fd < 0) {
		if (errno != ENOENT || writable)
			pg_warn("boot state %s: %s", path, strerror(errno));
		return;
	}
	while (flock(fd, hp->state_rw ? LOCK_EX : LOCK_SH) != 0) {
		if (errno != EINTR) {
			pg_warn("boot state %s: cannot lock it: %s", path, strerror(errno));
			break;
		}
	}
	hp->state_fd = fd;
}

void host_port_files(struct pcrgate_boot_port *port)
{
	port->hash_init = p_hash_init;
	port->hash_update = p_hash_update;
	port->hash_final = p_hash_final;
	port->state_read = p_state_read;
	port->state_write = p_state_write;
	port->manifest_read = p_manifest_read;
	port->image_open = p_image_open;
	port->image_read = p_image_read;
	port->image_close = p_image_close;
}

int host_port_init(struct host_port *hp, const struct host_config *cfg, int writable, pcrgate_errinfo *ei)
{
	size_t i;
	int r;

	memset(hp, 0, sizeof(*hp));
	hp->cfg = cfg;
	hp->state_fd = hp->slots_fd = hp->image_fd = hp->copy_fd = hp->log_fd = hp->pub_fd = -1;
	for (i = 0; i < PCRGATE_MANIFEST_MAX_IMAGES; i++)
		hp->kept[i].fd = -1;
	if ((r = host_fault_parse(&hp->fault, ei)) != PCRGATE_OK)
		return r;
	if ((hp->md_ctx = EVP_MD_CTX_new()) == NULL || (hp->chunk = malloc(HOST_CHUNK)) == NULL) {
		host_port_free(hp);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	open_state(hp, writable);
	hp->slots_fd = open(cfg->slots, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	hp->slots_errno = hp->slots_fd < 0 ? errno : 0;

	hp->port.ctx = hp;
	hp->port.compatible = cfg->compatible[0] != '\0' ? cfg->compatible : NULL;
	host_port_files(&hp->port);
	hp->port.manifest_verify = host_manifest_verify;
	hp->port.pcr_extend = host_pcr_extend;
	hp->port.counter_read = host_counter_read;
	return PCRGATE_OK;
}

void host_port_free(struct host_port *hp)
{
	size_t i;

	if (hp == NULL)
		return;
	for (i = 0; i < PCRGATE_MANIFEST_MAX_IMAGES; i++)
		kept_drop(&hp->kept[i]);
	if (hp->copy_fd >= 0)
		close(hp->copy_fd);
	/* Nothing was written into a directory that was not published: it is empty. */
	if (hp->pub_fd >= 0) {
		close(hp->pub_fd);
		if (!hp->published)
			(void)rmdir(hp->pub_dir);
	}
	hp->copy_fd = hp->pub_fd = -1;
	if (hp->state_fd >= 0)
		close(hp->state_fd);
	if (hp->slots_fd >= 0)
		close(hp->slots_fd);
	if (hp->image_fd >= 0)
		close(hp->image_fd);
	if (hp->log_fd >= 0)
		close(hp->log_fd);
	hp->state_fd = hp->slots_fd = hp->image_fd = hp->log_fd = -1;
	pcrgate_tpm_close(&hp->tpm);
	EVP_MD_CTX_free(hp->md_ctx);
	EVP_MD_free(hp->md);
	hp->md_ctx = NULL;
	hp->md = NULL;
	free(hp->chunk);
	hp->chunk = NULL;
	host_verify_free(hp);
}
