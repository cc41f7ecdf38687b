/*
 * pcrgate-verifierd: release bundles for download, GET and HEAD /v1/bundles/NAME from the
 * configured bundle_dir, with single byte ranges (RFC 9110) so a device resumes an interrupted
 * download. No authentication: a bundle is signed and its payload encrypted to the content key,
 * which only an authorized device receives (docs/verifier.md). The name is one plain file name;
 * the file is opened without following a symbolic link and served from its descriptor, never
 * read into memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "verifier/api_internal.h"
#include "verifier/vrange.h"

#define BUNDLE_NAME_MAX 128
#define ETAG_MAX 64

/* [A-Za-z0-9._-]{1,128}, not starting with a dot: one plain file name, never "." or "..". */
static int name_ok(const char *name)
{
	size_t n = strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-");

	return n > 0 && n <= BUNDLE_NAME_MAX && name[n] == '\0' && name[0] != '.';
}

int api_bundle_dir_check(const char *dir, pcrgate_errinfo *ei)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "bundle_dir %s: %s", dir,
					   strerror(errno));
	close(fd);
	/* Opening a file in it (openat) needs search permission besides the read that open needed. */
	if (access(dir, X_OK) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "bundle_dir %s: no search permission: %s", dir, strerror(errno));
	return PCRGATE_OK;
}

int api_bundle(struct vreq *req, struct vresp *resp)
{
	struct api_ctx *ctx = req->app;
	const char *name = req->nparams == 1 ? req->params[0] : "", *range, *if_range;
	char etag[ETAG_MAX], value[VRESP_MAX_HEADER];
	uint64_t size, first = 0, last = 0;
	struct stat st;
	int dirfd, fd, k, flags;

	if (ctx->cfg.bundle_dir[0] == '\0')
		return vresp_error(resp, 404, "not-found", "this verifier serves no bundles");
	if (!name_ok(name))
		return vresp_error(resp, 400, "bundle-name",
				   "a bundle name is 1 to %d letters, digits, '.', '_' or '-', not starting with '.'",
				   BUNDLE_NAME_MAX);
	if ((dirfd = open(ctx->cfg.bundle_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		pg_err("bundle_dir %s: %s", ctx->cfg.bundle_dir, strerror(errno));
		return vresp_error(resp, 503, "bundle-dir", "bundles are not available now");
	}
	/* O_NONBLOCK: a FIFO put there must not hold the thread; it is refused below as not a file. */
	fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	close(dirfd);
	if (fd < 0) {
		if (errno == ELOOP)
			pg_warn("bundle %s is a symbolic link: not served", name);
		else if (errno != ENOENT)
			pg_warn("bundle %s: %s", name, strerror(errno));
		return vresp_error(resp, 404, "not-found", "no bundle named %s", name);
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		pg_warn("bundle %s is not a regular file: not served", name);
		return vresp_error(resp, 404, "not-found", "no bundle named %s", name);
	}
	/* libmicrohttpd reads the file in blocking mode. */
	if ((flags = fcntl(fd, F_GETFL)) < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
		pg_err("bundle %s: cannot make its descriptor blocking: %s", name, strerror(errno));
		close(fd);
		return PCRGATE_ERR_IO;
	}
	size = (uint64_t)st.st_size;
	/* Strong: another file, or the same file changed, gets another tag (If-Range depends on it). */
	snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "-%" PRIx64 "\"", (uint64_t)st.st_ino, size,
		 (uint64_t)st.st_mtim.tv_sec * 1000000000u + (uint64_t)st.st_mtim.tv_nsec);
	range = vreq_header(req, "Range");
	if_range = vreq_header(req, "If-Range");
	/* A range of another version of the file (or of a date, which is not compared) is not sent. */
	if (range != NULL && if_range != NULL && strcmp(if_range, etag) != 0)
		range = NULL;
	k = vrange_parse(range, size, &first, &last);
	if (k < 0) {
		close(fd);
		vresp_error(resp, 416, "range-unsatisfiable", "the range is outside the %" PRIu64 " bytes of %s", size,
			    name);
		snprintf(value, sizeof(value), "bytes */%" PRIu64, size);
	} else if (k > 0) {
		vresp_file(resp, 206, "application/octet-stream", name, fd, first, last - first + 1);
		vresp_reason(resp, "range");
		snprintf(value, sizeof(value), "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, first, last, size);
	} else {
		vresp_file(resp, 200, "application/octet-stream", name, fd, 0, size);
	}
	if ((k != 0 && vresp_header(resp, "Content-Range", value) != 0) ||
	    vresp_header(resp, "Accept-Ranges", "bytes") != 0 || vresp_header(resp, "ETag", etag) != 0)
		return PCRGATE_ERR_LIMIT;
	return 0;
}
