/*
 * pcrgate (library-internal): the HTTPS client of the agent and of `pcrgate admin` (libcurl).
 *
 * One client talks to one service (a base URL) over one reused connection (keep-alive). TLS
 * always verifies the server against the configured CA file, and only that CA: there is no way
 * to turn verification off. Plain http:// is accepted only for a loopback host (127.0.0.0/8,
 * ::1, localhost), which is what tests use. Redirects are never followed, so a bearer token is
 * only ever sent to the configured service, and it never appears in a log or an error.
 * Responses are capped: a larger one aborts the transfer.
 */
#ifndef PCRGATE_HTTPCLIENT_H
#define PCRGATE_HTTPCLIENT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pcrgate/common.h"

#define HTTPCLIENT_URL_MAX 2048
#define HTTPCLIENT_TOKEN_MAX 4096                        /* bytes of a bearer token file */
#define HTTPCLIENT_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define HTTPCLIENT_DEFAULT_TIMEOUT_MS 60000L
#define HTTPCLIENT_DEFAULT_MAX_RESPONSE (16u * 1024 * 1024)

struct httpclient_options {
	const char *base_url;   /* https://host[:port][/prefix], or http:// to a loopback host */
	const char *ca_file;    /* PEM CA certificate(s) the server must chain to; required for https */
	const char *token_file; /* optional: a bearer token (one line) sent as Authorization */
	const char *cert_file;  /* optional: a client certificate (PEM) ... */
	const char *key_file;   /* ... and its key (PEM); defaults to cert_file */
	/*
	 * Optional, with cert_file, instead of key_file: the client key as an OpenSSL store URI of
	 * the tpm2-openssl provider ("handle:0x81000012"), so the key never leaves the TPM; tcti
	 * (may be NULL) is the TPM the provider opens. The provider is loaded once per process,
	 * with the default provider preferred for every other algorithm. During each request of
	 * such a client the whole process prefers the tpm2 provider (EVP_set_default_properties is
	 * process-wide), so its requests must not run concurrently with any other OpenSSL use in
	 * the process (another thread's TLS, digests, TPM sessions); a failure to switch the
	 * preference fails the request with PCRGATE_ERR_CRYPTO.
	 */
	const char *tpm_key_uri;
	const char *tcti;
	long connect_timeout_ms; /* 0: HTTPCLIENT_DEFAULT_CONNECT_TIMEOUT_MS */
	long timeout_ms;         /* the whole request; 0: HTTPCLIENT_DEFAULT_TIMEOUT_MS */
	size_t max_response;     /* bytes of a response body; 0: HTTPCLIENT_DEFAULT_MAX_RESPONSE */
};

typedef struct httpclient httpclient;

/* Checks the options (URL, scheme, CA file, token file) and makes a client. */
int httpclient_new(const struct httpclient_options *opts, httpclient **out, pcrgate_errinfo *ei);
/* NULL-safe; clears the token from memory. */
void httpclient_free(httpclient **c);

/*
 * A request with a JSON body (NULL: none) to the base URL plus path ("/v1/...", with an
 * optional query already escaped). 0 whenever the server answered: *status gets the HTTP
 * status and *json (the caller's reference; NULL for an empty body) the parsed response. A
 * 2xx body that is not JSON is PCRGATE_ERR_FORMAT; other statuses may carry any body (then
 * *json is NULL). No answer (connection, TLS, timeout): PCRGATE_ERR_IO naming the URL and
 * curl's error; a body over the cap: PCRGATE_ERR_LIMIT.
 */
int httpclient_get(httpclient *c, const char *path, long *status, json_t **json, pcrgate_errinfo *ei);
int httpclient_post(httpclient *c, const char *path, const json_t *body, long *status, json_t **json,
		    pcrgate_errinfo *ei);
int httpclient_put(httpclient *c, const char *path, const json_t *body, long *status, json_t **json,
		   pcrgate_errinfo *ei);

/*
 * GET with the raw body (NUL-terminated one past *len, malloc'd) for non-JSON answers such as
 * JSON lines; same errors as httpclient_get.
 */
int httpclient_get_raw(httpclient *c, const char *path, long *status, uint8_t **body, size_t *len,
		       pcrgate_errinfo *ei);
/* POST of raw bytes (NULL data: a GET), answered as httpclient_get_raw answers. */
int httpclient_post_raw(httpclient *c, const char *path, const uint8_t *data, size_t dlen, long *status,
			uint8_t **body, size_t *len, pcrgate_errinfo *ei);

/* The "error" member of an error response, or NULL. */
const char *httpclient_error_text(const json_t *json);

/*
 * Percent-encodes s for one path segment or query value (everything but A-Z a-z 0-9 - . _ ~)
 * into out; PCRGATE_ERR_LIMIT when it does not fit in cap.
 */
int httpclient_escape(const char *s, char *out, size_t cap);

/* 1 when host (as in a URL: a name, an IPv4 address or a bracketed IPv6 one) is loopback. */
int httpclient_host_is_loopback(const char *host);

/*
 * Shared with the resumable download (lib/download.h), so that every transfer follows the same
 * rules. httpclient_curl_init: curl_global_init, once per process (PCRGATE_ERR_IO when it failed).
 */
int httpclient_curl_init(pcrgate_errinfo *ei);
/*
 * Checks a URL: https anywhere, http only to a loopback host, never credentials in it. A query
 * or fragment is refused, unless allow_query; then it is accepted but never echoed (it may hold
 * a token). shown (cap bytes, may be NULL) gets the URL as messages may name it: scheme, host,
 * port and path, shortened with "..." when longer than cap. *https says which scheme it is.
 */
int httpclient_url_check(const char *url, int allow_query, int *https, char *shown, size_t cap,
			 pcrgate_errinfo *ei);
/*
 * The settings every transfer makes on a curl handle (a CURL *): no signals, only the URL's
 * scheme, redirects never followed, the User-Agent, the connect timeout and TCP keep-alive;
 * for https, peer and host verification with TLS 1.2 or later against ca_file only, or with
 * ca_file NULL against the system's CA store. Returns curl's CURLcode (0: CURLE_OK).
 */
int httpclient_curl_defaults(void *curl, int https, const char *ca_file, long connect_timeout_ms);

#endif
