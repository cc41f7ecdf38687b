/* pcrgate CLI: helpers shared by the command files. */
#ifndef PCRGATE_CLI_H
#define PCRGATE_CLI_H

#include <stdint.h>
#include <stdio.h>

#include "pcrgate/common.h"
#include "pcrgate/pcrs.h"

/* Exit codes: 0 success, 1 verification/parse failure, 2 usage error. */
enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

/* Caps on what a command reads from a file given on the command line. */
#define CLI_MAX_INPUT (64u * 1024 * 1024)

/* Prints "pcrgate: CONTEXT: [at offset N: ]MESSAGE" from ei on stderr. */
void cli_report(const char *context, const pcrgate_errinfo *ei);
/* Prints "pcrgate: ..." on stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* True when argv[i] is -h or --help. */
int cli_is_help(const char *arg);
/*
 * A whole option value s as a decimal number in min..max; otherwise prints "pcrgate: CONTEXT:
 * OPT 'S' is not a number from MIN to MAX" and returns -1.
 */
int cli_parse_number(const char *context, const char *opt, const char *s, uint64_t min, uint64_t max,
		     uint64_t *out);
/* Writes one BANK:INDEX=HEX line per value pcrs holds to f, banks sorted by name; 0 or -1 on a write error. */
int cli_write_pcrs(FILE *f, const pcrgate_pcrs *pcrs);

/* One command of a group: `pcrgate [GROUP] NAME ARGS`; run gets argv[0] == NAME. */
struct cli_command {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

/* A group of commands (the top level has group NULL); note, when set, ends its help. */
struct cli_group {
	const char *group;
	const struct cli_command *commands;
	size_t count;
	const char *note;
};

/* Prints the group's usage: its commands with their summaries. */
void cli_group_usage(const struct cli_group *g, FILE *f);
/* Runs the command argv[1] names (argv[0] is the group); --help prints the usage. */
int cli_dispatch(const struct cli_group *g, int argc, char **argv);

int cmd_eventlog(int argc, char **argv);
int cmd_quote(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_admin(int argc, char **argv);
int cmd_audit(int argc, char **argv);
int cmd_key(int argc, char **argv);
int cmd_bundle(int argc, char **argv);

#endif
