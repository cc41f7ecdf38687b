/*
 * pcrgate: hex and base64 decoding, decimal numbers, bounded file reads, atomic file
 * replacement, constant-time compare, and the fault-injection hook of the power-cut tests.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "fault.h"
#include "pcrgate/common.h"

void pcrgate_hex_encode(const uint8_t *in, size_t len, char *out)
{
	static const char digits[] = "0123456789abcdef";
	size_t i;

	for (i = 0; i < len; i++) {
		out[2 * i] = digits[in[i] >> 4];
		out[2 * i + 1] = digits[in[i] & 0xf];
	}
	out[2 * len] = '\0';
}

static int hex_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int pcrgate_hex_decode(const char *hex, uint8_t *out, size_t cap, size_t *outlen)
{
	size_t n, i;

	if (hex == NULL || out == NULL || outlen == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	n = strlen(hex);
	if (n % 2 != 0)
		return PCRGATE_ERR_FORMAT;
	if (n / 2 > cap)
		return PCRGATE_ERR_LIMIT;
	/* Validate everything first: the output is written only on success. */
	for (i = 0; i < n; i++)
		if (hex_nibble(hex[i]) < 0)
			return PCRGATE_ERR_FORMAT;
	for (i = 0; i < n / 2; i++)
		out[i] = (uint8_t)(hex_nibble(hex[2 * i]) << 4 | hex_nibble(hex[2 * i + 1]));
	*outlen = n / 2;
	return PCRGATE_OK;
}

int pcrgate_parse_decimal(const char **p, uint64_t max, uint64_t *out)
{
	const char *s;
	uint64_t v = 0, d;

	if (p == NULL || *p == NULL || out == NULL)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	s = *p;
	if (*s < '0' || *s > '9')
		return PCRGATE_ERR_FORMAT;
	for (; *s >= '0' && *s <= '9'; s++) {
		d = (uint64_t)(*s - '0');
		if (d > max || v > (max - d) / 10)
			return PCRGATE_ERR_LIMIT;
		v = v * 10 + d;
	}
	*p = s;
	*out = v;
	return PCRGATE_OK;
}

static int base64_value(char c, int url)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == (url ? '-' : '+'))
		return 62;
	if (c == (url ? '_' : '/'))
		return 63;
	return -1;
}

int pcrgate_base64_decode(const char *s, size_t n, int alphabet, uint8_t *out, size_t cap, size_t *outlen,
			  pcrgate_errinfo *ei)
{
	const int url = alphabet == PCRGATE_BASE64_URL;
	const char *name = url ? "base64url" : "base64";
	size_t i, data = n, tail, bytes, w = 0;
	uint32_t acc = 0;
	unsigned bits = 0;

	if ((s == NULL && n > 0) || (out == NULL && cap > 0) || outlen == NULL ||
	    (alphabet != PCRGATE_BASE64_STD && alphabet != PCRGATE_BASE64_URL))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no text or output given");
	if (url && n % 4 == 1)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, n,
					   "is not base64url (%zu characters, a length no encoding has)", n);
	if (!url) {
		if (n % 4 != 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, n,
						   "is not base64 (%zu characters, not a multiple of 4)", n);
		/* At most two '=' close the last group; one anywhere else is refused below as a character. */
		while (data > 0 && n - data < 2 && s[data - 1] == '=')
			data--;
	}
	for (i = 0; i < data; i++)
		if (base64_value(s[i], url) < 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, i, "is not %s (character %zu)", name, i);
	/* A last group of 2 or 3 characters carries 1 or 2 bytes; the 4 or 2 bits left over must be zero. */
	tail = data % 4;
	if ((tail == 2 && (base64_value(s[data - 1], url) & 0x0f) != 0) ||
	    (tail == 3 && (base64_value(s[data - 1], url) & 0x03) != 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, data - 1, "is not canonical %s", name);
	bytes = data / 4 * 3 + (tail > 0 ? tail - 1 : 0);
	if (bytes > cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "holds %zu bytes (at most %zu)",
					   bytes, cap);
	for (i = 0; i < data; i++) {
		acc = acc << 6 | (uint32_t)base64_value(s[i], url);
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[w++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = w;
	return PCRGATE_OK;
}

int pcrgate_ct_equal(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}

void pcrgate_store_be(uint8_t *out, uint64_t v, size_t n)
{
	while (n > 0) {
		out[--n] = (uint8_t)v;
		v >>= 8;
	}
}

int pcrgate_date_valid(const char *s, size_t len)
{
	static const int days[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int y, mo, d, i;

	if (s == NULL || len != 10 || s[4] != '-' || s[7] != '-')
		return 0;
	for (i = 0; i < 10; i++)
		if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
			return 0;
	y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
	mo = (s[5] - '0') * 10 + (s[6] - '0');
	d = (s[8] - '0') * 10 + (s[9] - '0');
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > days[mo - 1])
		return 0;
	return !(mo == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0));
}

int pcrgate_file_read(const char *path, size_t max, uint8_t **buf, size_t *len, pcrgate_errinfo *ei)
{
	uint8_t *data = NULL;
	size_t used = 0, cap = 0;
	struct stat st;
	int fd, r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (path == NULL || buf == NULL || len == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no file given");
	/* O_NONBLOCK so that a FIFO or device is refused below instead of blocking the open. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return pcrgate_errinfo_set(ei, errno == ENOENT ? PCRGATE_ERR_NOT_FOUND : PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
					   "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: not a regular file", path);
		goto fail;
	}
	if (fcntl(fd, F_SETFL, 0) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
		goto fail;
	}
	if ((uintmax_t)st.st_size > max) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					"%s: %jd bytes, more than the %zu allowed", path, (intmax_t)st.st_size, max);
		goto fail;
	}
	/* The size may change under us: read until EOF, never past max. */
	cap = (size_t)st.st_size + 1;
	if ((data = malloc(cap + 1)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "%s: out of memory", path);
		goto fail;
	}
	for (;;) {
		ssize_t n = read(fd, data + used, cap - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;
		used += (size_t)n;
		if (used > max) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
						"%s: more than the %zu bytes allowed", path, max);
			goto fail;
		}
		if (used == cap) {
			uint8_t *grown;
			size_t ncap = cap > max / 2 ? max + 1 : cap * 2;
			if ((grown = realloc(data, ncap + 1)) == NULL) {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "%s: out of memory", path);
				goto fail;
			}
			data = grown;
			cap = ncap;
		}
	}
	close(fd);
	data[used] = '\0';
	*buf = data;
	*len = used;
	return PCRGATE_OK;
fail:
	free(data);
	close(fd);
	return r;
}

int pcrgate_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			return -1;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

struct buffer_write {
	const char *path;
	const uint8_t *data;
	size_t len;
};

static pcrgate_fault_fn fault_hook;

void pcrgate_fault_set(pcrgate_fault_fn fn)
{
	fault_hook = fn;
}

int pcrgate_fault_point(const char *what, int tearable)
{
	return fault_hook != NULL ? fault_hook(what, tearable) : 0;
}

void pcrgate_fault_tear(int fd, const void *buf, size_t n)
{
	if (n > 0)
		(void)pcrgate_write_all(fd, buf, n);
	(void)fsync(fd);
	for (;;)
		raise(SIGKILL);
}

static int write_buffer(void *ctx, int fd, pcrgate_errinfo *ei)
{
	const struct buffer_write *w = ctx;
	char what[PATH_MAX + 8];

	snprintf(what, sizeof(what), "write %s", w->path);
	if (pcrgate_fault_point(what, 1))
		pcrgate_fault_tear(fd, w->data, w->len / 2);
	if (pcrgate_write_all(fd, w->data, w->len) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", w->path, strerror(errno));
	return PCRGATE_OK;
}

int pcrgate_file_create(const char *path, const uint8_t *data, size_t len, unsigned mode, pcrgate_errinfo *ei)
{
	struct buffer_write w = {path, data, len};
	int fd, r;

	if (path == NULL || (data == NULL && len > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no file or data given");
	if ((fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600)) < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "creating %s: %s", path,
					   strerror(errno));
	if (fchmod(fd, (mode_t)mode) != 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	else if ((r = write_buffer(&w, fd, ei)) == PCRGATE_OK && fsync(fd) != 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing %s: %s", path, strerror(errno));
	if (close(fd) != 0 && r == PCRGATE_OK)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing %s: %s", path, strerror(errno));
	return r;
}

int pcrgate_fsync_dir(const char *path, pcrgate_errinfo *ei)
{
	int fd, r;

	if (path == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no directory given");
	if ((fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0)
		return pcrgate_errinfo_set(ei, errno == ENOENT ? PCRGATE_ERR_NOT_FOUND : PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
					   "%s: %s", path, strerror(errno));
	r = fsync(fd);
	close(fd);
	if (r != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: cannot sync directory: %s", path,
					   strerror(errno));
	return PCRGATE_OK;
}

int pcrgate_fsync_parent(const char *path, pcrgate_errinfo *ei)
{
	char dir[PATH_MAX];
	size_t n;

	if (path == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no path given");
	n = strlen(path);
	/* "a/b/" names b; "a//b" is in a; "/b" is in "/". */
	while (n > 1 && path[n - 1] == '/')
		n--;
	while (n > 0 && path[n - 1] != '/')
		n--;
	while (n > 1 && path[n - 1] == '/')
		n--;
	if (n == 0)
		return pcrgate_fsync_dir(".", ei);
	if (n >= sizeof(dir))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s: path too long", path);
	memcpy(dir, path, n);
	dir[n] = '\0';
	return pcrgate_fsync_dir(dir, ei);
}

/*
 * tearable: write_fn writes one buffer and is itself the (tearable) fault point of the content;
 * else the content is streamed and its fault point, before the write, cannot tear it.
 */
static int write_atomic(const char *path, unsigned mode, pcrgate_file_write_fn write_fn, void *ctx, int tearable,
			pcrgate_errinfo *ei)
{
	char tmp[PATH_MAX], what[PATH_MAX + 8];
	int fd = -1, r;

	if (path == NULL || write_fn == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no file or writer given");
	if (snprintf(tmp, sizeof(tmp), "%s.tmp.XXXXXX", path) >= (int)sizeof(tmp))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "%s: path too long", path);
	if ((fd = mkostemp(tmp, O_CLOEXEC)) < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: cannot create temporary file: %s",
					   path, strerror(errno));
	if (fchmod(fd, (mode_t)mode) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (!tearable && snprintf(what, sizeof(what), "write %s", path) > 0)
		(void)pcrgate_fault_point(what, 0);
	if ((r = write_fn(ctx, fd, ei)) != PCRGATE_OK)
		goto fail;
	if (fsync(fd) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	r = close(fd);
	fd = -1;
	if (r != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", tmp, strerror(errno));
		goto fail;
	}
	if (snprintf(what, sizeof(what), "rename %s", path) > 0)
		(void)pcrgate_fault_point(what, 0);
	if (rename(tmp, path) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return pcrgate_fsync_parent(path, ei);
fail:
	if (fd >= 0)
		close(fd);
	unlink(tmp);
	return r;
}

int pcrgate_file_write_atomic_fn(const char *path, unsigned mode, pcrgate_file_write_fn write_fn, void *ctx,
				 pcrgate_errinfo *ei)
{
	return write_atomic(path, mode, write_fn, ctx, 0, ei);
}

int pcrgate_file_write_atomic(const char *path, const uint8_t *data, size_t len, unsigned mode, pcrgate_errinfo *ei)
{
	struct buffer_write w = {path, data, len};

	if (path == NULL || (data == NULL && len > 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no file or data given");
	return write_atomic(path, mode, write_buffer, &w, 1, ei);
}
