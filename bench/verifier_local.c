/*
 * bench/verifier_load's in-process references: what the verifier's own work costs without
 * HTTP, TLS and the store. The evidence a simulated device sends is verified as the verifier
 * does (verifier/api_attest.c: the JSON parsed, the evidence read from it without a key for the
 * AK it carries, pcrgate_quote_verify with the enrolled AK, parsed once as the verifier's cache
 * keeps it, and the device's previous clock, pcrgate_refpolicy_evaluate on what the quote check
 * parsed), beside raw OpenSSL ECDSA P-256 verification of the same signature; each on one
 * thread, then on every core at once.
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "lib/evidence_internal.h"
#include "lib/refpolicy.h"
#include "pcrgate/evidence.h"
#include "rawverify.h"
#include "verifier_device.h"

#define LOCAL_MAX_THREADS 64

/* What one thread verifies; each thread has its own (OpenSSL contexts are not shared). */
struct local {
	const struct vdevice *dev;
	const char *doc; /* the evidence document */
	size_t doc_len;
	const char *policy_doc;
	pcrgate_refpolicy *policy;
	pcrgate_akpub *ak; /* the enrolled AK */
	uint8_t nonce[VDEV_NONCE];
	pcrgate_clock_state previous;
	struct rawverify raw;
};

typedef int (*local_op)(struct local *l);

/* The verifier's work on one attestation, the store left out. */
static int op_pipeline(struct local *l)
{
	pcrgate_evidence *ev = NULL;
	json_t *doc;
	pcrgate_quote_input in;
	pcrgate_quote_result qr;
	pcrgate_refpolicy_verdict v;
	int r = -1;

	memset(&in, 0, sizeof(in));
	memset(&qr, 0, sizeof(qr));
	if ((doc = json_loadb(l->doc, l->doc_len, JSON_REJECT_DUPLICATES, NULL)) == NULL ||
	    pcrgate_evidence_parse_json(doc, PCRGATE_EVIDENCE_NO_AK_KEY, &ev, NULL) != 0 ||
	    pcrgate_evidence_quote_input(ev, &in) != 0)
		goto done;
	in.ak = l->ak;
	in.nonce = l->nonce;
	in.nonce_len = sizeof(l->nonce);
	in.ak_qualified_name = l->dev->qn;
	in.ak_qualified_name_len = l->dev->qn_len;
	in.previous = &l->previous;
	in.accept_clock_restore = 1;
	if (pcrgate_quote_verify(&in, &qr, NULL) != 0 ||
	    pcrgate_refpolicy_evaluate(l->policy, in.pcrs, &qr, &v, NULL) != 0 ||
	    !v.ok || !v.release_matched)
		goto done;
	r = 0;
done:
	pcrgate_quote_result_clear(&qr);
	pcrgate_evidence_free(&ev);
	json_decref(doc);
	return r;
}

static int op_raw(struct local *l)
{
	return rawverify_once(&l->raw);
}

static int op_policy_parse(struct local *l)
{
	pcrgate_refpolicy *p = NULL;

	if (pcrgate_refpolicy_parse((const uint8_t *)l->policy_doc, strlen(l->policy_doc), &p, NULL) != 0)
		return -1;
	pcrgate_refpolicy_free(&p);
	return 0;
}

static int op_evidence_parse(struct local *l)
{
	pcrgate_evidence *ev = NULL;

	if (pcrgate_evidence_parse((const uint8_t *)l->doc, l->doc_len, &ev, NULL) != 0)
		return -1;
	pcrgate_evidence_free(&ev);
	return 0;
}

struct runner {
	struct local *l;
	local_op op;
	double seconds;
	pthread_barrier_t *go;
	unsigned long n;
	double elapsed;
	int failed;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *runner_run(void *arg)
{
	struct runner *r = arg;
	double t0;

	pthread_barrier_wait(r->go);
	t0 = now();
	do {
		if (r->op(r->l) != 0) {
			r->failed = 1;
			break;
		}
		r->n++;
	} while ((r->elapsed = now() - t0) < r->seconds);
	return NULL;
}

/* Operations per second of op on nthreads threads together; -1 when one failed. */
static double rate(struct local *ls, size_t nthreads, local_op op, double seconds)
{
	struct runner rs[LOCAL_MAX_THREADS];
	pthread_t th[LOCAL_MAX_THREADS];
	pthread_barrier_t go;
	double total = 0;
	size_t i, started = 0;
	int failed = 0;

	if (pthread_barrier_init(&go, NULL, (unsigned)nthreads) != 0)
		return -1;
	for (i = 0; i < nthreads; i++) {
		rs[i] = (struct runner){&ls[i], op, seconds, &go, 0, 0, 0};
		if (pthread_create(&th[i], NULL, runner_run, &rs[i]) != 0)
			break;
		started++;
	}
	if (started != nthreads) {
		/* The barrier never opens for fewer threads: nothing to recover, and this never happens. */
		fprintf(stderr, "verifier_load: cannot start %zu threads\n", nthreads);
		exit(1);
	}
	for (i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		failed |= rs[i].failed;
		total += (double)rs[i].n / (rs[i].elapsed > 0 ? rs[i].elapsed : 1e-9);
	}
	pthread_barrier_destroy(&go);
	return failed ? -1 : total;
}

static int local_setup(struct local *l, const struct vdevice *d, const char *doc, const struct vboot *b,
		       const struct vquote *q)
{
	memset(l, 0, sizeof(*l));
	l->dev = d;
	l->doc = doc;
	l->doc_len = strlen(doc);
	l->policy_doc = b->policy;
	l->previous.clock = 999; /* the quote's Clock is 1000: the device attested once before */
	l->previous.reset_count = 2;
	l->previous.restart_count = 1;
	memset(l->nonce, 0x5a, sizeof(l->nonce));
	if (pcrgate_refpolicy_parse((const uint8_t *)b->policy, strlen(b->policy), &l->policy, NULL) != 0 ||
	    (l->ak = pcrgate_akpub_new()) == NULL || pcrgate_akpub_load(l->ak, d->ak_pub, d->ak_pub_len, NULL) != 0 ||
	    rawverify_setup(&l->raw, &d->ak, q->attest, q->attest_len, q->sig, q->sig_len) != 0 || op_pipeline(l) != 0)
		return -1;
	return 0;
}

static void local_free(struct local *l)
{
	pcrgate_refpolicy_free(&l->policy);
	pcrgate_akpub_free(&l->ak);
	rawverify_free(&l->raw);
}

struct figure {
	const char *key, *title;
	local_op op;
	int per_core; /* also measured on every core */
};

int vbench_local(double seconds, int json)
{
	static const struct figure figs[] = {
		{"pipeline", "evidence parse + quote verify + policy evaluation", op_pipeline, 1},
		{"openssl_ecdsa_p256", "raw OpenSSL ECDSA P-256 verify (EVP_PKEY_verify)", op_raw, 1},
		{"evidence_parse", "pcrgate_evidence_parse alone", op_evidence_parse, 0},
		{"policy_parse", "pcrgate_refpolicy_parse of the policy alone", op_policy_parse, 0},
		{"device_evidence", "device side: quote, sign, evidence JSON (load generator's cost)", NULL, 0},
	};
	struct local ls[LOCAL_MAX_THREADS];
	struct vdevice d;
	struct vboot b;
	struct vquote q;
	uint8_t nonce[VDEV_NONCE];
	char *doc = NULL;
	long cores = sysconf(_SC_NPROCESSORS_ONLN);
	size_t ncores = cores < 1 ? 1 : cores > LOCAL_MAX_THREADS ? LOCAL_MAX_THREADS : (size_t)cores, i, made = 0;
	json_t *root = json_object();
	double one, all, t0;
	unsigned long n;
	int r = 1;

	memset(nonce, 0x5a, sizeof(nonce));
	memset(&d, 0, sizeof(d));
	if (vboot_make(&b) != 0 || vdevice_make(&d) != 0)
		goto done;
	if ((doc = vdevice_evidence(&d, &b, nonce, sizeof(nonce), &q)) == NULL)
		goto done;
	for (made = 0; made < ncores; made++)
		if (local_setup(&ls[made], &d, doc, &b, &q) != 0) {
			fprintf(stderr, "verifier_load: the simulated evidence does not verify in process\n");
			made++;
			goto done;
		}
	json_object_set_new(root, "cores", json_integer((json_int_t)ncores));
	json_object_set_new(root, "evidence_bytes", json_integer((json_int_t)strlen(doc)));
	json_object_set_new(root, "eventlog_events", json_integer((json_int_t)b.events));
	if (!json)
		printf("in process, %zu-byte evidence (sha256:8,9 quoted, %zu-event boot log), %.2f s each, "
		       "%zu cores:\n",
		       strlen(doc), b.events, seconds, ncores);
	for (i = 0; i < sizeof(figs) / sizeof(figs[0]); i++) {
		json_t *f = json_object();
		if (figs[i].op == NULL) {
			/* The device's side runs on the same machine as the verifier: what it costs. */
			t0 = now();
			n = 0;
			do {
				char *e = vdevice_evidence(&d, &b, nonce, sizeof(nonce), NULL);
				if (e == NULL)
					goto done;
				free(e);
				n++;
			} while (now() - t0 < seconds);
			one = (double)n / (now() - t0);
		} else if ((one = rate(ls, 1, figs[i].op, seconds)) < 0) {
			fprintf(stderr, "verifier_load: %s failed while measured\n", figs[i].key);
			json_decref(f);
			goto done;
		}
		json_object_set_new(f, "title", json_string(figs[i].title));
		json_object_set_new(f, "per_s_one_thread", json_real(one));
		json_object_set_new(f, "us", json_real(1e6 / one));
		if (!json)
			printf("  %-68s %9.0f/s (%7.1f us) one thread", figs[i].title, one, 1e6 / one);
		if (figs[i].per_core) {
			if ((all = rate(ls, ncores, figs[i].op, seconds)) < 0) {
				json_decref(f);
				goto done;
			}
			json_object_set_new(f, "per_s_all_cores", json_real(all));
			json_object_set_new(f, "per_s_per_core", json_real(all / (double)ncores));
			if (!json)
				printf(", %9.0f/s on %zu cores (%.0f/s per core)", all, ncores, all / (double)ncores);
		}
		if (!json)
			printf("\n");
		json_object_set_new(root, figs[i].key, f);
	}
	if (json) {
		json_dumpf(root, stdout, JSON_COMPACT);
		putchar('\n');
	}
	r = 0;
done:
	for (i = 0; i < made; i++)
		local_free(&ls[i]);
	free(doc);
	vdevice_free(&d);
	vboot_free(&b);
	json_decref(root);
	return r;
}
