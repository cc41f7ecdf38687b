/*
 * pcrgate verifier: the HTTP(S) server under the REST API (libmicrohttpd, internal thread pool).
 *
 * One access callback does, in this order and before any body byte is kept: route match (404,
 * 405), the admin bearer check (401), the Content-Length cap (413) and, for a device route, that
 * the connection carries a client certificate at all (401). The body then collects with the
 * same cap (413 as soon as it is passed), a JSON route's body is parsed (400 naming the error),
 * the device route's certificate is checked for the body's device, and only then does the
 * handler run. Responses carry no-store and nosniff headers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/gnutls.h>
#include <microhttpd.h>

#include "pcrgate/alg.h"

#include "verifier/http.h"
#include "verifier/metrics.h"

#define BUILTIN_HEALTHZ 0
#define BUILTIN_METRICS 1
#define NBUILTIN 2
#define DRAIN_SECONDS 10 /* how long a stop waits for requests in flight */
#define MAX_ERROR_TEXT 512
/*
 * libmicrohttpd can queue an answer only before the body or after all of it. A streamed
 * (chunked) body that passes its cap is therefore no longer stored, and is read and dropped up
 * to this many more bytes so the client can get its 413; a client that sends more than that
 * loses the connection instead.
 */
#define DISCARD_LIMIT (64 * 1024)

struct vhttp {
	struct MHD_Daemon *mhd;
	struct vhttp_opts opts;
	struct vmetrics *metrics;
	char *cert;
	char *key;
	char *client_ca;
	size_t key_len;
	int listen_fd;
	uint16_t port;
	atomic_int inflight;
	atomic_int stopping;
	atomic_int asleep; /* requests set aside by vreq_later whose answer is not made yet */
};

/* Per request; freed by the completion callback. */
struct reqstate {
	struct vhttp *h;
	struct timespec start;
	const struct vroute *route;
	size_t route_index; /* metrics index: user routes, then the built-ins, then "none" */
	int builtin;        /* BUILTIN_* or -1 */
	int answered;       /* a response was queued */
	int too_big;        /* the streamed body passed max: dropped, answered 413 at its end */
	size_t discarded;
	size_t max;
	char *body;
	size_t len, cap;
	char params[VREQ_MAX_PARAMS][VHTTP_MAX_PARAM];
	size_t nparams;
	char actor[VHTTP_MAX_ACTOR]; /* what admin_auth named the token */
	json_t *json;                /* the parsed body, kept until the request ends */
	struct MHD_Connection *conn;
	vanswer later;               /* vreq_later's answer, until it ran */
	void *later_arg;
};

/* Per connection: the device its client certificate was accepted for, and that certificate's digest. */
struct connstate {
	int accepted;
	uint8_t leaf[32];
	char device_id[VHTTP_MAX_PARAM];
	char key[VHTTP_KEY_ID]; /* what device_auth gave for them */
};

static const char *const builtin_pattern[NBUILTIN] = {"/healthz", "/metrics"};

int vhttp_is_loopback(const char *address)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (address == NULL)
		return 0;
	if (inet_pton(AF_INET, address, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, address, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

/* ---- responses ---- */

static void vresp_clear(struct vresp *resp)
{
	json_decref(resp->json);
	resp->json = NULL;
	free(resp->body);
	resp->body = NULL;
	resp->body_len = 0;
	resp->content_type[0] = '\0';
	if (resp->has_file)
		close(resp->file_fd);
	resp->has_file = 0;
	resp->file_fd = -1;
	resp->file_name[0] = '\0';
	/* The headers were the answer's being replaced (a file's Content-Range is not a 500's). */
	resp->nheaders = 0;
}

void vresp_reason(struct vresp *resp, const char *reason)
{
	if (resp != NULL)
		snprintf(resp->reason, sizeof(resp->reason), "%s", reason != NULL ? reason : "");
}

int vresp_json(struct vresp *resp, int status, json_t *json)
{
	vresp_clear(resp);
	if (json == NULL) {
		resp->status = 500;
		return 0;
	}
	resp->status = status;
	resp->json = json;
	return 0;
}

int vresp_raw(struct vresp *resp, int status, const char *content_type, char *body, size_t len)
{
	vresp_clear(resp);
	resp->status = status;
	resp->body = body;
	resp->body_len = body != NULL ? len : 0;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s",
		 content_type != NULL ? content_type : "application/octet-stream");
	return 0;
}

int vresp_file(struct vresp *resp, int status, const char *content_type, const char *name, int fd, uint64_t offset,
	       uint64_t len)
{
	vresp_clear(resp);
	resp->status = status;
	resp->has_file = 1;
	resp->file_fd = fd;
	snprintf(resp->file_name, sizeof(resp->file_name), "%s", name != NULL ? name : "a file");
	resp->file_offset = offset;
	resp->file_len = len;
	snprintf(resp->content_type, sizeof(resp->content_type), "%s",
		 content_type != NULL ? content_type : "application/octet-stream");
	return 0;
}

int vresp_header(struct vresp *resp, const char *name, const char *value)
{
	if (resp->nheaders >= VRESP_MAX_HEADERS || strlen(name) >= VRESP_MAX_HEADER ||
	    strlen(value) >= VRESP_MAX_HEADER)
		return PCRGATE_ERR_LIMIT;
	snprintf(resp->headers[resp->nheaders][0], VRESP_MAX_HEADER, "%s", name);
	snprintf(resp->headers[resp->nheaders][1], VRESP_MAX_HEADER, "%s", value);
	resp->nheaders++;
	return PCRGATE_OK;
}

int vresp_error(struct vresp *resp, int status, const char *check, const char *fmt, ...)
{
	char msg[MAX_ERROR_TEXT];
	va_list ap;
	json_t *j;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* Invalid UTF-8 (from a client's bytes echoed in msg) would make json_string fail. */
	if ((j = json_object()) == NULL || json_object_set_new(j, "error", json_string(msg)) != 0 ||
	    (check != NULL && json_object_set_new(j, "check", json_string(check)) != 0)) {
		json_decref(j);
		j = json_pack("{s:s}", "error", "request refused");
	}
	vresp_json(resp, status, j);
	vresp_reason(resp, check);
	return 0;
}

/* ---- request helpers ---- */

const char *vreq_query(const struct vreq *req, const char *key)
{
	if (req == NULL || req->conn == NULL || key == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *vreq_header(const struct vreq *req, const char *name)
{
	if (req == NULL || req->conn == NULL || name == NULL)
		return NULL;
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

/* The token of "Authorization: Bearer TOKEN" (RFC 6750 token68), or NULL. */
static const char *bearer_of(struct MHD_Connection *conn)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *t;
	size_t n;

	if (v == NULL || strncasecmp(v, "Bearer ", 7) != 0)
		return NULL;
	for (t = v + 7; *t == ' '; t++)
		;
	n = strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+/=");
	if (n == 0 || n >= VHTTP_MAX_TOKEN || t[n] != '\0')
		return NULL;
	return t;
}

/* Matches path against pattern; the "{}" segments go to st->params. 1: match. */
static int match(const char *pattern, const char *path, struct reqstate *st)
{
	const char *p = pattern, *u = path;
	size_t np = 0;

	while (*p != '\0' && *u != '\0') {
		if (p[0] == '{' && p[1] == '}') {
			size_t n = strcspn(u, "/");
			if (n == 0 || n >= VHTTP_MAX_PARAM || np >= VREQ_MAX_PARAMS)
				return 0;
			if (st != NULL) {
				memcpy(st->params[np], u, n);
				st->params[np][n] = '\0';
			}
			np++;
			u += n;
			p += 2;
		} else if (*p == *u) {
			p++;
			u++;
		} else {
			return 0;
		}
	}
	if (*p != '\0' || *u != '\0')
		return 0;
	if (st != NULL)
		st->nparams = np;
	return 1;
}

/* ---- answering ---- */

static double elapsed(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - start->tv_sec) + (double)(now.tv_nsec - start->tv_nsec) / 1e9;
}

static void add_security_headers(struct vhttp *h, struct MHD_Response *r)
{
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'");
	if (!h->opts.plain_http)
		MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
	/* While stopping, clients are told to go elsewhere rather than reuse this connection. */
	if (atomic_load(&h->stopping))
		MHD_add_response_header(r, MHD_HTTP_HEADER_CONNECTION, "close");
}

/* Queues resp (its body's ownership passes to libmicrohttpd) and counts it. */
static enum MHD_Result answer(struct MHD_Connection *conn, struct reqstate *st, struct vresp *resp,
			      const char *allow)
{
	struct MHD_Response *r = NULL;
	char *text = NULL;
	size_t len = 0, i;
	const char *ctype = "application/json";
	enum MHD_Result ok;

	if (resp->has_file) {
		/* libmicrohttpd reads the file as the client takes it, and closes it with the response. */
		ctype = resp->content_type;
		if (resp->file_len > 0 &&
		    (r = MHD_create_response_from_fd_at_offset64(resp->file_len, resp->file_fd, resp->file_offset)) !=
			    NULL) {
			resp->has_file = 0;
		} else if (resp->file_len > 0) {
			/* libmicrohttpd takes offset + length up to 2^63 - 1; within that, it ran out of memory. */
			pg_err("cannot answer with %" PRIu64 " bytes from offset %" PRIu64 " of %s (descriptor %d): %s",
			       resp->file_len, resp->file_offset, resp->file_name, resp->file_fd,
			       resp->file_len > (uint64_t)INT64_MAX || resp->file_offset > (uint64_t)INT64_MAX - resp->file_len
				       ? "past the offsets libmicrohttpd can send"
				       : "out of memory");
			vresp_error(resp, 500, NULL, "internal error");
			ctype = "application/json";
		}
	}
	/* A file's answer is made; an empty file's is the empty body below. */
	if (r == NULL && !resp->has_file && resp->json != NULL) {
		if ((text = json_dumps(resp->json, JSON_COMPACT)) == NULL)
			resp->status = 500; /* out of memory: an empty 500 is all that is left */
		else
			len = strlen(text);
	} else if (r == NULL && !resp->has_file && (resp->body != NULL || resp->content_type[0] != '\0')) {
		text = resp->body;
		len = resp->body_len;
		resp->body = NULL;
		ctype = resp->content_type[0] != '\0' ? resp->content_type : "application/octet-stream";
	}
	if (resp->status < 100 || resp->status > 599)
		resp->status = 500;
	if (r == NULL)
		r = text != NULL ? MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE)
				 : MHD_create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
	if (r == NULL) {
		free(text);
		vresp_clear(resp);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	for (i = 0; i < resp->nheaders; i++)
		MHD_add_response_header(r, resp->headers[i][0], resp->headers[i][1]);
	add_security_headers(st->h, r);
	if (resp->status == 401)
		MHD_add_response_header(r, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"pcrgate\"");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	ok = MHD_queue_response(conn, (unsigned)resp->status, r);
	MHD_destroy_response(r);
	st->answered = 1;
	metrics_request(st->h->metrics, st->route_index, resp->status, resp->reason, elapsed(&st->start));
	vresp_clear(resp);
	return ok;
}

static enum MHD_Result answer_error(struct MHD_Connection *conn, struct reqstate *st, int status, const char *check,
				    const char *allow, const char *fmt, ...) __attribute__((format(printf, 6, 7)));

static enum MHD_Result answer_error(struct MHD_Connection *conn, struct reqstate *st, int status, const char *check,
				    const char *allow, const char *fmt, ...)
{
	struct vresp resp = {0};
	char msg[MAX_ERROR_TEXT];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	vresp_error(&resp, status, check, "%s", msg);
	return answer(conn, st, &resp, allow);
}

static void builtin(struct vhttp *h, int which, struct vresp *resp)
{
	pcrgate_errinfo ei = {0};
	char *text = NULL;
	size_t len = 0;

	if (which == BUILTIN_HEALTHZ) {
		if (h->opts.healthy != NULL && h->opts.healthy(h->opts.app) != 0) {
			vresp_error(resp, 503, "store", "the store is not reachable");
			return;
		}
		vresp_json(resp, 200, json_pack("{s:s}", "status", "ok"));
		return;
	}
	if (metrics_render(h->metrics, &text, &len, &ei) < 0) {
		vresp_error(resp, 500, NULL, "internal error");
		return;
	}
	vresp_raw(resp, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

/* Fills "GET, POST" style Allow for path (the methods of every route whose pattern matches). */
static int allowed_methods(struct vhttp *h, const char *path, char *allow, size_t cap)
{
	size_t i, used = 0;
	int any = 0;

	allow[0] = '\0';
	for (i = 0; i < h->opts.nroutes; i++) {
		const struct vroute *r = &h->opts.routes[i];
		if (!match(r->pattern, path, NULL) || strstr(allow, r->method) != NULL)
			continue;
		used += (size_t)snprintf(allow + used, used < cap ? cap - used : 0, "%s%s", any ? ", " : "", r->method);
		any = 1;
	}
	for (i = 0; i < NBUILTIN; i++) {
		if (strcmp(path, builtin_pattern[i]) == 0 && strstr(allow, "GET") == NULL) {
			used += (size_t)snprintf(allow + used, used < cap ? cap - used : 0, "%sGET", any ? ", " : "");
			any = 1;
		}
	}
	return any;
}

/* The client's certificate chain on a TLS connection (the leaf first), or NULL (*n = 0) when it sent none. */
static const gnutls_datum_t *peer_chain(struct MHD_Connection *conn, unsigned *n)
{
	const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	const gnutls_datum_t *peers = NULL;

	*n = 0;
	if (ci != NULL && ci->tls_session != NULL)
		peers = gnutls_certificate_get_peers(ci->tls_session, n);
	if (peers == NULL || *n == 0) {
		*n = 0;
		return NULL;
	}
	return peers;
}

#define NO_CLIENT_CERT "this request needs the device's TLS client certificate, issued at enrollment"

/* The first call for a request: everything that can be decided from the headers alone. */
static enum MHD_Result on_headers(struct MHD_Connection *conn, struct reqstate *st, const char *url,
				  const char *method)
{
	struct vhttp *h = st->h;
	const char *cl;
	unsigned long long len = 0;
	char allow[128];
	size_t i;

	st->builtin = -1;
	st->route_index = h->opts.nroutes + NBUILTIN;
	if (strlen(url) >= VHTTP_MAX_PATH)
		return answer_error(conn, st, 414, "path-too-long", NULL, "the request path is longer than %d bytes",
				    VHTTP_MAX_PATH - 1);
	for (i = 0; i < h->opts.nroutes && st->route == NULL; i++) {
		if (strcmp(h->opts.routes[i].method, method) == 0 && match(h->opts.routes[i].pattern, url, st)) {
			st->route = &h->opts.routes[i];
			st->route_index = i;
		}
	}
	for (i = 0; st->route == NULL && i < NBUILTIN; i++) {
		if (strcmp(method, "GET") == 0 && strcmp(url, builtin_pattern[i]) == 0) {
			st->builtin = (int)i;
			st->route_index = h->opts.nroutes + i;
		}
	}
	if (st->route == NULL && st->builtin < 0) {
		if (allowed_methods(h, url, allow, sizeof(allow)))
			return answer_error(conn, st, 405, "method-not-allowed", allow,
					    "%s is not allowed on this path", method);
		return answer_error(conn, st, 404, "not-found", NULL, "no such resource");
	}
	if (st->route != NULL && (st->route->flags & VROUTE_ADMIN) != 0) {
		const char *tok = bearer_of(conn);
		if (tok == NULL || h->opts.admin_auth == NULL ||
		    h->opts.admin_auth(h->opts.app, tok, st->actor, sizeof(st->actor)) != 0)
			return answer_error(conn, st, 401, "unauthorized", NULL,
					    "this request needs a valid admin bearer token");
	}
	for (i = 0; i < st->nparams; i++) {
		const unsigned char *c;
		for (c = (const unsigned char *)st->params[i]; *c != '\0'; c++) {
			if (*c < 0x20 || *c == 0x7f)
				return answer_error(conn, st, 400, "path", NULL,
						    "a path segment has a control character");
		}
	}
	st->max = st->route != NULL ? (st->route->max_body != 0 ? st->route->max_body : h->opts.max_body) : 0;
	cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
	if (cl != NULL) {
		char *end;
		errno = 0;
		len = strtoull(cl, &end, 10);
		if (cl[0] < '0' || cl[0] > '9' || *end != '\0' || errno != 0)
			return answer_error(conn, st, 400, "content-length", NULL, "malformed Content-Length");
		if (len > st->max)
			return answer_error(conn, st, 413, "body-too-large", NULL,
					    "the body of %llu bytes is larger than the %zu this request allows", len,
					    st->max);
	}
	/* Which device the certificate must be for is in the body; that there is one at all is known now. */
	if (st->route != NULL && (st->route->flags & VROUTE_DEVICE) != 0 && h->opts.device_auth != NULL) {
		unsigned n;

		if (peer_chain(conn, &n) == NULL)
			return answer_error(conn, st, 401, "client-certificate", NULL, "%s", NO_CLIENT_CERT);
	}
	/* Known size: one allocation of exactly what will come. */
	if (len > 0 && (st->body = malloc((size_t)len + 1)) == NULL)
		return answer_error(conn, st, 503, "memory", NULL, "out of memory");
	st->cap = len > 0 ? (size_t)len + 1 : 0;
	return MHD_YES;
}

/* Appends n bytes of body; 1 when the cap would be passed. */
static int collect(struct reqstate *st, const char *data, size_t n)
{
	if (n > st->max - st->len)
		return 1;
	if (st->cap - st->len < n + 1) {
		size_t want = st->cap < 1024 ? 1024 : st->cap;
		char *nb;
		while (want - st->len < n + 1)
			want *= 2;
		if (want > st->max + 1)
			want = st->max + 1;
		if ((nb = realloc(st->body, want)) == NULL)
			return -1;
		st->body = nb;
		st->cap = want;
	}
	memcpy(st->body + st->len, data, n);
	st->len += n;
	st->body[st->len] = '\0';
	return 0;
}

/*
 * A device route's TLS client certificate: 0 when device_auth accepts it for the body's
 * device_id, else the status to answer with why. A connection remembers the leaf and device
 * device_auth accepted, so it verifies the chain once (http.h).
 */
static int device_check(struct vhttp *h, struct MHD_Connection *conn, const json_t *body, char *why, size_t cap)
{
	const union MHD_ConnectionInfo *sc = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
	struct connstate *cs = sc != NULL ? sc->socket_context : NULL;
	const char *id = json_string_value(json_object_get(body, "device_id"));
	const gnutls_datum_t *peers;
	const uint8_t *certs[VHTTP_MAX_CHAIN];
	size_t lens[VHTTP_MAX_CHAIN], i;
	uint8_t leaf[32];
	char key[VHTTP_KEY_ID] = "";
	unsigned n = 0;
	int status, known;

	if (id == NULL || id[0] == '\0' || strlen(id) >= sizeof(cs->device_id)) {
		snprintf(why, cap, "member device_id must be a non-empty string");
		return 400;
	}
	if ((peers = peer_chain(conn, &n)) == NULL) {
		snprintf(why, cap, "%s", NO_CLIENT_CERT);
		return 401;
	}
	if (pcrgate_digest(PCRGATE_ALG_SHA256, peers[0].data, peers[0].size, leaf) != 0) {
		snprintf(why, cap, "cannot hash the client certificate");
		return 500;
	}
	known = cs != NULL && cs->accepted && pcrgate_ct_equal(cs->leaf, leaf, sizeof(leaf)) &&
		strcmp(cs->device_id, id) == 0;
	for (i = 0; i < n && i < VHTTP_MAX_CHAIN; i++) {
		certs[i] = peers[i].data;
		lens[i] = peers[i].size;
	}
	why[0] = '\0';
	status = h->opts.device_auth(h->opts.app, id, certs, lens, i, known ? cs->key : NULL, key, why, cap);
	if (cs != NULL) {
		/* A refusal ends the connection's standing: the next request is checked in full. */
		cs->accepted = status == 0 && key[0] != '\0';
		memcpy(cs->leaf, leaf, sizeof(leaf));
		snprintf(cs->device_id, sizeof(cs->device_id), "%s", id);
		memcpy(cs->key, key, sizeof(key));
	}
	return status;
}

/* MHD_OPTION_NOTIFY_CONNECTION: a connection's state lives as long as the connection. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
			  enum MHD_ConnectionNotificationCode toe)
{
	(void)cls;
	(void)conn;
	if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
		*socket_context = calloc(1, sizeof(struct connstate));
	} else if (toe == MHD_CONNECTION_NOTIFY_CLOSED) {
		free(*socket_context);
		*socket_context = NULL;
	}
}

/* Answers what a handler (or a later answer) gave: rc as a handler's return. */
static enum MHD_Result handled(struct MHD_Connection *conn, struct reqstate *st, int rc, struct vresp *resp)
{
	if (rc < 0 && resp->status < 400) {
		pg_err("%s %s: handler failed: %s", st->route->method, st->route->pattern, pcrgate_strerror(rc));
		vresp_error(resp, 500, NULL, "internal error");
	} else if (rc == VHANDLER_LATER ||
		   (resp->status == 0 && resp->json == NULL && resp->body == NULL && !resp->has_file)) {
		pg_err("%s %s: handler gave no answer", st->route->method, st->route->pattern);
		vresp_error(resp, 500, NULL, "internal error");
	} else if (resp->status == 0) {
		resp->status = 200;
	}
	return answer(conn, st, resp, NULL);
}

/* The last call: the whole body is here. */
static enum MHD_Result on_complete(struct MHD_Connection *conn, struct reqstate *st, const char *url,
				   const char *method)
{
	struct vhttp *h = st->h;
	struct vresp resp = {0};
	struct vreq req = {0};
	json_error_t jerr;
	json_t *body_json = NULL;
	size_t i;
	int rc;

	if (st->builtin >= 0) {
		builtin(h, st->builtin, &resp);
		return answer(conn, st, &resp, NULL);
	}
	if ((st->route->flags & VROUTE_JSON) != 0) {
		if (st->len == 0)
			return answer_error(conn, st, 400, "json", NULL, "the request needs a JSON object body");
		body_json = json_loadb(st->body, st->len, JSON_REJECT_DUPLICATES, &jerr);
		if (body_json == NULL)
			return answer_error(conn, st, 400, "json", NULL,
					    "malformed JSON at line %d, column %d (byte %d): %s", jerr.line,
					    jerr.column, jerr.position, jerr.text);
		if (!json_is_object(body_json)) {
			json_decref(body_json);
			return answer_error(conn, st, 400, "json", NULL, "the body must be a JSON object");
		}
	}
	if ((st->route->flags & VROUTE_DEVICE) != 0 && h->opts.device_auth != NULL) {
		char why[MAX_ERROR_TEXT];
		int status = device_check(h, conn, body_json, why, sizeof(why));

		if (status != 0) {
			json_decref(body_json);
			return answer_error(conn, st, status, "client-certificate", NULL, "%s", why);
		}
	}
	req.method = method;
	req.path = url;
	req.route = st->route->pattern;
	for (i = 0; i < st->nparams; i++)
		req.params[i] = st->params[i];
	req.nparams = st->nparams;
	req.body = (const uint8_t *)st->body;
	req.body_len = st->len;
	req.json = body_json;
	req.bearer = bearer_of(conn);
	memcpy(req.actor, st->actor, sizeof(req.actor));
	req.app = h->opts.app;
	req.metrics = h->metrics;
	req.conn = conn;
	req.state = st;
	st->json = body_json;
	rc = st->route->handler(&req, &resp);
	if (st->later != NULL) {
		/* Set aside: whatever the handler returned, the answer is vreq_later's. */
		if (rc != VHANDLER_LATER)
			pg_err("%s %s: handler answered after vreq_later", method, st->route->pattern);
		vresp_clear(&resp);
		return MHD_YES;
	}
	return handled(conn, st, rc, &resp);
}

/* A request set aside by vreq_later is back: its answer. */
static enum MHD_Result on_woken(struct MHD_Connection *conn, struct reqstate *st)
{
	struct vresp resp = {0};
	vanswer fn = st->later;
	enum MHD_Result ok;

	st->later = NULL;
	ok = handled(conn, st, fn(st->later_arg, &resp), &resp);
	atomic_fetch_sub(&st->h->asleep, 1);
	return ok;
}

struct vlater *vreq_later(struct vreq *req, vanswer fn, void *arg)
{
	struct reqstate *st = req->state;

	if (st == NULL || st->later != NULL || fn == NULL)
		return NULL;
	/*
	 * Counted before stopping is read, and a stop sets stopping before it reads the count: either
	 * the stop waits for this request's answer, or this request is answered now.
	 */
	atomic_fetch_add(&st->h->asleep, 1);
	if (atomic_load(&st->h->stopping)) {
		atomic_fetch_sub(&st->h->asleep, 1);
		return NULL;
	}
	st->later = fn;
	st->later_arg = arg;
	MHD_suspend_connection(st->conn);
	return (struct vlater *)st;
}

void vhttp_wake(struct vlater *later)
{
	/* Nothing of the request may be touched after this: it may be answered and gone at once. */
	MHD_resume_connection(((struct reqstate *)later)->conn);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
				  const char *version, const char *upload_data, size_t *upload_data_size,
				  void **con_cls)
{
	struct vhttp *h = cls;
	struct reqstate *st = *con_cls;
	int c;

	(void)version;
	if (st == NULL) {
		if ((st = calloc(1, sizeof(*st))) == NULL)
			return MHD_NO;
		st->h = h;
		st->conn = conn;
		clock_gettime(CLOCK_MONOTONIC, &st->start);
		*con_cls = st;
		atomic_fetch_add(&h->inflight, 1);
		return on_headers(conn, st, url, method);
	}
	if (st->later != NULL)
		return on_woken(conn, st);
	if (st->answered) {
		/* Refused from its headers: the rest of the body is dropped unread. */
		*upload_data_size = 0;
		return MHD_YES;
	}
	if (*upload_data_size != 0) {
		size_t n = *upload_data_size;
		*upload_data_size = 0;
		if (st->too_big) {
			st->discarded += n;
			return st->discarded > DISCARD_LIMIT ? MHD_NO : MHD_YES;
		}
		if ((c = collect(st, upload_data, n)) != 0) {
			/* Nothing of it is kept: the handler will not run for this request. */
			free(st->body);
			st->body = NULL;
			st->len = st->cap = 0;
			if (c < 0)
				return MHD_NO;
			st->too_big = 1;
		}
		return MHD_YES;
	}
	if (st->too_big)
		return answer_error(conn, st, 413, "body-too-large", NULL,
				    "the body is larger than the %zu bytes this request allows", st->max);
	return on_complete(conn, st, url, method);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct vhttp *h = cls;
	struct reqstate *st = *con_cls;

	(void)conn;
	(void)toe;
	if (st == NULL)
		return;
	if (st->later != NULL) {
		st->later(st->later_arg, NULL);
		atomic_fetch_sub(&h->asleep, 1);
	}
	json_decref(st->json);
	free(st->body);
	free(st);
	*con_cls = NULL;
	atomic_fetch_sub(&h->inflight, 1);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];
	size_t n;

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	pg_debug("libmicrohttpd: %s", msg);
}

/* ---- start and stop ---- */

int vhttp_listen(const char *address, uint16_t port, int *out, pcrgate_errinfo *ei)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t sl;
	int fd = -1, one = 1, r;

	if (address == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no listen address");
	if (inet_pton(AF_INET, address, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons(port);
		sl = sizeof(*s4);
	} else if (inet_pton(AF_INET6, address, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons(port);
		sl = sizeof(*s6);
	} else {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "listen address \"%s\" is not a numeric IPv4 or IPv6 address", address);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0)) < 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "socket: %s", strerror(errno));
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss.ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&ss, sl) != 0 || listen(fd, 256) != 0) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot listen on %s port %u: %s",
					address, port, strerror(errno));
		goto fail;
	}
	*out = fd;
	return PCRGATE_OK;
fail:
	if (fd >= 0)
		close(fd);
	return r;
}

/* The address (numeric) and port h->listen_fd is bound to; the port into h->port. */
static int bound_address(struct vhttp *h, char addr[INET6_ADDRSTRLEN], pcrgate_errinfo *ei)
{
	struct sockaddr_storage ss = {0};
	socklen_t sl = sizeof(ss);

	addr[0] = '\0';
	if (getsockname(h->listen_fd, (struct sockaddr *)&ss, &sl) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "getsockname: %s", strerror(errno));
	if (ss.ss_family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
		h->port = ntohs(s4->sin_port);
		inet_ntop(AF_INET, &s4->sin_addr, addr, INET6_ADDRSTRLEN);
	} else if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
		h->port = ntohs(s6->sin6_port);
		inet_ntop(AF_INET6, &s6->sin6_addr, addr, INET6_ADDRSTRLEN);
	} else {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "the listening socket is not an IPv4 or IPv6 socket");
	}
	return PCRGATE_OK;
}

int vhttp_start(const struct vhttp_opts *opts, vhttp **out, pcrgate_errinfo *ei)
{
	int r = PCRGATE_ERR_INVALID_ARGUMENT;
	struct vhttp *h = NULL;
	const char *methods[VHTTP_MAX_ROUTES + NBUILTIN], *patterns[VHTTP_MAX_ROUTES + NBUILTIN];
	char addr[INET6_ADDRSTRLEN];
	const char *served;
	struct MHD_OptionItem o[16];
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ITC | MHD_USE_ERROR_LOG |
			 MHD_ALLOW_SUSPEND_RESUME;
	size_t i, n = 0;
	int listen_fd_taken = 0;

	if (opts == NULL || out == NULL || (opts->nroutes > 0 && opts->routes == NULL)) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no server options");
		goto fail;
	}
	if (opts->nroutes > VHTTP_MAX_ROUTES) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "more than %d routes",
					VHTTP_MAX_ROUTES);
		goto fail;
	}
	for (i = 0; i < opts->nroutes; i++) {
		const struct vroute *rt = &opts->routes[i];
		if (rt->method == NULL || rt->pattern == NULL || rt->pattern[0] != '/' || rt->handler == NULL) {
			r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "route %zu is incomplete", i);
			goto fail;
		}
		methods[i] = rt->method;
		patterns[i] = rt->pattern;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	h->listen_fd = -1;
	h->opts = *opts;
	if (h->opts.address == NULL)
		h->opts.address = "127.0.0.1";
	if (h->opts.threads == 0)
		h->opts.threads = 4;
	if (h->opts.max_connections == 0)
		h->opts.max_connections = 1024;
	if (h->opts.conn_timeout == 0)
		h->opts.conn_timeout = 30;
	if (h->opts.max_body == 0)
		h->opts.max_body = VHTTP_DEFAULT_MAX_BODY;
	h->opts.tls_cert_pem = h->opts.tls_key_pem = h->opts.client_ca_pem = NULL;
	/* The address served: the socket's when one is handed over; checked before anything binds. */
	served = h->opts.address;
	if (opts->use_listen_fd) {
		h->listen_fd = opts->listen_fd;
		listen_fd_taken = 1;
		if ((r = bound_address(h, addr, ei)) < 0)
			goto fail;
		served = addr;
	}
	if (opts->plain_http && !vhttp_is_loopback(served)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					"plain HTTP is only served on a loopback address, not on %s; "
					"configure tls_cert and tls_key",
					served);
		goto fail;
	}
	if (!opts->plain_http) {
		if (opts->tls_cert_pem == NULL || opts->tls_key_pem == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						"HTTPS needs a certificate and a private key");
			goto fail;
		}
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_UNSUPPORTED, PCRGATE_NO_OFFSET,
						"this libmicrohttpd has no TLS support");
			goto fail;
		}
		h->key_len = strlen(opts->tls_key_pem);
		if ((h->cert = strdup(opts->tls_cert_pem)) == NULL || (h->key = strdup(opts->tls_key_pem)) == NULL ||
		    (opts->client_ca_pem != NULL && (h->client_ca = strdup(opts->client_ca_pem)) == NULL)) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		flags |= MHD_USE_TLS;
	}
	for (i = 0; i < NBUILTIN; i++) {
		methods[opts->nroutes + i] = "GET";
		patterns[opts->nroutes + i] = builtin_pattern[i];
	}
	if ((r = metrics_new(methods, patterns, opts->nroutes + NBUILTIN, &h->metrics, ei)) < 0)
		goto fail;
	if (!opts->use_listen_fd && ((r = vhttp_listen(h->opts.address, opts->port, &h->listen_fd, ei)) < 0 ||
				     (r = bound_address(h, addr, ei)) < 0))
		goto fail;
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_LISTEN_SOCKET, h->listen_fd, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE, h->opts.threads, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT, h->opts.max_connections, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT, h->opts.conn_timeout, NULL};
	if (h->opts.per_ip_limit != 0)
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, h->opts.per_ip_limit, NULL};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, h};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)on_connection, h};
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL};
	if (h->cert != NULL) {
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->cert};
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->key};
		o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0,
						 (void *)"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2"};
		/* With a trust list, libmicrohttpd asks clients for a certificate (GNUTLS_CERT_REQUEST). */
		if (h->client_ca != NULL)
			o[n++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_TRUST, 0, h->client_ca};
	}
	o[n++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	h->mhd = MHD_start_daemon(flags, 0, NULL, NULL, on_request, h, MHD_OPTION_ARRAY, o, MHD_OPTION_END);
	if (h->mhd == NULL) {
		r = pcrgate_errinfo_set(ei, h->cert != NULL ? PCRGATE_ERR_CONFIG : PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
					"the HTTP server did not start%s",
					h->cert != NULL ? " (is the TLS certificate or key unusable or mismatched?)"
							: "");
		goto fail;
	}
	pg_info("serving %s on %s port %u with %u threads", h->cert != NULL ? "HTTPS" : "plain HTTP",
		h->opts.address, h->port, h->opts.threads);
	*out = h;
	h = NULL;
	r = PCRGATE_OK;
fail:
	if (opts != NULL && opts->use_listen_fd && !listen_fd_taken && opts->listen_fd >= 0)
		close(opts->listen_fd);
	vhttp_stop(&h);
	return r;
}

uint16_t vhttp_port(const vhttp *h)
{
	return h != NULL ? h->port : 0;
}

/* Stops accepting new connections at once; requests already being handled still complete. */
static void vhttp_quiesce(vhttp *h)
{
	if (h == NULL || h->mhd == NULL || atomic_exchange(&h->stopping, 1))
		return;
	/* libmicrohttpd hands the listening socket back; closing it refuses new connections. */
	if (MHD_quiesce_daemon(h->mhd) == h->listen_fd && h->listen_fd >= 0) {
		close(h->listen_fd);
		h->listen_fd = -1;
	}
}

void vhttp_stop(vhttp **hp)
{
	struct vhttp *h;
	int waited;

	if (hp == NULL || (h = *hp) == NULL)
		return;
	if (h->mhd != NULL) {
		vhttp_quiesce(h);
		/*
		 * Past the drain's time, requests set aside by vreq_later are still waited for:
		 * libmicrohttpd cannot stop with a connection set aside, and their work (the store's
		 * writer, which ends each attempt) ends, as a handler in the store would be waited for.
		 */
		for (waited = 0; atomic_load(&h->inflight) > 0; waited++) {
			if (waited == DRAIN_SECONDS * 100)
				pg_warn("stopping with %d requests still in flight, %d of them still being answered",
					atomic_load(&h->inflight), atomic_load(&h->asleep));
			if (waited >= DRAIN_SECONDS * 100 && atomic_load(&h->asleep) == 0)
				break;
			usleep(10000);
		}
		MHD_stop_daemon(h->mhd);
	}
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	metrics_free(&h->metrics);
	if (h->key != NULL)
		explicit_bzero(h->key, h->key_len);
	free(h->key);
	free(h->cert);
	free(h->client_ca);
	free(h);
	*hp = NULL;
}
