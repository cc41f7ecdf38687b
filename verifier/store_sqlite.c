/*
 * pcrgate-verifierd: the SQLite backend of the store. One sqlite3 handle per pooled
 * connection, in WAL mode (readers never wait for the writer) with synchronous=NORMAL (a
 * power cut may lose the last commits but never corrupts the database), a busy timeout so
 * writers of several connections queue, and foreign keys on. Prepared statements are kept
 * per connection, keyed by their SQL text, since the verifier runs the same few statements
 * thousands of times a second. Checkpoints (copying the WAL into the database, the only
 * place NORMAL syncs the disk) run on a thread of their own, and in a committing request only
 * when that thread has fallen so far behind that the WAL reached its bound.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "verifier/store_internal.h"

/* How long a connection waits for another's write lock before SQLITE_BUSY (then vstore_run retries). */
#define SQLITE_BUSY_MS 5000
#define STMT_CACHE 48

/*
 * The store's checkpointer: commits signal it when the WAL has grown past
 * VSTORE_SQLITE_CHECKPOINT_PAGES, and it checkpoints on a connection of its own, so requests
 * do not wait for the syncs of a checkpoint while holding the write lock (but for its short
 * last pass, and at the WAL's bound, below). A passive checkpoint takes no lock writers or
 * readers wait for, but the WAL starts over from its beginning only when a write begins
 * after a checkpoint copied all of it; with writers committing throughout, the checkpointer
 * would chase them forever and the WAL would grow without end. So a round is a passive
 * checkpoint of the bulk, then a second one under the store's write mutex for what was
 * committed meanwhile, after which the next writer restarts the WAL.
 *
 * Writers can outrun the thread (its copy and syncs take tens of milliseconds, and the
 * writers' mutex is not fair to its last pass): a commit that finds the WAL at
 * VSTORE_SQLITE_WAL_MAX_PAGES checkpoints in its own connection, with the mutex held, so the
 * WAL stays bounded whatever the thread manages.
 */
struct checkpointer {
	char *path;
	const char *display;
	pthread_mutex_t *write_mu;
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending, stopping;
	/*
	 * Held by each checkpoint and sync of the process, with the check of stopped before it and
	 * the setting of stopped after a failure: once one failed, no other runs. Taken after the
	 * store's write mutex (the locked pass, a commit at the bound).
	 */
	pthread_mutex_t ckpt_mu;
	int stopped; /* under ckpt_mu: a checkpoint or sync failed, none may let the WAL start over */
};

enum ckpt_result {
	CKPT_ALL,    /* the whole WAL is in the database */
	CKPT_PART,   /* not all: a reader still on older pages kept some back, or an error that
			writes nothing (logged) */
	CKPT_BUSY,   /* another process's checkpoint was running */
	CKPT_FAILED, /* an I/O error (logged), now or before: checkpoints have stopped */
};

struct cached {
	char *sql;
	sqlite3_stmt *st;
	unsigned long long used;
};

struct sconn {
	sqlite3 *db;
	const char *display;
	struct checkpointer *ckpt; /* NULL: SQLite checkpoints in the committing connection */
	struct cached cache[STMT_CACHE];
	unsigned long long clock;
};

static int map_error(struct sconn *c, int rc, const char *what, int *retry, pcrgate_errinfo *ei)
{
	int prim = rc & 0xff;

	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) {
		*retry = 1;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: database busy (%s)", c->display,
					   what);
	}
	if (prim == SQLITE_CONSTRAINT)
		return pcrgate_errinfo_set(ei, VSTORE_ERR_CONSTRAINT, PCRGATE_NO_OFFSET, "%s: constraint violated: %s",
					   c->display, sqlite3_errmsg(c->db));
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s: %s", c->display, what,
				   sqlite3_errmsg(c->db));
}

static int ckpt_stopped(struct checkpointer *k)
{
	int stopped;

	pthread_mutex_lock(&k->ckpt_mu);
	stopped = k->stopped;
	pthread_mutex_unlock(&k->ckpt_mu);
	return stopped;
}

static void sq_disconnect(void *h)
{
	struct sconn *c = h;

	if (c == NULL)
		return;
	/* The last connection to close would checkpoint and remove the WAL. */
	if (c->ckpt != NULL && ckpt_stopped(c->ckpt))
		sqlite3_db_config(c->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	for (size_t i = 0; i < STMT_CACHE; i++) {
		sqlite3_finalize(c->cache[i].st);
		free(c->cache[i].sql);
	}
	sqlite3_close(c->db);
	free(c);
}

static int prepare(struct sconn *c, const char *sql, sqlite3_stmt **out, int *retry, pcrgate_errinfo *ei);

/*
 * SQL text without parameters. One statement (BEGIN, COMMIT, ROLLBACK: twice or three times
 * per request) runs from the statement cache; a script of several (migrations) is compiled
 * each time.
 */
static int sq_script(void *h, const char *sql, int *retry, pcrgate_errinfo *ei)
{
	struct sconn *c = h;
	sqlite3_stmt *st = NULL;
	int rc, r;

	if (strchr(sql, ';') != NULL) {
		if ((rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL)) != SQLITE_OK)
			return map_error(c, rc, "statement failed", retry, ei);
		return 0;
	}
	if ((r = prepare(c, sql, &st, retry, ei)) != 0)
		return r;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return map_error(c, rc, "statement failed", retry, ei);
	return 0;
}

static enum ckpt_result checkpoint(struct checkpointer *k, sqlite3 *db);

/*
 * sqlite3_wal_hook: runs after each commit, under the store's write lock. It signals the
 * checkpointer; only at the WAL's bound does the commit checkpoint itself. That waits for a
 * pass or sync of the checkpointer's that is running (ckpt_mu), and for another process's
 * checkpoint (SQLITE_BUSY_MS tries 1 ms apart), but not for a reader on older pages: until
 * that reader ends, the WAL grows past the bound.
 */
static int on_wal_commit(void *arg, sqlite3 *db, const char *name, int pages)
{
	struct checkpointer *k = arg;

	(void)name;
	if (pages < VSTORE_SQLITE_CHECKPOINT_PAGES)
		return SQLITE_OK;
	pthread_mutex_lock(&k->mu);
	if (!k->pending) {
		k->pending = 1;
		pthread_cond_signal(&k->cv);
	}
	pthread_mutex_unlock(&k->mu);
	if (pages < VSTORE_SQLITE_WAL_MAX_PAGES)
		return SQLITE_OK;
	for (int waited = 0; checkpoint(k, db) == CKPT_BUSY && waited < SQLITE_BUSY_MS; waited++)
		sqlite3_sleep(1);
	return SQLITE_OK;
}

static int sq_connect(const char *path, const char *display, void *shared, void **h, pcrgate_errinfo *ei)
{
	struct sconn *c;
	int rc;
	int retry = 0;
	int r;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	c->display = display;
	/* Each connection is used by one thread at a time (the pool), so SQLite's own mutexes are not needed. */
	rc = sqlite3_open_v2(path, &c->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: cannot open: %s", display,
					c->db != NULL ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
		goto fail;
	}
	sqlite3_extended_result_codes(c->db, 1);
	sqlite3_busy_timeout(c->db, SQLITE_BUSY_MS);
	/*
	 * Switching a new database to WAL needs it to itself, and SQLite reports a busy database
	 * here without calling the busy handler: verifiers opening one new file at once wait here.
	 */
	for (int waited = 0;; waited += 10) {
		retry = 0;
		r = sq_script(c, "PRAGMA journal_mode=WAL", &retry, ei);
		if (r == 0 || !retry || waited >= SQLITE_BUSY_MS)
			break;
		sqlite3_sleep(10);
	}
	if (r != 0)
		goto fail;
	if ((r = sq_script(c, "PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", &retry, ei)) != 0)
		goto fail;
	/* The hook replaces SQLite's automatic checkpoint in the committing connection. */
	if ((c->ckpt = shared) != NULL)
		sqlite3_wal_hook(c->db, on_wal_commit, c->ckpt);
	*h = c;
	return 0;
fail:
	sq_disconnect(c);
	return r;
}

/*
 * Syncs the file of db that op finds (SQLITE_FCNTL_FILE_POINTER: the database file;
 * SQLITE_FCNTL_JOURNAL_POINTER: its WAL); SQLITE_NOTFOUND when there is none.
 */
static int sync_file(sqlite3 *db, int op)
{
	sqlite3_file *f = NULL;
	int rc = sqlite3_file_control(db, "main", op, &f);

	if (rc != SQLITE_OK || f == NULL || f->pMethods == NULL)
		return rc != SQLITE_OK ? rc : SQLITE_NOTFOUND;
	return f->pMethods->xSync(f, SQLITE_SYNC_NORMAL);
}

/*
 * After a failed checkpoint or sync of the database, with ckpt_mu held. The failure may be the
 * only report of a lost write (Linux tells a writeback error once per open file), and pages
 * copied by earlier passes are not copied again: no pass may let the WAL start over after it.
 * The WAL, which still holds every commit, grows until the verifier is restarted.
 */
static void stop_checkpoints(struct checkpointer *k, const char *what, const char *why)
{
	pg_err("%s: %s: %s; checkpoints stop (the WAL keeps every commit and grows): check the disk, then "
	       "restart the verifier",
	       k->display, what, why);
	k->stopped = 1;
}

/* An error of a checkpoint or sync that may have lost a write. */
static int io_failure(int rc)
{
	int prim = rc & 0xff;

	return prim == SQLITE_IOERR || prim == SQLITE_FULL || prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB;
}

/* One passive checkpoint, unless checkpoints have stopped; an I/O error stops them. */
static enum ckpt_result checkpoint(struct checkpointer *k, sqlite3 *db)
{
	enum ckpt_result res = CKPT_FAILED;
	int log = 0, done = 0;
	int rc;

	pthread_mutex_lock(&k->ckpt_mu);
	if (k->stopped)
		goto done;
	rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
	if (rc == SQLITE_OK)
		res = done == log ? CKPT_ALL : CKPT_PART;
	else if ((rc & 0xff) == SQLITE_BUSY)
		res = CKPT_BUSY;
	else if (io_failure(rc))
		stop_checkpoints(k, "checkpoint failed", sqlite3_errmsg(db));
	else {
		pg_warn("%s: checkpoint failed: %s", k->display, sqlite3_errmsg(db));
		res = CKPT_PART;
	}
done:
	pthread_mutex_unlock(&k->ckpt_mu);
	return res;
}

/* Syncs the database file, unless checkpoints have stopped; a failure stops them. */
static int sync_database(struct checkpointer *k, sqlite3 *db)
{
	int rc = SQLITE_IOERR;

	pthread_mutex_lock(&k->ckpt_mu);
	if (!k->stopped && (rc = sync_file(db, SQLITE_FCNTL_FILE_POINTER)) != SQLITE_OK)
		stop_checkpoints(k, "cannot sync the database", sqlite3_errstr(rc));
	pthread_mutex_unlock(&k->ckpt_mu);
	return rc;
}

static void *checkpoint_loop(void *arg)
{
	struct checkpointer *k = arg;
	sqlite3 *db = NULL;
	enum ckpt_result res;

	for (;;) {
		pthread_mutex_lock(&k->mu);
		while (!k->pending && !k->stopping)
			pthread_cond_wait(&k->cv, &k->mu);
		k->pending = 0;
		if (k->stopping) {
			pthread_mutex_unlock(&k->mu);
			break;
		}
		pthread_mutex_unlock(&k->mu);
		/*
		 * Opened at the first request: by then a pooled connection made the file and its WAL.
		 * A connection finds the WAL only when it reads the database: until then it would
		 * checkpoint nothing.
		 */
		if (db == NULL &&
		    (sqlite3_open_v2(k->path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK ||
		     sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL) != SQLITE_OK)) {
			pg_warn("%s: checkpointer cannot open the database: %s", k->display,
				db != NULL ? sqlite3_errmsg(db) : "out of memory");
			sqlite3_close(db);
			db = NULL;
			continue;
		}
		/*
		 * Two passes outside the lock, the second copying only what came during the first,
		 * leave the locked pass little to copy. A reader still on old pages keeps them: let
		 * it finish rather than spin on it.
		 */
		res = checkpoint(k, db);
		if (res == CKPT_ALL)
			res = checkpoint(k, db);
		if (res == CKPT_FAILED)
			break;
		if (res != CKPT_ALL) {
			sqlite3_sleep(5);
			continue;
		}
		/*
		 * A pass that reaches the end of the WAL syncs the database file before the WAL may
		 * start over: syncing now, outside the lock, what the passes copied leaves the locked
		 * pass only the few pages it copies itself to sync (a round copies tens of MiB, whose
		 * sync took about 10 ms during which no request could commit).
		 */
		if (sync_database(k, db) != SQLITE_OK)
			break;
		pthread_mutex_lock(k->write_mu);
		checkpoint(k, db);
		/* Commits signalled during the round: the next writer starts the WAL over, no round is due. */
		pthread_mutex_lock(&k->mu);
		k->pending = 0;
		pthread_mutex_unlock(&k->mu);
		pthread_mutex_unlock(k->write_mu);
	}
	if (db != NULL && ckpt_stopped(k))
		sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)NULL);
	sqlite3_close(db);
	return NULL;
}

static int sq_start(const char *path, const char *display, pthread_mutex_t *write_mu, void **shared,
		    pcrgate_errinfo *ei)
{
	struct checkpointer *k;

	/* Each connection of :memory: is its own database: nothing to checkpoint. */
	if (strcmp(path, ":memory:") == 0) {
		*shared = NULL;
		return 0;
	}
	if ((k = calloc(1, sizeof(*k))) == NULL || (k->path = strdup(path)) == NULL) {
		free(k);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	k->display = display;
	k->write_mu = write_mu;
	pthread_mutex_init(&k->mu, NULL);
	pthread_mutex_init(&k->ckpt_mu, NULL);
	pthread_cond_init(&k->cv, NULL);
	if (pthread_create(&k->thread, NULL, checkpoint_loop, k) != 0) {
		pthread_mutex_destroy(&k->mu);
		pthread_mutex_destroy(&k->ckpt_mu);
		pthread_cond_destroy(&k->cv);
		free(k->path);
		free(k);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET,
					   "%s: cannot start the checkpointer", display);
	}
	*shared = k;
	return 0;
}

/* After the pooled connections closed; the last connection to close checkpoints the rest. */
static void sq_stop(void *shared)
{
	struct checkpointer *k = shared;

	pthread_mutex_lock(&k->mu);
	k->stopping = 1;
	pthread_cond_signal(&k->cv);
	pthread_mutex_unlock(&k->mu);
	pthread_join(k->thread, NULL);
	pthread_mutex_destroy(&k->mu);
	pthread_mutex_destroy(&k->ckpt_mu);
	pthread_cond_destroy(&k->cv);
	free(k->path);
	free(k);
}

/*
 * synchronous=NORMAL writes a commit to the WAL without syncing it; syncing the WAL now makes
 * every commit in it durable, as synchronous=FULL would have for this one.
 */
static int sq_sync(void *h, pcrgate_errinfo *ei)
{
	struct sconn *c = h;
	const char *file = sqlite3_db_filename(c->db, "main");
	int rc;

	/* An in-memory database has nothing on disk to sync. */
	if (file == NULL || file[0] == '\0')
		return 0;
	if ((rc = sync_file(c->db, SQLITE_FCNTL_JOURNAL_POINTER)) != SQLITE_OK)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: cannot sync the WAL: %s",
					   c->display, rc == SQLITE_NOTFOUND ? "no WAL file" : sqlite3_errstr(rc));
	return 0;
}

static int sq_healthy(void *h)
{
	return h != NULL;
}

/* The cached statement for sql, or a new one that replaces the least recently used. */
static int prepare(struct sconn *c, const char *sql, sqlite3_stmt **out, int *retry, pcrgate_errinfo *ei)
{
	struct cached *slot = &c->cache[0];
	sqlite3_stmt *st = NULL;
	char *copy;
	int rc;

	c->clock++;
	for (size_t i = 0; i < STMT_CACHE; i++) {
		if (c->cache[i].sql != NULL && strcmp(c->cache[i].sql, sql) == 0) {
			c->cache[i].used = c->clock;
			*out = c->cache[i].st;
			return 0;
		}
		if (c->cache[i].used < slot->used)
			slot = &c->cache[i];
	}
	rc = sqlite3_prepare_v3(c->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL);
	if (rc != SQLITE_OK)
		return map_error(c, rc, "cannot prepare statement", retry, ei);
	if (st == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "empty statement");
	if ((copy = strdup(sql)) == NULL) {
		sqlite3_finalize(st);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	sqlite3_finalize(slot->st);
	free(slot->sql);
	slot->sql = copy;
	slot->st = st;
	slot->used = c->clock;
	*out = st;
	return 0;
}

static int bind(struct sconn *c, sqlite3_stmt *st, const struct vparam *params, size_t n, int *retry,
		pcrgate_errinfo *ei)
{
	for (size_t i = 0; i < n; i++) {
		const struct vparam *p = &params[i];
		int idx = (int)i + 1;
		int rc;

		switch (p->type) {
		case VP_INT:
			rc = sqlite3_bind_int64(st, idx, p->i64);
			break;
		case VP_TEXT:
			rc = p->text != NULL ? sqlite3_bind_text64(st, idx, p->text, strlen(p->text), SQLITE_STATIC,
								   SQLITE_UTF8)
					     : sqlite3_bind_null(st, idx);
			break;
		case VP_BLOB:
			if (p->blob == NULL && p->len != 0)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
							   "parameter %d: blob of %zu bytes without data", idx, p->len);
			/* A zero-length blob binds as such, not as NULL. */
			rc = p->blob != NULL ? sqlite3_bind_blob64(st, idx, p->len != 0 ? p->blob : "", p->len,
								   SQLITE_STATIC)
					     : sqlite3_bind_null(st, idx);
			break;
		case VP_NULL:
			rc = sqlite3_bind_null(st, idx);
			break;
		default:
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						   "parameter %d: unknown type %d", idx, (int)p->type);
		}
		if (rc != SQLITE_OK)
			return map_error(c, rc, "cannot bind parameter", retry, ei);
	}
	return 0;
}

static int sq_exec(void *h, const char *sql, const struct vparam *params, size_t n, vstore_rowfn row, void *arg,
		   long *changes, int *retry, pcrgate_errinfo *ei)
{
	struct sconn *c = h;
	struct vcol cols[VSTORE_MAX_PARAMS];
	sqlite3_stmt *st = NULL;
	int ncols;
	int rc;
	int r;

	if ((r = prepare(c, sql, &st, retry, ei)) != 0)
		return r;
	if ((r = bind(c, st, params, n, retry, ei)) != 0)
		goto done;
	ncols = sqlite3_column_count(st);
	if (ncols > VSTORE_MAX_PARAMS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "more than %d result columns",
					VSTORE_MAX_PARAMS);
		goto done;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (row == NULL)
			continue;
		for (int i = 0; i < ncols; i++) {
			struct vcol *col = &cols[i];

			memset(col, 0, sizeof(*col));
			switch (sqlite3_column_type(st, i)) {
			case SQLITE_INTEGER:
				col->type = VP_INT;
				col->i64 = sqlite3_column_int64(st, i);
				break;
			case SQLITE_BLOB:
				col->type = VP_BLOB;
				col->blob = sqlite3_column_blob(st, i);
				col->len = (size_t)sqlite3_column_bytes(st, i);
				break;
			case SQLITE_NULL:
				col->type = VP_NULL;
				break;
			default:
				col->type = VP_TEXT;
				col->text = (const char *)sqlite3_column_text(st, i);
				col->len = (size_t)sqlite3_column_bytes(st, i);
				if (col->text == NULL) {
					r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET,
								"out of memory");
					goto done;
				}
				break;
			}
		}
		if ((r = row(cols, (size_t)ncols, arg, ei)) != 0)
			goto done;
	}
	if (rc != SQLITE_DONE) {
		r = map_error(c, rc, "statement failed", retry, ei);
		goto done;
	}
	if (changes != NULL)
		*changes = sqlite3_stmt_readonly(st) ? 0 : (long)sqlite3_changes64(c->db);
	r = 0;
done:
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return r;
}

const struct vbackend vstore_sqlite_backend = {
	.name = "sqlite",
	.connect = sq_connect,
	.disconnect = sq_disconnect,
	.healthy = sq_healthy,
	.script = sq_script,
	.exec = sq_exec,
	.one_writer = 1,
	.start = sq_start,
	.stop = sq_stop,
	.sync = sq_sync,
	.begin_rw = "BEGIN IMMEDIATE",
	.begin_ro = "BEGIN DEFERRED",
	.migrate_lock = NULL,
	.migrate_unlock = NULL,
	.type_int = "INTEGER",
	.type_blob = "BLOB",
};
