/*
 * pcrgate-verifierd (internal to the store): what store.c, the two backends and the schema
 * share. A backend is a table of functions over an opaque connection handle; store.c owns
 * the pool, the transaction runner and everything that is the same for both.
 */
#ifndef PCRGATE_VERIFIER_STORE_INTERNAL_H
#define PCRGATE_VERIFIER_STORE_INTERNAL_H

#include <pthread.h>

#include "verifier/store.h"

struct vbackend {
	const char *name;
	/*
	 * Opens a connection to conninfo (a path for SQLite, a libpq string for PostgreSQL); shared
	 * is what start gave for the store (NULL without start).
	 */
	int (*connect)(const char *conninfo, const char *display, void *shared, void **h, pcrgate_errinfo *ei);
	void (*disconnect)(void *h);
	/* 1 when the connection is usable; otherwise the store reconnects it. */
	int (*healthy)(void *h);
	/* Runs SQL text of one or more statements without parameters or results (migrations). */
	int (*script)(void *h, const char *sql, int *retry, pcrgate_errinfo *ei);
	/* One statement with `?` placeholders; *retry set when the failure may go away on a retry. */
	int (*exec)(void *h, const char *sql, const struct vparam *params, size_t n, vstore_rowfn row, void *arg,
		    long *changes, int *retry, pcrgate_errinfo *ei);
	/*
	 * 1 when the database takes one writer at a time (SQLite): the store's writers then queue on
	 * a mutex instead of sleeping in the database's busy handler, which wakes them late.
	 */
	int one_writer;
	/*
	 * Optional (NULL when the backend needs none): work of the whole store beside its
	 * connections, started before the first connection and stopped after the last one
	 * closed (SQLite: the WAL checkpointer). write_mu is the mutex every writer of a
	 * one_writer backend holds over its transaction.
	 */
	int (*start)(const char *conninfo, const char *display, pthread_mutex_t *write_mu, void **shared,
		     pcrgate_errinfo *ei);
	void (*stop)(void *shared);
	/* Optional: makes the connection's committed transactions durable (NULL: commits are). */
	int (*sync)(void *h, pcrgate_errinfo *ei);
	/* Statements that begin a read-write or read-only transaction. */
	const char *begin_rw;
	const char *begin_ro;
	/* Takes and releases the lock under which migrations run (NULL: the migration transaction is enough). */
	int (*migrate_lock)(void *h, pcrgate_errinfo *ei);
	void (*migrate_unlock)(void *h);
	/* The dialect's names for a 64-bit integer and a byte string column. */
	const char *type_int;
	const char *type_blob;
};

/*
 * SQLite: WAL pages after which a commit asks the checkpointer for a checkpoint. Each round
 * ends with the writers held off for a short catch-up (two syncs): rounds are few, at the
 * cost of a WAL of up to about this many pages (4 KiB each) between them.
 */
#define VSTORE_SQLITE_CHECKPOINT_PAGES 8192

/*
 * SQLite: WAL pages at which a commit checkpoints in its own connection before its request
 * goes on: the WAL's bound when the checkpointer falls behind (writers faster than its copy
 * and syncs, or its last pass kept waiting for the writers' mutex).
 */
#define VSTORE_SQLITE_WAL_MAX_PAGES (2 * VSTORE_SQLITE_CHECKPOINT_PAGES)

extern const struct vbackend vstore_sqlite_backend;
extern const struct vbackend vstore_pg_backend;

/* Rewrites `?` placeholders outside literals, identifiers and comments to $1..$n (malloc'd); *count gets n. */
int vstore_sql_numbered(const char *sql, char **out, size_t *count, pcrgate_errinfo *ei);
/* Counts the `?` placeholders as vstore_sql_numbered sees them. */
size_t vstore_sql_count(const char *sql);

/* Runs the migrations on one connection of the store's backend; *version gets the schema version. */
int vstore_migrate(const struct vbackend *be, void *h, int *version, pcrgate_errinfo *ei);
/* The number of migrations this build knows. */
int vstore_schema_latest(void);

#endif
