/* pcrgate CLI: error reporting shared by the command files. */
#include "config.h"

#include <stdarg.h>
#include <string.h>

#include "cli.h"

void cli_report(const char *context, const pcrgate_errinfo *ei)
{
	const char *msg = ei->message[0] ? ei->message : pcrgate_strerror(ei->code);

	if (ei->has_offset)
		fprintf(stderr, "pcrgate: %s: at offset %zu: %s\n", context, ei->offset, msg);
	else
		fprintf(stderr, "pcrgate: %s: %s\n", context, msg);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("pcrgate: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int cli_is_help(const char *arg)
{
	return strcmp(arg, "-h") == 0 || strcmp(arg, "--help") == 0;
}
