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
 * For a caller that verifies with a key of its own (the verifier: the AK enrolled for the
 * device): ak_public must still frame a TPM2B_PUBLIC of an RSA or ECC key whose name is
 * ak_name, but no OpenSSL key is built from it, and pcrgate_evidence_ak gives NULL.
 */
#define PCRGATE_EVIDENCE_NO_AK_KEY 0x1u

/*
 * The checks of pcrgate_evidence_parse on a document already parsed. The caller owns what
 * those two did: doc must come from a parse with JSON_REJECT_DUPLICATES (jansson keeps only
 * the last of duplicate keys, so they cannot be seen here), and from input capped in size.
 * doc is only read. flags: 0 or PCRGATE_EVIDENCE_NO_AK_KEY. *out is written only on success.
 */
int pcrgate_evidence_parse_json(const json_t *doc, unsigned flags, pcrgate_evidence **out, pcrgate_errinfo *ei);

#endif
