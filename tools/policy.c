/*
 * pcrgate policy: PCR policies of a release. `predict` computes the values PCR 8 (and, for a
 * given slot, PCR 9) will hold after pcrgate-boot has booted a release, in each bank, from its
 * slot manifest alone and without a TPM: it replays the boot core's own events
 * (pcrgate_boot_events), the bytes pcrgate-boot extends, so a vendor can sign the PCR policy of
 * a release before any device boots it and the two cannot drift apart. `sign`, `auth-digest` and
 * `verify-certify` live in tools/policy_sign.c, `from-eventlog` and `check` in
 * tools/policy_draft.c.
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
#include "policy_sign.h"

#define PATH_MAX_POLICY 4096

struct args {
	const char *slot_dir;
	const char *manifest;
	const char *as;
	const char *banks;
	const char *out;
	int json;
};

static const struct option options[] = {
	{"slot", required_argument, NULL, 's'},
	{"manifest", required_argument, NULL, 'm'},
	{"as", required_argument, NULL, 'a'},
	{"banks", required_argument, NULL, 'b'},
	{"out", required_argument, NULL, 'o'},
	{"json", no_argument, NULL, 'j'},
	{"help", no_argument, NULL, 'h'},
	{NULL, 0, NULL, 0},
};

static void usage_predict(FILE *f)
{
	fprintf(f,
		"usage: pcrgate policy predict (--slot DIR | --manifest FILE) [--as a|b] [--banks LIST]\n"
		"         [--json] [--out FILE]\n"
		"\n"
		"Prints the values PCR %u, and for a slot PCR %u, will hold after pcrgate-boot has booted\n"
		"a release with the slot manifest DIR/manifest or FILE, starting from zero: one\n"
		"BANK:INDEX=HEX line each, sorted by bank name then index, as 'pcrgate eventlog pcrs'\n"
		"prints a log and 'pcrgate policy sign --pcrs' reads. The manifest's own bytes are\n"
		"measured (its sha256 is in the slot event): give the exact file the release ships. Its\n"
		"signature is not checked here.\n"
		"\n"
		"  --slot DIR       the slot directory (or a release directory laid out the same way)\n"
		"  --manifest FILE  the release's slot manifest\n"
		"  --as a|b         the slot it will boot from, which PCR %u names (with --slot, default:\n"
		"                   DIR's name). Without it --manifest prints PCR %u alone: a policy over\n"
		"                   PCR %u works in that one slot only\n"
		"  --banks LIST     comma-separated banks: sha1, sha256, sha384, sha512 (default sha256)\n"
		"  --json           print {\"BANK\": {\"INDEX\": \"HEX\"}} instead\n"
		"  --out FILE       write the values there (atomically, 0644) instead of to stdout\n",
		PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT, PCRGATE_PCR_BOOT_SLOT, PCRGATE_PCR_BOOT_IMAGES,
		PCRGATE_PCR_BOOT_SLOT);
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
		case 'm':
			a->manifest = optarg;
			break;
		case 'a':
			a->as = optarg;
			break;
		case 'b':
			a->banks = optarg;
			break;
		case 'o':
			a->out = optarg;
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
	if (a->slot_dir == NULL && a->manifest == NULL) {
		cli_error("policy predict: --slot DIR is required (or --manifest FILE)");
		return -1;
	}
	if (a->slot_dir != NULL && a->manifest != NULL) {
		cli_error("policy predict: give --slot DIR or --manifest FILE, not both");
		return -1;
	}
	return 0;
}

/*
 * The slot a release boots from: --as, else with --slot the directory's last name when that is
 * a or b; -1 with --manifest and no --as (PCR 8 alone). 0, or -1 when no slot can be named.
 */
static int slot_index(const struct args *a, int *slot)
{
	const char *name = a->as;
	char buf[PATH_MAX_POLICY];
	size_t n;

	if (name == NULL && a->manifest != NULL) {
		*slot = -1;
		return 0;
	}
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

/*
 * The values pcrgate-boot leaves, from zero, after booting a slot with the slot manifest whose
 * exact bytes are manifest[len], in each bank of algs: PCRGATE_PCR_BOOT_IMAGES always, and
 * PCRGATE_PCR_BOOT_SLOT too when slot is 0 (a) or 1 (b); with slot -1 it is left out. A manifest
 * the boot would refuse is PCRGATE_ERR_FORMAT/LIMIT with its byte offset. *out only on success.
 */
static int policy_expected_pcrs(const uint8_t *manifest, size_t len, int slot, const uint16_t *algs, size_t nalgs,
				pcrgate_pcrs **out, pcrgate_errinfo *ei)
{
	struct pcrgate_boot_event events[PCRGATE_BOOT_MAX_EVENTS];
	struct pcrgate_manifest_error perr = {0, NULL};
	uint8_t value[2][PCRGATE_MAX_DIGEST], d[PCRGATE_MAX_DIGEST], msha[32];
	const unsigned index[2] = {PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT};
	struct pcrgate_manifest m;
	pcrgate_pcrs *pcrs = NULL;
	size_t n = 0, b, i;
	unsigned k;
	int r;

	if (manifest == NULL || out == NULL || algs == NULL || nalgs == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no manifest, bank or output given");
	if (slot < -1 || slot >= PCRGATE_BOOT_SLOTS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "slot %d is neither a (0) nor b (1)", slot);
	if ((r = pcrgate_manifest_parse(manifest, len, &m, &perr)) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, r, perr.offset, "%s",
					   perr.what != NULL ? perr.what : "not a slot manifest pcrgate-boot accepts");
	if (pcrgate_digest(PCRGATE_ALG_SHA256, manifest, len, msha) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot hash the manifest");
	/* The slot event names the slot; without one it is built for a but never replayed. */
	if ((r = pcrgate_boot_events(slot < 0 ? 0 : (unsigned)slot, &m, msha, events, PCRGATE_BOOT_MAX_EVENTS, &n)) !=
	    PCRGATE_OK)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "the boot's events of this manifest: %s",
					   pcrgate_strerror(r));
	if ((pcrs = pcrgate_pcrs_new()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	for (b = 0; b < nalgs; b++) {
		memset(value, 0, sizeof(value));
		for (i = 0; i < n; i++) {
			k = events[i].pcr == PCRGATE_PCR_BOOT_IMAGES ? 0 : 1;
			if (pcrgate_digest(algs[b], events[i].data + events[i].hashed_off, events[i].hashed_len, d) != 0 ||
			    pcrgate_pcr_extend(algs[b], value[k], d) != 0) {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET,
							"cannot compute the %s bank", pcrgate_alg_name(algs[b]));
				goto fail;
			}
		}
		for (k = 0; k < (slot < 0 ? 1u : 2u); k++)
			if (pcrgate_pcrs_set(pcrs, algs[b], index[k], value[k], pcrgate_alg_digest_size(algs[b])) != 0) {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
				goto fail;
			}
	}
	*out = pcrs;
	pcrs = NULL;
	r = PCRGATE_OK;
fail:
	pcrgate_pcrs_free(&pcrs);
	return r;
}

static int print_json(FILE *f, const pcrgate_pcrs *pcrs)
{
	json_t *root = jsonutil_pcrs(pcrs);
	int r = -1;

	if (root != NULL && json_dumpf(root, f, JSON_INDENT(2) | JSON_PRESERVE_ORDER) == 0 && fputc('\n', f) != EOF)
		r = 0;
	json_decref(root);
	return r;
}

static int cmd_predict(int argc, char **argv)
{
	uint16_t algs[PCRGATE_MAX_BANKS];
	uint8_t *buf = NULL;
	char path[PATH_MAX_POLICY], *text = NULL;
	const char *manifest;
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei;
	size_t nalgs = 0, len = 0, tlen = 0;
	FILE *mem = NULL;
	struct args a;
	int r, slot = -1, rc = CLI_EXIT_FAIL;

	if ((r = parse_args(argc, argv, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (parse_banks(a.banks, algs, &nalgs) != 0)
		return CLI_EXIT_USAGE;
	if (slot_index(&a, &slot) != 0) {
		cli_error("policy predict: %s '%s' is not a slot; say which slot the release boots from with --as a|b",
			  a.as != NULL ? "--as" : "the directory name of", a.as != NULL ? a.as : a.slot_dir);
		return CLI_EXIT_USAGE;
	}
	manifest = a.manifest;
	if (manifest == NULL) {
		if ((size_t)snprintf(path, sizeof(path), "%s/manifest", a.slot_dir) >= sizeof(path)) {
			cli_error("policy predict: --slot path too long");
			return CLI_EXIT_USAGE;
		}
		manifest = path;
	}
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(manifest, PCRGATE_MANIFEST_MAX, &buf, &len, &ei) != 0) {
		cli_report("policy predict", &ei);
		return CLI_EXIT_FAIL;
	}
	if (policy_expected_pcrs(buf, len, slot, algs, nalgs, &pcrs, &ei) != 0) {
		cli_report(manifest, &ei);
		goto fail;
	}
	/* Formatted whole first, so that --out is written in one atomic replace. */
	if ((mem = open_memstream(&text, &tlen)) == NULL) {
		cli_error("policy predict: out of memory");
		goto fail;
	}
	r = a.json ? print_json(mem, pcrs) : cli_write_pcrs(mem, pcrs);
	if (fclose(mem) != 0 || r != 0) {
		cli_error("policy predict: out of memory");
		goto fail;
	}
	if (a.out != NULL) {
		if (pcrgate_file_write_atomic(a.out, (const uint8_t *)text, tlen, 0644, &ei) != 0) {
			cli_report("policy predict", &ei);
			goto fail;
		}
	} else if (fwrite(text, 1, tlen, stdout) != tlen || fflush(stdout) != 0) {
		cli_error("policy predict: cannot write the output");
		goto fail;
	}
	rc = CLI_EXIT_OK;
fail:
	free(text);
	pcrgate_pcrs_free(&pcrs);
	free(buf);
	return rc;
}

static const struct cli_command commands[] = {
	{"predict", cmd_predict, "the PCR 8 (and 9) values a release's slot manifest boots into (BANK:INDEX=HEX)"},
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
