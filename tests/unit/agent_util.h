/* Helpers for the agent's unit tests: keys made in-test, hex, and seed inputs for the fuzz targets. */
#ifndef PCRGATE_TEST_AGENT_UTIL_H
#define PCRGATE_TEST_AGENT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* A new key: "P-256", "P-384" or "RSA" (2048 bits); NULL on failure. */
EVP_PKEY *agent_test_key(const char *kind);
/* Hex into buf; returns the length (aborts the test binary on bad hex). */
size_t agent_test_hex(const char *hex, uint8_t *buf, size_t cap);
/* Writes a seed input for fuzz target NAME as FILE in the fuzz corpus (best effort). */
void agent_test_seed(const char *name, const char *file, const void *data, size_t len);

#endif
