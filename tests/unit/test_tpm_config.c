/*
 * Unit tests, no TPM needed: the TCTI choice (option > config file > PCRGATE_TCTI >
 * default), the config file reader and its file:line errors, and the mapping and
 * retrying of TSS2 response codes.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <tss2/tss2_common.h>
#include <tss2/tss2_tpm2_types.h>

#include "conffile.h"
#include "pcrgate/common.h"
#include "pcrgate/tpm.h"

struct fixture {
	char dir[64];
	char path[128];    /* a config file in dir */
	char missing[128]; /* a file in dir that never exists */
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "%s", "/tmp/pcrgate-unit.XXXXXX");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->path, sizeof(f->path), "%s/pcrgate.conf", f->dir);
	snprintf(f->missing, sizeof(f->missing), "%s/absent.conf", f->dir);
	unsetenv("PCRGATE_TCTI");
	unsetenv("PCRGATE_CONFIG");
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	unlink(f->path);
	rmdir(f->dir);
	free(f);
	unsetenv("PCRGATE_TCTI");
	unsetenv("PCRGATE_CONFIG");
	return 0;
}

static void write_file(const char *path, const char *text, size_t len)
{
	FILE *fp = fopen(path, "wb");

	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	assert_int_equal(fclose(fp), 0);
}

static void write_config(const struct fixture *f, const char *text)
{
	write_file(f->path, text, strlen(text));
}

/* Resolves with the fixture's missing file as the default config. */
static int resolve(const struct fixture *f, const char *option, const char *config, char *tcti, int *source,
		   pcrgate_errinfo *ei)
{
	return pcrgate_tcti_resolve_in(option, config, f->missing, tcti, PCRGATE_TCTI_MAX, source, ei);
}

static void test_order(void **state)
{
	struct fixture *f = *state;
	char tcti[PCRGATE_TCTI_MAX];
	pcrgate_errinfo ei = {0};
	int source = 0;

	/* Nothing set: the default, and a missing default config file is fine. */
	assert_int_equal(resolve(f, NULL, NULL, tcti, &source, &ei), 0);
	assert_string_equal(tcti, "device:/dev/tpmrm0");
	assert_int_equal(source, PCRGATE_TCTI_FROM_DEFAULT);
	/* An empty variable counts as unset. */
	setenv("PCRGATE_TCTI", "", 1);
	assert_int_equal(resolve(f, NULL, NULL, tcti, &source, &ei), 0);
	assert_int_equal(source, PCRGATE_TCTI_FROM_DEFAULT);
	/* The environment beats the default. */
	setenv("PCRGATE_TCTI", "mssim:host=localhost,port=2321", 1);
	assert_int_equal(resolve(f, NULL, NULL, tcti, &source, &ei), 0);
	assert_string_equal(tcti, "mssim:host=localhost,port=2321");
	assert_int_equal(source, PCRGATE_TCTI_FROM_ENV);
	/* A config file without tcti leaves the environment in charge. */
	write_config(f, "# no TCTI here\nserver = https://verifier.example\n");
	assert_int_equal(resolve(f, NULL, f->path, tcti, &source, &ei), 0);
	assert_int_equal(source, PCRGATE_TCTI_FROM_ENV);
	/* The config file beats the environment. */
	write_config(f, "tcti = swtpm:path=/run/test/sock\n");
	assert_int_equal(resolve(f, NULL, f->path, tcti, &source, &ei), 0);
	assert_string_equal(tcti, "swtpm:path=/run/test/sock");
	assert_int_equal(source, PCRGATE_TCTI_FROM_CONFIG);
	/* PCRGATE_CONFIG names the file when the caller does not. */
	setenv("PCRGATE_CONFIG", f->path, 1);
	assert_int_equal(resolve(f, NULL, NULL, tcti, &source, &ei), 0);
	assert_string_equal(tcti, "swtpm:path=/run/test/sock");
	assert_int_equal(source, PCRGATE_TCTI_FROM_CONFIG);
	/* The option beats everything, and the config file is not even read. */
	write_config(f, "this is not a config file\n");
	assert_int_equal(resolve(f, "device:/dev/tpm0", NULL, tcti, &source, &ei), 0);
	assert_string_equal(tcti, "device:/dev/tpm0");
	assert_int_equal(source, PCRGATE_TCTI_FROM_OPTION);
	assert_string_equal(pcrgate_tcti_source_name(PCRGATE_TCTI_FROM_CONFIG), "config file");
}

static void test_missing_files(void **state)
{
	struct fixture *f = *state;
	char tcti[PCRGATE_TCTI_MAX] = "untouched";
	pcrgate_errinfo ei = {0};
	int source = -1;

	/* A config file named by the caller must exist. */
	assert_int_equal(resolve(f, NULL, f->missing, tcti, &source, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_non_null(strstr(ei.message, f->missing));
	assert_non_null(strstr(ei.message, "does not exist"));
	/* So must one named by PCRGATE_CONFIG. */
	setenv("PCRGATE_CONFIG", f->missing, 1);
	assert_int_equal(resolve(f, NULL, NULL, tcti, &source, &ei), PCRGATE_ERR_NOT_FOUND);
	assert_non_null(strstr(ei.message, "PCRGATE_CONFIG"));
	/* Outputs are written only on success. */
	assert_string_equal(tcti, "untouched");
	assert_int_equal(source, -1);
	/* The public entry point with its real default works the same way. */
	assert_int_equal(pcrgate_tcti_resolve(NULL, f->missing, tcti, sizeof(tcti), &source, &ei),
			 PCRGATE_ERR_NOT_FOUND);
}

static void expect_config_error_n(const struct fixture *f, const char *text, size_t len, const char *where,
				  const char *what)
{
	char tcti[PCRGATE_TCTI_MAX] = "untouched", want[256];
	pcrgate_errinfo ei = {0};
	int source = -1;

	write_file(f->path, text, len);
	assert_int_equal(resolve(f, NULL, f->path, tcti, &source, &ei), PCRGATE_ERR_CONFIG);
	snprintf(want, sizeof(want), "%s:%s: ", f->path, where);
	if (strncmp(ei.message, want, strlen(want)) != 0 || strstr(ei.message, what) == NULL)
		fail_msg("for line %s expected '%s...%s', got '%s'", where, want, what, ei.message);
	assert_string_equal(tcti, "untouched");
	assert_int_equal(source, -1);
}

/* The config text must fail with an error that starts with "FILE:where: " and contains what. */
static void expect_config_error(const struct fixture *f, const char *text, const char *where, const char *what)
{
	expect_config_error_n(f, text, strlen(text), where, what);
}

static void test_config_errors(void **state)
{
	struct fixture *f = *state;
	char text[PCRGATE_CONFIG_MAX_LINE + 64], tcti[PCRGATE_TCTI_MAX];
	pcrgate_errinfo ei = {0};
	int source;
	static const char nul[] = "tcti = a\nkey = b\0c\n";

	expect_config_error(f, "# ok\n\n[tpm]\n", "3", "expected 'key = value'");
	expect_config_error(f, "tcti\n", "1", "expected 'key = value'");
	expect_config_error(f, "# ok\n = value\n", "2", "no key");
	expect_config_error(f, "tc ti = x\n", "1", "invalid key 'tc ti'");
	expect_config_error(f, "tcti =   # nothing\n", "1", "no value for 'tcti'");
	expect_config_error(f, "tcti = a\n# again\ntcti = b\n", "3", "'tcti' is already set on line 1");
	expect_config_error_n(f, nul, sizeof(nul) - 1, "2", "NUL byte");
	expect_config_error(f, "tcti = a\x01" "b\n", "1", "control character 0x01");
	memset(text, 0, sizeof(text));
	memcpy(text, "tcti = x\n# ", 11);
	memset(text + 11, 'y', PCRGATE_CONFIG_MAX_LINE);
	expect_config_error(f, text, "2", "line longer than 1024 bytes");
	/* A line of exactly the maximum is fine. */
	text[11 + PCRGATE_CONFIG_MAX_LINE - 2] = '\0';
	write_config(f, text);
	assert_int_equal(resolve(f, NULL, f->path, tcti, &source, &ei), 0);
	assert_string_equal(tcti, "x");
	/* A TCTI string longer than the library takes: named with its line. */
	memcpy(text, "tcti = ", 7);
	memset(text + 7, 'z', PCRGATE_TCTI_MAX);
	text[7 + PCRGATE_TCTI_MAX] = '\0';
	expect_config_error(f, text, "1", "TCTI string of 512 bytes");
}

static void test_config_syntax(void **state)
{
	struct fixture *f = *state;
	pcrgate_config *cfg = NULL;
	pcrgate_errinfo ei = {0};
	unsigned line = 0;

	write_config(f, "# pcrgate\r\n"
			"\t tcti\t=  swtpm:path=/run/a#b   # the test TPM\r\n"
			"\n"
			"log.level=debug\n"
			"last-line = no newline");
	assert_int_equal(pcrgate_config_load(f->path, &cfg, &ei), 0);
	assert_string_equal(pcrgate_config_get(cfg, "tcti", &line), "swtpm:path=/run/a#b");
	assert_int_equal(line, 2);
	assert_string_equal(pcrgate_config_get(cfg, "log.level", NULL), "debug");
	assert_string_equal(pcrgate_config_get(cfg, "last-line", &line), "no newline");
	assert_int_equal(line, 5);
	assert_null(pcrgate_config_get(cfg, "TCTI", NULL));
	assert_string_equal(pcrgate_config_path(cfg), f->path);
	pcrgate_config_free(&cfg);
	assert_null(cfg);
	pcrgate_config_free(&cfg);
	pcrgate_config_free(NULL);
	/* An empty file is a valid config with nothing in it. */
	write_config(f, "");
	assert_int_equal(pcrgate_config_load(f->path, &cfg, &ei), 0);
	assert_null(pcrgate_config_get(cfg, "tcti", NULL));
	pcrgate_config_free(&cfg);
	/* A directory is not a config file. */
	assert_int_equal(pcrgate_config_load(f->dir, &cfg, &ei), PCRGATE_ERR_IO);
	assert_null(cfg);
}

static void test_bad_arguments(void **state)
{
	struct fixture *f = *state;
	char tcti[PCRGATE_TCTI_MAX], big[PCRGATE_TCTI_MAX + 8];
	pcrgate_errinfo ei = {0};
	pcrgate_tpm *tpm = NULL;
	int source;

	assert_int_equal(resolve(f, "", NULL, tcti, &source, &ei), PCRGATE_ERR_CONFIG);
	assert_non_null(strstr(ei.message, "empty TCTI string"));
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(resolve(f, big, NULL, tcti, &source, &ei), PCRGATE_ERR_CONFIG);
	assert_int_equal(pcrgate_tcti_resolve_in(NULL, NULL, f->missing, tcti, 4, &source, &ei), PCRGATE_ERR_CONFIG);
	assert_int_equal(pcrgate_tcti_resolve_in(NULL, NULL, f->missing, NULL, 4, &source, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(pcrgate_tpm_open(NULL, NULL, NULL, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	pcrgate_tpm_close(&tpm);
	pcrgate_tpm_close(NULL);
	assert_null(pcrgate_tpm_tcti(NULL));
	assert_null(pcrgate_tpm_esys(NULL));
}

/* A TCTI that cannot connect: a TPM error that names the TCTI string and its origin. */
static void test_open_unreachable(void **state)
{
	struct fixture *f = *state;
	char tcti[160];
	pcrgate_errinfo ei = {0};
	pcrgate_tpm *tpm = NULL;

	snprintf(tcti, sizeof(tcti), "swtpm:path=%s/no-such-socket", f->dir);
	assert_int_equal(pcrgate_tpm_open(tcti, NULL, &tpm, &ei), PCRGATE_ERR_TPM);
	assert_null(tpm);
	assert_non_null(strstr(ei.message, tcti));
	assert_non_null(strstr(ei.message, "(from option)"));
}

static void test_rc_mapping(void **state)
{
	pcrgate_errinfo ei = {0};

	(void)state;
	assert_true(pcrgate_tpm_rc_retryable(TPM2_RC_RETRY));
	assert_true(pcrgate_tpm_rc_retryable(TPM2_RC_YIELDED));
	assert_true(pcrgate_tpm_rc_retryable(TPM2_RC_TESTING));
	/* The same codes relayed by a resource manager. */
	assert_true(pcrgate_tpm_rc_retryable(TSS2_RESMGR_TPM_RC_LAYER | TPM2_RC_RETRY));
	assert_false(pcrgate_tpm_rc_retryable(TPM2_RC_LOCKOUT));
	assert_false(pcrgate_tpm_rc_retryable(TPM2_RC_SUCCESS));
	assert_false(pcrgate_tpm_rc_retryable(TSS2_ESYS_RC_TRY_AGAIN));
	/* A format-one code with a parameter number is still TPM_RC_VALUE, not retryable. */
	assert_false(pcrgate_tpm_rc_retryable(TPM2_RC_VALUE | TPM2_RC_P | TPM2_RC_1));

	assert_int_equal(pcrgate_tpm_error("TPM2_PCR_Extend", TPM2_RC_SUCCESS, &ei), 0);
	assert_int_equal(pcrgate_tpm_error("TPM2_PCR_Extend", TPM2_RC_VALUE | TPM2_RC_1, &ei), PCRGATE_ERR_TPM);
	assert_int_equal(ei.code, PCRGATE_ERR_TPM);
	assert_true(strncmp(ei.message, "TPM2_PCR_Extend: tpm:", 21) == 0);
	assert_int_equal(pcrgate_tpm_error("TPM2_Unseal", TPM2_RC_LOCKOUT, &ei), PCRGATE_ERR_TPM);
	assert_true(strncmp(ei.message, "TPM2_Unseal: tpm:warn(2.0): ", 28) == 0);
	assert_non_null(strstr(ei.message, "dictionary-attack lockout"));
	assert_int_equal(pcrgate_tpm_error("Esys_Initialize", TSS2_TCTI_RC_IO_ERROR, NULL), PCRGATE_ERR_TPM);
}

static unsigned calls;
static uint32_t script[8];

static uint32_t fake_command(void)
{
	uint32_t rc = script[calls < 8 ? calls : 7];
	calls++;
	return rc;
}

static void test_retry(void **state)
{
	uint32_t rc;

	(void)state;
	/* Busy twice, then done. */
	calls = 0;
	script[0] = TPM2_RC_RETRY;
	script[1] = TPM2_RC_TESTING;
	script[2] = TPM2_RC_SUCCESS;
	PCRGATE_TPM_RETRY(rc, fake_command());
	assert_int_equal(rc, TPM2_RC_SUCCESS);
	assert_int_equal(calls, 3);
	/* Lockout: asked once, never again. */
	calls = 0;
	script[0] = TPM2_RC_LOCKOUT;
	PCRGATE_TPM_RETRY(rc, fake_command());
	assert_int_equal(rc, TPM2_RC_LOCKOUT);
	assert_int_equal(calls, 1);
	/* Busy for ever: bounded. */
	calls = 0;
	for (rc = 0; rc < 8; rc++)
		script[rc] = TPM2_RC_YIELDED;
	PCRGATE_TPM_RETRY(rc, fake_command());
	assert_int_equal(rc, TPM2_RC_YIELDED);
	assert_int_equal(calls, 1 + PCRGATE_TPM_RETRIES);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_missing_files, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_config_syntax, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_arguments, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_unreachable, setup, teardown),
		cmocka_unit_test(test_rc_mapping),
		cmocka_unit_test(test_retry),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
