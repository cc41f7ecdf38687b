/* pcrgate quote: verifies TPM 2.0 quotes (tpm2_quote's files or pcrgate's) and reports each check. */
#include "config.h"

#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "attest/jsonutil.h"
#include "cli.h"
#include "pcrgate/eventlog.h"
#include "pcrgate/evidence.h"
#include "pcrgate/quote.h"

#define MAX_NONCE 64 /* a TPM2B_DATA */

static void usage_verify(FILE *f)
{
	static const char *const lines[] = {
		"usage: pcrgate quote verify --ak AK --attest MSG --sig SIG",
		"         [--pcrs FILE [--pcrs-format FMT]] [--eventlog LOG] [COMMON OPTIONS]",
		"       pcrgate quote verify --evidence FILE [--ak AK] [--report FILE] [COMMON OPTIONS]",
		"  COMMON OPTIONS: [--nonce HEX | --nonce-file FILE] [--ak-name HEX] [--ak-parent PARENT]",
		"         [--previous-clock CLOCK:RESETS:RESTARTS [--accept-clock-restore]] [--json]",
		"",
		"  --evidence FILE    an agent's evidence document (pcrgate-agent quote): the quote, its",
		"                     signature, PCR values, event logs and AK qualified name, and the AK",
		"                     unless --ak names the enrolled one (then they must be the same key);",
		"                     its nonce is not trusted: give --nonce or --nonce-file",
		"  --report FILE      with --evidence: the quote must bind this report, its extraData",
		"                     being SHA-256(nonce || report) (needs --nonce or --nonce-file)",
		"  --ak AK            the AK's public key: PEM or DER SubjectPublicKeyInfo,",
		"                     TPM2B_PUBLIC or TPMT_PUBLIC",
		"  --attest MSG       the quote: marshalled TPMS_ATTEST (tpm2_quote -m)",
		"  --sig SIG          its signature: marshalled TPMT_SIGNATURE (tpm2_quote -s)",
		"  --pcrs FILE        the quoted PCR values: tpm2_quote -o, BANK:INDEX=HEX lines, JSON",
		"  --pcrs-format FMT  auto (default), serialized, marshaled, values, text, json",
		"  --nonce HEX        the nonce the quote must carry as extraData",
		"  --nonce-file FILE  the same, as the file's raw bytes",
		"  --ak-name HEX      the AK's qualified name, which the quote names as its signer",
		"  --ak-parent PARENT the qualified name of the AK's parent in hex, or for a primary AK",
		"                     endorsement, owner, platform or null (needs a TPM public area)",
		"  --previous-clock CLOCK:RESETS:RESTARTS",
		"                     clock, resetCount, restartCount of the previous accepted quote",
		"  --accept-clock-restore",
		"                     accept a clock below it after a reset the TPM marks unsafe",
		"                     (safe = NO: a power cut)",
		"  --eventlog LOG     a TCG event log that must explain every quoted PCR (needs --pcrs)",
		"  --json             print the result as a JSON object",
		"",
		"Exits 0 when every check passes, 1 when one fails (named on stderr), 2 on usage errors.",
	};
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		fprintf(f, "%s\n", lines[i]);
}

struct verify_args {
	const char *ak, *attest, *sig, *pcrs, *nonce_hex, *nonce_file, *ak_name, *ak_parent, *previous,
		*eventlog, *evidence, *report;
	int pcrs_format, pcrs_format_given, json, accept_clock_restore;
};

/* Reads a file named by an option; failures are reported as "OPTION FILE: message". */
static int read_input(const char *opt, const char *path, size_t max, uint8_t **buf, size_t *len)
{
	pcrgate_errinfo ei;
	char ctx[64];

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(path, max, buf, len, &ei) == 0)
		return 0;
	snprintf(ctx, sizeof(ctx), "quote verify: %s", opt);
	cli_report(ctx, &ei);
	return -1;
}

/*
 * Reads an input the verification caps at cap bytes: at most one byte more is read, so a file
 * just over the cap fails the size check in the library and a larger one fails it here, under
 * the same name, without being read.
 */
static int read_capped(const char *opt, const char *path, size_t cap, uint8_t **buf, size_t *len)
{
	pcrgate_errinfo ei;
	char ctx[64];
	int r;

	pcrgate_errinfo_clear(&ei);
	if ((r = pcrgate_file_read(path, cap + 1, buf, len, &ei)) == 0)
		return 0;
	if (r == PCRGATE_ERR_LIMIT) {
		cli_error("quote verify: %s: %s %s is larger than %zu bytes",
			  pcrgate_quote_check_name(PCRGATE_QUOTE_CHECK_SIZE), opt, path, cap);
		return -1;
	}
	snprintf(ctx, sizeof(ctx), "quote verify: %s", opt);
	cli_report(ctx, &ei);
	return -1;
}

static int parse_hex_arg(const char *opt, const char *hex, uint8_t *out, size_t cap, size_t *len)
{
	if (pcrgate_hex_decode(hex, out, cap, len) != 0 || *len == 0) {
		cli_error("quote verify: %s needs hex of 1 to %zu bytes", opt, cap);
		return -1;
	}
	return 0;
}

static int parse_parent(const char *arg, uint8_t *out, size_t *len)
{
	static const struct {
		const char *name;
		uint32_t handle;
	} hier[] = {{"endorsement", 0x4000000B},
		    {"owner", 0x40000001},
		    {"platform", 0x4000000C},
		    {"null", 0x40000007}};
	size_t i;

	for (i = 0; i < sizeof(hier) / sizeof(hier[0]); i++) {
		if (strcmp(arg, hier[i].name) == 0) {
			pcrgate_store_be(out, hier[i].handle, 4);
			*len = 4;
			return 0;
		}
	}
	return parse_hex_arg("--ak-parent", arg, out, PCRGATE_QUOTE_MAX_NAME, len);
}

static int parse_previous(const char *arg, pcrgate_clock_state *prev)
{
	uint64_t clock, resets, restarts;
	const char *p = arg;

	if (pcrgate_parse_decimal(&p, UINT64_MAX, &clock) != PCRGATE_OK || *p++ != ':' ||
	    pcrgate_parse_decimal(&p, UINT32_MAX, &resets) != PCRGATE_OK || *p++ != ':' ||
	    pcrgate_parse_decimal(&p, UINT32_MAX, &restarts) != PCRGATE_OK || *p != '\0') {
		cli_error("quote verify: --previous-clock needs CLOCK:RESETCOUNT:RESTARTCOUNT in decimal");
		return -1;
	}
	prev->clock = clock;
	prev->reset_count = (uint32_t)resets;
	prev->restart_count = (uint32_t)restarts;
	return 0;
}

/* Which input each optional check needs, for the summary of what was skipped. */
static const char *const check_inputs[PCRGATE_QUOTE_CHECK_COUNT] = {
	[PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER] = "--ak-name or --ak-parent",
	[PCRGATE_QUOTE_CHECK_NONCE] = "--nonce or --nonce-file",
	[PCRGATE_QUOTE_CHECK_PCR_SELECTION] = "--pcrs",
	[PCRGATE_QUOTE_CHECK_PCR_DIGEST] = "--pcrs",
	[PCRGATE_QUOTE_CHECK_CLOCK] = "--previous-clock",
	[PCRGATE_QUOTE_CHECK_EVENTLOG] = "--eventlog",
};

static const char *akpub_format_name(int f)
{
	static const char *const names[] = {"none", "pem", "der", "tpm2b_public", "tpmt_public"};
	return f >= 0 && f <= PCRGATE_AKPUB_TPMT_PUBLIC ? names[f] : "unknown";
}

static void print_json(const pcrgate_akpub *ak, const pcrgate_quote_result *res, int accepted)
{
	json_t *o = json_object(), *checks = json_object(), *q, *sel, *a = json_object();
	const uint8_t *name;
	char fw[32], attrs[16], b[PCRGATE_ALG_LABEL_MAX];
	uint32_t attributes = 0;
	size_t i, nlen = 0;
	unsigned k;
	int c;

	json_object_set_new(o, "verdict", json_string(accepted ? "accepted" : "rejected"));
	json_object_set_new(o, "failed_check",
			    res->failed_name ? json_string(res->failed_name) : json_null());
	json_object_set_new(o, "detail", json_string(res->detail));
	for (c = PCRGATE_QUOTE_CHECK_SIZE; c < PCRGATE_QUOTE_CHECK_COUNT; c++) {
		const char *st = "not-run";
		if (res->passed & (1u << c))
			st = "passed";
		else if (res->skipped & (1u << c))
			st = "skipped";
		else if (res->failed == (pcrgate_quote_check)c)
			st = "failed";
		json_object_set_new(checks, pcrgate_quote_check_name((pcrgate_quote_check)c),
				    json_string(st));
	}
	json_object_set_new(o, "checks", checks);
	json_object_set_new(a, "format", json_string(akpub_format_name(pcrgate_akpub_format(ak))));
	json_object_set_new(a, "type",
			    json_string(pcrgate_akpub_key_type(ak) == PCRGATE_KEY_RSA ? "rsa" : "ecc"));
	json_object_set_new(a, "bits", json_integer(pcrgate_akpub_bits(ak)));
	name = pcrgate_akpub_name(ak, &nlen);
	json_object_set_new(a, "name", name ? jsonutil_hex(name, nlen) : json_null());
	if (pcrgate_akpub_tpm_info(ak, &attributes, NULL, NULL) == 0) {
		snprintf(attrs, sizeof(attrs), "0x%08" PRIx32, attributes);
		json_object_set_new(a, "attributes", json_string(attrs));
	} else {
		json_object_set_new(a, "attributes", json_null());
	}
	json_object_set_new(a, "attributes_checked", json_boolean(res->ak_attributes_checked));
	json_object_set_new(o, "ak", a);
	if (res->sig_alg != 0) {
		json_t *s = json_object();
		json_object_set_new(s, "scheme", json_string(pcrgate_sig_scheme_name(res->sig_alg)));
		json_object_set_new(s, "hash", json_string(pcrgate_alg_label(res->hash_alg, b)));
		json_object_set_new(o, "signature", s);
	}
	if (res->parsed) {
		q = json_object();
		sel = json_object();
		json_object_set_new(q, "clock", json_integer((json_int_t)res->clock.clock));
		json_object_set_new(q, "reset_count", json_integer(res->clock.reset_count));
		json_object_set_new(q, "restart_count", json_integer(res->clock.restart_count));
		json_object_set_new(q, "safe", json_boolean(res->safe));
		snprintf(fw, sizeof(fw), "0x%016" PRIx64, res->firmware_version);
		json_object_set_new(q, "firmware_version", json_string(fw));
		json_object_set_new(q, "qualified_signer",
				    jsonutil_hex(res->qualified_signer, res->qualified_signer_len));
		json_object_set_new(q, "extra_data", jsonutil_hex(res->extra_data, res->extra_data_len));
		for (i = 0; i < res->selection_count; i++) {
			json_t *idx = json_array();
			for (k = 0; k < PCRGATE_MAX_PCRS; k++)
				if (res->selection[i].mask & (1u << k))
					json_array_append_new(idx, json_integer(k));
			json_object_set_new(sel, pcrgate_alg_label(res->selection[i].alg, b), idx);
		}
		json_object_set_new(q, "pcr_selection", sel);
		json_object_set_new(q, "pcr_digest", jsonutil_hex(res->pcr_digest, res->pcr_digest_len));
		json_object_set_new(o, "quote", q);
		json_object_set_new(o, "rebooted", json_boolean(res->rebooted));
		json_object_set_new(o, "restarted", json_boolean(res->restarted));
		json_object_set_new(o, "clock_restored", json_boolean(res->clock_restored));
		json_object_set_new(o, "eventlog_pcrs_compared",
				    json_integer((json_int_t)res->eventlog_compared));
		sel = json_object();
		for (i = 0; i < res->eventlog_verified_count; i++) {
			json_t *idx = json_array();
			for (k = 0; k < PCRGATE_MAX_PCRS; k++)
				if (res->eventlog_verified[i].mask & (1u << k))
					json_array_append_new(idx, json_integer(k));
			json_object_set_new(sel, pcrgate_alg_label(res->eventlog_verified[i].alg, b), idx);
		}
		json_object_set_new(o, "eventlog_verified", sel);
	}
	json_dumpf(o, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	fputc('\n', stdout);
	json_decref(o);
}

static void print_summary(const pcrgate_akpub *ak, const pcrgate_quote_result *res)
{
	char b[PCRGATE_ALG_LABEL_MAX];
	size_t i;
	unsigned k;
	int c, any = 0;

	printf("quote verified: AK %s-%u (%s), signature %s-%s\n",
	       pcrgate_akpub_key_type(ak) == PCRGATE_KEY_RSA ? "rsa" : "ecc", pcrgate_akpub_bits(ak),
	       akpub_format_name(pcrgate_akpub_format(ak)), pcrgate_sig_scheme_name(res->sig_alg),
	       pcrgate_alg_label(res->hash_alg, b));
	printf("  checked:");
	for (c = PCRGATE_QUOTE_CHECK_SIZE; c < PCRGATE_QUOTE_CHECK_COUNT; c++)
		if (res->passed & (1u << c))
			printf(" %s", pcrgate_quote_check_name((pcrgate_quote_check)c));
	printf("\n");
	for (c = PCRGATE_QUOTE_CHECK_SIZE; c < PCRGATE_QUOTE_CHECK_COUNT; c++) {
		if (!(res->skipped & (1u << c)))
			continue;
		printf("%s %s (no %s)",
		       any ? "," : "  skipped:", pcrgate_quote_check_name((pcrgate_quote_check)c),
		       check_inputs[c]);
		any = 1;
	}
	if (!res->ak_attributes_checked) {
		printf("%s ak-attributes (a PEM or DER AK does not carry them)", any ? "," : "  skipped:");
		any = 1;
	}
	if (any)
		printf("\n");
	printf("  clock %" PRIu64 " ms, resetCount %u, restartCount %u, safe %s, firmware 0x%016" PRIx64 "\n",
	       res->clock.clock, res->clock.reset_count, res->clock.restart_count, res->safe ? "yes" : "no",
	       res->firmware_version);
	if (res->rebooted)
		printf("  the TPM was reset (a reboot) since the previous quote\n");
	if (res->restarted)
		printf("  the TPM was restarted (resumed) since the previous quote\n");
	if (res->clock_restored)
		printf("  the TPM's clock went back after an unorderly reset (a power cut): accepted\n");
	printf("  quoted PCRs:");
	for (i = 0; i < res->selection_count; i++)
		for (k = 0; k < PCRGATE_MAX_PCRS; k++)
			if (res->selection[i].mask & (1u << k))
				printf(" %s:%u", pcrgate_alg_label(res->selection[i].alg, b), k);
	printf("\n");
	if (res->passed & (1u << PCRGATE_QUOTE_CHECK_EVENTLOG)) {
		printf("  event log explains:");
		for (i = 0; i < res->eventlog_verified_count; i++) {
			uint16_t alg = res->eventlog_verified[i].alg;
			for (k = 0; k < PCRGATE_MAX_PCRS; k++)
				if (res->eventlog_verified[i].mask & (1u << k))
					printf(" %s:%u", pcrgate_alg_label(alg, b), k);
		}
		printf(" (%zu replayed from its events, the others at their reset values)\n",
		       res->eventlog_compared);
	}
}

/* Everything one verification read or made; released by inputs_free. */
struct inputs {
	uint8_t *akbuf, *attest, *sig, *pcrbuf, *nonce_buf, *logbuf, *evbuf, *report;
	size_t aklen, attest_len, siglen, pcrlen, nonce_len, loglen, evlen, report_len;
	pcrgate_akpub *ak;
	pcrgate_pcrs *pcrs;
	pcrgate_evidence *ev;
};

static void inputs_free(struct inputs *x)
{
	pcrgate_evidence_free(&x->ev);
	pcrgate_pcrs_free(&x->pcrs);
	pcrgate_akpub_free(&x->ak);
	free(x->akbuf);
	free(x->attest);
	free(x->sig);
	free(x->pcrbuf);
	free(x->nonce_buf);
	free(x->logbuf);
	free(x->evbuf);
	free(x->report);
}

static int load_ak(const struct verify_args *a, struct inputs *x)
{
	pcrgate_errinfo ei;
	char ctx[512];

	pcrgate_errinfo_clear(&ei);
	if (read_input("--ak", a->ak, 64 * 1024, &x->akbuf, &x->aklen) != 0)
		return -1;
	if ((x->ak = pcrgate_akpub_new()) == NULL) {
		cli_error("quote verify: out of memory");
		return -1;
	}
	if (pcrgate_akpub_load(x->ak, x->akbuf, x->aklen, &ei) != 0) {
		snprintf(ctx, sizeof(ctx), "quote verify: --ak %s", a->ak);
		cli_report(ctx, &ei);
		return -1;
	}
	return 0;
}

/* The quote, signature, PCR values and event log, each from its own file. */
static int load_files(const struct verify_args *a, struct inputs *x, pcrgate_quote_input *in)
{
	pcrgate_errinfo ei;
	char ctx[512];

	pcrgate_errinfo_clear(&ei);
	if (read_capped("--attest", a->attest, PCRGATE_QUOTE_MAX_ATTEST, &x->attest, &x->attest_len) != 0 ||
	    read_capped("--sig", a->sig, PCRGATE_QUOTE_MAX_SIGNATURE, &x->sig, &x->siglen) != 0)
		return -1;
	if (a->pcrs != NULL) {
		if (read_input("--pcrs", a->pcrs, PCRGATE_PCRFILE_MAX, &x->pcrbuf, &x->pcrlen) != 0)
			return -1;
		if (pcrgate_pcrfile_parse(x->pcrbuf, x->pcrlen, a->pcrs_format, x->attest, x->attest_len, &x->pcrs,
					  NULL, &ei) != 0) {
			snprintf(ctx, sizeof(ctx), "quote verify: --pcrs %s", a->pcrs);
			cli_report(ctx, &ei);
			return -1;
		}
	}
	/* Only read here: the library parses the log once the signed quote has passed its checks. */
	if (a->eventlog != NULL &&
	    read_capped("--eventlog", a->eventlog, PCRGATE_EVENTLOG_MAX_SIZE, &x->logbuf, &x->loglen) != 0)
		return -1;
	in->ak = x->ak;
	in->attest = x->attest;
	in->attest_len = x->attest_len;
	in->signature = x->sig;
	in->signature_len = x->siglen;
	in->pcrs = x->pcrs;
	if (x->logbuf != NULL) {
		in->eventlogs[0].data = x->logbuf;
		in->eventlogs[0].len = x->loglen;
		in->eventlog_count = 1;
	}
	return 0;
}

/*
 * Everything from an evidence document but the nonce. The AK is the document's, or the one --ak
 * names (an enrolled key), which the document's must then be: a quote by another key than the
 * one the document states is refused before anything is verified.
 */
static int load_evidence(const struct verify_args *a, struct inputs *x, pcrgate_quote_input *in)
{
	pcrgate_errinfo ei;
	char ctx[512];

	pcrgate_errinfo_clear(&ei);
	if (read_input("--evidence", a->evidence, PCRGATE_EVIDENCE_MAX_SIZE, &x->evbuf, &x->evlen) != 0)
		return -1;
	if (pcrgate_evidence_parse(x->evbuf, x->evlen, &x->ev, &ei) != 0) {
		snprintf(ctx, sizeof(ctx), "quote verify: --evidence %s", a->evidence);
		cli_report(ctx, &ei);
		return -1;
	}
	if (x->ak != NULL && !pcrgate_akpub_same_key(x->ak, pcrgate_evidence_ak(x->ev))) {
		cli_error("quote verify: --evidence %s: its ak_public is not the key --ak %s names", a->evidence,
			  a->ak);
		return -1;
	}
	if (pcrgate_evidence_quote_input(x->ev, in) != 0) {
		cli_error("quote verify: --evidence %s: unusable", a->evidence);
		return -1;
	}
	in->ak = x->ak != NULL ? x->ak : pcrgate_evidence_ak(x->ev);
	return 0;
}

/* The expected extraData: the nonce, or with --report SHA-256(nonce || report). */
static int load_nonce(const struct verify_args *a, struct inputs *x, uint8_t *nonce, size_t *nonce_len)
{
	uint8_t binding[PCRGATE_EVIDENCE_BINDING_SIZE];

	if (a->nonce_file != NULL) {
		if (read_input("--nonce-file", a->nonce_file, MAX_NONCE, &x->nonce_buf, nonce_len) != 0)
			return -1;
		memcpy(nonce, x->nonce_buf, *nonce_len);
	}
	if (a->report == NULL)
		return 0;
	if (read_input("--report", a->report, CLI_MAX_INPUT, &x->report, &x->report_len) != 0)
		return -1;
	if (pcrgate_evidence_report_binding(nonce, *nonce_len, x->report, x->report_len, binding) != 0) {
		cli_error("quote verify: --report %s: cannot hash it with the nonce", a->report);
		return -1;
	}
	memcpy(nonce, binding, sizeof(binding));
	*nonce_len = sizeof(binding);
	return 0;
}

static int run_verify(const struct verify_args *a)
{
	uint8_t nonce[MAX_NONCE], qn[PCRGATE_QUOTE_MAX_NAME], parent[PCRGATE_QUOTE_MAX_NAME];
	size_t nonce_len = 0, qn_len = 0, parent_len = 0;
	struct inputs x;
	pcrgate_clock_state prev;
	pcrgate_quote_input in;
	pcrgate_quote_result res;
	pcrgate_errinfo ei;
	int r = CLI_EXIT_USAGE, vr;

	memset(&in, 0, sizeof(in));
	memset(&res, 0, sizeof(res));
	memset(&x, 0, sizeof(x));
	pcrgate_errinfo_clear(&ei);
	if (a->nonce_hex != NULL &&
	    parse_hex_arg("--nonce", a->nonce_hex, nonce, sizeof(nonce), &nonce_len) != 0)
		goto out;
	if (a->ak_name != NULL && parse_hex_arg("--ak-name", a->ak_name, qn, sizeof(qn), &qn_len) != 0)
		goto out;
	if (a->ak_parent != NULL && parse_parent(a->ak_parent, parent, &parent_len) != 0)
		goto out;
	if (a->previous != NULL && parse_previous(a->previous, &prev) != 0)
		goto out;

	r = CLI_EXIT_FAIL;
	if ((a->ak != NULL && load_ak(a, &x) != 0) ||
	    (a->evidence != NULL ? load_evidence(a, &x, &in) : load_files(a, &x, &in)) != 0 ||
	    load_nonce(a, &x, nonce, &nonce_len) != 0)
		goto out;
	if (a->nonce_hex != NULL || a->nonce_file != NULL) {
		in.nonce = nonce;
		in.nonce_len = nonce_len;
	}
	/* A qualified name given here is the verifier's own knowledge: it overrides the document's. */
	if (a->ak_name != NULL) {
		in.ak_qualified_name = qn;
		in.ak_qualified_name_len = qn_len;
	}
	if (a->ak_parent != NULL) {
		in.ak_parent_qn = parent;
		in.ak_parent_qn_len = parent_len;
	}
	in.previous = a->previous != NULL ? &prev : NULL;
	in.accept_clock_restore = a->accept_clock_restore;

	vr = pcrgate_quote_verify(&in, &res, &ei);
	if (vr == PCRGATE_ERR_INVALID_ARGUMENT) {
		cli_report("quote verify", &ei);
		r = CLI_EXIT_USAGE;
		goto out;
	}
	if (a->json)
		print_json(in.ak, &res, vr == 0);
	if (vr != 0) {
		cli_report("quote verify", &ei);
		goto out;
	}
	if (!a->json)
		print_summary(in.ak, &res);
	r = CLI_EXIT_OK;
out:
	pcrgate_quote_result_clear(&res);
	inputs_free(&x);
	return r;
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"ak", required_argument, NULL, 'a'},
		{"attest", required_argument, NULL, 'm'},
		{"sig", required_argument, NULL, 's'},
		{"pcrs", required_argument, NULL, 'p'},
		{"pcrs-format", required_argument, NULL, 'F'},
		{"nonce", required_argument, NULL, 'n'},
		{"nonce-file", required_argument, NULL, 'N'},
		{"ak-name", required_argument, NULL, 'q'},
		{"ak-parent", required_argument, NULL, 'P'},
		{"previous-clock", required_argument, NULL, 'c'},
		{"accept-clock-restore", no_argument, NULL, 'R'},
		{"eventlog", required_argument, NULL, 'e'},
		{"evidence", required_argument, NULL, 'E'},
		{"report", required_argument, NULL, 'r'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct verify_args a;
	int c;

	memset(&a, 0, sizeof(a));
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":h", opts, NULL)) != -1) {
		switch (c) {
		case 'a':
			a.ak = optarg;
			break;
		case 'm':
			a.attest = optarg;
			break;
		case 's':
			a.sig = optarg;
			break;
		case 'p':
			a.pcrs = optarg;
			break;
		case 'F':
			a.pcrs_format_given = 1;
			if ((a.pcrs_format = pcrgate_pcrfile_format_from_name(optarg)) < 0) {
				cli_error("quote verify: unknown --pcrs-format '%s'; see --help", optarg);
				return CLI_EXIT_USAGE;
			}
			break;
		case 'n':
			a.nonce_hex = optarg;
			break;
		case 'N':
			a.nonce_file = optarg;
			break;
		case 'q':
			a.ak_name = optarg;
			break;
		case 'P':
			a.ak_parent = optarg;
			break;
		case 'c':
			a.previous = optarg;
			break;
		case 'R':
			a.accept_clock_restore = 1;
			break;
		case 'e':
			a.eventlog = optarg;
			break;
		case 'E':
			a.evidence = optarg;
			break;
		case 'r':
			a.report = optarg;
			break;
		case 'j':
			a.json = 1;
			break;
		case 'h':
			usage_verify(stdout);
			return CLI_EXIT_OK;
		default:
			cli_error("quote verify: %s '%s'; 'pcrgate quote verify --help' lists the options",
				  c == ':' ? "missing value for" : "unknown option", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		cli_error("quote verify: unexpected argument '%s'", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if (a.evidence != NULL && (a.attest != NULL || a.sig != NULL || a.pcrs != NULL || a.pcrs_format_given ||
				   a.eventlog != NULL)) {
		cli_error("quote verify: --evidence carries the quote, signature, PCR values and event logs: "
			  "it cannot be mixed with --attest, --sig, --pcrs, --pcrs-format or --eventlog");
		return CLI_EXIT_USAGE;
	}
	if (a.evidence == NULL && (a.ak == NULL || a.attest == NULL || a.sig == NULL)) {
		cli_error("quote verify: --ak, --attest and --sig are required (or --evidence)");
		return CLI_EXIT_USAGE;
	}
	if (a.report != NULL && a.evidence == NULL) {
		cli_error("quote verify: --report checks a report bound to --evidence");
		return CLI_EXIT_USAGE;
	}
	if (a.report != NULL && a.nonce_hex == NULL && a.nonce_file == NULL) {
		cli_error("quote verify: --report is bound with the nonce: it needs --nonce or --nonce-file");
		return CLI_EXIT_USAGE;
	}
	if (a.nonce_hex != NULL && a.nonce_file != NULL) {
		cli_error("quote verify: give --nonce or --nonce-file, not both");
		return CLI_EXIT_USAGE;
	}
	if (a.accept_clock_restore && a.previous == NULL) {
		cli_error("quote verify: --accept-clock-restore needs --previous-clock");
		return CLI_EXIT_USAGE;
	}
	if (a.eventlog != NULL && a.pcrs == NULL) {
		cli_error("quote verify: --eventlog is compared with the quoted PCR values: it needs --pcrs");
		return CLI_EXIT_USAGE;
	}
	return run_verify(&a);
}

static const struct cli_command commands[] = {
	{"verify", cmd_verify, "verify a quote: signature, nonce, PCR values, clock, event log"},
};

static const struct cli_group group = {"quote", commands, sizeof(commands) / sizeof(commands[0]), NULL};

int cmd_quote(int argc, char **argv)
{
	return cli_dispatch(&group, argc, argv);
}
