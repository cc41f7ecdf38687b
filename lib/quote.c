/*
 * pcrgate: TPM 2.0 quote verification. The checks run strictly in DESIGN.md's order (size,
 * signature, magic, type, qualified-signer, nonce, pcr-selection, pcr-digest, clock, eventlog):
 * nothing in the attest structure is looked at before its signature holds (nor before the AK
 * is known to be a restricted signing key, when its TPM public area says), the event logs are
 * parsed only after everything the signature vouches for passed (lib/quote_eventlog.c), and
 * each rejection names its check.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <openssl/ecdsa.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>

#include "akpub.h"
#include "pcrgate/eventlog.h"
#include "quote_internal.h"
#include "reader.h"

static const char *const check_names[PCRGATE_QUOTE_CHECK_COUNT] = {
	[PCRGATE_QUOTE_CHECK_NONE] = "none",
	[PCRGATE_QUOTE_CHECK_SIZE] = "size",
	[PCRGATE_QUOTE_CHECK_SIGNATURE] = "signature",
	[PCRGATE_QUOTE_CHECK_MAGIC] = "magic",
	[PCRGATE_QUOTE_CHECK_TYPE] = "type",
	[PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER] = "qualified-signer",
	[PCRGATE_QUOTE_CHECK_NONCE] = "nonce",
	[PCRGATE_QUOTE_CHECK_PCR_SELECTION] = "pcr-selection",
	[PCRGATE_QUOTE_CHECK_PCR_DIGEST] = "pcr-digest",
	[PCRGATE_QUOTE_CHECK_CLOCK] = "clock",
	[PCRGATE_QUOTE_CHECK_EVENTLOG] = "eventlog",
};

const char *pcrgate_quote_check_name(pcrgate_quote_check check)
{
	if ((unsigned)check >= PCRGATE_QUOTE_CHECK_COUNT)
		return NULL;
	return check_names[check];
}

int quote_reject(pcrgate_quote_result *res, pcrgate_errinfo *ei, pcrgate_quote_check check, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(res->detail, sizeof(res->detail), fmt, ap);
	va_end(ap);
	res->failed = check;
	res->failed_name = check_names[check];
	pg_debug("%s: %s", res->failed_name, res->detail);
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "%s: %s", res->failed_name,
				   res->detail);
}

void quote_pass(pcrgate_quote_result *res, pcrgate_quote_check check)
{
	res->passed |= 1u << check;
}

void quote_skip(pcrgate_quote_result *res, pcrgate_quote_check check)
{
	res->skipped |= 1u << check;
}

const char *pcrgate_sig_scheme_name(uint16_t scheme)
{
	switch (scheme) {
	case PCRGATE_SIG_RSASSA:
		return "rsassa";
	case PCRGATE_SIG_RSAPSS:
		return "rsapss";
	case PCRGATE_SIG_ECDSA:
		return "ecdsa";
	case PCRGATE_SIG_NULL:
		return "null";
	default:
		return "unknown";
	}
}

const char *quote_hex_prefix(const uint8_t *p, size_t len, char out[QUOTE_HEX_PREFIX_MAX])
{
	size_t n = len < 8 ? len : 8;

	pcrgate_hex_encode(p, n, out);
	if (n < len)
		strcat(out, "...");
	return out;
}

static int check_size(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	char label[QUOTE_LOG_LABEL_MAX];
	size_t i;

	if (in->attest_len == 0 || in->attest_len > PCRGATE_QUOTE_MAX_ATTEST)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIZE, "attest of %zu bytes (1..%u allowed)",
			      in->attest_len, PCRGATE_QUOTE_MAX_ATTEST);
	if (in->signature_len == 0 || in->signature_len > PCRGATE_QUOTE_MAX_SIGNATURE)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIZE, "signature of %zu bytes (1..%u allowed)",
			      in->signature_len, PCRGATE_QUOTE_MAX_SIGNATURE);
	for (i = 0; i < in->eventlog_count; i++)
		if (in->eventlogs[i].len > PCRGATE_EVENTLOG_MAX_SIZE)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIZE, "the %s of %zu bytes (at most %u)",
				      quote_log_label(&in->eventlogs[i], label), in->eventlogs[i].len,
				      PCRGATE_EVENTLOG_MAX_SIZE);
	quote_pass(res, PCRGATE_QUOTE_CHECK_SIZE);
	return PCRGATE_OK;
}

/* ECDSA's r and s as the DER SEQUENCE OpenSSL verifies. */
static int ecdsa_der(const TPMS_SIGNATURE_ECC *ecc, uint8_t *der, size_t cap, size_t *derlen)
{
	ECDSA_SIG *sig = ECDSA_SIG_new();
	BIGNUM *r = BN_bin2bn(ecc->signatureR.buffer, ecc->signatureR.size, NULL);
	BIGNUM *s = BN_bin2bn(ecc->signatureS.buffer, ecc->signatureS.size, NULL);
	unsigned char *p = der;
	int n, rc = PCRGATE_ERR_CRYPTO;

	if (sig == NULL || r == NULL || s == NULL || ECDSA_SIG_set0(sig, r, s) != 1)
		goto fail;
	r = s = NULL;
	if ((n = i2d_ECDSA_SIG(sig, NULL)) <= 0 || (size_t)n > cap || i2d_ECDSA_SIG(sig, &p) != n)
		goto fail;
	*derlen = (size_t)n;
	rc = PCRGATE_OK;
fail:
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(sig);
	return rc;
}

/*
 * An AK from a TPM public area must be a restricted signing key bound to its TPM: a TPM signs a
 * digest of bytes that start with TPM_GENERATED_VALUE with a restricted key only when it made
 * them itself, while an unrestricted key (tpm2_sign) signs anything, forged quotes included.
 * A PEM or DER key does not carry its attributes; the result records that they went unchecked.
 */
static int check_ak_attributes(const pcrgate_akpub *ak, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	static const struct {
		uint32_t bit;
		const char *name;
	} need[] = {
		{TPMA_OBJECT_RESTRICTED, "restricted"},
		{TPMA_OBJECT_SIGN_ENCRYPT, "sign"},
		{TPMA_OBJECT_FIXEDTPM, "fixedTPM"},
		{TPMA_OBJECT_FIXEDPARENT, "fixedParent"},
		{TPMA_OBJECT_SENSITIVEDATAORIGIN, "sensitiveDataOrigin"},
	};
	char missing[96];
	size_t i, used = 0;

	if (!ak->has_tpm)
		return PCRGATE_OK;
	missing[0] = '\0';
	for (i = 0; i < sizeof(need) / sizeof(need[0]); i++)
		if (!(ak->attributes & need[i].bit))
			used += (size_t)snprintf(missing + used, sizeof(missing) - used, "%s%s",
						 used ? ", " : "", need[i].name);
	if (used > 0)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
			      "the AK's objectAttributes 0x%08x lack %s: only a restricted signing key bound "
			      "to its TPM makes quotes that prove anything",
			      ak->attributes, missing);
	if (ak->attributes & TPMA_OBJECT_DECRYPT)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
			      "the AK's objectAttributes 0x%08x have decrypt set: an AK only signs",
			      ak->attributes);
	res->ak_attributes_checked = 1;
	return PCRGATE_OK;
}

static int check_signature(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	const pcrgate_akpub *ak = in->ak;
	uint8_t dgst[PCRGATE_MAX_DIGEST], der[2 * (4 + 66) + 8];
	const uint8_t *sig;
	size_t off = 0, siglen, dlen;
	TPMT_SIGNATURE ts;
	TSS2_RC rc;
	char b1[PCRGATE_ALG_LABEL_MAX], b2[PCRGATE_ALG_LABEL_MAX];
	int r;

	if ((r = check_ak_attributes(ak, res, ei)) != 0)
		return r;
	memset(&ts, 0, sizeof(ts));
	rc = Tss2_MU_TPMT_SIGNATURE_Unmarshal(in->signature, in->signature_len, &off, &ts);
	if (rc != TSS2_RC_SUCCESS)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE, "not a well-formed TPMT_SIGNATURE (%s)",
			      Tss2_RC_Decode(rc));
	if (off != in->signature_len)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE, "%zu bytes after the TPMT_SIGNATURE",
			      in->signature_len - off);
	res->sig_alg = ts.sigAlg;
	switch (ts.sigAlg) {
	case TPM2_ALG_RSASSA:
	case TPM2_ALG_RSAPSS:
		res->hash_alg = ts.signature.rsassa.hash;
		if (ak->key_type != PCRGATE_KEY_RSA)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
				      "an %s signature cannot come from an ECC key",
				      pcrgate_sig_scheme_name(ts.sigAlg));
		break;
	case TPM2_ALG_ECDSA:
		res->hash_alg = ts.signature.ecdsa.hash;
		if (ak->key_type != PCRGATE_KEY_ECC)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
				      "an ecdsa signature cannot come from an RSA key");
		break;
	default:
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
			      "signature scheme 0x%04x not supported (rsassa, rsapss, ecdsa)", ts.sigAlg);
	}
	/* SHA-1 and SM3 quotes are refused: a quote is only as strong as the hash its signature covers. */
	if (res->hash_alg != PCRGATE_ALG_SHA256 && res->hash_alg != PCRGATE_ALG_SHA384 &&
	    res->hash_alg != PCRGATE_ALG_SHA512)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
			      "signature hash %s not accepted (sha256, sha384, sha512)",
			      pcrgate_alg_label(res->hash_alg, b1));
	/* A TPM key bound to a scheme signs only with it; anything else did not come from that key. */
	if (ak->has_tpm && ak->scheme != TPM2_ALG_NULL &&
	    (ak->scheme != ts.sigAlg || ak->scheme_hash != res->hash_alg))
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
			      "the AK signs with %s-%s, the signature is %s-%s",
			      pcrgate_sig_scheme_name(ak->scheme), pcrgate_alg_label(ak->scheme_hash, b1),
			      pcrgate_sig_scheme_name(ts.sigAlg), pcrgate_alg_label(res->hash_alg, b2));

	if (ts.sigAlg == TPM2_ALG_ECDSA) {
		const TPMS_SIGNATURE_ECC *ecc = &ts.signature.ecdsa;
		if (ecc->signatureR.size == 0 || ecc->signatureR.size > ak->field_bytes ||
		    ecc->signatureS.size == 0 || ecc->signatureS.size > ak->field_bytes)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
				      "ECDSA r and s of %u and %u bytes for a %u-bit curve",
				      ecc->signatureR.size, ecc->signatureS.size, ak->bits);
		if (ecdsa_der(ecc, der, sizeof(der), &siglen) != 0)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
				      "cannot encode the ECDSA signature");
		sig = der;
	} else {
		sig = ts.signature.rsassa.sig.buffer;
		siglen = ts.signature.rsassa.sig.size;
		if (siglen != ak->bits / 8)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
				      "RSA signature of %zu bytes for a %u-bit key", siglen, ak->bits);
	}
	dlen = pcrgate_alg_digest_size(res->hash_alg);
	if (pcrgate_digest(res->hash_alg, in->attest, in->attest_len, dgst) != 0) {
		quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE, "cannot hash the attest structure");
		return PCRGATE_ERR_CRYPTO;
	}
	r = akpub_verify_digest(ak, ts.sigAlg, res->hash_alg, sig, siglen, dgst, dlen);
	if (r == PCRGATE_ERR_VERIFY)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE,
			      "the %s-%s signature does not verify with the AK",
			      pcrgate_sig_scheme_name(ts.sigAlg), pcrgate_alg_label(res->hash_alg, b1));
	if (r != 0) {
		quote_reject(res, ei, PCRGATE_QUOTE_CHECK_SIGNATURE, "cannot verify: %s", pcrgate_strerror(r));
		return r;
	}
	quote_pass(res, PCRGATE_QUOTE_CHECK_SIGNATURE);
	return PCRGATE_OK;
}

/* Copies what the caller may want from a parsed quote into the result. */
static size_t clamp(size_t n, size_t cap)
{
	return n < cap ? n : cap;
}

static void record_fields(const TPMS_ATTEST *a, pcrgate_quote_result *res)
{
	const TPML_PCR_SELECTION *sel = &a->attested.quote.pcrSelect;
	const TPM2B_DIGEST *d = &a->attested.quote.pcrDigest;
	size_t i, j;

	res->clock.clock = a->clockInfo.clock;
	res->clock.reset_count = a->clockInfo.resetCount;
	res->clock.restart_count = a->clockInfo.restartCount;
	res->safe = a->clockInfo.safe ? 1 : 0;
	res->firmware_version = a->firmwareVersion;
	/* The unmarshaller bounds every size by its buffer; clamped again so no copy relies on it. */
	res->qualified_signer_len = clamp(a->qualifiedSigner.size, sizeof(res->qualified_signer));
	memcpy(res->qualified_signer, a->qualifiedSigner.name, res->qualified_signer_len);
	res->extra_data_len = clamp(a->extraData.size, sizeof(res->extra_data));
	memcpy(res->extra_data, a->extraData.buffer, res->extra_data_len);
	res->pcr_digest_len = clamp(d->size, sizeof(res->pcr_digest));
	memcpy(res->pcr_digest, d->buffer, res->pcr_digest_len);
	res->selection_count = clamp(sel->count, PCRGATE_QUOTE_MAX_SELECTION);
	for (i = 0; i < res->selection_count; i++) {
		res->selection[i].alg = sel->pcrSelections[i].hash;
		res->selection[i].mask = 0;
		for (j = 0; j < clamp(sel->pcrSelections[i].sizeofSelect, 4); j++)
			res->selection[i].mask |= (uint32_t)sel->pcrSelections[i].pcrSelect[j] << (8 * j);
	}
	res->parsed = 1;
}

_Static_assert(sizeof(((TPM2B_NAME *)0)->name) <= PCRGATE_QUOTE_MAX_NAME, "qualifiedSigner fits the result");
_Static_assert(sizeof(((TPM2B_DATA *)0)->buffer) <= PCRGATE_MAX_DIGEST + 4, "extraData fits the result");
_Static_assert(TPM2_NUM_PCR_BANKS <= PCRGATE_QUOTE_MAX_SELECTION, "selection fits the result");

/* Magic, type, then the whole structure: signed bytes, but still parsed with bounds. */
static int check_magic_type(const pcrgate_quote_input *in, TPMS_ATTEST *a, pcrgate_quote_result *res,
			    pcrgate_errinfo *ei)
{
	struct reader rd;
	uint32_t magic;
	uint16_t type;
	size_t off = 0;
	TSS2_RC rc;

	reader_init(&rd, in->attest, in->attest_len);
	if (reader_u32be(&rd, &magic) != 0)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_MAGIC, "attest of %zu bytes has no magic",
			      in->attest_len);
	if (magic != TPM2_GENERATED_VALUE)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_MAGIC,
			      "magic 0x%08x is not TPM_GENERATED_VALUE: the TPM did not make this structure",
			      magic);
	quote_pass(res, PCRGATE_QUOTE_CHECK_MAGIC);
	if (reader_u16be(&rd, &type) != 0)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_TYPE, "attest of %zu bytes has no type",
			      in->attest_len);
	if (type != TPM2_ST_ATTEST_QUOTE)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_TYPE,
			      "type 0x%04x is not TPM_ST_ATTEST_QUOTE (0x8018)", type);
	memset(a, 0, sizeof(*a));
	rc = Tss2_MU_TPMS_ATTEST_Unmarshal(in->attest, in->attest_len, &off, a);
	if (rc != TSS2_RC_SUCCESS)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_TYPE, "not a well-formed TPMS_ATTEST quote (%s)",
			      Tss2_RC_Decode(rc));
	if (off != in->attest_len)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_TYPE, "%zu bytes after the TPMS_ATTEST quote",
			      in->attest_len - off);
	record_fields(a, res);
	quote_pass(res, PCRGATE_QUOTE_CHECK_TYPE);
	return PCRGATE_OK;
}

static int check_qualified_signer(const pcrgate_quote_input *in, pcrgate_quote_result *res,
				  pcrgate_errinfo *ei)
{
	uint8_t derived[PCRGATE_QUOTE_MAX_NAME];
	size_t derived_len = 0;
	char h1[QUOTE_HEX_PREFIX_MAX], h2[QUOTE_HEX_PREFIX_MAX];

	if (in->ak_qualified_name == NULL && in->ak_parent_qn == NULL) {
		quote_skip(res, PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER);
		return PCRGATE_OK;
	}
	if (in->ak_qualified_name != NULL &&
	    (in->ak_qualified_name_len != res->qualified_signer_len ||
	     !pcrgate_ct_equal(in->ak_qualified_name, res->qualified_signer, res->qualified_signer_len)))
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER,
			      "qualifiedSigner %s is not the expected AK qualified name %s",
			      quote_hex_prefix(res->qualified_signer, res->qualified_signer_len, h1),
			      quote_hex_prefix(in->ak_qualified_name, in->ak_qualified_name_len, h2));
	if (in->ak_parent_qn != NULL) {
		if (pcrgate_akpub_qualified_name(in->ak, in->ak_parent_qn, in->ak_parent_qn_len, derived,
						 &derived_len) != 0)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER,
				      "cannot derive the AK's qualified name from its parent's");
		if (derived_len != res->qualified_signer_len ||
		    !pcrgate_ct_equal(derived, res->qualified_signer, derived_len))
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER,
				      "qualifiedSigner %s is not the AK under the given parent (%s)",
				      quote_hex_prefix(res->qualified_signer, res->qualified_signer_len, h1),
				      quote_hex_prefix(derived, derived_len, h2));
	}
	quote_pass(res, PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER);
	return PCRGATE_OK;
}

static int check_nonce(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	if (in->nonce == NULL) {
		quote_skip(res, PCRGATE_QUOTE_CHECK_NONCE);
		return PCRGATE_OK;
	}
	/* Lengths are public; only the bytes are compared in constant time. */
	if (in->nonce_len != res->extra_data_len)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_NONCE, "extraData of %zu bytes, the nonce has %zu",
			      res->extra_data_len, in->nonce_len);
	if (!pcrgate_ct_equal(in->nonce, res->extra_data, in->nonce_len))
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_NONCE, "extraData is not the nonce");
	quote_pass(res, PCRGATE_QUOTE_CHECK_NONCE);
	return PCRGATE_OK;
}

uint32_t quote_quoted_mask(const pcrgate_quote_result *res, uint16_t alg)
{
	uint32_t mask = 0;
	size_t i;

	for (i = 0; i < res->selection_count; i++)
		if (res->selection[i].alg == alg)
			mask |= res->selection[i].mask;
	return mask;
}

static unsigned lowest_bit(uint32_t m)
{
	return (unsigned)__builtin_ctz(m);
}

static int check_pcr_selection(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	size_t i, j, nb = pcrgate_pcrs_bank_count(in->pcrs);
	char b[PCRGATE_ALG_LABEL_MAX];

	for (i = 0; i < res->selection_count; i++) {
		uint16_t alg = res->selection[i].alg;
		uint32_t q = res->selection[i].mask, s;
		if (q == 0)
			continue;
		if (pcrgate_alg_digest_size(alg) == 0)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_SELECTION,
				      "the quote selects bank %s, unknown here", pcrgate_alg_label(alg, b));
		for (j = 0; j < i; j++)
			if (res->selection[j].alg == alg && res->selection[j].mask != 0)
				return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_SELECTION,
					      "the quote selects bank %s twice", pcrgate_alg_label(alg, b));
		s = pcrgate_pcrs_mask(in->pcrs, alg);
		if (q & ~s)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_SELECTION,
				      "%s:%u is quoted but not supplied", pcrgate_alg_label(alg, b),
				      lowest_bit(q & ~s));
		if (s & ~q)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_SELECTION,
				      "%s:%u is supplied but not quoted", pcrgate_alg_label(alg, b),
				      lowest_bit(s & ~q));
	}
	for (i = 0; i < nb; i++) {
		uint16_t alg = pcrgate_pcrs_bank_alg(in->pcrs, i);
		uint32_t s = pcrgate_pcrs_mask(in->pcrs, alg);
		if (s != 0 && quote_quoted_mask(res, alg) == 0)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_SELECTION,
				      "%s:%u is supplied but not quoted", pcrgate_alg_label(alg, b), lowest_bit(s));
	}
	quote_pass(res, PCRGATE_QUOTE_CHECK_PCR_SELECTION);
	return PCRGATE_OK;
}

static int check_pcr_digest(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	/* The selection matched the set, which holds at most MAX_BANKS banks of MAX_PCRS values. */
	uint8_t buf[PCRGATE_MAX_BANKS * PCRGATE_MAX_PCRS * PCRGATE_MAX_DIGEST], dgst[PCRGATE_MAX_DIGEST];
	size_t i, used = 0, dlen = pcrgate_alg_digest_size(res->hash_alg), vlen;
	char h1[QUOTE_HEX_PREFIX_MAX], h2[QUOTE_HEX_PREFIX_MAX], b[PCRGATE_ALG_LABEL_MAX];
	unsigned k;

	for (i = 0; i < res->selection_count; i++) {
		for (k = 0; k < PCRGATE_MAX_PCRS; k++) {
			const uint8_t *v;
			if (!(res->selection[i].mask & ((uint32_t)1 << k)))
				continue;
			v = pcrgate_pcrs_get(in->pcrs, res->selection[i].alg, k, &vlen);
			if (v == NULL || vlen > sizeof(buf) - used)
				return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_DIGEST, "no room for %s:%u",
					      pcrgate_alg_label(res->selection[i].alg, b), k);
			memcpy(buf + used, v, vlen);
			used += vlen;
		}
	}
	if (pcrgate_digest(res->hash_alg, buf, used, dgst) != 0) {
		quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_DIGEST, "cannot hash the PCR values");
		return PCRGATE_ERR_CRYPTO;
	}
	if (res->pcr_digest_len != dlen)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_DIGEST, "pcrDigest of %zu bytes, %s gives %zu",
			      res->pcr_digest_len, pcrgate_alg_label(res->hash_alg, b), dlen);
	if (!pcrgate_ct_equal(dgst, res->pcr_digest, dlen))
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_PCR_DIGEST,
			      "the supplied PCR values hash to %s, the quote's pcrDigest is %s",
			      quote_hex_prefix(dgst, dlen, h1), quote_hex_prefix(res->pcr_digest, dlen, h2));
	quote_pass(res, PCRGATE_QUOTE_CHECK_PCR_DIGEST);
	return PCRGATE_OK;
}

/*
 * resetCount never goes down; restartCount never goes down while resetCount stays (a reset
 * zeroes it); Clock never goes down, unless the caller accepts the TPM's own report of a Clock
 * restored after a power cut. A reset, restart or restored Clock is recorded in the result.
 */
static int check_clock(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	const pcrgate_clock_state *p = in->previous, *c = &res->clock;

	if (p == NULL) {
		quote_skip(res, PCRGATE_QUOTE_CHECK_CLOCK);
		return PCRGATE_OK;
	}
	if (c->reset_count < p->reset_count)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_CLOCK, "resetCount went back from %u to %u",
			      p->reset_count, c->reset_count);
	if (c->reset_count == p->reset_count && c->restart_count < p->restart_count)
		return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_CLOCK,
			      "restartCount went back from %u to %u without a reset", p->restart_count,
			      c->restart_count);
	if (c->clock < p->clock) {
		if (!in->accept_clock_restore || c->reset_count == p->reset_count || res->safe)
			return quote_reject(res, ei, PCRGATE_QUOTE_CHECK_CLOCK,
				      "clock went back from %llu to %llu ms%s", (unsigned long long)p->clock,
				      (unsigned long long)c->clock,
				      c->reset_count > p->reset_count && !res->safe
					      ? " after an unorderly reset (safe = NO)"
					      : "");
		res->clock_restored = 1;
	}
	res->rebooted = c->reset_count > p->reset_count;
	res->restarted = !res->rebooted && c->restart_count > p->restart_count;
	quote_pass(res, PCRGATE_QUOTE_CHECK_CLOCK);
	return PCRGATE_OK;
}

int pcrgate_quote_verify(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei)
{
	TPMS_ATTEST attest;
	int r;

	if (res == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "no result given");
	memset(res, 0, sizeof(*res));
	if (in == NULL || in->ak == NULL || in->ak->pkey == NULL ||
	    (in->attest == NULL && in->attest_len > 0) || (in->signature == NULL && in->signature_len > 0))
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					"a quote needs an AK, an attest structure and a signature");
	else if (in->ak_parent_qn != NULL && !in->ak->has_tpm)
		r = pcrgate_errinfo_set(
			ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
			"the AK's qualified name needs its TPM public area, not a PEM or DER key");
	else if (in->ak_parent_qn != NULL &&
		 (in->ak_parent_qn_len == 0 || in->ak_parent_qn_len > PCRGATE_QUOTE_MAX_NAME))
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					"a parent's qualified name of %zu bytes", in->ak_parent_qn_len);
	else
		r = quote_check_eventlog_input(in, ei);
	if (r != 0) {
		snprintf(res->detail, sizeof(res->detail), "%s", ei ? ei->message : "invalid argument");
		return r;
	}

	if ((r = check_size(in, res, ei)) != 0 || (r = check_signature(in, res, ei)) != 0 ||
	    (r = check_magic_type(in, &attest, res, ei)) != 0 ||
	    (r = check_qualified_signer(in, res, ei)) != 0 || (r = check_nonce(in, res, ei)) != 0)
		return r;
	if (in->pcrs == NULL) {
		quote_skip(res, PCRGATE_QUOTE_CHECK_PCR_SELECTION);
		quote_skip(res, PCRGATE_QUOTE_CHECK_PCR_DIGEST);
	} else if ((r = check_pcr_selection(in, res, ei)) != 0 || (r = check_pcr_digest(in, res, ei)) != 0) {
		return r;
	}
	if ((r = check_clock(in, res, ei)) != 0 || (r = quote_check_eventlog(in, res, ei)) != 0)
		return r;
	return PCRGATE_OK;
}
