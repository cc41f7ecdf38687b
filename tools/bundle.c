/*
 * pcrgate bundle create, inspect, verify (extract: tools/bundle_extract.c): the vendor's side of
 * update bundles and the checks a device makes, from the command line. `create` builds the slot
 * image of a slot directory and signs a bundle of it (full, or delta against a base slot,
 * optionally encrypted); `inspect` shows header and manifest WITHOUT any trust; `verify` runs
 * every check of a device in its order, down to the last payload byte. docs/updates.md.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/pem.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509.h>

#include "attest/policy.h"
#include "bundle_cli.h"
#include "cli.h"
#include "pcrgate/alg.h"

#define MAX_SIGNERS PCRGATE_CMS_MAX_SIGNERS

struct create_args {
	const char *slot, *base_slot, *release, *key, *policy, *eos, *notes, *chunk, *level, *out;
	const char *cert[MAX_SIGNERS], *skey[MAX_SIGNERS], *chain[MAX_SIGNERS];
	size_t n_cert, n_key;
	const char *add_root[PCRGATE_BUNDLE_MAX_TRUST_ROOTS], *remove_root[PCRGATE_BUNDLE_MAX_TRUST_ROOTS];
	size_t n_add, n_remove;
	int force;
};

enum { O_SLOT = 256, O_BASE, O_RELEASE, O_CERT, O_SKEY, O_CHAIN, O_KEY, O_POLICY, O_EOS, O_NOTES, O_CHUNK,
       O_LEVEL, O_ADD, O_REMOVE, O_TRUST, O_COMPAT, O_MINSV, O_JSON, O_OUT, O_FORCE };

static void usage_create(FILE *f)
{
	fputs("usage: pcrgate bundle create --slot DIR [--base-slot DIR] --release NAME\n"
	      "         --signer-cert CERT --signer-key KEY [--chain FILE] [--signer-cert ... --signer-key ...]\n"
	      "         --pcr-policy FILE [--content-key FILE] [--end-of-support YYYY-MM-DD] [--notes FILE]\n"
	      "         [--chunk-size N] [--level N] [--add-root CERT] [--remove-root CERT] -o BUNDLE [--force]\n"
	      "\n"
	      "Builds a signed update bundle of the slot in DIR (its manifest and images): a full payload,\n"
	      "or a delta against the slot image of --base-slot. The slot's manifest.sig is embedded, or,\n"
	      "when the slot has none, the slot manifest is signed with the same signers.\n"
	      "\n"
	      "  --signer-cert CERT  a code-signing certificate (PEM); repeat with --signer-key for several\n"
	      "                      signers (a root rotation needs one under the old and one under the new root)\n"
	      "  --signer-key KEY    its private key: a PEM/DER file or an OpenSSL provider URI\n"
	      "  --chain FILE        intermediate certificates (PEM) of the signer named just before\n"
	      "  --pcr-policy FILE   the release's signed PCR policy ('pcrgate policy sign')\n"
	      "  --content-key FILE  32 raw bytes: encrypt the payload with AES-256-GCM\n"
	      "  --chunk-size N      payload bytes per chunk, a power of two from 65536 to 16777216\n"
	      "                      (default: 1 MiB, more for payloads of over 2048 chunks)\n"
	      "  --level N           zstd level 1 to 22 (default: the payload encoder's)\n"
	      "  --add-root CERT     trust_update: make this self-signed root (PEM) a trust anchor\n"
	      "  --remove-root CERT  trust_update: stop trusting this root (PEM)\n"
	      "  -o, --out BUNDLE    the bundle to write (atomically)\n"
	      "  --force             replace an existing BUNDLE\n",
	      f);
}

static int parse_create(int argc, char **argv, struct create_args *a)
{
	static const struct option options[] = {
		{"slot", required_argument, NULL, O_SLOT},
		{"base-slot", required_argument, NULL, O_BASE},
		{"release", required_argument, NULL, O_RELEASE},
		{"signer-cert", required_argument, NULL, O_CERT},
		{"signer-key", required_argument, NULL, O_SKEY},
		{"chain", required_argument, NULL, O_CHAIN},
		{"content-key", required_argument, NULL, O_KEY},
		{"pcr-policy", required_argument, NULL, O_POLICY},
		{"end-of-support", required_argument, NULL, O_EOS},
		{"notes", required_argument, NULL, O_NOTES},
		{"chunk-size", required_argument, NULL, O_CHUNK},
		{"level", required_argument, NULL, O_LEVEL},
		{"add-root", required_argument, NULL, O_ADD},
		{"remove-root", required_argument, NULL, O_REMOVE},
		{"out", required_argument, NULL, O_OUT},
		{"force", no_argument, NULL, O_FORCE},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **one[] = {&a->slot, &a->base_slot, &a->release, NULL, NULL, NULL, &a->key, &a->policy, &a->eos,
			      &a->notes, &a->chunk, &a->level};
	int c;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "ho:", options, NULL)) != -1) {
		if (c == 'h') {
			usage_create(stdout);
			return 1;
		}
		if (c == 'o' || c == O_OUT) {
			a->out = optarg;
		} else if (c == O_FORCE) {
			a->force = 1;
		} else if (c == O_CERT || c == O_SKEY) {
			size_t *n = c == O_CERT ? &a->n_cert : &a->n_key;
			if (*n == MAX_SIGNERS) {
				cli_error("bundle create: at most %d signers", MAX_SIGNERS);
				return -1;
			}
			(c == O_CERT ? a->cert : a->skey)[(*n)++] = optarg;
		} else if (c == O_CHAIN) {
			if (a->n_cert == 0 || a->chain[a->n_cert - 1] != NULL) {
				cli_error("bundle create: --chain follows the --signer-cert it belongs to (once)");
				return -1;
			}
			a->chain[a->n_cert - 1] = optarg;
		} else if (c == O_ADD || c == O_REMOVE) {
			size_t *n = c == O_ADD ? &a->n_add : &a->n_remove;
			if (*n == PCRGATE_BUNDLE_MAX_TRUST_ROOTS) {
				cli_error("bundle create: at most %u roots added and %u removed",
					  PCRGATE_BUNDLE_MAX_TRUST_ROOTS, PCRGATE_BUNDLE_MAX_TRUST_ROOTS);
				return -1;
			}
			(c == O_ADD ? a->add_root : a->remove_root)[(*n)++] = optarg;
		} else if (c >= O_SLOT && c <= O_LEVEL && one[c - O_SLOT] != NULL) {
			*one[c - O_SLOT] = optarg;
		} else {
			cli_error("bundle create: unknown option or missing value '%s'; 'pcrgate bundle create --help' "
				  "lists them",
				  argv[optind - 1]);
			return -1;
		}
	}
	if (optind != argc) {
		cli_error("bundle create: unexpected argument '%s'", argv[optind]);
		return -1;
	}
	if (a->slot == NULL || a->release == NULL || a->policy == NULL || a->out == NULL || a->n_cert == 0) {
		cli_error("bundle create: --slot, --release, --signer-cert, --signer-key, --pcr-policy and -o are required");
		return -1;
	}
	if (a->n_cert != a->n_key) {
		cli_error("bundle create: %zu --signer-cert but %zu --signer-key; give them in pairs", a->n_cert, a->n_key);
		return -1;
	}
	return 0;
}

/* A content key file: exactly 32 bytes; who names the command and option in messages. */
int bundle_read_key(const char *who, const char *path, uint8_t key[PCRGATE_BUNDLE_KEY_SIZE])
{
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(path, PCRGATE_BUNDLE_KEY_SIZE + 1, &buf, &len, &ei) != 0 ||
	    len != PCRGATE_BUNDLE_KEY_SIZE) {
		if (buf != NULL)
			cli_error("%s %s: %zu bytes, a content key has exactly %u", who, path, len,
				  PCRGATE_BUNDLE_KEY_SIZE);
		else
			cli_error("%s %s: %s", who, path, ei.code == PCRGATE_ERR_LIMIT ? "more than 32 bytes" : ei.message);
		if (buf != NULL)
			OPENSSL_clear_free(buf, len);
		return -1;
	}
	memcpy(key, buf, PCRGATE_BUNDLE_KEY_SIZE);
	OPENSSL_clear_free(buf, len);
	return 0;
}

/* A certificate file (PEM or DER) as DER; opt names the option in messages. 0 or -1 after a message. */
static int read_cert_der(const char *opt, const char *path, uint8_t **der, size_t *len)
{
	FILE *f = fopen(path, "rb");
	X509 *x = NULL;
	uint8_t *p;
	int n;

	if (f == NULL) {
		cli_error("bundle create: %s %s: %s", opt, path, strerror(errno));
		return -1;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	if (x == NULL) {
		rewind(f);
		x = d2i_X509_fp(f, NULL);
	}
	fclose(f);
	ERR_clear_error();
	if (x == NULL) {
		cli_error("bundle create: %s %s: not a certificate (PEM or DER)", opt, path);
		return -1;
	}
	if ((n = i2d_X509(x, NULL)) <= 0 || (*der = malloc((size_t)n)) == NULL) {
		cli_error("bundle create: %s %s: cannot encode the certificate", opt, path);
		X509_free(x);
		return -1;
	}
	p = *der;
	i2d_X509(x, &p);
	*len = (size_t)n;
	X509_free(x);
	return 0;
}

int bundle_slot_image_tmp(const char *cmd, const char *dir, char **path, uint8_t sha256[32], uint64_t *size)
{
	const char *tmpdir = getenv("TMPDIR");
	pcrgate_errinfo ei;
	char *p = NULL;
	FILE *f = NULL;
	int fd;

	pcrgate_errinfo_clear(&ei);
	if (asprintf(&p, "%s/pcrgate-slot-image.XXXXXX", tmpdir && tmpdir[0] ? tmpdir : "/tmp") < 0) {
		cli_error("bundle %s: out of memory", cmd);
		return -1;
	}
	if ((fd = mkstemp(p)) < 0 || (f = fdopen(fd, "wb")) == NULL) {
		cli_error("bundle %s: cannot create a temporary file %s: %s", cmd, p, strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(p);
		}
		free(p);
		return -1;
	}
	if (pcrgate_slot_image_write(dir, f, sha256, size, &ei) != 0 || fflush(f) != 0) {
		char ctx[64];
		snprintf(ctx, sizeof(ctx), "bundle %s: slot %.40s", cmd, dir);
		if (ei.code == 0)
			pcrgate_errinfo_set(&ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s", strerror(errno));
		cli_report(ctx, &ei);
		fclose(f);
		unlink(p);
		free(p);
		return -1;
	}
	fclose(f);
	*path = p;
	return 0;
}

/* The signers of create, for pcrgate_cms_sign. */
struct signers {
	struct pcrgate_cms_signer_spec spec[MAX_SIGNERS];
	size_t n;
};

static void signers_init(const struct create_args *a, struct signers *s)
{
	size_t i;

	memset(s, 0, sizeof(*s));
	for (i = 0; i < a->n_cert; i++) {
		s->spec[i].cert = a->cert[i];
		s->spec[i].key = a->skey[i];
		s->spec[i].chain = a->chain[i];
	}
	s->n = a->n_cert;
}

static int sign_cb(void *ctx, const uint8_t *data, size_t len, uint8_t **sig, size_t *sig_len, pcrgate_errinfo *ei)
{
	const struct signers *s = ctx;

	return pcrgate_cms_sign(s->spec, s->n, data, len, sig, sig_len, ei);
}

/* Opens DIR/manifest and, when present, DIR/manifest.sig (as DER). */
static int read_slot(const char *dir, uint8_t **man, size_t *man_len, uint8_t **sig, size_t *sig_len)
{
	pcrgate_errinfo ei;
	uint8_t *raw = NULL;
	size_t raw_len;
	char path[4096];

	pcrgate_errinfo_clear(&ei);
	snprintf(path, sizeof(path), "%s/manifest", dir);
	if (pcrgate_file_read(path, PCRGATE_MANIFEST_MAX, man, man_len, &ei) != 0) {
		cli_report("bundle create: --slot", &ei);
		return -1;
	}
	snprintf(path, sizeof(path), "%s/manifest.sig", dir);
	if (access(path, F_OK) != 0) {
		*sig = NULL;
		return 0;
	}
	if (pcrgate_file_read(path, PCRGATE_BUNDLE_SIG_MAX * 2, &raw, &raw_len, &ei) != 0 ||
	    pcrgate_cms_to_der(raw, raw_len, sig, sig_len, &ei) != 0) {
		cli_report(path, &ei);
		free(raw);
		free(*man);
		return -1;
	}
	free(raw);
	return 0;
}

/* The roots of --add-root (DER) and the fingerprints of --remove-root. */
static int read_roots(const struct create_args *a, uint8_t **add, size_t *add_len, uint8_t (*rem)[32])
{
	uint8_t *der;
	size_t i, len;
	int r;

	for (i = 0; i < a->n_add; i++)
		if (read_cert_der("--add-root", a->add_root[i], &add[i], &add_len[i]) != 0)
			return -1;
	for (i = 0; i < a->n_remove; i++) {
		if (read_cert_der("--remove-root", a->remove_root[i], &der, &len) != 0)
			return -1;
		r = pcrgate_digest(PCRGATE_ALG_SHA256, der, len, rem[i]);
		free(der);
		if (r != 0) {
			cli_error("bundle create: --remove-root %s: sha256 failed", a->remove_root[i]);
			return -1;
		}
	}
	return 0;
}

/* pcrgate_file_write_atomic_fn's writer: the bundle into the temporary file. */
static int write_bundle(void *ctx, int fd, pcrgate_errinfo *ei)
{
	const struct pcrgate_bundle_create_params *p = ctx;
	FILE *f;
	int dfd, r;

	if ((dfd = dup(fd)) < 0 || (f = fdopen(dfd, "wb")) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s", strerror(errno));
		if (dfd >= 0)
			close(dfd);
		return r;
	}
	r = pcrgate_bundle_create(p, f, ei);
	if (fclose(f) != 0 && r == 0)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "writing the bundle: %s", strerror(errno));
	return r;
}

static int cmd_create(int argc, char **argv)
{
	struct pcrgate_bundle_create_params p;
	struct create_args a;
	struct signers signers;
	struct signed_policy sp;
	pcrgate_errinfo ei;
	uint8_t key[PCRGATE_BUNDLE_KEY_SIZE], *man = NULL, *msig = NULL, *policy = NULL, *notes = NULL;
	uint8_t image_sha256[32], base_sha256[32];
	uint64_t image_size = 0, base_size = 0;
	uint8_t *add[PCRGATE_BUNDLE_MAX_TRUST_ROOTS] = {NULL}, rem[PCRGATE_BUNDLE_MAX_TRUST_ROOTS][32];
	size_t add_len[PCRGATE_BUNDLE_MAX_TRUST_ROOTS], man_len = 0, msig_len = 0, policy_len = 0, notes_len = 0, i;
	char *image = NULL, *base = NULL;
	uint64_t chunk = 0, level = 0;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = parse_create(argc, argv, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if ((a.chunk != NULL && cli_parse_number("bundle create", "--chunk-size", a.chunk, PCRGATE_BUNDLE_CHUNK_MIN,
						  PCRGATE_BUNDLE_CHUNK_MAX, &chunk) != 0) ||
	    (a.level != NULL && cli_parse_number("bundle create", "--level", a.level, 1, 22, &level) != 0))
		return CLI_EXIT_USAGE;
	if (!a.force && access(a.out, F_OK) == 0) {
		cli_error("bundle create: %s exists; --force replaces it", a.out);
		return CLI_EXIT_USAGE;
	}
	memset(&p, 0, sizeof(p));
	pcrgate_errinfo_clear(&ei);
	if (a.key != NULL && bundle_read_key("bundle create: --content-key", a.key, key) != 0)
		goto fail;
	if (pcrgate_file_read(a.policy, POLICY_FILE_MAX, &policy, &policy_len, &ei) != 0 ||
	    policy_parse(policy, policy_len, &sp, &ei) != 0) {
		cli_report("bundle create: --pcr-policy", &ei);
		goto fail;
	}
	if (a.notes != NULL && pcrgate_file_read(a.notes, PCRGATE_BUNDLE_NOTES_MAX, &notes, &notes_len, &ei) != 0) {
		cli_report("bundle create: --notes", &ei);
		goto fail;
	}
	if (read_roots(&a, add, add_len, rem) != 0 || read_slot(a.slot, &man, &man_len, &msig, &msig_len) != 0)
		goto fail;
	signers_init(&a, &signers);
	if (msig == NULL && pcrgate_cms_sign(signers.spec, signers.n, man, man_len, &msig, &msig_len, &ei) != 0) {
		cli_report("bundle create: signing the slot manifest", &ei);
		goto fail;
	}
	/* The digests the slot images were written with go into the manifest: each is hashed once. */
	if (bundle_slot_image_tmp("create", a.slot, &image, image_sha256, &image_size) != 0 ||
	    (a.base_slot != NULL &&
	     bundle_slot_image_tmp("create", a.base_slot, &base, base_sha256, &base_size) != 0))
		goto fail;
	p.release = a.release;
	p.slot_manifest = man;
	p.slot_manifest_len = man_len;
	p.slot_manifest_sig = msig;
	p.slot_manifest_sig_len = msig_len;
	p.image_path = image;
	p.image_sha256 = image_sha256;
	p.image_size = image_size;
	p.base_path = base;
	p.base_sha256 = base != NULL ? base_sha256 : NULL;
	p.base_size = base_size;
	p.level = (int)level;
	p.chunk_size = (uint32_t)chunk;
	p.key = a.key != NULL ? key : NULL;
	p.pcr_policy = (const char *)policy;
	p.pcr_policy_len = policy_len;
	p.end_of_support = a.eos;
	p.notes = (const char *)notes;
	p.add_roots = (const uint8_t *const *)add;
	p.add_root_lens = add_len;
	p.n_add_roots = a.n_add;
	p.remove_roots = (const uint8_t(*)[32])rem;
	p.n_remove_roots = a.n_remove;
	p.sign = sign_cb;
	p.sign_ctx = &signers;
	if (pcrgate_file_write_atomic_fn(a.out, 0644, write_bundle, &p, &ei) != 0) {
		cli_report("bundle create", &ei);
		goto fail;
	}
	rc = CLI_EXIT_OK;
fail:
	OPENSSL_cleanse(key, sizeof(key));
	for (i = 0; i < a.n_add; i++)
		free(add[i]);
	if (image != NULL)
		unlink(image);
	if (base != NULL)
		unlink(base);
	free(image);
	free(base);
	free(man);
	free(msig);
	free(policy);
	free(notes);
	return rc;
}

static void hex32(const uint8_t *p, char out[65])
{
	pcrgate_hex_encode(p, 32, out);
}

/*
 * The sha256 of the manifest's exact bytes, in lower-case hex: what a release's manifest_digest
 * in the verifier must be, and what the agent compares with the bundle it installs.
 */
static int manifest_digest(const struct pcrgate_bundle *b, char out[65], pcrgate_errinfo *ei)
{
	uint8_t md[32];
	int r;

	if ((r = pcrgate_bundle_manifest_sha256(b, md, ei)) != PCRGATE_OK)
		return r;
	hex32(md, out);
	return PCRGATE_OK;
}

static void print_text(const struct pcrgate_bundle *b, const char *digest)
{
	const struct pcrgate_bundle_header *h = pcrgate_bundle_get_header(b);
	const struct pcrgate_bundle_manifest *m = pcrgate_bundle_get_manifest(b);
	const struct pcrgate_manifest *slot = pcrgate_bundle_manifest_slot(m);
	const char *eos = pcrgate_bundle_manifest_end_of_support(m), *notes = pcrgate_bundle_manifest_notes(m);
	char hex[65];
	size_t i;

	printf("format_version: %" PRIu32 "\nmanifest: %" PRIu32 " bytes\nmanifest_digest: %s\nsignature: %" PRIu32
	       " bytes\npayload: %" PRIu64 " bytes at offset %" PRIu64 "\n",
	       h->format_version, h->manifest_len, digest, h->sig_len, h->payload_len, pcrgate_bundle_payload_offset(b));
	printf("release: %s\ncompatible: %s\nversion: %s\nsecurity_version: %" PRIu32 "\n",
	       pcrgate_bundle_manifest_release(m), pcrgate_bundle_manifest_compatible(m),
	       pcrgate_bundle_manifest_version(m), pcrgate_bundle_manifest_security_version(m));
	hex32(pcrgate_bundle_manifest_image_sha256(m), hex);
	printf("image: size=%" PRIu64 " sha256=%s\n", pcrgate_bundle_manifest_image_size(m), hex);
	for (i = 0; i < slot->n_images; i++) {
		hex32(slot->images[i].sha256, hex);
		printf("slot image: %s size=%" PRIu64 " sha256=%s\n", slot->images[i].name, slot->images[i].size, hex);
	}
	if (pcrgate_bundle_manifest_payload_type(m) == PCRGATE_BUNDLE_DELTA) {
		hex32(pcrgate_bundle_manifest_base_sha256(m), hex);
		printf("payload type: delta\nbase: size=%" PRIu64 " sha256=%s\n", pcrgate_bundle_manifest_base_size(m), hex);
	} else {
		printf("payload type: full\n");
	}
	printf("encryption: %s\nchunk_size: %" PRIu32 "\nchunks: %zu\nstored_size: %" PRIu64 "\n",
	       pcrgate_bundle_manifest_encryption(m) == PCRGATE_BUNDLE_ENC_AES256GCM ? "aes-256-gcm" : "none",
	       pcrgate_bundle_manifest_chunk_size(m), pcrgate_bundle_manifest_chunk_count(m),
	       pcrgate_bundle_manifest_stored_size(m));
	if (eos != NULL)
		printf("end_of_support: %s\n", eos);
	if (pcrgate_bundle_manifest_roots_added(m) + pcrgate_bundle_manifest_roots_removed(m) > 0)
		printf("trust_update: adds %zu root(s), removes %zu root(s)\n", pcrgate_bundle_manifest_roots_added(m),
		       pcrgate_bundle_manifest_roots_removed(m));
	if (notes != NULL)
		printf("notes:\n%s\n", notes);
}

static int print_json(const struct pcrgate_bundle *b, const char *digest)
{
	const struct pcrgate_bundle_header *h = pcrgate_bundle_get_header(b);
	const uint8_t *mb;
	json_t *doc, *hdr, *man;
	size_t mlen;
	int r;

	mb = pcrgate_bundle_manifest_bytes(b, &mlen);
	man = json_loadb((const char *)mb, mlen, JSON_REJECT_DUPLICATES, NULL);
	doc = json_pack("{s:b, s:s, s:o, s:s, s:o}", "verified", 0, "warning",
			"UNVERIFIED: the signature was not checked; 'pcrgate bundle verify' checks it", "header",
			(hdr = json_pack("{s:I, s:I, s:I, s:I, s:I}", "format_version", (json_int_t)h->format_version,
					 "manifest_length", (json_int_t)h->manifest_len, "signature_length",
					 (json_int_t)h->sig_len, "payload_length", (json_int_t)h->payload_len,
					 "payload_offset", (json_int_t)pcrgate_bundle_payload_offset(b))),
			"manifest_digest", digest, "manifest", man);
	if (doc == NULL) {
		/* The manifest parsed strictly before this; only memory can be short here. */
		cli_error("bundle inspect: cannot build the JSON document (out of memory)");
		return -1;
	}
	r = json_dumpf(doc, stdout, JSON_INDENT(2)) == 0 && putchar('\n') != EOF ? 0 : -1;
	json_decref(doc);
	return r;
}

static int cmd_inspect(int argc, char **argv)
{
	struct pcrgate_bundle *b = NULL;
	pcrgate_errinfo ei;
	const char *path = NULL;
	char digest[65];
	FILE *f = NULL;
	int i, json = 0, rc = CLI_EXIT_FAIL;

	for (i = 1; i < argc; i++) {
		if (cli_is_help(argv[i])) {
			puts("usage: pcrgate bundle inspect BUNDLE [--json]\n\n"
			     "Shows a bundle's header and manifest WITHOUT checking its signature: nothing shown\n"
			     "is trustworthy. 'pcrgate bundle verify' checks a bundle. manifest_digest is the\n"
			     "sha256 of the manifest's bytes, the digest 'pcrgate admin release put' registers.");
			return CLI_EXIT_OK;
		}
		if (strcmp(argv[i], "--json") == 0) {
			json = 1;
		} else if (argv[i][0] == '-' || path != NULL) {
			cli_error("bundle inspect: unexpected argument '%s'", argv[i]);
			return CLI_EXIT_USAGE;
		} else {
			path = argv[i];
		}
	}
	if (path == NULL) {
		cli_error("bundle inspect: BUNDLE is required");
		return CLI_EXIT_USAGE;
	}
	pcrgate_errinfo_clear(&ei);
	if ((f = fopen(path, "rb")) == NULL) {
		cli_error("bundle inspect: %s: %s", path, strerror(errno));
		return CLI_EXIT_FAIL;
	}
	if (pcrgate_bundle_read(f, &b, &ei) != 0 || pcrgate_bundle_parse_unverified(b, &ei) != 0) {
		cli_report("bundle inspect", &ei);
		goto fail;
	}
	if (manifest_digest(b, digest, &ei) != 0) {
		cli_report("bundle inspect", &ei);
		goto fail;
	}
	if (json) {
		if (print_json(b, digest) != 0)
			goto fail;
	} else {
		puts("UNVERIFIED: the signature was not checked; 'pcrgate bundle verify' checks it.");
		print_text(b, digest);
	}
	rc = CLI_EXIT_OK;
fail:
	pcrgate_bundle_free(&b);
	fclose(f);
	return rc;
}

static void usage_verify(FILE *f)
{
	fputs("usage: pcrgate bundle verify BUNDLE --trust DIR [--content-key FILE] [--base-slot DIR]\n"
	      "         [--compatible STRING] [--min-security-version N]\n"
	      "\n"
	      "Checks a bundle as a device does, in this order: header and lengths, the manifest's\n"
	      "signature against the trust store DIR (roots/*.pem, crl/*.pem), the manifest, the slot\n"
	      "manifest's signature, hardware (--compatible), security version (--min-security-version,\n"
	      "the device's anti-rollback counter), a root rotation's signatures, the PCR policy, the\n"
	      "delta's base (--base-slot: the installed slot), and then the whole payload: each chunk's\n"
	      "digest, its decryption (--content-key) and decompression, and the image's size and digest.\n",
	      f);
}

static int cmd_verify(int argc, char **argv)
{
	struct bundle_check_args a;
	struct bundle_opened o;
	const struct pcrgate_bundle_manifest *m;
	pcrgate_errinfo ei;
	char hex[65];
	int r;

	if ((r = bundle_parse_check("verify", argc, argv, 0, usage_verify, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if ((r = bundle_open_verified("verify", &a, &o)) != 0)
		return r;
	pcrgate_errinfo_clear(&ei);
	r = CLI_EXIT_FAIL;
	if (pcrgate_bundle_stream_file(o.b, o.f, o.have_key ? o.key : NULL, o.base, NULL, NULL, &ei) != 0) {
		cli_report("bundle verify", &ei);
		goto fail;
	}
	m = pcrgate_bundle_get_manifest(o.b);
	hex32(pcrgate_bundle_manifest_image_sha256(m), hex);
	printf("bundle verified: release %s, version %s, security version %" PRIu32 ", for %s\n"
	       "payload: %s%s, %zu chunks; image %" PRIu64 " bytes, sha256 %s\n",
	       pcrgate_bundle_manifest_release(m), pcrgate_bundle_manifest_version(m),
	       pcrgate_bundle_manifest_security_version(m), pcrgate_bundle_manifest_compatible(m),
	       pcrgate_bundle_manifest_payload_type(m) == PCRGATE_BUNDLE_DELTA ? "delta" : "full",
	       pcrgate_bundle_manifest_encryption(m) == PCRGATE_BUNDLE_ENC_AES256GCM ? ", encrypted" : "",
	       pcrgate_bundle_manifest_chunk_count(m), pcrgate_bundle_manifest_image_size(m), hex);
	if (pcrgate_bundle_trust_update_authorized(o.b))
		printf("trust_update: authorized (adds %zu root(s), removes %zu root(s))\n",
		       pcrgate_bundle_manifest_roots_added(m), pcrgate_bundle_manifest_roots_removed(m));
	r = CLI_EXIT_OK;
fail:
	bundle_close_verified(&o);
	return r;
}

static const struct cli_command commands[] = {
	{"create", cmd_create, "build and sign an update bundle of a slot (full or delta, optionally encrypted)"},
	{"inspect", cmd_inspect, "show a bundle's header and manifest, UNVERIFIED"},
	{"verify", cmd_verify, "check a bundle's signature, manifest and whole payload against a trust store"},
	{"extract", cmd_bundle_extract, "verify a bundle and write the slot it contains"},
};

static const struct cli_group group = {"bundle", commands, sizeof(commands) / sizeof(commands[0]),
				       "A slot is a directory with the slot manifest pcrgate-boot checks."};

int cmd_bundle(int argc, char **argv)
{
	return cli_dispatch(&group, argc, argv);
}
