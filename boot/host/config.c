/*
 * pcrgate-boot: its settings, from built-in defaults, the `boot.*` keys of the pcrgate
 * config file and the command line, and the test-only fault-injection variable.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conffile.h"
#include "host.h"

/* Copies a setting, made absolute against the working directory (outputs name absolute paths). */
static int set_path(char *dst, const char *value, const char *what, pcrgate_errinfo *ei)
{
	char cwd[HOST_PATH_MAX];
	int n;

	if (value[0] == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s: empty path", what);
	if (value[0] == '/') {
		n = snprintf(dst, HOST_PATH_MAX, "%s", value);
	} else {
		if (getcwd(cwd, sizeof(cwd)) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
						   "%s: cannot make '%s' absolute: %s", what, value, strerror(errno));
		n = snprintf(dst, HOST_PATH_MAX, "%s/%s", cwd, value);
	}
	if (n < 0 || n >= HOST_PATH_MAX)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s: path longer than %d bytes",
					   what, HOST_PATH_MAX - 1);
	return PCRGATE_OK;
}

/* Applies the config file's boot.* keys; each error names file:line. */
static int apply_file(const pcrgate_config *file, struct host_config *cfg, pcrgate_errinfo *ei)
{
	static const char *const keys[] = {"boot.state", "boot.slots", "boot.eventlog", "boot.trust",
					   "boot.compatible", "boot.counter_index", "boot.counter_absent_ok",
					   "boot.run_dir"};
	char where[HOST_PATH_MAX + 32];
	const char *v;
	unsigned line = 0;
	size_t i;
	int r = PCRGATE_OK;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && r == PCRGATE_OK; i++) {
		if ((v = pcrgate_config_get(file, keys[i], &line)) == NULL)
			continue;
		snprintf(where, sizeof(where), "%s:%u: %s", cfg->config, line, keys[i]);
		switch (i) {
		case 0:
			r = set_path(cfg->state, v, where, ei);
			break;
		case 1:
			r = set_path(cfg->slots, v, where, ei);
			break;
		case 2:
			r = set_path(cfg->eventlog, v, where, ei);
			break;
		case 3:
			r = set_path(cfg->trust, v, where, ei);
			break;
		case 4:
			r = pcrgate_config_string(cfg->compatible, sizeof(cfg->compatible), v, where, ei);
			break;
		case 5:
			r = pcrgate_config_u32(&cfg->counter_index, v, 0x01000000u, 0x01ffffffu, "an NV index", where, ei);
			break;
		case 6:
			r = pcrgate_config_bool(&cfg->counter_absent_ok, v, where, ei);
			break;
		default:
			r = set_path(cfg->run_dir, v, where, ei);
			break;
		}
	}
	return r;
}

static int apply_options(const struct host_options *o, struct host_config *cfg, pcrgate_errinfo *ei)
{
	int r = PCRGATE_OK;

	if (r == PCRGATE_OK && o->state != NULL)
		r = set_path(cfg->state, o->state, "--state", ei);
	if (r == PCRGATE_OK && o->slots != NULL)
		r = set_path(cfg->slots, o->slots, "--slots", ei);
	if (r == PCRGATE_OK && o->eventlog != NULL)
		r = set_path(cfg->eventlog, o->eventlog, "--eventlog", ei);
	if (r == PCRGATE_OK && o->trust != NULL)
		r = set_path(cfg->trust, o->trust, "--trust", ei);
	if (r == PCRGATE_OK && o->run_dir != NULL)
		r = set_path(cfg->run_dir, o->run_dir, "--run-dir", ei);
	if (r == PCRGATE_OK && o->compatible != NULL)
		r = pcrgate_config_string(cfg->compatible, sizeof(cfg->compatible), o->compatible, "--compatible", ei);
	if (r == PCRGATE_OK && o->tcti != NULL)
		r = pcrgate_config_string(cfg->tcti, sizeof(cfg->tcti), o->tcti, "--tcti", ei);
	if (r == PCRGATE_OK && o->counter_index != NULL)
		r = pcrgate_config_u32(&cfg->counter_index, o->counter_index, 0x01000000u, 0x01ffffffu, "an NV index", "--counter-index", ei);
	return r;
}

int host_config_resolve(const struct host_options *opts, struct host_config *cfg, pcrgate_errinfo *ei)
{
	struct host_config c;
	pcrgate_config *file = NULL;
	const char *path = opts->config, *named_by = "--config";
	int r;

	memset(&c, 0, sizeof(c));
	snprintf(c.state, sizeof(c.state), "%s", HOST_DEFAULT_STATE);
	snprintf(c.slots, sizeof(c.slots), "%s", HOST_DEFAULT_SLOTS);
	snprintf(c.eventlog, sizeof(c.eventlog), "%s", HOST_DEFAULT_EVENTLOG);
	snprintf(c.trust, sizeof(c.trust), "%s", HOST_DEFAULT_TRUST);
	snprintf(c.run_dir, sizeof(c.run_dir), "%s", HOST_DEFAULT_RUN_DIR);
	c.counter_index = HOST_DEFAULT_COUNTER_INDEX;

	/* The same file, chosen the same way, as the library reads for the TCTI. */
	if (path == NULL && (path = secure_getenv("PCRGATE_CONFIG")) != NULL && *path == '\0')
		path = NULL;
	if (path != NULL && opts->config == NULL)
		named_by = "PCRGATE_CONFIG";
	c.config_named = path != NULL;
	if (path == NULL)
		path = PCRGATE_DEFAULT_CONFIG;
	if ((r = set_path(c.config, path, named_by, ei)) != PCRGATE_OK)
		return r;
	r = pcrgate_config_load(c.config, &file, ei);
	if (r == PCRGATE_ERR_NOT_FOUND && !c.config_named) {
		c.config[0] = '\0';
		r = PCRGATE_OK;
	} else if (r == PCRGATE_ERR_NOT_FOUND) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					"config file %s (named by %s) does not exist", c.config, named_by);
	}
	if (r == PCRGATE_OK && file != NULL)
		r = apply_file(file, &c, ei);
	pcrgate_config_free(&file);
	if (r == PCRGATE_OK)
		r = apply_options(opts, &c, ei);
	if (r != PCRGATE_OK)
		return r;
	*cfg = c;
	return PCRGATE_OK;
}

int host_fault_parse(struct host_fault *fault, pcrgate_errinfo *ei)
{
	const char *v = secure_getenv(HOST_FAULT_ENV), *num;
	enum host_fault_kind kind;
	unsigned long at;
	char *end;

	if (v == NULL || *v == '\0') {
		fault->kind = HOST_FAULT_NONE;
		fault->at = 0;
		return PCRGATE_OK;
	}
	if (strncmp(v, "cut:", 4) == 0) {
		kind = HOST_FAULT_CUT;
		num = v + 4;
	} else if (strncmp(v, "torn:", 5) == 0) {
		kind = HOST_FAULT_TORN;
		num = v + 5;
	} else {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: '%s' is not cut:N or torn:N", HOST_FAULT_ENV, v);
	}
	errno = 0;
	at = strtoul(num, &end, 10);
	if (*num < '1' || *num > '9' || *end != '\0' || errno != 0 || at > 1000000ul)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: '%s' is not cut:N or torn:N with N from 1", HOST_FAULT_ENV, v);
	fault->kind = kind;
	fault->at = (unsigned)at;
	return PCRGATE_OK;
}
