/*
 * pcrgate verifier: counters for GET /metrics (Prometheus text format 0.0.4).
 *
 * Requests by route pattern, method and status; answers by route and reason; verdicts by reason;
 * a request latency histogram per route. Counting is lock-free (C11 atomics): the route set is
 * fixed when the metrics are created and labels that come at run time (reasons) go into a small
 * interning table claimed by compare-and-swap, with "other" once it is full.
 */
#ifndef PCRGATE_VERIFIER_METRICS_H
#define PCRGATE_VERIFIER_METRICS_H

#include <stddef.h>

#include "pcrgate/common.h"

#define METRICS_MAX_ROUTES 80   /* route patterns (with method) counted apart */
#define METRICS_MAX_REASONS 64  /* distinct reason labels before they count as "other" */
#define METRICS_MAX_LABEL 64    /* bytes of one reason label */

struct vmetrics;

/* Route i is "method pattern"; index nroutes is kept for requests that matched no route. */
int metrics_new(const char *const *methods, const char *const *patterns, size_t nroutes, struct vmetrics **out,
		pcrgate_errinfo *ei);
void metrics_free(struct vmetrics **m);

/* One answered request: route index (nroutes for none), HTTP status, reason label or NULL/"", seconds taken. */
void metrics_request(struct vmetrics *m, size_t route, int status, const char *reason, double seconds);
/* One attestation verdict: "pass" or the reason / failed check that decided a failure. */
void metrics_verdict(struct vmetrics *m, const char *reason);

/* The text exposition (malloc'd, NUL-terminated) into *text and its length. */
int metrics_render(struct vmetrics *m, char **text, size_t *len, pcrgate_errinfo *ei);

#endif
