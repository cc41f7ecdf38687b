/*
 * libFuzzer target for quote verification. The input is split as
 *   flags (1 byte) | attest length (2, big-endian) | attest | signature length (2) | signature | rest
 * and verified against fixed keys made at start (RSA-2048 and ECC P-256). With flags bit 2 the
 * attest is signed here with the ECC key, so inputs get past the signature to the parser and
 * every later check; the rest is read as a PCR file (any format, selection from the attest), its
 * first bytes as a nonce and as a previous clock state, as the flags ask. With flags bit 7 the
 * rest is split instead: a PCR file of a 2-byte length, then event logs (split_logs), which the
 * verification parses once the quote passed (flags bit 2 and a matching PCR file get there).
 * Any crash, overrun or leak is a bug.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pcrgate/quote.h"
#include "../unit/quote_util.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct qt_key rsa_key, ecc_key;
static pcrgate_akpub *ak_rsa_pem, *ak_rsa_tpm, *ak_ecc_pem, *ak_ecc_tpm;

static pcrgate_akpub *make_ak(const struct qt_key *k, int format)
{
	pcrgate_akpub *ak = pcrgate_akpub_new();
	uint8_t buf[2048];
	size_t len;

	if (ak == NULL || qt_key_export(k, format, buf, sizeof(buf), &len) != 0 ||
	    pcrgate_akpub_load(ak, buf, len, NULL) != 0)
		abort();
	return ak;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pcrgate_log_set_level(PCRGATE_LOG_ERROR - 1);
	if (qt_key_new(&rsa_key, TPM2_ALG_RSASSA, PCRGATE_ALG_SHA256, 2048) != 0 ||
	    qt_key_new(&ecc_key, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA256, 256) != 0)
		abort();
	ak_rsa_pem = make_ak(&rsa_key, PCRGATE_AKPUB_PEM);
	ak_rsa_tpm = make_ak(&rsa_key, PCRGATE_AKPUB_TPM2B_PUBLIC);
	ak_ecc_pem = make_ak(&ecc_key, PCRGATE_AKPUB_PEM);
	ak_ecc_tpm = make_ak(&ecc_key, PCRGATE_AKPUB_TPMT_PUBLIC);
	return 0;
}

static int take(const uint8_t **p, size_t *left, const uint8_t **out, size_t *outlen)
{
	size_t n;

	if (*left < 2)
		return -1;
	n = (size_t)((*p)[0] << 8 | (*p)[1]);
	*p += 2;
	*left -= 2;
	if (n > *left)
		n = *left;
	*out = *p;
	*outlen = n;
	*p += n;
	*left -= n;
	return 0;
}

/*
 * The event logs: a first byte n, then n - 1 logs of a 2-byte length each (as far as the input
 * goes) and the last log taking the rest; n is taken modulo the cap, and 0 means one log.
 */
static void split_logs(const uint8_t *p, size_t left, pcrgate_quote_input *in)
{
	static const char *const names[] = {"firmware", "boot", NULL, "other"};
	size_t n, i;

	if (left < 1)
		return;
	n = p[0] % PCRGATE_QUOTE_MAX_EVENTLOGS + 1;
	p++;
	left--;
	for (i = 0; i + 1 < n && take(&p, &left, &in->eventlogs[i].data, &in->eventlogs[i].len) == 0; i++)
		in->eventlogs[i].name = names[i];
	in->eventlogs[i].name = names[i];
	in->eventlogs[i].data = p;
	in->eventlogs[i].len = left;
	in->eventlog_count = i + 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t endorsement[4] = {0x40, 0x00, 0x00, 0x0b};
	const uint8_t *p = data, *attest = NULL, *sig = NULL, *pcrfile;
	size_t left = size, attest_len = 0, sig_len = 0, signed_len = 0, pcrfile_len;
	uint8_t flags, signed_sig[1024];
	pcrgate_clock_state prev;
	pcrgate_quote_input in;
	pcrgate_quote_result res;
	pcrgate_pcrs *pcrs = NULL;

	if (left < 1)
		return 0;
	flags = *p++;
	left--;
	if (take(&p, &left, &attest, &attest_len) != 0 || take(&p, &left, &sig, &sig_len) != 0)
		return 0;

	memset(&in, 0, sizeof(in));
	switch (flags & 3) {
	case 0:
		in.ak = ak_rsa_pem;
		break;
	case 1:
		in.ak = ak_rsa_tpm;
		break;
	case 2:
		in.ak = ak_ecc_pem;
		break;
	default:
		in.ak = ak_ecc_tpm;
		break;
	}
	in.attest = attest;
	in.attest_len = attest_len;
	in.signature = sig;
	in.signature_len = sig_len;
	if ((flags & 4) && attest_len > 0 && attest_len <= PCRGATE_QUOTE_MAX_ATTEST &&
	    qt_sign(&ecc_key, 0, 0, attest, attest_len, signed_sig, sizeof(signed_sig), &signed_len) == 0) {
		in.ak = (flags & 1) ? ak_ecc_tpm : ak_ecc_pem;
		in.signature = signed_sig;
		in.signature_len = signed_len;
	}
	if ((flags & 8) && left >= 1) {
		in.nonce = p;
		in.nonce_len = p[0] % 65 < left ? p[0] % 65 : left;
	}
	if ((flags & 16) && left >= sizeof(prev)) {
		memcpy(&prev, p, sizeof(prev));
		in.previous = &prev;
		in.accept_clock_restore = (flags & 32) != 0;
	}
	if ((flags & 64) && in.ak == ak_ecc_tpm) {
		in.ak_parent_qn = endorsement;
		in.ak_parent_qn_len = sizeof(endorsement);
	}
	pcrfile = p;
	pcrfile_len = left;
	if ((flags & 128) && take(&p, &left, &pcrfile, &pcrfile_len) == 0)
		split_logs(p, left, &in);
	if (pcrgate_pcrfile_parse(pcrfile, pcrfile_len, PCRGATE_PCRFILE_AUTO, attest, attest_len, &pcrs, NULL,
				  NULL) == 0)
		in.pcrs = pcrs;
	else
		in.eventlog_count = 0;
	(void)pcrgate_quote_verify(&in, &res, NULL);
	pcrgate_quote_result_clear(&res);
	pcrgate_pcrs_free(&pcrs);
	return 0;
}
