/*
 * pcrgate-verifierd: the device CA. At enrollment the verifier issues each device an X.509
 * client certificate for the TLS key the device's AK certified (its private key never leaves
 * the device's TPM); afterwards every device request arrives over a TLS connection that this
 * certificate authenticates (docs/verifier.md, "How a device is authenticated").
 */
#ifndef PCRGATE_VERIFIER_DEVCERT_H
#define PCRGATE_VERIFIER_DEVCERT_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

#include "pcrgate/common.h"

#define DEVCERT_SPKI_HEX 65   /* SHA-256 of a SubjectPublicKeyInfo, hex, with its NUL */
#define DEVCERT_MAX_DAYS 3650

typedef struct devcert_ca devcert_ca;

/*
 * Loads the CA certificate (PEM file) and its private key (a PEM file or any OpenSSL provider
 * URI). The certificate must be a CA allowed to sign certificates, and the key its key.
 */
int devcert_ca_load(const char *cert_path, const char *key_uri, devcert_ca **out, pcrgate_errinfo *ei);
void devcert_ca_free(devcert_ca **ca);
/* The CA certificate as PEM text (NUL-terminated), for the TLS server's client trust list. */
const char *devcert_ca_pem(const devcert_ca *ca);

/*
 * Issues a TLS client certificate for key to device_id (subject CN), valid from now for days:
 * random serial, CA:FALSE, digitalSignature, extendedKeyUsage clientAuth. *pem (malloc'd) gets
 * it; spki gets the hex SHA-256 of the key's SubjectPublicKeyInfo, which the device row keeps.
 */
int devcert_issue(const devcert_ca *ca, EVP_PKEY *key, const char *device_id, unsigned days, char **pem,
		  char spki[DEVCERT_SPKI_HEX], pcrgate_errinfo *ei);

/*
 * Checks a client certificate chain (DER, the leaf first) against the CA: signature, validity
 * now, clientAuth usage. 0 with the leaf's subject CN in cn (cap bytes) and its key's spki;
 * PCRGATE_ERR_VERIFY with why otherwise.
 */
int devcert_verify(const devcert_ca *ca, const uint8_t *const *certs, const size_t *lens, size_t n, char *cn,
		   size_t cap, char spki[DEVCERT_SPKI_HEX], pcrgate_errinfo *ei);

#endif
