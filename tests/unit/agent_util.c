/* Helpers for the agent's unit tests (agent_util.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

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

/* mkdir -p of every directory in path up to its last '/'. */
static void make_dirs(char *path)
{
	char *p;

	for (p = path + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(path, 0755) != 0 && errno != EEXIST) {
			*p = '/';
			return;
		}
		*p = '/';
	}
}

void agent_test_seed(const char *name, const char *file, const void *data, size_t len)
{
	const char *corpus = getenv("PCRGATE_FUZZ_CORPUS"), *top = getenv("top_builddir");
	char path[4096];
	FILE *f;
	int n;

	if (corpus != NULL)
		n = snprintf(path, sizeof(path), "%s/%s/%s", corpus, name, file);
	else if (top != NULL)
		n = snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/%s", top, name, file);
	else
		return;
	if (n < 0 || (size_t)n >= sizeof(path))
		return;
	make_dirs(path);
	if ((f = fopen(path, "wb")) != NULL) {
		fwrite(data, 1, len, f);
		fclose(f);
	}
}
