/*
 * pcrgate: TPM 2.0 quote verification. An attestation key's public part (pcrgate_akpub), the
 * checks a quote must pass in the order DESIGN.md fixes, and readers for the PCR files that
 * accompany a quote (tpm2-tools' formats and ours).
 */
#ifndef PCRGATE_QUOTE_H
#define PCRGATE_QUOTE_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/alg.h"
#include "pcrgate/common.h"
#include "pcrgate/eventlog.h"
#include "pcrgate/pcrs.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Attestation key public part ---- */

typedef struct pcrgate_akpub pcrgate_akpub;

enum pcrgate_akpub_format {
	PCRGATE_AKPUB_NONE = 0,		/* nothing loaded yet */
	PCRGATE_AKPUB_PEM = 1,		/* PEM SubjectPublicKeyInfo ("PUBLIC KEY") */
	PCRGATE_AKPUB_DER = 2,		/* DER SubjectPublicKeyInfo */
	PCRGATE_AKPUB_TPM2B_PUBLIC = 3, /* marshalled TPM2B_PUBLIC (tpm2_readpublic -o, tpm2_createak -u) */
	PCRGATE_AKPUB_TPMT_PUBLIC = 4,	/* marshalled TPMT_PUBLIC */
};

/* Key types, as TPM_ALG_IDs. */
#define PCRGATE_KEY_RSA 0x0001
#define PCRGATE_KEY_ECC 0x0023

/* Signature schemes, as TPM_ALG_IDs. */
#define PCRGATE_SIG_RSASSA 0x0014
#define PCRGATE_SIG_RSAPSS 0x0016
#define PCRGATE_SIG_ECDSA  0x0018
#define PCRGATE_SIG_NULL   0x0010

/* "rsassa", "rsapss", "ecdsa", "null"; "unknown" for any other scheme (never NULL). */
PCRGATE_API const char *pcrgate_sig_scheme_name(uint16_t scheme);

/* A TPM name: nameAlg (2 bytes) then the digest; room as in TPM2B_NAME. */
#define PCRGATE_QUOTE_MAX_NAME (4 + PCRGATE_MAX_DIGEST)

PCRGATE_API pcrgate_akpub *pcrgate_akpub_new(void);
PCRGATE_API void pcrgate_akpub_free(pcrgate_akpub **ak);

/*
 * Loads a public key, detecting its format: PEM or DER SubjectPublicKeyInfo, TPM2B_PUBLIC or
 * TPMT_PUBLIC (which must take every byte). RSA and ECC P-256/P-384/P-521 keys only. A TPM
 * public area also gives the key's TPM name, scheme and attributes. Replaces what ak held;
 * on failure ak is unchanged. A loaded key may verify quotes in several threads at once, but
 * must not be reloaded while it does.
 */
PCRGATE_API int pcrgate_akpub_load(pcrgate_akpub *ak, const uint8_t *buf, size_t len, pcrgate_errinfo *ei);

PCRGATE_API int pcrgate_akpub_format(const pcrgate_akpub *ak);
/* PCRGATE_KEY_RSA or PCRGATE_KEY_ECC (0 when nothing is loaded), and the key size in bits. */
PCRGATE_API uint16_t pcrgate_akpub_key_type(const pcrgate_akpub *ak);
PCRGATE_API unsigned pcrgate_akpub_bits(const pcrgate_akpub *ak);
/* The TPM name (nameAlg || digest of the public area); NULL for a PEM or DER key. */
PCRGATE_API const uint8_t *pcrgate_akpub_name(const pcrgate_akpub *ak, size_t *len);
/*
 * The key's qualified name, which a quote names as its qualifiedSigner: nameAlg ||
 * H(parent's qualified name || name). A primary key's parent is its hierarchy, whose
 * qualified name is its handle (4 bytes, e.g. 4000000b for the endorsement hierarchy).
 * Needs a TPM public area (PCRGATE_ERR_NOT_FOUND for a PEM or DER key). out and *out_len
 * are written only on success.
 */
PCRGATE_API int pcrgate_akpub_qualified_name(const pcrgate_akpub *ak, const uint8_t *parent_qn,
					     size_t parent_qn_len, uint8_t out[PCRGATE_QUOTE_MAX_NAME],
					     size_t *out_len);
/*
 * From a TPM public area: the objectAttributes, and the signing scheme and its hash
 * (PCRGATE_SIG_NULL and 0 when the key leaves them open). Returns 0 when the key has them,
 * PCRGATE_ERR_NOT_FOUND for a PEM or DER key.
 */
PCRGATE_API int pcrgate_akpub_tpm_info(const pcrgate_akpub *ak, uint32_t *attributes, uint16_t *scheme,
				       uint16_t *scheme_hash);

/*
 * 1 when a and b hold the same public key (and, when both come from TPM public areas, the same
 * TPM name, which covers the attributes and policy too); 0 otherwise or when either is empty.
 */
PCRGATE_API int pcrgate_akpub_same_key(const pcrgate_akpub *a, const pcrgate_akpub *b);

/* ---- Quote verification ---- */

/* The checks, in the order they run. */
typedef enum pcrgate_quote_check {
	PCRGATE_QUOTE_CHECK_NONE = 0, /* every check that ran passed */
	PCRGATE_QUOTE_CHECK_SIZE,
	PCRGATE_QUOTE_CHECK_SIGNATURE,
	PCRGATE_QUOTE_CHECK_MAGIC,
	PCRGATE_QUOTE_CHECK_TYPE,
	PCRGATE_QUOTE_CHECK_QUALIFIED_SIGNER,
	PCRGATE_QUOTE_CHECK_NONCE,
	PCRGATE_QUOTE_CHECK_PCR_SELECTION,
	PCRGATE_QUOTE_CHECK_PCR_DIGEST,
	PCRGATE_QUOTE_CHECK_CLOCK,
	PCRGATE_QUOTE_CHECK_EVENTLOG,
	PCRGATE_QUOTE_CHECK_COUNT
} pcrgate_quote_check;

/* "size", "signature", "magic", "type", "qualified-signer", "nonce", "pcr-selection",
 * "pcr-digest", "clock", "eventlog"; "none" for PCRGATE_QUOTE_CHECK_NONE; NULL when unknown. */
PCRGATE_API const char *pcrgate_quote_check_name(pcrgate_quote_check check);

/* Caps applied before any other work. */
#define PCRGATE_QUOTE_MAX_ATTEST    2304 /* a TPM2B_ATTEST's buffer */
#define PCRGATE_QUOTE_MAX_SIGNATURE 518	 /* a TPMT_SIGNATURE with an RSA-4096 signature */
/* Each event log's cap is PCRGATE_EVENTLOG_MAX_SIZE (pcrgate/eventlog.h), also checked first. */

/* What a TPM's clock said at the time of a quote; the previous one is checked for monotonicity. */
typedef struct pcrgate_clock_state {
	uint64_t clock;
	uint32_t reset_count;
	uint32_t restart_count;
} pcrgate_clock_state;

/* One event log among several (pcrgate_quote_input.eventlogs): a name for messages, raw bytes. */
#define PCRGATE_QUOTE_MAX_EVENTLOGS 4
#define PCRGATE_QUOTE_MAX_LOG_NAME 64 /* room for a log's name in a result, NUL included */
struct pcrgate_quote_eventlog {
	const char *name; /* "firmware", "boot", ...; NULL reads as "event log" */
	const uint8_t *data;
	size_t len;
};

/* Inputs of one verification. Zero it first; optional inputs left NULL skip their check. */
typedef struct pcrgate_quote_input {
	const pcrgate_akpub *ak; /* required */
	const uint8_t *attest;	 /* marshalled TPMS_ATTEST (tpm2_quote -m), required */
	size_t attest_len;
	const uint8_t *signature; /* marshalled TPMT_SIGNATURE (tpm2_quote -s), required */
	size_t signature_len;
	const uint8_t *nonce; /* expected extraData; non-NULL means checked (nonce_len may be 0) */
	size_t nonce_len;
	const pcrgate_pcrs *pcrs; /* the PCR values quoted: selection and digest checks */
	/*
	 * qualifiedSigner is the AK's qualified name, not its name. Give it (tpm2_readpublic -q), or
	 * the parent's qualified name for it to be derived from the AK's TPM public area, or both.
	 */
	const uint8_t *ak_qualified_name;
	size_t ak_qualified_name_len;
	const uint8_t *ak_parent_qn;
	size_t ak_parent_qn_len;
	const pcrgate_clock_state *previous; /* the device's previous accepted clock state */
	/*
	 * Named workaround, off by default: after a power cut (no TPM2_Shutdown) a TPM restores
	 * Clock from its last NV save, which may be below what it reported before, and says so
	 * with clockInfo.safe = NO. When set, a Clock below the previous one is accepted only if
	 * the TPM was reset since and reports safe = NO; result->clock_restored records it.
	 */
	int accept_clock_restore;
	/*
	 * TCG event logs as raw bytes (untrusted), replayed against pcrs (which they then need):
	 * eventlogs[0..eventlog_count), the firmware's then the boot extension's, replayed in this
	 * order into one PCR state. Each is size-checked first and parsed only when the eventlog
	 * check runs, after every check of the signed quote passed; messages name a log by name.
	 */
	struct pcrgate_quote_eventlog eventlogs[PCRGATE_QUOTE_MAX_EVENTLOGS];
	size_t eventlog_count;
} pcrgate_quote_input;

#define PCRGATE_QUOTE_MAX_SELECTION 16 /* TPMS_PCR_SELECTIONs in one TPML_PCR_SELECTION */

typedef struct pcrgate_quote_result {
	pcrgate_quote_check failed; /* PCRGATE_QUOTE_CHECK_NONE when the quote is accepted */
	const char *failed_name;    /* pcrgate_quote_check_name(failed), NULL when accepted */
	char detail[256];	    /* why it failed */
	uint32_t passed;	    /* bit (1u << check) for each check that ran and passed */
	uint32_t skipped;	    /* bit (1u << check) for each check skipped for want of input */

	/* From the signature, once it unmarshalled. */
	uint16_t sig_alg;  /* PCRGATE_SIG_* */
	uint16_t hash_alg; /* PCRGATE_ALG_*, also the pcrDigest's algorithm */
	/*
	 * 1 when the AK's objectAttributes were checked (a TPM public area: restricted signing
	 * key, fixedTPM, fixedParent, sensitiveDataOrigin, no decrypt); 0 for a PEM or DER AK,
	 * which does not carry them: then only enrollment can vouch that it is a restricted key.
	 */
	int ak_attributes_checked;

	/* From the attest structure: valid when `parsed` is set (the signature held and it parsed). */
	int parsed;
	pcrgate_clock_state clock;
	int safe; /* the TPM's clockInfo.safe */
	uint64_t firmware_version;
	uint8_t qualified_signer[PCRGATE_QUOTE_MAX_NAME];
	size_t qualified_signer_len;
	uint8_t extra_data[PCRGATE_MAX_DIGEST + 4];
	size_t extra_data_len;
	size_t selection_count;
	struct {
		uint16_t alg;
		uint32_t mask; /* bit i: PCR i is quoted */
	} selection[PCRGATE_QUOTE_MAX_SELECTION];
	uint8_t pcr_digest[PCRGATE_MAX_DIGEST];
	size_t pcr_digest_len;

	/* From the clock check against input->previous. */
	int rebooted;	    /* resetCount went up: the TPM was reset (a reboot) since the previous quote */
	int restarted;	    /* restartCount went up without a reset: a resume from hibernation */
	int clock_restored; /* Clock went back after an unorderly reset (accept_clock_restore) */

	/*
	 * From the eventlog check, when it passed: every quoted PCR is then explained by the logs.
	 * eventlog_compared counts the quoted bank:index pairs some log extends (replayed and
	 * compared); the others were at their reset value. eventlog_verified[i].mask has bit k
	 * set when PCR k of bank eventlog_verified[i].alg is quoted and the logs explain it: only
	 * events on those PCRs are vouched for by the quote, events on any other PCR are not.
	 */
	size_t eventlog_compared;
	size_t eventlog_verified_count;
	struct {
		uint16_t alg;
		uint32_t mask;
	} eventlog_verified[PCRGATE_MAX_BANKS];
	/*
	 * The logs the eventlog check parsed and replayed, kept when it passed, in the input's
	 * order with their names (cut to PCRGATE_QUOTE_MAX_LOG_NAME - 1 bytes), so that what reads
	 * the events next (pcrgate_refpolicy_evaluate) reads those the quote vouched for without
	 * parsing them again. Owned by the result: pcrgate_quote_result_clear frees them.
	 */
	size_t eventlog_count;
	struct {
		char name[PCRGATE_QUOTE_MAX_LOG_NAME]; /* "" when the input gave none */
		pcrgate_eventlog *log;
	} eventlogs[PCRGATE_QUOTE_MAX_EVENTLOGS];
} pcrgate_quote_result;

/*
 * Runs every check the input allows, in DESIGN.md's order, and stops at the first that fails.
 * result is always filled (from zero): the failed check, its detail and what was parsed so far,
 * and when the eventlog check passed the parsed logs, which pcrgate_quote_result_clear frees.
 * Returns 0
 * when the quote is accepted, PCRGATE_ERR_VERIFY when a check failed (ei then holds the
 * detail), or another error when the input itself is unusable (no AK, eventlog without pcrs).
 *
 * The eventlog check: the logs are replayed in order into one PCR state (a PCR starts as a
 * replay of one log starts it, PCR 0 with the first log's StartupLocality or H-CRTM value, which
 * no later log may set). Every bank the quote selects must be one every log carries; each quoted
 * PCR some log extends must replay to the quoted value; each quoted PCR no log extends must hold
 * its reset value (PCR 0: zeros with the first log's StartupLocality or H-CRTM value in the last
 * byte; PCRs 17 to 22: all 0xff; any other: zeros); logs that extend none of the quoted PCRs are
 * refused. So quote only PCRs the logs describe.
 */
PCRGATE_API int pcrgate_quote_verify(const pcrgate_quote_input *in, pcrgate_quote_result *result,
				     pcrgate_errinfo *ei);
/*
 * Frees what a result owns (the event logs it kept; eventlog_count becomes 0); every other
 * member keeps its value. Call it when done with a result pcrgate_quote_verify filled, and
 * before filling it again: verification starts from a zeroed result. NULL is ignored.
 */
PCRGATE_API void pcrgate_quote_result_clear(pcrgate_quote_result *result);

/* ---- PCR files that come with a quote ---- */

enum pcrgate_pcrfile_format {
	PCRGATE_PCRFILE_AUTO = 0,
	PCRGATE_PCRFILE_SERIALIZED, /* tpm2_quote -o (-F serialized, the default): host structs, LE */
	PCRGATE_PCRFILE_MARSHALED,  /* tpm2_quote -o -F marshaled (tpm2-tools 5.6 and later) */
	PCRGATE_PCRFILE_VALUES,	    /* tpm2_quote -o -F values: digests only, selection from the quote */
	PCRGATE_PCRFILE_TEXT,	    /* lines BANK:INDEX=HEX, as `pcrgate eventlog pcrs` prints */
	PCRGATE_PCRFILE_JSON,	    /* {"sha256": {"16": "HEX", ...}, ...} */
};

/* Caps on a PCR file. */
#define PCRGATE_PCRFILE_MAX (1024u * 1024)

/*
 * Reads a PCR file into a new pcrgate_pcrs. With PCRGATE_PCRFILE_AUTO the format is detected;
 * *detected (may be NULL) gets it. The values format carries no selection: it is taken from
 * attest (a marshalled TPMS_ATTEST of a quote), which that format needs and the others ignore.
 */
PCRGATE_API int pcrgate_pcrfile_parse(const uint8_t *buf, size_t len, int format, const uint8_t *attest,
				      size_t attest_len, pcrgate_pcrs **out, int *detected,
				      pcrgate_errinfo *ei);
/* "serialized", "marshaled", "values", "text", "json"; NULL when unknown. */
PCRGATE_API const char *pcrgate_pcrfile_format_name(int format);
PCRGATE_API int pcrgate_pcrfile_format_from_name(const char *name);

#ifdef __cplusplus
}
#endif
#endif
