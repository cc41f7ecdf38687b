/*
 * pcrgate policy sign, auth-digest, verify-certify: the vendor's side of signed PCR policies,
 * computed without a TPM. `sign` turns the PCR values a release boots into (from `pcrgate
 * policy predict`) and its security version into the approved policy PolicyPCR AND
 * PolicyNV(counter <= version), signed with the vendor's policy key (a file or any OpenSSL
 * provider URI). `auth-digest` prints the authPolicy a device's update key must carry for that
 * key; `verify-certify` checks a device's certification of its update key against it.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest/certify.h"
#include "attest/jsonutil.h"
#include "attest/policy.h"
#include "attest/tpmobj.h"
#include "pcrgate/quote.h"
#include "pcrgate/tpm.h"

#include "cli.h"
#include "policy_sign.h"

#define MAX_NONCE 64

struct sign_args {
	const char *key, *pcrs, *version, *counter, *out, *certify, *ak, *nonce;
	int json;
};

enum { O_KEY = 256, O_PCRS, O_VERSION, O_COUNTER, O_OUT, O_CERTIFY, O_AK, O_NONCE, O_JSON };

/* Parses the options allowed (a string of O_* - O_KEY + 'a'); 0 to run, 1 after --help, -1 on a usage error. */
static int parse(int argc, char **argv, const char *name, const char *allowed, void (*usage)(FILE *),
		 struct sign_args *a)
{
	static const struct option options[] = {
		{"key", required_argument, NULL, O_KEY},
		{"pcrs", required_argument, NULL, O_PCRS},
		{"security-version", required_argument, NULL, O_VERSION},
		{"counter-index", required_argument, NULL, O_COUNTER},
		{"out", required_argument, NULL, O_OUT},
		{"certify", required_argument, NULL, O_CERTIFY},
		{"ak", required_argument, NULL, O_AK},
		{"nonce", required_argument, NULL, O_NONCE},
		{"json", no_argument, NULL, O_JSON},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **slot[] = {&a->key, &a->pcrs, &a->version, &a->counter, &a->out, &a->certify, &a->ak, &a->nonce};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c < O_KEY || strchr(allowed, 'a' + (c - O_KEY)) == NULL) {
			cli_error("policy %s: unknown option or missing value '%s'; 'pcrgate policy %s --help' lists them",
				  name, argv[optind - 1], name);
			return -1;
		}
		if (c == O_JSON)
			a->json = 1;
		else
			*slot[c - O_KEY] = optarg;
	}
	if (optind != argc) {
		cli_error("policy %s: unexpected argument '%s'", name, argv[optind]);
		return -1;
	}
	return 0;
}

static int parse_index(const char *name, const char *s, uint32_t *index)
{
	unsigned long v;
	char *end;

	if (s == NULL) {
		*index = PCRGATE_TPM_DEFAULT_COUNTER_INDEX;
		return 0;
	}
	errno = 0;
	v = strtoul(s, &end, 0);
	if (s[0] < '0' || s[0] > '9' || *end != '\0' || errno != 0 || v < 0x01000000ul || v > 0x01bffffful) {
		cli_error("policy %s: --counter-index '%s' is not an NV index (0x01000000 to 0x01bfffff)", name, s);
		return -1;
	}
	*index = (uint32_t)v;
	return 0;
}

/* The vendor's policy key's TPM name (as the device loads it) and, optionally, the key. */
static int load_key_name(const char *name, const char *uri, int want_private, EVP_PKEY **pkey, TPM2B_NAME *kname)
{
	TPM2B_PUBLIC pub;
	EVP_PKEY *k = NULL;
	pcrgate_errinfo ei;
	char ctx[64];

	pcrgate_errinfo_clear(&ei);
	snprintf(ctx, sizeof(ctx), "policy %s: --key", name);
	if (pcrgate_key_load(uri, want_private, &k, &ei) != 0 || tpmobj_from_evp(k, &pub, &ei) != 0 ||
	    tpmobj_name(&pub.publicArea, kname) != 0) {
		cli_report(ctx, &ei);
		EVP_PKEY_free(k);
		return -1;
	}
	if (pkey != NULL)
		*pkey = k;
	else
		EVP_PKEY_free(k);
	return 0;
}

static void usage_sign(FILE *f)
{
	fprintf(f,
		"usage: pcrgate policy sign --key KEY --pcrs FILE --security-version V\n"
		"         [--counter-index INDEX] [--out FILE]\n"
		"\n"
		"Signs the PCR policy of a release: PolicyPCR(the PCR values in FILE) AND\n"
		"PolicyNV(anti-rollback counter <= V), with policyRef naming the counter. The output\n"
		"(JSON) lets a device whose update key is bound to KEY use it in exactly that PCR\n"
		"state, until its counter passes V.\n"
		"\n"
		"  --key KEY              the vendor's policy signing key: a PEM/DER file or an OpenSSL\n"
		"                         provider URI (EC P-256/P-384/P-521 or RSA)\n"
		"  --pcrs FILE            expected PCR values: 'pcrgate policy predict --manifest M'\n"
		"                         output (text or --json), or a tpm2_pcrread/tpm2_quote -o file.\n"
		"                         PCR 9 names the slot: a policy over it works in one slot only,\n"
		"                         so leave out predict's --as for a release either slot boots\n"
		"  --security-version V   the release's security version\n"
		"  --counter-index INDEX  the devices' counter (default 0x%08x)\n"
		"  --out FILE             write the signed policy there (default: stdout)\n",
		(unsigned)PCRGATE_TPM_DEFAULT_COUNTER_INDEX);
}

int cmd_policy_sign(int argc, char **argv)
{
	struct sign_args a;
	pcrgate_errinfo ei;
	pcrgate_pcrs *pcrs = NULL;
	EVP_PKEY *key = NULL;
	TPM2B_NAME kname;
	json_t *doc = NULL;
	uint8_t *buf = NULL;
	uint64_t version;
	uint32_t index;
	size_t len = 0;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = parse(argc, argv, "sign", "abcde", usage_sign, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.key == NULL || a.pcrs == NULL || a.version == NULL) {
		cli_error("policy sign: --key, --pcrs and --security-version are required");
		return CLI_EXIT_USAGE;
	}
	if (cli_parse_number("policy sign", "--security-version", a.version, 0, INT64_MAX, &version) != 0)
		return CLI_EXIT_USAGE;
	if (parse_index("sign", a.counter, &index) != 0)
		return CLI_EXIT_USAGE;
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(a.pcrs, PCRGATE_PCRFILE_MAX, &buf, &len, &ei) != 0 ||
	    pcrgate_pcrfile_parse(buf, len, PCRGATE_PCRFILE_AUTO, NULL, 0, &pcrs, NULL, &ei) != 0) {
		cli_report(a.pcrs, &ei);
		goto fail;
	}
	if (load_key_name("sign", a.key, 1, &key, &kname) != 0)
		goto fail;
	if (policy_sign(pcrs, version, index, key, &doc, &ei) != 0 || jsonutil_write(doc, a.out, &ei) != 0) {
		cli_report("policy sign", &ei);
		goto fail;
	}
	rc = CLI_EXIT_OK;
fail:
	json_decref(doc);
	EVP_PKEY_free(key);
	pcrgate_pcrs_free(&pcrs);
	free(buf);
	return rc;
}

static void usage_auth_digest(FILE *f)
{
	fprintf(f,
		"usage: pcrgate policy auth-digest --key KEY [--counter-index INDEX] [--json]\n"
		"\n"
		"Prints the authPolicy a device's update key carries when it is bound to the policy\n"
		"key KEY (public part: PEM/DER, a certificate, or a provider URI) and the counter:\n"
		"PolicyAuthorize(KEY's TPM name, policyRef \"pcrgate-counter:INDEX\"), INDEX as\n"
		"0x and 8 hex digits (default 0x%08x).\n",
		(unsigned)PCRGATE_TPM_DEFAULT_COUNTER_INDEX);
}

int cmd_policy_auth_digest(int argc, char **argv)
{
	char hex[2 * sizeof(TPMU_NAME) + 1], text[sizeof(TPMU_HA) + 1];
	struct sign_args a;
	TPM2B_NAME kname;
	TPM2B_NONCE ref;
	TPM2B_DIGEST policy;
	uint32_t index;
	int r;

	if ((r = parse(argc, argv, "auth-digest", "adi", usage_auth_digest, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.key == NULL) {
		cli_error("policy auth-digest: --key is required");
		return CLI_EXIT_USAGE;
	}
	if (parse_index("auth-digest", a.counter, &index) != 0)
		return CLI_EXIT_USAGE;
	if (load_key_name("auth-digest", a.key, 0, NULL, &kname) != 0)
		return CLI_EXIT_FAIL;
	policy_ref(index, &ref);
	if (policy_authorize_digest(&kname, &ref, &policy) != 0) {
		cli_error("policy auth-digest: cannot compute the digest");
		return CLI_EXIT_FAIL;
	}
	memcpy(text, ref.buffer, ref.size);
	text[ref.size] = '\0';
	pcrgate_hex_encode(kname.name, kname.size, hex);
	printf(a.json ? "{\n  \"policy_key_name\": \"%s\",\n" : "policy_key_name=%s\n", hex);
	printf(a.json ? "  \"policy_ref\": \"%s\",\n" : "policy_ref=%s\n", text);
	pcrgate_hex_encode(policy.buffer, policy.size, hex);
	printf(a.json ? "  \"auth_policy\": \"%s\"\n}\n" : "auth_policy=%s\n", hex);
	return fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
}

static void usage_verify_certify(FILE *f)
{
	fputs("usage: pcrgate policy verify-certify --certify FILE --key KEY [--ak AK]\n"
	      "         [--nonce HEX] [--counter-index INDEX]\n"
	      "\n"
	      "Checks a device's certification of its update key ('pcrgate-agent certify'): the\n"
	      "AK's signature over a TPM2_Certify with the nonce, the certified name equal to the\n"
	      "key's public area, the AK and the key children of one parent (the key lives in the\n"
	      "AK's TPM), and the key the update key pcrgate makes, with the authPolicy bound to\n"
	      "KEY and the counter. Exit 0 when every check passes, 1 when one fails.\n"
	      "\n"
	      "  --certify FILE   the certification (JSON)\n"
	      "  --key KEY        the vendor's policy key (public part)\n"
	      "  --ak AK          the enrolled AK: its TPM2B_PUBLIC (tpm2_readpublic -o)\n"
	      "  --nonce HEX      the nonce the certification must carry\n",
	      f);
}

int cmd_policy_verify_certify(int argc, char **argv)
{
	char hex[2 * sizeof(TPMU_NAME) + 1];
	uint8_t nonce[MAX_NONCE], *doc = NULL, *akbuf = NULL;
	struct certify_result res;
	struct sign_args a;
	TPM2B_PUBLIC ak;
	TPM2B_NAME kname;
	pcrgate_errinfo ei;
	size_t len = 0, aklen = 0, nlen = 0;
	uint32_t index;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = parse(argc, argv, "verify-certify", "adfgh", usage_verify_certify, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.key == NULL || a.certify == NULL) {
		cli_error("policy verify-certify: --certify and --key are required");
		return CLI_EXIT_USAGE;
	}
	if (a.nonce != NULL && a.nonce[0] != '\0' && pcrgate_hex_decode(a.nonce, nonce, sizeof(nonce), &nlen) != 0) {
		cli_error("policy verify-certify: --nonce needs hex of at most %d bytes", MAX_NONCE);
		return CLI_EXIT_USAGE;
	}
	if (parse_index("verify-certify", a.counter, &index) != 0)
		return CLI_EXIT_USAGE;
	if (load_key_name("verify-certify", a.key, 0, NULL, &kname) != 0)
		return CLI_EXIT_FAIL;
	pcrgate_errinfo_clear(&ei);
	if (a.ak != NULL && (pcrgate_file_read(a.ak, sizeof(TPM2B_PUBLIC), &akbuf, &aklen, &ei) != 0 ||
			     tpmobj_public_unmarshal(akbuf, aklen, &ak, &ei) != 0)) {
		cli_report(a.ak, &ei);
		goto fail;
	}
	if (pcrgate_file_read(a.certify, CERTIFY_FILE_MAX, &doc, &len, &ei) != 0) {
		cli_report(a.certify, &ei);
		goto fail;
	}
	if (certify_verify(doc, len, &kname, index, a.nonce != NULL ? nonce : NULL, nlen, a.ak != NULL ? &ak : NULL,
			   &res, &ei) != 0) {
		cli_report("policy verify-certify", &ei);
		goto fail;
	}
	pcrgate_hex_encode(res.key_name.name, res.key_name.size, hex);
	printf("update key: %s\n", hex);
	pcrgate_hex_encode(res.ak_name.name, res.ak_name.size, hex);
	printf("certified by AK: %s\n", hex);
	pcrgate_hex_encode(res.auth_policy.buffer, res.auth_policy.size, hex);
	printf("authPolicy: %s (PolicyAuthorize by the policy key, counter 0x%08x)\n", hex, (unsigned)index);
	rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
fail:
	free(doc);
	free(akbuf);
	return rc;
}
