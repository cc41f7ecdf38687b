/* pcrgate key: what tools/key.c (keys, certificates, trust stores) shares with tools/key_sign.c
 * (revocation, signing and verifying). */
#ifndef PCRGATE_TOOLS_KEY_H
#define PCRGATE_TOOLS_KEY_H

#include <stdio.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "truststore.h"

/* The options of every `pcrgate key` command; each takes the ones it allows. */
struct key_args {
	const char *out, *subject, *days, *root_key, *crl_out, *pub, *in, *sig, *trust;
	const char *roots[PCRGATE_TRUST_MAX_ROOTS], *certs[PCRGATE_CMS_MAX_SIGNERS], *keys[PCRGATE_CMS_MAX_SIGNERS];
	size_t n_roots, n_certs, n_keys;
	long ndays; /* --days, else the default given to key_parse */
	int force;
};

/*
 * Parses the options allowed, a string of letters: a --out, b --subject, c --days, d --root-key,
 * e --cert, f --crl-out, g --pub, h --in, i --sig, j --trust, k --root, l --key, m --force.
 * 0 to run, 1 after --help, -1 on a usage error (reported).
 */
int key_parse(int argc, char **argv, const char *name, const char *allowed, void (*usage)(FILE *),
	      long default_days, struct key_args *a);

/* Each reports its own failure and returns -1 (NULL). */
int key_exists(const char *path);
int key_join(char *buf, size_t cap, const char *dir, const char *name);
int key_may_write(const char *name, const char *path, int force);
int key_make_dir(const char *name, const char *dir);
int key_write_pem(const char *path, X509 *x, X509_CRL *crl, EVP_PKEY *pub);
X509 *key_read_cert(const char *path);
int key_load(const char *uri, int want_private, EVP_PKEY **k);
/* DIR/cert.pem and, when key is not NULL, the root's key: key_uri, else DIR/key.pem. */
int key_load_root(const char *dir, const char *key_uri, X509 **cert, EVP_PKEY **key);
/* Prints "WHAT PATH: SUBJECT, sha256 FINGERPRINT". */
void key_print_cert(const char *what, const char *path, X509 *x);
/* A root's CRL file, which root must have issued and signed. */
int key_read_crl(const char *path, X509 *root, X509_CRL **crl);

int key_cmd_revoke(int argc, char **argv);
int key_cmd_sign(int argc, char **argv);
int key_cmd_verify(int argc, char **argv);

#endif
