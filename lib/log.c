/* pcrgate: logging to stderr or a caller's handler, and OpenSSL error-queue draining. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "pcrgate/common.h"

static int log_level = PCRGATE_LOG_WARNING;
static pcrgate_log_fn log_handler;
static void *log_handler_arg;

void pcrgate_log_set_level(int level)
{
	log_level = level;
}

void pcrgate_log_init_from_env(void)
{
	const char *v = getenv("PCRGATE_LOG");

	if (v == NULL)
		return;
	if (strcmp(v, "error") == 0)
		log_level = PCRGATE_LOG_ERROR;
	else if (strcmp(v, "warning") == 0)
		log_level = PCRGATE_LOG_WARNING;
	else if (strcmp(v, "info") == 0)
		log_level = PCRGATE_LOG_INFO;
	else if (strcmp(v, "debug") == 0)
		log_level = PCRGATE_LOG_DEBUG;
}

void pcrgate_log_set_handler(pcrgate_log_fn fn, void *arg)
{
	log_handler = fn;
	log_handler_arg = arg;
}

static const char *level_name(int level)
{
	switch (level) {
	case PCRGATE_LOG_ERROR:
		return "error";
	case PCRGATE_LOG_WARNING:
		return "warning";
	case PCRGATE_LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void pcrgate_log(int level, const char *func, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n;

	if (level > log_level)
		return;
	n = snprintf(msg, sizeof(msg), "%s: ", func);
	if (n < 0 || (size_t)n >= sizeof(msg))
		n = 0;
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
	va_end(ap);
	if (log_handler != NULL)
		log_handler(level, msg, log_handler_arg);
	else
		fprintf(stderr, "pcrgate %s: %s\n", level_name(level), msg);
}

void pcrgate_log_openssl(const char *func, const char *what)
{
	unsigned long e;
	char buf[256];

	while ((e = ERR_get_error()) != 0) {
		ERR_error_string_n(e, buf, sizeof(buf));
		pcrgate_log(PCRGATE_LOG_DEBUG, func, "%s: %s", what, buf);
	}
}
