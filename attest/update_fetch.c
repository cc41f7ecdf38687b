/*
 * pcrgate-agent: getting a bundle for an update.
 * A downloaded bundle lives in STATE_DIR/download/bundle.part with bundle.json naming the
 * manifest digest it belongs to (not the URL: a pre-signed URL changes with each authorization,
 * the bundle does not). Its head (header, manifest, signature) is fetched and verified first;
 * the payload after it is fetched with HTTP Range from the end of the whole chunks on disk whose
 * digests match the signed manifest, so an interrupted download resumes and a corrupted partial
 * file is cut back to what verifies. Never more than the signed size. Whatever its source, the
 * whole payload is checked chunk by chunk before the other slot is touched.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "download.h"
#include "update_internal.h"

#define PART_FILE "bundle.part"
#define PART_META "bundle.json"
/* A URL in a message without its query, which may hold a pre-signed URL's token: "%.*s". */
#define URL_SHOWN(url) (int)strcspn((url), "?"), (url)

int update_download_path(const struct agent_config *cfg, const char *name, char *out, size_t cap,
			 pcrgate_errinfo *ei)
{
	char dir[AGENT_PATH_MAX];

	if (agent_state_path(cfg, AGENT_DOWNLOAD_DIR, dir, sizeof(dir), ei) != PCRGATE_OK)
		return PCRGATE_ERR_LIMIT;
	if (snprintf(out, cap, "%s/%s", dir, name) >= (int)cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "state directory path too long for %s",
					   name);
	if (mkdir(dir, 0700) != 0 && errno != EEXIST)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", dir, strerror(errno));
	return PCRGATE_OK;
}

int update_slot_path(const struct host_config *host, unsigned slot, const char *name, char *out, size_t cap,
		     pcrgate_errinfo *ei)
{
	int n = name != NULL ? snprintf(out, cap, "%s/%c/%s", host->slots, 'a' + (int)slot, name)
			     : snprintf(out, cap, "%s/%c", host->slots, 'a' + (int)slot);

	if (n < 0 || (size_t)n >= cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", host->slots);
	return PCRGATE_OK;
}

void update_discard_download(const struct agent_config *cfg)
{
	static const char *const names[] = {PART_FILE, PART_META, "base.img"};
	pcrgate_errinfo ei;
	char path[AGENT_PATH_MAX];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (update_download_path(cfg, names[i], path, sizeof(path), &ei) == PCRGATE_OK)
			unlink(path);
}

static void download_opts(const struct agent_config *cfg, struct pcrgate_download_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->ca_file = cfg->download_ca[0] != '\0' ? cfg->download_ca : NULL;
	o->connect_timeout_s = (long)cfg->download_connect_timeout;
	o->timeout_s = (long)cfg->download_timeout;
	o->min_speed = (long)cfg->download_min_speed;
	o->min_speed_time_s = (long)cfg->download_min_speed_time;
	o->progress = 1;
	o->what = "bundle";
}

/* The partial file belongs to this manifest digest, else it is started again. */
static int open_part(const struct agent_config *cfg, const struct update_source *src, int *fd, pcrgate_errinfo *ei)
{
	char part[AGENT_PATH_MAX];
	json_t *doc = NULL, *want;
	int same = 0, r;

	if ((r = update_download_path(cfg, PART_FILE, part, sizeof(part), ei)) != PCRGATE_OK)
		return r;
	if (agent_state_read(cfg, AGENT_DOWNLOAD_DIR "/" PART_META, &doc, ei) == PCRGATE_OK)
		same = json_is_string(json_object_get(doc, "manifest_digest")) &&
		       strcmp(json_string_value(json_object_get(doc, "manifest_digest")), src->digest_hex) == 0;
	json_decref(doc);
	if (!same) {
		unlink(part);
		want = json_pack("{s:s}", "manifest_digest", src->digest_hex);
		if (want == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		r = agent_state_write(cfg, AGENT_DOWNLOAD_DIR "/" PART_META, want, 0600, ei);
		json_decref(want);
		if (r != PCRGATE_OK)
			return r;
	}
	if ((*fd = open(part, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", part, strerror(errno));
	return PCRGATE_OK;
}

static int file_size(int fd, uint64_t *size, pcrgate_errinfo *ei)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "download: %s", strerror(errno));
	*size = (uint64_t)st.st_size;
	return PCRGATE_OK;
}

/* Fetches bytes up to end when the file holds fewer; the server must deliver all of them. */
static int fetch_to(const struct update_source *src, const struct pcrgate_download_opts *o, int fd, uint64_t end,
		    pcrgate_errinfo *ei)
{
	uint64_t have = 0, got = 0;
	int r;

	if ((r = file_size(fd, &have, ei)) != PCRGATE_OK || have >= end)
		return r;
	if ((r = pcrgate_download_range(src->url, fd, have, end, o, &got, ei)) == PCRGATE_ERR_UNSUPPORTED && have > 0) {
		/* A server without Range: the whole file again, from its first byte. */
		if (ftruncate(fd, 0) != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "download: %s", strerror(errno));
		have = 0;
		r = pcrgate_download_range(src->url, fd, 0, end, o, &got, ei);
	}
	if (r != PCRGATE_OK)
		return r;
	if (have + got < end)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
					   "download: %.*s ended after %" PRIu64 " of %" PRIu64
					   " bytes; run pcrgate-agent update again to resume",
					   URL_SHOWN(src->url), have + got, end);
	return fdatasync(fd) == 0 ? PCRGATE_OK
				   : pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "download: %s",
							 strerror(errno));
}

/* The bundle file from its start, read by stdio. */
static int reopen(int fd, FILE **f, pcrgate_errinfo *ei)
{
	int dup_fd = dup(fd);

	if (dup_fd < 0 || (*f = fdopen(dup_fd, "rb")) == NULL || fseeko(*f, 0, SEEK_SET) != 0) {
		if (dup_fd >= 0 && *f == NULL)
			close(dup_fd);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "download: %s", strerror(errno));
	}
	return PCRGATE_OK;
}

int update_open_bundle(const struct agent_config *cfg, const char *bundle_file, const struct update_source *src,
		       const struct pcrgate_truststore *ts, const struct pcrgate_bundle_policy *pol,
		       struct pcrgate_bundle **b, FILE **f, pcrgate_errinfo *ei)
{
	struct pcrgate_download_opts o;
	struct pcrgate_bundle_header h;
	uint8_t hdr[PCRGATE_BUNDLE_HEADER_SIZE];
	int fd = -1, r;

	*f = NULL;
	if (bundle_file != NULL) {
		if ((*f = fopen(bundle_file, "rbe")) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", bundle_file,
						   strerror(errno));
	} else {
		download_opts(cfg, &o);
		o.progress = 0; /* a few KiB: no bar for the head */
		o.prefix = 1;   /* the head of a larger file, also from a server without Range */
		if ((r = open_part(cfg, src, &fd, ei)) != PCRGATE_OK)
			return r;
		if ((r = fetch_to(src, &o, fd, sizeof(hdr), ei)) != PCRGATE_OK)
			goto fail;
		if (pread(fd, hdr, sizeof(hdr), 0) != (ssize_t)sizeof(hdr)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "download: cannot read the header");
			goto fail;
		}
		if ((r = pcrgate_bundle_header_parse(hdr, sizeof(hdr), &h, ei)) != PCRGATE_OK ||
		    (r = fetch_to(src, &o, fd, sizeof(hdr) + (uint64_t)h.manifest_len + h.sig_len, ei)) != PCRGATE_OK ||
		    (r = reopen(fd, f, ei)) != PCRGATE_OK)
			goto fail;
		close(fd);
		fd = -1;
	}
	if ((r = pcrgate_bundle_read(*f, b, ei)) != PCRGATE_OK || (r = pcrgate_bundle_verify(*b, ts, pol, ei)) != PCRGATE_OK) {
		pcrgate_bundle_free(b);
		goto fail;
	}
	return PCRGATE_OK;
fail:
	if (fd >= 0)
		close(fd);
	if (*f != NULL)
		fclose(*f);
	*f = NULL;
	/* A head that does not verify is not kept: the next attempt fetches it again. */
	if (bundle_file == NULL && r != PCRGATE_ERR_IO)
		update_discard_download(cfg);
	return r;
}

int update_fetch_payload(const struct agent_config *cfg, const struct update_source *src,
			 const struct pcrgate_bundle *b, FILE **f, pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_manifest *m = pcrgate_bundle_get_manifest(b);
	uint64_t head = pcrgate_bundle_payload_offset(b), total, size = 0, valid = 0;
	struct pcrgate_download_opts o;
	uint8_t *want = NULL, *got = NULL;
	size_t chunks = 0, hlen = 0;
	int fd = -1, r;

	total = head + pcrgate_bundle_manifest_stored_size(m);
	download_opts(cfg, &o);
	if ((r = open_part(cfg, src, &fd, ei)) != PCRGATE_OK)
		return r;
	if ((r = file_size(fd, &size, ei)) != PCRGATE_OK)
		goto fail;
	if (size > head) {
		if (fseeko(*f, (off_t)head, SEEK_SET) != 0 ||
		    (r = pcrgate_bundle_check_partial(m, *f, &chunks, &valid, ei)) != PCRGATE_OK) {
			r = r != PCRGATE_OK ? r
					    : pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "download: %s",
								  strerror(errno));
			goto fail;
		}
		if (head + valid < size && ftruncate(fd, (off_t)(head + valid)) != 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "download: %s", strerror(errno));
			goto fail;
		}
		if (head + valid < total)
			printf("resuming the download at byte %" PRIu64 " (%zu chunks verified)\n", head + valid, chunks);
	}
	if ((r = fetch_to(src, &o, fd, total, ei)) != PCRGATE_OK)
		goto fail;
	/* A server that ignored Range sent the head again: it must be the head that was verified. */
	if ((r = pcrgate_bundle_head_bytes(b, &want, &hlen, ei)) != PCRGATE_OK)
		goto fail;
	if ((got = malloc(hlen)) == NULL || pread(fd, got, hlen, 0) != (ssize_t)hlen || memcmp(want, got, hlen) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					"download: the bundle at %.*s changed while it was fetched", URL_SHOWN(src->url));
		update_discard_download(cfg);
		goto fail;
	}
	fclose(*f);
	*f = NULL;
	r = reopen(fd, f, ei);
fail:
	free(want);
	free(got);
	close(fd);
	return r;
}

int update_check_payload(const struct agent_config *cfg, const char *bundle_file, const struct pcrgate_bundle *b,
			 FILE *f, pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_manifest *m = pcrgate_bundle_get_manifest(b);
	uint64_t head = pcrgate_bundle_payload_offset(b), valid = 0;
	const char *what = bundle_file != NULL ? bundle_file : "download";
	char part[AGENT_PATH_MAX];
	pcrgate_errinfo pei;
	size_t chunks = 0;
	int r;

	if (fseeko(f, (off_t)head, SEEK_SET) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", what, strerror(errno));
	if ((r = pcrgate_bundle_check_partial(m, f, &chunks, &valid, ei)) != PCRGATE_OK)
		return r;
	if (chunks == pcrgate_bundle_manifest_chunk_count(m)) {
		/* The installer refuses a byte after the payload too, but only after the slot is emptied. */
		if (fgetc(f) == EOF && !ferror(f))
			return PCRGATE_OK;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "%s: bytes after the payload the signed manifest describes", what);
	}
	r = pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
				"%s: chunk %zu does not match its digest in the signed manifest", what, chunks);
	/* A download keeps only the chunks that verify: the next attempt fetches the rest again. */
	if (bundle_file == NULL && update_download_path(cfg, PART_FILE, part, sizeof(part), &pei) == PCRGATE_OK &&
	    truncate(part, (off_t)(head + valid)) != 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", part, strerror(errno));
	return r;
}
