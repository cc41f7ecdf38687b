/*
 * Unit tests for the inputs of quote verification: the AK public key in each format (and
 * garbage), its TPM name and qualified name, and the PCR files tpm2-tools and pcrgate write.
 * Also leaves seed inputs for tests/fuzz/fuzz_akpub in the fuzz corpus directory.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/evp.h>
#include <openssl/x509.h>
#include <tss2/tss2_mu.h>

#include "pcrgate/quote.h"
#include "quote_util.h"
#include "seed.h"

static struct qt_key rsa, ecc;

static pcrgate_akpub *load(const uint8_t *buf, size_t len, int expect)
{
	pcrgate_akpub *ak = pcrgate_akpub_new();
	pcrgate_errinfo ei;
	int r;

	assert_non_null(ak);
	pcrgate_errinfo_clear(&ei);
	if ((r = pcrgate_akpub_load(ak, buf, len, &ei)) != expect)
		fail_msg("load gave %d (%s), expected %d", r, ei.message, expect);
	if (expect != 0) {
		assert_true(ei.message[0] != '\0');
		pcrgate_akpub_free(&ak);
		assert_null(ak);
	}
	return ak;
}

static void test_akpub_formats(void **state)
{
	const struct qt_key *keys[] = {&rsa, &ecc};
	const int formats[] = {PCRGATE_AKPUB_PEM, PCRGATE_AKPUB_DER, PCRGATE_AKPUB_TPM2B_PUBLIC,
			       PCRGATE_AKPUB_TPMT_PUBLIC};
	uint8_t buf[2048], marshalled[1024], want[PCRGATE_QUOTE_MAX_NAME], qn[PCRGATE_QUOTE_MAX_NAME],
		cat[256];
	size_t i, j, len, mlen = 0, nlen = 0, qn_len = 0;
	const uint8_t parent[4] = {0x40, 0x00, 0x00, 0x0b};
	uint16_t scheme, hash;
	uint32_t attrs;
	pcrgate_akpub *ak;
	const uint8_t *name;

	(void)state;
	for (i = 0; i < 2; i++) {
		/* The name by its definition: nameAlg || SHA-256(marshalled TPMT_PUBLIC). */
		mlen = 0;
		assert_int_equal(
			Tss2_MU_TPMT_PUBLIC_Marshal(&keys[i]->pub, marshalled, sizeof(marshalled), &mlen), 0);
		want[0] = 0x00;
		want[1] = 0x0b;
		assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, marshalled, mlen, want + 2), 0);
		for (j = 0; j < 4; j++) {
			assert_int_equal(qt_key_export(keys[i], formats[j], buf, sizeof(buf), &len), 0);
			ak = load(buf, len, 0);
			assert_int_equal(pcrgate_akpub_format(ak), formats[j]);
			assert_int_equal(pcrgate_akpub_key_type(ak),
					 i == 0 ? PCRGATE_KEY_RSA : PCRGATE_KEY_ECC);
			assert_int_equal(pcrgate_akpub_bits(ak), i == 0 ? 2048 : 256);
			name = pcrgate_akpub_name(ak, &nlen);
			if (formats[j] == PCRGATE_AKPUB_PEM || formats[j] == PCRGATE_AKPUB_DER) {
				assert_null(name);
				assert_int_equal(pcrgate_akpub_tpm_info(ak, &attrs, &scheme, &hash),
						 PCRGATE_ERR_NOT_FOUND);
				memset(qn, 0x77, sizeof(qn));
				qn_len = 99;
				assert_int_equal(pcrgate_akpub_qualified_name(ak, parent, 4, qn, &qn_len),
						 PCRGATE_ERR_NOT_FOUND);
				/* Outputs are written only on success. */
				assert_int_equal(qn_len, 99);
				assert_int_equal(qn[0], 0x77);
			} else {
				assert_non_null(name);
				assert_int_equal(nlen, 34);
				assert_memory_equal(name, want, 34);
				assert_int_equal(pcrgate_akpub_tpm_info(ak, &attrs, &scheme, &hash), 0);
				assert_int_equal(attrs, keys[i]->pub.objectAttributes);
				assert_int_equal(scheme, keys[i]->scheme);
				assert_int_equal(hash, keys[i]->hash);
				/* Qualified name: nameAlg || H(parent's qualified name || name). */
				assert_int_equal(pcrgate_akpub_qualified_name(ak, parent, 4, qn, &qn_len), 0);
				memcpy(cat, parent, 4);
				memcpy(cat + 4, want, 34);
				assert_int_equal(qn_len, 34);
				assert_int_equal(pcrgate_digest(PCRGATE_ALG_SHA256, cat, 38, want + 2), 0);
				assert_memory_equal(qn, want, 34);
				assert_int_equal(
					pcrgate_digest(PCRGATE_ALG_SHA256, marshalled, mlen, want + 2), 0);
			}
			pcrgate_akpub_free(&ak);
		}
	}
	pcrgate_akpub_free(&ak);
	assert_int_equal(pcrgate_akpub_format(NULL), PCRGATE_AKPUB_NONE);
}

/* A public area that does not load, with the error at offset off naming field. */
static void expect_offset(const uint8_t *buf, size_t len, size_t off, const char *field)
{
	pcrgate_akpub *ak = pcrgate_akpub_new();
	pcrgate_errinfo ei;

	assert_non_null(ak);
	pcrgate_errinfo_clear(&ei);
	assert_int_equal(pcrgate_akpub_load(ak, buf, len, &ei), PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	if (ei.offset != off || strstr(ei.message, field) == NULL)
		fail_msg("at offset %zu: %s; expected offset %zu naming %s", ei.offset, ei.message, off,
			 field);
	pcrgate_akpub_free(&ak);
}

static void test_akpub_garbage(void **state)
{
	static const char rsa_pem[] =
		"-----BEGIN RSA PUBLIC KEY-----\nMAoCAwEAAQIDAQAB\n-----END RSA PUBLIC KEY-----\n";
	uint8_t buf[2048], good[2048];
	size_t len, good_len, i;
	pcrgate_akpub *ak;
	TPM2B_PUBLIC p2b;
	TPMT_PUBLIC pub;
	EVP_PKEY *k1;
	unsigned char *p;
	int n;

	(void)state;
	assert_non_null(ak = pcrgate_akpub_new());
	assert_int_equal(pcrgate_akpub_load(ak, buf, 0, NULL), PCRGATE_ERR_INVALID_ARGUMENT);
	pcrgate_akpub_free(&ak);
	for (i = 0; i < 200; i++)
		buf[i] = (uint8_t)(i * 37 + 11);
	load(buf, 200, PCRGATE_ERR_FORMAT);
	load((const uint8_t *)rsa_pem, sizeof(rsa_pem) - 1, PCRGATE_ERR_FORMAT);

	/* DER with a byte after it, and cut short. */
	assert_int_equal(qt_key_export(&rsa, PCRGATE_AKPUB_DER, buf, sizeof(buf), &len), 0);
	buf[len] = 0;
	load(buf, len + 1, PCRGATE_ERR_FORMAT);
	load(buf, len - 1, PCRGATE_ERR_FORMAT);
	/* PEM cut in its base64. */
	assert_int_equal(qt_key_export(&ecc, PCRGATE_AKPUB_PEM, buf, sizeof(buf), &len), 0);
	load(buf, len / 2, PCRGATE_ERR_FORMAT);
	/* TPM public areas: trailing byte, cut short. */
	assert_int_equal(qt_key_export(&rsa, PCRGATE_AKPUB_TPMT_PUBLIC, buf, sizeof(buf), &len), 0);
	buf[len] = 0;
	load(buf, len + 1, PCRGATE_ERR_FORMAT);
	load(buf, len - 1, PCRGATE_ERR_FORMAT);
	load(buf, 2, PCRGATE_ERR_FORMAT);
	assert_int_equal(qt_key_export(&ecc, PCRGATE_AKPUB_TPM2B_PUBLIC, buf, sizeof(buf), &len), 0);
	buf[1]--; /* the size says one byte less than follows */
	load(buf, len, PCRGATE_ERR_FORMAT);

	/* The error names where the public area is cut: in its unique field (size, 256-byte modulus). */
	assert_int_equal(qt_key_export(&rsa, PCRGATE_AKPUB_TPMT_PUBLIC, buf, sizeof(buf), &len), 0);
	expect_offset(buf, len - 1, len - 258, "unique");
	assert_int_equal(qt_key_export(&rsa, PCRGATE_AKPUB_TPM2B_PUBLIC, buf, sizeof(buf), &len), 0);
	buf[1]--; /* a consistent TPM2B_PUBLIC whose TPMT_PUBLIC lacks its last byte */
	expect_offset(buf, len - 1, len - 258, "unique");
	/* Cut in its authPolicy: type, nameAlg, objectAttributes (8 bytes), then its size. */
	assert_int_equal(qt_key_export(&rsa, PCRGATE_AKPUB_TPMT_PUBLIC, buf, sizeof(buf), &len), 0);
	buf[8] = 0x40;
	expect_offset(buf, len, 8, "authPolicy");

	/* Not an asymmetric key: a keyedhash object. */
	memset(&p2b, 0, sizeof(p2b));
	p2b.publicArea.type = TPM2_ALG_KEYEDHASH;
	p2b.publicArea.nameAlg = TPM2_ALG_SHA256;
	p2b.publicArea.parameters.keyedHashDetail.scheme.scheme = TPM2_ALG_NULL;
	len = 0;
	assert_int_equal(Tss2_MU_TPM2B_PUBLIC_Marshal(&p2b, buf, sizeof(buf), &len), 0);
	load(buf, len, PCRGATE_ERR_UNSUPPORTED);

	/* An ECC point off the curve; a curve pcrgate does not take; RSA size disagreeing with keyBits. */
	pub = ecc.pub;
	pub.unique.ecc.y.buffer[31] ^= 1;
	len = 0;
	assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf, sizeof(buf), &len), 0);
	load(buf, len, PCRGATE_ERR_FORMAT);
	pub = ecc.pub;
	pub.parameters.eccDetail.curveID = TPM2_ECC_BN_P256;
	len = 0;
	assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf, sizeof(buf), &len), 0);
	load(buf, len, PCRGATE_ERR_UNSUPPORTED);
	pub = rsa.pub;
	pub.parameters.rsaDetail.keyBits = 1024;
	len = 0;
	assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf, sizeof(buf), &len), 0);
	load(buf, len, PCRGATE_ERR_FORMAT);
	pub = rsa.pub;
	pub.nameAlg = 0x0099;
	len = 0;
	assert_int_equal(Tss2_MU_TPMT_PUBLIC_Marshal(&pub, buf, sizeof(buf), &len), 0);
	load(buf, len, PCRGATE_ERR_UNSUPPORTED);
	/* secp256k1 in SubjectPublicKeyInfo. */
	assert_non_null(k1 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "secp256k1"));
	p = buf;
	assert_true((n = i2d_PUBKEY(k1, &p)) > 0);
	load(buf, (size_t)n, PCRGATE_ERR_UNSUPPORTED);
	EVP_PKEY_free(k1);

	/* A failed load leaves the key as it was. */
	assert_int_equal(qt_key_export(&ecc, PCRGATE_AKPUB_TPMT_PUBLIC, good, sizeof(good), &good_len), 0);
	ak = load(good, good_len, 0);
	assert_int_equal(pcrgate_akpub_load(ak, buf, 3, NULL), PCRGATE_ERR_FORMAT);
	assert_int_equal(pcrgate_akpub_format(ak), PCRGATE_AKPUB_TPMT_PUBLIC);
	assert_non_null(pcrgate_akpub_name(ak, NULL));
	pcrgate_akpub_free(&ak);
}

/* sha256:0,1,2,16 then sha1:0,7, in that (TPML) order. */
static pcrgate_pcrs *expected_pcrs(void)
{
	static const struct {
		uint16_t alg;
		unsigned index;
	} set[] = {{PCRGATE_ALG_SHA256, 0},  {PCRGATE_ALG_SHA256, 1}, {PCRGATE_ALG_SHA256, 2},
		   {PCRGATE_ALG_SHA256, 16}, {PCRGATE_ALG_SHA1, 0},   {PCRGATE_ALG_SHA1, 7}};
	pcrgate_pcrs *p = pcrgate_pcrs_new();
	uint8_t v[PCRGATE_MAX_DIGEST];
	size_t i;

	for (i = 0; i < sizeof(set) / sizeof(set[0]); i++) {
		qt_pcr_value(set[i].alg, set[i].index, v);
		assert_int_equal(
			pcrgate_pcrs_set(p, set[i].alg, set[i].index, v, pcrgate_alg_digest_size(set[i].alg)),
			0);
	}
	return p;
}

static void assert_same_pcrs(const pcrgate_pcrs *a, const pcrgate_pcrs *b)
{
	size_t i, n = pcrgate_pcrs_bank_count(a), la, lb;
	unsigned k;

	assert_int_equal(n, pcrgate_pcrs_bank_count(b));
	for (i = 0; i < n; i++) {
		uint16_t alg = pcrgate_pcrs_bank_alg(a, i);
		assert_int_equal(alg, pcrgate_pcrs_bank_alg(b, i));
		assert_int_equal(pcrgate_pcrs_mask(a, alg), pcrgate_pcrs_mask(b, alg));
		for (k = 0; k < PCRGATE_MAX_PCRS; k++)
			if (pcrgate_pcrs_mask(a, alg) & (1u << k)) {
				const uint8_t *va = pcrgate_pcrs_get(a, alg, k, &la),
					      *vb = pcrgate_pcrs_get(b, alg, k, &lb);
				assert_int_equal(la, lb);
				assert_memory_equal(va, vb, la);
			}
	}
}

static void put16le(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32le(uint8_t *p, uint32_t v)
{
	put16le(p, (uint16_t)v);
	put16le(p + 2, (uint16_t)(v >> 16));
}

/* tpm2-tools' serialized layout, written by hand: 132-byte selection, count, 532-byte lists. */
static size_t make_serialized(uint8_t *out, const pcrgate_pcrs *p, size_t per_list)
{
	static const uint16_t order[] = {PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA1};
	size_t off = 0, i, lists = 0, in_list = 0, list_off = 0, vlen;
	unsigned k;

	memset(out, 0, 132 + 4 + 8 * 532);
	put32le(out, 2);
	for (i = 0; i < 2; i++) {
		uint32_t m = pcrgate_pcrs_mask(p, order[i]);
		put16le(out + 4 + 8 * i, order[i]);
		out[4 + 8 * i + 2] = 3;
		out[4 + 8 * i + 3] = (uint8_t)m;
		out[4 + 8 * i + 4] = (uint8_t)(m >> 8);
		out[4 + 8 * i + 5] = (uint8_t)(m >> 16);
	}
	off = 136;
	for (i = 0; i < 2; i++) {
		for (k = 0; k < PCRGATE_MAX_PCRS; k++) {
			const uint8_t *v = pcrgate_pcrs_get(p, order[i], k, &vlen);
			if (v == NULL)
				continue;
			if (in_list == 0) {
				list_off = off;
				off += 532;
				lists++;
			}
			put16le(out + list_off + 4 + 66 * in_list, (uint16_t)vlen);
			memcpy(out + list_off + 4 + 66 * in_list + 2, v, vlen);
			in_list++;
			put32le(out + list_off, (uint32_t)in_list);
			if (in_list == per_list)
				in_list = 0;
		}
	}
	put32le(out + 132, (uint32_t)lists);
	return off;
}

static int parse(const uint8_t *buf, size_t len, int format, const uint8_t *attest, size_t alen,
		 pcrgate_pcrs **out, int *detected, pcrgate_errinfo *ei)
{
	pcrgate_errinfo_clear(ei);
	return pcrgate_pcrfile_parse(buf, len, format, attest, alen, out, detected, ei);
}

static void test_pcrfile_serialized(void **state)
{
	pcrgate_pcrs *want = expected_pcrs(), *got = NULL;
	uint8_t buf[8192];
	pcrgate_errinfo ei;
	size_t len;
	int detected = 0;

	(void)state;
	/* Values split over lists as TPM2_PCR_Read returns them (here 4 then 2). */
	len = make_serialized(buf, want, 4);
	assert_int_equal(len, 132 + 4 + 2 * 532);
	assert_int_equal(parse(buf, len, PCRGATE_PCRFILE_AUTO, NULL, 0, &got, &detected, &ei), 0);
	assert_int_equal(detected, PCRGATE_PCRFILE_SERIALIZED);
	assert_same_pcrs(want, got);
	pcrgate_pcrs_free(&got);

	assert_int_equal(parse(buf, len - 1, PCRGATE_PCRFILE_SERIALIZED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	buf[len] = 0;
	assert_int_equal(parse(buf, len + 1, PCRGATE_PCRFILE_SERIALIZED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(ei.offset, len);
	assert_int_equal(parse(buf, 100, PCRGATE_PCRFILE_SERIALIZED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	/* A sha256 value of 20 bytes. */
	put16le(buf + 136 + 4, 20);
	assert_int_equal(parse(buf, len, PCRGATE_PCRFILE_SERIALIZED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(ei.offset, 136 + 4);
	put16le(buf + 136 + 4, 32);
	/* One value fewer than selected; more lists than anyone writes; 17 selections. */
	put32le(buf + 136 + 532, 1);
	assert_int_equal(parse(buf, len, PCRGATE_PCRFILE_SERIALIZED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_non_null(strstr(ei.message, "sha1:7"));
	put32le(buf + 136 + 532, 2);
	put32le(buf + 132, 1000);
	assert_int_equal(parse(buf, len, PCRGATE_PCRFILE_SERIALIZED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_LIMIT);
	put32le(buf + 132, 2);
	put32le(buf, 17);
	assert_int_equal(parse(buf, len, PCRGATE_PCRFILE_SERIALIZED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_null(got);
	pcrgate_pcrs_free(&want);
}

/* tpm2_quote -o from the keylime vector in the shared data, when it is there. */
static void test_pcrfile_real(void **state)
{
	static const uint8_t pcr16[] = {0xd4, 0x71, 0xc0, 0x67, 0x49, 0x51, 0xf0, 0xef};
	pcrgate_pcrs *got = NULL;
	pcrgate_errinfo ei;
	uint8_t *buf = NULL;
	size_t len, vlen;
	int detected, r;

	(void)state;
	r = qt_testdata_read("quotes/keylime-checkquote/pcrs.tpm2_quote_pcr_out", PCRGATE_PCRFILE_MAX, &buf, &len);
	if (r == 1)
		skip();
	assert_int_equal(r, 0);
	assert_int_equal(parse(buf, len, PCRGATE_PCRFILE_AUTO, NULL, 0, &got, &detected, &ei), 0);
	assert_int_equal(detected, PCRGATE_PCRFILE_SERIALIZED);
	assert_int_equal(pcrgate_pcrs_bank_count(got), 1);
	assert_int_equal(pcrgate_pcrs_mask(got, PCRGATE_ALG_SHA256), 1u << 16);
	assert_memory_equal(pcrgate_pcrs_get(got, PCRGATE_ALG_SHA256, 16, &vlen), pcr16, sizeof(pcr16));
	pcrgate_pcrs_free(&got);
	free(buf);
}

static void test_pcrfile_marshaled_and_values(void **state)
{
	static const uint16_t order[] = {PCRGATE_ALG_SHA256, PCRGATE_ALG_SHA1};
	pcrgate_pcrs *want = expected_pcrs(), *got = NULL;
	uint8_t buf[8192], attest[2048], values[1024];
	size_t off = 0, alen, vused = 0, vlen, i;
	TPML_DIGEST list;
	pcrgate_errinfo ei;
	TPMS_ATTEST a;
	unsigned k;
	int detected;

	(void)state;
	qt_attest_init(&a, (const uint8_t *)"\x00\x0b", 2, NULL, 0);
	assert_int_equal(qt_attest_select(&a, want, order, 2, PCRGATE_ALG_SHA256), 0);
	assert_int_equal(qt_attest_marshal(&a, attest, sizeof(attest), &alen), 0);
	memset(&list, 0, sizeof(list));
	for (i = 0; i < 2; i++) {
		for (k = 0; k < PCRGATE_MAX_PCRS; k++) {
			const uint8_t *v = pcrgate_pcrs_get(want, order[i], k, &vlen);
			if (v == NULL)
				continue;
			list.digests[list.count].size = (uint16_t)vlen;
			memcpy(list.digests[list.count++].buffer, v, vlen);
			memcpy(values + vused, v, vlen);
			vused += vlen;
		}
	}
	assert_int_equal(
		Tss2_MU_TPML_PCR_SELECTION_Marshal(&a.attested.quote.pcrSelect, buf, sizeof(buf), &off), 0);
	assert_int_equal(Tss2_MU_UINT32_Marshal(1, buf, sizeof(buf), &off), 0);
	assert_int_equal(Tss2_MU_TPML_DIGEST_Marshal(&list, buf, sizeof(buf), &off), 0);
	assert_int_equal(parse(buf, off, PCRGATE_PCRFILE_AUTO, NULL, 0, &got, &detected, &ei), 0);
	assert_int_equal(detected, PCRGATE_PCRFILE_MARSHALED);
	assert_same_pcrs(want, got);
	pcrgate_pcrs_free(&got);
	assert_int_equal(parse(buf, off - 1, PCRGATE_PCRFILE_MARSHALED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	/* Errors in the selection name their byte: count at 0, then hash, sizeofSelect at 6, bits. */
	buf[6] = 5;
	assert_int_equal(parse(buf, off, PCRGATE_PCRFILE_MARSHALED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_true(ei.has_offset);
	assert_int_equal(ei.offset, 6);
	assert_non_null(strstr(ei.message, "sizeofSelect 5"));
	buf[6] = 3;
	buf[3] = 17;
	assert_int_equal(parse(buf, off, PCRGATE_PCRFILE_MARSHALED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(ei.offset, 0);
	buf[3] = 2;
	/* The second selection (at 10) names a bank pcrgate does not know. */
	buf[11] = 0x99;
	assert_int_equal(parse(buf, off, PCRGATE_PCRFILE_MARSHALED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_UNSUPPORTED);
	assert_int_equal(ei.offset, 10);
	assert_int_equal(parse(buf, 12, PCRGATE_PCRFILE_MARSHALED, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(ei.offset, 12);
	assert_null(got);
	buf[11] = 0x04;

	/* Bare values take their selection from the quote, and must fill it exactly. */
	assert_int_equal(parse(values, vused, PCRGATE_PCRFILE_AUTO, attest, alen, &got, &detected, &ei), 0);
	assert_int_equal(detected, PCRGATE_PCRFILE_VALUES);
	assert_same_pcrs(want, got);
	pcrgate_pcrs_free(&got);
	assert_int_equal(parse(values, vused - 1, PCRGATE_PCRFILE_VALUES, attest, alen, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	assert_int_equal(parse(values, vused, PCRGATE_PCRFILE_VALUES, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	assert_int_equal(parse(values, vused, PCRGATE_PCRFILE_VALUES, attest, alen - 1, &got, NULL, &ei),
			 PCRGATE_ERR_FORMAT);
	pcrgate_pcrs_free(&want);
}

static void test_pcrfile_text_and_json(void **state)
{
	static const char text[] =
		"# PCRs\r\nsha256:16=d471c0674951f0ef075aecdd42fbefa6eca6019820add0bd222d1c4e6242ce6f\r\n"
		"\nsha1:7=0000000000000000000000000000000000000007  \n";
	static const char json[] =
		"{\"sha256\": {\"16\": \"d471c0674951f0ef075aecdd42fbefa6eca6019820add0bd222d1c4e6242ce6f\"},"
		" \"sha1\": {\"7\": \"0000000000000000000000000000000000000007\"}}";
	static const char vector[] = "{\"nonce_hex\": null, \"pcrs\": {\"sha1\": "
				     "{\"7\": \"0000000000000000000000000000000000000007\"}}}";
	static const struct {
		const char *text;
		size_t offset;
	} bad_text[] = {
		{"sha256:16=d471\n", 0},
		{"sha1:0=0000000000000000000000000000000000000000\nmd5:1=00\n", 48},
		{"sha1:32=0000000000000000000000000000000000000000\n", 0},
		{"sha1:x=0000000000000000000000000000000000000000\n", 0},
		{"sha1=0000000000000000000000000000000000000000\n", 0},
		{"sha1:1=0000000000000000000000000000000000000000\nsha1:1="
		 "0000000000000000000000000000000000000000\n",
		 48},
	};
	static const char *const bad_json[] = {
		"[1]",
		"{\"sha1\": 3}",
		"{\"sha1\": {\"1\": 5}}",
		"{\"sha1\": {\"01x\": \"00\"}}",
		"{\"sha1\": {\"1\": \"00\"}}",
		"{\"sha1\": {\"1\": \"0000000000000000000000000000000000000000\"",
	};
	pcrgate_pcrs *got = NULL, *got2 = NULL;
	pcrgate_errinfo ei;
	size_t i;
	int detected;

	(void)state;
	assert_int_equal(parse((const uint8_t *)text, strlen(text), PCRGATE_PCRFILE_AUTO, NULL, 0, &got,
			       &detected, &ei),
			 0);
	assert_int_equal(detected, PCRGATE_PCRFILE_TEXT);
	assert_int_equal(pcrgate_pcrs_mask(got, PCRGATE_ALG_SHA256), 1u << 16);
	assert_int_equal(pcrgate_pcrs_mask(got, PCRGATE_ALG_SHA1), 1u << 7);
	assert_int_equal(parse((const uint8_t *)json, strlen(json), PCRGATE_PCRFILE_AUTO, NULL, 0, &got2,
			       &detected, &ei),
			 0);
	assert_int_equal(detected, PCRGATE_PCRFILE_JSON);
	assert_same_pcrs(got, got2);
	pcrgate_pcrs_free(&got);
	pcrgate_pcrs_free(&got2);
	/* A whole quote vector is read through its "pcrs" member. */
	assert_int_equal(parse((const uint8_t *)vector, strlen(vector), PCRGATE_PCRFILE_AUTO, NULL, 0, &got,
			       NULL, &ei),
			 0);
	assert_int_equal(pcrgate_pcrs_mask(got, PCRGATE_ALG_SHA1), 1u << 7);
	pcrgate_pcrs_free(&got);

	for (i = 0; i < sizeof(bad_text) / sizeof(bad_text[0]); i++) {
		assert_int_equal(parse((const uint8_t *)bad_text[i].text, strlen(bad_text[i].text),
				       PCRGATE_PCRFILE_TEXT, NULL, 0, &got, NULL, &ei),
				 PCRGATE_ERR_FORMAT);
		assert_int_equal(ei.offset, bad_text[i].offset);
		assert_null(got);
	}
	for (i = 0; i < sizeof(bad_json) / sizeof(bad_json[0]); i++) {
		assert_int_equal(parse((const uint8_t *)bad_json[i], strlen(bad_json[i]),
				       PCRGATE_PCRFILE_JSON, NULL, 0, &got, NULL, &ei),
				 PCRGATE_ERR_FORMAT);
		assert_null(got);
	}
	assert_int_equal(parse((const uint8_t *)"x", 1, 99, NULL, 0, &got, NULL, &ei),
			 PCRGATE_ERR_INVALID_ARGUMENT);
	for (i = PCRGATE_PCRFILE_SERIALIZED; i <= PCRGATE_PCRFILE_JSON; i++)
		assert_int_equal(pcrgate_pcrfile_format_from_name(pcrgate_pcrfile_format_name((int)i)),
				 (int)i);
	assert_int_equal(pcrgate_pcrfile_format_from_name("auto"), PCRGATE_PCRFILE_AUTO);
	assert_int_equal(pcrgate_pcrfile_format_from_name("xml"), -1);
}

/* Seeds for fuzz_akpub: each key in each format. */
static void write_seeds(void **state)
{
	const struct qt_key *keys[] = {&rsa, &ecc};
	uint8_t buf[2048];
	char file[16];
	int w;
	size_t i, j, len;

	(void)state;
	for (i = 0; i < 2; i++) {
		for (j = PCRGATE_AKPUB_PEM; j <= PCRGATE_AKPUB_TPMT_PUBLIC; j++) {
			assert_int_equal(qt_key_export(keys[i], (int)j, buf, sizeof(buf), &len), 0);
			snprintf(file, sizeof(file), "unit-%zu-%zu", i, j);
			w = test_seed_write("akpub", file, buf, len);
			if (w == 1)
				skip();
			assert_int_equal(w, 0);
		}
	}
}

static int setup(void **state)
{
	(void)state;
	if (qt_key_new(&rsa, TPM2_ALG_RSASSA, PCRGATE_ALG_SHA256, 2048) != 0 ||
	    qt_key_new(&ecc, TPM2_ALG_ECDSA, PCRGATE_ALG_SHA256, 256) != 0)
		return -1;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	qt_key_free(&rsa);
	qt_key_free(&ecc);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_akpub_formats),
		cmocka_unit_test(test_akpub_garbage),
		cmocka_unit_test(test_pcrfile_serialized),
		cmocka_unit_test(test_pcrfile_real),
		cmocka_unit_test(test_pcrfile_marshaled_and_values),
		cmocka_unit_test(test_pcrfile_text_and_json),
		cmocka_unit_test(write_seeds),
	};

	return qt_exit_status(cmocka_run_group_tests(tests, setup, teardown));
}
