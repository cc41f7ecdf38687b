/*
 * pcrgate verifier: the daemon's configuration, /etc/pcrgate/verifier.conf (key = value, see
 * lib/conffile.h and docs/verifier.md). Unknown keys are errors, so a misspelt setting never
 * silently falls back to its default.
 */
#ifndef PCRGATE_VERIFIER_VCONFIG_H
#define PCRGATE_VERIFIER_VCONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "pcrgate/common.h"

#define VCONFIG_DEFAULT_PATH "/etc/pcrgate/verifier.conf"
#define VCONFIG_DEFAULT_DATABASE "sqlite:/var/lib/pcrgate/verifier.db"
#define VCONFIG_MAX_STRING 1024

struct vconfig {
	char path[PATH_MAX];                  /* the file read ("" when none was) */
	char listen_address[64];              /* numeric address; default "0.0.0.0" */
	uint16_t port;                        /* default 8443 */
	char tls_cert[PATH_MAX];              /* PEM certificate (chain) file */
	char tls_key[PATH_MAX];               /* PEM private key file */
	int plain_http;                       /* 1: no TLS, only on a loopback listen_address */
	char database[VCONFIG_MAX_STRING];    /* store URL (see verifier/store.h) */
	unsigned threads;                     /* HTTP worker threads; default 4 */
	unsigned max_connections;             /* default 1024 */
	unsigned per_ip_connections;          /* 0: no limit (default) */
	unsigned connection_timeout;          /* idle seconds; default 30 */
	size_t max_body;                      /* default cap of a request body; default 1 MiB */
	uint32_t nonce_ttl;                   /* seconds a nonce stays valid; default 300 */
	uint32_t authorization_ttl;           /* seconds an update authorization stays valid; default 3600 */
	char jws_key[PATH_MAX];               /* ES256 (P-256) private key PEM that signs authorizations */
	char ek_ca[PATH_MAX];                 /* EK manufacturer CA certificates (directory or file) */
	char policy_key[PATH_MAX];            /* vendor policy public key PEM (update key authPolicy) */
	uint32_t counter_index;               /* NV index of the anti-rollback counter; default 0x01500100 */
	int require_ek_certificate;           /* 1: enrollment without an EK certificate is refused (default) */
	int device_client_certs;              /* 1: device requests need their TLS client certificate (default) */
	char device_ca_cert[PATH_MAX];        /* PEM certificate of the CA that issues device certificates */
	char device_ca_key[PATH_MAX];         /* its private key: a PEM file or an OpenSSL provider URI */
	uint32_t device_cert_days;            /* validity of an issued device certificate; default 365 */
	char user[64];                        /* account to drop privileges to when started as root */
	int admin_api;                        /* 0: the /v1/admin routes answer 401 to every token */
	char bundle_dir[PATH_MAX];            /* release bundles served at /v1/bundles/NAME; "": none */
};

/* The defaults, before any file is read. */
void vconfig_defaults(struct vconfig *cfg);

/*
 * Reads path (NULL: VCONFIG_DEFAULT_PATH) over the defaults and checks it. A missing file is
 * an error only when path was given explicitly (missing_ok 0); *cfg is written only on success.
 */
int vconfig_load(const char *path, int missing_ok, struct vconfig *cfg, pcrgate_errinfo *ei);

/*
 * Cross-checks for serving: TLS files, or plain_http on a loopback listen_address; the device
 * CA when device client certificates are required (which plain HTTP cannot carry).
 */
int vconfig_check_serve(const struct vconfig *cfg, pcrgate_errinfo *ei);

#endif
