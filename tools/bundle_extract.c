/*
 * pcrgate bundle extract, and the checks it shares with `verify` (tools/bundle.c): a verified
 * bundle's slot written as pcrgate-boot reads it (the images split at the slot manifest's
 * sizes, each checked against its digest as it is written, the manifest and its signature),
 * into OUT.partial, renamed into place only when everything checked out
 * (pcrgate_bundle_install), so a failure leaves nothing.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "attest/policy.h"
#include "bundle_cli.h"
#include "cli.h"

enum { O_TRUST = 256, O_KEY, O_BASE, O_COMPAT, O_MINSV, O_OUT };

int bundle_parse_check(const char *cmd, int argc, char **argv, int allow_out, void (*usage)(FILE *),
		       struct bundle_check_args *a)
{
	static const struct option options[] = {
		{"trust", required_argument, NULL, O_TRUST},
		{"content-key", required_argument, NULL, O_KEY},
		{"base-slot", required_argument, NULL, O_BASE},
		{"compatible", required_argument, NULL, O_COMPAT},
		{"min-security-version", required_argument, NULL, O_MINSV},
		{"out", required_argument, NULL, O_OUT},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return 1;
		case O_TRUST: a->trust = optarg; break;
		case O_KEY: a->key = optarg; break;
		case O_BASE: a->base_slot = optarg; break;
		case O_COMPAT: a->compatible = optarg; break;
		case O_MINSV: a->min_sv = optarg; break;
		case O_OUT:
			if (allow_out) {
				a->out = optarg;
				break;
			}
			/* fall through */
		default:
			cli_error("bundle %s: unknown option or missing value '%s'; 'pcrgate bundle %s --help' lists them",
				  cmd, argv[optind - 1], cmd);
			return -1;
		}
	}
	if (optind + 1 != argc) {
		cli_error("bundle %s: expected one BUNDLE", cmd);
		return -1;
	}
	a->bundle = argv[optind];
	if (a->trust == NULL || (allow_out && a->out == NULL)) {
		cli_error("bundle %s: --trust DIR%s is required", cmd, allow_out ? " and --out SLOTDIR are" : "");
		return -1;
	}
	return 0;
}

void bundle_close_verified(struct bundle_opened *o)
{
	OPENSSL_cleanse(o->key, sizeof(o->key));
	o->have_key = 0;
	if (o->base != NULL)
		unlink(o->base);
	free(o->base);
	o->base = NULL;
	if (o->f != NULL)
		fclose(o->f);
	o->f = NULL;
	pcrgate_bundle_free(&o->b);
}

int bundle_open_verified(const char *cmd, const struct bundle_check_args *a, struct bundle_opened *o)
{
	struct pcrgate_bundle_policy pol = {a->compatible, 0};
	struct pcrgate_truststore *ts = NULL;
	const struct pcrgate_bundle_manifest *m;
	struct signed_policy sp;
	pcrgate_errinfo ei;
	const char *text;
	uint8_t base_sha256[32];
	uint64_t minsv = 0, base_size;
	size_t len;
	char ctx[64];
	int rc = CLI_EXIT_FAIL;

	memset(o, 0, sizeof(*o));
	snprintf(ctx, sizeof(ctx), "bundle %s", cmd);
	if (a->min_sv != NULL && cli_parse_number(ctx, "--min-security-version", a->min_sv, 0, UINT32_MAX, &minsv) != 0)
		return CLI_EXIT_USAGE;
	pol.min_security_version = (uint32_t)minsv;
	if (a->key != NULL) {
		snprintf(ctx, sizeof(ctx), "bundle %s: --content-key", cmd);
		if (bundle_read_key(ctx, a->key, o->key) != 0)
			return CLI_EXIT_FAIL;
		o->have_key = 1;
	}
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_truststore_load(&ts, a->trust, &ei) != 0) {
		snprintf(ctx, sizeof(ctx), "bundle %s: --trust", cmd);
		cli_report(ctx, &ei);
		goto fail;
	}
	if ((o->f = fopen(a->bundle, "rb")) == NULL) {
		cli_error("bundle %s: %s: %s", cmd, a->bundle, strerror(errno));
		goto fail;
	}
	if (pcrgate_bundle_read(o->f, &o->b, &ei) != 0 || pcrgate_bundle_verify(o->b, ts, &pol, &ei) != 0) {
		cli_report(ctx, &ei);
		goto fail;
	}
	m = pcrgate_bundle_get_manifest(o->b);
	text = pcrgate_bundle_manifest_pcr_policy(m, &len);
	if (policy_parse((const uint8_t *)text, len, &sp, &ei) != 0) {
		snprintf(ctx, sizeof(ctx), "bundle %s: pcr_policy", cmd);
		cli_report(ctx, &ei);
		goto fail;
	}
	if (pcrgate_bundle_manifest_payload_type(m) == PCRGATE_BUNDLE_DELTA) {
		if (a->base_slot == NULL) {
			cli_error("bundle %s: base: the payload is a delta; --base-slot DIR names the installed slot", cmd);
			goto fail;
		}
		/* The decoder checks the copy's sha256 on the very mapping it decodes against. */
		if (bundle_slot_image_tmp(cmd, a->base_slot, &o->base, base_sha256, &base_size) != 0)
			goto fail;
		if (base_size != pcrgate_bundle_manifest_base_size(m) ||
		    !pcrgate_ct_equal(base_sha256, pcrgate_bundle_manifest_base_sha256(m), 32)) {
			cli_error("bundle %s: base: the slot in --base-slot %s is not the one the delta was made against",
				  cmd, a->base_slot);
			goto fail;
		}
	}
	if (pcrgate_bundle_manifest_encryption(m) == PCRGATE_BUNDLE_ENC_AES256GCM && !o->have_key) {
		cli_error("bundle %s: the payload is encrypted; --content-key FILE is required", cmd);
		goto fail;
	}
	rc = CLI_EXIT_OK;
fail:
	if (rc != CLI_EXIT_OK)
		bundle_close_verified(o);
	pcrgate_truststore_free(&ts);
	return rc;
}


static void usage_extract(FILE *f)
{
	fputs("usage: pcrgate bundle extract BUNDLE --trust DIR [--content-key FILE] [--base-slot DIR]\n"
	      "         [--compatible STRING] [--min-security-version N] --out SLOTDIR\n"
	      "\n"
	      "Verifies the bundle as 'pcrgate bundle verify' does and writes the slot it contains into\n"
	      "SLOTDIR (which must not exist): the images the slot manifest names, manifest and\n"
	      "manifest.sig, as pcrgate-boot reads a slot. Written into SLOTDIR.partial and renamed\n"
	      "into place once every check passed; a failure leaves nothing.\n",
	      f);
}

int cmd_bundle_extract(int argc, char **argv)
{
	struct bundle_check_args a;
	struct bundle_opened o;
	const struct pcrgate_bundle_manifest *m;
	pcrgate_errinfo ei;
	struct stat st;
	int r;

	if ((r = bundle_parse_check("extract", argc, argv, 1, usage_extract, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (lstat(a.out, &st) == 0) {
		cli_error("bundle extract: --out %s exists; give a new directory", a.out);
		return CLI_EXIT_FAIL;
	}
	if ((r = bundle_open_verified("extract", &a, &o)) != 0)
		return r;
	r = CLI_EXIT_FAIL;
	m = pcrgate_bundle_get_manifest(o.b);
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_bundle_install(o.b, o.f, o.have_key ? o.key : NULL, o.base, a.out, NULL, 0, &ei) != 0) {
		cli_report("bundle extract", &ei);
		goto fail;
	}
	printf("extracted release %s (version %s, security version %" PRIu32 ") into %s\n",
	       pcrgate_bundle_manifest_release(m), pcrgate_bundle_manifest_version(m),
	       pcrgate_bundle_manifest_security_version(m), a.out);
	r = CLI_EXIT_OK;
fail:
	bundle_close_verified(&o);
	return r;
}
