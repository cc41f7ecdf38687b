/* pcrgate: the operator's command line; dispatches to one file per command group. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const struct cli_command commands[] = {
	{"eventlog", cmd_eventlog, "read, replay and show TCG measured-boot event logs"},
	{"quote", cmd_quote, "verify TPM 2.0 quotes"},
	{"policy", cmd_policy, "predict, sign and check the PCR policies of releases"},
	{"admin", cmd_admin, "the verifier's admin API: devices, policies, releases, rollouts, audit"},
	{"audit", cmd_audit, "check exported audit logs of the verifier"},
	{"key", cmd_key, "update keys: root, signing certificates, policy key, revocation, trust stores"},
	{"bundle", cmd_bundle, "create, inspect, verify and extract signed update bundles"},
};

static const struct cli_group top = {NULL, commands, sizeof(commands) / sizeof(commands[0]), NULL};

int main(int argc, char **argv)
{
	/* tpm2-tss logs its own errors on stderr; pcrgate reports each failure in one line itself. */
	setenv("TSS2_LOG", "all+NONE", 0);
	pcrgate_log_init_from_env();
	if (argc >= 2 && strcmp(argv[1], "--version") == 0) {
		printf("pcrgate %s\n", PACKAGE_VERSION);
		return CLI_EXIT_OK;
	}
	return cli_dispatch(&top, argc, argv);
}
