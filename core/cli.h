/*
 * cli.h - the command line of tunrelay: commands, short and long options,
 * the NAME shorthand for CONFDIR/NAME.ini. Parsing is pure (no I/O), so
 * that it is unit-tested (tests/unit/test_cli.c).
 */
#ifndef TUNRELAY_CLI_H
#define TUNRELAY_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "core/filter.h"
#include "nat/errlen.h"

#define CLI_PATHMAX 4096

enum cli_cmd {
	CLI_RUN = 0,
	CLI_CHECK,
	CLI_FLOWS,
	CLI_STATS,
	CLI_STATUS,
	CLI_RELOAD,
	CLI_RESTART,
	CLI_CLEANUP,
	CLI_SHOW_RULES,
	CLI_HELP,		/* tunrelay help, -h, --help */
	CLI_VERSION,		/* tunrelay version, -V, --version */
	CLI_CMD_MAX
};

struct cli {
	enum cli_cmd cmd;
	char config[CLI_PATHMAX];	/* the file, NAME already expanded */
	bool json;			/* -j, --json */
	bool verbose;			/* -v, --verbose (run) */
	bool del;			/* --delete (flows) */
	struct filter filter;		/* flows --proto ... */
};

/*
 * Parse argv; 0 with *cli filled, -1 with a message in err saying what was
 * wrong (the caller prints it and exits 2). confdir is where NAME files
 * live (CONFDIR/NAME.ini).
 */
int cli_parse(int argc, char *argv[], const char *confdir, struct cli *,
    char err[ERRLEN]);
/* FILE as given, or CONFDIR/NAME.ini for a NAME (no '/', no ".ini"). */
int cli_config_path(const char *arg, const char *confdir, char *buf,
    size_t len);
/* The usage text. */
void cli_usage(FILE *);
/* The word of a command ("show-rules"). */
const char *cli_cmd_name(enum cli_cmd);

#endif
