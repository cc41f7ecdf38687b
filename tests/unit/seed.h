/*
 * Seed inputs for the fuzz targets, written by the unit tests that build valid and broken
 * inputs anyway: file FILE of target NAME goes to $PCRGATE_FUZZ_CORPUS/NAME (the test harness
 * points it at the build's tests/fuzz/corpus, which `make fuzz-smoke` reads), else to
 * $top_builddir/tests/fuzz/corpus/NAME. Header-only, so that every unit test can use it
 * without another source file in its build rules.
 */
#ifndef PCRGATE_TEST_SEED_H
#define PCRGATE_TEST_SEED_H

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

/* Returns 0 when written, 1 when neither variable is set (nothing written), -1 on failure. */
static inline int test_seed_write(const char *name, const char *file, const void *data, size_t len)
{
	const char *corpus = getenv("PCRGATE_FUZZ_CORPUS"), *top = getenv("top_builddir");
	char path[4096], *p;
	FILE *fp;
	int n;

	if (corpus != NULL && corpus[0] != '\0')
		n = snprintf(path, sizeof(path), "%s/%s/%s", corpus, name, file);
	else if (top != NULL && top[0] != '\0')
		n = snprintf(path, sizeof(path), "%s/tests/fuzz/corpus/%s/%s", top, name, file);
	else
		return 1;
	if (n < 0 || (size_t)n >= sizeof(path))
		return -1;
	/* mkdir -p of the file's directory: tests run in any order, the first one makes it. */
	for (p = path + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	if ((fp = fopen(path, "wb")) == NULL)
		return -1;
	if (fwrite(data, 1, len, fp) != len) {
		fclose(fp);
		return -1;
	}
	return fclose(fp) == 0 ? 0 : -1;
}

#endif
