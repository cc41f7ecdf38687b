/*
 * pcrgate's evidence benchmark: how fast the library parses and replays event logs and verifies
 * quotes, on one thread, beside the references the issue names (raw OpenSSL verification of the
 * same signatures, tpm2_checkquote on the same files) and its targets, all measured in one run.
 * This file holds the options, the timing loop, the event log figures and the output;
 * evidence_quote.c the quote figures. It prints figures and never fails on them: only an
 * error that leaves nothing to measure gives a non-zero exit. bench/README.md explains each.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "evidence.h"
#include "pcrgate/eventlog.h"

/* The synthetic log: 100 measured events (the Spec ID event comes on top) in two banks. */
#define SYN_EVENTS 100
#define SYN_SEPARATORS 8 /* the last events: EV_SEPARATOR in PCRs 0-7, as firmware ends its part */
#define SYN_PCRS 10	 /* events go round PCRs 0-9: the firmware's and the boot extension's */
#define SYN_MAX_DATA 256

/* Caps on what is read from the shared test data. */
#define REAL_MAX_LOGS 1024
#define MANIFEST_MAX (1024u * 1024)

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int measure_once(double seconds, bench_op op, void *arg, double *rate)
{
	double t0 = bench_now(), t;
	unsigned long n = 0;

	do {
		if (op(arg) != 0)
			return -1;
		n++;
	} while ((t = bench_now() - t0) < seconds);
	*rate = (double)n / (t > 0 ? t : 1e-9);
	return 0;
}

int bench_rate(const struct bench_opts *o, bench_op op, void *arg, double *rate, bench_op op_b, void *arg_b,
	       double *rate_b)
{
	double best = 0, best_b = 0, r;
	int i;

	for (i = 0; i < o->repeats; i++) {
		if (measure_once(o->seconds, op, arg, &r) != 0)
			return -1;
		if (r > best)
			best = r;
		if (op_b == NULL)
			continue;
		if (measure_once(o->seconds, op_b, arg_b, &r) != 0)
			return -1;
		if (r > best_b)
			best_b = r;
	}
	*rate = best;
	if (op_b != NULL)
		*rate_b = best_b;
	return 0;
}

void bench_json_real(json_t *obj, const char *key, double v)
{
	json_object_set_new(obj, key, json_real(v));
}

void bench_json_int(json_t *obj, const char *key, long long v)
{
	json_object_set_new(obj, key, json_integer(v));
}

void bench_json_str(json_t *obj, const char *key, const char *v)
{
	json_object_set_new(obj, key, v != NULL ? json_string(v) : json_null());
}

void bench_say(const struct bench_opts *o, const char *fmt, ...)
{
	va_list ap;

	if (o->json)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* ---- Event logs ---- */

struct logbuf {
	const uint8_t *buf;
	size_t len;
	pcrgate_eventlog *log; /* parsed once, for the replay-only figure */
};

static int op_parse_replay(void *arg)
{
	const struct logbuf *l = arg;
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *pcrs = NULL;
	int r = -1;

	if (pcrgate_eventlog_parse(l->buf, l->len, &log, NULL) == 0 &&
	    pcrgate_eventlog_replay(log, &pcrs, NULL) == 0)
		r = 0;
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);
	return r;
}

static int op_parse(void *arg)
{
	const struct logbuf *l = arg;
	pcrgate_eventlog *log = NULL;

	if (pcrgate_eventlog_parse(l->buf, l->len, &log, NULL) != 0)
		return -1;
	pcrgate_eventlog_free(&log);
	return 0;
}

static int op_replay(void *arg)
{
	const struct logbuf *l = arg;
	pcrgate_pcrs *pcrs = NULL;

	if (pcrgate_eventlog_replay(l->log, &pcrs, NULL) != 0)
		return -1;
	pcrgate_pcrs_free(&pcrs);
	return 0;
}

/* What event i of the synthetic log holds; its digests are those of its data. */
static void syn_event(size_t i, uint32_t *pcr, uint32_t *type, uint8_t *data, size_t *len)
{
	static const uint32_t types[] = {PCRGATE_EV_POST_CODE, PCRGATE_EV_EFI_VARIABLE_DRIVER_CONFIG,
					 PCRGATE_EV_EFI_BOOT_SERVICES_APPLICATION, PCRGATE_EV_EFI_ACTION,
					 PCRGATE_EV_IPL};
	size_t j;

	if (i >= SYN_EVENTS - SYN_SEPARATORS) {
		*pcr = (uint32_t)(i - (SYN_EVENTS - SYN_SEPARATORS));
		*type = PCRGATE_EV_SEPARATOR;
		*len = 4;
		memset(data, 0, 4);
		return;
	}
	*pcr = (uint32_t)(i % SYN_PCRS);
	*type = types[i % (sizeof(types) / sizeof(types[0]))];
	/* 32 to 255 bytes, as firmware's variable, action and image events mostly are. */
	*len = 32 + (i * 53) % (SYN_MAX_DATA - 32);
	for (j = 0; j < *len; j++)
		data[j] = (uint8_t)(i * 31 + j);
}

/* Builds the synthetic log with the library's writer, as the boot code writes its own. */
static int syn_build(uint8_t **out, size_t *outlen)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA1, PCRGATE_ALG_SHA256};
	uint8_t data[SYN_MAX_DATA], d1[20], d256[32], *buf = NULL;
	const pcrgate_eventlog_digest dg[] = {{PCRGATE_ALG_SHA1, d1}, {PCRGATE_ALG_SHA256, d256}};
	size_t cap = pcrgate_eventlog_header_size(2), len = 0, dlen, w, i;
	uint32_t pcr, type;

	for (i = 0; i < SYN_EVENTS; i++) {
		syn_event(i, &pcr, &type, data, &dlen);
		cap += pcrgate_eventlog_event_size(dg, 2, dlen);
	}
	if ((buf = malloc(cap)) == NULL || pcrgate_eventlog_write_header(buf, cap, algs, 2, &w) != 0)
		goto fail;
	len = w;
	for (i = 0; i < SYN_EVENTS; i++) {
		syn_event(i, &pcr, &type, data, &dlen);
		if (pcrgate_digest(PCRGATE_ALG_SHA1, data, dlen, d1) != 0 ||
		    pcrgate_digest(PCRGATE_ALG_SHA256, data, dlen, d256) != 0 ||
		    pcrgate_eventlog_write_event(buf + len, cap - len, pcr, type, dg, 2, data, dlen, &w) != 0)
			goto fail;
		len += w;
	}
	*out = buf;
	*outlen = len;
	return 0;
fail:
	free(buf);
	return -1;
}

static void figure(const struct bench_opts *o, json_t *obj, const char *key, const char *label, double rate)
{
	json_t *f = json_object();

	bench_json_real(f, "us_per_log", 1e6 / rate);
	bench_json_real(f, "logs_per_s", rate);
	json_object_set_new(obj, key, f);
	bench_say(o, "    %-14s %8.2f us/log %10.0f logs/s", label, 1e6 / rate, rate);
}

static int bench_synthetic(const struct bench_opts *o, json_t *out)
{
	struct logbuf l = {NULL, 0, NULL};
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	double both, parse, replay;
	json_t *banks;
	int r = -1;

	memset(&ei, 0, sizeof(ei));
	if (syn_build(&buf, &l.len) != 0) {
		fprintf(stderr, "evidence: cannot write the synthetic event log\n");
		return -1;
	}
	l.buf = buf;
	if (pcrgate_eventlog_parse(l.buf, l.len, &l.log, &ei) != 0) {
		fprintf(stderr, "evidence: the synthetic event log does not parse: %s\n", ei.message);
		goto fail;
	}
	if (pcrgate_eventlog_count(l.log) != SYN_EVENTS + 1 || pcrgate_eventlog_bank_count(l.log) != 2) {
		fprintf(stderr, "evidence: the synthetic event log reads back as %zu events in %zu banks\n",
			pcrgate_eventlog_count(l.log), pcrgate_eventlog_bank_count(l.log));
		goto fail;
	}
	if (bench_rate(o, op_parse_replay, &l, &both, NULL, NULL, NULL) != 0 ||
	    bench_rate(o, op_parse, &l, &parse, NULL, NULL, NULL) != 0 ||
	    bench_rate(o, op_replay, &l, &replay, NULL, NULL, NULL) != 0) {
		fprintf(stderr, "evidence: the synthetic event log failed to parse or replay\n");
		goto fail;
	}
	bench_json_int(out, "events", SYN_EVENTS);
	banks = json_array();
	json_array_append_new(banks, json_string("sha1"));
	json_array_append_new(banks, json_string("sha256"));
	json_object_set_new(out, "banks", banks);
	bench_json_int(out, "bytes", (long long)l.len);
	bench_say(o, "  synthetic log: %d events (and the Spec ID event), sha1+sha256, %zu bytes\n",
		  SYN_EVENTS, l.len);
	figure(o, out, "parse_replay", "parse+replay", both);
	bench_say(o, "   (target < %.0f us: %s)\n", BENCH_TARGET_REPLAY_US,
		  1e6 / both < BENCH_TARGET_REPLAY_US ? "met" : "NOT met");
	figure(o, out, "parse", "parse only", parse);
	bench_say(o, "\n");
	figure(o, out, "replay", "replay only", replay);
	bench_say(o, "\n");
	bench_json_real(out, "target_us_max", BENCH_TARGET_REPLAY_US);
	json_object_set_new(out, "meets_target", json_boolean(1e6 / both < BENCH_TARGET_REPLAY_US));
	r = 0;
fail:
	pcrgate_eventlog_free(&l.log);
	free(buf);
	return r;
}

struct real_logs {
	size_t n, skipped, events, bytes;
	struct logbuf logs[REAL_MAX_LOGS];
};

static int op_real(void *arg)
{
	struct real_logs *rl = arg;
	size_t i;

	for (i = 0; i < rl->n; i++)
		if (op_parse_replay(&rl->logs[i]) != 0)
			return -1;
	return 0;
}

/* Reads one accepted log, checking once that it parses and replays; a failure only skips it. */
static void real_add(struct real_logs *rl, const char *dir, const char *name)
{
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	char path[4096];
	size_t len;

	memset(&ei, 0, sizeof(ei));
	if (rl->n == REAL_MAX_LOGS)
		snprintf(ei.message, sizeof(ei.message), "more than %d logs", REAL_MAX_LOGS);
	else if (name[0] == '\0' || name[0] == '.' || strchr(name, '/') != NULL)
		snprintf(ei.message, sizeof(ei.message), "not a file name");
	if (ei.message[0] != '\0' || (size_t)snprintf(path, sizeof(path), "%s/%s", dir, name) >= sizeof(path) ||
	    pcrgate_file_read(path, PCRGATE_EVENTLOG_MAX_SIZE, &buf, &len, &ei) != 0 ||
	    pcrgate_eventlog_parse(buf, len, &log, &ei) != 0 ||
	    pcrgate_eventlog_replay(log, &pcrs, &ei) != 0) {
		fprintf(stderr, "evidence: skipping event log %s: %s\n", name,
			ei.message[0] != '\0' ? ei.message : "path too long");
		rl->skipped++;
		free(buf);
		pcrgate_eventlog_free(&log);
		return;
	}
	rl->events += pcrgate_eventlog_count(log);
	rl->bytes += len;
	rl->logs[rl->n].buf = buf;
	rl->logs[rl->n].len = len;
	rl->n++;
	pcrgate_pcrs_free(&pcrs);
	pcrgate_eventlog_free(&log);
}

/* Every `accept` log of MANIFEST.tsv (columns name, repo, path, commit, sha256, verdict, note). */
static int real_load(const char *testdata, struct real_logs *rl)
{
	char dir[4096], path[4200], *text, *line, *next;
	uint8_t *buf = NULL;
	size_t len;

	if (testdata == NULL || (size_t)snprintf(dir, sizeof(dir), "%s/eventlogs", testdata) >= sizeof(dir))
		return 1;
	snprintf(path, sizeof(path), "%s/MANIFEST.tsv", dir);
	if (pcrgate_file_read(path, MANIFEST_MAX, &buf, &len, NULL) != 0)
		return 1;
	text = (char *)buf; /* pcrgate_file_read ends the buffer with a NUL */
	for (line = text; line != NULL && *line != '\0'; line = next) {
		char *field[7];
		size_t k = 0;
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		field[k++] = line;
		while (k < 7 && (field[k] = strchr(field[k - 1], '\t')) != NULL)
			*field[k++]++ = '\0';
		if (k >= 6 && strcmp(field[0], "name") != 0 && strcmp(field[5], "accept") == 0)
			real_add(rl, dir, field[0]);
	}
	free(buf);
	return 0;
}

static int bench_real(const struct bench_opts *o, json_t *out)
{
	struct real_logs *rl = calloc(1, sizeof(*rl));
	double rate;
	size_t i;
	int r = -1, loaded;

	if (rl == NULL)
		return -1;
	if ((loaded = real_load(o->testdata, rl)) != 0 || rl->n == 0) {
		const char *why = o->testdata == NULL ? "PCRGATE_TESTDATA is not set"
				  : loaded != 0		? "no eventlogs/MANIFEST.tsv under PCRGATE_TESTDATA"
							: "no log that eventlogs/MANIFEST.tsv accepts could be read";

		json_object_set_new(out, "present", json_false());
		bench_json_str(out, "note", why);
		bench_say(o, "  real logs: none (%s)\n", why);
		r = 0;
		goto done;
	}
	if (bench_rate(o, op_real, rl, &rate, NULL, NULL, NULL) != 0) {
		fprintf(stderr, "evidence: a real event log failed to parse or replay\n");
		goto done;
	}
	json_object_set_new(out, "present", json_true());
	bench_json_int(out, "logs", (long long)rl->n);
	bench_json_int(out, "skipped", (long long)rl->skipped);
	bench_json_int(out, "events", (long long)rl->events);
	bench_json_int(out, "bytes", (long long)rl->bytes);
	bench_json_real(out, "logs_per_s", rate * (double)rl->n);
	bench_json_real(out, "events_per_s", rate * (double)rl->events);
	bench_json_real(out, "us_per_log", 1e6 / (rate * (double)rl->n));
	bench_say(o, "  real logs: %zu accepted in MANIFEST.tsv (%zu skipped), %zu events, %zu bytes\n",
		  rl->n, rl->skipped, rl->events, rl->bytes);
	bench_say(o, "    %-14s %8.2f us/log %10.0f logs/s %10.0f events/s\n", "parse+replay",
		  1e6 / (rate * (double)rl->n), rate * (double)rl->n, rate * (double)rl->events);
	r = 0;
done:
	for (i = 0; i < rl->n; i++)
		free((void *)rl->logs[i].buf);
	free(rl);
	return r;
}

/* ---- Options and output ---- */

static void usage(FILE *fp)
{
	fprintf(fp, "usage: evidence [--seconds S] [--repeats N] [--runs N] [--cli PATH] [--json]\n"
		    "  --seconds S  run each measurement S seconds (default 1)\n"
		    "  --repeats N  measurements per figure, the best kept (default 3)\n"
		    "  --runs N     process runs per quote of tpm2_checkquote and pcrgate (default 20)\n"
		    "  --cli PATH   pcrgate command timed beside tpm2_checkquote (default: PATH's)\n"
		    "  --json       print one JSON object with every figure, reference and target\n"
		    "Real event logs are read from $PCRGATE_TESTDATA/eventlogs when it exists.\n");
}

static int parse_number(const char *s, double lo, double hi, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
		return -1;
	*out = v;
	return 0;
}

/* 0 to run, 1 after --help, -1 on a usage error (printed). */
static int parse_args(int argc, char **argv, struct bench_opts *o)
{
	static const struct option opts[] = {
		{"seconds", required_argument, NULL, 's'}, {"repeats", required_argument, NULL, 'r'},
		{"runs", required_argument, NULL, 'n'},	   {"cli", required_argument, NULL, 'c'},
		{"json", no_argument, NULL, 'j'},	   {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	double v;
	int c;

	o->seconds = 1.0;
	o->repeats = 3;
	o->runs = 20;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			if (parse_number(optarg, 0.001, 600, &o->seconds) != 0)
				goto bad;
			break;
		case 'r':
			if (parse_number(optarg, 1, 100, &v) != 0 || v != (int)v)
				goto bad;
			o->repeats = (int)v;
			break;
		case 'n':
			if (parse_number(optarg, 1, 10000, &v) != 0 || v != (int)v)
				goto bad;
			o->runs = (int)v;
			break;
		case 'c':
			o->cli = optarg;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			goto bad;
		}
	}
	if (optind == argc)
		return 0;
	fprintf(stderr, "evidence: unexpected argument '%s'\n", argv[optind]);
	usage(stderr);
	return -1;
bad:
	if (c != '?')
		fprintf(stderr, "evidence: bad value '%s' for --%s\n", optarg,
			c == 's' ? "seconds" : c == 'r' ? "repeats" : "runs");
	usage(stderr);
	return -1;
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	json_t *root = json_object(), *config = json_object(), *targets = json_object();
	json_t *reference = json_object(), *eventlog = json_object(), *synthetic = json_object();
	json_t *real = json_object(), *quote = json_object();
	int r = 1;

	memset(&o, 0, sizeof(o));
	o.testdata = getenv("PCRGATE_TESTDATA");
	if (o.testdata != NULL && o.testdata[0] == '\0')
		o.testdata = NULL;
	if ((r = parse_args(argc, argv, &o)) != 0) {
		r = r > 0 ? 0 : 2; /* --help, or a usage error */
		goto done;
	}
	r = 1;
	bench_json_str(root, "benchmark", "evidence");
	bench_json_real(config, "seconds", o.seconds);
	bench_json_int(config, "repeats", o.repeats);
	bench_json_int(config, "runs", o.runs);
	bench_json_int(config, "threads", 1);
	json_object_set(root, "config", config);
	bench_json_real(targets, "replay_us_max", BENCH_TARGET_REPLAY_US);
	bench_json_str(targets, "replay_log", "100 events, sha1+sha256, parse and replay");
	bench_json_real(targets, "quote_ratio_min", BENCH_TARGET_QUOTE_RATIO);
	json_object_set(root, "targets", targets);
	bench_json_str(reference, "openssl_version", OpenSSL_version(OPENSSL_VERSION));
	bench_json_str(reference, "openssl_method",
		       "EVP_PKEY_verify on one reused context over the precomputed digest");
	json_object_set(root, "reference", reference);

	bench_say(&o, "pcrgate evidence benchmark: one thread; each rate the best of %d runs of %.2f s\n",
		  o.repeats, o.seconds);
	bench_say(&o, "\nevent logs (pcrgate_eventlog_parse and pcrgate_eventlog_replay)\n");
	if (bench_synthetic(&o, synthetic) != 0 || bench_real(&o, real) != 0)
		goto done;
	json_object_set(eventlog, "synthetic", synthetic);
	json_object_set(eventlog, "real", real);
	json_object_set(root, "eventlog", eventlog);
	if (bench_quotes(&o, quote, reference) != 0)
		goto done;
	json_object_set(root, "quote", quote);
	if (o.json) {
		json_dumpf(root, stdout, JSON_INDENT(2));
		putchar('\n');
	}
	r = fflush(stdout) == 0 ? 0 : 1;
done:
	json_decref(root);
	json_decref(config);
	json_decref(targets);
	json_decref(reference);
	json_decref(eventlog);
	json_decref(synthetic);
	json_decref(real);
	json_decref(quote);
	return r;
}
