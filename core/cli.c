/*
 * cli.c - command line parsing: "tunrelay COMMAND [NAME] [OPTIONS]", GNU
 * style long options next to the short ones, every usage error saying what
 * was wrong.
 */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "core/cli.h"

static const char *const cli_words[CLI_CMD_MAX] = {
	"run", "check", "flows", "stats", "status", "reload", "restart",
	"cleanup",
	"show-rules", "help", "version"
};

/* Long-only options. */
enum {
	CLI_OPT_DELETE = 256,
};

static const struct option cli_opts[] = {
	{ "config", required_argument, NULL, 'c' },
	{ "json", no_argument, NULL, 'j' },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, 'V' },
	{ "delete", no_argument, NULL, CLI_OPT_DELETE },
	{ "proto", required_argument, NULL, 'p' },
	{ "addr", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 'P' },
	{ "state", required_argument, NULL, 's' },
	{ "rule", required_argument, NULL, 'r' },
	{ NULL, 0, NULL, 0 }
};

/* The word of a command. */
const char *
cli_cmd_name(enum cli_cmd c)
{
	return (unsigned)c < CLI_CMD_MAX ? cli_words[c] : "?";
}

/* The usage text. */
void
cli_usage(FILE *out)
{
	fprintf(out,
	    "usage: tunrelay COMMAND [NAME | -c FILE] [OPTIONS]\n"
	    "\n"
	    "commands:\n"
	    "  run         run in the foreground (role from the file)\n"
	    "  check       validate the file and the host; exit 1 on errors\n"
	    "  flows       tracked flows of the running instance (filters, "
	    "--delete)\n"
	    "  stats       counters of the running instance\n"
	    "  status      version, uptime, role, queues, rules and their "
	    "counters\n"
	    "  reload      make the running instance re-read its file "
	    "(SIGHUP)\n"
	    "  restart     restart the running instance from the installed "
	    "binary,\n"
	    "              keeping its connections (SIGUSR2)\n"
	    "  cleanup     remove what a killed instance left\n"
	    "  show-rules  the kernel objects run would install, installing "
	    "nothing\n"
	    "  help, version\n"
	    "\n"
	    "options:\n"
	    "  -c, --config FILE  the configuration file; NAME alone means "
	    "CONFDIR/NAME.ini\n"
	    "  -j, --json         JSON output (check, flows, stats, status)\n"
	    "  -v, --verbose      run: log debug messages too\n"
	    "  -h, --help         this text\n"
	    "  -V, --version      the version\n"
	    "flows filters (all must match; --delete drops the matching "
	    "flows):\n"
	    "  -p, --proto tcp|udp|icmp|icmpv6   -a, --addr ADDRESS   "
	    "-P, --port PORT\n"
	    "  -s, --state STATE                 -r, --rule RULE      "
	    "--delete\n");
}

/* FILE as given, or CONFDIR/NAME.ini for a NAME. */
int
cli_config_path(const char *arg, const char *confdir, char *buf, size_t len)
{
	size_t n = strlen(arg);
	int m;

	if (n == 0)
		return -1;
	if (strchr(arg, '/') != NULL || strcmp(arg, "-") == 0 ||
	    (n > 4 && strcmp(arg + n - 4, ".ini") == 0))
		m = snprintf(buf, len, "%s", arg);
	else
		m = snprintf(buf, len, "%s/%s.ini", confdir, arg);
	return m < 0 || (size_t)m >= len ? -1 : 0;
}

/* The command of a word, or -1. */
static int
cli_command(const char *w)
{
	int i;

	for (i = 0; i < CLI_CMD_MAX; i++)
		if (strcmp(w, cli_words[i]) == 0)
			return i;
	return -1;
}

/* Set a flows filter field from an option. */
static int
cli_filter(struct cli *c, const char *key, const char *v, char *err)
{
	char fe[ERRLEN];

	if (filter_set(&c->filter, key, v, fe) == -1) {
		snprintf(err, ERRLEN, "--%s: %.400s", key, fe);
		return -1;
	}
	return 0;
}

/* Take one option; -1 with a message. */
static int
cli_option(struct cli *c, int ch, const char *arg, const char *confdir,
    bool *filtered, char *err)
{
	switch (ch) {
	case 'c':
		if (cli_config_path(arg, confdir, c->config,
		    sizeof(c->config)) == -1) {
			snprintf(err, ERRLEN, "-c: \"%.64s\" is not a file "
			    "path or a NAME", arg);
			return -1;
		}
		return 0;
	case 'j':
		c->json = true;
		return 0;
	case 'v':
		c->verbose = true;
		return 0;
	case CLI_OPT_DELETE:
		c->del = true;
		return 0;
	}
	*filtered = true;
	return cli_filter(c, ch == 'p' ? "proto" : ch == 'a' ? "addr" :
	    ch == 'P' ? "port" : ch == 's' ? "state" : "rule", arg, err);
}

/* Options that do not fit the command. */
static int
cli_fits(const struct cli *c, bool filtered, char *err)
{
	const char *w = cli_cmd_name(c->cmd);

	if (c->json && c->cmd != CLI_CHECK && c->cmd != CLI_FLOWS &&
	    c->cmd != CLI_STATS && c->cmd != CLI_STATUS)
		snprintf(err, ERRLEN, "%s has no JSON output (-j is for "
		    "check, flows, stats and status)", w);
	else if (c->verbose && c->cmd != CLI_RUN)
		snprintf(err, ERRLEN, "-v is for run only");
	else if ((filtered || c->del) && c->cmd != CLI_FLOWS)
		snprintf(err, ERRLEN, "filters and --delete are for flows "
		    "only");
	else if (c->del && !filtered)
		snprintf(err, ERRLEN, "flows --delete needs a filter "
		    "(--proto, --addr, --port, --state or --rule): it never "
		    "drops every flow by accident");
	else if (c->config[0] == '\0')
		snprintf(err, ERRLEN, "%s needs a configuration: -c FILE, "
		    "or a NAME for CONFDIR/NAME.ini", w);
	else
		return 0;
	return -1;
}

/* Parse argv. */
int
cli_parse(int argc, char *argv[], const char *confdir, struct cli *c,
    char err[ERRLEN])
{
	bool filtered = false, have_cmd = false, help = false, version = false;
	int ch, k;

	memset(c, 0, sizeof(*c));
	c->cmd = CLI_HELP;
	opterr = 0;		/* our own messages */
	optind = 1;
	/* "-" first: positional words come back in order, as ch 1 */
	while ((ch = getopt_long(argc, argv, "-:c:jvhVp:a:P:s:r:", cli_opts,
	    NULL)) != -1) {
		if (ch == '?' || ch == ':') {
			if (optopt != 0 && ch == '?')
				snprintf(err, ERRLEN, "unknown option -%c",
				    optopt);
			else if (optopt != 0)
				snprintf(err, ERRLEN, "option -%c needs a "
				    "value", optopt);
			else
				snprintf(err, ERRLEN, "unknown option, or "
				    "one that needs a value: %s",
				    argv[optind - 1]);
			return -1;
		}
		if (ch == 'h' || ch == 'V') {
			/* win over everything else, even after a command */
			help |= ch == 'h';
			version |= ch == 'V';
			continue;
		}
		if (ch != 1) {
			if (cli_option(c, ch, optarg, confdir, &filtered,
			    err) == -1)
				return -1;
			continue;
		}
		if (!have_cmd) {
			if ((k = cli_command(optarg)) == -1) {
				snprintf(err, ERRLEN, "unknown command "
				    "\"%.64s\" (allowed: run, check, flows, "
				    "stats, status, reload, restart, cleanup, "
				    "show-rules, help, version)", optarg);
				return -1;
			}
			c->cmd = (enum cli_cmd)k;
			have_cmd = true;
			continue;
		}
		if (c->config[0] != '\0' || c->cmd == CLI_HELP ||
		    c->cmd == CLI_VERSION) {
			snprintf(err, ERRLEN, "unexpected argument "
			    "\"%.64s\" (%s takes one NAME or -c FILE)", optarg,
			    cli_cmd_name(c->cmd));
			return -1;
		}
		if (cli_config_path(optarg, confdir, c->config,
		    sizeof(c->config)) == -1) {
			snprintf(err, ERRLEN, "\"%.64s\" is not a NAME",
			    optarg);
			return -1;
		}
	}
	if (help || version) {
		c->cmd = help ? CLI_HELP : CLI_VERSION;
		return 0;
	}
	if (!have_cmd) {
		snprintf(err, ERRLEN, "no command given (tunrelay --help "
		    "lists them)");
		return -1;
	}
	if (c->cmd == CLI_HELP || c->cmd == CLI_VERSION)
		return 0;
	return cli_fits(c, filtered, err);
}
