/* pcrgate-agent: JSON helpers for the agent's documents (jsonutil.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "jsonutil.h"
#include "pcrgate/alg.h"

/* The largest binary member any agent document carries (an event log). */
#define B64_MAX (24u * 1024 * 1024)

json_t *jsonutil_b64(const uint8_t *buf, size_t len)
{
	char *s;
	json_t *j;

	if (len > B64_MAX || (s = malloc(4 * ((len + 2) / 3) + 1)) == NULL)
		return NULL;
	EVP_EncodeBlock((unsigned char *)s, buf, (int)len);
	j = json_string(s);
	/* The bytes may be a secret (an activated credential's): the copy is wiped, not just freed. */
	OPENSSL_clear_free(s, 4 * ((len + 2) / 3) + 1);
	return j;
}

json_t *jsonutil_hex(const uint8_t *buf, size_t len)
{
	char *s;
	json_t *j;

	if (len > B64_MAX || (s = malloc(2 * len + 1)) == NULL)
		return NULL;
	pcrgate_hex_encode(buf, len, s);
	j = json_string(s);
	OPENSSL_clear_free(s, 2 * len + 1);
	return j;
}

void jsonutil_cleanse_member(json_t *obj, const char *key)
{
	json_t *v = json_object_get(obj, key);

	/* jansson owns the string's bytes; only the accessor is const. */
	if (json_is_string(v))
		OPENSSL_cleanse((char *)json_string_value(v), json_string_length(v));
}

json_t *jsonutil_pcrs(const pcrgate_pcrs *pcrs)
{
	json_t *root = json_object(), *bank;
	const uint8_t *v;
	char index[12];
	size_t b, len;
	uint16_t alg;
	unsigned p;

	for (b = 0; root != NULL && b < pcrgate_pcrs_bank_count(pcrs); b++) {
		alg = pcrgate_pcrs_bank_alg(pcrs, b);
		if ((bank = json_object()) == NULL || json_object_set_new(root, pcrgate_alg_name(alg), bank) != 0)
			goto fail;
		for (p = 0; p < PCRGATE_MAX_PCRS; p++) {
			if ((v = pcrgate_pcrs_get(pcrs, alg, p, &len)) == NULL)
				continue;
			snprintf(index, sizeof(index), "%u", p);
			if (json_object_set_new(bank, index, jsonutil_hex(v, len)) != 0)
				goto fail;
		}
	}
	return root;
fail:
	json_decref(root);
	return NULL;
}

int jsonutil_get_string(const json_t *obj, const char *what, const char *key, const char **out, pcrgate_errinfo *ei)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || !json_is_string(v))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: member \"%s\" %s", what, key,
					   v == NULL ? "is missing" : "is not a string");
	if (strlen(json_string_value(v)) != json_string_length(v))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: member \"%s\" holds a NUL",
					   what, key);
	*out = json_string_value(v);
	return PCRGATE_OK;
}

int jsonutil_get_object(const json_t *obj, const char *what, const char *key, json_t **out, pcrgate_errinfo *ei)
{
	json_t *v = json_object_get(obj, key);

	if (v == NULL || !json_is_object(v))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s: member \"%s\" %s", what, key,
					   v == NULL ? "is missing" : "is not an object");
	*out = v;
	return PCRGATE_OK;
}

int jsonutil_get_b64(const json_t *obj, const char *what, const char *key, uint8_t *buf, size_t cap, size_t *len,
		     pcrgate_errinfo *ei)
{
	pcrgate_errinfo sub;
	const char *s;
	int r;

	if ((r = jsonutil_get_string(obj, what, key, &s, ei)) != PCRGATE_OK)
		return r;
	pcrgate_errinfo_clear(&sub);
	/* The decoder's position is within the member, not the document: it stays in the message. */
	if ((r = pcrgate_base64_decode(s, strlen(s), PCRGATE_BASE64_STD, buf, cap, len, &sub)) != PCRGATE_OK)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "%s: member \"%s\" %s", what, key, sub.message);
	return PCRGATE_OK;
}

int jsonutil_get_hex(const json_t *obj, const char *what, const char *key, uint8_t *buf, size_t cap, size_t *len,
		     pcrgate_errinfo *ei)
{
	const char *s;
	int r;

	if ((r = jsonutil_get_string(obj, what, key, &s, ei)) != PCRGATE_OK)
		return r;
	if (s[0] == '\0') {
		*len = 0;
		return PCRGATE_OK;
	}
	if (pcrgate_hex_decode(s, buf, cap, len) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET,
					   "%s: member \"%s\" is not hex of at most %zu bytes", what, key, cap);
	return PCRGATE_OK;
}

int jsonutil_parse(const uint8_t *buf, size_t len, size_t max, json_t **out, pcrgate_errinfo *ei)
{
	json_error_t jerr;
	json_t *doc;

	if (len > max)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET, "%zu bytes, at most %zu allowed",
					   len, max);
	if ((doc = json_loadb((const char *)buf, len, JSON_REJECT_DUPLICATES, &jerr)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, (size_t)jerr.position, "not JSON: %s", jerr.text);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, 0, "not a JSON object");
	}
	*out = doc;
	return PCRGATE_OK;
}

int jsonutil_write(const json_t *doc, const char *path, pcrgate_errinfo *ei)
{
	return jsonutil_write_mode(doc, path, 0644, ei);
}

int jsonutil_write_mode(const json_t *doc, const char *path, unsigned mode, pcrgate_errinfo *ei)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	size_t n;
	int r;

	if (s == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "cannot serialize the document");
	n = strlen(s);
	if (path == NULL || strcmp(path, "-") == 0) {
		r = fwrite(s, 1, n, stdout) == n && fputc('\n', stdout) != EOF && fflush(stdout) == 0
			    ? PCRGATE_OK
			    : pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot write to stdout");
	} else {
		s[n] = '\n';
		r = pcrgate_file_write_atomic(path, (const uint8_t *)s, n + 1, mode, ei);
	}
	/* Documents written with a private mode carry tokens: wipe the text either way. */
	OPENSSL_clear_free(s, n + 1);
	return r;
}
