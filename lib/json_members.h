/*
 * pcrgate (library-internal): the strict-document check every JSON parser of untrusted input
 * shares: the first member of an object whose name is not in a NULL-terminated list. Inline,
 * so each library that parses documents (core, bundle) has it without exporting a symbol.
 */
#ifndef PCRGATE_JSON_MEMBERS_H
#define PCRGATE_JSON_MEMBERS_H

#include <string.h>

#include <jansson.h>

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

#endif
