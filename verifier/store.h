/*
 * pcrgate-verifierd: the verifier's storage layer. One API over SQLite (the embedded default,
 * WAL) and PostgreSQL (libpq, for several verifiers sharing one database): a pool of
 * connections, transactions run by a callback and retried on serialization failures, and
 * statements with `?` placeholders and typed parameters. docs/verifier-storage.md describes
 * the schema and both backends.
 */
#ifndef PCRGATE_VERIFIER_STORE_H
#define PCRGATE_VERIFIER_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "pcrgate/common.h"

typedef struct vstore vstore;
typedef struct vstore_tx vstore_tx;

/* The pool size when the URL names none (pool=N), and its cap. */
#define VSTORE_POOL_DEFAULT 4
#define VSTORE_POOL_MAX 64
/* How often vstore_run runs a transaction that failed on a serialization failure, deadlock or busy lock. */
#define VSTORE_MAX_ATTEMPTS 8
/* Caps on one statement: its SQL text and its parameters. */
#define VSTORE_MAX_SQL 16384
#define VSTORE_MAX_PARAMS 64

/*
 * A unique, foreign-key, check or not-null constraint refused a write: vstore_exec returns
 * this code (with a message naming the constraint), so a handler can answer 409.
 */
#define VSTORE_ERR_CONSTRAINT PCRGATE_ERR_INVALID_ARGUMENT

/*
 * Opens a store and brings its schema up to date (migrations run under a lock, so verifiers
 * starting at once on one PostgreSQL do not race). url:
 *   sqlite:/path/to/db[?pool=N]        a file (created when missing), journal_mode=WAL
 *   postgresql://... or postgres://... a libpq URI; an extra query parameter pool=N is taken
 *                                      out before libpq sees it
 *   pg:KEYWORD=VALUE ...               a libpq keyword string; pool=N likewise
 * Passwords in the URL never appear in a log or an error message.
 */
int vstore_open(const char *url, vstore **out, pcrgate_errinfo *ei);
/*
 * Closes every pooled connection, after the writer thread ran what was submitted; NULL-safe,
 * sets *s to NULL. No vstore_run or vstore_submit may be running.
 */
void vstore_close(vstore **s);
/* "sqlite" or "postgresql". */
const char *vstore_backend(const vstore *s);
/* The schema version the store is at (the number of migrations applied). */
int vstore_schema_version(const vstore *s);

/* A transaction body: 0 commits, a negative PCRGATE_ERR_* rolls back and is returned by vstore_run. */
typedef int (*vstore_txfn)(vstore_tx *tx, void *arg, pcrgate_errinfo *ei);

/*
 * Runs fn in one transaction on a pooled connection (waiting for a free one), commits when fn
 * returns 0 and rolls back otherwise. When a statement in it failed on a serialization
 * failure or deadlock (PostgreSQL SQLSTATE 40001, 40P01) or a busy database (SQLite), the
 * whole transaction is rolled back and fn runs again, at most VSTORE_MAX_ATTEMPTS times, so
 * fn must keep no effects of its own outside the database between attempts (or reset them
 * first). Thread-safe. On PostgreSQL the isolation is READ COMMITTED: make writes that must
 * happen once conditional (UPDATE ... WHERE used = 0) and check *changes. On SQLite the
 * transaction takes the write lock at its start (BEGIN IMMEDIATE), so writers serialize.
 */
int vstore_run(vstore *s, vstore_txfn fn, void *arg, pcrgate_errinfo *ei);
/* As vstore_run for a transaction that only reads (PostgreSQL READ ONLY; SQLite takes no write lock). */
int vstore_run_read(vstore *s, vstore_txfn fn, void *arg, pcrgate_errinfo *ei);
/*
 * What vstore_submit reports, on the store's writer thread: rc is fn's result when the batch
 * committed (0: fn's writes are committed), else the batch's failure; ei says why (NULL when
 * rc is 0). It must be quick and must not use the store (it holds up the next batch).
 */
typedef void (*vstore_donefn)(void *arg, int rc, const pcrgate_errinfo *ei);
/*
 * Runs fn in a write transaction later, and reports to done. The store's writer thread (with
 * a connection of its own, besides the pool) runs the transactions queued meanwhile (at most
 * VSTORE_BATCH_MAX) as one, each in its own savepoint, so a fn that fails is rolled back
 * alone, and commits them together ("group commit"): one commit, and one WAL write of each
 * page they share, per batch instead of per transaction. fn follows vstore_run's rules (a
 * batch that meets a serialization failure, deadlock or busy database is run again whole, so
 * fn may be too); vstore_tx_durable in one makes the whole batch durable before done is
 * called. 0 when done will be called; otherwise (the store is closing, or no writer thread
 * could be started) done is never called.
 */
int vstore_submit(vstore *s, vstore_txfn fn, vstore_donefn done, void *arg, pcrgate_errinfo *ei);
#define VSTORE_BATCH_MAX 64
/*
 * Asks that tx, once committed, be on disk before vstore_run returns: for a decision whose
 * answer leaves the verifier (an update authorization), which must not be forgotten after a
 * power cut. SQLite's commits are otherwise synced only at checkpoints (synchronous=NORMAL);
 * a PostgreSQL commit is durable already. vstore_run fails when the sync fails.
 */
void vstore_tx_durable(vstore_tx *tx);

/* Types of a parameter or a result column. */
enum vtype { VP_NULL = 0, VP_INT, VP_TEXT, VP_BLOB };

/*
 * A statement parameter. VP_TEXT: text, NUL-terminated UTF-8 (a NULL text binds SQL NULL);
 * VP_INT: i64; VP_BLOB: blob of len bytes (any bytes, NUL included; a NULL blob with len 0
 * binds SQL NULL). Build them with the VP_* macros below.
 */
struct vparam {
	enum vtype type;
	int64_t i64;
	const char *text;
	const void *blob;
	size_t len;
};

#define VPARAM_NULL ((struct vparam){.type = VP_NULL})
#define VPARAM_INT(v) ((struct vparam){.type = VP_INT, .i64 = (int64_t)(v)})
#define VPARAM_TEXT(s) ((struct vparam){.type = VP_TEXT, .text = (s)})
#define VPARAM_BLOB(p, n) ((struct vparam){.type = VP_BLOB, .blob = (p), .len = (n)})

/*
 * One column of a result row, valid only during the row callback. VP_NULL: SQL NULL;
 * VP_INT: i64 (integers and booleans); VP_TEXT: text of len bytes, NUL-terminated;
 * VP_BLOB: blob of len bytes. The type is what the database holds (SQLite) or the column's
 * type (PostgreSQL: int2/int4/int8/bool give VP_INT, bytea VP_BLOB, the rest VP_TEXT).
 */
struct vcol {
	enum vtype type;
	int64_t i64;
	const char *text;
	const uint8_t *blob;
	size_t len;
};

/* Called once per result row; a nonzero return (a negative PCRGATE_ERR_*) stops and is returned by vstore_exec. */
typedef int (*vstore_rowfn)(const struct vcol *cols, size_t ncols, void *arg, pcrgate_errinfo *ei);

/*
 * Runs one statement in tx. sql uses `?` placeholders (rewritten to $1.. for PostgreSQL;
 * `?` inside quoted literals, identifiers and comments is left alone); params has n entries.
 * row (may be NULL) gets each result row; *changes (may be NULL) gets the number of rows
 * inserted, updated or deleted. Errors: VSTORE_ERR_CONSTRAINT for a constraint violation,
 * PCRGATE_ERR_IO for everything else the database refused.
 */
int vstore_exec(vstore_tx *tx, const char *sql, const struct vparam *params, size_t n, vstore_rowfn row, void *arg,
		long *changes, pcrgate_errinfo *ei);

/*
 * Helpers for row callbacks. vcol_int: VP_INT as is, VP_TEXT holding a decimal integer
 * parsed, else def. vcol_strdup: a malloc'd copy of a VP_TEXT (NULL for SQL NULL or on
 * allocation failure: check the type first). vcol_text: a VP_TEXT shorter than cap into out,
 * NUL-terminated; otherwise out is "" and it returns -1. vcol_blob: a VP_BLOB of at most cap
 * bytes into out, returning its length; otherwise 0 and out is untouched.
 */
int64_t vcol_int(const struct vcol *c, int64_t def);
char *vcol_strdup(const struct vcol *c);
int vcol_text(const struct vcol *c, char *out, size_t cap);
size_t vcol_blob(const struct vcol *c, uint8_t *out, size_t cap);

#endif
