/*
 * pcrgate-verifierd: the append-only audit log on the store (verifier/audit.h). Appends
 * take the chain's head row first: on PostgreSQL that UPDATE holds the row's lock until the
 * transaction ends, so appends of several verifier processes queue there and each sees the
 * previous entry; on SQLite the store's write lock serializes them already.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "verifier/audit.h"

struct head {
	int found;
	int64_t seq;
	char hash[AUDITCHAIN_HASH_HEX + 1];
};

static int read_head(const struct vcol *cols, size_t n, void *arg, pcrgate_errinfo *ei)
{
	struct head *h = arg;

	if (n != 2 || cols[0].type != VP_INT || cols[1].len != AUDITCHAIN_HASH_HEX ||
	    vcol_text(&cols[1], h->hash, sizeof(h->hash)) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit head row is malformed");
	h->found = 1;
	h->seq = cols[0].i64;
	return 0;
}

static int get_head(vstore_tx *tx, struct head *h, pcrgate_errinfo *ei)
{
	int r;

	memset(h, 0, sizeof(*h));
	if ((r = vstore_exec(tx, "SELECT seq, hash FROM audit_head WHERE id = 1", NULL, 0, read_head, h, NULL, ei)) !=
	    0)
		return r;
	if (!h->found)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit head row is missing");
	return 0;
}

static int check_field(const char *name, const char *v, pcrgate_errinfo *ei)
{
	if (v == NULL || v[0] == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "audit: %s is empty",
					   name);
	if (strlen(v) > AUDIT_MAX_FIELD)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "audit: %s longer than %d bytes", name, AUDIT_MAX_FIELD);
	return 0;
}

int audit_lock(vstore_tx *tx, pcrgate_errinfo *ei)
{
	long changes = 0;
	int r;

	if ((r = vstore_exec(tx, "UPDATE audit_head SET seq = seq WHERE id = 1", NULL, 0, NULL, NULL, &changes, ei)) !=
	    0)
		return r;
	return changes == 1 ? 0
			    : pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit head row is missing");
}

int audit_append(vstore_tx *tx, const char *actor, const char *action, const char *subject, const json_t *detail,
		 pcrgate_errinfo *ei)
{
	json_t *empty = NULL;
	char *detail_text = NULL;
	char hash[AUDITCHAIN_HASH_HEX + 1];
	struct head h;
	struct auditchain_entry e;
	long changes = 0;
	int r;

	if (tx == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "audit: no transaction");
	if ((r = check_field("actor", actor, ei)) != 0 || (r = check_field("action", action, ei)) != 0)
		return r;
	if (subject == NULL)
		subject = "";
	if (strlen(subject) > AUDIT_MAX_FIELD)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "audit: subject longer than %d bytes", AUDIT_MAX_FIELD);
	if (detail == NULL) {
		if ((empty = json_object()) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		detail = empty;
	}
	/* Taking the head row's lock first: every later step of this append sees a stable head. */
	if ((r = vstore_exec(tx, "UPDATE audit_head SET seq = seq + 1 WHERE id = 1", NULL, 0, NULL, NULL, &changes,
			     ei)) != 0)
		goto fail;
	if (changes != 1) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit head row is missing");
		goto fail;
	}
	if ((r = get_head(tx, &h, ei)) != 0)
		goto fail;
	e = (struct auditchain_entry){
		.seq = h.seq,
		.at = (int64_t)time(NULL),
		.actor = actor,
		.action = action,
		.subject = subject,
		.detail = detail,
		.prev_hash = h.hash,
	};
	if ((r = auditchain_hash(&e, hash, ei)) != 0 || (r = auditchain_canonical(detail, &detail_text, ei)) != 0)
		goto fail;
	if (strlen(detail_text) > AUDIT_MAX_DETAIL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "audit: detail longer than %d bytes",
					AUDIT_MAX_DETAIL);
		goto fail;
	}
	{
		const struct vparam row[] = {
			VPARAM_INT(e.seq),	 VPARAM_INT(e.at),	   VPARAM_TEXT(actor),
			VPARAM_TEXT(action),	 VPARAM_TEXT(subject),	   VPARAM_TEXT(detail_text),
			VPARAM_TEXT(e.prev_hash), VPARAM_TEXT(hash),
		};
		const struct vparam head[] = {VPARAM_TEXT(hash)};

		if ((r = vstore_exec(tx,
				     "INSERT INTO audit (seq, at, actor, action, subject, detail, prev_hash, hash)"
				     " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
				     row, 8, NULL, NULL, NULL, ei)) != 0)
			goto fail;
		if ((r = vstore_exec(tx, "UPDATE audit_head SET hash = ? WHERE id = 1", head, 1, NULL, NULL, NULL,
				     ei)) != 0)
			goto fail;
	}
	r = 0;
fail:
	free(detail_text);
	json_decref(empty);
	return r;
}

struct export {
	audit_linefn fn;
	void *arg;
	size_t count;
};

static int export_row(const struct vcol *cols, size_t n, void *arg, pcrgate_errinfo *ei)
{
	struct export *x = arg;
	struct auditchain_entry e;
	json_error_t jerr;
	json_t *detail = NULL;
	char *line = NULL;
	int r;

	if (n != 8 || cols[0].type != VP_INT || cols[1].type != VP_INT)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit row is malformed");
	for (size_t i = 2; i < 8; i++)
		if (cols[i].type != VP_TEXT || strlen(cols[i].text) != cols[i].len)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						   "audit row %lld is malformed", (long long)cols[0].i64);
	detail = json_loadb(cols[5].text, cols[5].len, JSON_REJECT_DUPLICATES, &jerr);
	if (detail == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit row %lld: detail: %s",
					   (long long)cols[0].i64, jerr.text);
	e = (struct auditchain_entry){
		.seq = cols[0].i64,
		.at = cols[1].i64,
		.actor = cols[2].text,
		.action = cols[3].text,
		.subject = cols[4].text,
		.detail = detail,
		.prev_hash = cols[6].text,
	};
	/* Rows are exported as stored, not re-hashed: checking them is the reader's job. */
	if ((r = auditchain_entry_dump(&e, cols[7].text, &line, ei)) != 0)
		goto fail;
	if ((r = x->fn(line, strlen(line), x->arg, ei)) != 0)
		goto fail;
	x->count++;
fail:
	free(line);
	json_decref(detail);
	return r;
}

int audit_export(vstore_tx *tx, int64_t after_seq, size_t limit, audit_linefn fn, void *arg, size_t *count,
		 pcrgate_errinfo *ei)
{
	struct export x = {.fn = fn, .arg = arg};
	int r;

	if (tx == NULL || fn == NULL || limit > AUDIT_EXPORT_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "audit export: bad arguments (limit at most %d)", AUDIT_EXPORT_MAX);
	if (limit == 0)
		limit = AUDIT_EXPORT_MAX;
	{
		const struct vparam params[] = {VPARAM_INT(after_seq), VPARAM_INT(limit)};

		r = vstore_exec(tx,
				"SELECT seq, at, actor, action, subject, detail, prev_hash, hash FROM audit"
				" WHERE seq > ? ORDER BY seq LIMIT ?",
				params, 2, export_row, &x, NULL, ei);
	}
	if (r != 0)
		return r;
	if (count != NULL)
		*count = x.count;
	return 0;
}

int audit_head(vstore_tx *tx, int64_t *seq, char hash[AUDITCHAIN_HASH_HEX + 1], pcrgate_errinfo *ei)
{
	struct head h;
	int r;

	if (tx == NULL || seq == NULL || hash == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET,
					   "audit head: bad arguments");
	if ((r = get_head(tx, &h, ei)) != 0)
		return r;
	*seq = h.seq;
	memcpy(hash, h.hash, AUDITCHAIN_HASH_HEX + 1);
	return 0;
}
