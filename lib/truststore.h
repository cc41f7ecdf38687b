/*
 * pcrgate (library-internal): the update trust store and CMS signatures of update metadata.
 *
 * A trust store is a directory: roots/<name>.pem holds the trust anchors (self-signed CA
 * certificates; several during a root rotation) and crl/<name>.pem the certificate revocation lists
 * the roots issued. A detached CMS SignedData over some bytes is accepted when at least one of
 * its SignerInfos verifies completely: its signature over the bytes (SHA-256 or stronger), a
 * certificate chain to a root of the store, the codeSigning extended key usage on the signer,
 * and no certificate of the chain below the root revoked by a CRL of the store. Validity
 * periods are never checked (docs/updates.md "Rotation, revocation and expiry": a device has no
 * trusted clock, and an expired signing certificate must not end its ability to update). A
 * missing CRL is not an error: a device may have none.
 */
#ifndef PCRGATE_TRUSTSTORE_H
#define PCRGATE_TRUSTSTORE_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pcrgate/common.h"

#define PCRGATE_TRUST_MAX_ROOTS 32            /* trust anchors in one store */
#define PCRGATE_TRUST_MAX_CRLS 32             /* CRLs in one store */
#define PCRGATE_TRUST_MAX_FILES 256           /* entries of roots/ or crl/ looked at */
#define PCRGATE_TRUST_ROOT_FILE_MAX (64u * 1024)  /* bytes of one roots/<name>.pem */
#define PCRGATE_TRUST_CRL_FILE_MAX (1024u * 1024) /* bytes of one crl/<name>.pem */
#define PCRGATE_CMS_MAX (64u * 1024)          /* bytes of one CMS signature */
#define PCRGATE_CMS_MAX_SIGNERS 8             /* SignerInfos in one signature */
#define PCRGATE_CMS_MAX_CERTS 16              /* certificates carried in one signature */

struct pcrgate_truststore;

/* An empty store (for building one in memory). */
int pcrgate_truststore_new(struct pcrgate_truststore **ts);
/*
 * Loads path: a trust-store directory (roots/<name>.pem, at least one root; crl/<name>.pem, which may be
 * missing or empty), or a single PEM file of trust anchors (no CRLs). Files whose names do not
 * end in ".pem" and hidden files are ignored; symbolic links are refused. Every problem names
 * the file. *ts only on success.
 */
int pcrgate_truststore_load(struct pcrgate_truststore **ts, const char *path, pcrgate_errinfo *ei);
void pcrgate_truststore_free(struct pcrgate_truststore **ts);
/*
 * Adds every certificate of a PEM (or one DER) buffer as a trust anchor; each must be a
 * self-signed CA certificate. A root already in the store is not added twice. name is used in
 * errors (a file name). On failure the store is unchanged.
 */
int pcrgate_truststore_add_roots(struct pcrgate_truststore *ts, const uint8_t *buf, size_t len, const char *name,
				 pcrgate_errinfo *ei);
/*
 * Why x cannot be a trust anchor ("is not a CA (basicConstraints CA:TRUE)", "is not a
 * self-signed root"), or NULL when it can: the one rule for the roots a store loads and those a
 * bundle's trust_update adds (lib/bundle_manifest.c), so a bundle is refused when it is
 * verified, not when its roots are applied at the commit.
 */
const char *pcrgate_truststore_root_problem(X509 *x);
/*
 * Why x cannot sign updates ("lacks the codeSigning extended key usage", "has a key usage
 * without digitalSignature"), or NULL: the rule the verifier applies and pcrgate_cms_sign
 * checks before it signs.
 */
const char *pcrgate_truststore_signer_problem(X509 *x);
/*
 * Every certificate of buf (PEM blocks, each checked to its end, or one DER certificate) into
 * *out, at least one and at most max; errors name name (a file). The stack is the caller's.
 */
int pcrgate_cert_parse(const uint8_t *buf, size_t len, size_t max, const char *name, STACK_OF(X509) **out,
		       pcrgate_errinfo *ei);
/* Adds every CRL of a PEM (or one DER) buffer; each must be signed by a root already in the store. */
int pcrgate_truststore_add_crls(struct pcrgate_truststore *ts, const uint8_t *buf, size_t len, const char *name,
				pcrgate_errinfo *ei);
size_t pcrgate_truststore_root_count(const struct pcrgate_truststore *ts);
/* SHA-256 of root i's DER encoding (its fingerprint); 0 or PCRGATE_ERR_INVALID_ARGUMENT. */
int pcrgate_truststore_root_sha256(const struct pcrgate_truststore *ts, size_t i, uint8_t out[32]);
/* Root i's subject, one line (RFC 2253), borrowed from the store; NULL when i is out of range. */
const char *pcrgate_truststore_root_subject(const struct pcrgate_truststore *ts, size_t i);

/* Root i's certificate and CRL i, borrowed from the store (in load order); NULL when out of range. */
X509 *pcrgate_truststore_root_cert(const struct pcrgate_truststore *ts, size_t i);
size_t pcrgate_truststore_crl_count(const struct pcrgate_truststore *ts);
X509_CRL *pcrgate_truststore_crl(const struct pcrgate_truststore *ts, size_t i);
/* The index of the root that signed CRL i (pcrgate_truststore_add_crls found it); -1 when out of range. */
int pcrgate_truststore_crl_root(const struct pcrgate_truststore *ts, size_t i);

/*
 * Writing a trust-store directory (lib/truststore_write.c). A store is built in memory first
 * (pcrgate_truststore_new, _add_roots, _add_crls: every root and CRL checked once, as a device
 * checks them), then written whole in PATH.tmp.XXXXXX beside PATH, loaded back as a device loads
 * it, synced, and only then renamed to PATH, or swapped with the directory at PATH (renameat2
 * RENAME_EXCHANGE) before the old store is deleted: a failure or a power cut at any moment
 * leaves the old store or the new one, never a mix. Each durable change is a
 * pcrgate_fault_point (file writes tearable).
 */

/*
 * What path holds: nothing (missing, or an empty directory), a trust store (roots/ and crl/
 * only), or other things (files, a symbolic link, anything but a directory). A path that cannot
 * be examined (no permission, say) is PCRGATE_ERR_IO, named in ei.
 */
enum { PCRGATE_TRUST_DIR_NONE = 0, PCRGATE_TRUST_DIR_STORE = 1, PCRGATE_TRUST_DIR_OTHER = 2 };
int pcrgate_truststore_dir_kind(const char *path, pcrgate_errinfo *ei);

/* "<first 16 hex digits of the root's DER sha256>.pem": the file name of a root and of its CRLs. */
#define PCRGATE_TRUST_FILE_NAME 21
int pcrgate_truststore_file_name(X509 *root, char name[PCRGATE_TRUST_FILE_NAME]);

/*
 * Writes ts (at least one root) at path as above: roots/NAME.pem with each root, crl/NAME.pem
 * with the CRLs that root signed (none: no file), each PEM and mode 0644. An existing store at
 * path is replaced only when replace is set; a path holding anything but roots/ and crl/ (or a
 * symbolic link) is refused. When the new store is in place but its directory entry could not
 * be synced the call fails saying so, and the old store is kept beside it.
 */
int pcrgate_truststore_write(const char *path, const struct pcrgate_truststore *ts, int replace,
			     pcrgate_errinfo *ei);

/*
 * Removes what an interrupted pcrgate_truststore_write left beside path: directories named
 * PATH.tmp.XXXXXX (a new store not yet in place, or an old one not yet deleted). Fails only for
 * a path that cannot name a store; a leftover it cannot remove is logged.
 */
int pcrgate_truststore_remove_leftovers(const char *path, pcrgate_errinfo *ei);

/* A name on one line (RFC 2253), malloc'd; NULL when out of memory. */
char *pcrgate_x509_name_line(const X509_NAME *name);

/* One SignerInfo of a verified signature. */
struct pcrgate_cms_signer {
	int verified;             /* 1 when every check passed */
	int root;                 /* the store's index of the root it chains to, or -1 */
	uint8_t cert_sha256[32];  /* SHA-256 of the signer certificate's DER (zero when absent) */
	char subject[160];        /* the signer certificate's subject (RFC 2253), possibly cut short */
	char reason[160];         /* the first check that failed, "" when verified */
};

/* What pcrgate_truststore_verify_cms found: every SignerInfo, in the signature's order. */
struct pcrgate_cms_report {
	size_t signer_count;
	size_t verified_count;  /* >= 1 whenever the call succeeded */
	uint32_t roots;         /* bit i set: root i anchors at least one verified signer */
	struct pcrgate_cms_signer signer[PCRGATE_CMS_MAX_SIGNERS];
};

/*
 * Verifies sig (a detached CMS SignedData, DER, at most PCRGATE_CMS_MAX bytes with nothing
 * after it) over data against ts; succeeds when at least one SignerInfo verifies (rules above).
 * A caller that needs more (a root rotation needs both the old and the new root) checks
 * report->roots. report (may be NULL) is written only on success. Failures:
 * PCRGATE_ERR_FORMAT/LIMIT for a signature that is malformed or too big, PCRGATE_ERR_VERIFY
 * when no signer verifies (the message names each signer's failed check).
 */
int pcrgate_truststore_verify_cms(const struct pcrgate_truststore *ts, const uint8_t *sig, size_t sig_len,
				  const uint8_t *data, size_t data_len, struct pcrgate_cms_report *report,
				  pcrgate_errinfo *ei);

/*
 * A CMS signature file's content as DER: buf is DER already, or PEM ("-----BEGIN CMS-----" or
 * PKCS7) when it starts with "-----BEGIN". *der (malloc'd) and *der_len only on success;
 * PEM that does not hold a CMS structure is PCRGATE_ERR_FORMAT.
 */
int pcrgate_cms_to_der(const uint8_t *buf, size_t len, uint8_t **der, size_t *der_len, pcrgate_errinfo *ei);

/* One signer for pcrgate_cms_sign. */
struct pcrgate_cms_signer_spec {
	const char *cert;  /* PEM file: the signer certificate, then any chain certificates */
	const char *key;   /* its private key: a PEM/DER file or an OpenSSL provider URI */
	const char *chain; /* PEM file of further chain (intermediate) certificates, or NULL */
};

/*
 * Signs data as a detached CMS SignedData (DER) with n (1..PCRGATE_CMS_MAX_SIGNERS) signers:
 * SHA-256, signed attributes without S/MIME capabilities, each signer's certificate and chain
 * included. Each signing certificate must be inside its validity period now and carry the
 * codeSigning usage (PCRGATE_ERR_VERIFY): expiry binds the signer, never the device.
 * *sig (malloc'd) and *sig_len only on success.
 */
int pcrgate_cms_sign(const struct pcrgate_cms_signer_spec *signers, size_t n, const uint8_t *data, size_t len,
		     uint8_t **sig, size_t *sig_len, pcrgate_errinfo *ei);

#endif
