/*
 * pcrgate-agent: its settings (built-in defaults, the agent's config file, options), the TPM
 * they name, the state directory and its lock, and the test-only fault-injection hook.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent.h"
#include "conffile.h"
#include "download.h"
#include "fault.h"
#include "jsonutil.h"
#include "pcrgate/pcr_map.h"

static int set_alg(uint16_t *dst, const char *value, const char *what, pcrgate_errinfo *ei)
{
	if (strcmp(value, "rsa") == 0)
		*dst = TPM2_ALG_RSA;
	else if (strcmp(value, "ecc") == 0)
		*dst = TPM2_ALG_ECC;
	else
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s: '%s' is not rsa or ecc",
					   what, value);
	return PCRGATE_OK;
}

/* "rsa,ecc", "rsa", "ecc" or "none". */
static int set_eks(unsigned *dst, const char *value, const char *what, pcrgate_errinfo *ei)
{
	if (strcmp(value, "rsa,ecc") == 0 || strcmp(value, "ecc,rsa") == 0)
		*dst = AGENT_EK_RSA | AGENT_EK_ECC;
	else if (strcmp(value, "rsa") == 0)
		*dst = AGENT_EK_RSA;
	else if (strcmp(value, "ecc") == 0)
		*dst = AGENT_EK_ECC;
	else if (strcmp(value, "none") == 0)
		*dst = 0;
	else
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: '%s' is not rsa,ecc, rsa, ecc or none", what, value);
	return PCRGATE_OK;
}

/* "0-7,8,9": PCRs 0 to 23. */
static int set_pcrs(uint32_t *dst, const char *value, const char *what, pcrgate_errinfo *ei)
{
	const char *p = value;
	unsigned long a, b;
	uint32_t mask = 0;
	char *end;

	for (;;) {
		if (*p < '0' || *p > '9')
			goto bad;
		a = b = strtoul(p, &end, 10);
		if (*end == '-') {
			p = end + 1;
			if (*p < '0' || *p > '9')
				goto bad;
			b = strtoul(p, &end, 10);
		}
		if (a > b || b > 23)
			goto bad;
		for (; a <= b; a++)
			mask |= (uint32_t)1 << a;
		if (*end == '\0')
			break;
		if (*end != ',')
			goto bad;
		p = end + 1;
	}
	*dst = mask;
	return PCRGATE_OK;
bad:
	return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
				   "%s: '%s' is not a list of PCRs 0 to 23 such as 0-7,8,9", what, value);
}

/* "auto", "window" or "approve". */
static int set_consent(int *dst, const char *value, const char *what, pcrgate_errinfo *ei)
{
	if (strcmp(value, "auto") == 0)
		*dst = AGENT_CONSENT_AUTO;
	else if (strcmp(value, "window") == 0)
		*dst = AGENT_CONSENT_WINDOW;
	else if (strcmp(value, "approve") == 0)
		*dst = AGENT_CONSENT_APPROVE;
	else
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: '%s' is not auto, window or approve", what, value);
	return PCRGATE_OK;
}

/* "HH:MM" at p: minutes after midnight, or -1. */
static int clock_minutes(const char *p)
{
	if (p[0] < '0' || p[0] > '2' || p[1] < '0' || p[1] > '9' || p[2] != ':' || p[3] < '0' || p[3] > '5' ||
	    p[4] < '0' || p[4] > '9')
		return -1;
	if ((p[0] - '0') * 10 + (p[1] - '0') > 23)
		return -1;
	return ((p[0] - '0') * 10 + (p[1] - '0')) * 60 + (p[3] - '0') * 10 + (p[4] - '0');
}

/* "HH:MM-HH:MM", local time; the end may be earlier than the start (the window spans midnight). */
static int set_window(struct agent_config *c, const char *value, const char *what, pcrgate_errinfo *ei)
{
	int a, b;

	if (strlen(value) != 11 || value[5] != '-' || (a = clock_minutes(value)) < 0 ||
	    (b = clock_minutes(value + 6)) < 0 || a == b)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: '%s' is not a window HH:MM-HH:MM of local time (start and end differ)",
					   what, value);
	c->window_start = (unsigned)a;
	c->window_end = (unsigned)b;
	return PCRGATE_OK;
}

enum key_kind { K_STRING, K_PATH, K_INDEX, K_HANDLE, K_ALG, K_EKS, K_PCRS, K_CONSENT, K_WINDOW, K_TRIES, K_SECONDS,
		K_SPEED };

static int apply_file(const pcrgate_config *file, struct agent_config *c, pcrgate_errinfo *ei)
{
	const struct {
		const char *key;
		enum key_kind kind;
		void *dst;
		size_t cap;
	} keys[] = {
		{"tcti", K_STRING, c->tcti, sizeof(c->tcti)},
		{"state_dir", K_PATH, c->state_dir, sizeof(c->state_dir)},
		{"policy_key", K_STRING, c->policy_key, sizeof(c->policy_key)},
		{"firmware_eventlog", K_PATH, c->firmware_log, sizeof(c->firmware_log)},
		{"boot_eventlog", K_PATH, c->boot_log, sizeof(c->boot_log)},
		{"counter_index", K_INDEX, &c->counter_index, 0},
		{"srk_handle", K_HANDLE, &c->srk_handle, 0},
		{"ek_rsa_handle", K_HANDLE, &c->ek_rsa_handle, 0},
		{"ek_ecc_handle", K_HANDLE, &c->ek_ecc_handle, 0},
		{"ak_handle", K_HANDLE, &c->ak_handle, 0},
		{"update_key_handle", K_HANDLE, &c->update_key_handle, 0},
		{"tls_key_handle", K_HANDLE, &c->tls_key_handle, 0},
		{"srk_alg", K_ALG, &c->srk_alg, 0},
		{"ak_alg", K_ALG, &c->ak_alg, 0},
		{"ek", K_EKS, &c->eks, 0},
		{"quote_pcrs", K_PCRS, &c->quote_pcrs, 0},
		{"verifier_url", K_STRING, c->verifier_url, sizeof(c->verifier_url)},
		{"verifier_ca", K_PATH, c->verifier_ca, sizeof(c->verifier_ca)},
		{"verifier_jws_key", K_PATH, c->verifier_jws_key, sizeof(c->verifier_jws_key)},
		{"device_group", K_STRING, c->device_group, sizeof(c->device_group)},
		{"boot_config", K_PATH, c->boot_config, sizeof(c->boot_config)},
		{"boot_command", K_STRING, c->boot_command, sizeof(c->boot_command)},
		{"update_tries", K_TRIES, &c->update_tries, 0},
		{"update_consent", K_CONSENT, &c->update_consent, 0},
		{"update_window", K_WINDOW, NULL, 0},
		{"health_check", K_STRING, c->health_check, sizeof(c->health_check)},
		{"health_check_timeout", K_SECONDS, &c->health_check_timeout, 0},
		{"download_ca", K_PATH, c->download_ca, sizeof(c->download_ca)},
		{"download_connect_timeout", K_SECONDS, &c->download_connect_timeout, 0},
		{"download_timeout", K_SECONDS, &c->download_timeout, 0},
		{"download_min_speed", K_SPEED, &c->download_min_speed, 0},
		{"download_min_speed_time", K_SECONDS, &c->download_min_speed_time, 0},
	};
	char where[AGENT_PATH_MAX + 48];
	const char *v;
	unsigned line = 0;
	size_t i;
	int r = PCRGATE_OK;

	for (i = 0; i < sizeof(keys) / sizeof(keys[0]) && r == PCRGATE_OK; i++) {
		if ((v = pcrgate_config_get(file, keys[i].key, &line)) == NULL)
			continue;
		snprintf(where, sizeof(where), "%s:%u: %s", c->config, line, keys[i].key);
		switch (keys[i].kind) {
		case K_PATH:
			if (v[0] != '/') {
				r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
							"%s: '%s' is not an absolute path", where, v);
				break;
			}
			/* fall through */
		case K_STRING:
			r = pcrgate_config_string(keys[i].dst, keys[i].cap, v, where, ei);
			break;
		case K_INDEX:
			r = pcrgate_config_u32(keys[i].dst, v, 0x01000000u, 0x01bfffffu, "an owner NV index", where, ei);
			break;
		case K_HANDLE:
			r = pcrgate_config_u32(keys[i].dst, v, 0x81000000u, 0x817fffffu, "a persistent handle", where, ei);
			break;
		case K_ALG:
			r = set_alg(keys[i].dst, v, where, ei);
			break;
		case K_EKS:
			r = set_eks(keys[i].dst, v, where, ei);
			break;
		case K_PCRS:
			r = set_pcrs(keys[i].dst, v, where, ei);
			break;
		case K_CONSENT:
			r = set_consent(keys[i].dst, v, where, ei);
			break;
		case K_WINDOW:
			r = set_window(c, v, where, ei);
			break;
		case K_TRIES:
			r = pcrgate_config_u32(keys[i].dst, v, 1, PCRGATE_BOOTSTATE_MAX_TRIES,
					       "a number of trial boots", where, ei);
			break;
		case K_SECONDS:
			r = pcrgate_config_u32(keys[i].dst, v, 1, 86400, "a number of seconds", where, ei);
			break;
		case K_SPEED:
			r = pcrgate_config_u32(keys[i].dst, v, 1, 1000000000u, "a speed in bytes per second", where, ei);
			break;
		}
	}
	return r;
}

/* Two objects at one handle would overwrite each other's checks: every handle differs. */
static int check_handles(const struct agent_config *c, pcrgate_errinfo *ei)
{
	const uint32_t h[] = {c->srk_handle, c->ek_rsa_handle, c->ek_ecc_handle, c->ak_handle, c->update_key_handle,
			      c->tls_key_handle};
	const char *names[] = {"srk_handle", "ek_rsa_handle", "ek_ecc_handle", "ak_handle", "update_key_handle",
			       "tls_key_handle"};
	size_t i, j;

	for (i = 0; i < sizeof(h) / sizeof(h[0]); i++)
		for (j = 0; j < i; j++)
			if (h[i] == h[j])
				return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
							   "%s and %s are both 0x%08x", names[j], names[i],
							   (unsigned)h[i]);
	return PCRGATE_OK;
}

int agent_config_resolve(const struct agent_options *opts, struct agent_config *cfg, pcrgate_errinfo *ei)
{
	struct agent_config c;
	pcrgate_config *file = NULL;
	const char *path = opts->config, *named_by = "--config";
	int named, r;

	memset(&c, 0, sizeof(c));
	snprintf(c.state_dir, sizeof(c.state_dir), "%s", AGENT_DEFAULT_STATE_DIR);
	snprintf(c.policy_key, sizeof(c.policy_key), "%s", AGENT_DEFAULT_POLICY_KEY);
	snprintf(c.firmware_log, sizeof(c.firmware_log), "%s", AGENT_DEFAULT_FIRMWARE_LOG);
	snprintf(c.boot_log, sizeof(c.boot_log), "%s", AGENT_DEFAULT_BOOT_LOG);
	c.counter_index = AGENT_DEFAULT_COUNTER_INDEX;
	c.srk_handle = AGENT_DEFAULT_SRK_HANDLE;
	c.ek_rsa_handle = AGENT_DEFAULT_EK_RSA_HANDLE;
	c.ek_ecc_handle = AGENT_DEFAULT_EK_ECC_HANDLE;
	c.ak_handle = AGENT_DEFAULT_AK_HANDLE;
	c.update_key_handle = AGENT_DEFAULT_UPDATE_KEY_HANDLE;
	c.tls_key_handle = AGENT_DEFAULT_TLS_KEY_HANDLE;
	c.srk_alg = TPM2_ALG_ECC;
	c.ak_alg = TPM2_ALG_ECC;
	c.eks = AGENT_EK_RSA | AGENT_EK_ECC;
	c.quote_pcrs = (uint32_t)(PCRGATE_PCR_MASK_FIRMWARE | PCRGATE_PCR_MASK_BOOT);
	snprintf(c.boot_command, sizeof(c.boot_command), "%s", AGENT_DEFAULT_BOOT_COMMAND);
	c.update_tries = AGENT_DEFAULT_UPDATE_TRIES;
	c.health_check_timeout = AGENT_DEFAULT_HEALTH_CHECK_TIMEOUT;
	c.download_connect_timeout = 30;
	c.download_timeout = 3600;
	c.download_min_speed = DOWNLOAD_DEFAULT_MIN_SPEED;
	c.download_min_speed_time = DOWNLOAD_DEFAULT_MIN_SPEED_TIME_S;

	if (path == NULL && (path = secure_getenv(AGENT_CONFIG_ENV)) != NULL && *path == '\0')
		path = NULL;
	if (path != NULL && opts->config == NULL)
		named_by = AGENT_CONFIG_ENV;
	named = path != NULL;
	if (path == NULL)
		path = AGENT_DEFAULT_CONFIG;
	if ((r = pcrgate_config_string(c.config, sizeof(c.config), path, named_by, ei)) != PCRGATE_OK)
		return r;
	r = pcrgate_config_load(c.config, &file, ei);
	if (r == PCRGATE_ERR_NOT_FOUND && !named) {
		c.config[0] = '\0';
		r = PCRGATE_OK;
	} else if (r == PCRGATE_ERR_NOT_FOUND) {
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					"config file %s (named by %s) does not exist", c.config, named_by);
	}
	if (r == PCRGATE_OK && file != NULL)
		r = apply_file(file, &c, ei);
	pcrgate_config_free(&file);
	if (r == PCRGATE_OK && opts->tcti != NULL)
		r = pcrgate_config_string(c.tcti, sizeof(c.tcti), opts->tcti, "--tcti", ei);
	if (r == PCRGATE_OK && opts->state_dir != NULL) {
		if (opts->state_dir[0] != '/')
			r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						"--state-dir: '%s' is not an absolute path", opts->state_dir);
		else
			r = pcrgate_config_string(c.state_dir, sizeof(c.state_dir), opts->state_dir, "--state-dir", ei);
	}
	if (r == PCRGATE_OK)
		r = check_handles(&c, ei);
	if (r == PCRGATE_OK && c.update_consent == AGENT_CONSENT_WINDOW && c.window_start == c.window_end)
		r = pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					"update_consent = window needs update_window = HH:MM-HH:MM");
	if (r != PCRGATE_OK)
		return r;
	*cfg = c;
	return PCRGATE_OK;
}

int agent_open_tpm(const struct agent_config *cfg, pcrgate_tpm **tpm, pcrgate_errinfo *ei)
{
	return pcrgate_tpm_open(cfg->tcti[0] != '\0' ? cfg->tcti : NULL, NULL, tpm, ei);
}

int agent_state_path(const struct agent_config *cfg, const char *name, char *out, size_t cap, pcrgate_errinfo *ei)
{
	int n = snprintf(out, cap, "%s/%s", cfg->state_dir, name);

	if (n < 0 || (size_t)n >= cap)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_LIMIT, PCRGATE_NO_OFFSET,
					   "state directory path too long for %s", name);
	return PCRGATE_OK;
}

int agent_state_read(const struct agent_config *cfg, const char *name, json_t **out, pcrgate_errinfo *ei)
{
	char path[AGENT_PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	int r;

	if ((r = agent_state_path(cfg, name, path, sizeof(path), ei)) != PCRGATE_OK ||
	    (r = pcrgate_file_read(path, AGENT_STATE_DOC_MAX, &buf, &len, ei)) != PCRGATE_OK)
		return r;
	if ((r = jsonutil_parse(buf, len, AGENT_STATE_DOC_MAX, out, ei)) != PCRGATE_OK && ei != NULL) {
		char why[sizeof(ei->message)];

		snprintf(why, sizeof(why), "%s", ei->message);
		pcrgate_errinfo_set(ei, r, ei->offset, "%s: %s", path, why);
	}
	free(buf);
	return r;
}

int agent_state_write(const struct agent_config *cfg, const char *name, const json_t *doc, unsigned mode,
		      pcrgate_errinfo *ei)
{
	char path[AGENT_PATH_MAX];
	int r;

	if ((r = agent_state_path(cfg, name, path, sizeof(path), ei)) != PCRGATE_OK)
		return r;
	return jsonutil_write_mode(doc, path, mode, ei);
}

int agent_state_remove(const struct agent_config *cfg, const char *name, pcrgate_errinfo *ei)
{
	char path[AGENT_PATH_MAX], what[AGENT_PATH_MAX + 8];
	int r;

	if ((r = agent_state_path(cfg, name, path, sizeof(path), ei)) != PCRGATE_OK)
		return r;
	if (access(path, F_OK) != 0)
		return PCRGATE_OK;
	snprintf(what, sizeof(what), "remove %s", path);
	(void)pcrgate_fault_point(what, 0);
	if (unlink(path) != 0 && errno != ENOENT)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	return pcrgate_fsync_dir(cfg->state_dir, ei);
}

int agent_lock(const struct agent_config *cfg, int *fd, pcrgate_errinfo *ei)
{
	return agent_lock_file(cfg, AGENT_LOCK_FILE, fd, ei);
}

int agent_lock_file(const struct agent_config *cfg, const char *name, int *fd, pcrgate_errinfo *ei)
{
	char path[AGENT_PATH_MAX];
	struct stat st;
	int f;

	if (mkdir(cfg->state_dir, 0700) != 0 && errno != EEXIST)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "state directory %s: %s",
					   cfg->state_dir, strerror(errno));
	if (stat(cfg->state_dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "state directory %s is not a directory",
					   cfg->state_dir);
	if (st.st_mode & 077)
		pg_warn("state directory %s is accessible to others (mode %03o); it holds the counter's write secret",
			cfg->state_dir, (unsigned)(st.st_mode & 0777));
	if ((f = agent_state_path(cfg, name, path, sizeof(path), ei)) != PCRGATE_OK)
		return f;
	if ((f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600)) < 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "%s: %s", path, strerror(errno));
	while (flock(f, LOCK_EX) != 0) {
		if (errno != EINTR) {
			close(f);
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "locking %s: %s", path,
						   strerror(errno));
		}
	}
	*fd = f;
	return PCRGATE_OK;
}

void agent_unlock(int *fd)
{
	if (fd != NULL && *fd >= 0) {
		close(*fd);
		*fd = -1;
	}
}

static unsigned fault_at, fault_seen;
static int fault_tear;
static FILE *fault_trace;

int agent_fault_change(const char *what, int tearable)
{
	if (fault_trace != NULL) {
		fprintf(fault_trace, "%u %s %s\n", ++fault_seen, tearable ? "tearable" : "atomic", what);
		fflush(fault_trace);
		return 0;
	}
	if (fault_at == 0 || ++fault_seen != fault_at)
		return 0;
	if (fault_tear && tearable) {
		fprintf(stderr, "pcrgate-agent: %s=torn:%u: tearing %s\n", AGENT_FAULT_ENV, fault_at, what);
		fflush(stderr);
		return 1;
	}
	fprintf(stderr, "pcrgate-agent: %s=%s:%u: killed before %s\n", AGENT_FAULT_ENV, fault_tear ? "torn" : "cut",
		fault_at, what);
	fflush(stderr);
	for (;;)
		kill(getpid(), SIGKILL);
}

void agent_fault_point(const char *what)
{
	(void)agent_fault_change(what, 0);
}

int agent_fault_init(pcrgate_errinfo *ei)
{
	const char *v = secure_getenv(AGENT_FAULT_ENV);
	unsigned long at = 0;
	char *end = NULL;

	fault_at = fault_seen = 0;
	fault_tear = 0;
	if (v == NULL || *v == '\0')
		return PCRGATE_OK;
	if (strncmp(v, "trace:", 6) == 0 && v[6] != '\0') {
		if ((fault_trace = fopen(v + 6, "ae")) == NULL)
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s: %s: %s", AGENT_FAULT_ENV,
						   v + 6, strerror(errno));
		pcrgate_fault_set(agent_fault_change);
		return PCRGATE_OK;
	}
	errno = 0;
	if (strncmp(v, "cut:", 4) == 0 || (fault_tear = strncmp(v, "torn:", 5) == 0)) {
		v += fault_tear ? 5 : 4;
		if (*v >= '1' && *v <= '9')
			at = strtoul(v, &end, 10);
	}
	if (at == 0 || *end != '\0' || errno != 0 || at > 1000000ul)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: '%s' is not cut:N, torn:N (N from 1) or trace:FILE", AGENT_FAULT_ENV,
					   secure_getenv(AGENT_FAULT_ENV));
	fault_at = (unsigned)at;
	pcrgate_fault_set(agent_fault_change);
	return PCRGATE_OK;
}
