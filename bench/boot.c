/*
 * bench/boot: how fast pcrgate-boot checks an image. Writes one image file (64 MiB by
 * default), then hashes it through the host port's own functions in the order the boot
 * core calls them (image_open, hash_init, image_read/hash_update to the end, hash_final,
 * image_close), and runs `openssl dgst -sha256` on the same file in the same run. Best of
 * N runs each, the file in the page cache for both; openssl's process start-up (timed on
 * an empty file) is taken out of its figure, so the comparison does not flatter us.
 * Then, unless --no-tpm, it counts the TPM commands of one boot: bench/boot-tpm.sh under
 * tests/integration/with-swtpm boots a slot with three images and counts on the wire.
 * Prints MiB/s, the command counts and both against their targets; asserts nothing.
 *
 * usage: bench/boot [--size MIB] [--runs N] [--no-tpm] [--json]
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <getopt.h>
#include <unistd.h>

#include <jansson.h>

#include "boot/host/host.h"

#define TARGET_RATIO 0.90
#define TPM_OUT_MAX 4096

struct opts {
	unsigned long mib, runs;
	int json, tpm;
};

struct hash_figures {
	double port_s, openssl_s, startup_s;
	char sha256[65];
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Pseudo-random content (xorshift64), so no layer below can compress or skip it. */
static int write_image(const char *path, size_t mib)
{
	uint64_t x = 0x9E3779B97F4A7C15ull;
	uint64_t *buf = malloc(1024 * 1024);
	size_t i, j;
	int fd, r = -1;

	if (buf == NULL)
		return -1;
	if ((fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600)) < 0)
		goto out;
	for (i = 0; i < mib; i++) {
		for (j = 0; j < 1024 * 1024 / sizeof(*buf); j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			buf[j] = x;
		}
		if (write(fd, buf, 1024 * 1024) != 1024 * 1024)
			goto out;
	}
	r = 0;
out:
	if (fd >= 0 && close(fd) != 0)
		r = -1;
	free(buf);
	return r;
}

/* One pass through the port, as the core's image check makes it; the digest in hex. */
static int port_hash(struct host_port *hp, uint64_t size, char hex[65])
{
	const struct pcrgate_boot_port *p = &hp->port;
	uint8_t digest[32];
	const uint8_t *chunk;
	size_t len;
	int r;

	if ((r = p->image_open(p->ctx, 0, "kernel", size)) != PCRGATE_OK)
		return r;
	if ((r = p->hash_init(p->ctx, PCRGATE_BOOT_HASH_ALG)) != PCRGATE_OK)
		goto out;
	for (;;) {
		if ((r = p->image_read(p->ctx, &chunk, &len)) != PCRGATE_OK || len == 0)
			break;
		if ((r = p->hash_update(p->ctx, chunk, len)) != PCRGATE_OK)
			break;
	}
	if (r == PCRGATE_OK && (r = p->hash_final(p->ctx, digest, sizeof(digest))) == PCRGATE_OK)
		pcrgate_hex_encode(digest, sizeof(digest), hex);
out:
	p->image_close(p->ctx, r == PCRGATE_OK);
	return r;
}

/* Runs `openssl dgst -sha256 -r FILE`; the digest (first 64 characters of its output) in hex. */
static int openssl_hash(const char *file, char hex[65])
{
	char out[256];
	int pipefd[2], status;
	ssize_t n, got = 0;
	pid_t pid;

	if (pipe(pipefd) != 0)
		return -1;
	if ((pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		execlp("openssl", "openssl", "dgst", "-sha256", "-r", file, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while ((n = read(pipefd[0], out + got, sizeof(out) - 1 - (size_t)got)) > 0 || (n < 0 && errno == EINTR))
		got += n > 0 ? n : 0;
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0 || got < 64)
		return -1;
	memcpy(hex, out, 64);
	hex[64] = '\0';
	return 0;
}

/* Writes the image and times both contenders; 0 or -1 (reported). */
static int bench_hash(const struct opts *o, struct hash_figures *f)
{
	char dir[1024], path[HOST_PATH_MAX], empty[HOST_PATH_MAX], theirs[65] = "", scratch[65];
	const char *tmp = getenv("TMPDIR");
	struct host_config cfg;
	struct host_port hp;
	pcrgate_errinfo ei;
	uint64_t size = (uint64_t)o->mib << 20;
	double t;
	unsigned long i;
	int r = -1, fd, port_ready = 0;

	f->port_s = f->openssl_s = f->startup_s = 1e9;
	snprintf(dir, sizeof(dir), "%s/pcrgate-bench-boot.XXXXXX", tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("bench/boot: mkdtemp");
		return -1;
	}
	snprintf(path, sizeof(path), "%s/a", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/a/kernel", dir);
	snprintf(empty, sizeof(empty), "%s/empty", dir);
	if (write_image(path, o->mib) != 0 || (fd = open(empty, O_WRONLY | O_CREAT, 0600)) < 0 || close(fd) != 0) {
		fprintf(stderr, "bench/boot: cannot write the image in %s\n", dir);
		goto out;
	}
	memset(&cfg, 0, sizeof(cfg));
	snprintf(cfg.slots, sizeof(cfg.slots), "%s", dir);
	snprintf(cfg.state, sizeof(cfg.state), "%s/state", dir);
	pcrgate_errinfo_clear(&ei);
	if (host_port_init(&hp, &cfg, 0, &ei) != PCRGATE_OK) {
		fprintf(stderr, "bench/boot: %s\n", ei.message);
		goto out;
	}
	port_ready = 1;
	/* The first round warms the page cache for both contenders. */
	for (i = 0; i <= o->runs; i++) {
		t = now();
		if (port_hash(&hp, size, f->sha256) != PCRGATE_OK)
			goto out;
		if ((t = now() - t) < f->port_s && i > 0)
			f->port_s = t;
		t = now();
		if (openssl_hash(path, theirs) != 0) {
			fprintf(stderr, "bench/boot: openssl dgst failed (is openssl on PATH?)\n");
			goto out;
		}
		if ((t = now() - t) < f->openssl_s && i > 0)
			f->openssl_s = t;
		t = now();
		if (openssl_hash(empty, scratch) != 0)
			goto out;
		if ((t = now() - t) < f->startup_s && i > 0)
			f->startup_s = t;
	}
	if (strcmp(f->sha256, theirs) != 0) {
		fprintf(stderr, "bench/boot: digests differ: port %s, openssl %s\n", f->sha256, theirs);
		goto out;
	}
	if (f->openssl_s > f->startup_s)
		f->openssl_s -= f->startup_s;
	r = 0;
out:
	if (port_ready)
		host_port_free(&hp);
	unlink(path);
	unlink(empty);
	snprintf(path, sizeof(path), "%s/a", dir);
	rmdir(path);
	rmdir(dir);
	return r;
}

/*
 * Runs bench/boot-tpm.sh under with-swtpm and keeps its KEY=VALUE lines in out. Returns 0,
 * 77 when it was skipped (no swtpm), or -1.
 */
static int bench_tpm(char *out, size_t cap)
{
	const char *src = getenv("top_srcdir"), *build = getenv("top_builddir");
	char driver[HOST_PATH_MAX], script[HOST_PATH_MAX];
	int pipefd[2], status;
	size_t got = 0;
	ssize_t n;
	pid_t pid;

	if (src == NULL || *src == '\0')
		src = PCRGATE_SRCDIR;
	if (build == NULL || *build == '\0')
		build = PCRGATE_BUILDDIR;
	snprintf(driver, sizeof(driver), "%s/tests/integration/with-swtpm", src);
	snprintf(script, sizeof(script), "%s/bench/boot-tpm.sh", src);
	if (pipe(pipefd) != 0 || (pid = fork()) < 0)
		return -1;
	if (pid == 0) {
		dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		setenv("top_srcdir", src, 1);
		setenv("top_builddir", build, 1);
		execlp("bash", "bash", driver, script, (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	while (got + 1 < cap && ((n = read(pipefd[0], out + got, cap - 1 - got)) > 0 || (n < 0 && errno == EINTR)))
		got += n > 0 ? (size_t)n : 0;
	out[got] = '\0';
	close(pipefd[0]);
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	if (WEXITSTATUS(status) == 77)
		return 77;
	return WEXITSTATUS(status) == 0 ? 0 : -1;
}

/*
 * Why the TPM part was not run, into note: --no-tpm, or the SKIP line with-swtpm or the script
 * printed (which tool is missing).
 */
static void tpm_skip_note(const struct opts *o, const char *out, char *note, size_t cap)
{
	const char *p = strstr(out, "SKIP: ");
	size_t n;

	if (!o->tpm) {
		snprintf(note, cap, "--no-tpm");
		return;
	}
	if (p == NULL || (p != out && p[-1] != '\n')) {
		snprintf(note, cap, "swtpm not available");
		return;
	}
	p += strlen("SKIP: ");
	n = strcspn(p, "\n");
	snprintf(note, cap, "%.*s", (int)n, p);
}

/* A number from the script's KEY=VALUE lines, or -1. */
static long tpm_value(const char *out, const char *key)
{
	size_t n = strlen(key);
	const char *p = out;

	while ((p = strstr(p, key)) != NULL) {
		if ((p == out || p[-1] == '\n') && p[n] == '=')
			return strtol(p + n + 1, NULL, 10);
		p += n;
	}
	return -1;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bench/boot [--size MIB] [--runs N] [--no-tpm] [--json]\n"
		   "\n"
		   "  --size MIB  image size (default 64)\n"
		   "  --runs N    timed runs, best taken (default 3)\n"
		   "  --no-tpm    skip counting the TPM commands of one boot (needs swtpm)\n"
		   "  --json      print one JSON object\n");
}

static int parse(int argc, char **argv, struct opts *o)
{
	static const struct option options[] = {
		{"size", required_argument, NULL, 's'}, {"runs", required_argument, NULL, 'r'},
		{"no-tpm", no_argument, NULL, 'n'},     {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	char *end;
	int c;

	o->mib = 64;
	o->runs = 3;
	o->json = 0;
	o->tpm = 1;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) != -1) {
		switch (c) {
		case 's':
			o->mib = strtoul(optarg, &end, 10);
			if (*end != '\0' || o->mib == 0 || o->mib > 2048)
				return -1;
			break;
		case 'r':
			o->runs = strtoul(optarg, &end, 10);
			if (*end != '\0' || o->runs == 0 || o->runs > 100)
				return -1;
			break;
		case 'n':
			o->tpm = 0;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			return -1;
		}
	}
	return optind == argc ? 0 : -1;
}

int main(int argc, char **argv)
{
	char tpm_out[TPM_OUT_MAX] = "", note[256];
	struct hash_figures f;
	struct opts o;
	double port_mib_s, ossl_mib_s, ratio;
	long wire = -1, counter = -1, extends = -1, events = -1, port_cmds = -1, resubmitted = -1;
	int tpm = 77;

	if (parse(argc, argv, &o) != 0) {
		usage(stderr);
		return 2;
	}
	if (bench_hash(&o, &f) != 0)
		return 1;
	port_mib_s = (double)o.mib / f.port_s;
	ossl_mib_s = (double)o.mib / f.openssl_s;
	ratio = port_mib_s / ossl_mib_s;
	if (o.tpm) {
		tpm = bench_tpm(tpm_out, sizeof(tpm_out));
		if (tpm < 0) {
			fprintf(stderr, "bench/boot: counting the TPM commands failed\n%s", tpm_out);
			return 1;
		}
		wire = tpm_value(tpm_out, "WIRE_COMMANDS");
		counter = tpm_value(tpm_out, "PORT_COUNTER_READS");
		extends = tpm_value(tpm_out, "PORT_EXTENDS");
		resubmitted = tpm_value(tpm_out, "WIRE_RESUBMISSIONS");
		events = tpm_value(tpm_out, "MEASURED_EVENTS");
		port_cmds = tpm_value(tpm_out, "PORT_TPM_COMMANDS");
	}
	tpm_skip_note(&o, tpm_out, note, sizeof(note));
	if (o.json) {
		json_t *root = json_pack("{s:s,s:{s:I,s:I},s:{s:f,s:f,s:f,s:f,s:f,s:f,s:b,s:s}}", "benchmark", "boot",
					 "config", "image_mib", (json_int_t)o.mib, "runs", (json_int_t)o.runs, "hash",
					 "port_mib_s", port_mib_s, "openssl_mib_s", ossl_mib_s, "port_ms",
					 f.port_s * 1e3, "openssl_ms", f.openssl_s * 1e3, "openssl_startup_ms",
					 f.startup_s * 1e3,
					 "ratio", ratio, "meets_target", ratio >= TARGET_RATIO, "sha256", f.sha256);
		json_t *t = tpm == 0 ? json_pack("{s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:b}", "present", 1, "wire_commands",
						 (json_int_t)wire, "wire_resubmissions", (json_int_t)resubmitted,
						 "counter_reads", (json_int_t)counter, "extends",
						 (json_int_t)extends, "measured_events", (json_int_t)events,
						 "port_commands", (json_int_t)port_cmds, "target",
						 (json_int_t)(events + 1),
						 "meets_target", counter == 1 && extends == events)
				     : json_pack("{s:b,s:s}", "present", 0, "note", note);

		if (root == NULL || t == NULL || json_object_set_new(root, "tpm", t) != 0 ||
		    json_object_set_new(root, "ratio_target", json_real(TARGET_RATIO)) != 0 ||
		    json_dumpf(root, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) != 0)
			return 1;
		json_decref(root);
		printf("\n");
		return 0;
	}
	printf("bench/boot: %lu MiB image, best of %lu runs, file in the page cache\n", o.mib, o.runs);
	printf("  pcrgate-boot image check (1 MiB reads, EVP sha256)  %8.1f MiB/s  (%.1f ms)\n", port_mib_s,
	       f.port_s * 1e3);
	printf("  openssl dgst -sha256                                %8.1f MiB/s  (%.1f ms; its start-up of %.1f ms "
	       "excluded)\n",
	       ossl_mib_s, f.openssl_s * 1e3, f.startup_s * 1e3);
	printf("  ratio %.1f%% of openssl (target >= %.0f%%): %s\n", 100.0 * ratio, 100.0 * TARGET_RATIO,
	       ratio >= TARGET_RATIO ? "met" : "NOT met");
	if (tpm == 77) {
		printf("TPM commands of one boot: not counted (%s)\n", note);
		return 0;
	}
	printf("TPM commands of one boot (a slot with kernel, initrd and dtb: %ld measured events)\n", events);
	printf("  boot path: %ld counter read (TPM2_NV_Read) + %ld TPM2_PCR_Extend = %ld (target 1 + %ld = %ld): %s\n",
	       counter, extends, counter + extends, events, events + 1,
	       counter == 1 && extends == events ? "met" : "NOT met");
	printf("  set-up: %ld more (TPM2_Startup, TPM2_GetCapability for the banks, TPM2_NV_ReadPublic x2 for\n"
	       "          the counter's ESAPI handle and its type and attribute check)\n",
	       port_cmds - counter - extends);
	printf("  on the wire: %ld commands, of them %ld sent again by ESAPI after TPM_RC_RETRY\n", wire, resubmitted);
	return 0;
}
