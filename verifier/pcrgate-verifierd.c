/*
 * pcrgate-verifierd: the verifier daemon (docs/verifier.md, pcrgate-verifierd(1)).
 *
 *   pcrgate-verifierd [--config F] [serve]        serve the REST API until SIGTERM/SIGINT
 *   pcrgate-verifierd [--config F] --check-config check the configuration and its files
 *   pcrgate-verifierd [--config F] migrate         bring the store's schema up to date
 *   pcrgate-verifierd [--config F] token create|revoke NAME, token list
 *
 * Started as root it reads the TLS certificate and key and binds its port, then becomes the
 * configured user before it opens the store or reads anything else; it never serves as root.
 */
#include "config.h"

#include <errno.h>
#include <grp.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pcrgate/common.h"
#include "authz.h"
#include "verifier/api.h"
#include "verifier/api_internal.h"
#include "verifier/devcert.h"
#include "verifier/http.h"
#include "verifier/store.h"
#include "verifier/vconfig.h"

#define EXIT_OK 0
#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define MAX_PEM (256 * 1024)

static void usage(FILE *f)
{
	fputs("usage: pcrgate-verifierd [--config FILE] [serve]\n"
	      "       pcrgate-verifierd [--config FILE] --check-config\n"
	      "       pcrgate-verifierd [--config FILE] migrate\n"
	      "       pcrgate-verifierd [--config FILE] token create NAME | token revoke NAME | token list\n"
	      "The configuration is " VCONFIG_DEFAULT_PATH " unless --config names another.\n",
	      f);
}

static int report(const char *context, const pcrgate_errinfo *ei, int r)
{
	fprintf(stderr, "pcrgate-verifierd: %s: %s\n", context,
		ei->message[0] != '\0' ? ei->message : pcrgate_strerror(r));
	return EXIT_FAIL;
}

/* Reads a PEM file (NUL-terminated) into *out. */
static int read_pem(const char *path, const char *what, char **out, size_t *len, pcrgate_errinfo *ei)
{
	uint8_t *buf = NULL;
	size_t n = 0;
	int r;

	if ((r = pcrgate_file_read(path, MAX_PEM, &buf, &n, ei)) < 0) {
		char msg[sizeof(ei->message)];
		snprintf(msg, sizeof(msg), "%s", ei->message);
		return pcrgate_errinfo_set(ei, r, PCRGATE_NO_OFFSET, "%s %s: %s", what, path, msg);
	}
	if (memchr(buf, '\0', n) != NULL || strstr((char *)buf, "-----BEGIN ") == NULL) {
		explicit_bzero(buf, n);
		free(buf);
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_FORMAT, PCRGATE_NO_OFFSET, "%s %s is not a PEM file", what,
					   path);
	}
	*out = (char *)buf;
	if (len != NULL)
		*len = n;
	return PCRGATE_OK;
}

static void free_secret(char **p, size_t len)
{
	if (*p != NULL)
		explicit_bzero(*p, len);
	free(*p);
	*p = NULL;
}

/* Checks that a configured file can be read (as the user the daemon runs as). */
static int check_readable(const char *path, const char *key, pcrgate_errinfo *ei)
{
	if (path[0] != '\0' && access(path, R_OK) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET, "%s %s: %s", key, path,
					   strerror(errno));
	return PCRGATE_OK;
}

static int check_config(const struct vconfig *cfg)
{
	pcrgate_errinfo ei = {0};
	char *cert = NULL, *key = NULL, *jws = NULL, *pub = NULL;
	size_t cert_len = 0, key_len = 0, jws_len = 0, pub_len = 0;
	int r, rc = EXIT_FAIL;

	if ((r = vconfig_check_serve(cfg, &ei)) < 0)
		return report("configuration", &ei, r);
	if (!cfg->plain_http && ((r = read_pem(cfg->tls_cert, "tls_cert", &cert, &cert_len, &ei)) < 0 ||
				 (r = read_pem(cfg->tls_key, "tls_key", &key, &key_len, &ei)) < 0)) {
		report("configuration", &ei, r);
		goto done;
	}
	if (cfg->jws_key[0] == '\0') {
		fprintf(stderr, "pcrgate-verifierd: warning: no jws_key: no update authorizations will be issued\n");
	} else if ((r = read_pem(cfg->jws_key, "jws_key", &jws, &jws_len, &ei)) < 0 ||
		   (r = authz_public_key((const uint8_t *)jws, jws_len, &pub, &pub_len, &ei)) < 0) {
		report("jws_key", &ei, r);
		goto done;
	}
	/* bundle_dir as the daemon checks it at start: a directory it can open and search. */
	if ((r = check_readable(cfg->ek_ca, "ek_ca", &ei)) < 0 ||
	    (r = check_readable(cfg->policy_key, "policy_key", &ei)) < 0 ||
	    (cfg->bundle_dir[0] != '\0' && (r = api_bundle_dir_check(cfg->bundle_dir, &ei)) < 0)) {
		report("configuration", &ei, r);
		goto done;
	}
	if (cfg->device_client_certs) {
		devcert_ca *ca = NULL;

		if ((r = devcert_ca_load(cfg->device_ca_cert, cfg->device_ca_key, &ca, &ei)) < 0) {
			report("device CA", &ei, r);
			goto done;
		}
		devcert_ca_free(&ca);
	}
	if (getuid() == 0 && getpwnam(cfg->user) == NULL) {
		fprintf(stderr, "pcrgate-verifierd: configuration: user \"%s\" does not exist\n", cfg->user);
		goto done;
	}
	printf("configuration %s: OK (%s on %s port %u, store %s)\n", cfg->path[0] != '\0' ? cfg->path : "(defaults)",
	       cfg->plain_http ? "plain HTTP" : "HTTPS", cfg->listen_address, cfg->port, cfg->database);
	rc = EXIT_OK;
done:
	free(cert);
	free_secret(&key, key_len);
	free_secret(&jws, jws_len);
	free(pub);
	return rc;
}

/*
 * Started as root: become cfg->user (its primary group, no supplementary groups). Refuses to
 * go on as root, and checks that root cannot be regained.
 */
static int drop_privileges(const struct vconfig *cfg, pcrgate_errinfo *ei)
{
	struct passwd *pw;

	if (geteuid() != 0)
		return PCRGATE_OK;
	if ((pw = getpwnam(cfg->user)) == NULL)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "started as root and user \"%s\" does not exist; refusing to serve as root",
					   cfg->user);
	if (pw->pw_uid == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_CONFIG, PCRGATE_NO_OFFSET,
					   "user \"%s\" is root; refusing to serve as root", cfg->user);
	if (setgroups(0, NULL) != 0 || setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET, "cannot become user %s: %s",
					   cfg->user, strerror(errno));
	if (setuid(0) == 0 || geteuid() == 0)
		return pcrgate_errinfo_set(ei, PCRGATE_ERR_IO, PCRGATE_NO_OFFSET,
					   "root could be regained after dropping it");
	pg_info("running as user %s", cfg->user);
	return PCRGATE_OK;
}

static int serve(const struct vconfig *cfg)
{
	pcrgate_errinfo ei = {0};
	struct api_ctx *ctx = NULL;
	struct vhttp_opts o = {0};
	vhttp *h = NULL;
	char *cert = NULL, *key = NULL;
	size_t cert_len = 0, key_len = 0;
	sigset_t set;
	int r, sig = 0, fd = -1, rc = EXIT_FAIL;

	if ((r = vconfig_check_serve(cfg, &ei)) < 0)
		return report("configuration", &ei, r);
	/* Signals are taken by sigwait below; the server's threads inherit the mask. */
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	/* What may need root: the TLS key and a privileged port. Nothing else is touched as root. */
	if (!cfg->plain_http && ((r = read_pem(cfg->tls_cert, "tls_cert", &cert, &cert_len, &ei)) < 0 ||
				 (r = read_pem(cfg->tls_key, "tls_key", &key, &key_len, &ei)) < 0)) {
		report("TLS", &ei, r);
		goto done;
	}
	if ((r = vhttp_listen(cfg->listen_address, cfg->port, &fd, &ei)) < 0) {
		report("listen", &ei, r);
		goto done;
	}
	if ((r = drop_privileges(cfg, &ei)) < 0) {
		report("privileges", &ei, r);
		goto done;
	}
	if ((r = api_ctx_new(cfg, &ctx, &ei)) < 0) {
		report("startup", &ei, r);
		goto done;
	}
	if (cfg->jws_key[0] == '\0')
		pg_warn("no jws_key configured: attestations are verified but no update is authorized");
	o.address = cfg->listen_address;
	o.port = cfg->port;
	o.use_listen_fd = 1;
	o.listen_fd = fd;
	fd = -1; /* vhttp_start owns it now */
	o.tls_cert_pem = cert;
	o.tls_key_pem = key;
	o.plain_http = cfg->plain_http;
	o.threads = cfg->threads;
	o.max_connections = cfg->max_connections;
	o.per_ip_limit = cfg->per_ip_connections;
	o.conn_timeout = cfg->connection_timeout;
	o.max_body = cfg->max_body;
	o.client_ca_pem = api_device_ca_pem(ctx);
	o.device_auth = cfg->device_client_certs ? api_device_auth : NULL;
	o.routes = api_routes;
	o.nroutes = api_route_count;
	o.app = ctx;
	o.admin_auth = cfg->admin_api ? api_admin_authenticate : NULL;
	o.healthy = api_healthy;
	if ((r = vhttp_start(&o, &h, &ei)) < 0) {
		report("HTTP server", &ei, r);
		goto done;
	}
	free_secret(&key, key_len);
	/* At the default log level too: nothing else tells where to connect. */
	if (cfg->port == 0)
		pg_warn("port = 0: listening on %s port %u, which the kernel picked (devices need a fixed port)",
			cfg->listen_address, vhttp_port(h));
	pg_info("pcrgate-verifierd %s ready", PACKAGE_VERSION);
	for (;;) {
		if (sigwait(&set, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			pg_info("SIGHUP ignored: restart the service to apply a new configuration");
			continue;
		}
		break;
	}
	pg_info("signal %d: finishing requests in flight, then stopping", sig);
	rc = EXIT_OK;
done:
	vhttp_stop(&h);
	api_ctx_free(&ctx);
	if (fd >= 0)
		close(fd);
	free(cert);
	free_secret(&key, key_len);
	return rc;
}

static int migrate(const struct vconfig *cfg)
{
	pcrgate_errinfo ei = {0};
	vstore *s = NULL;
	int r;

	if ((r = drop_privileges(cfg, &ei)) < 0)
		return report("privileges", &ei, r);
	/* Opening the store runs its migrations. */
	if ((r = vstore_open(cfg->database, &s, &ei)) < 0)
		return report("migrate", &ei, r);
	printf("store %s (%s) is up to date\n", cfg->database, vstore_backend(s));
	vstore_close(&s);
	return EXIT_OK;
}

static int token(const struct vconfig *cfg, int argc, char **argv)
{
	pcrgate_errinfo ei = {0};
	vstore *store = NULL;
	char tok[API_TOKEN_SIZE];
	int r, rc = EXIT_FAIL;

	if (argc >= 1 && (strcmp(argv[0], "--help") == 0 || strcmp(argv[0], "-h") == 0)) {
		usage(stdout);
		return EXIT_OK;
	}
	if (argc < 1 || (strcmp(argv[0], "list") == 0) != (argc == 1) || argc > 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[0], "create") != 0 && strcmp(argv[0], "revoke") != 0 && strcmp(argv[0], "list") != 0) {
		fprintf(stderr, "pcrgate-verifierd: token: unknown command \"%s\"\n", argv[0]);
		return EXIT_USAGE;
	}
	/* As the service user, so a new SQLite store is not left owned by root. */
	if ((r = drop_privileges(cfg, &ei)) < 0)
		return report("privileges", &ei, r);
	/* Tokens live in the store: the keys and CAs a server loads are not needed (nor read). */
	if ((r = vstore_open(cfg->database, &store, &ei)) < 0)
		return report("token", &ei, r);
	if (strcmp(argv[0], "create") == 0) {
		if ((r = api_token_create(store, argv[1], tok, sizeof(tok), &ei)) < 0) {
			report("token create", &ei, r);
			goto done;
		}
		/* The only time the token is shown: only its hash is stored. */
		printf("%s\n", tok);
		explicit_bzero(tok, sizeof(tok));
	} else if (strcmp(argv[0], "revoke") == 0) {
		if ((r = api_token_revoke(store, argv[1], &ei)) < 0) {
			report("token revoke", &ei, r);
			goto done;
		}
	} else if ((r = api_token_list(store, stdout, &ei)) < 0) {
		report("token list", &ei, r);
		goto done;
	}
	rc = EXIT_OK;
done:
	vstore_close(&store);
	return rc;
}

int main(int argc, char **argv)
{
	const char *config = NULL;
	int check = 0, i, r;
	struct vconfig cfg;
	pcrgate_errinfo ei = {0};

	pcrgate_log_init_from_env();
	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		if (strcmp(argv[i], "--config") == 0 || strcmp(argv[i], "-c") == 0) {
			if (++i == argc) {
				usage(stderr);
				return EXIT_USAGE;
			}
			config = argv[i];
		} else if (strcmp(argv[i], "--check-config") == 0) {
			check = 1;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(argv[i], "--version") == 0) {
			printf("pcrgate-verifierd %s\n", PACKAGE_VERSION);
			return EXIT_OK;
		} else {
			fprintf(stderr, "pcrgate-verifierd: unknown option %s\n", argv[i]);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	/* Only the default file may be missing (then the defaults apply). */
	if ((r = vconfig_load(config, config == NULL, &cfg, &ei)) < 0)
		return report("configuration", &ei, r);
	if (check) {
		if (i != argc) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return check_config(&cfg);
	}
	if (i == argc || strcmp(argv[i], "serve") == 0) {
		if (i < argc - 1) {
			usage(stderr);
			return EXIT_USAGE;
		}
		return serve(&cfg);
	}
	if (strcmp(argv[i], "migrate") == 0 && i == argc - 1)
		return migrate(&cfg);
	if (strcmp(argv[i], "token") == 0)
		return token(&cfg, argc - i - 1, argv + i + 1);
	usage(stderr);
	return EXIT_USAGE;
}
