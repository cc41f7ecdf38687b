/*
 * pcrgate: the audit hash chain (lib/auditchain.h). The verifier and `pcrgate audit verify`
 * both hash entries here, so the canonical form has exactly one definition.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "auditchain.h"
#include "json_members.h"

static const char *const members[] = {"seq", "at", "actor", "action", "subject", "detail", "prev_hash", "hash",
				      NULL};

static int is_hash(const char *s)
{
	if (s == NULL || strlen(s) != AUDITCHAIN_HASH_HEX)
		return 0;
	for (size_t i = 0; i < AUDITCHAIN_HASH_HEX; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return 0;
	return 1;
}

/* Plain JSON values only: reals have more than one text form, so they would make hashes fragile. */
static int check_value(const json_t *v, int depth, const char **bad)
{
	const char *key;
	json_t *item;
	size_t i;

	if (depth > AUDITCHAIN_MAX_DEPTH) {
		*bad = "nested too deeply";
		return -1;
	}
	switch (json_typeof(v)) {
	case JSON_REAL:
		*bad = "holds a real number";
		return -1;
	case JSON_OBJECT:
		json_object_foreach ((json_t *)v, key, item)
			if (check_value(item, depth + 1, bad) != 0)
				return -1;
		return 0;
	case JSON_ARRAY:
		json_array_foreach (v, i, item)
			if (check_value(item, depth + 1, bad) != 0)
				return -1;
		return 0;
	case JSON_STRING:
		/* jansson keeps strings with \u0000 as counted strings; they would not survive a C string. */
		if (strlen(json_string_value(v)) != json_string_length(v)) {
			*bad = "holds a string with NUL";
			return -1;
		}
		return 0;
	default:
		return 0;
	}
}

int auditchain_check(const struct auditchain_entry *e, pcrgate_errinfo *ei)
{
	const char *bad = NULL;
	const char *names[] = {"actor", "action", "subject"};
	const char *values[] = {e->actor, e->action, e->subject};

	if (e->seq < 1)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit entry: seq %lld below 1",
					   (long long)e->seq);
	if (e->at < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit entry %lld: negative time",
					   (long long)e->seq);
	for (size_t i = 0; i < 3; i++) {
		json_t *probe;

		if (values[i] == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						   "audit entry %lld: %s missing", (long long)e->seq, names[i]);
		/* json_string refuses invalid UTF-8: what cannot be a JSON string cannot be hashed. */
		if ((probe = json_string(values[i])) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
						   "audit entry %lld: %s is not valid UTF-8", (long long)e->seq,
						   names[i]);
		json_decref(probe);
	}
	if (e->detail == NULL || !json_is_object(e->detail))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "audit entry %lld: detail is not a JSON object", (long long)e->seq);
	if (check_value(e->detail, 0, &bad) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit entry %lld: detail %s",
					   (long long)e->seq, bad);
	if (!is_hash(e->prev_hash))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "audit entry %lld: prev_hash is not 64 lower-case hex digits",
					   (long long)e->seq);
	return 0;
}

/* The entry as a JSON object, with "hash" when hash is not NULL. */
static json_t *entry_object(const struct auditchain_entry *e, const char *hash)
{
	json_t *o = json_object();
	json_t *detail = json_deep_copy(e->detail);
	int bad = o == NULL || detail == NULL;

	bad |= json_object_set_new(o, "seq", json_integer(e->seq));
	bad |= json_object_set_new(o, "at", json_integer(e->at));
	bad |= json_object_set_new(o, "actor", json_string(e->actor));
	bad |= json_object_set_new(o, "action", json_string(e->action));
	bad |= json_object_set_new(o, "subject", json_string(e->subject));
	bad |= json_object_set_new(o, "detail", detail);
	detail = NULL;
	bad |= json_object_set_new(o, "prev_hash", json_string(e->prev_hash));
	if (hash != NULL)
		bad |= json_object_set_new(o, "hash", json_string(hash));
	json_decref(detail);
	if (bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static char *canonical(const json_t *v)
{
	return json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
}

int auditchain_canonical(const json_t *obj, char **out, pcrgate_errinfo *ei)
{
	char *s;

	if (obj == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no JSON to encode");
	if ((s = canonical(obj)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot encode JSON");
	*out = s;
	return 0;
}

int auditchain_hash(const struct auditchain_entry *e, char out[AUDITCHAIN_HASH_HEX + 1], pcrgate_errinfo *ei)
{
	uint8_t md[32];
	unsigned mdlen = 0;
	json_t *o = NULL;
	char *text = NULL;
	EVP_MD_CTX *ctx = NULL;
	int r;

	if ((r = auditchain_check(e, ei)) != 0)
		return r;
	if ((o = entry_object(e, NULL)) == NULL || (text = canonical(o)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot encode audit entry");
		goto fail;
	}
	if ((ctx = EVP_MD_CTX_new()) == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(ctx, e->prev_hash, AUDITCHAIN_HASH_HEX) != 1 || EVP_DigestUpdate(ctx, "\n", 1) != 1 ||
	    EVP_DigestUpdate(ctx, text, strlen(text)) != 1 || EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 ||
	    mdlen != sizeof(md)) {
		pcrgate_log_openssl(__func__, "SHA-256");
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CRYPTO, PCRGATE_NO_OFFSET, "SHA-256 failed");
		goto fail;
	}
	pcrgate_hex_encode(md, sizeof(md), out);
	r = 0;
fail:
	EVP_MD_CTX_free(ctx);
	free(text);
	json_decref(o);
	return r;
}

int auditchain_entry_dump(const struct auditchain_entry *e, const char *hash, char **out, pcrgate_errinfo *ei)
{
	json_t *o;
	char *text;
	int r;

	if ((r = auditchain_check(e, ei)) != 0)
		return r;
	if (!is_hash(hash))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "audit entry %lld: hash is not 64 lower-case hex digits", (long long)e->seq);
	if ((o = entry_object(e, hash)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot encode audit entry");
	text = canonical(o);
	json_decref(o);
	if (text == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot encode audit entry");
	*out = text;
	return 0;
}

static int get_int(const json_t *doc, const char *key, int64_t *out, pcrgate_errinfo *ei)
{
	const json_t *v = json_object_get(doc, key);

	if (!json_is_integer(v))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "audit entry: \"%s\" is missing or not an integer", key);
	*out = json_integer_value(v);
	return 0;
}

static int get_str(const json_t *doc, const char *key, const char **out, pcrgate_errinfo *ei)
{
	const json_t *v = json_object_get(doc, key);

	if (!json_is_string(v))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "audit entry: \"%s\" is missing or not a string", key);
	*out = json_string_value(v);
	return 0;
}

int auditchain_entry_parse(const char *line, size_t len, json_t **doc, struct auditchain_entry *e,
			   char hash[AUDITCHAIN_HASH_HEX + 1], pcrgate_errinfo *ei)
{
	struct auditchain_entry tmp = {0};
	json_error_t jerr;
	const char *key;
	const char *h = NULL;
	json_t *o;
	int r;

	if (len > AUDITCHAIN_MAX_LINE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "audit entry longer than %u bytes", AUDITCHAIN_MAX_LINE);
	o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
	if (o == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)jerr.position, "not JSON: %s", jerr.text);
	if (!json_is_object(o)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "audit entry is not a JSON object");
		goto fail;
	}
	if ((key = pcrgate_json_unknown_member(o, members)) != NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"audit entry: unknown member \"%.64s\"", key);
		goto fail;
	}
	if ((r = get_int(o, "seq", &tmp.seq, ei)) != 0 || (r = get_int(o, "at", &tmp.at, ei)) != 0 ||
	    (r = get_str(o, "actor", &tmp.actor, ei)) != 0 || (r = get_str(o, "action", &tmp.action, ei)) != 0 ||
	    (r = get_str(o, "subject", &tmp.subject, ei)) != 0 ||
	    (r = get_str(o, "prev_hash", &tmp.prev_hash, ei)) != 0 || (r = get_str(o, "hash", &h, ei)) != 0)
		goto fail;
	tmp.detail = json_object_get(o, "detail");
	if ((r = auditchain_check(&tmp, ei)) != 0)
		goto fail;
	if (!is_hash(h)) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					"audit entry %lld: hash is not 64 lower-case hex digits", (long long)tmp.seq);
		goto fail;
	}
	memcpy(hash, h, AUDITCHAIN_HASH_HEX + 1);
	*e = tmp;
	*doc = o;
	return 0;
fail:
	json_decref(o);
	return r;
}
