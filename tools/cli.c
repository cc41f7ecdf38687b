/* pcrgate CLI: error reporting, command dispatch and PCR output shared by the command files. */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <string.h>

#include "cli.h"
#include "pcrgate/alg.h"

void cli_report(const char *context, const pcrgate_errinfo *ei)
{
	const char *msg = ei->message[0] ? ei->message : pcrgate_strerror(ei->code);

	if (ei->has_offset)
		fprintf(stderr, "pcrgate: %s: at offset %zu: %s\n", context, ei->offset, msg);
	else
		fprintf(stderr, "pcrgate: %s: %s\n", context, msg);
}

int cli_parse_number(const char *context, const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out)
{
	const char *p = s;
	uint64_t v;

	if (pcrgate_parse_decimal(&p, max, &v) != PCRGATE_OK || *p != '\0' || v < min) {
		cli_error("%s: %s '%s' is not a number from %" PRIu64 " to %" PRIu64, context, opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
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

int cli_write_pcrs(FILE *f, const pcrgate_pcrs *pcrs)
{
	char hex[2 * PCRGATE_MAX_DIGEST + 1];
	const uint8_t *v;
	size_t b, len;
	uint16_t alg;
	unsigned p;

	for (b = 0; b < pcrgate_pcrs_bank_count(pcrs); b++) {
		alg = pcrgate_pcrs_bank_alg(pcrs, b);
		for (p = 0; p < PCRGATE_MAX_PCRS; p++) {
			if ((v = pcrgate_pcrs_get(pcrs, alg, p, &len)) == NULL)
				continue;
			pcrgate_hex_encode(v, len, hex);
			if (fprintf(f, "%s:%u=%s\n", pcrgate_alg_name(alg), p, hex) < 0)
				return -1;
		}
	}
	return 0;
}

void cli_group_usage(const struct cli_group *g, FILE *f)
{
	const char *sep = g->group ? " " : "";
	const char *group = g->group ? g->group : "";
	size_t i, width = 10;

	/* Summaries line up after the longest command name. */
	for (i = 0; i < g->count; i++)
		if (strlen(g->commands[i].name) > width)
			width = strlen(g->commands[i].name);
	fprintf(f, "usage: pcrgate%s%s COMMAND [ARGS]\n\ncommands:\n", sep, group);
	for (i = 0; i < g->count; i++)
		fprintf(f, "  %-*s %s\n", (int)width, g->commands[i].name, g->commands[i].summary);
	if (g->note != NULL)
		fprintf(f, "\n%s\n", g->note);
	fprintf(f, "\n'pcrgate%s%s COMMAND --help' and 'man pcrgate%s%s' describe each command.\n", sep, group,
		g->group ? "-" : "", group);
}

int cli_dispatch(const struct cli_group *g, int argc, char **argv)
{
	size_t i;

	if (argc < 2) {
		cli_group_usage(g, stderr);
		return CLI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		cli_group_usage(g, stdout);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < g->count; i++)
		if (strcmp(argv[1], g->commands[i].name) == 0)
			return g->commands[i].run(argc - 1, argv + 1);
	if (g->group != NULL)
		cli_error("%s: unknown command '%s'; 'pcrgate %s --help' lists them", g->group, argv[1], g->group);
	else
		cli_error("unknown command '%s'; 'pcrgate --help' lists them", argv[1]);
	return CLI_EXIT_USAGE;
}
