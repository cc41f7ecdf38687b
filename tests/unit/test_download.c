/*
 * Unit tests of lib/download (pcrgate_download_range) against a libmicrohttpd server inside the
 * test (plain HTTP on 127.0.0.1, an ephemeral port, a thread per connection) that serves a
 * buffer with byte ranges, and misbehaves on purpose on other paths: it ignores Range, sends
 * more than asked (endless, or a Content-Range past the cap), closes the connection midway,
 * stalls after its headers, answers 404 or a redirect, or a Content-Range from the wrong byte.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "download.h"

#define SRC_LEN (1024u * 1024 + 123)
#define STALL_MAX_MS 8000

static uint8_t src[SRC_LEN];

struct server {
	struct MHD_Daemon *d;
	char base[64];
	int stop; /* set at teardown: a stalling reader gives up */
	char path[64];
	int fd;
};

/* A body from src: bytes [start, start + len), cut off after cut bytes (cut < len), or stalling. */
struct body {
	struct server *s;
	uint64_t start, cut;
	int stall;
};

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct body *b = cls;
	int waited;

	if (b->stall) {
		for (waited = 0; waited < STALL_MAX_MS / 20; waited++) {
			if (__atomic_load_n(&b->s->stop, __ATOMIC_SEQ_CST))
				break;
			usleep(20000);
		}
		return MHD_CONTENT_READER_END_WITH_ERROR;
	}
	if (pos >= b->cut)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (max > b->cut - pos)
		max = (size_t)(b->cut - pos);
	memcpy(buf, src + b->start + pos, max);
	return (ssize_t)max;
}

/* All of src, of unknown length (sent chunked, so a trailer can follow the body). */
static ssize_t read_chunked(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= SRC_LEN)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > SRC_LEN - pos)
		max = (size_t)(SRC_LEN - pos);
	memcpy(buf, src + pos, max);
	return (ssize_t)max;
}

/* Endless 'x' of unknown length (sent chunked). */
static ssize_t read_endless(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	(void)pos;
	memset(buf, 'x', max);
	return (ssize_t)max;
}

static enum MHD_Result queue(struct MHD_Connection *conn, unsigned status, struct MHD_Response *resp,
			     const char *content_range)
{
	enum MHD_Result r;

	if (resp == NULL)
		return MHD_NO;
	if (content_range != NULL)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, content_range);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

/* The Range asked for: 1 with [*a, *b] clamped to src, 0 without one, -1 when unsatisfiable. */
static int asked_range(struct MHD_Connection *conn, uint64_t *a, uint64_t *b)
{
	const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_RANGE);
	unsigned long long x = 0, y = 0;
	int n = 0;

	if (h == NULL)
		return 0;
	if (sscanf(h, "bytes=%llu-%llu%n", &x, &y, &n) != 2 || h[n] != '\0') {
		n = 0;
		if (sscanf(h, "bytes=%llu-%n", &x, &n) != 1 || h[n] != '\0')
			return 0;
		y = SRC_LEN - 1;
	}
	if (x >= SRC_LEN)
		return -1;
	*a = x;
	*b = y >= SRC_LEN ? SRC_LEN - 1 : y;
	return 1;
}

static struct body *new_body(struct server *s, uint64_t start, uint64_t len, uint64_t cut, int stall)
{
	struct body *b = calloc(1, sizeof(*b));

	if (b != NULL) {
		b->s = s;
		b->start = start;
		b->cut = cut < len ? cut : len;
		b->stall = stall;
	}
	return b;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			       const char *version, const char *data, size_t *data_size, void **con_cls)
{
	struct server *s = cls;
	struct MHD_Response *resp;
	struct body *b;
	uint64_t a = 0, z = SRC_LEN - 1, len;
	char cr[96];
	int ranged;

	(void)method;
	(void)version;
	(void)data;
	(void)data_size;
	if (*con_cls == NULL) {
		*con_cls = s;
		return MHD_YES;
	}
	ranged = asked_range(conn, &a, &z);
	len = z - a + 1;
	snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%u", a, z, SRC_LEN);
	if (strcmp(url, "/file") == 0 || strcmp(url, "/cut") == 0) {
		if (ranged < 0) {
			snprintf(cr, sizeof(cr), "bytes */%u", SRC_LEN);
			return queue(conn, 416, MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT),
				     cr);
		}
		/* /cut sends half of what it announced, then closes the connection. */
		b = new_body(s, a, len, strcmp(url, "/cut") == 0 ? len / 2 : len, 0);
		resp = b != NULL ? MHD_create_response_from_callback(len, 16 * 1024, read_body, b, free) : NULL;
		return queue(conn, ranged ? 206 : 200, resp, ranged ? cr : NULL);
	}
	if (strcmp(url, "/norange") == 0)
		return queue(conn, 200, MHD_create_response_from_buffer(SRC_LEN, src, MHD_RESPMEM_PERSISTENT), NULL);
	if (strcmp(url, "/endless") == 0)
		return queue(conn, 200,
			     MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_endless, NULL, NULL),
			     NULL);
	if (strcmp(url, "/overlong") == 0) {
		/* Claims more than asked: the client must refuse it from the header. */
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%u/*", a, 2 * SRC_LEN);
		return queue(conn, 206, MHD_create_response_from_buffer(SRC_LEN, src, MHD_RESPMEM_PERSISTENT), cr);
	}
	if (strcmp(url, "/duprange") == 0) {
		/* Content-Range twice, a wrong one first: the last one counts. */
		resp = MHD_create_response_from_buffer(len, src + a, MHD_RESPMEM_PERSISTENT);
		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_RANGE, "bytes 1-2/3");
		return queue(conn, 206, resp, cr);
	}
	if (strcmp(url, "/trailer") == 0) {
		/* The whole file chunked, then a Content-Range trailer, which changes nothing. */
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_chunked, NULL, NULL);
		if (resp != NULL)
			MHD_add_response_footer(resp, MHD_HTTP_HEADER_CONTENT_RANGE, "bytes 5-9/10");
		return queue(conn, 200, resp, NULL);
	}
	if (strcmp(url, "/badstart") == 0) {
		snprintf(cr, sizeof(cr), "bytes %" PRIu64 "-%" PRIu64 "/%u", a + 1, z, SRC_LEN);
		resp = MHD_create_response_from_buffer(len - 1, src + a + 1, MHD_RESPMEM_PERSISTENT);
		return queue(conn, 206, resp, cr);
	}
	if (strcmp(url, "/stall") == 0) {
		b = new_body(s, a, len, len, 1);
		resp = b != NULL ? MHD_create_response_from_callback(len, 16 * 1024, read_body, b, free) : NULL;
		return queue(conn, 206, resp, cr);
	}
	if (strcmp(url, "/redirect") == 0) {
		resp = MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
		if (resp != NULL)
			MHD_add_response_header(resp, MHD_HTTP_HEADER_LOCATION, "/file");
		return queue(conn, 302, resp, NULL);
	}
	return queue(conn, 404, MHD_create_response_from_buffer(9, (void *)"not found", MHD_RESPMEM_PERSISTENT), NULL);
}

static int setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	uint32_t x = 12345;
	size_t i;

	if (s == NULL)
		return -1;
	for (i = 0; i < SRC_LEN; i++) {
		x = x * 1103515245u + 12345u;
		src[i] = (uint8_t)(x >> 16);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD, 0,
				NULL, NULL, handler, s, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_END);
	if (s->d == NULL || (info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)) == NULL)
		return -1;
	snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%u", info->port);
	snprintf(s->path, sizeof(s->path), "%s", "/tmp/pcrgate-download.XXXXXX");
	if ((s->fd = mkstemp(s->path)) < 0)
		return -1;
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct server *s = *state;

	__atomic_store_n(&s->stop, 1, __ATOMIC_SEQ_CST);
	MHD_stop_daemon(s->d);
	close(s->fd);
	unlink(s->path);
	free(s);
	return 0;
}

static const char *url(const struct server *s, const char *path)
{
	static char buf[256];

	snprintf(buf, sizeof(buf), "%s%s", s->base, path);
	return buf;
}

/* The file holds exactly src's first n bytes. */
static void assert_file_is_src(const struct server *s, size_t n)
{
	struct stat st;
	uint8_t *buf = malloc(SRC_LEN + 1);

	assert_non_null(buf);
	assert_int_equal(fstat(s->fd, &st), 0);
	assert_int_equal(st.st_size, n);
	assert_int_equal(pread(s->fd, buf, SRC_LEN + 1, 0), (ssize_t)n);
	assert_memory_equal(buf, src, n);
	free(buf);
}

static off_t file_size(const struct server *s)
{
	struct stat st;

	assert_int_equal(fstat(s->fd, &st), 0);
	return st.st_size;
}

static void test_full(void **state)
{
	struct server *s = *state;
	struct pcrgate_download_opts o = {.what = "bundle", .progress = 1};
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	/* A server without Range support: 200 is fine from byte 0. */
	assert_int_equal(pcrgate_download_range(url(s, "/norange"), s->fd, 0, SRC_LEN, &o, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, SRC_LEN);
	assert_file_is_src(s, SRC_LEN);

	/* With Range support: a 206 from byte 0; and o may be NULL. */
	assert_int_equal(ftruncate(s->fd, 0), 0);
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, 0, SRC_LEN, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, SRC_LEN);
	assert_file_is_src(s, SRC_LEN);
}

static void test_resume(void **state)
{
	struct server *s = *state;
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	assert_int_equal(pwrite(s->fd, src, 1000, 0), 1000);
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, 1000, SRC_LEN, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, SRC_LEN - 1000);
	assert_file_is_src(s, SRC_LEN);

	/* A query is sent along (a pre-signed URL), and a prefix is asked for with end. */
	assert_int_equal(ftruncate(s->fd, 0), 0);
	assert_int_equal(pcrgate_download_range(url(s, "/file?sig=abc"), s->fd, 0, 4096, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, 4096);
	assert_file_is_src(s, 4096);
}

static void test_ignores_range(void **state)
{
	struct server *s = *state;
	pcrgate_errinfo ei = {0};
	uint64_t got = 99;

	assert_int_equal(pcrgate_download_range(url(s, "/norange"), s->fd, 1000, SRC_LEN, NULL, &got, &ei),
			 PCRGATE_ERR_UNSUPPORTED);
	assert_non_null(strstr(ei.message, "ignores Range"));
	assert_non_null(strstr(ei.message, "/norange"));
	assert_int_equal(got, 0);
	assert_int_equal(file_size(s), 0);

	/* A prefix (a bundle's head) from such a server: read up to end and cut there. */
	{
		struct pcrgate_download_opts o = {.what = "bundle", .prefix = 1};

		assert_int_equal(pcrgate_download_range(url(s, "/norange"), s->fd, 0, 28, &o, &got, &ei), PCRGATE_OK);
		assert_int_equal(got, 28);
		assert_file_is_src(s, 28);
		/* A prefix never reaches past end, and from a later offset the server still has to honour Range. */
		assert_int_equal(pcrgate_download_range(url(s, "/norange"), s->fd, 28, 4096, &o, &got, &ei),
				 PCRGATE_ERR_UNSUPPORTED);
		assert_file_is_src(s, 28);
	}
}

static void test_too_much(void **state)
{
	struct server *s = *state;
	struct pcrgate_download_opts o = {.what = "bundle"};
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	/* Endless, without a length: cut at the cap. */
	assert_int_equal(pcrgate_download_range(url(s, "/endless"), s->fd, 0, 65536, &o, &got, &ei), PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "more data than the signed manifest allows"));
	assert_non_null(strstr(ei.message, "bundle: GET http://127.0.0.1:"));
	assert_true(got <= 65536);
	assert_true(file_size(s) <= 65536);

	/* A Content-Length over the cap: nothing is written. */
	assert_int_equal(ftruncate(s->fd, 0), 0);
	assert_int_equal(pcrgate_download_range(url(s, "/norange"), s->fd, 0, SRC_LEN - 10, &o, &got, &ei),
			 PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "more data than the signed manifest allows"));
	assert_int_equal(got, 0);
	assert_int_equal(file_size(s), 0);

	/* A Content-Range that ends past the cap. */
	assert_int_equal(pcrgate_download_range(url(s, "/overlong"), s->fd, 100, SRC_LEN, &o, &got, &ei),
			 PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "more data than the signed manifest allows"));
	assert_int_equal(file_size(s), 0);
}

static void test_cut_then_resume(void **state)
{
	struct server *s = *state;
	pcrgate_errinfo ei = {0};
	uint64_t got = 0, first;

	assert_int_equal(pcrgate_download_range(url(s, "/cut"), s->fd, 0, SRC_LEN, NULL, &got, &ei), PCRGATE_OK);
	assert_true(got > 0 && got < SRC_LEN);
	first = got;
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, first, SRC_LEN, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(first + got, SRC_LEN);
	assert_file_is_src(s, SRC_LEN);
}

static void test_stall_and_timeout(void **state)
{
	struct server *s = *state;
	struct pcrgate_download_opts o = {.min_speed = 1000, .min_speed_time_s = 1};
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	/* Which limit stopped the transfer is curl's own message (libcurl's wording). */
	assert_int_equal(pcrgate_download_range(url(s, "/stall?token=SECRET"), s->fd, 0, SRC_LEN, &o, &got, &ei),
			 PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "download stalled or timed out: Operation too slow"));
	assert_non_null(strstr(ei.message, "Less than 1000 bytes/sec transferred the last 1 seconds"));
	assert_non_null(strstr(ei.message, "(0 bytes received)"));
	assert_non_null(strstr(ei.message, "/stall"));
	assert_null(strstr(ei.message, "SECRET"));

	o.min_speed_time_s = 30;
	o.timeout_s = 1;
	assert_int_equal(pcrgate_download_range(url(s, "/stall"), s->fd, 0, SRC_LEN, &o, &got, &ei), PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "download stalled or timed out: Operation timed out after"));
	assert_null(strstr(ei.message, "too slow"));
}

static void test_statuses(void **state)
{
	struct server *s = *state;
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	assert_int_equal(pcrgate_download_range(url(s, "/missing?token=SECRET"), s->fd, 0, SRC_LEN, NULL, &got, &ei),
			 PCRGATE_ERR_NOT_FOUND);
	assert_non_null(strstr(ei.message, "HTTP 404"));
	assert_non_null(strstr(ei.message, "/missing"));
	assert_null(strstr(ei.message, "SECRET"));
	assert_int_equal(file_size(s), 0);

	assert_int_equal(pcrgate_download_range(url(s, "/redirect"), s->fd, 0, SRC_LEN, NULL, &got, &ei),
			 PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "HTTP 302 (redirects are not followed)"));
	assert_int_equal(file_size(s), 0);
}

/* What libcurl reports of the headers: a repeated Content-Range by its last value; trailers not at all. */
static void test_header_cases(void **state)
{
	struct server *s = *state;
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	assert_int_equal(pcrgate_download_range(url(s, "/duprange"), s->fd, 100, SRC_LEN, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, SRC_LEN - 100);
	assert_int_equal(ftruncate(s->fd, 0), 0);
	assert_int_equal(pcrgate_download_range(url(s, "/trailer"), s->fd, 0, SRC_LEN, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, SRC_LEN);
	assert_file_is_src(s, SRC_LEN);
}

static void test_bad_content_range(void **state)
{
	struct server *s = *state;
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	assert_int_equal(pcrgate_download_range(url(s, "/badstart"), s->fd, 500, SRC_LEN, NULL, &got, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "HTTP 206 for bytes from 501, but they were asked from 500"));
	assert_int_equal(file_size(s), 0);
}

static void test_short_and_eof(void **state)
{
	struct server *s = *state;
	struct pcrgate_download_opts prefix = {.what = "bundle", .prefix = 1};
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;

	/*
	 * The server's file is shorter than the signed size: not the file the manifest describes,
	 * and refused from the headers (a 206's Content-Range total, a 200's Content-Length), so
	 * nothing is written and a caller does not ask again forever.
	 */
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, 0, SRC_LEN + 5000, NULL, &got, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "the file has 1048699 bytes, fewer than the 1053699 the signed manifest "
					   "gives"));
	assert_int_equal(got, 0);
	assert_int_equal(file_size(s), 0);
	assert_int_equal(pcrgate_download_range(url(s, "/norange"), s->fd, 0, SRC_LEN + 1, NULL, &got, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "the file has 1048699 bytes, fewer than the 1048700 the signed manifest "
					   "gives"));
	assert_int_equal(file_size(s), 0);
	/* A prefix may be of a larger file, not of a shorter one. */
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, 0, SRC_LEN + 1, &prefix, &got, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "bundle: GET http://127.0.0.1:"));
	assert_non_null(strstr(ei.message, "the file has 1048699 bytes, fewer than the 1048700 asked for"));
	assert_int_equal(pcrgate_download_range(url(s, "/norange"), s->fd, 0, SRC_LEN + 1, &prefix, &got, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "fewer than the 1048700 asked for"));
	assert_int_equal(file_size(s), 0);

	/* The whole file; then asked from its end: the 416 there says the file is shorter, too. */
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, 0, SRC_LEN, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, SRC_LEN);
	assert_file_is_src(s, SRC_LEN);
	got = 99;
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, SRC_LEN, SRC_LEN + 10, NULL, &got, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "the file has 1048699 bytes, fewer than the 1048709 the signed manifest "
					   "gives"));
	assert_int_equal(got, 0);
	/* Nothing asked: no request at all (the URL need not answer). */
	got = 99;
	assert_int_equal(pcrgate_download_range("http://127.0.0.1:1/x", s->fd, 7, 7, NULL, &got, &ei), PCRGATE_OK);
	assert_int_equal(got, 0);
	assert_int_equal(pcrgate_download_range(url(s, "/file"), s->fd, 8, 7, NULL, &got, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_file_is_src(s, SRC_LEN);
}

static void test_url_rules(void **state)
{
	struct server *s = *state;
	pcrgate_errinfo ei = {0};
	uint64_t got = 0;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	char dead[64];
	int fd;

	assert_int_equal(pcrgate_download_range("http://192.0.2.1/b?token=SECRET", s->fd, 0, 10, NULL, &got, &ei),
			 PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "loopback"));
	assert_null(strstr(ei.message, "SECRET"));
	assert_int_equal(pcrgate_download_range("ftp://127.0.0.1/b", s->fd, 0, 10, NULL, &got, &ei),
			 PCRGATE_ERR_CONFIG);
	assert_int_equal(pcrgate_download_range("https://user:pw@example.org/b", s->fd, 0, 10, NULL, &got, &ei),
			 PCRGATE_ERR_CONFIG);
	assert_null(strstr(ei.message, "pw"));
	assert_int_equal(pcrgate_download_range("not a url", s->fd, 0, 10, NULL, &got, &ei), PCRGATE_ERR_CONFIG);
	assert_int_equal(pcrgate_download_range(NULL, s->fd, 0, 10, NULL, &got, &ei), PCRGATE_ERR_INVALID_ARGUMENT);

	/* Nobody listening: the error names the URL and curl's reason. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(dead, sizeof(dead), "http://127.0.0.1:%u/b", (unsigned)ntohs(sa.sin_port));
	assert_int_equal(pcrgate_download_range(dead, s->fd, 0, 10, NULL, &got, &ei), PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, dead));
	close(fd);
	assert_int_equal(file_size(s), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_full, setup, teardown),
		cmocka_unit_test_setup_teardown(test_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ignores_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_too_much, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cut_then_resume, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stall_and_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_header_cases, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_content_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_short_and_eof, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_rules, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
