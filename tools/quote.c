/* pcrgate quote: placeholder until the quote command lands. */
#include "config.h"
#include "cli.h"
int cmd_quote(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	cli_error("quote: not built yet");
	return CLI_EXIT_FAIL;
}
