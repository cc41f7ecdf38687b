/*
 * pcrgate-agent: the device agent's command line. Global options name the config file, the
 * TPM and the state directory; each command is one function: provision, status, counter,
 * quote, certify and unwrap; the verifier's client: enroll, attest and report; and updates:
 * update, approve and commit. docs/man/pcrgate-agent.1 is the manual, docs/agent.md the guide.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "agent.h"
#include "jsonutil.h"
#include "policy.h"

enum { EXIT_OK = 0, EXIT_FAIL = 1, EXIT_USAGE = 2, EXIT_DEFERRED = 3 };

#define MAX_NONCE 64       /* a TPM2B_DATA */
#define MAX_CIPHERTEXT 512 /* an RSA-4096 block */
#define MAX_REPORT (64 * 1024) /* bytes of an update report sent with an attestation */
#define MAX_RELEASE 128
#define MAX_REASON 1024

static void err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void err(const char *fmt, ...)
{
	va_list ap;

	fputs("pcrgate-agent: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void report(const char *context, const pcrgate_errinfo *ei)
{
	const char *msg = ei->message[0] ? ei->message : pcrgate_strerror(ei->code);

	if (ei->has_offset)
		err("%s: at offset %zu: %s", context, ei->offset, msg);
	else
		err("%s: %s", context, msg);
}

static void usage(FILE *f)
{
	fputs("usage: pcrgate-agent [--config FILE] [--tcti TCTI] [--state-dir DIR] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  provision [--json]            make the EKs, SRK, counter, AK, update and TLS keys (idempotent)\n"
	      "  status [--json]               the agent's TPM objects and whether each is as provisioned\n"
	      "  counter read                  the anti-rollback counter's value\n"
	      "  counter raise VERSION         raise the counter to exactly VERSION\n"
	      "  quote --nonce HEX [--out F]   a quote with the event logs, as one JSON evidence document\n"
	      "  certify --nonce HEX [--out F] the AK's certification of the update key (JSON)\n"
	      "  unwrap --policy P --in C --out K\n"
	      "                                decrypt C with the update key under the signed policy P\n"
	      "  enroll [--force]              enroll this TPM with the configured verifier\n"
	      "  attest [--report F] [--out F] attest to the verifier; keeps an update authorization\n"
	      "  report --release R --outcome installed|committed|fell-back|failed [--reason TEXT] [--out F]\n"
	      "                                an attestation that carries an update's outcome\n"
	      "  update [--bundle FILE]        attest, then install the authorized release into the other slot\n"
	      "  approve [RELEASE]             approve the update waiting for local approval\n"
	      "  commit                        commit the release on trial (health check, attest, counter), or\n"
	      "                                report its fallback\n"
	      "\n"
	      "  --config FILE   the agent's config file (default " AGENT_DEFAULT_CONFIG ", or $" AGENT_CONFIG_ENV ")\n"
	      "  --tcti TCTI     the TPM (default: the config's tcti, else as pcrgate.conf and $PCRGATE_TCTI say)\n"
	      "  --state-dir DIR the agent's state directory (default " AGENT_DEFAULT_STATE_DIR ")\n"
	      "\n"
	      "Exit status: 0 success, 1 failure (named on stderr), 2 usage error, 3 update deferred\n"
	      "(maintenance window or approval). 'man pcrgate-agent'.\n",
	      f);
}

/* A command's options. */
struct cmd_args {
	int json, force;
	const char *nonce, *out, *policy, *in, *report, *release, *outcome, *reason, *bundle;
};

/* Every command's options; each command allows some of them (parse_cmd). */
static const struct option cmd_opts[] = {
	{"json", no_argument, NULL, 'j'},	   {"nonce", required_argument, NULL, 'n'},
	{"out", required_argument, NULL, 'o'},	   {"policy", required_argument, NULL, 'p'},
	{"in", required_argument, NULL, 'i'},	   {"help", no_argument, NULL, 'h'},
	{"force", no_argument, NULL, 'f'},	   {"report", required_argument, NULL, 'r'},
	{"release", required_argument, NULL, 'R'}, {"outcome", required_argument, NULL, 'O'},
	{"reason", required_argument, NULL, 'e'},  {"bundle", required_argument, NULL, 'b'},
	{NULL, 0, NULL, 0},
};

/*
 * 1 when a command's arguments (argv[0] the command) ask for help, read as parse_cmd reads
 * them: "-h" as the value of an option (--reason -h) is that value, not a request for help.
 */
static int cmd_wants_help(int argc, char **argv)
{
	int c, help = 0;

	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", cmd_opts, NULL)) != -1)
		if (c == 'h')
			help = 1;
	return help;
}

/*
 * Reads the options of a command (argv[0]) that allowed lists (their short letters) into a; returns
 * the index of its first operand, or -1. Help was answered before (cmd_wants_help).
 */
static int parse_cmd(int argc, char **argv, const char *allowed, struct cmd_args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", cmd_opts, NULL)) != -1) {
		if (c == '?' || c == ':' || strchr(allowed, c) == NULL) {
			err("%s: unknown option or missing value '%s'", argv[0], argv[optind - 1]);
			return -1;
		}
		switch (c) {
		case 'j':
			a->json = 1;
			break;
		case 'n':
			a->nonce = optarg;
			break;
		case 'b':
			a->bundle = optarg;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'p':
			a->policy = optarg;
			break;
		case 'f':
			a->force = 1;
			break;
		case 'r':
			a->report = optarg;
			break;
		case 'R':
			a->release = optarg;
			break;
		case 'O':
			a->outcome = optarg;
			break;
		case 'e':
			a->reason = optarg;
			break;
		default:
			a->in = optarg;
			break;
		}
	}
	return optind;
}

static int no_more(int argc, char **argv, int i)
{
	if (i < argc) {
		err("%s: unexpected argument '%s'", argv[0], argv[i]);
		return -1;
	}
	return 0;
}

static int cmd_provision(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	struct agent_report rep;
	struct cmd_args a;
	pcrgate_errinfo ei;
	json_t *doc = NULL, *steps, *s;
	char h[11];
	size_t i;
	int r, rc = EXIT_FAIL;

	if ((r = parse_cmd(argc, argv, "j", &a)) < 0 || no_more(argc, argv, r) != 0)
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	r = agent_provision(tpm, cfg, &rep, &ei);
	if (!a.json) {
		for (i = 0; i < rep.count; i++)
			printf("%-10s 0x%08x  %s\n", rep.steps[i].name, (unsigned)rep.steps[i].handle, rep.steps[i].what);
		if (r == PCRGATE_OK)
			printf("provisioned: %u change%s\n", rep.changed, rep.changed == 1 ? "" : "s");
	} else if ((doc = json_object()) != NULL && (steps = json_array()) != NULL &&
		   json_object_set_new(doc, "steps", steps) == 0) {
		for (i = 0; i < rep.count; i++) {
			snprintf(h, sizeof(h), "0x%08x", (unsigned)rep.steps[i].handle);
			s = json_pack("{s:s,s:s,s:b,s:s}", "step", rep.steps[i].name, "handle", h, "changed",
				      rep.steps[i].changed, "what", rep.steps[i].what);
			json_array_append_new(steps, s);
		}
		json_object_set_new(doc, "changed", json_integer(rep.changed));
		json_object_set_new(doc, "ok", json_boolean(r == PCRGATE_OK));
		if (jsonutil_write(doc, NULL, &ei) != PCRGATE_OK && r == PCRGATE_OK)
			r = ei.code;
	}
	json_decref(doc);
	if (r != PCRGATE_OK)
		report("provision", &ei);
	else
		rc = EXIT_OK;
	return rc;
}

static int cmd_status(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	struct cmd_args a;
	pcrgate_errinfo ei;
	json_t *doc = NULL, *objs, *o;
	const char *key;
	int i, complete = 0;

	if ((i = parse_cmd(argc, argv, "j", &a)) < 0 || no_more(argc, argv, i) != 0)
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (agent_status(tpm, cfg, &doc, &complete, &ei) != PCRGATE_OK) {
		report("status", &ei);
		return EXIT_FAIL;
	}
	if (a.json) {
		if (jsonutil_write(doc, NULL, &ei) != PCRGATE_OK)
			report("status", &ei);
	} else {
		objs = json_object_get(doc, "objects");
		json_object_foreach(objs, key, o) {
			json_t *h = json_object_get(o, "handle") ? json_object_get(o, "handle") : json_object_get(o, "index");
			json_t *p = json_object_get(o, "problem"), *v = json_object_get(o, "value");

			printf("%-10s %s  %s", key, json_string_value(h), json_string_value(json_object_get(o, "state")));
			if (v != NULL)
				printf(" (value %" JSON_INTEGER_FORMAT ")", json_integer_value(v));
			printf("%s%s\n", p ? ": " : "", p ? json_string_value(p) : "");
		}
		printf("%s\n", complete ? "complete" : "incomplete: run 'pcrgate-agent provision'");
	}
	json_decref(doc);
	return complete ? EXIT_OK : EXIT_FAIL;
}

static int cmd_counter(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	pcrgate_errinfo ei;
	unsigned long long target;
	uint64_t value = 0, before = 0, steps = 0;
	char *end;

	pcrgate_errinfo_clear(&ei);
	if (argc == 2 && strcmp(argv[1], "read") == 0) {
		if (agent_counter_read(pcrgate_tpm_esys(tpm), cfg->counter_index, &value, &ei) != PCRGATE_OK) {
			report("counter read", &ei);
			return EXIT_FAIL;
		}
		printf("%llu\n", (unsigned long long)value);
		return EXIT_OK;
	}
	if (argc == 3 && strcmp(argv[1], "raise") == 0) {
		errno = 0;
		target = strtoull(argv[2], &end, 10);
		if (argv[2][0] < '0' || argv[2][0] > '9' || *end != '\0' || errno != 0) {
			err("counter raise: '%s' is not a security version (a decimal number)", argv[2]);
			return EXIT_USAGE;
		}
		if (agent_counter_raise(tpm, cfg, target, &before, &steps, &ei) != PCRGATE_OK) {
			report("counter raise", &ei);
			return EXIT_FAIL;
		}
		printf("counter 0x%08x: %llu -> %llu (%llu increment%s)\n", (unsigned)cfg->counter_index,
		       (unsigned long long)before, target, (unsigned long long)steps, steps == 1 ? "" : "s");
		return EXIT_OK;
	}
	err("counter: 'counter read' or 'counter raise VERSION'");
	return EXIT_USAGE;
}

/* --nonce HEX: 0 to 64 bytes (a TPM2B_DATA). */
static int parse_nonce(const char *cmd, const char *hex, uint8_t *out, size_t *len)
{
	if (hex == NULL) {
		err("%s: --nonce HEX is required (the verifier's challenge)", cmd);
		return -1;
	}
	if (hex[0] == '\0') {
		*len = 0;
		return 0;
	}
	if (pcrgate_hex_decode(hex, out, MAX_NONCE, len) != 0) {
		err("%s: --nonce needs hex of at most %d bytes", cmd, MAX_NONCE);
		return -1;
	}
	return 0;
}

/* The commands that answer a nonce with a signed JSON document (quote, certify). */
typedef int (*nonce_doc_fn)(pcrgate_tpm *tpm, const struct agent_config *cfg, const uint8_t *nonce,
			    size_t nonce_len, json_t **out, pcrgate_errinfo *ei);

static int run_nonce_doc(const char *name, nonce_doc_fn make, const struct agent_config *cfg, pcrgate_tpm *tpm,
			 int argc, char **argv)
{
	uint8_t nonce[MAX_NONCE];
	struct cmd_args a;
	pcrgate_errinfo ei;
	json_t *doc = NULL;
	size_t nlen = 0;
	int i, rc = EXIT_FAIL;

	if ((i = parse_cmd(argc, argv, "no", &a)) < 0 || no_more(argc, argv, i) != 0 ||
	    parse_nonce(name, a.nonce, nonce, &nlen) != 0)
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (make(tpm, cfg, nonce, nlen, &doc, &ei) == PCRGATE_OK && jsonutil_write(doc, a.out, &ei) == PCRGATE_OK)
		rc = EXIT_OK;
	else
		report(name, &ei);
	json_decref(doc);
	return rc;
}

static int cmd_certify(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	return run_nonce_doc("certify", agent_certify, cfg, tpm, argc, argv);
}

static int cmd_quote(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	return run_nonce_doc("quote", agent_quote, cfg, tpm, argc, argv);
}

static int cmd_unwrap(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	uint8_t *policy = NULL, *cipher = NULL, *plain = NULL;
	size_t plen = 0, clen = 0, klen = 0;
	struct cmd_args a;
	pcrgate_errinfo ei;
	int i, rc = EXIT_FAIL;

	if ((i = parse_cmd(argc, argv, "pio", &a)) < 0 || no_more(argc, argv, i) != 0)
		return EXIT_USAGE;
	if (a.policy == NULL || a.in == NULL || a.out == NULL) {
		err("unwrap: --policy, --in and --out are required");
		return EXIT_USAGE;
	}
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(a.policy, POLICY_FILE_MAX, &policy, &plen, &ei) != PCRGATE_OK) {
		report(a.policy, &ei);
		goto fail;
	}
	if (pcrgate_file_read(a.in, MAX_CIPHERTEXT, &cipher, &clen, &ei) != PCRGATE_OK) {
		report(a.in, &ei);
		goto fail;
	}
	if (agent_unwrap(tpm, cfg, policy, plen, cipher, clen, &plain, &klen, &ei) != PCRGATE_OK) {
		report("unwrap", &ei);
		goto fail;
	}
	/* The content key: readable by the agent's user only. */
	if (pcrgate_file_write_atomic(a.out, plain, klen, 0600, &ei) != PCRGATE_OK) {
		report(a.out, &ei);
		goto fail;
	}
	rc = EXIT_OK;
fail:
	OPENSSL_clear_free(plain, klen);
	free(policy);
	free(cipher);
	return rc;
}

static int cmd_enroll(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	struct agent_enrollment e;
	struct cmd_args a;
	pcrgate_errinfo ei;
	int i;

	if ((i = parse_cmd(argc, argv, "f", &a)) < 0 || no_more(argc, argv, i) != 0)
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (agent_enroll(tpm, cfg, a.force, &e, &ei) != PCRGATE_OK) {
		report("enroll", &ei);
		return EXIT_FAIL;
	}
	if (e.already)
		printf("enrolled already as %s (--force enrolls again)\n", e.device_id);
	else
		printf("enrolled: device %s\n", e.device_id);
	return EXIT_OK;
}

/* A member of an object as text: strings as they are, numbers in decimal, else NULL. */
static const char *member_text(const json_t *o, const char *key, char *buf, size_t cap)
{
	const json_t *v = json_object_get(o, key);

	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, cap, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	}
	return NULL;
}

static const char *known(const char *s)
{
	return s != NULL ? s : "?";
}

/* The verdict for people; exit 0 on pass, 1 on fail. */
static int print_verdict(const struct agent_config *cfg, const json_t *resp, int authorized)
{
	const json_t *reasons = json_object_get(resp, "reasons"), *authz = json_object_get(resp, "authorization");
	const char *id = json_string_value(json_object_get(resp, "attestation_id"));
	const char *check = agent_failed_check(resp);
	const char *code, *detail;
	char b0[32], b1[32], b2[32];
	const json_t *r;
	size_t i;
	int pass = check == NULL;

	printf("verdict: %s", pass ? "pass" : "fail");
	if (!pass)
		printf(": %s", check);
	if (id != NULL)
		printf(" (attestation %s)", id);
	putchar('\n');
	json_array_foreach(reasons, i, r) {
		code = json_is_string(r) ? json_string_value(r) : json_string_value(json_object_get(r, "code"));
		detail = json_string_value(json_object_get(r, "detail"));
		printf("  reason: %s%s%s\n", code ? code : "?", detail ? ": " : "", detail ? detail : "");
	}
	if (json_is_string(json_object_get(resp, "release")))
		printf("release: %s\n", json_string_value(json_object_get(resp, "release")));
	if (authorized) {
		printf("authorized: release %s version %s (security version %s) from %s\n",
		       known(member_text(authz, "release", b0, sizeof(b0))), known(member_text(authz, "version", b1, sizeof(b1))),
		       known(member_text(authz, "security_version", b2, sizeof(b2))),
		       known(json_string_value(json_object_get(authz, "bundle_url"))));
		printf("authorization saved to %s/%s\n", cfg->state_dir, AGENT_AUTHORIZATION_FILE);
	}
	return pass ? EXIT_OK : EXIT_FAIL;
}

static int run_attest(const char *name, const struct agent_config *cfg, pcrgate_tpm *tpm, const uint8_t *doc,
		      size_t len, const char *out)
{
	pcrgate_errinfo ei;
	json_t *resp = NULL;
	int authorized = 0, rc = EXIT_FAIL;

	pcrgate_errinfo_clear(&ei);
	if (agent_attest(tpm, cfg, doc, len, &resp, &authorized, &ei) != PCRGATE_OK) {
		report(name, &ei);
		return EXIT_FAIL;
	}
	if (out != NULL && jsonutil_write_mode(resp, out, 0600, &ei) != PCRGATE_OK)
		report(out, &ei);
	else
		rc = print_verdict(cfg, resp, authorized);
	json_decref(resp);
	return rc;
}

static int cmd_attest(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	struct cmd_args a;
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;
	json_t *doc = NULL;
	int i, rc;

	if ((i = parse_cmd(argc, argv, "ro", &a)) < 0 || no_more(argc, argv, i) != 0)
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	/* The report must be a JSON object: the verifier reads it as one. */
	if (a.report != NULL && (pcrgate_file_read(a.report, MAX_REPORT, &buf, &len, &ei) != PCRGATE_OK ||
				 jsonutil_parse(buf, len, MAX_REPORT, &doc, &ei) != PCRGATE_OK)) {
		report(a.report, &ei);
		free(buf);
		return EXIT_FAIL;
	}
	json_decref(doc);
	rc = run_attest("attest", cfg, tpm, buf, len, a.out);
	free(buf);
	return rc;
}

/* Printable text of 1 to max bytes: it lands in the verifier's records. */
static int check_text(const char *opt, const char *v, size_t max)
{
	size_t n = strlen(v), i;

	for (i = 0; i < n && (unsigned char)v[i] >= 0x20 && v[i] != 0x7f; i++)
		;
	if (n == 0 || n > max || i != n) {
		err("report: %s needs text of 1 to %zu characters without control characters", opt, max);
		return -1;
	}
	return 0;
}

static int cmd_report(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	static const char *const outcomes[] = {"installed", "committed", "fell-back", "failed"};
	struct cmd_args a;
	pcrgate_errinfo ei;
	char *text;
	size_t k;
	int i, rc;

	if ((i = parse_cmd(argc, argv, "ROeo", &a)) < 0 || no_more(argc, argv, i) != 0)
		return EXIT_USAGE;
	if (a.release == NULL || a.outcome == NULL) {
		err("report: --release and --outcome are required");
		return EXIT_USAGE;
	}
	for (k = 0; k < sizeof(outcomes) / sizeof(outcomes[0]) && strcmp(a.outcome, outcomes[k]) != 0; k++)
		;
	if (k == sizeof(outcomes) / sizeof(outcomes[0])) {
		err("report: --outcome '%s' is not installed, committed, fell-back or failed", a.outcome);
		return EXIT_USAGE;
	}
	if (check_text("--release", a.release, MAX_RELEASE) != 0 ||
	    (a.reason != NULL && check_text("--reason", a.reason, MAX_REASON) != 0))
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (agent_report_text(a.release, a.outcome, a.reason != NULL ? a.reason : "", NULL, NULL, &text, &ei) !=
	    PCRGATE_OK) {
		report("report", &ei);
		return EXIT_FAIL;
	}
	rc = run_attest("report", cfg, tpm, (const uint8_t *)text, strlen(text), a.out);
	free(text);
	return rc;
}

static int update_exit(int outcome)
{
	return outcome == AGENT_UPDATE_DEFERRED ? EXIT_DEFERRED : outcome == AGENT_UPDATE_FAILED ? EXIT_FAIL : EXIT_OK;
}

static int cmd_update(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	struct cmd_args a;
	pcrgate_errinfo ei;
	int i, outcome = AGENT_UPDATE_FAILED;

	if ((i = parse_cmd(argc, argv, "b", &a)) < 0 || no_more(argc, argv, i) != 0)
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (agent_update(tpm, cfg, a.bundle, &outcome, &ei) != PCRGATE_OK) {
		report("update", &ei);
		return EXIT_FAIL;
	}
	return update_exit(outcome);
}

/* tpm is NULL: approve does not open the TPM. */
static int cmd_approve(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	struct cmd_args a;
	pcrgate_errinfo ei;
	int i;

	(void)tpm;
	if ((i = parse_cmd(argc, argv, "", &a)) < 0)
		return EXIT_USAGE;
	if (argc - i > 1) {
		err("approve: expected at most one RELEASE");
		return EXIT_USAGE;
	}
	pcrgate_errinfo_clear(&ei);
	if (agent_approve(cfg, i < argc ? argv[i] : NULL, &ei) != PCRGATE_OK) {
		report("approve", &ei);
		return EXIT_FAIL;
	}
	return EXIT_OK;
}

static int cmd_commit(const struct agent_config *cfg, pcrgate_tpm *tpm, int argc, char **argv)
{
	struct cmd_args a;
	pcrgate_errinfo ei;
	int i, outcome = AGENT_UPDATE_FAILED;

	if ((i = parse_cmd(argc, argv, "", &a)) < 0 || no_more(argc, argv, i) != 0)
		return EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (agent_commit(tpm, cfg, &outcome, &ei) != PCRGATE_OK) {
		report("commit", &ei);
		return EXIT_FAIL;
	}
	return update_exit(outcome);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{"config", required_argument, NULL, 'c'}, {"tcti", required_argument, NULL, 't'},
		{"state-dir", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},      {NULL, 0, NULL, 0},
	};
	/* needs_tpm: the TPM is opened for the command (approve only records a person's decision). */
	static const struct {
		const char *name;
		int (*run)(const struct agent_config *, pcrgate_tpm *, int, char **);
		int needs_tpm;
	} commands[] = {
		{"provision", cmd_provision, 1},
		{"status", cmd_status, 1},
		{"counter", cmd_counter, 1},
		{"quote", cmd_quote, 1},
		{"certify", cmd_certify, 1},
		{"unwrap", cmd_unwrap, 1},
		{"enroll", cmd_enroll, 1},
		{"attest", cmd_attest, 1},
		{"report", cmd_report, 1},
		{"update", cmd_update, 1},
		{"approve", cmd_approve, 0},
		{"commit", cmd_commit, 1},
	};
	struct agent_options o;
	struct agent_config cfg;
	pcrgate_tpm *tpm = NULL;
	pcrgate_errinfo ei;
	size_t i;
	int c, rc, first;

	pcrgate_log_init_from_env();
	/* tpm2-tss logs every TPM error itself; the agent reports each one, with the command, once. */
	setenv("TSS2_LOG", "all+none", 0);
	memset(&o, 0, sizeof(o));
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'c':
			o.config = optarg;
			break;
		case 't':
			o.tcti = optarg;
			break;
		case 's':
			o.state_dir = optarg;
			break;
		case 'h':
			usage(stdout);
			return EXIT_OK;
		case 'V':
			printf("pcrgate-agent %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		default:
			err("unknown option or missing value '%s'; 'pcrgate-agent --help' lists them", argv[optind - 1]);
			return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]) && strcmp(argv[optind], commands[i].name) != 0; i++)
		;
	if (i == sizeof(commands) / sizeof(commands[0])) {
		err("unknown command '%s'; 'pcrgate-agent --help' lists them", argv[optind]);
		return EXIT_USAGE;
	}
	/* A command's --help needs neither its settings nor the TPM. */
	first = optind;
	if (cmd_wants_help(argc - first, argv + first)) {
		usage(stdout);
		return EXIT_OK;
	}
	pcrgate_errinfo_clear(&ei);
	if (agent_fault_init(&ei) != PCRGATE_OK || agent_config_resolve(&o, &cfg, &ei) != PCRGATE_OK) {
		report("settings", &ei);
		return EXIT_FAIL;
	}
	if (commands[i].needs_tpm && agent_open_tpm(&cfg, &tpm, &ei) != PCRGATE_OK) {
		report("TPM", &ei);
		return EXIT_FAIL;
	}
	rc = commands[i].run(&cfg, tpm, argc - first, argv + first);
	pcrgate_tpm_close(&tpm);
	return rc;
}
