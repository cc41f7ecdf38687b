/*
 * pcrgate policy: PCR policies of a release. `predict` computes the PCR 8 and 9 values
 * that booting a slot will produce, in each bank, from the slot's manifest alone and
 * without a TPM: it builds the events with the boot core's own code (pcrgate_boot_events),
 * so a vendor can sign the PCR policy of a release before any device boots it. `expect`
 * (tools/policy_expect.c) does the same from a manifest file, in the form `sign` reads; `sign`,
 * `auth-digest` and `verify-certify` live in tools/policy_sign.c.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "boot/measure.h"
#include "pcrgate/pcr_map.h"
#include "pcrgate/pcrs.h"

#include "attest/jsonutil.h"
#include "cli.h"
#include "policy_draft.h"
#include "policy_expect.h"
#include "policy_sign.h"

#define PATH_MAX_POLICY 4096

struct args {
	const char *slot_dir;
	const char *as;
	const char *banks;
	int json;
};

static const struct option options[] = {
	{"slot", required_argument, NULL, 's'},
	{"as", required_argument, NULL, 'a'},
	{"banks", required_argument, NULL, 'b'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage_predict(FILE *f)
{
	fprintf(f, "usage: pcrgate policy predict --slot DIR [--as a|b] [--banks LIST] [--json]\n"
		   "\n"
		   "Reads DIR/manifest (the slot manifest pcrgate-boot checks; its signature is not\n"
		   "checked here) and prints the values PCRs %u and %u will hold after pcrgate-boot has\n"
		   "booted the slot, starting from zero: one BANK:INDEX=HEX line each, sorted by bank name\n"
		   "then index, as 'pcrgate eventlog pcrs' prints a log.\n"
		   "\n"
		   "  --slot DIR    the slot directory (or a release directory laid out the same way)\n"
		   "  --as a|b      the slot it will boot from (measured into PCR %u); default: DIR's name\n"
		   "  --banks LIST  comma-separated banks: sha1, sha256, sha384, sha512 (default sha256)\n"
		   "  --json        print {\"BANK\": {\"INDEX\": \"HEX\"}} instead\n",
		PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT, PCRGATE_PCR_BOOT_SLOT);
}

/* "SUB ...": 0 to run, 1 after --help, -1 after a usage error. */
static int parse_args(int argc, char **argv, struct args *a)
{
	int c;

	memset(a, 0, sizeof(*a));
	a->banks = "sha256";
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			a->slot_dir = optarg;
			break;
		case 'a':
			a->as = optarg;
			break;
		case 'b':
			a->banks = optarg;
			break;
		case 'j':
			a->json = 1;
			break;
		case 'h':
			usage_predict(stdout);
			return 1;
		default:
			cli_error("policy predict: unknown option or missing value '%s'; "
				  "'pcrgate policy predict --help' lists them",
				  argv[optind - 1]);
			return -1;
		}
	}
	if (argc != optind) {
		cli_error("policy predict: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (a->slot_dir == NULL) {
		cli_error("policy predict: --slot DIR is required");
		return -1;
	}
	return 0;
}

/* The slot a release boots from: --as, else the directory's last name when that is a or b. */
static int slot_index(const struct args *a, unsigned *slot)
{
	const char *name = a->as;
	char buf[PATH_MAX_POLICY];
	size_t n;

	if (name == NULL) {
		n = strlen(a->slot_dir);
		if (n >= sizeof(buf))
			return -1;
		memcpy(buf, a->slot_dir, n + 1);
		while (n > 1 && buf[n - 1] == '/')
			buf[--n] = '\0';
		name = strrchr(buf, '/') != NULL ? strrchr(buf, '/') + 1 : buf;
	}
	if (strcmp(name, "a") == 0)
		*slot = 0;
	else if (strcmp(name, "b") == 0)
		*slot = 1;
	else
		return -1;
	return 0;
}

/* Parses "sha1,sha256": distinct banks pcrgate can compute. */
static int parse_banks(const char *list, uint16_t *algs, size_t *count)
{
	char buf[128], *tok, *save = NULL;
	size_t n = 0, i;
	uint16_t alg;

	if (strlen(list) >= sizeof(buf)) {
		cli_error("policy predict: --banks list too long");
		return -1;
	}
	strcpy(buf, list);
	for (tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save)) {
		if ((alg = pcrgate_alg_from_name(tok)) == 0 || pcrgate_alg_openssl_name(alg) == NULL) {
			cli_error("policy predict: unknown bank '%s' (sha1, sha256, sha384, sha512)", tok);
			return -1;
		}
		for (i = 0; i < n; i++)
			if (algs[i] == alg) {
				cli_error("policy predict: bank '%s' given twice", tok);
				return -1;
			}
		if (n == PCRGATE_MAX_BANKS) {
			cli_error("policy predict: more than %d banks", PCRGATE_MAX_BANKS);
			return -1;
		}
		algs[n++] = alg;
	}
	if (n == 0) {
		cli_error("policy predict: --banks names no bank");
		return -1;
	}
	*count = n;
	return 0;
}

static int print_json(const pcrgate_pcrs *pcrs)
{
	json_t *root = jsonutil_pcrs(pcrs);
	int r = -1;

	if (root != NULL && json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 &&
	    fputc('\n', stdout) != EOF)
		r = 0;
	json_decref(root);
	return r;
}

static int cmd_predict(int argc, char **argv)
{
	uint16_t algs[PCRGATE_MAX_BANKS];
	uint8_t *buf = NULL;
	char path[PATH_MAX_POLICY];
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei;
	size_t nalgs = 0, len = 0;
	unsigned slot = 0;
	struct args a;
	int r;

	if ((r = parse_args(argc, argv, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (parse_banks(a.banks, algs, &nalgs) != 0)
		return CLI_EXIT_USAGE;
	if (slot_index(&a, &slot) != 0) {
		cli_error("policy predict: %s '%s' is not a slot; say which slot the release boots from with --as a|b",
			  a.as != NULL ? "--as" : "the directory name of", a.as != NULL ? a.as : a.slot_dir);
		return CLI_EXIT_USAGE;
	}
	if ((size_t)snprintf(path, sizeof(path), "%s/manifest", a.slot_dir) >= sizeof(path)) {
		cli_error("policy predict: --slot path too long");
		return CLI_EXIT_USAGE;
	}
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(path, PCRGATE_MANIFEST_MAX, &buf, &len, &ei) != 0) {
		cli_report("policy predict", &ei);
		return CLI_EXIT_FAIL;
	}
	r = CLI_EXIT_FAIL;
	if (policy_expected_pcrs(buf, len, (int)slot, algs, nalgs, &pcrs, &ei) != 0) {
		cli_report(path, &ei);
		goto fail;
	}
	if ((a.json ? print_json(pcrs) : cli_print_pcrs(pcrs)) != 0 || fflush(stdout) != 0 || ferror(stdout)) {
		cli_error("policy predict: cannot write the output");
		goto fail;
	}
	r = CLI_EXIT_OK;
fail:
	pcrgate_pcrs_free(&pcrs);
	free(buf);
	return r;
}

static const struct cli_command commands[] = {
	{"predict", cmd_predict, "the PCR 8 and 9 values that booting a slot will produce (BANK:INDEX=HEX)"},
	{"expect", cmd_policy_expect, "the PCR values a release's slot manifest boots into, for 'policy sign --pcrs'"},
	{"sign", cmd_policy_sign, "sign a release's PCR policy: PolicyPCR AND PolicyNV(counter <= version)"},
	{"auth-digest", cmd_policy_auth_digest, "the authPolicy of an update key bound to a policy key"},
	{"verify-certify", cmd_policy_verify_certify, "check a device's certification of its update key"},
	{"from-eventlog", cmd_policy_from_eventlog, "draft a reference policy from a known-good event log"},
	{"check", cmd_policy_check, "evaluate event logs against a reference policy (pass or fail, with reasons)"},
};

static const struct cli_group group = {"policy", commands, sizeof(commands) / sizeof(commands[0]),
				       "A slot is a directory with the slot manifest pcrgate-boot checks."};

int cmd_policy(int argc, char **argv)
{
	return cli_dispatch(&group, argc, argv);
}
