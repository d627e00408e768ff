/*
 * check.h - the host findings of `tunrelay check` beyond what a config
 * needs to start (core/front.c and core/back.c check that): the source
 * articles' troubleshooting list and more. Each finding says what is wrong and the
 * command or setting that fixes it; errors fail the check, warnings and
 * notes do not. With a front running in this network namespace, its live
 * state (rules, sysctls) is checked too.
 */
#ifndef TUNRELAY_CHECK_H
#define TUNRELAY_CHECK_H

#include <stdbool.h>
#include <stdio.h>

#include "conf/conf.h"

#define CHECK_PING_MS 1000	/* how long a peer has to answer a ping */

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

/*
 * Report one finding: "PATH: error: ..." on standard error, "PATH:
 * warning: ..." and "PATH: note: ..." on standard output (as the mode
 * says). Returns 1 for an error, else 0.
 */
int check_say(const struct conf *, enum check_level, const char *fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));
/* Where findings go from now on. */
void check_mode(enum check_mode);
bool check_cap(int);
/* Print {"config":..,"ok":..,"errors":N,"findings":[...]} and forget them. */
void check_json(FILE *, const char *path, bool ok);
/*
 * Host problems that stop `tunrelay run` before it is ready and that no
 * other check finds (control_group, control socket, metrics address).
 * Returns the number of errors.
 */
int check_start(const struct conf *);

/* Findings for a [front] config, printed; returns the number of errors. */
int check_front(const struct conf *);
/* Findings for a [back] config, printed; returns the number of errors. */
int check_back(const struct conf *);

#endif
