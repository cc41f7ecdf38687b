/* pcrgate eventlog: placeholder until the eventlog command lands. */
#include "config.h"
#include "cli.h"
int cmd_eventlog(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("eventlog: not built yet");
	return CLI_EXIT_FAIL;
}
