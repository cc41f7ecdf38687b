/*
 * pcrgate admin: the verifier's admin API from the command line (devices, policies, releases,
 * rollouts, attestations, the audit log). Global options name the verifier, the bearer token
 * and the CA; each subcommand is one request (the audit export pages through the log). Lists
 * print as aligned tables, or the server's JSON with --json (tools/admin_output.c).
 * docs/man/pcrgate-admin.1.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "admin.h"
#include "attest/jsonutil.h"
#include "bundle.h"
#include "bundle_cli.h"
#include "cli.h"
#include "verifier/api.h"
#include "verifier/keywrap.h"

#define ADMIN_URL_ENV "PCRGATE_ADMIN_URL"
#define ADMIN_TOKEN_ENV "PCRGATE_ADMIN_TOKEN_FILE"
#define ADMIN_CACERT_ENV "PCRGATE_ADMIN_CACERT"
#define ADMIN_MAX_DOC (4u * 1024 * 1024) /* a policy or import document read from a file */
#define ADMIN_AUDIT_MAX (512u * 1024 * 1024) /* bytes of a whole audit export */
#define ADMIN_ESC 512                        /* an escaped path segment */

static void usage(FILE *f)
{
	fputs("usage: pcrgate admin [--url URL] [--token-file FILE] [--cacert FILE] [--json] COMMAND [ARGS]\n"
	      "\n"
	      "commands:\n"
	      "  devices                          the enrolled devices\n"
	      "  device ID                        one device\n"
	      "  revoke ID                        revoke a device\n"
	      "  allow-reenroll ID                let a device enroll again\n"
	      "  group ID GROUP                   put a device in a group\n"
	      "  import FILE                      import a device (JSON: ek_public, ak_public, ...)\n"
	      "  policy put NAME FILE             store a reference policy\n"
	      "  policy list | policy show NAME   the reference policies\n"
	      "  release put NAME (--bundle FILE | --version V --security-version S --manifest-digest HEX)\n"
	      "              --bundle-url URL --content-key-file F\n"
	      "                                   register a release (--bundle: its fields from the bundle)\n"
	      "  release list                     the releases\n"
	      "  target RELEASE (--device ID | --group G)\n"
	      "                                   roll a release out to a device or a group\n"
	      "  rollouts                         the rollouts\n"
	      "  attestations [--device ID] [--limit N]\n"
	      "                                   the latest attestations\n"
	      "  audit [--after SEQ] [--limit N]  audit log entries (JSON lines)\n"
	      "  audit export FILE                the whole audit log into FILE\n"
	      "\n"
	      "  --url URL          the verifier (or $" ADMIN_URL_ENV ")\n"
	      "  --token-file FILE  the admin bearer token (or $" ADMIN_TOKEN_ENV ")\n"
	      "  --cacert FILE      the CA of the verifier's certificate (or $" ADMIN_CACERT_ENV ")\n"
	      "  --json             print the server's JSON\n"
	      "\n"
	      "Exit status: 0 success, 1 failure or refused by the server, 2 usage error. 'man pcrgate-admin'.\n",
	      f);
}

/* ---- Arguments ---- */

/* "PREFIX/ESCAPED-SEGMENT[SUFFIX]" into out. */
static int path_for(char *out, size_t cap, const char *prefix, const char *segment, const char *suffix)
{
	char esc[ADMIN_ESC];
	int n;

	if (segment[0] == '\0' || httpclient_escape(segment, esc, sizeof(esc)) != PCRGATE_OK) {
		cli_error("admin: '%s' is not a usable name or id", segment);
		return -1;
	}
	n = snprintf(out, cap, "%s/%s%s", prefix, esc, suffix);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

static int want_args(int argc, int n, const char *synopsis)
{
	if (argc != n + 1) {
		cli_error("admin: usage: pcrgate admin %s", synopsis);
		return -1;
	}
	return 0;
}

/* --limit: 1 to API_LIST_MAX rows, the verifier's own rule. */
static int parse_limit(const char *v, uint64_t *out)
{
	return cli_parse_number("admin", "--limit", v, 1, API_LIST_MAX, out);
}

/* A JSON object from a file. */
static int read_doc(const char *path, json_t **out)
{
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	pcrgate_errinfo_clear(&ei);
	r = pcrgate_file_read(path, ADMIN_MAX_DOC, &buf, &len, &ei);
	if (r == PCRGATE_OK)
		r = jsonutil_parse(buf, len, ADMIN_MAX_DOC, out, &ei);
	free(buf);
	if (r != PCRGATE_OK)
		cli_report(path, &ei);
	return r;
}

/* ---- Subcommands ---- */

static const struct column device_cols[] = {
	{"ID", "id", 0},           {"STATE", "state", 0},          {"GROUP", "group", 0},
	{"RELEASE", "release", 0}, {"VERDICT", "last_verdict", 0}, {"LAST ATTESTATION", "last_attestation_at", 1},
};

static int sub_devices(struct admin *a, int argc, char **argv)
{
	if (want_args(argc, 0, "devices") != 0)
		return CLI_EXIT_USAGE;
	return admin_show_list(a, "/v1/admin/devices", "devices", device_cols, ADMIN_COLUMNS(device_cols));
}

static int sub_device(struct admin *a, int argc, char **argv)
{
	char path[1024];
	json_t *doc = NULL;
	int rc;

	if (want_args(argc, 1, "device ID") != 0 || path_for(path, sizeof(path), "/v1/admin/devices", argv[1], "") != 0)
		return CLI_EXIT_USAGE;
	if ((rc = admin_request(a, "GET", path, NULL, &doc)) == CLI_EXIT_OK)
		admin_show_object(a, doc);
	json_decref(doc);
	return rc;
}

/* revoke and allow-reenroll: POST /v1/admin/devices/ID/ACTION. */
static int device_action(struct admin *a, int argc, char **argv, const char *action, const char *done)
{
	char path[1024], what[640], synopsis[64];

	snprintf(synopsis, sizeof(synopsis), "%s ID", argv[0]);
	if (want_args(argc, 1, synopsis) != 0 ||
	    path_for(path, sizeof(path), "/v1/admin/devices", argv[1], action) != 0)
		return CLI_EXIT_USAGE;
	snprintf(what, sizeof(what), "%s: %s", argv[1], done);
	return admin_change(a, "POST", path, NULL, what);
}

static int sub_revoke(struct admin *a, int argc, char **argv)
{
	return device_action(a, argc, argv, "/revoke", "revoked");
}

static int sub_allow_reenroll(struct admin *a, int argc, char **argv)
{
	return device_action(a, argc, argv, "/allow-reenroll", "may enroll again");
}

static int sub_group(struct admin *a, int argc, char **argv)
{
	char path[1024], what[640];
	json_t *body;
	int rc;

	if (want_args(argc, 2, "group ID GROUP") != 0 ||
	    path_for(path, sizeof(path), "/v1/admin/devices", argv[1], "/group") != 0)
		return CLI_EXIT_USAGE;
	if ((body = json_pack("{s:s}", "group", argv[2])) == NULL) {
		cli_error("admin: group: '%s' is not UTF-8 text", argv[2]);
		return CLI_EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "%s: in group %s", argv[1], argv[2]);
	rc = admin_change(a, "PUT", path, body, what);
	json_decref(body);
	return rc;
}

static int sub_import(struct admin *a, int argc, char **argv)
{
	json_t *body = NULL, *doc = NULL;
	const char *id;
	int rc;

	if (want_args(argc, 1, "import FILE") != 0)
		return CLI_EXIT_USAGE;
	if (read_doc(argv[1], &body) != PCRGATE_OK)
		return CLI_EXIT_FAIL;
	if ((rc = admin_request(a, "POST", "/v1/admin/devices/import", body, &doc)) == CLI_EXIT_OK) {
		id = json_string_value(json_object_get(doc, "device_id"));
		if (a->json || id == NULL)
			admin_print_json(doc);
		else
			printf("imported: device %s\n", id);
		/* The TLS client certificate issued for the device's TLS key, to install on it. */
		if (!a->json && json_is_string(json_object_get(doc, "client_certificate")))
			printf("%s", json_string_value(json_object_get(doc, "client_certificate")));
	}
	json_decref(body);
	json_decref(doc);
	return rc;
}

static const struct column policy_cols[] = {
	{"NAME", "name", 0},
	{"DIGEST", "digest", 0},
	{"CREATED", "created_at", 1},
};

static int sub_policy(struct admin *a, int argc, char **argv)
{
	char path[1024], what[640];
	json_t *body = NULL, *doc = NULL;
	int rc;

	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return admin_show_list(a, "/v1/admin/policies", "policies", policy_cols,
				 ADMIN_COLUMNS(policy_cols));
	if (argc == 3 && strcmp(argv[1], "show") == 0) {
		if (path_for(path, sizeof(path), "/v1/admin/policies", argv[2], "") != 0)
			return CLI_EXIT_USAGE;
		if ((rc = admin_request(a, "GET", path, NULL, &doc)) == CLI_EXIT_OK)
			admin_print_json(doc);
		json_decref(doc);
		return rc;
	}
	if (argc == 4 && strcmp(argv[1], "put") == 0) {
		if (path_for(path, sizeof(path), "/v1/admin/policies", argv[2], "") != 0)
			return CLI_EXIT_USAGE;
		if (read_doc(argv[3], &body) != PCRGATE_OK)
			return CLI_EXIT_FAIL;
		snprintf(what, sizeof(what), "policy %s stored", argv[2]);
		rc = admin_change(a, "PUT", path, body, what);
		json_decref(body);
		return rc;
	}
	cli_error("admin: usage: pcrgate admin policy put NAME FILE | policy list | policy show NAME");
	return CLI_EXIT_USAGE;
}

static const struct column release_cols[] = {
	{"NAME", "name", 0},          {"VERSION", "version", 0},
	{"SECURITY", "security_version", 0}, {"MANIFEST DIGEST", "manifest_digest", 0},
	{"BUNDLE URL", "bundle_url", 0},
};

_Static_assert(KEYWRAP_CONTENT_KEY_SIZE == PCRGATE_BUNDLE_KEY_SIZE, "the verifier wraps the bundles' content keys");

/* The content key file (read as the bundle commands read it), as base64 for the request. */
static json_t *content_key(const char *path)
{
	uint8_t key[PCRGATE_BUNDLE_KEY_SIZE];
	json_t *v = NULL;

	if (bundle_read_key("admin: release put: --content-key-file", path, key) != 0)
		return NULL;
	if ((v = jsonutil_b64(key, sizeof(key))) == NULL)
		cli_error("admin: out of memory");
	OPENSSL_cleanse(key, sizeof(key));
	return v;
}

#define RELEASE_PUT_USAGE \
	"pcrgate admin release put NAME (--bundle FILE | --version V --security-version S " \
	"--manifest-digest HEX) --bundle-url URL --content-key-file F"

/* What a bundle says of its release: from its header and manifest, parsed but not verified. */
struct bundle_release {
	char name[PCRGATE_BUNDLE_RELEASE_MAX + 1];
	char version[PCRGATE_MANIFEST_STRING_MAX + 1];
	uint64_t security_version;
	char digest[2 * API_MANIFEST_DIGEST_SIZE + 1]; /* sha256 of the manifest bytes, lower-case hex */
};

/*
 * Reads --bundle: the operator registers the release the bundle carries, so the digest is of the
 * manifest's exact bytes. The signature is the device's to check; a bundle whose manifest does
 * not even parse is refused here.
 */
static int bundle_release(const char *path, struct bundle_release *out)
{
	const struct pcrgate_bundle_manifest *m;
	struct pcrgate_bundle *b = NULL;
	uint8_t md[API_MANIFEST_DIGEST_SIZE];
	pcrgate_errinfo ei;
	FILE *f;
	int r = -1;

	pcrgate_errinfo_clear(&ei);
	if ((f = fopen(path, "rb")) == NULL) {
		cli_error("admin: release put: --bundle %s: %s", path, strerror(errno));
		return -1;
	}
	if (pcrgate_bundle_read(f, &b, &ei) != 0 || pcrgate_bundle_parse_unverified(b, &ei) != 0) {
		cli_report(path, &ei);
		goto fail;
	}
	m = pcrgate_bundle_get_manifest(b);
	if (pcrgate_bundle_manifest_sha256(b, md, &ei) != 0) {
		cli_report(path, &ei);
		goto fail;
	}
	snprintf(out->name, sizeof(out->name), "%s", pcrgate_bundle_manifest_release(m));
	snprintf(out->version, sizeof(out->version), "%s", pcrgate_bundle_manifest_version(m));
	out->security_version = pcrgate_bundle_manifest_security_version(m);
	pcrgate_hex_encode(md, sizeof(md), out->digest);
	r = 0;
fail:
	pcrgate_bundle_free(&b);
	fclose(f);
	return r;
}

/* An explicit option that must agree with the bundle: 0, or -1 after naming the option. */
static int agrees(const char *opt, const char *given, const char *from_bundle, int same)
{
	if (given == NULL || same)
		return 0;
	cli_error("admin: release put: %s '%s' disagrees with the bundle's '%s'", opt, given, from_bundle);
	return -1;
}

/*
 * With --bundle: version and digest from the bundle (br has its security version); explicit
 * options must agree with it, and so must NAME with its release, since the agent checks all of
 * them against the authorization. Without: checks that all were given. 0, 1 when the bundle
 * cannot be read, -1 on a usage error (each reported).
 */
static int release_fields(const char *name, const char *bundle, const char **version, const char *sv,
			  const char **digest, struct bundle_release *br)
{
	uint8_t given[API_MANIFEST_DIGEST_SIZE], want[API_MANIFEST_DIGEST_SIZE];
	char svtext[24];
	size_t glen = 0, wlen = 0;
	uint64_t n = 0;

	if (bundle == NULL) {
		if (*version != NULL && sv != NULL && *digest != NULL)
			return 0;
		cli_error("admin: usage: %s", RELEASE_PUT_USAGE);
		return -1;
	}
	if (bundle_release(bundle, br) != 0)
		return 1;
	snprintf(svtext, sizeof(svtext), "%" PRIu64, br->security_version);
	if (agrees("NAME", name, br->name, strcmp(name, br->name) == 0) != 0 ||
	    agrees("--version", *version, br->version, *version != NULL && strcmp(*version, br->version) == 0) != 0)
		return -1;
	if (sv != NULL && cli_parse_number("admin", "--security-version", sv, 0, INT64_MAX, &n) != 0)
		return -1;
	if (agrees("--security-version", sv, svtext, sv != NULL && n == br->security_version) != 0)
		return -1;
	if (*digest != NULL &&
	    (pcrgate_hex_decode(*digest, given, sizeof(given), &glen) != 0 || glen != sizeof(given) ||
	     pcrgate_hex_decode(br->digest, want, sizeof(want), &wlen) != 0 || !pcrgate_ct_equal(given, want, glen))) {
		agrees("--manifest-digest", *digest, br->digest, 0);
		return -1;
	}
	*version = br->version;
	*digest = br->digest;
	return 0;
}

static int release_put(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"version", required_argument, NULL, 'v'},         {"security-version", required_argument, NULL, 's'},
		{"manifest-digest", required_argument, NULL, 'm'}, {"bundle-url", required_argument, NULL, 'b'},
		{"content-key-file", required_argument, NULL, 'k'}, {"bundle", required_argument, NULL, 'B'},
		{NULL, 0, NULL, 0},
	};
	const char *version = NULL, *sv = NULL, *digest = NULL, *url = NULL, *keyfile = NULL, *bundle = NULL;
	struct bundle_release br;
	uint8_t d[API_MANIFEST_DIGEST_SIZE];
	size_t dlen = 0;
	uint64_t secver = 0;
	char path[1024], what[640];
	json_t *body = NULL, *key;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'v':
			version = optarg;
			break;
		case 's':
			sv = optarg;
			break;
		case 'm':
			digest = optarg;
			break;
		case 'b':
			url = optarg;
			break;
		case 'k':
			keyfile = optarg;
			break;
		case 'B':
			bundle = optarg;
			break;
		default:
			cli_error("admin: release put: unknown option or missing value '%s'", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || !url || !keyfile) {
		cli_error("admin: usage: %s", RELEASE_PUT_USAGE);
		return CLI_EXIT_USAGE;
	}
	memset(&br, 0, sizeof(br));
	if ((rc = release_fields(argv[optind], bundle, &version, sv, &digest, &br)) != 0)
		return rc > 0 ? CLI_EXIT_FAIL : CLI_EXIT_USAGE;
	if (bundle != NULL)
		secver = br.security_version;
	else if (cli_parse_number("admin", "--security-version", sv, 0, INT64_MAX, &secver) != 0)
		return CLI_EXIT_USAGE;
	if (pcrgate_hex_decode(digest, d, sizeof(d), &dlen) != 0 || dlen != API_MANIFEST_DIGEST_SIZE) {
		cli_error("admin: --manifest-digest needs the hex of a SHA-256 digest");
		return CLI_EXIT_USAGE;
	}
	if (path_for(path, sizeof(path), "/v1/admin/releases", argv[optind], "") != 0)
		return CLI_EXIT_USAGE;
	if ((key = content_key(keyfile)) == NULL)
		return CLI_EXIT_FAIL;
	body = json_pack("{s:s,s:I,s:s,s:s,s:o}", "version", version, "security_version", (json_int_t)secver,
			 "manifest_digest", digest, "bundle_url", url, "content_key", key);
	if (body == NULL) {
		cli_error("admin: release put: the version and URL must be UTF-8 text");
		return CLI_EXIT_USAGE;
	}
	snprintf(what, sizeof(what), "release %s stored (version %s, security version %" PRIu64 ")", argv[optind], version,
		 secver);
	rc = admin_change(a, "PUT", path, body, what);
	jsonutil_cleanse_member(body, "content_key");
	json_decref(body);
	return rc;
}

static int sub_release(struct admin *a, int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "list") == 0)
		return admin_show_list(a, "/v1/admin/releases", "releases", release_cols,
				 ADMIN_COLUMNS(release_cols));
	if (argc >= 2 && strcmp(argv[1], "put") == 0)
		return release_put(a, argc - 1, argv + 1);
	cli_error("admin: usage: pcrgate admin release put NAME ... | release list");
	return CLI_EXIT_USAGE;
}

static int sub_target(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'}, {"group", required_argument, NULL, 'g'}, {NULL, 0, NULL, 0},
	};
	const char *device = NULL, *group = NULL;
	json_t *body, *doc = NULL;
	const char *id;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			device = optarg;
		else if (c == 'g')
			group = optarg;
		else {
			cli_error("admin: target: unknown option or missing value '%s'", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || (device == NULL) == (group == NULL)) {
		cli_error("admin: usage: pcrgate admin target RELEASE (--device ID | --group G)");
		return CLI_EXIT_USAGE;
	}
	body = json_pack("{s:s,s:s}", "release", argv[optind], device ? "device_id" : "group", device ? device : group);
	if (body == NULL) {
		cli_error("admin: target: the names must be UTF-8 text");
		return CLI_EXIT_USAGE;
	}
	if ((rc = admin_request(a, "POST", "/v1/admin/rollouts", body, &doc)) == CLI_EXIT_OK) {
		id = json_string_value(json_object_get(doc, "id"));
		if (a->json)
			admin_print_json(doc);
		else
			printf("rollout%s%s: release %s to %s %s\n", id ? " " : "", id ? id : "", argv[optind],
			       device ? "device" : "group", device ? device : group);
	}
	json_decref(body);
	json_decref(doc);
	return rc;
}

static const struct column rollout_cols[] = {
	{"ID", "id", 0},       {"RELEASE", "release", 0}, {"DEVICE", "device_id", 0},
	{"GROUP", "group", 0}, {"ACTIVE", "active", 0},   {"CREATED", "created_at", 1},
};

static int sub_rollouts(struct admin *a, int argc, char **argv)
{
	if (want_args(argc, 0, "rollouts") != 0)
		return CLI_EXIT_USAGE;
	return admin_show_list(a, "/v1/admin/rollouts", "rollouts", rollout_cols,
			 ADMIN_COLUMNS(rollout_cols));
}

static const struct column attestation_cols[] = {
	{"ID", "id", 0},          {"DEVICE", "device_id", 0},     {"TIME", "created_at", 1},
	{"VERDICT", "verdict", 0}, {"FAILED CHECK", "failed_check", 0}, {"RELEASE", "release", 0},
};

static int sub_attestations(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"device", required_argument, NULL, 'd'}, {"limit", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0},
	};
	char path[1024], esc[ADMIN_ESC];
	uint64_t limit = 0;
	const char *device = NULL, *lim = NULL;
	size_t n;
	int c;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'd')
			device = optarg;
		else if (c == 'l')
			lim = optarg;
		else {
			cli_error("admin: attestations: unknown option or missing value '%s'", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc || (lim != NULL && parse_limit(lim, &limit) != 0)) {
		cli_error("admin: usage: pcrgate admin attestations [--device ID] [--limit N]");
		return CLI_EXIT_USAGE;
	}
	n = (size_t)snprintf(path, sizeof(path), "/v1/admin/attestations");
	if (device != NULL) {
		if (httpclient_escape(device, esc, sizeof(esc)) != PCRGATE_OK) {
			cli_error("admin: --device '%s' is too long", device);
			return CLI_EXIT_USAGE;
		}
		n += (size_t)snprintf(path + n, sizeof(path) - n, "?device=%s", esc);
	}
	if (lim != NULL)
		snprintf(path + n, sizeof(path) - n, "%slimit=%" PRIu64, device ? "&" : "?", limit);
	return admin_show_list(a, path, "attestations", attestation_cols,
			 ADMIN_COLUMNS(attestation_cols));
}

/*
 * Appends a page of audit lines to out, checking each is a JSON object whose "seq" follows the
 * last one; *last gets the page's last seq, *count its entries.
 */
static int audit_page(const uint8_t *body, size_t len, long long *last, size_t *count, FILE *out)
{
	const char *p = (const char *)body, *end = p + len, *nl;
	json_error_t jerr;
	json_t *entry;
	json_int_t seq;

	*count = 0;
	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		if (nl == NULL)
			nl = end;
		if (nl > p) {
			entry = json_loadb(p, (size_t)(nl - p), 0, &jerr);
			seq = json_integer_value(json_object_get(entry, "seq"));
			json_decref(entry);
			if (entry == NULL || seq <= *last) {
				cli_error("admin: audit: entry after seq %lld is not a JSON object with a higher seq", *last);
				return -1;
			}
			*last = seq;
			fwrite(p, 1, (size_t)(nl - p), out);
			fputc('\n', out);
			(*count)++;
		}
		p = nl + 1;
	}
	return 0;
}

static int audit_export(struct admin *a, const char *file)
{
	char path[128];
	char *buf = NULL;
	size_t blen = 0, count = 0;
	uint8_t *body = NULL;
	size_t len = 0;
	long long last = 0;
	pcrgate_errinfo ei;
	FILE *mem = open_memstream(&buf, &blen);
	int rc = CLI_EXIT_FAIL;

	if (mem == NULL) {
		cli_error("admin: out of memory");
		return CLI_EXIT_FAIL;
	}
	do {
		snprintf(path, sizeof(path), "/v1/admin/audit?after=%lld&limit=%d", last, API_LIST_MAX);
		if (admin_request_lines(a, path, &body, &len) != CLI_EXIT_OK)
			goto fail;
		if (audit_page(body, len, &last, &count, mem) != 0 || fflush(mem) != 0)
			goto fail;
		free(body);
		body = NULL;
		if (blen > ADMIN_AUDIT_MAX) {
			cli_error("admin: audit export: more than %u bytes", ADMIN_AUDIT_MAX);
			goto fail;
		}
	} while (count > 0);
	fclose(mem);
	mem = NULL;
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_write_atomic(file, (const uint8_t *)buf, blen, 0600, &ei) != PCRGATE_OK) {
		cli_report(file, &ei);
		goto fail;
	}
	if (!a->json)
		printf("audit log exported to %s (up to seq %lld)\n", file, last);
	rc = CLI_EXIT_OK;
fail:
	if (mem != NULL)
		fclose(mem);
	free(buf);
	free(body);
	return rc;
}

static int sub_audit(struct admin *a, int argc, char **argv)
{
	static const struct option opts[] = {
		{"after", required_argument, NULL, 'a'}, {"limit", required_argument, NULL, 'l'}, {NULL, 0, NULL, 0},
	};
	uint64_t after = 0, limit = 0;
	const char *af = NULL, *lim = NULL;
	char path[128];
	uint8_t *body = NULL;
	size_t len = 0, n;
	int c, rc;

	if (argc == 3 && strcmp(argv[1], "export") == 0)
		return audit_export(a, argv[2]);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'a')
			af = optarg;
		else if (c == 'l')
			lim = optarg;
		else {
			cli_error("admin: audit: unknown option or missing value '%s'", argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind != argc || (af != NULL && cli_parse_number("admin", "--after", af, 0, INT64_MAX, &after) != 0) ||
	    (lim != NULL && parse_limit(lim, &limit) != 0)) {
		cli_error("admin: usage: pcrgate admin audit [--after SEQ] [--limit N] | audit export FILE");
		return CLI_EXIT_USAGE;
	}
	n = (size_t)snprintf(path, sizeof(path), "/v1/admin/audit?after=%" PRIu64, after);
	if (lim != NULL)
		snprintf(path + n, sizeof(path) - n, "&limit=%" PRIu64, limit);
	if ((rc = admin_request_lines(a, path, &body, &len)) == CLI_EXIT_OK)
		fwrite(body, 1, len, stdout);
	free(body);
	return rc;
}

/* ---- Entry ---- */

static const struct {
	const char *name;
	int (*run)(struct admin *a, int argc, char **argv);
} subcommands[] = {
	{"devices", sub_devices},   {"device", sub_device},       {"revoke", sub_revoke},
	{"allow-reenroll", sub_allow_reenroll}, {"group", sub_group}, {"import", sub_import},
	{"policy", sub_policy},     {"release", sub_release},     {"target", sub_target},
	{"rollouts", sub_rollouts}, {"attestations", sub_attestations}, {"audit", sub_audit},
};

/* An option, else the environment's value; NULL when neither is set. */
static const char *setting(const char *opt, const char *env)
{
	const char *v = opt != NULL ? opt : getenv(env);

	return v != NULL && v[0] != '\0' ? v : NULL;
}

int cmd_admin(int argc, char **argv)
{
	static const struct option opts[] = {
		{"url", required_argument, NULL, 'u'},  {"token-file", required_argument, NULL, 't'},
		{"cacert", required_argument, NULL, 'c'}, {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	struct httpclient_options o = {0};
	const char *url = NULL, *token = NULL, *ca = NULL;
	struct admin a = {NULL, 0};
	pcrgate_errinfo ei;
	size_t i;
	int c, rc;

	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+h", opts, NULL)) != -1) {
		switch (c) {
		case 'u':
			url = optarg;
			break;
		case 't':
			token = optarg;
			break;
		case 'c':
			ca = optarg;
			break;
		case 'j':
			a.json = 1;
			break;
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		default:
			cli_error("admin: unknown option or missing value '%s'; 'pcrgate admin --help' lists them",
				  argv[optind - 1]);
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]) && strcmp(argv[optind], subcommands[i].name); i++)
		;
	if (i == sizeof(subcommands) / sizeof(subcommands[0])) {
		cli_error("admin: unknown command '%s'; 'pcrgate admin --help' lists them", argv[optind]);
		return CLI_EXIT_USAGE;
	}
	if ((o.base_url = setting(url, ADMIN_URL_ENV)) == NULL) {
		cli_error("admin: no verifier: --url URL or $%s", ADMIN_URL_ENV);
		return CLI_EXIT_USAGE;
	}
	if ((o.token_file = setting(token, ADMIN_TOKEN_ENV)) == NULL) {
		cli_error("admin: no admin token: --token-file FILE or $%s", ADMIN_TOKEN_ENV);
		return CLI_EXIT_USAGE;
	}
	o.ca_file = setting(ca, ADMIN_CACERT_ENV);
	pcrgate_errinfo_clear(&ei);
	if (httpclient_new(&o, &a.c, &ei) != PCRGATE_OK) {
		cli_report("admin", &ei);
		return ei.code == PCRGATE_ERR_CONFIG ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
	}
	rc = subcommands[i].run(&a, argc - optind, argv + optind);
	httpclient_free(&a.c);
	return rc;
}
