/*
 * Unit tests of the verifier's store and audit log: on SQLite (a temporary file) always, and
 * on PostgreSQL when PCRGATE_PG_URL names a database (tests/verifier/with-postgres sets one
 * up). Migrations, typed parameters with hostile values, rollback, transactions submitted to
 * the writer (each one's own result in a shared batch), one snapshot per read
 * transaction, constraint errors, the audit chain, its append-only table, concurrent appends
 * from several threads, and (SQLite) the WAL kept bounded by the store's checkpointer.
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "verifier/audit.h"
#include "verifier/store.h"
#include "verifier/store_internal.h"

static char url[512];
static char tmpdir[256];
static unsigned run_id;

/* A key unique to this test run, so tests on a reused PostgreSQL database never collide. */
static void key(char *out, size_t cap, const char *what, int n)
{
	snprintf(out, cap, "%s-%u-%d", what, run_id, n);
}

static int sqlite_setup(void **state)
{
	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "%s/pcrgate-store.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	assert_non_null(mkdtemp(tmpdir));
	snprintf(url, sizeof(url), "sqlite:%s/verifier.db?pool=4", tmpdir);
	return 0;
}

static int sqlite_teardown(void **state)
{
	const char *suffix[] = {"", "-wal", "-shm"};
	char path[300];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/verifier.db%s", tmpdir, suffix[i]);
		unlink(path);
	}
	rmdir(tmpdir);
	return 0;
}

static int pg_setup(void **state)
{
	(void)state;
	snprintf(url, sizeof(url), "%s", getenv("PCRGATE_PG_URL"));
	return 0;
}

static vstore *open_store(void)
{
	pcrgate_errinfo ei = {0};
	vstore *s = NULL;

	if (vstore_open(url, &s, &ei) != 0)
		fail_msg("vstore_open: %s", ei.message);
	return s;
}

static void *opener(void *arg)
{
	pcrgate_errinfo ei = {0};
	vstore *s = NULL;

	(void)arg;
	if (vstore_open(url, &s, &ei) != 0) {
		fprintf(stderr, "vstore_open: %s\n", ei.message);
		return (void *)1;
	}
	vstore_close(&s);
	return NULL;
}

/* Verifiers starting at once on a new database: each migration is applied once, none fails. */
static void test_open_concurrent(void **state)
{
	pthread_t t[4];

	(void)state;
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&t[i], NULL, opener, NULL), 0);
	for (int i = 0; i < 4; i++) {
		void *ret = NULL;

		pthread_join(t[i], &ret);
		assert_null(ret);
	}
}

static void test_migrations_idempotent(void **state)
{
	vstore *a;
	vstore *b;

	(void)state;
	a = open_store();
	b = open_store();
	assert_int_equal(vstore_schema_version(a), vstore_schema_latest());
	assert_int_equal(vstore_schema_version(b), vstore_schema_version(a));
	assert_string_equal(vstore_backend(a), strncmp(url, "sqlite:", 7) == 0 ? "sqlite" : "postgresql");
	vstore_close(&a);
	vstore_close(&b);
	assert_null(b);
	vstore_close(&b);
}

/* Hostile values: SQL metacharacters, quotes, backslashes, non-ASCII, placeholders in text. */
static const char *const texts[] = {
	"'; DROP TABLE devices; --",
	"it's \"quoted\" and back\\slashed\\",
	"grüße, 日本語, emoji \xf0\x9f\x94\x92",
	"? $1 :name @p %s",
	"",
	"line\nbreak\ttab",
};

static const uint8_t blob_nul[] = {0x00, 0x01, 0x00, 0xff, 0x27, 0x5c, 0x00};

struct roundtrip {
	const char *id;
	int64_t clock;
	int rows;
};

static int check_row(const struct vcol *cols, size_t n, void *arg, pcrgate_errinfo *ei)
{
	struct roundtrip *rt = arg;

	(void)ei;
	assert_int_equal(n, 6);
	assert_int_equal(cols[0].type, VP_TEXT);
	assert_int_equal(cols[0].len, strlen(rt->id));
	assert_memory_equal(cols[0].text, rt->id, cols[0].len);
	assert_int_equal(cols[1].type, VP_BLOB);
	assert_int_equal(cols[1].len, sizeof(blob_nul));
	assert_memory_equal(cols[1].blob, blob_nul, sizeof(blob_nul));
	assert_int_equal(cols[2].type, VP_BLOB);
	assert_int_equal(cols[2].len, 0);
	assert_int_equal(cols[3].type, VP_NULL);
	assert_int_equal(cols[4].type, VP_INT);
	assert_true(cols[4].i64 == rt->clock);
	assert_int_equal(cols[5].type, VP_TEXT);
	assert_string_equal(cols[5].text, "pending");
	rt->rows++;
	return 0;
}

struct insert_args {
	const char *id;
	int64_t clock;
	int fail_after;
};

static int insert_device(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct insert_args *a = arg;
	const struct vparam p[] = {
		VPARAM_TEXT(a->id),   VPARAM_BLOB(blob_nul, sizeof(blob_nul)), VPARAM_BLOB("", 0), VPARAM_NULL,
		VPARAM_INT(a->clock), VPARAM_TEXT(NULL),
	};
	int r = vstore_exec(tx,
			    "INSERT INTO devices (id, ek_public, ak_public, ek_certificate, clock, grp, created_at)"
			    " VALUES (?, ?, ?, ?, ?, ?, 1) -- a comment with ? in it",
			    p, 6, NULL, NULL, NULL, ei);

	if (r != 0)
		return r;
	return a->fail_after ? pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "fail on purpose") : 0;
}

struct select_args {
	const char *id;
	struct roundtrip *rt;
};

static int select_device(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct select_args *a = arg;
	const struct vparam p[] = {VPARAM_TEXT(a->id)};

	return vstore_exec(tx, "SELECT id, ek_public, ak_public, ek_certificate, clock, state FROM devices WHERE id = ?",
			   p, 1, check_row, a->rt, NULL, ei);
}

static void test_params_roundtrip(void **state)
{
	const int64_t clocks[] = {INT64_MAX, INT64_MIN, 0, -1};
	vstore *s = open_store();

	(void)state;
	for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
		pcrgate_errinfo ei = {0};
		char id[300];
		struct roundtrip rt = {.id = id, .clock = clocks[i % 4]};
		struct insert_args ins = {.id = id, .clock = rt.clock};
		struct select_args sel = {.id = id, .rt = &rt};

		snprintf(id, sizeof(id), "%s|%u", texts[i], run_id);
		if (vstore_run(s, insert_device, &ins, &ei) != 0)
			fail_msg("insert %zu: %s", i, ei.message);
		if (vstore_run_read(s, select_device, &sel, &ei) != 0)
			fail_msg("select %zu: %s", i, ei.message);
		assert_int_equal(rt.rows, 1);
	}
	vstore_close(&s);
}

static int count_rows(const struct vcol *cols, size_t n, void *arg, pcrgate_errinfo *ei)
{
	(void)ei;
	assert_int_equal(n, 1);
	*(int64_t *)arg = vcol_int(&cols[0], -1);
	return 0;
}

struct count_args {
	const char *id;
	int64_t n;
};

static int count_device(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct count_args *a = arg;
	const struct vparam p[] = {VPARAM_TEXT(a->id)};

	return vstore_exec(tx, "SELECT COUNT(*) FROM devices WHERE id = ?", p, 1, count_rows, &a->n, NULL, ei);
}

static int insert_twice(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct insert_args *a = arg;
	int r = insert_device(tx, a, ei);

	return r != 0 ? r : insert_device(tx, a, ei);
}

static void test_rollback(void **state)
{
	pcrgate_errinfo ei = {0};
	char id[64];
	struct insert_args ins = {.id = id, .fail_after = 1};
	struct count_args cnt = {.id = id};
	vstore *s = open_store();

	(void)state;
	key(id, sizeof(id), "rollback", 1);
	/* The body fails after its insert: nothing of it stays. */
	assert_int_equal(vstore_run(s, insert_device, &ins, &ei), PCRGATE_ERR_VERIFY);
	assert_int_equal(vstore_run_read(s, count_device, &cnt, &ei), 0);
	assert_int_equal(cnt.n, 0);
	/* A duplicate key in the second insert: a constraint error, and the first insert is gone too. */
	ins.fail_after = 0;
	assert_int_equal(vstore_run(s, insert_twice, &ins, &ei), VSTORE_ERR_CONSTRAINT);
	assert_non_null(strstr(ei.message, "constraint"));
	assert_int_equal(vstore_run_read(s, count_device, &cnt, &ei), 0);
	assert_int_equal(cnt.n, 0);
	vstore_close(&s);
}

/* vstore_submit: what each job's done was told, and how many were told. */
#define SUBMIT_JOBS 120
struct submit_job {
	char id[64];
	struct insert_args ins;
	int twice; /* inserts its device twice: a constraint error */
	int rc;    /* what done said; 1 until then */
	char message[256];
};

struct submit_state {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
	struct submit_job jobs[SUBMIT_JOBS];
};

static struct submit_state submitted = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static int submit_body(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct submit_job *j = arg;
	int r = insert_device(tx, &j->ins, ei);

	if (r == 0 && j->twice)
		r = insert_device(tx, &j->ins, ei);
	return r;
}

static void submit_done(void *arg, int rc, const pcrgate_errinfo *ei)
{
	struct submit_job *j = arg;

	pthread_mutex_lock(&submitted.mu);
	j->rc = rc;
	snprintf(j->message, sizeof(j->message), "%s", ei != NULL ? ei->message : "");
	submitted.done++;
	pthread_cond_broadcast(&submitted.cv);
	pthread_mutex_unlock(&submitted.mu);
}

struct submitter {
	vstore *s;
	size_t first, step;
};

static void *submit_some(void *arg)
{
	struct submitter *a = arg;
	pcrgate_errinfo ei = {0};

	for (size_t i = a->first; i < SUBMIT_JOBS; i += a->step)
		if (vstore_submit(a->s, submit_body, submit_done, &submitted.jobs[i], &ei) != 0) {
			fprintf(stderr, "vstore_submit: %s\n", ei.message);
			return (void *)1;
		}
	return NULL;
}

/*
 * Transactions submitted from several threads at once: each is told its own result, one that
 * fails (on purpose, or on a constraint) leaves nothing while the others of its batch commit,
 * and vstore_close runs what is still queued before it returns.
 */
static void test_submit(void **state)
{
	pcrgate_errinfo ei = {0};
	struct submitter subs[3];
	pthread_t t[3];
	vstore *s = open_store();
	size_t i;
	void *ret;

	(void)state;
	submitted.done = 0;
	for (i = 0; i < SUBMIT_JOBS; i++) {
		struct submit_job *j = &submitted.jobs[i];

		key(j->id, sizeof(j->id), "submit", (int)i);
		j->ins = (struct insert_args){.id = j->id, .fail_after = i % 7 == 3};
		j->twice = i % 11 == 5;
		j->rc = 1;
	}
	for (i = 0; i < 3; i++) {
		subs[i] = (struct submitter){s, i, 3};
		assert_int_equal(pthread_create(&t[i], NULL, submit_some, &subs[i]), 0);
	}
	for (i = 0; i < 3; i++) {
		assert_int_equal(pthread_join(t[i], &ret), 0);
		assert_null(ret);
	}
	/* Half of them wait for the close. */
	pthread_mutex_lock(&submitted.mu);
	while (submitted.done < SUBMIT_JOBS / 2)
		pthread_cond_wait(&submitted.cv, &submitted.mu);
	pthread_mutex_unlock(&submitted.mu);
	vstore_close(&s);
	assert_int_equal(submitted.done, SUBMIT_JOBS);
	s = open_store();
	for (i = 0; i < SUBMIT_JOBS; i++) {
		struct submit_job *j = &submitted.jobs[i];
		struct count_args cnt = {.id = j->id, .n = -1};

		assert_int_equal(vstore_run_read(s, count_device, &cnt, &ei), 0);
		if (j->ins.fail_after) {
			assert_int_equal(j->rc, PCRGATE_ERR_VERIFY);
			assert_string_equal(j->message, "fail on purpose");
			assert_int_equal(cnt.n, 0);
		} else if (j->twice) {
			assert_int_equal(j->rc, VSTORE_ERR_CONSTRAINT);
			assert_non_null(strstr(j->message, "constraint"));
			assert_int_equal(cnt.n, 0);
		} else {
			assert_int_equal(j->rc, 0);
			assert_int_equal(cnt.n, 1);
		}
	}
	assert_int_equal(vstore_submit(s, NULL, submit_done, NULL, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	vstore_close(&s);
}

/* ---- A batch that meets a deadlock is run again whole (PostgreSQL) ---- */
struct retry_state {
	atomic_int gate_open, w_running, b_holds, a_holds; /* the steps, in order */
	char r1[64], r2[64], x[64], y[64];
	int attempts[4]; /* W, X, A, Y: how often each job's body ran (on the writer thread alone) */
	int rc[4];
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int done;
};

static struct retry_state rs = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

/* Waits (at most 20 s) for a step. */
static int wait_step(atomic_int *step)
{
	for (int i = 0; i < 2000 && !atomic_load(step); i++)
		usleep(10000);
	return atomic_load(step);
}

static int update_cert(vstore_tx *tx, const char *id, pcrgate_errinfo *ei)
{
	const struct vparam p[] = {VPARAM_BLOB("x", 1), VPARAM_TEXT(id)};

	return vstore_exec(tx, "UPDATE devices SET ek_certificate = ? WHERE id = ?", p, 2, NULL, NULL, NULL, ei);
}

/* W holds the writer until the others are queued and B holds its lock. */
static int retry_w(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	(void)tx;
	(void)arg;
	rs.attempts[0]++;
	atomic_store(&rs.w_running, 1);
	return wait_step(&rs.gate_open) ? 0 : pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "no gate");
}

static int retry_x(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct insert_args ins = {.id = rs.x};

	(void)arg;
	rs.attempts[1]++;
	return insert_device(tx, &ins, ei);
}

static int first_int(const struct vcol *cols, size_t n, void *arg, pcrgate_errinfo *ei)
{
	(void)ei;
	*(int64_t *)arg = n > 0 ? vcol_int(&cols[0], -1) : -1;
	return 0;
}

/*
 * A locks r1; once B waits for it, A asks for r2, which B holds: the deadlock is complete when
 * A starts to wait, so A's check (1 s later; B's is a minute) finds it and A's batch is the one
 * rolled back.
 */
static int retry_a(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	int64_t waiting = 0;
	int r, i;

	(void)arg;
	rs.attempts[2]++;
	if ((r = vstore_exec(tx, "SET LOCAL deadlock_timeout = '1s'", NULL, 0, NULL, NULL, NULL, ei)) != 0 ||
	    (r = update_cert(tx, rs.r1, ei)) != 0)
		return r;
	if (rs.attempts[2] == 1) {
		atomic_store(&rs.a_holds, 1);
		for (i = 0; i < 2000 && waiting < 1; i++) {
			if ((r = vstore_exec(tx, "SELECT COUNT(*) FROM pg_locks WHERE NOT granted", NULL, 0, first_int,
					     &waiting, NULL, ei)) != 0)
				return r;
			if (waiting < 1)
				usleep(10000);
		}
	}
	return update_cert(tx, rs.r2, ei);
}

static int retry_y(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct insert_args ins = {.id = rs.y};

	(void)arg;
	rs.attempts[3]++;
	return insert_device(tx, &ins, ei);
}

static void retry_done(void *arg, int rc, const pcrgate_errinfo *ei)
{
	(void)ei;
	pthread_mutex_lock(&rs.mu);
	rs.rc[(int *)arg - rs.rc] = rc;
	rs.done++;
	pthread_cond_broadcast(&rs.cv);
	pthread_mutex_unlock(&rs.mu);
}

/* B: locks r2, and once A holds r1, asks for r1 (it never detects the deadlock itself: a minute). */
static int retry_b_body(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	int r;

	(void)arg;
	if ((r = vstore_exec(tx, "SET LOCAL deadlock_timeout = '60s'", NULL, 0, NULL, NULL, NULL, ei)) != 0 ||
	    (r = update_cert(tx, rs.r2, ei)) != 0)
		return r;
	atomic_store(&rs.b_holds, 1);
	if (!wait_step(&rs.a_holds))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "A never held r1");
	return update_cert(tx, rs.r1, ei);
}

static int set_deadlock_timeout(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	(void)arg;
	return vstore_exec(tx, "SET LOCAL deadlock_timeout = '1s'", NULL, 0, NULL, NULL, NULL, ei);
}

static void *retry_b(void *arg)
{
	pcrgate_errinfo ei = {0};

	return vstore_run(arg, retry_b_body, NULL, &ei) == 0 ? NULL : (void *)1;
}

/*
 * On PostgreSQL, a batch whose job meets a deadlock is rolled back and run again whole: the
 * job before it in the batch runs twice and its row is there once, the job after it runs once
 * (the first attempt stopped at the deadlock), and every job is told it committed.
 */
static void test_submit_retry(void **state)
{
	pcrgate_errinfo ei = {0};
	vstore *s = open_store();
	struct insert_args ins = {0};
	struct count_args cnt = {0};
	vstore_txfn fns[4] = {retry_w, retry_x, retry_a, retry_y};
	pthread_t b;
	void *ret;

	(void)state;
	assert_string_equal(vstore_backend(s), "postgresql");
	/* deadlock_timeout is a superuser's setting. */
	if (vstore_run(s, set_deadlock_timeout, NULL, &ei) != 0) {
		print_message("skipped: %s\n", ei.message);
		vstore_close(&s);
		skip();
	}
	key(rs.r1, sizeof(rs.r1), "retry-r1", 0);
	key(rs.r2, sizeof(rs.r2), "retry-r2", 0);
	key(rs.x, sizeof(rs.x), "retry-x", 0);
	key(rs.y, sizeof(rs.y), "retry-y", 0);
	ins.id = rs.r1;
	assert_int_equal(vstore_run(s, insert_device, &ins, &ei), 0);
	ins.id = rs.r2;
	assert_int_equal(vstore_run(s, insert_device, &ins, &ei), 0);
	/* W alone first; X, A and Y queue behind it, to be one batch. */
	assert_int_equal(vstore_submit(s, fns[0], retry_done, &rs.rc[0], &ei), 0);
	assert_true(wait_step(&rs.w_running));
	for (int i = 1; i < 4; i++)
		assert_int_equal(vstore_submit(s, fns[i], retry_done, &rs.rc[i], &ei), 0);
	assert_int_equal(pthread_create(&b, NULL, retry_b, s), 0);
	assert_true(wait_step(&rs.b_holds));
	atomic_store(&rs.gate_open, 1);
	assert_int_equal(pthread_join(b, &ret), 0);
	assert_null(ret);
	pthread_mutex_lock(&rs.mu);
	while (rs.done < 4)
		pthread_cond_wait(&rs.cv, &rs.mu);
	pthread_mutex_unlock(&rs.mu);
	for (int i = 0; i < 4; i++)
		assert_int_equal(rs.rc[i], 0);
	assert_int_equal(rs.attempts[0], 1);
	assert_int_equal(rs.attempts[1], 2);
	assert_int_equal(rs.attempts[2], 2);
	assert_int_equal(rs.attempts[3], 1);
	cnt.id = rs.x;
	assert_int_equal(vstore_run_read(s, count_device, &cnt, &ei), 0);
	assert_int_equal(cnt.n, 1);
	cnt.id = rs.y;
	assert_int_equal(vstore_run_read(s, count_device, &cnt, &ei), 0);
	assert_int_equal(cnt.n, 1);
	vstore_close(&s);
}

struct snapshot_args {
	vstore *writer;
	const char *id;
	int64_t before, after;
};

/* Counts the device, has another connection insert it, counts again: in one read transaction. */
static int read_twice(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct snapshot_args *a = arg;
	struct count_args c = {.id = a->id, .n = -1};
	struct insert_args ins = {.id = a->id};
	int r;

	if ((r = count_device(tx, &c, ei)) != 0)
		return r;
	a->before = c.n;
	if ((r = vstore_run(a->writer, insert_device, &ins, ei)) != 0)
		return r;
	c.n = -1;
	if ((r = count_device(tx, &c, ei)) != 0)
		return r;
	a->after = c.n;
	return 0;
}

/*
 * A read transaction sees one snapshot: a commit made meanwhile is not half in its answer.
 * SQLite's deferred transactions always did; on PostgreSQL it needs REPEATABLE READ (the
 * store-postgresql group, which tests/verifier/store-postgres.sh runs).
 */
static void test_read_snapshot(void **state)
{
	pcrgate_errinfo ei = {0};
	char id[64];
	struct snapshot_args a = {.id = id, .before = -1, .after = -1};
	struct count_args cnt = {.id = id};
	vstore *s = open_store();

	(void)state;
	a.writer = open_store();
	key(id, sizeof(id), "snapshot", 1);
	assert_int_equal(vstore_run_read(s, read_twice, &a, &ei), 0);
	assert_int_equal(a.before, 0);
	assert_int_equal(a.after, 0);
	assert_int_equal(vstore_run_read(s, count_device, &cnt, &ei), 0);
	assert_int_equal(cnt.n, 1);
	vstore_close(&a.writer);
	vstore_close(&s);
}

struct update_args {
	const char *id;
	long changes;
};

static int update_state(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct update_args *a = arg;
	const struct vparam p[] = {VPARAM_TEXT(a->id)};

	/* A single-use transition: the second run changes nothing. */
	return vstore_exec(tx, "UPDATE devices SET state = 'active' WHERE id = ? AND state = 'pending'", p, 1, NULL,
			   NULL, &a->changes, ei);
}

static int bad_state(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	const struct vparam p[] = {VPARAM_TEXT(arg)};

	return vstore_exec(tx, "UPDATE devices SET state = 'bogus' WHERE id = ?", p, 1, NULL, NULL, NULL, ei);
}

static int wrong_count(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	(void)arg;
	return vstore_exec(tx, "SELECT ?, '?', \"id\" FROM devices", NULL, 0, NULL, NULL, NULL, ei);
}

static void test_changes_and_checks(void **state)
{
	pcrgate_errinfo ei = {0};
	char id[64];
	struct insert_args ins = {.id = id};
	struct update_args upd = {.id = id, .changes = -1};
	vstore *s = open_store();

	(void)state;
	key(id, sizeof(id), "changes", 1);
	assert_int_equal(vstore_run(s, insert_device, &ins, &ei), 0);
	assert_int_equal(vstore_run(s, update_state, &upd, &ei), 0);
	assert_int_equal(upd.changes, 1);
	assert_int_equal(vstore_run(s, update_state, &upd, &ei), 0);
	assert_int_equal(upd.changes, 0);
	assert_int_equal(vstore_run(s, bad_state, id, &ei), VSTORE_ERR_CONSTRAINT);
	assert_int_equal(vstore_run(s, wrong_count, NULL, &ei), PCRGATE_ERR_INVALID_ARGUMENT);
	vstore_close(&s);
}

static void test_placeholders(void **state)
{
	pcrgate_errinfo ei = {0};
	char *out = NULL;
	size_t n = 0;

	(void)state;
	assert_int_equal(vstore_sql_numbered("SELECT a FROM t WHERE a = ? AND b = '?''?' AND \"c?\" = ? -- ?\n"
					     "AND d = ? /* ? */ AND e = ?",
					     &out, &n, &ei),
			 0);
	assert_int_equal(n, 4);
	assert_string_equal(out, "SELECT a FROM t WHERE a = $1 AND b = '?''?' AND \"c?\" = $2 -- ?\n"
				 "AND d = $3 /* ? */ AND e = $4");
	free(out);
}

static void test_urls(void **state)
{
	pcrgate_errinfo ei = {0};
	vstore *s = NULL;

	(void)state;
	assert_int_equal(vstore_open("mysql://x", &s, &ei), PCRGATE_ERR_CONFIG);
	assert_int_equal(vstore_open("sqlite:", &s, &ei), PCRGATE_ERR_CONFIG);
	assert_int_equal(vstore_open("sqlite:/tmp/x.db?pool=0", &s, &ei), PCRGATE_ERR_CONFIG);
	assert_int_equal(vstore_open("sqlite:/tmp/x.db?pool=abc", &s, &ei), PCRGATE_ERR_CONFIG);
	assert_int_equal(vstore_open("sqlite:/tmp/x.db?cache=shared", &s, &ei), PCRGATE_ERR_CONFIG);
	/* A connection that fails names no password. */
	assert_int_equal(vstore_open("postgresql://u:sekrit-pw@/db?host=/nonexistent-pcrgate&pool=2&connect_timeout=1",
				     &s, &ei),
			 PCRGATE_ERR_IO);
	assert_null(strstr(ei.message, "sekrit"));
	assert_int_equal(vstore_open("pg:host=/nonexistent-pcrgate password='sekrit pw' pool=3 dbname=x", &s, &ei),
			 PCRGATE_ERR_IO);
	assert_null(strstr(ei.message, "sekrit"));
	assert_null(s);
}

/* Checks an export: every line parses, hashes, links to the one before, seq runs 1.. without gap. */
struct chain {
	int64_t next;
	char last[AUDITCHAIN_HASH_HEX + 1];
	int tampered_seen;
};

static int check_line(const char *line, size_t len, void *arg, pcrgate_errinfo *ei)
{
	struct chain *c = arg;
	struct auditchain_entry e;
	char stored[AUDITCHAIN_HASH_HEX + 1];
	char computed[AUDITCHAIN_HASH_HEX + 1];
	json_t *doc = NULL;

	assert_null(memchr(line, '\n', len));
	if (auditchain_entry_parse(line, len, &doc, &e, stored, ei) != 0)
		fail_msg("export line: %s", ei->message);
	assert_true(e.seq == c->next);
	assert_string_equal(e.prev_hash, c->last);
	assert_int_equal(auditchain_hash(&e, computed, ei), 0);
	assert_string_equal(computed, stored);
	memcpy(c->last, stored, sizeof(c->last));
	c->next++;
	json_decref(doc);
	return 0;
}

static int export_all(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct chain *c = arg;
	char head[AUDITCHAIN_HASH_HEX + 1];
	int64_t seq;
	size_t count;
	int r;

	c->next = 1;
	memcpy(c->last, AUDITCHAIN_GENESIS, sizeof(c->last));
	/* In pages, as the admin API reads it. */
	do {
		if ((r = audit_export(tx, c->next - 1, 7, check_line, c, &count, ei)) != 0)
			return r;
	} while (count == 7);
	if ((r = audit_head(tx, &seq, head, ei)) != 0)
		return r;
	assert_true(seq == c->next - 1);
	assert_string_equal(head, c->last);
	return 0;
}

static int append_some(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	json_t *detail = json_pack("{s:s, s:i, s:[s, b], s:{s:n}}", "device", texts[0], "n", *(int *)arg, "list",
				   texts[2], 1, "nested", "z");
	int r;

	r = audit_append(tx, "admin:alice", "device.revoke", texts[1], detail, ei);
	if (r == 0)
		r = audit_append(tx, "verifier", "attest.pass", NULL, NULL, ei);
	json_decref(detail);
	return r;
}

static int tamper(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	return vstore_exec(tx, arg, NULL, 0, NULL, NULL, NULL, ei);
}

static int append_then_fail(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	int r = append_some(tx, arg, ei);

	return r != 0 ? r : pcrgate_errinfo_set(ei, PCRGATE_ERR_VERIFY, PCRGATE_NO_OFFSET, "fail on purpose");
}

static void test_audit_chain(void **state)
{
	pcrgate_errinfo ei = {0};
	struct chain before = {0};
	struct chain after = {0};
	vstore *s = open_store();

	(void)state;
	assert_int_equal(vstore_run_read(s, export_all, &before, &ei), 0);
	for (int i = 0; i < 3; i++)
		if (vstore_run(s, append_some, &i, &ei) != 0)
			fail_msg("append: %s", ei.message);
	/* A rolled-back transaction leaves no entry. */
	assert_int_equal(vstore_run(s, append_then_fail, &(int){9}, &ei), PCRGATE_ERR_VERIFY);
	assert_int_equal(vstore_run_read(s, export_all, &after, &ei), 0);
	assert_true(after.next == before.next + 6);
	/* The table refuses changes, whatever the SQL. */
	assert_int_not_equal(vstore_run(s, tamper, "UPDATE audit SET actor = 'mallory'", &ei), 0);
	assert_int_not_equal(vstore_run(s, tamper, "DELETE FROM audit WHERE seq = 1", &ei), 0);
	assert_int_not_equal(vstore_run(s, tamper, "DELETE FROM audit_head", &ei), 0);
	if (strcmp(vstore_backend(s), "postgresql") == 0)
		assert_int_not_equal(vstore_run(s, tamper, "TRUNCATE audit", &ei), 0);
	assert_int_equal(vstore_run_read(s, export_all, &after, &ei), 0);
	assert_true(after.next == before.next + 6);
	vstore_close(&s);
}

static int append_real(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	return audit_append(tx, "verifier", "x", "y", arg, ei);
}

static void test_audit_refuses(void **state)
{
	pcrgate_errinfo ei = {0};
	json_t *real = json_pack("{s:f}", "x", 1.5);
	json_t *array = json_array();
	vstore *s = open_store();

	(void)state;
	assert_int_equal(vstore_run(s, append_real, real, &ei), PCRGATE_ERR_FORMAT);
	assert_int_equal(vstore_run(s, append_real, array, &ei), PCRGATE_ERR_FORMAT);
	json_decref(real);
	json_decref(array);
	vstore_close(&s);
}

#define THREADS 4
#define PER_THREAD 25

static int append_one(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	json_t *detail = json_pack("{s:i}", "i", *(int *)arg);
	int r = audit_append(tx, "verifier", "attest.pass", "dev", detail, ei);

	json_decref(detail);
	return r;
}

static void *appender(void *arg)
{
	vstore *s = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		pcrgate_errinfo ei = {0};

		if (vstore_run(s, append_one, &i, &ei) != 0) {
			fprintf(stderr, "append: %s\n", ei.message);
			return (void *)1;
		}
	}
	return NULL;
}

static void test_audit_concurrent(void **state)
{
	pcrgate_errinfo ei = {0};
	struct chain before = {0};
	struct chain after = {0};
	pthread_t t[THREADS];
	vstore *s = open_store();
	/* A second store on the same database: appends from "another verifier". */
	vstore *other = open_store();

	(void)state;
	assert_int_equal(vstore_run_read(s, export_all, &before, &ei), 0);
	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, appender, i % 2 ? other : s), 0);
	for (int i = 0; i < THREADS; i++) {
		void *ret = NULL;

		pthread_join(t[i], &ret);
		assert_null(ret);
	}
	assert_int_equal(vstore_run_read(s, export_all, &after, &ei), 0);
	assert_true(after.next == before.next + THREADS * PER_THREAD);
	vstore_close(&s);
	vstore_close(&other);
}

/* The WAL file's size, and its header's checkpoint sequence number: SQLite moves it on as the WAL starts over. */
static void wal_state(const char *path, uint32_t *seq, off_t *size)
{
	uint8_t h[32];
	struct stat st;
	FILE *f = fopen(path, "rb");

	assert_non_null(f);
	assert_int_equal(fread(h, 1, sizeof(h), f), sizeof(h));
	assert_int_equal(fstat(fileno(f), &st), 0);
	fclose(f);
	*seq = (uint32_t)h[12] << 24 | (uint32_t)h[13] << 16 | (uint32_t)h[14] << 8 | h[15];
	*size = st.st_size;
}

struct blob_args {
	const char *id;
	uint8_t *blob;
	size_t len;
};

static int write_blob(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct blob_args *a = arg;
	const struct vparam p[] = {VPARAM_BLOB(a->blob, a->len), VPARAM_TEXT(a->id)};

	return vstore_exec(tx, "UPDATE devices SET ek_certificate = ? WHERE id = ?", p, 2, NULL, NULL, NULL, ei);
}

/*
 * Commits b's blob filled with i's low byte (so a new value each time: SQLite writes no page for
 * an unchanged one, and a commit without pages does not restart the WAL), then reads the WAL's
 * state.
 */
static void commit_blob(vstore *s, struct blob_args *b, unsigned i, const char *wal, uint32_t *seq, off_t *size)
{
	pcrgate_errinfo ei = {0};

	memset(b->blob, (int)(i & 0xff), b->len);
	if (vstore_run(s, write_blob, b, &ei) != 0)
		fail_msg("commit %u: %s", i, ei.message);
	wal_state(wal, seq, size);
}

/* A new store with a device whose certificate takes 256 KiB blobs, and its WAL's path and state. */
struct wal_fixture {
	vstore *s;
	char id[64], wal[300];
	struct blob_args b;
	uint32_t seq0;
	off_t size;
};

static void wal_fixture_open(struct wal_fixture *f, const char *what)
{
	pcrgate_errinfo ei = {0};
	struct insert_args ins = {.id = f->id};

	f->b = (struct blob_args){f->id, malloc(256 * 1024), 256 * 1024};
	assert_non_null(f->b.blob);
	key(f->id, sizeof(f->id), what, 1);
	snprintf(f->wal, sizeof(f->wal), "%s/verifier.db-wal", tmpdir);
	f->s = open_store();
	assert_int_equal(vstore_run(f->s, insert_device, &ins, &ei), 0);
	wal_state(f->wal, &f->seq0, &f->size);
}

/* The size of a WAL of n frames: a 32-byte header, then each page (4 KiB) after 24 bytes of its own. */
static off_t wal_bytes(off_t n)
{
	return 32 + n * (4096 + 24);
}

/*
 * SQLite's WAL stays bounded while writers keep committing. Each commit rewrites one row's
 * large blob, so the database stays small and the WAL is what grows.
 *
 * First the checkpointer: once commits grow the WAL past VSTORE_SQLITE_CHECKPOINT_PAGES, its
 * round lets a later commit start the WAL over (its checkpoint sequence moves on). Small
 * commits 10 ms apart keep coming meanwhile (for at most a minute); they leave its last pass
 * the writers' mutex, and the WAL far from the bound, so the checkpointer alone restarts it.
 *
 * Then writers as fast as the machine commits, which can outrun the checkpointer (before the
 * bound, 4 of 30 runs here left the WAL past three thresholds): over twice the bound written,
 * the WAL starts over and never passes VSTORE_SQLITE_WAL_MAX_PAGES by more than a few commits
 * (the commit that reached it, and rarely the next: a writer that finds another connection's
 * checkpoint taking a reader's lock just then does not start the WAL over).
 */
static void test_wal_checkpointed(void **state)
{
	struct wal_fixture f;
	uint8_t byte = 0;
	struct blob_args small = {f.id, &byte, 1};
	uint32_t seq, last;
	off_t before, one_commit = 0, biggest = 0, written = 0;
	unsigned restarts = 0, i;

	(void)state;
	wal_fixture_open(&f, "wal");
	seq = f.seq0;
	for (i = 0; seq == f.seq0 && f.size <= wal_bytes(VSTORE_SQLITE_CHECKPOINT_PAGES); i++) {
		before = f.size;
		commit_blob(f.s, &f.b, i, f.wal, &seq, &f.size);
		if (f.size - before > one_commit)
			one_commit = f.size - before;
	}
	for (i = 0; seq == f.seq0 && i < 6000; i++) {
		usleep(10000);
		commit_blob(f.s, &small, i, f.wal, &seq, &f.size);
	}
	if (seq == f.seq0)
		fail_msg("the checkpointer never let the WAL start over (%lld bytes)", (long long)f.size);
	assert_true(f.size < wal_bytes(VSTORE_SQLITE_WAL_MAX_PAGES));

	last = seq;
	for (i = 0; written < 2 * wal_bytes(VSTORE_SQLITE_WAL_MAX_PAGES); i++) {
		commit_blob(f.s, &f.b, i, f.wal, &seq, &f.size);
		written += (off_t)f.b.len;
		if (seq != last)
			restarts++;
		last = seq;
		if (f.size > biggest)
			biggest = f.size;
	}
	print_message("%u restarts, the WAL at most %lld bytes (bound %lld, one commit %lld)\n", restarts,
		      (long long)biggest, (long long)wal_bytes(VSTORE_SQLITE_WAL_MAX_PAGES), (long long)one_commit);
	assert_true(restarts >= 1);
	assert_true(biggest <= wal_bytes(VSTORE_SQLITE_WAL_MAX_PAGES) + 4 * one_commit);
	vstore_close(&f.s);
	free(f.b.blob);
}

/* ---- Fault injection: an SQLite VFS whose syncs of a database file fail on demand ---- */
struct fault_file {
	sqlite3_file base;
	sqlite3_file *real; /* the default VFS's file, right after this struct */
	int main_db;
};

static sqlite3_vfs *real_vfs;
static sqlite3_vfs fault_vfs;
static atomic_int fail_db_sync;

#define REAL(f) (((struct fault_file *)(f))->real)

static int ff_close(sqlite3_file *f)
{
	return REAL(f)->pMethods->xClose(REAL(f));
}

static int ff_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xRead(REAL(f), buf, n, off);
}

static int ff_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off)
{
	return REAL(f)->pMethods->xWrite(REAL(f), buf, n, off);
}

static int ff_truncate(sqlite3_file *f, sqlite3_int64 size)
{
	return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int ff_sync(sqlite3_file *f, int flags)
{
	if (((struct fault_file *)f)->main_db && atomic_load(&fail_db_sync))
		return SQLITE_IOERR_FSYNC;
	return REAL(f)->pMethods->xSync(REAL(f), flags);
}

static int ff_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
	return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int ff_lock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xLock(REAL(f), level);
}

static int ff_unlock(sqlite3_file *f, int level)
{
	return REAL(f)->pMethods->xUnlock(REAL(f), level);
}

static int ff_check_reserved(sqlite3_file *f, int *out)
{
	return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int ff_file_control(sqlite3_file *f, int op, void *arg)
{
	return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int ff_sector_size(sqlite3_file *f)
{
	return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int ff_device_characteristics(sqlite3_file *f)
{
	return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int ff_shm_map(sqlite3_file *f, int region, int size, int extend, void volatile **out)
{
	return REAL(f)->pMethods->xShmMap(REAL(f), region, size, extend, out);
}

static int ff_shm_lock(sqlite3_file *f, int offset, int n, int flags)
{
	return REAL(f)->pMethods->xShmLock(REAL(f), offset, n, flags);
}

static void ff_shm_barrier(sqlite3_file *f)
{
	REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int ff_shm_unmap(sqlite3_file *f, int delete_flag)
{
	return REAL(f)->pMethods->xShmUnmap(REAL(f), delete_flag);
}

static int ff_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **out)
{
	return REAL(f)->pMethods->xFetch(REAL(f), off, n, out);
}

static int ff_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
	return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods ff_methods = {
	.iVersion = 3,
	.xClose = ff_close,
	.xRead = ff_read,
	.xWrite = ff_write,
	.xTruncate = ff_truncate,
	.xSync = ff_sync,
	.xFileSize = ff_file_size,
	.xLock = ff_lock,
	.xUnlock = ff_unlock,
	.xCheckReservedLock = ff_check_reserved,
	.xFileControl = ff_file_control,
	.xSectorSize = ff_sector_size,
	.xDeviceCharacteristics = ff_device_characteristics,
	.xShmMap = ff_shm_map,
	.xShmLock = ff_shm_lock,
	.xShmBarrier = ff_shm_barrier,
	.xShmUnmap = ff_shm_unmap,
	.xFetch = ff_fetch,
	.xUnfetch = ff_unfetch,
};

static int ff_open(sqlite3_vfs *vfs, sqlite3_filename name, sqlite3_file *f, int flags, int *out)
{
	struct fault_file *p = (struct fault_file *)f;
	int rc;

	(void)vfs;
	p->real = (sqlite3_file *)(p + 1);
	p->main_db = (flags & SQLITE_OPEN_MAIN_DB) != 0;
	rc = real_vfs->xOpen(real_vfs, name, p->real, flags, out);
	p->base.pMethods = p->real->pMethods != NULL ? &ff_methods : NULL;
	return rc;
}

/* Makes the fault VFS SQLite's default (on), or the default VFS again (off). */
static void fault_vfs_default(int on)
{
	if (on) {
		real_vfs = sqlite3_vfs_find(NULL);
		assert_non_null(real_vfs);
		fault_vfs = *real_vfs;
		fault_vfs.zName = "pcrgate-test-fault";
		fault_vfs.szOsFile = (int)sizeof(struct fault_file) + real_vfs->szOsFile;
		fault_vfs.xOpen = ff_open;
		fault_vfs.pNext = NULL;
		assert_int_equal(sqlite3_vfs_register(&fault_vfs, 1), SQLITE_OK);
	} else {
		assert_int_equal(sqlite3_vfs_register(real_vfs, 1), SQLITE_OK);
		assert_int_equal(sqlite3_vfs_unregister(&fault_vfs), SQLITE_OK);
	}
}

struct same_blob_args {
	const char *id;
	const uint8_t *blob;
	size_t len;
	int64_t n;
};

static int count_same_blob(vstore_tx *tx, void *arg, pcrgate_errinfo *ei)
{
	struct same_blob_args *a = arg;
	const struct vparam p[] = {VPARAM_TEXT(a->id), VPARAM_BLOB(a->blob, a->len)};

	return vstore_exec(tx, "SELECT COUNT(*) FROM devices WHERE id = ? AND ek_certificate = ?", p, 2, count_rows,
			   &a->n, NULL, ei);
}

/*
 * SQLite, when a sync of the database file fails (the fault VFS): checkpoints stop, and stay
 * stopped once syncs work again (Linux reports a lost write once, so a later sync that works
 * proves nothing), and no checkpoint lets the WAL start over: the WAL grows past its bound with
 * every commit in it. Closing the store leaves the WAL; opening it again finds the last commit.
 */
static void test_wal_sync_fails(void **state)
{
	pcrgate_errinfo ei = {0};
	struct wal_fixture f;
	struct same_blob_args same = {f.id, NULL, 0, -1};
	uint32_t seq;
	struct stat st;
	unsigned i;

	(void)state;
	fault_vfs_default(1);
	wal_fixture_open(&f, "walsync");
	atomic_store(&fail_db_sync, 1);
	/* Past the bound, where a commit checkpoints itself if checkpoints have not stopped before. */
	for (i = 0; f.size <= wal_bytes(VSTORE_SQLITE_WAL_MAX_PAGES + 256); i++) {
		commit_blob(f.s, &f.b, i, f.wal, &seq, &f.size);
		assert_true(seq == f.seq0);
	}
	atomic_store(&fail_db_sync, 0);
	for (; f.size <= wal_bytes(VSTORE_SQLITE_WAL_MAX_PAGES * 3 / 2); i++) {
		commit_blob(f.s, &f.b, i, f.wal, &seq, &f.size);
		assert_true(seq == f.seq0);
	}
	vstore_close(&f.s);
	assert_int_equal(stat(f.wal, &st), 0);
	assert_true(st.st_size == f.size);
	f.s = open_store();
	same.blob = f.b.blob;
	same.len = f.b.len;
	assert_int_equal(vstore_run_read(f.s, count_same_blob, &same, &ei), 0);
	assert_int_equal(same.n, 1);
	vstore_close(&f.s);
	fault_vfs_default(0);
	free(f.b.blob);
}

/* The column readers row callbacks share: text and blobs that fit, and what they do when not. */
static void test_column_readers(void **state)
{
	const struct vcol text = {.type = VP_TEXT, .text = "abc", .len = 3};
	const struct vcol blob = {.type = VP_BLOB, .blob = (const uint8_t *)"\0\1\2", .len = 3};
	const struct vcol null = {.type = VP_NULL};
	char out[4];
	uint8_t buf[3] = {9, 9, 9};

	(void)state;
	assert_int_equal(vcol_text(&text, out, sizeof(out)), 0);
	assert_string_equal(out, "abc");
	assert_int_equal(vcol_text(&text, out, 3), -1); /* no room for the NUL */
	assert_string_equal(out, "");
	assert_int_equal(vcol_text(&null, out, sizeof(out)), -1);
	assert_int_equal(vcol_text(&blob, out, sizeof(out)), -1);
	assert_int_equal(vcol_blob(&blob, buf, 2), 0);
	assert_int_equal(buf[0], 9);
	assert_int_equal(vcol_blob(&text, buf, sizeof(buf)), 0);
	assert_int_equal(vcol_blob(&blob, buf, sizeof(buf)), 3);
	assert_memory_equal(buf, "\0\1\2", 3);
}

/* With --postgresql, only the PostgreSQL groups (tests/verifier/store-postgres.sh): the others ran already. */
int main(int argc, char **argv)
{
	const struct CMUnitTest common[] = {
		cmocka_unit_test(test_placeholders),
		cmocka_unit_test(test_urls),
		cmocka_unit_test(test_column_readers),
	};
	const struct CMUnitTest store[] = {
		cmocka_unit_test(test_open_concurrent),
		cmocka_unit_test(test_migrations_idempotent),
		cmocka_unit_test(test_params_roundtrip),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_submit),
		cmocka_unit_test(test_read_snapshot),
		cmocka_unit_test(test_changes_and_checks),
		cmocka_unit_test(test_audit_chain),
		cmocka_unit_test(test_audit_refuses),
		cmocka_unit_test(test_audit_concurrent),
	};
	const struct CMUnitTest sqlite_only[] = {
		cmocka_unit_test(test_wal_checkpointed),
		cmocka_unit_test(test_wal_sync_fails),
	};
	const struct CMUnitTest pg_only[] = {
		cmocka_unit_test(test_submit_retry),
	};
	const char *pg_url = getenv("PCRGATE_PG_URL");
	int postgresql_only = argc > 1 && strcmp(argv[1], "--postgresql") == 0;
	int failed = 0;

	run_id = (unsigned)getpid() ^ (unsigned)time(NULL);
	if (postgresql_only && (pg_url == NULL || pg_url[0] == '\0')) {
		fprintf(stderr, "SKIP: --postgresql without PCRGATE_PG_URL\n");
		return 77;
	}
	if (!postgresql_only) {
		failed += cmocka_run_group_tests_name("store-common", common, NULL, NULL);
		failed += cmocka_run_group_tests_name("store-sqlite", store, sqlite_setup, sqlite_teardown);
		failed += cmocka_run_group_tests_name("store-sqlite-wal", sqlite_only, sqlite_setup, sqlite_teardown);
	}
	if (pg_url != NULL && pg_url[0] != '\0') {
		failed += cmocka_run_group_tests_name("store-postgresql", store, pg_setup, NULL);
		failed += cmocka_run_group_tests_name("store-postgresql-only", pg_only, pg_setup, NULL);
	}
	return failed;
}
