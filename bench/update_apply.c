/*
 * bench/update_apply: the library side of bench/update.sh. Encodes payloads with
 * pcrgate_payload_encode and applies them with the streaming decoder, printing what it
 * measured as key=value lines for the script:
 *
 *   update_apply encode [--level N] IMAGE BASE|- OUT      payload size and encode time
 *   update_apply apply [--base BASE] [--fsync] SIZE PAYLOAD OUT
 *                                                          decode time, MB/s, peak memory
 *   update_apply synth MIB OUT                             a synthetic image, half compressible
 *
 * apply reads the payload in 1 MiB pieces, as a download arrives, and writes the image with
 * write(2) (and fsync(2) at the end with --fsync, as an install does).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "payload.h"

#define PIECE ((size_t)1 << 20)

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int usage(void)
{
	fprintf(stderr, "usage: update_apply encode [--level N] IMAGE BASE|- OUT\n"
			"       update_apply apply [--base BASE] [--fsync] SIZE PAYLOAD OUT\n"
			"       update_apply synth MIB OUT\n");
	return 2;
}

static int fail(const char *what, const pcrgate_errinfo *ei)
{
	fprintf(stderr, "update_apply: %s: %s\n", what, ei->message);
	return 1;
}

static int cmd_encode(int argc, char **argv)
{
	pcrgate_errinfo ei;
	uint64_t len = 0;
	double t0;
	int level = 0, i = 0;
	FILE *out;

	if (argc >= 2 && strcmp(argv[0], "--level") == 0) {
		level = atoi(argv[1]);
		i = 2;
	}
	if (argc - i != 3)
		return usage();
	if ((out = fopen(argv[i + 2], "wb")) == NULL) {
		fprintf(stderr, "update_apply: %s: %s\n", argv[i + 2], strerror(errno));
		return 1;
	}
	pcrgate_errinfo_clear(&ei);
	t0 = now();
	if (pcrgate_payload_encode(argv[i], strcmp(argv[i + 1], "-") == 0 ? NULL : argv[i + 1], level, out, &len,
				   &ei) != 0) {
		fclose(out);
		return fail("encode", &ei);
	}
	if (fclose(out) != 0) {
		fprintf(stderr, "update_apply: %s: %s\n", argv[i + 2], strerror(errno));
		return 1;
	}
	printf("payload_bytes=%ju\nencode_seconds=%.3f\n", (uintmax_t)len, now() - t0);
	return 0;
}

static int write_sink(void *ctx, const uint8_t *p, size_t len)
{
	int fd = *(int *)ctx;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return PCRGATE_ERR_IO;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Peak resident set of this process in KiB, from /proc (VmHWM), or -1. */
static long vm_hwm_kib(void)
{
	char line[256];
	long kib = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmHWM: %ld kB", &kib) == 1)
			break;
	fclose(f);
	return kib;
}

static int cmd_apply(int argc, char **argv)
{
	struct pcrgate_payload_decoder *d = NULL;
	const char *base = NULL;
	pcrgate_errinfo ei;
	struct rusage ru;
	struct stat st;
	uint64_t size, fed = 0, base_size = 0;
	uint8_t *buf = NULL;
	double t0, t1;
	int i = 0, sync = 0, in = -1, out = -1, rc = 1;

	for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; i++) {
		if (strcmp(argv[i], "--fsync") == 0)
			sync = 1;
		else if (strcmp(argv[i], "--base") == 0 && i + 1 < argc)
			base = argv[++i];
		else
			return usage();
	}
	if (argc - i != 3)
		return usage();
	size = strtoull(argv[i], NULL, 10);
	if ((in = open(argv[i + 1], O_RDONLY | O_CLOEXEC)) < 0 ||
	    (out = open(argv[i + 2], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0 ||
	    (buf = malloc(PIECE)) == NULL) {
		fprintf(stderr, "update_apply: %s\n", strerror(errno));
		goto out;
	}
	pcrgate_errinfo_clear(&ei);
	t0 = now();
	if (pcrgate_payload_decoder_new(&d, base, NULL, size, &ei) != 0) {
		rc = fail("decoder", &ei);
		goto out;
	}
	for (;;) {
		ssize_t n = read(in, buf, PIECE);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr, "update_apply: %s: %s\n", argv[i + 1], strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		if (pcrgate_payload_decoder_feed(d, buf, (size_t)n, write_sink, &out, &ei) != 0) {
			rc = fail("apply", &ei);
			goto out;
		}
		fed += (uint64_t)n;
	}
	if (pcrgate_payload_decoder_finish(d, &ei) != 0) {
		rc = fail("apply", &ei);
		goto out;
	}
	if (sync && fsync(out) != 0) {
		fprintf(stderr, "update_apply: fsync: %s\n", strerror(errno));
		goto out;
	}
	t1 = now();
	getrusage(RUSAGE_SELF, &ru);
	printf("image_bytes=%ju\npayload_bytes=%ju\nseconds=%.3f\nmb_per_s=%.1f\n", (uintmax_t)size, (uintmax_t)fed,
	       t1 - t0, (double)size / 1e6 / (t1 - t0 > 1e-9 ? t1 - t0 : 1e-9));
	if (base != NULL && stat(base, &st) == 0)
		base_size = (uint64_t)st.st_size;
	/* VmHWM counts the base's mapped pages too (file-backed, reclaimable), the ceiling only heap. */
	printf("vm_hwm_kib=%ld\nru_maxrss_kib=%ld\nceiling_bytes=%ju\nbase_bytes=%ju\n", vm_hwm_kib(), ru.ru_maxrss,
	       (uintmax_t)pcrgate_payload_decoder_ceiling(size, base_size), (uintmax_t)base_size);
	rc = 0;
out:
	pcrgate_payload_decoder_free(&d);
	free(buf);
	if (in >= 0)
		close(in);
	if (out >= 0 && close(out) != 0)
		rc = 1;
	return rc;
}

/* Deterministic: alternating 64 KiB of random bytes and of repetitive records. */
static int cmd_synth(int argc, char **argv)
{
	uint64_t left, x = 0x9e3779b97f4a7c15u;
	uint8_t *buf = malloc(65536);
	FILE *f;
	unsigned block = 0;

	if (argc != 2 || buf == NULL) {
		free(buf);
		return usage();
	}
	left = strtoull(argv[0], NULL, 10) << 20;
	if ((f = fopen(argv[1], "wb")) == NULL) {
		fprintf(stderr, "update_apply: %s: %s\n", argv[1], strerror(errno));
		free(buf);
		return 1;
	}
	for (; left > 0; left -= 65536, block++) {
		for (size_t i = 0; i < 65536; i++) {
			if (block % 2 == 0) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				buf[i] = (uint8_t)(x >> 24);
			} else {
				buf[i] = (uint8_t)("firmware table entry 0123456789abcdef\n"[i % 38] ^ (block & 3));
			}
		}
		if (fwrite(buf, 1, 65536, f) != 65536)
			break;
	}
	free(buf);
	if (fclose(f) != 0 || left > 0) {
		fprintf(stderr, "update_apply: %s: write failed\n", argv[1]);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		return usage();
	pcrgate_log_init_from_env();
	if (strcmp(argv[1], "encode") == 0)
		return cmd_encode(argc - 2, argv + 2);
	if (strcmp(argv[1], "apply") == 0)
		return cmd_apply(argc - 2, argv + 2);
	if (strcmp(argv[1], "synth") == 0)
		return cmd_synth(argc - 2, argv + 2);
	return usage();
}
