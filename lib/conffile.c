/* pcrgate: the `key = value` config file, and the choice of TCTI string from option, file, env, default. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pcrgate/common.h"
#include "pcrgate/tpm.h"
#include "conffile.h"

struct setting {
	const char *key;
	const char *value;
	unsigned line;
};

struct pcrgate_config {
	char *path;
	uint8_t *text; /* the whole file, cut into keys and values in place */
	size_t count;
	struct setting settings[PCRGATE_CONFIG_MAX_KEYS];
};

void pcrgate_config_free(pcrgate_config **cfg)
{
	if (cfg == NULL || *cfg == NULL)
		return;
	free((*cfg)->path);
	free((*cfg)->text);
	free(*cfg);
	*cfg = NULL;
}

static int is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static int is_key_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
	       c == '-';
}

static char *trim_end(char *start, char *end)
{
	while (end > start && is_blank(end[-1]))
		end--;
	*end = '\0';
	return start;
}

/* Parses one line of n bytes (NUL-terminated at n) into cfg. */
static int parse_line(pcrgate_config *cfg, char *s, size_t n, unsigned line, pcrgate_errinfo *ei)
{
	const char *path = cfg->path;
	char *p, *eq, *key, *value, *c;
	size_t i;

	if (n > 0 && s[n - 1] == '\r')
		s[--n] = '\0';
	for (i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '\0')
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s:%u: NUL byte in line",
						   path, line);
		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						   "%s:%u: control character 0x%02x in line", path, line, ch);
	}
	for (p = s; is_blank(*p); p++)
		;
	if (*p == '\0' || *p == '#')
		return PCRGATE_OK;
	if ((eq = strchr(p, '=')) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s:%u: expected 'key = value'", path, line);
	key = trim_end(p, eq);
	if (*key == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s:%u: no key before '='", path,
					   line);
	for (c = key; *c != '\0'; c++)
		if (!is_key_char(*c))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						   "%s:%u: invalid key '%s' (letters, digits, '_', '.', '-')", path,
						   line, key);
	for (value = eq + 1; is_blank(*value); value++)
		;
	/* A '#' after a blank starts a comment; one inside a word is part of the value. */
	for (c = value; *c != '\0'; c++)
		if (*c == '#' && (c == value || is_blank(c[-1])))
			break;
	trim_end(value, c);
	if (*value == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s:%u: no value for '%s'", path,
					   line, key);
	for (i = 0; i < cfg->count; i++)
		if (strcmp(cfg->settings[i].key, key) == 0)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						   "%s:%u: '%s' is already set on line %u", path, line, key,
						   cfg->settings[i].line);
	if (cfg->count == PCRGATE_CONFIG_MAX_KEYS)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s:%u: more than %d settings",
					   path, line, PCRGATE_CONFIG_MAX_KEYS);
	cfg->settings[cfg->count].key = key;
	cfg->settings[cfg->count].value = value;
	cfg->settings[cfg->count].line = line;
	cfg->count++;
	return PCRGATE_OK;
}

static int parse(pcrgate_config *cfg, size_t len, pcrgate_errinfo *ei)
{
	char *text = (char *)cfg->text;
	size_t pos = 0;
	unsigned line = 0;
	int r;

	while (pos < len) {
		char *start = text + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl != NULL ? (size_t)(nl - start) : len - pos;

		line++;
		pos += n + (nl != NULL);
		if (n > PCRGATE_CONFIG_MAX_LINE)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						   "%s:%u: line longer than %d bytes", cfg->path, line,
						   PCRGATE_CONFIG_MAX_LINE);
		/* The last line may lack a newline: pcrgate_file_read puts a NUL after the data. */
		start[n] = '\0';
		if ((r = parse_line(cfg, start, n, line, ei)) != 0)
			return r;
	}
	return PCRGATE_OK;
}

int pcrgate_config_load(const char *path, pcrgate_config **out, pcrgate_errinfo *ei)
{
	pcrgate_config *cfg = NULL;
	size_t len;
	int r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (path == NULL || out == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no config file given");
	if ((cfg = calloc(1, sizeof(*cfg))) == NULL || (cfg->path = strdup(path)) == NULL) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_NOMEM, PCRGATE_NO_OFFSET, "%s: out of memory", path);
		goto fail;
	}
	if ((r = pcrgate_file_read(path, PCRGATE_CONFIG_MAX_SIZE, &cfg->text, &len, ei)) != 0)
		goto fail;
	if ((r = parse(cfg, len, ei)) != 0)
		goto fail;
	*out = cfg;
	return PCRGATE_OK;
fail:
	pcrgate_config_free(&cfg);
	return r;
}

const char *pcrgate_config_get(const pcrgate_config *cfg, const char *key, unsigned *line)
{
	size_t i;

	if (cfg == NULL || key == NULL)
		return NULL;
	for (i = 0; i < cfg->count; i++) {
		if (strcmp(cfg->settings[i].key, key) == 0) {
			if (line != NULL)
				*line = cfg->settings[i].line;
			return cfg->settings[i].value;
		}
	}
	return NULL;
}

const char *pcrgate_config_path(const pcrgate_config *cfg)
{
	return cfg != NULL ? cfg->path : NULL;
}

const char *pcrgate_config_key(const pcrgate_config *cfg, size_t i, unsigned *line)
{
	if (cfg == NULL || i >= cfg->count)
		return NULL;
	if (line != NULL)
		*line = cfg->settings[i].line;
	return cfg->settings[i].key;
}

const char *pcrgate_tcti_source_name(int source)
{
	switch (source) {
	case PCRGATE_TCTI_FROM_OPTION:
		return "option";
	case PCRGATE_TCTI_FROM_CONFIG:
		return "config file";
	case PCRGATE_TCTI_FROM_ENV:
		return "environment (PCRGATE_TCTI)";
	case PCRGATE_TCTI_FROM_DEFAULT:
		return "default";
	default:
		return "unknown";
	}
}

/*
 * The environment only counts for ordinary processes: a setuid or file-capability
 * program must not let its caller pick the TCTI (the loader dlopens by that name).
 */
static const char *env_setting(const char *name)
{
	const char *v = secure_getenv(name);
	return (v != NULL && *v != '\0') ? v : NULL;
}

/* Copies a chosen TCTI string out, after checking it; where names its origin for messages. */
static int take_tcti(const char *value, const char *where, char *tcti, size_t cap, pcrgate_errinfo *ei)
{
	size_t n = strlen(value), i;

	if (n == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s: empty TCTI string", where);
	if (n >= cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: TCTI string of %zu bytes, at most %zu allowed", where, n, cap - 1);
	for (i = 0; i < n; i++)
		if ((unsigned char)value[i] < 0x20 || value[i] == 0x7f)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						   "%s: control character in TCTI string", where);
	memcpy(tcti, value, n + 1);
	return PCRGATE_OK;
}

int pcrgate_tcti_resolve_in(const char *option, const char *config_path, const char *default_config, char *tcti,
			    size_t cap, int *source, pcrgate_errinfo *ei)
{
	pcrgate_config *cfg = NULL;
	const char *path, *named_by = "the caller", *value;
	char where[PCRGATE_CONFIG_MAX_LINE];
	unsigned line = 0;
	int src, r = PCRGATE_ERR_INVALID_ARGUMENT;

	if (default_config == NULL || tcti == NULL || cap == 0 || source == NULL)
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "no output for the TCTI string");
	if (option != NULL) {
		if ((r = take_tcti(option, "TCTI option", tcti, cap, ei)) != 0)
			return r;
		*source = PCRGATE_TCTI_FROM_OPTION;
		return PCRGATE_OK;
	}
	path = config_path;
	if (path == NULL && (path = env_setting("PCRGATE_CONFIG")) != NULL)
		named_by = "PCRGATE_CONFIG";
	if (path == NULL) {
		path = default_config;
		named_by = NULL;
	}
	r = pcrgate_config_load(path, &cfg, ei);
	if (r == PCRGATE_ERR_NOT_FOUND && named_by != NULL) {
		r = pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "config file %s (named by %s) does not exist", path,
					named_by);
		goto fail;
	}
	if (r != 0 && r != PCRGATE_ERR_NOT_FOUND)
		goto fail;
	if ((value = pcrgate_config_get(cfg, "tcti", &line)) != NULL) {
		snprintf(where, sizeof(where), "%s:%u", path, line);
		src = PCRGATE_TCTI_FROM_CONFIG;
	} else if ((value = env_setting("PCRGATE_TCTI")) != NULL) {
		snprintf(where, sizeof(where), "PCRGATE_TCTI");
		src = PCRGATE_TCTI_FROM_ENV;
	} else {
		value = PCRGATE_TPM_DEFAULT_TCTI;
		snprintf(where, sizeof(where), "default TCTI");
		src = PCRGATE_TCTI_FROM_DEFAULT;
	}
	if ((r = take_tcti(value, where, tcti, cap, ei)) != 0)
		goto fail;
	*source = src;
	r = PCRGATE_OK;
fail:
	pcrgate_config_free(&cfg);
	return r;
}

int pcrgate_tcti_resolve(const char *option, const char *config_path, char *tcti, size_t cap, int *source,
			 pcrgate_errinfo *ei)
{
	return pcrgate_tcti_resolve_in(option, config_path, PCRGATE_DEFAULT_CONFIG, tcti, cap, source, ei);
}

int pcrgate_config_string(char *dst, size_t cap, const char *value, const char *what, pcrgate_errinfo *ei)
{
	size_t n = strlen(value);

	if (n == 0 || n >= cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s: 1 to %zu bytes expected",
					   what, cap - 1);
	memcpy(dst, value, n + 1);
	return PCRGATE_OK;
}

int pcrgate_config_u32(uint32_t *dst, const char *value, uint32_t lo, uint32_t hi, const char *kind,
		       const char *what, pcrgate_errinfo *ei)
{
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(value, &end, 0);
	/* TPM handles and NV indices (from 0x01000000 up) are spoken of in hex, counts in decimal. */
	if (value[0] < '0' || value[0] > '9' || *end != '\0' || errno != 0 || v < lo || v > hi)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   lo >= 0x01000000u ? "%s: '%s' is not %s (0x%08x to 0x%08x)"
							     : "%s: '%s' is not %s (%u to %u)",
					   what, value, kind, (unsigned)lo, (unsigned)hi);
	*dst = (uint32_t)v;
	return PCRGATE_OK;
}

int pcrgate_config_bool(int *dst, const char *value, const char *what, pcrgate_errinfo *ei)
{
	if (strcmp(value, "yes") == 0 || strcmp(value, "true") == 0 || strcmp(value, "1") == 0)
		*dst = 1;
	else if (strcmp(value, "no") == 0 || strcmp(value, "false") == 0 || strcmp(value, "0") == 0)
		*dst = 0;
	else
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s: '%s' is not yes or no",
					   what, value);
	return PCRGATE_OK;
}
