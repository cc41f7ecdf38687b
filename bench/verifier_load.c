/*
 * bench/verifier_load: the verifier benchmark's load generator and its in-process references.
 *
 *   verifier_load load --url URL --cacert PEM --token-file F [--devices 1,16,64] [--seconds S]
 *                      [--warmup S] [--server-pid PID] [--label NAME] [--json]
 *     imports as many simulated devices as the largest count through the admin API, uploads
 *     their reference policy as "default", then for each count runs that many devices, one
 *     thread and one keep-alive HTTPS connection each, attesting as fast as the verifier
 *     answers (POST /v1/attest/nonce, then POST /v1/attest): attestations per second, p50 and
 *     p99 latency, the CPU the verifier and this program used, and every non-pass verdict.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
#define MAX_THREADS 64
#define MAX_ERRORS 20 /* failed requests in a row before a device gives up */

/* The targets, printed beside the figures (never asserted). */
#define TARGET_RATE 2000.0 /* attestations/s, SQLite, 64 devices */
#define TARGET_P99_MS 25.0
#define TARGET_DEVICES 64
#define TARGET_LABEL "sqlite"

struct opts {
	const char *url, *cacert, *token_file, *label;
	size_t devices[MAX_POINTS], npoints;
	double seconds, warmup;
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

/* A connection kept alive across requests, trusting only the verifier's CA. */
static int http_init(struct http *h, const struct opts *o, const char *token)
{
	char auth[256];

	memset(h, 0, sizeof(*h));
	if ((h->curl = curl_easy_init()) == NULL)
		return -1;
	h->headers = curl_slist_append(NULL, "Content-Type: application/json");
	if (token != NULL) {
		snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
		h->headers = curl_slist_append(h->headers, auth);
	}
	curl_easy_setopt(h->curl, CURLOPT_CAINFO, o->cacert);
	curl_easy_setopt(h->curl, CURLOPT_HTTPHEADER, h->headers);
	curl_easy_setopt(h->curl, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h->curl, CURLOPT_WRITEDATA, &h->resp);
	curl_easy_setopt(h->curl, CURLOPT_ERRORBUFFER, h->err);
	curl_easy_setopt(h->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(h->curl, CURLOPT_TIMEOUT, 30L);
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

struct worker {
	const struct opts *o;
	const struct vboot *b;
	struct vdevice *dev;
	double start, end; /* the measured window */
	pthread_t thread;
	/* out: attestations that completed in the window */
	double *lat; /* seconds, nonce request to verdict */
	size_t n, cap;
	double nonce_s, attest_s; /* sums of the two requests' times */
	size_t fails, errors;
	char first_fail[512];
};

/* Keeps the first problem a device met, for the report. */
static void note(struct worker *w, const char *what, const char *prefix, const char *text)
{
	if (w->first_fail[0] == '\0')
		snprintf(w->first_fail, sizeof(w->first_fail), "%s: %s%s", what, prefix, text);
}

/* One attestation as a device makes it; 0 when it got a verdict (*pass says which). */
static int attest_once(struct worker *w, struct http *h, double *t_nonce, int *pass)
{
	char url[1024], body[256], *ev = NULL, *req = NULL;
	uint8_t nonce[VDEV_NONCE * 2];
	const char *hex, *verdict;
	json_t *doc = NULL;
	size_t nlen = 0, cap;
	double t0 = now();
	long st;
	int r = -1;

	snprintf(url, sizeof(url), "%s/v1/attest/nonce", w->o->url);
	snprintf(body, sizeof(body), "{\"device_id\":\"%s\"}", w->dev->id);
	if ((st = http_do(h, "POST", url, body)) != 200 || (doc = json_loads(h->resp.p, 0, NULL)) == NULL ||
	    (hex = json_string_value(json_object_get(doc, "nonce"))) == NULL ||
	    pcrgate_hex_decode(hex, nonce, sizeof(nonce), &nlen) != 0) {
		note(w, "POST /v1/attest/nonce", st < 0 ? "no answer: " : "", http_text(h));
		goto done;
	}
	*t_nonce = now() - t0;
	if ((ev = vdevice_evidence(w->dev, w->b, nonce, nlen, NULL)) == NULL ||
	    (req = malloc(cap = strlen(ev) + 128)) == NULL)
		goto done;
	snprintf(req, cap, "{\"device_id\":\"%s\",\"evidence\":%s}", w->dev->id, ev);
	json_decref(doc);
	snprintf(url, sizeof(url), "%s/v1/attest", w->o->url);
	if ((st = http_do(h, "POST", url, req)) != 200 || (doc = json_loads(h->resp.p, 0, NULL)) == NULL ||
	    (verdict = json_string_value(json_object_get(doc, "verdict"))) == NULL) {
		doc = NULL;
		note(w, "POST /v1/attest", st < 0 ? "no answer: " : "", http_text(h));
		goto done;
	}
	*pass = strcmp(verdict, "pass") == 0;
	if (!*pass)
		note(w, "a verdict other than pass", "", h->resp.p);
	r = 0;
done:
	json_decref(doc);
	free(ev);
	free(req);
	return r;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	struct http h;
	size_t errors_in_row = 0;
	double t0, t1, tn = 0;
	int pass = 0;

	if (http_init(&h, w->o, NULL) != 0) {
		w->errors++;
		return NULL;
	}
	while ((t0 = now()) < w->end && errors_in_row < MAX_ERRORS) {
		if (attest_once(w, &h, &tn, &pass) != 0) {
			errors_in_row++;
			if ((t1 = now()) >= w->start && t1 <= w->end)
				w->errors++;
			continue;
		}
		errors_in_row = 0;
		t1 = now();
		if (t1 < w->start || t1 > w->end)
			continue;
		if (w->n == w->cap) {
			size_t cap = w->cap == 0 ? 4096 : 2 * w->cap;
			double *p;
			if (cap > MAX_SAMPLES || (p = realloc(w->lat, cap * sizeof(*p))) == NULL)
				break;
			w->lat = p;
			w->cap = cap;
		}
		w->lat[w->n++] = t1 - t0;
		w->nonce_s += tn;
		w->attest_s += t1 - t0 - tn;
		if (!pass)
			w->fails++;
	}
	if (errors_in_row >= MAX_ERRORS)
		w->errors++;
	http_free(&h);
	return NULL;
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

static void sleep_until(double t)
{
	double d;
	struct timespec ts;

	while ((d = t - now()) > 0) {
		ts.tv_sec = (time_t)d;
		ts.tv_nsec = (long)((d - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
}

/* One point: n devices at once. Fills obj; returns -1 when a device could not attest at all. */
static int run_point(const struct opts *o, const struct vboot *b, struct vdevice *devs, size_t n, json_t *obj)
{
	struct worker *w = calloc(n, sizeof(*w));
	double t, srv0 = -1, srv1 = -1, cli0 = 0, cli1 = 0, *all = NULL, rate, p50 = 0, p99 = 0, nonce_s = 0, attest_s = 0;
	size_t i, total = 0, fails = 0, errors = 0, k;
	const char *first = NULL;
	int r = -1, met;

	if (w == NULL)
		return -1;
	t = now();
	for (i = 0; i < n; i++) {
		w[i].o = o;
		w[i].b = b;
		w[i].dev = &devs[i];
		w[i].start = t + o->warmup;
		w[i].end = t + o->warmup + o->seconds;
		if (pthread_create(&w[i].thread, NULL, worker_run, &w[i]) != 0) {
			w[i].end = 0;
			n = i;
			goto join;
		}
	}
	sleep_until(t + o->warmup);
	srv0 = proc_cpu(o->server_pid);
	cli0 = self_cpu();
	sleep_until(t + o->warmup + o->seconds);
	srv1 = proc_cpu(o->server_pid);
	cli1 = self_cpu();
join:
	for (i = 0; i < n; i++)
		pthread_join(w[i].thread, NULL);
	for (i = 0; i < n; i++) {
		total += w[i].n;
		fails += w[i].fails;
		errors += w[i].errors;
		nonce_s += w[i].nonce_s;
		attest_s += w[i].attest_s;
		if (first == NULL && w[i].first_fail[0] != '\0')
			first = w[i].first_fail;
	}
	if (total == 0 || (all = malloc(total * sizeof(*all))) == NULL) {
		fprintf(stderr, "verifier_load: %zu devices: no attestation completed%s%s\n", n, first ? ": " : "",
			first ? first : "");
		goto done;
	}
	for (i = 0, k = 0; i < n; i++) {
		memcpy(all + k, w[i].lat, w[i].n * sizeof(*all));
		k += w[i].n;
	}
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
	json_object_set_new(obj, "nonce_mean_ms", json_real(1e3 * nonce_s / (double)total));
	json_object_set_new(obj, "attest_mean_ms", json_real(1e3 * attest_s / (double)total));
	json_object_set_new(obj, "non_pass", json_integer((json_int_t)fails));
	json_object_set_new(obj, "errors", json_integer((json_int_t)errors));
	if (first != NULL)
		json_object_set_new(obj, "first_problem", json_string(first));
	json_object_set_new(obj, "server_cpu_cores",
			    srv0 >= 0 && srv1 >= 0 ? json_real((srv1 - srv0) / o->seconds) : json_null());
	json_object_set_new(obj, "loadgen_cpu_cores", json_real((cli1 - cli0) / o->seconds));
	met = strcmp(o->label, TARGET_LABEL) == 0 && n == TARGET_DEVICES;
	if (met) {
		json_object_set_new(obj, "target_per_s_min", json_real(TARGET_RATE));
		json_object_set_new(obj, "target_p99_ms_max", json_real(TARGET_P99_MS));
		json_object_set_new(obj, "meets_target", json_boolean(rate >= TARGET_RATE && 1e3 * p99 < TARGET_P99_MS));
	}
	if (!o->json) {
		printf("  %-10s %4zu devices %9.0f att/s  p50 %7.2f ms  p99 %7.2f ms  (nonce %5.2f + attest %5.2f ms)"
		       "  cpu: verifier %4.2f, loadgen %4.2f cores  non-pass %zu  errors %zu",
		       o->label, n, rate, 1e3 * p50, 1e3 * p99, 1e3 * nonce_s / (double)total,
		       1e3 * attest_s / (double)total, srv0 >= 0 && srv1 >= 0 ? (srv1 - srv0) / o->seconds : NAN,
		       (cli1 - cli0) / o->seconds, fails, errors);
		if (met)
			printf("  [target >= %.0f/s, p99 < %.0f ms: %s]", TARGET_RATE, TARGET_P99_MS,
			       rate >= TARGET_RATE && 1e3 * p99 < TARGET_P99_MS ? "met" : "NOT met");
		printf("\n");
		if (first != NULL)
			printf("    first problem: %s\n", first);
		fflush(stdout);
	}
	r = 0;
done:
	for (i = 0; i < n; i++)
		free(w[i].lat);
	free(w);
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
	for (i = 0; i < o->npoints; i++) {
		json_t *p = json_object();
		if (run_point(o, &b, devs, o->devices[i], p) != 0) {
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
	return r;
}

/* ---- Options ---- */

static void usage(FILE *fp)
{
	fprintf(fp,
		"usage: verifier_load load --url URL --cacert PEM --token-file FILE [--devices N,N,...]\n"
		"                     [--seconds S] [--warmup S] [--server-pid PID] [--label NAME] [--json]\n"
		"       verifier_load local [--seconds S] [--json]\n"
		"  load   import simulated devices and attest against the verifier at URL, N devices at once\n"
		"         for each N (default 1,16,64), S seconds each (default 5) after a warm-up (default 1)\n"
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

static int parse_devices(const char *s, struct opts *o)
{
	char *end;
	unsigned long v;

	o->npoints = 0;
	for (;;) {
		errno = 0;
		v = strtoul(s, &end, 10);
		if (errno != 0 || end == s || v < 1 || v > MAX_DEVICES || o->npoints == MAX_POINTS)
			return -1;
		o->devices[o->npoints++] = v;
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
		else if (!local && strcmp(a, "--devices") == 0)
			ok = parse_devices(v, &o) == 0;
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
