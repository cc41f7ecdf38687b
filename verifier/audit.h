/*
 * pcrgate-verifierd: the append-only audit log. Every decision the verifier makes is one entry
 * in a hash chain (lib/auditchain.h): entry n carries the hash of entry n-1, so an export can
 * be checked offline with `pcrgate audit verify`. The database refuses UPDATE and DELETE on
 * the audit table (triggers); entries are appended in the caller's transaction, so an entry
 * exists exactly when the decision it records was committed.
 */
#ifndef PCRGATE_VERIFIER_AUDIT_H
#define PCRGATE_VERIFIER_AUDIT_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "lib/auditchain.h"
#include "pcrgate/common.h"
#include "verifier/store.h"

/* Caps on an entry's strings (actor, action, subject) and its detail's canonical JSON. */
#define AUDIT_MAX_FIELD 256
#define AUDIT_MAX_DETAIL 16384
/* Cap on the entries one audit_export call returns. */
#define AUDIT_EXPORT_MAX 10000

/*
 * Takes the audit head's row lock (PostgreSQL; a no-op write on SQLite, whose writers the
 * store serializes) for the rest of tx. Every transaction that appends to the audit log calls
 * it first, so all of them lock the head before any other row: a batch of attestations
 * (vstore_submit) holds it while it updates several devices, and a writer that had locked a
 * device first and then waited for the head would deadlock with it.
 */
int audit_lock(vstore_tx *tx, pcrgate_errinfo *ei);
/*
 * Appends one entry (seq = head + 1, at = now) inside tx. Appends serialize across threads
 * and processes: the head row is updated first, which holds a row lock until tx ends on
 * PostgreSQL; SQLite writers are serialized by the store. A transaction that appends takes
 * that lock with audit_lock before it writes anything else. actor, action: required;
 * subject: may be NULL (stored as ""); detail: a JSON object or NULL ({}), borrowed, of plain
 * values (no reals).
 */
int audit_append(vstore_tx *tx, const char *actor, const char *action, const char *subject, const json_t *detail,
		 pcrgate_errinfo *ei);

/* Receives one exported entry: its JSON text of len bytes, without a newline. */
typedef int (*audit_linefn)(const char *line, size_t len, void *arg, pcrgate_errinfo *ei);

/*
 * Exports the entries with seq > after_seq, in order, at most limit (1..AUDIT_EXPORT_MAX;
 * 0 means AUDIT_EXPORT_MAX), one compact JSON object each (auditchain_entry_dump): the
 * JSON-lines form `pcrgate audit verify` reads. *count (may be NULL) gets how many.
 */
int audit_export(vstore_tx *tx, int64_t after_seq, size_t limit, audit_linefn fn, void *arg, size_t *count,
		 pcrgate_errinfo *ei);

/* The last entry's seq and hash (0 and the genesis hash when the log is empty). */
int audit_head(vstore_tx *tx, int64_t *seq, char hash[AUDITCHAIN_HASH_HEX + 1], pcrgate_errinfo *ei);

#endif
