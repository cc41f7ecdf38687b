/* Helpers for the agent's unit tests (agent_util.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent_util.h"
#include "pcrgate/common.h"

EVP_PKEY *agent_test_key(const char *kind)
{
	if (strcmp(kind, "RSA") == 0)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	return EVP_PKEY_Q_keygen(NULL, NULL, "EC", kind);
}

size_t agent_test_hex(const char *hex, uint8_t *buf, size_t cap)
{
	size_t len = 0;

	if (pcrgate_hex_decode(hex, buf, cap, &len) != 0) {
		fprintf(stderr, "bad hex in a test vector: %s\n", hex);
		abort();
	}
	return len;
}
