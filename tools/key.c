/*
 * pcrgate key: the vendor's update keys (docs/updates.md "Keys and the trust store"). A
 * development root CA, signing certificates with the codeSigning usage issued by it, the
 * vendor's policy key for `pcrgate policy sign`, the root's revocation list, a device trust
 * store assembled from one or more roots, and detached CMS signatures made and checked with
 * them. Keys are EC P-256; private keys are written 0600 atomically and never printed.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "truststore.h"
#include "x509util.h"

#include "cli.h"
#include "key.h"

#define MAX_DAYS 36500
#define MAX_SUBJECT 64

enum { O_OUT = 256, O_SUBJECT, O_DAYS, O_ROOT_KEY, O_CERT, O_CRL_OUT, O_PUB, O_IN, O_SIG, O_TRUST, O_ROOT, O_KEY,
       O_FORCE };

static int add_multi(const char **list, size_t *n, size_t max, const char *name, const char *opt, const char *v)
{
	if (*n >= max) {
		cli_error("key %s: at most %zu %s options", name, max, opt);
		return -1;
	}
	list[(*n)++] = v;
	return 0;
}

int key_parse(int argc, char **argv, const char *name, const char *allowed, void (*usage)(FILE *),
	      long default_days, struct key_args *a)
{
	static const struct option options[] = {
		{"out", required_argument, NULL, O_OUT},       {"subject", required_argument, NULL, O_SUBJECT},
		{"days", required_argument, NULL, O_DAYS},     {"root-key", required_argument, NULL, O_ROOT_KEY},
		{"cert", required_argument, NULL, O_CERT},     {"crl-out", required_argument, NULL, O_CRL_OUT},
		{"pub", required_argument, NULL, O_PUB},       {"in", required_argument, NULL, O_IN},
		{"sig", required_argument, NULL, O_SIG},       {"trust", required_argument, NULL, O_TRUST},
		{"root", required_argument, NULL, O_ROOT},     {"key", required_argument, NULL, O_KEY},
		{"force", no_argument, NULL, O_FORCE},         {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char **slot[] = {&a->out, &a->subject, &a->days, &a->root_key, NULL, &a->crl_out, &a->pub, &a->in,
			       &a->sig, &a->trust};
	int c, r = 0;

	memset(a, 0, sizeof(*a));
	optind = 1;
	opterr = 0;
	while (r == 0 && (c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		if (c == 'h') {
			usage(stdout);
			return 1;
		}
		if (c < O_OUT || strchr(allowed, 'a' + (c - O_OUT)) == NULL) {
			cli_error("key %s: unknown option or missing value '%s'; 'pcrgate key %s --help' lists them",
				  name, argv[optind - 1], name);
			return -1;
		}
		switch (c) {
		case O_FORCE:
			a->force = 1;
			break;
		case O_ROOT:
			r = add_multi(a->roots, &a->n_roots, PCRGATE_TRUST_MAX_ROOTS, name, "--root", optarg);
			break;
		case O_CERT:
			r = add_multi(a->certs, &a->n_certs, PCRGATE_CMS_MAX_SIGNERS, name, "--cert", optarg);
			break;
		case O_KEY:
			r = add_multi(a->keys, &a->n_keys, PCRGATE_CMS_MAX_SIGNERS, name, "--key", optarg);
			break;
		default:
			*slot[c - O_OUT] = optarg;
		}
	}
	if (r != 0)
		return -1;
	if (optind != argc) {
		cli_error("key %s: unexpected argument '%s'", name, argv[optind]);
		return -1;
	}
	a->ndays = default_days;
	if (a->days != NULL) {
		char ctx[64];
		uint64_t days;

		snprintf(ctx, sizeof(ctx), "key %s", name);
		if (cli_parse_number(ctx, "--days", a->days, 1, MAX_DAYS, &days) != 0)
			return -1;
		a->ndays = (long)days;
	}
	if (a->subject != NULL && (a->subject[0] == '\0' || strlen(a->subject) > MAX_SUBJECT)) {
		cli_error("key %s: --subject must have 1 to %d characters", name, MAX_SUBJECT);
		return -1;
	}
	return 0;
}

int key_exists(const char *path)
{
	struct stat st;

	return lstat(path, &st) == 0;
}

/* Joins dir and name into buf; 0 or -1 (reported) when it does not fit. */
int key_join(char *buf, size_t cap, const char *dir, const char *name)
{
	if ((size_t)snprintf(buf, cap, "%s/%s", dir, name) >= cap) {
		cli_error("%s/%s: path too long", dir, name);
		return -1;
	}
	return 0;
}

/* Refuses to replace an existing file without --force. */
int key_may_write(const char *name, const char *path, int force)
{
	if (!force && key_exists(path)) {
		cli_error("key %s: %s exists; --force replaces it", name, path);
		return -1;
	}
	return 0;
}

/* Creates dir (0700: it may hold a private key) unless it exists as a directory. */
int key_make_dir(const char *name, const char *dir)
{
	struct stat st;

	if (mkdir(dir, 0700) == 0 || (errno == EEXIST && stat(dir, &st) == 0 && S_ISDIR(st.st_mode)))
		return 0;
	cli_error("key %s: cannot create directory %s: %s", name, dir, strerror(errno == EEXIST ? ENOTDIR : errno));
	return -1;
}

/* Writes what a PEM writer puts in a memory BIO to path atomically; secret: 0600 and cleansed. */
static int write_bio(BIO *b, const char *path, int secret)
{
	pcrgate_errinfo ei;
	char *p = NULL;
	long n = BIO_get_mem_data(b, &p);
	int r;

	pcrgate_errinfo_clear(&ei);
	if (n <= 0) {
		cli_error("%s: nothing to write", path);
		return -1;
	}
	r = pcrgate_file_write_atomic(path, (const uint8_t *)p, (size_t)n, secret ? 0600 : 0644, &ei);
	if (secret)
		OPENSSL_cleanse(p, (size_t)n);
	if (r != 0) {
		cli_report(path, &ei);
		return -1;
	}
	return 0;
}

static int write_key(EVP_PKEY *k, const char *path)
{
	BIO *b = BIO_new(BIO_s_mem());
	int r = -1;

	if (b != NULL && PEM_write_bio_PrivateKey(b, k, NULL, NULL, 0, NULL, NULL) == 1)
		r = write_bio(b, path, 1);
	else
		cli_error("%s: cannot encode the private key", path);
	BIO_free(b);
	return r;
}

int key_write_pem(const char *path, X509 *x, X509_CRL *crl, EVP_PKEY *pub)
{
	BIO *b = BIO_new(BIO_s_mem());
	int ok = b != NULL, r = -1;

	if (ok && x != NULL)
		ok = PEM_write_bio_X509(b, x) == 1;
	if (ok && crl != NULL)
		ok = PEM_write_bio_X509_CRL(b, crl) == 1;
	if (ok && pub != NULL)
		ok = PEM_write_bio_PUBKEY(b, pub) == 1;
	if (ok)
		r = write_bio(b, path, 0);
	else
		cli_error("%s: cannot encode it as PEM", path);
	BIO_free(b);
	return r;
}

X509 *key_read_cert(const char *path)
{
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;
	BIO *b = NULL;
	X509 *x = NULL;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(path, PCRGATE_TRUST_ROOT_FILE_MAX, &buf, &len, &ei) != 0) {
		cli_report(path, &ei);
		return NULL;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL || (x = PEM_read_bio_X509(b, NULL, NULL, NULL)) == NULL)
		cli_error("%s: not a PEM certificate", path);
	ERR_clear_error();
	BIO_free(b);
	free(buf);
	return x;
}

int key_load(const char *uri, int want_private, EVP_PKEY **k)
{
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_key_load(uri, want_private, k, &ei) != 0) {
		cli_report("key", &ei);
		return -1;
	}
	return 0;
}

/* A root directory's certificate and (when key is not NULL) its key: --root-key, else DIR/key.pem. */
int key_load_root(const char *dir, const char *key_uri, X509 **cert, EVP_PKEY **key)
{
	char path[4096];

	if (key_join(path, sizeof(path), dir, "cert.pem") != 0 || (*cert = key_read_cert(path)) == NULL)
		return -1;
	if (key == NULL)
		return 0;
	if (key_uri == NULL && key_join(path, sizeof(path), dir, "key.pem") != 0)
		return -1;
	if (key_load(key_uri != NULL ? key_uri : path, 1, key) != 0)
		return -1;
	if (X509_check_private_key(*cert, *key) != 1) {
		char shown[256];

		ERR_clear_error();
		if (key_uri != NULL)
			(void)pcrgate_key_uri_shown(key_uri, shown, sizeof(shown));
		cli_error("%s%s is not the key of %s/cert.pem", key_uri != NULL ? "--root-key " : "",
			  key_uri != NULL ? shown : path, dir);
		return -1;
	}
	return 0;
}

/* A root (issuer NULL: self-signed CA) or a signing certificate issued by issuer. */
static X509 *make_cert(const char *cn, EVP_PKEY *key, X509 *issuer, EVP_PKEY *issuer_key, long days)
{
	X509_NAME *name = X509_NAME_new();
	X509 *x = X509_new();
	X509V3_CTX ctx;
	int ok;

	ok = x != NULL && name != NULL && X509_set_version(x, X509_VERSION_3) == 1 &&
	     pcrgate_x509_random_serial(x) &&
	     X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) == 1 &&
	     X509_set_subject_name(x, name) == 1 &&
	     X509_set_issuer_name(x, issuer != NULL ? X509_get_subject_name(issuer) : name) == 1 &&
	     X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
	     X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) != NULL && X509_set_pubkey(x, key) == 1;
	if (ok) {
		X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
		/* A root signs signing certificates directly (pathlen 0) and its CRLs, nothing else. */
		if (issuer == NULL)
			ok = pcrgate_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") &&
			     pcrgate_x509_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
		else
			ok = pcrgate_x509_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") &&
			     pcrgate_x509_add_ext(x, &ctx, NID_key_usage, "critical,digitalSignature") &&
			     pcrgate_x509_add_ext(x, &ctx, NID_ext_key_usage, "codeSigning");
		ok = ok && pcrgate_x509_add_ext(x, &ctx, NID_subject_key_identifier, "hash") &&
		     pcrgate_x509_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always");
	}
	ok = ok && X509_sign(x, issuer_key != NULL ? issuer_key : key, EVP_sha256()) > 0;
	X509_NAME_free(name);
	if (!ok) {
		pcrgate_log_openssl(__func__, "building the certificate");
		cli_error("cannot build the certificate for '%s'", cn);
		X509_free(x);
		return NULL;
	}
	return x;
}

void key_print_cert(const char *what, const char *path, X509 *x)
{
	uint8_t md[32];
	char hex[65], *subject = pcrgate_x509_name_line(X509_get_subject_name(x));
	unsigned int n = 0;

	if (X509_digest(x, EVP_sha256(), md, &n) == 1 && n == 32)
		pcrgate_hex_encode(md, 32, hex);
	else
		strcpy(hex, "?");
	printf("%s %s: %s, sha256 %s\n", what, path, subject != NULL ? subject : "?", hex);
	free(subject);
}

static void usage_root(FILE *f)
{
	fputs("usage: pcrgate key root --out DIR [--subject CN] [--days N] [--force]\n"
	      "\n"
	      "Creates a development root CA: DIR/key.pem (EC P-256, 0600) and DIR/cert.pem\n"
	      "(self-signed, CA:TRUE pathlen 0, keyCertSign and cRLSign). Devices trust it through\n"
	      "'pcrgate key trust-store'. A production root's key belongs in an HSM.\n"
	      "\n"
	      "  --subject CN  its common name (default \"pcrgate development root\")\n"
	      "  --days N      validity in days (default 7300; devices never check it)\n"
	      "  --force       replace existing files\n",
	      f);
}

static void usage_signer(FILE *f)
{
	fputs("usage: pcrgate key signer --root DIR --out DIR [--root-key KEY] [--subject CN] [--days N]\n"
	      "         [--force]\n"
	      "\n"
	      "Creates a signing key and certificate issued by the root in --root DIR: DIR/key.pem\n"
	      "(EC P-256, 0600) and DIR/cert.pem (CA:FALSE, digitalSignature, extended key usage\n"
	      "codeSigning, a random 16-byte serial). Bundles and slot manifests are signed with it.\n"
	      "\n"
	      "  --root-key KEY  the root's private key when it is not DIR/key.pem: a file or an\n"
	      "                  OpenSSL provider URI\n"
	      "  --subject CN    its common name (default \"pcrgate release signer\")\n"
	      "  --days N        validity in days (default 1095; devices never check it)\n"
	      "  --force         replace existing files\n",
	      f);
}

/* root and signer: a new key and certificate in DIR. */
static int make_pair(int argc, char **argv, int is_root)
{
	const char *name = is_root ? "root" : "signer";
	char key_path[4096], cert_path[4096];
	EVP_PKEY *key = NULL, *root_key = NULL;
	X509 *cert = NULL, *root = NULL;
	struct key_args a;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = key_parse(argc, argv, name, is_root ? "abcm" : "abcdkm", is_root ? usage_root : usage_signer,
			   is_root ? 7300 : 1095, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.out == NULL || (!is_root && a.n_roots != 1)) {
		cli_error(is_root ? "key root: --out is required" : "key signer: --root (one) and --out are required");
		return CLI_EXIT_USAGE;
	}
	if (key_join(key_path, sizeof(key_path), a.out, "key.pem") != 0 ||
	    key_join(cert_path, sizeof(cert_path), a.out, "cert.pem") != 0 ||
	    key_may_write(name, key_path, a.force) != 0 || key_may_write(name, cert_path, a.force) != 0)
		return CLI_EXIT_USAGE;
	if (!is_root && key_load_root(a.roots[0], a.root_key, &root, &root_key) != 0)
		goto fail;
	if ((key = EVP_EC_gen("P-256")) == NULL) {
		pcrgate_log_openssl(__func__, "EVP_EC_gen");
		cli_error("key %s: cannot generate a P-256 key", name);
		goto fail;
	}
	if (a.subject == NULL)
		a.subject = is_root ? "pcrgate development root" : "pcrgate release signer";
	cert = make_cert(a.subject, key, root, root_key, a.ndays);
	if (cert == NULL || key_make_dir(name, a.out) != 0 || write_key(key, key_path) != 0 ||
	    key_write_pem(cert_path, cert, NULL, NULL) != 0)
		goto fail;
	key_print_cert(is_root ? "root" : "signer", cert_path, cert);
	rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
fail:
	X509_free(cert);
	X509_free(root);
	EVP_PKEY_free(key);
	EVP_PKEY_free(root_key);
	return rc;
}

static int cmd_root(int argc, char **argv)
{
	return make_pair(argc, argv, 1);
}

static int cmd_signer(int argc, char **argv)
{
	return make_pair(argc, argv, 0);
}

static void usage_policy(FILE *f)
{
	fputs("usage: pcrgate key policy --out FILE [--pub FILE] [--force]\n"
	      "\n"
	      "Creates the vendor's policy key (EC P-256, PEM, 0600): what 'pcrgate policy sign\n"
	      "--key' signs release PCR policies with, and what devices' update keys are bound to\n"
	      "('pcrgate policy auth-digest --key'). --pub also writes its public key.\n",
	      f);
}

static int cmd_policy_key(int argc, char **argv)
{
	EVP_PKEY *key = NULL;
	struct key_args a;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = key_parse(argc, argv, "policy", "agm", usage_policy, 1, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.out == NULL) {
		cli_error("key policy: --out is required");
		return CLI_EXIT_USAGE;
	}
	if (key_may_write("policy", a.out, a.force) != 0 ||
	    (a.pub != NULL && key_may_write("policy", a.pub, a.force) != 0))
		return CLI_EXIT_USAGE;
	if ((key = EVP_EC_gen("P-256")) == NULL) {
		pcrgate_log_openssl(__func__, "EVP_EC_gen");
		cli_error("key policy: cannot generate a P-256 key");
		goto fail;
	}
	if (write_key(key, a.out) != 0 || (a.pub != NULL && key_write_pem(a.pub, NULL, NULL, key) != 0))
		goto fail;
	rc = CLI_EXIT_OK;
fail:
	EVP_PKEY_free(key);
	return rc;
}

static void usage_trust_store(FILE *f)
{
	fputs("usage: pcrgate key trust-store --root DIR [--root DIR2 ...] --out DIR [--force]\n"
	      "\n"
	      "Assembles a device trust store in --out: roots/NAME.pem with each root's certificate and\n"
	      "crl/NAME.pem with its CRL (DIR/crl.pem, when 'pcrgate key revoke' made one), NAME\n"
	      "being the first 16 hex digits of the root's sha256 fingerprint. Several roots are for\n"
	      "a root rotation. The store is built in a new directory beside --out, loaded back as a\n"
	      "device would load it, and only then put in place (an existing one swapped atomically).\n"
	      "  --force  replace an existing store (a directory holding only roots/ and crl/)\n",
	      f);
}

/* Adds the file path (at most max bytes) to the store being built with add; 0, or -1 after reporting. */
static int store_add_file(struct pcrgate_truststore *ts, const char *path, size_t max,
			  int (*add)(struct pcrgate_truststore *, const uint8_t *, size_t, const char *,
				     pcrgate_errinfo *))
{
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	pcrgate_errinfo_clear(&ei);
	if ((r = pcrgate_file_read(path, max, &buf, &len, &ei)) == 0)
		r = add(ts, buf, len, path, &ei);
	if (r != 0)
		cli_report("key trust-store", &ei);
	free(buf);
	return r != 0 ? -1 : 0;
}

static int cmd_trust_store(int argc, char **argv)
{
	struct pcrgate_truststore *ts = NULL;
	char path[4096], name[PCRGATE_TRUST_FILE_NAME];
	pcrgate_errinfo ei;
	struct key_args a;
	X509 *root;
	size_t i;
	int r, kind, rc = CLI_EXIT_FAIL;

	if ((r = key_parse(argc, argv, "trust-store", "akm", usage_trust_store, 1, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.out == NULL || a.n_roots == 0) {
		cli_error("key trust-store: --root and --out are required");
		return CLI_EXIT_USAGE;
	}
	/*
	 * pcrgate_truststore_write refuses these too; asked here first so that a wrong --out is a
	 * usage error (exit 2), reported before any root is read.
	 */
	pcrgate_errinfo_clear(&ei);
	if ((kind = pcrgate_truststore_dir_kind(a.out, &ei)) < 0) {
		cli_report("key trust-store", &ei);
		return CLI_EXIT_FAIL;
	}
	if (kind == PCRGATE_TRUST_DIR_OTHER) {
		cli_error("key trust-store: %s holds files other than a trust store; give a new directory", a.out);
		return CLI_EXIT_USAGE;
	}
	if (!a.force && kind == PCRGATE_TRUST_DIR_STORE) {
		cli_error("key trust-store: %s already holds a trust store; --force replaces it", a.out);
		return CLI_EXIT_USAGE;
	}
	if (pcrgate_truststore_new(&ts) != 0) {
		cli_error("key trust-store: out of memory");
		return CLI_EXIT_FAIL;
	}
	/*
	 * Built in memory with the checks a device loads with: every root, then each root's CRL
	 * when 'pcrgate key revoke' made one (it must be signed by one of the roots).
	 */
	for (i = 0; i < a.n_roots; i++)
		if (key_join(path, sizeof(path), a.roots[i], "cert.pem") != 0 ||
		    store_add_file(ts, path, PCRGATE_TRUST_ROOT_FILE_MAX, pcrgate_truststore_add_roots) != 0)
			goto fail;
	for (i = 0; i < a.n_roots; i++)
		if (key_join(path, sizeof(path), a.roots[i], "crl.pem") != 0 ||
		    (key_exists(path) &&
		     store_add_file(ts, path, PCRGATE_TRUST_CRL_FILE_MAX, pcrgate_truststore_add_crls) != 0))
			goto fail;
	/* Written beside --out and swapped in whole: a failure or a crash never leaves half a store. */
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_truststore_write(a.out, ts, a.force, &ei) != 0) {
		cli_report("key trust-store", &ei);
		goto fail;
	}
	for (i = 0; i < pcrgate_truststore_root_count(ts); i++)
		if (pcrgate_truststore_file_name(pcrgate_truststore_root_cert(ts, i), name) == 0 &&
		    (size_t)snprintf(path, sizeof(path), "%s/roots/%s", a.out, name) < sizeof(path))
			key_print_cert("root", path, pcrgate_truststore_root_cert(ts, i));
	for (i = 0; i < pcrgate_truststore_crl_count(ts); i++) {
		root = pcrgate_truststore_root_cert(ts, (size_t)pcrgate_truststore_crl_root(ts, i));
		if (pcrgate_truststore_file_name(root, name) == 0)
			printf("crl %s/crl/%s: %d revoked\n", a.out, name,
			       sk_X509_REVOKED_num(X509_CRL_get_REVOKED(pcrgate_truststore_crl(ts, i))));
	}
	rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
fail:
	pcrgate_truststore_free(&ts);
	return rc;
}

static const struct cli_command commands[] = {
	{"root", cmd_root, "create a development root CA (key and self-signed certificate)"},
	{"signer", cmd_signer, "create a signing key and codeSigning certificate issued by a root"},
	{"policy", cmd_policy_key, "create the vendor's policy key for 'pcrgate policy sign'"},
	{"revoke", key_cmd_revoke, "revoke a signing certificate: re-issue the root's CRL"},
	{"trust-store", cmd_trust_store, "assemble a device trust store from one or more roots"},
	{"sign", key_cmd_sign, "sign a file: detached CMS (DER) by one or more signers"},
	{"verify", key_cmd_verify, "verify a detached CMS signature against a trust store"},
};

static const struct cli_group group = {"key", commands, sizeof(commands) / sizeof(commands[0]),
				       "docs/updates.md describes the keys, the trust store and their rules."};

int cmd_key(int argc, char **argv)
{
	return cli_dispatch(&group, argc, argv);
}
