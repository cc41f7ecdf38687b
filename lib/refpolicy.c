/*
 * pcrgate: reference policies, the parser. A policy is an untrusted document until it is
 * stored, so the parser is strict: every member is known and typed, every count and size is
 * capped, and every refusal names the JSON path of what was wrong. docs/policies.md describes
 * the format member by member.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "eventlog_internal.h"
#include "json_members.h"
#include "refpolicy_internal.h"

#define PATH_MAX_LEN 96

/* Where the parser is, for messages: "$.measurements.7[2].variable". */
struct jpath {
	char s[PATH_MAX_LEN];
};

/* A path too deep for the buffer ends in "..." rather than silently cut. */
static void path_cut(struct jpath *out, int n)
{
	if (n < 0 || (size_t)n >= sizeof(out->s))
		memcpy(out->s + sizeof(out->s) - 4, "...", 4);
}

static void path_key(struct jpath *out, const struct jpath *in, const char *key)
{
	path_cut(out, snprintf(out->s, sizeof(out->s), "%s.%.32s", in->s, key));
}

static void path_index(struct jpath *out, const struct jpath *in, size_t i)
{
	path_cut(out, snprintf(out->s, sizeof(out->s), "%s[%zu]", in->s, i));
}

__attribute__((format(printf, 4, 5))) static int bad(pcrgate_errinfo *ei, int code, const struct jpath *p,
						     const char *fmt, ...)
{
	char msg[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return pcrgate_errinfo_set(ei, code, PCRGATE_NO_OFFSET, "%s: %s", p->s, msg);
}

/* Refuses members other than those in allowed (NULL-terminated). */
static int only_members(const json_t *obj, const char *const *allowed, const struct jpath *p, pcrgate_errinfo *ei)
{
	const char *key = pcrgate_json_unknown_member(obj, allowed);
	struct jpath q;

	if (key == NULL)
		return 0;
	path_key(&q, p, key);
	return bad(ei, PCRGATE_ERR_FORMAT, &q, "unknown member");
}

/* What a string may hold: any text; a name (used in URLs and file names); a manifest's version. */
enum { CHARS_ANY = 0, CHARS_NAME = 1, CHARS_VERSION = 2 };

static int allowed_char(unsigned char c, int chars)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
	    c == '-' || c == '+')
		return 1;
	return chars == CHARS_VERSION && (c == '~' || c == ',' || c == ':');
}

/* A string of 1..max bytes, of the characters `chars` allows. */
static int get_string(const json_t *v, size_t max, int chars, char **out, const struct jpath *p,
		      pcrgate_errinfo *ei)
{
	const char *s;
	size_t n, i;

	if (!json_is_string(v))
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be a string");
	s = json_string_value(v);
	n = json_string_length(v);
	if (n == 0)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must not be empty");
	if (n > max)
		return bad(ei, PCRGATE_ERR_LIMIT, p, "longer than %zu bytes", max);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == 0)
			return bad(ei, PCRGATE_ERR_FORMAT, p, "contains a NUL character");
		if (chars != CHARS_ANY && !allowed_char(c, chars))
			return bad(ei, PCRGATE_ERR_FORMAT, p, "may hold only letters, digits and . _ - +%s (byte %zu is not one)",
				   chars == CHARS_VERSION ? " ~ , :" : "", i);
	}
	if (out != NULL && (*out = strdup(s)) == NULL)
		return bad(ei, PCRGATE_ERR_NOMEM, p, "out of memory");
	return 0;
}

static int get_uint(const json_t *v, uint64_t max, uint64_t *out, const struct jpath *p, pcrgate_errinfo *ei)
{
	json_int_t n;

	if (!json_is_integer(v))
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be an integer");
	n = json_integer_value(v);
	if (n < 0 || (uint64_t)n > max)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be between 0 and %llu", (unsigned long long)max);
	*out = (uint64_t)n;
	return 0;
}

/* Hex of exactly want bytes (want > 0), or of at most max bytes into a new buffer (want == 0). */
static int get_hex(const json_t *v, size_t want, size_t max, uint8_t *fixed, uint8_t **alloc, size_t *len,
		   const struct jpath *p, pcrgate_errinfo *ei)
{
	size_t n, got = 0;
	uint8_t *buf;

	if (!json_is_string(v))
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be a string of hex digits");
	n = json_string_length(v);
	if (want != 0 && n != 2 * want)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be %zu hex digits (%zu bytes), not %zu", 2 * want,
			   want, n);
	if (want == 0 && n / 2 > max)
		return bad(ei, PCRGATE_ERR_LIMIT, p, "more than %zu bytes", max);
	if (n % 2 != 0)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "odd number of hex digits");
	if (want != 0) {
		if (pcrgate_hex_decode(json_string_value(v), fixed, want, &got) != 0 || got != want)
			return bad(ei, PCRGATE_ERR_FORMAT, p, "not hex");
		return 0;
	}
	/* One spare byte so that empty data still gets a distinct non-NULL buffer. */
	if ((buf = malloc(n / 2 + 1)) == NULL)
		return bad(ei, PCRGATE_ERR_NOMEM, p, "out of memory");
	if (pcrgate_hex_decode(json_string_value(v), buf, n / 2 + 1, &got) != 0) {
		free(buf);
		return bad(ei, PCRGATE_ERR_FORMAT, p, "not hex");
	}
	*alloc = buf;
	*len = got;
	return 0;
}

/* "0".."23" exactly: canonical decimal. */
static int pcr_key(const char *key, uint32_t *pcr, const struct jpath *p, pcrgate_errinfo *ei)
{
	size_t n = strlen(key);
	uint32_t v = 0;
	size_t i;

	if (n == 0 || n > 2 || (n == 2 && key[0] == '0'))
		return bad(ei, PCRGATE_ERR_FORMAT, p, "'%.8s' is not a PCR index (0 to %u)", key, RP_MAX_PCR);
	for (i = 0; i < n; i++) {
		if (key[i] < '0' || key[i] > '9')
			return bad(ei, PCRGATE_ERR_FORMAT, p, "'%.8s' is not a PCR index (0 to %u)", key, RP_MAX_PCR);
		v = v * 10 + (uint32_t)(key[i] - '0');
	}
	if (v > RP_MAX_PCR)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "PCR %u is beyond %u", v, RP_MAX_PCR);
	*pcr = v;
	return 0;
}

/* Event type: the specification's name ("EV_EFI_ACTION") or the number. */
static int get_type(const json_t *v, uint32_t *type, const struct jpath *p, pcrgate_errinfo *ei)
{
	const char *s;
	uint64_t n;

	if (json_is_integer(v)) {
		if (get_uint(v, 0xFFFFFFFFu, &n, p, ei) != 0)
			return PCRGATE_ERR_FORMAT;
		*type = (uint32_t)n;
		return 0;
	}
	if (!json_is_string(v))
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be an event type name or number");
	s = json_string_value(v);
	if (pcrgate_event_type_from_name(s, type) == PCRGATE_OK)
		return 0;
	return bad(ei, PCRGATE_ERR_FORMAT, p, "unknown event type '%.40s'", s);
}

/* "8be4df61-93ca-11d2-aa0d-00e098032b8c" into EFI_GUID layout (three little-endian fields). */
static int get_guid(const json_t *v, uint8_t g[16], const struct jpath *p, pcrgate_errinfo *ei)
{
	static const uint8_t order[16] = {3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15};
	uint8_t raw[16];
	char hex[33];
	const char *s;
	size_t i, j = 0, got = 0;

	if (!json_is_string(v) || json_string_length(v) != 36)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be a GUID as 8-4-4-4-12 hex digits");
	s = json_string_value(v);
	for (i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return bad(ei, PCRGATE_ERR_FORMAT, p, "must be a GUID as 8-4-4-4-12 hex digits");
			continue;
		}
		hex[j++] = s[i];
	}
	hex[j] = '\0';
	if (pcrgate_hex_decode(hex, raw, sizeof(raw), &got) != 0 || got != 16)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be a GUID as 8-4-4-4-12 hex digits");
	for (i = 0; i < 16; i++)
		g[order[i]] = raw[i];
	return 0;
}

/* A UTF-8 variable name as UTF-16LE (surrogate pairs beyond the BMP). */
static int get_utf16(const json_t *v, uint8_t **out, size_t *chars, const struct jpath *p, pcrgate_errinfo *ei)
{
	const unsigned char *s;
	size_t n, i = 0, k = 0;
	uint8_t *buf;
	uint32_t c;
	int e;

	if ((e = get_string(v, PCRGATE_REFPOLICY_MAX_NAME, CHARS_ANY, NULL, p, ei)) != 0)
		return e;
	s = (const unsigned char *)json_string_value(v);
	n = json_string_length(v);
	if ((buf = malloc(4 * n)) == NULL)
		return bad(ei, PCRGATE_ERR_NOMEM, p, "out of memory");
	/* jansson has checked the UTF-8; decode it. */
	while (i < n) {
		if (s[i] < 0x80) {
			c = s[i++];
		} else if (s[i] < 0xE0) {
			c = ((uint32_t)(s[i] & 0x1F) << 6) | (s[i + 1] & 0x3F);
			i += 2;
		} else if (s[i] < 0xF0) {
			c = ((uint32_t)(s[i] & 0x0F) << 12) | ((uint32_t)(s[i + 1] & 0x3F) << 6) | (s[i + 2] & 0x3F);
			i += 3;
		} else {
			c = ((uint32_t)(s[i] & 0x07) << 18) | ((uint32_t)(s[i + 1] & 0x3F) << 12) |
			    ((uint32_t)(s[i + 2] & 0x3F) << 6) | (s[i + 3] & 0x3F);
			i += 4;
		}
		if (c >= 0x10000) {
			c -= 0x10000;
			buf[2 * k] = (uint8_t)((0xD800 | (c >> 10)) & 0xFF);
			buf[2 * k + 1] = (uint8_t)((0xD800 | (c >> 10)) >> 8);
			k++;
			c = 0xDC00 | (c & 0x3FF);
		}
		buf[2 * k] = (uint8_t)(c & 0xFF);
		buf[2 * k + 1] = (uint8_t)(c >> 8);
		k++;
	}
	*out = buf;
	*chars = k;
	return 0;
}

static void rule_clear(struct rp_rule *r)
{
	free(r->data);
	free(r->var_name);
	free(r->var_data);
	free(r->comment);
	memset(r, 0, sizeof(*r));
}

static int parse_variable(const json_t *v, struct rp_rule *r, const struct jpath *p, pcrgate_errinfo *ei)
{
	static const char *const members[] = {"guid", "name", "data", NULL};
	struct jpath q;
	json_t *m;
	int e;

	if (!json_is_object(v))
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be an object {guid, name, data?}");
	if ((e = only_members(v, members, p, ei)) != 0)
		return e;
	path_key(&q, p, "guid");
	if ((m = json_object_get(v, "guid")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if ((e = get_guid(m, r->guid, &q, ei)) != 0)
		return e;
	path_key(&q, p, "name");
	if ((m = json_object_get(v, "name")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if ((e = get_utf16(m, &r->var_name, &r->var_name_chars, &q, ei)) != 0)
		return e;
	if ((m = json_object_get(v, "data")) != NULL) {
		path_key(&q, p, "data");
		if ((e = get_hex(m, 0, PCRGATE_REFPOLICY_MAX_DATA, NULL, &r->var_data, &r->var_data_len, &q, ei)) != 0)
			return e;
		r->has_var_data = 1;
	}
	r->has_variable = 1;
	return 0;
}

/* One allow rule or required event (with_pcr). */
static int parse_rule(const json_t *v, int with_pcr, size_t digest_size, struct rp_rule *r, const struct jpath *p,
		      pcrgate_errinfo *ei)
{
	static const char *const allow_members[] = {"type", "digest", "data", "text", "variable", "comment", NULL};
	static const char *const req_members[] = {"pcr",  "type",     "digest",  "data",
						  "text", "variable", "comment", NULL};
	struct jpath q;
	uint64_t n;
	json_t *m;
	int e;

	memset(r, 0, sizeof(*r));
	if (!json_is_object(v))
		return bad(ei, PCRGATE_ERR_FORMAT, p, "must be an object");
	if ((e = only_members(v, with_pcr ? req_members : allow_members, p, ei)) != 0)
		return e;
	if (with_pcr) {
		path_key(&q, p, "pcr");
		if ((m = json_object_get(v, "pcr")) == NULL)
			return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
		if ((e = get_uint(m, RP_MAX_PCR, &n, &q, ei)) != 0)
			return e;
		r->pcr = (uint32_t)n;
	}
	if ((m = json_object_get(v, "type")) != NULL) {
		path_key(&q, p, "type");
		if ((e = get_type(m, &r->type, &q, ei)) != 0)
			return e;
		r->has_type = 1;
	}
	if ((m = json_object_get(v, "digest")) != NULL) {
		path_key(&q, p, "digest");
		if ((e = get_hex(m, digest_size, 0, r->digest, NULL, NULL, &q, ei)) != 0)
			return e;
		r->has_digest = 1;
	}
	if (json_object_get(v, "data") != NULL && json_object_get(v, "text") != NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "give either data or text, not both");
	if ((m = json_object_get(v, "data")) != NULL) {
		path_key(&q, p, "data");
		if ((e = get_hex(m, 0, PCRGATE_REFPOLICY_MAX_DATA, NULL, &r->data, &r->data_len, &q, ei)) != 0)
			return e;
		r->has_data = 1;
	}
	if ((m = json_object_get(v, "text")) != NULL) {
		char *text = NULL;
		path_key(&q, p, "text");
		if ((e = get_string(m, PCRGATE_REFPOLICY_MAX_DATA, CHARS_ANY, &text, &q, ei)) != 0)
			return e;
		r->data = (uint8_t *)text;
		r->data_len = strlen(text);
		r->has_data = 1;
	}
	if ((m = json_object_get(v, "variable")) != NULL) {
		path_key(&q, p, "variable");
		if (r->has_data)
			return bad(ei, PCRGATE_ERR_FORMAT, &q, "give either variable or data/text, not both");
		if (!r->has_type || !pcrgate_refpolicy_type_variable(r->type))
			return bad(ei, PCRGATE_ERR_FORMAT, &q,
				   "needs a type that measures an EFI variable (EV_EFI_VARIABLE_DRIVER_CONFIG, "
				   "_BOOT, _BOOT2 or _AUTHORITY)");
		if ((e = parse_variable(m, r, &q, ei)) != 0)
			return e;
	}
	if ((m = json_object_get(v, "comment")) != NULL) {
		path_key(&q, p, "comment");
		if ((e = get_string(m, PCRGATE_REFPOLICY_MAX_TEXT, CHARS_ANY, &r->comment, &q, ei)) != 0)
			return e;
	}
	if (!r->has_digest && !r->has_data && !r->has_variable)
		return bad(ei, PCRGATE_ERR_FORMAT, p, "a rule needs a digest, data, text or variable");
	/* The trust rule: without a digest, data decides only where the digest is the data's hash. */
	if (!r->has_digest && (!r->has_type || !pcrgate_refpolicy_type_data_hashed(r->type)))
		return bad(ei, PCRGATE_ERR_FORMAT, p,
			   "a rule by data without a digest needs a type whose digest is the hash of its data "
			   "(e.g. EV_SEPARATOR, EV_EFI_ACTION, EV_EFI_VARIABLE_DRIVER_CONFIG); match %s by digest",
			   r->has_type && pcrgate_event_type_name(r->type) ? pcrgate_event_type_name(r->type)
									    : "this event");
	return 0;
}

static int parse_measurements(const json_t *v, pcrgate_refpolicy *p, const struct jpath *path, pcrgate_errinfo *ei)
{
	const char *key;
	json_t *arr, *item;
	struct jpath q, qi;
	size_t total = 0, i, k;
	uint32_t pcr;
	int e;

	if (!json_is_object(v))
		return bad(ei, PCRGATE_ERR_FORMAT, path, "must be an object {\"PCR\": [rules]}");
	json_object_foreach((json_t *)v, key, arr) {
		path_key(&q, path, key);
		if ((e = pcr_key(key, &pcr, &q, ei)) != 0)
			return e;
		if (!json_is_array(arr))
			return bad(ei, PCRGATE_ERR_FORMAT, &q, "must be an array of rules");
		total += json_array_size(arr);
		if (total > PCRGATE_REFPOLICY_MAX_RULES)
			return bad(ei, PCRGATE_ERR_LIMIT, &q, "more than %u allow rules in all",
				   PCRGATE_REFPOLICY_MAX_RULES);
	}
	if (total > 0 && (p->rules = calloc(total, sizeof(*p->rules))) == NULL)
		return bad(ei, PCRGATE_ERR_NOMEM, path, "out of memory");
	/* Rules grouped by PCR, in PCR order, whatever the document's member order. */
	for (k = 0; k <= RP_MAX_PCR; k++) {
		char idx[4];
		snprintf(idx, sizeof(idx), "%zu", k);
		if ((arr = json_object_get(v, idx)) == NULL)
			continue;
		path_key(&q, path, idx);
		p->measured_mask |= (uint32_t)1 << k;
		p->rule_first[k] = p->nrules;
		json_array_foreach(arr, i, item) {
			path_index(&qi, &q, i);
			if ((e = parse_rule(item, 0, p->digest_size, &p->rules[p->nrules], &qi, ei)) != 0) {
				rule_clear(&p->rules[p->nrules]);
				return e;
			}
			p->nrules++;
			p->rule_count[k]++;
		}
	}
	return 0;
}

static int parse_required(const json_t *v, pcrgate_refpolicy *p, const struct jpath *path, pcrgate_errinfo *ei)
{
	struct jpath q;
	json_t *item;
	size_t i;
	int e;

	if (!json_is_array(v))
		return bad(ei, PCRGATE_ERR_FORMAT, path, "must be an array of events");
	if (json_array_size(v) > PCRGATE_REFPOLICY_MAX_REQUIRED)
		return bad(ei, PCRGATE_ERR_LIMIT, path, "more than %u required events", PCRGATE_REFPOLICY_MAX_REQUIRED);
	if (json_array_size(v) > 0 && (p->required = calloc(json_array_size(v), sizeof(*p->required))) == NULL)
		return bad(ei, PCRGATE_ERR_NOMEM, path, "out of memory");
	json_array_foreach((json_t *)v, i, item) {
		path_index(&q, path, i);
		if ((e = parse_rule(item, 1, p->digest_size, &p->required[i], &q, ei)) != 0) {
			rule_clear(&p->required[i]);
			return e;
		}
		p->nrequired++;
	}
	return 0;
}

static int parse_release(const json_t *v, pcrgate_refpolicy *p, struct rp_release *rel, const struct jpath *path,
			 pcrgate_errinfo *ei)
{
	static const char *const members[] = {"name", "version", "security_version", "pcrs", "comment", NULL};
	const char *key;
	struct jpath q, qk;
	json_t *m, *val;
	uint32_t pcr;
	size_t i;
	int e;

	if (!json_is_object(v))
		return bad(ei, PCRGATE_ERR_FORMAT, path, "must be an object");
	if ((e = only_members(v, members, path, ei)) != 0)
		return e;
	path_key(&q, path, "name");
	if ((m = json_object_get(v, "name")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if ((e = get_string(m, PCRGATE_REFPOLICY_MAX_NAME, CHARS_NAME, &rel->name, &q, ei)) != 0)
		return e;
	path_key(&q, path, "version");
	if ((m = json_object_get(v, "version")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if ((e = get_string(m, PCRGATE_REFPOLICY_MAX_NAME, CHARS_VERSION, &rel->version, &q, ei)) != 0)
		return e;
	path_key(&q, path, "security_version");
	if ((m = json_object_get(v, "security_version")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if ((e = get_uint(m, 0xFFFFFFFFu, &rel->security_version, &q, ei)) != 0)
		return e;
	/* One entry per slot a release boots from (PCR 9 names the slot), all saying the same. */
	path_key(&q, path, "name");
	for (i = 0; i < p->nreleases; i++)
		if (strcmp(p->releases[i].name, rel->name) == 0 &&
		    (strcmp(p->releases[i].version, rel->version) != 0 ||
		     p->releases[i].security_version != rel->security_version))
			return bad(ei, PCRGATE_ERR_FORMAT, &q,
				   "release '%s' is listed again with another version or security version", rel->name);
	if ((m = json_object_get(v, "comment")) != NULL) {
		path_key(&q, path, "comment");
		if ((e = get_string(m, PCRGATE_REFPOLICY_MAX_TEXT, CHARS_ANY, NULL, &q, ei)) != 0)
			return e;
	}
	path_key(&q, path, "pcrs");
	if ((m = json_object_get(v, "pcrs")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if (!json_is_object(m) || json_object_size(m) == 0)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "must be a non-empty object {\"PCR\": \"hex\"}");
	json_object_foreach(m, key, val) {
		path_key(&qk, &q, key);
		if ((e = pcr_key(key, &pcr, &qk, ei)) != 0)
			return e;
		if ((e = get_hex(val, p->digest_size, 0, rel->value[pcr], NULL, NULL, &qk, ei)) != 0)
			return e;
		rel->mask |= (uint32_t)1 << pcr;
	}
	return 0;
}

static int parse_releases(const json_t *v, pcrgate_refpolicy *p, const struct jpath *path, pcrgate_errinfo *ei)
{
	struct jpath q;
	json_t *item;
	size_t i, n;
	int e;

	if (!json_is_array(v))
		return bad(ei, PCRGATE_ERR_FORMAT, path, "must be an array of releases");
	n = json_array_size(v);
	if (n > PCRGATE_REFPOLICY_MAX_RELEASES)
		return bad(ei, PCRGATE_ERR_LIMIT, path, "more than %u releases", PCRGATE_REFPOLICY_MAX_RELEASES);
	if (n > 0 && (p->releases = calloc(n, sizeof(*p->releases))) == NULL)
		return bad(ei, PCRGATE_ERR_NOMEM, path, "out of memory");
	json_array_foreach((json_t *)v, i, item) {
		path_index(&q, path, i);
		e = parse_release(item, p, &p->releases[i], &q, ei);
		p->nreleases++;
		if (e != 0)
			return e;
	}
	return 0;
}

static int parse_document(const json_t *root, pcrgate_refpolicy *p, pcrgate_errinfo *ei)
{
	static const char *const members[] = {"format",   "version",  "name",     "description",          "bank",
					      "measurements", "required", "releases", "min_security_version", NULL};
	struct jpath top = {"$"}, q;
	uint64_t n;
	json_t *m;
	int e;

	if (!json_is_object(root))
		return bad(ei, PCRGATE_ERR_FORMAT, &top, "a policy is a JSON object");
	if ((e = only_members(root, members, &top, ei)) != 0)
		return e;
	path_key(&q, &top, "format");
	m = json_object_get(root, "format");
	if (!json_is_string(m) || strcmp(json_string_value(m), PCRGATE_REFPOLICY_FORMAT) != 0)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "must be \"%s\"", PCRGATE_REFPOLICY_FORMAT);
	path_key(&q, &top, "version");
	if ((m = json_object_get(root, "version")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if ((e = get_uint(m, UINT32_MAX, &n, &q, ei)) != 0)
		return e;
	if (n != PCRGATE_REFPOLICY_VERSION)
		return bad(ei, PCRGATE_ERR_UNSUPPORTED, &q, "version %llu is not supported (only %d)",
			   (unsigned long long)n, PCRGATE_REFPOLICY_VERSION);
	path_key(&q, &top, "name");
	if ((m = json_object_get(root, "name")) == NULL)
		return bad(ei, PCRGATE_ERR_FORMAT, &q, "missing");
	if ((e = get_string(m, PCRGATE_REFPOLICY_MAX_NAME, CHARS_NAME, &p->name, &q, ei)) != 0)
		return e;
	if ((m = json_object_get(root, "description")) != NULL) {
		path_key(&q, &top, "description");
		if ((e = get_string(m, PCRGATE_REFPOLICY_MAX_TEXT, CHARS_ANY, NULL, &q, ei)) != 0)
			return e;
	}
	p->bank = PCRGATE_ALG_SHA256;
	if ((m = json_object_get(root, "bank")) != NULL) {
		path_key(&q, &top, "bank");
		if (!json_is_string(m) || (p->bank = pcrgate_alg_from_name(json_string_value(m))) == 0)
			return bad(ei, PCRGATE_ERR_FORMAT, &q, "must be sha1, sha256, sha384, sha512 or sm3_256");
	}
	p->digest_size = pcrgate_alg_digest_size(p->bank);
	if ((m = json_object_get(root, "measurements")) != NULL) {
		path_key(&q, &top, "measurements");
		if ((e = parse_measurements(m, p, &q, ei)) != 0)
			return e;
	}
	if ((m = json_object_get(root, "required")) != NULL) {
		path_key(&q, &top, "required");
		if ((e = parse_required(m, p, &q, ei)) != 0)
			return e;
	}
	if ((m = json_object_get(root, "releases")) != NULL) {
		path_key(&q, &top, "releases");
		if ((e = parse_releases(m, p, &q, ei)) != 0)
			return e;
	}
	if ((m = json_object_get(root, "min_security_version")) != NULL) {
		path_key(&q, &top, "min_security_version");
		if ((e = get_uint(m, 0xFFFFFFFFu, &p->min_sv, &q, ei)) != 0)
			return e;
		if (p->nreleases == 0)
			return bad(ei, PCRGATE_ERR_FORMAT, &q,
				   "needs releases: the security version is that of the matched release");
		p->has_min_sv = 1;
	}
	if (p->measured_mask == 0 && p->nrequired == 0 && p->nreleases == 0)
		return bad(ei, PCRGATE_ERR_FORMAT, &top, "the policy checks nothing (no measurements, required "
							 "events or releases)");
	return 0;
}

void pcrgate_refpolicy_free(pcrgate_refpolicy **pp)
{
	pcrgate_refpolicy *p;
	size_t i;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	for (i = 0; i < p->nrules; i++)
		rule_clear(&p->rules[i]);
	for (i = 0; i < p->nrequired; i++)
		rule_clear(&p->required[i]);
	for (i = 0; i < p->nreleases; i++) {
		free(p->releases[i].name);
		free(p->releases[i].version);
	}
	free(p->rules);
	free(p->required);
	free(p->releases);
	free(p->name);
	free(p);
	*pp = NULL;
}

int pcrgate_refpolicy_parse(const uint8_t *buf, size_t len, pcrgate_refpolicy **out, pcrgate_errinfo *ei)
{
	pcrgate_refpolicy *p = NULL;
	uint8_t digest[32];
	json_error_t jerr;
	json_t *root = NULL;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (buf == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no policy given");
	if (len > PCRGATE_REFPOLICY_MAX_SIZE)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "policy of %zu bytes is over the %u-byte cap", len, PCRGATE_REFPOLICY_MAX_SIZE);
	if ((root = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, jerr.position >= 0 ? (size_t)jerr.position : PCRGATE_NO_OFFSET,
					"$: not valid JSON: %s", jerr.text);
		goto fail;
	}
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "out of memory");
		goto fail;
	}
	if ((r = parse_document(root, p, ei)) != 0)
		goto fail;
	if ((r = pcrgate_digest(PCRGATE_ALG_SHA256, buf, len, digest)) != 0) {
		pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "cannot hash the policy");
		goto fail;
	}
	pcrgate_hex_encode(digest, sizeof(digest), p->digest_hex);
	*out = p;
	p = NULL;
	r = PCRGATE_OK;
fail:
	pcrgate_refpolicy_free(&p);
	json_decref(root);
	return r;
}

const char *pcrgate_refpolicy_name(const pcrgate_refpolicy *p)
{
	return p != NULL ? p->name : NULL;
}

const char *pcrgate_refpolicy_digest(const pcrgate_refpolicy *p)
{
	return p != NULL ? p->digest_hex : NULL;
}

uint16_t pcrgate_refpolicy_bank(const pcrgate_refpolicy *p)
{
	return p != NULL ? p->bank : 0;
}

uint64_t pcrgate_refpolicy_min_security_version(const pcrgate_refpolicy *p)
{
	return p != NULL && p->has_min_sv ? p->min_sv : 0;
}

uint32_t pcrgate_refpolicy_pcr_mask(const pcrgate_refpolicy *p)
{
	uint32_t m;
	size_t i;

	if (p == NULL)
		return 0;
	m = p->measured_mask;
	for (i = 0; i < p->nrequired; i++)
		m |= (uint32_t)1 << p->required[i].pcr;
	for (i = 0; i < p->nreleases; i++)
		m |= p->releases[i].mask;
	return m;
}
