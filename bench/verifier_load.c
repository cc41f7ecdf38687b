/*
 * bench/verifier_load: the verifier benchmark's load generator and its in-process references.
 *
 *   verifier_load load --url URL --cacert PEM --token-file F [--devices 1,16,64] [--paced R,...]
 *                      [--seconds S] [--warmup S] [--server-pid PID] [--label NAME] [--json]
 *     imports as many simulated devices as the largest count through the admin API, uploads
 *     their reference policy as "default", then for each count runs that many devices, each
 *     with one keep-alive HTTPS connection, all driven by one thread (curl multi over epoll),
 *     attesting as fast as the verifier answers (POST /v1/attest/nonce, then POST
 *     /v1/attest): attestations per second, p50 and p99 latency, the CPU the verifier and this
 *     program used per attestation, every non-pass verdict, and the connections opened in
 *     the measured window (0 with keep-alive). Then, for each R, the most devices together
 *     offer R attestations/s, each on a timer of its own (paced points): the same figures,
 *     the latency counted from when each attestation was due.
 *   verifier_load local [--seconds S] [--json]
 *     the same evidence verified in this process: pcrgate_evidence_parse, pcrgate_quote_verify
 *     and the reference policy's evaluation, on one thread and on every core, beside raw
 *     OpenSSL ECDSA P-256 verification of the same signature.
 *
 * It prints figures and never fails on them; it exits non-zero only when it cannot measure
 * (the verifier refuses the setup, a request fails). bench/README.md explains each figure.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <jansson.h>

#include "lib/refpolicy.h"
#include "pcrgate/evidence.h"
#include "rawverify.h"
#include "verifier_device.h"

#define MAX_DEVICES 256
#define MAX_POINTS 8
#define MAX_RESPONSE (1024u * 1024)
#define MAX_SAMPLES (4u * 1024 * 1024) /* latencies kept per device and point */
#define MAX_ERRORS 20 /* failed requests in a row before a device gives up */
#define STAGGER_S 0.002 /* between two devices' first requests */

/* The targets, printed beside the figures (never asserted). */
#define TARGET_RATE 2000.0 /* attestations/s, SQLite, 64 devices */
#define TARGET_P99_MS 25.0
#define TARGET_DEVICES 64
#define TARGET_LABEL "sqlite"
#define SUSTAINED 0.98 /* a paced point got the rate offered when it completed this much of it */

struct opts {
	const char *url, *cacert, *token_file, *label;
	size_t devices[MAX_POINTS], npoints;
	double seconds, warmup;
	double paced[MAX_POINTS]; /* the rates offered at the paced points (at the most devices) */
	size_t npaced;
	long server_pid;
	int json;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- HTTP ---- */

struct buf {
	char *p;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct buf *b = arg;
	size_t add = size * n;
	char *p;

	if (add > MAX_RESPONSE - b->len)
		return 0;
	if ((p = realloc(b->p, b->len + add + 1)) == NULL)
		return 0;
	memcpy(p + b->len, data, add);
	b->p = p;
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

struct http {
	CURL *curl;
	struct curl_slist *headers;
	struct buf resp;
	char err[CURL_ERROR_SIZE];
};

/* A handle whose connection is kept alive across requests, trusting only the verifier's CA. */
static CURL *curl_new(const struct opts *o, struct curl_slist *headers, struct buf *resp)
{
	CURL *c = curl_easy_init();

	if (c == NULL)
		return NULL;
	curl_easy_setopt(c, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, resp);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
	return c;
}

/* The admin API's connection. */
static int http_init(struct http *h, const struct opts *o, const char *token)
{
	char auth[sizeof("Authorization: Bearer ") + 256];

	memset(h, 0, sizeof(*h));
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h->headers = curl_slist_append(h->headers, auth);
	}
	if ((h->curl = curl_new(o, h->headers, &h->resp)) == NULL)
		return -1;
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->err);
	return h->headers != NULL ? 0 : -1;
}

static void http_free(struct http *h)
{
	curl_easy_cleanup(h->curl);
	curl_slist_free_all(h->headers);
	free(h->resp.p);
	memset(h, 0, sizeof(*h));
}

/* One request; the HTTP status, or -1 when there was no answer. The body is in h->resp. */
static long http_do(struct http *h, const char *method, const char *url, const char *body)
{
	long status = -1;

	h->resp.len = 0;
	if (h->resp.p != NULL)
		h->resp.p[0] = '\0';
	h->err[0] = '\0';
	curl_easy_setopt(h->curl, CURLOPT_URL, url);
	curl_easy_setopt(h->curl, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(h->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	if (curl_easy_perform(h->curl) != CURLE_OK ||
	    curl_easy_getinfo(h->curl, CURLINFO_RESPONSE_CODE, &status) != CURLE_OK)
		return -1;
	return status;
}

static const char *http_text(const struct http *h)
{
	return h->resp.p != NULL && h->resp.p[0] != '\0' ? h->resp.p : h->err;
}

/* ---- Setup through the admin API ---- */

static int read_token(const char *path, char *out, size_t cap)
{
	FILE *fp = fopen(path, "r");
	int ok;

	if (fp == NULL)
		return -1;
	ok = fgets(out, (int)cap, fp) != NULL;
	fclose(fp);
	out[strcspn(out, "\r\n")] = '\0';
	return ok && out[0] != '\0' ? 0 : -1;
}

static int setup(const struct opts *o, const struct vboot *b, struct vdevice *devs, size_t n)
{
	char token[256], url[1024];
	struct http h;
	json_t *doc;
	size_t i;
	long st;
	int r = -1;

	if (read_token(o->token_file, token, sizeof(token)) != 0) {
		fprintf(stderr, "verifier_load: no admin token in %s\n", o->token_file);
		return -1;
	}
	if (http_init(&h, o, token) != 0)
		return -1;
	snprintf(url, sizeof(url), "%s/v1/admin/policies/default", o->url);
	if ((st = http_do(&h, "PUT", url, b->policy)) != 200) {
		fprintf(stderr, "verifier_load: PUT the policy: HTTP %ld: %s\n", st, http_text(&h));
		goto fail;
	}
	snprintf(url, sizeof(url), "%s/v1/admin/devices/import", o->url);
	for (i = 0; i < n; i++) {
		char *body = vdevice_import_json(&devs[i]);
		const char *id;

		st = body != NULL ? http_do(&h, "POST", url, body) : -1;
		free(body);
		doc = st == 201 ? json_loads(h.resp.p, 0, NULL) : NULL;
		if ((id = json_string_value(json_object_get(doc, "device_id"))) == NULL || strlen(id) > VDEV_ID_MAX) {
			fprintf(stderr, "verifier_load: importing device %zu: HTTP %ld: %s\n", i, st, http_text(&h));
			json_decref(doc);
			goto fail;
		}
		snprintf(devs[i].id, sizeof(devs[i].id), "%s", id);
		json_decref(doc);
	}
	r = 0;
fail:
	http_free(&h);
	return r;
}

/* ---- Load ---- */

/*
 * Every device of a point is driven by this one thread through one curl multi handle and
 * epoll: a device's two requests go out as soon as its previous answer came in, and the
 * generator costs the shared cores as little as it can (no thread per device to wake, no
 * second TLS handshake: connections stay open across attestations, which the report checks).
 */

enum step { STEP_NONCE, STEP_ATTEST };

/* The header of every device request, made once. */
static struct curl_slist *json_headers;

struct device_run {
	struct vdevice *dev;
	const struct vboot *b;
	CURL *curl;
	struct buf resp;
	char nonce_body[VDEV_ID_MAX + 32]; /* built once */
	char *attest_body;
	enum step step;
	double t0;     /* the attestation's start (paced: when it was due) */
	double sent;   /* when its nonce request went out */
	double tn;     /* the nonce request's time, from sent to its answer */
	double tnonce; /* when the nonce's answer came */
	double due;    /* paced: when its next attestation is due */
	int waiting;   /* paced: idle until due */
	size_t errors_in_row;
	size_t counted; /* attestations of this device in the window */
	int done;
};

struct point {
	const struct opts *o;
	CURLM *multi;
	int epfd;
	double deadline; /* when curl's timer expires (now() clock), -1 none */
	char nonce_url[1024], attest_url[1024];
	double start, end; /* the measured window */
	size_t running;	   /* devices with a request out */
	/* out: attestations that completed in the window */
	double *lat;
	size_t n, cap;
	double nonce_s, attest_s; /* sums of the two requests' times */
	size_t fails, errors;
	long connects; /* connections opened in the window: keep-alive says 0 */
	double srv0, srv1, cli0, cli1; /* CPU seconds of the verifier and this process at the window's edges */
	int at_start, at_end;
	/*
	 * Devices join one by one, STAGGER_S apart, as a fleet's connections arrive: all at once,
	 * one of the verifier's threads would accept every connection while the others slept.
	 */
	struct device_run *devs;
	size_t ndevs, joined;
	double begin;
	double interval; /* paced: between two attestations of one device; 0 = as fast as answered */
	char first_fail[512];
};

/* Keeps the first problem a device met, for the report. */
static void note(struct point *pt, const char *what, const char *prefix, const char *text)
{
	if (pt->first_fail[0] == '\0')
		snprintf(pt->first_fail, sizeof(pt->first_fail), "%s: %s%s", what, prefix, text);
}

static int on_socket(CURL *easy, curl_socket_t s, int what, void *arg, void *known)
{
	struct point *pt = arg;
	struct epoll_event ev;

	(void)easy;
	memset(&ev, 0, sizeof(ev));
	ev.data.fd = s;
	if (what == CURL_POLL_REMOVE) {
		epoll_ctl(pt->epfd, EPOLL_CTL_DEL, s, NULL);
		curl_multi_assign(pt->multi, s, NULL);
		return 0;
	}
	ev.events = (what & CURL_POLL_IN ? EPOLLIN : 0) | (what & CURL_POLL_OUT ? EPOLLOUT : 0);
	if (epoll_ctl(pt->epfd, known != NULL ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, s, &ev) != 0)
		return -1;
	curl_multi_assign(pt->multi, s, pt);
	return 0;
}

static int on_timer(CURLM *multi, long timeout_ms, void *arg)
{
	(void)multi;
	((struct point *)arg)->deadline = timeout_ms < 0 ? -1 : now() + (double)timeout_ms / 1e3;
	return 0;
}

/* Sends the device's next request: its body and URL, the response buffer emptied. */
static int send_step(struct point *pt, struct device_run *d, enum step step, const char *body)
{
	int still = 0;

	d->step = step;
	d->resp.len = 0;
	if (d->resp.p != NULL)
		d->resp.p[0] = '\0';
	curl_easy_setopt(d->curl, CURLOPT_URL, step == STEP_NONCE ? pt->nonce_url : pt->attest_url);
	curl_easy_setopt(d->curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(d->curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	if (curl_multi_add_handle(pt->multi, d->curl) != CURLM_OK)
		return -1;
	pt->running++;
	/*
	 * Out now, as a device would send it, not when the event loop next runs curl's timer:
	 * a request waiting behind the other answers of the same epoll round would add the
	 * load generator's own delay to the latency it measures.
	 */
	curl_multi_socket_action(pt->multi, CURL_SOCKET_TIMEOUT, 0, &still);
	return 0;
}

/*
 * A new attestation, unless the point is over or the device gave up. Paced, a device whose
 * next attestation is not yet due waits for it (drive starts it then); one that is late
 * starts at once, and its latency counts from when it was due, so the time it spent waiting
 * for its previous answer is not left out of the figures.
 */
static void start_attestation(struct point *pt, struct device_run *d)
{
	double t = now();

	d->waiting = 0;
	if (d->done || t >= pt->end || d->errors_in_row >= MAX_ERRORS || (pt->interval > 0 && d->due >= pt->end)) {
		d->done = 1;
		return;
	}
	d->t0 = d->sent = t;
	if (pt->interval > 0) {
		if (t < d->due) {
			d->waiting = 1;
			return;
		}
		d->t0 = d->due;
		d->due += pt->interval;
	}
	if (send_step(pt, d, STEP_NONCE, d->nonce_body) != 0) {
		note(pt, "POST /v1/attest/nonce", "", "cannot queue the request");
		d->done = 1;
	}
}

static void failed(struct point *pt, struct device_run *d, const char *what, long st, const char *text)
{
	double t = now();

	note(pt, what, st < 0 ? "no answer: " : "", text);
	d->errors_in_row++;
	if (t >= pt->start && t <= pt->end)
		pt->errors++;
	if (d->errors_in_row >= MAX_ERRORS)
		pt->errors++;
}

/* An answer came in: the next request of this device's attestation, or the attestation's count. */
static void answered(struct point *pt, struct device_run *d, CURLcode rc)
{
	const char *text = d->resp.p != NULL && d->resp.p[0] != '\0' ? d->resp.p : curl_easy_strerror(rc);
	long st = -1, connects = 0;
	json_t *doc = NULL;
	double t = now();

	curl_multi_remove_handle(pt->multi, d->curl);
	pt->running--;
	if (rc == CURLE_OK)
		curl_easy_getinfo(d->curl, CURLINFO_RESPONSE_CODE, &st);
	if (curl_easy_getinfo(d->curl, CURLINFO_NUM_CONNECTS, &connects) == CURLE_OK && t >= pt->start && t <= pt->end)
		pt->connects += connects;
	if (d->step == STEP_NONCE) {
		uint8_t nonce[VDEV_NONCE * 2];
		const char *hex;
		size_t nlen = 0, cap;
		char *ev;

		if (st != 200 || (doc = json_loads(d->resp.p, 0, NULL)) == NULL ||
		    (hex = json_string_value(json_object_get(doc, "nonce"))) == NULL ||
		    pcrgate_hex_decode(hex, nonce, sizeof(nonce), &nlen) != 0) {
			failed(pt, d, "POST /v1/attest/nonce", st, text);
			goto next;
		}
		d->tn = t - d->sent;
		d->tnonce = t;
		free(d->attest_body);
		d->attest_body = NULL;
		/* What the device does between its two requests: quote, sign, evidence JSON. */
		if ((ev = vdevice_evidence(d->dev, d->b, nonce, nlen, NULL)) == NULL ||
		    (d->attest_body = malloc(cap = strlen(ev) + 128)) == NULL) {
			free(ev);
			failed(pt, d, "the device's evidence", 0, "cannot be made");
			goto next;
		}
		snprintf(d->attest_body, cap, "{\"device_id\":\"%s\",\"evidence\":%s}", d->dev->id, ev);
		free(ev);
		json_decref(doc);
		if (send_step(pt, d, STEP_ATTEST, d->attest_body) != 0) {
			failed(pt, d, "POST /v1/attest", 0, "cannot queue the request");
			d->done = 1;
		}
		return;
	} else {
		const char *verdict;
		int pass;

		if (st != 200 || (doc = json_loads(d->resp.p, 0, NULL)) == NULL ||
		    (verdict = json_string_value(json_object_get(doc, "verdict"))) == NULL) {
			failed(pt, d, "POST /v1/attest", st, text);
			goto next;
		}
		d->errors_in_row = 0;
		pass = strcmp(verdict, "pass") == 0;
		if (!pass)
			note(pt, "a verdict other than pass", "", d->resp.p);
		if (t >= pt->start && t <= pt->end) {
			if (pt->n == pt->cap) {
				size_t cap = pt->cap == 0 ? 4096 : 2 * pt->cap;
				double *p;

				if (cap > MAX_SAMPLES || (p = realloc(pt->lat, cap * sizeof(*p))) == NULL) {
					note(pt, "the latency samples", "", "out of memory");
					d->done = 1;
					goto next;
				}
				pt->lat = p;
				pt->cap = cap;
			}
			pt->lat[pt->n++] = t - d->t0;
			d->counted++;
			pt->nonce_s += d->tn;
			pt->attest_s += t - d->tnonce;
			if (!pass)
				pt->fails++;
		}
	}
next:
	json_decref(doc);
	start_attestation(pt, d);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* CPU seconds (user + system) of a process from /proc, or -1. */
static double proc_cpu(long pid)
{
	char path[64], text[1024], *p;
	unsigned long long ut, st;
	FILE *fp;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if (pid <= 0 || (fp = fopen(path, "r")) == NULL)
		return -1;
	n = fread(text, 1, sizeof(text) - 1, fp);
	fclose(fp);
	text[n] = '\0';
	/* Fields after the command name (which may hold spaces), from field 3 on: utime is field 14. */
	if ((p = strrchr(text, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static double self_cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

/* The transfers curl finished: each device's answer taken up. */
static void reap(struct point *pt)
{
	CURLMsg *m;
	int left;

	while ((m = curl_multi_info_read(pt->multi, &left)) != NULL) {
		struct device_run *d = NULL;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&d);
		answered(pt, d, m->data.result);
	}
}

/*
 * epoll_wait for up to wait seconds, given in nanoseconds (epoll_pwait2), so that a paced
 * attestation is not sent up to a millisecond late; in whole milliseconds, rounded up, where
 * the kernel or a sandbox does not offer epoll_pwait2.
 */
static int wait_events(int epfd, struct epoll_event *evs, int max, double wait)
{
	static int no_pwait2;
	struct timespec ts;
	int n;

	if (!no_pwait2) {
		ts.tv_sec = (time_t)wait;
		ts.tv_nsec = (long)((wait - (double)ts.tv_sec) * 1e9);
		if ((n = epoll_pwait2(epfd, evs, max, &ts, NULL)) >= 0 || (errno != ENOSYS && errno != EPERM))
			return n;
		no_pwait2 = 1;
	}
	return epoll_wait(epfd, evs, max, (int)ceil(wait * 1e3));
}

/* Runs the event loop until every device is done; -1 when epoll or curl fail. */
static int drive(struct point *pt)
{
	struct epoll_event evs[MAX_DEVICES];
	int still = 0;

	for (;;) {
		double t = now(), edge, wait;
		size_t waiting = 0;
		int n;

		/*
		 * Both processes' CPU time at the edges of the window, read as the loop passes them,
		 * first: an edge passed is never one to wait for.
		 */
		if (!pt->at_start && t >= pt->start) {
			pt->srv0 = proc_cpu(pt->o->server_pid);
			pt->cli0 = self_cpu();
			pt->at_start = 1;
		}
		if (pt->at_start && !pt->at_end && t >= pt->end) {
			pt->srv1 = proc_cpu(pt->o->server_pid);
			pt->cli1 = self_cpu();
			pt->at_end = 1;
		}
		edge = !pt->at_start ? pt->start : !pt->at_end ? pt->end : -1;
		while (pt->joined < pt->ndevs && t >= pt->begin + STAGGER_S * (double)pt->joined)
			start_attestation(pt, &pt->devs[pt->joined++]);
		if (pt->joined < pt->ndevs && (edge < 0 || pt->begin + STAGGER_S * (double)pt->joined < edge))
			edge = pt->begin + STAGGER_S * (double)pt->joined;
		/* Paced devices whose attestation fell due. */
		for (size_t i = 0; i < pt->joined; i++)
			if (pt->devs[i].waiting && pt->devs[i].due <= t)
				start_attestation(pt, &pt->devs[i]);
		/* A request curl finished as it was sent (it could not connect): taken up now. */
		reap(pt);
		/* The next attestation due is an edge too. */
		for (size_t i = 0; i < pt->joined; i++) {
			if (pt->devs[i].waiting) {
				waiting++;
				if (edge < 0 || pt->devs[i].due < edge)
					edge = pt->devs[i].due;
			}
		}
		if (pt->running == 0 && waiting == 0 && pt->joined == pt->ndevs)
			break;
		/*
		 * Starting an attestation may have moved curl's deadline. The time is read again, as
		 * the work above took some.
		 */
		t = now();
		wait = pt->deadline < 0 ? 0.1 : fmax(0, pt->deadline - t);
		if (edge >= 0 && edge - t < wait)
			wait = fmax(0, edge - t);
		if ((n = wait_events(pt->epfd, evs, MAX_DEVICES, wait)) < 0 && errno != EINTR)
			return -1;
		/* Each answer is taken up as it comes, not after the whole epoll round. */
		for (int i = 0; i < n; i++) {
			curl_multi_socket_action(pt->multi, evs[i].data.fd,
						 (evs[i].events & EPOLLIN ? CURL_CSELECT_IN : 0) |
							 (evs[i].events & EPOLLOUT ? CURL_CSELECT_OUT : 0) |
							 (evs[i].events & (EPOLLERR | EPOLLHUP) ? CURL_CSELECT_ERR : 0),
						 &still);
			reap(pt);
		}
		/* curl's timer runs when due, whether or not sockets were ready. */
		if (pt->deadline >= 0 && now() >= pt->deadline) {
			curl_multi_socket_action(pt->multi, CURL_SOCKET_TIMEOUT, 0, &still);
			reap(pt);
		}
	}
	return 0;
}

/* One device's handle: its own keep-alive connection, the verifier's CA the only one trusted. */
static int device_init(struct device_run *d, const struct opts *o, struct vdevice *dev, const struct vboot *b,
		       size_t idx)
{
	char source[48];

	memset(d, 0, sizeof(*d));
	d->dev = dev;
	d->b = b;
	snprintf(d->nonce_body, sizeof(d->nonce_body), "{\"device_id\":\"%s\"}", dev->id);
	if ((d->curl = curl_new(o, json_headers, &d->resp)) == NULL)
		return -1;
	curl_easy_setopt(d->curl, CURLOPT_PRIVATE, d);
	curl_easy_setopt(d->curl, CURLOPT_POST, 1L);
	/*
	 * Against a verifier on IPv4 loopback, each device from an address of its own in 127/8, as
	 * a fleet's devices are: curl reuses a connection only for the source it was opened from,
	 * so a device always has its own connection (one pool for all would lend an idle device's
	 * connection to a busy one, open new ones when many are due at once, and put most requests
	 * on one of the server's workers). Elsewhere the devices share the pool.
	 */
	if (strncmp(o->url, "https://127.", 12) == 0 || strncmp(o->url, "http://127.", 11) == 0) {
		snprintf(source, sizeof(source), "host!127.1.%zu.%zu", idx / 200, idx % 200 + 1);
		curl_easy_setopt(d->curl, CURLOPT_INTERFACE, source);
	}
	return 0;
}

static void device_free(struct device_run *d)
{
	curl_easy_cleanup(d->curl);
	free(d->resp.p);
	free(d->attest_body);
	memset(d, 0, sizeof(*d));
}

/*
 * One point: n devices at once, as fast as they are answered (rate 0) or together offering
 * rate attestations/s: each device one every n / rate seconds, from a phase of its own drawn
 * at random, as devices on timers started at unrelated times would. Fills obj; returns -1
 * when a device could not attest at all.
 */
static int run_point(const struct opts *o, const struct vboot *b, struct vdevice *devs, size_t n, double rate_in,
		     json_t *obj)
{
	struct device_run *d = calloc(n, sizeof(*d));
	struct point pt;
	double t, *all = NULL, rate, p50 = 0, p99 = 0;
	size_t i, made = 0, total;
	enum { NO_TARGET, RATE_TARGET, P99_TARGET } target;
	int r = -1, met;

	memset(&pt, 0, sizeof(pt));
	pt.o = o;
	pt.epfd = -1;
	pt.deadline = -1;
	snprintf(pt.nonce_url, sizeof(pt.nonce_url), "%s/v1/attest/nonce", o->url);
	snprintf(pt.attest_url, sizeof(pt.attest_url), "%s/v1/attest", o->url);
	if (d == NULL || (pt.multi = curl_multi_init()) == NULL || (pt.epfd = epoll_create1(EPOLL_CLOEXEC)) < 0)
		goto done;
	curl_multi_setopt(pt.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
	curl_multi_setopt(pt.multi, CURLMOPT_SOCKETDATA, &pt);
	curl_multi_setopt(pt.multi, CURLMOPT_TIMERFUNCTION, on_timer);
	curl_multi_setopt(pt.multi, CURLMOPT_TIMERDATA, &pt);
	/* One connection per device, as devices have: never more, and none shared by two requests at once. */
	curl_multi_setopt(pt.multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)n);
	curl_multi_setopt(pt.multi, CURLMOPT_MAXCONNECTS, (long)n);
	for (made = 0; made < n; made++)
		if (device_init(&d[made], o, &devs[made], b, made) != 0)
			goto done;
	t = now();
	pt.start = t + o->warmup;
	pt.end = t + o->warmup + o->seconds;
	pt.devs = d;
	pt.ndevs = n;
	pt.begin = t;
	if (rate_in > 0) {
		unsigned short seed[3] = {0x7063, 0x7267, (unsigned short)n};

		pt.interval = (double)n / rate_in;
		/* The first attestation due at or after the device's join, in the device's phase. */
		for (i = 0; i < n; i++) {
			double join = t + STAGGER_S * (double)i, due = t + pt.interval * erand48(seed);

			d[i].due = due + pt.interval * ceil(fmax(0, join - due) / pt.interval);
		}
	}
	if (drive(&pt) != 0) {
		fprintf(stderr, "verifier_load: the event loop failed: %s\n", strerror(errno));
		goto done;
	}
	if (!pt.at_end) {
		pt.srv1 = proc_cpu(o->server_pid);
		pt.cli1 = self_cpu();
	}
	if ((total = pt.n) == 0 || (all = malloc(total * sizeof(*all))) == NULL) {
		fprintf(stderr, "verifier_load: %zu devices: no attestation completed%s%s\n", n,
			pt.first_fail[0] != '\0' ? ": " : "", pt.first_fail);
		goto done;
	}
	memcpy(all, pt.lat, total * sizeof(*all));
	qsort(all, total, sizeof(*all), cmp_double);
	p50 = all[(total - 1) / 2];
	p99 = all[(size_t)ceil(0.99 * (double)total) - 1];
	rate = (double)total / o->seconds;
	json_object_set_new(obj, "devices", json_integer((json_int_t)n));
	json_object_set_new(obj, "attestations", json_integer((json_int_t)total));
	json_object_set_new(obj, "attestations_per_s", json_real(rate));
	json_object_set_new(obj, "p50_ms", json_real(1e3 * p50));
	json_object_set_new(obj, "p99_ms", json_real(1e3 * p99));
	json_object_set_new(obj, "max_ms", json_real(1e3 * all[total - 1]));
	json_object_set_new(obj, "nonce_mean_ms", json_real(1e3 * pt.nonce_s / (double)total));
	json_object_set_new(obj, "attest_mean_ms", json_real(1e3 * pt.attest_s / (double)total));
	json_object_set_new(obj, "non_pass", json_integer((json_int_t)pt.fails));
	json_object_set_new(obj, "errors", json_integer((json_int_t)pt.errors));
	json_object_set_new(obj, "new_connections", json_integer((json_int_t)pt.connects));
	if (pt.first_fail[0] != '\0')
		json_object_set_new(obj, "first_problem", json_string(pt.first_fail));
	json_object_set_new(obj, "server_cpu_cores",
			    pt.srv0 >= 0 && pt.srv1 >= 0 ? json_real((pt.srv1 - pt.srv0) / o->seconds) : json_null());
	json_object_set_new(obj, "server_cpu_us_per_attestation",
			    pt.srv0 >= 0 && pt.srv1 >= 0 ? json_real(1e6 * (pt.srv1 - pt.srv0) / (double)total)
							 : json_null());
	json_object_set_new(obj, "loadgen_cpu_cores", json_real((pt.cli1 - pt.cli0) / o->seconds));
	json_object_set_new(obj, "loadgen_cpu_us_per_attestation",
			    json_real(1e6 * (pt.cli1 - pt.cli0) / (double)total));
	/*
	 * The targets: the rate as fast as the devices are answered; p99 with the devices offering
	 * the target rate, which they must also get (a verifier that falls behind makes each
	 * attestation later than the last, which the latencies from when each was due show).
	 */
	target = NO_TARGET;
	if (strcmp(o->label, TARGET_LABEL) == 0 && n == TARGET_DEVICES)
		target = rate_in == 0 ? RATE_TARGET : rate_in == TARGET_RATE ? P99_TARGET : NO_TARGET;
	met = target == RATE_TARGET ? rate >= TARGET_RATE
				    : 1e3 * p99 < TARGET_P99_MS && rate >= SUSTAINED * rate_in;
	if (rate_in > 0)
		json_object_set_new(obj, "offered_per_s", json_real(rate_in));
	if (target == RATE_TARGET)
		json_object_set_new(obj, "target_per_s_min", json_real(TARGET_RATE));
	if (target == P99_TARGET)
		json_object_set_new(obj, "target_p99_ms_max", json_real(TARGET_P99_MS));
	if (target != NO_TARGET)
		json_object_set_new(obj, "meets_target", json_boolean(met));
	if (!o->json) {
		char offered[32] = "as answered";

		if (rate_in > 0)
			snprintf(offered, sizeof(offered), "%.0f/s offered", rate_in);
		printf("  %-10s %4zu devices %-16s %6.0f att/s  p50 %7.2f ms  p99 %7.2f ms  (nonce %5.2f + attest %5.2f ms)"
		       "  cpu: verifier %4.2f, loadgen %4.2f cores (%.0f + %.0f us/att)  non-pass %zu  errors %zu"
		       "  new connections %ld",
		       o->label, n, offered, rate, 1e3 * p50, 1e3 * p99, 1e3 * pt.nonce_s / (double)total,
		       1e3 * pt.attest_s / (double)total,
		       pt.srv0 >= 0 && pt.srv1 >= 0 ? (pt.srv1 - pt.srv0) / o->seconds : NAN,
		       (pt.cli1 - pt.cli0) / o->seconds,
		       pt.srv0 >= 0 && pt.srv1 >= 0 ? 1e6 * (pt.srv1 - pt.srv0) / (double)total : NAN,
		       1e6 * (pt.cli1 - pt.cli0) / (double)total, pt.fails, pt.errors, pt.connects);
		if (target == RATE_TARGET)
			printf("  [target >= %.0f/s: %s]", TARGET_RATE, met ? "met" : "NOT met");
		if (target == P99_TARGET)
			printf("  [target p99 < %.0f ms at %.0f/s: %s]", TARGET_P99_MS, TARGET_RATE, met ? "met" : "NOT met");
		printf("\n");
		if (pt.first_fail[0] != '\0')
			printf("    first problem: %s\n", pt.first_fail);
		fflush(stdout);
	}
	r = 0;
done:
	for (i = 0; i < made; i++) {
		curl_multi_remove_handle(pt.multi, d[i].curl);
		device_free(&d[i]);
	}
	curl_multi_cleanup(pt.multi);
	if (pt.epfd >= 0)
		close(pt.epfd);
	free(d);
	free(pt.lat);
	free(all);
	return r;
}

static int cmd_load(const struct opts *o)
{
	struct vdevice *devs = NULL;
	struct vboot b;
	json_t *root = json_object(), *points = json_array();
	size_t i, max = 0, made = 0;
	int r = 1;

	for (i = 0; i < o->npoints; i++)
		if (o->devices[i] > max)
			max = o->devices[i];
	if (vboot_make(&b) != 0 || (devs = calloc(max, sizeof(*devs))) == NULL) {
		fprintf(stderr, "verifier_load: cannot make the devices' boot log and policy\n");
		goto done;
	}
	for (made = 0; made < max; made++)
		if (vdevice_make(&devs[made]) != 0) {
			fprintf(stderr, "verifier_load: cannot make the keys of device %zu\n", made);
			goto done;
		}
	if (setup(o, &b, devs, max) != 0)
		goto done;
	if ((json_headers = curl_slist_append(NULL, "Content-Type: application/json")) == NULL)
		goto done;
	/* The points as fast as answered, then the paced ones at the most devices. */
	for (i = 0; i < o->npoints + o->npaced; i++) {
		json_t *p = json_object();

		if (i < o->npoints ? run_point(o, &b, devs, o->devices[i], 0, p) != 0
				   : run_point(o, &b, devs, max, o->paced[i - o->npoints], p) != 0) {
			json_decref(p);
			goto done;
		}
		json_array_append_new(points, p);
	}
	if (o->json) {
		json_object_set_new(root, "backend", json_string(o->label));
		json_object_set_new(root, "seconds", json_real(o->seconds));
		json_object_set_new(root, "warmup", json_real(o->warmup));
		json_object_set(root, "points", points);
		json_dumpf(root, stdout, JSON_COMPACT);
		putchar('\n');
	}
	r = 0;
done:
	for (i = 0; i < made; i++)
		vdevice_free(&devs[i]);
	free(devs);
	vboot_free(&b);
	json_decref(points);
	json_decref(root);
	curl_slist_free_all(json_headers);
	json_headers = NULL;
	return r;
}

/* ---- Options ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: verifier_load load --url URL --cacert PEM --token-file FILE [--devices N,N,...]\n"
		"                     [--paced R,R,...] [--seconds S] [--warmup S] [--server-pid PID] [--label NAME]\n"
		"                     [--json]\n"
		"       verifier_load local [--seconds S] [--json]\n"
		"  load   import simulated devices and attest against the verifier at URL, N devices at once\n"
		"         for each N (default 1,16,64), as fast as they are answered, then the most devices\n"
		"         together offering R attestations/s for each R; S seconds each (default 5) after a\n"
		"         warm-up (default 1)\n"
		"  local  the same evidence verified in this process, and raw OpenSSL ECDSA P-256 (default 1 s)\n");
}

static int parse_seconds(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= 0.01 && v <= 3600))
		return -1;
	*out = v;
	return 0;
}

/* A comma-separated list of up to MAX_POINTS numbers from min to max (whole numbers if whole). */
static int parse_list(const char *s, double min, double max, int whole, double *out, size_t *n)
{
	char *end;
	double v;

	*n = 0;
	for (;;) {
		errno = 0;
		v = strtod(s, &end);
		if (errno != 0 || end == s || !(v >= min && v <= max) || (whole && v != floor(v)) || *n == MAX_POINTS)
			return -1;
		out[(*n)++] = v;
		if (*end == '\0')
			return 0;
		if (*end != ',')
			return -1;
		s = end + 1;
	}
}

int main(int argc, char **argv)
{
	struct opts o;
	int local, i, r;

	memset(&o, 0, sizeof(o));
	o.label = "verifier";
	o.devices[0] = 1, o.devices[1] = 16, o.devices[2] = 64, o.npoints = 3;
	o.warmup = 1;
	if (argc < 2 || (strcmp(argv[1], "load") != 0 && strcmp(argv[1], "local") != 0)) {
		usage(argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? stdout : stderr);
		return argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) ? 0 : 2;
	}
	local = strcmp(argv[1], "local") == 0;
	o.seconds = local ? 1 : 5;
	for (i = 2; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		int ok = 1;

		if (strcmp(a, "--json") == 0) {
			o.json = 1;
			continue;
		}
		if (v == NULL)
			ok = 0;
		else if (strcmp(a, "--seconds") == 0)
			ok = parse_seconds(v, &o.seconds) == 0;
		else if (!local && strcmp(a, "--warmup") == 0)
			ok = parse_seconds(v, &o.warmup) == 0;
		else if (!local && strcmp(a, "--devices") == 0) {
			double counts[MAX_POINTS];

			if ((ok = parse_list(v, 1, MAX_DEVICES, 1, counts, &o.npoints) == 0))
				for (size_t k = 0; k < o.npoints; k++)
					o.devices[k] = (size_t)counts[k];
		} else if (!local && strcmp(a, "--paced") == 0)
			ok = parse_list(v, 1, 1e6, 0, o.paced, &o.npaced) == 0;
		else if (!local && strcmp(a, "--url") == 0)
			o.url = v;
		else if (!local && strcmp(a, "--cacert") == 0)
			o.cacert = v;
		else if (!local && strcmp(a, "--token-file") == 0)
			o.token_file = v;
		else if (!local && strcmp(a, "--label") == 0)
			o.label = v;
		else if (!local && strcmp(a, "--server-pid") == 0)
			ok = (o.server_pid = strtol(v, NULL, 10)) > 0;
		else
			ok = 0;
		if (!ok) {
			fprintf(stderr, "verifier_load: bad option or value: %s %s\n", a, v != NULL ? v : "");
			usage(stderr);
			return 2;
		}
		i++;
	}
	if (local)
		return vbench_local(o.seconds, o.json);
	if (o.url == NULL || o.cacert == NULL || o.token_file == NULL) {
		fprintf(stderr, "verifier_load: load needs --url, --cacert and --token-file\n");
		usage(stderr);
		return 2;
	}
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0)
		return 1;
	r = cmd_load(&o);
	curl_global_cleanup();
	return r;
}
