/*
 * Quote verification rate: pcrgate_quote_verify on a complete quote (signature, nonce, PCR
 * selection and digest) against OpenSSL's bare verification of the same signature with the
 * same key, for RSA-2048 RSASSA, RSA-2048 RSAPSS and ECC P-256 ECDSA. Prints figures only.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/ecdsa.h>
#include <openssl/rsa.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/quote.h"
#include "../tests/unit/quote_util.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The signature as OpenSSL wants it: raw for RSA, DER for ECDSA. */
static int openssl_sig(const uint8_t *tsig, size_t tlen, uint8_t *out, size_t *outlen)
{
	TPMT_SIGNATURE ts;
	size_t off = 0;

	memset(&ts, 0, sizeof(ts));
	if (Tss2_MU_TPMT_SIGNATURE_Unmarshal(tsig, tlen, &off, &ts) != TSS2_RC_SUCCESS)
		return -1;
	if (ts.sigAlg == TPM2_ALG_ECDSA) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		unsigned char *p = out;
		ECDSA_SIG_set0(es,
			       BN_bin2bn(ts.signature.ecdsa.signatureR.buffer,
					 ts.signature.ecdsa.signatureR.size, NULL),
			       BN_bin2bn(ts.signature.ecdsa.signatureS.buffer,
					 ts.signature.ecdsa.signatureS.size, NULL));
		*outlen = (size_t)i2d_ECDSA_SIG(es, &p);
		ECDSA_SIG_free(es);
		return 0;
	}
	memcpy(out, ts.signature.rsassa.sig.buffer, ts.signature.rsassa.sig.size);
	*outlen = ts.signature.rsassa.sig.size;
	return 0;
}

static int bench(const char *label, uint16_t scheme, unsigned bits, double seconds)
{
	static const uint8_t nonce[20] = "bench-nonce-0123456";
	uint8_t attest[1024], tsig[1024], osig[1024], dgst[32], pub[1024], v[32];
	size_t attest_len, tsig_len, osig_len, pub_len;
	uint16_t algs[] = {PCRGATE_ALG_SHA256};
	pcrgate_akpub *ak = pcrgate_akpub_new();
	pcrgate_pcrs *pcrs = pcrgate_pcrs_new();
	pcrgate_quote_input in;
	pcrgate_quote_result res;
	struct qt_key k;
	TPMS_ATTEST a;
	EVP_PKEY_CTX *ctx;
	EVP_MD *md = EVP_MD_fetch(NULL, "SHA256", NULL);
	double t0, t_raw, t_quote;
	unsigned i, n_raw = 0, n_quote = 0;

	if (qt_key_new(&k, scheme, PCRGATE_ALG_SHA256, bits) != 0)
		return -1;
	for (i = 0; i < 8; i++) {
		qt_pcr_value(PCRGATE_ALG_SHA256, i, v);
		pcrgate_pcrs_set(pcrs, PCRGATE_ALG_SHA256, i, v, 32);
	}
	qt_attest_init(&a, (const uint8_t *)"\x00\x0b", 2, nonce, sizeof(nonce));
	if (qt_attest_select(&a, pcrs, algs, 1, PCRGATE_ALG_SHA256) != 0 ||
	    qt_attest_marshal(&a, attest, sizeof(attest), &attest_len) != 0 ||
	    qt_sign(&k, 0, 0, attest, attest_len, tsig, sizeof(tsig), &tsig_len) != 0 ||
	    qt_key_export(&k, PCRGATE_AKPUB_TPM2B_PUBLIC, pub, sizeof(pub), &pub_len) != 0 ||
	    pcrgate_akpub_load(ak, pub, pub_len, NULL) != 0 ||
	    openssl_sig(tsig, tsig_len, osig, &osig_len) != 0)
		return -1;

	/* OpenSSL alone: one context, the digest already computed, verify in a loop. */
	pcrgate_digest(PCRGATE_ALG_SHA256, attest, attest_len, dgst);
	ctx = EVP_PKEY_CTX_new_from_pkey(NULL, k.pkey, NULL);
	EVP_PKEY_verify_init(ctx);
	if (scheme == TPM2_ALG_RSASSA)
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING);
	if (scheme == TPM2_ALG_RSAPSS) {
		EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PSS_PADDING);
		EVP_PKEY_CTX_set_rsa_pss_saltlen(ctx, RSA_PSS_SALTLEN_AUTO);
	}
	EVP_PKEY_CTX_set_signature_md(ctx, md);
	t0 = now();
	do {
		for (i = 0; i < 100; i++)
			if (EVP_PKEY_verify(ctx, osig, osig_len, dgst, sizeof(dgst)) != 1)
				return -1;
		n_raw += 100;
	} while ((t_raw = now() - t0) < seconds);
	EVP_PKEY_CTX_free(ctx);

	memset(&in, 0, sizeof(in));
	in.ak = ak;
	in.attest = attest;
	in.attest_len = attest_len;
	in.signature = tsig;
	in.signature_len = tsig_len;
	in.nonce = nonce;
	in.nonce_len = sizeof(nonce);
	in.pcrs = pcrs;
	t0 = now();
	do {
		for (i = 0; i < 100; i++)
			if (pcrgate_quote_verify(&in, &res, NULL) != 0)
				return -1;
		n_quote += 100;
	} while ((t_quote = now() - t0) < seconds);

	printf("%-22s openssl verify %9.0f/s   quote verify %9.0f/s   ratio %5.1f%%\n", label, n_raw / t_raw,
	       n_quote / t_quote, 100.0 * (n_quote / t_quote) / (n_raw / t_raw));
	EVP_MD_free(md);
	qt_key_free(&k);
	pcrgate_akpub_free(&ak);
	pcrgate_pcrs_free(&pcrs);
	return 0;
}

int main(int argc, char **argv)
{
	double seconds = argc > 1 ? atof(argv[1]) : 1.0;

	if (bench("rsa2048 rsassa-sha256", TPM2_ALG_RSASSA, 2048, seconds) != 0 ||
	    bench("rsa2048 rsapss-sha256", TPM2_ALG_RSAPSS, 2048, seconds) != 0 ||
	    bench("p256 ecdsa-sha256", TPM2_ALG_ECDSA, 256, seconds) != 0) {
		fprintf(stderr, "bench_quote: setup or verification failed\n");
		return 1;
	}
	return 0;
}
