/*
 * The evidence benchmark's quote figures: pcrgate_quote_verify on a complete quote against
 * OpenSSL's bare verification of the same signature with the same key, for RSA-2048 RSASSA,
 * RSA-2048 RSAPSS and ECC P-256 ECDSA, all with SHA-256; then tpm2_checkquote and the pcrgate
 * command, run as processes on the same quote written to files.
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <tss2/tss2_tpm2_types.h>

#include "evidence.h"
#include "pcrgate/quote.h"
#include "rawverify.h"

#define Q_PCRS 10     /* sha256:0-9: the firmware's PCRs and the boot extension's */
#define Q_NONCE 32    /* a verifier's nonce */
#define Q_SIG_MAX 600 /* a TPMT_SIGNATURE of these keys */
#define SER_LIST 8    /* digests in one TPML_DIGEST of tpm2-tools' serialized PCR file */
#define SER_SIZE (4 + 16 * 8 + 4 + ((Q_PCRS + SER_LIST - 1) / SER_LIST) * (4 + SER_LIST * 66))
#define PSS_NOTE "it rejects RSAPSS quotes (5.4 verifies RSA signatures as PKCS#1 v1.5 only)"

static const struct qcase {
	const char *name;
	const char *title;
	uint16_t scheme;
	unsigned bits;
} cases[] = {
	{"rsa2048-rsassa", "RSA-2048 RSASSA-SHA256", TPM2_ALG_RSASSA, 2048},
	{"rsa2048-rsapss", "RSA-2048 RSAPSS-SHA256", TPM2_ALG_RSAPSS, 2048},
	{"p256-ecdsa", "ECC P-256 ECDSA-SHA256", TPM2_ALG_ECDSA, 256},
};

struct quote {
	const struct qcase *c;
	struct qt_key key;
	pcrgate_akpub *ak;
	pcrgate_pcrs *pcrs;
	uint8_t nonce[Q_NONCE];
	uint8_t qn[PCRGATE_QUOTE_MAX_NAME];
	uint8_t attest[PCRGATE_QUOTE_MAX_ATTEST];
	uint8_t sig[Q_SIG_MAX];
	size_t qn_len, attest_len, sig_len;
	pcrgate_clock_state previous;
	pcrgate_quote_input in;
	uint32_t checks; /* the checks a verification runs and passes */
	struct rawverify raw; /* OpenSSL alone on the same signature */
};

static int op_pcrgate(void *arg)
{
	const struct quote *q = arg;
	pcrgate_quote_result res;

	return pcrgate_quote_verify(&q->in, &res, NULL) == 0 ? 0 : -1;
}

static int op_openssl(void *arg)
{
	const struct quote *q = arg;

	return rawverify_once(&q->raw);
}

/*
 * A quote as a verifier receives it from an enrolled device: the AK as a TPM public area (an
 * endorsement-hierarchy key), its qualified name known from enrollment, the device's previous
 * clock state, the nonce it issued and the PCR values; every check that needs no event log runs.
 */
static int quote_setup(struct quote *q, const struct qcase *c)
{
	static const uint8_t endorsement[] = {0x40, 0x00, 0x00, 0x0b};
	const uint16_t algs[] = {PCRGATE_ALG_SHA256};
	uint8_t pub[1024], v[32];
	pcrgate_quote_result res;
	TPMS_ATTEST a;
	size_t len, i;

	memset(q, 0, sizeof(*q));
	q->c = c;
	if (qt_key_new(&q->key, c->scheme, PCRGATE_ALG_SHA256, c->bits) != 0 ||
	    (q->ak = pcrgate_akpub_new()) == NULL || (q->pcrs = pcrgate_pcrs_new()) == NULL ||
	    qt_key_export(&q->key, PCRGATE_AKPUB_TPM2B_PUBLIC, pub, sizeof(pub), &len) != 0 ||
	    pcrgate_akpub_load(q->ak, pub, len, NULL) != 0 ||
	    pcrgate_akpub_qualified_name(q->ak, endorsement, sizeof(endorsement), q->qn, &q->qn_len) != 0)
		return -1;
	for (i = 0; i < Q_PCRS; i++) {
		qt_pcr_value(PCRGATE_ALG_SHA256, (unsigned)i, v);
		if (pcrgate_pcrs_set(q->pcrs, PCRGATE_ALG_SHA256, (unsigned)i, v, sizeof(v)) != 0)
			return -1;
	}
	for (i = 0; i < Q_NONCE; i++)
		q->nonce[i] = (uint8_t)(0xa5 ^ (i * 7));
	qt_attest_init(&a, q->qn, q->qn_len, q->nonce, Q_NONCE);
	if (qt_attest_select(&a, q->pcrs, algs, 1, PCRGATE_ALG_SHA256) != 0 ||
	    qt_attest_marshal(&a, q->attest, sizeof(q->attest), &q->attest_len) != 0 ||
	    qt_sign(&q->key, 0, 0, q->attest, q->attest_len, q->sig, sizeof(q->sig), &q->sig_len) != 0)
		return -1;
	q->previous.clock = a.clockInfo.clock - 1;
	q->previous.reset_count = a.clockInfo.resetCount;
	q->previous.restart_count = a.clockInfo.restartCount;
	q->in.ak = q->ak;
	q->in.attest = q->attest;
	q->in.attest_len = q->attest_len;
	q->in.signature = q->sig;
	q->in.signature_len = q->sig_len;
	q->in.nonce = q->nonce;
	q->in.nonce_len = Q_NONCE;
	q->in.pcrs = q->pcrs;
	q->in.ak_qualified_name = q->qn;
	q->in.ak_qualified_name_len = q->qn_len;
	q->in.previous = &q->previous;
	if (pcrgate_quote_verify(&q->in, &res, NULL) != 0) {
		fprintf(stderr, "evidence: %s: the quote is rejected: %s: %s\n", c->name,
			res.failed_name != NULL ? res.failed_name : "?", res.detail);
		return -1;
	}
	q->checks = res.passed;
	return rawverify_setup(&q->raw, &q->key, q->attest, q->attest_len, q->sig, q->sig_len);
}

static void quote_free(struct quote *q)
{
	rawverify_free(&q->raw);
	qt_key_free(&q->key);
	pcrgate_akpub_free(&q->ak);
	pcrgate_pcrs_free(&q->pcrs);
}

/* ---- The same quote as files, for tpm2_checkquote and the pcrgate command ---- */

static void put_le(uint8_t *p, uint32_t v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

/*
 * tpm2_quote -o's default ("serialized") PCR file, which tpm2_checkquote 5.4 reads: the TSS's
 * TPML_PCR_SELECTION and TPML_DIGESTs as C compilers lay them out, little-endian. Written field
 * by field; SER_SIZE bytes for one sha256 bank of Q_PCRS PCRs.
 */
static void pcrs_serialized(const pcrgate_pcrs *pcrs, uint8_t out[SER_SIZE])
{
	uint8_t *p = out;
	uint32_t mask = pcrgate_pcrs_mask(pcrs, PCRGATE_ALG_SHA256);
	unsigned k, n = 0;

	memset(out, 0, SER_SIZE);
	put_le(p, 1, 4);			 /* TPML_PCR_SELECTION.count */
	put_le(p + 4, PCRGATE_ALG_SHA256, 2);	 /* pcrSelections[0].hash */
	p[6] = 3;				 /* sizeofSelect */
	put_le(p + 7, mask, 3);			 /* pcrSelect */
	p += 4 + 16 * 8;			 /* all 16 selections and their padding */
	put_le(p, (Q_PCRS + SER_LIST - 1) / SER_LIST, 4); /* digest lists */
	p += 4;
	for (k = 0; k < Q_PCRS; k++) {
		size_t len;
		const uint8_t *v = pcrgate_pcrs_get(pcrs, PCRGATE_ALG_SHA256, k, &len);
		uint8_t *list = out + 4 + 16 * 8 + 4 + (n / SER_LIST) * (4 + SER_LIST * 66);
		put_le(list, n % SER_LIST + 1, 4);
		put_le(list + 4 + (n % SER_LIST) * 66, (uint32_t)len, 2);
		memcpy(list + 4 + (n % SER_LIST) * 66 + 2, v, len);
		n++;
	}
}

struct qfiles {
	char ak[4200], msg[4200], sig[4200], pcrs[4200], err[4200];
	char nonce_hex[2 * Q_NONCE + 1];
};

static int write_file(const char *dir, const char *name, const char *suffix, const uint8_t *data, size_t len,
		      char *path, size_t cap)
{
	FILE *fp;

	if ((size_t)snprintf(path, cap, "%s/%s.%s", dir, name, suffix) >= cap ||
	    (fp = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(data, 1, len, fp) != len) {
		fclose(fp);
		return -1;
	}
	return fclose(fp) == 0 ? 0 : -1;
}

/* Writes the quote's files, then checks that they pass pcrgate_quote_verify as read back. */
static int files_write(const struct quote *q, const char *dir, struct qfiles *f)
{
	uint8_t pem[4096], ser[SER_SIZE], *ak = NULL, *msg = NULL, *sig = NULL, *pcrbuf = NULL;
	size_t pem_len, ak_len, msg_len, sig_len, pcr_len;
	pcrgate_akpub *akpub = pcrgate_akpub_new();
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_quote_input in;
	pcrgate_quote_result res;
	pcrgate_errinfo ei;
	int detected = 0, r = -1;

	memset(&ei, 0, sizeof(ei));
	pcrs_serialized(q->pcrs, ser);
	pcrgate_hex_encode(q->nonce, Q_NONCE, f->nonce_hex);
	if (akpub == NULL || qt_key_export(&q->key, PCRGATE_AKPUB_PEM, pem, sizeof(pem), &pem_len) != 0 ||
	    write_file(dir, q->c->name, "ak.pem", pem, pem_len, f->ak, sizeof(f->ak)) != 0 ||
	    write_file(dir, q->c->name, "msg", q->attest, q->attest_len, f->msg, sizeof(f->msg)) != 0 ||
	    write_file(dir, q->c->name, "sig", q->sig, q->sig_len, f->sig, sizeof(f->sig)) != 0 ||
	    write_file(dir, q->c->name, "pcrs", ser, sizeof(ser), f->pcrs, sizeof(f->pcrs)) != 0 ||
	    (size_t)snprintf(f->err, sizeof(f->err), "%s/%s.err", dir, q->c->name) >= sizeof(f->err)) {
		fprintf(stderr, "evidence: cannot write the quote files in %s\n", dir);
		goto fail;
	}
	if (pcrgate_file_read(f->ak, sizeof(pem), &ak, &ak_len, &ei) != 0 ||
	    pcrgate_file_read(f->msg, PCRGATE_QUOTE_MAX_ATTEST, &msg, &msg_len, &ei) != 0 ||
	    pcrgate_file_read(f->sig, PCRGATE_QUOTE_MAX_SIGNATURE, &sig, &sig_len, &ei) != 0 ||
	    pcrgate_file_read(f->pcrs, PCRGATE_PCRFILE_MAX, &pcrbuf, &pcr_len, &ei) != 0 ||
	    pcrgate_akpub_load(akpub, ak, ak_len, &ei) != 0 ||
	    pcrgate_pcrfile_parse(pcrbuf, pcr_len, PCRGATE_PCRFILE_AUTO, msg, msg_len, &pcrs, &detected,
				  &ei) != 0)
		goto bad;
	if (detected != PCRGATE_PCRFILE_SERIALIZED) {
		snprintf(ei.message, sizeof(ei.message), "the PCR file reads as %s, not serialized",
			 pcrgate_pcrfile_format_name(detected));
		goto bad;
	}
	memset(&in, 0, sizeof(in));
	in.ak = akpub;
	in.attest = msg;
	in.attest_len = msg_len;
	in.signature = sig;
	in.signature_len = sig_len;
	in.nonce = q->nonce;
	in.nonce_len = Q_NONCE;
	in.pcrs = pcrs;
	if (pcrgate_quote_verify(&in, &res, &ei) != 0)
		goto bad;
	r = 0;
	goto fail;
bad:
	fprintf(stderr, "evidence: %s: the quote files do not verify: %s\n", q->c->name, ei.message);
fail:
	free(ak);
	free(msg);
	free(sig);
	free(pcrbuf);
	pcrgate_pcrs_free(&pcrs);
	pcrgate_akpub_free(&akpub);
	return r;
}

static void files_remove(const struct qfiles *f)
{
	unlink(f->ak);
	unlink(f->msg);
	unlink(f->sig);
	unlink(f->pcrs);
	unlink(f->err);
}

/*
 * Runs argv[0] with stdout to a pipe (its first cap-1 bytes kept in capture, when given) or
 * /dev/null, and stderr to errpath (or /dev/null). Returns the exit status, -1 when it did not
 * run to an exit.
 */
static int run(char *const argv[], const char *errpath, char *capture, size_t cap)
{
	int fds[2] = {-1, -1}, status;
	size_t used = 0;
	ssize_t n;
	char sink[256];
	pid_t pid;

	if (capture != NULL && pipe(fds) != 0)
		return -1;
	if ((pid = fork()) < 0) {
		if (capture != NULL) {
			close(fds[0]);
			close(fds[1]);
		}
		return -1;
	}
	if (pid == 0) {
		int out = capture != NULL ? fds[1] : open("/dev/null", O_WRONLY);
		int err = open(errpath != NULL ? errpath : "/dev/null", O_WRONLY | O_CREAT | O_TRUNC, 0600);
		if (out < 0 || err < 0 || dup2(out, 1) < 0 || dup2(err, 2) < 0)
			_exit(127);
		if (capture != NULL)
			close(fds[0]);
		execv(argv[0], argv);
		_exit(127);
	}
	if (capture != NULL) {
		close(fds[1]);
		/* Read to the end (past cap into sink) so the child never blocks on a full pipe. */
		for (;;) {
			char *dst = used + 1 < cap ? capture + used : sink;
			size_t room = used + 1 < cap ? cap - 1 - used : sizeof(sink);
			if ((n = read(fds[0], dst, room)) <= 0)
				break;
			if (dst != sink)
				used += (size_t)n;
		}
		capture[used] = '\0';
		close(fds[0]);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/* Where PATH finds an executable name, or 0 when it does not. */
static int find_in_path(const char *name, char *out, size_t cap)
{
	const char *path = getenv("PATH"), *p, *end;

	for (p = path; p != NULL && *p != '\0'; p = *end != '\0' ? end + 1 : end) {
		if ((end = strchr(p, ':')) == NULL)
			end = p + strlen(p);
		if (end > p && (size_t)snprintf(out, cap, "%.*s/%s", (int)(end - p), p, name) < cap &&
		    access(out, X_OK) == 0)
			return 1;
	}
	return 0;
}

/* The first line of a file (a failed command's stderr), for a note. */
static void first_line(const char *path, char *out, size_t cap)
{
	FILE *fp = fopen(path, "r");

	out[0] = '\0';
	if (fp == NULL)
		return;
	if (fgets(out, (int)cap, fp) != NULL)
		out[strcspn(out, "\r\n")] = '\0';
	fclose(fp);
}

/*
 * Times a command on one quote's files: one untimed run, then o->runs timed runs, each of
 * which includes starting the process; fills obj with the figures. When a run fails, returns
 * its exit status (-1 when it did not exit) with the first line of its stderr in note.
 */
static int time_command(const struct bench_opts *o, char *const argv[], const char *errpath, json_t *obj,
			double *ms_mean, char *note, size_t note_cap)
{
	double t0, t, total = 0, min = 0;
	int i, st;

	if ((st = run(argv, errpath, NULL, 0)) != 0) {
		first_line(errpath, note, note_cap);
		return st;
	}
	for (i = 0; i < o->runs; i++) {
		t0 = bench_now();
		if ((st = run(argv, errpath, NULL, 0)) != 0) {
			first_line(errpath, note, note_cap);
			return st;
		}
		t = bench_now() - t0;
		total += t;
		if (i == 0 || t < min)
			min = t;
	}
	*ms_mean = 1e3 * total / o->runs;
	bench_json_str(obj, "status", "measured");
	bench_json_int(obj, "runs", o->runs);
	bench_json_real(obj, "ms_per_quote", *ms_mean);
	bench_json_real(obj, "ms_min", 1e3 * min);
	return 0;
}

static void checkquote(const struct bench_opts *o, const struct quote *q, const struct qfiles *f,
		       const char *tool, json_t *obj)
{
	char *argv[] = {(char *)tool, "-u", (char *)f->ak, "-m", (char *)f->msg, "-s", (char *)f->sig, "-f",
			(char *)f->pcrs, "-g", "sha256", "-q", (char *)f->nonce_hex, NULL};
	char note[256], why[300];
	double ms;
	int st;

	if (tool == NULL) {
		bench_json_str(obj, "status", "not installed");
		bench_say(o, "    tpm2_checkquote   not installed\n");
		return;
	}
	if ((st = time_command(o, argv, f->err, obj, &ms, note, sizeof(note))) == 0) {
		bench_say(o, "    tpm2_checkquote   %8.3f ms/quote\n", ms);
		return;
	}
	if (q->c->scheme == TPM2_ALG_RSAPSS && st == 1) {
		/* tpm2-tools 5.4 verifies every RSA signature as PKCS#1 v1.5, so it rejects RSAPSS quotes. */
		bench_json_str(obj, "status", "unsupported");
		bench_json_str(obj, "note", PSS_NOTE);
		bench_say(o, "    tpm2_checkquote   skipped: %s\n", PSS_NOTE);
		return;
	}
	snprintf(why, sizeof(why), "exit %d: %s", st, note);
	bench_json_str(obj, "status", "failed");
	bench_json_str(obj, "note", why);
	bench_say(o, "    tpm2_checkquote   failed on a quote pcrgate accepts (%s)\n", why);
}

static void cli(const struct bench_opts *o, const char *pcrgate, const struct qfiles *f, json_t *obj)
{
	char *argv[] = {(char *)pcrgate,	     "quote", "verify", "--ak",	 (char *)f->ak,
			"--attest",	     (char *)f->msg, "--sig", (char *)f->sig, "--pcrs",
			(char *)f->pcrs,     "--nonce", (char *)f->nonce_hex, NULL};
	char note[256], why[300];
	double ms;
	int st;

	if (pcrgate == NULL) {
		bench_json_str(obj, "status", "not found");
		bench_say(o, "    pcrgate command   not found (give --cli)\n");
		return;
	}
	if ((st = time_command(o, argv, f->err, obj, &ms, note, sizeof(note))) == 0) {
		bench_say(o, "    pcrgate command   %8.3f ms/quote\n", ms);
		return;
	}
	snprintf(why, sizeof(why), "exit %d: %s", st, note);
	bench_json_str(obj, "status", "failed");
	bench_json_str(obj, "note", why);
	bench_say(o, "    pcrgate command   failed (%s)\n", why);
}

/* tpm2-tools' version from `tpm2_checkquote -v` (tool="..." version="5.4" ...), or NULL. */
static json_t *checkquote_version(const char *tool)
{
	char *argv[] = {(char *)tool, "-v", NULL};
	char out[512], *v, *end;

	if (run(argv, NULL, out, sizeof(out)) != 0 || (v = strstr(out, "version=\"")) == NULL)
		return json_null();
	v += strlen("version=\"");
	if ((end = strchr(v, '"')) == NULL)
		return json_null();
	*end = '\0';
	return json_string(v);
}

/* The names of the checks a verification passed, as a JSON array and as text. */
static json_t *checks_list(uint32_t passed, char *text, size_t cap)
{
	json_t *arr = json_array();
	size_t used = 0;
	int c, n;

	text[0] = '\0';
	for (c = PCRGATE_QUOTE_CHECK_NONE + 1; c < PCRGATE_QUOTE_CHECK_COUNT; c++) {
		const char *name = pcrgate_quote_check_name((pcrgate_quote_check)c);
		if (!(passed & (1u << c)))
			continue;
		json_array_append_new(arr, json_string(name));
		n = snprintf(text + used, cap - used, " %s", name);
		if (n > 0 && (size_t)n < cap - used)
			used += (size_t)n;
	}
	return arr;
}

static int one_case(const struct bench_opts *o, const struct qcase *c, const char *dir, const char *tool,
		    const char *pcrgate, json_t *quote)
{
	struct quote q;
	struct qfiles f;
	double rate, raw, ratio;
	json_t *obj = json_object(), *checks = NULL, *tcq = json_object(), *cl = json_object();
	char text[256];
	int r = -1;

	memset(&f, 0, sizeof(f));
	if (quote_setup(&q, c) != 0) {
		fprintf(stderr, "evidence: %s: cannot make the quote\n", c->name);
		goto fail;
	}
	if (bench_rate(o, op_pcrgate, &q, &rate, op_openssl, &q, &raw) != 0) {
		fprintf(stderr, "evidence: %s: a verification failed while measured\n", c->name);
		goto fail;
	}
	ratio = rate / raw;
	checks = checks_list(q.checks, text, sizeof(text));
	if (c == &cases[0])
		bench_say(o, "  checks each verification runs:%s\n", text);
	bench_say(o, "  quote verify %s: %.0f/s (%.1f us)  openssl %.0f/s (%.1f us)  ratio %.0f%% "
		     "(target >= %.0f%%: %s)\n",
		  c->name, rate, 1e6 / rate, raw, 1e6 / raw, 100 * ratio, 100 * BENCH_TARGET_QUOTE_RATIO,
		  ratio >= BENCH_TARGET_QUOTE_RATIO ? "met" : "NOT met");
	bench_json_str(obj, "title", c->title);
	bench_json_str(obj, "pcrs", "sha256:0-9");
	json_object_set(obj, "checks", checks);
	bench_json_real(obj, "verify_per_s", rate);
	bench_json_real(obj, "verify_us", 1e6 / rate);
	bench_json_real(obj, "openssl_verify_per_s", raw);
	bench_json_real(obj, "openssl_verify_us", 1e6 / raw);
	bench_json_real(obj, "ratio", ratio);
	bench_json_real(obj, "target_ratio_min", BENCH_TARGET_QUOTE_RATIO);
	json_object_set_new(obj, "meets_target", json_boolean(ratio >= BENCH_TARGET_QUOTE_RATIO));
	if (files_write(&q, dir, &f) != 0)
		goto fail;
	checkquote(o, &q, &f, tool, tcq);
	cli(o, pcrgate, &f, cl);
	json_object_set(obj, "tpm2_checkquote", tcq);
	json_object_set(obj, "pcrgate_cli", cl);
	json_object_set(quote, c->name, obj);
	r = 0;
fail:
	files_remove(&f);
	quote_free(&q);
	json_decref(obj);
	json_decref(checks);
	json_decref(tcq);
	json_decref(cl);
	return r;
}

int bench_quotes(const struct bench_opts *o, json_t *quote, json_t *reference)
{
	char tool[4096], pcrgate[4096], dirbuf[4096];
	const char *tmp = getenv("TMPDIR"), *found = NULL, *cmd = o->cli;
	json_t *version;
	size_t i;
	int r = 0;

	if (find_in_path("tpm2_checkquote", tool, sizeof(tool)))
		found = tool;
	if (cmd == NULL && find_in_path("pcrgate", pcrgate, sizeof(pcrgate)))
		cmd = pcrgate;
	bench_json_str(reference, "pcrgate_cli", cmd);
	bench_json_str(reference, "tpm2_checkquote", found);
	version = found != NULL ? checkquote_version(found) : json_null();
	json_object_set_new(reference, "tpm2_checkquote_version", version);
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	snprintf(dirbuf, sizeof(dirbuf), "%s/pcrgate-bench.XXXXXX", tmp);
	if (mkdtemp(dirbuf) == NULL) {
		fprintf(stderr, "evidence: cannot make a directory for the quote files\n");
		return -1;
	}
	bench_say(o, "\nquotes: pcrgate_quote_verify, one call per quote (sha256:0-9 quoted), against\n"
		     "raw OpenSSL: EVP_PKEY_verify on one reused context over the precomputed digest.\n"
		     "Then the same quote as files (AK PEM, attest, signature, serialized PCRs)\n"
		     "through tpm2_checkquote%s%s and the pcrgate command (pcrgate quote verify),\n"
		     "as processes: the mean of %d runs each\n",
		  json_is_string(version) ? " " : "", json_is_string(version) ? json_string_value(version) : "",
		  o->runs);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]) && r == 0; i++)
		r = one_case(o, &cases[i], dirbuf, found, cmd, quote);
	rmdir(dirbuf);
	return r;
}
