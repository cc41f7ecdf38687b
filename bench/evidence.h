/*
 * The evidence benchmark's shared parts: its options, the timing loop every figure goes
 * through, and the sections it runs (event logs in evidence.c, quotes and tpm2_checkquote in
 * evidence_quote.c). Each section prints its lines (unless --json) and adds its figures to
 * the JSON object the benchmark prints with --json.
 */
#ifndef PCRGATE_BENCH_EVIDENCE_H
#define PCRGATE_BENCH_EVIDENCE_H

#include <jansson.h>

/* The targets of the issue, printed beside the figures and recorded in the JSON. */
#define BENCH_TARGET_REPLAY_US 50.0   /* parse and replay of a 100-event, two-bank log */
#define BENCH_TARGET_QUOTE_RATIO 0.80 /* quote verification against raw OpenSSL verification */

struct bench_opts {
	double seconds;	      /* each measurement runs this long */
	int repeats;	      /* measurements per figure; the best is kept */
	int runs;	      /* process runs per quote for tpm2_checkquote and the pcrgate CLI */
	const char *cli;      /* pcrgate command timed beside tpm2_checkquote; NULL: PATH's */
	const char *testdata; /* $PCRGATE_TESTDATA, or NULL */
	int json;	      /* print JSON only */
};

/* One operation under measurement: 0 on success, -1 stops the benchmark. */
typedef int (*bench_op)(void *arg);

double bench_now(void);

/*
 * Best rate (operations per second) of o->repeats measurements of op, each running it for
 * o->seconds (at least once). With op_b, the two are measured alternately, so both see the
 * same machine; *rate_b gets op_b's best rate.
 */
int bench_rate(const struct bench_opts *o, bench_op op, void *arg, double *rate, bench_op op_b, void *arg_b,
	       double *rate_b);

/* Adds a figure to a JSON object; jansson's setters take a fresh reference. */
void bench_json_real(json_t *obj, const char *key, double v);
void bench_json_int(json_t *obj, const char *key, long long v);
void bench_json_str(json_t *obj, const char *key, const char *v);

/* printf to stdout unless o->json. */
__attribute__((format(printf, 2, 3))) void bench_say(const struct bench_opts *o, const char *fmt, ...);

/* The quote section: fills out["quote"] and out["reference"]'s tpm2_checkquote entries. */
int bench_quotes(const struct bench_opts *o, json_t *quote, json_t *reference);

#endif
