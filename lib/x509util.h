/*
 * pcrgate (internal): what issuing an X.509 certificate needs wherever pcrgate issues one (the
 * verifier's device CA, pcrgate key): an extension from its OpenSSL configuration text, and a
 * random serial number.
 */
#ifndef PCRGATE_X509UTIL_H
#define PCRGATE_X509UTIL_H

#include <openssl/x509.h>
#include <openssl/x509v3.h>

/* Adds extension nid, written as in an OpenSSL configuration ("critical,CA:FALSE"); 1 on success. */
int pcrgate_x509_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value);
/*
 * Sets x's serial to 16 random bytes, positive and with its top bit pair 01 (so always 16 bytes
 * long): unpredictable, so no two certificates share one (RFC 5280 allows 20). 1 on success.
 */
int pcrgate_x509_random_serial(X509 *x);

#endif
