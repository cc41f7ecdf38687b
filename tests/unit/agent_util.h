/* Helpers for the agent's unit tests: keys made in-test and hex. */
#ifndef PCRGATE_TEST_AGENT_UTIL_H
#define PCRGATE_TEST_AGENT_UTIL_H

#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>

/* A new key: "P-256", "P-384" or "RSA" (2048 bits); NULL on failure. */
EVP_PKEY *agent_test_key(const char *kind);
/* Hex into buf; returns the length (aborts the test binary on bad hex). */
size_t agent_test_hex(const char *hex, uint8_t *buf, size_t cap);

#endif
