/*
 * pcrgate (internal): the evidence document's parser for a caller that has parsed the JSON
 * already (the verifier's HTTP layer), so the document is not printed and parsed again.
 * pcrgate_evidence_parse is this, after its size cap and its own parse.
 */
#ifndef PCRGATE_EVIDENCE_INTERNAL_H
#define PCRGATE_EVIDENCE_INTERNAL_H

#include <jansson.h>

#include "pcrgate/evidence.h"

/*
 * The checks of pcrgate_evidence_parse on a document already parsed. The caller owns what
 * those two did: doc must come from a parse with JSON_REJECT_DUPLICATES (jansson keeps only
 * the last of duplicate keys, so they cannot be seen here), and from input capped in size.
 * doc is only read. *out is written only on success.
 */
int pcrgate_evidence_parse_json(const json_t *doc, pcrgate_evidence **out, pcrgate_errinfo *ei);

#endif
