/*
 * pcrgate (library-internal): the strict-document checks every JSON parser of untrusted input
 * shares: unknown members, and members of the wrong type, size or range, each refused with a
 * message "PREFIX: member \"PATH\" ..." that names the member (prefix names the document, path
 * the member, key its name in obj). Inline, so each library that parses documents (core,
 * bundle) has them without exporting a symbol.
 */
#ifndef PCRGATE_JSON_MEMBERS_H
#define PCRGATE_JSON_MEMBERS_H

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "pcrgate/common.h"

/* The first member name of obj not in names, or NULL when every member is known. */
static inline const char *pcrgate_json_unknown_member(const json_t *obj, const char *const *names)
{
	const char *key;
	json_t *v;
	size_t i;

	json_object_foreach((json_t *)obj, key, v)
	{
		for (i = 0; names[i] != NULL && strcmp(names[i], key) != 0; i++)
			;
		if (names[i] == NULL)
			return key;
	}
	return NULL;
}

/* Records "PREFIX: MESSAGE" with code and no offset; returns code. */
static inline int pcrgate_json_vfail(pcrgate_errinfo *ei, int code, const char *prefix, const char *fmt, va_list ap)
	__attribute__((format(printf, 4, 0)));
static inline int pcrgate_json_vfail(pcrgate_errinfo *ei, int code, const char *prefix, const char *fmt, va_list ap)
{
	char msg[sizeof(ei->message)];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	return pcrgate_errinfo_set(ei, code, PCRGATE_NO_OFFSET, "%s: %s", prefix, msg);
}

static inline int pcrgate_json_fail(pcrgate_errinfo *ei, int code, const char *prefix, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static inline int pcrgate_json_fail(pcrgate_errinfo *ei, int code, const char *prefix, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = pcrgate_json_vfail(ei, code, prefix, fmt, ap);
	va_end(ap);
	return r;
}

/*
 * pcrgate_json_fail with code as the value the compiler sees (a variadic function is never
 * inlined), so that it knows a getter that failed returned non-zero and left *out unset.
 */
#define PCRGATE_JSON_FAIL(ei, code, ...) (pcrgate_json_fail((ei), (code), __VA_ARGS__), (code))

/* Refuses any member of obj not in names (what: the object's name for messages). */
static inline int pcrgate_json_only_members(const json_t *obj, const char *prefix, const char *what,
					    const char *const *names, pcrgate_errinfo *ei)
{
	const char *key = pcrgate_json_unknown_member(obj, names);

	return key != NULL ? PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "unknown member \"%.40s\" in %s", key,
					       what)
			   : PCRGATE_OK;
}

/*
 * Member key of obj as a string of min..max bytes without NUL (max SIZE_MAX: no cap); *len
 * may be NULL. Too long is PCRGATE_ERR_LIMIT, anything else PCRGATE_ERR_FORMAT.
 */
static inline int pcrgate_json_get_string(const json_t *obj, const char *prefix, const char *path, const char *key,
					  size_t min, size_t max, const char **out, size_t *len, pcrgate_errinfo *ei)
{
	json_t *v = json_object_get(obj, key);
	const char *s;
	size_t n;

	if (v == NULL)
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "member \"%s\" is missing", path);
	if (!json_is_string(v))
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "member \"%s\" is not a string", path);
	n = json_string_length(v);
	if (n < min)
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix,
					 n == 0 ? "member \"%s\" is empty" : "member \"%s\" is too short", path);
	if (n > max)
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_LIMIT, prefix, "member \"%s\" holds %zu bytes (at most %zu)",
					 path, n, max);
	s = json_string_value(v);
	if (strlen(s) != n)
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "member \"%s\" holds a NUL", path);
	*out = s;
	if (len != NULL)
		*len = n;
	return PCRGATE_OK;
}

/* An integer member of obj in min..max. */
static inline int pcrgate_json_get_uint(const json_t *obj, const char *prefix, const char *path, const char *key,
					uint64_t min, uint64_t max, uint64_t *out, pcrgate_errinfo *ei)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "member \"%s\" is missing", path);
	if (!json_is_integer(v))
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "member \"%s\" is not an integer", path);
	if (json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min || (uint64_t)json_integer_value(v) > max)
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix,
					 "member \"%s\" is out of range (%" PRIu64 " to %" PRIu64 ")", path, min, max);
	*out = (uint64_t)json_integer_value(v);
	return PCRGATE_OK;
}

/* An object member of obj (borrowed). */
static inline int pcrgate_json_get_object(const json_t *obj, const char *prefix, const char *path, const char *key,
					  json_t **out, pcrgate_errinfo *ei)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL)
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "member \"%s\" is missing", path);
	if (!json_is_object(v))
		return PCRGATE_JSON_FAIL(ei, PCRGATE_ERR_FORMAT, prefix, "member \"%s\" is not an object", path);
	*out = v;
	return PCRGATE_OK;
}

/* Standard base64 text s (n characters) of member path into out (cap bytes); errors name the member. */
static inline int pcrgate_json_b64_decode(const char *prefix, const char *path, const char *s, size_t n,
					  uint8_t *out, size_t cap, size_t *len, pcrgate_errinfo *ei)
{
	pcrgate_errinfo sub;
	int r;

	pcrgate_errinfo_clear(&sub);
	/* The decoder's position is within the string, not the document: it stays in the message. */
	if ((r = pcrgate_base64_decode(s, n, PCRGATE_BASE64_STD, out, cap, len, &sub)) != 0)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "%s: member \"%s\" %s", prefix, path, sub.message);
	return PCRGATE_OK;
}

#endif
