/*
 * pcrgate key revoke, sign, verify: a root's revocation list (re-issued with a new CRL number
 * at every revocation, beside a readable list of what it revokes), detached CMS signatures by
 * one or more signers (lib/cms_sign.c), and their check against a device trust store with the
 * device's rules (lib/truststore.c), reporting every signer and root.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "truststore.h"

#include "cli.h"
#include "key.h"

#define MAX_REVOKED_FILE (1024u * 1024)
#define MAX_SIGNED (64u * 1024 * 1024)

int key_read_crl(const char *path, X509 *root, X509_CRL **crl)
{
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len = 0;
	X509_CRL *c = NULL;
	BIO *b = NULL;
	int r = -1;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(path, PCRGATE_TRUST_CRL_FILE_MAX, &buf, &len, &ei) != 0) {
		cli_report(path, &ei);
		return -1;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) == NULL || (c = PEM_read_bio_X509_CRL(b, NULL, NULL, NULL)) == NULL)
		cli_error("%s: not a PEM CRL", path);
	else if (X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(root)) != 0 ||
		 X509_CRL_verify(c, X509_get0_pubkey(root)) != 1)
		cli_error("%s: not a CRL of this root", path);
	else
		r = 0;
	ERR_clear_error();
	BIO_free(b);
	free(buf);
	if (r == 0)
		*crl = c;
	else
		X509_CRL_free(c);
	return r;
}

static void usage_revoke(FILE *f)
{
	fputs("usage: pcrgate key revoke --root DIR --cert CERT [--root-key KEY] [--crl-out FILE]\n"
	      "         [--days N] [--force]\n"
	      "\n"
	      "Revokes the signing certificate CERT, which the root in DIR issued: re-issues the\n"
	      "root's CRL DIR/crl.pem with every earlier entry, CERT's serial and the next CRL\n"
	      "number, and adds a line to DIR/revoked (serial, time, subject). Revoking a\n"
	      "certificate twice re-issues the CRL and lists it once. Rebuild the trust store\n"
	      "('pcrgate key trust-store') and ship it to devices.\n"
	      "\n"
	      "  --root-key KEY  the root's private key when it is not DIR/key.pem\n"
	      "  --crl-out FILE  also write the new CRL there\n"
	      "  --days N        the CRL's nextUpdate, in days (default 365; devices never check it)\n"
	      "  --force         replace an existing --crl-out FILE\n",
	      f);
}

/* The CRL's number, 0 when it has none. */
static long crl_number(X509_CRL *crl)
{
	ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
	long v = n != NULL ? ASN1_INTEGER_get(n) : 0;

	ASN1_INTEGER_free(n);
	return v < 0 ? 0 : v;
}

/* A new CRL of root: old's entries (if any), cert's serial unless listed, number, signed. */
static X509_CRL *build_crl(X509 *root, EVP_PKEY *key, X509_CRL *old, X509 *cert, long number, long days,
			   int *listed)
{
	STACK_OF(X509_REVOKED) *entries = old != NULL ? X509_CRL_get_REVOKED(old) : NULL;
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0), *next = X509_time_adj_ex(NULL, (int)days, 0, NULL);
	ASN1_INTEGER *num = ASN1_INTEGER_new();
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *entry = NULL;
	X509V3_CTX ctx;
	X509_EXTENSION *aki = NULL;
	int i, ok;

	ok = crl != NULL && now != NULL && next != NULL && num != NULL &&
	     X509_CRL_set_version(crl, X509_CRL_VERSION_2) == 1 &&
	     X509_CRL_set_issuer_name(crl, X509_get_subject_name(root)) == 1 &&
	     X509_CRL_set1_lastUpdate(crl, now) == 1 && X509_CRL_set1_nextUpdate(crl, next) == 1 && ASN1_INTEGER_set(num, number) == 1 &&
	     X509_CRL_add1_ext_i2d(crl, NID_crl_number, num, 0, 0) == 1;
	if (ok) {
		X509V3_set_ctx(&ctx, root, NULL, NULL, crl, 0);
		ok = (aki = X509V3_EXT_conf_nid(NULL, &ctx, NID_authority_key_identifier, "keyid:always")) != NULL &&
		     X509_CRL_add_ext(crl, aki, -1) == 1;
	}
	*listed = 0;
	for (i = 0; ok && i < sk_X509_REVOKED_num(entries); i++) {
		X509_REVOKED *e = sk_X509_REVOKED_value(entries, i);

		if (ASN1_INTEGER_cmp(X509_REVOKED_get0_serialNumber(e), X509_get0_serialNumber(cert)) == 0)
			*listed = 1;
		ok = (entry = X509_REVOKED_dup(e)) != NULL && X509_CRL_add0_revoked(crl, entry) == 1;
		if (ok)
			entry = NULL;
	}
	if (ok && !*listed) {
		ok = (entry = X509_REVOKED_new()) != NULL &&
		     X509_REVOKED_set_serialNumber(entry, (ASN1_INTEGER *)X509_get0_serialNumber(cert)) == 1 &&
		     X509_REVOKED_set_revocationDate(entry, now) == 1 && X509_CRL_add0_revoked(crl, entry) == 1;
		if (ok)
			entry = NULL;
	}
	ok = ok && X509_CRL_sort(crl) == 1 && X509_CRL_sign(crl, key, EVP_sha256()) > 0;
	X509_REVOKED_free(entry);
	X509_EXTENSION_free(aki);
	ASN1_INTEGER_free(num);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	if (!ok) {
		pcrgate_log_openssl(__func__, "building the CRL");
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* DIR/revoked with one more line: "SERIAL TIME SUBJECT" (serial in hex, time in UTC). */
static int append_revoked(const char *path, X509 *cert)
{
	char *serial = NULL, *subject = pcrgate_x509_name_line(X509_get_subject_name(cert)), when[32];
	BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
	uint8_t *old = NULL, *buf = NULL;
	size_t len = 0, n;
	pcrgate_errinfo ei;
	time_t now = time(NULL);
	struct tm tm;
	int r = -1, w;

	pcrgate_errinfo_clear(&ei);
	if (key_exists(path) && pcrgate_file_read(path, MAX_REVOKED_FILE, &old, &len, &ei) != 0) {
		cli_report(path, &ei);
		goto fail;
	}
	if (bn == NULL || (serial = BN_bn2hex(bn)) == NULL || subject == NULL || gmtime_r(&now, &tm) == NULL ||
	    strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		goto fail;
	n = len + strlen(serial) + strlen(when) + strlen(subject) + 4;
	if ((buf = malloc(n)) == NULL)
		goto fail;
	if (len > 0)
		memcpy(buf, old, len);
	w = snprintf((char *)buf + len, n - len, "%s %s %s\n", serial, when, subject);
	if (w < 0 || (size_t)w >= n - len)
		goto fail;
	if (pcrgate_file_write_atomic(path, buf, len + (size_t)w, 0644, &ei) != 0) {
		cli_report(path, &ei);
		goto fail;
	}
	r = 0;
fail:
	free(buf);
	free(old);
	OPENSSL_free(serial);
	free(subject);
	BN_free(bn);
	return r;
}

int key_cmd_revoke(int argc, char **argv)
{
	char crl_path[4096], list_path[4096];
	X509 *root = NULL, *cert = NULL;
	X509_CRL *old = NULL, *crl = NULL;
	EVP_PKEY *key = NULL;
	struct key_args a;
	int r, listed = 0, rc = CLI_EXIT_FAIL;

	if ((r = key_parse(argc, argv, "revoke", "cdefkm", usage_revoke, 365, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.n_roots != 1 || a.n_certs != 1) {
		cli_error("key revoke: --root and --cert (one each) are required");
		return CLI_EXIT_USAGE;
	}
	if (key_join(crl_path, sizeof(crl_path), a.roots[0], "crl.pem") != 0 ||
	    key_join(list_path, sizeof(list_path), a.roots[0], "revoked") != 0 ||
	    (a.crl_out != NULL && key_may_write("revoke", a.crl_out, a.force) != 0))
		return CLI_EXIT_USAGE;
	if (key_load_root(a.roots[0], a.root_key, &root, &key) != 0 || (cert = key_read_cert(a.certs[0])) == NULL)
		goto fail;
	if (X509_check_issued(root, cert) != X509_V_OK || X509_verify(cert, X509_get0_pubkey(root)) != 1) {
		ERR_clear_error();
		cli_error("key revoke: %s was not issued by the root in %s", a.certs[0], a.roots[0]);
		goto fail;
	}
	if (X509_cmp(root, cert) == 0) {
		cli_error("key revoke: %s is the root itself; a root is retired by a root rotation", a.certs[0]);
		goto fail;
	}
	if (key_exists(crl_path) && key_read_crl(crl_path, root, &old) != 0)
		goto fail;
	crl = build_crl(root, key, old, cert, (old != NULL ? crl_number(old) : 0) + 1, a.ndays, &listed);
	if (crl == NULL) {
		cli_error("key revoke: cannot build the CRL");
		goto fail;
	}
	/* The list first: a crash between the two leaves a line for a CRL entry still to come. */
	if ((!listed && append_revoked(list_path, cert) != 0) || key_write_pem(crl_path, NULL, crl, NULL) != 0 ||
	    (a.crl_out != NULL && key_write_pem(a.crl_out, NULL, crl, NULL) != 0))
		goto fail;
	key_print_cert(listed ? "already revoked" : "revoked", a.certs[0], cert);
	printf("crl %s: number %ld, %d revoked\n", crl_path, crl_number(crl),
	       sk_X509_REVOKED_num(X509_CRL_get_REVOKED(crl)));
	rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
fail:
	X509_CRL_free(crl);
	X509_CRL_free(old);
	X509_free(cert);
	X509_free(root);
	EVP_PKEY_free(key);
	return rc;
}

static void usage_sign(FILE *f)
{
	fputs("usage: pcrgate key sign --cert CERT --key KEY [--cert CERT2 --key KEY2 ...] --in FILE\n"
	      "         --out SIG [--force]\n"
	      "\n"
	      "Signs FILE (a slot manifest, for instance): a detached CMS SignedData in DER with\n"
	      "SHA-256, each signer's certificate and chain included. CERT is a PEM file with the\n"
	      "signing certificate first, then any chain certificates; KEY its private key, a file\n"
	      "or an OpenSSL provider URI. Two signers (under the old and the new root) sign a\n"
	      "root rotation. An existing SIG is replaced only with --force.\n",
	      f);
}

int key_cmd_sign(int argc, char **argv)
{
	struct pcrgate_cms_signer_spec spec[PCRGATE_CMS_MAX_SIGNERS];
	pcrgate_errinfo ei;
	uint8_t *data = NULL, *sig = NULL;
	size_t len = 0, sig_len = 0, i;
	struct key_args a;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = key_parse(argc, argv, "sign", "aehlm", usage_sign, 1, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.n_certs == 0 || a.n_certs != a.n_keys || a.in == NULL || a.out == NULL) {
		cli_error("key sign: --in, --out and one --key for each --cert are required");
		return CLI_EXIT_USAGE;
	}
	if (key_may_write("sign", a.out, a.force) != 0)
		return CLI_EXIT_USAGE;
	for (i = 0; i < a.n_certs; i++) {
		spec[i].cert = a.certs[i];
		spec[i].key = a.keys[i];
		spec[i].chain = NULL;
	}
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_file_read(a.in, MAX_SIGNED, &data, &len, &ei) != 0) {
		cli_report(a.in, &ei);
		goto fail;
	}
	if (pcrgate_cms_sign(spec, a.n_certs, data, len, &sig, &sig_len, &ei) != 0) {
		cli_report("key sign", &ei);
		goto fail;
	}
	if (pcrgate_file_write_atomic(a.out, sig, sig_len, 0644, &ei) != 0) {
		cli_report(a.out, &ei);
		goto fail;
	}
	rc = CLI_EXIT_OK;
fail:
	free(sig);
	free(data);
	return rc;
}

static void usage_verify(FILE *f)
{
	fputs("usage: pcrgate key verify --trust STORE --in FILE --sig SIG\n"
	      "\n"
	      "Checks the detached CMS signature SIG (DER) over FILE as a device does: at least one\n"
	      "signer with a chain to a root of STORE (a trust-store directory or a PEM file of\n"
	      "roots), the codeSigning usage, not revoked by a CRL of the store; no validity\n"
	      "periods. Prints each signer and the root it chains to. Exit 0 when it verifies,\n"
	      "1 when not.\n",
	      f);
}

int key_cmd_verify(int argc, char **argv)
{
	struct pcrgate_truststore *ts = NULL;
	struct pcrgate_cms_report *rep = NULL;
	pcrgate_errinfo ei;
	uint8_t *data = NULL, *sig = NULL, fp[32];
	char hex[65];
	size_t len = 0, sig_len = 0, i;
	struct key_args a;
	int r, rc = CLI_EXIT_FAIL;

	if ((r = key_parse(argc, argv, "verify", "hij", usage_verify, 1, &a)) != 0)
		return r > 0 ? CLI_EXIT_OK : CLI_EXIT_USAGE;
	if (a.trust == NULL || a.in == NULL || a.sig == NULL) {
		cli_error("key verify: --trust, --in and --sig are required");
		return CLI_EXIT_USAGE;
	}
	pcrgate_errinfo_clear(&ei);
	if (pcrgate_truststore_load(&ts, a.trust, &ei) != 0) {
		cli_report("key verify: --trust", &ei);
		goto fail;
	}
	if (pcrgate_file_read(a.in, MAX_SIGNED, &data, &len, &ei) != 0) {
		cli_report(a.in, &ei);
		goto fail;
	}
	if (pcrgate_file_read(a.sig, PCRGATE_CMS_MAX, &sig, &sig_len, &ei) != 0) {
		cli_report(a.sig, &ei);
		goto fail;
	}
	if ((rep = calloc(1, sizeof(*rep))) == NULL) {
		cli_error("key verify: out of memory");
		goto fail;
	}
	if (pcrgate_truststore_verify_cms(ts, sig, sig_len, data, len, rep, &ei) != 0) {
		cli_report(a.sig, &ei);
		goto fail;
	}
	for (i = 0; i < rep->signer_count; i++) {
		const struct pcrgate_cms_signer *s = &rep->signer[i];

		if (!s->verified) {
			printf("signer %zu: %s: not verified: %s\n", i + 1, s->subject, s->reason);
			continue;
		}
		if (pcrgate_truststore_root_sha256(ts, (size_t)s->root, fp) != 0) {
			cli_error("key verify: signer %zu: cannot name its root %d in the trust store", i + 1, s->root);
			goto fail;
		}
		pcrgate_hex_encode(fp, sizeof(fp), hex);
		printf("signer %zu: %s: verified, root %s (sha256 %s)\n", i + 1, s->subject,
		       pcrgate_truststore_root_subject(ts, (size_t)s->root), hex);
	}
	rc = fflush(stdout) == 0 ? CLI_EXIT_OK : CLI_EXIT_FAIL;
fail:
	free(rep);
	free(sig);
	free(data);
	pcrgate_truststore_free(&ts);
	return rc;
}
