/*
 * pcrgate verifier: the HTTP(S) server framework under the REST API.
 *
 * libmicrohttpd with an internal thread pool; HTTPS from PEM cert + key, plain HTTP only when
 * asked for and then only on a loopback address. Requests are matched against a table of
 * routes (method + pattern with "{}" segments); the body is collected with a hard cap per route
 * (413 before any parsing or handler work), parsed as a JSON object for VROUTE_JSON routes (400
 * naming the parse error), and admin routes need a bearer token the application accepts (401).
 * The server answers GET /healthz and GET /metrics itself.
 */
#ifndef PCRGATE_VERIFIER_HTTP_H
#define PCRGATE_VERIFIER_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pcrgate/common.h"

struct MHD_Connection;
struct vmetrics;

#define VROUTE_ADMIN 0x1u /* needs "Authorization: Bearer TOKEN" that admin_auth accepts; 401 otherwise */
#define VROUTE_JSON 0x2u  /* the body must be a JSON object; parsed into vreq.json */
/*
 * A device's request (with VROUTE_JSON): when the server has device_auth, the TLS connection
 * must carry a client certificate (without one: 401 from the headers, before the body is
 * read) that device_auth accepts for the body's member device_id (device_auth's status
 * otherwise) before the handler runs.
 */
#define VROUTE_DEVICE 0x4u
#define VHTTP_MAX_CHAIN 4 /* client certificates handed to device_auth: the leaf and its chain */
#define VHTTP_KEY_ID 65   /* a client certificate key's SHA-256 in hex, NUL included (device_auth) */

#define VREQ_MAX_PARAMS 4          /* "{}" segments in one pattern */
#define VHTTP_MAX_PARAM 256        /* bytes of one path parameter */
#define VHTTP_MAX_PATH 1024        /* bytes of a request path */
#define VHTTP_MAX_TOKEN 512        /* bytes of a bearer token */
#define VHTTP_MAX_ACTOR 160        /* bytes of the name admin_auth gives a token, NUL included */
#define VHTTP_DEFAULT_MAX_BODY (1024 * 1024)
#define VHTTP_MAX_ROUTES 64

struct vreq {
	const char *method;                    /* "GET", "POST", ... */
	const char *path;                      /* decoded request path, without the query */
	const char *route;                     /* the matched route's pattern (metrics label) */
	const char *params[VREQ_MAX_PARAMS];   /* the "{}" segments in order, decoded, never empty */
	size_t nparams;
	const uint8_t *body;                   /* the request body (NUL-terminated at body_len), or NULL */
	size_t body_len;
	json_t *json;                          /* borrowed: the parsed body of a VROUTE_JSON route, else NULL */
	const char *bearer;                    /* the bearer token, or NULL */
	char actor[VHTTP_MAX_ACTOR];           /* VROUTE_ADMIN: the name admin_auth gave the token; else "" */
	void *app;                             /* vhttp_opts.app */
	struct vmetrics *metrics;              /* the server's metrics (for metrics_verdict) */
	struct MHD_Connection *conn;           /* private to http.c: use vreq_query */
	struct reqstate *state;                /* private to http.c */
};

/* Value of a query-string argument (decoded), or NULL. Borrowed until the handler returns. */
const char *vreq_query(const struct vreq *req, const char *key);
/* Value of a request header (name case-insensitive), or NULL. Borrowed until the handler returns. */
const char *vreq_header(const struct vreq *req, const char *name);

#define VRESP_MAX_REASON 64
#define VRESP_MAX_CTYPE 80
#define VRESP_MAX_HEADERS 4   /* extra headers of one answer */
#define VRESP_MAX_HEADER 128  /* bytes of an extra header's name or value, NUL included */
#define VRESP_MAX_FILE_NAME 160 /* bytes of a file answer's name (for the log), NUL included */

/*
 * What a handler answers. Set either json (owned: the server frees it), or body (owned: malloc'd,
 * freed by the server) with content_type, or a file (vresp_file). Nothing set and status 0: 500.
 * reason is the check or reason code that decided the answer, recorded in /metrics (empty:
 * none). Extra headers (vresp_header) belong to the answer set before them: setting another
 * answer (vresp_error, ...), also the server's 500 when a file cannot be sent, drops them.
 */
struct vresp {
	int status;
	json_t *json;
	char *body;
	size_t body_len;
	char content_type[VRESP_MAX_CTYPE];
	char reason[VRESP_MAX_REASON];
	int has_file;           /* the answer is file_len bytes of file_fd from file_offset */
	int file_fd;            /* owned: the server closes it */
	char file_name[VRESP_MAX_FILE_NAME]; /* what the file is, for a log line */
	uint64_t file_offset;
	uint64_t file_len;
	size_t nheaders;
	char headers[VRESP_MAX_HEADERS][2][VRESP_MAX_HEADER];
};

/* These three return 0 so a handler can `return vresp_error(resp, ...);`. */
/* status with {"error": formatted message, "check": check} (check may be NULL); also sets reason = check. */
int vresp_error(struct vresp *resp, int status, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* status with json as the body; takes ownership of json (also when it fails: then 500). */
int vresp_json(struct vresp *resp, int status, json_t *json);
/* status with body (malloc'd, ownership taken) of the given content type. */
int vresp_raw(struct vresp *resp, int status, const char *content_type, char *body, size_t len);
/* Records the reason label (copied, truncated at VRESP_MAX_REASON-1 bytes). */
void vresp_reason(struct vresp *resp, const char *reason);
/*
 * status with len bytes of the open file fd from offset (sent from the file as the client
 * reads, never read into memory; for HEAD only the headers). fd's ownership passes to resp:
 * the server closes it, also when another answer replaces this one. name says what the file is
 * in a log line (truncated to VRESP_MAX_FILE_NAME - 1 bytes). Returns 0.
 */
int vresp_file(struct vresp *resp, int status, const char *content_type, const char *name, int fd, uint64_t offset,
	       uint64_t len);
/* Adds a response header (copied); PCRGATE_ERR_LIMIT when there are too many or it is too long. */
int vresp_header(struct vresp *resp, const char *name, const char *value);

/*
 * A handler fills resp and returns 0. A negative return (PCRGATE_ERR_*) with no error status set
 * answers 500 {"error": "internal error"}; the details go to the log, never to the client.
 * Handlers run on the server's threads, many at once.
 */
typedef int (*vhandler)(struct vreq *req, struct vresp *resp);

/*
 * A handler that answers later (its work waits for another thread) calls vreq_later, starts
 * that work and returns VHANDLER_LATER, leaving resp alone: the connection is set aside
 * meanwhile, and the server's threads serve other connections. When the work is done, any
 * thread calls vhttp_wake with what vreq_later gave; then answer(arg, resp) runs on a server
 * thread and fills resp as a handler would (its return read as a handler's). It runs exactly
 * once: with resp NULL, only to free arg, when the request ended without an answer. req->json
 * and the strings in it stay valid until then. A stop waits for such requests too.
 */
#define VHANDLER_LATER 0x4c415445 /* "LATE": no helper's 0/1 return */
typedef int (*vanswer)(void *arg, struct vresp *resp);
struct vlater;
/*
 * Only from a handler, once per request; NULL when answering later is not possible (the server
 * is stopping): then answer now. Once it returned a handle, the handler's return value and
 * resp are not used: the answer is answer's.
 */
struct vlater *vreq_later(struct vreq *req, vanswer answer, void *arg);
/* Thread-safe; once per vreq_later, also before the handler returned. */
void vhttp_wake(struct vlater *later);

struct vroute {
	const char *method;  /* "GET", "POST", "PUT", "DELETE" */
	const char *pattern; /* "/v1/admin/devices/{}": literal segments and "{}" for one segment */
	vhandler handler;
	unsigned flags;      /* VROUTE_ADMIN | VROUTE_JSON */
	size_t max_body;     /* bytes; 0: the server's default (vhttp_opts.max_body) */
};

struct vhttp_opts {
	const char *address;       /* numeric IPv4 or IPv6 address to bind; NULL: "127.0.0.1" */
	uint16_t port;             /* 0: the kernel picks one (see vhttp_port) */
	int use_listen_fd;         /* 1: serve listen_fd (from vhttp_listen) instead of binding address */
	int listen_fd;             /* its ownership passes to vhttp_start, also when that fails */
	const char *tls_cert_pem;  /* PEM text (NUL-terminated) of the certificate (chain) */
	const char *tls_key_pem;   /* PEM text (NUL-terminated) of its private key */
	int plain_http;            /* 1: no TLS; refused unless address is loopback */
	unsigned threads;          /* worker threads; 0: 4 */
	unsigned max_connections;  /* 0: 1024 */
	unsigned per_ip_limit;     /* connections from one address; 0: no limit */
	unsigned conn_timeout;     /* seconds of inactivity before a connection is closed; 0: 30 */
	size_t max_body;           /* default cap for routes with max_body 0; 0: VHTTP_DEFAULT_MAX_BODY */
	const struct vroute *routes;
	size_t nroutes;
	void *app;                 /* handed to handlers and callbacks */
	/*
	 * 0 when token is a valid admin token, with the name it acts under (for the audit trail)
	 * in actor (cap bytes; the handler finds it in vreq.actor); anything else: 401. NULL:
	 * admin routes always 401.
	 */
	int (*admin_auth)(void *app, const char *token, char *actor, size_t cap);
	/*
	 * PEM text of the CA(s) device client certificates chain to: with it the TLS server asks
	 * every client for a certificate (optional at the TLS level: admins and enrolling devices
	 * have none). NULL: none asked for.
	 */
	const char *client_ca_pem;
	/*
	 * For VROUTE_DEVICE routes: 0 when certs (DER, the leaf first, n of them) authenticate the
	 * device device_id, with the leaf's key identity in key_out; else the HTTP status to answer
	 * (401, 403, 503), with why (cap bytes). On a keep-alive connection that passed before with
	 * the same device and leaf, verified is the key identity it gave then: the chain need not
	 * be verified again, but whether that key is still the one enrolled is asked at every
	 * request, so a device enrolled again since loses the connections it kept open. NULL: device
	 * routes are not authenticated by TLS (the device still signs its evidence).
	 */
	int (*device_auth)(void *app, const char *device_id, const uint8_t *const *certs, const size_t *lens, size_t n,
			   const char *verified, char key_out[VHTTP_KEY_ID], char *why, size_t cap);
	/* 0 when the service (its store) is usable; anything else: /healthz answers 503. NULL: healthy. */
	int (*healthy)(void *app);
};

typedef struct vhttp vhttp;

/*
 * Binds and listens on address:port (numeric address), so that a daemon started as root can
 * bind before it drops its privileges and serve later. *fd only on success.
 */
int vhttp_listen(const char *address, uint16_t port, int *fd, pcrgate_errinfo *ei);

/* Checks the options, binds and starts serving. Errors name what was wrong (bad address, TLS). */
int vhttp_start(const struct vhttp_opts *opts, vhttp **out, pcrgate_errinfo *ei);
/* The bound port (useful after port 0). */
uint16_t vhttp_port(const vhttp *h);
/*
 * Graceful stop: new connections are refused at once, requests in flight finish, then the
 * threads are joined and everything freed. NULL-safe.
 */
void vhttp_stop(vhttp **h);

/* 1 when address (numeric) is a loopback address (127.0.0.0/8, ::1). */
int vhttp_is_loopback(const char *address);

#endif
