/*
 * Tests of the verifier's HTTP framework (verifier/http.c), metrics and config: a server on
 * 127.0.0.1 with a test route table, driven with libcurl and, where a client must misbehave
 * (oversize and chunked bodies), with a raw socket.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "pcrgate/common.h"
#include "verifier/http.h"
#include "verifier/metrics.h"
#include "verifier/vconfig.h"

#define ADMIN_TOKEN "s3cret-admin-token"

static atomic_int raw_calls;
static atomic_int slow_entered;
static atomic_int unhealthy;

static int h_thing(struct vreq *req, struct vresp *resp)
{
	json_t *j = json_pack("{s:s, s:s}", "id", req->params[0], "route", req->route);

	if (req->nparams == 2)
		json_object_set_new(j, "part", json_string(req->params[1]));
	return vresp_json(resp, 200, j);
}

static int h_echo(struct vreq *req, struct vresp *resp)
{
	const char *q = vreq_query(req, "q");
	json_t *j = json_pack("{s:O}", "got", req->json);

	if (q != NULL)
		json_object_set_new(j, "q", json_string(q));
	vresp_reason(resp, "echoed");
	return vresp_json(resp, 201, j);
}

static int h_raw(struct vreq *req, struct vresp *resp)
{
	char *b = malloc(32);

	atomic_fetch_add(&raw_calls, 1);
	snprintf(b, 32, "len=%zu", req->body_len);
	return vresp_raw(resp, 200, "text/plain", b, strlen(b));
}

static int h_admin(struct vreq *req, struct vresp *resp)
{
	return vresp_json(resp, 200, json_pack("{s:s}", "bearer", req->bearer));
}

static int h_slow(struct vreq *req, struct vresp *resp)
{
	(void)req;
	atomic_store(&slow_entered, 1);
	usleep(400 * 1000);
	return vresp_json(resp, 200, json_pack("{s:s}", "slow", "done"));
}

static int h_fail(struct vreq *req, struct vresp *resp)
{
	(void)req;
	(void)resp;
	return PCRGATE_ERR_IO;
}

static int h_refuse(struct vreq *req, struct vresp *resp)
{
	metrics_verdict(req->metrics, "pass");
	metrics_verdict(req->metrics, "pcr-not-quoted");
	metrics_verdict(req->metrics, "pcr-not-quoted");
	return vresp_error(resp, 422, "nonce", "nonce %s is unknown", "abc");
}

/*
 * POST /v1/later {"x": S, "ms": N}: answered later, from another thread after N ms (N 0: woken
 * before the handler returns). later_freed counts answers that only freed their argument.
 */
static atomic_int later_started, later_answered, later_freed;

struct later_job {
	const char *x; /* in the request's body, which must live until the answer */
	int ms;
	struct vlater *later;
};

static atomic_int later_release; /* a job with ms -1 waits for it */

static void *later_waker(void *p)
{
	struct later_job *j = p;

	if (j->ms < 0)
		while (!atomic_load(&later_release))
			usleep(1000);
	else
		usleep((useconds_t)j->ms * 1000);
	vhttp_wake(j->later);
	return NULL;
}

static int later_answer(void *arg, struct vresp *resp)
{
	struct later_job *j = arg;
	int r = 0;

	if (resp == NULL)
		atomic_fetch_add(&later_freed, 1);
	else {
		atomic_fetch_add(&later_answered, 1);
		r = vresp_json(resp, 200, json_pack("{s:s}", "later", j->x));
	}
	free(j);
	return r;
}

/*
 * On the server's threads: no cmocka assertion here (a failing one would jump across threads);
 * what goes wrong is answered 500 and counted in later_wrong, which the test checks.
 */
static atomic_int later_wrong;

static int h_later(struct vreq *req, struct vresp *resp)
{
	struct later_job *j = calloc(1, sizeof(*j));
	pthread_t t;

	if (j == NULL)
		return PCRGATE_ERR_NOMEM;
	j->x = json_string_value(json_object_get(req->json, "x"));
	j->ms = (int)json_integer_value(json_object_get(req->json, "ms"));
	if (j->x == NULL) {
		free(j);
		return vresp_error(resp, 400, "request", "no x");
	}
	if ((j->later = vreq_later(req, later_answer, j)) == NULL) {
		atomic_fetch_add(&later_wrong, 1);
		free(j);
		return vresp_error(resp, 500, NULL, "vreq_later refused");
	}
	/* Once per request. */
	if (vreq_later(req, later_answer, j) != NULL)
		atomic_fetch_add(&later_wrong, 1);
	atomic_fetch_add(&later_started, 1);
	if (j->ms == 0) {
		vhttp_wake(j->later);
		/* What a handler returns after vreq_later is not its answer: later_answer's is. */
		return vresp_error(resp, 418, NULL, "not this");
	}
	if (pthread_create(&t, NULL, later_waker, j) != 0) {
		atomic_fetch_add(&later_wrong, 1);
		vhttp_wake(j->later);
		return VHANDLER_LATER;
	}
	pthread_detach(t);
	return VHANDLER_LATER;
}

/* Says it will answer later, but never asked to. */
static int h_later_wrong(struct vreq *req, struct vresp *resp)
{
	(void)req;
	(void)resp;
	return VHANDLER_LATER;
}

static const struct vroute routes[] = {
	{"POST", "/v1/later", h_later, VROUTE_JSON, 0},
	{"GET", "/v1/later-wrong", h_later_wrong, 0, 0},
	{"GET", "/v1/things/{}", h_thing, 0, 0},
	{"GET", "/v1/things/{}/parts/{}", h_thing, 0, 0},
	{"POST", "/v1/echo", h_echo, VROUTE_JSON, 256},
	{"POST", "/v1/raw", h_raw, 0, 64},
	{"PUT", "/v1/raw", h_raw, 0, 64},
	{"GET", "/v1/admin/x", h_admin, VROUTE_ADMIN, 0},
	{"POST", "/v1/admin/x", h_admin, VROUTE_ADMIN | VROUTE_JSON, 0},
	{"GET", "/v1/slow", h_slow, 0, 0},
	{"GET", "/v1/fail", h_fail, 0, 0},
	{"POST", "/v1/refuse", h_refuse, 0, 0},
};

static int admin_auth(void *app, const char *token, char *actor, size_t cap)
{
	(void)actor;
	(void)cap;
	assert_ptr_equal(app, &raw_calls);
	return strcmp(token, ADMIN_TOKEN) == 0 ? 0 : -1;
}

static int healthy(void *app)
{
	(void)app;
	return atomic_load(&unhealthy) ? -1 : 0;
}

static struct vhttp_opts base_opts(void)
{
	struct vhttp_opts o = {0};

	o.address = "127.0.0.1";
	o.plain_http = 1;
	o.threads = 2;
	o.routes = routes;
	o.nroutes = sizeof(routes) / sizeof(routes[0]);
	o.app = &raw_calls;
	o.admin_auth = admin_auth;
	o.healthy = healthy;
	return o;
}

static vhttp *start_plain(void)
{
	struct vhttp_opts o = base_opts();
	pcrgate_errinfo ei = {0};
	vhttp *h = NULL;

	assert_int_equal(vhttp_start(&o, &h, &ei), 0);
	assert_true(vhttp_port(h) != 0);
	return h;
}

/* ---- a small libcurl client ---- */

struct buf {
	char *p;
	size_t n;
};

static size_t on_data(char *d, size_t sz, size_t nm, void *arg)
{
	struct buf *b = arg;
	char *np = realloc(b->p, b->n + sz * nm + 1);

	assert_non_null(np);
	b->p = np;
	memcpy(b->p + b->n, d, sz * nm);
	b->n += sz * nm;
	b->p[b->n] = '\0';
	return sz * nm;
}

struct reply {
	long status;
	struct buf body;
	struct buf headers;
};

static void reply_free(struct reply *r)
{
	free(r->body.p);
	free(r->headers.p);
	memset(r, 0, sizeof(*r));
}

/* One request on curl handle c (reused for keep-alive when given) to http(s)://127.0.0.1:port/path. */
static struct reply request(CURL *c, const char *scheme, uint16_t port, const char *method, const char *path,
			    const char *body, const char *auth)
{
	struct reply r = {0};
	char url[512], hdr[256];
	struct curl_slist *hl = NULL;
	int own = c == NULL;

	if (own)
		c = curl_easy_init();
	assert_non_null(c);
	snprintf(url, sizeof(url), "%s://127.0.0.1:%u%s", scheme, port, path);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &r.body);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &r.headers);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 10L);
	if (body != NULL) {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	} else {
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, NULL);
		curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
	}
	hl = curl_slist_append(hl, "Expect:");
	if (auth != NULL) {
		snprintf(hdr, sizeof(hdr), "Authorization: %s", auth);
		hl = curl_slist_append(hl, hdr);
	}
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
	assert_int_equal(curl_easy_perform(c), CURLE_OK);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r.status);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(hl);
	if (own)
		curl_easy_cleanup(c);
	return r;
}

static json_t *reply_json(const struct reply *r)
{
	json_t *j = json_loads(r->body.p != NULL ? r->body.p : "", 0, NULL);

	assert_non_null(j);
	return j;
}

/*
 * One request on the kept-open handle c: it must be answered with status and have needle in
 * its headers and body; returns the connections curl opened for it (0 when it reused one).
 */
static long request_reusing(CURL *c, const char *scheme, uint16_t port, const char *method, const char *path,
			    const char *body, long status, const char *needle)
{
	struct reply r = request(c, scheme, port, method, path, body, NULL);
	long connects = -1;

	assert_int_equal(r.status, status);
	if ((r.headers.p == NULL || strstr(r.headers.p, needle) == NULL) && (r.body.p == NULL || strstr(r.body.p, needle) == NULL))
		fail_msg("%s %s: no \"%s\" in the answer: %s", method, path, needle, r.body.p);
	curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
	reply_free(&r);
	return connects;
}

/* What an answer must carry besides its status; NULL members are not checked. */
struct want {
	const char *header;    /* a substring of the response headers */
	const char *body;      /* the whole body, exactly */
	const char *check;     /* the JSON body's "check" member, exactly */
	const char *error;     /* the JSON body's "error" member, exactly */
	const char *error_has; /* a substring of the JSON body's "error" member */
};

/* A string member of a JSON reply, or fails naming it. */
static const char *reply_member(const struct reply *r, json_t *j, const char *name)
{
	const char *v = json_string_value(json_object_get(j, name));

	if (v == NULL)
		fail_msg("no string \"%s\" in the reply: %s", name, r->body.p);
	return v;
}

/* One request on a fresh connection: it must be answered with status, carrying want when not NULL. */
static void expect_status(uint16_t port, const char *method, const char *path, const char *body, const char *auth,
			  long status, const struct want *want)
{
	struct reply r = request(NULL, "http", port, method, path, body, auth);
	json_t *j;

	if (r.status != status)
		fail_msg("%s %s: HTTP %ld, expected %ld: %s", method, path, r.status, status,
			 r.body.p != NULL ? r.body.p : "");
	if (want != NULL && want->header != NULL && (r.headers.p == NULL || strstr(r.headers.p, want->header) == NULL))
		fail_msg("%s %s: no \"%s\" in the headers: %s", method, path, want->header, r.headers.p);
	if (want != NULL && want->body != NULL) {
		assert_non_null(r.body.p);
		assert_string_equal(r.body.p, want->body);
	}
	if (want != NULL && (want->check != NULL || want->error != NULL || want->error_has != NULL)) {
		j = reply_json(&r);
		if (want->check != NULL)
			assert_string_equal(reply_member(&r, j, "check"), want->check);
		if (want->error != NULL)
			assert_string_equal(reply_member(&r, j, "error"), want->error);
		if (want->error_has != NULL && strstr(reply_member(&r, j, "error"), want->error_has) == NULL)
			fail_msg("%s %s: \"%s\" not in the error: %s", method, path, want->error_has, r.body.p);
		json_decref(j);
	}
	reply_free(&r);
}

#define RAW_CAP 8191

/* How a raw exchange ended: a server that stalls must not pass for one that hung up. */
enum raw_end {
	RAW_CLOSED,  /* the server closed or reset the connection */
	RAW_TIMEOUT, /* nothing came for 20 s while the connection stayed open */
	RAW_FULL,    /* RAW_CAP bytes came back before either */
};

/*
 * Sends raw bytes on a fresh connection, then reads until close, timeout or RAW_CAP bytes;
 * returns what came back, and in *end how the reading ended.
 */
static char *raw_exchange(uint16_t port, const char *const *parts, size_t nparts, unsigned pause_ms,
			  enum raw_end *end)
{
	struct sockaddr_in sa = {0};
	/* Below the server's 30 s idle timeout, so a server that stalls is seen as such. */
	struct timeval tv = {20, 0};
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	char *out = calloc(1, RAW_CAP + 1);
	size_t i, n = 0;
	ssize_t k;

	assert_true(fd >= 0);
	assert_non_null(out);
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	/* A server that stops reading must not block the sends forever either. */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)), 0);
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)), 0);
	for (i = 0; i < nparts; i++) {
		/* The server may already have answered and closed: later sends may fail, which is fine. */
		if (send(fd, parts[i], strlen(parts[i]), MSG_NOSIGNAL) < 0)
			break;
		if (pause_ms != 0)
			usleep(pause_ms * 1000);
	}
	for (;;) {
		if (n == RAW_CAP) {
			*end = RAW_FULL;
			break;
		}
		k = recv(fd, out + n, RAW_CAP - n, 0);
		if (k > 0) {
			n += (size_t)k;
		} else if (k == 0 || errno == ECONNRESET) {
			*end = RAW_CLOSED;
			break;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			*end = RAW_TIMEOUT;
			break;
		} else if (errno != EINTR) {
			fail_msg("recv from the server: %s", strerror(errno));
		}
	}
	close(fd);
	return out;
}

/* ---- tests ---- */

static void test_routing(void **state)
{
	vhttp *h = start_plain();
	uint16_t port = vhttp_port(h);
	struct reply r;
	json_t *j;

	(void)state;
	r = request(NULL, "http", port, "GET", "/v1/things/a%20b", NULL, NULL);
	assert_int_equal(r.status, 200);
	j = reply_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "a b");
	assert_string_equal(json_string_value(json_object_get(j, "route")), "/v1/things/{}");
	assert_non_null(strstr(r.headers.p, "Content-Type: application/json"));
	assert_non_null(strstr(r.headers.p, "Cache-Control: no-store"));
	assert_non_null(strstr(r.headers.p, "X-Content-Type-Options: nosniff"));
	json_decref(j);
	reply_free(&r);

	r = request(NULL, "http", port, "GET", "/v1/things/7/parts/x9", NULL, NULL);
	assert_int_equal(r.status, 200);
	j = reply_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "id")), "7");
	assert_string_equal(json_string_value(json_object_get(j, "part")), "x9");
	json_decref(j);
	reply_free(&r);

	expect_status(port, "GET", "/v1/things", NULL, NULL, 404, &(struct want){.check = "not-found"});
	expect_status(port, "GET", "/v1/things/a/b", NULL, NULL, 404, NULL);
	expect_status(port, "GET", "/v1/things//parts/x", NULL, NULL, 404, NULL);

	expect_status(port, "DELETE", "/v1/things/1", NULL, NULL, 405, &(struct want){.header = "Allow: GET"});
	expect_status(port, "GET", "/v1/raw", NULL, NULL, 405, &(struct want){.header = "Allow: POST, PUT"});

	expect_status(port, "GET", "/v1/fail", NULL, NULL, 500, &(struct want){.error = "internal error"});

	expect_status(port, "POST", "/v1/refuse", "", NULL, 422,
		      &(struct want){.error = "nonce abc is unknown", .check = "nonce"});
	vhttp_stop(&h);
	assert_null(h);
}

static void test_json_bodies(void **state)
{
	vhttp *h = start_plain();
	uint16_t port = vhttp_port(h);
	struct reply r;
	json_t *j;

	(void)state;
	r = request(NULL, "http", port, "POST", "/v1/echo?q=hello%21", "{\"a\": [1, 2]}", NULL);
	assert_int_equal(r.status, 201);
	j = reply_json(&r);
	assert_int_equal(json_integer_value(json_array_get(json_object_get(json_object_get(j, "got"), "a"), 1)), 2);
	assert_string_equal(json_string_value(json_object_get(j, "q")), "hello!");
	json_decref(j);
	reply_free(&r);

	expect_status(port, "POST", "/v1/echo", "{\"a\": [1, 2}", NULL, 400,
		      &(struct want){.check = "json", .error_has = "line 1, column 12"});
	expect_status(port, "POST", "/v1/echo", "[1]", NULL, 400, &(struct want){.error_has = "JSON object"});
	expect_status(port, "POST", "/v1/echo", "", NULL, 400, NULL);
	expect_status(port, "POST", "/v1/echo", "{\"a\":1,\"a\":2}", NULL, 400, NULL);
	vhttp_stop(&h);
}

static void test_body_limits(void **state)
{
	vhttp *h = start_plain();
	uint16_t port = vhttp_port(h);
	char big[300], *out;
	enum raw_end end;
	const char *cl_parts[] = {"POST /v1/raw HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n", "0123456789"};
	const char *chunk_parts[] = {("PUT /v1/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
				     "Connection: close\r\n\r\n"),
				     "28\r\n0123456789012345678901234567890123456789\r\n",
				     "28\r\n0123456789012345678901234567890123456789\r\n",
				     "28\r\n0123456789012345678901234567890123456789\r\n", "0\r\n\r\n"};
	const char *small_chunks[] = {("PUT /v1/raw HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
				      "Connection: close\r\n\r\n"),
				      "14\r\n01234567890123456789\r\n", "0\r\n\r\n"};

	(void)state;
	atomic_store(&raw_calls, 0);
	/* At the cap it passes, one byte more and the handler never runs. */
	memset(big, 'x', 64);
	big[64] = '\0';
	expect_status(port, "POST", "/v1/raw", big, NULL, 200, &(struct want){.body = "len=64"});
	assert_int_equal(atomic_load(&raw_calls), 1);
	big[64] = 'x';
	big[65] = '\0';
	expect_status(port, "POST", "/v1/raw", big, NULL, 413, NULL);
	/* A JSON route refuses by size before it parses anything. */
	memset(big, ' ', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	big[0] = '{';
	big[sizeof(big) - 2] = '}';
	expect_status(port, "POST", "/v1/echo", big, NULL, 413, NULL);

	/* Content-Length announces too much: 413 at once, without waiting for the body. */
	out = raw_exchange(port, cl_parts, 2, 0, &end);
	assert_non_null(strstr(out, "HTTP/1.1 413"));
	assert_non_null(strstr(out, "body-too-large"));
	assert_int_equal(end, RAW_CLOSED);
	free(out);
	/* A chunked body that grows past the cap. */
	out = raw_exchange(port, chunk_parts, 5, 50, &end);
	assert_non_null(strstr(out, "HTTP/1.1 413"));
	assert_int_equal(end, RAW_CLOSED);
	free(out);
	assert_int_equal(atomic_load(&raw_calls), 1);
	/* One that never ends is cut off once it is far past the cap. */
	{
		static char chunk[8208];
		const char *endless[40];
		size_t i;
		memcpy(chunk, "2000\r\n", 6);
		memset(chunk + 6, 'x', 8192);
		memcpy(chunk + 6 + 8192, "\r\n", 3);
		endless[0] = chunk_parts[0];
		for (i = 1; i < 40; i++)
			endless[i] = chunk;
		out = raw_exchange(port, endless, 40, 0, &end);
		assert_null(strstr(out, "HTTP/1.1 200"));
		/* Cut off: closed or refused with 413, not left hanging until the client gives up. */
		if (end == RAW_TIMEOUT || (end != RAW_CLOSED && strstr(out, "HTTP/1.1 413") == NULL))
			fail_msg("an endless chunked body was not cut off (%s): %s",
				 end == RAW_TIMEOUT ? "the server stalled" : "no 413", out);
		free(out);
	}
	assert_int_equal(atomic_load(&raw_calls), 1);
	/* A small chunked body is collected whole. */
	out = raw_exchange(port, small_chunks, 3, 20, &end);
	assert_non_null(strstr(out, "HTTP/1.1 200"));
	assert_non_null(strstr(out, "len=20"));
	assert_int_equal(end, RAW_CLOSED);
	free(out);
	assert_int_equal(atomic_load(&raw_calls), 2);
	vhttp_stop(&h);
}

static void test_admin(void **state)
{
	vhttp *h = start_plain();
	uint16_t port = vhttp_port(h);
	struct reply r;
	json_t *j;

	(void)state;
	expect_status(port, "GET", "/v1/admin/x", NULL, NULL, 401, &(struct want){.header = "WWW-Authenticate: Bearer"});
	expect_status(port, "GET", "/v1/admin/x", NULL, "Bearer wrong", 401, NULL);
	expect_status(port, "GET", "/v1/admin/x", NULL, "Basic " ADMIN_TOKEN, 401, NULL);
	/* The token is checked before the body is looked at. */
	expect_status(port, "POST", "/v1/admin/x", "{not json", NULL, 401, NULL);
	r = request(NULL, "http", port, "GET", "/v1/admin/x", NULL, "Bearer " ADMIN_TOKEN);
	assert_int_equal(r.status, 200);
	j = reply_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "bearer")), ADMIN_TOKEN);
	json_decref(j);
	reply_free(&r);
	vhttp_stop(&h);
}

static void test_health_and_metrics(void **state)
{
	vhttp *h = start_plain();
	uint16_t port = vhttp_port(h);
	struct reply r;
	json_t *j;

	(void)state;
	r = request(NULL, "http", port, "GET", "/healthz", NULL, NULL);
	assert_int_equal(r.status, 200);
	j = reply_json(&r);
	assert_string_equal(json_string_value(json_object_get(j, "status")), "ok");
	json_decref(j);
	reply_free(&r);
	atomic_store(&unhealthy, 1);
	expect_status(port, "GET", "/healthz", NULL, NULL, 503, NULL);
	atomic_store(&unhealthy, 0);
	expect_status(port, "GET", "/v1/things/1", NULL, NULL, 200, NULL);
	expect_status(port, "GET", "/nowhere", NULL, NULL, 404, NULL);
	expect_status(port, "POST", "/v1/refuse", "", NULL, 422, NULL);
	expect_status(port, "POST", "/metrics", "", NULL, 405, NULL);

	r = request(NULL, "http", port, "GET", "/metrics", NULL, NULL);
	assert_int_equal(r.status, 200);
	assert_non_null(strstr(r.headers.p, "Content-Type: text/plain; version=0.0.4"));
	{
		static const char *const want[] = {
			"# TYPE pcrgate_verifier_requests_total counter\n",
			"pcrgate_verifier_requests_total{route=\"/v1/things/{}\",method=\"GET\",status=\"200\"} 1\n",
			"pcrgate_verifier_requests_total{route=\"/healthz\",method=\"GET\",status=\"503\"} 1\n",
			"pcrgate_verifier_requests_total{route=\"(none)\",method=\"\",status=\"404\"} 1\n",
			"pcrgate_verifier_responses_by_reason_total{route=\"/v1/refuse\",method=\"POST\","
			"reason=\"nonce\"} 1\n",
			"pcrgate_verifier_verdicts_total{verdict=\"pass\",reason=\"\"} 1\n",
			"pcrgate_verifier_verdicts_total{verdict=\"fail\",reason=\"pcr-not-quoted\"} 2\n",
			"pcrgate_verifier_request_duration_seconds_bucket{route=\"/v1/things/{}\",method=\"GET\","
			"le=\"+Inf\"} 1\n",
			"pcrgate_verifier_request_duration_seconds_count{route=\"/v1/things/{}\",method=\"GET\"} 1\n",
		};
		size_t i;
		for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
			if (strstr(r.body.p, want[i]) == NULL)
				fail_msg("/metrics lacks %s", want[i]);
		}
	}
	reply_free(&r);
	vhttp_stop(&h);
}

static void test_keep_alive(void **state)
{
	vhttp *h = start_plain();
	uint16_t port = vhttp_port(h);
	CURL *c = curl_easy_init();
	long connects, total = 0;
	int i;

	(void)state;
	for (i = 0; i < 200; i++) {
		struct reply r = request(c, "http", port, i % 2 ? "POST" : "GET", i % 2 ? "/v1/echo" : "/v1/things/k",
					 i % 2 ? "{\"i\": 1}" : NULL, NULL);
		assert_int_equal(r.status, i % 2 ? 201 : 200);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		total += connects;
		reply_free(&r);
	}
	/* An error answer does not cost the connection either. */
	{
		struct reply r = request(c, "http", port, "GET", "/missing", NULL, NULL);
		assert_int_equal(r.status, 404);
		curl_easy_getinfo(c, CURLINFO_NUM_CONNECTS, &connects);
		total += connects;
		reply_free(&r);
	}
	assert_int_equal(total, 1);
	curl_easy_cleanup(c);
	vhttp_stop(&h);
}

struct later_arg {
	uint16_t port;
	const char *body;
	struct reply r;
};

static void *later_client(void *p)
{
	struct later_arg *a = p;

	a->r = request(NULL, "http", a->port, "POST", "/v1/later", a->body, NULL);
	return NULL;
}

static void wait_started(int n)
{
	for (int i = 0; i < 3000 && atomic_load(&later_started) < n; i++)
		usleep(10000);
	assert_int_equal(atomic_load(&later_started), n);
}

static void *release_later(void *p)
{
	(void)p;
	usleep(100 * 1000);
	atomic_store(&later_release, 1);
	return NULL;
}

/*
 * Answers made later: the server's one thread serves other requests meanwhile, the answer is
 * made from the request's body, a keep-alive connection goes on after it, a wake before the
 * handler returned works (and what that handler then returned is not the answer), a stop
 * waits for a pending one, and a handler that says "later" without asking is answered 500.
 */
static void test_later(void **state)
{
	struct vhttp_opts o = base_opts();
	struct later_arg a = {.body = "{\"x\": \"first\", \"ms\": -1}"};
	pcrgate_errinfo ei = {0};
	vhttp *h = NULL;
	CURL *c = curl_easy_init();
	pthread_t t, rel;
	long total = 0;
	int i;

	(void)state;
	atomic_store(&later_release, 0);
	atomic_store(&later_wrong, 0);
	atomic_store(&later_started, 0);
	atomic_store(&later_answered, 0);
	atomic_store(&later_freed, 0);
	o.threads = 1;
	assert_int_equal(vhttp_start(&o, &h, &ei), 0);
	a.port = vhttp_port(h);
	assert_int_equal(pthread_create(&t, NULL, later_client, &a), 0);
	wait_started(1);
	/* While it waits (until released), the one thread answers others, later ones too. */
	expect_status(a.port, "GET", "/v1/things/a", NULL, NULL, 200, NULL);
	assert_int_equal(atomic_load(&later_answered), 0);
	for (i = 0; i < 20; i++)
		total += request_reusing(c, "http", a.port, "POST", "/v1/later",
					 i % 2 ? "{\"x\": \"again\", \"ms\": 0}" : "{\"x\": \"again\", \"ms\": 5}", 200,
					 "\"later\":\"again\"");
	assert_int_equal(total, 1);
	assert_int_equal(atomic_load(&later_answered), 20);
	/* The first is still waiting: a stop lets it finish (released once the stop began, or before). */
	assert_int_equal(pthread_create(&rel, NULL, release_later, NULL), 0);
	vhttp_stop(&h);
	pthread_join(rel, NULL);
	pthread_join(t, NULL);
	assert_int_equal(a.r.status, 200);
	assert_non_null(strstr(a.r.body.p, "\"later\":\"first\""));
	reply_free(&a.r);
	assert_int_equal(atomic_load(&later_answered), 21);
	assert_int_equal(atomic_load(&later_freed), 0);
	assert_int_equal(atomic_load(&later_wrong), 0);
	curl_easy_cleanup(c);

	h = start_plain();
	expect_status(vhttp_port(h), "GET", "/v1/later-wrong", NULL, NULL, 500, &(struct want){.error = "internal error"});
	vhttp_stop(&h);
}

struct slow_arg {
	uint16_t port;
	struct reply r;
};

static void *slow_client(void *p)
{
	struct slow_arg *a = p;

	a->r = request(NULL, "http", a->port, "GET", "/v1/slow", NULL, NULL);
	return NULL;
}

static void test_graceful_stop(void **state)
{
	vhttp *h = start_plain();
	struct slow_arg a = {.port = vhttp_port(h)};
	pthread_t t;
	CURL *c;
	int i;

	(void)state;
	atomic_store(&slow_entered, 0);
	assert_int_equal(pthread_create(&t, NULL, slow_client, &a), 0);
	for (i = 0; i < 3000 && !atomic_load(&slow_entered); i++)
		usleep(10000);
	assert_true(atomic_load(&slow_entered));
	vhttp_stop(&h);
	pthread_join(t, NULL);
	assert_int_equal(a.r.status, 200);
	assert_non_null(strstr(a.r.body.p, "done"));
	reply_free(&a.r);
	/* Nothing listens any more. */
	c = curl_easy_init();
	{
		char url[64];
		snprintf(url, sizeof(url), "http://127.0.0.1:%u/healthz", a.port);
		curl_easy_setopt(c, CURLOPT_URL, url);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
		assert_int_equal(curl_easy_perform(c), CURLE_COULDNT_CONNECT);
	}
	curl_easy_cleanup(c);
}

/* A self-signed P-256 certificate for 127.0.0.1 (PEM cert and key into *cert, *key). */
static void make_cert(char **cert, char **key)
{
	EVP_PKEY *k = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	X509_NAME *n;
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	BIO *b;
	char *d;
	long len;

	assert_non_null(k);
	assert_non_null(x);
	X509_set_version(x, 2);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 1);
	X509_gmtime_adj(X509_getm_notBefore(x), -60);
	X509_gmtime_adj(X509_getm_notAfter(x), 3600);
	X509_set_pubkey(x, k);
	n = X509_get_subject_name(x);
	X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)"127.0.0.1", -1, -1, 0);
	X509_set_issuer_name(x, n);
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	ext = X509V3_EXT_conf_nid(NULL, &ctx, NID_subject_alt_name, "IP:127.0.0.1");
	assert_non_null(ext);
	X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	assert_true(X509_sign(x, k, EVP_sha256()) > 0);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_X509(b, x);
	len = BIO_get_mem_data(b, &d);
	*cert = strndup(d, (size_t)len);
	BIO_free(b);
	b = BIO_new(BIO_s_mem());
	PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL);
	len = BIO_get_mem_data(b, &d);
	*key = strndup(d, (size_t)len);
	BIO_free(b);
	X509_free(x);
	EVP_PKEY_free(k);
}

static void test_https(void **state)
{
	struct vhttp_opts o = base_opts();
	pcrgate_errinfo ei = {0};
	vhttp *h = NULL;
	char *cert, *key, *other_cert, *other_key;
	CURL *c;
	struct curl_blob ca;
	long total = 0;
	int i;

	(void)state;
	make_cert(&cert, &key);
	make_cert(&other_cert, &other_key);
	o.plain_http = 0;
	o.tls_cert_pem = cert;
	o.tls_key_pem = key;
	assert_int_equal(vhttp_start(&o, &h, &ei), 0);
	c = curl_easy_init();
	ca.data = cert;
	ca.len = strlen(cert);
	ca.flags = CURL_BLOB_COPY;
	curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
	for (i = 0; i < 20; i++)
		total += request_reusing(c, "https", vhttp_port(h), "GET", "/healthz", NULL, 200,
					 "Strict-Transport-Security");
	assert_int_equal(total, 1);
	curl_easy_cleanup(c);
	vhttp_stop(&h);

	/* A key that does not belong to the certificate is refused at start. */
	o.tls_key_pem = other_key;
	assert_true(vhttp_start(&o, &h, &ei) < 0);
	assert_null(h);
	o.tls_key_pem = NULL;
	assert_int_equal(vhttp_start(&o, &h, &ei), PCRGATE_ERR_CONFIG);
	free(cert);
	free(key);
	free(other_cert);
	free(other_key);
}

static void test_refusals_at_start(void **state)
{
	struct vhttp_opts o = base_opts();
	pcrgate_errinfo ei = {0};
	vhttp *h = NULL;

	(void)state;
	o.address = "0.0.0.0";
	assert_int_equal(vhttp_start(&o, &h, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "loopback"));
	o.address = "192.0.2.1";
	assert_int_equal(vhttp_start(&o, &h, &ei), PCRGATE_ERR_CONFIG);
	o.address = "localhost";
	assert_int_equal(vhttp_start(&o, &h, &ei), PCRGATE_ERR_CONFIG);
	assert_null(h);
	assert_true(vhttp_is_loopback("127.0.0.1"));
	assert_true(vhttp_is_loopback("127.1.2.3"));
	assert_true(vhttp_is_loopback("::1"));
	assert_false(vhttp_is_loopback("::"));
	assert_false(vhttp_is_loopback("10.0.0.1"));
	/* A socket bound elsewhere is refused for plain HTTP too, and closed. */
	{
		int fd = -1;
		assert_int_equal(vhttp_listen("0.0.0.0", 0, &fd, &ei), 0);
		o = base_opts();
		o.use_listen_fd = 1;
		o.listen_fd = fd;
		assert_int_equal(vhttp_start(&o, &h, &ei), PCRGATE_ERR_CONFIG);
		assert_non_null(strstr(ei.message, "loopback"));
		assert_int_equal(fcntl(fd, F_GETFD), -1);
		assert_int_equal(vhttp_listen("127.0.0.1", 0, &fd, &ei), 0);
		o.listen_fd = fd;
		assert_int_equal(vhttp_start(&o, &h, &ei), 0);
		assert_true(vhttp_port(h) != 0);
		vhttp_stop(&h);
		assert_int_equal(vhttp_listen("not-an-address", 0, &fd, &ei), PCRGATE_ERR_CONFIG);
	}
	/* The port is taken. */
	o = base_opts();
	{
		vhttp *first = start_plain();
		o.port = vhttp_port(first);
		assert_int_equal(vhttp_start(&o, &h, &ei), PCRGATE_ERR_IO);
		assert_non_null(strstr(ei.message, "cannot listen"));
		vhttp_stop(&first);
	}
	o = base_opts();
	o.address = "::1";
	if (vhttp_start(&o, &h, &ei) == 0) { /* hosts without IPv6 skip this part */
		assert_true(vhttp_port(h) != 0);
		vhttp_stop(&h);
	}
}

static char *write_conf(const char *text)
{
	char *path = strdup("/tmp/pcrgate-vconf-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	return path;
}

static void test_config(void **state)
{
	struct vconfig cfg;
	pcrgate_errinfo ei = {0};
	char *p;

	(void)state;
	assert_int_equal(vconfig_load("/nonexistent/verifier.conf", 1, &cfg, &ei), 0);
	assert_string_equal(cfg.database, VCONFIG_DEFAULT_DATABASE);
	assert_int_equal(cfg.port, 8443);
	assert_int_equal(vconfig_load("/nonexistent/verifier.conf", 0, &cfg, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_int_equal(vconfig_check_serve(&cfg, &ei), PCRGATE_ERR_CONFIG); /* no TLS files */
	assert_non_null(strstr(ei.message, "tls_cert"));

	p = write_conf("listen_address = 127.0.0.1\nport = 9000\nplain_http = yes\nthreads = 8\n"
		       "max_body = 4096\nnonce_ttl = 120\njws_key = /k.pem\ncounter_index = 0x01500200\n"
		       "database = postgresql://v@db/verifier  # shared\nadmin_api = no\ndevice_client_certs = no\n");
	assert_int_equal(vconfig_load(p, 0, &cfg, &ei), 0);
	assert_string_equal(cfg.path, p);
	assert_int_equal(cfg.port, 9000);
	assert_int_equal(cfg.plain_http, 1);
	assert_int_equal(cfg.threads, 8);
	assert_int_equal(cfg.max_body, 4096);
	assert_int_equal(cfg.nonce_ttl, 120);
	assert_int_equal(cfg.counter_index, 0x01500200);
	assert_int_equal(cfg.admin_api, 0);
	assert_int_equal(cfg.authorization_ttl, 3600);
	assert_string_equal(cfg.database, "postgresql://v@db/verifier");
	assert_int_equal(vconfig_check_serve(&cfg, &ei), 0);
	/* Device client certificates (the default) cannot ride on plain HTTP, and need the device CA. */
	cfg.device_client_certs = 1;
	assert_int_equal(vconfig_check_serve(&cfg, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "device_client_certs"));
	cfg.plain_http = 0;
	snprintf(cfg.tls_cert, sizeof(cfg.tls_cert), "/c.pem");
	snprintf(cfg.tls_key, sizeof(cfg.tls_key), "/k.pem");
	assert_int_equal(vconfig_check_serve(&cfg, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "device_ca_cert"));
	snprintf(cfg.device_ca_cert, sizeof(cfg.device_ca_cert), "/ca.pem");
	snprintf(cfg.device_ca_key, sizeof(cfg.device_ca_key), "/ca.key");
	assert_int_equal(vconfig_check_serve(&cfg, &ei), 0);
	unlink(p);
	free(p);

	p = write_conf("listen_address = 0.0.0.0\nplain_http = yes\njws_key = /k.pem\n");
	assert_int_equal(vconfig_load(p, 0, &cfg, &ei), 0);
	assert_int_equal(vconfig_check_serve(&cfg, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "loopback"));
	unlink(p);
	free(p);

	p = write_conf("port = 8443\ntls_crt = /x.pem\n");
	cfg.port = 1;
	assert_int_equal(vconfig_load(p, 0, &cfg, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, ":2: unknown key \"tls_crt\""));
	assert_int_equal(cfg.port, 1); /* untouched on failure */
	unlink(p);
	free(p);
	p = write_conf("port = 70000\n");
	assert_int_equal(vconfig_load(p, 0, &cfg, &ei), PCRGATE_ERR_CONFIG);
	unlink(p);
	free(p);
	p = write_conf("threads = 0\n");
	assert_int_equal(vconfig_load(p, 0, &cfg, &ei), PCRGATE_ERR_CONFIG);
	unlink(p);
	free(p);
	/* The shipped example is a valid configuration. */
	if (getenv("top_srcdir") != NULL) {
		char ex[4096];
		snprintf(ex, sizeof(ex), "%s/verifier/verifier.conf.example", getenv("top_srcdir"));
		assert_int_equal(vconfig_load(ex, 0, &cfg, &ei), 0);
		assert_int_equal(vconfig_check_serve(&cfg, &ei), 0);
		assert_string_equal(cfg.tls_key, "/etc/pcrgate/verifier-key.pem");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_routing),	       cmocka_unit_test(test_json_bodies),
		cmocka_unit_test(test_body_limits),    cmocka_unit_test(test_admin),
		cmocka_unit_test(test_health_and_metrics), cmocka_unit_test(test_keep_alive),
		cmocka_unit_test(test_graceful_stop),	   cmocka_unit_test(test_later),
		cmocka_unit_test(test_https),
		cmocka_unit_test(test_refusals_at_start), cmocka_unit_test(test_config),
	};
	int r;

	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	r = cmocka_run_group_tests(tests, NULL, NULL);
	curl_global_cleanup();
	return r;
}
