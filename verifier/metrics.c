/*
 * pcrgate verifier: request, reason and verdict counters and latency histograms, rendered in
 * the Prometheus text format. Every counter is a C11 atomic so the HTTP threads never wait on
 * each other to count; labels known only at run time are interned into fixed tables.
 */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verifier/metrics.h"

#define STATUS_MIN 100
#define STATUS_MAX 599
#define NSTATUS (STATUS_MAX - STATUS_MIN + 1)

/* Upper bounds (seconds) of the latency buckets; +Inf is implicit. */
static const double bucket_le[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
#define NBUCKETS (sizeof(bucket_le) / sizeof(bucket_le[0]))

struct route_stats {
	char *method;
	char *pattern;
	atomic_uint_fast64_t status[NSTATUS];
	atomic_uint_fast64_t bucket[NBUCKETS + 1]; /* per bucket, not cumulative; the last is +Inf */
	atomic_uint_fast64_t sum_ns;
	atomic_uint_fast64_t count;
};

struct label {
	size_t route;
	char name[METRICS_MAX_LABEL];
};

/* A fixed table of (route, name) labels, each slot claimed once by compare-and-swap. */
struct label_table {
	_Atomic(struct label *) slot[METRICS_MAX_REASONS];
	atomic_uint_fast64_t count[METRICS_MAX_REASONS];
	atomic_uint_fast64_t overflow[METRICS_MAX_ROUTES + 1]; /* per route, when the table is full */
};

struct vmetrics {
	size_t nroutes;
	struct route_stats *routes; /* nroutes + 1: the last counts requests that matched none */
	struct label_table reasons;
	struct label_table verdicts;
	time_t started;
};

void metrics_free(struct vmetrics **m)
{
	size_t i;

	if (m == NULL || *m == NULL)
		return;
	for (i = 0; i <= (*m)->nroutes; i++) {
		free((*m)->routes[i].method);
		free((*m)->routes[i].pattern);
	}
	for (i = 0; i < METRICS_MAX_REASONS; i++) {
		free(atomic_load(&(*m)->reasons.slot[i]));
		free(atomic_load(&(*m)->verdicts.slot[i]));
	}
	free((*m)->routes);
	free(*m);
	*m = NULL;
}

int metrics_new(const char *const *methods, const char *const *patterns, size_t nroutes, struct vmetrics **out,
		pcrgate_errinfo *ei)
{
	int r = PCRGATE_ERR_INVALID_ARGUMENT;
	struct vmetrics *m = NULL;
	size_t i;

	if (out == NULL || (nroutes > 0 && (methods == NULL || patterns == NULL))) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no routes");
		goto fail;
	}
	if (nroutes > METRICS_MAX_ROUTES) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "more than %d routes",
					METRICS_MAX_ROUTES);
		goto fail;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL || (m->routes = calloc(nroutes + 1, sizeof(*m->routes))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	m->nroutes = nroutes;
	for (i = 0; i <= nroutes; i++) {
		m->routes[i].method = strdup(i < nroutes ? methods[i] : "");
		m->routes[i].pattern = strdup(i < nroutes ? patterns[i] : "(none)");
		if (m->routes[i].method == NULL || m->routes[i].pattern == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
	}
	m->started = time(NULL);
	*out = m;
	m = NULL;
	r = PCRGATE_OK;
fail:
	metrics_free(&m);
	return r;
}

/* Finds or claims the slot of (route, name); -1 when the table is full. */
static int label_slot(struct label_table *t, size_t route, const char *name)
{
	struct label *fresh = NULL;
	size_t i;
	int found = -1;

	for (i = 0; i < METRICS_MAX_REASONS; i++) {
		struct label *l = atomic_load(&t->slot[i]);
		if (l == NULL) {
			struct label *expected = NULL;
			if (fresh == NULL) {
				if ((fresh = calloc(1, sizeof(*fresh))) == NULL)
					break;
				fresh->route = route;
				snprintf(fresh->name, sizeof(fresh->name), "%s", name);
			}
			if (atomic_compare_exchange_strong(&t->slot[i], &expected, fresh)) {
				fresh = NULL;
				found = (int)i;
				break;
			}
			l = expected; /* another thread claimed this slot first: compare with its label */
		}
		if (l->route == route && strncmp(l->name, name, sizeof(l->name) - 1) == 0) {
			found = (int)i;
			break;
		}
	}
	free(fresh);
	return found;
}

static void label_count(struct label_table *t, size_t route, const char *name)
{
	int i = label_slot(t, route, name);

	if (i >= 0)
		atomic_fetch_add_explicit(&t->count[i], 1, memory_order_relaxed);
	else
		atomic_fetch_add_explicit(&t->overflow[route <= METRICS_MAX_ROUTES ? route : METRICS_MAX_ROUTES], 1,
					  memory_order_relaxed);
}

void metrics_request(struct vmetrics *m, size_t route, int status, const char *reason, double seconds)
{
	struct route_stats *rs;
	size_t b;

	if (m == NULL)
		return;
	if (route > m->nroutes)
		route = m->nroutes;
	rs = &m->routes[route];
	if (status < STATUS_MIN || status > STATUS_MAX)
		status = 500;
	atomic_fetch_add_explicit(&rs->status[status - STATUS_MIN], 1, memory_order_relaxed);
	if (seconds < 0)
		seconds = 0;
	for (b = 0; b < NBUCKETS && seconds > bucket_le[b]; b++)
		;
	atomic_fetch_add_explicit(&rs->bucket[b], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&rs->sum_ns, (uint_fast64_t)(seconds * 1e9), memory_order_relaxed);
	atomic_fetch_add_explicit(&rs->count, 1, memory_order_relaxed);
	if (reason != NULL && reason[0] != '\0')
		label_count(&m->reasons, route, reason);
}

void metrics_verdict(struct vmetrics *m, const char *reason)
{
	if (m == NULL || reason == NULL || reason[0] == '\0')
		return;
	label_count(&m->verdicts, 0, reason);
}

/* Writes s as a label value: backslash, double quote and newline escaped, other controls dropped. */
static void put_label(FILE *f, const char *s)
{
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '\\' || c == '"')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c >= 0x20 && c != 0x7f)
			fputc(c, f);
	}
}

static void put_route(FILE *f, const struct route_stats *rs)
{
	fputs("route=\"", f);
	put_label(f, rs->pattern);
	fputs("\",method=\"", f);
	put_label(f, rs->method);
	fputc('"', f);
}

static void render_requests(FILE *f, struct vmetrics *m)
{
	size_t i, s;

	fputs("# HELP pcrgate_verifier_requests_total HTTP requests answered, by route, method and status.\n"
	      "# TYPE pcrgate_verifier_requests_total counter\n",
	      f);
	for (i = 0; i <= m->nroutes; i++) {
		for (s = 0; s < NSTATUS; s++) {
			uint_fast64_t v = atomic_load_explicit(&m->routes[i].status[s], memory_order_relaxed);
			if (v == 0)
				continue;
			fputs("pcrgate_verifier_requests_total{", f);
			put_route(f, &m->routes[i]);
			fprintf(f, ",status=\"%zu\"} %llu\n", s + STATUS_MIN, (unsigned long long)v);
		}
	}
}

static void render_latency(FILE *f, struct vmetrics *m)
{
	size_t i, b;

	fputs("# HELP pcrgate_verifier_request_duration_seconds Time from a request's headers to its answer.\n"
	      "# TYPE pcrgate_verifier_request_duration_seconds histogram\n",
	      f);
	for (i = 0; i <= m->nroutes; i++) {
		struct route_stats *rs = &m->routes[i];
		uint_fast64_t count = atomic_load_explicit(&rs->count, memory_order_relaxed), cum = 0;
		if (count == 0)
			continue;
		for (b = 0; b <= NBUCKETS; b++) {
			cum += atomic_load_explicit(&rs->bucket[b], memory_order_relaxed);
			fputs("pcrgate_verifier_request_duration_seconds_bucket{", f);
			put_route(f, rs);
			if (b < NBUCKETS)
				fprintf(f, ",le=\"%g\"} %llu\n", bucket_le[b], (unsigned long long)cum);
			else
				fprintf(f, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
		}
		fputs("pcrgate_verifier_request_duration_seconds_sum{", f);
		put_route(f, rs);
		fprintf(f, "} %.9f\n", (double)atomic_load_explicit(&rs->sum_ns, memory_order_relaxed) / 1e9);
		fputs("pcrgate_verifier_request_duration_seconds_count{", f);
		put_route(f, rs);
		/* The count is written last; read separately it may run one ahead of the buckets. */
		fprintf(f, "} %llu\n", (unsigned long long)(cum > count ? cum : count));
	}
}

static void render_labels(FILE *f, struct vmetrics *m)
{
	size_t i;

	fputs("# HELP pcrgate_verifier_responses_by_reason_total Answers by the check or reason that decided them.\n"
	      "# TYPE pcrgate_verifier_responses_by_reason_total counter\n",
	      f);
	for (i = 0; i < METRICS_MAX_REASONS; i++) {
		struct label *l = atomic_load(&m->reasons.slot[i]);
		if (l == NULL)
			break;
		fputs("pcrgate_verifier_responses_by_reason_total{", f);
		put_route(f, &m->routes[l->route]);
		fputs(",reason=\"", f);
		put_label(f, l->name);
		fprintf(f, "\"} %llu\n", (unsigned long long)atomic_load(&m->reasons.count[i]));
	}
	for (i = 0; i <= m->nroutes; i++) {
		uint_fast64_t v = atomic_load(&m->reasons.overflow[i]);
		if (v == 0)
			continue;
		fputs("pcrgate_verifier_responses_by_reason_total{", f);
		put_route(f, &m->routes[i]);
		fprintf(f, ",reason=\"other\"} %llu\n", (unsigned long long)v);
	}
	fputs("# HELP pcrgate_verifier_verdicts_total Attestation verdicts: pass, or the reason of a failure.\n"
	      "# TYPE pcrgate_verifier_verdicts_total counter\n",
	      f);
	for (i = 0; i < METRICS_MAX_REASONS; i++) {
		struct label *l = atomic_load(&m->verdicts.slot[i]);
		int pass;
		if (l == NULL)
			break;
		pass = strcmp(l->name, "pass") == 0;
		fprintf(f, "pcrgate_verifier_verdicts_total{verdict=\"%s\",reason=\"", pass ? "pass" : "fail");
		if (!pass)
			put_label(f, l->name);
		fprintf(f, "\"} %llu\n", (unsigned long long)atomic_load(&m->verdicts.count[i]));
	}
	if (atomic_load(&m->verdicts.overflow[0]) != 0)
		fprintf(f, "pcrgate_verifier_verdicts_total{verdict=\"fail\",reason=\"other\"} %llu\n",
			(unsigned long long)atomic_load(&m->verdicts.overflow[0]));
}

int metrics_render(struct vmetrics *m, char **text, size_t *len, pcrgate_errinfo *ei)
{
	char *buf = NULL;
	size_t n = 0;
	FILE *f;

	if (m == NULL || text == NULL || len == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no metrics");
	if ((f = open_memstream(&buf, &n)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	fputs("# HELP pcrgate_verifier_start_time_seconds When the verifier started (Unix time).\n"
	      "# TYPE pcrgate_verifier_start_time_seconds gauge\n",
	      f);
	fprintf(f, "pcrgate_verifier_start_time_seconds %lld\n", (long long)m->started);
	render_requests(f, m);
	render_latency(f, m);
	render_labels(f, m);
	if (ferror(f) != 0 || fclose(f) != 0) {
		free(buf);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	*text = buf;
	*len = n;
	return PCRGATE_OK;
}
