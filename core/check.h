/*
 * check.h - `tunrelay check`: every host finding about a config, beyond
 * what conf/ finds in the file itself. Each finding says what is wrong and
 * the command or setting that fixes it; errors fail the check (and stop
 * `tunrelay run`), warnings and notes do not. With a front running in this
 * network namespace, its live state (rules, sysctls) is checked too.
 *
 * The driver and the one printer are here (check.c); the findings live in
 * one file per kind: check_host.c (privileges, groups, sockets, metrics),
 * check_front.c and check_front_rules.c (a [front]), check_back.c (a
 * [back]), check_net.c (netfilter and conntrack), check_sock.c (the host's
 * listening sockets).
 */
#ifndef TUNRELAY_CHECK_H
#define TUNRELAY_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "conf/conf.h"

enum check_level {
	CHECK_ERROR = 0,	/* fails the check (and stops run) */
	CHECK_WARNING,		/* likely trouble; does not fail the check */
	CHECK_NOTE,		/* worth knowing */
};

enum check_mode {
	CHECK_MODE_PRINT = 0,	/* tunrelay check: every finding printed */
	CHECK_MODE_KEEP,	/* tunrelay check -j: kept for check_json() */
	CHECK_MODE_RUN,		/* tunrelay run: errors logged, the rest quiet */
};

/* How far the checks of a config go. */
enum check_scope {
	CHECK_SCOPE_START = 0,	/* what run needs to start (tunrelay run) */
	CHECK_SCOPE_ALL,	/* and every host finding (tunrelay check) */
};

/*
 * Report one finding: "PATH: error: ..." on standard error, "PATH:
 * warning: ..." and "PATH: note: ..." on standard output (as the mode
 * says). Returns 1 for an error, else 0.
 */
int check_say(const struct conf *, enum check_level, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));
/* Where findings go from now on. */
void check_mode(enum check_mode);
/* Print {"config":..,"ok":..,"errors":N,"findings":[...]} and forget them. */
void check_json(FILE *, const char *path, bool ok);

/*
 * Check a loaded config: the host's start checks, then its role's (a
 * [front] or a [back]) as far as scope says. Returns the number of errors.
 */
int check_config(const struct conf *, enum check_scope);
/*
 * tunrelay check -j: load path and print its errors or its findings as one
 * JSON object on standard output. The exit code: 0 when nothing failed.
 */
int check_config_json(const char *path);

#endif
