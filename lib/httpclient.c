/*
 * pcrgate: the HTTPS client (libcurl) the agent and `pcrgate admin` talk to the verifier with.
 * lib/httpclient.h says what it promises; the reasons for each curl setting are given here.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/provider.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <openssl/store.h>
#include <openssl/x509.h>

#include "httpclient.h"
#include "pcrgate/tpm.h"

struct httpclient {
	CURL *curl;
	struct curl_slist *headers; /* holds the token: cleared before it is freed */
	char base[HTTPCLIENT_URL_MAX];
	char errbuf[CURL_ERROR_SIZE];
	size_t max_response;
	/* A client certificate whose key is in the TPM (tpm_key_uri), set on each TLS context curl makes. */
	X509 *cert;
	EVP_PKEY *key;
};

/* A response body being received; over cap it is refused and the transfer aborted. */
struct body {
	uint8_t *p;
	size_t len, alloc, cap;
	int over;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc = CURLE_FAILED_INIT;

/* curl_global_init is not safe to race with other threads' curl use: once, before any handle. */
static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

/*
 * The tpm2-openssl provider, once per process, before the default provider (which must then be
 * loaded explicitly). OpenSSL 3.0 fetches a signature algorithm without regard to the provider
 * that holds the key, so the TLS handshake's signature with the TPM key reaches the tpm2
 * provider only when that provider comes first; from then on the process's digests come from
 * the TPM as well, which costs time but not security (docs/agent.md).
 */
static pthread_mutex_t tpm2_mu = PTHREAD_MUTEX_INITIALIZER;
static int tpm2_loaded, tpm2_ok;
static char tpm2_tcti[PCRGATE_TCTI_MAX]; /* the TPM the provider opened ("": its default) */
static OSSL_PROVIDER *tpm2_prov, *default_prov;

/* At exit: the tpm2 provider closes its TPM connection only when it is unloaded. */
static void tpm2_unload(void)
{
	if (tpm2_prov != NULL)
		OSSL_PROVIDER_unload(tpm2_prov);
	if (default_prov != NULL)
		OSSL_PROVIDER_unload(default_prov);
	tpm2_prov = default_prov = NULL;
}

/*
 * Outside a TLS handshake with the TPM key, the process prefers the default provider: the TPM
 * software stack's own crypto (salted sessions, parameter encryption) and keys made from TPM
 * public areas must not be handed to the tpm2 provider, which cannot use keys it does not hold.
 * Only the transfer of a client with a TPM identity prefers the tpm2 provider, whichever was
 * loaded first (the default provider is, when TPM sessions drew random numbers earlier).
 */
static int prefer_provider(const char *name)
{
	char props[32];

	snprintf(props, sizeof(props), "?provider=%s", name);
	return EVP_set_default_properties(NULL, props);
}

static void tpm2_load(void)
{
	if (tpm2_tcti[0] != '\0' && setenv("TPM2OPENSSL_TCTI", tpm2_tcti, 1) != 0)
		return;
	/*
	 * Random numbers stay with the default provider's DRBG (the tpm2 one reports no entropy to
	 * curl). This fails when the process has drawn random numbers already (a salted TPM session
	 * before the first request), and then the DRBG is the default provider's already.
	 */
	(void)RAND_set_DRBG_type(NULL, "CTR-DRBG", "provider=default", "AES-256-CTR", NULL);
	tpm2_ok = (tpm2_prov = OSSL_PROVIDER_load(NULL, "tpm2")) != NULL &&
		  (default_prov = OSSL_PROVIDER_load(NULL, "default")) != NULL && atexit(tpm2_unload) == 0 &&
		  prefer_provider("default") == 1;
}

/* The certificate (PEM) and the TPM key behind uri, which must be the certificate's. */
static int load_tpm_identity(httpclient *c, const char *cert_file, const char *uri, const char *tcti,
			     pcrgate_errinfo *ei)
{
	OSSL_STORE_CTX *st = NULL;
	OSSL_STORE_INFO *info;
	char shown[256];
	FILE *f;

	if (tcti == NULL)
		tcti = "";
	if (strlen(tcti) >= sizeof(tpm2_tcti))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "the TCTI string is too long");
	/* One provider per process, bound to the TPM the first client named; another TPM is refused. */
	pthread_mutex_lock(&tpm2_mu);
	if (!tpm2_loaded) {
		memcpy(tpm2_tcti, tcti, strlen(tcti) + 1);
		tpm2_load();
		tpm2_loaded = 1;
	} else if (strcmp(tpm2_tcti, tcti) != 0) {
		pthread_mutex_unlock(&tpm2_mu);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "the tpm2 provider of this process already uses another TPM (%s)",
					   tpm2_tcti[0] ? tpm2_tcti : "its default");
	}
	pthread_mutex_unlock(&tpm2_mu);
	if (!tpm2_ok) {
		pcrgate_log_openssl("OSSL_PROVIDER_load", "the tpm2 provider");
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "cannot load the tpm2 OpenSSL provider (Debian package tpm2-openssl)");
	}
	if ((f = fopen(cert_file, "r")) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", cert_file, strerror(errno));
	c->cert = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (c->cert == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: not a PEM certificate",
					   cert_file);
	if ((st = OSSL_STORE_open_ex(uri, NULL, "provider=tpm2", NULL, NULL, NULL, NULL, NULL)) != NULL) {
		while (c->key == NULL && !OSSL_STORE_eof(st) && (info = OSSL_STORE_load(st)) != NULL) {
			if (OSSL_STORE_INFO_get_type(info) == OSSL_STORE_INFO_PKEY)
				c->key = OSSL_STORE_INFO_get1_PKEY(info);
			OSSL_STORE_INFO_free(info);
		}
		OSSL_STORE_close(st);
	}
	(void)pcrgate_key_uri_shown(uri, shown, sizeof(shown));
	if (c->key == NULL) {
		pcrgate_log_openssl("OSSL_STORE_open", shown);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOT_FOUND, PCRGATE_NO_OFFSET,
					   "no TLS client key at %s in the TPM", shown);
	}
	if (X509_check_private_key(c->cert, c->key) != 1) {
		ERR_clear_error();
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET,
					   "%s is not the certificate of the TPM key %s", cert_file, shown);
	}
	return PCRGATE_OK;
}

/* curl's CURLOPT_SSL_CTX_FUNCTION: every TLS context of this client presents the TPM identity. */
static CURLcode set_tpm_identity(CURL *curl, void *sslctx, void *arg)
{
	httpclient *c = arg;

	(void)curl;
	if (SSL_CTX_use_certificate(sslctx, c->cert) != 1 || SSL_CTX_use_PrivateKey(sslctx, c->key) != 1) {
		pcrgate_log_openssl("SSL_CTX_use_PrivateKey", "the TLS client key");
		return CURLE_SSL_CERTPROBLEM;
	}
	return CURLE_OK;
}

int httpclient_host_is_loopback(const char *host)
{
	char buf[64];
	struct in_addr a4;
	struct in6_addr a6;
	size_t n;

	if (host == NULL)
		return 0;
	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	n = strlen(host);
	if (n < 3 || n - 2 >= sizeof(buf) || host[0] != '[' || host[n - 1] != ']')
		return 0;
	memcpy(buf, host + 1, n - 2);
	buf[n - 2] = '\0';
	return inet_pton(AF_INET6, buf, &a6) == 1 && IN6_IS_ADDR_LOOPBACK(&a6);
}

int httpclient_escape(const char *s, char *out, size_t cap)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *s != '\0'; s++) {
		unsigned char ch = (unsigned char)*s;

		if (isalnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			if (cap - o < 2)
				return PCRGATE_ERR_LIMIT;
			out[o++] = (char)ch;
		} else {
			if (cap - o < 4)
				return PCRGATE_ERR_LIMIT;
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	if (cap - o < 1)
		return PCRGATE_ERR_LIMIT;
	out[o] = '\0';
	return PCRGATE_OK;
}

int httpclient_curl_init(pcrgate_errinfo *ei)
{
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "libcurl: %s",
					   curl_easy_strerror(global_rc));
	return PCRGATE_OK;
}

/* The URL without query and fragment (credentials are refused before), for curl_free; NULL on failure. */
static char *url_without_query(CURLU *u)
{
	char *s = NULL;

	if (curl_url_set(u, CURLUPART_QUERY, NULL, 0) != CURLUE_OK ||
	    curl_url_set(u, CURLUPART_FRAGMENT, NULL, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_URL, &s, 0) != CURLUE_OK)
		return NULL;
	return s;
}

/* s into out (cap bytes), shortened with "..." when longer. */
static void shorten(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s);

	if (cap == 0)
		return;
	if (n < cap)
		memcpy(out, s, n + 1);
	else if (cap > 4)
		snprintf(out, cap, "%.*s...", (int)(cap - 4), s);
	else
		out[0] = '\0';
}

int httpclient_url_check(const char *url, int allow_query, int *https, char *shown, size_t cap,
			 pcrgate_errinfo *ei)
{
	CURLU *u = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *query = NULL, *plain = NULL;
	const char *name;
	int r = PCRGATE_ERR_CONFIG;

	if (u == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot parse a URL");
	if (curl_url_set(u, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		/* Not echoed: text that does not parse may still hold a password. */
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
				    "the URL does not parse as a URL such as https://verifier.example:8443");
		goto fail;
	}
	if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the URL must not carry credentials");
		goto fail;
	}
	if (!allow_query &&
	    (curl_url_get(u, CURLUPART_QUERY, &query, 0) == CURLUE_OK || strchr(url, '#') != NULL)) {
		/* The query is not echoed: it is where a token would be. */
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the URL of host '%s': a base URL has no query or fragment",
				    host);
		goto fail;
	}
	plain = url_without_query(u);
	name = plain != NULL ? plain : "";
	if (strcmp(scheme, "https") == 0) {
		*https = 1;
	} else if (strcmp(scheme, "http") == 0 && httpclient_host_is_loopback(host)) {
		*https = 0;
	} else if (strcmp(scheme, "http") == 0) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET,
				    "'%s': plain http only to a loopback host (for tests); use https", name);
		goto fail;
	} else {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "'%s': the scheme must be https", name);
		goto fail;
	}
	if (shown != NULL)
		shorten(name, shown, cap);
	r = PCRGATE_OK;
fail:
	curl_free(plain);
	curl_free(scheme);
	curl_free(host);
	curl_free(user);
	curl_free(query);
	curl_url_cleanup(u);
	return r;
}

/* The token file's one line, without the final newline: visible ASCII only (it goes in a header). */
static int read_token(const char *path, char **out, pcrgate_errinfo *ei)
{
	uint8_t *buf = NULL;
	size_t len = 0, i;
	int r;

	if ((r = pcrgate_file_read(path, HTTPCLIENT_TOKEN_MAX, &buf, &len, ei)) != PCRGATE_OK)
		return r;
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	for (i = 0; i < len && buf[i] > 0x20 && buf[i] < 0x7f; i++)
		;
	if (len == 0 || i != len) {
		OPENSSL_clear_free(buf, len);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "token file %s: not one line of printable characters", path);
	}
	*out = (char *)buf;
	return PCRGATE_OK;
}

static void clear_headers(struct curl_slist **h)
{
	struct curl_slist *i;

	for (i = *h; i != NULL; i = i->next)
		OPENSSL_cleanse(i->data, strlen(i->data));
	curl_slist_free_all(*h);
	*h = NULL;
}

static int add_header(struct curl_slist **h, const char *line)
{
	struct curl_slist *n = curl_slist_append(*h, line);

	if (n == NULL)
		return PCRGATE_ERR_NOMEM;
	*h = n;
	return PCRGATE_OK;
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *arg)
{
	struct body *b = arg;
	size_t n = size * nmemb, want;
	uint8_t *p;

	if (n > b->cap - b->len) {
		b->over = 1;
		return 0;
	}
	if (n + 1 > b->alloc - b->len) {
		want = b->alloc ? b->alloc : 4096;
		while (want - b->len < n + 1)
			want *= 2;
		if (want > b->cap + 1)
			want = b->cap + 1;
		if ((p = realloc(b->p, want)) == NULL)
			return 0;
		b->p = p;
		b->alloc = want;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
	b->p[b->len] = '\0';
	return n;
}

#define SETOPT(c, opt, val) (r == CURLE_OK ? (r = curl_easy_setopt((c), (opt), (val))) : r)

int httpclient_curl_defaults(void *curl, int https, const char *ca_file, long connect_timeout_ms)
{
	CURLcode r = CURLE_OK;

	SETOPT(curl, CURLOPT_NOSIGNAL, 1L); /* no SIGALRM for timeouts: callers may be threaded */
	SETOPT(curl, CURLOPT_PROTOCOLS_STR, https ? "https" : "http");
	/* A redirect could lead a token or a download to another host, or https to http. */
	SETOPT(curl, CURLOPT_FOLLOWLOCATION, 0L);
	SETOPT(curl, CURLOPT_USERAGENT, "pcrgate/" PACKAGE_VERSION);
	SETOPT(curl, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	SETOPT(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	/* Through a proxy, the header callbacks must see the server's answer, not the proxy's
	 * "200 Connection established" to CONNECT. */
	SETOPT(curl, CURLOPT_SUPPRESS_CONNECT_HEADERS, 1L);
	if (https) {
		SETOPT(curl, CURLOPT_SSL_VERIFYPEER, 1L);
		SETOPT(curl, CURLOPT_SSL_VERIFYHOST, 2L);
		SETOPT(curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		/* A CA file given is the only trust: no CA directory besides it. */
		if (ca_file != NULL) {
			SETOPT(curl, CURLOPT_CAINFO, ca_file);
			SETOPT(curl, CURLOPT_CAPATH, NULL);
		}
	}
	return (int)r;
}

int httpclient_new(const struct httpclient_options *o, httpclient **out, pcrgate_errinfo *ei)
{
	httpclient *c = NULL;
	char *token = NULL, *line = NULL;
	size_t n, tlen = 0;
	CURLcode r = CURLE_OK;
	int https = 0, rc = PCRGATE_ERR_INVALID_ARGUMENT;

	if (o == NULL || o->base_url == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, rc, PCRGATE_NO_OFFSET, "no URL");
	if ((rc = httpclient_curl_init(ei)) != PCRGATE_OK)
		return rc;
	n = strlen(o->base_url);
	if (n == 0 || n >= HTTPCLIENT_URL_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "the URL is empty or too long");
	if ((rc = httpclient_url_check(o->base_url, 0, &https, NULL, 0, ei)) != PCRGATE_OK)
		return rc;
	if (https && (o->ca_file == NULL || o->ca_file[0] == '\0'))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: https needs the CA certificate the server's chains to", o->base_url);
	if (o->token_file != NULL && (rc = read_token(o->token_file, &token, ei)) != PCRGATE_OK)
		return rc;
	rc = PCRGATE_ERR_NOMEM;
	if ((c = calloc(1, sizeof(*c))) == NULL || (c->curl = curl_easy_init()) == NULL)
		goto nomem;
	/* Paths are appended to the base: no doubled slash when the base ends in one. */
	memcpy(c->base, o->base_url, n + 1);
	while (n > 0 && c->base[n - 1] == '/')
		c->base[--n] = '\0';
	c->max_response = o->max_response ? o->max_response : HTTPCLIENT_DEFAULT_MAX_RESPONSE;
	if (add_header(&c->headers, "Accept: application/json") != 0 ||
	    add_header(&c->headers, "Content-Type: application/json") != 0 ||
	    /* No "Expect: 100-continue" round trip before larger bodies. */
	    add_header(&c->headers, "Expect:") != 0)
		goto nomem;
	if (token != NULL) {
		tlen = strlen(token);
		if ((line = malloc(tlen + 32)) == NULL)
			goto nomem;
		snprintf(line, tlen + 32, "Authorization: Bearer %s", token);
		rc = add_header(&c->headers, line);
		OPENSSL_cleanse(line, strlen(line));
		free(line);
		if (rc != PCRGATE_OK)
			goto nomem;
	}
	/* The service's CA and nothing else (ca_file is required above): no system store. */
	r = (CURLcode)httpclient_curl_defaults(c->curl, https, o->ca_file,
					       o->connect_timeout_ms > 0 ? o->connect_timeout_ms
									 : HTTPCLIENT_DEFAULT_CONNECT_TIMEOUT_MS);
	SETOPT(c->curl, CURLOPT_ERRORBUFFER, c->errbuf);
	SETOPT(c->curl, CURLOPT_HTTPHEADER, c->headers);
	SETOPT(c->curl, CURLOPT_TIMEOUT_MS, o->timeout_ms > 0 ? o->timeout_ms : HTTPCLIENT_DEFAULT_TIMEOUT_MS);
	SETOPT(c->curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_response);
	SETOPT(c->curl, CURLOPT_WRITEFUNCTION, on_body);
	if (https) {
		if (o->cert_file != NULL && o->tpm_key_uri != NULL) {
			if ((rc = load_tpm_identity(c, o->cert_file, o->tpm_key_uri, o->tcti, ei)) != PCRGATE_OK)
				goto fail;
			SETOPT(c->curl, CURLOPT_SSL_CTX_FUNCTION, set_tpm_identity);
			SETOPT(c->curl, CURLOPT_SSL_CTX_DATA, c);
		} else if (o->cert_file != NULL) {
			SETOPT(c->curl, CURLOPT_SSLCERT, o->cert_file);
			SETOPT(c->curl, CURLOPT_SSLKEY, o->key_file != NULL ? o->key_file : o->cert_file);
		}
	} else if (o->cert_file != NULL) {
		rc = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					 "a client certificate needs an https URL");
		goto fail;
	}
	if (r != CURLE_OK) {
		rc = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "libcurl: %s", curl_easy_strerror(r));
		goto fail;
	}
	OPENSSL_clear_free(token, tlen);
	*out = c;
	return PCRGATE_OK;
nomem:
	rc = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
fail:
	OPENSSL_clear_free(token, tlen);
	httpclient_free(&c);
	return rc;
}

void httpclient_free(httpclient **c)
{
	if (c == NULL || *c == NULL)
		return;
	if ((*c)->curl != NULL)
		curl_easy_cleanup((*c)->curl);
	clear_headers(&(*c)->headers);
	X509_free((*c)->cert);
	EVP_PKEY_free((*c)->key);
	free(*c);
	*c = NULL;
}

/* The request path: "/..." of visible characters (escaping is the caller's job). */
static int check_path(const char *path, pcrgate_errinfo *ei)
{
	const char *p;

	if (path == NULL || path[0] != '/')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "a request path starts with /");
	for (p = path; *p != '\0'; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '#')
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						   "request path with an unescaped character 0x%02x",
						   (unsigned)(unsigned char)*p);
	return PCRGATE_OK;
}

/* One request; the body received goes to *b (the caller frees b->p). */
static int perform(httpclient *c, const char *method, const char *path, const char *data, size_t dlen,
		   long *status, struct body *b, pcrgate_errinfo *ei)
{
	char url[HTTPCLIENT_URL_MAX * 2];
	const char *failed_props = NULL;
	CURLcode r = CURLE_OK;
	long code = 0;
	int n;

	if (check_path(path, ei) != PCRGATE_OK)
		return PCRGATE_ERR_INVALID_ARGUMENT;
	n = snprintf(url, sizeof(url), "%s%s", c->base, path);
	if (n < 0 || (size_t)n >= sizeof(url))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%s %s: URL too long", method,
					   path);
	memset(b, 0, sizeof(*b));
	b->cap = c->max_response;
	c->errbuf[0] = '\0';
	SETOPT(c->curl, CURLOPT_URL, url);
	SETOPT(c->curl, CURLOPT_WRITEDATA, b);
	if (data == NULL) {
		SETOPT(c->curl, CURLOPT_HTTPGET, 1L);
		SETOPT(c->curl, CURLOPT_CUSTOMREQUEST, NULL);
	} else {
		SETOPT(c->curl, CURLOPT_POSTFIELDS, data);
		SETOPT(c->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)dlen);
		SETOPT(c->curl, CURLOPT_CUSTOMREQUEST, strcmp(method, "POST") == 0 ? NULL : method);
	}
	/* The provider preference is process-wide: a failure to set it fails the request. */
	if (r == CURLE_OK && c->key != NULL && prefer_provider("tpm2") != 1) {
		failed_props = "?provider=tpm2";
	} else if (r == CURLE_OK) {
		r = curl_easy_perform(c->curl);
		if (c->key != NULL && prefer_provider("default") != 1)
			failed_props = "?provider=default";
	}
	/* The body is ours only during this call. */
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, NULL);
	if (failed_props != NULL) {
		pcrgate_log_openssl("EVP_set_default_properties", failed_props);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
					   "%s %s: OpenSSL's EVP_set_default_properties(\"%s\") failed", method, path,
					   failed_props);
	}
	if (b->over || r == CURLE_FILESIZE_EXCEEDED)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "%s %s: response larger than %zu bytes", method, url, c->max_response);
	if (r != CURLE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s %s: %s", method, url,
					   c->errbuf[0] ? c->errbuf : curl_easy_strerror(r));
	curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &code);
	pg_debug("%s %s: HTTP %ld, %zu bytes", method, path, code, b->len);
	*status = code;
	return PCRGATE_OK;
}

static int request_json(httpclient *c, const char *method, const char *path, const json_t *body, long *status,
			json_t **json, pcrgate_errinfo *ei)
{
	struct body b = {0};
	json_error_t jerr;
	json_t *doc = NULL;
	char *data = NULL;
	long code = 0;
	int r;

	if (body != NULL && (data = json_dumps(body, JSON_COMPACT)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "%s %s: cannot encode the body",
					   method, path);
	if (body == NULL && strcmp(method, "GET") != 0)
		data = strdup("");
	if (body == NULL && strcmp(method, "GET") != 0 && data == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	r = perform(c, method, path, data, data != NULL ? strlen(data) : 0, &code, &b, ei);
	/* A body may carry a secret (an activation secret, a release's content key). */
	if (data != NULL)
		explicit_bzero(data, strlen(data));
	free(data);
	if (r != PCRGATE_OK)
		goto done;
	if (b.len > 0) {
		doc = json_loadb((const char *)b.p, b.len, JSON_REJECT_DUPLICATES, &jerr);
		if (doc == NULL && code >= 200 && code < 300) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, jerr.position >= 0 ? (size_t)jerr.position : PCRGATE_NO_OFFSET,
						"%s %s: HTTP %ld with a response that is not JSON: %s", method, path,
						code, jerr.text);
			goto done;
		}
	}
	*status = code;
	*json = doc;
	doc = NULL;
done:
	json_decref(doc);
	free(b.p);
	return r;
}

int httpclient_get(httpclient *c, const char *path, long *status, json_t **json, pcrgate_errinfo *ei)
{
	return request_json(c, "GET", path, NULL, status, json, ei);
}

int httpclient_post(httpclient *c, const char *path, const json_t *body, long *status, json_t **json,
		    pcrgate_errinfo *ei)
{
	return request_json(c, "POST", path, body, status, json, ei);
}

int httpclient_put(httpclient *c, const char *path, const json_t *body, long *status, json_t **json,
		   pcrgate_errinfo *ei)
{
	return request_json(c, "PUT", path, body, status, json, ei);
}

int httpclient_get_raw(httpclient *c, const char *path, long *status, uint8_t **body, size_t *len,
		       pcrgate_errinfo *ei)
{
	return httpclient_post_raw(c, path, NULL, 0, status, body, len, ei);
}

int httpclient_post_raw(httpclient *c, const char *path, const uint8_t *data, size_t dlen, long *status,
			uint8_t **body, size_t *len, pcrgate_errinfo *ei)
{
	struct body b = {0};
	long code = 0;
	int r;

	if ((r = perform(c, data != NULL ? "POST" : "GET", path, (const char *)data, dlen, &code, &b, ei)) !=
	    PCRGATE_OK) {
		free(b.p);
		return r;
	}
	if (b.p == NULL && (b.p = calloc(1, 1)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	*status = code;
	*body = b.p;
	*len = b.len;
	return PCRGATE_OK;
}

const char *httpclient_error_text(const json_t *json)
{
	return json_is_object(json) ? json_string_value(json_object_get(json, "error")) : NULL;
}
