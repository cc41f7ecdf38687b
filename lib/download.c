/*
 * pcrgate: the resumable download of a byte range into a file (lib/download.h says what it
 * promises). The response is judged from its headers before any body byte is written: the
 * status, the Content-Range against the request, the Content-Length against the cap, and the
 * file's size they give against the size expected (libcurl parses the status line and the
 * headers: curl_easy_header). The body then goes to the file as it arrives, never past the cap.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "download.h"
#include "httpclient.h"

#define SHOWN_MAX 160     /* bytes of the URL in a message */
#define HEADER_VALUE 128  /* bytes kept of a Content-Range or Content-Length value */
#define WHY_MAX 200
#define PROGRESS_EVERY_NS 200000000L

/* One transfer: what was asked, what the response said, where the next byte goes. */
struct xfer {
	CURL *curl;
	int fd;
	uint64_t offset, end;
	uint64_t limit; /* one past the last byte the response may carry (<= end) */
	uint64_t pos;   /* the file offset of the next body byte */
	long status;
	int decided;    /* the final response's headers were checked and accepted */
	char content_range[HEADER_VALUE];
	char content_length[HEADER_VALUE];
	int err;        /* set by a callback that stopped the transfer */
	char why[WHY_MAX];
	int progress;   /* drawing a progress bar */
	int prefix;     /* a prefix is wanted: a 200 of a larger file is cut at end */
	int cut;        /* the prefix arrived and the transfer was stopped there */
	int drawn;
	const char *what;
	struct timespec start, last;
};

static void why(struct xfer *x, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void why(struct xfer *x, int err, const char *fmt, ...)
{
	va_list ap;

	x->err = err;
	va_start(ap, fmt);
	vsnprintf(x->why, sizeof(x->why), fmt, ap);
	va_end(ap);
}

/* A whole header value that is one decimal number. */
static int parse_u64(const char *v, uint64_t *out)
{
	return *v != '\0' && pcrgate_parse_decimal(&v, UINT64_MAX, out) == PCRGATE_OK && *v == '\0' ? 0 : -1;
}

/* "bytes FIRST-LAST/TOTAL", TOTAL may be "*" (have_total 0). 0 when it parses. */
static int parse_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total, int *have_total)
{
	const char *p = v;

	if (strncasecmp(p, "bytes", 5) != 0)
		return -1;
	for (p += 5; *p == ' '; p++)
		;
	if (pcrgate_parse_decimal(&p, UINT64_MAX, first) != 0 || *p++ != '-' ||
	    pcrgate_parse_decimal(&p, UINT64_MAX, last) != 0 || *p++ != '/')
		return -1;
	*have_total = 0;
	if (*p == '*')
		p++;
	else if (pcrgate_parse_decimal(&p, UINT64_MAX, total) == 0)
		*have_total = 1;
	else
		return -1;
	return *p == '\0' ? 0 : -1;
}

/*
 * The server's file has size bytes, fewer than end: it is not the file the signed manifest
 * describes, and asking again cannot help. A prefix (a bundle's head) is checked against the
 * bytes asked for, as there is no manifest yet.
 */
static int too_short(struct xfer *x, uint64_t size)
{
	if (x->prefix)
		why(x, PCRGATE_ERR_FORMAT, "the file has %" PRIu64 " bytes, fewer than the %" PRIu64 " asked for",
		    size, x->end);
	else
		why(x, PCRGATE_ERR_FORMAT,
		    "the file has %" PRIu64 " bytes, fewer than the %" PRIu64 " the signed manifest gives", size,
		    x->end);
	return -1;
}

/* The final response's headers are complete: accept it, or stop with why. 0: accepted. */
static int judge(struct xfer *x)
{
	uint64_t first, last, total = 0, length;
	int have_total = 0;

	switch (x->status) {
	case 206:
		if (parse_content_range(x->content_range, &first, &last, &total, &have_total) != 0 || last < first ||
		    (have_total && last >= total)) {
			why(x, PCRGATE_ERR_FORMAT, "HTTP 206 with a missing or malformed Content-Range \"%.60s\"",
			    x->content_range);
			return -1;
		}
		if (first != x->offset) {
			why(x, PCRGATE_ERR_FORMAT,
			    "HTTP 206 for bytes from %" PRIu64 ", but they were asked from %" PRIu64, first, x->offset);
			return -1;
		}
		if (have_total && total < x->end)
			return too_short(x, total);
		if (last >= x->end) {
			why(x, PCRGATE_ERR_LIMIT,
			    "the server offers bytes up to %" PRIu64
			    ": more data than the signed manifest allows (%" PRIu64 " bytes)",
			    last, x->end);
			return -1;
		}
		x->limit = last + 1;
		return 0;
	case 200:
		if (x->offset > 0) {
			why(x, PCRGATE_ERR_UNSUPPORTED,
			    "the server ignores Range (HTTP 200 to a request from byte %" PRIu64
			    "); download from the start",
			    x->offset);
			return -1;
		}
		/* A 200 is the whole file (from byte 0), so its length is the file's size. */
		if (parse_u64(x->content_length, &length) == 0) {
			if (length < x->end)
				return too_short(x, length);
			if (length > x->end && !x->prefix) {
				why(x, PCRGATE_ERR_LIMIT,
				    "Content-Length %" PRIu64
				    ": more data than the signed manifest allows (%" PRIu64 " bytes)",
				    length, x->end);
				return -1;
			}
		}
		x->limit = x->end;
		return 0;
	case 416:
		/* A Content-Range of the size alone ("bytes", an asterisk, "/SIZE"): the file ends at SIZE. */
		if (strncasecmp(x->content_range, "bytes */", 8) == 0 && parse_u64(x->content_range + 8, &total) == 0 &&
		    total <= x->offset)
			return too_short(x, total);
		why(x, PCRGATE_ERR_IO, "HTTP 416 (range not satisfiable) for bytes from %" PRIu64, x->offset);
		return -1;
	case 404:
	case 410:
		why(x, PCRGATE_ERR_NOT_FOUND, "HTTP %ld (not found)", x->status);
		return -1;
	default:
		if (x->status >= 300 && x->status < 400)
			why(x, PCRGATE_ERR_IO, "HTTP %ld (redirects are not followed)", x->status);
		else
			why(x, PCRGATE_ERR_IO, "HTTP %ld", x->status);
		return -1;
	}
}

/*
 * The value of header name in the response being received (curl has parsed it; the last one
 * when there are several), or "" when it has none; a value too long to be a valid one is kept
 * as "?", which parses as nothing.
 */
static void header_value(struct xfer *x, const char *name, char *out)
{
	struct curl_header *h = NULL;

	out[0] = '\0';
	if (curl_easy_header(x->curl, name, 0, CURLH_HEADER, -1, &h) != CURLHE_OK || h == NULL)
		return;
	if (h->amount > 1 && curl_easy_header(x->curl, name, h->amount - 1, CURLH_HEADER, -1, &h) != CURLHE_OK)
		return;
	if (strlen(h->value) >= HEADER_VALUE)
		snprintf(out, HEADER_VALUE, "?");
	else
		snprintf(out, HEADER_VALUE, "%s", h->value);
}

/* curl hands each header line; at the blank line ending a response's headers, that response is judged. */
static size_t on_header(char *line, size_t size, size_t nitems, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nitems;
	long status = 0;

	/* After the final response's headers come only trailers, which change nothing. */
	if (x->decided || !((n == 2 && line[0] == '\r' && line[1] == '\n') || (n == 1 && line[0] == '\n')))
		return n;
	if (curl_easy_getinfo(x->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK || status <= 0) {
		why(x, PCRGATE_ERR_FORMAT, "a response without an HTTP status");
		return 0;
	}
	/* A 1xx: its headers count for nothing, the final response follows. */
	if (status < 200)
		return n;
	x->status = status;
	header_value(x, "Content-Range", x->content_range);
	header_value(x, "Content-Length", x->content_length);
	if (judge(x) != 0)
		return 0;
	x->decided = 1;
	return n;
}

static void size_text(uint64_t n, char *out, size_t cap)
{
	if (n >= 1024u * 1024 * 1024)
		snprintf(out, cap, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
	else if (n >= 1024u * 1024)
		snprintf(out, cap, "%.1f MiB", (double)n / (1024.0 * 1024));
	else
		snprintf(out, cap, "%.1f KiB", (double)n / 1024.0);
}

/* "WHAT  42%  12.3 MiB of 29.1 MiB  1.2 MiB/s", redrawn at most five times a second. */
static void draw_progress(struct xfer *x, int last)
{
	struct timespec now;
	double secs;
	char done[24], total[24], rate[24];

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!last && x->drawn &&
	    (now.tv_sec - x->last.tv_sec) * 1000000000L + (now.tv_nsec - x->last.tv_nsec) < PROGRESS_EVERY_NS)
		return;
	x->last = now;
	secs = (double)(now.tv_sec - x->start.tv_sec) + (double)(now.tv_nsec - x->start.tv_nsec) / 1e9;
	size_text(x->pos, done, sizeof(done));
	size_text(x->end, total, sizeof(total));
	size_text(secs > 0.05 ? (uint64_t)((double)(x->pos - x->offset) / secs) : 0, rate, sizeof(rate));
	fprintf(stderr, "\r%.24s %3u%%  %s of %s  %s/s \033[K", x->what != NULL ? x->what : "download",
		x->end > 0 ? (unsigned)((double)x->pos * 100.0 / (double)x->end) : 100u, done, total, rate);
	if (last)
		fputc('\n', stderr);
	fflush(stderr);
	x->drawn = 1;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct xfer *x = arg;
	size_t n = size * nmemb, room, w;
	ssize_t k;
	uint64_t at;

	if (!x->decided) {
		why(x, PCRGATE_ERR_FORMAT, "a body before the response's headers");
		return 0;
	}
	room = x->limit - x->pos < n ? (size_t)(x->limit - x->pos) : n;
	for (w = 0; w < room; w += (size_t)k) {
		at = x->pos + w;
		k = pwrite(x->fd, data + w, room - w, (off_t)at);
		if (k < 0 && errno == EINTR) {
			k = 0;
			continue;
		}
		if (k <= 0) {
			x->pos += w;
			why(x, PCRGATE_ERR_IO, "cannot write the download at offset %" PRIu64 ": %s", at,
			    k < 0 ? strerror(errno) : "nothing written");
			return 0;
		}
	}
	x->pos += room;
	if (room < n && x->prefix && x->status == 200) {
		x->cut = 1; /* the prefix is complete: stop here, without an error */
		return 0;
	}
	if (room < n) {
		if (x->limit == x->end)
			why(x, PCRGATE_ERR_LIMIT, "more data than the signed manifest allows (%" PRIu64 " bytes)",
			    x->end);
		else
			why(x, PCRGATE_ERR_FORMAT, "more bytes than its Content-Range announced (to byte %" PRIu64 ")",
			    x->limit - 1);
		return 0;
	}
	if (x->progress)
		draw_progress(x, 0);
	return n;
}

/* "WHAT: GET URL: PROBLEM" */
static int fail(pcrgate_errinfo *ei, int code, const char *what, const char *shown, const char *problem)
{
	return pcrgate_errinfo_set(ei, code, PCRGATE_NO_OFFSET, "%s%sGET %s: %s", what != NULL ? what : "",
				   what != NULL ? ": " : "", shown, problem);
}

#define SETOPT(opt, val) (r == CURLE_OK ? (r = curl_easy_setopt(curl, (opt), (val))) : r)

int pcrgate_download_range(const char *url, int fd, uint64_t offset, uint64_t end,
			   const struct pcrgate_download_opts *o, uint64_t *got, pcrgate_errinfo *ei)
{
	static const struct pcrgate_download_opts none = {0};
	struct xfer x = {0};
	CURL *curl = NULL;
	CURLcode r = CURLE_OK;
	char shown[SHOWN_MAX], range[48], errbuf[CURL_ERROR_SIZE] = "", problem[WHY_MAX + CURL_ERROR_SIZE];
	const char *ca;
	long min_speed, min_time, connect_s;
	int https = 0, rc;

	if (url == NULL || fd < 0 || got == NULL || offset > end)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "download: no URL, no file, or a range that ends before it starts");
	if (o == NULL)
		o = &none;
	if (strlen(url) >= DOWNLOAD_URL_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "download: a URL longer than %d bytes", DOWNLOAD_URL_MAX - 1);
	if ((rc = httpclient_url_check(url, 1, &https, shown, sizeof(shown), ei)) != PCRGATE_OK)
		return rc;
	/* pwrite's offsets are off_t: a 32-bit one cannot hold every uint64_t. */
	if ((uint64_t)(off_t)end != end || (off_t)end < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "GET %s: %" PRIu64 " bytes is too large", shown, end);
	if (offset == end) {
		*got = 0;
		return PCRGATE_OK;
	}
	if ((rc = httpclient_curl_init(ei)) != PCRGATE_OK)
		return rc;
	if ((curl = curl_easy_init()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	x.fd = fd;
	x.curl = curl;
	x.offset = x.pos = offset;
	x.end = x.limit = end;
	x.what = o->what;
	x.progress = o->progress && isatty(STDERR_FILENO);
	x.prefix = o->prefix;
	clock_gettime(CLOCK_MONOTONIC, &x.start);
	connect_s = o->connect_timeout_s > 0 ? o->connect_timeout_s : DOWNLOAD_DEFAULT_CONNECT_TIMEOUT_S;
	min_speed = o->min_speed > 0 ? o->min_speed : DOWNLOAD_DEFAULT_MIN_SPEED;
	min_time = o->min_speed_time_s > 0 ? o->min_speed_time_s : DOWNLOAD_DEFAULT_MIN_SPEED_TIME_S;
	snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, offset, end - 1);

	ca = o->ca_file != NULL && o->ca_file[0] != '\0' ? o->ca_file : NULL;
	r = (CURLcode)httpclient_curl_defaults(curl, https, ca, connect_s * 1000);
	SETOPT(CURLOPT_URL, url);
	SETOPT(CURLOPT_ERRORBUFFER, errbuf);
	SETOPT(CURLOPT_HTTPGET, 1L);
	SETOPT(CURLOPT_RANGE, range);
	SETOPT(CURLOPT_HEADERFUNCTION, on_header);
	SETOPT(CURLOPT_HEADERDATA, &x);
	SETOPT(CURLOPT_WRITEFUNCTION, on_body);
	SETOPT(CURLOPT_WRITEDATA, &x);
	SETOPT(CURLOPT_LOW_SPEED_LIMIT, min_speed);
	SETOPT(CURLOPT_LOW_SPEED_TIME, min_time);
	SETOPT(CURLOPT_TIMEOUT, o->timeout_s > 0 ? o->timeout_s : 0L);
	if (r != CURLE_OK) {
		snprintf(problem, sizeof(problem), "libcurl: %s", curl_easy_strerror(r));
		rc = fail(ei, PCRGATE_ERR_IO, o->what, shown, problem);
		goto done;
	}
	pg_debug("GET %s bytes %s", shown, range);
	r = curl_easy_perform(curl);
	*got = x.pos - offset;
	if (x.progress && x.drawn)
		draw_progress(&x, 1);
	if (x.err != 0) {
		rc = fail(ei, x.err, o->what, shown, x.why);
		goto done;
	}
	if (r == CURLE_WRITE_ERROR && x.cut)
		r = CURLE_OK;
	switch (r) {
	case CURLE_OK:
	/* The connection ended before the announced length: what came is kept, the caller resumes. */
	case CURLE_PARTIAL_FILE:
		if (!x.decided) {
			rc = fail(ei, PCRGATE_ERR_FORMAT, o->what, shown, "no response");
			goto done;
		}
		pg_debug("GET %s: %" PRIu64 " bytes from %" PRIu64 "%s", shown, *got, offset,
			 r == CURLE_PARTIAL_FILE ? " (the connection ended early)" : "");
		rc = PCRGATE_OK;
		break;
	case CURLE_OPERATION_TIMEDOUT:
		/* A stall, the whole transfer's timeout or the connect timeout: curl's message says which. */
		snprintf(problem, sizeof(problem), "download stalled or timed out: %s (%" PRIu64 " bytes received)",
			 errbuf[0] != '\0' ? errbuf : curl_easy_strerror(r), *got);
		rc = fail(ei, PCRGATE_ERR_IO, o->what, shown, problem);
		break;
	default:
		snprintf(problem, sizeof(problem), "%s", errbuf[0] != '\0' ? errbuf : curl_easy_strerror(r));
		rc = fail(ei, PCRGATE_ERR_IO, o->what, shown, problem);
		break;
	}
done:
	curl_easy_cleanup(curl);
	return rc;
}
