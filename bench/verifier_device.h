/*
 * Simulated devices for bench/verifier: software keys in TPM formats (an ECC P-256 AK as a
 * TPM2B_PUBLIC, quotes as marshalled TPMS_ATTEST signed with it, tests/unit/quote_util.c), a
 * boot event log written with the library's writer that explains PCRs 8 and 9, the reference
 * policy that accepts it, and evidence documents as pcrgate-agent writes them.
 */
#ifndef PCRGATE_BENCH_VERIFIER_DEVICE_H
#define PCRGATE_BENCH_VERIFIER_DEVICE_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/pcrs.h"
#include "pcrgate/quote.h"
#include "../tests/unit/quote_util.h"

#define VDEV_NONCE 32
#define VDEV_SIG_MAX 600
#define VDEV_ID_MAX 64

/* What every simulated device booted: one boot log, its PCR 8/9 values, the policy accepting them. */
struct vboot {
	uint8_t *log; /* the boot event log (sha256 bank) */
	size_t log_len;
	char *log_b64;
	pcrgate_pcrs *pcrs; /* sha256:8,9 as the log replays */
	char pcrs_json[256];	/* {"sha256": {"8": HEX, "9": HEX}} */
	char *policy;		/* the reference policy document, named "default" */
	size_t events;		/* events in the log, Spec ID event left out */
};

struct vdevice {
	struct qt_key ak, ek;
	uint8_t ak_pub[1024], ek_pub[1024]; /* TPM2B_PUBLIC */
	size_t ak_pub_len, ek_pub_len;
	uint8_t qn[PCRGATE_QUOTE_MAX_NAME]; /* the AK's qualified name under the endorsement hierarchy */
	size_t qn_len;
	char qn_hex[2 * PCRGATE_QUOTE_MAX_NAME + 1];
	char ak_name_hex[2 * PCRGATE_QUOTE_MAX_NAME + 1];
	char id[VDEV_ID_MAX + 1]; /* set once imported */
	uint64_t clock;		  /* the TPM's Clock: goes up with every quote */
};

/* A quote as made for one evidence document. */
struct vquote {
	uint8_t attest[PCRGATE_QUOTE_MAX_ATTEST];
	uint8_t sig[VDEV_SIG_MAX];
	size_t attest_len, sig_len;
};

int vboot_make(struct vboot *b);
void vboot_free(struct vboot *b);

/* A device with fresh keys. */
int vdevice_make(struct vdevice *d);
void vdevice_free(struct vdevice *d);

/* The admin import request for the device: {ek_public, ak_public, ak_qualified_name} (malloc'd). */
char *vdevice_import_json(const struct vdevice *d);

/*
 * Quotes sha256:8,9 with the nonce as the device's TPM would and returns the evidence document
 * as JSON text (malloc'd), the quote in q when given. Advances the device's Clock.
 */
char *vdevice_evidence(struct vdevice *d, const struct vboot *b, const uint8_t *nonce, size_t nonce_len,
		       struct vquote *q);

/* Base64 (standard, padded) of len bytes, malloc'd. */
char *vbench_b64(const uint8_t *buf, size_t len);

/*
 * verifier_local.c: the in-process references of `verifier_load local`, each measured for
 * seconds on one thread and on every core; printed as text, or as one JSON object.
 */
int vbench_local(double seconds, int json);

#endif
