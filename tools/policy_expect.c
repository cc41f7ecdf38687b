/*
 * pcrgate policy expect: the PCR values a slot with a given slot manifest boots into, in the
 * format `pcrgate policy sign --pcrs` reads, so a vendor signs a release's PCR policy from the
 * manifest it ships. PCR 8 (the images) always; PCR 9 (the slot event, which names the slot)
 * only with --slot, since a policy over PCR 9 works in one slot only (docs/policies.md
 * "Expected PCR values of a release"). The values are replayed from the boot core's own events
 * (pcrgate_boot_events), the bytes pcrgate-boot extends, so the two cannot drift apart.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "boot/measure.h"
#include "pcrgate/pcr_map.h"

#include "cli.h"
#include "policy_expect.h"

int policy_expected_pcrs(const uint8_t *manifest, size_t len, int slot, const uint16_t *algs, size_t nalgs,
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

	if (manifest == NULL || out == NULL || algs == NULL || nalgs == 0 || slot < -1 || slot >= PCRGATE_BOOT_SLOTS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no manifest or bank");
	if ((r = pcrgate_manifest_parse(manifest, len, &m, &perr)) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, r, perr.offset, "%s", perr.what != NULL ? perr.what : "invalid");
	/* The slot event names the slot; without one it is built for a but never replayed. */
	if (pcrgate_digest(PCRGATE_ALG_SHA256, manifest, len, msha) != 0 ||
	    pcrgate_boot_events(slot < 0 ? 0 : (unsigned)slot, &m, msha, events, PCRGATE_BOOT_MAX_EVENTS, &n) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "cannot build the boot's events");
	if ((pcrs = pcrgate_pcrs_new()) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	for (b = 0; b < nalgs; b++) {
		memset(value, 0, sizeof(value));
		for (i = 0; i < n; i++) {
			k = events[i].pcr == PCRGATE_PCR_BOOT_IMAGES ? 0 : 1;
			if (pcrgate_digest(algs[b], events[i].data + events[i].hashed_off, events[i].hashed_len, d) != 0 ||
			    pcrgate_pcr_extend(algs[b], value[k], d) != 0) {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "cannot compute bank %s",
							pcrgate_alg_name(algs[b]));
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

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pcrgate policy expect --manifest FILE [--slot a|b] [--bank ALG]... [--out FILE]\n"
		"\n"
		"Prints the values PCR %u (and with --slot PCR %u) hold after pcrgate-boot has booted a slot\n"
		"with the slot manifest FILE, starting from zero: one BANK:INDEX=HEX line each, the input\n"
		"'pcrgate policy sign --pcrs' reads. The manifest's own bytes are measured (its sha256 is\n"
		"in the slot event): give the exact file the release ships. Its signature is not checked.\n"
		"\n"
		"  --manifest FILE  the release's slot manifest\n"
		"  --slot a|b       include PCR %u, which names the slot: such a policy works in that slot only\n"
		"  --bank ALG       sha1, sha256, sha384 or sha512; repeat for several (default sha256)\n"
		"  --out FILE       write the values there (atomically) instead of to stdout\n",
		PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT, PCRGATE_PCR_BOOT_SLOT);
}

struct expect_args {
	const char *manifest, *out;
	int slot;
	uint16_t algs[PCRGATE_MAX_BANKS];
	size_t nalgs;
};

static int add_bank(struct expect_args *a, const char *name)
{
	uint16_t alg = pcrgate_alg_from_name(name);
	size_t i;

	if (alg == 0 || pcrgate_alg_openssl_name(alg) == NULL) {
		cli_error("policy expect: unknown bank '%s' (sha1, sha256, sha384, sha512)", name);
		return -1;
	}
	for (i = 0; i < a->nalgs; i++)
		if (a->algs[i] == alg) {
			cli_error("policy expect: --bank %s given twice", name);
			return -1;
		}
	if (a->nalgs == PCRGATE_MAX_BANKS) {
		cli_error("policy expect: more than %d banks", PCRGATE_MAX_BANKS);
		return -1;
	}
	a->algs[a->nalgs++] = alg;
	return 0;
}

/* 0 to run, 1 after --help, -1 after a usage error (reported). */
static int parse(int argc, char **argv, struct expect_args *a)
{
	static const struct option options[] = {
		{"manifest", required_argument, NULL, 'm'}, {"slot", required_argument, NULL, 's'},
		{"bank", required_argument, NULL, 'b'},     {"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'},           {NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	a->slot = -1;
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'm':
			a->manifest = optarg;
			break;
		case 's':
			if (strcmp(optarg, "a") != 0 && strcmp(optarg, "b") != 0) {
				cli_error("policy expect: --slot '%s' is not a slot (a or b)", optarg);
				return -1;
			}
			a->slot = optarg[0] == 'a' ? 0 : 1;
			break;
		case 'b':
			if (add_bank(a, optarg) != 0)
				return -1;
			break;
		case 'o':
			a->out = optarg;
			break;
		case 'h':
			usage(stdout);
			return 1;
		default:
			cli_error("policy expect: unknown option or missing value '%s'; "
				  "'pcrgate policy expect --help' lists them",
				  argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc) {
		cli_error("policy expect: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (a->manifest == NULL) {
		cli_error("policy expect: --manifest FILE is required");
		return -1;
	}
	if (a->nalgs == 0)
		a->algs[a->nalgs++] = PCRGATE_ALG_SHA256;
	return 0;
}

int cmd_policy_expect(int argc, char **argv)
{
	struct expect_args a;
	pcrgate_pcrs *pcrs = NULL;
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	char *text = NULL;
	size_t len = 0, tlen = 0;
	FILE *mem = NULL;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = parse(argc, argv, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(a.manifest, PCRGATE_MANIFEST_MAX, &buf, &len, &ei) != 0 ||
	    policy_expected_pcrs(buf, len, a.slot, a.algs, a.nalgs, &pcrs, &ei) != 0) {
		cli_report(a.manifest, &ei);
		goto fail;
	}
	/* Formatted whole first, so --out is written in one atomic replace. */
	if ((mem = open_memstream(&text, &tlen)) == NULL) {
		cli_error("policy expect: out of memory");
		goto fail;
	}
	r = cli_write_pcrs(mem, pcrs);
	if (fclose(mem) != 0 || r != 0) {
		cli_error("policy expect: out of memory");
		goto fail;
	}
	if (a.out != NULL) {
		if (pcrgate_file_write_atomic(a.out, (const uint8_t *)text, tlen, 0644, &ei) != 0) {
			cli_report("policy expect", &ei);
			goto fail;
		}
	} else if (fwrite(text, 1, tlen, stdout) != tlen || fflush(stdout) != 0) {
		cli_error("policy expect: cannot write the output");
		goto fail;
	}
	rc = CLI_EXIT_OK;
fail:
	free(text);
	pcrgate_pcrs_free(&pcrs);
	free(buf);
	return rc;
}
