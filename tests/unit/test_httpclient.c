/*
 * Unit tests of lib/httpclient against a libmicrohttpd server inside the test (plain HTTP on
 * 127.0.0.1, an ephemeral port): JSON requests and answers, one reused connection, the bearer
 * token and User-Agent sent, error statuses, the response cap (with and without a length), a
 * stalled server timed out, and the URL rules (http only to loopback, https only with a CA).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>
#include <microhttpd.h>

#include "httpclient.h"

#define TOKEN "t0ken-never-logged"
#define BIG (2u * 1024 * 1024)

struct server {
	struct MHD_Daemon *d;
	unsigned port;
	unsigned connections;
	char url[64];
	char dir[64], token_file[128];
};

struct upload {
	char *buf;
	size_t len;
};

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned status, const char *type, const char *body)
{
	struct MHD_Response *resp =
		MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result r;

	MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	r = MHD_queue_response(conn, status, resp);
	MHD_destroy_response(resp);
	return r;
}

static enum MHD_Result reply_json(struct MHD_Connection *conn, unsigned status, json_t *doc)
{
	char *s = json_dumps(doc, JSON_COMPACT);
	enum MHD_Result r = reply(conn, status, "application/json", s != NULL ? s : "{}");

	free(s);
	json_decref(doc);
	return r;
}

/* A body of unknown length (sent chunked): "aaaa..." for BIG bytes. */
static ssize_t chunk_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	(void)cls;
	if (pos >= BIG)
		return MHD_CONTENT_READER_END_OF_STREAM;
	if (max > BIG - pos)
		max = (size_t)(BIG - pos);
	memset(buf, 'a', max);
	return (ssize_t)max;
}

static json_t *header_or_null(struct MHD_Connection *conn, const char *name)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, name);

	return v != NULL ? json_string(v) : json_null();
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
			       const char *version, const char *data, size_t *data_size, void **con_cls)
{
	struct upload *up = *con_cls;
	struct MHD_Response *resp;
	enum MHD_Result r;
	json_t *body;
	char *p;

	(void)cls;
	(void)version;
	if (up == NULL) {
		if ((up = calloc(1, sizeof(*up))) == NULL)
			return MHD_NO;
		*con_cls = up;
		return MHD_YES;
	}
	if (*data_size > 0) {
		if ((p = realloc(up->buf, up->len + *data_size + 1)) == NULL)
			return MHD_NO;
		up->buf = p;
		memcpy(up->buf + up->len, data, *data_size);
		up->len += *data_size;
		up->buf[up->len] = '\0';
		*data_size = 0;
		return MHD_YES;
	}
	if (strcmp(url, "/echo") == 0) {
		body = up->len > 0 ? json_loadb(up->buf, up->len, 0, NULL) : json_null();
		if (body == NULL)
			return reply(conn, 400, "application/json", "{\"error\":\"malformed JSON\"}");
		return reply_json(conn, 200,
				  json_pack("{s:s,s:o,s:o,s:o,s:o,s:s?}", "method", method, "body", body, "auth",
					    header_or_null(conn, "Authorization"), "agent",
					    header_or_null(conn, "User-Agent"), "type",
					    header_or_null(conn, "Content-Type"), "q",
					    MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "device")));
	}
	if (strcmp(url, "/missing") == 0)
		return reply(conn, 404, "application/json", "{\"error\":\"no such device\"}");
	if (strcmp(url, "/gateway") == 0)
		return reply(conn, 502, "text/html", "<html>bad gateway</html>");
	if (strcmp(url, "/text") == 0)
		return reply(conn, 200, "text/plain", "hello");
	if (strcmp(url, "/empty") == 0)
		return reply(conn, 204, "application/json", "");
	if (strcmp(url, "/lines") == 0)
		return reply(conn, 200, "application/x-ndjson", "{\"seq\":1}\n{\"seq\":2}\n");
	if (strcmp(url, "/big") == 0) {
		if ((p = malloc(BIG)) == NULL)
			return MHD_NO;
		memset(p, 'a', BIG);
		resp = MHD_create_response_from_buffer(BIG, p, MHD_RESPMEM_MUST_FREE);
		r = MHD_queue_response(conn, 200, resp);
		MHD_destroy_response(resp);
		return r;
	}
	if (strcmp(url, "/bigchunked") == 0) {
		resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64 * 1024, chunk_reader, NULL, NULL);
		r = MHD_queue_response(conn, 200, resp);
		MHD_destroy_response(resp);
		return r;
	}
	return reply(conn, 404, "application/json", "{\"error\":\"no route\"}");
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls, enum MHD_RequestTerminationCode t)
{
	struct upload *up = *con_cls;

	(void)cls;
	(void)conn;
	(void)t;
	if (up != NULL) {
		free(up->buf);
		free(up);
		*con_cls = NULL;
	}
}

static void connection(void *cls, struct MHD_Connection *conn, void **socket_ctx, enum MHD_ConnectionNotificationCode t)
{
	struct server *s = cls;

	(void)conn;
	(void)socket_ctx;
	if (t == MHD_CONNECTION_NOTIFY_STARTED)
		__atomic_add_fetch(&s->connections, 1, __ATOMIC_SEQ_CST);
}

static int setup(void **state)
{
	struct server *s = calloc(1, sizeof(*s));
	struct sockaddr_in sa;
	const union MHD_DaemonInfo *info;
	FILE *f;

	if (s == NULL)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	s->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL, handler, s,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa, MHD_OPTION_NOTIFY_COMPLETED, completed,
				NULL, MHD_OPTION_NOTIFY_CONNECTION, connection, s, MHD_OPTION_END);
	if (s->d == NULL || (info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT)) == NULL)
		return -1;
	s->port = info->port;
	snprintf(s->url, sizeof(s->url), "http://127.0.0.1:%u/", s->port);
	snprintf(s->dir, sizeof(s->dir), "%s", "/tmp/pcrgate-http.XXXXXX");
	if (mkdtemp(s->dir) == NULL)
		return -1;
	snprintf(s->token_file, sizeof(s->token_file), "%s/token", s->dir);
	if ((f = fopen(s->token_file, "w")) == NULL)
		return -1;
	fputs(TOKEN "\n", f);
	fclose(f);
	*state = s;
	return 0;
}

static int teardown(void **state)
{
	struct server *s = *state;

	MHD_stop_daemon(s->d);
	unlink(s->token_file);
	rmdir(s->dir);
	free(s);
	return 0;
}

static httpclient *client(const struct server *s, const char *token_file, size_t max)
{
	struct httpclient_options o = {.base_url = s->url, .token_file = token_file, .max_response = max};
	httpclient *c = NULL;
	pcrgate_errinfo ei;

	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_OK);
	return c;
}

static void test_json_requests(void **state)
{
	struct server *s = *state;
	httpclient *c = client(s, s->token_file, 0);
	pcrgate_errinfo ei;
	json_t *body = json_pack("{s:s,s:i}", "device_id", "dev-1", "n", 7), *resp = NULL;
	long status = 0;

	assert_int_equal(httpclient_post(c, "/echo", body, &status, &resp, &ei), PCRGATE_OK);
	assert_int_equal(status, 200);
	assert_string_equal(json_string_value(json_object_get(resp, "method")), "POST");
	assert_true(json_equal(json_object_get(resp, "body"), body));
	assert_string_equal(json_string_value(json_object_get(resp, "auth")), "Bearer " TOKEN);
	assert_string_equal(json_string_value(json_object_get(resp, "agent")), "pcrgate/" PACKAGE_VERSION);
	assert_string_equal(json_string_value(json_object_get(resp, "type")), "application/json");
	json_decref(resp);

	assert_int_equal(httpclient_put(c, "/echo", body, &status, &resp, &ei), PCRGATE_OK);
	assert_string_equal(json_string_value(json_object_get(resp, "method")), "PUT");
	assert_true(json_equal(json_object_get(resp, "body"), body));
	json_decref(resp);

	/* After a PUT, a GET is a GET again, with its query. */
	assert_int_equal(httpclient_get(c, "/echo?device=dev%2F1", &status, &resp, &ei), PCRGATE_OK);
	assert_string_equal(json_string_value(json_object_get(resp, "method")), "GET");
	assert_true(json_is_null(json_object_get(resp, "body")));
	assert_string_equal(json_string_value(json_object_get(resp, "q")), "dev/1");
	json_decref(resp);

	/* A POST without a body. */
	assert_int_equal(httpclient_post(c, "/echo", NULL, &status, &resp, &ei), PCRGATE_OK);
	assert_string_equal(json_string_value(json_object_get(resp, "method")), "POST");
	json_decref(resp);

	/* All of it over one connection. */
	assert_int_equal(__atomic_load_n(&s->connections, __ATOMIC_SEQ_CST), 1);
	json_decref(body);
	httpclient_free(&c);
	assert_null(c);
	httpclient_free(&c);
	httpclient_free(NULL);
}

static void test_no_token(void **state)
{
	struct server *s = *state;
	httpclient *c = client(s, NULL, 0);
	pcrgate_errinfo ei;
	json_t *resp = NULL;
	long status = 0;

	assert_int_equal(httpclient_get(c, "/echo", &status, &resp, &ei), PCRGATE_OK);
	assert_true(json_is_null(json_object_get(resp, "auth")));
	json_decref(resp);
	httpclient_free(&c);
}

static void test_statuses(void **state)
{
	struct server *s = *state;
	httpclient *c = client(s, NULL, 0);
	pcrgate_errinfo ei;
	json_t *resp = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	long status = 0;

	assert_int_equal(httpclient_get(c, "/missing", &status, &resp, &ei), PCRGATE_OK);
	assert_int_equal(status, 404);
	assert_string_equal(httpclient_error_text(resp), "no such device");
	json_decref(resp);
	resp = NULL;

	/* An error status with a body that is not JSON: the status, no document. */
	assert_int_equal(httpclient_get(c, "/gateway", &status, &resp, &ei), PCRGATE_OK);
	assert_int_equal(status, 502);
	assert_null(resp);
	assert_null(httpclient_error_text(resp));

	/* 2xx must be JSON. */
	status = 0;
	assert_int_equal(httpclient_get(c, "/text", &status, &resp, &ei), PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "/text"));
	assert_int_equal(status, 0);

	assert_int_equal(httpclient_get(c, "/empty", &status, &resp, &ei), PCRGATE_OK);
	assert_int_equal(status, 204);
	assert_null(resp);

	assert_int_equal(httpclient_get_raw(c, "/lines", &status, &raw, &len, &ei), PCRGATE_OK);
	assert_int_equal(status, 200);
	assert_int_equal(len, 20);
	assert_string_equal((char *)raw, "{\"seq\":1}\n{\"seq\":2}\n");
	free(raw);

	/* Paths are checked, never passed on with spaces or controls. */
	assert_int_equal(httpclient_get(c, "echo", &status, &resp, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(httpclient_get(c, "/a b", &status, &resp, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	httpclient_free(&c);
}

static void test_response_cap(void **state)
{
	struct server *s = *state;
	httpclient *c = client(s, NULL, 1024 * 1024);
	pcrgate_errinfo ei;
	json_t *resp = NULL;
	uint8_t *raw = NULL;
	size_t len = 0;
	long status = 0;

	/* With a Content-Length over the cap, and chunked without one. */
	assert_int_equal(httpclient_get(c, "/big", &status, &resp, &ei), PCRGATE_ERR_LIMIT);
	assert_non_null(strstr(ei.message, "larger than 1048576"));
	assert_int_equal(httpclient_get_raw(c, "/bigchunked", &status, &raw, &len, &ei), PCRGATE_ERR_LIMIT);
	assert_null(raw);
	/* The client still works afterwards. */
	assert_int_equal(httpclient_get(c, "/echo", &status, &resp, &ei), PCRGATE_OK);
	json_decref(resp);
	httpclient_free(&c);

	c = client(s, NULL, BIG);
	assert_int_equal(httpclient_get_raw(c, "/bigchunked", &status, &raw, &len, &ei), PCRGATE_OK);
	assert_int_equal(len, BIG);
	free(raw);
	httpclient_free(&c);
}

/* A server that accepts the connection (the kernel's backlog) and never answers. */
static void test_timeout(void **state)
{
	struct server *s = *state;
	struct sockaddr_in sa;
	socklen_t salen = sizeof(sa);
	struct httpclient_options o = {.token_file = s->token_file, .timeout_ms = 300, .connect_timeout_ms = 300};
	httpclient *c = NULL;
	pcrgate_errinfo ei;
	json_t *resp = NULL;
	long status = 0;
	char url[64];
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(fd, 4), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &salen), 0);
	snprintf(url, sizeof(url), "http://127.0.0.1:%u", (unsigned)ntohs(sa.sin_port));
	o.base_url = url;
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_OK);
	assert_int_equal(httpclient_get(c, "/v1/admin/devices", &status, &resp, &ei), PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "/v1/admin/devices"));
	assert_non_null(strstr(ei.message, "imeout") != NULL ? strstr(ei.message, "imeout")
							      : strstr(ei.message, "timed out"));
	assert_null(strstr(ei.message, TOKEN));
	httpclient_free(&c);
	close(fd);

	/* Nobody listening: the error names the URL and curl's reason. */
	o.base_url = url;
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_OK);
	assert_int_equal(httpclient_post(c, "/v1/attest/nonce", NULL, &status, &resp, &ei), PCRGATE_ERR_IO);
	assert_non_null(strstr(ei.message, "POST http://127.0.0.1"));
	httpclient_free(&c);
}

static void test_url_rules(void **state)
{
	struct server *s = *state;
	struct httpclient_options o = {0};
	httpclient *c = NULL;
	pcrgate_errinfo ei;
	char bad_token[160];
	FILE *f;

	o.base_url = "http://192.0.2.1:8080";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "loopback"));
	o.base_url = "http://verifier.example";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	o.base_url = "http://127.0.0.2.example";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	o.base_url = "https://verifier.example";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "CA"));
	o.ca_file = "";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	o.base_url = "ftp://verifier.example";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	o.base_url = "https://user:pw@verifier.example";
	o.ca_file = "/etc/ssl/ca.pem";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	o.base_url = "https://verifier.example/?x=1";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	o.base_url = "not a url";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	assert_null(c);

	/* Accepted: https with a CA (nothing is connected yet), http to loopback names. */
	o.base_url = "https://verifier.example:8443/pcrgate/";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_OK);
	httpclient_free(&c);
	o.ca_file = NULL;
	o.base_url = "http://localhost:1";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_OK);
	httpclient_free(&c);
	o.base_url = "http://[::1]:1";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_OK);
	httpclient_free(&c);

	/* A client certificate only over https; a token file of one printable line. */
	o.base_url = s->url;
	o.cert_file = "/nonexistent.pem";
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	o.cert_file = NULL;
	snprintf(bad_token, sizeof(bad_token), "%s/bad-token", s->dir);
	assert_non_null(f = fopen(bad_token, "w"));
	fputs("two words\n", f);
	fclose(f);
	o.token_file = bad_token;
	assert_int_equal(httpclient_new(&o, &c, &ei), PCRGATE_ERR_CONFIG);
	unlink(bad_token);
	assert_int_not_equal(httpclient_new(&o, &c, &ei), PCRGATE_OK);
	assert_null(c);
}

static void test_helpers(void **state)
{
	char out[32];

	(void)state;
	assert_true(httpclient_host_is_loopback("127.0.0.1"));
	assert_true(httpclient_host_is_loopback("127.255.0.9"));
	assert_true(httpclient_host_is_loopback("LocalHost"));
	assert_true(httpclient_host_is_loopback("[::1]"));
	assert_false(httpclient_host_is_loopback("128.0.0.1"));
	assert_false(httpclient_host_is_loopback("[::2]"));
	assert_false(httpclient_host_is_loopback("localhost.example"));
	assert_false(httpclient_host_is_loopback("::1"));
	assert_false(httpclient_host_is_loopback(NULL));

	assert_int_equal(httpclient_escape("dev-1_a.b~", out, sizeof(out)), PCRGATE_OK);
	assert_string_equal(out, "dev-1_a.b~");
	assert_int_equal(httpclient_escape("a/b c?&\xff", out, sizeof(out)), PCRGATE_OK);
	assert_string_equal(out, "a%2Fb%20c%3F%26%FF");
	assert_int_equal(httpclient_escape("abc", out, 4), PCRGATE_OK);
	assert_int_equal(httpclient_escape("abcd", out, 4), PCRGATE_ERR_LIMIT);
	assert_int_equal(httpclient_escape("/", out, 3), PCRGATE_ERR_LIMIT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_json_requests, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_token, setup, teardown),
		cmocka_unit_test_setup_teardown(test_statuses, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timeout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_url_rules, setup, teardown),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
