/*
 * test_cli.c - the command line (core/cli.c): commands, short and long
 * options, the NAME shorthand, usage errors that say what was wrong; the
 * flow filter (core/filter.c); JSON string escaping (core/json.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/cli.h"
#include "core/filter.h"
#include "core/json.h"

#define CONFDIR "/etc/tunrelay"

/* Parse a NULL-terminated argument list; the return of cli_parse. */
static int
parse(struct cli *c, char *err, ...)
{
	char *argv[16];
	int argc = 0;
	va_list ap;

	va_start(ap, err);
	argv[argc++] = (char *)"tunrelay";
	while ((argv[argc] = va_arg(ap, char *)) != NULL)
		argc++;
	va_end(ap);
	err[0] = '\0';
	return cli_parse(argc, argv, CONFDIR, c, err);
}

/* Help and version, as options or commands, exit 0 paths. */
static void
test_help(void **state)
{
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse(&c, err, "--help", NULL), 0);
	assert_int_equal(c.cmd, CLI_HELP);
	assert_int_equal(parse(&c, err, "-h", NULL), 0);
	assert_int_equal(c.cmd, CLI_HELP);
	assert_int_equal(parse(&c, err, "help", NULL), 0);
	assert_int_equal(c.cmd, CLI_HELP);
	assert_int_equal(parse(&c, err, "flows", "--help", NULL), 0);
	assert_int_equal(c.cmd, CLI_HELP);
	assert_int_equal(parse(&c, err, "--version", NULL), 0);
	assert_int_equal(c.cmd, CLI_VERSION);
	assert_int_equal(parse(&c, err, "version", NULL), 0);
	assert_int_equal(c.cmd, CLI_VERSION);
}

/* Long and short options, and NAME for CONFDIR/NAME.ini. */
static void
test_options(void **state)
{
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse(&c, err, "run", "--config", "/x/a.ini",
	    "--verbose", NULL), 0);
	assert_int_equal(c.cmd, CLI_RUN);
	assert_string_equal(c.config, "/x/a.ini");
	assert_true(c.verbose);
	assert_int_equal(parse(&c, err, "status", "-j", "web", NULL), 0);
	assert_int_equal(c.cmd, CLI_STATUS);
	assert_true(c.json);
	assert_string_equal(c.config, CONFDIR "/web.ini");
	assert_int_equal(parse(&c, err, "check", "--config=front.ini",
	    "--json", NULL), 0);
	assert_string_equal(c.config, "front.ini");	/* a file, as given */
	assert_int_equal(parse(&c, err, "-c", "web", "stats", NULL), 0);
	assert_int_equal(c.cmd, CLI_STATS);
	assert_string_equal(c.config, CONFDIR "/web.ini");
	assert_int_equal(parse(&c, err, "show-rules", "./web", NULL), 0);
	assert_int_equal(c.cmd, CLI_SHOW_RULES);
	assert_string_equal(c.config, "./web");
	assert_int_equal(parse(&c, err, "restart", "web", NULL), 0);
	assert_int_equal(c.cmd, CLI_RESTART);
	assert_string_equal(c.config, CONFDIR "/web.ini");
	assert_int_equal(parse(&c, err, "reload", "-c", "/x/b.ini", NULL), 0);
	assert_int_equal(c.cmd, CLI_RELOAD);
}

/* flows filters and --delete. */
static void
test_flows(void **state)
{
	struct cli c;
	char err[ERRLEN], wire[256];

	(void)state;
	assert_int_equal(parse(&c, err, "flows", "web", "--proto", "udp",
	    "-P", "53", "--addr", "2001:db8::1", "-s", "replied", "--rule",
	    "backend", NULL), 0);
	assert_int_equal(c.filter.proto, 17);
	assert_int_equal(c.filter.port, 53);
	assert_int_equal(c.filter.family, 6);
	filter_str(&c.filter, wire, sizeof(wire));
	assert_string_equal(wire, "\tproto=udp\taddr=2001:db8::1\tport=53"
	    "\tstate=replied\trule=backend");
	assert_false(c.del);
	assert_int_equal(parse(&c, err, "flows", "web", "--delete", "-p",
	    "tcp", NULL), 0);
	assert_true(c.del);
	assert_int_equal(parse(&c, err, "flows", "web", "--delete", NULL), -1);
	assert_non_null(strstr(err, "--delete needs a filter"));
	assert_int_equal(parse(&c, err, "flows", "web", "--port", "0", NULL), -1);
	assert_non_null(strstr(err, "--port: port \"0\" is not valid"));
	assert_int_equal(parse(&c, err, "flows", "web", "--proto", "sctp",
	    NULL), -1);
	assert_non_null(strstr(err, "proto tcp|udp|icmp|icmpv6"));
	assert_int_equal(parse(&c, err, "stats", "web", "--proto", "tcp",
	    NULL), -1);
	assert_string_equal(err, "filters and --delete are for flows only");
}

/* Usage errors name what was wrong. */
static void
test_errors(void **state)
{
	struct cli c;
	char err[ERRLEN];

	(void)state;
	assert_int_equal(parse(&c, err, NULL), -1);
	assert_string_equal(err, "no command given (tunrelay --help lists "
	    "them)");
	assert_int_equal(parse(&c, err, "start", NULL), -1);
	assert_non_null(strstr(err, "unknown command \"start\" (allowed: run,"));
	assert_int_equal(parse(&c, err, "check", "-c", "a.ini", "b", NULL), -1);
	assert_string_equal(err, "unexpected argument \"b\" (check takes one "
	    "NAME or -c FILE)");
	assert_int_equal(parse(&c, err, "check", NULL), -1);
	assert_non_null(strstr(err, "check needs a configuration"));
	assert_int_equal(parse(&c, err, "check", "a.ini", "-x", NULL), -1);
	assert_string_equal(err, "unknown option -x");
	assert_int_equal(parse(&c, err, "check", "a.ini", "--bogus", NULL), -1);
	assert_non_null(strstr(err, "--bogus"));
	assert_int_equal(parse(&c, err, "run", "a.ini", "-j", NULL), -1);
	assert_non_null(strstr(err, "run has no JSON output"));
	assert_int_equal(parse(&c, err, "check", "a.ini", "-v", NULL), -1);
	assert_string_equal(err, "-v is for run only");
	assert_int_equal(parse(&c, err, "check", "-c", NULL), -1);
	assert_non_null(strstr(err, "-c needs a value"));
}

/* A flow for the filter tests: udp 198.51.100.10:5000 -> 198.51.100.1:53. */
static struct nat_flow_info
flow(void)
{
	struct nat_flow_info fi;

	memset(&fi, 0, sizeof(fi));
	fi.family = 4;
	fi.proto = 17;
	memcpy(fi.orig_src.b, "\xc6\x33\x64\x0a", 4);
	memcpy(fi.orig_dst.b, "\xc6\x33\x64\x01", 4);
	memcpy(fi.reply_src.b, "\x0a\x16\x16\x01", 4);
	memcpy(fi.reply_dst.b, "\xc6\x33\x64\x0a", 4);
	fi.orig_sport = 5000;
	fi.orig_dport = 53;
	fi.reply_sport = 53;
	fi.reply_dport = 5000;
	fi.state = "replied";
	return fi;
}

/* Every field set must match; rule by name or first word. */
static void
test_filter(void **state)
{
	struct nat_flow_info fi = flow();
	struct filter f;
	char err[ERRLEN];

	(void)state;
	memset(&f, 0, sizeof(f));
	assert_true(filter_empty(&f));
	assert_true(filter_match(&f, &fi, "backend 10.22.22.1"));
	assert_int_equal(filter_set(&f, "addr", "10.22.22.1", err), 0);
	assert_true(filter_match(&f, &fi, "backend 10.22.22.1"));
	assert_int_equal(filter_set(&f, "port", "5000", err), 0);
	assert_true(filter_match(&f, &fi, "backend 10.22.22.1"));
	assert_int_equal(filter_set(&f, "rule", "backend", err), 0);
	assert_true(filter_match(&f, &fi, "backend 10.22.22.1"));
	assert_false(filter_match(&f, &fi, "backends"));
	assert_int_equal(filter_set(&f, "state", "REPLIED", err), 0);
	assert_true(filter_match(&f, &fi, "backend 10.22.22.1"));
	assert_int_equal(filter_set(&f, "proto", "tcp", err), 0);
	assert_false(filter_match(&f, &fi, "backend 10.22.22.1"));
	assert_int_equal(filter_set(&f, "proto", "udp", err), 0);
	assert_int_equal(filter_set(&f, "addr", "2001:db8::1", err), 0);
	assert_false(filter_match(&f, &fi, "backend 10.22.22.1"));
	assert_int_equal(filter_set(&f, "color", "red", err), -1);
	assert_string_equal(err, "unknown filter \"color\" (allowed: proto, "
	    "addr, port, state, rule)");
	assert_int_equal(filter_set(&f, "addr", "10.0.0", err), -1);
}

/* JSON strings: quotes, backslashes and control bytes escaped. */
static void
test_json(void **state)
{
	char buf[64];

	(void)state;
	assert_string_equal(json_escape("a\"b\\c\nd\te\x01", buf, sizeof(buf)),
	    "a\\\"b\\\\c\\nd\\te\\u0001");
	/* never half an escape when cut short */
	assert_string_equal(json_escape("abc\"", buf, 5), "abc");
	assert_string_equal(json_escape("", buf, sizeof(buf)), "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_flows),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_filter),
		cmocka_unit_test(test_json),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
