/* pcrgate: the operator's command line; dispatches to one file per command group. */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "cli.h"

static const struct {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
} commands[] = {
	{"eventlog", cmd_eventlog, "read, replay and show TCG measured-boot event logs"},
	{"quote", cmd_quote, "verify TPM 2.0 quotes"},
};

static void usage(FILE *f)
{
	size_t i;

	fprintf(f, "usage: pcrgate [--version] [--help] COMMAND [ARGS]\n\ncommands:\n");
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
	fprintf(f, "\n'pcrgate COMMAND --help' and 'man pcrgate-COMMAND' describe each command.\n");
}

int main(int argc, char **argv)
{
	size_t i;

	pcrgate_log_init_from_env();
	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	if (cli_is_help(argv[1])) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("pcrgate %s\n", PACKAGE_VERSION);
		return CLI_EXIT_OK;
	}
	for (i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].run(argc - 1, argv + 1);
	cli_error("unknown command '%s'; 'pcrgate --help' lists them", argv[1]);
	return CLI_EXIT_USAGE;
}
