/* Simulated devices for bench/verifier: see verifier_device.h. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "pcrgate/eventlog.h"
#include "pcrgate/evidence.h"
#include "pcrgate/pcr_map.h"
#include "verifier_device.h"

#define BOOT_EVENTS 7
#define EVENT_DATA_MAX 64
#define POLICY_MAX 4096

static const uint8_t endorsement[] = {0x40, 0x00, 0x00, 0x0b}; /* TPM_RH_ENDORSEMENT: the AK's parent */

char *vbench_b64(const uint8_t *buf, size_t len)
{
	char *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out != NULL)
		EVP_EncodeBlock((unsigned char *)out, buf, (int)len);
	return out;
}

/*
 * Event i of the boot log, as the boot extension writes it: kernel, initrd and device tree
 * on PCR 8, slot and manifest on PCR 9, then a separator closing each. The digests are those
 * of a stand-in image (the text of the event again), which is all a verifier ever sees.
 */
static void boot_event(size_t i, uint32_t *pcr, uint32_t *type, char *data, size_t *len)
{
	static const char *const text[] = {
		PCRGATE_EVENT_LABEL_IMAGE "kernel",   PCRGATE_EVENT_LABEL_IMAGE "initrd",
		PCRGATE_EVENT_LABEL_IMAGE "fdt",      PCRGATE_EVENT_LABEL_SLOT "a version=1.0 security_version=1",
		PCRGATE_EVENT_LABEL_SLOT "manifest",
	};

	if (i >= 5) {
		*pcr = i == 5 ? PCRGATE_PCR_BOOT_IMAGES : PCRGATE_PCR_BOOT_SLOT;
		*type = PCRGATE_EVENT_SEPARATOR;
		memset(data, 0, 4);
		*len = 4;
		return;
	}
	*pcr = i < 3 ? PCRGATE_PCR_BOOT_IMAGES : PCRGATE_PCR_BOOT_SLOT;
	*type = i < 3 ? PCRGATE_EVENT_IMAGE : PCRGATE_EVENT_SLOT;
	*len = strlen(text[i]);
	memcpy(data, text[i], *len);
}

static int boot_log(struct vboot *b, uint8_t digests[BOOT_EVENTS][32])
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA256};
	char data[EVENT_DATA_MAX];
	uint8_t d[32];
	const pcrgate_eventlog_digest dg[] = {{PCRGATE_ALG_SHA256, d}};
	size_t cap = pcrgate_eventlog_header_size(1), len, w, i;
	uint32_t pcr, type;

	for (i = 0; i < BOOT_EVENTS; i++) {
		boot_event(i, &pcr, &type, data, &len);
		cap += pcrgate_eventlog_event_size(dg, 1, len);
	}
	if ((b->log = malloc(cap)) == NULL || pcrgate_eventlog_write_header(b->log, cap, algs, 1, &w) != 0)
		return -1;
	b->log_len = w;
	for (i = 0; i < BOOT_EVENTS; i++) {
		boot_event(i, &pcr, &type, data, &len);
		if (pcrgate_digest(PCRGATE_ALG_SHA256, (const uint8_t *)data, len, d) != 0 ||
		    pcrgate_eventlog_write_event(b->log + b->log_len, cap - b->log_len, pcr, type, dg, 1,
						 (const uint8_t *)data, len, &w) != 0)
			return -1;
		memcpy(digests[i], d, sizeof(d));
		b->log_len += w;
	}
	b->events = BOOT_EVENTS;
	return 0;
}

/* The PCR values the log replays to, kept for PCRs 8 and 9 only: those the devices quote. */
static int boot_pcrs(struct vboot *b, char hex[2][65])
{
	static const unsigned idx[2] = {PCRGATE_PCR_BOOT_IMAGES, PCRGATE_PCR_BOOT_SLOT};
	pcrgate_eventlog *log = NULL;
	pcrgate_pcrs *all = NULL;
	const uint8_t *v;
	size_t len, k;
	int r = -1;

	if (pcrgate_eventlog_parse(b->log, b->log_len, &log, NULL) != 0 ||
	    pcrgate_eventlog_replay(log, &all, NULL) != 0 || (b->pcrs = pcrgate_pcrs_new()) == NULL)
		goto fail;
	for (k = 0; k < 2; k++) {
		if ((v = pcrgate_pcrs_get(all, PCRGATE_ALG_SHA256, idx[k], &len)) == NULL || len != 32 ||
		    pcrgate_pcrs_set(b->pcrs, PCRGATE_ALG_SHA256, idx[k], v, len) != 0)
			goto fail;
		pcrgate_hex_encode(v, len, hex[k]);
	}
	snprintf(b->pcrs_json, sizeof(b->pcrs_json), "{\"sha256\":{\"%u\":\"%s\",\"%u\":\"%s\"}}", idx[0], hex[0],
		 idx[1], hex[1]);
	r = 0;
fail:
	pcrgate_pcrs_free(&all);
	pcrgate_eventlog_free(&log);
	return r;
}

/* The policy: every event on PCRs 8 and 9 pinned by digest, and the release those PCRs show. */
static int boot_policy(struct vboot *b, uint8_t digests[BOOT_EVENTS][32], char hex[2][65])
{
	char rules[2][1024], dhex[65];
	size_t used[2] = {0, 0}, i;
	uint32_t pcr, type;
	char data[EVENT_DATA_MAX];
	size_t len;
	int k, n;

	for (i = 0; i < BOOT_EVENTS; i++) {
		boot_event(i, &pcr, &type, data, &len);
		k = pcr == PCRGATE_PCR_BOOT_IMAGES ? 0 : 1;
		pcrgate_hex_encode(digests[i], 32, dhex);
		n = snprintf(rules[k] + used[k], sizeof(rules[k]) - used[k], "%s{\"digest\":\"%s\"}",
			     used[k] > 0 ? "," : "", dhex);
		if (n < 0 || (size_t)n >= sizeof(rules[k]) - used[k])
			return -1;
		used[k] += (size_t)n;
	}
	if ((b->policy = malloc(POLICY_MAX)) == NULL)
		return -1;
	n = snprintf(b->policy, POLICY_MAX,
		     "{\"format\":\"pcrgate-refpolicy\",\"version\":1,\"name\":\"default\","
		     "\"description\":\"bench/verifier: the simulated devices' boot\",\"bank\":\"sha256\","
		     "\"measurements\":{\"%u\":[%s],\"%u\":[%s]},"
		     "\"releases\":[{\"name\":\"bench-1.0\",\"version\":\"1.0\",\"security_version\":1,"
		     "\"pcrs\":{\"%u\":\"%s\",\"%u\":\"%s\"}}],\"min_security_version\":1}",
		     PCRGATE_PCR_BOOT_IMAGES, rules[0], PCRGATE_PCR_BOOT_SLOT, rules[1], PCRGATE_PCR_BOOT_IMAGES, hex[0],
		     PCRGATE_PCR_BOOT_SLOT, hex[1]);
	return n > 0 && n < POLICY_MAX ? 0 : -1;
}

int vboot_make(struct vboot *b)
{
	uint8_t digests[BOOT_EVENTS][32];
	char hex[2][65];

	memset(b, 0, sizeof(*b));
	if (boot_log(b, digests) != 0 || (b->log_b64 = vbench_b64(b->log, b->log_len)) == NULL ||
	    boot_pcrs(b, hex) != 0 || boot_policy(b, digests, hex) != 0) {
		vboot_free(b);
		return -1;
	}
	return 0;
}

void vboot_free(struct vboot *b)
{
	free(b->log);
	free(b->log_b64);
	free(b->policy);
	pcrgate_pcrs_free(&b->pcrs);
	memset(b, 0, sizeof(*b));
}

int vdevice_make(struct vdevice *d)
{
	pcrgate_akpub *ak = NULL;
	const uint8_t *name;
	size_t len;
	int r = -1;

	memset(d, 0, sizeof(*d));
	d->clock = 1000;
	if (qt_key_new(&d->ak, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA256, 256) != 0 ||
	    qt_key_new(&d->ek, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA256, 256) != 0)
		goto fail;
	/* The EK as the TCG template makes it: a restricted decryption key under a policy. */
	d->ek.pub.objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT | TPMA_OBJECT_SENSITIVEDATAORIGIN |
				     TPMA_OBJECT_ADMINWITHPOLICY | TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
	d->ek.pub.parameters.eccDetail.symmetric.algorithm = TPM2_ALG_AES;
	d->ek.pub.parameters.eccDetail.symmetric.keyBits.aes = 128;
	d->ek.pub.parameters.eccDetail.symmetric.mode.aes = TPM2_ALG_CFB;
	d->ek.pub.parameters.eccDetail.scheme.scheme = TPM2_ALG_NULL;
	if (qt_key_export(&d->ak, PCRGATE_AKPUB_TPM2B_PUBLIC, d->ak_pub, sizeof(d->ak_pub), &d->ak_pub_len) != 0 ||
	    qt_key_export(&d->ek, PCRGATE_AKPUB_TPM2B_PUBLIC, d->ek_pub, sizeof(d->ek_pub), &d->ek_pub_len) != 0 ||
	    (ak = pcrgate_akpub_new()) == NULL || pcrgate_akpub_load(ak, d->ak_pub, d->ak_pub_len, NULL) != 0 ||
	    pcrgate_akpub_qualified_name(ak, endorsement, sizeof(endorsement), d->qn, &d->qn_len) != 0 ||
	    (name = pcrgate_akpub_name(ak, &len)) == NULL || len > PCRGATE_QUOTE_MAX_NAME)
		goto fail;
	pcrgate_hex_encode(d->qn, d->qn_len, d->qn_hex);
	pcrgate_hex_encode(name, len, d->ak_name_hex);
	r = 0;
fail:
	pcrgate_akpub_free(&ak);
	if (r != 0)
		vdevice_free(d);
	return r;
}

void vdevice_free(struct vdevice *d)
{
	qt_key_free(&d->ak);
	qt_key_free(&d->ek);
}

char *vdevice_import_json(const struct vdevice *d)
{
	char *ek = vbench_b64(d->ek_pub, d->ek_pub_len), *ak = vbench_b64(d->ak_pub, d->ak_pub_len), *out = NULL;
	size_t cap;

	if (ek != NULL && ak != NULL && (out = malloc(cap = strlen(ek) + strlen(ak) + strlen(d->qn_hex) + 128)) != NULL)
		snprintf(out, cap, "{\"ek_public\":\"%s\",\"ak_public\":\"%s\",\"ak_qualified_name\":\"%s\"}", ek, ak,
			 d->qn_hex);
	free(ek);
	free(ak);
	return out;
}

char *vdevice_evidence(struct vdevice *d, const struct vboot *b, const uint8_t *nonce, size_t nonce_len,
		       struct vquote *q)
{
	static const uint16_t algs[] = {PCRGATE_ALG_SHA256};
	struct vquote local;
	char nonce_hex[2 * PCRGATE_EVIDENCE_MAX_NONCE + 1];
	char *akb = NULL, *attb = NULL, *sigb = NULL, *out = NULL;
	TPMS_ATTEST a;
	size_t cap;

	if (q == NULL)
		q = &local;
	if (nonce_len > PCRGATE_EVIDENCE_MAX_NONCE)
		return NULL;
	qt_attest_init(&a, d->qn, d->qn_len, nonce, nonce_len);
	a.clockInfo.clock = d->clock++;
	if (qt_attest_select(&a, b->pcrs, algs, 1, PCRGATE_ALG_SHA256) != 0 ||
	    qt_attest_marshal(&a, q->attest, sizeof(q->attest), &q->attest_len) != 0 ||
	    qt_sign(&d->ak, 0, 0, q->attest, q->attest_len, q->sig, sizeof(q->sig), &q->sig_len) != 0 ||
	    (akb = vbench_b64(d->ak_pub, d->ak_pub_len)) == NULL ||
	    (attb = vbench_b64(q->attest, q->attest_len)) == NULL || (sigb = vbench_b64(q->sig, q->sig_len)) == NULL)
		goto done;
	pcrgate_hex_encode(nonce, nonce_len, nonce_hex);
	cap = strlen(akb) + strlen(attb) + strlen(sigb) + strlen(b->log_b64) + strlen(b->pcrs_json) + 1024;
	if ((out = malloc(cap)) == NULL)
		goto done;
	snprintf(out, cap,
		 "{\"format\":\"pcrgate-evidence\",\"version\":1,\"nonce\":\"%s\",\"ak_public\":\"%s\","
		 "\"ak_name\":\"%s\",\"ak_qualified_name\":\"%s\",\"attest\":\"%s\",\"signature\":\"%s\","
		 "\"pcrs\":%s,\"clock\":{\"clock\":%llu,\"reset_count\":%u,\"restart_count\":%u,\"safe\":%s,"
		 "\"firmware_version\":\"0x%llx\"},\"eventlogs\":{\"boot\":\"%s\"}}",
		 nonce_hex, akb, d->ak_name_hex, d->qn_hex, attb, sigb, b->pcrs_json,
		 (unsigned long long)a.clockInfo.clock, (unsigned)a.clockInfo.resetCount,
		 (unsigned)a.clockInfo.restartCount, a.clockInfo.safe ? "true" : "false",
		 (unsigned long long)a.firmwareVersion, b->log_b64);
done:
	free(akb);
	free(attb);
	free(sigb);
	return out;
}
