/*
 * pcrgate-verifierd: the storage layer's common part. Parses the store URL (keeping passwords
 * out of every message), keeps the pool of connections, runs transactions with bounded
 * retries, and rewrites `?` placeholders for PostgreSQL. The backends are store_sqlite.c and
 * store_pg.c; the schema is schema.c.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verifier/store_internal.h"

struct vconn {
	void *h;
	int busy;
};

/* A transaction vstore_submit queued for the writer thread. */
struct vjob {
	vstore_txfn fn;
	vstore_donefn done;
	void *arg;
	int rc;
	pcrgate_errinfo ei;
	struct vjob *next;
};

struct vstore {
	const struct vbackend *be;
	char *conninfo; /* may hold a password: never logged */
	char *display;  /* what messages name instead */
	struct vconn *conns;
	size_t nconns;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_mutex_t write_mu; /* held by the one writer of a one_writer backend */
	void *shared;		  /* the backend's start, when it has one */
	int schema_version;
	/* vstore_submit's queue and writer thread (started by the first submit), under q_mu */
	pthread_mutex_t q_mu;
	pthread_cond_t q_cv;
	struct vjob *q_head, *q_tail;
	pthread_t writer;
	int writer_started;
	int writer_stop;
};

struct vstore_tx {
	vstore *s;
	struct vconn *c;
	int retry; /* a statement failed in a way a new attempt may not */
	int broken;
	int durable; /* vstore_tx_durable: the commit is synced before vstore_run returns */
};

/* Takes "pool=N" out of a list of items separated by sep; *pool gets N (0 when absent). */
static int take_pool(char *list, char sep, unsigned *pool, pcrgate_errinfo *ei)
{
	char *item = list;

	*pool = 0;
	while (*item != '\0') {
		/* strchr finds the terminating NUL too: a list of one item (sep NUL) has no separator. */
		char *end = sep != '\0' ? strchr(item, sep) : NULL;
		size_t len = end != NULL ? (size_t)(end - item) : strlen(item);

		if (len > 5 && strncmp(item, "pool=", 5) == 0) {
			char num[8] = {0};
			char *stop;
			unsigned long v;

			if (len - 5 >= sizeof(num))
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
							   "store URL: pool size is not a number of 1..%d",
							   VSTORE_POOL_MAX);
			memcpy(num, item + 5, len - 5);
			v = strtoul(num, &stop, 10);
			if (*stop != '\0' || v < 1 || v > VSTORE_POOL_MAX)
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
							   "store URL: pool size is not a number of 1..%d",
							   VSTORE_POOL_MAX);
			*pool = (unsigned)v;
			/* Remove the item and the separator after it, and look at what moved into its place. */
			if (end != NULL) {
				memmove(item, end + 1, strlen(end + 1) + 1);
				continue;
			}
			/* The last item goes with the separator before it, and the list ends there. */
			if (item > list)
				item[-1] = '\0';
			else
				*item = '\0';
			break;
		}
		if (end == NULL)
			break;
		item = end + 1;
	}
	return 0;
}

/* Takes pool=N out of a libpq keyword string ("k=v k='v w'"), honouring quotes. */
static int take_pool_keywords(char *s, unsigned *pool, pcrgate_errinfo *ei)
{
	char *p = s;

	*pool = 0;
	while (*p != '\0') {
		char *start;
		int quoted = 0;

		while (*p == ' ' || *p == '\t' || *p == '\n')
			p++;
		start = p;
		while (*p != '\0' && (quoted || (*p != ' ' && *p != '\t' && *p != '\n'))) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '\'')
				quoted = !quoted;
			p++;
		}
		if (p - start > 5 && strncmp(start, "pool=", 5) == 0) {
			char save = *p;
			int r;

			*p = '\0';
			r = take_pool(start, '\0', pool, ei);
			*p = save;
			if (r != 0)
				return r;
			memmove(start, p, strlen(p) + 1);
			p = start;
		}
	}
	return 0;
}

static int parse_url(const char *url, const struct vbackend **be, char **conninfo, unsigned *pool,
		     pcrgate_errinfo *ei)
{
	char *s = NULL;
	int r;

	if (strncmp(url, "sqlite:", 7) == 0) {
		char *q;

		*be = &vstore_sqlite_backend;
		url += 7;
		if (strncmp(url, "//", 2) == 0)
			url += 2;
		if ((s = strdup(url)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		q = strchr(s, '?');
		if (q != NULL) {
			*q++ = '\0';
			if ((r = take_pool(q, '&', pool, ei)) != 0)
				goto fail;
			if (*q != '\0') {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
							"store URL: unknown sqlite parameter (only pool=N)");
				goto fail;
			}
		}
		if (*s == '\0') {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						"store URL: sqlite: needs a database file path");
			goto fail;
		}
		/* Every connection of an in-memory database would see its own database. */
		if (strcmp(s, ":memory:") == 0)
			*pool = 1;
	} else if (strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0) {
		char *q;

		*be = &vstore_pg_backend;
		if ((s = strdup(url)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		q = strchr(s, '?');
		if (q != NULL) {
			if ((r = take_pool(q + 1, '&', pool, ei)) != 0)
				goto fail;
			if (q[1] == '\0')
				*q = '\0';
		}
	} else if (strncmp(url, "pg:", 3) == 0) {
		*be = &vstore_pg_backend;
		if ((s = strdup(url + 3)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		if ((r = take_pool_keywords(s, pool, ei)) != 0)
			goto fail;
	} else {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "store URL must start with sqlite:, postgresql://, postgres:// or pg:");
	}
	*conninfo = s;
	return 0;
fail:
	free(s);
	return r;
}

/* A name for the store in messages: the SQLite path, or the backend only (libpq strings carry passwords). */
static char *display_name(const struct vbackend *be, const char *conninfo)
{
	char *d;
	size_t len;

	if (be != &vstore_sqlite_backend)
		return strdup("postgresql store");
	len = strlen(conninfo) + sizeof("sqlite store ");
	if ((d = malloc(len)) != NULL)
		snprintf(d, len, "sqlite store %s", conninfo);
	return d;
}

void vstore_close(vstore **sp)
{
	vstore *s;

	if (sp == NULL || (s = *sp) == NULL)
		return;
	/* The writer runs what is queued before it ends. */
	pthread_mutex_lock(&s->q_mu);
	s->writer_stop = 1;
	pthread_cond_signal(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
	if (s->writer_started)
		pthread_join(s->writer, NULL);
	for (size_t i = 0; i < s->nconns; i++)
		if (s->conns[i].h != NULL)
			s->be->disconnect(s->conns[i].h);
	if (s->shared != NULL)
		s->be->stop(s->shared);
	free(s->conns);
	if (s->conninfo != NULL) {
		explicit_bzero(s->conninfo, strlen(s->conninfo));
		free(s->conninfo);
	}
	free(s->display);
	pthread_mutex_destroy(&s->mu);
	pthread_mutex_destroy(&s->write_mu);
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->q_mu);
	pthread_cond_destroy(&s->q_cv);
	free(s);
	*sp = NULL;
}

int vstore_open(const char *url, vstore **out, pcrgate_errinfo *ei)
{
	vstore *s = NULL;
	unsigned url_pool = 0;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (url == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "vstore_open: bad arguments");
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	pthread_mutex_init(&s->mu, NULL);
	pthread_mutex_init(&s->write_mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	pthread_mutex_init(&s->q_mu, NULL);
	pthread_cond_init(&s->q_cv, NULL);
	if ((r = parse_url(url, &s->be, &s->conninfo, &url_pool, ei)) != 0)
		goto fail;
	if ((s->display = display_name(s->be, s->conninfo)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	s->nconns = url_pool != 0 ? url_pool : VSTORE_POOL_DEFAULT;
	if (strcmp(s->conninfo, ":memory:") == 0 && s->be == &vstore_sqlite_backend)
		s->nconns = 1;
	if ((s->conns = calloc(s->nconns, sizeof(*s->conns))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if (s->be->start != NULL && (r = s->be->start(s->conninfo, s->display, &s->write_mu, &s->shared, ei)) != 0)
		goto fail;
	/* The first connection is opened now, so a wrong URL fails at startup, and migrates the schema. */
	if ((r = s->be->connect(s->conninfo, s->display, s->shared, &s->conns[0].h, ei)) != 0)
		goto fail;
	if ((r = vstore_migrate(s->be, s->conns[0].h, &s->schema_version, ei)) != 0)
		goto fail;
	pg_debug("%s open, schema version %d, pool of %zu", s->display, s->schema_version, s->nconns);
	*out = s;
	return 0;
fail:
	vstore_close(&s);
	return r;
}

const char *vstore_backend(const vstore *s)
{
	return s->be->name;
}

int vstore_schema_version(const vstore *s)
{
	return s->schema_version;
}

static struct vconn *pool_take(vstore *s)
{
	struct vconn *c = NULL;

	pthread_mutex_lock(&s->mu);
	for (;;) {
		/* Prefer a connection that is already open. */
		for (size_t i = 0; i < s->nconns && c == NULL; i++)
			if (!s->conns[i].busy && s->conns[i].h != NULL)
				c = &s->conns[i];
		for (size_t i = 0; i < s->nconns && c == NULL; i++)
			if (!s->conns[i].busy)
				c = &s->conns[i];
		if (c != NULL)
			break;
		pthread_cond_wait(&s->cv, &s->mu);
	}
	c->busy = 1;
	pthread_mutex_unlock(&s->mu);
	return c;
}

static void pool_give(vstore *s, struct vconn *c)
{
	pthread_mutex_lock(&s->mu);
	c->busy = 0;
	pthread_cond_signal(&s->cv);
	pthread_mutex_unlock(&s->mu);
}

/* Sleeps a little longer after each failed attempt, with jitter so retrying writers spread out. */
static void backoff(int attempt)
{
	long us = (1L << (attempt < 6 ? attempt : 6)) * 500L;
	struct timespec ts;

	us += (long)((unsigned)rand() % (unsigned)us);
	ts.tv_sec = 0;
	ts.tv_nsec = us * 1000L;
	nanosleep(&ts, NULL);
}

/* Runs fn in a transaction on c (NULL: a pooled connection). */
static int run_on(vstore *s, struct vconn *c, int readonly, vstore_txfn fn, void *arg, pcrgate_errinfo *ei)
{
	vstore_tx tx = {.s = s};
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (s == NULL || fn == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "vstore_run: bad arguments");
	/* Writers queue here before they take a connection, so readers still find one free. */
	if (!readonly && s->be->one_writer)
		pthread_mutex_lock(&s->write_mu);
	tx.c = c != NULL ? c : pool_take(s);
	for (int attempt = 0; attempt < VSTORE_MAX_ATTEMPTS; attempt++) {
		int retry = 0;

		if (attempt > 0)
			backoff(attempt);
		if (tx.c->h != NULL && !s->be->healthy(tx.c->h)) {
			pg_warn("%s: connection lost, reconnecting", s->display);
			s->be->disconnect(tx.c->h);
			tx.c->h = NULL;
		}
		if (tx.c->h == NULL && (r = s->be->connect(s->conninfo, s->display, s->shared, &tx.c->h, ei)) != 0)
			goto done;
		tx.retry = 0;
		tx.durable = 0;
		r = s->be->script(tx.c->h, readonly ? s->be->begin_ro : s->be->begin_rw, &retry, ei);
		if (r == 0) {
			r = fn(&tx, arg, ei);
			if (r == 0)
				r = s->be->script(tx.c->h, "COMMIT", &retry, ei);
		}
		if (r == 0)
			goto done;
		/* A failed COMMIT has already ended the transaction; ROLLBACK then only warns. */
		s->be->script(tx.c->h, "ROLLBACK", &(int){0}, NULL);
		if (!retry && !tx.retry)
			goto done;
		pg_debug("%s: transaction attempt %d failed (%s), retrying", s->display, attempt + 1,
			 ei != NULL ? ei->message : "busy");
	}
	r = pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
				"%s: transaction still conflicting after %d attempts", s->display, VSTORE_MAX_ATTEMPTS);
done:
	if (!readonly && s->be->one_writer)
		pthread_mutex_unlock(&s->write_mu);
	/* The sync waits for the disk: other writers go on meanwhile (it makes their commits durable too). */
	if (r == 0 && tx.durable && s->be->sync != NULL)
		r = s->be->sync(tx.c->h, ei);
	if (c == NULL)
		pool_give(s, tx.c);
	return r;
}

static int run(vstore *s, int readonly, vstore_txfn fn, void *arg, pcrgate_errinfo *ei)
{
	return run_on(s, NULL, readonly, fn, arg, ei);
}

void vstore_tx_durable(vstore_tx *tx)
{
	tx->durable = 1;
}

int vstore_run(vstore *s, vstore_txfn fn, void *arg, pcrgate_errinfo *ei)
{
	return run(s, 0, fn, arg, ei);
}

int vstore_run_read(vstore *s, vstore_txfn fn, void *arg, pcrgate_errinfo *ei)
{
	return run(s, 1, fn, arg, ei);
}

/* A statement about savepoints, run as plain SQL (PostgreSQL: never a prepared statement). */
static int savepoint(vstore_tx *tx, const char *sql, pcrgate_errinfo *ei)
{
	int retry = 0;
	int r = tx->s->be->script(tx->c->h, sql, &retry, ei);

	if (r != 0 && retry)
		tx->retry = 1;
	return r;
}

/*
 * One attempt at a batch: each job in a savepoint of its own, released when the job's fn
 * succeeded and rolled back when it failed (a batch of one needs none: its failure is the
 * transaction's). A failure the batch cannot go on from (a job's statement that asks for a
 * retry, a savepoint refused) fails the attempt with the job's error.
 */
static int batch_tx(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct vjob *j = arg;
	pcrgate_errinfo sei;
	int r;

	if (j->next == NULL) {
		pcrgate_errinfo_clear(&j->ei);
		j->rc = j->fn(tx, j->arg, &j->ei);
		*ei = j->ei;
		return j->rc;
	}
	for (; j != NULL; j = j->next) {
		pcrgate_errinfo_clear(&j->ei);
		if ((r = savepoint(tx, "SAVEPOINT job", ei)) != 0)
			return r;
		tx->retry = 0;
		j->rc = j->fn(tx, j->arg, &j->ei);
		if (j->rc != 0 && tx->retry) {
			*ei = j->ei;
			return j->rc;
		}
		pcrgate_errinfo_clear(&sei);
		if ((j->rc != 0 && savepoint(tx, "ROLLBACK TO job", &sei) != 0) || savepoint(tx, "RELEASE job", &sei) != 0) {
			/* The transaction itself failed (SQLite ends it on a full disk, an I/O error): say why first. */
			pg_warn("%s: a batch's savepoint failed: %s", tx->s->display, sei.message);
			*ei = j->rc != 0 ? j->ei : sei;
			return j->rc != 0 ? j->rc : PCRGATE_ERR_IO;
		}
	}
	return 0;
}

/*
 * The writer thread: runs what is queued, a batch at a time, until vstore_close, on a
 * connection of its own (SQLite: whose page cache stays valid, since most commits are its own;
 * a commit by another connection empties a connection's cache).
 */
static void *writer_loop(void *arg)
{
	vstore *s = arg;
	struct vconn own = {0};

	pthread_mutex_lock(&s->q_mu);
	for (;;) {
		struct vjob *batch, *j, *last;
		pcrgate_errinfo ei;
		size_t n;
		int r;

		while (s->q_head == NULL && !s->writer_stop)
			pthread_cond_wait(&s->q_cv, &s->q_mu);
		if (s->q_head == NULL)
			break;
		batch = last = s->q_head;
		for (n = 1; n < VSTORE_BATCH_MAX && last->next != NULL; n++)
			last = last->next;
		s->q_head = last->next;
		if (s->q_head == NULL)
			s->q_tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->q_mu);

		pcrgate_errinfo_clear(&ei);
		r = run_on(s, &own, 0, batch_tx, batch, &ei);
		for (j = batch; j != NULL; j = batch) {
			batch = j->next;
			if (r != 0)
				j->done(j->arg, r, &ei);
			else
				j->done(j->arg, j->rc, j->rc != 0 ? &j->ei : NULL);
			free(j);
		}
		pthread_mutex_lock(&s->q_mu);
	}
	pthread_mutex_unlock(&s->q_mu);
	if (own.h != NULL)
		s->be->disconnect(own.h);
	return NULL;
}

int vstore_submit(vstore *s, vstore_txfn fn, vstore_donefn done, void *arg, pcrgate_errinfo *ei)
{
	struct vjob *j;
	int r;

	if (s == NULL || fn == NULL || done == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "vstore_submit: bad arguments");
	if ((j = calloc(1, sizeof(*j))) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&s->q_mu);
	if (s->writer_stop) {
		pthread_mutex_unlock(&s->q_mu);
		free(j);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "%s is closing",
					   s->display);
	}
	if (!s->writer_started) {
		if ((r = pthread_create(&s->writer, NULL, writer_loop, s)) != 0) {
			pthread_mutex_unlock(&s->q_mu);
			free(j);
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
						   "%s: cannot start the writer thread: %s", s->display, strerror(r));
		}
		s->writer_started = 1;
	}
	if (s->q_tail != NULL)
		s->q_tail->next = j;
	else
		s->q_head = j;
	s->q_tail = j;
	pthread_cond_signal(&s->q_cv);
	pthread_mutex_unlock(&s->q_mu);
	return 0;
}

int vstore_exec(vstore_tx *tx, const char *sql, const struct vparam *params, size_t n, vstore_rowfn row, void *arg,
		long *changes, pcrgate_errinfo *ei)
{
	size_t placeholders;
	int retry = 0;
	int r;

	if (tx == NULL || sql == NULL || (params == NULL && n != 0))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "vstore_exec: bad arguments");
	if (strlen(sql) > VSTORE_MAX_SQL || n > VSTORE_MAX_PARAMS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "vstore_exec: statement or parameter list too long");
	if ((placeholders = vstore_sql_count(sql)) != n)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "vstore_exec: %zu parameters for %zu placeholders", n, placeholders);
	r = tx->s->be->exec(tx->c->h, sql, params, n, row, arg, changes, &retry, ei);
	if (r != 0 && retry)
		tx->retry = 1;
	return r;
}

/*
 * Counts the `?` outside quoted literals ('...'), quoted identifiers ("..."), line comments
 * and block comments; out (may be NULL) receives the SQL with each of them replaced by $N.
 * The store's SQL is written by the verifier, never taken from input, so standard quoting
 * (a doubled quote inside) is all it needs to follow.
 */
static size_t scan_placeholders(const char *sql, char *out)
{
	size_t count = 0;
	size_t o = 0;
	const char *p = sql;

	while (*p != '\0') {
		if (*p == '\'' || *p == '"') {
			char q = *p;

			/* A doubled quote stays inside the literal. */
			if (out != NULL)
				out[o++] = *p;
			p++;
			while (*p != '\0') {
				if (*p == q && p[1] == q) {
					if (out != NULL) {
						out[o++] = *p;
						out[o++] = p[1];
					}
					p += 2;
					continue;
				}
				if (out != NULL)
					out[o++] = *p;
				if (*p++ == q)
					break;
			}
			continue;
		}
		if (p[0] == '-' && p[1] == '-') {
			while (*p != '\0' && *p != '\n') {
				if (out != NULL)
					out[o++] = *p;
				p++;
			}
			continue;
		}
		if (p[0] == '/' && p[1] == '*') {
			const char *end = strstr(p + 2, "*/");
			size_t len = end != NULL ? (size_t)(end + 2 - p) : strlen(p);

			if (out != NULL)
				memcpy(out + o, p, len);
			o += len;
			p += len;
			continue;
		}
		if (*p == '?') {
			count++;
			if (out != NULL)
				o += (size_t)sprintf(out + o, "$%zu", count);
			p++;
			continue;
		}
		if (out != NULL)
			out[o++] = *p;
		p++;
	}
	if (out != NULL)
		out[o] = '\0';
	return count;
}

size_t vstore_sql_count(const char *sql)
{
	return scan_placeholders(sql, NULL);
}

int vstore_sql_numbered(const char *sql, char **out, size_t *count, pcrgate_errinfo *ei)
{
	size_t n = scan_placeholders(sql, NULL);
	size_t len = strlen(sql);
	char *buf;

	if (len > VSTORE_MAX_SQL || n > VSTORE_MAX_PARAMS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "statement too long");
	/* Each `?` (1 byte) becomes at most "$64" (3 bytes). */
	if ((buf = malloc(len + 2 * n + 1)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	scan_placeholders(sql, buf);
	*out = buf;
	*count = n;
	return 0;
}

int64_t vcol_int(const struct vcol *c, int64_t def)
{
	char *end;
	long long v;

	if (c->type == VP_INT)
		return c->i64;
	if (c->type != VP_TEXT || c->len == 0)
		return def;
	errno = 0;
	v = strtoll(c->text, &end, 10);
	if (errno != 0 || *end != '\0')
		return def;
	return v;
}

char *vcol_strdup(const struct vcol *c)
{
	char *s;

	if (c->type != VP_TEXT)
		return NULL;
	if ((s = malloc(c->len + 1)) == NULL)
		return NULL;
	memcpy(s, c->text, c->len);
	s[c->len] = '\0';
	return s;
}

int vcol_text(const struct vcol *c, char *out, size_t cap)
{
	out[0] = '\0';
	if (c->type != VP_TEXT || c->len >= cap)
		return -1;
	memcpy(out, c->text, c->len);
	out[c->len] = '\0';
	return 0;
}

size_t vcol_blob(const struct vcol *c, uint8_t *out, size_t cap)
{
	if (c->type != VP_BLOB || c->len > cap)
		return 0;
	memcpy(out, c->blob, c->len);
	return c->len;
}
