/*
 * pcrgate (internal): the audit hash chain shared by the verifier, which appends entries, and
 * `pcrgate audit verify`, which checks an export offline. One entry is the JSON object
 *   {seq, at, actor, action, subject, detail, prev_hash, hash}
 * hash = hex(SHA-256(prev_hash || "\n" || canonical JSON of the entry without "hash")),
 * the canonical JSON being compact with keys sorted at every level; the first entry's
 * prev_hash is AUDITCHAIN_GENESIS (64 zeros).
 */
#ifndef PCRGATE_AUDITCHAIN_H
#define PCRGATE_AUDITCHAIN_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "pcrgate/common.h"

#define AUDITCHAIN_HASH_HEX 64
#define AUDITCHAIN_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"
/* Caps on one entry's JSON line and on its detail's nesting. */
#define AUDITCHAIN_MAX_LINE 65536
#define AUDITCHAIN_MAX_DEPTH 16

/* An entry's fields (all borrowed). detail must be a JSON object. */
struct auditchain_entry {
	int64_t seq;
	int64_t at;
	const char *actor;
	const char *action;
	const char *subject;
	const json_t *detail;
	const char *prev_hash;
};

/*
 * Checks an entry's fields: seq >= 1, at >= 0, strings valid UTF-8 without NUL, detail an
 * object of plain values (no reals, nesting at most AUDITCHAIN_MAX_DEPTH), prev_hash 64
 * lower-case hex digits. PCRGATE_ERR_FORMAT names the field.
 */
int auditchain_check(const struct auditchain_entry *e, pcrgate_errinfo *ei);

/* The entry's hash (64 lower-case hex digits and a NUL) after auditchain_check. */
int auditchain_hash(const struct auditchain_entry *e, char out[AUDITCHAIN_HASH_HEX + 1], pcrgate_errinfo *ei);

/* A detail object's canonical JSON (compact, sorted keys), malloc'd, for storing it. */
int auditchain_canonical(const json_t *obj, char **out, pcrgate_errinfo *ei);

/* The entry with its hash as one line of canonical JSON (no newline), malloc'd. */
int auditchain_entry_dump(const struct auditchain_entry *e, const char *hash, char **out, pcrgate_errinfo *ei);

/*
 * Parses one exported line (at most AUDITCHAIN_MAX_LINE bytes): exactly the eight members of
 * the right types. *doc owns the strings e points to; free it with json_decref. hash gets the
 * line's "hash" member (checked to be 64 lower-case hex digits).
 */
int auditchain_entry_parse(const char *line, size_t len, json_t **doc, struct auditchain_entry *e,
			   char hash[AUDITCHAIN_HASH_HEX + 1], pcrgate_errinfo *ei);

#endif
