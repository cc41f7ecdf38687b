/*
 * pcrgate: the evidence document a device's agent sends (`pcrgate-agent quote`): its quote,
 * signature, attestation key, PCR values, clock and event logs in one JSON object of format
 * "pcrgate-evidence", version 1. Parsed strictly (untrusted input), then handed to
 * pcrgate_quote_verify; nothing in it is trusted before that verification passes.
 */
#ifndef PCRGATE_EVIDENCE_H
#define PCRGATE_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/common.h"
#include "pcrgate/eventlog.h"
#include "pcrgate/pcrs.h"
#include "pcrgate/quote.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pcrgate_evidence pcrgate_evidence;

#define PCRGATE_EVIDENCE_FORMAT "pcrgate-evidence"
#define PCRGATE_EVIDENCE_VERSION 1

/* Caps on members (bytes after decoding); a document is refused whole when one is exceeded. */
#define PCRGATE_EVIDENCE_MAX_NONCE 64	     /* a TPM2B_DATA */
#define PCRGATE_EVIDENCE_MAX_AK_PUBLIC 2048 /* a marshalled TPM2B_PUBLIC, with room to spare */
#define PCRGATE_EVIDENCE_MAX_EVENTLOGS 2    /* "firmware" and "boot" */
/* The whole document: two event logs at their cap in base64, and 1 MiB for everything else. */
#define PCRGATE_EVIDENCE_MAX_SIZE \
	(PCRGATE_EVIDENCE_MAX_EVENTLOGS * 4u * ((PCRGATE_EVENTLOG_MAX_SIZE + 2u) / 3u) + 1024u * 1024u)

/*
 * Parses a document of len bytes (larger than PCRGATE_EVIDENCE_MAX_SIZE: refused before any
 * parsing). Strict: the format and version must be these; every member listed in
 * docs/quote-verification.md must be there with its type and within its cap, and no other;
 * hex and base64 must decode (errors name the member, "eventlogs.boot"); ak_public must load as
 * a TPM2B_PUBLIC whose name is ak_name. *out is written only on success.
 */
PCRGATE_API int pcrgate_evidence_parse(const uint8_t *buf, size_t len, pcrgate_evidence **out,
				       pcrgate_errinfo *ei);
/* Frees ev (NULL is fine) and sets *ev to NULL. */
PCRGATE_API void pcrgate_evidence_free(pcrgate_evidence **ev);

/*
 * Getters: borrowed, valid until the document is freed. The nonce is the one the device says it
 * answered: a verifier checks the quote against its own nonce, never against this one.
 */
PCRGATE_API const uint8_t *pcrgate_evidence_nonce(const pcrgate_evidence *ev, size_t *len);
/* ak_public as sent (a marshalled TPM2B_PUBLIC), and that key loaded. */
PCRGATE_API const uint8_t *pcrgate_evidence_ak_public(const pcrgate_evidence *ev, size_t *len);
PCRGATE_API const pcrgate_akpub *pcrgate_evidence_ak(const pcrgate_evidence *ev);
PCRGATE_API const uint8_t *pcrgate_evidence_ak_name(const pcrgate_evidence *ev, size_t *len);
PCRGATE_API const uint8_t *pcrgate_evidence_ak_qualified_name(const pcrgate_evidence *ev, size_t *len);
PCRGATE_API const uint8_t *pcrgate_evidence_attest(const pcrgate_evidence *ev, size_t *len);
PCRGATE_API const uint8_t *pcrgate_evidence_signature(const pcrgate_evidence *ev, size_t *len);
PCRGATE_API const pcrgate_pcrs *pcrgate_evidence_pcrs(const pcrgate_evidence *ev);
/*
 * The clock member as the device states it (the quote's own clockInfo is what verification
 * reads): clock, resetCount, restartCount, and safe and firmware_version (either may be NULL).
 */
PCRGATE_API int pcrgate_evidence_clock(const pcrgate_evidence *ev, pcrgate_clock_state *clock, int *safe,
				       uint64_t *firmware_version);
/* The event logs in replay order (the firmware's first, then the boot extension's). */
PCRGATE_API size_t pcrgate_evidence_eventlog_count(const pcrgate_evidence *ev);
/* The i-th log's bytes and *name ("firmware", "boot"); NULL when i is out of range. */
PCRGATE_API const uint8_t *pcrgate_evidence_eventlog(const pcrgate_evidence *ev, size_t i, const char **name,
						     size_t *len);

/*
 * Fills a zeroed quote input from the document: attest, signature, pcrs, ak_qualified_name and
 * the event logs in order (firmware, then boot). ak, nonce and previous are left to the
 * caller: the AK is the enrolled one, the nonce the verifier's own. The input borrows from ev.
 */
PCRGATE_API int pcrgate_evidence_quote_input(const pcrgate_evidence *ev, pcrgate_quote_input *in);

/*
 * The qualifying data a quote carries when a device binds a report to its evidence:
 * SHA-256(nonce || report), into out (32 bytes).
 */
#define PCRGATE_EVIDENCE_BINDING_SIZE 32
PCRGATE_API int pcrgate_evidence_report_binding(const uint8_t *nonce, size_t nonce_len, const uint8_t *report,
						size_t report_len, uint8_t out[PCRGATE_EVIDENCE_BINDING_SIZE]);

#ifdef __cplusplus
}
#endif
#endif
