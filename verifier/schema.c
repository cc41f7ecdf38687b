/*
 * pcrgate-verifierd: the store's schema as one ordered list of migrations for both backends.
 * The SQL is written once with two type words the backends spell differently (INT64: SQLite
 * INTEGER, PostgreSQL BIGINT; BYTES: BLOB, BYTEA); only what has no common form (the triggers
 * that make the audit table append-only) is given per backend. schema_migrations records what
 * was applied. Migrations run in one transaction, on PostgreSQL also under an advisory lock,
 * so two verifiers starting at once on one database apply each migration once.
 * docs/verifier-storage.md describes the tables.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/auditchain.h"
#include "verifier/store_internal.h"

struct migration {
	const char *name;
	const char *common;
	const char *sqlite;
	const char *pg;
};

/* Foreign keys are checked at commit, so a transaction may write a device and its rows in any order. */
#define DEVICE_FK "REFERENCES devices(id) DEFERRABLE INITIALLY DEFERRED"

/*
 * Append only: a migration that was released is never edited, reordered or removed, since
 * stores that applied it record only its number and never run it again. A change to the
 * schema, including a fix to an earlier migration, is a new migration at the end.
 */
static const struct migration migrations[] = {
	{
		"initial schema",
		"CREATE TABLE devices ("
		" id TEXT PRIMARY KEY, ek_digest TEXT UNIQUE, ek_public BYTES, ek_certificate BYTES,"
		" ak_public BYTES, ak_name TEXT, ak_qualified_name TEXT, update_key_public BYTES,"
		" update_key_name TEXT, grp TEXT, policy TEXT,"
		" state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'active', 'revoked')),"
		" allow_reenroll INT64 NOT NULL DEFAULT 0, created_at INT64, updated_at INT64,"
		" clock INT64, reset_count INT64, restart_count INT64, last_attestation TEXT,"
		" last_verdict TEXT, release TEXT, security_version INT64);"
		"CREATE INDEX devices_grp ON devices (grp);"
		"CREATE TABLE challenges ("
		" id TEXT PRIMARY KEY, device_id TEXT " DEVICE_FK ","
		" purpose TEXT NOT NULL CHECK (purpose IN ('attest', 'activate')), value TEXT,"
		" created_at INT64, expires_at INT64, used INT64 NOT NULL DEFAULT 0);"
		"CREATE INDEX challenges_expires ON challenges (expires_at);"
		"CREATE INDEX challenges_device ON challenges (device_id);"
		"CREATE TABLE attestations ("
		" id TEXT PRIMARY KEY, device_id TEXT " DEVICE_FK ", created_at INT64,"
		" verdict TEXT NOT NULL CHECK (verdict IN ('pass', 'fail')), failed_check TEXT, reasons TEXT,"
		" release TEXT, security_version INT64, clock INT64, reset_count INT64, restart_count INT64);"
		"CREATE INDEX attestations_device ON attestations (device_id, created_at);"
		"CREATE TABLE policies (name TEXT PRIMARY KEY, document TEXT, digest TEXT, created_at INT64);"
		"CREATE TABLE releases ("
		" name TEXT PRIMARY KEY, version TEXT, security_version INT64, manifest_digest TEXT,"
		" bundle_url TEXT, content_key BYTES, created_at INT64);"
		"CREATE TABLE rollouts ("
		" id TEXT PRIMARY KEY, release TEXT, device_id TEXT " DEVICE_FK ", grp TEXT,"
		" created_at INT64, active INT64 NOT NULL DEFAULT 1);"
		"CREATE INDEX rollouts_device ON rollouts (device_id);"
		"CREATE INDEX rollouts_grp ON rollouts (grp);"
		"CREATE TABLE authorizations ("
		" id TEXT PRIMARY KEY, device_id TEXT " DEVICE_FK ", release TEXT, attestation_id TEXT,"
		" issued_at INT64, expires_at INT64);"
		"CREATE INDEX authorizations_device ON authorizations (device_id);"
		"CREATE TABLE outcomes ("
		" id TEXT PRIMARY KEY, device_id TEXT " DEVICE_FK ", release TEXT, outcome TEXT, reason TEXT,"
		" created_at INT64);"
		"CREATE INDEX outcomes_device ON outcomes (device_id, created_at);"
		"CREATE TABLE admin_tokens ("
		" id TEXT PRIMARY KEY, name TEXT, token_hash TEXT UNIQUE, created_at INT64,"
		" revoked INT64 NOT NULL DEFAULT 0);"
		/* seq is the primary key, so reads by seq (export after N) use its index. */
		"CREATE TABLE audit ("
		" seq INT64 PRIMARY KEY, at INT64 NOT NULL, actor TEXT NOT NULL, action TEXT NOT NULL,"
		" subject TEXT NOT NULL, detail TEXT NOT NULL, prev_hash TEXT NOT NULL, hash TEXT NOT NULL UNIQUE);"
		/* One row: the chain's last seq and hash; updating it first serializes appends. */
		"CREATE TABLE audit_head ("
		" id INT64 PRIMARY KEY CHECK (id = 1), seq INT64 NOT NULL, hash TEXT NOT NULL);"
		"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '" AUDITCHAIN_GENESIS "');",
		"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
		" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
		"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
		" BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;"
		"CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head"
		" BEGIN SELECT RAISE(ABORT, 'the audit head cannot be deleted'); END;",
		"CREATE FUNCTION pcrgate_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$"
		" BEGIN RAISE EXCEPTION 'the audit log is append-only (% refused)', TG_OP"
		" USING ERRCODE = 'insufficient_privilege'; END $$;"
		"CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit"
		" FOR EACH ROW EXECUTE FUNCTION pcrgate_audit_append_only();"
		"CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit"
		" FOR EACH STATEMENT EXECUTE FUNCTION pcrgate_audit_append_only();"
		"CREATE TRIGGER audit_head_no_delete BEFORE DELETE OR TRUNCATE ON audit_head"
		" FOR EACH STATEMENT EXECUTE FUNCTION pcrgate_audit_append_only();",
	},
	{
		/* The TLS key the AK certified at enrollment (pending until activation) and its certificate's key. */
		"device TLS client keys",
		"ALTER TABLE devices ADD COLUMN tls_pending BYTES;"
		"ALTER TABLE devices ADD COLUMN tls_key_public BYTES;"
		"ALTER TABLE devices ADD COLUMN tls_spki TEXT;",
		NULL,
		NULL,
	},
	{
		/*
		 * Each nonce request deletes its device's expired challenges: with device_id alone
		 * indexed, that visited every challenge the device had within nonce_ttl.
		 */
		"challenges by device and expiry",
		"CREATE INDEX challenges_device_expires ON challenges (device_id, expires_at);"
		"DROP INDEX challenges_device;",
		NULL,
		NULL,
	},
	{
		/*
		 * No query reads challenges by expiry alone, so that index only cost every nonce a
		 * page write. IF EXISTS: some stores dropped it already in migration 3.
		 */
		"no challenges index by expiry alone",
		"DROP INDEX IF EXISTS challenges_expires;",
		NULL,
		NULL,
	},
	{
		/* What a device reports with an outcome: the release's version and its end of support. */
		"outcome version and end of support",
		"ALTER TABLE outcomes ADD COLUMN version TEXT;"
		"ALTER TABLE outcomes ADD COLUMN end_of_support TEXT;",
		NULL,
		NULL,
	},
	{
		/*
		 * Attestation nonces carry a MAC under a key the verifiers of one store share
		 * (verifier_keys, made by the first verifier that needs it) and are stored only once
		 * used, keyed by expiry first: a use is an insert at the B-tree's right edge, and the
		 * expired ones are a range at its left (verifier/api_attest.c). Attestation challenges
		 * issued before this have no MAC and can no longer be used.
		 */
		"stateless attestation nonces",
		"CREATE TABLE verifier_keys (name TEXT PRIMARY KEY, value BYTES NOT NULL, created_at INT64 NOT NULL);"
		"DELETE FROM challenges WHERE purpose = 'attest';",
		"CREATE TABLE used_nonces (expires_at INTEGER NOT NULL, nonce BLOB NOT NULL,"
		" PRIMARY KEY (expires_at, nonce)) WITHOUT ROWID;",
		"CREATE TABLE used_nonces (expires_at BIGINT NOT NULL, nonce BYTEA NOT NULL,"
		" PRIMARY KEY (expires_at, nonce));",
	},
};

#define NMIGRATIONS ((int)(sizeof(migrations) / sizeof(migrations[0])))

int vstore_schema_latest(void)
{
	return NMIGRATIONS;
}

/* sql with the type words INT64 and BYTES spelled for the backend (malloc'd). */
static char *spell_types(const struct vbackend *be, const char *sql)
{
	size_t extra = strlen(be->type_int) + strlen(be->type_blob);
	size_t cap = strlen(sql) + 1;
	char *out;
	size_t o = 0;

	/* Each 5-letter type word grows by at most the longer spelling. */
	for (const char *p = sql; (p = strpbrk(p, "IB")) != NULL; p++)
		cap += extra;
	if ((out = malloc(cap)) == NULL)
		return NULL;
	for (const char *p = sql; *p != '\0';) {
		const char *word = NULL;

		if (strncmp(p, "INT64", 5) == 0)
			word = be->type_int;
		else if (strncmp(p, "BYTES", 5) == 0)
			word = be->type_blob;
		if (word != NULL) {
			memcpy(out + o, word, strlen(word));
			o += strlen(word);
			p += 5;
		} else {
			out[o++] = *p++;
		}
	}
	out[o] = '\0';
	return out;
}

static int read_version(const struct vcol *cols, size_t n, void *arg, pcrgate_errinfo *ei)
{
	(void)ei;
	if (n == 1)
		*(int *)arg = (int)vcol_int(&cols[0], 0);
	return 0;
}

static int apply(const struct vbackend *be, void *h, int *version, int *retry, pcrgate_errinfo *ei)
{
	char *sql = NULL;
	int current = 0;
	int r;

	sql = spell_types(be, "CREATE TABLE IF NOT EXISTS schema_migrations ("
			      " version INT64 PRIMARY KEY, name TEXT NOT NULL, applied_at INT64 NOT NULL)");
	if (sql == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
	if ((r = be->script(h, sql, retry, ei)) != 0)
		goto fail;
	if ((r = be->exec(h, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, read_version,
			  &current, NULL, retry, ei)) != 0)
		goto fail;
	if (current > NMIGRATIONS)
		pg_warn("the store's schema (version %d) is newer than this verifier knows (%d)", current,
			NMIGRATIONS);
	for (int i = current; i < NMIGRATIONS; i++) {
		const struct migration *m = &migrations[i];
		const char *own = be == &vstore_sqlite_backend ? m->sqlite : m->pg;
		struct vparam params[] = {VPARAM_INT(i + 1), VPARAM_TEXT(m->name), VPARAM_INT(time(NULL))};

		free(sql);
		if ((sql = spell_types(be, m->common)) == NULL) {
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
			goto fail;
		}
		if ((r = be->script(h, sql, retry, ei)) != 0)
			goto fail;
		if (own != NULL && (r = be->script(h, own, retry, ei)) != 0)
			goto fail;
		if ((r = be->exec(h, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
				  params, 3, NULL, NULL, NULL, retry, ei)) != 0)
			goto fail;
		pg_info("store schema migrated to version %d (%s)", i + 1, m->name);
	}
	*version = current > NMIGRATIONS ? current : NMIGRATIONS;
	r = 0;
fail:
	free(sql);
	return r;
}

int vstore_migrate(const struct vbackend *be, void *h, int *version, pcrgate_errinfo *ei)
{
	int retry = 0;
	int r;

	if (be->migrate_lock != NULL && (r = be->migrate_lock(h, ei)) != 0)
		return r;
	/* All migrations in one transaction: a failure leaves the schema as it was. */
	for (int attempt = 0; attempt < VSTORE_MAX_ATTEMPTS; attempt++) {
		retry = 0;
		r = be->script(h, be->begin_rw, &retry, ei);
		if (r == 0)
			r = apply(be, h, version, &retry, ei);
		if (r == 0)
			r = be->script(h, "COMMIT", &retry, ei);
		if (r == 0)
			break;
		be->script(h, "ROLLBACK", &(int){0}, NULL);
		if (!retry)
			break;
	}
	if (be->migrate_unlock != NULL)
		be->migrate_unlock(h);
	if (r != 0)
		pg_err("store migration failed: %s", ei != NULL ? ei->message : "");
	return r;
}
