/*
 * pcrgate verifier: reading and checking /etc/pcrgate/verifier.conf (docs/verifier.md lists
 * every key). The file is read over the defaults; a key this reader does not know is an error.
 */
#include "config.h"

#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "conffile.h"
#include "pcrgate/tpm.h"
#include "verifier/http.h"
#include "verifier/vconfig.h"

void vconfig_defaults(struct vconfig *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->listen_address, sizeof(cfg->listen_address), "0.0.0.0");
	cfg->port = 8443;
	snprintf(cfg->database, sizeof(cfg->database), "%s", VCONFIG_DEFAULT_DATABASE);
	cfg->threads = 4;
	cfg->max_connections = 1024;
	cfg->connection_timeout = 30;
	cfg->max_body = VHTTP_DEFAULT_MAX_BODY;
	cfg->nonce_ttl = 300;
	cfg->authorization_ttl = 3600;
	cfg->counter_index = PCRGATE_TPM_DEFAULT_COUNTER_INDEX;
	cfg->require_ek_certificate = 1;
	cfg->device_client_certs = 1;
	cfg->device_cert_days = 365;
	snprintf(cfg->user, sizeof(cfg->user), "pcrgate");
	cfg->admin_api = 1;
}

/* K_NUM: a number whose field is not a uint32_t, stored by set_number. */
enum kind { K_STRING, K_U32, K_NUM, K_BOOL };

struct key {
	const char *name;
	enum kind kind;
	size_t off;  /* into struct vconfig */
	size_t size; /* of the string field */
	uint32_t lo, hi;
	const char *what; /* for range errors */
};

#define S(name, field)                                                                                       \
	{name, K_STRING, offsetof(struct vconfig, field), sizeof(((struct vconfig *)0)->field), 0, 0, NULL}
#define U(name, field, lo, hi, what) {name, K_U32, offsetof(struct vconfig, field), 0, lo, hi, what}
#define B(name, field) {name, K_BOOL, offsetof(struct vconfig, field), 0, 0, 0, NULL}

static const struct key keys[] = {
	S("listen_address", listen_address),
	{"port", K_NUM, 0, 0, 0, 65535, "a TCP port"},
	S("tls_cert", tls_cert),
	S("tls_key", tls_key),
	B("plain_http", plain_http),
	S("database", database),
	{"threads", K_NUM, 0, 0, 1, 256, "a thread count"},
	{"max_connections", K_NUM, 0, 0, 1, 65536, "a connection count"},
	{"per_ip_connections", K_NUM, 0, 0, 0, 65536, "a connection count"},
	{"connection_timeout", K_NUM, 0, 0, 1, 3600, "seconds"},
	{"max_body", K_NUM, 0, 0, 1024, 64u * 1024 * 1024, "bytes"},
	U("nonce_ttl", nonce_ttl, 10, 86400, "seconds"),
	U("authorization_ttl", authorization_ttl, 60, 7 * 86400, "seconds"),
	S("jws_key", jws_key),
	S("ek_ca", ek_ca),
	S("policy_key", policy_key),
	U("counter_index", counter_index, 0x01000000, 0x01ffffff, "an NV index"),
	B("require_ek_certificate", require_ek_certificate),
	B("device_client_certs", device_client_certs),
	S("device_ca_cert", device_ca_cert),
	S("device_ca_key", device_ca_key),
	U("device_cert_days", device_cert_days, 1, 3650, "days"),
	S("user", user),
	B("admin_api", admin_api),
	S("bundle_dir", bundle_dir),
};

static void set_number(struct vconfig *cfg, const char *name, uint32_t v)
{
	if (strcmp(name, "port") == 0)
		cfg->port = (uint16_t)v;
	else if (strcmp(name, "threads") == 0)
		cfg->threads = v;
	else if (strcmp(name, "max_connections") == 0)
		cfg->max_connections = v;
	else if (strcmp(name, "per_ip_connections") == 0)
		cfg->per_ip_connections = v;
	else if (strcmp(name, "connection_timeout") == 0)
		cfg->connection_timeout = v;
	else if (strcmp(name, "max_body") == 0)
		cfg->max_body = v;
}

static int apply(pcrgate_config *file, struct vconfig *cfg, pcrgate_errinfo *ei)
{
	const char *path = pcrgate_config_path(file), *k, *v;
	char what[PATH_MAX + 96];
	unsigned line;
	size_t i, j;
	int r;

	for (i = 0; (k = pcrgate_config_key(file, i, &line)) != NULL; i++) {
		for (j = 0; j < sizeof(keys) / sizeof(keys[0]) && strcmp(keys[j].name, k) != 0; j++)
			;
		if (j == sizeof(keys) / sizeof(keys[0]))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						   "%s:%u: unknown key \"%s\"", path, line, k);
	}
	for (j = 0; j < sizeof(keys) / sizeof(keys[0]); j++) {
		const struct key *key = &keys[j];
		uint32_t u;
		if ((v = pcrgate_config_get(file, key->name, &line)) == NULL)
			continue;
		snprintf(what, sizeof(what), "%s:%u: %s", path, line, key->name);
		switch (key->kind) {
		case K_STRING:
			r = pcrgate_config_string((char *)cfg + key->off, key->size, v, what, ei);
			break;
		case K_BOOL:
			r = pcrgate_config_bool((int *)(void *)((char *)cfg + key->off), v, what, ei);
			break;
		default:
			if ((r = pcrgate_config_u32(&u, v, key->lo, key->hi, key->what, what, ei)) < 0)
				break;
			if (key->kind == K_U32)
				*(uint32_t *)(void *)((char *)cfg + key->off) = u;
			else
				set_number(cfg, key->name, u);
			break;
		}
		if (r < 0)
			return r;
	}
	return PCRGATE_OK;
}

int vconfig_load(const char *path, int missing_ok, struct vconfig *out, pcrgate_errinfo *ei)
{
	pcrgate_config *file = NULL;
	struct vconfig cfg;
	int r;

	if (out == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_INVALID_ARGUMENT, PCRGATE_NO_OFFSET, "no config");
	vconfig_defaults(&cfg);
	if (path == NULL)
		path = VCONFIG_DEFAULT_PATH;
	r = pcrgate_config_load(path, &file, ei);
	if (r == PCRGATE_ERR_NOT_FOUND && missing_ok) {
		*out = cfg;
		return PCRGATE_OK;
	}
	if (r < 0)
		goto fail;
	snprintf(cfg.path, sizeof(cfg.path), "%s", path);
	if ((r = apply(file, &cfg, ei)) < 0)
		goto fail;
	*out = cfg;
	r = PCRGATE_OK;
fail:
	pcrgate_config_free(&file);
	return r;
}

int vconfig_check_serve(const struct vconfig *cfg, pcrgate_errinfo *ei)
{
	const char *src = cfg->path[0] != '\0' ? cfg->path : "the configuration";

	if (cfg->plain_http) {
		if (!vhttp_is_loopback(cfg->listen_address))
			return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
						   "%s: plain_http is only allowed on a loopback listen_address, "
						   "not %s",
						   src, cfg->listen_address);
	} else if (cfg->tls_cert[0] == '\0' || cfg->tls_key[0] == '\0') {
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: tls_cert and tls_key are required (or plain_http = yes on loopback)",
					   src);
	}
	if (!cfg->device_client_certs)
		return PCRGATE_OK;
	if (cfg->plain_http)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: plain HTTP cannot carry device client certificates; serve HTTPS, or "
					   "set device_client_certs = no (devices then authenticate by their quotes alone)",
					   src);
	if (cfg->device_ca_cert[0] == '\0' || cfg->device_ca_key[0] == '\0')
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "%s: device_ca_cert and device_ca_key are required to issue and check device "
					   "client certificates (or set device_client_certs = no)",
					   src);
	return PCRGATE_OK;
}
