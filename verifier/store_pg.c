/*
 * pcrgate-verifierd: the PostgreSQL backend of the store (libpq). Statements are prepared
 * once per connection and run with typed parameters: integers and text as text, byte
 * strings as binary bytea, so no value is ever spliced into SQL. Results come as text and
 * bytea columns are decoded with PQunescapeBytea. SQLSTATE 40001 (serialization failure) and
 * 40P01 (deadlock) mark the transaction for a retry; class 23 (integrity constraint) is
 * VSTORE_ERR_CONSTRAINT.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "verifier/store_internal.h"

/* Type OIDs from PostgreSQL's catalog (pg_type.dat); stable across versions. */
#define OID_BOOL 16
#define OID_BYTEA 17
#define OID_INT8 20
#define OID_INT2 21
#define OID_INT4 23
#define OID_TEXT 25

/* The key of the advisory lock migrations run under: "pcrgate" in ASCII. */
#define MIGRATE_LOCK_KEY "112099114103097116"

/*
 * Statements prepared on a connection, keyed by their SQL and parameter types: the verifier
 * runs the same few statements thousands of times a second, and an unnamed statement is
 * parsed and planned by the server at every execution.
 */
#define STMT_CACHE 48

struct prepared {
	char *sql; /* NULL: free slot */
	Oid types[VSTORE_MAX_PARAMS];
	int nparams;
	char name[32]; /* unique on the connection, never reused: see prepare */
	unsigned long long used;
};

struct pconn {
	PGconn *pg;
	const char *display;
	struct prepared cache[STMT_CACHE];
	unsigned long long clock;
};

/* libpq prints notices (e.g. "relation already exists, skipping") on stderr unless told otherwise. */
static void on_notice(void *arg, const char *message)
{
	(void)arg;
	pg_debug("postgresql: %s", message);
}

/* libpq's message without its trailing newline, for one-line errors. */
static const char *pq_message(const char *m, char *buf, size_t cap)
{
	size_t len;

	snprintf(buf, cap, "%s", m != NULL ? m : "unknown error");
	len = strlen(buf);
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	return buf;
}

static void pq_disconnect(void *h)
{
	struct pconn *c = h;

	if (c == NULL)
		return;
	PQfinish(c->pg);
	for (size_t i = 0; i < STMT_CACHE; i++)
		free(c->cache[i].sql);
	free(c);
}

static int pq_connect(const char *conninfo, const char *display, void *shared, void **h, pcrgate_errinfo *ei)
{
	/* expand_dbname: dbname holds the whole URI or keyword string; later keywords only fill gaps. */
	const char *const keys[] = {"dbname", "fallback_application_name", NULL};
	const char *const vals[] = {conninfo, "pcrgate-verifierd", NULL};
	struct pconn *c;
	char msg[200];
	int r;

	(void)shared;
	if ((c = calloc(1, sizeof(*c))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	c->display = display;
	c->pg = PQconnectdbParams(keys, vals, 1);
	if (c->pg == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	/* libpq's connection errors name host and user, never the password. */
	if (PQstatus(c->pg) != CONNECTION_OK) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: cannot connect: %s", display,
					pq_message(PQerrorMessage(c->pg), msg, sizeof(msg)));
		goto fail;
	}
	PQsetNoticeProcessor(c->pg, on_notice, NULL);
	*h = c;
	return 0;
fail:
	pq_disconnect(c);
	return r;
}

static int pq_healthy(void *h)
{
	struct pconn *c = h;

	return PQstatus(c->pg) == CONNECTION_OK;
}

/* Maps a failed result to the store's codes; *retry for serialization failures and deadlocks. */
static int result_error(struct pconn *c, const PGresult *res, int *retry, pcrgate_errinfo *ei)
{
	const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
	char msg[200];

	if (primary == NULL)
		primary = pq_message(PQerrorMessage(c->pg), msg, sizeof(msg));
	if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
		*retry = 1;
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s (SQLSTATE %s)", c->display,
					   primary, state);
	}
	if (state != NULL && strncmp(state, "23", 2) == 0)
		return pcrgate_errinfo_set(ei, VSTORE_ERR_CONSTRAINT, PCRGATE_NO_OFFSET,
					   "%s: constraint violated: %s", c->display, primary);
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s%s%s", c->display, primary,
				   state != NULL ? " SQLSTATE " : "", state != NULL ? state : "");
}

static int pq_script(void *h, const char *sql, int *retry, pcrgate_errinfo *ei)
{
	struct pconn *c = h;
	PGresult *res = PQexec(c->pg, sql);
	ExecStatusType st = PQresultStatus(res);
	int r = 0;

	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
		r = result_error(c, res, retry, ei);
	PQclear(res);
	return r;
}

/* Converts one result row to columns; blobs are unescaped into blobs[] for the caller to free. */
static int convert_row(const PGresult *res, int row, int ncols, struct vcol *cols, unsigned char **blobs,
		       pcrgate_errinfo *ei)
{
	for (int i = 0; i < ncols; i++) {
		struct vcol *col = &cols[i];
		const char *v = PQgetvalue(res, row, i);
		size_t len = (size_t)PQgetlength(res, row, i);

		memset(col, 0, sizeof(*col));
		if (PQgetisnull(res, row, i)) {
			col->type = VP_NULL;
			continue;
		}
		switch (PQftype(res, i)) {
		case OID_INT2:
		case OID_INT4:
		case OID_INT8: {
			char *end;

			errno = 0;
			col->i64 = strtoll(v, &end, 10);
			if (errno != 0 || *end != '\0')
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
							   "column %d: integer %s out of range", i, v);
			col->type = VP_INT;
			break;
		}
		case OID_BOOL:
			col->type = VP_INT;
			col->i64 = v[0] == 't';
			break;
		case OID_BYTEA: {
			size_t blen = 0;

			if ((blobs[i] = PQunescapeBytea((const unsigned char *)v, &blen)) == NULL)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET,
							   "column %d: cannot decode bytea", i);
			col->type = VP_BLOB;
			col->blob = blobs[i];
			col->len = blen;
			break;
		}
		default:
			col->type = VP_TEXT;
			col->text = v;
			col->len = len;
			break;
		}
	}
	return 0;
}

/*
 * The name of the prepared statement for sql with these parameter types, preparing it first
 * when the connection has not. The least recently used slot makes room; its statement is
 * deallocated. Each preparation gets a new name, so a DEALLOCATE that failed (in a
 * transaction already aborted) can never make a later PQprepare collide with it.
 */
static int prepare(struct pconn *c, const char *sql, const Oid *types, int n, const char **name, int *retry,
		   pcrgate_errinfo *ei)
{
	struct prepared *slot = &c->cache[0];
	char *numbered = NULL, *copy = NULL, fresh[sizeof(slot->name)];
	size_t count = 0;
	PGresult *res;
	int r;

	c->clock++;
	for (size_t i = 0; i < STMT_CACHE; i++) {
		struct prepared *p = &c->cache[i];

		if (p->sql != NULL && p->nparams == n && strcmp(p->sql, sql) == 0 &&
		    memcmp(p->types, types, (size_t)n * sizeof(*types)) == 0) {
			p->used = c->clock;
			*name = p->name;
			return 0;
		}
		if (p->used < slot->used)
			slot = &c->cache[i];
	}
	if (slot->sql != NULL) {
		char dealloc[sizeof("DEALLOCATE ") + sizeof(slot->name)];

		snprintf(dealloc, sizeof(dealloc), "DEALLOCATE %s", slot->name);
		PQclear(PQexec(c->pg, dealloc));
		free(slot->sql);
		slot->sql = NULL;
	}
	if ((r = vstore_sql_numbered(sql, &numbered, &count, ei)) != 0)
		return r;
	if ((copy = strdup(sql)) == NULL) {
		free(numbered);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	}
	snprintf(fresh, sizeof(fresh), "pcrgate_%llu", c->clock);
	res = PQprepare(c->pg, fresh, numbered, n, types);
	free(numbered);
	if (PQresultStatus(res) != PGRES_COMMAND_OK) {
		r = result_error(c, res, retry, ei);
		PQclear(res);
		free(copy);
		return r;
	}
	PQclear(res);
	slot->sql = copy;
	memcpy(slot->types, types, (size_t)n * sizeof(*types));
	slot->nparams = n;
	memcpy(slot->name, fresh, sizeof(slot->name));
	slot->used = c->clock;
	*name = slot->name;
	return 0;
}

static int pq_exec(void *h, const char *sql, const struct vparam *params, size_t n, vstore_rowfn row, void *arg,
		   long *changes, int *retry, pcrgate_errinfo *ei)
{
	struct pconn *c = h;
	Oid types[VSTORE_MAX_PARAMS];
	const char *values[VSTORE_MAX_PARAMS];
	int lengths[VSTORE_MAX_PARAMS];
	int formats[VSTORE_MAX_PARAMS];
	char ints[VSTORE_MAX_PARAMS][24];
	struct vcol cols[VSTORE_MAX_PARAMS];
	unsigned char *blobs[VSTORE_MAX_PARAMS] = {0};
	PGresult *res = NULL;
	ExecStatusType st;
	const char *name = NULL;
	int ncols = 0;
	int r;

	for (size_t i = 0; i < n; i++) {
		const struct vparam *p = &params[i];

		types[i] = 0;
		values[i] = NULL;
		lengths[i] = 0;
		formats[i] = 0;
		switch (p->type) {
		case VP_INT:
			snprintf(ints[i], sizeof(ints[i]), "%" PRId64, p->i64);
			types[i] = OID_INT8;
			values[i] = ints[i];
			break;
		case VP_TEXT:
			types[i] = OID_TEXT;
			values[i] = p->text;
			break;
		case VP_BLOB:
			if ((p->blob == NULL && p->len != 0) || p->len > INT32_MAX) {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
							"parameter %zu: bad blob of %zu bytes", i + 1, p->len);
				goto done;
			}
			types[i] = OID_BYTEA;
			values[i] = p->blob != NULL ? (p->len != 0 ? p->blob : "") : NULL;
			lengths[i] = (int)p->len;
			formats[i] = 1;
			break;
		case VP_NULL:
			break;
		default:
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
						"parameter %zu: unknown type %d", i + 1, (int)p->type);
			goto done;
		}
	}
	if ((r = prepare(c, sql, types, (int)n, &name, retry, ei)) != 0)
		goto done;
	res = PQexecPrepared(c->pg, name, (int)n, values, lengths, formats, 0);
	st = PQresultStatus(res);
	if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) {
		r = result_error(c, res, retry, ei);
		goto done;
	}
	ncols = PQnfields(res);
	if (ncols > VSTORE_MAX_PARAMS) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "more than %d result columns",
					VSTORE_MAX_PARAMS);
		goto done;
	}
	for (int i = 0; row != NULL && i < PQntuples(res); i++) {
		r = convert_row(res, i, ncols, cols, blobs, ei);
		if (r == 0)
			r = row(cols, (size_t)ncols, arg, ei);
		for (int j = 0; j < ncols; j++) {
			PQfreemem(blobs[j]);
			blobs[j] = NULL;
		}
		if (r != 0)
			goto done;
	}
	/* PQcmdTuples also counts the rows a SELECT returned, which changed nothing. */
	if (changes != NULL) {
		const char *t = PQcmdTuples(res);

		*changes = t[0] != '\0' && strncmp(PQcmdStatus(res), "SELECT", 6) != 0 ? strtol(t, NULL, 10) : 0;
	}
	r = 0;
done:
	PQclear(res);
	return r;
}

/* A session-level advisory lock: a second verifier starting at once waits here until the first has migrated. */
static int pq_migrate_lock(void *h, pcrgate_errinfo *ei)
{
	int retry = 0;

	return pq_script(h, "SELECT pg_advisory_lock(" MIGRATE_LOCK_KEY ")", &retry, ei);
}

static void pq_migrate_unlock(void *h)
{
	int retry = 0;

	pq_script(h, "SELECT pg_advisory_unlock(" MIGRATE_LOCK_KEY ")", &retry, NULL);
}

const struct vbackend vstore_pg_backend = {
	.name = "postgresql",
	.connect = pq_connect,
	.disconnect = pq_disconnect,
	.healthy = pq_healthy,
	.script = pq_script,
	.exec = pq_exec,
	.begin_rw = "BEGIN ISOLATION LEVEL READ COMMITTED",
	/* One snapshot for every query of a read (a read-only transaction never fails to serialize). */
	.begin_ro = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
	.migrate_lock = pq_migrate_lock,
	.migrate_unlock = pq_migrate_unlock,
	.type_int = "BIGINT",
	.type_blob = "BYTEA",
};
