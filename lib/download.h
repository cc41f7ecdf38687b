/*
 * pcrgate (library-internal): the resumable download of an update bundle over HTTP(S) (libcurl).
 *
 * One call fetches one byte range of a URL into a file at the same offsets, so an interrupted
 * download continues where it stopped. The size the signed manifest allows is a hard cap: a
 * server that sends one byte more is cut off at once. The URL rules are the HTTPS client's
 * (lib/httpclient.h): https anywhere, plain http only to a loopback host, no redirects, no
 * credentials in the URL. A query (a pre-signed URL's token) is sent but never shown in a
 * message or a log line.
 */
#ifndef PCRGATE_DOWNLOAD_H
#define PCRGATE_DOWNLOAD_H

#include <stdint.h>

#include "pcrgate/common.h"

#define DOWNLOAD_URL_MAX 8192 /* bytes of a URL (pre-signed URLs are long) */
#define DOWNLOAD_DEFAULT_CONNECT_TIMEOUT_S 30L
#define DOWNLOAD_DEFAULT_MIN_SPEED 1024L /* bytes/s */
#define DOWNLOAD_DEFAULT_MIN_SPEED_TIME_S 60L

struct pcrgate_download_opts {
	const char *ca_file;     /* PEM CA certificate(s) for https; NULL or "": the system's CA store */
	long connect_timeout_s;  /* 0: DOWNLOAD_DEFAULT_CONNECT_TIMEOUT_S */
	long timeout_s;          /* the whole transfer; 0: none */
	long min_speed;          /* bytes/s; 0: DOWNLOAD_DEFAULT_MIN_SPEED */
	long min_speed_time_s;   /* slower than min_speed for this long is a stall; 0: the default */
	int progress;            /* 1: a one-line progress bar on stderr, when stderr is a terminal */
	int prefix;              /* 1: [offset, end) is a prefix of a larger file (a bundle's head): a
				    server that answers a request from byte 0 with the whole file (it
				    ignores Range) is read up to end and cut there, not refused; a file
				    shorter than end is still an error */
	const char *what;        /* what is downloaded, for messages ("bundle"); NULL: none */
};

/*
 * Fetches bytes [offset, end) of url and writes them with pwrite at the same offsets of fd;
 * end is the hard cap. Sends "Range: bytes=offset-(end-1)" and accepts a 206 whose
 * Content-Range starts at offset (and ends before end), or a 200 when offset is 0 (with
 * o->prefix, a 200 of a larger file is read up to end and cut there). *got gets the bytes
 * written, from offset on: fewer than asked because the connection ended early is not an
 * error, the caller resumes. Unlike other outputs, *got is also set when the transfer fails
 * midway, because the bytes before the failure are in fd and a resume starts after them.
 * offset == end asks nothing (*got = 0).
 *
 * Errors, each naming the URL (without its query) and what went wrong:
 *   PCRGATE_ERR_UNSUPPORTED  a 200 to a resume (offset > 0): the server ignores Range; start
 *                            again from 0
 *   PCRGATE_ERR_LIMIT        more data than end allows (a Content-Length, a Content-Range, or
 *                            the bytes themselves): the transfer is cut at once
 *   PCRGATE_ERR_FORMAT       a 206 without a Content-Range that matches the request; or the
 *                            server's file is shorter than end (the size a 206's Content-Range
 *                            or a 200's Content-Length gives, or a 416 at offset): "the file
 *                            has N bytes, fewer than the END the signed manifest gives" (with
 *                            o->prefix: "... the END asked for"), which asking again cannot mend
 *   PCRGATE_ERR_NOT_FOUND    HTTP 404 or 410
 *   PCRGATE_ERR_IO           any other status, a connection or TLS failure, a stall (below
 *                            min_speed for min_speed_time_s), a timeout, a failed write to fd
 *   PCRGATE_ERR_CONFIG       a URL that breaks the rules above
 */
int pcrgate_download_range(const char *url, int fd, uint64_t offset, uint64_t end,
			   const struct pcrgate_download_opts *o, uint64_t *got, pcrgate_errinfo *ei);

#endif
