/*
 * pcrgate: reference policies, the JSON documents ("format": "pcrgate-refpolicy", "version": 1)
 * that say what a device's measurements must be: the events allowed on each firmware PCR,
 * events that must be present, the releases (expected PCR 8/9 values) a device may run and the
 * lowest security version it may run. docs/policies.md describes the format and the rules.
 * Internal to pcrgate (the verifier and the tools); not installed.
 */
#ifndef PCRGATE_REFPOLICY_H
#define PCRGATE_REFPOLICY_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"
#include "pcrgate/quote.h"

#define PCRGATE_REFPOLICY_FORMAT "pcrgate-refpolicy"
#define PCRGATE_REFPOLICY_VERSION 1

/* Hard caps on a document; anything beyond them is refused with PCRGATE_ERR_LIMIT. */
#define PCRGATE_REFPOLICY_MAX_SIZE (4u * 1024 * 1024) /* whole document, bytes */
#define PCRGATE_REFPOLICY_MAX_RULES 4096u             /* allow rules, all PCRs together */
#define PCRGATE_REFPOLICY_MAX_REQUIRED 64u            /* required events */
#define PCRGATE_REFPOLICY_MAX_RELEASES 256u           /* releases */
#define PCRGATE_REFPOLICY_MAX_DATA (64u * 1024)       /* event or variable data in one rule, bytes */
#define PCRGATE_REFPOLICY_MAX_NAME 128u               /* policy, release and version names, bytes */
#define PCRGATE_REFPOLICY_MAX_TEXT 1024u              /* description and comment strings, bytes */

typedef struct pcrgate_refpolicy pcrgate_refpolicy;

/*
 * Parses a policy document of len bytes. Strict: unknown members, wrong types, duplicate keys,
 * out-of-range values and documents beyond the caps are refused; ei's message then starts with
 * the JSON path of what was wrong ("$.measurements.7[2].variable.guid: ..."). *out is written
 * only on success.
 */
int pcrgate_refpolicy_parse(const uint8_t *buf, size_t len, pcrgate_refpolicy **out, pcrgate_errinfo *ei);
void pcrgate_refpolicy_free(pcrgate_refpolicy **p);

/* The policy's "name" (borrowed). */
const char *pcrgate_refpolicy_name(const pcrgate_refpolicy *p);
/* SHA-256 of the document bytes as parsed, lower-case hex (borrowed, 64 characters). */
const char *pcrgate_refpolicy_digest(const pcrgate_refpolicy *p);
/* The bank the policy speaks of (PCRGATE_ALG_*; sha256 unless the document says otherwise). */
uint16_t pcrgate_refpolicy_bank(const pcrgate_refpolicy *p);
/* The lowest security version a matched release may have (0 when the document sets none). */
uint64_t pcrgate_refpolicy_min_security_version(const pcrgate_refpolicy *p);
/* Bit n set when the policy needs PCR n in its bank (allow rules, required events, releases). */
uint32_t pcrgate_refpolicy_pcr_mask(const pcrgate_refpolicy *p);

/* Why a device failed a policy. The codes' strings are stable (metrics, stored verdicts). */
typedef enum pcrgate_refpolicy_code {
	PCRGATE_REFPOLICY_MEASUREMENT_NOT_ALLOWED = 0, /* "measurement-not-allowed" */
	PCRGATE_REFPOLICY_REQUIRED_EVENT_MISSING,      /* "required-event-missing" */
	PCRGATE_REFPOLICY_UNKNOWN_RELEASE,             /* "unknown-release" */
	PCRGATE_REFPOLICY_SECURITY_VERSION_LOW,        /* "security-version-below-minimum" */
	PCRGATE_REFPOLICY_PCR_NOT_QUOTED,              /* "pcr-not-quoted" */
	PCRGATE_REFPOLICY_CODE_COUNT
} pcrgate_refpolicy_code;

/* The code's stable string, or NULL when unknown. */
const char *pcrgate_refpolicy_code_name(pcrgate_refpolicy_code code);

/*
 * At most this many reasons are listed, of them at most MAX_EVENT_REASONS of
 * measurement-not-allowed; the others are counted in `omitted` and `counts` ("and N more").
 */
#define PCRGATE_REFPOLICY_MAX_REASONS 16
#define PCRGATE_REFPOLICY_MAX_EVENT_REASONS 8
#define PCRGATE_REFPOLICY_DETAIL_MAX 256

typedef struct pcrgate_refpolicy_reason {
	pcrgate_refpolicy_code code;
	const char *code_name; /* pcrgate_refpolicy_code_name(code): a static string */
	char detail[PCRGATE_REFPOLICY_DETAIL_MAX]; /* names the PCR, the log and event index, the digest */
} pcrgate_refpolicy_reason;

typedef struct pcrgate_refpolicy_verdict {
	int ok; /* 1 when the device satisfies every rule of the policy */
	size_t reason_count; /* entries in reasons[] */
	pcrgate_refpolicy_reason reasons[PCRGATE_REFPOLICY_MAX_REASONS];
	size_t omitted; /* failing reasons found beyond reasons[] ("and N more") */
	size_t counts[PCRGATE_REFPOLICY_CODE_COUNT]; /* every failing reason by code, listed or not */
	/* The release whose PCR values the quote shows; valid when release_matched is set. */
	int release_matched;
	char release_name[PCRGATE_REFPOLICY_MAX_NAME + 1];
	char release_version[PCRGATE_REFPOLICY_MAX_NAME + 1];
	uint64_t security_version;
} pcrgate_refpolicy_verdict;

/*
 * Evaluates a device against the policy. Run it only after pcrgate_quote_verify accepted the
 * quote: quoted holds the quoted PCR values, qr the result of the verification, whose selection
 * and eventlog_verified say which bank:PCRs the quote vouches for and whose eventlogs[] are the
 * logs it replayed, in that order (the firmware's, then the boot extension's): the events read
 * are those the quote verified, parsed once. Events on any other PCR are never trusted: a PCR
 * the policy needs that the quote does not vouch for is reason pcr-not-quoted.
 *
 * Every failing reason is collected, not only the first. Returns 0 when the evaluation ran (v is
 * then filled, v->ok says the outcome), or an error when it could not run (a quote that was not
 * accepted; allocation). v is written only on success.
 */
int pcrgate_refpolicy_evaluate(const pcrgate_refpolicy *p, const pcrgate_pcrs *quoted,
			       const pcrgate_quote_result *qr, pcrgate_refpolicy_verdict *v, pcrgate_errinfo *ei);

/*
 * Helpers shared with `pcrgate policy from-eventlog`, which drafts policies under the same
 * rules the evaluation applies.
 */
struct pcrgate_event;

/* 1 when the PC Client spec makes an event type's digest the hash of its whole event data. */
int pcrgate_refpolicy_type_data_hashed(uint32_t type);
/* 1 for the EFI variable event types, whose data is a UEFI_VARIABLE_DATA. */
int pcrgate_refpolicy_type_variable(uint32_t type);
/*
 * 1 when the event's data may be trusted in bank: its type is one whose digest is the hash of
 * its data, and its digest in that bank is that hash. 0 otherwise (or when it has no digest).
 */
int pcrgate_refpolicy_event_data_trusted(const struct pcrgate_event *ev, uint16_t bank);

/* A UEFI_VARIABLE_DATA, borrowed from the event data. */
struct pcrgate_efi_variable {
	const uint8_t *guid;   /* 16 bytes, EFI_GUID layout */
	const uint8_t *name;   /* UTF-16LE, name_chars characters, no terminator */
	size_t name_chars;
	const uint8_t *data;
	size_t data_len;
};
/* Reads a UEFI_VARIABLE_DATA that takes exactly len bytes; PCRGATE_ERR_FORMAT otherwise. */
int pcrgate_efi_variable_parse(const uint8_t *buf, size_t len, struct pcrgate_efi_variable *var);
/* An EFI_GUID as registry text, "8be4df61-93ca-11d2-aa0d-00e098032b8c" (37 bytes with the NUL). */
void pcrgate_efi_guid_text(const uint8_t guid[16], char out[37]);
/* A UTF-16LE name as UTF-8 (NUL-terminated, cap bytes); PCRGATE_ERR_FORMAT when not valid text
 * (unpaired surrogates, NUL) or PCRGATE_ERR_LIMIT when it does not fit. */
int pcrgate_efi_name_utf8(const uint8_t *name, size_t chars, char *out, size_t cap);

#endif
