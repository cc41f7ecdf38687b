/*
 * pcrgate (internal): what lib/quote.c shares with lib/quote_eventlog.c, the eventlog check
 * that runs last: recording a check's outcome in the result, and the quote's selection. Also
 * the JSON PCR reader of lib/tpm2_formats.c, for the evidence parser, which holds the JSON
 * parsed already.
 */
#ifndef PCRGATE_QUOTE_INTERNAL_H
#define PCRGATE_QUOTE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pcrgate/quote.h"

/* Records check as the failed one, in result and in ei as "CHECK: detail"; returns PCRGATE_ERR_VERIFY. */
int quote_reject(pcrgate_quote_result *res, pcrgate_errinfo *ei, pcrgate_quote_check check, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
void quote_pass(pcrgate_quote_result *res, pcrgate_quote_check check);
void quote_skip(pcrgate_quote_result *res, pcrgate_quote_check check);

/* Short hex for messages: the first 8 bytes of a value, then "..." when there are more. */
#define QUOTE_HEX_PREFIX_MAX (2 * 8 + 4)
const char *quote_hex_prefix(const uint8_t *p, size_t len, char out[QUOTE_HEX_PREFIX_MAX]);

/*
 * The quote's mask for bank alg: every entry of that bank counts (an empty entry selects
 * nothing, and pcr-selection refuses a bank selected by two non-empty entries).
 */
uint32_t quote_quoted_mask(const pcrgate_quote_result *res, uint16_t alg);

/* "firmware event log" for a log named "firmware", "event log" for one without a name. */
#define QUOTE_LOG_LABEL_MAX 48
const char *quote_log_label(const struct pcrgate_quote_eventlog *l, char out[QUOTE_LOG_LABEL_MAX]);

/* The input rules for event logs (count, bytes, PCR values to compare with): an invalid argument. */
int quote_check_eventlog_input(const pcrgate_quote_input *in, pcrgate_errinfo *ei);
/* The eventlog check: skipped without logs; every log parsed, replayed in order, compared. */
int quote_check_eventlog(const pcrgate_quote_input *in, pcrgate_quote_result *res, pcrgate_errinfo *ei);

/*
 * The JSON PCR-file reader (PCRGATE_PCRFILE_JSON) on an object already parsed: {"BANK":
 * {"INDEX": "HEX"}}, or an object carrying that under "pcrs". obj is only read; its source
 * must have been parsed with JSON_REJECT_DUPLICATES. *out is written only on success.
 */
int pcrfile_from_json(const json_t *obj, pcrgate_pcrs **out, pcrgate_errinfo *ei);

#endif
