/*
 * Unit test of writing trust stores (lib/truststore_write.c): a store built in memory, written
 * and loaded back, what a write refuses (an existing store without replace, a directory of
 * other files, a symbolic link); a bundle's trust_update applied to a device's store
 * (lib/bundle_trust.c): a root added, a root removed with its CRL, the same update applied
 * again changing nothing, an update that is not authorized or a store that is no directory
 * refused, a failure midway leaving the old store, and a power cut (the process killed) and a
 * torn write at every fault point, after which the store is the old or the new one and
 * applying again completes it. Bundles are made with tests/unit/trust_fixture.h's fx_bundle.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "bundle.h"
#include "fault.h"
#include "pcrgate/alg.h"
#include "trust_fixture.h"
#include "truststore.h"

#define KERNEL_SIZE 3000u

static const char policy_json[] =
	"{\"format\":\"pcrgate-signed-policy\",\"version\":1,\"counter\":{\"index\":\"0x01500100\","
	"\"security_version\":7}}";

/* Root A with a signer and a CRL, root B with a signer. */
static EVP_PKEY *a_key, *a_signer_key, *b_key, *b_signer_key, *victim_key;
static X509 *root_a, *signer_a, *root_b, *signer_b, *victim;
static X509_CRL *crl_a;
static char dir[64], store[128], image_path[128];
static uint8_t *slot_manifest, *slot_sig;
static size_t slot_manifest_len, slot_sig_len;
static uint8_t image[KERNEL_SIZE];

static int setup(void **state)
{
	struct fx_signers both;
	char hex[65];
	uint8_t md[32];
	size_t i;
	FILE *f;
	int n;

	(void)state;
	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	snprintf(dir, sizeof(dir), "/tmp/pcrgate-test-tswrite.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(store, sizeof(store), "%s/trust", dir);
	a_key = fx_key(0), a_signer_key = fx_key(0), b_key = fx_key(0), b_signer_key = fx_key(0), victim_key = fx_key(0);
	root_a = fx_cert("root A", a_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	signer_a = fx_cert("signer A", a_signer_key, root_a, a_key, FX_SIGNER, 2, -1, 365);
	victim = fx_cert("revoked A", victim_key, root_a, a_key, FX_SIGNER, 3, -1, 365);
	root_b = fx_cert("root B", b_key, NULL, NULL, FX_ROOT, 1, -1, 3650);
	signer_b = fx_cert("signer B", b_signer_key, root_b, b_key, FX_SIGNER, 2, -1, 365);
	crl_a = fx_crl(root_a, a_key, &victim, 1, 1);
	if (signer_a == NULL || victim == NULL || signer_b == NULL || crl_a == NULL)
		return -1;
	/* A slot of one image whose manifest both signers sign, so it verifies under either root. */
	for (i = 0; i < KERNEL_SIZE; i++)
		image[i] = (uint8_t)(i * 7 + 3);
	snprintf(image_path, sizeof(image_path), "%s/image", dir);
	if ((f = fopen(image_path, "wb")) == NULL || fwrite(image, 1, KERNEL_SIZE, f) != KERNEL_SIZE || fclose(f) != 0)
		return -1;
	if (pcrgate_digest(PCRGATE_ALG_SHA256, image, KERNEL_SIZE, md) != 0)
		return -1;
	pcrgate_hex_encode(md, 32, hex);
	slot_manifest = malloc(PCRGATE_MANIFEST_MAX);
	n = snprintf((char *)slot_manifest, PCRGATE_MANIFEST_MAX,
		     "pcrgate-manifest 1\ncompatible=acme,gw-100\nversion=4.2.0\nsecurity_version=7\n"
		     "image=kernel size=%u sha256=%s\n",
		     KERNEL_SIZE, hex);
	slot_manifest_len = (size_t)n;
	both = (struct fx_signers){{signer_a, signer_b}, {a_signer_key, b_signer_key}, 2};
	return fx_sign_cb(&both, slot_manifest, slot_manifest_len, &slot_sig, &slot_sig_len, NULL);
}

static int teardown(void **state)
{
	(void)state;
	if (fx_rmtree(dir) != 0)
		return -1;
	X509_free(root_a), X509_free(signer_a), X509_free(victim), X509_free(root_b), X509_free(signer_b);
	X509_CRL_free(crl_a);
	EVP_PKEY_free(a_key), EVP_PKEY_free(a_signer_key), EVP_PKEY_free(b_key), EVP_PKEY_free(b_signer_key);
	EVP_PKEY_free(victim_key);
	free(slot_manifest);
	free(slot_sig);
	return 0;
}

/* A store in memory holding roots (and crl_a when with_crl), built as a device loads one. */
static struct pcrgate_truststore *mem_store(X509 *const *roots, size_t n, int with_crl)
{
	struct pcrgate_truststore *t = NULL;
	pcrgate_errinfo ei;
	uint8_t *pem;
	size_t i, len = 0;

	pcrgate_errinfo_clear(&ei);
	assert_int_equal(pcrgate_truststore_new(&t), 0);
	for (i = 0; i < n; i++) {
		assert_non_null(pem = fx_pem(roots[i], NULL, &len));
		if (pcrgate_truststore_add_roots(t, pem, len, "root", &ei) != 0)
			fail_msg("add_roots: %s", ei.message);
		free(pem);
	}
	if (with_crl) {
		assert_non_null(pem = fx_pem(NULL, crl_a, &len));
		if (pcrgate_truststore_add_crls(t, pem, len, "crl", &ei) != 0)
			fail_msg("add_crls: %s", ei.message);
		free(pem);
	}
	return t;
}

/* The store at `store` holding exactly roots (and crl_a when with_crl). */
static void put_store(X509 *const *roots, size_t n, int with_crl)
{
	struct pcrgate_truststore *t = mem_store(roots, n, with_crl);
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	if (pcrgate_truststore_write(store, t, 1, &ei) != 0)
		fail_msg("write: %s", ei.message);
	pcrgate_truststore_free(&t);
}

/* The store's roots: bit 0 root A, bit 1 root B (-1 when it does not load); *crls its CRL count. */
static int store_roots(size_t *crls)
{
	struct pcrgate_truststore *t = NULL;
	int bits = 0;
	size_t i;

	if (pcrgate_truststore_load(&t, store, NULL) != 0)
		return -1;
	for (i = 0; i < pcrgate_truststore_root_count(t); i++) {
		X509 *x = pcrgate_truststore_root_cert(t, i);

		bits |= X509_cmp(x, root_a) == 0 ? 1 : X509_cmp(x, root_b) == 0 ? 2 : 4;
	}
	if (crls != NULL)
		*crls = pcrgate_truststore_crl_count(t);
	pcrgate_truststore_free(&t);
	return bits;
}

/* No store.tmp.* directory is left beside the store. */
static void no_leftovers(void)
{
	struct dirent *de;
	DIR *d = opendir(dir);

	assert_non_null(d);
	while ((de = readdir(d)) != NULL)
		if (strncmp(de->d_name, "trust.tmp.", 10) == 0)
			fail_msg("%s/%s is left", dir, de->d_name);
	closedir(d);
}

/* A bundle signed by signers (1 or 2) with a trust_update adding add and removing rem (either NULL). */
static struct pcrgate_bundle *bundle(X509 *const *certs, EVP_PKEY *const *keys, size_t n, X509 *add, X509 *rem)
{
	struct fx_signers s = {{certs[0], n > 1 ? certs[1] : NULL}, {keys[0], n > 1 ? keys[1] : NULL}, n};
	struct pcrgate_bundle_create_params p;
	struct pcrgate_bundle *b = NULL;
	uint8_t md[32], *buf;
	pcrgate_errinfo ei;
	size_t len = 0;

	assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, image, KERNEL_SIZE, md), 0);
	memset(&p, 0, sizeof(p));
	p.release = "gw-100-4.2.0";
	p.slot_manifest = slot_manifest;
	p.slot_manifest_len = slot_manifest_len;
	p.slot_manifest_sig = slot_sig;
	p.slot_manifest_sig_len = slot_sig_len;
	p.image_path = image_path;
	p.image_sha256 = md;
	p.image_size = KERNEL_SIZE;
	p.level = 3;
	p.chunk_size = 65536;
	p.pcr_policy = policy_json;
	p.pcr_policy_len = strlen(policy_json);
	pcrgate_errinfo_clear(&ei);
	if ((buf = fx_bundle(&p, add, rem, &s, &len, &ei)) == NULL)
		fail_msg("create: %s", ei.message);
	if (pcrgate_bundle_load(buf, len, &b, &ei) != 0)
		fail_msg("load: %s", ei.message);
	free(buf);
	return b;
}

/* Verifies b against the store as it is now, as the agent does before it applies the update. */
static void verify(struct pcrgate_bundle *b)
{
	struct pcrgate_truststore *t = NULL;
	pcrgate_errinfo ei;

	pcrgate_errinfo_clear(&ei);
	assert_int_equal(pcrgate_truststore_load(&t, store, NULL), 0);
	if (pcrgate_bundle_verify(b, t, NULL, &ei) != 0)
		fail_msg("verify: %s", ei.message);
	assert_int_equal(pcrgate_bundle_trust_update_authorized(b), 1);
	pcrgate_truststore_free(&t);
}

/* A bundle adding root B, signed under A and B. */
static struct pcrgate_bundle *adds_b(void)
{
	X509 *c[2] = {signer_a, signer_b};
	EVP_PKEY *k[2] = {a_signer_key, b_signer_key};

	return bundle(c, k, 2, root_b, NULL);
}

/* A bundle removing root A, signed under B. */
static struct pcrgate_bundle *removes_a(void)
{
	return bundle(&signer_b, &b_signer_key, 1, NULL, root_a);
}

static void test_write(void **state)
{
	X509 *roots[3] = {root_a, root_b, root_a};
	struct pcrgate_truststore *t = NULL;
	char name[PCRGATE_TRUST_FILE_NAME], path[PATH_MAX], link[PATH_MAX];
	pcrgate_errinfo ei;
	size_t crls = 0, len = 0;
	struct stat st;
	uint8_t *pem;
	mode_t mask;
	FILE *f;

	(void)state;
	/* Written under a umask that would narrow the files: they are 0644 all the same. */
	mask = umask(077);
	put_store(roots, 3, 1);
	umask(mask);
	assert_int_equal(store_roots(&crls), 3);
	assert_int_equal(crls, 1);
	assert_int_equal(pcrgate_truststore_file_name(root_a, name), 0);
	snprintf(path, sizeof(path), "%s/crl/%s", store, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	snprintf(path, sizeof(path), "%s/roots/%s", store, name);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
	assert_int_equal(pcrgate_truststore_dir_kind(store, &ei), PCRGATE_TRUST_DIR_STORE);
	/* An existing store only with replace; an empty store. */
	t = mem_store(roots, 1, 0);
	assert_int_equal(pcrgate_truststore_write(store, t, 0, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(ei.message, "already holds a trust store"));
	pcrgate_truststore_free(&t);
	assert_int_equal(pcrgate_truststore_new(&t), 0);
	assert_int_equal(pcrgate_truststore_write(store, t, 1, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(ei.message, "at least one root"));
	pcrgate_truststore_free(&t);
	assert_int_equal(store_roots(NULL), 3);
	/* A directory of other files, and a symbolic link to a store, are never written through. */
	snprintf(path, sizeof(path), "%s/other", dir);
	assert_int_equal(mkdir(path, 0700), 0);
	snprintf(path, sizeof(path), "%s/other/keep", dir);
	assert_non_null(f = fopen(path, "w"));
	fclose(f);
	snprintf(path, sizeof(path), "%s/other", dir);
	assert_int_equal(pcrgate_truststore_dir_kind(path, &ei), PCRGATE_TRUST_DIR_OTHER);
	t = mem_store(roots, 1, 0);
	assert_int_equal(pcrgate_truststore_write(path, t, 1, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(ei.message, "holds files other than a trust store"));
	snprintf(path, sizeof(path), "%s/other/keep", dir);
	assert_int_equal(stat(path, &st), 0);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(store, link), 0);
	/* With a trailing slash too, which would make lstat follow the link. */
	snprintf(path, sizeof(path), "%s/link/", dir);
	assert_int_equal(pcrgate_truststore_dir_kind(path, &ei), PCRGATE_TRUST_DIR_OTHER);
	assert_int_equal(pcrgate_truststore_write(path, t, 1, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_non_null(strstr(ei.message, "or is no directory"));
	assert_int_equal(lstat(link, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	assert_int_equal(store_roots(NULL), 3);
	assert_int_equal(unlink(link), 0);
	/* Nothing at the path: the store is created. */
	snprintf(path, sizeof(path), "%s/new", dir);
	assert_int_equal(pcrgate_truststore_dir_kind(path, &ei), PCRGATE_TRUST_DIR_NONE);
	assert_int_equal(pcrgate_truststore_write(path, t, 0, &ei), 0);
	assert_int_equal(pcrgate_truststore_dir_kind(path, &ei), PCRGATE_TRUST_DIR_STORE);
	pcrgate_truststore_free(&t);
	snprintf(path, sizeof(path), "rm -rf '%s/new' '%s/other'", dir, dir);
	assert_int_equal(system(path), 0);
	/* A CRL no root of the store signed never gets into one (pcrgate_truststore_add_crls). */
	t = mem_store(&root_b, 1, 0);
	assert_non_null(pem = fx_pem(NULL, crl_a, &len));
	assert_int_equal(pcrgate_truststore_add_crls(t, pem, len, "crl", &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "not signed by a root of the store"));
	assert_int_equal(pcrgate_truststore_crl_count(t), 0);
	free(pem);
	pcrgate_truststore_free(&t);
	no_leftovers();
}

static void test_rotation(void **state)
{
	struct pcrgate_bundle *add = adds_b(), *rem = removes_a();
	pcrgate_errinfo ei;
	size_t crls = 0;

	(void)state;
	put_store(&root_a, 1, 1);
	verify(add);
	assert_int_equal(pcrgate_truststore_apply_update(store, add, &ei), 0);
	assert_int_equal(store_roots(&crls), 3);
	assert_int_equal(crls, 1);
	no_leftovers();
	/* The next release, signed under B, removes A: its CRL goes with it. */
	verify(rem);
	assert_int_equal(pcrgate_truststore_apply_update(store, rem, &ei), 0);
	assert_int_equal(store_roots(&crls), 2);
	assert_int_equal(crls, 0);
	no_leftovers();
	pcrgate_bundle_free(&add);
	pcrgate_bundle_free(&rem);
}

static void test_idempotent(void **state)
{
	struct pcrgate_bundle *add = adds_b(), *rem = removes_a();
	struct stat before, after;
	pcrgate_errinfo ei;

	(void)state;
	put_store(&root_a, 1, 1);
	verify(add);
	assert_int_equal(pcrgate_truststore_apply_update(store, add, &ei), 0);
	assert_int_equal(stat(store, &before), 0);
	/* Again, as after a power cut: the store already holds B, nothing is written. */
	verify(add);
	assert_int_equal(pcrgate_truststore_apply_update(store, add, &ei), 0);
	assert_int_equal(stat(store, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(store_roots(NULL), 3);
	verify(rem);
	assert_int_equal(pcrgate_truststore_apply_update(store, rem, &ei), 0);
	assert_int_equal(stat(store, &before), 0);
	verify(rem);
	assert_int_equal(pcrgate_truststore_apply_update(store, rem, &ei), 0);
	assert_int_equal(stat(store, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(store_roots(NULL), 2);
	no_leftovers();
	pcrgate_bundle_free(&add);
	pcrgate_bundle_free(&rem);
}

static void test_unauthorized(void **state)
{
	struct pcrgate_bundle *add = adds_b(), *plain = bundle(&signer_a, &a_signer_key, 1, NULL, NULL);
	struct pcrgate_truststore *t = NULL;
	char file[PATH_MAX], link[PATH_MAX];
	pcrgate_errinfo ei;
	uint8_t *pem;
	size_t len = 0;
	FILE *f;

	(void)state;
	put_store(&root_a, 1, 1);
	/* Parsed but never verified: refused. */
	assert_int_equal(pcrgate_bundle_parse_unverified(add, &ei), 0);
	assert_int_equal(pcrgate_truststore_apply_update(store, add, &ei), PCRGATE_ERR_VERIFY);
	assert_non_null(strstr(ei.message, "not authorized"));
	/* Verified, without a trust_update: nothing to authorize. */
	assert_int_equal(pcrgate_truststore_load(&t, store, NULL), 0);
	assert_int_equal(pcrgate_bundle_verify(plain, t, NULL, &ei), 0);
	assert_int_equal(pcrgate_truststore_apply_update(store, plain, &ei), PCRGATE_ERR_VERIFY);
	/* A store that is a single PEM file (a device may load one) cannot be updated, nor a link to a store. */
	verify(add);
	snprintf(file, sizeof(file), "%s/roots.pem", dir);
	assert_non_null(pem = fx_pem(root_a, NULL, &len));
	assert_non_null(f = fopen(file, "wb"));
	assert_int_equal(fwrite(pem, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
	free(pem);
	pcrgate_truststore_free(&t);
	assert_int_equal(pcrgate_truststore_load(&t, file, NULL), 0);
	assert_int_equal(pcrgate_truststore_apply_update(file, add, &ei), PCRGATE_ERR_UNSUPPORTED);
	assert_non_null(strstr(ei.message, "is not a trust-store directory"));
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(symlink(store, link), 0);
	assert_int_equal(pcrgate_truststore_apply_update(link, add, &ei), PCRGATE_ERR_UNSUPPORTED);
	assert_non_null(strstr(ei.message, "symbolic link"));
	assert_int_equal(unlink(link), 0);
	assert_int_equal(unlink(file), 0);
	assert_int_equal(pcrgate_truststore_apply_update(NULL, add, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(store_roots(NULL), 1);
	pcrgate_truststore_free(&t);
	pcrgate_bundle_free(&add);
	pcrgate_bundle_free(&plain);
}

/* Fault hook that plants a file the new store cannot load, at the first root it writes. */
static int plant_bad_root(const char *what, int tearable)
{
	char path[PATH_MAX];
	const char *p;
	FILE *f;

	if (!tearable || strncmp(what, "write ", 6) != 0 || (p = strstr(what, "/roots/")) == NULL)
		return 0;
	snprintf(path, sizeof(path), "%.*s/roots/0-bad.pem", (int)(p - what - 6), what + 6);
	if ((f = fopen(path, "wbx")) != NULL) {
		fputs("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n", f);
		fclose(f);
	}
	return 0;
}

static void test_failure_midway(void **state)
{
	struct pcrgate_bundle *add = adds_b();
	struct stat before, after;
	pcrgate_errinfo ei;
	size_t crls = 0;

	(void)state;
	put_store(&root_a, 1, 1);
	verify(add);
	assert_int_equal(stat(store, &before), 0);
	pcrgate_fault_set(plant_bad_root);
	pcrgate_errinfo_clear(&ei);
	assert_int_not_equal(pcrgate_truststore_apply_update(store, add, &ei), 0);
	pcrgate_fault_set(NULL);
	assert_non_null(strstr(ei.message, "0-bad.pem"));
	assert_int_equal(stat(store, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(store_roots(&crls), 1);
	assert_int_equal(crls, 1);
	no_leftovers();
	pcrgate_bundle_free(&add);
}

/* The child's hook: counts fault points and cuts (or tears) at number cut_at. */
static int points, cut_at, tear;

static int cut_hook(const char *what, int tearable)
{
	(void)what;
	if (++points != cut_at)
		return 0;
	if (tear && tearable)
		return 1;
	for (;;)
		raise(SIGKILL);
}

/* Applies b in a child cut at point k; 1 when the child was cut, 0 when it finished first. */
static int cut_child(struct pcrgate_bundle *b, int k, int torn)
{
	int status;
	pid_t pid;

	fflush(NULL);
	assert_true((pid = fork()) >= 0);
	if (pid == 0) {
		points = 0, cut_at = k, tear = torn;
		pcrgate_fault_set(cut_hook);
		_exit(pcrgate_truststore_apply_update(store, b, NULL) == 0 ? 0 : 1);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
		return 1;
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return 0;
}

/*
 * A power cut before each durable change of an update, and each file write torn: the store is
 * always the old or the new one, and applying again (the agent's retry) completes it.
 */
static void test_power_cuts(void **state)
{
	struct pcrgate_bundle *add = adds_b(), *rem = removes_a();
	X509 *ab[2] = {root_a, root_b};
	pcrgate_errinfo ei;
	int k, torn, bits, add_cuts = 0, rem_cuts = 0;

	(void)state;
	for (torn = 0; torn < 2; torn++) {
		for (k = 1;; k++) {
			put_store(&root_a, 1, 1);
			verify(add);
			if (!cut_child(add, k, torn))
				break;
			add_cuts++;
			bits = store_roots(NULL);
			if (bits != 1 && bits != 3)
				fail_msg("after a cut at point %d the store holds %d", k, bits);
			assert_int_equal(pcrgate_truststore_apply_update(store, add, &ei), 0);
			assert_int_equal(store_roots(NULL), 3);
			no_leftovers();
		}
		for (k = 1;; k++) {
			put_store(ab, 2, 1);
			verify(rem);
			if (!cut_child(rem, k, torn))
				break;
			rem_cuts++;
			bits = store_roots(NULL);
			if (bits != 3 && bits != 2)
				fail_msg("after a cut at point %d the store holds %d", k, bits);
			assert_int_equal(pcrgate_truststore_apply_update(store, rem, &ei), 0);
			assert_int_equal(store_roots(NULL), 2);
			no_leftovers();
		}
	}
	/*
	 * Adding B to {A + CRL}: mkdir, three files, the swap, and the old store's five removals;
	 * removing A from {A, B + CRL}: mkdir, one file, the swap, and six removals. Each pass.
	 */
	if (add_cuts != 2 * 10 || rem_cuts != 2 * 9)
		fail_msg("cut %d times adding and %d times removing a root", add_cuts, rem_cuts);
	pcrgate_bundle_free(&add);
	pcrgate_bundle_free(&rem);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write),
		cmocka_unit_test(test_rotation),
		cmocka_unit_test(test_idempotent),
		cmocka_unit_test(test_unauthorized),
		cmocka_unit_test(test_failure_midway),
		cmocka_unit_test(test_power_cuts),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
