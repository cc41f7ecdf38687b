/*
 * pcrgate-agent (internal): JSON helpers for the agent's documents (signed policies, evidence,
 * certifications): binary fields as base64 or hex, strict readers that name the member that
 * is missing or malformed, and writing a document to a file or stdout.
 */
#ifndef PCRGATE_ATTEST_JSONUTIL_H
#define PCRGATE_ATTEST_JSONUTIL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"

/* New JSON strings of len bytes in base64 (standard alphabet, padded) or lower-case hex; NULL on failure. */
json_t *jsonutil_b64(const uint8_t *buf, size_t len);
json_t *jsonutil_hex(const uint8_t *buf, size_t len);

/* Overwrites the bytes of obj's string member key (a secret in a request body) before it is freed. */
void jsonutil_cleanse_member(json_t *obj, const char *key);

/* {"BANK": {"INDEX": "HEX", ...}, ...}: every value pcrs holds, banks sorted by name; NULL on failure. */
json_t *jsonutil_pcrs(const pcrgate_pcrs *pcrs);

/*
 * Decode member key of obj (base64 or hex) into buf (cap bytes); *len gets the size. A
 * missing member, another type or bad encoding: PCRGATE_ERR_FORMAT naming what.key; base64 is
 * strict (pcrgate_base64_decode) and more than cap bytes of it is PCRGATE_ERR_LIMIT.
 */
int jsonutil_get_b64(const json_t *obj, const char *what, const char *key, uint8_t *buf, size_t cap, size_t *len,
		     pcrgate_errinfo *ei);
int jsonutil_get_hex(const json_t *obj, const char *what, const char *key, uint8_t *buf, size_t cap, size_t *len,
		     pcrgate_errinfo *ei);
/* Member key as a string or object (borrowed), or an error naming it. */
int jsonutil_get_string(const json_t *obj, const char *what, const char *key, const char **out, pcrgate_errinfo *ei);
int jsonutil_get_object(const json_t *obj, const char *what, const char *key, json_t **out, pcrgate_errinfo *ei);

/* Parses a document of at most max bytes that must be one JSON object. */
int jsonutil_parse(const uint8_t *buf, size_t len, size_t max, json_t **out, pcrgate_errinfo *ei);

/* Writes doc (indented, with a final newline) to path atomically (mode 0644), or to stdout when path is NULL or "-". */
int jsonutil_write(const json_t *doc, const char *path, pcrgate_errinfo *ei);
/* The same with the file's mode (0600 for documents that carry a token); the text is wiped after. */
int jsonutil_write_mode(const json_t *doc, const char *path, unsigned mode, pcrgate_errinfo *ei);

#endif
